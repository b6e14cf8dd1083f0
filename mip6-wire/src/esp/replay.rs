//! The ESP anti-replay window (RFC 4303 §3.4.3 and Appendix A).
//!
//! A bitmap of the last `size` sequence numbers below and including the highest one
//! received, kept as a ring of 64-bit words (RFC 6479's layout, one word larger than
//! the window so all `size` positions are usable), sized to its window (a home agent
//! keeps up to three inbound SAs per mobile node, so a fixed 4096-packet array would
//! cost 520 octets each): the two words of RFC 4303's recommended 64-packet window are
//! held inline (a 32-octet `ReplayWindow`, no heap), larger windows allocate their
//! words once when the SA is made. No allocation per packet, O(1) check, update in
//! O(words cleared).
//!
//! [`ReplayWindow::check`] runs before the ICV is verified and does not change
//! anything; [`ReplayWindow::update`] is called only once the ICV verified
//! (RFC 4303 §3.4.3: "the receive window is updated only if the integrity
//! verification succeeds").
//!
//! Not supported: Extended Sequence Numbers (RFC 4303 Appendix A2); window sizes that
//! are not a multiple of 64 or outside 64..=4096.

use super::Error;

/// The receiver's anti-replay state of one inbound SA (RFC 4303 §3.4.3).
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    size: u32,
    top: u32,
    /// `size / 64 + 1` words (RFC 6479 §2).
    bitmap: Bitmap,
}

/// The window's words: inline for the 64-packet window, boxed beyond.
#[derive(Clone, PartialEq, Eq)]
enum Bitmap {
    Inline([u64; 2]),
    Heap(Box<[u64]>),
}

impl core::ops::Deref for Bitmap {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        match self {
            Bitmap::Inline(words) => words,
            Bitmap::Heap(words) => words,
        }
    }
}

impl core::ops::DerefMut for Bitmap {
    fn deref_mut(&mut self) -> &mut [u64] {
        match self {
            Bitmap::Inline(words) => words,
            Bitmap::Heap(words) => words,
        }
    }
}

impl core::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("size", &self.size)
            .field("top", &self.top)
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
        Some(ReplayWindow {
            size,
            top: 0,
            bitmap: match size as usize / 64 + 1 {
                2 => Bitmap::Inline([0; 2]),
                words => Bitmap::Heap(vec![0; words].into_boxed_slice()),
            },
        })
    }

    /// The window size in sequence numbers.
    pub const fn size(&self) -> u32 {
        self.size
    }

    /// The highest sequence number accepted so far (0 before the first).
    pub const fn top(&self) -> u32 {
        self.top
    }

    fn words(&self) -> usize {
        self.bitmap.len()
    }

    fn position(&self, seq: u32) -> (usize, u64) {
        ((seq as usize / 64) % self.words(), 1u64 << (seq % 64))
    }

    /// Whether a packet with this sequence number may be processed (RFC 4303 §3.4.3):
    /// [`Error::SequenceZero`] for 0, [`Error::TooOld`] left of the window,
    /// [`Error::Replayed`] if already received. Changes nothing.
    pub fn check(&self, seq: u32) -> Result<(), Error> {
        if seq == 0 {
            return Err(Error::SequenceZero);
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= self.size {
            return Err(Error::TooOld { seq });
        }
        let (word, bit) = self.position(seq);
        if self.bitmap[word] & bit != 0 {
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
        if seq > self.top {
            let words = self.words();
            let old_block = self.top as usize / 64;
            let new_block = seq as usize / 64;
            if new_block - old_block >= words {
                self.bitmap.fill(0);
            } else {
                for block in old_block + 1..=new_block {
                    self.bitmap[block % words] = 0;
                }
            }
            self.top = seq;
        } else if self.top - seq >= self.size {
            return;
        }
        let (word, bit) = self.position(seq);
        self.bitmap[word] |= bit;
    }

    /// [`check`](Self::check), then [`update`](Self::update) if it passed: for callers
    /// that authenticated the packet already.
    pub fn check_and_update(&mut self, seq: u32) -> Result<(), Error> {
        self.check(seq)?;
        self.update(seq);
        Ok(())
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
            assert_eq!(w.words(), size as usize / 64 + 1);
        }
        assert!(matches!(
            ReplayWindow::new(64).unwrap().bitmap,
            Bitmap::Inline(_)
        ));
        assert_eq!(core::mem::size_of::<ReplayWindow>(), 32);
        assert_eq!(ReplayWindow::default().size(), 1024);
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

    /// The reference model: the set of accepted numbers and the window rule of
    /// RFC 4303 §3.4.3 stated directly.
    fn model_accepts(set: &BTreeSet<u32>, size: u32, seq: u32) -> bool {
        let top = set.last().copied().unwrap_or(0);
        seq != 0 && !set.contains(&seq) && (seq > top || top - seq < size)
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
        fn window_matches_a_set_model(size_words in 1u32..=64, seqs in seqs(), verified in prop::collection::vec(any::<bool>(), 400)) {
            let size = size_words * 64;
            let mut w = ReplayWindow::new(size).unwrap();
            let mut model = BTreeSet::new();
            for (i, &seq) in seqs.iter().enumerate() {
                let accepts = model_accepts(&model, size, seq);
                prop_assert_eq!(w.check(seq).is_ok(), accepts, "seq {} top {}", seq, w.top());
                // Some packets fail their ICV: checked but never recorded.
                if accepts && verified[i] {
                    w.update(seq);
                    model.insert(seq);
                }
                prop_assert_eq!(w.top(), model.last().copied().unwrap_or(0));
            }
        }
    }
}
