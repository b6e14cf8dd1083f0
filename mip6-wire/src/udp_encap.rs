//! ESP in UDP (RFC 3948) over IPv6: the framing issue 14 adds so that a mobile node
//! behind a NAT or a UDP-only firewall reaches its home agent, and so that the kernel
//! can batch the tunnel's frames (UDP GSO and GRO; raw ESP, protocol 50, has
//! neither).
//!
//! ```text
//!  IPv6 header | [extension headers] | UDP (8 octets) | ESP header | ...
//!                                     src port, dst port 4500 (RFC 3948 §2.1),
//!                                     length, checksum
//! ```
//!
//! RFC 3948 §2.1 puts the UDP header immediately in front of the ESP header and
//! leaves everything else as it was: here the extension headers a Mobile IPv6 frame
//! carries before its ESP (a Home Address option in a Binding Update, a type 2
//! routing header in a Binding Acknowledgement, RFC 6275 §6.3–6.4) stay where they
//! are, and only the Next Header that named ESP (50) names UDP (17). ESP's integrity
//! check covers the SPI and sequence number onwards (RFC 4106 §5), not the UDP
//! header, so a frame is sealed and opened the same way in both framings:
//! [`encapsulate`] turns an engine's ESP frame into ESP in UDP after sealing, and
//! [`decapsulate`] turns it back before opening.
//!
//! **Checksum.** IPv6 requires a UDP checksum (RFC 8200 §8.1; the zero-checksum
//! exception of RFC 6935 is for tunnels that choose it, which this one does not):
//! [`encapsulate`] computes it and [`decapsulate`] refuses a zero or wrong one. The
//! pseudo-header addresses are those an upper layer of the frame sees: the home
//! address of a Home Address option as the source (RFC 6275 §9.3.1: the receiver
//! swaps it in before upper-layer processing) and the final destination, the home
//! address of a type 2 routing header (RFC 8200 §8.1), as the destination; the same
//! pair as the Mobility Header checksum (RFC 6275 §6.1.1).
//!
//! **What is not ESP** (RFC 3948 §2.2–2.3): a one-octet 0xFF payload is a NAT
//! keepalive ([`Error::Keepalive`]: the caller counts it and drops it); a payload
//! starting with four zero octets is the non-ESP marker of IKE
//! ([`Error::NonEspMarker`]: this stack keys ESP itself, without IKE, so it has no
//! use for one).
//!
//! Not supported: IPv4 (the stack is IPv6-only), fragmented frames (the driver sizes
//! the TUN MTU so a frame never needs fragmenting), UDP-encapsulated transport-mode
//! checksum fix-ups of RFC 3948 §3.1.2 (they repair TCP and UDP checksums inside ESP
//! after a NAT changed the outer addresses; inside this tunnel the inner packet's
//! addresses are the home address and the correspondent's, which no NAT touches).

use core::net::Ipv6Addr;
use core::ops::Range;

use crate::error::{Layer, LenError};
use crate::ext::chain::{self, Chain};
use crate::ext::ipv6::{NextHeader, HEADER_LEN};

/// The UDP port of ESP in UDP, on both sides unless configured (RFC 3948 §2.1, the
/// IKE NAT-traversal port of RFC 3947).
pub const PORT: u16 = 4500;

/// Length of the UDP header (RFC 768).
pub const UDP_HEADER_LEN: usize = 8;

/// The payload of a NAT keepalive: one octet, 0xFF (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: u8 = 0xFF;

/// Length of the non-ESP marker, four zero octets where an SPI would be (RFC 3948
/// §2.2).
pub const NON_ESP_MARKER_LEN: usize = 4;

/// Offsets in the UDP header (RFC 768).
mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// The UDP ports of an encapsulated frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Source port (a NAT may have changed it: answer to this one).
    pub source: u16,
    /// Destination port.
    pub destination: u16,
}

impl Ports {
    /// [`PORT`] on both sides, as RFC 3948 §2.1 sends before any NAT.
    pub const STANDARD: Ports = Ports {
        source: PORT,
        destination: PORT,
    };
}

/// Errors of ESP-in-UDP framing (layer [`Layer::UdpEncapsulation`], or the layer of
/// the header chain's error). Offsets count from the start of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The frame's header chain is bad.
    #[error("header chain: {0}")]
    Chain(#[source] chain::Error),
    /// [`encapsulate`]: the frame's final header is not ESP.
    #[error("not an ESP frame: final header {next_header} at offset {offset}")]
    NotEsp {
        /// Offset of that final header.
        offset: usize,
        /// What it is.
        next_header: NextHeader,
    },
    /// [`decapsulate`]: the frame's final header is not UDP.
    #[error("not a UDP frame: final header {next_header} at offset {offset}")]
    NotUdp {
        /// Offset of that final header.
        offset: usize,
        /// What it is.
        next_header: NextHeader,
    },
    /// A fragment: not supported (module docs).
    #[error("fragmented frame (Fragment header at offset {offset}): not supported")]
    Fragmented {
        /// Offset of the Fragment header.
        offset: usize,
    },
    /// The UDP header, or its Length field, does not fit what the frame carries.
    #[error(transparent)]
    Length(LenError),
    /// The UDP Length field disagrees with the IPv6 Payload Length.
    #[error("UDP Length {length} at offset {offset}, but the IPv6 packet carries {carried} octets from there")]
    LengthMismatch {
        /// Offset of the UDP header.
        offset: usize,
        /// The UDP Length field.
        length: usize,
        /// Octets from the UDP header to the end of the IPv6 packet.
        carried: usize,
    },
    /// A zero UDP checksum, which IPv6 does not allow here (RFC 8200 §8.1).
    #[error("UDP checksum zero at offset {offset}: IPv6 requires one (RFC 8200 §8.1)")]
    ZeroChecksum {
        /// Offset of the UDP header.
        offset: usize,
    },
    /// The UDP checksum does not verify.
    #[error("UDP checksum at offset {offset} does not verify")]
    BadChecksum {
        /// Offset of the UDP header.
        offset: usize,
    },
    /// A NAT keepalive (RFC 3948 §2.3): nothing to open; count it and drop it.
    #[error("NAT keepalive (RFC 3948 §2.3) at offset {offset}")]
    Keepalive {
        /// Offset of the UDP header.
        offset: usize,
    },
    /// The non-ESP marker of IKE (RFC 3948 §2.2): not for this stack.
    #[error("non-ESP marker (IKE, RFC 3948 §2.2) at offset {offset}")]
    NonEspMarker {
        /// Offset of the UDP payload.
        offset: usize,
    },
    /// The frame would be longer than an IPv6 payload can say (65 535 octets).
    #[error("frame of {length} octets does not fit an IPv6 payload with a UDP header")]
    TooLong {
        /// The frame's length.
        length: usize,
    },
}

impl Error {
    /// The layer the error belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            Error::Chain(e) => e.layer(),
            Error::Length(e) => e.layer,
            _ => Layer::UdpEncapsulation,
        }
    }
}

impl From<chain::Error> for Error {
    fn from(e: chain::Error) -> Self {
        Error::Chain(e)
    }
}

/// Where the frame's final header starts and which octet names it: the IPv6
/// header's Next Header, or the first octet of the last extension header. `chain`
/// was walked over `frame`, so every length read here was checked by the walk.
fn final_header_field(frame: &[u8], chain: &Chain) -> Result<usize, Error> {
    if let Some(f) = chain.fragment {
        return Err(Error::Fragmented { offset: f.offset });
    }
    let mut field = 6;
    let mut at = HEADER_LEN;
    while at < chain.final_offset {
        field = at;
        let ext_len = frame
            .get(at + 1)
            .map(|&hel| (usize::from(hel) + 1) * 8)
            .ok_or(Error::Length(LenError::fixed(
                Layer::ExtensionHeader,
                at,
                2,
                frame.len().saturating_sub(at),
            )))?;
        at += ext_len;
    }
    Ok(field)
}

/// The one's complement checksum of the UDP datagram `udp` (header and payload)
/// between the pseudo-header addresses `src` and `dst` (RFC 8200 §8.1), with the
/// Checksum field as it stands; 0xFFFF stands for a computed zero (RFC 768).
fn udp_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, udp: &[u8]) -> u16 {
    crate::mh::checksum::pseudo_header_checksum(src, dst, NextHeader::UDP.0, udp)
}

/// Sets the Payload Length of the IPv6 header at the start of `frame`.
fn set_payload_len(frame: &mut [u8], len: usize) {
    let len = u16::try_from(len).unwrap_or(u16::MAX);
    frame[4..6].copy_from_slice(&len.to_be_bytes());
}

/// Turns the ESP frame in `frame` (an IPv6 packet whose final header is ESP, as the
/// engines seal it) into ESP in UDP from `ports.source` to `ports.destination`: the
/// UDP header goes in front of the ESP header, the Next Header that named ESP names
/// UDP, the Payload Length grows by 8, and the checksum is computed (module docs).
/// Octets in `frame` after the IPv6 packet are dropped. Returns the range of the
/// UDP payload (the ESP packet) in the new frame.
pub fn encapsulate(frame: &mut Vec<u8>, ports: Ports) -> Result<Range<usize>, Error> {
    let chain = chain::walk(frame)?;
    if chain.final_header != NextHeader::ESP {
        return Err(Error::NotEsp {
            offset: chain.final_offset,
            next_header: chain.final_header,
        });
    }
    let nh_field = final_header_field(frame, &chain)?;
    let esp_len = chain.packet_len - chain.final_offset;
    let payload_len = chain.packet_len - HEADER_LEN + UDP_HEADER_LEN;
    if payload_len > usize::from(u16::MAX) {
        return Err(Error::TooLong {
            length: chain.packet_len,
        });
    }
    frame.truncate(chain.packet_len);
    let at = chain.final_offset;
    let udp_len = (UDP_HEADER_LEN + esp_len) as u16;
    let mut header = [0u8; UDP_HEADER_LEN];
    header[field::SRC_PORT].copy_from_slice(&ports.source.to_be_bytes());
    header[field::DST_PORT].copy_from_slice(&ports.destination.to_be_bytes());
    header[field::LENGTH].copy_from_slice(&udp_len.to_be_bytes());
    frame.splice(at..at, header);
    frame[nh_field] = NextHeader::UDP.0;
    set_payload_len(frame, payload_len);
    let checksum = udp_checksum(
        &chain.mh_checksum_source(),
        &chain.mh_checksum_destination(),
        &frame[at..],
    );
    frame[at + field::CHECKSUM.start..at + field::CHECKSUM.end]
        .copy_from_slice(&checksum.to_be_bytes());
    Ok(at + UDP_HEADER_LEN..frame.len())
}

/// Turns the ESP-in-UDP frame in `frame` back into the ESP frame the engines open:
/// checks the UDP header (its Length against the IPv6 Payload Length, a non-zero
/// checksum that verifies), refuses a keepalive and a non-ESP marker (module docs),
/// removes the UDP header and makes the Next Header that named UDP name ESP. Does not
/// look at the ports: which ones the daemon listens on is its business. Returns
/// the ports (the source one is where to answer, after a NAT).
pub fn decapsulate(frame: &mut Vec<u8>) -> Result<Ports, Error> {
    let (ports, len) = decapsulate_in_place(frame)?;
    frame.truncate(len);
    Ok(ports)
}

/// [`decapsulate`] in a buffer that cannot shrink (a receive buffer): the ESP frame
/// is moved to the front of `frame` and its length returned with the ports; the
/// octets after it are left as they were. `frame` is unchanged on an error.
pub fn decapsulate_in_place(frame: &mut [u8]) -> Result<(Ports, usize), Error> {
    let chain = chain::walk(frame)?;
    if chain.final_header != NextHeader::UDP {
        return Err(Error::NotUdp {
            offset: chain.final_offset,
            next_header: chain.final_header,
        });
    }
    let nh_field = final_header_field(frame, &chain)?;
    let at = chain.final_offset;
    let carried = chain.packet_len - at;
    let Some(header) = frame
        .get(at..at + UDP_HEADER_LEN)
        .filter(|_| carried >= UDP_HEADER_LEN)
    else {
        return Err(Error::Length(LenError::fixed(
            Layer::UdpEncapsulation,
            at,
            UDP_HEADER_LEN,
            carried,
        )));
    };
    let be16 = |r: Range<usize>| u16::from_be_bytes([header[r.start], header[r.start + 1]]);
    let ports = Ports {
        source: be16(field::SRC_PORT),
        destination: be16(field::DST_PORT),
    };
    let length = usize::from(be16(field::LENGTH));
    if length != carried {
        return Err(Error::LengthMismatch {
            offset: at,
            length,
            carried,
        });
    }
    if be16(field::CHECKSUM) == 0 {
        return Err(Error::ZeroChecksum { offset: at });
    }
    let udp = &frame[at..chain.packet_len];
    if !crate::mh::checksum::pseudo_header_verifies(
        &chain.mh_checksum_source(),
        &chain.mh_checksum_destination(),
        NextHeader::UDP.0,
        udp,
    ) {
        return Err(Error::BadChecksum { offset: at });
    }
    check_payload(&udp[UDP_HEADER_LEN..], at)?;
    frame.copy_within(at + UDP_HEADER_LEN..chain.packet_len, at);
    frame[nh_field] = NextHeader::ESP.0;
    let len = chain.packet_len - UDP_HEADER_LEN;
    set_payload_len(frame, len - HEADER_LEN);
    Ok((ports, len))
}

/// Whether the UDP payload `payload` (of a datagram whose UDP header is at offset
/// `at`) is an ESP packet: not a NAT keepalive, not the non-ESP marker (RFC 3948
/// §2.2–2.3). A daemon receiving through a UDP socket checks what the socket hands
/// it with this.
pub fn check_payload(payload: &[u8], at: usize) -> Result<(), Error> {
    if payload == [NAT_KEEPALIVE] {
        return Err(Error::Keepalive { offset: at });
    }
    if payload.len() >= NON_ESP_MARKER_LEN && payload[..NON_ESP_MARKER_LEN] == [0; 4] {
        return Err(Error::NonEspMarker {
            offset: at + UDP_HEADER_LEN,
        });
    }
    Ok(())
}

/// The IPv6 header an ESP packet of `esp_len` octets received through a UDP socket
/// gets in front of it, so the engines open it as the ESP frame it was before
/// encapsulation: version 6, traffic class and flow label 0, Next Header ESP, hop
/// limit `hop_limit` (the socket does not say what it was: the engines do not read
/// it), from `source` to `destination` (RFC 8200 §3). [`Error::TooLong`] when
/// `esp_len` does not fit a Payload Length.
pub fn esp_frame_header(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    esp_len: usize,
    hop_limit: u8,
) -> Result<[u8; HEADER_LEN], Error> {
    let len = u16::try_from(esp_len).map_err(|_| Error::TooLong {
        length: esp_len + HEADER_LEN,
    })?;
    let mut h = [0u8; HEADER_LEN];
    h[0] = 0x60;
    h[4..6].copy_from_slice(&len.to_be_bytes());
    h[6] = NextHeader::ESP.0;
    h[7] = hop_limit;
    h[8..24].copy_from_slice(&source.octets());
    h[24..40].copy_from_slice(&destination.octets());
    Ok(h)
}

/// Whether `frame` (an IPv6 packet) is ESP in UDP on `port` at either end, for a
/// driver that sorts what its socket hands it; a frame that does not walk is not.
pub fn is_encapsulated(frame: &[u8], port: u16) -> bool {
    let Ok(chain) = chain::walk(frame) else {
        return false;
    };
    chain.final_header == NextHeader::UDP
        && frame
            .get(chain.final_offset..chain.final_offset + 4)
            .is_some_and(|p| {
                u16::from_be_bytes([p[0], p[1]]) == port || u16::from_be_bytes([p[2], p[3]]) == port
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::chain::ChainRepr;
    use proptest::prelude::*;

    const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
    const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);

    /// An IPv6 frame from `src` to `dst` with the headers `rh2` / `home_address`
    /// ask for, whose final header is `next_header` carrying `payload`.
    fn frame(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        rh2: Option<Ipv6Addr>,
        home_address: Option<Ipv6Addr>,
        next_header: NextHeader,
        payload: &[u8],
    ) -> Vec<u8> {
        let repr = ChainRepr {
            src_addr: src,
            dst_addr: dst,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
            rh2,
            home_address,
            next_header,
            payload_len: payload.len(),
        };
        let mut buf = vec![0xEE; repr.buffer_len()];
        repr.emit(&mut buf).unwrap();
        buf.extend_from_slice(payload);
        buf
    }

    /// An ESP packet's worth of octets: SPI 0x1234_5678, sequence 7, then `body`.
    fn esp(body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x56, 0x78, 0, 0, 0, 7];
        p.extend_from_slice(body);
        p
    }

    /// RFC 768 / RFC 8200 §8.1 checksum, the textbook way: 16-bit words, a u32.
    fn reference_checksum(src: Ipv6Addr, dst: Ipv6Addr, udp: &[u8]) -> u16 {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&(udp.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 17]);
        bytes.extend_from_slice(udp);
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let mut sum: u32 = 0;
        for w in bytes.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while sum > 0xFFFF {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        match !(sum as u16) {
            0 => 0xFFFF,
            c => c,
        }
    }

    /// The UDP header and payload of an encapsulated frame, its checksum zeroed.
    fn udp_zeroed(frame: &[u8], at: usize) -> Vec<u8> {
        let mut udp = frame[at..].to_vec();
        udp[6] = 0;
        udp[7] = 0;
        udp
    }

    #[test]
    fn a_tunnelled_data_frame_gets_a_udp_header_in_front_of_its_esp() {
        let body = esp(&[0xAB; 33]);
        let original = frame(COA, HA, None, None, NextHeader::ESP, &body);
        let mut f = original.clone();
        let esp_range = encapsulate(&mut f, Ports::STANDARD).unwrap();
        assert_eq!(esp_range, 48..48 + body.len());
        assert_eq!(&f[esp_range], &body[..]);
        assert_eq!(f.len(), original.len() + 8);
        assert_eq!(f[6], 17, "the IPv6 Next Header names UDP");
        assert_eq!(
            usize::from(u16::from_be_bytes([f[4], f[5]])),
            8 + body.len(),
            "Payload Length"
        );
        assert_eq!(&f[40..44], &[0x11, 0x94, 0x11, 0x94], "ports 4500 → 4500");
        assert_eq!(
            usize::from(u16::from_be_bytes([f[44], f[45]])),
            8 + body.len(),
            "UDP Length"
        );
        let checksum = u16::from_be_bytes([f[46], f[47]]);
        assert_eq!(checksum, reference_checksum(COA, HA, &udp_zeroed(&f, 40)));
        // etherparse, independently, agrees on the checksum.
        let udp = etherparse::UdpHeader {
            source_port: PORT,
            destination_port: PORT,
            length: (8 + body.len()) as u16,
            checksum: 0,
        };
        assert_eq!(
            udp.calc_checksum_ipv6_raw(COA.octets(), HA.octets(), &body)
                .unwrap(),
            checksum
        );
        assert!(is_encapsulated(&f, PORT));
        assert!(!is_encapsulated(&original, PORT));

        let ports = decapsulate(&mut f).unwrap();
        assert_eq!(ports, Ports::STANDARD);
        assert_eq!(f, original);
    }

    #[test]
    fn a_binding_update_keeps_its_home_address_option_and_checksums_over_the_home_address() {
        let body = esp(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let original = frame(COA, HA, None, Some(HOA), NextHeader::ESP, &body);
        let mut f = original.clone();
        let ports = Ports {
            source: 61_000,
            destination: PORT,
        };
        let range = encapsulate(&mut f, ports).unwrap();
        let at = range.start - 8;
        assert_eq!(
            at, 64,
            "after IPv6 (40) and the Destination Options header (24)"
        );
        assert_eq!(f[6], 60, "the IPv6 header still names Destination Options");
        assert_eq!(f[40], 17, "the Destination Options header names UDP");
        let checksum = u16::from_be_bytes([f[at + 6], f[at + 7]]);
        // RFC 6275 §9.3.1: the upper layer sees the home address as the source.
        assert_eq!(checksum, reference_checksum(HOA, HA, &udp_zeroed(&f, at)));
        assert_ne!(checksum, reference_checksum(COA, HA, &udp_zeroed(&f, at)));
        assert_eq!(decapsulate(&mut f).unwrap(), ports);
        assert_eq!(f, original);
    }

    #[test]
    fn a_binding_acknowledgement_checksums_over_the_final_destination_of_its_routing_header() {
        let body = esp(&[9; 20]);
        let original = frame(HA, COA, Some(HOA), None, NextHeader::ESP, &body);
        let mut f = original.clone();
        let range = encapsulate(&mut f, Ports::STANDARD).unwrap();
        let at = range.start - 8;
        assert_eq!(at, 64);
        assert_eq!(f[40], 17, "the routing header names UDP");
        let checksum = u16::from_be_bytes([f[at + 6], f[at + 7]]);
        assert_eq!(checksum, reference_checksum(HA, HOA, &udp_zeroed(&f, at)));
        decapsulate(&mut f).unwrap();
        assert_eq!(f, original);
    }

    #[test]
    fn octets_after_the_packet_are_left_out() {
        let body = esp(&[7; 16]);
        let original = frame(COA, HA, None, None, NextHeader::ESP, &body);
        let mut f = original.clone();
        f.extend_from_slice(&[0xDD; 5]);
        encapsulate(&mut f, Ports::STANDARD).unwrap();
        assert_eq!(f.len(), original.len() + 8);
        f.extend_from_slice(&[0xDD; 5]);
        decapsulate(&mut f).unwrap();
        assert_eq!(f, original);
    }

    #[test]
    fn in_place_decapsulation_moves_the_esp_frame_to_the_front_of_a_longer_buffer() {
        let body = esp(&[5; 40]);
        let original = frame(COA, HA, None, Some(HOA), NextHeader::ESP, &body);
        let mut f = original.clone();
        let ports = Ports {
            source: 40_001,
            destination: PORT,
        };
        encapsulate(&mut f, ports).unwrap();
        let wire_len = f.len();
        f.extend_from_slice(&[0xDD; 100]);
        let mut buf = f.clone();
        assert_eq!(
            decapsulate_in_place(&mut buf).unwrap(),
            (ports, original.len())
        );
        assert_eq!(&buf[..original.len()], &original[..]);
        assert_eq!(
            &buf[wire_len..],
            &[0xDD; 100],
            "the octets after it are left"
        );
        // Refused: the buffer is not changed.
        let mut bad = f.clone();
        bad[wire_len - 1] ^= 1;
        let before = bad.clone();
        assert!(matches!(
            decapsulate_in_place(&mut bad),
            Err(Error::BadChecksum { .. })
        ));
        assert_eq!(bad, before);
    }

    #[test]
    fn an_esp_packet_from_a_udp_socket_gets_back_the_header_it_was_sent_with() {
        let body = esp(&[3; 60]);
        let original = frame(COA, HA, None, None, NextHeader::ESP, &body);
        let mut f = original.clone();
        let range = encapsulate(&mut f, Ports::STANDARD).unwrap();
        // What a UDP socket hands over is the UDP payload: rebuilding the frame gives
        // the frame the sender sealed (hop limit 64 as `frame` uses).
        let payload = &f[range];
        check_payload(payload, 40).unwrap();
        let mut rebuilt = esp_frame_header(COA, HA, payload.len(), 64)
            .unwrap()
            .to_vec();
        rebuilt.extend_from_slice(payload);
        assert_eq!(rebuilt, original);
        assert_eq!(
            check_payload(&[NAT_KEEPALIVE], 40),
            Err(Error::Keepalive { offset: 40 })
        );
        assert_eq!(
            check_payload(&[0, 0, 0, 0, 9], 40),
            Err(Error::NonEspMarker { offset: 48 })
        );
        assert!(matches!(
            esp_frame_header(COA, HA, 65_536, 64),
            Err(Error::TooLong { .. })
        ));
    }

    /// A UDP frame on port 4500 carrying `payload`, with the checksum right.
    fn udp_frame(payload: &[u8]) -> Vec<u8> {
        let mut udp = vec![0x11, 0x94, 0x11, 0x94];
        udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(payload);
        let c = reference_checksum(COA, HA, &udp);
        udp[6..8].copy_from_slice(&c.to_be_bytes());
        frame(COA, HA, None, None, NextHeader::UDP, &udp)
    }

    #[test]
    fn what_is_not_an_esp_packet_is_named_and_left_alone() {
        let mut keepalive = udp_frame(&[NAT_KEEPALIVE]);
        let before = keepalive.clone();
        assert_eq!(
            decapsulate(&mut keepalive),
            Err(Error::Keepalive { offset: 40 })
        );
        assert_eq!(keepalive, before, "a refused frame is not changed");
        let mut ike = udp_frame(&[0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4]);
        assert_eq!(
            decapsulate(&mut ike),
            Err(Error::NonEspMarker { offset: 48 })
        );
        let mut not_udp = frame(COA, HA, None, None, NextHeader::ESP, &esp(&[1; 8]));
        assert_eq!(
            decapsulate(&mut not_udp),
            Err(Error::NotUdp {
                offset: 40,
                next_header: NextHeader::ESP
            })
        );
        let mut not_esp = frame(COA, HA, None, None, NextHeader(135), &[0; 8]);
        let e = encapsulate(&mut not_esp, Ports::STANDARD).unwrap_err();
        assert_eq!(
            e,
            Error::NotEsp {
                offset: 40,
                next_header: NextHeader(135)
            }
        );
        assert_eq!(e.layer(), Layer::UdpEncapsulation);
    }

    #[test]
    fn a_wrong_zero_or_mislengthed_udp_header_is_refused() {
        let good = udp_frame(&esp(&[5; 24]));
        assert!(decapsulate(&mut good.clone()).is_ok());

        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x01;
        assert_eq!(
            decapsulate(&mut flipped),
            Err(Error::BadChecksum { offset: 40 })
        );

        let mut zero = good.clone();
        zero[46] = 0;
        zero[47] = 0;
        assert_eq!(
            decapsulate(&mut zero),
            Err(Error::ZeroChecksum { offset: 40 })
        );

        let mut long = good.clone();
        long[45] += 1;
        assert_eq!(
            decapsulate(&mut long),
            Err(Error::LengthMismatch {
                offset: 40,
                length: 8 + 32 + 1,
                carried: 40
            })
        );

        // A UDP header cut short: the IPv6 packet carries 5 octets of it.
        let mut short = frame(
            COA,
            HA,
            None,
            None,
            NextHeader::UDP,
            &[0x11, 0x94, 0x11, 0x94, 0],
        );
        let e = decapsulate(&mut short).unwrap_err();
        assert!(
            matches!(e, Error::Length(l) if l.needed == 8 && l.actual == 5 && l.offset == 40),
            "{e:?}"
        );
        assert_eq!(e.layer(), Layer::UdpEncapsulation);
        assert!(e.to_string().contains("ESP in UDP"), "{e}");
    }

    #[test]
    fn a_frame_too_long_for_a_udp_header_is_refused() {
        let body = esp(&vec![0; 65_535 - 8 - 4]);
        let mut f = frame(COA, HA, None, None, NextHeader::ESP, &body);
        assert_eq!(
            encapsulate(&mut f, Ports::STANDARD),
            Err(Error::TooLong { length: f.len() })
        );
    }

    proptest! {
        #[test]
        fn decapsulate_undoes_encapsulate(
            body in proptest::collection::vec(any::<u8>(), 0..1500),
            hoa_option in any::<bool>(),
            rh2 in any::<bool>(),
            source in any::<u16>(),
            destination in any::<u16>(),
            src in any::<u128>(),
            dst in any::<u128>(),
        ) {
            let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
            let original = frame(
                src,
                dst,
                rh2.then_some(HOA),
                hoa_option.then_some(HOA),
                NextHeader::ESP,
                &esp(&body),
            );
            let mut f = original.clone();
            let ports = Ports { source, destination };
            encapsulate(&mut f, ports).unwrap();
            prop_assert_eq!(decapsulate(&mut f), Ok(ports));
            prop_assert_eq!(f, original);
        }

        #[test]
        fn decapsulate_never_panics_and_changes_nothing_it_refuses(
            mut f in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let before = f.clone();
            if decapsulate(&mut f).is_err() {
                prop_assert_eq!(f, before);
            }
        }
    }
}
