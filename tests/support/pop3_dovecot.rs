//! Dovecot for the POP3 interop tests: its own config (from fixtures/pop3/dovecot.conf.in, or
//! dovecot-oauth2.conf.in for OAuth2 logins checked by introspection, see [`OAuth2Passdb`]),
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
/// A second user with a Maildir of its own (for several accounts on one server).
pub const USER2: &str = "bob";
pub const PASS2: &str = "dove pw 2";

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

/// The oauth2 passdb of [`Dovecot::start_oauth2`]: where and as whom Dovecot introspects
/// the bearer tokens clients send (fixtures/pop3/dovecot-oauth2.passdb.in).
#[derive(Debug, Clone)]
pub struct OAuth2Passdb {
    /// `https://127.0.0.1:PORT/introspect` (an IP: Dovecot may try ::1 for localhost).
    pub introspection_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The scope a token must carry.
    pub scope: String,
    /// Keep Dovecot's auth penalty (4-15 s delays after a failed login from 127.0.0.1).
    /// Off by default in tests: the `anvil-auth-penalty` socket is removed after start.
    pub auth_penalty: bool,
}

fn bool_word(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// fixtures/pop3/`template` with each `(placeholder, value)` replaced.
fn fill(template: &str, subst: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/pop3")
        .join(template);
    let mut text = std::fs::read_to_string(&path).expect("config template");
    for (from, to) in subst {
        text = text.replace(from, to);
    }
    text
}

/// The temp folder's contents: traversable folders, certificates (made, or copied from
/// `certs_from`), the passwd-file user and an empty Maildir owned by uid 5000.
fn prepare(root: &Path, certs_from: Option<&Path>) {
    // Dovecot's processes run as other users: the folders must be traversable.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    match certs_from {
        Some(from) => {
            for f in ["ca.pem", "server.pem", "server.key"] {
                std::fs::copy(from.join(f), root.join(f)).expect("copy a certificate file");
            }
            std::fs::set_permissions(root.join("ca.pem"), std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        None => make_certificates(root),
    }
    let passwd = root.join("passwd");
    let users = format!("{USER}:{{PLAIN}}{PASS}::::::\n{USER2}:{{PLAIN}}{PASS2}::::::\n");
    std::fs::write(&passwd, users).expect("passwd");
    std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for user in [USER, USER2] {
        let maildir = root.join("home").join(user).join("Maildir");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
    }
    chown_tree(&root.join("home"));
}

impl Dovecot {
    /// Password logins (fixtures/pop3/dovecot.conf.in), with certificates of its own.
    pub fn start(lock_session: bool) -> Dovecot {
        let dir = tempfile::tempdir().expect("tempdir");
        prepare(dir.path(), None);
        Dovecot::launch(
            dir,
            "dovecot.conf.in",
            &[("@LOCK_SESSION@", bool_word(lock_session))],
        )
    }

    /// OAuth2 logins (XOAUTH2, OAUTHBEARER; PLAIN and LOGIN with the password still work),
    /// from fixtures/pop3/dovecot-oauth2.conf.in. `certs_from` is a folder as `certs.rs`
    /// writes it (`ca.pem`, `server.pem`, `server.key`): Dovecot presents that certificate
    /// and trusts that CA for the introspection URL, so one CA file serves a client for both
    /// the identity provider and Dovecot. Without it, new certificates are made.
    pub fn start_oauth2(passdb: &OAuth2Passdb, certs_from: Option<&Path>) -> Dovecot {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        prepare(root, certs_from);
        let ext = fill(
            "dovecot-oauth2.passdb.in",
            &[
                ("@INTROSPECTION_URL@", passdb.introspection_url.as_str()),
                ("@CLIENT_ID@", passdb.client_id.as_str()),
                ("@CLIENT_SECRET@", passdb.client_secret.as_str()),
                ("@SCOPE@", passdb.scope.as_str()),
                ("@DIR@", &root.display().to_string()),
            ],
        );
        let ext_path = root.join("oauth2.conf.ext");
        std::fs::write(&ext_path, ext).expect("oauth2.conf.ext");
        std::fs::set_permissions(&ext_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let d = Dovecot::launch(dir, "dovecot-oauth2.conf.in", &[("@LOCK_SESSION@", "no")]);
        if !passdb.auth_penalty {
            d.remove_auth_penalty();
        }
        d
    }

    /// Starts `dovecot -F` on the config made from `template` (in fixtures/pop3) and waits
    /// for both listeners.
    fn launch(dir: tempfile::TempDir, template: &str, extra: &[(&str, &str)]) -> Dovecot {
        let root = dir.path();
        let pop3_port = super::common::free_port();
        let pop3s_port = super::common::free_port();
        let (p, ps) = (pop3_port.to_string(), pop3s_port.to_string());
        let root_text = root.display().to_string();
        let mut subst = vec![
            ("@DIR@", root_text.as_str()),
            ("@POP3_PORT@", p.as_str()),
            ("@POP3S_PORT@", ps.as_str()),
        ];
        subst.extend_from_slice(extra);
        let conf = root.join("dovecot.conf");
        std::fs::write(&conf, fill(template, &subst)).expect("conf");
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

    /// Turns off the auth penalty: anvil's penalty socket goes (waits for it first).
    fn remove_auth_penalty(&self) {
        let socket = self.dir.path().join("run").join("anvil-auth-penalty");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::remove_file(&socket).expect("remove anvil-auth-penalty");
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
        self.deliver_to(USER, name, raw);
    }

    /// Puts a message into `user`'s Maildir ([`USER`] or [`USER2`]).
    pub fn deliver_to(&self, user: &str, name: &str, raw: &[u8]) {
        let maildir = self.dir.path().join("home").join(user).join("Maildir");
        let path = maildir.join("new").join(name);
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
