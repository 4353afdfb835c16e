//! Opening a POP3 session over `crate::net`: TCP (with a connect timeout), implicit TLS
//! (`pop3s://`) or STLS (RFC 2595), a read timeout on every read (the handshake included),
//! then greeting and CAPA (re-issued after STLS). STLS is aborted when plaintext bytes were
//! buffered after its `+OK` (`net::upgrade`). This file maps `net`'s errors to
//! [`Pop3Error`] with POP3's messages.

use std::io;
use std::time::Duration;

use crate::net::{self, BufStream, ConnectError, Family, IoClass, Stream, UpgradeError};
use crate::pop3::Pop3Error;
use crate::pop3::client::Client;
use crate::tls::{TlsClient, TlsMode, TlsOptions};

pub use crate::net::ServerUrl as Server;

/// Parses `pop3s://host[:995]`, `pop3://host[:110]` or a bare `host[:port]`.
pub fn parse_server(text: &str) -> Result<Server, Pop3Error> {
    Server::parse(text, Family::Pop3).map_err(|e| Pop3Error::Usage {
        what: format!("--server {text}"),
        why: e.why,
    })
}

/// Everything needed to open a session.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub server: Server,
    pub tls_mode: TlsMode,
    pub tls: TlsOptions,
    pub timeout: Duration,
    pub verbose: bool,
}

/// The session type `connect` returns.
pub type Session = Client<BufStream<Stream>>;

fn open_tcp(opts: &ConnectOptions) -> Result<std::net::TcpStream, Pop3Error> {
    let (host, port) = (&opts.server.host, opts.server.port);
    let secs = opts.timeout.as_secs();
    net::tcp_connect(host, port, opts.timeout).map_err(|e| match e {
        ConnectError::Resolve(source) => Pop3Error::Resolve {
            host: host.clone(),
            source,
        },
        ConnectError::Setup(e) => Pop3Error::from_io(host, "connect", secs, e),
        ConnectError::Failed(e) if IoClass::of(&e) == IoClass::Timeout => {
            Pop3Error::from_io(host, "connect", secs, e)
        }
        ConnectError::Failed(source) => Pop3Error::Connect {
            host: format!("{host}:{port}"),
            source,
        },
        ConnectError::NoAddress => Pop3Error::Connect {
            host: format!("{host}:{port}"),
            source: io::Error::new(io::ErrorKind::NotFound, "no address"),
        },
    })
}

/// A handshake or STLS failure as the session's error.
fn upgrade_error(opts: &ConnectOptions, e: UpgradeError) -> Pop3Error {
    let host = opts.server.host.clone();
    match e {
        UpgradeError::Timeout => Pop3Error::Timeout {
            host,
            what: "TLS handshake".into(),
            secs: opts.timeout.as_secs(),
        },
        UpgradeError::Tls(e) => Pop3Error::Tls(e),
        UpgradeError::Injected(n) => Pop3Error::Protocol {
            host,
            why: format!(
                "{n} unencrypted octets followed the STLS reply (response injection?); aborted"
            ),
        },
        UpgradeError::AlreadyEncrypted => Pop3Error::Protocol {
            host,
            why: "STLS on a connection that is already encrypted".into(),
        },
    }
}

/// Connects, negotiates TLS as asked, and reads the greeting and capabilities. Returns the
/// session and whether it is encrypted.
pub fn connect(opts: &ConnectOptions) -> Result<(Session, bool), Pop3Error> {
    let tcp = open_tcp(opts)?;
    let secs = opts.timeout.as_secs();
    let host = opts.server.host.clone();
    let transport = if opts.server.implicit_tls {
        net::handshake(&TlsClient::new(&opts.tls)?, &host, tcp)
            .map_err(|e| upgrade_error(opts, e))?
    } else {
        Stream::Plain(tcp)
    };
    let encrypted = transport.is_encrypted();
    let mut client = Client::new(BufStream::new(transport), &host, secs, opts.verbose);
    client.port = Some(opts.server.port);
    client.read_greeting()?;
    client.capa()?;
    if encrypted || opts.tls_mode == TlsMode::None {
        return Ok((client, encrypted));
    }
    if !client.caps.stls() {
        if opts.tls_mode == TlsMode::Opportunistic {
            return Ok((client, false));
        }
        if client.caps.known {
            return Err(Pop3Error::Unavailable {
                host,
                why: "the server does not offer STLS (use pop3s://, or --tls none for a trusted local server)"
                    .into(),
            });
        }
    }
    client.stls()?;
    let greeting = client.greeting.clone();
    // Checked before the TLS context is built, as before: an injection needs no CA store.
    net::upgrade::check_no_injection(client.get_ref().buffered())
        .map_err(|e| upgrade_error(opts, e))?;
    let tls = TlsClient::new(&opts.tls)?;
    let transport =
        net::start_tls(client.into_inner(), &tls, &host).map_err(|e| upgrade_error(opts, e))?;
    let mut client = Client::new(BufStream::new(transport), &host, secs, opts.verbose);
    client.port = Some(opts.server.port);
    client.greeting = greeting;
    client.capa()?;
    Ok((client, true))
}

/// What a server tells before login (`pop3 serverinfo`).
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub greeting: String,
    pub caps: crate::pop3::response::Capabilities,
    /// The TLS protocol version (`TLSv1.3`), when the session is encrypted.
    pub tls_version: Option<String>,
    /// The server's certificate, when the session is encrypted.
    pub cert: Option<crate::tls::CertInfo>,
}

/// The greeting, capabilities (the ones after STLS, when it was used), TLS version and
/// certificate of a connected session.
pub fn server_info(session: &Session) -> ServerInfo {
    let (tls_version, cert) = match session.get_ref().get_ref() {
        Stream::Tls(tls) => (
            Some(tls.ssl().version_str().to_owned()),
            tls.ssl()
                .peer_certificate()
                .map(|c| crate::tls::CertInfo::of(&c)),
        ),
        Stream::Plain(_) => (None, None),
    };
    ServerInfo {
        greeting: session.greeting.clone(),
        caps: session.caps.clone(),
        tls_version,
        cert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::memory::MemoryStream;

    #[test]
    fn server_urls() {
        let s = parse_server("pop3s://mail.example.com").expect("ok");
        assert_eq!(
            (s.host.as_str(), s.port, s.implicit_tls),
            ("mail.example.com", 995, true)
        );
        let s = parse_server("pop3://127.0.0.1:2110/").expect("ok");
        assert_eq!(
            (s.host.as_str(), s.port, s.implicit_tls),
            ("127.0.0.1", 2110, false)
        );
        let s = parse_server("mail.example.com").expect("ok");
        assert_eq!((s.port, s.implicit_tls), (110, false));
        let s = parse_server("pop3s://[::1]:1995").expect("ok");
        assert_eq!((s.host.as_str(), s.port), ("::1", 1995));
        for bad in ["imap://x", "pop3://", "pop3://h:99999", "pop3://u@h"] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stls_injection_is_refused() {
        // The server answers STLS and, in the same packet, a forged reply in the clear.
        let script = b"+OK Begin TLS negotiation now.\r\n+OK injected\r\n";
        let mut client = Client::new(BufStream::new(MemoryStream::new(script)), "evil", 5, false);
        client.stls().expect("+OK");
        let opts = ConnectOptions {
            server: parse_server("evil").expect("host"),
            tls_mode: TlsMode::Required,
            tls: TlsOptions::default(),
            timeout: Duration::from_secs(5),
            verbose: false,
        };
        let err = net::upgrade::check_no_injection(client.get_ref().buffered())
            .map_err(|e| upgrade_error(&opts, e))
            .expect_err("injection");
        assert_eq!(err.exit_code(), 8);
        assert!(err.to_string().contains("STLS"), "{err}");
        let mut clean = Client::new(
            BufStream::new(MemoryStream::new(b"+OK go\r\n")),
            "ok",
            5,
            false,
        );
        clean.stls().expect("+OK");
        net::upgrade::check_no_injection(clean.get_ref().buffered()).expect("nothing buffered");
        assert_eq!(clean.into_inner().into_inner().output, b"STLS\r\n");
    }
}
