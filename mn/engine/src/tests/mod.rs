//! Engine tests: the home agent is played by hand with a `KeyTable` of
//! `Role::HomeAgent` and mip6-wire's frames, following docs/key-protocol.md.
//! Deterministic: seeded ChaCha20, simulated time.

mod harness;
mod keys;
mod registration;
mod traffic;
