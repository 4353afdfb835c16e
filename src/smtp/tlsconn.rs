//! The session's TLS client, over OpenSSL directly (the library native-tls wraps here).
//!
//! Why not `tls::TlsOptions::connector()` (native-tls): its connector parses the system CA
//! bundle twice on every build (OpenSSL's default paths, then openssl-probe's), about 65 ms of
//! CPU per process, even when `--cacert` replaces those roots; for one `postie send` per
//! message that was the largest cost. Here the system roots are loaded once, and not at all
//! with `--cacert`. Verification is the same: the chain against the roots, and the host name
//! (or IP address) against the certificate, unless `--insecure`.

use std::net::{IpAddr, TcpStream};

use openssl::error::ErrorStack;
use openssl::ssl::{
    HandshakeError, Ssl, SslContext, SslContextBuilder, SslMethod, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509CheckFlags;
use openssl::x509::{X509, X509VerifyResult};

use super::SmtpError;
use crate::tls::{TlsError, TlsOptions, VerifyFailure, load_certificates};

/// A TLS client context built once per process.
pub struct TlsClient {
    ctx: SslContext,
    verify: bool,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("verify", &self.verify)
            .finish()
    }
}

fn setup(e: ErrorStack) -> TlsError {
    TlsError::Setup(e.to_string())
}

impl TlsClient {
    pub fn new(opts: &TlsOptions) -> Result<TlsClient, TlsError> {
        let mut b = SslContextBuilder::new(SslMethod::tls_client()).map_err(setup)?;
        b.set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(setup)?;
        match &opts.cacert {
            Some(path) => {
                let mut store = X509StoreBuilder::new().map_err(setup)?;
                for cert in load_certificates(path)? {
                    let der = cert.to_der().map_err(|e| TlsError::Setup(e.to_string()))?;
                    store
                        .add_cert(X509::from_der(&der).map_err(setup)?)
                        .map_err(setup)?;
                }
                b.set_cert_store(store.build());
            }
            None => b.set_default_verify_paths().map_err(setup)?,
        }
        b.set_verify(if opts.insecure {
            SslVerifyMode::NONE
        } else {
            SslVerifyMode::PEER
        });
        Ok(TlsClient {
            ctx: b.build(),
            verify: !opts.insecure,
        })
    }

    /// The TLS handshake with `host` over `tcp` (its timeouts apply to each read).
    pub fn connect(
        &self,
        host: &str,
        server: &str,
        secs: u64,
        tcp: TcpStream,
    ) -> Result<SslStream<TcpStream>, SmtpError> {
        let mut ssl = Ssl::new(&self.ctx).map_err(setup)?;
        let ip = host.parse::<IpAddr>().ok();
        if ip.is_none() {
            ssl.set_hostname(host).map_err(setup)?;
        }
        if self.verify {
            let param = ssl.param_mut();
            param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
            match ip {
                Some(ip) => param.set_ip(ip).map_err(setup)?,
                None => param.set_host(host).map_err(setup)?,
            }
        }
        match ssl.connect(tcp) {
            Ok(stream) => Ok(stream),
            Err(HandshakeError::SetupFailure(e)) => Err(setup(e).into()),
            Err(HandshakeError::Failure(mid)) => {
                let verify = mid.ssl().verify_result();
                let detail = mid.error().to_string();
                let failure = if verify == X509VerifyResult::OK {
                    VerifyFailure::from_message(&detail)
                } else {
                    VerifyFailure::from_message(&format!(
                        "certificate verify failed: ({})",
                        verify.error_string()
                    ))
                    .or(Some(VerifyFailure::Other))
                };
                Err(TlsError::Handshake {
                    host: host.to_owned(),
                    failure,
                    detail,
                }
                .into())
            }
            Err(HandshakeError::WouldBlock(_)) => Err(SmtpError::Timeout {
                server: server.to_owned(),
                secs,
                stage: "during the TLS handshake",
            }),
        }
    }
}
