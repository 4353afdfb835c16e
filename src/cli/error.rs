//! [`CliError`]: arguments that parse but do not make a valid config. Its own file so that the
//! top-level error can wrap it without importing the CLI layer that uses the top-level error.

use crate::exit::code;

/// Errors of the CLI layer: arguments that parse but do not make a valid config.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag value or combination that clap cannot check by itself.
    #[error("{flag}: {why}")]
    Invalid { flag: String, why: String },
    /// In sendmail mode, any usage error: exit 64 (EX_USAGE), as sendmail's.
    #[error("{0}")]
    SendmailUsage(String),
    /// A subcommand that is not built yet.
    #[error("{0}: not implemented yet")]
    NotImplemented(&'static str),
}

impl CliError {
    /// An invalid flag value: `postie: <flag>: <why>`, exit 2.
    pub fn invalid(flag: impl Into<String>, why: impl Into<String>) -> CliError {
        CliError::Invalid {
            flag: flag.into(),
            why: why.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Invalid { .. } => code::USAGE,
            CliError::SendmailUsage(_) => code::SENDMAIL_USAGE,
            CliError::NotImplemented(_) => code::FAILED,
        }
    }
}
