//! ESP in UDP (RFC 3948) at the shell: which peers get their frames in UDP, and on
//! which port. The engines seal and open ESP frames and know nothing of UDP; the
//! shell takes the UDP header off what arrives ([`mip6_wire::udp_encap`] for frames
//! from the packet sockets, a synthesized IPv6 header for datagrams from the UDP
//! socket) and puts it on what leaves for a peer this table names.
//!
//! - **Mobile node** (`encapsulation = "udp"`): every frame to its home agent goes in
//!   UDP, from and to the configured port ([`UdpPeers::fixed`]), while it is away
//!   ([`UdpPeers::set_away`]). At home (no care-of address) it sends raw ESP: its
//!   deregistration, from the home address, must reach the home agent through a packet
//!   socket, whose link-layer source tells the home agent where on the home link to
//!   answer; the home address is not on the link yet, so nobody answers a Neighbor
//!   Solicitation for it, and an answer routed by the kernel would never arrive
//!   (RFC 6275 §11.5.4). A home link has no NAT to cross.
//! - **Home agent** (`encapsulation = "udp"`: it listens on the port too): it answers
//!   each peer in kind ([`UdpPeers::learn`]): a care-of address whose last
//!   *authenticated* frame came in UDP gets UDP, to the source port that frame came
//!   from (a NAT's, RFC 3948 §2.1); one whose last authenticated frame was raw ESP
//!   gets raw ESP. Only a frame the engine authenticated teaches it, so a forged
//!   datagram cannot turn a mobile node's traffic to another port. Entries not
//!   refreshed for [`LEARNED_FOR`] are forgotten ([`UdpPeers::prune`]).
//! - **NAT keepalive** (RFC 3948 §2.3, §4): a mobile node that has sent its home agent
//!   nothing in UDP for its keepalive interval (default [`KEEPALIVE_EVERY`], RFC 3948's
//!   20 s) sends one octet, 0xFF, so that a NAT keeps the mapping the home agent
//!   answers through ([`UdpPeers::keepalive_due`]). The home agent counts it
//!   (`udp_keepalive`) and learns nothing from it: it is not authenticated.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use mip6_wire::udp_encap::Ports;
use mip6_wire::Time;

/// The default NAT keepalive interval (RFC 3948 §4: 20 seconds).
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(20);

/// How long a learned peer port is kept without an authenticated frame renewing it:
/// longer than any binding lifetime the daemons grant without a refresh.
pub const LEARNED_FOR: Duration = Duration::from_secs(3600);

/// What a daemon's configuration says of ESP in UDP ([`crate::shell::IoConfig::udp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpEncapConfig {
    /// The UDP port this daemon listens on and sends from, and the one it sends to
    /// unless a peer's frames came from another (RFC 3948 §2.1: 4500).
    pub port: u16,
    /// A peer every frame goes to in UDP (the mobile node's home agent); `None`: learn
    /// per peer (the home agent).
    pub fixed_peer: Option<Ipv6Addr>,
    /// The NAT keepalive interval towards the fixed peer; `None`: none.
    pub keepalive: Option<Duration>,
}

/// Which peers get their frames in UDP (module docs).
#[derive(Debug, Clone)]
pub struct UdpPeers {
    port: u16,
    fixed: Option<Ipv6Addr>,
    away: bool,
    keepalive: Option<Duration>,
    learned: HashMap<Ipv6Addr, (u16, Time)>,
}

impl UdpPeers {
    /// The table for `config`, nothing learned.
    pub fn new(config: UdpEncapConfig) -> Self {
        UdpPeers {
            port: config.port,
            fixed: config.fixed_peer,
            away: true,
            keepalive: config.keepalive,
            learned: HashMap::new(),
        }
    }

    /// The port this daemon listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The peer every frame goes to in UDP, if configured.
    pub fn fixed(&self) -> Option<Ipv6Addr> {
        self.fixed
    }

    /// Whether the node is away (it has a care-of address): the fixed peer gets UDP
    /// only then (module docs). The home agent's table has no fixed peer and ignores
    /// it.
    pub fn set_away(&mut self, away: bool) {
        self.away = away;
    }

    /// The ports a frame to `destination` is sent with; `None`: raw ESP.
    pub fn ports_for(&self, destination: &Ipv6Addr) -> Option<Ports> {
        if self.fixed == Some(*destination) && self.away {
            return Some(Ports {
                source: self.port,
                destination: self.port,
            });
        }
        self.learned.get(destination).map(|&(port, _)| Ports {
            source: self.port,
            destination: port,
        })
    }

    /// A frame from `peer` that the engine authenticated arrived at `now` in UDP from
    /// `source_port`, or as raw ESP (`None`): answer it the same way from now on. A
    /// fixed peer is not learned (the configuration says how to reach it).
    pub fn learn(&mut self, peer: Ipv6Addr, source_port: Option<u16>, now: Time) {
        if self.fixed.is_some() {
            return;
        }
        match source_port {
            Some(port) => {
                self.learned.insert(peer, (port, now));
            }
            None => {
                self.learned.remove(&peer);
            }
        }
    }

    /// The NAT keepalive interval, if any.
    pub fn keepalive_interval(&self) -> Option<Duration> {
        self.keepalive.filter(|_| self.fixed.is_some())
    }

    /// Where a NAT keepalive goes now, if one is due: to the fixed peer, while away,
    /// when nothing went to it in UDP since `last_sent` for the keepalive interval.
    pub fn keepalive_due(&self, last_sent: Time, now: Time) -> Option<(Ipv6Addr, Ports)> {
        let every = self.keepalive_interval()?;
        let peer = self.fixed.filter(|_| self.away)?;
        if now.saturating_since(last_sent) < every {
            return None;
        }
        self.ports_for(&peer).map(|ports| (peer, ports))
    }

    /// Forgets peers not heard from in UDP for [`LEARNED_FOR`].
    pub fn prune(&mut self, now: Time) {
        self.learned
            .retain(|_, &mut (_, at)| now.saturating_since(at) < LEARNED_FOR);
    }

    /// How many peers are answered in UDP by learning.
    pub fn learned(&self) -> usize {
        self.learned.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
    const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);

    #[test]
    fn a_mobile_node_sends_everything_for_its_home_agent_in_udp_on_its_port() {
        let mut peers = UdpPeers::new(UdpEncapConfig {
            port: 4500,
            fixed_peer: Some(HA),
            keepalive: Some(KEEPALIVE_EVERY),
        });
        assert_eq!(peers.ports_for(&HA), Some(Ports::STANDARD));
        assert_eq!(peers.ports_for(&COA), None, "others: raw ESP");
        // What arrives does not change it.
        peers.learn(HA, None, Time::from_secs(1));
        peers.learn(COA, Some(7000), Time::from_secs(1));
        assert_eq!(peers.ports_for(&HA), Some(Ports::STANDARD));
        assert_eq!(peers.ports_for(&COA), None);
        assert_eq!(peers.learned(), 0);
        // At home: raw ESP (its deregistration must come through a packet socket).
        peers.set_away(false);
        assert_eq!(peers.ports_for(&HA), None);
        peers.set_away(true);
        assert_eq!(peers.ports_for(&HA), Some(Ports::STANDARD));
    }

    #[test]
    fn a_home_agent_answers_each_peer_as_its_last_authenticated_frame_came() {
        let mut peers = UdpPeers::new(UdpEncapConfig {
            port: 4500,
            fixed_peer: None,
            keepalive: None,
        });
        assert_eq!(peers.ports_for(&COA), None, "nothing learned: raw ESP");
        // Behind a NAT: the source port is the NAT's.
        peers.learn(COA, Some(61_000), Time::from_secs(1));
        assert_eq!(
            peers.ports_for(&COA),
            Some(Ports {
                source: 4500,
                destination: 61_000
            })
        );
        assert_eq!(peers.ports_for(&COA2), None, "per peer");
        // The NAT moved the mapping: the newest authenticated frame wins.
        peers.learn(COA, Some(61_001), Time::from_secs(2));
        assert_eq!(peers.ports_for(&COA).unwrap().destination, 61_001);
        // The node went back to raw ESP.
        peers.learn(COA, None, Time::from_secs(3));
        assert_eq!(peers.ports_for(&COA), None);
    }

    #[test]
    fn a_keepalive_is_due_after_the_interval_without_a_udp_send_and_only_while_away() {
        let mut peers = UdpPeers::new(UdpEncapConfig {
            port: 4500,
            fixed_peer: Some(HA),
            keepalive: Some(KEEPALIVE_EVERY),
        });
        let sent = Time::from_secs(100);
        assert_eq!(peers.keepalive_due(sent, Time::from_secs(119)), None);
        assert_eq!(
            peers.keepalive_due(sent, Time::from_secs(120)),
            Some((HA, Ports::STANDARD))
        );
        peers.set_away(false);
        assert_eq!(
            peers.keepalive_due(sent, Time::from_secs(200)),
            None,
            "at home"
        );
        // The home agent sends none: it has no fixed peer.
        let ha = UdpPeers::new(UdpEncapConfig {
            port: 4500,
            fixed_peer: None,
            keepalive: Some(KEEPALIVE_EVERY),
        });
        assert_eq!(ha.keepalive_interval(), None);
        assert_eq!(ha.keepalive_due(sent, Time::from_secs(1000)), None);
    }

    #[test]
    fn learned_ports_are_forgotten_after_an_hour_without_a_frame() {
        let mut peers = UdpPeers::new(UdpEncapConfig {
            port: 4500,
            fixed_peer: None,
            keepalive: None,
        });
        peers.learn(COA, Some(4500), Time::from_secs(10));
        peers.learn(COA2, Some(4500), Time::from_secs(1000));
        peers.prune(Time::from_secs(10) + LEARNED_FOR - Duration::from_secs(1));
        assert_eq!(peers.learned(), 2);
        peers.prune(Time::from_secs(10) + LEARNED_FOR);
        assert_eq!(peers.learned(), 1);
        assert_eq!(peers.ports_for(&COA), None);
        assert!(peers.ports_for(&COA2).is_some());
    }
}
