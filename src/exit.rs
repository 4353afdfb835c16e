//! The one exit-code table of the whole tool, [`Exit`], and the walk along an error's
//! `source()` chain. A leaf: every module may import it, and it imports nothing of postie.
//!
//! Each module has its own error type with kinds (thiserror); each maps its kinds to a code
//! from [`code`]. The README repeats the table.

use std::io;

/// Exit codes. curl's numbers where curl has one for the same failure; sysexits(3) numbers
/// (as msmtp and mpop use them) for mail outcomes that curl has no word for.
pub mod code {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// A failure with no more specific code; also: a batch finished but some items failed
    /// (each was reported on stderr or in the JSON output).
    pub const FAILED: u8 = 1;
    /// Usage error: bad flags or flag values (clap's own code).
    pub const USAGE: u8 = 2;
    /// A URL is malformed or its scheme is not supported (curl 3).
    pub const URL_MALFORMED: u8 = 3;
    /// The proxy's host name could not be resolved (curl 5).
    pub const PROXY_RESOLVE: u8 = 5;
    /// The host name could not be resolved (curl 6).
    pub const RESOLVE: u8 = 6;
    /// The connection was refused or could not be made (curl 7).
    pub const CONNECT: u8 = 7;
    /// The server sent something that does not follow the protocol (curl 8).
    pub const PROTOCOL: u8 = 8;
    /// The transfer ended before all the data arrived (curl 18).
    pub const PARTIAL: u8 = 18;
    /// HTTP status >= 400 with `--fail` (curl 22).
    pub const HTTP_ERROR: u8 = 22;
    /// A local file or stdout could not be written: disk full, no such folder... (curl 23).
    pub const WRITE: u8 = 23;
    /// A local input file could not be read (curl 26).
    pub const READ: u8 = 26;
    /// A timeout expired (curl 28).
    pub const TIMEOUT: u8 = 28;
    /// The server did not honour a range request correctly (curl 33).
    pub const RANGE: u8 = 33;
    /// The TLS handshake failed (curl 35).
    pub const TLS: u8 = 35;
    /// The local client certificate or its key could not be used (curl 58).
    pub const CLIENT_CERT: u8 = 58;
    /// Too many redirects (curl 47).
    pub const TOO_MANY_REDIRECTS: u8 = 47;
    /// The server closed the connection without replying (curl 52).
    pub const EMPTY_REPLY: u8 = 52;
    /// The server's certificate could not be verified (curl 60).
    pub const TLS_VERIFY: u8 = 60;
    /// The server's public key does not match `--pinnedpubkey` / `tls_fingerprint` (curl 90).
    pub const PINNED: u8 = 90;
    /// The content encoding of a response could not be decoded (curl 61).
    pub const BAD_ENCODING: u8 = 61;
    /// Sendmail mode only: a usage error (unknown option, no recipient), EX_USAGE as
    /// sendmail's; `postie` itself keeps clap's 2.
    pub const SENDMAIL_USAGE: u8 = 64;
    /// The mail server permanently rejected the sender, a recipient or the message (5xx)
    /// (EX_DATAERR, as msmtp).
    pub const REJECTED: u8 = 65;
    /// The server lacks what is required: STARTTLS/STLS or AUTH not offered, service
    /// unavailable, a permanent server-side failure (EX_UNAVAILABLE).
    pub const UNAVAILABLE: u8 = 69;
    /// A temporary refusal: retry later (SMTP 4xx, POP3 `[IN-USE]`, `[LOGIN-DELAY]`,
    /// `[SYS/TEMP]`) (EX_TEMPFAIL).
    pub const TEMPFAIL: u8 = 75;
    /// Authentication failed (EX_NOPERM).
    pub const AUTH: u8 = 77;
    /// A configuration postie refuses: unreadable or unsafe config file, unknown account,
    /// no password source, credentials over an unencrypted connection (EX_CONFIG).
    pub const CONFIG: u8 = 78;
    /// Interrupted by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

/// The exit status of a command that ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(u8);

impl Exit {
    /// Everything worked.
    pub const SUCCESS: Exit = Exit(code::OK);
    /// A batch ran to its end but some items failed; each was reported.
    pub const SOME_FAILED: Exit = Exit(code::FAILED);

    /// An exit status with a code from [`code`].
    pub const fn with_code(code: u8) -> Exit {
        Exit(code)
    }

    /// The process exit code.
    pub const fn code(self) -> u8 {
        self.0
    }

    /// `SUCCESS` when `ok`, else `SOME_FAILED`.
    pub const fn from_all_ok(ok: bool) -> Exit {
        if ok { Exit::SUCCESS } else { Exit::SOME_FAILED }
    }
}

/// The worst of several outcomes' exit codes (`pop3 pull --all-accounts`): a failure that
/// needs the user (configuration, authentication, TLS, protocol: any other code) is worse
/// than one that retrying may fix (TEMPFAIL, CONNECT, TIMEOUT, RESOLVE), which is worse than
/// some messages failing (FAILED), which is worse than OK. Between equals the first wins.
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    let rank = |c: u8| match c {
        code::OK => 0,
        code::FAILED => 1,
        code::TEMPFAIL | code::CONNECT | code::TIMEOUT | code::RESOLVE => 2,
        _ => 3,
    };
    codes.into_iter().fold(
        code::OK,
        |worst, c| {
            if rank(c) > rank(worst) { c } else { worst }
        },
    )
}

/// `err` and every error in its `source()` chain, outermost first.
pub fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

/// True when `err` or any error in its `source()` chain is an `io::Error` of kind BrokenPipe.
pub fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    chain(err).any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_code_is_the_first_of_the_highest_rank() {
        assert_eq!(worst([]), 0);
        assert_eq!(worst([0, 1, 0]), 1);
        assert_eq!(worst([1, 75, 7]), 75);
        assert_eq!(worst([75, 77, 78, 1]), 77);
        assert_eq!(worst([28, 0]), 28);
    }

    /// An error whose `source()` is an `io::Error`, as the modules' thiserror types are.
    #[derive(Debug)]
    struct Wrapped(io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stdout")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn broken_pipe_is_found_through_the_chain() {
        let pipe = Wrapped(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&pipe));
        assert_eq!(chain(&pipe).count(), 2);
        assert!(!is_broken_pipe(&Wrapped(io::ErrorKind::StorageFull.into())));
    }
}
