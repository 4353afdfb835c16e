//! The hand-written POP3 client (RFC 1939, 2449, 2595, 5034, 3206, 6856) behind `postie pop3`.
//!
//! Layers, from pure to I/O:
//! - [`command`]: command types whose `Display` is the exact wire line.
//! - [`response`]: pure parsers for status lines (with RFC 2449/3206 response codes), CAPA,
//!   STAT, LIST and UIDL lines.
//! - [`codec`]: the multi-line reader, a small state machine that un-stuffs dots and finds the
//!   terminator across split reads.
//! - [`sasl`]: PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER and APOP encodings.
//! - [`client`]: the session, generic over any `BufRead + Write` stream.
//! - [`connect`]: TCP, implicit TLS and STLS over `crate::net` (the shared network layer), with read
//!   timeouts.
//! - [`state`]: which UIDLs were stored (journal, lock, atomic compaction).
//! - [`store`]: Maildir/eml delivery and the committer that makes messages durable in batches.
//! - [`sync`]: `pull`: the network loop, pipelining, the durability order, DELE; `mark_seen`.
//! - [`watch`]: `pull --watch`'s schedule (LOGIN-DELAY, back-off), pure.
//! - [`mda`]: `pull --mda` and `--filter`: the commands, `%F`/`%S`, exit-status meanings.
//! - [`retention`]: which stored messages `--delete`, `--delete-after` and
//!   `--delete-larger-than` delete (pure).
//!
//! It does not parse messages (see `crate::mail`) and never sees clap types.

pub mod client;
pub mod codec;
pub mod command;
pub mod connect;
pub mod mda;
pub mod response;
pub mod retention;
pub mod sasl;
pub mod state;
pub mod store;
pub mod sync;
pub mod watch;

use std::borrow::Cow;
use std::io;
use std::path::PathBuf;

use crate::exit::code;
use crate::net::IoClass;
use crate::tls::TlsError;

pub use response::RespCode;

/// How pulled messages are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Maildir: `tmp/`, `new/`, `cur/`.
    Maildir,
    /// One `<uidl>.eml` file per message.
    Eml,
    /// Appended to one mboxrd file.
    Mbox,
}

/// Errors of the POP3 client.
#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    #[error("{host}: could not resolve the host name: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("{host}: could not connect: {source}")]
    Connect { host: String, source: io::Error },
    #[error("{host}: no reply within {secs} s ({what})")]
    Timeout {
        host: String,
        what: String,
        secs: u64,
    },
    #[error("{host}: the server closed the connection ({what})")]
    Closed { host: String, what: String },
    #[error("{host}: connection error ({what}): {source}")]
    Io {
        host: String,
        what: String,
        source: io::Error,
    },
    #[error("{host}: protocol error: {why}")]
    Protocol { host: String, why: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A `-ERR` reply, with the command it answered (its text escaped when shown: it is the
    /// server's, and goes to a terminal).
    #[error("{host}: {command} refused: -ERR {}{}{}", code.as_ref().map(|c| format!("[{}] ", printable(&c.to_string()))).unwrap_or_default(), printable(text), oauth_error.as_ref().map(|e| format!(" (the server's OAuth error: {})", printable(e))).unwrap_or_default())]
    Refused {
        host: String,
        command: String,
        code: Option<RespCode>,
        text: String,
        /// The refusal came from an authentication step.
        auth: bool,
        /// What the server sent as an OAuth error challenge before the `-ERR` (XOAUTH2,
        /// OAUTHBEARER): `sasl::oauth_error`'s decoded, escaped and bounded text, because the
        /// `-ERR` line alone seldom says why (an expired token, a missing scope).
        oauth_error: Option<Box<str>>,
    },
    #[error("{host}: {why}")]
    Unavailable { host: String, why: String },
    #[error(
        "{host}: refusing to send a password over an unencrypted connection ({method}); use TLS, or --allow-insecure-auth"
    )]
    InsecureAuth { host: String, method: String },
    #[error("{}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{}: {why}", path.display())]
    State { path: PathBuf, why: String },
    #[error("{}: another postie pop3 pull is using this state file; retry later", path.display())]
    Locked { path: PathBuf },
    #[error("{what}: {why}")]
    Usage { what: String, why: String },
    /// `--mda`: the delivery agent failed (not EX_TEMPFAIL) or could not be run.
    #[error("--mda {}: {why}", printable(command))]
    Delivery { command: String, why: String },
    /// `--filter`: the filter exited 3 or more, or could not be run.
    #[error("--filter {}: {why}", printable(command))]
    Filter { command: String, why: String },
}

impl Pop3Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Pop3Error::Resolve { .. } => code::RESOLVE,
            Pop3Error::Connect { .. } => code::CONNECT,
            Pop3Error::Timeout { .. } => code::TIMEOUT,
            Pop3Error::Closed { .. } => code::PARTIAL,
            Pop3Error::Io { .. } => code::PARTIAL,
            Pop3Error::Protocol { .. } => code::PROTOCOL,
            Pop3Error::Tls(e) => e.exit_code(),
            Pop3Error::Refused { code: c, auth, .. } => match c {
                Some(c) if c.is_temporary() => code::TEMPFAIL,
                Some(RespCode::SysPerm) => code::UNAVAILABLE,
                Some(RespCode::Auth) => code::AUTH,
                _ if *auth => code::AUTH,
                _ => code::FAILED,
            },
            Pop3Error::Unavailable { .. } => code::UNAVAILABLE,
            Pop3Error::InsecureAuth { .. } => code::CONFIG,
            Pop3Error::Write { .. } | Pop3Error::State { .. } => code::WRITE,
            Pop3Error::Locked { .. } => code::TEMPFAIL,
            Pop3Error::Usage { .. } => code::USAGE,
            // The local side of delivery failed, as a write error does: the user must look.
            Pop3Error::Delivery { .. } | Pop3Error::Filter { .. } => code::WRITE,
        }
    }

    /// Turns an I/O error on the connection into the right kind (timeout, closed, other).
    pub fn from_io(host: &str, what: &str, secs: u64, err: io::Error) -> Pop3Error {
        match IoClass::of(&err) {
            IoClass::Timeout => Pop3Error::Timeout {
                host: host.to_owned(),
                what: what.to_owned(),
                secs,
            },
            IoClass::Closed => Pop3Error::Closed {
                host: host.to_owned(),
                what: what.to_owned(),
            },
            // Mid-session, an unreachable peer is just a broken connection.
            IoClass::Unreachable | IoClass::Other => Pop3Error::Io {
                host: host.to_owned(),
                what: what.to_owned(),
                source: err,
            },
        }
    }
}

/// Server or sender text made safe to show on a terminal: control characters (C0, DEL, C1)
/// and the bidi controls that reorder what a terminal shows become `\x1b` / `\u{202e}`
/// escapes, so a server cannot move the cursor, retitle the window or hide text. For
/// `--json` output JSON's own escaping applies instead.
pub fn printable(text: &str) -> Cow<'_, str> {
    let special =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !special(c) => out.push(c),
            c if u32::from(c) < 0x80 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_controls_only() {
        assert!(matches!(printable("Mailbox locked, ok"), Cow::Borrowed(_)));
        assert_eq!(printable("a\x1b]0;pwned\x07b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(printable("x\r\ny\tz\x7f"), "x\\x0d\\x0ay\\x09z\\x7f");
        assert_eq!(
            printable("\u{9b}2J \u{202e}gnp.exe"),
            "\\u{9b}2J \\u{202e}gnp.exe"
        );
        assert_eq!(printable("J\u{fc}rgen \u{1f600}"), "J\u{fc}rgen \u{1f600}");
    }

    #[test]
    fn refusals_show_escaped_server_text() {
        let e = Pop3Error::Refused {
            host: "h".into(),
            command: "PASS".into(),
            code: Some(RespCode::Other("X\x1b".into())),
            text: "no\x1b[2J\x1b]0;owned\x07".into(),
            auth: true,
            oauth_error: None,
        };
        let shown = e.to_string();
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert_eq!(
            shown,
            "h: PASS refused: -ERR [X\\x1b] no\\x1b[2J\\x1b]0;owned\\x07"
        );
        let e = Pop3Error::Refused {
            host: "h".into(),
            command: "AUTH".into(),
            code: None,
            text: "Authentication failed.".into(),
            auth: true,
            oauth_error: Some(r#"{"status":"invalid_token"}"#.into()),
        };
        assert_eq!(
            e.to_string(),
            r#"h: AUTH refused: -ERR Authentication failed. (the server's OAuth error: {"status":"invalid_token"})"#
        );
        assert_eq!(e.exit_code(), 77);
    }
}
