//! When a home agent of a pair may act, and when it must stop (issue 13, item 5):
//! the timing rules of the leader key, sans-IO (time is an input), so they are tested
//! with a simulated clock.
//!
//! The active home agent rewrites the leader key every [`Timing::heartbeat`]; each
//! rewrite is a transaction that succeeds only while the key still holds its token, so
//! a success *confirms* that it was active when it sent the request. The standby reads
//! the key every heartbeat and remembers the key's modification revision and when it
//! first saw it.
//!
//! - **Standby** ([`Watcher`]): when the revision has not changed for
//!   [`Timing::hold`], or the key is gone, it takes the key over by a transaction
//!   conditioned on that revision (or on the key's absence), so of two standbys at most
//!   one wins and a heartbeat that lands in between defeats the takeover.
//! - **Active** ([`ActiveClock`]): it stops sending at
//!   [`Timing::fence_after`] (= hold − heartbeat) after sending its last confirmed
//!   request, even while etcd does not answer at all (a partition).
//!
//! Why this is safe: a heartbeat sent at `t0` commits at `t1 ≥ t0` and is first seen by
//! the standby at `t2 ≥ t1`; the standby takes over at `t2 + hold` at the earliest,
//! and the active has stopped by `t0 + hold − heartbeat`, one heartbeat earlier. The
//! two clocks need only run at the same rate (both are the hosts' clocks over < 1 s),
//! not agree on the time.
//!
//! Why not an etcd lease: etcd grants lease TTLs in whole seconds, no shorter than
//! 1.5 election timeouts, and revokes expired leases from a loop that runs every
//! 500 ms, so a `kill -9` of the active home agent would cost 1.5 s or more before a
//! standby could act; the issue asks for an outage of at most 1 s.

use core::time::Duration;

use mip6_wire::Time;

/// The pair's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often the active home agent confirms it holds the leader key, and how often
    /// the standby reads it.
    pub heartbeat: Duration,
    /// How long the leader key may stay unchanged before the standby takes it over.
    pub hold: Duration,
}

impl Timing {
    /// The default: a heartbeat every 100 ms, a hold time of 500 ms.
    pub const DEFAULT: Timing = Timing {
        heartbeat: Duration::from_millis(100),
        hold: Duration::from_millis(500),
    };

    /// How long after sending its last confirmed heartbeat the active home agent stops:
    /// one heartbeat less than the hold time (module docs).
    pub fn fence_after(&self) -> Duration {
        self.hold.saturating_sub(self.heartbeat)
    }

    /// Whether the timers leave the active home agent a heartbeat to confirm in before
    /// it stops: `hold ≥ 3 × heartbeat`, heartbeat ≥ 10 ms.
    pub fn check(&self) -> Result<(), String> {
        if self.heartbeat < Duration::from_millis(10) {
            return Err(format!("heartbeat {:?} is below 10 ms", self.heartbeat));
        }
        if self.hold < self.heartbeat * 3 {
            return Err(format!(
                "hold time {:?} is below three heartbeats ({:?}): the active home agent would stop between two of them",
                self.hold,
                self.heartbeat * 3
            ));
        }
        Ok(())
    }
}

/// What the standby does after reading the leader key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The active home agent is alive (or it is too early to tell).
    Wait,
    /// Take the key over, on the condition that it is still as read: at this
    /// modification revision, or (`None`) absent.
    TakeOver {
        /// The revision the takeover compares with; `None`: the key must not exist.
        expected_revision: Option<i64>,
    },
}

/// The standby's view of the leader key (module docs).
#[derive(Debug, Clone)]
pub struct Watcher {
    timing: Timing,
    seen: Option<(i64, Time)>,
}

impl Watcher {
    /// A standby that has not read the key yet.
    pub fn new(timing: Timing) -> Self {
        Watcher { timing, seen: None }
    }

    /// The key read at `now`: its modification revision, `None` if it does not exist.
    pub fn observe(&mut self, now: Time, revision: Option<i64>) -> Verdict {
        let Some(revision) = revision else {
            self.seen = None;
            return Verdict::TakeOver {
                expected_revision: None,
            };
        };
        match self.seen {
            Some((seen, since)) if seen == revision => {
                if now.saturating_since(since) >= self.timing.hold {
                    Verdict::TakeOver {
                        expected_revision: Some(revision),
                    }
                } else {
                    Verdict::Wait
                }
            }
            _ => {
                self.seen = Some((revision, now));
                Verdict::Wait
            }
        }
    }
}

/// The active home agent's deadline (module docs).
#[derive(Debug, Clone, Copy)]
pub struct ActiveClock {
    timing: Timing,
    confirmed_sent: Time,
}

impl ActiveClock {
    /// Active since a takeover (or heartbeat) request sent at `sent` succeeded.
    pub fn new(timing: Timing, sent: Time) -> Self {
        ActiveClock {
            timing,
            confirmed_sent: sent,
        }
    }

    /// A heartbeat sent at `sent` succeeded.
    pub fn confirmed(&mut self, sent: Time) {
        if sent > self.confirmed_sent {
            self.confirmed_sent = sent;
        }
    }

    /// When the home agent must have stopped sending, unless a later heartbeat is
    /// confirmed first.
    pub fn fence_at(&self) -> Time {
        self.confirmed_sent + self.timing.fence_after()
    }

    /// Whether it must stop at `now`.
    pub fn is_fenced(&self, now: Time) -> bool {
        now >= self.fence_at()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Time {
        Time::from_micros(1_000_000_000 + n * 1000)
    }

    #[test]
    fn a_standby_takes_over_a_key_unchanged_for_the_hold_time() {
        let mut w = Watcher::new(Timing::DEFAULT);
        assert_eq!(w.observe(ms(0), Some(7)), Verdict::Wait);
        assert_eq!(w.observe(ms(100), Some(7)), Verdict::Wait);
        assert_eq!(w.observe(ms(499), Some(7)), Verdict::Wait);
        assert_eq!(
            w.observe(ms(500), Some(7)),
            Verdict::TakeOver {
                expected_revision: Some(7)
            }
        );
    }

    #[test]
    fn a_heartbeat_restarts_the_standbys_hold_time() {
        let mut w = Watcher::new(Timing::DEFAULT);
        w.observe(ms(0), Some(7));
        assert_eq!(w.observe(ms(450), Some(8)), Verdict::Wait);
        assert_eq!(w.observe(ms(900), Some(8)), Verdict::Wait);
        assert_eq!(
            w.observe(ms(950), Some(8)),
            Verdict::TakeOver {
                expected_revision: Some(8)
            }
        );
    }

    #[test]
    fn a_missing_key_is_taken_at_once_on_condition_it_is_still_missing() {
        let mut w = Watcher::new(Timing::DEFAULT);
        assert_eq!(
            w.observe(ms(0), None),
            Verdict::TakeOver {
                expected_revision: None
            }
        );
        // Someone else created it meanwhile: wait a whole hold time for it.
        assert_eq!(w.observe(ms(10), Some(3)), Verdict::Wait);
        assert_eq!(w.observe(ms(500), Some(3)), Verdict::Wait);
    }

    #[test]
    fn the_active_stops_a_heartbeat_before_any_standby_can_take_over() {
        let t = Timing::DEFAULT;
        let mut a = ActiveClock::new(t, ms(0));
        a.confirmed(ms(100));
        // A confirmation arriving late for an older request does not move it back.
        a.confirmed(ms(50));
        assert_eq!(a.fence_at(), ms(500));
        assert!(!a.is_fenced(ms(499)));
        assert!(a.is_fenced(ms(500)));
        // The standby that first saw this heartbeat's revision no earlier than it was
        // sent takes over no earlier than 100 + hold = 600 ms: after the fence.
        let mut w = Watcher::new(t);
        w.observe(ms(100), Some(9));
        let first_takeover = (100..2000)
            .find(|&n| w.observe(ms(n), Some(9)) != Verdict::Wait)
            .unwrap();
        assert!(ms(first_takeover) > a.fence_at());
        assert_eq!(first_takeover, 600);
    }

    #[test]
    fn timers_that_leave_no_heartbeat_before_the_fence_are_refused() {
        assert!(Timing::DEFAULT.check().is_ok());
        let tight = Timing {
            heartbeat: Duration::from_millis(200),
            hold: Duration::from_millis(500),
        };
        assert!(tight.check().unwrap_err().contains("three heartbeats"));
        let fast = Timing {
            heartbeat: Duration::from_millis(1),
            hold: Duration::from_millis(50),
        };
        assert!(fast.check().unwrap_err().contains("below 10 ms"));
    }
}
