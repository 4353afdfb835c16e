//! (Stub: being built.)

use crate::error::code;

/// Errors of the pop3 module.
#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    #[error("pop3: not implemented yet")]
    NotImplemented,
}

impl Pop3Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Pop3Error::NotImplemented => code::FAILED,
        }
    }
}
