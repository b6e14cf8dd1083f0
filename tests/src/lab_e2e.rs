//! Helpers of the end-to-end tests (`tests/tests/e2e_lab.rs`): the daemon binaries,
//! a lab with `mip6-ha` and `mip6-mn` running in it, their status, UDP streams
//! between the home address and the correspondent, and tshark over the captures.
//!
//! Built on `mip6-lab`'s topology and demo blocks (configuration files, daemon
//! spawning with log capture, status parsing, the BA-drop table), so the tests and
//! the demo start the daemons the same way.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mip6_lab::demo::config::{ha_pair_toml, ha_toml, mn_toml, DemoFiles, PairMember};
use mip6_lab::demo::daemon::{Daemon, DaemonSpec};
use mip6_lab::demo::status::{self, HaStatus, MnStatus};
use mip6_lab::traffic::udp::UdpPeerReport;
use mip6_lab::{Lab, Link, Node};

/// The mobile node's home address in the lab.
pub const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
/// The correspondent.
pub const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 1);
/// Where `mip6-ha` serves metrics, in its namespace.
pub const HA_METRICS: &str = "[::1]:9464";
/// Where `mip6-mn` serves metrics, in its namespace.
pub const MN_METRICS: &str = "127.0.0.1:9102";
/// Which daemons of a lab run ESP in UDP (`encapsulation = "udp"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Udp {
    /// Both raw ESP.
    Neither,
    /// Both in UDP.
    Both,
    /// The mobile node only (a misconfiguration the home agent names).
    MnOnly,
}

/// The pair's hold time with a three-member etcd cluster whose members the tests
/// kill: long enough for a leader election on a loaded machine.
pub const CLUSTER_HOLD_TIME: Duration = Duration::from_secs(3);

/// The directory holding `mip6-ha`, `mip6-mn` and `mip6-lab`: the build directory
/// of this test executable (`target/<profile>/`). `cargo test --workspace` builds
/// them; a run of this package alone builds them first.
pub fn binaries() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/<test> → target/<profile>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a cargo build layout")
        .to_owned();
    let wanted = ["mip6-ha", "mip6-mn", "mip6-lab"];
    if wanted.iter().any(|b| !dir.join(b).exists()) {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--bins",
                "-p",
                "mip6-ha-daemon",
                "-p",
                "mip6-mn-daemon",
                "-p",
                "mip6-lab",
            ])
            .env("CARGO_TARGET_DIR", dir.parent().expect("target dir"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the daemons failed");
    }
    for b in wanted {
        assert!(dir.join(b).exists(), "{} is missing", dir.join(b).display());
    }
    dir
}

/// Which daemon.
#[derive(Debug, Clone, Copy)]
enum Role {
    Ha,
    Mn,
}

/// A lab with both daemons, the MN on foreign link 1.
pub struct Running {
    /// The namespaces.
    pub lab: Lab,
    /// Files of the run (configs, state, sockets, captures, logs).
    pub files: DemoFiles,
    /// The binaries' directory.
    pub bin: PathBuf,
    /// The home agent (None while stopped).
    pub ha: Option<Daemon>,
    /// The mobile node (None while stopped).
    pub mn: Option<Daemon>,
    ha_runs: u32,
    mn_runs: u32,
    seeds: Option<(u64, u64)>,
    /// A home agent pair ([`Running::start_pair`]): the members' files, and the
    /// standby's daemon while it has not taken over.
    pub pair: Option<PairRun>,
    _out: tempfile::TempDir,
}

/// The home agent pair of a [`Running::start_pair`] lab.
pub struct PairRun {
    /// `ha-a` (namespace `ha`) and `ha-b` (namespace `ha2`).
    pub members: [PairMember; 2],
    /// etcd's client URLs.
    pub etcd: Vec<String>,
    /// The index of the member [`Running::ha`] is (the active one when started).
    pub active: usize,
    /// The other member's daemon, if it runs.
    pub standby: Option<Daemon>,
}

impl Running {
    /// Builds the lab, writes the configurations (`key_interval` for both daemons,
    /// HA persistence as given) and starts the HA then the MN.
    pub fn start(key_interval: Duration, persistence: bool) -> Running {
        Running::start_seeded(key_interval, persistence, None)
    }

    /// Like [`Running::start`], with the daemons' RNGs seeded (HA seed, MN seed):
    /// their captures then replay byte for byte. Tests and replay only.
    pub fn start_seeded(
        key_interval: Duration,
        persistence: bool,
        seeds: Option<(u64, u64)>,
    ) -> Running {
        Running::build(
            key_interval,
            persistence,
            seeds,
            true,
            false,
            None,
            Udp::Neither,
        )
    }

    /// Like [`Running::start`], with radvd on every link of the lab
    /// ([`Lab::start_router_advertisements`]): the MN is switched onto foreign link 1
    /// and forms its care-of address from the router's advertisement
    /// ([`Link::slaac_addr`]); tests move it with [`Lab::switch_mn`].
    pub fn start_advertised(key_interval: Duration, persistence: bool) -> Running {
        Running::build(
            key_interval,
            persistence,
            None,
            true,
            true,
            None,
            Udp::Neither,
        )
    }

    /// A lab whose home agents are a pair on etcd (issue 13, item 5): `ha-a` in
    /// namespace `ha` is started first and becomes the active one ([`Running::ha`]),
    /// `ha-b` in `ha2` waits as the standby ([`PairRun::standby`]); etcd runs in the
    /// router. The MN is on foreign link 1, its addresses hand-set.
    pub fn start_pair(key_interval: Duration) -> Running {
        Running::build(key_interval, true, None, true, false, Some(1), Udp::Neither)
    }

    /// Like [`Running::start`] with ESP in UDP (RFC 3948, issue 14): both daemons
    /// have `encapsulation = "udp"` on port 4500, the MN `udp_keepalive = "1s"`.
    pub fn start_udp(key_interval: Duration, persistence: bool) -> Running {
        Running::build(
            key_interval,
            persistence,
            None,
            true,
            false,
            None,
            Udp::Both,
        )
    }

    /// Like [`Running::start_udp`] with the home agent left at raw ESP: a
    /// misconfiguration.
    pub fn start_udp_mn_only(key_interval: Duration) -> Running {
        Running::build(key_interval, true, None, true, false, None, Udp::MnOnly)
    }

    /// Like [`Running::start_pair`] with an etcd cluster of `members` members.
    pub fn start_pair_with_etcd_cluster(key_interval: Duration, members: usize) -> Running {
        Running::build(
            key_interval,
            true,
            None,
            true,
            false,
            Some(members),
            Udp::Neither,
        )
    }

    fn build(
        key_interval: Duration,
        persistence: bool,
        seeds: Option<(u64, u64)>,
        with_mn: bool,
        advertised: bool,
        pair: Option<usize>,
        udp: Udp,
    ) -> Running {
        let out = tempfile::Builder::new()
            .prefix("mip6-e2e-")
            .tempdir()
            .expect("a temporary directory");
        let files = DemoFiles::under(out.path());
        // Both serve Prometheus text on the loopback of their namespace.
        let (ha_udp, mn_udp) = (udp == Udp::Both, udp != Udp::Neither);
        let encapsulation = mip6_lab::demo::config::encapsulation_line(ha_udp);
        let ha_config = format!(
            "{encapsulation}metrics = \"{HA_METRICS}\"\n{}",
            ha_toml(&files, key_interval, persistence)
        );
        // With UDP, NAT keepalives after 1 s of silence, so a test sees them soon.
        let keepalive = if mn_udp {
            "udp_keepalive = \"1s\"\n"
        } else {
            ""
        };
        let encapsulation = mip6_lab::demo::config::encapsulation_line(mn_udp);
        let mn_config = format!(
            "{encapsulation}{keepalive}metrics = \"{MN_METRICS}\"\n{}",
            mn_toml(&files, key_interval)
        );
        mip6_lab::demo::config::write_private(&files.ha_config, &ha_config).unwrap();
        mip6_lab::demo::config::write_private(&files.mn_config, &mn_config).unwrap();
        let mut lab = Lab::new().expect("the lab topology");
        if advertised {
            lab.start_router_advertisements()
                .expect("radvd in the router");
            lab.switch_mn(Link::Foreign1).expect("MN on foreign link 1");
        } else {
            lab.move_mn(Link::Foreign1).expect("MN on foreign link 1");
        }
        let mut r = Running {
            lab,
            files,
            bin: binaries(),
            ha: None,
            mn: None,
            ha_runs: 0,
            mn_runs: 0,
            seeds,
            pair: None,
            _out: out,
        };
        if let Some(members_wanted) = pair {
            r.lab.add_home_agent_pair().expect("a second home agent");
            let etcd = r
                .lab
                .start_etcd_cluster(members_wanted)
                .expect("etcd in the router");
            let members = [PairMember::of(&r.files, 0), PairMember::of(&r.files, 1)];
            // One member: the daemon's default hold time (500 ms), which the takeover
            // tests measure. A cluster whose members the test kills: a hold time that
            // covers the leader election that follows (100–200 ms on an idle host,
            // seconds on a loaded CI machine: a 500 ms hold once stopped the active one).
            let hold = (members_wanted > 1).then_some(CLUSTER_HOLD_TIME);
            for m in &members {
                mip6_lab::demo::config::write_private(
                    &m.config,
                    &ha_pair_toml(&r.files, m, key_interval, &etcd, hold),
                )
                .unwrap();
            }
            r.pair = Some(PairRun {
                members,
                etcd,
                active: 0,
                standby: None,
            });
            // ha-a first, so it is the active one; ha-b waits as standby.
            r.start_pair_member(0);
            let standby = r.spawn_pair_member(1);
            r.pair.as_mut().expect("the pair").standby = Some(standby);
        } else {
            r.start_ha();
        }
        if with_mn {
            r.start_mn();
        }
        r
    }

    /// Like [`Running::start`] with the home agent only: the test starts the mobile
    /// node ([`Running::start_mn`]) when it has prepared the home link.
    pub fn ha_only(key_interval: Duration, persistence: bool) -> Running {
        Running::build(
            key_interval,
            persistence,
            None,
            false,
            false,
            None,
            Udp::Neither,
        )
    }

    /// The output directory.
    pub fn out(&self) -> &Path {
        &self.files.out
    }

    /// Starts `mip6-ha` (capture `ha-<n>.pcapng` for the n-th run) and waits for it.
    pub fn start_ha(&mut self) {
        self.ha_runs += 1;
        let d = self.spawn(Role::Ha, self.ha_runs);
        self.ha = Some(d);
    }

    /// Starts `mip6-mn` (capture `mn-<n>.pcapng`) and waits for it.
    pub fn start_mn(&mut self) {
        self.mn_runs += 1;
        let d = self.spawn(Role::Mn, self.mn_runs);
        self.mn = Some(d);
    }

    fn spawn(&mut self, role: Role, run: u32) -> Daemon {
        let (short, node, config, socket, seed) = match role {
            Role::Ha => (
                "ha",
                Node::Ha,
                &self.files.ha_config,
                &self.files.ha_socket,
                self.seeds.map(|s| s.0),
            ),
            Role::Mn => (
                "mn",
                Node::Mn,
                &self.files.mn_config,
                &self.files.mn_socket,
                self.seeds.map(|s| s.1),
            ),
        };
        let name = format!("mip6-{short}");
        let program = self.bin.join(&name);
        let spec = DaemonSpec {
            name: &name,
            node,
            program: &program,
            config,
            capture: Some(self.files.out.join(format!("{short}-{run}.pcapng"))),
            socket,
            log: self.files.out.join(format!("{short}-{run}.log")),
            seed,
            echo: false,
        };
        let d =
            Daemon::spawn(&mut self.lab, &spec).unwrap_or_else(|e| panic!("{name} starts: {e}"));
        d.wait_ready(&mut self.lab, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{name} ready: {e}"));
        d
    }

    /// Starts pair member `index` and waits until it is the active home agent
    /// (`ready`); it becomes [`Running::ha`], its socket the one status reads.
    pub fn start_pair_member(&mut self, index: usize) {
        let d = self.spawn_pair_member(index);
        d.wait_ready(&mut self.lab, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{} ready: {e}", d.name));
        self.activate(index, d);
    }

    /// Spawns pair member `index` (log `ha-<letter>-<n>.log`, capture likewise)
    /// without waiting: a standby logs no `ready`.
    pub fn spawn_pair_member(&mut self, index: usize) -> Daemon {
        self.ha_runs += 1;
        let pair = self.pair.as_ref().expect("a pair lab");
        let member = pair.members[index].clone();
        let node = if index == 0 { Node::Ha } else { Node::Ha2 };
        let name = format!("{}-{}", member.name(), self.ha_runs);
        let program = self.bin.join("mip6-ha");
        let spec = DaemonSpec {
            name: &name,
            node,
            program: &program,
            config: &member.config,
            capture: Some(self.files.out.join(format!("{name}.pcapng"))),
            socket: &member.socket,
            log: self.files.out.join(format!("{name}.log")),
            seed: None,
            echo: false,
        };
        Daemon::spawn(&mut self.lab, &spec).unwrap_or_else(|e| panic!("{name} starts: {e}"))
    }

    /// What a service manager does for a pair member that died (`kill -9`): starts it
    /// again. It waits as the standby, after removing the home agent's address its
    /// killed run left on its host. Returns its status once it answers as standby.
    pub fn restart_as_standby(&mut self, index: usize) -> serde_json::Value {
        let daemon = self.spawn_pair_member(index);
        let socket = self.pair.as_ref().expect("a pair lab").members[index]
            .socket
            .clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            match status::request(&socket, "status") {
                Ok(s) if s["pair"]["state"] == "standby" => break s,
                Ok(s) => panic!("{} restarted: not a standby: {s}", daemon.name),
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "{} restarted: no status: {e}\n{}",
                    daemon.name,
                    daemon.tail().join("\n")
                ),
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.pair.as_mut().expect("a pair lab").standby = Some(daemon);
        status
    }

    /// Whether the home agent's address is on `node`'s home interface (a pair
    /// member's namespace).
    pub fn holds_ha_address(&self, node: Node) -> bool {
        let iface = node.iface().expect("a home agent's namespace");
        let out = self
            .lab
            .exec_in_checked(node, &["ip", "-6", "addr", "show", "dev", iface])
            .expect("ip addr");
        String::from_utf8_lossy(&out.stdout).contains(&format!("{}/", mip6_lab::HA_ADDR))
    }

    /// The standby has taken over: waits until it is `ready` and makes it
    /// [`Running::ha`] (status reads its socket). The old active one's daemon, if
    /// still held, is dropped from the harness (the test stopped or killed it).
    pub fn await_takeover(&mut self, timeout: Duration) -> Duration {
        let started = Instant::now();
        let pair = self.pair.as_mut().expect("a pair lab");
        let standby = pair.standby.take().expect("a standby runs");
        let index = 1 - pair.active;
        if let Err(e) = standby.wait_ready(&mut self.lab, timeout) {
            panic!(
                "{} did not take over: {e}\n{}\n{}",
                standby.name,
                standby.tail().join("\n"),
                self.diagnostics()
            );
        }
        self.activate(index, standby);
        started.elapsed()
    }

    fn activate(&mut self, index: usize, d: Daemon) {
        let pair = self.pair.as_mut().expect("a pair lab");
        pair.active = index;
        self.files.ha_socket = pair.members[index].socket.clone();
        self.ha = Some(d);
    }

    /// SIGTERM to both daemons; each removes what it installed and flushes its capture.
    pub fn stop_daemons(&mut self) {
        if let Some(d) = self.mn.take() {
            d.stop(&mut self.lab);
        }
        if let Some(d) = self.ha.take() {
            d.stop(&mut self.lab);
        }
        if let Some(d) = self.pair.as_mut().and_then(|p| p.standby.take()) {
            d.stop(&mut self.lab);
        }
    }

    /// `kill -9` of the HA.
    pub fn kill_ha(&mut self) {
        if let Some(d) = self.ha.take() {
            d.kill_hard(&mut self.lab);
        }
    }

    /// `kill -9` of the MN.
    pub fn kill_mn(&mut self) {
        if let Some(d) = self.mn.take() {
            d.kill_hard(&mut self.lab);
        }
    }

    /// The HA's status.
    pub fn ha_status(&self) -> HaStatus {
        status::ha(&self.files.ha_socket).expect("mip6-ha status")
    }

    /// The MN's status.
    pub fn mn_status(&self) -> MnStatus {
        status::mn(&self.files.mn_socket).expect("mip6-mn status")
    }

    /// The MN's raw status JSON.
    pub fn mn_json(&self) -> serde_json::Value {
        status::request(&self.files.mn_socket, "status").expect("mip6-mn status")
    }

    /// The HA's raw status JSON.
    pub fn ha_json(&self) -> serde_json::Value {
        status::request(&self.files.ha_socket, "status").expect("mip6-ha status")
    }

    /// Scrapes a daemon's Prometheus endpoint from inside its namespace (python3's
    /// urllib: the test process is not in the namespace).
    pub fn scrape(&self, node: Node, addr: &str) -> String {
        let url = format!("http://{addr}/metrics");
        let out = self
            .lab
            .exec_in(
                node,
                &[
                    "python3",
                    "-c",
                    "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())",
                    &url,
                ],
            )
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "scraping {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until `done(mn status)` holds; panics with both daemons' log tails after
    /// `timeout`.
    pub fn wait_mn(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) {
        self.wait(&self.files.mn_socket, what, timeout, done);
    }

    /// Waits until `done(ha status)` holds.
    pub fn wait_ha(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) {
        self.wait(&self.files.ha_socket, what, timeout, done);
    }

    fn wait(
        &self,
        socket: &Path,
        what: &str,
        timeout: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if status::request(socket, "status").is_ok_and(|s| done(&s)) {
                return;
            }
            if Instant::now() >= deadline {
                panic!("{what}: not within {timeout:?}\n{}", self.diagnostics());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An attacker on the home link (`tests/scapy/esp_replay.py` in the router, on
    /// `rt-home`): sends `frames` (IPv6 packets in hex, as [`EspWatch`] records them)
    /// once each, in order, to the Ethernet address of `node`'s interface `iface`
    /// (the home agent holding the HA address now). Returns how many it sent.
    pub fn replay_on_home_link(&mut self, node: Node, iface: &str, frames: &[String]) -> usize {
        use std::io::{Read, Write};
        let mac = {
            let out = self
                .lab
                .exec_in_checked(node, &["cat", &format!("/sys/class/net/{iface}/address")])
                .expect("the home agent's home interface");
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let script = crate::prerequisites::workspace_root().join("tests/scapy/esp_replay.py");
        let mut cmd = self.lab.command_in(Node::Rt, "python3");
        cmd.arg(script)
            .args(["rt-home", &mac])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let id = self.lab.spawn_command(cmd).expect("the replay starts");
        let mut stdin = self.lab.take_stdin(id).expect("its stdin");
        for f in frames {
            writeln!(stdin, "{f}").expect("frames to the replay");
        }
        drop(stdin);
        let mut sent = String::new();
        self.lab
            .take_stdout(id)
            .expect("the replay's stdout")
            .read_to_string(&mut sent)
            .expect("the replay's report");
        let _ = self.lab.stop(id);
        sent.trim()
            .parse()
            .unwrap_or_else(|_| panic!("the replay's report: {sent:?}"))
    }

    /// Status of both and the daemons' last log lines, for failure messages.
    pub fn diagnostics(&self) -> String {
        let tail = |d: &Option<Daemon>| d.as_ref().map(|d| d.tail().join("\n")).unwrap_or_default();
        format!(
            "MN status: {:?}\nHA status: {:?}\nMN log:\n{}\nHA log:\n{}",
            status::request(&self.files.mn_socket, "status").ok(),
            status::request(&self.files.ha_socket, "status").ok(),
            tail(&self.mn),
            tail(&self.ha)
        )
    }

    /// UDP both ways between the HoA (MN) and the CN at `pps` for `secs`; returns
    /// (what the CN received from the MN, what the MN received from the CN), each as
    /// the receiving peer's report. `during` runs while the streams flow.
    pub fn udp_both_ways(
        &mut self,
        phase: u32,
        pps: u32,
        secs: f64,
        during: impl FnOnce(&mut Running),
    ) -> (UdpPeerReport, UdpPeerReport) {
        let port = 42_000 + u16::try_from(phase % 1000).unwrap_or(0);
        let mn_addr = SocketAddr::new(HOA.into(), port);
        let cn_addr = SocketAddr::new(CN.into(), port);
        let start_at = mip6_lab::traffic::unix_micros() + 300_000;
        let lab_bin = self.bin.join("mip6-lab");
        let peer = |node: Node, bind: SocketAddr, other: SocketAddr, lab: &Lab| {
            let mut c = lab.command_in(node, &lab_bin);
            c.args([
                "udp-peer",
                "--bind",
                &bind.to_string(),
                "--peer",
                &other.to_string(),
                "--rate",
                &pps.to_string(),
                "--secs",
                &secs.to_string(),
                "--phase",
                &phase.to_string(),
                "--start-at-us",
                &start_at.to_string(),
                "--linger-ms",
                "1500",
                "--record-arrivals",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            c.spawn().expect("the UDP peer starts")
        };
        let mn_peer = peer(Node::Mn, mn_addr, cn_addr, &self.lab);
        let cn_peer = peer(Node::Cn, cn_addr, mn_addr, &self.lab);
        during(self);
        let read = |child: std::process::Child, who: &str| -> UdpPeerReport {
            let out = child.wait_with_output().expect("the UDP peer ends");
            assert!(
                out.status.success(),
                "UDP peer in {who} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "UDP peer report from {who}: {e}: {}",
                    String::from_utf8_lossy(&out.stdout)
                )
            })
        };
        let mn_report = read(mn_peer, "mn");
        let cn_report = read(cn_peer, "cn");
        (cn_report, mn_report)
    }
}

/// What tshark makes of a capture with its `.esp_sa` key log: every frame line
/// (`frame.number`, MH type, ESP ICV verdict) and the malformed/error counts.
#[derive(Debug, Default)]
pub struct TsharkSummary {
    /// Frames in the file.
    pub frames: usize,
    /// Binding Updates decrypted (MH type 5).
    pub binding_updates: usize,
    /// Binding Acknowledgements decrypted (MH type 6).
    pub binding_acks: usize,
    /// Frames tshark calls malformed or flags with an expert error.
    pub malformed_or_errors: usize,
    /// ESP frames whose ICV tshark found bad.
    pub bad_icv: usize,
    /// ESP frames whose ICV tshark found good.
    pub good_icv: usize,
    /// Frames tshark dissected as ESP in UDP (`udpencap`, RFC 3948).
    pub udp_encapsulated: usize,
    /// tshark's one-line summaries of the first malformed or error frames, so that a
    /// failure shows them.
    pub malformed_samples: Vec<String>,
}

/// Runs tshark over `pcap` with the records of `<pcap>.esp_sa`.
pub fn tshark_summary(pcap: &Path) -> TsharkSummary {
    let key_log = mip6_daemon::capture::key_log_path(pcap);
    let records = std::fs::read_to_string(&key_log).expect("the capture's key log");
    let mut args: Vec<String> = vec![
        "-o".into(),
        "esp.enable_encryption_decode:TRUE".into(),
        "-o".into(),
        "esp.enable_authentication_check:TRUE".into(),
    ];
    for line in records
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        args.push("-o".into());
        args.push(format!("uat:esp_sa:{line}"));
    }
    let run = |extra: &[&str]| -> String {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(pcap)
            .args(&args)
            .args(extra)
            .output()
            .expect("tshark runs");
        assert!(
            out.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let fields = run(&[
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "mip6.mhtype",
        "-e",
        "esp.icv_good",
        "-e",
        "esp.icv_bad",
        "-e",
        "frame.protocols",
    ]);
    let bad = run(&["-Y", "_ws.malformed || _ws.expert.severity == error"]);
    let mut s = TsharkSummary {
        malformed_or_errors: bad.lines().filter(|l| !l.trim().is_empty()).count(),
        malformed_samples: bad
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(5)
            .map(|l| l.trim().to_owned())
            .collect(),
        ..TsharkSummary::default()
    };
    for line in fields.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        s.frames += 1;
        match cols.get(1).copied() {
            Some("5") => s.binding_updates += 1,
            Some("6") => s.binding_acks += 1,
            _ => {}
        }
        if cols.get(2).is_some_and(|v| *v == "1" || *v == "True") {
            s.good_icv += 1;
        }
        if cols.get(3).is_some_and(|v| *v == "1" || *v == "True") {
            s.bad_icv += 1;
        }
        if cols
            .get(4)
            .is_some_and(|v| v.split(':').any(|p| p == "udpencap"))
        {
            s.udp_encapsulated += 1;
        }
    }
    s
}

/// The longest time the receiver of `report` went without a datagram between two
/// arrivals (its arrivals recorded): the outage a user of the stream saw.
pub fn longest_silence(report: &UdpPeerReport) -> Duration {
    let mut at: Vec<u64> = report.arrivals.iter().map(|a| a.received_us()).collect();
    at.sort_unstable();
    let gap = at.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    Duration::from_micros(gap)
}

/// The router's ESP observer (`tests/scapy/esp_watch.py`) on `rt-home`, every ESP
/// packet between the home agent and the rest of the lab.
pub struct EspWatch {
    id: mip6_lab::ProcId,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl EspWatch {
    /// Starts the observer on `rt-home`; `frames`: also record each packet in hex.
    pub fn start(run: &mut Running, frames: bool) -> EspWatch {
        use std::io::BufRead;
        let script = crate::prerequisites::workspace_root().join("tests/scapy/esp_watch.py");
        let mut cmd = run.lab.command_in(Node::Rt, "python3");
        cmd.arg(script);
        if frames {
            cmd.arg("--frames");
        }
        cmd.arg("rt-home")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let id = run.lab.spawn_command(cmd).expect("the ESP observer starts");
        let stdin = run.lab.take_stdin(id).expect("its stdin");
        let mut stdout = std::io::BufReader::new(run.lab.take_stdout(id).expect("its stdout"));
        let mut ready = String::new();
        stdout
            .read_line(&mut ready)
            .expect("the observer says ready");
        assert_eq!(ready.trim(), "ready");
        EspWatch { id, stdin, stdout }
    }

    /// Stops the observer; every packet it saw.
    pub fn finish(self, run: &mut Running) -> Vec<serde_json::Value> {
        let EspWatch {
            id,
            stdin,
            mut stdout,
        } = self;
        drop(stdin);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).expect("the observer's report");
        let _ = run.lab.stop(id);
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
