//! The peers a test plays by hand, each a `mip6_wire::keys::KeyTable` of its role and
//! `mip6-wire`'s frame builders, sealing and opening whatever the test asks (within
//! the key protocol or not: a scripted peer is also the attacker and the insider).
//!
//! - [`ScriptedMn`]: a mobile node, against the home agent engine (its unit tests, its
//!   bench, the pair's second node and forger);
//! - [`ScriptedHa`]: a home agent, against the mobile node engine (its unit tests and
//!   its bench), distributing generation *g* as [`distribution`] says.

mod home_agent;
mod mobile_node;

pub use home_agent::{distribution, OpenedBu, ScriptedHa};
pub use mobile_node::{OpenedBa, ScriptedMn};
