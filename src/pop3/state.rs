//! The pull state: which UIDLs were stored, under which file name, and with which LIST size,
//! per (server, port, user). A journal of `<escaped key> <name> <size>` lines, appended and
//! fdatasynced per batch before the batch's files are renamed into place, with a `.` line
//! after the renames. On load, entries after the last `.` (the only ones that can be ahead of
//! the disk) are kept only when their file exists; a torn last line is ignored. The file is
//! compacted atomically (fsutil) at the start and the end of a run, and locked for the run (a
//! `.lock` file beside it, with `File::try_lock`). Neither file is ever written through a
//! symbolic link.
//!
//! Each entry also has its retrieval time (Unix seconds; `--delete-after` counts from it).
//! Older files have `<key> <name>` lines (v1: no size, and a key starting with `#` written
//! as it is, which then read as a comment: such `#` lines are read back as unconfirmed
//! entries) or `<key> <name> <size>` lines (v2: no time). An entry without a time counts as
//! retrieved when it is first read ([`State::undated`] says how many), and is written with
//! that time at the next compaction. v3 lines are `<key> <name> <size or -> <time>`.
//!
//! [`now`] is the one place postie reads the clock for retrieval times: `POSTIE_TEST_NOW`
//! (Unix seconds) replaces it, a hook for tests of retention across days.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::fsutil;
use crate::pop3::Format;
use crate::pop3::Pop3Error;

/// The state file's name for (server, port, user): inside the output folder, or for an
/// mbox (a file) beside it, with the mbox's name in it.
pub fn default_path(out: &Path, format: Format, host: &str, port: u16, user: &str) -> PathBuf {
    let key = escape(format!("{host}_{port}_{user}").as_bytes(), true);
    match format {
        Format::Mbox => {
            let name = out.file_name().unwrap_or_default().as_encoded_bytes();
            let name = escape(name, true);
            fsutil::parent_dir(out).join(format!(".postie-pop3-{key}.{name}.state"))
        }
        Format::Maildir | Format::Eml => out.join(format!(".postie-pop3-{key}.state")),
    }
}

/// Percent-escapes every octet outside printable ASCII, `%` and `#` (which starts a comment
/// line); for file names, anything but `[A-Za-z0-9._@+-]` (and a leading dot). A UIDL never
/// reaches a path unescaped.
pub fn escape(bytes: &[u8], for_file_name: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        let keep = if for_file_name {
            b.is_ascii_alphanumeric() || b"._@+-".contains(&b)
        } else {
            (0x21..=0x7e).contains(&b) && b != b'%' && b != b'#'
        };
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if for_file_name && out.starts_with('.') {
        out.replace_range(0..1, "%2E");
    }
    out
}

pub fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The file name recorded by `postie pop3 mark-seen`: the message counts as retrieved, but
/// postie never stored it (so `--delete` never deletes it).
pub const SEEN: &str = "-";

const HEADER: &str = "# postie pop3 state v3: <escaped UIDL key> <file name> <LIST size> \
                      <retrieved, Unix time>; `.` = on disk\n";

/// The time retrievals are recorded with, in Unix seconds. `POSTIE_TEST_NOW` (Unix
/// seconds) replaces the clock: the test hook for retention across days; nothing else
/// reads it.
pub fn now() -> u64 {
    if let Some(t) = std::env::var("POSTIE_TEST_NOW")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return t;
    }
    u64::try_from(crate::clock::unix_now()).unwrap_or(0)
}
const COMMITTED: &str = ".\n";

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name it was stored under.
    pub name: String,
    /// Its LIST size when it was stored (`None`: recorded by a version without sizes).
    pub size: Option<u64>,
    /// When it was retrieved (Unix seconds; for entries of versions without times, when
    /// the state was first read by one that has them).
    pub retrieved: u64,
}

/// A journal line read back: `None` for comments, blank lines and the header. The time is
/// `None` for lines of versions without one.
fn parse_line(line: &str) -> Result<Option<(Vec<u8>, Entry, bool)>, ()> {
    let legacy_hash = line.starts_with('#');
    if line.is_empty() || (legacy_hash && line.matches(' ').count() != 1) {
        return Ok(None);
    }
    let mut fields = line.split(' ');
    let (Some(key), Some(name)) = (fields.next(), fields.next()) else {
        return Err(());
    };
    let (size, time) = (fields.next(), fields.next());
    let size = match size {
        Some("-") if time.is_some() => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| ())?),
        None => None,
    };
    let time = time.map(|t| t.parse::<u64>().map_err(|_| ())).transpose()?;
    if fields.next().is_some() || name.is_empty() {
        return Err(());
    }
    let key = unescape(key).ok_or(())?;
    let name = name.to_owned();
    let dated = time.is_some();
    let retrieved = time.unwrap_or(0);
    Ok(Some((
        key,
        Entry {
            name,
            size,
            retrieved,
        },
        dated,
    )))
}

/// Refuses a symbolic link at `path` (a missing file is fine).
fn refuse_symlink(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            Err("is a symbolic link; postie does not write through one (give the real path)".into())
        }
        _ => Ok(()),
    }
}

/// Opens `path` for writing (appending when `append`) without following a symbolic link:
/// a new file is created with O_EXCL (which never follows one); an existing one is opened
/// and then checked to be the very file the path names, not a link's target.
fn open_no_follow(path: &Path, append: bool) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).append(append).mode(fsutil::PRIVATE);
    let file = match opts.clone().create_new(true).open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => opts.open(path)?,
        other => other?,
    };
    let link = std::fs::symlink_metadata(path)?;
    let opened = file.metadata()?;
    if link.file_type().is_symlink() || (link.dev(), link.ino()) != (opened.dev(), opened.ino()) {
        return Err(std::io::Error::other(
            "is a symbolic link; postie does not write through one",
        ));
    }
    Ok(file)
}

/// The UIDLs already stored, with the file each went to; locked while it lives.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    _lock: File,
    entries: HashMap<Vec<u8>, Entry>,
    journal: Option<File>,
    /// How many entries had no retrieval time (written by an older version).
    undated: usize,
}

impl State {
    /// Locks and loads `path` (missing: empty). `exists(name)` checks unconfirmed entries.
    pub fn open(path: &Path, exists: impl Fn(&str) -> bool) -> Result<State, Pop3Error> {
        let err = |why: String| Pop3Error::State {
            path: path.to_owned(),
            why,
        };
        refuse_symlink(path).map_err(err)?;
        let lock = lock(path)?;
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        let (entries, undated) = load(&text, exists).map_err(err)?;
        Ok(State {
            path: path.to_owned(),
            _lock: lock,
            entries,
            journal: None,
            undated,
        })
    }

    /// How many entries were read without a retrieval time (a state file of an older
    /// version): they count as retrieved when this state was opened.
    pub fn undated(&self) -> usize {
        self.undated
    }

    /// What was recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn write_err(&self, e: std::io::Error) -> Pop3Error {
        Pop3Error::Write {
            path: self.path.clone(),
            source: e,
        }
    }

    fn append(&mut self, text: &str, sync: bool) -> Result<(), Pop3Error> {
        if self.journal.is_none() {
            let f = open_no_follow(&self.path, true).map_err(|e| self.write_err(e))?;
            if f.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
                (&f).write_all(HEADER.as_bytes())
                    .map_err(|e| self.write_err(e))?;
                fsutil::sync_dir(fsutil::parent_dir(&self.path)).map_err(|e| self.write_err(e))?;
            }
            self.journal = Some(f);
        }
        let result = match &mut self.journal {
            Some(f) => f
                .write_all(text.as_bytes())
                .and_then(|_| if sync { f.sync_data() } else { Ok(()) }),
            None => Ok(()),
        };
        result.map_err(|e| self.write_err(e))
    }

    /// Records entries `(key, file name, LIST size)` (before their files are renamed into
    /// place) and fdatasyncs them.
    pub fn record(&mut self, batch: &[(Vec<u8>, String, u64)]) -> Result<(), Pop3Error> {
        let retrieved = now();
        let text: String = batch
            .iter()
            .map(|(k, n, size)| format!("{} {n} {size} {retrieved}\n", escape(k, false)))
            .collect();
        self.append(&text, true)?;
        for (k, n, size) in batch {
            let entry = Entry {
                name: n.clone(),
                size: Some(*size),
                retrieved,
            };
            self.entries.insert(k.clone(), entry);
        }
        Ok(())
    }

    /// Drops the entries of `uidl` (every occurrence of a duplicated one), or every entry
    /// when `uidl` is `None`, and rewrites the file atomically. Returns how many went.
    pub fn forget(&mut self, uidl: Option<&[u8]>) -> Result<usize, Pop3Error> {
        let before = self.entries.len();
        let matches = |k: &[u8]| match uidl {
            None => true,
            Some(u) => k == u || (k.starts_with(u) && k.get(u.len()) == Some(&0)),
        };
        self.compact(|k| !matches(k))?;
        Ok(before - self.entries.len())
    }

    /// Notes that every entry so far is on disk (made durable with the next record).
    pub fn confirm(&mut self) -> Result<(), Pop3Error> {
        self.append(COMMITTED, false)
    }

    /// Keeps only the entries `keep` accepts, and rewrites the file atomically.
    pub fn compact(&mut self, keep: impl Fn(&[u8]) -> bool) -> Result<(), Pop3Error> {
        self.entries.retain(|k, _| keep(k));
        self.journal = None;
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|(k, e)| {
                let size = e.size.map_or("-".to_owned(), |s| s.to_string());
                format!("{} {} {size} {}\n", escape(k, false), e.name, e.retrieved)
            })
            .collect();
        lines.sort();
        let text = format!("{HEADER}{}{COMMITTED}", lines.concat());
        fsutil::write_atomic(&self.path, text.as_bytes(), fsutil::PRIVATE)
            .map_err(|e| self.write_err(e))
    }
}

/// The entries of a state file's text (see the module's doc), and how many had no time.
fn load(
    text: &[u8],
    exists: impl Fn(&str) -> bool,
) -> Result<(HashMap<Vec<u8>, Entry>, usize), String> {
    let mut entries = HashMap::new();
    let mut unconfirmed: Vec<(Vec<u8>, String)> = Vec::new();
    let first_sight = now();
    let mut undated_keys = std::collections::HashSet::new();
    // Only complete lines count: a torn last line (killed mid-append) is ignored.
    let complete = match text.iter().rposition(|b| *b == b'\n') {
        Some(p) => &text[..=p],
        None => &[][..],
    };
    for line in complete.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(line);
        if line == "." {
            unconfirmed.clear();
            continue;
        }
        let malformed = || format!("a malformed line: {line:?}");
        let Some((key, mut entry, dated)) = parse_line(&line).map_err(|_| malformed())? else {
            continue;
        };
        if !dated {
            entry.retrieved = first_sight;
            undated_keys.insert(key.clone());
        } else {
            undated_keys.remove(&key);
        }
        // A legacy `#` line was never read back, so it was never confirmed either.
        if line.starts_with('#') {
            if exists(&entry.name) {
                entries.insert(key, entry);
            }
            continue;
        }
        unconfirmed.push((key.clone(), entry.name.clone()));
        entries.insert(key, entry);
    }
    for (key, name) in unconfirmed {
        if name != SEEN && !exists(&name) {
            entries.remove(&key);
        }
    }
    let undated = undated_keys
        .iter()
        .filter(|k| entries.contains_key(*k))
        .count();
    Ok((entries, undated))
}

/// Opens and locks `STATE.lock` (never through a symbolic link).
fn lock(path: &Path) -> Result<File, Pop3Error> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let err = |why: String| Pop3Error::State {
        path: lock_path.clone(),
        why,
    };
    let lock = open_no_follow(&lock_path, false).map_err(|e| err(e.to_string()))?;
    // A lock that was just released can stay held for an instant: a child process forked by
    // another thread (a password command, a test) holds a copy of the descriptor until its
    // exec closes it, or an earlier run is closing. So a busy lock is tried again for a
    // moment before it counts as another run's.
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Pop3Error::Locked {
                    path: path.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(format!("cannot lock: {e}"))),
        }
    }
}

/// How long a busy state lock is tried before another run is reported as holding it.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_reversible_and_file_safe() {
        let uidl = b"a b/../%\xff\x00";
        let e = escape(uidl, false);
        assert!(!e.contains(' '));
        assert_eq!(unescape(&e).as_deref(), Some(&uidl[..]));
        let f = escape(b"../x/y", true);
        assert!(!f.contains('/'));
        assert!(!f.starts_with('.'));
        assert_eq!(
            escape(b"whqtswO00WBw418f9t5JxYwZ", true),
            "whqtswO00WBw418f9t5JxYwZ"
        );
        assert_eq!(unescape("%4"), None);
    }

    fn rec(s: &mut State, key: &[u8], name: &str) {
        s.record(&[(key.to_vec(), name.to_owned(), 10)])
            .expect("record");
    }

    #[test]
    fn a_torn_line_is_ignored_and_unconfirmed_entries_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        {
            let mut s = State::open(&path, |_| true).expect("open");
            rec(&mut s, b"one", "f1");
            s.confirm().expect("confirm");
            rec(&mut s, b"t w\x00o", "f2");
        }
        let mut text = std::fs::read(&path).expect("read");
        text.extend_from_slice(b"thr");
        std::fs::write(&path, &text).expect("write");
        let s = State::open(&path, |_| true).expect("reopen");
        assert!(s.contains(b"one") && s.contains(b"t w\x00o") && !s.contains(b"thr"));
        drop(s);
        // f2 never reached the disk; f1 is confirmed, so it is not even checked.
        let s = State::open(&path, |name| name == "nothing").expect("reopen");
        assert!(s.contains(b"one"));
        assert!(!s.contains(b"t w\x00o"));
    }

    #[test]
    fn compaction_keeps_what_is_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        let mut s = State::open(&path, |_| true).expect("open");
        rec(&mut s, b"a", "fa");
        rec(&mut s, b"b", "fb");
        s.compact(|k| k == b"b").expect("compact");
        drop(s);
        let s = State::open(&path, |_| false).expect("reopen");
        assert!(
            s.contains(b"b") && !s.contains(b"a"),
            "compacted entries are confirmed"
        );
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn forget_drops_one_uidl_with_its_duplicates_or_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        let mut s = State::open(&path, |_| true).expect("open");
        rec(&mut s, b"a", "fa");
        rec(&mut s, b"a\x002", "fa2");
        rec(&mut s, b"ab", "fab");
        assert_eq!(s.forget(Some(b"a")).expect("forget"), 2);
        assert!(s.contains(b"ab") && !s.contains(b"a"));
        assert_eq!(s.forget(Some(b"zz")).expect("forget"), 0);
        assert_eq!(s.forget(None).expect("forget"), 1);
        drop(s);
        assert!(State::open(&path, |_| true).expect("reopen").is_empty());
    }

    #[test]
    fn seen_entries_need_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        {
            let mut s = State::open(&path, |_| true).expect("open");
            rec(&mut s, b"seen", SEEN);
            rec(&mut s, b"stored", "f1");
        }
        // Neither is confirmed; only the one with a file name needs its file.
        let s = State::open(&path, |_| false).expect("reopen");
        assert!(s.contains(b"seen") && !s.contains(b"stored"));
    }

    #[test]
    fn the_state_is_locked_for_the_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        let _held = State::open(&path, |_| true).expect("open");
        let err = State::open(&path, |_| true).expect_err("locked");
        assert_eq!(err.exit_code(), 75);
    }

    #[test]
    fn keys_with_hash_and_other_special_octets_read_back_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        let keys: [&[u8]; 6] = [b"#1", b"#", b"a#b", b".", b"%23", b"x\x00 2"];
        {
            let mut s = State::open(&path, |_| true).expect("open");
            for (i, k) in keys.iter().enumerate() {
                rec(&mut s, k, &format!("f{i}"));
            }
            s.confirm().expect("confirm");
        }
        let s = State::open(&path, |_| false).expect("reopen");
        for k in keys {
            assert!(s.contains(k), "{k:?}");
        }
        assert_eq!(s.len(), keys.len());
        assert_eq!(
            s.get(b"#1"),
            Some(&Entry {
                name: "f0".into(),
                size: Some(10),
                retrieved: s.get(b"#1").map_or(0, |e| e.retrieved),
            })
        );
    }

    #[test]
    fn retrieval_times_are_kept_and_older_files_get_the_first_sight() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        let v2 = "# postie pop3 state v2: <escaped UIDL key> <file name> <LIST size>; `.` = on disk\n\
                  old f1 12\n.\n";
        std::fs::write(&path, v2).expect("write");
        let before = now();
        let mut s = State::open(&path, |_| true).expect("open");
        assert_eq!(s.undated(), 1);
        let first_sight = s.get(b"old").expect("old").retrieved;
        assert!(first_sight >= before, "counted as retrieved now");
        s.record(&[(b"new".to_vec(), "f2".into(), 7)])
            .expect("record");
        s.compact(|_| true).expect("compact");
        drop(s);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("# postie pop3 state v3"), "{text}");
        assert!(
            text.contains(&format!("old f1 12 {first_sight}\n")),
            "{text}"
        );
        let s = State::open(&path, |_| true).expect("reopen");
        assert_eq!(s.undated(), 0, "the migrated file has every time");
        assert_eq!(s.get(b"old").map(|e| e.retrieved), Some(first_sight));
        drop(s);
        // A v1 entry (no size) keeps its unknown size next to its time.
        std::fs::write(&path, "abc f1\n.\nx f2 3 1000\n.\n").expect("write");
        let mut s = State::open(&path, |_| true).expect("open");
        assert_eq!(s.undated(), 1);
        assert_eq!(
            s.get(b"x").map(|e| (e.size, e.retrieved)),
            Some((Some(3), 1000))
        );
        s.compact(|_| true).expect("compact");
        drop(s);
        let s = State::open(&path, |_| true).expect("reopen");
        assert_eq!(s.get(b"abc").map(|e| e.size), Some(None));
        for bad in ["k n 1 x\n", "k n - \n", "k n 1 2 3\n"] {
            std::fs::write(&path, bad).expect("write");
            drop(State::open(&path, |_| true).expect_err(bad));
        }
        drop(s);
    }

    #[test]
    fn version_1_files_are_read_with_unknown_sizes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        let v1 = "# postie pop3 state v1: <escaped UIDL key> <file name>; `.` = on disk\n\
                  abc f1\n.\n#legacy f2\n#gone f3\n# a comment with spaces\n";
        std::fs::write(&path, v1).expect("write");
        let s = State::open(&path, |name| name != "f3").expect("open");
        assert_eq!(
            s.get(b"abc"),
            Some(&Entry {
                name: "f1".into(),
                size: None,
                retrieved: s.get(b"abc").map_or(0, |e| e.retrieved),
            })
        );
        assert!(s.contains(b"#legacy"), "a `#` key of v1, its file on disk");
        assert!(!s.contains(b"#gone"), "its file is not on disk");
        assert_eq!(s.len(), 2);
        std::fs::write(&path, "abc f1 12x\n").expect("write");
        drop(s);
        assert!(State::open(&path, |_| true).is_err(), "a malformed size");
    }

    #[test]
    fn symlinks_are_never_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep\n").expect("write");
        let link = dir.path().join("link.state");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        let err = State::open(&link, |_| true).expect_err("refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(err.exit_code(), 23);
        // A link put in place after the state was opened is refused at the first append.
        let path = dir.path().join("s.state");
        let mut s = State::open(&path, |_| true).expect("open");
        std::os::unix::fs::symlink(&victim, &path).expect("symlink");
        let err = s
            .record(&[(b"k".to_vec(), "n".into(), 1)])
            .expect_err("refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read(&victim).expect("read"), b"keep\n");
        // So is a `.lock` that is a link (to a file that does not exist yet).
        let other = dir.path().join("t.state");
        let lock_target = dir.path().join("made-by-lock");
        std::os::unix::fs::symlink(&lock_target, dir.path().join("t.state.lock")).expect("ln");
        assert!(State::open(&other, |_| true).is_err());
        assert!(!lock_target.exists(), "nothing created through the link");
    }
}
