//! Key protocol from the mobile node's side (docs/key-protocol.md; patent (1)–(11)).

use mip6_wire::keys::{GenerationId, RequestMode, Slot};
use mip6_wire::mh::{BuFlags, KeyOption};

use super::harness::*;
use crate::{
    DistributionKind, DropReason, Event, KeyView, MnConfig, Received, Registration, RestorePolicy,
    UpdateTimer,
};

use GenerationId::{Init, Number};

fn view(transmit: GenerationId, accepted: &[GenerationId], update: UpdateTimer) -> KeyView {
    let number = |g: Option<&GenerationId>| match g {
        Some(Number(n)) => Some(*n),
        _ => None,
    };
    let dynamic: Vec<_> = accepted.iter().filter(|g| **g != Init).collect();
    KeyView {
        transmit,
        accepted: accepted.to_vec(),
        newest: number(dynamic.first().copied()),
        anterior: number(dynamic.get(1).copied()),
        update,
        generations: Vec::new(),
    }
}

/// The node's key view without the per-slot details (SPIs, install times), which
/// `slots_report_spis_and_install_times` checks.
fn key_slots(mn: &crate::MobileNode) -> KeyView {
    let mut k = mn.keys();
    k.generations.clear();
    k
}

#[test]
fn explicit_initialization_echoes_the_timestamp_and_installs_generation_1() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    assert_eq!(key_slots(&mn), view(Init, &[Init], UpdateTimer::Off));
    assert_eq!(mn.poll_timeout(), None, "nothing to do before a CoA");

    mn.set_care_of_address(T0, Some(COA));
    let (events, transmits) = take_all(&mut mn);
    assert!(
        matches!(&events[..], [Event::Persist(r)] if r.init_outbound_mark == 1 + 1024),
        "the init SA's first block is persisted before the BU: {events:?}"
    );
    assert_eq!(transmits.len(), 1);
    let bu = ha.open_bu(&transmits[0].frame);
    assert_eq!(
        bu.slot,
        Slot::Init,
        "patent (1): the BU is sealed with init"
    );
    assert_eq!(bu.spi, 0x1001);
    assert_eq!(bu.esp_seq, 1);
    assert_eq!(
        bu.key,
        Some(KeyOption::KeyInitialization {
            timestamp: T0.to_ntp()
        })
    );
    assert_eq!(bu.src, COA);
    assert_eq!(bu.alt_coa, Some(COA));
    assert_eq!(bu.update.flags, BuFlags::A | BuFlags::H);
    assert_eq!(bu.update.lifetime, 150, "600 s in 4-second units");
    assert_eq!(key_slots(&mn), view(Init, &[Init], UpdateTimer::Off));

    let now = T0 + secs(0.1);
    let kd = ha.initialize(1);
    let mut ba = ha.ba(
        &bu,
        &[KeyOption::KeyDistribution(kd), bu.key.clone().unwrap()],
    );
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let (events, _) = take_all(&mut mn);
    assert_eq!(
        non_persist(&events),
        [
            Event::KeysInstalled {
                generation: 1,
                kind: DistributionKind::Initialization
            },
            Event::Registered {
                coa: COA,
                lifetime: secs(600.0)
            }
        ]
    );
    let Some(Event::Persist(record)) = events.iter().find(|e| matches!(e, Event::Persist(_)))
    else {
        panic!("keys persisted")
    };
    assert_eq!(record.newest.as_ref().map(|g| g.generation), Some(1));
    assert_eq!(
        key_slots(&mn),
        view(
            Number(1),
            &[Number(1), Init],
            UpdateTimer::At(now + secs(3600.0))
        )
    );
}

#[test]
fn an_initialization_answer_without_the_right_echo_is_ignored() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    mn.set_care_of_address(T0, Some(COA));
    let bu = ha.open_bu(&one_bu(&mut mn));
    let Some(KeyOption::KeyInitialization { timestamp }) = bu.key else {
        panic!("init request")
    };
    let kd = ha.initialize(1);
    let wrong = KeyOption::KeyInitialization {
        timestamp: timestamp + 1,
    };
    for keys in [
        vec![KeyOption::KeyDistribution(kd.clone()), wrong],
        vec![KeyOption::KeyDistribution(kd.clone())],
    ] {
        let mut ba = ha.ba(&bu, &keys);
        assert_eq!(
            mn.handle(T0, &mut ba),
            Received::Dropped(DropReason::InitEchoMismatch)
        );
        assert_eq!(key_slots(&mn), view(Init, &[Init], UpdateTimer::Off));
        assert!(matches!(
            mn.registration().state,
            Registration::AwaitingAck(_)
        ));
    }
    assert_eq!(mn.counters().dropped(DropReason::InitEchoMismatch), 2);
    let mut ba = ha.ba(
        &bu,
        &[
            KeyOption::KeyDistribution(kd),
            KeyOption::KeyInitialization { timestamp },
        ],
    );
    let r = mn.handle(T0, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(mn.keys().transmit, Number(1));
}

#[test]
fn implicit_initialization_is_a_plain_bu_under_init() {
    let mut mn = node(RequestMode::Implicit);
    let mut ha = home_agent();
    mn.set_care_of_address(T0, Some(COA));
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(
        bu.slot,
        Slot::Init,
        "patent (7): the init SPI means initialize"
    );
    assert_eq!(bu.key, None);
    let kd = ha.initialize(1);
    let mut ba = ha.ba(&bu, &[KeyOption::KeyDistribution(kd)]);
    let r = mn.handle(T0, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        key_slots(&mn),
        view(Number(1), &[Number(1), Init], UpdateTimer::Off),
        "implicit mode has no node-side update timer"
    );
}

#[test]
fn the_update_timer_sends_a_key_update_request_at_once() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    let due = T0 + secs(3600.0);
    assert_eq!(mn.keys().update, UpdateTimer::At(due));
    assert_eq!(
        mn.poll_timeout(),
        Some(T0 + secs(450.0)),
        "refresh comes first"
    );
    // Answer refreshes until the update timer is the next deadline.
    while mn.poll_timeout() != Some(due) {
        let now = mn.poll_timeout().unwrap();
        mn.handle_timeout(now);
        let bu = ha.open_bu(&one_bu(&mut mn));
        assert_eq!(bu.key, None, "a refresh is a plain BU");
        assert_eq!(bu.slot, Slot::Newest);
        let mut ba = ha.ba(&bu, &[]);
        let r = mn.handle(now, &mut ba);
        assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    }
    mn.handle_timeout(due);
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.key, Some(KeyOption::KeyUpdateRequest), "patent (3)");
    assert_eq!(bu.slot, Slot::Newest, "sealed with the node's newest key");
    assert_eq!(mn.keys().update, UpdateTimer::Requested);
    // The HA seals the BA with its transmit key (init after an initialization), then
    // installs generation 2.
    let before = ha.table.transmit_slot();
    assert_eq!(before, Slot::Init);
    let mut ba = ha.ba(
        &bu,
        &[KeyOption::KeyDistribution(super::harness::distribution(2))],
    );
    ha.update(2);
    let r = mn.handle(due, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        key_slots(&mn),
        view(
            Number(2),
            &[Number(2), Number(1), Init],
            UpdateTimer::At(due + secs(3600.0))
        )
    );
    let (events, _) = take_all(&mut mn);
    assert!(events.contains(&Event::KeysInstalled {
        generation: 2,
        kind: DistributionKind::Update
    }));
}

/// Registered with generation 1 (explicit or implicit), then a refresh BU is lost.
fn lost_refresh(mode: RequestMode) -> (crate::MobileNode, ScriptedHa, mip6_wire::Time) {
    let mut mn = node(mode);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    let now = mn.poll_timeout().unwrap();
    mn.handle_timeout(now);
    let _lost = one_bu(&mut mn);
    (mn, ha, now)
}

#[test]
fn explicit_resend_carries_a_key_resending_request_and_gets_the_lost_generation() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    let now = mn.poll_timeout().unwrap();
    mn.handle_timeout(now);
    // The HA takes the refresh, updates to generation 2 on its own timer, and the BA
    // carrying it is lost (patent (4)).
    let bu = ha.open_bu(&one_bu(&mut mn));
    let _lost = ha.ba(
        &bu,
        &[KeyOption::KeyDistribution(super::harness::distribution(2))],
    );
    ha.update(2);
    let retry = now + secs(1.5);
    assert_eq!(mn.poll_timeout(), Some(retry));
    mn.handle_timeout(retry);
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.key, Some(KeyOption::KeyResendingRequest));
    assert_eq!(bu.generation, Number(1), "still under the node's newest");
    assert_eq!(
        bu.slot,
        Slot::Anterior,
        "which is the HA's anterior: resend"
    );
    assert_eq!(
        key_slots(&mn),
        view(
            Number(1),
            &[Number(1), Init],
            UpdateTimer::At(T0 + secs(3600.0))
        )
    );
    let mut ba = ha.ba(
        &bu,
        &[KeyOption::KeyDistribution(super::harness::distribution(2))],
    );
    let r = mn.handle(retry, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(mn.keys().transmit, Number(2));
    assert_eq!(mn.keys().accepted, [Number(2), Number(1), Init]);
    assert_eq!(mn.counters().bu_retransmitted, 1);
    // The generation that answered the Key Resending Request is reported as a resend
    // (patent (4)), not as an update the node asked for.
    let (events, _) = take_all(&mut mn);
    assert!(
        events.contains(&Event::KeysInstalled {
            generation: 2,
            kind: DistributionKind::Resend
        }),
        "{events:?}"
    );
}

#[test]
fn results_and_the_key_view_name_spis_and_install_times() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    let start = mn.keys().generations;
    assert_eq!(start.len(), 1);
    assert_eq!((start[0].slot, start[0].spis), (Slot::Init, init_spis()));
    assert_eq!(start[0].installed_at, T0, "the init key: since the start");

    let t1 = T0 + secs(3.0);
    mn.set_care_of_address(t1, Some(COA));
    let (_, transmits) = take_all(&mut mn);
    let bu = &transmits[0];
    assert_eq!(
        bu.spi,
        Some(init_spis().mn_to_ha.get()),
        "the BU sealed under init"
    );
    let seen = ha.open_bu(&bu.frame);
    let g1 = ha.initialize(1);
    let echo = seen.key.clone().expect("a Key Initialization Request");
    let mut ba = ha.ba(&seen, &[KeyOption::KeyDistribution(g1.clone()), echo]);
    assert_eq!(
        mn.handle(t1, &mut ba),
        Received::Consumed {
            spi: Some(init_spis().ha_to_mn.get())
        },
        "the BA opened under the init HA→MN SPI"
    );
    let v = mn.keys();
    assert_eq!(v.generations[0].slot, Slot::Newest);
    assert_eq!(v.generations[0].id, Number(1));
    assert_eq!(v.generations[0].spis.mn_to_ha.get(), g1.spi_mn_to_ha);
    assert_eq!(v.generations[0].spis.ha_to_mn.get(), g1.spi_ha_to_mn);
    assert_eq!(v.generations[0].installed_at, t1);
    assert_eq!(v.generations[1].slot, Slot::Init);

    // Data leaves under generation 1 and says so.
    let inner = udp_packet(HOA, CN, b"up");
    let mut buf = data_buffer(&inner);
    let sealed = mn.seal_data(t1, &mut buf, inner.len()).unwrap();
    assert_eq!(sealed.spi, g1.spi_mn_to_ha);
    let down = ha.seal_data(COA, &udp_packet(CN, HOA, b"down"));
    let mut down = down;
    match mn.handle(t1, &mut down) {
        Received::Delivered { spi, .. } => assert_eq!(spi, init_spis().ha_to_mn.get()),
        other => panic!("not delivered: {other:?}"),
    }
}

#[test]
fn implicit_resend_is_the_plain_bu_under_newest() {
    let (mut mn, mut ha, now) = lost_refresh(RequestMode::Implicit);
    mn.handle_timeout(now + secs(1.5));
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.key, None);
    assert_eq!(bu.slot, Slot::Newest);
    assert_eq!(bu.generation, Number(1));
    assert_eq!(
        key_slots(&mn),
        view(Number(1), &[Number(1), Init], UpdateTimer::Off)
    );
}

#[test]
fn after_max_key_resends_the_node_drops_its_keys_and_initializes() {
    for mode in [RequestMode::Explicit, RequestMode::Implicit] {
        let (mut mn, mut ha, mut now) = lost_refresh(mode);
        // Two resends under generation 1 go unanswered (an HA that lost its keys).
        for (i, wait) in [1.5, 3.0].into_iter().enumerate() {
            now = now + secs(wait);
            assert_eq!(mn.poll_timeout(), Some(now));
            mn.handle_timeout(now);
            let frame = one_bu(&mut mn);
            let bu = ha.open_bu(&frame);
            assert_eq!(bu.generation, Number(1), "resend {i} under newest");
            assert_eq!(mn.keys().newest, Some(1));
        }
        now = now + secs(6.0);
        mn.handle_timeout(now);
        let (events, transmits) = take_all(&mut mn);
        assert!(events.contains(&Event::KeysDropped), "{mode:?}: {events:?}");
        assert_eq!(transmits.len(), 1);
        // An HA that lost its dynamic keys (patent (11); its init SA state persisted)
        // opens it.
        let _ = ha.table.drop_dynamic();
        let bu = ha.open_bu(&transmits[0].frame);
        assert_eq!(
            bu.slot,
            Slot::Init,
            "patent (5)/(11): initialization under init"
        );
        let expected_key = match mode {
            RequestMode::Explicit => Some(KeyOption::KeyInitialization {
                timestamp: now.to_ntp(),
            }),
            RequestMode::Implicit => None,
        };
        assert_eq!(bu.key, expected_key, "{mode:?}: fresh timestamp");
        assert_eq!(key_slots(&mn), view(Init, &[Init], UpdateTimer::Off));
        assert_eq!(mn.counters().keys_dropped, 1);
        // The restarted HA initializes; the node takes generation 1 again.
        let kd = ha.initialize(1);
        let mut keys = vec![KeyOption::KeyDistribution(kd)];
        keys.extend(bu.key.clone());
        let mut ba = ha.ba(&bu, &keys);
        let r = mn.handle(now, &mut ba);
        assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
        assert_eq!(mn.keys().transmit, Number(1));
        assert!(matches!(
            mn.registration().state,
            Registration::Registered(_)
        ));
    }
}

#[test]
fn a_duplicate_or_older_key_distribution_never_moves_keys() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    // Refresh answered with generation 1 again (a duplicated distribution).
    let mut now = mn.poll_timeout().unwrap();
    mn.handle_timeout(now);
    let bu = ha.open_bu(&one_bu(&mut mn));
    let mut ba = ha.ba(
        &bu,
        &[KeyOption::KeyDistribution(super::harness::distribution(1))],
    );
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        key_slots(&mn),
        view(
            Number(1),
            &[Number(1), Init],
            UpdateTimer::At(T0 + secs(3600.0))
        )
    );
    assert_eq!(mn.counters().keys_ignored, 1);
    assert!(matches!(
        mn.registration().state,
        Registration::Registered(_)
    ));
    // Update to 2, then a late BA with generation 1 again.
    now = mn.poll_timeout().unwrap();
    mn.handle_timeout(now);
    let bu = ha.open_bu(&one_bu(&mut mn));
    let mut ba = ha.ba(
        &bu,
        &[KeyOption::KeyDistribution(super::harness::distribution(2))],
    );
    ha.update(2);
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    now = mn.poll_timeout().unwrap();
    mn.handle_timeout(now);
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.generation, Number(2));
    let mut ba = ha.ba(
        &bu,
        &[KeyOption::KeyDistribution(super::harness::distribution(1))],
    );
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(mn.keys().newest, Some(2));
    assert_eq!(mn.keys().anterior, Some(1));
    assert_eq!(mn.counters().keys_ignored, 2);
}

#[test]
fn a_restart_starts_from_init_and_resumes_sequence_numbers_above_the_mark() {
    let mut cfg = config(RequestMode::Explicit);
    cfg.sequence_block = 4;
    let mut mn = node_with(cfg.clone(), None);
    let mut ha = home_agent();
    let bu = register(&mut mn, &mut ha, T0);
    let mut records: Vec<_> = take_all(&mut mn)
        .0
        .into_iter()
        .filter_map(|e| match e {
            Event::Persist(r) => Some(r),
            _ => None,
        })
        .collect();
    // A few more init-key frames: refresh BUs are under newest now, so force
    // re-initializations by dropping keys (3 lost refreshes) to use init seqs.
    let mut now = T0;
    for _ in 0..4 {
        now = mn.poll_timeout().unwrap();
        mn.handle_timeout(now);
        let (events, _) = take_all(&mut mn);
        records.extend(events.into_iter().filter_map(|e| match e {
            Event::Persist(r) => Some(r),
            _ => None,
        }));
    }
    assert_eq!(mn.keys().transmit, Init, "fell back to init");
    let last = records.last().cloned().expect("records persisted");
    assert!(last.init_outbound_mark > 2, "{last:?}");
    let init_used = 2; // the first BU and the fallback initialization
    assert!(last.init_outbound_mark > init_used);

    // Restart with the last record.
    let mut mn = node_with(cfg.clone(), Some(last.clone()));
    assert_eq!(key_slots(&mn), view(Init, &[Init], UpdateTimer::Off));
    mn.set_care_of_address(now, Some(COA));
    let (events, transmits) = take_all(&mut mn);
    assert!(
        matches!(&events[..], [Event::Persist(r)] if r.init_outbound_mark == last.init_outbound_mark + 4),
        "the next block is reserved before sealing: {events:?}"
    );
    let seen = ha.open_bu(&transmits[0].frame);
    assert_eq!(seen.slot, Slot::Init);
    assert_eq!(
        u64::from(seen.esp_seq),
        last.init_outbound_mark,
        "resumes at the persisted mark, above every number used before"
    );
    assert_eq!(seen.update.sequence, last.bu_sequence_mark);
    assert!(seen.update.sequence.is_newer_than(bu.update.sequence));
    assert!(matches!(
        seen.key,
        Some(KeyOption::KeyInitialization { .. })
    ));

    // With ResumeKeys the node keeps transmitting with its newest key.
    let mut mn2 = node(RequestMode::Explicit);
    let mut ha2 = home_agent();
    register(&mut mn2, &mut ha2, T0);
    let record = mn2.record();
    assert_eq!(record.newest.as_ref().map(|g| g.generation), Some(1));
    let mut cfg2 = config(RequestMode::Explicit);
    cfg2.restore = RestorePolicy::ResumeKeys;
    let mut mn2 = node_with(cfg2, Some(record.clone()));
    assert_eq!(
        key_slots(&mn2),
        view(
            Number(1),
            &[Number(1), Init],
            UpdateTimer::At(T0 + secs(3600.0))
        )
    );
    mn2.set_care_of_address(T0, Some(COA));
    let seen = ha2.open_bu(&one_bu(&mut mn2));
    assert_eq!(seen.slot, Slot::Newest);
    assert_eq!(
        u64::from(seen.esp_seq),
        record.newest.unwrap().outbound_mark
    );
}

#[test]
fn an_update_request_answered_without_a_key_is_asked_again_later() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    // Refresh until the key timer is next, then let it fire.
    let due = T0 + secs(3600.0);
    while mn.poll_timeout() != Some(due) {
        let now = mn.poll_timeout().unwrap();
        mn.handle_timeout(now);
        let bu = ha.open_bu(&one_bu(&mut mn));
        let mut ba = ha.ba(&bu, &[]);
        mn.handle(now, &mut ba);
    }
    mn.handle_timeout(due);
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.key, Some(KeyOption::KeyUpdateRequest));
    let mut ba = ha.ba(&bu, &[]);
    let r = mn.handle(due, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        key_slots(&mn),
        view(
            Number(1),
            &[Number(1), Init],
            UpdateTimer::At(due + secs(32.0))
        ),
        "not granted: asked again after MAX_BINDACK_TIMEOUT, not in a loop"
    );
    assert!(take_all(&mut mn).1.is_empty());
    mn.handle_timeout(due + secs(32.0));
    let bu = ha.open_bu(&one_bu(&mut mn));
    assert_eq!(bu.key, Some(KeyOption::KeyUpdateRequest));
}

/// Issue 12, item 9: with `rekey_after_initialization` (the default) the node asks
/// for generation 2 as soon as generation 1 is installed, so the home agent stops
/// transmitting with the init key one exchange later; once generation 2 is in,
/// no further BU follows until the refresh.
#[test]
fn after_an_initialization_the_node_asks_for_the_next_generation_at_once() {
    for mode in [RequestMode::Explicit, RequestMode::Implicit] {
        let mut c = config(mode);
        c.rekey_after_initialization = true;
        assert!(
            MnConfig::new(HA, HOA, init_key().secret, init_key().spis).rekey_after_initialization,
            "on by default"
        );
        let mut mn = node_with(c, None);
        let mut ha = home_agent();
        mn.set_care_of_address(T0, Some(COA));
        let bu = ha.open_bu(&one_bu(&mut mn));
        assert_eq!(bu.slot, Slot::Init, "{mode:?}");
        let kd = ha.initialize(1);
        let mut keys = vec![KeyOption::KeyDistribution(kd)];
        keys.extend(bu.key.clone());
        let mut ba = ha.ba(&bu, &keys);
        assert!(matches!(mn.handle(T0, &mut ba), Received::Consumed { .. }));
        // The next BU leaves with the BA's handling, under generation 1.
        let next = ha.open_bu(&one_bu(&mut mn));
        assert_eq!(next.slot, Slot::Newest, "{mode:?}: under generation 1");
        assert_eq!(next.update.sequence, bu.update.sequence.next());
        let expected = match mode {
            RequestMode::Explicit => Some(KeyOption::KeyUpdateRequest),
            RequestMode::Implicit => None,
        };
        assert_eq!(next.key, expected, "{mode:?}");
        assert_eq!(mn.keys().update, UpdateTimer::Requested, "{mode:?}");

        // Generation 2 arrives: installed, and no BU follows.
        let kd = ha.update(2);
        let mut ba = ha.ba(&next, &[KeyOption::KeyDistribution(kd)]);
        assert!(matches!(
            mn.handle(T0 + secs(0.1), &mut ba),
            Received::Consumed { .. }
        ));
        assert_eq!(mn.keys().newest, Some(2), "{mode:?}");
        let (_, t) = take_all(&mut mn);
        assert!(t.is_empty(), "{mode:?}: no BU after the update: {t:?}");
        let after = match mode {
            RequestMode::Explicit => UpdateTimer::At(T0 + secs(0.1) + secs(3600.0)),
            RequestMode::Implicit => UpdateTimer::Off,
        };
        assert_eq!(mn.keys().update, after, "{mode:?}");
    }
}

/// The same, when the home agent answers the follow-up BU without a new key: the
/// implicit node does not ask again in a loop (it has no timer of its own).
#[test]
fn a_follow_up_bu_answered_without_a_key_is_not_repeated_in_implicit_mode() {
    let mut c = config(RequestMode::Implicit);
    c.rekey_after_initialization = true;
    let mut mn = node_with(c, None);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    let next = ha.open_bu(&one_bu(&mut mn));
    let mut ba = ha.ba(&next, &[]);
    assert!(matches!(
        mn.handle(T0 + secs(0.1), &mut ba),
        Received::Consumed { .. }
    ));
    assert_eq!(mn.keys().update, UpdateTimer::Off);
    assert_eq!(mn.keys().newest, Some(1));
    mn.handle_timeout(T0 + secs(60.0));
    let (_, t) = take_all(&mut mn);
    assert!(t.is_empty(), "no BU before the refresh: {t:?}");
}

/// Issue 13: each key slot counts the frames the node opened (HA→MN) and sealed
/// (MN→HA) under it; the counts move with the key from newest to anterior, and go
/// with it when it is rotated out or the node drops its dynamic keys.
#[test]
fn packet_counts_follow_their_key_and_leave_with_it() {
    let counts = |mn: &crate::MobileNode| -> Vec<(GenerationId, u32, u32)> {
        mn.keys()
            .generations
            .iter()
            .map(|g| (g.id, g.packets.opened, g.packets.sealed))
            .collect()
    };
    let up = |mn: &mut crate::MobileNode, n: usize| {
        for _ in 0..n {
            let inner = udp_packet(HOA, CN, b"up");
            let mut buf = data_buffer(&inner);
            mn.seal_data(T0, &mut buf, inner.len()).unwrap();
        }
    };
    // A refresh whose BA (sealed under the scripted HA's transmit key) carries
    // generation `g`.
    let update = |mn: &mut crate::MobileNode, ha: &mut ScriptedHa, g: u32| {
        let now = mn.poll_timeout().unwrap();
        mn.handle_timeout(now);
        let bu = ha.open_bu(&one_bu(mn));
        let mut ba = ha.ba(
            &bu,
            &[KeyOption::KeyDistribution(super::harness::distribution(g))],
        );
        ha.update(g);
        let r = mn.handle(now, &mut ba);
        assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
        take_all(mn);
    };
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    assert_eq!(counts(&mn), [(Init, 0, 0)]);

    // The initialization BU sealed under init, its BA opened under init.
    register(&mut mn, &mut ha, T0);
    take_all(&mut mn);
    assert_eq!(counts(&mn), [(Number(1), 0, 0), (Init, 1, 1)]);
    // Data leaves under newest; the HA tunnels under its transmit key, still init.
    up(&mut mn, 2);
    let mut down = ha.seal_data(COA, &udp_packet(CN, HOA, b"down"));
    let mut replay = down.clone();
    assert!(matches!(
        mn.handle(T0, &mut down),
        Received::Delivered { .. }
    ));
    assert_eq!(
        mn.handle(T0, &mut replay),
        Received::Dropped(DropReason::Replayed),
        "a replay is not opened, so not counted"
    );
    assert_eq!(counts(&mn), [(Number(1), 0, 2), (Init, 2, 1)]);

    // Generation 2 arrives in the BA of a refresh sealed under 1: 1 moves to the
    // anterior with its counts.
    update(&mut mn, &mut ha, 2);
    assert_eq!(
        counts(&mn),
        [(Number(2), 0, 0), (Number(1), 0, 3), (Init, 3, 1)]
    );
    up(&mut mn, 1);
    assert_eq!(
        counts(&mn),
        [(Number(2), 0, 1), (Number(1), 0, 3), (Init, 3, 1)]
    );

    // Generation 3, in a BA the HA seals under its anterior (1): 1 opens it, then is
    // rotated out with its counts.
    update(&mut mn, &mut ha, 3);
    assert_eq!(
        counts(&mn),
        [(Number(3), 0, 0), (Number(2), 0, 2), (Init, 3, 1)]
    );

    // A refresh and its two resends go unanswered: the node drops its dynamic keys,
    // and their counts with them, and initializes under init, whose counts go on.
    let mut now = mn.poll_timeout().unwrap();
    mn.handle_timeout(now);
    take_all(&mut mn);
    for wait in [1.5, 3.0, 6.0] {
        now = now + secs(wait);
        mn.handle_timeout(now);
        take_all(&mut mn);
    }
    assert_eq!(mn.counters().keys_dropped, 1);
    assert_eq!(counts(&mn), [(Init, 3, 2)]);
}
