//! An in-process TLS server over OpenSSL that can demand a client certificate (which the
//! native-tls server of http_server.rs cannot), speaking just enough HTTP, SMTP (implicit
//! TLS) or POP3 (pop3s) for a client to finish. It records, per handshake, the subject of the
//! client certificate (None without one) and whether the handshake failed.
//!
//! Include with `#[path = "support/tls_server.rs"] mod tls_server;` beside certs.rs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};

/// Which protocol to speak after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http,
    Smtp,
    Pop3,
}

/// What one connection showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The handshake succeeded; the client certificate's subject CN, if one was sent.
    Client(Option<String>),
    HandshakeFailed,
}

#[derive(Debug)]
pub struct TlsServer {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TlsServer {
    /// Serves `cert`/`key`; with `client_ca`, a client certificate signed by it is required.
    pub fn start(cert: &Path, key: &Path, client_ca: Option<&Path>, proto: Proto) -> TlsServer {
        let mut b =
            SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).expect("acceptor");
        b.set_certificate_chain_file(cert).expect("server cert");
        b.set_private_key_file(key, SslFiletype::PEM)
            .expect("server key");
        if let Some(ca) = client_ca {
            b.set_ca_file(ca).expect("client CA");
            b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        }
        let acceptor = Arc::new(b.build());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let acceptor = Arc::clone(&acceptor);
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
                    let Ok(tls) = acceptor.accept(tcp) else {
                        log.lock().expect("log").push(Seen::HandshakeFailed);
                        return;
                    };
                    let cn = tls.ssl().peer_certificate().and_then(|c| {
                        let e = c.subject_name().entries().next()?;
                        e.data().to_string().ok()
                    });
                    log.lock().expect("log").push(Seen::Client(cn.clone()));
                    let _ = converse(tls, proto, cn.as_deref().unwrap_or("anonymous"));
                });
            }
        });
        TlsServer { port, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }

    /// What `n` connections showed, counted as (client certificates, handshake failures),
    /// waiting up to 10 s for the server threads to log them: a client may exit before the
    /// server thread has recorded its side, and the threads may log out of order.
    pub fn counts(&self, n: usize) -> (usize, usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.seen().len() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let seen = self.seen();
        let with_cert = seen
            .iter()
            .filter(|s| **s == Seen::Client(Some("postie client".into())))
            .count();
        let failed = seen.iter().filter(|s| **s == Seen::HandshakeFailed).count();
        assert_eq!(seen.len(), n, "{seen:?}");
        (with_cert, failed)
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://localhost:{}/", self.port)
    }
}

fn converse<S: Read + Write>(stream: S, proto: Proto, who: &str) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    match proto {
        Proto::Http => {
            let mut line = String::new();
            while r.read_line(&mut line)? > 0 && line != "\r\n" {
                line.clear();
            }
            let body = format!("hello {who}\n");
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            r.get_mut().write_all(format!("{head}{body}").as_bytes())
        }
        Proto::Smtp => lines(r, "220 localhost ESMTP\r\n", smtp_reply),
        Proto::Pop3 => lines(r, "+OK postie test\r\n", pop3_reply),
    }
}

/// A line protocol: the greeting, then one reply per command; None ends the session. SMTP's
/// message text (after a 354) is read up to its dot line and answered with 250.
fn lines<S: Read + Write>(
    mut r: BufReader<S>,
    greeting: &str,
    reply: fn(&str) -> Option<&'static str>,
) -> std::io::Result<()> {
    r.get_mut().write_all(greeting.as_bytes())?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let Some(answer) = reply(line.trim_end()) else {
            return Ok(());
        };
        r.get_mut().write_all(answer.as_bytes())?;
        if answer.starts_with("354") {
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line == ".\r\n" {
                    break;
                }
            }
            r.get_mut().write_all(b"250 queued\r\n")?;
        }
        if answer.starts_with("221") || answer.starts_with("+OK bye") {
            return Ok(());
        }
    }
}

fn smtp_reply(line: &str) -> Option<&'static str> {
    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
    Some(match verb.as_str() {
        "EHLO" => "250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
        "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => "250 ok\r\n",
        "AUTH" => "235 ok\r\n",
        "DATA" => "354 go ahead\r\n",
        "QUIT" => "221 bye\r\n",
        "" => return None,
        _ => "502 unknown\r\n",
    })
}

fn pop3_reply(line: &str) -> Option<&'static str> {
    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
    Some(match verb.as_str() {
        "CAPA" => "+OK\r\nUSER\r\nUIDL\r\n.\r\n",
        "USER" | "PASS" | "NOOP" => "+OK\r\n",
        "STAT" => "+OK 0 0\r\n",
        "UIDL" | "LIST" => "+OK\r\n.\r\n",
        "QUIT" => "+OK bye\r\n",
        "" => return None,
        _ => "-ERR unknown\r\n",
    })
}
