//! Receiving BU/BA signalling and tunnel frames from an `AF_PACKET` socket (packet(7)),
//! before the kernel's IPv6 stack drops them.
//!
//! A kernel without `CONFIG_IPV6_MIP6` discards packets with a Home Address option or a
//! type 2 routing header (and answers with ICMPv6 Parameter Problem, which [`crate::nft`]
//! suppresses), so raw IPv6 sockets never see a BU or a BA. A `SOCK_DGRAM`/`ETH_P_IPV6`
//! packet socket sees every frame with its link-layer header removed; the classic BPF
//! program of [`crate::bpf`] keeps only signalling and unfragmented ESP for our address,
//! so the daemon wakes for nothing else, and [`crate::nft`] drops both at prerouting.
//!
//! Why not pnet (the card's choice for packet I/O): pnet's datalink channel neither attaches
//! a BPF filter nor batches receives with `recvmmsg(2)`, and it reads whole Ethernet frames;
//! socket2 (which attaches the filter) plus libc (`bind`, `recvmmsg`) do both in a few lines.
//!
//! The socket is non-blocking: [`PacketSocket::recv_batch`] returns
//! `ErrorKind::WouldBlock` when nothing is queued, so a reactor can wait on
//! [`AsRawFd::as_raw_fd`]. Frames we send ourselves are not looped back
//! (`PACKET_IGNORE_OUTGOING`, Linux 4.20).
//!
//! Frames the kernel drops because the socket's receive buffer is full are counted by the
//! kernel, not seen by us: [`PacketSocket::take_drops`] reads (and resets) that count.
//!
//! Not supported: `PACKET_MMAP` rings, VLAN tags, several local addresses in one filter
//! other than a whole /64 ([`PacketSocket::open_prefix64`]); open one socket per address,
//! or call [`PacketSocket::set_local_address`] when the MN's care-of address changes.

use std::io;
use std::mem;
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::bpf;
use crate::sys::{cvt, if_index, raw, setsockopt, MAX_BATCH};
use crate::Error;

/// `PACKET_IGNORE_OUTGOING` from linux/if_packet.h (not in the libc crate).
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// What one received frame was (filled by the `recv_batch` calls of this crate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvMeta {
    /// Octets written into the caller's buffer.
    pub len: usize,
    /// True when the frame was longer than the buffer and its tail was cut (`MSG_TRUNC`).
    /// The engine must drop such a frame: its lengths will not add up.
    pub truncated: bool,
    /// The interface it arrived on (0 when the kernel did not say).
    pub ifindex: u32,
    /// The link-layer (Ethernet) source of a frame sent to this host, i.e. the
    /// neighbour that handed it over (the router, for a peer off-link); `None` for other
    /// link types and for sockets that do not report it ([`crate::RawReceiver`]).
    pub link_source: Option<[u8; 6]>,
    /// The link-layer (Ethernet) source of the frame whatever it was sent to (this
    /// host, a multicast group): the sender on the link. `None` for other link types
    /// and for sockets that do not report it.
    pub link_sender: Option<[u8; 6]>,
}

impl RecvMeta {
    /// The neighbour the frame came through, as a next hop to answer through
    /// ([`crate::LinkSender`]); `None` when the source or the interface is unknown.
    pub fn next_hop(&self) -> Option<crate::NextHop> {
        match (self.ifindex, self.link_source) {
            (0, _) | (_, None) => None,
            (ifindex, Some(mac)) => Some(crate::NextHop { ifindex, mac }),
        }
    }
}

/// An `AF_PACKET`/`SOCK_DGRAM` socket receiving IPv6 signalling for one local address.
#[derive(Debug)]
pub struct PacketSocket {
    sock: Socket,
    ifindex: u32,
}

impl PacketSocket {
    /// Sizes the receive buffer for a burst of `bytes` (`SO_RCVBUFFORCE`, else
    /// `SO_RCVBUF`): the kernel default (~208 KiB) dropped retransmitted Binding
    /// Updates above ~256 in flight (issue 13). Returns the size the kernel reports.
    pub fn set_receive_buffer(&self, bytes: usize) -> Result<usize, Error> {
        crate::sys::set_receive_buffer(&self.sock, bytes)
            .map_err(Error::sys("setsockopt(SO_RCVBUFFORCE) on a packet socket"))
    }

    /// Opens a packet socket on interface `ifname` (`None`: every interface of this
    /// network namespace) passing only frames [`bpf::signalling_filter`] accepts for
    /// `local`.
    ///
    /// The socket is created with protocol 0 (it receives nothing), the filter is
    /// attached, and only then is it bound to `ETH_P_IPV6` and the interface, so not one
    /// unfiltered frame is ever queued (packet(7), "bind").
    pub fn open(ifname: Option<&str>, local: Ipv6Addr) -> Result<Self, Error> {
        let ifindex = match ifname {
            Some(n) => if_index(n)?,
            None => 0,
        };
        Self::open_filtered(ifindex, &bpf::signalling_filter(local))
    }

    /// Opens a packet socket on interface `ifname` passing the frames
    /// [`bpf::prefix64_filter`] accepts: signalling and tunnel frames to any address of
    /// the /64 `prefix` (a load generator holding a care-of address per simulated mobile
    /// node; see the filter's doc).
    pub fn open_prefix64(ifname: &str, prefix: Ipv6Addr) -> Result<Self, Error> {
        let ifindex = if_index(ifname)?;
        Self::open_filtered(ifindex, &bpf::prefix64_filter(prefix))
    }

    /// Opens a packet socket on the home link `ifname` passing only Neighbor
    /// Solicitations and Advertisements ([`bpf::neighbour_discovery_filter`]), to any
    /// destination. The interface is put in all-multicast mode for the socket's life
    /// (`PACKET_MR_ALLMULTI`, packet(7)): a solicitation goes to the target's
    /// solicited-node group, which a NIC filters out unless some socket joined it, and
    /// one membership for all groups keeps the cost the same for any number of proxied
    /// addresses.
    pub fn open_neighbour_discovery(ifname: &str) -> Result<Self, Error> {
        let ifindex = if_index(ifname)?;
        let this = Self::open_filtered(ifindex, &bpf::neighbour_discovery_filter())?;
        // SAFETY: packet_mreq is plain old data; all-zero is a valid value.
        let mut mreq: libc::packet_mreq = unsafe { mem::zeroed() };
        mreq.mr_ifindex = ifindex as i32;
        mreq.mr_type = libc::PACKET_MR_ALLMULTI as u16;
        setsockopt(
            &this.sock,
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            mreq,
        )
        .map_err(Error::sys(
            "setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_ALLMULTI)",
        ))?;
        Ok(this)
    }

    /// Opens a packet socket on every interface passing only Router and Neighbor
    /// Advertisements ([`bpf::router_discovery_filter`]): the mobile node's movement
    /// detection (RFC 6275 §11.5.1) reads the routers of its links with it, whether or
    /// not the kernel accepts advertisements itself. Advertisements go to all-nodes,
    /// which every interface receives; [`RecvMeta::ifindex`] says where each came in.
    pub fn open_router_discovery() -> Result<Self, Error> {
        Self::open_filtered(0, &bpf::router_discovery_filter())
    }

    /// The socket on `ifindex` (0: all) with `filter` attached before it is bound.
    fn open_filtered(ifindex: u32, filter: &[bpf::Insn]) -> Result<Self, Error> {
        let sock = Socket::new(Domain::PACKET, Type::DGRAM, Some(Protocol::from(0)))
            .map_err(Error::sys("socket(AF_PACKET, SOCK_DGRAM)"))?;
        let this = PacketSocket { sock, ifindex };
        this.sock
            .attach_filter(&bpf::to_socket2(filter))
            .map_err(Error::sys("setsockopt(SO_ATTACH_FILTER)"))?;
        setsockopt(
            &this.sock,
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            1 as libc::c_int,
        )
        .map_err(Error::sys("setsockopt(PACKET_IGNORE_OUTGOING)"))?;

        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IPV6 as u16).to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll for the duration of the call and the length
        // passed is its size.
        cvt(unsafe {
            libc::bind(
                raw(&this.sock),
                (&sll as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })
        .map_err(Error::sys("bind(AF_PACKET, ETH_P_IPV6)"))?;
        this.sock
            .set_nonblocking(true)
            .map_err(Error::sys("fcntl(O_NONBLOCK) on packet socket"))?;
        Ok(this)
    }

    /// Replaces the filter with one for `local` (the MN calls this when its care-of address
    /// changes). Attaching is atomic: frames are judged by the old program or the new.
    pub fn set_local_address(&self, local: Ipv6Addr) -> Result<(), Error> {
        let prog = bpf::to_socket2(&bpf::signalling_filter(local));
        self.sock
            .attach_filter(&prog)
            .map_err(Error::sys("setsockopt(SO_ATTACH_FILTER)"))
    }

    /// Frames the kernel dropped for this socket since the last call because its
    /// receive buffer was full (`PACKET_STATISTICS`, `tp_drops`, packet(7)): frames that
    /// passed the filter but that the daemon never saw. The kernel resets its counters
    /// on every read, so the caller adds the results up.
    pub fn take_drops(&self) -> io::Result<u64> {
        let mut stats = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `stats` is a live tpacket_stats and `len` its size; the kernel writes at
        // most `len` octets into it and the new length into `len`, both alive for the call.
        cvt(unsafe {
            libc::getsockopt(
                raw(&self.sock),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        })?;
        Ok(u64::from(stats.tp_drops))
    }

    /// The interface index the socket is bound to (0: all).
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Receives up to `min(bufs.len(), meta.len(), MAX_BATCH)` frames with one
    /// `recvmmsg(2)`, each into its own buffer starting at the IPv6 header; `meta[i]` says
    /// what `bufs[i]` got. Returns how many were received; `ErrorKind::WouldBlock` when
    /// none is queued. Buffers of 65 535 + 40 octets never truncate.
    pub fn recv_batch(&self, bufs: &mut [&mut [u8]], meta: &mut [RecvMeta]) -> io::Result<usize> {
        let n = bufs.len().min(meta.len()).min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: iovec, sockaddr_ll and mmsghdr are plain old data; all-zero is valid.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut names: [libc::sockaddr_ll; MAX_BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { mem::zeroed() };
        for i in 0..n {
            iov[i].iov_base = bufs[i].as_mut_ptr().cast();
            iov[i].iov_len = bufs[i].len();
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_ll).cast();
            hdrs[i].msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        }
        // SAFETY: `hdrs[..n]` point at `iov`/`names` entries and caller buffers that all
        // outlive the call, with their true lengths; a null timeout is allowed.
        let got = cvt(unsafe {
            libc::recvmmsg(
                raw(&self.sock),
                hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        })? as usize;
        for i in 0..got {
            let h = &hdrs[i];
            let sll = &names[i];
            let link_sender = (sll.sll_halen == 6).then(|| {
                let a = sll.sll_addr;
                [a[0], a[1], a[2], a[3], a[4], a[5]]
            });
            let link_source = link_sender.filter(|_| sll.sll_pkttype == libc::PACKET_HOST);
            meta[i] = RecvMeta {
                len: (h.msg_len as usize).min(bufs[i].len()),
                truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                ifindex: sll.sll_ifindex.max(0) as u32,
                link_source,
                link_sender,
            };
        }
        Ok(got)
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}
