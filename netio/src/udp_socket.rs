//! ESP in UDP (RFC 3948, port 4500) through a kernel UDP socket, batched both ways (issue
//! 14): a send hands the kernel one buffer of equal-size datagrams and a `UDP_SEGMENT`
//! control message (UDP GSO, Linux 4.18), and a receive with `UDP_GRO` on (Linux 5.0)
//! may get several datagrams of one flow in one buffer, their size in a `UDP_GRO`
//! control message (udp(7)). The socket carries the UDP payload, the ESP packets; the
//! kernel builds and checks the IPv6 and UDP headers around them
//! (`mip6_wire::udp_encap` is the same framing written into whole IPv6 frames).
//!
//! **Sending.** [`EspUdpSocket::send_segments`] is one `sendmsg(2)`: the kernel cuts
//! the buffer into datagrams of `segment_size` octets, the last one shorter or equal, so
//! a TUN super-packet whose sealed ESP packets are all one length but the last leaves in
//! one call. Checked before the call (`ErrorKind::InvalidInput`, a message that says
//! which limit):
//!
//! - at most [`MAX_SEGMENTS`] (64) segments: the kernel's `UDP_MAX_SEGMENTS`, 64 on
//!   every kernel with UDP GSO until it was raised; 6.18 takes 128 (measured: 128 × 100
//!   octets sent, 129 refused with `EINVAL`), 64 is what all of them take;
//! - at most [`MAX_PAYLOAD`] (65 527) octets in all, the most a UDP datagram over IPv6
//!   carries (65 535 − 8), segmented or not (measured: 65 528 is `EMSGSIZE` either way);
//! - a segment size above 0.
//!
//! Left to the kernel: a segment and its 48 octets of IPv6 and UDP header must fit the
//! route's MTU (measured on a 1500-octet veth: 1452 passes, 1453 is `EMSGSIZE`; older
//! kernels said `EINVAL`), and `EIO` when the kernel cannot segment on that route:
//! always through an xfrm (IPsec) policy (`udp_v6_send_skb`; not tried, this kernel has
//! no ESP6), and on older kernels also out of a device without checksum offload (quic-go
//! issue 3911 shows it on IPv4), until a fix ("Fixes: bec1f6f69736", Jakub Sitnicki)
//! made the segmenting code checksum in software. 6.18 has it: with checksum offload off
//! on the sending veth (`ETHTOOL_STXCSUM` 0), a segmented send still succeeded and
//! arrived as separate, valid datagrams. So [`EspUdpSocket::supports_gso`]
//! only says whether the kernel knows `UDP_SEGMENT` at all (a `setsockopt` probe at
//! bind); a driver that gets `EIO` from a segmented send sends the segments one by one
//! with [`EspUdpSocket::send_to`] from then on.
//!
//! **Receiving.** With `UDP_GRO` set ([`EspUdpSocket::gro_enabled`]), a receive may hold
//! several datagrams: [`Received::segment_size`] says how long each is (the last shorter
//! or equal) and [`Received::datagrams`] cuts the buffer into them. A buffer shorter than
//! what the kernel coalesced is cut and the rest lost ([`Received::truncated`]; measured:
//! 5 000 octets kept of 14 000), so receive into buffers of [`MAX_PAYLOAD`] octets.
//! Without `UDP_GRO` (kernel before 5.0, or refused: then [`EspUdpSocket::bind`] logs it
//! and goes on), the kernel segments a coalesced or GSO packet before queueing it and
//! every receive holds one datagram. `IPV6_PKTINFO` gives each receive the local address
//! it was sent to ([`Received::destination`]): on a socket bound to `[::]`, which of the
//! host's addresses the peer used.
//!
//! **Measured on Linux 6.18.44** (a veth pair between two namespaces, 1400-octet
//! datagrams; the veth settings were changed with `ETHTOOL_*` ioctls, as
//! `ethtool -K` does, in a throw-away experiment, not in the tests):
//!
//! - One [`EspUdpSocket::send_segments`] of 10 × 1400 octets: the veth passes the GSO
//!   packet on whole (it offers `tx-udp-segmentation`), so a receiver with `UDP_GRO` gets
//!   all 10 in **one** receive, segment size 1400, and a receiver without it gets 10
//!   receives. No GRO on the veth is involved: the packet was never split. The
//!   `netns` tests check this.
//! - Datagrams sent one by one (10, or 3 000 in a tight loop from one or two senders)
//!   are **not** coalesced with the veth's defaults: 3 000 receives for 3 000 datagrams.
//!   A veth runs GRO only with NAPI on its receiving side, which it has with an XDP
//!   program or after `ethtool -K vb gro on` (off by default); and even then it takes a
//!   locally sent datagram into GRO only when the sending veth has TSO off or the
//!   receiving one has `rx-gro-list` or `rx-udp-gro-forwarding` on
//!   (`veth_skb_is_eligible_for_gro`). Measured: `gro on` alone, or with TSO off on
//!   `va`, or with `rx-udp-gro-forwarding on` on `vb`: still one datagram per receive.
//!   Likely reason (not observed directly): the sender's own softirq polls the NAPI
//!   right after each packet, so no poll holds two. Only with threaded NAPI on `vb` as
//!   well (`echo 1 > /sys/class/net/vb/threaded`) did they coalesce: 3 000 datagrams in
//!   94 to 696 receives (it depends on timing), up to 46 in one (46 × 1400 = 64 400,
//!   under GRO's 64 KiB). `rx-udp-gro-forwarding` is named for forwarding; here it
//!   only lets the veth hand the datagram to GRO, and what coalesces it for a local
//!   socket is that socket's `UDP_GRO` (`udp_gro_receive`).
//! - Not measured: a physical NIC, whose driver always polls with NAPI and has GRO on by
//!   default; there the socket option should be all it takes (udp(7)).
//!
//! Not supported: IPv4 (the socket is `IPV6_V6ONLY`), `sendmmsg(2)` of several GSO
//! buffers in one call, fragmentation control (a datagram over the path MTU is fragmented
//! by the kernel; the driver sizes the TUN MTU so none is), UDP zero checksums.

use std::io;
use std::mem;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::sys::{
    raw, recvmmsg_in6, setsockopt, sockaddr_in6, Cmsg, RxqOverflow, MAX_BATCH, UDP_GRO, UDP_SEGMENT,
};
use crate::Error;

/// Most segments one [`EspUdpSocket::send_segments`] call takes: the kernel's
/// `UDP_MAX_SEGMENTS` of the kernels before it was raised (6.18 takes 128).
pub const MAX_SEGMENTS: usize = 64;

/// Most octets of UDP payload one datagram, or one segmented send, carries over IPv6:
/// 65 535 (the Payload Length limit) − 8 (the UDP header). Also the receive buffer length
/// that no coalesced receive overflows.
pub const MAX_PAYLOAD: usize = 65_535 - 8;

/// What one receive got (filled by [`EspUdpSocket::recv`] and
/// [`EspUdpSocket::recv_batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Octets written into the caller's buffer: one datagram, or with
    /// [`Received::segment_size`] several back to back.
    pub len: usize,
    /// Who sent it: address and UDP port (after a NAT, the NAT's; answer there).
    pub source: SocketAddrV6,
    /// The local address it was sent to (`IPV6_PKTINFO`); `None` if the kernel did not
    /// say.
    pub destination: Option<Ipv6Addr>,
    /// The interface it arrived on (`IPV6_PKTINFO`; 0 when the kernel did not say).
    pub ifindex: u32,
    /// `Some(n)` when the kernel coalesced datagrams (`UDP_GRO`): the buffer holds
    /// datagrams of `n` octets, the last one shorter or equal.
    pub segment_size: Option<u16>,
    /// True when the buffer was too short and the tail was cut (`MSG_TRUNC`): the last
    /// datagram in it is incomplete and later ones are lost; drop it.
    pub truncated: bool,
}

impl Default for Received {
    fn default() -> Self {
        Received {
            len: 0,
            source: SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0),
            destination: None,
            ifindex: 0,
            segment_size: None,
            truncated: false,
        }
    }
}

impl Received {
    /// The datagrams in `buf` (the buffer this receive filled): `segment_size` octets
    /// each, the last shorter or equal; the whole `len` octets, once, when the kernel did
    /// not coalesce (an empty datagram is one empty slice).
    pub fn datagrams<'a>(&self, buf: &'a [u8]) -> Datagrams<'a> {
        Datagrams {
            rest: &buf[..self.len.min(buf.len())],
            size: match self.segment_size {
                Some(n) if n > 0 => usize::from(n),
                _ => usize::MAX,
            },
            done: false,
        }
    }

    /// How many datagrams [`Received::datagrams`] yields.
    pub fn datagram_count(&self) -> usize {
        match self.segment_size {
            Some(n) if n > 0 && self.len > 0 => self.len.div_ceil(usize::from(n)),
            _ => 1,
        }
    }
}

/// The datagrams of a coalesced receive, in the order they were sent (from
/// [`Received::datagrams`]).
#[derive(Debug, Clone)]
pub struct Datagrams<'a> {
    rest: &'a [u8],
    size: usize,
    done: bool,
}

impl<'a> Iterator for Datagrams<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        if self.rest.len() <= self.size {
            self.done = true;
            return Some(self.rest);
        }
        let (one, rest) = self.rest.split_at(self.size);
        self.rest = rest;
        Some(one)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match (self.done, self.rest.len()) {
            (true, _) => 0,
            (false, 0) => 1,
            (false, len) => len.div_ceil(self.size),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Datagrams<'_> {}

/// Checks a segmented send against the kernel's limits (module docs) before the system
/// call, so that the caller learns which limit it broke. Returns the number of segments.
fn check_segments(len: usize, segment_size: u16) -> io::Result<usize> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    if segment_size == 0 {
        return Err(invalid("UDP GSO segment size 0".into()));
    }
    if len > MAX_PAYLOAD {
        return Err(invalid(format!(
            "UDP GSO send of {len} octets: more than the {MAX_PAYLOAD} octets a UDP \
             datagram over IPv6 carries, segmented or not"
        )));
    }
    let segments = len.div_ceil(usize::from(segment_size)).max(1);
    if segments > MAX_SEGMENTS {
        return Err(invalid(format!(
            "UDP GSO send of {len} octets in segments of {segment_size}: {segments} \
             segments, more than the kernel's limit of {MAX_SEGMENTS} per call \
             (UDP_MAX_SEGMENTS)"
        )));
    }
    Ok(segments)
}

/// Whether `e`, from [`EspUdpSocket::send_segments`], says the kernel cannot segment
/// on that route (`EIO`, module docs): send the segments one by one instead.
pub fn cannot_segment(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EIO)
}

/// A `sockaddr_in6` for `addr`, port, flow information and scope as given (the flow
/// information as it stands, as std does).
fn sockaddr(addr: SocketAddrV6) -> libc::sockaddr_in6 {
    let mut sa = sockaddr_in6(*addr.ip());
    sa.sin6_port = addr.port().to_be();
    sa.sin6_flowinfo = addr.flowinfo();
    sa.sin6_scope_id = addr.scope_id();
    sa
}

/// An IPv6 UDP socket for ESP in UDP with UDP GSO on send and UDP GRO on receive
/// (module docs).
#[derive(Debug)]
pub struct EspUdpSocket {
    sock: Socket,
    gro: bool,
    gso: bool,
    /// Drops the kernel reported (`SO_RXQ_OVFL`).
    overflow: RxqOverflow,
}

impl EspUdpSocket {
    /// Opens a non-blocking IPv6-only UDP socket bound to `addr` (port 0: the kernel
    /// picks one, [`EspUdpSocket::local_addr`] says which), asking for each datagram's
    /// local destination (`IPV6_RECVPKTINFO`, RFC 3542 §6), the receive-buffer drop count
    /// (`SO_RXQ_OVFL`) and coalesced receives (`UDP_GRO`). A kernel that refuses
    /// `UDP_GRO` leaves the socket without it ([`EspUdpSocket::gro_enabled`]); one that
    /// does not know `UDP_SEGMENT` still opens the socket
    /// ([`EspUdpSocket::supports_gso`]).
    pub fn bind(addr: SocketAddrV6) -> Result<Self, Error> {
        let sock = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))
            .map_err(Error::sys("socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP)"))?;
        sock.set_only_v6(true)
            .map_err(Error::sys("setsockopt(IPV6_V6ONLY)"))?;
        setsockopt(
            &sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVPKTINFO,
            1 as libc::c_int,
        )
        .map_err(Error::sys("setsockopt(IPV6_RECVPKTINFO)"))?;
        setsockopt(&sock, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1 as libc::c_int)
            .map_err(Error::sys("setsockopt(SO_RXQ_OVFL)"))?;
        let gro = match setsockopt(&sock, libc::SOL_UDP, UDP_GRO, 1 as libc::c_int) {
            Ok(()) => true,
            Err(e) => {
                tracing::info!(error = %e, "UDP_GRO refused: one datagram per receive");
                false
            }
        };
        // Setting the socket's default segment size to 0 (no segmenting unless a send
        // asks) fails only on a kernel that does not know UDP_SEGMENT.
        let gso = setsockopt(&sock, libc::SOL_UDP, UDP_SEGMENT, 0 as libc::c_int).is_ok();
        sock.set_nonblocking(true)
            .map_err(Error::sys("fcntl(O_NONBLOCK) on UDP socket"))?;
        sock.bind(&addr.into())
            .map_err(Error::sys("bind(2) of the ESP-in-UDP socket"))?;
        Ok(EspUdpSocket {
            sock,
            gro,
            gso,
            overflow: RxqOverflow::default(),
        })
    }

    /// Sends and receives only through interface `device` (`SO_BINDTODEVICE`,
    /// socket(7)), or through any with `None`.
    pub fn bind_device(&self, device: Option<&str>) -> Result<(), Error> {
        if let Some(dev) = device {
            crate::sys::if_index(dev)?;
        }
        self.sock
            .bind_device(device.map(str::as_bytes))
            .map_err(Error::sys("setsockopt(SO_BINDTODEVICE)"))
    }

    /// The address and port the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddrV6> {
        self.sock.local_addr()?.as_socket_ipv6().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "UDP socket has no IPv6 address")
        })
    }

    /// Whether the kernel took `UDP_GRO`: receives may then hold several datagrams.
    pub fn gro_enabled(&self) -> bool {
        self.gro
    }

    /// Whether the kernel knows `UDP_SEGMENT` (Linux 4.18). It may still refuse a
    /// segmented send on a given route with `EIO` (module docs).
    pub fn supports_gso(&self) -> bool {
        self.gso
    }

    /// Sizes the receive buffer for a burst of `bytes` (`SO_RCVBUFFORCE`, else
    /// `SO_RCVBUF`). Returns the size the kernel reports.
    pub fn set_receive_buffer(&self, bytes: usize) -> Result<usize, Error> {
        crate::sys::set_receive_buffer(&self.sock, bytes).map_err(Error::sys(
            "setsockopt(SO_RCVBUFFORCE) on the ESP-in-UDP socket",
        ))
    }

    /// Marks every datagram the socket sends with `mark` (`SO_MARK`, socket(7); needs
    /// `CAP_NET_ADMIN`): policy routing can then keep the tunnel's own frames out of
    /// the tunnel (a mobile node's `not fwmark` rule).
    pub fn set_mark(&self, mark: u32) -> io::Result<()> {
        self.sock.set_mark(mark)
    }

    /// Sets the send buffer to `bytes` (`SO_SNDBUFFORCE`, else `SO_SNDBUF`); returns
    /// what the kernel reports. A segmented send of 64 KiB needs room for it whole.
    pub fn set_send_buffer(&self, bytes: usize) -> Result<usize, Error> {
        crate::sys::set_send_buffer(&self.sock, bytes).map_err(Error::sys(
            "setsockopt(SO_SNDBUFFORCE) on the ESP-in-UDP socket",
        ))
    }

    /// Datagrams (or coalesced buffers: the kernel counts what it queues) dropped for
    /// this socket because its receive buffer was full, since the last call
    /// (`SO_RXQ_OVFL`, as reported with the receives since).
    pub fn take_drops(&self) -> u64 {
        self.overflow.take()
    }

    /// Sends one datagram to `dst`; returns its length. `ErrorKind::InvalidInput` if it
    /// is longer than [`MAX_PAYLOAD`].
    pub fn send_to(&self, dst: SocketAddrV6, datagram: &[u8]) -> io::Result<usize> {
        self.send_to_from(dst, None, datagram)
    }

    /// Like [`EspUdpSocket::send_to`], from the local address `source` when given (an
    /// `IPV6_PKTINFO` control message, RFC 3542 §6.1: on a socket bound to `[::]`, the
    /// address the peer knows this host by, e.g. a mobile node's care-of address).
    pub fn send_to_from(
        &self,
        dst: SocketAddrV6,
        source: Option<Ipv6Addr>,
        datagram: &[u8],
    ) -> io::Result<usize> {
        if datagram.len() > MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "UDP datagram of {} octets: more than the {MAX_PAYLOAD} a UDP datagram \
                     over IPv6 carries",
                    datagram.len()
                ),
            ));
        }
        match source {
            None => self.sock.send_to(datagram, &dst.into()),
            Some(_) => self.sendmsg(dst, source, &[datagram], None),
        }
    }

    /// Sends `buf` to `dst` as datagrams of `segment_size` octets, the last one shorter
    /// or equal, with one `sendmsg(2)` and a `UDP_SEGMENT` control message (UDP GSO);
    /// `buf` no longer than `segment_size` goes as one datagram without it. Returns the
    /// octets sent (all of `buf`). The limits of the module docs are checked first
    /// (`ErrorKind::InvalidInput`); `EMSGSIZE` (`EINVAL` on older kernels) if a segment
    /// does not fit the route's MTU, `EIO` if the kernel cannot segment on that route.
    pub fn send_segments(
        &self,
        dst: SocketAddrV6,
        buf: &[u8],
        segment_size: u16,
    ) -> io::Result<usize> {
        self.send_segments_from(dst, None, buf, segment_size)
    }

    /// Like [`EspUdpSocket::send_segments`], from the local address `source` when given
    /// (as [`EspUdpSocket::send_to_from`]).
    pub fn send_segments_from(
        &self,
        dst: SocketAddrV6,
        source: Option<Ipv6Addr>,
        buf: &[u8],
        segment_size: u16,
    ) -> io::Result<usize> {
        if check_segments(buf.len(), segment_size)? == 1 {
            return self.send_to_from(dst, source, buf);
        }
        self.sendmsg(dst, source, &[buf], Some(segment_size))
    }

    /// Like [`EspUdpSocket::send_segments_from`] with the segments where they lie
    /// (one `iovec` each, no copy into one buffer): every segment but the last as long
    /// as the first, the last not longer; the first's length is the segment size.
    /// The same limits, checked first (`ErrorKind::InvalidInput`).
    pub fn send_segments_gathered(
        &self,
        dst: SocketAddrV6,
        source: Option<Ipv6Addr>,
        segments: &[&[u8]],
    ) -> io::Result<usize> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let Some((first, rest)) = segments.split_first() else {
            return Ok(0);
        };
        if rest.is_empty() {
            return self.send_to_from(dst, source, first);
        }
        let size = first.len();
        let (last, middle) = rest.split_last().unwrap_or((first, &[]));
        if middle.iter().any(|s| s.len() != size) || last.len() > size {
            return Err(invalid(format!(
                "UDP GSO segments of unequal length: all but the last must be {size} octets, \
                 the last no longer"
            )));
        }
        let total: usize = segments.iter().map(|s| s.len()).sum();
        let segment_size = u16::try_from(size)
            .map_err(|_| invalid(format!("UDP GSO segment of {size} octets")))?;
        check_segments(total, segment_size)?;
        if segments.len() > MAX_SEGMENTS {
            return Err(invalid(format!(
                "UDP GSO send of {} segments: more than the kernel's limit of {MAX_SEGMENTS}",
                segments.len()
            )));
        }
        self.sendmsg(dst, source, segments, Some(segment_size))
    }

    /// One `sendmsg(2)` of `bufs` (gathered, in order) to `dst` with an `IPV6_PKTINFO`
    /// control message for `source` and a `UDP_SEGMENT` one for `segment_size`, each
    /// when given. At most [`MAX_SEGMENTS`] buffers.
    fn sendmsg(
        &self,
        dst: SocketAddrV6,
        source: Option<Ipv6Addr>,
        bufs: &[&[u8]],
        segment_size: Option<u16>,
    ) -> io::Result<usize> {
        let mut name = sockaddr(dst);
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut iov = [empty; MAX_SEGMENTS];
        let count = bufs.len().min(MAX_SEGMENTS);
        for (v, b) in iov.iter_mut().zip(&bufs[..count]) {
            *v = libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            };
        }
        let pktinfo_len = mem::size_of::<libc::in6_pktinfo>() as u32;
        let segment_len = mem::size_of::<u16>() as u32;
        // 64 octets, aligned for cmsghdr: room for CMSG_SPACE(20) + CMSG_SPACE(2) = 40 + 24.
        let mut ctrl = [0u64; 8];
        // SAFETY: CMSG_SPACE is arithmetic on its argument.
        let space = unsafe {
            source.map_or(0, |_| libc::CMSG_SPACE(pktinfo_len))
                + segment_size.map_or(0, |_| libc::CMSG_SPACE(segment_len))
        };
        debug_assert!(space as usize <= mem::size_of_val(&ctrl));
        // SAFETY: msghdr is plain old data; all-zero is a valid value.
        let mut hdr: libc::msghdr = unsafe { mem::zeroed() };
        hdr.msg_name = (&mut name as *mut libc::sockaddr_in6).cast();
        hdr.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        hdr.msg_iov = iov.as_mut_ptr();
        hdr.msg_iovlen = count;
        if space > 0 {
            hdr.msg_control = ctrl.as_mut_ptr().cast();
            hdr.msg_controllen = space as usize;
        }
        let base: *mut libc::cmsghdr = ctrl.as_mut_ptr().cast();
        let mut c = base;
        if let Some(src) = source {
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: src.octets(),
                },
                ipi6_ifindex: 0,
            };
            // SAFETY: `c` is the start of `ctrl` (aligned for cmsghdr), which has
            // CMSG_SPACE(20) octets for this header and its data; the in6_pktinfo is
            // written unaligned. The next header starts CMSG_SPACE(20) octets on, still
            // inside `ctrl` (64 octets ≥ 40 + 24) and aligned (CMSG_SPACE is).
            unsafe {
                (*c).cmsg_level = libc::IPPROTO_IPV6;
                (*c).cmsg_type = libc::IPV6_PKTINFO;
                (*c).cmsg_len = libc::CMSG_LEN(pktinfo_len) as usize;
                libc::CMSG_DATA(c)
                    .cast::<libc::in6_pktinfo>()
                    .write_unaligned(info);
                c = base
                    .cast::<u8>()
                    .add(libc::CMSG_SPACE(pktinfo_len) as usize)
                    .cast();
            }
        }
        if let Some(size) = segment_size {
            // SAFETY: `c` points at an aligned cmsghdr inside `ctrl`, at its start or
            // after the PKTINFO message, with CMSG_SPACE(2) octets left for it and its
            // data (`space` ≤ 64 above); the u16 is written unaligned.
            unsafe {
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = UDP_SEGMENT;
                (*c).cmsg_len = libc::CMSG_LEN(segment_len) as usize;
                libc::CMSG_DATA(c).cast::<u16>().write_unaligned(size);
            }
        }
        // SAFETY: `hdr` points at `name`, `iov` (its first `count` entries over the
        // caller's buffers) and `ctrl`, all alive for the call with their true lengths;
        // the kernel only reads through them.
        let sent = unsafe { libc::sendmsg(raw(&self.sock), &hdr, libc::MSG_DONTWAIT) };
        usize::try_from(sent).map_err(|_| io::Error::last_os_error())
    }

    /// Receives one datagram, or with `UDP_GRO` several coalesced (module docs), into
    /// `buf`. `ErrorKind::WouldBlock` when none is queued.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let mut out = [Received::default()];
        match self.recv_batch(&mut [buf], &mut out)? {
            1 => Ok(out[0]),
            _ => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Receives into up to `min(bufs.len(), out.len(), MAX_BATCH)` buffers with one
    /// `recvmmsg(2)`, each buffer one receive as [`EspUdpSocket::recv`] fills it; returns
    /// how many were filled. `ErrorKind::WouldBlock` when none is queued.
    pub fn recv_batch(&self, bufs: &mut [&mut [u8]], out: &mut [Received]) -> io::Result<usize> {
        let n = bufs.len().min(out.len()).min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        recvmmsg_in6(raw(&self.sock), &mut bufs[..n], 0, |i, m, buf| {
            let sa = m.source;
            let mut r = Received {
                len: m.len.min(buf.len()),
                source: SocketAddrV6::new(
                    Ipv6Addr::from(sa.sin6_addr.s6_addr),
                    u16::from_be(sa.sin6_port),
                    0,
                    sa.sin6_scope_id,
                ),
                truncated: m.truncated(),
                ..Received::default()
            };
            m.for_each_cmsg(|c| match c {
                Cmsg::PktInfo { dst, ifindex } => {
                    r.destination = Some(dst);
                    r.ifindex = ifindex;
                }
                Cmsg::GroSegmentSize(n) => r.segment_size = Some(n),
                Cmsg::QueueOverflow(v) => self.overflow.observe(v),
                Cmsg::HopLimit(_) | Cmsg::TrafficClass(_) => {}
            });
            out[i] = r;
        })
    }
}

impl AsRawFd for EspUdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for EspUdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(len: usize, segment_size: Option<u16>) -> Received {
        Received {
            len,
            segment_size,
            ..Received::default()
        }
    }

    #[test]
    fn a_coalesced_buffer_splits_into_its_datagrams_the_last_shorter() {
        let buf: Vec<u8> = (0..4400u32).map(|i| i as u8).collect();
        let r = received(4400, Some(1400));
        let d: Vec<&[u8]> = r.datagrams(&buf).collect();
        assert_eq!(
            d.iter().map(|s| s.len()).collect::<Vec<_>>(),
            [1400, 1400, 1400, 200]
        );
        assert_eq!(d.concat(), buf);
        assert_eq!(r.datagram_count(), 4);
        assert_eq!(r.datagrams(&buf).len(), 4);
    }

    #[test]
    fn equal_segments_split_evenly() {
        let buf = [7u8; 2800];
        let r = received(2800, Some(1400));
        assert_eq!(
            r.datagrams(&buf).map(<[u8]>::len).collect::<Vec<_>>(),
            [1400, 1400]
        );
        assert_eq!(r.datagram_count(), 2);
    }

    #[test]
    fn an_uncoalesced_receive_is_one_datagram_even_empty() {
        let buf = [1u8; 100];
        let r = received(60, None);
        assert_eq!(r.datagrams(&buf).collect::<Vec<_>>(), [&buf[..60]]);
        let empty = received(0, None);
        assert_eq!(empty.datagrams(&buf).collect::<Vec<_>>(), [&[][..]]);
        assert_eq!(empty.datagram_count(), 1);
        // A segment size of 0 (never sent by the kernel) does not loop.
        assert_eq!(received(60, Some(0)).datagrams(&buf).count(), 1);
        // One datagram shorter than the segment size.
        assert_eq!(received(60, Some(1400)).datagrams(&buf).count(), 1);
    }

    #[test]
    fn datagrams_never_read_past_the_buffer() {
        let buf = [0u8; 10];
        let r = received(50, Some(4));
        assert_eq!(
            r.datagrams(&buf).map(<[u8]>::len).collect::<Vec<_>>(),
            [4, 4, 2]
        );
    }

    #[test]
    fn segment_limits_are_checked_with_a_message_naming_the_limit() {
        assert_eq!(check_segments(14_000, 1400).unwrap(), 10);
        assert_eq!(check_segments(4400, 1400).unwrap(), 4);
        assert_eq!(check_segments(0, 1400).unwrap(), 1);
        assert_eq!(check_segments(64 * 100, 100).unwrap(), 64);
        let e = check_segments(65 * 100, 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("65 segments"), "{e}");
        assert!(e.to_string().contains("UDP_MAX_SEGMENTS"), "{e}");
        let e = check_segments(MAX_PAYLOAD + 1, 1452).unwrap_err();
        assert!(e.to_string().contains("65527"), "{e}");
        assert_eq!(check_segments(MAX_PAYLOAD, 1452).unwrap(), 46);
        assert_eq!(
            check_segments(10, 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn the_socket_address_carries_port_and_scope() {
        let a = SocketAddrV6::new("2001:db8::1".parse().unwrap(), 4500, 0, 3);
        let sa = sockaddr(a);
        assert_eq!(u16::from_be(sa.sin6_port), 4500);
        assert_eq!(sa.sin6_scope_id, 3);
        assert_eq!(sa.sin6_addr.s6_addr, a.ip().octets());
    }
}
