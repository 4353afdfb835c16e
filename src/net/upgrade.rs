//! TLS over an open connection: the handshake (implicit TLS, `smtps://` and `pop3s://`) and
//! the STARTTLS/STLS upgrade. The upgrade is refused when plaintext bytes were buffered after
//! the server's go-ahead: they would otherwise be read as if they came over TLS (response
//! injection, as in fetchmail's CVE-2021-39272 and the STARTTLS bugs of 2011).

use std::net::TcpStream;

use super::stream::{BufStream, Stream};
use crate::tls::{TlsClient, TlsError};

/// Why a handshake or upgrade failed.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The socket's read timeout expired inside the handshake.
    #[error("timed out during the TLS handshake")]
    Timeout,
    #[error(transparent)]
    Tls(TlsError),
    /// Bytes followed the server's go-ahead in the clear (their count).
    #[error("{0} unencrypted octets followed the go-ahead")]
    Injected(usize),
    #[error("the connection is already encrypted")]
    AlreadyEncrypted,
}

/// The TLS handshake with `host` over `tcp`.
pub fn handshake(client: &TlsClient, host: &str, tcp: TcpStream) -> Result<Stream, UpgradeError> {
    match client.connect(host, tcp) {
        Ok(tls) => Ok(Stream::Tls(Box::new(tls))),
        Err(TlsError::Timeout { .. }) => Err(UpgradeError::Timeout),
        Err(e) => Err(UpgradeError::Tls(e)),
    }
}

/// Refuses to go on when the server sent more than its go-ahead in the clear.
pub fn check_no_injection(buffered: &[u8]) -> Result<(), UpgradeError> {
    match buffered.len() {
        0 => Ok(()),
        n => Err(UpgradeError::Injected(n)),
    }
}

/// After the server's go-ahead to STARTTLS/STLS: checks that nothing else was buffered, then
/// runs the handshake over the same socket.
pub fn start_tls(
    conn: BufStream<Stream>,
    client: &TlsClient,
    host: &str,
) -> Result<Stream, UpgradeError> {
    check_no_injection(conn.buffered())?;
    match conn.into_inner() {
        Stream::Plain(tcp) => handshake(client, host, tcp),
        Stream::Tls(_) => Err(UpgradeError::AlreadyEncrypted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_buffer_passes() {
        assert!(check_no_injection(b"").is_ok());
        assert!(matches!(
            check_no_injection(b"+OK injected\r\n"),
            Err(UpgradeError::Injected(14))
        ));
    }
}
