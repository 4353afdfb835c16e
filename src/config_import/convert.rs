//! One msmtp or mpop account as a postie [`Account`]: the keys that map, and a warning naming
//! each one that does not (never silently ignored).

use std::path::{Path, PathBuf};

use super::{Flavor, RcAccount, Setting};
use crate::config::Account;
use crate::secret::Secret;

/// A converted account and what could not be carried over, in line order.
#[derive(Debug, Clone)]
pub struct Converted {
    pub account: Account,
    pub warnings: Vec<Warning>,
}

/// A setting postie did not apply, and why: shown as `line N: TEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub text: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.text)
    }
}

impl Converted {
    fn warn(&mut self, line: usize, text: String) {
        self.warnings.push(Warning { line, text });
    }
}

/// The SASL/auth methods postie has for each protocol (lower case, as msmtp and mpop write).
const SMTP_AUTH: &[&str] = &["plain", "login", "xoauth2", "oauthbearer"];
const POP3_AUTH: &[&str] = &[
    "plain",
    "login",
    "cram-md5",
    "xoauth2",
    "oauthbearer",
    "user",
    "apop",
];

/// Keys [`server`] reads (with their values checked there).
const SERVER_KEYS: &[&str] = &["host", "port", "tls", "tls_starttls"];

/// `account` as postie would use it. `home` replaces a leading `~` in file names.
pub fn convert(flavor: Flavor, account: &RcAccount, home: Option<&Path>) -> Converted {
    let mut out = Converted {
        account: Account::default(),
        warnings: Vec::new(),
    };
    server(flavor, account, &mut out);
    for s in account.effective() {
        if !SERVER_KEYS.contains(&s.key.as_str()) {
            setting(flavor, s, home, &mut out);
        }
    }
    let a = &mut out.account;
    if a.auth.as_deref() == Some("off") {
        // msmtp's `auth off`: no AUTH even with a user; postie skips AUTH without one.
        (a.auth, a.user, a.password, a.password_command) = (None, None, None, None);
    }
    if a.password.is_some() && a.password_command.is_some() {
        a.password = None;
        let line = account.get("password").map_or(0, |s| s.line);
        let why = "password is ignored: passwordeval is used (postie takes one source)";
        out.warn(line, why.into());
    }
    out.warnings.sort_by_key(|w| w.line);
    out
}

/// `on`, `off`, or nothing (msmtp: an empty argument means `on`).
fn on_off(value: &str) -> Option<bool> {
    match value {
        "" | "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

fn warn_value(s: &Setting, expected: &str, out: &mut Converted) {
    out.warn(s.line, format!("{} takes {expected}; ignored", s.key));
}

/// A boolean key's value, else `default` (with a warning when it is neither on nor off).
fn flag(account: &RcAccount, key: &str, default: bool, out: &mut Converted) -> bool {
    let Some(s) = account.get(key) else {
        return default;
    };
    on_off(&s.value).unwrap_or_else(|| {
        warn_value(s, "on or off", out);
        default
    })
}

/// host, port, tls, tls_starttls into a URL (and `tls = "none"` for a plain connection).
/// Defaults: msmtp's `tls` is off, mpop's on (since mpop 1.4); `tls_starttls` is on; the port
/// is msmtp's 25 (465 for TLS without STARTTLS), mpop's 110 (995).
fn server(flavor: Flavor, account: &RcAccount, out: &mut Converted) {
    let tls = flag(account, "tls", flavor == Flavor::Mpop, out);
    let starttls = flag(account, "tls_starttls", true, out);
    let implicit = tls && !starttls;
    let (scheme, default_port) = match (flavor, implicit) {
        (Flavor::Msmtp, false) => ("smtp", 25),
        (Flavor::Msmtp, true) => ("smtps", 465),
        (Flavor::Mpop, false) => ("pop3", 110),
        (Flavor::Mpop, true) => ("pop3s", 995),
    };
    let port = match account.get("port") {
        Some(s) => s.value.parse::<u16>().ok().filter(|p| *p > 0).or_else(|| {
            warn_value(s, "a port number", out);
            None
        }),
        None => None,
    };
    let Some(host) = account.get("host").map(|s| s.value.as_str()) else {
        return;
    };
    let host = match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_owned(),
    };
    let url = format!("{scheme}://{host}:{}", port.unwrap_or(default_port));
    match flavor {
        Flavor::Msmtp => out.account.smtp_server = Some(url),
        Flavor::Mpop => out.account.pop3_server = Some(url),
    }
    if !tls {
        out.account.tls = Some("none".into());
    }
}

/// `~/x` with the home folder (msmtp and mpop expand it in file names).
fn file(value: &str, home: Option<&Path>) -> PathBuf {
    match (value.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(value),
    }
}

/// One key other than the server's.
fn setting(flavor: Flavor, s: &Setting, home: Option<&Path>, out: &mut Converted) {
    let a = &mut out.account;
    let v = s.value.clone();
    match (flavor, s.key.as_str()) {
        (_, "user") => a.user = Some(v),
        (_, "password") => a.password = Some(Secret::new(v)),
        (_, "passwordeval") => a.password_command = Some(v),
        (_, "tls_trust_file") if v == "system" || v.is_empty() => {}
        (_, "tls_trust_file") => a.cacert = Some(file(&v, home)),
        (_, "tls_cert_file") => a.tls_cert_file = Some(file(&v, home)),
        (_, "tls_key_file") => a.tls_key_file = Some(file(&v, home)),
        (_, "tls_fingerprint") => a.tls_fingerprint = Some(v),
        (_, "tls_certcheck") => match on_off(&v) {
            Some(check) => a.insecure = (!check).then_some(true),
            None => warn_value(s, "on or off", out),
        },
        (_, "timeout") => timeout(s, out),
        (_, "auth") => auth(flavor, s, out),
        (Flavor::Msmtp, "from") => a.from = Some(v),
        (Flavor::Msmtp, "domain") => a.helo = Some(v),
        (Flavor::Msmtp, "aliases") => a.aliases = Some(file(&v, home)),
        (Flavor::Msmtp, "logfile") if v.is_empty() => a.log = None,
        (Flavor::Msmtp, "logfile") => a.log = Some(file(&v, home)),
        (Flavor::Msmtp, "syslog") => a.syslog = Some(v != "off"),
        (Flavor::Msmtp, "set_from_header") => set_from_header(s, out),
        (Flavor::Msmtp, "protocol") if v == "smtp" => {}
        (Flavor::Mpop, "delivery") => delivery(s, home, out),
        (Flavor::Mpop, "keep") if on_off(&v) == Some(true) => {}
        (Flavor::Mpop, "keep") => out.warn(
            s.line,
            format!(
                "keep {v} is not applied: postie keeps messages on the server unless \
                 `pop3 pull --delete` is given"
            ),
        ),
        (_, key) => out.warn(s.line, format!("{key} is not supported by postie; ignored")),
    }
}

/// msmtp's `set_from_header`: `on` replaces From with the account's `from` (postie's
/// `from_policy = "account"`); `auto` (msmtp's default) and `off` keep it (postie adds a
/// missing From either way, as `auto` does).
fn set_from_header(s: &Setting, out: &mut Converted) {
    match s.value.as_str() {
        "on" => out.account.from_policy = Some("account".into()),
        "auto" | "off" => out.account.from_policy = Some("keep".into()),
        _ => warn_value(s, "on, off or auto", out),
    }
}

fn timeout(s: &Setting, out: &mut Converted) {
    match s.value.as_str() {
        "off" => out.account.timeout = None,
        v => match v.parse::<u64>() {
            Ok(secs) if secs > 0 => out.account.timeout = Some(secs),
            _ => warn_value(s, "seconds or off", out),
        },
    }
}

/// `auth on` (or nothing): postie's automatic choice; `auth off` (msmtp): no AUTH, so no user
/// either; a named method postie has: that method; another: a warning, and automatic.
fn auth(flavor: Flavor, s: &Setting, out: &mut Converted) {
    let method = s.value.to_ascii_lowercase();
    let known = match flavor {
        Flavor::Msmtp => SMTP_AUTH,
        Flavor::Mpop => POP3_AUTH,
    };
    match method.as_str() {
        "" | "on" => out.account.auth = None,
        "off" if flavor == Flavor::Msmtp => out.account.auth = Some("off".into()),
        m if known.contains(&m) => out.account.auth = Some(method),
        m => out.warn(
            s.line,
            format!("auth {m} is not supported by postie; the automatic choice is used"),
        ),
    }
}

/// mpop's `delivery maildir PATH`, `delivery mbox PATH` and `delivery mda COMMAND`
/// (`pop3_mda`; double quotes around the command, as mpop's example writes it, are already
/// gone: the reader drops them as mpop's does); `exchange` has no postie equivalent. The last one wins.
fn delivery(s: &Setting, home: Option<&Path>, out: &mut Converted) {
    let (kind, path) = s
        .value
        .split_once(char::is_whitespace)
        .unwrap_or((&s.value, ""));
    let path = path.trim();
    match kind {
        "maildir" | "mbox" if !path.is_empty() => {
            out.account.pop3_out = Some(file(path, home));
            out.account.pop3_format = Some(kind.to_owned());
            out.account.pop3_mda = None;
        }
        "mda" if !path.is_empty() => {
            out.account.pop3_mda = Some(path.to_owned());
            out.account.pop3_out = None;
            out.account.pop3_format = None;
        }
        "maildir" | "mbox" | "mda" => warn_value(s, "a method and a path or command", out),
        other => out.warn(
            s.line,
            format!(
                "delivery {other} is not supported by postie (maildir, mbox and mda are); \
                 give pop3 pull --out"
            ),
        ),
    }
}
