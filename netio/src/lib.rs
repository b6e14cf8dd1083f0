//! The OS layer the `mip6-ha` and `mip6-mn` daemons share: it moves bytes between the
//! sans-IO engines and Linux, and parses no protocol beyond what a BPF filter looks at.
//!
//! | module | what | why this way |
//! | --- | --- | --- |
//! | [`packet_socket`] | `AF_PACKET`/`SOCK_DGRAM` receive of BU/BA frames and unfragmented tunnel (ESP) frames, BPF-filtered, `recvmmsg` batches | the kernel drops (and answers) packets with a Home Address option or a type 2 routing header, so signalling must be taken before the IPv6 stack sees it; taking tunnel frames here too lets [`nft`] drop them before the kernel routes and delivers each one |
//! | [`raw_send`] | `AF_INET6`/`SOCK_RAW`/`IPPROTO_RAW` send of fully built packets, `sendmmsg` batches | the kernel refuses to build an RH2 and checksums a HoA packet over the wrong source; with `IPPROTO_RAW` it sends our bytes as they are |
//! | [`raw_recv`] | raw proto 50 (ESP) and 41 (IPv6-in-IPv6) receive, rebuilt into full IPv6 packets | what the packet socket does not take: ESP the kernel reassembled from fragments, and IPv6-in-IPv6; a synthetic IPv6 header gives the engines the packet shape they take |
//! | [`udp_socket`] | ESP in UDP (RFC 3948, port 4500) over a kernel UDP socket: `UDP_SEGMENT` sends (GSO), `UDP_GRO` receives, `IPV6_PKTINFO` destination, `recvmmsg` batches | one `sendmsg` carries a TUN super-packet's sealed ESP packets and one receive may return a peer's burst; raw ESP (protocol 50) has neither, and UDP passes NATs |
//! | [`link_send`] | `AF_PACKET` send of built packets to a known neighbour, `PACKET_QDISC_BYPASS`, `sendmmsg` batches | tunnel frames to a peer already heard from skip the kernel's per-packet route lookup and output path |
//! | [`tun`] | the TUN device (tun-rs): MTU, address, up; reads that split TSO super-packets and writes that coalesce TCP segments (`IFF_VNET_HDR`) | user-side end of the data path; one kernel pass per 64 KiB instead of per packet |
//! | [`udp_checksum`] | a UDP/IPv6 checksum completed as 0x0000 by the TUN offload written as 0xFFFF | tun-rs leaves the illegal zero (RFC 8200 §8.1) in one datagram of 65 536 |
//! | [`nft`] | an nftables table of our own dropping HoA/RH2 and unfragmented ESP packets at prerouting | keeps the kernel from sending ICMPv6 Parameter Problem for our signalling; `AF_PACKET` taps run before netfilter, so capture still works |
//! | [`addr_watch`] | IPv6 address events (`RTNLGRP_IPV6_IFADDR`) and a dump of the current addresses | the MN's movement detection: a new global address on a watched interface is a new care-of address |
//! | [`interface`] | an interface's Ethernet and link-local addresses (sysfs, procfs) | the home agent's proxy Neighbor Advertisements carry both |
//! | [`bpf`] | the classic BPF programs that let a packet socket see only signalling and tunnel frames for one local address, or the home link's Neighbor Solicitations and Advertisements | the kernel filters before copying: a busy link costs the daemon nothing |
//! | `error` | [`Error`], the set-up error (per-packet calls return `io::Result`) | `WouldBlock` reaches the reactor unchanged |
//! | `sys` | the libc helpers the sockets share: interface lookup, `sockaddr_in6`, `setsockopt`, a typed cmsg walk ([`if_index`], [`MAX_BATCH`]) | every raw pointer use is there or beside a `// SAFETY:` line |
//! | [`reactor`] | registration of the sockets and the TUN with tokio's `AsyncFd` | `AsyncFd::register` is `unsafe` (tokio #8587); the promise it needs is made here, once, for this crate's types |
//! | [`routes`] | /128 routes, proxy NDP, source rules over rtnetlink; forwarding and proxy sysctls | home-link presence of the HoA and the MN's reverse-tunnel routing |
//!
//! Linux only. The packet path is non-blocking file descriptors (`AsRawFd`/`AsFd` on every
//! socket and the TUN) so a daemon registers them with its own reactor (tokio's `AsyncFd`);
//! per-packet calls return [`std::io::Result`] so `ErrorKind::WouldBlock` reaches the
//! reactor unchanged. Set-up calls return the typed [`Error`]. Only [`routes`] needs a tokio
//! runtime (rtnetlink is tokio based).
//!
//! Facts this crate rests on are in `docs/architecture.md`, "Measured kernel facts".
//! Not done here (later optimisations): multiqueue on the TUN, `PACKET_MMAP` rings.

#![cfg(target_os = "linux")]
#![warn(missing_docs)]

pub mod addr_watch;
pub mod bpf;
mod error;
pub mod interface;
pub mod link_send;
pub mod nft;
pub mod packet_socket;
pub mod raw_recv;
pub mod raw_send;
pub mod reactor;
pub mod routes;
mod sys;
pub mod tun;
pub mod udp_checksum;
pub mod udp_socket;

pub use error::Error;
pub use link_send::{LinkSender, NextHop};
pub use packet_socket::{PacketSocket, RecvMeta};
pub use raw_recv::{RawReceiver, TunnelProto};
pub use raw_send::RawSender;
pub use sys::{enter_named_netns, if_index, MAX_BATCH};
pub use tun::{Tun, TunConfig, TunWriteBatch, READ_SCRATCH_LEN, SEGMENTS_PER_READ};
pub use udp_socket::{EspUdpSocket, Received};
