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
//! the server (a DELE that never reached QUIT) are deleted without being downloaded, and
//! `--delete-after`/`--delete-larger-than` (`retention`) delete stored ones by age or size.
//! With `--filter`, each message to retrieve is first judged by its header (TOP n 0); with
//! `--mda`, the committer hands messages to the MDA instead of a store (`store`, `mda`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, Write};
use std::path::PathBuf;

use crate::pop3::Pop3Error;
use crate::pop3::client::{Client, Listed, UidList};
use crate::pop3::codec::{BodyError, Limits};
use crate::pop3::command::Command;
use crate::pop3::mda::{self as agent, FilterVerdict};
use crate::pop3::retention::{DAY, Reason, Retention};
pub use crate::pop3::state::default_path as default_state_path;
use crate::pop3::state::{SEEN, State};
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
    /// How `unpack` unpacks (the TNEF and uudecode choices of `postie unpack`).
    pub unpack_options: crate::mail::UnpackOptions,
    pub pipelining: Pipelining,
    pub progress: bool,
    /// Asked between messages: when it says true, no new command is sent; the messages
    /// already requested are stored, then QUIT (`--watch` on SIGTERM).
    pub stop: Option<fn() -> bool>,
    /// `--delete-after DAYS`: delete stored messages retrieved at least this many days ago.
    pub delete_after: Option<u64>,
    /// `--delete-larger-than SIZE`: delete stored messages larger than this.
    pub delete_larger_than: Option<u64>,
    /// `--mda CMD`: pipe each message to CMD instead of storing it (`out` then holds the
    /// temporary files).
    pub mda: Option<String>,
    /// `--filter CMD`: judge each message to retrieve by its header first.
    pub filter: Option<String>,
}

impl PullOptions {
    pub fn retention(&self) -> Retention {
        Retention {
            all: self.delete,
            after: self.delete_after.map(|d| d.saturating_mul(DAY)),
            larger_than: self.delete_larger_than,
        }
    }
}

/// What happened to one message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub number: u32,
    pub uidl: String,
    pub size: u64,
    pub path: Option<PathBuf>,
    pub attachments: Vec<PathBuf>,
    /// `stored`; `deleted` (its DELE was accepted and QUIT made it take effect: a message
    /// stored in this run or an earlier one); `skipped` (bigger than --max-size, or stored
    /// earlier with another size and so not deleted: see `error`; or judged by `--filter`:
    /// see `reason`); `deferred` (the MDA exited 75: kept for the next run); `failed` (see
    /// `error`).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why a message was deleted (`delete-after`, `delete-larger-than`, `filter-kill`; none
    /// for `--delete`) or skipped (`filter-skip`, `filter-kill`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub stored: usize,
    pub bytes: u64,
    pub deleted: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Messages the MDA deferred (exit 75): still on the server, tried again next run.
    pub deferred: usize,
    /// State entries without a retrieval time (an older version's file), counted as
    /// retrieved now.
    pub undated: usize,
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
    /// The server has UIDL but its listing does not name this message.
    no_uidl: bool,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Retr(usize),
    Dele(usize),
}

/// How far a message may grow past its LIST size before RETR is cut off. RFC 1939 sizes
/// count CRLF line ends and no stuffed dots, which is what postie counts; the slack is for
/// servers that count a stored LF as one octet, or give an estimate.
pub fn size_limit(announced: u64) -> u64 {
    announced
        .saturating_add(announced / 4)
        .saturating_add(64 * 1024)
}

fn protocol(host: &str, why: String) -> Pop3Error {
    Pop3Error::Protocol {
        host: host.to_owned(),
        why,
    }
}

/// LIST with each message once: a repeated number is dropped (with another size it is a
/// protocol error), so a message is never retrieved or deleted twice.
fn unique_list(host: &str, listed: Vec<Listed>) -> Result<Vec<Listed>, Pop3Error> {
    let mut sizes: HashMap<u32, u64> = HashMap::with_capacity(listed.len());
    let mut out = Vec::with_capacity(listed.len());
    for l in listed {
        match sizes.insert(l.number, l.size) {
            None => out.push(l),
            Some(s) if s == l.size => {}
            Some(s) => {
                let why = format!(
                    "LIST gives message {} twice: {s} and {} octets",
                    l.number, l.size
                );
                return Err(protocol(host, why));
            }
        }
    }
    Ok(out)
}

/// UIDL as a map; a number given two different UIDs is a protocol error.
fn unique_uidls(host: &str, list: UidList) -> Result<HashMap<u32, Vec<u8>>, Pop3Error> {
    let mut map: HashMap<u32, Vec<u8>> = HashMap::with_capacity(list.len());
    for (n, uid) in list {
        match map.get(&n) {
            Some(old) if *old != uid => {
                return Err(protocol(host, format!("UIDL gives message {n} two UIDs")));
            }
            Some(_) => {}
            None => {
                map.insert(n, uid);
            }
        }
    }
    Ok(map)
}

/// Lists the mailbox and builds each message's key.
fn mailbox<S: BufRead + Write>(client: &mut Client<S>, all: bool) -> Result<Vec<Msg>, Pop3Error> {
    let host = client.host().to_owned();
    let sizes = unique_list(&host, client.list()?)?;
    let uidls = match client.uidl()? {
        Some(u) => Some(unique_uidls(&host, u)?),
        None if all => None,
        None => {
            return Err(Pop3Error::Unavailable {
                host,
                why: "the server has no UIDL, so postie cannot tell new messages; use --all".into(),
            });
        }
    };
    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut msgs = Vec::with_capacity(sizes.len());
    for l in sizes {
        let (uidl, no_uidl) = match uidls.as_ref().and_then(|u| u.get(&l.number)) {
            Some(u) => (u.clone(), false),
            None => (format!("#{}", l.number).into_bytes(), uidls.is_some()),
        };
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
            no_uidl,
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
    /// Messages whose DELE got `+OK` (deleted at QUIT), with the path stored this run.
    deleted: Vec<(usize, Option<PathBuf>)>,
    /// Where each message stored in this run went.
    paths: HashMap<usize, PathBuf>,
    /// Why each DELE is sent.
    reasons: HashMap<usize, Reason>,
    /// The time retrievals count from (`state::now`).
    now: u64,
    /// Message numbers a DELE was sent for: never twice.
    dele_sent: HashSet<u32>,
    progress: Option<indicatif::ProgressBar>,
    unpack_dir: PathBuf,
}

impl Run<'_> {
    /// A message is on disk (or taken by the MDA: no path) and recorded: report it, unpack
    /// it, queue its DELE.
    fn stored(&mut self, index: usize, path: Option<PathBuf>, report: &mut dyn FnMut(&Outcome)) {
        let m = &self.msgs[index];
        self.summary.stored += 1;
        self.summary.bytes += m.size;
        let (attachments, error) = match &path {
            Some(path) if self.opts.unpack => {
                match crate::mail::unpack_file(path, &self.unpack_dir, &self.opts.unpack_options) {
                    Ok(r) => (r.attachments, None),
                    Err(e) => {
                        self.summary.failed += 1;
                        (Vec::new(), Some(format!("{}: unpack: {e}", path.display())))
                    }
                }
            }
            _ => (Vec::new(), None),
        };
        report(&Outcome {
            attachments,
            ..outcome(m, path.clone(), "stored", error)
        });
        if let Some(path) = path {
            self.paths.insert(index, path);
        }
        if let Some(pb) = &self.progress {
            pb.inc(1);
            pb.set_message(format!("{} bytes", self.summary.bytes));
        }
        if let Some(reason) = self.opts.retention().reason(m.size, self.now, self.now) {
            self.reasons.insert(index, reason);
            self.todo.push_front(Op::Dele(index));
        }
    }

    /// The MDA deferred a message: it stays on the server, unrecorded.
    fn deferred(&mut self, index: usize, why: String, report: &mut dyn FnMut(&Outcome)) {
        self.summary.deferred += 1;
        report(&outcome(&self.msgs[index], None, "deferred", Some(why)));
    }

    /// What the committer reported; a failure ends the run.
    fn committed(
        &mut self,
        c: Committed,
        report: &mut dyn FnMut(&Outcome),
    ) -> Result<(), Pop3Error> {
        match c {
            Committed::Stored { index, path } => self.stored(index, path, report),
            Committed::Deferred { index, why } => self.deferred(index, why, report),
            Committed::Failed(e) => return Err(e),
        }
        Ok(())
    }

    fn failed(&mut self, index: usize, why: String, report: &mut dyn FnMut(&Outcome)) {
        self.summary.failed += 1;
        report(&outcome(&self.msgs[index], None, "failed", Some(why)));
    }
}

/// Runs a pull on an authenticated session. `report` sees each message's outcome.
pub fn pull<S: BufRead + Write>(
    client: &mut Client<S>,
    opts: &PullOptions,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Summary, Pop3Error> {
    let (store, mut state) = open_store(opts)?;
    let undated = state.undated();
    let msgs = mailbox(client, opts.all)?;
    // Forget messages the server no longer has, so the state does not grow forever; an
    // older state gets the retrieval times it lacked written down.
    if !opts.all {
        let on_server: HashSet<&[u8]> = msgs.iter().map(|m| m.key.as_slice()).collect();
        state.compact(|k| on_server.contains(k))?;
    } else if undated > 0 {
        state.compact(|_| true)?;
    }
    let mut run = Run {
        msgs: &msgs,
        opts,
        todo: VecDeque::new(),
        summary: Summary::default(),
        deleted: Vec::new(),
        paths: HashMap::new(),
        reasons: HashMap::new(),
        now: crate::pop3::state::now(),
        dele_sent: HashSet::new(),
        progress: None,
        unpack_dir: unpack_dir(&store),
    };
    run.summary.undated = undated;
    let mut judge = |m: &Msg| match &opts.filter {
        Some(cmd) => filter(client, cmd, m),
        None => Ok(FilterVerdict::Deliver),
    };
    let (todo, retrieving, total_bytes) =
        plan(&msgs, &state, &store, &mut run, &mut judge, report)?;
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
    let state = transfer(client, &store, &mut run, window, state, report)?;
    finish(client, run, state, report)
}

/// The store (or MDA) and the locked state of a pull, once the options are checked.
fn open_store(opts: &PullOptions) -> Result<(Store, State), Pop3Error> {
    if opts.unpack && (opts.format == Format::Mbox || opts.mda.is_some()) {
        let why = "unpacks one message file; an mbox or an MDA has none (use maildir or eml)";
        return Err(Pop3Error::Usage {
            what: "--unpack".into(),
            why: why.into(),
        });
    }
    let store = match &opts.mda {
        Some(cmd) => Store::mda(&opts.out, cmd)?,
        None => Store::open(&opts.out, opts.format)?,
    };
    let state = State::open(&opts.state, |name| store.exists(name))?;
    Ok((store, state))
}

/// Where `--unpack` writes for `store`.
fn unpack_dir(store: &Store) -> PathBuf {
    match store {
        Store::Maildir(md) => md.root().join("unpacked"),
        Store::Eml(dir) => dir.clone(),
        Store::Mbox(file) => crate::fsutil::parent_dir(file).to_owned(),
        Store::Mda(m) => m.dir.clone(),
    }
}

/// What `mark_seen` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Marked {
    /// Messages newly recorded as retrieved.
    pub marked: usize,
    /// Messages the state already had.
    pub already: usize,
}

/// Records every message now on the server as retrieved, without downloading it (for a
/// new client on an old mailbox), then QUIT. Entries of messages gone from the server are
/// dropped, as a pull drops them. `exists` tells whether a stored file is still on disk.
pub fn mark_seen<S: BufRead + Write>(
    client: &mut Client<S>,
    state_path: &std::path::Path,
    exists: impl Fn(&str) -> bool,
) -> Result<Marked, Pop3Error> {
    let mut state = State::open(state_path, exists)?;
    let msgs = mailbox(client, false)?;
    let mut marked = Marked::default();
    let mut entries = Vec::new();
    for m in &msgs {
        if m.no_uidl {
            continue;
        }
        if state.contains(&m.key) {
            marked.already += 1;
        } else {
            entries.push((m.key.clone(), SEEN.to_owned(), m.size));
        }
    }
    marked.marked = entries.len();
    if !entries.is_empty() {
        state.record(&entries)?;
    }
    let on_server: HashSet<&[u8]> = msgs.iter().map(|m| m.key.as_slice()).collect();
    state.compact(|k| on_server.contains(k))?;
    client.quit()?;
    Ok(marked)
}

/// Runs the network loop beside the committer thread; returns the state once both ended.
fn transfer<S: BufRead + Write>(
    client: &mut Client<S>,
    store: &Store,
    run: &mut Run<'_>,
    window: usize,
    state: State,
    report: &mut dyn FnMut(&Outcome),
) -> Result<State, Pop3Error> {
    let (to_commit, commit_rx) = std::sync::mpsc::sync_channel::<ToCommit>(4 * MAX_BATCH);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Committed>();
    let committer_store = store.clone();
    let handle = std::thread::spawn(move || committer(committer_store, state, commit_rx, done_tx));
    let result = network_loop(client, store, run, window, &to_commit, &done_rx, report);
    drop(to_commit);
    let state = handle.join();
    // Messages the committer finished after the loop ended are stored: report them.
    let mut late_failure = None;
    for c in done_rx.try_iter() {
        if let Err(e) = run.committed(c, report) {
            late_failure = Some(e);
        }
    }
    if let Some(pb) = &run.progress {
        pb.finish_and_clear();
    }
    result?;
    if let Some(e) = late_failure {
        return Err(e);
    }
    state.map_err(|_| Pop3Error::State {
        path: run.opts.state.clone(),
        why: "the committer thread panicked".into(),
    })
}

/// QUIT (which makes the DELEs take effect), then reports each deletion and drops the
/// deleted messages from the state.
fn finish<S: BufRead + Write>(
    client: &mut Client<S>,
    run: Run<'_>,
    mut state: State,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Summary, Pop3Error> {
    client.quit()?;
    let mut summary = run.summary.clone();
    summary.deleted = run.deleted.len();
    for (index, path) in &run.deleted {
        let reason = run.reasons.get(index).and_then(|r| r.label());
        report(&Outcome {
            reason,
            ..outcome(&run.msgs[*index], path.clone(), "deleted", None)
        });
    }
    if !run.deleted.is_empty() {
        let gone: HashSet<&[u8]> = run
            .deleted
            .iter()
            .map(|(i, _)| run.msgs[*i].key.as_slice())
            .collect();
        state.compact(|k| !gone.contains(k))?;
    }
    Ok(summary)
}

/// Whether a message was stored by an earlier run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Earlier {
    No,
    /// Stored, and recorded with this UIDL and this LIST size (or, recorded before sizes
    /// were, its file on disk has this size): it may be deleted.
    Same,
    /// Recorded with this UIDL but another size: not downloaded again, never deleted.
    OtherSize,
    /// Recorded by `mark-seen`: never stored by postie, so never deleted by it.
    Seen,
}

fn earlier(m: &Msg, state: &State, store: &Store) -> Earlier {
    match state.get(&m.key) {
        None => Earlier::No,
        Some(e) if e.name == SEEN => Earlier::Seen,
        Some(e) if e.size == Some(m.size) => Earlier::Same,
        Some(e) if e.size.is_none() && store.file_size(&e.name) == Some(m.size) => Earlier::Same,
        Some(_) => Earlier::OtherSize,
    }
}

/// What this run does: RETR for each message not stored yet (within `--max-size`, which
/// reports the others as skipped, `--limit`, and what `judge` (`--filter`) says), and DELE
/// for each one stored earlier with the same size that the retention rules delete.
/// Returns the operations, and how many messages and bytes are retrieved.
fn plan(
    msgs: &[Msg],
    state: &State,
    store: &Store,
    run: &mut Run<'_>,
    judge: &mut dyn FnMut(&Msg) -> Result<FilterVerdict, Pop3Error>,
    report: &mut dyn FnMut(&Outcome),
) -> Result<(VecDeque<Op>, usize, u64), Pop3Error> {
    let opts = run.opts;
    let retention = opts.retention();
    let mut todo = VecDeque::new();
    let (mut retrieving, mut total_bytes) = (0usize, 0u64);
    for (i, m) in msgs.iter().enumerate() {
        if !opts.all && m.no_uidl {
            let why = "the server's UIDL listing does not name it, so it could not be told \
                       apart next time; not retrieved (use --all)";
            run.failed(i, why.into(), report);
            continue;
        }
        if let Some(entry) = state.get(&m.key).filter(|_| !opts.all) {
            if let Some(reason) = retention.reason(m.size, entry.retrieved, run.now) {
                run.reasons.insert(i, reason);
                plan_delete(msgs, state, store, i, &mut todo, run, report);
            }
            continue;
        }
        if opts.max_size.is_some_and(|max| m.size > max) {
            run.summary.skipped += 1;
            report(&outcome(m, None, "skipped", None));
            continue;
        }
        if opts.limit.is_some_and(|l| retrieving >= l) {
            continue;
        }
        if !judged_to_retrieve(m, i, judge(m)?, &mut todo, run, report) {
            continue;
        }
        retrieving += 1;
        total_bytes += m.size;
        todo.push_back(Op::Retr(i));
    }
    Ok((todo, retrieving, total_bytes))
}

/// Acts on the filter's verdict: true to retrieve; a skip or kill is reported (a kill is
/// deleted with `--delete`, as mpop deletes it unless `keep`).
fn judged_to_retrieve(
    m: &Msg,
    i: usize,
    verdict: FilterVerdict,
    todo: &mut VecDeque<Op>,
    run: &mut Run<'_>,
    report: &mut dyn FnMut(&Outcome),
) -> bool {
    let reason = match verdict {
        FilterVerdict::Deliver => return true,
        FilterVerdict::Skip => "filter-skip",
        FilterVerdict::Kill => "filter-kill",
    };
    if verdict == FilterVerdict::Kill && run.opts.delete {
        run.reasons.insert(i, Reason::FilterKill);
        todo.push_back(Op::Dele(i));
    }
    run.summary.skipped += 1;
    report(&Outcome {
        reason: Some(reason),
        ..outcome(m, None, "skipped", None)
    });
    false
}

/// `--filter`: the message's header (TOP n 0, LF line ends, with its blank line) piped to
/// the command, `%F` and `%S` expanded; its exit status is the verdict. A status of 3 or
/// more, or a server that refuses TOP, ends the run (the message kept).
fn filter<S: BufRead + Write>(
    client: &mut Client<S>,
    cmd: &str,
    m: &Msg,
) -> Result<FilterVerdict, Pop3Error> {
    let header = match client.top_header(m.number) {
        Ok(h) => h,
        Err(Pop3Error::Refused { text, .. }) => {
            return Err(Pop3Error::Unavailable {
                host: client.host().to_owned(),
                why: format!(
                    "--filter needs TOP, which the server refused: {}",
                    crate::pop3::printable(&text)
                ),
            });
        }
        Err(e) => return Err(e),
    };
    let mut lf = agent::LfWriter::new(Vec::with_capacity(header.len()));
    let header = match std::io::Write::write_all(&mut lf, &header) {
        Ok(()) => lf.finish().unwrap_or_default(),
        Err(_) => header,
    };
    let command = agent::expand(cmd, &agent::envelope_from(&header), Some(m.size));
    let status = agent::run_filter(&command, &header).map_err(|e| Pop3Error::Filter {
        command: command.clone(),
        why: format!("could not run it: {e}"),
    })?;
    agent::filter_verdict(status).map_err(|why| Pop3Error::Filter {
        command,
        why: format!("{why} (0 deliver, 1 kill, 2 skip); the run stops, the message is kept"),
    })
}

/// `--delete` for a message stored earlier: DELE if that DELE never reached QUIT. A
/// duplicated UIDL's key depends on its position, so such messages are deleted only when
/// every message sharing the UIDL is recorded with its size.
fn plan_delete(
    msgs: &[Msg],
    state: &State,
    store: &Store,
    i: usize,
    todo: &mut VecDeque<Op>,
    run: &mut Run<'_>,
    report: &mut dyn FnMut(&Outcome),
) {
    let m = &msgs[i];
    match earlier(m, state, store) {
        Earlier::Same => {
            let all_same = || {
                msgs.iter()
                    .filter(|o| o.uidl == m.uidl)
                    .all(|o| earlier(o, state, store) == Earlier::Same)
            };
            if !m.duplicated || all_same() {
                todo.push_back(Op::Dele(i));
            }
        }
        Earlier::OtherSize => {
            run.summary.skipped += 1;
            let why = "not deleted: stored earlier under this UIDL with another size";
            report(&outcome(m, None, "skipped", Some(why.into())));
        }
        Earlier::No | Earlier::Seen => {}
    }
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
    loop {
        for c in done.try_iter() {
            outstanding -= 1;
            run.committed(c, report)?;
        }
        send_window(client, run, &mut in_flight, window)?;
        let Some(op) = in_flight.pop_front() else {
            if outstanding == 0 {
                return Ok(());
            }
            // Wait for the committer: its reports may queue DELEs.
            let Ok(c) = done.recv() else {
                return Err(committer_stopped(run, store, done, report));
            };
            outstanding -= 1;
            run.committed(c, report)?;
            continue;
        };
        match op {
            Op::Retr(i) => {
                if let Some(staged) = run_retr(client, store, run, i, &mut reserved, report)? {
                    let (key, size) = (run.msgs[i].key.clone(), run.msgs[i].size);
                    let job = ToCommit {
                        index: i,
                        key,
                        size,
                        staged,
                    };
                    if to_commit.send(job).is_err() {
                        return Err(committer_stopped(run, store, done, report));
                    }
                    outstanding += 1;
                }
            }
            Op::Dele(i) => run_dele(client, run, i, report)?,
        }
    }
}

/// The committer stopped (it stops only on a failure): reports what it finished before,
/// and returns its failure.
fn committer_stopped(
    run: &mut Run<'_>,
    store: &Store,
    done: &std::sync::mpsc::Receiver<Committed>,
    report: &mut dyn FnMut(&Outcome),
) -> Pop3Error {
    for c in done.try_iter() {
        if let Err(e) = run.committed(c, report) {
            return e;
        }
    }
    Pop3Error::State {
        path: store.root().to_owned(),
        why: "the committer stopped".into(),
    }
}

/// Reads a RETR reply; a message not retrieved is reported (and ends the run when the
/// session cannot go on).
fn run_retr<S: BufRead + Write>(
    client: &mut Client<S>,
    store: &Store,
    run: &mut Run<'_>,
    i: usize,
    reserved: &mut HashSet<String>,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Option<Staged>, Pop3Error> {
    match retrieve(client, store, &run.msgs[i], run.opts.max_size, reserved)? {
        Ok(staged) => Ok(Some(staged)),
        Err(Failed { why, fatal }) => {
            let number = run.msgs[i].number;
            run.failed(i, why.clone(), report);
            match fatal {
                true => Err(protocol(client.host(), format!("message {number}: {why}"))),
                false => Ok(None),
            }
        }
    }
}

/// Reads a DELE reply: `+OK` is noted (reported after QUIT), `-ERR` reported as a failure.
fn run_dele<S: BufRead + Write>(
    client: &mut Client<S>,
    run: &mut Run<'_>,
    i: usize,
    report: &mut dyn FnMut(&Outcome),
) -> Result<(), Pop3Error> {
    match client.read_status(&Command::Dele(run.msgs[i].number)) {
        Ok(_) => {
            run.deleted.push((i, run.paths.get(&i).cloned()));
            Ok(())
        }
        Err(Pop3Error::Refused { text, .. }) => {
            run.failed(i, format!("DELE refused: {text}"), report);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Queues commands until `window` are in flight (a DELE at most once per message), then
/// flushes them.
fn send_window<S: BufRead + Write>(
    client: &mut Client<S>,
    run: &mut Run<'_>,
    in_flight: &mut VecDeque<Op>,
    window: usize,
) -> Result<(), Pop3Error> {
    if run.opts.stop.is_some_and(|stop| stop()) {
        run.todo.clear();
    }
    while in_flight.len() < window {
        let Some(op) = run.todo.pop_front() else {
            break;
        };
        let cmd = match op {
            Op::Retr(i) => Command::Retr(run.msgs[i].number),
            Op::Dele(i) if run.dele_sent.insert(run.msgs[i].number) => {
                Command::Dele(run.msgs[i].number)
            }
            Op::Dele(_) => continue,
        };
        client.queue(&cmd)?;
        in_flight.push_back(op);
    }
    client.flush()
}

/// Why one message was not retrieved; `fatal` when the session cannot go on.
#[derive(Debug)]
struct Failed {
    why: String,
    fatal: bool,
}

/// Reads one RETR reply into a temporary file, reading no more than the message's limit
/// (its LIST size with [`size_limit`]'s slack, and `--max-size`). The outer error ends the
/// run (connection, disk); the inner one is this message's.
fn retrieve<S: BufRead + Write>(
    client: &mut Client<S>,
    store: &Store,
    m: &Msg,
    max_size: Option<u64>,
    reserved: &mut HashSet<String>,
) -> Result<Result<Staged, Failed>, Pop3Error> {
    match client.read_status(&Command::Retr(m.number)) {
        Ok(_) => {}
        Err(e @ Pop3Error::Refused { code: Some(_), .. }) => return Err(e),
        Err(Pop3Error::Refused { text, .. }) => {
            let why = format!("RETR refused: {text}");
            return Ok(Err(Failed { why, fatal: false }));
        }
        Err(e) => return Err(e),
    }
    let write_err = |source| Pop3Error::Write {
        path: store.root().to_owned(),
        source,
    };
    let mut staged = store
        .begin(&m.uidl, m.occurrence, reserved)
        .map_err(write_err)?;
    let by_list = size_limit(m.size);
    let limit = max_size.map_or(by_list, |max| max.min(by_list));
    // A BufWriter would only add a copy: the codec hands over whole read buffers.
    let read = if staged.lf_only() {
        let mut lf = agent::LfWriter::new(staged.file());
        let read = client.read_body_to(&mut lf, Limits::body(limit));
        match (read, lf.finish()) {
            (Ok(_), Err(e)) => Err(BodyError::Write(e)),
            (read, _) => read,
        }
    } else {
        client.read_body_to(staged.file(), Limits::body(limit))
    };
    match read {
        Ok(_) => Ok(Ok(staged)),
        Err(BodyError::TooLong(_)) => {
            let why = if limit < by_list {
                format!(
                    "larger than --max-size ({limit} octets) though LIST gave {} octets; \
                     stopped reading, not stored",
                    m.size
                )
            } else {
                format!(
                    "larger than its LIST size of {} octets (more than {limit}); stopped \
                     reading, not stored",
                    m.size
                )
            };
            Ok(Err(Failed { why, fatal: true }))
        }
        Err(e) => Err(client.body_error("RETR", e, store.root())),
    }
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
        reason: None,
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
            unpack_options: Default::default(),
            pipelining: Pipelining::Off,
            progress: false,
            stop: None,
            delete_after: None,
            delete_larger_than: None,
            mda: None,
            filter: None,
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

    #[test]
    fn marked_messages_are_neither_retrieved_nor_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let listing = "+OK\r\n1 10\r\n2 12\r\n.\r\n+OK\r\n1 aa\r\n2 bb\r\n.\r\n";
        let script = format!("{listing}+OK bye\r\n");
        let mut client = Client::new(MemoryStream::new(script.as_bytes()), "mem", 5, false);
        let state = dir.path().join("state");
        let marked = mark_seen(&mut client, &state, |_| false).expect("mark");
        assert_eq!((marked.marked, marked.already), (2, 0));
        let out = String::from_utf8_lossy(&client.get_ref().output).into_owned();
        assert_eq!(out, "LIST\r\nUIDL\r\nQUIT\r\n");
        // A pull with --delete then sends neither RETR nor DELE.
        let mut client = Client::new(MemoryStream::new(script.as_bytes()), "mem", 5, false);
        let summary = pull(&mut client, &opts(dir.path()), &mut |_| {}).expect("pull");
        assert_eq!((summary.stored, summary.deleted), (0, 0));
        let out = String::from_utf8_lossy(&client.get_ref().output).into_owned();
        assert_eq!(out, "LIST\r\nUIDL\r\nQUIT\r\n");
    }

    #[test]
    fn listings_naming_a_message_twice() {
        let listed = |pairs: &[(u32, u64)]| {
            pairs
                .iter()
                .map(|&(number, size)| Listed { number, size })
                .collect::<Vec<_>>()
        };
        let once = unique_list("h", listed(&[(1, 10), (2, 5), (1, 10)])).expect("same size");
        assert_eq!(once, listed(&[(1, 10), (2, 5)]));
        let err = unique_list("h", listed(&[(1, 10), (1, 11)])).expect_err("two sizes");
        assert_eq!(err.exit_code(), 8);
        let uids = vec![(1, b"a".to_vec()), (1, b"a".to_vec()), (2, b"b".to_vec())];
        assert_eq!(unique_uidls("h", uids).expect("same uid").len(), 2);
        let uids = vec![(1, b"a".to_vec()), (1, b"b".to_vec())];
        assert!(unique_uidls("h", uids).is_err());
    }

    #[test]
    fn a_retr_past_the_list_size_ends_the_run_and_stores_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = "x".repeat(100) + "\r\n";
        let body = big.repeat(1000);
        let script = format!("+OK\r\n1 10\r\n.\r\n+OK\r\n1 aa\r\n.\r\n+OK\r\n{body}.\r\n");
        let mut client = Client::new(MemoryStream::new(script.as_bytes()), "mem", 5, false);
        let mut seen = Vec::new();
        let err = pull(&mut client, &opts(dir.path()), &mut |o| {
            seen.push(o.clone())
        })
        .expect_err("too big");
        assert_eq!(err.exit_code(), 8);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].status, "failed");
        assert_eq!(
            std::fs::read_dir(dir.path().join("new"))
                .expect("ls")
                .count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp"))
                .expect("ls")
                .count(),
            0
        );
        assert_eq!(size_limit(10), 10 + 2 + 65536);
    }
}
