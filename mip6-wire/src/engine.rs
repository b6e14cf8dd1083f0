//! The shape both engines share: the sans-IO contract of the home agent (`mip6-ha`)
//! and the mobile node (`mip6-mn`), in quinn-proto's manner, and the values that cross
//! it.
//!
//! An engine never reads a clock, a socket or an RNG it was not given. Its driver
//! (`mip6-daemon`'s shell, or a test's stepper) does four things and nothing else:
//!
//! 1. feeds every received frame to [`Engine::handle`], every packet the host wants
//!    tunnelled to [`Engine::seal_data`], and calls [`Engine::handle_timeout`] when
//!    [`Engine::poll_timeout`] has passed;
//! 2. then drains [`Engine::poll_event`] **first**, storing every persistence record
//!    an event carries before anything of that round is sent: outbound ESP sequence
//!    numbers are reserved ahead of use in those records, so a crash never makes a
//!    (key, sequence number) pair be sealed twice (RFC 4303 §3.3.3; the project's
//!    invariant 2, `docs/architecture.md`);
//! 3. then sends what [`Engine::poll_transmit`] yields and the sealed data frames,
//!    and delivers the inner packets of [`Received::Delivered`] to the host;
//! 4. sleeps until [`Engine::poll_timeout`].
//!
//! Every value the driver needs to count or route a frame is in what the engine
//! returns (the SPI that opened or sealed it, its destination), so a driver never
//! walks a header chain the engine has already walked.

use core::fmt;
use core::ops::Range;
use std::net::Ipv6Addr;

use crate::Time;

/// A signalling frame the engine built and (where the protocol protects it) sealed:
/// send it as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The IPv6 destination of the frame.
    pub destination: Ipv6Addr,
    /// The whole IPv6 packet.
    pub frame: Vec<u8>,
    /// The SPI of the ESP SA that sealed it (RFC 4303 §2.1), if it is ESP-protected.
    pub spi: Option<u32>,
}

/// What became of a frame given to [`Engine::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received<D> {
    /// A tunnelled packet, decrypted in place: deliver the inner IPv6 packet found at
    /// this range of the frame (RFC 6275 §10.4.5 at the home agent, §11.3.1 at the
    /// mobile node).
    Delivered {
        /// The inner IPv6 packet's octets in the frame buffer.
        inner: Range<usize>,
        /// The SPI of the SA that opened the frame.
        spi: u32,
    },
    /// Signalling the engine handled (a reply may be queued for
    /// [`Engine::poll_transmit`]).
    Consumed {
        /// The SPI of the SA that opened the frame, if it was ESP-protected.
        spi: Option<u32>,
    },
    /// Dropped, counted under this reason and traced by the engine.
    Dropped(D),
}

impl<D> Received<D> {
    /// The SPI of the SA that opened the frame (none for a drop or an unprotected
    /// frame).
    pub fn spi(&self) -> Option<u32> {
        match self {
            Received::Delivered { spi, .. } => Some(*spi),
            Received::Consumed { spi } => *spi,
            Received::Dropped(_) => None,
        }
    }

    /// Whether the engine authenticated the frame (anything but a drop): only such a
    /// frame may teach a driver anything about its sender.
    pub fn is_authenticated(&self) -> bool {
        !matches!(self, Received::Dropped(_))
    }
}

/// A data frame sealed in place by [`Engine::seal_data`]: its first `len` octets of
/// the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame {
    /// Octets of the frame at the start of the buffer.
    pub len: usize,
    /// The outer destination: the care-of address (home agent) or the home agent
    /// (mobile node).
    pub destination: Ipv6Addr,
    /// The SPI of the SA that sealed it.
    pub spi: u32,
}

/// The sans-IO engine contract (module docs). Implemented by `mip6_ha::HomeAgent` and
/// `mip6_mn::MobileNode`; driven by `mip6_daemon`'s shell and by the test kit.
pub trait Engine {
    /// What the driver must act on (routes, logs, persistence records).
    type Event;
    /// Why a received frame was dropped.
    type DropReason: Copy + fmt::Debug + fmt::Display;
    /// Why a packet could not be tunnelled.
    type DataError: std::error::Error;

    /// Takes a frame received from the network, decrypting it in place.
    fn handle(&mut self, now: Time, frame: &mut [u8]) -> Received<Self::DropReason>;

    /// Seals the IPv6 packet at `buf[frames::DATA_HEADROOM..][..inner_len]` into a
    /// tunnel frame in place (`buf` needs room for the ESP trailer behind it).
    fn seal_data(
        &mut self,
        now: Time,
        buf: &mut [u8],
        inner_len: usize,
    ) -> Result<DataFrame, Self::DataError>;

    /// Acts on every deadline passed at `now`.
    fn handle_timeout(&mut self, now: Time);

    /// The next deadline, if any.
    fn poll_timeout(&self) -> Option<Time>;

    /// The next signalling frame to send (after the events are drained).
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_opened_frames_carry_an_spi_and_count_as_authenticated() {
        let delivered: Received<()> = Received::Delivered {
            inner: 0..40,
            spi: 0x1001,
        };
        assert_eq!(delivered.spi(), Some(0x1001));
        assert!(delivered.is_authenticated());
        let consumed: Received<()> = Received::Consumed { spi: None };
        assert_eq!(consumed.spi(), None);
        assert!(consumed.is_authenticated());
        let dropped: Received<&str> = Received::Dropped("bad_icv");
        assert_eq!(dropped.spi(), None);
        assert!(!dropped.is_authenticated());
    }
}
