//! One goodput measurement: `mip6-lab tcp-sink` in one namespace, `mip6-lab
//! tcp-source` in another, and the caller's counters (CPU of the tunnel's processes,
//! packets) sampled just before the source starts and just after it ends.

use std::io::Read;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::cpu::{self, CpuTicks};
use super::report::{DaemonCpu, RunResult};
use super::BenchError;
use crate::demo::interrupt;
use crate::topology::{Lab, Node, ProcId};
use crate::traffic::tcp::TcpReport;

/// Extra time past the source's seconds for both reports to arrive.
const REPORT_SLACK: Duration = Duration::from_secs(30);
/// How long the sink waits for the source's connection.
const ACCEPT_TIMEOUT_SECS: u64 = 10;

/// The counters of one instant.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// CPU time of each process carrying the tunnel, by name.
    pub cpu: Vec<(String, CpuTicks)>,
    /// A packet counter (both directions), if the path has one.
    pub packets: Option<u64>,
}

/// One TCP stream to measure.
#[derive(Debug, Clone)]
pub struct Stream<'a> {
    /// The run's name in the report.
    pub name: &'a str,
    /// `MN->CN` or `CN->MN`.
    pub direction: &'a str,
    /// Where the source runs, and its address.
    pub from: (Node, Ipv6Addr),
    /// Where the sink runs, and its address.
    pub to: (Node, Ipv6Addr),
    /// The sink's port.
    pub port: u16,
    /// Seconds the source writes.
    pub secs: u64,
    /// What the sample's packet counter counts (for the report).
    pub packets_counted: &'a str,
}

/// CPU samples of the processes `pids` (name, pid).
pub fn sample_cpu(pids: &[(&str, u32)]) -> Result<Vec<(String, CpuTicks)>, BenchError> {
    pids.iter()
        .map(|&(name, pid)| {
            cpu::read(pid)
                .map(|t| (name.to_owned(), t))
                .map_err(|e| BenchError::Setup(format!("CPU time of {name} (pid {pid}): {e}")))
        })
        .collect()
}

/// Runs `stream` with `mip6-lab` at `exe`, calling `sample` before the source starts
/// and after it ends, and returns the result (goodput at the sink).
pub fn measure(
    lab: &mut Lab,
    exe: &Path,
    stream: &Stream<'_>,
    sample: &mut dyn FnMut(&mut Lab) -> Result<Sample, BenchError>,
) -> Result<RunResult, BenchError> {
    interrupt::check()?;
    let sink_at = SocketAddr::V6(SocketAddrV6::new(stream.to.1, stream.port, 0, 0));
    let from = SocketAddr::V6(SocketAddrV6::new(stream.from.1, 0, 0, 0));
    tracing::info!(run = stream.name, direction = stream.direction, %from, %sink_at, secs = stream.secs, "measuring");
    let sink = spawn_tool(
        lab,
        exe,
        stream.to.0,
        &[
            "tcp-sink".into(),
            "--bind".into(),
            sink_at.to_string(),
            "--accept-timeout-secs".into(),
            ACCEPT_TIMEOUT_SECS.to_string(),
        ],
    )?;
    // The source retries its connect for a few seconds; this only spares it a retry.
    interrupt::sleep(Duration::from_millis(200))?;
    let before = sample(lab)?;
    let started = Instant::now();
    let source = spawn_tool(
        lab,
        exe,
        stream.from.0,
        &[
            "tcp-source".into(),
            "--bind".into(),
            from.to_string(),
            "--connect".into(),
            sink_at.to_string(),
            "--secs".into(),
            stream.secs.to_string(),
        ],
    )?;
    let deadline = Instant::now() + Duration::from_secs(stream.secs) + REPORT_SLACK;
    let sent: TcpReport = collect(lab, source, deadline)?;
    let after = sample(lab)?;
    let window_s = started.elapsed().as_secs_f64();
    let got: TcpReport = collect(lab, sink, deadline)?;
    tracing::info!(
        run = stream.name,
        sent_bytes = sent.bytes,
        got_bytes = got.bytes,
        mbps = got.mbps,
        "measured"
    );
    let daemons = after
        .cpu
        .iter()
        .map(|(name, now)| {
            let then = before
                .cpu
                .iter()
                .find(|(n, _)| n == name)
                .map_or(CpuTicks::default(), |(_, t)| *t);
            DaemonCpu::new(
                name,
                now.secs_since(then, ticks_per_sec()),
                window_s,
                got.bytes,
            )
        })
        .collect();
    let result = RunResult {
        name: stream.name.to_owned(),
        direction: stream.direction.to_owned(),
        from: stream.from.1.to_string(),
        to: stream.to.1.to_string(),
        goodput_gbps: got.mbps / 1000.0,
        bytes: got.bytes,
        window_s,
        packets_counted: String::new(),
        packets: None,
        packets_per_s: None,
        daemons,
    };
    Ok(match (before.packets, after.packets) {
        (Some(b), Some(a)) => result.with_packets(stream.packets_counted, a.saturating_sub(b)),
        _ => result,
    })
}

fn ticks_per_sec() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(cpu::ticks_per_sec)
}

/// Spawns `mip6-lab ARGS` in `node`, in its own process group, stdout piped.
fn spawn_tool(
    lab: &mut Lab,
    exe: &Path,
    node: Node,
    args: &[String],
) -> Result<ProcId, BenchError> {
    let mut command = lab.command_in(node, exe);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    Ok(lab.spawn_command(command)?)
}

/// Reads a tool's JSON report from its stdout, waiting until `deadline` at most,
/// then reaps it.
fn collect<T: DeserializeOwned>(
    lab: &mut Lab,
    id: ProcId,
    deadline: Instant,
) -> Result<T, BenchError> {
    let stdout = lab
        .take_stdout(id)
        .ok_or_else(|| BenchError::Setup(format!("process {id} has no stdout")))?;
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
                return Err(BenchError::Setup(format!("{id}: reading its output: {e}")));
            }
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => {
                return Err(BenchError::Setup(format!(
                    "{id}: no report before its deadline"
                )))
            }
        }
    };
    let status = lab.stop(id)?;
    serde_json::from_str(text.trim())
        .map_err(|e| BenchError::Setup(format!("{id} ({status}): bad report {text:?}: {e}")))
}
