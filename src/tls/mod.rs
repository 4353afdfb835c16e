//! TLS settings and the TLS client shared by the HTTP, SMTP and POP3 clients.
//!
//! Verification is on unless `insecure`. `cacert` replaces the platform's roots, as curl's
//! `--cacert` does. [`VerifyFailure`] names why a certificate was refused, from OpenSSL's
//! message, so every client can print the cause; [`TlsError`] carries the exit codes (60 for
//! verification, 35 for other handshake failures, 28 for a handshake that timed out).
//! [`client::TlsClient`] is the one TLS client of the mail protocols (SMTP and POP3), over
//! OpenSSL directly: see its docs for why not native-tls. HTTP does its own handshakes in
//! ureq over the same OpenSSL client ([`http::OpensslConnector`]), so client certificates and
//! pins ([`identity`]) apply to all three protocols alike.

use std::io;
use std::path::{Path, PathBuf};

use openssl::x509::X509;

use crate::exit::code;

pub mod client;
pub mod http;
pub mod identity;

pub use client::TlsClient;
pub use identity::{CertInfo, ClientIdentity, Pin, parse_pins};

/// TLS settings from flags or an account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust only the CA certificates in this PEM (or DER) file.
    pub cacert: Option<PathBuf>,
    /// Skip certificate and host name verification.
    pub insecure: bool,
    /// `--cert`/`--key`: present this certificate when the server asks for one.
    pub client_cert: Option<ClientIdentity>,
    /// `--pinnedpubkey` / `tls_fingerprint`: the server's key or certificate must be one of
    /// these (empty: no pinning).
    pub pins: Vec<Pin>,
}

/// When to use TLS on a protocol that can upgrade a plain connection (STARTTLS, STLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Implicit TLS or an upgrade; fail when the server cannot upgrade.
    #[default]
    Required,
    /// Upgrade when the server offers it, else go on in the clear.
    Opportunistic,
    /// Never use TLS (local relays only).
    None,
}

/// Why a certificate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyFailure {
    SelfSigned,
    UnknownIssuer,
    Expired,
    NotYetValid,
    NameMismatch,
    Other,
}

impl VerifyFailure {
    /// Reads the cause out of an OpenSSL error message; None when it is not a verification
    /// failure at all.
    pub fn from_message(message: &str) -> Option<VerifyFailure> {
        let m = message.to_ascii_lowercase();
        let failure = if m.contains("self-signed") || m.contains("self signed") {
            VerifyFailure::SelfSigned
        } else if m.contains("unable to get local issuer") || m.contains("unable to get issuer") {
            VerifyFailure::UnknownIssuer
        } else if m.contains("certificate has expired") {
            VerifyFailure::Expired
        } else if m.contains("not yet valid") {
            VerifyFailure::NotYetValid
        } else if m.contains("hostname mismatch") || m.contains("ip address mismatch") {
            VerifyFailure::NameMismatch
        } else if m.contains("certificate verify failed") {
            VerifyFailure::Other
        } else {
            return None;
        };
        Some(failure)
    }

    /// Looks for a verification failure anywhere in an error's `source()` chain.
    pub fn from_error(err: &(dyn std::error::Error + 'static)) -> Option<VerifyFailure> {
        crate::exit::chain(err).find_map(|e| VerifyFailure::from_message(&e.to_string()))
    }

    pub fn describe(self) -> &'static str {
        match self {
            VerifyFailure::SelfSigned => {
                "certificate verification failed: self-signed certificate (give its CA with --cacert, or --insecure)"
            }
            VerifyFailure::UnknownIssuer => {
                "certificate verification failed: unknown issuer (give the CA with --cacert)"
            }
            VerifyFailure::Expired => {
                "certificate verification failed: the certificate has expired"
            }
            VerifyFailure::NotYetValid => {
                "certificate verification failed: the certificate is not yet valid"
            }
            VerifyFailure::NameMismatch => {
                "certificate verification failed: the certificate does not match the host name"
            }
            VerifyFailure::Other => "certificate verification failed",
        }
    }
}

/// Errors of TLS setup and handshakes.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--cacert {}: {source}", path.display())]
    CaRead { path: PathBuf, source: io::Error },
    #[error("--cacert {}: no certificate could be read from it", path.display())]
    CaEmpty { path: PathBuf },
    #[error("--cacert {}: {why}", path.display())]
    CaInvalid { path: PathBuf, why: String },
    #[error("TLS setup: {0}")]
    Setup(String),
    #[error("client certificate {}: {why}", path.display())]
    ClientCert { path: PathBuf, why: String },
    /// The server's key is not one of the pins; `got` is its pin, to compare.
    #[error(
        "{host}: the server's public key does not match the pinned key (the server's is {got})"
    )]
    PinMismatch { host: String, got: String },
    /// A handshake with `host` failed.
    #[error("{host}: {}", match failure { Some(f) => f.describe().to_owned(), None => format!("TLS handshake failed: {detail}") })]
    Handshake {
        host: String,
        failure: Option<VerifyFailure>,
        detail: String,
    },
    /// The socket's read timeout expired during the handshake with `host`; each protocol
    /// turns this into its own timeout error.
    #[error("{host}: timed out during the TLS handshake")]
    Timeout { host: String },
}

impl TlsError {
    pub fn exit_code(&self) -> u8 {
        match self {
            TlsError::CaRead { .. } => code::READ,
            TlsError::Handshake {
                failure: Some(_), ..
            } => code::TLS_VERIFY,
            TlsError::Timeout { .. } => code::TIMEOUT,
            TlsError::ClientCert { .. } => code::CLIENT_CERT,
            TlsError::PinMismatch { .. } => code::PINNED,
            _ => code::TLS,
        }
    }

    /// Classifies a failed handshake with `host`.
    pub fn handshake(host: &str, err: &(dyn std::error::Error + 'static)) -> TlsError {
        TlsError::Handshake {
            host: host.to_owned(),
            failure: VerifyFailure::from_error(err),
            detail: err.to_string(),
        }
    }
}

/// Reads every certificate in a PEM bundle (or one DER certificate).
pub fn load_certificates(path: &Path) -> Result<Vec<X509>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::CaRead {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |e: openssl::error::ErrorStack| TlsError::CaInvalid {
        path: path.to_owned(),
        why: e.to_string(),
    };
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    if !bytes.windows(BEGIN.len()).any(|w| w == BEGIN) {
        return Ok(vec![X509::from_der(&bytes).map_err(invalid)?]);
    }
    let certs = X509::stack_from_pem(&bytes).map_err(invalid)?;
    if certs.is_empty() {
        return Err(TlsError::CaEmpty {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_messages_are_classified() {
        let cases = [
            (
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889: (self-signed certificate)",
                VerifyFailure::SelfSigned,
            ),
            (
                "certificate verify failed: (unable to get local issuer certificate)",
                VerifyFailure::UnknownIssuer,
            ),
            (
                "certificate verify failed: (certificate has expired)",
                VerifyFailure::Expired,
            ),
            (
                "certificate verify failed: (Hostname mismatch)",
                VerifyFailure::NameMismatch,
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(VerifyFailure::from_message(msg), Some(want), "{msg}");
        }
        assert_eq!(
            VerifyFailure::from_message("connection reset by peer"),
            None
        );
    }

    #[test]
    fn missing_and_empty_ca_files_are_errors() {
        let err = load_certificates(Path::new("/nonexistent/ca.pem")).map(|v| v.len());
        assert!(matches!(err, Err(TlsError::CaRead { .. })));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        assert!(load_certificates(&path).is_err());
    }
}
