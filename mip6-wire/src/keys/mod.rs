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
