//! The namespace lab on a real kernel: reachability across the router, MN movement,
//! rtnetlink events on movement, and cleanup on drop, on panic and of leftovers.
//!
//! Root-only: without root (or `ip`, `sysctl`, `ping`) each test skips loudly, except
//! under `CI=true`, where that fails (`mip6_lab::prereq`). Each test stays within a few
//! seconds: pings are `-c 2 -W 1 -i 0.2`, every wait has a deadline.

use std::io::{BufRead, BufReader};
use std::net::Ipv6Addr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mip6_lab::prereq::require_lab;
use mip6_lab::{list_namespaces, Lab, Link, Node, CN_ADDR, HA_ADDR, MN_HOME_LINK_ADDR};

/// The namespaces alive now whose names start with `prefix`.
fn namespaces_with(prefix: &str) -> Vec<String> {
    list_namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn assert_reaches(lab: &Lab, node: Node, from: Ipv6Addr, to: Ipv6Addr) {
    assert!(
        lab.ping(node, from, to).expect("ping runs"),
        "no reply from {to} to {from} in {node}"
    );
}

#[test]
fn lab_builds_and_routes_between_links() {
    if !require_lab("lab_builds_and_routes_between_links") {
        return;
    }
    let started = Instant::now();
    let mut lab = Lab::new().expect("build lab");
    eprintln!("lab built in {:?}", started.elapsed());
    let prefix = lab.prefix().to_owned();
    assert_eq!(
        {
            let mut ns = namespaces_with(&prefix);
            ns.sort();
            ns
        },
        ["cn", "ha", "mn", "rt"].map(|n| format!("{prefix}{n}")),
    );
    assert_eq!(lab.mn_link(), None);
    assert_eq!(
        lab.global_addrs(Node::Mn).expect("mn addrs"),
        Vec::<Ipv6Addr>::new()
    );
    assert_eq!(lab.global_addrs(Node::Ha).expect("ha addrs"), vec![HA_ADDR]);
    let forwarding = lab
        .exec_in_checked(Node::Rt, &["sysctl", "-n", "net.ipv6.conf.all.forwarding"])
        .expect("read forwarding");
    assert_eq!(String::from_utf8_lossy(&forwarding.stdout).trim(), "1");

    // CN -> HA crosses the router (two links).
    assert_reaches(&lab, Node::Cn, CN_ADDR, HA_ADDR);

    lab.move_mn(Link::Foreign1).expect("move to foreign1");
    let coa1 = Link::Foreign1.mn_addr();
    assert_eq!(lab.mn_link(), Some(Link::Foreign1));
    assert_eq!(lab.global_addrs(Node::Mn).expect("mn addrs"), vec![coa1]);
    assert_reaches(&lab, Node::Mn, coa1, HA_ADDR);
    assert_reaches(&lab, Node::Mn, coa1, CN_ADDR);

    lab.move_mn(Link::Foreign2).expect("move to foreign2");
    let coa2 = Link::Foreign2.mn_addr();
    assert_eq!(lab.mn_link(), Some(Link::Foreign2));
    assert_eq!(
        lab.global_addrs(Node::Mn).expect("mn addrs"),
        vec![coa2],
        "the foreign1 address must be gone"
    );
    assert_reaches(&lab, Node::Mn, coa2, HA_ADDR);
    assert_reaches(&lab, Node::Mn, coa2, CN_ADDR);
    // From the CN too: the route back to the MN goes through its new link.
    assert_reaches(&lab, Node::Cn, CN_ADDR, coa2);
    // The old care-of address is no longer the MN's: ping cannot even bind it.
    assert!(
        lab.ping(Node::Mn, coa1, HA_ADDR).is_err(),
        "{coa1} still usable after moving away"
    );
    // Nor does anything answer for it on foreign1.
    assert!(!lab.ping(Node::Cn, CN_ADDR, coa1).expect("ping runs"));

    // And back: movement is repeatable.
    lab.move_mn(Link::Foreign1).expect("move back to foreign1");
    assert_eq!(lab.global_addrs(Node::Mn).expect("mn addrs"), vec![coa1]);
    assert_reaches(&lab, Node::Mn, coa1, HA_ADDR);

    // The home link is shared by the HA, the router and the MN: on it the MN reaches
    // the HA without the router, and the CN through it.
    lab.move_mn_home().expect("move home");
    assert!(lab.mn_at_home());
    assert_eq!(lab.mn_link(), None);
    assert_eq!(
        lab.global_addrs(Node::Mn).expect("mn addrs"),
        vec![MN_HOME_LINK_ADDR],
        "only the home link's address is left"
    );
    assert_reaches(&lab, Node::Mn, MN_HOME_LINK_ADDR, HA_ADDR);
    assert_reaches(&lab, Node::Ha, HA_ADDR, MN_HOME_LINK_ADDR);
    assert_reaches(&lab, Node::Mn, MN_HOME_LINK_ADDR, CN_ADDR);
    lab.move_mn(Link::Foreign2).expect("leave home");
    assert!(!lab.mn_at_home());
    assert_eq!(lab.global_addrs(Node::Mn).expect("mn addrs"), vec![coa2]);
    assert!(!lab
        .ping(Node::Ha, HA_ADDR, MN_HOME_LINK_ADDR)
        .expect("ping runs"));

    lab.close().expect("teardown");
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
    eprintln!("whole test in {:?}", started.elapsed());
}

#[test]
fn drop_removes_namespaces_and_processes() {
    if !require_lab("drop_removes_namespaces_and_processes") {
        return;
    }
    let mut lab = Lab::new().expect("build lab");
    let prefix = lab.prefix().to_owned();
    let tracked = lab
        .spawn_in(Node::Ha, &["sleep", "30"])
        .expect("spawn sleep");
    // A process the lab did not spawn itself, left behind in a namespace: drop must
    // kill it too (`ip netns pids`), or the namespace would outlive its name.
    let stray = lab
        .exec_in_checked(
            Node::Cn,
            &["sh", "-c", "sleep 30 >/dev/null 2>&1 </dev/null & echo $!"],
        )
        .expect("start stray");
    let stray: u32 = String::from_utf8_lossy(&stray.stdout)
        .trim()
        .parse()
        .expect("stray pid");
    assert_eq!(lab.is_running(tracked), Some(true));
    assert!(proc_alive(stray), "stray sleep did not start");

    let started = Instant::now();
    drop(lab);
    eprintln!("drop took {:?}", started.elapsed());
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
    assert!(!proc_alive(tracked.pid()), "spawned process survived drop");
    assert!(!proc_alive(stray), "stray process survived drop");
}

/// True while `pid` exists and is not a zombie (a reaped or dead process is gone).
fn proc_alive(pid: u32) -> bool {
    // A killed orphan is reaped by init soon after; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.chars().next())
            });
        match state {
            None | Some('Z') | Some('X') => return false,
            Some(_) if Instant::now() >= deadline => return true,
            Some(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn stop_ends_a_spawned_process() {
    if !require_lab("stop_ends_a_spawned_process") {
        return;
    }
    let mut lab = Lab::new().expect("build lab");
    let id = lab.spawn_in(Node::Rt, &["sleep", "30"]).expect("spawn");
    let status = lab.stop(id).expect("stop");
    assert!(!status.success(), "sleep 30 cannot have finished: {status}");
    assert_eq!(lab.is_running(id), None, "stopped process still tracked");
    assert!(lab.stop(id).is_err(), "stopping twice must fail");
}

#[test]
fn panic_with_live_lab_still_cleans_up() {
    if !require_lab("panic_with_live_lab_still_cleans_up") {
        return;
    }
    let mut prefix = String::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut lab = Lab::new().expect("build lab");
        prefix = lab.prefix().to_owned();
        lab.move_mn(Link::Foreign1).expect("move");
        lab.spawn_in(Node::Mn, &["sleep", "30"]).expect("spawn");
        panic!("deliberate panic with a live lab");
    }));
    assert!(result.is_err(), "the closure must have panicked");
    assert!(prefix.starts_with("mip6-"), "lab never built: {prefix:?}");
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
}

#[test]
fn cleanup_stale_removes_leftovers_of_a_killed_run() {
    if !require_lab("cleanup_stale_removes_leftovers_of_a_killed_run") {
        return;
    }
    let mut lab = Lab::new().expect("build lab");
    let prefix = lab.prefix().to_owned();
    lab.spawn_in(Node::Cn, &["sleep", "30"]).expect("spawn");
    // A killed run never drops its lab.
    std::mem::forget(lab);
    assert_eq!(namespaces_with(&prefix).len(), 4);

    let mut removed = mip6_lab::cleanup_stale(&prefix).expect("cleanup");
    removed.sort();
    assert_eq!(
        removed,
        ["cn", "ha", "mn", "rt"].map(|n| format!("{prefix}{n}"))
    );
    assert_eq!(namespaces_with(&prefix), Vec::<String>::new());
    // Our own process is alive, so its labs are nobody's orphans.
    let keep = Lab::new().expect("build lab");
    let orphans = mip6_lab::cleanup_orphans().expect("cleanup orphans");
    assert!(
        orphans.iter().all(|n| !n.starts_with(keep.prefix())),
        "cleanup_orphans removed a live lab: {orphans:?}"
    );
    assert_eq!(namespaces_with(keep.prefix()).len(), 4);
}

#[test]
fn mn_daemon_sees_new_care_of_address_appear() {
    if !require_lab("mn_daemon_sees_new_care_of_address_appear") {
        return;
    }
    let mut lab = Lab::new().expect("build lab");
    lab.move_mn(Link::Foreign1).expect("move");
    // Stand-in for the MN daemon's rtnetlink subscription.
    let mut monitor = lab.command_in(Node::Mn, "ip");
    monitor
        .args(["-o", "monitor", "address"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let id = lab.spawn_command(monitor).expect("spawn ip monitor");
    let stdout = lab.take_stdout(id).expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // Wait until the monitor is subscribed: poke loopback until it reports an event.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut subscribed = false;
    for i in 1u16.. {
        let marker = format!("2001:db8:ff::{i:x}/128");
        lab.exec_in_checked(
            Node::Mn,
            &["ip", "addr", "add", &marker, "dev", "lo", "nodad"],
        )
        .expect("marker address");
        if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
            subscribed = true;
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    assert!(subscribed, "ip monitor never reported an event");
    while rx.try_recv().is_ok() {}

    lab.move_mn(Link::Foreign2).expect("move");
    let old = Link::Foreign1.mn_addr().to_string();
    let new = Link::Foreign2.mn_addr().to_string();
    let (mut saw_del, mut saw_new) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !(saw_del && saw_new) && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        saw_del |= line.starts_with("Deleted") && line.contains(&format!(" {old}/"));
        saw_new |= !line.starts_with("Deleted")
            && line.contains(&format!(" {new}/"))
            && line.contains("scope global");
    }
    assert!(saw_del, "no RTM_DELADDR for {old}");
    assert!(saw_new, "no RTM_NEWADDR for {new}");
}
