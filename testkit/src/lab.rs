//! The lab every simulated test plays in: its addresses (those of the namespace lab in
//! `lab/`, but for the correspondent, which is 2001:db8:4::1 there), the start of
//! simulated time, the pre-shared init secrets and SPIs, and short helpers for
//! durations and key names. Each is defined here once.
//!
//! | what | value |
//! | --- | --- |
//! | home agent [`HA`] | 2001:db8:1::1 (home link 2001:db8:1::/64) |
//! | mobile node [`HOA`], second node [`HOA2`] | 2001:db8:1::100, 2001:db8:1::200 |
//! | care-of addresses [`COA`], [`COA2`] | 2001:db8:2::100, 2001:db8:3::100 (two foreign links) |
//! | correspondent [`CN`] | 2001:db8:4::10 |
//! | [`T0`] | 2026-01-01T00:00:00Z (NTP timestamps need a real date) |
//! | init key of [`HOA`] | secret `[0x42; 32]`, SPIs MN→HA 0x1001, HA→MN 0x2001, AES-128-GCM |
//! | init key of [`HOA2`] | secret `[0x43; 32]`, SPIs 0x1002, 0x2002 |
//! | init key of node *n* of a fleet | secret `[n; 32]`, SPIs 0x1000 + *n*, 0x2000 + *n* |

use core::time::Duration;
use std::net::Ipv6Addr;

use mip6_wire::esp::Spi;
use mip6_wire::keys::{GenerationId, SpiPair};
use mip6_wire::Time;

use crate::material::KeyMaterial;

/// The home agent's address.
pub const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// The mobile node's home address.
pub const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
/// A second home address the home agent serves.
pub const HOA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x200);
/// Care-of address on the first foreign link (2001:db8:2::/64).
pub const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
/// Care-of address on the second foreign link (2001:db8:3::/64).
pub const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);
/// A correspondent (2001:db8:4::/64): the other end of the tunnelled packets.
pub const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);
/// Start of every run: 2026-01-01T00:00:00Z.
pub const T0: Time = Time::from_secs(1_767_225_600);

/// The pre-shared initialization secret of [`HOA`].
pub const INIT_SECRET: [u8; 32] = [0x42; 32];
/// The pre-shared initialization secret of [`HOA2`].
pub const INIT_SECRET2: [u8; 32] = [0x43; 32];

/// The init key (shorthand for assertions).
pub const INIT: GenerationId = GenerationId::Init;

/// Generation `n` (shorthand for assertions).
pub const fn g(n: u32) -> GenerationId {
    GenerationId::Number(n)
}

/// An SPI pair (panics on a reserved SPI, 0–255).
pub fn spi_pair(mn_to_ha: u32, ha_to_mn: u32) -> SpiPair {
    SpiPair {
        mn_to_ha: Spi::new(mn_to_ha).expect("SPI above the reserved range"),
        ha_to_mn: Spi::new(ha_to_mn).expect("SPI above the reserved range"),
    }
}

/// The init SPIs of [`HOA`]: MN→HA 0x1001, HA→MN 0x2001.
pub fn init_spis() -> SpiPair {
    spi_pair(0x1001, 0x2001)
}

/// The init SPIs of [`HOA2`]: MN→HA 0x1002, HA→MN 0x2002.
pub fn init_spis2() -> SpiPair {
    spi_pair(0x1002, 0x2002)
}

/// The init key of [`HOA`] ([`INIT_SECRET`], [`init_spis`], AES-128-GCM).
pub fn init_key() -> KeyMaterial {
    KeyMaterial::init(HOA, INIT_SECRET, init_spis())
}

/// The init key of [`HOA2`] ([`INIT_SECRET2`], [`init_spis2`], AES-128-GCM).
pub fn second_init_key() -> KeyMaterial {
    KeyMaterial::init(HOA2, INIT_SECRET2, init_spis2())
}

/// The init key of node `n` of a fleet at `home_address`: secret `[n; 32]`, SPIs
/// MN→HA 0x1000 + n and HA→MN 0x2000 + n, AES-128-GCM.
pub fn fleet_init_key(home_address: Ipv6Addr, n: u8) -> KeyMaterial {
    let n32 = u32::from(n);
    KeyMaterial::init(home_address, [n; 32], spi_pair(0x1000 + n32, 0x2000 + n32))
}

/// A duration of `s` seconds, whole (`secs(3600)`) or not (`secs(0.5)`).
pub fn secs(s: impl Into<f64>) -> Duration {
    Duration::from_secs_f64(s.into())
}

/// [`T0`] plus `ms` milliseconds.
pub fn t0_plus_ms(ms: u64) -> Time {
    T0 + Duration::from_millis(ms)
}

/// Seconds from [`T0`] to `t`, for traces (0 before T0).
pub fn since_t0(t: Time) -> f64 {
    t.saturating_since(T0).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_keys_follow_their_number_and_the_lab_keys_are_distinct() {
        let k = fleet_init_key(HOA, 1);
        assert_eq!(k.spis, init_spis());
        assert_eq!(k.secret.expose(), &[1; 32]);
        assert_ne!(init_key().spis, second_init_key().spis);
        assert_ne!(init_key().secret, second_init_key().secret);
    }

    #[test]
    fn durations_take_whole_and_fractional_seconds() {
        assert_eq!(secs(3601), Duration::from_secs(3601));
        assert_eq!(secs(0.5), Duration::from_millis(500));
        assert_eq!(t0_plus_ms(1500), T0 + secs(1.5));
        assert!((since_t0(T0 + secs(2)) - 2.0).abs() < 1e-9);
        assert_eq!(since_t0(Time::ZERO), 0.0);
    }
}
