//! Flag groups shared by several subcommands (password sources, TLS for mail, client
//! certificates and pins for every protocol), and their
//! conversion into the engines' plain types.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::CliError;
use crate::config::Account;
use crate::error::Error;
use crate::secret::{self, PasswordSource};
use crate::tls::{ClientIdentity, TlsMode, TlsOptions, parse_pins};

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
    #[command(flatten)]
    pub client: ClientTlsArgs,
}

/// Client certificate and pins, for `fetch`, `send` and `pop3` alike.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientTlsArgs {
    /// Present this client certificate (PEM with its key, or with --key; or PKCS#12). The
    /// key's pass phrase, never on the command line: FILE:env:VAR, FILE:file:PATH or
    /// FILE:command:CMD.
    #[arg(long, value_name = "FILE[:PASSWORD-SOURCE]")]
    pub cert: Option<String>,
    /// The client certificate's private key (PEM), when not in the --cert file.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Accept only a server whose public key has one of these SHA-256 pins:
    /// sha256//BASE64[;sha256//BASE64...] (as curl; `fetch --show-cert` prints it).
    #[arg(long, value_name = "PINS")]
    pub pinnedpubkey: Option<String>,
}

impl ClientTlsArgs {
    /// Fills `opts` from these flags over the account's `tls_cert_file`, `tls_key_file`,
    /// `tls_key_password` and `tls_fingerprint`.
    pub fn apply(&self, account: &Account, opts: &mut TlsOptions) -> Result<(), Error> {
        let (cert, password) = match (&self.cert, &account.tls_cert_file) {
            (Some(text), _) => parse_cert_arg(text)?,
            (None, Some(path)) => {
                let source = account
                    .tls_key_password
                    .as_deref()
                    .map(|t| password_source("tls_key_password", t))
                    .transpose()?;
                (path.clone(), source)
            }
            (None, None) => (PathBuf::new(), None),
        };
        if cert.as_os_str().is_empty() && self.key.is_some() {
            return Err(CliError::invalid(
                "--key",
                "needs --cert (or the account's tls_cert_file)",
            )
            .into());
        }
        if !cert.as_os_str().is_empty() {
            opts.client_cert = Some(ClientIdentity {
                cert,
                key: self.key.clone().or_else(|| account.tls_key_file.clone()),
                password: password.as_ref().map(secret::from_source).transpose()?,
            });
        }
        let pins = match (&self.pinnedpubkey, &account.tls_fingerprint) {
            (Some(text), _) => Some(("--pinnedpubkey", text)),
            (None, Some(text)) => Some(("tls_fingerprint", text)),
            (None, None) => None,
        };
        if let Some((what, text)) = pins {
            opts.pins = parse_pins(text).map_err(|why| CliError::invalid(what, why))?;
        }
        Ok(())
    }
}

/// `FILE[:env:VAR|:file:PATH|:command:CMD]`; curl's `FILE:PASSWORD` is refused, as a
/// password on the command line is visible to every user of the machine.
fn parse_cert_arg(text: &str) -> Result<(PathBuf, Option<PasswordSource>), CliError> {
    for marker in [":env:", ":file:", ":command:"] {
        if let Some(i) = text.find(marker) {
            let source = password_source("--cert", &text[i + 1..])?;
            return Ok((PathBuf::from(&text[..i]), Some(source)));
        }
    }
    if !Path::new(text).exists()
        && let Some((file, _)) = text.rsplit_once(':')
        && Path::new(file).exists()
    {
        return Err(CliError::invalid(
            "--cert",
            "a pass phrase on the command line is not accepted (other users can see it): \
             give FILE:env:VAR, FILE:file:PATH or FILE:command:CMD",
        ));
    }
    Ok((PathBuf::from(text), None))
}

/// `env:VAR`, `file:PATH` or `command:CMD`.
fn password_source(what: &str, text: &str) -> Result<PasswordSource, CliError> {
    let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
    match kind {
        "env" if !rest.is_empty() => Ok(PasswordSource::Env(rest.to_owned())),
        "file" if !rest.is_empty() => Ok(PasswordSource::File(PathBuf::from(rest))),
        "command" if !rest.is_empty() => Ok(PasswordSource::Command(rest.to_owned())),
        _ => Err(CliError::invalid(
            what,
            format!("{text:?}: the pass phrase source is env:VAR, file:PATH or command:CMD"),
        )),
    }
}

impl MailTlsArgs {
    /// These flags over what `account` says: the TLS mode (required unless told otherwise)
    /// and the certificate options.
    pub fn resolve(&self, account: &Account) -> Result<(TlsMode, TlsOptions), Error> {
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
        let mut options = TlsOptions {
            cacert: self.cacert.clone().or_else(|| account.cacert.clone()),
            insecure: self.insecure || account.insecure.unwrap_or(false),
            ..TlsOptions::default()
        };
        self.client.apply(account, &mut options)?;
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
