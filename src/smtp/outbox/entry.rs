//! One queued message's record, `<id>.json` beside `<id>.eml`: the envelope (sender,
//! recipients), the connection to send it over without any secret value, the DSN parameters,
//! and where it stands (state, attempts, next try, the last error and the server's reply).
//! Pure: (de)serialisation and the rules on states.
//!
//! The connection is what the user gave (`--account`, `--server`, `--user`, the password
//! *source*, TLS and AUTH choices): at flush time the account is read again and the password
//! obtained again, as msmtpq replays msmtp's arguments.

use std::path::PathBuf;

use lettre::Address;
use lettre::address::Envelope;
use serde::{Deserialize, Serialize};

use crate::smtp::Dsn;

/// The format version of the `.json` files.
pub const VERSION: u32 = 1;

/// How to reach the server again. Relative paths were made absolute when queued (a flush
/// from cron runs elsewhere). Never a password or token: only where one comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Connection {
    pub account: Option<String>,
    pub server: Option<String>,
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
    /// `required`, `opportunistic` or `none`.
    pub tls: Option<String>,
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    /// `FILE[:env:VAR|:file:PATH|:command:CMD]`: a pass phrase source, never the phrase.
    pub cert: Option<String>,
    pub key: Option<PathBuf>,
    pub pinnedpubkey: Option<String>,
    pub timeout: Option<u64>,
    /// `--auth`: `auto`, `plain`, `login`, `xoauth2`, `oauthbearer`.
    pub auth: Option<String>,
    pub allow_insecure_auth: bool,
    pub helo: Option<String>,
}

impl Connection {
    /// A short name for listings: the account, else the server.
    pub fn label(&self) -> String {
        match (&self.account, &self.server) {
            (Some(a), _) => a.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => "-".to_owned(),
        }
    }
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Waiting for the next flush.
    Queued,
    /// A flush started its transaction; the final `.` was not sent (safe to send again).
    Sending,
    /// The final `.` may have reached the server, whose reply never came: maybe delivered.
    /// Never sent again without `--resend-in-doubt`.
    InDoubt,
    /// A temporary failure (4xx, no network, timeout): tried again after `next_try`.
    Deferred,
    /// A permanent failure (5xx): kept aside with the server's reply.
    Failed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::InDoubt => "in-doubt",
            State::Deferred => "deferred",
            State::Failed => "failed",
        }
    }
}

/// A server's reply kept with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReply {
    pub code: u16,
    pub text: String,
}

/// One message of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub version: u32,
    pub id: String,
    pub state: State,
    /// Unix seconds.
    pub queued_at: i64,
    pub updated_at: i64,
    /// Transactions started (including the `--queue-on-failure` attempt).
    pub attempts: u32,
    /// Unix seconds; for `deferred` only.
    pub next_try: Option<i64>,
    pub message_id: Option<String>,
    /// MAIL FROM; empty for the null sender.
    pub from: String,
    pub to: Vec<String>,
    /// The message's size in octets.
    pub size: u64,
    pub connection: Connection,
    #[serde(default)]
    pub dsn: Dsn,
    pub last_error: Option<String>,
    /// The reply of a permanent failure (or of the last deferral).
    pub reply: Option<StoredReply>,
}

/// What `send` hands to the outbox: everything but the id, state and times.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub envelope: Envelope,
    pub message_id: Option<String>,
    pub connection: Connection,
    pub dsn: Dsn,
    /// `queued`, or `in-doubt` for a message whose immediate attempt ended after its final dot.
    pub state: State,
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl Entry {
    /// The record of `new`, queued at `now` under `id`.
    pub fn new(new: NewEntry, id: String, size: u64, now: i64) -> Entry {
        Entry {
            version: VERSION,
            id,
            state: new.state,
            queued_at: now,
            updated_at: now,
            attempts: new.attempts,
            next_try: None,
            message_id: new.message_id,
            from: new
                .envelope
                .from()
                .map(ToString::to_string)
                .unwrap_or_default(),
            to: new.envelope.to().iter().map(ToString::to_string).collect(),
            size,
            connection: new.connection,
            dsn: new.dsn,
            last_error: new.last_error,
            reply: None,
        }
    }

    /// The SMTP envelope again.
    pub fn envelope(&self) -> Result<Envelope, String> {
        let parse = |a: &str| {
            a.parse::<Address>()
                .map_err(|e| format!("address {a:?}: {e}"))
        };
        let from = match self.from.as_str() {
            "" => None,
            a => Some(parse(a)?),
        };
        let to = self.to.iter().map(|a| parse(a)).collect::<Result<_, _>>()?;
        Envelope::new(from, to).map_err(|e| e.to_string())
    }

    /// Whether a flush that was not asked for this very message sends it now.
    pub fn due(&self, now: i64, ignore_schedule: bool, resend_in_doubt: bool) -> bool {
        match self.state {
            State::Queued | State::Sending => true,
            State::Deferred => ignore_schedule || self.next_try.is_none_or(|t| t <= now),
            State::InDoubt => resend_in_doubt,
            State::Failed => false,
        }
    }
}

/// True when `id` can name an entry: letters, digits, `-` and `.` but not leading (so never
/// a path outside the outbox, nor a hidden temporary file).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let envelope = Envelope::new(
            Some("a@x.test".parse().expect("from")),
            vec!["b@y.test".parse().expect("to")],
        )
        .expect("envelope");
        let new = NewEntry {
            envelope,
            message_id: Some("<1@x.test>".into()),
            connection: Connection {
                account: Some("work".into()),
                password_env: Some("PW".into()),
                ..Connection::default()
            },
            dsn: Dsn::default(),
            state: State::Queued,
            attempts: 0,
            last_error: None,
        };
        Entry::new(new, "20261203T184700-000000001-1".into(), 42, 1000)
    }

    #[test]
    fn round_trips_through_json_and_gives_the_envelope_back() {
        let e = entry();
        let text = serde_json::to_string(&e).expect("json");
        assert!(text.contains(r#""state":"queued""#), "{text}");
        assert!(text.contains(r#""password_env":"PW""#), "{text}");
        let back: Entry = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, e);
        let env = back.envelope().expect("envelope");
        assert_eq!(
            env.from().map(ToString::to_string).as_deref(),
            Some("a@x.test")
        );
        assert_eq!(env.to().len(), 1);
        let bad = Entry {
            to: vec!["not an address".into()],
            ..e
        };
        assert!(bad.envelope().is_err());
    }

    #[test]
    fn which_states_a_flush_sends() {
        let at = |state, next_try| Entry {
            state,
            next_try,
            ..entry()
        };
        assert!(at(State::Queued, None).due(0, false, false));
        assert!(at(State::Sending, None).due(0, false, false));
        assert!(!at(State::Deferred, Some(100)).due(99, false, false));
        assert!(at(State::Deferred, Some(100)).due(100, false, false));
        assert!(at(State::Deferred, Some(100)).due(0, true, false));
        assert!(!at(State::InDoubt, None).due(0, true, false));
        assert!(at(State::InDoubt, None).due(0, false, true));
        assert!(!at(State::Failed, None).due(0, true, true));
    }

    #[test]
    fn ids_never_leave_the_folder() {
        assert!(valid_id("20261203T184700-000000001-1"));
        for bad in ["", "../x", "a/b", ".hidden", "a b", "x\n"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
