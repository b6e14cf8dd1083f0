//! The fixed IPv6 header (RFC 8200 §3).
//!
//! [`Packet`] is a zero-copy view over a buffer that starts with an IPv6
//! header; [`Repr`] is its plain, parsed form. Once [`Packet::check_len`] (or
//! [`Packet::new_checked`]) has succeeded, no accessor of the view panics: the
//! buffer holds the 40-octet header and the `Payload Length` octets it
//! announces. Octets after the payload (link-layer padding) are allowed and
//! ignored by [`Packet::payload`].
//!
//! The field accessors are our own; etherparse's `Ipv6HeaderSlice` serves as
//! an independent oracle in the tests.
//!
//! Not supported: jumbograms (RFC 2675: a `Payload Length` of zero means an
//! empty payload here), and extension headers (see [`super::chain`]).

use core::fmt;
use core::net::Ipv6Addr;

use crate::error::{Layer, LenError};

/// Length of the fixed IPv6 header (RFC 8200 §3).
pub const HEADER_LEN: usize = 40;

/// Field offsets of the fixed IPv6 header, RFC 8200 §3:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Traffic Class |           Flow Label                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Source Address (128 bits)                   |
/// |                Destination Address (128 bits)                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
mod field {
    use core::ops::Range;
    /// Version (4 bits), Traffic Class (8 bits), Flow Label (20 bits).
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Largest Flow Label value (20 bits, RFC 8200 §3, RFC 6437).
pub const FLOW_LABEL_MAX: u32 = 0x000F_FFFF;

/// An IPv6 Next Header / IP protocol number (IANA "Assigned Internet Protocol
/// Numbers"; RFC 8200 §4). Open: every `u8` is a value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NextHeader(pub u8);

impl NextHeader {
    /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
    pub const HOP_BY_HOP: NextHeader = NextHeader(0);
    /// TCP.
    pub const TCP: NextHeader = NextHeader(6);
    /// UDP.
    pub const UDP: NextHeader = NextHeader(17);
    /// IPv6 encapsulation (RFC 2473).
    pub const IPV6: NextHeader = NextHeader(41);
    /// Routing header (RFC 8200 §4.4).
    pub const ROUTING: NextHeader = NextHeader(43);
    /// Fragment header (RFC 8200 §4.5).
    pub const FRAGMENT: NextHeader = NextHeader(44);
    /// Encapsulating Security Payload (RFC 4303).
    pub const ESP: NextHeader = NextHeader(50);
    /// Authentication Header (RFC 4302).
    pub const AH: NextHeader = NextHeader(51);
    /// ICMPv6 (RFC 4443).
    pub const ICMPV6: NextHeader = NextHeader(58);
    /// No Next Header (RFC 8200 §4.7).
    pub const NO_NEXT_HEADER: NextHeader = NextHeader(59);
    /// Destination Options (RFC 8200 §4.6).
    pub const DESTINATION_OPTIONS: NextHeader = NextHeader(60);
    /// Mobility Header (RFC 6275 §6.1).
    pub const MOBILITY: NextHeader = NextHeader(135);

    fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::HOP_BY_HOP => "Hop-by-Hop",
            Self::TCP => "TCP",
            Self::UDP => "UDP",
            Self::IPV6 => "IPv6",
            Self::ROUTING => "Routing",
            Self::FRAGMENT => "Fragment",
            Self::ESP => "ESP",
            Self::AH => "AH",
            Self::ICMPV6 => "ICMPv6",
            Self::NO_NEXT_HEADER => "No Next Header",
            Self::DESTINATION_OPTIONS => "Destination Options",
            Self::MOBILITY => "Mobility",
            _ => return None,
        })
    }
}

impl fmt::Debug for NextHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({})", self.0),
            None => write!(f, "NextHeader({})", self.0),
        }
    }
}

impl fmt::Display for NextHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<u8> for NextHeader {
    fn from(v: u8) -> Self {
        NextHeader(v)
    }
}

impl From<NextHeader> for u8 {
    fn from(v: NextHeader) -> Self {
        v.0
    }
}

/// Errors of the fixed IPv6 header (layer [`Layer::Ipv6`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than 40 octets, or than 40 + `Payload Length`.
    #[error(transparent)]
    Len(#[from] LenError),
    /// The Version field is not 6 (RFC 8200 §3).
    #[error("IPv6 header at offset {offset}: version {version}, expected 6")]
    Version {
        /// Offset of the Version field.
        offset: usize,
        /// The version found.
        version: u8,
    },
}

impl Error {
    /// The layer the error belongs to (always [`Layer::Ipv6`] or the length
    /// error's own layer).
    pub fn layer(&self) -> Layer {
        match self {
            Error::Len(e) => e.layer,
            Error::Version { .. } => Layer::Ipv6,
        }
    }

    /// Offset of the offending octet in the parsed buffer.
    pub fn offset(&self) -> usize {
        match self {
            Error::Len(e) => e.offset,
            Error::Version { offset, .. } => *offset,
        }
    }

    /// The same error, `by` octets further into an enclosing buffer.
    #[must_use]
    pub fn shifted(self, by: usize) -> Self {
        match self {
            Error::Len(e) => Error::Len(e.shifted(by)),
            Error::Version { offset, version } => Error::Version {
                offset: offset + by,
                version,
            },
        }
    }
}

/// Zero-copy view of an IPv6 packet: the fixed header and its payload
/// (RFC 8200 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors may panic on a short
    /// buffer. Use for emitting into a buffer known to be large enough.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len) and a check that
    /// the Version field is 6.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        if p.version() != 6 {
            return Err(Error::Version {
                offset: 0,
                version: p.version(),
            });
        }
        Ok(p)
    }

    /// Checks that the buffer holds the 40-octet header and the `Payload
    /// Length` octets it announces. After this, no accessor panics.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(LenError::fixed(Layer::Ipv6, 0, HEADER_LEN, len).into());
        }
        let needed = HEADER_LEN + usize::from(self.payload_len());
        if len < needed {
            return Err(LenError::by_field(Layer::Ipv6, 0, needed, len, "Payload Length").into());
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn ver_tc_flow(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Version (4 bits; 6 for IPv6).
    pub fn version(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_TC_FLOW.start] >> 4) & 0x0F
    }

    /// Traffic Class (8 bits: DSCP and ECN, RFC 8200 §7).
    pub fn traffic_class(&self) -> u8 {
        ((self.ver_tc_flow() >> 20) & 0xFF) as u8
    }

    /// Flow Label (20 bits, RFC 6437).
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & FLOW_LABEL_MAX
    }

    /// Payload Length: octets after the fixed header, extension headers
    /// included (RFC 8200 §3).
    pub fn payload_len(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::PAYLOAD_LEN.start], b[field::PAYLOAD_LEN.start + 1]])
    }

    /// Next Header: the type of the header after this one.
    pub fn next_header(&self) -> NextHeader {
        NextHeader(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// Hop Limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source Address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::SRC_ADDR.start)
    }

    /// Destination Address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::DST_ADDR.start)
    }

    /// The payload: the `Payload Length` octets after the header (trailing
    /// octets of the buffer excluded).
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }

    /// Header and payload: the whole packet, trailing octets excluded.
    pub fn packet(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_ver_tc_flow(&mut self, v: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the Version field (low 4 bits of `v`).
    pub fn set_version(&mut self, v: u8) {
        let w = (self.ver_tc_flow() & 0x0FFF_FFFF) | (u32::from(v & 0x0F) << 28);
        self.set_ver_tc_flow(w);
    }

    /// Sets the Traffic Class.
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = (self.ver_tc_flow() & 0xF00F_FFFF) | (u32::from(tc) << 20);
        self.set_ver_tc_flow(w);
    }

    /// Sets the Flow Label (masked to 20 bits).
    pub fn set_flow_label(&mut self, label: u32) {
        let w = (self.ver_tc_flow() & !FLOW_LABEL_MAX) | (label & FLOW_LABEL_MAX);
        self.set_ver_tc_flow(w);
    }

    /// Sets the Payload Length.
    pub fn set_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the Next Header.
    pub fn set_next_header(&mut self, nh: NextHeader) {
        self.buffer.as_mut()[field::NEXT_HEADER] = nh.0;
    }

    /// Sets the Hop Limit.
    pub fn set_hop_limit(&mut self, hl: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hl;
    }

    /// Sets the Source Address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    /// Sets the Destination Address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    /// The payload, mutable (`Payload Length` octets after the header).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// Reads 16 octets at `at` as an address. Callers have checked the length.
pub(crate) fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

/// Parsed fixed IPv6 header (RFC 8200 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source Address.
    pub src_addr: Ipv6Addr,
    /// Destination Address.
    pub dst_addr: Ipv6Addr,
    /// Next Header.
    pub next_header: NextHeader,
    /// Payload Length.
    pub payload_len: u16,
    /// Hop Limit.
    pub hop_limit: u8,
    /// Traffic Class.
    pub traffic_class: u8,
    /// Flow Label; only the low 20 bits are legal ([`FLOW_LABEL_MAX`]),
    /// [`emit`](Repr::emit) masks the rest away.
    pub flow_label: u32,
}

impl Repr {
    /// Parses a checked view (version 6 is checked again, so a view made with
    /// [`Packet::new_unchecked`] + [`Packet::check_len`] is accepted too).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, Error> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(Error::Version {
                offset: 0,
                version: p.version(),
            });
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: p.payload_len(),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    /// Octets [`emit`](Repr::emit) writes: always [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 40-octet header into the start of `buffer`; the payload is
    /// not touched.
    ///
    /// # Panics
    /// If `buffer` is shorter than [`HEADER_LEN`] (a caller bug, not input).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_ver_tc_flow(
            (6u32 << 28)
                | (u32::from(self.traffic_class) << 20)
                | (self.flow_label & FLOW_LABEL_MAX),
        );
        p.set_payload_len(self.payload_len);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hand-built from the RFC 8200 §3 diagram: version 6, traffic class
    /// 0xA5, flow label 0x12345, payload length 4, next header 59 (No Next
    /// Header), hop limit 64, src 2001:db8:2::100, dst 2001:db8:1::1, then 4
    /// payload octets and 2 octets of trailing link padding.
    const PACKET: [u8; 46] = [
        0x6A, 0x51, 0x23, 0x45, // ver 6, tc 0xA5, flow 0x12345
        0x00, 0x04, 59, 64, // payload len 4, nh 59, hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, // src
        0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // dst
        0xDE, 0xAD, 0xBE, 0xEF, // payload
        0x00, 0x00, // trailing padding
    ];

    fn repr() -> Repr {
        Repr {
            src_addr: "2001:db8:2::100".parse().unwrap(),
            dst_addr: "2001:db8:1::1".parse().unwrap(),
            next_header: NextHeader::NO_NEXT_HEADER,
            payload_len: 4,
            hop_limit: 64,
            traffic_class: 0xA5,
            flow_label: 0x12345,
        }
    }

    #[test]
    fn parse_bytes() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap(), repr());
        assert_eq!(p.payload(), &[0xDE, 0xAD, 0xBE, 0xEF]);
        assert_eq!(p.packet().len(), 44);
    }

    #[test]
    fn agrees_with_etherparse() {
        let e = etherparse::Ipv6HeaderSlice::from_slice(&PACKET).unwrap();
        let r = repr();
        assert_eq!(e.traffic_class(), r.traffic_class);
        assert_eq!(e.flow_label().value(), r.flow_label);
        assert_eq!(e.payload_length(), r.payload_len);
        assert_eq!(e.next_header().0, r.next_header.0);
        assert_eq!(e.source_addr(), r.src_addr);
        assert_eq!(e.destination_addr(), r.dst_addr);
    }

    #[test]
    fn emit_bytes_over_ff() {
        let mut buf = [0xFFu8; 46];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[..40], &PACKET[..40]);
        assert_eq!(&buf[40..], &[0xFF; 6], "payload untouched");
    }

    #[test]
    fn every_truncation() {
        for len in 0..44 {
            let err = Packet::new_checked(&PACKET[..len]).unwrap_err();
            let Error::Len(e) = err else {
                panic!("len {len}: {err:?}")
            };
            assert_eq!(e.layer, Layer::Ipv6);
            assert_eq!(e.actual, len);
            if len < 40 {
                assert_eq!((e.needed, e.length_field), (40, None));
            } else {
                assert_eq!((e.needed, e.length_field), (44, Some("Payload Length")));
            }
        }
        assert!(Packet::new_checked(&PACKET[..44]).is_ok());
    }

    #[test]
    fn version_checked() {
        let mut b = PACKET;
        b[0] = 0x4A;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            Error::Version {
                offset: 0,
                version: 4
            }
        );
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])).unwrap_err(),
            Error::Version {
                offset: 0,
                version: 4
            }
        );
    }

    #[test]
    fn setters_keep_neighbours() {
        let mut b = PACKET;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_traffic_class(0x00);
        assert_eq!((p.version(), p.flow_label()), (6, 0x12345));
        p.set_flow_label(0xFFFF_FFFF);
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0, 0xFFFFF)
        );
    }

    pub(crate) fn arb_addr() -> impl Strategy<Value = Ipv6Addr> {
        any::<[u8; 16]>().prop_map(Ipv6Addr::from)
    }

    prop_compose! {
        pub(crate) fn arb_repr()(
            src_addr in arb_addr(), dst_addr in arb_addr(), nh in any::<u8>(),
            payload_len in any::<u16>(), hop_limit in any::<u8>(), traffic_class in any::<u8>(),
            flow_label in 0..=FLOW_LABEL_MAX,
        ) -> Repr {
            Repr { src_addr, dst_addr, next_header: NextHeader(nh), payload_len, hop_limit,
                   traffic_class, flow_label }
        }
    }

    proptest! {
        #[test]
        fn round_trip(r in arb_repr()) {
            let mut buf = vec![0xFFu8; HEADER_LEN + usize::from(r.payload_len)];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p).unwrap(), r);
            let e = etherparse::Ipv6HeaderSlice::from_slice(&buf).unwrap();
            prop_assert_eq!(e.flow_label().value(), r.flow_label);
            prop_assert_eq!(e.traffic_class(), r.traffic_class);
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = Repr::parse(&p);
                let _ = p.payload();
            }
        }
    }
}
