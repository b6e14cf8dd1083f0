//! The TUN device (tun-rs over `/dev/net/tun`, Linux `Documentation/networking/tuntap.rst`):
//! the user-side end of the data path. The HA reads packets for bound HoAs from it and
//! writes decapsulated ones into it; the MN does the same for its HoA traffic.
//!
//! The device is created in the calling thread's network namespace, in TUN mode without
//! packet information (`IFF_TUN | IFF_NO_PI`), so every read or write is exactly one IPv6
//! packet. It is given its MTU and addresses and brought up before [`Tun::open`] returns,
//! and it disappears when the [`Tun`] is dropped (not persistent). Addresses on a TUN need
//! no DAD (the kernel skips DAD on `IFF_NOARP` devices), so they are usable at once.
//!
//! MTU: choose it so that an inner packet plus the tunnel overhead (outer IPv6 header,
//! ESP header, IV, padding, ICV) fits the physical link — DESIGN.md: otherwise the kernel
//! fragments silently.
//!
//! Later optimisations, deliberately not done yet: `IFF_VNET_HDR` (tun-rs `offload`,
//! GSO/GRO batches) and `IFF_MULTI_QUEUE` (one queue per worker thread).

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use crate::sys::if_index;
use crate::Error;

/// How to create a TUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunConfig {
    /// Interface name (at most 15 octets, `IFNAMSIZ - 1`).
    pub name: String,
    /// MTU in octets (IPv6 needs at least 1280, RFC 8200 §5).
    pub mtu: u16,
    /// Addresses with their prefix lengths; may be empty (the HA's TUN needs none).
    pub addresses: Vec<(Ipv6Addr, u8)>,
}

/// An open TUN device, up, non-blocking.
pub struct Tun {
    dev: tun_rs::SyncDevice,
    name: String,
    ifindex: u32,
}

impl std::fmt::Debug for Tun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tun")
            .field("name", &self.name)
            .field("ifindex", &self.ifindex)
            .finish()
    }
}

impl Tun {
    /// Creates the TUN named in `cfg`, sets its MTU and addresses, brings it up and makes
    /// its descriptor non-blocking.
    pub fn open(cfg: &TunConfig) -> Result<Self, Error> {
        let mut b = tun_rs::DeviceBuilder::new()
            .name(cfg.name.clone())
            .mtu(cfg.mtu)
            .enable(true);
        for &(addr, prefix) in &cfg.addresses {
            b = b.ipv6(addr, prefix);
        }
        let dev = b.build_sync().map_err(|source| Error::Tun {
            op: "create",
            source,
        })?;
        dev.set_nonblocking(true).map_err(|source| Error::Tun {
            op: "set non-blocking",
            source,
        })?;
        let ifindex = if_index(&cfg.name)?;
        Ok(Tun {
            dev,
            name: cfg.name.clone(),
            ifindex,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface index (for routes toward the TUN, [`crate::routes`]).
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Reads one packet the kernel routed into the TUN; `ErrorKind::WouldBlock` when none
    /// is queued. A buffer shorter than the packet gets its head only (tun(4) semantics),
    /// so give it MTU octets.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.dev.recv(buf)
    }

    /// Writes one full IPv6 packet into the kernel as if it arrived on the TUN.
    pub fn send(&self, packet: &[u8]) -> io::Result<usize> {
        self.dev.send(packet)
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.dev.as_raw_fd()
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.dev.as_fd()
    }
}
