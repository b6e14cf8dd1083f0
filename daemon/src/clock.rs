//! The wall clock the drivers hand to the engines.
//!
//! The engines take time as input ([`Time`], µs since the Unix epoch) and never read
//! a clock; the drivers read it here, once per input, and the same value goes into
//! the capture so a replay feeds the engine exactly what it saw.

use std::time::{SystemTime, UNIX_EPOCH};

use mip6_wire::Time;

/// Now, in µs since 1970-01-01 UTC. A clock set before the epoch reads as the epoch.
pub fn now() -> Time {
    let us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Time::from_micros(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2020_and_moves_forward() {
        let a = now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = now();
        // 2020-01-01 in µs.
        assert!(a.as_micros() > 1_577_836_800_000_000);
        assert!(b > a);
    }
}
