//! Replays and forgeries against the real engines (docs/architecture.md invariant 4: a replayed
//! or forged BU never moves a binding or a key). Each attack must be rejected,
//! counted under its specific drop reason or refusal, and leave every binding and
//! key exactly as it was (compared whole: BindingView, KeyView and the SPIs of every
//! slot, at the HA and at the MN). A genuine BU whose unprotected outer source was
//! rewritten binds the protected Alternate Care-of Address, and a BU without one binds
//! nothing (RFC 6275 §9.5.1, §11.7.1); BUs captured when sent and delivered late, with an
//! old sequence number or an old Key Initialization timestamp, are refused or dropped as
//! RFC 6275 §9.5.1, RFC 4285 §6 and RFC 4303 §3.4.3 say.

use mip6_ha::{self as ha, DropReason, Refusal};
use mip6_mn::{self as mn, RestorePolicy};
use mip6_tests::pair::*;
use mip6_wire::keys::{RequestMode, Slot};
use mip6_wire::mh::{BaStatus, KeyOption};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::net::Ipv6Addr;

/// Everything an attack must not move.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    binding: Option<ha::BindingView>,
    ha_keys: ha::KeyView,
    ha_spis: SlotSpis,
    mn_keys: mn::KeyView,
    mn_spis: SlotSpis,
    binding2: Option<ha::BindingView>,
    ha_keys2: Option<ha::KeyView>,
    spis2: Vec<mip6_wire::keys::SpiPair>,
}

/// The state an attack must not move: bindings, keys, SPIs. Each slot's packet
/// counts are statistics, not state (an attacker's frame that authenticates, such as
/// a replayed BU, is counted as opened, and its refusal as sealed), so they are left
/// out.
fn snap(p: &Pair) -> Snapshot {
    let mut ha_keys = p.ha_keys();
    ha_keys
        .generations
        .iter_mut()
        .for_each(|g| g.packets = Default::default());
    let mut mn_keys = p.mn_keys();
    mn_keys
        .generations
        .iter_mut()
        .for_each(|g| g.packets = Default::default());
    let mut ha_keys2 = p.ha.keys(&HOA2);
    if let Some(k) = &mut ha_keys2 {
        k.generations
            .iter_mut()
            .for_each(|g| g.packets = Default::default());
    }
    Snapshot {
        binding: p.binding(),
        ha_keys,
        ha_spis: p.ha_spis(),
        mn_keys,
        mn_spis: p.mn_spis(),
        binding2: p.ha.binding(&HOA2),
        ha_keys2,
        spis2: p
            .ha
            .record(&HOA2)
            .map(|r| {
                [r.newest, r.anterior]
                    .into_iter()
                    .flatten()
                    .map(|g| g.spis)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn explicit(name: &str) -> Pair {
    Pair::with(PairConfig::new(RequestMode::Explicit).named(name))
}

fn kir(p: &Pair) -> Option<KeyOption> {
    Some(key_initialization(p.now))
}

/// Registers the hand-played second MN (HOA2 at COA2) with an initialization.
#[track_caller]
fn register_second(p: &mut Pair, mode: RequestMode) -> ScriptedMn {
    let mut mn2 = ScriptedMn::second();
    let request = match mode {
        RequestMode::Explicit => kir(p),
        RequestMode::Implicit => None,
    };
    let bu = mn2.bu_claiming(Slot::Init, HOA2, request.as_slice());
    let r = p.handle_at_ha(bu).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    let ba = p.to_others.pop_front().expect("a BA to the second MN");
    let ba = mn2.take_ba(ba.frame);
    assert_eq!(ba.slot, Slot::Init);
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.distribution.map(|d| d.generation), Some(1));
    assert_eq!(p.ha.binding(&HOA2).map(|b| b.care_of_address), Some(COA2));
    // A packet under generation 1 proves MN2 holds it (so later frames under it move
    // no flag).
    let hello = mn2.data_under(Slot::Newest, HOA2, COA2, b"hello");
    assert!(matches!(
        p.handle_at_ha(hello).0,
        ha::Received::Delivered { .. }
    ));
    assert!(p.ha.keys(&HOA2).expect("configured").newest_confirmed);
    mn2
}

#[test]
fn replayed_bu_is_dropped_and_moves_nothing() {
    let mut p = explicit("attack_replayed_bu");
    p.establish();
    // A registration at COA2 is captured, then the MN moves back to COA.
    p.advance_by(core::time::Duration::from_secs(5));
    p.move_to(Some(COA2));
    let captured = p.peek_to_ha().clone();
    p.deliver_all();
    assert_eq!(p.binding().map(|b| b.care_of_address), Some(COA2));
    p.advance_by(core::time::Duration::from_secs(5));
    p.move_to(Some(COA));
    p.deliver_all();
    assert_eq!(p.binding().map(|b| b.care_of_address), Some(COA));

    // The captured BU replayed: the ESP window refuses it, the binding stays at COA.
    let before = snap(&p);
    let counters = p.ha_counters();
    assert_eq!(
        p.handle_at_ha(captured.frame.clone()).0,
        ha::Received::Dropped(DropReason::Replayed)
    );
    assert_eq!(snap(&p), before);
    assert_eq!(
        p.ha_counters().dropped(DropReason::Replayed),
        counters.dropped(DropReason::Replayed) + 1
    );
    assert_eq!(p.ha_counters().bu_accepted, counters.bu_accepted);
    assert!(p.to_mn.is_empty(), "a drop is never answered");

    // A network duplicate of a fresh BU: the copy is a replay, one update only.
    p.advance_by(core::time::Duration::from_secs(5));
    p.move_to(Some(COA2));
    p.duplicate_next_to_ha();
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        p.deliver_to_ha(),
        ha::Received::Dropped(DropReason::Replayed)
    );
    assert_eq!(p.to_mn.len(), 1, "one BA");
    p.deliver_all();
    assert_eq!(p.binding().map(|b| b.care_of_address), Some(COA2));

    // After a restart from the full records the replay floor holds too.
    p.restart_ha(HaRestore::Full);
    let before = snap(&p);
    assert_eq!(
        p.handle_at_ha(captured.frame.clone()).0,
        ha::Received::Dropped(DropReason::Replayed)
    );
    assert_eq!(snap(&p), before);
    // Data waits for a fresh generation (issue 12, item 10), then flows.
    assert_eq!(p.refresh_after_ha_restart().len(), 1);
    p.assert_data_flows();
    let before = snap(&p);

    // An old sequence number under a fresh ESP sequence number (an insider holding
    // the MN's key): refused with 135, the BA names the binding's sequence number.
    let record = p.mn_disk.clone().expect("persisted");
    let mut insider = clone_of_mn(&record, COA, 1 << 20);
    let old = before.binding.expect("bound").sequence;
    let bu = insider.seal_bu(
        Some(Slot::Newest),
        home_registration(old.0.wrapping_sub(1), 150),
        COA,
        HOA,
        &[],
    );
    let counters = p.ha_counters();
    let r = p.handle_at_ha(bu).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(snap(&p), before);
    assert_eq!(
        p.ha_counters().refused(Refusal::SequenceOutOfWindow),
        counters.refused(Refusal::SequenceOutOfWindow) + 1
    );
    let ba = p.decode(&p.peek_to_mn().frame);
    let Content::Ba {
        status, sequence, ..
    } = ba.content
    else {
        unreachable!()
    };
    assert_eq!(
        (status, sequence),
        (BaStatus::SequenceNumberOutOfWindow, old.0)
    );
    // The MN, with nothing outstanding, ignores that BA.
    assert_eq!(
        p.deliver_to_mn(),
        mn::Received::Dropped(mn::DropReason::NoOutstandingUpdate)
    );
    assert_eq!(snap(&p), before);
}

#[test]
fn replayed_key_initialization_request_is_dropped_or_refused() {
    let mut p = explicit("attack_replayed_kir");
    // The MN's first Key Initialization Request is intercepted (never delivered);
    // the retransmission, with a fresh timestamp, initializes.
    p.start(COA);
    let intercepted = p.drop_next_to_ha();
    assert_eq!(
        p.decode(&intercepted.frame).bu_key(),
        Some(&KeyOption::KeyInitialization {
            timestamp: T0.to_ntp()
        })
    );
    p.advance_to_next_deadline();
    let accepted = p.peek_to_ha().clone();
    p.deliver_all();
    assert_eq!(p.ha_keys().newest, Some(1));
    p.advance_by(core::time::Duration::from_secs(10));

    // The intercepted one, never seen by the HA, opens (its ESP sequence number is
    // inside the window) but its timestamp is older than the last accepted: 145.
    let before = snap(&p);
    let counters = p.ha_counters();
    let r = p.handle_at_ha(intercepted.frame.clone()).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(snap(&p), before);
    assert_eq!(
        p.ha_counters().refused(Refusal::InitTimestamp),
        counters.refused(Refusal::InitTimestamp) + 1
    );
    assert_eq!(
        p.ha_counters().key_initializations,
        counters.key_initializations
    );
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba.spi(), init_spis().ha_to_mn.get(), "refusal under init");
    let d = p.decode(&ba.frame);
    let Content::Ba {
        status,
        distribution,
        echo,
        ..
    } = d.content
    else {
        unreachable!()
    };
    assert_eq!(u8::from(status), 145);
    assert_eq!(distribution, None);
    assert_eq!(echo, Some(T0.to_ntp()));
    assert_eq!(
        p.deliver_to_mn(),
        mn::Received::Dropped(mn::DropReason::NoOutstandingUpdate)
    );
    assert_eq!(snap(&p), before);

    // The accepted one replayed: the ESP window.
    assert_eq!(
        p.handle_at_ha(accepted.frame.clone()).0,
        ha::Received::Dropped(DropReason::Replayed)
    );
    assert_eq!(snap(&p), before);
    p.assert_data_flows();

    // The HA restarts with only its durable minimum: both are replays below the
    // persisted init floor; nothing is initialized, no binding appears.
    p.restart_ha(HaRestore::DurableMinimum);
    p.assert_ha_keys(INIT, &[INIT]);
    for frame in [&intercepted.frame, &accepted.frame] {
        assert_eq!(
            p.handle_at_ha(frame.clone()).0,
            ha::Received::Dropped(DropReason::Replayed)
        );
    }
    p.assert_ha_keys(INIT, &[INIT]);
    assert_eq!(p.binding(), None);
    assert_eq!(p.ha_counters().key_initializations, 0);
    assert_eq!(p.ha_counters().dropped(DropReason::Replayed), 2);

    // An old timestamp under a fresh ESP sequence number (sealed with a copy of the
    // init key): the persisted last timestamp refuses it with 145.
    let record = p.mn_disk.clone().expect("persisted");
    let mut insider = clone_of_mn(&record, COA, 1 << 20);
    let stale = insider.bu_claiming(
        Slot::Init,
        HOA,
        &[key_initialization(
            T0 + core::time::Duration::from_millis(1500),
        )],
    );
    let r = p.handle_at_ha(stale).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(p.ha_counters().refused(Refusal::InitTimestamp), 1);
    // And one from the future, beyond the allowed skew.
    let skewed = insider.bu_claiming(
        Slot::Init,
        HOA,
        &[key_initialization(
            p.now + core::time::Duration::from_secs(3600),
        )],
    );
    let r = p.handle_at_ha(skewed).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(p.ha_counters().refused(Refusal::InitTimestamp), 2);
    p.assert_ha_keys(INIT, &[INIT]);
    assert_eq!(p.binding(), None);
    assert_eq!(p.ha_counters().key_initializations, 0);
}

#[test]
fn bu_under_unknown_spi_is_dropped() {
    let mut p = explicit("attack_unknown_spi");
    p.establish();
    p.advance_by(core::time::Duration::from_secs(5));
    p.move_to(Some(COA2));
    let genuine = p.drop_next_to_ha();
    let before = snap(&p);
    for spi in [0x0bad_0bad, 0x1003, 0x2001, 256] {
        let mut forged = genuine.frame.clone();
        set_spi(&mut forged, spi);
        assert_eq!(
            p.handle_at_ha(forged).0,
            ha::Received::Dropped(DropReason::UnknownSpi),
            "SPI {spi:#x}"
        );
    }
    assert_eq!(p.ha_counters().dropped(DropReason::UnknownSpi), 4);
    // A reserved SPI (RFC 4303 §2.1: 1..=255) is no SA either.
    let mut reserved = genuine.frame.clone();
    set_spi(&mut reserved, 7);
    assert!(matches!(
        p.handle_at_ha(reserved).0,
        ha::Received::Dropped(DropReason::UnknownSpi | DropReason::Malformed)
    ));
    assert_eq!(snap(&p), before);
    assert!(p.to_mn.is_empty());
    // The genuine BU still goes through.
    let r = p.handle_at_ha(genuine.frame).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(p.binding().map(|b| b.care_of_address), Some(COA2));
}

#[test]
fn bu_under_another_mns_spi_is_dropped() {
    let mut p = Pair::with(
        PairConfig::new(RequestMode::Explicit)
            .named("attack_other_spi")
            .with_second_mn(),
    );
    p.establish();
    let _mn2 = register_second(&mut p, RequestMode::Explicit);
    let mn2_spis = p.ha.record(&HOA2).expect("configured");
    let mn2_newest = mn2_spis.newest.as_ref().expect("gen 1").spis.mn_to_ha.get();

    // MN1's BU (moving to COA2) with its SPI replaced by MN2's: the HA finds MN2,
    // MN2's key does not open it.
    p.advance_by(core::time::Duration::from_secs(5));
    p.move_to(Some(COA2));
    let genuine = p.drop_next_to_ha();
    let before = snap(&p);
    // MN2's init and generation-1 windows have each seen sequence number 1 (its
    // initialization BU, its first packet): a forged frame numbered 1 is dropped by
    // the replay pre-check before the ICV (RFC 4303 §3.4.3), any other by the ICV.
    let expected = if genuine.esp_seq() == 1 {
        DropReason::Replayed
    } else {
        DropReason::BadIcv
    };
    for spi in [mn2_newest, init_spis2().mn_to_ha.get()] {
        let mut forged = genuine.frame.clone();
        set_spi(&mut forged, spi);
        assert_eq!(
            p.handle_at_ha(forged).0,
            ha::Received::Dropped(expected),
            "SPI {spi:#x}"
        );
    }
    assert_eq!(snap(&p), before);
    assert_eq!(p.ha_counters().dropped(expected), 2);
    // Forged under a sequence number neither window has seen: the ICV.
    let mut forged = genuine.frame.clone();
    set_spi(&mut forged, mn2_newest);
    let esp = mip6_wire::frames::inspect(&forged).expect("ESP").esp.start;
    forged[esp + 4..esp + 8].copy_from_slice(&1000u32.to_be_bytes());
    assert_eq!(
        p.handle_at_ha(forged).0,
        ha::Received::Dropped(DropReason::BadIcv)
    );
    assert_eq!(snap(&p), before);
    assert!(p.to_mn.is_empty() && p.to_others.is_empty());
    let r = p.handle_at_ha(genuine.frame).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
}

#[test]
fn bu_naming_another_mns_home_address_is_refused() {
    let mut p = Pair::with(
        PairConfig::new(RequestMode::Explicit)
            .named("attack_other_hoa")
            .with_second_mn(),
    );
    p.establish();
    let mut mn2 = register_second(&mut p, RequestMode::Explicit);
    let before = snap(&p);
    let counters = p.ha_counters();

    // MN2, with its own valid key, asks to move MN1's home address to itself.
    let bu = mn2.bu_claiming(Slot::Newest, HOA, &[]);
    let r = p.handle_at_ha(bu).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    let after = p.ha_counters();
    assert_eq!(
        after.refused(Refusal::HomeAddressOfAnotherMn),
        counters.refused(Refusal::HomeAddressOfAnotherMn) + 1
    );
    assert_eq!(after.attacks, counters.attacks + 1);
    assert_eq!(after.bu_accepted, counters.bu_accepted);
    // Same with a Key Initialization Request under MN2's init key.
    let bu = mn2.bu_claiming(Slot::Init, HOA, kir(&p).as_slice());
    let r = p.handle_at_ha(bu).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(p.ha_counters().attacks, counters.attacks + 2);
    assert_eq!(
        p.ha_counters().key_initializations,
        counters.key_initializations
    );
    // Neither MN's binding or keys moved (MN2's whole record included).
    assert_eq!(snap(&p), before);
    // The refusals (133) go to MN2, never to MN1.
    assert!(p.to_mn.is_empty());
    // Sealed under MN2's SAs, to MN2's care-of address; their RH2 names the home
    // address MN2's BUs claimed (RFC 6275 §9.5.4).
    let own = mn2.home_address;
    mn2.home_address = HOA;
    for _ in 0..2 {
        let ba = p.to_others.pop_front().expect("a refusal to MN2");
        let ba = mn2.take_ba(ba.frame);
        assert_eq!(ba.status, BaStatus::NotHomeAgentForThisMobileNode);
    }
    mn2.home_address = own;
    p.assert_data_flows();
}

#[test]
fn tunnelled_packet_with_foreign_inner_source_is_dropped() {
    let mut p = Pair::with(
        PairConfig::new(RequestMode::Explicit)
            .named("attack_inner_source")
            .with_second_mn(),
    );
    p.establish();
    let mut mn2 = register_second(&mut p, RequestMode::Explicit);
    let before = snap(&p);
    let forwarded = p.ha_forwarded.len();

    // MN2 (a registered node, its own key) tunnels packets claiming MN1's home
    // address, and a third party's.
    for inner_src in [HOA, CN, HA] {
        let frame = mn2.data_under(Slot::Newest, inner_src, COA2, b"spoofed");
        assert_eq!(
            p.handle_at_ha(frame).0,
            ha::Received::Dropped(DropReason::SpoofedInnerSource),
            "{inner_src}"
        );
    }
    assert_eq!(p.ha_counters().dropped(DropReason::SpoofedInnerSource), 3);
    assert_eq!(p.ha_counters().attacks, 3);
    assert_eq!(p.ha_forwarded.len(), forwarded, "nothing forwarded");
    // Its own home address from its bound care-of address is fine; from another
    // care-of address it is not.
    let own = mn2.data_under(Slot::Newest, HOA2, COA2, b"own");
    assert!(matches!(
        p.handle_at_ha(own).0,
        ha::Received::Delivered { .. }
    ));
    let moved = mn2.data_under(Slot::Newest, HOA2, COA, b"elsewhere");
    assert_eq!(
        p.handle_at_ha(moved).0,
        ha::Received::Dropped(DropReason::WrongCareOf)
    );
    // The MN engine refuses to seal such a packet in the first place.
    let inner = udp_packet(CN, HOA, b"x");
    let mut buf = vec![0; 200];
    buf[mip6_wire::frames::DATA_HEADROOM..][..inner.len()].copy_from_slice(&inner);
    assert_eq!(
        p.mn.seal_data(p.now, &mut buf, inner.len()),
        Err(mn::DataError::WrongInnerSource(CN))
    );
    assert_eq!(snap(&p), before);
}

#[test]
fn replayed_data_frames_are_dropped() {
    let mut p = explicit("attack_replayed_data");
    p.establish();
    p.mn_send_data(b"up").expect("sealed");
    p.ha_send_data(b"down").expect("sealed");
    let up = p.peek_to_ha().clone();
    let down = p.peek_to_mn().clone();
    p.deliver_all();
    assert_eq!((p.ha_forwarded.len(), p.mn_received.len()), (1, 1));
    let before = snap(&p);
    for _ in 0..3 {
        assert_eq!(
            p.handle_at_ha(up.frame.clone()).0,
            ha::Received::Dropped(DropReason::Replayed)
        );
        assert_eq!(
            p.handle_at_mn(down.frame.clone()).0,
            mn::Received::Dropped(mn::DropReason::Replayed)
        );
    }
    assert_eq!((p.ha_forwarded.len(), p.mn_received.len()), (1, 1));
    assert_eq!(p.ha_counters().dropped(DropReason::Replayed), 3);
    assert_eq!(p.mn_counters().dropped(mn::DropReason::Replayed), 3);
    assert_eq!(snap(&p), before);
    p.assert_data_flows();
}

#[test]
fn forged_data_frames_are_dropped() {
    let mut p = explicit("attack_forged_data");
    p.establish();
    let up = p
        .mn_seal_data(b"a genuine packet from the mobile node")
        .expect("sealed");
    let down = p
        .ha_seal_data(b"a genuine packet to the mobile node")
        .expect("sealed");
    let esp_start = 40;
    let before = snap(&p);

    // Every single-bit flip in the ESP part (SPI, sequence number, IV, ciphertext,
    // ICV) is dropped; none is delivered, and none disturbs the replay window.
    let (ha_drops, mn_drops) = (
        p.ha_counters().total_drops(),
        p.mn_counters().dropped_total(),
    );
    let mut flips = 0;
    for byte in esp_start..up.len() {
        for bit in [0x01, 0x80] {
            let mut forged = up.clone();
            forged[byte] ^= bit;
            let seq = esp_header(&forged).expect("an ESP frame").1;
            let r = p.handle_at_ha(forged).0;
            let expected = match byte - esp_start {
                0..=3 => DropReason::UnknownSpi,
                4..=7 if seq == 0 => DropReason::Replayed,
                _ => DropReason::BadIcv,
            };
            assert_eq!(
                r,
                ha::Received::Dropped(expected),
                "byte {byte} bit {bit:#x}"
            );
            flips += 1;
        }
    }
    for byte in esp_start..down.len() {
        let mut forged = down.clone();
        forged[byte] ^= 0x10;
        let r = p.handle_at_mn(forged).0;
        assert!(
            matches!(
                r,
                mn::Received::Dropped(mn::DropReason::UnknownSpi | mn::DropReason::Integrity)
            ),
            "byte {byte}: {r:?}"
        );
    }
    assert_eq!(p.ha_counters().total_drops(), ha_drops + flips);
    assert_eq!(
        p.mn_counters().dropped_total(),
        mn_drops + (down.len() - esp_start) as u64
    );
    assert!(p.ha_forwarded.is_empty() && p.mn_received.is_empty());
    assert_eq!(snap(&p), before);

    // Random bytes, and random bytes behind a valid header naming a live SA.
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    for i in 0..300 {
        let len = (rng.next_u32() % 200) as usize;
        let mut junk = vec![0; len];
        rng.fill_bytes(&mut junk);
        if i % 2 == 1 && len > 60 {
            junk[..esp_start + 8].copy_from_slice(&up[..esp_start + 8]);
            let payload_len = u16::try_from(len - 40).expect("short");
            junk[4..6].copy_from_slice(&payload_len.to_be_bytes());
        }
        assert!(matches!(
            p.handle_at_ha(junk.clone()).0,
            ha::Received::Dropped(_)
        ));
        assert!(matches!(p.handle_at_mn(junk).0, mn::Received::Dropped(_)));
    }
    assert!(p.ha_forwarded.is_empty() && p.mn_received.is_empty());
    assert_eq!(snap(&p), before);

    // The genuine frames, after all that, are still taken.
    assert!(matches!(
        p.handle_at_ha(up).0,
        ha::Received::Delivered { .. }
    ));
    assert!(matches!(
        p.handle_at_mn(down).0,
        mn::Received::Delivered { .. }
    ));
}

#[test]
fn old_ba_replayed_to_the_mn_moves_no_key_backwards() {
    let mut p = Pair::with({
        let mut c = PairConfig::new(RequestMode::Explicit).named("attack_old_ba");
        c.mn.key_update_interval = Some(core::time::Duration::from_secs(100));
        c
    });
    // Capture every BA on its way: the initialization's and each update's.
    p.start(COA);
    p.deliver_to_ha();
    let init_ba = p.peek_to_mn().clone();
    p.deliver_to_mn();
    let mut update_bas = Vec::new();
    for n in 1..=3 {
        p.advance_to_next_deadline();
        p.deliver_to_ha();
        let ba = p.peek_to_mn().clone();
        assert_eq!(p.decode(&ba.frame).distributed(), Some(n + 1));
        update_bas.push(ba);
        p.deliver_to_mn();
    }
    // Both at N = 4; the BAs carrying 1..=4 were sealed with init, 1, 2, 3 (each
    // update's BA under N, the key its BU came under).
    p.assert_mn_keys(g(4), &[g(4), g(3), INIT]);
    let sealed: Vec<_> = std::iter::once(&init_ba)
        .chain(&update_bas)
        .map(|ba| p.sealed_with(ba))
        .collect();
    assert_eq!(sealed, [INIT, g(1), g(2), g(3)]);
    let before = snap(&p);
    let counters = p.mn_counters();
    for ba in std::iter::once(&init_ba).chain(&update_bas) {
        let r = p.handle_at_mn(ba.frame.clone()).0;
        let sealed = p.sealed_with(ba);
        // Under a key the MN still holds (init, anterior 3): the window refuses it.
        let expected = if sealed == INIT || sealed == g(3) {
            mn::DropReason::Replayed
        } else {
            mn::DropReason::UnknownSpi
        };
        assert_eq!(
            r,
            mn::Received::Dropped(expected),
            "BA sealed with {sealed:?}"
        );
    }
    assert_eq!(snap(&p), before);
    assert_eq!(p.mn_counters().keys_installed, counters.keys_installed);

    // A duplicated BA in flight (the one carrying 5, sealed with 4): by the time the
    // copy arrives the MN has moved to 5 and kept 4 as anterior, so the copy is a
    // replay under 4.
    p.advance_to_next_deadline();
    p.deliver_to_ha();
    assert_eq!(p.sealed_with(p.peek_to_mn()), g(4));
    p.duplicate_next_to_mn();
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        p.deliver_to_mn(),
        mn::Received::Dropped(mn::DropReason::Replayed)
    );
    p.assert_mn_keys(g(5), &[g(5), g(4), INIT]);
    // A duplicated plain BA (a binding refresh, sealed with 4, which the MN keeps):
    // the copy is a replay.
    p.move_to(Some(COA2));
    p.deliver_to_ha();
    assert_eq!(p.decode(&p.peek_to_mn().frame).distributed(), None);
    assert_eq!(p.sealed_with(p.peek_to_mn()), g(4));
    p.duplicate_next_to_mn();
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        p.deliver_to_mn(),
        mn::Received::Dropped(mn::DropReason::Replayed)
    );
    p.assert_mn_keys(g(5), &[g(5), g(4), INIT]);

    // A restarted MN has fresh inbound windows: the initialization's BA opens under
    // init again, but it answers no BU of this run, and installs nothing.
    p.restart_mn(RestorePolicy::Reinitialize);
    p.move_to(Some(COA));
    let r = p.handle_at_mn(init_ba.frame.clone()).0;
    assert!(
        matches!(
            r,
            mn::Received::Dropped(
                mn::DropReason::SequenceMismatch | mn::DropReason::InitEchoMismatch
            )
        ),
        "{r:?}"
    );
    p.assert_mn_keys(INIT, &[INIT]);
    assert_eq!(p.mn_counters().keys_installed, 0);
    // Its own initialization completes normally.
    p.deliver_all();
    p.assert_mn_keys(g(1), &[g(1), INIT]);
    p.assert_data_flows();
}

/// Implicit mode: a BU under the init SPI means "initialize" and carries no timestamp,
/// so only the init SA's replay state guards it. A first BU captured and never
/// delivered, replayed after the node deregistered, must not re-create the binding nor
/// draw a new generation (found by this suite; fixed by making init-SA frames arrive
/// in increasing order in the implicit mode).
#[test]
fn implicit_mode_undelivered_init_bu_replayed_after_deregistration_moves_nothing() {
    let mut p = Pair::new(RequestMode::Implicit);
    p.start(COA);
    let intercepted = p.drop_next_to_ha();
    p.advance_to_next_deadline();
    p.deliver_all();
    assert!(p.binding().is_some(), "the retransmitted BU registered");
    p.advance_by(core::time::Duration::from_secs(10));
    p.move_to(None);
    p.deliver_all();
    assert_eq!(p.binding(), None, "deregistered");
    let before = snap(&p);
    let replays_before = p.ha.counters().dropped(ha::DropReason::Replayed);
    let (outcome, _) = p.handle_at_ha(intercepted.frame);
    assert_eq!(outcome, ha::Received::Dropped(ha::DropReason::Replayed));
    assert_eq!(
        p.ha.counters().dropped(ha::DropReason::Replayed),
        replays_before + 1
    );
    assert_eq!(snap(&p), before, "nothing moved");
}

// ----- issue 12: the care-of address, late BUs ----------------------------------------

/// An address on no link of the lab: where an on-path attacker points a BU.
const ATTACKER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x66, 0, 0, 0, 0, 1);

/// Rewrites the IPv6 source of a frame (octets 8..24, RFC 8200 §3). Nothing the
/// receiver checks covers it: ESP in transport mode authenticates from the ESP header
/// on (RFC 4303 §3.1.1), and the Mobility Header checksum of a BU is taken over the
/// home address of the Home Address option (RFC 6275 §6.1.1).
fn rewrite_source(frame: &mut [u8], source: Ipv6Addr) {
    frame[8..24].copy_from_slice(&source.octets());
}

/// The IPv6 destination and the type 2 routing header's address of a frame the HA
/// sent (RFC 6275 §6.4).
fn ba_route(frame: &[u8]) -> (Ipv6Addr, Option<Ipv6Addr>) {
    let f = mip6_wire::frames::inspect(frame).expect("an ESP frame");
    (f.chain.ipv6.dst_addr, f.chain.rh2)
}

/// A home registration BU from `source` for [`HOA`] laid out as the wire contract
/// says (`IPv6(source → HA) | DestOpts(HoA) | ESP | MH(BU)`, RFC 6275 §6.1.7, §6.3)
/// but without the Alternate Care-of Address option the contract requires (RFC 6275
/// §11.7.1): what a node that leaves it out sends. Sealed under `slot` of `node`.
fn bu_without_alternate_care_of(
    node: &mut ScriptedMn,
    slot: Slot,
    source: Ipv6Addr,
    update: mip6_wire::mh::BindingUpdateRepr,
) -> Vec<u8> {
    use mip6_wire::esp;
    use mip6_wire::ext::{ChainRepr, NextHeader};
    use mip6_wire::mh::{self, Message, MH_NEXT_HEADER};

    let mh = mh::Repr::new(Message::BindingUpdate(update), &[]);
    let mh_len = mh.buffer_len();
    let esp_len = esp::sealed_len(mh_len);
    let chain = ChainRepr {
        src_addr: source,
        dst_addr: HA,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
        rh2: None,
        home_address: Some(HOA),
        next_header: NextHeader::ESP,
        payload_len: esp_len,
    };
    let header_len = chain.buffer_len();
    let mut buf = vec![0; header_len + esp_len];
    chain.emit(&mut buf).expect("a chain layout");
    let esp_area = &mut buf[header_len..];
    mh.emit_into(
        &mut esp_area[esp::PAYLOAD_OFFSET..esp::PAYLOAD_OFFSET + mh_len],
        &HOA,
        &HA,
    );
    let sa = node.keys.get_mut(slot).expect("slot filled").outbound_mut();
    sa.seal(esp_area, mh_len, MH_NEXT_HEADER)
        .expect("a BU seals");
    buf
}

/// The BA at the head of the queue to the MN: its status, sequence number, the
/// generation its Key Distribution carries and its echoed Key Initialization timestamp.
#[track_caller]
fn head_ba(p: &Pair) -> (BaStatus, u16, Option<u32>, Option<u64>) {
    let d = p.decode(&p.peek_to_mn().frame);
    let Content::Ba {
        status,
        sequence,
        distribution,
        echo,
    } = d.content
    else {
        panic!("not a BA: {d:?}")
    };
    (status, sequence, distribution.map(|d| d.generation), echo)
}

/// RFC 6275 §9.5.1: "If the Alternate Care-of Address option is present, the care-of
/// address is the address in that option"; §11.7.1: the option is in every home
/// registration because ESP cannot protect the care-of address in the IPv6 header
/// (docs/architecture.md "Alternate CoA rule": the HA binds to the authenticated
/// option, never to the IPv6 source). An on-path attacker rewrites the outer source of
/// the MN's genuine, ESP-protected BU: the BU still opens and is accepted, the binding
/// and the BA follow the Alternate CoA, and the rewritten source gains nothing.
#[test]
fn genuine_bu_with_rewritten_outer_source_binds_the_alternate_care_of_address() {
    // Rewritten to an address of nobody's, and to the care-of address the MN leaves.
    for (case, forged_source) in [("elsewhere", ATTACKER), ("old_coa", COA)] {
        let mut p = explicit(&format!("attack_rewritten_source_{case}"));
        p.establish();
        p.assert_data_flows();
        p.advance_by(core::time::Duration::from_secs(5));
        p.move_to(Some(COA2));
        let genuine = p.drop_next_to_ha();
        let Content::Bu {
            sequence,
            home_address,
            alt_coa,
            ..
        } = p.decode(&genuine.frame).content
        else {
            panic!("the MN sent no BU")
        };
        assert_eq!((home_address, alt_coa), (Some(HOA), Some(COA2)));
        let mut forged = genuine.frame.clone();
        rewrite_source(&mut forged, forged_source);
        let counters = p.ha_counters();
        p.take_ha_events();

        let r = p.handle_at_ha(forged).0;
        assert!(matches!(r, ha::Received::Consumed { .. }), "{case}: {r:?}");
        assert_eq!(p.ha_counters().bu_accepted, counters.bu_accepted + 1);
        assert_eq!(
            p.ha_counters().refusals,
            counters.refusals,
            "{case}: nothing refused"
        );
        let b = p.binding().expect("bound");
        assert_eq!(
            (b.care_of_address, b.sequence.0),
            (COA2, sequence),
            "{case}: the binding follows the Alternate CoA"
        );
        let routes: Vec<_> = p
            .ha_events
            .iter()
            .filter_map(|e| match e {
                ha::Event::Route(r) => Some(*r),
                _ => None,
            })
            .collect();
        assert_eq!(
            routes,
            [ha::RouteChange::Install {
                home_address: HOA,
                care_of_address: COA2
            }],
            "{case}"
        );
        // One BA, accepted, to the Alternate CoA, routed to the home address.
        assert_eq!(p.to_mn.len(), 1, "{case}: one BA");
        assert_eq!(
            ba_route(&p.peek_to_mn().frame),
            (COA2, Some(HOA)),
            "{case}: the BA goes to the Alternate CoA"
        );
        assert_eq!(
            head_ba(&p),
            (BaStatus::Accepted, sequence, None, None),
            "{case}"
        );
        assert_eq!(
            p.deliver_to_mn(),
            mn::Received::Consumed {
                spi: Some(p.ha_keys().transmit_spi)
            },
            "{case}"
        );
        assert!(
            p.mn_events
                .iter()
                .any(|e| matches!(e, mn::Event::Registered { coa, .. } if *coa == COA2)),
            "{case}: the MN is registered at COA2"
        );

        // Data from the bound CoA flows; the same node's data from the forged source
        // is not the binding's.
        let mut up = p.mn_seal_data(b"from elsewhere").expect("sealed");
        rewrite_source(&mut up, forged_source);
        assert_eq!(
            p.handle_at_ha(up).0,
            ha::Received::Dropped(DropReason::WrongCareOf),
            "{case}"
        );
        let flow = p.assert_data_flows();
        assert_eq!(flow.mn_sealed_with, g(1), "{case}");
        assert_eq!(p.binding().map(|b| b.care_of_address), Some(COA2));
    }
}

/// RFC 6275 §11.7.1 requires the Alternate Care-of Address option in a home
/// registration sent with ESP, since the IPv6 source is not protected; the project
/// refuses a BU from a node away (Home Address option present) that lacks it with 174,
/// Invalid Care-of Address, and never binds the unprotected source
/// (docs/architecture.md "Alternate CoA rule"; `Refusal::MissingAlternateCareOf`).
/// Sealed under the MN's own newest key, with a sequence number the binding would take:
/// only the missing option refuses it. The refusal, having no protected address to go
/// to, goes to the IPv6 source (docs/architecture.md "Path of a Binding Update",
/// step 7), sealed with the HA's transmit key; nothing moves.
#[test]
fn bu_from_a_node_away_without_alternate_care_of_is_refused_with_174() {
    let mut p = explicit("attack_no_alternate_coa");
    p.establish();
    p.assert_data_flows();
    p.advance_by(core::time::Duration::from_secs(5));
    let before = snap(&p);
    let bound = before.binding.expect("bound");
    let next = bound.sequence.0.wrapping_add(1);
    let record = p.mn_disk.clone().expect("persisted");
    let mut node = clone_of_mn(&record, COA2, 1 << 20);

    // A move to COA2, and a refresh from the bound CoA itself: neither option-less BU
    // binds its source.
    for (i, source) in [COA2, COA].into_iter().enumerate() {
        let counters = p.ha_counters();
        let bu = bu_without_alternate_care_of(
            &mut node,
            Slot::Newest,
            source,
            home_registration(next, 150),
        );
        let r = p.handle_at_ha(bu).0;
        assert!(
            matches!(r, ha::Received::Consumed { .. }),
            "{source}: {r:?}"
        );
        let after = p.ha_counters();
        assert_eq!(
            after.refused(Refusal::MissingAlternateCareOf),
            counters.refused(Refusal::MissingAlternateCareOf) + 1
        );
        assert_eq!(after.bu_accepted, counters.bu_accepted);
        assert_eq!(
            after.refusals.iter().sum::<u64>(),
            counters.refusals.iter().sum::<u64>() + 1,
            "one refusal, no other"
        );
        assert_eq!(snap(&p), before, "{source}: nothing moved");
        assert_eq!(p.to_mn.len(), 1, "{source}: one BA");
        let ba = p.peek_to_mn().clone();
        assert_eq!(ba_route(&ba.frame), (source, Some(HOA)));
        assert_eq!(p.sealed_with(&ba), p.ha_keys().transmit);
        assert_eq!(
            head_ba(&p),
            (BaStatus::InvalidCareOfAddress, next, None, None)
        );
        assert_eq!(u8::from(BaStatus::InvalidCareOfAddress), 174);
        // The MN sent no BU: it takes nothing from the refusal.
        assert_eq!(
            p.deliver_to_mn(),
            mn::Received::Dropped(mn::DropReason::NoOutstandingUpdate),
            "refusal #{i}"
        );
        assert_eq!(snap(&p), before);
    }

    // The same sequence number with the option is taken: the option alone made the
    // difference.
    let bu = node.seal_bu(
        Some(Slot::Newest),
        home_registration(next, 150),
        COA2,
        HOA,
        &[],
    );
    let r = p.handle_at_ha(bu).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(head_ba(&p).0, BaStatus::Accepted);
    assert_eq!(
        p.binding().map(|b| (b.care_of_address, b.sequence.0)),
        Some((COA2, next))
    );
}

/// RFC 6275 §9.5.1: a BU whose sequence number is not greater than the one of the last
/// accepted BU is refused with 135, "and the last accepted sequence number in the
/// Sequence Number field"; invariant 4: it moves neither the binding nor a key. The
/// MN's own BU, carrying its Key Update Request, is captured when it is sent and
/// delivered only after the MN's newer BUs were accepted (its retransmission, a move):
/// its ESP sequence number is still inside the HA's replay window (RFC 4303 §3.4.3:
/// it was never received), so it opens, and only the BU sequence number refuses it.
/// No generation is drawn for its update request, and the BA goes to the care-of
/// address it names.
#[test]
fn late_bu_with_an_old_sequence_number_is_refused_with_the_last_accepted_one() {
    let mut p = Pair::with({
        let mut c = PairConfig::new(RequestMode::Explicit).named("attack_late_old_sequence");
        c.mn.key_update_interval = Some(core::time::Duration::from_secs(100));
        c
    });
    p.establish();
    p.assert_data_flows();
    // The MN's key-update timer: a BU with a Key Update Request, captured, lost.
    p.advance_to_next_deadline();
    let captured = p.drop_next_to_ha();
    let Content::Bu {
        sequence: old,
        alt_coa,
        key,
        ..
    } = p.decode(&captured.frame).content
    else {
        panic!("the MN sent no BU")
    };
    assert_eq!(
        (alt_coa, key),
        (Some(COA), Some(KeyOption::KeyUpdateRequest))
    );
    assert_eq!(p.sealed_with(&captured), g(1));
    // Its retransmission is accepted, then a move.
    p.advance_to_next_deadline();
    p.deliver_all();
    p.advance_by(core::time::Duration::from_secs(5));
    p.move_to(Some(COA2));
    p.deliver_all();
    p.assert_data_flows();
    let before = snap(&p);
    let last = before.binding.expect("bound").sequence.0;
    assert_eq!(before.binding.map(|b| b.care_of_address), Some(COA2));
    assert!(
        mip6_wire::mh::SequenceNumber(last).is_newer_than(mip6_wire::mh::SequenceNumber(old)),
        "newer BUs were accepted: {last} after {old}"
    );
    let counters = p.ha_counters();

    let r = p.handle_at_ha(captured.frame.clone()).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    let after = p.ha_counters();
    assert_eq!(
        after.refused(Refusal::SequenceOutOfWindow),
        counters.refused(Refusal::SequenceOutOfWindow) + 1
    );
    assert_eq!(
        (
            after.bu_accepted,
            after.key_updates,
            after.key_initializations
        ),
        (
            counters.bu_accepted,
            counters.key_updates,
            counters.key_initializations
        )
    );
    assert_eq!(snap(&p), before);
    assert_eq!(p.to_mn.len(), 1, "one BA");
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba_route(&ba.frame), (COA, Some(HOA)));
    assert_eq!(p.sealed_with(&ba), p.ha_keys().transmit);
    assert_eq!(
        head_ba(&p),
        (BaStatus::SequenceNumberOutOfWindow, last, None, None)
    );
    // The MN, with nothing outstanding, takes nothing from it.
    assert_eq!(
        p.deliver_to_mn(),
        mn::Received::Dropped(mn::DropReason::NoOutstandingUpdate)
    );
    assert_eq!(snap(&p), before);
    // A second delivery is a replay (RFC 4303 §3.4.3), unanswered.
    assert_eq!(
        p.handle_at_ha(captured.frame).0,
        ha::Received::Dropped(DropReason::Replayed)
    );
    assert!(p.to_mn.is_empty());
    assert_eq!(snap(&p), before);
    p.assert_data_flows();
}

/// RFC 4303 §3.4.3: a frame whose sequence number lies left of the receive window is
/// discarded before its ICV is even checked, and a dropped frame is never answered
/// (docs/architecture.md "Principles": it proves nothing about its sender). The
/// MN's BU is captured when it is sent and delivered after more frames under the same
/// key than the HA's window holds were accepted: it is dropped as a replay, counted,
/// and moves nothing (invariant 4).
#[test]
fn late_bu_behind_the_replay_window_is_dropped_unanswered() {
    let mut p = explicit("attack_late_behind_window");
    p.establish();
    p.assert_data_flows();
    p.advance_by(core::time::Duration::from_secs(5));
    p.move_to(Some(COA2));
    let captured = p.drop_next_to_ha();
    assert_eq!(p.sealed_with(&captured), g(1));
    p.advance_to_next_deadline();
    p.deliver_all();
    assert_eq!(p.binding().map(|b| b.care_of_address), Some(COA2));
    // A window's worth of data under generation 1 moves its right edge past the BU.
    let window = p.config.ha.replay_window.size();
    for i in 0..window {
        p.mn_send_data(format!("packet {i}").as_bytes())
            .expect("sealed");
    }
    let delivered = p.ha_forwarded.len();
    p.deliver_all();
    assert_eq!(p.ha_forwarded.len(), delivered + window as usize);
    let before = snap(&p);
    let counters = p.ha_counters();

    assert_eq!(
        p.handle_at_ha(captured.frame).0,
        ha::Received::Dropped(DropReason::Replayed)
    );
    let after = p.ha_counters();
    assert_eq!(
        after.dropped(DropReason::Replayed),
        counters.dropped(DropReason::Replayed) + 1
    );
    assert_eq!(after.refusals, counters.refusals, "not even refused");
    assert_eq!(after.ba_sent, counters.ba_sent);
    assert!(p.to_mn.is_empty(), "a drop is never answered");
    assert_eq!(snap(&p), before);
    p.assert_data_flows();
}

/// RFC 4285 §6 (the timestamp rule the wire contract takes for the Key Initialization
/// Request, docs/key-protocol.md): an initialization is taken only if its timestamp is
/// newer than the last one accepted from the node; otherwise 145, MIPV6-MESG-ID-REQD,
/// and no key or binding moves (invariant 4).
///
/// First the MN's own Key Initialization Request, captured when it is sent (its
/// retransmission, with a newer timestamp, initialized), delivered after the node
/// updated to generation 2 and moved — within the allowed skew of the HA's clock, so
/// only the order of the timestamps refuses it: under init, answered under init with
/// the timestamp echoed. Then an insider holding the node's keys sends, under the
/// newest key and with a fresh BU sequence number, a Key Initialization Request that
/// repeats the last accepted timestamp: 145 too, answered under the transmit key.
/// Finally the same insider BU with a fresh timestamp re-initializes: the timestamp
/// alone made the difference.
#[test]
fn late_key_initialization_with_an_old_timestamp_is_refused_with_145() {
    let mut p = Pair::with({
        let mut c = PairConfig::new(RequestMode::Explicit).named("attack_late_old_timestamp");
        c.mn.key_update_interval = Some(core::time::Duration::from_secs(8));
        c
    });
    p.start(COA);
    let captured = p.drop_next_to_ha();
    let first = T0.to_ntp();
    assert_eq!(
        p.decode(&captured.frame).bu_key(),
        Some(&KeyOption::KeyInitialization { timestamp: first })
    );
    p.advance_to_next_deadline();
    let Some(&KeyOption::KeyInitialization {
        timestamp: accepted,
    }) = p.decode(&p.peek_to_ha().frame).bu_key()
    else {
        panic!("the retransmission is an initialization")
    };
    assert!(accepted > first);
    p.deliver_all();
    p.assert_data_flows();
    // The MN's update timer: generation 2.
    p.advance_to_next_deadline();
    p.deliver_all();
    p.assert_mn_keys(g(2), &[g(2), g(1), INIT]);
    p.advance_by(core::time::Duration::from_secs(2));
    p.move_to(Some(COA2));
    p.deliver_all();
    p.assert_data_flows();
    let skew = p.config.ha.init_timestamp_skew;
    assert!(
        p.now.saturating_since(T0) < skew,
        "delivered within the skew: only the order refuses it"
    );
    let before = snap(&p);
    assert_eq!(before.binding.map(|b| b.care_of_address), Some(COA2));
    let counters = p.ha_counters();

    let r = p.handle_at_ha(captured.frame).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    let after = p.ha_counters();
    assert_eq!(
        after.refused(Refusal::InitTimestamp),
        counters.refused(Refusal::InitTimestamp) + 1
    );
    assert_eq!(
        (
            after.bu_accepted,
            after.key_initializations,
            after.key_updates
        ),
        (
            counters.bu_accepted,
            counters.key_initializations,
            counters.key_updates
        )
    );
    assert_eq!(snap(&p), before);
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba_route(&ba.frame), (COA, Some(HOA)));
    assert_eq!(p.sealed_with(&ba), INIT, "the BU came under init");
    let captured_seq = head_ba(&p).1;
    assert_eq!(
        head_ba(&p),
        (BaStatus::Mipv6MesgIdReqd, captured_seq, None, Some(first))
    );
    assert_eq!(u8::from(BaStatus::Mipv6MesgIdReqd), 145);
    assert_eq!(
        p.deliver_to_mn(),
        mn::Received::Dropped(mn::DropReason::NoOutstandingUpdate)
    );
    assert_eq!(snap(&p), before);

    // The insider: the node's newest key, a BU sequence number the binding would
    // take, the last accepted timestamp again.
    let record = p.mn_disk.clone().expect("persisted");
    let mut insider = clone_of_mn(&record, COA2, 1 << 20);
    let next = before.binding.expect("bound").sequence.0.wrapping_add(1);
    let counters = p.ha_counters();
    let stale = insider.seal_bu(
        Some(Slot::Newest),
        home_registration(next, 150),
        COA2,
        HOA,
        &[KeyOption::KeyInitialization {
            timestamp: accepted,
        }],
    );
    let r = p.handle_at_ha(stale).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        p.ha_counters().refused(Refusal::InitTimestamp),
        counters.refused(Refusal::InitTimestamp) + 1
    );
    assert_eq!(
        p.ha_counters().key_initializations,
        counters.key_initializations
    );
    assert_eq!(snap(&p), before);
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba_route(&ba.frame), (COA2, Some(HOA)));
    assert_eq!(p.sealed_with(&ba), p.ha_keys().transmit);
    assert_eq!(
        head_ba(&p),
        (BaStatus::Mipv6MesgIdReqd, next, None, Some(accepted))
    );
    p.drop_next_to_mn();

    // The control: the same BU with a fresh timestamp initializes.
    let fresh = insider.seal_bu(
        Some(Slot::Newest),
        home_registration(next, 150),
        COA2,
        HOA,
        &[key_initialization(p.now)],
    );
    let r = p.handle_at_ha(fresh).0;
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    assert_eq!(
        p.ha_counters().key_initializations,
        counters.key_initializations + 1
    );
    assert_eq!(head_ba(&p).0, BaStatus::Accepted);
    assert_eq!(p.ha_keys().newest, Some(1), "re-initialized");
}
