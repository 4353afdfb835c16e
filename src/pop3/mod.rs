//! The hand-written POP3 client (RFC 1939, 2449, 2595, 5034, 3206, 6856) behind `postie pop3`.
//!
//! Layers, from pure to I/O:
//! - [`command`]: command types whose `Display` is the exact wire line.
//! - [`response`]: pure parsers for status lines (with RFC 2449/3206 response codes), CAPA,
//!   STAT, LIST and UIDL lines.
//! - [`codec`]: the multi-line reader, a small state machine that un-stuffs dots and finds the
//!   terminator across split reads.
//! - [`sasl`]: PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and APOP encodings.
//! - [`client`]: the session, generic over any `BufRead + Write` stream.
//! - [`connect`]: TCP, implicit TLS and STLS (with `crate::tls::TlsClient`), with read
//!   timeouts.
//! - [`state`]: which UIDLs were stored (journal, lock, atomic compaction).
//! - [`store`]: Maildir/eml delivery and the committer that makes messages durable in batches.
//! - [`sync`]: `pull`: the network loop, pipelining, the durability order, DELE.
//!
//! It does not parse messages (see `crate::mail`) and never sees clap types.

pub mod client;
pub mod codec;
pub mod command;
pub mod connect;
pub mod response;
pub mod sasl;
pub mod state;
pub mod store;
pub mod sync;

use std::io;
use std::path::PathBuf;

use crate::error::code;
use crate::tls::TlsError;

pub use response::RespCode;

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
    /// A `-ERR` reply, with the command it answered.
    #[error("{host}: {command} refused: -ERR {}{text}", code.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default())]
    Refused {
        host: String,
        command: String,
        code: Option<RespCode>,
        text: String,
        /// The refusal came from an authentication step.
        auth: bool,
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
        }
    }

    /// Turns an I/O error on the connection into the right kind (timeout, closed, other).
    pub fn from_io(host: &str, what: &str, secs: u64, err: io::Error) -> Pop3Error {
        match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Pop3Error::Timeout {
                host: host.to_owned(),
                what: what.to_owned(),
                secs,
            },
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Pop3Error::Closed {
                host: host.to_owned(),
                what: what.to_owned(),
            },
            _ => Pop3Error::Io {
                host: host.to_owned(),
                what: what.to_owned(),
                source: err,
            },
        }
    }
}
