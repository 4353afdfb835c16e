//! Client certificates (`--cert`/`--key`, msmtp's `tls_cert_file`/`tls_key_file`), public
//! key pins (curl's `--pinnedpubkey sha256//BASE64`, msmtp's `tls_fingerprint`) and the
//! description of a server's chain that `--show-cert` prints.
//!
//! Everything here is plain data and parsing, so the HTTP connector and the mail client
//! apply exactly the same rules.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509, X509NameRef, X509Ref};

use super::TlsError;
use crate::secret::Secret;

/// A client certificate and its key, as files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// PEM certificate (and chain), possibly with its key; or a PKCS#12 bundle.
    pub cert: PathBuf,
    /// The PEM key when it is not in `cert`.
    pub key: Option<PathBuf>,
    /// The pass phrase of an encrypted key or of a PKCS#12 bundle.
    pub password: Option<Secret>,
}

/// The loaded identity: leaf, chain and key.
pub(crate) struct LoadedIdentity {
    pub(crate) cert: X509,
    pub(crate) chain: Vec<X509>,
    pub(crate) key: PKey<Private>,
}

const PEM_CERT: &[u8] = b"-----BEGIN CERTIFICATE-----";
const PEM_ANY: &[u8] = b"-----BEGIN ";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl ClientIdentity {
    /// Reads the certificate and key; a file that is not PEM is taken as PKCS#12.
    pub(crate) fn load(&self) -> Result<LoadedIdentity, TlsError> {
        let bad = |path: &Path, why: String| TlsError::ClientCert {
            path: path.to_owned(),
            why,
        };
        let read = |path: &Path| std::fs::read(path).map_err(|e| bad(path, e.to_string()));
        let pass = self.password.as_ref().map_or("", Secret::expose);
        let bytes = read(&self.cert)?;
        if !contains(&bytes, PEM_ANY) {
            let parsed = Pkcs12::from_der(&bytes)
                .and_then(|p| p.parse2(pass))
                .map_err(|e| bad(&self.cert, format!("not PEM, and not PKCS#12: {e}")))?;
            let (Some(cert), Some(key)) = (parsed.cert, parsed.pkey) else {
                return Err(bad(
                    &self.cert,
                    "the PKCS#12 bundle lacks a certificate or key".into(),
                ));
            };
            let chain = parsed
                .ca
                .map(|s| s.into_iter().collect())
                .unwrap_or_default();
            return Ok(LoadedIdentity { cert, chain, key });
        }
        if !contains(&bytes, PEM_CERT) {
            return Err(bad(&self.cert, "no PEM certificate in it".into()));
        }
        let mut certs = X509::stack_from_pem(&bytes).map_err(|e| bad(&self.cert, e.to_string()))?;
        if certs.is_empty() {
            return Err(bad(&self.cert, "no PEM certificate in it".into()));
        }
        let cert = certs.remove(0);
        let (key_path, key_bytes) = match &self.key {
            Some(p) => (p.as_path(), read(p)?),
            None => (self.cert.as_path(), bytes),
        };
        let key = if self.password.is_some() {
            PKey::private_key_from_pem_passphrase(&key_bytes, pass.as_bytes())
        } else {
            PKey::private_key_from_pem(&key_bytes)
        };
        let key = key.map_err(|e| {
            let hint = if self.password.is_none() && contains(&key_bytes, b"ENCRYPTED") {
                "the key is encrypted: give its pass phrase as --cert FILE:env:VAR, :file:PATH or :command:CMD".to_owned()
            } else {
                format!("no usable private key (give --key FILE): {e}")
            };
            bad(key_path, hint)
        })?;
        Ok(LoadedIdentity {
            cert,
            chain: certs,
            key,
        })
    }
}

/// One accepted server key or certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// curl's `sha256//BASE64`: SHA-256 of the SubjectPublicKeyInfo (DER). Checked on top
    /// of the usual verification.
    PublicKey([u8; 32]),
    /// msmtp's `tls_fingerprint` `AB:CD:...`: SHA-256 of the whole certificate (DER). As in
    /// msmtp, a certificate with this fingerprint is trusted whatever its issuer or name.
    Certificate([u8; 32]),
}

/// Parses `sha256//BASE64[;sha256//BASE64...]` and msmtp-style hex fingerprints
/// (`01:23:...`, 32 bytes).
pub fn parse_pins(text: &str) -> Result<Vec<Pin>, String> {
    let mut pins = Vec::new();
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        pins.push(parse_pin(item).ok_or_else(|| {
            format!(
                "{item:?} is neither sha256//BASE64 (curl) nor a SHA-256 fingerprint AB:CD:... (msmtp)"
            )
        })?);
    }
    if pins.is_empty() {
        return Err("no pin given".into());
    }
    Ok(pins)
}

fn parse_pin(item: &str) -> Option<Pin> {
    if let Some(b64) = item.strip_prefix("sha256//") {
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        return Some(Pin::PublicKey(bytes.try_into().ok()?));
    }
    let hex: String = item.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(Pin::Certificate(out))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// The pin of a certificate's public key, in curl's syntax.
pub fn public_key_pin(cert: &X509Ref) -> Option<String> {
    let spki = cert.public_key().ok()?.public_key_to_der().ok()?;
    Some(format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(sha256(&spki))
    ))
}

/// Whether the server's leaf certificate matches one of `pins`.
pub(crate) fn pin_matches(pins: &[Pin], leaf: &X509Ref) -> bool {
    let spki = leaf
        .public_key()
        .and_then(|k| k.public_key_to_der())
        .map(|d| sha256(&d));
    let whole = leaf.to_der().map(|d| sha256(&d));
    pins.iter().any(|pin| match pin {
        Pin::PublicKey(h) => spki.as_ref().is_ok_and(|s| s == h),
        Pin::Certificate(h) => whole.as_ref().is_ok_and(|s| s == h),
    })
}

/// What `--show-cert` prints of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
    pub pin: String,
    /// SHA-256 of the certificate, `AB:CD:...` (msmtp's `tls_fingerprint`).
    pub fingerprint: String,
}

fn name_text(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{key}={value}")
        })
        .collect();
    parts.join(", ")
}

impl CertInfo {
    pub fn of(cert: &X509Ref) -> CertInfo {
        let fingerprint = cert
            .digest(MessageDigest::sha256())
            .map(|d| {
                let hex: Vec<String> = d.iter().map(|b| format!("{b:02X}")).collect();
                hex.join(":")
            })
            .unwrap_or_default();
        CertInfo {
            subject: name_text(cert.subject_name()),
            issuer: name_text(cert.issuer_name()),
            not_after: cert.not_after().to_string(),
            pin: public_key_pin(cert).unwrap_or_default(),
            fingerprint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_in_curl_and_msmtp_forms() {
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let pins = parse_pins(&format!("sha256//{b64}; sha256//{b64}")).expect("pins");
        assert_eq!(pins, vec![Pin::PublicKey([7; 32]); 2]);
        let hex: Vec<String> = (0..32).map(|i| format!("{i:02x}")).collect();
        let pins = parse_pins(&hex.join(":")).expect("fingerprint");
        let want: Vec<u8> = (0..32).collect();
        assert_eq!(pins, vec![Pin::Certificate(want.try_into().expect("32"))]);
        for bad in [
            "",
            "sha256//short",
            "md5//AAAA",
            "AB:CD",
            "zz".repeat(32).as_str(),
        ] {
            assert!(parse_pins(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_or_unreadable_identity_is_a_client_cert_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "-----BEGIN NOTHING-----\n").expect("write");
        for cert in [dir.path().join("missing.pem"), junk] {
            let id = ClientIdentity {
                cert,
                key: None,
                password: None,
            };
            let err = id.load().err().expect("must fail");
            assert!(matches!(err, TlsError::ClientCert { .. }), "{err}");
            assert_eq!(err.exit_code(), crate::exit::code::CLIENT_CERT);
        }
    }
}
