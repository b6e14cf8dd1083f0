//! What the driver counts beside the engine's own [`mip6_mn::Counters`]: handovers, key
//! installs by kind, frames on each path, the driver's own drops, Binding Updates that
//! actually left, and per-SPI packet counts and install times for the status report.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;

use mip6_wire::Time;

/// Key installs by kind, as the status JSON's `key_events`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyEvents {
    /// Generations installed after an initialization (patent (1), (7)).
    pub initialization: u64,
    /// Generations installed after an update (patent (3), (6)).
    pub update: u64,
    /// Generations installed in answer to a Key Resending Request (patent (4), (10)).
    pub resend: u64,
}

pub use mip6_daemon::counters::Frames;

/// Why the driver itself dropped something (the engine's reasons are its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriverDrop {
    /// A received frame longer than the buffer.
    Truncated,
    /// A TUN packet while no care-of address is set (RFC 6275 §11.3.1: no tunnel).
    TunNotAway,
    /// A TUN packet not from the home address.
    TunWrongSource,
    /// A TUN packet the engine could not frame (bad IPv6, too long).
    TunBadPacket,
    /// The kernel refused or could not take a frame we sent.
    SendFailed,
    /// The TUN could not take an inner packet.
    TunWriteFailed,
    /// A read from the TUN that failed or could not be split into packets (a bad
    /// `virtio_net_hdr`, more segments than buffers): what it held is lost.
    TunReadFailed,
}

impl DriverDrop {
    /// The name used in status and metrics.
    pub fn name(self) -> &'static str {
        match self {
            DriverDrop::Truncated => "truncated",
            DriverDrop::TunNotAway => "tun_not_away",
            DriverDrop::TunWrongSource => "tun_wrong_source",
            DriverDrop::TunBadPacket => "tun_bad_packet",
            DriverDrop::SendFailed => "send_failed",
            DriverDrop::TunWriteFailed => "tun_write_failed",
            DriverDrop::TunReadFailed => "tun_read_failed",
        }
    }
}

/// The driver's counters.
#[derive(Debug, Clone)]
pub struct Stats {
    /// When the daemon started.
    pub started: Time,
    /// Care-of address changes after the first (a loss of every address in between
    /// does not count twice).
    pub handovers: u64,
    last_coa: Option<Ipv6Addr>,
    /// Key installs by kind.
    pub key_events: KeyEvents,
    /// Frames per path.
    pub frames: Frames,
    /// Binding Updates the kernel took.
    pub bu_sent: u64,
    /// The driver's drops.
    pub drops: BTreeMap<DriverDrop, u64>,
    /// When each generation was installed (for `age_s`).
    pub installed_at: HashMap<u32, Time>,
    /// When the init key last became the transmit key (start, or keys dropped).
    pub init_since: Time,
    /// Packets (in, out) per SPI.
    pub spi_packets: HashMap<u32, (u64, u64)>,
}

impl Stats {
    /// Counters of a daemon started at `now`.
    pub fn new(now: Time) -> Stats {
        Stats {
            started: now,
            handovers: 0,
            last_coa: None,
            key_events: KeyEvents::default(),
            frames: Frames::default(),
            bu_sent: 0,
            drops: BTreeMap::new(),
            installed_at: HashMap::new(),
            init_since: now,
            spi_packets: HashMap::new(),
        }
    }

    /// Notes the care-of address the engine was given.
    pub fn care_of(&mut self, coa: Option<Ipv6Addr>) {
        if let Some(c) = coa {
            if self.last_coa.is_some_and(|last| last != c) {
                self.handovers += 1;
            }
            self.last_coa = Some(c);
        }
    }

    /// Counts a driver drop.
    pub fn drop(&mut self, why: DriverDrop) {
        *self.drops.entry(why).or_default() += 1;
    }

    /// Counts a packet received under `spi`.
    pub fn spi_in(&mut self, spi: u32) {
        self.spi_packets.entry(spi).or_default().0 += 1;
    }

    /// Counts a packet sent under `spi`.
    pub fn spi_out(&mut self, spi: u32) {
        self.spi_packets.entry(spi).or_default().1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handovers_count_changes_after_the_first_address_only() {
        let mut s = Stats::new(Time::ZERO);
        let a: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:3::100".parse().unwrap();
        s.care_of(Some(a));
        assert_eq!(s.handovers, 0);
        s.care_of(None);
        s.care_of(Some(b));
        assert_eq!(s.handovers, 1);
        s.care_of(Some(b));
        assert_eq!(s.handovers, 1);
        s.care_of(Some(a));
        assert_eq!(s.handovers, 2);
    }
}
