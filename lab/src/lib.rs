//! # mip6-lab
//!
//! Builds DESIGN.md's network-namespace topology, runs the home agent, the mobile node
//! and a correspondent in it, moves the mobile node and reports (issue 4).
#![forbid(unsafe_code)]
