//! `-C -` and `--update`: which file a download resumes (`FILE.part` left by an earlier
//! run, or for `-C -` the output file itself as curl), the Range, `If-Range` and conditional
//! headers it asks with, what the server's answer means (append, start over, already
//! complete, or refuse), and the `.part` file a resumable download is written to.

use std::path::{Path, PathBuf};

use ureq::Body;
use ureq::http;

use super::output::{PartFile, Sink};
use super::show::header_value;
use super::stall::copy_body;
use super::validators::{Complete, Entry, Part, key_of, part_path};
use super::writeout::TransferInfo;
use super::{FetchConfig, FetchError, Job};

/// How `-C -` and `--update` apply to this job.
#[derive(Debug, Default)]
pub(super) struct ResumePlan {
    /// The file a 206 appends to: `FILE.part`, or with `-C -` the output file itself.
    pub(super) path: Option<PathBuf>,
    pub(super) offset: u64,
    /// The body goes to `part`, renamed over `dest` once complete (None: as without flags).
    pub(super) part: Option<PartFile>,
    /// The stored validator of the part being resumed, for `If-Range`.
    pub(super) if_range: Option<String>,
    /// `--update`: the store key of the output file and what the store says of it.
    pub(super) key: Option<String>,
    pub(super) entry: Entry,
    /// `--update`: If-None-Match / If-Modified-Since for the first request.
    pub(super) conditional: Vec<(String, String)>,
    /// The URL as the user gave it (what the store records).
    pub(super) url: String,
    /// Whether `FILE.part` was there when the plan was made (a 304 removes it).
    pub(super) part_found: bool,
}

fn regular_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
}

/// `planned` is the output file decided before connecting (none for stdout and `-J`).
pub(super) fn resume_plan(
    cfg: &FetchConfig,
    job: &Job,
    planned: Option<&Path>,
) -> Result<ResumePlan, FetchError> {
    let update = cfg.update.as_ref();
    let Some(path) = planned.filter(|_| cfg.resume || update.is_some()) else {
        return Ok(ResumePlan::default());
    };
    // One stat of the file and one of its part per URL: a rerun of 10,000 pages that are
    // all 304 spends a sixth of its CPU time in stat.
    let meta = std::fs::metadata(path).ok();
    // A device or a pipe is written in place, as without the flags.
    if meta.as_ref().is_some_and(|m| !m.is_file()) {
        return Ok(ResumePlan::default());
    }
    let key = update.map(|_| key_of(path));
    let entry = match (update, &key) {
        (Some(store), Some(k)) => store.get(k, meta.is_some()),
        _ => Entry::default(),
    };
    let part = part_path(path);
    let stored_part = entry.part.as_ref().filter(|p| p.url == job.url);
    // `--update` resumes only a part it recorded (one it knows nothing of is written over
    // from byte 0), so it looks for `FILE.part` only when the store has a record of one,
    // for this URL (to resume) or another (for a 304 to remove). A part it has no record of
    // (a run killed in its first MiB) stays beside a file answered 304, until the next 200
    // for that file writes over it: looking for one would cost a system call per URL.
    let part_len = if update.is_none() || entry.part.is_some() {
        regular_len(&part)
    } else {
        None
    };
    let mut plan = ResumePlan {
        part: Some(PartFile {
            part: part.clone(),
            dest: path.to_owned(),
            durable: !cfg.files.unsynced,
        }),
        conditional: conditional_headers(entry.complete.as_ref(), &job.url, meta.as_ref()),
        key,
        url: job.url.clone(),
        part_found: part_len.is_some(),
        ..ResumePlan::default()
    };
    let update = update.is_some();
    let from = resume_point(
        part_len,
        stored_part,
        update,
        meta.as_ref().map(|m| m.len()),
    );
    if let Some((offset, in_part, if_range)) = from {
        plan.path = Some(if in_part { part } else { path.to_owned() });
        plan.offset = offset;
        plan.if_range = if_range;
    }
    plan.entry = entry;
    Ok(plan)
}

/// Where a download resumes: (offset, in `FILE.part` rather than the file itself, the
/// `If-Range` validator), or None to start from byte 0.
fn resume_point(
    part_len: Option<u64>,
    stored_part: Option<&Part>,
    update: bool,
    file_len: Option<u64>,
) -> Option<(u64, bool, Option<String>)> {
    match (part_len, stored_part) {
        // Without a recorded validator an `--update` cannot tell whether the part is still
        // the same resource: it starts over. `-C -` resumes anyway, as curl.
        (Some(len), Some(p)) if len > 0 => Some((len, true, Some(p.if_range.clone()))),
        (Some(len), None) if len > 0 && !update => Some((len, true, None)),
        _ if !update => file_len.map(|len| (len, false, None)),
        _ => None,
    }
}

/// `--update`'s If-None-Match and If-Modified-Since: only when the file is there as the last
/// download left it (same URL, size and mtime), as wget -N looks at the local file first.
fn conditional_headers(
    complete: Option<&Complete>,
    url: &str,
    meta: Option<&std::fs::Metadata>,
) -> Vec<(String, String)> {
    let Some(c) = complete.filter(|c| c.url == url) else {
        return Vec::new();
    };
    let Some(meta) = meta else {
        return Vec::new();
    };
    if !meta.is_file()
        || meta.len() != c.size
        || c.mtime_ns.is_some_and(|m| Some(m) != mtime_ns(meta))
    {
        return Vec::new();
    }
    let mut headers = Vec::new();
    if let Some(etag) = &c.etag {
        headers.push(("If-None-Match".to_owned(), etag.clone()));
    }
    if let Some(lm) = &c.last_modified {
        headers.push(("If-Modified-Since".to_owned(), lm.clone()));
    }
    headers
}

/// A file's mtime in nanoseconds since the epoch.
pub(super) fn mtime_ns(meta: &std::fs::Metadata) -> Option<i128> {
    use std::os::unix::fs::MetadataExt;
    Some(i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()))
}

/// How much of a body is on disk before `--update` records its part in the state file: a
/// run killed before that starts over (a save per small page would cost more than it saves).
const RECORD_AFTER: u64 = 1024 * 1024;

/// The validators of a final response.
#[derive(Debug)]
pub(super) struct Fresh {
    etag: Option<String>,
    last_modified: Option<String>,
    /// The whole resource's size: Content-Range's total for a 206, else Content-Length.
    pub(super) total: Option<u64>,
}

impl Fresh {
    pub(super) fn of(resp: &http::Response<Body>) -> Fresh {
        let total = match content_range(resp) {
            Some((_, total)) if resp.status().as_u16() == 206 => total,
            _ => header_value(resp, "content-length").and_then(|v| v.trim().parse().ok()),
        };
        Fresh {
            etag: header_value(resp, "etag").map(str::to_owned),
            last_modified: header_value(resp, "last-modified").map(str::to_owned),
            total,
        }
    }
}

/// `--update`: a 304 leaves the file as it is (same inode, same mtime). The store keeps
/// what the 304 did not say (curl empties its etag file on a 304 without an ETag, #15728),
/// and a part the store recorded (of another version, or for another URL) is removed.
pub(super) fn not_modified(
    cfg: &FetchConfig,
    resume: &ResumePlan,
    resp: &http::Response<Body>,
    info: &mut TransferInfo,
) -> Result<(), FetchError> {
    info.not_modified = true;
    let Some(part) = &resume.part else {
        return Ok(());
    };
    info.filename_effective = Some(part.dest.display().to_string());
    if cfg.verbose {
        eprintln!("* 304 Not Modified: {} left as it is", part.dest.display());
    }
    if resume.part_found {
        std::fs::remove_file(&part.part)
            .map_err(|e| FetchError::write(part.part.display().to_string(), e))?;
    }
    let (Some(store), Some(key)) = (&cfg.update, &resume.key) else {
        return Ok(());
    };
    let fresh = Fresh::of(resp);
    store.update(key, |entry| {
        entry.part = None;
        if let Some(c) = entry.complete.as_mut() {
            c.etag = fresh.etag.or(c.etag.take());
            c.last_modified = fresh.last_modified.or(c.last_modified.take());
        }
    });
    Ok(())
}

/// What `--update` records of a part being written: its `If-Range` validator and total;
/// None when it cannot be resumed safely (no validator) or is recorded already.
pub(super) fn part_record(
    resume: &ResumePlan,
    validator: Option<&str>,
    total: Option<u64>,
) -> Option<Part> {
    resume.key.as_ref()?;
    let record = Part {
        url: resume.url.clone(),
        if_range: validator?.to_owned(),
        total,
    };
    (resume.entry.part.as_ref() != Some(&record)).then_some(record)
}

/// Copies the body; with `--update`, once [`RECORD_AFTER`] bytes of a `.part` are on disk
/// the state file learns what the part is, so a run killed from then on can resume it.
pub(super) fn copy_recording(
    (cfg, resume, record): (&FetchConfig, &ResumePlan, Option<Part>),
    url: &str,
    reader: &mut dyn std::io::Read,
    sink: &mut Sink,
    written: &mut u64,
    bar: &indicatif::ProgressBar,
) -> Result<(), FetchError> {
    use std::io::Read as _;
    let target = (cfg.update.as_ref(), resume.key.as_ref(), record);
    let (Some(store), Some(key), Some(record)) = target else {
        return copy_body(url, reader, sink, &cfg.stall, written, bar);
    };
    if !matches!(sink, Sink::Part { .. }) {
        return copy_body(url, reader, sink, &cfg.stall, written, bar);
    }
    let before = *written;
    copy_body(
        url,
        &mut reader.take(RECORD_AFTER),
        sink,
        &cfg.stall,
        written,
        bar,
    )?;
    if *written - before < RECORD_AFTER {
        return Ok(());
    }
    store.update(key, |entry| entry.part = Some(record));
    store.save()?;
    copy_body(url, reader, sink, &cfg.stall, written, bar)
}

/// `--update`: after a complete download, what the file now is: a 2xx's validators, a
/// 416 that completed a part takes the part's, anything else none (fetched whole next time).
pub(super) fn record_complete(
    cfg: &FetchConfig,
    resume: &ResumePlan,
    (fresh, status): (Fresh, u16),
    file: Option<&Path>,
) {
    let (Some(store), Some(key), Some(file)) = (&cfg.update, &resume.key, file) else {
        return;
    };
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    let (etag, last_modified) = match (status, &resume.entry.part) {
        (200..=299, _) => (fresh.etag, fresh.last_modified),
        (416, Some(p)) if p.if_range.starts_with('"') => (Some(p.if_range.clone()), None),
        (416, Some(p)) => (None, Some(p.if_range.clone())),
        _ => (None, None),
    };
    let complete = Complete {
        url: resume.url.clone(),
        etag,
        last_modified,
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
    };
    store.set(
        key,
        Entry {
            complete: Some(complete),
            part: None,
        },
    );
}

/// `Content-Range: bytes START-END/TOTAL` → (START, TOTAL); `bytes */TOTAL` → (None, TOTAL).
fn content_range(resp: &http::Response<Body>) -> Option<(Option<u64>, Option<u64>)> {
    let v = header_value(resp, "content-range")?.trim();
    let spec = v.strip_prefix("bytes")?.trim();
    let (range, total) = spec.split_once('/')?;
    let start = range.split('-').next().and_then(|s| s.trim().parse().ok());
    Some((start, total.trim().parse().ok()))
}

/// What a response means for a `-C -` download.
pub(super) enum Resume {
    /// 206 from the right offset: append.
    Append,
    /// No resume asked, or the server sent the whole body (200): write it all.
    Replace,
    /// 416 with a total equal to the file's size: nothing to do.
    AlreadyComplete,
}

pub(super) fn resume_outcome(
    resp: &http::Response<Body>,
    resume: &ResumePlan,
    url: &str,
) -> Result<Resume, FetchError> {
    if resume.offset == 0 {
        return Ok(Resume::Replace);
    }
    let range_error = |why: String| FetchError::Range {
        url: url.to_owned(),
        why,
    };
    match (resp.status().as_u16(), content_range(resp)) {
        (206, Some((Some(start), _))) if start == resume.offset => Ok(Resume::Append),
        (206, _) => Err(range_error(format!(
            "the server's Content-Range does not start at byte {}",
            resume.offset
        ))),
        (416, Some((None, Some(total)))) if total == resume.offset => Ok(Resume::AlreadyComplete),
        (416, _) => Err(range_error("the server refused the range (416)".into())),
        (200..=299, _) => Ok(Resume::Replace),
        // An error page must not be appended to (or replace) the partial file.
        (status, _) => Err(FetchError::HttpStatus {
            url: url.to_owned(),
            status,
        }),
    }
}
