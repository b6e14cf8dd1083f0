//! What the home agent noticed per mobile node that points at a misconfiguration,
//! for its driver to tell an operator (issue 11, item 6): frames under the node's
//! SAs that failed their ICV (under the init SA: a wrong init secret, SPI pair or
//! suite on one side is the likely cause) and Binding Updates refused with a BA
//! (RFC 6275 §10.3.1). The engine only counts; the driver takes the counts with
//! [`HomeAgent::take_notices`](crate::HomeAgent::take_notices), rate-limits and logs
//! them. A frame that fails its ICV still teaches the engine nothing: it is dropped
//! as before ([`crate::DropReason::BadIcv`]).
//!
//! Bounded: one entry per configured home address at most (frames under unknown SPIs
//! name no node), emptied by every take.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use crate::refusal::Refusal;

/// What happened to one mobile node's frames since the last take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MnNotices {
    /// Frames under the node's init SA (MN→HA) whose ICV failed.
    pub init_icv_failures: u64,
    /// Frames under one of its dynamic generations whose ICV failed.
    pub icv_failures: u64,
    /// Binding Updates refused with a BA.
    pub refusals: u64,
    /// The last refusal.
    pub last_refusal: Option<Refusal>,
}

/// Notices by home address.
pub type Notices = BTreeMap<Ipv6Addr, MnNotices>;
