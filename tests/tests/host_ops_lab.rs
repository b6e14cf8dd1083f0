//! Operating several mobile nodes and a home agent on real hosts (issue 11, items 4,
//! 5 and 6), end to end in the namespace lab with `mip6-ha` and `mip6-mn` as built:
//!
//! - two mobile nodes on one host with **default paths**: each gets its own control
//!   socket, state directory, TUN and routing table from its home address, both
//!   register, and `status` on each socket answers for its own home address; a third
//!   daemon configured like the first is refused at start and the first's socket
//!   still answers for the first node;
//! - **SIGHUP** adding a second mobile node to a running home agent registers it
//!   without disturbing the first (its binding and keys stay, no re-initialization);
//!   removing it again drops its binding and route; a reload the daemon cannot apply
//!   is refused with a log line and the old configuration kept; the mobile node takes
//!   SIGHUP too and stays registered;
//! - **visible misconfiguration**: a mobile node with the wrong init secret makes both
//!   daemons log a WARN naming the home address and the likely cause, once a minute
//!   at most, and the home agent's minute summary of drops names `bad_icv`.
//!
//! Root only; skipped loudly otherwise, except under `CI=true`. Each test builds its
//! own lab, whose `Drop` removes its namespaces and processes, also on failure; the
//! files the daemons create outside the lab (default sockets and state directories
//! under `/run` and `/var/lib/mip6-mn`) are removed by [`HostFiles`]'s `Drop`.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mip6_lab::demo::config::{ha_toml, write_private, DemoFiles};
use mip6_lab::demo::daemon::{Daemon, DaemonSpec};
use mip6_lab::demo::status;
use mip6_lab::prereq::require_lab;
use mip6_lab::{Lab, Link, Node};
use mip6_mn_daemon::config::HostDefaults;
use mip6_tests::lab_e2e::binaries;
use serde_json::Value;

const KEY_INTERVAL: Duration = Duration::from_secs(3600);

/// A mobile node of these tests: home address, init secret, init SPIs.
#[derive(Debug, Clone, Copy)]
struct Node6 {
    hoa: Ipv6Addr,
    secret: &'static str,
    spis: (u32, u32),
}

const A: Node6 = Node6 {
    hoa: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1a1),
    secret: "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
    spis: (0x3101, 0x3102),
};
const B: Node6 = Node6 {
    hoa: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1a2),
    secret: "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
    spis: (0x3201, 0x3202),
};
// Each test has nodes of its own: the tests run in parallel, in namespaces of their
// own, but the default sockets and state directories are on the one filesystem.
const C: Node6 = Node6 {
    hoa: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1b1),
    ..A
};
const D: Node6 = Node6 {
    hoa: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1c1),
    ..A
};
const E: Node6 = Node6 {
    hoa: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1c2),
    ..B
};

/// The `[[mobile_node]]` entry of a node in the HA's configuration.
fn ha_entry(n: &Node6) -> String {
    format!(
        "\n[[mobile_node]]\nhome_address = \"{}\"\ninit_secret = \"{}\"\n\
         init_spi_mn_to_ha = {:#x}\ninit_spi_ha_to_mn = {:#x}\n",
        n.hoa, n.secret, n.spis.0, n.spis.1
    )
}

/// A mobile node's configuration with no host setting: every path and name defaults.
fn mn_toml_defaults(n: &Node6, secret: &str) -> String {
    format!(
        r#"home_agent = "2001:db8:1::1"
home_address = "{}"
init_secret = "{secret}"
init_spi_mn_to_ha = {:#x}
init_spi_ha_to_mn = {:#x}
interfaces = ["{}", "{}"]
key_update_interval = "1h"
lifetime = "120s"

[log]
format = "text"
level = "info"
"#,
        n.hoa,
        n.spis.0,
        n.spis.1,
        Link::Foreign1.mn_iface(),
        Link::Foreign2.mn_iface(),
    )
}

/// What the mobile nodes create outside the lab with their default paths: removed on
/// drop (also when the test fails).
struct HostFiles(Vec<PathBuf>);

impl HostFiles {
    fn of(nodes: &[Node6]) -> HostFiles {
        let mut paths = Vec::new();
        for n in nodes {
            let d = HostDefaults::new(n.hoa);
            paths.push(d.control_socket());
            paths.push(d.state_dir());
        }
        // Leftovers of an earlier failed run would only confuse this one.
        let files = HostFiles(paths);
        files.remove();
        files
    }

    fn remove(&self) {
        for p in &self.0 {
            if p.is_dir() {
                let _ = std::fs::remove_dir_all(p);
            } else {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Drop for HostFiles {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The lab, the output directory, the daemons.
struct Setup {
    lab: Lab,
    files: DemoFiles,
    bin: PathBuf,
    out: tempfile::TempDir,
    runs: u32,
}

impl Setup {
    /// A lab with the mobile nodes' host on foreign link 1 and `mip6-ha` serving
    /// `nodes` (the lab's own node too, unused).
    fn new(nodes: &[Node6]) -> (Setup, Daemon) {
        let out = tempfile::Builder::new()
            .prefix("mip6-hostops-")
            .tempdir()
            .expect("a temporary directory");
        let files = DemoFiles::under(out.path());
        let mut lab = Lab::new().expect("the lab topology");
        lab.move_mn(Link::Foreign1)
            .expect("MN host on foreign link 1");
        let mut s = Setup {
            lab,
            files,
            bin: binaries(),
            out,
            runs: 0,
        };
        s.write_ha(nodes);
        let ha = s.spawn(
            "mip6-ha",
            Node::Ha,
            &s.files.ha_config.clone(),
            &s.files.ha_socket.clone(),
        );
        (s, ha)
    }

    fn write_ha(&self, nodes: &[Node6]) {
        let mut text = ha_toml(&self.files, KEY_INTERVAL, true);
        for n in nodes {
            text.push_str(&ha_entry(n));
        }
        write_private(&self.files.ha_config, &text).expect("HA config written");
    }

    fn write_mn(&self, name: &str, text: &str) -> PathBuf {
        let path = self.out.path().join(format!("{name}.toml"));
        write_private(&path, text).expect("MN config written");
        path
    }

    fn spawn(&mut self, program: &str, node: Node, config: &Path, socket: &Path) -> Daemon {
        let d = self.try_spawn(program, node, config, socket);
        d.wait_ready(&mut self.lab, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{program} ready: {e}"));
        d
    }

    fn try_spawn(&mut self, program: &str, node: Node, config: &Path, socket: &Path) -> Daemon {
        self.runs += 1;
        let name = format!("{program}-{}", self.runs);
        let path = self.bin.join(program);
        let spec = DaemonSpec {
            name: &name,
            node,
            program: &path,
            config,
            capture: None,
            socket,
            log: self.out.path().join(format!("{name}.log")),
            seed: None,
            echo: false,
        };
        Daemon::spawn(&mut self.lab, &spec).unwrap_or_else(|e| panic!("{name} starts: {e}"))
    }

    /// Sends `signal` (`HUP`, `TERM`) to a daemon.
    fn signal(&self, d: &Daemon, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &d.id.pid().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{signal} {}", d.id.pid());
    }

    /// The log file of a daemon.
    fn log(&self, d: &Daemon) -> String {
        std::fs::read_to_string(self.out.path().join(format!("{}.log", d.name))).unwrap_or_default()
    }
}

fn wait(what: &str, timeout: Duration, mut done: impl FnMut() -> bool, diag: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {timeout:?}\n{}",
            diag()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn registered(socket: &Path) -> bool {
    status::request(socket, "status").is_ok_and(|s| s["registration"] == "registered")
}

fn binding_of(ha: &Value, hoa: Ipv6Addr) -> Option<Value> {
    ha["bindings"]
        .as_array()?
        .iter()
        .find(|b| b["home_address"] == hoa.to_string())
        .cloned()
}

#[test]
fn two_mobile_nodes_on_one_host_with_default_paths() {
    let t = "two_mobile_nodes_on_one_host_with_default_paths";
    if !require_lab(t) {
        return;
    }
    let _host = HostFiles::of(&[A, B]);
    let (mut s, ha) = Setup::new(&[A, B]);
    let (da, db) = (HostDefaults::new(A.hoa), HostDefaults::new(B.hoa));
    assert_ne!(da.control_socket(), db.control_socket());
    let ca = s.write_mn("a", &mn_toml_defaults(&A, A.secret));
    let cb = s.write_mn("b", &mn_toml_defaults(&B, B.secret));
    let a = s.spawn("mip6-mn", Node::Mn, &ca, &da.control_socket());
    let b = s.spawn("mip6-mn", Node::Mn, &cb, &db.control_socket());
    let diag = || {
        format!(
            "A log:\n{}\nB log:\n{}\nHA log:\n{}",
            s.log(&a),
            s.log(&b),
            s.log(&ha)
        )
    };
    for d in [&da, &db] {
        wait(
            "both registered",
            Duration::from_secs(20),
            || registered(&d.control_socket()),
            diag,
        );
    }
    // Each socket answers for its own node, from its own state directory and TUN.
    for (n, d) in [(A, da), (B, db)] {
        let st = status::request(&d.control_socket(), "status").expect("status");
        assert_eq!(st["home_address"], n.hoa.to_string(), "{st}");
        assert!(
            d.state_dir().join("mip6-mn.redb").exists(),
            "{}",
            d.state_dir().display()
        );
        let link = s
            .lab
            .exec_in(
                Node::Mn,
                &["ip", "-6", "addr", "show", "dev", &d.tun_name()],
            )
            .expect("ip runs");
        assert!(
            String::from_utf8_lossy(&link.stdout).contains(&format!("{}/128", n.hoa)),
            "{}: {link:?}",
            d.tun_name()
        );
        let rules = s
            .lab
            .exec_in(Node::Mn, &["ip", "-6", "rule", "show"])
            .expect("ip");
        let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
        assert!(
            rules.contains(&format!("from {} lookup {}", n.hoa, d.route_table())),
            "{rules}"
        );
    }
    let ha_status = status::request(&s.files.ha_socket, "status").expect("HA status");
    assert!(
        binding_of(&ha_status, A.hoa).is_some() && binding_of(&ha_status, B.hoa).is_some(),
        "{ha_status}"
    );

    // `status` alone cannot choose between them: it says so and names both.
    let out = Command::new(s.bin.join("mip6-mn"))
        .arg("status")
        .output()
        .expect("mip6-mn status runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for d in [&da, &db] {
        assert!(
            err.contains(&d.control_socket().display().to_string()),
            "{err}"
        );
    }
    assert!(err.contains("several control sockets"), "{err}");

    // A third daemon configured like A: refused at start, A's socket untouched.
    let again = s.try_spawn("mip6-mn", Node::Mn, &ca, &da.control_socket());
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.lab.is_running(again.id) == Some(true) {
        assert!(
            Instant::now() < deadline,
            "the duplicate daemon still runs\n{}",
            s.log(&again)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = s.lab.stop(again.id).expect("reaped").code();
    assert_eq!(code, Some(2), "{}", s.log(&again));
    let log = s.log(&again);
    assert!(
        log.contains("another running daemon")
            && log.contains(&da.control_socket().display().to_string()),
        "{log}"
    );
    let st = status::request(&da.control_socket(), "status").expect("A still answers");
    assert_eq!(st["home_address"], A.hoa.to_string(), "{st}");
    assert_eq!(st["registration"], "registered", "{st}");

    // An orderly stop removes each node's own socket.
    for d in [a, b] {
        d.stop(&mut s.lab);
    }
    assert!(!da.control_socket().exists() && !db.control_socket().exists());
    ha.stop(&mut s.lab);
}

/// Waits until the daemon's log file holds a line with every one of `parts`; returns it.
fn log_line(s: &Setup, d: &Daemon, parts: &[&str], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let log = s.log(d);
        if let Some(line) = log.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no line with {parts:?} in {} within {timeout:?}:\n{log}",
            d.name
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_wrong_init_secret_is_a_warning_on_both_sides_naming_the_node() {
    let t = "a_wrong_init_secret_is_a_warning_on_both_sides_naming_the_node";
    if !require_lab(t) {
        return;
    }
    let _host = HostFiles::of(&[C]);
    let (mut s, ha) = Setup::new(&[C]);
    let wrong = "0f".repeat(32);
    let ca = s.write_mn("a-wrong", &mn_toml_defaults(&C, &wrong));
    let a = s.spawn(
        "mip6-mn",
        Node::Mn,
        &ca,
        &HostDefaults::new(C.hoa).control_socket(),
    );
    let hoa = C.hoa.to_string();
    // The home agent cannot open the node's BUs: a WARN naming it and the cause, once.
    let line = log_line(
        &s,
        &ha,
        &["WARN", &hoa, "wrong init secret"],
        Duration::from_secs(10),
    );
    assert!(line.contains("init_icv_failure"), "{line}");
    // The node hears nothing back: a WARN after its third retransmission (~10 s).
    let line = log_line(
        &s,
        &a,
        &[
            "WARN",
            &hoa,
            "no Binding Acknowledgement",
            "wrong init secret",
        ],
        Duration::from_secs(25),
    );
    assert!(line.contains("no_binding_ack"), "{line}");
    // Rate-limited: the HA saw a BU per retransmission but warned once this minute.
    let ha_log = s.log(&ha);
    let warned = ha_log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("init_icv_failure"))
        .count();
    assert_eq!(warned, 1, "{ha_log}");
    let st = status::request(&s.files.ha_socket, "status").expect("HA status");
    assert!(binding_of(&st, C.hoa).is_none(), "{st}");
    // Once a minute while drops occur, one INFO line sums them up by reason.
    let line = log_line(
        &s,
        &ha,
        &["INFO", "frames dropped in the last minute", "bad_icv"],
        Duration::from_secs(75),
    );
    assert!(line.contains("by_reason="), "{line}");
    a.stop(&mut s.lab);
    ha.stop(&mut s.lab);
}

fn key_events(st: &Value, kind: &str) -> u64 {
    st["key_events"][kind]
        .as_u64()
        .unwrap_or_else(|| panic!("no key_events.{kind} in {st}"))
}

/// Counts the lines of a daemon's log holding every one of `parts`.
fn count_lines(s: &Setup, d: &Daemon, parts: &[&str]) -> usize {
    s.log(d)
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .count()
}

#[test]
fn sighup_adds_and_removes_mobile_nodes_without_disturbing_the_others() {
    let t = "sighup_adds_and_removes_mobile_nodes_without_disturbing_the_others";
    if !require_lab(t) {
        return;
    }
    let _host = HostFiles::of(&[D, E]);
    let (mut s, ha) = Setup::new(&[D]);
    let (da, db) = (HostDefaults::new(D.hoa), HostDefaults::new(E.hoa));
    let ca = s.write_mn("a", &mn_toml_defaults(&D, D.secret));
    let a = s.spawn("mip6-mn", Node::Mn, &ca, &da.control_socket());
    let ha_socket = s.files.ha_socket.clone();
    let ha_json = || status::request(&ha_socket, "status").expect("HA status");
    wait(
        "D registered",
        Duration::from_secs(20),
        || registered(&da.control_socket()),
        || s.log(&ha),
    );
    let before = ha_json();
    let a_binding = binding_of(&before, D.hoa).expect("D bound");
    let a_keys = status::request(&da.control_socket(), "status").expect("D status");

    // E added to the file; SIGHUP; E registers; D untouched.
    s.write_ha(&[D, E]);
    s.signal(&ha, "HUP");
    log_line(
        &s,
        &ha,
        &["configuration reloaded", &E.hoa.to_string()],
        Duration::from_secs(10),
    );
    let cb = s.write_mn("b", &mn_toml_defaults(&E, E.secret));
    let b = s.spawn("mip6-mn", Node::Mn, &cb, &db.control_socket());
    wait(
        "E registered after the reload",
        Duration::from_secs(20),
        || registered(&db.control_socket()),
        || format!("{}\n{}", s.log(&ha), s.log(&b)),
    );
    let after = ha_json();
    let a_after = binding_of(&after, D.hoa).expect("D still bound");
    assert_eq!(
        a_after["care_of_address"], a_binding["care_of_address"],
        "{after}"
    );
    assert_eq!(
        a_after["sequence"], a_binding["sequence"],
        "D sent nothing new: {after}"
    );
    assert!(binding_of(&after, E.hoa).is_some(), "{after}");
    // The status lists its mobile nodes a page at a time (issue 13): one per page here,
    // in configuration order, each page naming the next.
    let page = |offset: &str| -> serde_json::Value {
        let out = std::process::Command::new(s.bin.join("mip6-ha"))
            .args([
                "status", "--json", "--limit", "1", "--offset", offset, "--socket",
            ])
            .arg(&ha_socket)
            .output()
            .expect("mip6-ha status runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let mut pages = vec![page("0")];
    while let Some(next) = pages
        .last()
        .and_then(|p| p["mobile_nodes"]["next_offset"].as_u64())
    {
        assert!(pages.len() < 10, "the pages do not end: {pages:?}");
        pages.push(page(&next.to_string()));
    }
    let total = pages[0]["mobile_nodes"]["total"].as_u64().expect("a total");
    assert_eq!(pages.len() as u64, total, "one node per page: {pages:?}");
    assert!(total >= 2, "{pages:?}");
    for p in &pages {
        assert_eq!(p["mobile_nodes"]["listed"], 1, "{p}");
        assert!(
            p["bindings"].as_array().is_some_and(|b| b.len() <= 1),
            "{p}"
        );
    }
    for hoa in [D.hoa, E.hoa] {
        assert_eq!(
            pages
                .iter()
                .filter(|p| binding_of(p, hoa).is_some())
                .count(),
            1,
            "{hoa} must be on exactly one page: {pages:?}"
        );
    }
    // One initialization each: D's keys were not re-initialized by the reload.
    assert_eq!(
        key_events(&after, "initialization"),
        key_events(&before, "initialization") + 1,
        "{after}"
    );
    let a_now = status::request(&da.control_socket(), "status").expect("D status");
    assert_eq!(a_now["key_events"], a_keys["key_events"], "{a_now}");
    assert_eq!(a_now["registration"], "registered", "{a_now}");

    // What cannot change live: refused by name, the running configuration kept.
    let mut text = std::fs::read_to_string(&s.files.ha_config).unwrap();
    text = format!("tun_mtu = 1400\n{text}");
    write_private(&s.files.ha_config, &text).unwrap();
    s.signal(&ha, "HUP");
    let line = log_line(
        &s,
        &ha,
        &["WARN", "reload refused", "tun_mtu"],
        Duration::from_secs(10),
    );
    assert!(line.contains("cannot change while running"), "{line}");
    // Not TOML at all: refused too.
    write_private(&s.files.ha_config, "address = [\n").unwrap();
    s.signal(&ha, "HUP");
    wait(
        "a second refusal",
        Duration::from_secs(10),
        || count_lines(&s, &ha, &["WARN", "reload refused"]) >= 2,
        || s.log(&ha),
    );
    assert!(
        binding_of(&ha_json(), E.hoa).is_some(),
        "kept: E still served"
    );

    // E removed: its binding and route go; D stays.
    s.write_ha(&[D]);
    s.signal(&ha, "HUP");
    wait(
        "E's binding removed",
        Duration::from_secs(10),
        || binding_of(&ha_json(), E.hoa).is_none(),
        || s.log(&ha),
    );
    let routes = s
        .lab
        .exec_in(Node::Ha, &["ip", "-6", "route", "show"])
        .expect("ip runs");
    let routes = String::from_utf8_lossy(&routes.stdout).into_owned();
    assert!(!routes.contains(&E.hoa.to_string()), "{routes}");
    assert!(routes.contains(&D.hoa.to_string()), "{routes}");
    assert!(binding_of(&ha_json(), D.hoa).is_some());

    // The mobile node's watched interfaces change live: without foreign link 1 it has
    // no care-of address (detached, the binding kept); with it again, the same one.
    let fg1 = Link::Foreign1.mn_iface();
    let fg2 = Link::Foreign2.mn_iface();
    let only_fg2 = mn_toml_defaults(&D, D.secret).replace(
        &format!("interfaces = [\"{fg1}\", \"{fg2}\"]"),
        &format!("interfaces = [\"{fg2}\"]"),
    );
    assert_ne!(only_fg2, mn_toml_defaults(&D, D.secret));
    write_private(&ca, &only_fg2).unwrap();
    s.signal(&a, "HUP");
    log_line(
        &s,
        &a,
        &["configuration reloaded", "care_of_address=None"],
        Duration::from_secs(10),
    );
    log_line(
        &s,
        &a,
        &["detached, waiting for a new one"],
        Duration::from_secs(5),
    );
    write_private(&ca, &mn_toml_defaults(&D, D.secret)).unwrap();
    s.signal(&a, "HUP");
    log_line(
        &s,
        &a,
        &[
            "configuration reloaded",
            &format!("care_of_address=Some({})", Link::Foreign1.mn_addr()),
        ],
        Duration::from_secs(10),
    );
    wait(
        "D registered at foreign link 1 again",
        Duration::from_secs(10),
        || {
            status::request(&da.control_socket(), "status").is_ok_and(|st| {
                st["registration"] == "registered"
                    && st["care_of_address"] == Link::Foreign1.mn_addr().to_string()
            })
        },
        || s.log(&a),
    );

    // The mobile node reloads its timers (a new lifetime), and SIGUSR1 is ignored: it
    // keeps running and registered.
    let text = mn_toml_defaults(&D, D.secret).replace("lifetime = \"120s\"", "lifetime = \"60s\"");
    write_private(&ca, &text).unwrap();
    s.signal(&a, "HUP");
    log_line(
        &s,
        &a,
        &["configuration reloaded", "lifetime_s=60"],
        Duration::from_secs(10),
    );
    s.signal(&a, "USR1");
    log_line(
        &s,
        &a,
        &["signal ignored", "SIGUSR1"],
        Duration::from_secs(10),
    );
    assert!(registered(&da.control_socket()));

    // SIGQUIT is an orderly stop: the socket goes with the daemon.
    s.signal(&a, "QUIT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.lab.is_running(a.id) == Some(true) {
        assert!(
            Instant::now() < deadline,
            "SIGQUIT did not stop D\n{}",
            s.log(&a)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        s.lab.stop(a.id).expect("reaped").code(),
        Some(0),
        "{}",
        s.log(&a)
    );
    assert!(
        !da.control_socket().exists(),
        "D's control socket left behind"
    );
    b.stop(&mut s.lab);
    ha.stop(&mut s.lab);
}

const F: Node6 = Node6 {
    hoa: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1d1),
    ..A
};
const G: Node6 = Node6 {
    hoa: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x1d2),
    ..B
};

/// Issue 13, item 3: mobile nodes provisioned while the home agent runs, over its
/// control socket (`mip6-ha mn add`, `mn import`, `mn list`, `mn show`, `mn
/// remove`): each is served at once (its mobile node registers), kept in the store (a
/// restarted home agent serves it again with its binding), removed on request; the
/// configuration file's nodes are not removed this way, and an SPI in use is refused.
#[test]
fn mobile_nodes_provisioned_at_run_time_are_served_and_survive_a_restart() {
    let t = "mobile_nodes_provisioned_at_run_time_are_served_and_survive_a_restart";
    if !require_lab(t) {
        return;
    }
    let _host = HostFiles::of(&[F, G]);
    let (mut s, ha) = Setup::new(&[]);
    let ha_socket = s.files.ha_socket.clone();
    let ha_program = s.bin.join("mip6-ha");
    let mn = |args: &[&str]| -> (bool, Value, String) {
        let out = Command::new(&ha_program)
            .arg("mn")
            .args(args)
            .args(["--json", "--socket"])
            .arg(&ha_socket)
            .output()
            .expect("mip6-ha mn runs");
        let answer = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.success(),
            answer,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // F by `mn add`, its secret from a file.
    let secret_file = s.out.path().join("f.secret");
    write_private(&secret_file, F.secret).expect("secret written");
    let add_f = || {
        mn(&[
            "add",
            "--home-address",
            &F.hoa.to_string(),
            "--init-secret-file",
            secret_file.to_str().expect("a UTF-8 path"),
            "--init-spi-mn-to-ha",
            &F.spis.0.to_string(),
            "--init-spi-ha-to-mn",
            &F.spis.1.to_string(),
        ])
    };
    let (ok, added, err) = add_f();
    assert!(ok, "mn add: {err}");
    assert_eq!(
        added["added"],
        serde_json::json!([F.hoa.to_string()]),
        "{added}"
    );
    // G by `mn import` of a file of [[mobile_node]] tables.
    let import = s.out.path().join("import.toml");
    write_private(&import, &ha_entry(&G)).expect("import file written");
    let (ok, _, err) = mn(&["import", import.to_str().expect("a UTF-8 path")]);
    assert!(ok, "mn import: {err}");
    let (_, list, _) = mn(&["list"]);
    let provisioned: Vec<&Value> = list["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["source"] == "provisioned")
        .map(|n| &n["home_address"])
        .collect();
    assert_eq!(
        provisioned,
        [
            &Value::from(F.hoa.to_string()),
            &Value::from(G.hoa.to_string())
        ],
        "{list}"
    );
    // An SPI in use, and the file's own node, are refused.
    let (ok, _, err) = mn(&[
        "add",
        "--home-address",
        "2001:db8:1::1d9",
        "--init-secret",
        F.secret,
        "--init-spi-mn-to-ha",
        &F.spis.0.to_string(),
        "--init-spi-ha-to-mn",
        "13000",
    ]);
    assert!(!ok && err.contains("in use"), "{err}");
    let (ok, _, err) = mn(&["remove", "2001:db8:1::100"]);
    assert!(!ok && err.contains("configuration file"), "{err}");

    // Both register.
    let (df, dg) = (HostDefaults::new(F.hoa), HostDefaults::new(G.hoa));
    let cf = s.write_mn("f", &mn_toml_defaults(&F, F.secret));
    let cg = s.write_mn("g", &mn_toml_defaults(&G, G.secret));
    let f = s.spawn("mip6-mn", Node::Mn, &cf, &df.control_socket());
    let g = s.spawn("mip6-mn", Node::Mn, &cg, &dg.control_socket());
    wait(
        "F and G registered",
        Duration::from_secs(20),
        || registered(&df.control_socket()) && registered(&dg.control_socket()),
        || format!("{}\n{}\n{}", s.log(&ha), s.log(&f), s.log(&g)),
    );
    let (_, shown, _) = mn(&["show", &G.hoa.to_string()]);
    assert_eq!(shown["source"], "provisioned", "{shown}");
    assert!(shown["binding"]["care_of_address"].is_string(), "{shown}");

    // F removed and added again: it resumes from its stored record (read by its key
    // alone), so its key generations are the ones it had, not a fresh init key.
    let (_, shown, _) = mn(&["show", &F.hoa.to_string()]);
    let keys_before = shown["keys"].clone();
    // A generation past the init key (the first key update follows the
    // initialization): what a node added without its record would not have.
    assert!(
        keys_before["generations"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["generation"].as_u64() > Some(0))),
        "{shown}"
    );
    let (ok, _, err) = mn(&["remove", &F.hoa.to_string()]);
    assert!(ok, "mn remove: {err}");
    let (ok, _, err) = add_f();
    assert!(ok, "mn add again: {err}");
    let (_, shown, _) = mn(&["show", &F.hoa.to_string()]);
    assert_eq!(
        shown["keys"], keys_before,
        "F resumed from its stored record: {shown}"
    );

    // F removed: its binding goes, it is no longer served.
    let (ok, _, err) = mn(&["remove", &F.hoa.to_string()]);
    assert!(ok, "mn remove: {err}");
    let status = status::request(&ha_socket, "status").expect("HA status");
    assert!(binding_of(&status, F.hoa).is_none(), "{status}");
    let (ok, _, err) = mn(&["show", &F.hoa.to_string()]);
    assert!(!ok && err.contains("not served"), "{err}");
    f.stop(&mut s.lab);

    // A restarted home agent serves G again from the store, binding and all, and not F.
    ha.stop(&mut s.lab);
    let ha = s.spawn("mip6-ha", Node::Ha, &s.files.ha_config.clone(), &ha_socket);
    let (_, list, _) = mn(&["list"]);
    let listed: Vec<(String, String)> = list["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["home_address"].as_str().unwrap_or("").to_owned(),
                n["source"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        listed.contains(&(G.hoa.to_string(), "provisioned".to_owned())),
        "{list}"
    );
    assert!(
        !listed.iter().any(|(h, _)| *h == F.hoa.to_string()),
        "{list}"
    );
    let status = status::request(&ha_socket, "status").expect("HA status");
    assert!(
        binding_of(&status, G.hoa).is_some(),
        "G's binding restored: {status}\n{}",
        s.log(&ha)
    );
    g.stop(&mut s.lab);
    ha.stop(&mut s.lab);
}
