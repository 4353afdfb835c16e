//! `postie pop3` end to end: against the in-process misbehaving server (always), and against
//! Dovecot started by the harness (with POSTIE_INTEROP=1).

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/pop3_cli.rs"]
mod pop3_cli;
#[path = "support/pop3_dovecot.rs"]
mod pop3_dovecot;
#[path = "support/pop3_server.rs"]
mod pop3_server;
#[path = "support/tnef_build.rs"]
mod tnef_build;
#[path = "support/uu_build.rs"]
mod uu_build;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{postie, run, text};
use pop3_cli::{assert_code, dovecot_cmd, fake_cmd, json_lines};
use pop3_server::{Behavior, FakePop3, PASS, USER, sample_message};

fn messages(n: usize, size: usize) -> Vec<(String, Vec<u8>)> {
    (1..=n)
        .map(|i| (format!("uid-{i:04}"), sample_message(i, size)))
        .collect()
}

fn pull(server: &FakePop3, out: &Path, extra: &[&str]) -> Output {
    let mut cmd = fake_cmd(server, "pull");
    cmd.arg("--out").arg(out).args(extra);
    run(&mut cmd)
}

fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| std::fs::read(e.path()).expect("read"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn pull_stores_every_message_once_and_the_second_pull_nothing() {
    let msgs = messages(5, 3000);
    let server = FakePop3::start(msgs.clone(), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pull(&server, dir.path(), &["--json"]);
    assert_code(&out, 0);
    let new = dir.path().join("new");
    let mut want: Vec<Vec<u8>> = msgs.iter().map(|m| m.1.clone()).collect();
    want.sort();
    assert_eq!(files_in(&new), want, "byte-identical, un-stuffed");
    let (stdout, _) = text(&out);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["uidl"], "uid-0001");
    assert_eq!(lines[0]["status"], "stored");
    let out = pull(&server, dir.path(), &[]);
    assert_code(&out, 0);
    assert!(server.retrs(1).is_empty(), "second pull retrieves nothing");
    assert_eq!(files_in(&new).len(), 5);
    assert_eq!(server.remaining(), 5, "--keep is the default");
}

#[test]
fn delete_empties_the_mailbox_only_after_storing() {
    let msgs = messages(4, 500);
    let server = FakePop3::start(msgs, Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pull(&server, dir.path(), &["--delete", "--format", "eml"]);
    assert_code(&out, 0);
    assert_eq!(server.remaining(), 0);
    let names: BTreeSet<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    assert_eq!(names.len(), 4);
    assert!(names.contains("uid-0001.eml"), "{names:?}");
    // Each DELE follows its RETR.
    let s = &server.sessions()[0];
    let retr = s.iter().position(|l| l == "RETR 1").expect("RETR 1");
    let dele = s.iter().position(|l| l == "DELE 1").expect("DELE 1");
    assert!(retr < dele);
}

#[test]
fn stored_but_undeleted_messages_are_deleted_next_run_without_download() {
    let server = FakePop3::start(messages(3, 500), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(&pull(&server, dir.path(), &["--keep"]), 0);
    assert_code(&pull(&server, dir.path(), &["--delete"]), 0);
    assert!(server.retrs(1).is_empty(), "nothing downloaded again");
    assert_eq!(server.remaining(), 0);
    assert_eq!(files_in(&dir.path().join("new")).len(), 3);
}

#[test]
fn a_drop_mid_retr_is_reported_and_the_next_run_fetches_the_rest() {
    let msgs = messages(3, 200_000);
    let server = FakePop3::start(
        msgs.clone(),
        Behavior {
            drop_in_retr: Some(2),
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let out = pull(&server, dir.path(), &["--pipelining", "off"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "reported promptly"
    );
    assert_code(&out, 18);
    let (_, err) = text(&out);
    assert!(err.contains("closed the connection"), "{err}");
    assert_eq!(files_in(&dir.path().join("new")), vec![msgs[0].1.clone()]);
    assert!(
        files_in(&dir.path().join("tmp")).is_empty(),
        "partial message discarded"
    );
    server.set_behavior(Behavior::default());
    assert_code(&pull(&server, dir.path(), &[]), 0);
    assert_eq!(server.retrs(1), vec![2, 3]);
    assert_eq!(files_in(&dir.path().join("new")).len(), 3);
}

#[test]
fn silence_is_a_timeout() {
    let server = FakePop3::start(
        messages(1, 100),
        Behavior {
            silent: true,
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let out = pull(&server, dir.path(), &["--timeout", "1"]);
    assert_code(&out, 28);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn in_use_is_a_temporary_failure() {
    let server = FakePop3::start(
        messages(1, 100),
        Behavior {
            in_use: true,
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pull(&server, dir.path(), &[]);
    assert_code(&out, 75);
    assert!(text(&out).1.contains("IN-USE"));
}

#[test]
fn wrong_password_is_an_auth_failure() {
    let server = FakePop3::start(messages(1, 100), Behavior::default());
    let mut cmd = fake_cmd(&server, "stat");
    cmd.env("POP_PW", "wrong");
    assert_code(&run(&mut cmd), 77);
}

#[test]
fn cleartext_password_is_refused_without_tls() {
    let server = FakePop3::start(messages(1, 100), Behavior::default());
    let mut cmd = postie();
    cmd.args(["pop3", "stat", "--server", &server.url(), "--user", USER])
        .args(["--tls", "none", "--password-env", "POP_PW"])
        .env("POP_PW", PASS);
    let out = run(&mut cmd);
    assert_code(&out, 78);
    assert!(text(&out).1.contains("--allow-insecure-auth"));
    let sessions = server.sessions();
    assert!(
        sessions.iter().flatten().all(|l| !l.starts_with("PASS")),
        "{sessions:?}"
    );
    // STLS required by default, and this server has none: 69.
    let mut cmd = postie();
    cmd.args(["pop3", "stat", "--server", &server.url(), "--user", USER])
        .args(["--password-env", "POP_PW"])
        .env("POP_PW", PASS);
    assert_code(&run(&mut cmd), 69);
}

#[test]
fn duplicate_uidls_lose_and_double_nothing() {
    let msgs = vec![
        ("same".to_owned(), sample_message(1, 300)),
        ("same".to_owned(), sample_message(2, 300)),
        ("../evil/name".to_owned(), sample_message(3, 300)),
    ];
    let server = FakePop3::start(msgs.clone(), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(&pull(&server, dir.path(), &["--format", "eml"]), 0);
    assert_code(&pull(&server, dir.path(), &["--format", "eml"]), 0);
    assert!(server.retrs(1).is_empty());
    let mut want: Vec<Vec<u8>> = msgs.iter().map(|m| m.1.clone()).collect();
    want.sort();
    assert_eq!(
        files_in(dir.path())
            .into_iter()
            .filter(|f| f.starts_with(b"From"))
            .collect::<Vec<_>>(),
        want
    );
    assert!(!dir.path().join("../evil").exists());
    assert_code(
        &pull(&server, dir.path(), &["--format", "eml", "--delete"]),
        0,
    );
    assert_eq!(server.remaining(), 0);
}

#[test]
fn pipelining_sends_commands_ahead_without_deadlock() {
    let msgs = messages(40, 300_000);
    let server = FakePop3::start(
        msgs.clone(),
        Behavior {
            pipelining: true,
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(&pull(&server, dir.path(), &["--delete"]), 0);
    assert!(
        server.log.lock().expect("lock").max_queued > 1,
        "commands were pipelined"
    );
    assert_eq!(files_in(&dir.path().join("new")).len(), 40);
    assert_eq!(server.remaining(), 0);

    let server = FakePop3::start(messages(5, 1000), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(&pull(&server, dir.path(), &[]), 0);
    assert_eq!(
        server.log.lock().expect("lock").max_queued,
        0,
        "not advertised: one at a time"
    );
}

#[test]
fn max_size_and_limit() {
    let msgs = vec![
        ("a".to_owned(), sample_message(1, 100)),
        ("b".to_owned(), sample_message(2, 50_000)),
        ("c".to_owned(), sample_message(3, 100)),
        ("d".to_owned(), sample_message(4, 100)),
    ];
    let server = FakePop3::start(msgs, Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(
        &pull(&server, dir.path(), &["--max-size", "10k", "--limit", "2"]),
        0,
    );
    assert_eq!(server.retrs(0), vec![1, 3]);
}

#[test]
fn verbose_dialogue_masks_the_password() {
    let server = FakePop3::start(messages(1, 100), Behavior::default());
    let mut cmd = fake_cmd(&server, "stat");
    cmd.arg("-v");
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        stdout.trim(),
        format!("1 messages, {} octets", sample_message(1, 100).len())
    );
    assert!(stderr.contains("C: PASS (redacted)"), "{stderr}");
    assert!(stderr.contains("S: +OK Logged in."), "{stderr}");
    assert!(!stderr.contains(PASS), "{stderr}");
}

#[test]
fn list_shows_decoded_headers() {
    let server = FakePop3::start(messages(2, 100), Behavior::default());
    let mut cmd = fake_cmd(&server, "list");
    cmd.arg("--json");
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let (stdout, _) = text(&out);
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("a line")).expect("json");
    assert_eq!(first["number"], 1);
    assert_eq!(first["uidl"], "uid-0001");
    assert_eq!(first["from"], "Sender 1 <s1@example.com>");
    assert_eq!(first["subject"], "message 1");
    assert!(
        first["date"]
            .as_str()
            .expect("date")
            .starts_with("2026-11-21T10:00:00")
    );
    let mut cmd = fake_cmd(&server, "capa");
    let out = run(&mut cmd);
    assert_code(&out, 0);
    assert!(text(&out).0.lines().any(|l| l == "UIDL"));
}

#[test]
fn kill_9_mid_pull_then_rerun_gives_every_message_exactly_once() {
    let n = 300;
    let msgs = messages(n, 2000);
    let server = FakePop3::start(
        msgs.clone(),
        Behavior {
            pipelining: true,
            retr_delay: Duration::from_millis(3),
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let new = dir.path().join("new");
    let mut cmd = fake_cmd(&server, "pull");
    cmd.arg("--out").arg(dir.path());
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while files_in(&new).len() < 100 {
        assert!(Instant::now() < deadline, "postie made no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let stored_first: BTreeSet<Vec<u8>> = files_in(&new).into_iter().collect();
    assert!(
        stored_first.len() >= 100 && stored_first.len() < n,
        "{}",
        stored_first.len()
    );
    let out = pull(&server, dir.path(), &[]);
    assert_code(&out, 0);
    let all = files_in(&new);
    assert_eq!(all.len(), n, "every message exactly once");
    let mut want: Vec<Vec<u8>> = msgs.iter().map(|m| m.1.clone()).collect();
    want.sort();
    assert_eq!(all, want);
    // Nothing stored by the first run was downloaded again.
    for num in server.retrs(1) {
        let raw = &msgs[num as usize - 1].1;
        assert!(
            !stored_first.contains(raw),
            "message {num} downloaded twice"
        );
    }
    assert_eq!(server.retrs(1).len(), n - stored_first.len());
}

// ---- Dovecot (POSTIE_INTEROP=1) ----

fn dovecot_message(i: usize, size: usize) -> Vec<u8> {
    let mut m = sample_message(i, size);
    // A line longer than poplib's 2048-octet cap, and a line that is a single dot.
    m.extend_from_slice(&vec![b'L'; 5000]);
    m.extend_from_slice(b"\r\n.\r\n..\r\nlast\r\n");
    m
}

fn interop(test: &str) -> bool {
    common::require_peer(test, "dovecot", pop3_dovecot::available())
}

#[test]
fn dovecot_pull_over_stls_and_implicit_tls() {
    if !interop("dovecot_pull_over_stls_and_implicit_tls") {
        return;
    }
    let d = pop3_dovecot::Dovecot::start(false);
    let msgs: Vec<Vec<u8>> = (1..=6).map(|i| dovecot_message(i, 2000 * i)).collect();
    for (i, m) in msgs.iter().enumerate() {
        d.deliver(&format!("{}.M{i}P1.test", 1_700_000_000 + i), m);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // pop3:// with STLS (required by default).
    let mut cmd = dovecot_cmd(&d, "pull", &d.plain_url());
    cmd.arg("--out").arg(dir.path()).arg("-v");
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let (_, err) = text(&out);
    assert!(err.contains("C: STLS"), "{err}");
    assert!(!err.contains(pop3_dovecot::PASS), "{err}");
    let mut want = msgs.clone();
    want.sort();
    assert_eq!(
        files_in(&dir.path().join("new")),
        want,
        "byte-identical to what was stored"
    );
    // Second pull: nothing new. (State is per server, port and user.)
    let mut cmd = dovecot_cmd(&d, "pull", &d.plain_url());
    cmd.arg("--out").arg(dir.path()).arg("--json");
    let out = run(&mut cmd);
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "", "the second pull retrieves nothing");
    // Implicit TLS with the CA, then without it: refused, exit 60.
    let mut cmd = dovecot_cmd(&d, "stat", &d.tls_url());
    cmd.arg("--json");
    let out = run(&mut cmd);
    assert_code(&out, 0);
    assert!(text(&out).0.contains("\"messages\":6"), "{}", text(&out).0);
    let mut cmd = postie();
    cmd.args([
        "pop3",
        "stat",
        "--server",
        &d.tls_url(),
        "--user",
        pop3_dovecot::USER,
    ])
    .args(["--password-env", "POP_PW"])
    .env("POP_PW", pop3_dovecot::PASS);
    let out = run(&mut cmd);
    assert_code(&out, 60);
    assert!(text(&out).1.contains("certificate"), "{}", text(&out).1);
    // --tls none: a method that sends the password as it is is refused.
    let mut cmd = dovecot_cmd(&d, "stat", &d.plain_url());
    cmd.args(["--tls", "none", "--auth", "plain"]);
    assert_code(&run(&mut cmd), 78);
}

#[test]
fn dovecot_auth_methods() {
    if !interop("dovecot_auth_methods") {
        return;
    }
    let d = pop3_dovecot::Dovecot::start(false);
    d.deliver("1.M1P1.test", &dovecot_message(1, 100));
    for method in ["auto", "plain", "login", "cram-md5", "user", "apop"] {
        for url in [d.plain_url(), d.tls_url()] {
            let mut cmd = dovecot_cmd(&d, "stat", &url);
            cmd.args(["--auth", method, "--json"]);
            let out = run(&mut cmd);
            assert_code(&out, 0);
            let v: serde_json::Value = serde_json::from_str(text(&out).0.trim()).expect("json");
            assert_eq!(v["messages"], 1, "{method} {url}");
        }
    }
    // CRAM-MD5 and APOP do not send the password: allowed without TLS.
    for method in ["cram-md5", "apop"] {
        let mut cmd = dovecot_cmd(&d, "stat", &d.plain_url());
        cmd.args(["--auth", method, "--tls", "none"]);
        assert_code(&run(&mut cmd), 0);
    }
    let mut cmd = dovecot_cmd(&d, "stat", &d.tls_url());
    cmd.env("POP_PW", "wrong password");
    assert_code(&run(&mut cmd), 77);
}

#[test]
fn dovecot_delete_empties_the_mailbox() {
    if !interop("dovecot_delete_empties_the_mailbox") {
        return;
    }
    let d = pop3_dovecot::Dovecot::start(false);
    for i in 1..=5 {
        d.deliver(&format!("{i}.M{i}P1.test"), &dovecot_message(i, 1000));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = dovecot_cmd(&d, "pull", &d.tls_url());
    cmd.arg("--out")
        .arg(dir.path())
        .args(["--keep", "--limit", "2", "--format", "eml"]);
    assert_code(&run(&mut cmd), 0);
    assert_eq!(d.count(), 5);
    let mut cmd = dovecot_cmd(&d, "pull", &d.tls_url());
    cmd.arg("--out")
        .arg(dir.path())
        .args(["--delete", "--format", "eml", "--json"]);
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let lines: Vec<serde_json::Value> = text(&out)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let count = |status: &str| lines.iter().filter(|l| l["status"] == status).count();
    assert_eq!(count("stored"), 3, "only the 3 not stored before");
    assert_eq!(count("deleted"), 5, "every DELE reported: {lines:?}");
    assert_eq!(d.count(), 0, "the mailbox is empty");
    let emls = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .count();
    assert_eq!(emls, 5);
}

#[test]
fn dovecot_in_use_with_pop3_lock_session() {
    if !interop("dovecot_in_use_with_pop3_lock_session") {
        return;
    }
    use std::io::{BufRead, BufReader, Write};
    let d = pop3_dovecot::Dovecot::start(true);
    d.deliver("1.M1P1.test", &dovecot_message(1, 100));
    // Hold a session (loopback: Dovecot accepts USER/PASS in the clear).
    let stream = std::net::TcpStream::connect(("127.0.0.1", d.pop3_port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut w = stream;
    let mut line = String::new();
    reader.read_line(&mut line).expect("greeting");
    for cmd in [
        format!("USER {}\r\n", pop3_dovecot::USER),
        format!("PASS {}\r\n", pop3_dovecot::PASS),
    ] {
        w.write_all(cmd.as_bytes()).expect("send");
        line.clear();
        reader.read_line(&mut line).expect("reply");
        assert!(line.starts_with("+OK"), "{line}");
    }
    let mut cmd = dovecot_cmd(&d, "stat", &d.tls_url());
    // Dovecot waits about 10 s for the lock before it answers -ERR [IN-USE].
    let out = run(&mut cmd);
    assert_code(&out, 75);
    assert!(text(&out).1.contains("IN-USE"), "{}", text(&out).1);
    let _ = w.write_all(b"QUIT\r\n");
}

/// `pop3 pull --format eml --unpack --json` of one message from the fake server: the output
/// folder and the message's JSON line.
fn pull_unpack_json(
    uidl: &str,
    raw: Vec<u8>,
    extra: &[&str],
) -> (tempfile::TempDir, serde_json::Value) {
    let server = FakePop3::start(vec![(uidl.to_owned(), raw)], Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["--format", "eml", "--unpack", "--json"];
    args.extend_from_slice(extra);
    let out = pull(&server, dir.path(), &args);
    assert_code(&out, 0);
    let (stdout, _) = text(&out);
    let line = serde_json::from_str(stdout.lines().next().expect("a line")).expect("json");
    (dir, line)
}

#[test]
fn pull_unpack_saves_attachments_beside_the_message() {
    let raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: with attachment\r\n\
Message-ID: <att@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\n\
hello\r\n--XX\r\nContent-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"report.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--XX--\r\n"
        .to_vec();
    let (dir, line) = pull_unpack_json("att-1", raw.clone(), &[]);
    assert_eq!(line["status"], "stored");
    assert_eq!(
        std::fs::read(dir.path().join("att-1.eml")).expect("eml"),
        raw
    );
    let attachments = line["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1, "{line}");
    let path = attachments[0].as_str().expect("path");
    assert!(path.ends_with("report.bin"), "{path}");
    assert!(Path::new(path).starts_with(dir.path()), "{path}");
    assert_eq!(std::fs::read(path).expect("attachment"), [0u8, 1, 2, 3, 4]);
}

#[test]
fn pull_unpack_reports_the_files_inside_winmail_dat_and_uuencoded_bodies() {
    use base64::Engine as _;
    let mut tnef = tnef_build::stream();
    tnef_build::file(&mut tnef, Some("INSIDE.TXT"), b"from winmail", &[]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&tnef);
    let uu = uu_build::uuencode("old.bin", b"uuencoded bytes").replace('\n', "\r\n");
    let raw = format!(
        "From: a@example.com\r\nSubject: inner files\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\n\
         Content-Type: text/plain\r\n\r\nSee:\r\n{uu}--XX\r\n\
         Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--XX--\r\n"
    );
    let saved = |extra: &[&str]| {
        let (dir, line) = pull_unpack_json("in-1", raw.clone().into_bytes(), extra);
        let paths: Vec<String> = line["attachments"]
            .as_array()
            .expect("attachments")
            .iter()
            .map(|p| p.as_str().expect("path").to_owned())
            .collect();
        (dir, paths)
    };
    let name = |p: &String| p.rsplit('/').next().unwrap_or(p).to_owned();
    let (_dir, paths) = saved(&[]);
    let names: Vec<String> = paths.iter().map(name).collect();
    assert_eq!(names, ["old.bin", "winmail.dat", "INSIDE.TXT"]);
    assert_eq!(std::fs::read(&paths[0]).expect("uu"), b"uuencoded bytes");
    assert_eq!(std::fs::read(&paths[2]).expect("tnef"), b"from winmail");
    // The choices of `postie unpack` apply to `pull --unpack` too.
    let (_dir, paths) = saved(&["--no-tnef-container", "--no-uudecode"]);
    let names: Vec<String> = paths.iter().map(name).collect();
    assert_eq!(names, ["INSIDE.TXT"]);
    let (_dir, paths) = saved(&["--no-tnef"]);
    let names: Vec<String> = paths.iter().map(name).collect();
    assert_eq!(names, ["old.bin", "winmail.dat"]);
}

#[test]
fn a_silent_tls_handshake_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        // Accept and say nothing: the client's ClientHello is never answered.
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(10));
        drop(held);
    });
    let mut cmd = postie();
    cmd.args([
        "pop3",
        "stat",
        "--server",
        &format!("pop3s://127.0.0.1:{port}"),
    ])
    .args(["--user", USER, "--password-env", "POP_PW", "--timeout", "1"])
    .env("POP_PW", PASS);
    let started = Instant::now();
    let out = run(&mut cmd);
    assert_code(&out, 28);
    assert!(text(&out).1.contains("TLS handshake"), "{}", text(&out).1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---- issue 10: bounds, state, delete, interrupts, escaping ----

fn with_status<'a>(lines: &'a [serde_json::Value], status: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["status"] == status).collect()
}

#[test]
fn an_endless_capa_line_is_a_protocol_error() {
    let server = FakePop3::start(
        messages(1, 100),
        Behavior {
            capa_line: Some(pop3_server::ENDLESS_CAP),
            ..Behavior::default()
        },
    );
    let started = Instant::now();
    let out = run(&mut fake_cmd(&server, "stat"));
    assert_code(&out, 8);
    let (_, err) = text(&out);
    assert!(err.contains("CAPA reply has a line longer than"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_endless_retr_stops_at_the_limit_and_keeps_nothing_of_it() {
    let msgs = messages(3, 2000);
    let server = FakePop3::start(
        msgs.clone(),
        Behavior {
            endless_retr: Some(2),
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pull(&server, dir.path(), &["--json", "--delete"]);
    assert_code(&out, 8);
    let (_, err) = text(&out);
    assert!(err.contains("larger than its LIST size"), "{err}");
    let lines = json_lines(&out);
    let failed = with_status(&lines, "failed");
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert_eq!(failed[0]["number"], 2);
    assert_eq!(files_in(&dir.path().join("new")), vec![msgs[0].1.clone()]);
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    assert_eq!(server.remaining(), 3, "no QUIT: no DELE took effect");
}

#[test]
fn a_message_larger_than_its_list_size_is_not_stored() {
    let msgs = messages(2, 300_000);
    let server = FakePop3::start(
        msgs,
        Behavior {
            understate: Some(1),
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pull(&server, dir.path(), &["--pipelining", "off"]);
    assert_code(&out, 8);
    assert!(
        text(&out).1.contains("larger than its LIST size of 1000"),
        "{}",
        text(&out).1
    );
    assert!(files_in(&dir.path().join("new")).is_empty());
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    // --max-size is enforced on the stream too, not only on what LIST says.
    let out = pull(&server, dir.path(), &["--max-size", "50k"]);
    assert_code(&out, 8);
    assert!(
        text(&out).1.contains("larger than --max-size"),
        "{}",
        text(&out).1
    );
    assert!(files_in(&dir.path().join("new")).is_empty());
}

#[test]
fn a_list_naming_a_message_twice_stores_and_deletes_it_once() {
    let server = FakePop3::start(
        messages(3, 500),
        Behavior {
            duplicate_list: true,
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pull(&server, dir.path(), &["--delete", "--json"]);
    assert_code(&out, 0);
    assert_eq!(server.retrs(0), vec![1, 2, 3]);
    let deles: Vec<String> = server.sessions()[0]
        .iter()
        .filter(|l| l.starts_with("DELE"))
        .cloned()
        .collect();
    assert_eq!(deles, ["DELE 1", "DELE 2", "DELE 3"]);
    assert_eq!(files_in(&dir.path().join("new")).len(), 3);
}

#[test]
fn every_dele_is_reported_in_json() {
    let server = FakePop3::start(messages(3, 500), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(&pull(&server, dir.path(), &["--limit", "1"]), 0);
    let out = pull(&server, dir.path(), &["--delete", "--json"]);
    assert_code(&out, 0);
    let lines = json_lines(&out);
    let deleted = with_status(&lines, "deleted");
    let numbers: BTreeSet<u64> = deleted
        .iter()
        .filter_map(|l| l["number"].as_u64())
        .collect();
    assert_eq!(numbers, BTreeSet::from([1, 2, 3]), "{lines:?}");
    assert!(deleted.iter().all(|l| l["uidl"].as_str().is_some()));
    assert_eq!(with_status(&lines, "stored").len(), 2);
    assert_eq!(server.remaining(), 0);
}

#[test]
fn a_uidl_starting_with_hash_is_not_downloaded_again() {
    let msgs = vec![
        ("#1".to_owned(), sample_message(1, 300)),
        ("#%x".to_owned(), sample_message(2, 300)),
        ("plain".to_owned(), sample_message(3, 300)),
    ];
    let server = FakePop3::start(msgs, Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(&pull(&server, dir.path(), &[]), 0);
    assert_code(&pull(&server, dir.path(), &[]), 0);
    assert!(server.retrs(1).is_empty(), "{:?}", server.retrs(1));
    assert_code(&pull(&server, dir.path(), &["--delete"]), 0);
    assert_eq!(server.remaining(), 0);
    assert_eq!(files_in(&dir.path().join("new")).len(), 3);
}

/// The state file of a pull with the default `--state`.
fn state_file(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "state"))
        .expect("a state file")
}

#[test]
fn a_state_file_written_before_sizes_is_still_read() {
    let msgs = vec![
        ("#old".to_owned(), sample_message(1, 300)),
        ("uid-2".to_owned(), sample_message(2, 300)),
    ];
    let server = FakePop3::start(msgs, Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(&pull(&server, dir.path(), &[]), 0);
    // Rewrite it as the previous version did: v1 header, `key name` lines, `#` unescaped.
    let path = state_file(dir.path());
    let old: String = std::fs::read_to_string(&path)
        .expect("state")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.split(' ').collect::<Vec<_>>().as_slice() {
            [key, name, _size] => format!("{} {name}\n", key.replace("%23", "#")),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(
        &path,
        format!("# postie pop3 state v1: <escaped UIDL key> <file name>; `.` = on disk\n{old}"),
    )
    .expect("write");
    assert_code(&pull(&server, dir.path(), &[]), 0);
    assert!(server.retrs(1).is_empty(), "{:?}", server.retrs(1));
    // Sizes unknown: the files on disk match the LIST sizes, so --delete deletes.
    assert_code(&pull(&server, dir.path(), &["--delete"]), 0);
    assert!(server.retrs(2).is_empty());
    assert_eq!(server.remaining(), 0);
}

#[test]
fn delete_keeps_a_message_whose_size_changed_under_the_same_uidl() {
    let server = FakePop3::start(messages(3, 500), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(&pull(&server, dir.path(), &[]), 0);
    // The server reuses UIDL uid-0002 for another message.
    server.mailbox.lock().expect("lock")[1].raw = sample_message(99, 5000);
    let out = pull(&server, dir.path(), &["--delete", "--json"]);
    assert_code(&out, 0);
    let lines = json_lines(&out);
    let skipped = with_status(&lines, "skipped");
    assert_eq!(skipped.len(), 1, "{lines:?}");
    assert_eq!(skipped[0]["number"], 2);
    assert!(
        skipped[0]["error"]
            .as_str()
            .expect("why")
            .contains("another size")
    );
    assert_eq!(server.remaining(), 1, "only the unchanged messages deleted");
    let deles: Vec<String> = server.sessions()[1]
        .iter()
        .filter(|l| l.starts_with("DELE"))
        .cloned()
        .collect();
    assert_eq!(deles, ["DELE 1", "DELE 3"]);
}

#[test]
fn sigterm_mid_pull_removes_the_partial_message() {
    let server = FakePop3::start(
        messages(2, 400_000),
        Behavior {
            stall_in_retr: Some(2),
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = fake_cmd(&server, "pull");
    cmd.arg("--out").arg(dir.path());
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let tmp = dir.path().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(20);
    let new = dir.path().join("new");
    while files_in(&new).is_empty() || files_in(&tmp).iter().all(|f| f.len() < 100_000) {
        assert!(Instant::now() < deadline, "no partial message appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    sigterm(&child);
    let status = child.wait().expect("reaped");
    assert_eq!(status.code(), Some(130));
    assert!(files_in(&tmp).is_empty(), "the partial message is removed");
    assert_eq!(files_in(&new).len(), 1);
}

#[test]
fn the_state_journal_is_never_written_through_a_symlink() {
    let server = FakePop3::start(messages(1, 300), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("victim");
    std::fs::write(&target, "precious\n").expect("write");
    let link = dir.path().join("state-link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let out_dir = dir.path().join("mail");
    for extra in [&[][..], &["--all"][..]] {
        let mut args = vec!["--state", link.to_str().expect("utf-8")];
        args.extend_from_slice(extra);
        let out = pull(&server, &out_dir, &args);
        assert_code(&out, 23);
        assert!(text(&out).1.contains("symbolic link"), "{}", text(&out).1);
        assert_eq!(std::fs::read(&target).expect("read"), b"precious\n");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("lstat")
                .is_symlink()
        );
    }
}

#[test]
fn server_text_is_escaped_on_the_terminal_but_not_in_json() {
    let server = FakePop3::start(
        messages(1, 100),
        Behavior {
            auth_err_text: Some("no\x1b]0;owned\x07 \u{202e}txt.exe".into()),
            ..Behavior::default()
        },
    );
    let mut cmd = fake_cmd(&server, "stat");
    cmd.env("POP_PW", "wrong");
    let out = run(&mut cmd);
    assert_code(&out, 77);
    let (_, err) = text(&out);
    assert!(
        err.contains("-ERR [AUTH] no\\x1b]0;owned\\x07 \\u{202e}txt.exe"),
        "{err}"
    );
    assert!(
        !err.contains('\x1b') && !err.contains('\u{202e}'),
        "{err:?}"
    );

    let raw = b"From: Evil \x1b[2J <e@example.com>\r\nSubject: hi\x1b]0;x\x07\r\n\r\nbody\r\n";
    let server = FakePop3::start(
        vec![("u\x01".to_owned(), raw.to_vec())],
        Behavior::default(),
    );
    let out = run(&mut fake_cmd(&server, "list"));
    assert_code(&out, 0);
    let (stdout, _) = text(&out);
    assert!(
        !stdout.contains('\x1b') && !stdout.contains('\x01'),
        "{stdout:?}"
    );
    assert!(stdout.contains("hi\\x1b]0;x\\x07"), "{stdout}");
    assert!(stdout.contains("u\\x01"), "{stdout}");
    let mut cmd = fake_cmd(&server, "list");
    cmd.arg("--json");
    let out = run(&mut cmd);
    let line: serde_json::Value =
        serde_json::from_str(text(&out).0.lines().next().expect("a line")).expect("json");
    assert_eq!(
        line["subject"], "hi\x1b]0;x\x07",
        "JSON keeps the text as sent"
    );
}

#[test]
fn dovecot_list_sizes_are_the_octets_stored() {
    if !interop("dovecot_list_sizes_are_the_octets_stored") {
        return;
    }
    let d = pop3_dovecot::Dovecot::start(false);
    let crlf = dovecot_message(1, 3000);
    // Stored with bare LF: Dovecot sends CRLF and counts it in LIST.
    let lf: Vec<u8> = String::from_utf8(dovecot_message(2, 3000))
        .expect("ascii")
        .replace("\r\n", "\n")
        .into_bytes();
    d.deliver("1.M1P1.test", &crlf);
    d.deliver("2.M2P1.test", &lf);
    let dir = tempfile::tempdir().expect("tempdir");
    // --max-size at the larger LIST size exactly: the stream bound lets both through.
    let max = crlf
        .len()
        .max(lf.len() + lf.iter().filter(|b| **b == b'\n').count());
    let mut cmd = dovecot_cmd(&d, "pull", &d.tls_url());
    cmd.arg("--out").arg(dir.path()).arg("--json");
    cmd.args(["--format", "eml", "--max-size", &max.to_string()]);
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(with_status(&lines, "stored").len(), 2, "{lines:?}");
    for l in &lines {
        let path = l["path"].as_str().expect("path");
        let stored = std::fs::metadata(path).expect("stored").len();
        assert_eq!(l["size"].as_u64(), Some(stored), "{l}");
    }
}

#[test]
fn mark_seen_then_pull_retrieves_nothing_and_forget_brings_messages_back() {
    let server = FakePop3::start(messages(3, 400), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = fake_cmd(&server, "mark-seen");
    cmd.arg("--out").arg(dir.path()).arg("--json");
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let (stdout, _) = text(&out);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(
        (v["marked"].as_u64(), v["already"].as_u64()),
        (Some(3), Some(0))
    );
    assert!(server.retrs(0).is_empty(), "mark-seen downloads nothing");
    // Nothing retrieved, and --delete leaves what postie never stored.
    assert_code(&pull(&server, dir.path(), &["--delete"]), 0);
    assert!(server.retrs(1).is_empty());
    assert_eq!(server.remaining(), 3);
    assert!(files_in(&dir.path().join("new")).is_empty());

    let mut cmd = fake_cmd(&server, "forget");
    cmd.arg("--out")
        .arg(dir.path())
        .args(["--uidl", "uid-0002"]);
    assert_code(&run(&mut cmd), 0);
    assert_code(&pull(&server, dir.path(), &[]), 0);
    assert_eq!(server.retrs(2), [2], "only the forgotten one");
    let mut cmd = fake_cmd(&server, "forget");
    cmd.arg("--out").arg(dir.path()).arg("--all");
    assert_code(&run(&mut cmd), 0);
    assert_code(&pull(&server, dir.path(), &[]), 0);
    assert_eq!(server.retrs(3), [1, 2, 3]);
    // forget needs --uidl or --all.
    let mut cmd = fake_cmd(&server, "forget");
    cmd.arg("--out").arg(dir.path());
    assert_code(&run(&mut cmd), 2);
}

/// The messages of an mbox as mboxrd readers give them back: split at `From ` lines, the
/// entry's final empty line dropped, one `>` taken from `>*From ` lines.
fn read_mboxrd(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            msgs.push(Vec::new());
            continue;
        }
        let m = msgs.last_mut().expect("a From line first");
        let rest = &line[line.iter().take_while(|b| **b == b'>').count()..];
        let quoted = line.first() == Some(&b'>') && rest.starts_with(b"From ");
        m.extend_from_slice(if quoted { &line[1..] } else { line });
    }
    for m in &mut msgs {
        assert_eq!(m.pop(), Some(b'\n'), "each entry ends with an empty line");
    }
    msgs
}

#[test]
fn mbox_output_reads_back_byte_identical_and_is_appended_to() {
    let mut msgs = messages(3, 600);
    msgs[1].1 = b"Return-Path: <bounce@example.org>\r\nSubject: q\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\n.\r\n"
        .to_vec();
    let server = FakePop3::start(msgs.clone(), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("mail").join("inbox");
    let out = pull(
        &server,
        &mbox,
        &["--format", "mbox", "--delete", "--limit", "2"],
    );
    assert_code(&out, 0);
    assert_code(&pull(&server, &mbox, &["--format", "mbox", "--delete"]), 0);
    assert_eq!(server.remaining(), 0);
    let bytes = std::fs::read(&mbox).expect("mbox");
    let want: Vec<Vec<u8>> = msgs.iter().map(|m| m.1.clone()).collect();
    assert_eq!(read_mboxrd(&bytes), want);
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("\r\n>From here\r\n>>From there\r\n>>>From x\r\n"),
        "{text}"
    );
    let envelopes: Vec<&str> = text.lines().filter(|l| l.starts_with("From ")).collect();
    assert!(
        envelopes[1].starts_with("From bounce@example.org "),
        "{envelopes:?}"
    );
    assert!(
        envelopes[0].starts_with("From MAILER-DAEMON "),
        "{envelopes:?}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&mbox).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !dir.path().join("mail").join("inbox.lock").exists(),
        "dot-lock removed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_held_mbox_dotlock_is_waited_for() {
    let server = FakePop3::start(messages(1, 300), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("inbox");
    let lock = dir.path().join("inbox.lock");
    std::fs::write(&lock, "").expect("dot-lock");
    let release = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            std::fs::remove_file(lock).expect("unlock");
        })
    };
    let started = Instant::now();
    assert_code(&pull(&server, &mbox, &["--format", "mbox"]), 0);
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "waited for the lock"
    );
    release.join().expect("thread");
    assert_eq!(read_mboxrd(&std::fs::read(&mbox).expect("mbox")).len(), 1);
}

/// Starts `postie pop3 pull --watch ...` against the fake server, stderr piped.
fn spawn_watch(server: &FakePop3, out: &Path, extra: &[&str]) -> std::process::Child {
    let mut cmd = fake_cmd(server, "pull");
    cmd.arg("--out").arg(out).args(extra);
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn sigterm(child: &std::process::Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
}

/// The gaps between consecutive login attempts.
fn login_gaps(server: &FakePop3) -> Vec<Duration> {
    let logins = server.logins();
    logins.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

#[test]
fn watch_never_logs_in_more_often_than_login_delay() {
    let server = FakePop3::start(
        messages(2, 300),
        Behavior {
            login_delay: Some(3),
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let child = spawn_watch(&server, dir.path(), &["--watch", "1s", "-v"]);
    std::thread::sleep(Duration::from_millis(7500));
    sigterm(&child);
    let out = child.wait_with_output().expect("wait");
    assert_code(&out, 0);
    let logins = server.logins();
    assert!(logins.len() >= 2, "{logins:?}");
    assert!(
        logins.iter().all(|(_, ok)| *ok),
        "never refused: {logins:?}"
    );
    for gap in login_gaps(&server) {
        assert!(gap >= Duration::from_millis(2950), "{gap:?}");
    }
    let (_, stderr) = text(&out);
    assert!(stderr.contains("2 stored"), "{stderr}");
    assert!(stderr.contains("next pull in 3 s"), "{stderr}");
    assert_eq!(files_in(&dir.path().join("new")).len(), 2);
}

#[test]
fn watch_waits_the_login_delay_after_a_login_delay_refusal() {
    let server = FakePop3::start(
        messages(1, 300),
        Behavior {
            login_delay: Some(3),
            refuse_logins: 1,
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let child = spawn_watch(&server, dir.path(), &["--watch", "1s"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while files_in(&dir.path().join("new")).is_empty() {
        assert!(Instant::now() < deadline, "never stored the message");
        std::thread::sleep(Duration::from_millis(50));
    }
    sigterm(&child);
    let out = child.wait_with_output().expect("wait");
    assert_code(&out, 0);
    let gaps = login_gaps(&server);
    assert!(gaps[0] >= Duration::from_millis(2950), "{gaps:?}");
    let (_, stderr) = text(&out);
    assert!(stderr.contains("[LOGIN-DELAY]"), "{stderr}");
    assert_eq!(files_in(&dir.path().join("new")).len(), 1);
}

#[test]
fn watch_finishes_the_message_on_sigterm_sends_quit_and_exits_0() {
    let server = FakePop3::start(
        messages(3, 200_000),
        Behavior {
            slow_retr: Some((2, Duration::from_secs(2))),
            ..Behavior::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let child = spawn_watch(&server, dir.path(), &["--watch"]);
    let new = dir.path().join("new");
    let deadline = Instant::now() + Duration::from_secs(20);
    while files_in(&new).is_empty() || !server.sessions()[0].contains(&"RETR 2".to_owned()) {
        assert!(Instant::now() < deadline, "RETR 2 never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    let out = child.wait_with_output().expect("wait");
    assert_code(&out, 0);
    let want: Vec<Vec<u8>> = {
        let mut v: Vec<Vec<u8>> = messages(2, 200_000).into_iter().map(|m| m.1).collect();
        v.sort();
        v
    };
    assert_eq!(files_in(&new), want, "message 2 finished and stored whole");
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    let s = &server.sessions()[0];
    assert!(!s.contains(&"RETR 3".to_owned()), "{s:?}");
    assert_eq!(s.last().map(String::as_str), Some("QUIT"), "{s:?}");
    assert_eq!(server.sessions().len(), 1, "no second login");
}

#[test]
fn watch_stops_on_an_authentication_failure() {
    let server = FakePop3::start(messages(1, 300), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = fake_cmd(&server, "pull");
    cmd.env("POP_PW", "wrong")
        .arg("--out")
        .arg(dir.path())
        .args(["--watch", "1s"]);
    let out = run(&mut cmd);
    assert_code(&out, 77);
    assert_eq!(server.logins().len(), 1);
    let mut cmd = fake_cmd(&server, "pull");
    cmd.arg("--out").arg(dir.path()).args(["--watch", "0"]);
    assert_code(&run(&mut cmd), 2);
}

// ---- --all-accounts, accounts from ~/.mpoprc, config import ----

/// A home folder with postie's accounts file holding `toml` (mode 0600).
fn home_with_config(toml: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join(".config").join("postie");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("config.toml"), toml).expect("config");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("config.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    home
}

fn in_home(home: &Path) -> Command {
    let mut cmd = postie();
    cmd.env("HOME", home)
        .env("POP_PW", PASS)
        .env("BAD_PW", "wrong");
    cmd
}

fn json_last(out: &Output) -> serde_json::Value {
    let (o, _) = text(out);
    let last = o.lines().last().expect("a summary line");
    serde_json::from_str(last).expect("JSON")
}

#[test]
fn all_accounts_pull_each_account_into_its_own_store_and_exit_with_the_worst() {
    let one = FakePop3::start(messages(3, 500), Behavior::default());
    let two = FakePop3::start(messages(2, 700), Behavior::default());
    let work = tempfile::tempdir().expect("tempdir");
    let mbox = work.path().join("two.mbox");
    let account = |name: &str, key: &str, url: &str, pw: &str| {
        format!(
            "[account.{name}]\n{key} = \"{url}\"\nuser = \"{USER}\"\npassword_env = \"{pw}\"\n\
             tls = \"none\"\n"
        )
    };
    let config = format!(
        "{}{}pop3_out = \"{}\"\npop3_format = \"mbox\"\n{}[account.mailout]\n\
         smtp_server = \"smtp://127.0.0.1:1\"\n",
        account("one", "pop3_server", &one.url(), "POP_PW"),
        account("two", "server", &two.url(), "POP_PW"),
        mbox.display(),
        account("bad", "pop3_server", &one.url(), "BAD_PW"),
    );
    let home = home_with_config(&config);
    let out_dir = work.path().join("mail");
    let pull_all = |extra: &[&str]| {
        let mut cmd = in_home(home.path());
        cmd.args(["pop3", "pull", "--all-accounts", "--allow-insecure-auth"])
            .arg("--out")
            .arg(&out_dir)
            .args(extra);
        run(&mut cmd)
    };
    let out = pull_all(&["--parallel", "2"]);
    assert_code(&out, 77);
    let (_, err) = text(&out);
    assert!(err.contains("postie: one: 3 stored ("), "{err}");
    assert!(err.contains("postie: two: 2 stored ("), "{err}");
    assert!(
        err.contains("postie: bad: ") && err.contains("(exit 77)"),
        "{err}"
    );
    assert!(
        !err.contains("mailout"),
        "no POP3 server: not pulled: {err}"
    );
    assert_eq!(files_in(&out_dir.join("one").join("new")).len(), 3);
    assert!(!out_dir.join("two").exists(), "two goes to its pop3_out");
    assert_eq!(read_mboxrd(&std::fs::read(&mbox).expect("mbox")).len(), 2);

    let out = pull_all(&["--json"]);
    assert_code(&out, 77);
    let summary = json_last(&out);
    assert_eq!(summary["exit"], 77);
    let accounts = summary["accounts"].as_array().expect("accounts");
    let names: Vec<&str> = accounts
        .iter()
        .filter_map(|a| a["account"].as_str())
        .collect();
    assert_eq!(names, ["bad", "one", "two"]);
    assert_eq!(
        accounts[1]["stored"], 0,
        "each account's own state: {summary}"
    );
    assert_eq!(accounts[1]["exit"], 0);
    assert_eq!(accounts[0]["exit"], 77);
}

#[test]
fn all_accounts_takes_mpoprc_accounts_and_needs_a_place_for_each() {
    let server = FakePop3::start(messages(2, 300), Behavior::default());
    // A postie account hides the mpoprc's of the same name, as for --account.
    let home = home_with_config("[account.hidden]\nsmtp_server = \"smtp://127.0.0.1:1\"\n");
    let port = server.url().rsplit(':').next().expect("port").to_owned();
    let rc = format!(
        "# mpop(1) style\ndefaults\ntls off\n\naccount box\nhost 127.0.0.1\nport {port}\n\
         user {USER}\npasswordeval \"printenv POP_PW\"\ndelivery maildir ~/Mail/box\n\
         logfile ~/mpop.log\n\naccount other : box\ndelivery exchange c:\\pickup\n\
         account piped : box\ndelivery mda \"cat > ~/piped.$$\"\naccount hidden : box\n"
    );
    std::fs::write(home.path().join(".mpoprc"), rc).expect("mpoprc");
    let mut cmd = in_home(home.path());
    cmd.args(["pop3", "pull", "--all-accounts", "--allow-insecure-auth"]);
    let out = run(&mut cmd);
    assert_code(&out, 2);
    let (_, err) = text(&out);
    assert!(
        err.contains(".mpoprc: line 11: logfile is not supported"),
        "{err}"
    );
    assert!(err.contains("postie: box: 2 stored"), "{err}");
    assert!(
        err.contains("postie: other: --out: account other has no pop3_out"),
        "{err}"
    );
    assert!(!err.contains("hidden"), "{err}");
    assert_eq!(files_in(&home.path().join("Mail/box/new")).len(), 2);
    // `delivery mda` (issue 20): each message piped to the command.
    assert!(err.contains("postie: piped: 2 stored"), "{err}");
    let piped = std::fs::read_dir(home.path())
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("piped."))
        .count();
    assert_eq!(piped, 2);
    let mut cmd = in_home(home.path());
    cmd.args(["pop3", "pull", "--all-accounts", "--server", "pop3://x"]);
    assert_code(&run(&mut cmd), 2);
}

#[test]
fn account_falls_back_on_the_mpoprc_and_its_delivery() {
    let server = FakePop3::start(messages(2, 300), Behavior::default());
    let home = tempfile::tempdir().expect("tempdir");
    let port = server.url().rsplit(':').next().expect("port").to_owned();
    let mbox = home.path().join("inbox");
    let rc = format!(
        "account  box\nhost 127.0.0.1\nport {port}\ntls off\nuser {USER}\n\
         passwordeval \"printenv POP_PW\"\ndelivery mbox ~/inbox\nkeep off\n"
    );
    std::fs::write(home.path().join(".mpoprc"), rc).expect("mpoprc");
    let mut cmd = in_home(home.path());
    cmd.args(["pop3", "pull", "--account", "box", "--allow-insecure-auth"]);
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let (_, err) = text(&out);
    assert!(
        err.contains(".mpoprc: line 8: keep off is not applied"),
        "{err}"
    );
    assert_eq!(read_mboxrd(&std::fs::read(&mbox).expect("mbox")).len(), 2);
    let mut cmd = in_home(home.path());
    cmd.args(["pop3", "stat", "--account", "nobox"]);
    let out = run(&mut cmd);
    assert_code(&out, 78);
    let (_, err) = text(&out);
    assert!(
        err.contains("--account nobox: not in ") && err.contains(".mpoprc"),
        "{err}"
    );
    // A password in a file others can read is refused, as mpop refuses it.
    std::fs::write(home.path().join(".mpoprc"), "account box\npassword x\n").expect("rc");
    use std::os::unix::fs::PermissionsExt;
    let perm = std::fs::Permissions::from_mode(0o644);
    std::fs::set_permissions(home.path().join(".mpoprc"), perm).expect("chmod");
    let mut cmd = in_home(home.path());
    cmd.args(["pop3", "stat", "--account", "box"]);
    let out = run(&mut cmd);
    assert_code(&out, 78);
    assert!(text(&out).1.contains("chmod 600"), "{}", text(&out).1);
}

#[test]
fn config_import_prints_writes_privately_and_replaces_only_with_force() {
    let home = tempfile::tempdir().expect("tempdir");
    let rc = "defaults\ntls on\ntls_starttls off\naccount gmail\nhost smtp.gmail.com\n\
              from me@gmail.com\nuser me\npassword hunter2\ntls_priorities NORMAL\n";
    std::fs::write(home.path().join(".msmtprc"), rc).expect("msmtprc");
    use std::os::unix::fs::PermissionsExt;
    let perm = std::fs::Permissions::from_mode(0o600);
    std::fs::set_permissions(home.path().join(".msmtprc"), perm).expect("chmod");
    let import = |extra: &[&str]| {
        let mut cmd = in_home(home.path());
        cmd.args(["config", "import", "--from", "msmtp"])
            .args(extra);
        run(&mut cmd)
    };
    let out = import(&[]);
    assert_code(&out, 0);
    let (printed, err) = text(&out);
    assert!(!printed.contains("hunter2") && !err.contains("hunter2"));
    assert!(printed.contains("[account.gmail]\n"), "{printed}");
    assert!(printed.contains("smtp_server = \"smtps://smtp.gmail.com:465\"\n"));
    assert!(printed.contains("# password: not imported"), "{printed}");
    assert!(
        err.contains("line 9: tls_priorities is not supported by postie"),
        "{err}"
    );

    let config = home.path().join(".config/postie/config.toml");
    assert_code(&import(&["--write"]), 0);
    let mode = std::fs::metadata(&config)
        .expect("written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = std::fs::read_to_string(&config).expect("config");
    assert_code(&import(&["--write"]), 2);
    assert_eq!(std::fs::read_to_string(&config).expect("config"), first);
    assert_code(&import(&["--write", "--force"]), 0);
    let replaced = std::fs::read_to_string(&config).expect("config");
    assert_eq!(replaced.matches("[account.gmail]").count(), 1, "{replaced}");
}

// ---- Dovecot: --all-accounts, an mpoprc, mbox read by Python (POSTIE_INTEROP=1) ----

#[test]
fn dovecot_all_accounts_with_two_users_in_parallel() {
    if !interop("dovecot_all_accounts_with_two_users_in_parallel") {
        return;
    }
    let d = pop3_dovecot::Dovecot::start(false);
    let alice: Vec<Vec<u8>> = (1..=3).map(|i| dovecot_message(i, 1500)).collect();
    let bob: Vec<Vec<u8>> = (4..=5).map(|i| dovecot_message(i, 2500)).collect();
    for (i, m) in alice.iter().enumerate() {
        d.deliver_to(pop3_dovecot::USER, &format!("{i}.M{i}P1.a"), m);
    }
    for (i, m) in bob.iter().enumerate() {
        d.deliver_to(pop3_dovecot::USER2, &format!("{i}.M{i}P1.b"), m);
    }
    let account = |name: &str, url: &str, user: &str, var: &str| {
        format!(
            "[account.{name}]\npop3_server = \"{url}\"\nuser = \"{user}\"\n\
             password_env = \"{var}\"\ncacert = \"{}\"\n",
            d.ca().display()
        )
    };
    let config = account("alice", &d.tls_url(), pop3_dovecot::USER, "PW_A")
        + &account("bob", &d.plain_url(), pop3_dovecot::USER2, "PW_B");
    let home = home_with_config(&config);
    let out_dir = home.path().join("Mail");
    let mut cmd = in_home(home.path());
    cmd.args([
        "pop3",
        "pull",
        "--all-accounts",
        "--parallel",
        "2",
        "--json",
    ])
    .arg("--out")
    .arg(&out_dir)
    .env("PW_A", pop3_dovecot::PASS)
    .env("PW_B", pop3_dovecot::PASS2);
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let summary = json_last(&out);
    assert_eq!(summary["accounts"][0]["stored"], 3, "{summary}");
    assert_eq!(summary["accounts"][1]["stored"], 2, "{summary}");
    let per_message = text(&out).0.lines().count() - 1;
    assert_eq!(per_message, 5, "one JSON line per message");
    let mut want_a = alice.clone();
    want_a.sort();
    let mut want_b = bob.clone();
    want_b.sort();
    assert_eq!(files_in(&out_dir.join("alice").join("new")), want_a);
    assert_eq!(files_in(&out_dir.join("bob").join("new")), want_b);
    let mut cmd = in_home(home.path());
    cmd.args(["pop3", "pull", "--all-accounts"])
        .arg("--out")
        .arg(&out_dir)
        .env("PW_A", pop3_dovecot::PASS)
        .env("PW_B", "wrong");
    let out = run(&mut cmd);
    assert_code(&out, 77);
    let (_, err) = text(&out);
    assert!(err.contains("postie: alice: 0 stored"), "{err}");
    assert!(!err.contains(pop3_dovecot::PASS), "{err}");
}

#[test]
fn dovecot_accounts_of_an_mpoprc_as_its_man_page_writes_them() {
    if !interop("dovecot_accounts_of_an_mpoprc_as_its_man_page_writes_them") {
        return;
    }
    let d = pop3_dovecot::Dovecot::start(false);
    let msgs: Vec<Vec<u8>> = (1..=3).map(|i| dovecot_message(i, 800)).collect();
    for (i, m) in msgs.iter().enumerate() {
        d.deliver(&format!("{i}.M{i}P1.test"), m);
    }
    let home = tempfile::tempdir().expect("tempdir");
    let rc = format!(
        "# Set default values for all following accounts.\n\
         defaults\n\
         tls on\n\
         tls_trust_file {ca}\n\
         \n\
         # A STLS account, delivering to a maildir\n\
         account dovecot\n\
         host localhost\n\
         port {plain}\n\
         user {user}\n\
         passwordeval \"printenv POP_PW\"\n\
         delivery maildir ~/Mail/dovecot\n\
         \n\
         # The same mailbox over implicit TLS, into an mbox\n\
         account dovecot_tls : dovecot\n\
         port {tls}\n\
         tls_starttls off\n\
         delivery mbox ~/Mail/inbox.mbox\n\
         uidls_file ~/.mpop_uidls/%U_at_%H\n",
        ca = d.ca().display(),
        plain = d.pop3_port,
        tls = d.pop3s_port,
        user = pop3_dovecot::USER,
    );
    std::fs::write(home.path().join(".mpoprc"), rc).expect("mpoprc");
    for name in ["dovecot", "dovecot_tls"] {
        let mut cmd = in_home(home.path());
        cmd.args(["pop3", "pull", "--account", name, "-v"])
            .env("POP_PW", pop3_dovecot::PASS);
        let out = run(&mut cmd);
        assert_code(&out, 0);
        let (_, err) = text(&out);
        assert!(err.contains("3 stored"), "{name}: {err}");
        assert!(!err.contains(pop3_dovecot::PASS), "{err}");
        let stls = err.contains("C: STLS");
        assert_eq!(
            stls,
            name == "dovecot",
            "{name}: STLS or implicit TLS: {err}"
        );
    }
    let err = text(&run(in_home(home.path()).args([
        "pop3",
        "stat",
        "--account",
        "dovecot_tls",
    ])))
    .1;
    assert!(
        err.contains("line 19: uidls_file is not supported"),
        "{err}"
    );
    let mut want = msgs.clone();
    want.sort();
    assert_eq!(files_in(&home.path().join("Mail/dovecot/new")), want);
    let mbox = std::fs::read(home.path().join("Mail/inbox.mbox")).expect("mbox");
    let mut got = read_mboxrd(&mbox);
    got.sort();
    assert_eq!(got, want);
}

/// Messages whose lines an mbox must quote: `From ` at a line start (after a blank line and
/// not), already-quoted `>From ` lines, bare LF line ends, no final line end.
fn from_line_messages() -> Vec<Vec<u8>> {
    let head = |i: usize| format!("From: q{i}@example.org\r\nSubject: quoting {i}\r\n\r\n");
    let bodies = [
        "From here on\r\n",
        "text\r\n\r\nFrom the top\r\n>From quoted\r\n>>From twice\r\n",
        "From \r\nFrom\r\n From indented\r\n",
        "no final line end",
        "last line\r\n\r\nFrom ",
    ];
    let mut v: Vec<Vec<u8>> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| (head(i) + b).into_bytes())
        .collect();
    v.push(b"From: lf@example.org\nSubject: bare LF\n\nFrom lf\n>From lf\n".to_vec());
    v
}

/// Every message the Dovecot tests deliver (pull over STLS and TLS: 6, auth methods: 1,
/// delete: 5, in-use: 1, LIST sizes: 2, OAuth2: 1), and six that test `From ` quoting: 22.
fn the_22_messages() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = (1..=6).map(|i| dovecot_message(i, 2000 * i)).collect();
    v.push(dovecot_message(1, 100));
    v.extend((1..=5).map(|i| dovecot_message(i, 1000)));
    v.push(dovecot_message(1, 100));
    v.push(dovecot_message(1, 3000));
    let lf = String::from_utf8(dovecot_message(2, 3000)).expect("ascii");
    v.push(lf.replace("\r\n", "\n").into_bytes());
    v.push(b"From: a@example.test\r\nSubject: one\r\n\r\nbody\r\n".to_vec());
    v.extend(from_line_messages());
    v
}

/// The messages of `mbox` as Python's `mailbox.mbox` reads them, each written to a file in
/// `dir` (named by its index).
fn python_mbox_messages(mbox: &Path, dir: &Path) -> Vec<Vec<u8>> {
    let script = "import mailbox, sys, os\n\
                  box = mailbox.mbox(sys.argv[1], create=False)\n\
                  for i, key in enumerate(box.keys()):\n\
                  \x20   open(os.path.join(sys.argv[2], '%04d' % i), 'wb').write(box.get_bytes(key))\n\
                  print(len(box))\n";
    let out = run(Command::new("python3")
        .args(["-c", script])
        .arg(mbox)
        .arg(dir));
    assert_code(&out, 0);
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
}

/// mboxrd's un-quoting: one `>` off every `>`*`From ` line.
fn unquote_mboxrd(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    for line in message.split_inclusive(|b| *b == b'\n') {
        let rest = &line[line.iter().take_while(|b| **b == b'>').count()..];
        let quoted = line.first() == Some(&b'>') && rest.starts_with(b"From ");
        out.extend_from_slice(if quoted { &line[1..] } else { line });
    }
    out
}

/// mutt's index of `mbox` (`mutt -R -f MBOX -e 'push q'` on a pseudo-terminal, as it needs
/// one): its exit code and what it drew.
fn mutt_index(mbox: &Path, home: &Path) -> (i32, String) {
    let script = "import os, pty, sys, select, time\n\
                  pid, fd = pty.fork()\n\
                  if pid == 0:\n\
                  \x20   os.environ['TERM'] = 'vt100'\n\
                  \x20   os.execvp('mutt', ['mutt', '-n', '-F', '/dev/null', '-R', '-f', sys.argv[1], '-e', 'push q'])\n\
                  out, deadline = b'', time.time() + 30\n\
                  while time.time() < deadline:\n\
                  \x20   if select.select([fd], [], [], 0.5)[0]:\n\
                  \x20       try:\n\
                  \x20           chunk = os.read(fd, 65536)\n\
                  \x20       except OSError:\n\
                  \x20           break\n\
                  \x20       if not chunk:\n\
                  \x20           break\n\
                  \x20       out += chunk\n\
                  done, status = os.waitpid(pid, os.WNOHANG)\n\
                  if done == 0:\n\
                  \x20   os.kill(pid, 9)\n\
                  \x20   done, status = os.waitpid(pid, 0)\n\
                  sys.stdout.write(out.decode('utf-8', 'replace'))\n\
                  sys.exit(os.waitstatus_to_exitcode(status))\n";
    // mutt asks to create its `folder` (~/Mail) when it is missing.
    std::fs::create_dir_all(home.join("Mail")).expect("mkdir");
    let out = run(Command::new("python3")
        .args(["-c", script])
        .arg(mbox)
        .env("HOME", home));
    (out.status.code().unwrap_or(-1), text(&out).0)
}

#[test]
fn dovecot_mbox_of_the_22_messages_reads_back_byte_exact_through_python() {
    if !interop("dovecot_mbox_of_the_22_messages_reads_back_byte_exact_through_python") {
        return;
    }
    let d = pop3_dovecot::Dovecot::start(false);
    let msgs = the_22_messages();
    assert_eq!(msgs.len(), 22);
    for (i, m) in msgs.iter().enumerate() {
        d.deliver(&format!("{}.M{i}P1.test", 1_700_000_000 + i), m);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("inbox.mbox");
    let eml = dir.path().join("eml");
    for (out, format) in [(&mbox, "mbox"), (&eml, "eml")] {
        let mut cmd = dovecot_cmd(&d, "pull", &d.tls_url());
        cmd.arg("--out").arg(out).args(["--format", format]);
        assert_code(&run(&mut cmd), 0);
    }
    // What Dovecot sent, as the eml store keeps it: the reference.
    let mut want: Vec<Vec<u8>> = std::fs::read_dir(&eml)
        .expect("ls")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| std::fs::read(e.path()).expect("read"))
        .collect();
    assert_eq!(want.len(), 22);
    want.sort();
    let read = dir.path().join("python");
    std::fs::create_dir(&read).expect("mkdir");
    let mut got: Vec<Vec<u8>> = python_mbox_messages(&mbox, &read)
        .iter()
        .map(|m| unquote_mboxrd(m))
        .collect();
    got.sort();
    if got.len() != 22 {
        let kept = dir.keep();
        panic!(
            "Python's mailbox.mbox split {} into {}",
            kept.display(),
            got.len()
        );
    }
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(String::from_utf8_lossy(g), String::from_utf8_lossy(w));
    }
    // mutt opens it read-only and counts every message.
    assert!(
        common::require_peer(
            "dovecot_mbox_of_the_22_messages (mutt)",
            "mutt",
            common::which("mutt").is_some()
        ),
        "interop is on here"
    );
    let (code, screen) = mutt_index(&mbox, dir.path());
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Msgs:22"), "{screen}");
}

#[test]
fn mark_seen_and_forget_find_the_store_through_the_account_s_pop3_out() {
    let server = FakePop3::start(messages(3, 300), Behavior::default());
    let work = tempfile::tempdir().expect("tempdir");
    let store = work.path().join("box");
    let home = home_with_config(&format!(
        "[account.box]\npop3_server = \"{}\"\nuser = \"{USER}\"\npassword_env = \"POP_PW\"\n\
         tls = \"none\"\npop3_out = \"{}\"\npop3_format = \"eml\"\n",
        server.url(),
        store.display()
    ));
    let sub = |args: &[&str]| {
        let mut cmd = in_home(home.path());
        cmd.args(["pop3"])
            .args(args)
            .args(["--account", "box", "--allow-insecure-auth"]);
        run(&mut cmd)
    };
    assert_code(&sub(&["mark-seen"]), 0);
    let out = sub(&["pull", "--json"]);
    assert_code(&out, 0);
    assert!(json_lines(&out).is_empty(), "{:?}", text(&out));
    assert_code(&sub(&["forget", "--all"]), 0);
    let out = sub(&["pull", "--json"]);
    assert_code(&out, 0);
    assert_eq!(with_status(&json_lines(&out), "stored").len(), 3);
    let emls = std::fs::read_dir(&store)
        .expect("ls")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .count();
    assert_eq!(emls, 3, "the account's pop3_format");
    let mut cmd = fake_cmd(&server, "mark-seen");
    assert_code(&run(&mut cmd), 2);
}

#[test]
fn parallel_pulls_accounts_at_once() {
    let slow = Behavior {
        retr_delay: Duration::from_millis(400),
        ..Behavior::default()
    };
    let servers: Vec<FakePop3> = (0..2)
        .map(|_| FakePop3::start(messages(2, 200), slow.clone()))
        .collect();
    let config: String = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "[account.a{i}]\npop3_server = \"{}\"\nuser = \"{USER}\"\n\
                 password_env = \"POP_PW\"\ntls = \"none\"\n",
                s.url()
            )
        })
        .collect();
    let home = home_with_config(&config);
    let timed = |parallel: &str, out: &str| {
        let mut cmd = in_home(home.path());
        cmd.args(["pop3", "pull", "--all-accounts", "--allow-insecure-auth"])
            .args(["--parallel", parallel, "--all", "--out"])
            .arg(home.path().join(out));
        let start = Instant::now();
        let result = run(&mut cmd);
        assert_code(&result, 0);
        start.elapsed()
    };
    let one_by_one = timed("1", "seq");
    let at_once = timed("2", "par");
    assert!(
        one_by_one >= Duration::from_millis(1600),
        "4 RETRs of 400 ms: {one_by_one:?}"
    );
    assert!(
        at_once < one_by_one.mul_f64(0.8),
        "parallel {at_once:?} vs sequential {one_by_one:?}"
    );
}

/// `mark-seen` and `forget` find the state `pull` keeps for an account that delivers to an
/// MDA (`pop3_mda`, no `pop3_out`): after mark-seen the MDA gets nothing; after forget all.
#[test]
fn mark_seen_and_forget_work_for_an_mda_account() {
    let server = FakePop3::start(messages(2, 300), Behavior::default());
    let work = tempfile::tempdir().expect("tempdir");
    let delivered = work.path().join("delivered");
    let config = format!(
        "[account.box]\npop3_server = \"{}\"\nuser = \"{USER}\"\npassword_env = \"POP_PW\"\n\
         tls = \"none\"\npop3_mda = \"cat >> {}\"\n",
        server.url(),
        delivered.display()
    );
    let home = home_with_config(&config);
    let pop3 = |sub: &str, extra: &[&str]| {
        let mut cmd = in_home(home.path());
        cmd.args(["pop3", sub, "--account", "box", "--allow-insecure-auth"])
            .args(extra);
        run(&mut cmd)
    };
    assert_code(&pop3("mark-seen", &[]), 0);
    assert_code(&pop3("pull", &[]), 0);
    assert!(server.retrs(1).is_empty(), "marked seen: nothing retrieved");
    assert!(!delivered.exists());
    assert_code(&pop3("forget", &["--all"]), 0);
    assert_code(&pop3("pull", &[]), 0);
    assert_eq!(server.retrs(2), [1, 2], "forget needs no connection");
    let got = std::fs::read_to_string(&delivered).expect("delivered");
    assert_eq!(got.matches("Subject: ").count(), 2, "{got}");
}
