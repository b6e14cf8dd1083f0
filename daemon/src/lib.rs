//! What the `mip6-ha` and `mip6-mn` daemons share around their engines: the wall
//! clock, the configuration file plumbing, logging, the RNG choice, the local control
//! socket, the Prometheus text endpoint and the engine capture. Nothing here knows the protocol; the engines
//! (sans-IO, `mip6-ha`/`mip6-mn` libraries) and the OS layer (`mip6-netio`) do.
//!
//! | module | job |
//! | --- | --- |
//! | [`cli`] | the command-line options both daemons take, and their `status` command |
//! | [`config`] | what both TOML configuration files share: positioned errors, value types, parsing |
//! | [`clock`] | wall-clock [`mip6_wire::Time`] for the engines |
//! | [`launch`] | the `main` of both binaries: command line, checked configuration, runtime, exit status |
//! | [`logging`] | tracing to stderr, text or JSON |
//! | [`privileges`] | what a daemon keeps once set up: `CAP_NET_ADMIN` and `CAP_NET_RAW`, a bounding set of the same, no_new_privs |
//! | [`rng`] | OS RNG, or a seeded one for tests and replay only |
//! | [`counters`] | counters both drivers keep (frames per path) |
//! | [`record`] | (re-exported from `mip6_wire::record`) the fixed-length binary records the stores keep: version byte, big-endian fields, presence bytes; reader and writer |
//! | [`control`] | Unix control socket: one JSON request, one JSON reply |
//! | [`metrics`] | Prometheus text exposition over HTTP on a loopback address |
//! | [`capture`] | pcapng of everything an engine consumed and produced, with its `esp_sa` key log, and the reader replay tests use |
//! | [`shell`] | the one event loop both daemons run, generic over a role: sockets, persistence before sending, status, metrics, capture |
//! | [`signals`] | every catchable signal, caught from start-up on: stop, reload (SIGHUP) or ignore |
//! | [`store`] | the record store: backend trait (batched durable writes, compare-and-set), its redb backend, the typed layer |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Outbound ESP sequence numbers a daemon reserves per persisted record (the engines'
/// `sequence_block`). Each reservation is one durable (fsync'd) store write in the
/// event loop, so the block is sized for data rates: 65 536 packets of 1420 octets is
/// about one write a second at 750 Mbit/s. A crash skips at most one block of the
/// 2^32 sequence space (docs/architecture.md invariant 2 holds: nothing is ever sealed twice).
pub const SEQUENCE_BLOCK: u64 = 1 << 16;

pub mod capture;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod counters;
pub mod launch;
pub mod logging;
pub mod metrics;
pub mod privileges;
pub use mip6_wire::record;
pub mod rng;
pub mod shell;
pub mod signals;
pub mod store;

pub use launch::{RunError, StartOptions};
