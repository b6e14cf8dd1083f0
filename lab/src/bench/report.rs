//! The bench's results: one [`RunResult`] per measured path, the comparison of mip6
//! with boringtun against issue 4's target, and the printed table.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Issue 4's target: mip6's goodput at least this many times boringtun's.
pub const TARGET_RATIO: f64 = 2.0;
/// Issue 14: ESP in UDP carries at least this share of plain veth's TCP goodput.
pub const UDP_OF_PLAIN: f64 = 0.5;
/// Issue 14: raw ESP at least this many times the faster boringtun.
pub const RAW_OVER_BORINGTUN: f64 = 3.0;
/// Issue 14: the tunnel pair (both daemons) spends at most this many CPU seconds per
/// Gbit of goodput.
pub const PAIR_CPU_S_PER_GBIT: f64 = 0.4;

/// One of issue 14's data-path targets, as measured in one bench run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// What is compared, e.g. `mip6-udp MN->CN / plain`.
    pub what: String,
    /// The measured value (a ratio, or CPU s per Gbit).
    pub value: f64,
    /// The target.
    pub target: f64,
    /// Whether a larger value is better (ratios) or a smaller one (CPU).
    pub at_least: bool,
}

impl Target {
    /// Whether the value meets the target.
    pub fn met(&self) -> bool {
        if self.at_least {
            self.value >= self.target
        } else {
            self.value <= self.target
        }
    }
}

/// Issue 14's targets from the runs that were made: `mip6-udp` against `plain` per
/// direction, `mip6` against the faster boringtun per direction, and the CPU of
/// each tunnel pair per Gbit. A target whose runs are missing is left out.
pub fn data_path_targets(runs: &[RunResult]) -> Vec<Target> {
    let find = |name: &str, dir: &str| runs.iter().find(|r| r.name == name && r.direction == dir);
    let plain = runs.iter().find(|r| r.name == "plain");
    let boringtun = runs
        .iter()
        .filter(|r| r.name.starts_with("boringtun") && r.direction == "MN->CN")
        .max_by(|a, b| a.goodput_gbps.total_cmp(&b.goodput_gbps));
    let mut out = Vec::new();
    for dir in ["MN->CN", "CN->MN"] {
        if let (Some(udp), Some(plain)) = (find("mip6-udp", dir), plain) {
            if plain.goodput_gbps > 0.0 {
                out.push(Target {
                    what: format!("mip6-udp {dir} / plain"),
                    value: udp.goodput_gbps / plain.goodput_gbps,
                    target: UDP_OF_PLAIN,
                    at_least: true,
                });
            }
        }
        if let (Some(raw), Some(bt)) = (find("mip6", dir), boringtun) {
            if bt.goodput_gbps > 0.0 {
                out.push(Target {
                    what: format!("mip6 {dir} / {}", bt.name),
                    value: raw.goodput_gbps / bt.goodput_gbps,
                    target: RAW_OVER_BORINGTUN,
                    at_least: true,
                });
            }
        }
    }
    for name in ["mip6", "mip6-udp"] {
        for dir in ["MN->CN", "CN->MN"] {
            if let Some(cpu) = find(name, dir).and_then(RunResult::total_cpu_s_per_gbit) {
                out.push(Target {
                    what: format!("{name} {dir} ha+mn CPU s/Gbit"),
                    value: cpu,
                    target: PAIR_CPU_S_PER_GBIT,
                    at_least: false,
                });
            }
        }
    }
    out
}

/// CPU time one process spent during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonCpu {
    /// `ha`, `mn`, `boringtun-mn`, ...
    pub name: String,
    /// User plus system seconds over the run (all threads).
    pub cpu_s: f64,
    /// `cpu_s` over the run's wall time: cores kept busy.
    pub cores: f64,
    /// CPU seconds per Gbit of goodput (`cpu_s` over the Gbit the sink received),
    /// the same as cores per Gbit/s; `None` when nothing was received.
    pub cpu_s_per_gbit: Option<f64>,
}

impl DaemonCpu {
    /// Derives cores and CPU per Gbit from `cpu_s`, the run's wall time and the
    /// octets the sink received.
    pub fn new(name: &str, cpu_s: f64, window_s: f64, bytes: u64) -> DaemonCpu {
        let gbit = bytes as f64 * 8.0 / 1e9;
        DaemonCpu {
            name: name.to_owned(),
            cpu_s,
            cores: if window_s > 0.0 {
                cpu_s / window_s
            } else {
                0.0
            },
            cpu_s_per_gbit: (gbit > 0.0).then(|| cpu_s / gbit),
        }
    }
}

/// One measured path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// `plain`, `mip6`, `boringtun`, `boringtun --threads 1`.
    pub name: String,
    /// `MN->CN` or `CN->MN`.
    pub direction: String,
    /// The source's address.
    pub from: String,
    /// The sink's address.
    pub to: String,
    /// Goodput at the receiver, Gbit/s (10^9 bit/s, payload only).
    pub goodput_gbps: f64,
    /// Payload octets the sink received.
    pub bytes: u64,
    /// Wall seconds between the before and after samples (CPU, counters).
    pub window_s: f64,
    /// What [`RunResult::packets`] counts.
    pub packets_counted: String,
    /// Packets both ways over the window, if counted.
    pub packets: Option<u64>,
    /// `packets` per second of the window.
    pub packets_per_s: Option<f64>,
    /// The CPU of each process carrying the tunnel (none for `plain`).
    pub daemons: Vec<DaemonCpu>,
}

impl RunResult {
    /// Sets `packets` and its rate over the window.
    pub fn with_packets(mut self, what: &str, packets: u64) -> RunResult {
        self.packets_counted = what.to_owned();
        self.packets = Some(packets);
        self.packets_per_s = (self.window_s > 0.0).then(|| packets as f64 / self.window_s);
        self
    }

    /// CPU seconds per Gbit of all its daemons together.
    pub fn total_cpu_s_per_gbit(&self) -> Option<f64> {
        if self.daemons.is_empty() {
            return None;
        }
        self.daemons
            .iter()
            .map(|d| d.cpu_s_per_gbit)
            .sum::<Option<f64>>()
    }
}

/// mip6 against the best boringtun run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// mip6's goodput MN→CN, Gbit/s.
    pub mip6_gbps: f64,
    /// The boringtun run compared with (the faster one).
    pub boringtun_run: String,
    /// Its goodput, Gbit/s.
    pub boringtun_gbps: f64,
    /// `mip6_gbps / boringtun_gbps`.
    pub ratio: f64,
    /// [`TARGET_RATIO`].
    pub target: f64,
    /// `ratio >= target`.
    pub met: bool,
}

/// Compares the `mip6` MN→CN run with the fastest run whose name starts with
/// `boringtun` (the harder bar); `None` unless both ran and boringtun moved data.
pub fn compare(runs: &[RunResult]) -> Option<Comparison> {
    let mip6 = runs
        .iter()
        .find(|r| r.name == "mip6" && r.direction == "MN->CN")?;
    let best = runs
        .iter()
        .filter(|r| r.name.starts_with("boringtun") && r.direction == "MN->CN")
        .max_by(|a, b| a.goodput_gbps.total_cmp(&b.goodput_gbps))?;
    if best.goodput_gbps <= 0.0 {
        return None;
    }
    let ratio = mip6.goodput_gbps / best.goodput_gbps;
    Some(Comparison {
        mip6_gbps: mip6.goodput_gbps,
        boringtun_run: best.name.clone(),
        boringtun_gbps: best.goodput_gbps,
        ratio,
        target: TARGET_RATIO,
        met: ratio >= TARGET_RATIO,
    })
}

/// The whole bench.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Seconds each source wrote.
    pub secs: u64,
    /// `/proc/loadavg` before the first run.
    pub load_before: String,
    /// `/proc/loadavg` after the last run.
    pub load_after: String,
    /// CPUs online.
    pub cpus: usize,
    /// Every run, in order.
    pub runs: Vec<RunResult>,
    /// Runs not made, and why (e.g. boringtun not found).
    pub skipped: Vec<String>,
    /// mip6 against boringtun, when both ran.
    pub comparison: Option<Comparison>,
    /// Issue 14's data-path targets ([`data_path_targets`]).
    #[serde(default)]
    pub targets: Vec<Target>,
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mip6-lab bench: {} s per run, {} CPUs, load before {}, after {}",
            self.secs, self.cpus, self.load_before, self.load_after
        )?;
        writeln!(
            f,
            "{:<24} {:<7} {:>8} {:>11} {:<13} {:>7} {:>6} {:>10}",
            "run", "dir", "Gbit/s", "pkt/s", "process", "CPU s", "cores", "CPU s/Gbit"
        )?;
        for run in &self.runs {
            let first = run.daemons.first();
            writeln!(
                f,
                "{:<24} {:<7} {:>8.3} {:>11} {:<13} {:>7} {:>6} {:>10}",
                run.name,
                run.direction,
                run.goodput_gbps,
                opt(run.packets_per_s, 0),
                first.map_or("-", |d| d.name.as_str()),
                opt(first.map(|d| d.cpu_s), 2),
                opt(first.map(|d| d.cores), 2),
                opt(first.and_then(|d| d.cpu_s_per_gbit), 2),
            )?;
            for d in run.daemons.iter().skip(1) {
                writeln!(
                    f,
                    "{:<24} {:<7} {:>8} {:>11} {:<13} {:>7.2} {:>6.2} {:>10}",
                    "",
                    "",
                    "",
                    "",
                    d.name,
                    d.cpu_s,
                    d.cores,
                    opt(d.cpu_s_per_gbit, 2)
                )?;
            }
        }
        writeln!(f, "pkt/s counts both directions:")?;
        for run in &self.runs {
            writeln!(
                f,
                "  {} {}: {}",
                run.name, run.direction, run.packets_counted
            )?;
        }
        for s in &self.skipped {
            writeln!(f, "skipped: {s}")?;
        }
        match &self.comparison {
            Some(c) => writeln!(
                f,
                "mip6 / {}: {:.3} / {:.3} Gbit/s = {:.2}x; target {:.1}x: {}",
                c.boringtun_run,
                c.mip6_gbps,
                c.boringtun_gbps,
                c.ratio,
                c.target,
                if c.met { "MET" } else { "NOT MET" }
            )?,
            None => writeln!(f, "mip6 / boringtun: not compared (both must run)")?,
        }
        for t in &self.targets {
            writeln!(
                f,
                "{}: {:.2}; target {} {:.2}: {}",
                t.what,
                t.value,
                if t.at_least { ">=" } else { "<=" },
                t.target,
                if t.met() { "MET" } else { "NOT MET" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, dir: &str, gbps: f64) -> RunResult {
        RunResult {
            name: name.into(),
            direction: dir.into(),
            from: "2001:db8:2::100".into(),
            to: "2001:db8:4::1".into(),
            goodput_gbps: gbps,
            bytes: (gbps * 1e9 / 8.0 * 10.0) as u64,
            window_s: 10.0,
            packets_counted: String::new(),
            packets: None,
            packets_per_s: None,
            daemons: Vec::new(),
        }
    }

    #[test]
    fn cpu_per_gbit() {
        // 10 s at 1 Gbit/s = 10 Gbit; 5 CPU seconds → 0.5 s/Gbit, 0.5 cores.
        let d = DaemonCpu::new("ha", 5.0, 10.0, 1_250_000_000);
        assert!((d.cores - 0.5).abs() < 1e-12);
        assert!((d.cpu_s_per_gbit.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(DaemonCpu::new("ha", 5.0, 0.0, 0).cpu_s_per_gbit, None);
        assert_eq!(DaemonCpu::new("ha", 5.0, 0.0, 0).cores, 0.0);
    }

    #[test]
    fn packets_per_second() {
        let r = run("mip6", "MN->CN", 1.0).with_packets("MN frames", 500);
        assert_eq!(r.packets, Some(500));
        assert_eq!(r.packets_per_s, Some(50.0));
        assert_eq!(r.total_cpu_s_per_gbit(), None);
    }

    #[test]
    fn comparison_uses_the_faster_boringtun_and_the_forward_mip6_run() {
        let runs = vec![
            run("plain", "MN->CN", 18.0),
            run("mip6", "MN->CN", 1.9),
            run("mip6", "CN->MN", 5.0),
            run("boringtun", "MN->CN", 0.5),
            run("boringtun --threads 1", "MN->CN", 0.9),
        ];
        let c = compare(&runs).unwrap();
        assert_eq!(c.boringtun_run, "boringtun --threads 1");
        assert!((c.ratio - 1.9 / 0.9).abs() < 1e-12);
        assert!(c.met);
        let slow = vec![run("mip6", "MN->CN", 1.0), run("boringtun", "MN->CN", 0.9)];
        assert!(!compare(&slow).unwrap().met);
        assert_eq!(compare(&runs[..3]), None);
        assert_eq!(
            compare(&[run("mip6", "MN->CN", 1.0), run("boringtun", "MN->CN", 0.0)]),
            None
        );
    }

    #[test]
    fn data_path_targets_compare_udp_with_plain_raw_with_boringtun_and_pair_cpu() {
        let mut udp = run("mip6-udp", "MN->CN", 6.0);
        // 10 s at 6 Gbit/s = 60 Gbit; 12 CPU s in all → 0.2 s/Gbit.
        udp.daemons = vec![
            DaemonCpu::new("ha", 6.0, 10.0, udp.bytes),
            DaemonCpu::new("mn", 6.0, 10.0, udp.bytes),
        ];
        let runs = vec![
            run("plain", "MN->CN", 11.0),
            run("mip6", "MN->CN", 2.0),
            run("mip6", "CN->MN", 1.5),
            udp,
            run("mip6-udp", "CN->MN", 5.0),
            run("boringtun", "MN->CN", 0.5),
            run("boringtun --threads 1", "MN->CN", 0.6),
        ];
        let t = data_path_targets(&runs);
        let get = |what: &str| {
            t.iter()
                .find(|x| x.what == what)
                .unwrap_or_else(|| panic!("{what} in {t:?}"))
        };
        let up = get("mip6-udp MN->CN / plain");
        assert!((up.value - 6.0 / 11.0).abs() < 1e-12 && up.met());
        let down = get("mip6-udp CN->MN / plain");
        assert!(!down.met(), "5/11 < 0.5");
        let raw = get("mip6 MN->CN / boringtun --threads 1");
        assert!((raw.value - 2.0 / 0.6).abs() < 1e-12 && raw.met());
        assert!(
            !get("mip6 CN->MN / boringtun --threads 1").met(),
            "1.5/0.6 < 3"
        );
        let cpu = get("mip6-udp MN->CN ha+mn CPU s/Gbit");
        assert!((cpu.value - 0.2).abs() < 1e-12 && cpu.met());
        // Runs without daemons' CPU give no CPU line; missing runs give no target.
        assert!(t.iter().all(|x| x.what != "mip6 MN->CN ha+mn CPU s/Gbit"));
        assert!(data_path_targets(&runs[1..3]).is_empty());
    }

    #[test]
    fn table_lists_every_daemon_and_the_verdict() {
        let mut mip6 = run("mip6", "MN->CN", 2.0).with_packets("MN frames", 1_000_000);
        mip6.daemons = vec![
            DaemonCpu::new("ha", 9.0, 10.0, mip6.bytes),
            DaemonCpu::new("mn", 8.0, 10.0, mip6.bytes),
        ];
        let report = BenchReport {
            secs: 10,
            load_before: "1.00 1.00 1.00 1/1 1".into(),
            load_after: "2.00 1.00 1.00 1/1 1".into(),
            cpus: 2,
            runs: vec![run("plain", "MN->CN", 18.0), mip6.clone()],
            skipped: vec!["boringtun: not found".into()],
            comparison: None,
            targets: Vec::new(),
        };
        let text = report.to_string();
        assert!(text.contains("plain"), "{text}");
        assert!(text.contains(" ha "), "{text}");
        assert!(text.contains(" mn "), "{text}");
        assert!(text.contains("100000"), "{text}");
        assert!(text.contains("0.45"), "ha's 9 s over 20 Gbit: {text}");
        assert!(text.contains("skipped: boringtun: not found"), "{text}");
        assert!(text.contains("not compared"), "{text}");
        let with = BenchReport {
            comparison: compare(&[mip6, run("boringtun", "MN->CN", 0.8)]),
            ..report
        };
        assert!(
            with.to_string().contains("2.50x; target 2.0x: MET"),
            "{with}"
        );
        let total = with.runs[1].total_cpu_s_per_gbit().unwrap();
        assert!((total - 0.85).abs() < 1e-9, "{total}");
    }
}
