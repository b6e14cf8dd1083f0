//! Receiving tunnel frames (ESP, protocol 50; IPv6-in-IPv6, protocol 41) from raw IPv6
//! sockets, rebuilt into the full IPv6 packets the engines take.
//!
//! Choice: `AF_INET6` raw sockets, not `AF_PACKET`. Tunnel frames carry no Home Address
//! option and no RH2, so the kernel's stack delivers them (docs/architecture.md, measured facts), and
//! a raw socket gets only packets for this host, already reassembled, with no filter to
//! maintain. The price: on an `AF_INET6` raw socket the IPv6 header is not part of the data
//! (raw(7), ipv6(7): only IPv4 raw sockets deliver the header). So each buffer is filled as
//!
//! ```text
//! octets 0..40   a synthetic IPv6 header (RFC 8200 §3) written by this module:
//!                version 6, traffic class  = IPV6_TCLASS cmsg,
//!                flow label 0 (the kernel does not report it),
//!                payload length = octets received after the header,
//!                next header = the socket's protocol (50 or 41),
//!                hop limit = IPV6_HOPLIMIT cmsg,
//!                source = msg_name, destination = IPV6_PKTINFO cmsg
//! octets 40..    the payload as received: the ESP header, or the inner IPv6 packet
//! ```
//!
//! so the engine parses a packet that matches what was on the wire except for the flow
//! label and any extension headers before the payload (tunnel frames have none; a frame
//! that had some — a BU — never reaches this socket, see [`crate::packet_socket`]).
//! An ESP ICV covers only the ESP header and payload (RFC 4303 §3.3.4), so a rebuilt header
//! changes nothing for decryption.
//!
//! Not supported: flow labels (`IPV6_FLOWINFO` is not asked for), jumbograms.

use std::io;
use std::mem;
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use socket2::{Domain, Protocol, Socket, Type};

use crate::packet_socket::RecvMeta;
use crate::raw_send::IPV6_HEADER_LEN;
use crate::sys::{cvt, for_each_cmsg, raw, setsockopt, Cmsg, MAX_BATCH};
use crate::Error;

/// The tunnel protocols a [`RawReceiver`] can listen to (IANA protocol numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelProto {
    /// Encapsulating Security Payload (RFC 4303), 50.
    Esp,
    /// IPv6 encapsulated in IPv6 (RFC 2473), 41.
    Ipv6InIpv6,
}

impl TunnelProto {
    /// The protocol number.
    pub fn number(self) -> u8 {
        match self {
            TunnelProto::Esp => 50,
            TunnelProto::Ipv6InIpv6 => 41,
        }
    }
}

/// Control buffer per message: in6_pktinfo, two ints and the `SO_RXQ_OVFL` count with
/// their cmsg headers (40 + 16 + 16 + 16) fit in 128 octets; `u64` keeps it aligned
/// for `cmsghdr`.
const CMSG_WORDS: usize = 16;

/// A raw IPv6 socket for one tunnel protocol.
#[derive(Debug)]
pub struct RawReceiver {
    sock: Socket,
    proto: TunnelProto,
    /// The last `SO_RXQ_OVFL` count the kernel reported.
    overflow_seen: AtomicU32,
    /// Drops counted since the last [`RawReceiver::take_drops`].
    dropped: AtomicU64,
}

/// Drops a new `SO_RXQ_OVFL` count `now` adds to the last one seen, `seen` (the
/// kernel's counter wraps at 2^32; it never goes back).
pub(crate) fn overflow_delta(seen: u32, now: u32) -> u32 {
    now.wrapping_sub(seen)
}

impl RawReceiver {
    /// Sizes the receive buffer for a burst of `bytes` (`SO_RCVBUFFORCE`, else
    /// `SO_RCVBUF`). Returns the size the kernel reports.
    pub fn set_receive_buffer(&self, bytes: usize) -> Result<usize, Error> {
        crate::sys::set_receive_buffer(&self.sock, bytes).map_err(Error::sys(
            "setsockopt(SO_RCVBUFFORCE) on the raw ESP socket",
        ))
    }

    /// Opens a non-blocking raw socket for `proto`, asking for the destination, hop limit
    /// and traffic class of each packet (`IPV6_RECVPKTINFO`, `IPV6_RECVHOPLIMIT`,
    /// `IPV6_RECVTCLASS`, RFC 3542 §6); with `bind_device` only packets arriving on that
    /// interface (`SO_BINDTODEVICE`).
    pub fn open(proto: TunnelProto, bind_device: Option<&str>) -> Result<Self, Error> {
        let sock = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::from(proto.number() as i32)),
        )
        .map_err(Error::sys("socket(AF_INET6, SOCK_RAW, tunnel protocol)"))?;
        for (opt, what) in [
            (libc::IPV6_RECVPKTINFO, "setsockopt(IPV6_RECVPKTINFO)"),
            (libc::IPV6_RECVHOPLIMIT, "setsockopt(IPV6_RECVHOPLIMIT)"),
            (libc::IPV6_RECVTCLASS, "setsockopt(IPV6_RECVTCLASS)"),
        ] {
            setsockopt(&sock, libc::IPPROTO_IPV6, opt, 1 as libc::c_int)
                .map_err(Error::sys(what))?;
        }
        // Receive-buffer drops reported with every packet (socket(7)).
        setsockopt(&sock, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1 as libc::c_int)
            .map_err(Error::sys("setsockopt(SO_RXQ_OVFL)"))?;
        if let Some(dev) = bind_device {
            crate::sys::if_index(dev)?;
            sock.bind_device(Some(dev.as_bytes()))
                .map_err(Error::sys("setsockopt(SO_BINDTODEVICE)"))?;
        }
        sock.set_nonblocking(true)
            .map_err(Error::sys("fcntl(O_NONBLOCK) on raw socket"))?;
        Ok(RawReceiver {
            sock,
            proto,
            overflow_seen: AtomicU32::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// Packets the kernel dropped for this socket because its receive buffer was full,
    /// since the last call (`SO_RXQ_OVFL`, as reported with the packets received since;
    /// drops after the last received packet show with the next one).
    pub fn take_drops(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    /// The protocol this socket receives.
    pub fn proto(&self) -> TunnelProto {
        self.proto
    }

    /// Receives up to `min(bufs.len(), meta.len(), MAX_BATCH)` packets with one
    /// `recvmmsg(2)`; each buffer gets a full IPv6 packet (module doc) and `meta[i].len`
    /// counts the synthetic header too. `ErrorKind::WouldBlock` when none is queued;
    /// `ErrorKind::InvalidInput` if a buffer is shorter than 41 octets.
    pub fn recv_batch(&self, bufs: &mut [&mut [u8]], meta: &mut [RecvMeta]) -> io::Result<usize> {
        let n = bufs.len().min(meta.len()).min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        if bufs[..n].iter().any(|b| b.len() <= IPV6_HEADER_LEN) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "raw_recv buffers must be longer than an IPv6 header",
            ));
        }
        // SAFETY: iovec, sockaddr_in6 and mmsghdr are plain old data; all-zero is valid.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut names: [libc::sockaddr_in6; MAX_BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { mem::zeroed() };
        let mut ctrl = [[0u64; CMSG_WORDS]; MAX_BATCH];
        for i in 0..n {
            let payload = &mut bufs[i][IPV6_HEADER_LEN..];
            iov[i].iov_base = payload.as_mut_ptr().cast();
            iov[i].iov_len = payload.len();
            let h = &mut hdrs[i].msg_hdr;
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
            h.msg_name = (&mut names[i] as *mut libc::sockaddr_in6).cast();
            h.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            h.msg_control = ctrl[i].as_mut_ptr().cast();
            h.msg_controllen = mem::size_of_val(&ctrl[i]);
        }
        // SAFETY: `hdrs[..n]` point at `iov`, `names`, `ctrl` entries and caller buffers
        // that all outlive the call, each with its true length.
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
            let h = &hdrs[i].msg_hdr;
            let mut info = Header {
                src: Ipv6Addr::from(names[i].sin6_addr.s6_addr),
                dst: Ipv6Addr::UNSPECIFIED,
                hop_limit: 64,
                traffic_class: 0,
                next_header: self.proto.number(),
                payload_len: hdrs[i].msg_len as usize,
            };
            let mut ifindex = 0;
            // SAFETY: `h` is the header recvmmsg just filled; its control buffer is
            // `ctrl[i]`, alive and kernel-written.
            unsafe {
                for_each_cmsg(h, |c| match c {
                    Cmsg::PktInfo { dst, ifindex: ix } => {
                        info.dst = dst;
                        ifindex = ix;
                    }
                    Cmsg::HopLimit(v) => info.hop_limit = v,
                    Cmsg::TrafficClass(v) => info.traffic_class = v,
                    Cmsg::QueueOverflow(v) => {
                        let seen = self.overflow_seen.swap(v, Ordering::Relaxed);
                        let delta = overflow_delta(seen, v);
                        self.dropped.fetch_add(u64::from(delta), Ordering::Relaxed);
                    }
                    // Only UDP sockets get one.
                    Cmsg::GroSegmentSize(_) => {}
                })
            };
            let room = bufs[i].len() - IPV6_HEADER_LEN;
            info.write(&mut bufs[i][..IPV6_HEADER_LEN]);
            meta[i] = RecvMeta {
                len: IPV6_HEADER_LEN + info.payload_len.min(room),
                truncated: h.msg_flags & libc::MSG_TRUNC != 0,
                ifindex,
                link_source: None,
                link_sender: None,
            };
        }
        Ok(got)
    }
}

/// The fields of the synthetic IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    traffic_class: u8,
    next_header: u8,
    payload_len: usize,
}

impl Header {
    /// Writes the 40-octet header (RFC 8200 §3) into `out[..40]`.
    fn write(&self, out: &mut [u8]) {
        let tc = self.traffic_class;
        out[0] = 0x60 | (tc >> 4);
        out[1] = tc << 4;
        out[2] = 0;
        out[3] = 0;
        let plen = u16::try_from(self.payload_len).unwrap_or(u16::MAX);
        out[4..6].copy_from_slice(&plen.to_be_bytes());
        out[6] = self.next_header;
        out[7] = self.hop_limit;
        out[8..24].copy_from_slice(&self.src.octets());
        out[24..40].copy_from_slice(&self.dst.octets());
    }
}

impl AsRawFd for RawReceiver {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for RawReceiver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_counts_add_up_across_the_kernels_wrap() {
        assert_eq!(overflow_delta(0, 0), 0);
        assert_eq!(overflow_delta(0, 7), 7);
        assert_eq!(overflow_delta(7, 7), 0, "no new drop");
        assert_eq!(overflow_delta(u32::MAX - 1, 3), 5, "across the wrap");
    }

    #[test]
    fn synthetic_header_matches_rfc8200_layout() {
        let h = Header {
            src: "2001:db8:2::10".parse().unwrap(),
            dst: "2001:db8:1::1".parse().unwrap(),
            hop_limit: 63,
            traffic_class: 0xb8,
            next_header: 50,
            payload_len: 0x0123,
        };
        let mut out = [0xffu8; 40];
        h.write(&mut out);
        // Version 6, TC 0xb8 split over the nibble boundary, flow label 0 (cleared).
        assert_eq!(&out[..8], &[0x6b, 0x80, 0, 0, 0x01, 0x23, 50, 63]);
        assert_eq!(out[8..24], h.src.octets());
        assert_eq!(out[24..40], h.dst.octets());
    }

    #[test]
    fn oversized_payload_length_saturates() {
        let h = Header {
            src: Ipv6Addr::UNSPECIFIED,
            dst: Ipv6Addr::UNSPECIFIED,
            hop_limit: 1,
            traffic_class: 0,
            next_header: 41,
            payload_len: 70_000,
        };
        let mut out = [0u8; 40];
        h.write(&mut out);
        assert_eq!(&out[4..8], &[0xff, 0xff, 41, 1]);
    }

    #[test]
    fn protocol_numbers_are_ianas() {
        assert_eq!(TunnelProto::Esp.number(), 50);
        assert_eq!(TunnelProto::Ipv6InIpv6.number(), 41);
    }
}
