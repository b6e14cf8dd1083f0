//! Why frames are dropped, and how many of each kind the engine saw.
//!
//! Every drop is one [`DropReason`] (typed, `Display`), counted in O(1) in
//! [`Counters`] and logged with `tracing::debug!` where it happens.

use mip6_wire::esp;
use mip6_wire::frames::FrameError;

/// Why the mobile node dropped a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DropReason {
    /// The IPv6 header chain or the ESP header was malformed, or the chain does not
    /// end in ESP (RFC 8200 §4, RFC 4303 §2).
    #[error("malformed headers")]
    Malformed,
    /// No accepted key has the frame's SPI (RFC 4303 §3.4.2).
    #[error("unknown SPI")]
    UnknownSpi,
    /// The anti-replay window refused the sequence number (RFC 4303 §3.4.3).
    #[error("replayed or too old")]
    Replayed,
    /// The ICV or the padding did not verify (RFC 4303 §3.4.4).
    #[error("integrity check failed")]
    Integrity,
    /// The decrypted Mobility Header was malformed or its checksum wrong (RFC 6275 §9.2).
    #[error("bad Mobility Header")]
    BadMobilityHeader,
    /// The tunnelled packet was not a valid IPv6 packet (RFC 2473).
    #[error("bad tunnelled packet")]
    BadTunnelledPacket,
    /// A payload that is neither a Mobility Header nor a tunnelled IPv6 packet.
    #[error("unexpected ESP payload")]
    UnexpectedPayload,
    /// The outer source is not the home agent.
    #[error("not from the home agent")]
    WrongSource,
    /// A BA without a type 2 routing header naming our home address (RFC 6275 §6.4).
    #[error("BA not for our home address")]
    WrongHomeAddress,
    /// A Mobility Header message the mobile node does not take from its home agent.
    #[error("unexpected mobility message")]
    UnexpectedMessage,
    /// A malformed or duplicated mobility option in a BA (RFC 6275 §6.2).
    #[error("bad mobility option")]
    BadOption,
    /// A BA while no Binding Update is outstanding (RFC 6275 §11.7.3).
    #[error("no Binding Update outstanding")]
    NoOutstandingUpdate,
    /// A BA whose sequence number is not the outstanding BU's (RFC 6275 §11.7.3).
    #[error("BA sequence number mismatch")]
    SequenceMismatch,
    /// A BA answering a Key Initialization Request without its timestamp echoed
    /// (docs/architecture.md "Key-management options").
    #[error("initialization timestamp not echoed")]
    InitEchoMismatch,
    /// A Key Distribution with reserved or clashing SPIs.
    #[error("unusable Key Distribution")]
    BadKeyDistribution,
    /// A tunnelled packet not addressed to our home address (RFC 6275 §11.3.1).
    #[error("inner destination is not the home address")]
    WrongInnerDestination,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 16] = [
        DropReason::Malformed,
        DropReason::UnknownSpi,
        DropReason::Replayed,
        DropReason::Integrity,
        DropReason::BadMobilityHeader,
        DropReason::BadTunnelledPacket,
        DropReason::UnexpectedPayload,
        DropReason::WrongSource,
        DropReason::WrongHomeAddress,
        DropReason::UnexpectedMessage,
        DropReason::BadOption,
        DropReason::NoOutstandingUpdate,
        DropReason::SequenceMismatch,
        DropReason::InitEchoMismatch,
        DropReason::BadKeyDistribution,
        DropReason::WrongInnerDestination,
    ];

    /// Number of reasons.
    pub const COUNT: usize = Self::ALL.len();

    const fn index(self) -> usize {
        self as usize
    }

    /// The reason an opening error means.
    pub fn from_frame_error(e: &FrameError) -> DropReason {
        match e {
            FrameError::Esp(esp) => match esp {
                esp::Error::UnknownSpi { .. } => DropReason::UnknownSpi,
                esp::Error::Replayed { .. }
                | esp::Error::TooOld { .. }
                | esp::Error::SequenceZero => DropReason::Replayed,
                esp::Error::BadIcv { .. }
                | esp::Error::BadPadLength { .. }
                | esp::Error::BadPadding { .. } => DropReason::Integrity,
                _ => DropReason::Malformed,
            },
            FrameError::Mobility(_) => DropReason::BadMobilityHeader,
            FrameError::Tunnel(_) => DropReason::BadTunnelledPacket,
            _ => DropReason::Malformed,
        }
    }
}

/// What the engine counted: frames by kind and drops by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Binding Updates sent (first transmissions and retransmissions).
    pub bu_sent: u64,
    /// Of those, retransmissions after a timeout (RFC 6275 §11.8).
    pub bu_retransmitted: u64,
    /// BAs taken with an accepting status (< 128).
    pub ba_accepted: u64,
    /// BAs taken with a refusing status (≥ 128), 135 included.
    pub ba_refused: u64,
    /// Binding Refresh Requests answered (RFC 6275 §11.7.4).
    pub brr_received: u64,
    /// BAs under init taken outside the anti-replay window because they echoed the
    /// outstanding Key Initialization timestamp (the home agent had restarted its
    /// init sequence numbers after losing its state); the window restarted there.
    pub init_window_restarts: u64,
    /// Key Distributions installed.
    pub keys_installed: u64,
    /// Key Distributions not installed because their generation is not newer.
    pub keys_ignored: u64,
    /// Times the dynamic keys were dropped for a re-initialization.
    pub keys_dropped: u64,
    /// Data frames sealed toward the home agent.
    pub data_sealed: u64,
    /// Tunnelled packets delivered.
    pub data_delivered: u64,
    /// ESP dummy packets (next header 59) discarded (RFC 4303 §2.6).
    pub dummies: u64,
    /// Persist events emitted.
    pub persists: u64,
    drops: [u64; DropReason::COUNT],
}

impl Counters {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Frames dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Every reason with its count.
    pub fn drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r, self.dropped(r)))
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter() {
        let mut c = Counters::default();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            for _ in 0..=i {
                c.drop(*r);
            }
        }
        for (i, (r, n)) in c.drops().enumerate() {
            assert_eq!(n, i as u64 + 1, "{r}");
        }
        assert_eq!(c.dropped_total(), (1..=16).sum::<u64>());
    }

    #[test]
    fn esp_errors_map_to_reasons() {
        let e = FrameError::Esp(esp::Error::Replayed { seq: 3 });
        assert_eq!(DropReason::from_frame_error(&e), DropReason::Replayed);
        let e = FrameError::Esp(esp::Error::BadIcv { offset: 1, seq: 1 });
        assert_eq!(DropReason::from_frame_error(&e), DropReason::Integrity);
        let e = FrameError::Esp(esp::Error::UnknownSpi { spi: 999 });
        assert_eq!(DropReason::from_frame_error(&e), DropReason::UnknownSpi);
        let e = FrameError::NotEsp {
            offset: 40,
            next_header: 17,
        };
        assert_eq!(DropReason::from_frame_error(&e), DropReason::Malformed);
    }
}
