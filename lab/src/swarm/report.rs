//! The swarm's report: the table printed by `mip6-lab swarm`, or one JSON object with
//! `--json`, and the exact counts it checks against the home agent's status.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::driver::{DriverReport, PhaseResult};

/// The exact counts at the end of a run (issue 13: "bindings = N, key events init =
/// N, updates ≥ N", every node registered under the key the home agent holds as its
/// newest for it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks {
    /// Mobile nodes.
    pub expected: u64,
    /// Bindings in the home agent's cache.
    pub bindings: u64,
    /// Key initializations the home agent made.
    pub key_initializations: u64,
    /// Key updates the home agent made.
    pub key_updates: u64,
    /// Nodes whose engine is registered.
    pub registered: u64,
    /// Nodes whose newest generation (number and MN→HA SPI) is the home agent's newest
    /// for their home address.
    pub common_newest_key: u64,
}

impl Checks {
    /// Whether every count is exact.
    pub fn all_ok(&self) -> bool {
        let n = self.expected;
        self.bindings == n
            && self.key_initializations == n
            && self.key_updates >= n
            && self.registered == n
            && self.common_newest_key == n
    }
}

/// Everything one `mip6-lab swarm` run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmReport {
    /// Mobile nodes.
    pub count: u32,
    /// Most BUs outstanding at once.
    pub window: usize,
    /// Whether the home agent persisted its records.
    pub persistence: bool,
    /// The home agent's start-up: spawn to its control socket answering (its `ready`
    /// line), seconds.
    pub ha_startup_s: f64,
    /// Its resident memory once ready, KiB.
    pub ha_rss_ready_kib: u64,
    /// Its resident memory at the end, KiB.
    pub ha_rss_end_kib: u64,
    /// The phases.
    pub phases: Vec<PhaseResult>,
    /// The exact counts.
    pub checks: Checks,
    /// Creating the engines in the swarm process, seconds.
    pub swarm_setup_s: f64,
    /// Frames the swarm's engines dropped.
    pub engine_drops: u64,
    /// Frames the swarm's packet socket had no room for.
    pub socket_drops: u64,
    /// Frames the swarm's raw socket refused.
    pub send_errors: u64,
    /// The machine's 1-minute load average when the run started (`/proc/loadavg`):
    /// on a shared machine, other work takes CPU from the HA and the swarm.
    pub load_average: Option<f64>,
}

impl SwarmReport {
    /// The report of a driver run plus what the orchestrator measured.
    pub fn new(driver: &DriverReport, persistence: bool, checks: Checks) -> SwarmReport {
        SwarmReport {
            count: driver.count,
            window: driver.window,
            persistence,
            ha_startup_s: 0.0,
            ha_rss_ready_kib: 0,
            ha_rss_end_kib: 0,
            phases: driver.phases.clone(),
            checks,
            swarm_setup_s: driver.setup_secs,
            engine_drops: driver.engine_drops,
            socket_drops: driver.socket_drops,
            send_errors: driver.send_errors,
            load_average: None,
        }
    }

    /// The home agent's resident memory at the end per mobile node, octets (all of it,
    /// the daemon's own baseline included).
    pub fn ha_rss_per_node_bytes(&self) -> f64 {
        self.ha_rss_end_kib as f64 * 1024.0 / f64::from(self.count.max(1))
    }

    /// Whether every count is exact and every phase complete.
    pub fn all_ok(&self) -> bool {
        self.checks.all_ok()
            && self.phases.len() == super::driver::Phase::ALL.len()
            && self.phases.iter().all(|p| p.count == u64::from(self.count))
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

impl fmt::Display for SwarmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mip6-lab swarm: {} mobile nodes, window {}, HA persistence {}",
            self.count,
            self.window,
            if self.persistence { "on" } else { "off" }
        )?;
        writeln!(
            f,
            "HA start-up {:.2} s, RSS {} MiB when ready; swarm set-up {:.2} s; load average {}",
            self.ha_startup_s,
            mib(self.ha_rss_ready_kib),
            self.swarm_setup_s,
            self.load_average
                .map_or_else(|| "-".into(), |l| format!("{l:.2}"))
        )?;
        writeln!(
            f,
            "{:<8} {:>8} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>12} {:>11}",
            "phase",
            "count",
            "secs",
            "rate/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "retrans",
            "refused",
            "HA CPU s",
            "HA RSS MiB",
            "swarm CPU s"
        )?;
        for p in &self.phases {
            let (cpu, rss) = match &p.ha {
                Some(h) => (
                    format!("{:.2}", h.cpu_s),
                    format!("{}→{}", mib(h.rss_before_kib), mib(h.rss_after_kib)),
                ),
                None => ("-".into(), "-".into()),
            };
            writeln!(
                f,
                "{:<8} {:>8} {:>7.2} {:>9.0} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>12} {:>11.2}",
                p.phase.name(),
                p.count,
                p.secs,
                p.rate_per_s,
                opt(p.latency.p50_ms),
                opt(p.latency.p99_ms),
                opt(p.latency.max_ms),
                p.retransmissions,
                p.refusals,
                cpu,
                rss,
                p.swarm_cpu_s
            )?;
        }
        writeln!(
            f,
            "HA RSS at the end {} MiB = {:.0} octets per mobile node",
            mib(self.ha_rss_end_kib),
            self.ha_rss_per_node_bytes()
        )?;
        let c = &self.checks;
        writeln!(
            f,
            "exact counts: bindings {}/{n}, key initializations {}/{n}, key updates {} (≥ {n}), registered {}/{n}, common newest key {}/{n}: {}",
            c.bindings,
            c.key_initializations,
            c.key_updates,
            c.registered,
            c.common_newest_key,
            if self.all_ok() { "ok" } else { "FAILED" },
            n = c.expected,
        )?;
        writeln!(
            f,
            "swarm drops: engine {}, socket {}, send errors {}",
            self.engine_drops, self.socket_drops, self.send_errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::driver::Phase;
    use crate::swarm::stats::{HaUsage, Latency};

    fn report(bindings: u64) -> SwarmReport {
        let phase = |phase| PhaseResult {
            phase,
            count: 4,
            secs: 0.5,
            rate_per_s: 8.0,
            latency: Latency {
                p50_ms: Some(1.0),
                p99_ms: Some(2.0),
                max_ms: Some(3.0),
            },
            retransmissions: 0,
            refusals: 0,
            ha: Some(HaUsage {
                cpu_s: 0.1,
                rss_before_kib: 1024,
                rss_after_kib: 2048,
            }),
            swarm_cpu_s: 0.2,
        };
        let driver = DriverReport {
            count: 4,
            window: 2,
            setup_secs: 0.01,
            phases: Phase::ALL.map(phase).to_vec(),
            registered: 4,
            newest: vec![(2, 300); 4],
            engine_drops: 0,
            unmatched: 0,
            socket_drops: 0,
            send_errors: 0,
        };
        let checks = Checks {
            expected: 4,
            bindings,
            key_initializations: 4,
            key_updates: 4,
            registered: 4,
            common_newest_key: 4,
        };
        SwarmReport::new(&driver, true, checks)
    }

    #[test]
    fn exact_counts_decide_the_verdict() {
        assert!(report(4).all_ok());
        assert!(!report(3).all_ok());
        let mut r = report(4);
        r.checks.key_updates = 5;
        assert!(r.all_ok(), "more updates than nodes is allowed");
        r.phases[1].count = 3;
        assert!(!r.all_ok(), "an incomplete phase fails");
        r.phases.pop();
        r.phases[1].count = 4;
        assert!(!r.all_ok(), "a missing phase fails");
    }

    #[test]
    fn the_table_names_every_phase_and_the_verdict() {
        let text = report(4).to_string();
        for word in ["init", "update", "refresh", "p99 ms", "HA RSS MiB", ": ok"] {
            assert!(text.contains(word), "{word:?} in\n{text}");
        }
        assert!(report(3).to_string().contains("FAILED"));
        let json = serde_json::to_value(report(4)).unwrap();
        assert_eq!(json["phases"][0]["phase"], "init");
        assert_eq!(json["checks"]["bindings"], 4);
    }
}
