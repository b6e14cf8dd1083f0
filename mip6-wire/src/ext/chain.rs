//! The IPv6 extension-header chain (RFC 8200 §4, §4.1): a bounded walker
//! over a whole received packet, and an emitter for the headers Mobile IPv6
//! signalling needs (RFC 6275 §6.3, §6.4).
//!
//! [`walk`] reads the fixed header, then follows Next Header through
//! Hop-by-Hop (0), Routing (43), Fragment (44) and Destination Options (60)
//! headers, and stops at the first other header: ESP (50), Mobility (135),
//! IPv6-in-IPv6 (41), No Next Header (59), AH (51) or any upper layer. The
//! [`Chain`] it returns borrows nothing and allocated nothing: the IPv6
//! fields, the home address of a Home Address option, the address of a type 2
//! Routing Header, and where the final header starts. Bounds: the packet ends
//! where the IPv6 `Payload Length` says (trailing octets are ignored), every
//! header length is checked against it, at most [`MAX_EXTENSION_HEADERS`]
//! extension headers are walked, and every error names its layer and the
//! offset from the start of the packet.
//!
//! What the walker enforces (RFC 8200 §4.1, §4.2, RFC 6275 §6.3–6.4):
//! Hop-by-Hop only right after the IPv6 header; options with action bits
//! other than `00` that it does not recognize are refused (the error carries
//! the action and the pointer for ICMPv6 Parameter Problem code 2); at most
//! one Home Address option and one type 2 Routing Header per packet; the type
//! 2 header's own rules ([`super::routing_type2`]).
//!
//! What it reports and leaves to the caller: a Routing header of another type
//! is stepped over and reported in [`Chain::other_routing`] (RFC 8200 §4.4
//! says to send a Parameter Problem when its Segments Left is non-zero: that
//! is the caller's decision); a Fragment header is stepped over when it is a
//! first fragment (offset 0) and reported in [`Chain::fragment`]; at a later
//! fragment the walk stops with [`Chain::final_header`] = Fragment, since the
//! headers after it are not in this packet.
//!
//! Not supported: reassembly; walking past AH; jumbograms; checking the
//! order of extension headers beyond the Hop-by-Hop rule or that a header
//! other than Destination Options appears once; emitting Hop-by-Hop options
//! (the emitter writes IPv6, then RH2, then Destination Options with the Home
//! Address option, the RFC 8200 §4.1 order without Hop-by-Hop).

use core::net::Ipv6Addr;
use core::ops::Range;

use super::home_address::{self, Header as DestOptsHeader, Repr as DestOptsRepr};
use super::ipv6::{self, NextHeader, Packet as Ipv6Packet, Repr as Ipv6Repr, HEADER_LEN};
use super::options::{OptionType, Options, UnrecognizedAction};
use super::routing_type2::{self, Header as Rh2Header, Repr as Rh2Repr};
use crate::error::{Layer, LenError};

/// Most extension headers [`walk`] steps over before it gives up with
/// [`Error::TooManyHeaders`].
pub const MAX_EXTENSION_HEADERS: usize = 16;

/// Length of a Fragment header (RFC 8200 §4.5).
const FRAGMENT_LEN: usize = 8;

/// Field offsets shared by the extension headers the walker steps over,
/// RFC 8200 §4.3–4.6 (the first two octets of each; for the Routing header
/// also its type and Segments Left), and of the Fragment header, RFC 8200 §4.5:
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header  |  Hdr Ext Len  |  Routing Type | Segments Left |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Identification                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
mod field {
    use core::ops::Range;
    pub const NEXT_HEADER: usize = 0;
    pub const HDR_EXT_LEN: usize = 1;
    pub const ROUTING_TYPE: usize = 2;
    pub const SEGMENTS_LEFT: usize = 3;
    pub const FRAG_OFFSET_M: Range<usize> = 2..4;
    pub const FRAG_IDENT: Range<usize> = 4..8;
}

/// Errors of the header chain. Offsets count from the first octet of the
/// packet given to [`walk`] and point at the offending header or field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The fixed IPv6 header is bad or cut short.
    #[error(transparent)]
    Ipv6(#[from] ipv6::Error),
    /// A Destination Options header or its Home Address option is bad.
    #[error(transparent)]
    DestinationOptions(#[from] home_address::Error),
    /// A type 2 Routing Header is bad.
    #[error(transparent)]
    RoutingType2(#[from] routing_type2::Error),
    /// A Hop-by-Hop, Fragment or other Routing header, or an option in
    /// Hop-by-Hop, runs past the IPv6 payload (layer
    /// [`Layer::ExtensionHeader`]).
    #[error(transparent)]
    Len(#[from] LenError),
    /// A Hop-by-Hop header not right after the IPv6 header (RFC 8200 §4.1;
    /// an ICMPv6 Parameter Problem code 1 would point at the Next Header
    /// naming it, the caller knows which).
    #[error(
        "Hop-by-Hop Options header at offset {offset}, allowed only right after the IPv6 header"
    )]
    HopByHopNotFirst {
        /// Offset of the Hop-by-Hop header.
        offset: usize,
    },
    /// An unrecognized Hop-by-Hop option whose action bits say not to skip
    /// it (RFC 8200 §4.2).
    #[error("Hop-by-Hop header: unrecognized option {option_type} at offset {offset}, action {action:?}")]
    UnrecognizedOption {
        /// Offset of the Option Type octet.
        offset: usize,
        /// The option type.
        option_type: OptionType,
        /// What RFC 8200 §4.2 says to do about it.
        action: UnrecognizedAction,
    },
    /// A second Destination Options header carrying a Home Address option
    /// (RFC 6275 §6.3 allows one per packet).
    #[error("second Home Address option, in the Destination Options header at offset {offset} (first in the one at {first})")]
    DuplicateHomeAddress {
        /// Offset of the second Destination Options header.
        offset: usize,
        /// Offset of the first.
        first: usize,
    },
    /// A second type 2 Routing Header (RFC 6275 §6.4 allows one).
    #[error("second type 2 routing header at offset {offset} (first at {first})")]
    DuplicateRoutingType2 {
        /// Offset of the second header.
        offset: usize,
        /// Offset of the first.
        first: usize,
    },
    /// More than [`MAX_EXTENSION_HEADERS`] extension headers.
    #[error("more than {limit} extension headers: giving up at offset {offset}")]
    TooManyHeaders {
        /// Offset of the first header past the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// Emitter: headers plus payload exceed the 65535 octets IPv6 Payload
    /// Length can say (no jumbograms).
    #[error("IPv6 payload of {length} octets does not fit the Payload Length field")]
    PayloadTooLong {
        /// Octets after the fixed header, extension headers included.
        length: usize,
    },
    /// Emitter: the buffer is shorter than [`ChainRepr::buffer_len`].
    #[error("buffer of {actual} octets, the headers need {needed}")]
    BufferTooShort {
        /// Octets needed.
        needed: usize,
        /// Octets given.
        actual: usize,
    },
}

impl Error {
    /// The layer the error belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            Error::Ipv6(e) => e.layer(),
            Error::DestinationOptions(e) => e.layer(),
            Error::RoutingType2(e) => e.layer(),
            Error::Len(e) => e.layer,
            Error::DuplicateHomeAddress { .. } => Layer::HomeAddressOption,
            Error::DuplicateRoutingType2 { .. } => Layer::RoutingHeaderType2,
            Error::HopByHopNotFirst { .. }
            | Error::UnrecognizedOption { .. }
            | Error::TooManyHeaders { .. } => Layer::ExtensionHeader,
            Error::PayloadTooLong { .. } | Error::BufferTooShort { .. } => Layer::Ipv6,
        }
    }

    /// Offset of the offending octet from the start of the packet (0 for
    /// the emitter's errors).
    pub fn offset(&self) -> usize {
        match self {
            Error::Ipv6(e) => e.offset(),
            Error::DestinationOptions(e) => e.offset(),
            Error::RoutingType2(e) => e.offset(),
            Error::Len(e) => e.offset,
            Error::HopByHopNotFirst { offset }
            | Error::UnrecognizedOption { offset, .. }
            | Error::DuplicateHomeAddress { offset, .. }
            | Error::DuplicateRoutingType2 { offset, .. }
            | Error::TooManyHeaders { offset, .. } => *offset,
            Error::PayloadTooLong { .. } | Error::BufferTooShort { .. } => 0,
        }
    }
}

/// A Fragment header the walker stepped over or stopped at (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentInfo {
    /// Offset of the Fragment header in the packet.
    pub offset: usize,
    /// Fragment Offset, in 8-octet units.
    pub fragment_offset: u16,
    /// The M flag: more fragments follow.
    pub more_fragments: bool,
    /// Identification.
    pub identification: u32,
}

impl FragmentInfo {
    /// An atomic fragment (offset 0, no more fragments, RFC 6946): the whole
    /// packet is here.
    pub const fn is_atomic(&self) -> bool {
        self.fragment_offset == 0 && !self.more_fragments
    }
}

/// A Routing header of a type other than 2 the walker stepped over
/// (RFC 8200 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OtherRouting {
    /// Offset of the header in the packet.
    pub offset: usize,
    /// Its Routing Type.
    pub routing_type: u8,
    /// Its Segments Left (non-zero: RFC 8200 §4.4 asks for a Parameter
    /// Problem code 0 pointing at the Routing Type, `offset + 2`).
    pub segments_left: u8,
}

/// What [`walk`] found in a packet (RFC 8200 §4, RFC 6275 §6.3–6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chain {
    /// The fixed IPv6 header.
    pub ipv6: Ipv6Repr,
    /// Address of the Home Address option, if present (RFC 6275 §6.3).
    pub home_address: Option<Ipv6Addr>,
    /// Address of the type 2 Routing Header, if present (RFC 6275 §6.4).
    pub rh2: Option<Ipv6Addr>,
    /// The first Routing header of another type, if any.
    pub other_routing: Option<OtherRouting>,
    /// The first Fragment header, if any.
    pub fragment: Option<FragmentInfo>,
    /// Number of extension headers stepped over.
    pub extension_headers: usize,
    /// Protocol number of the final header reached (ESP, MH, IPv6, an upper
    /// layer; Fragment when the walk stopped at a non-first fragment).
    pub final_header: NextHeader,
    /// Offset of the final header in the packet.
    pub final_offset: usize,
    /// End of the IPv6 packet: 40 + Payload Length. Octets after it in the
    /// buffer are not part of the packet.
    pub packet_len: usize,
}

impl Chain {
    /// Source address of the MH checksum pseudo-header (RFC 6275 §6.1.1):
    /// the home address from a Home Address option if present, else the
    /// IPv6 source.
    pub fn mh_checksum_source(&self) -> Ipv6Addr {
        self.home_address.unwrap_or(self.ipv6.src_addr)
    }

    /// Destination address of the MH checksum pseudo-header (RFC 6275
    /// §6.1.1): the final destination, i.e. the type 2 Routing Header's home
    /// address if present, else the IPv6 destination.
    pub fn mh_checksum_destination(&self) -> Ipv6Addr {
        self.rh2.unwrap_or(self.ipv6.dst_addr)
    }

    /// Range of the final header and what follows it, up to the end of the
    /// IPv6 packet (`final_offset..packet_len`).
    pub fn payload_range(&self) -> Range<usize> {
        self.final_offset..self.packet_len
    }

    /// The final header and what follows it, from the packet this chain was
    /// walked over; `None` if `packet` is a shorter buffer.
    pub fn payload<'a>(&self, packet: &'a [u8]) -> Option<&'a [u8]> {
        packet.get(self.payload_range())
    }
}

fn is_walked(nh: NextHeader) -> bool {
    matches!(
        nh,
        NextHeader::HOP_BY_HOP
            | NextHeader::ROUTING
            | NextHeader::FRAGMENT
            | NextHeader::DESTINATION_OPTIONS
    )
}

/// Length of a generic extension header at the start of `rest`, `(Hdr Ext Len
/// + 1) * 8`, checked against `rest`. `offset` is where it starts.
fn generic_len(rest: &[u8], offset: usize) -> Result<usize, LenError> {
    let Some(&hel) = rest.get(field::HDR_EXT_LEN) else {
        return Err(LenError::fixed(
            Layer::ExtensionHeader,
            offset,
            2,
            rest.len(),
        ));
    };
    let len = (usize::from(hel) + 1) * 8;
    if rest.len() < len {
        return Err(LenError::by_field(
            Layer::ExtensionHeader,
            offset,
            len,
            rest.len(),
            "Hdr Ext Len",
        ));
    }
    Ok(len)
}

/// Walks the header chain of the IPv6 packet at the start of `packet`; see
/// the module doc for what is stepped over, enforced and reported.
pub fn walk(packet: &[u8]) -> Result<Chain, Error> {
    let ip = Ipv6Packet::new_checked(packet)?;
    let ipv6 = Ipv6Repr::parse(&ip)?;
    let bytes = ip.packet();
    let mut chain = Chain {
        ipv6,
        home_address: None,
        rh2: None,
        other_routing: None,
        fragment: None,
        extension_headers: 0,
        final_header: ipv6.next_header,
        final_offset: HEADER_LEN,
        packet_len: bytes.len(),
    };
    let mut hoa_at: Option<usize> = None;
    let mut rh2_at: Option<usize> = None;
    let mut nh = ipv6.next_header;
    let mut offset = HEADER_LEN;
    while is_walked(nh) {
        if chain.extension_headers == MAX_EXTENSION_HEADERS {
            return Err(Error::TooManyHeaders {
                offset,
                limit: MAX_EXTENSION_HEADERS,
            });
        }
        chain.extension_headers += 1;
        // `offset` never passes `bytes.len()`: each step adds a length
        // checked against the rest.
        let rest = bytes.get(offset..).unwrap_or(&[]);
        let mut stop_at_fragment = false;
        let len = match nh {
            NextHeader::HOP_BY_HOP => {
                if offset != HEADER_LEN {
                    return Err(Error::HopByHopNotFirst { offset });
                }
                let len = generic_len(rest, offset)?;
                let area = rest.get(2..len).unwrap_or(&[]);
                for opt in Options::new(area, 2, Layer::ExtensionHeader) {
                    let opt = opt.map_err(|e| e.shifted(offset))?;
                    let ty = opt.option_type;
                    if ty == OptionType::PAD1 || ty == OptionType::PADN {
                        continue;
                    }
                    match ty.action() {
                        UnrecognizedAction::Skip => {}
                        action => {
                            return Err(Error::UnrecognizedOption {
                                offset: offset + opt.offset,
                                option_type: ty,
                                action,
                            })
                        }
                    }
                }
                len
            }
            NextHeader::DESTINATION_OPTIONS => {
                let h = DestOptsHeader::new_checked(rest).map_err(|e| e.shifted(offset))?;
                let r = DestOptsRepr::parse(&h).map_err(|e| e.shifted(offset))?;
                if let Some(a) = r.home_address {
                    if let Some(first) = hoa_at {
                        return Err(Error::DuplicateHomeAddress { offset, first });
                    }
                    hoa_at = Some(offset);
                    chain.home_address = Some(a);
                }
                h.header_len()
            }
            NextHeader::ROUTING => {
                if rest.get(field::ROUTING_TYPE) == Some(&routing_type2::ROUTING_TYPE) {
                    let h = Rh2Header::new_checked(rest).map_err(|e| e.shifted(offset))?;
                    let r = Rh2Repr::parse(&h).map_err(|e| e.shifted(offset))?;
                    if let Some(first) = rh2_at {
                        return Err(Error::DuplicateRoutingType2 { offset, first });
                    }
                    rh2_at = Some(offset);
                    chain.rh2 = Some(r.home_address);
                    routing_type2::HEADER_LEN
                } else {
                    let len = generic_len(rest, offset)?;
                    if chain.other_routing.is_none() {
                        chain.other_routing = Some(OtherRouting {
                            offset,
                            routing_type: rest.get(field::ROUTING_TYPE).copied().unwrap_or(0),
                            segments_left: rest.get(field::SEGMENTS_LEFT).copied().unwrap_or(0),
                        });
                    }
                    len
                }
            }
            _ => {
                // Fragment, the only other walked header.
                let Some(h) = rest.get(..FRAGMENT_LEN) else {
                    return Err(LenError::fixed(
                        Layer::ExtensionHeader,
                        offset,
                        FRAGMENT_LEN,
                        rest.len(),
                    )
                    .into());
                };
                let om = u16::from_be_bytes([
                    h[field::FRAG_OFFSET_M.start],
                    h[field::FRAG_OFFSET_M.start + 1],
                ]);
                let i = &h[field::FRAG_IDENT];
                let info = FragmentInfo {
                    offset,
                    fragment_offset: om >> 3,
                    more_fragments: om & 1 == 1,
                    identification: u32::from_be_bytes([i[0], i[1], i[2], i[3]]),
                };
                if chain.fragment.is_none() {
                    chain.fragment = Some(info);
                }
                stop_at_fragment = info.fragment_offset != 0;
                FRAGMENT_LEN
            }
        };
        if stop_at_fragment {
            chain.final_header = NextHeader::FRAGMENT;
            chain.final_offset = offset;
            return Ok(chain);
        }
        nh = NextHeader(rest.get(field::NEXT_HEADER).copied().unwrap_or(0));
        offset += len;
        chain.final_header = nh;
        chain.final_offset = offset;
    }
    Ok(chain)
}

/// The headers [`ChainRepr::emit`] writes in front of a payload: IPv6, then
/// a type 2 Routing Header if `rh2` is set, then a Destination Options
/// header with the Home Address option if `home_address` is set (RFC 8200
/// §4.1 order, RFC 6275 §6.3–6.4), then the payload (ESP, MH, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainRepr {
    /// IPv6 source (the care-of address when sending with a HoA option).
    pub src_addr: Ipv6Addr,
    /// IPv6 destination (the care-of address when sending with an RH2).
    pub dst_addr: Ipv6Addr,
    /// Hop Limit.
    pub hop_limit: u8,
    /// Traffic Class.
    pub traffic_class: u8,
    /// Flow Label (low 20 bits; the rest is masked away).
    pub flow_label: u32,
    /// Home address to carry in a type 2 Routing Header.
    pub rh2: Option<Ipv6Addr>,
    /// Home address to carry in a Home Address destination option.
    pub home_address: Option<Ipv6Addr>,
    /// Protocol number of the payload that follows the headers.
    pub next_header: NextHeader,
    /// Octets of that payload.
    pub payload_len: usize,
}

impl ChainRepr {
    /// Octets of the headers [`emit`](Self::emit) writes (40, + 24 for an
    /// RH2, + 24 for a Home Address option), payload not included.
    pub const fn buffer_len(&self) -> usize {
        let mut n = HEADER_LEN;
        if self.rh2.is_some() {
            n += routing_type2::HEADER_LEN;
        }
        if self.home_address.is_some() {
            n += 24;
        }
        n
    }

    /// Source of the MH checksum pseudo-header for this packet (RFC 6275
    /// §6.1.1): the home address if a Home Address option is emitted, else
    /// the IPv6 source.
    pub fn mh_checksum_source(&self) -> Ipv6Addr {
        self.home_address.unwrap_or(self.src_addr)
    }

    /// Destination of the MH checksum pseudo-header (RFC 6275 §6.1.1): the
    /// RH2's home address if one is emitted, else the IPv6 destination.
    pub fn mh_checksum_destination(&self) -> Ipv6Addr {
        self.rh2.unwrap_or(self.dst_addr)
    }

    /// Writes the headers at the start of `buf` with the IPv6 Payload Length
    /// set to extension headers + `payload_len`, and returns the octets
    /// written ([`buffer_len`](Self::buffer_len)); the caller puts the
    /// payload right after. Octets after the headers are not touched.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let hlen = self.buffer_len();
        if buf.len() < hlen {
            return Err(Error::BufferTooShort {
                needed: hlen,
                actual: buf.len(),
            });
        }
        let ip_payload = hlen - HEADER_LEN + self.payload_len;
        let payload_len =
            u16::try_from(ip_payload).map_err(|_| Error::PayloadTooLong { length: ip_payload })?;
        let after_rh2 = if self.home_address.is_some() {
            NextHeader::DESTINATION_OPTIONS
        } else {
            self.next_header
        };
        let first = if self.rh2.is_some() {
            NextHeader::ROUTING
        } else {
            after_rh2
        };
        let (ip_buf, mut rest) = buf.split_at_mut(HEADER_LEN);
        Ipv6Repr {
            src_addr: self.src_addr,
            dst_addr: self.dst_addr,
            next_header: first,
            payload_len,
            hop_limit: self.hop_limit,
            traffic_class: self.traffic_class,
            flow_label: self.flow_label,
        }
        .emit(&mut Ipv6Packet::new_unchecked(ip_buf));
        if let Some(home_address) = self.rh2 {
            let (h, r) = rest.split_at_mut(routing_type2::HEADER_LEN);
            Rh2Repr {
                next_header: after_rh2,
                home_address,
            }
            .emit(&mut Rh2Header::new_unchecked(h));
            rest = r;
        }
        if let Some(home_address) = self.home_address {
            let r = DestOptsRepr {
                next_header: self.next_header,
                home_address: Some(home_address),
            };
            r.emit(&mut DestOptsHeader::new_unchecked(
                &mut rest[..r.buffer_len()],
            ));
        }
        Ok(hlen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::home_address::tests::BU_DEST_OPTS;
    use crate::ext::ipv6::tests::arb_addr;
    use crate::ext::routing_type2::tests::BA_RH2;
    use proptest::prelude::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// IPv6 header bytes (RFC 8200 §3): tc 0, flow 0, given payload length,
    /// next header, hop limit 64, src, dst.
    fn ip_header(plen: u16, nh: u8, src: &str, dst: &str) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&plen.to_be_bytes());
        v.extend_from_slice(&[nh, 64]);
        v.extend_from_slice(&a(src).octets());
        v.extend_from_slice(&a(dst).octets());
        v
    }

    /// A stand-in for the ESP header: SPI 0x1001, sequence 1 (RFC 4303 §2).
    const ESP_STUB: [u8; 8] = [0, 0, 0x10, 0x01, 0, 0, 0, 1];

    /// BU-shaped packet (docs/architecture.md, "Home-registration packets"):
    /// `IPv6(src=2001:db8:2::100, dst=2001:db8:1::1) | DestOpts(HoA
    /// 2001:db8:1::100) | ESP`, from RFC 8200 §3 / §4.6 and RFC 6275 §6.3.
    fn bu_packet() -> Vec<u8> {
        let mut v = ip_header(32, 60, "2001:db8:2::100", "2001:db8:1::1");
        v.extend_from_slice(&BU_DEST_OPTS);
        v.extend_from_slice(&ESP_STUB);
        v
    }

    /// BA-shaped packet: `IPv6(src=HA 2001:db8:1::1, dst=CoA 2001:db8:2::100)
    /// | RH2(HoA 2001:db8:1::100) | ESP`, from RFC 6275 §6.4.
    fn ba_packet() -> Vec<u8> {
        let mut v = ip_header(32, 43, "2001:db8:1::1", "2001:db8:2::100");
        v.extend_from_slice(&BA_RH2);
        v.extend_from_slice(&ESP_STUB);
        v
    }

    fn bu_repr() -> ChainRepr {
        ChainRepr {
            src_addr: a("2001:db8:2::100"),
            dst_addr: a("2001:db8:1::1"),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
            rh2: None,
            home_address: Some(a("2001:db8:1::100")),
            next_header: NextHeader::ESP,
            payload_len: 8,
        }
    }

    fn ba_repr() -> ChainRepr {
        ChainRepr {
            src_addr: a("2001:db8:1::1"),
            dst_addr: a("2001:db8:2::100"),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
            rh2: Some(a("2001:db8:1::100")),
            home_address: None,
            next_header: NextHeader::ESP,
            payload_len: 8,
        }
    }

    #[test]
    fn walk_bu() {
        let p = bu_packet();
        let c = walk(&p).unwrap();
        assert_eq!(c.home_address, Some(a("2001:db8:1::100")));
        assert_eq!(c.rh2, None);
        assert_eq!(c.final_header, NextHeader::ESP);
        assert_eq!(c.final_offset, 64);
        assert_eq!(c.packet_len, 72);
        assert_eq!(c.extension_headers, 1);
        assert_eq!(c.payload(&p), Some(&ESP_STUB[..]));
        assert_eq!(c.mh_checksum_source(), a("2001:db8:1::100"));
        assert_eq!(c.mh_checksum_destination(), a("2001:db8:1::1"));
    }

    #[test]
    fn walk_ba() {
        let p = ba_packet();
        let c = walk(&p).unwrap();
        assert_eq!(c.home_address, None);
        assert_eq!(c.rh2, Some(a("2001:db8:1::100")));
        assert_eq!((c.final_header, c.final_offset), (NextHeader::ESP, 64));
        assert_eq!(c.mh_checksum_source(), a("2001:db8:1::1"));
        assert_eq!(c.mh_checksum_destination(), a("2001:db8:1::100"));
    }

    #[test]
    fn emit_bu_and_ba_over_ff() {
        for (r, p) in [(bu_repr(), bu_packet()), (ba_repr(), ba_packet())] {
            let mut buf = vec![0xFFu8; 72];
            assert_eq!(r.buffer_len(), 64);
            assert_eq!(r.emit(&mut buf).unwrap(), 64);
            assert_eq!(&buf[..64], &p[..64]);
            assert_eq!(&buf[64..], &[0xFF; 8], "payload untouched");
        }
        assert_eq!(bu_repr().mh_checksum_source(), a("2001:db8:1::100"));
        assert_eq!(ba_repr().mh_checksum_destination(), a("2001:db8:1::100"));
    }

    #[test]
    fn emit_both_in_rfc_order() {
        let r = ChainRepr {
            rh2: Some(a("2001:db8:1::100")),
            ..bu_repr()
        };
        let mut buf = vec![0u8; 96];
        assert_eq!(r.emit(&mut buf).unwrap(), 88);
        assert_eq!(buf[6], 43, "IPv6 -> Routing");
        assert_eq!(buf[40], 60, "RH2 -> Destination Options");
        assert_eq!(buf[64], 50, "Destination Options -> ESP");
        assert_eq!(u16::from_be_bytes([buf[4], buf[5]]), 48 + 8);
        let c = walk(&buf).unwrap();
        assert_eq!((c.final_header, c.final_offset), (NextHeader::ESP, 88));
    }

    #[test]
    fn emit_errors() {
        let mut small = [0u8; 63];
        assert_eq!(
            bu_repr().emit(&mut small).unwrap_err(),
            Error::BufferTooShort {
                needed: 64,
                actual: 63
            }
        );
        let r = ChainRepr {
            payload_len: 65535 - 24 + 1,
            ..bu_repr()
        };
        assert_eq!(
            r.emit(&mut [0u8; 64]).unwrap_err(),
            Error::PayloadTooLong { length: 65536 }
        );
        let r = ChainRepr {
            payload_len: 65535 - 24,
            ..bu_repr()
        };
        assert_eq!(r.emit(&mut [0u8; 64]), Ok(64));
    }

    /// Cutting the buffer anywhere inside the packet is an error of the
    /// right layer; so is shrinking Payload Length to cut an extension header.
    #[test]
    fn every_truncation() {
        for (p, layer) in [
            (bu_packet(), Layer::DestinationOptions),
            (ba_packet(), Layer::RoutingHeaderType2),
        ] {
            for len in 0..p.len() {
                let e = walk(&p[..len]).unwrap_err();
                assert_eq!(e.layer(), Layer::Ipv6, "buffer cut at {len}: {e:?}");
            }
            for plen in 0..24u16 {
                let mut q = p.clone();
                q[4..6].copy_from_slice(&plen.to_be_bytes());
                let e = walk(&q).unwrap_err();
                // Until the Routing Type octet is there, a routing header is
                // just an extension header.
                let layer = if layer == Layer::RoutingHeaderType2 && plen < 3 {
                    Layer::ExtensionHeader
                } else {
                    layer
                };
                assert_eq!(e.layer(), layer, "payload length {plen}: {e:?}");
                assert_eq!(e.offset(), 40);
                assert!(
                    matches!(
                        e,
                        Error::Len(_) | Error::DestinationOptions(_) | Error::RoutingType2(_)
                    ),
                    "{e:?}"
                );
            }
            // Payload length covering exactly the extension header: walk ends at ESP, empty.
            let mut q = p.clone();
            q[4..6].copy_from_slice(&24u16.to_be_bytes());
            let c = walk(&q).unwrap();
            assert_eq!((c.final_offset, c.packet_len), (64, 64));
        }
    }

    #[test]
    fn rh2_errors_are_shifted_to_the_packet() {
        for (at, val, want) in [
            (
                43,
                0,
                Error::RoutingType2(routing_type2::Error::SegmentsLeft {
                    offset: 43,
                    value: 0,
                }),
            ),
            (
                43,
                2,
                Error::RoutingType2(routing_type2::Error::SegmentsLeft {
                    offset: 43,
                    value: 2,
                }),
            ),
        ] {
            let mut p = ba_packet();
            p[at] = val;
            assert_eq!(walk(&p).unwrap_err(), want);
        }
        // Hdr Ext Len 4 with a second address: 40-octet header.
        let mut p = ip_header(48, 43, "2001:db8:1::1", "2001:db8:2::100");
        p.extend_from_slice(&BA_RH2);
        p[41] = 4;
        p.extend_from_slice(&a("2001:db8:1::101").octets());
        p.extend_from_slice(&ESP_STUB);
        assert_eq!(
            walk(&p).unwrap_err(),
            Error::RoutingType2(routing_type2::Error::HdrExtLen {
                offset: 41,
                value: 4
            })
        );
    }

    #[test]
    fn hoa_errors_are_shifted_to_the_packet() {
        let mut p = bu_packet();
        p[47] = 8; // HoA Option Length 8
                   // what remains of the 16 address octets: 8 + PadN(6)
        p[56..62].copy_from_slice(&[1, 4, 0, 0, 0, 0]);
        assert_eq!(
            walk(&p).unwrap_err(),
            Error::DestinationOptions(home_address::Error::HomeAddressLength {
                offset: 47,
                length: 8
            })
        );
    }

    /// `IPv6 | DestOpts(HoA) | DestOpts(HoA) | ESP`: two HoA options.
    #[test]
    fn two_hoa_headers_rejected() {
        let mut p = ip_header(56, 60, "2001:db8:2::100", "2001:db8:1::1");
        let mut d = BU_DEST_OPTS;
        d[0] = 60;
        p.extend_from_slice(&d);
        p.extend_from_slice(&BU_DEST_OPTS);
        p.extend_from_slice(&ESP_STUB);
        assert_eq!(
            walk(&p).unwrap_err(),
            Error::DuplicateHomeAddress {
                offset: 64,
                first: 40
            }
        );
    }

    #[test]
    fn two_rh2_rejected() {
        let mut p = ip_header(56, 43, "2001:db8:1::1", "2001:db8:2::100");
        let mut r = BA_RH2;
        r[0] = 43;
        p.extend_from_slice(&r);
        p.extend_from_slice(&BA_RH2);
        p.extend_from_slice(&ESP_STUB);
        assert_eq!(
            walk(&p).unwrap_err(),
            Error::DuplicateRoutingType2 {
                offset: 64,
                first: 40
            }
        );
    }

    /// `IPv6 | Hop-by-Hop(Router Alert, RFC 2711) | Fragment(offset 0, M=1)
    /// | DestOpts(HoA) | MH`, hand-built from RFC 8200 §4.3, §4.5, §4.6.
    fn hbh_frag_dest_packet() -> Vec<u8> {
        let mut p = ip_header(8 + 8 + 24 + 8, 0, "2001:db8:2::100", "2001:db8:1::1");
        // Hop-by-Hop: next Fragment, len 0, Router Alert (type 5, len 2, value 0), PadN(0).
        p.extend_from_slice(&[44, 0, 5, 2, 0, 0, 1, 0]);
        // Fragment: next DestOpts, reserved, offset 0 M=1, identification 0xdeadbeef.
        p.extend_from_slice(&[60, 0, 0x00, 0x01, 0xDE, 0xAD, 0xBE, 0xEF]);
        let mut d = BU_DEST_OPTS;
        d[0] = 135;
        p.extend_from_slice(&d);
        p.extend_from_slice(&[59, 0, 5, 0, 0, 0, 0, 0]); // MH stub
        p
    }

    #[test]
    fn hbh_fragment_destopts_walked() {
        let p = hbh_frag_dest_packet();
        let c = walk(&p).unwrap();
        assert_eq!(c.extension_headers, 3);
        assert_eq!((c.final_header, c.final_offset), (NextHeader::MOBILITY, 80));
        assert_eq!(c.home_address, Some(a("2001:db8:1::100")));
        assert_eq!(
            c.fragment,
            Some(FragmentInfo {
                offset: 48,
                fragment_offset: 0,
                more_fragments: true,
                identification: 0xDEAD_BEEF
            })
        );
        assert!(!c.fragment.unwrap().is_atomic());
        for len in 0..p.len() {
            assert!(walk(&p[..len]).is_err(), "cut at {len}");
        }
        for plen in 0..40u16 {
            let mut q = p.clone();
            q[4..6].copy_from_slice(&plen.to_be_bytes());
            assert!(walk(&q).is_err(), "payload length {plen}");
        }
    }

    #[test]
    fn non_first_fragment_stops_walk() {
        let mut p = hbh_frag_dest_packet();
        p[50..52].copy_from_slice(&[0x00, 0x08]); // offset 1 (8 octets), M=0
        let c = walk(&p).unwrap();
        assert_eq!((c.final_header, c.final_offset), (NextHeader::FRAGMENT, 48));
        assert_eq!(c.home_address, None);
        assert_eq!(c.fragment.unwrap().fragment_offset, 1);
    }

    #[test]
    fn hbh_rules() {
        // Hop-by-Hop after a Destination Options header.
        let mut p = ip_header(16 + 8, 60, "2001:db8:2::100", "2001:db8:1::1");
        p.extend_from_slice(&[0, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[59, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[0; 8]);
        assert_eq!(
            walk(&p).unwrap_err(),
            Error::HopByHopNotFirst { offset: 48 }
        );
        // Jumbo Payload option (0xC2, action 11) in Hop-by-Hop.
        let mut p = ip_header(8, 0, "2001:db8:2::100", "2001:db8:1::1");
        p.extend_from_slice(&[59, 0, 0xC2, 4, 0, 1, 0, 0]);
        assert_eq!(
            walk(&p).unwrap_err(),
            Error::UnrecognizedOption {
                offset: 42,
                option_type: OptionType(0xC2),
                action: UnrecognizedAction::DiscardSendIcmpUnlessMulticast
            }
        );
        // The HoA option is not recognized in Hop-by-Hop.
        let mut p = ip_header(24, 0, "2001:db8:2::100", "2001:db8:1::1");
        p.extend_from_slice(&BU_DEST_OPTS);
        p[40] = 59;
        let e = walk(&p).unwrap_err();
        assert_eq!(e.offset(), 46);
        assert_eq!(e.layer(), Layer::ExtensionHeader);
    }

    #[test]
    fn other_routing_type_walked_over() {
        // Routing type 0 (deprecated, RFC 5095) with one address, segments left 0.
        let mut p = ip_header(24 + 8, 43, "2001:db8:1::1", "2001:db8:2::100");
        p.extend_from_slice(&[50, 2, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&a("2001:db8:9::1").octets());
        p.extend_from_slice(&ESP_STUB);
        let c = walk(&p).unwrap();
        assert_eq!(c.rh2, None);
        assert_eq!(
            c.other_routing,
            Some(OtherRouting {
                offset: 40,
                routing_type: 0,
                segments_left: 0
            })
        );
        assert_eq!((c.final_header, c.final_offset), (NextHeader::ESP, 64));
    }

    /// A chain of `n` 8-octet Destination Options headers, then No Next Header.
    fn long_chain(n: usize) -> Vec<u8> {
        let mut p = ip_header(
            u16::try_from(8 * n).unwrap(),
            60,
            "2001:db8:2::100",
            "2001:db8:1::1",
        );
        for i in 0..n {
            let nh = if i + 1 == n { 59 } else { 60 };
            p.extend_from_slice(&[nh, 0, 1, 4, 0, 0, 0, 0]);
        }
        p
    }

    #[test]
    fn long_chains_bounded() {
        let c = walk(&long_chain(MAX_EXTENSION_HEADERS)).unwrap();
        assert_eq!(c.extension_headers, MAX_EXTENSION_HEADERS);
        assert_eq!(c.final_header, NextHeader::NO_NEXT_HEADER);
        assert_eq!(
            walk(&long_chain(MAX_EXTENSION_HEADERS + 1)).unwrap_err(),
            Error::TooManyHeaders {
                offset: 40 + 8 * MAX_EXTENSION_HEADERS,
                limit: MAX_EXTENSION_HEADERS
            }
        );
        // The longest chain that fits in a packet: 8191 headers.
        let e = walk(&long_chain(8000)).unwrap_err();
        assert!(matches!(e, Error::TooManyHeaders { .. }));
    }

    #[test]
    fn stops_at_tunnel_and_mh() {
        for nh in [41u8, 135, 59, 6, 51] {
            let p = ip_header(0, nh, "2001:db8:2::100", "2001:db8:1::1");
            let c = walk(&p).unwrap();
            assert_eq!(
                (c.final_header.0, c.final_offset, c.extension_headers),
                (nh, 40, 0)
            );
        }
    }

    prop_compose! {
        fn arb_chain_repr()(
            src_addr in arb_addr(), dst_addr in arb_addr(), hop_limit in any::<u8>(),
            traffic_class in any::<u8>(), flow_label in 0..=ipv6::FLOW_LABEL_MAX,
            rh2 in proptest::option::of(arb_addr()),
            home_address in proptest::option::of(arb_addr()),
            // any payload protocol the walker would not step into
            next_header in any::<u8>().prop_filter("not walked", |n| !is_walked(NextHeader(*n))),
            payload_len in 0usize..200,
        ) -> ChainRepr {
            ChainRepr { src_addr, dst_addr, hop_limit, traffic_class, flow_label, rh2,
                        home_address, next_header: NextHeader(next_header), payload_len }
        }
    }

    proptest! {
        #[test]
        fn emit_then_walk(r in arb_chain_repr()) {
            let mut buf = vec![0xFFu8; r.buffer_len() + r.payload_len];
            let n = r.emit(&mut buf).unwrap();
            prop_assert_eq!(n, r.buffer_len());
            let c = walk(&buf).unwrap();
            prop_assert_eq!(c.ipv6.src_addr, r.src_addr);
            prop_assert_eq!(c.ipv6.dst_addr, r.dst_addr);
            prop_assert_eq!(c.ipv6.hop_limit, r.hop_limit);
            prop_assert_eq!(c.ipv6.traffic_class, r.traffic_class);
            prop_assert_eq!(c.ipv6.flow_label, r.flow_label);
            prop_assert_eq!(c.rh2, r.rh2);
            prop_assert_eq!(c.home_address, r.home_address);
            prop_assert_eq!(c.final_header, r.next_header);
            prop_assert_eq!(c.final_offset, n);
            prop_assert_eq!(c.payload_range().len(), r.payload_len);
            prop_assert_eq!(c.mh_checksum_source(), r.mh_checksum_source());
            prop_assert_eq!(c.mh_checksum_destination(), r.mh_checksum_destination());
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..160)) {
            let _ = walk(&b);
        }

        /// Random bytes after a valid fixed header reach the walker's
        /// extension-header paths more often than fully random input.
        #[test]
        fn never_panics_after_header(nh in prop_oneof![Just(0u8), Just(43), Just(44), Just(60)],
                                     b in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut p = ip_header(u16::try_from(b.len()).unwrap(), nh, "::1", "::2");
            p.extend_from_slice(&b);
            let _ = walk(&p);
        }
    }
}
