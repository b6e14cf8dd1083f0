//! Opening a received frame: walk its header chain to ESP (RFC 8200 §4, RFC 6275
//! §6.3–6.4), decrypt it in place under the SA its SPI names (RFC 4303 §3.4), and
//! classify the payload: a Mobility Header (checksum verified over the pseudo-header
//! RFC 6275 §6.1.1 implies), a tunnelled IPv6 packet (RFC 2473), or a dummy packet.
//!
//! The home agent finds the peer's key table by SPI before decrypting, so the steps
//! are public: [`inspect`] (no key needed), then the key table's `open_inbound` on
//! [`EspFrame::esp`], then [`classify`]. [`open`] does all three for one key table.
//!
//! What is *not* checked here, because it needs binding state: that the HoA option
//! names the MN the SA belongs to, that the outer source is its care-of address, and
//! that a tunnelled packet's inner source is its home address (RFC 6275 §10.4.5).

use core::net::Ipv6Addr;
use core::ops::Range;

use super::FrameError;
use crate::esp::{EspAead, Opened};
use crate::ext::{self, Chain, Ipv6Repr, NextHeader};
use crate::keys::{KeyTable, Slot};
use crate::{mh, tunnel};

/// A received packet whose header chain ends in ESP, before decryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspFrame {
    /// The walked header chain: outer addresses, HoA option, RH2.
    pub chain: Chain,
    /// The ESP packet's octets within the frame (to the end of the IPv6 payload).
    pub esp: Range<usize>,
    /// The SPI, which names the SA (and so the peer and the key generation).
    pub spi: u32,
}

impl EspFrame {
    /// Source of the MH checksum pseudo-header: the home address if a Home Address
    /// option is present, else the IPv6 source (RFC 6275 §6.1.1).
    pub fn mh_checksum_source(&self) -> Ipv6Addr {
        self.chain.mh_checksum_source()
    }

    /// Destination of the MH checksum pseudo-header: the RH2's home address if one is
    /// present, else the IPv6 destination (RFC 6275 §6.1.1).
    pub fn mh_checksum_destination(&self) -> Ipv6Addr {
        self.chain.mh_checksum_destination()
    }
}

/// The SPI of an ESP frame, for counters: read at octet 40 when ESP follows the IPv6
/// header directly (tunnel frames, RFC 6275 §9.5.1 / RFC 4303 §2.1), else found by
/// [`inspect`]'s walk (BUs and BAs carry a Destination Options or Routing header first).
/// `None` when the frame has no ESP header.
pub fn esp_spi(packet: &[u8]) -> Option<u32> {
    const NEXT_HEADER: usize = 6;
    const ESP: u8 = 50;
    const SPI: std::ops::Range<usize> = 40..44;
    if packet.get(NEXT_HEADER) == Some(&ESP) && packet.first().map(|v| v >> 4) == Some(6) {
        let spi = packet.get(SPI)?;
        return Some(u32::from_be_bytes([spi[0], spi[1], spi[2], spi[3]]));
    }
    inspect(packet).ok().map(|f| f.spi)
}

/// Walks `packet`'s header chain to its ESP header and reads the SPI.
pub fn inspect(packet: &[u8]) -> Result<EspFrame, FrameError> {
    let chain = ext::walk(packet)?;
    if chain.final_header != NextHeader::ESP {
        return Err(FrameError::NotEsp {
            offset: chain.final_offset,
            next_header: chain.final_header.0,
        });
    }
    let esp = chain.payload_range();
    let bytes = packet.get(esp.clone()).unwrap_or_default();
    let esp_packet = crate::esp::Packet::new_checked(bytes)?;
    Ok(EspFrame {
        spi: esp_packet.spi(),
        chain,
        esp,
    })
}

/// What a decrypted ESP payload carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// A Mobility Header whose checksum verified (RFC 6275 §6.1.1).
    Signalling(mh::Repr<'a>),
    /// A tunnelled IPv6 packet (tunnel mode, RFC 2473): its header and where it lies
    /// in the frame buffer.
    Tunnelled {
        /// The inner IPv6 header.
        header: Ipv6Repr,
        /// The inner packet's octets in the frame buffer.
        packet: Range<usize>,
    },
    /// A dummy packet (Next Header 59), to be dropped silently (RFC 4303 §2.6).
    Dummy,
    /// Any other payload: the next header and where the payload lies.
    Other {
        /// ESP Next Header.
        next_header: u8,
        /// The payload's octets in the frame buffer.
        payload: Range<usize>,
    },
}

/// Classifies the payload of a frame opened in place: `buf` is the whole frame,
/// `opened` what the SA's `open` returned for `buf[frame.esp]`.
pub fn classify<'a>(
    buf: &'a [u8],
    frame: &EspFrame,
    opened: &Opened,
) -> Result<Payload<'a>, FrameError> {
    let start = frame.esp.start + opened.payload.start;
    let end = frame.esp.start + opened.payload.end;
    let range = start..end;
    let payload = buf.get(range.clone()).unwrap_or_default();
    match opened.next_header {
        mh::MH_NEXT_HEADER => {
            let packet = mh::Packet::new_checked(payload)
                .map_err(|e| FrameError::Mobility(mh::Error::Len(e.shifted(start))))?;
            let repr = mh::Repr::parse_checked(
                &packet,
                &frame.mh_checksum_source(),
                &frame.mh_checksum_destination(),
            )
            .map_err(|e| FrameError::Mobility(e.shifted(start)))?;
            Ok(Payload::Signalling(repr))
        }
        n if n == NextHeader::IPV6.0 => {
            let inner = tunnel::validate_inner(payload)?;
            Ok(Payload::Tunnelled {
                header: inner.header,
                packet: start..start + inner.len,
            })
        }
        n if n == NextHeader::NO_NEXT_HEADER.0 => Ok(Payload::Dummy),
        next_header => Ok(Payload::Other {
            next_header,
            payload: range,
        }),
    }
}

/// A frame opened under one of a key table's accepted SAs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedFrame<'a> {
    /// The frame's header chain and ESP position.
    pub frame: EspFrame,
    /// Which key slot (init, anterior, newest) opened it.
    pub slot: Slot,
    /// The ESP sequence number (authenticated).
    pub seq: u32,
    /// What it carried.
    pub payload: Payload<'a>,
}

/// Inspects, decrypts (in place) and classifies a frame with `keys`, the table of
/// the one peer the caller talks to (the mobile node's view of its home agent).
pub fn open<'a, A: EspAead>(
    buf: &'a mut [u8],
    keys: &mut KeyTable<A>,
) -> Result<OpenedFrame<'a>, FrameError> {
    let frame = inspect(buf)?;
    // `inspect` found the ESP packet inside `buf`, so the range is in bounds.
    let esp_area = buf.get_mut(frame.esp.clone()).unwrap_or_default();
    let (slot, opened) = keys.open_inbound(esp_area)?;
    let buf: &'a [u8] = buf;
    let payload = classify(buf, &frame, &opened)?;
    Ok(OpenedFrame {
        frame,
        slot,
        seq: opened.seq,
        payload,
    })
}
