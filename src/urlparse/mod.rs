//! CPython's `urllib.parse`, exactly, as pure functions. (Stub: being built.)

use crate::error::code;

/// Errors of the URL tools that end a command (per-URL failures are values, not these).
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("url: not implemented yet")]
    NotImplemented,
}

impl UrlError {
    pub fn exit_code(&self) -> u8 {
        match self {
            UrlError::NotImplemented => code::FAILED,
        }
    }
}
