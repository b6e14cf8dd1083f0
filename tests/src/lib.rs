//! Workspace-level tests of mip6: cross-checks of the wire layer against scapy and
//! tshark, and (with the engines) pcap replay, deterministic simulation and the
//! namespace lab. The tests live in `tests/tests/`; this library holds their helpers.
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod engine_keys;
pub mod fuzz_checks;
pub mod lab_e2e;
pub mod model;
pub mod pair;
pub mod prerequisites;
pub mod replay;
pub mod sim;
