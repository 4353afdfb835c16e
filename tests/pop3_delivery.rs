//! `postie pop3` delivery beyond a store (issue 20): `pull --mda`, `--filter`, retention
//! (`--delete-after` with a clock set through `POSTIE_TEST_NOW`, `--delete-larger-than`),
//! `capa` without a user and `serverinfo`. Against the in-process server always; with
//! POSTIE_INTEROP=1 against Debian's procmail and mpop and Dovecot.

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

use std::path::Path;
use std::process::{Command, Output};

use common::{postie, run, text};
use pop3_cli::{assert_code, dovecot_cmd, fake_cmd, json_lines};
use pop3_server::{Behavior, FakePop3, sample_message};

fn messages(n: usize) -> Vec<(String, Vec<u8>)> {
    (1..=n)
        .map(|i| (format!("uid-{i:04}"), sample_message(i, 300 * i)))
        .collect()
}

/// `pull --mda CMD --state DIR/state --json` plus `extra`.
fn pull_mda(server: &FakePop3, dir: &Path, mda: &str, extra: &[&str]) -> Output {
    let mut cmd = fake_cmd(server, "pull");
    cmd.args(["--mda", mda, "--json", "--state"])
        .arg(dir.join("state"))
        .args(extra);
    run(&mut cmd)
}

fn with_status(lines: &[serde_json::Value], status: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["status"] == status)
        .map(|l| l["uidl"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// An MDA that stores each message it gets in `box/` (a new file each), notes `%F` in
/// `senders`, and exits with `code` for a message whose header has `X-Mda: CODE`.
fn mda_script(dir: &Path) -> String {
    let b = dir.join("box");
    std::fs::create_dir_all(&b).expect("mkdir");
    format!(
        "t=$(mktemp '{d}/in.XXXXXX') && cat > \"$t\" && \
         c=$(sed -n 's/^X-Mda: //p' \"$t\" | head -n1) && \
         if [ -n \"$c\" ]; then rm -f \"$t\"; exit \"$c\"; fi; \
         echo '%F' >> '{d}/senders' && mv \"$t\" '{b}/'",
        d = dir.display(),
        b = b.display()
    )
}

fn delivered(dir: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir.join("box"))
        .expect("box")
        .flatten()
        .map(|e| std::fs::read(e.path()).expect("read"))
        .collect();
    v.sort();
    v
}

fn lf(raw: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(raw)
        .replace("\r\n", "\n")
        .into_bytes()
}

fn with_header(i: usize, header: &str) -> Vec<u8> {
    let mut m = header.as_bytes().to_vec();
    m.extend_from_slice(&sample_message(i, 300));
    m
}

#[test]
fn mda_exit_0_delivers_each_message_once_then_deletes() {
    let msgs = messages(3);
    let mut first = msgs[0].1.clone();
    first.splice(
        0..0,
        b"Return-Path: <bounce+x$(id)@lists.example.org>\r\n"
            .iter()
            .copied(),
    );
    let mut msgs = msgs;
    msgs[0].1 = first;
    let server = FakePop3::start(msgs.clone(), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pull_mda(&server, dir.path(), &mda_script(dir.path()), &[]);
    assert_code(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(with_status(&lines, "stored").len(), 3);
    assert!(lines.iter().all(|l| l["path"].is_null()), "{lines:?}");
    let mut want: Vec<Vec<u8>> = msgs.iter().map(|(_, m)| lf(m)).collect();
    want.sort();
    assert_eq!(delivered(dir.path()), want, "LF line ends, nothing added");
    let senders = std::fs::read_to_string(dir.path().join("senders")).expect("senders");
    let mut senders: Vec<&str> = senders.lines().collect();
    senders.sort();
    assert_eq!(
        senders,
        [
            "MAILER-DAEMON",
            "MAILER-DAEMON",
            "bounce+x_@lists.example.org"
        ],
        "%F from Return-Path as mpop reads it: the comment dropped, `$` made `_`"
    );
    assert_eq!(server.remaining(), 3, "kept without --delete");
    // Recorded: with --delete the next run deletes them without retrieving them again.
    let out = pull_mda(&server, dir.path(), &mda_script(dir.path()), &["--delete"]);
    assert_code(&out, 0);
    assert_eq!(with_status(&json_lines(&out), "deleted").len(), 3);
    assert_eq!(server.retrs(1), Vec::<u32>::new(), "not retrieved again");
    assert_eq!(delivered(dir.path()).len(), 3);
    assert_eq!(server.remaining(), 0);
}

/// A server with uid-a, uid-b, uid-c, where [`mda_script`] exits `code` for uid-b; and a
/// folder for the MDA's mailbox and the state.
fn mda_fails_on_the_second(code: u8) -> (FakePop3, tempfile::TempDir) {
    let msgs = vec![
        ("uid-a".to_owned(), sample_message(1, 300)),
        (
            "uid-b".to_owned(),
            with_header(2, &format!("X-Mda: {code}\r\n")),
        ),
        ("uid-c".to_owned(), sample_message(3, 300)),
    ];
    let server = FakePop3::start(msgs, Behavior::default());
    (server, tempfile::tempdir().expect("tempdir"))
}

/// The MDA works for uid-b now: pull again with `--delete`; exit 0.
fn pull_again_fixed(server: &FakePop3, dir: &Path) {
    server.mailbox.lock().expect("lock")[1].raw = sample_message(2, 300);
    let out = pull_mda(server, dir, &mda_script(dir), &["--delete"]);
    assert_code(&out, 0);
}

#[test]
fn mda_exit_75_keeps_the_message_for_the_next_run() {
    let (server, dir) = mda_fails_on_the_second(75);
    let out = pull_mda(&server, dir.path(), &mda_script(dir.path()), &["--delete"]);
    assert_code(&out, 75);
    let lines = json_lines(&out);
    assert_eq!(with_status(&lines, "stored"), ["uid-a", "uid-c"]);
    assert_eq!(with_status(&lines, "deferred"), ["uid-b"]);
    assert_eq!(with_status(&lines, "deleted"), ["uid-a", "uid-c"]);
    assert_eq!(delivered(dir.path()).len(), 2);
    assert_eq!(
        server.remaining(),
        1,
        "the deferred message stays on the server"
    );
    // The MDA works again: only the deferred message is retrieved, and delivered once.
    pull_again_fixed(&server, dir.path());
    assert_eq!(server.retrs(1), vec![2]);
    assert_eq!(delivered(dir.path()).len(), 3);
    assert_eq!(server.remaining(), 0);
}

#[test]
fn another_mda_failure_stops_the_run_and_loses_nothing() {
    let (server, dir) = mda_fails_on_the_second(67);
    let out = pull_mda(&server, dir.path(), &mda_script(dir.path()), &["--delete"]);
    assert_code(&out, 23);
    let (_, err) = text(&out);
    assert!(err.contains("--mda") && err.contains("exited 67"), "{err}");
    assert_eq!(
        delivered(dir.path()).len(),
        1,
        "the run stopped at the failure"
    );
    assert_eq!(server.remaining(), 3, "no QUIT: nothing deleted");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files removed: {leftovers:?}"
    );
    // Fixed: the first message is deleted without a download, the others delivered once.
    pull_again_fixed(&server, dir.path());
    assert_eq!(server.retrs(1), vec![2, 3]);
    assert_eq!(delivered(dir.path()).len(), 3);
    assert_eq!(server.remaining(), 0);
}

#[test]
fn filter_exit_codes_deliver_kill_and_skip() {
    let msgs = vec![
        ("uid-a".to_owned(), with_header(1, "X-Verdict: 0\r\n")),
        ("uid-b".to_owned(), with_header(2, "X-Verdict: 1\r\n")),
        ("uid-c".to_owned(), with_header(3, "X-Verdict: 2\r\n")),
        ("uid-big".to_owned(), sample_message(4, 5000)),
    ];
    let server = FakePop3::start(msgs, Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let seen = dir.path().join("seen");
    let filter = format!(
        "h=$(cat); echo \"%F %S\" >> '{}'; exit $(printf '%s\\n' \"$h\" | sed -n 's/^X-Verdict: //p')",
        seen.display()
    );
    let mut cmd = fake_cmd(&server, "pull");
    cmd.arg("--out").arg(dir.path().join("mail"));
    cmd.args([
        "--filter",
        &filter,
        "--delete",
        "--json",
        "--max-size",
        "2K",
    ]);
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(with_status(&lines, "stored"), ["uid-a"]);
    assert_eq!(
        with_status(&lines, "skipped"),
        ["uid-b", "uid-c", "uid-big"]
    );
    let reasons: Vec<_> = lines.iter().map(|l| l["reason"].clone()).collect();
    assert!(reasons.contains(&"filter-kill".into()) && reasons.contains(&"filter-skip".into()));
    let mut deleted = with_status(&lines, "deleted");
    deleted.sort();
    assert_eq!(deleted, ["uid-a", "uid-b"], "killed with --delete");
    let cmds = &server.sessions()[0];
    assert!(cmds.contains(&"TOP 2 0".to_owned()), "{cmds:?}");
    assert!(
        !cmds.contains(&"TOP 4 0".to_owned()),
        "--max-size first: {cmds:?}"
    );
    assert_eq!(server.retrs(0), vec![1]);
    let seen = std::fs::read_to_string(&seen).expect("seen");
    assert!(seen.starts_with("MAILER-DAEMON "), "{seen}");
    // The skipped message is still there, asked about again next run; a filter that
    // fails (exit 3) stops the run and keeps it.
    assert_eq!(server.remaining(), 2, "the skipped one and the big one");
    let mut cmd = fake_cmd(&server, "pull");
    cmd.arg("--out").arg(dir.path().join("mail"));
    cmd.args(["--filter", "cat >/dev/null; exit 3", "--delete"]);
    let out = run(&mut cmd);
    assert_code(&out, 23);
    assert!(text(&out).1.contains("exited 3"), "{}", text(&out).1);
    assert_eq!(server.remaining(), 2);
}

/// `pull --out DIR --json` at the time `now` (Unix seconds) plus `extra`.
fn pull_at(server: &FakePop3, out: &Path, now: u64, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut cmd = fake_cmd(server, "pull");
    cmd.arg("--out").arg(out).arg("--json").args(extra);
    cmd.env("POSTIE_TEST_NOW", now.to_string());
    let o = run(&mut cmd);
    assert_code(&o, 0);
    json_lines(&o)
}

#[test]
fn delete_after_counts_days_from_the_recorded_retrieval() {
    const DAY: u64 = 86_400;
    let t0 = 1_800_000_000;
    let server = FakePop3::start(messages(2), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mail");
    let lines = pull_at(&server, &out, t0, &["--delete-after", "14"]);
    assert_eq!(with_status(&lines, "stored").len(), 2);
    assert!(with_status(&lines, "deleted").is_empty());
    // A third message arrives on day 10 and is retrieved then.
    server
        .mailbox
        .lock()
        .expect("lock")
        .push(pop3_server::Message {
            uidl: "uid-0003".into(),
            raw: sample_message(3, 300),
            deleted: false,
        });
    let lines = pull_at(&server, &out, t0 + 10 * DAY, &["--delete-after", "14"]);
    assert_eq!(with_status(&lines, "stored"), ["uid-0003"]);
    assert!(with_status(&lines, "deleted").is_empty());
    let lines = pull_at(&server, &out, t0 + 14 * DAY - 1, &["--delete-after", "14"]);
    assert!(with_status(&lines, "deleted").is_empty(), "not yet 14 days");
    let lines = pull_at(&server, &out, t0 + 14 * DAY, &["--delete-after", "14"]);
    assert_eq!(with_status(&lines, "deleted"), ["uid-0001", "uid-0002"]);
    assert!(
        lines.iter().all(|l| l["reason"] == "delete-after"),
        "{lines:?}"
    );
    assert_eq!(server.remaining(), 1);
    let lines = pull_at(&server, &out, t0 + 24 * DAY, &["--delete-after", "14"]);
    assert_eq!(with_status(&lines, "deleted"), ["uid-0003"]);
    assert_eq!(server.remaining(), 0);
    let retrieved: usize = (0..5).map(|i| server.retrs(i).len()).sum();
    assert_eq!(retrieved, 3, "each message retrieved once");
}

#[test]
fn an_old_state_file_counts_as_retrieved_at_first_sight() {
    let t0 = 1_800_000_000;
    let server = FakePop3::start(messages(1), Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mail");
    pull_at(&server, &out, t0, &[]);
    let state = std::fs::read_dir(&out)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "state"))
        .expect("state file");
    // Rewritten as an older postie wrote it: no times.
    let v3 = std::fs::read_to_string(&state).expect("read");
    let v2: String = v3
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.rsplit_once(' ') {
            Some((head, _)) if l != "." => format!("{head}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&state, v2).expect("write");
    let mut cmd = fake_cmd(&server, "pull");
    cmd.arg("--out").arg(&out).args(["--delete-after", "1"]);
    cmd.env("POSTIE_TEST_NOW", (t0 + 100 * 86_400).to_string());
    let o = run(&mut cmd);
    assert_code(&o, 0);
    assert!(
        text(&o).1.contains("count as retrieved now"),
        "{}",
        text(&o).1
    );
    assert_eq!(server.remaining(), 1, "first sight is now: not deleted");
    let lines = pull_at(&server, &out, t0 + 101 * 86_400, &["--delete-after", "1"]);
    assert_eq!(with_status(&lines, "deleted"), ["uid-0001"]);
}

#[test]
fn delete_larger_than_deletes_only_big_messages_once_stored() {
    let msgs = vec![
        ("small".to_owned(), sample_message(1, 200)),
        ("big".to_owned(), sample_message(2, 5000)),
    ];
    let server = FakePop3::start(msgs, Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mail");
    let lines = pull_at(
        &server,
        &out,
        1_800_000_000,
        &["--delete-larger-than", "1K"],
    );
    assert_eq!(with_status(&lines, "stored"), ["small", "big"]);
    assert_eq!(with_status(&lines, "deleted"), ["big"]);
    assert_eq!(lines.last().expect("line")["reason"], "delete-larger-than");
    assert_eq!(server.remaining(), 1);
    assert_eq!(std::fs::read_dir(out.join("new")).expect("ls").count(), 2);
    // Refused with --delete or --keep: they say something else.
    let mut cmd = fake_cmd(&server, "pull");
    cmd.arg("--out")
        .arg(&out)
        .args(["--delete-larger-than", "1K", "--keep"]);
    assert_code(&run(&mut cmd), 2);
}

/// `postie pop3 SUB --server URL --tls none` with no user, plus `extra`.
fn anonymous(server: &FakePop3, sub: &str, extra: &[&str]) -> Output {
    let mut cmd = postie();
    cmd.args(["pop3", sub, "--server", &server.url(), "--tls", "none"]);
    let out = run(cmd.args(extra));
    assert_code(&out, 0);
    out
}

#[test]
fn capa_and_serverinfo_need_no_user() {
    let server = FakePop3::start(messages(1), Behavior::default());
    let out = anonymous(&server, "capa", &[]);
    assert!(text(&out).0.contains("UIDL\n"), "{}", text(&out).0);
    let (o, _) = text(&anonymous(&server, "serverinfo", &[]));
    let greeting = "Greeting: fake POP3 ready <4242.1@fake>\n";
    assert!(o.contains(greeting), "{o}");
    assert!(o.contains("TLS: none\n") && o.contains("    TOP\n"), "{o}");
    let out = anonymous(&server, "serverinfo", &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&text(&out).0).expect("json");
    assert_eq!(v["capabilities"][0], "TOP");
    assert!(v["tls"].is_null() && v["certificate"].is_null(), "{v}");
    for session in server.sessions() {
        assert!(
            !session
                .iter()
                .any(|c| c.starts_with("USER") || c.starts_with("AUTH")),
            "never logs in: {session:?}"
        );
    }
}

// ---- interop: procmail, mpop and Dovecot ----

fn dovecot_interop(test: &str) -> bool {
    common::require_peer(test, "dovecot", pop3_dovecot::available())
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A procmailrc delivering to the mbox `DIR/mbox`, or exiting 75 for a message with
/// `X-Defer: yes` (procmail's EXITCODE).
fn procmailrc(dir: &Path) -> std::path::PathBuf {
    let rc = dir.join("procmailrc");
    let text = format!(
        "MAILDIR={d}\nDEFAULT={d}/mbox\nLOGFILE={d}/procmail.log\nLOCKFILE={d}/.lock\n\
         :0\n* ^X-Defer: yes\n{{\n  EXITCODE=75\n  HOST\n}}\n",
        d = dir.display()
    );
    std::fs::write(&rc, text).expect("rc");
    rc
}

#[test]
fn procmail_delivers_through_mda_and_exit_75_is_kept() {
    if !dovecot_interop("procmail_delivers_through_mda_and_exit_75_is_kept") {
        return;
    }
    assert!(common::require_peer(
        "procmail",
        "procmail",
        which("procmail")
    ));
    let d = pop3_dovecot::Dovecot::start(false);
    d.deliver("1700000001.M1P1.test", &sample_message(1, 2000));
    d.deliver("1700000002.M2P1.test", &with_header(2, "X-Defer: yes\r\n"));
    let mut with_rp = b"Return-Path: <list-bounces@example.org>\r\n".to_vec();
    with_rp.extend_from_slice(&sample_message(3, 3000));
    d.deliver("1700000003.M3P1.test", &with_rp);
    let dir = tempfile::tempdir().expect("tempdir");
    let rc = procmailrc(dir.path());
    let mda = format!("procmail -f '%F' -m '{}'", rc.display());
    let mut cmd = dovecot_cmd(&d, "pull", &d.plain_url());
    cmd.args(["--mda", &mda, "--delete", "--json", "--state"])
        .arg(dir.path().join("state"));
    let out = run(&mut cmd);
    assert_code(&out, 75);
    let lines = json_lines(&out);
    assert_eq!(with_status(&lines, "stored").len(), 2, "{lines:?}");
    assert_eq!(with_status(&lines, "deferred").len(), 1, "{lines:?}");
    assert_eq!(d.count(), 1, "only the deferred message is left");
    let mbox = std::fs::read_to_string(dir.path().join("mbox")).expect("mbox");
    assert_eq!(mbox.matches("\nSubject: message ").count(), 2, "{mbox}");
    assert!(mbox.starts_with("From ") && !mbox.contains('\r'), "{mbox}");
    assert!(
        mbox.contains("From list-bounces@example.org "),
        "procmail -f '%F': {mbox}"
    );
    // Next run without the deferral: delivered once more, nothing doubled.
    std::fs::write(&rc, procmailrc_plain(dir.path())).expect("rc");
    let out = run(&mut {
        let mut c = dovecot_cmd(&d, "pull", &d.plain_url());
        c.args(["--mda", &mda, "--delete", "--state"])
            .arg(dir.path().join("state"));
        c
    });
    assert_code(&out, 0);
    let mbox = std::fs::read_to_string(dir.path().join("mbox")).expect("mbox");
    assert_eq!(mbox.matches("\nSubject: message ").count(), 3, "{mbox}");
    assert_eq!(d.count(), 0);
}

fn procmailrc_plain(dir: &Path) -> String {
    format!(
        "MAILDIR={d}\nDEFAULT={d}/mbox\nLOGFILE={d}/procmail.log\n",
        d = dir.display()
    )
}

#[test]
fn a_shell_script_filter_against_dovecot() {
    if !dovecot_interop("a_shell_script_filter_against_dovecot") {
        return;
    }
    let d = pop3_dovecot::Dovecot::start(false);
    d.deliver("1700000001.M1P1.test", &sample_message(1, 2000));
    d.deliver(
        "1700000002.M2P1.test",
        &with_header(2, "X-Spam-Flag: YES\r\n"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("filter.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n# mpop's convention: 0 deliver, 1 kill, 2 skip\n\
         if grep -q '^X-Spam-Flag: YES'; then exit 1; fi\nexit 0\n",
    )
    .expect("script");
    let mut cmd = dovecot_cmd(&d, "pull", &d.plain_url());
    cmd.arg("--out").arg(dir.path().join("mail"));
    cmd.args(["--delete", "--json", "--filter"])
        .arg(format!("sh '{}'", script.display()));
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(with_status(&lines, "stored").len(), 1, "{lines:?}");
    assert_eq!(with_status(&lines, "deleted").len(), 2, "{lines:?}");
    assert_eq!(d.count(), 0);
    let stored = std::fs::read_dir(dir.path().join("mail/new"))
        .expect("ls")
        .count();
    assert_eq!(stored, 1);
}

#[test]
fn mpop_serverinfo_and_postie_serverinfo_agree_on_capabilities() {
    if !dovecot_interop("mpop_serverinfo_and_postie_serverinfo_agree_on_capabilities") {
        return;
    }
    assert!(common::require_peer("mpop", "mpop", which("mpop")));
    let d = pop3_dovecot::Dovecot::start(false);
    // Implicit TLS for both: the capabilities of the session (no STLS on either list).
    let port = d.tls_url().rsplit(':').next().expect("port").to_owned();
    let mpop = Command::new("mpop")
        .args([
            "--serverinfo",
            "--host=127.0.0.1",
            &format!("--port={port}"),
        ])
        .args(["--tls=on", "--tls-starttls=off"])
        .arg(format!("--tls-trust-file={}", d.ca().display()))
        .env("HOME", "/nonexistent")
        .output()
        .expect("mpop runs");
    let mpop_out = String::from_utf8_lossy(&mpop.stdout).into_owned();
    assert!(
        mpop.status.success(),
        "{mpop_out}{}",
        String::from_utf8_lossy(&mpop.stderr)
    );
    let mut cmd = postie();
    cmd.args([
        "pop3",
        "serverinfo",
        "--server",
        &d.tls_url(),
        "--json",
        "--cacert",
    ])
    .arg(d.ca());
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&text(&out).0).expect("json");
    let caps: Vec<String> = v["capabilities"]
        .as_array()
        .expect("caps")
        .iter()
        .map(|c| c.as_str().unwrap_or("").to_ascii_uppercase())
        .collect();
    // mpop prints a `    NAME:` line per capability and folds USER and
    // SASL into one AUTH list.
    let mpop_caps: std::collections::BTreeSet<String> = mpop_out
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .filter_map(|l| l.trim().strip_suffix(':'))
        .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '-'))
        .map(str::to_owned)
        .collect();
    let postie_caps: std::collections::BTreeSet<String> = caps
        .iter()
        .filter_map(|c| c.split(' ').next())
        .map(|name| match name {
            "SASL" | "USER" => "AUTH".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    assert_eq!(postie_caps, mpop_caps, "postie {caps:?}\nmpop:\n{mpop_out}");
    let methods = mpop_out
        .lines()
        .skip_while(|l| !l.contains("Supported authentication methods"))
        .nth(1)
        .expect("mpop's AUTH methods");
    let sasl = caps.iter().find(|c| c.starts_with("SASL ")).expect("SASL");
    for mech in sasl.split(' ').skip(1).chain(["USER"]) {
        assert!(
            methods.split_whitespace().any(|m| m == mech),
            "{mech}: {methods}"
        );
    }
    assert_eq!(
        v["tls"].as_str().map(|t| t.starts_with("TLSv1")),
        Some(true),
        "{v}"
    );
    let fp = v["certificate"]["sha256_fingerprint"]
        .as_str()
        .expect("fingerprint");
    assert!(
        mpop_out.contains(fp),
        "mpop shows the same fingerprint {fp}: {mpop_out}"
    );
}

#[test]
fn mda_gets_what_mpop_gives_its_mda_with_the_same_envelope_sender() {
    if !dovecot_interop("mda_gets_what_mpop_gives_its_mda_with_the_same_envelope_sender") {
        return;
    }
    assert!(common::require_peer("mpop", "mpop", which("mpop")));
    let d = pop3_dovecot::Dovecot::start(false);
    let mut odd = b"Return-Path: <\"odd; $(x)\"@example.org>\r\n".to_vec();
    odd.extend_from_slice(&sample_message(1, 1500));
    let mut bounce = b"Return-Path: <>\r\n".to_vec();
    bounce.extend_from_slice(&sample_message(2, 800));
    d.deliver("1700000001.M1P1.test", &odd);
    d.deliver("1700000002.M2P1.test", &bounce);
    d.deliver("1700000003.M3P1.test", &sample_message(3, 900));
    let dir = tempfile::tempdir().expect("tempdir");
    // Each message goes to a file named by its Message-ID's number, with %F on top.
    let mda = |who: &str| {
        let out = dir.path().join(who);
        std::fs::create_dir_all(&out).expect("mkdir");
        format!(
            "t=$(mktemp) && cat > \"$t\" && n=$(sed -n 's/^Message-ID: <\\([0-9]*\\)@.*/\\1/p' \"$t\") \
             && {{ echo '%F'; cat \"$t\"; }} > '{}/'\"$n\" && rm -f \"$t\"",
            out.display()
        )
    };
    let port = d.tls_url().rsplit(':').next().expect("port").to_owned();
    let mpop = Command::new("mpop")
        .args(["--host=127.0.0.1", &format!("--port={port}")])
        .args([
            "--tls=on",
            "--tls-starttls=off",
            "--keep=on",
            "--received-header=off",
        ])
        .arg(format!("--tls-trust-file={}", d.ca().display()))
        .arg(format!("--user={}", pop3_dovecot::USER))
        .arg(format!("--passwordeval=echo '{}'", pop3_dovecot::PASS))
        .arg(format!(
            "--uidls-file={}",
            dir.path().join("uidls").display()
        ))
        .arg(format!("--delivery=mda,{}", mda("mpop")))
        .env("HOME", dir.path())
        .output()
        .expect("mpop runs");
    assert!(
        mpop.status.success(),
        "{}",
        String::from_utf8_lossy(&mpop.stderr)
    );
    let mut cmd = dovecot_cmd(&d, "pull", &d.tls_url());
    cmd.args(["--mda", &mda("postie"), "--state"])
        .arg(dir.path().join("state"));
    assert_code(&run(&mut cmd), 0);
    for n in ["1", "2", "3"] {
        let theirs = std::fs::read(dir.path().join("mpop").join(n)).expect("mpop's");
        let ours = std::fs::read(dir.path().join("postie").join(n)).expect("postie's");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "message {n}: the same %F line and the same bytes as mpop's MDA gets"
        );
    }
}
