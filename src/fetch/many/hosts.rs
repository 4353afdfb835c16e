//! Per-host politeness for a many-URL run, pure (every decision takes the time `now`):
//! how many transfers a host has open (`--parallel-per-host`), when it may see the next
//! transfer start (`--rate`), and until when it is paused (a 429 or 503 with Retry-After).
//! A host with nothing open and nothing pending is forgotten, so the table stays as small
//! as the set of hosts in flight, not the set of hosts in the list.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `--rate N/U`: at most `count` transfer starts per `per` (curl's syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// curl's `--rate`: `N/s`, `N/m`, `N/h`, `N/d`, a multiplier (`N/5s`), or a bare `N`
    /// (per hour).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (count, unit) = text.trim().split_once('/').unwrap_or((text.trim(), "h"));
        let count: u32 = count
            .parse()
            .map_err(|_| format!("{text:?}: expected N/s, N/m, N/h or N/d"))?;
        if count == 0 {
            return Err(format!("{text:?}: the rate must be at least 1"));
        }
        let digits = unit.len() - unit.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let times: u64 = match digits {
            0 => 1,
            _ => unit[..digits]
                .parse()
                .map_err(|_| format!("{text:?}: bad unit"))?,
        };
        let secs: u64 = match &unit[digits..] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
        };
        if times == 0 {
            return Err(format!("{text:?}: bad unit"));
        }
        Ok(Rate {
            count,
            per: Duration::from_secs(secs.saturating_mul(times)),
        })
    }

    /// The spacing between two starts at this rate.
    pub fn interval(self) -> Duration {
        self.per / self.count
    }
}

/// The state of one host.
#[derive(Debug, Default)]
struct Host {
    active: usize,
    /// Earliest next start (`--rate`).
    next_start: Option<Instant>,
    /// A Retry-After pause.
    paused_until: Option<Instant>,
}

impl Host {
    fn ready_at(&self) -> Option<Instant> {
        match (self.next_start, self.paused_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Why a host cannot take a transfer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// As many transfers open as allowed: wait until one ends.
    Full,
    /// Paused or rate-limited until then.
    Until(Instant),
}

/// Every host in flight.
#[derive(Debug)]
pub struct HostTable {
    per_host: usize,
    interval: Option<Duration>,
    hosts: HashMap<String, Host>,
}

impl HostTable {
    pub fn new(per_host: usize, rate: Option<Rate>) -> HostTable {
        HostTable {
            per_host: per_host.max(1),
            interval: rate.map(Rate::interval),
            hosts: HashMap::new(),
        }
    }

    /// Whether `host` may start a transfer at `now`.
    pub fn check(&self, host: &str, now: Instant) -> Result<(), Busy> {
        let Some(h) = self.hosts.get(host) else {
            return Ok(());
        };
        if let Some(at) = h.ready_at().filter(|at| *at > now) {
            return Err(Busy::Until(at));
        }
        if h.active >= self.per_host {
            return Err(Busy::Full);
        }
        Ok(())
    }

    /// A transfer to `host` starts at `now` (after `check` said it may).
    pub fn start(&mut self, host: &str, now: Instant) {
        let interval = self.interval;
        let h = self.hosts.entry(host.to_owned()).or_default();
        h.active += 1;
        h.next_start = interval.map(|i| now + i);
    }

    /// A transfer to `host` ended.
    pub fn end(&mut self, host: &str, now: Instant) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.active = h.active.saturating_sub(1);
        }
        self.forget_idle(host, now);
    }

    /// The host asked for a pause (Retry-After): no transfer starts before `until`, and a
    /// transfer retrying waits for it too.
    pub fn pause(&mut self, host: &str, until: Instant) {
        let h = self.hosts.entry(host.to_owned()).or_default();
        h.paused_until = Some(h.paused_until.map_or(until, |p| p.max(until)));
    }

    /// When the pause of `host` ends, if it is paused at `now`.
    pub fn paused_until(&self, host: &str, now: Instant) -> Option<Instant> {
        self.hosts
            .get(host)
            .and_then(|h| h.paused_until)
            .filter(|t| *t > now)
    }

    fn forget_idle(&mut self, host: &str, now: Instant) {
        let idle = self
            .hosts
            .get(host)
            .is_some_and(|h| h.active == 0 && h.ready_at().is_none_or(|t| t <= now));
        if idle {
            self.hosts.remove(host);
        }
    }

    /// Hosts the table remembers (for tests: it must not grow with the list).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.hosts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_rate_syntax() {
        let r = |s: &str| Rate::parse(s).map(Rate::interval);
        assert_eq!(r("2/s"), Ok(Duration::from_millis(500)));
        assert_eq!(r("60/m"), Ok(Duration::from_secs(1)));
        assert_eq!(r("1/h"), Ok(Duration::from_secs(3600)));
        assert_eq!(r("24/d"), Ok(Duration::from_secs(3600)));
        assert_eq!(r("5/10s"), Ok(Duration::from_secs(2)));
        assert_eq!(r("3600"), Ok(Duration::from_secs(1)), "bare N is per hour");
        for bad in ["0/s", "x/s", "1/w", "1/0s", "", "/s", "-1/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn per_host_limit_counts_open_transfers() {
        let now = Instant::now();
        let mut t = HostTable::new(2, None);
        t.start("a", now);
        t.start("a", now);
        assert_eq!(t.check("a", now), Err(Busy::Full));
        assert_eq!(t.check("b", now), Ok(()));
        t.end("a", now);
        assert_eq!(t.check("a", now), Ok(()));
        t.end("a", now);
        assert_eq!(t.len(), 0, "an idle host is forgotten");
    }

    #[test]
    fn rate_spaces_starts_per_host() {
        let now = Instant::now();
        let mut t = HostTable::new(6, Some(Rate::parse("2/s").expect("rate")));
        t.start("a", now);
        let next = now + Duration::from_millis(500);
        assert_eq!(t.check("a", now), Err(Busy::Until(next)));
        assert_eq!(t.check("b", now), Ok(()), "other hosts are not slowed");
        assert_eq!(t.check("a", next), Ok(()));
        t.end("a", now);
        assert_eq!(t.len(), 1, "remembered until its next start is due");
        t.end("a", next);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn a_pause_holds_one_host_only() {
        let now = Instant::now();
        let mut t = HostTable::new(6, None);
        t.start("a", now);
        let until = now + Duration::from_secs(2);
        t.pause("a", until);
        t.pause("a", now + Duration::from_secs(1));
        assert_eq!(
            t.check("a", now),
            Err(Busy::Until(until)),
            "the later end wins"
        );
        assert_eq!(t.paused_until("a", now), Some(until));
        assert_eq!(t.check("b", now), Ok(()));
        assert_eq!(t.paused_until("a", until), None);
        assert_eq!(t.check("a", until), Ok(()));
    }
}
