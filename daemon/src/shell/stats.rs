//! What the shell counts beside the engine's own counters: frames on each path, its
//! own drops by name, key distributions by kind, and signalling frames the kernel
//! took. Packets per key slot are the engines' (`GenerationView::packets`): counted
//! where the slot lives, they go with it when it is rotated out, where a map here
//! keyed by SPI kept an entry for every SPI ever used (issue 13).

use std::collections::BTreeMap;

use mip6_wire::keys::DistributionKind;
use mip6_wire::Time;

pub use crate::counters::Frames;

/// The shell's counters (status and metrics).
#[derive(Debug, Clone)]
pub struct ShellStats {
    /// When the daemon started.
    pub started: Time,
    /// Frames by path.
    pub frames: Frames,
    /// The shell's and the role's own drops, by name (`truncated`, `send_failed`, …).
    pub drops: BTreeMap<&'static str, u64>,
    /// Key distributions by kind, in [`DistributionKind::ALL`] order.
    pub distributions: [u64; 3],
    /// Signalling frames (BUs or BAs) the kernel took.
    pub signalling_sent: u64,
    /// Writes of persistence records, by kind.
    pub store: StoreWrites,
}

/// Writes of persistence records to the store (status `store_writes`, metric
/// `mip6_<role>_store_writes_total{kind}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreWrites {
    /// Batches stored durably before the round's frames were sent.
    pub before_sending: u64,
    /// Batches of lagging records handed to the store's own thread (or, with a
    /// backend without one, stored in the call) while the frames went on.
    pub behind: u64,
    /// Lagging records not durable yet: queued, or in the write in flight (status
    /// only: a gauge).
    pub pending: u64,
}

impl StoreWrites {
    /// `(kind, count)`, in a fixed order.
    pub fn by_kind(&self) -> [(&'static str, u64); 2] {
        [
            ("before_sending", self.before_sending),
            ("behind", self.behind),
        ]
    }
}

impl ShellStats {
    /// Counters at zero for a daemon started at `now`.
    pub fn new(now: Time) -> Self {
        ShellStats {
            started: now,
            frames: Frames::default(),
            drops: BTreeMap::new(),
            distributions: [0; 3],
            signalling_sent: 0,
            store: StoreWrites::default(),
        }
    }

    /// Counts a drop by name.
    pub fn drop(&mut self, name: &'static str) {
        *self.drops.entry(name).or_default() += 1;
    }

    /// Counts `n` drops by name (drops counted elsewhere, such as by the kernel).
    pub fn drops(&mut self, name: &'static str, n: u64) {
        if n > 0 {
            *self.drops.entry(name).or_default() += n;
        }
    }

    /// Counts a key distribution.
    pub fn distribution(&mut self, kind: DistributionKind) {
        let index = DistributionKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(0);
        self.distributions[index] += 1;
    }

    /// Key distributions by kind, with their names.
    pub fn distributions(&self) -> impl Iterator<Item = (DistributionKind, u64)> + '_ {
        DistributionKind::ALL.into_iter().zip(self.distributions)
    }
}

/// Names of the drops the shell itself counts.
pub mod drop_names {
    /// A received frame longer than the receive buffer.
    pub const TRUNCATED: &str = "truncated";
    /// The kernel refused or could not take a frame we sent.
    pub const SEND_FAILED: &str = "send_failed";
    /// The TUN could not take an inner packet.
    pub const TUN_WRITE_FAILED: &str = "tun_write_failed";
    /// A read from the TUN that failed or could not be split into packets (a bad
    /// `virtio_net_hdr`, more segments than buffers): what it held is lost.
    pub const TUN_READ_FAILED: &str = "tun_read_failed";
    /// Frames a packet socket's filter passed that the kernel dropped because the
    /// socket's receive buffer was full (`PACKET_STATISTICS` `tp_drops`): the daemon
    /// never saw them.
    pub const PACKET_SOCKET_RCVBUF_FULL: &str = "packet_socket_rcvbuf_full";
    /// The kernel dropped packets for the raw ESP socket: its receive buffer was
    /// full (`SO_RXQ_OVFL`).
    pub const RAW_ESP_RCVBUF_FULL: &str = "raw_esp_rcvbuf_full";
    /// The kernel dropped datagrams for the ESP-in-UDP socket: its receive buffer was
    /// full (`SO_RXQ_OVFL`).
    pub const UDP_RCVBUF_FULL: &str = "udp_rcvbuf_full";
    /// A NAT keepalive (RFC 3948 §2.3): nothing to open.
    pub const UDP_KEEPALIVE: &str = "udp_keepalive";
    /// A UDP payload starting with the non-ESP marker of IKE (RFC 3948 §2.2): this
    /// stack keys ESP without IKE.
    pub const UDP_NON_ESP: &str = "udp_non_esp";
    /// An ESP-in-UDP frame whose UDP header is wrong (length, zero or bad checksum).
    pub const UDP_MALFORMED: &str = "udp_malformed";
    /// A datagram the UDP socket received without its local destination
    /// (`IPV6_PKTINFO`): the frame cannot be rebuilt.
    pub const UDP_NO_DESTINATION: &str = "udp_no_destination";
    /// A frame for a peer reached in UDP that could not be encapsulated.
    pub const UDP_ENCAP_FAILED: &str = "udp_encap_failed";
    /// ESP in UDP on port 4500 to a daemon with `encapsulation = "esp"`: the peer is
    /// configured for UDP and this daemon is not (the minute's drop summary names it).
    pub const UDP_NOT_ENABLED: &str = "udp_not_enabled";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_and_name() {
        let mut s = ShellStats::new(Time::from_secs(5));
        s.distribution(DistributionKind::Resend);
        s.distribution(DistributionKind::Update);
        s.distribution(DistributionKind::Update);
        let kinds: Vec<_> = s.distributions().collect();
        assert_eq!(
            kinds,
            [
                (DistributionKind::Initialization, 0),
                (DistributionKind::Update, 2),
                (DistributionKind::Resend, 1)
            ]
        );
        s.drop(drop_names::TRUNCATED);
        s.drop(drop_names::TRUNCATED);
        assert_eq!(s.drops[drop_names::TRUNCATED], 2);
        s.drops(drop_names::PACKET_SOCKET_RCVBUF_FULL, 0);
        assert!(!s.drops.contains_key(drop_names::PACKET_SOCKET_RCVBUF_FULL));
        s.drops(drop_names::PACKET_SOCKET_RCVBUF_FULL, 40);
        s.drops(drop_names::PACKET_SOCKET_RCVBUF_FULL, 2);
        assert_eq!(s.drops[drop_names::PACKET_SOCKET_RCVBUF_FULL], 42);
    }
}
