//! Access tokens for a run: the stored one while it has more than a minute left, else a
//! refresh; after a server refused a token, one more refresh unless another process already
//! made one. Read, refresh and write happen under the store's lock, and the record is read
//! again once the lock is held: of two cron jobs that find the token expiring, the second
//! uses the first one's new token (and its rotated refresh token), never the old one.

use std::io::Write;

use super::store::{Locked, TokenRecord};
use super::wire::{self, ReplyError};
use super::{OAuthError, Settings};
use crate::fetch::{FormClient, FormReply, FormValue};
use crate::secret::Secret;

/// A token is refreshed when it expires within this many seconds.
const MARGIN_SECS: u64 = 60;
/// The lifetime assumed when a token reply has no `expires_in`.
const DEFAULT_LIFETIME: u64 = 3600;

/// Unix seconds now.
pub fn now() -> u64 {
    u64::try_from(crate::clock::unix_now()).unwrap_or(0)
}

/// A valid access token for the account, refreshed first when it expires within a minute.
pub fn access_token(s: &Settings) -> Result<Secret, OAuthError> {
    let lock = s.store.lock()?;
    let mut record = load(s, &lock)?;
    if let Some(token) = fresh(&record) {
        return Ok(token);
    }
    refresh(s, &lock, &mut record)
}

/// A new access token after the server refused `rejected`: the stored one when another
/// process has already replaced it, else a refresh.
pub fn after_rejection(s: &Settings, rejected: &Secret) -> Result<Secret, OAuthError> {
    let lock = s.store.lock()?;
    let mut record = load(s, &lock)?;
    if let Some(token) = fresh(&record).filter(|t| t != rejected) {
        return Ok(token);
    }
    refresh(s, &lock, &mut record)
}

fn load(s: &Settings, lock: &Locked) -> Result<TokenRecord, OAuthError> {
    s.store.load(lock)?.ok_or_else(|| OAuthError::NotLoggedIn {
        account: s.account.clone(),
    })
}

/// The stored access token if it has more than [`MARGIN_SECS`] left.
fn fresh(record: &TokenRecord) -> Option<Secret> {
    let expires = record.expires_at?;
    let token = record.access_token.clone()?;
    (expires > now() + MARGIN_SECS).then_some(token)
}

fn refresh(s: &Settings, lock: &Locked, record: &mut TokenRecord) -> Result<Secret, OAuthError> {
    let refresh_token = record
        .refresh_token
        .clone()
        .ok_or_else(|| OAuthError::NotLoggedIn {
            account: s.account.clone(),
        })?;
    if s.verbose {
        eprintln!(
            "* oauth: refreshing the access token of account {} at {}",
            s.account, s.provider.endpoints.token
        );
    }
    let reply = Idp::new(s)?.token_grant(&[
        ("grant_type", FormValue::Text("refresh_token")),
        ("refresh_token", FormValue::Secret(&refresh_token)),
    ])?;
    let token = match wire::token_reply(reply.status, &reply.body) {
        Ok(token) => token,
        Err(ReplyError::Provider(why)) if why.error == "invalid_grant" => {
            return Err(OAuthError::LoginAgain {
                account: s.account.clone(),
                why,
            });
        }
        Err(e) => {
            return Err(reply_error(
                s,
                "token refresh",
                &s.provider.endpoints.token,
                reply.status,
                e,
            ));
        }
    };
    let rotated = token.refresh_token.is_some();
    record.apply(&token);
    record.refreshed_at = Some(now());
    match s.store.save(lock, Some(record)) {
        Err(OAuthError::ReadOnlyStore { .. }) if !rotated => {}
        Err(OAuthError::ReadOnlyStore { .. }) => {
            // The new refresh token is only in memory: the next run will need a login.
            let _ = writeln!(
                std::io::stderr(),
                "postie: account {}: warning: the provider replaced the refresh token and \
                 there is no oauth_token_store_command to keep it",
                s.account
            );
        }
        other => other?,
    }
    Ok(token.access_token)
}

impl TokenRecord {
    /// Takes in a token reply: the access token, its expiry, a rotated refresh token.
    pub fn apply(&mut self, token: &wire::TokenReply) {
        self.access_token = Some(token.access_token.clone());
        self.expires_at = Some(now() + token.expires_in.unwrap_or(DEFAULT_LIFETIME));
        if let Some(rt) = &token.refresh_token {
            self.refresh_token = Some(rt.clone());
        }
        if let Some(scope) = &token.scope {
            self.scopes = wire::split_scopes(scope);
        }
    }
}

/// The identity provider of one operation: one HTTP client (its TLS set up once) for all
/// of the operation's requests, a device login's polls included.
pub(super) struct Idp<'a> {
    s: &'a Settings,
    client: FormClient,
}

impl<'a> Idp<'a> {
    pub(super) fn new(s: &'a Settings) -> Result<Idp<'a>, OAuthError> {
        let client = FormClient::new(&s.tls, s.timeout).map_err(|e| http_error(s, e))?;
        Ok(Idp { s, client })
    }

    /// One POST of `fields` to `url`.
    pub(super) fn post(
        &self,
        url: &str,
        fields: &[(&str, FormValue)],
    ) -> Result<FormReply, OAuthError> {
        self.client
            .post(url, fields)
            .map_err(|e| http_error(self.s, e))
    }

    /// A grant to the token endpoint: `grant`, then the client's id and, when the
    /// registration has one, its secret (client_secret_post).
    pub(super) fn token_grant(&self, grant: &[(&str, FormValue)]) -> Result<FormReply, OAuthError> {
        let provider = &self.s.provider;
        let mut fields = grant.to_vec();
        fields.push(("client_id", FormValue::Text(&provider.client_id)));
        if let Some(secret) = &provider.client_secret {
            fields.push(("client_secret", FormValue::Secret(secret)));
        }
        self.post(&provider.endpoints.token, &fields)
    }
}

fn http_error(s: &Settings, source: crate::fetch::FetchError) -> OAuthError {
    OAuthError::Http {
        account: s.account.clone(),
        source,
    }
}

/// A reply that is an error or not a reply, as our error.
pub(super) fn reply_error(
    s: &Settings,
    what: &'static str,
    url: &str,
    status: u16,
    e: ReplyError,
) -> OAuthError {
    match e {
        ReplyError::Provider(error) => OAuthError::Provider {
            account: s.account.clone(),
            what,
            error,
        },
        ReplyError::Malformed(why) => OAuthError::BadReply {
            account: s.account.clone(),
            url: crate::fetch::mask_url(url),
            status,
            why,
        },
    }
}
