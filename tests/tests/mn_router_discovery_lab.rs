//! The mobile node's router discovery end to end (issue 11, item 2), in network
//! namespaces with `mip6-mn`, `mip6-ha` and radvd as built and installed. Written
//! from RFC 6275 §11.5.1 (movement detection from Router Advertisements, the
//! Advertisement Interval option of §7.3), RFC 4861 §6.3.4 (Router Lifetime) and
//! §7.3.3 (Neighbor Unreachability Detection):
//!
//! - a router that falls silent is probed with unicast Neighbor Solicitations once
//!   three advertisement intervals pass; while it answers, the node stays where it is;
//! - a router that neither advertises nor answers is lost: its route and the care-of
//!   address formed from its prefix go (the node is detached, its binding kept);
//! - when it advertises again, the node forms its address and registers again;
//! - a router that stops (radvd's final advertisements, Router Lifetime 0) is lost at
//!   once.
//!
//! Root only; skipped loudly otherwise, except under `CI=true`.

use std::time::Duration;

use mip6_lab::prereq::require_lab;
use mip6_lab::{Link, Node};
use mip6_tests::lab_e2e::Running;
use mip6_tests::prerequisites::{require_radvd, require_tool};

fn rd(s: &serde_json::Value, key: &str) -> u64 {
    s["router_discovery"][key].as_u64().unwrap_or(0)
}

fn signal(run: &Running, name: &str) {
    let pid = run.lab.radvd().expect("radvd runs").proc.pid().to_string();
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{name} {pid}");
}

fn nft(run: &Running, script: &str) {
    use std::io::Write;
    let mut c = run.lab.command_in(Node::Rt, "nft");
    c.args(["-f", "-"]).stdin(std::process::Stdio::piped());
    let mut child = c.spawn().expect("nft runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("rules written");
    assert!(child.wait().expect("nft ends").success(), "{script}");
}

#[test]
fn rfc6275_11_5_1_a_silent_router_is_probed_a_lost_one_drops_the_care_of_address() {
    let t = "rfc6275_11_5_1_a_silent_router_is_probed_a_lost_one_drops_the_care_of_address";
    if !require_lab(t) || !require_radvd(t) || !require_tool(t, "nft") {
        return;
    }
    let coa = Link::Foreign1.slaac_addr().to_string();
    let mut run = Running::start_advertised(Duration::from_secs(600), true);
    run.wait_mn("registration", Duration::from_secs(20), |s| {
        s["registration"] == "registered" && s["care_of_address"] == coa.as_str()
    });
    let before = run.mn_json();
    assert_eq!(
        before["router_discovery"]["routers"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{before}"
    );

    // Silent but reachable: the router is paused, its kernel still answers. Three
    // intervals (3 × 70 ms) without an advertisement start the probes; the answers
    // keep the router and the care-of address.
    signal(&run, "STOP");
    run.wait_mn(
        "a probe of the silent router",
        Duration::from_secs(5),
        |s| rd(s, "probes_sent") > rd(&before, "probes_sent"),
    );
    std::thread::sleep(Duration::from_secs(2));
    let probing = run.mn_json();
    assert_eq!(
        rd(&probing, "routers_lost"),
        0,
        "an answering router was lost: {probing}"
    );
    assert_eq!(probing["movement"]["attachment"], "away", "{probing}");

    // Silent and unreachable: the router's answers are dropped on its way out. After
    // three unanswered probes (one second apart, RFC 4861 §10) the router is lost.
    nft(
        &run,
        "table ip6 mip6_test {\n\
         \tchain out {\n\
         \t\ttype filter hook output priority 0; policy accept;\n\
         \t\toifname \"rt-fg1\" icmpv6 type nd-neighbor-advert counter drop\n\
         \t}\n\
         }\n",
    );
    run.wait_mn("the router lost", Duration::from_secs(10), |s| {
        rd(s, "routers_lost") >= 1 && s["movement"]["attachment"] == "detached"
    });
    let addrs = run.lab.global_addrs(Node::Mn).expect("MN addresses");
    assert!(
        !addrs.contains(&Link::Foreign1.slaac_addr()),
        "the care-of address outlived its router: {addrs:?}"
    );

    // Back: answers and advertisements flow again; the node forms its address again
    // and is registered from it.
    run.lab
        .exec_in_checked(Node::Rt, &["nft", "delete", "table", "ip6", "mip6_test"])
        .expect("nft delete");
    signal(&run, "CONT");
    run.wait_mn("the address again", Duration::from_secs(10), |s| {
        s["movement"]["attachment"] == "away"
            && s["movement"]["cause"] == "router_advertisement"
            && s["registration"] == "registered"
    });
    let (up, down) = run.udp_both_ways(1, 100, 1.0, |_| {});
    assert!(
        up.rx.received >= 80 && down.rx.received >= 80,
        "up {up:?} down {down:?}\n{}",
        run.diagnostics()
    );

    // Stopped: radvd's final advertisements (Router Lifetime 0) lose the router at
    // once, long before any lifetime or probe would.
    let lost = rd(&run.mn_json(), "routers_lost");
    run.lab.stop_router_advertisements().expect("radvd stops");
    run.wait_mn("the router withdrawn", Duration::from_secs(2), |s| {
        rd(s, "routers_lost") > lost && s["movement"]["attachment"] == "detached"
    });
}
