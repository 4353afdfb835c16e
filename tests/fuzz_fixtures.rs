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

/// `unpack` fuzz target: a base64 attachment with a stray `-` among canonical data. Since
/// mail-parser's own decoding is reused for canonical base64, a first version of that check
/// let this through as undamaged (mail-parser skips a lone `-`); Python's `email` reports
/// an InvalidBase64CharactersDefect and decodes the other characters, as postie must.
#[test]
fn a_stray_dash_in_base64_is_reported_as_damage() {
    let out = tempfile::tempdir().expect("tempdir");
    let file = fixture("mail", "base64-stray-dash.eml");
    let (code, json, stderr) = unpack(&file, out.path());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(json["encoding_problem"], true, "{json}");
    assert!(
        stderr.contains("a.bin: damaged transfer encoding"),
        "{stderr}"
    );
    let folder = out.path().join(json["folder"].as_str().expect("folder"));
    let saved = fs::read(folder.join("a.bin")).expect("a.bin");
    // Python: base64.b64decode(data, validate=False) of the same body.
    let want: Vec<u8> = (0..18)
        .map(|i| {
            u8::from_str_radix(
                &"a2eb5e6a9a658a2a27fe872d7adb2dade6a6"[i * 2..i * 2 + 2],
                16,
            )
            .expect("hex")
        })
        .collect();
    assert_eq!(saved, want);
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

/// `cookie_jar` fuzz target: domain fields no host has were normalized in ways a save did
/// not keep: a bracket inside and several colons (`127.[::1]0.0.1` was bracketed whole and
/// read back as `[127.[::1]`), a second leading dot (`..1` host-only read as `.1`, saved and
/// read again as `1`), white space inside (U+0085 too), a leading `#` (` #HttpOnly_a`, saved,
/// became a comment), an unclosed `[`. Each such line is now skipped with a warning that
/// names it; the good cookie beside them is read, and saving keeps it unchanged.
#[test]
fn jar_lines_with_a_domain_no_host_has_are_skipped_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    fs::copy(fixture("cookies", "hostile-domains.txt"), &jar).expect("copy");
    let result = run(postie()
        .args(["cookies", "list", "--json", "--jar"])
        .arg(&jar));
    let (stdout, stderr) = text(&result);
    assert!(result.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("\"www.example.test\""), "{stdout}");
    for (line, domain) in [
        (2, r#""..1""#),
        (3, r#""127.0[::1].0.1:184u1""#),
        (4, r#""examomit at youttp[::1]27.0.0.1""#),
        (5, r#""ww\u{85}ample.test""#),
        (6, r#"" #HttpOnly_a.test""#),
        (7, r#""[::1""#),
    ] {
        let want = format!(":{line}: domain {domain} is not a host name or address; line skipped");
        assert!(stderr.contains(&want), "{want} in {stderr}");
    }
    let before = list_jar(&jar);
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
