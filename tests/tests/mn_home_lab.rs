//! The mobile node on its home link, end to end in network namespaces (issue 11,
//! item 3; issue 12, item 6): `mip6-mn` and `mip6-ha` as built, the lab's MN moved
//! between a foreign link and the home link (a bridge shared with the HA and the
//! router). Written from RFC 6275 §11.5.4 (the mobile node returning home) and
//! §10.3.2 (the home agent's side of it):
//!
//! - the deregistration (lifetime 0, care-of address = home address) leaves on the
//!   home link, not into the node's own tunnel, and the home agent's acknowledgement
//!   reaches the node there (not the tunnel to the old care-of address);
//! - the home agent removes the binding and stops defending the home address; the
//!   node takes its home address onto the home link and says so with a Neighbor
//!   Advertisement to all nodes (O=1, S=0, its own Ethernet address);
//! - traffic continues without the tunnel: the home link and the correspondent reach
//!   the home address directly;
//! - leaving home registers again, with the keys it has (no re-initialization).
//!
//! Root only; skipped loudly otherwise, except under `CI=true`.

use std::time::Duration;

use mip6_lab::prereq::require_lab;
use mip6_lab::{Link, Node, CN_ADDR, HA_ADDR, MN_HOA, MN_HOME_IFACE};
use mip6_tests::lab_e2e::Running;
use mip6_tests::prerequisites::{require_radvd, require_tool};

fn init_count(s: &serde_json::Value) -> u64 {
    s["key_events"]["initialization"]
        .as_u64()
        .unwrap_or_else(|| panic!("no key_events.initialization: {s}"))
}

fn registered_at(coa: impl ToString) -> impl Fn(&serde_json::Value) -> bool {
    let coa = coa.to_string();
    move |s| s["registration"] == "registered" && s["care_of_address"] == coa.as_str()
}

/// The HA's binding for the lab's home address, if it lists one.
fn ha_binding(s: &serde_json::Value) -> Option<serde_json::Value> {
    s["bindings"]
        .as_array()?
        .iter()
        .find(|b| b["home_address"] == MN_HOA.to_string())
        .cloned()
}

/// The text of `ip -6 route get <to> [from <from>]` in `node`.
fn route_get(run: &Running, node: Node, to: &str, from: Option<&str>) -> String {
    let mut args = vec!["ip", "-6", "route", "get", to];
    if let Some(f) = from {
        args.extend(["from", f]);
    }
    let out = run.lab.exec_in_checked(node, &args).expect("ip route get");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scapy sniffer on the home link (in the router's namespace, on its bridge) for
/// Neighbor Advertisements whose target is the home address; prints one JSON line
/// per advertisement.
fn watch_advertisements(run: &mut Running) -> mip6_lab::ProcId {
    let script = format!(
        "import json, sys\n\
         from scapy.all import sniff, IPv6, ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, Ether\n\
         def show(p):\n\
         \x20   na = p[ICMPv6ND_NA]\n\
         \x20   if na.tgt != '{hoa}':\n\
         \x20       return\n\
         \x20   tlla = p[ICMPv6NDOptDstLLAddr].lladdr if p.haslayer(ICMPv6NDOptDstLLAddr) else None\n\
         \x20   print(json.dumps({{'src': p[IPv6].src, 'dst': p[IPv6].dst, 'R': na.R, 'S': na.S, 'O': na.O,\n\
         \x20                     'tlla': tlla, 'eth_src': p[Ether].src, 'eth_dst': p[Ether].dst}}), flush=True)\n\
         print('ready', flush=True)\n\
         sniff(iface='rt-home', filter='icmp6 and ip6[40] == 136', prn=show, timeout=25, store=False)\n",
        hoa = MN_HOA
    );
    let mut cmd = run.lab.command_in(Node::Rt, "python3");
    cmd.args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let id = run.lab.spawn_command(cmd).expect("the NA watcher starts");
    // Wait for its "ready" (scapy imports take a while).
    let out = run.lab.take_stdout(id).expect("its stdout");
    let mut reader = std::io::BufReader::new(out);
    let mut line = String::new();
    use std::io::BufRead;
    reader.read_line(&mut line).expect("the watcher speaks");
    assert_eq!(line.trim(), "ready", "the NA watcher did not start: {line}");
    WATCHER.with(|w| *w.borrow_mut() = Some(reader));
    id
}

thread_local! {
    static WATCHER: std::cell::RefCell<Option<std::io::BufReader<std::process::ChildStdout>>> =
        const { std::cell::RefCell::new(None) };
}

/// The advertisements the watcher printed until it stopped.
fn advertisements(run: &mut Running, id: mip6_lab::ProcId) -> Vec<serde_json::Value> {
    let _ = run.lab.stop(id);
    let reader = WATCHER.with(|w| w.borrow_mut().take()).expect("a watcher");
    use std::io::BufRead;
    reader
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

fn mac_of(run: &Running, node: Node, iface: &str) -> String {
    let out = run
        .lab
        .exec_in_checked(node, &["cat", &format!("/sys/class/net/{iface}/address")])
        .expect("the interface's address");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn rfc6275_11_5_4_returning_home_deregisters_on_the_home_link_and_leaving_registers_again() {
    let t =
        "rfc6275_11_5_4_returning_home_deregisters_on_the_home_link_and_leaving_registers_again";
    if !require_lab(t) || !require_tool(t, "python3") {
        return;
    }
    // Long key interval: the only key exchanges are the initialization and the update
    // right after it, so any re-initialization would show.
    let mut run = Running::start(Duration::from_secs(600), true);
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    run.wait_mn("the first key update", Duration::from_secs(10), |s| {
        s["key_events"]["update"].as_u64() >= Some(1)
    });
    let inits_before = init_count(&run.ha_json());
    let mn_mac = mac_of(&run, Node::Mn, MN_HOME_IFACE);

    let watcher = watch_advertisements(&mut run);
    run.lab.move_mn_home().expect("the MN on its home link");
    run.wait_mn("deregistration", Duration::from_secs(10), |s| {
        s["registration"] == "at-home"
    });
    run.wait_ha("the binding removed", Duration::from_secs(5), |s| {
        ha_binding(s).is_none()
    });
    let mn = run.mn_json();
    assert_eq!(mn["care_of_address"], serde_json::Value::Null, "{mn}");
    // §11.5.4: the node's own tunnel carried nothing of it (the deregistration from
    // the home address was routed onto the home link).
    assert_eq!(
        mn["drops"]["tun_not_away"].as_u64().unwrap_or(0),
        0,
        "{}",
        run.diagnostics()
    );

    // The home address is on the home link now, and the node told the link.
    let addrs = run.lab.global_addrs(Node::Mn).expect("MN addresses");
    assert!(addrs.contains(&MN_HOA), "{addrs:?}");
    let route = route_get(
        &run,
        Node::Mn,
        &CN_ADDR.to_string(),
        Some(&MN_HOA.to_string()),
    );
    assert!(
        route.contains(&format!("dev {MN_HOME_IFACE}")),
        "traffic from the home address must leave on the home link, not the tunnel: {route}"
    );
    // The HA reaches the home address on the link (it no longer defends it), and so
    // does the correspondent through the router.
    assert!(
        run.lab.ping(Node::Ha, HA_ADDR, MN_HOA).expect("ping runs"),
        "{}",
        run.diagnostics()
    );
    assert!(
        run.lab.ping(Node::Cn, CN_ADDR, MN_HOA).expect("ping runs"),
        "{}",
        run.diagnostics()
    );
    let nas = advertisements(&mut run, watcher);
    let own: Vec<_> = nas
        .iter()
        .filter(|na| na["eth_src"] == mn_mac.as_str())
        .collect();
    assert!(
        own.iter().any(|na| na["dst"] == "ff02::1"
            && na["O"] == 1
            && na["S"] == 0
            && na["tlla"] == mn_mac.as_str()),
        "no unsolicited NA (ff02::1, O=1, S=0, TLLA = {mn_mac}) from the MN: {nas:?}"
    );

    // Data without the tunnel, both ways, nothing lost.
    let frames_before = run.ha_json()["frames"].clone();
    let (up, down) = run.udp_both_ways(1, 100, 2.0, |_| {});
    assert_eq!(
        (up.rx.lost, down.rx.lost),
        (0, 0),
        "up {up:?} down {down:?}"
    );
    assert!(
        up.rx.received >= 150 && down.rx.received >= 150,
        "up {up:?} down {down:?}"
    );
    let frames_after = run.ha_json()["frames"].clone();
    assert_eq!(
        frames_before["tun_in"], frames_after["tun_in"],
        "the HA tunnelled traffic for a node at home: {frames_before} → {frames_after}"
    );

    // Leaving home: registered again from the new link, the home address off the home
    // link, with the same keys.
    run.lab.move_mn(Link::Foreign2).expect("away again");
    run.wait_mn(
        "registration from foreign link 2",
        Duration::from_secs(10),
        registered_at("2001:db8:3::100"),
    );
    let ha = run.ha_json();
    assert_eq!(
        ha_binding(&ha).map(|b| b["care_of_address"].clone()),
        Some("2001:db8:3::100".into()),
        "{ha}"
    );
    assert_eq!(init_count(&ha), inits_before, "keys re-initialized: {ha}");
    let route = route_get(
        &run,
        Node::Mn,
        &CN_ADDR.to_string(),
        Some(&MN_HOA.to_string()),
    );
    assert!(
        !route.contains(MN_HOME_IFACE),
        "the home link's route outlived the move: {route}"
    );
    let (up, down) = run.udp_both_ways(2, 100, 2.0, |_| {});
    assert_eq!(
        (up.rx.lost, down.rx.lost),
        (0, 0),
        "up {up:?} down {down:?}"
    );
}

/// RFC 6275 §11.5.4: a node killed while away and started again on its home link
/// deregisters the binding its last run left at the home agent (its record says it
/// ran before), then takes its home address onto the link; the home agent stops
/// proxying and tunnelling for it.
/// The same return home with ESP in UDP (issue 14): at home the node deregisters in
/// raw ESP (the home agent answers it on the home link through the link-layer
/// address of the frame: the home address is not on the link yet), settles at home,
/// and leaving registers again, and tunnels, in UDP. While idle it sends NAT
/// keepalives.
#[test]
fn rfc6275_11_5_4_returning_home_over_udp_deregisters_and_leaving_registers_again() {
    let t = "rfc6275_11_5_4_returning_home_over_udp_deregisters_and_leaving_registers_again";
    if !require_lab(t) {
        return;
    }
    let mut run = Running::start_udp(Duration::from_secs(600), true);
    run.wait_mn(
        "registration over UDP",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    let inits_before = init_count(&run.ha_json());
    // Idle (no data, key updates 10 min apart): NAT keepalives, one octet each
    // (RFC 3948 §2.3), reach the home agent, which counts them and learns nothing.
    run.wait_mn("a NAT keepalive sent", Duration::from_secs(5), |s| {
        s["frames"]["udp_keepalives"].as_u64() >= Some(2)
    });
    run.wait_ha("NAT keepalives received", Duration::from_secs(5), |s| {
        s["drops"]["udp_keepalive"].as_u64() >= Some(1)
    });
    run.lab.move_mn_home().expect("the MN on its home link");
    run.wait_mn("deregistration over UDP", Duration::from_secs(10), |s| {
        s["registration"] == "at-home"
    });
    run.wait_ha("the binding removed", Duration::from_secs(5), |s| {
        ha_binding(s).is_none()
    });
    assert!(
        run.lab.ping(Node::Cn, CN_ADDR, MN_HOA).expect("ping runs"),
        "{}",
        run.diagnostics()
    );
    run.lab.move_mn(Link::Foreign1).expect("away again");
    run.wait_mn(
        "registered again over UDP",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    let (up, down) = run.udp_both_ways(7, 200, 1.0, |_| {});
    assert_eq!(
        (up.rx.lost, down.rx.lost),
        (0, 0),
        "up {up:?} down {down:?}"
    );
    assert_eq!(
        init_count(&run.ha_json()),
        inits_before,
        "no re-initialization"
    );
    assert!(run.mn_json()["frames"]["udp_in"].as_u64() > Some(100));
}

#[test]
fn rfc6275_11_5_4_a_node_restarted_on_its_home_link_removes_its_old_binding() {
    let t = "rfc6275_11_5_4_a_node_restarted_on_its_home_link_removes_its_old_binding";
    if !require_lab(t) {
        return;
    }
    let mut run = Running::start(Duration::from_secs(600), true);
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    run.kill_mn();
    assert!(
        ha_binding(&run.ha_json()).is_some(),
        "the binding outlives the killed node"
    );
    run.lab.move_mn_home().expect("the MN on its home link");
    run.start_mn();
    run.wait_mn("at home", Duration::from_secs(10), |s| {
        s["registration"] == "at-home"
    });
    run.wait_ha("the old binding removed", Duration::from_secs(5), |s| {
        ha_binding(s).is_none()
    });
    let addrs = run.lab.global_addrs(Node::Mn).expect("MN addresses");
    assert!(addrs.contains(&MN_HOA), "{addrs:?}");
    assert!(
        run.lab.ping(Node::Cn, CN_ADDR, MN_HOA).expect("ping runs"),
        "{}",
        run.diagnostics()
    );
    let mn = run.mn_json();
    assert!(
        mn["bu_sent"].as_u64() >= Some(1),
        "a deregistration was sent: {mn}"
    );
}

/// RFC 6275 §10.3.2 and §11.7.3: the home agent answers a node at home on the home
/// link also when it refuses. The acknowledgement of the deregistration is dropped on
/// the home link's bridge, so the node retransmits it; the home agent, whose binding
/// is gone, refuses with 133 (not home agent for this mobile node), and that refusal
/// must reach the node at home — which takes it as "deregistered".
#[test]
fn rfc6275_10_3_2_a_refusal_to_a_node_at_home_reaches_it_on_the_home_link() {
    let t = "rfc6275_10_3_2_a_refusal_to_a_node_at_home_reaches_it_on_the_home_link";
    if !require_lab(t) || !require_tool(t, "nft") {
        return;
    }
    let mut run = Running::start(Duration::from_secs(600), true);
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered_at("2001:db8:2::100"),
    );
    // ESP to the home address across the home link's bridge: the BA from the HA to
    // the node at home (the only such frame: the node is away until it moves).
    let drop_rules = format!(
        "table bridge mip6_test {{\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority 0; policy accept;\n\
         \t\tether type ip6 ip6 daddr {MN_HOA} ip6 nexthdr esp counter drop\n\
         \t}}\n\
         }}\n"
    );
    let mut nft = run.lab.command_in(Node::Rt, "nft");
    nft.args(["-f", "-"]).stdin(std::process::Stdio::piped());
    let mut child = nft.spawn().expect("nft runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(drop_rules.as_bytes())
        .expect("rules written");
    assert!(child.wait().expect("nft ends").success());

    run.lab.move_mn_home().expect("the MN on its home link");
    run.wait_ha("the binding removed", Duration::from_secs(10), |s| {
        ha_binding(s).is_none()
    });
    let counted = run
        .lab
        .exec_in_checked(Node::Rt, &["nft", "list", "table", "bridge", "mip6_test"])
        .expect("nft list");
    let counted = String::from_utf8_lossy(&counted.stdout).into_owned();
    assert!(
        !counted.contains("packets 0 "),
        "the acknowledgement was not dropped on the bridge: {counted}"
    );
    assert_ne!(run.mn_json()["registration"], "at-home");
    run.lab
        .exec_in_checked(Node::Rt, &["nft", "delete", "table", "bridge", "mip6_test"])
        .expect("nft delete");

    // The retransmitted deregistration finds no binding: 133, delivered on the link.
    run.wait_mn("the refusal taken as done", Duration::from_secs(10), |s| {
        s["registration"] == "at-home"
    });
    let ha = run.ha_json();
    assert_eq!(
        ha["refusals"]["no_binding_to_deregister"].as_u64(),
        Some(1),
        "{ha}"
    );
    assert!(
        run.lab
            .global_addrs(Node::Mn)
            .expect("addresses")
            .contains(&MN_HOA),
        "{}",
        run.diagnostics()
    );
    assert!(run.lab.ping(Node::Ha, HA_ADDR, MN_HOA).expect("ping runs"));
}

/// `ping -6 -c 3 <to>` in `node` without choosing a source: whether it was answered.
fn plain_ping(run: &Running, node: Node, to: &str) -> bool {
    let out = run
        .lab
        .exec_in(
            node,
            &[
                "ping", "-6", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", to,
            ],
        )
        .expect("ping runs");
    out.status.success()
}

fn tun_out(run: &Running) -> u64 {
    run.ha_json()["frames"]["tun_out"].as_u64().unwrap_or(0)
}

/// Issue 11, item 1: applications that bind no address use the home address, away
/// and at home, on a kernel without `CONFIG_IPV6_MIP6` (RFC 6724 §5 rule 4 done by
/// the daemon). Away, the kernel's own choice for the correspondent is the home
/// address through the tunnel; a plain `ping` goes through the home agent. At home it
/// is the home address on the home link, and the home agent sees nothing. An unbound
/// TCP connection from the MN to the CN lives through two moves and a return home,
/// every octet counted at both ends. Every move is by switching links under radvd
/// (issue 11, item 2): the node forms its care-of addresses from the advertisements and
/// learns it is home from the home prefix.
#[test]
fn applications_that_bind_no_address_use_the_home_address_away_and_at_home() {
    let t = "applications_that_bind_no_address_use_the_home_address_away_and_at_home";
    // require_lab checks ping too (iputils' ping has no --version).
    if !require_lab(t) {
        return;
    }
    if !require_radvd(t) {
        return;
    }
    // Every move is by link alone: the router advertises, the daemon forms the
    // care-of address (RFC 6275 §11.5.1), and at home the home prefix in the
    // advertisement tells it it is home (§11.5.4).
    let mut run = Running::start_advertised(Duration::from_secs(600), true);
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered_at(Link::Foreign1.slaac_addr()),
    );
    let mn = run.mn_json();
    assert_eq!(
        mn["movement"]["cause"], "router_advertisement",
        "the first care-of address must come from the advertisement: {mn}"
    );
    let cn = CN_ADDR.to_string();
    let route = route_get(&run, Node::Mn, &cn, None);
    assert!(
        route.contains(&format!("src {MN_HOA}")) && !route.contains("dev mn-fg1"),
        "away, the CN must be reached from the home address through the tunnel: {route}"
    );
    let before = tun_out(&run);
    assert!(plain_ping(&run, Node::Mn, &cn), "{}", run.diagnostics());
    assert!(
        tun_out(&run) >= before + 3,
        "the plain ping did not go through the home agent: {} → {}",
        before,
        tun_out(&run)
    );
    // The daemon's own packets still leave from the care-of address.
    let ha = HA_ADDR.to_string();
    let mark = "0x6d697036"; // OWN_PACKET_MARK, "mip6"
    let own = route_get_marked(&run, &ha, mark);
    assert!(own.contains("dev mn-fg1"), "{own}");

    // An unbound TCP connection across the moves.
    let sink = {
        let mut c = run.lab.command_in(Node::Cn, run.bin.join("mip6-lab"));
        c.args([
            "tcp-sink",
            "--bind",
            &format!("[{cn}]:5301"),
            "--accept-timeout-secs",
            "10",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        c.spawn().expect("the TCP sink starts")
    };
    std::thread::sleep(Duration::from_millis(300));
    let source = {
        let mut c = run.lab.command_in(Node::Mn, run.bin.join("mip6-lab"));
        c.args([
            "tcp-source",
            "--bind",
            "[::]:0",
            "--connect",
            &format!("[{cn}]:5301"),
            "--secs",
            "9",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        c.spawn().expect("the TCP source starts")
    };
    std::thread::sleep(Duration::from_millis(1500));
    run.lab
        .switch_mn(Link::Foreign2)
        .expect("to foreign link 2");
    run.wait_mn(
        "registration from foreign link 2",
        Duration::from_secs(10),
        registered_at(Link::Foreign2.slaac_addr()),
    );
    let mn = run.mn_json();
    assert_eq!(mn["movement"]["cause"], "router_advertisement", "{mn}");
    assert!(
        mn["router_discovery"]["advertisements"].as_u64() > Some(2),
        "{mn}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    run.lab.switch_mn_home().expect("home");
    run.wait_mn("at home", Duration::from_secs(10), |s| {
        s["registration"] == "at-home"
    });
    std::thread::sleep(Duration::from_millis(300));
    let route = route_get(&run, Node::Mn, &cn, None);
    assert!(
        route.contains(&format!("src {MN_HOA}")) && route.contains(&format!("dev {MN_HOME_IFACE}")),
        "at home, the CN must be reached from the home address on the home link: {route}"
    );
    let before = tun_out(&run);
    assert!(plain_ping(&run, Node::Mn, &cn), "{}", run.diagnostics());
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        tun_out(&run),
        before,
        "at home, the ping and the TCP stream must not go through the home agent"
    );
    run.lab.switch_mn(Link::Foreign1).expect("away again");
    run.wait_mn(
        "registration from foreign link 1",
        Duration::from_secs(10),
        registered_at(Link::Foreign1.slaac_addr()),
    );
    let report = |child: std::process::Child, who: &str| -> serde_json::Value {
        let out = child.wait_with_output().expect("it ends");
        assert!(
            out.status.success(),
            "{who} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{who}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    };
    let sent = report(source, "tcp-source");
    let received = report(sink, "tcp-sink");
    let sent = sent["bytes"].as_u64().expect("bytes sent");
    assert!(sent > 0);
    assert_eq!(
        received["bytes"].as_u64(),
        Some(sent),
        "the unbound TCP connection lost bytes or died across the moves"
    );
}

/// `ip -6 route get <to> mark <mark>` in the MN: where a packet the daemon marks goes.
fn route_get_marked(run: &Running, to: &str, mark: &str) -> String {
    let out = run
        .lab
        .exec_in_checked(Node::Mn, &["ip", "-6", "route", "get", to, "mark", mark])
        .expect("ip route get");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
