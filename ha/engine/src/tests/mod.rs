//! Engine tests: the test kit's scripted mobile node (`mip6_testkit::ScriptedMn`: a
//! `KeyTable` of `Role::MobileNode` and mip6-wire's frames) against the `HomeAgent`,
//! deterministic (seeded ChaCha20, simulated time).

mod binding;
mod conformance;
mod data;
mod errors;
mod harness;
mod keys;
mod neighbour;
mod persist;
