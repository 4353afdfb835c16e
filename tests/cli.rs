//! The top-level command line: help, version, completions, man page, usage errors.

#[path = "support/common.rs"]
mod common;

use common::{postie, run, text};

#[test]
fn version_prints_the_crate_version() {
    let out = run(postie().arg("--version"));
    assert!(out.status.success());
    assert_eq!(
        text(&out).0.trim(),
        format!("postie {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_and_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(postie().args(["completions", shell]));
        assert!(out.status.success(), "{shell}");
        assert!(
            text(&out).0.contains("postie"),
            "{shell} completion mentions postie"
        );
    }
    let out = run(postie().arg("man"));
    assert!(out.status.success());
    assert!(
        text(&out).0.starts_with(".ie") || text(&out).0.contains(".TH postie"),
        "roff output"
    );
}

#[test]
fn a_usage_error_exits_2_with_a_message() {
    let out = run(postie().arg("--no-such-flag"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("--no-such-flag"));
}

#[test]
fn a_closed_stdout_pipe_is_a_clean_exit() {
    use std::process::Stdio;
    let mut child = postie()
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        out.stderr.is_empty(),
        "no message for a broken pipe: {:?}",
        text(&out).1
    );
}
