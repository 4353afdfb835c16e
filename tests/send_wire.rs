//! `postie send` on the wire (issue 15's UTF-8, DSN and DKIM parts; issue 20's body
//! charsets): the exact MAIL and RCPT lines an in-process server received, refusals before
//! MAIL FROM with nothing sent, the bytes of unknown-8bit bodies; with POSTIE_INTEROP=1,
//! aiosmtpd with SMTPUTF8, dkimpy verifying RSA and Ed25519 signatures, and Postfix
//! accepting the DSN parameters.

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

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use common::{postie, require_peer, run, run_with_stdin, text};
use mail_parser::MessageParser;
use smtp_fake::{Behavior, FakeSmtp};
use smtp_peers::{Sink, sink_python};

fn send() -> Command {
    let mut cmd = postie();
    cmd.arg("send").stdin(Stdio::null());
    cmd
}

fn to_server(url: &str) -> Command {
    let mut cmd = send();
    cmd.args(["--server", url, "--tls", "none", "--timeout", "10"]);
    cmd
}

fn assert_code(out: &Output, want: i32) {
    let (o, e) = text(out);
    assert_eq!(out.status.code(), Some(want), "stdout: {o}\nstderr: {e}");
}

/// One message from `from` to `to` with a short body, through `fake`.
fn send_one(fake: &FakeSmtp, from: &str, to: &str) -> Output {
    run(to_server(&fake.url()).args(["--from", from, "--to", to, "--body", "hi"]))
}

/// The commands the fake server saw from MAIL on.
fn transaction(fake: &FakeSmtp) -> Vec<String> {
    let seen = fake.seen();
    let start = seen
        .commands
        .iter()
        .position(|c| c.starts_with("MAIL"))
        .unwrap_or(seen.commands.len());
    seen.commands[start..].to_vec()
}

// ---- DSN -------------------------------------------------------------------------------

#[test]
fn dsn_parameters_go_on_mail_and_every_rcpt() {
    let fake = FakeSmtp::start(Behavior {
        offer_dsn: true,
        ..Behavior::default()
    });
    let out = run(to_server(&fake.url()).args([
        "--from",
        "ann@example.org",
        "--to",
        "bob@example.org",
        "--bcc",
        "carol@example.org",
        "--body",
        "hi",
        "--notify",
        "failure,delay",
        "--ret",
        "hdrs",
        "--envid",
        "job=42 +x",
    ]));
    assert_code(&out, 0);
    assert_eq!(
        transaction(&fake)[..3],
        [
            "MAIL FROM:<ann@example.org> RET=HDRS ENVID=job+3D42+20+2Bx",
            "RCPT TO:<bob@example.org> NOTIFY=FAILURE,DELAY",
            "RCPT TO:<carol@example.org> NOTIFY=FAILURE,DELAY",
        ]
    );
    let (_, stderr) = text(&out);
    assert!(!stderr.contains("warning"), "{stderr}");
    // --notify never alone.
    let out = run(to_server(&fake.url()).args([
        "--from",
        "ann@example.org",
        "--to",
        "bob@example.org",
        "--body",
        "hi",
        "--notify",
        "never",
    ]));
    assert_code(&out, 0);
    let t = transaction(&fake);
    assert!(
        t.contains(&"MAIL FROM:<ann@example.org>".to_owned())
            && t.contains(&"RCPT TO:<bob@example.org> NOTIFY=NEVER".to_owned()),
        "{t:?}"
    );
}

#[test]
fn without_dsn_a_warning_and_the_mail_is_sent_unless_required() {
    let fake = FakeSmtp::start(Behavior::default());
    let args = [
        "--from",
        "ann@example.org",
        "--to",
        "bob@example.org",
        "--body",
        "hi",
        "--notify",
        "success",
        "--envid",
        "E1",
    ];
    let out = run(to_server(&fake.url()).args(args));
    assert_code(&out, 0);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("postie: warning:") && stderr.contains("does not offer DSN"),
        "{stderr}"
    );
    assert_eq!(
        transaction(&fake)[..2],
        ["MAIL FROM:<ann@example.org>", "RCPT TO:<bob@example.org>"]
    );
    assert_eq!(fake.seen().messages.len(), 1);

    let fake = FakeSmtp::start(Behavior::default());
    let out = run(to_server(&fake.url()).args(args).arg("--require-dsn"));
    assert_code(&out, 69);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("does not offer DSN") && stderr.contains("--require-dsn"),
        "{stderr}"
    );
    assert!(
        transaction(&fake).iter().all(|c| !c.starts_with("RCPT")),
        "{:?}",
        fake.seen().commands
    );
    assert!(transaction(&fake).is_empty(), "{:?}", fake.seen().commands);
    assert!(fake.seen().messages.is_empty());
}

#[test]
fn bad_dsn_values_are_usage_errors() {
    for (flag, value) in [
        ("--notify", "never,success"),
        ("--notify", "always"),
        ("--ret", "body"),
        ("--envid", "caf\u{e9}"),
    ] {
        let out = run(send().args([
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--body",
            "x",
            "--dry-run",
            flag,
            value,
        ]));
        assert_code(&out, 2);
        assert!(
            text(&out).1.contains(flag),
            "{flag} {value}: {:?}",
            text(&out)
        );
    }
}

#[test]
fn read_receipts_only_when_asked() {
    let dry = |extra: &[&str]| {
        let out = run(send()
            .args(["--from", "a@example.org", "--to", "b@example.org"])
            .args(["--body", "x", "--dry-run"])
            .args(extra));
        assert_code(&out, 0);
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert!(
        !dry(&[])
            .to_ascii_lowercase()
            .contains("disposition-notification")
    );
    let m = dry(&["--disposition-notification-to", "Ann <ann@bücher.example>"]);
    assert!(
        m.contains("\r\nDisposition-Notification-To: ann@xn--bcher-kva.example\r\n"),
        "{m}"
    );
}

// ---- UTF-8 addresses -----------------------------------------------------------------

#[test]
fn a_utf8_local_part_without_smtputf8_exits_65_and_sends_nothing() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = send_one(&fake, "ann@example.org", "jörg@bücher.example");
    assert_code(&out, 65);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("jörg@xn--bcher-kva.example needs SMTPUTF8")
            && stderr.contains("nothing was sent"),
        "{stderr}"
    );
    assert!(transaction(&fake).is_empty(), "{:?}", fake.seen().commands);
    assert!(fake.seen().messages.is_empty());
}

#[test]
fn an_idn_domain_alone_needs_no_smtputf8() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = send_one(&fake, "Ann <ann@例え.テスト>", "bob@bücher.example");
    assert_code(&out, 0);
    assert_eq!(
        transaction(&fake)[..2],
        [
            "MAIL FROM:<ann@xn--r8jz45g.xn--zckzah>",
            "RCPT TO:<bob@xn--bcher-kva.example>"
        ]
    );
    let message = fake.seen().messages[0].clone();
    assert!(message.is_ascii(), "{}", String::from_utf8_lossy(&message));
    let m = String::from_utf8(message).expect("ascii");
    assert!(
        m.contains("From: Ann <ann@xn--r8jz45g.xn--zckzah>\r\n"),
        "{m}"
    );
    assert!(m.contains("To: bob@xn--bcher-kva.example\r\n"), "{m}");
}

#[test]
fn a_utf8_local_part_uses_smtputf8_when_offered() {
    let fake = FakeSmtp::start(Behavior {
        offer_smtputf8: true,
        ..Behavior::default()
    });
    let out = send_one(&fake, "ann@example.org", "jörg@bücher.example");
    assert_code(&out, 0);
    assert_eq!(
        transaction(&fake)[..2],
        [
            "MAIL FROM:<ann@example.org> BODY=8BITMIME SMTPUTF8",
            "RCPT TO:<jörg@xn--bcher-kva.example>"
        ]
    );
    let message = fake.seen().messages[0].clone();
    let m = String::from_utf8(message).expect("utf-8");
    assert!(m.contains("\r\nTo: jörg@xn--bcher-kva.example\r\n"), "{m}");
}

#[test]
fn eight_bit_only_when_asked_and_offered() {
    let send_8bit = |fake: &FakeSmtp, extra: &[&str]| {
        let dir = tempfile::tempdir().expect("tempdir");
        let batch = dir.path().join("b.jsonl");
        std::fs::write(&batch, "{\"body\": \"Grüße aus Köln\"}\n").expect("batch");
        let out = run(to_server(&fake.url())
            .args(["--from", "a@example.org", "--to", "b@example.org"])
            .args(extra)
            .arg("--batch")
            .arg(&batch));
        assert_code(&out, 0);
        let out = run(to_server(&fake.url())
            .args(["--from", "a@example.org", "--to", "b@example.org"])
            .args(["--body", "Grüße aus Köln"])
            .args(extra));
        assert_code(&out, 0);
        let seen = fake.seen();
        let mails: Vec<&String> = seen
            .commands
            .iter()
            .filter(|c| c.starts_with("MAIL"))
            .collect();
        (
            mails.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            seen.messages.clone(),
        )
    };
    // Offered and asked for: 8bit text, BODY=8BITMIME.
    let fake = FakeSmtp::start(Behavior::default());
    let (mails, messages) = send_8bit(&fake, &["--8bit"]);
    for (mail, m) in mails.iter().zip(&messages) {
        assert_eq!(mail, "MAIL FROM:<a@example.org> BODY=8BITMIME");
        let m = String::from_utf8(m.clone()).expect("utf-8");
        assert!(
            m.contains("Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n"),
            "{m}"
        );
    }
    // Not asked for, or not offered: 7-bit as before.
    let fake = FakeSmtp::start(Behavior::default());
    let (_, messages) = send_8bit(&fake, &[]);
    let fake2 = FakeSmtp::start(Behavior {
        no_8bitmime: true,
        ..Behavior::default()
    });
    let (mails, messages2) = send_8bit(&fake2, &["--8bit"]);
    assert_eq!(
        mails,
        ["MAIL FROM:<a@example.org>", "MAIL FROM:<a@example.org>"]
    );
    for m in messages.iter().chain(&messages2) {
        assert!(m.is_ascii(), "{}", String::from_utf8_lossy(m));
    }
    assert_eq!(messages2.len(), 2);
}

// ---- body charsets (issue 20) --------------------------------------------------------

const LATIN1: &[u8] = b"Gr\xfc\xdfe aus K\xf6ln\nna=ive \xe9t\xe9\n";

#[test]
fn a_latin1_body_with_body_charset_is_sent_as_its_text() {
    let fake = FakeSmtp::start(Behavior::default());
    let out = run_with_stdin(
        to_server(&fake.url())
            .args(["--from", "a@example.org", "--to", "b@example.org"])
            .args(["--body-charset", "latin-1"]),
        LATIN1,
    );
    assert_code(&out, 0);
    assert!(!text(&out).1.contains("warning"), "{:?}", text(&out));
    let message = fake.seen().messages[0].clone();
    assert!(message.is_ascii(), "7-bit on the wire");
    let parsed = MessageParser::default().parse(&message).expect("parse");
    assert_eq!(
        parsed.body_text(0).as_deref(),
        Some("Grüße aus Köln\r\nna=ive été\r\n")
    );
    // A wrong declaration is refused, naming the charset and the input.
    let out = run_with_stdin(
        send()
            .args([
                "--from",
                "a@example.org",
                "--to",
                "b@example.org",
                "--dry-run",
            ])
            .args(["--body-charset", "utf-8"]),
        LATIN1,
    );
    assert_code(&out, 2);
    assert!(
        text(&out).1.contains("stdin is not valid UTF-8"),
        "{:?}",
        text(&out)
    );
}

/// Decodes quoted-printable (RFC 2045 6.7) for the checks below.
fn unquote(qp: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < qp.len() {
        match qp[i] {
            b'=' if qp[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' => {
                let hex = std::str::from_utf8(&qp[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[test]
fn an_undeclared_8bit_body_goes_unchanged_as_unknown_8bit() {
    let fake = FakeSmtp::start(Behavior::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let body = dir.path().join("cron.txt");
    std::fs::write(&body, LATIN1).expect("write");
    let out = run(to_server(&fake.url())
        .args(["--from", "a@example.org", "--to", "b@example.org"])
        .arg("--body-file")
        .arg(&body));
    assert_code(&out, 0);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("postie: warning: --body-file") && stderr.contains("charset=unknown-8bit"),
        "{stderr}"
    );
    let message = fake.seen().messages[0].clone();
    assert!(message.is_ascii(), "7-bit on the wire");
    let m = String::from_utf8(message).expect("ascii");
    let head = "Content-Type: text/plain; charset=unknown-8bit\r\n\
                Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    let at = m.find(head).unwrap_or_else(|| panic!("{m}"));
    let qp = &m.as_bytes()[at + head.len()..];
    assert_eq!(
        unquote(qp),
        b"Gr\xfc\xdfe aus K\xf6ln\r\nna=ive \xe9t\xe9\r\n"
    );
}

// ---- DKIM ------------------------------------------------------------------------------

struct Keys {
    dir: tempfile::TempDir,
    /// Key file, DNS TXT record.
    rsa: (PathBuf, String),
    ed25519: (PathBuf, String),
}

fn private(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write key");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn keys() -> Keys {
    use openssl::pkey::PKey;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("rsa")).expect("pkey");
    let rsa_path = dir.path().join("rsa.pem");
    private(&rsa_path, &rsa.private_key_to_pem_pkcs8().expect("pem"));
    let rsa_txt = format!(
        "v=DKIM1; k=rsa; p={}",
        b64(&rsa.public_key_to_der().expect("der"))
    );
    let ed = PKey::generate_ed25519().expect("ed25519");
    let ed_path = dir.path().join("ed.pem");
    private(&ed_path, &ed.private_key_to_pem_pkcs8().expect("pem"));
    let ed_txt = format!(
        "v=DKIM1; k=ed25519; p={}",
        b64(&ed.raw_public_key().expect("raw"))
    );
    Keys {
        dir,
        rsa: (rsa_path, rsa_txt),
        ed25519: (ed_path, ed_txt),
    }
}

fn signed_dry_run(key: &Path, extra: &[&str]) -> Output {
    run(send()
        .args([
            "--from",
            "Ann <ann@example.org>",
            "--to",
            "Bob Ö <bob@example.net>",
        ])
        .args([
            "--subject",
            "Grüße  aus   Köln",
            "--body",
            "hello  world  \n\n",
        ])
        .args([
            "--dry-run",
            "--dkim-domain",
            "example.org",
            "--dkim-selector",
            "s1",
        ])
        .arg("--dkim-key")
        .arg(key)
        .args(extra))
}

#[test]
fn dry_run_and_save_hold_the_signed_message() {
    let k = keys();
    let saved = k.dir.path().join("copy.eml");
    let out = signed_dry_run(&k.ed25519.0, &["--save", saved.to_str().expect("utf-8")]);
    assert_code(&out, 0);
    assert!(
        out.stdout.starts_with(
            b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\r\n\ts=s1; t="
        ),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(std::fs::read(&saved).expect("saved"), out.stdout);
    let out = signed_dry_run(&k.rsa.0, &[]);
    assert_code(&out, 0);
    assert!(
        out.stdout
            .starts_with(b"DKIM-Signature: v=1; a=rsa-sha256;")
    );
}

#[test]
fn dkim_key_files_are_checked() {
    let k = keys();
    std::fs::set_permissions(&k.rsa.0, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = signed_dry_run(&k.rsa.0, &[]);
    assert_code(&out, 78);
    assert!(
        text(&out)
            .1
            .contains("readable by others (mode 644); run: chmod 600"),
        "{:?}",
        text(&out)
    );
    assert!(out.stdout.is_empty());
    let junk = k.dir.path().join("junk.pem");
    private(&junk, b"not a key\n");
    assert_code(&signed_dry_run(&junk, &[]), 78);
    assert_code(&signed_dry_run(&k.dir.path().join("missing.pem"), &[]), 26);
    let out = run(send()
        .args([
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--body",
            "x",
        ])
        .args(["--dry-run", "--dkim-key"])
        .arg(&k.ed25519.0));
    assert_code(&out, 2);
    assert!(text(&out).1.contains("--dkim-domain"), "{:?}", text(&out));
}

#[test]
fn batch_messages_are_signed_and_account_keys_work() {
    let k = keys();
    let fake = FakeSmtp::start(Behavior::default());
    std::fs::create_dir_all(k.dir.path().join("postie")).expect("mkdir");
    let config = k.dir.path().join("postie/config.toml");
    std::fs::write(
        &config,
        format!(
            "[account.work]\nserver = \"{}\"\ntls = \"none\"\nfrom = \"ann@example.org\"\n\
             dkim_key = \"{}\"\ndkim_domain = \"example.org\"\ndkim_selector = \"s1\"\n",
            fake.url(),
            k.ed25519.0.display()
        ),
    )
    .expect("config");
    let batch = k.dir.path().join("b.jsonl");
    std::fs::write(
        &batch,
        "{\"to\": \"b@example.org\", \"body\": \"one\"}\n{\"to\": \"c@example.org\", \"body\": \"two\"}\n",
    )
    .expect("batch");
    let out = run(send()
        .env("XDG_CONFIG_HOME", k.dir.path())
        .args(["--account", "work", "--batch"])
        .arg(&batch));
    assert_code(&out, 0);
    let seen = fake.seen();
    assert_eq!(seen.messages.len(), 2);
    for m in &seen.messages {
        assert!(m.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256;"));
    }
}

// ---- interop ---------------------------------------------------------------------------

fn have_sink(test: &str) -> bool {
    require_peer(test, "aiosmtpd (venv)", sink_python().is_some())
}

#[test]
fn aiosmtpd_smtputf8_receives_a_utf8_local_part_and_idn_domain_exactly() {
    if !have_sink("aiosmtpd_smtputf8_receives_a_utf8_local_part_and_idn_domain_exactly") {
        return;
    }
    // aiosmtpd offers SMTPUTF8 by default (its Controller sets enable_SMTPUTF8).
    let sink = Sink::start("plain", None, None);
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("sent.eml");
    let out = run(to_server(&sink.url("smtp"))
        .args([
            "--from",
            "Ann <ann@example.org>",
            "--to",
            "jörg@bücher.example",
        ])
        .args(["--subject", "Grüße", "--body", "hallo\n", "--save"])
        .arg(&saved));
    assert_code(&out, 0);
    let stored = sink.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].mail_from, "ann@example.org");
    assert_eq!(stored[0].rcpt_tos, ["jörg@xn--bcher-kva.example"]);
    assert!(
        stored[0].mail_options.iter().any(|o| o == "SMTPUTF8"),
        "{:?}",
        stored[0].mail_options
    );
    let got = stored[0].bytes();
    assert_eq!(got, std::fs::read(&saved).expect("saved"));
    assert!(
        got.windows(35)
            .any(|w| w == "\r\nTo: jörg@xn--bcher-kva.example\r\n".as_bytes()),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // The same sink without SMTPUTF8 gets nothing and postie exits 65.
    let plain = Sink::start_with("plain", None, None, &["--no-smtputf8"]);
    let out = run(to_server(&plain.url("smtp")).args([
        "--from",
        "ann@example.org",
        "--to",
        "jörg@bücher.example",
        "--body",
        "x",
    ]));
    assert_code(&out, 65);
    assert!(plain.stored().is_empty());
}

#[test]
fn aiosmtpd_latin1_body_arrives_decodable() {
    if !have_sink("aiosmtpd_latin1_body_arrives_decodable") {
        return;
    }
    let sink = Sink::start("plain", None, None);
    let out = run_with_stdin(
        to_server(&sink.url("smtp"))
            .args(["--from", "a@example.org", "--to", "b@example.org"])
            .args(["--body-charset", "cp1252"]),
        b"Caf\xe9 \x80 5\n",
    );
    assert_code(&out, 0);
    let out2 = run_with_stdin(
        to_server(&sink.url("smtp")).args(["--from", "a@example.org", "--to", "b@example.org"]),
        b"raw \xff\xfe bytes\n",
    );
    assert_code(&out2, 0);
    let stored = sink.stored();
    assert_eq!(stored.len(), 2);
    let python = sink_python().expect("python");
    let check = "import sys, email, email.policy\n\
                 m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)\n\
                 p = m.get_body(('plain',))\n\
                 print(p.get_content_charset()); sys.stdout.flush()\n\
                 sys.stdout.buffer.write(p.get_payload(decode=True))\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let mut results = Vec::new();
    for (i, s) in stored.iter().enumerate() {
        let path = dir.path().join(format!("{i}.eml"));
        std::fs::write(&path, s.bytes()).expect("write");
        let out = run(Command::new(&python).args(["-c", check]).arg(&path));
        assert_code(&out, 0);
        results.push(out.stdout);
    }
    assert_eq!(results[0], "utf-8\nCafé € 5\r\n".as_bytes());
    assert_eq!(results[1], b"unknown-8bit\nraw \xff\xfe bytes\r\n");
}

/// dkimpy's verdict on `message`, the key record served by its `dnsfunc` hook.
fn dkimpy_verify(python: &Path, message: &[u8], txt: &str) -> bool {
    let script = "import sys, dkim\n\
                  msg = sys.stdin.buffer.read()\n\
                  txt = sys.argv[1].encode()\n\
                  def dns(name, timeout=5):\n\
                  \x20   return txt if name == b's1._domainkey.example.org.' else None\n\
                  print('pass' if dkim.verify(msg, dnsfunc=dns) else 'fail')\n";
    let out = run_with_stdin(Command::new(python).args(["-c", script, txt]), message);
    assert_code(&out, 0);
    text(&out).0.trim() == "pass"
}

#[test]
fn dkimpy_verifies_rsa_and_ed25519_signatures() {
    let python = common::venv_bin("python").filter(|p| {
        Command::new(p)
            .args(["-c", "import dkim, nacl"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !require_peer(
        "dkimpy_verifies_rsa_and_ed25519_signatures",
        "dkimpy with PyNaCl (venv)",
        python.is_some(),
    ) {
        return;
    }
    let python = python.expect("python");
    let k = keys();
    for (key, txt) in [&k.rsa, &k.ed25519] {
        let out = signed_dry_run(key, &["-H", "X-Mailer: postie"]);
        assert_code(&out, 0);
        let signed = out.stdout;
        assert!(
            dkimpy_verify(&python, &signed, txt),
            "{}",
            String::from_utf8_lossy(&signed)
        );
        // Altered in transit: a signed header changed, a From added, the body changed.
        let changed = String::from_utf8(signed.clone()).expect("ascii");
        for altered in [
            changed.replacen("Subject: ", "Subject: Re: ", 1),
            changed.replacen("\r\nFrom: ", "\r\nFrom: Eve <eve@example.org>\r\nFrom: ", 1),
            changed.replacen("hello", "jello", 1),
        ] {
            assert_ne!(altered, changed);
            assert!(
                !dkimpy_verify(&python, altered.as_bytes(), txt),
                "{altered}"
            );
        }
        // An unsigned header (X-Mailer) may change; the relaxed canonicalization takes
        // re-folded whitespace.
        let refolded = changed.replacen("X-Mailer: postie", "X-Mailer:   postie 2", 1);
        assert!(
            dkimpy_verify(&python, refolded.as_bytes(), txt),
            "{refolded}"
        );
    }
}

#[test]
fn postfix_accepts_the_dsn_parameters() {
    if !require_peer(
        "postfix_accepts_the_dsn_parameters",
        "postfix, saslpasswd2, openssl, running as root",
        smtp_postfix::available(),
    ) {
        return;
    }
    let certs = smtp_peers::Certs::make();
    let pf = smtp_postfix::Postfix::start(&certs, "ann", "pf-pw");
    pf.postconf(&["debug_peer_list = 127.0.0.1", "debug_peer_level = 2"]);
    let out = run(send()
        .args([
            "--server",
            &pf.strict_url(),
            "--tls",
            "none",
            "--timeout",
            "15",
        ])
        .args(["--from", "carol@example.org", "--to", "bob@example.org"])
        .args([
            "--subject",
            "dsn",
            "--body",
            "hi",
            "--notify",
            "success,failure",
        ])
        .args([
            "--ret",
            "hdrs",
            "--envid",
            "postie-env-1",
            "--require-dsn",
            "-v",
        ]));
    assert_eq!(out.status.code(), Some(0), "{:?}\n{}", text(&out), pf.log());
    let (_, dialogue) = text(&out);
    assert!(
        dialogue.contains("> MAIL FROM:<carol@example.org> RET=HDRS ENVID=postie-env-1"),
        "{dialogue}"
    );
    // Delivered to bob, and (NOTIFY=SUCCESS) a success notification back to carol that
    // quotes the ENVID.
    let delivered = pf.wait_for_delivery(&["bob", "carol"], 1, Duration::from_secs(30));
    assert!(
        delivered
            .iter()
            .any(|d| d["user"] == "bob" && d["subject"] == "dsn"),
        "{delivered:?}"
    );
    let log = pf.log();
    for want in ["NOTIFY=SUCCESS,FAILURE", "ENVID=postie-env-1", "RET=HDRS"] {
        assert!(log.contains(want), "{want} not in the Postfix log:\n{log}");
    }
    assert!(log.contains("sender delivery status notification"), "{log}");
}

// ---- prepared messages (`--message`, sendmail mode) ----------------------------------

const PREPARED: &[u8] =
    b"From: Ann <ann@example.org>\nTo: bob@example.net\nSubject: report\n\nhello\n";

fn signed_prepared(fake: &FakeSmtp, key: &Path, extra: &[&str], message: &[u8]) -> Output {
    run_with_stdin(
        to_server(&fake.url())
            .args(["--message", "-", "bob@example.net"])
            .args(["--dkim-domain", "example.org", "--dkim-selector", "s1"])
            .arg("--dkim-key")
            .arg(key)
            .args(extra),
        message,
    )
}

/// DKIM and the DSN flags apply to a message that already exists as to a composed one.
#[test]
fn a_prepared_message_is_signed_and_asks_for_receipts() {
    let k = keys();
    let fake = FakeSmtp::start(Behavior {
        offer_dsn: true,
        ..Behavior::default()
    });
    let out = signed_prepared(&fake, &k.ed25519.0, &["--notify", "success"], PREPARED);
    assert_code(&out, 0);
    let got = fake.seen().messages[0].clone();
    assert!(
        got.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        transaction(&fake).contains(&"RCPT TO:<bob@example.net> NOTIFY=SUCCESS".to_owned()),
        "{:?}",
        transaction(&fake)
    );
    // The flags that only build a composed message are refused, not ignored (from a file:
    // refused before stdin is read, a pipe would break).
    let file = k.dir.path().join("prepared.eml");
    std::fs::write(&file, PREPARED).expect("message");
    for flag in [&["--8bit"][..], &["--body-charset", "latin1"]] {
        let out = run(to_server(&fake.url())
            .arg("--message")
            .arg(&file)
            .arg("bob@example.net")
            .args(flag));
        assert_code(&out, 2);
    }
}

/// A signed 8-bit message for a server without 8BITMIME is converted before it is signed:
/// what the server received verifies (converted after signing, the body hash would not).
#[test]
fn a_signed_8bit_prepared_message_verifies_after_the_downgrade() {
    let python = common::venv_bin("python").filter(|p| {
        Command::new(p)
            .args(["-c", "import dkim, nacl"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !require_peer(
        "a_signed_8bit_prepared_message_verifies_after_the_downgrade",
        "dkimpy with PyNaCl (venv)",
        python.is_some(),
    ) {
        return;
    }
    let python = python.expect("python");
    let k = keys();
    let fake = FakeSmtp::start(Behavior {
        no_8bitmime: true,
        ..Behavior::default()
    });
    let message = "From: ann@example.org\nTo: bob@example.net\nSubject: s\n\nGr\u{fc}\u{df}e\n";
    let out = signed_prepared(&fake, &k.rsa.0, &[], message.as_bytes());
    assert_code(&out, 0);
    let got = fake.seen().messages[0].clone();
    assert!(got.is_ascii(), "{}", String::from_utf8_lossy(&got));
    assert!(
        dkimpy_verify(&python, &got, &k.rsa.1),
        "{}",
        String::from_utf8_lossy(&got)
    );
}
