//! Packets around the tunnel: the inner IPv6/UDP packets the tests send through it,
//! the buffer layout [`Engine::seal_data`](mip6_wire::engine::Engine::seal_data)
//! seals in place, and the two ESP header fields a test reads or rewrites in a frame.

use std::net::Ipv6Addr;

use mip6_wire::esp;
use mip6_wire::frames::{self, DATA_HEADROOM};

/// Octets of the IPv6 header.
const IPV6_HEADER: usize = 40;
/// Octets of a UDP header.
const UDP_HEADER: usize = 8;
/// UDP's next header value.
const UDP: u8 = 17;
/// Source and destination ports of [`udp_packet`].
const PORTS: (u16, u16) = (5000, 5001);

/// An IPv6/UDP packet `src`:5000 → `dst`:5001, hop limit 64, carrying `payload`, with
/// its UDP checksum computed (RFC 8200 §8.1), so Wireshark shows it clean.
pub fn udp_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let udp_len = u16::try_from(UDP_HEADER + payload.len()).expect("a payload under 64 KiB");
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[UDP, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&PORTS.0.to_be_bytes());
    p.extend_from_slice(&PORTS.1.to_be_bytes());
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    // The checksum covers the pseudo-header and the datagram.
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(2) {
            let hi = u32::from(chunk[0]) << 8;
            sum += hi | chunk.get(1).map_or(0, |&b| u32::from(b));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&u32::from(udp_len).to_be_bytes());
    add(&[0, 0, 0, UDP]);
    add(&p[IPV6_HEADER..]);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let checksum = match !(sum as u16) {
        0 => 0xffff,
        c => c,
    };
    let at = IPV6_HEADER + 6;
    p[at..at + 2].copy_from_slice(&checksum.to_be_bytes());
    p
}

/// The UDP payload of a packet built by [`udp_packet`] (empty if it is shorter).
pub fn udp_payload(packet: &[u8]) -> &[u8] {
    packet.get(IPV6_HEADER + UDP_HEADER..).unwrap_or_default()
}

/// A buffer laid out for `seal_data`: [`DATA_HEADROOM`] octets, the inner packet, and
/// room for the ESP trailer.
pub fn data_buffer(inner: &[u8]) -> Vec<u8> {
    let mut buf = vec![0; DATA_HEADROOM + inner.len() + esp::trailer_len(inner.len())];
    buf[DATA_HEADROOM..DATA_HEADROOM + inner.len()].copy_from_slice(inner);
    buf
}

/// The SPI and the sequence number of a frame's ESP header, if it has one.
pub fn esp_header(frame: &[u8]) -> Option<(u32, u32)> {
    let f = frames::inspect(frame).ok()?;
    let seq = frame.get(f.esp.start + 4..f.esp.start + 8)?;
    Some((f.spi, u32::from_be_bytes(seq.try_into().ok()?)))
}

/// Overwrites the SPI of a frame's ESP header (panics if it has none).
pub fn set_spi(frame: &mut [u8], spi: u32) {
    let f = frames::inspect(frame).expect("an ESP frame");
    frame[f.esp.start..f.esp.start + 4].copy_from_slice(&spi.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{CN, HOA};

    #[test]
    fn udp_packet_checksums_to_zero_and_gives_back_its_payload() {
        let p = udp_packet(HOA, CN, b"odd length");
        assert_eq!(p.len(), 40 + 8 + 10);
        assert_eq!(udp_payload(&p), b"odd length");
        // Summing the pseudo-header and the datagram, checksum included, gives 0xffff.
        let mut sum: u32 = 0;
        let mut words = p[8..40].to_vec();
        words.extend_from_slice(&(18u32).to_be_bytes());
        words.extend_from_slice(&[0, 0, 0, 17]);
        words.extend_from_slice(&p[40..]);
        if words.len() % 2 == 1 {
            words.push(0);
        }
        for w in words.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
    }

    #[test]
    fn data_buffer_puts_the_packet_after_the_headroom() {
        let b = data_buffer(&[1, 2, 3]);
        assert_eq!(&b[DATA_HEADROOM..DATA_HEADROOM + 3], &[1, 2, 3]);
        assert!(b.len() >= DATA_HEADROOM + 3 + 16);
        assert_eq!(esp_header(&b), None);
    }
}
