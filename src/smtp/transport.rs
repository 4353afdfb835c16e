//! The SMTP session: connection settings and a [`Session`] that speaks SMTP with lettre's
//! command types (`Mail`, `Rcpt`, `Data`... render the exact lines) and SASL mechanisms
//! (PLAIN, LOGIN, XOAUTH2; lettre 0.11 has no OAUTHBEARER, whose payload comes from
//! `pop3::sasl`, the same in both protocols), over any `BufRead + Write` stream: a socket
//! from `crate::net` (TCP, TLS, STARTTLS, the deadline) or memory in the unit tests, which
//! check the dialogue byte for byte.
//!
//! Why not lettre's `SmtpTransport`/`SmtpConnection`: we measured that their timeout does
//! not cover the implicit-TLS handshake (it is set after it), they send AUTH over plaintext
//! silently, they abort the connection on a rejected recipient, they copy the whole message
//! once more for dot-stuffing, and they give no way to set TCP_NODELAY: small writes after a
//! TLS record then wait for the server's delayed ACK (40 ms each on loopback), which made
//! every TLS session and every 100 KB message several times slower. Owning the socket
//! (`net::tcp_connect`), we set the read and write timeouts before the handshake, NODELAY,
//! and stream the message through a 64 KiB buffer. The whole connect phase also runs under
//! one deadline (`net::within`).
//! `-v` prints the dialogue line by line on stderr, AUTH payloads masked.

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::commands::{Data, Mail, Quit, Rcpt, Rset};
use lettre::transport::smtp::extension::{MailBodyParameter, MailParameter, RcptParameter};

use super::classify::{Stage, io_error, parse_reply_line, reply_error};
use super::{RenewError, Reply, SmtpError};
use crate::net::{self, BufStream, ConnectError, Stream, UpgradeError};
use crate::pop3::sasl;
use crate::secret::Secret;
use crate::tls::{TlsClient, TlsMode, TlsOptions};

/// `--auth`, and the mechanisms of an OAuth2 account (the password is the access token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    Plain,
    Login,
    Xoauth2,
    /// RFC 7628.
    OAuthBearer,
}

impl AuthMechanism {
    /// The SASL name, as EHLO's AUTH line lists it.
    pub fn name(self) -> &'static str {
        match self {
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::Login => "LOGIN",
            AuthMechanism::Xoauth2 => "XOAUTH2",
            AuthMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// lettre's encoder of the mechanism; None for OAUTHBEARER, which lettre lacks.
    fn lettre(self) -> Option<Mechanism> {
        match self {
            AuthMechanism::Plain => Some(Mechanism::Plain),
            AuthMechanism::Login => Some(Mechanism::Login),
            AuthMechanism::Xoauth2 => Some(Mechanism::Xoauth2),
            AuthMechanism::OAuthBearer => None,
        }
    }

    fn is_oauth(self) -> bool {
        matches!(self, AuthMechanism::Xoauth2 | AuthMechanism::OAuthBearer)
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
    /// How to get a new secret when the server refuses the one sent (an OAuth2 token that
    /// expired early or was revoked): tried once per connection.
    pub renew: Option<Renew>,
}

/// See [`Session::send_checkpointed`].
pub type FinalDotHook = Box<dyn FnMut() -> io::Result<()> + Send>;

/// A new secret after the server refused `rejected`: the CLI layer refreshes an OAuth2
/// access token (or takes the one another process already refreshed).
#[derive(Clone)]
pub struct Renew(Arc<RenewFn>);

type RenewFn = dyn Fn(&Secret) -> Result<Secret, RenewError> + Send + Sync;

impl Renew {
    pub fn new(f: impl Fn(&Secret) -> Result<Secret, RenewError> + Send + Sync + 'static) -> Renew {
        Renew(Arc::new(f))
    }
}

impl std::fmt::Debug for Renew {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renew")
    }
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

    /// A TLS handshake or STARTTLS failure as our error.
    fn upgrade_error(&self, e: UpgradeError) -> SmtpError {
        let protocol = |detail: &str| SmtpError::Protocol {
            server: self.server(),
            detail: detail.to_owned(),
        };
        match e {
            UpgradeError::Timeout => SmtpError::Timeout {
                server: self.server(),
                secs: self.secs(),
                stage: "during the TLS handshake",
            },
            UpgradeError::Tls(e) => e.into(),
            UpgradeError::Injected(_) => {
                protocol("data after the STARTTLS reply (possible injection)")
            }
            UpgradeError::AlreadyEncrypted => protocol("STARTTLS on an encrypted connection"),
        }
    }
}

/// What EHLO told us.
#[derive(Debug, Default, Clone)]
struct Extensions {
    starttls: bool,
    eight_bit: bool,
    smtputf8: bool,
    dsn: bool,
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
                "DSN" => ext.dsn = true,
                "AUTH" => ext.auth = words.map(|w| w.to_ascii_uppercase()).collect(),
                _ => {}
            }
        }
        ext
    }
}

/// An open, greeted (and, when asked, encrypted and authenticated) SMTP session over any
/// `BufRead + Write` stream: a socket from [`Session::connect`], or memory in tests.
pub struct Session<S = BufStream<Stream>> {
    stream: S,
    settings: Settings,
    ext: Extensions,
    encrypted: bool,
    broken: bool,
    /// Whether the current transaction got as far as DATA (a retry could then duplicate).
    data_started: bool,
    /// Whether the "no DSN" warning was printed (once per session, not per message).
    dsn_warned: bool,
    /// Called once the message is written but before its final `.`: the outbox journals
    /// "in doubt" there, the one point after which the server may have taken the message.
    before_final_dot: Option<FinalDotHook>,
    /// What `-v` printed, for the tests to check the masking.
    #[cfg(test)]
    transcript: Vec<String>,
}

impl<S> std::fmt::Debug for Session<S> {
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
        let refused = match Session::connect_once(settings) {
            Err(e) if e.exit_code() == crate::exit::code::AUTH => e,
            other => return other,
        };
        let (Some(renew), Some((user, rejected))) = (&settings.renew, &settings.credentials) else {
            return Err(refused);
        };
        settings.log("* the server refused the token: renewing it once");
        let secret = (renew.0)(rejected)?;
        let mut next = settings.clone();
        next.credentials = Some((user.clone(), secret));
        Session::connect_once(&next)
    }

    fn connect_once(settings: &Settings) -> Result<Session, SmtpError> {
        settings.check_helo()?;
        settings.check_auth_policy()?;
        // Building a TLS connector loads the system's CA store (tens of milliseconds): only
        // when TLS can happen at all.
        let connector = if settings.implicit_tls || settings.tls_mode != TlsMode::None {
            Some(TlsClient::new(&settings.tls)?)
        } else {
            None
        };
        let owned = settings.clone();
        let phase = move || connect_phase(owned, connector.as_ref());
        net::within(settings.timeout, phase).unwrap_or_else(|| {
            Err(SmtpError::Timeout {
                server: settings.server(),
                secs: settings.secs(),
                stage: "while connecting (TCP, TLS handshake, greeting, EHLO, AUTH)",
            })
        })
    }

    /// STARTTLS was answered: the handshake over the same socket, then EHLO again.
    fn upgrade(self, connector: &TlsClient) -> Result<Session, SmtpError> {
        let settings = self.settings;
        let stream = net::start_tls(self.stream, connector, &settings.host)
            .map_err(|e| settings.upgrade_error(e))?;
        let mut session = Session::over(BufStream::write_through(stream), settings, true);
        session.log("* TLS established");
        session.ehlo()?;
        Ok(session)
    }
}

impl<S: BufRead + Write> Session<S> {
    /// A session over `stream`, before the greeting is read.
    fn over(stream: S, settings: Settings, encrypted: bool) -> Session<S> {
        Session {
            stream,
            settings,
            ext: Extensions::default(),
            encrypted,
            broken: false,
            data_started: false,
            dsn_warned: false,
            before_final_dot: None,
            #[cfg(test)]
            transcript: Vec::new(),
        }
    }

    /// A greeted session over `stream` (a memory script), for other modules' unit tests.
    #[cfg(test)]
    pub(crate) fn greeted_for_test(stream: S, settings: Settings) -> Result<Session<S>, SmtpError> {
        let mut session = Session::over(stream, settings, true);
        session.greet()?;
        Ok(session)
    }

    fn log(&mut self, line: &str) {
        self.settings.log(line);
        #[cfg(test)]
        self.transcript.push(line.to_owned());
    }

    /// True when the connection failed and a new one is needed.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether EHLO offered 8BITMIME (RFC 6152): `--8bit` text may go unencoded.
    pub fn offers_8bitmime(&self) -> bool {
        self.ext.eight_bit
    }

    /// Whether the last transaction reached DATA.
    pub fn data_started(&self) -> bool {
        self.data_started
    }

    /// [`send_with`](Self::send_with), calling `hook` after the message and before its
    /// final `.` (an error there ends the transaction unsent, the connection broken).
    pub fn send_checkpointed(
        &mut self,
        envelope: &Envelope,
        bytes: &[u8],
        dsn: &super::Dsn,
        hook: FinalDotHook,
    ) -> Result<Reply, SmtpError> {
        self.before_final_dot = Some(hook);
        let result = self.send_with(envelope, bytes, dsn);
        self.before_final_dot = None;
        result
    }

    /// Sends one message: MAIL FROM, one RCPT per recipient, DATA. A rejected sender or
    /// recipient resets the transaction (RSET) so the session can carry the next message.
    pub fn send(&mut self, envelope: &Envelope, bytes: &[u8]) -> Result<Reply, SmtpError> {
        self.send_with(envelope, bytes, &super::Dsn::default())
    }

    /// [`send`](Self::send) asking for the delivery status notifications in `dsn`.
    pub fn send_with(
        &mut self,
        envelope: &Envelope,
        bytes: &[u8],
        dsn: &super::Dsn,
    ) -> Result<Reply, SmtpError> {
        self.data_started = false;
        let result = self.transaction(envelope, bytes, dsn);
        if let Err(e) = &result {
            // A rejected transaction is reset so the session can carry the next message.
            if e.breaks_connection() || self.command(&Rset, Stage::Mail, "").is_err() {
                self.broken = true;
            }
        }
        result
    }

    fn transaction(
        &mut self,
        envelope: &Envelope,
        bytes: &[u8],
        dsn: &super::Dsn,
    ) -> Result<Reply, SmtpError> {
        let mut params = Vec::new();
        // Checked on the message as given: a converted copy keeps its headers.
        let utf8 = needs_smtputf8(envelope, bytes);
        if let Some(what) = utf8.clone().filter(|_| !self.ext.smtputf8) {
            return Err(SmtpError::NeedsSmtpUtf8 {
                server: self.settings.server(),
                what,
            });
        }
        let converted;
        let bytes = if !bytes.is_ascii() && !self.ext.eight_bit {
            // Sent as they are, the 8-bit bytes could be stripped or mangled on the way.
            converted =
                super::downgrade::to_7bit(bytes).map_err(|e| SmtpError::EightBitNotOffered {
                    server: self.settings.server(),
                    why: e.0,
                })?;
            self.log("* no 8BITMIME: 8-bit parts converted to quoted-printable (RFC 6152)");
            &converted[..]
        } else {
            bytes
        };
        if !bytes.is_ascii() && self.ext.eight_bit {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        if utf8.is_some() {
            params.push(MailParameter::SmtpUtfEight);
        }
        let rcpt_params = self.dsn_parameters(dsn, &mut params)?;
        let sender = envelope.from().map(|a| a.to_string()).unwrap_or_default();
        self.command(
            &Mail::new(envelope.from().cloned(), params),
            Stage::Mail,
            &sender,
        )?;
        for rcpt in envelope.to() {
            let command = Rcpt::new(rcpt.clone(), rcpt_params.clone());
            self.command(&command, Stage::Rcpt, rcpt.as_ref())?;
        }
        self.data_started = true;
        self.command(&Data, Stage::Data, "")?;
        self.message(bytes)
    }

    /// Adds RET and ENVID to `mail` and returns NOTIFY for each RCPT, when the server offers
    /// DSN; without the offer: an error when `dsn.required`, else one warning per session
    /// and no parameter (msmtp fails the send instead, which its users asked to change).
    fn dsn_parameters(
        &mut self,
        dsn: &super::Dsn,
        mail: &mut Vec<MailParameter>,
    ) -> Result<Vec<RcptParameter>, SmtpError> {
        if !dsn.asks() && !dsn.required {
            return Ok(Vec::new());
        }
        if !self.ext.dsn {
            if dsn.required {
                return Err(SmtpError::DsnNotOffered {
                    server: self.settings.server(),
                });
            }
            if !self.dsn_warned {
                self.dsn_warned = true;
                eprintln!(
                    "postie: warning: {}: the server does not offer DSN: sending without \
                     delivery notifications (--require-dsn makes this an error)",
                    self.settings.server()
                );
            }
            return Ok(Vec::new());
        }
        let bare = |keyword: String| (keyword, None);
        mail.extend(dsn.mail_parameters().into_iter().map(|p| {
            let (keyword, value) = bare(p);
            MailParameter::Other { keyword, value }
        }));
        Ok(dsn
            .rcpt_parameter()
            .into_iter()
            .map(|keyword| RcptParameter::Other {
                keyword,
                value: None,
            })
            .collect())
    }

    /// The message after DATA's 354, dot-stuffed, and the server's verdict.
    fn message(&mut self, bytes: &[u8]) -> Result<Reply, SmtpError> {
        // Without the final CRLF: the terminator <CRLF>.<CRLF> supplies it.
        let body = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
        self.log(&format!(
            "> ({} octets of message, then <CRLF>.<CRLF>)",
            body.len()
        ));
        // With a hook the body is flushed first, so the hook runs once the server has all
        // but the final dot; without one, body and dot leave in one write as before.
        let hooked = self.before_final_dot.is_some();
        let written = {
            let mut w = BufWriter::with_capacity(64 * 1024, &mut self.stream);
            write_dot_stuffed(&mut w, body)
                .and_then(|()| {
                    if hooked {
                        Ok(())
                    } else {
                        w.write_all(b"\r\n.\r\n")
                    }
                })
                .and_then(|()| w.flush())
        };
        written.map_err(|e| self.io(Stage::Data, &e))?;
        if let Some(hook) = self.before_final_dot.as_mut() {
            hook().map_err(|source| SmtpError::Checkpoint { source })?;
            let stream = &mut self.stream;
            let dot = stream.write_all(b"\r\n.\r\n").and_then(|()| stream.flush());
            dot.map_err(|e| self.io(Stage::Data, &e))?;
        }
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
        self.log(&format!("> {}", line.trim_end()));
        self.write_line(&line, stage)?;
        self.expect(stage, what, 3)
    }

    fn write_line(&mut self, line: &str, stage: Stage) -> Result<(), SmtpError> {
        let stream = &mut self.stream;
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
            let n = (&mut self.stream)
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
            self.log(&format!("< {}", super::printable(buf.trim_end())));
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

    /// The greeting, then EHLO.
    fn greet(&mut self) -> Result<(), SmtpError> {
        self.expect(Stage::Connect, "", 2)?;
        self.ehlo()
    }

    fn ehlo(&mut self) -> Result<(), SmtpError> {
        let line = format!("EHLO {}\r\n", self.settings.helo);
        self.log(&format!("> {}", line.trim_end()));
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

    /// Ends the session politely (QUIT); errors are ignored: the mail is already sent.
    pub fn quit(mut self) {
        if !self.broken {
            let _ = self.command(&Quit, Stage::Connect, "");
        }
    }

    /// Logs in when there are credentials, never in the clear unless allowed.
    fn login(&mut self) -> Result<(), SmtpError> {
        let Some((user, password)) = self.settings.credentials.clone() else {
            return Ok(());
        };
        if !self.encrypted && !self.settings.allow_insecure_auth {
            return Err(SmtpError::InsecureAuth {
                server: self.settings.server(),
            });
        }
        let mechanism = self.choose_mechanism()?;
        self.authenticate(mechanism, &user, &password)
    }

    /// The first wanted mechanism that the server offers.
    fn choose_mechanism(&self) -> Result<AuthMechanism, SmtpError> {
        let s = &self.settings;
        let wanted: &[AuthMechanism] = if s.mechanisms.is_empty() {
            &[AuthMechanism::Plain, AuthMechanism::Login]
        } else {
            &s.mechanisms
        };
        let offered = &self.ext.auth;
        wanted
            .iter()
            .copied()
            .find(|m| offered.iter().any(|o| o == m.name()))
            .ok_or_else(|| SmtpError::AuthNotOffered {
                server: s.server(),
                wanted: wanted
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                offered: if offered.is_empty() {
                    "none".to_owned()
                } else {
                    super::printable(&offered.join(", ")).into_owned()
                },
            })
    }

    /// The AUTH exchange; payloads never reach the `-v` log.
    fn authenticate(
        &mut self,
        mechanism: AuthMechanism,
        user: &str,
        password: &Secret,
    ) -> Result<(), SmtpError> {
        let name = mechanism.name();
        let server = self.settings.server();
        self.log(&format!("> AUTH {name} (credentials masked)"));
        let first = match self.initial_response(mechanism, user, password)? {
            Some(response) => format!("AUTH {name} {}\r\n", response.expose()),
            None => format!("AUTH {name}\r\n"),
        };
        self.write_line(&first, Stage::Auth)?;
        let mut oauth_error = None;
        for step in 0..10 {
            let (reply, _) = self.read_reply(Stage::Auth)?;
            let answer = match reply.code {
                200..=299 => return Ok(()),
                334 if mechanism.is_oauth() => {
                    // The initial response went with AUTH, so a challenge is the server's
                    // error (base64 JSON), sent once, then the final reply.
                    if step > 0 {
                        return Err(auth_protocol(&server, name, "a second error challenge"));
                    }
                    oauth_error = sasl::oauth_error(&reply.text, password);
                    Secret::new(match mechanism {
                        // RFC 7628 §3.2.3: a single %x01, base64.
                        AuthMechanism::OAuthBearer => "AQ==",
                        _ => "",
                    })
                }
                334 => lettre_answer(mechanism, user, password, Some(&reply.text), &server)?,
                _ => {
                    let e = reply_error(&server, Stage::Auth, "", reply);
                    return Err(with_oauth_error(e, oauth_error));
                }
            };
            self.log("> (credentials masked)");
            self.write_line(&format!("{}\r\n", answer.expose()), Stage::Auth)?;
        }
        Err(auth_protocol(&server, name, "too many challenges"))
    }

    /// The response sent with AUTH, base64: OAUTHBEARER's always (RFC 7628 §3.1, with the
    /// host and port it connected to), lettre's where the mechanism has one.
    fn initial_response(
        &self,
        mechanism: AuthMechanism,
        user: &str,
        password: &Secret,
    ) -> Result<Option<Secret>, SmtpError> {
        let s = &self.settings;
        match mechanism.lettre() {
            None => Ok(Some(sasl::oauthbearer(
                user,
                &s.host,
                Some(s.port),
                password,
            ))),
            Some(m) if m.supports_initial_response() => {
                lettre_answer(mechanism, user, password, None, &s.server()).map(Some)
            }
            Some(_) => Ok(None),
        }
    }
}

/// lettre's response to a base64 `challenge` (None: the initial response), base64.
fn lettre_answer(
    mechanism: AuthMechanism,
    user: &str,
    password: &Secret,
    challenge: Option<&str>,
    server: &str,
) -> Result<Secret, SmtpError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(m) = mechanism.lettre() else {
        return Err(auth_protocol(server, mechanism.name(), "no encoder"));
    };
    let creds = Credentials::new(user.to_owned(), password.expose().to_owned());
    // A challenge that is not base64 text is passed on empty: lettre then says it is not one
    // it expects.
    let challenge = challenge.map(|c| {
        b64.decode(c.trim())
            .ok()
            .and_then(|c| String::from_utf8(c).ok())
            .unwrap_or_default()
    });
    m.response(&creds, challenge.as_deref())
        .map(|r| Secret::new(b64.encode(r)))
        .map_err(|e| auth_protocol(server, mechanism.name(), &e.to_string()))
}

fn auth_protocol(server: &str, mechanism: &str, why: &str) -> SmtpError {
    SmtpError::Protocol {
        server: server.to_owned(),
        detail: format!("AUTH {mechanism}: {why}"),
    }
}

/// An authentication failure carries the OAuth error the server sent before it: the reply
/// alone (`535 5.7.8 Username and Password not accepted`) does not say the token expired.
fn with_oauth_error(mut e: SmtpError, error: Option<String>) -> SmtpError {
    if let SmtpError::AuthFailed { oauth_error, .. } = &mut e {
        *oauth_error = error.map(String::into_boxed_str);
    }
    e
}

impl<T: Read + Write> Session<BufStream<T>> {
    /// Whether to upgrade with STARTTLS (by `--tls` and what EHLO offered); when so, sends
    /// it and checks that nothing but the go-ahead arrived in the clear.
    fn request_starttls(&mut self) -> Result<bool, SmtpError> {
        if self.encrypted {
            return Ok(false);
        }
        let offered = self.ext.starttls;
        let wanted = match self.settings.tls_mode {
            TlsMode::Required if !offered => {
                return Err(SmtpError::StartTlsNotOffered {
                    server: self.settings.server(),
                });
            }
            TlsMode::Required => true,
            TlsMode::Opportunistic => offered,
            TlsMode::None => false,
        };
        if !wanted {
            return Ok(false);
        }
        self.command(&"STARTTLS\r\n", Stage::Connect, "")?;
        net::upgrade::check_no_injection(self.stream.buffered())
            .map_err(|e| self.settings.upgrade_error(e))?;
        Ok(true)
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
    net::tcp_connect(&s.host, s.port, s.timeout).map_err(|e| match e {
        ConnectError::Resolve(e) => SmtpError::Resolve {
            server,
            detail: e.to_string(),
        },
        ConnectError::NoAddress => SmtpError::Resolve {
            server,
            detail: "no address".to_owned(),
        },
        ConnectError::Setup(e) | ConnectError::Failed(e) => {
            io_error(&server, Stage::Connect, &e, s.secs())
        }
    })
}

fn connect_phase(s: Settings, connector: Option<&TlsClient>) -> Result<Session, SmtpError> {
    let started = Instant::now();
    let tls_note = if s.implicit_tls {
        " (implicit TLS)"
    } else {
        ""
    };
    s.log(&format!("* connecting to {}{tls_note}", s.server()));
    let tcp = tcp_connect(&s)?;
    let stream = match (s.implicit_tls, connector) {
        (true, Some(c)) => net::handshake(c, &s.host, tcp).map_err(|e| s.upgrade_error(e))?,
        _ => Stream::Plain(tcp),
    };
    let encrypted = stream.is_encrypted();
    let mut session = Session::over(BufStream::write_through(stream), s, encrypted);
    session.greet()?;
    // Without a connector `--tls none` was asked: no STARTTLS.
    if let Some(c) = connector
        && session.request_starttls()?
    {
        session = session.upgrade(c)?;
    }
    session.login()?;
    session.log(&format!("* ready in {:?}", started.elapsed()));
    Ok(session)
}

/// What makes this message need SMTPUTF8 (RFC 6531), named for the error: the first address
/// whose local part is not ASCII (domains are A-labels by then), else the first header field
/// holding 8-bit octets (a UTF-8 address in To, say, which RFC 2047 cannot encode).
fn needs_smtputf8(envelope: &Envelope, bytes: &[u8]) -> Option<String> {
    let addresses = envelope.from().into_iter().chain(envelope.to());
    if let Some(a) = addresses.map(AsRef::<str>::as_ref).find(|a| !a.is_ascii()) {
        return Some(format!("the address {a}"));
    }
    // A message that starts with its blank line has no header at all.
    let end = match bytes.starts_with(b"\r\n") {
        true => 0,
        false => memchr::memmem::find(bytes, b"\r\n\r\n").unwrap_or(bytes.len()),
    };
    let mut field: &[u8] = b"";
    for line in bytes[..end].split(|&b| b == b'\n') {
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            field = line.split(|&b| b == b':').next().unwrap_or(line);
        }
        if !line.is_ascii() {
            return Some(format!(
                "the {} header",
                String::from_utf8_lossy(field).trim()
            ));
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::net::memory::MemoryStream;
    use lettre::Address;

    type Mem = Session<BufStream<MemoryStream>>;

    const GREETING: &[u8] = b"220 mx.test ESMTP\r\n";
    const EHLO: &[u8] =
        b"250-mx.test\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN XOAUTH2\r\n";

    pub(crate) fn settings() -> Settings {
        Settings {
            host: "mx.test".into(),
            port: 25,
            implicit_tls: false,
            tls_mode: TlsMode::None,
            tls: TlsOptions::default(),
            helo: "client.test".into(),
            timeout: Duration::from_secs(5),
            credentials: None,
            mechanisms: Vec::new(),
            allow_insecure_auth: false,
            verbose: false,
            renew: None,
        }
    }

    fn over(stream: MemoryStream, s: Settings, encrypted: bool) -> Mem {
        Session::over(BufStream::write_through(stream), s, encrypted)
    }

    /// A greeted session: the greeting and EHLO reply, then `rest`.
    fn greeted(rest: &[u8], s: Settings, encrypted: bool) -> Mem {
        let script = [GREETING, EHLO, rest].concat();
        let mut session = over(MemoryStream::new(&script), s, encrypted);
        session.greet().expect("greeting and EHLO");
        session
    }

    fn sent(session: &Mem) -> String {
        String::from_utf8_lossy(&session.stream.get_ref().output).into_owned()
    }

    fn envelope() -> Envelope {
        let from = "a@x.test".parse().expect("address");
        let to = vec!["b@y.test".parse().expect("address")];
        Envelope::new(Some(from), to).expect("envelope")
    }

    fn with_password(mechanisms: Vec<AuthMechanism>, password: &str) -> Settings {
        Settings {
            credentials: Some(("user".into(), Secret::new(password))),
            mechanisms,
            ..settings()
        }
    }

    #[test]
    fn greeting_and_ehlo_extensions() {
        let session = greeted(b"", settings(), false);
        assert_eq!(sent(&session), "EHLO client.test\r\n");
        assert!(session.ext.starttls && session.ext.eight_bit && !session.ext.smtputf8);
        assert_eq!(session.ext.auth, ["PLAIN", "LOGIN", "XOAUTH2"]);
    }

    #[test]
    fn replies_split_across_reads_one_byte_at_a_time() {
        let script = [GREETING, EHLO, b"250-first\r\n250 second\r\n"].concat();
        let mut session = over(MemoryStream::dripping(&script), settings(), false);
        session.greet().expect("greeting and EHLO");
        assert_eq!(session.ext.auth, ["PLAIN", "LOGIN", "XOAUTH2"]);
        let (reply, lines) = session.read_reply(Stage::Mail).expect("reply");
        assert_eq!((reply.code, reply.text.as_str()), (250, "first second"));
        assert_eq!(lines, ["first", "second"]);
    }

    #[test]
    fn a_garbled_or_missing_reply_is_a_typed_error() {
        let mut session = over(MemoryStream::new(b"hello\r\n"), settings(), false);
        let err = session.greet().expect_err("not SMTP");
        assert!(matches!(err, SmtpError::Protocol { .. }), "{err}");
        let mut session = over(MemoryStream::new(b"250-cut"), settings(), false);
        let err = session.greet().expect_err("closed");
        assert!(matches!(err, SmtpError::Dropped { .. }), "{err}");
        assert!(session.is_broken());
    }

    #[test]
    fn starttls_is_requested_when_required() {
        let s = Settings {
            tls_mode: TlsMode::Required,
            ..settings()
        };
        let mut session = greeted(b"220 go ahead\r\n", s, false);
        assert!(session.request_starttls().expect("go-ahead"));
        assert_eq!(sent(&session), "EHLO client.test\r\nSTARTTLS\r\n");
        // Opportunistic without the offer, or none at all: no STARTTLS.
        let s = Settings {
            tls_mode: TlsMode::None,
            ..settings()
        };
        let mut session = greeted(b"", s, false);
        assert!(!session.request_starttls().expect("no upgrade"));
        assert_eq!(sent(&session), "EHLO client.test\r\n");
    }

    #[test]
    fn starttls_refuses_bytes_injected_after_the_go_ahead() {
        let s = Settings {
            tls_mode: TlsMode::Opportunistic,
            ..settings()
        };
        let mut session = greeted(b"220 go ahead\r\n250-injected\r\n", s, false);
        let err = session.request_starttls().expect_err("injection");
        assert!(err.to_string().contains("possible injection"), "{err}");
        assert_eq!(err.exit_code(), crate::exit::code::PROTOCOL);
    }

    #[test]
    fn starttls_required_but_not_offered() {
        let s = Settings {
            tls_mode: TlsMode::Required,
            ..settings()
        };
        let script = [GREETING, b"250 mx.test\r\n"].concat();
        let mut session = over(MemoryStream::new(&script), s, false);
        session.greet().expect("greeting and EHLO");
        let err = session.request_starttls().expect_err("not offered");
        assert!(matches!(err, SmtpError::StartTlsNotOffered { .. }), "{err}");
    }

    /// The transcript of `-v` must never show the password or its encodings.
    fn assert_masked(session: &Mem, secrets: &[&str]) {
        let log = session.transcript.join("\n");
        assert!(log.contains("(credentials masked)"), "{log}");
        for secret in secrets {
            assert!(!log.contains(secret), "{secret} in {log}");
        }
    }

    #[test]
    fn auth_plain_sends_an_initial_response() {
        let s = with_password(vec![], "pw");
        let mut session = greeted(b"235 ok\r\n", s, true);
        session.login().expect("login");
        assert_eq!(
            sent(&session),
            "EHLO client.test\r\nAUTH PLAIN AHVzZXIAcHc=\r\n"
        );
        assert_masked(&session, &["AHVzZXIAcHc=", "pw"]);
    }

    #[test]
    fn auth_login_answers_both_challenges() {
        let s = with_password(vec![AuthMechanism::Login], "pw");
        let script = b"334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n";
        let mut session = greeted(script, s, true);
        session.login().expect("login");
        assert_eq!(
            sent(&session),
            "EHLO client.test\r\nAUTH LOGIN\r\ndXNlcg==\r\ncHc=\r\n"
        );
        assert_masked(&session, &["dXNlcg==", "cHc="]);
    }

    #[test]
    fn auth_xoauth2_answers_an_error_challenge_empty() {
        let s = with_password(vec![AuthMechanism::Xoauth2], "s3cr3t");
        let script = b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n535 5.7.8 bad token\r\n";
        let mut session = greeted(script, s, true);
        let err = session.login().expect_err("refused");
        assert!(matches!(err, SmtpError::AuthFailed { .. }), "{err}");
        assert_eq!(err.exit_code(), crate::exit::code::AUTH);
        assert_eq!(
            sent(&session),
            "EHLO client.test\r\nAUTH XOAUTH2 dXNlcj11c2VyAWF1dGg9QmVhcmVyIHMzY3IzdAEB\r\n\r\n"
        );
        assert_masked(&session, &["dXNlcj11c2Vy", "s3cr3t"]);
        assert_eq!(
            err.to_string(),
            r#"mx.test:25: authentication failed: 535 5.7.8 bad token (the server's OAuth error: {"status":"401"})"#
        );
    }

    const TOKEN: &str = "ya29.tok-EN";
    /// OAUTHBEARER's initial response for `user` at mx.test:587 with TOKEN (computed by
    /// Python).
    const BEARER: &str =
        "bixhPXVzZXIsAWhvc3Q9bXgudGVzdAFwb3J0PTU4NwFhdXRoPUJlYXJlciB5YTI5LnRvay1FTgEB";
    /// XOAUTH2's initial response for `user` with TOKEN.
    const XOAUTH2: &str = "dXNlcj11c2VyAWF1dGg9QmVhcmVyIHlhMjkudG9rLUVOAQE=";
    /// `{"status":"invalid_token"}`, as a server's error challenge.
    const INVALID_TOKEN: &str = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=";

    /// An OAuth2 account in auto mode, as the CLI sets it up.
    fn oauth2() -> Settings {
        Settings {
            port: 587,
            ..with_password(
                vec![AuthMechanism::OAuthBearer, AuthMechanism::Xoauth2],
                TOKEN,
            )
        }
    }

    /// A session whose EHLO offers `auth`, then `rest`.
    fn offering(auth: &str, rest: &[u8], s: Settings, drip: bool) -> Mem {
        let ehlo = format!("250-mx.test\r\n250 AUTH {auth}\r\n");
        let script = [GREETING, ehlo.as_bytes(), rest].concat();
        let stream = if drip {
            MemoryStream::dripping(&script)
        } else {
            MemoryStream::new(&script)
        };
        let mut session = over(stream, s, true);
        session.greet().expect("greeting and EHLO");
        session
    }

    #[test]
    fn auth_oauthbearer_is_preferred_and_sends_host_and_port() {
        let mut session = offering(
            "PLAIN XOAUTH2 OAUTHBEARER",
            b"235 2.7.0 ok\r\n",
            oauth2(),
            false,
        );
        session.login().expect("login");
        assert_eq!(
            sent(&session),
            format!("EHLO client.test\r\nAUTH OAUTHBEARER {BEARER}\r\n")
        );
        assert_masked(&session, &[BEARER, TOKEN]);
        // XOAUTH2 when only it is offered.
        let mut session = offering("PLAIN XOAUTH2", b"235 2.7.0 ok\r\n", oauth2(), false);
        session.login().expect("login");
        assert_eq!(
            sent(&session),
            format!("EHLO client.test\r\nAUTH XOAUTH2 {XOAUTH2}\r\n")
        );
    }

    #[test]
    fn auth_oauthbearer_error_round_trip() {
        let rest = format!("334 {INVALID_TOKEN}\r\n535 5.7.8 Authentication failed\r\n");
        for drip in [false, true] {
            let mut session = offering("OAUTHBEARER", rest.as_bytes(), oauth2(), drip);
            let err = session.login().expect_err("refused");
            assert!(matches!(err, SmtpError::AuthFailed { .. }), "{err}");
            assert_eq!(err.exit_code(), crate::exit::code::AUTH);
            assert_eq!(crate::exit::code::AUTH, 77);
            assert_eq!(
                err.to_string(),
                r#"mx.test:587: authentication failed: 535 5.7.8 Authentication failed (the server's OAuth error: {"status":"invalid_token"})"#
            );
            assert_eq!(
                sent(&session),
                format!("EHLO client.test\r\nAUTH OAUTHBEARER {BEARER}\r\nAQ==\r\n")
            );
            assert_masked(&session, &[BEARER, TOKEN, "AQ=="]);
        }
        // A temporary failure after the error keeps its code (75) and the server's reason.
        let rest = format!("334 {INVALID_TOKEN}\r\n454 4.7.0 try later\r\n");
        let mut session = offering("OAUTHBEARER", rest.as_bytes(), oauth2(), false);
        let err = session.login().expect_err("refused");
        assert_eq!(err.exit_code(), crate::exit::code::TEMPFAIL);
        assert!(err.to_string().contains("invalid_token"), "{err}");
    }

    #[test]
    fn auth_oauth_a_second_challenge_is_a_protocol_error() {
        let rest = format!("334 {INVALID_TOKEN}\r\n334 e30=\r\n");
        let mut session = offering("OAUTHBEARER", rest.as_bytes(), oauth2(), false);
        let err = session.login().expect_err("protocol");
        assert_eq!(err.exit_code(), crate::exit::code::PROTOCOL, "{err}");
        assert!(
            err.to_string()
                .contains("AUTH OAUTHBEARER: a second error challenge")
        );
    }

    #[test]
    fn auth_oauth2_needs_an_offered_mechanism_and_tls() {
        let mut session = offering("PLAIN LOGIN", b"", oauth2(), false);
        let err = session.login().expect_err("not offered");
        assert!(matches!(err, SmtpError::AuthNotOffered { .. }), "{err}");
        assert_eq!(err.exit_code(), crate::exit::code::UNAVAILABLE);
        assert_eq!(
            err.to_string(),
            "mx.test:587: the server offers no usable AUTH mechanism (wanted: OAUTHBEARER, XOAUTH2; offered: PLAIN, LOGIN)"
        );
        assert_eq!(sent(&session), "EHLO client.test\r\n");
        let script = [GREETING, b"250-mx.test\r\n250 AUTH OAUTHBEARER\r\n"].concat();
        let mut session = over(MemoryStream::new(&script), oauth2(), false);
        session.greet().expect("greeting and EHLO");
        let err = session.login().expect_err("cleartext");
        assert!(matches!(err, SmtpError::InsecureAuth { .. }), "{err}");
        assert_eq!(err.exit_code(), crate::exit::code::CONFIG);
        assert_eq!(sent(&session), "EHLO client.test\r\n");
    }

    #[test]
    fn auth_is_refused_in_the_clear_and_needs_an_offered_mechanism() {
        let mut session = greeted(b"", with_password(vec![], "pw"), false);
        let err = session.login().expect_err("cleartext");
        assert!(matches!(err, SmtpError::InsecureAuth { .. }), "{err}");
        assert_eq!(sent(&session), "EHLO client.test\r\n");
        let script = [GREETING, b"250-mx.test\r\n250 AUTH CRAM-MD5\r\n"].concat();
        let mut session = over(
            MemoryStream::new(&script),
            with_password(vec![], "pw"),
            true,
        );
        session.greet().expect("greeting and EHLO");
        let err = session.login().expect_err("no mechanism");
        assert!(err.to_string().contains("offered: CRAM-MD5"), "{err}");
    }

    #[test]
    fn a_refused_recipient_is_reset_and_the_session_goes_on() {
        let script = b"250 ok\r\n550 5.1.1 no such user\r\n250 reset\r\n\
250 ok\r\n250 ok\r\n354 go\r\n250 queued as 7\r\n";
        let mut session = greeted(script, settings(), false);
        let err = session.send(&envelope(), b"x\r\n").expect_err("refused");
        assert!(err.to_string().contains("recipient b@y.test"), "{err}");
        assert!(!session.is_broken() && !session.data_started());
        let reply = session.send(&envelope(), b"x\r\n").expect("sent");
        assert_eq!(reply.code, 250);
        let mail = "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n";
        assert_eq!(
            sent(&session),
            format!("EHLO client.test\r\n{mail}RSET\r\n{mail}DATA\r\nx\r\n.\r\n")
        );
    }

    #[test]
    fn the_message_is_dot_stuffed_on_the_wire() {
        let script = b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let mut session = greeted(script, settings(), false);
        session
            .send(&envelope(), b".hidden\r\nline\r\n.\r\n")
            .expect("sent");
        let wire = sent(&session);
        assert!(
            wire.ends_with("DATA\r\n..hidden\r\nline\r\n..\r\n.\r\n"),
            "{wire:?}"
        );
    }

    #[test]
    fn eight_bit_content_needs_8bitmime() {
        let script = b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let mut session = greeted(script, settings(), false);
        session
            .send(&envelope(), "Subject: x\r\n\r\nK\u{e4}se\r\n".as_bytes())
            .expect("sent");
        assert!(sent(&session).contains("MAIL FROM:<a@x.test> BODY=8BITMIME\r\n"));

        let script = [GREETING, b"250 mx.test\r\n", b"250 reset\r\n"].concat();
        let mut session = over(MemoryStream::new(&script), settings(), false);
        session.greet().expect("greeting and EHLO");
        // 8-bit bytes in a part declared base64 cannot be converted without changing them.
        let err = session
            .send(
                &envelope(),
                "Content-Transfer-Encoding: base64\r\n\r\nK\u{e4}se\r\n".as_bytes(),
            )
            .expect_err("refused");
        assert_eq!(err.exit_code(), crate::exit::code::UNAVAILABLE);
        assert!(err.to_string().contains("does not offer 8BITMIME"), "{err}");
        // Nothing of the message went out; the session can carry the next one.
        assert_eq!(sent(&session), "EHLO client.test\r\nRSET\r\n");
        assert!(!session.is_broken());
    }

    #[test]
    fn without_8bitmime_an_8bit_body_goes_quoted_printable() {
        let script = [
            GREETING,
            b"250 mx.test\r\n",
            b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
        ]
        .concat();
        let mut session = over(MemoryStream::new(&script), settings(), false);
        session.greet().expect("greeting and EHLO");
        let message = "Subject: x\r\n\r\nK\u{e4}se\r\n";
        session.send(&envelope(), message.as_bytes()).expect("sent");
        assert!(
            sent(&session).ends_with(
                "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: x\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=A4se\r\n.\r\n"
            ),
            "{}",
            sent(&session)
        );
    }

    #[test]
    fn the_checkpoint_runs_after_the_message_and_before_the_final_dot() {
        let script = b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let mut session = greeted(script, settings(), false);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = calls.clone();
        let hook: FinalDotHook = Box::new(move || {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        let dsn = crate::smtp::Dsn::default();
        session
            .send_checkpointed(&envelope(), b"x\r\n", &dsn, hook)
            .expect("sent");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(sent(&session).ends_with("DATA\r\nx\r\n.\r\n"));
        // A failing hook: the message is never ended, the connection is given up.
        let script = b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let mut session = greeted(script, settings(), false);
        let hook: FinalDotHook = Box::new(|| Err(io::Error::other("disk full")));
        let err = session
            .send_checkpointed(&envelope(), b"x\r\n", &dsn, hook)
            .expect_err("journal failed");
        assert!(matches!(err, SmtpError::Checkpoint { .. }), "{err}");
        assert!(session.is_broken() && session.data_started());
        assert!(
            sent(&session).ends_with("DATA\r\nx"),
            "{:?}",
            sent(&session)
        );
    }

    #[test]
    fn dot_stuffing_matches_the_wire_format() {
        let mut out = Vec::new();
        write_dot_stuffed(&mut out, b".a\r\nb\r\n.\r\n..c").expect("write");
        assert_eq!(out, b"..a\r\nb\r\n..\r\n...c");
    }

    fn dsn() -> crate::smtp::Dsn {
        use crate::smtp::dsn::{Notify, Ret};
        crate::smtp::Dsn {
            notify: Some(Notify::parse("success,failure").expect("notify")),
            ret: Some(Ret::Hdrs),
            envid: Some("q+1 x".into()),
            required: false,
        }
    }

    /// A session whose EHLO lists `keywords`, then `rest`.
    fn with_ext(keywords: &str, rest: &[u8]) -> Mem {
        let ehlo = format!("250-mx.test\r\n{keywords}250 HELP\r\n");
        let script = [GREETING, ehlo.as_bytes(), rest].concat();
        let mut session = over(MemoryStream::new(&script), settings(), false);
        session.greet().expect("greeting and EHLO");
        session
    }

    #[test]
    fn dsn_parameters_go_on_mail_and_each_rcpt_when_offered() {
        let script = b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let mut session = with_ext("250-DSN\r\n", script);
        let from = "a@x.test".parse().expect("address");
        let to = vec![
            "b@y.test".parse().expect("address"),
            "c@y.test".parse().expect("address"),
        ];
        let env = Envelope::new(Some(from), to).expect("envelope");
        session.send_with(&env, b"x\r\n", &dsn()).expect("sent");
        assert_eq!(
            sent(&session),
            "EHLO client.test\r\n\
MAIL FROM:<a@x.test> RET=HDRS ENVID=q+2B1+20x\r\n\
RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE\r\n\
RCPT TO:<c@y.test> NOTIFY=SUCCESS,FAILURE\r\nDATA\r\nx\r\n.\r\n"
        );
    }

    #[test]
    fn without_dsn_the_mail_goes_plain_unless_required() {
        let script = b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let mut session = with_ext("", script);
        session
            .send_with(&envelope(), b"x\r\n", &dsn())
            .expect("sent");
        assert!(session.dsn_warned);
        assert_eq!(
            sent(&session),
            "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\r\n.\r\n"
        );
        let required = crate::smtp::Dsn {
            required: true,
            ..dsn()
        };
        let mut session = with_ext("", b"250 reset\r\n");
        let err = session
            .send_with(&envelope(), b"x\r\n", &required)
            .expect_err("no DSN");
        assert_eq!(err.exit_code(), 69);
        assert!(!sent(&session).contains("MAIL"), "{}", sent(&session));
    }

    #[test]
    fn a_utf8_address_needs_smtputf8_and_is_refused_before_mail_from() {
        let from: Address = "a@x.test".parse().expect("address");
        let to: Address = "jos\u{e9}@xn--bcher-kva.test".parse().expect("address");
        let env = Envelope::new(Some(from), vec![to]).expect("envelope");
        let mut session = with_ext("250-8BITMIME\r\n", b"250 reset\r\n");
        let err = session.send(&env, b"x\r\n").expect_err("refused");
        assert_eq!(err.exit_code(), 65);
        assert_eq!(
            err.to_string(),
            "mx.test:25: the address jos\u{e9}@xn--bcher-kva.test needs SMTPUTF8, which the server does not offer (nothing was sent)"
        );
        assert!(!sent(&session).contains("MAIL"));
        let script = b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let mut session = with_ext("250-8BITMIME\r\n250-SMTPUTF8\r\n", script);
        session
            .send(&env, b"To: jos\xc3\xa9@xn--bcher-kva.test\r\n\r\nx\r\n")
            .expect("sent");
        let wire = sent(&session);
        assert!(
            wire.contains("MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<jos\u{e9}@xn--bcher-kva.test>\r\n"),
            "{wire}"
        );
    }

    #[test]
    fn a_utf8_header_is_named_when_smtputf8_is_missing() {
        let bytes = b"Subject: plain\r\nTo: a@x.test,\r\n \xc3\xa9@x.test\r\n\r\nbody \xc3\xa9\r\n";
        assert_eq!(
            needs_smtputf8(&envelope(), bytes).as_deref(),
            Some("the To header")
        );
        assert_eq!(
            needs_smtputf8(&envelope(), b"A: b\r\n\r\n\xc3\xa9\r\n"),
            None
        );
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
        assert!(e.starttls && e.eight_bit && !e.smtputf8 && !e.dsn);
        assert_eq!(e.auth, ["PLAIN", "LOGIN"]);
    }
}
