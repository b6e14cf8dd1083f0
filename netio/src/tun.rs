//! The TUN device (tun-rs over `/dev/net/tun`, Linux `Documentation/networking/tuntap.rst`):
//! the user-side end of the data path. The HA reads packets for bound HoAs from it and
//! writes decapsulated ones into it; the MN does the same for its HoA traffic.
//!
//! The device is created in the calling thread's network namespace, in TUN mode without
//! packet information (`IFF_TUN | IFF_NO_PI`). It is given its MTU and addresses and
//! brought up before [`Tun::open`] returns, and it disappears when the [`Tun`] is dropped
//! (not persistent). Addresses on a TUN need no DAD (the kernel skips DAD on `IFF_NOARP`
//! devices), so they are usable at once.
//!
//! **Offloads** ([`TunConfig::offload`], on by default). The device is opened with
//! `IFF_VNET_HDR` and `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)` (plus the UDP
//! segmentation flags where the kernel has them), so every read and write carries a
//! `virtio_net_hdr` (`include/uapi/linux/virtio_net.h`):
//! - reading, the kernel hands over TCP super-packets of up to 64 KiB (the local sender's
//!   TSO/GSO, or what was forwarded as one), which [`Tun::recv_segments`] splits back into
//!   MTU-sized packets with their own headers and checksums (tun-rs `gso_split`), so the
//!   engine still sees one inner packet per tunnel frame;
//! - writing, [`TunWriteBatch`] coalesces consecutive in-order TCP segments of one flow
//!   into one super-packet (tun-rs's port of wireguard-go's TCP/UDP GRO) and writes it once
//!   with `gso_type` TCPV6/TCPV4, so the kernel forwards it, and the receiver's TCP takes it,
//!   once per batch instead of once per segment.
//!
//! The packets the engines see and produce are the same either way; only the number of
//! system calls and of passes through the kernel's stack changes. If the kernel refuses the
//! offload flags, [`Tun::open`] falls back to a plain device and says so in a warning.
//!
//! MTU: choose it so that an inner packet plus the tunnel overhead (outer IPv6 header,
//! ESP header, IV, padding, ICV) fits the physical link — docs/architecture.md: otherwise the kernel
//! fragments silently. Segments split from a super-packet respect it.
//!
//! Not done: `IFF_MULTI_QUEUE` (one queue per worker thread; the daemons are
//! single-threaded).

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use tun_rs::{GROTable, VIRTIO_NET_HDR_LEN};

use crate::sys::if_index;
use crate::Error;

/// Octets of the buffer [`Tun::recv_segments`] reads one (super-)packet into: the
/// `virtio_net_hdr` plus the largest IPv6 packet (64 KiB).
pub const READ_SCRATCH_LEN: usize = VIRTIO_NET_HDR_LEN + 65_535;

/// Buffers to give each [`Tun::recv_segments`] call: a 64 KiB super-packet cut into
/// 512-octet segments (the smallest MSS a TCP peer may announce, RFC 9293 §3.7.1, gives
/// 536) still fits.
pub const SEGMENTS_PER_READ: usize = 128;

/// How to create a TUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunConfig {
    /// Interface name (at most 15 octets, `IFNAMSIZ - 1`).
    pub name: String,
    /// MTU in octets (IPv6 needs at least 1280, RFC 8200 §5).
    pub mtu: u16,
    /// Addresses with their prefix lengths; may be empty (the HA's TUN needs none).
    pub addresses: Vec<(Ipv6Addr, u8)>,
    /// Open with `IFF_VNET_HDR` and TSO/checksum offloads (see the module docs).
    pub offload: bool,
}

/// An open TUN device, up, non-blocking.
pub struct Tun {
    dev: tun_rs::SyncDevice,
    name: String,
    ifindex: u32,
    mtu: u16,
    offload: bool,
}

impl std::fmt::Debug for Tun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tun")
            .field("name", &self.name)
            .field("ifindex", &self.ifindex)
            .field("offload", &self.offload)
            .finish()
    }
}

impl Tun {
    /// Creates the TUN named in `cfg`, sets its MTU and addresses, brings it up and makes
    /// its descriptor non-blocking. With `cfg.offload`, a kernel that refuses the offload
    /// flags gets a plain device (and a warning) instead of an error.
    pub fn open(cfg: &TunConfig) -> Result<Self, Error> {
        let build = |offload: bool| {
            let mut b = tun_rs::DeviceBuilder::new()
                .name(cfg.name.clone())
                .mtu(cfg.mtu)
                .offload(offload)
                .enable(true);
            for &(addr, prefix) in &cfg.addresses {
                b = b.ipv6(addr, prefix);
            }
            b.build_sync()
        };
        let (dev, offload) = match build(cfg.offload) {
            Ok(dev) => (dev, cfg.offload),
            Err(e) if cfg.offload => {
                tracing::warn!(tun = %cfg.name, error = %e, "TUN offloads refused; one system call per packet");
                let dev = build(false).map_err(|source| Error::Tun {
                    op: "create",
                    source,
                })?;
                (dev, false)
            }
            Err(source) => {
                return Err(Error::Tun {
                    op: "create",
                    source,
                })
            }
        };
        dev.set_nonblocking(true).map_err(|source| Error::Tun {
            op: "set non-blocking",
            source,
        })?;
        let ifindex = if_index(&cfg.name)?;
        Ok(Tun {
            dev,
            name: cfg.name.clone(),
            ifindex,
            mtu: cfg.mtu,
            offload,
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

    /// The MTU the device was given: no packet [`Tun::recv_segments`] returns is longer.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// Whether the device runs with offloads (`IFF_VNET_HDR`).
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// Reads one packet the kernel routed into the TUN, or one super-packet split into
    /// segments: packet `k` lands at `bufs[k][offset..offset + sizes[k]]`. Returns how
    /// many packets were filled; `ErrorKind::WouldBlock` when none is queued.
    ///
    /// `scratch` must hold [`READ_SCRATCH_LEN`] octets (it is used only with offloads);
    /// give at least [`SEGMENTS_PER_READ`] buffers, each with `offset + mtu` octets. A
    /// super-packet that does not fit is consumed and reported as `InvalidInput`.
    ///
    /// With offloads, a UDP checksum the reader had to complete and that came out as
    /// 0x0000 is written as 0xFFFF (RFC 8200 §8.1; see [`crate::udp_checksum`]).
    pub fn recv_segments(
        &self,
        scratch: &mut [u8],
        bufs: &mut [Vec<u8>],
        sizes: &mut [usize],
        offset: usize,
    ) -> io::Result<usize> {
        let n = self.dev.recv_multiple(scratch, bufs, sizes, offset)?;
        if self.offload {
            for (buf, &size) in bufs.iter_mut().zip(sizes.iter()).take(n) {
                if let Some(packet) = buf.get_mut(offset..offset + size) {
                    crate::udp_checksum::repair_zero_udp_checksum(packet);
                }
            }
        }
        Ok(n)
    }

    /// Writes the batch's packets into the kernel (as if they arrived on the TUN),
    /// coalesced where offloads allow, and empties the batch. Returns the octets written;
    /// when a write fails, the others are still tried and the last error is returned.
    pub fn send_batch(&self, batch: &mut TunWriteBatch) -> io::Result<usize> {
        if batch.len == 0 {
            return Ok(0);
        }
        let r = self.dev.send_multiple(
            &mut batch.gro,
            &mut batch.bufs[..batch.len],
            VIRTIO_NET_HDR_LEN,
        );
        batch.len = 0;
        r
    }

    /// Reads one packet without offloads (tun(4) semantics: a short buffer gets the head).
    /// With offloads the read starts with the `virtio_net_hdr`: use
    /// [`Tun::recv_segments`].
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.dev.recv(buf)
    }

    /// Writes one full IPv6 packet without offloads. With offloads, use
    /// [`Tun::send_batch`].
    pub fn send(&self, packet: &[u8]) -> io::Result<usize> {
        self.dev.send(packet)
    }
}

/// Packets queued for one [`Tun::send_batch`]: each is copied behind room for the
/// `virtio_net_hdr`, into a buffer large enough for the coalesced super-packet (64 KiB),
/// kept from batch to batch so the path allocates nothing once warm.
pub struct TunWriteBatch {
    gro: GROTable,
    bufs: Vec<Vec<u8>>,
    len: usize,
}

/// Capacity of each buffer: coalescing needs `2 × offset + coalesced length` (tun-rs).
const WRITE_BUF_CAPACITY: usize = 2 * VIRTIO_NET_HDR_LEN + 65_535;

impl Default for TunWriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TunWriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunWriteBatch")
            .field("len", &self.len)
            .finish()
    }
}

impl TunWriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        TunWriteBatch {
            gro: GROTable::default(),
            bufs: Vec::new(),
            len: 0,
        }
    }

    /// Queues a copy of one IPv6 packet (at most 65 535 octets; longer ones are refused
    /// with `false`).
    pub fn push(&mut self, packet: &[u8]) -> bool {
        if packet.is_empty() || packet.len() > 65_535 {
            return false;
        }
        if self.len == self.bufs.len() {
            self.bufs.push(Vec::with_capacity(WRITE_BUF_CAPACITY));
        }
        let buf = &mut self.bufs[self.len];
        buf.clear();
        buf.resize(VIRTIO_NET_HDR_LEN, 0);
        buf.extend_from_slice(packet);
        self.len += 1;
        true
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
