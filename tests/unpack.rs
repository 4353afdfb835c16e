//! `postie unpack`: golden fixtures (files written and their SHA-256), CLI behaviour (exit
//! codes, --json, --list, --flat, stdin, Maildir), a property test (no panic, nothing written
//! outside DIR), and with POSTIE_INTEROP=1 a cross-check against Python's `email` package.

#[path = "support/common.rs"]
mod common;
#[path = "support/tnef_build.rs"]
mod tnef_build;
#[path = "support/uu_build.rs"]
mod uu_build;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use common::{postie, run, text};
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mail")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `dir`, sorted, as `sha256  size  relative/path  mode`.
fn listing(dir: &Path) -> String {
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    let lines: Vec<String> = files.into_iter().map(|(_, line)| line).collect();
    lines.join("\n") + "\n"
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        let meta = fs::symlink_metadata(&path).expect("metadata");
        let rel = path
            .strip_prefix(root)
            .expect("under root")
            .display()
            .to_string();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{rel}: folders are 0700");
            collect(root, &path, out);
        } else {
            assert!(meta.is_file(), "{rel}: only regular files are written");
            assert_eq!(mode, 0o600, "{rel}: files are 0600");
            let bytes = fs::read(&path).expect("read");
            let line = format!("{}  {:>8}  {rel}", sha256_hex(&bytes), bytes.len());
            out.push((rel, line));
        }
    }
}

/// The 5 MiB attachment message (built here rather than committed).
fn big_eml() -> Vec<u8> {
    let payload: Vec<u8> = (0..5 * 1024 * 1024usize)
        .map(|i| u8::try_from((i * 7 + i / 251) % 256).expect("byte"))
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&payload);
    let mut body = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(chunk).expect("ascii"));
        body.push('\n');
    }
    format!(
        "From: big@example.org\nTo: bob@example.com\nSubject: Five MiB\n\
         Date: Tue, 05 Mar 2024 14:30:00 +0100\nMessage-ID: <big@example.org>\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"big\"\n\n\
         --big\nContent-Type: text/plain\n\nA 5 MiB attachment follows.\n\
         --big\nContent-Type: application/octet-stream; name=\"big.bin\"\n\
         Content-Disposition: attachment; filename=\"big.bin\"\n\
         Content-Transfer-Encoding: base64\n\n{body}--big--\n"
    )
    .into_bytes()
}

/// The golden inputs: (folder to run in, file name, expected-listing path).
fn golden_cases(tmp: &Path) -> Vec<(PathBuf, String, PathBuf)> {
    let mut cases = Vec::new();
    let mut names: Vec<String> = fs::read_dir(fixtures())
        .expect("fixtures/mail")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml") || n.ends_with(".mbox"))
        .collect();
    names.sort();
    for name in names {
        let expected = fixtures().join(format!("{name}.expected"));
        cases.push((fixtures(), name, expected));
    }
    let damaged = fixtures().join("damaged");
    let mut names: Vec<String> = fs::read_dir(&damaged)
        .expect("fixtures/mail/damaged")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml") || n.ends_with(".mbox"))
        .collect();
    names.sort();
    for name in names {
        let expected = damaged.join(format!("{name}.expected"));
        cases.push((damaged.clone(), name, expected));
    }
    fs::write(tmp.join("big.eml"), big_eml()).expect("write big.eml");
    cases.push((
        tmp.to_path_buf(),
        "big.eml".to_owned(),
        fixtures().join("big.eml.expected"),
    ));
    cases
}

#[test]
fn golden_fixtures_unpack_to_the_expected_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = golden_cases(tmp.path());
    assert!(
        cases.len() >= 17,
        "the fixture folder ran {} cases",
        cases.len()
    );
    check_golden(&cases, false);
}

/// Broken MIME that mail-parser recovers from (found by the property tests below): each file
/// must unpack without a panic, keep what it can, and name what it could not. Python's `email`
/// recovers differently from such input, so these stay out of the interop comparison.
#[test]
fn malformed_fixtures_keep_what_they_can_and_say_what_failed() {
    let dir = fixtures().join("malformed");
    let mut cases = Vec::new();
    for entry in fs::read_dir(&dir).expect("fixtures/mail/malformed") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".eml") {
            let expected = dir.join(format!("{name}.expected"));
            cases.push((dir.clone(), name, expected));
        }
    }
    cases.sort();
    assert!(
        !cases.is_empty(),
        "the malformed fixture folder ran no case"
    );
    check_golden(&cases, true);
}

/// Damaged and odd input other projects' corpora hold (quoted-printable ending in a soft line
/// break at the boundary, base64 without padding, a body straight after the part headers,
/// `Content-Type: <html>`, a folded boundary, Netscape mbox envelopes): every byte Python's
/// `email` recovers is saved, and damage is said on stderr with exit 1.
#[test]
fn damaged_fixtures_recover_every_byte_python_recovers() {
    let dir = fixtures().join("damaged");
    let read = |out: &Path, folder: &str, name: &str| {
        fs::read(out.join(folder).join(name)).unwrap_or_else(|e| panic!("{folder}/{name}: {e}"))
    };
    let case = |file: &str| {
        let out = tempfile::tempdir().expect("tempdir");
        let result = run(postie()
            .current_dir(&dir)
            .args(["unpack", file, "--out"])
            .arg(out.path()));
        (out, result)
    };
    let (out, r) = case("qp-soft-break.eml");
    assert_eq!(r.status.code(), Some(0), "{:?}", text(&r));
    let folder = "2024-03-05_133000_QP soft break before the boundary";
    assert_eq!(
        read(out.path(), folder, "qp.txt"),
        "last bytes: café".as_bytes()
    );

    let (out, r) = case("base64-no-padding.eml");
    assert_eq!(r.status.code(), Some(1), "damage is an error");
    let stderr = text(&r).1;
    assert!(
        stderr.contains("two.bin: damaged transfer encoding"),
        "{stderr}"
    );
    let folder = "2024-03-05_133000_Base64 without padding";
    assert_eq!(read(out.path(), folder, "two.bin"), b"ABCDE");
    assert_eq!(read(out.path(), folder, "one.bin"), b"ABCD");
    let json: serde_json::Value =
        serde_json::from_slice(&read(out.path(), folder, "message.json")).expect("json");
    assert_eq!(json["encoding_problem"], true);
    assert_eq!(json["attachments"][0]["encoding_problem"], true);

    let (out, r) = case("no-empty-line.eml");
    assert_eq!(r.status.code(), Some(0), "{:?}", text(&r));
    let folder = "2024-03-05_133000_Body straight after the part headers";
    let zip = base64::engine::general_purpose::STANDARD
        .decode("UEsDBBQAAAAIAA==")
        .expect("b64");
    assert_eq!(read(out.path(), folder, "a.zip"), zip);

    let (out, r) = case("invalid-content-type.eml");
    assert_eq!(r.status.code(), Some(0));
    let folder = "2024-03-05_133000_Invalid content type";
    assert_eq!(
        read(out.path(), folder, "body.txt"),
        b"<p>This is the body.</p>"
    );
    let files = fs::read_dir(out.path().join(folder)).expect("ls").count();
    assert_eq!(
        files, 2,
        "body.txt and message.json, no `<html>` attachment"
    );

    let (out, _) = case("folded-boundary.eml");
    let folder = "2024-03-05_133000_Folded boundary";
    assert_eq!(read(out.path(), folder, "smime.p7s"), [0u8, 1, 2]);
    assert_eq!(read(out.path(), folder, "body.txt"), b"signed text");

    let (out, r) = case("netscape.mbox");
    assert_eq!(r.status.code(), Some(0));
    let one = "2024-03-05_133000_one";
    assert_eq!(read(out.path(), one, "one.txt"), b"one");
    let body = String::from_utf8(read(out.path(), one, "body.txt")).expect("utf-8");
    assert!(body.contains("From Russia with love"), "{body}");
    assert_eq!(
        read(out.path(), "2024-03-05_133100_two", "two.txt"),
        b"two\n"
    );
}

/// Runs `postie unpack` on each case and compares exit code and files written (and, for
/// malformed input, stderr) with the expected file; POSTIE_BLESS=1 rewrites the expectations.
fn check_golden(cases: &[(PathBuf, String, PathBuf)], with_stderr: bool) {
    let bless = std::env::var_os("POSTIE_BLESS").is_some();
    let mut failures = Vec::new();
    for (cwd, name, expected_path) in cases {
        let out = tempfile::tempdir().expect("tempdir");
        let result = run(postie()
            .current_dir(cwd)
            .args(["unpack", name, "--out"])
            .arg(out.path()));
        let (_, stderr) = text(&result);
        let mut got = format!(
            "exit {}\n{}",
            result.status.code().unwrap_or(-1),
            listing(out.path())
        );
        if with_stderr {
            got.push_str("stderr:\n");
            got.push_str(&stderr);
        }
        if bless {
            fs::write(expected_path, &got).expect("bless");
            continue;
        }
        let expected = fs::read_to_string(expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}--- got\n{got}{stderr}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn unpack(args: &[&str], out: &Path) -> std::process::Output {
    run(postie()
        .current_dir(fixtures())
        .arg("unpack")
        .args(args)
        .arg("--out")
        .arg(out))
}

#[test]
fn json_prints_one_object_per_message_with_attachment_details() {
    let out = tempfile::tempdir().expect("tempdir");
    let result = unpack(&["several.mbox", "rfc2231.eml", "--json"], out.path());
    assert!(result.status.success(), "{:?}", text(&result));
    let (stdout, _) = text(&result);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["subject"], "First in mbox");
    assert_eq!(lines[1]["source"], "several.mbox#2");
    let att = &lines[3]["attachments"][0];
    assert_eq!(att["original_name"], "日本語の長い名前のファイル.bin");
    assert_eq!(att["saved_name"], "日本語の長い名前のファイル.bin");
    assert_eq!(att["mime_type"], "application/octet-stream");
    assert_eq!(att["size"], 21);
    assert_eq!(att["sha256"], sha256_hex(b"japanese continuation"));
    assert_eq!(att["inline"], false);
    assert_eq!(att["encoding_problem"], false);
    // The same object is in message.json.
    let folder = out
        .path()
        .join(lines[3]["folder"].as_str().expect("folder"));
    let saved: serde_json::Value =
        serde_json::from_slice(&fs::read(folder.join("message.json")).expect("message.json"))
            .expect("json");
    assert_eq!(saved, lines[3]);
}

#[test]
fn mbox_quoting_is_undone() {
    let out = tempfile::tempdir().expect("tempdir");
    let result = unpack(&["several.mbox"], out.path());
    assert!(result.status.success());
    let body = fs::read_to_string(out.path().join("2024-03-07_100000_First in mbox/body.txt"))
        .expect("body");
    assert!(
        body.contains("\nFrom the quoted line.\n>From a doubly quoted one.\n"),
        "{body}"
    );
    let body = fs::read_to_string(out.path().join("2024-03-07_110000_Second in mbox/body.txt"))
        .expect("body");
    assert!(body.contains("\nFrom here on"), "{body}");
}

#[test]
fn a_second_run_never_overwrites() {
    let out = tempfile::tempdir().expect("tempdir");
    assert!(unpack(&["duplicates.eml"], out.path()).status.success());
    assert!(unpack(&["duplicates.eml"], out.path()).status.success());
    let mut dirs: Vec<String> = fs::read_dir(out.path())
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(
        dirs,
        [
            "2024-03-05_133000_Three photos called photo.png",
            "2024-03-05_133000_Three photos called photo.png (1)"
        ]
    );
}

#[test]
fn flat_only_attachments_no_inline_include_text_parts() {
    let out = tempfile::tempdir().expect("tempdir");
    let result = unpack(
        &["duplicates.eml", "related.eml", "--flat", "--no-inline"],
        out.path(),
    );
    assert!(result.status.success(), "{:?}", text(&result));
    let mut names: Vec<String> = fs::read_dir(out.path())
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["photo (1).png", "photo (2).png", "photo.png"]);

    let out = tempfile::tempdir().expect("tempdir");
    let result = unpack(
        &["nameless.eml", "--only-attachments", "--include-text-parts"],
        out.path(),
    );
    assert!(result.status.success());
    let folder = out.path().join("2024-03-05_133000_Nameless parts");
    let mut names: Vec<String> = fs::read_dir(&folder)
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "attachment-1.pdf",
            "attachment-2.jpg",
            "attachment-3.bin",
            "attachment-4.txt"
        ]
    );
    assert_eq!(
        fs::read_to_string(folder.join("attachment-4.txt")).expect("text part"),
        "A second inline text part (saved with --include-text-parts)."
    );
}

#[test]
fn no_recursive_and_depth_cap_save_the_eml_only() {
    for args in [
        &["nested.eml", "--no-recursive"][..],
        &["nested.eml", "--max-depth", "0"],
    ] {
        let out = tempfile::tempdir().expect("tempdir");
        assert!(unpack(args, out.path()).status.success());
        let folder = out.path().join("2024-03-05_133000_Fwd_ Fwd_ Innermost");
        let mut names: Vec<String> = fs::read_dir(&folder)
            .expect("ls")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["body.txt", "message-1.eml", "message.json"],
            "{args:?}"
        );
    }
}

#[test]
fn stdin_and_maildir_inputs() {
    let out = tempfile::tempdir().expect("tempdir");
    let input = fs::read(fixtures().join("plain.eml")).expect("fixture");
    let done = common::run_with_stdin(
        postie().args(["unpack", "-", "--out"]).arg(out.path()),
        &input,
    );
    assert!(done.status.success(), "{}", common::text(&done).1);
    assert!(
        out.path()
            .join("2024-03-05_133000_Plain text/body.txt")
            .is_file()
    );

    let maildir = tempfile::tempdir().expect("tempdir");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir(maildir.path().join(sub)).expect("mkdir");
    }
    fs::copy(
        fixtures().join("alternative.eml"),
        maildir.path().join("new/1.host"),
    )
    .expect("cp");
    fs::copy(
        fixtures().join("plain.eml"),
        maildir.path().join("cur/2.host:2,S"),
    )
    .expect("cp");
    let out = tempfile::tempdir().expect("tempdir");
    let result = run(postie()
        .arg("unpack")
        .arg(maildir.path())
        .arg("--out")
        .arg(out.path()));
    assert!(result.status.success(), "{:?}", text(&result));
    assert_eq!(fs::read_dir(out.path()).expect("ls").count(), 2);
}

#[test]
fn failures_are_reported_and_the_batch_goes_on() {
    let out = tempfile::tempdir().expect("tempdir");
    let result = unpack(&["missing.eml", "plain.eml"], out.path());
    let (_, stderr) = text(&result);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("postie: missing.eml: No such file"),
        "{stderr}"
    );
    assert!(
        out.path()
            .join("2024-03-05_133000_Plain text/body.txt")
            .is_file()
    );

    // A file that cannot be written: the output folder is read-only for the flat write.
    // (Root ignores permissions, so use a path through a regular file instead.)
    let blocker = tempfile::NamedTempFile::new().expect("tmp");
    let result = unpack(&["plain.eml"], &blocker.path().join("sub"));
    let (_, stderr) = text(&result);
    assert_eq!(result.status.code(), Some(23), "{stderr}");
    assert!(stderr.contains("sub"), "{stderr}");
}

#[test]
fn list_shows_the_tree_without_writing() {
    let result = run(postie()
        .current_dir(fixtures())
        .args(["unpack", "--list", "related.eml"]));
    let (stdout, stderr) = text(&result);
    assert!(result.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "related.eml\n  multipart/related\n    multipart/alternative\n      \
         text/plain  13 B\n      text/html  43 B\n    image/png  70 B  \"logo.png\"\n    \
         image/png  70 B\n"
    );
}

#[test]
fn list_descends_into_nested_messages_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::copy(fixtures().join("nested.eml"), tmp.path().join("n.eml")).expect("cp");
    let result = run(postie()
        .current_dir(tmp.path())
        .args(["unpack", "-l", "n.eml"]));
    let (stdout, stderr) = text(&result);
    assert!(result.status.success(), "{stderr}");
    assert!(
        stdout
            .contains("        message/rfc822  360 B  \"inner.eml\"\n          multipart/mixed\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("            text/plain  15 B  \"deep.txt\"\n"),
        "{stdout}"
    );
    assert_eq!(
        fs::read_dir(tmp.path()).expect("ls").count(),
        1,
        "nothing written"
    );
}

#[test]
fn the_unpack_file_api_reports_the_folder_and_attachments() {
    let out = tempfile::tempdir().expect("tempdir");
    let report = postie::mail::unpack_file(
        &fixtures().join("base64-utf8.eml"),
        out.path(),
        &postie::mail::UnpackOptions::default(),
    )
    .expect("unpacks");
    assert_eq!(
        report.folder,
        out.path().join("2024-03-05_133000_Base64 body and a PDF")
    );
    assert_eq!(report.attachments, [report.folder.join("report.pdf")]);
    assert!(serde_json::to_value(&report).expect("serialize")["folder"].is_string());
}

mod property {
    use super::*;
    use proptest::prelude::*;

    fn seeds() -> Vec<Vec<u8>> {
        [
            "hostile-names.eml",
            "nested.eml",
            "rfc2231.eml",
            "related.eml",
            "several.mbox",
            "malformed/nested-rfc822-in-broken-multipart.eml",
        ]
        .iter()
        .map(|n| fs::read(fixtures().join(n)).expect("fixture"))
        .collect()
    }

    fn check(raw: &[u8]) {
        let root = tempfile::tempdir().expect("tempdir");
        let out = root.path().join("out");
        let input = root.path().join("input.eml");
        fs::write(&input, raw).expect("write input");
        let options = postie::mail::UnpackOptions::default();
        let _ = postie::mail::unpack_bytes(raw, "input", &out, &options);
        let flat = postie::mail::UnpackOptions {
            flat: true,
            ..options
        };
        let _ = postie::mail::unpack_bytes(raw, "input", &out, &flat);
        let mut top: Vec<_> = fs::read_dir(root.path())
            .expect("ls")
            .map(|e| e.expect("e").file_name())
            .collect();
        top.sort();
        assert_eq!(top, ["input.eml", "out"], "nothing written beside DIR");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            check(&raw);
        }

        #[test]
        fn random_tnef_and_uuencoded_bodies_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut tnef = tnef_build::stream();
            tnef.extend_from_slice(&raw);
            check(&with_attachment("application/ms-tnef", "winmail.dat", &tnef));
            for start in [&b"begin 644 x\nM"[..], b"=ybegin part=1 size=9 name=y\n=ypart begin=1 end=9\n"] {
                let mut body = b"From: a@example.org\n\n".to_vec();
                body.extend_from_slice(start);
                body.extend_from_slice(&raw);
                check(&body);
            }
        }

        #[test]
        fn uuencoded_and_yenc_files_come_back_byte_for_byte(data in proptest::collection::vec(any::<u8>(), 1..3000)) {
            let tmp = tempfile::tempdir().expect("tempdir");
            let (result, info) = unpack_raw(&uu_message(&data), &[], tmp.path());
            prop_assert!(result.status.success(), "{:?}", text(&result));
            let folder = folder_of(tmp.path(), &info);
            prop_assert_eq!(fs::read(folder.join("report.bin")).expect("uu"), data.clone());
            prop_assert_eq!(fs::read(folder.join("y file.bin")).expect("yenc"), data);
        }

        #[test]
        fn mutated_fixtures_never_panic(
            which in 0usize..6,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..24),
        ) {
            let mut raw = seeds()[which].clone();
            for (at, byte, op) in edits {
                if raw.is_empty() { break; }
                let i = at.index(raw.len());
                match op {
                    0 => raw[i] = byte,
                    1 => raw.insert(i, byte),
                    _ => { raw.remove(i); }
                }
            }
            check(&raw);
        }
    }
}

/// Flattens postie's --json objects to what the Python oracle prints: per message, the
/// attachments of it and its nested messages, depth first, as [name, sha256 or "message"].
fn oracle_shape(info: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    for att in info["attachments"].as_array().into_iter().flatten() {
        if att.get("encoding").is_some() {
            // A file decoded out of the body text (uuencode, yEnc): Python's `email` leaves
            // it in the text.
            continue;
        }
        let mime = att["mime_type"].as_str().unwrap_or_default();
        if mime == "message/rfc822" || mime == "message/global" {
            out.push(serde_json::json!([att["original_name"], "message"]));
            if att.get("message").is_some() {
                oracle_shape(&att["message"], out);
            }
        } else if mime.starts_with("message/") {
            out.push(serde_json::json!([att["original_name"], "report"]));
        } else {
            out.push(serde_json::json!([att["original_name"], att["sha256"]]));
        }
    }
}

/// Where postie and Python's `email` knowingly disagree: (file, message index in the file,
/// attachment index or `None` for the whole message's list, why). The README lists them.
type Known = (&'static str, usize, Option<usize>, &'static str);
const KNOWN_DIFFERENCES: &[Known] = &[
    (
        "hostile-names.eml",
        0,
        Some(9),
        "unquoted `filename=C:\\evil2.bat`: Python's parser stops at the tspecial `:` and names \
         it `C`; postie (like mail-parser and Thunderbird) keeps the whole token, then sanitises it",
    ),
    (
        "enmime/low-quality/bad-header-wrap.raw",
        0,
        Some(0),
        "a Content-Type parameter folded without leading white space, followed by more headers: \
         Python starts the body at the unindented line (and saves the headers as base64 noise); \
         postie reads it as a badly folded header and saves the named zip",
    ),
    (
        "enmime/parts/ctype-invalid-characters.raw",
        0,
        None,
        "`Content-Type: text/plain>` is not a valid type: postie falls back to text/plain as \
         RFC 2045 says (a body); Python keeps `text/plain>` and so saves it as a file",
    ),
    (
        "mimekit/messages/feedback-report.txt",
        0,
        None,
        "the file starts with a UTF-8 byte order mark: Python reads the first header as body \
         text and finds no parts; postie skips the mark",
    ),
];

#[test]
fn interop_python_email_sees_the_same_attachments_bytes_and_names() {
    let Some(python) = interop_python() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = golden_cases(tmp.path());
    assert!(cases.len() >= 17);
    let mut mismatches = Vec::new();
    for (cwd, name, _) in &cases {
        compare_with_python(&python, cwd, name, true, &mut mismatches);
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The other projects' test messages in ../shared/corpora/mime/ (crymap, MimeKit, enmime,
/// Crispin's torture test), read from there: every attachment Python's `email` recovers,
/// postie recovers byte for byte, except the differences listed (and explained) in
/// [`KNOWN_DIFFERENCES`] and the README.
#[test]
fn interop_python_email_agrees_on_the_shared_mime_corpora() {
    let Some(python) = interop_python() else {
        return;
    };
    let root = common::shared_path("corpora/mime");
    let root = fs::canonicalize(&root).unwrap_or(root);
    let mut files = Vec::new();
    corpus_files(&root, &root, &mut files);
    files.sort();
    assert!(
        files.len() >= 160,
        "{}: {} messages",
        root.display(),
        files.len()
    );
    let mut mismatches = Vec::new();
    for name in &files {
        compare_with_python(&python, &root, name, true, &mut mismatches);
    }
    assert!(
        mismatches.is_empty(),
        "{} differences:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Every file under `dir` but SOURCES.md, relative to `root`.
fn corpus_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("corpus folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            corpus_files(root, &path, out);
        } else if path.file_name().is_some_and(|n| n != "SOURCES.md") {
            let rel = path.strip_prefix(root).expect("under root");
            out.push(rel.display().to_string());
        }
    }
}

fn interop_python() -> Option<PathBuf> {
    let python = common::which("python3");
    if !common::require_peer("unpack interop", "python3 (CPython 3.11)", python.is_some()) {
        return None;
    }
    python
}

/// Runs the Python oracle and `postie unpack --json` on `cwd/name` and records every
/// attachment where they disagree. `damaged_ok`: postie may exit 1 (a part it could only
/// partly decode), as long as it still reports every message.
fn compare_with_python(
    python: &Path,
    cwd: &Path,
    name: &str,
    damaged_ok: bool,
    mismatches: &mut Vec<String>,
) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/unpack_email.py");
    let py = run(std::process::Command::new(python)
        .current_dir(cwd)
        .arg(&script)
        .arg(name));
    assert!(py.status.success(), "python on {name}: {:?}", text(&py));
    let out = tempfile::tempdir().expect("tempdir");
    let ours = run(postie()
        .current_dir(cwd)
        .args(["unpack", name, "--json", "--out"])
        .arg(out.path()));
    let code = ours.status.code();
    if !(code == Some(0) || damaged_ok && code == Some(1)) {
        mismatches.push(format!("{name}: postie exit {code:?}: {}", text(&ours).1));
        return;
    }
    let parse_lines = |s: String, who: &str| -> Vec<serde_json::Value> {
        s.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{who} JSON {e}: {l}")))
            .collect()
    };
    let py_lines = parse_lines(text(&py).0, "python");
    let our_lines = parse_lines(text(&ours).0, "postie");
    if py_lines.len() != our_lines.len() {
        mismatches.push(format!(
            "{name}: {} messages, python {}",
            our_lines.len(),
            py_lines.len()
        ));
        return;
    }
    for (m, (py_msg, our_msg)) in py_lines.iter().zip(&our_lines).enumerate() {
        let mut ours = Vec::new();
        oracle_shape(our_msg, &mut ours);
        let theirs = py_msg["attachments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let whole_known = KNOWN_DIFFERENCES
            .iter()
            .any(|(f, msg, at, _)| *f == name && *msg == m && at.is_none());
        if whole_known {
            assert_ne!(
                ours, theirs,
                "{name}#{m}: a known difference is gone; update the list"
            );
            continue;
        }
        if ours.len() != theirs.len() {
            mismatches.push(format!(
                "{name}#{m}: attachment count\n  postie {ours:?}\n  python {theirs:?}"
            ));
            continue;
        }
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let known = KNOWN_DIFFERENCES
                .iter()
                .any(|(f, msg, at, _)| *f == name && *msg == m && *at == Some(i));
            if a == b {
                assert!(
                    !known,
                    "{name}#{i}: a known difference is gone; update the list"
                );
            } else if !known {
                mismatches.push(format!("{name}#{m} attachment {i}: postie {a} python {b}"));
            }
        }
    }
}

/// A message with `n` attachments, all named `name` (plain text, tiny).
fn same_named(n: usize, name: &str) -> Vec<u8> {
    let mut m = String::from(
        "From: a@example.org\nSubject: same names\nDate: Tue, 05 Mar 2024 13:30:00 +0000\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n",
    );
    for i in 0..n {
        m.push_str(&format!(
            "--b\nContent-Type: text/plain; name=\"{name}\"\n\n{i}\n"
        ));
    }
    m.push_str("--b--\n");
    m.into_bytes()
}

/// Finding a free ` (N)` name costs a few look-ups, not one per existing file (8,000
/// same-named attachments took 80 s). Creating a file costs the same either way, so 1,500
/// same-named attachments must take about as long as 1,500 differently named ones (the old
/// probing took about 6 times as long at this size; 40 times at 8,000).
#[test]
fn many_same_named_attachments_take_linear_time() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let n = 1500;
    let timed = |name: &str, raw: Vec<u8>| {
        let input = tmp.path().join(format!("{name}.eml"));
        fs::write(&input, raw).expect("write");
        let out = tmp.path().join(name);
        let started = std::time::Instant::now();
        let r = run(postie().arg("unpack").arg(&input).arg("--out").arg(&out));
        assert_eq!(r.status.code(), Some(0), "{:?}", text(&r));
        (
            started.elapsed().as_secs_f64(),
            out.join("2024-03-05_133000_same names"),
        )
    };
    let distinct = String::from_utf8(same_named(n, "NAME.txt"))
        .expect("ascii")
        .split("NAME")
        .enumerate()
        .map(|(i, piece)| {
            if i == 0 {
                piece.to_owned()
            } else {
                format!("{i}{piece}")
            }
        })
        .collect::<String>();
    let (base, _) = timed("distinct", distinct.into_bytes());
    let (same, folder) = timed("same", same_named(n, "same.txt"));
    assert_eq!(fs::read(folder.join("same.txt")).expect("first"), b"0");
    assert_eq!(
        fs::read(folder.join("same (1499).txt")).expect("last"),
        b"1499"
    );
    assert!(
        same < base * 2.5 + 0.5,
        "same names {same:.2}s, distinct {base:.2}s"
    );
}

/// A file that cannot be written whole (the file-size limit stands in for a full disk) is
/// never left short under its final name: the error names it, and no temporary file stays.
#[test]
fn a_full_disk_leaves_no_truncated_file_under_a_final_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("big.eml");
    fs::write(&input, big_eml()).expect("write");
    let out = tmp.path().join("out");
    // SIGXFSZ ignored, so a write past the limit fails with EFBIG like a full disk's ENOSPC.
    let script = format!(
        "trap '' XFSZ; ulimit -f 2048; exec '{}' unpack '{}' --out '{}'",
        env!("CARGO_BIN_EXE_postie"),
        input.display(),
        out.display()
    );
    let r = run(std::process::Command::new("sh").arg("-c").arg(&script));
    let (_, stderr) = text(&r);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("big.bin"), "{stderr}");
    let folder = out.join("2024-03-05_133000_Five MiB");
    let mut names: Vec<String> = fs::read_dir(&folder)
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["body.txt", "message.json"],
        "no short big.bin, no temp file"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(folder.join("message.json")).expect("json"))
            .expect("valid");
    assert_eq!(
        json["attachments"][0]["saved_name"],
        serde_json::Value::Null
    );
    assert!(json["errors"][0].as_str().unwrap_or("").contains("big.bin"));
}

/// Maildir input reads regular files and links to them inside the Maildir; a FIFO (which
/// would hang the read), a symlink loop and a link out of the Maildir are skipped, each with a
/// warning naming it, and the run still succeeds.
#[test]
fn maildir_input_skips_fifos_loops_and_links_outside() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let md = tmp.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(md.join(sub)).expect("mkdir");
    }
    let msg = |subject: &str| {
        format!(
            "From: a@example.org\nSubject: {subject}\nDate: Tue, 05 Mar 2024 13:30:00 +0000\n\nbody\n"
        )
    };
    fs::write(md.join("cur/1.good"), msg("good")).expect("write");
    fs::write(tmp.path().join("secret.eml"), msg("outside")).expect("write");
    let fifo = run(std::process::Command::new("mkfifo").arg(md.join("new/2.fifo")));
    assert!(fifo.status.success(), "mkfifo");
    std::os::unix::fs::symlink("3.loop", md.join("new/3.loop")).expect("loop");
    std::os::unix::fs::symlink(tmp.path().join("secret.eml"), md.join("new/4.out")).expect("out");
    std::os::unix::fs::symlink("../cur/1.good", md.join("new/5.in")).expect("in");
    let out = tmp.path().join("out");
    let r = run(postie()
        .arg("unpack")
        .arg(&md)
        .arg("--json")
        .arg("--out")
        .arg(&out));
    let (stdout, stderr) = text(&r);
    assert_eq!(r.status.code(), Some(0), "{stderr}");
    for (name, why) in [
        ("2.fifo", "a FIFO"),
        ("3.loop", "loops or dangles"),
        ("4.out", "outside the Maildir"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("postie: warning: ") && l.contains(name) && l.contains(why)),
            "{name}: {stderr}"
        );
    }
    let subjects: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["subject"].to_string())
        .collect();
    assert_eq!(
        subjects,
        ["\"good\"", "\"good\""],
        "the file and the link inside"
    );
}

/// 30 small parts (1 or 2 bytes each); `--max-parts` and `--max-bytes` stop saving at the cap,
/// list the rest as skipped, and fail the message with an error naming the flag.
#[test]
fn part_and_byte_caps_stop_with_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("many.eml");
    fs::write(&input, same_named(30, "part.txt")).expect("write");
    for (flag, value, saved) in [("--max-parts", "10", 10usize), ("--max-bytes", "25", 17)] {
        let out = tmp.path().join(flag);
        let r = run(postie()
            .arg("unpack")
            .arg(&input)
            .args([flag, value, "--json", "--out"])
            .arg(&out));
        let (stdout, stderr) = text(&r);
        assert_eq!(r.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(flag), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "reported once: {stderr}");
        let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
        let atts = json["attachments"].as_array().expect("attachments");
        assert_eq!(atts.len(), 30, "every part listed");
        let written = atts.iter().filter(|a| a["saved_name"].is_string()).count();
        assert_eq!(written, saved, "{flag}");
        assert!(
            atts[29]["skipped"]
                .as_str()
                .is_some_and(|s| s.contains("cap"))
        );
        let files = fs::read_dir(out.join("2024-03-05_133000_same names"))
            .expect("ls")
            .count();
        assert_eq!(files, saved + 1, "message.json beside the parts");
    }
    let r = run(postie()
        .arg("unpack")
        .arg(&input)
        .args(["--max-bytes", "10X", "--out"])
        .arg(tmp.path().join("x")));
    assert_eq!(r.status.code(), Some(2));
}

/// A chain of base64-encoded nested messages: each level's parse is dropped before the next
/// level is unpacked, so the peak stays a small multiple of the message (the old code held
/// every ancestor's parse, each with mail-parser's decoded copies of the levels below).
#[test]
fn nested_messages_are_not_held_per_level() {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        eprintln!("skipped: nested_messages_are_not_held_per_level (needs GNU time)");
        return;
    }
    let b64 = |data: &[u8]| {
        let e = base64::engine::general_purpose::STANDARD.encode(data);
        e.as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect::<String>()
    };
    let payload: Vec<u8> = (0..1200 * 256).map(|i| (i % 256) as u8).collect();
    let mut m = format!(
        "From: x@y\nSubject: bottom\nContent-Type: application/octet-stream; name=\"a.bin\"\n\
         Content-Transfer-Encoding: base64\n\n{}",
        b64(&payload)
    )
    .into_bytes();
    for d in 0..7 {
        m = format!(
            "From: x@y\nSubject: level {d}\nContent-Type: multipart/mixed; boundary=b{d}\n\n\
             --b{d}\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{}\n--b{d}--\n",
            b64(&m)
        )
        .into_bytes();
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("deep.eml");
    fs::write(&input, &m).expect("write");
    let r = run(std::process::Command::new(time)
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_postie"))
        .arg("unpack")
        .arg(&input)
        .arg("--out")
        .arg(tmp.path().join("out")));
    let (_, stderr) = text(&r);
    assert!(r.status.success(), "{stderr}");
    let peak_kb: f64 = stderr
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .parse()
        .expect("%M");
    let input_kb = m.len() as f64 / 1024.0;
    // The constant is the process's own floor (about 13 MB with its TLS, SQLite and mail
    // code mapped), with room for a loaded machine: held per level, the copies of a deep
    // message would add many times the input, far above it.
    assert!(
        peak_kb < 6.0 * input_kb + 16_000.0,
        "peak {peak_kb} KB for a {input_kb:.0} KB message"
    );
}

/// A message with a short text body and one base64 attachment of `ctype` named `name`.
fn with_attachment(ctype: &str, name: &str, data: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut body = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(chunk).expect("ascii"));
        body.push_str("\r\n");
    }
    format!(
        "From: ann@example.org\r\nSubject: wrapped\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n--w\r\n\
         Content-Type: text/plain\r\n\r\nSee the attachment.\r\n--w\r\n\
         Content-Type: {ctype}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{body}--w--\r\n"
    )
    .into_bytes()
}

/// A TNEF stream of three files: a long name with a path in it, a MIME type and a UTC
/// creation time; an 8.3 title only; no name at all.
fn sample_tnef() -> Vec<u8> {
    let mut s = tnef_build::stream();
    let filetime = 133_000_000_000_000_000u64.to_le_bytes();
    tnef_build::file(
        &mut s,
        Some("EVIL~1.TXT"),
        b"long-named file\n",
        &[
            tnef_build::prop_unicode(
                tnef_build::PR_ATTACH_LONG_FILENAME,
                "..\\Quarterly report.txt",
            ),
            tnef_build::prop_string(tnef_build::PR_ATTACH_MIME_TAG, "text/plain"),
            tnef_build::prop_fixed(0x0040, tnef_build::PR_CREATION_TIME, &filetime),
        ],
    );
    tnef_build::file(&mut s, Some("NOTES.PDF"), b"%PDF-1.4 notes", &[]);
    tnef_build::file(&mut s, None, &[0, 1, 2, 3], &[]);
    s
}

/// Writes a message with [`sample_tnef`] as its winmail.dat into `dir`; its path.
fn write_tnef_message(dir: &Path) -> PathBuf {
    let input = dir.join("m.eml");
    let raw = with_attachment("application/ms-tnef", "winmail.dat", &sample_tnef());
    fs::write(&input, raw).expect("write");
    input
}

/// Runs `postie unpack ARGS --json --out OUT` on `raw` (as `msg.eml`); the output and the
/// one message's JSON.
fn unpack_raw(raw: &[u8], args: &[&str], out: &Path) -> (std::process::Output, serde_json::Value) {
    let input = out.join("msg.eml");
    fs::write(&input, raw).expect("write msg.eml");
    let result = run(postie()
        .arg("unpack")
        .arg(&input)
        .args(args)
        .arg("--json")
        .arg("--out")
        .arg(out.join("out")));
    let (stdout, stderr) = text(&result);
    let line = stdout
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no JSON: {stderr}"));
    let json = serde_json::from_str(line).expect("JSON");
    (result, json)
}

fn folder_of(out: &Path, info: &serde_json::Value) -> PathBuf {
    out.join("out")
        .join(info["folder"].as_str().expect("folder"))
}

#[test]
fn tnef_files_are_saved_beside_the_container_and_listed_under_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tnef = sample_tnef();
    let raw = with_attachment("application/ms-tnef", "winmail.dat", &tnef);
    let (result, info) = unpack_raw(&raw, &[], tmp.path());
    assert!(result.status.success(), "{:?}", text(&result));
    let folder = folder_of(tmp.path(), &info);
    assert_eq!(
        fs::read(folder.join("winmail.dat")).expect("container"),
        tnef
    );
    let container = &info["attachments"][0];
    assert_eq!(container["saved_name"], "winmail.dat");
    let inner = container["tnef"].as_array().expect("a nested list");
    let names: Vec<_> = inner.iter().map(|f| f["saved_name"].clone()).collect();
    assert_eq!(
        names,
        ["Quarterly report.txt", "NOTES.PDF", "attachment-3.bin"]
    );
    assert_eq!(inner[0]["original_name"], "..\\Quarterly report.txt");
    assert_eq!(inner[0]["mime_type"], "text/plain");
    assert_eq!(inner[0]["created"], "2022-06-18T04:26:40Z");
    assert_eq!(
        inner[1]["mime_type"], "application/pdf",
        "guessed from the name"
    );
    assert_eq!(inner[2]["original_name"], serde_json::Value::Null);
    for (f, bytes) in
        inner
            .iter()
            .zip([&b"long-named file\n"[..], b"%PDF-1.4 notes", &[0, 1, 2, 3]])
    {
        let name = f["saved_name"].as_str().expect("saved");
        assert_eq!(
            fs::read(folder.join(name)).expect("inner file"),
            bytes,
            "{name}"
        );
        assert_eq!(f["sha256"], sha256_hex(bytes));
        assert_eq!(f["size"], bytes.len());
    }
    let saved: serde_json::Value =
        serde_json::from_slice(&fs::read(folder.join("message.json")).expect("json"))
            .expect("json");
    assert_eq!(saved, info, "message.json is what --json printed");
}

#[test]
fn no_tnef_container_drops_the_part_and_no_tnef_keeps_it_whole() {
    // A winmail.dat with a generic type is TNEF too.
    let raw = with_attachment("application/octet-stream", "winmail.dat", &sample_tnef());
    let tmp = tempfile::tempdir().expect("tempdir");
    let (result, info) = unpack_raw(&raw, &["--no-tnef-container"], tmp.path());
    assert!(result.status.success(), "{:?}", text(&result));
    let folder = folder_of(tmp.path(), &info);
    assert!(!folder.join("winmail.dat").exists());
    let container = &info["attachments"][0];
    assert_eq!(container["skipped"], "TNEF container (--no-tnef-container)");
    assert_eq!(container["tnef"].as_array().map(Vec::len), Some(3));
    assert!(folder.join("NOTES.PDF").is_file());

    let tmp = tempfile::tempdir().expect("tempdir");
    let (result, info) = unpack_raw(&raw, &["--no-tnef"], tmp.path());
    assert!(result.status.success(), "{:?}", text(&result));
    let folder = folder_of(tmp.path(), &info);
    assert!(folder.join("winmail.dat").is_file());
    assert!(!folder.join("NOTES.PDF").exists());
    assert!(info["attachments"][0].get("tnef").is_none(), "{info}");
}

#[test]
fn tnef_body_saves_the_rtf_message_body_only_when_asked() {
    let mut tnef = tnef_build::stream();
    let mut stored = vec![0, 0, 0, 0, 10, 0, 0, 0];
    stored.extend_from_slice(b"MELA\0\0\0\0{\\rtf1 hi}");
    let props = tnef_build::props(&[tnef_build::prop_bytes(0x0102, 0x1009, &stored)]);
    tnef_build::attr(&mut tnef, 1, 0x0006_9003, &props);
    tnef_build::file(&mut tnef, Some("A.TXT"), b"a", &[]);
    let raw = with_attachment("application/ms-tnef", "winmail.dat", &tnef);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (result, info) = unpack_raw(&raw, &["--tnef-body"], tmp.path());
    assert!(result.status.success(), "{:?}", text(&result));
    let folder = folder_of(tmp.path(), &info);
    assert_eq!(
        fs::read(folder.join("message.rtf")).expect("rtf"),
        b"{\\rtf1 hi}"
    );
    let inner = &info["attachments"][0]["tnef"];
    assert_eq!(inner[0]["saved_name"], "message.rtf");
    assert_eq!(inner[0]["mime_type"], "application/rtf");
    assert_eq!(inner[1]["saved_name"], "A.TXT");

    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, info) = unpack_raw(&raw, &[], tmp.path());
    assert!(!folder_of(tmp.path(), &info).join("message.rtf").exists());
}

#[test]
fn a_damaged_tnef_keeps_its_container_and_fails_the_run() {
    let mut tnef = sample_tnef();
    tnef.truncate(tnef.len() - 3);
    let raw = with_attachment("application/ms-tnef", "winmail.dat", &tnef);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (result, info) = unpack_raw(&raw, &["--no-tnef-container"], tmp.path());
    assert_eq!(result.status.code(), Some(1), "{:?}", text(&result));
    let (_, stderr) = text(&result);
    assert!(
        stderr.contains("winmail.dat: damaged TNEF (truncated at byte"),
        "{stderr}"
    );
    let folder = folder_of(tmp.path(), &info);
    assert_eq!(fs::read(folder.join("winmail.dat")).expect("kept"), tnef);
    assert_eq!(info["attachments"][0]["encoding_problem"], true);
    assert_eq!(info["encoding_problem"], true);
    let inner = info["attachments"][0]["tnef"]
        .as_array()
        .expect("files read");
    assert_eq!(inner.len(), 2, "the files before the damage: {info}");
}

/// A message without MIME: text, a uuencoded file, text, a yEnc file, text.
fn uu_message(data: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "From: old@example.org\nSubject: files\n\nHere it is:\nbegin 2 people\n{}between\n",
        uu_build::uuencode("report.bin", data)
    )
    .into_bytes();
    raw.extend_from_slice(&uu_build::yencode("../y file.bin", data));
    raw.extend_from_slice(b"Bye.\n");
    raw
}

#[test]
fn uuencoded_and_yenc_files_leave_the_body_for_a_marker() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (result, info) = unpack_raw(&uu_message(&data), &[], tmp.path());
    assert!(result.status.success(), "{:?}", text(&result));
    let folder = folder_of(tmp.path(), &info);
    assert_eq!(
        fs::read_to_string(folder.join("body.txt")).expect("body"),
        "Here it is:\nbegin 2 people\n[uuencoded file: report.bin]\nbetween\n\
         [yEnc file: y file.bin]\nBye.\n"
    );
    assert_eq!(fs::read(folder.join("report.bin")).expect("uu"), data);
    assert_eq!(fs::read(folder.join("y file.bin")).expect("yenc"), data);
    let atts = info["attachments"].as_array().expect("attachments");
    assert_eq!(atts.len(), 2);
    assert_eq!(atts[0]["encoding"], "uuencode");
    assert_eq!(atts[0]["mime_type"], "application/octet-stream");
    assert_eq!(atts[1]["encoding"], "yenc");
    assert_eq!(atts[1]["original_name"], "../y file.bin");
    assert_eq!(atts[1]["sha256"], sha256_hex(&data));

    let tmp = tempfile::tempdir().expect("tempdir");
    let raw = uu_message(&data);
    let (result, info) = unpack_raw(&raw, &["--no-uudecode"], tmp.path());
    assert!(result.status.success(), "{:?}", text(&result));
    let body = fs::read_to_string(folder_of(tmp.path(), &info).join("body.txt")).expect("body");
    let uu = uu_build::uuencode("report.bin", &data);
    assert!(body.contains(&uu), "the uuencoded block stays in body.txt");
    assert!(body.contains("=ybegin line=128 size=1000 name=../y file.bin\n"));
    assert_eq!(info["attachments"].as_array().map(Vec::len), Some(0));
}

#[test]
fn a_damaged_uu_block_is_saved_as_far_as_it_decodes_and_reported() {
    let data: Vec<u8> = (0..100u8).collect();
    let whole = uu_build::uuencode("cut.bin", &data);
    let cut = whole.replace("`\nend\n", "");
    let raw = format!("From: a@example.org\nMIME-Version: 1.0\nContent-Type: text/plain\n\n{cut}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (result, info) = unpack_raw(raw.as_bytes(), &[], tmp.path());
    assert_eq!(result.status.code(), Some(1), "{:?}", text(&result));
    let (_, stderr) = text(&result);
    assert!(
        stderr.contains("cut.bin: damaged transfer encoding; saved what could be decoded"),
        "{stderr}"
    );
    let folder = folder_of(tmp.path(), &info);
    assert_eq!(fs::read(folder.join("cut.bin")).expect("saved"), data);
    assert_eq!(info["attachments"][0]["encoding_problem"], true);
    assert_eq!(
        fs::read_to_string(folder.join("body.txt")).expect("body"),
        "[uuencoded file: cut.bin, damaged]\n"
    );
}

#[test]
fn list_shows_the_files_inside_parts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = write_tnef_message(tmp.path());
    let plain = tmp.path().join("uu.eml");
    fs::write(&plain, uu_message(b"abc")).expect("write");
    let result = run(postie().arg("unpack").arg("--list").arg(&input).arg(&plain));
    let (stdout, _) = text(&result);
    assert!(result.status.success(), "{stdout}");
    assert!(
        stdout.contains("\n      text/plain  16 B  \"..\\\\Quarterly report.txt\"  (tnef)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n    application/octet-stream  3 B  \"report.bin\"  (uuencode)\n"),
        "{stdout}"
    );
    let result = run(postie()
        .args(["unpack", "--list", "--json", "--no-tnef"])
        .arg(&input));
    let (stdout, _) = text(&result);
    assert!(
        result.status.success() && stdout.contains("ms-tnef"),
        "{stdout}"
    );
    assert!(!stdout.contains("encoding"), "{stdout}");
    let result = run(postie()
        .args(["unpack", "--list", "--json", "--no-uudecode"])
        .arg(&plain));
    let (stdout, _) = text(&result);
    assert!(
        result.status.success() && stdout.contains("text/plain"),
        "{stdout}"
    );
    assert!(!stdout.contains("encoding"), "{stdout}");
    let result = run(postie().args(["unpack", "--list", "--json"]).arg(&plain));
    let line: serde_json::Value = serde_json::from_str(text(&result).0.trim()).expect("json");
    assert_eq!(line["parts"][1]["encoding"], "uuencode", "{line}");
    assert_eq!(line["parts"][2]["encoding"], "yenc", "{line}");
}

#[test]
fn the_unpack_file_api_reports_the_files_inside_parts_too() {
    // `pop3 pull --unpack` reports these paths in its --json.
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = write_tnef_message(tmp.path());
    let out = tmp.path().join("out");
    let report = postie::mail::unpack_file(&input, &out, &postie::mail::UnpackOptions::default())
        .expect("unpacks");
    let names: Vec<_> = report
        .attachments
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "winmail.dat",
            "Quarterly report.txt",
            "NOTES.PDF",
            "attachment-3.bin"
        ]
    );
}

/// With POSTIE_INTEROP=1: the six real TNEF streams of ../shared/corpora/tnef/, each wrapped
/// as a winmail.dat attachment: every file Debian's `tnef --save-body` extracts comes out of
/// `postie unpack --tnef-body` under the same name with the same bytes (the RTF body as
/// message.rtf).
#[test]
fn interop_every_file_debian_tnef_extracts_comes_out_byte_identical() {
    let tnef = common::which("tnef");
    if !common::require_peer("tnef interop", "Debian's tnef", tnef.is_some()) {
        return;
    }
    let tnef = tnef.expect("checked");
    let root = common::shared_path("corpora/tnef");
    let mut streams: Vec<PathBuf> = fs::read_dir(&root)
        .expect("../shared/corpora/tnef")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "SOURCES.md"))
        .collect();
    streams.sort();
    assert_eq!(streams.len(), 6, "{}", root.display());
    let mut compared = 0;
    for stream in &streams {
        let bytes = fs::read(stream).expect("stream");
        let tmp = tempfile::tempdir().expect("tempdir");
        let theirs = tmp.path().join("tnef");
        fs::create_dir(&theirs).expect("mkdir");
        let out = run(std::process::Command::new(&tnef)
            .arg("--save-body")
            .arg("-f")
            .arg(stream)
            .arg("-C")
            .arg(&theirs));
        assert!(
            out.status.success(),
            "tnef {}: {:?}",
            stream.display(),
            text(&out)
        );
        let raw = with_attachment("application/ms-tnef", "winmail.dat", &bytes);
        let (result, info) = unpack_raw(&raw, &["--tnef-body"], tmp.path());
        assert!(
            result.status.success(),
            "{}: {:?}",
            stream.display(),
            text(&result)
        );
        let folder = folder_of(tmp.path(), &info);
        let ours = info["attachments"][0]["tnef"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for entry in fs::read_dir(&theirs).expect("tnef's output") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let want = fs::read(&path).expect("tnef's file");
            assert!(
                ours.iter().any(|f| f["saved_name"] == name.as_str()),
                "{}: postie did not save {name}: {ours:?}",
                stream.display()
            );
            assert_eq!(
                fs::read(folder.join(&name)).ok(),
                Some(want),
                "{}: {name}",
                stream.display()
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 14,
        "only {compared} files compared (9 files, 5 RTF bodies)"
    );
}

/// With POSTIE_INTEROP=1: uuencoded bodies (a message without MIME, a text/plain part,
/// several blocks, sizes around the 45-byte line) unpacked by Debian's ripmime and by
/// postie give the same files, by name and bytes.
#[test]
fn interop_ripmime_and_postie_extract_the_same_uuencoded_files() {
    let ripmime = common::which("ripmime");
    if !common::require_peer("uuencode interop", "ripmime", ripmime.is_some()) {
        return;
    }
    let ripmime = ripmime.expect("checked");
    let data = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 31 + n) as u8).collect() };
    let bodies = [
        format!(
            "From: a@example.org\nSubject: plain\n\nHi\n{}Bye\n",
            uu_build::uuencode("one.bin", &data(1000))
        ),
        format!(
            "From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n\
             --b\nContent-Type: text/plain\n\nTwo files:\n{}and\n{}--b--\n",
            uu_build::uuencode("two.txt", &data(45)),
            uu_build::uuencode("three.dat", &data(46))
        ),
        format!(
            "From: a@example.org\n\n{}",
            uu_build::uuencode("tiny", &data(1))
        ),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let input = tmp.path().join("in.eml");
        fs::write(&input, body).expect("write");
        let theirs = tmp.path().join("ripmime");
        fs::create_dir(&theirs).expect("mkdir");
        let out = run(std::process::Command::new(&ripmime)
            .arg("-i")
            .arg(&input)
            .arg("-d")
            .arg(&theirs));
        assert!(out.status.success(), "ripmime: {:?}", text(&out));
        let mut want: Vec<(String, Vec<u8>)> = fs::read_dir(&theirs)
            .expect("ripmime's output")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("textfile"))
            })
            .map(|p| {
                (
                    p.file_name().expect("name").to_string_lossy().into_owned(),
                    fs::read(&p).expect("read"),
                )
            })
            .collect();
        want.sort();
        let (result, info) = unpack_raw(body.as_bytes(), &[], tmp.path());
        assert!(result.status.success(), "{:?}", text(&result));
        let folder = folder_of(tmp.path(), &info);
        let mut got: Vec<(String, Vec<u8>)> = info["attachments"]
            .as_array()
            .expect("attachments")
            .iter()
            .filter(|a| a["encoding"] == "uuencode")
            .map(|a| {
                let name = a["saved_name"].as_str().expect("saved").to_owned();
                let bytes = fs::read(folder.join(&name)).expect("read");
                (name, bytes)
            })
            .collect();
        got.sort();
        assert!(!want.is_empty(), "body {i}: ripmime extracted nothing");
        assert_eq!(got, want, "body {i}");
    }
}
