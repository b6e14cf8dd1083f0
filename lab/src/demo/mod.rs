//! `mip6-lab demo`: docs/architecture.md's lab with the real daemons in it, traffic both ways
//! through the tunnel, and a report (issue 4, "mip6-lab — the README's main command").
//!
//! Steps of [`run`]:
//! 1. build a [`Lab`], put the MN on foreign link 1, write `ha.toml` and `mn.toml`
//!    ([`config`]) into the output directory;
//! 2. start `mip6-ha` in the `ha` namespace and `mip6-mn` in the `mn` namespace, each
//!    with `--capture OUT/<name>.pcapng` ([`daemon`]); wait for "ready" and for the MN's
//!    status to say `registered` (else fail with both daemons' last log lines); before
//!    them, `dumpcap` starts on the router's and the CN's links ([`sniff`]: `rt.pcapng`,
//!    `cn.pcapng`, stopped before the goodput run);
//! 3. UDP phases, each with a pair of [`crate::traffic::udp`] peers (the MN's home
//!    address 2001:db8:1::100 ↔ the CN 2001:db8:4::1, both ways): `steady`; `rekey`
//!    (long enough for two key updates); `ba_loss` (the router drops a share of the
//!    HA's BAs, [`nft`]); `handover` (foreign1 → foreign2 → foreign1, latency per move,
//!    see [`report`]); `return_home` (onto the home link and away again: the MN
//!    deregisters there, RFC 6275 §11.5.4); `ha_restart` (`kill -9` the HA, start it
//!    again on its state; with `--ha-pair`, two home agents on etcd and a failover
//!    instead: the standby takes over, the killed one comes back as the standby);
//! 4. TCP goodput MN → CN through the tunnel ([`crate::traffic::tcp`]);
//! 5. read both daemons' status ([`status`]) for registrations and rekeys, list the
//!    captures, check the results ([`report::DemoReport::add_checks`]).
//!
//! Whatever happens (success, failure, Ctrl-C: [`interrupt`]), the teardown stops the
//! MN and the HA with SIGTERM (they remove their own routes, rules and sockets), deletes
//! the BA-drop table if still there, then the lab's namespaces (which also kills any
//! traffic process left).

pub mod config;
pub mod daemon;
pub mod interrupt;
pub mod nft;
pub mod report;
pub mod sniff;
pub mod status;

use std::io::{self, Read};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use self::config::DemoFiles;
use self::daemon::{Daemon, DaemonSpec};
use self::report::{handover_latency, DemoReport, MoveTimes, PhaseReport, RekeyCounts};
use self::status::{HaStatus, KeyEvents, MnStatus};
use crate::error::LabError;
use crate::topology::{Lab, Link, Node, ProcId};
use crate::traffic::tcp::TcpReport;
use crate::traffic::udp::UdpPeerReport;
use crate::traffic::unix_micros;
use crate::{CN_ADDR, MN_HOA};

/// UDP port of the MN's peer is this plus the phase id; the CN's is [`CN_UDP_BASE`] plus it.
const MN_UDP_BASE: u16 = 41000;
const CN_UDP_BASE: u16 = 42000;
/// TCP port of the goodput sink on the CN.
const TCP_PORT: u16 = 5001;
/// Peers start this long after being spawned, together.
const START_DELAY: Duration = Duration::from_millis(500);
/// Peers keep receiving this long after they stop sending.
const LINGER: Duration = Duration::from_millis(1500);
/// SCHED_FIFO priority of the handover phase's traffic peers: above every normal
/// task (the daemons included, which run as deployed), below the kernel's own
/// real-time threads (50 and up).
const PEER_RT_PRIORITY: &str = "10";
/// How long a daemon may take to say "ready".
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The knobs of a run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Output directory: configs, logs, state, captures.
    pub out_dir: PathBuf,
    /// Key update interval of both daemons (whole seconds).
    pub key_interval: Duration,
    /// Share of the HA's BAs dropped in the `ba_loss` phase, %.
    pub ba_drop_percent: u8,
    /// Base length of a phase; `rekey`, `ba_loss` and `handover` stretch as they need.
    pub phase_secs: u64,
    /// UDP datagrams per second, each way.
    pub rate_pps: u32,
    /// UDP datagrams per second, each way, in the handover phase: the handover
    /// latency is the first arrival after a move, so the spacing bounds its
    /// resolution (issue 14 asks for ≤ 2 ms; 200 pps would space them 5 ms apart).
    pub handover_rate_pps: u32,
    /// UDP datagram size in octets.
    pub datagram_size: usize,
    /// Seconds of TCP goodput measurement.
    pub goodput_secs: u64,
    /// Where `mip6-ha` and `mip6-mn` are (default: beside `self_exe`).
    pub bin_dir: Option<PathBuf>,
    /// The `mip6-lab` binary, run in the namespaces as the traffic generator.
    pub self_exe: PathBuf,
    /// How long the MN may take to register.
    pub register_timeout: Duration,
    /// HA persistence (on: the restart resumes the binding; off: the MN re-initializes).
    pub persistence: bool,
    /// `--seed` for both daemons (replayable captures; never for real use).
    pub seed: Option<u64>,
    /// Copy the daemons' log lines to stderr.
    pub echo_daemon_logs: bool,
    /// Move the MN by adding and removing addresses by hand (`--hand-set-addresses`)
    /// instead of switching links under radvd's Router Advertisements (the default).
    pub hand_set_addresses: bool,
    /// Run two home agents on etcd (`--ha-pair`): the `ha_restart` phase becomes a
    /// failover (`kill -9` of the active one; the standby takes over).
    pub ha_pair: bool,
    /// Both daemons with `encapsulation = "udp"` (`--udp`): signalling and data as ESP
    /// in UDP (RFC 3948, issue 14).
    pub udp: bool,
}

impl DemoOptions {
    /// Defaults for a run of about a minute and a half, with `self_exe` as the traffic
    /// generator.
    pub fn new(self_exe: PathBuf) -> DemoOptions {
        DemoOptions {
            out_dir: PathBuf::from("mip6-demo"),
            key_interval: Duration::from_secs(5),
            ba_drop_percent: 50,
            phase_secs: 8,
            rate_pps: 200,
            handover_rate_pps: 2000,
            datagram_size: 200,
            goodput_secs: 5,
            bin_dir: None,
            self_exe,
            register_timeout: Duration::from_secs(20),
            persistence: true,
            seed: None,
            echo_daemon_logs: true,
            hand_set_addresses: false,
            ha_pair: false,
            udp: false,
        }
    }

    /// Each phase and its length in seconds: `rekey` lasts at least 2.5 key intervals
    /// (two updates), `ba_loss` at least 3 (several BUs meet the drop), `handover` and
    /// `ha_restart` at least 9 and 8 s (two moves, a restart, with time to recover).
    pub fn phase_plan(&self) -> [(Phase, u64); 6] {
        let key = self.key_interval.as_secs().max(1);
        let base = self.phase_secs.max(1);
        [
            (Phase::Steady, base),
            (Phase::Rekey, base.max(key * 5 / 2 + 1)),
            (Phase::BaLoss, base.max(key * 3)),
            (Phase::Handover, base.max(9)),
            (Phase::ReturnHome, base.max(9)),
            (Phase::HaRestart, base.max(8)),
        ]
    }
}

/// A traffic phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing happens.
    Steady,
    /// Key updates at the short interval.
    Rekey,
    /// The router drops a share of the BAs.
    BaLoss,
    /// Two moves.
    Handover,
    /// `kill -9` of the HA and a restart.
    HaRestart,
    /// Onto the home link and away again (RFC 6275 §11.5.4).
    ReturnHome,
}

impl Phase {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Steady => "steady",
            Phase::Rekey => "rekey",
            Phase::BaLoss => "ba_loss",
            Phase::Handover => "handover",
            Phase::HaRestart => "ha_restart",
            Phase::ReturnHome => "return_home",
        }
    }

    /// The id carried in the phase's datagrams (and part of its ports).
    pub fn id(self) -> u32 {
        match self {
            Phase::Steady => 1,
            Phase::Rekey => 2,
            Phase::BaLoss => 3,
            Phase::Handover => 4,
            Phase::HaRestart => 5,
            Phase::ReturnHome => 6,
        }
    }
}

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A lab operation failed.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// A daemon binary is missing.
    #[error(
        "{0} not found (build it: cargo build --release -p mip6-ha-daemon -p mip6-mn-daemon, or pass --bin-dir)"
    )]
    MissingBinary(PathBuf),
    /// A daemon failed to start or died.
    #[error("{name}: {what}; its last log lines:\n{}", indent(tail))]
    Daemon {
        /// `ha`, `mn`, ...
        name: String,
        /// What went wrong.
        what: String,
        /// Its last log lines.
        tail: Vec<String>,
    },
    /// The MN never registered.
    #[error("the MN did not register within {timeout:?} (last status: {last})\nHA's last log lines:\n{}\nMN's last log lines:\n{}", indent(ha_tail), indent(mn_tail))]
    Registration {
        /// How long was waited.
        timeout: Duration,
        /// The MN's last status, or why there was none.
        last: String,
        /// The HA's last log lines.
        ha_tail: Vec<String>,
        /// The MN's last log lines.
        mn_tail: Vec<String>,
    },
    /// A traffic process failed.
    #[error("traffic generator {what}")]
    Traffic {
        /// What failed.
        what: String,
    },
    /// SIGINT or SIGTERM.
    #[error(transparent)]
    Interrupted(#[from] interrupt::Interrupted),
}

fn indent(lines: &[String]) -> String {
    if lines.is_empty() {
        return "    (none)".into();
    }
    lines
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> DemoError {
    let what = what.into();
    move |source| DemoError::Io { what, source }
}

/// Runs the whole demo and returns its report; everything it made is removed before
/// it returns, on success and on failure alike.
pub fn run(opts: &DemoOptions) -> Result<DemoReport, DemoError> {
    let out = prepare_out_dir(&opts.out_dir)?;
    let bin_dir = match &opts.bin_dir {
        Some(d) => d.clone(),
        None => opts
            .self_exe
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default(),
    };
    let ha_bin = bin_dir.join("mip6-ha");
    let mn_bin = bin_dir.join("mip6-mn");
    for b in [&ha_bin, &mn_bin, &opts.self_exe] {
        if !b.is_file() {
            return Err(DemoError::MissingBinary(b.clone()));
        }
    }
    interrupt::check()?;
    let lab = Lab::new()?;
    tracing::info!(lab = lab.prefix(), out = %out.display(), "lab built");
    let mut demo = Demo {
        opts,
        files: DemoFiles::under(&out),
        ha_bin,
        mn_bin,
        lab: Some(lab),
        ha: None,
        mn: None,
        pair: None,
        nft_installed: false,
        sniffers: Vec::new(),
        ha_instances: 0,
        ha_history: Vec::new(),
        last_ha: HaStatus::default(),
        report: DemoReport::default(),
    };
    let result = demo.run_all();
    demo.teardown();
    result.map(|()| demo.report)
}

/// Makes the output directory absolute and creates it; removes state and captures a
/// previous run left there (the demo starts from scratch), nothing else.
fn prepare_out_dir(out: &Path) -> Result<PathBuf, DemoError> {
    std::fs::create_dir_all(out).map_err(io_err(format!("create {}", out.display())))?;
    let out = std::fs::canonicalize(out).map_err(io_err(format!("resolve {}", out.display())))?;
    for dir in ["ha-state", "ha-state-a", "ha-state-b", "mn-state"] {
        let d = out.join(dir);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(io_err(format!("remove {}", d.display())))?;
        }
    }
    for entry in std::fs::read_dir(&out).map_err(io_err(format!("list {}", out.display())))? {
        let path = entry.map_err(io_err("list output directory"))?.path();
        if is_capture(&path) {
            std::fs::remove_file(&path).map_err(io_err(format!("remove {}", path.display())))?;
        }
    }
    Ok(out)
}

fn is_capture(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    name.is_some_and(|n| n.ends_with(".pcapng") || n.ends_with(".esp_sa"))
}

/// One move's record during a phase.
struct MoveRecord {
    from: Option<Link>,
    to: Link,
    times: MoveTimes,
    /// What `times.done_us` is: `router_advertisement`, `address_added`, `link_up`.
    trigger: &'static str,
}

/// The home agent pair of `--ha-pair`.
struct DemoPair {
    members: [config::PairMember; 2],
    /// The index of the active member.
    active: usize,
    /// The other member's daemon (standby), if it runs.
    standby: Option<Daemon>,
}

/// Something done at an offset into a phase.
#[derive(Debug, Clone, Copy)]
enum Action {
    Move(Link),
    MoveHome,
    RestartHa,
}

struct Demo<'a> {
    opts: &'a DemoOptions,
    files: DemoFiles,
    ha_bin: PathBuf,
    mn_bin: PathBuf,
    lab: Option<Lab>,
    ha: Option<Daemon>,
    mn: Option<Daemon>,
    /// With `--ha-pair`: the members' files, which one [`Demo::ha`] is, the standby.
    pair: Option<DemoPair>,
    nft_installed: bool,
    /// The `dumpcap`s capturing the router's and the CN's links ([`sniff`]).
    sniffers: Vec<ProcId>,
    ha_instances: u32,
    /// The last status of every HA instance that is gone (its counters end there).
    ha_history: Vec<HaStatus>,
    /// The current HA instance's last status read.
    last_ha: HaStatus,
    report: DemoReport,
}

impl Demo<'_> {
    fn lab(&mut self) -> &mut Lab {
        self.lab.as_mut().expect("the lab lives until teardown")
    }

    fn run_all(&mut self) -> Result<(), DemoError> {
        let key = self.opts.key_interval;
        let encap = config::encapsulation_line(self.opts.udp);
        config::write_private(
            &self.files.ha_config,
            &format!(
                "{encap}{}",
                config::ha_toml(&self.files, key, self.opts.persistence)
            ),
        )
        .map_err(io_err("write ha.toml"))?;
        config::write_private(
            &self.files.mn_config,
            &format!("{encap}{}", config::mn_toml(&self.files, key)),
        )
        .map_err(io_err("write mn.toml"))?;
        self.report.lab = self.lab().prefix().to_owned();
        self.report.out_dir = self.files.out.display().to_string();

        if self.opts.hand_set_addresses {
            self.report.movement = "hand_set_addresses".into();
            self.lab().move_mn(Link::Foreign1)?;
        } else {
            self.report.movement = "router_advertisements".into();
            self.lab().start_router_advertisements()?;
            self.lab().switch_mn(Link::Foreign1)?;
        }
        if self.opts.ha_pair {
            self.lab().add_home_agent_pair()?;
            let etcd = self.lab().start_etcd()?;
            let members = [
                config::PairMember::of(&self.files, 0),
                config::PairMember::of(&self.files, 1),
            ];
            for m in &members {
                config::write_private(
                    &m.config,
                    &format!(
                        "{}{}",
                        config::encapsulation_line(self.opts.udp),
                        config::ha_pair_toml(&self.files, m, key, &etcd, None)
                    ),
                )
                .map_err(io_err(format!("write {}", m.config.display())))?;
            }
            self.pair = Some(DemoPair {
                members,
                active: 0,
                standby: None,
            });
        }
        self.start_sniffers()?;
        self.start_ha()?;
        if self.opts.ha_pair {
            let standby = self.spawn_pair_member(1)?;
            if let Some(p) = &mut self.pair {
                p.standby = Some(standby);
            }
        }
        let mn = self.start_daemon("mn", Node::Mn, None)?;
        self.mn = Some(mn);
        self.wait_registered(Link::Foreign1, self.opts.register_timeout)?;
        tracing::info!("MN registered at {}", self.lab().mn_coa(Link::Foreign1));

        for (phase, secs) in self.opts.phase_plan() {
            self.run_phase(phase, secs)?;
        }
        self.stop_sniffers();
        self.report.goodput_mbps = self.goodput()?;
        self.finish()?;
        Ok(())
    }

    /// Spawns a daemon and waits for it to be ready.
    fn start_daemon(
        &mut self,
        name: &str,
        node: Node,
        capture_name: Option<&str>,
    ) -> Result<Daemon, DemoError> {
        let (program, config, socket) = match node {
            Node::Ha => (&self.ha_bin, &self.files.ha_config, &self.files.ha_socket),
            _ => (&self.mn_bin, &self.files.mn_config, &self.files.mn_socket),
        };
        let spec = DaemonSpec {
            name,
            node,
            program,
            config,
            capture: Some(
                self.files
                    .out
                    .join(format!("{}.pcapng", capture_name.unwrap_or(name))),
            ),
            socket,
            log: self.files.out.join(format!("{name}.log")),
            seed: self.opts.seed,
            echo: self.opts.echo_daemon_logs,
        }
        .clone();
        let lab = self.lab.as_mut().expect("lab");
        let daemon = Daemon::spawn(lab, &spec)?;
        daemon.wait_ready(lab, READY_TIMEOUT)?;
        Ok(daemon)
    }

    /// Starts the wire captures of the router and the CN, if `dumpcap` is there.
    fn start_sniffers(&mut self) -> Result<(), DemoError> {
        if !sniff::available() {
            tracing::warn!("dumpcap not found (apt package tshark): no rt/cn wire captures");
            return Ok(());
        }
        let out = self.files.out.clone();
        for node in [Node::Rt, Node::Cn] {
            let id = sniff::start(self.lab(), node, &out)?;
            self.sniffers.push(id);
        }
        Ok(())
    }

    /// Stops the wire captures (SIGTERM: dumpcap closes its file properly).
    fn stop_sniffers(&mut self) {
        for id in std::mem::take(&mut self.sniffers) {
            if let Err(e) = self.lab().stop(id) {
                tracing::warn!(error = %e, "stopping a wire capture failed");
            }
        }
    }

    fn start_ha(&mut self) -> Result<(), DemoError> {
        if self.pair.is_some() {
            let ha = self.spawn_pair_member(0)?;
            ha.wait_ready(self.lab(), READY_TIMEOUT)?;
            self.activate(0, ha);
            return Ok(());
        }
        self.ha_instances += 1;
        let name = if self.ha_instances == 1 {
            "ha".to_owned()
        } else {
            format!("ha-{}", self.ha_instances)
        };
        let ha = self.start_daemon(&name, Node::Ha, None)?;
        self.ha = Some(ha);
        self.last_ha = HaStatus::default();
        Ok(())
    }

    /// Spawns pair member `index` (`ha-a`, `ha-b`; a numbered name after the first
    /// run) without waiting: a standby says no `ready`.
    fn spawn_pair_member(&mut self, index: usize) -> Result<Daemon, DemoError> {
        self.ha_instances += 1;
        let member = self.pair.as_ref().expect("a pair").members[index].clone();
        let name = if self.ha_instances <= 2 {
            member.name()
        } else {
            format!("{}-{}", member.name(), self.ha_instances)
        };
        let node = if index == 0 { Node::Ha } else { Node::Ha2 };
        let spec = DaemonSpec {
            name: &name,
            node,
            program: &self.ha_bin,
            config: &member.config,
            capture: Some(self.files.out.join(format!("{name}.pcapng"))),
            socket: &member.socket,
            log: self.files.out.join(format!("{name}.log")),
            seed: self.opts.seed,
            echo: self.opts.echo_daemon_logs,
        }
        .clone();
        let lab = self.lab.as_mut().expect("the lab lives until teardown");
        Daemon::spawn(lab, &spec)
    }

    /// Pair member `index` is the active home agent now: status reads its socket.
    fn activate(&mut self, index: usize, ha: Daemon) {
        let pair = self.pair.as_mut().expect("a pair");
        pair.active = index;
        self.files.ha_socket = pair.members[index].socket.clone();
        self.ha = Some(ha);
        self.last_ha = HaStatus::default();
    }

    fn mn_status(&self) -> Option<MnStatus> {
        status::mn(&self.files.mn_socket).ok()
    }

    fn ha_status(&mut self) -> HaStatus {
        if let Ok(s) = status::ha(&self.files.ha_socket) {
            self.last_ha = s;
        }
        self.last_ha.clone()
    }

    fn daemons_alive(&mut self) -> Result<(), DemoError> {
        let lab = self.lab.as_mut().expect("lab");
        for d in [&self.ha, &self.mn].into_iter().flatten() {
            d.check_running(lab)?;
        }
        Ok(())
    }

    /// Waits for the MN's status to say `registered` at `link`'s address.
    fn wait_registered(&mut self, link: Link, timeout: Duration) -> Result<(), DemoError> {
        let coa = self.lab().mn_coa(link).to_string();
        let deadline = Instant::now() + timeout;
        loop {
            let last = match status::mn(&self.files.mn_socket) {
                Ok(s) if s.registered_at(Some(&coa)) => return Ok(()),
                Ok(s) => format!(
                    "registration {:?}, care-of address {:?}",
                    s.registration, s.care_of_address
                ),
                Err(e) => format!("control socket: {e}"),
            };
            self.daemons_alive()?;
            if Instant::now() >= deadline {
                let tail = |d: &Option<Daemon>| d.as_ref().map(Daemon::tail).unwrap_or_default();
                return Err(DemoError::Registration {
                    timeout,
                    last,
                    ha_tail: tail(&self.ha),
                    mn_tail: tail(&self.mn),
                });
            }
            interrupt::sleep(Duration::from_millis(100))?;
        }
    }

    fn run_phase(&mut self, phase: Phase, secs: u64) -> Result<(), DemoError> {
        tracing::info!(phase = phase.name(), secs, "phase starts");
        // Every phase starts registered on foreign link 1.
        let link = self.lab().mn_link().unwrap_or(Link::Foreign1);
        self.wait_registered(link, self.opts.register_timeout)?;
        let mn_before = self.mn_status().unwrap_or_default();
        let ha_before = self.ha_status();
        let third = Duration::from_secs(secs) / 3;
        let actions: Vec<(Duration, Action)> = match phase {
            Phase::Handover => vec![
                (third, Action::Move(Link::Foreign2)),
                (third * 2, Action::Move(Link::Foreign1)),
            ],
            Phase::HaRestart => vec![(third, Action::RestartHa)],
            Phase::ReturnHome => vec![
                (third, Action::MoveHome),
                (third * 2, Action::Move(Link::Foreign1)),
            ],
            _ => vec![],
        };
        if phase == Phase::BaLoss {
            let file = self.files.out.join("ba-drop.nft");
            nft::install(
                self.lab.as_ref().expect("lab"),
                self.opts.ba_drop_percent,
                &file,
            )?;
            self.nft_installed = true;
            tracing::info!(
                percent = self.opts.ba_drop_percent,
                "router drops the HA's BAs"
            );
        }

        let (mn_peer, cn_peer, moves) = self.udp_phase(phase, secs, &actions)?;

        if phase == Phase::BaLoss {
            let lab = self.lab.as_ref().expect("lab");
            let counts = nft::counters(lab)?;
            nft::remove(lab)?;
            self.nft_installed = false;
            let ha_after = self.ha_status();
            self.report.ba_loss = report::BaLossReport {
                drop_percent: self.opts.ba_drop_percent,
                counts,
                resends: ha_after.key_events.since(ha_before.key_events).resend,
            };
            tracing::info!(?counts, "BA drop removed");
        }
        let mn_after = self.mn_status().unwrap_or_default();
        let mut p = PhaseReport::new(phase.name(), secs as f64, &mn_peer, &cn_peer);
        p.mn_key_events = mn_after.key_events.since(mn_before.key_events);
        tracing::info!(
            phase = phase.name(),
            sent = p.sent,
            received = p.received,
            lost = p.lost,
            duplicated = p.duplicated,
            "phase done"
        );
        if phase == Phase::Handover {
            for (i, m) in moves.iter().enumerate() {
                let next = moves.get(i + 1).map_or(u64::MAX, |n| n.times.started_us);
                let from = m.from.map_or("none", Link::mn_iface);
                let mut h =
                    handover_latency(from, m.to.mn_iface(), m.times, next, &mn_peer, &cn_peer);
                h.trigger = m.trigger.to_owned();
                tracing::info!(from = %h.from, to = %h.to, latency_ms = ?h.latency_ms, "handover");
                self.report.handovers.push(h);
            }
        }
        if phase == Phase::ReturnHome {
            self.report.return_home.mn_reinitializations = p.mn_key_events.initialization;
            self.report.return_home.lost = p.lost;
        }
        if phase == Phase::HaRestart {
            self.report.ha_restart.persistence = self.opts.persistence;
            self.report.ha_restart.mn_reinitializations = p.mn_key_events.initialization;
        }
        self.report.phases.push(p);
        Ok(())
    }

    /// Runs one UDP phase: spawns the two peers, performs `actions` at their offsets,
    /// collects the peers' reports.
    fn udp_phase(
        &mut self,
        phase: Phase,
        secs: u64,
        actions: &[(Duration, Action)],
    ) -> Result<(UdpPeerReport, UdpPeerReport, Vec<MoveRecord>), DemoError> {
        let id = phase.id();
        let port_offset = u16::try_from(id).unwrap_or(0);
        let mn_addr = SocketAddr::V6(SocketAddrV6::new(MN_HOA, MN_UDP_BASE + port_offset, 0, 0));
        let cn_addr = SocketAddr::V6(SocketAddrV6::new(CN_ADDR, CN_UDP_BASE + port_offset, 0, 0));
        let start_at = unix_micros() + START_DELAY.as_micros() as u64;
        let rate = if phase == Phase::Handover {
            self.report.handover_rate_pps = self.opts.handover_rate_pps;
            self.opts.handover_rate_pps
        } else {
            self.opts.rate_pps
        };
        let peer_args = |bind: SocketAddr, peer: SocketAddr| -> Vec<String> {
            vec![
                "udp-peer".into(),
                "--bind".into(),
                bind.to_string(),
                "--peer".into(),
                peer.to_string(),
                "--rate".into(),
                rate.to_string(),
                "--secs".into(),
                secs.to_string(),
                "--phase".into(),
                id.to_string(),
                "--start-at-us".into(),
                start_at.to_string(),
                "--linger-ms".into(),
                LINGER.as_millis().to_string(),
                "--size".into(),
                self.opts.datagram_size.to_string(),
                "--record-arrivals".into(),
            ]
        };
        let mn_args = peer_args(mn_addr, cn_addr);
        let cn_args = peer_args(cn_addr, mn_addr);
        let realtime = phase == Phase::Handover;
        let mn_proc = self.spawn_tool_at(Node::Mn, &mn_args, realtime)?;
        let cn_proc = self.spawn_tool_at(Node::Cn, &cn_args, realtime)?;
        let started = Instant::now() + START_DELAY;
        let mut moves = Vec::new();
        for (offset, action) in actions {
            interrupt::sleep_until(started + *offset)?;
            self.daemons_alive()?;
            match action {
                Action::Move(to) => {
                    let from = self.lab().mn_link();
                    let started_us = unix_micros();
                    let micros = |t: Option<std::time::SystemTime>, or: u64| {
                        t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map_or(or, |d| d.as_micros() as u64)
                    };
                    let (done_us, trigger) = if self.opts.hand_set_addresses {
                        self.lab().move_mn(*to)?;
                        (
                            micros(self.lab().coa_added_at(), unix_micros()),
                            "address_added",
                        )
                    } else {
                        self.lab().switch_mn(*to)?;
                        let up_us = micros(self.lab().coa_added_at(), unix_micros());
                        match self.wait_advertised(*to)? {
                            Some(at) => (at, "router_advertisement"),
                            None => (up_us, "link_up"),
                        }
                    };
                    let started_us = micros(self.lab().coa_removed_at(), started_us);
                    tracing::info!(to = to.mn_iface(), trigger, "MN moved");
                    moves.push(MoveRecord {
                        from,
                        to: *to,
                        times: MoveTimes {
                            started_us,
                            done_us,
                        },
                        trigger,
                    });
                }
                Action::MoveHome => {
                    let moved = Instant::now();
                    if self.opts.hand_set_addresses {
                        self.lab().move_mn_home()?;
                    } else {
                        self.lab().switch_mn_home()?;
                    }
                    tracing::info!("MN moved onto its home link");
                    self.watch_return_home(moved)?;
                }
                Action::RestartHa => self.restart_ha()?,
            }
        }
        let deadline = started + Duration::from_secs(secs) + LINGER + Duration::from_secs(10);
        let mn_report: UdpPeerReport = self.collect(mn_proc, deadline)?;
        let cn_report: UdpPeerReport = self.collect(cn_proc, deadline)?;
        Ok((mn_report, cn_report, moves))
    }

    /// Waits (up to 3 s) for the MN's status to show its care-of address on `link`
    /// formed from a Router Advertisement; returns when that advertisement arrived
    /// (µs since the epoch), or `None` (with a WARN) if it never did.
    fn wait_advertised(&mut self, link: Link) -> Result<Option<u64>, DemoError> {
        let coa = link.slaac_addr().to_string();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let movement = self.mn_status().and_then(|s| s.movement);
            if let Some(m) = movement.filter(|m| {
                m.care_of_address.as_deref() == Some(coa.as_str())
                    && m.cause == "router_advertisement"
            }) {
                return Ok(m.advertisement_unix_us);
            }
            interrupt::sleep_until(Instant::now() + Duration::from_millis(5))?;
        }
        tracing::warn!(
            link = link.mn_iface(),
            "no care-of address from a Router Advertisement within 3 s"
        );
        Ok(None)
    }

    /// Waits (up to 5 s) for the MN to say `at-home`, then records what the HA and the
    /// host show of it.
    fn watch_return_home(&mut self, moved: Instant) -> Result<(), DemoError> {
        let deadline = moved + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self
                .mn_status()
                .is_some_and(|s| s.registration == "at-home")
            {
                let r = &mut self.report.return_home;
                r.at_home_ms = Some(moved.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            interrupt::sleep_until(Instant::now() + Duration::from_millis(5))?;
        }
        let hoa = MN_HOA.to_string();
        let ha = self.ha_status();
        let on_link = self.lab().global_addrs(Node::Mn)?.contains(&MN_HOA);
        let r = &mut self.report.return_home;
        r.deregistered_at_ha =
            r.at_home_ms.is_some() && !ha.bindings.iter().any(|b| b.home_address == hoa);
        r.home_address_on_link = on_link;
        tracing::info!(at_home_ms = ?r.at_home_ms, deregistered_at_ha = r.deregistered_at_ha, "MN at home");
        Ok(())
    }

    /// `kill -9` the HA, then start a new instance on the same config and state; in a
    /// pair, the standby takes over instead, and the killed one is started again as
    /// the new standby.
    fn restart_ha(&mut self) -> Result<(), DemoError> {
        let before = self.ha_status();
        self.ha_history.push(before);
        let ha = self.ha.take().expect("HA running");
        let killed = Instant::now();
        ha.kill_hard(self.lab());
        if let Some(pair) = &mut self.pair {
            tracing::info!("active HA killed with SIGKILL; the standby takes over");
            let standby = pair.standby.take().expect("a standby runs");
            let (old, new) = (pair.active, 1 - pair.active);
            standby.wait_ready(self.lab(), READY_TIMEOUT)?;
            let down = killed.elapsed();
            self.activate(new, standby);
            let again = self.spawn_pair_member(old)?;
            if let Some(p) = &mut self.pair {
                p.standby = Some(again);
            }
            self.report.ha_restart.failover = true;
            self.report.ha_restart.down_ms = down.as_secs_f64() * 1000.0;
        } else {
            tracing::info!("HA killed with SIGKILL; restarting it");
            self.start_ha()?;
            self.report.ha_restart.down_ms = killed.elapsed().as_secs_f64() * 1000.0;
        }
        let now = self.ha_status();
        let hoa = MN_HOA.to_string();
        self.report.ha_restart.persistence = self.opts.persistence;
        self.report.ha_restart.binding_restored =
            now.bindings.iter().any(|b| b.home_address == hoa);
        Ok(())
    }

    /// Spawns `mip6-lab ARGS` in `node`, in its own process group, stdout piped.
    fn spawn_tool(&mut self, node: Node, args: &[String]) -> Result<ProcId, DemoError> {
        self.spawn_tool_at(node, args, false)
    }

    /// [`Self::spawn_tool`], at real-time priority if `realtime` (`chrt -f`,
    /// [`PEER_RT_PRIORITY`]): the handover phase's traffic peers, so that what the
    /// latency counts is the tunnel's, not a paced sender starved of a CPU while the
    /// lab moves the MN (on two CPUs a normal-priority peer was seen to send nothing
    /// for 5–12 ms around a move, then a burst).
    fn spawn_tool_at(
        &mut self,
        node: Node,
        args: &[String],
        realtime: bool,
    ) -> Result<ProcId, DemoError> {
        let exe = self.opts.self_exe.clone();
        let lab = self.lab();
        let mut command = if realtime {
            let mut c = lab.command_in(node, "chrt");
            c.args(["--fifo", PEER_RT_PRIORITY]).arg(&exe);
            c
        } else {
            lab.command_in(node, &exe)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0);
        Ok(lab.spawn_command(command)?)
    }

    /// Reads a tool's JSON report from its stdout, waiting until `deadline` at most.
    fn collect<T: DeserializeOwned + Send + 'static>(
        &mut self,
        id: ProcId,
        deadline: Instant,
    ) -> Result<T, DemoError> {
        let stdout = self
            .lab()
            .take_stdout(id)
            .ok_or_else(|| DemoError::Traffic {
                what: format!("process {id} has no stdout"),
            })?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut text = String::new();
            let result = { stdout }.read_to_string(&mut text).map(|_| text);
            let _ = tx.send(result);
        });
        let text = loop {
            interrupt::check()?;
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(text)) => break text,
                Ok(Err(e)) => {
                    return Err(DemoError::Traffic {
                        what: format!("{id}: reading its output: {e}"),
                    })
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => {
                    return Err(DemoError::Traffic {
                        what: format!("{id}: no report before its deadline"),
                    })
                }
            }
        };
        let status = self.lab().stop(id)?;
        serde_json::from_str(text.trim()).map_err(|e| DemoError::Traffic {
            what: format!("{id} ({status}): bad report {text:?}: {e}"),
        })
    }

    /// TCP goodput MN (home address) → CN through the tunnel, Mbit/s at the sink.
    fn goodput(&mut self) -> Result<f64, DemoError> {
        let link = self.lab().mn_link().unwrap_or(Link::Foreign1);
        self.wait_registered(link, self.opts.register_timeout)?;
        let secs = self.opts.goodput_secs.max(1);
        let sink_at = SocketAddr::V6(SocketAddrV6::new(CN_ADDR, TCP_PORT, 0, 0));
        let from = SocketAddr::V6(SocketAddrV6::new(MN_HOA, 0, 0, 0));
        tracing::info!(secs, "TCP goodput MN -> CN");
        let sink = self.spawn_tool(
            Node::Cn,
            &[
                "tcp-sink".into(),
                "--bind".into(),
                sink_at.to_string(),
                "--accept-timeout-secs".into(),
                "10".into(),
            ],
        )?;
        let source = self.spawn_tool(
            Node::Mn,
            &[
                "tcp-source".into(),
                "--bind".into(),
                from.to_string(),
                "--connect".into(),
                sink_at.to_string(),
                "--secs".into(),
                secs.to_string(),
            ],
        )?;
        let deadline = Instant::now() + Duration::from_secs(secs + 30);
        let sent: TcpReport = self.collect(source, deadline)?;
        let got: TcpReport = self.collect(sink, deadline)?;
        tracing::info!(
            sent_bytes = sent.bytes,
            got_bytes = got.bytes,
            mbps = got.mbps,
            "goodput"
        );
        Ok(got.mbps)
    }

    /// Final statuses, rekeys, registrations, captures, checks.
    fn finish(&mut self) -> Result<(), DemoError> {
        let ha_now = self.ha_status();
        let mn_now = self.mn_status().unwrap_or_default();
        let mut ha_events = KeyEvents::default();
        let mut accepted = 0;
        let mut refused = 0;
        for s in self.ha_history.iter().chain(std::iter::once(&ha_now)) {
            ha_events = ha_events.plus(s.key_events);
            accepted += s.registrations.accepted;
            refused += s.registrations.refused;
        }
        self.report.rekeys = RekeyCounts::from(ha_events);
        self.report.rekeys_mn = RekeyCounts::from(mn_now.key_events);
        self.report.registrations = report::RegistrationCounts {
            accepted,
            refused,
            mn_bu_sent: mn_now.bu_sent,
            mn_ba_received: mn_now.ba_received,
            mn_handovers: mn_now.handovers,
        };
        // The router saw every frame the home agents sealed, before and after the
        // restart or failover (its capture stopped before the goodput run).
        self.report.ha_restart.repeated_nonces =
            sniff::repeated_esp_nonces(&sniff::capture_path(&self.files.out, Node::Rt));
        self.report.add_checks();
        Ok(())
    }

    /// Stops the MN then the HA (SIGTERM: they remove their own state from the
    /// kernel), removes the BA-drop table if a failure left it, deletes the lab, then
    /// lists the captures (complete now that the daemons have closed them).
    fn teardown(&mut self) {
        if self.lab.is_some() {
            self.stop_sniffers();
        }
        let Some(mut lab) = self.lab.take() else {
            return;
        };
        if let Some(mn) = self.mn.take() {
            mn.stop(&mut lab);
        }
        if let Some(ha) = self.ha.take() {
            ha.stop(&mut lab);
        }
        if let Some(standby) = self.pair.as_mut().and_then(|p| p.standby.take()) {
            standby.stop(&mut lab);
        }
        if self.nft_installed {
            if let Err(e) = nft::remove(&lab) {
                tracing::warn!(error = %e, "removing the BA-drop table failed");
            }
            self.nft_installed = false;
        }
        let prefix = lab.prefix().to_owned();
        match lab.close() {
            Ok(()) => tracing::info!(lab = prefix, "lab removed"),
            Err(e) => tracing::error!(lab = prefix, error = %e, "lab teardown failed"),
        }
        if let Err(e) = sniff::write_router_keys(&self.files.out) {
            tracing::warn!(error = %e, "rt.pcapng.esp_sa not written");
        }
        self.report.captures = list_captures(&self.files.out);
    }
}

/// The `.pcapng` and `.esp_sa` files in `dir`, sorted.
pub fn list_captures(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_capture(p))
        .map(|p| p.display().to_string())
        .collect();
    found.sort();
    found
}

/// The MN's home address and the CN's, for the command-line help.
pub const ENDPOINTS: (Ipv6Addr, Ipv6Addr) = (MN_HOA, CN_ADDR);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan_covers_rekeys_and_stays_short() {
        let opts = DemoOptions::new(PathBuf::from("/x/mip6-lab"));
        let plan = opts.phase_plan();
        let names: Vec<_> = plan.iter().map(|(p, _)| p.name()).collect();
        assert_eq!(
            names,
            [
                "steady",
                "rekey",
                "ba_loss",
                "handover",
                "return_home",
                "ha_restart"
            ]
        );
        let rekey = plan[1].1;
        assert!(rekey >= 2 * opts.key_interval.as_secs(), "{rekey}");
        let total: u64 = plan.iter().map(|(_, s)| s).sum::<u64>() + opts.goodput_secs;
        assert!((45..=110).contains(&total), "{total} s");
        let ids: std::collections::HashSet<_> = plan.iter().map(|(p, _)| p.id()).collect();
        assert_eq!(ids.len(), 6);
    }

    #[test]
    fn out_dir_is_made_and_old_captures_go() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        std::fs::create_dir_all(out.join("ha-state")).unwrap();
        std::fs::write(out.join("ha.pcapng"), b"x").unwrap();
        std::fs::write(out.join("ha.pcapng.esp_sa"), b"x").unwrap();
        std::fs::write(out.join("notes.txt"), b"keep").unwrap();
        let abs = prepare_out_dir(&out).unwrap();
        assert!(abs.is_absolute());
        assert!(!out.join("ha-state").exists());
        assert!(list_captures(&abs).is_empty());
        assert!(out.join("notes.txt").exists());
        std::fs::write(out.join("mn.pcapng"), b"x").unwrap();
        std::fs::write(out.join("mn.pcapng.esp_sa"), b"x").unwrap();
        assert_eq!(list_captures(&abs).len(), 2);
    }

    #[test]
    fn missing_daemons_are_reported_before_any_lab_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = DemoOptions::new(dir.path().join("mip6-lab"));
        opts.out_dir = dir.path().join("out");
        opts.bin_dir = Some(dir.path().to_owned());
        let err = run(&opts).unwrap_err();
        assert!(
            matches!(&err, DemoError::MissingBinary(p) if p.ends_with("mip6-ha")),
            "{err}"
        );
        assert!(err.to_string().contains("--bin-dir"));
    }
}
