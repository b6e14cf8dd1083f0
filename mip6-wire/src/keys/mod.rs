//! Key material for the ESP SAs between a home agent and one mobile node.
//!
//! - [`schedule`]: the HKDF-SHA-256 key schedule of docs/architecture.md (RFC 5869), secret →
//!   per-direction AES-GCM key ‖ salt.
//! - [`table`]: the key table of one peer with the init, anterior (N−1) and newest (N)
//!   slots of the key-distribution scheme (patent FIG. 1), which key transmits for each
//!   role, and SPI lookup among the accepted keys. The mobile node engine holds one;
//!   the home agent role serves the test kit's scripted home agent (the HA engine keeps
//!   its own compact slots).
//!
//! What is *not* here: when to generate, distribute or resend a generation — those
//! protocol decisions belong to the HA and MN engines.

pub mod schedule;
pub mod table;

pub use schedule::{derive_sa_key, Direction, KeySchedule, KDF_SALT};
pub use table::{Dropped, Generation, GenerationId, KeyTable, KeyTableError, Role, Slot, SpiPair};

use crate::Time;

/// What a Key Distribution did (patent FIG. 1), as both ends report it: the home agent
/// when it sends one, the mobile node when it installs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistributionKind {
    /// Generation 1 after the init key: dynamic keys (re)started (patent (1), (2),
    /// (5), (7), (8), (11)).
    Initialization,
    /// Generation N+1 drawn and installed (patent (3), (6), (9)).
    Update,
    /// The newest generation sent again after its distribution was lost, not
    /// regenerated (patent (4), (10)).
    Resend,
}

impl DistributionKind {
    /// Every kind, in the order status reports list them.
    pub const ALL: [DistributionKind; 3] = [
        DistributionKind::Initialization,
        DistributionKind::Update,
        DistributionKind::Resend,
    ];

    /// The kind's name in logs, status and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            DistributionKind::Initialization => "initialization",
            DistributionKind::Update => "update",
            DistributionKind::Resend => "resend",
        }
    }
}

impl core::fmt::Display for DistributionKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// One filled key slot as an engine reports it (status, tests): which key, its SPIs
/// and when this end installed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationView {
    /// The slot it fills.
    pub slot: Slot,
    /// The init key or a generation number.
    pub id: GenerationId,
    /// Its two SPIs.
    pub spis: SpiPair,
    /// When this end installed it: for the init key, when the engine started or last
    /// fell back to it.
    pub installed_at: Time,
    /// Frames this end opened and sealed under it since it was installed (the init
    /// key: since the engine started).
    pub packets: SlotPackets,
}

/// Frames one key slot opened and sealed, counted by the engine that holds the slot
/// (status: `packets_in`, `packets_out`). The counts belong to the key, not to its
/// place: they move with it from newest to anterior and are gone when it is dropped,
/// so a rotated-out generation leaves nothing behind.
///
/// Each count is a saturating `u32`: a slot's SAs can never do more than 2^32 − 1 of
/// either. The outbound counter refuses to seal past 2^32 − 1 and never wraps, and
/// without extended sequence numbers the anti-replay window accepts each inbound
/// number 1..=2^32 − 1 at most once (docs/architecture.md, "Crypto rules"); the
/// saturation only guards against a slot restored with a raised floor or mark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SlotPackets {
    /// Frames that authenticated under the slot's inbound SA (ICV and anti-replay
    /// check passed), whatever the engine did with them next (a signalling frame it
    /// refused, a tunnelled packet from the wrong care-of address are counted too).
    pub opened: u32,
    /// Frames sealed under the slot's outbound SA (sequence numbers used): signalling
    /// and tunnelled data, counted when sealed, before the driver sends them — one
    /// the kernel then refuses is still counted here (the driver counts it again as
    /// a `send_failed` drop), and one sealed before a failed store write, which the
    /// driver does not send, too.
    pub sealed: u32,
}

impl SlotPackets {
    /// Counts one frame opened.
    pub fn count_opened(&mut self) {
        self.opened = self.opened.saturating_add(1);
    }

    /// Counts `n` frames sealed.
    pub fn count_sealed(&mut self, n: u64) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.sealed = self.sealed.saturating_add(n);
    }
}

/// How a mobile node asks for keys (docs/architecture.md "Request modes"; patent (1)–(6) and
/// (7)–(11)). Both ends must be configured alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RequestMode {
    /// The BU carries a key-management option: Key Initialization, Update or
    /// Resending Request.
    #[default]
    Explicit,
    /// No option: the home agent reads the request from the SPI that sealed the BU
    /// (init SPI: initialize; anterior SPI: resend; newest SPI: normal).
    Implicit,
}

#[cfg(test)]
mod tests {
    use super::SlotPackets;

    #[test]
    fn slot_packets_count_and_saturate() {
        let mut p = SlotPackets::default();
        p.count_opened();
        p.count_sealed(2);
        p.count_sealed(0);
        assert_eq!(
            p,
            SlotPackets {
                opened: 1,
                sealed: 2
            }
        );
        p.count_sealed(u64::from(u32::MAX) + 7);
        p.opened = u32::MAX;
        p.count_opened();
        assert_eq!((p.opened, p.sealed), (u32::MAX, u32::MAX), "no wrap to 0");
    }
}
