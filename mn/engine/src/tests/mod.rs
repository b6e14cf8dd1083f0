//! Engine tests: the home agent is the test kit's scripted one
//! (`mip6_testkit::ScriptedHa`: a `KeyTable` of `Role::HomeAgent` and mip6-wire's
//! frames), played as docs/key-protocol.md says.
//! Deterministic: seeded ChaCha20, simulated time.

mod harness;
mod keys;
mod registration;
mod traffic;
