//! What the `mip6-ha` and `mip6-mn` daemons share around their engines: the wall
//! clock, the configuration file plumbing, logging, the RNG choice, the local control
//! socket, the Prometheus text endpoint and the engine capture. Nothing here knows the protocol; the engines
//! (sans-IO, `mip6-ha`/`mip6-mn` libraries) and the OS layer (`mip6-netio`) do.
//!
//! | module | job |
//! | --- | --- |
//! | [`config`] | what both TOML configuration files share: positioned errors, value types, parsing |
//! | [`clock`] | wall-clock [`mip6_wire::Time`] for the engines |
//! | [`logging`] | tracing to stderr, text or JSON |
//! | [`rng`] | OS RNG, or a seeded one for tests and replay only |
//! | [`control`] | Unix control socket: one JSON request, one JSON reply |
//! | [`metrics`] | Prometheus text exposition over HTTP on a loopback address |
//! | [`capture`] | pcapng of everything an engine consumed and produced, with its `esp_sa` key log, and the reader replay tests use |
//! | [`signals`] | SIGINT/SIGTERM as a future |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod clock;
pub mod config;
pub mod control;
pub mod logging;
pub mod metrics;
pub mod rng;
pub mod signals;
