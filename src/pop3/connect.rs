//! Opening a session: TCP (with a connect timeout), implicit TLS (`pop3s://`) or STLS
//! (RFC 2595) with the shared `tls::TlsClient`, a read timeout on every read (the handshake included), then
//! greeting and CAPA (re-issued after STLS). STLS is aborted when plaintext bytes were
//! buffered after its `+OK`: they would otherwise be read as if they came over TLS (response
//! injection, as in fetchmail's CVE-2021-39272).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::pop3::Pop3Error;
use crate::pop3::client::Client;
use crate::tls::{TlsClient, TlsError, TlsMode, TlsOptions};

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    /// `pop3s://`: TLS from the first byte.
    pub implicit_tls: bool,
}

impl Server {
    /// Parses `pop3s://host[:995]`, `pop3://host[:110]` or a bare `host[:port]`.
    pub fn parse(text: &str) -> Result<Server, Pop3Error> {
        let bad = |why: &str| Pop3Error::Usage {
            what: format!("--server {text}"),
            why: why.to_owned(),
        };
        let (implicit_tls, rest) = if let Some(r) = text.strip_prefix("pop3s://") {
            (true, r)
        } else if let Some(r) = text.strip_prefix("pop3://") {
            (false, r)
        } else if text.contains("://") {
            return Err(bad("the scheme must be pop3:// or pop3s://"));
        } else {
            (false, text)
        };
        let rest = rest.trim_end_matches('/');
        let default_port = if implicit_tls { 995 } else { 110 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| bad("unclosed [ in the host"))?;
            let port = match v6[end + 1..].strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("a bad port"))?,
                None => default_port,
            };
            (v6[..end].to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad("a bad port"))?),
                None => (rest.to_owned(), default_port),
            }
        };
        if host.is_empty() || host.contains(['/', '@', '?', '#']) {
            return Err(bad("no host name"));
        }
        Ok(Server {
            host,
            port,
            implicit_tls,
        })
    }
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

/// The byte stream under a session: plain TCP or TLS.
#[derive(Debug)]
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<openssl::ssl::SslStream<TcpStream>>),
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// A buffered reader and a write buffer over one stream: writes are collected until
/// `flush`, so pipelined commands leave in one packet.
#[derive(Debug)]
pub struct BufStream<T: Read + Write> {
    reader: BufReader<T>,
    out: Vec<u8>,
}

impl<T: Read + Write> BufStream<T> {
    pub fn new(inner: T) -> BufStream<T> {
        BufStream {
            reader: BufReader::with_capacity(64 * 1024, inner),
            out: Vec::new(),
        }
    }

    /// What was read from the stream but not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        self.reader.buffer()
    }

    pub fn into_inner(self) -> T {
        self.reader.into_inner()
    }
}

impl<T: Read + Write> Read for BufStream<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<T: Read + Write> BufRead for BufStream<T> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.reader.consume(n)
    }
}

impl<T: Read + Write> Write for BufStream<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        let inner = self.reader.get_mut();
        inner.write_all(&self.out)?;
        self.out.clear();
        inner.flush()
    }
}

/// The session type `connect` returns.
pub type Session = Client<BufStream<Transport>>;

/// Refuses to go on with STLS when the server sent more than its `+OK` in the clear.
pub fn check_no_injection(host: &str, buffered: &[u8]) -> Result<(), Pop3Error> {
    if buffered.is_empty() {
        return Ok(());
    }
    Err(Pop3Error::Protocol {
        host: host.to_owned(),
        why: format!(
            "{} unencrypted octets followed the STLS reply (response injection?); aborted",
            buffered.len()
        ),
    })
}

fn open_tcp(opts: &ConnectOptions) -> Result<TcpStream, Pop3Error> {
    let host = &opts.server.host;
    let addrs: Vec<SocketAddr> = (host.as_str(), opts.server.port)
        .to_socket_addrs()
        .map_err(|source| Pop3Error::Resolve {
            host: host.clone(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, opts.timeout) {
            Ok(s) => {
                let t = Some(opts.timeout);
                let setup = s.set_read_timeout(t).and(s.set_write_timeout(t));
                setup
                    .map_err(|e| Pop3Error::from_io(host, "connect", opts.timeout.as_secs(), e))?;
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    if matches!(
        last.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return Err(Pop3Error::from_io(
            host,
            "connect",
            opts.timeout.as_secs(),
            last,
        ));
    }
    Err(Pop3Error::Connect {
        host: format!("{host}:{}", opts.server.port),
        source: last,
    })
}

fn handshake(opts: &ConnectOptions, tcp: TcpStream) -> Result<Transport, Pop3Error> {
    let host = &opts.server.host;
    match TlsClient::new(&opts.tls)?.connect(host, tcp) {
        Ok(s) => Ok(Transport::Tls(Box::new(s))),
        // The socket's read timeout expired inside the handshake.
        Err(TlsError::Timeout { .. }) => Err(Pop3Error::Timeout {
            host: host.clone(),
            what: "TLS handshake".into(),
            secs: opts.timeout.as_secs(),
        }),
        Err(e) => Err(Pop3Error::Tls(e)),
    }
}

/// Connects, negotiates TLS as asked, and reads the greeting and capabilities. Returns the
/// session and whether it is encrypted.
pub fn connect(opts: &ConnectOptions) -> Result<(Session, bool), Pop3Error> {
    let tcp = open_tcp(opts)?;
    let secs = opts.timeout.as_secs();
    let host = opts.server.host.clone();
    let transport = if opts.server.implicit_tls {
        handshake(opts, tcp)?
    } else {
        Transport::Plain(tcp)
    };
    let encrypted = matches!(transport, Transport::Tls(_));
    let mut client = Client::new(BufStream::new(transport), &host, secs, opts.verbose);
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
    check_no_injection(&host, client.get_ref().buffered())?;
    let greeting = client.greeting.clone();
    let tcp = match client.into_inner().into_inner() {
        Transport::Plain(tcp) => tcp,
        Transport::Tls(_) => unreachable_tls(&host)?,
    };
    let transport = handshake(opts, tcp)?;
    let mut client = Client::new(BufStream::new(transport), &host, secs, opts.verbose);
    client.greeting = greeting;
    client.capa()?;
    Ok((client, true))
}

fn unreachable_tls(host: &str) -> Result<TcpStream, Pop3Error> {
    Err(Pop3Error::Protocol {
        host: host.to_owned(),
        why: "STLS on a connection that is already encrypted".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pop3::client::MemoryStream;

    #[test]
    fn server_urls() {
        let s = Server::parse("pop3s://mail.example.com").expect("ok");
        assert_eq!(
            (s.host.as_str(), s.port, s.implicit_tls),
            ("mail.example.com", 995, true)
        );
        let s = Server::parse("pop3://127.0.0.1:2110/").expect("ok");
        assert_eq!(
            (s.host.as_str(), s.port, s.implicit_tls),
            ("127.0.0.1", 2110, false)
        );
        let s = Server::parse("mail.example.com").expect("ok");
        assert_eq!((s.port, s.implicit_tls), (110, false));
        let s = Server::parse("pop3s://[::1]:1995").expect("ok");
        assert_eq!((s.host.as_str(), s.port), ("::1", 1995));
        for bad in ["imap://x", "pop3://", "pop3://h:99999", "pop3://u@h"] {
            assert!(Server::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stls_injection_is_refused() {
        // The server answers STLS and, in the same packet, a forged reply in the clear.
        let script = b"+OK Begin TLS negotiation now.\r\n+OK injected\r\n";
        let mut client = Client::new(BufStream::new(MemoryStream::new(script)), "evil", 5, false);
        client.stls().expect("+OK");
        let err = check_no_injection("evil", client.get_ref().buffered()).expect_err("injection");
        assert_eq!(err.exit_code(), 8);
        assert!(err.to_string().contains("STLS"), "{err}");
        let mut clean = Client::new(
            BufStream::new(MemoryStream::new(b"+OK go\r\n")),
            "ok",
            5,
            false,
        );
        clean.stls().expect("+OK");
        check_no_injection("ok", clean.get_ref().buffered()).expect("nothing buffered");
        assert_eq!(clean.into_inner().into_inner().output, b"STLS\r\n");
    }
}
