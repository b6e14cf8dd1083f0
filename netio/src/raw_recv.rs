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
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::packet_socket::RecvMeta;
use crate::raw_send::IPV6_HEADER_LEN;
use crate::sys::{raw, recvmmsg_in6, setsockopt, Cmsg, RxqOverflow, MAX_BATCH};
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

/// A raw IPv6 socket for one tunnel protocol.
#[derive(Debug)]
pub struct RawReceiver {
    sock: Socket,
    proto: TunnelProto,
    /// Drops the kernel reported (`SO_RXQ_OVFL`).
    overflow: RxqOverflow,
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
            overflow: RxqOverflow::default(),
        })
    }

    /// Packets the kernel dropped for this socket because its receive buffer was full,
    /// since the last call (`SO_RXQ_OVFL`, as reported with the packets received since;
    /// drops after the last received packet show with the next one).
    pub fn take_drops(&self) -> u64 {
        self.overflow.take()
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
        recvmmsg_in6(
            raw(&self.sock),
            &mut bufs[..n],
            IPV6_HEADER_LEN,
            |i, m, buf| {
                let mut info = Header {
                    src: Ipv6Addr::from(m.source.sin6_addr.s6_addr),
                    dst: Ipv6Addr::UNSPECIFIED,
                    hop_limit: 64,
                    traffic_class: 0,
                    next_header: self.proto.number(),
                    payload_len: m.len,
                };
                let mut ifindex = 0;
                m.for_each_cmsg(|c| match c {
                    Cmsg::PktInfo { dst, ifindex: ix } => {
                        info.dst = dst;
                        ifindex = ix;
                    }
                    Cmsg::HopLimit(v) => info.hop_limit = v,
                    Cmsg::TrafficClass(v) => info.traffic_class = v,
                    Cmsg::QueueOverflow(v) => self.overflow.observe(v),
                    // Only UDP sockets get one.
                    Cmsg::GroSegmentSize(_) => {}
                });
                let room = buf.len() - IPV6_HEADER_LEN;
                info.write(&mut buf[..IPV6_HEADER_LEN]);
                meta[i] = RecvMeta {
                    len: IPV6_HEADER_LEN + info.payload_len.min(room),
                    truncated: m.truncated(),
                    ifindex,
                    link_source: None,
                    link_sender: None,
                };
            },
        )
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
