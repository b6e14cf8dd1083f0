//! Replay of engine captures, byte for byte (issue 4, "pcaps/").
//!
//! `an_engine_run_replays_byte_for_byte` records a simulated run (registration, data
//! both ways, key updates on a short interval, a lost BA, a handover) the way the
//! daemons record theirs, then replays each side's capture into a fresh engine with
//! the same configuration and seed and requires identical outputs; with another seed
//! the replay must fail at the first key the HA draws. The checked-in lab captures
//! under `pcaps/lab/` are replayed by `lab_captures_replay_byte_for_byte`.

use std::collections::VecDeque;
use std::time::Duration;

use mip6_daemon::capture::{read_inputs, EngineCapture, InputKind};
use mip6_ha::{DistributionKind, Event as HaEvent};
use mip6_tests::pair::{udp_packet, PairConfig, CN, COA, COA2, HA, HOA, T0};
use mip6_tests::replay::{record, replay_ha, replay_mn, HaStepper, MnStepper, Output};
use mip6_wire::keys::RequestMode;
use mip6_wire::Time;

const HA_SEED: u64 = 0x5eed_0001;
const MN_SEED: u64 = 0x5eed_0002;
const LATENCY_US: u64 = 2_000;

struct Flight {
    at: Time,
    to_ha: bool,
    frame: Vec<u8>,
}

fn configs(mode: RequestMode) -> (mip6_ha::HaConfig, mip6_mn::MnConfig) {
    let mut c = PairConfig::new(mode);
    c.ha.key_update_interval = Duration::from_secs(20);
    c.mn.key_update_interval = Some(Duration::from_secs(15));
    // Implicit mode has no MN key timer: updates ride the refresh BUs (every 15 s).
    c.mn.requested_lifetime = Duration::from_secs(20);
    (c.ha, c.mn)
}

/// Runs HA and MN over a simulated link for `secs` simulated seconds, recording both
/// captures; the BA carrying the HA's second key update is lost. Returns the HA's
/// key events.
fn simulated_run(dir: &std::path::Path, mode: RequestMode, secs: u64) -> Vec<DistributionKind> {
    let (ha_config, mn_config) = configs(mode);
    let mut ha_cap = EngineCapture::create(&dir.join("ha.pcapng"), HA).unwrap();
    let mut mn_cap = EngineCapture::create(&dir.join("mn.pcapng"), COA).unwrap();
    let mut ha = HaStepper::new(ha_config, HA_SEED, T0);
    ha_cap.start(T0, false);
    let mut mn = MnStepper::new(mn_config, MN_SEED, T0);
    mn_cap.start(T0, false);

    let mut flights: VecDeque<Flight> = VecDeque::new();
    let send = |flights: &mut VecDeque<Flight>, at: Time, to_ha: bool, outs: &[Output]| {
        for o in outs {
            if let Output::NetOut(f) = o {
                flights.push_back(Flight {
                    at: Time::from_micros(at.as_micros() + LATENCY_US),
                    to_ha,
                    frame: f.clone(),
                });
            }
        }
    };
    let mut now = Time::from_micros(T0.as_micros() + 1_000);
    let outs = mn.care_of(now, Some(COA));
    record(&mut mn_cap, now, &InputKind::CareOf(Some(COA)), &[], &outs);
    send(&mut flights, now, true, &outs);

    let end = T0.as_micros() + secs * 1_000_000;
    let mut next_data = T0.as_micros() + 500_000;
    let mut updates_seen = 0;
    let mut dropped_ba = false;
    let mut moved = false;
    let mut counter = 0u32;
    while now.as_micros() < end {
        // The next thing to happen: a delivery, a timer, a data packet.
        let mut t = next_data;
        if let Some(f) = flights.front() {
            t = t.min(f.at.as_micros());
        }
        if let Some(d) = ha.engine.poll_timeout() {
            t = t.min(d.as_micros());
        }
        if let Some(d) = mn.engine.poll_timeout() {
            t = t.min(d.as_micros());
        }
        now = Time::from_micros(t.max(now.as_micros()));
        if flights.front().is_some_and(|f| f.at <= now) {
            let f = flights.pop_front().unwrap();
            if f.to_ha {
                let outs = ha.net_in(now, &f.frame);
                record(&mut ha_cap, now, &InputKind::NetIn, &f.frame, &outs);
                // Lose the BA that carries the second key update.
                let updates = ha
                    .events
                    .iter()
                    .filter(|e| matches!(e, HaEvent::Keys(k) if k.kind == DistributionKind::Update))
                    .count();
                let lose = updates == 2 && updates_seen < 2 && !dropped_ba;
                updates_seen = updates;
                if lose {
                    dropped_ba = true;
                    let kept: Vec<Output> = outs
                        .iter()
                        .filter(|o| matches!(o, Output::TunOut(_)))
                        .cloned()
                        .collect();
                    send(&mut flights, now, false, &kept);
                } else {
                    send(&mut flights, now, false, &outs);
                }
            } else {
                let outs = mn.net_in(now, &f.frame);
                record(&mut mn_cap, now, &InputKind::NetIn, &f.frame, &outs);
                send(&mut flights, now, true, &outs);
            }
        } else if ha.engine.poll_timeout().is_some_and(|d| d <= now) {
            let outs = ha.timeout(now);
            record(&mut ha_cap, now, &InputKind::Timeout, &[], &outs);
            send(&mut flights, now, false, &outs);
        } else if mn.engine.poll_timeout().is_some_and(|d| d <= now) {
            let outs = mn.timeout(now);
            record(&mut mn_cap, now, &InputKind::Timeout, &[], &outs);
            send(&mut flights, now, true, &outs);
        } else {
            // Data both ways, every 250 ms.
            counter += 1;
            let payload = counter.to_be_bytes();
            let up = udp_packet(HOA, CN, &payload);
            let outs = mn.tun_in(now, &up);
            record(&mut mn_cap, now, &InputKind::TunIn, &up, &outs);
            send(&mut flights, now, true, &outs);
            let down = udp_packet(CN, HOA, &payload);
            let outs = ha.tun_in(now, &down);
            record(&mut ha_cap, now, &InputKind::TunIn, &down, &outs);
            send(&mut flights, now, false, &outs);
            next_data += 250_000;
            // One handover half-way.
            if !moved && now.as_micros() > T0.as_micros() + secs * 500_000 {
                moved = true;
                let outs = mn.care_of(now, Some(COA2));
                record(&mut mn_cap, now, &InputKind::CareOf(Some(COA2)), &[], &outs);
                send(&mut flights, now, true, &outs);
            }
        }
    }
    assert!(
        dropped_ba,
        "the run never reached a second key update: {:?}",
        ha.events
            .iter()
            .filter(|e| !matches!(e, HaEvent::Persist(_) | HaEvent::PersistLagging(_)))
            .collect::<Vec<_>>()
    );
    ha.events
        .iter()
        .filter_map(|e| match e {
            HaEvent::Keys(k) => Some(k.kind),
            _ => None,
        })
        .collect()
}

#[test]
fn an_engine_run_replays_byte_for_byte() {
    for mode in [RequestMode::Explicit, RequestMode::Implicit] {
        let dir = tempfile::tempdir().unwrap();
        let kinds = simulated_run(dir.path(), mode, 120);
        assert!(
            kinds
                .iter()
                .filter(|k| **k == DistributionKind::Update)
                .count()
                >= 3,
            "{mode:?}: {kinds:?}"
        );
        assert!(
            kinds.contains(&DistributionKind::Initialization),
            "{mode:?}: {kinds:?}"
        );
        let (ha_config, mn_config) = configs(mode);
        let ha_records = read_inputs(&dir.path().join("ha.pcapng")).unwrap();
        let mn_records = read_inputs(&dir.path().join("mn.pcapng")).unwrap();

        let ha = replay_ha(ha_config.clone(), HA_SEED, &ha_records)
            .unwrap_or_else(|e| panic!("{mode:?} HA replay: {e}"));
        let mn = replay_mn(mn_config.clone(), MN_SEED, &mn_records)
            .unwrap_or_else(|e| panic!("{mode:?} MN replay: {e}"));
        // Hundreds of data frames and dozens of BUs/BAs, all compared.
        assert!(ha.outputs > 400 && ha.inputs > 400, "{mode:?} {ha:?}");
        assert!(mn.outputs > 400 && mn.inputs > 400, "{mode:?} {mn:?}");

        // Another seed draws other keys: the replay must notice.
        let err = replay_ha(ha_config, HA_SEED + 1, &ha_records).unwrap_err();
        assert!(err.contains("differs"), "{err}");
        // A tampered capture is caught too.
        let mut tampered = mn_records.clone();
        let i = tampered
            .iter()
            .position(|r| r.kind == InputKind::NetOut)
            .unwrap();
        let last = tampered[i].data.len() - 1;
        tampered[i].data[last] ^= 1;
        assert!(replay_mn(mn_config, MN_SEED, &tampered).is_err());
    }
}

#[test]
fn a_capture_from_stored_state_is_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ha.pcapng");
    let mut cap = EngineCapture::create(&path, HA).unwrap();
    cap.start(T0, true);
    drop(cap);
    let (ha_config, _) = configs(RequestMode::Explicit);
    let err = replay_ha(ha_config, HA_SEED, &read_inputs(&path).unwrap()).unwrap_err();
    assert!(err.contains("stored state"), "{err}");
}
