//! `postie send` end to end: the binary against an in-process misbehaving server (plain
//! `cargo test`), against the aiosmtpd sink and against Postfix (POSTIE_INTEROP=1).

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/smtp_fake.rs"]
mod smtp_fake;
#[path = "support/smtp_mime.rs"]
mod smtp_mime;
#[path = "support/smtp_peers.rs"]
mod smtp_peers;
#[path = "support/smtp_postfix.rs"]
mod smtp_postfix;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{postie, require_peer, run, run_with_stdin, text};
use mail_parser::{MessageParser, MimeHeaders};
use smtp_fake::{Behavior, FakeSmtp};
use smtp_peers::{Certs, Sink, sink_python};

fn send() -> Command {
    let mut cmd = postie();
    cmd.arg("send").stdin(Stdio::null());
    cmd
}

fn basic(cmd: &mut Command) -> &mut Command {
    cmd.args([
        "--from",
        "Ann <ann@example.org>",
        "--to",
        "bob@example.org",
        "--subject",
        "hi",
        "--body",
        "hello",
    ])
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn assert_code(out: &Output, want: i32) {
    let (o, e) = text(out);
    assert_eq!(code(out), want, "stdout: {o}\nstderr: {e}");
}

// ---- no network at all -------------------------------------------------------------

#[test]
fn dry_run_prints_the_message_and_connects_to_nothing() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let att = dir.path().join("report.csv");
    std::fs::write(&att, "a,b\n.1,2\n").expect("write");
    let saved = dir.path().join("copy.eml");
    let out = run(basic(&mut send())
        .args([
            "--server",
            &fake.url(),
            "--dry-run",
            "--bcc",
            "hidden@example.org",
        ])
        .arg("-a")
        .arg(&att)
        .arg("--save")
        .arg(&saved));
    assert_code(&out, 0);
    assert_eq!(fake.seen().connections, 0);
    let m = MessageParser::default().parse(&out.stdout).expect("parses");
    assert_eq!(m.subject(), Some("hi"));
    assert!(m.message_id().is_some());
    assert!(m.date().is_some());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hidden@"));
    let a = m.attachment(0).expect("attachment");
    assert_eq!(a.contents(), b"a,b\n.1,2\n");
    assert_eq!(a.attachment_name(), Some("report.csv"));
    assert_eq!(std::fs::read(&saved).expect("saved"), out.stdout);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&saved)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn body_from_stdin() {
    let out = common::run_with_stdin(
        send().args([
            "--dry-run",
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
        ]),
        b"from stdin\n",
    );
    assert_code(&out, 0);
    let m = MessageParser::default().parse(&out.stdout).expect("parses");
    assert_eq!(
        m.body_text(0).as_deref().map(str::trim_end),
        Some("from stdin")
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = run(send().args(["--dry-run", "--to", "b@example.org", "--body", "x"]));
    assert_code(&out, 2);
    assert!(text(&out).1.contains("--from"), "{}", text(&out).1);
    let out = run(send().args([
        "--dry-run",
        "--from",
        "a@example.org",
        "--to",
        "not an address",
    ]));
    assert_code(&out, 2);
    let out = run(basic(&mut send()).args(["--server", "http://x", "--tls", "none"]));
    assert_code(&out, 2);
    let out = run(basic(&mut send()).args(["--dry-run", "-H", "From: evil@example.org"]));
    assert_code(&out, 2);
    let out = run(basic(&mut send()).args(["--batch", "x.jsonl", "--save", "y.eml"]));
    assert_code(&out, 2);
}

#[test]
fn missing_attachment_fails_before_connecting() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = run(basic(&mut send()).args([
        "--server",
        &fake.url(),
        "--tls",
        "none",
        "-a",
        "/nonexistent/report.pdf",
    ]));
    assert_code(&out, 26);
    assert!(
        text(&out).1.contains("/nonexistent/report.pdf"),
        "{}",
        text(&out).1
    );
    assert_eq!(fake.seen().connections, 0);
}

// ---- the in-process misbehaving server -----------------------------------------------

#[test]
fn sends_with_one_rcpt_per_recipient_and_no_bcc_header() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = run(send().args([
        "--server",
        &fake.url(),
        "--tls",
        "none",
        "--from",
        "Ann <ann@example.org>",
        "--to",
        "bob@example.org, Carol <carol@example.org>",
        "--cc",
        "bob@example.org",
        "--bcc",
        "hidden@example.org",
        "--subject",
        "Grüße",
        "--body",
        "line\n.\n..two\n",
        "-v",
    ]));
    assert_code(&out, 0);
    let seen = fake.seen();
    let rcpts: Vec<&String> = seen
        .commands
        .iter()
        .filter(|c| c.starts_with("RCPT"))
        .collect();
    assert_eq!(
        rcpts,
        [
            "RCPT TO:<bob@example.org>",
            "RCPT TO:<carol@example.org>",
            "RCPT TO:<hidden@example.org>"
        ]
    );
    assert_eq!(seen.messages.len(), 1);
    let msg = &seen.messages[0];
    assert!(!String::from_utf8_lossy(msg).contains("hidden@"));
    let m = MessageParser::default().parse(msg).expect("parses");
    assert_eq!(m.subject(), Some("Grüße"));
    assert_eq!(
        m.body_text(0).as_deref().map(str::trim_end),
        Some("line\r\n.\r\n..two")
    );
    let stderr = text(&out).1;
    assert!(stderr.contains("> MAIL FROM:<ann@example.org>"), "{stderr}");
    assert!(stderr.contains("< 250"), "{stderr}");
}

#[test]
fn rejected_and_deferred_recipients() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = run(basic(&mut send()).args([
        "--server",
        &fake.url(),
        "--tls",
        "none",
        "--to",
        "reject-me@example.org",
    ]));
    assert_code(&out, 65);
    let err = text(&out).1;
    assert!(
        err.contains("550") && err.contains("reject-me@example.org"),
        "{err}"
    );
    assert!(err.contains("no such user"), "{err}");
    let out = run(basic(&mut send()).args([
        "--server",
        &fake.url(),
        "--tls",
        "none",
        "--to",
        "later@example.org",
    ]));
    assert_code(&out, 75);
    assert!(text(&out).1.contains("451"), "{}", text(&out).1);
    assert!(fake.seen().messages.is_empty());
}

#[test]
fn slow_server_hits_the_timeout() {
    let fake = FakeSmtp::start(Behavior {
        slow_data: Some(Duration::from_secs(6)),
        ..Behavior::default()
    });
    let start = Instant::now();
    let out =
        run(basic(&mut send()).args(["--server", &fake.url(), "--tls", "none", "--timeout", "1"]));
    assert_code(&out, 28);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(text(&out).1.contains("timed out"), "{}", text(&out).1);
}

#[test]
fn implicit_tls_handshake_is_under_the_deadline() {
    // The server accepts and never answers the ClientHello: lettre alone would hang.
    let fake = FakeSmtp::start(Behavior {
        silent: true,
        ..Behavior::default()
    });
    let start = Instant::now();
    let out = run(basic(&mut send()).args([
        "--server",
        &format!("smtps://127.0.0.1:{}", fake.port),
        "--timeout",
        "1",
    ]));
    assert_code(&out, 28);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn silent_greeting_is_under_the_deadline() {
    let fake = FakeSmtp::start(Behavior {
        silent: true,
        ..Behavior::default()
    });
    let start = Instant::now();
    let out =
        run(basic(&mut send()).args(["--server", &fake.url(), "--tls", "none", "--timeout", "1"]));
    assert_code(&out, 28);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn refused_connection_exits_7() {
    let port = common::free_port();
    let out = run(basic(&mut send()).args([
        "--server",
        &format!("smtp://127.0.0.1:{port}"),
        "--tls",
        "none",
    ]));
    assert_code(&out, 7);
}

#[test]
fn starttls_required_but_not_offered() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = run(basic(&mut send()).args(["--server", &fake.url()]));
    assert_code(&out, 69);
    assert!(text(&out).1.contains("STARTTLS"), "{}", text(&out).1);
    assert!(fake.seen().messages.is_empty());
}

#[test]
fn plaintext_auth_is_refused_unless_allowed() {
    let fake = FakeSmtp::start(Behavior {
        offer_auth: true,
        ..Behavior::default()
    });
    let auth = |cmd: &mut Command| {
        cmd.args(["--user", "ann", "--password-env", "POSTIE_TEST_PW"])
            .env("POSTIE_TEST_PW", "s3cret-pw");
    };
    // --tls none: refused before connecting, before even looking for the password.
    let mut cmd = send();
    basic(&mut cmd).args(["--server", &fake.url(), "--tls", "none"]);
    auth(&mut cmd);
    let out = run(&mut cmd);
    assert_code(&out, 78);
    assert!(
        text(&out).1.contains("--allow-insecure-auth"),
        "{}",
        text(&out).1
    );
    assert_eq!(fake.seen().connections, 0);
    // Opportunistic TLS against a server without STARTTLS: refused after EHLO.
    let mut cmd = send();
    basic(&mut cmd).args(["--server", &fake.url(), "--tls", "opportunistic"]);
    auth(&mut cmd);
    let out = run(&mut cmd);
    assert_code(&out, 78);
    assert!(!fake.seen().commands.iter().any(|c| c.starts_with("AUTH")));
    // Explicitly allowed: AUTH goes, and -v masks it.
    let mut cmd = send();
    basic(&mut cmd).args([
        "--server",
        &fake.url(),
        "--tls",
        "none",
        "--allow-insecure-auth",
        "-v",
    ]);
    auth(&mut cmd);
    let out = run(&mut cmd);
    assert_code(&out, 0);
    assert!(
        fake.seen()
            .commands
            .iter()
            .any(|c| c.starts_with("AUTH PLAIN"))
    );
    let stderr = text(&out).1;
    assert!(
        stderr.contains("AUTH PLAIN (credentials masked)"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode("\0ann\0s3cret-pw");
    assert!(!stderr.contains(&b64), "{stderr}");
}

#[test]
fn auth_not_offered_and_bad_user_names() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = run(basic(&mut send())
        .args([
            "--server",
            &fake.url(),
            "--tls",
            "none",
            "--allow-insecure-auth",
        ])
        .args(["--user", "ann", "--password-env", "PW"])
        .env("PW", "x"));
    assert_code(&out, 69);
    assert!(text(&out).1.contains("AUTH"), "{}", text(&out).1);
    let out = run(basic(&mut send())
        .args([
            "--server",
            &fake.url(),
            "--tls",
            "none",
            "--allow-insecure-auth",
        ])
        .args(["--user", "ann\r\nQUIT", "--password-env", "PW"])
        .env("PW", "x"));
    assert_code(&out, 2);
    assert!(fake.seen().messages.is_empty());
}

#[test]
fn account_supplies_server_sender_and_policy() {
    use std::os::unix::fs::PermissionsExt;
    let fake = FakeSmtp::start(Behavior::default());
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join("postie");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[account.relay]\nsmtp_server = \"{}\"\nserver = \"pop3://ignored\"\ntls = \"none\"\nfrom = \"Relay <relay@example.org>\"\n",
            fake.url()
        ),
    )
    .expect("write");
    let out = run(send().env("XDG_CONFIG_HOME", home.path()).args([
        "--account",
        "relay",
        "--to",
        "bob@example.org",
        "--body",
        "via account",
    ]));
    assert_code(&out, 0);
    assert!(
        fake.seen()
            .commands
            .contains(&"MAIL FROM:<relay@example.org>".to_owned())
    );
    // A config file holding a password must not be readable by others.
    std::fs::write(
        &config,
        "[account.relay]\nserver = \"smtp://x\"\npassword = \"p\"\n",
    )
    .expect("write");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(send().env("XDG_CONFIG_HOME", home.path()).args([
        "--account",
        "relay",
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
    ]));
    assert_code(&out, 78);
}

#[test]
fn batch_reconnects_when_the_server_drops_and_reports_each_message() {
    let fake = FakeSmtp::start(Behavior {
        drop_after: Some(3),
        ..Behavior::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let att = dir.path().join("a.txt");
    std::fs::write(&att, "attached\n").expect("write");
    let mut lines = String::new();
    for i in 0..10 {
        let to = if i == 4 {
            "reject@example.org"
        } else {
            "bob@example.org"
        };
        lines.push_str(
            &serde_json::json!({"to": to, "subject": format!("n{i}"), "body": "b", "attach": att})
                .to_string(),
        );
        lines.push('\n');
    }
    lines.push_str("{\"to\": 5}\n");
    let batch = dir.path().join("batch.jsonl");
    std::fs::write(&batch, lines).expect("write");
    let out = run(send()
        .args([
            "--server",
            &fake.url(),
            "--tls",
            "none",
            "--from",
            "a@example.org",
            "--batch",
        ])
        .arg(&batch));
    assert_code(&out, 1);
    let results: Vec<serde_json::Value> = text(&out)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(results.len(), 11);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
        let ok = i != 4 && i != 10;
        assert_eq!(r["ok"], ok, "{r}");
        if ok {
            assert_eq!(r["code"], 250);
            assert!(r["message_id"].as_str().is_some_and(|m| m.contains('@')));
        }
    }
    assert_eq!(results[4]["code"], 550);
    let seen = fake.seen();
    assert_eq!(seen.messages.len(), 9);
    assert!(seen.connections >= 3, "{} connections", seen.connections);
    let subjects: Vec<String> = seen
        .messages
        .iter()
        .map(|m| {
            MessageParser::default()
                .parse(m)
                .and_then(|m| m.subject().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        subjects,
        ["n0", "n1", "n2", "n3", "n5", "n6", "n7", "n8", "n9"]
    );
}

// ---- exact text bodies (issue 21) ---------------------------------------------------

/// Bodies ending with no line end, one and several, with CR/LF mixes, dot lines, and texts
/// lettre sends 7bit, quoted-printable and base64.
const BODIES: &[&str] = &[
    "",
    "x",
    "x\n",
    "x\n\n\n",
    "a\r\nb\rc\n\n",
    ".\n..dot\n.",
    "Grüße aus Köln\n",
    "Grüße aus Köln",
    "Grüße aus Köln \n\n",
    "hello wörld, mostly ASCII\n",
    "hello wörld, mostly ASCII \n\n",
    "hello wörld, mostly ASCII",
    "ÄÖÜ äöü ß\n",
    "ÄÖÜ äöü ß\n\n\n",
    "\n\n",
];

/// A long line: quoted-printable with soft breaks, twice.
fn long_body() -> String {
    format!("{}\n{}", "y".repeat(100), "z".repeat(300))
}

fn all_bodies() -> Vec<String> {
    let mut v: Vec<String> = BODIES.iter().map(|b| (*b).to_owned()).collect();
    v.push(long_body());
    v
}

/// Asserts that `message` carries `body` (and `html`) exactly as a reader decodes them, and
/// that no header line is over 998 octets. Returns the text part's transfer encoding.
fn assert_exact_body(message: &[u8], body: &str, html: Option<&str>, what: &str) -> String {
    let leaves = smtp_mime::leaves(message);
    let text = smtp_mime::body_part(&leaves, "text/plain");
    assert_eq!(
        String::from_utf8_lossy(&text.content),
        String::from_utf8_lossy(&smtp_mime::expected_text(body)),
        "{what}: text body {body:?} ({})",
        text.encoding
    );
    if let Some(h) = html {
        let part = smtp_mime::body_part(&leaves, "text/html");
        assert_eq!(
            String::from_utf8_lossy(&part.content),
            String::from_utf8_lossy(&smtp_mime::expected_text(h)),
            "{what}: html {h:?}"
        );
    }
    for line in smtp_mime::header_lines(message) {
        assert!(line.len() <= 998, "{what}: header line of {}", line.len());
    }
    text.encoding.clone()
}

/// The message shapes every body is checked in: (html, with an attachment).
const SHAPES: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

#[test]
fn text_bodies_arrive_exactly_on_every_composition_path() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let att = dir.path().join("data.txt");
    std::fs::write(&att, "attached\n").expect("write");
    let html_file = dir.path().join("page.html");
    let mut encodings = std::collections::BTreeSet::new();
    let mut sent = 0;
    for (i, body) in all_bodies().iter().enumerate() {
        let body_file = dir.path().join(format!("body{i}.txt"));
        std::fs::write(&body_file, body).expect("write");
        let html = format!("<p>{body}</p>");
        std::fs::write(&html_file, &html).expect("write");
        for (with_html, with_att) in SHAPES {
            let saved = dir.path().join("copy.eml");
            let mut cmd = send();
            cmd.args(["--server", &fake.url(), "--tls", "none"])
                .args(["--from", "a@example.org", "--to", "b@example.org"])
                .arg("--body-file")
                .arg(&body_file)
                .arg("--save")
                .arg(&saved);
            if with_html {
                cmd.arg("--html").arg(&html_file);
            }
            if with_att {
                cmd.arg("-a").arg(&att);
            }
            let out = run(&mut cmd);
            assert_code(&out, 0);
            sent += 1;
            let received = fake.seen().messages.last().cloned().expect("received");
            assert_eq!(fake.seen().messages.len(), sent);
            let what = format!("html={with_html} attach={with_att}");
            // What went on the wire is exactly what --save kept.
            assert_eq!(
                String::from_utf8_lossy(&received),
                String::from_utf8_lossy(&std::fs::read(&saved).expect("saved")),
                "{what}"
            );
            let html = with_html.then_some(html.as_str());
            let encoding = assert_exact_body(&received, body, html, &what);
            encodings.insert((encoding, body.is_ascii()));
        }
    }
    // Covered: ASCII 7bit and quoted-printable, non-ASCII quoted-printable and base64.
    for want in [
        ("7bit", true),
        ("quoted-printable", true),
        ("quoted-printable", false),
        ("base64", false),
    ] {
        let want = (want.0.to_owned(), want.1);
        assert!(encodings.contains(&want), "{want:?} not in {encodings:?}");
    }
}

#[test]
fn dry_run_from_stdin_has_no_extra_line() {
    // The issue's own reproduction: printf 'x\n' | postie send --dry-run ...
    for body in all_bodies() {
        let out = common::run_with_stdin(
            send().args([
                "--dry-run",
                "--from",
                "a@example.org",
                "--to",
                "b@example.org",
            ]),
            body.as_bytes(),
        );
        assert_code(&out, 0);
        assert_exact_body(&out.stdout, &body, None, "--dry-run");
    }
    let out = common::run_with_stdin(
        send().args([
            "--dry-run",
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
        ]),
        b"x\n",
    );
    assert!(out.stdout.ends_with(b"\r\n\r\nx\r\n"), "{:?}", text(&out).0);
}

/// A batch file with every body in every shape; returns it and the (body, html) per line.
fn exact_body_batch(dir: &std::path::Path) -> (std::path::PathBuf, Vec<(String, Option<String>)>) {
    let att = dir.join("data.txt");
    std::fs::write(&att, "attached\n").expect("write");
    let mut lines = String::new();
    let mut want = Vec::new();
    for body in all_bodies() {
        for (with_html, with_att) in SHAPES {
            let mut line = serde_json::json!({"to": "b@example.org", "body": body});
            let html = with_html.then(|| format!("<b>{body}</b>"));
            if let Some(h) = &html {
                line["html"] = h.clone().into();
            }
            if with_att {
                line["attach"] = att.display().to_string().into();
            }
            lines.push_str(&line.to_string());
            lines.push('\n');
            want.push((body.clone(), html));
        }
    }
    let batch = dir.join("bodies.jsonl");
    std::fs::write(&batch, lines).expect("write");
    (batch, want)
}

#[test]
fn batch_text_bodies_arrive_exactly() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let (batch, want) = exact_body_batch(dir.path());
    let out = run(send()
        .args(["--server", &fake.url(), "--tls", "none"])
        .args(["--from", "a@example.org", "--batch"])
        .arg(&batch));
    assert_code(&out, 0);
    let seen = fake.seen();
    assert_eq!(seen.messages.len(), want.len());
    for (i, (msg, (body, html))) in seen.messages.iter().zip(&want).enumerate() {
        assert_exact_body(msg, body, html.as_deref(), &format!("batch line {i}"));
    }
}

// ---- header injection, folding, control characters (issue 10) -------------------------

fn raw_has(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A message to `fake` with `args` added; --from only when `args` has none.
fn minimal<'a, S: AsRef<std::ffi::OsStr>>(
    cmd: &'a mut Command,
    fake: &FakeSmtp,
    args: &[S],
) -> &'a mut Command {
    cmd.args(["--server", &fake.url(), "--tls", "none"]).args([
        "--to",
        "b@example.org",
        "--body",
        "x",
    ]);
    if !args.iter().any(|a| a.as_ref() == "--from") {
        cmd.args(["--from", "a@example.org"]);
    }
    cmd.args(args)
}

#[test]
fn bad_header_names_are_refused_in_flags_and_batch() {
    let fake = FakeSmtp::start(Behavior::default());
    for (header, needle) in [
        ("X-A\r\nBcc: evil@example.org", "not a header name"),
        ("X-A\nBcc: evil@example.org", "not a header name"),
        ("X\r.\r\nY: v", "not a header name"),
        ("X A: v", "not a header name"),
        ("X-Ä: v", "not a header name"),
        ("X-Dup: 1", "given twice"),
    ] {
        let mut cmd = send();
        basic(&mut cmd).args(["--server", &fake.url(), "--tls", "none", "-H", header]);
        if header.starts_with("X-Dup") {
            cmd.args(["-H", "x-dup: 2"]);
        }
        let out = run(&mut cmd);
        assert_code(&out, 2);
        let err = text(&out).1;
        assert!(err.contains(needle), "{header:?}: {err}");
        assert!(!err.contains(['\r', '\0']), "{err:?}");
    }
    assert_eq!(fake.seen().connections, 0);
    // In a batch: the bad lines fail, the others go.
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = [
        serde_json::json!({"to": "b@example.org", "subject": "ok1", "headers": {"X-Fine": "1"}}),
        serde_json::json!({"to": "b@example.org", "headers": {"X-A\r\nBcc": "evil@example.org"}}),
        serde_json::json!({"to": "b@example.org", "headers": {"X\u{0}A": "nul"}}),
        serde_json::json!({"to": "b@example.org", "headers": {"X\r.\r\nMAIL FROM": "<x@y>"}}),
        serde_json::json!({"to": "b@example.org", "headers": {"X-Tab\there": "v"}}),
        serde_json::json!({"to": "b@example.org", "subject": "ok2"}),
    ];
    let batch = dir.path().join("h.jsonl");
    let text_lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&batch, text_lines.join("\n")).expect("write");
    let out = run(send()
        .args(["--server", &fake.url(), "--tls", "none"])
        .args(["--from", "a@example.org", "--batch"])
        .arg(&batch));
    assert_code(&out, 1);
    let results: Vec<serde_json::Value> = text(&out)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let oks: Vec<bool> = results.iter().map(|r| r["ok"] == true).collect();
    assert_eq!(oks, [true, false, false, false, false, true], "{results:?}");
    for r in &results[1..5] {
        let e = r["error"].as_str().unwrap_or_default();
        assert!(e.contains("not a header name"), "{e}");
    }
    let seen = fake.seen();
    assert_eq!(seen.messages.len(), 2);
    for m in &seen.messages {
        let lower = String::from_utf8_lossy(m).to_ascii_lowercase();
        assert!(
            !lower.contains("bcc") && !lower.contains("evil@"),
            "{lower}"
        );
        assert!(!m.contains(&0) && !raw_has(m, b"\r.\r"), "{lower}");
    }
}

#[test]
fn long_header_lines_are_folded_or_refused() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let att = dir.path().join("a.bin");
    std::fs::write(&att, b"data").expect("write");
    let to: Vec<String> = (0..100).map(|i| format!("user{i}@example.org")).collect();
    let cc: Vec<String> = (0..60)
        .map(|i| format!("\"Person, No {i}\" <cc{i}@example.org>"))
        .collect();
    let long_name = format!("{}.txt", "n".repeat(1200));
    let words = "word ".repeat(400);
    let out = run(send()
        .args([
            "--server",
            &fake.url(),
            "--tls",
            "none",
            "--from",
            "a@example.org",
        ])
        .args([
            "--to",
            &to.join(", "),
            "--cc",
            &cc.join(", "),
            "--body",
            "x",
        ])
        .args(["-H", &format!("X-Words: {words}")])
        .arg("-a")
        .arg(format!("{};name={long_name}", att.display())));
    assert_code(&out, 0);
    let msg = fake.seen().messages.last().cloned().expect("received");
    for line in smtp_mime::header_lines(&msg) {
        assert!(line.len() <= 998, "{} octets: {line}", line.len());
        if line.starts_with("To:") || line.starts_with("Cc:") || line.starts_with(' ') {
            assert!(line.len() <= 78, "{} octets: {line}", line.len());
        }
    }
    let m = MessageParser::default().parse(&msg).expect("parses");
    let got: Vec<&str> = m
        .to()
        .expect("to")
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(got, to);
    assert_eq!(m.cc().map(|c| c.iter().count()), Some(60));
    assert_eq!(
        m.header_values("X-Words")
            .next()
            .and_then(|v| v.as_text())
            .map(|v| v.replace("\r\n", "")),
        Some(words.trim().to_owned()),
        "unfolded, the value is unchanged"
    );
    let a = m.attachment(0).expect("attachment");
    assert_eq!(a.attachment_name(), Some(long_name.as_str()));
    let before = fake.seen().messages.len();
    // A word that cannot be folded: refused, nothing sent.
    let long_word = "x".repeat(1200);
    for args in [
        vec!["--subject".to_owned(), long_word.clone()],
        vec!["-H".to_owned(), format!("X-Long: {long_word}")],
        vec!["--from".to_owned(), format!("{long_word} <a@example.org>")],
    ] {
        let out = run(minimal(&mut send(), &fake, &args));
        assert_code(&out, 2);
        assert!(text(&out).1.contains("998"), "{}", text(&out).1);
    }
    assert_eq!(fake.seen().messages.len(), before);
}

#[test]
fn control_characters_never_reach_a_header() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let att = dir.path().join("a.bin");
    std::fs::write(&att, b"data").expect("write");
    let esc_name = format!("{};name=evil\x1b[2J.txt", att.display());
    for args in [
        vec!["--subject", "red \x1b[31malert"],
        vec!["--subject", "bell\x07"],
        vec!["--subject", "del\x7f"],
        vec!["--subject", "csi \u{9b}31m"],
        vec!["-H", "X-Note: a\x1b]0;title\x07"],
        vec!["--from", "\"Ann\x1b[8m\" <ann@example.org>"],
        vec!["-a", &esc_name],
    ] {
        let out = run(minimal(&mut send(), &fake, &args));
        assert_code(&out, 2);
        let err = text(&out).1;
        assert!(err.contains("control character"), "{args:?}: {err}");
        assert!(!err.contains(['\x1b', '\x07', '\x7f', '\u{9b}']), "{err:?}");
    }
    assert_eq!(fake.seen().connections, 0);
    // A TAB is allowed; in a batch, a control character fails that line only.
    let lines = [
        serde_json::json!({"to": "b@example.org", "subject": "tab\there"}),
        serde_json::json!({"to": "b@example.org", "subject": "esc\u{1b}[2J"}),
        serde_json::json!({"to": "b@example.org", "headers": {"X-A": "bell\u{7}"}}),
        serde_json::json!({"to": "b@example.org", "attach": esc_name}),
    ];
    let batch = dir.path().join("c.jsonl");
    let text_lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&batch, text_lines.join("\n")).expect("write");
    let out = run(send()
        .args(["--server", &fake.url(), "--tls", "none"])
        .args(["--from", "a@example.org", "--batch"])
        .arg(&batch));
    assert_code(&out, 1);
    let oks: Vec<bool> = text(&out)
        .0
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["ok"] == true)
        .collect();
    assert_eq!(oks, [true, false, false, false]);
    let seen = fake.seen();
    assert_eq!(seen.messages.len(), 1);
    let m = MessageParser::default()
        .parse(&seen.messages[0])
        .expect("parses");
    assert_eq!(m.subject(), Some("tab\there"));
}

#[test]
fn helo_name_cannot_add_a_command() {
    let fake = FakeSmtp::start(Behavior::default());
    for helo in ["x\r\nRCPT TO:<evil@example.org>", "two words", ""] {
        let out = run(basic(&mut send()).args([
            "--server",
            &fake.url(),
            "--tls",
            "none",
            "--helo",
            helo,
        ]));
        assert_code(&out, 2);
        assert!(text(&out).1.contains("--helo"), "{}", text(&out).1);
    }
    assert_eq!(fake.seen().connections, 0);
}

#[test]
fn server_reply_control_characters_are_escaped() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = run(basic(&mut send()).args([
        "--server",
        &fake.url(),
        "--tls",
        "none",
        "--to",
        "ansi@example.org",
        "-v",
    ]));
    assert_code(&out, 65);
    let err = text(&out).1;
    assert!(!err.contains(['\x1b', '\x07', '\x7f', '\u{9b}']), "{err:?}");
    let want = "550 5.1.1 \\x1b]0;owned\\x07\\x1b[2Jno such user\\x1b[0m\\x7f\\u{9b}31m";
    assert!(err.contains(&format!("< {want}")), "-v: {err}");
    assert!(
        err.contains(&format!("recipient ansi@example.org rejected: {want}")),
        "{err}"
    );
    // The batch report carries the same escaped text.
    let out = common::run_with_stdin(
        send().args([
            "--server",
            &fake.url(),
            "--tls",
            "none",
            "--from",
            "a@example.org",
            "--batch",
            "-",
        ]),
        b"{\"to\": \"ansi@example.org\"}\n",
    );
    assert_code(&out, 1);
    let r: serde_json::Value = serde_json::from_str(text(&out).0.trim()).expect("JSON");
    let e = r["error"].as_str().unwrap_or_default();
    assert!(e.contains(want) && !e.contains('\x1b'), "{e:?}");
}

// ---- aiosmtpd (interop) --------------------------------------------------------------

fn have_sink(test: &str) -> bool {
    require_peer(
        test,
        "aiosmtpd (venv) and openssl",
        sink_python().is_some() && common::which("openssl").is_some(),
    )
}

#[test]
fn aiosmtpd_starttls_and_auth_with_cacert() {
    if !have_sink("aiosmtpd_starttls_and_auth_with_cacert") {
        return;
    }
    let certs = Certs::make();
    let sink = Sink::start(
        "starttls",
        Some((&certs.cert, &certs.key)),
        Some("ann:pw-1"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let att = dir.path().join("Übersicht.pdf");
    let blob: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&att, &blob).expect("write");
    let out = run(basic(&mut send())
        .args([
            "--server",
            &sink.url("smtp"),
            "--user",
            "ann",
            "--password-env",
            "PW",
        ])
        .env("PW", "pw-1")
        .arg("--cacert")
        .arg(&certs.ca)
        .arg("-a")
        .arg(&att)
        .args(["--bcc", "hidden@example.org"]));
    assert_code(&out, 0);
    let stored = sink.stored();
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    assert!(s.tls);
    assert_eq!(s.auth.as_deref(), Some("ann"));
    assert_eq!(s.mail_from, "ann@example.org");
    assert_eq!(s.rcpt_tos, ["bob@example.org", "hidden@example.org"]);
    let bytes = s.bytes();
    assert!(!String::from_utf8_lossy(&bytes).contains("hidden@"));
    let m = MessageParser::default().parse(&bytes).expect("parses");
    let a = m.attachment(0).expect("attachment");
    assert_eq!(a.contents(), &blob[..]);
    assert_eq!(a.attachment_name(), Some("Übersicht.pdf"));
    // A wrong password: exit 77 with the server's reply.
    let out = send_as_ann(&sink.url("smtp"), "wrong", &certs.ca);
    assert_code(&out, 77);
    assert!(text(&out).1.contains("535"), "{}", text(&out).1);
}

/// The basic message sent to `url` as user ann with `password`, trusting `ca`.
fn send_as_ann(url: &str, password: &str, ca: &std::path::Path) -> Output {
    run(basic(&mut send())
        .args(["--server", url, "--user", "ann", "--password-env", "PW"])
        .env("PW", password)
        .arg("--cacert")
        .arg(ca))
}

#[test]
fn aiosmtpd_implicit_tls() {
    if !have_sink("aiosmtpd_implicit_tls") {
        return;
    }
    let certs = Certs::make();
    let sink = Sink::start(
        "implicit",
        Some((&certs.cert, &certs.key)),
        Some("ann:pw-2"),
    );
    let out = send_as_ann(&sink.url("smtps"), "pw-2", &certs.ca);
    assert_code(&out, 0);
    let stored = sink.stored();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].tls);
    assert_eq!(stored[0].auth.as_deref(), Some("ann"));
}

#[test]
fn aiosmtpd_certificate_rejection() {
    if !have_sink("aiosmtpd_certificate_rejection") {
        return;
    }
    let certs = Certs::make();
    // Signed by our CA, which the client does not trust without --cacert.
    let sink = Sink::start("implicit", Some((&certs.cert, &certs.key)), None);
    let out = run(basic(&mut send()).args(["--server", &sink.url("smtps")]));
    assert_code(&out, 60);
    assert!(
        text(&out).1.contains("certificate verification failed"),
        "{}",
        text(&out).1
    );
    // Self-signed, over STARTTLS, even with our CA given.
    let sink2 = Sink::start(
        "starttls",
        Some((&certs.self_signed_cert, &certs.self_signed_key)),
        None,
    );
    let out = run(basic(&mut send())
        .args(["--server", &sink2.url("smtp")])
        .arg("--cacert")
        .arg(&certs.ca));
    assert_code(&out, 60);
    assert!(text(&out).1.contains("self-signed"), "{}", text(&out).1);
    // --insecure goes through.
    let out = run(basic(&mut send()).args(["--server", &sink2.url("smtp"), "--insecure"]));
    assert_code(&out, 0);
    assert!(sink.stored().is_empty());
    assert_eq!(sink2.stored().len(), 1);
}

#[test]
fn aiosmtpd_rejections() {
    if !have_sink("aiosmtpd_rejections") {
        return;
    }
    let sink = Sink::start("plain", None, None);
    let url = sink.url("smtp");
    for (to, exit, needle) in [
        ("reject-x@example.org", 65, "550 5.1.1"),
        ("later-x@example.org", 75, "451 4.3.0"),
        ("big@example.org", 65, "too big"),
    ] {
        let out = run(basic(&mut send()).args(["--server", &url, "--tls", "none", "--to", to]));
        assert_code(&out, exit);
        assert!(text(&out).1.contains(needle), "{}", text(&out).1);
    }
    assert!(sink.stored().is_empty());
}

#[test]
fn aiosmtpd_thousand_message_batch() {
    if !have_sink("aiosmtpd_thousand_message_batch") {
        return;
    }
    let sink = Sink::start("plain", None, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lines = String::new();
    for i in 0..1000 {
        lines.push_str(
            &serde_json::json!({"to": [format!("u{i}@example.org")], "cc": "cc@example.org", "subject": format!("m{i}"), "body": format!("body {i}\n.\n")})
                .to_string(),
        );
        lines.push('\n');
    }
    let batch = dir.path().join("b.jsonl");
    std::fs::write(&batch, lines).expect("write");
    let start = Instant::now();
    let out = run(send()
        .args([
            "--server",
            &sink.url("smtp"),
            "--tls",
            "none",
            "--from",
            "a@example.org",
            "--batch",
        ])
        .arg(&batch));
    assert_code(&out, 0);
    let results = text(&out).0;
    assert_eq!(results.lines().count(), 1000);
    assert!(results.lines().all(|l| l.contains("\"ok\":true")));
    let stored = sink.stored();
    assert_eq!(stored.len(), 1000);
    for (i, s) in stored.iter().enumerate() {
        assert_eq!(
            s.rcpt_tos,
            [format!("u{i}@example.org"), "cc@example.org".to_owned()]
        );
        let bytes = s.bytes();
        let m = MessageParser::default().parse(&bytes).expect("parses");
        assert_eq!(m.subject(), Some(format!("m{i}").as_str()));
    }
    eprintln!("1000-message batch took {:?}", start.elapsed());
}

#[test]
fn aiosmtpd_receives_text_bodies_exactly() {
    if !have_sink("aiosmtpd_receives_text_bodies_exactly") {
        return;
    }
    let sink = Sink::start("plain", None, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let (batch, want) = exact_body_batch(dir.path());
    let out = run(send()
        .args(["--server", &sink.url("smtp"), "--tls", "none"])
        .args(["--from", "a@example.org", "--batch"])
        .arg(&batch));
    assert_code(&out, 0);
    let stored = sink.stored();
    assert_eq!(stored.len(), want.len());
    for (i, (s, (body, html))) in stored.iter().zip(&want).enumerate() {
        let what = format!("aiosmtpd batch line {i}");
        assert_exact_body(&s.bytes(), body, html.as_deref(), &what);
    }
    // One message from stdin with --save: aiosmtpd received exactly the saved bytes.
    let saved = dir.path().join("copy.eml");
    let out = common::run_with_stdin(
        send()
            .args(["--server", &sink.url("smtp"), "--tls", "none"])
            .args(["--from", "a@example.org", "--to", "b@example.org", "--save"])
            .arg(&saved),
        b"x\n\n",
    );
    assert_code(&out, 0);
    let got = sink.stored().pop().expect("stored").bytes();
    assert_eq!(got, std::fs::read(&saved).expect("saved"));
    assert!(
        got.ends_with(b"\r\n\r\nx\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

// ---- Postfix (interop) ---------------------------------------------------------------

#[test]
fn postfix_submission_and_strict_listener() {
    if !require_peer(
        "postfix_submission_and_strict_listener",
        "postfix, saslpasswd2, openssl, running as root",
        smtp_postfix::available(),
    ) {
        return;
    }
    let certs = Certs::make();
    let pf = smtp_postfix::Postfix::start(&certs, "ann", "pf-pw");
    let dir = tempfile::tempdir().expect("tempdir");
    let notes = dir.path().join("notes.txt");
    // LF line ends and dot-leading lines: what lettre's 7bit Vec<u8> bodies corrupted.
    std::fs::write(&notes, "one\n.two\n.\n..three\n").expect("write");
    let pic = dir.path().join("café.bin");
    let blob: Vec<u8> = (0..20_000u32).map(|i| (i % 256) as u8).collect();
    std::fs::write(&pic, &blob).expect("write");
    let send_to = |url: &str, auth: bool, subject: &str| {
        let mut cmd = send();
        cmd.args([
            "--server",
            url,
            "--from",
            "ann@example.org",
            "--to",
            "bob@example.org",
            "--cc",
            "Carol <carol@example.org>",
            "--subject",
            subject,
            "--body",
            "hi\n.\nbye",
            "--timeout",
            "15",
            "-v",
        ])
        .arg("-a")
        .arg(&notes)
        .arg("-a")
        .arg(&pic)
        .arg("--cacert")
        .arg(&certs.ca);
        if auth {
            cmd.args(["--user", "ann", "--password-env", "PW"])
                .env("PW", "pf-pw");
        } else {
            cmd.args(["--tls", "none"]);
        }
        run(&mut cmd)
    };
    let out = send_to(&pf.submission_url(), true, "Submission ✓");
    assert_eq!(code(&out), 0, "{:?}\n{}", text(&out), pf.log());
    let strict = raw_bare_lf_reply(pf.strict_port);
    assert!(
        strict.starts_with('5') && strict.contains("bare"),
        "{strict}"
    );
    let out = send_to(&pf.strict_url(), false, "Strict listener");
    assert_eq!(code(&out), 0, "{:?}\n{}", text(&out), pf.log());
    let delivered = pf.wait_for_delivery(&["bob", "carol"], 2, Duration::from_secs(30));
    for subject in ["Submission ✓", "Strict listener"] {
        for user in ["bob", "carol"] {
            let facts = delivered
                .iter()
                .find(|d| d["user"] == user && d["subject"] == subject)
                .unwrap_or_else(|| panic!("{user} did not get {subject:?}: {delivered:?}"));
            assert_eq!(facts["to"], "bob@example.org");
            assert_eq!(facts["cc"], "Carol <carol@example.org>");
            let atts = facts["attachments"].as_array().expect("attachments");
            assert_eq!(atts.len(), 2);
            assert_eq!(atts[0]["name"], "notes.txt");
            assert_eq!(atts[0]["sha256"], sha256_hex(b"one\n.two\n.\n..three\n"));
            assert_eq!(atts[1]["name"], "café.bin");
            assert_eq!(atts[1]["sha256"], sha256_hex(&blob));
        }
    }
}

/// Talks SMTP by hand to prove the strict listener does reject a bare LF (so the test above
/// could fail), returning the reply to the end of DATA.
fn raw_bare_lf_reply(port: u16) -> String {
    use std::io::{BufRead, BufReader};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut out = stream.try_clone().expect("clone");
    let mut input = BufReader::new(stream);
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if input.read_line(&mut line).unwrap_or(0) == 0 {
                return all;
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    };
    reply();
    for cmd in [
        "EHLO t\r\n",
        "MAIL FROM:<ann@example.org>\r\n",
        "RCPT TO:<bob@example.org>\r\n",
        "DATA\r\n",
    ] {
        out.write_all(cmd.as_bytes()).expect("write");
        reply();
    }
    out.write_all(b"Subject: x\r\n\r\nbare\nLF\r\n.\r\n")
        .expect("write");
    reply()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An ~/.msmtprc as msmtp(1)'s example writes it (defaults, an account, `account default :`),
/// used by `postie send --account` when postie's accounts file has no such account.
#[test]
fn postfix_with_an_msmtprc_account() {
    if !require_peer(
        "postfix_with_an_msmtprc_account",
        "postfix, saslpasswd2, openssl, running as root",
        smtp_postfix::available(),
    ) {
        return;
    }
    let certs = Certs::make();
    let pf = smtp_postfix::Postfix::start(&certs, "ann", "pf-pw");
    let home = tempfile::tempdir().expect("tempdir");
    let rc = format!(
        "# Set default values for all following accounts.\n\
         defaults\n\
         auth           on\n\
         tls            on\n\
         tls_trust_file {ca}\n\
         logfile        ~/.msmtp.log\n\
         \n\
         # The submission service\n\
         account        postfix\n\
         host           localhost\n\
         port           {port}\n\
         from           ann@example.org\n\
         user           ann\n\
         passwordeval   \"printenv PW\"\n\
         \n\
         # Set a default account\n\
         account default : postfix\n",
        ca = certs.ca.display(),
        port = pf.submission_port,
    );
    let rc_path = home.path().join(".msmtprc");
    std::fs::write(&rc_path, rc).expect("msmtprc");
    for (account, subject) in [("postfix", "From msmtprc"), ("default", "Via default")] {
        let mut cmd = send();
        cmd.env("HOME", home.path()).env("PW", "pf-pw").args([
            "--account",
            account,
            "--to",
            "bob@example.org",
            "--subject",
            subject,
            "--body",
            "hello",
            "-v",
        ]);
        let out = run(&mut cmd);
        assert_eq!(code(&out), 0, "{:?}\n{}", text(&out), pf.log());
        let (_, err) = text(&out);
        assert!(!err.contains("not supported"), "every key maps: {err}");
        assert!(
            err.contains("STARTTLS"),
            "STARTTLS as tls_starttls's default: {err}"
        );
        assert!(!err.contains("pf-pw"), "{err}");
    }
    // msmtp's `logfile` became postie's delivery log, written for system mail (sendmail
    // mode): one line for the message sent that way.
    let mut cmd = send();
    cmd.env("HOME", home.path()).env("PW", "pf-pw").args([
        "--account",
        "postfix",
        "--sendmail-args",
        "bob@example.org",
    ]);
    let out = run_with_stdin(&mut cmd, b"Subject: cron\n\nout\n");
    assert_eq!(code(&out), 0, "{:?}\n{}", text(&out), pf.log());
    let log = std::fs::read_to_string(home.path().join(".msmtp.log")).expect("the log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" recipients=bob@example.org ") && l.contains(" smtpstatus=250")),
        "{log}"
    );
    let delivered = pf.wait_for_delivery(&["bob"], 2, Duration::from_secs(30));
    for subject in ["From msmtprc", "Via default"] {
        assert!(
            delivered
                .iter()
                .any(|d| d["user"] == "bob" && d["subject"] == subject),
            "{subject}: {delivered:?}"
        );
    }
    // A wrong password from passwordeval is Postfix's refusal: the account was used.
    let mut cmd = send();
    cmd.env("HOME", home.path()).env("PW", "wrong").args([
        "--account",
        "postfix",
        "--to",
        "bob@example.org",
        "--subject",
        "x",
        "--body",
        "x",
    ]);
    assert_eq!(code(&run(&mut cmd)), 77);
}
