//! Writes that matter: atomic replacement (temporary file in the same folder, fsync, rename,
//! fsync of the folder) and create-new files, with an explicit mode (0600 for jars, state
//! and saved mail). It does not decide names or layouts: callers do.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode for files that may hold secrets or private mail.
pub const PRIVATE: u32 = 0o600;

/// A file being written under a temporary name beside its destination. Dropped without
/// [`AtomicFile::commit`], the temporary file is removed and the destination is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
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
        Ok(AtomicFile {
            tmp,
            dest: dest.to_owned(),
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
        let AtomicFile { tmp, dest } = self;
        tmp.as_file().sync_all()?;
        tmp.persist(&dest).map_err(|e| e.error)?;
        sync_dir(parent_dir(&dest))
    }

    /// Like [`commit`](Self::commit) but fails with `AlreadyExists` instead of replacing.
    pub fn commit_new(self) -> io::Result<()> {
        let AtomicFile { tmp, dest } = self;
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
