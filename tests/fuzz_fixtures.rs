//! Inputs the fuzz targets (fuzz/, README "Fuzzing") found crashing, kept as fixtures under
//! `fixtures/<area>/fuzz/` and run here on every `cargo test` through the binary, as a
//! user would run it: each must be handled (exit code and files as asserted), never panic.

#[path = "support/common.rs"]
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{postie, run, text};

fn fixture(area: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(area)
        .join("fuzz")
        .join(name)
}

/// `postie unpack FILE --out DIR --json`: exit code, the one JSON line, stderr.
fn unpack(file: &Path, out: &Path) -> (i32, serde_json::Value, String) {
    let result = run(postie()
        .arg("unpack")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--json"));
    let (stdout, stderr) = text(&result);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json = serde_json::from_str(stdout.lines().next().unwrap_or("null")).unwrap_or_default();
    (result.status.code().unwrap_or(-1), json, stderr)
}

/// `unpack` fuzz target: an RFC 2047 encoded word whose "encoding" is a multi-byte
/// character (`=?x?€?a?=`) was sliced inside that character (src/mail/params.rs).
#[test]
fn rfc2047_word_with_a_multibyte_encoding_is_kept_as_text() {
    let out = tempfile::tempdir().expect("tempdir");
    let file = fixture("mail", "rfc2047-multibyte-encoding.eml");
    let (code, json, stderr) = unpack(&file, out.path());
    assert_eq!(code, 0, "{stderr}");
    let att = &json["attachments"][0];
    assert_eq!(att["original_name"], "=?x?€?a?=", "{json}");
    let saved = att["saved_name"].as_str().expect("saved");
    let folder = out.path().join(json["folder"].as_str().expect("folder"));
    assert_eq!(
        fs::read(folder.join(saved)).expect("the attachment"),
        b"x\n"
    );
}
