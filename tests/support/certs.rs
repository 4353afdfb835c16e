//! Test certificates made with the openssl command at test time, shared by every TLS test:
//! a private CA, a server certificate for `localhost` (SAN DNS:localhost, IP:127.0.0.1) signed
//! by it, and a self-signed `localhost` certificate for the negative case. P-256 keys: they
//! are much faster to make than RSA ones.
//!
//! Include with `#[path = "support/certs.rs"] mod certs;` beside the support file that uses it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files [`make_in`] writes, in one folder.
#[derive(Debug)]
pub struct Certs {
    pub dir: tempfile::TempDir,
    /// The CA certificate to give a client (`--cacert`).
    pub ca: PathBuf,
    /// The CA-signed server certificate and its key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The self-signed certificate and its key.
    pub self_signed_cert: PathBuf,
    pub self_signed_key: PathBuf,
}

impl Certs {
    /// Makes all of them in a new temporary folder.
    pub fn make() -> Certs {
        let dir = tempfile::tempdir().expect("tempdir for certificates");
        make_in(dir.path());
        let d = dir.path();
        Certs {
            ca: d.join("ca.pem"),
            cert: d.join("server.pem"),
            key: d.join("server.key"),
            self_signed_cert: d.join("self.pem"),
            self_signed_key: d.join("self.key"),
            dir,
        }
    }
}

/// Writes `ca.pem`, `ca.key`, `server.pem`, `server.key`, `self.pem` and `self.key` into `dir`.
pub fn make_in(dir: &Path) {
    // A new P-256 key and a certificate request (or, with -x509, a certificate).
    let req = |key: &str, out: &str, subject: &str, extra: &[&str]| {
        let mut args = vec![
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ];
        args.extend(["-nodes", "-keyout", key, "-out", out, "-subj", subject]);
        args.extend(extra);
        openssl(dir, &args);
    };
    let san = "subjectAltName=DNS:localhost,IP:127.0.0.1";
    req(
        "ca.key",
        "ca.pem",
        "/CN=postie test CA",
        &["-x509", "-days", "2"],
    );
    req("server.key", "server.csr", "/CN=localhost", &[]);
    std::fs::write(
        dir.join("ext.cnf"),
        format!("{san}\nbasicConstraints=CA:FALSE\n"),
    )
    .expect("write ext.cnf");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    req(
        "self.key",
        "self.pem",
        "/CN=localhost",
        &["-x509", "-days", "2", "-addext", san],
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl command runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client certificate signed by the test CA (`CN=postie client`, extendedKeyUsage
/// clientAuth): its key in the clear, the same key encrypted with [`ClientCerts::PASSPHRASE`],
/// and both as a PKCS#12 bundle with that pass phrase.
#[derive(Debug)]
pub struct ClientCerts {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub key_encrypted: PathBuf,
    pub p12: PathBuf,
}

impl ClientCerts {
    pub const PASSPHRASE: &'static str = "s3cret pass";

    /// Makes them beside `certs`, signed by its CA.
    pub fn make(certs: &Certs) -> ClientCerts {
        let dir = certs.dir.path();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "client.key",
                "-out",
                "client.csr",
                "-subj",
                "/CN=postie client",
            ],
        );
        std::fs::write(
            dir.join("client.cnf"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .expect("write client.cnf");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "client.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "client.pem",
                "-days",
                "2",
                "-extfile",
                "client.cnf",
            ],
        );
        let pass = format!("pass:{}", Self::PASSPHRASE);
        openssl(
            dir,
            &[
                "pkey",
                "-in",
                "client.key",
                "-aes256",
                "-passout",
                &pass,
                "-out",
                "client-enc.key",
            ],
        );
        openssl(
            dir,
            &[
                "pkcs12",
                "-export",
                "-in",
                "client.pem",
                "-inkey",
                "client.key",
                "-passout",
                &pass,
                "-out",
                "client.p12",
            ],
        );
        ClientCerts {
            cert: dir.join("client.pem"),
            key: dir.join("client.key"),
            key_encrypted: dir.join("client-enc.key"),
            p12: dir.join("client.p12"),
        }
    }
}
