//! The TLS client of the mail protocols (SMTP's STARTTLS and implicit TLS, POP3's STLS and
//! `pop3s://`), over OpenSSL directly.
//!
//! It owns the client context (roots, minimum version, verification mode) and the handshake
//! over a `TcpStream` the caller opened: chain verification against the roots and the host
//! name (or IP address) against the certificate unless `--insecure`, and the classification of
//! a failure into [`VerifyFailure`] (exit 60, by OpenSSL's `X509_V_ERR_*` code, not its
//! message text), another handshake failure (35) or [`TlsError::Timeout`] when the socket's
//! read timeout expired inside the handshake, which each protocol turns into its own timeout
//! error (exit 28). It leaves the socket, its timeouts and the protocol's upgrade command to
//! the caller (`crate::net`).
//!
//! Why not native-tls (which on this platform is a thin wrapper over this same OpenSSL):
//! its `TlsConnector` parses the system CA bundle twice on every build (OpenSSL's default
//! paths, then openssl-probe's), even when `--cacert` replaces those roots. We measured about
//! 65 ms of CPU and 1.6 MiB of peak RSS per process for that, the largest cost of a
//! one-message `postie send` and what kept `postie pop3` with TLS above its 10 MiB goal. Here
//! the system roots are loaded once, and not at all with `--cacert`.

use std::io::{self, Read, Write};
use std::net::IpAddr;

use openssl::error::ErrorStack;
use openssl::ssl::{
    HandshakeError, Ssl, SslContext, SslContextBuilder, SslMethod, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::X509VerifyResult;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509CheckFlags;

use super::identity::{pin_matches, public_key_pin};
use super::{CertInfo, Pin, TlsError, TlsOptions, VerifyFailure, load_certificates};

/// A TLS client context, built once per process.
pub struct TlsClient {
    ctx: SslContext,
    verify: bool,
    pins: Vec<Pin>,
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

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
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
                    store.add_cert(cert).map_err(setup)?;
                }
                b.set_cert_store(store.build());
            }
            None => b.set_default_verify_paths().map_err(setup)?,
        }
        if let Some(identity) = &opts.client_cert {
            let id = identity.load()?;
            let bad = |e: ErrorStack| TlsError::ClientCert {
                path: identity.cert.clone(),
                why: e.to_string(),
            };
            b.set_certificate(&id.cert).map_err(bad)?;
            for extra in id.chain {
                b.add_extra_chain_cert(extra).map_err(bad)?;
            }
            b.set_private_key(&id.key).map_err(bad)?;
            b.check_private_key().map_err(|e| TlsError::ClientCert {
                path: identity
                    .key
                    .clone()
                    .unwrap_or_else(|| identity.cert.clone()),
                why: format!("the key does not belong to the certificate: {e}"),
            })?;
        }
        // msmtp's tls_fingerprint trusts the named certificate whatever its issuer or names,
        // so chain verification would only get in the way; the fingerprint check replaces it.
        let by_fingerprint = opts.pins.iter().any(|p| matches!(p, Pin::Certificate(_)));
        let verify = !opts.insecure && !by_fingerprint;
        b.set_verify(if verify {
            SslVerifyMode::PEER
        } else {
            SslVerifyMode::NONE
        });
        Ok(TlsClient {
            ctx: b.build(),
            verify,
            pins: opts.pins.clone(),
        })
    }

    fn ssl_for(&self, host: &str, check_names: bool) -> Result<Ssl, TlsError> {
        let mut ssl = Ssl::new(&self.ctx).map_err(setup)?;
        let ip = host.parse::<IpAddr>().ok();
        if ip.is_none() {
            ssl.set_hostname(host).map_err(setup)?;
        }
        if check_names {
            let param = ssl.param_mut();
            param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
            match ip {
                Some(ip) => param.set_ip(ip).map_err(setup)?,
                None => param.set_host(host).map_err(setup)?,
            }
        }
        Ok(ssl)
    }

    /// The TLS handshake with `host` over `stream` (a socket, or ureq's transport); the
    /// socket's read and write timeouts bound each read and write of it. Then the pins.
    pub fn connect<S: Read + Write>(
        &self,
        host: &str,
        stream: S,
    ) -> Result<SslStream<S>, TlsError> {
        let ssl = self.ssl_for(host, self.verify)?;
        let tls = handshake(host, ssl, stream)?;
        if !self.pins.is_empty() {
            let leaf = tls.ssl().peer_certificate();
            if !leaf.as_ref().is_some_and(|c| pin_matches(&self.pins, c)) {
                return Err(TlsError::PinMismatch {
                    host: host.to_owned(),
                    got: leaf
                        .as_deref()
                        .and_then(public_key_pin)
                        .unwrap_or_else(|| "no certificate".into()),
                });
            }
        }
        Ok(tls)
    }

    /// `--show-cert`: a handshake that accepts any certificate, then the chain the server
    /// sent (leaf first) and whether it would have passed verification (None: it would).
    pub fn inspect<S: Read + Write>(
        &self,
        host: &str,
        stream: S,
    ) -> Result<(Vec<CertInfo>, Option<String>), TlsError> {
        let mut ssl = self.ssl_for(host, true)?;
        ssl.set_verify(SslVerifyMode::NONE);
        let tls = handshake(host, ssl, stream)?;
        let chain = match tls.ssl().peer_cert_chain() {
            Some(chain) => chain.iter().map(CertInfo::of).collect(),
            None => tls
                .ssl()
                .peer_certificate()
                .iter()
                .map(|c| CertInfo::of(c))
                .collect(),
        };
        let verdict = tls.ssl().verify_result();
        let problem = (verdict != X509VerifyResult::OK).then(|| verdict.error_string().to_owned());
        Ok((chain, problem))
    }
}

fn handshake<S: Read + Write>(host: &str, ssl: Ssl, stream: S) -> Result<SslStream<S>, TlsError> {
    let timeout = || TlsError::Timeout {
        host: host.to_owned(),
    };
    match ssl.connect(stream) {
        Ok(stream) => Ok(stream),
        Err(HandshakeError::SetupFailure(e)) => Err(setup(e)),
        Err(HandshakeError::WouldBlock(_)) => Err(timeout()),
        Err(HandshakeError::Failure(mid)) => {
            if mid.error().io_error().is_some_and(is_timeout) {
                return Err(timeout());
            }
            let verify = mid.ssl().verify_result();
            let detail = mid.error().to_string();
            // OpenSSL records why the chain or name was refused: its code, not its wording
            // (which changed between versions: "self signed" / "self-signed").
            let failure = (verify != X509VerifyResult::OK).then(|| verify_failure(verify.as_raw()));
            Err(TlsError::Handshake {
                host: host.to_owned(),
                failure,
                detail,
            })
        }
    }
}

/// OpenSSL's verification error codes (`X509_V_ERR_*` in `openssl/x509_vfy.h`) that name a
/// cause the user can act on.
mod verify_code {
    pub const UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
    pub const CERT_NOT_YET_VALID: i32 = 9;
    pub const CERT_HAS_EXPIRED: i32 = 10;
    pub const DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
    pub const SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
    pub const UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
    pub const HOSTNAME_MISMATCH: i32 = 62;
    pub const IP_ADDRESS_MISMATCH: i32 = 64;
}

/// The cause of a failed verification, from OpenSSL's `X509_V_ERR_*` code.
fn verify_failure(code: i32) -> VerifyFailure {
    use verify_code::*;
    match code {
        DEPTH_ZERO_SELF_SIGNED_CERT | SELF_SIGNED_CERT_IN_CHAIN => VerifyFailure::SelfSigned,
        UNABLE_TO_GET_ISSUER_CERT | UNABLE_TO_GET_ISSUER_CERT_LOCALLY => {
            VerifyFailure::UnknownIssuer
        }
        CERT_HAS_EXPIRED => VerifyFailure::Expired,
        CERT_NOT_YET_VALID => VerifyFailure::NotYetValid,
        HOSTNAME_MISMATCH | IP_ADDRESS_MISMATCH => VerifyFailure::NameMismatch,
        _ => VerifyFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::ssl::{SslAcceptor, SslMethod};
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509, X509NameBuilder};

    use super::*;

    fn key() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("PKey")
    }

    /// A certificate for `cn`, signed by `issuer` (or by itself), a CA when `ca`.
    fn cert(
        cn: &str,
        key: &PKey<Private>,
        issuer: Option<(&X509, &PKey<Private>)>,
        ca: bool,
    ) -> X509 {
        let from = Asn1Time::days_from_now(0).expect("time");
        let until = Asn1Time::days_from_now(2).expect("time");
        cert_valid(cn, key, issuer, ca, (&from, &until))
    }

    /// [`cert`] valid from and until the given times.
    fn cert_valid(
        cn: &str,
        key: &PKey<Private>,
        issuer: Option<(&X509, &PKey<Private>)>,
        ca: bool,
        (from, until): (&Asn1Time, &Asn1Time),
    ) -> X509 {
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", cn).expect("CN");
        let name = name.build();
        let mut b = X509::builder().expect("builder");
        b.set_version(2).expect("version");
        let mut serial = BigNum::new().expect("bn");
        serial
            .rand(64, MsbOption::MAYBE_ZERO, false)
            .expect("serial");
        b.set_serial_number(&serial.to_asn1_integer().expect("serial"))
            .expect("serial");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name()))
            .expect("issuer");
        b.set_pubkey(key).expect("pubkey");
        b.set_not_before(from).expect("not before");
        b.set_not_after(until).expect("not after");
        if ca {
            let bc = BasicConstraints::new().critical().ca().build().expect("bc");
            b.append_extension(bc).expect("bc");
        } else {
            let san = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))
                .expect("SAN");
            b.append_extension(san).expect("SAN");
        }
        let signer = issuer.map_or(key, |(_, k)| k);
        b.sign(signer, MessageDigest::sha256()).expect("sign");
        b.build()
    }

    /// A one-connection TLS server presenting `cert`; it answers "hello" once the handshake
    /// succeeds. Returns its port.
    fn serve(cert: X509, key: PKey<Private>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut acceptor =
            SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).expect("acceptor");
        acceptor.set_certificate(&cert).expect("cert");
        acceptor.set_private_key(&key).expect("key");
        let acceptor = acceptor.build();
        std::thread::spawn(move || {
            if let Ok((tcp, _)) = listener.accept()
                && let Ok(mut tls) = acceptor.accept(tcp)
            {
                let _ = tls.write_all(b"hello");
                let _ = tls.shutdown();
            }
        });
        port
    }

    fn tcp(port: u16) -> TcpStream {
        let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let t = Some(Duration::from_secs(10));
        tcp.set_read_timeout(t).expect("timeout");
        tcp
    }

    fn write_pem(dir: &Path, name: &str, cert: &X509) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, cert.to_pem().expect("pem")).expect("write");
        path
    }

    struct Pki {
        dir: tempfile::TempDir,
        ca: X509,
        leaf: X509,
        leaf_key: PKey<Private>,
    }

    fn pki() -> Pki {
        let ca_key = key();
        let ca = cert("postie test CA", &ca_key, None, true);
        let leaf_key = key();
        let leaf = cert("localhost", &leaf_key, Some((&ca, &ca_key)), false);
        Pki {
            dir: tempfile::tempdir().expect("tempdir"),
            ca,
            leaf,
            leaf_key,
        }
    }

    fn client(cacert: Option<PathBuf>, insecure: bool) -> TlsClient {
        TlsClient::new(&TlsOptions {
            cacert,
            insecure,
            ..TlsOptions::default()
        })
        .expect("client")
    }

    fn failure(result: Result<SslStream<TcpStream>, TlsError>) -> (Option<VerifyFailure>, u8) {
        match result {
            Err(e @ TlsError::Handshake { failure, .. }) => (failure, e.exit_code()),
            Err(e) => panic!("not a handshake error: {e}"),
            Ok(_) => panic!("the handshake succeeded"),
        }
    }

    #[test]
    fn a_server_signed_by_the_given_ca_is_trusted() {
        let p = pki();
        let ca = write_pem(p.dir.path(), "ca.pem", &p.ca);
        for host in ["localhost", "127.0.0.1"] {
            let port = serve(p.leaf.clone(), p.leaf_key.clone());
            let mut tls = client(Some(ca.clone()), false)
                .connect(host, tcp(port))
                .expect("trusted");
            let mut got = String::new();
            tls.read_to_string(&mut got).expect("read");
            assert_eq!(got, "hello", "{host}");
        }
    }

    #[test]
    fn a_self_signed_certificate_is_refused() {
        let p = pki();
        let other = write_pem(p.dir.path(), "ca.pem", &p.ca);
        let self_key = key();
        let self_signed = cert("localhost", &self_key, None, false);
        let port = serve(self_signed, self_key);
        let (f, code) = failure(client(Some(other), false).connect("localhost", tcp(port)));
        assert_eq!(f, Some(VerifyFailure::SelfSigned));
        assert_eq!(code, crate::exit::code::TLS_VERIFY);
    }

    #[test]
    fn an_unknown_issuer_is_refused() {
        let p = pki();
        let other_key = key();
        let other_ca = cert("another CA", &other_key, None, true);
        let other = write_pem(p.dir.path(), "other.pem", &other_ca);
        let port = serve(p.leaf.clone(), p.leaf_key.clone());
        let (f, code) = failure(client(Some(other), false).connect("localhost", tcp(port)));
        assert_eq!(f, Some(VerifyFailure::UnknownIssuer));
        assert_eq!(code, crate::exit::code::TLS_VERIFY);
    }

    #[test]
    fn a_name_mismatch_is_refused() {
        let p = pki();
        let ca = write_pem(p.dir.path(), "ca.pem", &p.ca);
        let port = serve(p.leaf.clone(), p.leaf_key.clone());
        let (f, _) = failure(client(Some(ca), false).connect("example.invalid", tcp(port)));
        assert_eq!(f, Some(VerifyFailure::NameMismatch));
    }

    #[test]
    fn an_expired_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = key();
        let ca_cert = cert("postie test CA", &ca_key, None, true);
        let ca = write_pem(dir.path(), "ca.pem", &ca_cert);
        let day = 24 * 3600;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let from = Asn1Time::from_unix(now - 10 * day).expect("time");
        let until = Asn1Time::from_unix(now - day).expect("time");
        let leaf_key = key();
        let issuer = Some((&ca_cert, &ca_key));
        let leaf = cert_valid("localhost", &leaf_key, issuer, false, (&from, &until));
        let port = serve(leaf, leaf_key);
        let (f, code) = failure(client(Some(ca), false).connect("localhost", tcp(port)));
        assert_eq!(f, Some(VerifyFailure::Expired));
        assert_eq!(code, crate::exit::code::TLS_VERIFY);
    }

    #[test]
    fn verify_codes_name_their_cause() {
        let cases = [
            (18, VerifyFailure::SelfSigned),
            (19, VerifyFailure::SelfSigned),
            (2, VerifyFailure::UnknownIssuer),
            (20, VerifyFailure::UnknownIssuer),
            (10, VerifyFailure::Expired),
            (9, VerifyFailure::NotYetValid),
            (62, VerifyFailure::NameMismatch),
            (64, VerifyFailure::NameMismatch),
            (21, VerifyFailure::Other),
        ];
        for (code, want) in cases {
            assert_eq!(verify_failure(code), want, "{code}");
        }
    }

    #[test]
    fn insecure_accepts_an_untrusted_certificate_and_name() {
        let self_key = key();
        let self_signed = cert("localhost", &self_key, None, false);
        let port = serve(self_signed, self_key);
        let mut tls = client(None, true)
            .connect("example.invalid", tcp(port))
            .expect("insecure");
        let mut got = String::new();
        tls.read_to_string(&mut got).expect("read");
        assert_eq!(got, "hello");
    }

    #[test]
    fn a_silent_server_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let err = client(None, true)
            .connect("localhost", tcp)
            .expect_err("timeout");
        assert!(matches!(err, TlsError::Timeout { .. }), "{err}");
        assert_eq!(err.exit_code(), crate::exit::code::TIMEOUT);
        drop(listener);
    }
}
