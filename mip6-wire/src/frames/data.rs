//! Tunnelled data frames: an inner IPv6 packet carried in ESP tunnel mode between
//! the care-of address and the home agent (RFC 6275 §10.4.1, §11.3.1; RFC 3776 §3.3;
//! RFC 2473 for the inner packet's hop limit).
//!
//! ```text
//! IPv6(outer src → outer dst, next header 50) | ESP | IPv6(inner) | payload | trailer
//! ```
//!
//! The frame is sealed in place: the driver reads the inner packet (from its TUN)
//! into the buffer at [`DATA_HEADROOM`], leaving room after it for the ESP trailer
//! ([`crate::esp::trailer_len`]), so the packet is never copied.

use core::net::Ipv6Addr;

use super::{FrameError, DEFAULT_HOP_LIMIT};
use crate::esp::{self, EspAead, OutboundSa};
use crate::ext::{Ipv6Packet, Ipv6Repr, NextHeader};
use crate::tunnel::{self, InnerOrigin};

/// Octets before the inner packet: outer IPv6 header (40) and ESP header + IV (16).
pub const DATA_HEADROOM: usize = crate::ext::ipv6::HEADER_LEN + esp::PAYLOAD_OFFSET;

/// The tunnel's two ends as the sender sees them (RFC 2473 §3): the MN sends
/// CoA → HA, the HA sends HA → CoA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelEndpoints {
    /// The outer source: this end's address.
    pub source: Ipv6Addr,
    /// The outer destination: the peer's address.
    pub destination: Ipv6Addr,
    /// Hop limit of the outer header.
    pub hop_limit: u8,
}

impl TunnelEndpoints {
    /// Endpoints with the default outer hop limit.
    pub const fn new(source: Ipv6Addr, destination: Ipv6Addr) -> Self {
        TunnelEndpoints {
            source,
            destination,
            hop_limit: DEFAULT_HOP_LIMIT,
        }
    }
}

/// Seals the inner packet at `buf[DATA_HEADROOM..DATA_HEADROOM + inner_len]` into a
/// tunnelled data frame in place and returns the frame's length.
///
/// The inner packet must be a valid IPv6 packet of exactly `inner_len` octets. With
/// [`InnerOrigin::Forwarded`] (the HA forwarding a packet toward a mobile node, or the
/// MN forwarding for its home address) its hop limit is decremented first and a packet
/// that would reach zero is refused ([`tunnel::Error::HopLimitExceeded`]: the driver
/// answers with ICMPv6 Time Exceeded). `buf` needs [`esp::trailer_len`]`(inner_len)`
/// octets after the inner packet. One sequence number of `sa` is used.
pub fn seal_data_in_place<A: EspAead>(
    endpoints: &TunnelEndpoints,
    sa: &mut OutboundSa<A>,
    buf: &mut [u8],
    inner_len: usize,
    origin: InnerOrigin,
) -> Result<usize, FrameError> {
    let esp_len = esp::sealed_len(inner_len);
    let needed = crate::ext::ipv6::HEADER_LEN + esp_len;
    let Some(frame) = buf.get_mut(..needed) else {
        return Err(FrameError::NoRoom {
            needed,
            actual: buf.len(),
        });
    };
    let Ok(payload_len) = u16::try_from(esp_len) else {
        return Err(FrameError::TooLong { length: esp_len });
    };
    let inner = &mut frame[DATA_HEADROOM..DATA_HEADROOM + inner_len];
    let found = tunnel::prepare_inner(inner, origin)?;
    if found.len != inner_len {
        return Err(FrameError::InnerLength {
            given: inner_len,
            declared: found.len,
        });
    }
    let (outer, esp_area) = frame.split_at_mut(crate::ext::ipv6::HEADER_LEN);
    sa.seal(esp_area, inner_len, NextHeader::IPV6.0)?;
    Ipv6Repr {
        src_addr: endpoints.source,
        dst_addr: endpoints.destination,
        next_header: NextHeader::ESP,
        payload_len,
        hop_limit: endpoints.hop_limit,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut Ipv6Packet::new_unchecked(outer));
    Ok(needed)
}
