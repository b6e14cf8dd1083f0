//! The I/O around [`crate::router_discovery`]: the packet socket that reads Router and
//! Neighbor Advertisements on every interface ([`PacketSocket::open_router_discovery`]),
//! the machine's timer, and carrying out its [`Action`]s — addresses and default
//! routes through [`Host`], Router Solicitations and reachability probes onto the link
//! through the role's link queue. It also remembers which advertisement formed which
//! address, so the movement the address then causes is reported with the moment the
//! advertisement arrived (status `movement`, the demo's handover latency).
//!
//! Every frame the socket passes is counted: advertisements taken, and each drop by
//! its reason (`invalid_advertisement`, `invalid_neighbour_advertisement`,
//! `truncated`, `unwatched_interface`; and `probe_without_link_local`, a probe not
//! sent), logged at debug.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv6Addr;

use mip6_daemon::shell::LinkPacket;
use mip6_netio::addr_watch::{AddrChange, AddrEvent};
use mip6_netio::{PacketSocket, RecvMeta};
use mip6_wire::nd::{self, LinkAddress, NdMessage, NeighbourSolicitation};
use mip6_wire::{ra, Time};
use serde_json::{json, Map, Value};
use tokio::io::unix::AsyncFd;

use crate::host::Host;
use crate::movement::Attachment;
use crate::router_discovery::{Action, RouterDiscovery};

/// Frames read per wake at most (the rest wait for the next one).
const FRAMES_PER_WAKE: usize = 64;
/// Room for any advertisement on an Ethernet link.
const FRAME_BUFFER: usize = 2048;

/// One frame the socket passed.
#[derive(Debug, Clone)]
pub struct LinkFrame {
    /// The interface it came in on.
    pub ifindex: u32,
    /// Its Ethernet sender.
    pub link_sender: Option<LinkAddress>,
    /// The IPv6 packet.
    pub packet: Vec<u8>,
}

/// What woke router discovery.
#[derive(Debug, Clone)]
pub enum RouterInput {
    /// Frames from the socket.
    Frames(Vec<LinkFrame>),
    /// The machine's deadline passed.
    Timer,
}

/// What the last change of attachment came from (status `movement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement {
    /// The attachment it led to.
    pub attachment: Attachment,
    /// The router whose advertisement formed the address; `None`: an address event
    /// alone (an address put there by someone else, or one that went).
    pub router: Option<Ipv6Addr>,
    /// When that advertisement arrived (µs since the Unix epoch).
    pub advertisement_at: Option<Time>,
    /// When the attachment changed.
    pub at: Time,
}

/// Counts by name (status `router_discovery`).
#[derive(Debug, Clone, Default)]
pub struct RouterCounters {
    advertisements: u64,
    moves: u64,
    routers_lost: u64,
    solicitations_sent: u64,
    probes_sent: u64,
    drops: BTreeMap<&'static str, u64>,
}

/// The socket, the machine, and what they formed (module docs).
pub struct RouterLink {
    socket: AsyncFd<PacketSocket>,
    machine: RouterDiscovery,
    own: BTreeMap<u32, LinkAddress>,
    names: BTreeMap<u32, String>,
    /// Address formed → (interface, router, when its advertisement arrived).
    formed_by: BTreeMap<Ipv6Addr, (u32, Ipv6Addr, Time)>,
    counters: RouterCounters,
}

impl std::fmt::Debug for RouterLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterLink")
            .field("machine", &self.machine)
            .finish_non_exhaustive()
    }
}

impl RouterLink {
    /// Opens the socket and starts the machine on `interfaces` (index, name); the
    /// actions are its first solicitations. An interface without an Ethernet address is
    /// left to address events, with a WARN.
    pub fn open(interfaces: &[(u32, String)]) -> Result<(RouterLink, Vec<Action>), String> {
        let socket = PacketSocket::open_router_discovery()
            .map_err(|e| format!("router discovery socket: {e}"))?;
        let socket = mip6_netio::reactor::register(socket)
            .map_err(|e| format!("router discovery socket: {e}"))?;
        let own = own_addresses(interfaces);
        let (machine, actions) =
            RouterDiscovery::new(&own.iter().map(|(i, m)| (*i, *m)).collect::<Vec<_>>());
        Ok((
            RouterLink {
                socket,
                machine,
                own,
                names: interfaces.iter().cloned().collect(),
                formed_by: BTreeMap::new(),
                counters: RouterCounters::default(),
            },
            actions,
        ))
    }

    /// A new set of watched interfaces (SIGHUP): links no longer watched lose what
    /// was formed on them, new ones are solicited.
    pub fn set_interfaces(&mut self, interfaces: &[(u32, String)]) -> Vec<Action> {
        self.own = own_addresses(interfaces);
        self.names = interfaces.iter().cloned().collect();
        self.machine
            .set_interfaces(&self.own.iter().map(|(i, m)| (*i, *m)).collect::<Vec<_>>())
    }

    /// The Ethernet address of a watched interface, as read when it was watched.
    pub fn link_address(&self, ifindex: u32) -> Option<LinkAddress> {
        self.own.get(&ifindex).copied()
    }

    /// Waits for frames or the machine's deadline. Cancel-safe: frames are read only
    /// once the socket is readable, without waiting in between.
    pub async fn next(&mut self) -> Result<RouterInput, String> {
        let sleep = self
            .machine
            .poll_timeout()
            .map(|d| d.saturating_since(mip6_daemon::clock::now()));
        tokio::select! {
            ready = self.socket.readable() => {
                let mut guard = ready.map_err(|e| format!("router discovery socket: {e}"))?;
                let mut frames = Vec::new();
                let mut truncated = Vec::new();
                let mut buf = vec![0u8; FRAME_BUFFER];
                for _ in 0..FRAMES_PER_WAKE {
                    let mut meta = [RecvMeta::default()];
                    match guard.try_io(|s| s.get_ref().recv_batch(&mut [&mut buf[..]], &mut meta)) {
                        Ok(Ok(1)) => {
                            let m = meta[0];
                            if m.truncated {
                                truncated.push(m.ifindex);
                                continue;
                            }
                            frames.push(LinkFrame {
                                ifindex: m.ifindex,
                                link_sender: m.link_sender,
                                packet: buf[..m.len].to_vec(),
                            });
                        }
                        Ok(Ok(_)) | Err(_) => break,
                        Ok(Err(e)) => return Err(format!("router discovery socket: {e}")),
                    }
                }
                drop(guard);
                for ifindex in truncated {
                    self.count_drop("truncated", ifindex);
                }
                Ok(RouterInput::Frames(frames))
            }
            () = async {
                match sleep {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            } => Ok(RouterInput::Timer),
        }
    }

    fn count_drop(&mut self, reason: &'static str, ifindex: u32) {
        tracing::debug!(reason, ifindex, "router discovery frame dropped");
        *self.counters.drops.entry(reason).or_default() += 1;
    }

    /// Hands an input to the machine; returns what to carry out.
    pub fn handle(&mut self, now: Time, input: RouterInput) -> Vec<Action> {
        match input {
            RouterInput::Timer => {
                let (actions, lost) = self.machine.on_timeout(now);
                for router in lost {
                    self.counters.routers_lost += 1;
                    tracing::info!(%router, "default router lost (lifetime, or unreachable)");
                }
                actions
            }
            RouterInput::Frames(frames) => {
                let mut actions = Vec::new();
                for frame in frames {
                    self.frame(now, frame, &mut actions);
                }
                actions
            }
        }
    }

    fn frame(&mut self, now: Time, frame: LinkFrame, actions: &mut Vec<Action>) {
        if !self.own.contains_key(&frame.ifindex) {
            self.count_drop("unwatched_interface", frame.ifindex);
            return;
        }
        if frame.packet.get(40) == Some(&ra::ROUTER_ADVERTISEMENT) {
            let advertisement = match ra::parse_advertisement(&frame.packet) {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, ifindex = frame.ifindex, "invalid Router Advertisement");
                    self.count_drop("invalid_advertisement", frame.ifindex);
                    return;
                }
            };
            self.counters.advertisements += 1;
            let (mut new, moved) = self.machine.on_advertisement(
                now,
                frame.ifindex,
                frame.link_sender,
                &advertisement,
            );
            let withdrawn = advertisement.router_lifetime == 0
                && new.iter().any(|a| {
                    matches!(a, Action::RemoveDefaultRoute { router, .. } if *router == advertisement.source)
                });
            if withdrawn {
                self.counters.routers_lost += 1;
                tracing::info!(router = %advertisement.source, ifindex = frame.ifindex,
                    "default router withdrawn (Router Lifetime 0)");
            }
            if moved {
                self.counters.moves += 1;
                tracing::info!(router = %advertisement.source, ifindex = frame.ifindex,
                    "a new router with new prefixes: moved to another link (RFC 6275 §11.5.1)");
            }
            for action in &new {
                if let Action::AddAddress { ifindex, address } = action {
                    tracing::info!(router = %advertisement.source, ifindex, %address,
                        "address formed from a Router Advertisement");
                    self.formed_by
                        .insert(*address, (*ifindex, advertisement.source, now));
                }
            }
            actions.append(&mut new);
            return;
        }
        match nd::parse(&frame.packet) {
            Ok(NdMessage::Advertisement(na)) => self.machine.on_neighbour_advertisement(
                now,
                frame.ifindex,
                na.target,
                na.flags.solicited,
            ),
            Ok(NdMessage::Solicitation(_)) | Err(_) => {
                self.count_drop("invalid_neighbour_advertisement", frame.ifindex);
            }
        }
    }

    /// Follows an address event: a new link-local address (the interface came up:
    /// solicit), the flush of a formed address by someone else.
    pub fn on_address_event(&mut self, now: Time, e: &AddrEvent) -> Vec<Action> {
        let link_local = e.address.segments()[0] & 0xffc0 == 0xfe80;
        match e.change {
            AddrChange::Added if link_local => self.machine.on_link_up(now, e.ifindex),
            AddrChange::Removed if self.machine.is_formed(e.ifindex, &e.address) => {
                self.machine.on_address_removed(e.ifindex, e.address)
            }
            _ => Vec::new(),
        }
    }

    /// What a new attachment came from: the advertisement that formed its address,
    /// if one did.
    pub fn movement(&self, attachment: Attachment, now: Time) -> Movement {
        let formed = match attachment {
            Attachment::Away(care_of) => self.formed_by.get(&care_of).copied(),
            Attachment::Home { ifindex } => self
                .machine
                .formed(ifindex)
                .iter()
                .find_map(|a| self.formed_by.get(a).copied()),
            Attachment::Detached => None,
        };
        Movement {
            attachment,
            router: formed.map(|(_, r, _)| r),
            advertisement_at: formed.map(|(_, _, at)| at),
            at: now,
        }
    }

    /// Carries out `actions` in order: routes and addresses through `host` (failures
    /// logged), solicitations and probes into `link_out`.
    pub async fn carry_out(
        &mut self,
        actions: Vec<Action>,
        host: &mut Host,
        link_out: &mut VecDeque<LinkPacket>,
    ) {
        for action in actions {
            let started = std::time::Instant::now();
            let what = action.name();
            match action {
                Action::AddDefaultRoute { ifindex, router } => {
                    if let Err(e) = host.add_router(ifindex, router).await {
                        tracing::warn!(error = %e, %router, ifindex, "default route not added");
                    }
                }
                Action::RemoveDefaultRoute { ifindex, router } => {
                    if let Err(e) = host.remove_router(ifindex, router).await {
                        tracing::debug!(error = %e, %router, ifindex, "default route already gone");
                    }
                }
                Action::AddAddress { ifindex, address } => {
                    if let Err(e) = host.add_formed_address(ifindex, address).await {
                        tracing::warn!(error = %e, %address, ifindex, "address not added");
                    }
                }
                Action::RemoveAddress { ifindex, address } => {
                    self.formed_by.remove(&address);
                    if let Err(e) = host.remove_formed_address(ifindex, address).await {
                        tracing::debug!(error = %e, %address, ifindex, "address already gone");
                    }
                }
                Action::Solicit { ifindex } => {
                    // A down interface solicits when it comes up (its link-local
                    // address appears); sent now, it would only fail (ENETDOWN).
                    if !self
                        .names
                        .get(&ifindex)
                        .is_some_and(|name| mip6_netio::interface::is_up(name))
                    {
                        continue;
                    }
                    if let Some(destination) = nd::link_destination(&ra::ALL_ROUTERS) {
                        self.counters.solicitations_sent += 1;
                        link_out.push_back(LinkPacket {
                            ifindex: Some(ifindex),
                            destination,
                            packet: ra::solicitation_from_unspecified(),
                        });
                    }
                }
                Action::Probe {
                    ifindex,
                    router,
                    link_address,
                } => {
                    let source = self
                        .names
                        .get(&ifindex)
                        .and_then(|name| mip6_netio::interface::link_local_address(name).ok())
                        .flatten();
                    let Some(source) = source else {
                        tracing::debug!(ifindex, "no link-local address to probe the router from");
                        self.count_drop("probe_without_link_local", ifindex);
                        continue;
                    };
                    let destination =
                        link_address.or_else(|| nd::link_destination(&nd::solicited_node(&router)));
                    let Some(destination) = destination else {
                        continue;
                    };
                    self.counters.probes_sent += 1;
                    link_out.push_back(LinkPacket {
                        ifindex: Some(ifindex),
                        destination,
                        packet: NeighbourSolicitation {
                            source,
                            destination: router,
                            target: router,
                            source_link_address: self.own.get(&ifindex).copied(),
                        }
                        .emit(),
                    });
                }
            }
            tracing::debug!(
                action = what,
                elapsed_us = started.elapsed().as_micros() as u64,
                "router discovery action carried out"
            );
        }
    }

    /// Status `router_discovery`: counters and the routers known per interface.
    pub fn status(&self) -> Value {
        let c = &self.counters;
        let routers: Vec<Value> = self
            .machine
            .interfaces()
            .flat_map(|ifindex| {
                self.machine
                    .routers(ifindex)
                    .into_iter()
                    .map(move |r| json!({ "interface": ifindex, "router": r.to_string() }))
            })
            .collect();
        let drops: Map<String, Value> = c
            .drops
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        json!({
            "advertisements": c.advertisements,
            "moves": c.moves,
            "routers_lost": c.routers_lost,
            "solicitations_sent": c.solicitations_sent,
            "probes_sent": c.probes_sent,
            "drops": drops,
            "routers": routers,
        })
    }
}

impl Movement {
    /// Status `movement`.
    pub fn status(&self) -> Value {
        let (attachment, care_of) = match self.attachment {
            Attachment::Away(c) => ("away", Some(c.to_string())),
            Attachment::Home { .. } => ("home", None),
            Attachment::Detached => ("detached", None),
        };
        json!({
            "attachment": attachment,
            "care_of_address": care_of,
            "cause": if self.router.is_some() { "router_advertisement" } else { "address_event" },
            "router": self.router.map(|r| r.to_string()),
            "advertisement_unix_us": self.advertisement_at.map(Time::as_micros),
            "at_unix_us": self.at.as_micros(),
        })
    }
}

/// The Ethernet address of each interface that has one.
fn own_addresses(interfaces: &[(u32, String)]) -> BTreeMap<u32, LinkAddress> {
    let mut own = BTreeMap::new();
    for (ifindex, name) in interfaces {
        match mip6_netio::interface::hardware_address(name) {
            Ok(mac) => {
                own.insert(*ifindex, mac);
            }
            Err(e) => tracing::warn!(interface = %name, error = %e,
                "no Ethernet address: no router discovery on this interface, only its address events"),
        }
    }
    own
}
