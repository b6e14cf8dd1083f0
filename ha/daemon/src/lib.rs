//! # mip6-ha-daemon
//!
//! What the `mip6-ha` binary needs beside its engine (`mip6-ha`, sans-IO): the
//! configuration file and the state store's record layout.
//!
//! | module | job |
//! | --- | --- |
//! | [`config`] | the TOML configuration file: parse, validate, convert to the engine's |
//! | [`store`] | the durable record store of the engine's persistence records |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod store;
