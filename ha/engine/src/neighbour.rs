//! The home agent on its home link: proxy Neighbor Discovery for the home addresses it
//! holds a binding for, and Duplicate Address Detection before a home address's first
//! registration (RFC 6275 §10.3.1, §10.4.1; RFC 4861 §7.2; RFC 4862 §5.4). Active only
//! when [`HaConfig::home_link`](crate::HaConfig::home_link) is set.
//!
//! - **Proxy** (§10.4.1): a Neighbor Solicitation whose target is a home address with
//!   a binding (or, for a binding registered with the L flag, the link-local address
//!   with the home address's interface identifier) is answered with a Neighbor
//!   Advertisement giving the home agent's link-layer address: R clear (§10.4.1),
//!   O clear (RFC 4861 §7.2.8, a proxy never overrides the owner), S set and sent to
//!   the soliciting node, or, for a Duplicate Address Detection probe (unspecified
//!   source), S clear and sent to all-nodes (RFC 4861 §7.2.4). The home agent thereby
//!   also defends the address against other nodes' Duplicate Address Detection.
//!   Multicast and unicast solicitations are treated alike.
//! - **Announcement** (§10.4.1): a new binding is announced once with an unsolicited
//!   advertisement to all-nodes, R and S clear, O set, for the home address and the
//!   link-local address if L was set. (RFC 6275 allows up to
//!   `MAX_NEIGHBOR_ADVERTISEMENT` repeats; one is sent.)
//! - **Duplicate Address Detection** (§10.3.1): a Binding Update that would create a
//!   binding for a home address without one is held; the home agent sends
//!   [`HomeLink::dad_transmits`](crate::config::HomeLink) solicitations from the
//!   unspecified address to the solicited-node group of the home address (and of the
//!   link-local address with L), `RetransTimer` apart. A Neighbor Advertisement for
//!   such a target, or another node's probe for it (RFC 4862 §5.4.3), fails it: the
//!   Binding Update is refused with 134. Otherwise it is processed one `RetransTimer`
//!   after the last probe. A newer Binding Update of the same node while the detection
//!   runs takes the held one's place; the detection goes on where it was.
//!
//! - **Intercepted link-local packets** (§10.4.2): a packet to a link-local address
//!   the home agent proxies reaches it because of its own advertisement; it is never
//!   tunnelled: it is discarded and answered with ICMPv6 Destination Unreachable code
//!   3 (address unreachable) to its source, unless that is multicast or unspecified,
//!   within the error rate limit (`crate::unprotected`). The answer leaves from the
//!   home agent's link-local address for a link-local source, from its own address
//!   otherwise, to the Ethernet sender of the packet.
//!
//! Not supported: proxying link-local addresses of bindings restored after a restart
//! (the L flag is not stored; the node's next Binding Update restores it),
//! Neighbor Discovery behind extension headers ([`mip6_wire::nd`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv6Addr;

use mip6_wire::esp::EspAead;
use mip6_wire::mh::BuFlags;
use mip6_wire::nd::{
    self, AdvertisementFlags, LinkAddress, NdError, NdMessage, NeighbourAdvertisement,
    NeighbourSolicitation, ALL_NODES,
};
use mip6_wire::Time;
use rand_core::{CryptoRng, RngCore};

use etherparse::icmpv6::DestUnreachableCode;
use mip6_wire::frames::errors;

use crate::config::HomeLink;
use crate::engine::{HomeAgent, MnIndex};
use crate::signalling::{BindingAction, ReceivedBu};

/// A packet for the home link and the Ethernet address it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTransmit {
    /// The Ethernet destination (a `33:33` group address for a multicast packet).
    pub link_destination: LinkAddress,
    /// The IPv6 packet, without a link-layer header.
    pub packet: Vec<u8>,
}

/// What [`HomeAgent::handle_link`] did with a packet from the home link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkReceived {
    /// A solicitation for an address the home agent proxies: answered.
    Answered,
    /// Another node claimed or probed a home address under Duplicate Address
    /// Detection: its registration is refused with 134.
    DuplicateDetected,
    /// A valid solicitation or advertisement about no address of the home agent's.
    NotOurs,
    /// Not a valid Neighbor Solicitation or Advertisement (RFC 4861 §7.1): discarded.
    Invalid(NdError),
    /// A packet to a proxied link-local address (RFC 6275 §10.4.2): discarded, and
    /// answered with Destination Unreachable code 3 unless its source was multicast
    /// or unspecified or the rate limit held the answer back.
    LinkLocalUnreachable,
}

/// A Binding Update held while Duplicate Address Detection runs for its home address.
#[derive(Debug)]
pub(crate) struct PendingDad {
    /// The Binding Update, checked, waiting for the detection's outcome.
    pub request: ReceivedBu,
    /// What it does to the binding once accepted.
    pub action: BindingAction,
    /// The addresses under detection: the home address, and its link-local
    /// counterpart with L.
    pub targets: Vec<Ipv6Addr>,
    /// When the next probe goes out, or, with none left, when the detection succeeds.
    pub next_at: Time,
    /// Probes still to send after the ones sent.
    pub probes_left: u8,
}

/// The engine's home-link state.
#[derive(Debug, Default)]
pub(crate) struct Neighbours {
    /// Proxied link-local addresses (bindings registered with L) → their node.
    link_local: HashMap<Ipv6Addr, MnIndex>,
    /// Held Binding Updates by node.
    pending: BTreeMap<MnIndex, PendingDad>,
    /// Packets for the home link.
    transmits: VecDeque<LinkTransmit>,
}

impl Neighbours {
    /// The earliest probe or detection end.
    pub(crate) fn next_deadline(&self) -> Option<Time> {
        self.pending.values().map(|p| p.next_at).min()
    }
}

impl<R: RngCore + CryptoRng, A: EspAead> HomeAgent<R, A> {
    /// Handles an IPv6 packet received on the home link (a Neighbor Solicitation or
    /// Advertisement, or a packet to a link-local address), `link_source` being the
    /// Ethernet source it came from: answers solicitations for proxied addresses, ends
    /// Duplicate Address Detection that another node contests, and answers packets to
    /// a proxied link-local address with Destination Unreachable (§10.4.2). Never panics; does nothing without a home link. `now`
    /// is taken as every engine input takes it (a capture replays it), though no
    /// answer depends on it.
    pub fn handle_link(
        &mut self,
        now: Time,
        link_source: LinkAddress,
        packet: &[u8],
    ) -> LinkReceived {
        let Some(link) = self.config.home_link else {
            return LinkReceived::NotOurs;
        };
        if !is_neighbour_discovery(packet) {
            if let Some((source, destination)) = link_local_destination(packet) {
                if self.neighbours.link_local.contains_key(&destination) {
                    self.answer_unreachable(now, &link, link_source, source, packet);
                    return LinkReceived::LinkLocalUnreachable;
                }
                return LinkReceived::NotOurs;
            }
        }
        let message = match nd::parse(packet) {
            Ok(m) => m,
            Err(e) => {
                self.counters.neighbour_discovery_invalid += 1;
                tracing::debug!(error = %e, "home-link packet discarded");
                return LinkReceived::Invalid(e);
            }
        };
        let (target, contests) = match message {
            NdMessage::Solicitation(s) => (s.target, s.source.is_unspecified()),
            NdMessage::Advertisement(a) => (a.target, true),
        };
        if contests {
            if let Some(index) = self.under_detection(&target) {
                self.detection_failed(index, target);
                return LinkReceived::DuplicateDetected;
            }
        }
        let NdMessage::Solicitation(solicitation) = message else {
            return LinkReceived::NotOurs;
        };
        if self.proxied(&target).is_none() {
            return LinkReceived::NotOurs;
        }
        self.answer_solicitation(&link, link_source, &solicitation);
        LinkReceived::Answered
    }

    /// RFC 6275 §10.4.2 with RFC 4443 §3.1 and §2.4 (e), (f).
    fn answer_unreachable(
        &mut self,
        now: Time,
        link: &HomeLink,
        link_source: LinkAddress,
        source: Ipv6Addr,
        packet: &[u8],
    ) {
        self.counters.link_local_intercepted += 1;
        if source.is_multicast() || source.is_unspecified() {
            return;
        }
        if !self.answer_rates.errors.allow(now) {
            self.counters.answers_rate_limited += 1;
            return;
        }
        let from = if is_link_local(&source) {
            link.link_local
        } else {
            self.config.address
        };
        self.counters.icmp_errors_sent += 1;
        tracing::debug!(to = %source, "destination unreachable: a mobile node's link-local address");
        self.neighbours.transmits.push_back(LinkTransmit {
            link_destination: link_source,
            packet: errors::destination_unreachable(
                from,
                source,
                DestUnreachableCode::Address,
                packet,
            ),
        });
    }

    /// The next packet for the home link.
    pub fn poll_link_transmit(&mut self) -> Option<LinkTransmit> {
        self.neighbours.transmits.pop_front()
    }

    /// The node an address on the home link is proxied for: a home address with a
    /// binding, or a proxied link-local address.
    fn proxied(&self, target: &Ipv6Addr) -> Option<MnIndex> {
        if let Some(index) = self.by_hoa.get(&self.mns, target) {
            return self.mns[index].binding.is_some().then_some(index);
        }
        self.neighbours.link_local.get(target).copied()
    }

    fn under_detection(&self, target: &Ipv6Addr) -> Option<MnIndex> {
        self.neighbours
            .pending
            .iter()
            .find(|(_, p)| p.targets.contains(target))
            .map(|(&index, _)| index)
    }

    /// RFC 6275 §10.4.1 with RFC 4861 §7.2.4 and §7.2.8.
    fn answer_solicitation(
        &mut self,
        link: &HomeLink,
        link_source: LinkAddress,
        solicitation: &NeighbourSolicitation,
    ) {
        let probe = solicitation.source.is_unspecified();
        let destination = if probe {
            ALL_NODES
        } else {
            solicitation.source
        };
        let link_destination = nd::link_destination(&destination)
            .or(solicitation.source_link_address)
            .unwrap_or(link_source);
        let advertisement = NeighbourAdvertisement {
            source: link.link_local,
            destination,
            flags: AdvertisementFlags {
                router: false,
                solicited: !probe,
                override_entry: false,
            },
            target: solicitation.target,
            target_link_address: Some(link.link_address),
        };
        self.counters.neighbour_solicitations_answered += 1;
        tracing::debug!(target = %solicitation.target, from = %solicitation.source, "proxy neighbour advertisement");
        self.neighbours.transmits.push_back(LinkTransmit {
            link_destination,
            packet: advertisement.emit(),
        });
    }

    /// Holds a checked Binding Update that would create a binding, and starts (or, for
    /// a newer BU of a node already under detection, continues) Duplicate Address
    /// Detection. Returns the BU back if there is nothing to detect (no home link, no
    /// probes configured).
    pub(crate) fn hold_for_detection(
        &mut self,
        now: Time,
        index: MnIndex,
        request: ReceivedBu,
        action: BindingAction,
        previous: Option<PendingDad>,
    ) -> Option<(ReceivedBu, BindingAction)> {
        let Some(link) = self.config.home_link.filter(|l| l.dad_transmits > 0) else {
            return Some((request, action));
        };
        let hoa = self.mns[index].home_address;
        let mut targets = vec![hoa];
        if request.update.flags.contains(BuFlags::L) {
            targets.push(nd::link_local_of(&hoa));
        }
        let pending = match previous {
            Some(p) => PendingDad {
                request,
                action,
                // A target the earlier BU did not name is probed from now on.
                targets: {
                    for t in &targets {
                        if !p.targets.contains(t) {
                            self.probe(t);
                        }
                    }
                    targets
                },
                ..p
            },
            None => {
                for t in &targets {
                    self.probe(t);
                }
                tracing::debug!(%hoa, "duplicate address detection started");
                PendingDad {
                    request,
                    action,
                    targets,
                    next_at: now + link.retrans_timer,
                    probes_left: link.dad_transmits - 1,
                }
            }
        };
        self.neighbours.pending.insert(index, pending);
        None
    }

    /// Takes the Binding Update a node has under detection, if any (a newer BU of the
    /// node replaces it).
    pub(crate) fn take_held(&mut self, index: MnIndex) -> Option<PendingDad> {
        self.neighbours.pending.remove(&index)
    }

    /// Puts back a held Binding Update that a silently discarded one did not replace.
    pub(crate) fn keep_held(&mut self, index: MnIndex, held: Option<PendingDad>) {
        if let Some(held) = held {
            self.neighbours.pending.insert(index, held);
        }
    }

    /// A Duplicate Address Detection probe for `target` (RFC 4862 §5.4.2).
    fn probe(&mut self, target: &Ipv6Addr) {
        let destination = nd::solicited_node(target);
        let solicitation = NeighbourSolicitation {
            source: Ipv6Addr::UNSPECIFIED,
            destination,
            target: *target,
            source_link_address: None,
        };
        self.counters.dad_probes_sent += 1;
        self.neighbours.transmits.push_back(LinkTransmit {
            link_destination: nd::link_destination(&destination)
                .unwrap_or_else(|| unreachable!("a solicited-node address is multicast")),
            packet: solicitation.emit(),
        });
    }

    fn detection_failed(&mut self, index: MnIndex, target: Ipv6Addr) {
        let Some(pending) = self.neighbours.pending.remove(&index) else {
            return;
        };
        self.counters.dad_collisions += 1;
        tracing::warn!(hoa = %self.mns[index].home_address, %target, "duplicate address detection failed: another node uses the address");
        self.refuse_held(index, &pending.request);
        self.flush_persist(index);
    }

    /// Sends the probes that are due and accepts the Binding Updates whose detection
    /// ended without a contest.
    pub(crate) fn handle_detection_timeouts(&mut self, now: Time) {
        let Some(link) = self.config.home_link else {
            return;
        };
        let due: Vec<MnIndex> = self
            .neighbours
            .pending
            .iter()
            .filter(|(_, p)| p.next_at <= now)
            .map(|(&index, _)| index)
            .collect();
        for index in due {
            let Some(mut pending) = self.neighbours.pending.remove(&index) else {
                continue;
            };
            if pending.probes_left > 0 {
                pending.probes_left -= 1;
                pending.next_at = now + link.retrans_timer;
                for t in pending.targets.clone() {
                    self.probe(&t);
                }
                self.neighbours.pending.insert(index, pending);
                continue;
            }
            tracing::debug!(hoa = %self.mns[index].home_address, "duplicate address detection passed");
            self.accept_checked(now, index, &pending.request, pending.action);
            self.flush_persist(index);
        }
    }

    /// After a binding is created or refreshed by a BU with `flags`: proxies (or stops
    /// proxying) the link-local address, and announces a new binding (§10.4.1).
    pub(crate) fn on_binding_set(&mut self, index: MnIndex, flags: BuFlags, created: bool) {
        let Some(link) = self.config.home_link else {
            return;
        };
        let hoa = self.mns[index].home_address;
        let link_local = nd::link_local_of(&hoa);
        let with_link_local = flags.contains(BuFlags::L);
        if with_link_local {
            self.neighbours.link_local.insert(link_local, index);
        } else {
            self.neighbours.link_local.remove(&link_local);
        }
        if created {
            self.announce(&link, hoa);
            if with_link_local {
                self.announce(&link, link_local);
            }
        }
    }

    /// After a binding is removed: no more proxying for the node's link-local address
    /// (its home address is proxied only while it has a binding).
    pub(crate) fn on_binding_removed(&mut self, index: MnIndex) {
        let hoa = self.mns[index].home_address;
        self.neighbours.link_local.remove(&nd::link_local_of(&hoa));
    }

    /// Announces on the home link every address this home agent answers for, as a
    /// home agent does when it takes over from the other one of a pair (issue 13): its
    /// own address, with the R flag (it forwards: RFC 4861 §7.2.6), and each home
    /// address it holds a binding for (§10.4.1: R clear), all with O set so the link's
    /// neighbour caches drop the Ethernet address of the home agent that held them
    /// before (RFC 4861 §7.2.6). Link-local addresses of bindings are not announced
    /// (their L flag is not stored, see the module docs). Nothing without a home link;
    /// the count of advertisements queued (see
    /// [`poll_link_transmit`](HomeAgent::poll_link_transmit)).
    pub fn announce_home_link(&mut self) -> usize {
        let Some(link) = self.config.home_link else {
            return 0;
        };
        let own = self.config.address;
        self.advertise(&link, own, true);
        let bound: Vec<Ipv6Addr> = self
            .mns
            .iter()
            .filter(|mn| mn.binding.is_some())
            .map(|mn| mn.home_address)
            .collect();
        for hoa in &bound {
            self.announce(&link, *hoa);
        }
        1 + bound.len()
    }

    /// The unsolicited advertisement of §10.4.1.
    fn announce(&mut self, link: &HomeLink, target: Ipv6Addr) {
        self.advertise(link, target, false);
    }

    /// An unsolicited advertisement to all-nodes for `target`, O set (RFC 4861
    /// §7.2.6), R as given.
    fn advertise(&mut self, link: &HomeLink, target: Ipv6Addr, router: bool) {
        let advertisement = NeighbourAdvertisement {
            source: link.link_local,
            destination: ALL_NODES,
            flags: AdvertisementFlags {
                router,
                solicited: false,
                override_entry: true,
            },
            target,
            target_link_address: Some(link.link_address),
        };
        self.counters.neighbour_advertisements_announced += 1;
        self.neighbours.transmits.push_back(LinkTransmit {
            link_destination: nd::link_destination(&ALL_NODES)
                .unwrap_or_else(|| unreachable!("all-nodes is multicast")),
            packet: advertisement.emit(),
        });
    }
}

impl Neighbours {
    /// Forgets everything about node `index` (it is no longer served): its proxied
    /// link-local address, a Binding Update held for Duplicate Address Detection.
    pub(crate) fn forget(&mut self, index: MnIndex) {
        self.pending.remove(&index);
        self.link_local.retain(|_, i| *i != index);
    }

    /// Node `from` is now node `to` (the engine's table moved it).
    pub(crate) fn renumber(&mut self, from: MnIndex, to: MnIndex) {
        if let Some(p) = self.pending.remove(&from) {
            self.pending.insert(to, p);
        }
        for i in self.link_local.values_mut() {
            if *i == from {
                *i = to;
            }
        }
    }
}

/// Whether `packet` is an ICMPv6 Neighbor Solicitation or Advertisement right behind
/// its IPv6 header (what [`nd::parse`] takes; anything else is not Neighbor
/// Discovery to this module).
fn is_neighbour_discovery(packet: &[u8]) -> bool {
    packet.get(6) == Some(&58) && matches!(packet.get(40), Some(135 | 136))
}

/// fe80::/10.
fn is_link_local(address: &Ipv6Addr) -> bool {
    address.segments()[0] & 0xffc0 == 0xfe80
}

/// The source and destination of an IPv6 packet to a link-local unicast address.
fn link_local_destination(packet: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr)> {
    if packet.first()? >> 4 != 6 {
        return None;
    }
    let (source, destination) = crate::unprotected::addresses(packet)?;
    is_link_local(&destination).then_some((source, destination))
}
