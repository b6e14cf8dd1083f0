//! Persistence records: the plain data the driver stores for each mobile node so a
//! restarted home agent resumes its bindings and keys without ever sealing the same
//! (key, sequence number) twice (docs/architecture.md invariant 2) or accepting a replayed BU
//! (invariant 4).
//!
//! The engine emits [`crate::Event::Persist`] with a whole [`MnRecord`] whenever a
//! persisted field changes; the driver overwrites the MN's previous record. Outbound
//! sequence numbers are reserved in blocks: a record's `outbound_mark` is the first
//! sequence number *not* yet reserved, and a restored SA resumes there.
//!
//! The inbound replay tops are floors on restore: a frame under that SA with a
//! sequence number at or below the top is dropped as a replay (the anti-replay bitmap
//! itself is not persisted). The init SA's top is persisted on every frame it opens;
//! a generation's top with every BU the home agent answers, accepted or refused — data
//! frames under a generation replayed across a restart are not key- or binding-moving.

use std::net::Ipv6Addr;

use mip6_wire::esp::Suite;
use mip6_wire::keys::SpiPair;
use mip6_wire::Secret32;

use crate::binding::BindingView;

/// One key generation as persisted (docs/architecture.md "Key schedule": the secret, SPIs and
/// suite re-derive both SAs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRecord {
    /// Generation number.
    pub generation: u32,
    /// The generation secret (the driver must store it as a secret).
    pub secret: Secret32,
    /// Both SPIs.
    pub spis: SpiPair,
    /// Cipher suite.
    pub suite: Suite,
    /// The HA→MN SA resumes at this sequence number.
    pub outbound_mark: u64,
    /// Highest MN→HA sequence number seen when the record was made.
    pub inbound_top: u32,
}

/// Everything the home agent persists about one mobile node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnRecord {
    /// The mobile node's home address (its key in the store).
    pub home_address: Ipv6Addr,
    /// The binding cache entry, if registered.
    pub binding: Option<BindingView>,
    /// The newest generation N.
    pub newest: Option<GenerationRecord>,
    /// The anterior generation N−1.
    pub anterior: Option<GenerationRecord>,
    /// Whether the MN has proven it holds N (a frame opened under N).
    pub newest_confirmed: bool,
    /// The init HA→MN SA resumes at this sequence number.
    pub init_outbound_mark: u64,
    /// Highest init MN→HA sequence number accepted (implicit-mode replay protection).
    pub init_inbound_top: u32,
    /// Last accepted Key Initialization timestamp (64-bit NTP, RFC 4285 rule).
    pub last_init_timestamp: Option<u64>,
}

impl MnRecord {
    /// A record with nothing but the home address.
    pub fn empty(home_address: Ipv6Addr) -> Self {
        MnRecord {
            home_address,
            binding: None,
            newest: None,
            anterior: None,
            newest_confirmed: false,
            init_outbound_mark: 0,
            init_inbound_top: 0,
            last_init_timestamp: None,
        }
    }

    /// What even a "stateless" home agent keeps: the init SA's outbound mark and
    /// inbound top and the last init timestamp, so it never reuses a nonce under the
    /// init key nor accepts a replayed initialization. Bindings and generations are
    /// forgotten: each MN must re-initialize (patent (5), (11)).
    pub fn durable_minimum(&self) -> MnRecord {
        MnRecord {
            init_outbound_mark: self.init_outbound_mark,
            init_inbound_top: self.init_inbound_top,
            last_init_timestamp: self.last_init_timestamp,
            ..MnRecord::empty(self.home_address)
        }
    }
}
