//! Real SMTP peers for the interop tests: the aiosmtpd sink (tests/support/smtp_sink.py in
//! the venv's Python), test certificates made with openssl, and what the sink stored.
//! Every process started here is killed by a Drop guard, even when the test panics.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;

pub use super::certs::Certs;

/// One message as the sink stored it.
#[derive(Debug, serde::Deserialize)]
pub struct Stored {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub tls: bool,
    pub auth: Option<String>,
    /// The MAIL FROM parameters (`SMTPUTF8`, `BODY=8BITMIME`).
    #[serde(default)]
    pub mail_options: Vec<String>,
    data: String,
}

impl Stored {
    /// The exact bytes the sink received.
    pub fn bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.data)
            .expect("base64 from the sink")
    }
}

/// A running aiosmtpd sink.
pub struct Sink {
    child: Child,
    pub port: u16,
    pub out: PathBuf,
    _dir: tempfile::TempDir,
}

/// The sink's Python (the venv's), if aiosmtpd is installed there.
pub fn sink_python() -> Option<PathBuf> {
    let python = crate::common::venv_bin("python")?;
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
}

impl Sink {
    /// Starts the sink: `mode` is plain, starttls or implicit; `auth` "user:pass".
    pub fn start(mode: &str, certs: Option<(&Path, &Path)>, auth: Option<&str>) -> Sink {
        Sink::start_with(mode, certs, auth, &[])
    }

    /// [`start`](Self::start) with more of smtp_sink.py's flags (`--no-smtputf8`).
    pub fn start_with(
        mode: &str,
        certs: Option<(&Path, &Path)>,
        auth: Option<&str>,
        extra: &[&str],
    ) -> Sink {
        let python = sink_python().expect("aiosmtpd in the venv");
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("messages.jsonl");
        let port = crate::common::free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut cmd = Command::new(python);
        cmd.arg(script)
            .args(["--port", &port.to_string(), "--mode", mode])
            .arg("--out")
            .arg(&out)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some((cert, key)) = certs {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some(a) = auth {
            cmd.args(["--auth", a]);
        }
        let mut child = cmd.spawn().expect("start the sink");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let sink = Sink {
            child,
            port,
            out,
            _dir: dir,
        };
        let ready = rx.recv_timeout(std::time::Duration::from_secs(20));
        assert!(
            ready.as_deref().is_ok_and(|l| l.starts_with("READY")),
            "the aiosmtpd sink did not start: {ready:?}"
        );
        sink
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://localhost:{}", self.port)
    }

    /// What the sink stored so far.
    pub fn stored(&self) -> Vec<Stored> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("sink JSON line"))
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
