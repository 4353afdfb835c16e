//! `postie url`: the golden corpus against the engine, the CLI, and the interop check that the
//! fixtures still match CPython 3.13.

#[path = "support/common.rs"]
mod common;
#[path = "support/url_golden.rs"]
mod url_golden;

#[test]
fn golden_corpus_matches_cpython() {
    let (failures, counts) = url_golden::run_all(&url_golden::golden_dir(), 30);
    for (folder, n) in &counts {
        assert!(*n > 0, "golden folder {folder} ran no case");
    }
    let shown: Vec<&String> = failures.iter().filter(|f| !f.is_empty()).collect();
    assert!(
        failures.is_empty(),
        "{} golden mismatches (first {}):\n{}",
        failures.len(),
        shown.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
