//! OAuth2 for the mail accounts (`postie oauth`, and `send`/`pop3` with `auth = "oauth2"`):
//! the whole token lifecycle. Login by the device authorization grant (RFC 8628) or in a
//! browser (authorization code with PKCE, RFC 7636, loopback redirect, RFC 8252); the token
//! store (a private file or the user's commands) under a lock; refresh before a token
//! expires and once more after a server refused it, rotation-safe across processes;
//! revocation on logout.
//!
//! It owns the protocol with the identity provider. It leaves out: the SASL mechanisms
//! (`pop3::sasl`, `smtp::transport`), the accounts file (`config`), the flags (`cli::oauth`).
//! HTTP goes through `fetch`'s form client, so TLS, `--cacert` and proxies are the same as
//! for `postie fetch`.

mod login;
pub mod pkce;
pub mod provider;
pub mod store;
mod token;
pub mod wire;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub use login::{Flow, LoginOptions, login, logout};
pub use provider::{Endpoints, Provider, ProviderKind, Uses};
pub use store::{Location, Store, TokenRecord};
pub use token::{access_token, after_rejection, now};
pub use wire::ProviderError;

use crate::exit::code;
use crate::fetch::FetchError;
use crate::tls::TlsOptions;

/// One account's OAuth2 settings, validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct Settings {
    pub account: String,
    pub provider: Provider,
    pub store: Store,
    /// TLS for the identity provider (the account's `cacert` applies).
    pub tls: TlsOptions,
    /// The deadline of each request to the identity provider.
    pub timeout: Duration,
    /// `-v`: say on stderr when a token is refreshed (never the token).
    pub verbose: bool,
}

/// Errors of the token lifecycle. Display is `<what>: <why>`.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error(
        "account {account}: no OAuth2 tokens stored: run `postie oauth login --account {account}`"
    )]
    NotLoggedIn { account: String },
    #[error(
        "account {account}: the identity provider refused the refresh token ({why}): \
         run `postie oauth login --account {account}` again"
    )]
    LoginAgain { account: String, why: ProviderError },
    #[error("account {account}: {what}: the identity provider answered {error}")]
    Provider {
        account: String,
        what: &'static str,
        error: ProviderError,
    },
    #[error("account {account}: {url}: {why}")]
    BadReply {
        account: String,
        url: String,
        status: u16,
        why: String,
    },
    #[error("account {account}: {source}")]
    Http { account: String, source: FetchError },
    #[error("{}: {source}", path.display())]
    Store { path: PathBuf, source: io::Error },
    #[error(
        "{}: holds OAuth2 tokens but is readable by others (mode {mode:o}); run: chmod 600 {}",
        path.display(), path.display()
    )]
    UnsafeStore { path: PathBuf, mode: u32 },
    #[error("{}: not a token store: {why}", path.display())]
    CorruptStore { path: PathBuf, why: String },
    #[error("account {account}: oauth token command {command:?}: {why}")]
    StoreCommand {
        account: String,
        command: String,
        why: String,
    },
    #[error(
        "account {account}: the tokens cannot be stored: oauth_token_command is set without \
         oauth_token_store_command"
    )]
    ReadOnlyStore { account: String },
    #[error("account {account}: {why}")]
    Unsupported { account: String, why: String },
    #[error("account {account}: the sign-in was refused ({why})")]
    Denied { account: String, why: String },
    #[error("account {account}: {why}: run `postie oauth login --account {account}` again")]
    Expired { account: String, why: String },
    #[error("account {account}: the browser sign-in: {source}")]
    Loopback { account: String, source: io::Error },
    #[error("account {account}: no random numbers: {why}")]
    Random { account: String, why: String },
}

impl OAuthError {
    pub fn exit_code(&self) -> u8 {
        match self {
            OAuthError::NotLoggedIn { .. }
            | OAuthError::LoginAgain { .. }
            | OAuthError::Denied { .. } => code::AUTH,
            OAuthError::Provider { error, .. } => provider_code(&error.error),
            OAuthError::BadReply { status, .. } if *status >= 500 => code::TEMPFAIL,
            OAuthError::BadReply { .. } => code::PROTOCOL,
            OAuthError::Http { source, .. } => source.exit_code(),
            OAuthError::Store { .. } => code::WRITE,
            OAuthError::Expired { .. } => code::TIMEOUT,
            OAuthError::UnsafeStore { .. }
            | OAuthError::CorruptStore { .. }
            | OAuthError::StoreCommand { .. }
            | OAuthError::ReadOnlyStore { .. }
            | OAuthError::Unsupported { .. } => code::CONFIG,
            OAuthError::Loopback { .. } | OAuthError::Random { .. } => code::FAILED,
        }
    }
}

/// The exit code of an RFC 6749 §5.2 / RFC 8628 §3.5 error code.
fn provider_code(error: &str) -> u8 {
    match error {
        // The registration or the account's settings are wrong: the user must fix them.
        "invalid_client"
        | "unauthorized_client"
        | "invalid_scope"
        | "unsupported_grant_type"
        | "invalid_request" => code::CONFIG,
        "invalid_grant" | "access_denied" => code::AUTH,
        "temporarily_unavailable" | "server_error" => code::TEMPFAIL,
        _ => code::FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_table() {
        let provider = |error: &str| OAuthError::Provider {
            account: "a".into(),
            what: "token request",
            error: ProviderError {
                error: error.into(),
                description: None,
            },
        };
        assert_eq!(provider("invalid_client").exit_code(), code::CONFIG);
        assert_eq!(
            provider("temporarily_unavailable").exit_code(),
            code::TEMPFAIL
        );
        let again = OAuthError::LoginAgain {
            account: "gmail".into(),
            why: ProviderError {
                error: "invalid_grant".into(),
                description: Some("Token has been expired or revoked.".into()),
            },
        };
        assert_eq!(again.exit_code(), code::AUTH);
        assert_eq!(
            again.to_string(),
            "account gmail: the identity provider refused the refresh token (invalid_grant: \
             Token has been expired or revoked.): run `postie oauth login --account gmail` again"
        );
    }
}
