//! End to end in network namespaces (issue 4, "How it must be proven"): `mip6-ha` and
//! `mip6-mn` as built, in docs/architecture.md's lab, with traffic between the home address and
//! the correspondent from `mip6-lab udp-peer`. Each test asserts on the daemons'
//! status, the traffic generator's counts and (the first) the captures read back by
//! tshark. Root only; skipped loudly otherwise, except under `CI=true`.
//!
//! Every test builds its own lab (unique namespace names) and its `Drop` removes the
//! namespaces and stops the daemons also when an assertion fails.

use std::time::Duration;

use mip6_daemon::capture::{read_inputs, InputKind};
use mip6_lab::demo::nft as ba_drop;
use mip6_lab::prereq::require_lab;
use mip6_lab::{Link, Node};
use mip6_tests::lab_e2e::{tshark_summary, Running, HA_METRICS, MN_METRICS};
use mip6_tests::prerequisites::require_tool;
use mip6_tests::replay::{read_mn_start_state, replay_mn_restored};

fn keys(s: &serde_json::Value, who: &str) -> (u64, u64, u64) {
    let k = &s["key_events"];
    let n = |f: &str| {
        k[f].as_u64()
            .unwrap_or_else(|| panic!("{who} status has no key_events.{f}: {s}"))
    };
    (n("initialization"), n("update"), n("resend"))
}

fn registered_at(coa: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |s| s["registration"] == "registered" && s["care_of_address"] == coa
}

/// Registration; data both ways with no loss; at least five rekeys by update, one of
/// whose BAs the router drops (the key is resent, not regenerated, and no datagram is
/// lost); two handovers with traffic flowing; the captures decrypt in tshark.
#[test]
fn registration_data_rekeys_a_lost_ba_and_two_handovers() {
    let t = "registration_data_rekeys_a_lost_ba_and_two_handovers";
    if !require_lab(t) || !require_tool(t, "tshark") {
        return;
    }
    let mut run = Running::start(Duration::from_secs(2), true);
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    let ha = run.ha_json();
    assert_eq!(
        ha["bindings"][0]["care_of_address"], "2001:db8:2::100",
        "{ha}"
    );

    // Steady traffic across several 2 s key updates: nothing lost either way.
    let (up, down) = run.udp_both_ways(1, 200, 6.0, |_| {});
    assert_eq!(
        (up.rx.lost, down.rx.lost),
        (0, 0),
        "up {up:?} down {down:?}"
    );
    assert!(
        up.rx.received >= 1100 && down.rx.received >= 1100,
        "up {up:?} down {down:?}"
    );
    // Once each side has heard the other, tunnel frames go straight to the next hop
    // (mip6_netio::link_send): most of them, but never more than were sent.
    for (who, s) in [("MN", run.mn_json()), ("HA", run.ha_json())] {
        let f = &s["frames"];
        let (out, link) = (f["net_out"].as_u64(), f["net_out_link"].as_u64());
        assert!(
            matches!((out, link), (Some(o), Some(l)) if l >= 1000 && l <= o),
            "{who} frames: {f}"
        );
    }

    // A BA lost on the way: every HA→MN packet with a type 2 routing header is
    // dropped at the router until the HA has answered a key update request.
    let before = keys(&run.ha_json(), "HA");
    let (up, down) = run.udp_both_ways(2, 200, 8.0, |run| {
        ba_drop::install(&run.lab, 100, &run.out().join("ba-drop.nft")).expect("BA drop table");
        run.wait_ha(
            "a key update while BAs are dropped",
            Duration::from_secs(10),
            |s| keys(s, "HA").1 > before.1,
        );
        std::thread::sleep(Duration::from_millis(300));
        let dropped = ba_drop::counters(&run.lab).expect("BA drop counters");
        ba_drop::remove(&run.lab).expect("BA drop table removed");
        assert!(dropped.dropped >= 1, "no BA was dropped: {dropped:?}");
        // The MN asks again (Key Resending Request); the HA resends the same key.
        run.wait_ha("the lost key resent", Duration::from_secs(10), |s| {
            keys(s, "HA").2 > before.2
        });
    });
    assert_eq!(
        (up.rx.lost, down.rx.lost),
        (0, 0),
        "BA loss: up {up:?} down {down:?}"
    );

    // Two handovers, with traffic.
    let (up, down) = run.udp_both_ways(3, 200, 6.0, |run| {
        std::thread::sleep(Duration::from_millis(1500));
        run.lab.move_mn(Link::Foreign2).expect("move to foreign 2");
        run.wait_mn(
            "binding at foreign 2",
            Duration::from_secs(10),
            registered_at("2001:db8:3::100"),
        );
        std::thread::sleep(Duration::from_millis(1500));
        run.lab
            .move_mn(Link::Foreign1)
            .expect("move back to foreign 1");
        run.wait_mn(
            "binding at foreign 1",
            Duration::from_secs(10),
            registered_at("2001:db8:2::100"),
        );
    });
    // Datagrams sent while the MN had no address are lost; most get through.
    assert!(up.rx.received * 10 >= up.sent * 7, "handover up {up:?}");
    assert!(
        down.rx.received * 10 >= down.sent * 7,
        "handover down {down:?}"
    );
    let mn = run.mn_json();
    assert_eq!(mn["handovers"], 2, "{mn}");
    let ha = run.ha_json();
    assert_eq!(
        ha["bindings"][0]["care_of_address"], "2001:db8:2::100",
        "{ha}"
    );

    let (init, updates, resends) = keys(&ha, "HA");
    assert_eq!(init, 1, "one initialization only: {ha}");
    assert!(updates >= 5, "at least five rekeys by update: {ha}");
    assert!(resends >= 1, "{ha}");
    let (mn_init, mn_updates, _) = keys(&mn, "MN");
    assert_eq!(mn_init, 1, "{mn}");
    assert!(mn_updates >= 5, "{mn}");

    // The same counts on the Prometheus endpoints.
    let metrics = run.scrape(Node::Ha, HA_METRICS);
    assert!(metrics.contains("mip6_ha_bindings 1\n"), "{metrics}");
    // Keys keep rotating every 2 s: the scrape may count more than the status did.
    let scraped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mip6_ha_key_events_total{kind=\"update\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no update counter in {metrics}"));
    assert!(
        (updates..updates + 5).contains(&scraped),
        "scraped {scraped} updates, status said {updates}"
    );
    let metrics = run.scrape(Node::Mn, MN_METRICS);
    assert!(metrics.contains("mip6_mn_registered 1\n"), "{metrics}");
    assert!(metrics.contains("mip6_mn_handovers_total 2\n"), "{metrics}");

    // The captures, read back by tshark with their key logs.
    for side in ["ha-1", "mn-1"] {
        let pcap = run.out().join(format!("{side}.pcapng"));
        let s = tshark_summary(&pcap);
        assert_eq!(s.malformed_or_errors, 0, "{side}: {s:?}");
        assert_eq!(s.bad_icv, 0, "{side}: {s:?}");
        assert!(
            s.binding_updates >= 8 && s.binding_acks >= 8,
            "{side}: {s:?}"
        );
        assert!(s.good_icv >= 1000, "{side}: {s:?}");
    }
}

/// `kill -9` of the HA with persistence on: the restarted HA has the binding and the
/// keys at once; the MN is not re-initialized and traffic resumes.
#[test]
fn ha_kill9_and_restart_with_persistence_keeps_binding_and_keys() {
    if !require_lab("ha_kill9_and_restart_with_persistence_keeps_binding_and_keys") {
        return;
    }
    let mut run = Running::start(Duration::from_secs(3), true);
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    run.wait_mn("a key update", Duration::from_secs(15), |s| {
        keys(s, "MN").1 >= 1
    });
    run.kill_ha();
    run.start_ha();
    // Restored from the store: the binding is there before any BU.
    let ha = run.ha_json();
    assert_eq!(
        ha["bindings"][0]["care_of_address"], "2001:db8:2::100",
        "{ha}"
    );
    let (up, down) = run.udp_both_ways(4, 100, 6.0, |_| {});
    assert!(
        up.rx.received >= 500 && down.rx.received >= 500,
        "up {up:?} down {down:?}"
    );
    assert_eq!(
        (up.rx.lost, down.rx.lost),
        (0, 0),
        "up {up:?} down {down:?}"
    );
    let mn = run.mn_json();
    assert_eq!(keys(&mn, "MN").0, 1, "the MN was re-initialized: {mn}");
    let ha = run.ha_json();
    assert_eq!(
        keys(&ha, "HA").0,
        0,
        "the restarted HA initialized keys: {ha}"
    );
}

/// HA restart without state (persistence off): the MN's next BU finds no keys, the MN
/// falls back to its init key (patent (5)), re-registers, and traffic resumes.
#[test]
fn ha_restart_without_state_makes_the_mn_reinitialize() {
    if !require_lab("ha_restart_without_state_makes_the_mn_reinitialize") {
        return;
    }
    let mut run = Running::start(Duration::from_secs(3), false);
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    run.wait_mn("a key update", Duration::from_secs(15), |s| {
        keys(s, "MN").1 >= 1
    });
    run.kill_ha();
    run.start_ha();
    let ha = run.ha_json();
    assert_eq!(ha["bindings"].as_array().map(Vec::len), Some(0), "{ha}");
    run.wait_mn("re-initialization", Duration::from_secs(60), |s| {
        keys(s, "MN").0 >= 2 && s["registration"] == "registered"
    });
    run.wait_ha("the binding again", Duration::from_secs(10), |s| {
        s["bindings"][0]["care_of_address"] == "2001:db8:2::100"
    });
    let (up, down) = run.udp_both_ways(5, 100, 3.0, |_| {});
    assert_eq!(
        (up.rx.lost, down.rx.lost),
        (0, 0),
        "up {up:?} down {down:?}"
    );
    assert!(
        up.rx.received >= 250 && down.rx.received >= 250,
        "up {up:?} down {down:?}"
    );
}

/// MN restart (`kill -9`): it starts from its init key, registers again, and traffic
/// flows both ways.
#[test]
fn mn_restart_registers_again_and_traffic_resumes() {
    if !require_lab("mn_restart_registers_again_and_traffic_resumes") {
        return;
    }
    let mut run = Running::start_seeded(Duration::from_secs(3), true, Some((21, 22)));
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    let seq_before = run.ha_json()["bindings"][0]["sequence"]
        .as_u64()
        .expect("a sequence");
    run.kill_mn();
    run.start_mn();
    run.wait_mn(
        "registration after restart",
        Duration::from_secs(30),
        registered_at("2001:db8:2::100"),
    );
    let ha = run.ha_json();
    assert_eq!(
        keys(&ha, "HA").0,
        2,
        "the restarted MN initialized again: {ha}"
    );
    let seq_after = ha["bindings"][0]["sequence"].as_u64().expect("a sequence");
    assert_ne!(seq_after, seq_before, "{ha}");
    let (up, down) = run.udp_both_ways(6, 100, 3.0, |_| {});
    assert_eq!(
        (up.rx.lost, down.rx.lost),
        (0, 0),
        "up {up:?} down {down:?}"
    );
    assert!(
        up.rx.received >= 250 && down.rx.received >= 250,
        "up {up:?} down {down:?}"
    );
    // The restarted MN's capture replays from the record it started from.
    run.stop_daemons();
    let pcap = run.out().join("mn-2.pcapng");
    let inputs = read_inputs(&pcap).expect("mn-2.pcapng");
    assert_eq!(inputs.first().map(|r| r.kind), Some(InputKind::Restart));
    let config = mip6_mn_daemon::config::load(&run.files.mn_config)
        .expect("mn.toml")
        .to_engine()
        .expect("a valid MN configuration");
    let state = read_mn_start_state(&pcap).expect("mn-2.pcapng.state");
    let r = replay_mn_restored(config, 22, state, &inputs).unwrap_or_else(|e| panic!("mn-2: {e}"));
    assert!(r.inputs >= 300 && r.outputs >= 300, "{r:?}");
}
