//! ESP, the Encapsulating Security Payload (RFC 4303), with AES-GCM (RFC 4106),
//! sealed and opened in place.
//!
//! What is implemented:
//!
//! - The ESP packet layout of RFC 4303 §2 with the AES-GCM payload of RFC 4106 §3:
//!   SPI (4) ‖ Sequence Number (4) ‖ explicit IV (8) ‖ ciphertext of
//!   (payload ‖ padding ‖ Pad Length ‖ Next Header) ‖ ICV (16). See [`packet`].
//! - AES-128-GCM and AES-256-GCM with a 16-octet ICV (RFC 4106 §8.1 "AES-GCM with
//!   16 octet ICV"), behind the [`EspAead`] trait: [`AesGcmAead`] and [`AesGcmInline`]
//!   (RustCrypto `aes-gcm`) by default; `RingAead` (the `ring` crate, about twice as
//!   fast, but its build needs a C compiler) with the non-default `ring` feature.
//! - Nonce = 4-octet salt ‖ 8-octet explicit IV (RFC 4106 §4); the explicit IV is the
//!   SA's 64-bit sequence counter in network order (RFC 4106 §3.1 allows any unique
//!   value; using the counter is docs/architecture.md's choice). AAD = SPI ‖ 32-bit Sequence Number
//!   (RFC 4106 §5, no ESN).
//! - Padding 1, 2, 3, ... (RFC 4303 §2.4) so that Pad Length and Next Header end on a
//!   4-octet boundary; the receiver checks the padding octets (RFC 4303 §2.4 "SHOULD").
//! - The outbound sequence counter never cycles (RFC 4303 §3.3.3): [`OutboundSa::seal`]
//!   fails with [`Error::SequenceExhausted`] once 2^32 − 1 has been used.
//! - The anti-replay window of RFC 4303 §3.4.3 / Appendix A ([`ReplayWindow`]), checked
//!   before decryption and updated only after the ICV verified.
//!
//! **Transport and tunnel mode** differ here only by the Next Header value the caller
//! passes to [`OutboundSa::seal`] and reads from [`Opened::next_header`]: 135 (Mobility
//! Header) in transport mode for BU/BA, 41 (IPv6) in tunnel mode with a whole inner IPv6
//! packet as payload (RFC 4303 §3.1). Placing the ESP header in the outer packet is the
//! caller's job.
//!
//! **Not supported**: Extended Sequence Numbers (RFC 4303 §2.2.1, Appendix B); ICV lengths
//! other than 16; AES-GMAC (RFC 4543) and any non-AEAD transform; TFC padding
//! (RFC 4303 §2.7); generating dummy packets (next header 59 — they are opened like any
//! other packet and the caller drops them, see [`Opened::is_dummy`]); SA lookup by
//! anything but the SPI (the SA table is [`crate::keys::table`]).
//!
//! No function in this module allocates or panics on a per-packet path: seal and open
//! work inside the caller's buffer, and every length is checked before it is used.

/// Instantiates generic checks `fn check<A: EspAead>()` as one `#[test]` per AEAD the
/// build has, each in a module named for the AEAD: the known-answer tests run against
/// every implementation, not only the default one.
#[cfg(test)]
macro_rules! test_every_aead {
    ($($check:ident),+ $(,)?) => {
        mod aes_gcm_boxed {
            $(#[test]
            fn $check() {
                super::$check::<$crate::esp::AesGcmAead>();
            })+
        }
        mod aes_gcm_inline {
            $(#[test]
            fn $check() {
                super::$check::<$crate::esp::AesGcmInline>();
            })+
        }
        #[cfg(feature = "ring")]
        mod ring {
            $(#[test]
            fn $check() {
                super::$check::<$crate::esp::RingAead>();
            })+
        }
    };
}

pub mod aead;
pub mod packet;
pub mod replay;
#[cfg(feature = "ring")]
pub mod ring_aead;
pub mod sa;

#[cfg(any(test, fuzzing, feature = "null-aead"))]
pub use aead::NullAead;
pub use aead::{AeadError, AesGcmAead, AesGcmInline, EspAead, SaKey, Suite};
pub use packet::{Packet, Repr, Spi};
pub use replay::ReplayWindow;
#[cfg(feature = "ring")]
pub use ring_aead::RingAead;
pub use sa::{open_with, padding_len, sealed_len, trailer_len, InboundSa, Opened, OutboundSa};

use crate::{Layer, LenError};

/// Length of the ESP header: SPI and Sequence Number (RFC 4303 §2).
pub const HEADER_LEN: usize = 8;
/// Length of the explicit IV carried by AES-GCM ESP (RFC 4106 §3.1).
pub const IV_LEN: usize = 8;
/// Offset of the payload in an ESP packet: header and IV (RFC 4106 §3).
pub const PAYLOAD_OFFSET: usize = HEADER_LEN + IV_LEN;
/// Length of the Integrity Check Value (RFC 4106 §6: 16 octets, the only size supported).
pub const ICV_LEN: usize = 16;
/// Length of the salt that prefixes the explicit IV in the nonce (RFC 4106 §4).
pub const SALT_LEN: usize = 4;
/// Length of the AES-GCM nonce: salt ‖ explicit IV (RFC 4106 §4).
pub const NONCE_LEN: usize = SALT_LEN + IV_LEN;
/// Pad Length and Next Header octets (RFC 4303 §2.5, §2.6).
pub const TRAILER_FIXED_LEN: usize = 2;
/// Shortest ESP packet that can be opened: header, IV, Pad Length, Next Header, ICV.
pub const MIN_PACKET_LEN: usize = PAYLOAD_OFFSET + TRAILER_FIXED_LEN + ICV_LEN;
/// Next Header value "No Next Header": a dummy packet to be dropped (RFC 4303 §2.6).
pub const NEXT_HEADER_DUMMY: u8 = 59;

/// Everything that can go wrong sealing or opening an ESP packet (RFC 4303, RFC 4106).
///
/// Offsets count octets from the first octet of the ESP header in the buffer handed to
/// [`OutboundSa::seal`] or [`InboundSa::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The packet is shorter than header + IV + Pad Length + Next Header + ICV.
    #[error(transparent)]
    Truncated(#[from] LenError),
    /// The buffer handed to `seal` has no room for header, payload and trailer.
    #[error("ESP at offset 0: sealing needs {needed} octets of buffer, only {actual} present")]
    NoRoom {
        /// Octets `seal` needs (see [`sealed_len`]).
        needed: usize,
        /// Octets the buffer has.
        actual: usize,
    },
    /// SPI 0 or 1..=255, reserved by RFC 4303 §2.1; never sent, never accepted.
    #[error("ESP SPI at offset 0: {spi:#010x} is reserved (RFC 4303 §2.1)")]
    ReservedSpi {
        /// The reserved value.
        spi: u32,
    },
    /// The SPI is not the one of the SA the packet was handed to.
    #[error("ESP SPI at offset 0: {spi:#010x} does not belong to this SA ({expected:#010x})")]
    WrongSpi {
        /// SPI in the packet.
        spi: u32,
        /// SPI of the SA.
        expected: u32,
    },
    /// No SA in the table has this SPI (RFC 4303 §3.4.2: discard, auditable event).
    #[error("ESP SPI at offset 0: no SA for {spi:#010x}")]
    UnknownSpi {
        /// SPI in the packet.
        spi: u32,
    },
    /// Sequence Number 0 is never sent (the counter starts at 1, RFC 4303 §3.3.3).
    #[error("ESP Sequence Number at offset 4: 0 is never valid (RFC 4303 §3.3.3)")]
    SequenceZero,
    /// The Sequence Number was already received in the window (RFC 4303 §3.4.3).
    #[error("ESP Sequence Number at offset 4: {seq} already received (replay)")]
    Replayed {
        /// The replayed sequence number.
        seq: u32,
    },
    /// The Sequence Number lies left of the anti-replay window (RFC 4303 §3.4.3).
    #[error("ESP Sequence Number at offset 4: {seq} is left of the anti-replay window")]
    TooOld {
        /// The stale sequence number.
        seq: u32,
    },
    /// The ICV did not verify (RFC 4303 §3.4.4): forged, corrupted or wrong key.
    #[error("ESP ICV at offset {offset}: integrity check failed for sequence number {seq}")]
    BadIcv {
        /// Offset of the ICV.
        offset: usize,
        /// Sequence number of the rejected packet (unauthenticated).
        seq: u32,
    },
    /// The Pad Length asks for more padding than the ciphertext holds (RFC 4303 §2.5).
    #[error("ESP Pad Length at offset {offset}: {pad_len} octets of padding do not fit")]
    BadPadLength {
        /// Offset of the Pad Length octet.
        offset: usize,
        /// The Pad Length value.
        pad_len: u8,
    },
    /// A padding octet is not the 1, 2, 3, ... of RFC 4303 §2.4.
    #[error("ESP padding at offset {offset}: octet is not the RFC 4303 §2.4 sequence")]
    BadPadding {
        /// Offset of the first wrong padding octet.
        offset: usize,
    },
    /// The outbound counter used 2^32 − 1: the SA must be rekeyed (RFC 4303 §3.3.3).
    #[error("ESP Sequence Number: counter exhausted, rekey the SA (RFC 4303 §3.3.3)")]
    SequenceExhausted,
    /// The AEAD refused to seal (only for inputs longer than AES-GCM allows).
    #[error("ESP at offset 0: the AEAD refused to seal")]
    SealFailed,
}

impl Error {
    /// The layer at fault: always [`Layer::Esp`].
    pub const fn layer(&self) -> Layer {
        match self {
            Error::Truncated(e) => e.layer,
            _ => Layer::Esp,
        }
    }

    /// Offset, from the ESP header's first octet, of the field the error is about: the
    /// SPI (0), the Sequence Number (4), the ICV, Pad Length or padding octet; 0 for
    /// errors of sealing, which concern the whole buffer.
    pub const fn offset(&self) -> usize {
        match self {
            Error::Truncated(e) => e.offset,
            Error::BadIcv { offset, .. }
            | Error::BadPadLength { offset, .. }
            | Error::BadPadding { offset } => *offset,
            Error::SequenceZero | Error::Replayed { .. } | Error::TooOld { .. } => 4,
            Error::NoRoom { .. }
            | Error::ReservedSpi { .. }
            | Error::WrongSpi { .. }
            | Error::UnknownSpi { .. }
            | Error::SequenceExhausted
            | Error::SealFailed => 0,
        }
    }
}
