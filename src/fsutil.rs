//! Writes that matter: atomic replacement (temporary file in the same folder, fsync, rename,
//! fsync of the folder) and create-new files, with an explicit mode (0600 for jars, state
//! and saved mail), and the removal of unfinished temporary files when the process is
//! interrupted. It does not decide names or layouts: callers do.
//!
//! Symbolic links: replacing a file that is a symlink replaces the file it points to (the
//! temporary file is made beside the target and renamed over it), so the link stays a link,
//! as curl and wget write through one; a create-new write never follows a link. Lock files
//! are opened without following links and must be regular files, so a link planted at
//! `FILE.lock` neither creates nor truncates what it points to.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

mod atomic;
pub use atomic::AtomicFile;

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
            // In a long-running loop the first signal asks it to stop at the next safe
            // point; a second one ends the process at once.
            if GRACEFUL.load(Ordering::SeqCst) && !STOP.swap(true, Ordering::SeqCst) {
                return;
            }
            remove_unfinished();
            std::process::exit(i32::from(crate::exit::code::INTERRUPTED));
        });
    });
}

/// Set by [`stop_gracefully`]: the first Ctrl-C or SIGTERM sets [`STOP`] instead of exiting.
static GRACEFUL: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

/// From now on the first Ctrl-C or SIGTERM only asks the process to stop (see
/// [`stop_requested`]): for `pop3 pull --watch`, which finishes the message being stored,
/// sends QUIT and exits 0. A second signal exits at once, as before.
pub fn stop_gracefully() {
    GRACEFUL.store(true, Ordering::SeqCst);
    clean_up_on_interrupt();
}

/// Whether a signal asked the process to stop (after [`stop_gracefully`]).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Sleeps until `deadline` or until a stop is requested; true when it was.
pub fn sleep_unless_stopped(deadline: std::time::Instant) -> bool {
    loop {
        if stop_requested() {
            return true;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(100)));
    }
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

/// How many links [`resolve_links`] follows before it gives up (Linux's limit).
const MAX_LINKS: usize = 40;

/// The file `path` names once symbolic links are followed (the path itself when it is not a
/// link or does not exist; a dangling link gives the path it points to). Only the last
/// component is resolved: folders on the way are the kernel's business.
pub fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_owned();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = parent_dir(&current).join(target);
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other(format!(
        "{}: more than {MAX_LINKS} symbolic links (a loop?)",
        path.display()
    )))
}

/// Replaces `dest` with `bytes`, atomically, with permissions `mode`.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = AtomicFile::create(dest, mode)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Creates `path` only if it does not exist yet (never follows into an existing file, nor
/// through a symbolic link: `O_CREAT | O_EXCL` does not follow one).
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

/// Opens (creating it with `mode` if needed, never truncating) the lock file `path` and
/// takes an exclusive advisory lock on it, waiting for other holders. A symbolic link at
/// `path` is refused, and so is anything but a regular file: a new lock file is made with
/// `O_EXCL` (which follows no link), an existing one is opened without creating and must be
/// the very file that `lstat` saw, so a link planted (or swapped in) at `path` can neither
/// create nor truncate the file it points to.
pub fn lock_file(path: &Path, mode: u32) -> io::Result<File> {
    locked(open_lock_file(path, mode)?)
}

/// Opens (or creates) the lock file `path` as [`lock_file`] does, without locking it: for a
/// caller that tries the lock (`File::try_lock`) and says it is waiting.
pub fn open_lock_file(path: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::MetadataExt;
    // A lock file removed or created by someone else between the steps: look again.
    for _ in 0..8 {
        let seen = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => match create_new(path, mode) {
                Ok(file) => return Ok(file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        if seen.file_type().is_symlink() {
            return Err(io::Error::other(
                "is a symbolic link; a lock file must be a regular file",
            ));
        }
        if !seen.file_type().is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let opened = file.metadata()?;
        if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
            return Err(io::Error::other("was replaced while being opened"));
        }
        return Ok(file);
    }
    Err(io::Error::other("keeps appearing and disappearing"))
}

fn locked(file: File) -> io::Result<File> {
    file.lock()?;
    Ok(file)
}

/// fsyncs a folder so a rename or creation inside it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

thread_local! {
    /// On this thread, [`AtomicFile`] commits leave the folder's fsync to
    /// [`sync_deferred_dirs`].
    static DEFER_DIR_SYNC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Folders whose fsync was deferred.
static DEFERRED_DIRS: Mutex<std::collections::BTreeSet<PathBuf>> =
    Mutex::new(std::collections::BTreeSet::new());

/// From now on, files committed on this thread are fsynced and renamed at once, but their
/// folder is fsynced by [`sync_deferred_dirs`] (once per folder, not once per file). Safe:
/// a file is only ever renamed into place with its data on disk, so a crash before the
/// folder's fsync loses the rename (the name is missing), never shows a truncated file
/// under the final name. For many small downloads (`fetch --url-file`) this halves the
/// fsyncs.
pub fn defer_dir_sync_on_this_thread() {
    DEFER_DIR_SYNC.with(|d| d.set(true));
}

/// fsyncs every folder whose fsync was deferred.
pub fn sync_deferred_dirs() -> io::Result<()> {
    let dirs = std::mem::take(&mut *DEFERRED_DIRS.lock().unwrap_or_else(|e| e.into_inner()));
    dirs.iter().try_for_each(|d| sync_dir(d))
}

/// The folder fsync after a commit (a rename into `dir`): now, or deferred on a thread that
/// asked for it. Every commit by rename goes through it, so a many-URL run defers them all.
pub fn sync_dir_after_commit(dir: &Path) -> io::Result<()> {
    if !DEFER_DIR_SYNC.with(std::cell::Cell::get) {
        return sync_dir(dir);
    }
    let mut dirs = DEFERRED_DIRS.lock().unwrap_or_else(|e| e.into_inner());
    dirs.insert(dir.to_owned());
    Ok(())
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
    use std::os::unix::fs::PermissionsExt;

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
        let a = AtomicFile::create_named(&dir.path().join("a"), PRIVATE).expect("create");
        let b = AtomicFile::create_named(&dir.path().join("b"), PRIVATE).expect("create");
        let (pa, pb) = (
            a.temp_path().expect("named").to_owned(),
            b.temp_path().expect("named").to_owned(),
        );
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

    #[test]
    fn replacing_a_symlink_writes_where_it_points_and_keeps_the_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real.txt");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let link = dir.path().join("sub/link.txt");
        fs::write(&real, "old").expect("write");
        std::os::unix::fs::symlink("../real.txt", &link).expect("symlink");
        write_atomic(&link, b"new", PRIVATE).expect("through the link");
        assert!(
            fs::symlink_metadata(&link)
                .expect("lstat")
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).expect("read"), b"new");
        // A dangling link: the file is made where it points.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("made.txt", &dangling).expect("symlink");
        write_atomic(&dangling, b"x", PRIVATE).expect("through the link");
        assert_eq!(fs::read(dir.path().join("made.txt")).expect("read"), b"x");
        // A loop is an error, nothing written.
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::os::unix::fs::symlink(&b, &a).expect("symlink");
        std::os::unix::fs::symlink(&a, &b).expect("symlink");
        assert!(write_atomic(&a, b"x", PRIVATE).is_err());
        assert!(
            fs::symlink_metadata(&a)
                .expect("lstat")
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn commit_new_never_follows_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("victim", &link).expect("symlink");
        let f = AtomicFile::create(&link, PRIVATE).expect("create");
        assert_eq!(
            f.commit_new().expect_err("a link exists").kind(),
            io::ErrorKind::AlreadyExists
        );
        assert!(!dir.path().join("victim").exists());
        assert!(create_new(&link, PRIVATE).is_err());
        assert!(!dir.path().join("victim").exists());
    }

    #[test]
    fn a_symlink_planted_as_lock_file_neither_creates_nor_truncates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = dir.path().join("jar.lock");
        let victim = dir.path().join("victim");
        std::os::unix::fs::symlink(&victim, &lock).expect("symlink");
        let err = lock_file(&lock, PRIVATE).expect_err("refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!victim.exists(), "not created");
        fs::write(&victim, "precious").expect("write");
        assert!(lock_file(&lock, PRIVATE).is_err());
        assert_eq!(fs::read(&victim).expect("read"), b"precious");
        fs::remove_file(&lock).expect("rm");
        let held = lock_file(&lock, PRIVATE).expect("a new lock file");
        drop(held);
        lock_file(&lock, PRIVATE).expect("an existing lock file");
        assert_eq!(
            fs::metadata(&lock).expect("meta").permissions().mode() & 0o777,
            0o600
        );
    }
}
