//! Where a body goes: stdout, a file written under a temporary name and renamed when
//! complete, `FILE.part` for `-C -` and `--update` (kept when a run dies, so the next one
//! resumes it), the existing file when a resume is accepted, or a device such as /dev/null
//! written in place. Also: names for `-O` and `-J`, and the progress bar.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::FetchError;
use crate::fsutil::{self, AtomicFile};

/// Mode of downloaded files (before the umask).
const DOWNLOAD_MODE: u32 = 0o644;

/// An open destination for one body.
#[derive(Debug)]
pub enum Sink {
    Stdout(io::Stdout),
    /// A new file under a temporary name; `no_clobber` refuses to replace at the end.
    Atomic {
        file: AtomicFile,
        dest: PathBuf,
        no_clobber: bool,
    },
    /// Appending to an existing file (resume), or writing to a device in place.
    InPlace {
        file: File,
        dest: PathBuf,
    },
    /// `--update` or `-C -`: `FILE.part`, kept if the run dies, renamed over FILE at the end.
    Part {
        file: File,
        part: PartFile,
    },
}

impl Sink {
    pub fn stdout() -> Sink {
        Sink::Stdout(io::stdout())
    }

    /// A file sink for `dest`: atomic for regular files, in place for devices and pipes;
    /// `durable` fsyncs before the rename (see [`FileOptions::unsynced`]).
    ///
    /// [`FileOptions::unsynced`]: super::FileOptions::unsynced
    pub fn file(dest: &Path, no_clobber: bool, durable: bool) -> Result<Sink, FetchError> {
        let err = |source| FetchError::write(dest.display().to_string(), source);
        let meta = std::fs::metadata(dest).ok();
        if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
            return Err(err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a folder (give a file name, or use --output-dir with -O)",
            )));
        }
        if meta.as_ref().is_some_and(|m| !m.is_file()) {
            let file = OpenOptions::new().write(true).open(dest).map_err(err)?;
            return Ok(Sink::InPlace {
                file,
                dest: dest.to_owned(),
            });
        }
        if no_clobber && meta.is_some() {
            return Err(err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "refusing to overwrite an existing file (use --clobber)",
            )));
        }
        let mut file = AtomicFile::create(dest, DOWNLOAD_MODE).map_err(err)?;
        if !durable {
            file = file.unsynced();
        }
        Ok(Sink::Atomic {
            file,
            dest: dest.to_owned(),
            no_clobber,
        })
    }

    /// Appends to `dest` (an accepted resume).
    pub fn append(dest: &Path) -> Result<Sink, FetchError> {
        let file = OpenOptions::new()
            .append(true)
            .open(dest)
            .map_err(|e| FetchError::write(dest.display().to_string(), e))?;
        Ok(Sink::InPlace {
            file,
            dest: dest.to_owned(),
        })
    }

    pub fn name(&self) -> String {
        match self {
            Sink::Stdout(_) => "stdout".to_owned(),
            Sink::Atomic { dest, .. } | Sink::InPlace { dest, .. } => dest.display().to_string(),
            Sink::Part { part, .. } => part.dest.display().to_string(),
        }
    }

    /// The destination when it is a regular file (for `-R`): not stdout, not a device.
    pub fn regular_file(&self) -> Option<PathBuf> {
        match self {
            Sink::Stdout(_) => None,
            Sink::Atomic { dest, .. } => Some(dest.clone()),
            Sink::InPlace { dest, .. } => dest.is_file().then(|| dest.clone()),
            Sink::Part { part, .. } => Some(part.dest.clone()),
        }
    }

    pub fn is_file(&self) -> bool {
        !matches!(self, Sink::Stdout(_))
    }

    pub fn write_all(&mut self, buf: &[u8]) -> Result<(), FetchError> {
        let result = match self {
            Sink::Stdout(out) => out.write_all(buf),
            Sink::Atomic { file, .. } => file.write_all(buf),
            Sink::InPlace { file, .. } | Sink::Part { file, .. } => file.write_all(buf),
        };
        result.map_err(|e| FetchError::write(self.name(), e))
    }

    /// Makes the output complete: flush stdout, or fsync and rename the file into place.
    pub fn finish(self) -> Result<(), FetchError> {
        let name = self.name();
        let result = match self {
            Sink::Stdout(mut out) => out.flush(),
            Sink::Atomic {
                file, no_clobber, ..
            } => {
                if no_clobber {
                    file.commit_new()
                } else {
                    file.commit()
                }
            }
            Sink::InPlace { mut file, .. } => file.flush(),
            Sink::Part { file, part } => return part.commit(file),
        };
        result.map_err(|e| FetchError::write(name, e))
    }
}

/// A download written under `FILE.part` (kept when the run dies) and renamed over `FILE`.
#[derive(Debug, Clone)]
pub struct PartFile {
    pub part: PathBuf,
    pub dest: PathBuf,
    /// fsync before the rename and the folder after it (see `FileOptions::unsynced`).
    pub durable: bool,
}

impl PartFile {
    /// Opens the part for writing: appended to (an accepted resume) or started over.
    pub(super) fn open(&self, append: bool) -> Result<File, FetchError> {
        let mut options = OpenOptions::new();
        options.create(true).mode(DOWNLOAD_MODE);
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        options
            .open(&self.part)
            .map_err(|e| FetchError::write(self.part.display().to_string(), e))
    }

    /// Makes the download complete: fsync (when durable), rename over the destination (the
    /// file a symbolic link points to), fsync of the folder (when durable).
    pub(super) fn commit(&self, mut file: File) -> Result<(), FetchError> {
        let err = |e| FetchError::write(self.dest.display().to_string(), e);
        file.flush().map_err(err)?;
        if self.durable {
            file.sync_all().map_err(err)?;
        }
        let target = fsutil::resolve_links(&self.dest).map_err(err)?;
        std::fs::rename(&self.part, &target).map_err(err)?;
        if !self.durable {
            return Ok(());
        }
        fsutil::sync_dir_after_commit(fsutil::parent_dir(&target)).map_err(err)
    }
}

/// The `-O` name: the last path segment of the URL, sanitised.
pub fn remote_name(url: &url::Url) -> Option<String> {
    let last = url.path_segments()?.next_back()?;
    let decoded = percent_decode(last);
    sanitize_file_name(&decoded)
}

/// The file name of a `Content-Disposition` header (`filename*=` preferred), sanitised:
/// only the last path component, never `.`/`..`, no control characters.
pub fn content_disposition_name(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for param in value.split(';').skip(1) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        if k == "filename*" {
            // charset'lang'percent-encoded
            let encoded = v.splitn(3, '\'').nth(2).unwrap_or(v);
            extended = Some(percent_decode(encoded));
        } else if k == "filename" {
            plain = Some(v.trim_matches('"').replace("\\\"", "\""));
        }
    }
    sanitize_file_name(&extended.or(plain)?)
}

/// Decodes `%XX` escapes (invalid ones are kept as they are); bytes that are not UTF-8
/// become U+FFFD.
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn sanitize_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next()?;
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty() && clean != "." && clean != "..").then_some(clean)
}

/// A progress bar on stderr when the body goes to a file, stderr is a terminal and not
/// `-s`; else a hidden one.
pub fn progress(to_file: bool, silent: bool, len: Option<u64>) -> ProgressBar {
    if !to_file || silent || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
    } else {
        "{spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(
            content_disposition_name("attachment; filename=\"../../etc/passwd\""),
            Some("passwd".into())
        );
        assert_eq!(
            content_disposition_name(
                "attachment; filename=a.txt; filename*=UTF-8''%C3%A9t%C3%A9.txt"
            ),
            Some("été.txt".into())
        );
        assert_eq!(
            content_disposition_name("attachment; filename=\"..\""),
            None
        );
        assert_eq!(content_disposition_name("inline"), None);
        let u = url::Url::parse("http://h/a/b%20c.tar.gz?x=1").expect("url");
        assert_eq!(remote_name(&u), Some("b c.tar.gz".into()));
        let u = url::Url::parse("http://h/").expect("url");
        assert_eq!(remote_name(&u), None);
    }
}
