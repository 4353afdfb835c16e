//! `postie fetch` for many URLs: `--url-file`, `--parallel`/`-Z`, `--parallel-per-host`,
//! `--rate`, Retry-After pauses per host, one cookie jar for the run (saved every
//! `--jar-save-interval` too), `--json-results` and the progress display.
//!
//! The scheduler (`sched`) runs each URL through the same single-URL transfer as a
//! one-URL run (`transfer::fetch_reported`: redirects, retries, resume, output files,
//! cookies, `-w`), on one ureq Agent (one connection pool) and one cookie session, so
//! everything that transfer learns applies to every job here. This module owns only what is about many: which URL
//! goes next (`hosts`: per-host limits, rate, pauses), the list read line by line and the
//! files it names (`source`), the per-URL report (`results`) and the display (`progress`).

mod hosts;
mod progress;
mod results;
mod sched;
mod source;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

pub use hosts::Rate;
pub use sched::run;

use super::FetchConfig;

/// What a many-URL run adds to [`FetchConfig`], validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct ManyConfig {
    /// Transfers at once (`--parallel N`, `-Z` with `--parallel-max`); 1 is one by one.
    pub parallel: usize,
    /// `--parallel-per-host` (default 6).
    pub per_host: usize,
    /// `--rate`: transfer starts per host.
    pub rate: Option<Rate>,
    /// `--url-file` (`-` is stdin).
    pub url_file: Option<PathBuf>,
    /// Where url-file lines without `output` go (`--output-dir`, default `.`).
    pub output_dir: PathBuf,
    /// `--jar-save-interval`.
    pub jar_save_interval: Option<Duration>,
    /// `--json-results FILE` (`-` is stdout).
    pub json_results: Option<PathBuf>,
}

/// What every transfer of a many-URL run shares with the scheduler: the host table (a
/// Retry-After pauses the host for all of them) and the progress display. `None` in a
/// one-by-one run (plain sleeps, the single progress bar).
#[derive(Debug, Clone, Default)]
pub struct Hooks(Option<Arc<sched::Shared>>);

/// The scheduler's key of a URL: scheme, host and port.
fn host_key(url: &url::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// A 429 or 503 with Retry-After: in a many-URL run, no transfer to that host starts
/// before `wait` is over (the others go on).
pub(super) fn pause_host(cfg: &FetchConfig, url: &url::Url, status: u16, wait: Duration) {
    if let Some(shared) = &cfg.many.0
        && matches!(status, 429 | 503)
    {
        shared.pause(&host_key(url), Instant::now() + wait);
    }
}

/// Sleeps before a retry: `wait`, and in a many-URL run until the host's pause is over
/// (another transfer may have been told to wait longer).
pub(super) fn sleep_before_retry(cfg: &FetchConfig, url: &url::Url, wait: Duration) {
    std::thread::sleep(wait);
    if let Some(shared) = &cfg.many.0 {
        shared.wait_pause(&host_key(url));
    }
}

/// The progress bar of one body: a line of the run's display in a many-URL run, else the
/// one-transfer bar.
pub(super) fn bar(cfg: &FetchConfig, to_file: bool, len: Option<u64>, name: &str) -> ProgressBar {
    match &cfg.many.0 {
        Some(shared) => shared.display.transfer(len, name),
        None => super::output::progress(to_file, cfg.silent, len),
    }
}

/// Idle connections the pool keeps: as many as the run has transfers at once.
pub(super) fn pool_size(cfg: &FetchConfig) -> (usize, usize) {
    match &cfg.many.0 {
        Some(shared) => (
            shared.parallel.max(10),
            shared.parallel.min(shared.per_host).max(3),
        ),
        None => (10, 3),
    }
}
