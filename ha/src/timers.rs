//! Per-MN deadlines in one min-heap (binding expiry, key update timer), with lazy
//! invalidation: an entry is acted on only if the MN's state still names that
//! deadline, so rescheduling is a push and never a search over a million MNs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use mip6_wire::Time;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerKind {
    /// The binding's lifetime ends (RFC 6275 §10.3.1).
    BindingExpiry,
    /// The HA's per-MN key update timer (patent (6), (9)).
    KeyUpdate,
}

/// A deadline of one MN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Deadline {
    pub at: Time,
    pub mn: u32,
    pub kind: TimerKind,
}

/// The heap of deadlines, earliest first.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<Deadline>>,
}

impl TimerQueue {
    pub fn push(&mut self, at: Time, mn: u32, kind: TimerKind) {
        self.heap.push(Reverse(Deadline { at, mn, kind }));
    }

    pub fn peek(&self) -> Option<Deadline> {
        self.heap.peek().map(|r| r.0)
    }

    pub fn pop(&mut self) -> Option<Deadline> {
        self.heap.pop().map(|r| r.0)
    }

    /// Pops the earliest deadline if it is at or before `now`.
    pub fn pop_due(&mut self, now: Time) -> Option<Deadline> {
        match self.peek() {
            Some(d) if d.at <= now => self.pop(),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the deadlines `live` approves, each once (refreshes within one
    /// clock tick push equal deadlines, which all look live). O(n log n).
    pub fn retain(&mut self, mut live: impl FnMut(&Deadline) -> bool) {
        let mut deadlines = core::mem::take(&mut self.heap).into_vec();
        deadlines.retain(|r| live(&r.0));
        deadlines.sort_unstable();
        deadlines.dedup();
        self.heap = BinaryHeap::from(deadlines);
    }

    pub fn capacity(&self) -> usize {
        self.heap.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first() {
        let mut q = TimerQueue::default();
        q.push(Time::from_secs(5), 1, TimerKind::KeyUpdate);
        q.push(Time::from_secs(2), 7, TimerKind::BindingExpiry);
        q.push(Time::from_secs(9), 0, TimerKind::BindingExpiry);
        assert_eq!(q.peek().unwrap().mn, 7);
        assert!(q.pop_due(Time::from_secs(1)).is_none());
        assert_eq!(q.pop_due(Time::from_secs(5)).unwrap().mn, 7);
        assert_eq!(q.pop_due(Time::from_secs(5)).unwrap().mn, 1);
        assert!(q.pop_due(Time::from_secs(5)).is_none());
        assert_eq!(q.len(), 1);
        q.push(Time::from_secs(3), 4, TimerKind::KeyUpdate);
        q.push(Time::from_secs(1), 5, TimerKind::KeyUpdate);
        q.push(Time::from_secs(3), 4, TimerKind::KeyUpdate);
        q.retain(|d| d.mn != 5);
        assert_eq!(q.len(), 2, "stale and duplicate deadlines swept");
        assert_eq!(q.pop().unwrap().mn, 4, "still a heap after retain");
    }
}
