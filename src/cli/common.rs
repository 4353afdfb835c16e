//! Flag groups shared by several subcommands (the mail connection of `send` and `pop3`,
//! password sources, TLS for mail, client certificates and pins for every protocol), and
//! their merge with an account into the engines' plain types.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::CliError;
use crate::config::{Account, ConfigError, load_account};
use crate::config_import::{self, Flavor};
use crate::error::Error;
use crate::mail::UnpackOptions;
use crate::secret::{self, PasswordSource, check_user_name};
use crate::tls::{ClientIdentity, TlsMode, TlsOptions, parse_pins};

/// The deadline of a mail connection when neither `--timeout` nor the account gives one.
const MAIL_TIMEOUT_SECS: u64 = 60;

/// The mail connection flags of `send` and of every `pop3` subcommand. The help texts are
/// the protocol-neutral ones; each subcommand words `--server`, `--user`, `--account` and
/// `--timeout` for itself (`mut_arg` on the struct that flattens this one).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MailConnArgs {
    /// The server URL.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Read defaults from [account.NAME] in the accounts file; flags override them.
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// The user name.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub tls: MailTlsArgs,
    /// Deadline in seconds for connecting and for every read.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

/// The protocol a [`MailConnArgs`] is for: which account key names its server, and whether
/// it cannot do without a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailProtocol {
    Smtp,
    Pop3,
}

/// A mail connection as the flags over the account give it: the server as the protocol
/// parsed it, and the protocol's own AUTH choice.
#[derive(Debug, Clone)]
pub struct MailConn<S, A> {
    pub server: S,
    /// Always there for POP3 (checked); SMTP sends without AUTH when there is none.
    pub user: Option<String>,
    /// `--password-*` over the account's password keys; None: ~/.netrc, then a prompt.
    pub password: Option<PasswordSource>,
    pub tls_mode: TlsMode,
    pub tls: TlsOptions,
    pub auth: A,
    pub timeout: Duration,
}

impl MailConnArgs {
    /// The account `--account` names, or an empty one. When postie's accounts file has no
    /// such account (or there is no file), `account NAME` of `~/.mpoprc` (POP3) or
    /// `~/.msmtprc` (SMTP) is used, each key postie does not support named on stderr.
    pub fn load_account(&self, protocol: MailProtocol) -> Result<Account, Error> {
        let Some(name) = &self.account else {
            return Ok(Account::default());
        };
        match load_account(name) {
            Err(ConfigError::Missing { path, .. } | ConfigError::UnknownAccount { path, .. }) => {
                let (found, rc) = rc_account(protocol, name)?;
                found.ok_or_else(|| {
                    let (name, rc) = (name.clone(), rc.unwrap_or_default());
                    ConfigError::NotFound { name, path, rc }.into()
                })
            }
            other => Ok(other?),
        }
    }

    /// These flags over `account`, checked in a fixed order so that the first problem is the
    /// one reported: server, user (POP3), TLS, `auth`, timeout. `parse_server` and `auth`
    /// are the protocol's own: its URL schemes and its AUTH methods.
    pub fn merge<S, A>(
        &self,
        protocol: MailProtocol,
        account: &Account,
        parse_server: impl FnOnce(&str) -> Result<S, Error>,
        auth: impl FnOnce(&Account) -> Result<A, Error>,
    ) -> Result<MailConn<S, A>, Error> {
        let need_user = protocol == MailProtocol::Pop3;
        self.merge_with(protocol, account, parse_server, auth, need_user)
    }

    /// [`MailConnArgs::merge`]; `need_user` false for commands that never log in (`pop3
    /// capa`, `pop3 serverinfo`), which then take no user.
    pub fn merge_with<S, A>(
        &self,
        protocol: MailProtocol,
        account: &Account,
        parse_server: impl FnOnce(&str) -> Result<S, Error>,
        auth: impl FnOnce(&Account) -> Result<A, Error>,
        need_user: bool,
    ) -> Result<MailConn<S, A>, Error> {
        let (server_key, missing) = match protocol {
            MailProtocol::Smtp => (
                &account.smtp_server,
                "no server (give --server or --account)",
            ),
            MailProtocol::Pop3 => (
                &account.pop3_server,
                "required (or an --account with a server)",
            ),
        };
        let server = self
            .server
            .clone()
            .or_else(|| server_key.clone())
            .or_else(|| account.server.clone())
            .ok_or_else(|| CliError::invalid("--server", missing))?;
        let server = parse_server(&server)?;
        let user = self.user.clone().or_else(|| account.user.clone());
        if need_user {
            // POP3 cannot even log in without one; SMTP checks its optional user where it
            // decides on AUTH.
            let user = user.as_deref().ok_or_else(|| {
                CliError::invalid("--user", "required (or an --account with a user)")
            })?;
            check_user_name(user)?;
        }
        let (tls_mode, tls) = self.tls.resolve(account)?;
        let auth = auth(account)?;
        let timeout = timeout(self.timeout, account, MAIL_TIMEOUT_SECS)?;
        Ok(MailConn {
            server,
            user,
            password: self.password.source().or_else(|| account.password_source()),
            tls_mode,
            tls,
            auth,
            timeout,
        })
    }
}

/// The flavor of rc file a protocol's users have.
pub fn flavor(protocol: MailProtocol) -> Flavor {
    match protocol {
        MailProtocol::Smtp => Flavor::Msmtp,
        MailProtocol::Pop3 => Flavor::Mpop,
    }
}

/// `account NAME` of the user's mpop or msmtp file, its warnings printed (None if neither
/// the file nor the account is there), and the file looked at.
fn rc_account(
    protocol: MailProtocol,
    name: &str,
) -> Result<(Option<Account>, Option<PathBuf>), Error> {
    let flavor = flavor(protocol);
    let Some(path) = config_import::default_path(flavor) else {
        return Ok((None, None));
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let found = config_import::find_account(flavor, &path, name, home.as_deref())?;
    let account = found.map(|c| {
        for w in &c.warnings {
            eprintln!("postie: {}: {w}", path.display());
        }
        c.account
    });
    Ok((account, Some(path)))
}

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

/// What unpacking does with the files inside parts (TNEF, uuencode and yEnc): the flags of
/// `postie unpack`, and of `pop3 pull --unpack`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InnerFileArgs {
    /// Do not read the files inside TNEF parts (winmail.dat, application/ms-tnef): save the
    /// part as one file.
    #[arg(long)]
    pub no_tnef: bool,
    /// Save the files inside a TNEF part but not the part itself (a damaged one is kept).
    #[arg(long, conflicts_with = "no_tnef")]
    pub no_tnef_container: bool,
    /// Also save a TNEF part's RTF message body, as message.rtf beside its files.
    #[arg(long, conflicts_with = "no_tnef")]
    pub tnef_body: bool,
    /// Leave uuencoded and yEnc blocks in body.txt instead of decoding them into files.
    #[arg(long)]
    pub no_uudecode: bool,
}

impl InnerFileArgs {
    /// The default unpack options with these choices.
    pub fn options(&self) -> UnpackOptions {
        UnpackOptions {
            tnef: !self.no_tnef,
            tnef_container: !self.no_tnef_container,
            tnef_body: self.tnef_body,
            uudecode: !self.no_uudecode,
            ..UnpackOptions::default()
        }
    }
}

/// `--timeout` over the account's `timeout`, else `default_secs`; zero is refused.
fn timeout(flag: Option<u64>, account: &Account, default_secs: u64) -> Result<Duration, CliError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(
        args: &MailConnArgs,
        protocol: MailProtocol,
        account: &Account,
    ) -> Result<MailConn<String, ()>, Error> {
        args.merge(protocol, account, |s| Ok(s.to_owned()), |_| Ok(()))
    }

    fn account() -> Account {
        Account {
            server: Some("any://shared".into()),
            smtp_server: Some("smtps://out".into()),
            pop3_server: Some("pop3s://in".into()),
            user: Some("alice".into()),
            password_env: Some("ACCOUNT_PW".into()),
            timeout: Some(7),
            ..Account::default()
        }
    }

    #[test]
    fn each_protocol_takes_its_own_server_key_and_flags_win() {
        let none = MailConnArgs::default();
        let conn = merge(&none, MailProtocol::Smtp, &account()).expect("smtp");
        assert_eq!(conn.server, "smtps://out");
        let conn = merge(&none, MailProtocol::Pop3, &account()).expect("pop3");
        assert_eq!(conn.server, "pop3s://in");
        assert_eq!(conn.user.as_deref(), Some("alice"));
        assert_eq!(conn.timeout, Duration::from_secs(7));
        assert!(matches!(conn.password, Some(PasswordSource::Env(v)) if v == "ACCOUNT_PW"));
        let shared = Account {
            smtp_server: None,
            ..account()
        };
        let conn = merge(&none, MailProtocol::Smtp, &shared).expect("shared");
        assert_eq!(conn.server, "any://shared");

        let flags = MailConnArgs {
            server: Some("smtp://flag".into()),
            user: Some("bob".into()),
            timeout: Some(3),
            password: PasswordArgs {
                password_env: Some("FLAG_PW".into()),
                ..PasswordArgs::default()
            },
            ..MailConnArgs::default()
        };
        let conn = merge(&flags, MailProtocol::Smtp, &account()).expect("flags");
        assert_eq!(conn.server, "smtp://flag");
        assert_eq!(conn.user.as_deref(), Some("bob"));
        assert_eq!(conn.timeout, Duration::from_secs(3));
        assert!(matches!(conn.password, Some(PasswordSource::Env(v)) if v == "FLAG_PW"));
    }

    #[test]
    fn pop3_needs_a_user_smtp_does_not() {
        let args = MailConnArgs {
            server: Some("x://host".into()),
            ..MailConnArgs::default()
        };
        let conn = merge(&args, MailProtocol::Smtp, &Account::default()).expect("smtp");
        assert_eq!(conn.user, None);
        assert_eq!(conn.timeout, Duration::from_secs(MAIL_TIMEOUT_SECS));
        let err = merge(&args, MailProtocol::Pop3, &Account::default()).expect_err("pop3");
        assert_eq!(
            err.to_string(),
            "--user: required (or an --account with a user)"
        );
    }

    #[test]
    fn a_missing_server_is_named_in_each_protocol_s_words() {
        let none = MailConnArgs::default();
        let smtp = merge(&none, MailProtocol::Smtp, &Account::default()).expect_err("smtp");
        assert_eq!(
            smtp.to_string(),
            "--server: no server (give --server or --account)"
        );
        let pop3 = merge(&none, MailProtocol::Pop3, &Account::default()).expect_err("pop3");
        assert_eq!(
            pop3.to_string(),
            "--server: required (or an --account with a server)"
        );
    }
}
