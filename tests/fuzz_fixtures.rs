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

/// `postie cookies list --jar FILE --json`, one JSON value per cookie.
fn list_jar(jar: &Path) -> Vec<serde_json::Value> {
    let result = run(postie()
        .args(["cookies", "list", "--json", "--jar"])
        .arg(jar));
    let (stdout, stderr) = text(&result);
    assert!(result.status.success(), "{stderr}");
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// `cookie_jar` fuzz target: a domain field with brackets inside and several colons
/// (`127.[::1]0.0.1`) was read as a bare IPv6 address and bracketed, and that, written
/// back, read as `[127.[::1]`: every save changed the cookie (src/cookies/netscape.rs).
#[test]
fn a_jar_saved_without_changes_keeps_a_bracketed_domain_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    fs::copy(fixture("cookies", "bracket-inside-domain.txt"), &jar).expect("copy");
    let before = list_jar(&jar);
    assert_eq!(before.len(), 1, "{before:?}");
    for _ in 0..2 {
        let result = common::run_with_stdin(
            postie()
                .args(["cookies", "import", "--jar"])
                .arg(&jar)
                .arg("-"),
            b"[]",
        );
        assert!(result.status.success(), "{:?}", text(&result));
        assert_eq!(list_jar(&jar), before, "saving the jar changed its cookie");
    }
}

/// `batch` fuzz target: a NUL in a text body (`"body": "a\u0000b"`, or `--body-file`) went
/// into the message as it was, in a 7bit part (RFC 2045 forbids NUL there; servers reject
/// or mangle it). It is quoted-printable now, and decodes back to the same text.
#[test]
fn a_nul_in_the_text_body_is_encoded_not_sent_raw() {
    let body = fixture("send", "nul-in-body.txt");
    for flag in ["--body-file", "--html"] {
        let result = run(postie()
            .args([
                "send",
                "--dry-run",
                "--from",
                "a@example.org",
                "--to",
                "b@example.org",
            ])
            .arg(flag)
            .arg(&body));
        assert!(result.status.success(), "{:?}", text(&result));
        assert!(
            !result.stdout.contains(&0),
            "a raw NUL in {}",
            text(&result).0
        );
        let msg = mail_parser::MessageParser::default()
            .parse(&result.stdout)
            .expect("a message");
        let decoded = match flag {
            "--html" => msg.body_html(0),
            _ => msg.body_text(0),
        };
        // (lettre ends every body with a CRLF of its own.)
        assert_eq!(
            decoded.as_deref().map(str::trim_end),
            Some("a\0b"),
            "{flag}"
        );
    }
}
