//! What the engine hands its driver: frames to send, results of received frames,
//! events, and the data plane's results (engine contract, "Common shape").

use core::net::Ipv6Addr;
use core::ops::Range;
use core::time::Duration;

use mip6_wire::frames::FrameError;
use mip6_wire::mh::BaStatus;

use crate::counters::DropReason;
use crate::keys::KeyInstallKind;
use crate::persist::MnRecord;

/// A signalling frame to send (a Binding Update), fully built and sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it: always the home agent.
    pub destination: Ipv6Addr,
    /// The whole IPv6 packet.
    pub frame: Vec<u8>,
}

/// What a received frame was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A tunnelled packet for the home address (RFC 6275 §11.3.1): the inner IPv6
    /// packet lies at this range of the frame, decrypted in place.
    Delivered {
        /// The inner IPv6 packet in the frame buffer.
        inner: Range<usize>,
    },
    /// Signalling (or an ESP dummy packet) handled by the engine.
    Consumed,
    /// Dropped, counted and logged.
    Dropped(DropReason),
}

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
        /// Initialization or update.
        kind: KeyInstallKind,
    },
    /// The dynamic keys were dropped after `max_key_resends` unanswered resends
    /// (patent (5), (11)); an initialization follows under the init key.
    KeysDropped,
    /// Write this record to stable storage before sending anything queued after it.
    Persist(MnRecord),
}

/// A data frame sealed in place by [`MobileNode::seal_data`](crate::MobileNode::seal_data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame {
    /// Length of the frame at the start of the buffer.
    pub len: usize,
    /// Where to send it: the home agent.
    pub destination: Ipv6Addr,
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
