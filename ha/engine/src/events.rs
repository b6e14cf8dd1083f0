//! What the engine hands its driver: the shared values of [`mip6_wire::engine`]
//! (frames to send, the result of a received frame, sealed data frames) and the home
//! agent's own events (routes, bindings, keys, persistence records).

use std::net::Ipv6Addr;

pub use mip6_wire::engine::{DataFrame, Transmit};
use mip6_wire::frames::FrameError;
use mip6_wire::keys::DistributionKind;

use crate::binding::BindingView;
use crate::counters::DropReason;
use crate::persist::MnRecord;

/// What became of a received frame ([`mip6_wire::engine::Received`] with the home
/// agent's drop reasons): `Delivered` is a tunnelled packet from a mobile node to
/// forward (RFC 6275 §10.4.5), `Consumed` a Binding Update processed (a BA may be
/// queued).
pub type Received = mip6_wire::engine::Received<DropReason>;

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
    /// The home agent no longer serves the home address (removed from its
    /// configuration while running, [`crate::HomeAgent::remove_mobile_node`]).
    Unconfigured,
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

/// A key event: which MN, what happened, and the generation distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChange {
    /// The mobile node's home address.
    pub home_address: Ipv6Addr,
    /// Initialization, update or resend.
    pub kind: DistributionKind,
    /// The generation number carried in the Key Distribution.
    pub generation: u32,
}

/// Something the driver must act on. Persist every [`Event::Persist`] before sending
/// anything from `poll_transmit` or `seal_data`; [`Event::PersistLagging`] records may
/// be stored after what was queued with them is sent, in order with the others.
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
    /// Store this record (replacing the MN's previous one) soon, after the records
    /// emitted before it and before any emitted after it; what was queued with it may
    /// be sent first. Only the binding (care-of address, lifetime, BU sequence number)
    /// and the replay top of the BU's generation moved since the MN's last record:
    /// every key and every outbound sequence mark is as in a record already stored.
    ///
    /// Lost in a crash, it costs what a BU lost on the wire costs: the restarted home
    /// agent resumes the previous binding and asks for a new BU with its Binding
    /// Refresh Request (RFC 6275 §9.5.5); a replay of that BU's frame, taken once
    /// after the restart, names the care-of address the node itself registered last.
    /// So a handover's Binding Acknowledgement and the traffic through the new care-of
    /// address wait for no disk write (docs/architecture.md, "Nonces and persistence").
    PersistLagging(MnRecord),
}
