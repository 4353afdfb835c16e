//! Opening a TCP connection (every address of the name tried in turn, each with the
//! timeout; TCP_NODELAY and the read and write timeouts set before any byte moves), one
//! deadline over a whole connect phase, and the classifier of I/O errors that each protocol
//! turns into its own error kinds and exit codes.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// Why no TCP connection could be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("could not resolve the host name: {0}")]
    Resolve(io::Error),
    /// The name resolved to no address at all.
    #[error("no address")]
    NoAddress,
    /// Connected, but the socket options could not be set.
    #[error("{0}")]
    Setup(io::Error),
    /// Every address failed; the last address's error.
    #[error("could not connect: {0}")]
    Failed(io::Error),
}

/// Connects to `host:port`. Without NODELAY, small writes after a TLS record wait for the
/// server's delayed ACK (40 ms each on loopback).
pub fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(ConnectError::Resolve)?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => {
                let setup = tcp
                    .set_nodelay(true)
                    .and_then(|()| tcp.set_read_timeout(Some(timeout)))
                    .and_then(|()| tcp.set_write_timeout(Some(timeout)));
                setup.map_err(ConnectError::Setup)?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or(ConnectError::NoAddress, ConnectError::Failed))
}

/// Runs `phase` on its own thread and waits at most `deadline` for it. Each read and write
/// has its own timeout; this bounds the whole phase (TCP, TLS, greeting...), so a server
/// that drips bytes cannot stretch it. None when the deadline passed.
pub fn within<T: Send + 'static>(
    deadline: Duration,
    phase: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(phase());
    });
    rx.recv_timeout(deadline).ok()
}

/// What an I/O error on a connection means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoClass {
    /// The socket's read or write timeout expired.
    Timeout,
    /// Nobody answers at that address (refused, unreachable).
    Unreachable,
    /// The peer closed or reset the connection.
    Closed,
    Other,
}

impl IoClass {
    pub fn of(err: &io::Error) -> IoClass {
        match err.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => IoClass::Timeout,
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable => IoClass::Unreachable,
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => IoClass::Closed,
            _ => IoClass::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_by_class() {
        let class = |k| IoClass::of(&io::Error::from(k));
        assert_eq!(class(io::ErrorKind::WouldBlock), IoClass::Timeout);
        assert_eq!(class(io::ErrorKind::TimedOut), IoClass::Timeout);
        assert_eq!(
            class(io::ErrorKind::ConnectionRefused),
            IoClass::Unreachable
        );
        assert_eq!(class(io::ErrorKind::BrokenPipe), IoClass::Closed);
        assert_eq!(class(io::ErrorKind::UnexpectedEof), IoClass::Closed);
        assert_eq!(class(io::ErrorKind::InvalidData), IoClass::Other);
    }

    #[test]
    fn a_refused_port_is_a_failed_connect_and_a_slow_phase_misses_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let err = tcp_connect("127.0.0.1", port, Duration::from_secs(2)).expect_err("refused");
        assert!(
            matches!(err, ConnectError::Failed(ref e) if IoClass::of(e) == IoClass::Unreachable),
            "{err}"
        );
        let slow = within(Duration::from_millis(20), || {
            std::thread::sleep(Duration::from_millis(500));
        });
        assert!(slow.is_none());
        assert_eq!(within(Duration::from_secs(5), || 7), Some(7));
    }
}
