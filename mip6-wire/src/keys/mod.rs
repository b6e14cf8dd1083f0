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
