//! Flag groups shared by several subcommands (password sources, TLS for mail), and their
//! conversion into the engines' plain types.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::CliError;
use crate::config::Account;

use crate::secret::PasswordSource;
use crate::tls::{TlsMode, TlsOptions};

/// Where the password comes from. Never from argv.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PasswordArgs {
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", group = "password_source")]
    pub password_env: Option<String>,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE", group = "password_source")]
    pub password_file: Option<PathBuf>,
    /// Run this shell command and take the first line it prints (as msmtp's passwordeval).
    #[arg(long, value_name = "CMD", group = "password_source")]
    pub password_command: Option<String>,
}

impl PasswordArgs {
    /// The explicit source these flags name, if any.
    pub fn source(&self) -> Option<PasswordSource> {
        if let Some(var) = &self.password_env {
            return Some(PasswordSource::Env(var.clone()));
        }
        if let Some(path) = &self.password_file {
            return Some(PasswordSource::File(path.clone()));
        }
        self.password_command.clone().map(PasswordSource::Command)
    }
}

/// TLS flags of the mail subcommands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MailTlsArgs {
    /// When to use TLS on a plain `smtp://` or `pop3://` connection.
    #[arg(long, value_enum, value_name = "MODE")]
    pub tls: Option<TlsModeArg>,
    /// Trust only the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify the server's certificate (dangerous).
    #[arg(long)]
    pub insecure: bool,
}

impl MailTlsArgs {
    /// These flags over what `account` says: the TLS mode (required unless told otherwise)
    /// and the certificate options.
    pub fn resolve(&self, account: &Account) -> Result<(TlsMode, TlsOptions), CliError> {
        let mode = match (self.tls, &account.tls) {
            (Some(mode), _) => TlsMode::from(mode),
            (None, Some(text)) => parse_tls_mode(text).ok_or_else(|| {
                CliError::invalid(
                    "--account",
                    format!("tls = {text:?}: required, opportunistic or none"),
                )
            })?,
            (None, None) => TlsMode::Required,
        };
        let options = TlsOptions {
            cacert: self.cacert.clone().or_else(|| account.cacert.clone()),
            insecure: self.insecure || account.insecure.unwrap_or(false),
        };
        Ok((mode, options))
    }
}

/// `--timeout` over the account's `timeout`, else `default_secs`; zero is refused.
pub fn timeout(
    flag: Option<u64>,
    account: &Account,
    default_secs: u64,
) -> Result<Duration, CliError> {
    match flag.or(account.timeout).unwrap_or(default_secs) {
        0 => Err(CliError::invalid("--timeout", "must be at least 1 second")),
        secs => Ok(Duration::from_secs(secs)),
    }
}

/// `--tls required|opportunistic|none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsModeArg {
    Required,
    Opportunistic,
    None,
}

impl From<TlsModeArg> for TlsMode {
    fn from(arg: TlsModeArg) -> TlsMode {
        match arg {
            TlsModeArg::Required => TlsMode::Required,
            TlsModeArg::Opportunistic => TlsMode::Opportunistic,
            TlsModeArg::None => TlsMode::None,
        }
    }
}

/// Parses a `--tls` value written in an accounts file.
fn parse_tls_mode(value: &str) -> Option<TlsMode> {
    match value.to_ascii_lowercase().as_str() {
        "required" => Some(TlsMode::Required),
        "opportunistic" => Some(TlsMode::Opportunistic),
        "none" => Some(TlsMode::None),
        _ => None,
    }
}
