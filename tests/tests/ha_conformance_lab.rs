//! The home agent on its home link, packet by packet, in the namespace lab: `mip6-ha`
//! as built, a real `mip6-mn` registering from foreign link 1, and a neighbour on the
//! home link (the router's `rt-home`, driven by `tests/scapy/home_link.py`) that
//! watches and solicits. Written from the RFC text:
//!
//! - RFC 6275 §10.3.1: before the home agent accepts the first registration of a home
//!   address it performs Duplicate Address Detection for it on the home link; if the
//!   address is in use there, the BU is refused with 134.
//! - RFC 4862 §5.4.2: a probe is a Neighbor Solicitation from the unspecified address
//!   to the solicited-node group of the target, hop limit 255, without a Source
//!   Link-Layer Address option; the address is taken only `RetransTimer` (1 s) after it.
//! - RFC 6275 §10.4.1: a new binding is announced by a multicast Neighbor
//!   Advertisement to all-nodes, Target = the home address, Target Link-Layer Address
//!   = the home agent's, R = 0, S = 0, O = 1; and every Neighbor Solicitation for the
//!   home address, multicast or unicast, is answered with the home agent's link-layer
//!   address and R = 0, not tunnelled to the mobile node.
//! - RFC 4861 §7.2.4, §7.2.8: the answer to a node with an address goes to it with
//!   S = 1; the answer to a probe goes to all-nodes with S = 0; a proxy's solicited
//!   advertisement has O = 0.
//!
//! Root only; skipped loudly otherwise, except under `CI=true`. Each test builds its
//! own lab, whose `Drop` removes its namespaces and processes, also on failure.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use mip6_lab::prereq::require_lab;
use mip6_lab::Node;
use mip6_tests::lab_e2e::Running;
use mip6_tests::prerequisites::{require_python_modules, workspace_root};
use serde_json::Value;

const HOA: &str = "2001:db8:1::100";
const HOA_GROUP: &str = "ff02::1:ff00:100";
const ROUTER_HOME: &str = "2001:db8:1::fe";
const KEY_INTERVAL: Duration = Duration::from_secs(3600);

fn script() -> String {
    workspace_root()
        .join("tests/scapy/home_link.py")
        .display()
        .to_string()
}

fn prerequisites(test: &str) -> bool {
    require_lab(test) && require_python_modules(test, &["scapy"])
}

/// The home agent's Ethernet address on the home link.
fn ha_mac(r: &Running) -> String {
    let out = r
        .lab
        .exec_in_checked(Node::Ha, &["cat", "/sys/class/net/ha-home/address"])
        .expect("the HA's home interface");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn registered(s: &Value) -> bool {
    s["registration"] == "registered"
}

/// What the watcher on `rt-home` saw from the home agent while the mobile node
/// registered for the first time.
fn watch_first_registration(r: &mut Running, mac: &str) -> Vec<Value> {
    let mut cmd = r.lab.command_in(Node::Rt, "python3");
    cmd.args([&script(), "watch", "rt-home", mac, "6"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let id = r.lab.spawn_command(cmd).expect("the watcher starts");
    let mut out = BufReader::new(r.lab.take_stdout(id).expect("its stdout"));
    let mut ready = String::new();
    out.read_line(&mut ready).expect("the watcher says ready");
    assert_eq!(ready.trim(), "ready");
    r.start_mn();
    r.wait_mn("registered", Duration::from_secs(10), registered);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("the watcher's report");
    lines(&rest)
}

#[test]
fn rfc6275_10_3_1_first_registration_after_dad_then_rfc6275_10_4_1_announcement() {
    let t = "rfc6275_10_3_1_first_registration_after_dad_then_rfc6275_10_4_1_announcement";
    if !prerequisites(t) {
        return;
    }
    let mut r = Running::ha_only(KEY_INTERVAL, true);
    let mac = ha_mac(&r);
    let seen = watch_first_registration(&mut r, &mac);
    let probes: Vec<&Value> = seen
        .iter()
        .filter(|p| p["type"] == "ns" && p["target"] == HOA)
        .collect();
    assert_eq!(
        probes.len(),
        1,
        "one probe (DupAddrDetectTransmits 1): {seen:#?}"
    );
    let probe = probes[0];
    assert_eq!(probe["src"], "::", "{probe}");
    assert_eq!(probe["dst"], HOA_GROUP, "{probe}");
    assert_eq!(probe["eth_dst"], "33:33:ff:00:01:00", "{probe}");
    assert_eq!(probe["hlim"], 255, "{probe}");
    assert_eq!(
        probe["sll"],
        Value::Null,
        "no Source Link-Layer Address from ::"
    );

    let announcements: Vec<&Value> = seen
        .iter()
        .filter(|p| p["type"] == "na" && p["target"] == HOA)
        .collect();
    assert_eq!(announcements.len(), 1, "{seen:#?}");
    let na = announcements[0];
    assert_eq!(na["dst"], "ff02::1", "{na}");
    assert_eq!(na["eth_dst"], "33:33:00:00:00:01", "{na}");
    assert_eq!(
        (na["R"].as_u64(), na["S"].as_u64(), na["O"].as_u64()),
        (Some(0), Some(0), Some(1)),
        "{na}"
    );
    assert_eq!(na["tlla"], mac.as_str(), "{na}");
    assert_eq!(na["hlim"], 255, "{na}");
    let waited = na["t"].as_f64().unwrap() - probe["t"].as_f64().unwrap();
    assert!(
        waited >= 0.99,
        "the binding was taken {waited:.3} s after the probe, before RetransTimer"
    );
    let status = r.ha_json();
    assert_eq!(status["home_link"]["dad_probes_sent"], 1, "{status}");
    assert_eq!(status["home_link"]["dad_collisions"], 0, "{status}");
}

#[test]
fn rfc6275_10_4_1_solicitations_for_a_bound_home_address_are_answered_not_tunnelled() {
    let t = "rfc6275_10_4_1_solicitations_for_a_bound_home_address_are_answered_not_tunnelled";
    if !prerequisites(t) {
        return;
    }
    let r = Running::start(KEY_INTERVAL, true);
    r.wait_mn("registered", Duration::from_secs(10), registered);
    let mac = ha_mac(&r);
    let out = r
        .lab
        .exec_in_checked(
            Node::Rt,
            &[
                "python3",
                &script(),
                "solicit",
                "rt-home",
                &mac,
                HOA,
                ROUTER_HOME,
            ],
        )
        .expect("the solicitations");
    let cases = lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(cases.len(), 3, "{cases:#?}");
    let answer = |case: &str| -> Value {
        let c = cases
            .iter()
            .find(|c| c["case"] == case)
            .unwrap_or_else(|| panic!("no {case} case"));
        let replies: Vec<&Value> = c["replies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "na" && p["target"] == HOA)
            .collect();
        assert_eq!(replies.len(), 1, "{case}: exactly one advertisement: {c}");
        replies[0].clone()
    };
    for case in ["multicast", "unicast"] {
        let na = answer(case);
        assert_eq!(
            na["dst"], ROUTER_HOME,
            "{case}: to the soliciting node: {na}"
        );
        assert_eq!(
            (na["R"].as_u64(), na["S"].as_u64(), na["O"].as_u64()),
            (Some(0), Some(1), Some(0)),
            "{case}: R=0 (§10.4.1), S=1, O=0 (RFC 4861 §7.2.8): {na}"
        );
        assert_eq!(na["tlla"], mac.as_str(), "{case}: {na}");
        assert_eq!(na["hlim"], 255, "{case}: {na}");
        assert!(
            na["src"].as_str().unwrap().starts_with("fe80:"),
            "{case}: from the home agent's link-local address: {na}"
        );
    }
    let na = answer("probe");
    assert_eq!(
        na["dst"], "ff02::1",
        "a probe is answered to all-nodes: {na}"
    );
    assert_eq!(na["eth_dst"], "33:33:00:00:00:01", "{na}");
    assert_eq!(
        (na["R"].as_u64(), na["S"].as_u64(), na["O"].as_u64()),
        (Some(0), Some(0), Some(0)),
        "{na}"
    );
    // The unicast solicitation went through the HA's kernel towards the home address's
    // route into the TUN: screened there, never sealed towards the mobile node.
    let status = r.ha_json();
    assert!(
        status["home_link"]["solicitations_answered"].as_u64() >= Some(3),
        "{status}"
    );
    let screened = status["drops"]["tun_neighbour_discovery"]
        .as_u64()
        .unwrap_or(0);
    let mn = r.mn_json();
    assert!(
        screened <= 1,
        "at most the one unicast solicitation reaches the TUN: {status}"
    );
    assert_eq!(
        mn["drops"]["tun_neighbour_discovery"].as_u64().unwrap_or(0),
        0,
        "{mn}"
    );
}

#[test]
fn rfc6275_10_3_1_a_home_address_in_use_on_the_home_link_is_refused_with_134() {
    let t = "rfc6275_10_3_1_a_home_address_in_use_on_the_home_link_is_refused_with_134";
    if !prerequisites(t) {
        return;
    }
    let mut r = Running::ha_only(KEY_INTERVAL, true);
    // Another node owns the home address on the home link.
    r.lab
        .exec_in_checked(
            Node::Rt,
            &[
                "ip",
                "-6",
                "addr",
                "add",
                "2001:db8:1::100/64",
                "dev",
                "rt-home",
                "nodad",
            ],
        )
        .expect("the router takes the home address");
    r.start_mn();
    r.wait_ha("BU refused with 134", Duration::from_secs(10), |s| {
        s["refusals"]["duplicate_address"].as_u64() >= Some(1)
    });
    let status = r.ha_json();
    assert_eq!(
        status["bindings"].as_array().map(Vec::len),
        Some(0),
        "{status}"
    );
    assert!(
        status["home_link"]["dad_collisions"].as_u64() >= Some(1),
        "{status}"
    );
    let mn = r.mn_json();
    assert_ne!(mn["registration"], "registered", "{mn}");
    // The owner keeps its address: the home agent never answered for it.
    let out = r
        .lab
        .exec_in_checked(Node::Ha, &["ip", "-6", "neigh", "show", "dev", "ha-home"])
        .expect("the HA's neighbour table");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!table.contains("proxy"), "no kernel proxy entry: {table}");
}

/// RFC 6275 §9.2, §9.3.1, §9.3.2 from a node on foreign link 1 (the mobile node's
/// namespace, its care-of address): an Echo Request with a Home Address option of the
/// bound home address is answered through the care-of address with a type 2 routing
/// header; one naming a home address without a binding gets Binding Error status 1;
/// an unknown MH type gets Binding Error status 2; a Payload Proto other than 59 gets
/// Parameter Problem code 0 pointing at it (octet 40).
#[test]
fn rfc6275_9_2_and_9_3_errors_and_answers_to_unprotected_packets() {
    let t = "rfc6275_9_2_and_9_3_errors_and_answers_to_unprotected_packets";
    if !prerequisites(t) {
        return;
    }
    let r = Running::start(KEY_INTERVAL, true);
    r.wait_mn("registered", Duration::from_secs(10), registered);
    let script = workspace_root().join("tests/scapy/unprotected.py");
    let out = r
        .lab
        .exec_in_checked(
            Node::Mn,
            &[
                "python3",
                &script.display().to_string(),
                "mn-fg1",
                "2001:db8:1::1",
                "2001:db8:2::100",
                HOA,
                "2001:db8:1::200",
            ],
        )
        .expect("the unprotected packets");
    let cases = lines(&String::from_utf8_lossy(&out.stdout));
    let only = |case: &str| -> Value {
        let c = cases
            .iter()
            .find(|c| c["case"] == case)
            .unwrap_or_else(|| panic!("no {case} case in {cases:#?}"));
        let replies = c["replies"].as_array().unwrap();
        assert_eq!(replies.len(), 1, "{case}: exactly one answer: {c}");
        assert_eq!(
            replies[0]["dst"], "2001:db8:2::100",
            "{case}: to the source: {c}"
        );
        replies[0].clone()
    };
    let echo = only("echo_with_hoa");
    assert_eq!(echo["kind"], "echo_reply", "{echo}");
    assert_eq!(
        (echo["id"].as_u64(), echo["seq"].as_u64()),
        (Some(0x42), Some(1)),
        "{echo}"
    );
    assert_eq!(echo["data"], "hello", "{echo}");
    assert_eq!(echo["rh_type"], 2, "{echo}");
    assert_eq!(echo["rh_addresses"], serde_json::json!([HOA]), "{echo}");

    let be1 = only("hoa_without_binding");
    assert_eq!(be1["kind"], "be", "{be1}");
    assert_eq!(be1["status"], 1, "{be1}");
    assert_eq!(be1["home_address"], "2001:db8:1::200", "{be1}");
    assert!(be1.get("rh_type").is_none(), "no routing header: {be1}");

    let be2 = only("unknown_mh_type");
    assert_eq!(be2["kind"], "be", "{be2}");
    assert_eq!(be2["status"], 2, "{be2}");

    let pp = only("payload_proto");
    assert_eq!(pp["kind"], "param_problem", "{pp}");
    assert_eq!(
        (pp["code"].as_u64(), pp["pointer"].as_u64()),
        (Some(0), Some(40)),
        "{pp}"
    );

    let status = r.ha_json();
    assert!(
        status["drops"]["no_binding_for_home_address_option"].as_u64() >= Some(1),
        "{status}"
    );
}
