//! # mip6-ha
//!
//! The Mobile IPv6 home agent (RFC 6275 §10) as a sans-IO engine, [`HomeAgent`]:
//! a binding cache (RFC 6275 §9.1, §10.3), the tunnel data plane (§10.4), and the
//! two-generation key distribution of the patent with the HA role, exactly as
//! `docs/key-protocol.md` fixes it. Its crate can do no I/O (no runtime, socket or
//! store crate in its dependency tree, `scripts/check-engine-deps`); the `mip6-ha`
//! daemon (`ha/daemon`, crate `mip6-ha-daemon`) drives it through `mip6-daemon`'s
//! shell over sockets and a TUN. The ESP AEAD is a type parameter (AES-GCM by
//! default; the engine fuzz target uses the null AEAD).
//!
//! ## Driver contract
//!
//! The engine never reads a clock, a socket or an RNG it was not given:
//!
//! 1. Feed each received frame to [`HomeAgent::handle`] (it decrypts in place and
//!    returns [`Received`]: forward a `Delivered` inner packet), each packet for a home
//!    address to [`HomeAgent::seal_data`], and call [`HomeAgent::handle_timeout`] at
//!    [`HomeAgent::poll_timeout`].
//! 2. Then drain [`HomeAgent::poll_event`]: install/remove routes, and **store every
//!    [`Event::Persist`] record before sending anything** from
//!    [`HomeAgent::poll_transmit`] or a sealed data frame; an
//!    [`Event::PersistLagging`] record (a refresh or a move) may be stored after
//!    them, in order with the others. Outbound sequence numbers
//!    are reserved in blocks ([`HaConfig::sequence_block`]) so no (key, sequence) pair
//!    is sealed twice across a restart (docs/architecture.md invariant 2).
//! 3. On restart, pass the stored records to [`HomeAgent::new`]; a "stateless" HA
//!    passes [`MnRecord::durable_minimum`] of each, and its MNs re-initialize.
//!
//! ## Modules
//!
//! | module | job |
//! | --- | --- |
//! | [`config`] | configuration and defaults |
//! | [`binding`] | binding cache entries, care-of address validity |
//! | `mobile_node` | per-MN key table, confirmation, update timer, marks |
//! | `signalling` | BU checks, refusals → BA status, key actions, BAs |
//! | `data` | tunnel seal and inbound checks |
//! | `timers` | per-MN deadlines in one heap |
//! | [`counters`] | drop reasons and counters |
//! | [`refusal`] | refusal reasons and their BA status |
//! | [`persist`] | persistence records (stored by the daemon's record store) |
//! | [`record_layout`] | their byte layout, version 1 (what the daemon's store writes) |
//! | [`events`] | transmits, events, results |
//! | `engine` | [`HomeAgent`]: state, construction and restore, polling, views |
//! | `index` | the SPI → MN and home address → MN tables |
//!
//! Not supported: route optimisation, DHAAD (§10.5), prefix discovery (§10.6), proxy
//! Neighbor Discovery (the daemon's business), IKE.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binding;
pub mod config;
pub mod counters;
mod data;
mod engine;
pub mod events;
mod index;
mod mobile_node;
pub mod neighbour;
pub mod notices;
pub mod persist;
pub mod record_layout;
pub mod refusal;
mod reload;
mod signalling;
mod timers;
mod unprotected;

pub use binding::BindingView;
pub use config::{BindingCacheStorage, HaConfig, HomeLink, MnConfig};
pub use counters::{Counters, DropReason};
pub use engine::{ConfigError, HomeAgent, KeyView, PREFETCH_MAX};
pub use events::{
    BindingChange, DataError, DataFrame, Event, KeyChange, Received, RemovalCause, RouteChange,
    Transmit,
};
pub use mip6_wire::keys::DistributionKind;
pub use neighbour::{LinkReceived, LinkTransmit};
pub use notices::{MnNotices, Notices};
pub use persist::{GenerationRecord, MnRecord};
pub use refusal::Refusal;
pub use unprotected::{RATE_BURST, RATE_INTERVAL};

#[cfg(test)]
mod tests;
