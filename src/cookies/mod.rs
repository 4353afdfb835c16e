//! Cookies for `postie fetch`: the Netscape cookies.txt format and the jar. (Stub: being built.)
//!
//! The interface the HTTP engine uses is [`CookieSession`]: open it from [`CookieOptions`],
//! ask it for the `Cookie` header of each request (every redirect hop), hand it the
//! `Set-Cookie` values of each response, and `finish` it to save. The HTTP engine knows
//! nothing about files or formats.

use std::path::PathBuf;

use crate::error::code;

/// Errors of the cookie jar.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    #[error("cookies: not implemented yet")]
    NotImplemented,
}

impl CookieError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CookieError::NotImplemented => code::FAILED,
        }
    }
}

/// Where cookies are read from (`-b`): a jar file or a literal `NAME=VALUE; NAME2=VALUE2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieSource {
    File(PathBuf),
    Literal(String),
}

/// The cookie settings of one `postie fetch` run (built by the CLI layer).
#[derive(Debug, Clone, Default)]
pub struct CookieOptions {
    /// `-b/--cookie`, in order.
    pub sources: Vec<CookieSource>,
    /// `-c/--cookie-jar`: where to write every cookie at the end.
    pub save_to: Option<PathBuf>,
    /// `--jar`: load if it exists, save back to it.
    pub jar: Option<PathBuf>,
    /// `--discard-session`: leave session cookies out when saving.
    pub discard_session: bool,
    /// `-j/--junk-session-cookies`: drop session cookies read from files.
    pub junk_session: bool,
}

/// The cookie state of one run, driven by the HTTP engine on every hop.
#[derive(Debug)]
pub struct CookieSession {
    options: CookieOptions,
}

impl CookieSession {
    /// Loads what `options` says to load.
    pub fn open(options: CookieOptions) -> Result<CookieSession, CookieError> {
        Ok(CookieSession { options })
    }

    /// The value of the `Cookie` header for a request to `url`, if any cookie matches.
    pub fn request_header(&self, _url: &url::Url) -> Option<String> {
        None
    }

    /// Takes the `Set-Cookie` header values of a response from `url`.
    pub fn store_response<'a>(
        &mut self,
        _url: &url::Url,
        _set_cookie: impl Iterator<Item = &'a str>,
    ) {
    }

    /// Saves the jar where the options say (atomic, 0600, merged under a lock).
    pub fn finish(self) -> Result<(), CookieError> {
        let _ = self.options;
        Ok(())
    }
}
