//! # mip6-mn-daemon
//!
//! The `mip6-mn` mobile node daemon (RFC 6275 §11): what the binary needs beside its
//! engine (`mip6-mn`, sans-IO) and the daemon shell (`mip6-daemon`, shared with
//! `mip6-ha`). The binary itself (`src/bin/mip6-mn/main.rs`) only hands these to
//! [`mip6_daemon::launch::main`].
//!
//! | module | job |
//! | --- | --- |
//! | [`config`] | the TOML configuration file: parse, validate, convert to the engine's |
//! | [`store`] | the layout of the engine's record in the state store |
//! | [`reload`] | what a SIGHUP may change live (interfaces, timers) and what it refuses |
//! | [`role`] | the mobile node as a role of the shell: events, movement, status, cleanup |
//! | [`movement`] | which address is the care-of address (RFC 6275 §11.5.1, from address events) |
//! | [`router_discovery`] | routers and autoconfigured addresses from Router Advertisements, sans-IO (RFC 6275 §11.5.1, RFC 4861 §6.3.4, RFC 4862 §5.5.3) |
//! | [`router_link`] | its socket, timer and actions (addresses, routes, solicitations, probes) |
//! | [`host`] | the source rule, the reverse-tunnel route (RFC 6275 §11.3.1) and the nft guard |
//! | [`status`] | the status fields, metrics and their text rendering for `mip6-mn status` |
//! | [`start`] | start-up in order, then the shell's loop |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The ESP AEAD (RFC 4106) the engine seals and opens with, one per SA: RustCrypto
/// aes-gcm by default, `ring`'s (about twice as fast; a C compiler to build, no wiping
/// of expanded keys) with the `ring` feature.
#[cfg(not(feature = "ring"))]
pub type Aead = mip6_wire::esp::AesGcmAead;
/// The ESP AEAD (RFC 4106) the engine seals and opens with, one per SA: `ring`'s, the
/// `ring` feature being on (see `mip6_wire::esp::RingAead` for what it does not wipe).
#[cfg(feature = "ring")]
pub type Aead = mip6_wire::esp::RingAead;

pub mod config;
pub mod host;
pub mod movement;
pub mod reload;
pub mod role;
pub mod router_discovery;
pub mod router_link;
pub mod start;
pub mod status;
pub mod store;
