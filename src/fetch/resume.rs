//! `-C -`: which file a download resumes, the Range it asks for, and what the server's
//! answer means (append, start over, already complete, or refuse).

use std::path::{Path, PathBuf};

use ureq::Body;
use ureq::http;

use super::show::header_value;
use super::{FetchConfig, FetchError};

/// How `-C -` applies to this job: the output file and how much of it exists.
#[derive(Debug, Default)]
pub(super) struct ResumePlan {
    pub(super) path: Option<PathBuf>,
    pub(super) offset: u64,
}

/// `planned` is the output file decided before connecting (none for stdout and `-J`).
pub(super) fn resume_plan(
    cfg: &FetchConfig,
    planned: Option<&Path>,
) -> Result<ResumePlan, FetchError> {
    let Some(path) = planned.filter(|_| cfg.resume) else {
        return Ok(ResumePlan::default());
    };
    let offset = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m.len(),
        _ => 0,
    };
    Ok(ResumePlan {
        path: Some(path.to_owned()),
        offset,
    })
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
