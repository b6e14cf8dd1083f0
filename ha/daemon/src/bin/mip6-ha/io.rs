//! The daemon's sockets and TUN, registered with tokio's reactor ([`AsyncFd`]): an
//! `AF_PACKET` socket per interface for Binding Updates (BPF-filtered for the HA's
//! address), a raw ESP socket for tunnel frames, an `IPPROTO_RAW` socket for
//! everything sent, and the TUN. All of them are non-blocking (mip6-netio); a
//! `WouldBlock` clears the reactor's readiness through [`AsyncFd`]'s guards.

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::task::Poll;

use mip6_netio::{LinkSender, PacketSocket, RawReceiver, RawSender, Tun, TunConfig, TunnelProto};
use tokio::io::unix::AsyncFd;

/// The open sockets and TUN.
#[derive(Debug)]
pub struct Io {
    /// One packet socket per interface (home interface first).
    pub signalling: Vec<AsyncFd<PacketSocket>>,
    /// Raw ESP (protocol 50) receiver: tunnel frames from mobile nodes that the kernel
    /// reassembled (the packet sockets take the others).
    pub esp: AsyncFd<RawReceiver>,
    /// The `IPPROTO_RAW` sender of BAs and tunnel frames.
    pub sender: AsyncFd<RawSender>,
    /// Tunnel frames straight to the next hop a care-of address's frames came through
    /// (none if it could not be opened: everything is then routed).
    pub link: Option<LinkSender>,
    /// The TUN.
    pub tun: AsyncFd<Tun>,
}

/// What failed while opening the I/O, with the OS layer's error.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct OpenError {
    /// What was being opened.
    pub what: String,
    /// Why it failed.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Registers `inner` with the reactor. `AsyncFd::new` is deprecated in tokio 1.54 in
/// favour of the `unsafe fn register`, because a `T` that does not own its descriptor
/// could close it while registered. Every `T` here (mip6-netio's sockets and TUN) owns
/// its descriptor, and the `AsyncFd` owns the `T`, so the descriptor outlives the
/// registration: the safe, deprecated call is sound here, and this crate forbids
/// `unsafe`.
#[allow(deprecated)]
fn register<T: AsRawFd>(inner: T) -> io::Result<AsyncFd<T>> {
    AsyncFd::new(inner)
}

fn open_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> OpenError {
    let what = what.into();
    move |e| OpenError {
        what,
        source: Box::new(e),
    }
}

impl Io {
    /// Opens everything: packet sockets on `interfaces` for `address`, the ESP
    /// receiver, the sender and the TUN (up, no address: routes point at it).
    pub fn open<'a>(
        interfaces: impl IntoIterator<Item = &'a str>,
        address: Ipv6Addr,
        tun: &TunConfig,
    ) -> Result<Io, OpenError> {
        let mut signalling = Vec::new();
        for ifname in interfaces {
            let sock = PacketSocket::open(Some(ifname), address)
                .map_err(open_err(format!("packet socket on {ifname}")))?;
            signalling.push(
                register(sock)
                    .map_err(open_err(format!("registering packet socket on {ifname}")))?,
            );
        }
        let esp = RawReceiver::open(TunnelProto::Esp, None).map_err(open_err("raw ESP socket"))?;
        let sender = RawSender::open(None).map_err(open_err("raw IPPROTO_RAW socket"))?;
        // Every frame leaves from the HA's address: bound, the kernel skips source
        // address selection per packet. Unbound is only slower.
        if let Err(e) = sender.set_source(Some(address)) {
            tracing::warn!(%address, error = %e, "raw socket not bound to the home agent address");
        }
        let tun_dev = Tun::open(tun).map_err(open_err(format!("TUN {}", tun.name)))?;
        Ok(Io {
            signalling,
            esp: register(esp).map_err(open_err("registering the ESP socket"))?,
            sender: register(sender).map_err(open_err("registering the raw sender"))?,
            link: LinkSender::open()
                .map_err(
                    |e| tracing::warn!(error = %e, "no link-layer sender: every frame is routed"),
                )
                .ok(),
            tun: register(tun_dev).map_err(open_err("registering the TUN"))?,
        })
    }

    /// Waits until one of the packet sockets is readable; returns its index. The
    /// readiness is left set: the reader clears it when a receive would block.
    pub async fn signalling_readable(&self) -> usize {
        std::future::poll_fn(|cx| {
            for (i, fd) in self.signalling.iter().enumerate() {
                if fd.poll_read_ready(cx).is_ready() {
                    return Poll::Ready(i);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Sends `frames` with `sendmmsg` batches. A frame the kernel refuses is skipped
    /// and reported through `refused`; a full socket buffer is waited out (at most a
    /// few times, then the rest is reported refused).
    pub async fn send_all(&self, frames: &[&[u8]], mut refused: impl FnMut(&[u8], &io::Error)) {
        let mut sent = 0;
        let mut waits = 0;
        while sent < frames.len() {
            match self.sender.get_ref().send_batch(&frames[sent..]) {
                Ok(n) => sent += n.max(1).min(frames.len() - sent),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && waits < 4 => {
                    waits += 1;
                    match self.sender.writable().await {
                        Ok(mut guard) => guard.clear_ready(),
                        Err(e) => {
                            for f in &frames[sent..] {
                                refused(f, &e);
                            }
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    for f in &frames[sent..] {
                        refused(f, &e);
                    }
                    return;
                }
                Err(e) => {
                    // sendmmsg reports an error only for the first frame of the batch.
                    refused(frames[sent], &e);
                    sent += 1;
                }
            }
        }
    }
}
