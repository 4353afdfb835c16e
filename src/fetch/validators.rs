//! `--update`'s validator store: per output file (keyed by its absolute path), what the last
//! complete download was (URL, ETag, Last-Modified, size and mtime on disk) and, while a
//! download is unfinished in `FILE.part`, what that part is of (its `If-Range` validator and
//! expected size). The format (one JSON document) and the store shared by every transfer of
//! a run (threads included) live here; saving is the cookie jar's locked load-merge-save,
//! atomic and 0600, so runs that share one state file keep each other's entries.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::FetchError;
use crate::fsutil;

/// The format version written in the file; a file of another version is refused.
const VERSION: u32 = 1;

/// What the last complete download of one output file was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complete {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The file's size when it was written: a file changed since is fetched unconditionally.
    pub size: u64,
    /// The file's mtime (nanoseconds since the epoch) when it was written, same purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_ns: Option<i128>,
}

/// An unfinished download in `FILE.part`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub url: String,
    /// The strong ETag or Last-Modified of the response being written, for `If-Range`.
    pub if_range: String,
    /// The whole resource's size when the server said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// Everything known about one output file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<Complete>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.complete.is_none() && self.part.is_none()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    version: u32,
    #[serde(default)]
    files: BTreeMap<String, Entry>,
}

/// Parses a state file's text; an empty file is an empty store.
pub fn parse(text: &str) -> Result<BTreeMap<String, Entry>, String> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let doc: Document = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if doc.version != VERSION {
        return Err(format!(
            "format version {} (this postie reads {VERSION})",
            doc.version
        ));
    }
    Ok(doc.files)
}

/// The state file's text for `files` (sorted by path, one entry per line).
pub fn render(files: &BTreeMap<String, Entry>) -> String {
    let mut out = format!("{{\"version\":{VERSION},\"files\":{{");
    for (i, (key, entry)) in files.iter().enumerate() {
        let sep = if i == 0 { "\n" } else { ",\n" };
        let key = serde_json::to_string(key).unwrap_or_default();
        let value = serde_json::to_string(entry).unwrap_or_default();
        out.push_str(&format!("{sep}{key}:{value}"));
    }
    out.push_str("\n}}\n");
    out
}

/// The key of an output file: its absolute path (the current folder joined to a relative
/// one), so runs from different folders share entries.
pub fn key_of(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_owned())
        .to_string_lossy()
        .into_owned()
}

/// The store of one run. Clones share it; [`ValidatorStore::save`] merges this run's
/// changes into the file as it is on disk then.
#[derive(Debug, Clone)]
pub struct ValidatorStore {
    path: PathBuf,
    inner: Arc<Mutex<Inner>>,
    /// Held by a save from its copy of the changes to its rename: saves go one at a time and
    /// in order, while `inner` is held only for the copy (a mid-run save reads, renders and
    /// fsyncs the whole store; the other transfers' lookups do not wait for that).
    saving: Arc<Mutex<()>>,
}

/// What a run set (Some) or removed (None), by key.
type Changes = BTreeMap<String, Option<Entry>>;

#[derive(Debug, Default)]
struct Inner {
    files: BTreeMap<String, Entry>,
    changed: Changes,
    /// Output files this run found on disk: [`ValidatorStore::finish`] keeps their entries
    /// without a second `stat`.
    seen: HashSet<String>,
}

impl ValidatorStore {
    /// Reads the store at `path` (a missing file is an empty store).
    pub fn open(path: &Path) -> Result<ValidatorStore, FetchError> {
        let files = read_file(path)?;
        Ok(ValidatorStore {
            path: path.to_owned(),
            inner: Arc::new(Mutex::new(Inner {
                files,
                ..Inner::default()
            })),
            saving: Arc::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry of output file `key` (see [`key_of`]); `on_disk`: the caller found the
    /// file there.
    pub fn get(&self, key: &str, on_disk: bool) -> Entry {
        let mut inner = self.lock();
        if on_disk {
            inner.seen.insert(key.to_owned());
        }
        inner.files.get(key).cloned().unwrap_or_default()
    }

    /// Replaces the entry of `key` (an empty entry removes it).
    pub fn set(&self, key: &str, entry: Entry) {
        let mut inner = self.lock();
        let value = (!entry.is_empty()).then_some(entry);
        match &value {
            Some(e) => inner.files.insert(key.to_owned(), e.clone()),
            None => inner.files.remove(key),
        };
        inner.changed.insert(key.to_owned(), value);
    }

    /// Changes the entry of `key` in place (an unchanged entry is not written again: a rerun
    /// whose answers are all 304 with the same validators leaves the file as it is).
    pub fn update(&self, key: &str, f: impl FnOnce(&mut Entry)) {
        let before = self.lock().files.get(key).cloned().unwrap_or_default();
        let mut entry = before.clone();
        f(&mut entry);
        if entry != before {
            self.set(key, entry);
        }
    }

    /// Writes this run's changes into the file: under `FILE.lock`, the file is read again,
    /// the changes applied, and the result written atomically with mode 0600.
    pub fn save(&self) -> Result<(), FetchError> {
        self.write(false)
    }

    /// [`save`](Self::save) at the end of a run, also dropping the entries of files that
    /// are gone with no `FILE.part` left: without it the store keeps every file it ever
    /// saw (a job writing into a new temporary folder each time grew it to 130,000
    /// entries, read and rewritten whole by every run). One `stat` per entry the run did not
    /// find itself, once a run (a file this run found and something else then deleted
    /// keeps its entry until the next run).
    pub fn finish(&self) -> Result<(), FetchError> {
        self.write(true)
    }

    fn write(&self, prune: bool) -> Result<(), FetchError> {
        let _saving = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((changed, seen)) = self.snapshot(prune) else {
            return Ok(());
        };
        let write_err = |source| FetchError::Write {
            what: format!("--update state {}", self.path.display()),
            source,
        };
        let parent = fsutil::parent_dir(&self.path);
        fsutil::create_private_dir_all(parent).map_err(write_err)?;
        let mut lock_name = self.path.clone().into_os_string();
        lock_name.push(".lock");
        let _lock = fsutil::lock_file(Path::new(&lock_name), fsutil::PRIVATE).map_err(write_err)?;
        let mut files = read_file(&self.path)?;
        let before = files.len();
        for (key, value) in &changed {
            match value {
                Some(e) => files.insert(key.clone(), e.clone()),
                None => files.remove(key),
            };
        }
        if prune {
            files.retain(|key, value| {
                seen.contains(key)
                    || changed.get(key).is_some_and(|c| c.as_ref() == Some(value))
                    || still_there(Path::new(key))
            });
        }
        if changed.is_empty() && files.len() == before {
            return Ok(());
        }
        fsutil::write_atomic(&self.path, render(&files).as_bytes(), fsutil::PRIVATE)
            .map_err(write_err)
    }

    /// A copy of this run's changes and (to prune) of the files it found; None when there
    /// is nothing to write: nothing changed, and when pruning, every file the store knew of
    /// was found by this run (a rerun of 10,000 304s does not read the 2 MB store again).
    fn snapshot(&self, prune: bool) -> Option<(Changes, HashSet<String>)> {
        let inner = self.lock();
        let all_seen = || inner.files.keys().all(|k| inner.seen.contains(k));
        if inner.changed.is_empty() && (!prune || all_seen()) {
            return None;
        }
        let seen = if prune {
            inner.seen.clone()
        } else {
            HashSet::new()
        };
        Some((inner.changed.clone(), seen))
    }
}

/// `FILE.part`, beside `FILE`.
pub(super) fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Whether an entry still describes something: the file, or its part (a link counts).
fn still_there(file: &Path) -> bool {
    file.symlink_metadata().is_ok() || part_path(file).symlink_metadata().is_ok()
}

fn read_file(path: &Path) -> Result<BTreeMap<String, Entry>, FetchError> {
    let read_err = |source| FetchError::Read {
        what: format!("--update state {}", path.display()),
        source,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(read_err(e)),
    };
    parse(&text).map_err(|why| {
        read_err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a postie state file ({why}); remove it to start over"),
        ))
    })
}

/// Where the store lives without `--state`: beside the cookie jar (`JAR.fetch-state.json`)
/// when one is saved, else `$XDG_STATE_HOME/postie/fetch-state.json` (`~/.local/state`).
pub fn default_path(jar: Option<&Path>) -> Option<PathBuf> {
    if let Some(jar) = jar.filter(|j| j.as_os_str() != "-") {
        let mut name = jar.as_os_str().to_owned();
        name.push(".fetch-state.json");
        return Some(PathBuf::from(name));
    }
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(base.join("postie").join("fetch-state.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<String, Entry> {
        let mut files = BTreeMap::new();
        files.insert(
            "/d/a.bin".to_owned(),
            Entry {
                complete: Some(Complete {
                    url: "http://h/a.bin".into(),
                    etag: Some("\"v1\"".into()),
                    last_modified: None,
                    size: 10,
                    mtime_ns: Some(5),
                }),
                part: Some(Part {
                    url: "http://h/a.bin".into(),
                    if_range: "\"v2\"".into(),
                    total: Some(20),
                }),
            },
        );
        files
    }

    #[test]
    fn render_and_parse_round_trip_byte_for_byte() {
        let text = render(&sample());
        assert_eq!(
            text,
            "{\"version\":1,\"files\":{\n\"/d/a.bin\":{\"complete\":{\"url\":\"http://h/a.bin\",\
             \"etag\":\"\\\"v1\\\"\",\"size\":10,\"mtime_ns\":5},\"part\":{\"url\":\"http://h/a.bin\",\
             \"if_range\":\"\\\"v2\\\"\",\"total\":20}}\n}}\n"
        );
        assert_eq!(parse(&text).expect("parse"), sample());
        assert!(parse("").expect("empty").is_empty());
        assert!(parse(&render(&BTreeMap::new())).expect("none").is_empty());
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(parse("{\"version\":2,\"files\":{}}").is_err_and(|e| e.contains("version 2")));
        assert!(parse("not json").is_err());
        assert!(parse("{\"version\":1,\"files\":{\"x\":{\"complete\":{}}}}").is_err());
    }

    #[test]
    fn save_merges_with_what_another_run_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let ours = ValidatorStore::open(&path).expect("open");
        let theirs = ValidatorStore::open(&path).expect("open");
        theirs.set("/other", sample()["/d/a.bin"].clone());
        theirs.save().expect("save");
        ours.update("/d/a.bin", |e| *e = sample()["/d/a.bin"].clone());
        ours.save().expect("save");
        let back = ValidatorStore::open(&path).expect("reopen");
        assert!(
            back.get("/other", false).complete.is_some(),
            "kept the other run's"
        );
        assert!(back.get("/d/a.bin", false).part.is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        ours.set("/d/a.bin", Entry::default());
        ours.save().expect("save");
        let back = ValidatorStore::open(&path).expect("reopen");
        assert!(back.get("/d/a.bin", false).is_empty(), "removed");
        assert!(back.get("/other", false).complete.is_some());
    }

    #[test]
    fn saves_from_many_transfers_at_once_keep_every_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let store = ValidatorStore::open(&path).expect("open");
        std::thread::scope(|scope| {
            for t in 0..8 {
                let store = store.clone();
                scope.spawn(move || {
                    for size in 0..10 {
                        let mut entry = sample()["/d/a.bin"].clone();
                        entry.complete.as_mut().expect("complete").size = size;
                        store.set(&format!("/t{t}"), entry);
                        store.save().expect("save");
                    }
                });
            }
        });
        // A save that copied the changes earlier must not be written after one that copied
        // them later (it would put back an older entry).
        let files = read_file(&path).expect("read");
        let sizes: Vec<_> = files
            .values()
            .map(|e| e.complete.as_ref().map(|c| c.size))
            .collect();
        assert_eq!(sizes, vec![Some(9); 8]);
    }

    #[test]
    fn finish_drops_the_entries_of_files_that_are_gone_and_save_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        let here = dir.path().join("here.html");
        let partial = dir.path().join("big.iso");
        let gone = dir.path().join("gone.html");
        std::fs::write(&here, "x").expect("write");
        std::fs::write(part_path(&partial), "half").expect("write");
        let store = ValidatorStore::open(&path).expect("open");
        for file in [&here, &partial, &gone] {
            store.set(&key_of(file), sample()["/d/a.bin"].clone());
        }
        store.save().expect("save");
        let keys = |p: &Path| read_file(p).expect("read").into_keys().collect::<Vec<_>>();
        assert_eq!(keys(&path).len(), 3, "a save mid-run keeps everything");
        // Another run's store: nothing changed here, the gone file is still dropped.
        let next = ValidatorStore::open(&path).expect("open");
        next.finish().expect("finish");
        assert_eq!(keys(&path), [key_of(&partial), key_of(&here)]);
    }

    #[test]
    fn the_default_is_beside_the_jar() {
        assert_eq!(
            default_path(Some(Path::new("/j/jar.txt"))),
            Some(PathBuf::from("/j/jar.txt.fetch-state.json"))
        );
    }
}
