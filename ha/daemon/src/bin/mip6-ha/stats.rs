//! What the daemon counts beside the engine: frames by path, key events by kind, the
//! driver's own drops, packets per SA, and when each key generation appeared (the
//! engine's public API gives neither ages nor SPIs of generations, so the driver keeps
//! them from the `Persist` records it stores; daemon contract "Status JSON").

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;

use mip6_ha::persist::{GenerationRecord, MnRecord};
use mip6_ha::{DistributionKind, HaConfig};
use mip6_wire::keys::SpiPair;
use mip6_wire::Time;

pub use mip6_daemon::counters::Frames;

/// Why the driver (not the engine) dropped something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriverDrop {
    /// A received frame longer than the buffer.
    Truncated,
    /// A packet from the TUN toward an address that is no home address of ours.
    TunUnknownHomeAddress,
    /// A packet from the TUN toward a home address without a binding.
    TunNotBound,
    /// A multicast packet from the TUN (the kernel's MLD and router solicitations).
    TunMulticast,
    /// A packet from the TUN too short or too long to tunnel, or that failed to seal.
    TunSealFailed,
    /// The kernel refused a frame we sent.
    SendFailed,
    /// The TUN refused a packet we wrote.
    TunWriteFailed,
    /// A read from the TUN that failed or could not be split into packets (a bad
    /// `virtio_net_hdr`, more segments than buffers): what it held is lost.
    TunReadFailed,
    /// A route or proxy entry could not be installed.
    RouteFailed,
}

impl DriverDrop {
    /// The name in the status JSON and the metrics label.
    pub fn name(self) -> &'static str {
        match self {
            DriverDrop::Truncated => "truncated",
            DriverDrop::TunUnknownHomeAddress => "tun_unknown_home_address",
            DriverDrop::TunNotBound => "tun_not_bound",
            DriverDrop::TunMulticast => "tun_multicast",
            DriverDrop::TunSealFailed => "tun_seal_failed",
            DriverDrop::SendFailed => "send_failed",
            DriverDrop::TunWriteFailed => "tun_write_failed",
            DriverDrop::TunReadFailed => "tun_read_failed",
            DriverDrop::RouteFailed => "route_failed",
        }
    }
}

/// One generation as the driver knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationInfo {
    /// Generation number (0 for the init key).
    pub generation: u32,
    /// Its SPIs.
    pub spis: SpiPair,
    /// When the driver first saw it.
    pub since: Time,
}

/// The generations of one mobile node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnKeys {
    /// The init key.
    pub init: GenerationInfo,
    /// Generation N−1.
    pub anterior: Option<GenerationInfo>,
    /// Generation N.
    pub newest: Option<GenerationInfo>,
}

/// Packets in and out under one SPI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaPackets {
    /// Frames opened under it (MN→HA SPIs).
    pub inbound: u64,
    /// Frames sealed under it (HA→MN SPIs).
    pub outbound: u64,
}

/// The driver's counters and key ledger.
#[derive(Debug)]
pub struct Stats {
    /// When the daemon started.
    pub started: Time,
    /// Frames by path.
    pub frames: Frames,
    /// Key events: initialization, update, resend.
    pub key_events: [u64; 3],
    /// The driver's drops by reason.
    pub drops: BTreeMap<DriverDrop, u64>,
    /// Per mobile node, in configuration order.
    pub keys: Vec<(Ipv6Addr, MnKeys)>,
    index: HashMap<Ipv6Addr, usize>,
    /// Packets per SPI.
    pub sa_packets: HashMap<u32, SaPackets>,
}

/// Index of a key event kind in [`Stats::key_events`].
pub fn key_event_index(kind: DistributionKind) -> usize {
    match kind {
        DistributionKind::Initialization => 0,
        DistributionKind::Update => 1,
        DistributionKind::Resend => 2,
    }
}

/// The key event kinds in [`Stats::key_events`] order, with their names.
pub const KEY_EVENT_NAMES: [&str; 3] = ["initialization", "update", "resend"];

impl Stats {
    /// Counters at zero and the init keys of `config`, started at `now`.
    pub fn new(config: &HaConfig, now: Time) -> Self {
        let keys: Vec<_> = config
            .mobile_nodes
            .iter()
            .map(|mn| {
                let init = GenerationInfo {
                    generation: 0,
                    spis: mn.init_spis,
                    since: now,
                };
                (
                    mn.home_address,
                    MnKeys {
                        init,
                        anterior: None,
                        newest: None,
                    },
                )
            })
            .collect();
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, (hoa, _))| (*hoa, i))
            .collect();
        Stats {
            started: now,
            frames: Frames::default(),
            key_events: [0; 3],
            drops: BTreeMap::new(),
            keys,
            index,
            sa_packets: HashMap::new(),
        }
    }

    /// Counts a driver drop.
    pub fn drop(&mut self, reason: DriverDrop) {
        *self.drops.entry(reason).or_default() += 1;
    }

    /// Counts a key event.
    pub fn key_event(&mut self, kind: DistributionKind) {
        self.key_events[key_event_index(kind)] += 1;
    }

    /// Counts a frame opened under `spi`.
    pub fn opened(&mut self, spi: u32) {
        self.sa_packets.entry(spi).or_default().inbound += 1;
    }

    /// Counts a frame sealed under `spi`.
    pub fn sealed(&mut self, spi: u32) {
        self.sa_packets.entry(spi).or_default().outbound += 1;
    }

    /// Takes the generations of a stored record; a generation already known keeps
    /// its first-seen time (N becomes N−1 without ageing anew).
    pub fn note_record(&mut self, record: &MnRecord, now: Time) {
        let Some(&i) = self.index.get(&record.home_address) else {
            return;
        };
        let keys = &mut self.keys[i].1;
        let known = [keys.anterior, keys.newest];
        let info = |g: &Option<GenerationRecord>| {
            g.as_ref().map(|g| {
                let since = known
                    .iter()
                    .flatten()
                    .find(|k| k.generation == g.generation && k.spis == g.spis)
                    .map_or(now, |k| k.since);
                GenerationInfo {
                    generation: g.generation,
                    spis: g.spis,
                    since,
                }
            })
        };
        keys.newest = info(&record.newest);
        keys.anterior = info(&record.anterior);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_ha::MnConfig;
    use mip6_wire::esp::{Spi, Suite};
    use mip6_wire::Secret32;

    fn spis(a: u32, b: u32) -> SpiPair {
        SpiPair {
            mn_to_ha: Spi::new(a).unwrap(),
            ha_to_mn: Spi::new(b).unwrap(),
        }
    }

    fn generation(n: u32, a: u32) -> GenerationRecord {
        GenerationRecord {
            generation: n,
            secret: Secret32::new([7; 32]),
            spis: spis(a, a + 1),
            suite: Suite::Aes128Gcm,
            outbound_mark: 0,
            inbound_top: 0,
        }
    }

    #[test]
    fn a_generation_keeps_its_age_when_it_becomes_anterior() {
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let config = HaConfig::new(
            "2001:db8:1::1".parse().unwrap(),
            vec![MnConfig {
                home_address: hoa,
                init_secret: Secret32::new([1; 32]),
                init_spis: spis(0x1001, 0x1002),
                init_suite: Suite::Aes128Gcm,
            }],
        );
        let mut stats = Stats::new(&config, Time::from_secs(100));
        let mut record = MnRecord::empty(hoa);
        record.newest = Some(generation(1, 0x2000));
        stats.note_record(&record, Time::from_secs(110));
        record.anterior = record.newest.take();
        record.newest = Some(generation(2, 0x3000));
        stats.note_record(&record, Time::from_secs(120));
        let keys = &stats.keys[0].1;
        assert_eq!(keys.init.since, Time::from_secs(100));
        assert_eq!(keys.anterior.unwrap().since, Time::from_secs(110));
        assert_eq!(keys.anterior.unwrap().generation, 1);
        assert_eq!(keys.newest.unwrap().since, Time::from_secs(120));
        // A record for an unknown home address changes nothing.
        stats.note_record(
            &MnRecord::empty("2001:db8:1::200".parse().unwrap()),
            Time::from_secs(130),
        );
        assert_eq!(stats.keys.len(), 1);
    }
}
