//! An in-process HTTP/1.1 test server (std only, plus native-tls for HTTPS) for what real
//! servers will not do on demand: malformed replies, drops mid-body, stalls, huge generated
//! bodies, and exact records of what a client sent.
//!
//! Include with `#[path = "support/http_server.rs"] mod http_server;`.
//!
//! ```ignore
//! let server = HttpServer::start(|req: &Request| match req.path() {
//!     "/hello" => Response::ok("hi").header("Content-Type", "text/plain"),
//!     _ => Response::status(404),
//! });
//! // run the client against server.url("/hello"), then:
//! assert_eq!(server.requests()[0].method, "GET");
//! ```
//!
//! Every connection runs on its own thread, keep-alive is honoured, and request bodies are
//! read with Content-Length or chunked framing. Each request is recorded (method, target,
//! headers in order and as sent, raw body bytes) before the handler runs.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent (`/path?query`, or an absolute URL through a proxy).
    pub target: String,
    pub version: String,
    /// Header names and values in the order and case they were sent.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking (raw bytes).
    pub body: Vec<u8>,
    /// Which accepted connection carried it (0-based, in accept order).
    pub connection: usize,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The path part of the target (no query); for an absolute-form target, its path.
    pub fn path(&self) -> &str {
        let t = self.target.as_str();
        let t = match t.find("://") {
            Some(i) => t[i + 3..].find('/').map_or("/", |j| &t[i + 3 + j..]),
            None => t,
        };
        t.split('?').next().unwrap_or(t)
    }

    /// The query string of the target, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The body as text (lossy), for assertions.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The start offset of a `Range: bytes=N-` header, if any.
    pub fn range_start(&self) -> Option<u64> {
        let v = self.header("Range")?;
        let spec = v.trim().strip_prefix("bytes=")?;
        spec.split('-').next()?.trim().parse().ok()
    }
}

/// What the server sends back.
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    reason: Option<String>,
    headers: Vec<(String, String)>,
    body: Body,
    delay: Option<Duration>,
    stall: Option<(u64, Duration)>,
    chunked: bool,
    close: bool,
    no_content_length: bool,
    truncated: bool,
}

#[derive(Debug, Clone)]
enum Body {
    Bytes(Vec<u8>),
    /// `len` bytes of [`pattern_byte`] starting at offset `start`, generated as they are sent.
    Generated {
        start: u64,
        len: u64,
    },
    /// Sent as is, instead of a whole response (status line included).
    Raw(Vec<u8>),
}

impl Response {
    /// 200 with this body.
    pub fn ok(body: impl Into<Vec<u8>>) -> Response {
        Response::status(200).body(body)
    }

    /// A response with `status` and an empty body.
    pub fn status(status: u16) -> Response {
        Response {
            status,
            reason: None,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
            delay: None,
            stall: None,
            chunked: false,
            close: false,
            no_content_length: false,
            truncated: false,
        }
    }

    /// A redirect with `Location: location`.
    pub fn redirect(status: u16, location: &str) -> Response {
        Response::status(status).header("Location", location)
    }

    /// `len` bytes of the deterministic pattern ([`pattern_byte`]), generated while sending:
    /// constant memory in the server for any size.
    pub fn generated(len: u64) -> Response {
        Response::status(200).generated_body(0, len)
    }

    /// Bytes sent verbatim on the socket instead of a response (garbage, broken framing).
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Response {
        let mut r = Response::status(200);
        r.body = Body::Raw(bytes.into());
        r
    }

    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    pub fn reason(mut self, reason: &str) -> Response {
        self.reason = Some(reason.to_owned());
        self
    }

    /// Adds a header (repeatable; order kept).
    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Bytes(body.into());
        self
    }

    /// The pattern bytes `start..start+len` as the body.
    pub fn generated_body(mut self, start: u64, len: u64) -> Response {
        self.body = Body::Generated { start, len };
        self
    }

    /// Waits this long before sending anything.
    /// Sends `after` bytes of the body, then waits `pause` before sending the rest (a slow
    /// or stalled peer mid-body).
    pub fn stall_after(mut self, after: u64, pause: Duration) -> Response {
        self.stall = Some((after, pause));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Response {
        self.delay = Some(delay);
        self
    }

    /// Sends the body with chunked transfer encoding.
    pub fn chunked(mut self) -> Response {
        self.chunked = true;
        self
    }

    /// Closes the connection after this response (`Connection: close`).
    pub fn close(mut self) -> Response {
        self.close = true;
        self
    }

    /// Declares the full Content-Length (or, after [`chunked`](Self::chunked), leaves out
    /// the last chunk) but sends only `sent` bytes of the body, then closes the connection
    /// (a drop mid-body).
    pub fn close_after(self, sent: usize) -> Response {
        let declared = self.body_len();
        let mut r = if self.chunked {
            self
        } else {
            self.header("Content-Length", &declared.to_string())
        };
        r.no_content_length = true;
        r.close = true;
        r.truncated = true;
        r.body = match r.body {
            Body::Bytes(mut b) => {
                b.truncate(sent);
                Body::Bytes(b)
            }
            Body::Generated { start, len } => Body::Generated {
                start,
                len: len.min(sent as u64),
            },
            raw => raw,
        };
        r
    }

    /// Sends no Content-Length: the body ends when the connection closes.
    pub fn until_close(mut self) -> Response {
        self.no_content_length = true;
        self.close = true;
        self
    }

    fn body_len(&self) -> u64 {
        match &self.body {
            Body::Bytes(b) | Body::Raw(b) => b.len() as u64,
            Body::Generated { len, .. } => *len,
        }
    }
}

/// Byte `i` of the deterministic pattern that generated bodies carry.
pub fn pattern_byte(i: u64) -> u8 {
    ((i % 251) as u8) ^ ((i >> 13) as u8)
}

/// Fills `buf` with pattern bytes starting at offset `start` (the same bytes as
/// [`pattern_byte`], computed block by block: fast enough in debug builds for 200 MB).
pub fn pattern_fill(start: u64, buf: &mut [u8]) {
    let mut i = start;
    let mut rest = buf;
    while !rest.is_empty() {
        let block_end = ((i >> 13) + 1) << 13;
        let n = ((block_end - i) as usize).min(rest.len());
        let (block, tail) = rest.split_at_mut(n);
        let x = (i >> 13) as u8;
        let mut m = (i % 251) as u8;
        for b in block {
            *b = m ^ x;
            m = if m == 250 { 0 } else { m + 1 };
        }
        i += n as u64;
        rest = tail;
    }
}

/// The pattern bytes `start..start+len` (for small expectations).
pub fn pattern(start: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    pattern_fill(start, &mut v);
    v
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync + 'static;

struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<Request>>,
    connections: AtomicUsize,
    stop: AtomicBool,
    tls: Option<native_tls::TlsAcceptor>,
}

/// A running server; stops accepting when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpServer({})", self.addr)
    }
}

impl HttpServer {
    /// Starts a plain HTTP server on 127.0.0.1, port 0.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> HttpServer {
        HttpServer::spawn(Box::new(handler), None)
    }

    /// Starts an HTTPS server presenting `identity` (see [`TestCerts`]).
    pub fn start_tls(
        identity: native_tls::Identity,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> HttpServer {
        let acceptor = native_tls::TlsAcceptor::new(identity).expect("TLS acceptor");
        HttpServer::spawn(Box::new(handler), Some(acceptor))
    }

    fn spawn(handler: Box<Handler>, tls: Option<native_tls::TlsAcceptor>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            handler,
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            tls,
        });
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || accept_loop(listener, accept_shared));
        HttpServer { addr, shared }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path` (`https://localhost:PORT` + `path` for TLS, so the
    /// certificate's name matches).
    pub fn url(&self, path: &str) -> String {
        match self.shared.tls {
            Some(_) => format!("https://localhost:{}{path}", self.addr.port()),
            None => format!("http://127.0.0.1:{}{path}", self.addr.port()),
        }
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The only request received; panics when there were none or several.
    pub fn single_request(&self) -> Request {
        let mut reqs = self.requests();
        assert_eq!(reqs.len(), 1, "exactly one request expected: {reqs:#?}");
        reqs.remove(0)
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.connections.fetch_add(1, Ordering::SeqCst);
        let conn_shared = Arc::clone(&shared);
        thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = stream.set_nodelay(true);
            let tcp = stream.try_clone();
            match &conn_shared.tls {
                Some(acceptor) => {
                    if let Ok(tls) = acceptor.accept(stream) {
                        serve(tls, id, &conn_shared);
                    }
                }
                None => serve(stream, id, &conn_shared),
            }
            if let Ok(tcp) = tcp {
                let _ = tcp.shutdown(Shutdown::Both);
            }
        });
    }
}

fn serve<S: Read + Write>(stream: S, id: usize, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    loop {
        let req = match read_request(&mut reader, id) {
            Ok(Some(req)) => req,
            _ => return,
        };
        if let Ok(mut all) = shared.requests.lock() {
            all.push(req.clone());
        }
        let resp = (shared.handler)(&req);
        let client_close = req
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let close = resp.close || client_close;
        if write_response(reader.get_mut(), &req, &resp).is_err() || close {
            let _ = reader.get_mut().flush();
            return;
        }
    }
}

fn read_line<R: BufRead>(r: &mut R) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn read_request<S: Read + Write>(
    r: &mut BufReader<S>,
    connection: usize,
) -> io::Result<Option<Request>> {
    let Some(line) = read_line(r)? else {
        return Ok(None);
    };
    let mut parts = line.splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().ok_or_else(|| bad("no target"))?.to_owned();
    let version = parts.next().unwrap_or("HTTP/1.0").to_owned();
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| bad("eof in headers"))?;
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').ok_or_else(|| bad("header"))?;
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    let mut req = Request {
        method,
        target,
        version,
        headers,
        body: Vec::new(),
        connection,
    };
    if req
        .header("Expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        r.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        r.get_mut().flush()?;
    }
    if req
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let size_line = read_line(r)?.ok_or_else(|| bad("eof in chunk size"))?;
            let hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(hex, 16).map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers until the empty line.
                while read_line(r)?.is_some_and(|l| !l.is_empty()) {}
                break;
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            r.read_exact(&mut req.body[start..])?;
            read_line(r)?;
        }
    } else if let Some(len) = req.header("Content-Length") {
        let len: usize = len.trim().parse().map_err(|_| bad("content-length"))?;
        req.body.resize(len, 0);
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_response<W: Write>(w: &mut W, req: &Request, resp: &Response) -> io::Result<()> {
    if let Some(d) = resp.delay {
        thread::sleep(d);
    }
    if let Body::Raw(bytes) = &resp.body {
        w.write_all(bytes)?;
        w.flush()?;
        // Raw replies end the connection: their framing is unknown.
        return Err(bad("raw reply sent"));
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        resp.status,
        resp.reason
            .as_deref()
            .unwrap_or_else(|| reason_phrase(resp.status))
    );
    for (n, v) in &resp.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    let has = |name: &str| {
        resp.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if resp.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else if !resp.no_content_length && !has("Content-Length") {
        head.push_str(&format!("Content-Length: {}\r\n", resp.body_len()));
    }
    if resp.close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    let no_body = req.method == "HEAD" || resp.status == 204 || resp.status == 304;
    if !no_body {
        write_body(w, resp)?;
    }
    w.flush()
}

fn write_body<W: Write>(w: &mut W, resp: &Response) -> io::Result<()> {
    let mut sent = 0u64;
    let mut send = |w: &mut W, chunk: &[u8]| -> io::Result<()> {
        if let Some((after, pause)) = resp.stall
            && sent <= after
            && sent + chunk.len() as u64 > after
        {
            let (head, tail) = chunk.split_at((after - sent) as usize);
            sent += chunk.len() as u64;
            write_chunk(w, resp.chunked, head)?;
            w.flush()?;
            thread::sleep(pause);
            return write_chunk(w, resp.chunked, tail);
        }
        sent += chunk.len() as u64;
        write_chunk(w, resp.chunked, chunk)
    };
    match &resp.body {
        Body::Bytes(b) => {
            for chunk in b.chunks(16 * 1024) {
                send(w, chunk)?;
            }
        }
        Body::Generated { start, len } => {
            let mut buf = vec![0u8; 64 * 1024];
            let mut off = 0u64;
            while off < *len {
                let n = ((*len - off) as usize).min(buf.len());
                pattern_fill(start + off, &mut buf[..n]);
                send(w, &buf[..n])?;
                off += n as u64;
            }
        }
        Body::Raw(_) => {}
    }
    // A chunked body cut short by close_after() has no terminating chunk.
    if resp.chunked && !resp.truncated {
        w.write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}

fn write_chunk<W: Write>(w: &mut W, chunked: bool, chunk: &[u8]) -> io::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    if chunked {
        write!(w, "{:x}\r\n", chunk.len())?;
        w.write_all(chunk)?;
        w.write_all(b"\r\n")
    } else {
        w.write_all(chunk)
    }
}

/// Test certificates (see `certs.rs`) with the identities the HTTPS server presents.
#[derive(Debug)]
pub struct TestCerts {
    certs: super::certs::Certs,
}

impl TestCerts {
    pub fn generate() -> TestCerts {
        TestCerts {
            certs: super::certs::Certs::make(),
        }
    }

    /// The CA certificate (PEM) to give the client (`--cacert`).
    pub fn ca_pem(&self) -> PathBuf {
        self.certs.ca.clone()
    }

    /// The self-signed leaf's certificate (PEM).
    pub fn self_signed_pem(&self) -> PathBuf {
        self.certs.self_signed_cert.clone()
    }

    /// The CA-signed `localhost` identity for [`HttpServer::start_tls`].
    pub fn leaf_identity(&self) -> native_tls::Identity {
        identity(&self.certs.cert, &self.certs.key)
    }

    /// The self-signed `localhost` identity.
    pub fn self_signed_identity(&self) -> native_tls::Identity {
        identity(&self.certs.self_signed_cert, &self.certs.self_signed_key)
    }
}

fn identity(cert: &Path, key: &Path) -> native_tls::Identity {
    let cert = std::fs::read(cert).expect("read certificate");
    let key = std::fs::read(key).expect("read key");
    native_tls::Identity::from_pkcs8(&cert, &key).expect("PKCS#8 identity")
}
