//! Mail parsing with mail-parser, safe attachment names, saving, Maildir. (Stub: being built.)
//!
//! The interface `postie pop3 pull --unpack` uses is [`unpack_file`]: one message file in, its
//! text and attachments written under a folder, a report back.

use std::path::{Path, PathBuf};

use crate::error::code;

pub mod maildir;

/// Errors of the mail module.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("unpack: not implemented yet")]
    NotImplemented,
}

impl MailError {
    pub fn exit_code(&self) -> u8 {
        match self {
            MailError::NotImplemented => code::FAILED,
        }
    }
}

/// What to write when unpacking a message.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Attachments straight into the output folder, no per-message folder.
    pub flat: bool,
    pub only_attachments: bool,
    pub no_inline: bool,
    pub include_text_parts: bool,
    /// Unpack nested message/rfc822 parts into subfolders.
    pub recursive: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            flat: false,
            only_attachments: false,
            no_inline: false,
            include_text_parts: false,
            recursive: true,
        }
    }
}

/// What unpacking one message wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UnpackReport {
    /// The folder the message was unpacked into.
    pub folder: PathBuf,
    /// The saved attachments' paths.
    pub attachments: Vec<PathBuf>,
}

/// Unpacks the message in `message` (a single RFC 5322 message file) under `out_dir`.
pub fn unpack_file(
    _message: &Path,
    _out_dir: &Path,
    _options: &UnpackOptions,
) -> Result<UnpackReport, MailError> {
    Err(MailError::NotImplemented)
}
