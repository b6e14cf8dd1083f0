//! Workspace-level tests of mip6: cross-checks of the wire layer against scapy and
//! tshark, and (with the engines) pcap replay, deterministic simulation and the
//! namespace lab. The tests live in `tests/tests/`; this library holds their helpers,
//! built on the one test kit (`mip6-testkit`: lab constants, scripted peers, nonce
//! ledger, stepper).
//!
//! | module | what |
//! | --- | --- |
//! | [`catalogue`] | the wire catalogue cross-checked with scapy and tshark |
//! | [`engine_fuzz`] | the engine fuzz targets: each engine driven by a script through the null AEAD |
//! | [`engine_keys`] | the engines' configurations and records to and from the kit's key material |
//! | [`fuzz_checks`] | the checks behind the fuzz targets, replayed on their corpus |
//! | [`lab_e2e`] | the namespace lab run end to end |
//! | [`model`] | the exhaustive model check of the two engines |
//! | [`pair`] | the deterministic pair harness: one HA, one MN, a network a test drives |
//! | [`prerequisites`] | tools, Python modules and root the tests need |
//! | [`replay`] | byte-exact replay of engine captures |
//! | [`sim`] | the seeded simulation of one HA and a few MNs over a faulty network |
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod engine_fuzz;
pub mod engine_keys;
pub mod fuzz_checks;
pub mod lab_e2e;
pub mod model;
pub mod pair;
pub mod prerequisites;
pub mod replay;
pub mod sim;
