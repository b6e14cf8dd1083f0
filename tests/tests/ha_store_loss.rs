//! A home agent that loses its whole store (issue 12, item 9: `kill -9`, the redb file
//! removed or truncated, a restart with no record) and the mobile node that must
//! initialize again, run with the daemons' settings (sequence blocks of
//! `mip6_daemon::SEQUENCE_BLOCK`, an update right after every initialization).
//!
//! Two things must hold (docs/architecture.md "Nonces and persistence", invariants 2
//! and 3): no AES-GCM nonce is sealed twice under a key (RFC 4106 §3.1) although the
//! HA's init SAs start again at sequence number 1 under the same init keys — the pair
//! harness's nonce ledger checks every frame; and the pair converges again: both hold
//! a common newest generation, the HA binds the node, data flows both ways.

use core::time::Duration;

use mip6_tests::pair::*;
use mip6_wire::keys::RequestMode;

/// The daemons' settings on both ends.
fn daemon_like(name: &str) -> Pair {
    let mut c = PairConfig::new(RequestMode::Explicit).named(name);
    c.ha.sequence_block = mip6_daemon::SEQUENCE_BLOCK;
    c.mn.sequence_block = mip6_daemon::SEQUENCE_BLOCK;
    c.ha.rekey_after_initialization = true;
    c.mn.rekey_after_initialization = true;
    Pair::with(c)
}

/// Both hold the same newest generation (number and SPIs), the HA binds the node at
/// `coa` and the node counts itself registered there.
fn converged(p: &Pair, coa: std::net::Ipv6Addr) -> bool {
    let (ha, mn) = (p.ha_spis(), p.mn_spis());
    ha.newest.is_some()
        && ha.newest == mn.newest
        && p.binding().is_some_and(|b| b.care_of_address == coa)
        && matches!(
            p.mn.registration().state,
            mip6_mn::Registration::Registered(r) if r.coa == coa
        )
}

/// Runs the engines' timers with every frame delivered until the pair has converged;
/// returns how long that took, or None if it has not after `limit`.
fn run_until_converged(p: &mut Pair, limit: Duration) -> Option<Duration> {
    let start = p.now;
    let end = start + limit;
    loop {
        p.deliver_all();
        if converged(p, COA) {
            return Some(p.now.saturating_since(start));
        }
        if p.now >= end {
            return None;
        }
        p.advance_to_next_deadline();
    }
}

/// Registration with the daemons' defaults: generation 1 by the initialization, 2 by
/// the update that follows at once.
fn register(p: &mut Pair) {
    p.start(COA);
    p.deliver_all();
    assert!(converged(p, COA), "{p:?}");
    assert_eq!(p.ha_keys().newest, Some(2));
    p.assert_data_flows();
}

/// The convergence bound after the HA restarts: the node notices at its next refresh
/// (75 % of its 600 s lifetime), gives up its keys after two unanswered resends
/// (1.5 s + 3 s, RFC 6275 §11.8), and initializes; a few round trips more.
const BOUND: Duration = Duration::from_secs(600);

/// The HA's first life ends with its store lost. Its init SA to the node starts again
/// at sequence number 1 (new IV prefix); the node's init receive window (RFC 4303
/// §3.4.3) has seen only the few numbers of the HA's first life, so after at most as
/// many retransmitted initializations the HA's BA is taken and the pair converges.
#[test]
fn node_initializes_again_after_the_ha_lost_its_store() {
    let mut p = daemon_like("store_lost_first_life");
    register(&mut p);
    p.advance_by(Duration::from_secs(60));
    p.restart_ha(HaRestore::Nothing);
    assert_eq!(p.binding(), None);
    assert_eq!(p.ha_keys().newest, None);

    let took = run_until_converged(&mut p, BOUND).expect("converged again");
    println!("converged {took:?} after the store was lost");
    assert!(p.ha_counters().key_initializations >= 1);
    assert_eq!(p.ha_keys().newest, Some(2), "initialized, then updated");
    let flow = p.assert_data_flows();
    assert_eq!((flow.mn_sealed_with, flow.ha_sealed_with), (g(2), g(1)));
}

/// As above, but the HA had restarted once before from its durable minimum, so its
/// init SA to the node resumed past a whole sequence block (65 536) and the node's
/// init receive window moved there. When the store is then lost, the HA's init SA
/// starts again at 1: every BA answering the node's initialization is left of the
/// node's window (RFC 4303 §3.4.3). Found by this test: the node dropped them as
/// replays and stayed apart until the HA had sealed about 64 000 frames under init.
/// Now the node opens such a frame outside its window while its own initialization
/// is outstanding, takes it only as the BA echoing its fresh timestamp, and restarts
/// the window there.
#[test]
fn node_initializes_again_after_the_ha_lost_its_store_in_a_later_life() {
    let mut p = daemon_like("store_lost_later_life");
    register(&mut p);
    p.advance_by(Duration::from_secs(60));
    p.restart_ha(HaRestore::DurableMinimum);
    let took = run_until_converged(&mut p, BOUND).expect("converged after the restart");
    println!("converged {took:?} after the restart from the durable minimum");
    p.assert_data_flows();

    p.advance_by(Duration::from_secs(60));
    p.restart_ha(HaRestore::Nothing);
    let replays = p.mn_counters().dropped(mip6_mn::DropReason::Replayed);
    let took = run_until_converged(&mut p, BOUND);
    assert!(
        took.is_some(),
        "not converged {BOUND:?} after the store was lost: the MN dropped {} frames as replays \
         (HA {:?}, MN {:?})",
        p.mn_counters().dropped(mip6_mn::DropReason::Replayed) - replays,
        p.ha_keys(),
        p.mn_keys()
    );
    assert!(p.mn_counters().init_window_restarts >= 1);
    p.assert_data_flows();
}
