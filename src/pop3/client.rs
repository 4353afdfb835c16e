//! A POP3 session over any `BufRead + Write` stream: greeting, CAPA, STLS, authentication,
//! and the transaction commands. Generic over the stream so tests drive it in memory; the
//! transports live in `connect`. With `-v` the dialogue goes to stderr, secrets masked, and
//! message bodies left out.

use std::io::{self, BufRead, Write};

use crate::pop3::Pop3Error;
use crate::pop3::codec::{self, BodyError, Limits, MAX_STATUS_LINE};
use crate::pop3::command::Command;
use crate::pop3::response::{self, Capabilities, Reply, RespCode};
use crate::pop3::sasl::{self, Method};
use crate::secret::Secret;

/// Who logs in.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    /// The password (or the OAuth access token for XOAUTH2 and OAUTHBEARER).
    pub password: Secret,
}

/// Which method to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthChoice {
    /// The first of SASL PLAIN, LOGIN, CRAM-MD5 the server offers, then USER/PASS; methods that
    /// send the password as it is are left out over an unencrypted connection.
    #[default]
    Auto,
    /// This method only (APOP, XOAUTH2 and OAUTHBEARER are only used when named).
    Only(Method),
    /// An OAuth 2.0 account (the password is an access token): OAUTHBEARER when the server
    /// offers it, else XOAUTH2; never over an unencrypted connection unless allowed.
    OAuth2,
}

/// UIDL's listing: message number and unique id.
pub type UidList = Vec<(u32, Vec<u8>)>;

/// One message of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub number: u32,
    pub size: u64,
}

/// A POP3 session.
#[derive(Debug)]
pub struct Client<S> {
    stream: S,
    host: String,
    timeout_secs: u64,
    verbose: bool,
    pub greeting: String,
    pub caps: Capabilities,
    /// Use a SASL initial response with AUTH (RFC 5034); off sends the mechanism alone.
    pub initial_response: bool,
    /// The server's port, for OAUTHBEARER's `port=` (RFC 7628 §3.1); `connect` sets it.
    /// None leaves `port=` out.
    pub port: Option<u16>,
    /// What `-v` printed, for the tests to check the masking.
    #[cfg(test)]
    transcript: Vec<String>,
}

impl<S: BufRead + Write> Client<S> {
    pub fn new(stream: S, host: &str, timeout_secs: u64, verbose: bool) -> Client<S> {
        Client {
            stream,
            host: host.to_owned(),
            timeout_secs,
            verbose,
            greeting: String::new(),
            caps: Capabilities::default(),
            initial_response: true,
            port: None,
            #[cfg(test)]
            transcript: Vec::new(),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Swaps the stream (after STLS); capabilities are forgotten until CAPA runs again.
    pub fn replace_stream<T: BufRead + Write>(self, stream: T) -> Client<T> {
        Client {
            stream,
            host: self.host,
            timeout_secs: self.timeout_secs,
            verbose: self.verbose,
            greeting: self.greeting,
            caps: Capabilities::default(),
            initial_response: self.initial_response,
            port: self.port,
            #[cfg(test)]
            transcript: self.transcript,
        }
    }

    /// One line of the `-v` dialogue.
    fn log(&mut self, line: String) {
        if self.verbose {
            eprintln!("{line}");
        }
        #[cfg(test)]
        self.transcript.push(line);
    }

    fn io_err(&self, what: &str, e: io::Error) -> Pop3Error {
        Pop3Error::from_io(&self.host, what, self.timeout_secs, e)
    }

    fn protocol(&self, why: impl Into<String>) -> Pop3Error {
        Pop3Error::Protocol {
            host: self.host.clone(),
            why: why.into(),
        }
    }

    /// Writes `cmd` without flushing (pipelining batches several).
    pub fn queue(&mut self, cmd: &Command) -> Result<(), Pop3Error> {
        if self.verbose || cfg!(test) {
            self.log(format!("C: {}", cmd.masked()));
        }
        let line = cmd.to_string();
        self.stream
            .write_all(line.as_bytes())
            .map_err(|e| Pop3Error::from_io(&self.host, cmd.name(), self.timeout_secs, e))
    }

    pub fn flush(&mut self) -> Result<(), Pop3Error> {
        self.stream.flush().map_err(|e| self.io_err("sending", e))
    }

    fn send(&mut self, cmd: &Command) -> Result<(), Pop3Error> {
        self.queue(cmd)?;
        self.flush()
    }

    /// Reads one status line and parses it.
    fn read_reply(&mut self, what: &str) -> Result<Reply, Pop3Error> {
        let line = codec::read_status_line(&mut self.stream, MAX_STATUS_LINE).map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                self.protocol(e.to_string())
            } else {
                self.io_err(what, e)
            }
        })?;
        if self.verbose || cfg!(test) {
            let text = String::from_utf8_lossy(response::trim_eol(&line));
            self.log(format!("S: {}", crate::pop3::printable(&text)));
        }
        response::parse_reply(&line).map_err(|e| self.protocol(format!("after {what}: {e}")))
    }

    /// Reads the status line answering `cmd`: `+OK` text, or `-ERR` as [`Pop3Error::Refused`].
    pub fn read_status(&mut self, cmd: &Command) -> Result<String, Pop3Error> {
        match self.read_reply(cmd.name())? {
            Reply::Ok { text, .. } => Ok(text),
            Reply::Err { code, text } => Err(self.refused(cmd.name(), code, text, false)),
            Reply::Continue(_) => {
                Err(self.protocol(format!("unexpected `+` after {}", cmd.name())))
            }
        }
    }

    fn refused(
        &self,
        command: &str,
        code: Option<RespCode>,
        text: String,
        auth: bool,
    ) -> Pop3Error {
        Pop3Error::Refused {
            host: self.host.clone(),
            command: command.to_owned(),
            code,
            text,
            auth,
            oauth_error: None,
        }
    }

    /// Sends a single-line command and returns the `+OK` text.
    pub fn command(&mut self, cmd: &Command) -> Result<String, Pop3Error> {
        self.send(cmd)?;
        self.read_status(cmd)
    }

    /// Reads a multi-line body (after its `+OK`) into `sink`, streaming.
    pub fn read_body_to<W: Write + ?Sized>(
        &mut self,
        sink: &mut W,
        limits: Limits,
    ) -> Result<u64, BodyError> {
        codec::read_body(&mut self.stream, sink, limits)
    }

    /// Maps a body error of a command to the session's error; `write` names the destination.
    pub fn body_error(&self, what: &str, e: BodyError, dest: &std::path::Path) -> Pop3Error {
        match e {
            BodyError::Read(e) => self.io_err(what, e),
            BodyError::Write(source) => Pop3Error::Write {
                path: dest.to_owned(),
                source,
            },
            BodyError::TooLong(over) => {
                self.protocol(format!("the {what} reply has {over}; stopped reading"))
            }
        }
    }

    /// Sends a multi-line command and returns its body (for listings, within `limits`).
    pub fn multiline(&mut self, cmd: &Command, limits: Limits) -> Result<Vec<u8>, Pop3Error> {
        self.command(cmd)?;
        let mut body = Vec::new();
        self.read_body_to(&mut body, limits)
            .map_err(|e| self.body_error(cmd.name(), e, std::path::Path::new("memory")))?;
        Ok(body)
    }

    /// Reads the greeting; a `-ERR` greeting is a refusal.
    pub fn read_greeting(&mut self) -> Result<(), Pop3Error> {
        match self.read_reply("greeting")? {
            Reply::Ok { text, .. } => {
                self.greeting = text;
                Ok(())
            }
            // A temporary refusal keeps its code (75); any other -ERR greeting means the
            // service is not available to us.
            Reply::Err {
                code: Some(c),
                text,
            } if c.is_temporary() => Err(self.refused("connection", Some(c), text, false)),
            Reply::Err { text, .. } => Err(Pop3Error::Unavailable {
                host: self.host.clone(),
                why: format!(
                    "the server refused the connection: {}",
                    crate::pop3::printable(&text)
                ),
            }),
            Reply::Continue(_) => Err(self.protocol("a greeting that is not +OK")),
        }
    }

    /// CAPA; when the server refuses it (RFC 1939 server), capabilities are "unknown".
    pub fn capa(&mut self) -> Result<&Capabilities, Pop3Error> {
        self.caps = match self.multiline(&Command::Capa, Limits::CAPA) {
            Ok(body) => Capabilities::parse(&body),
            Err(Pop3Error::Refused { .. }) => Capabilities::default(),
            Err(e) => return Err(e),
        };
        Ok(&self.caps)
    }

    /// Sends STLS and reads its `+OK`; the caller then does the handshake on the stream.
    pub fn stls(&mut self) -> Result<(), Pop3Error> {
        match self.command(&Command::Stls) {
            Ok(_) => Ok(()),
            Err(Pop3Error::Refused { text, .. }) => Err(Pop3Error::Unavailable {
                host: self.host.clone(),
                why: format!("STLS refused: {}", crate::pop3::printable(&text)),
            }),
            Err(e) => Err(e),
        }
    }

    /// Chooses the method for `choice` given what the server offers and whether the
    /// connection is encrypted.
    pub fn choose_method(
        &self,
        choice: AuthChoice,
        encrypted: bool,
        allow_insecure: bool,
    ) -> Result<Method, Pop3Error> {
        let insecure_ok = encrypted || allow_insecure;
        match choice {
            AuthChoice::Only(m) => {
                if m.is_cleartext() && !insecure_ok {
                    return Err(self.insecure(m));
                }
                if m == Method::Apop && response::apop_timestamp(&self.greeting).is_none() {
                    return Err(Pop3Error::Unavailable {
                        host: self.host.clone(),
                        why: "APOP asked for, but the greeting has no timestamp".into(),
                    });
                }
                Ok(m)
            }
            AuthChoice::Auto => self.choose_auto(insecure_ok),
            AuthChoice::OAuth2 => self.choose_oauth2(insecure_ok),
        }
    }

    fn insecure(&self, m: Method) -> Pop3Error {
        Pop3Error::InsecureAuth {
            host: self.host.clone(),
            method: m.name().to_owned(),
        }
    }

    /// The SASL methods of `candidates` that CAPA's SASL line lists, in that order.
    fn offered(&self, candidates: &[Method]) -> Vec<Method> {
        let sasl = self.caps.sasl();
        candidates
            .iter()
            .copied()
            .filter(|m| m.mechanism().is_some_and(|n| sasl.iter().any(|s| s == n)))
            .collect()
    }

    /// `Auto`: PLAIN, LOGIN, CRAM-MD5 as offered, then USER; cleartext ones only when allowed.
    fn choose_auto(&self, insecure_ok: bool) -> Result<Method, Pop3Error> {
        let mut offered = self.offered(&[Method::Plain, Method::Login, Method::CramMd5]);
        if self.caps.user() {
            offered.push(Method::User);
        }
        let first_cleartext = offered.iter().copied().find(|m| m.is_cleartext());
        match offered
            .into_iter()
            .find(|m| insecure_ok || !m.is_cleartext())
        {
            Some(m) => Ok(m),
            None => match first_cleartext {
                Some(m) => Err(self.insecure(m)),
                None => Err(Pop3Error::Unavailable {
                    host: self.host.clone(),
                    why: "the server offers no authentication method postie knows".into(),
                }),
            },
        }
    }

    /// `OAuth2`: OAUTHBEARER (the standard), else XOAUTH2 (what Gmail and Outlook began
    /// with). Both send the token as it is, so they need TLS unless allowed.
    fn choose_oauth2(&self, insecure_ok: bool) -> Result<Method, Pop3Error> {
        let Some(&m) = self
            .offered(&[Method::OAuthBearer, Method::XOauth2])
            .first()
        else {
            let sasl = self.caps.sasl();
            let listed = if sasl.is_empty() {
                "none".to_owned()
            } else {
                crate::pop3::printable(&sasl.join(" ")).into_owned()
            };
            return Err(Pop3Error::Unavailable {
                host: self.host.clone(),
                why: format!(
                    "the server offers neither OAUTHBEARER nor XOAUTH2 (its SASL mechanisms: {listed})"
                ),
            });
        };
        if !insecure_ok {
            return Err(self.insecure(m));
        }
        Ok(m)
    }

    /// Logs in with `method`.
    pub fn login(&mut self, creds: &Credentials, method: Method) -> Result<(), Pop3Error> {
        let user = creds.user.as_str();
        let pw = &creds.password;
        let result = match method {
            Method::User => self
                .command(&Command::User(user.to_owned()))
                .and_then(|_| self.command(&Command::Pass(pw.clone())))
                .map(|_| ()),
            Method::Apop => {
                let stamp = response::apop_timestamp(&self.greeting)
                    .unwrap_or("")
                    .to_owned();
                self.command(&Command::Apop {
                    user: user.to_owned(),
                    digest: sasl::apop_digest(&stamp, pw),
                })
                .map(|_| ())
            }
            Method::Plain => self.sasl_exchange(method, Some(sasl::plain(user, pw)), |_, _| None),
            Method::XOauth2 => self.oauth_exchange(method, sasl::xoauth2(user, pw), pw),
            Method::OAuthBearer => {
                let initial = sasl::oauthbearer(user, &self.host, self.port, pw);
                self.oauth_exchange(method, initial, pw)
            }
            Method::Login => self.sasl_exchange(method, None, |step, _| {
                Some(match step {
                    0 => sasl::login_step(user),
                    _ => sasl::login_step(pw.expose()),
                })
            }),
            Method::CramMd5 => self.sasl_exchange(method, None, |_, challenge| {
                sasl::cram_md5(user, pw, challenge)
            }),
        };
        result.map_err(|mut e| {
            if let Pop3Error::Refused { auth, .. } = &mut e {
                *auth = true;
            }
            e
        })
    }

    /// An XOAUTH2 or OAUTHBEARER exchange. A server that refuses the token first sends its
    /// error (base64 JSON) as a challenge and waits for the client to give up before its
    /// `-ERR`; that JSON is what says why (expired, wrong scope), so the refusal carries it.
    /// A second challenge is not in either protocol: it is cancelled.
    fn oauth_exchange(
        &mut self,
        method: Method,
        initial: Secret,
        token: &Secret,
    ) -> Result<(), Pop3Error> {
        let mut server_error = None;
        let mut answered = false;
        let result = self.sasl_exchange(method, Some(initial), |_, challenge| {
            if std::mem::replace(&mut answered, true) {
                return None;
            }
            server_error = sasl::oauth_error(challenge, token).map(String::into_boxed_str);
            Some(sasl::oauth_error_answer(method))
        });
        result.map_err(|mut e| {
            if let Pop3Error::Refused { oauth_error, .. } = &mut e {
                *oauth_error = server_error;
            }
            e
        })
    }

    /// Runs an AUTH exchange: `answer(step, challenge)` gives each response.
    fn sasl_exchange(
        &mut self,
        method: Method,
        initial: Option<Secret>,
        mut answer: impl FnMut(usize, &str) -> Option<Secret>,
    ) -> Result<(), Pop3Error> {
        let mechanism = method.mechanism().unwrap_or("").to_owned();
        let mut pending = None;
        let cmd = match initial {
            Some(i) if self.initial_response => Command::Auth {
                mechanism,
                initial: Some(i),
            },
            Some(i) => {
                pending = Some(i);
                Command::Auth {
                    mechanism,
                    initial: None,
                }
            }
            None => Command::Auth {
                mechanism,
                initial: None,
            },
        };
        self.send(&cmd)?;
        for step in 0..8 {
            match self.read_reply("AUTH")? {
                Reply::Ok { .. } => return Ok(()),
                Reply::Err { code, text } => return Err(self.refused("AUTH", code, text, true)),
                Reply::Continue(challenge) => {
                    let reply = match pending.take() {
                        Some(p) => Some(p),
                        None => answer(step, &challenge),
                    };
                    match reply {
                        Some(r) => self.send(&Command::SaslResponse(r))?,
                        None => {
                            self.send(&Command::SaslResponse(Secret::new("*")))?;
                            let _ = self.read_reply("AUTH");
                            return Err(self.protocol(format!(
                                "an unexpected {} challenge: {challenge:?}",
                                method.name()
                            )));
                        }
                    }
                }
            }
        }
        Err(self.protocol("the AUTH exchange does not end"))
    }

    /// STAT: (messages, octets).
    pub fn stat(&mut self) -> Result<(u32, u64), Pop3Error> {
        let text = self.command(&Command::Stat)?;
        response::parse_stat(&text).map_err(|e| self.protocol(e.to_string()))
    }

    /// LIST: every message's number and size.
    pub fn list(&mut self) -> Result<Vec<Listed>, Pop3Error> {
        let body = self.multiline(&Command::List(None), Limits::LISTING)?;
        lines(&body)
            .map(|l| {
                response::parse_list_line(l)
                    .map(|(number, size)| Listed { number, size })
                    .map_err(|e| self.protocol(e.to_string()))
            })
            .collect()
    }

    /// UIDL: every message's number and unique id; None when the server has no UIDL.
    pub fn uidl(&mut self) -> Result<Option<UidList>, Pop3Error> {
        let body = match self.multiline(&Command::Uidl(None), Limits::LISTING) {
            Ok(body) => body,
            Err(Pop3Error::Refused { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        lines(&body)
            .map(|l| response::parse_uidl_line(l).map_err(|e| self.protocol(e.to_string())))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `TOP n 0`: the header of message `n` (1 MiB kept: more is cut; more than
    /// [`Limits::HEADER`] is a protocol error).
    pub fn top_header(&mut self, n: u32) -> Result<Vec<u8>, Pop3Error> {
        self.command(&Command::Top(n, 0))?;
        let mut sink = Capped {
            buf: Vec::new(),
            cap: 1 << 20,
        };
        self.read_body_to(&mut sink, Limits::HEADER)
            .map_err(|e| self.body_error("TOP", e, std::path::Path::new("memory")))?;
        Ok(sink.buf)
    }

    /// QUIT: the server commits deletions only when this gets `+OK`.
    pub fn quit(&mut self) -> Result<(), Pop3Error> {
        self.command(&Command::Quit).map(|_| ())
    }
}

/// The non-empty lines of a listing body.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|b| *b == b'\n')
        .map(response::trim_eol)
        .filter(|l| !l.is_empty())
}

/// A sink that keeps at most `cap` octets and drops the rest.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.cap.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The in-memory test stream (`pop3::sync`'s tests use it from here).
#[cfg(test)]
pub use crate::net::memory::MemoryStream;

#[cfg(test)]
mod tests {
    use super::*;

    fn client(script: &[u8]) -> Client<MemoryStream> {
        Client::new(MemoryStream::new(script), "test", 5, false)
    }

    fn creds() -> Credentials {
        Credentials {
            user: "tim".into(),
            password: Secret::new("tanstaaftanstaaf"),
        }
    }

    fn sent(c: &Client<MemoryStream>) -> String {
        String::from_utf8_lossy(&c.get_ref().output).into_owned()
    }

    #[test]
    fn greeting_capa_and_user_pass() {
        let mut c = client(
            b"+OK Dovecot ready.\r\n+OK\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n+OK\r\n+OK Logged in.\r\n",
        );
        c.read_greeting().expect("greeting");
        c.capa().expect("capa");
        assert!(c.caps.user());
        c.login(&creds(), Method::User).expect("login");
        assert_eq!(sent(&c), "CAPA\r\nUSER tim\r\nPASS tanstaaftanstaaf\r\n");
    }

    #[test]
    fn replies_split_across_reads_one_byte_at_a_time() {
        let script =
            b"+OK Dovecot ready.\r\n+OK\r\nTOP\r\nUIDL\r\nUSER\r\n.\r\n+OK\r\n1 abc\r\n.\r\n";
        let mut c = Client::new(MemoryStream::dripping(script), "test", 5, false);
        c.read_greeting().expect("greeting");
        c.capa().expect("capa");
        assert!(c.caps.user());
        assert_eq!(c.uidl().expect("uidl"), Some(vec![(1, b"abc".to_vec())]));
        assert_eq!(sent(&c), "CAPA\r\nUIDL\r\n");
    }

    #[test]
    fn capa_refused_falls_back_to_rfc_1939() {
        let mut c = client(b"+OK hi\r\n-ERR unknown command\r\n");
        c.read_greeting().expect("greeting");
        c.capa().expect("fallback");
        assert!(!c.caps.known);
        assert!(c.caps.user());
        assert_eq!(
            c.choose_method(AuthChoice::Auto, true, false)
                .expect("method"),
            Method::User
        );
    }

    #[test]
    fn auto_prefers_sasl_and_refuses_cleartext_without_tls() {
        let mut c = client(b"+OK\r\nSASL PLAIN LOGIN CRAM-MD5\r\nUSER\r\n.\r\n");
        c.capa().expect("capa");
        assert_eq!(
            c.choose_method(AuthChoice::Auto, true, false).ok(),
            Some(Method::Plain)
        );
        assert_eq!(
            c.choose_method(AuthChoice::Auto, false, false).ok(),
            Some(Method::CramMd5)
        );
        assert_eq!(
            c.choose_method(AuthChoice::Auto, false, true).ok(),
            Some(Method::Plain)
        );
        let mut c = client(b"+OK\r\nUSER\r\n.\r\n");
        c.capa().expect("capa");
        let err = c
            .choose_method(AuthChoice::Auto, false, false)
            .expect_err("refused");
        assert!(matches!(err, Pop3Error::InsecureAuth { .. }));
        assert_eq!(err.exit_code(), 78);
        let err = c
            .choose_method(AuthChoice::Only(Method::Plain), false, false)
            .expect_err("refused");
        assert_eq!(err.exit_code(), 78);
        let err = c
            .choose_method(AuthChoice::Only(Method::Apop), false, false)
            .expect_err("no timestamp");
        assert_eq!(err.exit_code(), 69);
    }

    #[test]
    fn sasl_plain_with_and_without_initial_response() {
        let mut c = client(b"+OK Logged in.\r\n");
        c.login(&creds(), Method::Plain).expect("plain");
        assert_eq!(sent(&c), "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
        let mut c = client(b"+ \r\n+OK Logged in.\r\n");
        c.initial_response = false;
        c.login(&creds(), Method::Plain).expect("plain");
        assert_eq!(sent(&c), "AUTH PLAIN\r\nAHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    }

    #[test]
    fn sasl_login_and_cram_md5() {
        let mut c = client(b"+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK\r\n");
        c.login(&creds(), Method::Login).expect("login");
        assert_eq!(
            sent(&c),
            "AUTH LOGIN\r\ndGlt\r\ndGFuc3RhYWZ0YW5zdGFhZg==\r\n"
        );
        let mut c =
            client(b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n+OK\r\n");
        c.login(&creds(), Method::CramMd5).expect("cram");
        assert_eq!(
            sent(&c),
            "AUTH CRAM-MD5\r\ndGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"
        );
    }

    #[test]
    fn apop_uses_the_greeting_timestamp() {
        let mut c = client(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n+OK\r\n");
        c.read_greeting().expect("greeting");
        let creds = Credentials {
            user: "mrose".into(),
            password: Secret::new("tanstaaf"),
        };
        c.login(&creds, Method::Apop).expect("apop");
        assert_eq!(sent(&c), "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    }

    #[test]
    fn auth_failures_map_to_exit_codes() {
        let mut c = client(b"-ERR [AUTH] Authentication failed.\r\n");
        assert_eq!(
            c.login(&creds(), Method::Plain)
                .expect_err("fail")
                .exit_code(),
            77
        );
        let mut c = client(b"+OK\r\n-ERR Authentication failed.\r\n");
        assert_eq!(
            c.login(&creds(), Method::User)
                .expect_err("fail")
                .exit_code(),
            77
        );
        let mut c = client(b"+OK\r\n-ERR [IN-USE] Mailbox is locked\r\n");
        assert_eq!(
            c.login(&creds(), Method::User)
                .expect_err("fail")
                .exit_code(),
            75
        );
        let mut c = client(b"-ERR [LOGIN-DELAY] wait\r\n");
        assert_eq!(
            c.login(&creds(), Method::Plain)
                .expect_err("fail")
                .exit_code(),
            75
        );
        let mut c = client(b"-ERR [SYS/PERM] gone\r\n");
        assert_eq!(
            c.login(&creds(), Method::Plain)
                .expect_err("fail")
                .exit_code(),
            69
        );
    }

    const TOKEN: &str = "ya29.tok-EN";
    /// OAUTHBEARER's initial response for tim at test:995 with TOKEN (computed by Python).
    const BEARER: &str = "bixhPXRpbSwBaG9zdD10ZXN0AXBvcnQ9OTk1AWF1dGg9QmVhcmVyIHlhMjkudG9rLUVOAQE=";
    /// XOAUTH2's initial response for tim with TOKEN.
    const XOAUTH2: &str = "dXNlcj10aW0BYXV0aD1CZWFyZXIgeWEyOS50b2stRU4BAQ==";
    /// `{"status":"invalid_token"}`, as a server's error challenge.
    const INVALID_TOKEN: &str = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=";

    fn oauth_client(script: &[u8]) -> Client<MemoryStream> {
        let mut c = client(script);
        c.port = Some(995);
        c
    }

    fn oauth_creds() -> Credentials {
        Credentials {
            user: "tim".into(),
            password: Secret::new(TOKEN),
        }
    }

    /// The `-v` transcript shows the AUTH lines masked, and never the token or its encodings.
    fn assert_masked(c: &Client<MemoryStream>, secrets: &[&str]) {
        let log = c.transcript.join("\n");
        assert!(log.contains("C: (redacted)"), "{log}");
        for secret in [TOKEN].iter().chain(secrets) {
            assert!(!log.contains(secret), "{secret} in {log}");
        }
    }

    #[test]
    fn oauthbearer_with_and_without_initial_response() {
        let mut c = oauth_client(b"+OK Logged in.\r\n");
        c.login(&oauth_creds(), Method::OAuthBearer)
            .expect("oauthbearer");
        assert_eq!(sent(&c), format!("AUTH OAUTHBEARER {BEARER}\r\n"));
        assert_eq!(
            c.transcript,
            ["C: AUTH OAUTHBEARER (redacted)", "S: +OK Logged in."]
        );
        let mut c = oauth_client(b"+ \r\n+OK Logged in.\r\n");
        c.initial_response = false;
        c.login(&oauth_creds(), Method::OAuthBearer)
            .expect("oauthbearer");
        assert_eq!(sent(&c), format!("AUTH OAUTHBEARER\r\n{BEARER}\r\n"));
        assert_masked(&c, &[BEARER]);
        // Without a port (a Client not made by `connect`), `port=` is left out.
        let mut c = client(b"+OK\r\n");
        c.login(&oauth_creds(), Method::OAuthBearer)
            .expect("oauthbearer");
        let want = sasl::oauthbearer("tim", "test", None, &Secret::new(TOKEN));
        assert_eq!(sent(&c), format!("AUTH OAUTHBEARER {}\r\n", want.expose()));
    }

    /// Checks a refused OAuth login: exit 77, and the server's JSON in the message.
    fn assert_oauth_refused(e: Pop3Error, json: &str) {
        assert_eq!(e.exit_code(), 77, "{e}");
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("(the server's OAuth error: {json})")),
            "{shown}"
        );
        assert!(!shown.contains(TOKEN), "{shown}");
    }

    #[test]
    fn oauthbearer_error_round_trip() {
        let script = format!("+ {INVALID_TOKEN}\r\n-ERR Authentication failed.\r\n");
        for initial_response in [true, false] {
            let script = if initial_response {
                script.clone()
            } else {
                format!("+ \r\n{script}")
            };
            let mut c = oauth_client(script.as_bytes());
            c.initial_response = initial_response;
            let e = c
                .login(&oauth_creds(), Method::OAuthBearer)
                .expect_err("refused");
            assert!(matches!(e, Pop3Error::Refused { auth: true, .. }), "{e}");
            assert_oauth_refused(e, r#"{"status":"invalid_token"}"#);
            let first = if initial_response {
                format!("AUTH OAUTHBEARER {BEARER}\r\n")
            } else {
                format!("AUTH OAUTHBEARER\r\n{BEARER}\r\n")
            };
            assert_eq!(sent(&c), format!("{first}AQ==\r\n"));
            assert_masked(&c, &[BEARER, "AQ=="]);
        }
    }

    #[test]
    fn xoauth2_error_round_trip() {
        let json = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
        let script = format!("+ {json}\r\n-ERR [AUTH] Invalid credentials\r\n");
        let mut c = oauth_client(script.as_bytes());
        let e = c
            .login(&oauth_creds(), Method::XOauth2)
            .expect_err("refused");
        assert_oauth_refused(
            e,
            r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#,
        );
        assert_eq!(sent(&c), format!("AUTH XOAUTH2 {XOAUTH2}\r\n\r\n"));
        assert_masked(&c, &[XOAUTH2]);
    }

    #[test]
    fn oauth_error_round_trip_split_across_reads() {
        let script = format!("+ {INVALID_TOKEN}\r\n-ERR Authentication failed.\r\n");
        let mut c = Client::new(MemoryStream::dripping(script.as_bytes()), "test", 5, false);
        c.port = Some(995);
        let e = c
            .login(&oauth_creds(), Method::OAuthBearer)
            .expect_err("refused");
        assert_oauth_refused(e, r#"{"status":"invalid_token"}"#);
        assert_eq!(sent(&c), format!("AUTH OAUTHBEARER {BEARER}\r\nAQ==\r\n"));
    }

    #[test]
    fn a_second_oauth_challenge_is_cancelled() {
        let script = format!("+ {INVALID_TOKEN}\r\n+ e30=\r\n-ERR cancelled\r\n");
        let mut c = oauth_client(script.as_bytes());
        let e = c
            .login(&oauth_creds(), Method::OAuthBearer)
            .expect_err("protocol");
        assert_eq!(e.exit_code(), 8, "{e}");
        assert_eq!(
            sent(&c),
            format!("AUTH OAUTHBEARER {BEARER}\r\nAQ==\r\n*\r\n")
        );
    }

    #[test]
    fn oauth2_choice_prefers_oauthbearer() {
        let choose = |capa: &[u8], encrypted, allow| {
            let mut c = client(capa);
            c.capa().expect("capa");
            c.choose_method(AuthChoice::OAuth2, encrypted, allow)
        };
        let both = b"+OK\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\n.\r\n";
        assert_eq!(choose(both, true, false).ok(), Some(Method::OAuthBearer));
        let xoauth2 = b"+OK\r\nUSER\r\nSASL PLAIN xoauth2\r\n.\r\n";
        assert_eq!(choose(xoauth2, true, false).ok(), Some(Method::XOauth2));
        // Never over an unencrypted connection unless allowed.
        let e = choose(both, false, false).expect_err("insecure");
        assert!(matches!(e, Pop3Error::InsecureAuth { .. }), "{e}");
        assert_eq!(e.exit_code(), 78);
        assert!(e.to_string().contains("(OAUTHBEARER)"), "{e}");
        assert_eq!(choose(both, false, true).ok(), Some(Method::OAuthBearer));
        // Neither offered: say so, and what is offered.
        let e =
            choose(b"+OK\r\nSASL PLAIN LOGIN\r\nUSER\r\n.\r\n", true, false).expect_err("neither");
        assert!(matches!(e, Pop3Error::Unavailable { .. }), "{e}");
        assert_eq!(e.exit_code(), 69);
        assert_eq!(
            e.to_string(),
            "test: the server offers neither OAUTHBEARER nor XOAUTH2 (its SASL mechanisms: PLAIN LOGIN)"
        );
        let e = choose(b"-ERR no CAPA\r\n", true, false).expect_err("no CAPA");
        assert!(
            e.to_string().ends_with("(its SASL mechanisms: none)"),
            "{e}"
        );
        // Auto never picks an OAuth method; naming one still works.
        let mut c = client(both);
        c.capa().expect("capa");
        assert_eq!(
            c.choose_method(AuthChoice::Auto, true, false).ok(),
            Some(Method::Plain)
        );
        for m in [Method::OAuthBearer, Method::XOauth2] {
            assert_eq!(
                c.choose_method(AuthChoice::Only(m), true, false).ok(),
                Some(m)
            );
            let e = c
                .choose_method(AuthChoice::Only(m), false, false)
                .expect_err("insecure");
            assert_eq!(e.exit_code(), 78);
        }
    }

    #[test]
    fn listings_and_multiline_errors() {
        let mut c = client(
            b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n+OK\r\n1 abc\r\n2 d/e\r\n.\r\n-ERR no such message\r\n+OK 2 320\r\n",
        );
        assert_eq!(
            c.list().expect("list"),
            vec![
                Listed {
                    number: 1,
                    size: 120
                },
                Listed {
                    number: 2,
                    size: 200
                }
            ]
        );
        assert_eq!(
            c.uidl().expect("uidl"),
            Some(vec![(1, b"abc".to_vec()), (2, b"d/e".to_vec())])
        );
        // -ERR to a multi-line command: no body follows, the next reply is read correctly.
        assert!(c.top_header(9).is_err());
        assert_eq!(c.stat().expect("stat"), (2, 320));
    }

    #[test]
    fn refusing_greetings() {
        let mut c = client(b"-ERR [SYS/TEMP] too many connections\r\n");
        assert_eq!(c.read_greeting().expect_err("temp").exit_code(), 75);
        let mut c = client(b"-ERR go away\r\n");
        assert_eq!(c.read_greeting().expect_err("perm").exit_code(), 69);
    }

    #[test]
    fn garbage_and_eof_are_typed_errors() {
        let mut c = client(b"HELLO\r\n");
        assert_eq!(c.read_greeting().expect_err("garbage").exit_code(), 8);
        let mut c = client(b"");
        assert!(matches!(
            c.read_greeting().expect_err("eof"),
            Pop3Error::Closed { .. }
        ));
    }

    fn protocol_why(e: Pop3Error) -> String {
        assert_eq!(e.exit_code(), 8, "{e}");
        e.to_string()
    }

    #[test]
    fn an_over_long_greeting_is_a_protocol_error() {
        let mut script = b"+OK ".to_vec();
        script.resize(10_000, b'x');
        script.extend_from_slice(b"\r\n");
        let why = protocol_why(client(&script).read_greeting().expect_err("long"));
        assert!(why.contains("longer than 8192 octets"), "{why}");
    }

    /// A multi-line reply `+OK`, `head`, `n` times `fill`, then the line end and terminator.
    fn long_reply(head: &[u8], n: usize, fill: u8) -> Vec<u8> {
        let mut r = [b"+OK\r\n", head].concat();
        r.resize(r.len() + n, fill);
        r.extend_from_slice(b"\r\n.\r\n");
        r
    }

    #[test]
    fn listings_are_bounded_per_line_and_in_total() {
        let why = |e: Pop3Error, want: &str| {
            let why = protocol_why(e);
            assert!(why.contains(want), "{why}");
        };
        let capa = long_reply(b"TOP\r\nX-", 5000, b'A');
        why(
            client(&capa).capa().expect_err("long line"),
            "CAPA reply has a line longer than 4096",
        );
        let capa = long_reply(b"", 10_000 * 9, b'\n');
        why(
            client(&capa).capa().expect_err("too much"),
            "more than 65536 octets",
        );
        let uidl = long_reply(b"1 ", 2000, b'u');
        why(
            client(&uidl).uidl().expect_err("long uid"),
            "UIDL reply has a line longer than 1024",
        );
        let list = long_reply(b"1 ", 2000, b'9');
        why(
            client(&list).list().expect_err("long line"),
            "LIST reply has a line longer than 1024",
        );
        // Real listings pass: a 70-octet UID (RFC 1939's maximum) and many messages.
        let mut uidl = b"+OK\r\n".to_vec();
        for i in 1..=20_000 {
            uidl.extend_from_slice(format!("{i} {}\r\n", "u".repeat(70)).as_bytes());
        }
        uidl.extend_from_slice(b".\r\n");
        assert_eq!(
            client(&uidl).uidl().expect("ok").map(|u| u.len()),
            Some(20_000)
        );
    }
}
