//! Secrets that never print, and where passwords come from.
//!
//! [`Secret`] holds a password or token; its `Debug` shows `(redacted)` and it has no
//! `Display`, so it cannot end up in a log line or an error message by accident.
//! [`resolve_password`] finds a password the way msmtp and curl users expect: an explicit
//! source (environment variable, file, command), then `~/.netrc`, then a prompt without echo
//! when stdin is a terminal. Passwords are never taken from argv by this module.
//! It does not know about accounts (see `config`) or protocols.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::exit::code;
use crate::netrc::Netrc;

pub mod value;

pub use value::Secret;

/// An explicit password source named by a flag or an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// `--password-env VAR`
    Env(String),
    /// `--password-file FILE`: its first line.
    File(PathBuf),
    /// `--password-command CMD`: the first line it prints (run with `sh -c`), as msmtp's
    /// `passwordeval`.
    Command(String),
    /// A password written in the accounts file (allowed only when the file is private).
    Literal(Secret),
}

/// Errors while finding a password.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("--password-env {var}: the variable is not set")]
    EnvMissing { var: String },
    #[error("--password-file {}: {source}", path.display())]
    FileRead { path: PathBuf, source: io::Error },
    #[error("--password-command {command:?}: {why}")]
    Command { command: String, why: String },
    #[error("{what}: the password is empty")]
    Empty { what: String },
    #[error(
        "no password for {user}@{host}: give --password-env, --password-file, \
         --password-command or a ~/.netrc entry, or run on a terminal to be asked"
    )]
    NoSource { user: String, host: String },
    #[error("password prompt: {0}")]
    Prompt(io::Error),
    #[error(
        "{what} contains a control character (CR, LF, NUL or ^A) that would break the protocol"
    )]
    ForbiddenChar { what: &'static str },
    /// A failure reading a token, worded for the token's own flags.
    #[error("{why}")]
    Token { why: String, code: u8 },
}

impl SecretError {
    pub fn exit_code(&self) -> u8 {
        match self {
            SecretError::FileRead { .. } => code::READ,
            SecretError::ForbiddenChar { .. } => code::USAGE,
            SecretError::Token { code, .. } => *code,
            _ => code::CONFIG,
        }
    }
}

/// Where to look for a password, in order.
#[derive(Debug, Clone, Default)]
pub struct PasswordLookup {
    /// An explicit source; when set, nothing else is tried.
    pub source: Option<PasswordSource>,
    /// The `.netrc` to consult (None: `~/.netrc`; a missing file is not an error).
    pub netrc_file: Option<PathBuf>,
    /// Ask on the terminal when nothing else gave a password and stdin is a terminal.
    pub allow_prompt: bool,
}

/// Finds the password of `user` at `host` (the `.netrc` machine name).
pub fn resolve_password(
    lookup: &PasswordLookup,
    host: &str,
    user: &str,
) -> Result<Secret, SecretError> {
    let secret = match &lookup.source {
        Some(source) => from_source(source)?,
        None => match netrc_password(lookup.netrc_file.as_deref(), host, user) {
            Some(secret) => secret,
            None if lookup.allow_prompt && io::stdin().is_terminal() => prompt(user, host)?,
            None => {
                return Err(SecretError::NoSource {
                    user: user.to_owned(),
                    host: host.to_owned(),
                });
            }
        },
    };
    check_credential("password", secret.expose())?;
    Ok(secret)
}

/// Reads a password from an explicit source.
pub fn from_source(source: &PasswordSource) -> Result<Secret, SecretError> {
    let (what, value) = match source {
        PasswordSource::Env(var) => {
            let value =
                std::env::var(var).map_err(|_| SecretError::EnvMissing { var: var.clone() })?;
            (format!("--password-env {var}"), value)
        }
        PasswordSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| SecretError::FileRead {
                path: path.clone(),
                source,
            })?;
            (
                format!("--password-file {}", path.display()),
                first_line(&text).to_owned(),
            )
        }
        PasswordSource::Command(command) => (
            format!("--password-command {command:?}"),
            run_command(command)?,
        ),
        PasswordSource::Literal(secret) => (
            "the accounts file's password".to_owned(),
            secret.expose().to_owned(),
        ),
    };
    if value.is_empty() {
        return Err(SecretError::Empty { what });
    }
    Ok(Secret::new(value))
}

/// A token (not a password) from an explicit source: as [`from_source`], with the errors
/// naming the flags that start with `flag_prefix` (`--bearer-` names `--bearer-env` ...).
pub fn token_from_source(
    source: &PasswordSource,
    flag_prefix: &str,
) -> Result<Secret, SecretError> {
    from_source(source).map_err(|e| SecretError::Token {
        why: e
            .to_string()
            .replace("--password-", flag_prefix)
            .replace("the password", "the token"),
        code: e.exit_code(),
    })
}

fn run_command(command: &str) -> Result<String, SecretError> {
    let err = |why: String| SecretError::Command {
        command: command.to_owned(),
        why,
    };
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| err(e.to_string()))?;
    if !output.status.success() {
        return Err(err(format!("exited with {}", output.status)));
    }
    let text = String::from_utf8(output.stdout)
        .map_err(|_| err("printed something that is not UTF-8".into()))?;
    Ok(first_line(&text).to_owned())
}

fn first_line(text: &str) -> &str {
    let line = text.split('\n').next().unwrap_or("");
    line.strip_suffix('\r').unwrap_or(line)
}

fn netrc_password(file: Option<&Path>, host: &str, user: &str) -> Option<Secret> {
    let netrc = match file {
        Some(path) => Netrc::load(path).ok()??,
        None => Netrc::load(&crate::netrc::default_path()?).ok()??,
    };
    let entry = netrc.find(host, Some(user))?;
    entry.password.clone()
}

fn prompt(user: &str, host: &str) -> Result<Secret, SecretError> {
    let text = rpassword::prompt_password(format!("Password for {user}@{host}: "))
        .map_err(SecretError::Prompt)?;
    Ok(Secret::new(text))
}

/// Rejects a user name that would break a protocol line (CR, LF, NUL) or the framing of the
/// OAuth2 SASL mechanisms, whose fields are separated by ^A (0x01).
pub fn check_user_name(value: &str) -> Result<(), SecretError> {
    check_credential("user name", value)?;
    if value.contains('\x01') {
        return Err(SecretError::ForbiddenChar { what: "user name" });
    }
    Ok(())
}

/// Rejects CR, LF and NUL in a user name or password before it reaches a protocol line.
pub fn check_credential(what: &'static str, value: &str) -> Result<(), SecretError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(SecretError::ForbiddenChar { what });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "(redacted)");
        assert_eq!(format!("{:?}", Some(&s)), "Some((redacted))");
    }

    #[test]
    fn file_source_takes_the_first_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\r\nignored\n").expect("write");
        let got = from_source(&PasswordSource::File(path)).expect("read");
        assert_eq!(got.expose(), "s3cret");
    }

    #[test]
    fn command_source_takes_its_first_line_and_reports_failure() {
        let got =
            from_source(&PasswordSource::Command("printf 'abc\\ndef\\n'".into())).expect("run");
        assert_eq!(got.expose(), "abc");
        let err = from_source(&PasswordSource::Command("exit 3".into())).expect_err("fails");
        assert!(err.to_string().contains("exited with"), "{err}");
    }

    #[test]
    fn empty_and_missing_sources_are_errors() {
        let err = from_source(&PasswordSource::Env("POSTIE_TEST_SURELY_UNSET".into()))
            .expect_err("unset");
        assert!(matches!(err, SecretError::EnvMissing { .. }));
        let err = from_source(&PasswordSource::Command("true".into())).expect_err("empty");
        assert!(matches!(err, SecretError::Empty { .. }));
    }

    #[test]
    fn netrc_is_consulted_when_no_source_is_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("netrc");
        std::fs::write(&path, "machine mail.example login bob password pw1\n").expect("write");
        let lookup = PasswordLookup {
            source: None,
            netrc_file: Some(path),
            allow_prompt: false,
        };
        assert_eq!(
            resolve_password(&lookup, "mail.example", "bob")
                .expect("found")
                .expose(),
            "pw1"
        );
        let err = resolve_password(&lookup, "other.example", "bob").expect_err("none");
        assert!(matches!(err, SecretError::NoSource { .. }));
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(check_credential("password", "a\r\nQUIT").is_err());
        assert!(check_credential("user name", "a\0b").is_err());
        assert!(check_credential("user name", "plain user").is_ok());
        assert!(check_user_name("a\x01auth=Bearer x").is_err());
        assert!(check_user_name("a\nQUIT").is_err());
        assert!(check_user_name("me@example.com").is_ok());
        assert!(check_credential("password", "p\x01w").is_ok());
    }
}
