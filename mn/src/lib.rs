//! # mip6-mn
//!
//! The Mobile IPv6 mobile node (RFC 6275 §11): a sans-IO `MobileNode` engine and the
//! `mip6-mn` daemon that drives it. The engine arrives with issue 3, the daemon with
//! issue 4; this crate holds the place DESIGN.md gives it in the workspace.
#![forbid(unsafe_code)]
