//! Repair of a UDP-over-IPv6 checksum that an offload completed as 0x0000.
//!
//! With `TUN_F_CSUM` the kernel may hand a packet to the TUN with its checksum left for
//! the reader to complete (`VIRTIO_NET_HDR_F_NEEDS_CSUM`). tun-rs completes it (its
//! `gso_none_checksum`, and the UDP segments it splits) by writing the one's complement
//! of the sum as it is, so a UDP datagram whose sum is 0xFFFF leaves with checksum 0.
//! Over IPv6 that is illegal (RFC 8200 §8.1: a computed zero is sent as 0xFFFF; a zero
//! checksum field is discarded by receivers and flagged by Wireshark), and it happens to
//! about one datagram in 65 536.
//!
//! [`repair_zero_udp_checksum`] finds such a datagram and writes 0xFFFF, the other
//! representation of the same value in one's complement, which the receiver verifies. A
//! zero checksum that does not verify as 0xFFFF (a UDP tunnel that sends none, RFC
//! 6936) is left alone. Only a UDP header right after the IPv6 header is looked at:
//! that is where tun-rs completes checksums, and a zero there is the only case to cost
//! a sum (etherparse's), so the common path is a few compares.

/// Octets of the IPv6 header.
const IPV6_HEADER: usize = 40;
/// IPv6 Next Header value of UDP.
const UDP: u8 = 17;

/// Writes 0xFFFF into the checksum of `packet` (a whole IPv6 packet) if it is a UDP
/// datagram whose checksum field is 0 and whose checksum, computed, is 0xFFFF (RFC
/// 8200 §8.1, RFC 768: a computed zero). Returns whether it did.
pub fn repair_zero_udp_checksum(packet: &mut [u8]) -> bool {
    let checksum_at = IPV6_HEADER + 6;
    if packet.len() < IPV6_HEADER + 8
        || packet[0] >> 4 != 6
        || packet[6] != UDP
        || packet[checksum_at..checksum_at + 2] != [0, 0]
    {
        return false;
    }
    let Ok(ip) = etherparse::Ipv6HeaderSlice::from_slice(packet) else {
        return false;
    };
    if usize::from(ip.payload_length()) > packet.len() - IPV6_HEADER {
        return false;
    }
    let (source, destination) = (ip.source(), ip.destination());
    let Ok((udp, rest)) = etherparse::UdpHeader::from_slice(&packet[IPV6_HEADER..]) else {
        return false;
    };
    let Some(payload) = rest.get(..usize::from(udp.length).saturating_sub(8)) else {
        return false;
    };
    // etherparse writes a computed zero as 0xFFFF, and only a computed zero comes out
    // as 0xFFFF (the pseudo-header's next header keeps the sum from being +0).
    if udp.calc_checksum_ipv6_raw(source, destination, payload) != Ok(0xffff) {
        return false;
    }
    packet[checksum_at..checksum_at + 2].copy_from_slice(&[0xff, 0xff]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6/UDP packet 2001:db8:4::1 → 2001:db8:1::100 with `payload`, checksum 0.
    fn udp_packet(payload: &[u8]) -> Vec<u8> {
        let len = 8 + payload.len();
        let mut p = vec![0u8; IPV6_HEADER + len];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(len as u16).to_be_bytes());
        p[6] = UDP;
        p[7] = 64;
        p[8..24].copy_from_slice(
            &"2001:db8:4::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        p[24..40].copy_from_slice(
            &"2001:db8:1::100"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        p[40..42].copy_from_slice(&42003u16.to_be_bytes());
        p[42..44].copy_from_slice(&42003u16.to_be_bytes());
        p[44..46].copy_from_slice(&(len as u16).to_be_bytes());
        p[48..].copy_from_slice(payload);
        p
    }

    /// The RFC 1071 sum of the pseudo-header and datagram as the packet stands.
    fn verifies(p: &[u8]) -> bool {
        let mut sum: u64 = 0;
        for pair in p[8..].chunks(2) {
            sum += u64::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        }
        sum += (p.len() - IPV6_HEADER) as u64 + u64::from(UDP);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum == 0xffff
    }

    #[test]
    fn a_sum_of_all_ones_gets_0xffff_and_then_verifies() {
        // Pick the last two payload octets so that the sum is all ones: the checksum
        // an offload completes is then 0x0000.
        let mut p = udp_packet(&[0x5a; 200]);
        p[246..248].copy_from_slice(&[0, 0]);
        let mut sum: u64 = 0;
        for pair in p[8..].chunks(2) {
            sum += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        sum += (p.len() - IPV6_HEADER) as u64 + u64::from(UDP);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        p[246..248].copy_from_slice(&(0xffff - sum as u16).to_be_bytes());
        assert_eq!(&p[46..48], &[0, 0], "what tun-rs leaves: illegal over IPv6");
        assert!(repair_zero_udp_checksum(&mut p));
        assert_eq!(&p[46..48], &[0xff, 0xff]);
        assert!(verifies(&p));
        assert!(
            !repair_zero_udp_checksum(&mut p),
            "a non-zero field is left alone"
        );
    }

    #[test]
    fn other_packets_are_left_alone() {
        // A zero checksum that is not a computed one (RFC 6936 tunnels send none).
        let mut p = udp_packet(b"no checksum");
        let before = p.clone();
        assert!(!repair_zero_udp_checksum(&mut p));
        assert_eq!(p, before);
        // Not UDP, not IPv6, truncated, or a payload length beyond the buffer.
        let mut tcp = udp_packet(&[0; 20]);
        tcp[6] = 6;
        assert!(!repair_zero_udp_checksum(&mut tcp));
        let mut v4 = udp_packet(&[0; 20]);
        v4[0] = 0x45;
        assert!(!repair_zero_udp_checksum(&mut v4));
        assert!(!repair_zero_udp_checksum(&mut [0x60; 30]));
        let mut long = udp_packet(&[0; 20]);
        long[4..6].copy_from_slice(&500u16.to_be_bytes());
        assert!(!repair_zero_udp_checksum(&mut long));
    }
}
