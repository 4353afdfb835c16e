//! `pull --watch`: when to log in next. Pure: it is told how each attempt ended and answers
//! how long after that attempt's start the next one may begin; the caller sleeps and pulls.
//!
//! Rules (RFC 2449 §6.8 and what mpop and getmail6 users expect of a daemon):
//! - Never two logins closer than the server's `LOGIN-DELAY`, whatever the interval.
//! - After a `[LOGIN-DELAY]` refusal, wait at least the advertised delay (and back off).
//! - Temporary failures (`[IN-USE]`, `[SYS/TEMP]`, a state file in use) and connection
//!   failures (resolve, connect, timeout, a dropped or garbled session) back off
//!   exponentially: twice the interval, then doubling, capped at [`MAX_BACKOFF`] (or the
//!   interval, if longer). A pull that works resets it.
//! - Other failures (authentication, configuration, certificates, a local write error) end
//!   the watch: retrying them would only repeat the error every interval.

use std::time::Duration;

/// The longest back-off after failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Logged in and pulled (some messages may have failed on their own).
    Pulled,
    /// The login was refused with `[LOGIN-DELAY]`.
    LoginDelay,
    /// A temporary or connection failure: retry later.
    Temporary,
    /// A failure that retrying will not fix: stop.
    Fatal,
}

/// Whether an error with this exit code is worth retrying (see the module's rules).
pub fn retryable(exit_code: u8) -> bool {
    use crate::exit::code;
    matches!(
        exit_code,
        code::RESOLVE
            | code::CONNECT
            | code::PROTOCOL
            | code::PARTIAL
            | code::TIMEOUT
            | code::TLS
            | code::EMPTY_REPLY
            | code::TEMPFAIL
    )
}

/// The watch's memory: the interval, the server's LOGIN-DELAY once known, the failures in
/// a row.
#[derive(Debug, Clone)]
pub struct Schedule {
    interval: Duration,
    login_delay: Option<Duration>,
    failures: u32,
}

impl Schedule {
    pub fn new(interval: Duration) -> Schedule {
        Schedule {
            interval,
            login_delay: None,
            failures: 0,
        }
    }

    /// Notes the server's LOGIN-DELAY (from CAPA, before or after login).
    pub fn set_login_delay(&mut self, secs: u64) {
        self.login_delay = Some(Duration::from_secs(secs));
    }

    pub fn login_delay(&self) -> Option<Duration> {
        self.login_delay
    }

    /// How long after the start of the attempt that ended as `attempt` the next may start;
    /// `None` to stop.
    pub fn next(&mut self, attempt: Attempt) -> Option<Duration> {
        let delay = self.login_delay.unwrap_or_default();
        match attempt {
            Attempt::Pulled => {
                self.failures = 0;
                Some(self.interval.max(delay))
            }
            Attempt::LoginDelay | Attempt::Temporary => {
                self.failures = self.failures.saturating_add(1);
                Some(self.backoff().max(delay))
            }
            Attempt::Fatal => None,
        }
    }

    /// The interval times 2^failures, capped.
    fn backoff(&self) -> Duration {
        let cap = MAX_BACKOFF.max(self.interval);
        let factor = 1u32.checked_shl(self.failures.min(20)).unwrap_or(u32::MAX);
        self.interval.saturating_mul(factor).min(cap)
    }
}

/// Parses a watch interval: seconds, or a number with `s`, `m`, `h` (`90`, `30s`, `5m`,
/// `1h`). Zero is refused: a watch that never sleeps would hammer the server.
pub fn parse_interval(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (num, unit) = match t.char_indices().last()? {
        (i, 's') => (&t[..i], 1),
        (i, 'm') => (&t[..i], 60),
        (i, 'h') => (&t[..i], 3600),
        _ => (t, 1),
    };
    let secs = num.parse::<u64>().ok()?.checked_mul(unit)?;
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn login_delay_wins_over_a_shorter_interval() {
        let mut s = Schedule::new(S(1));
        assert_eq!(s.next(Attempt::Pulled), Some(S(1)));
        s.set_login_delay(3);
        assert_eq!(s.next(Attempt::Pulled), Some(S(3)));
        let mut s = Schedule::new(S(600));
        s.set_login_delay(3);
        assert_eq!(s.next(Attempt::Pulled), Some(S(600)));
    }

    #[test]
    fn failures_back_off_exponentially_capped_and_reset() {
        let mut s = Schedule::new(S(60));
        let waits: Vec<_> = (0..8).map(|_| s.next(Attempt::Temporary)).collect();
        let want = [120, 240, 480, 960, 1800, 1800, 1800, 1800].map(|n| Some(S(n)));
        assert_eq!(waits, want);
        assert_eq!(s.next(Attempt::Pulled), Some(S(60)));
        assert_eq!(s.next(Attempt::Temporary), Some(S(120)));
        let mut long = Schedule::new(S(7200));
        assert_eq!(
            long.next(Attempt::Temporary),
            Some(S(7200)),
            "cap: the interval"
        );
        for _ in 0..100 {
            long.next(Attempt::Temporary);
        }
        assert_eq!(long.next(Attempt::Temporary), Some(S(7200)), "no overflow");
    }

    #[test]
    fn a_login_delay_refusal_waits_the_advertised_delay() {
        let mut s = Schedule::new(S(1));
        s.set_login_delay(720);
        assert_eq!(s.next(Attempt::LoginDelay), Some(S(720)));
        let mut unknown = Schedule::new(S(1));
        assert_eq!(unknown.next(Attempt::LoginDelay), Some(S(2)));
        assert_eq!(unknown.next(Attempt::Fatal), None);
    }

    #[test]
    fn intervals_and_what_is_retried() {
        assert_eq!(parse_interval("5m"), Some(S(300)));
        assert_eq!(parse_interval("90"), Some(S(90)));
        assert_eq!(parse_interval("1s"), Some(S(1)));
        assert_eq!(parse_interval("2h"), Some(S(7200)));
        for bad in ["0", "0s", "", "m", "-1", "5x", "1.5m"] {
            assert_eq!(parse_interval(bad), None, "{bad:?}");
        }
        assert!(retryable(75) && retryable(7) && retryable(28));
        assert!(!retryable(77) && !retryable(78) && !retryable(23) && !retryable(60));
    }
}
