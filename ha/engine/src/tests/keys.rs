//! The patent's sequences (1)–(11), HA side, both request modes; KeyView after each step.

use mip6_wire::frames;
use mip6_wire::keys::{GenerationId, RequestMode, Slot};
use mip6_wire::mh::{BaStatus, KeyOption};

use super::harness::*;
use crate::{DistributionKind, DropReason, Event, HaConfig, KeyView, Received, Refusal};

fn view(ha: &Ha) -> KeyView {
    ha.keys(&HOA).unwrap()
}

fn assert_keys(ha: &Ha, transmit: GenerationId, accepted: &[GenerationId], confirmed: bool) {
    let v = view(ha);
    assert_eq!(v.transmit, transmit, "{v:?}");
    assert_eq!(v.accepted, accepted, "{v:?}");
    assert_eq!(v.newest_confirmed, confirmed, "{v:?}");
}

fn key_events(events: &[Event]) -> Vec<(DistributionKind, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Keys(k) => Some((k.kind, k.generation)),
            _ => None,
        })
        .collect()
}

#[test]
fn explicit_initialization_echoes_the_nonce_and_distributes_generation_1() {
    // Patent (1): BU with a Key Initialization Request under the init key.
    let mut ha = ha(RequestMode::Explicit);
    assert_keys(&ha, GenerationId::Init, &[GenerationId::Init], false);
    let mut mn = mn();
    let mut frame = mn.bu(&[key_initialization(T0)]);
    let r = ha.handle(T0, &mut frame);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let events = take_events(&mut ha);
    let ba_frame = one_ba(&mut ha);
    assert_eq!(
        esp_header(&ba_frame).unwrap().0,
        0x2001,
        "BA sealed with the init HA→MN SPI"
    );
    let ba = mn.open_ba(ba_frame);
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.slot, Slot::Init);
    assert_eq!(ba.echo, Some(T0.to_ntp()), "nonce echoed");
    assert_eq!(ba.sequence, 1);
    assert_eq!(ba.lifetime_units, 150);
    assert_eq!(
        ba.refresh_units,
        Some(120),
        "refresh advice at 80 % of 600 s"
    );
    let d = ba.distribution.as_ref().unwrap();
    assert_eq!(d.generation, 1);
    assert!(d.spi_mn_to_ha > 255 && d.spi_ha_to_mn > 255);
    assert_keys(&ha, GenerationId::Init, &[g(1), GenerationId::Init], false);
    let v = view(&ha);
    assert_eq!((v.newest, v.anterior), (Some(1), None));
    assert_eq!(key_events(&events), [(DistributionKind::Initialization, 1)]);
    let persisted = last_records(&events);
    assert_eq!(persisted.len(), 1);
    assert_eq!(persisted[0].newest.as_ref().unwrap().generation, 1);
    assert_eq!(persisted[0].last_init_timestamp, Some(T0.to_ntp()));
    assert_eq!(ha.binding(&HOA).unwrap().care_of_address, COA);

    // The MN now transmits with gen 1; a BU under it confirms gen 1, plain BA under init.
    mn.install(&ba);
    let mut frame = mn.bu(&[]);
    let r = ha.handle(T0 + secs(1), &mut frame);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.slot, Slot::Init);
    assert!(ba.distribution.is_none());
    assert_keys(&ha, GenerationId::Init, &[g(1), GenerationId::Init], true);
}

#[test]
fn implicit_initialization_by_the_init_spi() {
    // Patent (7), (8): a plain BU sealed with the init SPI.
    let mut ha = ha(RequestMode::Implicit);
    let mut mn = mn();
    let ba = initialize(&mut ha, &mut mn, T0, RequestMode::Implicit);
    assert_eq!(ba.echo, None);
    assert_eq!(ba.distribution.as_ref().unwrap().generation, 1);
    assert_keys(&ha, GenerationId::Init, &[g(1), GenerationId::Init], false);
}

#[test]
fn explicit_init_without_request_or_with_stale_or_skewed_timestamp_is_145() {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    // No request under init.
    let mut frame = mn.bu(&[]);
    ha.handle(T0, &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(u8::from(ba.status), 145);
    assert_eq!(ba.slot, Slot::Init);
    assert_eq!(ha.binding(&HOA), None, "no binding moves");
    // Skewed: one hour ahead.
    let mut frame = mn.bu(&[key_initialization(T0 + secs(3600))]);
    ha.handle(T0, &mut frame);
    assert_eq!(u8::from(mn.open_ba(one_ba(&mut ha)).status), 145);
    // Accepted once at T0 + 1 …
    initialize(&mut ha, &mut mn, T0 + secs(1), RequestMode::Explicit);
    // The refused BU still opens under init and its BA is sealed under init: only
    // those counts move.
    let keys_only = |ha: &Ha| {
        let mut v = view(ha);
        for g in &mut v.generations {
            g.packets = Default::default();
        }
        v
    };
    let before = keys_only(&ha);
    // … then the same timestamp again (a replayed or stale init) is refused.
    mn.keys.drop_dynamic();
    let mut frame = mn.bu_under(Slot::Init, &[key_initialization(T0 + secs(1))]);
    ha.handle(T0 + secs(2), &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.status, Refusal::InitTimestamp.status());
    assert_eq!(ba.echo, Some((T0 + secs(1)).to_ntp()));
    assert!(ba.distribution.is_none());
    assert_eq!(keys_only(&ha), before, "no key moves");
    assert_eq!(ha.counters().refused(Refusal::InitTimestamp), 3);
}

#[test]
fn update_on_request_ba_sealed_with_n_the_key_the_bu_came_under() {
    // Patent (3), with S221 as the project settled it: install N+1, then seal the BA
    // with the transmit key, now N (docs/architecture.md "Key distribution").
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    initialize(&mut ha, &mut mn, T0, RequestMode::Explicit);
    take_events(&mut ha);
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(10), &mut frame);
    let events = take_events(&mut ha);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(
        ba.slot,
        Slot::Newest,
        "sealed with generation 1, the MN's newest, not with init"
    );
    assert_eq!(ba.distribution.as_ref().unwrap().generation, 2);
    assert_eq!(key_events(&events), [(DistributionKind::Update, 2)]);
    let rec = last_records(&events).pop().unwrap();
    assert_eq!(
        rec.newest.as_ref().unwrap().generation,
        2,
        "persisted before the BA leaves"
    );
    assert_keys(&ha, g(1), &[g(2), g(1), GenerationId::Init], false);
    mn.install(&ba);

    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(20), &mut frame);
    let ba_frame = one_ba(&mut ha);
    let gen2_ha_to_mn = mn.keys.get(Slot::Newest).unwrap().spis().ha_to_mn.get();
    assert_eq!(
        esp_header(&ba_frame).unwrap().0,
        gen2_ha_to_mn,
        "sealed with N = 2, the key the BU came under"
    );
    let ba = mn.open_ba(ba_frame);
    assert_eq!(ba.slot, Slot::Newest);
    assert_eq!(ba.distribution.as_ref().unwrap().generation, 3);
    assert_keys(&ha, g(2), &[g(3), g(2), GenerationId::Init], false);
    let v = view(&ha);
    assert_eq!((v.newest, v.anterior), (Some(3), Some(2)));
    assert_eq!(ha.counters().key_updates, 2);
}

/// Brings HA and MN to: HA newest 2 (unconfirmed, distribution lost), MN newest 1.
fn lost_distribution(mode: RequestMode) -> (Ha, ScriptedMn) {
    let mut ha = ha(mode);
    let mut mn = mn();
    initialize(&mut ha, &mut mn, T0, mode);
    ha.handle_timeout(T0 + secs(3600));
    assert!(view(&ha).update_due);
    let mut frame = mn.bu(&[]);
    ha.handle(T0 + secs(3600), &mut frame);
    let lost = mn.open_ba(one_ba(&mut ha));
    assert_eq!(lost.distribution.as_ref().unwrap().generation, 2);
    assert_keys(&ha, g(1), &[g(2), g(1), GenerationId::Init], false);
    take_events(&mut ha);
    (ha, mn)
}

#[test]
fn resend_not_generate_when_the_distribution_was_lost() {
    // Patent (4): Key Resending Request under N (the HA's anterior).
    let (mut ha, mut mn) = lost_distribution(RequestMode::Explicit);
    let secret_before = ha.record(&HOA).unwrap().newest.unwrap().secret;
    let mut frame = mn.bu(&[KeyOption::KeyResendingRequest]);
    ha.handle(T0 + secs(3601), &mut frame);
    let events = take_events(&mut ha);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(
        ba.slot,
        Slot::Newest,
        "MN's newest = HA's anterior, the transmit key"
    );
    let d = ba.distribution.clone().unwrap();
    assert_eq!(d.generation, 2);
    assert_eq!(
        d.secret, secret_before,
        "the same generation, not a new one"
    );
    assert_eq!(key_events(&events), [(DistributionKind::Resend, 2)]);
    assert_keys(&ha, g(1), &[g(2), g(1), GenerationId::Init], false);
    // An update request under the anterior key also only resends.
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(3602), &mut frame);
    let again = mn.open_ba(one_ba(&mut ha));
    assert_eq!(again.distribution.unwrap().generation, 2);
    assert_eq!(ha.counters().key_resends, 2);
    assert_eq!(ha.counters().key_updates, 1);
    // The MN installs 2; its BU under 2 confirms it, and a plain BA follows.
    mn.install(&ba);
    let mut frame = mn.bu(&[]);
    ha.handle(T0 + secs(3603), &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert!(ba.distribution.is_none());
    assert_keys(&ha, g(1), &[g(2), g(1), GenerationId::Init], true);
}

#[test]
fn implicit_resend_on_a_plain_bu_under_the_anterior_key() {
    // Patent (10).
    let (mut ha, mut mn) = lost_distribution(RequestMode::Implicit);
    let mut frame = mn.bu(&[]);
    ha.handle(T0 + secs(3601), &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.distribution.as_ref().unwrap().generation, 2);
    assert_eq!(ha.counters().key_resends, 1);
    mn.install(&ba);
    assert_eq!(mn.keys.transmit().id(), g(2));
    let accepted = view(&ha).accepted;
    assert!(accepted.contains(&mn.keys.transmit().id()), "invariant 1");
}

#[test]
fn ha_timer_only_sets_a_flag_acted_on_at_the_next_bu_under_newest() {
    // Patent (6) explicit, (9) implicit.
    for mode in [RequestMode::Explicit, RequestMode::Implicit] {
        let mut ha = ha(mode);
        let mut mn = mn();
        initialize(&mut ha, &mut mn, T0, mode);
        // Confirm gen 1 first (a BU under it, before the timer).
        let mut frame = mn.bu(&[]);
        ha.handle(T0 + secs(1), &mut frame);
        assert!(mn.open_ba(one_ba(&mut ha)).distribution.is_none());
        // The binding expiry (600 s) comes before the key timer (3600 s): keep it alive.
        assert_eq!(ha.poll_timeout(), Some(T0 + secs(601)));
        let mut t = T0 + secs(1);
        while t < T0 + secs(3600) {
            t = t + secs(500);
            let mut frame = mn.bu(&[]);
            ha.handle(t, &mut frame);
            assert!(mn.open_ba(one_ba(&mut ha)).distribution.is_none());
        }
        ha.handle_timeout(T0 + secs(3600));
        assert!(view(&ha).update_due, "{mode:?}");
        assert!(
            ha.poll_transmit().is_none(),
            "the timer sends nothing itself"
        );
        assert_eq!(view(&ha).newest, Some(1));
        let mut frame = mn.bu(&[]);
        ha.handle(T0 + secs(3601), &mut frame);
        let ba = mn.open_ba(one_ba(&mut ha));
        assert_eq!(ba.distribution.unwrap().generation, 2, "{mode:?}");
        let v = view(&ha);
        assert!(!v.update_due, "flag cleared when the new key is sent");
        assert_eq!((v.newest, v.anterior), (Some(2), Some(1)));
    }
}

#[test]
fn no_new_generation_while_newest_is_unconfirmed() {
    let (mut ha, mut mn) = lost_distribution(RequestMode::Explicit);
    // Timer fires again; the MN still sends under gen 1 (HA's anterior): resend, no gen 3.
    ha.handle_timeout(T0 + secs(7200));
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(7200), &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.distribution.unwrap().generation, 2);
    assert_eq!(view(&ha).newest, Some(2));
    assert_eq!(ha.counters().key_updates, 1);
}

#[test]
fn reinitialization_drops_both_generations_and_their_spis() {
    // Patent (5), (11): the MN gives up on its dynamic keys.
    for mode in [RequestMode::Explicit, RequestMode::Implicit] {
        let mut ha = ha(mode);
        let mut mn = mn();
        initialize(&mut ha, &mut mn, T0, mode);
        let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
        ha.handle(T0 + secs(1), &mut frame);
        let ba = mn.open_ba(one_ba(&mut ha));
        mn.install(&ba);
        assert_keys(&ha, g(1), &[g(2), g(1), GenerationId::Init], false);
        let old_frame = mn.bu(&[]);
        let ba = initialize(&mut ha, &mut mn, T0 + secs(2), mode);
        assert_eq!(ba.distribution.unwrap().generation, 1);
        assert_keys(&ha, GenerationId::Init, &[g(1), GenerationId::Init], false);
        // A frame under the dropped generation 2 no longer finds an SA.
        let mut old = old_frame;
        assert_eq!(
            ha.handle(T0 + secs(3), &mut old),
            Received::Dropped(DropReason::UnknownSpi)
        );
        assert_eq!(ha.counters().key_initializations, 2);
    }
}

#[test]
fn initialization_request_under_newest_initializes() {
    // Patent (2): Key Initialization Request sealed with the Nth key; BA under init.
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    initialize(&mut ha, &mut mn, T0, RequestMode::Explicit);
    let mut frame = mn.bu(&[key_initialization(T0 + secs(5))]);
    ha.handle(T0 + secs(5), &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.slot, Slot::Init);
    assert_eq!(ba.echo, Some((T0 + secs(5)).to_ntp()));
    assert_eq!(ba.distribution.unwrap().generation, 1);
    assert_keys(&ha, GenerationId::Init, &[g(1), GenerationId::Init], false);
}

#[test]
fn sequence_margin_makes_an_update_due() {
    let mut cfg = config(RequestMode::Implicit);
    cfg.rekey_sequence_margin = u64::from(u32::MAX); // every SA is "near exhaustion"
    let mut ha = ha_with(cfg, 3, Vec::new());
    let mut mn = mn();
    initialize(&mut ha, &mut mn, T0, RequestMode::Implicit);
    let mut frame = mn.bu(&[]);
    ha.handle(T0 + secs(1), &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    assert_eq!(ba.distribution.unwrap().generation, 2);
}

#[test]
fn results_name_the_spi_that_opened_or_sealed_each_frame() {
    // The driver counts packets per SA from these alone (no second header walk).
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    let mut frame = mn.bu(&[key_initialization(T0)]);
    assert_eq!(
        ha.handle(T0, &mut frame),
        Received::Consumed { spi: Some(0x1001) },
        "the BU opened under the init MN→HA SPI"
    );
    take_events(&mut ha);
    let ba = ha.poll_transmit().expect("a BA");
    assert_eq!(
        ba.spi,
        Some(0x2001),
        "the BA sealed under the init HA→MN SPI"
    );
    assert_eq!(
        ba.spi,
        Some(esp_header(&ba.frame).unwrap().0),
        "and that is the SPI it carries"
    );
    let ba = mn.open_ba(ba.frame);
    mn.install(&ba);
    let d = ba.distribution.expect("generation 1");

    // A tunnelled packet under generation 1 names generation 1's MN→HA SPI.
    let mut up = mn.data(HOA, COA, b"up");
    match ha.handle(T0 + secs(1), &mut up) {
        Received::Delivered { spi, .. } => assert_eq!(spi, d.spi_mn_to_ha),
        other => panic!("not delivered: {other:?}"),
    }
    // Downstream data is sealed under the transmit key: init until an update.
    let inner = udp_packet(CN, HOA, b"down");
    let mut buf = data_buffer(&inner);
    let sealed = ha.seal_data(T0 + secs(1), &mut buf, inner.len()).unwrap();
    assert_eq!(sealed.spi, 0x2001);
    assert_eq!(Some(sealed.spi), frames::esp_spi(&buf[..sealed.len]));
}

#[test]
fn key_view_reports_every_slot_with_its_spis_and_install_time() {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    let only_init = view(&ha).generations;
    assert_eq!(only_init.len(), 1);
    assert_eq!(only_init[0].slot, Slot::Init);
    assert_eq!(only_init[0].spis, init_key().spis);
    assert_eq!(
        only_init[0].installed_at, T0,
        "the init key: since the start"
    );

    let t1 = T0 + secs(2);
    let mut frame = mn.bu(&[key_initialization(t1)]);
    ha.handle(t1, &mut frame);
    take_events(&mut ha);
    let ba = mn.open_ba(one_ba(&mut ha));
    mn.install(&ba);
    let g1 = ba.distribution.clone().unwrap();

    let t2 = T0 + secs(7);
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(t2, &mut frame);
    take_events(&mut ha);
    let ba = mn.open_ba(one_ba(&mut ha));
    let g2 = ba.distribution.clone().unwrap();
    assert_eq!(g2.generation, 2);

    let v = view(&ha);
    let slots: Vec<_> = v.generations.iter().map(|g| (g.slot, g.id)).collect();
    assert_eq!(
        slots,
        [
            (Slot::Newest, g(2)),
            (Slot::Anterior, g(1)),
            (Slot::Init, GenerationId::Init)
        ],
        "newest first, as `accepted`"
    );
    assert_eq!(v.generations[0].spis.mn_to_ha.get(), g2.spi_mn_to_ha);
    assert_eq!(v.generations[0].spis.ha_to_mn.get(), g2.spi_ha_to_mn);
    assert_eq!(v.generations[0].installed_at, t2);
    assert_eq!(v.generations[1].spis.mn_to_ha.get(), g1.spi_mn_to_ha);
    assert_eq!(
        v.generations[1].installed_at, t1,
        "N−1 keeps the time it was installed as N"
    );
    assert_eq!(v.generations[2].installed_at, T0);
}

/// Issue 12, item 9: with `rekey_after_initialization` (the default) an update is due
/// as soon as an initialization is answered, so the node's next BU under generation
/// 1, with or without a Key Update Request, draws generation 2 and the home agent
/// stops transmitting with the pre-shared init key.
#[test]
fn after_an_initialization_the_next_bu_under_generation_1_draws_generation_2() {
    for mode in [RequestMode::Explicit, RequestMode::Implicit] {
        let mut c = config(mode);
        c.rekey_after_initialization = true;
        assert!(
            HaConfig::new(HA, Vec::new()).rekey_after_initialization,
            "default"
        );
        let mut ha = ha_with(c, 7, Vec::new());
        let mut mn = mn();
        initialize(&mut ha, &mut mn, T0, mode);
        take_events(&mut ha);
        assert!(view(&ha).update_due, "{mode:?}: due at once");
        assert_keys(&ha, GenerationId::Init, &[g(1), GenerationId::Init], false);

        // A plain BU under generation 1 (no request: the HA's due timer decides).
        let mut frame = mn.bu(&[]);
        ha.handle(T0 + secs(1), &mut frame);
        let events = take_events(&mut ha);
        assert_eq!(
            key_events(&events),
            [(DistributionKind::Update, 2)],
            "{mode:?}"
        );
        let ba = mn.open_ba(one_ba(&mut ha));
        assert_eq!(ba.slot, Slot::Newest, "{mode:?}: sealed with generation 1");
        assert_eq!(ba.distribution.as_ref().unwrap().generation, 2);
        assert_keys(&ha, g(1), &[g(2), g(1), GenerationId::Init], false);
        assert!(!view(&ha).update_due);
        // Data to the node now goes under generation 1, not init.
        let inner = udp_packet(CN, HOA, b"after");
        let mut buf = data_buffer(&inner);
        let sealed = ha.seal_data(T0 + secs(1), &mut buf, inner.len()).unwrap();
        let gen1 = mn.keys.get(Slot::Newest).unwrap().spis().ha_to_mn.get();
        assert_eq!(sealed.spi, gen1, "{mode:?}");
    }
}

/// Off, the timer starts as after an update (patent (6), (9) as written): the next
/// plain BU under generation 1 moves no key.
#[test]
fn without_rekey_after_initialization_the_timer_runs_its_interval() {
    let mut ha = ha(RequestMode::Implicit);
    let mut mn = mn();
    initialize(&mut ha, &mut mn, T0, RequestMode::Implicit);
    take_events(&mut ha);
    assert!(!view(&ha).update_due);
    let mut frame = mn.bu(&[]);
    ha.handle(T0 + secs(1), &mut frame);
    assert_eq!(key_events(&take_events(&mut ha)), []);
    assert_keys(&ha, GenerationId::Init, &[g(1), GenerationId::Init], true);
}

/// Issue 13: each key slot counts the frames the home agent opened (MN→HA) and sealed
/// (HA→MN) under it; the counts move with the key from newest to anterior, and go
/// with it when it is rotated out or dropped by a re-initialization.
#[test]
fn packet_counts_follow_their_key_and_leave_with_it() {
    let counts = |ha: &Ha| -> Vec<(GenerationId, u32, u32)> {
        view(ha)
            .generations
            .iter()
            .map(|g| (g.id, g.packets.opened, g.packets.sealed))
            .collect()
    };
    let down = |ha: &mut Ha, n: usize| {
        for _ in 0..n {
            let inner = udp_packet(CN, HOA, b"down");
            let mut buf = data_buffer(&inner);
            ha.seal_data(T0 + secs(1), &mut buf, inner.len()).unwrap();
        }
    };
    let up = |ha: &mut Ha, mn: &mut ScriptedMn, n: usize| {
        for _ in 0..n {
            let mut frame = mn.data(HOA, COA, b"up");
            let r = ha.handle(T0 + secs(1), &mut frame);
            assert!(matches!(r, Received::Delivered { .. }), "{r:?}");
        }
    };
    let init = GenerationId::Init;
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = mn();
    assert_eq!(counts(&ha), [(init, 0, 0)]);

    // The initialization BU opened under init, its BA sealed under init.
    initialize(&mut ha, &mut mn, T0, RequestMode::Explicit);
    take_events(&mut ha);
    assert_eq!(counts(&ha), [(g(1), 0, 0), (init, 1, 1)]);
    // The node sends under its newest (1), the HA under init (no anterior yet).
    up(&mut ha, &mut mn, 2);
    down(&mut ha, 3);
    assert_eq!(counts(&ha), [(g(1), 2, 0), (init, 1, 4)]);
    // A replay does not pass the window: not opened, not counted.
    let mut frame = mn.data(HOA, COA, b"twice");
    let mut replay = frame.clone();
    ha.handle(T0 + secs(1), &mut frame);
    assert_eq!(
        ha.handle(T0 + secs(1), &mut replay),
        Received::Dropped(DropReason::Replayed)
    );
    assert_eq!(counts(&ha), [(g(1), 3, 0), (init, 1, 4)]);

    // Update: the BU opens under 1, 2 is drawn, 1 becomes the anterior with its
    // counts and seals the BA.
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(2), &mut frame);
    take_events(&mut ha);
    let ba = mn.open_ba(one_ba(&mut ha));
    mn.install(&ba);
    assert_eq!(counts(&ha), [(g(2), 0, 0), (g(1), 4, 1), (init, 1, 4)]);
    up(&mut ha, &mut mn, 1);
    down(&mut ha, 2);
    assert_eq!(counts(&ha), [(g(2), 1, 0), (g(1), 4, 3), (init, 1, 4)]);

    // The next update rotates 1 out: its counts go with it, 2's move to the anterior.
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(3), &mut frame);
    take_events(&mut ha);
    let ba = mn.open_ba(one_ba(&mut ha));
    mn.install(&ba);
    assert_eq!(counts(&ha), [(g(3), 0, 0), (g(2), 2, 1), (init, 1, 4)]);

    // A re-initialization drops both generations and their counts; init's go on.
    initialize(&mut ha, &mut mn, T0 + secs(4), RequestMode::Explicit);
    assert_eq!(counts(&ha), [(g(1), 0, 0), (init, 2, 5)]);
}
