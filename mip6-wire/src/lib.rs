//! # mip6-wire
//!
//! Wire formats for a user-space Mobile IPv6 (RFC 6275) home agent and mobile node:
//! every message is parsed from and emitted into byte buffers, with no I/O, no clock
//! and no global RNG. Randomness and time are always passed in by the caller.
//!
//! | module | what | RFC |
//! | --- | --- | --- |
//! | [`mh`] | Mobility Header messages, checksum, sequence numbers, mobility options, key-management options | RFC 6275 §6.1–6.2, RFC 5094 |
//! | [`ext`] | Home Address destination option, type 2 routing header, IPv6 header chain walker and emitter | RFC 6275 §6.3–6.4, RFC 8200 |
//! | [`tunnel`] | IPv6-in-IPv6 encapsulation | RFC 2473 |
//! | [`esp`] | ESP with AES-GCM, sealed and opened in place, anti-replay window | RFC 4303, RFC 4106 |
//! | [`keys`] | HKDF key schedule and the two-generation SA table | RFC 5869, DESIGN.md |
//! | [`capture`] | pcapng read/write and Wireshark `esp_sa` export | |
//! | [`frames`] | builders for the BU, BA and data frames, and the inbound opener | RFC 6275, RFC 3776 |
//! | [`time`] | the engines' notion of time, NTP timestamps | RFC 5905 §6 |
//!
//! Each wire type follows the same two levels (as smoltcp's `wire` module does): a
//! checked zero-copy view `Packet<T: AsRef<[u8]>>` whose accessors never panic
//! once `check_len` has succeeded, and a plain `Repr` with `parse`, `buffer_len`
//! and an infallible `emit`.
//!
//! Errors are one enum per layer; every length error is a [`LenError`] naming the
//! layer, the offset, the octets needed and the length field that asked for them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod error;
pub mod esp;
pub mod ext;
pub mod frames;
pub mod keys;
pub mod mh;
pub mod secret;
pub mod time;
pub mod tunnel;

pub use error::{Layer, LenError};
pub use secret::Secret32;
pub use time::Time;
