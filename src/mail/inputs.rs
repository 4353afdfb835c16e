//! Input kinds for `postie unpack`: a message file, an mbox (detected by its first line,
//! streamed), a Maildir folder (cur/ and new/, in name order), a folder of `.eml` files (in
//! name order, as `pop3 pull --format eml` writes them), or `-` for one message on stdin.
//! Yields one message's bytes at a time.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::MailError;
use super::mbox::{MboxReader, looks_like_mbox};

/// Calls `each(label, bytes)` for every message of `input`, in order. A message that cannot
/// be read is passed as `Err` and the others go on; `Err` from here means the input as a
/// whole could not be opened.
pub fn for_each_message(
    input: &Path,
    mut each: impl FnMut(String, Result<&[u8], MailError>),
) -> Result<(), MailError> {
    let read_err = |source: io::Error| MailError::Read {
        path: input.to_path_buf(),
        source,
    };
    if input == Path::new("-") {
        let mut raw = Vec::new();
        io::stdin().lock().read_to_end(&mut raw).map_err(read_err)?;
        each("-".to_owned(), Ok(&raw));
        return Ok(());
    }
    let meta = fs::metadata(input).map_err(read_err)?;
    if meta.is_dir() {
        if ["cur", "new"].iter().any(|s| input.join(s).is_dir()) {
            return maildir_messages(input, each);
        }
        return eml_folder_messages(input, each);
    }
    file_messages(input, meta.len(), &mut each)
}

/// The messages of one file: an mbox (streamed), else one message.
fn file_messages(
    input: &Path,
    len: u64,
    each: &mut impl FnMut(String, Result<&[u8], MailError>),
) -> Result<(), MailError> {
    let read_err = |source: io::Error| MailError::Read {
        path: input.to_path_buf(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 16, File::open(input).map_err(read_err)?);
    let head = reader.fill_buf().map_err(read_err)?;
    if looks_like_mbox(head) {
        let label = input.display().to_string();
        let mut mbox = MboxReader::new(reader);
        let mut message = Vec::new();
        for n in 1.. {
            match mbox.read_message_into(&mut message) {
                Ok(true) => each(format!("{label}#{n}"), Ok(&message)),
                Ok(false) => break,
                Err(e) => {
                    each(format!("{label}#{n}"), Err(read_err(e)));
                    break;
                }
            }
        }
        return Ok(());
    }
    let mut raw = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    reader.read_to_end(&mut raw).map_err(read_err)?;
    each(input.display().to_string(), Ok(&raw));
    Ok(())
}

/// The `*.eml` files of a folder that is not a Maildir, in name order (each read as a
/// message file, an mbox among them split as one); hidden files, subfolders and files with
/// other names are left alone, as the temporary and state files `pop3 pull` keeps there.
fn eml_folder_messages(
    dir: &Path,
    mut each: impl FnMut(String, Result<&[u8], MailError>),
) -> Result<(), MailError> {
    let files = entries_named(dir, is_eml_name)?;
    if files.is_empty() {
        return Err(MailError::Input {
            path: dir.to_path_buf(),
            why: "a folder with no .eml files that is not a Maildir (no cur/ or new/)".to_owned(),
        });
    }
    for path in files {
        let meta = match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => continue,
            Err(source) => {
                each(
                    path.display().to_string(),
                    Err(MailError::Read { path, source }),
                );
                continue;
            }
        };
        if let Err(e) = file_messages(&path, meta.len(), &mut each) {
            each(path.display().to_string(), Err(e));
        }
    }
    Ok(())
}

/// The entries of `dir` whose name `keep` accepts, in name order.
fn entries_named(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, MailError> {
    let entries = fs::read_dir(dir).map_err(|source| MailError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| keep(&n.to_string_lossy())))
        .collect();
    files.sort();
    Ok(files)
}

/// `x.eml` (any case), not hidden.
fn is_eml_name(name: &str) -> bool {
    !name.starts_with('.')
        && name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".eml"))
}

fn maildir_messages(
    dir: &Path,
    mut each: impl FnMut(String, Result<&[u8], MailError>),
) -> Result<(), MailError> {
    let subdirs: Vec<PathBuf> = ["cur", "new"].iter().map(|s| dir.join(s)).collect();
    if !subdirs.iter().any(|d| d.is_dir()) {
        return Err(MailError::Input {
            path: dir.to_path_buf(),
            why: "a folder that is not a Maildir (no cur/ or new/)".to_owned(),
        });
    }
    let root = fs::canonicalize(dir).map_err(|source| MailError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for sub in subdirs.iter().filter(|d| d.is_dir()) {
        for path in entries_named(sub, |n| !n.starts_with('.'))? {
            let label = path.display().to_string();
            if let Some(why) = not_a_message_file(&path, &root) {
                each(label, Err(MailError::Skipped { path, why }));
                continue;
            }
            match fs::read(&path) {
                Ok(raw) => each(label, Ok(&raw)),
                Err(source) => each(label, Err(MailError::Read { path, source })),
            }
        }
    }
    Ok(())
}

/// Why a Maildir entry is not read as a message: a FIFO (reading it would hang), a device,
/// a socket or folder, a symlink that loops, dangles or points outside the Maildir `root`
/// (canonical); `None` for a regular file or a link to one inside the Maildir.
fn not_a_message_file(path: &Path, root: &Path) -> Option<String> {
    let kind = match fs::symlink_metadata(path) {
        Ok(meta) => meta.file_type(),
        Err(e) => return Some(format!("cannot be examined: {e}")),
    };
    if kind.is_symlink() {
        let target = match fs::canonicalize(path) {
            Ok(target) => target,
            Err(e) => return Some(format!("a symlink that loops or dangles: {e}")),
        };
        if !target.starts_with(root) {
            return Some(format!(
                "a symlink to {}, outside the Maildir",
                target.display()
            ));
        }
        return match fs::metadata(&target) {
            Ok(meta) if meta.is_file() => None,
            _ => Some("a symlink to something that is not a file".to_owned()),
        };
    }
    if kind.is_file() {
        return None;
    }
    use std::os::unix::fs::FileTypeExt;
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Some(what.to_owned())
}
