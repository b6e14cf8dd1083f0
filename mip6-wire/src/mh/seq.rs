//! Binding Update sequence numbers and their modulo-2^16 comparison (RFC 6275 §9.5.1).
//!
//! Not supported: a total order. "Newer than" is not transitive across the whole space
//! (RFC 6275 §9.5.1 compares modulo 2^16), so [`SequenceNumber`] deliberately implements
//! neither `PartialOrd` nor `Ord`.

/// A 16-bit Binding Update / Binding Acknowledgement sequence number (RFC 6275 §6.1.7,
/// §6.1.8), compared modulo 2^16 as RFC 6275 §9.5.1 prescribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SequenceNumber(pub u16);

impl SequenceNumber {
    /// `self` is newer than `other` iff `(self - other) mod 2^16` lies in `1..=32767`
    /// (RFC 6275 §9.5.1: "less than 32768 after wrap-around").
    pub const fn is_newer_than(self, other: SequenceNumber) -> bool {
        let d = self.0.wrapping_sub(other.0);
        d >= 1 && d <= 0x7FFF
    }

    /// The next sequence number, wrapping from 65535 to 0 (RFC 6275 §11.7.1).
    #[must_use]
    pub const fn next(self) -> SequenceNumber {
        SequenceNumber(self.0.wrapping_add(1))
    }

    /// `self + n` modulo 2^16.
    #[must_use]
    pub const fn wrapping_add(self, n: u16) -> SequenceNumber {
        SequenceNumber(self.0.wrapping_add(n))
    }
}

impl From<u16> for SequenceNumber {
    fn from(v: u16) -> Self {
        SequenceNumber(v)
    }
}

impl From<SequenceNumber> for u16 {
    fn from(s: SequenceNumber) -> Self {
        s.0
    }
}

impl core::fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: u16) -> SequenceNumber {
        SequenceNumber(v)
    }

    #[test]
    fn newer_than_at_wrap_around() {
        assert!(s(0).is_newer_than(s(65535)));
        assert!(s(5).is_newer_than(s(65530)));
        assert!(!s(65535).is_newer_than(s(0)));
        assert!(s(32767).is_newer_than(s(0)));
        assert!(!s(32768).is_newer_than(s(0)), "distance 32768 is not newer");
        assert!(
            s(0).is_newer_than(s(32769)),
            "distance 32767 after wrap is newer"
        );
        assert!(!s(7).is_newer_than(s(7)), "equal is not newer");
        assert_eq!(s(65535).next(), s(0));
        assert_eq!(s(65530).wrapping_add(10), s(4));
    }

    proptest! {
        #[test]
        fn newer_is_antisymmetric_and_next_is_newer(a: u16, b: u16) {
            let (a, b) = (s(a), s(b));
            prop_assert!(!(a.is_newer_than(b) && b.is_newer_than(a)));
            prop_assert!(a.next().is_newer_than(a));
            // Exactly one of newer / older / equal, except at distance 32768.
            let d = a.0.wrapping_sub(b.0);
            if d != 0x8000 && d != 0 {
                prop_assert!(a.is_newer_than(b) ^ b.is_newer_than(a));
            }
        }
    }
}
