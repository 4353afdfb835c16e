//! Mail unpacking: parsing with mail-parser, safe attachment names, saving, mbox and Maildir
//! input. Owns `postie unpack`'s engine; the CLI layer (src/cli/unpack.rs) only builds
//! [`UnpackOptions`] and prints.
//!
//! - [`params`]: MIME parameter decoding (RFC 2231 continuations and charsets, RFC 2047).
//! - [`parse`]: the roles of a message's parts, decoded headers, the bytes to save.
//! - [`names`]: safe file names (pure).
//! - [`save`]: the message folder, create-new writes, message.json.
//! - [`select`]: which files `--type`/`--name` take (pure); [`template`]: the
//!   `--folder-template`/`--file-template` names (pure).
//! - [`tnef`], [`uu`]: files inside parts: TNEF (winmail.dat) and uuencoded/yEnc blocks of a
//!   text body (pure readers); `inner` saves them through `save`'s writer.
//! - [`mbox`], [`inputs`]: reading .eml, mbox (streamed), Maildir folders and stdin.
//! - [`maildir`]: Maildir writing for `postie pop3` (owned by the POP3 work).
//! - [`mboxrd`]: mboxrd writing and mbox locking for `postie pop3` (owned by the POP3 work).
//!
//! The interface `postie pop3 pull --unpack` uses is [`unpack_file`]: one message file in, its
//! text and attachments written under a folder, a report back.

use std::path::{Path, PathBuf};

use crate::exit::code;

pub mod decode;
mod inner;
pub mod inputs;
pub mod maildir;
pub mod mbox;
pub mod mboxrd;
pub mod names;
pub mod params;
pub mod parse;
pub mod save;
pub mod select;
pub mod template;
pub mod tnef;
pub mod uu;

pub use save::{AttachmentInfo, MessageInfo};

/// Errors of the mail module.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An input (file, folder, stdin) could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file or folder could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A message could not be parsed at all.
    #[error("{source_name}: {why}")]
    Parse { source_name: String, why: String },
    /// An input that is neither a message file, an mbox nor a Maildir.
    #[error("{}: {why}", path.display())]
    Input { path: PathBuf, why: String },
    /// message.json could not be rendered.
    #[error("message.json: {0}")]
    Json(String),
    /// A Maildir entry that is not a message file (FIFO, device, symlink loop, link out of
    /// the Maildir): skipped with a warning, not a failure.
    #[error("{}: skipped: {why}", path.display())]
    Skipped { path: PathBuf, why: String },
    /// A message reached `--max-parts` or `--max-bytes`.
    #[error("{source_name}: {why}")]
    Limit { source_name: String, why: String },
    /// A part's transfer encoding (base64, quoted-printable) was damaged: what could be
    /// decoded was saved, and message.json says `encoding_problem`.
    #[error("{source_name}: {part}: damaged transfer encoding; saved what could be decoded")]
    Damaged { source_name: String, part: String },
    /// A TNEF part (winmail.dat) was damaged: the files read before the damage were saved,
    /// and the part itself is kept.
    #[error("{source_name}: {part}: damaged TNEF ({why}); saved the files that could be read")]
    DamagedTnef {
        source_name: String,
        part: String,
        why: String,
    },
    /// `--to-stdout` selected no file, or more than one (`names`: the first few).
    #[error(
        "--to-stdout: {count} files selected{names}; it writes exactly one (choose with --type or --name)"
    )]
    NotOne { count: usize, names: String },
    /// Some parts of a message could not be saved (the first failure is named).
    #[error("{first} (and {more} more failures)")]
    Partial { first: Box<MailError>, more: usize },
}

impl MailError {
    /// True for a warning (the run's exit code stays as it is).
    pub fn is_warning(&self) -> bool {
        matches!(self, MailError::Skipped { .. })
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            MailError::Read { .. } | MailError::Input { .. } | MailError::Skipped { .. } => {
                code::READ
            }
            MailError::Write { .. } => code::WRITE,
            MailError::Parse { .. }
            | MailError::Json(_)
            | MailError::Damaged { .. }
            | MailError::DamagedTnef { .. }
            | MailError::Limit { .. }
            | MailError::NotOne { .. } => code::FAILED,
            MailError::Partial { first, .. } => first.exit_code(),
        }
    }
}

/// The default cap on nested message/rfc822 unpacking.
pub const DEFAULT_MAX_DEPTH: usize = 8;

/// The default cap on parts saved per message (nested messages included).
pub const DEFAULT_MAX_PARTS: usize = 10_000;

/// The default cap on bytes written per message (nested messages included): 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// What to write when unpacking a message.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Attachments straight into the output folder, no per-message folder.
    pub flat: bool,
    /// Write only attachments: no body.txt, body.html or message.json.
    pub only_attachments: bool,
    /// Skip inline images.
    pub no_inline: bool,
    /// Also save the extra inline text parts (beyond the first text and HTML body).
    pub include_text_parts: bool,
    /// Unpack nested message/rfc822 parts into subfolders.
    pub recursive: bool,
    /// How deep nested messages are unpacked; deeper ones are only saved as `.eml`.
    pub max_depth: usize,
    /// At most this many parts saved per message (nested messages included).
    pub max_parts: usize,
    /// At most this many bytes of parts written per message (nested messages included).
    pub max_bytes: u64,
    /// Save the files inside TNEF parts (winmail.dat) too.
    pub tnef: bool,
    /// Keep the TNEF part itself beside the files read from it.
    pub tnef_container: bool,
    /// Also save a TNEF message's RTF body (as `message.rtf`, listed with its files).
    pub tnef_body: bool,
    /// Decode uuencoded and yEnc blocks of the text body into files.
    pub uudecode: bool,
    /// Which files are written (`--type`, `--name`); empty: all.
    pub select: select::Selection,
    /// Every header of the message in message.json (`--headers`).
    pub all_headers: bool,
    /// Replace files and reuse folders that existed before the run (`--overwrite`).
    pub overwrite: bool,
    /// How message folders are named (`--folder-template`); `None`: date and subject.
    pub folder_template: Option<template::Template>,
    /// How saved files are named (`--file-template`); `None`: the safe name.
    pub file_template: Option<template::Template>,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            flat: false,
            only_attachments: false,
            no_inline: false,
            include_text_parts: false,
            recursive: true,
            max_depth: DEFAULT_MAX_DEPTH,
            max_parts: DEFAULT_MAX_PARTS,
            max_bytes: DEFAULT_MAX_BYTES,
            tnef: true,
            tnef_container: true,
            tnef_body: false,
            uudecode: true,
            select: select::Selection::default(),
            all_headers: false,
            overwrite: false,
            folder_template: None,
            file_template: None,
        }
    }
}

/// What unpacking one message wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UnpackReport {
    /// The folder the message was unpacked into.
    pub folder: PathBuf,
    /// The saved attachments' paths (nested messages' attachments included).
    pub attachments: Vec<PathBuf>,
    /// Everything message.json holds.
    pub message: MessageInfo,
}

impl UnpackReport {
    fn from_info(out_dir: &Path, info: MessageInfo) -> UnpackReport {
        let mut attachments = Vec::new();
        collect_paths(&info, &mut attachments);
        UnpackReport {
            folder: out_dir.join(&info.folder),
            attachments,
            message: info,
        }
    }
}

fn collect_paths(info: &MessageInfo, out: &mut Vec<PathBuf>) {
    for att in &info.attachments {
        out.extend(att.path.clone());
        if let Some(nested) = &att.message {
            collect_paths(nested, out);
        }
        for inner in att.tnef.iter().flatten() {
            out.extend(inner.path.clone());
        }
    }
}

/// Unpacks the message in `message` (a single RFC 5322 message file) under `out_dir`
/// (created 0700 if missing). `Err` when the message could not be read or parsed, or when
/// any of its files could not be written (what could be written stays on disk).
pub fn unpack_file(
    message: &Path,
    out_dir: &Path,
    options: &UnpackOptions,
) -> Result<UnpackReport, MailError> {
    let raw = std::fs::read(message).map_err(|source| MailError::Read {
        path: message.to_path_buf(),
        source,
    })?;
    let report = unpack_bytes(&raw, &message.display().to_string(), out_dir, options)?;
    Ok(report)
}

/// Like [`unpack_file`] for a message already in memory; `source` names it in messages.
pub fn unpack_bytes(
    raw: &[u8],
    source: &str,
    out_dir: &Path,
    options: &UnpackOptions,
) -> Result<UnpackReport, MailError> {
    crate::fsutil::create_private_dir_all(out_dir).map_err(|source| MailError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let (info, mut failures) = save::unpack_message(raw, source, out_dir, options)?;
    if failures.is_empty() {
        return Ok(UnpackReport::from_info(out_dir, info));
    }
    let more = failures.len() - 1;
    let first = failures.swap_remove(0);
    Err(if more == 0 {
        first
    } else {
        MailError::Partial {
            first: Box::new(first),
            more,
        }
    })
}
