//! Body of the Binding Acknowledgement (RFC 6275 §6.1.8) and its flags (IANA "Binding
//! Acknowledgment Flags").
//!
//! All 8 flag bits are kept ([`BaFlags`] is a transparent `u8`): K (RFC 6275) and R, P,
//! T, B, S, D of later RFCs and the unassigned low bit round-trip unchanged.
//!
//! Not supported: the meaning of flags other than K (they are only carried).

use super::bu::lifetime_units_to_secs;
use super::seq::SequenceNumber;
use super::status::BaStatus;

/// Octets of a BA's fixed message data (RFC 6275 §6.1.8).
pub const BA_LEN: usize = 6;

/// RFC 6275 §6.1.8, message data only:
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |    Status     |K|  Reserved   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Sequence #          |           Lifetime            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// .                        Mobility options                       .
/// ```
mod field {
    use core::ops::Range;
    pub const STATUS: usize = 0;
    pub const FLAGS: usize = 1;
    pub const SEQUENCE: Range<usize> = 2..4;
    pub const LIFETIME: Range<usize> = 4..6;
}

/// The 8 flag bits of a Binding Acknowledgement (RFC 6275 §6.1.8; IANA "Binding
/// Acknowledgment Flags"), every bit kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BaFlags(pub u8);

impl BaFlags {
    /// K: Key Management Mobility Capability (RFC 6275).
    pub const K: BaFlags = BaFlags(0x80);
    /// R: Mobile Router (RFC 3963).
    pub const R: BaFlags = BaFlags(0x40);
    /// P: Proxy Registration (RFC 5213).
    pub const P: BaFlags = BaFlags(0x20);
    /// T: TLV-header format (RFC 5845).
    pub const T: BaFlags = BaFlags(0x10);
    /// B: Bulk Binding Update (RFC 6602).
    pub const B: BaFlags = BaFlags(0x08);
    /// S: Mobility-Session flag (RFC 7161).
    pub const S: BaFlags = BaFlags(0x04);
    /// D: (RFC 8885).
    pub const D: BaFlags = BaFlags(0x02);

    /// No flag set.
    pub const fn empty() -> Self {
        BaFlags(0)
    }

    /// The raw 8 bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: BaFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the bits of `other` set (`on`) or cleared.
    #[must_use]
    pub const fn with(self, other: BaFlags, on: bool) -> Self {
        if on {
            BaFlags(self.0 | other.0)
        } else {
            BaFlags(self.0 & !other.0)
        }
    }
}

impl core::ops::BitOr for BaFlags {
    type Output = BaFlags;
    fn bitor(self, rhs: BaFlags) -> BaFlags {
        BaFlags(self.0 | rhs.0)
    }
}

/// Body of a Binding Acknowledgement (RFC 6275 §6.1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BindingAckRepr {
    /// Status; below 128 means accepted.
    pub status: BaStatus,
    /// All 8 flag bits (K and the rest, kept raw).
    pub flags: BaFlags,
    /// Sequence # copied from the BU.
    pub sequence: SequenceNumber,
    /// Granted lifetime in units of 4 seconds (RFC 6275 §6.1.8).
    pub lifetime: u16,
}

impl BindingAckRepr {
    /// Reads the fixed part.
    pub fn parse(data: &[u8; BA_LEN]) -> Self {
        BindingAckRepr {
            status: BaStatus::from(data[field::STATUS]),
            flags: BaFlags(data[field::FLAGS]),
            sequence: SequenceNumber(u16::from_be_bytes([data[2], data[3]])),
            lifetime: u16::from_be_bytes([data[4], data[5]]),
        }
    }

    /// Writes the fixed part.
    pub fn emit(&self, data: &mut [u8; BA_LEN]) {
        data[field::STATUS] = self.status.into();
        data[field::FLAGS] = self.flags.0;
        data[field::SEQUENCE].copy_from_slice(&self.sequence.0.to_be_bytes());
        data[field::LIFETIME].copy_from_slice(&self.lifetime.to_be_bytes());
    }

    /// Lifetime in seconds (4 × the field, RFC 6275 §6.1.8).
    pub const fn lifetime_secs(&self) -> u32 {
        lifetime_units_to_secs(self.lifetime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // BA body from RFC 6275 §6.1.8: status 0, K, seq 0x1234, lifetime 150.
    const BA: [u8; 6] = [0, 0x80, 0x12, 0x34, 0x00, 0x96];

    #[test]
    fn known_bytes() {
        let r = BindingAckRepr::parse(&BA);
        assert_eq!(r.status, BaStatus::Accepted);
        assert!(r.status.is_accepted());
        assert_eq!(r.flags, BaFlags::K);
        assert_eq!(r.sequence, SequenceNumber(0x1234));
        assert_eq!(r.lifetime_secs(), 600);
        let mut out = [0xFF; BA_LEN];
        r.emit(&mut out);
        assert_eq!(out, BA);
        // Status 135, flags R|D|low bit kept.
        let r = BindingAckRepr::parse(&[135, 0x43, 0, 1, 0, 0]);
        assert_eq!(r.status, BaStatus::SequenceNumberOutOfWindow);
        assert!(r.flags.contains(BaFlags::R | BaFlags::D));
        assert!(!r.flags.contains(BaFlags::K));
        assert_eq!(r.flags.bits(), 0x43);
    }

    proptest! {
        #[test]
        fn round_trip(status: u8, flags: u8, seq: u16, lifetime: u16) {
            let r = BindingAckRepr {
                status: BaStatus::from(status), flags: BaFlags(flags),
                sequence: SequenceNumber(seq), lifetime,
            };
            let mut b = [0xFF; BA_LEN];
            r.emit(&mut b);
            prop_assert_eq!(BindingAckRepr::parse(&b), r);
        }
    }
}
