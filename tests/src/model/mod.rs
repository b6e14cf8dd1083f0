//! An exhaustive, depth-bounded model check of the real engines: a [`mip6_ha::HomeAgent`]
//! and a [`mip6_mn::MobileNode`] over a network that loses, duplicates and reorders
//! frames, with HA crashes (restart from the full persisted record or from its
//! durable minimum), data sent both ways, and every timer (retransmission, refresh,
//! both key-update timers, binding expiry) fired by advancing simulated time.
//!
//! [`world`] holds one state and its actions; [`explore`](mod@explore) walks every state
//! breadth-first to a depth bound, deduplicated by [`World::fingerprint`], and checks
//! on every state:
//!
//! - **no nonce reuse** (docs/architecture.md invariant 2): every frame either engine seals has
//!   an ESP sequence number above every earlier one under its SPI on that path, and
//!   each SPI names one key (secret) along the path;
//! - **key concord** (invariant 1): when both sides hold dynamic keys, each side's
//!   transmit key is among the keys the other accepts, and a data frame sealed by
//!   either side opens at the other;
//! - **bounded liveness** (invariant 3): from every state, fair delivery without loss
//!   or crash ([`World::heal`]) reaches a common newest key and a registration within
//!   [`Bounds::heal_steps`] actions, and data then flows both ways.
//!
//! The engines cannot be cloned (mip6-wire's key tables own their AES state), so a
//! state is kept as its action trace and rebuilt by replay: costlier, but it runs
//! the engines' own code on every step.
#![allow(clippy::module_name_repetitions)]

pub mod explore;
pub mod world;

pub use explore::{describe, explore, Bounds, Failure, Property, Report};
pub use world::{Action, Concord, ModelConfig, Side, World};
