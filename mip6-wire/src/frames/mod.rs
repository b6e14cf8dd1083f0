//! Frame builders and the inbound opener for the three frames of docs/architecture.md, so the
//! engines never hand-assemble headers:
//!
//! | frame | layout | module |
//! | --- | --- | --- |
//! | BU | `IPv6(src=CoA, dst=HA) \| DestOpts(HoA) \| ESP(transport) \| MH(BU)` | [`signalling`] |
//! | BA | `IPv6(src=HA, dst=CoA) \| RH2(HoA) \| ESP(transport) \| MH(BA)` | [`signalling`] |
//! | data | `IPv6(CoA↔HA) \| ESP(tunnel) \| IPv6(HoA↔CN) \| payload` | [`data`] |
//! | Binding Error, ICMPv6 Parameter Problem, Echo Reply via RH2 (unprotected) | see the module | [`errors`] |
//!
//! Home registration follows RFC 3776 §3 / RFC 4877 §4 (ESP in transport mode between
//! the home address and the home agent) and RFC 6275 §6.1.7–6.1.8, §6.3–6.4, §11.7.1
//! (every home-registration BU carries an Alternate Care-of Address option with the
//! CoA, because ESP in transport mode does not protect the outer source address).
//! The Mobility Header checksum is computed over the pseudo-header RFC 6275 §6.1.1
//! names: source = the home address in a BU (HoA option), destination = the home
//! address in a BA (RH2's final destination).
//!
//! Everything is built and sealed in the caller's buffer with no heap allocation;
//! [`inbound::open`] parses, decrypts and classifies a received frame in place.
//!
//! Not supported: route optimisation frames (HoTI/CoTI travel, RFC 6275 §5.2.5),
//! AH, and IPv6 fragmentation (the driver sizes the TUN MTU so frames fit the link).

pub mod data;
mod error;
pub mod errors;
pub mod inbound;
pub mod signalling;

pub use data::{seal_data_in_place, TunnelEndpoints, DATA_HEADROOM};
pub use error::FrameError;
pub use inbound::{esp_spi, inspect, open, EspFrame, OpenedFrame, Payload};
pub use signalling::{
    BindingAckFrame, BindingRefreshRequestFrame, BindingUpdateFrame, MAX_EXTRA_OPTIONS,
};

/// Hop limit of the frames we originate unless the caller says otherwise (the usual
/// Linux default, `net.ipv6.conf.*.hop_limit`).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

#[cfg(test)]
mod tests;
