//! On-CPU time of the calling thread, for the engine benches: the machine their
//! figures are taken on is shared, and wall-clock time there counts other jobs'
//! slices. The benches hand these times to criterion through `iter_custom`.
//!
//! The kernel brings the figure (`/proc/thread-self/schedstat`, Linux) up to date at
//! scheduler ticks and switches, so only spans of many milliseconds are exact; where
//! it cannot be read, wall-clock time since the thread's first reading stands in.

use core::time::Duration;
use std::time::Instant;

thread_local! {
    static WALL: Instant = Instant::now();
}

/// The calling thread's on-CPU time so far (wall-clock time if unreadable).
pub fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| WALL.with(|w| w.elapsed()), Duration::from_nanos)
}

/// Runs `f` `iters` times; returns the on-CPU time it took.
pub fn cpu_iters(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = cpu_time();
    for _ in 0..iters {
        f();
    }
    cpu_time() - start
}

/// Runs `f(k)` on batches of `k` ≤ `batch` until `iters` in all; returns the on-CPU
/// time it took.
pub fn cpu_iters_batched(iters: u64, batch: usize, mut f: impl FnMut(usize)) -> Duration {
    let start = cpu_time();
    let mut left = iters;
    while left > 0 {
        let k = left.min(batch as u64);
        f(k as usize);
        left -= k;
    }
    cpu_time() - start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_add_up_to_the_iterations() {
        let mut seen = Vec::new();
        cpu_iters_batched(37, 16, |k| seen.push(k));
        assert_eq!(seen, [16, 16, 5]);
        let mut n = 0;
        cpu_iters(5, || n += 1);
        assert_eq!(n, 5);
    }
}
