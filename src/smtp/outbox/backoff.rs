//! When a deferred message is tried again: one minute after the first failure, doubling with
//! each attempt, never more than an hour (a cron flush every few minutes then retries a
//! refusing server about hourly, and `outbox flush --now` or `--id` tries at once). Pure.

/// The first delay, in seconds.
pub const FIRST: i64 = 60;
/// The longest delay, in seconds.
pub const MAX: i64 = 3600;

/// The delay after `attempts` attempts (1 for the first failure).
pub fn delay(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(16);
    (FIRST << doublings).min(MAX)
}

/// When to try again, `attempts` having failed by `now`.
pub fn next_try(now: i64, attempts: u32) -> i64 {
    now.saturating_add(delay(attempts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_a_minute_up_to_an_hour() {
        let delays: Vec<i64> = (0..10).map(delay).collect();
        assert_eq!(delays, [60, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(delay(u32::MAX), MAX);
        assert_eq!(next_try(1000, 2), 1120);
        assert_eq!(next_try(i64::MAX, 1), i64::MAX);
    }
}
