//! The accounts file shared by `postie send` and `postie pop3`:
//! `$XDG_CONFIG_HOME/postie/config.toml` (else `~/.config/postie/config.toml`), with one
//! `[account.NAME]` table per account. Flags override what an account says; that merge is the
//! CLI layer's job. A file that holds a password must not be readable by group or others
//! (msmtp's rule): such a file is refused.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::exit::code;
use crate::secret::{PasswordSource, Secret};

/// One `[account.NAME]` table. Every field is optional; flags fill or override them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// `smtp://`, `smtps://`, `pop3://` or `pop3s://` URL.
    pub server: Option<String>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
    /// `required`, `opportunistic` or `none`.
    pub tls: Option<String>,
    pub cacert: Option<PathBuf>,
    pub insecure: Option<bool>,
    /// The client certificate (msmtp's `tls_cert_file`): PEM, or PKCS#12.
    pub tls_cert_file: Option<PathBuf>,
    /// Its key when not in the certificate file (msmtp's `tls_key_file`).
    pub tls_key_file: Option<PathBuf>,
    /// The key's pass phrase source: `env:VAR`, `file:PATH` or `command:CMD`.
    pub tls_key_password: Option<String>,
    /// `sha256//BASE64` pins (curl) or a SHA-256 certificate fingerprint `AB:CD:...`
    /// (msmtp's `tls_fingerprint`).
    pub tls_fingerprint: Option<String>,
    /// SMTP: the default `From`.
    pub from: Option<String>,
    /// SMTP, `--message` and sendmail mode: what becomes of the message's From (`keep`,
    /// `envelope`, `account`; msmtp's `set_from_header`), as `--from-policy`.
    pub from_policy: Option<String>,
    /// SMTP: msmtp's aliases file, for recipients without an `@` (`root: admin@example.org`).
    pub aliases: Option<PathBuf>,
    /// SMTP: append one line per message sent (or failed) to this file (msmtp's `logfile`).
    pub log: Option<PathBuf>,
    /// SMTP: send that line to the local syslog too (facility mail).
    pub syslog: Option<bool>,
    /// SMTP: the SASL mechanism (`plain`, `login`, `xoauth2`); POP3: the auth method;
    /// `oauth2` for both: tokens from `postie oauth login` (see the `oauth_*` keys).
    pub auth: Option<String>,
    pub helo: Option<String>,
    pub timeout: Option<u64>,
    /// So one account can serve both subcommands: `postie pop3` uses `pop3_server` before
    /// `server`, `postie send` uses `smtp_server` before `server`.
    pub pop3_server: Option<String>,
    pub smtp_server: Option<String>,
    /// `pop3 pull`: where this account's messages go when `--out` is not given (mpop's
    /// `delivery`), and in which format (`maildir`, `eml` or `mbox`; default maildir).
    pub pop3_out: Option<PathBuf>,
    pub pop3_format: Option<String>,
    /// `pop3 pull`: pipe each message to this command instead (mpop's `delivery mda`; `%F`
    /// is the envelope sender). Used when neither `--out` nor `--mda` is given.
    pub pop3_mda: Option<String>,
    /// OAuth2 (with `auth = "oauth2"`): `google`, `microsoft` or `custom`.
    pub oauth_provider: Option<String>,
    /// The client id of the app the user registered with the provider.
    pub oauth_client_id: Option<String>,
    /// The client secret, when the registration has one (allowed only in a private file).
    pub oauth_client_secret: Option<Secret>,
    /// A command printing the client secret (its first line).
    pub oauth_client_secret_command: Option<String>,
    /// The scopes to ask for: a list, or one space-separated string.
    #[serde(default, deserialize_with = "scopes")]
    pub oauth_scopes: Option<Vec<String>>,
    /// Microsoft's tenant (default `common`).
    pub oauth_tenant: Option<String>,
    /// The provider's endpoints (required for `custom`; they override the built-in ones).
    pub oauth_auth_url: Option<String>,
    pub oauth_token_url: Option<String>,
    pub oauth_device_url: Option<String>,
    pub oauth_revoke_url: Option<String>,
    /// Keep the tokens with commands instead of postie's token file: this one prints the
    /// stored record (or a refresh token)...
    pub oauth_token_command: Option<String>,
    /// ...and this one reads the new record on stdin.
    pub oauth_token_store_command: Option<String>,
    /// SMTP: sign with this DKIM private key (PEM; mode 0600), for `dkim_domain` (d=) and
    /// `dkim_selector` (s=); `--dkim-key`, `--dkim-domain`, `--dkim-selector` override.
    pub dkim_key: Option<PathBuf>,
    pub dkim_domain: Option<String>,
    pub dkim_selector: Option<String>,
}

/// `oauth_scopes`: a TOML array of strings, or one string of space-separated scopes.
fn scopes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scopes {
        One(String),
        Many(Vec<String>),
    }
    Ok(Some(match Scopes::deserialize(d)? {
        Scopes::One(s) => s.split_whitespace().map(str::to_owned).collect(),
        Scopes::Many(v) => v,
    }))
}

impl Account {
    /// The password source this account names, if any (at most one may be named).
    pub fn password_source(&self) -> Option<PasswordSource> {
        if let Some(var) = &self.password_env {
            return Some(PasswordSource::Env(var.clone()));
        }
        if let Some(path) = &self.password_file {
            return Some(PasswordSource::File(path.clone()));
        }
        if let Some(cmd) = &self.password_command {
            return Some(PasswordSource::Command(cmd.clone()));
        }
        self.password.clone().map(PasswordSource::Literal)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    account: BTreeMap<String, Account>,
}

/// Errors reading the accounts file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--account {name}: no config file (looked for {})", path.display())]
    Missing { name: String, path: PathBuf },
    #[error("--account: no config file location ($XDG_CONFIG_HOME and $HOME are unset)")]
    NoLocation,
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: {why}", path.display())]
    Parse { path: PathBuf, why: String },
    #[error("--account {name}: no [account.{name}] in {}", path.display())]
    UnknownAccount { name: String, path: PathBuf },
    /// Not in postie's file (or no such file), nor in the msmtp/mpop file looked at next.
    #[error("--account {name}: not in {} (no such file or account), nor in {}", path.display(), rc.display())]
    NotFound {
        name: String,
        path: PathBuf,
        rc: PathBuf,
    },
    #[error(
        "{}: holds a password but is readable by others (mode {mode:o}); run: chmod 600 {}",
        path.display(), path.display()
    )]
    UnsafePermissions { path: PathBuf, mode: u32 },
    #[error(
        "--account {name}: more than one password source (password, password_env, password_file, password_command)"
    )]
    SeveralPasswordSources { name: String },
    /// Settings that do not go together, or a required one missing (the OAuth2 keys).
    #[error("--account {name}: {why}")]
    Invalid { name: String, why: String },
}

impl ConfigError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ConfigError::Read { .. } => code::READ,
            _ => code::CONFIG,
        }
    }
}

/// Where the accounts file is: `$XDG_CONFIG_HOME/postie/config.toml`, else
/// `$HOME/.config/postie/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    xdg_base("XDG_CONFIG_HOME", ".config").map(|base| base.join("postie").join("config.toml"))
}

/// An XDG base folder: `$VAR` when set and not empty, else `$HOME/<under_home>`.
pub fn xdg_base(var: &str, under_home: &str) -> Option<PathBuf> {
    let non_empty = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    non_empty(var).or_else(|| non_empty("HOME").map(|h| h.join(under_home)))
}

/// Loads account `name` from the default accounts file.
pub fn load_account(name: &str) -> Result<Account, ConfigError> {
    let path = default_path().ok_or(ConfigError::NoLocation)?;
    load_account_from(&path, name)
}

/// Loads account `name` from `path`.
pub fn load_account_from(path: &Path, name: &str) -> Result<Account, ConfigError> {
    let accounts = load_all_from(path, name)?;
    let account = accounts
        .get(name)
        .cloned()
        .ok_or_else(|| ConfigError::UnknownAccount {
            name: name.to_owned(),
            path: path.to_owned(),
        })?;
    check_sources(name, &account)?;
    Ok(account)
}

/// Every account of the file at `path`, by name (`name`: what the caller looks for, for the
/// message when the file is missing). Permissions are checked as for one account.
pub fn load_all_from(path: &Path, name: &str) -> Result<BTreeMap<String, Account>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ConfigError::Missing {
                name: name.to_owned(),
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let file: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        why: describe_toml_error(&text, &e),
    })?;
    if file
        .account
        .values()
        .any(|a| a.password.is_some() || a.oauth_client_secret.is_some())
    {
        check_private(path)?;
    }
    Ok(file.account)
}

/// At most one password source per account.
pub fn check_sources(name: &str, account: &Account) -> Result<(), ConfigError> {
    let sources = [
        account.password.is_some(),
        account.password_env.is_some(),
        account.password_file.is_some(),
        account.password_command.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        return Err(ConfigError::SeveralPasswordSources {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A TOML error without any text of the file: `line L, column C: MESSAGE`. toml's own
/// rendering quotes the offending line, and serde's type errors quote the value (`invalid
/// type: string "hunter2", expected a boolean`): in an accounts file either can be a
/// password. So the line is never shown, and a quoted value becomes its kind (`string`).
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = without_values(e.message().trim()).replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// serde's `invalid type: KIND VALUE, expected ...` and `invalid value: ...` with the value
/// left out (`KIND` is a word or two: `string`, `integer`, `floating point`, ...). For
/// messages about files that hold secrets (accounts, cookies).
pub fn without_values(message: &str) -> String {
    for lead in ["invalid type: ", "invalid value: "] {
        let Some(start) = message.find(lead).map(|i| i + lead.len()) else {
            continue;
        };
        let rest = &message[start..];
        let end = rest.find(", expected").unwrap_or(rest.len());
        let unexpected = &rest[..end];
        let kind = unexpected
            .find(['"', '`', '\''])
            .map_or(unexpected, |q| &unexpected[..q])
            .trim_end();
        return format!("{}{kind}{}", &message[..start], &rest[end..]);
    }
    message.to_owned()
}

fn check_private(path: &Path) -> Result<(), ConfigError> {
    match shared_mode(path) {
        Ok(None) => Ok(()),
        Ok(Some(mode)) => Err(ConfigError::UnsafePermissions {
            path: path.to_owned(),
            mode,
        }),
        Err(source) => Err(ConfigError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The permission bits of `path` when group or others may read or write it (a file holding a
/// password must not be), else None.
pub fn shared_mode(path: &Path) -> io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("config.toml");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn loads_an_account_and_its_password_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "[account.work]\nserver = \"smtps://mail.example\"\nuser = \"me\"\npassword_env = \"PW\"\n",
            0o644,
        );
        let a = load_account_from(&path, "work").expect("load");
        assert_eq!(a.server.as_deref(), Some("smtps://mail.example"));
        assert_eq!(a.password_source(), Some(PasswordSource::Env("PW".into())));
        assert!(matches!(
            load_account_from(&path, "home"),
            Err(ConfigError::UnknownAccount { .. })
        ));
    }

    #[test]
    fn a_readable_file_with_a_password_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "[account.a]\npassword = \"x\"\n";
        let path = write(dir.path(), text, 0o644);
        let err = load_account_from(&path, "a").expect_err("refused");
        assert!(
            matches!(err, ConfigError::UnsafePermissions { .. }),
            "{err}"
        );
        assert_eq!(err.exit_code(), code::CONFIG);
        let path = write(dir.path(), text, 0o600);
        assert!(load_account_from(&path, "a").is_ok());
    }

    #[test]
    fn oauth_settings_are_read_and_a_client_secret_needs_a_private_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "[account.g]\nauth = \"oauth2\"\noauth_provider = \"google\"\n\
                    oauth_client_id = \"cid\"\noauth_scopes = [\"a\", \"b\"]\n\
                    [account.m]\noauth_scopes = \"x y\"\n";
        let path = write(dir.path(), text, 0o644);
        let g = load_account_from(&path, "g").expect("load");
        assert_eq!(g.oauth_client_id.as_deref(), Some("cid"));
        assert_eq!(g.oauth_scopes, Some(vec!["a".into(), "b".into()]));
        let m = load_account_from(&path, "m").expect("load");
        assert_eq!(m.oauth_scopes, Some(vec!["x".into(), "y".into()]));
        let path = write(
            dir.path(),
            "[account.g]\noauth_client_secret = \"s\"\n",
            0o644,
        );
        assert!(matches!(
            load_account_from(&path, "g"),
            Err(ConfigError::UnsafePermissions { .. })
        ));
    }

    #[test]
    fn unknown_keys_and_two_sources_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "[account.a]\nservr = \"x\"\n", 0o600);
        assert!(matches!(
            load_account_from(&path, "a"),
            Err(ConfigError::Parse { .. })
        ));
        let path = write(
            dir.path(),
            "[account.a]\npassword_env = \"A\"\npassword_file = \"/f\"\n",
            0o600,
        );
        assert!(matches!(
            load_account_from(&path, "a"),
            Err(ConfigError::SeveralPasswordSources { .. })
        ));
    }

    /// No form of TOML error shows the file's text: an unfinished string, a password of the
    /// wrong type, a value of the wrong type, a syntax error on the password's line.
    #[test]
    fn toml_errors_never_show_the_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (text, line) in [
            ("[account.a]\nuser = \"me\"\npassword = \"hunter2\n", 3),
            ("[account.a]\npassword = 'hunter2' x\n", 2),
            ("[account.a]\npassword = 1234567890\n", 2),
            ("[account.a]\npassword = hunter2\n", 2),
            ("[account.a]\ninsecure = \"hunter2\"\n", 2),
            ("[account.a]\ntimeout = \"1234567890\"\n", 2),
            ("[account.a]\npassword = [\"hunter2\", 1234567890]\n", 2),
        ] {
            let path = write(dir.path(), text, 0o600);
            let err = load_account_from(&path, "a").expect_err("bad TOML");
            let shown = err.to_string();
            assert!(matches!(err, ConfigError::Parse { .. }), "{shown}");
            assert!(
                !shown.contains("hunter2") && !shown.contains("1234567890"),
                "{text:?} gave {shown}"
            );
            assert!(shown.contains(&format!("line {line}, column ")), "{shown}");
            assert!(!shown.contains('\n'), "one line: {shown}");
        }
        let path = write(dir.path(), "[account.a]\ninsecure = \"x\"\n", 0o600);
        let shown = load_account_from(&path, "a").expect_err("bad").to_string();
        assert!(
            shown.ends_with("line 2, column 12: invalid type: string, expected a boolean"),
            "{shown}"
        );
    }
}
