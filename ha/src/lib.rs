//! # mip6-ha
//!
//! The Mobile IPv6 home agent (RFC 6275 §10): a sans-IO `HomeAgent` engine and the
//! `mip6-ha` daemon that drives it. The engine arrives with issue 3, the daemon with
//! issue 4; this crate holds the place DESIGN.md gives it in the workspace.
#![forbid(unsafe_code)]
