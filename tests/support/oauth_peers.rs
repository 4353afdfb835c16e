//! Real mail peers that take OAuth2 bearer tokens and check them by introspection at the
//! fake identity provider (`oauth_idp.rs`), for the interop tests (POSTIE_INTEROP=1):
//! - Dovecot POP3 with its oauth2 passdb ([`dovecot`], see `pop3_dovecot.rs`);
//! - aiosmtpd with XOAUTH2 and OAUTHBEARER ([`OAuthSmtp`], `smtp_oauth.py` in the venv's
//!   Python), which records the messages it accepted and every AUTH attempt.
//!
//! Both use the certificates in one [`Certs`] folder, the one the identity provider presents
//! too (`FakeIdp::start_tls`), so a client needs only `certs.ca`. Also: the SASL messages
//! ([`xoauth2`], [`oauthbearer`]) and a line-oriented client for raw sessions ([`Lines`]).
//!
//! Include with `certs.rs`, `common.rs`, `http_server.rs`, `oauth_idp.rs` and
//! `pop3_dovecot.rs` beside it. Every process started here is stopped by a Drop guard.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

pub use super::certs::Certs;
use super::oauth_idp::{FakeIdp, RS_CLIENT_ID, RS_CLIENT_SECRET};
use super::pop3_dovecot::{Dovecot, OAuth2Passdb};

/// Whether the peers can run here: Dovecot and openssl, aiosmtpd in the venv.
pub fn available() -> (bool, bool) {
    (super::pop3_dovecot::available(), smtp_python().is_some())
}

/// Dovecot (POP3, XOAUTH2 + OAUTHBEARER) introspecting at `idp` (which should run with
/// `FakeIdp::start_tls(.., certs)`), presenting `certs`' server certificate, no auth penalty.
/// User [`super::oauth_idp::USER`], scope = the IdP's default scope.
pub fn dovecot(idp: &FakeIdp, certs: &Certs) -> Dovecot {
    let passdb = OAuth2Passdb {
        introspection_url: idp.url_ip("/introspect"),
        client_id: RS_CLIENT_ID.to_owned(),
        client_secret: RS_CLIENT_SECRET.to_owned(),
        scope: idp.config().default_scope,
        auth_penalty: false,
    };
    Dovecot::start_oauth2(&passdb, Some(certs.dir.path()))
}

/// The base64 XOAUTH2 initial response: `user=U^Aauth=Bearer T^A^A`.
pub fn xoauth2(user: &str, token: &str) -> String {
    b64(format!("user={user}\x01auth=Bearer {token}\x01\x01").as_bytes())
}

/// The base64 OAUTHBEARER initial response (RFC 7628 §3.1) with `a=USER` (Dovecot 2.3
/// needs it), host and port.
pub fn oauthbearer(user: &str, token: &str, host: &str, port: u16) -> String {
    let msg = format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01");
    b64(msg.as_bytes())
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A line-oriented client for raw POP3/SMTP sessions: [`Lines::plain`] over TCP, or
/// [`Lines::tls`] (also after STARTTLS, via [`Lines::into_tls`]).
pub struct Lines {
    reader: BufReader<Stream>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lines")
    }
}

fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    s
}

fn tls_wrap(s: TcpStream, ca: &Path) -> native_tls::TlsStream<TcpStream> {
    let pem = std::fs::read(ca).expect("read CA");
    native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem).expect("CA"))
        .build()
        .expect("connector")
        .connect("localhost", s)
        .expect("TLS handshake")
}

impl Lines {
    pub fn plain(port: u16) -> Lines {
        Lines {
            reader: BufReader::new(Stream::Plain(tcp(port))),
        }
    }

    /// Implicit TLS to 127.0.0.1:`port`, checked against `ca` for the name localhost.
    pub fn tls(port: u16, ca: &Path) -> Lines {
        Lines {
            reader: BufReader::new(Stream::Tls(Box::new(tls_wrap(tcp(port), ca)))),
        }
    }

    /// Sends `line` + CRLF.
    pub fn send(&mut self, line: &str) {
        let s = self.reader.get_mut();
        s.write_all(format!("{line}\r\n").as_bytes()).expect("send");
        s.flush().expect("flush");
    }

    /// One line, without its CRLF.
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).expect("read a line");
        l.trim_end_matches(['\r', '\n']).to_owned()
    }

    /// An SMTP reply, all lines joined by `\n` (up to the one with a space after the code).
    pub fn reply(&mut self) -> String {
        let mut all = Vec::new();
        loop {
            let l = self.line();
            let last = l.len() < 4 || l.as_bytes()[3] != b'-';
            all.push(l);
            if last {
                return all.join("\n");
            }
        }
    }

    /// `send` then [`line`](Self::line).
    pub fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.line()
    }
}

/// Where `smtp_oauth.py` runs: the venv's Python, if aiosmtpd is installed there.
pub fn smtp_python() -> Option<PathBuf> {
    let python = super::common::venv_bin("python")?;
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
}

/// One message as `smtp_oauth.py` stored it.
#[derive(Debug, serde::Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub tls: bool,
    /// Who logged in (the introspected username) and with which mechanism.
    pub user: Option<String>,
    pub mechanism: Option<String>,
    data: String,
}

impl Received {
    /// The exact bytes received.
    pub fn bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.data)
            .expect("base64 from smtp_oauth.py")
    }
}

/// One AUTH attempt as `smtp_oauth.py` saw it.
#[derive(Debug, serde::Deserialize)]
pub struct AuthAttempt {
    pub mechanism: String,
    /// XOAUTH2 `user=`, or OAUTHBEARER `a=` (None when absent).
    pub user: Option<String>,
    pub authzid: Option<String>,
    pub token: String,
    pub ok: bool,
    /// The client's answer to the error challenge, base64 (None when it logged in, or the
    /// answer was `*` or not base64). `""` is an empty line, `AQ==` is 0x01.
    pub client_answer: Option<String>,
}

/// TLS of the aiosmtpd listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS offered; AUTH only after it.
    StartTls,
    /// TLS from the first byte (smtps).
    Implicit,
    /// No TLS at all; AUTH offered in the clear.
    Plain,
}

/// A running `smtp_oauth.py`.
pub struct OAuthSmtp {
    child: Child,
    pub port: u16,
    pub mode: SmtpTls,
    /// The CA that signed the server certificate (`certs.ca`).
    pub ca: PathBuf,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for OAuthSmtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OAuthSmtp({}, {:?})", self.port, self.mode)
    }
}

impl OAuthSmtp {
    /// Starts it against `idp`'s /introspect (with `idp`'s CA when HTTPS), presenting
    /// `certs`' server certificate; waits until it listens.
    pub fn start(idp: &FakeIdp, certs: &Certs, mode: SmtpTls) -> OAuthSmtp {
        let python = smtp_python().expect("aiosmtpd in the venv");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = super::common::free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_oauth.py");
        let mode_arg = match mode {
            SmtpTls::StartTls => "starttls",
            SmtpTls::Implicit => "implicit",
            SmtpTls::Plain => "plain",
        };
        let mut cmd = Command::new(python);
        cmd.arg(script)
            .args(["--port", &port.to_string(), "--mode", mode_arg])
            .arg("--out")
            .arg(dir.path().join("messages.jsonl"))
            .arg("--auth-log")
            .arg(dir.path().join("auth.jsonl"))
            .args(["--introspect", &idp.introspect_url()])
            .args([
                "--client-id",
                RS_CLIENT_ID,
                "--client-secret",
                RS_CLIENT_SECRET,
            ])
            .args(["--scope", &idp.config().default_scope])
            .arg("--cert")
            .arg(&certs.cert)
            .arg("--key")
            .arg(&certs.key)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).expect("log"));
        if let Some(ca) = idp.ca() {
            cmd.arg("--ca").arg(ca);
        }
        let child = cmd.spawn().expect("start smtp_oauth.py");
        let mut server = OAuthSmtp {
            child,
            port,
            mode,
            ca: certs.ca.clone(),
            dir,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let stdout = self.child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let ready = rx.recv_timeout(Duration::from_secs(20));
        assert!(
            ready.as_deref().is_ok_and(|l| l.starts_with("READY")),
            "smtp_oauth.py did not start: {ready:?}\n{}",
            self.log()
        );
    }

    /// `smtp://localhost:PORT` (or the scheme given: `smtps`).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://localhost:{}", self.port)
    }

    /// The messages accepted so far.
    pub fn received(&self) -> Vec<Received> {
        read_jsonl(&self.dir.path().join("messages.jsonl"))
    }

    /// The AUTH attempts so far.
    pub fn auth_attempts(&self) -> Vec<AuthAttempt> {
        read_jsonl(&self.dir.path().join("auth.jsonl"))
    }

    /// The script's stderr (aiosmtpd's log, Python tracebacks).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// A raw session: connected, greeting read, EHLO sent, STARTTLS done in that mode; the
    /// EHLO reply (after STARTTLS, the second one) is returned beside it.
    pub fn session(&self) -> (Lines, String) {
        let mut c = match self.mode {
            SmtpTls::Implicit => Lines::tls(self.port, &self.ca),
            _ => Lines::plain(self.port),
        };
        let greeting = c.reply();
        assert!(greeting.starts_with("220"), "greeting {greeting:?}");
        c.send("EHLO client.test");
        let mut ehlo = c.reply();
        if self.mode == SmtpTls::StartTls {
            c.send("STARTTLS");
            let r = c.reply();
            assert!(r.starts_with("220"), "STARTTLS: {r:?}");
            c = c.into_tls(&self.ca);
            c.send("EHLO client.test");
            ehlo = c.reply();
        }
        (c, ehlo)
    }
}

impl Lines {
    /// Upgrades a plain session to TLS (after STARTTLS/STLS was accepted).
    pub fn into_tls(self, ca: &Path) -> Lines {
        assert!(
            self.reader.buffer().is_empty(),
            "bytes after the STARTTLS reply"
        );
        let Stream::Plain(tcp) = self.reader.into_inner() else {
            panic!("already TLS");
        };
        Lines {
            reader: BufReader::new(Stream::Tls(Box::new(tls_wrap(tcp, ca)))),
        }
    }
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line from smtp_oauth.py"))
        .collect()
}

impl Drop for OAuthSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
