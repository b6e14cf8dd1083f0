//! The sockets and the TUN both daemons drive, registered with tokio's reactor
//! (`mip6_netio::reactor`): `AF_PACKET` sockets for signalling and unfragmented
//! tunnel frames (BPF-filtered for the local address; one per interface, or one on
//! every interface), a raw ESP socket for tunnel frames the kernel reassembled, an
//! `IPPROTO_RAW` socket for everything routed, an `AF_PACKET` sender straight to a
//! known next hop, the TUN, and with ESP in UDP ([`super::encap`]) a UDP socket
//! for tunnel frames in UDP (`UDP_GRO` in, `UDP_SEGMENT` out). Every descriptor is
//! non-blocking; a `WouldBlock` clears the reactor's readiness through `AsyncFd`'s
//! guards.

use std::io;
use std::net::Ipv6Addr;
use std::task::Poll;

use mip6_netio::reactor::register;
use mip6_netio::{
    EspUdpSocket, LinkSender, NextHop, PacketSocket, RawReceiver, RawSender, Tun, TunConfig,
    TunnelProto,
};
use tokio::io::unix::AsyncFd;

/// The receive buffer of every packet socket and of the raw ESP socket: room for
/// thousands of Binding Updates in flight (the kernel default, ~208 KiB, dropped them
/// above ~256; issue 13). Memory is taken only while frames wait.
pub const RECEIVE_BUFFER: usize = 8 << 20;

/// Logs what sizing a socket's receive buffer gave, warning when it is less.
fn size_receive_buffer(what: &str, sized: Result<usize, mip6_netio::Error>) {
    match sized {
        Ok(n) if n >= RECEIVE_BUFFER => {
            tracing::debug!(socket = what, bytes = n, "receive buffer");
        }
        Ok(n) => tracing::warn!(
            socket = what,
            bytes = n,
            wanted = RECEIVE_BUFFER,
            "receive buffer smaller than wanted"
        ),
        Err(e) => {
            tracing::warn!(socket = what, error = %e, "receive buffer left at the kernel's default");
        }
    }
}

/// What [`Io::open`] opens.
#[derive(Debug, Clone)]
pub struct IoConfig {
    /// One packet socket per entry: `Some(interface)`, or `None` for every interface.
    pub packet_sockets: Vec<Option<String>>,
    /// The address the packet sockets' filter takes frames for.
    pub local: Ipv6Addr,
    /// The source the raw sender is bound to, if any (the kernel then skips source
    /// address selection per packet).
    pub source: Option<Ipv6Addr>,
    /// The TUN.
    pub tun: TunConfig,
    /// The home link, whose Neighbor Discovery the role answers (the home agent):
    /// a packet socket for Neighbor Solicitations and Advertisements is opened on it.
    pub home_link: Option<String>,
    /// ESP in UDP (RFC 3948): a UDP socket is opened on `[::]` and this port.
    pub udp: Option<super::encap::UdpEncapConfig>,
}

/// What failed while opening the I/O.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct OpenError {
    /// What was being opened.
    pub what: String,
    /// Why it failed.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
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

/// The open sockets and TUN.
#[derive(Debug)]
pub struct Io {
    /// The packet sockets (signalling, unfragmented tunnel frames).
    pub signalling: Vec<AsyncFd<PacketSocket>>,
    /// Raw ESP (protocol 50): tunnel frames the kernel reassembled.
    pub esp: AsyncFd<RawReceiver>,
    /// The `IPPROTO_RAW` sender of everything routed.
    pub sender: AsyncFd<RawSender>,
    /// Tunnel frames straight to the next hop a peer's frames came through (none if
    /// it could not be opened: everything is then routed).
    pub link: Option<LinkSender>,
    /// The TUN.
    pub tun: AsyncFd<Tun>,
    /// Neighbor Discovery on the home link and the link's interface index, if the role
    /// has a home link.
    pub home_link: Option<(AsyncFd<PacketSocket>, u32)>,
    /// ESP in UDP: the socket, and what the configuration said of it.
    pub udp: Option<(AsyncFd<EspUdpSocket>, super::encap::UdpEncapConfig)>,
}

impl Io {
    /// Opens everything `config` names. Needs a tokio runtime (the reactor).
    pub fn open(config: &IoConfig) -> Result<Io, OpenError> {
        let mut signalling = Vec::new();
        for ifname in &config.packet_sockets {
            let on = ifname.as_deref().unwrap_or("every interface");
            let sock = PacketSocket::open(ifname.as_deref(), config.local)
                .map_err(open_err(format!("packet socket on {on}")))?;
            size_receive_buffer("packet socket", sock.set_receive_buffer(RECEIVE_BUFFER));
            signalling.push(
                register(sock).map_err(open_err(format!("registering packet socket on {on}")))?,
            );
        }
        let esp = RawReceiver::open(TunnelProto::Esp, None).map_err(open_err("raw ESP socket"))?;
        size_receive_buffer("raw ESP socket", esp.set_receive_buffer(RECEIVE_BUFFER));
        let sender = RawSender::open(None).map_err(open_err("IPPROTO_RAW socket"))?;
        if let Some(source) = config.source {
            if let Err(e) = sender.set_source(Some(source)) {
                tracing::warn!(%source, error = %e, "raw socket not bound to its source address");
            }
        }
        let tun = Tun::open(&config.tun).map_err(open_err(format!("TUN {}", config.tun.name)))?;
        let home_link = match &config.home_link {
            Some(ifname) => {
                let what = format!("Neighbor Discovery packet socket on {ifname}");
                let sock =
                    PacketSocket::open_neighbour_discovery(ifname).map_err(open_err(&what))?;
                size_receive_buffer("home link socket", sock.set_receive_buffer(RECEIVE_BUFFER));
                let ifindex = sock.ifindex();
                Some((register(sock).map_err(open_err(what))?, ifindex))
            }
            None => None,
        };
        let udp = match config.udp {
            Some(encap) => {
                let any = std::net::SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, encap.port, 0, 0);
                let what = format!("ESP-in-UDP socket on port {}", encap.port);
                let sock = EspUdpSocket::bind(any).map_err(open_err(&what))?;
                size_receive_buffer("ESP-in-UDP socket", sock.set_receive_buffer(RECEIVE_BUFFER));
                // A TUN batch (256 frames, ~370 KiB) leaves in a few segmented sends.
                if let Err(e) = sock.set_send_buffer(RECEIVE_BUFFER) {
                    tracing::warn!(error = %e, "ESP-in-UDP send buffer left at the kernel's default");
                }
                tracing::info!(
                    port = encap.port,
                    gro = sock.gro_enabled(),
                    gso = sock.supports_gso(),
                    "ESP in UDP (RFC 3948)"
                );
                Some((register(sock).map_err(open_err(what))?, encap))
            }
            None => None,
        };
        Ok(Io {
            signalling,
            esp: register(esp).map_err(open_err("registering the raw ESP socket"))?,
            sender: register(sender).map_err(open_err("registering the raw sender"))?,
            link: LinkSender::open()
                .map_err(
                    |e| tracing::warn!(error = %e, "no link-layer sender: every frame is routed"),
                )
                .ok(),
            tun: register(tun).map_err(open_err("registering the TUN"))?,
            home_link,
            udp,
        })
    }

    /// Waits until the ESP-in-UDP socket is readable; never resolves without one.
    pub async fn udp_readable(&self) {
        match &self.udp {
            Some((fd, _)) => {
                std::future::poll_fn(|cx| fd.poll_read_ready(cx).map(|_| ())).await;
            }
            None => std::future::pending().await,
        }
    }

    /// Waits until one of the packet sockets is readable; returns its index. The
    /// readiness stays set: the reader clears it when a receive would block.
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

    /// Waits until the home link's Neighbor Discovery socket is readable; never
    /// resolves without one.
    pub async fn home_link_readable(&self) {
        match &self.home_link {
            Some((fd, _)) => {
                std::future::poll_fn(|cx| fd.poll_read_ready(cx).map(|_| ())).await;
            }
            None => std::future::pending().await,
        }
    }

    /// Points every packet socket's filter at `local` (a mobile node that moved).
    pub fn set_local_address(&self, local: Ipv6Addr) -> Result<(), mip6_netio::Error> {
        for fd in &self.signalling {
            fd.get_ref().set_local_address(local)?;
        }
        Ok(())
    }

    /// Sends `frames` through the routed raw socket in `sendmmsg` batches. A frame the
    /// kernel refuses is skipped and reported through `refused`; a full socket buffer
    /// is waited out a few times, then the rest is reported refused. Returns how many
    /// the kernel took.
    pub async fn send_routed(
        &self,
        frames: &[&[u8]],
        mut refused: impl FnMut(&[u8], &io::Error),
    ) -> usize {
        let (mut at, mut sent, mut waits) = (0, 0, 0);
        while at < frames.len() {
            match self.sender.get_ref().send_batch(&frames[at..]) {
                Ok(0) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    frames[at..].iter().for_each(|f| refused(f, &e));
                    break;
                }
                Ok(n) => {
                    at += n;
                    sent += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && waits < 4 => {
                    waits += 1;
                    match self.sender.writable().await {
                        Ok(mut guard) => guard.clear_ready(),
                        Err(e) => {
                            frames[at..].iter().for_each(|f| refused(f, &e));
                            break;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    frames[at..].iter().for_each(|f| refused(f, &e));
                    break;
                }
                Err(e) => {
                    // sendmmsg reports an error only for the first frame of the batch.
                    refused(frames[at], &e);
                    at += 1;
                }
            }
        }
        sent
    }

    /// Sends `frames` straight to `hop` in `sendmmsg` batches (all of them for that
    /// next hop); refused frames are reported. Returns how many the kernel took.
    /// Without a link sender nothing is sent and every frame is reported.
    pub fn send_direct(
        &self,
        frames: &[&[u8]],
        hop: NextHop,
        mut refused: impl FnMut(&[u8], &io::Error),
    ) -> usize {
        let Some(link) = &self.link else {
            let e = io::Error::from(io::ErrorKind::NotConnected);
            frames.iter().for_each(|f| refused(f, &e));
            return 0;
        };
        let (mut at, mut sent) = (0, 0);
        while at < frames.len() {
            match link.send_batch(&frames[at..], hop) {
                Ok(0) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    frames[at..].iter().for_each(|f| refused(f, &e));
                    break;
                }
                Ok(n) => {
                    at += n;
                    sent += n;
                }
                Err(e) => {
                    refused(frames[at], &e);
                    at += 1;
                }
            }
        }
        sent
    }
}
