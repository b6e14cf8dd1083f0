//! The home agent pair on etcd end to end (issue 13, item 5), in network namespaces:
//! `mip6-ha` twice on the home link (`ha-a` in `ha`, `ha-b` in `ha2`), etcd (Debian's
//! `etcd-server`) started by the lab in the router, `mip6-mn` on foreign link 1.
//!
//! - `kill -9` of the active home agent under traffic both ways: the standby takes
//!   over (the leader key unchanged for its hold time), and traffic flows again
//!   through it; the mobile node never re-initializes (its keys and binding are in
//!   etcd); on the foreign link, no (source, SPI, sequence number) is ever seen twice:
//!   no AES-GCM nonce repeats across the takeover (RFC 4106 §3.1). The killed home
//!   agent's host keeps the address; started again (as a service manager would),
//!   that home agent waits as the standby, removes it first, and its status names
//!   the active one.
//! - A partition of the active home agent from etcd (the home link stays up): it
//!   stops, and it logs that it stopped before the standby logs its takeover; the
//!   standby serves the mobile node. The old one, started again, waits as standby;
//!   an orderly stop of the active one hands over to it without a hold time.
//!
//! Root only; skipped loudly otherwise (or without etcd, tshark, dumpcap, nft), except
//! under `CI=true`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mip6_lab::demo::sniff;
use mip6_lab::prereq::require_lab;
use mip6_lab::{Link, Node, ProcId, HA2_IFACE, HA_ADDR};
use mip6_tests::lab_e2e::{longest_silence, EspWatch, Running};
use mip6_tests::prerequisites::{missing, require_python_modules, require_tool};

/// The datagram rate of the traffic phases, each way.
const PPS: u32 = 200;

/// One pair lab at a time: each runs etcd, two home agents, a mobile node and
/// traffic, and the hold time (500 ms) is the daemons' default, not one stretched for
/// a machine running two such labs on two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn require_etcd(test: &str) -> bool {
    mip6_lab::etcd::program().is_some() || missing(test, "etcd (apt install etcd-server)")
}

fn registered(s: &serde_json::Value) -> bool {
    s["registration"] == "registered"
}

fn initializations(run: &Running) -> u64 {
    run.mn_json()["key_events"]["initialization"]
        .as_u64()
        .expect("the MN's status counts initializations")
}

/// Captures foreign link 1 at the router: every frame between the MN and the home
/// agents crosses it once.
fn capture_foreign_link(run: &mut Running) -> (ProcId, PathBuf) {
    let path = run.out().join("foreign1.pcapng");
    let mut c = run.lab.command_in(Node::Rt, "dumpcap");
    c.args(["-q", "-i", Link::Foreign1.rt_iface(), "-w"])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let id = run.lab.spawn_command(c).expect("dumpcap starts");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
        assert!(Instant::now() < deadline, "dumpcap did not start writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    (id, path)
}

/// The first line of a daemon's log that contains `what`, and its timestamp (the
/// log's first field, RFC 3339 UTC: comparable as text).
fn logged(log: &Path, what: &str) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .find(|l| l.contains(what))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_owned)
}

fn wait_exit(run: &mut Running, id: ProcId, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if run.lab.is_running(id) == Some(false) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_standby_takes_over_from_a_killed_home_agent_without_reinitializing_or_repeating_a_nonce() {
    let t =
        "a_standby_takes_over_from_a_killed_home_agent_without_reinitializing_or_repeating_a_nonce";
    if !require_lab(t)
        || !require_etcd(t)
        || !require_tool(t, "tshark")
        || !require_tool(t, "dumpcap")
    {
        return;
    }
    let _serial = serial();
    let mut run = Running::start_pair(Duration::from_secs(600));
    run.wait_mn("registration", Duration::from_secs(20), registered);
    let ha_a = run.ha_json();
    assert_eq!(ha_a["pair"]["state"], "active", "{ha_a}");
    assert!(
        ha_a["pair"]["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("ha-a ")),
        "{ha_a}"
    );
    let inits = initializations(&run);
    assert_eq!(inits, 1, "one initialization with ha-a");
    let (dumpcap, pcap) = capture_foreign_link(&mut run);

    let mut takeover = Duration::ZERO;
    let mut left_behind = false;
    let mut standby_status = serde_json::Value::Null;
    let (cn, mn) = run.udp_both_ways(1, PPS, 6.0, |run| {
        std::thread::sleep(Duration::from_secs(2));
        let killed = Instant::now();
        run.kill_ha();
        run.await_takeover(Duration::from_secs(10));
        takeover = killed.elapsed();
        // ha-a's host kept the address, and its kernel would answer solicitations
        // for it; started again (as a service manager does), ha-a waits as the
        // standby and removes it first.
        left_behind = run.holds_ha_address(Node::Ha);
        standby_status = run.restart_as_standby(0);
    });
    println!(
        "ha pair kill -9: ha-b ready {:.0} ms after the kill; MN→CN lost {}, longest silence {:.0} ms; CN→MN lost {}, longest silence {:.0} ms ({PPS} pps)",
        takeover.as_secs_f64() * 1e3,
        cn.rx.lost,
        longest_silence(&cn).as_secs_f64() * 1e3,
        mn.rx.lost,
        longest_silence(&mn).as_secs_f64() * 1e3,
    );
    // Traffic came back through ha-b: at most 2 s of the 6 s lost each way.
    for (who, r) in [("MN→CN", &cn), ("CN→MN", &mn)] {
        assert!(
            r.rx.received > 0 && r.rx.lost <= u64::from(PPS) * 2,
            "{who}: {r:?}\n{}",
            run.diagnostics()
        );
    }
    let ha_b = run.ha_json();
    assert!(
        ha_b["pair"]["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("ha-b ")),
        "{ha_b}"
    );
    assert_eq!(
        initializations(&run),
        inits,
        "no re-initialization across the takeover"
    );
    run.wait_mn(
        "registered through ha-b",
        Duration::from_secs(10),
        registered,
    );

    run.lab.stop(dumpcap).expect("dumpcap stops");
    let frames = sniff::esp_frames(&pcap).expect("tshark reads the capture");
    let from_ha = frames
        .iter()
        .filter(|f| f.source == HA_ADDR.to_string())
        .count();
    assert!(
        from_ha > 100,
        "ESP from the home agents on the link: {from_ha}"
    );
    assert_eq!(
        sniff::repeats(&frames),
        0,
        "(source, SPI, sequence) seen twice on the link"
    );

    assert!(left_behind, "kill -9 leaves ha-a's address on its host");
    assert!(
        !run.holds_ha_address(Node::Ha),
        "ha-a, a standby again, must remove the address its killed run left"
    );
    assert!(
        standby_status["pair"]["active"]
            .as_str()
            .is_some_and(|t| t.starts_with("ha-b ")),
        "the standby's status names the active one: {standby_status}"
    );
    run.stop_daemons();
}

#[test]
fn a_home_agent_cut_off_from_etcd_stops_before_the_standby_takes_over() {
    let t = "a_home_agent_cut_off_from_etcd_stops_before_the_standby_takes_over";
    if !require_lab(t) || !require_etcd(t) || !require_tool(t, "nft") {
        return;
    }
    let _serial = serial();
    let mut run = Running::start_pair(Duration::from_secs(600));
    run.wait_mn("registration", Duration::from_secs(20), registered);
    let inits = initializations(&run);
    let a = run.ha.as_ref().expect("ha-a runs");
    let (a_id, a_name) = (a.id, a.name.clone());
    let b_name = run
        .pair
        .as_ref()
        .and_then(|p| p.standby.as_ref())
        .map(|d| d.name.clone())
        .expect("ha-b waits");

    run.lab
        .partition_from_etcd(Node::Ha)
        .expect("the partition");
    assert!(
        wait_exit(&mut run, a_id, Duration::from_secs(5)),
        "ha-a, cut off from etcd, must stop\n{}",
        run.diagnostics()
    );
    run.ha = None;
    run.await_takeover(Duration::from_secs(10));
    let a_log = run.out().join(format!("{a_name}.log"));
    let b_log = run.out().join(format!("{b_name}.log"));
    let stopped = logged(&a_log, "lost the pair's leader key").expect("ha-a says why it stopped");
    let took_over = logged(&b_log, "taking over").expect("ha-b says it took over");
    assert!(
        stopped < took_over,
        "ha-a stopped at {stopped}, ha-b took over at {took_over}: the old one must stop first"
    );
    run.wait_mn(
        "registered through ha-b",
        Duration::from_secs(10),
        registered,
    );
    let (cn, mn) = run.udp_both_ways(2, PPS, 1.0, |_| {});
    assert_eq!((cn.rx.lost, mn.rx.lost), (0, 0), "{cn:?} {mn:?}");
    assert_eq!(initializations(&run), inits, "no re-initialization");

    // Healed, ha-a comes back as the standby; an orderly stop of ha-b hands over to
    // it at once (ha-b deletes the leader key after removing its address and routes).
    run.lab
        .heal_from_etcd(Node::Ha)
        .expect("the partition ends");
    let again = run.spawn_pair_member(0);
    std::thread::sleep(Duration::from_secs(1));
    assert!(!again.saw_ready(), "ha-a must wait while ha-b is active");
    run.pair.as_mut().expect("a pair").standby = Some(again);
    let b = run.ha.take().expect("ha-b runs");
    let stopping = Instant::now();
    b.stop(&mut run.lab);
    run.await_takeover(Duration::from_secs(10));
    let handover = stopping.elapsed();
    println!(
        "ha pair orderly handover: ha-a ready {:.0} ms after ha-b's SIGTERM",
        handover.as_secs_f64() * 1e3
    );
    run.wait_mn(
        "registered through ha-a again",
        Duration::from_secs(10),
        registered,
    );
    let (cn, mn) = run.udp_both_ways(3, PPS, 1.0, |_| {});
    assert_eq!((cn.rx.lost, mn.rx.lost), (0, 0), "{cn:?} {mn:?}");
    assert_eq!(initializations(&run), inits, "no re-initialization");
    run.stop_daemons();
}

/// With three etcd members, each one killed (`kill -9`) and restarted in turn under
/// traffic (so the Raft leader is among them): the active home agent keeps its key
/// and forwards every datagram; the standby never takes over; and the records are
/// intact afterwards: a takeover from them re-initializes nobody, and the last data
/// frames the old active one accepted, sent again by an attacker on the home link,
/// are refused by the new one.
#[test]
fn the_active_home_agent_rides_out_the_loss_of_each_of_three_etcd_members() {
    let t = "the_active_home_agent_rides_out_the_loss_of_each_of_three_etcd_members";
    if !require_lab(t) || !require_etcd(t) || !require_python_modules(t, &["scapy"]) {
        return;
    }
    let _serial = serial();
    let mut run = Running::start_pair_with_etcd_cluster(Duration::from_secs(600), 3);
    run.wait_mn("registration", Duration::from_secs(20), registered);
    let inits = initializations(&run);
    let active = run.ha.as_ref().expect("ha-a runs").id;
    let (cn, mn) = run.udp_both_ways(4, PPS, 7.0, |run| {
        for member in 0..3 {
            std::thread::sleep(Duration::from_millis(700));
            run.lab.kill_etcd_member(member).expect("member killed");
            std::thread::sleep(Duration::from_millis(700));
            run.lab
                .restart_etcd_member(member)
                .expect("member restarted");
        }
    });
    println!(
        "ha pair, etcd members lost in turn: MN→CN lost {}, CN→MN lost {}",
        cn.rx.lost, mn.rx.lost
    );
    assert_eq!(
        run.lab.is_running(active),
        Some(true),
        "ha-a must stay active\n{}",
        run.diagnostics()
    );
    let standby = run
        .pair
        .as_ref()
        .and_then(|p| p.standby.as_ref())
        .expect("ha-b");
    assert!(!standby.saw_ready(), "ha-b must not have taken over");
    assert_eq!((cn.rx.lost, mn.rx.lost), (0, 0), "{cn:?} {mn:?}");

    // The records survived the members' restarts: a takeover from them works. And
    // the mobile node's last data frames before it, captured on the home link, are
    // not accepted again by the new active home agent (RFC 4303 §3.4.3).
    let watch = EspWatch::start(&mut run, true);
    let (cn, _) = run.udp_both_ways(5, PPS, 1.0, |_| {});
    assert!(cn.rx.received > 100, "{cn:?}");
    let seen = watch.finish(&mut run);
    let captured = last_data_frames_to_the_home_agent(&seen, 64);
    run.kill_ha();
    run.await_takeover(Duration::from_secs(10));
    // Its service manager starts ha-a again: a standby, which removes the address
    // the killed run left (else its kernel answers for it and draws traffic).
    run.restart_as_standby(0);
    // One datagram through the new active one: the mobile node's data is taken again
    // (its registration through ha-b is done), and the highest sequence number moves
    // by one, so the captured frames sit inside the anti-replay window.
    let (cn, _) = run.udp_both_ways(6, 10, 0.1, |_| {});
    assert!(cn.rx.received > 0, "{cn:?}\n{}", run.diagnostics());
    let before = run.ha_json();
    let sent = run.replay_on_home_link(Node::Ha2, HA2_IFACE, &captured);
    assert_eq!(sent, captured.len(), "frames the attacker sent");
    std::thread::sleep(Duration::from_millis(500));
    let after = run.ha_json();
    let delivered = |s: &serde_json::Value| s["frames"]["tun_out"].as_u64().unwrap_or(0);
    assert_eq!(
        delivered(&after),
        delivered(&before),
        "a frame accepted before the takeover was accepted again: {after}"
    );
    let drop_count = |s: &serde_json::Value, why: &str| s["drops"][why].as_u64().unwrap_or(0);
    println!(
        "ha pair: {} captured data frames replayed to ha-b after the takeover: {} delivered, \
         {} dropped as replayed, {} as data under a restored key",
        captured.len(),
        delivered(&after) - delivered(&before),
        drop_count(&after, "replayed") - drop_count(&before, "replayed"),
        drop_count(&after, "data_under_restored_key")
            - drop_count(&before, "data_under_restored_key"),
    );
    let refused = |s: &serde_json::Value| {
        s["drops"]["replayed"].as_u64().unwrap_or(0)
            + s["drops"]["data_under_restored_key"].as_u64().unwrap_or(0)
    };
    assert!(
        refused(&after) >= refused(&before) + captured.len() as u64,
        "{} frames replayed, {} counted as replays: {after}",
        captured.len(),
        refused(&after) - refused(&before)
    );

    let (cn, mn) = run.udp_both_ways(7, PPS, 1.5, |_| {});
    assert!(cn.rx.received > 0 && mn.rx.received > 0, "{cn:?} {mn:?}");
    assert_eq!(initializations(&run), inits, "no re-initialization");
    run.stop_daemons();
}

/// The last `n` ESP data frames (ESP right after the IPv6 header: tunnelled data,
/// not a Binding Update, which carries a Home Address option) the mobile node sent
/// to the home agents' address, as the router saw them on the home link.
fn last_data_frames_to_the_home_agent(seen: &[serde_json::Value], n: usize) -> Vec<String> {
    let frames: Vec<String> = seen
        .iter()
        .filter(|p| p["dst"] == HA_ADDR.to_string())
        .filter_map(|p| p["frame"].as_str())
        // Octet 6 of the IPv6 header, the next header: 50, ESP.
        .filter(|hex| hex.get(12..14) == Some("32"))
        .map(str::to_owned)
        .collect();
    assert!(
        frames.len() >= n,
        "{} MN→HA data frames on the home link",
        frames.len()
    );
    frames[frames.len() - n..].to_vec()
}
