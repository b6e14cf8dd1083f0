//! Engine tests: a hand-played MN (mip6-wire frames, `KeyTable` of `Role::MobileNode`)
//! against the `HomeAgent`, deterministic (seeded ChaCha20, simulated time).

mod binding;
mod data;
mod harness;
mod keys;
mod persist;
