//! SMTP submission (`postie send`): message composition over lettre's builder
//! ([`compose`](mod@compose)) under our header rules ([`headers`]), the session with lettre's command types and SASL mechanisms (OAUTHBEARER from `pop3::sasl`) over a socket
//! we own, with our own deadline and policies ([`transport`]; TLS by `crate::tls::TlsClient`), JSON
//! Lines batches over one connection ([`batch`]), the outbox that keeps messages on disk
//! until a flush sends them ([`outbox`]), and the mapping of replies and I/O errors to our
//! kinds and exit codes ([`classify`]).
//!
//! It leaves flag parsing to `cli::send`, passwords to `secret`, and TLS settings and
//! handshakes to `tls`.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::exit::code;

pub mod aliases;
pub mod batch;
pub mod charset;
pub mod classify;
pub mod compose;
pub mod delivery_log;
pub mod dkim;
pub mod downgrade;
pub mod dsn;
pub mod headers;
pub mod idna;
pub mod outbox;
pub mod prepared;
pub mod transport;

pub use compose::{AttachSpec, Composed, InlineSpec, MessageSpec, compose};
pub use dsn::Dsn;
pub use transport::{AuthMechanism, Renew, Session, Settings};

/// What goes with every message beyond its composition: the delivery notifications asked
/// for and the DKIM signer. The CLI builds it once; single sends and batches use it alike.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub dsn: Dsn,
    pub dkim: Option<dkim::Signer>,
}

impl Delivery {
    /// The message as it leaves: signed when a DKIM key was given.
    pub fn finish(&self, bytes: Vec<u8>) -> Result<Vec<u8>, SmtpError> {
        match &self.dkim {
            Some(signer) => signer.sign(&bytes),
            None => Ok(bytes),
        }
    }

    /// [`finish`](Self::finish) for a server that takes 8-bit content (`eight_bit_ok`) or
    /// may not (no 8BITMIME, or not known yet: queued). Signed 8-bit content bound for the
    /// latter is converted to 7-bit first (RFC 6152, as the session would convert it),
    /// because a conversion after signing would break the signature.
    pub fn finish_for(
        &self,
        bytes: Vec<u8>,
        eight_bit_ok: bool,
        server: &str,
    ) -> Result<Vec<u8>, SmtpError> {
        if self.dkim.is_none() || eight_bit_ok || bytes.is_ascii() {
            return self.finish(bytes);
        }
        let converted = downgrade::to_7bit(&bytes).map_err(|e| SmtpError::EightBitNotOffered {
            server: server.to_owned(),
            why: e.0,
        })?;
        self.finish(converted)
    }
}

/// What went wrong with a server's reply: its code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl std::fmt::Display for Reply {
    /// The code and text, control characters escaped: the text comes from the server.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, printable(&self.text))
    }
}

/// `text` with every control character escaped (`\x1b`, `\u{9b}`), for anything a server
/// sent that is printed on a terminal: an ESC sequence in a reply could otherwise rewrite
/// the screen, hide the real error or set the terminal's title.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&escape_char(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `c` as `\xHH` (C0 controls and DEL) or `\u{HH}` (other non-printing characters).
pub fn escape_char(c: char) -> String {
    match c {
        '\0'..='\x1f' | '\x7f' => format!("\\x{:02x}", u32::from(c)),
        _ => format!("\\u{{{:x}}}", u32::from(c)),
    }
}

/// Errors of the smtp module. Display is `<what>: <why>`.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// A flag value or batch field that does not make a valid message.
    #[error("{flag}: {why}")]
    Usage { flag: String, why: String },
    /// An attachment, inline part or body file could not be read.
    #[error("{what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("composing the message: {0}")]
    Compose(String),
    #[error("{server}: could not resolve the host name: {detail}")]
    Resolve { server: String, detail: String },
    #[error("{server}: could not connect: {detail}")]
    Connect { server: String, detail: String },
    #[error("{server}: timed out after {secs} s {stage}")]
    Timeout {
        server: String,
        secs: u64,
        stage: &'static str,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(
        "{server}: the server does not offer STARTTLS (use smtps:// or, on a trusted network only, --tls opportunistic)"
    )]
    StartTlsNotOffered { server: String },
    /// None of the mechanisms wanted (`--auth`, an OAuth2 account's, or PLAIN and LOGIN) is
    /// in EHLO's AUTH line; both lists are named, so the user sees what to change.
    #[error(
        "{server}: the server offers no usable AUTH mechanism (wanted: {wanted}; offered: {offered})"
    )]
    AuthNotOffered {
        server: String,
        wanted: String,
        offered: String,
    },
    #[error(
        "{server}: refusing to send the password over an unencrypted connection (use TLS, or --allow-insecure-auth on a trusted network)"
    )]
    InsecureAuth { server: String },
    #[error("{server}: authentication failed: {reply}{}", oauth_error.as_ref().map(|e| format!(" (the server's OAuth error: {e})")).unwrap_or_default())]
    AuthFailed {
        server: String,
        reply: Reply,
        /// The OAuth error (base64 JSON) an XOAUTH2 or OAUTHBEARER server sent as a challenge
        /// before the reply: decoded, escaped and bounded by `pop3::sasl::oauth_error`.
        oauth_error: Option<Box<str>>,
    },
    /// The server refused the sender, a recipient or the message.
    #[error("{server}: {what} rejected: {reply}")]
    Rejected {
        server: String,
        what: String,
        reply: Reply,
    },
    #[error("{server}: message too big for the server: {reply}")]
    TooBig { server: String, reply: Reply },
    #[error("{server}: service unavailable: {reply}")]
    Unavailable { server: String, reply: Reply },
    /// The message holds 8-bit bytes, the server does not offer 8BITMIME (RFC 6152), and
    /// the message cannot be converted to 7-bit (`why`).
    #[error(
        "{server}: the message holds 8-bit (non-ASCII) bytes and the server does not offer 8BITMIME; converting it to 7-bit failed: {why}: not sent"
    )]
    EightBitNotOffered { server: String, why: &'static str },
    #[error("{server}: the server closed the connection {stage}")]
    Dropped { server: String, stage: &'static str },
    #[error("{server}: {detail}")]
    Protocol { server: String, detail: String },
    /// A UTF-8 address or header (RFC 6531) and a server without SMTPUTF8: refused before
    /// MAIL FROM, so nothing is sent that would bounce later.
    #[error("{server}: {what} needs SMTPUTF8, which the server does not offer (nothing was sent)")]
    NeedsSmtpUtf8 { server: String, what: String },
    /// The DKIM key file may be read by others.
    #[error(
        "--dkim-key {}: the private key is readable by others (mode {mode:o}); run: chmod 600 {}",
        path.display(),
        path.display()
    )]
    DkimKeyUnsafe { path: PathBuf, mode: u32 },
    /// The DKIM key file holds no usable key, or the domain or selector is not a name.
    #[error("--dkim-key {}: {why}", path.display())]
    DkimKey { path: PathBuf, why: String },
    /// `--require-dsn` and a server without DSN (RFC 3461).
    #[error(
        "{server}: the server does not offer DSN (delivery notifications), which --require-dsn asks for (nothing was sent)"
    )]
    DsnNotOffered { server: String },
    #[error("--batch {source_name}: {source}")]
    BatchRead {
        source_name: String,
        source: std::io::Error,
    },
    /// A refused token could not be renewed (the OAuth2 refresh failed).
    #[error(transparent)]
    Renew(#[from] RenewError),
    /// The hook before a message's final `.` failed (the outbox could not journal it):
    /// the message was not ended, so the server drops it.
    #[error("journaling the message before its final dot: {source}")]
    Checkpoint { source: std::io::Error },
    /// A batch's result line could not be written to stdout.
    #[error("writing the --batch results to stdout: {source}")]
    Output { source: std::io::Error },
}

/// Why a refused secret could not be renewed: the renewer's own error (its message names
/// the account and what to do) and its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct RenewError {
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
    pub code: u8,
}

impl SmtpError {
    pub fn usage(flag: impl Into<String>, why: impl Into<String>) -> SmtpError {
        SmtpError::Usage {
            flag: flag.into(),
            why: why.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            SmtpError::Usage { .. } => code::USAGE,
            SmtpError::Read { .. } | SmtpError::BatchRead { .. } => code::READ,
            SmtpError::Output { .. } | SmtpError::Checkpoint { .. } => code::WRITE,
            SmtpError::Compose(_) => code::FAILED,
            SmtpError::Resolve { .. } => code::RESOLVE,
            SmtpError::Connect { .. } => code::CONNECT,
            SmtpError::Timeout { .. } => code::TIMEOUT,
            SmtpError::Tls(e) => e.exit_code(),
            SmtpError::StartTlsNotOffered { .. }
            | SmtpError::AuthNotOffered { .. }
            | SmtpError::EightBitNotOffered { .. } => code::UNAVAILABLE,
            SmtpError::InsecureAuth { .. } => code::CONFIG,
            SmtpError::AuthFailed { reply, .. } if reply.code < 500 => code::TEMPFAIL,
            SmtpError::AuthFailed { .. } => code::AUTH,
            SmtpError::Rejected { reply, .. } | SmtpError::TooBig { reply, .. }
                if reply.code < 500 =>
            {
                code::TEMPFAIL
            }
            SmtpError::Rejected { .. } | SmtpError::TooBig { .. } => code::REJECTED,
            SmtpError::Unavailable { reply, .. } if reply.code < 500 => code::TEMPFAIL,
            SmtpError::Unavailable { .. } => code::UNAVAILABLE,
            SmtpError::Dropped { .. } => code::EMPTY_REPLY,
            SmtpError::Protocol { .. } => code::PROTOCOL,
            SmtpError::NeedsSmtpUtf8 { .. } => code::REJECTED,
            SmtpError::DsnNotOffered { .. } => code::UNAVAILABLE,
            SmtpError::DkimKeyUnsafe { .. } | SmtpError::DkimKey { .. } => code::CONFIG,
            SmtpError::Renew(e) => e.code,
        }
    }

    /// The server's reply code, when the error carries one.
    pub fn reply_code(&self) -> Option<u16> {
        match self {
            SmtpError::AuthFailed { reply, .. }
            | SmtpError::Rejected { reply, .. }
            | SmtpError::TooBig { reply, .. }
            | SmtpError::Unavailable { reply, .. } => Some(reply.code),
            _ => None,
        }
    }

    /// True when the connection can no longer be used (the next message needs a new one).
    pub fn breaks_connection(&self) -> bool {
        !matches!(
            self,
            SmtpError::Usage { .. }
                | SmtpError::Read { .. }
                | SmtpError::Compose(_)
                | SmtpError::DkimKeyUnsafe { .. }
                | SmtpError::DkimKey { .. }
                | SmtpError::NeedsSmtpUtf8 { .. }
                | SmtpError::DsnNotOffered { .. }
                | SmtpError::Rejected { .. }
                | SmtpError::TooBig { .. }
                | SmtpError::EightBitNotOffered { .. }
        )
    }
}
