//! The scheduler of a many-URL run: a reader thread (the caller's) feeds a bounded window of
//! URLs from the list; `--parallel` workers each take the first URL of the window whose host
//! may start a transfer (per-host limit, rate, pause) and run it through the single-URL
//! transfer. Memory is the window, the hosts in flight and 8 bytes per file name, whatever
//! the length of the list.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ureq::Agent;

use super::super::probe::Probe;
use super::super::transfer::{build_agent, fetch_reported};
use super::super::writeout::TransferInfo;
use super::super::{FetchConfig, FetchError, Job, OutputTarget, files, mask_url};
use super::hosts::{Busy, HostTable};
use super::progress::Display;
use super::results::{Outcome, ResultsOut, Tally, json_line};
use super::source::{Extra, ListFile, Source, Task};
use super::{Hooks, ManyConfig, host_key};
use crate::cookies::CookieSession;
use crate::exit::Exit;

/// State shared by the workers, the reader and (through [`Hooks`]) the transfers.
pub struct Shared {
    state: Mutex<Sched>,
    /// Workers wait here for a URL they may start: woken by a new URL whose host may start,
    /// a pause, the end of the list or a stop; never all of them for each ended transfer,
    /// which cost more context switches than the transfers (see `report`).
    work: Condvar,
    /// The list reader waits here for room in the window.
    room: Condvar,
    pub(super) display: Display,
    pub(super) parallel: usize,
    pub(super) per_host: usize,
    window: usize,
    /// `--json-results` was asked for: each outcome's line is built (outside the lock).
    json_results: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Shared(parallel {}, per host {})",
            self.parallel, self.per_host
        )
    }
}

struct Queued {
    task: Task,
    host: String,
}

struct Sched {
    queue: VecDeque<Queued>,
    list_done: bool,
    hosts: HostTable,
    running: usize,
    /// Workers waiting on `work`, and whether the reader waits on `room`: a wake is sent
    /// only to someone waiting who can use it.
    waiting: usize,
    reader_waiting: bool,
    /// A broken pipe: stop taking URLs.
    stop: Option<FetchError>,
    results: ResultsOut,
    tally: Tally,
}

impl Shared {
    fn new(many: &ManyConfig, silent: bool) -> Result<Shared, FetchError> {
        Ok(Shared {
            state: Mutex::new(Sched {
                queue: VecDeque::new(),
                list_done: false,
                hosts: HostTable::new(many.per_host, many.rate),
                running: 0,
                waiting: 0,
                reader_waiting: false,
                stop: None,
                results: ResultsOut::open(many.json_results.as_ref())?,
                tally: Tally::default(),
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            display: Display::new(silent),
            parallel: many.parallel.max(1),
            per_host: many.per_host.max(1),
            // Look-ahead for a URL whose host is free: bounded, so memory does not grow
            // with the list.
            window: (many.parallel * 16).max(256),
            json_results: many.json_results.is_some(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Sched> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn pause(&self, host: &str, until: Instant) {
        self.lock().hosts.pause(host, until);
        self.work.notify_all();
    }

    pub(super) fn wait_pause(&self, host: &str) {
        loop {
            let until = self.lock().hosts.paused_until(host, Instant::now());
            let Some(until) = until else { return };
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
        }
    }

    /// The next URL a worker may start, waiting for one; None when the list is done.
    fn take(&self) -> Option<Queued> {
        let mut st = self.lock();
        loop {
            if st.stop.is_some() {
                return None;
            }
            let now = Instant::now();
            let (pick, wake_at) = startable(&st, now);
            if let Some(q) = pick.and_then(|i| st.queue.remove(i)) {
                st.hosts.start(&q.host, now);
                st.running += 1;
                if st.reader_waiting && st.queue.len() <= self.window / 2 {
                    self.room.notify_one();
                }
                return Some(q);
            }
            if st.queue.is_empty() && st.list_done {
                // The others waiting would otherwise wait for a wake that never comes.
                self.work.notify_all();
                return None;
            }
            st.waiting += 1;
            st = match wake_at {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    self.work
                        .wait_timeout(st, wait)
                        .map_or_else(|e| e.into_inner().0, |r| r.0)
                }
                None => self
                    .work
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            };
            st.waiting -= 1;
        }
    }

    /// Adds a URL to the window; when it is full, waits until the workers have taken half
    /// of it (one wake of the reader per half window, not one per URL). False once the run
    /// stops.
    fn offer(&self, q: Queued) -> bool {
        let mut st = self.lock();
        if st.queue.len() >= self.window {
            st.reader_waiting = true;
            while st.queue.len() > self.window / 2 && st.stop.is_none() {
                st = self
                    .room
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            st.reader_waiting = false;
        }
        if st.stop.is_some() {
            return false;
        }
        // A waiting worker can use the URL only if its host may start now.
        let wake = st.waiting > 0 && st.hosts.check(&q.host, Instant::now()).is_ok();
        st.queue.push_back(q);
        drop(st);
        if wake {
            self.work.notify_one();
        }
        true
    }

    fn list_done(&self) {
        self.lock().list_done = true;
        self.work.notify_all();
    }

    /// Reports one URL's outcome (stderr, `--json-results`, the tally).
    fn report(&self, cfg: &FetchConfig, o: &Outcome<'_>, host: Option<&str>) {
        // Built before the lock is taken: every worker reports through it, and with quick
        // transfers (a rerun of 304s) its hold time is what they queue on.
        let line = self.json_results.then(|| json_line(o));
        let mut st = self.lock();
        if let Some(h) = host {
            st.hosts.end(h, Instant::now());
            st.running = st.running.saturating_sub(1);
        }
        st.tally.add(o.info, o.error);
        if let Some(err) = o.error {
            if crate::exit::is_broken_pipe(err) {
                st.stop.get_or_insert(FetchError::Other {
                    url: o.url.to_owned(),
                    why: err.to_string(),
                });
            } else if !cfg.silent || cfg.show_error {
                self.display
                    .eprintln(&format!("postie: {}", mask_url(&err.to_string())));
            }
        }
        if let Some(Err(e)) = line.map(|l| st.results.write(&l)) {
            st.stop.get_or_insert(e);
        }
        let (ok, failed, bytes, running) =
            (st.tally.ok, st.tally.failed, st.tally.bytes, st.running);
        let stopping = st.stop.is_some();
        drop(st);
        self.display.totals(ok, failed, running, bytes);
        if stopping {
            self.work.notify_all();
            self.room.notify_all();
        }
        // No wake for the freed slot: this worker takes a URL next, and the others wait only
        // when nothing else could start, so the slot is its to use. Waking one of them for
        // each URL ended cost more than the transfers (with 8 workers and 6 per host, two
        // always wait).
    }
}

/// The first URL of the window whose host may start now, and else the earliest time one
/// may (a pause or `--rate`); a host at its limit waits for a transfer to end.
fn startable(st: &Sched, now: Instant) -> (Option<usize>, Option<Instant>) {
    let mut wake_at: Option<Instant> = None;
    for (i, q) in st.queue.iter().enumerate() {
        match st.hosts.check(&q.host, now) {
            Ok(()) => return (Some(i), wake_at),
            Err(Busy::Until(at)) => wake_at = Some(wake_at.map_or(at, |w| w.min(at))),
            Err(Busy::Full) => {}
        }
    }
    (None, wake_at)
}

/// What a worker needs.
struct Ctx<'a> {
    cfg: &'a FetchConfig,
    agent: &'a Agent,
    probe: &'a Probe,
    shared: &'a Shared,
    /// One transfer at a time: the probe's connection details are this transfer's.
    serial: bool,
}

/// Runs every URL of the command line and of `--url-file`; the exit code is that of the
/// last failure (0 when all worked), with a summary line on stderr.
pub fn run(config: FetchConfig, many: ManyConfig) -> Result<Exit, FetchError> {
    let started = Instant::now();
    let mut cfg = config;
    let jobs = std::mem::take(&mut cfg.jobs);
    let file = open_list(many.url_file.as_ref())?;
    let mut source = Source::new(jobs, file, many.output_dir.clone());
    let shared = Arc::new(Shared::new(&many, cfg.silent)?);
    cfg.many = Hooks(Some(Arc::clone(&shared)));
    let probe = Probe::default();
    let agent = build_agent(&cfg, &probe)?;
    let cookies = CookieSession::open(cfg.cookies.clone())?;
    files::start_dump(&cfg)?;
    let ctx = Ctx {
        cfg: &cfg,
        agent: &agent,
        probe: &probe,
        shared: &shared,
        serial: many.parallel <= 1,
    };
    std::thread::scope(|scope| {
        let (stop_saving, ticks) = mpsc::channel::<()>();
        if let Some(every) = many.jar_save_interval {
            let jar = cookies.clone();
            let display = &shared.display;
            scope.spawn(move || save_every(&jar, every, &ticks, display));
        }
        let workers: Vec<_> = (0..shared.parallel)
            .map(|_| {
                let mut jar = cookies.clone();
                let ctx = &ctx;
                scope.spawn(move || worker(ctx, &mut jar))
            })
            .collect();
        feed(&cfg, &shared, &mut source);
        for w in workers {
            let _ = w.join();
        }
        // Only now: the saver goes on while the last transfers run.
        drop(stop_saving);
    });
    shared.display.clear();
    let synced = crate::fsutil::sync_deferred_dirs();
    cookies.finish()?;
    if let Some(store) = &cfg.update {
        store.finish()?;
    }
    synced.map_err(|e| FetchError::write("the output folders (fsync)", e))?;
    finish(&cfg, &shared, started)
}

/// The summary, and the run's exit code.
fn finish(cfg: &FetchConfig, shared: &Shared, started: Instant) -> Result<Exit, FetchError> {
    let mut st = shared.lock();
    if let Some(err) = st.stop.take() {
        return Err(err);
    }
    if !cfg.silent || (cfg.show_error && st.tally.failed > 0) {
        eprintln!("{}", st.tally.summary(started.elapsed()));
    }
    Ok(st.tally.last_failure.map_or(Exit::SUCCESS, Exit::with_code))
}

fn open_list(path: Option<&std::path::PathBuf>) -> Result<Option<ListFile>, FetchError> {
    let Some(path) = path else { return Ok(None) };
    if path.as_os_str() == "-" {
        return Ok(Some((
            "-".into(),
            Box::new(std::io::BufReader::new(std::io::stdin())),
        )));
    }
    let file = std::fs::File::open(path).map_err(|source| FetchError::Read {
        what: format!("--url-file {}", path.display()),
        source,
    })?;
    Ok(Some((
        path.display().to_string(),
        Box::new(std::io::BufReader::new(file)),
    )))
}

/// Reads the list into the window; a bad line is reported as a failed URL and skipped.
fn feed(cfg: &FetchConfig, shared: &Shared, source: &mut Source) {
    while let Some(next) = source.next_task() {
        match next {
            Ok(task) => {
                if let Some(note) = task.note.as_deref().filter(|_| !cfg.silent) {
                    shared.display.eprintln(note);
                }
                let host = super::super::transfer::parse_url(&task.job.url)
                    .map(|u| host_key(&u))
                    .unwrap_or_default();
                if !shared.offer(Queued { task, host }) {
                    break;
                }
            }
            Err(err) => {
                let info = TransferInfo::default();
                let outcome = Outcome {
                    index: None,
                    url: "",
                    info: &info,
                    error: Some(&err),
                };
                shared.report(cfg, &outcome, None);
            }
        }
    }
    shared.list_done();
}

fn worker(ctx: &Ctx<'_>, cookies: &mut CookieSession) {
    // One folder fsync per output folder at the end, not one per file (see fsutil).
    crate::fsutil::defer_dir_sync_on_this_thread();
    while let Some(q) = ctx.shared.take() {
        let owned;
        let cfg = match &q.task.extra {
            Some(extra) => {
                owned = with_extra(ctx.cfg, extra);
                &owned
            }
            None => ctx.cfg,
        };
        let (info, result) = run_task(ctx, cfg, &q.task, cookies);
        let outcome = Outcome {
            index: Some(q.task.index),
            url: &q.task.job.url,
            info: &info,
            error: result.as_ref().err(),
        };
        ctx.shared.report(cfg, &outcome, Some(&q.host));
    }
}

/// One URL through the single-URL transfer, with `-w` and the `-O` rules for the names
/// this run chose.
fn run_task(
    ctx: &Ctx<'_>,
    cfg: &FetchConfig,
    task: &Task,
    cookies: &mut CookieSession,
) -> (TransferInfo, Result<(), FetchError>) {
    let mut info = TransferInfo {
        urlnum: task.index,
        ..TransferInfo::default()
    };
    if let (true, OutputTarget::File(path)) = (task.implied_name, &task.job.output) {
        // An implied -O file is held to -O's rules: -nc skips it, and an existing file is
        // replaced only with --clobber (or -C -).
        let as_o = Job {
            url: task.job.url.clone(),
            output: OutputTarget::RemoteName { dir: None },
        };
        match files::skip_existing(cfg, &as_o, Some(path)) {
            Ok(false) => {}
            Ok(true) => return (info, Ok(())),
            Err(e) => return (info, Err(e)),
        }
    }
    let probe = ctx.serial.then_some(ctx.probe);
    let result = fetch_reported(ctx.agent, cfg, cookies, &task.job, &mut info, probe);
    (info, result)
}

/// The run's config with a url-file line's method, headers and body.
fn with_extra(base: &FetchConfig, extra: &Extra) -> FetchConfig {
    let mut cfg = base.clone();
    if let Some(m) = &extra.method {
        cfg.method = Some(m.clone());
    }
    for (name, value) in &extra.headers {
        cfg.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        cfg.headers.push((name.clone(), value.clone()));
    }
    if let Some(body) = &extra.body {
        cfg.body = body.clone();
    }
    cfg
}

/// `--jar-save-interval`: saves the jar every `every` until the run ends.
fn save_every(jar: &CookieSession, every: Duration, stop: &mpsc::Receiver<()>, display: &Display) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        if let Err(e) = jar.save() {
            display.eprintln(&format!("postie: warning: saving the cookie jar: {e}"));
        }
    }
}
