//! # mip6-mn
//!
//! The Mobile IPv6 mobile node (RFC 6275 §11) as a sans-IO engine, [`MobileNode`]:
//! home registration with its binding update list entry, retransmission and refresh
//! (RFC 6275 §11.7–§11.8), the two-generation ESP keys of the patent with the mobile
//! node's role (`docs/key-protocol.md`), and the reverse tunnel (RFC 6275 §11.3.1).
//! It reads no clock, no socket and no RNG it was not given, and its crate can do no
//! I/O (`scripts/check-engine-deps`); the `mip6-mn` daemon (`mn/daemon`, crate
//! `mip6-mn-daemon`) drives it through `mip6-daemon`'s shell. The ESP AEAD is a type
//! parameter (AES-GCM by default; the engine fuzz target uses the null AEAD).
//!
//! | module | what |
//! | --- | --- |
//! | [`config`] | [`MnConfig`], RFC 6275 §11.8 timers, restore policy |
//! | [`registration`] | the registration states ([`Registration`]) |
//! | [`keys`] | [`KeyView`], the key-update timer |
//! | [`persist`] | [`MnRecord`]: what survives a restart, sequence marks |
//! | [`counters`] | [`DropReason`], [`Counters`] |
//! | [`event`] | [`Event`], [`Transmit`], [`Received`], [`DataFrame`], [`DataError`] |
//!
//! ## Driver contract
//!
//! - Feed every frame from the home agent to [`MobileNode::handle`], call
//!   [`MobileNode::handle_timeout`] when [`MobileNode::poll_timeout`] passes, and
//!   report movement with [`MobileNode::set_care_of_address`].
//! - After each call, drain [`MobileNode::poll_event`] **first** and write every
//!   [`Event::Persist`] to stable storage, **then** send what
//!   [`MobileNode::poll_transmit`] (or [`MobileNode::seal_data`]) produced. A Persist
//!   reserves outbound ESP sequence numbers ahead of use; sending before it is written
//!   could reuse a nonce after a crash (docs/architecture.md invariant 2).
//! - At restart, pass the last record to [`MobileNode::new`].
//!
//! ## Choices where RFC 6275 or the key protocol leave room
//!
//! - Every retransmission carries a new sequence number (docs/key-protocol.md); only a
//!   BA with the outstanding BU's number is taken, except status 135, whose number is
//!   the home agent's last accepted one (RFC 6275 §11.7.3): the node resynchronizes
//!   and resends at once.
//! - Refusals (≥ 128, not 135) raise [`Event::Refused`] and the BU is retried every
//!   MAX_BINDACK_TIMEOUT (32 s); a deregistration refused with 133 (no binding) is
//!   taken as done.
//! - A BA answering a Key Initialization Request must echo its timestamp; an accepting
//!   one without (or with another) echo is ignored. A refusal may omit the echo.
//! - Deregistration: BU with lifetime 0 from the home address, care-of address = home
//!   address (RFC 6275 §11.5.4). Right after a start at home nothing is sent.
//! - A Key Update Request the home agent did not answer with a new generation is
//!   asked again after MAX_BINDACK_TIMEOUT, not at once.
//! - A Key Distribution's lifetime is not acted on: the update timer
//!   (`key_update_interval`) and the home agent's own timer drive updates.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ack;
pub mod config;
pub mod counters;
mod data;
mod engine;
pub mod event;
pub mod keys;
pub mod persist;
pub mod registration;

pub use config::{MnConfig, RestorePolicy, RetransmitConfig};
pub use counters::{Counters, DropReason};
pub use engine::MobileNode;
pub use event::{DataError, DataFrame, Event, Received, Transmit};
pub use keys::{KeyView, UpdateTimer};
pub use mip6_wire::keys::DistributionKind;
pub use persist::{GenerationRecord, MnRecord};
pub use registration::{
    AwaitingBindingAck, KeyRequest, Registered, Registration, RegistrationView, Target,
};

#[cfg(test)]
mod tests;
