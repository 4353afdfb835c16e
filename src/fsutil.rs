//! Writes that matter: atomic replacement (temporary file in the same folder, fsync, rename,
//! fsync of the folder) and create-new files, with an explicit mode (0600 for jars, state
//! and saved mail), and the removal of unfinished temporary files when the process is
//! interrupted. It does not decide names or layouts: callers do.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// Temporary files of the [`AtomicFile`]s not yet committed or dropped. A signal ends the
/// process without running destructors, so the interrupt handler removes these itself.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Installs (once, when the first atomic write starts: commands that make none pay
/// nothing) a Ctrl-C / SIGTERM handler that removes the temporary files of unfinished
/// atomic writes and exits with [`crate::exit::code::INTERRUPTED`]. Without it an
/// interrupted download or jar save leaves a hidden `.postie-*.tmp` beside its target.
/// Destinations are never touched: they are replaced only by a completed rename.
fn clean_up_on_interrupt() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Without a handler (another one is installed, or no thread can be started) an
        // interrupt kills the process as before: nothing but the cleanup is lost.
        let _ = ctrlc::set_handler(|| {
            remove_unfinished();
            std::process::exit(i32::from(crate::exit::code::INTERRUPTED));
        });
    });
}

/// Removes every unfinished temporary file. The lock stays held by the caller's thread
/// until the process exits, so no write can commit or start half-way through.
fn remove_unfinished() {
    let list = lock_unfinished();
    for path in list.iter() {
        let _ = fs::remove_file(path);
    }
    std::mem::forget(list);
}

/// Membership of one temporary file in [`UNFINISHED`], for as long as this value lives:
/// a Ctrl-C or SIGTERM meanwhile removes the file before the process exits.
#[derive(Debug)]
pub struct Unfinished(PathBuf);

impl Unfinished {
    pub fn track(path: &Path) -> Unfinished {
        clean_up_on_interrupt();
        lock_unfinished().push(path.to_owned());
        Unfinished(path.to_owned())
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let mut list = lock_unfinished();
        if let Some(i) = list.iter().rposition(|p| *p == self.0) {
            list.swap_remove(i);
        }
    }
}

fn lock_unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    UNFINISHED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Mode for files that may hold secrets or private mail.
pub const PRIVATE: u32 = 0o600;

/// A file being written under a temporary name beside its destination. Dropped without
/// [`AtomicFile::commit`], the temporary file is removed and the destination is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
    _unfinished: Unfinished,
}

impl AtomicFile {
    /// Starts writing `dest` with permissions `mode`.
    pub fn create(dest: &Path, mode: u32) -> io::Result<AtomicFile> {
        let dir = parent_dir(dest);
        let tmp = tempfile::Builder::new()
            .prefix(".postie-")
            .suffix(".tmp")
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(dir)?;
        let _unfinished = Unfinished::track(tmp.path());
        Ok(AtomicFile {
            tmp,
            dest: dest.to_owned(),
            _unfinished,
        })
    }

    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// The temporary path (for messages only; it disappears on commit or drop).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// Flushes, fsyncs and renames over the destination, then fsyncs the folder.
    pub fn commit(self) -> io::Result<()> {
        let AtomicFile { tmp, dest, .. } = self;
        tmp.as_file().sync_all()?;
        tmp.persist(&dest).map_err(|e| e.error)?;
        sync_dir(parent_dir(&dest))
    }

    /// Like [`commit`](Self::commit) but fails with `AlreadyExists` instead of replacing.
    pub fn commit_new(self) -> io::Result<()> {
        let AtomicFile { tmp, dest, .. } = self;
        tmp.as_file().sync_all()?;
        tmp.persist_noclobber(&dest).map_err(|e| e.error)?;
        sync_dir(parent_dir(&dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// Replaces `dest` with `bytes`, atomically, with permissions `mode`.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = AtomicFile::create(dest, mode)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Creates `path` only if it does not exist yet (never follows into an existing file).
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

/// fsyncs a folder so a rename or creation inside it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The folder that holds `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its parents with mode 0700 for new folders.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_with_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("jar.txt");
        fs::write(&dest, "old").expect("write");
        write_atomic(&dest, b"new", PRIVATE).expect("atomic");
        assert_eq!(fs::read(&dest).expect("read"), b"new");
        assert_eq!(
            fs::metadata(&dest).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_dir(dir.path()).expect("ls").count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn unfinished_files_are_tracked_until_commit_or_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tracked = |p: &Path| lock_unfinished().iter().any(|q| q == p);
        let a = AtomicFile::create(&dir.path().join("a"), PRIVATE).expect("create");
        let b = AtomicFile::create(&dir.path().join("b"), PRIVATE).expect("create");
        let (pa, pb) = (a.temp_path().to_owned(), b.temp_path().to_owned());
        assert!(tracked(&pa) && tracked(&pb));
        a.commit().expect("commit");
        drop(b);
        assert!(!tracked(&pa) && !tracked(&pb));
    }

    #[test]
    fn dropped_atomic_file_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("x");
        {
            let mut f = AtomicFile::create(&dest, PRIVATE).expect("create");
            f.write_all(b"partial").expect("write");
        }
        assert!(!dest.exists());
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 0);
    }

    #[test]
    fn commit_new_and_create_new_never_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("x");
        fs::write(&dest, "keep").expect("write");
        let f = AtomicFile::create(&dest, PRIVATE).expect("create");
        assert_eq!(
            f.commit_new().expect_err("exists").kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            create_new(&dest, PRIVATE).expect_err("exists").kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(fs::read(&dest).expect("read"), b"keep");
    }
}
