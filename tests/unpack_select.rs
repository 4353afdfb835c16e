//! `postie unpack`'s choices of what to write and where (issue 20): `--type`/`--name`
//! selections (in nested messages and inside TNEF and uuencoded parts too), `--list` with a
//! selection, `--to-stdout`, `--headers`, `--overwrite`, `--folder-template` and
//! `--file-template`, and folders of `.eml` files as input. With POSTIE_INTEROP=1 the
//! selections are compared with `mshow -x` (Debian mblaze) and `munpack` (Debian mpack) on
//! the fixtures in `fixtures/mail/select/`.

#[path = "support/common.rs"]
mod common;
#[path = "support/pop3_server.rs"]
mod pop3_server;
#[path = "support/tnef_build.rs"]
mod tnef_build;
#[path = "support/uu_build.rs"]
mod uu_build;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use common::{postie, run, text};

fn select_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mail/select")
}

fn mixed() -> PathBuf {
    select_fixtures().join("mixed.eml")
}

/// Every regular file directly in `dir` (not in subfolders), name to bytes.
fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            out.insert(name, fs::read(&path).expect("read"));
        }
    }
    out
}

fn names(files: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    files.keys().map(String::as_str).collect()
}

/// `unpack --flat ARGS mixed.eml --out <tmp>/out`: the files written.
fn flat(args: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let result = run(postie()
        .arg("unpack")
        .arg("--flat")
        .args(args)
        .arg(mixed())
        .arg("--out")
        .arg(&out));
    assert!(result.status.success(), "{args:?}: {:?}", text(&result));
    files_in(&out)
}

#[test]
fn type_and_name_patterns_are_ored_and_reach_into_nested_messages() {
    let pdf_type = flat(&["--type", "application/pdf"]);
    assert_eq!(
        names(&pdf_type),
        ["a.pdf", "attachment-5.pdf", "report.pdf"],
        "C.PDF is application/octet-stream; report.pdf is in the forwarded message"
    );
    assert!(pdf_type["report.pdf"].starts_with(b"%PDF-1.6"));
    let pdf_name = flat(&["--name", "*.pdf"]);
    assert_eq!(
        names(&pdf_name),
        ["a.pdf", "report.pdf"],
        "case-sensitive, as mshow"
    );
    let either = flat(&["--type", "IMAGE/*", "--name", "*.PDF", "--name", "data.csv"]);
    assert_eq!(names(&either), ["C.PDF", "b.png", "data.csv", "photo.jpg"]);
    let nothing = flat(&["--name", "*.doc"]);
    assert!(nothing.is_empty(), "{:?}", names(&nothing));
    let message = flat(&["--type", "message/rfc822"]);
    assert_eq!(names(&message), ["fwd.eml"], "the nested message itself");
}

#[test]
fn parts_the_selection_leaves_are_listed_as_skipped_and_the_body_is_kept() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let result = run(postie()
        .args(["unpack", "--json", "--name", "a.pdf"])
        .arg(mixed())
        .arg("--out")
        .arg(&out));
    assert!(result.status.success(), "{:?}", text(&result));
    let (stdout, _) = text(&result);
    let info: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    let folder = out.join(info["folder"].as_str().expect("folder"));
    assert_eq!(
        names(&files_in(&folder)),
        ["a.pdf", "body.txt", "message.json"]
    );
    let atts = info["attachments"].as_array().expect("attachments");
    let skipped: Vec<&str> = atts.iter().filter_map(|a| a["skipped"].as_str()).collect();
    assert_eq!(skipped.len(), atts.len() - 1, "{atts:?}");
    assert!(skipped.iter().all(|s| *s == "not selected (--type/--name)"));
}

#[test]
fn list_with_a_selection_shows_what_it_would_write() {
    let out = run(postie()
        .args([
            "unpack",
            "--list",
            "--type",
            "application/pdf",
            "--name",
            "b.png",
        ])
        .arg(mixed()));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().skip(1).map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "application/pdf  36 B  \"a.pdf\"",
            "image/png  31 B  \"b.png\"",
            "application/pdf  32 B",
            "application/pdf  55 B  \"report.pdf\"",
        ]
    );
    let json = run(postie()
        .args([
            "unpack",
            "--list",
            "--json",
            "--no-inline",
            "--type",
            "image/*",
        ])
        .arg(mixed()));
    let (stdout, _) = text(&json);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    let parts = v["parts"].as_array().expect("parts");
    assert_eq!(
        parts.len(),
        1,
        "--no-inline leaves the inline photo: {parts:?}"
    );
    assert_eq!(parts[0]["name"], "b.png");
    let flat = run(postie()
        .args(["unpack", "--list", "--no-recursive", "--name", "*.pdf"])
        .arg(mixed()));
    let (stdout, _) = text(&flat);
    assert_eq!(
        stdout.lines().skip(1).map(str::trim).collect::<Vec<_>>(),
        ["application/pdf  36 B  \"a.pdf\""],
        "--no-recursive writes no file of the forwarded message"
    );
}

#[test]
fn to_stdout_writes_exactly_one_file_or_names_the_count() {
    let one = run(postie()
        .args(["unpack", "--to-stdout", "--name", "report.pdf"])
        .arg(mixed()));
    assert!(one.status.success(), "{:?}", text(&one));
    assert!(
        one.stdout.starts_with(b"%PDF-1.6\n% report.pdf"),
        "{:?}",
        text(&one)
    );
    let many = run(postie()
        .args(["unpack", "--to-stdout", "--type", "application/pdf"])
        .arg(mixed()));
    let (stdout, stderr) = text(&many);
    assert_eq!(many.status.code(), Some(1));
    assert!(stdout.is_empty(), "nothing written: {stdout:?}");
    assert!(
        stderr.contains("--to-stdout: 3 files selected (a.pdf, attachment-5.pdf, report.pdf)"),
        "{stderr}"
    );
    let none = run(postie()
        .args(["unpack", "--to-stdout", "--name", "*.doc"])
        .arg(mixed()));
    assert_eq!(none.status.code(), Some(1));
    assert!(
        text(&none).1.contains("0 files selected;"),
        "{:?}",
        text(&none)
    );
    let pulled = select_fixtures().join("pulled");
    let across = run(postie()
        .args(["unpack", "--to-stdout", "--name", "pulled-*"])
        .arg(&pulled));
    assert!(
        text(&across).1.contains("2 files selected"),
        "the count is over all inputs: {:?}",
        text(&across)
    );
    let with_out = run(postie()
        .args(["unpack", "--to-stdout", "--out", "x"])
        .arg(mixed()));
    assert_eq!(with_out.status.code(), Some(2), "{:?}", text(&with_out));
}

#[test]
fn headers_writes_every_header_in_order_into_message_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let plain = run(postie()
        .args(["unpack", "--json"])
        .arg(mixed())
        .arg("--out")
        .arg(&out));
    let (stdout, _) = text(&plain);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert!(v.get("headers").is_none(), "not without --headers");
    let with = run(postie()
        .args(["unpack", "--json", "--headers"])
        .arg(mixed())
        .arg("--out")
        .arg(&out));
    let (stdout, _) = text(&with);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    let folder = out.join(v["folder"].as_str().expect("folder"));
    let on_disk: serde_json::Value =
        serde_json::from_slice(&fs::read(folder.join("message.json")).expect("message.json"))
            .expect("JSON");
    assert_eq!(on_disk["headers"], v["headers"]);
    let headers = v["headers"].as_array().expect("headers");
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|h| {
            (
                h["name"].as_str().expect("name"),
                h["value"].as_str().expect("value"),
            )
        })
        .collect();
    assert_eq!(
        pairs[..6],
        [
            ("From", "Ann Müller <ann@example.org>"),
            ("To", "bob@example.com"),
            ("Subject", "Invoices für March"),
            ("Date", "Tue, 05 Mar 2024 14:30:00 +0100"),
            ("Message-ID", "<mixed@example.org>"),
            ("X-Folded", "first line second line"),
        ]
    );
    assert_eq!(pairs.len(), 8, "{pairs:?}");
    let nested = v["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .find_map(|a| a.get("message"))
        .expect("the forwarded message");
    assert_eq!(nested["headers"][1]["value"], "the report");
}

fn folders(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn overwrite_replaces_what_an_earlier_run_wrote_and_the_default_stays() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let go = |extra: &[&str]| {
        let r = run(postie()
            .arg("unpack")
            .args(extra)
            .arg(mixed())
            .arg("--out")
            .arg(&out));
        assert!(r.status.success(), "{:?}", text(&r));
    };
    go(&[]);
    let first = folders(&out);
    assert_eq!(first, ["2024-03-05_133000_Invoices für March"]);
    let folder = out.join(&first[0]);
    fs::write(folder.join("a.pdf"), b"edited").expect("edit");
    go(&["--overwrite"]);
    assert_eq!(folders(&out), first, "the folder is reused");
    let files = files_in(&folder);
    assert!(files["a.pdf"].starts_with(b"%PDF-1.4"), "replaced");
    assert!(!files.contains_key("a (1).pdf"), "{:?}", names(&files));
    go(&[]);
    assert_eq!(
        folders(&out),
        [
            "2024-03-05_133000_Invoices für March",
            "2024-03-05_133000_Invoices für March (1)"
        ],
        "without --overwrite nothing is replaced"
    );
    // Twice in one run: the second copy is not written over the first.
    let flat_out = tmp.path().join("flat");
    for _ in 0..2 {
        let r = run(postie()
            .args(["unpack", "--flat", "--overwrite", "--name", "a.pdf"])
            .arg(mixed())
            .arg(mixed())
            .arg("--out")
            .arg(&flat_out));
        assert!(r.status.success(), "{:?}", text(&r));
        assert_eq!(names(&files_in(&flat_out)), ["a (1).pdf", "a.pdf"]);
    }
}

#[test]
fn overwrite_never_follows_a_symlink_out_of_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&out).expect("mkdir");
    fs::create_dir_all(&outside).expect("mkdir");
    std::os::unix::fs::symlink(&outside, out.join("2024-03-05_133000_Invoices für March"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.join("x"), out.join("a.pdf")).expect("symlink");
    let r = run(postie()
        .args(["unpack", "--overwrite"])
        .arg(mixed())
        .arg("--out")
        .arg(&out));
    assert!(r.status.success(), "{:?}", text(&r));
    let r = run(postie()
        .args(["unpack", "--overwrite", "--flat", "--name", "a.pdf"])
        .arg(mixed())
        .arg("--out")
        .arg(&out));
    assert!(r.status.success(), "{:?}", text(&r));
    assert!(
        fs::read_dir(&outside).expect("ls").next().is_none(),
        "nothing outside"
    );
    assert!(
        out.join("2024-03-05_133000_Invoices für March (1)")
            .is_dir()
    );
    assert!(out.join("a (1).pdf").is_file());
}

#[test]
fn templates_name_folders_and_files_with_the_safe_name_rules() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let plain = tmp.path().join("plain.eml");
    fs::write(
        &plain,
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n\
         --b\nContent-Type: application/pdf; name=\"../x.pdf\"\n\n%PDF\n--b--\n",
    )
    .expect("write");
    let r = run(postie()
        .args([
            "unpack",
            "--folder-template",
            "{day} {from}: {subject}",
            "--file-template",
            "{date}_{from}_{name}",
        ])
        .arg(mixed())
        .arg(&plain)
        .arg("--out")
        .arg(&out));
    assert!(r.status.success(), "{:?}", text(&r));
    assert_eq!(
        folders(&out),
        [
            "2024-03-05 ann@example.org_ Invoices für March",
            "undated no-sender_ no-subject"
        ]
    );
    let files = files_in(&out.join("2024-03-05 ann@example.org_ Invoices für March"));
    assert!(
        files.contains_key("2024-03-05_133000_ann@example.org_a.pdf"),
        "{:?}",
        names(&files)
    );
    assert!(files.contains_key("2024-03-05_133000_ann@example.org_attachment-5.pdf"));
    assert!(files.contains_key("body.txt") && files.contains_key("message.json"));
    let nested = out
        .join("2024-03-05 ann@example.org_ Invoices für March")
        .join("2024-03-04 bob@example.com_ the report");
    assert!(
        files_in(&nested).contains_key("2024-03-04_090000_bob@example.com_report.pdf"),
        "the nested message's own fields"
    );
    let other = files_in(&out.join("undated no-sender_ no-subject"));
    assert!(
        other.contains_key("undated_no-sender_x.pdf"),
        "{:?}",
        names(&other)
    );
    for (flag, bad, why) in [
        ("--folder-template", "{name}", "unknown placeholder {name}"),
        ("--file-template", "{nope}", "unknown placeholder {nope}"),
        ("--file-template", "a/{name}", "no `/`"),
        ("--type", "pdf", "a MIME type or pattern such as image/*"),
    ] {
        let r = run(postie()
            .args(["unpack", flag, bad])
            .arg(mixed())
            .arg("--out")
            .arg(&out));
        assert_eq!(r.status.code(), Some(2), "{bad}");
        assert!(text(&r).1.contains(why), "{:?}", text(&r));
    }
}

#[test]
fn a_folder_of_eml_files_and_a_mix_of_files_and_folders() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    let r = run(postie()
        .args(["unpack", "--flat", "--type", "application/pdf", "--json"])
        .arg(select_fixtures().join("pulled"))
        .arg(&empty)
        .arg(mixed())
        .arg("--out")
        .arg(&out));
    let (stdout, stderr) = text(&r);
    assert_eq!(r.status.code(), Some(1), "the empty folder fails: {stderr}");
    assert!(
        stderr.contains("empty: a folder with no .eml files that is not a Maildir"),
        "{stderr}"
    );
    let sources: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            let s = v["source"].as_str().expect("source");
            Path::new(s)
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        sources,
        ["UIDL-aa1.eml", "UIDL-bb2.eml", "mixed.eml"],
        "hidden and other files left"
    );
    assert_eq!(
        names(&files_in(&out)),
        [
            "a.pdf",
            "attachment-5.pdf",
            "pulled-1.pdf",
            "pulled-2.pdf",
            "report.pdf"
        ]
    );
}

#[test]
fn the_folder_pop3_pull_format_eml_writes_unpacks_as_its_messages() {
    let pulled = select_fixtures().join("pulled");
    let messages: Vec<(String, Vec<u8>)> = [
        ("uid-a".to_owned(), mixed()),
        ("uid-b".to_owned(), pulled.join("UIDL-aa1.eml")),
    ]
    .into_iter()
    .map(|(uidl, path)| (uidl, fs::read(path).expect("fixture")))
    .collect();
    let server = pop3_server::FakePop3::start(messages, pop3_server::Behavior::default());
    let tmp = tempfile::tempdir().expect("tempdir");
    let mail = tmp.path().join("mail");
    let pull = run(postie()
        .args([
            "pop3",
            "pull",
            "--server",
            &server.url(),
            "--user",
            pop3_server::USER,
        ])
        .args([
            "--tls",
            "none",
            "--allow-insecure-auth",
            "--password-env",
            "POP_PW",
        ])
        .env("POP_PW", pop3_server::PASS)
        .args(["--format", "eml", "--out"])
        .arg(&mail));
    assert!(pull.status.success(), "pull: {:?}", text(&pull));
    let from_folder = tmp.path().join("from-folder");
    let r = run(postie()
        .args(["unpack", "--flat", "--type", "application/pdf"])
        .arg(&mail)
        .arg("--out")
        .arg(&from_folder));
    assert!(r.status.success(), "{:?}", text(&r));
    let from_files = tmp.path().join("from-files");
    let r = run(postie()
        .args(["unpack", "--flat", "--type", "application/pdf"])
        .arg(mixed())
        .arg(pulled.join("UIDL-aa1.eml"))
        .arg("--out")
        .arg(&from_files));
    assert!(r.status.success(), "{:?}", text(&r));
    let got = files_in(&from_folder);
    assert_eq!(
        names(&got),
        ["a.pdf", "attachment-5.pdf", "pulled-1.pdf", "report.pdf"]
    );
    assert_eq!(got, files_in(&from_files));
}

/// A message whose body holds a uuencoded `notes.txt` and whose winmail.dat holds
/// `NOTES.PDF` and `Quarterly report.txt`.
fn inner_files_message() -> Vec<u8> {
    let mut s = tnef_build::stream();
    tnef_build::file(&mut s, Some("NOTES.PDF"), b"%PDF-1.4 notes", &[]);
    tnef_build::file(
        &mut s,
        Some("QUARTE~1.TXT"),
        b"quarterly\n",
        &[tnef_build::prop_unicode(
            tnef_build::PR_ATTACH_LONG_FILENAME,
            "Quarterly report.txt",
        )],
    );
    let tnef = base64::engine::general_purpose::STANDARD.encode(&s);
    format!(
        "From: ann@example.org\nSubject: inner\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=w\n\n--w\nContent-Type: text/plain\n\n\
         Notes:\n{}--w\nContent-Type: application/ms-tnef; name=winmail.dat\n\
         Content-Transfer-Encoding: base64\n\n{tnef}\n--w--\n",
        uu_build::uuencode("notes.txt", b"uu notes\n")
    )
    .into_bytes()
}

#[test]
fn selections_choose_among_the_files_inside_parts_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("m.eml");
    fs::write(&input, inner_files_message()).expect("write");
    let pick = |args: &[&str]| {
        let out = tmp
            .path()
            .join(format!("out{}", args.join("_").replace(['*', '/'], "")));
        let r = run(postie()
            .args(["unpack", "--flat"])
            .args(args)
            .arg(&input)
            .arg("--out")
            .arg(&out));
        assert!(r.status.success(), "{args:?}: {:?}", text(&r));
        files_in(&out)
    };
    assert_eq!(
        names(&pick(&["--name", "*.PDF"])),
        ["NOTES.PDF"],
        "not the winmail.dat"
    );
    assert_eq!(
        names(&pick(&["--type", "text/plain"])),
        ["Quarterly report.txt", "notes.txt"],
        "TNEF's and the uuencoded file's types, guessed from their names"
    );
    assert_eq!(names(&pick(&["--name", "winmail.dat"])), ["winmail.dat"]);
    let list = run(postie()
        .args(["unpack", "--list", "--name", "*.txt"])
        .arg(&input));
    let (stdout, _) = text(&list);
    let lines: Vec<&str> = stdout.lines().skip(1).map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "text/plain  9 B  \"notes.txt\"  (uuencode)",
            "text/plain  10 B  \"Quarterly report.txt\"  (tnef)"
        ]
    );
    let body = tmp.path().join("body");
    let r = run(postie()
        .args(["unpack", "--name", "*.PDF"])
        .arg(&input)
        .arg("--out")
        .arg(&body));
    assert!(r.status.success());
    let folder = body.join(&folders(&body)[0]);
    let text_body = fs::read_to_string(folder.join("body.txt")).expect("body.txt");
    assert!(
        text_body.contains("[uuencoded file: notes.txt (not saved: not selected (--type/--name))]"),
        "{text_body}"
    );
}

/// `mshow -x MESSAGE PATTERN...` in a fresh folder: the files it wrote.
fn mshow_x(mshow: &Path, message: &Path, patterns: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(std::process::Command::new(mshow)
        .current_dir(tmp.path())
        .env("MBLAZE", tmp.path())
        .arg("-x")
        .arg(message)
        .args(patterns));
    assert!(out.status.success(), "mshow {patterns:?}: {:?}", text(&out));
    files_in(tmp.path())
}

#[test]
fn interop_mshow_x_and_postie_extract_the_same_files_by_name() {
    let mshow = common::which("mshow");
    if !common::require_peer("mshow -x interop", "mshow (Debian mblaze)", mshow.is_some()) {
        return;
    }
    let mshow = mshow.expect("checked");
    let cases: [&[&str]; 6] = [
        &["*.pdf"],
        &["*.PDF"],
        &["*.pdf", "*.png"],
        &["b.png", "data.csv"],
        &["*"],
        &["[a-c]*"],
    ];
    for patterns in cases {
        let theirs = mshow_x(&mshow, &mixed(), patterns);
        let mut args = Vec::new();
        for p in patterns {
            args.extend(["--name", *p]);
        }
        let ours = flat(&args);
        assert!(!theirs.is_empty(), "{patterns:?}: mshow extracted nothing");
        assert_eq!(names(&ours), names(&theirs), "{patterns:?}");
        assert_eq!(ours, theirs, "{patterns:?}: the bytes");
        let one: Vec<&str> = ours.keys().map(String::as_str).collect();
        if let [only] = one[..] {
            let stdout = run(postie()
                .args(["unpack", "--to-stdout"])
                .args(&args)
                .arg(mixed()));
            let theirs_o = run(std::process::Command::new(&mshow)
                .arg("-O")
                .arg(mixed())
                .args(patterns));
            assert_eq!(stdout.stdout, theirs_o.stdout, "{only}: -O and --to-stdout");
        }
    }
}

/// munpack's files in `dir`, without its `.desc` files (the text before a part, which
/// postie keeps in body.txt).
fn munpack_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = files_in(dir);
    files.retain(|name, _| !name.ends_with(".desc"));
    files
}

fn munpack(munpack: &Path, dir: &Path, force: bool, inputs: &[PathBuf]) {
    let mut cmd = std::process::Command::new(munpack);
    cmd.arg("-q").arg("-C").arg(dir);
    if force {
        cmd.arg("-f");
    }
    let out = run(cmd.args(inputs));
    assert!(out.status.success(), "munpack: {:?}", text(&out));
}

#[test]
fn interop_munpack_and_postie_agree_on_files_and_re_runs() {
    let which = common::which("munpack");
    if !common::require_peer("munpack interop", "munpack (Debian mpack)", which.is_some()) {
        return;
    }
    let bin = which.expect("checked");
    let pulled = select_fixtures().join("pulled");
    let mut inputs = vec![mixed()];
    inputs.extend(["UIDL-aa1.eml", "UIDL-bb2.eml"].map(|n| pulled.join(n)));
    let tmp = tempfile::tempdir().expect("tempdir");
    let theirs_dir = tmp.path().join("munpack");
    fs::create_dir(&theirs_dir).expect("mkdir");
    munpack(&bin, &theirs_dir, false, &inputs);
    let theirs = munpack_files(&theirs_dir);
    // postie over the folder pop3 pull wrote, as munpack over its files one by one.
    let ours_dir = tmp.path().join("postie");
    let ours_run = |extra: &[&str]| {
        let r = run(postie()
            .args(["unpack", "--flat"])
            .args(extra)
            .arg(mixed())
            .arg(&pulled)
            .arg("--out")
            .arg(&ours_dir));
        assert!(r.status.success(), "{:?}", text(&r));
        files_in(&ours_dir)
    };
    let ours = ours_run(&[]);
    // Where they differ on purpose: munpack names a nameless part `partN` (postie
    // `attachment-N.<ext>`) and does not keep a forwarded message as a file of its own.
    let named = |m: &BTreeMap<String, Vec<u8>>| {
        let mut m = m.clone();
        m.retain(|n, _| !n.starts_with("part") && !n.starts_with("attachment-") && n != "fwd.eml");
        m
    };
    assert_eq!(named(&ours), named(&theirs));
    let nameless = |m: &BTreeMap<String, Vec<u8>>, prefix: &str| -> Vec<Vec<u8>> {
        m.iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(_, b)| b.clone())
            .collect()
    };
    assert_eq!(nameless(&ours, "attachment-"), nameless(&theirs, "part"));
    assert!(ours.contains_key("fwd.eml") && ours.contains_key("pulled-2.pdf"));
    // A second run: munpack -f and --overwrite replace, so the folders hold what one run wrote.
    munpack(&bin, &theirs_dir, true, &inputs);
    let again = ours_run(&["--overwrite"]);
    assert_eq!(
        named(&munpack_files(&theirs_dir)),
        named(&theirs),
        "munpack -f replaced its named files (a nameless part still gets a new partN)"
    );
    assert_eq!(again, ours, "--overwrite replaced postie's files");
    // Without them both keep the first files and add numbered copies (munpack `a.pdf.2`,
    // postie `a (1).pdf`).
    let third = ours_run(&[]);
    assert!(third.contains_key("a (1).pdf") && third["a (1).pdf"] == ours["a.pdf"]);
    munpack(&bin, &theirs_dir, false, &inputs);
    let numbered = munpack_files(&theirs_dir);
    assert!(
        numbered.keys().any(|n| n.starts_with("a.pdf.")),
        "{:?}",
        names(&numbered)
    );
}
