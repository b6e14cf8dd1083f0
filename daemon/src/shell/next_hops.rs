//! Where tunnel frames go without a route lookup: per peer address (a mobile node's
//! care-of address at the home agent, the home agent at the mobile node), the
//! neighbour that peer's last *authenticated* frame came through, and when. A frame
//! to a peer heard from within [`NextHops::FRESH`] goes straight to that neighbour
//! (`mip6_netio::link_send`); any other is routed by the kernel.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use mip6_netio::NextHop;
use mip6_wire::Time;

/// The table (module docs).
#[derive(Debug, Default)]
pub struct NextHops {
    hops: HashMap<Ipv6Addr, (NextHop, Time)>,
}

impl NextHops {
    /// How long a learned next hop is used without a new frame from its peer.
    pub const FRESH: Duration = Duration::from_secs(3);
    /// Peers remembered at most (then the table starts over): 7/8 of 65 536, the
    /// most a `HashMap` of 65 536 buckets holds before it doubles, so the table
    /// stays at about 2.6 MiB (40-octet entries) instead of the 5.2 MiB that 65 536
    /// peers would take (issue 13: the home agent's memory per mobile node).
    pub const MAX: usize = 57_344;

    /// Learns that `peer`'s frame, which the engine authenticated, came through `hop`.
    pub fn learn(&mut self, peer: Ipv6Addr, hop: NextHop, now: Time) {
        if self.hops.len() >= Self::MAX && !self.hops.contains_key(&peer) {
            self.hops.clear();
        }
        self.hops.insert(peer, (hop, now));
    }

    /// The next hop toward `peer`, if learned within [`Self::FRESH`] of `now`.
    pub fn get(&self, peer: &Ipv6Addr, now: Time) -> Option<NextHop> {
        let &(hop, at) = self.hops.get(peer)?;
        (now.saturating_since(at) < Self::FRESH).then_some(hop)
    }

    /// Forgets every next hop (the local node moved to another link).
    pub fn clear(&mut self) {
        self.hops.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(i: u32) -> NextHop {
        NextHop {
            ifindex: i,
            mac: [2, 0, 0, 0, 0, i as u8],
        }
    }

    #[test]
    fn the_table_never_grows_past_its_bound() {
        let mut t = NextHops::default();
        let t0 = Time::from_secs(100);
        for i in 0..NextHops::MAX as u32 + 10 {
            let peer =
                Ipv6Addr::from(0x2001_0db8_0005_0000_0000_0000_0000_0000u128 | u128::from(i));
            t.learn(peer, hop(i % 7), t0);
        }
        assert_eq!(t.hops.len(), 10, "started over at the bound");
        assert!(
            t.hops.capacity() <= NextHops::MAX,
            "no doubling past 65 536 buckets: capacity {}",
            t.hops.capacity()
        );
    }

    #[test]
    fn a_hop_is_used_while_fresh_and_forgotten_on_a_move() {
        let peer: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        let mut t = NextHops::default();
        let t0 = Time::from_secs(100);
        assert_eq!(t.get(&peer, t0), None);
        t.learn(peer, hop(3), t0);
        assert_eq!(t.get(&peer, t0 + Duration::from_millis(2999)), Some(hop(3)));
        assert_eq!(t.get(&peer, t0 + NextHops::FRESH), None, "stale");
        t.learn(peer, hop(4), t0 + Duration::from_secs(10));
        assert_eq!(t.get(&peer, t0 + Duration::from_secs(11)), Some(hop(4)));
        t.clear();
        assert_eq!(t.get(&peer, t0 + Duration::from_secs(11)), None);
    }
}
