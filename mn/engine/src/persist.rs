//! The state a mobile node persists ([`Event::Persist`](crate::Event::Persist)) and
//! takes back at restart ([`MobileNode::new`](crate::MobileNode::new)).
//!
//! **Nonce safety** (docs/architecture.md invariant 2). Outbound ESP sequence numbers are reserved
//! in blocks: each outbound SA has a *mark*, the first sequence number not covered by
//! the last persisted record. Before an SA seals a number at or above its mark, the
//! engine raises the mark by `sequence_block` and emits a `Persist` event; the driver
//! writes it before it sends anything (see the crate docs). A restarted engine resumes
//! each restored SA at its mark, so no (key, sequence number) is sealed twice. The init
//! SA's mark is restored even with [`RestorePolicy::Reinitialize`](crate::RestorePolicy),
//! since the init key survives every restart.
//!
//! The Binding Update sequence number is reserved the same way, in blocks of
//! [`BU_SEQUENCE_BLOCK`](crate::config::BU_SEQUENCE_BLOCK): reusing one is harmless
//! (the home agent answers 135 and the node resynchronizes, RFC 6275 §11.7.3) but costs
//! a round trip.

use mip6_wire::esp::Suite;
use mip6_wire::keys::SpiPair;
use mip6_wire::mh::SequenceNumber;
use mip6_wire::Secret32;

/// One dynamic generation as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRecord {
    /// Generation number (HA-assigned).
    pub generation: u32,
    /// Its secret.
    pub secret: Secret32,
    /// Its SPIs.
    pub spis: SpiPair,
    /// Its suite.
    pub suite: Suite,
    /// Outbound (MN→HA) sequence mark: a restart resumes here.
    pub outbound_mark: u64,
}

/// The plain-data state of a mobile node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnRecord {
    /// Outbound sequence mark of the init SA.
    pub init_outbound_mark: u64,
    /// The newest generation (N), if any.
    pub newest: Option<GenerationRecord>,
    /// The anterior generation (N−1), if any.
    pub anterior: Option<GenerationRecord>,
    /// Binding Update sequence mark: a restart sends its first BU with this number.
    pub bu_sequence_mark: SequenceNumber,
}
