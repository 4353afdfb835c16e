//! `--retry`: which answers are worth another try, and how long to wait (exponential
//! backoff from 1 s, or the server's Retry-After).

use std::time::Duration;

use ureq::Body;
use ureq::http;

use super::FetchConfig;
use super::show::header_value;

pub(super) fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

pub(super) fn backoff(attempt: u32, cfg: &FetchConfig) -> Duration {
    Duration::from_secs(1u64 << attempt.min(20)).min(cfg.retry_max_wait)
}

/// Retry-After: delay-seconds or an HTTP date.
pub(super) fn retry_after(resp: &http::Response<Body>) -> Option<Duration> {
    parse_retry_after(
        header_value(resp, "retry-after")?,
        time::OffsetDateTime::now_utc(),
    )
}

fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (when - now).whole_seconds().max(0);
    Some(Duration::from_secs(secs.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = time::macros::datetime!(2026-11-22 04:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 04:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 03:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
