//! The ESP anti-replay window (RFC 4303 §3.4.3 and Appendix A).
//!
//! The window of RFC 4303's recommended 64 packets is a shift register beside the
//! highest number received (Appendix A's first approach, RFC 2401's): a 16-octet
//! `ReplayWindow`, no heap. A home agent keeps up to three inbound SAs per mobile
//! node at a million mobile nodes, so those octets count. Larger windows keep a ring of
//! 64-bit words (RFC 6479's layout, one word larger than the window so all `size`
//! positions are usable), allocated once when the SA is made. No allocation per
//! packet, O(1) check, update in O(words cleared).
//!
//! [`ReplayWindow::check`] runs before the ICV is verified and does not change
//! anything; [`ReplayWindow::update`] is called only once the ICV verified
//! (RFC 4303 §3.4.3: "the receive window is updated only if the integrity
//! verification succeeds"). [`ReplayWindow::raise_floor`] treats every number up to a
//! floor as received: the top restored from a persisted record, below which nothing
//! may be accepted again.
//!
//! Not supported: Extended Sequence Numbers (RFC 4303 Appendix A2); window sizes that
//! are not a multiple of 64 or outside 64..=4096.

use super::Error;

/// The receiver's anti-replay state of one inbound SA (RFC 4303 §3.4.3).
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    /// The 64-packet window: the highest number accepted and a shift register whose
    /// bit `i` is set when `top − i` was received.
    Shift { top: u32, bits: u64 },
    /// 128..=4096 packets: RFC 6479's ring.
    Ring(Box<Ring>),
}

/// RFC 6479 §2: `size / 64 + 1` words, the word of number `n` at `(n / 64) % words`.
#[derive(Clone, PartialEq, Eq)]
struct Ring {
    size: u32,
    top: u32,
    words: Box<[u64]>,
}

impl Ring {
    fn position(&self, seq: u32) -> (usize, u64) {
        ((seq as usize / 64) % self.words.len(), 1u64 << (seq % 64))
    }
}

impl core::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("size", &self.size())
            .field("top", &self.top())
            .finish_non_exhaustive()
    }
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow::new(Self::DEFAULT_SIZE).unwrap_or_else(|| unreachable!())
    }
}

impl ReplayWindow {
    /// Smallest window (RFC 4303 §3.4.3: "a minimum window size of 32 packets MUST be
    /// supported ... a window size of 64 is RECOMMENDED").
    pub const MIN_SIZE: u32 = 64;
    /// Largest window supported.
    pub const MAX_SIZE: u32 = 4096;
    /// Window used unless configured otherwise.
    pub const DEFAULT_SIZE: u32 = 1024;

    /// A window of `size` sequence numbers; `None` unless `size` is a multiple of 64
    /// in 64..=4096.
    pub fn new(size: u32) -> Option<ReplayWindow> {
        if !(Self::MIN_SIZE..=Self::MAX_SIZE).contains(&size) || size % 64 != 0 {
            return None;
        }
        Some(ReplayWindow(if size == 64 {
            Repr::Shift { top: 0, bits: 0 }
        } else {
            Repr::Ring(Box::new(Ring {
                size,
                top: 0,
                words: vec![0; size as usize / 64 + 1].into_boxed_slice(),
            }))
        }))
    }

    /// The window size in sequence numbers.
    pub fn size(&self) -> u32 {
        match &self.0 {
            Repr::Shift { .. } => 64,
            Repr::Ring(ring) => ring.size,
        }
    }

    /// The highest sequence number accepted so far, or the floor raised above it
    /// (0 before either).
    pub fn top(&self) -> u32 {
        match &self.0 {
            Repr::Shift { top, .. } => *top,
            Repr::Ring(ring) => ring.top,
        }
    }

    /// Octets this window holds on the heap (0 for the 64-packet window): the ring and
    /// its words, each rounded up as `chunk` says an allocator rounds a request.
    pub fn heap_bytes(&self, chunk: impl Fn(usize) -> usize) -> usize {
        match &self.0 {
            Repr::Shift { .. } => 0,
            Repr::Ring(ring) => chunk(core::mem::size_of::<Ring>()) + chunk(ring.words.len() * 8),
        }
    }

    /// Whether a packet with this sequence number may be processed (RFC 4303 §3.4.3):
    /// [`Error::SequenceZero`] for 0, [`Error::TooOld`] left of the window,
    /// [`Error::Replayed`] if already received. Changes nothing.
    pub fn check(&self, seq: u32) -> Result<(), Error> {
        if seq == 0 {
            return Err(Error::SequenceZero);
        }
        let (top, size) = (self.top(), self.size());
        if seq > top {
            return Ok(());
        }
        if top - seq >= size {
            return Err(Error::TooOld { seq });
        }
        let received = match &self.0 {
            Repr::Shift { bits, .. } => bits & (1u64 << (top - seq)) != 0,
            Repr::Ring(ring) => {
                let (word, bit) = ring.position(seq);
                ring.words[word] & bit != 0
            }
        };
        if received {
            Err(Error::Replayed { seq })
        } else {
            Ok(())
        }
    }

    /// Records `seq` as received, sliding the window right if it is the new highest.
    /// Call only after the packet's ICV verified. Does nothing for 0 or for a number
    /// left of the window.
    pub fn update(&mut self, seq: u32) {
        if seq == 0 {
            return;
        }
        match &mut self.0 {
            Repr::Shift { top, bits } => {
                if seq > *top {
                    let shift = seq - *top;
                    *bits = if shift >= 64 { 0 } else { *bits << shift };
                    *top = seq;
                }
                let behind = *top - seq;
                if behind < 64 {
                    *bits |= 1u64 << behind;
                }
            }
            Repr::Ring(ring) => {
                if seq > ring.top {
                    let words = ring.words.len();
                    let old_block = ring.top as usize / 64;
                    let new_block = seq as usize / 64;
                    if new_block - old_block >= words {
                        ring.words.fill(0);
                    } else {
                        for block in old_block + 1..=new_block {
                            ring.words[block % words] = 0;
                        }
                    }
                    ring.top = seq;
                } else if ring.top - seq >= ring.size {
                    return;
                }
                let (word, bit) = ring.position(seq);
                ring.words[word] |= bit;
            }
        }
    }

    /// [`check`](Self::check), then [`update`](Self::update) if it passed: for callers
    /// that authenticated the packet already.
    pub fn check_and_update(&mut self, seq: u32) -> Result<(), Error> {
        self.check(seq)?;
        self.update(seq);
        Ok(())
    }

    /// Treats every sequence number at or below `floor` as received, as if each had
    /// been [`update`](Self::update)d: a top restored from a persisted record (the
    /// bitmap itself is not persisted, so nothing at or below it may be accepted
    /// again), or a window of one for SAs whose frames must arrive in order. Numbers
    /// above the floor are untouched. O(window size), for rare events only.
    pub fn raise_floor(&mut self, floor: u32) {
        if floor == 0 {
            return;
        }
        self.update(floor);
        let lowest = self.top().saturating_sub(self.size() - 1).max(1);
        for seq in lowest..floor {
            self.update(seq);
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn sizes_outside_range_or_not_multiple_of_64_are_refused() {
        for size in [0, 32, 63, 65, 100, 4097, 4160, u32::MAX] {
            assert!(ReplayWindow::new(size).is_none(), "{size}");
        }
        for size in [64, 128, 1024, 4096] {
            let w = ReplayWindow::new(size).unwrap();
            assert_eq!(w.size(), size);
            match &w.0 {
                Repr::Shift { .. } => assert_eq!(size, 64),
                Repr::Ring(ring) => assert_eq!(ring.words.len(), size as usize / 64 + 1),
            }
        }
        let bytes = |n: usize| n;
        assert_eq!(ReplayWindow::new(64).unwrap().heap_bytes(bytes), 0);
        assert_eq!(
            ReplayWindow::new(128).unwrap().heap_bytes(bytes),
            core::mem::size_of::<Ring>() + 3 * 8
        );
        assert_eq!(core::mem::size_of::<ReplayWindow>(), 16);
        assert_eq!(ReplayWindow::default().size(), 1024);
    }

    #[test]
    fn a_raised_floor_refuses_everything_at_or_below_it_and_nothing_above() {
        for size in [64, 128, 1024] {
            // A fresh window raised to 1000 (a restored top).
            let mut w = ReplayWindow::new(size).unwrap();
            w.raise_floor(3000);
            assert_eq!(w.top(), 3000);
            for seq in [1, 2999 - size, 3000 - size, 3001 - size, 2999, 3000] {
                assert!(w.check(seq).is_err(), "size {size}: {seq} accepted");
            }
            // The rest of 1000's word is still free (the ring clears words only when
            // the top enters them).
            for seq in 3001..3100 {
                assert_eq!(w.check(seq), Ok(()), "size {size}: {seq}");
            }
            // Below the top: a window of one after out-of-order numbers.
            let mut w = ReplayWindow::new(size).unwrap();
            for seq in [50, 40] {
                w.check_and_update(seq).unwrap();
            }
            w.raise_floor(45);
            assert_eq!(w.top(), 50);
            for seq in [41, 44, 45] {
                assert!(w.check(seq).is_err(), "size {size}: {seq} accepted");
            }
            for seq in [46, 49, 51] {
                assert_eq!(w.check(seq), Ok(()), "size {size}: {seq}");
            }
            w.raise_floor(0);
            assert_eq!(w.check(46), Ok(()), "floor 0 changes nothing");
        }
    }

    #[test]
    fn zero_replay_and_too_old() {
        let mut w = ReplayWindow::new(64).unwrap();
        assert_eq!(w.check(0), Err(Error::SequenceZero));
        w.update(0);
        assert_eq!(w.top(), 0);
        assert_eq!(w.check_and_update(1), Ok(()));
        assert_eq!(w.check(1), Err(Error::Replayed { seq: 1 }));
        assert_eq!(w.check_and_update(100), Ok(()));
        // 100 - 37 = 63 < 64: still in the window; 100 - 36 = 64: out.
        assert_eq!(w.check(37), Ok(()));
        assert_eq!(w.check(36), Err(Error::TooOld { seq: 36 }));
        assert_eq!(w.check(1), Err(Error::TooOld { seq: 1 }));
        assert_eq!(w.check(100), Err(Error::Replayed { seq: 100 }));
        // check() alone never records.
        assert_eq!(w.check(50), Ok(()));
        assert_eq!(w.check(50), Ok(()));
    }

    #[test]
    fn the_whole_window_is_usable_at_the_top_of_u32() {
        let mut w = ReplayWindow::new(4096).unwrap();
        w.update(u32::MAX);
        for seq in (u32::MAX - 4095..u32::MAX).rev() {
            assert_eq!(w.check_and_update(seq), Ok(()), "{seq}");
        }
        assert_eq!(
            w.check(u32::MAX - 4096),
            Err(Error::TooOld {
                seq: u32::MAX - 4096
            })
        );
        for seq in u32::MAX - 4095..=u32::MAX {
            assert_eq!(w.check(seq), Err(Error::Replayed { seq }));
        }
    }

    /// The reference model: the set of accepted numbers, the highest floor raised, and
    /// the window rule of RFC 4303 §3.4.3 stated directly.
    fn model_top(set: &BTreeSet<u32>, floor: u32) -> u32 {
        set.last().copied().unwrap_or(0).max(floor)
    }

    fn model_accepts(set: &BTreeSet<u32>, floor: u32, size: u32, seq: u32) -> bool {
        let top = model_top(set, floor);
        seq != 0 && seq > floor && !set.contains(&seq) && (seq > top || top - seq < size)
    }

    fn seqs() -> impl Strategy<Value = Vec<u32>> {
        // Mostly near one another (so the window matters), sometimes far jumps.
        let base = 0u32..3_000_000_000;
        (
            base,
            prop::collection::vec((0u32..6000, any::<bool>(), any::<u32>()), 1..400),
        )
            .prop_map(|(base, steps)| {
                steps
                    .into_iter()
                    .map(|(d, far, r)| {
                        if far && r % 17 == 0 {
                            r
                        } else {
                            base.wrapping_add(d)
                        }
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn window_matches_a_set_model(size_words in 1u32..=64, seqs in seqs(), verified in prop::collection::vec(any::<bool>(), 400), floors in prop::collection::vec(0u8..40, 400)) {
            let size = size_words * 64;
            let mut w = ReplayWindow::new(size).unwrap();
            let mut model = BTreeSet::new();
            let mut floor = 0;
            for (i, &seq) in seqs.iter().enumerate() {
                let accepts = model_accepts(&model, floor, size, seq);
                prop_assert_eq!(w.check(seq).is_ok(), accepts, "seq {} top {}", seq, w.top());
                // Some packets fail their ICV: checked but never recorded.
                if accepts && verified[i] {
                    w.update(seq);
                    model.insert(seq);
                }
                // Now and then a floor is raised at this number (a restore, or an
                // in-order SA's window of one).
                if floors[i] == 0 {
                    w.raise_floor(seq);
                    floor = floor.max(seq);
                }
                prop_assert_eq!(w.top(), model_top(&model, floor));
            }
        }
    }
}
