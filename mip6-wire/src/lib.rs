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
//! | [`udp_encap`] | ESP in UDP: the UDP header in front of ESP, added and removed | RFC 3948 |
//! | [`esp`] | ESP with AES-GCM, sealed and opened in place, anti-replay window | RFC 4303, RFC 4106 |
//! | [`keys`] | HKDF key schedule and the two-generation SA table | RFC 5869, docs/architecture.md |
//! | [`capture`] | pcapng read/write and Wireshark `esp_sa` export | |
//! | [`frames`] | builders for the BU, BA and data frames, and the inbound opener | RFC 6275, RFC 3776 |
//! | [`nd`] | Neighbor Solicitation and Advertisement: parse with the validity rules, emit | RFC 4861 §4.3–4.4, §7.1 |
//! | [`time`] | the engines' notion of time, NTP timestamps | RFC 5905 §6 |
//! | [`secret`] | [`Secret32`]: 32-octet secrets wiped on drop, compared in constant time | RFC 5869 (IKM) |
//! | [`error`] | [`LenError`] and [`Layer`]: what every layer's error says about a length | |
//! | [`engine`] | the sans-IO contract both engines implement, and the values crossing it | |
//!
//! Each wire type follows the same two levels (as smoltcp's `wire` module does): a
//! checked zero-copy view `Packet<T: AsRef<[u8]>>` whose accessors never panic
//! once `check_len` has succeeded, and a plain `Repr` with `parse`, `buffer_len`
//! and an infallible `emit`.
//!
//! Errors are one enum per layer; every length error is a [`LenError`] naming the
//! layer, the offset, the octets needed and the length field that asked for them.
//!
//! ## Choices where the RFCs leave room
//!
//! - **Mobility options** (RFC 6275 §6.2): unknown option types are kept and re-emitted
//!   unchanged; options off their alignment are refused on parse
//!   ([`mh::OptionError::Misaligned`]), Pad1/PadN are inserted on emit. An unknown
//!   key-management sub-type or cipher suite is an error, not an unknown value.
//! - **BA status**: every code 0–178 that RFC 6275, 4285 and 5648 (and the other IANA
//!   entries in that range) name has a variant; anything else is `Unknown(u8)`.
//! - **Destination options** (RFC 8200 §4.2): an unknown option whose action bits are
//!   00 is skipped; any other is reported with its action, for the driver to answer.
//! - **ESP** (RFC 4303): SPIs 0–255 are refused on both sides; the outbound counter
//!   stops at 2^32 − 1 with [`esp::Error::SequenceExhausted`] (no ESN, never a wrap);
//!   the anti-replay window is 64–4096 packets in steps of 64, default 1024, checked
//!   before decryption and moved only after the ICV verifies.
//! - **IPv6-in-IPv6** (RFC 2473 §3.1): a forwarded inner packet's hop limit is
//!   decremented at the entry point and refused at 1 or 0; decapsulation leaves it.
//! - **pcapng**: link type 229 (`LINKTYPE_IPV6`), microsecond timestamps, little
//!   endian, so files are byte-identical on every host.
//! - **Wireshark `esp_sa`**: two records per SA, the exact home address first and `*`
//!   for the mobile node's side second, so BU/BA (looked up by HoA) and tunnel
//!   packets (looked up by CoA) both decrypt.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod engine;
pub mod error;
pub mod esp;
pub mod ext;
pub mod frames;
pub mod keys;
pub mod mh;
pub mod nd;
pub mod ra;
pub mod record;
pub mod secret;
pub mod time;
pub mod tunnel;
pub mod udp_encap;

pub use error::{Layer, LenError};
pub use secret::Secret32;
pub use time::Time;
