//! The SMTP session: connection settings and a [`Session`] that speaks SMTP with lettre's
//! command types (`Mail`, `Rcpt`, `Data`... render the exact lines) and SASL mechanisms, over
//! a socket we own.
//!
//! Why not lettre's `SmtpTransport`/`SmtpConnection`: we measured that their timeout does
//! not cover the implicit-TLS handshake (it is set after it), they send AUTH over plaintext
//! silently, they abort the connection on a rejected recipient, they copy the whole message
//! once more for dot-stuffing, and they give no way to set TCP_NODELAY: small writes after a
//! TLS record then wait for the server's delayed ACK (40 ms each on loopback), which made
//! every TLS session and every 100 KB message several times slower. Owning the socket, we
//! set the read and write timeouts before the handshake, NODELAY, and stream the message
//! through a 64 KiB buffer. The whole connect phase also runs under one deadline.
//! `-v` prints the dialogue line by line on stderr, AUTH payloads masked.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::commands::{Data, Mail, Quit, Rcpt, Rset};
use lettre::transport::smtp::extension::{MailBodyParameter, MailParameter};

use super::classify::{Stage, io_error, parse_reply_line, reply_error};
use super::{Reply, SmtpError};
use crate::secret::Secret;
use crate::tls::{TlsClient, TlsError, TlsMode, TlsOptions};

/// `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    Plain,
    Login,
    Xoauth2,
}

impl AuthMechanism {
    fn lettre(self) -> Mechanism {
        match self {
            AuthMechanism::Plain => Mechanism::Plain,
            AuthMechanism::Login => Mechanism::Login,
            AuthMechanism::Xoauth2 => Mechanism::Xoauth2,
        }
    }
}

/// Everything needed to open a session.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// `smtps://`: TLS from the first byte.
    pub implicit_tls: bool,
    /// For `smtp://`: whether STARTTLS is required, tried, or never used.
    pub tls_mode: TlsMode,
    pub tls: TlsOptions,
    pub helo: String,
    /// The deadline for the whole connect phase (TCP, TLS handshake, greeting, EHLO,
    /// STARTTLS, AUTH), and for each read or write after it.
    pub timeout: Duration,
    pub credentials: Option<(String, Secret)>,
    /// Mechanisms to use, in order of preference (empty: PLAIN, then LOGIN).
    pub mechanisms: Vec<AuthMechanism>,
    pub allow_insecure_auth: bool,
    pub verbose: bool,
}

impl Settings {
    /// `host:port` for messages.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn secs(&self) -> u64 {
        self.timeout.as_secs().max(1)
    }

    /// Fails before connecting when the settings alone already mean credentials would travel
    /// in the clear.
    pub fn check_auth_policy(&self) -> Result<(), SmtpError> {
        if self.credentials.is_some()
            && !self.implicit_tls
            && self.tls_mode == TlsMode::None
            && !self.allow_insecure_auth
        {
            return Err(SmtpError::InsecureAuth {
                server: self.server(),
            });
        }
        Ok(())
    }

    /// Checks the EHLO name: a domain or address literal is printable ASCII without spaces,
    /// so the name can never end the EHLO line and add a command of its own.
    pub fn check_helo(&self) -> Result<(), SmtpError> {
        let helo = &self.helo;
        if helo.is_empty() || helo.len() > 255 || !helo.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(SmtpError::usage(
                "--helo",
                format!(
                    "{helo:?} is not a host name (printable ASCII without spaces, at most 255)"
                ),
            ));
        }
        Ok(())
    }

    fn log(&self, line: &str) {
        if self.verbose {
            eprintln!("{line}");
        }
    }
}

/// The socket, plain or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<openssl::ssl::SslStream<TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// What EHLO told us.
#[derive(Debug, Default, Clone)]
struct Extensions {
    starttls: bool,
    eight_bit: bool,
    smtputf8: bool,
    auth: Vec<String>,
}

impl Extensions {
    fn parse(reply_lines: &[String]) -> Extensions {
        let mut ext = Extensions::default();
        for line in reply_lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let keyword = words.next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "STARTTLS" => ext.starttls = true,
                "8BITMIME" => ext.eight_bit = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "AUTH" => ext.auth = words.map(|w| w.to_ascii_uppercase()).collect(),
                _ => {}
            }
        }
        ext
    }
}

/// An open, greeted (and, when asked, encrypted and authenticated) SMTP session.
pub struct Session {
    reader: BufReader<Stream>,
    settings: Settings,
    ext: Extensions,
    broken: bool,
    /// Whether the current transaction got as far as DATA (a retry could then duplicate).
    data_started: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.settings.server())
            .field("broken", &self.broken)
            .finish()
    }
}

impl Session {
    /// Connects, greets, upgrades and authenticates, all within `settings.timeout`.
    pub fn connect(settings: &Settings) -> Result<Session, SmtpError> {
        settings.check_helo()?;
        settings.check_auth_policy()?;
        // Building a TLS connector loads the system's CA store (tens of milliseconds): only
        // when TLS can happen at all.
        let connector = if settings.implicit_tls || settings.tls_mode != TlsMode::None {
            Some(TlsClient::new(&settings.tls)?)
        } else {
            None
        };
        let (tx, rx) = mpsc::channel();
        let owned = settings.clone();
        // Each read and write has its own timeout; this deadline bounds the whole phase, so a
        // server that drips bytes cannot stretch it.
        std::thread::spawn(move || {
            let _ = tx.send(connect_phase(owned, connector.as_ref()));
        });
        match rx.recv_timeout(settings.timeout) {
            Ok(result) => result,
            Err(_) => Err(SmtpError::Timeout {
                server: settings.server(),
                secs: settings.secs(),
                stage: "while connecting (TCP, TLS handshake, greeting, EHLO, AUTH)",
            }),
        }
    }

    /// True when the connection failed and a new one is needed.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether the last transaction reached DATA.
    pub fn data_started(&self) -> bool {
        self.data_started
    }

    /// Sends one message: MAIL FROM, one RCPT per recipient, DATA. A rejected sender or
    /// recipient resets the transaction (RSET) so the session can carry the next message.
    pub fn send(&mut self, envelope: &Envelope, bytes: &[u8]) -> Result<Reply, SmtpError> {
        self.data_started = false;
        let result = self.transaction(envelope, bytes);
        if let Err(e) = &result {
            // A rejected transaction is reset so the session can carry the next message.
            if e.breaks_connection() || self.command(&Rset, Stage::Mail, "").is_err() {
                self.broken = true;
            }
        }
        result
    }

    fn transaction(&mut self, envelope: &Envelope, bytes: &[u8]) -> Result<Reply, SmtpError> {
        let mut params = Vec::new();
        let addresses = envelope.from().into_iter().chain(envelope.to());
        if addresses.map(AsRef::<str>::as_ref).any(|a| !a.is_ascii()) {
            if !self.ext.smtputf8 {
                return Err(SmtpError::usage(
                    "--to",
                    "a non-ASCII address needs SMTPUTF8, which the server does not offer",
                ));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() && self.ext.eight_bit {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let sender = envelope.from().map(|a| a.to_string()).unwrap_or_default();
        self.command(
            &Mail::new(envelope.from().cloned(), params),
            Stage::Mail,
            &sender,
        )?;
        for rcpt in envelope.to() {
            self.command(&Rcpt::new(rcpt.clone(), vec![]), Stage::Rcpt, rcpt.as_ref())?;
        }
        self.data_started = true;
        self.command(&Data, Stage::Data, "")?;
        // Without the final CRLF: the terminator <CRLF>.<CRLF> supplies it.
        let body = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
        self.settings.log(&format!(
            "> ({} octets of message, then <CRLF>.<CRLF>)",
            body.len()
        ));
        let written = {
            let mut w = BufWriter::with_capacity(64 * 1024, self.reader.get_mut());
            write_dot_stuffed(&mut w, body)
                .and_then(|()| w.write_all(b"\r\n.\r\n"))
                .and_then(|()| w.flush())
        };
        written.map_err(|e| self.io(Stage::Data, &e))?;
        self.expect(Stage::Data, "", 2)
    }

    fn io(&self, stage: Stage, e: &io::Error) -> SmtpError {
        io_error(&self.settings.server(), stage, e, self.settings.secs())
    }

    /// Writes one command and reads its reply; a reply that is not 2xx/3xx is an error.
    fn command(
        &mut self,
        command: &dyn std::fmt::Display,
        stage: Stage,
        what: &str,
    ) -> Result<Reply, SmtpError> {
        let line = command.to_string();
        self.settings.log(&format!("> {}", line.trim_end()));
        self.write_line(&line, stage)?;
        self.expect(stage, what, 3)
    }

    fn write_line(&mut self, line: &str, stage: Stage) -> Result<(), SmtpError> {
        let stream = self.reader.get_mut();
        stream
            .write_all(line.as_bytes())
            .and_then(|()| stream.flush())
            .map_err(|e| self.io(stage, &e))
    }

    /// Reads a reply; its first digit must be at most `max_class` (2: success only).
    fn expect(&mut self, stage: Stage, what: &str, max_class: u16) -> Result<Reply, SmtpError> {
        let (reply, lines) = self.read_reply(stage)?;
        drop(lines);
        if reply.code / 100 > max_class {
            if reply.code == 421 {
                self.broken = true;
            }
            return Err(reply_error(&self.settings.server(), stage, what, reply));
        }
        Ok(reply)
    }

    /// Reads one (possibly multi-line) reply: the reply, and the text of each line.
    fn read_reply(&mut self, stage: Stage) -> Result<(Reply, Vec<String>), SmtpError> {
        let mut lines = Vec::new();
        let mut buf = String::new();
        loop {
            buf.clear();
            let n = (&mut self.reader)
                .take(4096)
                .read_line(&mut buf)
                .map_err(|e| self.io(stage, &e))?;
            if n == 0 {
                self.broken = true;
                return Err(SmtpError::Dropped {
                    server: self.settings.server(),
                    stage: stage.describe(),
                });
            }
            self.settings
                .log(&format!("< {}", super::printable(buf.trim_end())));
            let Some((code, last, text)) = parse_reply_line(&buf) else {
                self.broken = true;
                return Err(SmtpError::Protocol {
                    server: self.settings.server(),
                    detail: format!(
                        "not an SMTP reply {}: {:?}",
                        stage.describe(),
                        buf.trim_end()
                    ),
                });
            };
            lines.push(text.to_owned());
            if last || lines.len() > 100 {
                let reply = Reply {
                    code,
                    text: lines.join(" "),
                };
                return Ok((reply, lines));
            }
        }
    }

    fn ehlo(&mut self) -> Result<(), SmtpError> {
        let line = format!("EHLO {}\r\n", self.settings.helo);
        self.settings.log(&format!("> {}", line.trim_end()));
        self.write_line(&line, Stage::Connect)?;
        let (reply, lines) = self.read_reply(Stage::Connect)?;
        if reply.code != 250 {
            return Err(reply_error(
                &self.settings.server(),
                Stage::Connect,
                "",
                reply,
            ));
        }
        self.ext = Extensions::parse(&lines);
        Ok(())
    }

    fn is_encrypted(&self) -> bool {
        matches!(self.reader.get_ref(), Stream::Tls(_))
    }

    /// Ends the session politely (QUIT); errors are ignored: the mail is already sent.
    pub fn quit(mut self) {
        if !self.broken {
            let _ = self.command(&Quit, Stage::Connect, "");
        }
    }
}

/// Writes `body` with a dot doubled at the start of every line (RFC 5321 4.5.2).
pub fn write_dot_stuffed(w: &mut impl Write, body: &[u8]) -> io::Result<()> {
    for line in body.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            w.write_all(b".")?;
        }
        w.write_all(line)?;
    }
    Ok(())
}

fn tcp_connect(s: &Settings) -> Result<TcpStream, SmtpError> {
    let server = s.server();
    let addrs = (s.host.as_str(), s.port)
        .to_socket_addrs()
        .map_err(|e| SmtpError::Resolve {
            server: server.clone(),
            detail: e.to_string(),
        })?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, s.timeout) {
            Ok(tcp) => {
                let setup = tcp
                    .set_nodelay(true)
                    .and_then(|()| tcp.set_read_timeout(Some(s.timeout)))
                    .and_then(|()| tcp.set_write_timeout(Some(s.timeout)));
                setup.map_err(|e| io_error(&server, Stage::Connect, &e, s.secs()))?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => io_error(&server, Stage::Connect, &e, s.secs()),
        None => SmtpError::Resolve {
            server,
            detail: "no address".to_owned(),
        },
    })
}

fn handshake(s: &Settings, client: &TlsClient, tcp: TcpStream) -> Result<Stream, SmtpError> {
    match client.connect(&s.host, tcp) {
        Ok(tls) => Ok(Stream::Tls(Box::new(tls))),
        Err(TlsError::Timeout { .. }) => Err(SmtpError::Timeout {
            server: s.server(),
            secs: s.secs(),
            stage: "during the TLS handshake",
        }),
        Err(e) => Err(e.into()),
    }
}

fn connect_phase(s: Settings, connector: Option<&TlsClient>) -> Result<Session, SmtpError> {
    let started = Instant::now();
    s.log(&format!(
        "* connecting to {}{}",
        s.server(),
        if s.implicit_tls {
            " (implicit TLS)"
        } else {
            ""
        }
    ));
    let tcp = tcp_connect(&s)?;
    let stream = match (s.implicit_tls, connector) {
        (true, Some(c)) => handshake(&s, c, tcp)?,
        _ => Stream::Plain(tcp),
    };
    let mut session = Session {
        reader: BufReader::new(stream),
        settings: s,
        ext: Extensions::default(),
        broken: false,
        data_started: false,
    };
    session.expect(Stage::Connect, "", 2)?;
    session.ehlo()?;
    let s = session.settings.clone();
    if !s.implicit_tls {
        let offered = session.ext.starttls;
        let wanted = match s.tls_mode {
            TlsMode::Required if !offered => {
                return Err(SmtpError::StartTlsNotOffered { server: s.server() });
            }
            TlsMode::Required => true,
            TlsMode::Opportunistic => offered,
            TlsMode::None => false,
        };
        if let (true, Some(c)) = (wanted, connector) {
            session.command(&"STARTTLS\r\n", Stage::Connect, "")?;
            if !session.reader.buffer().is_empty() {
                return Err(SmtpError::Protocol {
                    server: s.server(),
                    detail: "data after the STARTTLS reply (possible injection)".to_owned(),
                });
            }
            let Stream::Plain(tcp) = session.reader.into_inner() else {
                return Err(SmtpError::Protocol {
                    server: s.server(),
                    detail: "STARTTLS on an encrypted connection".to_owned(),
                });
            };
            session.reader = BufReader::new(handshake(&s, c, tcp)?);
            s.log("* TLS established");
            session.ehlo()?;
        }
    }
    if let Some((user, password)) = &s.credentials {
        if !session.is_encrypted() && !s.allow_insecure_auth {
            return Err(SmtpError::InsecureAuth { server: s.server() });
        }
        authenticate(&mut session, user, password)?;
    }
    s.log(&format!("* ready in {:?}", started.elapsed()));
    Ok(session)
}

fn authenticate(session: &mut Session, user: &str, password: &Secret) -> Result<(), SmtpError> {
    let s = session.settings.clone();
    let wanted: Vec<Mechanism> = if s.mechanisms.is_empty() {
        vec![Mechanism::Plain, Mechanism::Login]
    } else {
        s.mechanisms.iter().map(|m| m.lettre()).collect()
    };
    let offered = &session.ext.auth;
    let Some(mechanism) = wanted
        .into_iter()
        .find(|m| offered.iter().any(|o| *o == m.to_string()))
    else {
        return Err(SmtpError::AuthNotOffered {
            server: s.server(),
            offered: if offered.is_empty() {
                "none".to_owned()
            } else {
                super::printable(&offered.join(", ")).into_owned()
            },
        });
    };
    let creds = Credentials::new(user.to_owned(), password.expose().to_owned());
    let b64 = base64::engine::general_purpose::STANDARD;
    let failed = |why: String| SmtpError::Protocol {
        server: s.server(),
        detail: format!("AUTH {mechanism}: {why}"),
    };
    s.log(&format!("> AUTH {mechanism} (credentials masked)"));
    let first = if mechanism.supports_initial_response() {
        let response = mechanism
            .response(&creds, None)
            .map_err(|e| failed(e.to_string()))?;
        format!("AUTH {mechanism} {}\r\n", b64.encode(response))
    } else {
        format!("AUTH {mechanism}\r\n")
    };
    session.write_line(&first, Stage::Auth)?;
    for _ in 0..10 {
        let (reply, _) = session.read_reply(Stage::Auth)?;
        match reply.code {
            200..=299 => return Ok(()),
            334 => {
                let challenge = b64
                    .decode(reply.text.trim())
                    .ok()
                    .and_then(|c| String::from_utf8(c).ok())
                    .unwrap_or_default();
                // XOAUTH2 sends an error as a challenge: answer empty to get the final reply.
                let answer = match mechanism {
                    Mechanism::Xoauth2 => String::new(),
                    _ => b64.encode(
                        mechanism
                            .response(&creds, Some(&challenge))
                            .map_err(|e| failed(e.to_string()))?,
                    ),
                };
                s.log("> (credentials masked)");
                session.write_line(&format!("{answer}\r\n"), Stage::Auth)?;
            }
            _ => return Err(reply_error(&s.server(), Stage::Auth, "", reply)),
        }
    }
    Err(failed("too many challenges".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_matches_the_wire_format() {
        let mut out = Vec::new();
        write_dot_stuffed(&mut out, b".a\r\nb\r\n.\r\n..c").expect("write");
        assert_eq!(out, b"..a\r\nb\r\n..\r\n...c");
    }

    #[test]
    fn ehlo_extensions() {
        let lines: Vec<String> = [
            "mx.test",
            "8BITMIME",
            "STARTTLS",
            "AUTH PLAIN login",
            "SIZE 10",
        ]
        .map(String::from)
        .to_vec();
        let e = Extensions::parse(&lines);
        assert!(e.starttls && e.eight_bit && !e.smtputf8);
        assert_eq!(e.auth, ["PLAIN", "LOGIN"]);
    }
}
