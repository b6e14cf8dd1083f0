//! Key material for the ESP SAs between a home agent and one mobile node.
//!
//! - [`schedule`]: the HKDF-SHA-256 key schedule of DESIGN.md (RFC 5869), secret →
//!   per-direction AES-GCM key ‖ salt.
//! - [`sa`]: the key table of one peer with the init, anterior (N−1) and newest (N)
//!   slots of the key-distribution scheme (patent FIG. 1), which key transmits for each
//!   role, and SPI lookup among the accepted keys.
//!
//! What is *not* here: when to generate, distribute or resend a generation — those
//! protocol decisions belong to the HA and MN engines.

pub mod sa;
pub mod schedule;

pub use sa::{Dropped, Generation, GenerationId, KeyTable, KeyTableError, Role, Slot, SpiPair};
pub use schedule::{derive_sa_key, Direction, KeySchedule, KDF_SALT};

/// How a mobile node asks for keys (DESIGN.md "Two request modes"; patent (1)–(6) and
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
