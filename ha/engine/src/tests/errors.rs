//! What the home agent answers to packets it cannot take, one test per rule, written
//! from the RFC text and asserting the exact packet (or that there is none):
//!
//! - RFC 6275 §9.2: a Mobility Header whose checksum fails is silently discarded; a
//!   Payload Proto other than 59, or a Header Len too short for the type, is answered
//!   with ICMPv6 Parameter Problem code 0 pointing at that field (RFC 4443 §3.4: the
//!   pointer is the offset in the invoking packet, which follows); an unrecognized MH
//!   Type is answered with a Binding Error, status 2, to the packet's source.
//! - RFC 6275 §9.3.1: a packet with a Home Address option for which there is no
//!   binding with the packet's source as care-of address (other than a BU) is not
//!   processed, and a Binding Error status 1 naming that home address goes to the
//!   source (§6.1.9, §9.3.3).
//! - RFC 6275 §9.3.2: a packet from a bound node is answered through its care-of
//!   address with a type 2 routing header (an Echo Request with an Echo Reply).
//! - RFC 4443 §2.4 (f), RFC 6275 §9.3.3: both are rate limited.
//! - RFC 4877 §4: a Binding Update without ESP is not processed (no answer).

use std::net::Ipv6Addr;

use etherparse::icmpv6::ParameterProblemCode;
use etherparse::{IcmpEchoHeader, Icmpv6Header, Icmpv6Slice, Icmpv6Type};
use mip6_wire::esp::{sealed_len, PAYLOAD_OFFSET};
use mip6_wire::ext::{self, ChainRepr, NextHeader};
use mip6_wire::keys::RequestMode;
use mip6_wire::mh::{self, BeStatus, BindingErrorRepr, Message};

use super::harness::*;
use crate::{DropReason, Received, RATE_BURST, RATE_INTERVAL};

const STRANGER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 0x99);

fn headers(
    src: Ipv6Addr,
    home_address: Option<Ipv6Addr>,
    next: NextHeader,
    len: usize,
) -> ChainRepr {
    ChainRepr {
        src_addr: src,
        dst_addr: HA,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
        rh2: None,
        home_address,
        next_header: next,
        payload_len: len,
    }
}

/// `IPv6(src→HA) [| DestOpts(HoA)] | payload`.
fn packet(
    src: Ipv6Addr,
    home_address: Option<Ipv6Addr>,
    next: NextHeader,
    payload: &[u8],
) -> Vec<u8> {
    let h = headers(src, home_address, next, payload.len());
    let mut frame = vec![0; h.buffer_len() + payload.len()];
    let at = h.emit(&mut frame).unwrap();
    frame[at..].copy_from_slice(payload);
    frame
}

/// An Echo Request whose checksum covers `checksum_src` (the home address when a Home
/// Address option is carried, RFC 6275 §6.3).
fn echo_request(checksum_src: Ipv6Addr) -> (IcmpEchoHeader, Vec<u8>) {
    let echo = IcmpEchoHeader { id: 0x77, seq: 3 };
    let data = b"are you there";
    let h = Icmpv6Header::with_checksum(
        Icmpv6Type::EchoRequest(echo),
        checksum_src.octets(),
        HA.octets(),
        data,
    )
    .unwrap();
    let mut icmp = h.to_bytes().to_vec();
    icmp.extend_from_slice(data);
    (echo, icmp)
}

/// A Mobility Header: Payload Proto, MH Type, Header Len, `data`, checksum over
/// `src` → HA.
fn mobility(src: Ipv6Addr, payload_proto: u8, mh_type: u8, header_len: u8, data: &[u8]) -> Vec<u8> {
    let mut m = vec![payload_proto, header_len, mh_type, 0, 0, 0];
    m.extend_from_slice(data);
    m.resize((usize::from(header_len) + 1) * 8, 0);
    let sum = mh::compute_checksum(&src, &HA, &m);
    m[4..6].copy_from_slice(&sum.to_be_bytes());
    m
}

fn one(ha: &mut Ha) -> crate::Transmit {
    let t = ha.poll_transmit().expect("an answer");
    assert_eq!(ha.poll_transmit(), None, "only one answer");
    t
}

/// The Binding Error in `frame`: unprotected, from the HA.
fn binding_error(frame: &[u8], to: Ipv6Addr) -> BindingErrorRepr {
    let chain = ext::walk(frame).unwrap();
    assert_eq!(
        chain.final_header,
        NextHeader::MOBILITY,
        "a bare Mobility Header, no ESP"
    );
    assert!(chain.home_address.is_none() && chain.other_routing.is_none());
    assert_eq!(&frame[8..24], &HA.octets());
    assert_eq!(&frame[24..40], &to.octets());
    let p = mh::Packet::new_checked(chain.payload(frame).unwrap()).unwrap();
    match mh::Repr::parse_checked(&p, &HA, &to).unwrap().message {
        Message::BindingError(be) => be,
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc6275_9_3_1_a_home_address_option_without_a_binding_gets_binding_error_1() {
    let mut ha = ha(RequestMode::Explicit);
    let (_, icmp) = echo_request(HOA);
    let frame = packet(COA, Some(HOA), NextHeader::ICMPV6, &icmp);
    assert_eq!(
        ha.handle(T0, &mut frame.clone()),
        Received::Dropped(DropReason::NoBindingForHomeAddressOption)
    );
    let t = one(&mut ha);
    assert_eq!(t.destination, COA);
    assert_eq!(t.spi, None);
    assert_eq!(
        binding_error(&t.frame, COA),
        BindingErrorRepr {
            status: BeStatus::UnknownBindingForHomeAddress,
            home_address: HOA,
        }
    );
    assert_eq!(ha.counters().binding_errors_sent, 1);
}

#[test]
fn rfc6275_9_3_1_a_binding_to_another_care_of_address_is_no_binding_for_this_source() {
    let (mut ha, _mn) = registered();
    let (_, icmp) = echo_request(HOA);
    let frame = packet(COA2, Some(HOA), NextHeader::ICMPV6, &icmp);
    ha.handle(T0 + secs(1), &mut frame.clone());
    let t = one(&mut ha);
    assert_eq!(t.destination, COA2);
    assert_eq!(
        binding_error(&t.frame, COA2).status,
        BeStatus::UnknownBindingForHomeAddress
    );
}

#[test]
fn rfc6275_9_3_2_an_echo_request_from_a_bound_node_is_answered_through_its_care_of_address() {
    let (mut ha, _mn) = registered();
    let (echo, icmp) = echo_request(HOA);
    let frame = packet(COA, Some(HOA), NextHeader::ICMPV6, &icmp);
    assert!(matches!(
        ha.handle(T0 + secs(1), &mut frame.clone()),
        Received::Consumed { spi: None }
    ));
    let t = one(&mut ha);
    assert_eq!(t.destination, COA);
    let chain = ext::walk(&t.frame).unwrap();
    assert_eq!(
        chain.mh_checksum_destination(),
        HOA,
        "a type 2 routing header names the home address"
    );
    assert_eq!(&t.frame[24..40], &COA.octets());
    let reply = Icmpv6Slice::from_slice(chain.payload(&t.frame).unwrap()).unwrap();
    assert_eq!(reply.icmp_type(), Icmpv6Type::EchoReply(echo));
    assert_eq!(reply.payload(), b"are you there");
    assert!(reply.is_checksum_valid(HA.octets(), HOA.octets()));
    // An Echo Request whose checksum does not cover the home address is not answered.
    let (_, wrong) = echo_request(COA);
    ha.handle(
        T0 + secs(2),
        &mut packet(COA, Some(HOA), NextHeader::ICMPV6, &wrong),
    );
    assert_eq!(ha.poll_transmit(), None);
}

#[test]
fn rfc6275_9_2_an_unrecognized_mh_type_gets_binding_error_2() {
    let mut ha = ha(RequestMode::Explicit);
    let mut frame = packet(
        STRANGER,
        None,
        NextHeader::MOBILITY,
        &mobility(STRANGER, 59, 42, 1, &[0; 10]),
    );
    assert_eq!(
        ha.handle(T0, &mut frame),
        Received::Dropped(DropReason::UnexpectedMessage)
    );
    let t = one(&mut ha);
    assert_eq!(t.destination, STRANGER);
    assert_eq!(
        binding_error(&t.frame, STRANGER),
        BindingErrorRepr {
            status: BeStatus::UnrecognizedMhType,
            home_address: Ipv6Addr::UNSPECIFIED,
        }
    );
}

#[test]
fn rfc6275_9_2_an_unrecognized_mh_type_under_esp_gets_binding_error_2_naming_the_home_address() {
    let (mut ha, mut mn) = registered();
    let m = mobility(HOA, 59, 42, 1, &[0; 10]);
    let h = headers(COA, Some(HOA), NextHeader::ESP, sealed_len(m.len()));
    let mut frame = vec![0; h.buffer_len() + sealed_len(m.len())];
    let at = h.emit(&mut frame).unwrap();
    frame[at + PAYLOAD_OFFSET..at + PAYLOAD_OFFSET + m.len()].copy_from_slice(&m);
    let slot = mn.keys.transmit_slot();
    mn.keys
        .get_mut(slot)
        .unwrap()
        .outbound_mut()
        .seal(&mut frame[at..], m.len(), 135)
        .unwrap();
    assert_eq!(
        ha.handle(T0 + secs(1), &mut frame),
        Received::Dropped(DropReason::UnexpectedMessage)
    );
    let t = one(&mut ha);
    assert_eq!(t.destination, COA);
    assert_eq!(
        binding_error(&t.frame, COA),
        BindingErrorRepr {
            status: BeStatus::UnrecognizedMhType,
            home_address: HOA,
        }
    );
}

/// The Parameter Problem in `t`, checked: code 0, to `to`, carrying `invoking`.
fn parameter_problem(t: &crate::Transmit, to: Ipv6Addr, invoking: &[u8]) -> u32 {
    assert_eq!(t.destination, to);
    assert_eq!(t.frame[6], 58, "ICMPv6 right after the IPv6 header");
    let icmp = Icmpv6Slice::from_slice(&t.frame[40..]).unwrap();
    assert!(icmp.is_checksum_valid(HA.octets(), to.octets()));
    assert_eq!(icmp.payload(), invoking, "the invoking packet follows");
    match icmp.icmp_type() {
        Icmpv6Type::ParameterProblem(p) => {
            assert_eq!(p.code, ParameterProblemCode::ErroneousHeaderField);
            p.pointer
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc6275_9_2_a_payload_proto_other_than_59_gets_parameter_problem_pointing_at_it() {
    let mut ha = ha(RequestMode::Explicit);
    // A Binding Refresh Request (type 0) whose Payload Proto says TCP.
    let frame = packet(
        STRANGER,
        None,
        NextHeader::MOBILITY,
        &mobility(STRANGER, 6, 0, 0, &[0; 2]),
    );
    ha.handle(T0, &mut frame.clone());
    let t = one(&mut ha);
    assert_eq!(
        parameter_problem(&t, STRANGER, &frame),
        40,
        "Payload Proto, first octet of the MH"
    );
    assert_eq!(ha.counters().icmp_errors_sent, 1);
    // Behind a Home Address option of a bound node: the pointer counts from the packet.
    let (mut ha, _mn) = registered();
    let frame = packet(
        COA,
        Some(HOA),
        NextHeader::MOBILITY,
        &mobility(HOA, 6, 0, 0, &[0; 2]),
    );
    ha.handle(T0 + secs(1), &mut frame.clone());
    let t = one(&mut ha);
    assert_eq!(parameter_problem(&t, COA, &frame), 40 + 24);
}

#[test]
fn rfc6275_9_2_a_header_len_too_short_for_the_type_gets_parameter_problem_pointing_at_it() {
    let mut ha = ha(RequestMode::Explicit);
    // A Binding Acknowledgement (type 6, 6 octets of data) in 8 octets.
    let frame = packet(
        STRANGER,
        None,
        NextHeader::MOBILITY,
        &mobility(STRANGER, 59, 6, 0, &[0; 2]),
    );
    ha.handle(T0, &mut frame.clone());
    let t = one(&mut ha);
    assert_eq!(parameter_problem(&t, STRANGER, &frame), 41, "Header Len");
}

#[test]
fn rfc6275_9_2_a_bad_checksum_and_rfc4877_an_unprotected_bu_get_no_answer() {
    let mut ha = ha(RequestMode::Explicit);
    let mut m = mobility(STRANGER, 59, 42, 1, &[0; 10]);
    m[5] ^= 1;
    ha.handle(T0, &mut packet(STRANGER, None, NextHeader::MOBILITY, &m));
    assert_eq!(ha.poll_transmit(), None, "bad checksum: silent");
    // A well-formed Binding Update for a configured home address, without ESP.
    let bu = mobility(HOA, 59, 5, 1, &[0, 1, 0xc0, 0, 0, 150]);
    let r = ha.handle(T0, &mut packet(COA, Some(HOA), NextHeader::MOBILITY, &bu));
    assert_eq!(r, Received::Dropped(DropReason::UnprotectedSignalling));
    assert_eq!(ha.poll_transmit(), None);
    assert_eq!(ha.binding(&HOA), None);
}

#[test]
fn rfc4443_2_4_answers_are_rate_limited() {
    let mut ha = ha(RequestMode::Explicit);
    let frame = packet(
        STRANGER,
        None,
        NextHeader::MOBILITY,
        &mobility(STRANGER, 59, 42, 1, &[0; 10]),
    );
    let burst = RATE_BURST as usize;
    for _ in 0..burst + 5 {
        ha.handle(T0, &mut frame.clone());
    }
    assert_eq!(std::iter::from_fn(|| ha.poll_transmit()).count(), burst);
    assert_eq!(ha.counters().answers_rate_limited, 5);
    ha.handle(T0 + RATE_INTERVAL, &mut frame.clone());
    ha.handle(T0 + RATE_INTERVAL, &mut frame.clone());
    assert_eq!(
        std::iter::from_fn(|| ha.poll_transmit()).count(),
        1,
        "one per interval"
    );
}
