//! Restore from records: no nonce reuse, replays refused, and the durable minimum.

use mip6_wire::keys::{GenerationId, RequestMode, Slot};
use mip6_wire::mh::{BaStatus, KeyOption};

use super::harness::*;
use crate::{DropReason, Event, MnRecord, Received, RouteChange};

/// Runs an initialization, an update and some BAs; returns the HA, the MN and every
/// event seen.
fn history() -> (Ha, ScriptedMn, Vec<Event>, Vec<u8>) {
    let mut cfg = config(RequestMode::Explicit);
    cfg.sequence_block = 4;
    let mut ha = ha_with(cfg, 11, Vec::new());
    let mut mn = mn();
    let mut events = Vec::new();
    initialize(&mut ha, &mut mn, T0, RequestMode::Explicit);
    events.extend(take_events(&mut ha));
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(1), &mut frame);
    let ba = mn.open_ba(one_ba(&mut ha));
    mn.install(&ba);
    events.extend(take_events(&mut ha));
    let mut last_bu = Vec::new();
    for i in 0..6 {
        let frame = mn.bu(&[]);
        last_bu = frame.clone();
        ha.handle(T0 + secs(2 + i), &mut frame.clone());
        mn.open_ba(one_ba(&mut ha));
        events.extend(take_events(&mut ha));
    }
    (ha, mn, events, last_bu)
}

#[test]
fn restored_engine_resumes_keys_binding_and_sequence_marks() {
    let (ha, mut mn, events, last_bu) = history();
    let records = last_records(&events);
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0],
        ha.record(&HOA).unwrap(),
        "the last Persist is the state"
    );
    let mark = records[0].anterior.as_ref().unwrap().outbound_mark;
    let used = ha.record(&HOA).unwrap();
    assert!(mark >= 1);

    let mut cfg = config(RequestMode::Explicit);
    cfg.sequence_block = 4;
    let mut restored = ha_with(cfg, 99, records.clone());
    // Install times are not persisted: a restored slot counts as installed at the
    // restart. Everything else of the view must be as it was.
    let at_restart = |view: Option<crate::KeyView>| {
        view.map(|mut v| {
            for g in &mut v.generations {
                g.installed_at = T0;
            }
            v
        })
    };
    assert_eq!(at_restart(restored.keys(&HOA)), at_restart(ha.keys(&HOA)));
    assert_eq!(restored.binding(&HOA), ha.binding(&HOA));
    assert_eq!(
        restored.poll_event(),
        Some(Event::Route(RouteChange::Install {
            home_address: HOA,
            care_of_address: COA
        }))
    );
    // The last BU before the restart is a replay for the restored HA.
    assert_eq!(
        restored.handle(T0 + secs(20), &mut last_bu.clone()),
        Received::Dropped(DropReason::Replayed)
    );
    // The first BA after restore is sealed at or above the persisted mark.
    let mut frame = mn.bu(&[]);
    let r = restored.handle(T0 + secs(20), &mut frame);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let ba_frame = one_ba(&mut restored);
    let (_, seq) = esp_header(&ba_frame).unwrap();
    assert!(u64::from(seq) >= mark, "seq {seq} < mark {mark}");
    assert_eq!(used.anterior.unwrap().outbound_mark, mark);
    let ba = mn.open_ba(ba_frame);
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.slot, Slot::Anterior);
    // The mark moved ahead before that BA, in a Persist event.
    let new_mark = last_records(&take_events(&mut restored))[0]
        .anterior
        .as_ref()
        .unwrap()
        .outbound_mark;
    assert!(new_mark > u64::from(seq));
}

#[test]
fn marks_are_persisted_before_every_block_is_used() {
    let (_, _, events, _) = history();
    // Every sealed sequence number was below the mark persisted before it: with blocks
    // of 4 and 8 BAs under init/gen1, the marks seen only grow.
    let marks: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Persist(r) => Some(r.init_outbound_mark),
            _ => None,
        })
        .collect();
    assert!(marks.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        *marks.last().unwrap() >= 3,
        "two BAs under init: mark at least 3"
    );
}

#[test]
fn durable_minimum_restart_forces_reinitialization_without_nonce_reuse() {
    let (ha, mut mn, events, _) = history();
    let old_init = ha.record(&HOA).unwrap();
    let minimal: Vec<MnRecord> = last_records(&events)
        .iter()
        .map(MnRecord::durable_minimum)
        .collect();
    assert!(minimal[0].newest.is_none() && minimal[0].binding.is_none());
    assert_eq!(minimal[0].init_outbound_mark, old_init.init_outbound_mark);
    let mut restarted = ha_with(config(RequestMode::Explicit), 5, minimal);
    let v = restarted.keys(&HOA).unwrap();
    assert_eq!(v.accepted, [GenerationId::Init]);
    assert_eq!(restarted.binding(&HOA), None);
    // The MN's BU under its generation finds no SA: silently dropped (patent (5)/(11):
    // the MN retransmits, then re-initializes).
    let mut frame = mn.bu(&[]);
    assert_eq!(
        restarted.handle(T0 + secs(30), &mut frame),
        Received::Dropped(DropReason::UnknownSpi)
    );
    // A replay of the old init (same timestamp) is refused with 145.
    mn.keys.drop_dynamic();
    let mut replay = mn.bu_under(Slot::Init, &[key_initialization(T0)]);
    restarted.handle(T0 + secs(31), &mut replay);
    let t = restarted.poll_transmit().unwrap().frame;
    let (spi, seq) = esp_header(&t).unwrap();
    assert_eq!(spi, 0x2001);
    assert!(
        u64::from(seq) >= old_init.init_outbound_mark,
        "no nonce reuse under init"
    );
    assert_eq!(mn.open_ba(t).status, BaStatus::Mipv6MesgIdReqd);
    // A fresh initialization works.
    let ba = initialize(
        &mut restarted,
        &mut mn,
        T0 + secs(32),
        RequestMode::Explicit,
    );
    assert_eq!(ba.distribution.unwrap().generation, 1);
}

#[test]
fn state_size_is_reported() {
    let ha = ha(RequestMode::Explicit);
    let per_mn = Ha::mn_state_bytes();
    assert!(per_mn > 0);
    assert!(ha.approx_state_bytes() >= 2 * per_mn);
    println!(
        "per-MN state: {per_mn} B; engine with 2 MNs: {} B",
        ha.approx_state_bytes()
    );
}
