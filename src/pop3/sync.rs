//! `pull`: retrieve the messages not retrieved before, store each durably, remember it, and
//! only then (with `--delete`) delete it on the server.
//!
//! Order for every message: RETR; stream into a temporary file; fsync; append
//! `uidl name` to the state journal and fsync it; rename into place; fsync the folder; DELE.
//! The journal line is written before the rename so that a kill between the rename and the
//! record cannot make the next run download the message again: on load, the last journal
//! line (the only one that can be ahead of the disk) is kept only if its file exists.
//! Messages recorded as stored are never downloaded again; with `--delete` those still on
//! the server (a DELE that never reached QUIT) are deleted without being downloaded.
//!
//! State is kept per (server, port, user), locked for the run (a `.lock` file beside it),
//! compacted atomically at the start and the end of a run.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::fsutil;
use crate::mail::maildir::{Maildir, TmpMessage};
use crate::pop3::Pop3Error;
use crate::pop3::client::Client;
use crate::pop3::command::Command;

/// How messages are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Maildir,
    Eml,
}

/// `--pipelining`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pipelining {
    #[default]
    Auto,
    On,
    Off,
}

/// How many commands may be in flight: their lines total far less than any socket buffer,
/// so writing never blocks while the server waits for us to read (RFC 2449 §6.6).
pub const PIPELINE_WINDOW: usize = 32;

/// What `pull` is asked to do.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub out: PathBuf,
    pub format: Format,
    pub state: PathBuf,
    pub all: bool,
    pub delete: bool,
    pub max_size: Option<u64>,
    pub limit: Option<usize>,
    pub unpack: bool,
    pub pipelining: Pipelining,
    pub progress: bool,
}

/// What happened to one message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub number: u32,
    pub uidl: String,
    pub size: u64,
    pub path: Option<PathBuf>,
    pub attachments: Vec<PathBuf>,
    /// `stored`, `deleted` (stored by an earlier run), `skipped` (bigger than --max-size),
    /// `failed` (the server refused RETR; see `error`).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub stored: usize,
    pub bytes: u64,
    pub deleted: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// The state file's name for (server, port, user) inside the output folder.
pub fn default_state_path(out: &Path, host: &str, port: u16, user: &str) -> PathBuf {
    let key = escape(format!("{host}_{port}_{user}").as_bytes(), true);
    out.join(format!(".postie-pop3-{key}.state"))
}

/// Percent-escapes every octet outside printable ASCII, `%`, and (for file names) anything
/// but `[A-Za-z0-9._@+-]`. A UIDL never reaches a path unescaped.
pub fn escape(bytes: &[u8], for_file_name: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        let keep = if for_file_name {
            b.is_ascii_alphanumeric() || b"._@+-".contains(&b)
        } else {
            (0x21..=0x7e).contains(&b) && b != b'%'
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

fn unescape(text: &str) -> Option<Vec<u8>> {
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

const STATE_HEADER: &str = "# postie pop3 state v1: <escaped UIDL key> <file name>\n";

/// The UIDLs already stored, with the file each went to; locked for the run.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    _lock: File,
    entries: HashMap<Vec<u8>, String>,
    journal: Option<File>,
}

impl State {
    /// Locks and loads `path` (missing: empty). `exists(name)` checks the last entry.
    pub fn open(path: &Path, exists: impl Fn(&str) -> bool) -> Result<State, Pop3Error> {
        let err = |why: String| Pop3Error::State {
            path: path.to_owned(),
            why,
        };
        let lock_path = PathBuf::from(format!("{}.lock", path.display()));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(fsutil::PRIVATE)
            .open(&lock_path)
            .map_err(|e| err(format!("cannot open the lock file: {e}")))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Pop3Error::Locked {
                    path: path.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(format!("cannot lock: {e}"))),
        }
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        let mut entries = HashMap::new();
        let mut last = None;
        // Only complete lines count: a torn last line (killed mid-append) is ignored.
        let complete = match text.iter().rposition(|b| *b == b'\n') {
            Some(p) => &text[..=p],
            None => &[][..],
        };
        for line in complete.split(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(line);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split(' ');
            let (Some(key), Some(name)) = (parts.next(), parts.next()) else {
                return Err(err(format!("a malformed line: {line:?}")));
            };
            let key = unescape(key).ok_or_else(|| err(format!("a malformed line: {line:?}")))?;
            entries.insert(key.clone(), name.to_owned());
            last = Some((key, name.to_owned()));
        }
        if let Some((key, name)) = last
            && !exists(&name)
        {
            entries.remove(&key);
        }
        Ok(State {
            path: path.to_owned(),
            _lock: lock,
            entries,
            journal: None,
        })
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

    /// Appends one entry and fsyncs it.
    pub fn record(&mut self, key: &[u8], name: &str) -> Result<(), Pop3Error> {
        if self.journal.is_none() {
            let f = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(fsutil::PRIVATE)
                .open(&self.path)
                .map_err(|e| self.write_err(e))?;
            if f.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
                (&f).write_all(STATE_HEADER.as_bytes())
                    .map_err(|e| self.write_err(e))?;
                fsutil::sync_dir(fsutil::parent_dir(&self.path)).map_err(|e| self.write_err(e))?;
            }
            self.journal = Some(f);
        }
        let line = format!("{} {}\n", escape(key, false), name);
        if let Some(f) = &mut self.journal {
            let r = f.write_all(line.as_bytes()).and_then(|_| f.sync_data());
            r.map_err(|e| Pop3Error::Write {
                path: self.path.clone(),
                source: e,
            })?;
        }
        self.entries.insert(key.to_vec(), name.to_owned());
        Ok(())
    }

    /// Keeps only the entries `keep` accepts, and rewrites the file atomically.
    pub fn compact(&mut self, keep: impl Fn(&[u8]) -> bool) -> Result<(), Pop3Error> {
        self.entries.retain(|k, _| keep(k));
        self.journal = None;
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|(k, n)| format!("{} {}\n", escape(k, false), n))
            .collect();
        lines.sort();
        let text = format!("{STATE_HEADER}{}", lines.concat());
        fsutil::write_atomic(&self.path, text.as_bytes(), fsutil::PRIVATE)
            .map_err(|e| self.write_err(e))
    }
}

/// A message being written to its destination.
#[derive(Debug)]
enum Pending {
    Maildir(TmpMessage),
    Eml {
        file: fsutil::AtomicFile,
        name: String,
    },
}

impl Pending {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Pending::Maildir(m) => &mut m.file,
            Pending::Eml { file, .. } => file,
        }
    }

    fn name(&self) -> &str {
        match self {
            Pending::Maildir(m) => &m.name,
            Pending::Eml { name, .. } => name,
        }
    }
}

/// Where messages go.
#[derive(Debug)]
pub enum Store {
    Maildir(Maildir),
    Eml(PathBuf),
}

impl Store {
    pub fn open(out: &Path, format: Format) -> Result<Store, Pop3Error> {
        let err = |e| Pop3Error::Write {
            path: out.to_owned(),
            source: e,
        };
        match format {
            Format::Maildir => Maildir::create(out).map(Store::Maildir).map_err(err),
            Format::Eml => {
                fsutil::create_private_dir_all(out).map_err(err)?;
                Ok(Store::Eml(out.to_owned()))
            }
        }
    }

    /// True when the message stored under `name` is on disk.
    pub fn exists(&self, name: &str) -> bool {
        match self {
            Store::Maildir(m) => m.contains(name),
            Store::Eml(dir) => dir.join(name).exists(),
        }
    }

    fn root(&self) -> &Path {
        match self {
            Store::Maildir(m) => m.root(),
            Store::Eml(dir) => dir,
        }
    }

    fn begin(&self, uidl: &[u8], occurrence: usize) -> std::io::Result<Pending> {
        match self {
            Store::Maildir(m) => m.begin().map(Pending::Maildir),
            Store::Eml(dir) => {
                let mut base = escape(uidl, true);
                if base.is_empty() || base.len() > 200 {
                    base = format!("uidl-{}", short_hash(uidl));
                }
                if occurrence > 1 {
                    base = format!("{base}-{occurrence}");
                }
                let mut name = format!("{base}.eml");
                let mut n = 2;
                while dir.join(&name).exists() {
                    name = format!("{base}~{n}.eml");
                    n += 1;
                }
                let file = fsutil::AtomicFile::create(&dir.join(&name), fsutil::PRIVATE)?;
                Ok(Pending::Eml { file, name })
            }
        }
    }

    fn sync(pending: &mut Pending) -> std::io::Result<()> {
        match pending {
            Pending::Maildir(m) => m.sync(),
            Pending::Eml { file, .. } => file.file().sync_all(),
        }
    }

    fn publish(&self, pending: Pending) -> std::io::Result<PathBuf> {
        match (self, pending) {
            (Store::Maildir(m), Pending::Maildir(t)) => m.publish(t),
            (Store::Eml(dir), Pending::Eml { file, name }) => {
                // commit_new fsyncs again (cheap: nothing is dirty) and never replaces.
                file.commit_new()?;
                Ok(dir.join(name))
            }
            _ => Err(std::io::Error::other("store and message kinds differ")),
        }
    }
}

fn short_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One message on the server, with its state key.
#[derive(Debug, Clone)]
struct Msg {
    number: u32,
    size: u64,
    uidl: Vec<u8>,
    /// The UIDL, plus `\0k` for the k-th (k >= 2) message sharing it.
    key: Vec<u8>,
    occurrence: usize,
    duplicated: bool,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Retr(usize),
    Dele(usize),
}

/// Lists the mailbox and builds each message's key.
fn mailbox<S: BufRead + Write>(client: &mut Client<S>, all: bool) -> Result<Vec<Msg>, Pop3Error> {
    let sizes = client.list()?;
    let uidls: HashMap<u32, Vec<u8>> = match client.uidl()? {
        Some(u) => u.into_iter().collect(),
        None if all => HashMap::new(),
        None => {
            return Err(Pop3Error::Unavailable {
                host: client.host().to_owned(),
                why: "the server has no UIDL, so postie cannot tell new messages; use --all".into(),
            });
        }
    };
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut msgs = Vec::with_capacity(sizes.len());
    for l in sizes {
        let uidl = uidls
            .get(&l.number)
            .cloned()
            .unwrap_or_else(|| format!("#{}", l.number).into_bytes());
        let count = seen.entry(uidl.clone()).or_insert(0);
        *count += 1;
        let occurrence = *count;
        let mut key = uidl.clone();
        if occurrence > 1 {
            key.push(0);
            key.extend_from_slice(occurrence.to_string().as_bytes());
        }
        msgs.push(Msg {
            number: l.number,
            size: l.size,
            uidl,
            key,
            occurrence,
            duplicated: false,
        });
    }
    for m in &mut msgs {
        m.duplicated = seen.get(&m.uidl).is_some_and(|c| *c > 1);
    }
    Ok(msgs)
}

/// Runs a pull on an authenticated session. `report` sees each message's outcome.
pub fn pull<S: BufRead + Write>(
    client: &mut Client<S>,
    opts: &PullOptions,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Summary, Pop3Error> {
    let store = Store::open(&opts.out, opts.format)?;
    let mut state = State::open(&opts.state, |name| store.exists(name))?;
    let msgs = mailbox(client, opts.all)?;
    // Forget messages the server no longer has, so the state does not grow forever.
    if !opts.all {
        let on_server: HashSet<&[u8]> = msgs.iter().map(|m| m.key.as_slice()).collect();
        state.compact(|k| on_server.contains(k))?;
    }
    let mut todo = VecDeque::new();
    let mut summary = Summary::default();
    let mut retrieving = 0usize;
    let mut total_bytes = 0u64;
    for (i, m) in msgs.iter().enumerate() {
        if !opts.all && state.contains(&m.key) {
            // Stored earlier; with --delete, delete it now if that DELE never reached QUIT.
            // A duplicated UIDL's key depends on its position, so such messages are deleted
            // from the state only when every message sharing the UIDL is recorded.
            if opts.delete && (!m.duplicated || all_recorded(&msgs, &state, &m.uidl)) {
                todo.push_back(Op::Dele(i));
            }
            continue;
        }
        if opts.max_size.is_some_and(|max| m.size > max) {
            summary.skipped += 1;
            report(&outcome(m, None, "skipped", None));
            continue;
        }
        if opts.limit.is_some_and(|l| retrieving >= l) {
            continue;
        }
        retrieving += 1;
        total_bytes += m.size;
        todo.push_back(Op::Retr(i));
    }
    let window = match opts.pipelining {
        Pipelining::On => PIPELINE_WINDOW,
        Pipelining::Off => 1,
        Pipelining::Auto if client.caps.pipelining() => PIPELINE_WINDOW,
        Pipelining::Auto => 1,
    };
    let progress = opts
        .progress
        .then(|| progress_bar(retrieving as u64, total_bytes));
    let mut deleted: Vec<Vec<u8>> = Vec::new();
    let mut in_flight: VecDeque<Op> = VecDeque::new();
    loop {
        while in_flight.len() < window {
            let Some(op) = todo.pop_front() else { break };
            let cmd = match op {
                Op::Retr(i) => Command::Retr(msgs[i].number),
                Op::Dele(i) => Command::Dele(msgs[i].number),
            };
            client.queue(&cmd)?;
            in_flight.push_back(op);
        }
        client.flush()?;
        let Some(op) = in_flight.pop_front() else {
            break;
        };
        match op {
            Op::Retr(i) => {
                let m = &msgs[i];
                match retrieve(client, &store, &mut state, m, opts)? {
                    Ok((path, attachments, unpack_error)) => {
                        summary.stored += 1;
                        summary.bytes += m.size;
                        if unpack_error.is_some() {
                            summary.failed += 1;
                        }
                        report(&Outcome {
                            attachments,
                            ..outcome(m, Some(path), "stored", unpack_error)
                        });
                        if let Some(pb) = &progress {
                            pb.inc(1);
                            pb.set_message(format!("{} bytes", summary.bytes));
                        }
                        if opts.delete {
                            todo.push_front(Op::Dele(i));
                        }
                    }
                    Err(why) => {
                        summary.failed += 1;
                        report(&outcome(m, None, "failed", Some(why)));
                    }
                }
            }
            Op::Dele(i) => {
                let m = &msgs[i];
                client.read_status(&Command::Dele(m.number))?;
                deleted.push(m.key.clone());
            }
        }
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    client.quit()?;
    summary.deleted = deleted.len();
    if !deleted.is_empty() {
        let gone: HashSet<Vec<u8>> = deleted.into_iter().collect();
        state.compact(|k| !gone.contains(k))?;
    }
    Ok(summary)
}

fn all_recorded(msgs: &[Msg], state: &State, uidl: &[u8]) -> bool {
    msgs.iter()
        .filter(|m| m.uidl == uidl)
        .all(|m| state.contains(&m.key))
}

fn outcome(m: &Msg, path: Option<PathBuf>, status: &'static str, error: Option<String>) -> Outcome {
    Outcome {
        number: m.number,
        uidl: String::from_utf8_lossy(&m.uidl).into_owned(),
        size: m.size,
        path,
        attachments: Vec::new(),
        status,
        error,
    }
}

type Retrieved = (PathBuf, Vec<PathBuf>, Option<String>);

/// Reads one RETR reply into the store, durably, and records it. The outer error ends the
/// run (connection, disk); the inner one is a refusal of this message only.
fn retrieve<S: BufRead + Write>(
    client: &mut Client<S>,
    store: &Store,
    state: &mut State,
    m: &Msg,
    opts: &PullOptions,
) -> Result<Result<Retrieved, String>, Pop3Error> {
    let cmd = Command::Retr(m.number);
    match client.read_status(&cmd) {
        Ok(_) => {}
        Err(e @ Pop3Error::Refused { code: Some(_), .. }) => return Err(e),
        Err(Pop3Error::Refused { text, .. }) => return Ok(Err(format!("RETR refused: {text}"))),
        Err(e) => return Err(e),
    }
    let write_err = |source| Pop3Error::Write {
        path: store.root().to_owned(),
        source,
    };
    let mut pending = store.begin(&m.uidl, m.occurrence).map_err(write_err)?;
    client
        .read_body_to(pending.writer())
        .map_err(|e| client.body_error("RETR", e, store.root()))?;
    Store::sync(&mut pending).map_err(write_err)?;
    state.record(&m.key, pending.name())?;
    let path = store.publish(pending).map_err(write_err)?;
    if !opts.unpack {
        return Ok(Ok((path, Vec::new(), None)));
    }
    let unpack_dir = match store {
        Store::Maildir(md) => md.root().join("unpacked"),
        Store::Eml(dir) => dir.clone(),
    };
    match crate::mail::unpack_file(&path, &unpack_dir, &crate::mail::UnpackOptions::default()) {
        Ok(r) => Ok(Ok((path, r.attachments, None))),
        Err(e) => {
            let why = format!("{}: unpack: {e}", path.display());
            Ok(Ok((path, Vec::new(), Some(why))))
        }
    }
}

fn progress_bar(messages: u64, bytes: u64) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(messages);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {pos}/{len} messages, {msg} of ~{prefix} [{elapsed_precise}]",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_prefix(format!("{bytes} bytes"));
    pb
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pop3::client::MemoryStream;

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
    }

    #[test]
    fn state_survives_a_torn_line_and_checks_the_last_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        {
            let mut s = State::open(&path, |_| true).expect("open");
            s.record(b"one", "f1").expect("record");
            s.record(b"t w\x00o", "f2").expect("record");
        }
        let mut text = std::fs::read(&path).expect("read");
        text.extend_from_slice(b"thr");
        std::fs::write(&path, &text).expect("write");
        let s = State::open(&path, |_| true).expect("reopen");
        assert!(s.contains(b"one") && s.contains(b"t w\x00o") && !s.contains(b"thr"));
        drop(s);
        let s = State::open(&path, |name| name != "f2").expect("reopen");
        assert!(s.contains(b"one"));
        assert!(!s.contains(b"t w\x00o"), "its file never reached the disk");
    }

    #[test]
    fn state_is_locked_for_the_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.state");
        let _held = State::open(&path, |_| true).expect("open");
        let err = State::open(&path, |_| true).expect_err("locked");
        assert_eq!(err.exit_code(), 75);
    }

    fn opts(out: &Path) -> PullOptions {
        PullOptions {
            out: out.to_owned(),
            format: Format::Maildir,
            state: out.join("state"),
            all: false,
            delete: true,
            max_size: None,
            limit: None,
            unpack: false,
            pipelining: Pipelining::Off,
            progress: false,
        }
    }

    #[test]
    fn pull_over_an_in_memory_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = b"+OK\r\n1 10\r\n2 12\r\n.\r\n+OK\r\n1 aa\r\n2 bb\r\n.\r\n\
+OK\r\nA: 1\r\n\r\n..x\r\n.\r\n+OK\r\n+OK\r\nB: 2\n\nbody\n.\n+OK\r\n+OK bye\r\n";
        let mut client = Client::new(MemoryStream::new(script), "mem", 5, false);
        let mut seen = Vec::new();
        let summary = pull(&mut client, &opts(dir.path()), &mut |o| {
            seen.push(o.clone())
        })
        .expect("pull");
        assert_eq!(summary.stored, 2);
        assert_eq!(summary.deleted, 2);
        let out = String::from_utf8_lossy(&client.get_ref().output).into_owned();
        assert_eq!(
            out,
            "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\nQUIT\r\n"
        );
        let first = seen[0].path.clone().expect("path");
        assert_eq!(std::fs::read(first).expect("read"), b"A: 1\r\n\r\n.x\r\n");
        let second = seen[1].path.clone().expect("path");
        assert_eq!(std::fs::read(second).expect("read"), b"B: 2\n\nbody\n");
    }
}
