//! RFC 6275 home-agent rules for Binding Updates, one test per rule, each named after
//! the section it comes from and asserting the exact answer (BA status, sequence
//! number, destination, routing header) or that there is none. Written from the RFC
//! text:
//!
//! - §9.5.1: the home address is the Home Address option's, else the IPv6 source,
//!   and must be unicast routable (else the BU is silently discarded); a home
//!   registration carries no Nonce Indices option (else: discarded); a BU whose H
//!   flag differs from an existing binding's gets 139; a stale sequence number gets
//!   135 carrying the last accepted number.
//! - §10.3.1: "regardless of the setting of the Acknowledge (A) bit" the home agent
//!   processes the BU and returns a BA; a home address off the home subnet prefix
//!   gets 132.
//!   The Binding Refresh Advice it MAY add is there for a binding cache that is lost
//!   at a restart: a cache that survives restarts advises nothing.
//! - §10.3.2: a deregistration with no binding gets 133.
//! - §11.5.4 with §6.1.8: a node at home deregisters from its home address without a
//!   Home Address option, and the BA goes straight to the home address, with no type
//!   2 routing header.

use std::net::Ipv6Addr;

use mip6_wire::frames::{self, BindingUpdateFrame};
use mip6_wire::keys::RequestMode;
use mip6_wire::mh::{BaStatus, BindingUpdateRepr, BuFlags, MobilityOption, SequenceNumber};

use super::harness::*;
use crate::{DropReason, Received, Refusal};

/// Seals `update` from `coa` for `home_address` with `options` (after the Alternate
/// Care-of Address option) under the node's transmit key.
fn bu_with(
    mn: &mut ScriptedMn,
    coa: Ipv6Addr,
    home_address: Ipv6Addr,
    update: BindingUpdateRepr,
    options: &[MobilityOption<'_>],
) -> Vec<u8> {
    let frame = BindingUpdateFrame::new(coa, HA, home_address, update, options);
    let mut buf = vec![0; frame.buffer_len().unwrap()];
    let slot = mn.keys.transmit_slot();
    let n = frame
        .seal(mn.keys.get_mut(slot).unwrap().outbound_mut(), &mut buf)
        .unwrap();
    buf.truncate(n);
    buf
}

fn deliver(ha: &mut Ha, frame: &mut [u8]) -> Received {
    ha.handle(T0 + secs(2), frame)
}

/// Asserts the HA queued nothing.
fn no_answer(ha: &mut Ha) {
    assert_eq!(ha.poll_transmit(), None, "the BU must get no answer");
}

#[test]
fn rfc6275_10_3_1_a_bit_clear_registration_refresh_and_deregistration_are_answered() {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    // Registration (with its key initialization), A clear.
    let update = BindingUpdateRepr {
        flags: BuFlags::H,
        ..mn.next_update()
    };
    let init = [key_initialization(T0)];
    let mut frame = mn.seal_bu(Some(mip6_wire::keys::Slot::Init), update, COA, HOA, &init);
    assert!(matches!(
        ha.handle(T0, &mut frame),
        Received::Consumed { .. }
    ));
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.sequence, update.sequence.0);
    assert!(ba.distribution.is_some(), "keys delivered as with A set");
    mn.install(&ba);
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);

    // Refresh to another care-of address, A clear.
    let update = BindingUpdateRepr {
        flags: BuFlags::H,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, COA2, HOA, &[]);
    deliver(&mut ha, &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA2);

    // Deregistration, A clear.
    let update = BindingUpdateRepr {
        flags: BuFlags::H,
        lifetime: 0,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, COA2, HOA, &[]);
    deliver(&mut ha, &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ha.binding(&HOA), None);
}

#[test]
fn rfc6275_9_5_1_stale_bu_with_a_clear_gets_135_with_the_last_accepted_sequence() {
    let (mut ha, mut mn) = registered();
    let last = ha.binding(&HOA).unwrap().sequence;
    let update = BindingUpdateRepr {
        sequence: SequenceNumber(last.0.wrapping_sub(1)),
        flags: BuFlags::H,
        lifetime: 150,
    };
    let mut frame = mn.seal_bu(None, update, COA2, HOA, &[]);
    deliver(&mut ha, &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::SequenceNumberOutOfWindow);
    assert_eq!(ba.sequence, last.0, "135 carries the last accepted number");
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);
}

#[test]
fn rfc6275_9_5_1_h_clear_with_a_home_registration_binding_is_139() {
    let (mut ha, mut mn) = registered();
    let update = BindingUpdateRepr {
        flags: BuFlags::A,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, COA2, HOA, &[]);
    deliver(&mut ha, &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::RegistrationTypeChangeDisallowed);
    assert_eq!(ba.sequence, update.sequence.0);
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);
    assert_eq!(ha.counters().refused(Refusal::RegistrationTypeChange), 1);
}

#[test]
fn rfc6275_9_5_1_h_clear_without_a_binding_is_silently_discarded() {
    let (mut ha, mut mn) = registered();
    // Deregister first, so no binding is left.
    let update = BindingUpdateRepr {
        lifetime: 0,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, COA, HOA, &[]);
    deliver(&mut ha, &mut frame);
    assert_eq!(mn.open_ba(one_ba(&mut ha)).status, BaStatus::Accepted);
    assert_eq!(ha.binding(&HOA), None);

    let update = BindingUpdateRepr {
        flags: BuFlags::A,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, COA2, HOA, &[]);
    assert_eq!(
        deliver(&mut ha, &mut frame),
        Received::Dropped(DropReason::NotHomeRegistration)
    );
    no_answer(&mut ha);
    assert_eq!(ha.binding(&HOA), None);
    assert_eq!(ha.counters().dropped(DropReason::NotHomeRegistration), 1);
}

#[test]
fn rfc6275_9_5_1_nonce_indices_in_a_home_registration_is_silently_discarded() {
    let (mut ha, mut mn) = registered();
    let update = mn.next_update();
    let nonce = [MobilityOption::NonceIndices {
        home_nonce_index: 1,
        care_of_nonce_index: 2,
    }];
    let mut frame = bu_with(&mut mn, COA2, HOA, update, &nonce);
    assert_eq!(
        deliver(&mut ha, &mut frame),
        Received::Dropped(DropReason::NonceIndicesInHomeRegistration)
    );
    no_answer(&mut ha);
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);
}

#[test]
fn rfc6275_9_5_1_a_home_address_that_is_not_unicast_routable_is_silently_discarded() {
    let (mut ha, mut mn) = registered();
    for hoa in ["fe80::100", "ff02::1", "::1"] {
        let hoa: Ipv6Addr = hoa.parse().unwrap();
        let update = mn.next_update();
        let mut frame = mn.seal_bu(None, update, COA2, hoa, &[]);
        assert_eq!(
            deliver(&mut ha, &mut frame),
            Received::Dropped(DropReason::InvalidHomeAddress),
            "{hoa}"
        );
        no_answer(&mut ha);
    }
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);
    assert_eq!(
        ha.counters().attacks,
        0,
        "not counted as another MN's address"
    );
}

#[test]
fn rfc6275_10_3_1_a_home_address_off_the_home_prefix_is_132() {
    let (mut ha, mut mn) = registered();
    let off_prefix: Ipv6Addr = "2001:db8:9::100".parse().unwrap();
    let update = mn.next_update();
    let mut frame = mn.seal_bu(None, update, COA2, off_prefix, &[]);
    assert!(matches!(
        deliver(&mut ha, &mut frame),
        Received::Consumed { .. }
    ));
    let t = one_transmit(&mut ha);
    assert_eq!(t.destination, COA2);
    // The BA is for the address the BU named; the node's own SA opens it.
    let mut buf = t.frame;
    let opened = frames::open(&mut buf, &mut mn.keys).expect("the BA opens");
    assert_eq!(opened.frame.chain.rh2, Some(off_prefix));
    let frames::Payload::Signalling(mh) = opened.payload else {
        panic!("signalling")
    };
    let mip6_wire::mh::Message::BindingAck(ack) = mh.message else {
        panic!("a BA")
    };
    assert_eq!(ack.status, BaStatus::NotHomeSubnet);
    assert_eq!(ack.sequence, update.sequence);
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);
}

#[test]
fn rfc6275_10_3_2_a_deregistration_without_a_binding_is_133() {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    let update = BindingUpdateRepr {
        lifetime: 0,
        ..mn.next_update()
    };
    let init = [key_initialization(T0)];
    let mut frame = mn.seal_bu(Some(mip6_wire::keys::Slot::Init), update, COA, HOA, &init);
    assert!(matches!(
        ha.handle(T0, &mut frame),
        Received::Consumed { .. }
    ));
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::NotHomeAgentForThisMobileNode);
    assert_eq!(ba.sequence, update.sequence.0);
    assert_eq!(ha.binding(&HOA), None);
    assert_eq!(ha.counters().refused(Refusal::NoBindingToDeregister), 1);
}

#[test]
fn rfc6275_11_5_4_deregistration_from_home_needs_no_home_address_option_and_gets_no_rh2() {
    let (mut ha, mut mn) = registered();
    // At home: from the home address, CoA = home address, so the frame carries no
    // Home Address option.
    let update = BindingUpdateRepr {
        lifetime: 0,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, HOA, HOA, &[]);
    let chain = frames::inspect(&frame).unwrap().chain;
    assert_eq!(chain.ipv6.src_addr, HOA);
    assert_eq!(chain.home_address, None, "no Home Address option from home");
    assert!(matches!(
        deliver(&mut ha, &mut frame),
        Received::Consumed { .. }
    ));
    let t = one_transmit(&mut ha);
    assert_eq!(t.destination, HOA, "the BA goes to the node at home");
    let chain = frames::inspect(&t.frame).unwrap().chain;
    assert_eq!(chain.ipv6.dst_addr, HOA);
    assert_eq!(
        chain.rh2, None,
        "no type 2 routing header to a node at home"
    );
    let ba = mn.open_ba(t.frame);
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.sequence, update.sequence.0);
    assert_eq!(ha.binding(&HOA), None);
}

/// Registers the scripted node with a home agent whose binding cache is `storage`
/// and returns the BA of the registration and of a refresh after it.
fn registration_and_refresh(storage: crate::BindingCacheStorage) -> [OpenedBa; 2] {
    let mut c = config(RequestMode::Explicit);
    c.binding_cache = storage;
    c.max_binding_lifetime = std::time::Duration::from_secs(400);
    let mut ha = ha_with(c, 7, Vec::new());
    let mut mn = mn();
    let update = BindingUpdateRepr {
        lifetime: 100, // 400 s
        ..mn.next_update()
    };
    let init = [key_initialization(T0)];
    let mut frame = mn.seal_bu(Some(mip6_wire::keys::Slot::Init), update, COA, HOA, &init);
    ha.handle(T0, &mut frame);
    let first = mn.open_ba(one_ba(&mut ha));
    assert_eq!(first.status, BaStatus::Accepted);
    mn.install(&first);
    let update = BindingUpdateRepr {
        lifetime: 100,
        ..mn.next_update()
    };
    let mut frame = mn.seal_bu(None, update, COA2, HOA, &[]);
    deliver(&mut ha, &mut frame);
    let second = mn.open_ba(one_ba(&mut ha));
    assert_eq!(second.status, BaStatus::Accepted);
    [first, second]
}

#[test]
fn rfc6275_10_3_1_volatile_binding_cache_advises_a_refresh_before_the_lifetime() {
    for ba in registration_and_refresh(crate::BindingCacheStorage::Volatile) {
        assert_eq!(ba.lifetime_units, 100);
        let advice = ba.refresh_units.expect("a Binding Refresh Advice");
        // §6.2.4/§10.3.1: the Refresh Interval is shorter than the granted lifetime.
        assert!(advice > 0 && advice < ba.lifetime_units, "advice {advice}");
    }
}

#[test]
fn rfc6275_10_3_1_binding_cache_that_survives_restarts_advises_no_refresh() {
    for ba in registration_and_refresh(crate::BindingCacheStorage::Durable) {
        assert_eq!(ba.lifetime_units, 100);
        assert_eq!(ba.refresh_units, None, "no Binding Refresh Advice");
    }
}
