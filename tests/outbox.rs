//! `postie send --queue`/`--queue-on-failure` and `postie outbox`: the real binary against
//! the in-process SMTP server (tests/support/smtp_fake.rs), which refuses, defers, rejects,
//! hangs up after the final dot, and counts every message it took by Message-ID. The kill
//! test sends SIGKILL to flushes at random points and checks that no message is lost or
//! doubled except the one a flush reports in doubt.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/smtp_fake.rs"]
mod smtp_fake;
#[path = "support/smtp_peers.rs"]
mod smtp_peers;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use common::{postie, run, text};
use smtp_fake::{Behavior, FakeSmtp};

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn assert_code(out: &Output, want: i32) {
    let (o, e) = text(out);
    assert_eq!(code(out), want, "stdout: {o}\nstderr: {e}");
}

/// `postie send` to `url` with the outbox `dir`, for recipient `to`, and `extra` flags.
fn send(dir: &Path, url: &str, to: &str, extra: &[&str]) -> Output {
    let mut cmd = postie();
    cmd.arg("send")
        .stdin(Stdio::null())
        .args([
            "--server",
            url,
            "--tls",
            "none",
            "--from",
            "ann@example.org",
        ])
        .args(["--to", to, "--subject", "queued", "--body", "hello"])
        .arg("--outbox")
        .arg(dir)
        .args(extra);
    run(&mut cmd)
}

fn outbox(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = postie();
    cmd.arg("outbox")
        .args(args)
        .arg("--outbox")
        .arg(dir)
        .stdin(Stdio::null());
    cmd
}

/// `outbox list --json`, one value per entry.
fn list(dir: &Path) -> Vec<serde_json::Value> {
    let out = run(&mut outbox(dir, &["list", "--json"]));
    assert_code(&out, 0);
    text(&out)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Message-ID -> how many times the server took it.
fn delivered(fake: &FakeSmtp) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in &fake.seen().messages {
        let text = String::from_utf8_lossy(m);
        let id = text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("message-id")
                    .then(|| value.trim().to_owned())
            })
            .expect("a Message-ID");
        *counts.entry(id).or_default() += 1;
    }
    counts
}

/// Queues one message to bob; its queue id.
fn queue_one(dir: &Path, url: &str) -> String {
    let out = send(dir, url, "bob@example.org", &["--queue"]);
    assert_code(&out, 0);
    queue_id(&out)
}

fn queue_id(out: &Output) -> String {
    let id = text(out).0.trim().to_owned();
    assert!(!id.is_empty() && !id.contains('\n'), "{out:?}");
    id
}

#[test]
fn queued_while_the_server_refuses_connections_then_flushed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let out = send(dir.path(), &url, "bob@example.org", &["--queue-on-failure"]);
    assert_code(&out, 0);
    let id = queue_id(&out);
    assert!(
        text(&out).1.contains("could not connect"),
        "{}",
        text(&out).1
    );
    assert!(text(&out).1.contains(&format!("queued as {id}")));
    let entries = list(dir.path());
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["id"], id.as_str());
    assert_eq!(entries[0]["state"], "queued");
    assert_eq!(entries[0]["attempts"], 1);
    let message_id = entries[0]["message_id"].as_str().expect("id").to_owned();

    let fake = FakeSmtp::start_on(port, Behavior::default());
    let out = run(&mut outbox(dir.path(), &["flush"]));
    assert_code(&out, 0);
    assert_eq!(text(&out), (String::new(), String::new()), "a quiet flush");
    assert_eq!(delivered(&fake), HashMap::from([(message_id, 1)]));
    assert!(list(dir.path()).is_empty());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_queued_message_is_private_shown_and_dropped_and_sends_nothing_meanwhile() {
    use std::os::unix::fs::PermissionsExt;
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let id = queue_one(dir.path(), &fake.url());
    assert_eq!(fake.seen().connections, 0, "--queue connects to nothing");
    for ext in ["eml", "json"] {
        let path = dir.path().join(format!("{id}.{ext}"));
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    let eml = std::fs::read(dir.path().join(format!("{id}.eml"))).expect("eml");
    let shown = run(&mut outbox(dir.path(), &["show", &id]));
    assert_code(&shown, 0);
    assert!(shown.stdout.ends_with(&eml), "show ends with the message");
    let json = run(&mut outbox(dir.path(), &["show", &id, "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(v["connection"]["server"], fake.url().as_str());
    assert_eq!(v["to"][0], "bob@example.org");
    assert_code(&run(&mut outbox(dir.path(), &["drop", &id])), 0);
    assert!(list(dir.path()).is_empty());
    let again = run(&mut outbox(dir.path(), &["drop", &id]));
    assert_code(&again, 2);
    assert!(text(&again).1.contains("no message"), "{}", text(&again).1);
    let bad = run(&mut outbox(dir.path(), &["show", "../../etc/passwd"]));
    assert_code(&bad, 2);
}

#[test]
fn a_password_only_a_prompt_could_give_is_refused_at_queue_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = send(
        dir.path(),
        "smtps://127.0.0.1:1",
        "bob@example.org",
        &["--queue", "--user", "me"],
    );
    assert_code(&out, 78);
    assert!(text(&out).1.contains("prompt"), "{}", text(&out).1);
    assert!(list(dir.path()).is_empty());
    // A source named by a flag is kept (its name only), not its value.
    let out = send(
        dir.path(),
        "smtps://127.0.0.1:1",
        "bob@example.org",
        &["--queue", "--user", "me", "--password-env", "PW_VAR"],
    );
    assert_code(&out, 0);
    let json = std::fs::read_to_string(dir.path().join(format!("{}.json", queue_id(&out))))
        .expect("record");
    assert!(json.contains("\"password_env\": \"PW_VAR\""), "{json}");
    // AUTH over a connection that will never be encrypted is refused now, not at flush.
    let out = send(
        dir.path(),
        "smtp://127.0.0.1:1",
        "bob@example.org",
        &["--queue", "--user", "me", "--password-env", "PW_VAR"],
    );
    assert_code(&out, 78);
    assert!(text(&out).1.contains("unencrypted"), "{}", text(&out).1);
    assert_eq!(list(dir.path()).len(), 1);
}

#[test]
fn a_4xx_defers_with_backoff_and_next_try() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_code(
        &send(dir.path(), &fake.url(), "later@example.org", &["--queue"]),
        0,
    );
    let out = run(&mut outbox(dir.path(), &["flush"]));
    assert_code(&out, 75);
    assert!(text(&out).1.contains("deferred until"), "{}", text(&out).1);
    let e = &list(dir.path())[0];
    assert_eq!(
        (e["state"].as_str(), e["attempts"].as_u64()),
        (Some("deferred"), Some(1))
    );
    let wait = |e: &serde_json::Value| {
        let t = |k: &str| {
            time::OffsetDateTime::parse(
                e[k].as_str().expect("time"),
                &time::format_description::well_known::Rfc3339,
            )
            .expect("RFC 3339")
            .unix_timestamp()
        };
        t("next_try") - t("updated_at")
    };
    assert!((59..=60).contains(&wait(e)), "{e}");
    assert!(
        e["last_error"].as_str().expect("error").contains("451"),
        "{e}"
    );
    // Not due: a flush now connects to nothing.
    let connections = fake.seen().connections;
    assert_code(&run(&mut outbox(dir.path(), &["flush"])), 0);
    assert_eq!(fake.seen().connections, connections);
    // --now tries again, and the wait doubles.
    assert_code(&run(&mut outbox(dir.path(), &["flush", "--now"])), 75);
    let e = &list(dir.path())[0];
    assert_eq!(e["attempts"], 2);
    assert!((119..=120).contains(&wait(e)), "{e}");
    assert_eq!(fake.seen().messages.len(), 0);
}

#[test]
fn a_5xx_is_kept_aside_with_the_reply_and_queue_on_failure_does_not_queue_it() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = send(
        dir.path(),
        &fake.url(),
        "reject@example.org",
        &["--queue-on-failure"],
    );
    assert_code(&out, 65);
    assert!(
        list(dir.path()).is_empty(),
        "a permanent failure is not queued"
    );
    assert_code(
        &send(dir.path(), &fake.url(), "reject@example.org", &["--queue"]),
        0,
    );
    assert_code(
        &send(dir.path(), &fake.url(), "bob@example.org", &["--queue"]),
        0,
    );
    let out = run(&mut outbox(dir.path(), &["flush", "--json"]));
    assert_code(&out, 65);
    let lines: Vec<serde_json::Value> = text(&out)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines[0]["outcome"], "failed");
    assert_eq!(lines[0]["reply"]["code"], 550);
    assert_eq!(lines[1]["outcome"], "sent");
    let e = &list(dir.path())[0];
    assert_eq!(e["state"], "failed");
    assert_eq!(e["reply"]["code"], 550);
    assert!(
        e["reply"]["text"]
            .as_str()
            .expect("text")
            .contains("no such user")
    );
    // Kept aside: later flushes leave it alone.
    let connections = fake.seen().connections;
    assert_code(&run(&mut outbox(dir.path(), &["flush"])), 0);
    assert_eq!(fake.seen().connections, connections);
    assert_eq!(fake.seen().messages.len(), 1);
    // Asked for by id, it is tried again.
    let id = e["id"].as_str().expect("id");
    assert_code(&run(&mut outbox(dir.path(), &["flush", "--id", id])), 65);
    assert_eq!(fake.seen().connections, connections + 1);
}

#[test]
fn no_reply_after_the_final_dot_is_in_doubt_until_resend_in_doubt() {
    let left = Arc::new(AtomicUsize::new(1));
    let fake = FakeSmtp::start(Behavior {
        hang_up_after_dot: Some(left),
        ..Behavior::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let id = queue_one(dir.path(), &fake.url());
    let out = run(&mut outbox(dir.path(), &["flush"]));
    assert_code(&out, 52);
    assert!(text(&out).1.contains("in doubt"), "{}", text(&out).1);
    assert_eq!(list(dir.path())[0]["state"], "in-doubt");
    // Never sent again silently, not even by id; said each time.
    for args in [&["flush"][..], &["flush", "--now"], &["flush", "--id", &id]] {
        let out = run(&mut outbox(dir.path(), args));
        assert_code(&out, 1);
        assert!(
            text(&out).1.contains("--resend-in-doubt"),
            "{}",
            text(&out).1
        );
    }
    assert_eq!(fake.seen().messages.len(), 1);
    let out = run(&mut outbox(dir.path(), &["flush", "--resend-in-doubt"]));
    assert_code(&out, 0);
    assert_eq!(fake.seen().messages.len(), 2, "sent again, as asked");
    assert!(list(dir.path()).is_empty());
}

#[test]
fn queue_on_failure_keeps_a_message_in_doubt_when_no_reply_came_after_the_dot() {
    let fake = FakeSmtp::start(Behavior {
        hang_up_after_dot: Some(Arc::new(AtomicUsize::new(1))),
        ..Behavior::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let out = send(
        dir.path(),
        &fake.url(),
        "bob@example.org",
        &["--queue-on-failure"],
    );
    assert_code(&out, 52);
    assert!(
        text(&out).1.contains("may have accepted"),
        "{}",
        text(&out).1
    );
    assert_eq!(fake.seen().messages.len(), 1);
    let e = &list(dir.path())[0];
    assert_eq!(
        (e["state"].as_str(), e["attempts"].as_u64()),
        (Some("in-doubt"), Some(1))
    );
    assert_code(&run(&mut outbox(dir.path(), &["flush"])), 1);
    assert_eq!(fake.seen().messages.len(), 1, "not sent again by itself");
}

#[test]
fn two_flushes_started_at_once_send_each_message_once() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = queue_many(dir.path(), &fake.url(), 20);
    let spawn = || {
        outbox(dir.path(), &["flush"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flush")
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        assert_code(&child.wait_with_output().expect("wait"), 0);
    }
    let got = delivered(&fake);
    assert_eq!(got.len(), ids.len());
    assert!(got.values().all(|&n| n == 1), "{got:?}");
}

/// Queues `n` messages and returns their Message-IDs, in queue order.
fn queue_many(dir: &Path, url: &str, n: usize) -> Vec<String> {
    for i in 0..n {
        let out = send(dir, url, &format!("r{i}@example.org"), &["--queue"]);
        assert_code(&out, 0);
    }
    list(dir)
        .iter()
        .map(|e| e["message_id"].as_str().expect("message id").to_owned())
        .collect()
}

/// A small xorshift generator: the seed is printed, so a failing round can be replayed
/// (POSTIE_KILL_SEED).
fn rng() -> impl FnMut() -> u64 {
    let seed = std::env::var("POSTIE_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("kill test seed: {seed} (POSTIE_KILL_SEED={seed} replays it)");
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[test]
fn flushes_killed_at_random_points_lose_and_double_nothing_but_the_in_doubt_one() {
    let fake = FakeSmtp::start(Behavior {
        // A reply that takes a moment widens the window between the dot and the reply.
        // 10 ms: 100 messages take over a second, so the first kill lands mid-flush even
        // on a fast machine (at 2 ms a flush could end before its kill).
        slow_data: Some(Duration::from_millis(10)),
        ..Behavior::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = queue_many(dir.path(), &fake.url(), 100);
    let mut next = rng();
    let started = Instant::now();
    let rounds = 6;
    let mut mid_flush = 0;
    for _ in 0..rounds {
        let mut child = outbox(dir.path(), &["flush"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("flush");
        std::thread::sleep(Duration::from_millis(10 + next() % 300));
        if child.try_wait().expect("status").is_none() {
            mid_flush += 1;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }
    let in_doubt: Vec<String> = list(dir.path())
        .iter()
        .filter(|e| e["state"] == "in-doubt")
        .map(|e| e["message_id"].as_str().expect("id").to_owned())
        .collect();
    assert!(
        in_doubt.len() <= rounds,
        "at most one per kill: {in_doubt:?}"
    );
    assert!(mid_flush > 0, "no kill landed during a flush");
    let before = fake.seen().messages.len();
    assert!(
        before > 0 && before < ids.len(),
        "the kills left {before} of 100 sent"
    );
    let out = run(&mut outbox(dir.path(), &["flush"]));
    let want = if in_doubt.is_empty() { 0 } else { 1 };
    assert_code(&out, want);
    let got = delivered(&fake);
    for id in &ids {
        let n = got.get(id).copied().unwrap_or(0);
        if in_doubt.contains(id) {
            assert!(n <= 1, "{id}: in doubt, delivered {n} times");
        } else {
            assert_eq!(n, 1, "{id}: delivered {n} times");
        }
    }
    assert_eq!(
        got.len() + in_doubt.iter().filter(|i| !got.contains_key(*i)).count(),
        ids.len()
    );
    // What is left is exactly the in-doubt ones; resent on request.
    assert_eq!(list(dir.path()).len(), in_doubt.len());
    assert_code(
        &run(&mut outbox(dir.path(), &["flush", "--resend-in-doubt"])),
        0,
    );
    let got = delivered(&fake);
    assert!(
        ids.iter()
            .all(|id| got.get(id).is_some_and(|&n| (1..=2).contains(&n)))
    );
    assert!(list(dir.path()).is_empty());
    eprintln!(
        "kill test: {rounds} kills, {} in doubt, {:?}",
        in_doubt.len(),
        started.elapsed()
    );
}

#[test]
fn a_flush_killed_between_the_final_dot_and_the_reply_leaves_it_in_doubt() {
    let fake = FakeSmtp::start(Behavior {
        slow_data: Some(Duration::from_secs(2)),
        ..Behavior::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let id = queue_one(dir.path(), &fake.url());
    let record = dir.path().join(format!("{id}.json"));
    let mut child = outbox(dir.path(), &["flush"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flush");
    // The record says in-doubt before the dot leaves; the server holds its reply.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&record)
        .unwrap_or_default()
        .contains("\"in-doubt\"")
    {
        assert!(Instant::now() < deadline, "never journaled in-doubt");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The dot leaves right after the record is written; the reply takes 2 s.
    std::thread::sleep(Duration::from_millis(100));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    // The server (almost surely) took it after all.
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.seen().messages.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let taken = fake.seen().messages.len();
    let e = &list(dir.path())[0];
    assert_eq!(e["state"], "in-doubt");
    let out = run(&mut outbox(dir.path(), &["flush"]));
    assert_code(&out, 1);
    assert!(text(&out).1.contains(&id), "{}", text(&out).1);
    assert_eq!(fake.seen().messages.len(), taken, "never re-sent silently");
}

// ---- aiosmtpd (interop) --------------------------------------------------------------

#[test]
fn aiosmtpd_gets_the_queued_bytes_with_the_password_read_at_flush_time() {
    let test = "aiosmtpd_gets_the_queued_bytes_with_the_password_read_at_flush_time";
    let have = smtp_peers::sink_python().is_some() && common::which("openssl").is_some();
    if !common::require_peer(test, "aiosmtpd (venv) and openssl", have) {
        return;
    }
    let certs = smtp_peers::Certs::make();
    let sink = smtp_peers::Sink::start(
        "starttls",
        Some((&certs.cert, &certs.key)),
        Some("ann:pw-1"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_dir = certs.ca.parent().expect("the CA's folder");
    let ca_name = certs.ca.file_name().expect("the CA's name");
    // Queued from the CA's folder with a relative --cacert and PW unset: no secret is read.
    let mut cmd = postie();
    cmd.current_dir(ca_dir)
        .arg("send")
        .stdin(Stdio::null())
        .args([
            "--server",
            &sink.url("smtp"),
            "--user",
            "ann",
            "--password-env",
            "PW",
        ])
        .arg("--cacert")
        .arg(ca_name)
        .args([
            "--from",
            "ann@example.org",
            "--to",
            "bob@example.org",
            "--bcc",
            "cc@example.org",
        ])
        .args([
            "--subject",
            "later",
            "--body",
            "queued\n.dot line\n",
            "--queue",
            "--outbox",
        ])
        .arg(dir.path());
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let id = queue_id(&out);
    let eml = std::fs::read(dir.path().join(format!("{id}.eml"))).expect("eml");
    let record = std::fs::read_to_string(dir.path().join(format!("{id}.json"))).expect("json");
    assert!(!record.contains("pw-1"));
    // Flushed from elsewhere, the password read from the environment now.
    let out = run(outbox(dir.path(), &["flush"])
        .current_dir("/")
        .env("PW", "pw-1"));
    assert_code(&out, 0);
    let stored = sink.stored();
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    assert!(s.tls);
    assert_eq!(s.auth.as_deref(), Some("ann"));
    assert_eq!(s.rcpt_tos, ["bob@example.org", "cc@example.org"]);
    assert_eq!(s.bytes(), eml, "the queued bytes, byte for byte");
}

/// Issue 18 with the outbox: a prepared message handed over sendmail-style (cron's
/// `sendmail -t -oi` through `--sendmail-args`) is queued while the server is down and sent
/// once by the next flush, byte for byte apart from CRLF.
#[test]
fn a_sendmail_style_message_is_queued_on_failure_and_flushed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let message = "From: ann@example.org\nTo: bob@example.org\nSubject: cron\n\
Date: Thu, 03 Dec 2026 21:00:00 +0000\nMessage-ID: <cron-1@example.org>\n\n.dot line\nbody\n";
    let file = dir.path().join("cron.eml");
    std::fs::write(&file, message).expect("write message");
    let outbox_dir = dir.path().join("outbox");
    let mut cmd = postie();
    cmd.arg("send")
        .args(["--server", &url, "--tls", "none", "--queue-on-failure"])
        .arg("--outbox")
        .arg(&outbox_dir)
        .args(["--sendmail-args", "-t", "-oi", "-f", "ann@example.org"])
        .stdin(std::fs::File::open(&file).expect("open message"));
    let out = run(&mut cmd);
    assert_code(&out, 0);
    let id = queue_id(&out);
    assert!(
        text(&out).1.contains(&format!("queued as {id}")),
        "{}",
        text(&out).1
    );
    assert_eq!(list(&outbox_dir).len(), 1);

    let fake = FakeSmtp::start_on(port, Behavior::default());
    let out = run(&mut outbox(&outbox_dir, &["flush"]));
    assert_code(&out, 0);
    assert_eq!(
        delivered(&fake),
        HashMap::from([("<cron-1@example.org>".to_owned(), 1)])
    );
    assert!(list(&outbox_dir).is_empty());
}
