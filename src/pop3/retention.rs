//! Which stored messages a pull deletes on the server: all of them (`--delete`), those
//! retrieved at least N days ago (`--delete-after`, getmail6's `delete_after`, mpop's keep
//! for N days), those larger than a size (`--delete-larger-than`, after retrieval). Pure:
//! the caller gives the LIST size, the recorded retrieval time and the time now (see
//! `state::now`). A message is deleted only once it is safely stored; that order is
//! `sync`'s.

/// The deletion rules of one pull.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// `--delete`: every stored message.
    pub all: bool,
    /// `--delete-after DAYS`, in seconds.
    pub after: Option<u64>,
    /// `--delete-larger-than SIZE`: messages whose LIST size is larger.
    pub larger_than: Option<u64>,
}

/// Why a message is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `--delete`.
    Delete,
    /// `--delete-after`.
    After,
    /// `--delete-larger-than`.
    LargerThan,
    /// `--filter` said kill (exit 1), with `--delete`.
    FilterKill,
}

impl Reason {
    /// The `reason` of a `deleted` JSON line (`--delete` has none, as before).
    pub fn label(self) -> Option<&'static str> {
        match self {
            Reason::Delete => None,
            Reason::After => Some("delete-after"),
            Reason::LargerThan => Some("delete-larger-than"),
            Reason::FilterKill => Some("filter-kill"),
        }
    }
}

/// Seconds in a day, for `--delete-after DAYS`.
pub const DAY: u64 = 24 * 60 * 60;

impl Retention {
    /// Why a stored message of `size` octets, retrieved at `retrieved`, is deleted `now`
    /// (Unix seconds), if it is.
    pub fn reason(&self, size: u64, retrieved: u64, now: u64) -> Option<Reason> {
        if self.all {
            return Some(Reason::Delete);
        }
        if self.larger_than.is_some_and(|limit| size > limit) {
            return Some(Reason::LargerThan);
        }
        if self
            .after
            .is_some_and(|age| now.saturating_sub(retrieved) >= age)
        {
            return Some(Reason::After);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_deletes_what_it_says() {
        let none = Retention::default();
        assert_eq!(none.reason(10, 0, u64::MAX), None);
        let all = Retention { all: true, ..none };
        assert_eq!(all.reason(1, 5, 5), Some(Reason::Delete));
        let rules = Retention {
            all: false,
            after: Some(14 * DAY),
            larger_than: Some(1000),
        };
        let t0 = 1_800_000_000;
        assert_eq!(rules.reason(1000, t0, t0), None, "not larger, not old");
        assert_eq!(rules.reason(1001, t0, t0), Some(Reason::LargerThan));
        assert_eq!(rules.reason(10, t0, t0 + 14 * DAY - 1), None);
        assert_eq!(rules.reason(10, t0, t0 + 14 * DAY), Some(Reason::After));
        assert_eq!(rules.reason(10, t0 + 5, t0), None, "a clock set back");
        let now = Retention {
            after: Some(0),
            ..none
        };
        assert_eq!(now.reason(10, t0, t0), Some(Reason::After));
        assert_eq!(Reason::Delete.label(), None);
        assert_eq!(Reason::After.label(), Some("delete-after"));
    }
}
