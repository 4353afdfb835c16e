//! The outbox folder: `<id>.eml` (the message as it will be sent) and `<id>.json` (its
//! [`Entry`]), both 0600 in a 0700 folder, and `.flush.lock`. Every write is atomic (temporary
//! file, fsync, rename, fsync of the folder), so a crash leaves the old record or the new one.
//! The `.eml` is written before the `.json`, and removed after it: an entry exists exactly
//! when its `.json` does, and its message is then complete. Ids sort in queue order.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::OutboxError;
use super::entry::{Entry, NewEntry, VERSION, valid_id};
use crate::fsutil::{self, AtomicFile, PRIVATE};

/// How long a flush or drop waits for another one to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(240);

/// An outbox folder (created on the first message queued).
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// The flush lock, held until dropped (the kernel releases it when the process dies).
#[derive(Debug)]
pub struct FlushLock {
    _file: File,
}

impl Spool {
    pub fn new(dir: impl Into<PathBuf>) -> Spool {
        Spool { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The message file of entry `id`.
    pub fn message_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.eml"))
    }

    fn entry_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn io(&self, path: &Path, e: std::io::Error) -> OutboxError {
        OutboxError::io(path, e)
    }

    /// Queues `bytes` durably and returns its entry.
    pub fn enqueue(&self, new: NewEntry, bytes: &[u8], now: i64) -> Result<Entry, OutboxError> {
        fsutil::create_private_dir_all(&self.dir).map_err(|e| self.io(&self.dir, e))?;
        for attempt in 0..10 {
            let id = new_id(attempt);
            let path = self.message_path(&id);
            let written = AtomicFile::create(&path, PRIVATE).and_then(|mut f| {
                f.write_all(bytes)?;
                f.commit_new()
            });
            match written {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.io(&path, e)),
            }
            let entry = Entry::new(new, id, bytes.len() as u64, now);
            self.save(&entry)?;
            return Ok(entry);
        }
        Err(self.io(
            &self.dir,
            std::io::Error::other("no free message id after 10 tries"),
        ))
    }

    /// Writes `entry`'s record (atomically; this is the journal of its state).
    pub fn save(&self, entry: &Entry) -> Result<(), OutboxError> {
        let path = self.entry_path(&entry.id);
        let mut text = serde_json::to_vec_pretty(entry).map_err(|e| OutboxError::Corrupt {
            path: path.clone(),
            why: e.to_string(),
        })?;
        text.push(b'\n');
        fsutil::write_atomic(&path, &text, PRIVATE).map_err(|e| self.io(&path, e))
    }

    /// Entry `id`.
    pub fn load(&self, id: &str) -> Result<Entry, OutboxError> {
        let missing = || OutboxError::NoSuchEntry {
            dir: self.dir.clone(),
            id: id.to_owned(),
        };
        if !valid_id(id) {
            return Err(missing());
        }
        let path = self.entry_path(id);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
            Err(e) => return Err(self.io(&path, e)),
        };
        let entry: Entry = serde_json::from_slice(&text).map_err(|e| OutboxError::Corrupt {
            path: path.clone(),
            why: e.to_string(),
        })?;
        if entry.version > VERSION {
            return Err(OutboxError::Corrupt {
                path,
                why: format!(
                    "format version {} is newer than this postie's",
                    entry.version
                ),
            });
        }
        if entry.id != id {
            return Err(OutboxError::Corrupt {
                path,
                why: format!("it names itself {:?}", entry.id),
            });
        }
        Ok(entry)
    }

    /// Every entry in queue order (an unreadable one as its error, so the rest goes on). A
    /// missing folder is an empty outbox.
    pub fn entries(&self) -> Result<Vec<Result<Entry, OutboxError>>, OutboxError> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&self.dir, e)),
        };
        let mut ids = Vec::new();
        for item in read {
            let item = item.map_err(|e| self.io(&self.dir, e))?;
            let name = item.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json"))
                && valid_id(id)
            {
                ids.push(id.to_owned());
            }
        }
        ids.sort();
        Ok(ids.iter().map(|id| self.load(id)).collect())
    }

    /// The message of entry `id`.
    pub fn read_message(&self, id: &str) -> Result<Vec<u8>, OutboxError> {
        let path = self.message_path(id);
        std::fs::read(&path).map_err(|e| self.io(&path, e))
    }

    /// Removes entry `id`: its record first (from then on it is gone), then its message.
    pub fn remove(&self, id: &str) -> Result<(), OutboxError> {
        let path = self.entry_path(id);
        std::fs::remove_file(&path).map_err(|e| self.io(&path, e))?;
        fsutil::sync_dir(&self.dir).map_err(|e| self.io(&self.dir, e))?;
        let message = self.message_path(id);
        match std::fs::remove_file(&message) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(&message, e)),
        }
    }

    /// Removes what killed processes left behind and nothing can finish any more: a message
    /// whose record was never written (`send --queue` killed in between) and the temporary
    /// files of interrupted atomic writes, once older than `age` (a `send --queue` running
    /// now takes no lock, so young files are left alone). Returns how many were removed.
    pub fn sweep(&self, age: Duration) -> Result<usize, OutboxError> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.io(&self.dir, e)),
        };
        let mut removed = 0;
        for item in read {
            let item = item.map_err(|e| self.io(&self.dir, e))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            let orphan = name
                .strip_suffix(".eml")
                .is_some_and(|id| valid_id(id) && !self.entry_path(id).exists());
            let temporary = name.starts_with(".postie-") && name.ends_with(".tmp");
            let old = item
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|e| e >= age));
            if (orphan || temporary) && old && std::fs::remove_file(item.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Takes the flush lock, waiting up to `wait` for another flush or drop (saying so on
    /// stderr once).
    pub fn lock(&self, wait: Duration) -> Result<FlushLock, OutboxError> {
        fsutil::create_private_dir_all(&self.dir).map_err(|e| self.io(&self.dir, e))?;
        let path = self.dir.join(".flush.lock");
        let file = fsutil::open_lock_file(&path, PRIVATE).map_err(|e| self.io(&path, e))?;
        let started = Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FlushLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(self.io(&path, e)),
            }
            if started.elapsed() >= wait {
                return Err(OutboxError::Busy {
                    path,
                    secs: wait.as_secs(),
                });
            }
            if !told {
                eprintln!(
                    "postie: outbox {}: waiting for another flush to finish",
                    self.dir.display()
                );
                told = true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A new id: UTC time to the nanosecond, then the process id (and a retry number), so ids
/// sort in queue order and two processes never pick the same one.
fn new_id(attempt: u32) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}-{:09}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond()
    );
    match attempt {
        0 => format!("{stamp}-{}", std::process::id()),
        n => format!("{stamp}-{}.{n}", std::process::id()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::smtp::outbox::entry::{Connection, State};

    pub(crate) fn new_entry(to: &str) -> NewEntry {
        NewEntry {
            envelope: lettre::address::Envelope::new(
                Some("a@x.test".parse().expect("from")),
                vec![to.parse().expect("to")],
            )
            .expect("envelope"),
            message_id: None,
            connection: Connection::default(),
            dsn: Default::default(),
            state: State::Queued,
            attempts: 0,
            last_error: None,
        }
    }

    #[test]
    fn enqueue_writes_private_files_in_queue_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path().join("outbox"));
        assert!(spool.entries().expect("empty").is_empty());
        let a = spool
            .enqueue(new_entry("b@y.test"), b"one\r\n", 1)
            .expect("a");
        let b = spool
            .enqueue(new_entry("c@y.test"), b"two\r\n", 2)
            .expect("b");
        assert!(a.id < b.id, "{} {}", a.id, b.id);
        let ids: Vec<String> = spool
            .entries()
            .expect("list")
            .into_iter()
            .map(|e| e.expect("entry").id)
            .collect();
        assert_eq!(ids, [a.id.clone(), b.id.clone()]);
        assert_eq!(spool.read_message(&a.id).expect("eml"), b"one\r\n");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&spool.message_path(&a.id)), 0o600);
        assert_eq!(
            mode(&dir.path().join("outbox").join(format!("{}.json", a.id))),
            0o600
        );
        assert_eq!(mode(spool.dir()), 0o700);
        spool.remove(&a.id).expect("remove");
        assert!(!spool.message_path(&a.id).exists());
        let err = spool.load(&a.id).expect_err("gone");
        assert!(matches!(err, OutboxError::NoSuchEntry { .. }), "{err}");
    }

    #[test]
    fn a_message_without_its_record_is_no_entry_and_a_torn_record_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        std::fs::write(dir.path().join("20260101T000000-000000000-1.eml"), "x").expect("eml");
        std::fs::write(dir.path().join(".postie-x.tmp"), "{").expect("tmp");
        assert!(spool.entries().expect("list").is_empty());
        std::fs::write(
            dir.path().join("20260101T000000-000000000-2.json"),
            "{\"id\":",
        )
        .expect("torn");
        let list = spool.entries().expect("list");
        assert_eq!(list.len(), 1);
        assert!(matches!(list[0], Err(OutboxError::Corrupt { .. })));
        assert!(matches!(
            spool.load("../etc/passwd"),
            Err(OutboxError::NoSuchEntry { .. })
        ));
    }

    #[test]
    fn sweep_removes_only_old_leftovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        let kept = spool
            .enqueue(new_entry("b@y.test"), b"x\r\n", 1)
            .expect("queued");
        let orphan = dir.path().join("20260101T000000-000000000-1.eml");
        let tmp = dir.path().join(".postie-abc.tmp");
        let young = dir.path().join("20260101T000000-000000000-2.eml");
        let long_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
        for path in [&orphan, &tmp, &young] {
            std::fs::write(path, "x").expect("write");
        }
        for path in [&orphan, &tmp, &spool.message_path(&kept.id)] {
            let f = File::options().write(true).open(path).expect("open");
            f.set_modified(long_ago).expect("mtime");
        }
        assert_eq!(spool.sweep(Duration::from_secs(3600)).expect("sweep"), 2);
        assert!(!orphan.exists() && !tmp.exists());
        assert!(young.exists(), "too young to be a leftover");
        assert!(spool.message_path(&kept.id).exists(), "its record exists");
    }

    #[test]
    fn the_lock_is_exclusive_and_a_second_taker_gives_up_after_its_wait() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::new(dir.path());
        let held = spool.lock(Duration::ZERO).expect("first");
        let err = spool.lock(Duration::from_millis(120)).expect_err("busy");
        assert_eq!(err.exit_code(), crate::exit::code::TEMPFAIL);
        drop(held);
        spool.lock(Duration::ZERO).expect("free again");
    }
}
