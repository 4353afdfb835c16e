//! The HTTP engine of `postie fetch`, over ureq 3, with HTTPS through the shared OpenSSL
//! client (`tls::http`: client certificates and pins on the connection itself).
//!
//! It owns: the request recipe (method, headers, bodies that can be re-sent on a redirect
//! or a retry, file parts streamed), our own redirect loop (curl -L's method rewriting,
//! Authorization dropped when the host changes), the cookie session on every hop, proxy
//! choice by scheme as curl does, retries, stall limits and resuming a stalled body
//! (`stall`), `--show-cert` (`certs`), streaming the body to stdout or to a file written
//! under a temporary name, resume and `--update` (`validators`), `-w` and `-v` output, and the mapping of every failure to
//! the exit-code table. It leaves out: flag parsing (`cli::fetch`), the cookie file format
//! (`cookies`), TLS settings (`tls`).

mod body;
mod certs;
mod error;
mod files;
mod form;
mod keepalive;
pub mod many;
mod output;
mod probe;
mod proxy;
mod resume;
mod retry;
mod show;
mod stall;
mod transfer;
mod validators;
mod writeout;

use std::path::PathBuf;
use std::time::Duration;

pub use body::{FormPart, PartContent, RequestBody, urlencode_component};
pub use error::FetchError;
pub use form::{FormClient, FormReply, FormValue};
pub use proxy::ProxySettings;
pub use show::mask_url;
pub use stall::{DEFAULT_IDLE, DEFAULT_SPEED_TIME, StallLimits};
pub use transfer::run;
pub use validators::{ValidatorStore, default_path as default_state_path};

use crate::cookies::CookieOptions;
use crate::secret::Secret;
use crate::tls::TlsOptions;

/// Where one URL's body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// stdout (the default).
    Stdout,
    /// `-o FILE` (`-` is stdout).
    File(PathBuf),
    /// `-O`: the last path segment of the URL (or, with `-J`, the Content-Disposition
    /// filename), in `dir` (`--output-dir`, or the current folder).
    RemoteName { dir: Option<PathBuf> },
}

/// One URL and where its body goes.
#[derive(Debug, Clone)]
pub struct Job {
    pub url: String,
    pub output: OutputTarget,
}

/// Credentials for HTTP basic authentication.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// `-u user:password` (the password resolved by the CLI layer).
    Basic {
        user: String,
        password: Secret,
    },
    /// `--netrc` / `--netrc-file`: the file, read once; each hop looks its host up.
    Netrc(crate::netrc::Netrc),
    /// `--oauth2-bearer` / `--bearer-*`: `Authorization: Bearer TOKEN` (first origin only).
    Bearer(Secret),
}

/// Everything one `postie fetch` run needs, validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub jobs: Vec<Job>,
    /// `-X`: the method to use (else GET, POST with a body, HEAD with `-I`).
    pub method: Option<String>,
    pub body: RequestBody,
    /// `-I`: HEAD, print the headers.
    pub head: bool,
    /// Extra headers in order; `None` removes a default header (`-H "Name:"`).
    pub headers: Vec<(String, Option<String>)>,
    pub auth: Auth,
    /// Follow redirects (default true; `--no-follow` turns it off).
    pub follow: bool,
    pub max_redirs: u32,
    /// `-i`: write the response headers before the body.
    pub include: bool,
    /// `-f`: no body and exit 22 on status >= 400.
    pub fail: bool,
    /// `--fail-with-body`: the body, then exit 22 on status >= 400.
    pub fail_with_body: bool,
    pub silent: bool,
    pub show_error: bool,
    pub verbose: bool,
    /// `-w FORMAT`.
    pub write_out: Option<String>,
    pub max_time: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub retry: u32,
    /// `--idle-timeout`, `-Y`, `-y`.
    pub stall: StallLimits,
    /// `--show-cert`: print the servers' certificate chains instead of fetching.
    pub show_cert: bool,
    /// Upper bound of one backoff wait (tests shorten it).
    pub retry_max_wait: Duration,
    pub proxy: ProxySettings,
    pub tls: TlsOptions,
    /// `--raw`: do not ask for compressed content.
    pub raw: bool,
    pub cookies: CookieOptions,
    /// `-C -`: resume into `FILE.part` left by an earlier run, else the existing file.
    pub resume: bool,
    /// `--update`: conditional requests from, and validators saved to, this store; bodies
    /// go to `FILE.part` so a run that dies can be resumed.
    pub update: Option<ValidatorStore>,
    /// `-J`: take the file name from Content-Disposition.
    pub remote_header_name: bool,
    /// `--clobber`: `-O`/`-J` may replace an existing file.
    pub clobber: bool,
    /// Issue 19's file and header options, in one block.
    pub files: FileOptions,
    /// What the transfers of a many-URL run share with its scheduler (`many`); the
    /// default for a one-by-one run.
    pub many: many::Hooks,
}

impl FetchConfig {
    /// Whether an existing output file may be replaced or continued without `--clobber`.
    pub(crate) fn continues(&self) -> bool {
        self.resume || self.update.is_some()
    }
}

/// `-D`, `--create-dirs`, `-nc`, `-R` and `-U`.
#[derive(Debug, Clone, Default)]
pub struct FileOptions {
    /// `-D FILE`: every hop's response headers go there (`-` is stdout).
    pub dump_header: Option<PathBuf>,
    /// `--create-dirs`: create the missing folders of an output file.
    pub create_dirs: bool,
    /// `-nc`: skip a URL whose output file exists.
    pub no_clobber: bool,
    /// `-R`: the file's mtime from Last-Modified.
    pub remote_time: bool,
    /// `-U`: proxy credentials.
    pub proxy_user: Option<(String, Secret)>,
    /// Output files are renamed into place without an fsync each (a run of many URLs
    /// without `--fsync`): atomic for readers and against the process dying, durable at the
    /// system's pace as with curl and wget. One download is fsynced before it is named.
    /// A power cut can then leave a named file shorter than it was: `--update` notices
    /// (the store keeps each file's size) and fetches it again whole.
    pub unsynced: bool,
}

/// One extra request header from `Name: value` parts (`-H`, a url-file line's `headers`):
/// the name a token, the value without CR, LF, NUL or other control characters, both
/// trimmed; an empty value removes a default header (`None`). The error is the reason.
pub fn header_pair(name: &str, value: &str) -> Result<(String, Option<String>), &'static str> {
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err("bad header name");
    }
    if value.contains(['\r', '\n', '\0']) {
        return Err("CR, LF or NUL in the value");
    }
    let value = value.trim();
    if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err()
        || ureq::http::HeaderValue::from_str(value).is_err()
    {
        return Err("not a valid header (a token name; no control characters in the value)");
    }
    Ok((
        name.to_owned(),
        (!value.is_empty()).then(|| value.to_owned()),
    ))
}

#[cfg(test)]
mod header_tests {
    use super::header_pair;

    #[test]
    fn header_pairs_are_checked_and_trimmed() {
        assert_eq!(
            header_pair(" X-A ", " 1 "),
            Ok(("X-A".into(), Some("1".into())))
        );
        assert_eq!(header_pair("Accept", ""), Ok(("Accept".into(), None)));
        assert_eq!(header_pair("", "x"), Err("bad header name"));
        assert_eq!(header_pair("X A", "x"), Err("bad header name"));
        assert_eq!(
            header_pair("X-A", "a\r\nB: c"),
            Err("CR, LF or NUL in the value")
        );
        assert!(header_pair("X(A)", "x").is_err());
        assert!(header_pair("X-A", "bell\u{7}").is_err());
    }
}
