//! A Postfix instance of our own for the interop tests: `postfix -c DIR start` with its own
//! config folder on free 127.0.0.1 ports, a submission listener (STARTTLS required, SASL
//! PLAIN/LOGIN via Cyrus sasldb) and a strict listener (`smtpd_forbid_bare_newline =
//! reject`, no exclusions), virtual Maildir delivery for bob@ and carol@example.org. The
//! delivered files are read back by Python's email package. Stopped by Drop, even on panic.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::smtp_peers::Certs;

/// The uid/gid that owns delivered mail (no passwd entry needed).
const VMAIL_ID: u32 = 5000;

/// True when running as root (Postfix's master and its chown/setgid steps need it).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// True when everything the harness needs is installed and we run as root.
pub fn available() -> bool {
    is_root()
        && ["postfix", "saslpasswd2", "openssl", "python3"]
            .iter()
            .all(|p| crate::common::which(p).is_some())
        && Path::new("/usr/lib/postfix/sbin/master").exists()
}

pub struct Postfix {
    dir: tempfile::TempDir,
    pub submission_port: u16,
    pub strict_port: u16,
}

fn write(path: PathBuf, text: &str) {
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn chown_r(path: &Path, owner: &str) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(owner)
        .arg(path)
        .status()
        .expect("chown runs");
    assert!(st.success(), "chown {owner} {}", path.display());
}

fn postfix(dir: &Path, action: &str) -> std::process::Output {
    Command::new(crate::common::which("postfix").expect("postfix"))
        .arg("-c")
        .arg(dir)
        .arg(action)
        .stdin(Stdio::null())
        .output()
        .expect("postfix runs")
}

impl Postfix {
    pub fn start(certs: &Certs, user: &str, password: &str) -> Postfix {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        make_dirs(d, certs);
        let submission_port = crate::common::free_port();
        let strict_port = crate::common::free_port();
        write(d.join("main.cf"), &main_cf(d));
        write(
            d.join("master.cf"),
            &master_cf(submission_port, strict_port),
        );
        write(
            d.join("vmailbox"),
            "bob@example.org example.org/bob/\ncarol@example.org example.org/carol/\n",
        );
        make_sasl_db(d, user, password);
        start_instance(Postfix {
            dir,
            submission_port,
            strict_port,
        })
    }
    pub fn submission_url(&self) -> String {
        format!("smtp://localhost:{}", self.submission_port)
    }

    pub fn strict_url(&self) -> String {
        format!("smtp://localhost:{}", self.strict_port)
    }

    /// The files delivered to `user` so far, as Postfix wrote them (LF line ends, its
    /// Return-Path, Delivered-To and Received fields first).
    pub fn delivered_raw(&self, user: &str) -> Vec<Vec<u8>> {
        let new = self
            .dir
            .path()
            .join("mail/example.org")
            .join(user)
            .join("new");
        let mut names: Vec<PathBuf> = std::fs::read_dir(new)
            .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.sort();
        names.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    /// Sets main.cf parameters (`"name = value"`) with postconf and reloads the instance.
    pub fn postconf(&self, settings: &[&str]) {
        let st = Command::new(crate::common::which("postconf").expect("postconf"))
            .arg("-c")
            .arg(self.dir.path())
            .arg("-e")
            .args(settings)
            .status()
            .expect("postconf runs");
        assert!(st.success(), "postconf -e {settings:?}");
        let out = postfix(self.dir.path(), "reload");
        assert!(out.status.success(), "postfix reload: {out:?}");
        // The master re-reads main.cf and new smtpd processes take it; wait for it to log.
        std::thread::sleep(Duration::from_millis(1500));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Waits until each of `users` has `count` messages, then returns the facts Python's
    /// email package reads from every delivered file: user, subject, to, cc and each
    /// attachment's name and SHA-256.
    pub fn wait_for_delivery(
        &self,
        users: &[&str],
        count: usize,
        limit: Duration,
    ) -> Vec<serde_json::Value> {
        let base = self.dir.path().join("mail/example.org");
        let deadline = Instant::now() + limit;
        loop {
            let done = users.iter().all(|u| {
                std::fs::read_dir(base.join(u).join("new")).map_or(0, |r| r.count()) >= count
            });
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no delivery in time:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let script = r#"
import email, email.policy, hashlib, json, os, sys
base = sys.argv[1]
for user in sorted(os.listdir(base)):
    new = os.path.join(base, user, "new")
    for name in sorted(os.listdir(new)):
        with open(os.path.join(new, name), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        atts = [{"name": p.get_filename(), "sha256": hashlib.sha256(p.get_payload(decode=True) or b"").hexdigest()}
                for p in msg.iter_attachments()]
        print(json.dumps({"user": user, "subject": str(msg["subject"]), "to": str(msg["to"]),
                          "cc": str(msg["cc"]), "attachments": atts}))
"#;
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&base)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "python: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON from python"))
            .collect()
    }
}

/// The instance's folders (queue, data, mail, sasl, tls) with their owners, and its
/// certificate and key.
fn make_dirs(d: &Path, certs: &Certs) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for sub in ["queue", "data", "mail", "sasl", "tls"] {
        std::fs::create_dir_all(d.join(sub)).expect("mkdir");
    }
    chown_r(&d.join("data"), "postfix:postfix");
    chown_r(&d.join("mail"), &format!("{VMAIL_ID}:{VMAIL_ID}"));
    std::fs::copy(&certs.cert, d.join("tls/cert.pem")).expect("copy cert");
    std::fs::copy(&certs.key, d.join("tls/key.pem")).expect("copy key");
}

/// main.cf: a local-only instance that delivers example.org to virtual mailboxes.
fn main_cf(d: &Path) -> String {
    let dp = d.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {dp}/queue
data_directory = {dp}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postie.test
mydomain = postie.test
myorigin = $myhostname
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
smtputf8_enable = no
maillog_file = {dp}/maillog
maillog_file_prefixes = {dp}
message_size_limit = 52428800
virtual_mailbox_limit = 104857600
virtual_mailbox_domains = example.org
virtual_mailbox_base = {dp}/mail
virtual_mailbox_maps = texthash:{dp}/vmailbox
virtual_minimum_uid = 100
virtual_uid_maps = static:{VMAIL_ID}
virtual_gid_maps = static:{VMAIL_ID}
smtpd_tls_cert_file = {dp}/tls/cert.pem
smtpd_tls_key_file = {dp}/tls/key.pem
smtpd_tls_security_level = may
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {dp}/sasl
smtpd_sasl_local_domain = postie.test
smtpd_sasl_auth_enable = no
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination
delay_warning_time = 0
"
    )
}

/// master.cf: the submission port (TLS and AUTH required), the strict port (bare LF
/// refused), and the services postfix needs.
fn master_cf(submission_port: u16, strict_port: u16) -> String {
    let mut master = String::new();
    master.push_str(&format!(
        "127.0.0.1:{submission_port} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes -o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject\n"
    ));
    master.push_str(&format!(
        "127.0.0.1:{strict_port} inet n - n - - smtpd -o smtpd_forbid_bare_newline=reject -o smtpd_forbid_bare_newline_exclusions=\n"
    ));
    // Debian's master.cf services, none chrooted (service type private unpriv chroot
    // wakeup maxproc command).
    master.push_str(
        "pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
",
    );
    master
}

/// The SASL database with `user`'s password, and the Cyrus config that points at it.
fn make_sasl_db(d: &Path, user: &str, password: &str) {
    let dp = d.display();
    write(
        d.join("sasl/smtpd.conf"),
        &format!(
            "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {dp}/sasl/sasldb2\n"
        ),
    );
    let mut child = Command::new(crate::common::which("saslpasswd2").expect("saslpasswd2"))
        .args(["-p", "-c", "-f"])
        .arg(d.join("sasl/sasldb2"))
        .args(["-u", "postie.test", user])
        .stdin(Stdio::piped())
        .spawn()
        .expect("saslpasswd2 runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(password.as_bytes())
            .expect("write password");
    }
    assert!(child.wait().expect("wait").success(), "saslpasswd2");
    chown_r(&d.join("sasl"), "postfix:postfix");
}

/// Starts `pf` and waits until both its ports listen.
fn start_instance(pf: Postfix) -> Postfix {
    let (submission_port, strict_port) = (pf.submission_port, pf.strict_port);
    let out = postfix(pf.dir.path(), "start");
    assert!(
        out.status.success(),
        "postfix start: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        pf.log()
    );
    for port in [submission_port, strict_port] {
        assert!(
            crate::common::wait_for_port(port, 20),
            "postfix is not listening on {port}: {}",
            pf.log()
        );
    }
    pf
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = postfix(self.dir.path(), "stop");
        // Wait for the master to go (its pid file stays behind), so the folder can be
        // removed; kill it if it lingers.
        let pid = std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid"))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        if let Some(pid) = pid {
            let proc = PathBuf::from(format!("/proc/{pid}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while proc.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if proc.exists() {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}
