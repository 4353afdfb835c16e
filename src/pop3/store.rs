//! Where pulled messages go (a Maildir, or `<uidl>.eml` files) and the committer that makes
//! them durable in batches, off the network thread.
//!
//! A message is streamed into a temporary file by the session; the committer then takes every
//! message waiting (a batch): fsyncs their files (in parallel, so the file system can join
//! the flushes into one journal commit), records them in the state journal (one fdatasync),
//! renames them into place, fsyncs the folder once, and only then reports them stored, which
//! is when `pull` may send DELE. Per message that is one file fsync plus a share of two.
//!
//! With `--mda`, the committer instead hands each message in turn to the MDA (`mda`) and
//! records it only once the MDA exited 0; the temporary files sit beside the state.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};

use crate::fsutil;
use crate::mail::maildir::{Maildir, TmpMessage};
use crate::mail::mboxrd::{self, LOCK_WAIT, MboxLock};
use crate::pop3::Pop3Error;
use crate::pop3::state::{State, escape};

pub use crate::pop3::Format;

/// A `.eml` file being written under a temporary name.
#[derive(Debug)]
pub struct EmlTmp {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    published: bool,
}

/// A message written to a temporary file, not yet durable. The file is registered with the
/// interrupt handler, so Ctrl-C or SIGTERM mid-message leaves nothing in `tmp/`.
#[derive(Debug)]
pub struct Staged {
    kind: StagedKind,
    _unfinished: fsutil::Unfinished,
}

impl Drop for EmlTmp {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[derive(Debug)]
enum StagedKind {
    Maildir(TmpMessage),
    Eml(EmlTmp),
    /// A message for an mbox, in a temporary file beside it (removed on drop).
    Mbox(EmlTmp),
    /// A message for the MDA, LF line ends, in a temporary file (removed on drop).
    Mda(EmlTmp),
}

impl Staged {
    pub fn file(&mut self) -> &mut File {
        match &mut self.kind {
            StagedKind::Maildir(m) => &mut m.file,
            StagedKind::Eml(e) | StagedKind::Mbox(e) | StagedKind::Mda(e) => &mut e.file,
        }
    }

    /// Whether the message is written with LF line ends (for an MDA).
    pub fn lf_only(&self) -> bool {
        matches!(self.kind, StagedKind::Mda(_))
    }

    fn file_ref(&self) -> &File {
        match &self.kind {
            StagedKind::Maildir(m) => &m.file,
            StagedKind::Eml(e) | StagedKind::Mbox(e) | StagedKind::Mda(e) => &e.file,
        }
    }

    /// The name the state records (the Maildir name, or the .eml file name).
    pub fn name(&self) -> String {
        match &self.kind {
            StagedKind::Maildir(m) => m.name.clone(),
            StagedKind::Eml(e) | StagedKind::Mbox(e) => e
                .dest
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            StagedKind::Mda(_) => MDA_NAME.to_owned(),
        }
    }
}

/// The file name the state records for a message an MDA took.
pub const MDA_NAME: &str = "mda";

/// `--mda`: the command (with `%F` unexpanded) and the folder of the temporary files.
#[derive(Debug, Clone)]
pub struct Mda {
    pub command: String,
    pub dir: PathBuf,
}

/// The destination folder.
#[derive(Debug, Clone)]
pub enum Store {
    Maildir(Maildir),
    Eml(PathBuf),
    /// The mbox file.
    Mbox(PathBuf),
    /// Each message piped to a delivery agent.
    Mda(Mda),
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
            Format::Mbox => {
                fsutil::create_private_dir_all(fsutil::parent_dir(out)).map_err(err)?;
                if out.is_dir() {
                    let why = "is a folder; --format mbox needs a file".into();
                    return Err(Pop3Error::State {
                        path: out.to_owned(),
                        why,
                    });
                }
                Ok(Store::Mbox(out.to_owned()))
            }
        }
    }

    /// `--mda`: temporary files go into `dir` (created 0700 if missing).
    pub fn mda(dir: &Path, command: &str) -> Result<Store, Pop3Error> {
        fsutil::create_private_dir_all(dir).map_err(|source| Pop3Error::Write {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Store::Mda(Mda {
            command: command.to_owned(),
            dir: dir.to_owned(),
        }))
    }

    pub fn root(&self) -> &Path {
        match self {
            Store::Maildir(m) => m.root(),
            Store::Eml(dir) | Store::Mbox(dir) => dir,
            Store::Mda(m) => &m.dir,
        }
    }

    /// True when the message stored under `name` is on disk (for Maildir: in `new/`, or in
    /// `cur/` with any flags, where a mail reader moves it).
    pub fn exists(&self, name: &str) -> bool {
        match self {
            Store::Maildir(m) => m.contains(name),
            Store::Eml(dir) => dir.join(name).exists(),
            Store::Mbox(path) => mbox_entry_exists(path, name),
            // Recorded only after the MDA took it: even an unconfirmed entry was delivered.
            Store::Mda(_) => true,
        }
    }

    /// The size of the file stored under `name`, if it is on disk (see [`Store::exists`]).
    pub fn file_size(&self, name: &str) -> Option<u64> {
        let size = |p: PathBuf| std::fs::metadata(p).ok().map(|m| m.len());
        match self {
            // Mbox and MDA entries always have their LIST size in the state.
            Store::Mbox(_) | Store::Mda(_) => None,
            Store::Eml(dir) => size(dir.join(name)),
            Store::Maildir(m) => {
                let (new, cur) = (m.root().join("new"), m.root().join("cur"));
                size(new.join(name))
                    .or_else(|| size(cur.join(name)))
                    .or_else(|| {
                        let prefix = format!("{name}:");
                        std::fs::read_dir(&cur)
                            .ok()?
                            .flatten()
                            .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                            .and_then(|e| size(e.path()))
                    })
            }
        }
    }

    /// Starts a message. `reserved` holds the .eml names taken by messages not yet renamed.
    pub fn begin(
        &self,
        uidl: &[u8],
        occurrence: usize,
        reserved: &mut HashSet<String>,
    ) -> io::Result<Staged> {
        let kind = self.begin_kind(uidl, occurrence, reserved)?;
        let tmp = match &kind {
            StagedKind::Maildir(t) => self.root().join("tmp").join(&t.name),
            StagedKind::Eml(e) | StagedKind::Mbox(e) | StagedKind::Mda(e) => e.tmp.clone(),
        };
        Ok(Staged {
            kind,
            _unfinished: fsutil::Unfinished::track(&tmp),
        })
    }

    fn begin_kind(
        &self,
        uidl: &[u8],
        occurrence: usize,
        reserved: &mut HashSet<String>,
    ) -> io::Result<StagedKind> {
        match self {
            Store::Maildir(m) => m.begin().map(StagedKind::Maildir),
            Store::Mbox(path) => mbox_tmp(path).map(StagedKind::Mbox),
            Store::Mda(m) => mbox_tmp(&m.dir.join("mda")).map(StagedKind::Mda),
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
                while reserved.contains(&name) || dir.join(&name).exists() {
                    name = format!("{base}~{n}.eml");
                    n += 1;
                }
                reserved.insert(name.clone());
                let tmp_name = format!(".postie-{}.tmp", short_hash(name.as_bytes()));
                let tmp = dir.join(tmp_name);
                let _ = std::fs::remove_file(&tmp);
                let file = fsutil::create_new(&tmp, fsutil::PRIVATE)?;
                Ok(StagedKind::Eml(EmlTmp {
                    file,
                    tmp,
                    dest: dir.join(name),
                    published: false,
                }))
            }
        }
    }

    /// Renames a synced message into place (the folder is synced by the caller).
    fn link(&self, staged: Staged) -> io::Result<PathBuf> {
        match (self, staged.kind) {
            (Store::Maildir(m), StagedKind::Maildir(t)) => m.link(t),
            (Store::Eml(_), StagedKind::Eml(mut e)) => {
                std::fs::hard_link(&e.tmp, &e.dest)?;
                e.published = true;
                std::fs::remove_file(&e.tmp)?;
                Ok(e.dest.clone())
            }
            _ => Err(io::Error::other("store and message kinds differ")),
        }
    }

    fn sync_folder(&self) -> io::Result<()> {
        match self {
            Store::Maildir(m) => m.sync_new(),
            Store::Eml(dir) => fsutil::sync_dir(dir),
            Store::Mbox(_) | Store::Mda(_) => Ok(()),
        }
    }
}

/// A temporary file (readable: it is read back into the mbox, or by the MDA) beside `path`.
fn mbox_tmp(path: &Path) -> io::Result<EmlTmp> {
    use std::os::unix::fs::OpenOptionsExt;
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!(".postie-mbox-{}-{n}.tmp", std::process::id());
    let tmp = fsutil::parent_dir(path).join(name);
    let _ = std::fs::remove_file(&tmp);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(fsutil::PRIVATE)
        .open(&tmp)?;
    Ok(EmlTmp {
        file,
        tmp,
        dest: path.to_owned(),
        published: false,
    })
}

/// The state's name for an mbox entry: where it starts, its length, and a hash of its
/// octets, so an unconfirmed entry (a crash between recording and appending) counts as
/// stored only when those very octets are in the mbox.
fn mbox_name(offset: u64, len: u64, hash: &str) -> String {
    format!("mbox:{offset}:{len}:{hash}")
}

fn mbox_entry_exists(path: &Path, name: &str) -> bool {
    use std::io::{Read, Seek};
    let mut fields = name.strip_prefix("mbox:").unwrap_or("").split(':');
    let (Some(off), Some(len), Some(hash)) = (fields.next(), fields.next(), fields.next()) else {
        return false;
    };
    let (Ok(off), Ok(len)) = (off.parse::<u64>(), len.parse::<u64>()) else {
        return false;
    };
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let long_enough = file
        .metadata()
        .is_ok_and(|m| m.len() >= off.saturating_add(len));
    let mut hasher = HashWriter::default();
    long_enough
        && file.seek(io::SeekFrom::Start(off)).is_ok()
        && io::copy(&mut (&mut file).take(len), &mut hasher).is_ok_and(|n| n == len)
        && hasher.hex() == hash
}

/// Counts nothing but hashes what is written to it (SHA-256, first 8 octets in hex).
#[derive(Default)]
struct HashWriter(sha2::Sha256);

impl HashWriter {
    fn hex(self) -> String {
        use sha2::Digest;
        hex8(&self.0.finalize())
    }
}

impl io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sha2::Digest::update(&mut self.0, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn short_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex8(&Sha256::digest(bytes))
}

/// The first 8 octets of a digest in hex.
fn hex8(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A message handed to the committer.
#[derive(Debug)]
pub struct ToCommit {
    /// The caller's index of the message.
    pub index: usize,
    pub key: Vec<u8>,
    /// Its LIST size, recorded with it.
    pub size: u64,
    pub staged: Staged,
}

/// What the committer reports.
#[derive(Debug)]
pub enum Committed {
    /// On disk (or taken by the MDA: no path) and recorded: DELE may follow.
    Stored { index: usize, path: Option<PathBuf> },
    /// The MDA said EX_TEMPFAIL: not recorded, kept on the server for the next run.
    Deferred { index: usize, why: String },
    /// Writing failed; the committer stopped.
    Failed(Pop3Error),
}

/// The largest batch the committer takes at once.
pub const MAX_BATCH: usize = 64;

/// Runs until `rx` closes; returns the state for the final compaction.
pub fn committer(
    store: Store,
    mut state: State,
    rx: Receiver<ToCommit>,
    tx: Sender<Committed>,
) -> State {
    if let Store::Mda(mda) = &store {
        while let Ok(m) = rx.recv() {
            if let Err(e) = deliver(mda, &mut state, m, &tx) {
                let _ = tx.send(Committed::Failed(e));
                return state;
            }
        }
        return state;
    }
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        match commit_batch(&store, &mut state, batch) {
            Ok(done) => {
                for (index, path) in done {
                    let path = Some(path);
                    let _ = tx.send(Committed::Stored { index, path });
                }
            }
            Err(e) => {
                let _ = tx.send(Committed::Failed(e));
                return state;
            }
        }
    }
    state
}

/// fsyncs `files` using a few threads at once.
fn sync_all(files: &[&File]) -> io::Result<()> {
    const THREADS: usize = 4;
    if files.len() <= 1 {
        return files.iter().try_for_each(|f| f.sync_all());
    }
    let chunk = files.len().div_ceil(THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().try_for_each(|f| f.sync_all())))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(io::Error::other("fsync panicked")))
        })
    })
}

fn commit_batch(
    store: &Store,
    state: &mut State,
    batch: Vec<ToCommit>,
) -> Result<Vec<(usize, PathBuf)>, Pop3Error> {
    if let Store::Mbox(path) = store {
        return commit_mbox(path, state, batch);
    }
    let write_err = |source| Pop3Error::Write {
        path: store.root().to_owned(),
        source,
    };
    let files: Vec<&File> = batch.iter().map(|m| m.staged.file_ref()).collect();
    sync_all(&files).map_err(write_err)?;
    let entries: Vec<(Vec<u8>, String, u64)> = batch
        .iter()
        .map(|m| (m.key.clone(), m.staged.name(), m.size))
        .collect();
    state.record(&entries)?;
    let mut done = Vec::with_capacity(batch.len());
    for m in batch {
        let path = store.link(m.staged).map_err(write_err)?;
        done.push((m.index, path));
    }
    store.sync_folder().map_err(write_err)?;
    state.confirm()?;
    Ok(done)
}

/// Appends a batch to the mbox under its locks: records each entry (where it will start, its
/// length and hash) and fdatasyncs the journal, appends, fsyncs the mbox, and only then marks
/// the entries confirmed (and reports them stored, which allows DELE). A failed append is
/// cut off again (as mpop does), so the mbox never keeps half a message.
fn commit_mbox(
    path: &Path,
    state: &mut State,
    mut batch: Vec<ToCommit>,
) -> Result<Vec<(usize, PathBuf)>, Pop3Error> {
    let write_err = |source| Pop3Error::Write {
        path: path.to_owned(),
        source,
    };
    let lock = MboxLock::acquire(path, LOCK_WAIT).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => Pop3Error::Locked {
            path: path.to_owned(),
        },
        _ => write_err(e),
    })?;
    let start = lock.file.metadata().map_err(write_err)?.len();
    let now = std::time::SystemTime::now();
    let mut envelopes = Vec::with_capacity(batch.len());
    let mut entries = Vec::with_capacity(batch.len());
    let mut offset = start;
    for m in &mut batch {
        let file = m.staged.file();
        let envelope = mboxrd::from_line(&envelope_of(file).map_err(write_err)?, now);
        let mut hash = HashWriter::default();
        let len = mboxrd::write_entry(&envelope, &mut reader(file).map_err(write_err)?, &mut hash)
            .map_err(write_err)?;
        entries.push((m.key.clone(), mbox_name(offset, len, &hash.hex()), m.size));
        envelopes.push(envelope);
        offset += len;
    }
    state.record(&entries)?;
    let appended = append(&lock.file, &mut batch, &envelopes).and_then(|_| lock.file.sync_all());
    if let Err(e) = appended {
        let _ = lock.file.set_len(start).and_then(|_| lock.file.sync_all());
        return Err(write_err(e));
    }
    drop(lock);
    state.confirm()?;
    Ok(batch.iter().map(|m| (m.index, path.to_owned())).collect())
}

fn append(mbox: &File, batch: &mut [ToCommit], envelopes: &[Vec<u8>]) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(64 * 1024, mbox);
    for (m, envelope) in batch.iter_mut().zip(envelopes) {
        mboxrd::write_entry(envelope, &mut reader(m.staged.file())?, &mut out)?;
    }
    io::Write::flush(&mut out)
}

/// A staged message read from its start.
fn reader(file: &mut File) -> io::Result<io::BufReader<&mut File>> {
    use std::io::Seek;
    file.seek(io::SeekFrom::Start(0))?;
    Ok(io::BufReader::with_capacity(64 * 1024, file))
}

/// The envelope sender of a staged message (its header is in the first 64 KiB, or ignored).
fn envelope_of(file: &mut File) -> io::Result<String> {
    Ok(mboxrd::envelope_sender(&head_of(file)?))
}

/// The first 64 KiB of a staged message (where its header is, or the header is ignored).
fn head_of(file: &mut File) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    reader(file)?.take(64 * 1024).read_to_end(&mut head)?;
    Ok(head)
}

/// Hands one message to the MDA: exit 0 records it (fdatasynced) and reports it stored;
/// EX_TEMPFAIL reports it deferred; anything else is the error that stops the run. A crash
/// between the MDA's exit and the record delivers the message once more on the next run
/// (mpop has the same window): it is never lost.
fn deliver(
    mda: &Mda,
    state: &mut State,
    mut m: ToCommit,
    tx: &Sender<Committed>,
) -> Result<(), Pop3Error> {
    use crate::pop3::mda as agent;
    let write_err = |source| Pop3Error::Write {
        path: mda.dir.clone(),
        source,
    };
    let head = head_of(m.staged.file()).map_err(write_err)?;
    let command = agent::expand(&mda.command, &agent::envelope_from(&head), None);
    let status =
        agent::run_mda(&command, m.staged.file_ref()).map_err(|e| Pop3Error::Delivery {
            command: command.clone(),
            why: format!("could not run it: {e}"),
        })?;
    match agent::mda_verdict(status) {
        agent::MdaVerdict::Delivered => {
            state.record(&[(m.key.clone(), MDA_NAME.to_owned(), m.size)])?;
            state.confirm()?;
            let _ = tx.send(Committed::Stored {
                index: m.index,
                path: None,
            });
        }
        agent::MdaVerdict::TempFail => {
            let why = "the MDA exited 75 (temporary failure); kept on the server for the next run";
            let _ = tx.send(Committed::Deferred {
                index: m.index,
                why: why.into(),
            });
        }
        agent::MdaVerdict::Failed(why) => {
            return Err(Pop3Error::Delivery {
                command,
                why: format!("{why}; the message is kept on the server and the run stops"),
            });
        }
    }
    Ok(())
}
