//! Per-MN deadlines in one min-heap, one live entry per mobile node: the earliest of
//! its binding expiry (RFC 6275 §10.3.1) and its key update timer (patent (6), (9)).
//!
//! The entry is lazy. The MN's state records the time its entry was queued for
//! (`MobileNode::queued`); a deadline moved later (every binding refresh) pushes
//! nothing, and when the earlier entry pops the engine finds nothing due and queues the
//! MN again at its real deadline; a deadline moved earlier pushes a new entry, and the
//! old one, no longer the recorded one, is dropped when it pops. Rescheduling is thus
//! O(1) or one push, never a search over a million MNs, and the heap holds about one
//! 12-octet entry per MN, not one per refresh.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use mip6_wire::Time;

/// A deadline of one MN: 12 octets (the time split in two `u32` halves so the entry
/// needs no 8-octet alignment), ordered by time, then MN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Deadline {
    at_high: u32,
    at_low: u32,
    pub mn: u32,
}

impl Deadline {
    pub fn new(at: Time, mn: u32) -> Self {
        let micros = at.as_micros();
        Deadline {
            at_high: (micros >> 32) as u32,
            at_low: micros as u32,
            mn,
        }
    }

    pub const fn at(&self) -> Time {
        Time::from_micros(((self.at_high as u64) << 32) | self.at_low as u64)
    }
}

/// The heap of deadlines, earliest first.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<Deadline>>,
}

impl TimerQueue {
    pub fn push(&mut self, at: Time, mn: u32) {
        self.heap.push(Reverse(Deadline::new(at, mn)));
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
            Some(d) if d.at() <= now => self.pop(),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Replaces every entry with `deadlines` (the live ones, rebuilt from the MNs'
    /// state). O(n).
    pub fn rebuild(&mut self, deadlines: impl Iterator<Item = Deadline>) {
        let mut entries = core::mem::take(&mut self.heap).into_vec();
        entries.clear();
        entries.extend(deadlines.map(Reverse));
        self.heap = BinaryHeap::from(entries);
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
        q.push(Time::from_secs(5), 1);
        q.push(Time::from_secs(2), 7);
        q.push(Time::from_secs(9), 0);
        assert_eq!(q.peek().unwrap().mn, 7);
        assert!(q.pop_due(Time::from_secs(1)).is_none());
        assert_eq!(q.pop_due(Time::from_secs(5)).unwrap().mn, 7);
        assert_eq!(q.pop_due(Time::from_secs(5)).unwrap().mn, 1);
        assert!(q.pop_due(Time::from_secs(5)).is_none());
        assert_eq!(q.len(), 1);
        q.rebuild(
            [
                Deadline::new(Time::from_secs(4), 3),
                Deadline::new(Time::from_secs(3), 4),
            ]
            .into_iter(),
        );
        assert_eq!(q.len(), 2, "old entries replaced");
        assert_eq!(q.pop().unwrap().mn, 4, "still a heap after rebuild");
    }

    #[test]
    fn an_entry_is_twelve_octets_and_keeps_the_time_whole() {
        assert_eq!(core::mem::size_of::<Deadline>(), 12);
        // Times whose halves order differently from the whole.
        let late = Time::from_micros((7 << 32) | 1);
        let early = Time::from_micros((6 << 32) | u64::from(u32::MAX));
        assert!(Deadline::new(early, 9) < Deadline::new(late, 0));
        assert_eq!(Deadline::new(late, 0).at(), late);
    }
}
