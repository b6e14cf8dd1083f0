//! What the engine hands its driver: frames to send, the result of a received frame,
//! and events (routes, bindings, keys, persistence records).

use core::fmt;
use core::ops::Range;
use std::net::Ipv6Addr;

use mip6_wire::frames::FrameError;

use crate::binding::BindingView;
use crate::counters::DropReason;
use crate::persist::MnRecord;

/// A signalling frame (a BA) to send as is, to `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The IPv6 destination of the frame (the care-of address).
    pub destination: Ipv6Addr,
    /// The whole IPv6 packet.
    pub frame: Vec<u8>,
}

/// What became of a received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A tunnelled packet from a mobile node, decrypted in place: forward the inner
    /// IPv6 packet found at this range of the frame (RFC 6275 §10.4.5).
    Delivered {
        /// The inner IPv6 packet's octets in the frame buffer.
        inner: Range<usize>,
    },
    /// A Binding Update was processed (accepted or refused; a BA may be queued).
    Consumed,
    /// The frame was dropped silently, for this reason.
    Dropped(DropReason),
}

/// A data frame sealed in place by [`crate::HomeAgent::seal_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame {
    /// Octets of the frame at the start of the buffer.
    pub len: usize,
    /// Where to send it: the MN's care-of address.
    pub destination: Ipv6Addr,
}

/// Why a packet toward a home address could not be tunnelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The inner packet is shorter than an IPv6 header or the buffer cannot hold it.
    #[error("inner packet of {inner_len} octets in a buffer of {buf_len}: too short")]
    TooShort {
        /// The inner length given.
        inner_len: usize,
        /// The buffer's length.
        buf_len: usize,
    },
    /// The inner destination is not a home address this HA serves.
    #[error("{0} is not a home address of this home agent")]
    UnknownHomeAddress(Ipv6Addr),
    /// The home address has no (live) binding.
    #[error("home address {0} has no binding")]
    NotBound(Ipv6Addr),
    /// The frame could not be built or sealed.
    #[error("sealing the tunnel frame: {0}")]
    Frame(#[from] FrameError),
}

/// Tunnel route changes for the driver (RFC 6275 §10.4.1: intercept and tunnel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteChange {
    /// Route packets for the home address into the tunnel toward the care-of address.
    Install {
        /// The home address.
        home_address: Ipv6Addr,
        /// The care-of address.
        care_of_address: Ipv6Addr,
    },
    /// Stop tunnelling for the home address.
    Remove {
        /// The home address.
        home_address: Ipv6Addr,
    },
}

/// Why a binding was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalCause {
    /// A deregistration BU (lifetime 0 or care-of = home address, RFC 6275 §10.3.2).
    Deregistered,
    /// The lifetime ran out (RFC 6275 §10.3.1).
    Expired,
}

/// A binding cache change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingChange {
    /// A new binding.
    Added(BindingView),
    /// An existing binding refreshed or moved.
    Updated(BindingView),
    /// The binding is gone.
    Removed(RemovalCause),
}

/// What happened to an MN's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyChangeKind {
    /// Generation 1 drawn, dynamic keys reset (patent (1), (2), (5), (7), (8), (11)).
    Initialization,
    /// Generation N+1 drawn and installed (patent (3), (6), (9)).
    Update,
    /// The newest generation sent again, not regenerated (patent (4), (10)).
    Resend,
}

/// A key event: which MN, what happened, and the generation distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChange {
    /// The mobile node's home address.
    pub home_address: Ipv6Addr,
    /// Initialization, update or resend.
    pub kind: KeyChangeKind,
    /// The generation number carried in the Key Distribution.
    pub generation: u32,
}

/// Something the driver must act on. Persist every [`Event::Persist`] before sending
/// anything from `poll_transmit` or `seal_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Install or remove a tunnel route.
    Route(RouteChange),
    /// A binding cache change for a home address.
    Binding {
        /// The home address.
        home_address: Ipv6Addr,
        /// What changed.
        change: BindingChange,
    },
    /// A key initialization, update or resend.
    Keys(KeyChange),
    /// Store this record (replacing the MN's previous one) before sending anything.
    Persist(MnRecord),
}

impl fmt::Display for KeyChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyChangeKind::Initialization => "initialization",
            KeyChangeKind::Update => "update",
            KeyChangeKind::Resend => "resend",
        })
    }
}
