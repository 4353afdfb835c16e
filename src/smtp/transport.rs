//! The SMTP session: connection settings and a [`Session`] over lettre's `SmtpConnection`.
//!
//! We drive lettre's connection ourselves rather than its `SmtpTransport` because the
//! transport gets four things wrong for us: its timeout does not cover the implicit-TLS
//! handshake (the connect phase runs here under our own deadline, on a worker thread we stop
//! waiting for), it sends AUTH over plaintext silently (we refuse unless allowed), it aborts
//! the connection on a rejected recipient (we RSET and keep it for the next message of a
//! batch), and it copies the whole message once more for dot-stuffing (we hand it the
//! message in 64 KiB slices). `-v` prints our own transcript of the dialogue: every command
//! we send and every reply, with AUTH payloads masked; the greeting and the EHLO reply are
//! read inside lettre, so for them we print what it parsed.

use std::sync::mpsc;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    Certificate, CertificateStore, SmtpConnection, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use super::classify::{Stage, classify};
use super::{Reply, SmtpError};
use crate::secret::Secret;
use crate::tls::{TlsError, TlsMode, TlsOptions, load_certificates};

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

    fn tls_parameters(&self) -> Result<TlsParameters, SmtpError> {
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(path) = &self.tls.cacert {
            builder = builder.certificate_store(CertificateStore::None);
            for cert in load_certificates(path)? {
                let der = cert.to_der().map_err(|e| TlsError::Setup(e.to_string()))?;
                let cert =
                    Certificate::from_der(der).map_err(|e| TlsError::Setup(e.to_string()))?;
                builder = builder.add_root_certificate(cert);
            }
        }
        if self.tls.insecure {
            builder = builder
                .dangerous_accept_invalid_certs(true)
                .dangerous_accept_invalid_hostnames(true);
        }
        Ok(builder
            .build_native()
            .map_err(|e| TlsError::Setup(e.to_string()))?)
    }

    fn log(&self, line: &str) {
        if self.verbose {
            eprintln!("{line}");
        }
    }
}

/// An open, greeted (and, when asked, encrypted and authenticated) SMTP session.
pub struct Session {
    conn: SmtpConnection,
    settings: Settings,
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
        settings.check_auth_policy()?;
        // Building TLS parameters loads the system's CA store (tens of milliseconds): only
        // when TLS can happen at all.
        let params = if settings.implicit_tls || settings.tls_mode != TlsMode::None {
            Some(settings.tls_parameters()?)
        } else {
            None
        };
        let (tx, rx) = mpsc::channel();
        let owned = settings.clone();
        // The worker may stay blocked in a TLS handshake lettre gives no timeout to; we stop
        // waiting for it at the deadline, and its socket closes when it ends or we exit.
        std::thread::spawn(move || {
            let result = connect_phase(&owned, params.as_ref()).map(|conn| Session {
                conn,
                settings: owned,
                broken: false,
                data_started: false,
            });
            let _ = tx.send(result);
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
        self.broken || self.conn.has_broken()
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
            if e.breaks_connection() {
                self.broken = true;
                self.conn.abort();
            } else if matches!(e, SmtpError::Rejected { .. } | SmtpError::TooBig { .. }) {
                let rset = self.command(Rset, Stage::Mail, "");
                if rset.is_err() {
                    self.broken = true;
                }
            }
        }
        result
    }

    fn transaction(&mut self, envelope: &Envelope, bytes: &[u8]) -> Result<Reply, SmtpError> {
        let info = self.conn.server_info();
        let mut params = Vec::new();
        if envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii())
        {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(SmtpError::usage(
                    "--to",
                    "a non-ASCII address needs SMTPUTF8, which the server does not offer",
                ));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() && info.supports_feature(Extension::EightBitMime) {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let sender = envelope.from().map(|a| a.to_string()).unwrap_or_default();
        self.command(
            Mail::new(envelope.from().cloned(), params),
            Stage::Mail,
            &sender,
        )?;
        for rcpt in envelope.to() {
            self.command(Rcpt::new(rcpt.clone(), vec![]), Stage::Rcpt, rcpt.as_ref())?;
        }
        self.data_started = true;
        self.command(Data, Stage::Data, "")?;
        self.settings.log(&format!(
            "> ({} octets of message, then <CRLF>.<CRLF>)",
            bytes.len()
        ));
        // Without the final CRLF: the terminator lettre writes (<CRLF>.<CRLF>) supplies it.
        let body = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
        let sent = match std::str::from_utf8(body) {
            // One write for message and terminator: two writes would meet Nagle's algorithm
            // and the server's delayed ACK (40 ms per message on loopback).
            Ok(text) if body.len() <= SINGLE_WRITE_MAX => self.conn.command(DotStuffed(text)),
            // Big messages go in slices, so lettre never holds a second full copy.
            _ => self.conn.message_iter(body.chunks(64 * 1024)),
        };
        let response = sent.map_err(|e| self.classify(&e, Stage::Data, ""))?;
        let reply = Reply {
            code: response.code().to_string().parse().unwrap_or(250),
            text: response.message().collect::<Vec<_>>().join(" "),
        };
        self.settings.log(&format!("< {reply}"));
        Ok(reply)
    }

    fn command<C: std::fmt::Display>(
        &mut self,
        command: C,
        stage: Stage,
        what: &str,
    ) -> Result<(), SmtpError> {
        let line = command.to_string();
        self.settings.log(&format!("> {}", line.trim_end()));
        match self.conn.command(line.as_str()) {
            Ok(response) => {
                self.settings.log(&format!(
                    "< {} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ));
                Ok(())
            }
            Err(e) => {
                let err = self.classify(&e, stage, what);
                self.settings.log(&format!("< {err}"));
                Err(err)
            }
        }
    }

    fn classify(&self, e: &lettre::transport::smtp::Error, stage: Stage, what: &str) -> SmtpError {
        let s = &self.settings;
        classify(e, &s.server(), &s.host, stage, what, s.secs())
    }

    /// Ends the session politely (QUIT); errors are ignored: the mail is already sent.
    pub fn quit(mut self) {
        if !self.is_broken() {
            self.settings.log("> QUIT");
            let _ = self.conn.quit();
        }
    }
}

/// Messages up to this size are dot-stuffed into one buffer and written at once.
const SINGLE_WRITE_MAX: usize = 4 * 1024 * 1024;

/// A message body, dot-stuffed, followed by the end-of-data line: what goes after DATA.
struct DotStuffed<'a>(&'a str);

impl std::fmt::Display for DotStuffed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        for line in self.0.split_inclusive('\n') {
            if line.starts_with('.') {
                f.write_char('.')?;
            }
            f.write_str(line)?;
        }
        f.write_str("\r\n.\r\n")
    }
}

fn connect_phase(
    s: &Settings,
    params: Option<&TlsParameters>,
) -> Result<SmtpConnection, SmtpError> {
    let server = s.server();
    let err = |e: &lettre::transport::smtp::Error, stage| {
        classify(e, &server, &s.host, stage, "", s.secs())
    };
    let helo = ClientId::Domain(s.helo.clone());
    s.log(&format!(
        "* connecting to {server}{}",
        if s.implicit_tls {
            " (implicit TLS)"
        } else {
            ""
        }
    ));
    let tls = if s.implicit_tls { params } else { None };
    let mut conn =
        SmtpConnection::connect((s.host.as_str(), s.port), Some(s.timeout), &helo, tls, None)
            .map_err(|e| err(&e, Stage::Connect))?;
    s.log(&format!("> EHLO {}", s.helo));
    s.log(&format!("< 250 {}", conn.server_info()));
    if !s.implicit_tls {
        let offered = conn.server_info().supports_feature(Extension::StartTls);
        let wanted = match s.tls_mode {
            TlsMode::Required if !offered => {
                conn.abort();
                return Err(SmtpError::StartTlsNotOffered { server });
            }
            TlsMode::Required => true,
            TlsMode::Opportunistic => offered,
            TlsMode::None => false,
        };
        if let (true, Some(params)) = (wanted, params) {
            s.log("> STARTTLS");
            conn.starttls(params, &helo)
                .map_err(|e| err(&e, Stage::Connect))?;
            s.log("* TLS established");
            s.log(&format!("> EHLO {}", s.helo));
            s.log(&format!("< 250 {}", conn.server_info()));
        }
    }
    if let Some((user, password)) = &s.credentials {
        if !conn.is_encrypted() && !s.allow_insecure_auth {
            conn.abort();
            return Err(SmtpError::InsecureAuth { server });
        }
        authenticate(s, &mut conn, user, password).inspect_err(|_| conn.abort())?;
    }
    Ok(conn)
}

fn authenticate(
    s: &Settings,
    conn: &mut SmtpConnection,
    user: &str,
    password: &Secret,
) -> Result<(), SmtpError> {
    let server = s.server();
    let wanted: Vec<Mechanism> = if s.mechanisms.is_empty() {
        vec![Mechanism::Plain, Mechanism::Login]
    } else {
        s.mechanisms.iter().map(|m| m.lettre()).collect()
    };
    let Some(mechanism) = conn.server_info().get_auth_mechanism(&wanted) else {
        let offered: Vec<String> = [Mechanism::Plain, Mechanism::Login, Mechanism::Xoauth2]
            .into_iter()
            .filter(|m| conn.server_info().supports_auth_mechanism(*m))
            .map(|m| m.to_string())
            .collect();
        return Err(SmtpError::AuthNotOffered {
            server,
            offered: if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            },
        });
    };
    s.log(&format!("> AUTH {mechanism} (credentials masked)"));
    let creds = Credentials::new(user.to_owned(), password.expose().to_owned());
    match conn.auth(&[mechanism], &creds) {
        Ok(response) => {
            s.log(&format!(
                "< {} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            ));
            Ok(())
        }
        Err(e) => Err(classify(&e, &server, &s.host, Stage::Auth, "", s.secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::DotStuffed;

    #[test]
    fn dot_stuffing_matches_the_wire_format() {
        assert_eq!(
            DotStuffed(".a\r\nb\r\n.\r\n..c").to_string(),
            "..a\r\nb\r\n..\r\n...c\r\n.\r\n"
        );
        assert_eq!(DotStuffed("").to_string(), "\r\n.\r\n");
    }
}
