//! Sending fully built IPv6 packets with `socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)`
//! (raw(7), ipv6(7)).
//!
//! With protocol `IPPROTO_RAW` (255) the kernel treats the buffer as a complete IPv6
//! packet — header, extension headers (HoA option, RH2) and payload — and sends it as it is
//! (the `IPV6_HDRINCL` behaviour, Linux `rawv6_send_hdrinc`): no checksum is computed, no
//! field is rewritten. This is how BU/BA leave: `IPV6_RTHDR` refuses type 2 and with
//! `IPV6_DSTOPTS` the kernel checksums the MH over the CoA (docs/architecture.md, measured facts), so
//! the engines build and checksum every octet themselves.
//!
//! The kernel still routes the packet: it needs the destination in `msg_name`, which this
//! module copies from octets 24..40 of the packet (the IPv6 destination; with an RH2 that
//! is the CoA, the right next hop). That is the only field read. A packet longer than the
//! path MTU fails with `EMSGSIZE` (the kernel does not fragment hdrincl packets).
//!
//! Not supported: link-local destinations without [`RawSender::open`]'s `bind_device`
//! (no scope id is set).

use std::io;
use std::mem;
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::sys::{cvt, raw, sockaddr_in6, MAX_BATCH};
use crate::Error;

/// Length of the fixed IPv6 header (RFC 8200 §3).
pub const IPV6_HEADER_LEN: usize = 40;

/// A raw IPv6 socket that sends caller-built packets byte for byte.
#[derive(Debug)]
pub struct RawSender {
    sock: Socket,
}

impl RawSender {
    /// Opens the socket, non-blocking; with `bind_device` it sends only through that
    /// interface (`SO_BINDTODEVICE`, socket(7)).
    pub fn open(bind_device: Option<&str>) -> Result<Self, Error> {
        let sock = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )
        .map_err(Error::sys("socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)"))?;
        if let Some(dev) = bind_device {
            crate::sys::if_index(dev)?;
            sock.bind_device(Some(dev.as_bytes()))
                .map_err(Error::sys("setsockopt(SO_BINDTODEVICE)"))?;
        }
        sock.set_nonblocking(true)
            .map_err(Error::sys("fcntl(O_NONBLOCK) on raw socket"))?;
        Ok(RawSender { sock })
    }

    /// Binds the socket to the local address every packet it sends carries as its
    /// source (the MN's care-of address, the HA's address), or unbinds it with `None`.
    /// The packets are sent as built either way; bound, the kernel's route lookup takes
    /// the source from the socket instead of running source address selection
    /// (RFC 6724) for each packet — about 7 % of a sending daemon's CPU, measured
    /// (docs/benchmarks-lab.md). May be called again when the address changes.
    pub fn set_source(&self, source: Option<Ipv6Addr>) -> io::Result<()> {
        let addr = std::net::SocketAddrV6::new(source.unwrap_or(Ipv6Addr::UNSPECIFIED), 0, 0, 0);
        self.sock.bind(&addr.into())
    }

    /// Marks every packet the socket sends with `mark` (`SO_MARK`, socket(7); needs
    /// `CAP_NET_ADMIN`): policy rules can then tell the daemon's own packets (the
    /// mobile node's outer packets, which must not enter its tunnel) from the host's.
    pub fn set_mark(&self, mark: u32) -> io::Result<()> {
        self.sock.set_mark(mark)
    }

    /// Sends one packet. `ErrorKind::InvalidInput` if it is shorter than an IPv6 header.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        match self.send_batch(&[packet])? {
            1 => Ok(()),
            _ => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Sends up to `min(packets.len(), MAX_BATCH)` packets with one `sendmmsg(2)` and
    /// returns how many the kernel took (`ErrorKind::WouldBlock` if none). Every packet is
    /// checked to be at least 40 octets before anything is sent
    /// (`ErrorKind::InvalidInput` otherwise).
    pub fn send_batch(&self, packets: &[&[u8]]) -> io::Result<usize> {
        let n = packets.len().min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: iovec, sockaddr_in6 and mmsghdr are plain old data; all-zero is valid.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut names: [libc::sockaddr_in6; MAX_BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { mem::zeroed() };
        for (i, p) in packets[..n].iter().enumerate() {
            names[i] = sockaddr_in6(destination(p)?);
            iov[i].iov_base = p.as_ptr() as *mut libc::c_void;
            iov[i].iov_len = p.len();
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_in6).cast();
            hdrs[i].msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        }
        // SAFETY: `hdrs[..n]` point at `iov`/`names` entries and caller packets that
        // outlive the call; the kernel only reads through `iov_base`.
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

/// The IPv6 destination (octets 24..40) of a built packet.
fn destination(packet: &[u8]) -> io::Result<Ipv6Addr> {
    packet
        .get(24..IPV6_HEADER_LEN)
        .and_then(|d| <[u8; 16]>::try_from(d).ok())
        .map(Ipv6Addr::from)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "packet of {} octets is shorter than an IPv6 header",
                    packet.len()
                ),
            )
        })
}

impl AsRawFd for RawSender {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for RawSender {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_is_octets_24_to_40_and_short_packets_are_refused() {
        let mut p = [0u8; 48];
        p[24..40].copy_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(
            destination(&p).unwrap(),
            "2001:db8::7".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            destination(&p[..40]).unwrap(),
            "2001:db8::7".parse::<Ipv6Addr>().unwrap()
        );
        for len in 0..40 {
            assert_eq!(
                destination(&p[..len]).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
    }
}
