//! The wall clock as Unix seconds, and the RFC 3339 form listings print: the one place the
//! cookie jar, the outbox, the POP3 state and OAuth2 tokens read the time from.

/// Now, in Unix seconds (UTC).
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `secs` as RFC 3339 UTC (`2026-12-03T18:47:00Z`), or `None` outside what it can show.
pub fn rfc3339(secs: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}
