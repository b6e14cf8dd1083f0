//! IPv6 header, the extension headers Mobile IPv6 uses, and a header-chain
//! walker and emitter.
//!
//! | module | what | RFC |
//! | --- | --- | --- |
//! | [`ipv6`] | fixed 40-octet IPv6 header, [`NextHeader`] numbers | RFC 8200 §3 |
//! | [`options`] | TLV option walker shared by Hop-by-Hop and Destination Options headers, option action bits | RFC 8200 §4.2 |
//! | [`home_address`] | Destination Options header and the Home Address option in it | RFC 8200 §4.6, RFC 6275 §6.3 |
//! | [`routing_type2`] | type 2 Routing Header | RFC 6275 §6.4, RFC 8200 §4.4 |
//! | [`chain`] | walk a whole packet's header chain; emit IPv6 + RH2 + HoA | RFC 8200 §4.1, RFC 6275 §6.1.1 |
//!
//! Every parser here takes bytes from the network: none of them panics or
//! allocates, every error names its [`Layer`](crate::Layer) and the offset of
//! the offending octet.
//!
//! Not supported anywhere in this module: jumbograms (RFC 2675; a Jumbo Payload
//! option is reported as an unrecognized option whose action says discard),
//! fragment reassembly, the Authentication Header (the walker stops at it), and
//! emitting options other than the Home Address option and padding.

pub mod chain;
pub mod home_address;
pub mod ipv6;
pub mod options;
pub mod routing_type2;

pub use chain::{
    walk, Chain, ChainRepr, Error as ChainError, FragmentInfo, OtherRouting, MAX_EXTENSION_HEADERS,
};
pub use home_address::{
    Error as DestOptsError, Header as DestOptsHeader, HomeAddressOption, Repr as DestOptsRepr,
};
pub use ipv6::{Error as Ipv6Error, NextHeader, Packet as Ipv6Packet, Repr as Ipv6Repr};
pub use options::{OptionType, Options, RawOption, UnrecognizedAction};
pub use routing_type2::{Error as Rh2Error, Header as Rh2Header, Repr as Rh2Repr};
