//! The type 2 Routing Header (RFC 6275 §6.4), a Routing header (RFC 8200
//! §4.4) of routing type 2 that carries exactly one address, the mobile
//! node's home address.
//!
//! [`Header`] is a zero-copy view; once [`Header::check_len`] has succeeded
//! no accessor panics (the buffer holds at least the 24 octets of a type 2
//! header and the `(Hdr Ext Len + 1) * 8` octets the header announces).
//! [`Repr::parse`] accepts only what RFC 6275 §6.4 allows: routing type 2,
//! `Hdr Ext Len` 2 (one address), `Segments Left` 1; every refusal names the
//! offending field's offset, which is the pointer an ICMPv6 Parameter Problem
//! (code 0) would carry once shifted to the packet.
//!
//! Not supported: other routing types (the chain walker, [`super::chain`],
//! steps over them); processing the header (swapping the address into the
//! IPv6 destination, RFC 6275 §11.3.3, is the engine's decision).
//! The Reserved field is ignored on parse and zeroed on emit.

use core::net::Ipv6Addr;

use super::ipv6::{addr_at, NextHeader};
use crate::error::{Layer, LenError};

/// Field offsets of the type 2 Routing Header, RFC 6275 §6.4:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header  | Hdr Ext Len=2 | Routing Type=2|Segments Left=1|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                            Reserved                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +                         Home Address                          +
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
mod field {
    use core::ops::Range;
    pub const NEXT_HEADER: usize = 0;
    pub const HDR_EXT_LEN: usize = 1;
    pub const ROUTING_TYPE: usize = 2;
    pub const SEGMENTS_LEFT: usize = 3;
    pub const RESERVED: Range<usize> = 4..8;
    pub const HOME_ADDRESS: Range<usize> = 8..24;
}

/// Octets of a type 2 Routing Header (RFC 6275 §6.4).
pub const HEADER_LEN: usize = 24;
/// Octets of the fixed part every Routing header has (RFC 8200 §4.4).
pub const ROUTING_FIXED_LEN: usize = 8;
/// The routing type of this header.
pub const ROUTING_TYPE: u8 = 2;
/// The only Hdr Ext Len RFC 6275 §6.4 allows.
pub const HDR_EXT_LEN: u8 = 2;
/// The only Segments Left RFC 6275 §6.4 allows.
pub const SEGMENTS_LEFT: u8 = 1;

/// Errors of the type 2 Routing Header (layer [`Layer::RoutingHeaderType2`]).
///
/// Offsets are relative to the buffer the parser was given (the header's
/// first octet is 0) and point at the offending field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The header is cut short.
    #[error(transparent)]
    Len(#[from] LenError),
    /// Routing Type is not 2.
    #[error("type 2 routing header: Routing Type {value} at offset {offset}, expected 2")]
    RoutingType {
        /// Offset of the Routing Type octet.
        offset: usize,
        /// Value found.
        value: u8,
    },
    /// Hdr Ext Len is not 2: the header would carry no address or more than
    /// one (RFC 6275 §6.4).
    #[error("type 2 routing header: Hdr Ext Len {value} at offset {offset}, must be 2")]
    HdrExtLen {
        /// Offset of the Hdr Ext Len octet.
        offset: usize,
        /// Value found.
        value: u8,
    },
    /// Segments Left is not 1 (RFC 6275 §6.4).
    #[error("type 2 routing header: Segments Left {value} at offset {offset}, must be 1")]
    SegmentsLeft {
        /// Offset of the Segments Left octet.
        offset: usize,
        /// Value found.
        value: u8,
    },
}

impl Error {
    /// The layer the error belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            Error::Len(e) => e.layer,
            _ => Layer::RoutingHeaderType2,
        }
    }

    /// Offset of the offending octet in the parsed buffer.
    pub fn offset(&self) -> usize {
        match self {
            Error::Len(e) => e.offset,
            Error::RoutingType { offset, .. }
            | Error::HdrExtLen { offset, .. }
            | Error::SegmentsLeft { offset, .. } => *offset,
        }
    }

    /// The same error, `by` octets further into an enclosing buffer.
    #[must_use]
    pub fn shifted(self, by: usize) -> Self {
        match self {
            Error::Len(e) => Error::Len(e.shifted(by)),
            Error::RoutingType { offset, value } => Error::RoutingType {
                offset: offset + by,
                value,
            },
            Error::HdrExtLen { offset, value } => Error::HdrExtLen {
                offset: offset + by,
                value,
            },
            Error::SegmentsLeft { offset, value } => Error::SegmentsLeft {
                offset: offset + by,
                value,
            },
        }
    }
}

/// Zero-copy view of a type 2 Routing Header (RFC 6275 §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps a buffer without checking it; accessors may panic on a short
    /// buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks that the buffer holds the 24 octets of a type 2 header and the
    /// `(Hdr Ext Len + 1) * 8` octets the header announces. After this, no
    /// accessor panics.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < ROUTING_FIXED_LEN {
            return Err(
                LenError::fixed(Layer::RoutingHeaderType2, 0, ROUTING_FIXED_LEN, len).into(),
            );
        }
        let announced = self.header_len();
        if len < announced {
            return Err(LenError::by_field(
                Layer::RoutingHeaderType2,
                0,
                announced,
                len,
                "Hdr Ext Len",
            )
            .into());
        }
        if len < HEADER_LEN {
            return Err(LenError::fixed(Layer::RoutingHeaderType2, 0, HEADER_LEN, len).into());
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Next Header.
    pub fn next_header(&self) -> NextHeader {
        NextHeader(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// Hdr Ext Len (8-octet units, not counting the first 8).
    pub fn hdr_ext_len(&self) -> u8 {
        self.buffer.as_ref()[field::HDR_EXT_LEN]
    }

    /// Length the header announces: `(Hdr Ext Len + 1) * 8`.
    pub fn header_len(&self) -> usize {
        (usize::from(self.hdr_ext_len()) + 1) * 8
    }

    /// Routing Type.
    pub fn routing_type(&self) -> u8 {
        self.buffer.as_ref()[field::ROUTING_TYPE]
    }

    /// Segments Left.
    pub fn segments_left(&self) -> u8 {
        self.buffer.as_ref()[field::SEGMENTS_LEFT]
    }

    /// Reserved (ignored on receipt).
    pub fn reserved(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::RESERVED];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Home Address.
    pub fn home_address(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::HOME_ADDRESS.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Sets Next Header.
    pub fn set_next_header(&mut self, nh: NextHeader) {
        self.buffer.as_mut()[field::NEXT_HEADER] = nh.0;
    }

    /// Sets Hdr Ext Len.
    pub fn set_hdr_ext_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HDR_EXT_LEN] = v;
    }

    /// Sets Routing Type.
    pub fn set_routing_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::ROUTING_TYPE] = v;
    }

    /// Sets Segments Left.
    pub fn set_segments_left(&mut self, v: u8) {
        self.buffer.as_mut()[field::SEGMENTS_LEFT] = v;
    }

    /// Clears the Reserved field.
    pub fn clear_reserved(&mut self) {
        self.buffer.as_mut()[field::RESERVED].fill(0);
    }

    /// Sets Home Address.
    pub fn set_home_address(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::HOME_ADDRESS].copy_from_slice(&a.octets());
    }
}

/// A parsed type 2 Routing Header (RFC 6275 §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Next Header after this one.
    pub next_header: NextHeader,
    /// The mobile node's home address: the packet's final destination.
    pub home_address: Ipv6Addr,
}

impl Repr {
    /// Parses a header, refusing any value RFC 6275 §6.4 does not allow.
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<Repr, Error> {
        h.check_len()?;
        if h.routing_type() != ROUTING_TYPE {
            return Err(Error::RoutingType {
                offset: field::ROUTING_TYPE,
                value: h.routing_type(),
            });
        }
        if h.hdr_ext_len() != HDR_EXT_LEN {
            return Err(Error::HdrExtLen {
                offset: field::HDR_EXT_LEN,
                value: h.hdr_ext_len(),
            });
        }
        if h.segments_left() != SEGMENTS_LEFT {
            return Err(Error::SegmentsLeft {
                offset: field::SEGMENTS_LEFT,
                value: h.segments_left(),
            });
        }
        Ok(Repr {
            next_header: h.next_header(),
            home_address: h.home_address(),
        })
    }

    /// Octets [`emit`](Repr::emit) writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 24-octet header, Reserved zeroed.
    ///
    /// # Panics
    /// If the buffer is shorter than [`HEADER_LEN`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut Header<T>) {
        h.set_next_header(self.next_header);
        h.set_hdr_ext_len(HDR_EXT_LEN);
        h.set_routing_type(ROUTING_TYPE);
        h.set_segments_left(SEGMENTS_LEFT);
        h.clear_reserved();
        h.set_home_address(self.home_address);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ext::ipv6::tests::arb_addr;
    use proptest::prelude::*;

    /// The RH2 of a BA, hand-built from the RFC 6275 §6.4 diagram: next
    /// header 50 (ESP), Hdr Ext Len 2, Routing Type 2, Segments Left 1,
    /// Reserved 0, Home Address 2001:db8:1::100.
    pub(crate) const BA_RH2: [u8; 24] = [
        50, 2, 2, 1, // next header ESP, hdr ext len 2, type 2, segments left 1
        0, 0, 0, 0, // reserved
        0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
    ];

    fn repr() -> Repr {
        Repr {
            next_header: NextHeader::ESP,
            home_address: "2001:db8:1::100".parse().unwrap(),
        }
    }

    #[test]
    fn parse_ba_rh2() {
        let h = Header::new_checked(&BA_RH2[..]).unwrap();
        assert_eq!(Repr::parse(&h).unwrap(), repr());
    }

    #[test]
    fn reserved_ignored_on_parse() {
        let mut b = BA_RH2;
        b[4..8].fill(0xAB);
        let h = Header::new_checked(&b[..]).unwrap();
        assert_eq!(h.reserved(), 0xABAB_ABAB);
        assert_eq!(Repr::parse(&h).unwrap(), repr());
    }

    #[test]
    fn emit_over_ff() {
        let mut buf = [0xFFu8; 26];
        repr().emit(&mut Header::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[..24], &BA_RH2[..]);
        assert_eq!(&buf[24..], &[0xFF, 0xFF]);
    }

    #[test]
    fn every_truncation() {
        for len in 0..24 {
            let e = Header::new_checked(&BA_RH2[..len]).unwrap_err();
            let expected = if len < 8 {
                LenError::fixed(Layer::RoutingHeaderType2, 0, 8, len)
            } else {
                LenError::by_field(Layer::RoutingHeaderType2, 0, 24, len, "Hdr Ext Len")
            };
            assert_eq!(e, Error::Len(expected), "len {len}");
        }
    }

    #[test]
    fn segments_left_0_and_2_rejected() {
        for sl in [0u8, 2] {
            let mut b = BA_RH2;
            b[3] = sl;
            let e = Repr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap_err();
            assert_eq!(
                e,
                Error::SegmentsLeft {
                    offset: 3,
                    value: sl
                }
            );
            assert_eq!(e.shifted(40).offset(), 43);
            assert_eq!(e.layer(), Layer::RoutingHeaderType2);
        }
    }

    /// Hdr Ext Len 4: two addresses, 40 octets (hand-built: BA_RH2 with a
    /// second address 2001:db8:1::101 appended).
    #[test]
    fn hdr_ext_len_4_rejected() {
        let mut b = [0u8; 40];
        b[..24].copy_from_slice(&BA_RH2);
        b[1] = 4;
        b[24..40].copy_from_slice(&"2001:db8:1::101".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(
            Repr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap_err(),
            Error::HdrExtLen {
                offset: 1,
                value: 4
            }
        );
        // Cut short, the same header is a length error by its Hdr Ext Len.
        assert_eq!(
            Header::new_checked(&b[..24]).unwrap_err(),
            Error::Len(LenError::by_field(
                Layer::RoutingHeaderType2,
                0,
                40,
                24,
                "Hdr Ext Len"
            ))
        );
    }

    #[test]
    fn hdr_ext_len_0_rejected_when_bytes_follow() {
        let mut b = BA_RH2;
        b[1] = 0;
        assert_eq!(
            Repr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap_err(),
            Error::HdrExtLen {
                offset: 1,
                value: 0
            }
        );
        assert_eq!(
            Header::new_checked(&b[..8]).unwrap_err(),
            Error::Len(LenError::fixed(Layer::RoutingHeaderType2, 0, 24, 8))
        );
    }

    #[test]
    fn other_routing_type_rejected() {
        let mut b = BA_RH2;
        b[2] = 0;
        assert_eq!(
            Repr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap_err(),
            Error::RoutingType {
                offset: 2,
                value: 0
            }
        );
    }

    prop_compose! {
        pub(crate) fn arb_repr()(nh in any::<u8>(), home_address in arb_addr()) -> Repr {
            Repr { next_header: NextHeader(nh), home_address }
        }
    }

    proptest! {
        #[test]
        fn round_trip(r in arb_repr()) {
            let mut buf = [0xFFu8; HEADER_LEN];
            r.emit(&mut Header::new_unchecked(&mut buf[..]));
            prop_assert_eq!(&buf[4..8], &[0u8; 4]);
            prop_assert_eq!(Repr::parse(&Header::new_checked(&buf[..]).unwrap()).unwrap(), r);
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..48)) {
            if let Ok(h) = Header::new_checked(&b[..]) {
                let _ = Repr::parse(&h);
            }
        }
    }
}
