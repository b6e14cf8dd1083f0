//! The home agent on its home link, one test per rule, written from the RFC text and
//! asserting the exact packet the home agent puts on the link (addresses, flags,
//! options, Ethernet destination) or that it sends nothing:
//!
//! - RFC 6275 §10.3.1: before the first registration of a home address is accepted the
//!   home agent runs Duplicate Address Detection for it (and for the link-local
//!   address with the same interface identifier when L is set); if it fails, BA 134.
//! - RFC 4862 §5.4.2–5.4.3: a probe is a Neighbor Solicitation from the unspecified
//!   address to the target's solicited-node group, with no Source Link-Layer Address
//!   option; an advertisement for the target, or another node's probe for it, means
//!   the address is a duplicate.
//! - RFC 6275 §10.4.1: a new binding is announced to all-nodes (R = 0, S = 0, O = 1,
//!   Target Link-Layer Address = the home agent's); any solicitation for a bound home
//!   address is answered with the home agent's link-layer address and R = 0.
//! - RFC 4861 §7.2.4, §7.2.8: the answer goes to the soliciting node with S = 1, or to
//!   all-nodes with S = 0 for a probe; a proxy's solicited advertisement has O = 0.

use std::net::Ipv6Addr;

use core::time::Duration;

use mip6_wire::keys::{RequestMode, Slot};
use mip6_wire::mh::{BaStatus, BindingUpdateRepr, BuFlags};
use mip6_wire::nd::{
    self, AdvertisementFlags, LinkAddress, NdMessage, NeighbourAdvertisement,
    NeighbourSolicitation, ALL_NODES,
};
use mip6_wire::Time;

use super::harness::*;
use crate::{HomeLink, LinkReceived, LinkTransmit, Received, Refusal};

const HA_MAC: LinkAddress = [0x02, 0, 0, 0, 0, 0x01];
const NEIGHBOUR_MAC: LinkAddress = [0x02, 0, 0, 0, 0, 0x22];
const HA_LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const NEIGHBOUR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x22);

fn ha_on_link(dad_transmits: u8) -> Ha {
    let mut c = config(RequestMode::Explicit);
    c.home_link = Some(HomeLink {
        dad_transmits,
        ..HomeLink::new(HA_MAC, HA_LINK_LOCAL)
    });
    ha_with(c, 7, Vec::new())
}

fn link_transmits(ha: &mut Ha) -> Vec<LinkTransmit> {
    std::iter::from_fn(|| ha.poll_link_transmit()).collect()
}

fn parsed(t: &LinkTransmit) -> NdMessage {
    nd::parse(&t.packet).expect("the home agent sends valid Neighbor Discovery")
}

/// The initialization BU of the scripted node (flags `flags`), delivered at `now`.
fn send_init_bu(ha: &mut Ha, mn: &mut ScriptedMn, now: Time, flags: BuFlags) -> BindingUpdateRepr {
    mn.keys.drop_dynamic();
    let update = BindingUpdateRepr {
        flags,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(
        Some(Slot::Init),
        update,
        COA,
        HOA,
        &[key_initialization(now)],
    );
    assert!(matches!(
        ha.handle(now, &mut frame),
        Received::Consumed { .. }
    ));
    update
}

/// Registers the scripted node through Duplicate Address Detection; returns what the
/// home agent put on the link after the detection.
fn register(ha: &mut Ha, mn: &mut ScriptedMn, flags: BuFlags) -> Vec<LinkTransmit> {
    send_init_bu(ha, mn, T0, flags);
    link_transmits(ha);
    ha.handle_timeout(T0 + secs(1));
    let ba = mn.open_ba(one_ba(ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    mn.install(&ba);
    take_events(ha);
    link_transmits(ha)
}

fn solicitation(source: Ipv6Addr, destination: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    NeighbourSolicitation {
        source,
        destination,
        target,
        source_link_address: (!source.is_unspecified()).then_some(NEIGHBOUR_MAC),
    }
    .emit()
}

fn expect_probe(t: &LinkTransmit, target: Ipv6Addr) {
    let group = nd::solicited_node(&target);
    assert_eq!(
        parsed(t),
        NdMessage::Solicitation(NeighbourSolicitation {
            source: Ipv6Addr::UNSPECIFIED,
            destination: group,
            target,
            source_link_address: None,
        })
    );
    assert_eq!(Some(t.link_destination), nd::link_destination(&group));
}

#[test]
fn rfc6275_10_3_1_first_registration_is_answered_only_after_duplicate_address_detection() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    send_init_bu(&mut ha, &mut mn, T0, BuFlags::A | BuFlags::H);
    assert_eq!(ha.poll_transmit(), None, "no BA before the detection ends");
    assert_eq!(ha.binding(&HOA), None);
    let probes = link_transmits(&mut ha);
    assert_eq!(probes.len(), 1);
    expect_probe(&probes[0], HOA);
    assert_eq!(ha.poll_timeout(), Some(T0 + secs(1)), "RetransTimer");
    ha.handle_timeout(T0 + secs(1) - Duration::from_millis(1));
    assert_eq!(ha.poll_transmit(), None);

    ha.handle_timeout(T0 + secs(1));
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    assert!(
        ba.distribution.is_some(),
        "the initialization goes on as without detection"
    );
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);
    // §10.4.1: the new binding is announced once, to all-nodes, O set.
    let announced = link_transmits(&mut ha);
    assert_eq!(announced.len(), 1);
    assert_eq!(
        parsed(&announced[0]),
        NdMessage::Advertisement(NeighbourAdvertisement {
            source: HA_LINK_LOCAL,
            destination: ALL_NODES,
            flags: AdvertisementFlags {
                router: false,
                solicited: false,
                override_entry: true,
            },
            target: HOA,
            target_link_address: Some(HA_MAC),
        })
    );
    assert_eq!(announced[0].link_destination, [0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(ha.counters().dad_probes_sent, 1);
}

#[test]
fn rfc6275_10_3_1_an_advertisement_for_the_home_address_fails_detection_with_134() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    let update = send_init_bu(&mut ha, &mut mn, T0, BuFlags::A | BuFlags::H);
    link_transmits(&mut ha);
    let owner = NeighbourAdvertisement {
        source: HOA,
        destination: ALL_NODES,
        flags: AdvertisementFlags {
            override_entry: true,
            ..Default::default()
        },
        target: HOA,
        target_link_address: Some(NEIGHBOUR_MAC),
    };
    assert_eq!(
        ha.handle_link(T0 + secs(0), NEIGHBOUR_MAC, &owner.emit()),
        LinkReceived::DuplicateDetected
    );
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::DuplicateAddressDetectionFailed);
    assert_eq!(ba.sequence, update.sequence.0);
    assert_eq!(
        ba.slot,
        Slot::Init,
        "refusals of a BU under init go under init"
    );
    assert_eq!(ha.binding(&HOA), None);
    assert_eq!(ha.counters().refused(Refusal::DuplicateAddress), 1);
    // Nothing else follows: no acceptance at the end of the timer, no announcement.
    ha.handle_timeout(T0 + secs(2));
    assert_eq!(ha.poll_transmit(), None);
    assert!(link_transmits(&mut ha).is_empty());
    // Not proxied: a solicitation for it goes unanswered.
    let ns = solicitation(NEIGHBOUR, nd::solicited_node(&HOA), HOA);
    assert_eq!(
        ha.handle_link(T0 + secs(3), NEIGHBOUR_MAC, &ns),
        LinkReceived::NotOurs
    );
}

#[test]
fn rfc4862_5_4_3_another_nodes_probe_for_the_home_address_fails_detection() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    send_init_bu(&mut ha, &mut mn, T0, BuFlags::A | BuFlags::H);
    link_transmits(&mut ha);
    let probe = solicitation(Ipv6Addr::UNSPECIFIED, nd::solicited_node(&HOA), HOA);
    assert_eq!(
        ha.handle_link(T0, NEIGHBOUR_MAC, &probe),
        LinkReceived::DuplicateDetected
    );
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::DuplicateAddressDetectionFailed);
    // A solicitation from a node with an address only asks: the detection goes on.
    let mut ha = ha_on_link(1);
    let mut mn = super::harness::mn();
    send_init_bu(&mut ha, &mut mn, T0, BuFlags::A | BuFlags::H);
    link_transmits(&mut ha);
    let ns = solicitation(NEIGHBOUR, nd::solicited_node(&HOA), HOA);
    assert_eq!(
        ha.handle_link(T0, NEIGHBOUR_MAC, &ns),
        LinkReceived::NotOurs
    );
    assert!(
        link_transmits(&mut ha).is_empty(),
        "a tentative address is not answered for"
    );
    ha.handle_timeout(T0 + secs(1));
    assert_eq!(mn.open_ba(one_ba(&mut ha)).status, BaStatus::Accepted);
}

#[test]
fn rfc6275_10_4_1_a_multicast_solicitation_for_a_bound_home_address_is_answered() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H);
    let ns = solicitation(NEIGHBOUR, nd::solicited_node(&HOA), HOA);
    assert_eq!(
        ha.handle_link(T0 + secs(2), [0x02, 0, 0, 0, 0, 0x99], &ns),
        LinkReceived::Answered
    );
    let answer = link_transmits(&mut ha);
    assert_eq!(answer.len(), 1);
    assert_eq!(
        parsed(&answer[0]),
        NdMessage::Advertisement(NeighbourAdvertisement {
            source: HA_LINK_LOCAL,
            destination: NEIGHBOUR,
            flags: AdvertisementFlags {
                router: false,
                solicited: true,
                override_entry: false,
            },
            target: HOA,
            target_link_address: Some(HA_MAC),
        })
    );
    assert_eq!(
        answer[0].link_destination, NEIGHBOUR_MAC,
        "to the Source Link-Layer Address the solicitation carried"
    );
    assert_eq!(ha.poll_transmit(), None, "nothing goes into the tunnel");
}

#[test]
fn rfc6275_10_4_1_a_unicast_solicitation_for_a_bound_home_address_is_answered_not_tunnelled() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H);
    // Neighbor Unreachability Detection: unicast to the home address, no option.
    let ns = NeighbourSolicitation {
        source: NEIGHBOUR,
        destination: HOA,
        target: HOA,
        source_link_address: None,
    }
    .emit();
    assert_eq!(
        ha.handle_link(T0 + secs(2), NEIGHBOUR_MAC, &ns),
        LinkReceived::Answered
    );
    let answer = link_transmits(&mut ha);
    assert_eq!(answer.len(), 1);
    assert_eq!(
        answer[0].link_destination, NEIGHBOUR_MAC,
        "to the frame's source"
    );
    match parsed(&answer[0]) {
        NdMessage::Advertisement(a) => {
            assert_eq!((a.destination, a.target), (NEIGHBOUR, HOA));
            assert!(a.flags.solicited && !a.flags.override_entry && !a.flags.router);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ha.poll_transmit(), None);
}

#[test]
fn rfc4861_7_2_4_a_probe_for_a_bound_home_address_is_defended_to_all_nodes() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H);
    let probe = solicitation(Ipv6Addr::UNSPECIFIED, nd::solicited_node(&HOA), HOA);
    assert_eq!(
        ha.handle_link(T0 + secs(2), NEIGHBOUR_MAC, &probe),
        LinkReceived::Answered
    );
    let answer = link_transmits(&mut ha);
    assert_eq!(answer[0].link_destination, [0x33, 0x33, 0, 0, 0, 1]);
    match parsed(&answer[0]) {
        NdMessage::Advertisement(a) => {
            assert_eq!((a.destination, a.target), (ALL_NODES, HOA));
            assert!(!a.flags.solicited && !a.flags.override_entry);
            assert_eq!(a.target_link_address, Some(HA_MAC));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc6275_10_4_1_proxying_stops_at_deregistration_and_covers_no_other_address() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H);
    // Another configured node without a binding, and an unknown address.
    for target in [HOA2, NEIGHBOUR, HA] {
        let ns = solicitation(NEIGHBOUR, nd::solicited_node(&target), target);
        assert_eq!(
            ha.handle_link(T0 + secs(2), NEIGHBOUR_MAC, &ns),
            LinkReceived::NotOurs
        );
    }
    let update = BindingUpdateRepr {
        lifetime: 0,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, COA, HOA, &[]);
    ha.handle(T0 + secs(3), &mut frame);
    assert_eq!(mn.open_ba(one_ba(&mut ha)).status, BaStatus::Accepted);
    let ns = solicitation(NEIGHBOUR, nd::solicited_node(&HOA), HOA);
    assert_eq!(
        ha.handle_link(T0 + secs(4), NEIGHBOUR_MAC, &ns),
        LinkReceived::NotOurs
    );
    assert!(link_transmits(&mut ha).is_empty());
}

#[test]
fn rfc6275_10_4_1_with_l_set_the_link_local_address_is_detected_announced_and_proxied() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    let link_local = nd::link_local_of(&HOA);
    send_init_bu(&mut ha, &mut mn, T0, BuFlags::A | BuFlags::H | BuFlags::L);
    let probes = link_transmits(&mut ha);
    assert_eq!(probes.len(), 2);
    expect_probe(&probes[0], HOA);
    expect_probe(&probes[1], link_local);
    ha.handle_timeout(T0 + secs(1));
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    mn.install(&ba);
    let announced: Vec<_> = link_transmits(&mut ha)
        .iter()
        .map(|t| match parsed(t) {
            NdMessage::Advertisement(a) => a.target,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(announced, vec![HOA, link_local]);
    let ns = solicitation(NEIGHBOUR, nd::solicited_node(&link_local), link_local);
    assert_eq!(
        ha.handle_link(T0 + secs(2), NEIGHBOUR_MAC, &ns),
        LinkReceived::Answered
    );
    assert_eq!(link_transmits(&mut ha).len(), 1);
    // A refresh without L stops proxying the link-local address (the home address
    // stays proxied, nothing is announced again).
    let update = BindingUpdateRepr {
        flags: BuFlags::A | BuFlags::H,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, COA, HOA, &[]);
    ha.handle(T0 + secs(3), &mut frame);
    assert_eq!(mn.open_ba(one_ba(&mut ha)).status, BaStatus::Accepted);
    assert!(link_transmits(&mut ha)
        .iter()
        .all(|t| !matches!(parsed(t), NdMessage::Advertisement(_))));
    assert_eq!(
        ha.handle_link(T0 + secs(4), NEIGHBOUR_MAC, &ns),
        LinkReceived::NotOurs
    );
    let ns = solicitation(NEIGHBOUR, nd::solicited_node(&HOA), HOA);
    assert_eq!(
        ha.handle_link(T0 + secs(4), NEIGHBOUR_MAC, &ns),
        LinkReceived::Answered
    );
}

#[test]
fn rfc6275_10_3_1_a_refresh_or_move_of_a_binding_needs_no_detection() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H);
    let update = mn.next_update();
    let mut frame = mn.seal_bu(None, update, COA2, HOA, &[]);
    ha.handle(T0 + secs(5), &mut frame);
    assert_eq!(
        mn.open_ba(one_ba(&mut ha)).status,
        BaStatus::Accepted,
        "answered at once"
    );
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA2);
    assert!(
        link_transmits(&mut ha).is_empty(),
        "no probe, no second announcement"
    );
}

#[test]
fn a_retransmitted_bu_during_detection_replaces_the_held_one_without_restarting_it() {
    let mut ha = ha_on_link(2);
    let mut mn = mn();
    send_init_bu(&mut ha, &mut mn, T0, BuFlags::A | BuFlags::H);
    assert_eq!(link_transmits(&mut ha).len(), 1);
    // RFC 4862: DupAddrDetectTransmits = 2 → a second probe one RetransTimer later.
    ha.handle_timeout(T0 + secs(1));
    assert_eq!(ha.poll_transmit(), None);
    let second = link_transmits(&mut ha);
    assert_eq!(second.len(), 1);
    expect_probe(&second[0], HOA);
    // The node retransmits (a new sequence number, a new timestamp).
    let retransmission = send_init_bu(
        &mut ha,
        &mut mn,
        T0 + Duration::from_millis(1500),
        BuFlags::A | BuFlags::H,
    );
    assert!(
        link_transmits(&mut ha).is_empty(),
        "the detection goes on, no new probe"
    );
    assert_eq!(ha.poll_timeout(), Some(T0 + secs(2)));
    ha.handle_timeout(T0 + secs(2));
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(
        ba.sequence, retransmission.sequence.0,
        "the newer BU is answered"
    );
    assert_eq!(ha.poll_transmit(), None, "and only it");
    assert_eq!(ha.counters().dad_probes_sent, 2);
}

#[test]
fn rfc4861_7_1_invalid_neighbour_discovery_is_discarded_and_counted() {
    let mut ha = ha_on_link(1);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H);
    let mut ns = solicitation(NEIGHBOUR, nd::solicited_node(&HOA), HOA);
    ns[7] = 254; // forwarded from off the link
    assert!(matches!(
        ha.handle_link(T0 + secs(2), NEIGHBOUR_MAC, &ns),
        LinkReceived::Invalid(_)
    ));
    for len in 0..ns.len() {
        assert!(matches!(
            ha.handle_link(T0 + secs(2), NEIGHBOUR_MAC, &ns[..len]),
            LinkReceived::Invalid(_)
        ));
    }
    assert!(link_transmits(&mut ha).is_empty());
    assert_eq!(
        ha.counters().neighbour_discovery_invalid,
        1 + ns.len() as u64
    );
}

#[test]
fn without_a_home_link_the_first_registration_is_answered_at_once() {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    send_init_bu(&mut ha, &mut mn, T0, BuFlags::A | BuFlags::H);
    assert_eq!(mn.open_ba(one_ba(&mut ha)).status, BaStatus::Accepted);
    assert!(link_transmits(&mut ha).is_empty());
    let ns = solicitation(NEIGHBOUR, nd::solicited_node(&HOA), HOA);
    assert_eq!(
        ha.handle_link(T0, NEIGHBOUR_MAC, &ns),
        LinkReceived::NotOurs
    );
}

/// A UDP datagram (RFC 768, checksum left zero: the home agent does not look at it)
/// from `source` to `destination`, carrying `len` octets.
fn udp_packet(source: Ipv6Addr, destination: Ipv6Addr, len: usize) -> Vec<u8> {
    let payload_len = 8 + len;
    let mut p = vec![0u8; 40 + payload_len];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&source.octets());
    p[24..40].copy_from_slice(&destination.octets());
    p[40..42].copy_from_slice(&4000u16.to_be_bytes());
    p[42..44].copy_from_slice(&5000u16.to_be_bytes());
    p[44..46].copy_from_slice(&(payload_len as u16).to_be_bytes());
    p
}

/// RFC 6275 §10.4.2: a packet to a mobile node's link-local address (which the home
/// agent proxies because the node registered with L) must not be tunnelled: it is
/// discarded and answered with ICMPv6 Destination Unreachable, code 3, to its source
/// (RFC 4443 §3.1: type 1, code 3, unused zero, as much of the invoking packet as fits
/// in 1280 octets) — but never to a multicast source (RFC 4443 §2.4 (e)), and within
/// the error rate limit (§2.4 (f)).
#[test]
fn rfc6275_10_4_2_a_packet_to_a_proxied_link_local_address_gets_destination_unreachable_code_3() {
    let mut ha = ha_on_link(0);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H | BuFlags::L);
    let link_local = nd::link_local_of(&HOA);
    let neighbour_ll = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x22);
    let now = T0 + secs(2);

    let invoking = udp_packet(neighbour_ll, link_local, 100);
    assert_eq!(
        ha.handle_link(now, NEIGHBOUR_MAC, &invoking),
        LinkReceived::LinkLocalUnreachable
    );
    let out = link_transmits(&mut ha);
    assert_eq!(out.len(), 1, "{out:?}");
    let t = &out[0];
    assert_eq!(t.link_destination, NEIGHBOUR_MAC, "back to the sender");
    let p = &t.packet;
    assert_eq!(p[6], 58, "ICMPv6");
    assert_eq!(
        &p[8..24],
        &HA_LINK_LOCAL.octets(),
        "from the home agent's link-local"
    );
    assert_eq!(&p[24..40], &neighbour_ll.octets(), "to the packet's source");
    let icmp = etherparse::Icmpv6Slice::from_slice(&p[40..]).unwrap();
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (1, 3));
    assert_eq!(&p[44..48], &[0; 4]);
    assert!(icmp.is_checksum_valid(HA_LINK_LOCAL.octets(), neighbour_ll.octets()));
    assert_eq!(&p[48..], &invoking[..], "the invoking packet, whole");
    assert!(
        ha.poll_transmit().is_none(),
        "nothing goes into the tunnel or the routed path"
    );
    assert_eq!(ha.counters().icmp_errors_sent, 1);

    // A global source is answered from the home agent's own address.
    let from_global = udp_packet(NEIGHBOUR, link_local, 8);
    ha.handle_link(now, NEIGHBOUR_MAC, &from_global);
    let out = link_transmits(&mut ha);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].packet[8..24], &HA.octets());

    // Multicast or unspecified source: discarded, not answered.
    for source in [ALL_NODES, Ipv6Addr::UNSPECIFIED] {
        assert_eq!(
            ha.handle_link(now, NEIGHBOUR_MAC, &udp_packet(source, link_local, 8)),
            LinkReceived::LinkLocalUnreachable
        );
        assert!(link_transmits(&mut ha).is_empty());
    }

    // A link-local address the home agent does not proxy: not its business.
    let other = udp_packet(
        neighbour_ll,
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99),
        8,
    );
    assert_eq!(
        ha.handle_link(now, NEIGHBOUR_MAC, &other),
        LinkReceived::NotOurs
    );
    assert!(link_transmits(&mut ha).is_empty());

    // The rate limit: a burst, then nothing until time passes.
    let sent_before = ha.counters().icmp_errors_sent;
    for _ in 0..50 {
        ha.handle_link(now, NEIGHBOUR_MAC, &invoking);
    }
    let burst = ha.counters().icmp_errors_sent - sent_before;
    assert!(
        burst < 50 && burst <= u64::from(crate::unprotected::RATE_BURST),
        "{burst}"
    );
    assert!(ha.counters().answers_rate_limited >= 50 - burst);
    assert_eq!(link_transmits(&mut ha).len() as u64, burst);
    assert_eq!(ha.counters().link_local_intercepted, 1 + 1 + 2 + 50);
}

/// Without L the link-local address is not proxied, so a packet to it is not
/// intercepted.
#[test]
fn rfc6275_10_4_2_without_l_the_link_local_address_is_not_intercepted() {
    let mut ha = ha_on_link(0);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H);
    let packet = udp_packet(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x22),
        nd::link_local_of(&HOA),
        8,
    );
    assert_eq!(
        ha.handle_link(T0 + secs(2), NEIGHBOUR_MAC, &packet),
        LinkReceived::NotOurs
    );
    assert!(link_transmits(&mut ha).is_empty());
}

/// The advertisement a home agent taking over the link sends for `target`.
fn takeover_advertisement(target: Ipv6Addr, router: bool) -> NdMessage {
    NdMessage::Advertisement(NeighbourAdvertisement {
        source: HA_LINK_LOCAL,
        destination: ALL_NODES,
        flags: AdvertisementFlags {
            router,
            solicited: false,
            override_entry: true,
        },
        target,
        target_link_address: Some(HA_MAC),
    })
}

#[test]
fn rfc4861_7_2_6_a_home_agent_taking_over_announces_its_address_and_every_bound_home_address() {
    // A home agent restored from the records of the other home agent of a pair holds
    // HOA's binding but not HOA2's: the link must learn its Ethernet address for its
    // own address (R = 1, it forwards) and for HOA (R = 0, §10.4.1), with O = 1 so
    // the caches drop the other home agent's.
    let mut ha = ha_on_link(0);
    let mut mn = mn();
    register(&mut ha, &mut mn, BuFlags::A | BuFlags::H);
    assert_eq!(ha.announce_home_link(), 2);
    let sent = link_transmits(&mut ha);
    let messages: Vec<NdMessage> = sent.iter().map(parsed).collect();
    assert_eq!(
        messages,
        [
            takeover_advertisement(HA, true),
            takeover_advertisement(HOA, false)
        ]
    );
    assert!(sent
        .iter()
        .all(|t| t.link_destination == [0x33, 0x33, 0, 0, 0, 1]));
    // Not HOA2: it has no binding, the home agent does not answer for it.
    assert!(messages
        .iter()
        .all(|m| !matches!(m, NdMessage::Advertisement(a) if a.target == HOA2)));
}

#[test]
fn without_a_home_link_a_takeover_announces_nothing() {
    let mut ha = ha_with(config(RequestMode::Explicit), 7, Vec::new());
    assert_eq!(ha.announce_home_link(), 0);
    assert_eq!(ha.poll_link_transmit(), None);
}
