//! Registering this crate's descriptors with tokio's reactor (`AsyncFd`).
//!
//! tokio 1.54 deprecated the safe `AsyncFd::new` (tokio PR #8587): registration is sound
//! only if the descriptor stays open and is not replaced while the `AsyncFd` holds it,
//! which tokio cannot check, so `AsyncFd::register` is `unsafe`. The daemons forbid
//! `unsafe`; this module is where the promise is made, once, for the types of this
//! crate, which own their descriptor for their whole life and never swap it.
//!
//! Not supported: registering descriptors of other types (implement [`OwnedIo`] only
//! for a type that keeps the same promise).

use std::io;
use std::os::fd::AsRawFd;

use tokio::io::unix::AsyncFd;

use crate::{EspUdpSocket, PacketSocket, RawReceiver, RawSender, Tun};

mod sealed {
    pub trait Sealed {}
}

/// A type of this crate that owns its descriptor from creation to drop and never
/// replaces or closes it in between (sealed: only this crate's types).
pub trait OwnedIo: AsRawFd + sealed::Sealed {}

impl sealed::Sealed for PacketSocket {}
impl OwnedIo for PacketSocket {}
impl sealed::Sealed for RawReceiver {}
impl OwnedIo for RawReceiver {}
impl sealed::Sealed for RawSender {}
impl OwnedIo for RawSender {}
impl sealed::Sealed for Tun {}
impl OwnedIo for Tun {}
impl sealed::Sealed for EspUdpSocket {}
impl OwnedIo for EspUdpSocket {}

/// Registers `io` (already non-blocking) with the current tokio runtime's reactor, for
/// read and write readiness. Outside a tokio runtime it is an error (tokio would panic).
pub fn register<T: OwnedIo>(io: T) -> io::Result<AsyncFd<T>> {
    if let Err(e) = tokio::runtime::Handle::try_current() {
        return Err(io::Error::other(e));
    }
    // SAFETY: `OwnedIo` is sealed to this crate's socket and TUN types, each of which
    // owns its descriptor (a socket2::Socket or tun-rs device field) from creation to
    // drop, exposes no way to close or replace it, and is moved into the AsyncFd here,
    // so the descriptor stays open and the same for as long as the AsyncFd holds it.
    unsafe { AsyncFd::register(io) }.map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registering_outside_a_runtime_is_an_error_not_a_panic() {
        // Opening a raw socket needs CAP_NET_RAW; without it there is nothing to test.
        let Ok(sender) = RawSender::open(None) else {
            return;
        };
        assert!(register(sender).is_err());
    }

    #[test]
    fn registering_in_a_runtime_works() {
        let Ok(sender) = RawSender::open(None) else {
            return;
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        rt.block_on(async {
            let fd = register(sender).unwrap();
            assert!(fd.get_ref().as_raw_fd() >= 0);
        });
    }
}
