//! Home registration (RFC 6275 §11.7.1, §11.7.3, §11.8, §11.5.4).

use mip6_wire::keys::{GenerationId, RequestMode, Slot};
use mip6_wire::mh::{BaStatus, KeyOption, MobilityOption};

use super::harness::*;
use crate::{DropReason, Event, Received, Registration, Target};

#[test]
fn retransmissions_double_from_1_5_s_to_32_s_each_with_a_fresh_timestamp() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    mn.set_care_of_address(T0, Some(COA));
    let first = ha.open_bu(&one_bu(&mut mn));
    let mut now = T0;
    let mut last = first.clone();
    let mut gaps = Vec::new();
    for _ in 0..8 {
        let next = mn.poll_timeout().unwrap();
        gaps.push(next.saturating_since(now).as_millis());
        now = next;
        mn.handle_timeout(now);
        let bu = ha.open_bu(&one_bu(&mut mn));
        assert_eq!(bu.slot, Slot::Init);
        assert_eq!(
            bu.update.sequence,
            last.update.sequence.next(),
            "new number each time"
        );
        let (
            Some(KeyOption::KeyInitialization { timestamp: t }),
            Some(KeyOption::KeyInitialization { timestamp: before }),
        ) = (&bu.key, &last.key)
        else {
            panic!("initialization requests")
        };
        assert_eq!(*t, now.to_ntp());
        assert!(t > before);
        last = bu;
    }
    assert_eq!(gaps, [1500, 3000, 6000, 12000, 24000, 32000, 32000, 32000]);
    let Registration::AwaitingAck(a) = mn.registration().state else {
        panic!("awaiting")
    };
    assert_eq!(a.retries, 8);
    assert_eq!(mn.counters().bu_sent, 9);
    assert_eq!(mn.counters().bu_retransmitted, 8);
    assert_eq!(mn.keys().transmit, GenerationId::Init);
}

#[test]
fn status_135_resynchronizes_the_sequence_number_and_resends_at_once() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    mn.set_care_of_address(T0, Some(COA));
    let bu = ha.open_bu(&one_bu(&mut mn));
    let ha_last = bu.update.sequence.wrapping_add(1000);
    let mut ba = ha.ba_with(COA, ha_last, 135, 0, &[], &[]);
    let now = T0 + secs(0.2);
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let (events, transmits) = take_all(&mut mn);
    assert!(
        !events.iter().any(|e| matches!(e, Event::Refused { .. })),
        "135 is handled, not surfaced"
    );
    assert_eq!(transmits.len(), 1, "resent at once");
    let again = ha.open_bu(&transmits[0].frame);
    assert_eq!(again.update.sequence, ha_last.next());
    assert_eq!(
        again.key,
        Some(KeyOption::KeyInitialization {
            timestamp: now.to_ntp()
        }),
        "still an initialization, with a fresh timestamp"
    );
    let kd = ha.initialize(1);
    let mut ba = ha.ba(
        &again,
        &[KeyOption::KeyDistribution(kd), again.key.clone().unwrap()],
    );
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert!(
        matches!(mn.registration().state, Registration::Registered(r) if r.seq == ha_last.next())
    );
}

#[test]
fn a_refusal_is_surfaced_and_retried_after_the_maximum_timeout() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    mn.set_care_of_address(T0, Some(COA));
    let bu = ha.open_bu(&one_bu(&mut mn));
    let mut ba = ha.ba_with(COA, bu.update.sequence, 129, 0, &[], &[]);
    let now = T0 + secs(0.5);
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let (events, transmits) = take_all(&mut mn);
    assert_eq!(
        non_persist(&events),
        [Event::Refused {
            status: BaStatus::AdministrativelyProhibited
        }]
    );
    assert!(transmits.is_empty());
    let Registration::AwaitingAck(a) = mn.registration().state else {
        panic!("still trying")
    };
    assert_eq!(a.refused, Some(BaStatus::AdministrativelyProhibited));
    assert_eq!(mn.poll_timeout(), Some(now + secs(32.0)));
    mn.handle_timeout(now + secs(32.0));
    let retry = ha.open_bu(&one_bu(&mut mn));
    assert!(matches!(
        retry.key,
        Some(KeyOption::KeyInitialization { .. })
    ));
    assert_eq!(mn.counters().ba_refused, 1);
    assert_eq!(mn.keys().transmit, GenerationId::Init, "no key moved");
}

#[test]
fn a_ba_with_another_sequence_number_or_none_outstanding_is_ignored() {
    let mut mn = node(RequestMode::Implicit);
    let mut ha = home_agent();
    mn.set_care_of_address(T0, Some(COA));
    let bu = ha.open_bu(&one_bu(&mut mn));
    let kd = ha.initialize(1);
    let stale = bu.update.sequence.wrapping_add(65535);
    let mut ba = ha.ba_with(
        COA,
        stale,
        0,
        150,
        &[KeyOption::KeyDistribution(kd.clone())],
        &[],
    );
    assert_eq!(
        mn.handle(T0, &mut ba),
        Received::Dropped(DropReason::SequenceMismatch)
    );
    assert_eq!(mn.keys().newest, None, "a stale BA moves no key");
    assert!(matches!(
        mn.registration().state,
        Registration::AwaitingAck(_)
    ));
    let mut ba = ha.ba(&bu, &[KeyOption::KeyDistribution(kd.clone())]);
    let mut duplicate = ba.clone();
    let r = mn.handle(T0, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        mn.handle(T0, &mut duplicate),
        Received::Dropped(DropReason::Replayed),
        "the same frame again is an ESP replay"
    );
    let mut again = ha.ba(&bu, &[KeyOption::KeyDistribution(kd)]);
    assert_eq!(
        mn.handle(T0, &mut again),
        Received::Dropped(DropReason::NoOutstandingUpdate)
    );
    assert_eq!(mn.counters().dropped_total(), 3);
}

#[test]
fn the_binding_is_refreshed_before_it_expires() {
    let mut mn = node(RequestMode::Implicit);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    let Registration::Registered(r) = mn.registration().state else {
        panic!("registered")
    };
    assert_eq!(r.expires_at, T0 + secs(600.0));
    assert_eq!(
        r.refresh_at,
        T0 + secs(450.0),
        "75 % of the granted lifetime"
    );
    assert_eq!(mn.poll_timeout(), Some(r.refresh_at));
    mn.handle_timeout(r.refresh_at - secs(0.001));
    assert!(take_all(&mut mn).1.is_empty(), "not before the deadline");
    mn.handle_timeout(r.refresh_at);
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.alt_coa, Some(COA));
    assert_eq!(bu.update.sequence, r.seq.next());
    // The HA grants 400 s and advises refreshing after 100 s (25 × 4 s).
    let advice = [MobilityOption::BindingRefreshAdvice {
        refresh_interval: 25,
    }];
    let mut ba = ha.ba_with(COA, bu.update.sequence, 0, 100, &[], &advice);
    let now = r.refresh_at + secs(0.1);
    let got = mn.handle(now, &mut ba);
    assert!(matches!(got, Received::Consumed { .. }), "{got:?}");
    let Registration::Registered(r2) = mn.registration().state else {
        panic!("registered")
    };
    assert_eq!(r2.lifetime, secs(400.0));
    assert_eq!(
        r2.expires_at,
        r.refresh_at + secs(400.0),
        "from when the BU left"
    );
    assert_eq!(r2.refresh_at, r.refresh_at + secs(100.0));
}

#[test]
fn a_new_care_of_address_sends_a_bu_at_once() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    take_all(&mut mn);
    mn.set_care_of_address(T0 + secs(10.0), Some(COA));
    assert!(take_all(&mut mn).1.is_empty(), "same CoA: nothing to say");
    mn.set_care_of_address(T0 + secs(10.0), Some(COA2));
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.src, COA2);
    assert_eq!(bu.alt_coa, Some(COA2));
    assert_eq!(bu.key, None);
    assert_eq!(bu.generation, GenerationId::Number(1));
    assert_eq!(mn.registration().care_of_address, Some(COA2));
    let mut ba = ha.ba(&bu, &[]);
    let r = mn.handle(T0 + secs(10.1), &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let (events, _) = take_all(&mut mn);
    assert_eq!(
        non_persist(&events),
        [Event::Registered {
            coa: COA2,
            lifetime: secs(600.0)
        }]
    );
}

#[test]
fn returning_home_deregisters_from_the_home_address() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    take_all(&mut mn);
    let now = T0 + secs(20.0);
    mn.set_care_of_address(now, Some(HOA));
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.update.lifetime, 0);
    assert_eq!(bu.src, HOA);
    assert_eq!(bu.alt_coa, Some(HOA), "care-of address = home address");
    assert!(matches!(
        mn.registration().state,
        Registration::AwaitingAck(ref a) if a.target == Target::Home
    ));
    assert_eq!(mn.registration().care_of_address, None);
    let mut ba = ha.ba_with(HOA, bu.update.sequence, 0, 0, &[], &[]);
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let (events, _) = take_all(&mut mn);
    assert_eq!(non_persist(&events), [Event::Deregistered]);
    assert_eq!(mn.registration().state, Registration::AtHome);
    assert_eq!(
        mn.poll_timeout(),
        Some(T0 + secs(3600.0)),
        "only the key timer"
    );
    // Leaving again registers anew.
    mn.set_care_of_address(now, Some(COA));
    assert_eq!(ha.open_bu(&one_bu(&mut mn)).alt_coa, Some(COA));
}

#[test]
fn at_home_right_after_a_start_nothing_is_sent() {
    let mut mn = node(RequestMode::Explicit);
    mn.set_care_of_address(T0, None);
    assert!(take_all(&mut mn).1.is_empty());
    assert_eq!(mn.registration().state, Registration::AtHome);
    assert_eq!(mn.registration().last_sequence, None);
}

/// RFC 6275 §11.5.4 and §10.3.2: a node restarted (from its record) on its home link
/// may hold a binding of its last run at the home agent; it deregisters, and the home
/// agent's 133 ("not home agent for this mobile node": it has no binding) ends that as
/// an acknowledgement does. A first start at home still sends nothing.
#[test]
fn rfc6275_11_5_4_a_node_restarted_at_home_deregisters_and_133_ends_it() {
    let mut first = node(RequestMode::Explicit);
    let mut ha = home_agent();
    register(&mut first, &mut ha, T0);
    let (events, _) = take_all(&mut first);
    let record = events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Persist(r) => Some(r.clone()),
            _ => None,
        })
        .expect("a persisted record");
    // The durable minimum (no generation): the restarted node speaks under its init
    // key, from its persisted mark on.
    let record = crate::MnRecord {
        newest: None,
        anterior: None,
        ..record
    };
    let mut mn = node_with(config(RequestMode::Explicit), Some(record));
    assert!(mn.binding_unknown());
    let now = T0 + secs(30.0);
    mn.set_care_of_address(now, None);
    assert!(!mn.binding_unknown());
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.update.lifetime, 0);
    assert_eq!((bu.src, bu.alt_coa), (HOA, Some(HOA)));
    let mut ba = ha.ba_with(
        HOA,
        bu.update.sequence,
        u8::from(BaStatus::NotHomeAgentForThisMobileNode),
        0,
        &[],
        &[],
    );
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let (events, _) = take_all(&mut mn);
    assert!(
        non_persist(&events).contains(&Event::Deregistered),
        "{events:?}"
    );
    assert_eq!(mn.registration().state, Registration::AtHome);
    // Told "home" again: nothing more.
    mn.set_care_of_address(now, None);
    assert!(take_all(&mut mn).1.is_empty());
    // Away first instead: an ordinary registration, the flag gone.
    let mut away = node_with(config(RequestMode::Explicit), None);
    assert!(!away.binding_unknown());
    away.set_care_of_address(now, Some(COA));
    assert_eq!(home_agent().open_bu(&one_bu(&mut away)).alt_coa, Some(COA));
}

#[test]
fn a_binding_refresh_request_is_answered_with_a_bu() {
    let mut mn = node(RequestMode::Implicit);
    let mut ha = home_agent();
    let first = register(&mut mn, &mut ha, T0);
    take_all(&mut mn);
    let mut brr = ha.brr(COA);
    let r = mn.handle(T0 + secs(5.0), &mut brr);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.update.sequence, first.update.sequence.next());
    assert_eq!(bu.alt_coa, Some(COA));
    assert_eq!(mn.counters().brr_received, 1);
}
