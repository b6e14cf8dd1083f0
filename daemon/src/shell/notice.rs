//! Visible misconfiguration (issue 11, item 6): what the shell tells an operator beside
//! the counters, for both roles.
//!
//! - **Warnings** ([`Warning`]): the role reports what points at a misconfiguration of
//!   one mobile node ([`crate::shell::Role::poll_warnings`]: an ICV failure under its
//!   init SA, a Binding Acknowledgement that never comes, a refused Binding Update),
//!   with the likely cause ("wrong init secret?"). The shell logs each at WARN, naming
//!   the mobile node's home address and the cause, at most once per [`WARN_EVERY`] per
//!   node and cause ([`RateLimiter`]); the line says how many were held back since the
//!   last one.
//! - **Drop summary** ([`DropSummary`]): once a minute, while drops occur, one INFO
//!   line with the drops of that minute by reason (the engine's and the shell's, the
//!   names of status `drops`). Single drops stay at DEBUG where they happen.
//!
//! The engines stay sans-IO: they count (the home agent's
//! `HomeAgent::take_notices`, the mobile node's counters and registration state); the
//! shell compares, limits and logs.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;
use std::time::Duration;

use mip6_wire::Time;

/// The shortest interval between two warnings of one mobile node and cause, and the
/// period of the drop summary.
pub const WARN_EVERY: Duration = Duration::from_secs(60);

/// A misconfiguration one mobile node's traffic points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The mobile node's home address.
    pub mobile_node: Ipv6Addr,
    /// A short stable name of the cause (`init_icv_failure`, `no_binding_ack`,
    /// `refused`): the rate limit's key and a log field.
    pub cause: &'static str,
    /// How many occurrences this warning stands for (frames, retransmissions, BUs).
    pub count: u64,
    /// What happened and the likely cause, for the operator.
    pub message: String,
}

/// At most one warning per [`WARN_EVERY`] per (mobile node, cause).
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// When each key was last logged, and the occurrences held back since.
    last: HashMap<(Ipv6Addr, &'static str), (Time, u64)>,
}

impl RateLimiter {
    /// Whether `warning` may be logged at `now`: `Some(held back)` with the
    /// occurrences held back since the last logged one (their counts), `None` if it is
    /// held back itself (and counted).
    pub fn admit(&mut self, warning: &Warning, now: Time) -> Option<u64> {
        let key = (warning.mobile_node, warning.cause);
        match self.last.get_mut(&key) {
            Some((at, held)) if now.saturating_since(*at) < WARN_EVERY => {
                *held += warning.count;
                None
            }
            Some((at, held)) => {
                *at = now;
                Some(core::mem::take(held))
            }
            None => {
                self.last.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

/// Drops by reason since the last summary.
#[derive(Debug, Default)]
pub struct DropSummary {
    previous: BTreeMap<String, u64>,
}

impl DropSummary {
    /// Takes the totals now (by name, any order, a name may come twice and adds up)
    /// and returns what grew since the last call, largest first, if anything did.
    pub fn take(&mut self, totals: impl IntoIterator<Item = (String, u64)>) -> Vec<(String, u64)> {
        let mut now: BTreeMap<String, u64> = BTreeMap::new();
        for (name, n) in totals {
            *now.entry(name).or_default() += n;
        }
        let mut grown: Vec<(String, u64)> = now
            .iter()
            .filter_map(|(name, &n)| {
                let before = self.previous.get(name).copied().unwrap_or(0);
                (n > before).then(|| (name.clone(), n - before))
            })
            .collect();
        grown.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.previous = now;
        grown
    }
}

/// `bad_icv 3, unknown_spi 1`: the summary's text.
pub fn format_summary(grown: &[(String, u64)]) -> String {
    grown
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Logs one admitted warning at WARN (module docs).
pub fn log_warning(warning: &Warning, held_back: u64) {
    tracing::warn!(
        mobile_node = %warning.mobile_node,
        cause = warning.cause,
        count = warning.count,
        held_back,
        "mobile node {}: {}",
        warning.mobile_node,
        warning.message
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(node: u16, cause: &'static str) -> Warning {
        Warning {
            mobile_node: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, node),
            cause,
            count: 2,
            message: "wrong init secret?".into(),
        }
    }

    #[test]
    fn one_warning_per_minute_per_node_and_cause() {
        let mut limit = RateLimiter::default();
        let t = Time::from_secs(1000);
        assert_eq!(limit.admit(&w(1, "init_icv_failure"), t), Some(0));
        // Same node and cause within the minute: held back and counted.
        assert_eq!(
            limit.admit(&w(1, "init_icv_failure"), t + Duration::from_secs(1)),
            None
        );
        assert_eq!(
            limit.admit(&w(1, "init_icv_failure"), t + Duration::from_secs(59)),
            None
        );
        // Another cause, another node: their own limits.
        assert_eq!(
            limit.admit(&w(1, "refused"), t + Duration::from_secs(2)),
            Some(0)
        );
        assert_eq!(
            limit.admit(&w(2, "init_icv_failure"), t + Duration::from_secs(2)),
            Some(0)
        );
        // A minute on: logged, with the four held back.
        assert_eq!(
            limit.admit(&w(1, "init_icv_failure"), t + Duration::from_secs(60)),
            Some(4)
        );
        assert_eq!(
            limit.admit(&w(1, "init_icv_failure"), t + Duration::from_secs(61)),
            None
        );
    }

    #[test]
    fn the_summary_holds_what_grew_since_the_last_one() {
        let mut s = DropSummary::default();
        let totals = |v: &[(&str, u64)]| {
            v.iter()
                .map(|(n, c)| ((*n).to_owned(), *c))
                .collect::<Vec<_>>()
        };
        let first = s.take(totals(&[
            ("bad_icv", 3),
            ("unknown_spi", 0),
            ("truncated", 1),
        ]));
        assert_eq!(format_summary(&first), "bad_icv 3, truncated 1");
        // Nothing new: nothing to say.
        assert!(s
            .take(totals(&[("bad_icv", 3), ("truncated", 1)]))
            .is_empty());
        // Only the growth, largest first; a name reported twice adds up.
        let grown = s.take(totals(&[
            ("bad_icv", 4),
            ("truncated", 1),
            ("unknown_spi", 5),
            ("unknown_spi", 2),
        ]));
        assert_eq!(format_summary(&grown), "unknown_spi 7, bad_icv 1");
    }

    #[test]
    fn a_warning_line_names_the_node_the_cause_and_what_was_held_back() {
        let (_, log) = crate::logging::capture(|| log_warning(&w(0x100, "init_icv_failure"), 7));
        assert!(log.contains(" WARN "), "{log}");
        assert!(log.contains("2001:db8:1::100"), "{log}");
        assert!(log.contains("wrong init secret?"), "{log}");
        assert!(
            log.contains("cause=\"init_icv_failure\"") || log.contains("cause=init_icv_failure"),
            "{log}"
        );
        assert!(log.contains("held_back=7"), "{log}");
    }
}
