//! Body of the Binding Update (RFC 6275 §6.1.7) and its flags (IANA "Binding Update
//! Flags").
//!
//! All 16 flag bits are kept as they came ([`BuFlags`] is a transparent `u16`), so flags
//! this crate does not act on (M, R, P, F, T, B, S, D and the unassigned low bits)
//! round-trip unchanged.
//!
//! Not supported: the meaning of flags other than A, H, L, K (they are only carried).

use super::seq::SequenceNumber;

/// Octets of a BU's fixed message data (RFC 6275 §6.1.7).
pub const BU_LEN: usize = 6;

/// RFC 6275 §6.1.7, message data only:
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |          Sequence #           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |A|H|L|K|        Reserved       |           Lifetime            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// .                        Mobility options                       .
/// ```
mod field {
    use core::ops::Range;
    pub const SEQUENCE: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const LIFETIME: Range<usize> = 4..6;
}

/// The 16 flag bits of a Binding Update (RFC 6275 §6.1.7; IANA "Binding Update Flags"),
/// every bit kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BuFlags(pub u16);

impl BuFlags {
    /// A: Acknowledge requested (RFC 6275).
    pub const A: BuFlags = BuFlags(0x8000);
    /// H: Home Registration (RFC 6275).
    pub const H: BuFlags = BuFlags(0x4000);
    /// L: Link-Local Address Compatibility (RFC 6275).
    pub const L: BuFlags = BuFlags(0x2000);
    /// K: Key Management Mobility Capability (RFC 6275).
    pub const K: BuFlags = BuFlags(0x1000);
    /// M: MAP Registration (RFC 4140).
    pub const M: BuFlags = BuFlags(0x0800);
    /// R: Mobile Router (RFC 3963).
    pub const R: BuFlags = BuFlags(0x0400);
    /// P: Proxy Registration (RFC 5213).
    pub const P: BuFlags = BuFlags(0x0200);
    /// F: Forcing UDP encapsulation (RFC 5555).
    pub const F: BuFlags = BuFlags(0x0100);
    /// T: TLV-header format (RFC 5845).
    pub const T: BuFlags = BuFlags(0x0080);
    /// B: Bulk Binding Update (RFC 6602).
    pub const B: BuFlags = BuFlags(0x0040);
    /// S: Mobility-Session flag (RFC 7161).
    pub const S: BuFlags = BuFlags(0x0020);
    /// D: (RFC 8885).
    pub const D: BuFlags = BuFlags(0x0010);

    /// No flag set.
    pub const fn empty() -> Self {
        BuFlags(0)
    }

    /// The raw 16 bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: BuFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the bits of `other` set (`on`) or cleared.
    #[must_use]
    pub const fn with(self, other: BuFlags, on: bool) -> Self {
        if on {
            BuFlags(self.0 | other.0)
        } else {
            BuFlags(self.0 & !other.0)
        }
    }
}

impl core::ops::BitOr for BuFlags {
    type Output = BuFlags;
    fn bitor(self, rhs: BuFlags) -> BuFlags {
        BuFlags(self.0 | rhs.0)
    }
}

/// Body of a Binding Update (RFC 6275 §6.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BindingUpdateRepr {
    /// Sequence #, compared modulo 2^16 (RFC 6275 §9.5.1).
    pub sequence: SequenceNumber,
    /// All 16 flag bits (A, H, L, K and the rest, kept raw).
    pub flags: BuFlags,
    /// Lifetime in units of 4 seconds (RFC 6275 §6.1.7); 0 = delete the binding.
    pub lifetime: u16,
}

impl BindingUpdateRepr {
    /// Reads the fixed part.
    pub fn parse(data: &[u8; BU_LEN]) -> Self {
        BindingUpdateRepr {
            sequence: SequenceNumber(u16::from_be_bytes([data[0], data[1]])),
            flags: BuFlags(u16::from_be_bytes([data[2], data[3]])),
            lifetime: u16::from_be_bytes([data[4], data[5]]),
        }
    }

    /// Writes the fixed part.
    pub fn emit(&self, data: &mut [u8; BU_LEN]) {
        data[field::SEQUENCE].copy_from_slice(&self.sequence.0.to_be_bytes());
        data[field::FLAGS].copy_from_slice(&self.flags.0.to_be_bytes());
        data[field::LIFETIME].copy_from_slice(&self.lifetime.to_be_bytes());
    }

    /// Lifetime in seconds (4 × the field, RFC 6275 §6.1.7).
    pub const fn lifetime_secs(&self) -> u32 {
        lifetime_units_to_secs(self.lifetime)
    }
}

/// Seconds of a 4-second-unit Lifetime field (BU §6.1.7, BA §6.1.8).
pub const fn lifetime_units_to_secs(units: u16) -> u32 {
    units as u32 * 4
}

/// Lifetime field for `secs` seconds: rounded down to 4-second units, saturating at
/// 65535 units (262140 s) (RFC 6275 §6.1.7, §6.1.8).
pub const fn lifetime_secs_to_units(secs: u32) -> u16 {
    let units = secs / 4;
    if units > u16::MAX as u32 {
        u16::MAX
    } else {
        units as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // BU body from RFC 6275 §6.1.7: seq 0x1234, A|H|K (0xD000), lifetime 150 (600 s).
    const BU: [u8; 6] = [0x12, 0x34, 0xD0, 0x00, 0x00, 0x96];

    #[test]
    fn known_bytes() {
        let r = BindingUpdateRepr::parse(&BU);
        assert_eq!(r.sequence, SequenceNumber(0x1234));
        assert!(r.flags.contains(BuFlags::A | BuFlags::H | BuFlags::K));
        assert!(!r.flags.contains(BuFlags::L));
        assert_eq!(r.flags, BuFlags::A | BuFlags::H | BuFlags::K);
        assert_eq!(r.lifetime_secs(), 600);
        let mut out = [0xFF; BU_LEN];
        r.emit(&mut out);
        assert_eq!(out, BU);
    }

    #[test]
    fn other_flag_bits_survive() {
        let bytes = [0, 1, 0x0F, 0xFF, 0, 1];
        let r = BindingUpdateRepr::parse(&bytes);
        assert!(r
            .flags
            .contains(BuFlags::M | BuFlags::R | BuFlags::P | BuFlags::D));
        assert_eq!(r.flags.bits() & 0x000F, 0x000F);
        let mut out = [0; BU_LEN];
        r.emit(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(
            BuFlags::empty()
                .with(BuFlags::A, true)
                .with(BuFlags::A, false),
            BuFlags(0)
        );
    }

    #[test]
    fn lifetime_conversions() {
        assert_eq!(lifetime_secs_to_units(600), 150);
        assert_eq!(lifetime_secs_to_units(603), 150);
        assert_eq!(lifetime_secs_to_units(u32::MAX), u16::MAX);
        assert_eq!(lifetime_units_to_secs(u16::MAX), 262_140);
    }

    proptest! {
        #[test]
        fn round_trip(seq: u16, flags: u16, lifetime: u16) {
            let r = BindingUpdateRepr { sequence: SequenceNumber(seq), flags: BuFlags(flags), lifetime };
            let mut b = [0xFF; BU_LEN];
            r.emit(&mut b);
            prop_assert_eq!(BindingUpdateRepr::parse(&b), r);
        }
    }
}
