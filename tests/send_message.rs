//! `postie send --message` and sendmail mode end to end: the bytes and the envelope an
//! in-process server receives (plain `cargo test`); aiosmtpd's `original_content`, Postfix,
//! `git send-email` and Debian's `mail` (bsd-mailx) with POSTIE_INTEROP=1.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/smtp_fake.rs"]
mod smtp_fake;
#[path = "support/smtp_peers.rs"]
mod smtp_peers;
#[path = "support/smtp_postfix.rs"]
mod smtp_postfix;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{postie, require_peer, run, run_with_stdin, text};
use smtp_fake::{Behavior, FakeSmtp};
use smtp_peers::{Certs, Sink, sink_python};

/// A message as editors and scripts write it: LF line ends, a bare CR, folded fields, a
/// folded Bcc, lines starting with a dot, a line of one dot.
const MESSAGE: &[u8] = b"From: Ann <ann@example.org>\n\
To: Bob <bob@example.org>,\n  carol@example.org\n\
Cc: dave@example.org\n\
Bcc: eve@example.org,\n\tfrank@example.org\n\
Subject: a prepared\n message\n\
Date: Thu, 03 Dec 2026 10:00:00 +0000\n\
Message-ID: <prepared-1@example.org>\n\
\n\
first line\r\n.leading dot\n..two dots\n.\nbare\rCR\nlast";

/// What goes on the wire for [`MESSAGE`]: Bcc gone, CRLF everywhere, nothing else changed.
const WIRE: &[u8] = b"From: Ann <ann@example.org>\r\n\
To: Bob <bob@example.org>,\r\n  carol@example.org\r\n\
Cc: dave@example.org\r\n\
Subject: a prepared\r\n message\r\n\
Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <prepared-1@example.org>\r\n\
\r\n\
first line\r\n.leading dot\r\n..two dots\r\n.\r\nbare\r\nCR\r\nlast";

fn send() -> Command {
    let mut cmd = postie();
    cmd.arg("send").stdin(Stdio::null());
    cmd
}

/// `postie send` to the fake server, without TLS.
fn to(server: &FakeSmtp) -> Command {
    let mut cmd = send();
    cmd.args(["--server", &server.url(), "--tls", "none"]);
    cmd
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

/// MAIL FROM and RCPT TO lines the server saw, in order.
fn envelope_lines(server: &FakeSmtp) -> Vec<String> {
    server
        .seen()
        .commands
        .iter()
        .filter(|c| c.starts_with("MAIL") || c.starts_with("RCPT"))
        .cloned()
        .collect()
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{:?}\n{}", out.status, text(out).1);
}

/// An accounts file with a `default` account for `server` (and a `from`, when given).
fn config_home(dir: &Path, server: &str, from: Option<&str>) -> PathBuf {
    let from = from
        .map(|f| format!("from = \"{f}\"\n"))
        .unwrap_or_default();
    config_with(dir, server, &from)
}

#[test]
fn the_transmitted_copy_is_the_file_without_bcc_in_crlf() {
    let server = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "m.eml", MESSAGE);
    let out = run(send()
        .args([
            "--server",
            &server.url(),
            "--tls",
            "none",
            "-t",
            "--message",
        ])
        .arg(&file));
    ok(&out);
    // The fake server keeps what arrived between DATA and the final dot, unstuffed: the
    // dot lines arrived intact (an unstuffed "." would have ended the message early).
    let mut want = WIRE.to_vec();
    want.extend_from_slice(b"\r\n");
    assert_eq!(
        String::from_utf8_lossy(&server.seen().messages[0]),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(
        envelope_lines(&server),
        [
            "MAIL FROM:<ann@example.org>",
            "RCPT TO:<bob@example.org>",
            "RCPT TO:<carol@example.org>",
            "RCPT TO:<dave@example.org>",
            "RCPT TO:<eve@example.org>",
            "RCPT TO:<frank@example.org>",
        ]
    );
}

#[test]
fn missing_date_and_message_id_are_added_and_nothing_else() {
    let server = FakeSmtp::start(Behavior::default());
    let input = b"From: ann@example.org\nSubject: s\n\nbody\n";
    let out = run_with_stdin(
        to(&server).args(["--message", "-", "bob@example.org"]),
        input,
    );
    ok(&out);
    let got = String::from_utf8(server.seen().messages[0].clone()).expect("utf-8");
    let (head, body) = got.split_once("\r\n\r\n").expect("a header section");
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[..2], ["From: ann@example.org", "Subject: s"]);
    assert!(
        lines[2].starts_with("Date: ") && lines[2].ends_with(" +0000"),
        "{got}"
    );
    assert!(
        lines[3].starts_with("Message-ID: <") && lines[3].ends_with("@example.org>"),
        "{got}"
    );
    assert_eq!(lines.len(), 4, "{got}");
    assert_eq!(body, "body\r\n");
    assert_eq!(
        envelope_lines(&server),
        ["MAIL FROM:<ann@example.org>", "RCPT TO:<bob@example.org>"]
    );
}

#[test]
fn read_recipients_takes_the_first_resent_block() {
    let server = FakeSmtp::start(Behavior::default());
    let input = b"Resent-From: ann@example.org\n\
Resent-To: new@example.org, Other <other@example.org>\n\
Resent-Cc: copy@example.org\n\
Resent-Bcc: hidden@example.org\n\
Resent-Date: Thu, 03 Dec 2026 11:00:00 +0000\n\
Resent-Message-ID: <r@example.org>\n\
Received: from a.example.org by b.example.org; Thu, 03 Dec 2026 10:30:00 +0000\n\
Resent-To: older@example.org\n\
From: zed@example.org\n\
To: bob@example.org\n\
Bcc: eve@example.org\n\
Date: Thu, 03 Dec 2026 10:00:00 +0000\n\
Message-ID: <m@example.org>\n\
\n\
hi\n";
    let out = run_with_stdin(
        to(&server).args([
            "--message",
            "-",
            "-t",
            "-f",
            "ann@example.org",
            "extra@example.org",
        ]),
        input,
    );
    ok(&out);
    assert_eq!(
        envelope_lines(&server),
        [
            "MAIL FROM:<ann@example.org>",
            "RCPT TO:<extra@example.org>",
            "RCPT TO:<new@example.org>",
            "RCPT TO:<other@example.org>",
            "RCPT TO:<copy@example.org>",
            "RCPT TO:<hidden@example.org>",
        ]
    );
    let got = String::from_utf8(server.seen().messages[0].clone()).expect("utf-8");
    assert!(
        !got.contains("Bcc:") && got.contains("Resent-To: older"),
        "{got}"
    );
}

#[test]
fn the_envelope_sender_is_the_flag_else_the_account_else_from() {
    let server = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "m.eml", MESSAGE);
    let home = config_home(dir.path(), &server.url(), Some("Acct <acct@example.org>"));
    let bare = config_home(&dir.path().join("bare"), &server.url(), None);
    let cases: [(&PathBuf, &[&str], &str); 4] = [
        (
            &home,
            &["-f", "flag@example.org"],
            "MAIL FROM:<flag@example.org>",
        ),
        (&home, &[], "MAIL FROM:<acct@example.org>"),
        (&bare, &[], "MAIL FROM:<ann@example.org>"),
        (&bare, &["-f", "<>"], "MAIL FROM:<>"),
    ];
    for (config, flags, want) in cases {
        let out = run(send()
            .env("XDG_CONFIG_HOME", config)
            .args(["--account", "default", "--message"])
            .arg(&file)
            .args(flags)
            .arg("bob@example.org"));
        ok(&out);
        let commands = envelope_lines(&server);
        assert_eq!(commands[commands.len() - 2], want, "{flags:?}");
    }
}

/// A directory holding a `sendmail` symlink to the postie under test.
fn sendmail_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_postie"), bin.join("sendmail"))
        .expect("symlink");
    bin
}

#[test]
fn sendmail_through_a_symlink_with_t_oi_f() {
    let server = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = sendmail_dir(dir.path());
    let home = config_home(dir.path(), &server.url(), Some("acct@example.org"));
    let mut cmd = Command::new(bin.join("sendmail"));
    cmd.env("XDG_CONFIG_HOME", &home)
        .env("HOME", dir.path())
        .args(["-t", "-oi", "-f", "bounces@example.org"]);
    let out = run_with_stdin(&mut cmd, MESSAGE);
    ok(&out);
    let mut want = WIRE.to_vec();
    want.extend_from_slice(b"\r\n");
    assert_eq!(server.seen().messages[0], want);
    assert_eq!(
        envelope_lines(&server),
        [
            "MAIL FROM:<bounces@example.org>",
            "RCPT TO:<bob@example.org>",
            "RCPT TO:<carol@example.org>",
            "RCPT TO:<dave@example.org>",
            "RCPT TO:<eve@example.org>",
            "RCPT TO:<frank@example.org>",
        ]
    );
}

#[test]
fn sendmail_mode_adds_a_from_named_by_dash_f_capital() {
    let server = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let home = config_home(dir.path(), &server.url(), Some("root@host.example.org"));
    // Debian cron's command line (and its message, which has no From).
    let input = b"To: admin@example.org\nSubject: Cron <root@host> job\n\nout\n";
    let out = run_with_stdin(
        send().env("XDG_CONFIG_HOME", &home).args([
            "--sendmail-args",
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "admin@example.org",
        ]),
        input,
    );
    ok(&out);
    let got = String::from_utf8(server.seen().messages[0].clone()).expect("utf-8");
    assert!(
        got.starts_with("To: admin@example.org\r\nSubject: Cron <root@host> job\r\nFrom: CronDaemon <root@host.example.org>\r\nDate: "),
        "{got}"
    );
    assert_eq!(
        envelope_lines(&server),
        [
            "MAIL FROM:<root@host.example.org>",
            "RCPT TO:<admin@example.org>"
        ]
    );
}

#[test]
fn sendmail_mode_refuses_unknown_options_with_64() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = sendmail_dir(dir.path());
    let out = run(Command::new(bin.join("sendmail"))
        .env("HOME", dir.path())
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null())
        .args(["-t", "-X", "/tmp/log"]));
    assert_eq!(out.status.code(), Some(64), "{}", text(&out).1);
    assert_eq!(text(&out).1, "postie: -X: unknown option\n");
    // The same parser behind `postie send --sendmail-args`; a missing recipient is a usage
    // error too, and in sendmail mode every usage error is 64.
    let out = run(send().args(["--sendmail-args", "-q"]));
    assert_eq!(out.status.code(), Some(64));
    let server = FakeSmtp::start(Behavior::default());
    let home = config_home(dir.path(), &server.url(), None);
    let out = run_with_stdin(
        send()
            .env("XDG_CONFIG_HOME", &home)
            .args(["--sendmail-args", "-oi"]),
        MESSAGE,
    );
    assert_eq!(out.status.code(), Some(64), "{}", text(&out).1);
    assert!(text(&out).1.contains("no recipient"), "{}", text(&out).1);
    assert!(server.seen().commands.is_empty());
}

#[test]
fn eight_bit_content_goes_8bitmime_or_quoted_printable() {
    let body_only = "From: ann@example.org\nSubject: K\n\nGr\u{fc}\u{df}e\n".as_bytes();
    let args = |server: &FakeSmtp| {
        let mut cmd = send();
        cmd.args(["--server", &server.url(), "--tls", "none"])
            .args(["--message", "-", "bob@example.org"]);
        cmd
    };
    let with = FakeSmtp::start(Behavior::default());
    ok(&run_with_stdin(&mut args(&with), body_only));
    assert_eq!(
        envelope_lines(&with)[0],
        "MAIL FROM:<ann@example.org> BODY=8BITMIME"
    );
    assert!(with.seen().messages[0].ends_with("\r\n\r\nGr\u{fc}\u{df}e\r\n".as_bytes()));

    // Without 8BITMIME the body goes quoted-printable (RFC 6152, as Postfix converts).
    let without = FakeSmtp::start(Behavior {
        no_8bitmime: true,
        ..Behavior::default()
    });
    ok(&run_with_stdin(&mut args(&without), body_only));
    let got = String::from_utf8(without.seen().messages[0].clone()).expect("7-bit");
    assert!(
        got.contains("Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n"),
        "{got}"
    );
    assert_eq!(envelope_lines(&without)[0], "MAIL FROM:<ann@example.org>");

    // A part declared base64 holding 8-bit bytes cannot be converted: exit 69, nothing sent.
    let without = FakeSmtp::start(Behavior {
        no_8bitmime: true,
        ..Behavior::default()
    });
    let base64 = "From: ann@example.org\nSubject: K\nMIME-Version: 1.0\n\
Content-Transfer-Encoding: base64\n\nGr\u{fc}\u{df}e\n";
    let out = run_with_stdin(&mut args(&without), base64.as_bytes());
    assert_eq!(out.status.code(), Some(69), "{}", text(&out).1);
    assert!(
        text(&out).1.contains("does not offer 8BITMIME"),
        "{}",
        text(&out).1
    );
    assert!(without.seen().messages.is_empty());
    assert!(!without.seen().commands.iter().any(|c| c == "DATA"));

    // An 8-bit header needs SMTPUTF8 (RFC 6531), whatever the body: exit 65, nothing sent.
    let header = "From: ann@example.org\nSubject: K\u{e4}se\n\nx\n".as_bytes();
    let plain = FakeSmtp::start(Behavior::default());
    let out = run_with_stdin(&mut args(&plain), header);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out).1);
    assert!(text(&out).1.contains("the Subject header needs SMTPUTF8"));
    assert!(!plain.seen().commands.iter().any(|c| c.starts_with("MAIL")));
}

#[test]
fn dry_run_prints_the_transmitted_copy_and_compose_flags_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "m.eml", MESSAGE);
    let out = run(send().args(["--dry-run", "-t", "--message"]).arg(&file));
    ok(&out);
    assert_eq!(out.stdout, WIRE);
    let out = run(send()
        .args(["--dry-run", "--subject", "x", "--message"])
        .arg(&file));
    assert_eq!(out.status.code(), Some(2));
    let out = run(send().args(["--message", "/nonexistent/m.eml", "b@example.org"]));
    assert_eq!(out.status.code(), Some(26), "{}", text(&out).1);
}

// ---- real peers (POSTIE_INTEROP=1) ----

#[test]
fn aiosmtpd_receives_the_file_byte_for_byte() {
    if !require_peer(
        "aiosmtpd_receives_the_file_byte_for_byte",
        "aiosmtpd in the venv",
        sink_python().is_some(),
    ) {
        return;
    }
    let sink = Sink::start("plain", None, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "m.eml", MESSAGE);
    let out = run(send()
        .args([
            "--server",
            &sink.url("smtp"),
            "--tls",
            "none",
            "-t",
            "--message",
        ])
        .arg(&file));
    ok(&out);
    let stored = sink.stored();
    assert_eq!(stored.len(), 1);
    // original_content: the bytes between DATA and the final dot, unstuffed, with the CRLF
    // that ends the last line.
    let mut want = WIRE.to_vec();
    want.extend_from_slice(b"\r\n");
    assert_eq!(
        String::from_utf8_lossy(&stored[0].bytes()),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(stored[0].mail_from, "ann@example.org");
    assert_eq!(
        stored[0].rcpt_tos,
        [
            "bob@example.org",
            "carol@example.org",
            "dave@example.org",
            "eve@example.org",
            "frank@example.org"
        ]
    );
}

#[test]
fn postfix_delivers_the_file_byte_for_byte() {
    if !require_peer(
        "postfix_delivers_the_file_byte_for_byte",
        "postfix (root)",
        smtp_postfix::available(),
    ) {
        return;
    }
    let certs = Certs::make();
    let pf = smtp_postfix::Postfix::start(&certs, "ann", "pf-pw");
    let dir = tempfile::tempdir().expect("tempdir");
    // Postfix's mailboxes are bob and carol; the Bcc'd carol gets it without a Bcc field.
    let message = String::from_utf8_lossy(MESSAGE)
        .replace("dave@", "bob@")
        .replace("eve@", "carol@")
        .replace("frank@", "carol@");
    let file = write(dir.path(), "m.eml", message.as_bytes());
    let out = run(send()
        .args([
            "--server",
            &pf.strict_url(),
            "--tls",
            "none",
            "-t",
            "--timeout",
            "15",
        ])
        .arg("--message")
        .arg(&file));
    ok(&out);
    pf.wait_for_delivery(&["bob", "carol"], 1, std::time::Duration::from_secs(30));
    // Postfix stores LF line ends and puts its own fields first.
    let want = String::from_utf8_lossy(WIRE)
        .replace("dave@", "bob@")
        .replace("\r\n", "\n")
        + "\n";
    for user in ["bob", "carol"] {
        let got = String::from_utf8(pf.delivered_raw(user).remove(0)).expect("utf-8");
        let start = got.find("From: Ann").expect("the message's first field");
        assert_eq!(&got[start..], want, "{user}");
        assert!(got[..start].contains("Received: "), "{got}");
    }
}

/// A git repository with one commit, and its patch.
fn git_patch(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&repo)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", text(&out).1);
    };
    git(&["init", "-q"]);
    git(&["config", "user.email", "ann@example.org"]);
    git(&["config", "user.name", "Ann"]);
    write(&repo, "a.txt", b"one\n.two\n");
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-m", "Add a.txt"]);
    git(&["format-patch", "-1", "-o", "../patches"]);
    std::fs::read_dir(dir.join("patches"))
        .expect("patches")
        .next()
        .expect("one patch")
        .expect("entry")
        .path()
}

#[test]
fn git_send_email_delivers_a_patch_through_postie() {
    let have_git = Command::new("git")
        .args(["send-email", "-h"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("send-email"));
    if !require_peer(
        "git_send_email_delivers_a_patch_through_postie",
        "git send-email (Debian git-email) and aiosmtpd",
        have_git && sink_python().is_some(),
    ) {
        return;
    }
    let sink = Sink::start("plain", None, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = git_patch(dir.path());
    let home = config_home(dir.path(), &sink.url("smtp"), None);
    let cmd = format!("{} send --sendmail-args", env!("CARGO_BIN_EXE_postie"));
    let out = run(Command::new("git")
        .current_dir(dir.path().join("repo"))
        .env("HOME", dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("XDG_CONFIG_HOME", &home)
        .args([
            "send-email",
            "--confirm=never",
            "--quiet",
            "--suppress-cc=self",
        ])
        .args(["--sendmail-cmd", &cmd])
        .args(["--to", "bob@example.org", "--from", "Ann <ann@example.org>"])
        .arg(&patch));
    ok(&out);
    let stored = sink.stored();
    assert_eq!(stored.len(), 1, "{}", text(&out).1);
    assert_eq!(stored[0].mail_from, "ann@example.org");
    assert_eq!(stored[0].rcpt_tos, ["bob@example.org"]);
    let got = String::from_utf8(stored[0].bytes()).expect("utf-8");
    assert!(got.contains("Subject: [PATCH] Add a.txt\r\n"), "{got}");
    assert!(got.contains("\r\n+.two\r\n"), "{got}");
}

#[test]
fn mailx_delivers_through_postie_as_sendmail() {
    let have = Path::new("/usr/bin/bsd-mailx").exists() && common::which("unshare").is_some();
    if !require_peer(
        "mailx_delivers_through_postie_as_sendmail",
        "bsd-mailx (Debian), unshare (root) and aiosmtpd",
        have && smtp_postfix::available() && sink_python().is_some(),
    ) {
        return;
    }
    let sink = Sink::start("plain", None, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let home = config_home(dir.path(), &sink.url("smtp"), Some("ann@example.org"));
    // bsd-mailx runs /usr/sbin/sendmail by its full path (no `sendmail` variable, no PATH
    // search): in a mount namespace of its own, postie is bound over that path, as a
    // `ln -s` there would install it.
    let script = r#"mount --bind "$POSTIE" /usr/sbin/sendmail && exec /usr/bin/bsd-mailx "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .args(["-s", "hello from mailx", "bob@example.org"])
        .env("POSTIE", env!("CARGO_BIN_EXE_postie"))
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", &home);
    let out = run_with_stdin(&mut cmd, b"the body\n.leading dot\n");
    ok(&out);
    let stored = sink.stored();
    assert_eq!(stored.len(), 1, "{}", text(&out).1);
    assert_eq!(stored[0].mail_from, "ann@example.org");
    assert_eq!(stored[0].rcpt_tos, ["bob@example.org"]);
    let got = String::from_utf8(stored[0].bytes()).expect("utf-8");
    assert!(got.contains("Subject: hello from mailx\r\n"), "{got}");
    assert!(
        got.ends_with("\r\n\r\nthe body\r\n.leading dot\r\n"),
        "{got}"
    );
}

// ---- system mail: --from-policy, aliases, the delivery log (issue 20) ----

/// An accounts file whose `default` account has `extra` keys too.
fn config_with(dir: &Path, server: &str, extra: &str) -> PathBuf {
    let home = dir.join("config");
    std::fs::create_dir_all(home.join("postie")).expect("mkdir");
    let text = format!("[account.default]\nserver = \"{server}\"\ntls = \"none\"\n{extra}");
    write(&home.join("postie"), "config.toml", text.as_bytes());
    home
}

#[test]
fn cron_mail_through_sendmail_with_aliases_from_policy_and_a_log() {
    let server = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let aliases = write(
        dir.path(),
        "aliases",
        b"# who gets what\nroot: admin@example.org\n",
    );
    let log = dir.path().join("postie.log");
    let extra = format!(
        "from = \"me@example.org\"\nfrom_policy = \"account\"\naliases = \"{}\"\nlog = \"{}\"\n",
        aliases.display(),
        log.display()
    );
    let home = config_with(dir.path(), &server.url(), &extra);
    let bin = sendmail_dir(dir.path());
    // What Debian's cron pipes to /usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem root.
    let input = b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> df\n\nout\n";
    let mut cmd = Command::new(bin.join("sendmail"));
    cmd.env("XDG_CONFIG_HOME", &home)
        .env("HOME", dir.path())
        .args(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"]);
    let out = run_with_stdin(&mut cmd, input);
    ok(&out);
    assert_eq!(
        envelope_lines(&server),
        ["MAIL FROM:<me@example.org>", "RCPT TO:<admin@example.org>"]
    );
    let got = String::from_utf8(server.seen().messages[0].clone()).expect("utf-8");
    assert!(
        got.starts_with("To: root\r\nSubject: Cron <root@host> df\r\nFrom: CronDaemon <me@example.org>\r\nDate: "),
        "{got}"
    );
    let line = std::fs::read_to_string(&log).expect("the log");
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains(" account=default server=127.0.0.1:")
            && line.contains(" from=me@example.org recipients=admin@example.org mailsize=")
            && line.contains(" smtpstatus=250 smtpmsg='250 2.0.0 Ok: queued' exitcode=EX_OK"),
        "{line}"
    );
    // -t reads `To: root` and the aliases map it the same way.
    let mut cmd = Command::new(bin.join("sendmail"));
    cmd.env("XDG_CONFIG_HOME", &home)
        .env("HOME", dir.path())
        .args(["-t", "-oi"]);
    ok(&run_with_stdin(&mut cmd, input));
    assert_eq!(
        envelope_lines(&server)[2..],
        ["MAIL FROM:<me@example.org>", "RCPT TO:<admin@example.org>"]
    );
}

#[test]
fn from_policy_envelope_keeps_the_display_name() {
    let server = FakeSmtp::start(Behavior::default());
    let input = b"From: root (Cron Daemon)\nTo: a@example.org\n\nx\n";
    let out = run_with_stdin(
        to(&server).args([
            "--message",
            "-",
            "-t",
            "-f",
            "bounce@example.org",
            "--from-policy",
            "envelope",
        ]),
        input,
    );
    ok(&out);
    let got = String::from_utf8(server.seen().messages[0].clone()).expect("utf-8");
    assert!(
        got.starts_with("To: a@example.org\r\nFrom: Cron Daemon <bounce@example.org>\r\n"),
        "{got}"
    );
    // keep (the default) leaves it alone.
    let out = run_with_stdin(
        to(&server).args(["--message", "-", "-t"]),
        b"From: ann@example.org\nTo: a@example.org\n\nx\n",
    );
    ok(&out);
    let got = String::from_utf8(server.seen().messages[1].clone()).expect("utf-8");
    assert!(
        got.starts_with("From: ann@example.org\r\nTo: a@example.org\r\nDate: "),
        "{got}"
    );
}

#[test]
fn the_log_records_a_failure_with_its_exit_code_and_no_secret() {
    let server = FakeSmtp::start(Behavior {
        offer_auth: true,
        ..Behavior::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("postie.log");
    let extra = format!(
        "user = \"ann\"\npassword_env = \"PW\"\nlog = \"{}\"\n",
        log.display()
    );
    let home = config_with(dir.path(), &server.url(), &extra);
    let out = run_with_stdin(
        send()
            .env("XDG_CONFIG_HOME", &home)
            .env("PW", "s3cret-pw")
            .args([
                "--account",
                "default",
                "--allow-insecure-auth",
                "--message",
                "-",
            ])
            .arg("later@example.org"),
        MESSAGE,
    );
    assert_eq!(out.status.code(), Some(75), "{}", text(&out).1);
    let line = std::fs::read_to_string(&log).expect("the log");
    assert!(
        line.contains(" from=ann@example.org recipients=later@example.org ")
            && line.contains(" errormsg='")
            && line.ends_with(" exitcode=EX_TEMPFAIL\n"),
        "{line}"
    );
    // Neither the password nor the AUTH PLAIN payload that carries it (base64 on the wire).
    assert!(
        !line.contains("s3cret") && !line.contains("AGFubgBzM2NyZXQtcHc="),
        "{line}"
    );
}

/// The flags for a prepared message also go with `--sendmail-args` (cron through a wrapper:
/// `postie send --from-policy envelope --sendmail-args -t -f ...`).
#[test]
fn message_flags_go_with_sendmail_args() {
    let server = FakeSmtp::start(Behavior::default());
    let out = run_with_stdin(
        send()
            .args(["--server", &server.url(), "--tls", "none"])
            .args(["--from-policy", "envelope", "--full-name", "Cron Daemon"])
            .args(["--sendmail-args", "-t", "-f", "ann@example.org"]),
        b"From: root (Cron Daemon)\nTo: bob@example.org\nSubject: cron\n\nout\n",
    );
    ok(&out);
    let got = String::from_utf8(server.seen().messages[0].clone()).expect("utf-8");
    assert!(
        got.contains("From: Cron Daemon <ann@example.org>\r\n"),
        "{got}"
    );
}
