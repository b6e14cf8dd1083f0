//! Binding cache behaviour (RFC 6275 §9.5.1, §10.3.1–10.3.2) and every refusal.

use mip6_wire::keys::{RequestMode, Slot};
use mip6_wire::mh::{BaStatus, BindingUpdateRepr, BuFlags, KeyOption, SequenceNumber};

use super::harness::*;
use crate::{BindingChange, DropReason, Event, Received, Refusal, RemovalCause, RouteChange};

/// Sends a BU built from `update`, returns the BA.
fn send(
    ha: &mut Ha,
    mn: &mut ScriptedMn,
    update: BindingUpdateRepr,
    coa: std::net::Ipv6Addr,
) -> OpenedBa {
    let mut frame = mn.seal_bu(None, update, coa, HOA, &[]);
    let r = ha.handle(T0 + secs(1), &mut frame);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    mn.open_ba(one_ba(ha))
}

#[test]
fn refusals_answer_with_their_status_and_move_nothing() {
    let (mut ha, mut mn) = registered();
    let binding = ha.binding(&HOA).unwrap();
    let keys = ha.keys(&HOA).unwrap();
    let cases: [(BindingUpdateRepr, std::net::Ipv6Addr, Refusal); 4] = [
        (
            BindingUpdateRepr {
                flags: BuFlags::A,
                ..mn.next_update()
            },
            COA2,
            Refusal::RegistrationTypeChange,
        ),
        (
            mn.next_update(),
            "fe80::1".parse().unwrap(),
            Refusal::InvalidCareOf,
        ),
        (mn.next_update(), HA, Refusal::InvalidCareOf),
        (
            mn.next_update(),
            "ff02::1".parse().unwrap(),
            Refusal::InvalidCareOf,
        ),
    ];
    for (update, coa, refusal) in cases {
        let ba = send(&mut ha, &mut mn, update, coa);
        assert_eq!(ba.status, refusal.status(), "{refusal}");
        assert_eq!(ba.sequence, update.sequence.0);
        assert_eq!(ba.lifetime_units, 0);
        assert!(ha.counters().refused(refusal) > 0, "{refusal} counted");
    }
    assert_eq!(ha.binding(&HOA), Some(binding));
    assert_eq!(ha.keys(&HOA).unwrap().newest, keys.newest);
    assert_eq!(u8::from(Refusal::RegistrationTypeChange.status()), 139);
    assert_eq!(u8::from(Refusal::InvalidCareOf.status()), 174);
}

#[test]
fn malformed_key_option_is_128() {
    let (mut ha, mut mn) = registered();
    // A Key Update Request body with a stray octet: "overlong" for sub-type 2.
    let update = mn.next_update();
    let body = [0u8; 1];
    let vso = mip6_wire::mh::MobilityOption::VendorSpecific(mip6_wire::mh::VendorSpecific {
        vendor_id: mip6_wire::mh::DEFAULT_VENDOR_ID,
        sub_type: 2,
        data: &body,
    });
    let options = [vso];
    let frame = mip6_wire::frames::BindingUpdateFrame::new(COA, HA, HOA, update, &options);
    let mut buf = vec![0; frame.buffer_len().unwrap()];
    let slot = mn.keys.transmit_slot();
    frame
        .seal(mn.keys.get_mut(slot).unwrap().outbound_mut(), &mut buf)
        .unwrap();
    ha.handle(T0 + secs(1), &mut buf);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::ReasonUnspecified);
    assert_eq!(ha.counters().refused(Refusal::MalformedKeyOption), 1);
}

#[test]
fn stale_sequence_is_135_with_the_last_accepted_number() {
    let (mut ha, mut mn) = registered();
    let last = ha.binding(&HOA).unwrap().sequence;
    let update = BindingUpdateRepr {
        sequence: last,
        ..mn.next_update()
    };
    let ba = send(&mut ha, &mut mn, update, COA2);
    assert_eq!(ba.status, BaStatus::SequenceNumberOutOfWindow);
    assert_eq!(
        ba.sequence, last.0,
        "135 carries the last accepted sequence number"
    );
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);
    let older = BindingUpdateRepr {
        sequence: SequenceNumber(last.0.wrapping_sub(100)),
        ..mn.next_update()
    };
    assert_eq!(
        send(&mut ha, &mut mn, older, COA2).status,
        BaStatus::SequenceNumberOutOfWindow
    );
}

#[test]
fn sequence_numbers_wrap_modulo_2_16() {
    let (mut ha, mut mn) = registered();
    let at = |s: u16, mn: &mut ScriptedMn| BindingUpdateRepr {
        sequence: SequenceNumber(s),
        ..mn.next_update()
    };
    // 1 → 30000 → 60000 → 65535 → 0: each within 2^15 after the last, so newer.
    for s in [30000u16, 60000, 65535, 0] {
        let u = at(s, &mut mn);
        let ba = send(&mut ha, &mut mn, u, COA2);
        assert_eq!(ba.status, BaStatus::Accepted, "seq {s}");
        assert_eq!(ha.binding(&HOA).unwrap().sequence, SequenceNumber(s));
    }
    let u = at(65535, &mut mn);
    assert_eq!(
        send(&mut ha, &mut mn, u, COA2).status,
        BaStatus::SequenceNumberOutOfWindow
    );
}

#[test]
fn moving_updates_the_binding_and_the_route() {
    let (mut ha, mut mn) = registered();
    let u = mn.next_update();
    let ba = send(&mut ha, &mut mn, u, COA2);
    assert_eq!(ba.status, BaStatus::Accepted);
    let events = take_events(&mut ha);
    assert!(events.contains(&Event::Route(RouteChange::Install {
        home_address: HOA,
        care_of_address: COA2
    })));
    assert!(events.iter().any(|e| matches!(e, Event::Binding { change: BindingChange::Updated(b), .. } if b.care_of_address == COA2)));
    // A refresh from the same CoA emits no new route.
    let u = mn.next_update();
    send(&mut ha, &mut mn, u, COA2);
    let events = take_events(&mut ha);
    assert!(!events.iter().any(|e| matches!(e, Event::Route(_))));
}

#[test]
fn lifetime_is_capped_and_the_binding_expires() {
    let (mut ha, mut mn) = registered();
    let u = BindingUpdateRepr {
        lifetime: u16::MAX,
        ..mn.next_update()
    };
    let ba = send(&mut ha, &mut mn, u, COA);
    assert_eq!(ba.lifetime_units, 900, "capped at 3600 s");
    assert_eq!(ba.refresh_units, Some(720), "80 % of 3600 s");
    let b = ha.binding(&HOA).unwrap();
    assert_eq!(b.lifetime_secs, 3600);
    assert_eq!(b.expires_at, T0 + secs(3601));
    take_events(&mut ha);
    assert_eq!(ha.poll_timeout(), Some(T0 + secs(3600)), "key timer first");
    ha.handle_timeout(T0 + secs(3600));
    assert_eq!(ha.poll_timeout(), Some(T0 + secs(3601)));
    ha.handle_timeout(T0 + secs(3601));
    assert_eq!(ha.binding(&HOA), None);
    let events = take_events(&mut ha);
    assert!(events.contains(&Event::Route(RouteChange::Remove { home_address: HOA })));
    assert!(events.contains(&Event::Binding {
        home_address: HOA,
        change: BindingChange::Removed(RemovalCause::Expired)
    }));
    assert!(last_records(&events)[0].binding.is_none());
    assert_eq!(ha.counters().bindings_expired, 1);
    // A stale expiry entry (binding refreshed) does nothing.
    assert_eq!(ha.poll_timeout(), None);
}

#[test]
fn refreshed_binding_does_not_expire_at_the_old_deadline() {
    let (mut ha, mut mn) = registered();
    let u = mn.next_update();
    send(&mut ha, &mut mn, u, COA); // expires T0 + 601
    ha.handle_timeout(T0 + secs(600));
    assert!(ha.binding(&HOA).is_some());
    assert_eq!(ha.poll_timeout(), Some(T0 + secs(601)));
}

#[test]
fn deregistration_by_lifetime_zero_or_home_address_as_coa() {
    for coa in [COA, HOA] {
        let (mut ha, mut mn) = registered();
        let u = BindingUpdateRepr {
            lifetime: if coa == HOA { 150 } else { 0 },
            ..mn.next_update()
        };
        let ba = send(&mut ha, &mut mn, u, coa);
        assert_eq!(ba.status, BaStatus::Accepted);
        assert_eq!(ba.lifetime_units, 0);
        assert_eq!(ba.refresh_units, None);
        assert_eq!(ha.binding(&HOA), None);
        let events = take_events(&mut ha);
        assert!(events.contains(&Event::Binding {
            home_address: HOA,
            change: BindingChange::Removed(RemovalCause::Deregistered)
        }));
        assert!(events.contains(&Event::Route(RouteChange::Remove { home_address: HOA })));
    }
}

#[test]
fn replayed_bu_gets_no_answer_and_moves_nothing() {
    let (mut ha, mut mn) = registered();
    let u = mn.next_update();
    let frame = mn.seal_bu(None, u, COA2, HOA, &[KeyOption::KeyUpdateRequest]);
    let r = ha.handle(T0 + secs(1), &mut frame.clone());
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    one_ba(&mut ha);
    take_events(&mut ha);
    let keys = ha.keys(&HOA).unwrap();
    let binding = ha.binding(&HOA);
    assert_eq!(
        ha.handle(T0 + secs(2), &mut frame.clone()),
        Received::Dropped(DropReason::Replayed)
    );
    assert!(ha.poll_transmit().is_none());
    assert!(take_events(&mut ha).is_empty());
    assert_eq!(ha.keys(&HOA).unwrap(), keys);
    assert_eq!(ha.binding(&HOA), binding);
    // A corrupted fresh BU: bad ICV, silently dropped too.
    let u = mn.next_update();
    let mut bad = mn.seal_bu(None, u, COA2, HOA, &[]);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        ha.handle(T0 + secs(2), &mut bad),
        Received::Dropped(DropReason::BadIcv)
    );
    assert_eq!(ha.counters().dropped(DropReason::Replayed), 1);
    assert_eq!(ha.counters().dropped(DropReason::BadIcv), 1);
}

#[test]
fn bu_under_another_mns_spi_or_an_unknown_spi_is_dropped_silently() {
    let (mut ha, mut mn) = registered();
    let mut frame = mn.bu(&[]);
    // Rewrite the SPI (after IPv6 40 + DestOpts 24) to MN 2's init SPI: wrong key.
    frame[64..68].copy_from_slice(&0x1002u32.to_be_bytes());
    assert_eq!(
        ha.handle(T0 + secs(1), &mut frame.clone()),
        Received::Dropped(DropReason::BadIcv)
    );
    frame[64..68].copy_from_slice(&0x7777_7777u32.to_be_bytes());
    assert_eq!(
        ha.handle(T0 + secs(1), &mut frame),
        Received::Dropped(DropReason::UnknownSpi)
    );
    assert!(ha.poll_transmit().is_none());
    assert_eq!(ha.binding(&HOA2), None);
    assert_eq!(ha.keys(&HOA2).unwrap().newest, None);
}

#[test]
fn home_address_of_another_mn_is_refused_with_133_and_counted() {
    let (mut ha, mut mn) = registered();
    let u = mn.next_update();
    let mut frame = mn.seal_bu(Some(Slot::Newest), u, COA2, HOA2, &[]);
    let r = ha.handle(T0 + secs(1), &mut frame);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    // The BA is routed to the home address the BU named (RFC 6275 §9.5.4: its RH2).
    mn.home_address = HOA2;
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::NotHomeAgentForThisMobileNode);
    assert_eq!(ha.counters().attacks, 1);
    assert_eq!(ha.binding(&HOA2), None);
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);
}

#[test]
fn garbage_is_dropped_as_malformed() {
    let mut ha = ha(RequestMode::Explicit);
    for len in [0usize, 1, 39, 40, 60, 80] {
        let mut junk = vec![0x60; len];
        assert!(matches!(ha.handle(T0, &mut junk), Received::Dropped(_)));
    }
    assert!(ha.counters().dropped(DropReason::Malformed) > 0);
}

#[test]
fn refreshes_keep_one_timer_entry_per_mobile_node() {
    let (mut ha, mut mn) = registered();
    // 3000 refreshes, each moving the expiry later (the second half all at one
    // instant, so their deadlines are equal): none pushes an entry, the one queued
    // for the earliest deadline is moved on when it comes up.
    for i in 0..3000u64 {
        let mut frame = mn.bu(&[]);
        let now = T0 + secs(1) + core::time::Duration::from_micros(i.min(1500));
        let r = ha.handle(now, &mut frame);
        assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
        take_events(&mut ha);
        while ha.poll_transmit().is_some() {}
        assert_eq!(ha.timers.len(), 1, "one entry for the one MN");
    }
    // The live deadline survived: the binding still expires on time.
    let binding = ha.binding(&HOA).unwrap();
    assert_eq!(
        ha.poll_timeout(),
        Some(binding.expires_at.min(ha.poll_timeout().unwrap()))
    );
    ha.handle_timeout(binding.expires_at);
    assert_eq!(ha.binding(&HOA), None);
}

#[test]
fn a_shortened_lifetime_expires_at_the_new_deadline() {
    let (mut ha, mut mn) = registered();
    let u = BindingUpdateRepr {
        lifetime: 150,
        ..mn.next_update()
    };
    send(&mut ha, &mut mn, u, COA);
    assert_eq!(ha.binding(&HOA).unwrap().expires_at, T0 + secs(601));
    // The MN asks for 100 s: the deadline moves earlier, a second entry is queued and
    // the first is superseded.
    let u = BindingUpdateRepr {
        lifetime: 25,
        ..mn.next_update()
    };
    send(&mut ha, &mut mn, u, COA);
    take_events(&mut ha);
    assert_eq!(ha.poll_timeout(), Some(T0 + secs(101)));
    ha.handle_timeout(T0 + secs(100));
    assert!(ha.binding(&HOA).is_some(), "not before its time");
    ha.handle_timeout(T0 + secs(101));
    assert_eq!(ha.binding(&HOA), None);
    assert_eq!(ha.counters().bindings_expired, 1);
    // Left: the key update timer; the superseded entry at 601 is dropped unseen.
    assert_eq!(ha.poll_timeout(), Some(T0 + secs(3600)));
    ha.handle_timeout(T0 + secs(3600));
    assert!(ha.keys(&HOA).unwrap().update_due);
    assert_eq!(ha.poll_timeout(), None);
    assert_eq!(ha.counters().bindings_expired, 1);
}

/// Many MNs whose deadlines move earlier and later at random: every binding expires
/// exactly at its own deadline (checked against a model of the deadlines), never
/// twice, and the heap stays within its bound.
#[test]
fn random_refreshes_expire_every_binding_at_its_deadline() {
    use std::collections::HashMap;
    const N: u32 = 24;
    let hoas: Vec<std::net::Ipv6Addr> = (0..N)
        .map(|i| std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 1, i as u16))
        .collect();
    let keys: Vec<KeyMaterial> = (0..N)
        .map(|i| fleet_init_key(hoas[i as usize], i as u8 + 1))
        .collect();
    let mut mns: Vec<ScriptedMn> = keys.iter().map(|k| ScriptedMn::new(k, COA)).collect();
    let mut config = crate::HaConfig::new(HA, keys.iter().map(mn_config).collect());
    config.max_binding_lifetime = secs(1000);
    // No key update falls due: only binding deadlines move here.
    config.key_update_interval = secs(30 * 86_400);
    let mut ha = ha_with(config, 5, Vec::new());
    for mn in &mut mns {
        initialize(&mut ha, mn, T0, RequestMode::Explicit);
    }
    take_events(&mut ha);
    let mut model: HashMap<std::net::Ipv6Addr, mip6_wire::Time> = hoas
        .iter()
        .map(|h| (*h, ha.binding(h).unwrap().expires_at))
        .collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut now = T0;
    let mut expired = 0;
    for _ in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        now = now + core::time::Duration::from_millis(x % 4000);
        // Whatever the model says is due expires now, and nothing else.
        ha.handle_timeout(now);
        let before = model.len();
        model.retain(|_, at| *at > now);
        expired += (before - model.len()) as u64;
        for h in &hoas {
            assert_eq!(
                ha.binding(h).map(|b| b.expires_at),
                model.get(h).copied(),
                "{h} at {now:?}"
            );
        }
        let i = (x >> 32) as usize % N as usize;
        let lifetime_units = 1 + (x >> 40) as u16 % 250;
        let u = BindingUpdateRepr {
            lifetime: lifetime_units,
            ..mns[i].next_update()
        };
        let mut frame = mns[i].seal_bu(None, u, COA, hoas[i], &[]);
        let r = ha.handle(now, &mut frame);
        assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
        take_events(&mut ha);
        while ha.poll_transmit().is_some() {}
        model.insert(hoas[i], ha.binding(&hoas[i]).unwrap().expires_at);
        assert!(ha.timers.len() <= 2 * N as usize + 1024 + 1);
        // The next wake-up is exactly the earliest binding deadline (the key timers
        // are weeks away), never a superseded or stale entry.
        assert_eq!(ha.poll_timeout(), model.values().min().copied());
    }
    assert_eq!(ha.counters().bindings_expired, expired);
    assert!(
        expired > 100,
        "deadlines were reached, not only moved: {expired}"
    );
}

#[test]
fn the_rfc_4303_window_of_64_works_end_to_end() {
    let mut config = config(RequestMode::Explicit);
    config.replay_window = mip6_wire::esp::ReplayWindow::new(64).unwrap();
    let mut ha = ha_with(config, 1, Vec::new());
    let mut mn = mn();
    initialize(&mut ha, &mut mn, T0, RequestMode::Explicit);
    take_events(&mut ha);
    // 70 BUs sealed ahead, delivered newest first: the 64 most recent open, the 6
    // oldest fall left of the window.
    let frames: Vec<Vec<u8>> = (0..70).map(|_| mn.bu(&[])).collect();
    let mut outcomes = Vec::new();
    for mut frame in frames.into_iter().rev() {
        outcomes.push(ha.handle(T0 + secs(1), &mut frame));
    }
    let consumed = outcomes
        .iter()
        .filter(|r| matches!(r, Received::Consumed { .. }))
        .count();
    assert_eq!(consumed, 64);
    assert_eq!(ha.counters().dropped(DropReason::Replayed), 6);
}

/// `prefetch` only warms caches: on a batch mixing a refresh BU, the same BU
/// truncated at every length, garbage and frames past `PREFETCH_MAX`, it moves no
/// counter, binding or record, and the BU handled afterwards gets the same BA as
/// on a twin HA that was never prefetched.
#[test]
fn prefetch_changes_nothing() {
    let (mut ha, mut mn) = registered();
    let (mut twin, mut twin_mn) = registered();
    let frame = mn.bu(&[]);
    assert_eq!(twin_mn.bu(&[]), frame, "the twins seal the same BU");
    let mut batch: Vec<&[u8]> = (0..=frame.len()).map(|n| &frame[..n]).collect();
    let garbage = [0xFFu8; 200];
    batch.push(&garbage);
    batch.push(&frame);
    assert!(batch.len() > crate::PREFETCH_MAX);
    let (counters, record) = (ha.counters().clone(), ha.record(&HOA));
    ha.prefetch(batch.iter().copied());
    ha.prefetch(batch.iter().rev().copied());
    assert_eq!(ha.counters(), &counters);
    assert_eq!(ha.record(&HOA), record);
    assert!(ha.poll_event().is_none() && ha.poll_transmit().is_none());

    let now = T0 + secs(1);
    let r = ha.handle(now, &mut frame.clone());
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let r = twin.handle(now, &mut frame.clone());
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(take_events(&mut ha), take_events(&mut twin));
    let ba = one_ba(&mut ha);
    assert_eq!(ba, one_ba(&mut twin), "same BA, byte for byte");
    assert_eq!(mn.open_ba(ba).status, BaStatus::Accepted);
}

/// Issue 11, item 6: the driver learns per mobile node which of its frames failed
/// their ICV (under init: a wrong init secret is the likely cause) and which BUs were
/// refused; each take empties the notices.
#[test]
fn icv_failures_and_refusals_are_noticed_per_mobile_node() {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    // An init BU whose ICV fails: noticed under the node's init SA.
    let mut bad = mn.bu(&[]);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        ha.handle(T0 + secs(1), &mut bad),
        Received::Dropped(DropReason::BadIcv)
    );
    let notices = ha.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = notices[&HOA];
    assert_eq!((n.init_icv_failures, n.icv_failures, n.refusals), (1, 0, 0));
    assert!(ha.take_notices().is_empty(), "a take empties them");

    // Registered, then a corrupted BU under a generation and a refused one.
    let (mut ha, mut mn) = registered();
    ha.take_notices();
    let u = mn.next_update();
    let mut bad = mn.seal_bu(None, u, COA2, HOA, &[]);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    ha.handle(T0 + secs(2), &mut bad);
    let u = mn.next_update();
    let ba = send(&mut ha, &mut mn, u, HA);
    assert_eq!(ba.status, Refusal::InvalidCareOf.status());
    let n = ha.take_notices()[&HOA];
    assert_eq!((n.init_icv_failures, n.icv_failures, n.refusals), (0, 1, 1));
    assert_eq!(n.last_refusal, Some(Refusal::InvalidCareOf));
    assert_eq!(ha.take_notices().get(&HOA2), None, "no frame named MN 2");
}

/// Issue 11, item 5: nodes removed and added on a running engine. Removing one drops
/// its binding cleanly and leaves the other's keys and binding as they were, also
/// when the other moves to the removed one's index; adding it again with its stored
/// record resumes its init SA at the persisted mark.
#[test]
fn mobile_nodes_are_removed_and_added_while_running() {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn2 = ScriptedMn::new(&second_init_key(), COA2);
    initialize(&mut ha, &mut mn2, T0, RequestMode::Explicit);
    take_events(&mut ha);
    let keys2 = ha.keys(&HOA2).unwrap();
    let binding2 = ha.binding(&HOA2).unwrap();
    let mut mn1 = mn();
    initialize(&mut ha, &mut mn1, T0, RequestMode::Explicit);
    let record1 = last_records(&take_events(&mut ha))
        .into_iter()
        .find(|r| r.home_address == HOA)
        .unwrap();

    // HOA is index 0: removing it moves HOA2 into its place.
    assert!(ha.remove_mobile_node(T0 + secs(1), &HOA));
    assert!(!ha.remove_mobile_node(T0 + secs(1), &HOA), "once only");
    let events = take_events(&mut ha);
    assert!(events.contains(&Event::Route(RouteChange::Remove { home_address: HOA })));
    assert!(events.contains(&Event::Binding {
        home_address: HOA,
        change: BindingChange::Removed(RemovalCause::Unconfigured)
    }));
    let last = last_records(&events);
    assert!(
        last.iter()
            .any(|r| r.home_address == HOA && r.binding.is_none()),
        "{last:?}"
    );
    assert_eq!((ha.binding(&HOA), ha.keys(&HOA)), (None, None));
    assert_eq!(ha.home_addresses().collect::<Vec<_>>(), vec![HOA2]);
    // The other node, renumbered, is untouched and still served under its keys.
    assert_eq!(ha.keys(&HOA2).unwrap(), keys2);
    assert_eq!(ha.binding(&HOA2).unwrap(), binding2);
    let frame = mn2.bu(&[]);
    let r = ha.handle(T0 + secs(2), &mut frame.clone());
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(mn2.open_ba(one_ba(&mut ha)).status, BaStatus::Accepted);
    // The removed node's frames find no SA.
    let frame = mn1.bu(&[]);
    assert_eq!(
        ha.handle(T0 + secs(2), &mut frame.clone()),
        Received::Dropped(DropReason::UnknownSpi)
    );

    // Added again from its record: its init SA resumes at the persisted mark.
    let config1 = mn_config(&init_key());
    ha.add_mobile_node(T0 + secs(3), config1.clone(), Some(&record1))
        .unwrap();
    assert_eq!(
        ha.add_mobile_node(T0 + secs(3), config1, None),
        Err(crate::ConfigError::DuplicateHomeAddress(HOA))
    );
    assert_eq!(
        ha.record(&HOA).unwrap().init_outbound_mark,
        record1.init_outbound_mark
    );
    assert!(ha.spi_in_use(init_key().spis.mn_to_ha.get()));
    take_events(&mut ha);
    initialize(&mut ha, &mut mn1, T0 + secs(4), RequestMode::Explicit);
    assert!(ha.binding(&HOA).is_some() && ha.binding(&HOA2).is_some());

    ha.set_timers(secs(100), secs(60));
    let u = mn2.next_update();
    let ba = send_from(&mut ha, &mut mn2, u, COA2, HOA2);
    assert!(ba.lifetime_units * 4 <= 60, "{ba:?}");
}

fn send_from(
    ha: &mut Ha,
    mn: &mut ScriptedMn,
    update: BindingUpdateRepr,
    coa: std::net::Ipv6Addr,
    hoa: std::net::Ipv6Addr,
) -> OpenedBa {
    let mut frame = mn.seal_bu(None, update, coa, hoa, &[]);
    let r = ha.handle(T0 + secs(5), &mut frame);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    mn.open_ba(one_ba(ha))
}
