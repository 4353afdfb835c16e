//! The errors of `postie fetch` and their exit codes (curl's numbers), and the
//! classification of ureq's errors into them.

use std::io;

use crate::exit::code;
use crate::tls::{TlsError, VerifyFailure};

/// Errors of the HTTP engine. Display is `<input>: <cause>`.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: {why}")]
    BadUrl { url: String, why: String },
    #[error("{url}: could not resolve host {host}")]
    Resolve { url: String, host: String },
    #[error("{url}: could not connect: {why}")]
    Connect { url: String, why: String },
    #[error("{url}: timed out ({why})")]
    Timeout { url: String, why: String },
    /// The transfer stalled: no data for the idle time, or too slow (`-Y`/`-y`).
    #[error("{url}: the transfer stalled: {why}")]
    Stalled { url: String, why: String },
    #[error("{url}: {source}")]
    Tls { url: String, source: TlsError },
    #[error("{url}: the server's reply does not follow HTTP: {why}")]
    Protocol { url: String, why: String },
    #[error("{url}: the server closed the connection without replying")]
    EmptyReply { url: String },
    #[error("{url}: the transfer ended before all the data arrived: {why}")]
    Partial { url: String, why: String },
    #[error("{url}: the requested URL returned error: {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("{what}: {source}")]
    Write { what: String, source: io::Error },
    #[error("{what}: {source}")]
    Read { what: String, source: io::Error },
    #[error("{url}: cannot resume: {why}")]
    Range { url: String, why: String },
    #[error("{url}: maximum ({max}) redirects followed")]
    TooManyRedirects { url: String, max: u32 },
    #[error("{url}: could not decode the response body: {why}")]
    Decode { url: String, why: String },
    #[error("{url}: {why}")]
    Other { url: String, why: String },
    /// The cookie jar could not be read, locked or saved.
    #[error(transparent)]
    Cookies(#[from] crate::cookies::CookieError),
    /// TLS could not be set up before any request (`--cacert`, `--cert`, `--key`).
    #[error(transparent)]
    TlsSetup(#[from] TlsError),
}

impl FetchError {
    pub fn exit_code(&self) -> u8 {
        match self {
            FetchError::BadUrl { .. } => code::URL_MALFORMED,
            FetchError::Resolve { .. } => code::RESOLVE,
            FetchError::Connect { .. } => code::CONNECT,
            FetchError::Timeout { .. } | FetchError::Stalled { .. } => code::TIMEOUT,
            FetchError::Tls { source, .. } | FetchError::TlsSetup(source) => source.exit_code(),
            FetchError::Cookies(e) => e.exit_code(),
            FetchError::Protocol { .. } => code::PROTOCOL,
            FetchError::EmptyReply { .. } => code::EMPTY_REPLY,
            FetchError::Partial { .. } => code::PARTIAL,
            FetchError::HttpStatus { .. } => code::HTTP_ERROR,
            FetchError::Write { .. } => code::WRITE,
            FetchError::Read { .. } => code::READ,
            FetchError::Range { .. } => code::RANGE,
            FetchError::TooManyRedirects { .. } => code::TOO_MANY_REDIRECTS,
            FetchError::Decode { .. } => code::BAD_ENCODING,
            FetchError::Other { .. } => code::FAILED,
        }
    }

    /// Worth another try with `--retry`: connection failures and timeouts.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            FetchError::Connect { .. }
                | FetchError::Timeout { .. }
                | FetchError::Stalled { .. }
                | FetchError::EmptyReply { .. }
                | FetchError::Partial { .. }
        )
    }

    pub fn write(what: impl Into<String>, source: io::Error) -> FetchError {
        FetchError::Write {
            what: what.into(),
            source,
        }
    }
}

/// Classifies an error of a request (before the body was read).
pub fn from_ureq(url: &str, host: &str, err: ureq::Error) -> FetchError {
    let url = url.to_owned();
    let err = match crate::tls::http::into_tls_error(err) {
        Ok(source) => return FetchError::Tls { url, source },
        Err(other) => other,
    };
    if let Some(tls) = tls_failure(host, &err) {
        return FetchError::Tls { url, source: tls };
    }
    match err {
        ureq::Error::HostNotFound => FetchError::Resolve {
            url,
            host: host.to_owned(),
        },
        ureq::Error::ConnectionFailed => FetchError::Connect {
            url,
            why: "connection failed".into(),
        },
        ureq::Error::Timeout(t) => timeout(url, t),
        ureq::Error::BadUri(why) => FetchError::BadUrl { url, why },
        ureq::Error::Http(e) => FetchError::BadUrl {
            url,
            why: e.to_string(),
        },
        ureq::Error::InvalidProxyUrl => FetchError::BadUrl {
            url,
            why: "invalid proxy URL".into(),
        },
        ureq::Error::ConnectProxyFailed(why) => FetchError::Connect {
            url,
            why: format!("proxy: {why}"),
        },
        ureq::Error::Protocol(e) => FetchError::Protocol {
            url,
            why: e.to_string(),
        },
        ureq::Error::LargeResponseHeader(_, _) => FetchError::Protocol {
            url,
            why: "response header too large".into(),
        },
        ureq::Error::Decompress(enc, e) => FetchError::Decode {
            url,
            why: format!("{enc}: {e}"),
        },
        ureq::Error::Io(e) if is_resolve_failure(&e) => FetchError::Resolve {
            url,
            host: host.to_owned(),
        },
        ureq::Error::Io(e) => from_io(url, e, false),
        other => FetchError::Other {
            url,
            why: other.to_string(),
        },
    }
}

/// Classifies an I/O error; `in_body` tells whether the response had begun.
pub fn from_io(url: String, e: io::Error, in_body: bool) -> FetchError {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()) {
        match inner {
            ureq::Error::Timeout(t) => return timeout(url, *t),
            ureq::Error::Decompress(enc, err) => {
                return FetchError::Decode {
                    url,
                    why: format!("{enc}: {err}"),
                };
            }
            _ => {}
        }
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => FetchError::Connect {
            url,
            why: "connection refused".into(),
        },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FetchError::Timeout {
            url,
            why: e.to_string(),
        },
        io::ErrorKind::InvalidData if !in_body => FetchError::Protocol {
            url,
            why: e.to_string(),
        },
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
            if !in_body =>
        {
            FetchError::EmptyReply { url }
        }
        _ if in_body => FetchError::Partial {
            url,
            why: e.to_string(),
        },
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => FetchError::Connect {
            url,
            why: e.to_string(),
        },
        _ => FetchError::Other {
            url,
            why: e.to_string(),
        },
    }
}

/// getaddrinfo's failures, as std reports them.
fn is_resolve_failure(e: &io::Error) -> bool {
    let m = e.to_string();
    m.contains("failed to lookup address") || m.contains("Name or service not known")
}

fn timeout(url: String, t: ureq::Timeout) -> FetchError {
    if t == ureq::Timeout::PerRead {
        return FetchError::Stalled {
            url,
            why:
                "no data arrived within the --idle-timeout (or the --speed-time with --speed-limit)"
                    .into(),
        };
    }
    FetchError::Timeout {
        url,
        why: timeout_name(t).into(),
    }
}

fn timeout_name(t: ureq::Timeout) -> &'static str {
    match t {
        ureq::Timeout::Connect | ureq::Timeout::Resolve => "--connect-timeout",
        _ => "--max-time",
    }
}

/// A TLS failure anywhere in the error's chain, classified by `crate::tls`.
fn tls_failure(host: &str, err: &ureq::Error) -> Option<TlsError> {
    let is_tls = matches!(err, ureq::Error::Tls(_) | ureq::Error::NativeTls(_))
        || VerifyFailure::from_error(err).is_some()
        || chain_mentions(err, &["ssl routines", "handshake", "certificate"]);
    is_tls.then(|| TlsError::handshake(host, err))
}

fn chain_mentions(err: &(dyn std::error::Error + 'static), words: &[&str]) -> bool {
    crate::exit::chain(err).any(|e| {
        let m = e.to_string().to_ascii_lowercase();
        words.iter().any(|w| m.contains(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_curl_codes() {
        let u = || "http://x/".to_owned();
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(from_io(u(), refused, false).exit_code(), code::CONNECT);
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(from_io(u(), eof, false).exit_code(), code::EMPTY_REPLY);
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(from_io(u(), eof, true).exit_code(), code::PARTIAL);
        assert_eq!(
            from_ureq("http://x/", "x", ureq::Error::HostNotFound).exit_code(),
            code::RESOLVE
        );
    }
}
