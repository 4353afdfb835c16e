//! Cookies read straight from a browser's own cookie store, read-only, into [`Record`]s:
//! what `postie cookies import|list --from-browser` and `postie fetch --cookies-from-browser`
//! use. Linux stores of Firefox and the Chromium family.
//!
//! - [`profiles`]: which folder a `BROWSER[:PROFILE]` means (profiles.ini, Local State).
//! - [`firefox`]: `cookies.sqlite` (with its `-wal`) and the session store (mozLz4 JSON),
//!   where Firefox keeps session cookies.
//! - [`chromium`]: the `Cookies` database and its encrypted values ([`crypto`]).
//!
//! The browser's files are never written: databases are copied (with their `-wal`/`-shm`/
//! `-journal`) into a private temporary folder and read there, which also works while the
//! browser runs and holds its lock.

use std::path::{Path, PathBuf};

use super::Record;
use crate::exit::code;

pub mod chromium;
pub mod crypto;
pub mod firefox;
pub mod profiles;
mod sqlite;

/// The browsers whose stores postie reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Firefox,
    Chromium,
    Chrome,
    Brave,
    Edge,
    Vivaldi,
    Opera,
}

impl Browser {
    pub const NAMES: &[&str] = &[
        "firefox", "chromium", "chrome", "brave", "edge", "vivaldi", "opera",
    ];

    pub fn from_name(name: &str) -> Option<Browser> {
        Some(match name.to_ascii_lowercase().as_str() {
            "firefox" => Browser::Firefox,
            "chromium" => Browser::Chromium,
            "chrome" | "google-chrome" => Browser::Chrome,
            "brave" => Browser::Brave,
            "edge" | "msedge" => Browser::Edge,
            "vivaldi" => Browser::Vivaldi,
            "opera" => Browser::Opera,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Browser::Firefox => "firefox",
            Browser::Chromium => "chromium",
            Browser::Chrome => "chrome",
            Browser::Brave => "brave",
            Browser::Edge => "edge",
            Browser::Vivaldi => "vivaldi",
            Browser::Opera => "opera",
        }
    }
}

/// What to read: `BROWSER[:PROFILE][::CONTAINER]` plus the keyring settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserRequest {
    pub browser: Browser,
    /// A profile name, or a path to a profile folder (or to the browser's whole folder).
    pub profile: Option<String>,
    /// Firefox: the container (name or `userContextId`) whose cookies to read; `None`: the
    /// cookies outside any container.
    pub container: Option<String>,
    /// Chromium `v11`: a shell command that prints the keyring password.
    pub keyring_password_command: Option<String>,
}

impl BrowserRequest {
    /// Parses `BROWSER[:PROFILE][::CONTAINER]` (yt-dlp's form; `firefox::Work` is the default
    /// profile's "Work" container).
    pub fn parse(spec: &str) -> Result<BrowserRequest, BrowserError> {
        let (rest, container) = match spec.split_once("::") {
            Some((r, c)) => (r, Some(c.to_owned()).filter(|c| !c.is_empty())),
            None => (spec, None),
        };
        let (name, profile) = match rest.split_once(':') {
            Some((n, p)) => (n, Some(p.to_owned()).filter(|p| !p.is_empty())),
            None => (rest, None),
        };
        let browser = Browser::from_name(name).ok_or_else(|| BrowserError::UnknownBrowser {
            spec: spec.to_owned(),
        })?;
        if container.is_some() && browser != Browser::Firefox {
            return Err(BrowserError::Container {
                path: PathBuf::from(spec),
                why: "containers are Firefox's; other browsers have none".into(),
            });
        }
        Ok(BrowserRequest {
            browser,
            profile,
            container,
            keyring_password_command: None,
        })
    }
}

/// Errors reading a browser's cookies. Display names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("{spec}: unknown browser; expected BROWSER[:PROFILE] with BROWSER one of {}", Browser::NAMES.join(", "))]
    UnknownBrowser { spec: String },
    #[error(
        "cannot find the browser profile: HOME is not set; give the profile folder as a path (BROWSER:/path/to/profile)"
    )]
    NoHome,
    #[error("{}: no {browser} profile: {why}", path.display())]
    NoProfile {
        browser: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("{}: no cookie database here ({why}); is this the right profile folder? Start the browser once with it, or name another profile", path.display())]
    MissingDatabase { path: PathBuf, why: String },
    #[error("{}: cannot read the cookie database: {why}; close the browser or try again", path.display())]
    Database { path: PathBuf, why: String },
    #[error("{}: the cookie database is locked: {why}; close the browser and try again", path.display())]
    Locked { path: PathBuf, why: String },
    #[error("{}: unknown cookie database schema: {why}; this browser version is not supported yet", path.display())]
    Schema { path: PathBuf, why: String },
    #[error("{}: cannot read the session store (session cookies): {why}", path.display())]
    SessionStore { path: PathBuf, why: String },
    #[error("{}: cannot get the key of the encrypted cookie values: {why}; run postie inside the desktop session that runs the browser, or give --keyring-password-command CMD", path.display())]
    NoKey { path: PathBuf, why: String },
    #[error("{}: {count} cookie value(s) use app-bound encryption (v20), which only the browser itself can decrypt; export them from the browser instead", path.display())]
    AppBound { path: PathBuf, count: usize },
    #[error("{}: {why}", path.display())]
    Container { path: PathBuf, why: String },
}

impl BrowserError {
    pub fn exit_code(&self) -> u8 {
        match self {
            BrowserError::UnknownBrowser { .. } => code::USAGE,
            BrowserError::NoHome
            | BrowserError::NoKey { .. }
            | BrowserError::AppBound { .. }
            | BrowserError::Container { .. } => code::CONFIG,
            BrowserError::NoProfile { .. }
            | BrowserError::MissingDatabase { .. }
            | BrowserError::Database { .. }
            | BrowserError::Locked { .. }
            | BrowserError::Schema { .. }
            | BrowserError::SessionStore { .. } => code::READ,
        }
    }
}

/// The latest Unix time a jar line carries (9999-12-31T23:59:59Z): "never expires" values
/// of the browsers are clamped to it.
pub const MAX_EXPIRES: i64 = 253_402_300_799;

/// Reads the cookies of the profile `request` names: unexpired ones only, sorted by domain,
/// path and name, one per (domain, path, name).
pub fn read(request: &BrowserRequest) -> Result<Vec<Record>, BrowserError> {
    let profile = profiles::locate(request.browser, request.profile.as_deref())?;
    let records = match request.browser {
        Browser::Firefox => firefox::read(&profile, request.container.as_deref())?,
        other => chromium::read(&profile, other, request.keyring_password_command.as_deref())?,
    };
    Ok(tidy(records, super::jar::now()))
}

/// Drops expired cookies and later duplicates; sorts.
pub fn tidy(records: Vec<Record>, now: i64) -> Vec<Record> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Record> = records
        .into_iter()
        .filter(|r| !r.is_expired_at(now))
        .filter(|r| seen.insert(r.key()))
        .collect();
    out.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
    out
}

/// A cookie from a browser's `host`/`host_key` (a leading dot makes a domain cookie, sent
/// to subdomains), name, value, path (empty: `/`) and (secure, HttpOnly); a session cookie
/// until the caller sets `expires`.
pub fn host_record(host: &str, name: &str, value: &str, path: &str, flags: (bool, bool)) -> Record {
    let (domain, sub) = match host.strip_prefix('.') {
        Some(d) => (d, true),
        None => (host, false),
    };
    Record {
        include_subdomains: sub,
        path: if path.is_empty() { "/" } else { path }.to_owned(),
        secure: flags.0,
        http_only: flags.1,
        ..Record::new(&domain.to_ascii_lowercase(), name, value)
    }
}

/// A partitioned cookie (Chromium's `top_frame_site_key`, Firefox's `partitionKey`) is sent
/// only under its top-level site. A fetch's top-level site is the URL's own, so the cookies
/// partitioned under their own site are kept and those of other sites' frames dropped.
pub fn own_partition(cookie_host: &str, partition_site: &str) -> bool {
    let host = cookie_host.trim_start_matches('.').to_ascii_lowercase();
    let site = partition_site.to_ascii_lowercase();
    host == site || host.strip_suffix(&site).is_some_and(|h| h.ends_with('.'))
}

/// A private temporary folder holding copies of `files` (those that exist); the first one
/// must exist. Returns the folder and the copy of the first file.
fn private_copy(files: &[PathBuf]) -> Result<(tempfile::TempDir, PathBuf), BrowserError> {
    let main = &files[0];
    let database = |why: String| BrowserError::Database {
        path: main.clone(),
        why,
    };
    let dir = tempfile::Builder::new()
        .prefix("postie-browser-")
        .tempdir()
        .map_err(|e| database(format!("cannot make a temporary folder: {e}")))?;
    let mut first = None;
    for (i, f) in files.iter().enumerate() {
        let Some(name) = f.file_name() else { continue };
        let dest = dir.path().join(name);
        match std::fs::copy(f, &dest) {
            Ok(_) => {}
            Err(e) if i > 0 && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BrowserError::MissingDatabase {
                    path: main.clone(),
                    why: "no such file".into(),
                });
            }
            Err(e) => return Err(database(format!("cannot copy {}: {e}", f.display()))),
        }
        first.get_or_insert(dest);
    }
    let copy = first.ok_or_else(|| database("no file name".into()))?;
    Ok((dir, copy))
}

/// Writes `records` as a jar into an unnamed temporary file and returns the file with a
/// path that opens it (`/proc/self/fd/N`), for code that reads cookies from jar files. The
/// cookies never get a name on disk, so nothing is left behind however the run ends (an
/// interrupt included); the path works as long as the file is kept open.
pub fn temp_jar(records: &[Record]) -> Result<(std::fs::File, PathBuf), super::CookieError> {
    use std::io::{Seek, Write};
    use std::os::fd::AsRawFd;
    let what = Path::new("(temporary jar)");
    let fail = |e| super::CookieError::write(what, e);
    let mut file = tempfile::tempfile().map_err(fail)?;
    let mut out = std::io::BufWriter::new(&mut file);
    super::netscape::write(
        &mut out,
        records.iter().map(|r| r as &dyn super::netscape::Line),
    )
    .and_then(|()| out.flush())
    .map_err(fail)?;
    drop(out);
    file.rewind().map_err(fail)?;
    let fds = ["/proc/self/fd", "/dev/fd"]
        .into_iter()
        .map(Path::new)
        .find(|d| d.is_dir())
        .unwrap_or(Path::new("/dev/fd"));
    let path = fds.join(file.as_raw_fd().to_string());
    Ok((file, path))
}

/// `path` with `suffix` appended to its file name (`cookies.sqlite` → `cookies.sqlite-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_forms() {
        let r = BrowserRequest::parse("firefox").expect("parses");
        assert_eq!(
            (r.browser, r.profile, r.container),
            (Browser::Firefox, None, None)
        );
        let r = BrowserRequest::parse("Chrome:Profile 1").expect("parses");
        assert_eq!(
            (r.browser, r.profile.as_deref()),
            (Browser::Chrome, Some("Profile 1"))
        );
        let r = BrowserRequest::parse("firefox:/tmp/p::Work").expect("parses");
        assert_eq!(r.profile.as_deref(), Some("/tmp/p"));
        assert_eq!(r.container.as_deref(), Some("Work"));
        let r = BrowserRequest::parse("firefox::Work").expect("parses");
        assert_eq!((r.profile, r.container.as_deref()), (None, Some("Work")));
        let e = BrowserRequest::parse("netscape").expect_err("unknown");
        assert_eq!(e.exit_code(), code::USAGE);
        assert!(
            e.to_string().starts_with("netscape: unknown browser"),
            "{e}"
        );
        assert!(BrowserRequest::parse("chromium::Work").is_err());
    }

    #[test]
    fn tidy_drops_expired_and_duplicates() {
        let mut old = Record::new("a.example", "old", "1");
        old.expires = Some(99);
        let first = Record::new("b.example", "n", "first");
        let second = Record::new("b.example", "n", "second");
        let kept = tidy(vec![old, first.clone(), second], 100);
        assert_eq!(kept, vec![first]);
    }

    #[test]
    fn partitions() {
        assert!(own_partition(".example.com", "example.com"));
        assert!(own_partition("www.example.com", "example.com"));
        assert!(!own_partition("tracker.example", "example.com"));
        assert!(!own_partition("badexample.com", "example.com"));
    }
}

#[cfg(test)]
mod store_tests;
