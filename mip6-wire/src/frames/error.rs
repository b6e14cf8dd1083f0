//! Errors of building and opening frames: each names the layer that refused.

use crate::{esp, ext, mh, tunnel, Layer};

/// Why a frame could not be built or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The IPv6 header chain was malformed (RFC 8200 §4, RFC 6275 §6.3–6.4).
    #[error("header chain: {0}")]
    Headers(#[from] ext::ChainError),
    /// ESP refused to seal or open (RFC 4303).
    #[error("ESP: {0}")]
    Esp(#[from] esp::Error),
    /// The decrypted Mobility Header was malformed or its checksum wrong (RFC 6275 §6.1).
    #[error("Mobility Header: {0}")]
    Mobility(#[from] mh::Error),
    /// The tunnelled inner packet was malformed or could not be forwarded (RFC 2473).
    #[error("tunnel: {0}")]
    Tunnel(#[from] tunnel::Error),
    /// The packet's header chain ends in something other than ESP: every frame of
    /// ours is ESP-protected (RFC 3776 §3).
    #[error("header chain ends at offset {offset} in next header {next_header}, not ESP")]
    NotEsp {
        /// Offset of the final header.
        offset: usize,
        /// Its protocol number.
        next_header: u8,
    },
    /// The caller's buffer cannot hold the frame.
    #[error("buffer of {actual} octets cannot hold a frame of {needed}")]
    NoRoom {
        /// Octets the frame needs.
        needed: usize,
        /// Octets the buffer has.
        actual: usize,
    },
    /// More extra mobility options than a signalling frame carries.
    #[error("{count} extra mobility options, at most {max} fit a signalling frame")]
    TooManyOptions {
        /// Options given.
        count: usize,
        /// The limit, [`MAX_EXTRA_OPTIONS`](super::MAX_EXTRA_OPTIONS).
        max: usize,
    },
    /// The inner packet's own length (40 + Payload Length) differs from the length the
    /// caller gave.
    #[error("inner packet of {given} octets declares {declared}")]
    InnerLength {
        /// Octets the caller said the inner packet has.
        given: usize,
        /// Octets its IPv6 header declares.
        declared: usize,
    },
    /// The frame would exceed the largest Mobility Header or IPv6 payload.
    #[error("frame of {length} octets is too long")]
    TooLong {
        /// Octets it would need.
        length: usize,
    },
}

impl FrameError {
    /// The layer that refused the frame; `None` for errors of building (buffer,
    /// option count, length), which concern no received octet.
    pub fn layer(&self) -> Option<Layer> {
        match self {
            FrameError::Headers(e) => Some(e.layer()),
            FrameError::Esp(e) => Some(e.layer()),
            FrameError::Mobility(e) => Some(e.layer()),
            FrameError::Tunnel(e) => Some(e.layer()),
            FrameError::NotEsp { .. } => Some(Layer::ExtensionHeader),
            FrameError::InnerLength { .. } => Some(Layer::Tunnel),
            FrameError::NoRoom { .. }
            | FrameError::TooManyOptions { .. }
            | FrameError::TooLong { .. } => None,
        }
    }

    /// Offset of the octet the error is about, where one is known. Header-chain,
    /// Mobility Header and tunnel errors count from the frame's first octet; ESP errors
    /// from the ESP header's first octet (located by [`EspFrame::esp`](super::EspFrame)).
    pub fn offset(&self) -> Option<usize> {
        match self {
            FrameError::Headers(e) => Some(e.offset()),
            FrameError::Esp(e) => Some(e.offset()),
            FrameError::Mobility(e) => Some(e.offset()),
            FrameError::Tunnel(e) => Some(e.offset()),
            FrameError::NotEsp { offset, .. } => Some(*offset),
            FrameError::InnerLength { .. }
            | FrameError::NoRoom { .. }
            | FrameError::TooManyOptions { .. }
            | FrameError::TooLong { .. } => None,
        }
    }
}
