//! The outbox: messages kept on disk until `postie outbox flush` sends them (`send --queue`,
//! `--queue-on-failure`). It owns the spool format ([`entry`]: one JSON file per message
//! beside its `.eml`), the files and the flush lock ([`spool`]), the retry schedule
//! ([`backoff`], pure) and the flush loop ([`flush`]: one connection per account, every state
//! change written durably before the step it announces).
//!
//! No secret is ever written here: an entry names where the password comes from (the account,
//! an environment variable, a file, a command, `~/.netrc`), and the CLI layer turns that into
//! a session again at flush time.

use std::io;
use std::path::PathBuf;

use crate::exit::code;

pub mod backoff;
pub mod entry;
pub mod flush;
pub mod spool;

pub use entry::{Connection, Entry, State, StoredReply};
pub use flush::{ConnectFailure, FlushOptions, Outcome, Report, Summary, flush};
pub use spool::Spool;

/// Errors of the outbox. Display is `<what>: <why>`.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("outbox: no folder for it ($XDG_STATE_HOME and $HOME are unset): give --outbox DIR")]
    NoLocation,
    #[error("outbox {}: no message {id:?} (see postie outbox list)", dir.display())]
    NoSuchEntry { dir: PathBuf, id: String },
    #[error("outbox {}: unreadable entry: {why}", path.display())]
    Corrupt { path: PathBuf, why: String },
    #[error("outbox {}: another postie has held the flush lock for {secs} s", path.display())]
    Busy { path: PathBuf, secs: u64 },
    /// `--queue` for a connection whose password only a prompt could give: a flush from
    /// cron could never send it.
    #[error(
        "--queue: the password of {user}@{host} would come from a prompt, which a later \
         `postie outbox flush` (from cron) cannot answer: give --password-env, \
         --password-file, --password-command, an account password source or a ~/.netrc entry"
    )]
    NeedsPrompt { user: String, host: String },
}

impl OutboxError {
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> OutboxError {
        OutboxError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            OutboxError::Io { .. } => code::WRITE,
            OutboxError::NoLocation | OutboxError::NeedsPrompt { .. } => code::CONFIG,
            OutboxError::NoSuchEntry { .. } => code::USAGE,
            OutboxError::Corrupt { .. } => code::FAILED,
            OutboxError::Busy { .. } => code::TEMPFAIL,
        }
    }
}

/// True for an exit code that says "try again later": a 4xx reply, no network, a refused
/// connection, a timeout, a connection the server closed.
pub fn is_temporary(exit_code: u8) -> bool {
    matches!(
        exit_code,
        code::TEMPFAIL | code::CONNECT | code::TIMEOUT | code::RESOLVE | code::EMPTY_REPLY
    )
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    crate::clock::unix_now()
}

/// `secs` as RFC 3339 UTC (`2026-12-03T18:47:00Z`), for listings.
pub fn rfc3339(secs: i64) -> String {
    crate::clock::rfc3339(secs).unwrap_or_else(|| secs.to_string())
}
