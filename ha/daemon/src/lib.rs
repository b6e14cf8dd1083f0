//! # mip6-ha-daemon
//!
//! The `mip6-ha` home agent daemon (RFC 6275 §10): what the binary needs beside its
//! engine (`mip6-ha`, sans-IO) and the daemon shell (`mip6-daemon`, shared with
//! `mip6-mn`). The binary itself (`src/bin/mip6-ha/main.rs`) only hands these to
//! [`mip6_daemon::launch::main`].
//!
//! | module | job |
//! | --- | --- |
//! | [`config`] | the TOML configuration file: parse, validate, convert to the engine's |
//! | [`store`] | the layout of the engine's records in the state store |
//! | [`reload`] | what a SIGHUP may change live (mobile nodes, timers) and what it refuses |
//! | [`provision`] | mobile nodes provisioned at run time: their rows in the store, the `[[mobile_node]]` text a client sends |
//! | [`mn_control`] | the `mn list / show / add / import / remove` commands of the control socket |
//! | [`role`] | the home agent as a role of the shell: events, status, metrics, cleanup |
//! | [`routes`] | the kernel side of a binding: /128 route into the TUN, proxy NDP (RFC 6275 §10.4.1) |
//! | [`status`] | the status fields and their text rendering for `mip6-ha status` |
//! | [`pair`] | two home agents on etcd, one active, one standby: election, fencing, takeover |
//! | [`start`] | start-up in order, then the shell's loop |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The ESP AEAD (RFC 4106) the engine seals and opens with, built around each packet
/// from the SA's stored key: RustCrypto aes-gcm by default, `ring`'s (about twice as
/// fast; a C compiler to build, no wiping of expanded keys) with the `ring` feature.
#[cfg(not(feature = "ring"))]
pub type Aead = mip6_wire::esp::AesGcmInline;
/// The ESP AEAD (RFC 4106) the engine seals and opens with, built around each packet
/// from the SA's stored key: `ring`'s, the `ring` feature being on (see
/// `mip6_wire::esp::RingAead` for what it does not wipe).
#[cfg(feature = "ring")]
pub type Aead = mip6_wire::esp::RingAead;

pub mod config;
pub mod mn_control;
pub mod pair;
pub mod provision;
pub mod reload;
pub mod role;
pub mod routes;
pub mod start;
pub mod status;
pub mod store;
