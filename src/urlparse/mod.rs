//! CPython 3.13's `urllib.parse`, exactly, as pure functions over `str`.
//!
//! Ported line by line from CPython 3.13.0's `Lib/urllib/parse.py` (and the parts of
//! `ipaddress` that `urlsplit` relies on): [`split`] (urlsplit, urlparse, urlunsplit,
//! urlunparse and the netloc attributes), [`join`] (urljoin, urldefrag), [`query`]
//! (parse_qs, parse_qsl, urlencode), [`quote`](mod@quote) (quote, quote_plus, unquote, unquote_plus) and
//! [`codec`] (the few Python codecs these take: utf-8, latin-1, ascii, cp1252).
//!
//! Per-call failures are [`PyError`] values carrying Python's exception name and message, so
//! a batch can report them and go on. One deliberate deviation from 3.13.0: the bracketed-host
//! forms that the CVE-2025-0938 fix (CPython 3.13.2) rejects are rejected here too, with that
//! fix's message ("Invalid IPv6 URL").
//!
//! Left out: the bytes variants (`*Bytes` results, `quote_from_bytes` on raw input), the
//! deprecated `split*` helpers, caches.

use std::fmt;

use crate::exit::code;

pub mod codec;
pub mod join;
mod printable;
pub mod pyrepr;
pub mod pyvalue;
pub mod query;
pub mod quote;
pub mod split;

pub use codec::{Codec, Errors};
pub use join::{urldefrag, urljoin};
pub use query::{QsOptions, QsValue, QuoteVia, parse_qs, parse_qsl, urlencode};
pub use quote::{quote, quote_plus, unquote, unquote_plus};
pub use split::{ParseResult, SplitResult, urlparse, urlsplit, urlunparse, urlunsplit};

/// Errors of the URL tools that end a command (per-URL failures are [`PyError`] values).
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Standard input could not be read.
    #[error("stdin: {0}")]
    Read(#[source] std::io::Error),
    /// A single input (given as an argument, not in a batch) failed.
    #[error("{input}: {error}")]
    Failed { input: String, error: PyError },
}

impl UrlError {
    pub fn exit_code(&self) -> u8 {
        match self {
            UrlError::Read(_) => code::READ,
            UrlError::Failed { .. } => code::FAILED,
        }
    }
}

/// The Python exception a call would raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyErrorKind {
    ValueError,
    TypeError,
    UnicodeEncodeError,
    UnicodeDecodeError,
    LookupError,
}

impl PyErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            PyErrorKind::ValueError => "ValueError",
            PyErrorKind::TypeError => "TypeError",
            PyErrorKind::UnicodeEncodeError => "UnicodeEncodeError",
            PyErrorKind::UnicodeDecodeError => "UnicodeDecodeError",
            PyErrorKind::LookupError => "LookupError",
        }
    }
}

/// A Python exception: its class and `str(exc)`. Displays as `Class: message`, as Python's
/// traceback's last line does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyError {
    pub kind: PyErrorKind,
    pub message: String,
}

impl PyError {
    pub fn value(message: impl Into<String>) -> PyError {
        PyError {
            kind: PyErrorKind::ValueError,
            message: message.into(),
        }
    }
}

impl fmt::Display for PyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for PyError {}
