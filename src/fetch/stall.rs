//! Stalled transfers: `--idle-timeout` (no byte for that long; on by default), curl's
//! `-Y/--speed-limit` with `-y/--speed-time` (slower than that for that long), and what a
//! `--retry` does after a body broke off: ask for the rest with `Range` (and `If-Range`, so
//! a changed resource is sent whole) and append, or start the output over.

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use super::FetchError;
use super::error::from_io;
use super::output::Sink;

/// The default `--idle-timeout`: a server silent this long mid-transfer is given up on.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// curl's default `--speed-time` when only `--speed-limit` is given.
pub const DEFAULT_SPEED_TIME: Duration = Duration::from_secs(30);

/// When a transfer counts as stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallLimits {
    /// No byte for this long (None: `--idle-timeout 0`).
    pub idle: Option<Duration>,
    /// `-Y`: bytes per second below which the transfer is too slow.
    pub speed_limit: Option<u64>,
    /// `-y`: how long it may stay too slow.
    pub speed_time: Duration,
}

impl Default for StallLimits {
    fn default() -> StallLimits {
        StallLimits {
            idle: Some(DEFAULT_IDLE),
            speed_limit: None,
            speed_time: DEFAULT_SPEED_TIME,
        }
    }
}

impl StallLimits {
    /// The longest one read may wait: the idle timeout, or the speed window when shorter
    /// (no byte for a whole window is below any speed limit).
    pub fn per_read(&self) -> Option<Duration> {
        match (self.idle, self.speed_limit) {
            (Some(idle), Some(_)) => Some(idle.min(self.speed_time)),
            (None, Some(_)) => Some(self.speed_time),
            (idle, None) => idle,
        }
    }
}

/// curl's low-speed check over whole seconds: the transfer is stalled once every second
/// of a `speed_time` stretch averaged fewer than `limit` bytes.
#[derive(Debug)]
pub(super) struct SpeedCheck {
    limit: u64,
    window: Duration,
    second_start: Instant,
    bytes: u64,
    slow_since: Option<Instant>,
}

impl SpeedCheck {
    pub(super) fn new(limits: &StallLimits, now: Instant) -> Option<SpeedCheck> {
        Some(SpeedCheck {
            limit: limits.speed_limit?,
            window: limits.speed_time,
            second_start: now,
            bytes: 0,
            slow_since: None,
        })
    }

    /// Counts `n` bytes that arrived at `now`; true when the transfer is now stalled.
    pub(super) fn feed(&mut self, now: Instant, n: u64) -> bool {
        self.bytes += n;
        let elapsed = now.saturating_duration_since(self.second_start);
        if elapsed >= Duration::from_secs(1) {
            let rate = self.bytes as f64 / elapsed.as_secs_f64();
            if rate < self.limit as f64 {
                self.slow_since.get_or_insert(self.second_start);
            } else {
                self.slow_since = None;
            }
            self.second_start = now;
            self.bytes = 0;
        }
        self.slow_since
            .is_some_and(|s| now.saturating_duration_since(s) >= self.window)
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "slower than {} bytes/s for {} s (--speed-limit/--speed-time)",
            self.limit,
            self.window.as_secs_f64()
        )
    }
}

/// The read size of [`copy_body`]: larger than ureq's input buffer, so one read empties it
/// (one copy per socket read) and one write follows each read.
const COPY_BUFFER: usize = 1024 * 1024;

thread_local! {
    /// [`copy_body`]'s buffer, made once per thread: a fresh zeroed megabyte per transfer
    /// would cost a 1 MiB memset for every small page of a long run.
    static COPY_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Copies a body into `sink`, counting into `written`; the stall checks apply.
pub(super) fn copy_body(
    url: &str,
    reader: &mut dyn Read,
    sink: &mut Sink,
    limits: &StallLimits,
    written: &mut u64,
    bar: &indicatif::ProgressBar,
) -> Result<(), FetchError> {
    COPY_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < COPY_BUFFER {
                // Zeroed by the allocator (fresh pages), not by a memset: pages a read never
                // reaches are never touched, so small pages cost kilobytes of memory, not a
                // megabyte per worker.
                *buf = vec![0u8; COPY_BUFFER];
            }
            copy_with(url, reader, sink, limits, (written, bar), &mut buf)
        }
        // Not reached (copies do not nest), but a second buffer is always correct.
        Err(_) => {
            let mut buf = vec![0u8; COPY_BUFFER];
            copy_with(url, reader, sink, limits, (written, bar), &mut buf)
        }
    })
}

fn copy_with(
    url: &str,
    reader: &mut dyn Read,
    sink: &mut Sink,
    limits: &StallLimits,
    (written, bar): (&mut u64, &indicatif::ProgressBar),
    buf: &mut [u8],
) -> Result<(), FetchError> {
    let mut speed = SpeedCheck::new(limits, Instant::now());
    loop {
        let n = match reader.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(from_io(url.to_owned(), e, true)),
        };
        sink.write_all(&buf[..n])?;
        *written += n as u64;
        bar.inc(n as u64);
        if let Some(check) = &mut speed
            && check.feed(Instant::now(), n as u64)
        {
            return Err(FetchError::Stalled {
                url: url.to_owned(),
                why: check.describe(),
            });
        }
    }
}

/// The output of one transfer: where it will go, and a body that broke off and may be
/// continued by a retry.
#[derive(Debug, Default)]
pub(super) struct Partial {
    /// The output file decided before connecting (`-o`, or `-O` from the URL the user gave),
    /// until the first response opens it.
    pub(super) planned: Option<std::path::PathBuf>,
    /// The output so far (None until the first response opened it).
    pub(super) sink: Option<Sink>,
    /// Bytes the file had before this transfer appended to it (`-C -`).
    pub(super) base: u64,
    /// Body bytes written to it by this transfer.
    pub(super) written: u64,
    /// The first response's strong ETag or Last-Modified, for `If-Range`.
    pub(super) validator: Option<String>,
}

impl Partial {
    /// A transfer whose output goes to `planned` (None: stdout, or a name from the response).
    pub(super) fn planned(planned: Option<std::path::PathBuf>) -> Partial {
        Partial {
            planned,
            ..Partial::default()
        }
    }

    /// The validator of a response, for `If-Range` (weak ETags may not be used there).
    pub(super) fn validator_of(etag: Option<&str>, last_modified: Option<&str>) -> Option<String> {
        match etag {
            Some(e) if !e.starts_with("W/") => Some(e.to_owned()),
            _ => last_modified.map(str::to_owned),
        }
    }
}

impl Sink {
    /// Empties the output so a whole body can be written again; false when it cannot
    /// (stdout, a device).
    pub(super) fn restart(&mut self) -> Result<bool, FetchError> {
        let name = self.name();
        let file = match self {
            Sink::Atomic { file, .. } => file.file(),
            Sink::InPlace { file, dest } if dest.is_file() => file,
            Sink::Part { file, .. } => file,
            _ => return Ok(false),
        };
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .map_err(|e| FetchError::write(name, e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(limit: u64, secs: u64) -> StallLimits {
        StallLimits {
            idle: Some(DEFAULT_IDLE),
            speed_limit: Some(limit),
            speed_time: Duration::from_secs(secs),
        }
    }

    #[test]
    fn per_read_is_the_shorter_of_idle_and_the_speed_window() {
        assert_eq!(StallLimits::default().per_read(), Some(DEFAULT_IDLE));
        assert_eq!(limits(10, 5).per_read(), Some(Duration::from_secs(5)));
        let off = StallLimits {
            idle: None,
            ..StallLimits::default()
        };
        assert_eq!(off.per_read(), None);
        let short_idle = StallLimits {
            idle: Some(Duration::from_secs(2)),
            ..limits(10, 5)
        };
        assert_eq!(short_idle.per_read(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_trickle_below_the_limit_stalls_after_the_window() {
        let t0 = Instant::now();
        let mut check = SpeedCheck::new(&limits(100, 3), t0).expect("check");
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(!check.feed(at(1), 10));
        assert!(!check.feed(at(2), 10));
        assert!(check.feed(at(3), 10), "3 s below 100 B/s");
    }

    #[test]
    fn a_fast_second_resets_the_slow_stretch() {
        let t0 = Instant::now();
        let mut check = SpeedCheck::new(&limits(100, 3), t0).expect("check");
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(!check.feed(at(1), 10));
        assert!(!check.feed(at(2), 10));
        assert!(!check.feed(at(3), 1000), "a fast second");
        assert!(!check.feed(at(4), 10));
        assert!(!check.feed(at(5), 10));
        assert!(check.feed(at(7), 10));
        assert!(SpeedCheck::new(&StallLimits::default(), t0).is_none());
    }

    #[test]
    fn if_range_uses_a_strong_etag_else_last_modified() {
        let lm = Some("Tue, 01 Dec 2026 10:00:00 GMT");
        assert_eq!(
            Partial::validator_of(Some("\"v1\""), lm).as_deref(),
            Some("\"v1\"")
        );
        assert_eq!(Partial::validator_of(Some("W/\"v1\""), lm).as_deref(), lm);
        assert_eq!(Partial::validator_of(None, None), None);
    }
}
