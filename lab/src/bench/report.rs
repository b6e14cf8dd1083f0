//! The bench's results: one [`RunResult`] per measured path, the comparison of mip6
//! with boringtun against issue 4's target, and the printed table.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Issue 4's target: mip6's goodput at least this many times boringtun's.
pub const TARGET_RATIO: f64 = 2.0;

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
            ),
            None => writeln!(f, "mip6 / boringtun: not compared (both must run)"),
        }
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
