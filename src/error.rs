//! The top-level error and the one exit-code table of the whole tool.
//!
//! Each module has its own error type with kinds (thiserror); each maps its kinds to a code
//! from [`code`]. This file owns the table (the README repeats it) and the wrapper that the
//! binary prints as `postie: <what>: <why>`. It does not format or print anything itself.

use std::io;

/// Exit codes. curl's numbers where curl has one for the same failure; sysexits(3) numbers
/// (as msmtp and mpop use them) for mail outcomes that curl has no word for.
pub mod code {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// A failure with no more specific code; also: a batch finished but some items failed
    /// (each was reported on stderr or in the JSON output).
    pub const FAILED: u8 = 1;
    /// Usage error: bad flags or flag values (clap's own code).
    pub const USAGE: u8 = 2;
    /// A URL is malformed or its scheme is not supported (curl 3).
    pub const URL_MALFORMED: u8 = 3;
    /// The proxy's host name could not be resolved (curl 5).
    pub const PROXY_RESOLVE: u8 = 5;
    /// The host name could not be resolved (curl 6).
    pub const RESOLVE: u8 = 6;
    /// The connection was refused or could not be made (curl 7).
    pub const CONNECT: u8 = 7;
    /// The server sent something that does not follow the protocol (curl 8).
    pub const PROTOCOL: u8 = 8;
    /// The transfer ended before all the data arrived (curl 18).
    pub const PARTIAL: u8 = 18;
    /// HTTP status >= 400 with `--fail` (curl 22).
    pub const HTTP_ERROR: u8 = 22;
    /// A local file or stdout could not be written: disk full, no such folder... (curl 23).
    pub const WRITE: u8 = 23;
    /// A local input file could not be read (curl 26).
    pub const READ: u8 = 26;
    /// A timeout expired (curl 28).
    pub const TIMEOUT: u8 = 28;
    /// The server did not honour a range request correctly (curl 33).
    pub const RANGE: u8 = 33;
    /// The TLS handshake failed (curl 35).
    pub const TLS: u8 = 35;
    /// Too many redirects (curl 47).
    pub const TOO_MANY_REDIRECTS: u8 = 47;
    /// The server closed the connection without replying (curl 52).
    pub const EMPTY_REPLY: u8 = 52;
    /// The server's certificate could not be verified (curl 60).
    pub const TLS_VERIFY: u8 = 60;
    /// The content encoding of a response could not be decoded (curl 61).
    pub const BAD_ENCODING: u8 = 61;
    /// The mail server permanently rejected the sender, a recipient or the message (5xx)
    /// (EX_DATAERR, as msmtp).
    pub const REJECTED: u8 = 65;
    /// The server lacks what is required: STARTTLS/STLS or AUTH not offered, service
    /// unavailable, a permanent server-side failure (EX_UNAVAILABLE).
    pub const UNAVAILABLE: u8 = 69;
    /// A temporary refusal: retry later (SMTP 4xx, POP3 `[IN-USE]`, `[LOGIN-DELAY]`,
    /// `[SYS/TEMP]`) (EX_TEMPFAIL).
    pub const TEMPFAIL: u8 = 75;
    /// Authentication failed (EX_NOPERM).
    pub const AUTH: u8 = 77;
    /// A configuration postie refuses: unreadable or unsafe config file, unknown account,
    /// no password source, credentials over an unencrypted connection (EX_CONFIG).
    pub const CONFIG: u8 = 78;
    /// Interrupted by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

/// The exit status of a command that ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(u8);

impl Exit {
    /// Everything worked.
    pub const SUCCESS: Exit = Exit(code::OK);
    /// A batch ran to its end but some items failed; each was reported.
    pub const SOME_FAILED: Exit = Exit(code::FAILED);

    /// An exit status with a code from [`code`].
    pub const fn with_code(code: u8) -> Exit {
        Exit(code)
    }

    /// The process exit code.
    pub const fn code(self) -> u8 {
        self.0
    }

    /// `SUCCESS` when `ok`, else `SOME_FAILED`.
    pub const fn from_all_ok(ok: bool) -> Exit {
        if ok { Exit::SUCCESS } else { Exit::SOME_FAILED }
    }
}

/// Every error a command can end with. Each variant's Display is `<what>: <why>`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cli(#[from] crate::cli::CliError),
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    #[error(transparent)]
    Cookies(#[from] crate::cookies::CookieError),
    #[error(transparent)]
    Browser(#[from] crate::cookies::browser::BrowserError),
    #[error(transparent)]
    Url(#[from] crate::urlparse::UrlError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error(transparent)]
    Pop3(#[from] crate::pop3::Pop3Error),
    #[error(transparent)]
    Smtp(#[from] crate::smtp::SmtpError),
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Writing the command's output (stdout or a named file) failed.
    #[error("{what}: {source}")]
    Output { what: String, source: io::Error },
}

impl Error {
    /// Wraps a failure to write `what` (for example "stdout").
    pub fn output(what: impl Into<String>, source: io::Error) -> Error {
        Error::Output {
            what: what.into(),
            source,
        }
    }

    /// The process exit code for this error, from [`code`].
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Cli(e) => e.exit_code(),
            Error::Fetch(e) => e.exit_code(),
            Error::Cookies(e) => e.exit_code(),
            Error::Browser(e) => e.exit_code(),
            Error::Url(e) => e.exit_code(),
            Error::Mail(e) => e.exit_code(),
            Error::Pop3(e) => e.exit_code(),
            Error::Smtp(e) => e.exit_code(),
            Error::Secret(e) => e.exit_code(),
            Error::Config(e) => e.exit_code(),
            Error::Tls(e) => e.exit_code(),
            Error::Output { .. } => code::WRITE,
        }
    }

    /// True when the error comes from a closed pipe on stdout (`postie ... | head`): the
    /// binary then exits 0 without a message, as other Unix tools do.
    pub fn is_broken_pipe(&self) -> bool {
        is_broken_pipe(self)
    }
}

/// `err` and every error in its `source()` chain, outermost first.
pub fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

/// True when `err` or any error in its `source()` chain is an `io::Error` of kind BrokenPipe.
pub fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    chain(err).any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_found_through_the_chain() {
        let err = Error::output("stdout", io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(err.is_broken_pipe());
        let err = Error::output("stdout", io::Error::from(io::ErrorKind::StorageFull));
        assert!(!err.is_broken_pipe());
        assert_eq!(err.exit_code(), code::WRITE);
    }
}
