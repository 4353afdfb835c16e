//! The HTTP engine over ureq for `postie fetch`. (Stub: being built.)

use crate::error::code;

/// Errors of the HTTP engine.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("fetch: not implemented yet")]
    NotImplemented,
}

impl FetchError {
    pub fn exit_code(&self) -> u8 {
        match self {
            FetchError::NotImplemented => code::FAILED,
        }
    }
}
