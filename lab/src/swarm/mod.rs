//! `mip6-lab swarm` (issue 13, item 4): thousands of mobile nodes from one process
//! against one `mip6-ha`, driving init → update → refresh and printing rates, BA
//! latency percentiles, and the home agent's start-up time, CPU and memory. Printed,
//! not asserted: the exact counts at the end are the only verdict.
//!
//! ```text
//!   [ha] mip6-ha, N [[mobile_node]]s ── home link ── [rt] ── foreign link 1 ── [mn] swarm-driver
//!   2001:db8:1::1                       route 2001:db8:5::/64 via 2001:db8:2::100   N engines
//! ```
//!
//! 1. A fresh [`Lab`]; the MN namespace on foreign link 1 (2001:db8:2::100), forwarding
//!    off; the router routes the care-of prefix [`plan::COA_PREFIX`] to it, so no
//!    Neighbor Discovery is needed per care-of address.
//! 2. `ha.toml` with one `[[mobile_node]]` per node ([`plan`]: addresses, init
//!    secrets and SPIs from the node's index), `dad_transmits = 0`, log level `warn`
//!    by default (the HA logs three INFO lines per BU; `--ha-log-level info` to see
//!    them).
//! 3. `mip6-ha` starts; its start-up is spawn → its control socket accepting (bound
//!    just before its `ready` line) or that line, whichever is seen first (polled
//!    every 2 ms).
//! 4. `mip6-lab swarm-driver` runs in the MN namespace ([`driver`]): the phases, each
//!    with the home agent's CPU and RSS sampled before and after; it prints its
//!    report as JSON.
//! 5. The home agent's status gives the exact counts ([`report::Checks`]): bindings
//!    = N, key initializations = N, updates ≥ N, every node registered with the
//!    newest generation (number and SPI) the home agent holds for it.
//!
//! Everything is removed at the end, on failure too (the [`Lab`]'s drop stops the
//! processes and deletes the namespaces).
//!
//! Not measured here: the data plane (tunnelled packets per node), route installation
//! as its own figure (it is inside the HA's CPU), a swarm spread over several
//! processes or cores.

pub mod cli;
pub mod driver;
pub mod plan;
pub mod report;
pub mod stats;

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Ipv6Addr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use self::driver::DriverReport;
use self::report::{Checks, SwarmReport};
use crate::demo::config::{write_private, DemoFiles};
use crate::demo::daemon::{Daemon, DaemonSpec};
use crate::demo::interrupt;
use crate::demo::DemoError;
use crate::topology::{Lab, Link, Node};

/// The swarm's interface, on foreign link 1.
const SWARM_LINK: Link = Link::Foreign1;
/// The largest window of outstanding Binding Updates `--window` takes.
pub const MAX_WINDOW: u32 = 65_536;
/// How often start-up is polled.
const READY_POLL: Duration = Duration::from_millis(2);

/// What to run.
#[derive(Debug, Clone)]
pub struct SwarmOptions {
    /// Mobile nodes.
    pub count: u32,
    /// Most BUs outstanding at once.
    pub window: usize,
    /// Output directory: `ha.toml`, the HA's state and log.
    pub out_dir: PathBuf,
    /// Where `mip6-ha` is (default: beside `self_exe`).
    pub bin_dir: Option<PathBuf>,
    /// The `mip6-lab` binary, run in the MN namespace as the swarm.
    pub self_exe: PathBuf,
    /// The home agent persists its records (its default).
    pub persistence: bool,
    /// The home agent's log level.
    pub ha_log_level: String,
    /// Seed of the swarm's engines (the home agent uses its production OS RNG).
    pub seed: u64,
    /// A phase gives up when no node finished it for this long.
    pub stall_timeout: Duration,
    /// How long the home agent may take to start.
    pub ready_timeout: Duration,
    /// How long its final status may take.
    pub status_timeout: Duration,
    /// Copy the home agent's log lines to stderr.
    pub echo_daemon_logs: bool,
}

impl SwarmOptions {
    /// 2 000 nodes, window 512, persistence on, `warn` logs, with `self_exe` as the swarm.
    pub fn new(self_exe: PathBuf) -> SwarmOptions {
        SwarmOptions {
            count: 2000,
            window: 512,
            out_dir: PathBuf::from("mip6-swarm"),
            bin_dir: None,
            self_exe,
            persistence: true,
            ha_log_level: "warn".into(),
            seed: 1,
            stall_timeout: Duration::from_secs(20),
            ready_timeout: Duration::from_secs(120),
            status_timeout: Duration::from_secs(120),
            echo_daemon_logs: false,
        }
    }
}

/// Why a swarm run failed (the exact counts failing is not an error: see
/// [`SwarmReport::all_ok`]).
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// The lab, the home agent, a file, or an interrupt.
    #[error(transparent)]
    Demo(#[from] DemoError),
    /// The swarm process failed.
    #[error("the swarm process {0}")]
    Driver(String),
    /// The home agent's status could not be read.
    #[error("the home agent's status: {0}")]
    Status(String),
}

impl From<crate::LabError> for SwarmError {
    fn from(e: crate::LabError) -> SwarmError {
        SwarmError::Demo(DemoError::Lab(e))
    }
}

impl From<interrupt::Interrupted> for SwarmError {
    fn from(e: interrupt::Interrupted) -> SwarmError {
        SwarmError::Demo(DemoError::Interrupted(e))
    }
}

impl SwarmError {
    /// Whether SIGINT or SIGTERM ended the run.
    pub fn is_interrupt(&self) -> bool {
        matches!(self, SwarmError::Demo(DemoError::Interrupted(_)))
    }
}

fn io_err(what: String) -> impl FnOnce(io::Error) -> DemoError {
    move |source| DemoError::Io { what, source }
}

/// Runs the swarm and returns its report; everything it made is removed before it
/// returns, on success and on failure alike.
pub fn run(opts: &SwarmOptions) -> Result<SwarmReport, SwarmError> {
    let bin_dir = match &opts.bin_dir {
        Some(d) => d.clone(),
        None => opts
            .self_exe
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default(),
    };
    let ha_bin = bin_dir.join("mip6-ha");
    for b in [&ha_bin, &opts.self_exe] {
        if !b.is_file() {
            return Err(DemoError::MissingBinary(b.clone()).into());
        }
    }
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(io_err(format!("create {}", opts.out_dir.display())))?;
    let out = std::fs::canonicalize(&opts.out_dir)
        .map_err(io_err(format!("resolve {}", opts.out_dir.display())))?;
    let files = DemoFiles::under(&out);
    if files.ha_state.exists() {
        std::fs::remove_dir_all(&files.ha_state)
            .map_err(io_err(format!("remove {}", files.ha_state.display())))?;
    }
    let settings = plan::HaSettings {
        state_dir: &files.ha_state,
        control_socket: &files.ha_socket,
        persistence: opts.persistence,
        log_level: &opts.ha_log_level,
    };
    write_private(&files.ha_config, &plan::ha_toml(&settings, opts.count))
        .map_err(io_err(format!("write {}", files.ha_config.display())))?;
    interrupt::check()?;

    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok());
    let mut lab = Lab::new()?;
    lab.move_mn(SWARM_LINK)?;
    lab.exec_in_checked(
        Node::Mn,
        &["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=0"],
    )?;
    let prefix = format!("{}/64", plan::COA_PREFIX);
    let via = SWARM_LINK.mn_addr().to_string();
    lab.exec_in_checked(
        Node::Rt,
        &[
            "ip",
            "-6",
            "route",
            "add",
            &prefix,
            "via",
            &via,
            "dev",
            SWARM_LINK.rt_iface(),
        ],
    )?;
    tracing::info!(lab = lab.prefix(), out = %out.display(), count = opts.count, "lab built");

    let spec = DaemonSpec {
        name: "ha",
        node: Node::Ha,
        program: &ha_bin,
        config: &files.ha_config,
        capture: None,
        socket: &files.ha_socket,
        log: out.join("ha.log"),
        // The HA draws from the OS as in production: its cost is what is measured.
        seed: None,
        echo: opts.echo_daemon_logs,
    };
    let spawned = Instant::now();
    let ha = Daemon::spawn(&mut lab, &spec)?;
    wait_started(&mut lab, &ha, &files.ha_socket, opts.ready_timeout)?;
    let startup = spawned.elapsed();
    let ha_pid = ha.id.pid();
    let ready_rss = stats::sample(ha_pid).map_or(0, |s| s.rss_kib);
    tracing::info!(secs = startup.as_secs_f64(), "home agent ready");

    let driver = run_driver(&mut lab, opts, ha_pid)?;
    let ha_rss_end = stats::sample(ha_pid).map_or(0, |s| s.rss_kib);
    let status = read_status(&files.ha_socket, opts.status_timeout)
        .map_err(|e| SwarmError::Status(e.to_string()))?;
    let checks = checks(&status, &driver);
    ha.stop(&mut lab);
    lab.close()?;

    let mut report = SwarmReport::new(&driver, opts.persistence, checks);
    report.ha_startup_s = startup.as_secs_f64();
    report.ha_rss_ready_kib = ready_rss;
    report.ha_rss_end_kib = ha_rss_end;
    report.load_average = load_average;
    Ok(report)
}

/// Waits for the home agent's control socket to accept a connection or its `ready`
/// line, whichever comes first.
fn wait_started(
    lab: &mut Lab,
    ha: &Daemon,
    socket: &Path,
    timeout: Duration,
) -> Result<(), SwarmError> {
    let deadline = Instant::now() + timeout;
    loop {
        if ha.saw_ready() || UnixStream::connect(socket).is_ok() {
            return Ok(());
        }
        ha.check_running(lab)?;
        if Instant::now() >= deadline {
            return Err(DemoError::Daemon {
                name: ha.name.clone(),
                what: format!("not ready within {timeout:?}"),
                tail: ha.tail(),
            }
            .into());
        }
        interrupt::sleep(READY_POLL)?;
    }
}

/// Runs `mip6-lab swarm-driver` in the MN namespace and reads its report.
fn run_driver(lab: &mut Lab, opts: &SwarmOptions, ha_pid: u32) -> Result<DriverReport, SwarmError> {
    let mut command = lab.command_in(Node::Mn, &opts.self_exe);
    command
        .arg("swarm-driver")
        .args(["--count", &opts.count.to_string()])
        .args(["--window", &opts.window.to_string()])
        .args(["--iface", SWARM_LINK.mn_iface()])
        .args(["--ha-pid", &ha_pid.to_string()])
        .args(["--seed", &opts.seed.to_string()])
        .args([
            "--stall-timeout-ms",
            &opts.stall_timeout.as_millis().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let id = lab.spawn_command(command)?;
    let mut stdout = lab
        .take_stdout(id)
        .ok_or_else(|| SwarmError::Driver("has no stdout".into()))?;
    let mut text = String::new();
    let read = stdout.read_to_string(&mut text);
    while lab.is_running(id) == Some(true) {
        interrupt::sleep(Duration::from_millis(5))?;
    }
    let status = lab.stop(id)?;
    // SIGINT reaches the swarm too (same process group): say "interrupted", not "failed".
    interrupt::check()?;
    read.map_err(|e| SwarmError::Driver(format!("output unreadable: {e}")))?;
    if !status.success() {
        return Err(SwarmError::Driver(format!("exited with {status}")));
    }
    serde_json::from_str(&text).map_err(|e| SwarmError::Driver(format!("report unreadable: {e}")))
}

/// The home agent's whole status: every page of `{"command":"status"}` over the
/// control socket (each lists at most 1 000 mobile nodes,
/// [`mip6_daemon::control::Page`]), their `bindings` and `keys` joined, the other
/// fields from the first page; `timeout` for each page.
pub fn read_status(path: &Path, timeout: Duration) -> io::Result<serde_json::Value> {
    let mut whole = read_status_page(path, timeout, 0)?;
    let mut next = whole["mobile_nodes"]["next_offset"].as_u64();
    while let Some(offset) = next {
        let page = read_status_page(path, timeout, offset)?;
        for key in ["bindings", "keys"] {
            if let (Some(all), Some(more)) = (whole[key].as_array_mut(), page[key].as_array()) {
                all.extend(more.iter().cloned());
            }
        }
        next = page["mobile_nodes"]["next_offset"]
            .as_u64()
            .filter(|n| *n > offset);
    }
    Ok(whole)
}

/// One page of the status, from `offset`.
fn read_status_page(path: &Path, timeout: Duration, offset: u64) -> io::Result<serde_json::Value> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = serde_json::json!({"command": "status", "args": {"offset": offset}});
    stream.write_all(format!("{request}\n").as_bytes())?;
    stream.flush()?;
    let mut reply = Vec::new();
    BufReader::new(stream).read_until(b'\n', &mut reply)?;
    serde_json::from_slice(&reply).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Each home address's newest generation and MN→HA SPI in the home agent's status.
fn ha_newest(status: &serde_json::Value) -> HashMap<Ipv6Addr, (u32, u32)> {
    let mut out = HashMap::new();
    for entry in status["keys"].as_array().into_iter().flatten() {
        let Some(hoa) = entry["home_address"].as_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let newest = entry["generations"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["slot"] == "newest");
        if let Some(g) = newest {
            let number = g["generation"].as_u64().unwrap_or(0) as u32;
            let spi = g["spi_mn_to_ha"].as_u64().unwrap_or(0) as u32;
            out.insert(hoa, (number, spi));
        }
    }
    out
}

/// The exact counts of a run: the home agent's status against the swarm's report.
pub fn checks(status: &serde_json::Value, driver: &DriverReport) -> Checks {
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let ha = ha_newest(status);
    let common = (0u32..)
        .zip(&driver.newest)
        .filter(|&(n, &(generation, spi))| {
            generation > 0 && ha.get(&plan::home_address(n)) == Some(&(generation, spi))
        })
        .count() as u64;
    Checks {
        expected: u64::from(driver.count),
        bindings: status["bindings"].as_array().map_or(0, |b| b.len() as u64),
        key_initializations: count(&status["key_events"]["initialization"]),
        key_updates: count(&status["key_events"]["update"]),
        registered: driver.registered,
        common_newest_key: common,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn driver(newest: Vec<(u32, u32)>) -> DriverReport {
        DriverReport {
            count: newest.len() as u32,
            window: 1,
            setup_secs: 0.0,
            phases: Vec::new(),
            registered: newest.len() as u64,
            newest,
            engine_drops: 0,
            unmatched: 0,
            socket_drops: 0,
            send_errors: 0,
        }
    }

    #[test]
    fn checks_read_the_home_agents_status_and_compare_keys_per_node() {
        let gen = |slot: &str, n: u32, spi: u32| json!({"slot": slot, "generation": n, "spi_mn_to_ha": spi});
        let status = json!({
            "bindings": [{}, {}, {}],
            "keys": [
                {"home_address": plan::home_address(0).to_string(),
                 "generations": [gen("newest", 2, 900), gen("anterior", 1, 800), gen("init", 0, 1)]},
                {"home_address": plan::home_address(1).to_string(),
                 "generations": [gen("newest", 2, 901)]},
                {"home_address": plan::home_address(2).to_string(),
                 "generations": [gen("newest", 2, 999)]},
            ],
            "key_events": {"initialization": 3, "update": 3, "resend": 0},
        });
        let c = checks(&status, &driver(vec![(2, 900), (2, 901), (2, 902)]));
        assert_eq!(
            c,
            Checks {
                expected: 3,
                bindings: 3,
                key_initializations: 3,
                key_updates: 3,
                registered: 3,
                common_newest_key: 2,
            }
        );
        assert!(!c.all_ok(), "node 2's SPI differs");
        let c = checks(&json!({}), &driver(vec![(0, 0)]));
        assert_eq!((c.bindings, c.common_newest_key), (0, 0));
    }
}
