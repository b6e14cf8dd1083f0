//! Router Solicitation and Router Advertisement (RFC 4861 §4.1, §4.2) with the options
//! a mobile node's movement detection reads (RFC 6275 §11.5.1): Source Link-Layer
//! Address, Prefix Information with the Router Address flag (RFC 6275 §7.2), MTU and
//! Advertisement Interval (RFC 6275 §7.3); the Home Agent flag of RFC 6275 §7.1.
//!
//! [`parse_advertisement`] applies the validity rules of RFC 4861 §6.1.2 to a whole
//! received IPv6 packet (no link-layer header): a packet that fails one is silently
//! discarded by the caller. The emitters build what a mobile node sends (a
//! solicitation from the unspecified address, RFC 4861 §6.3.7) and what tests and the
//! lab's checks send (an advertisement).
//!
//! Not supported: Router Advertisements behind IPv6 extension headers (refused as
//! [`RaError::NotRouterAdvertisement`]), link-layer addresses other than Ethernet
//! ones (the option is ignored), Route Information (RFC 4191) and RDNSS options
//! (skipped as unknown, as RFC 4861 §4.6 asks).

use std::net::Ipv6Addr;
use std::time::Duration;

use etherparse::{icmpv6::NdpOptionsIterator, Icmpv6Slice, Icmpv6Type, IpNumber, Ipv6Slice};

use crate::nd::{LinkAddress, ND_HOP_LIMIT};

/// ICMPv6 type of a Router Solicitation (RFC 4861 §4.1).
pub const ROUTER_SOLICITATION: u8 = 133;
/// ICMPv6 type of a Router Advertisement (RFC 4861 §4.2).
pub const ROUTER_ADVERTISEMENT: u8 = 134;
/// The all-routers multicast address (RFC 4291 §2.7.1), where solicitations go.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

const OPTION_SOURCE_LINK_LAYER_ADDRESS: u8 = 1;
const OPTION_PREFIX_INFORMATION: u8 = 3;
const OPTION_MTU: u8 = 5;
/// Advertisement Interval option (RFC 6275 §7.3).
const OPTION_ADVERTISEMENT_INTERVAL: u8 = 7;
/// ICMPv6 header (4) + hop limit, flags, router lifetime (4) + reachable time (4) +
/// retrans timer (4): the shortest advertisement (RFC 4861 §6.1.2).
const RA_FIXED_LEN: usize = 16;
/// The Home Agent flag in the RA flags octet (RFC 6275 §7.1).
const FLAG_HOME_AGENT: u8 = 0x20;
const FLAG_MANAGED: u8 = 0x80;
const FLAG_OTHER: u8 = 0x40;
/// Prefix Information flags (RFC 4861 §4.6.2, RFC 6275 §7.2).
const PREFIX_ON_LINK: u8 = 0x80;
const PREFIX_AUTONOMOUS: u8 = 0x40;
const PREFIX_ROUTER_ADDRESS: u8 = 0x20;

/// Why a received packet is not a valid Router Advertisement (RFC 4861 §6.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RaError {
    /// Not an IPv6 packet whose payload is a Router Advertisement right after the IPv6
    /// header.
    #[error("not a Router Advertisement")]
    NotRouterAdvertisement,
    /// The source is not a link-local address.
    #[error("source {0} is not link-local")]
    SourceNotLinkLocal(Ipv6Addr),
    /// The IPv6 hop limit is not 255: the packet may come from off the link.
    #[error("hop limit {0}, not 255")]
    HopLimit(u8),
    /// The ICMPv6 code is not 0.
    #[error("ICMP code {0}, not 0")]
    Code(u8),
    /// The ICMPv6 checksum does not verify.
    #[error("bad ICMPv6 checksum")]
    Checksum,
    /// Shorter than 16 octets of ICMPv6.
    #[error("ICMPv6 length {0}, shorter than 16")]
    Short(usize),
    /// An option has length zero or runs past the end.
    #[error("malformed option")]
    Option,
}

/// One Prefix Information option (RFC 4861 §4.6.2; the R flag of RFC 6275 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixInformation {
    /// The prefix (bits past `len` as sent; use [`PrefixInformation::network`]).
    pub prefix: Ipv6Addr,
    /// The prefix length.
    pub len: u8,
    /// L: the prefix is on-link.
    pub on_link: bool,
    /// A: the prefix may be used for stateless address autoconfiguration.
    pub autonomous: bool,
    /// R: `prefix` is the router's own full address (RFC 6275 §7.2).
    pub router_address: bool,
    /// Valid lifetime (`u32::MAX`: infinity).
    pub valid_lifetime: u32,
    /// Preferred lifetime (`u32::MAX`: infinity).
    pub preferred_lifetime: u32,
}

impl PrefixInformation {
    /// The prefix with every bit past its length cleared.
    pub fn network(&self) -> Ipv6Addr {
        let len = u32::from(self.len.min(128));
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        Ipv6Addr::from(u128::from(self.prefix) & mask)
    }
}

/// A Router Advertisement (RFC 4861 §4.2) with the IPv6 source it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterAdvertisement {
    /// The router's link-local address.
    pub source: Ipv6Addr,
    /// Where it was sent (all-nodes, or the soliciting node).
    pub destination: Ipv6Addr,
    /// Cur Hop Limit (0: unspecified).
    pub cur_hop_limit: u8,
    /// M: addresses are available via DHCPv6.
    pub managed: bool,
    /// O: other configuration is available via DHCPv6.
    pub other_config: bool,
    /// H: the router is also a home agent (RFC 6275 §7.1).
    pub home_agent: bool,
    /// Router Lifetime in seconds (0: not a default router).
    pub router_lifetime: u16,
    /// Reachable Time in milliseconds (0: unspecified).
    pub reachable_time_ms: u32,
    /// Retrans Timer in milliseconds (0: unspecified).
    pub retrans_timer_ms: u32,
    /// The Source Link-Layer Address option, if it carries an Ethernet address.
    pub source_link_address: Option<LinkAddress>,
    /// The MTU option.
    pub mtu: Option<u32>,
    /// The Advertisement Interval option (RFC 6275 §7.3): the router's longest time
    /// between unsolicited advertisements, in milliseconds.
    pub advertisement_interval_ms: Option<u32>,
    /// Every Prefix Information option, in order.
    pub prefixes: Vec<PrefixInformation>,
}

impl RouterAdvertisement {
    /// The Router Lifetime as a duration.
    pub fn router_lifetime(&self) -> Duration {
        Duration::from_secs(u64::from(self.router_lifetime))
    }

    /// The Advertisement Interval as a duration.
    pub fn advertisement_interval(&self) -> Option<Duration> {
        self.advertisement_interval_ms
            .map(|ms| Duration::from_millis(u64::from(ms)))
    }

    /// The packet, hop limit 255 (RFC 4861 §4.2), options in the order SLLA, MTU,
    /// Advertisement Interval, prefixes.
    pub fn emit(&self) -> Vec<u8> {
        let mut flags = 0u8;
        if self.managed {
            flags |= FLAG_MANAGED;
        }
        if self.other_config {
            flags |= FLAG_OTHER;
        }
        if self.home_agent {
            flags |= FLAG_HOME_AGENT;
        }
        let lifetime = self.router_lifetime.to_be_bytes();
        let mut body = Vec::with_capacity(12 + 32 * self.prefixes.len() + 24);
        body.extend_from_slice(&self.reachable_time_ms.to_be_bytes());
        body.extend_from_slice(&self.retrans_timer_ms.to_be_bytes());
        if let Some(mac) = self.source_link_address {
            body.extend_from_slice(&[OPTION_SOURCE_LINK_LAYER_ADDRESS, 1]);
            body.extend_from_slice(&mac);
        }
        if let Some(mtu) = self.mtu {
            body.extend_from_slice(&[OPTION_MTU, 1, 0, 0]);
            body.extend_from_slice(&mtu.to_be_bytes());
        }
        if let Some(ms) = self.advertisement_interval_ms {
            body.extend_from_slice(&[OPTION_ADVERTISEMENT_INTERVAL, 1, 0, 0]);
            body.extend_from_slice(&ms.to_be_bytes());
        }
        for p in &self.prefixes {
            let mut pflags = 0u8;
            if p.on_link {
                pflags |= PREFIX_ON_LINK;
            }
            if p.autonomous {
                pflags |= PREFIX_AUTONOMOUS;
            }
            if p.router_address {
                pflags |= PREFIX_ROUTER_ADDRESS;
            }
            body.extend_from_slice(&[OPTION_PREFIX_INFORMATION, 4, p.len, pflags]);
            body.extend_from_slice(&p.valid_lifetime.to_be_bytes());
            body.extend_from_slice(&p.preferred_lifetime.to_be_bytes());
            body.extend_from_slice(&[0; 4]);
            body.extend_from_slice(&p.prefix.octets());
        }
        emit(
            self.source,
            self.destination,
            ROUTER_ADVERTISEMENT,
            [self.cur_hop_limit, flags, lifetime[0], lifetime[1]],
            &body,
        )
    }
}

/// A Router Solicitation from the unspecified address to all routers, without a
/// Source Link-Layer Address option (RFC 4861 §4.1, §6.3.7: a node that has no
/// usable address yet, or does not want a Neighbor Cache entry made for it).
pub fn solicitation_from_unspecified() -> Vec<u8> {
    emit(
        Ipv6Addr::UNSPECIFIED,
        ALL_ROUTERS,
        ROUTER_SOLICITATION,
        [0; 4],
        &[],
    )
}

/// Whether `packet` is a Router Solicitation (any validity), for tests and the lab.
pub fn is_solicitation(packet: &[u8]) -> bool {
    packet.len() > 40
        && packet[6] == u8::from(IpNumber::IPV6_ICMP)
        && packet[40] == ROUTER_SOLICITATION
}

/// Parses and validates a received IPv6 packet as a Router Advertisement
/// (RFC 4861 §6.1.2). Never panics.
pub fn parse_advertisement(packet: &[u8]) -> Result<RouterAdvertisement, RaError> {
    let ip = Ipv6Slice::from_slice(packet).map_err(|_| RaError::NotRouterAdvertisement)?;
    let header = ip.header();
    if !ip.extensions().is_empty() || ip.payload().ip_number != IpNumber::IPV6_ICMP {
        return Err(RaError::NotRouterAdvertisement);
    }
    let (source, destination) = (header.source_addr(), header.destination_addr());
    let octets = ip.payload().payload;
    let icmp = Icmpv6Slice::from_slice(octets).map_err(|_| RaError::NotRouterAdvertisement)?;
    if icmp.type_u8() != ROUTER_ADVERTISEMENT {
        return Err(RaError::NotRouterAdvertisement);
    }
    if source.segments()[0] & 0xffc0 != 0xfe80 {
        return Err(RaError::SourceNotLinkLocal(source));
    }
    if header.hop_limit() != ND_HOP_LIMIT {
        return Err(RaError::HopLimit(header.hop_limit()));
    }
    if !icmp.is_checksum_valid(source.octets(), destination.octets()) {
        return Err(RaError::Checksum);
    }
    if icmp.code_u8() != 0 {
        return Err(RaError::Code(icmp.code_u8()));
    }
    if octets.len() < RA_FIXED_LEN {
        return Err(RaError::Short(octets.len()));
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([octets[at], octets[at + 1], octets[at + 2], octets[at + 3]])
    };
    let flags = octets[5];
    let mut ra = RouterAdvertisement {
        source,
        destination,
        cur_hop_limit: octets[4],
        managed: flags & FLAG_MANAGED != 0,
        other_config: flags & FLAG_OTHER != 0,
        home_agent: flags & FLAG_HOME_AGENT != 0,
        router_lifetime: u16::from_be_bytes([octets[6], octets[7]]),
        reachable_time_ms: be32(8),
        retrans_timer_ms: be32(12),
        source_link_address: None,
        mtu: None,
        advertisement_interval_ms: None,
        prefixes: Vec::new(),
    };
    for option in NdpOptionsIterator::from_slice(&octets[RA_FIXED_LEN..]) {
        let o = option.map_err(|_| RaError::Option)?.as_bytes();
        let be32 = |at: usize| u32::from_be_bytes([o[at], o[at + 1], o[at + 2], o[at + 3]]);
        match (o[0], o.len()) {
            (OPTION_SOURCE_LINK_LAYER_ADDRESS, 8) => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&o[2..8]);
                ra.source_link_address.get_or_insert(mac);
            }
            (OPTION_MTU, 8) => {
                ra.mtu.get_or_insert(be32(4));
            }
            (OPTION_ADVERTISEMENT_INTERVAL, 8) => {
                ra.advertisement_interval_ms.get_or_insert(be32(4));
            }
            (OPTION_PREFIX_INFORMATION, 32) => {
                let mut prefix = [0u8; 16];
                prefix.copy_from_slice(&o[16..32]);
                ra.prefixes.push(PrefixInformation {
                    prefix: Ipv6Addr::from(prefix),
                    len: o[2],
                    on_link: o[3] & PREFIX_ON_LINK != 0,
                    autonomous: o[3] & PREFIX_AUTONOMOUS != 0,
                    router_address: o[3] & PREFIX_ROUTER_ADDRESS != 0,
                    valid_lifetime: be32(4),
                    preferred_lifetime: be32(8),
                });
            }
            // Unknown options, and known ones of another length (a Prefix
            // Information option must be 4 units; RFC 4861 §4.6: ignored).
            _ => {}
        }
    }
    Ok(ra)
}

/// An ICMPv6 message of `icmp_type` (code 0) in an IPv6 packet with hop limit 255.
fn emit(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    icmp_type: u8,
    bytes5to8: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let icmp_type = Icmpv6Type::Unknown {
        type_u8: icmp_type,
        code_u8: 0,
        bytes5to8,
    };
    crate::nd::icmpv6_packet(source, destination, icmp_type, body)
}

/// The address a node forms from a /64 `prefix` on an interface with Ethernet address
/// `mac`: the modified EUI-64 interface identifier (RFC 4291 §2.5.1, Appendix A; the
/// universal/local bit inverted, `ff:fe` in the middle).
pub fn eui64_address(prefix: Ipv6Addr, mac: LinkAddress) -> Ipv6Addr {
    let mut o = prefix.octets();
    o[8..16].copy_from_slice(&[
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ]);
    Ipv6Addr::from(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn sample() -> RouterAdvertisement {
        RouterAdvertisement {
            source: a("fe80::fe"),
            destination: crate::nd::ALL_NODES,
            cur_hop_limit: 64,
            managed: false,
            other_config: true,
            home_agent: true,
            router_lifetime: 1800,
            reachable_time_ms: 30_000,
            retrans_timer_ms: 1000,
            source_link_address: Some([0x02, 0, 0, 0, 0, 0xfe]),
            mtu: Some(1500),
            advertisement_interval_ms: Some(70),
            prefixes: vec![PrefixInformation {
                prefix: a("2001:db8:2::"),
                len: 64,
                on_link: true,
                autonomous: true,
                router_address: false,
                valid_lifetime: 86_400,
                preferred_lifetime: 14_400,
            }],
        }
    }

    /// The fixed part at the offsets of RFC 4861 §4.2, the H flag at 0x20 of the
    /// flags octet (RFC 6275 §7.1), the Advertisement Interval option as RFC 6275 §7.3
    /// lays it out (type 7, length 1, 2 reserved, 4 octets of milliseconds).
    #[test]
    fn rfc4861_4_2_and_rfc6275_7_layout_round_trips() {
        let ra = sample();
        let packet = ra.emit();
        assert_eq!(packet[7], 255, "hop limit");
        let icmp = &packet[40..];
        assert_eq!((icmp[0], icmp[1]), (134, 0));
        assert_eq!(icmp[4], 64);
        assert_eq!(icmp[5], 0x40 | 0x20, "O and H");
        assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1800);
        // SLLA (8), MTU (8), Advertisement Interval (8), Prefix Information (32).
        assert_eq!(&icmp[16..18], &[1, 1]);
        assert_eq!(&icmp[24..28], &[5, 1, 0, 0]);
        assert_eq!(&icmp[32..40], &[7, 1, 0, 0, 0, 0, 0, 70]);
        assert_eq!(&icmp[40..44], &[3, 4, 64, 0xc0]);
        assert_eq!(parse_advertisement(&packet), Ok(ra));
    }

    #[test]
    fn rfc4861_6_1_2_invalid_advertisements_are_refused() {
        let mut off_link = sample();
        off_link.source = a("2001:db8:2::fe");
        assert_eq!(
            parse_advertisement(&off_link.emit()),
            Err(RaError::SourceNotLinkLocal(a("2001:db8:2::fe")))
        );
        let good = sample().emit();
        let mut hop = good.clone();
        hop[7] = 64;
        assert_eq!(parse_advertisement(&hop), Err(RaError::HopLimit(64)));
        let mut sum = good.clone();
        sum[40 + 4] ^= 1;
        assert_eq!(parse_advertisement(&sum), Err(RaError::Checksum));
        // A zero-length option (RFC 4861 §6.1.2): the checksum is recomputed so only
        // the option is wrong.
        let mut zero = sample();
        zero.source_link_address = None;
        zero.mtu = None;
        zero.advertisement_interval_ms = None;
        zero.prefixes.clear();
        let mut body = 30_000u32.to_be_bytes().to_vec();
        body.extend_from_slice(&1000u32.to_be_bytes());
        body.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        let bad = emit(zero.source, zero.destination, 134, [64, 0, 0, 60], &body);
        assert_eq!(parse_advertisement(&bad), Err(RaError::Option));
        let short = emit(zero.source, zero.destination, 134, [64, 0, 0, 60], &[0; 4]);
        assert_eq!(parse_advertisement(&short), Err(RaError::Short(12)));
        // Code 1, its checksum adjusted (one's complement: the first word grew by 1).
        let mut coded = good.clone();
        coded[41] = 1;
        let sum = u16::from_be_bytes([coded[42], coded[43]]).wrapping_sub(1);
        coded[42..44].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(parse_advertisement(&coded), Err(RaError::Code(1)));
        assert_eq!(
            parse_advertisement(&solicitation_from_unspecified()),
            Err(RaError::NotRouterAdvertisement)
        );
        for n in 0..good.len() {
            let _ = parse_advertisement(&good[..n]);
        }
    }

    #[test]
    fn unknown_options_are_skipped_and_prefixes_keep_their_order() {
        let mut ra = sample();
        ra.prefixes.push(PrefixInformation {
            prefix: a("2001:db8:9::1"),
            len: 48,
            on_link: false,
            autonomous: false,
            router_address: true,
            valid_lifetime: u32::MAX,
            preferred_lifetime: 0,
        });
        let mut packet = ra.emit();
        // An RDNSS option (type 25, 3 units) appended; lengths and checksum redone.
        let mut body = packet[48..].to_vec();
        body.extend_from_slice(&[25, 3, 0, 0, 0, 0, 0, 60]);
        body.extend_from_slice(&a("2001:db8::53").octets());
        packet = emit(
            ra.source,
            ra.destination,
            134,
            packet[44..48].try_into().unwrap(),
            &body,
        );
        let parsed = parse_advertisement(&packet).unwrap();
        assert_eq!(parsed.prefixes, ra.prefixes);
        assert_eq!(parsed.prefixes[1].network(), a("2001:db8:9::"));
        assert!(parsed.prefixes[1].router_address);
    }

    #[test]
    fn rfc4291_2_5_1_modified_eui64_flips_the_universal_local_bit() {
        assert_eq!(
            eui64_address(a("2001:db8:2::"), [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]),
            a("2001:db8:2::211:22ff:fe33:4455")
        );
        assert_eq!(
            eui64_address(a("2001:db8:2::"), [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]),
            a("2001:db8:2::5eff:fe10:2030")
        );
    }

    #[test]
    fn rfc4861_4_1_solicitation_from_the_unspecified_address() {
        let rs = solicitation_from_unspecified();
        assert_eq!(rs.len(), 48);
        assert_eq!(&rs[8..24], &[0; 16]);
        assert_eq!(&rs[24..40], &ALL_ROUTERS.octets());
        assert_eq!((rs[7], rs[40], rs[41]), (255, 133, 0));
        assert!(is_solicitation(&rs));
        let icmp = Icmpv6Slice::from_slice(&rs[40..]).unwrap();
        assert!(icmp.is_checksum_valid([0; 16], ALL_ROUTERS.octets()));
    }
}
