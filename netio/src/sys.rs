//! The few libc helpers the sockets share: interface lookup, `sockaddr_in6` conversion,
//! `setsockopt` and a typed control-message walk (cmsg(3)), in the manner of quinn-udp's
//! `cmsg` module: every raw pointer use is here or beside a `// SAFETY:` line.

use std::ffi::CString;
use std::io;
use std::mem;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::Error;

/// Most frames one `recvmmsg(2)`/`sendmmsg(2)` call moves. The message headers live on the
/// stack, so a batch costs no allocation; larger caller slices are served in parts.
pub const MAX_BATCH: usize = 32;

/// `UDP_SEGMENT` from linux/udp.h (udp(7), Linux 4.18): the segment size of a UDP GSO
/// send, a `u16` as a socket option or a `SOL_UDP` control message. Not in the libc
/// crate for glibc targets.
pub(crate) const UDP_SEGMENT: libc::c_int = 103;

/// `UDP_GRO` from linux/udp.h (udp(7), Linux 5.0): as a socket option (an int),
/// lets the kernel hand the socket coalesced datagrams; as a received `SOL_UDP`
/// control message (an int), the segment size of such a buffer.
pub(crate) const UDP_GRO: libc::c_int = 104;

/// The index of interface `name` in the calling thread's network namespace
/// (`if_nametoindex(3)`).
pub fn if_index(name: &str) -> Result<u32, Error> {
    let c = CString::new(name).map_err(|_| Error::NoSuchInterface { name: name.into() })?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(Error::NoSuchInterface { name: name.into() });
    }
    Ok(idx)
}

/// Turns a libc `-1` return into the thread's `errno`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `setsockopt(2)` with a plain-old-data value.
pub(crate) fn setsockopt<T: Copy>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: `value` is a live `T` for the call and the length passed is its size; the
    // kernel copies it before returning.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// A `sockaddr_in6` for `addr`, port 0, no scope (ipv6(7)).
pub(crate) fn sockaddr_in6(addr: Ipv6Addr) -> libc::sockaddr_in6 {
    // SAFETY: sockaddr_in6 is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_addr.s6_addr = addr.octets();
    sa
}

/// A received control message this crate asks for (ipv6(7) `IPV6_RECV*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmsg {
    /// `IPV6_PKTINFO`: the packet's destination address and arrival interface.
    PktInfo { dst: Ipv6Addr, ifindex: u32 },
    /// `IPV6_HOPLIMIT`: the hop limit from the IPv6 header.
    HopLimit(u8),
    /// `IPV6_TCLASS`: the traffic class from the IPv6 header.
    TrafficClass(u8),
    /// `SO_RXQ_OVFL`: packets the socket has dropped since it was opened because its
    /// receive buffer was full (socket(7)), a counter that wraps at 2^32.
    QueueOverflow(u32),
    /// `UDP_GRO`: the buffer holds datagrams the kernel coalesced, each this long but
    /// the last (udp(7)).
    GroSegmentSize(u16),
}

/// Control buffer per message of [`recvmmsg_in6`], in `u64` words (aligned for
/// `cmsghdr`): in6_pktinfo, two ints and the `SO_RXQ_OVFL` count with their cmsg headers
/// fit in 128 octets.
const CMSG_WORDS: usize = 16;

/// One message [`recvmmsg_in6`] received.
pub(crate) struct Received<'a> {
    hdr: &'a libc::msghdr,
    /// Its source address.
    pub source: &'a libc::sockaddr_in6,
    /// Octets the kernel wrote or would have written (`msg_len`; more than the buffer
    /// when [`Received::truncated`]).
    pub len: usize,
}

impl Received<'_> {
    /// Whether the message did not fit its buffer (`MSG_TRUNC`).
    pub fn truncated(&self) -> bool {
        self.hdr.msg_flags & libc::MSG_TRUNC != 0
    }

    /// Its control messages ([`for_each_cmsg`]).
    pub fn for_each_cmsg(&self, f: impl FnMut(Cmsg)) {
        // SAFETY: `hdr` is a header recvmmsg_in6's call just filled; its control buffer
        // lives in that function's frame, which outlives this borrow.
        unsafe { for_each_cmsg(self.hdr, f) }
    }
}

/// One non-blocking `recvmmsg(2)` on the AF_INET6 datagram socket `fd` into up to
/// [`MAX_BATCH`] of `bufs`, each from octet `skip` on (every buffer must be longer: the
/// caller checks), each message with its own source address and control buffer;
/// `each(i, message, whole buffer i)` for every one received, in order. Returns how
/// many.
pub(crate) fn recvmmsg_in6(
    fd: RawFd,
    bufs: &mut [&mut [u8]],
    skip: usize,
    mut each: impl FnMut(usize, Received<'_>, &mut [u8]),
) -> io::Result<usize> {
    let n = bufs.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: iovec, sockaddr_in6 and mmsghdr are plain old data; all-zero is valid.
    let mut iov: [libc::iovec; MAX_BATCH] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut names: [libc::sockaddr_in6; MAX_BATCH] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { mem::zeroed() };
    let mut ctrl = [[0u64; CMSG_WORDS]; MAX_BATCH];
    for i in 0..n {
        let room = &mut bufs[i][skip..];
        iov[i].iov_base = room.as_mut_ptr().cast();
        iov[i].iov_len = room.len();
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
            fd,
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    })? as usize;
    for i in 0..got {
        each(
            i,
            Received {
                hdr: &hdrs[i].msg_hdr,
                source: &names[i],
                len: hdrs[i].msg_len as usize,
            },
            &mut *bufs[i],
        );
    }
    Ok(got)
}

/// A socket's `SO_RXQ_OVFL` bookkeeping: the kernel reports its running count of
/// packets dropped for the socket (receive buffer full) with each message; this keeps
/// the last count seen and the drops since the last [`RxqOverflow::take`].
#[derive(Debug, Default)]
pub(crate) struct RxqOverflow {
    seen: AtomicU32,
    dropped: AtomicU64,
}

impl RxqOverflow {
    /// Notes a count the kernel reported.
    pub fn observe(&self, count: u32) {
        let seen = self.seen.swap(count, Ordering::Relaxed);
        let delta = overflow_delta(seen, count);
        self.dropped.fetch_add(u64::from(delta), Ordering::Relaxed);
    }

    /// Drops counted since the last call.
    pub fn take(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// Drops a new `SO_RXQ_OVFL` count `now` adds to the last one seen, `seen` (the
/// kernel's counter wraps at 2^32; it never goes back).
fn overflow_delta(seen: u32, now: u32) -> u32 {
    now.wrapping_sub(seen)
}

/// Walks the control messages of a received `msghdr` (cmsg(3)), yielding those this crate
/// knows and skipping the rest.
///
/// # Safety
/// `hdr.msg_control`/`msg_controllen` must describe a buffer that is alive, that the kernel
/// filled in the `recvmsg`/`recvmmsg` call that returned `hdr`.
pub(crate) unsafe fn for_each_cmsg(hdr: &libc::msghdr, mut f: impl FnMut(Cmsg)) {
    // SAFETY: guaranteed by the caller: the control buffer is valid and kernel-written, so
    // CMSG_FIRSTHDR/CMSG_NXTHDR stay inside it and each header's length is the kernel's.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(hdr) };
    while !c.is_null() {
        // SAFETY: `c` is non-null and points at a complete cmsghdr inside the buffer.
        let (level, ty) = unsafe { ((*c).cmsg_level, (*c).cmsg_type) };
        // SAFETY: CMSG_DATA of a kernel-written header points at its payload, which the
        // kernel sized for the type (checked by the type match before each read).
        let data = unsafe { libc::CMSG_DATA(c) };
        if level == libc::SOL_SOCKET && ty == libc::SO_RXQ_OVFL {
            // SAFETY: SO_RXQ_OVFL carries one __u32.
            let v: u32 = unsafe { data.cast::<u32>().read_unaligned() };
            f(Cmsg::QueueOverflow(v));
        }
        if level == libc::SOL_UDP && ty == UDP_GRO {
            // SAFETY: UDP_GRO carries one int (udp_cmsg_recv in net/ipv4/udp.c).
            let v: libc::c_int = unsafe { data.cast::<libc::c_int>().read_unaligned() };
            f(Cmsg::GroSegmentSize(v.clamp(0, u16::MAX.into()) as u16));
        }
        if level == libc::IPPROTO_IPV6 {
            match ty {
                libc::IPV6_PKTINFO => {
                    // SAFETY: IPV6_PKTINFO carries one in6_pktinfo; read unaligned.
                    let pi: libc::in6_pktinfo =
                        unsafe { data.cast::<libc::in6_pktinfo>().read_unaligned() };
                    f(Cmsg::PktInfo {
                        dst: Ipv6Addr::from(pi.ipi6_addr.s6_addr),
                        ifindex: pi.ipi6_ifindex,
                    });
                }
                libc::IPV6_HOPLIMIT => {
                    // SAFETY: IPV6_HOPLIMIT carries one int.
                    let v: libc::c_int = unsafe { data.cast::<libc::c_int>().read_unaligned() };
                    f(Cmsg::HopLimit(v.clamp(0, 255) as u8));
                }
                libc::IPV6_TCLASS => {
                    // SAFETY: IPV6_TCLASS carries one int.
                    let v: libc::c_int = unsafe { data.cast::<libc::c_int>().read_unaligned() };
                    f(Cmsg::TrafficClass(v.clamp(0, 255) as u8));
                }
                _ => {}
            }
        }
        // SAFETY: `hdr` and `c` are as above; CMSG_NXTHDR returns null past the end.
        c = unsafe { libc::CMSG_NXTHDR(hdr, c) };
    }
}

/// The network namespace of the thread that made it (`/proc/thread-self/ns/net`,
/// namespaces(7)), so a guard undoes its changes in that namespace whichever thread drops it.
///
/// Entering a namespace (`setns(2)`) needs `CAP_SYS_ADMIN`, which a daemon that dropped
/// its privileges no longer has; so [`NetnsFd::enter`] and the `nft` hook skip it when
/// the thread already is in the namespace (same nsfs device and inode), which is the
/// daemons' case: they never leave the namespace they start in.
#[derive(Debug)]
pub(crate) struct NetnsFd {
    fd: OwnedFd,
    /// Device and inode of the namespace file: its identity (namespaces(7)).
    id: (u64, u64),
}

/// Moves the calling thread into the network namespace `ip netns` named `name`
/// (`/run/netns/<name>`, setns(2); needs `CAP_SYS_ADMIN`). Sockets the thread opens
/// afterwards live in that namespace: tests use it to talk to a server they started
/// in a namespace of their own.
pub fn enter_named_netns(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::NoSuchInterface {
            name: format!("network namespace {name:?}"),
        });
    }
    let file = std::fs::File::open(format!("/run/netns/{name}"))
        .map_err(Error::sys("open /run/netns/<name>"))?;
    // SAFETY: the descriptor is an open namespace file that lives across the call.
    cvt(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) })
        .map(drop)
        .map_err(Error::sys("setns(CLONE_NEWNET)"))
}

/// The identity (device, inode) of the calling thread's network namespace.
fn current_netns_id() -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata("/proc/thread-self/ns/net")?;
    Ok((meta.dev(), meta.ino()))
}

impl NetnsFd {
    /// Opens the calling thread's network namespace.
    pub(crate) fn current() -> io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let file = std::fs::File::open("/proc/thread-self/ns/net")?;
        let meta = file.metadata()?;
        Ok(NetnsFd {
            id: (meta.dev(), meta.ino()),
            fd: file.into(),
        })
    }

    /// Whether the calling thread is in this namespace now.
    pub(crate) fn is_current(&self) -> bool {
        current_netns_id().is_ok_and(|id| id == self.id)
    }

    /// Moves the calling thread into the namespace (`setns(2)`), unless it is there
    /// already (no `CAP_SYS_ADMIN` needed then).
    pub(crate) fn enter(&self) -> io::Result<()> {
        if self.is_current() {
            return Ok(());
        }
        // SAFETY: the descriptor is an open namespace file owned by `self`.
        cvt(unsafe { libc::setns(self.fd.as_raw_fd(), libc::CLONE_NEWNET) }).map(drop)
    }

    /// The raw descriptor, for a `pre_exec` hook that calls `setns` in a child.
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The raw descriptor of anything that has one, for the `libc` calls.
pub(crate) fn raw(fd: &impl AsRawFd) -> RawFd {
    fd.as_raw_fd()
}

/// Sets the socket's receive buffer to `bytes` (socket(7)): `SO_RCVBUFFORCE`, which
/// passes `net.core.rmem_max` and needs `CAP_NET_ADMIN`, else `SO_RCVBUF`, capped by
/// `rmem_max`. Returns the size the kernel reports afterwards (it doubles the request
/// for its own bookkeeping).
pub(crate) fn set_receive_buffer(sock: &socket2::Socket, bytes: usize) -> io::Result<usize> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    if setsockopt(sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, value).is_err() {
        sock.set_recv_buffer_size(bytes)?;
    }
    sock.recv_buffer_size()
}

/// Sets a socket's send buffer to `bytes` (`SO_SNDBUFFORCE`, which `CAP_NET_ADMIN`
/// allows above `wmem_max`; without it `SO_SNDBUF`, capped there) and returns what
/// the kernel reports (twice what was asked, socket(7)).
pub(crate) fn set_send_buffer(sock: &socket2::Socket, bytes: usize) -> io::Result<usize> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    if setsockopt(sock, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, value).is_err() {
        sock.set_send_buffer_size(bytes)?;
    }
    sock.send_buffer_size()
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
        let o = RxqOverflow::default();
        o.observe(u32::MAX - 1);
        o.observe(3);
        assert_eq!(o.take(), u64::from(u32::MAX - 1) + 5);
        assert_eq!(o.take(), 0, "taken");
    }

    #[test]
    fn loopback_has_an_index_and_nonsense_has_none() {
        assert!(if_index("lo").unwrap() > 0);
        assert!(matches!(
            if_index("mip6-no-such-if"),
            Err(Error::NoSuchInterface { .. })
        ));
        assert!(matches!(
            if_index("nul\0inside"),
            Err(Error::NoSuchInterface { .. })
        ));
    }

    #[test]
    fn sockaddr_carries_the_address() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let sa = sockaddr_in6(a);
        assert_eq!(sa.sin6_family, libc::AF_INET6 as libc::sa_family_t);
        assert_eq!(sa.sin6_addr.s6_addr, a.octets());
        assert_eq!(sa.sin6_port, 0);
    }
}
