//! A CONNECT proxy for the cookie tests that tunnels every target (any made-up host name) to
//! one local server, so a client can talk to http://www.example.test as if it were a real,
//! non-loopback origin. ureq (so `postie fetch -x`) sends plain http through CONNECT too.
//!
//! Include with `#[path = "support/cookies_proxy.rs"] mod cookies_proxy;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// Listens on 127.0.0.1; stops accepting when dropped.
#[derive(Debug)]
pub struct TunnelProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl TunnelProxy {
    /// Tunnels every CONNECT to `upstream`.
    pub fn start(upstream: SocketAddr) -> TunnelProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    thread::spawn(move || tunnel(conn, upstream));
                }
            }
        });
        TunnelProxy { addr, stop }
    }

    /// `http://127.0.0.1:PORT`, for `-x`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TunnelProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn tunnel(client: TcpStream, upstream: SocketAddr) {
    let mut reader = BufReader::new(match client.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    // The CONNECT line and its headers, up to the blank line.
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let mut client_w = client;
    if client_w
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let (Ok(mut server_r), Ok(mut server_w)) = (server.try_clone(), server.try_clone()) else {
        return;
    };
    // Bytes the BufReader already holds belong to the tunnel.
    let pending = reader.buffer().to_vec();
    let up = thread::spawn(move || {
        let _ = server_w.write_all(&pending);
        let _ = std::io::copy(&mut reader, &mut server_w);
        let _ = server_w.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut server_r, &mut client_w);
    let _ = client_w.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}
