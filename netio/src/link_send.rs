//! Sending built IPv6 packets straight to a neighbour's link-layer address, on an
//! `AF_PACKET`/`SOCK_DGRAM` socket (packet(7)) with `PACKET_QDISC_BYPASS`.
//!
//! [`crate::RawSender`] makes the kernel route every packet (a FIB lookup through the
//! policy rules, `ip6_output`, the netfilter output hooks, the neighbour layer): about a
//! tenth of a sending daemon's CPU in the lab (docs/benchmarks-lab.md). For tunnel frames
//! to a peer that is already talking to us, the daemons know the next hop without asking
//! the kernel: it is the neighbour the peer's authenticated frames came through
//! ([`crate::RecvMeta::next_hop`]). This socket hands such frames to that interface's
//! driver with that destination MAC; the kernel only prepends the Ethernet header.
//!
//! What the daemons keep for themselves: signalling (BU, BA) always goes through the
//! routed [`crate::RawSender`], so the kernel's neighbour entry for the router stays
//! confirmed and a route change is seen; a next hop is used only while frames keep
//! arriving through it. Frames sent here skip the host's netfilter output and
//! postrouting hooks and its qdisc.
//!
//! Not supported: link types other than Ethernet (6-octet addresses).

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::sys::{cvt, raw, setsockopt, MAX_BATCH};
use crate::Error;

/// `PACKET_QDISC_BYPASS` from linux/if_packet.h (not in the libc crate).
const PACKET_QDISC_BYPASS: libc::c_int = 20;

/// The neighbour a frame goes to: interface and Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// Interface index.
    pub ifindex: u32,
    /// The neighbour's MAC address.
    pub mac: [u8; 6],
}

/// A send-only packet socket (see the module docs).
#[derive(Debug)]
pub struct LinkSender {
    sock: Socket,
}

impl LinkSender {
    /// Opens the socket, non-blocking. It is created with protocol 0, so it never
    /// receives anything.
    pub fn open() -> Result<Self, Error> {
        let sock = Socket::new(Domain::PACKET, Type::DGRAM, Some(Protocol::from(0)))
            .map_err(Error::sys("socket(AF_PACKET, SOCK_DGRAM)"))?;
        setsockopt(
            &sock,
            libc::SOL_PACKET,
            PACKET_QDISC_BYPASS,
            1 as libc::c_int,
        )
        .map_err(Error::sys("setsockopt(PACKET_QDISC_BYPASS)"))?;
        sock.set_nonblocking(true)
            .map_err(Error::sys("fcntl(O_NONBLOCK) on packet socket"))?;
        Ok(LinkSender { sock })
    }

    /// Sends up to `min(packets.len(), MAX_BATCH)` IPv6 packets to `via` with one
    /// `sendmmsg(2)`; returns how many the kernel took (`ErrorKind::WouldBlock` if
    /// none). A packet longer than the interface's MTU fails with `EMSGSIZE`.
    pub fn send_batch(&self, packets: &[&[u8]], via: NextHop) -> io::Result<usize> {
        let n = packets.len().min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IPV6 as u16).to_be();
        sll.sll_ifindex = i32::try_from(via.ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index"))?;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&via.mac);
        // SAFETY: iovec and mmsghdr are plain old data; all-zero is valid.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { mem::zeroed() };
        for (i, p) in packets[..n].iter().enumerate() {
            iov[i].iov_base = p.as_ptr() as *mut libc::c_void;
            iov[i].iov_len = p.len();
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
            hdrs[i].msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        }
        // SAFETY: `hdrs[..n]` point at `iov` entries, at `sll` and at caller packets, all
        // of which outlive the call; the kernel only reads through them.
        let sent = cvt(unsafe {
            libc::sendmmsg(
                raw(&self.sock),
                hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        })?;
        Ok(sent as usize)
    }
}

impl AsRawFd for LinkSender {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for LinkSender {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}
