//! `postie oauth`: sign in to an account's identity provider (`login`), print a valid access
//! token for other tools (`token`), show what is stored (`status`), and sign out (`logout`);
//! and the merge of an account's `oauth_*` keys into the engine's [`oauth::Settings`], which
//! `send` and `pop3` use for `auth = "oauth2"` accounts.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Account, ConfigError, load_account};
use crate::error::Error;
use crate::exit::Exit;
use crate::oauth::{self, Endpoints, Flow, Location, LoginOptions, Provider, ProviderKind, Store};
use crate::secret::{PasswordSource, token_from_source};
use crate::tls::TlsOptions;

/// The deadline of one request to the identity provider when the account gives none.
const IDP_TIMEOUT_SECS: u64 = 30;

#[derive(Debug, clap::Args)]
pub struct OAuthArgs {
    #[command(subcommand)]
    pub command: OAuthCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum OAuthCommand {
    /// Sign in and store the tokens (device code by default; Google: the browser).
    Login(LoginArgs),
    /// Print a valid access token on stdout, refreshing it when needed (for msmtp's
    /// passwordeval, mpop, fetchmail, isync or scripts).
    Token(AccountArgs),
    /// Show the stored tokens' provider, scopes and expiry (never the tokens).
    Status(StatusArgs),
    /// Delete the stored tokens, revoking them where the provider can.
    Logout(AccountArgs),
}

/// The account and how to reach its identity provider.
#[derive(Debug, Clone, clap::Args)]
pub struct AccountArgs {
    /// The account ([account.NAME] in the accounts file).
    #[arg(long, value_name = "NAME")]
    pub account: String,
    /// Trust only the CA certificates in this PEM file for the identity provider (else the
    /// account's cacert, else the system's).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Seconds to wait for each reply of the identity provider.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Say on stderr what is asked of the identity provider (never a token).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// Sign in with a browser on this machine (authorization code with PKCE and a
    /// redirect to 127.0.0.1).
    #[arg(long, conflicts_with = "device")]
    pub browser: bool,
    /// Sign in with a code entered on any device (works over ssh).
    #[arg(long)]
    pub device: bool,
    /// With --browser: print the URL only, do not start a browser.
    #[arg(long)]
    pub no_open: bool,
    /// With --browser: seconds to wait for the sign-in to finish.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub wait: u64,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only this account (default: every account in the token file).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// One JSON object per account.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: OAuthArgs) -> Result<Exit, Error> {
    match args.command {
        OAuthCommand::Login(args) => login(&args),
        OAuthCommand::Token(args) => token(&args),
        OAuthCommand::Status(args) => status(&args),
        OAuthCommand::Logout(args) => logout(&args),
    }
}

/// True for an account with `auth = "oauth2"`.
pub fn is_oauth2(account: &Account) -> bool {
    account
        .auth
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case("oauth2"))
}

/// The engine settings of account `name` for `flags` (the flags' `cacert` over the account's).
fn settings_for(args: &AccountArgs) -> Result<oauth::Settings, Error> {
    let account = load_account(&args.account)?;
    let tls = TlsOptions {
        cacert: args.cacert.clone().or_else(|| account.cacert.clone()),
        ..TlsOptions::default()
    };
    let secs = args.timeout.or(account.timeout).unwrap_or(IDP_TIMEOUT_SECS);
    settings(
        &args.account,
        &account,
        tls,
        Duration::from_secs(secs.max(1)),
        args.verbose,
    )
}

/// An account's `oauth_*` keys as the engine's settings. `tls` is for the identity
/// provider (the account's `cacert` applies to it too).
pub fn settings(
    name: &str,
    account: &Account,
    tls: TlsOptions,
    timeout: Duration,
    verbose: bool,
) -> Result<oauth::Settings, Error> {
    let invalid = |why: String| ConfigError::Invalid {
        name: name.to_owned(),
        why,
    };
    let kind_text = account.oauth_provider.as_deref().ok_or_else(|| {
        invalid("oauth_provider is required (google, microsoft or custom)".into())
    })?;
    let kind = ProviderKind::parse(kind_text).ok_or_else(|| {
        invalid(format!(
            "oauth_provider = {kind_text:?}: google, microsoft or custom"
        ))
    })?;
    let client_id = account
        .oauth_client_id
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            invalid("oauth_client_id is required (see the README: Gmail and Microsoft 365)".into())
        })?;
    let endpoints = endpoints(kind, account).map_err(invalid)?;
    let scopes = account
        .oauth_scopes
        .clone()
        .unwrap_or_else(|| oauth::provider::default_scopes(kind, uses(account)));
    Ok(oauth::Settings {
        account: name.to_owned(),
        provider: Provider {
            kind,
            endpoints,
            client_id,
            client_secret: client_secret(account)?,
            scopes,
        },
        store: store(name, account)?,
        tls,
        timeout,
        verbose,
    })
}

/// The built-in endpoints with the account's `oauth_*_url` over them.
fn endpoints(kind: ProviderKind, account: &Account) -> Result<Endpoints, String> {
    let defaults = oauth::provider::default_endpoints(kind, account.oauth_tenant.as_deref());
    let token = account
        .oauth_token_url
        .clone()
        .or_else(|| defaults.as_ref().map(|d| d.token.clone()))
        .ok_or("oauth_token_url is required for oauth_provider = \"custom\"")?;
    let pick = |own: &Option<String>, default: Option<String>| own.clone().or(default);
    Ok(Endpoints {
        authorize: pick(
            &account.oauth_auth_url,
            defaults.as_ref().and_then(|d| d.authorize.clone()),
        ),
        token,
        device: pick(
            &account.oauth_device_url,
            defaults.as_ref().and_then(|d| d.device.clone()),
        ),
        revoke: pick(
            &account.oauth_revoke_url,
            defaults.as_ref().and_then(|d| d.revoke.clone()),
        ),
    })
}

/// What the account serves, by its server keys' schemes.
fn uses(account: &Account) -> oauth::Uses {
    let scheme_of = |s: &Option<String>, p: &str| s.as_deref().is_some_and(|v| v.starts_with(p));
    oauth::Uses {
        smtp: account.smtp_server.is_some() || scheme_of(&account.server, "smtp"),
        pop3: account.pop3_server.is_some() || scheme_of(&account.server, "pop3"),
    }
}

fn client_secret(account: &Account) -> Result<Option<crate::secret::Secret>, Error> {
    let source = match (
        &account.oauth_client_secret,
        &account.oauth_client_secret_command,
    ) {
        (Some(secret), _) => PasswordSource::Literal(secret.clone()),
        (None, Some(command)) => PasswordSource::Command(command.clone()),
        (None, None) => return Ok(None),
    };
    Ok(Some(token_from_source(&source, "oauth_client_secret_")?))
}

/// The token file, or the account's commands; the lock is in the data folder either way.
fn store(name: &str, account: &Account) -> Result<Store, Error> {
    let file = oauth::store::default_path().ok_or_else(|| ConfigError::Invalid {
        name: name.to_owned(),
        why: "no place for the token store ($XDG_DATA_HOME and $HOME are unset)".into(),
    })?;
    let lock_path = file.with_extension("lock");
    let location = match &account.oauth_token_command {
        Some(read) => Location::Commands {
            read: read.clone(),
            write: account.oauth_token_store_command.clone(),
        },
        None => Location::File(file),
    };
    Ok(Store {
        account: name.to_owned(),
        location,
        lock_path,
    })
}

fn login(args: &LoginArgs) -> Result<Exit, Error> {
    let s = settings_for(&args.account)?;
    let flow = match (args.browser, args.device) {
        (true, _) => Flow::Browser,
        (_, true) => Flow::Device,
        _ if s.provider.prefers_browser() => Flow::Browser,
        _ => Flow::Device,
    };
    let options = LoginOptions {
        flow,
        open_browser: !args.no_open,
        browser_wait: Duration::from_secs(args.wait.max(1)),
    };
    let record = oauth::login(&s, &options, &mut io::stderr())?;
    eprintln!(
        "postie: account {}: signed in (scopes: {})",
        s.account,
        record.scopes.join(" ")
    );
    Ok(Exit::SUCCESS)
}

fn token(args: &AccountArgs) -> Result<Exit, Error> {
    let s = settings_for(args)?;
    let token = oauth::access_token(&s)?;
    writeln!(io::stdout().lock(), "{}", token.expose()).map_err(|e| Error::output("stdout", e))?;
    Ok(Exit::SUCCESS)
}

fn logout(args: &AccountArgs) -> Result<Exit, Error> {
    let s = settings_for(args)?;
    let (stored, revoked) = oauth::logout(&s, &mut io::stderr())?;
    let what = match (stored, revoked) {
        (false, _) => "no tokens were stored",
        (true, true) => "tokens revoked and deleted",
        (true, false) => "tokens deleted",
    };
    eprintln!("postie: account {}: {what}", s.account);
    Ok(Exit::SUCCESS)
}

fn status(args: &StatusArgs) -> Result<Exit, Error> {
    let records = match &args.account {
        Some(name) => {
            let account = load_account(name)?;
            let store = store(name, &account)?;
            let lock = store.lock()?;
            store
                .load(&lock)?
                .map(|r| vec![(name.clone(), r)])
                .unwrap_or_default()
        }
        None => match oauth::store::default_path() {
            Some(path) => oauth::store::list(&path)?,
            None => Vec::new(),
        },
    };
    let mut out = io::stdout().lock();
    for (name, record) in &records {
        let line = if args.json {
            status_json(name, record).to_string()
        } else {
            status_text(name, record)
        };
        writeln!(out, "{line}").map_err(|e| Error::output("stdout", e))?;
    }
    if records.is_empty() && !args.json {
        eprintln!("postie: no OAuth2 tokens stored");
    }
    Ok(Exit::SUCCESS)
}

fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(crate::clock::rfc3339)
        .unwrap_or_default()
}

fn status_json(name: &str, r: &oauth::TokenRecord) -> serde_json::Value {
    let now = oauth::now();
    serde_json::json!({
        "account": name,
        "provider": r.provider,
        "client_id": r.client_id,
        "scopes": r.scopes,
        "has_refresh_token": r.refresh_token.is_some(),
        "access_token_expires": r.expires_at.map(rfc3339),
        "access_token_valid": r.access_token.is_some() && r.expires_at.is_some_and(|e| e > now),
        "logged_in": (r.obtained_at > 0).then(|| rfc3339(r.obtained_at)),
        "last_refresh": r.refreshed_at.map(rfc3339),
    })
}

fn status_text(name: &str, r: &oauth::TokenRecord) -> String {
    let now = oauth::now();
    let access = match r.expires_at {
        Some(e) if e > now && r.access_token.is_some() => {
            format!(
                "access token valid until {} ({} min)",
                rfc3339(e),
                (e - now) / 60
            )
        }
        Some(e) => format!("access token expired {}", rfc3339(e)),
        None => "no access token".to_owned(),
    };
    let refresh = if r.refresh_token.is_some() {
        "refresh token stored"
    } else {
        "no refresh token"
    };
    let last = r.refreshed_at.map_or_else(
        || "never refreshed".to_owned(),
        |t| format!("last refresh {}", rfc3339(t)),
    );
    format!(
        "{name}: {} {access}; {refresh}; {last}; scopes: {}",
        if r.provider.is_empty() {
            "(provider unknown)"
        } else {
            &r.provider
        },
        r.scopes.join(" ")
    )
}
