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
    // Install times and packet counts are not persisted: a restored slot counts as
    // installed at the restart, with nothing opened or sealed yet. Everything else of
    // the view must be as it was.
    let at_restart = |view: Option<crate::KeyView>| {
        view.map(|mut v| {
            for g in &mut v.generations {
                g.installed_at = T0;
                g.packets = Default::default();
            }
            v
        })
    };
    // The update is due at once: data under the restored generations is dropped
    // until the node holds a fresh one (issue 12, item 10).
    let mut before = at_restart(ha.keys(&HOA)).unwrap();
    assert!(!before.update_due);
    before.update_due = true;
    assert!(!before.newest_restored);
    before.newest_restored = true;
    assert_eq!(at_restart(restored.keys(&HOA)), Some(before));
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
    // The first frame sealed after restore is at or above the persisted mark.
    let inner = udp_packet(CN, HOA, b"after restart");
    let mut buf = data_buffer(&inner);
    let data = restored
        .seal_data(T0 + secs(20), &mut buf, inner.len())
        .unwrap();
    let (_, seq) = esp_header(&buf[..data.len]).unwrap();
    assert!(u64::from(seq) >= mark, "seq {seq} < mark {mark}");
    assert_eq!(used.anterior.unwrap().outbound_mark, mark);
    // The mark moved ahead before that frame, in a Persist event.
    let new_mark = last_records(&take_events(&mut restored))[0]
        .anterior
        .as_ref()
        .unwrap()
        .outbound_mark;
    assert!(new_mark > u64::from(seq));
    // The node's next BU (under generation 2, the restored newest) is taken, and
    // its BA brings generation 3, sealed under 2 at or above 2's mark.
    let newest_mark = records[0].newest.as_ref().unwrap().outbound_mark;
    let mut frame = mn.bu(&[]);
    let r = restored.handle(T0 + secs(20), &mut frame);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let ba_frame = one_ba(&mut restored);
    let (_, seq) = esp_header(&ba_frame).unwrap();
    assert!(
        u64::from(seq) >= newest_mark,
        "seq {seq} < mark {newest_mark}"
    );
    let ba = mn.open_ba(ba_frame);
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.slot, Slot::Newest);
    assert_eq!(ba.distribution.as_ref().map(|d| d.generation), Some(3));
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

/// Issue 12, item 10: data frames never trigger a persist, so after a restart the
/// restored window starts at the top of the last BU; a data frame accepted after
/// it, captured and replayed, would fit. The restored home agent takes no data
/// under a restored generation, asks the node for a BU (a BRR, at most once a
/// second), and the BU, which cannot be a replay, gets it a fresh generation.
#[test]
fn data_accepted_after_the_last_persist_is_not_accepted_again_after_a_restart() {
    let (mut ha, mut mn, events, _) = history();
    // Data after the last BU: accepted, and nothing is persisted for it.
    let captured: Vec<Vec<u8>> = (0..3)
        .map(|i| mn.data(HOA, COA, format!("before the crash {i}").as_bytes()))
        .collect();
    for frame in &captured {
        let r = ha.handle(T0 + secs(10), &mut frame.clone());
        assert!(matches!(r, Received::Delivered { .. }), "{r:?}");
    }
    assert!(
        !take_events(&mut ha)
            .iter()
            .any(|e| matches!(e, Event::Persist(_))),
        "data frames persist nothing"
    );
    // kill -9: the restart has the record persisted with the last BU.
    let records = last_records(&events);
    assert!(
        ha.record(&HOA).unwrap() != records[0],
        "the live top moved on"
    );
    let mut restored = ha_with(config(RequestMode::Explicit), 12, records);
    take_events(&mut restored);
    for (i, frame) in captured.iter().enumerate() {
        assert_eq!(
            restored.handle(T0 + secs(30), &mut frame.clone()),
            Received::Dropped(DropReason::DataUnderRestoredKey),
            "replayed frame {i}"
        );
    }
    assert_eq!(restored.counters().data_received, 0);
    assert_eq!(
        restored
            .counters()
            .dropped(DropReason::DataUnderRestoredKey),
        3
    );
    // One Binding Refresh Request for the three frames, to the care-of address,
    // no routing header (RFC 6275 §6.1), and it opens at the node.
    let brr = one_transmit(&mut restored);
    assert_eq!(brr.destination, COA);
    assert_eq!(restored.poll_transmit(), None, "one BRR per second at most");
    assert_eq!(restored.counters().brr_sent, 1);
    let mut opened = brr.frame.clone();
    let frame = mip6_wire::frames::open(&mut opened, &mut mn.keys).expect("the BRR opens");
    assert_eq!(frame.frame.chain.rh2, None);
    assert!(matches!(
        frame.payload,
        mip6_wire::frames::Payload::Signalling(ref mh)
            if mh.message == mip6_wire::mh::Message::BindingRefreshRequest
    ));
    // A second later, fresh data still under the restored key: another BRR.
    let fresh = mn.data(HOA, COA, b"fresh, but unprovable");
    assert_eq!(
        restored.handle(T0 + secs(31), &mut fresh.clone()),
        Received::Dropped(DropReason::DataUnderRestoredKey)
    );
    assert_eq!(restored.counters().brr_sent, 2);
    assert_eq!(one_transmit(&mut restored).destination, COA);
    // The node's BU under its newest key is taken and brings generation 3.
    let mut bu = mn.bu(&[]);
    let r = restored.handle(T0 + secs(31), &mut bu);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let ba = mn.open_ba(one_ba(&mut restored));
    assert_eq!(ba.distribution.as_ref().map(|d| d.generation), Some(3));
    mn.install(&ba);
    // Under the fresh generation, data flows again; the captured frames still not.
    let after = mn.data(HOA, COA, b"under generation 3");
    assert!(matches!(
        restored.handle(T0 + secs(32), &mut after.clone()),
        Received::Delivered { .. }
    ));
    for frame in &captured {
        let r = restored.handle(T0 + secs(32), &mut frame.clone());
        assert!(matches!(r, Received::Dropped(_)), "{r:?}");
    }
    assert_eq!(restored.counters().data_received, 1);
}

/// Issue 13: a home agent that takes over from the other one of a pair (a restart
/// from the shared records) asks every node whose newest generation it restored for
/// a Binding Update at once (RFC 6275 §9.5.5), without waiting for the node's data
/// to be dropped first; not twice within a second.
#[test]
fn a_home_agent_taking_over_asks_each_restored_node_for_a_binding_update_at_once() {
    let (_, mut mn, events, _) = history();
    let mut restored = ha_with(config(RequestMode::Explicit), 12, last_records(&events));
    take_events(&mut restored);
    assert_eq!(restored.poll_transmit(), None, "nothing before it is asked");
    assert_eq!(restored.request_refresh_restored(T0 + secs(30)), 1);
    let brr = one_transmit(&mut restored);
    assert_eq!(brr.destination, COA);
    let mut opened = brr.frame.clone();
    let frame = mip6_wire::frames::open(&mut opened, &mut mn.keys).expect("the BRR opens");
    assert!(matches!(
        frame.payload,
        mip6_wire::frames::Payload::Signalling(ref mh)
            if mh.message == mip6_wire::mh::Message::BindingRefreshRequest
    ));
    assert_eq!(
        restored.request_refresh_restored(T0 + secs(30)),
        0,
        "at most one a second"
    );
    // The node's BU brings a fresh generation: nothing restored is left to ask about.
    let mut bu = mn.bu(&[]);
    assert!(matches!(
        restored.handle(T0 + secs(31), &mut bu),
        Received::Consumed { .. }
    ));
    let ba = mn.open_ba(one_ba(&mut restored));
    assert!(ba.distribution.is_some(), "a fresh generation");
    mn.install(&ba);
    assert_eq!(restored.request_refresh_restored(T0 + secs(40)), 0);
}

#[test]
fn a_home_agent_with_nothing_restored_asks_nobody() {
    let mut fresh = ha(RequestMode::Explicit);
    assert_eq!(fresh.request_refresh_restored(T0 + secs(30)), 0);
    assert_eq!(fresh.poll_transmit(), None);
}

/// The records among `events`: `(record, may lag)` in emission order.
fn records_of(events: &[Event]) -> Vec<(MnRecord, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Persist(r) => Some((r.clone(), false)),
            Event::PersistLagging(r) => Some((r.clone(), true)),
            _ => None,
        })
        .collect()
}

/// A BU that only refreshes or moves an existing binding gives a record that may lag
/// behind its BA (`Event::PersistLagging`): its keys and marks are those of a record
/// already emitted. A first binding, a key request, a refusal and a BA whose sequence
/// number crosses the mark all give records that must precede what is sent.
#[test]
fn only_a_refresh_or_a_move_of_an_existing_binding_may_lag() {
    let mut cfg = config(RequestMode::Explicit);
    cfg.sequence_block = 4;
    let mut ha = ha_with(cfg, 21, Vec::new());
    let mut mn = mn();
    initialize(&mut ha, &mut mn, T0, RequestMode::Explicit);
    let first = records_of(&take_events(&mut ha));
    assert!(
        !first.is_empty() && first.iter().all(|(_, lag)| !lag),
        "{first:?}"
    );
    assert!(
        first.last().unwrap().0.binding.is_some(),
        "first binding stored"
    );

    let mut lagged_moves = 0;
    let mut kinds = Vec::new();
    for i in 0..8u32 {
        // Every other BU moves to the other care-of address.
        mn.care_of_address = if i % 2 == 0 { COA2 } else { COA };
        let mut frame = mn.bu(&[]);
        let r = ha.handle(T0 + secs(1 + i), &mut frame);
        assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
        let before = ha.record(&HOA).unwrap();
        let ba = one_ba(&mut ha);
        let (_, seq) = esp_header(&ba).unwrap();
        let records = records_of(&take_events(&mut ha));
        assert_eq!(records.len(), 1, "one record per BU: {records:?}");
        let (record, lag) = &records[0];
        assert_eq!(record, &before, "the record is the state after the BU");
        assert_eq!(
            record.binding.map(|b| b.care_of_address),
            Some(mn.care_of_address)
        );
        // The BA's sequence number: under the mark stored before (may lag) or under
        // the one in this record (must precede).
        let mark = record.init_outbound_mark.max(
            record
                .newest
                .as_ref()
                .map_or(0, |g| g.outbound_mark)
                .max(record.anterior.as_ref().map_or(0, |g| g.outbound_mark)),
        );
        assert!(u64::from(seq) < mark, "seq {seq} mark {mark}");
        kinds.push(*lag);
        lagged_moves += u32::from(*lag && i % 2 == 0);
    }
    // Blocks of 4: one BA in four crosses the mark (a record that must precede it);
    // the others lag.
    assert!(kinds.iter().any(|lag| *lag), "{kinds:?}");
    assert!(kinds.iter().any(|lag| !*lag), "{kinds:?}");
    assert!(
        lagged_moves >= 2,
        "moves lagged: {lagged_moves} of 4 ({kinds:?})"
    );

    // A key request: the new generation must be stored before its BA.
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(20), &mut frame);
    one_ba(&mut ha);
    let records = records_of(&take_events(&mut ha));
    assert!(
        records.iter().any(|(r, lag)| !lag && r.newest.is_some()),
        "{records:?}"
    );
    assert!(records.iter().all(|(_, lag)| !lag), "{records:?}");
}

/// A crash loses the lagging record of a move: the home agent restarted from the
/// records before it resumes the previous binding, seals nothing under a sequence
/// number it used (the move's BA was under the stored mark), and takes the node's
/// next BU. A replay of the lost move's BU frame is taken once, and names what the
/// node registered: no binding the node did not ask for.
#[test]
fn a_lost_lagging_record_costs_the_binding_of_one_bu_and_no_nonce() {
    let (mut ha, mut mn) = registered();
    // A first BU under the generation proves it and opens its sequence block: a
    // record that precedes its BA. The move comes after.
    let mut refresh = mn.bu(&[]);
    ha.handle(T0 + secs(1), &mut refresh);
    one_ba(&mut ha);
    let records = records_of(&take_events(&mut ha));
    assert!(matches!(&records[..], [(_, false)]), "{records:?}");
    let stored = ha.record(&HOA).unwrap();
    assert_eq!(stored.binding.map(|b| b.care_of_address), Some(COA));
    mn.care_of_address = COA2;
    let move_bu = mn.bu(&[]);
    ha.handle(T0 + secs(2), &mut move_bu.clone());
    let ba = one_ba(&mut ha);
    let (spi, ba_seq) = esp_header(&ba).unwrap();
    let records = records_of(&take_events(&mut ha));
    assert!(
        matches!(&records[..], [(r, true)] if r.binding.map(|b| b.care_of_address) == Some(COA2)),
        "{records:?}"
    );

    // The crash: only `stored` reached the disk.
    let mut restored = ha_with(config(RequestMode::Explicit), 5, vec![stored.clone()]);
    assert_eq!(
        restored.binding(&HOA).map(|b| b.care_of_address),
        Some(COA),
        "the previous binding is resumed"
    );
    take_events(&mut restored);
    // Its next seal under the BA's SA is past the BA's sequence number.
    let inner = udp_packet(CN, HOA, b"after the crash");
    let mut buf = data_buffer(&inner);
    let data = restored
        .seal_data(T0 + secs(3), &mut buf, inner.len())
        .unwrap();
    let (data_spi, data_seq) = esp_header(&buf[..data.len]).unwrap();
    assert_eq!(data_spi, spi, "the same SA as the BA");
    assert!(
        data_seq > ba_seq,
        "seq {data_seq} repeats the BA's {ba_seq}"
    );
    take_events(&mut restored);

    // The replay of the move's BU is taken (it was never stored), once.
    let r = restored.handle(T0 + secs(4), &mut move_bu.clone());
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        restored.binding(&HOA).map(|b| b.care_of_address),
        Some(COA2),
        "the care-of address the node registered"
    );
    one_ba(&mut restored);
    take_events(&mut restored);
    assert_eq!(
        restored.handle(T0 + secs(5), &mut move_bu.clone()),
        Received::Dropped(DropReason::Replayed)
    );
    // The node's next BU is taken.
    let mut next = mn.bu(&[]);
    let r = restored.handle(T0 + secs(6), &mut next);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
}
