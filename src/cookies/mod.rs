//! Cookies for `postie fetch`: the Netscape cookies.txt format and the jar.
//!
//! - [`netscape`]: the file format, pure (parse a line, write a line).
//! - [`jar`]: files: read with warnings, lock, merge, atomic 0600 save; conversion to and
//!   from `cookie_store` cookies; the public-suffix test.
//! - `pending`: cookies read from files, waiting by domain until a request needs them (as
//!   byte ranges into the file's text).
//! - [`session`]: [`session::SessionState`], a run's cookies: curl's rules over
//!   `cookie_store`, the load-merge-save of the jar.
//! - `shared`: [`CookieSession`], the interface the HTTP engine uses, a handle that every
//!   transfer of a run (parallel ones included) clones: open it from [`CookieOptions`], ask it
//!   for the `Cookie` header of each request (every redirect hop), hand it the `Set-Cookie`
//!   values of each response, `save` it mid-run, and `finish` it to save. The HTTP engine
//!   knows nothing about files or formats.
//!
//! HTTP itself, and the `postie cookies` listing and conversion, live elsewhere (the
//! `fetch` engine, `cli::cookies`).

use std::io;
use std::path::{Path, PathBuf};

use crate::exit::code;

pub mod browser;
pub mod jar;
pub mod netscape;
mod pending;
pub mod session;
mod shared;

pub use netscape::Record;
pub use shared::CookieSession;

/// Errors of the cookie jar. Display is `<file>: <why>`.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// A cookie file could not be read (a missing `-b` file included).
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// A cookie file that must exist (`-b FILE`, `postie cookies list --jar FILE`) does not.
    #[error("{}: no such cookie file", path.display())]
    Missing { path: PathBuf },
    /// A cookie file is not in the format expected (cookie_store JSON on import).
    #[error("{}: {why}", path.display())]
    Format { path: PathBuf, why: String },
    /// The jar could not be written.
    #[error("{}: cannot save the cookie jar: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The jar's lock file could not be created or locked.
    #[error("{}: cannot lock the cookie jar: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
}

impl CookieError {
    pub fn read(path: &Path, source: io::Error) -> CookieError {
        CookieError::Read {
            path: path.to_owned(),
            source,
        }
    }

    pub fn write(path: &Path, source: io::Error) -> CookieError {
        CookieError::Write {
            path: path.to_owned(),
            source,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CookieError::Read { .. } | CookieError::Missing { .. } | CookieError::Format { .. } => {
                code::READ
            }
            CookieError::Write { .. } | CookieError::Lock { .. } => code::WRITE,
        }
    }
}

/// Where cookies are read from (`-b`): a jar file or a literal `NAME=VALUE; NAME2=VALUE2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieSource {
    File(PathBuf),
    Literal(String),
}

impl CookieSource {
    /// curl's rule for a `-b` argument: with a `=` it is literal cookies, else a file name
    /// (`-` is stdin).
    pub fn from_arg(arg: &str) -> CookieSource {
        if arg.contains('=') {
            CookieSource::Literal(arg.to_owned())
        } else {
            CookieSource::File(PathBuf::from(arg))
        }
    }
}

/// The cookie settings of one `postie fetch` run (built by the CLI layer).
#[derive(Debug, Clone, Default)]
pub struct CookieOptions {
    /// `-b/--cookie`, in order.
    pub sources: Vec<CookieSource>,
    /// `-c/--cookie-jar`: where to write every cookie at the end (`-` is stdout).
    pub save_to: Option<PathBuf>,
    /// `--jar`: load if it exists, save back to it.
    pub jar: Option<PathBuf>,
    /// `--discard-session`: leave session cookies out when saving.
    pub discard_session: bool,
    /// `-j/--junk-session-cookies`: drop session cookies read from files.
    pub junk_session: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b_argument_is_literal_with_an_equals_sign() {
        assert_eq!(
            CookieSource::from_arg("a=1; b=2"),
            CookieSource::Literal("a=1; b=2".into())
        );
        assert_eq!(
            CookieSource::from_arg("jar.txt"),
            CookieSource::File("jar.txt".into())
        );
    }
}
