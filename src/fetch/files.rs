//! File management around a download: the output path decided before connecting (so `-O`
//! names the file after the URL the user gave, never after a redirect target), `-nc`,
//! `--create-dirs`, `-R` (mtime from Last-Modified) and `-D` (headers to a file).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ureq::Body;
use ureq::http;

use super::output;
use super::{FetchConfig, FetchError, Job, OutputTarget};

/// The file a job writes, known before any request: `-o FILE`, or `-O`'s name from the
/// URL as given (None for stdout and for `-J`, whose name comes with the response).
pub(super) fn planned_path(
    cfg: &FetchConfig,
    job: &Job,
    first: &url::Url,
) -> Result<Option<PathBuf>, FetchError> {
    match &job.output {
        OutputTarget::File(p) if p.as_os_str() != "-" => Ok(Some(p.clone())),
        OutputTarget::RemoteName { dir } if !cfg.remote_header_name => {
            remote_path(dir.as_ref(), first, &job.url).map(Some)
        }
        _ => Ok(None),
    }
}

/// `-O`'s path: the last path segment of the URL the user gave, in `dir`.
pub(super) fn remote_path(
    dir: Option<&PathBuf>,
    url: &url::Url,
    raw: &str,
) -> Result<PathBuf, FetchError> {
    let name = output::remote_name(url).ok_or_else(|| {
        // `-O page.html URL` (wget's habit) lands here: page.html became a URL.
        let why = if raw.contains("://") {
            "no file name in the URL for -O (use -o FILE)".to_owned()
        } else {
            format!(
                "no file name in the URL for -O; -O takes no file name (it names the file \
                 after the URL): to choose the name, use -o {raw}"
            )
        };
        FetchError::write(
            super::mask_url(raw),
            io::Error::new(io::ErrorKind::InvalidInput, why),
        )
    })?;
    Ok(dir.map_or_else(|| PathBuf::from(&name), |d| d.join(&name)))
}

/// Before connecting: `-nc` skips a URL whose output file exists (true, with a note on
/// stderr); `-O` refuses to replace an existing file unless `--clobber` (or `-C -`).
pub(super) fn skip_existing(
    cfg: &FetchConfig,
    job: &Job,
    path: Option<&Path>,
) -> Result<bool, FetchError> {
    let refuses =
        matches!(job.output, OutputTarget::RemoteName { .. }) && !cfg.clobber && !cfg.continues();
    // No rule can apply: no stat (a many-URL run would make one per URL for nothing).
    if !cfg.files.no_clobber && !refuses {
        return Ok(false);
    }
    let Some(path) = path.filter(|p| p.is_file()) else {
        return Ok(false);
    };
    if cfg.files.no_clobber {
        if !cfg.silent {
            eprintln!(
                "postie: {}: already there; not retrieving {} (--no-clobber)",
                path.display(),
                super::mask_url(&job.url)
            );
        }
        return Ok(true);
    }
    if refuses {
        return Err(FetchError::write(
            path.display().to_string(),
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "refusing to overwrite an existing file (use --clobber)",
            ),
        ));
    }
    Ok(false)
}

/// `--create-dirs`: the missing folders above `path`.
pub(super) fn create_parent(cfg: &FetchConfig, path: &Path) -> Result<(), FetchError> {
    let parent = crate::fsutil::parent_dir(path);
    if !cfg.files.create_dirs || parent.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(parent).map_err(|e| FetchError::write(parent.display().to_string(), e))
}

/// The Last-Modified time of a response, for `-R`.
pub(super) fn last_modified(resp: &http::Response<Body>) -> Option<std::time::SystemTime> {
    let value = resp
        .headers()
        .get(http::header::LAST_MODIFIED)?
        .to_str()
        .ok()?;
    http_date(value).map(std::time::SystemTime::from)
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, the form RFC 9110 requires senders to use).
fn http_date(value: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc2822).ok()
}

/// `-R`: sets the finished file's modification time.
pub(super) fn set_mtime(path: &Path, time: std::time::SystemTime) -> Result<(), FetchError> {
    let err = |e| FetchError::write(path.display().to_string(), e);
    let file = OpenOptions::new().write(true).open(path).map_err(err)?;
    file.set_modified(time).map_err(err)
}

/// `-D FILE`: starts the file empty at the beginning of the run (each transfer appends).
pub(super) fn start_dump(cfg: &FetchConfig) -> Result<(), FetchError> {
    match &cfg.files.dump_header {
        Some(p) if p.as_os_str() != "-" => File::create(p)
            .map(drop)
            .map_err(|e| FetchError::write(p.display().to_string(), e)),
        _ => Ok(()),
    }
}

/// `-D`: appends one transfer's header blocks.
pub(super) fn dump_headers(cfg: &FetchConfig, blocks: &[&str]) -> Result<(), FetchError> {
    let Some(path) = &cfg.files.dump_header else {
        return Ok(());
    };
    let err = |e| FetchError::write(path.display().to_string(), e);
    let mut out: Box<dyn Write> = if path.as_os_str() == "-" {
        Box::new(io::stdout().lock())
    } else {
        Box::new(OpenOptions::new().append(true).open(path).map_err(err)?)
    };
    for b in blocks {
        out.write_all(b.as_bytes()).map_err(err)?;
    }
    out.flush().map_err(err)
}
