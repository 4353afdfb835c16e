//! (Stub: being built.)

use crate::error::code;

/// Errors of the smtp module.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("smtp: not implemented yet")]
    NotImplemented,
}

impl SmtpError {
    pub fn exit_code(&self) -> u8 {
        match self {
            SmtpError::NotImplemented => code::FAILED,
        }
    }
}
