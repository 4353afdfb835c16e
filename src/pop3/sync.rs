//! `pull`: retrieve the messages not retrieved before, store each durably, remember it, and
//! only then (with `--delete`) delete it on the server.
//!
//! Order for every message: RETR; stream into a temporary file; fsync; record `uidl name`
//! in the state journal and fdatasync it; rename into place; fsync the folder; only then DELE;
//! QUIT at the end. The network loop (this file) streams messages into temporary files while
//! the committer (`store`) makes them durable in batches, so fsyncs overlap with the transfer
//! and are shared. The journal line is written before the rename, so a kill between the
//! rename and the record cannot make the next run download the message again (see `state`).
//! Messages recorded as stored are never downloaded again; with `--delete` those still on
//! the server (a DELE that never reached QUIT) are deleted without being downloaded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, Write};
use std::path::PathBuf;

use crate::pop3::Pop3Error;
use crate::pop3::client::Client;
use crate::pop3::command::Command;
use crate::pop3::state::State;
pub use crate::pop3::state::default_path as default_state_path;
pub use crate::pop3::store::Format;
use crate::pop3::store::{Committed, MAX_BATCH, Staged, Store, ToCommit, committer};

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

/// What the network loop tracks besides the session.
struct Run<'a> {
    msgs: &'a [Msg],
    opts: &'a PullOptions,
    todo: VecDeque<Op>,
    summary: Summary,
    deleted: Vec<Vec<u8>>,
    progress: Option<indicatif::ProgressBar>,
    unpack_dir: PathBuf,
}

impl Run<'_> {
    /// A message is on disk and recorded: report it, unpack it, queue its DELE.
    fn stored(&mut self, index: usize, path: PathBuf, report: &mut dyn FnMut(&Outcome)) {
        let m = &self.msgs[index];
        self.summary.stored += 1;
        self.summary.bytes += m.size;
        let (attachments, error) = if self.opts.unpack {
            match crate::mail::unpack_file(
                &path,
                &self.unpack_dir,
                &crate::mail::UnpackOptions::default(),
            ) {
                Ok(r) => (r.attachments, None),
                Err(e) => {
                    self.summary.failed += 1;
                    (Vec::new(), Some(format!("{}: unpack: {e}", path.display())))
                }
            }
        } else {
            (Vec::new(), None)
        };
        report(&Outcome {
            attachments,
            ..outcome(m, Some(path), "stored", error)
        });
        if let Some(pb) = &self.progress {
            pb.inc(1);
            pb.set_message(format!("{} bytes", self.summary.bytes));
        }
        if self.opts.delete {
            self.todo.push_front(Op::Dele(index));
        }
    }
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
    let mut run = Run {
        msgs: &msgs,
        opts,
        todo: VecDeque::new(),
        summary: Summary::default(),
        deleted: Vec::new(),
        progress: None,
        unpack_dir: match &store {
            Store::Maildir(md) => md.root().join("unpacked"),
            Store::Eml(dir) => dir.clone(),
        },
    };
    let (todo, retrieving, total_bytes) = plan(&msgs, &state, opts, &mut run.summary, report);
    run.todo = todo;
    let window = match opts.pipelining {
        Pipelining::On => PIPELINE_WINDOW,
        Pipelining::Off => 1,
        Pipelining::Auto if client.caps.pipelining() => PIPELINE_WINDOW,
        Pipelining::Auto => 1,
    };
    run.progress = opts
        .progress
        .then(|| progress_bar(retrieving as u64, total_bytes));

    let (to_commit, commit_rx) = std::sync::mpsc::sync_channel::<ToCommit>(4 * MAX_BATCH);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Committed>();
    let committer_store = store.clone();
    let handle = std::thread::spawn(move || committer(committer_store, state, commit_rx, done_tx));
    let result = network_loop(
        client, &store, &mut run, window, &to_commit, &done_rx, report,
    );
    drop(to_commit);
    let state = handle.join();
    // Messages the committer finished after the loop ended are stored: report them.
    let mut late_failure = None;
    for c in done_rx.try_iter() {
        match c {
            Committed::Stored { index, path } => run.stored(index, path, report),
            Committed::Failed(e) => late_failure = Some(e),
        }
    }
    if let Some(pb) = &run.progress {
        pb.finish_and_clear();
    }
    result?;
    if let Some(e) = late_failure {
        return Err(e);
    }
    let mut state = state.map_err(|_| Pop3Error::State {
        path: opts.state.clone(),
        why: "the committer thread panicked".into(),
    })?;
    client.quit()?;
    let mut summary = run.summary.clone();
    summary.deleted = run.deleted.len();
    if !run.deleted.is_empty() {
        let gone: HashSet<Vec<u8>> = run.deleted.into_iter().collect();
        state.compact(|k| !gone.contains(k))?;
    }
    Ok(summary)
}

/// What this run does: RETR for each message not stored yet (within `--max-size`, which
/// reports the others as skipped, and `--limit`), and with `--delete` DELE for each one
/// stored earlier. Returns the operations, and how many messages and bytes are retrieved.
fn plan(
    msgs: &[Msg],
    state: &State,
    opts: &PullOptions,
    summary: &mut Summary,
    report: &mut dyn FnMut(&Outcome),
) -> (VecDeque<Op>, usize, u64) {
    let mut todo = VecDeque::new();
    let (mut retrieving, mut total_bytes) = (0usize, 0u64);
    for (i, m) in msgs.iter().enumerate() {
        if !opts.all && state.contains(&m.key) {
            // Stored earlier; with --delete, delete it now if that DELE never reached QUIT.
            // A duplicated UIDL's key depends on its position, so such messages are deleted
            // from the state only when every message sharing the UIDL is recorded.
            if opts.delete && (!m.duplicated || all_recorded(msgs, state, &m.uidl)) {
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
    (todo, retrieving, total_bytes)
}

/// Sends commands (a window of them when pipelining), reads replies, streams each message
/// into a temporary file and hands it to the committer; DELE follows only its report.
fn network_loop<S: BufRead + Write>(
    client: &mut Client<S>,
    store: &Store,
    run: &mut Run<'_>,
    window: usize,
    to_commit: &std::sync::mpsc::SyncSender<ToCommit>,
    done: &std::sync::mpsc::Receiver<Committed>,
    report: &mut dyn FnMut(&Outcome),
) -> Result<(), Pop3Error> {
    let mut in_flight: VecDeque<Op> = VecDeque::new();
    let mut outstanding = 0usize;
    let mut reserved = HashSet::new();
    let stopped = || Pop3Error::State {
        path: store.root().to_owned(),
        why: "the committer stopped".into(),
    };
    loop {
        for c in done.try_iter() {
            outstanding -= 1;
            match c {
                Committed::Stored { index, path } => run.stored(index, path, report),
                Committed::Failed(e) => return Err(e),
            }
        }
        while in_flight.len() < window {
            let Some(op) = run.todo.pop_front() else {
                break;
            };
            let cmd = match op {
                Op::Retr(i) => Command::Retr(run.msgs[i].number),
                Op::Dele(i) => Command::Dele(run.msgs[i].number),
            };
            client.queue(&cmd)?;
            in_flight.push_back(op);
        }
        client.flush()?;
        let Some(op) = in_flight.pop_front() else {
            if outstanding == 0 {
                return Ok(());
            }
            // Wait for the committer: its reports may queue DELEs.
            match done.recv() {
                Ok(Committed::Stored { index, path }) => {
                    outstanding -= 1;
                    run.stored(index, path, report);
                }
                Ok(Committed::Failed(e)) => return Err(e),
                Err(_) => return Err(stopped()),
            }
            continue;
        };
        match op {
            Op::Retr(i) => {
                let m = &run.msgs[i];
                match retrieve(client, store, m, &mut reserved)? {
                    Ok(staged) => {
                        let job = ToCommit {
                            index: i,
                            key: m.key.clone(),
                            staged,
                        };
                        to_commit.send(job).map_err(|_| stopped())?;
                        outstanding += 1;
                    }
                    Err(why) => {
                        run.summary.failed += 1;
                        report(&outcome(m, None, "failed", Some(why)));
                    }
                }
            }
            Op::Dele(i) => {
                let m = &run.msgs[i];
                client.read_status(&Command::Dele(m.number))?;
                run.deleted.push(m.key.clone());
            }
        }
    }
}

/// Reads one RETR reply into a temporary file. The outer error ends the run (connection,
/// disk); the inner one is a refusal of this message only.
fn retrieve<S: BufRead + Write>(
    client: &mut Client<S>,
    store: &Store,
    m: &Msg,
    reserved: &mut HashSet<String>,
) -> Result<Result<Staged, String>, Pop3Error> {
    match client.read_status(&Command::Retr(m.number)) {
        Ok(_) => {}
        Err(e @ Pop3Error::Refused { code: Some(_), .. }) => return Err(e),
        Err(Pop3Error::Refused { text, .. }) => return Ok(Err(format!("RETR refused: {text}"))),
        Err(e) => return Err(e),
    }
    let write_err = |source| Pop3Error::Write {
        path: store.root().to_owned(),
        source,
    };
    let mut staged = store
        .begin(&m.uidl, m.occurrence, reserved)
        .map_err(write_err)?;
    // A BufWriter would only add a copy: the codec hands over whole read buffers.
    client
        .read_body_to(staged.file())
        .map_err(|e| client.body_error("RETR", e, store.root()))?;
    Ok(Ok(staged))
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
    use std::path::Path;

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
        let listing = "+OK\r\n1 10\r\n2 12\r\n.\r\n+OK\r\n1 aa\r\n2 bb\r\n.\r\n";
        let script =
            format!("{listing}+OK\r\nA: 1\r\n\r\n..x\r\n.\r\n+OK\r\nB: 2\n\nbody\n.\n+OK bye\r\n");
        let mut client = Client::new(MemoryStream::new(script.as_bytes()), "mem", 5, false);
        let mut seen = Vec::new();
        let keep = PullOptions {
            delete: false,
            ..opts(dir.path())
        };
        let summary = pull(&mut client, &keep, &mut |o| seen.push(o.clone())).expect("pull");
        assert_eq!((summary.stored, summary.deleted), (2, 0));
        let out = String::from_utf8_lossy(&client.get_ref().output).into_owned();
        assert_eq!(out, "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n");
        let first = seen[0].path.clone().expect("path");
        assert_eq!(std::fs::read(first).expect("read"), b"A: 1\r\n\r\n.x\r\n");
        let second = seen[1].path.clone().expect("path");
        assert_eq!(std::fs::read(second).expect("read"), b"B: 2\n\nbody\n");

        // With --delete, the stored messages are deleted without being downloaded again.
        let script = format!("{listing}+OK\r\n+OK\r\n+OK bye\r\n");
        let mut client = Client::new(MemoryStream::new(script.as_bytes()), "mem", 5, false);
        let summary = pull(&mut client, &opts(dir.path()), &mut |_| {}).expect("pull");
        assert_eq!((summary.stored, summary.deleted), (0, 2));
        let out = String::from_utf8_lossy(&client.get_ref().output).into_owned();
        assert_eq!(out, "LIST\r\nUIDL\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n");
    }
}
