//! Neighbor Solicitation and Neighbor Advertisement (RFC 4861 §4.3, §4.4), the two
//! Neighbor Discovery messages a home agent needs to defend and proxy its mobile
//! nodes' home addresses on the home link (RFC 6275 §10.4.1) and to run Duplicate
//! Address Detection for them (RFC 6275 §10.3.1, RFC 4862 §5.4).
//!
//! The IPv6 and ICMPv6 layers are etherparse's (`Ipv6Slice`, `Icmpv6Slice`, its NDP
//! payload and option slices, its checksum); this module adds the validity rules of
//! RFC 4861 §7.1.1 and §7.1.2 and the emitters. Input and output are whole IPv6
//! packets without a link-layer header; [`link_destination`] gives the Ethernet
//! destination of an emitted packet.
//!
//! Not supported: Neighbor Discovery messages behind IPv6 extension headers (refused
//! with [`NdError::NotNeighbourDiscovery`]), link-layer addresses other than 6-octet
//! Ethernet ones (an option of another length is refused), SEND (RFC 3971).

use std::net::Ipv6Addr;

use etherparse::{
    icmpv6::{NdpOptionSlice, NdpOptionsIterator, NeighborAdvertisementHeader},
    Icmpv6Slice, Icmpv6Type, IpNumber, Ipv6Header, Ipv6Slice,
};

/// ICMPv6 type of a Neighbor Solicitation (RFC 4861 §4.3).
pub const NEIGHBOR_SOLICITATION: u8 = 135;
/// ICMPv6 type of a Neighbor Advertisement (RFC 4861 §4.4).
pub const NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// The hop limit every Neighbor Discovery message carries and requires (RFC 4861 §7.1).
pub const ND_HOP_LIMIT: u8 = 255;
/// The all-nodes multicast address (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Option type of the Source Link-Layer Address option (RFC 4861 §4.6.1).
const SOURCE_LINK_LAYER_ADDRESS: u8 = 1;
/// Option type of the Target Link-Layer Address option (RFC 4861 §4.6.1).
const TARGET_LINK_LAYER_ADDRESS: u8 = 2;
/// ICMPv6 header (4) + reserved/flags (4) + target (16): the shortest NS or NA.
const MIN_ICMP_LEN: usize = 24;

/// An Ethernet (EUI-48) link-layer address.
pub type LinkAddress = [u8; 6];

/// Why a received packet is not a valid Neighbor Solicitation or Advertisement
/// (RFC 4861 §7.1.1, §7.1.2: such a packet is silently discarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NdError {
    /// Not an IPv6 packet whose payload is a Neighbor Solicitation or Advertisement
    /// right after the IPv6 header.
    #[error("not a Neighbor Solicitation or Advertisement")]
    NotNeighbourDiscovery,
    /// The IPv6 hop limit is not 255: the packet may come from off the link.
    #[error("hop limit {0}, not 255")]
    HopLimit(u8),
    /// The ICMPv6 code is not 0.
    #[error("ICMP code {0}, not 0")]
    Code(u8),
    /// The ICMPv6 checksum does not verify.
    #[error("bad ICMPv6 checksum")]
    Checksum,
    /// Shorter than 24 octets of ICMPv6.
    #[error("ICMPv6 length {0}, shorter than 24")]
    Short(usize),
    /// The target address is a multicast address.
    #[error("multicast target {0}")]
    MulticastTarget(Ipv6Addr),
    /// An option has length zero, runs past the end or is a link-layer address
    /// option of a length other than one unit.
    #[error("malformed option")]
    Option,
    /// A solicitation from the unspecified address that is not sent to a
    /// solicited-node multicast address or carries a Source Link-Layer Address option.
    #[error("unspecified source with a unicast destination or a source link-layer address")]
    UnspecifiedSource,
    /// An advertisement to a multicast address with the Solicited flag set.
    #[error("solicited advertisement to a multicast address")]
    SolicitedMulticast,
}

/// A Neighbor Solicitation (RFC 4861 §4.3) with the IPv6 addresses it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourSolicitation {
    /// IPv6 source: a unicast address of the sender, or unspecified (`::`) when the
    /// sender runs Duplicate Address Detection.
    pub source: Ipv6Addr,
    /// IPv6 destination: the target's solicited-node multicast address, or the target
    /// itself (Neighbor Unreachability Detection).
    pub destination: Ipv6Addr,
    /// The address whose link-layer address is asked for.
    pub target: Ipv6Addr,
    /// The Source Link-Layer Address option.
    pub source_link_address: Option<LinkAddress>,
}

/// The flags of a Neighbor Advertisement (RFC 4861 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdvertisementFlags {
    /// R: the sender is a router.
    pub router: bool,
    /// S: sent in answer to a solicitation.
    pub solicited: bool,
    /// O: the advertisement should override an existing cache entry.
    pub override_entry: bool,
}

/// A Neighbor Advertisement (RFC 4861 §4.4) with the IPv6 addresses it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighbourAdvertisement {
    /// IPv6 source: an address of the sending interface.
    pub source: Ipv6Addr,
    /// IPv6 destination: the soliciting node, or all-nodes.
    pub destination: Ipv6Addr,
    /// R, S, O.
    pub flags: AdvertisementFlags,
    /// The address advertised.
    pub target: Ipv6Addr,
    /// The Target Link-Layer Address option.
    pub target_link_address: Option<LinkAddress>,
}

/// A received Neighbor Discovery message this module understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdMessage {
    /// A Neighbor Solicitation.
    Solicitation(NeighbourSolicitation),
    /// A Neighbor Advertisement.
    Advertisement(NeighbourAdvertisement),
}

/// The solicited-node multicast address of `address`: `ff02::1:ffXX:XXXX` with the
/// address's low 24 bits (RFC 4291 §2.7.1).
pub fn solicited_node(address: &Ipv6Addr) -> Ipv6Addr {
    let o = address.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// Whether `address` is a solicited-node multicast address (`ff02::1:ff00:0/104`).
pub fn is_solicited_node(address: &Ipv6Addr) -> bool {
    address.octets()[..13] == solicited_node(&Ipv6Addr::UNSPECIFIED).octets()[..13]
}

/// The link-local address with the interface identifier of `address`
/// (`fe80::/64` + its low 64 bits): the address a mobile node that set the L flag
/// also owns on its home link (RFC 6275 §9.5.1, §10.4.1).
pub fn link_local_of(address: &Ipv6Addr) -> Ipv6Addr {
    let mut o = address.octets();
    o[..8].copy_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0]);
    Ipv6Addr::from(o)
}

/// The Ethernet destination of a packet to `destination`: `33:33` and the low 32 bits
/// of a multicast address (RFC 2464 §7); `None` for a unicast destination, whose
/// link-layer address the caller knows from the solicitation.
pub fn link_destination(destination: &Ipv6Addr) -> Option<LinkAddress> {
    destination.is_multicast().then(|| {
        let o = destination.octets();
        [0x33, 0x33, o[12], o[13], o[14], o[15]]
    })
}

/// Parses and validates a received IPv6 packet as a Neighbor Solicitation or
/// Advertisement (RFC 4861 §7.1.1, §7.1.2). Never panics.
pub fn parse(packet: &[u8]) -> Result<NdMessage, NdError> {
    let ip = Ipv6Slice::from_slice(packet).map_err(|_| NdError::NotNeighbourDiscovery)?;
    let header = ip.header();
    if !ip.extensions().is_empty() || ip.payload().ip_number != IpNumber::IPV6_ICMP {
        return Err(NdError::NotNeighbourDiscovery);
    }
    let (source, destination) = (header.source_addr(), header.destination_addr());
    let icmp_octets = ip.payload().payload;
    let icmp = Icmpv6Slice::from_slice(icmp_octets).map_err(|_| NdError::NotNeighbourDiscovery)?;
    let solicitation = match icmp.type_u8() {
        NEIGHBOR_SOLICITATION => true,
        NEIGHBOR_ADVERTISEMENT => false,
        _ => return Err(NdError::NotNeighbourDiscovery),
    };
    if header.hop_limit() != ND_HOP_LIMIT {
        return Err(NdError::HopLimit(header.hop_limit()));
    }
    if !icmp.is_checksum_valid(source.octets(), destination.octets()) {
        return Err(NdError::Checksum);
    }
    if icmp.code_u8() != 0 {
        return Err(NdError::Code(icmp.code_u8()));
    }
    if icmp_octets.len() < MIN_ICMP_LEN {
        return Err(NdError::Short(icmp_octets.len()));
    }
    let mut target = [0u8; 16];
    target.copy_from_slice(&icmp_octets[8..24]);
    let target = Ipv6Addr::from(target);
    if target.is_multicast() {
        return Err(NdError::MulticastTarget(target));
    }
    let wanted = if solicitation {
        SOURCE_LINK_LAYER_ADDRESS
    } else {
        TARGET_LINK_LAYER_ADDRESS
    };
    let link_address = link_address_option(&icmp_octets[MIN_ICMP_LEN..], wanted)?;
    if solicitation {
        if source.is_unspecified() && (!is_solicited_node(&destination) || link_address.is_some()) {
            return Err(NdError::UnspecifiedSource);
        }
        Ok(NdMessage::Solicitation(NeighbourSolicitation {
            source,
            destination,
            target,
            source_link_address: link_address,
        }))
    } else {
        let header = NeighborAdvertisementHeader::from_bytes(icmp.bytes5to8());
        if destination.is_multicast() && header.solicited {
            return Err(NdError::SolicitedMulticast);
        }
        Ok(NdMessage::Advertisement(NeighbourAdvertisement {
            source,
            destination,
            flags: AdvertisementFlags {
                router: header.router,
                solicited: header.solicited,
                override_entry: header.r#override,
            },
            target,
            target_link_address: link_address,
        }))
    }
}

/// The first link-layer address option of type `wanted` in `options`; every option
/// must have a non-zero length and fit (RFC 4861 §7.1.1), a link-layer address option
/// must be one unit (Ethernet, RFC 2464 §8).
fn link_address_option(options: &[u8], wanted: u8) -> Result<Option<LinkAddress>, NdError> {
    let mut found = None;
    for option in NdpOptionsIterator::from_slice(options) {
        let option = option.map_err(|_| NdError::Option)?;
        let bytes = match option {
            NdpOptionSlice::SourceLinkLayerAddress(o) => o.as_bytes(),
            NdpOptionSlice::TargetLinkLayerAddress(o) => o.as_bytes(),
            _ => continue,
        };
        if bytes.len() != 8 {
            return Err(NdError::Option);
        }
        if bytes[0] == wanted && found.is_none() {
            let mut address = [0u8; 6];
            address.copy_from_slice(&bytes[2..8]);
            found = Some(address);
        }
    }
    Ok(found)
}

/// An IPv6 packet (hop limit 255) carrying `icmp_type` with the 4 octets after the
/// checksum, the target, and one link-layer address option of `option_type`.
fn emit(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    icmp_type: Icmpv6Type,
    target: Ipv6Addr,
    option: Option<(u8, LinkAddress)>,
) -> Vec<u8> {
    let mut payload = Vec::with_capacity(24);
    payload.extend_from_slice(&target.octets());
    if let Some((kind, address)) = option {
        payload.extend_from_slice(&[kind, 1]);
        payload.extend_from_slice(&address);
    }
    icmpv6_packet(source, destination, icmp_type, &payload)
}

/// An IPv6 packet, hop limit 255, carrying one ICMPv6 message of `icmp_type` (its
/// four octets after the checksum included) and `body`, checksummed: every Neighbor
/// Discovery message this crate emits (here and in [`crate::ra`]).
pub(crate) fn icmpv6_packet(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    icmp_type: Icmpv6Type,
    body: &[u8],
) -> Vec<u8> {
    // Neighbor Discovery messages are far below the ICMPv6 length limit: cannot fail.
    let icmp = etherparse::Icmpv6Header::with_checksum(
        icmp_type,
        source.octets(),
        destination.octets(),
        body,
    )
    .expect("a Neighbor Discovery message is far below the ICMPv6 length limit");
    let icmp_len = icmp.header_len() + body.len();
    let ip = Ipv6Header {
        traffic_class: 0,
        flow_label: Default::default(),
        payload_length: u16::try_from(icmp_len)
            .expect("a Neighbor Discovery message fits a payload length"),
        next_header: IpNumber::IPV6_ICMP,
        hop_limit: ND_HOP_LIMIT,
        source: source.octets(),
        destination: destination.octets(),
    };
    let mut packet = Vec::with_capacity(Ipv6Header::LEN + icmp_len);
    packet.extend_from_slice(&ip.to_bytes());
    packet.extend_from_slice(&icmp.to_bytes());
    packet.extend_from_slice(body);
    packet
}

impl NeighbourSolicitation {
    /// The packet, hop limit 255, with a Source Link-Layer Address option if one is
    /// given (RFC 4861 §4.3; none from the unspecified source, §7.2.2).
    pub fn emit(&self) -> Vec<u8> {
        emit(
            self.source,
            self.destination,
            Icmpv6Type::NeighborSolicitation,
            self.target,
            self.source_link_address
                .map(|a| (SOURCE_LINK_LAYER_ADDRESS, a)),
        )
    }
}

impl NeighbourAdvertisement {
    /// The packet, hop limit 255, with a Target Link-Layer Address option if one is
    /// given (RFC 4861 §4.4).
    pub fn emit(&self) -> Vec<u8> {
        let header = NeighborAdvertisementHeader {
            router: self.flags.router,
            solicited: self.flags.solicited,
            r#override: self.flags.override_entry,
        };
        emit(
            self.source,
            self.destination,
            Icmpv6Type::NeighborAdvertisement(header),
            self.target,
            self.target_link_address
                .map(|a| (TARGET_LINK_LAYER_ADDRESS, a)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    const MAC: LinkAddress = [0x02, 0, 0, 0, 0, 0x11];

    fn ns(source: &str, destination: &str, target: &str, sll: Option<LinkAddress>) -> Vec<u8> {
        NeighbourSolicitation {
            source: a(source),
            destination: a(destination),
            target: a(target),
            source_link_address: sll,
        }
        .emit()
    }

    /// Recomputes the ICMPv6 checksum of a hand-edited packet.
    fn fix_checksum(p: &mut [u8]) {
        p[42] = 0;
        p[43] = 0;
        let mut src = [0u8; 16];
        src.copy_from_slice(&p[8..24]);
        let mut dst = [0u8; 16];
        dst.copy_from_slice(&p[24..40]);
        let sum = etherparse::Icmpv6Slice::from_slice(&p[40..])
            .unwrap()
            .icmp_type()
            .calc_checksum(src, dst, &p[48..])
            .unwrap();
        p[42..44].copy_from_slice(&sum.to_be_bytes());
    }

    #[test]
    fn a_solicitation_emits_the_rfc_4861_layout_and_parses_back() {
        let p = ns(
            "2001:db8:1::2",
            "ff02::1:ff00:100",
            "2001:db8:1::100",
            Some(MAC),
        );
        assert_eq!(p.len(), 40 + 32);
        assert_eq!(p[6], 58, "next header ICMPv6");
        assert_eq!(p[7], 255, "hop limit");
        assert_eq!(&p[40..42], &[135, 0]);
        assert_eq!(&p[44..48], &[0, 0, 0, 0], "reserved");
        assert_eq!(&p[48..64], &a("2001:db8:1::100").octets());
        assert_eq!(&p[64..72], &[1, 1, 2, 0, 0, 0, 0, 0x11]);
        // Wireshark's sum over the pseudo-header must come out as zero.
        assert!(etherparse::Icmpv6Slice::from_slice(&p[40..])
            .unwrap()
            .is_checksum_valid(p[8..24].try_into().unwrap(), p[24..40].try_into().unwrap()));
        assert_eq!(
            parse(&p),
            Ok(NdMessage::Solicitation(NeighbourSolicitation {
                source: a("2001:db8:1::2"),
                destination: a("ff02::1:ff00:100"),
                target: a("2001:db8:1::100"),
                source_link_address: Some(MAC),
            }))
        );
    }

    #[test]
    fn an_advertisement_carries_its_flags_and_target_link_address() {
        let na = NeighbourAdvertisement {
            source: a("fe80::1"),
            destination: ALL_NODES,
            flags: AdvertisementFlags {
                router: false,
                solicited: false,
                override_entry: true,
            },
            target: a("2001:db8:1::100"),
            target_link_address: Some(MAC),
        };
        let p = na.emit();
        assert_eq!(&p[40..42], &[136, 0]);
        assert_eq!(p[44], 0x20, "only O set");
        assert_eq!(&p[64..66], &[2, 1], "Target Link-Layer Address option");
        assert_eq!(parse(&p), Ok(NdMessage::Advertisement(na)));
        let solicited = NeighbourAdvertisement {
            destination: a("2001:db8:1::2"),
            flags: AdvertisementFlags {
                router: true,
                solicited: true,
                override_entry: false,
            },
            ..na
        };
        assert_eq!(solicited.emit()[44], 0xC0, "R and S");
    }

    #[test]
    fn rfc_4861_7_1_validity_rules_discard() {
        let good = ns(
            "2001:db8:1::2",
            "ff02::1:ff00:100",
            "2001:db8:1::100",
            Some(MAC),
        );
        // Hop limit other than 255.
        let mut p = good.clone();
        p[7] = 254;
        assert_eq!(parse(&p), Err(NdError::HopLimit(254)));
        // Bad checksum.
        let mut p = good.clone();
        p[43] ^= 1;
        assert_eq!(parse(&p), Err(NdError::Checksum));
        // Code other than 0.
        let mut p = good.clone();
        p[41] = 1;
        fix_checksum(&mut p);
        assert_eq!(parse(&p), Err(NdError::Code(1)));
        // Multicast target.
        let p = ns("2001:db8:1::2", "ff02::1:ff00:100", "ff02::1", None);
        assert_eq!(parse(&p), Err(NdError::MulticastTarget(a("ff02::1"))));
        // Zero-length option.
        let mut p = good.clone();
        p[65] = 0;
        fix_checksum(&mut p);
        assert_eq!(parse(&p), Err(NdError::Option));
        // DAD probe (unspecified source) to a unicast address, or with an SLLA.
        let p = ns("::", "2001:db8:1::100", "2001:db8:1::100", None);
        assert_eq!(parse(&p), Err(NdError::UnspecifiedSource));
        let p = ns("::", "ff02::1:ff00:100", "2001:db8:1::100", Some(MAC));
        assert_eq!(parse(&p), Err(NdError::UnspecifiedSource));
        let dad = ns("::", "ff02::1:ff00:100", "2001:db8:1::100", None);
        assert!(matches!(parse(&dad), Ok(NdMessage::Solicitation(s)) if s.source.is_unspecified()));
        // Solicited advertisement to a multicast address.
        let na = NeighbourAdvertisement {
            source: a("fe80::1"),
            destination: ALL_NODES,
            flags: AdvertisementFlags {
                solicited: true,
                ..Default::default()
            },
            target: a("2001:db8:1::100"),
            target_link_address: None,
        };
        assert_eq!(parse(&na.emit()), Err(NdError::SolicitedMulticast));
        // Other ICMPv6 or another protocol.
        let mut p = good.clone();
        p[40] = 128;
        fix_checksum(&mut p);
        assert_eq!(parse(&p), Err(NdError::NotNeighbourDiscovery));
        let mut p = good.clone();
        p[6] = 17;
        assert_eq!(parse(&p), Err(NdError::NotNeighbourDiscovery));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let good = ns(
            "2001:db8:1::2",
            "ff02::1:ff00:100",
            "2001:db8:1::100",
            Some(MAC),
        );
        for len in 0..good.len() {
            assert!(parse(&good[..len]).is_err(), "{len}");
        }
        // A payload length that promises more than there is.
        let mut p = good.clone();
        p[5] += 8;
        assert!(parse(&p).is_err());
    }

    #[test]
    fn multicast_addresses_of_rfc_4291_and_2464() {
        assert_eq!(
            solicited_node(&a("2001:db8:1::12:3456")),
            a("ff02::1:ff12:3456")
        );
        assert!(is_solicited_node(&a("ff02::1:ff12:3456")));
        assert!(!is_solicited_node(&a("ff02::1")));
        assert!(!is_solicited_node(&a("ff02::2:ff12:3456")));
        assert_eq!(
            link_destination(&a("ff02::1:ff12:3456")),
            Some([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
        assert_eq!(link_destination(&ALL_NODES), Some([0x33, 0x33, 0, 0, 0, 1]));
        assert_eq!(link_destination(&a("2001:db8::1")), None);
        assert_eq!(link_local_of(&a("2001:db8:1::a:b:c:d")), a("fe80::a:b:c:d"));
    }
}
