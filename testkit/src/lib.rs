//! # mip6-testkit
//!
//! The one test kit of mip6 (in the manner of quinn-proto's `src/tests/util.rs`): what
//! the engines' unit tests, their benches, the pair harness, the seeded simulation and
//! the model check all need, written once.
//!
//! | module | what |
//! | --- | --- |
//! | [`lab`] | the lab's addresses, start time, init secrets and SPIs, duration helpers |
//! | [`material`] | [`KeyMaterial`]: one key as a configuration or a record names it |
//! | [`packet`] | inner IPv6/UDP packets, the `seal_data` buffer layout, ESP header fields |
//! | [`signalling`] | BU and BA builders over any outbound SA, and the reading of their options |
//! | [`scripted`] | the hand-played peers: [`ScriptedMn`] against the home agent engine, [`ScriptedHa`] against the mobile node engine |
//! | [`ledger`] | [`NonceLedger`]: no (key, sequence number) sealed twice, across restarts too (invariant 2) |
//! | [`stepper`] | the driver contract over [`mip6_wire::engine::Engine`]: each call, then its events, then its frames; deadlines |
//! | [`cpu`] | on-CPU time of the bench thread, for the engine benches |
//!
//! The kit depends on `mip6-wire` only. The engine crates dev-depend on it, so it must
//! never depend on them (their unit tests would then see two copies of the engine
//! crate): it reaches an engine through the [`Engine`](mip6_wire::engine::Engine)
//! contract, and what an engine's configuration or record holds through
//! [`KeyMaterial`], which the callers build from their own types.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cpu;
pub mod lab;
pub mod ledger;
pub mod material;
pub mod packet;
pub mod scripted;
pub mod signalling;
pub mod stepper;

pub use ledger::NonceLedger;
pub use material::KeyMaterial;
pub use scripted::{ScriptedHa, ScriptedMn};
