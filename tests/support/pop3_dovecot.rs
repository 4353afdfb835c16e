//! Dovecot for the POP3 interop tests: its own config (from fixtures/pop3/dovecot.conf.in),
//! base_dir, passwd-file user and Maildir (owned by uid 5000: Dovecot will not touch mail as
//! root) in a temp folder, free ports on 127.0.0.1, a test CA and a server certificate made
//! with openssl. `dovecot -F` is our child; Drop stops it, on panic too.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "alice";
pub const PASS: &str = "dove pw 1";

pub fn available() -> bool {
    super::common::which("dovecot").is_some() && super::common::which("openssl").is_some()
}

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    conf: PathBuf,
    child: Option<Child>,
}

/// A CA (`ca.pem`) and a server certificate for localhost/127.0.0.1 signed by it.
pub fn make_certificates(dir: &Path) {
    super::certs::make_in(dir);
}

fn chown_tree(path: &Path) {
    std::os::unix::fs::chown(path, Some(5000), Some(5000)).expect("chown");
    if path.is_dir() {
        for e in std::fs::read_dir(path).expect("ls").flatten() {
            chown_tree(&e.path());
        }
    }
}

impl Dovecot {
    pub fn start(lock_session: bool) -> Dovecot {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        // Dovecot's processes run as other users: the folders must be traversable.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        make_certificates(root);
        let passwd = root.join("passwd");
        std::fs::write(&passwd, format!("{USER}:{{PLAIN}}{PASS}::::::\n")).expect("passwd");
        std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let maildir = root.join("home").join(USER).join("Maildir");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        chown_tree(&root.join("home"));
        let pop3_port = super::common::free_port();
        let pop3s_port = super::common::free_port();
        let template = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pop3/dovecot.conf.in"),
        )
        .expect("template");
        let conf_text = template
            .replace("@DIR@", &root.display().to_string())
            .replace("@POP3_PORT@", &pop3_port.to_string())
            .replace("@POP3S_PORT@", &pop3s_port.to_string())
            .replace("@LOCK_SESSION@", if lock_session { "yes" } else { "no" });
        let conf = root.join("dovecot.conf");
        std::fs::write(&conf, conf_text).expect("conf");
        let child = Command::new(super::common::which("dovecot").expect("dovecot"))
            .args(["-F", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot starts");
        let d = Dovecot {
            dir,
            pop3_port,
            pop3s_port,
            conf,
            child: Some(child),
        };
        let ready = super::common::wait_for_port(pop3_port, 15)
            && super::common::wait_for_port(pop3s_port, 15);
        assert!(ready, "dovecot did not listen: {}", d.log());
        d
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("home").join(USER).join("Maildir")
    }

    /// Puts a message into the user's Maildir (as Dovecot's user).
    pub fn deliver(&self, name: &str, raw: &[u8]) {
        let path = self.maildir().join("new").join(name);
        std::fs::write(&path, raw).expect("deliver");
        std::os::unix::fs::chown(&path, Some(5000), Some(5000)).expect("chown");
    }

    /// Messages in the user's Maildir.
    pub fn count(&self) -> usize {
        ["new", "cur"]
            .iter()
            .map(|s| std::fs::read_dir(self.maildir().join(s)).map_or(0, |d| d.count()))
            .sum()
    }

    pub fn plain_url(&self) -> String {
        format!("pop3://localhost:{}", self.pop3_port)
    }

    pub fn tls_url(&self) -> String {
        format!("pop3s://localhost:{}", self.pop3s_port)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
