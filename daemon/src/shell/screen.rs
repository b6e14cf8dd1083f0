//! Screening received frames by their IPv6 destination, before the capture and the
//! engine see them: the packet sockets' BPF filter takes only frames for the daemon's
//! address, but the raw ESP socket gets whatever ESP the kernel accepted locally,
//! for a link-local or multicast address too.

use std::net::Ipv6Addr;

/// Offset of the first octet of the destination address in an IPv6 header.
const IPV6_DST_FIRST: usize = 24;

/// Drop name of a received frame whose IPv6 destination is not one of the daemon's own unicast
/// addresses (status `drops`, metrics `reason`).
pub const WRONG_DESTINATION: &str = "wrong_destination";

/// Whether a frame received from the network is for this daemon: its IPv6
/// destination (octets 24..40) must be one of `own` (the home agent's configured
/// address; the mobile node's care-of and home addresses).
/// The packet sockets' filter already takes only those, but the raw ESP socket gets
/// whatever ESP the kernel accepted locally, for a link-local or multicast address too;
/// such a frame is [`WRONG_DESTINATION`]. A frame too short to hold a destination is
/// left to the engine, which counts it malformed. Never panics.
pub fn screen_destination(frame: &[u8], own: &[Ipv6Addr]) -> Option<&'static str> {
    let destination: [u8; 16] = frame
        .get(IPV6_DST_FIRST..IPV6_DST_FIRST + 16)?
        .try_into()
        .ok()?;
    let destination = Ipv6Addr::from(destination);
    (!own.contains(&destination)).then_some(WRONG_DESTINATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6 header (ESP next header) from `src` to `dst`, with `tail` octets after it.
    fn frame(src: &str, dst: &str, tail: usize) -> Vec<u8> {
        let mut f = vec![0x60, 0, 0, 0, 0, tail as u8, 50, 64];
        f.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
        f.extend(std::iter::repeat_n(0xAB, tail));
        f
    }

    #[test]
    fn only_frames_to_the_daemons_own_addresses_pass() {
        let ha: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let own = [ha];
        let peer = "2001:db8:2::100";
        assert_eq!(
            screen_destination(&frame(peer, "2001:db8:1::1", 24), &own),
            None
        );
        for other in [
            "fe80::1",         // the HA's link-local address
            "ff02::1",         // all nodes
            "ff02::1:ff00:1",  // solicited-node
            "ff0e::1",         // global multicast
            "2001:db8:1::100", // a home address (proxied, not ours)
            "2001:db8:1::2",   // a neighbour
            "::1",
            "::",
        ] {
            assert_eq!(
                screen_destination(&frame(peer, other, 24), &own),
                Some(WRONG_DESTINATION),
                "{other}"
            );
        }
        // Several configured addresses: any of them passes.
        let two = [ha, "2001:db8:5::1".parse().unwrap()];
        assert_eq!(
            screen_destination(&frame(peer, "2001:db8:5::1", 0), &two),
            None
        );
        // Too short to hold a destination: the engine's to count (malformed), no panic.
        let whole = frame(peer, "fe80::1", 0);
        for len in 0..40 {
            assert_eq!(screen_destination(&whole[..len], &own), None, "{len}");
        }
        assert_eq!(screen_destination(&whole, &[]), Some(WRONG_DESTINATION));
    }
}
