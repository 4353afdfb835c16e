//! The top-level error: one variant per module's error type, printed by the binary as
//! `postie: <what>: <why>`. Only `cli/` and `lib.rs` use it; the engines return their own
//! error types, and the exit-code table is [`crate::exit`], which every module may import.

use std::io;

use crate::exit::{code, is_broken_pipe};

/// Every error a command can end with. Each variant's Display is `<what>: <why>`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cli(#[from] crate::cli::error::CliError),
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
    Outbox(#[from] crate::smtp::outbox::OutboxError),
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    ConfigImport(#[from] crate::config_import::RcError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    OAuth(#[from] crate::oauth::OAuthError),
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
            Error::Outbox(e) => e.exit_code(),
            Error::Secret(e) => e.exit_code(),
            Error::Config(e) => e.exit_code(),
            Error::ConfigImport(e) => e.exit_code(),
            Error::Tls(e) => e.exit_code(),
            Error::OAuth(e) => e.exit_code(),
            Error::Output { .. } => code::WRITE,
        }
    }

    /// True when the error comes from a closed pipe on stdout (`postie ... | head`): the
    /// binary then exits 0 without a message, as other Unix tools do.
    pub fn is_broken_pipe(&self) -> bool {
        is_broken_pipe(self)
    }
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
