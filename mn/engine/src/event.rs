//! What the engine hands its driver: frames to send, results of received frames,
//! events, and the data plane's results (engine contract, "Common shape").

use core::net::Ipv6Addr;
use core::time::Duration;

pub use mip6_wire::engine::{DataFrame, Transmit};
use mip6_wire::frames::FrameError;
use mip6_wire::keys::DistributionKind;
use mip6_wire::mh::BaStatus;

use crate::counters::DropReason;
use crate::persist::MnRecord;

/// What a received frame was ([`mip6_wire::engine::Received`] with the mobile node's
/// drop reasons): `Delivered` is a tunnelled packet for the home address (RFC 6275
/// §11.3.1), `Consumed` signalling (or an ESP dummy packet) the engine handled.
pub type Received = mip6_wire::engine::Received<DropReason>;

/// Something the driver must know or do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The home agent accepted the binding to `coa` (RFC 6275 §11.7.3).
    Registered {
        /// The care-of address bound.
        coa: Ipv6Addr,
        /// The lifetime granted.
        lifetime: Duration,
    },
    /// The home agent removed the binding: the node is at home (RFC 6275 §11.5.4).
    Deregistered,
    /// The home agent refused a Binding Update with this status (≥ 128, not 135,
    /// which the engine handles itself). The engine retries after MAX_BINDACK_TIMEOUT.
    Refused {
        /// The BA status.
        status: BaStatus,
    },
    /// A generation from a Key Distribution became the newest (transmit) key.
    KeysInstalled {
        /// Its number.
        generation: u32,
        /// Initialization, update, or the answer to a Key Resending Request
        /// (resend).
        kind: DistributionKind,
    },
    /// The dynamic keys were dropped after `max_key_resends` unanswered resends
    /// (patent (5), (11)); an initialization follows under the init key.
    KeysDropped,
    /// Write this record to stable storage before sending anything queued after it.
    Persist(MnRecord),
}

/// Why a data packet was not sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// No care-of address is set (at home, or none yet): nothing to tunnel through
    /// (RFC 6275 §11.3.1).
    #[error("not away from home: no tunnel to the home agent")]
    NotAway,
    /// The inner packet's source is not the home address (RFC 6275 §11.3.1: the node
    /// tunnels the packets it sends from its home address).
    #[error("inner source {0} is not the home address")]
    WrongInnerSource(Ipv6Addr),
    /// The inner packet or the buffer could not make a frame.
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
}
