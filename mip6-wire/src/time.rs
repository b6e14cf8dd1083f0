//! Time as the sans-IO engines see it: a point given to them by their driver (or by a
//! simulation), never read from a clock here.
//!
//! [`Time`] counts microseconds since the Unix epoch, so the same value serves the
//! engines' timers (RFC 6275 §11.8 retransmission, binding lifetimes) and the 64-bit
//! NTP timestamps of Key Initialization Requests (RFC 4285 §6, Message-ID; RFC 5905
//! §6 for the format). A driver passes wall-clock time; a simulation passes any
//! monotonic count. Timers assume the value does not go backwards.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// Seconds from the NTP era 0 epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// A point in time, in microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

impl Time {
    /// The Unix epoch.
    pub const ZERO: Time = Time(0);

    /// A time `micros` microseconds after the Unix epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Time(micros)
    }

    /// A time `secs` seconds after the Unix epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Time(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// The time elapsed since `earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// This time as a 64-bit NTP timestamp: seconds since 1900 in the high 32 bits,
    /// the binary fraction of a second in the low 32 (RFC 5905 §6).
    pub const fn to_ntp(self) -> u64 {
        let secs = self.0 / 1_000_000 + NTP_UNIX_OFFSET_SECS;
        let micros = self.0 % 1_000_000;
        let fraction = (micros << 32) / 1_000_000;
        (secs << 32) | fraction
    }

    /// The time a 64-bit NTP timestamp names (era 0; before the Unix epoch gives
    /// [`Time::ZERO`]).
    pub const fn from_ntp(ntp: u64) -> Self {
        let secs = (ntp >> 32).saturating_sub(NTP_UNIX_OFFSET_SECS);
        let micros = ((ntp & 0xFFFF_FFFF) * 1_000_000) >> 32;
        Time(secs * 1_000_000 + micros)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Time(self.0.saturating_add(micros))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Time(self.0.saturating_sub(micros))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_round_trip_and_known_value() {
        // 2026-01-01T00:00:00Z = Unix 1767225600 → NTP seconds 3976214400.
        let t = Time::from_secs(1_767_225_600);
        assert_eq!(t.to_ntp() >> 32, 3_976_214_400);
        assert_eq!(t.to_ntp() & 0xFFFF_FFFF, 0);
        let half = Time::from_micros(1_767_225_600_500_000);
        assert_eq!(half.to_ntp() & 0xFFFF_FFFF, 0x8000_0000);
        assert_eq!(Time::from_ntp(half.to_ntp()), half);
        assert_eq!(Time::from_ntp(0), Time::ZERO);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_secs(10);
        assert_eq!(
            t + Duration::from_millis(1500),
            Time::from_micros(11_500_000)
        );
        assert_eq!(t - Duration::from_secs(20), Time::ZERO);
        assert_eq!(Time::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(t.saturating_since(Time::ZERO), Duration::from_secs(10));
    }
}
