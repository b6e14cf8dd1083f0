//! `mip6-lab bench` (issue 4, printed, not asserted): MN↔CN TCP goodput through the
//! ESP tunnel of `mip6-ha`/`mip6-mn`, beside the same path without a tunnel and
//! beside boringtun (userspace WireGuard) on the same namespaces, with packets per
//! second through the tunnel and the CPU each tunnel process spent.
//!
//! Runs, each in a fresh [`Lab`] with the MN on foreign link 1, each source writing
//! for [`BenchOptions::secs`]:
//! 1. `plain`: MN 2001:db8:2::100 → CN 2001:db8:4::1 over the veths (packets counted
//!    on `mn-fg1`: segments as the veth sees them, GSO-sized);
//! 2. `mip6`: release `mip6-ha` and `mip6-mn` without captures, the MN registered;
//!    HoA 2001:db8:1::100 → CN, then CN → HoA (packets: the MN's `frames` counters
//!    `net_in + net_out`, i.e. ESP packets both ways);
//! 3. `mip6-udp`: the same with `encapsulation = "udp"` on both daemons (ESP in UDP,
//!    RFC 3948, with UDP GSO/GRO; issue 14; packets: the MN's `frames` counters as
//!    for `mip6`);
//! 4. `boringtun` with its default threads and with `--threads 1`
//!    ([`boringtun`]): 2001:db8:ff::2 → CN (packets: the MN's WireGuard interface,
//!    both ways).
//!
//! CPU is `utime + stime` of each tunnel process from `/proc/<pid>/stat` ([`cpu`]),
//! sampled just before the source starts and after it ends ([`measure`](mod@measure)). Goodput is
//! the sink's (payload bits from its first to its last octet). The comparison with
//! boringtun takes the faster boringtun run ([`report::compare`]).
//!
//! Everything is removed at the end: daemons get SIGTERM, boringtun is stopped, the
//! labs' namespaces are deleted (also on error and on SIGINT when the caller
//! installed [`crate::demo::interrupt`]).

pub mod boringtun;
pub mod cpu;
pub mod link_stats;
pub mod measure;
pub mod report;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use self::measure::{measure, sample_cpu, Sample, Stream};
use self::report::{BenchReport, RunResult};
use crate::demo::config::{self as demo_config, DemoFiles};
use crate::demo::daemon::{Daemon, DaemonSpec};
use crate::demo::interrupt::{self, Interrupted};
use crate::demo::{status, DemoError};
use crate::error::LabError;
use crate::topology::{Lab, Link, Node};
use crate::{CN_ADDR, MN_HOA};

/// How long a daemon may take to log "ready".
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// TCP ports of the sinks, one per stream of a lab.
const PORT_FORWARD: u16 = 5201;
const PORT_REVERSE: u16 = 5202;

/// Why the bench failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The lab, a daemon, a file or an interrupt (the demo's errors).
    #[error(transparent)]
    Demo(#[from] DemoError),
    /// Setting up or measuring a run failed.
    #[error("{0}")]
    Setup(String),
}

impl From<LabError> for BenchError {
    fn from(e: LabError) -> BenchError {
        BenchError::Demo(DemoError::Lab(e))
    }
}

impl From<Interrupted> for BenchError {
    fn from(e: Interrupted) -> BenchError {
        BenchError::Demo(DemoError::Interrupted(e))
    }
}

impl BenchError {
    /// Whether SIGINT or SIGTERM ended the bench.
    pub fn is_interrupt(&self) -> bool {
        matches!(self, BenchError::Demo(DemoError::Interrupted(_)))
    }
}

/// A path to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// No tunnel.
    Plain,
    /// mip6-ha and mip6-mn, both directions.
    Mip6,
    /// mip6-ha and mip6-mn with ESP in UDP, both directions.
    Mip6Udp,
    /// boringtun, default threads and `--threads 1`.
    Boringtun,
}

impl Scenario {
    /// Every scenario, in the order run.
    pub const ALL: [Scenario; 4] = [
        Scenario::Plain,
        Scenario::Mip6,
        Scenario::Mip6Udp,
        Scenario::Boringtun,
    ];
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Scenario, String> {
        match s {
            "plain" => Ok(Scenario::Plain),
            "mip6" => Ok(Scenario::Mip6),
            "mip6-udp" => Ok(Scenario::Mip6Udp),
            "boringtun" => Ok(Scenario::Boringtun),
            other => Err(format!(
                "unknown run {other:?} (plain, mip6, mip6-udp or boringtun)"
            )),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// `mip6-lab` itself (spawned as `tcp-sink`/`tcp-source` in the namespaces).
    pub self_exe: PathBuf,
    /// Seconds each source writes.
    pub secs: u64,
    /// Which paths, in this order.
    pub scenarios: Vec<Scenario>,
    /// Directory of `mip6-ha` and `mip6-mn` (default: beside `self_exe`).
    pub bin_dir: Option<PathBuf>,
    /// boringtun-cli (default: on `PATH`, then `/work/tools/bin`).
    pub boringtun: Option<PathBuf>,
    /// Configs, state, daemon and boringtun logs, keys.
    pub out_dir: PathBuf,
    /// How long the MN may take to register.
    pub register_timeout: Duration,
    /// Key update interval of both daemons.
    pub key_interval: Duration,
    /// Copy the daemons' log lines to stderr.
    pub echo_daemon_logs: bool,
}

impl BenchOptions {
    /// Defaults: 10 s, every scenario, output in `mip6-bench`.
    pub fn new(self_exe: PathBuf) -> BenchOptions {
        BenchOptions {
            self_exe,
            secs: 10,
            scenarios: Scenario::ALL.to_vec(),
            bin_dir: None,
            boringtun: None,
            out_dir: PathBuf::from("mip6-bench"),
            register_timeout: Duration::from_secs(20),
            key_interval: Duration::from_secs(600),
            echo_daemon_logs: false,
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Demo(DemoError::Io { what, source })
}

/// Runs the bench and returns its report.
pub fn run(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let mut report = BenchReport {
        secs: opts.secs,
        load_before: loadavg(),
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        ..BenchReport::default()
    };
    for scenario in &opts.scenarios {
        interrupt::check()?;
        match scenario {
            Scenario::Plain => report.runs.push(run_plain(opts)?),
            Scenario::Mip6 => report.runs.extend(run_mip6(opts, false)?),
            Scenario::Mip6Udp => report.runs.extend(run_mip6(opts, true)?),
            Scenario::Boringtun => match boringtun::find_boringtun(opts.boringtun.as_deref()) {
                Err(why) => report.skipped.push(format!("boringtun: {why}")),
                Ok(_) if boringtun::on_path("wg").is_none() => report
                    .skipped
                    .push("boringtun: wg not found (apt-get install wireguard-tools)".into()),
                Ok(program) => {
                    for threads in [None, Some(1)] {
                        report.runs.push(run_boringtun(opts, &program, threads)?);
                    }
                }
            },
        }
    }
    report.comparison = report::compare(&report.runs);
    report.targets = report::data_path_targets(&report.runs);
    report.load_after = loadavg();
    Ok(report)
}

/// A lab with the MN on foreign link 1.
fn lab_on_foreign1() -> Result<Lab, BenchError> {
    let mut lab = Lab::new()?;
    lab.move_mn(Link::Foreign1)?;
    tracing::info!(lab = lab.prefix(), "lab built");
    Ok(lab)
}

/// MN → CN over the veths, no tunnel.
pub fn run_plain(opts: &BenchOptions) -> Result<RunResult, BenchError> {
    let mut lab = lab_on_foreign1()?;
    let iface = Link::Foreign1.mn_iface();
    let stream = Stream {
        name: "plain",
        direction: "MN->CN",
        from: (Node::Mn, Link::Foreign1.mn_addr()),
        to: (Node::Cn, CN_ADDR),
        port: PORT_FORWARD,
        secs: opts.secs,
        packets_counted: "mn-fg1 rx+tx (veth segments, GSO-sized)",
    };
    let mut sample = |lab: &mut Lab| -> Result<Sample, BenchError> {
        let c = link_stats::read(lab, Node::Mn, iface)?;
        Ok(Sample {
            cpu: Vec::new(),
            packets: Some(c.rx_packets + c.tx_packets),
        })
    };
    let result = measure(&mut lab, &opts.self_exe, &stream, &mut sample)?;
    lab.close()?;
    Ok(result)
}

/// Makes the output directory absolute and creates it; removes the daemons' state a
/// previous run left (each run starts from scratch).
fn prepare_out_dir(out: &Path) -> Result<PathBuf, BenchError> {
    std::fs::create_dir_all(out).map_err(io_err(format!("create {}", out.display())))?;
    let out = std::fs::canonicalize(out).map_err(io_err(format!("resolve {}", out.display())))?;
    for dir in ["ha-state", "mn-state"] {
        let d = out.join(dir);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(io_err(format!("remove {}", d.display())))?;
        }
    }
    Ok(out)
}

/// The MN's `frames` counters `net_in + net_out` (ESP and mobility packets both
/// ways), from its status.
fn mn_net_frames(socket: &Path) -> Result<u64, BenchError> {
    let value = status::request(socket, "status")
        .map_err(|e| BenchError::Setup(format!("MN status on {}: {e}", socket.display())))?;
    let frames = &value["frames"];
    match (frames["net_in"].as_u64(), frames["net_out"].as_u64()) {
        (Some(i), Some(o)) => Ok(i + o),
        _ => Err(BenchError::Setup(format!(
            "MN status has no frames.net_in/net_out: {value}"
        ))),
    }
}

/// mip6-ha and mip6-mn: HoA → CN, then CN → HoA.
/// `mip6-ha` and `mip6-mn` (release), both directions; with `udp`, both configured
/// with `encapsulation = "udp"` (runs named `mip6-udp`).
pub fn run_mip6(opts: &BenchOptions, udp: bool) -> Result<Vec<RunResult>, BenchError> {
    let bin_dir = match &opts.bin_dir {
        Some(d) => d.clone(),
        None => opts
            .self_exe
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default(),
    };
    let (ha_bin, mn_bin) = (bin_dir.join("mip6-ha"), bin_dir.join("mip6-mn"));
    for b in [&ha_bin, &mn_bin] {
        if !b.is_file() {
            return Err(DemoError::MissingBinary(b.clone()).into());
        }
    }
    let out = prepare_out_dir(&opts.out_dir)?;
    let files = DemoFiles::under(&out);
    let encapsulation = demo_config::encapsulation_line(udp);
    std::fs::write(
        &files.ha_config,
        format!(
            "{encapsulation}{}",
            demo_config::ha_toml(&files, opts.key_interval, true)
        ),
    )
    .map_err(io_err("write ha.toml"))?;
    std::fs::write(
        &files.mn_config,
        format!(
            "{encapsulation}{}",
            demo_config::mn_toml(&files, opts.key_interval)
        ),
    )
    .map_err(io_err("write mn.toml"))?;

    let mut lab = lab_on_foreign1()?;
    let ha = Daemon::spawn(
        &mut lab,
        &DaemonSpec {
            name: "ha",
            node: Node::Ha,
            program: &ha_bin,
            config: &files.ha_config,
            capture: None,
            socket: &files.ha_socket,
            log: out.join("ha.log"),
            seed: None,
            echo: opts.echo_daemon_logs,
        },
    )?;
    let name = if udp { "mip6-udp" } else { "mip6" };
    let result = with_ha(opts, &mut lab, &ha, &mn_bin, &files, name);
    ha.stop(&mut lab);
    let results = result?;
    lab.close()?;
    Ok(results)
}

fn with_ha(
    opts: &BenchOptions,
    lab: &mut Lab,
    ha: &Daemon,
    mn_bin: &Path,
    files: &DemoFiles,
    name: &'static str,
) -> Result<Vec<RunResult>, BenchError> {
    ha.wait_ready(lab, READY_TIMEOUT)?;
    let mn = Daemon::spawn(
        lab,
        &DaemonSpec {
            name: "mn",
            node: Node::Mn,
            program: mn_bin,
            config: &files.mn_config,
            capture: None,
            socket: &files.mn_socket,
            log: files.out.join("mn.log"),
            seed: None,
            echo: opts.echo_daemon_logs,
        },
    )?;
    let result = with_daemons(opts, lab, ha, &mn, files, name);
    mn.stop(lab);
    result
}

fn with_daemons(
    opts: &BenchOptions,
    lab: &mut Lab,
    ha: &Daemon,
    mn: &Daemon,
    files: &DemoFiles,
    name: &'static str,
) -> Result<Vec<RunResult>, BenchError> {
    mn.wait_ready(lab, READY_TIMEOUT)?;
    wait_registered(lab, ha, mn, files, opts.register_timeout)?;
    if !lab.ping(Node::Mn, MN_HOA, CN_ADDR)? {
        return Err(BenchError::Setup(format!(
            "registered, but no ping from {MN_HOA} to {CN_ADDR} through the tunnel"
        )));
    }
    for d in [ha, mn] {
        let comm = cpu::comm(d.id.pid()).unwrap_or_default();
        if !comm.starts_with("mip6-") {
            tracing::warn!(daemon = %d.name, pid = d.id.pid(), %comm, "pid is not the daemon itself: its CPU time is not the daemon's");
        }
    }
    let pids = [("ha", ha.id.pid()), ("mn", mn.id.pid())];
    let socket = files.mn_socket.clone();
    let mut sample = |_: &mut Lab| -> Result<Sample, BenchError> {
        Ok(Sample {
            cpu: sample_cpu(&pids)?,
            packets: Some(mn_net_frames(&socket)?),
        })
    };
    let counted = "MN frames net_in+net_out (ESP packets)";
    let forward = measure(
        lab,
        &opts.self_exe,
        &Stream {
            name,
            direction: "MN->CN",
            from: (Node::Mn, MN_HOA),
            to: (Node::Cn, CN_ADDR),
            port: PORT_FORWARD,
            secs: opts.secs,
            packets_counted: counted,
        },
        &mut sample,
    )?;
    let reverse = measure(
        lab,
        &opts.self_exe,
        &Stream {
            name,
            direction: "CN->MN",
            from: (Node::Cn, CN_ADDR),
            to: (Node::Mn, MN_HOA),
            port: PORT_REVERSE,
            secs: opts.secs,
            packets_counted: counted,
        },
        &mut sample,
    )?;
    Ok(vec![forward, reverse])
}

/// Waits for the MN's status to say `registered` at its foreign-link-1 address.
fn wait_registered(
    lab: &mut Lab,
    ha: &Daemon,
    mn: &Daemon,
    files: &DemoFiles,
    timeout: Duration,
) -> Result<(), BenchError> {
    let coa = Link::Foreign1.mn_addr().to_string();
    let deadline = Instant::now() + timeout;
    loop {
        let last = match status::mn(&files.mn_socket) {
            Ok(s) if s.registered_at(Some(&coa)) => return Ok(()),
            Ok(s) => format!(
                "registration {:?}, care-of address {:?}",
                s.registration, s.care_of_address
            ),
            Err(e) => format!("control socket: {e}"),
        };
        ha.check_running(lab)?;
        mn.check_running(lab)?;
        if Instant::now() >= deadline {
            return Err(DemoError::Registration {
                timeout,
                last,
                ha_tail: ha.tail(),
                mn_tail: mn.tail(),
            }
            .into());
        }
        interrupt::sleep(Duration::from_millis(100))?;
    }
}

/// boringtun between MN and HA; inner MN address → CN.
pub fn run_boringtun(
    opts: &BenchOptions,
    program: &Path,
    threads: Option<u32>,
) -> Result<RunResult, BenchError> {
    let out = prepare_out_dir(&opts.out_dir)?;
    let mut lab = lab_on_foreign1()?;
    let tunnel = boringtun::start(&mut lab, program, threads, &out)?;
    let name = match threads {
        Some(t) => format!("boringtun --threads {t}"),
        None => "boringtun".to_owned(),
    };
    let pids = [
        ("boringtun-mn", tunnel.mn_proc.pid()),
        ("boringtun-ha", tunnel.ha_proc.pid()),
    ];
    let iface = tunnel.mn_iface.clone();
    let counted = format!("{iface} rx+tx (WireGuard inner packets)");
    let mut sample = |lab: &mut Lab| -> Result<Sample, BenchError> {
        let c = link_stats::read(lab, Node::Mn, &iface)?;
        Ok(Sample {
            cpu: sample_cpu(&pids)?,
            packets: Some(c.rx_packets + c.tx_packets),
        })
    };
    let result = measure(
        &mut lab,
        &opts.self_exe,
        &Stream {
            name: &name,
            direction: "MN->CN",
            from: (Node::Mn, boringtun::MN_INNER),
            to: (Node::Cn, CN_ADDR),
            port: PORT_FORWARD,
            secs: opts.secs,
            packets_counted: &counted,
        },
        &mut sample,
    );
    tunnel.stop(&mut lab);
    let result = result?;
    lab.close()?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_parse() {
        assert_eq!("plain".parse::<Scenario>(), Ok(Scenario::Plain));
        assert_eq!("mip6".parse::<Scenario>(), Ok(Scenario::Mip6));
        assert_eq!("boringtun".parse::<Scenario>(), Ok(Scenario::Boringtun));
        assert!("wireguard".parse::<Scenario>().is_err());
    }

    #[test]
    fn defaults_run_everything_for_ten_seconds() {
        let o = BenchOptions::new(PathBuf::from("/x/mip6-lab"));
        assert_eq!(o.secs, 10);
        assert_eq!(o.scenarios, Scenario::ALL.to_vec());
    }
}
