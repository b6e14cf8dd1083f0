//! The patent's operation examples (1)–(11) (reference/key-distribution-patent.txt),
//! played frame by frame between the real engines: a `HomeAgent` and a `MobileNode`
//! in a [`Pair`]. (1)–(6) use the explicit request mode, (7)–(11) the implicit one.
//!
//! After each step the tests assert, for both sides, which key transmits and which
//! keys are accepted (the patent's FIG. 1), which SA sealed the frame in flight (its
//! ESP SPI against the slot's SPI), what the frame carries (decoded with the
//! harness's copy of the keys), and — wherever both ends are up and the binding
//! exists — that a data packet gets through each way (docs/architecture.md invariant 1 with real
//! frames). Every frame the engines emit is also checked for nonce reuse (invariant
//! 2) by the harness.
//!
//! Where the engines differ from the patent's wording, by a choice documented in
//! docs/key-protocol.md, the test says so:
//! - generations are numbered by the HA and restart at 1 on an initialization (the
//!   patent calls the key drawn by an initialization "the (N+1)th key");
//! - a restarted MN engine holds only its init key, so its initialization BU is sealed
//!   with init, not with N (patent (2)); (2) also plays the literal variant, a Key
//!   Initialization Request sealed with N, from a hand-played copy of the MN;
//! - the MN retransmits a Key Update Request as a Key Resending Request (patent (5)).

use core::time::Duration;

use mip6_ha::{self as ha, DistributionKind};
use mip6_mn::{self as mn, RestorePolicy};
use mip6_tests::pair::*;
use mip6_wire::keys::{GenerationId, RequestMode, Slot};
use mip6_wire::mh::{BaStatus, KeyOption};

fn pair(mode: RequestMode, name: &str, tweak: impl FnOnce(&mut PairConfig)) -> Pair {
    let mut config = PairConfig::new(mode).named(name);
    tweak(&mut config);
    Pair::with(config)
}

/// The MN asks for a new key every 100 s (explicit mode, patent (3)).
fn mn_timer(c: &mut PairConfig) {
    c.mn.key_update_interval = Some(Duration::from_secs(100));
}

/// The HA's own key update timer runs out every 300 s (patent (6), (9)); the MN
/// refreshes its binding every 450 s (75 % of 600 s).
fn ha_timer(c: &mut PairConfig) {
    c.ha.key_update_interval = Duration::from_secs(300);
}

/// The key before `n`: N−1, or init when N is the first generation (after an
/// initialization "the initialization key is dealt with as the (N-1)th key").
fn before(n: u32) -> GenerationId {
    if n == 1 {
        INIT
    } else {
        g(n - 1)
    }
}

/// The accepted set while N is the newest: N, N−1 (or nothing), init.
fn accepted(n: u32) -> Vec<GenerationId> {
    if n == 1 {
        vec![g(1), INIT]
    } else {
        vec![g(n), g(n - 1), INIT]
    }
}

/// Both sides in the patent's steady state with N: HA transmits N−1, MN transmits N,
/// both accept N, N−1 and init.
#[track_caller]
fn assert_steady(p: &Pair, n: u32) {
    p.assert_ha_keys(before(n), &accepted(n));
    p.assert_mn_keys(g(n), &accepted(n));
    p.assert_keys_concordant();
}

/// Runs deadlines and delivers everything until both sides hold generation `n`.
#[track_caller]
fn reach(p: &mut Pair, n: u32) {
    for _ in 0..20 {
        if p.ha_keys().newest == Some(n) && p.mn_keys().newest == Some(n) {
            assert_steady(p, n);
            p.assert_data_flows();
            return;
        }
        p.advance_to_next_deadline();
        p.deliver_all();
        p.assert_keys_concordant();
    }
    panic!("generation {n} not reached: {p:?}");
}

#[track_caller]
fn data_under(p: &mut Pair, mn_key: GenerationId, ha_key: GenerationId) {
    assert_eq!(
        p.assert_data_flows(),
        DataFlow {
            mn_sealed_with: mn_key,
            ha_sealed_with: ha_key,
        }
    );
}

/// Patent (1)/(7), S100–S129 (S500–S524 in the implicit mode): an initialization
/// from a node holding only the init key.
#[track_caller]
fn initialization_from_start(p: &mut Pair, explicit: bool) {
    // Start-up: only the initialization key, set for transmission and receipt on both.
    p.assert_ha_keys(INIT, &[INIT]);
    p.assert_mn_keys(INIT, &[INIT]);

    // S100–S106 / S500–S506: the BU (with a Key Initialization Request in the
    // explicit mode, without any in the implicit one) is sealed with the init key.
    p.start(COA);
    let bu = p.peek_to_ha().clone();
    assert_eq!(bu.spi(), init_spis().mn_to_ha.get(), "S102: init SPI");
    let d = p.decode(&bu.frame);
    assert_eq!(d.sealed_with, INIT);
    let timestamp = T0.to_ntp();
    if explicit {
        assert_eq!(
            d.bu_key(),
            Some(&KeyOption::KeyInitialization { timestamp }),
            "S101"
        );
    } else {
        assert_eq!(d.bu_key(), None, "S501: no request message");
    }
    p.assert_ha_keys(INIT, &[INIT]);
    p.assert_mn_keys(INIT, &[INIT]);

    // S107–S121 / S507–S524: the HA opens it with init (S109/S510), draws a key
    // (S113/S515), sets init for transmission and new + init for receipt
    // (S114/S516–S517), and answers with the key, sealed with init (S117–S119).
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(INIT, &[g(1), INIT]);
    assert!(!p.ha_keys().newest_confirmed);
    assert_eq!(p.ha_key_events(), [(DistributionKind::Initialization, 1)]);
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba.spi(), init_spis().ha_to_mn.get(), "S117: init SPI");
    let d = p.decode(&ba.frame);
    assert_eq!(d.sealed_with, INIT);
    assert_eq!(d.ba_status(), Some(BaStatus::Accepted));
    assert_eq!(d.distributed(), Some(1), "S116: Key Distribution");
    let Content::Ba { echo, .. } = d.content else {
        unreachable!()
    };
    assert_eq!(echo, explicit.then_some(timestamp), "nonce echoed");
    // The MN still transmits with init, which the HA still accepts: data flows.
    p.assert_mn_keys(INIT, &[INIT]);
    p.assert_keys_concordant();
    data_under(p, INIT, INIT);

    // S122–S129: the MN opens the BA with init (S125), sets the new key for
    // transmission and receipt, keeps init for receipt only.
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(p, 1);
    data_under(p, g(1), INIT);
    assert!(
        p.ha_keys().newest_confirmed,
        "a frame under N proves the MN has it"
    );
    assert_eq!(p.binding().map(|b| b.care_of_address), Some(COA));
    assert!(p.to_ha.is_empty() && p.to_mn.is_empty());
}

/// One MN-requested update from N to N+1 (patent (3), S200–S224, S122–S129).
#[track_caller]
fn mn_requested_update(p: &mut Pair, n: u32) {
    assert_steady(p, n);
    let ha_before = p.ha_spis();
    let updates = p.ha_counters().key_updates;

    // S200–S208: the MN's key update timer runs out; the BU carries a Key Update
    // Request and is sealed with N.
    p.advance_to_next_deadline();
    let bu = p.peek_to_ha().clone();
    let d = p.decode(&bu.frame);
    assert_eq!(d.sealed_with, g(n), "S205: sealed with N");
    assert_eq!(bu.spi(), p.mn_spis().of(g(n)).mn_to_ha.get());
    assert_eq!(d.bu_key(), Some(&KeyOption::KeyUpdateRequest), "S203");
    assert_steady(p, n);
    data_under(p, g(n), before(n));

    // S209–S218: the HA opens it with N (S212), draws N+1 (S216), keeps N and N+1 for
    // receipt, N for transmission, deletes N−1 (S217) ...
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(g(n), &[g(n + 1), g(n), INIT]);
    assert_eq!(p.ha_counters().key_updates, updates + 1);
    // ... S219–S224: and the BA carrying N+1 is sealed with N, the transmit key once
    // N+1 is installed (S217) and the key the MN's BU came under. The patent's S221
    // says "(N−1)th"; the project settled on N (docs/architecture.md "Key
    // distribution", issue 12): N−1 was just deleted (S217), and the resend of (4)
    // goes under N too.
    let ba = p.peek_to_mn().clone();
    assert_eq!(
        ba.spi(),
        ha_before.of(g(n)).ha_to_mn.get(),
        "S221 as settled: BA sealed with the Nth key"
    );
    let d = p.decode(&ba.frame);
    assert_eq!(d.sealed_with, g(n));
    assert_ne!(d.sealed_with, before(n));
    assert_eq!(d.distributed(), Some(n + 1));
    // While N+1 is in flight: the MN transmits N (the HA's anterior), the HA transmits
    // N (the MN's newest).
    p.assert_mn_keys(g(n), &accepted(n));
    p.assert_keys_concordant();
    data_under(p, g(n), g(n));

    // S122–S129: the MN opens the BA with N (S125 says N−1; settled as above) and
    // moves to N+1.
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(p, n + 1);
    data_under(p, g(n + 1), g(n));
}

/// One HA-timer update from N to N+1 at the MN's next plain BU (patent (6) S400–S412,
/// (9) S600–S617).
#[track_caller]
fn ha_timer_update(p: &mut Pair, n: u32) {
    assert_steady(p, n);
    let ha_before = p.ha_spis();
    // S400/S600: the HA's timer runs out; S401/S412 (S601): a flag for this MN, no
    // frame yet.
    while !p.ha_keys().update_due {
        p.advance_to_next_deadline();
        assert!(p.to_ha.is_empty(), "no BU before the HA's timer: {p:?}");
    }
    assert!(p.to_mn.is_empty());
    assert_steady(p, n);
    data_under(p, g(n), before(n));

    // The MN's next BU (a binding refresh) carries no request, sealed with N.
    p.advance_to_next_deadline();
    let bu = p.peek_to_ha().clone();
    let d = p.decode(&bu.frame);
    assert_eq!(d.sealed_with, g(n));
    assert_eq!(
        d.bu_key(),
        None,
        "the BU contains none of the predetermined messages"
    );
    assert!(p.ha_keys().update_due);

    // S402–S404 (S602–S605, S613–S617): BU under N with the flag on: N+1 drawn, N
    // transmits, N−1 deleted; S406–S411: the BA carries N+1, sealed with N (S408
    // says N−1: settled as for S221 above); the flag goes off once it is sent.
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(g(n), &[g(n + 1), g(n), INIT]);
    assert!(!p.ha_keys().update_due, "S411: flag OFF after the BA");
    let ba = p.peek_to_mn().clone();
    assert_eq!(
        ba.spi(),
        ha_before.of(g(n)).ha_to_mn.get(),
        "S408 as settled"
    );
    let d = p.decode(&ba.frame);
    assert_eq!(d.sealed_with, g(n));
    assert_eq!(d.distributed(), Some(n + 1));
    p.assert_keys_concordant();
    data_under(p, g(n), g(n));

    // S122–S129.
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(p, n + 1);
    data_under(p, g(n + 1), g(n));
}

#[test]
fn patent_1_initialization_request_distributes_first_key() {
    let mut p = pair(RequestMode::Explicit, "patent_1", |_| {});
    initialization_from_start(&mut p, true);
}

#[test]
fn patent_2_initialization_request_under_nth_key() {
    let mut p = pair(RequestMode::Explicit, "patent_2", mn_timer);
    p.establish();
    reach(&mut p, 2);
    let registered_seq = p.binding().expect("bound").sequence;

    // The literal example: the MN keeps N and N−1 and asks for initialization with a
    // BU sealed with N (S100–S106). The MN engine never does this (a restart drops
    // the dynamic keys, see below), so a hand-played copy of its keys sends it.
    let record = p.mn_disk.clone().expect("MN persisted");
    let mut literal = clone_of_mn(&record, COA, 1 << 20);
    let timestamp = p.now.to_ntp();
    let bu = literal.seal_bu(
        Some(Slot::Newest),
        home_registration(registered_seq.next().0, 150),
        COA,
        HOA,
        &[KeyOption::KeyInitialization { timestamp }],
    );
    assert_eq!(p.decode(&bu).sealed_with, g(2), "S102: sealed with N");
    p.inject_to_ha(bu);
    // S107–S115: opened with N (S109); a new key; init for transmission, the new key
    // and init for receipt, N and N−1 deleted (S114).
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(INIT, &[g(1), INIT]);
    assert_eq!(
        p.ha_key_events().last(),
        Some(&(DistributionKind::Initialization, 1))
    );
    // S116–S121: the BA carrying the key is sealed with init, echoing the nonce.
    let ba = p.drop_next_to_mn();
    assert_eq!(ba.spi(), init_spis().ha_to_mn.get(), "S117–S119: init");
    let ba = literal.take_ba(ba.frame);
    assert_eq!(ba.slot, Slot::Init, "S125: opened with init");
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.distribution.map(|d| d.generation), Some(1));
    assert_eq!(ba.echo, Some(timestamp));

    // The engine's way (docs/key-protocol.md): the restart that decides the
    // initialization (S100) leaves the MN with only its init key, so the Key
    // Initialization Request is sealed with init; the HA initializes the same way.
    p.advance_by(Duration::from_secs(1));
    p.restart_mn(RestorePolicy::Reinitialize);
    p.assert_mn_keys(INIT, &[INIT]);
    p.move_to(Some(COA));
    let bu = p.peek_to_ha().clone();
    let d = p.decode(&bu.frame);
    assert_eq!(d.sealed_with, INIT);
    assert_eq!(
        d.bu_key(),
        Some(&KeyOption::KeyInitialization {
            timestamp: p.now.to_ntp()
        })
    );
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(INIT, &[g(1), INIT]);
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba.spi(), init_spis().ha_to_mn.get());
    assert_eq!(p.decode(&ba.frame).distributed(), Some(1));
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(&p, 1);
    data_under(&mut p, g(1), INIT);
}

#[test]
fn patent_3_update_request_distributes_next_key() {
    let mut p = pair(RequestMode::Explicit, "patent_3", mn_timer);
    p.establish();
    // The first update after the initialization: init plays the (N−1)th key.
    mn_requested_update(&mut p, 1);
    // The example proper, N = 2: the BA carrying N+1 = 3 is sealed with N = 2.
    mn_requested_update(&mut p, 2);
    mn_requested_update(&mut p, 3);
    assert_eq!(p.ha_counters().key_updates, 3);
    assert_eq!(p.ha_counters().key_resends, 0);
}

#[test]
fn patent_4_lost_key_distribution_is_resent() {
    let mut p = pair(RequestMode::Explicit, "patent_4", mn_timer);
    p.establish();
    reach(&mut p, 2);
    let n = 2;

    // Example (3) up to S224: a Key Update Request under N, N+1 drawn ...
    p.advance_to_next_deadline();
    assert_eq!(
        p.decode(&p.peek_to_ha().frame).bu_key(),
        Some(&KeyOption::KeyUpdateRequest)
    );
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(g(n), &[g(n + 1), g(n), INIT]);
    let generated = p.ha_spis().of(g(n + 1));
    // ... and the BA carrying N+1 is discarded midway (FIG. 16: only the HA updated).
    let lost = p.drop_next_to_mn();
    assert_eq!(p.decode(&lost.frame).distributed(), Some(n + 1));
    p.assert_mn_keys(g(n), &accepted(n));
    // The HA transmits with N, which the MN accepts; the MN with N, which the HA
    // accepts: communication goes on with the distribution lost.
    p.assert_keys_concordant();
    data_under(&mut p, g(n), g(n));
    assert!(!p.ha_keys().newest_confirmed);

    // S300–S306: no BA in time; the BU goes again with a Key Resending Request,
    // sealed with N (S303–S304).
    p.advance_to_next_deadline();
    assert_eq!(p.now, T0 + Duration::from_millis(200_000 + 1500));
    let bu = p.peek_to_ha().clone();
    let d = p.decode(&bu.frame);
    assert_eq!(d.sealed_with, g(n));
    assert_eq!(d.bu_key(), Some(&KeyOption::KeyResendingRequest), "S301");
    p.assert_mn_keys(g(n), &accepted(n));
    p.assert_ha_keys(g(n), &[g(n + 1), g(n), INIT]);

    // S307–S320: opened with N (S310); N+1 is sent again, not regenerated (S314),
    // sealed with N (S317).
    let ha_before = p.ha_spis();
    let counters = p.ha_counters();
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(g(n), &[g(n + 1), g(n), INIT]);
    assert_eq!(p.ha_spis(), ha_before, "nothing drawn");
    assert_eq!(p.ha_counters().key_updates, counters.key_updates);
    assert_eq!(p.ha_counters().key_resends, counters.key_resends + 1);
    assert_eq!(
        p.ha_key_events().last(),
        Some(&(DistributionKind::Resend, n + 1))
    );
    let ba = p.peek_to_mn().clone();
    assert_eq!(
        ba.spi(),
        ha_before.of(g(n)).ha_to_mn.get(),
        "S317: the Nth key"
    );
    let d = p.decode(&ba.frame);
    assert_eq!(d.sealed_with, g(n));
    let Content::Ba { distribution, .. } = &d.content else {
        unreachable!()
    };
    let resent = distribution.as_ref().expect("Key Distribution");
    assert_eq!(resent.generation, n + 1);
    assert_eq!(
        (resent.spi_mn_to_ha, resent.spi_ha_to_mn),
        (generated.mn_to_ha.get(), generated.ha_to_mn.get()),
        "the same generation, not a new one"
    );
    data_under(&mut p, g(n), g(n));

    // S122–S129: the MN sets N+1.
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(&p, n + 1);
    data_under(&mut p, g(n + 1), g(n));
    assert!(p.ha_keys().newest_confirmed);
}

#[test]
fn patent_5_ha_fault_mn_falls_back_to_init_key() {
    let mut p = pair(RequestMode::Explicit, "patent_5", mn_timer);
    p.establish();
    reach(&mut p, 2);
    let n = 2;

    // Example (3): the MN's Key Update Request under N is in flight ...
    p.advance_to_next_deadline();
    assert_eq!(
        p.decode(&p.peek_to_ha().frame).bu_key(),
        Some(&KeyOption::KeyUpdateRequest)
    );
    // ... when the HA loses N and N−1 (a fault; it keeps only what even a stateless
    // HA persists: the init key's nonce and replay state).
    p.restart_ha(HaRestore::DurableMinimum);
    p.assert_ha_keys(INIT, &[INIT]);
    assert_eq!(p.binding(), None);
    p.assert_mn_keys(g(n), &accepted(n));

    // The BU and both resends go unanswered: nothing the HA holds opens them.
    let drops = p.ha_counters().dropped(ha::DropReason::UnknownSpi);
    assert_eq!(
        p.deliver_to_ha(),
        ha::Received::Dropped(ha::DropReason::UnknownSpi)
    );
    // Discordance during the fault: the MN's data under N is lost, the HA has no
    // binding to tunnel to.
    let up = p.mn_seal_data(b"during the fault").expect("sealed");
    assert_eq!(
        p.handle_at_ha(up).0,
        ha::Received::Dropped(ha::DropReason::UnknownSpi)
    );
    assert_eq!(p.ha_seal_data(b"x"), Err(ha::DataError::NotBound(HOA)));
    for resend in 1..=2 {
        p.advance_to_next_deadline();
        let d = p.decode(&p.peek_to_ha().frame);
        assert_eq!(d.sealed_with, g(n), "resend {resend} still under N");
        assert_eq!(d.bu_key(), Some(&KeyOption::KeyResendingRequest));
        assert_eq!(
            p.deliver_to_ha(),
            ha::Received::Dropped(ha::DropReason::UnknownSpi)
        );
        p.assert_mn_keys(g(n), &accepted(n));
        p.assert_ha_keys(INIT, &[INIT]);
    }
    assert_eq!(
        p.ha_counters().dropped(ha::DropReason::UnknownSpi),
        drops + 4
    );
    assert!(p.to_mn.is_empty(), "no BA");

    // No BA for the resent BU either: the MN initializes its dynamic keys and sends a
    // Key Initialization Request under init (S101–S106).
    p.advance_to_next_deadline();
    p.assert_mn_keys(INIT, &[INIT]);
    assert!(p.take_mn_events().contains(&mn::Event::KeysDropped));
    let bu = p.peek_to_ha().clone();
    assert_eq!(bu.spi(), init_spis().mn_to_ha.get());
    let d = p.decode(&bu.frame);
    let timestamp = p.now.to_ntp();
    assert_eq!(
        d.bu_key(),
        Some(&KeyOption::KeyInitialization { timestamp })
    );
    p.assert_keys_concordant();

    // S107–S121 at the HA: initialization, BA with the key sealed with init.
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(INIT, &[g(1), INIT]);
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba.spi(), init_spis().ha_to_mn.get());
    assert_eq!(p.decode(&ba.frame).distributed(), Some(1));
    data_under(&mut p, INIT, INIT);

    // S122–S129: back to the normal state.
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(&p, 1);
    data_under(&mut p, g(1), INIT);
    assert_eq!(p.binding().map(|b| b.care_of_address), Some(COA));
}

#[test]
fn patent_6_ha_timer_updates_at_next_bu() {
    let mut p = pair(RequestMode::Explicit, "patent_6", ha_timer);
    p.establish();
    // The first HA-timer update after the initialization (init plays N−1) ...
    ha_timer_update(&mut p, 1);
    // ... and the example proper, N = 2.
    ha_timer_update(&mut p, 2);
    assert_eq!(p.ha_counters().key_updates, 2);
    assert_eq!(p.mn_counters().keys_installed, 3);
}

#[test]
fn patent_7_bu_under_init_spi_initializes() {
    let mut p = pair(RequestMode::Implicit, "patent_7", |_| {});
    initialization_from_start(&mut p, false);
}

#[test]
fn patent_8_bu_under_init_spi_while_holding_nth_key() {
    let mut p = pair(RequestMode::Implicit, "patent_8", ha_timer);
    p.establish();
    reach(&mut p, 2);
    let old = p.ha_spis();

    // S500: the MN restarts; the restarted engine holds only the init key.
    p.restart_mn(RestorePolicy::Reinitialize);
    p.assert_mn_keys(INIT, &[INIT]);
    p.assert_ha_keys(g(1), &accepted(2));
    // The HA still transmits with N−1, which the restarted MN no longer holds.
    let down = p.ha_seal_data(b"to a restarted node").expect("bound");
    assert_eq!(
        p.handle_at_mn(down).0,
        mn::Received::Dropped(mn::DropReason::UnknownSpi)
    );

    // S501–S506: a BU without any request message, sealed with init.
    p.move_to(Some(COA));
    let bu = p.peek_to_ha().clone();
    assert_eq!(bu.spi(), init_spis().mn_to_ha.get(), "S502");
    let d = p.decode(&bu.frame);
    assert_eq!(d.sealed_with, INIT);
    assert_eq!(d.bu_key(), None);

    // S507–S518: opened with init (S510), judged from the SPI (S513), a new key
    // (S515), init for transmission, new + init for receipt, N and N−1 and their
    // SPIs deleted (S516–S517).
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(INIT, &[g(1), INIT]);
    let new = p.ha_spis().of(g(1));
    assert_ne!(new, old.of(g(1)), "a fresh key, not the old generation 1");
    assert_eq!(
        p.ha_key_events().last(),
        Some(&(DistributionKind::Initialization, 1))
    );
    // S519–S524: the BA with the key, sealed with init.
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba.spi(), init_spis().ha_to_mn.get(), "S521");
    assert_eq!(p.decode(&ba.frame).distributed(), Some(1));
    p.assert_keys_concordant();
    data_under(&mut p, INIT, INIT);

    // S122–S129.
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(&p, 1);
    data_under(&mut p, g(1), INIT);
}

#[test]
fn patent_9_ha_timer_update_implicit_mode() {
    let mut p = pair(RequestMode::Implicit, "patent_9", ha_timer);
    p.establish();
    ha_timer_update(&mut p, 1);
    ha_timer_update(&mut p, 2);
    ha_timer_update(&mut p, 3);
    assert_eq!(p.ha_counters().key_updates, 3);
}

#[test]
fn patent_10_bu_under_anterior_spi_resends() {
    let mut p = pair(RequestMode::Implicit, "patent_10", ha_timer);
    p.establish();
    reach(&mut p, 2);
    let n = 2;

    // Example (9) up to S611: the HA's flag is on, the MN's refresh under N makes the
    // HA draw N+1 ...
    while !p.ha_keys().update_due {
        p.advance_to_next_deadline();
    }
    p.advance_to_next_deadline();
    assert_eq!(p.decode(&p.peek_to_ha().frame).sealed_with, g(n));
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(g(n), &[g(n + 1), g(n), INIT]);
    let generated = p.ha_spis().of(g(n + 1));
    // ... and the BA carrying it is discarded midway (FIG. 16).
    let lost = p.drop_next_to_mn();
    assert_eq!(p.decode(&lost.frame).sealed_with, g(n));
    assert_eq!(p.decode(&lost.frame).distributed(), Some(n + 1));
    p.assert_mn_keys(g(n), &accepted(n));
    p.assert_keys_concordant();
    data_under(&mut p, g(n), g(n));

    // S700–S706: no BA in time; the same plain BU again, sealed with N.
    p.advance_to_next_deadline();
    let bu = p.peek_to_ha().clone();
    let d = p.decode(&bu.frame);
    assert_eq!(d.sealed_with, g(n), "S703: the Nth key");
    assert_eq!(d.bu_key(), None, "no key resending request message");
    assert_eq!(bu.spi(), p.ha_spis().of(g(n)).mn_to_ha.get());

    // S707–S722: the SPI is the HA's anterior one (S714): the MN lacks N+1; it is
    // sent again without generating a key (S716), sealed with N (S719).
    let ha_before = p.ha_spis();
    let updates = p.ha_counters().key_updates;
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(g(n), &[g(n + 1), g(n), INIT]);
    assert_eq!(p.ha_spis(), ha_before);
    assert_eq!(p.ha_counters().key_updates, updates);
    assert_eq!(p.ha_counters().key_resends, 1);
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba.spi(), ha_before.of(g(n)).ha_to_mn.get(), "S719");
    let d = p.decode(&ba.frame);
    let Content::Ba { distribution, .. } = &d.content else {
        unreachable!()
    };
    let resent = distribution.as_ref().expect("Key Distribution");
    assert_eq!(resent.generation, n + 1);
    assert_eq!(resent.spi_mn_to_ha, generated.mn_to_ha.get());
    data_under(&mut p, g(n), g(n));

    // S122–S129.
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(&p, n + 1);
    data_under(&mut p, g(n + 1), g(n));
}

#[test]
fn patent_11_ha_fault_implicit_mode_reinitializes() {
    let mut p = pair(RequestMode::Implicit, "patent_11", ha_timer);
    p.establish();
    reach(&mut p, 2);
    let n = 2;

    // The HA loses N and N−1.
    p.restart_ha(HaRestore::DurableMinimum);
    p.assert_ha_keys(INIT, &[INIT]);
    p.assert_mn_keys(g(n), &accepted(n));

    // The MN's next BU (no request message) under N, and its resend, go unanswered.
    for attempt in 0..=2 {
        p.advance_to_next_deadline();
        let d = p.decode(&p.peek_to_ha().frame);
        assert_eq!(d.sealed_with, g(n), "attempt {attempt}");
        assert_eq!(d.bu_key(), None);
        assert_eq!(
            p.deliver_to_ha(),
            ha::Received::Dropped(ha::DropReason::UnknownSpi)
        );
        p.assert_mn_keys(g(n), &accepted(n));
    }
    assert!(p.to_mn.is_empty());

    // The MN initializes its dynamic keys: a BU under init (S501–S506).
    p.advance_to_next_deadline();
    p.assert_mn_keys(INIT, &[INIT]);
    let bu = p.peek_to_ha().clone();
    assert_eq!(bu.spi(), init_spis().mn_to_ha.get());
    assert_eq!(p.decode(&bu.frame).bu_key(), None);

    // S507–S524: the HA reads the init SPI as an initialization.
    let r = p.deliver_to_ha();
    assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
    p.assert_ha_keys(INIT, &[g(1), INIT]);
    let ba = p.peek_to_mn().clone();
    assert_eq!(ba.spi(), init_spis().ha_to_mn.get());
    assert_eq!(p.decode(&ba.frame).distributed(), Some(1));
    data_under(&mut p, INIT, INIT);

    // S122–S129.
    let r = p.deliver_to_mn();
    assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
    assert_steady(&p, 1);
    data_under(&mut p, g(1), INIT);
}

/// Beyond the patent: the HA crashes right after drawing N+1 (its BA lost) and
/// restarts from its full records; the restored HA still knows N+1 is unconfirmed,
/// so the MN's next BU under N gets it resent (patent (4)/(10) across a restart),
/// and no nonce is reused (checked by the harness on every frame).
#[test]
fn ha_full_restart_mid_update_still_resends() {
    for (mode, name) in [
        (RequestMode::Explicit, "restart_ha_mid_update_explicit"),
        (RequestMode::Implicit, "restart_ha_mid_update_implicit"),
    ] {
        let mut p = pair(mode, name, ha_timer);
        p.establish();
        reach(&mut p, 2);
        while !p.ha_keys().update_due {
            p.advance_to_next_deadline();
        }
        p.advance_to_next_deadline();
        let r = p.deliver_to_ha();
        assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
        let lost = p.drop_next_to_mn();
        assert_eq!(p.decode(&lost.frame).distributed(), Some(3));
        p.restart_ha(HaRestore::Full);
        p.assert_ha_keys(g(2), &[g(3), g(2), INIT]);
        assert!(!p.ha_keys().newest_confirmed);
        p.assert_mn_keys(g(2), &accepted(2));
        // MN→HA data under the restored N proves nothing now (issue 12, item 10):
        // dropped, and the HA asks for a BU; the MN, still awaiting its BA, lets its
        // retransmission answer.
        let up = p.mn_seal_data(b"under restored N").expect("the MN seals");
        assert_eq!(
            p.handle_at_ha(up).0,
            ha::Received::Dropped(ha::DropReason::DataUnderRestoredKey)
        );
        assert!(matches!(p.deliver_to_mn(), mn::Received::Consumed { .. }));
        // The retransmitted BU under N: a resend, sealed with N.
        p.advance_to_next_deadline();
        let r = p.deliver_to_ha();
        assert!(matches!(r, ha::Received::Consumed { .. }), "{r:?}");
        assert_eq!(
            p.ha_key_events().last(),
            Some(&(DistributionKind::Resend, 3))
        );
        assert_eq!(p.sealed_with(p.peek_to_mn()), g(2));
        let r = p.deliver_to_mn();
        assert!(matches!(r, mn::Received::Consumed { .. }), "{r:?}");
        assert_steady(&p, 3);
        // N+1 was restored too (drawn before the crash): data under it waits for the
        // next generation, which the BRR-prompted BU brings.
        assert_eq!(
            p.refresh_after_ha_restart(),
            [(DistributionKind::Update, 4)]
        );
        assert_steady(&p, 4);
        data_under(&mut p, g(4), g(3));
    }
}

/// Beyond the patent: an MN restarted with `ResumeKeys` goes on with its newest key,
/// and HA restarts from full records keep the keys; data flows after each restart
/// (from the HA's next generation on) and no (key, IV) is sealed twice.
#[test]
fn restarts_from_full_records_keep_keys_and_fresh_nonces() {
    let mut p = pair(RequestMode::Explicit, "restarts_full", mn_timer);
    p.establish();
    reach(&mut p, 3);
    for _ in 0..5 {
        p.assert_data_flows();
    }
    p.restart_mn(RestorePolicy::ResumeKeys);
    assert_steady(&p, 3);
    p.move_to(Some(COA));
    p.deliver_all();
    assert_steady(&p, 3);
    data_under(&mut p, g(3), g(2));
    // Each HA restart from full records keeps the keys; the node's first data under
    // them is dropped (issue 12, item 10) and its BU, asked for with a BRR, gets the
    // next generation at once.
    for n in [3, 4] {
        p.restart_ha(HaRestore::Full);
        assert_steady(&p, n);
        assert_eq!(
            p.refresh_after_ha_restart(),
            [(DistributionKind::Update, n + 1)]
        );
        assert_steady(&p, n + 1);
        data_under(&mut p, g(n + 1), g(n));
    }
    mn_requested_update(&mut p, 5);
}

/// Issue 12, item 9, with both ends at the daemons' default
/// (`rekey_after_initialization`): the pre-shared init key seals the initialization
/// exchange and nothing more. The node asks for generation 2 as soon as it holds
/// generation 1, so the home agent's transmit key leaves init one exchange later;
/// from then on no frame of either side is sealed under init.
#[test]
fn init_key_seals_only_the_initialization_exchange_by_default() {
    for mode in [RequestMode::Explicit, RequestMode::Implicit] {
        let mut p = pair(mode, "init_only_for_initialization", |c| {
            c.ha.rekey_after_initialization = true;
            c.mn.rekey_after_initialization = true;
        });
        p.start(COA);
        // S100–S129: the initialization, both ways under init.
        assert_eq!(p.decode(&p.peek_to_ha().frame).sealed_with, INIT);
        p.deliver_to_ha();
        let ba = p.peek_to_mn().clone();
        assert_eq!(p.decode(&ba.frame).sealed_with, INIT, "{mode:?}");
        assert_eq!(p.decode(&ba.frame).distributed(), Some(1));
        p.deliver_to_mn();
        // At once: the BU under generation 1 asking for the next one ...
        let bu = p.peek_to_ha().clone();
        let d = p.decode(&bu.frame);
        assert_eq!(d.sealed_with, g(1), "{mode:?}");
        let asked = match mode {
            RequestMode::Explicit => Some(&KeyOption::KeyUpdateRequest),
            RequestMode::Implicit => None,
        };
        assert_eq!(d.bu_key(), asked, "{mode:?}");
        p.deliver_to_ha();
        // ... answered under generation 1 with generation 2.
        let ba = p.peek_to_mn().clone();
        assert_eq!(p.decode(&ba.frame).sealed_with, g(1), "{mode:?}");
        assert_eq!(p.decode(&ba.frame).distributed(), Some(2));
        p.deliver_to_mn();
        assert!(p.to_ha.is_empty() && p.to_mn.is_empty(), "{mode:?}: {p:?}");
        assert_steady(&p, 2);
        data_under(&mut p, g(2), g(1));
        assert_eq!(p.ha_counters().key_initializations, 1);
        assert_eq!(p.ha_counters().key_updates, 1);
    }
}
