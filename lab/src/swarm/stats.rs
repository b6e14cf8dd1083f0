//! What a swarm phase measured: latencies summarised into percentiles, and the home
//! agent's CPU time (`/proc/<pid>/stat`, utime + stime of all threads) and resident
//! memory (`/proc/<pid>/status`, `VmRSS`) sampled around it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bench::cpu;

/// p50, p99 and max of a set of latencies, milliseconds (`None` without samples).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Largest.
    pub max_ms: Option<f64>,
}

impl Latency {
    /// The summary of `samples` (sorted here). Percentiles are nearest-rank: the
    /// smallest sample with at least p % of the samples at or below it.
    pub fn of(samples: &mut [Duration]) -> Latency {
        samples.sort_unstable();
        let ms = |d: &Duration| d.as_secs_f64() * 1e3;
        let rank = |p: usize| {
            let len = samples.len();
            // ceil(p/100 · len), 1-based; at least 1.
            let r = (p * len).div_ceil(100).max(1);
            samples.get(r - 1).map(ms)
        };
        Latency {
            p50_ms: rank(50),
            p99_ms: rank(99),
            max_ms: samples.last().map(ms),
        }
    }
}

/// One sample of a process: CPU ticks and resident memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcSample {
    /// utime + stime.
    pub cpu: cpu::CpuTicks,
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
}

/// `VmRSS` of a `/proc/<pid>/status` text, KiB.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// Samples process `pid`; `None` if it is gone or unreadable.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let cpu = cpu::read(pid).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu,
        rss_kib: parse_vm_rss(&status)?,
    })
}

/// The home agent over one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HaUsage {
    /// CPU seconds it spent during the phase.
    pub cpu_s: f64,
    /// Its resident memory before the phase, KiB.
    pub rss_before_kib: u64,
    /// Its resident memory after the phase, KiB.
    pub rss_after_kib: u64,
}

impl HaUsage {
    /// From two samples, `ticks_per_sec` clock ticks a second.
    pub fn between(before: ProcSample, after: ProcSample, ticks_per_sec: u64) -> HaUsage {
        HaUsage {
            cpu_s: after.cpu.secs_since(before.cpu, ticks_per_sec),
            rss_before_kib: before.rss_kib,
            rss_after_kib: after.rss_kib,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut one_to_hundred = ms(&(1..=100).rev().collect::<Vec<_>>());
        let l = Latency::of(&mut one_to_hundred);
        assert_eq!(
            (l.p50_ms, l.p99_ms, l.max_ms),
            (Some(50.0), Some(99.0), Some(100.0))
        );
        let l = Latency::of(&mut ms(&[7]));
        assert_eq!(
            (l.p50_ms, l.p99_ms, l.max_ms),
            (Some(7.0), Some(7.0), Some(7.0))
        );
        let l = Latency::of(&mut ms(&[1, 2, 3]));
        assert_eq!((l.p50_ms, l.p99_ms), (Some(2.0), Some(3.0)));
        assert_eq!(Latency::of(&mut []), Latency::default());
    }

    #[test]
    fn vm_rss_is_read_from_the_status_text() {
        let text = "Name:\tmip6-ha\nVmPeak:\t  99 kB\nVmRSS:\t   12345 kB\nThreads:\t2\n";
        assert_eq!(parse_vm_rss(text), Some(12345));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        let me = sample(std::process::id()).expect("this process");
        assert!(me.rss_kib > 0);
    }
}
