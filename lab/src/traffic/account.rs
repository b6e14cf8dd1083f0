//! Accounting of one numbered stream at its receiver, with no sockets: which sequence
//! numbers arrived, how often, and in what order.
//!
//! - **received**: distinct sequence numbers that arrived.
//! - **duplicated**: arrivals of a sequence number already seen.
//! - **reordered**: first arrivals of a number lower than the highest seen before it.
//! - **lost**: numbers never seen, counted up to the sender's total when its end
//!   message told it ([`SeqAccount::set_sender_total`]), else up to the highest seen.
//!
//! Memory is bounded: numbers at or above the limit given to [`SeqAccount::new`] are
//! refused (counted as out of range), so a forged or corrupt number cannot make the
//! receiver allocate without bound.

use serde::{Deserialize, Serialize};

/// Counts of one received stream (see the module doc for each field's meaning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamCounts {
    /// Distinct sequence numbers received.
    pub received: u64,
    /// Numbers missing up to the sender's total (or the highest seen).
    pub lost: u64,
    /// Extra copies of numbers already received.
    pub duplicated: u64,
    /// First arrivals below the highest number seen before them.
    pub reordered: u64,
    /// Numbers at or above the accounting limit, ignored.
    pub out_of_range: u64,
    /// The sender's total from its end message, if one arrived.
    pub sender_total: Option<u64>,
}

/// What an arrival was, as [`SeqAccount::record`] classified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// First arrival, in order (above every number seen before).
    InOrder,
    /// First arrival, below the highest number seen before.
    Reordered,
    /// A copy of a number already received.
    Duplicate,
    /// At or above the limit: ignored.
    OutOfRange,
}

/// The receiver's view of one stream.
#[derive(Debug, Clone)]
pub struct SeqAccount {
    seen: Vec<u64>,
    limit: u64,
    highest: Option<u64>,
    counts: StreamCounts,
}

impl SeqAccount {
    /// An empty account taking sequence numbers `0..limit`.
    pub fn new(limit: u64) -> SeqAccount {
        SeqAccount {
            seen: Vec::new(),
            limit,
            highest: None,
            counts: StreamCounts::default(),
        }
    }

    /// Records the arrival of `seq` and says what it was.
    pub fn record(&mut self, seq: u64) -> Arrival {
        if seq >= self.limit {
            self.counts.out_of_range += 1;
            return Arrival::OutOfRange;
        }
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            self.counts.duplicated += 1;
            return Arrival::Duplicate;
        }
        self.seen[word] |= 1 << bit;
        self.counts.received += 1;
        match self.highest {
            Some(h) if seq < h => {
                self.counts.reordered += 1;
                Arrival::Reordered
            }
            _ => {
                self.highest = Some(seq);
                Arrival::InOrder
            }
        }
    }

    /// Tells the account how many datagrams the sender sent (its end message); the
    /// largest value told wins, so a stale copy cannot shrink it.
    pub fn set_sender_total(&mut self, total: u64) {
        let total = total.min(self.limit);
        self.counts.sender_total = Some(self.counts.sender_total.map_or(total, |t| t.max(total)));
    }

    /// The highest sequence number received.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// The counts now, with `lost` computed against the sender's total if known,
    /// else against the highest number seen.
    pub fn counts(&self) -> StreamCounts {
        let expected = match (self.counts.sender_total, self.highest) {
            (Some(total), Some(h)) => total.max(h + 1),
            (Some(total), None) => total,
            (None, Some(h)) => h + 1,
            (None, None) => 0,
        };
        StreamCounts {
            lost: expected.saturating_sub(self.counts.received),
            ..self.counts
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[u64]) -> SeqAccount {
        let mut a = SeqAccount::new(1000);
        for s in seqs {
            a.record(*s);
        }
        a
    }

    #[test]
    fn in_order_stream_has_nothing_wrong() {
        let c = feed(&[0, 1, 2, 3, 4]).counts();
        assert_eq!(
            c,
            StreamCounts {
                received: 5,
                ..StreamCounts::default()
            }
        );
    }

    #[test]
    fn gaps_are_lost_up_to_the_highest_seen() {
        let c = feed(&[0, 1, 4, 5, 9]).counts();
        assert_eq!((c.received, c.lost), (5, 5)); // 2, 3, 6, 7, 8
        let c = feed(&[3]).counts();
        assert_eq!((c.received, c.lost), (1, 3));
        assert_eq!(feed(&[]).counts().lost, 0);
    }

    #[test]
    fn sender_total_counts_losses_at_the_tail() {
        let mut a = feed(&[0, 1, 2]);
        a.set_sender_total(6);
        assert_eq!(a.counts().lost, 3);
        a.set_sender_total(4); // a stale end message does not shrink it
        assert_eq!(a.counts().sender_total, Some(6));
        let mut none = SeqAccount::new(100);
        none.set_sender_total(10);
        assert_eq!(none.counts().lost, 10);
        // A total below what was seen (a confused sender) cannot make loss negative.
        let mut a = feed(&[0, 1, 2, 3]);
        a.set_sender_total(2);
        assert_eq!(a.counts().lost, 0);
    }

    #[test]
    fn duplicates_counted_once_each_and_not_as_received() {
        let mut a = SeqAccount::new(100);
        assert_eq!(a.record(0), Arrival::InOrder);
        assert_eq!(a.record(0), Arrival::Duplicate);
        assert_eq!(a.record(1), Arrival::InOrder);
        assert_eq!(a.record(0), Arrival::Duplicate);
        let c = a.counts();
        assert_eq!(
            (c.received, c.duplicated, c.reordered, c.lost),
            (2, 2, 0, 0)
        );
    }

    #[test]
    fn late_first_arrivals_are_reordered_and_fill_gaps() {
        let mut a = SeqAccount::new(100);
        for (seq, what) in [
            (0, Arrival::InOrder),
            (2, Arrival::InOrder),
            (1, Arrival::Reordered),
            (5, Arrival::InOrder),
            (3, Arrival::Reordered),
            (3, Arrival::Duplicate),
        ] {
            assert_eq!(a.record(seq), what, "seq {seq}");
        }
        let c = a.counts();
        assert_eq!(
            (c.received, c.lost, c.duplicated, c.reordered),
            (5, 1, 1, 2)
        );
        assert_eq!(a.highest(), Some(5));
    }

    #[test]
    fn numbers_past_the_limit_are_refused_without_allocation() {
        let mut a = SeqAccount::new(128);
        assert_eq!(a.record(u64::MAX), Arrival::OutOfRange);
        assert_eq!(a.record(128), Arrival::OutOfRange);
        assert_eq!(a.record(127), Arrival::InOrder);
        assert!(a.seen.len() <= 2);
        let c = a.counts();
        assert_eq!((c.received, c.out_of_range, c.lost), (1, 2, 127));
        a.set_sender_total(u64::MAX);
        assert_eq!(a.counts().sender_total, Some(128));
    }

    #[test]
    fn word_boundaries() {
        let c = feed(&[63, 64, 65, 0]).counts();
        assert_eq!((c.received, c.reordered, c.lost), (4, 1, 62));
    }
}
