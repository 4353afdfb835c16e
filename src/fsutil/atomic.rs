//! [`AtomicFile`]: a file written beside its destination and given the destination's name
//! only when complete.
//!
//! Where the kernel and the filesystem allow it (Linux's `O_TMPFILE`: ext4, XFS, btrfs,
//! tmpfs) the file has no name at all until the commit links it in: nothing is left behind
//! when the process dies, even by SIGKILL, and the folder is changed once instead of three
//! times (create a temporary name, rename it, remove the old entry). On a folder with many
//! entries, as a many-URL download makes, that is half the filesystem time. Elsewhere it is
//! a hidden `.postie-*.tmp` file, renamed into place, removed on drop and on Ctrl-C.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;

use super::{Unfinished, clean_up_on_interrupt, parent_dir, resolve_links, sync_dir_after_commit};

#[derive(Debug)]
enum Temp {
    /// Unnamed (`O_TMPFILE`) in the folder that will hold it.
    Unnamed(File),
    /// Named, tracked so that Ctrl-C removes it.
    Named {
        tmp: tempfile::NamedTempFile,
        _unfinished: Unfinished,
    },
}

/// A file being written beside its destination. Dropped without [`AtomicFile::commit`],
/// it disappears and the destination is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    temp: Temp,
    dest: PathBuf,
    /// `dest` with symbolic links followed: what [`AtomicFile::commit`] replaces.
    target: PathBuf,
    /// fsync the data and the folder on commit (false: [`AtomicFile::unsynced`]).
    durable: bool,
}

impl AtomicFile {
    /// Starts writing `dest` with permissions `mode`. When `dest` is a symbolic link the
    /// file is made beside the file it points to.
    pub fn create(dest: &Path, mode: u32) -> io::Result<AtomicFile> {
        let target = resolve_links(dest)?;
        // Ctrl-C exits with the same code whichever kind of file is being written.
        clean_up_on_interrupt();
        let temp = match open_unnamed(parent_dir(&target), mode) {
            Some(file) => Temp::Unnamed(file),
            None => named(&target, mode)?,
        };
        Ok(AtomicFile {
            temp,
            dest: dest.to_owned(),
            target,
            durable: true,
        })
    }

    /// As [`create`](Self::create), always with a named temporary file (tests of the
    /// fallback and of the Ctrl-C cleanup).
    #[cfg(test)]
    pub(super) fn create_named(dest: &Path, mode: u32) -> io::Result<AtomicFile> {
        let target = resolve_links(dest)?;
        Ok(AtomicFile {
            temp: named(&target, mode)?,
            dest: dest.to_owned(),
            target,
            durable: true,
        })
    }

    /// Commits by link or rename alone, without fsyncing the data or the folder: still
    /// atomic for every reader and against the process dying (the final name appears only
    /// with the whole file behind it), but after a power cut the name may show a shorter
    /// file. For bulk downloads, whose writeback would otherwise double the run (as curl
    /// and wget).
    #[must_use]
    pub fn unsynced(mut self) -> AtomicFile {
        self.durable = false;
        self
    }

    pub fn file(&mut self) -> &mut File {
        match &mut self.temp {
            Temp::Unnamed(file) => file,
            Temp::Named { tmp, .. } => tmp.as_file_mut(),
        }
    }

    /// The temporary path, when the file has one (for messages and tests).
    pub fn temp_path(&self) -> Option<&Path> {
        match &self.temp {
            Temp::Unnamed(_) => None,
            Temp::Named { tmp, .. } => Some(tmp.path()),
        }
    }

    /// fsyncs, then puts the file in place of the destination (the file a symbolic link
    /// points to, the link staying as it is), then fsyncs the folder.
    pub fn commit(self) -> io::Result<()> {
        let target = self.target.clone();
        self.place(&target, true)
    }

    /// Like [`commit`](Self::commit) but fails with `AlreadyExists` instead of replacing;
    /// a symbolic link (dangling or not) counts as existing and is never followed.
    pub fn commit_new(self) -> io::Result<()> {
        if self.target != self.dest {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is a symbolic link", self.dest.display()),
            ));
        }
        let dest = self.dest.clone();
        self.place(&dest, false)
    }

    /// The commit of both kinds of file: sync (when durable), name it `at` (replacing
    /// what is there, or never: linkat and `persist_noclobber` neither replace nor follow a
    /// link at the new name), sync the folder (when durable).
    fn place(self, at: &Path, replace: bool) -> io::Result<()> {
        let durable = self.durable;
        match self.temp {
            Temp::Unnamed(file) => {
                sync_if(durable, &file)?;
                let linked = if replace {
                    link_replacing(&file, parent_dir(at), at)
                } else {
                    link(&file, at)
                };
                match linked {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                        persist(named_copy(file, at)?, at, replace)?;
                    }
                    done => done?,
                }
            }
            Temp::Named { tmp, .. } => {
                sync_if(durable, tmp.as_file())?;
                persist(tmp, at, replace)?;
            }
        }
        if durable {
            sync_dir_after_commit(parent_dir(at))
        } else {
            Ok(())
        }
    }
}

fn persist(tmp: tempfile::NamedTempFile, at: &Path, replace: bool) -> io::Result<()> {
    let done = if replace {
        tmp.persist(at)
    } else {
        tmp.persist_noclobber(at)
    };
    done.map(drop).map_err(|e| e.error)
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

fn sync_if(durable: bool, file: &File) -> io::Result<()> {
    if durable { file.sync_all() } else { Ok(()) }
}

fn named(target: &Path, mode: u32) -> io::Result<Temp> {
    let tmp = named_temp(target, mode)?;
    let _unfinished = Unfinished::track(tmp.path());
    Ok(Temp::Named { tmp, _unfinished })
}

fn named_temp(target: &Path, mode: u32) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".postie-")
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(parent_dir(target))
}

/// An unnamed file in `dir`, or None where that cannot be done (no `O_TMPFILE` in the
/// kernel or the filesystem, no /proc to link it through, or any other refusal: the named
/// way then reports the error, if there is one).
fn open_unnamed(dir: &Path, mode: u32) -> Option<File> {
    static PROC_FD: OnceLock<bool> = OnceLock::new();
    // Naming an unnamed file without privileges goes through /proc/self/fd.
    if !*PROC_FD.get_or_init(|| Path::new("/proc/self/fd").is_dir()) {
        return None;
    }
    let flags = OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(mode)).ok()?;
    Some(File::from(fd))
}

/// The unnamed `file` copied into a named temporary file beside `target` and fsynced: for
/// the rare system where linking through /proc is refused after the file was made (a
/// sandbox, a security module). Slower, and the data is never lost.
fn named_copy(mut file: File, target: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::io::Seek;
    let mode = file.metadata()?.permissions().mode() & 0o7777;
    let mut tmp = named_temp(target, mode)?;
    let _unfinished = Unfinished::track(tmp.path());
    file.rewind()?;
    io::copy(&mut file, tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// Gives the unnamed `file` the name `path`; fails with `AlreadyExists` when taken.
fn link(file: &File, path: &Path) -> io::Result<()> {
    // Straight from the descriptor where allowed (a privileged process, or a kernel that
    // lets the file's opener do it): no walk through /proc. Given up only once the /proc
    // way worked where it did not: ENOENT also means a folder of `path` is missing, which
    // says nothing about the descriptor.
    static FROM_FD: AtomicBool = AtomicBool::new(true);
    if !FROM_FD.load(Ordering::Relaxed) {
        return link_through_proc(file, path);
    }
    match rustix::fs::linkat(file, "", CWD, path, AtFlags::EMPTY_PATH) {
        Err(e) if e == Errno::NOENT || e == Errno::PERM || e == Errno::INVAL => {
            let linked = link_through_proc(file, path);
            if linked.is_ok() {
                FROM_FD.store(false, Ordering::Relaxed);
            }
            linked
        }
        done => done.map_err(io::Error::from),
    }
}

fn link_through_proc(file: &File, path: &Path) -> io::Result<()> {
    let fd_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(CWD, fd_path.as_str(), CWD, path, AtFlags::SYMLINK_FOLLOW)
        .map_err(io::Error::from)
}

/// Puts the unnamed `file` at `target`, replacing what is there atomically: linked
/// straight in when the name is free, else linked under a fresh hidden name and renamed
/// over it.
fn link_replacing(file: &File, dir: &Path, target: &Path) -> io::Result<()> {
    match link(file, target) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        done => return done,
    }
    static SEQ: AtomicU64 = AtomicU64::new(0);
    for _ in 0..100 {
        let name = dir.join(format!(
            ".postie-{}-{}.tmp",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        match link(file, &name) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        let _unfinished = Unfinished::track(&name);
        return std::fs::rename(&name, target).inspect_err(|_| {
            let _ = std::fs::remove_file(&name);
        });
    }
    Err(io::Error::other("no free temporary name beside the file"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn an_unfinished_file_has_no_name_or_only_its_hidden_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("page.html");
        let mut f = AtomicFile::create(&dest, 0o644).expect("create");
        f.write_all(b"half").expect("write");
        let expected: Vec<String> = f
            .temp_path()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .into_iter()
            .collect();
        assert_eq!(names(dir.path()), expected);
        f.write_all(b" and the rest").expect("write");
        f.commit().expect("commit");
        assert_eq!(names(dir.path()), ["page.html"]);
        assert_eq!(std::fs::read(&dest).expect("read"), b"half and the rest");
    }

    #[test]
    fn commit_replaces_an_existing_file_atomically_both_ways() {
        for named in [false, true] {
            let dir = tempfile::tempdir().expect("tempdir");
            let dest = dir.path().join("jar.txt");
            std::fs::write(&dest, "old").expect("write");
            let old_inode = std::fs::metadata(&dest).expect("meta").ino();
            let mut f = if named {
                AtomicFile::create_named(&dest, 0o600)
            } else {
                AtomicFile::create(&dest, 0o600)
            }
            .expect("create");
            f.write_all(b"new").expect("write");
            // Until the commit the old file is there, whole.
            assert_eq!(std::fs::read(&dest).expect("read"), b"old");
            f.unsynced().commit().expect("commit");
            assert_eq!(std::fs::read(&dest).expect("read"), b"new", "named {named}");
            assert_ne!(std::fs::metadata(&dest).expect("meta").ino(), old_inode);
            assert_eq!(
                names(dir.path()),
                ["jar.txt"],
                "named {named}: nothing left"
            );
        }
    }

    #[test]
    fn an_unnamed_file_that_cannot_be_linked_is_copied_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("page");
        let Some(mut file) = open_unnamed(dir.path(), 0o640) else {
            eprintln!("skipped: no O_TMPFILE on this filesystem");
            return;
        };
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&body).expect("write");
        let tmp = named_copy(file, &dest).expect("copy");
        tmp.persist(&dest).expect("persist");
        assert_eq!(std::fs::read(&dest).expect("read"), body);
        let mode = std::fs::metadata(&dest).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "{mode:o}: no wider than asked");
        assert_eq!(names(dir.path()), ["page"]);
    }

    /// The way every unprivileged user's files are named; a test run as root links from the
    /// descriptor and would never reach it through `commit`.
    #[test]
    fn linking_through_proc_names_the_whole_file_and_refuses_a_taken_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(mut file) = open_unnamed(dir.path(), 0o600) else {
            eprintln!("skipped: no O_TMPFILE on this filesystem");
            return;
        };
        file.write_all(b"all of it").expect("write");
        let dest = dir.path().join("page");
        link_through_proc(&file, &dest).expect("link");
        assert_eq!(std::fs::read(&dest).expect("read"), b"all of it");
        let again = link_through_proc(&file, &dest).expect_err("taken");
        assert_eq!(
            again.kind(),
            io::ErrorKind::AlreadyExists,
            "link_replacing relies on it"
        );
        let missing = link_through_proc(&file, &dir.path().join("no/page")).expect_err("no dir");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert_eq!(names(dir.path()), ["page"]);
    }

    #[test]
    fn commit_new_refuses_a_taken_name_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("a");
        std::fs::write(&dest, "first").expect("write");
        let mut f = AtomicFile::create(&dest, 0o644).expect("create");
        f.write_all(b"second").expect("write");
        let err = f.commit_new().expect_err("taken");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).expect("read"), b"first");
        assert_eq!(names(dir.path()), ["a"]);
    }
}
