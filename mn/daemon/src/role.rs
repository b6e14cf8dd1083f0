//! The mobile node as a role of the daemon shell ([`mip6_daemon::shell::Role`]): its
//! host events are address changes on the watched interfaces (movement detection,
//! RFC 6275 §11.5.1, [`crate::movement`]), which re-point the host's filters
//! ([`crate::host`]) and tell the engine its new care-of address; it logs
//! registrations and key installs and reports its registration in status.
//!
//! Returning home (RFC 6275 §11.5.4), in order: the reverse-tunnel route goes and the
//! filters follow the home address; the engine sends the deregistration from the
//! home address, routed onto the home link; when it is acknowledged (or at once, if
//! the node knows of no binding) the home address goes onto the home link's
//! interface and one Neighbor Advertisement to all nodes (O=1, S=0, the interface's
//! Ethernet address) tells the link that the node answers for it now. Leaving home
//! undoes the address and the route before the Binding Update leaves. Keys are not
//! touched either way.
//!
//! A move to a foreign link (issue 14, item 3: handover ≤ 2 ms, measured in
//! docs/benchmarks-lab.md), in order, all before the Binding Update leaves: the host
//! follows the new care-of address (packet filter, nft guard over nfnetlink, raw
//! sender's source: [`crate::host`]); one unsolicited Neighbor Advertisement for it
//! is queued (it leaves just before the BU, so the router's neighbour entry is
//! complete when the BA comes back); and if the address came before its route (set
//! by hand), the role waits for the route, at most [`crate::host::ROUTE_WAIT`], so
//! the BU is not refused with "network unreachable" and left to its 1.5 s
//! retransmission.
//!
//! Choices: the home address is not on the home link while the deregistration is
//! outstanding, so the node neither answers Neighbor Solicitations for it (the home
//! agent still defends it) nor uses it as the source of its own solicitation for the
//! home agent (the kernel takes the interface's link-local address; §11.5.4 asks for
//! the unspecified one, for the same reason). One advertisement, not
//! MAX_NEIGHBOR_ADVERTISEMENT (a MAY); none for the link-local address (the node
//! never sets L).

use std::collections::VecDeque;
use std::net::Ipv6Addr;

use mip6_daemon::metrics::Text;
use mip6_daemon::shell::report::snake_case;
use mip6_daemon::shell::screen::screen_destination;
use mip6_daemon::shell::{
    Handled, HostAction, Io, KeyMaterial, LinkPacket, Ready, ReportInput, Role, Warning,
};
use mip6_mn::{DataError, DropReason, Event, MnRecord, MobileNode, Registration};
use mip6_netio::addr_watch::{AddrEvent, AddrWatch};
use mip6_wire::mh::BaStatus;
use mip6_wire::nd::{self, AdvertisementFlags, NeighbourAdvertisement};
use mip6_wire::Time;
use serde_json::{Map, Value};

use crate::config::DaemonConfig;
use crate::host::Host;
use crate::movement::{Attachment, CoaTracker, HomePrefix};
use crate::router_discovery::Action;
use crate::router_link::{Movement, RouterInput, RouterLink};
use crate::status::{self, Identity};
use crate::store::MnRecords;
use crate::Aead;

/// Care-of address changes after the first one (a loss of every address in between
/// does not count twice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handovers {
    /// Changes so far.
    pub count: u64,
    last: Option<Ipv6Addr>,
}

impl Handovers {
    /// Notes the care-of address the engine was given.
    pub fn note(&mut self, care_of: Option<Ipv6Addr>) {
        if let Some(c) = care_of {
            if self.last.is_some_and(|last| last != c) {
                self.count += 1;
            }
            self.last = Some(c);
        }
    }
}

/// Retransmissions of one Binding Update without any BA after which the node warns
/// that its home agent does not answer (1.5 + 3 + 6 s: about 10 s, RFC 6275 §11.8).
pub const NO_BA_AFTER_RETRIES: u32 = 3;

/// What a BA status refusing a Binding Update likely means, for the warning.
pub fn refusal_hint(status: BaStatus) -> &'static str {
    match u8::from(status) {
        129 => "administratively prohibited",
        130 => "the home agent has no resources (SPIs) left",
        131 => "the home agent does not take home registrations",
        132 => "the home address is off the home agent's home prefix: wrong home_address?",
        133 => "the home agent does not serve this home address under these SPIs: wrong home_address, or the node is not configured on the home agent?",
        134 => "another node on the home link uses the home address",
        145 => "the Key Initialization timestamp was refused: clocks not synchronized, or request_mode differs?",
        174 => "the care-of address is unusable for the home agent",
        _ => "see the status code (RFC 6275 §6.1.8)",
    }
}

/// The Ethernet address of the interface with index `ifindex`.
fn interface_mac(ifindex: u32) -> Result<nd::LinkAddress, mip6_netio::Error> {
    mip6_netio::interface::name_of(ifindex)
        .and_then(|name| mip6_netio::interface::hardware_address(&name))
}

/// An unsolicited Neighbor Advertisement of `address` at `mac` to all nodes on the link
/// of `ifindex` (RFC 4861 §7.2.6: S=0, O=1, R=0, from the address itself).
pub fn unsolicited_advertisement(
    address: Ipv6Addr,
    ifindex: u32,
    mac: nd::LinkAddress,
) -> Option<LinkPacket> {
    let advertisement = NeighbourAdvertisement {
        source: address,
        destination: nd::ALL_NODES,
        flags: AdvertisementFlags {
            router: false,
            solicited: false,
            override_entry: true,
        },
        target: address,
        target_link_address: Some(mac),
    };
    Some(LinkPacket {
        ifindex: Some(ifindex),
        destination: nd::link_destination(&nd::ALL_NODES)?,
        packet: advertisement.emit(),
    })
}

/// What the host reports to the mobile node role.
#[derive(Debug, Clone)]
pub enum HostEvent {
    /// An address appeared, changed or went (rtnetlink).
    Address(AddrEvent),
    /// Router discovery's frames or timer ([`crate::router_link`]).
    Router(RouterInput),
}

/// The mobile node role: its engine, what it installed, its movement detection.
pub struct MobileNodeRole {
    node: MobileNode<Aead>,
    id: Identity,
    host: Host,
    watch: AddrWatch,
    tracker: CoaTracker,
    handovers: Handovers,
    tun_name: String,
    /// Neighbor Advertisements for the home link (RFC 6275 §11.5.4).
    link_out: VecDeque<LinkPacket>,
    /// Integrity drops already reported ([`Role::poll_warnings`]).
    integrity_seen: u64,
    /// Refusals since the last poll: the last status and how many.
    refused: Option<(BaStatus, u64)>,
    /// Retransmissions of the outstanding Binding Update already reported.
    retries_seen: u32,
    /// The running configuration (SIGHUP compares the file with it).
    config: DaemonConfig,
    /// Router discovery, unless `router_discovery = false`.
    router_link: Option<RouterLink>,
    /// The last change of attachment and what caused it.
    movement: Option<Movement>,
}

impl std::fmt::Debug for MobileNodeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MobileNodeRole")
            .field("home_address", &self.id.home_address)
            .field("care_of", &self.tracker.current())
            .finish_non_exhaustive()
    }
}

impl MobileNodeRole {
    /// The role around a built engine, the installed host pieces, and the address
    /// watcher with the tracker its dump filled.
    pub fn new(
        node: MobileNode<Aead>,
        id: Identity,
        host: Host,
        watch: AddrWatch,
        tracker: CoaTracker,
        config: DaemonConfig,
    ) -> Self {
        let tun_name = config.tun_name();
        MobileNodeRole {
            node,
            id,
            host,
            watch,
            tracker,
            handovers: Handovers::default(),
            tun_name,
            integrity_seen: 0,
            refused: None,
            retries_seen: 0,
            config,
            link_out: VecDeque::new(),
            router_link: None,
            movement: None,
        }
    }

    /// Starts router discovery (RFC 6275 §11.5.1) with its first actions (the
    /// solicitations, sent with the first flush).
    pub async fn enable_router_discovery(&mut self, mut link: RouterLink, actions: Vec<Action>) {
        link.carry_out(actions, &mut self.host, &mut self.link_out)
            .await;
        self.router_link = Some(link);
    }

    /// The interfaces watched, with their indexes.
    pub fn watched_interfaces(config: &DaemonConfig) -> Result<Vec<(u32, String)>, String> {
        config
            .interfaces
            .get_ref()
            .iter()
            .map(|i| {
                let name = i.get_ref().clone();
                mip6_netio::if_index(&name)
                    .map(|index| (index, name.clone()))
                    .map_err(|e| format!("interface {name}: {e}"))
            })
            .collect()
    }

    /// Started on the home link (the host already without the reverse-tunnel route):
    /// with no binding to remove, the home address goes onto the link at once;
    /// otherwise the deregistration's acknowledgement does it (RFC 6275 §11.5.4).
    pub async fn start_at_home(&mut self, ifindex: u32) {
        if !self.may_have_binding() {
            self.settle_home(ifindex).await;
        }
    }

    /// Whether the home agent may hold a binding for the node (a BU was accepted, or
    /// one is outstanding, or the node restarted from its record and the last run may
    /// have left one: it deregisters first, RFC 6275 §11.5.4).
    fn may_have_binding(&self) -> bool {
        self.node.binding_unknown()
            || !matches!(
                self.node.registration().state,
                Registration::Unregistered | Registration::AtHome
            )
    }

    /// On the home link with no binding left: the home address goes onto the home
    /// link's interface and is advertised to all nodes (RFC 6275 §11.5.4).
    async fn settle_home(&mut self, ifindex: u32) {
        if self.host.home_link() == Some(ifindex) {
            return;
        }
        if let Err(e) = self.host.take_home_address(ifindex).await {
            tracing::error!(error = %e, "could not take the home address onto the home link");
            return;
        }
        let hoa = self.id.home_address;
        match interface_mac(ifindex) {
            Ok(mac) => self
                .link_out
                .extend(unsolicited_advertisement(hoa, ifindex, mac)),
            Err(e) => {
                tracing::warn!(error = %e, ifindex, "no Ethernet address: the home address is not advertised");
            }
        }
        tracing::info!(home_address = %hoa, ifindex, "at home: the home address is on the home link");
    }

    /// One unsolicited Neighbor Advertisement for a new care-of address to all nodes
    /// of its link (RFC 4861 §7.2.6; O=1, S=0, the interface's Ethernet address), queued
    /// so it leaves just before the Binding Update. A router that still holds an
    /// INCOMPLETE entry for the address (the node was on this link before, and the
    /// router's probes went unanswered while it was away) would otherwise queue what
    /// it forwards to the address — the BA first — until its next retransmission timer
    /// (up to 1 s), dropping the oldest packets when its queue fills: the lost first BA
    /// of issue 14. With the advertisement the entry is complete before the BU leaves.
    /// A router without an entry ignores it and resolves the address at once.
    fn advertise_care_of(&mut self, care_of: Ipv6Addr) {
        let Some(ifindex) = self.tracker.interface_of(care_of) else {
            return;
        };
        // Router discovery read the address when it started watching: no system call.
        let cached = self
            .router_link
            .as_ref()
            .and_then(|link| link.link_address(ifindex));
        match cached.map_or_else(|| interface_mac(ifindex), Ok) {
            Ok(mac) => self
                .link_out
                .extend(unsolicited_advertisement(care_of, ifindex, mac)),
            Err(e) => {
                tracing::debug!(error = %e, ifindex, "no Ethernet address: the care-of address is not advertised");
            }
        }
    }

    /// The attachment the tracker settled on, applied to the host; says what the
    /// shell must tell the engine.
    async fn attach(&mut self, attachment: Attachment, io: &Io) -> HostAction {
        let now = mip6_daemon::clock::now();
        let movement = match &self.router_link {
            Some(link) => link.movement(attachment, now),
            None => Movement {
                attachment,
                router: None,
                advertisement_at: None,
                at: now,
            },
        };
        if let (Some(router), Some(at)) = (movement.router, movement.advertisement_at) {
            tracing::info!(%router, since_advertisement_us = now.saturating_since(at).as_micros() as u64,
                "attachment from a Router Advertisement");
        }
        self.movement = Some(movement);
        match attachment {
            // The last usable address went: the node is off every link, not at home
            // (RFC 6275 §11.5.4 is for the home link). Telling the engine `None` would
            // send a deregistration from the home address; keep the binding until a
            // new address appears.
            Attachment::Detached => {
                tracing::info!("no care-of address left: detached, waiting for a new one");
                HostAction::None
            }
            Attachment::Away(care_of) => {
                if let Err(e) = self.host.leave_home().await {
                    tracing::error!(error = %e, "leaving home: the host is not set up for the tunnel");
                }
                self.host.follow_care_of(io, Some(care_of));
                self.advertise_care_of(care_of);
                let route = crate::host::wait_for_route(care_of, self.id.home_agent).await;
                if route.is_none() {
                    tracing::info!(%care_of, home_agent = %self.id.home_agent,
                        "no route to the home agent from the new care-of address yet: the Binding Update may not leave");
                }
                tracing::debug!(%care_of, since_attachment_us = mip6_daemon::clock::now().saturating_since(now).as_micros() as u64,
                    route_wait_us = route.map(|d| d.as_micros() as u64),
                    "host ready for the care-of address: the Binding Update follows");
                HostAction::CareOf(Some(care_of))
            }
            Attachment::Home { ifindex } => {
                tracing::info!(
                    ifindex,
                    "on the home link: returning home (RFC 6275 §11.5.4)"
                );
                if let Err(e) = self.host.arrive_home().await {
                    tracing::error!(error = %e, "returning home: the deregistration may go into the tunnel");
                }
                self.host.follow_care_of(io, None);
                if !self.may_have_binding() {
                    self.settle_home(ifindex).await;
                }
                HostAction::CareOf(None)
            }
        }
    }
}

impl Role for MobileNodeRole {
    type Engine = MobileNode<Aead>;
    type Codec = MnRecords;
    type HostEvent = HostEvent;

    const NAME: &'static str = "mn";

    fn engine(&self) -> &MobileNode<Aead> {
        &self.node
    }

    fn engine_mut(&mut self) -> &mut MobileNode<Aead> {
        &mut self.node
    }

    async fn on_event(&mut self, event: Event, _now: Time) -> Handled<MnRecord> {
        match event {
            Event::Persist(record) => Handled::Persist(record),
            Event::KeysInstalled { generation, kind } => {
                tracing::info!(generation, %kind, "key generation installed");
                Handled::Distribution(kind)
            }
            Event::KeysDropped => {
                tracing::warn!("dynamic keys dropped after unanswered resends: re-initializing under the init key");
                Handled::Done
            }
            Event::Registered { coa, lifetime } => {
                tracing::info!(care_of_address = %coa, lifetime_s = lifetime.as_secs(), "registered with the home agent");
                Handled::Done
            }
            Event::Deregistered => {
                tracing::info!("deregistered: at home");
                if let Attachment::Home { ifindex } = self.tracker.attachment() {
                    self.settle_home(ifindex).await;
                }
                Handled::Done
            }
            Event::Refused { status } => {
                // Logged at WARN, rate-limited, by `poll_warnings`.
                tracing::debug!(?status, "the home agent refused the Binding Update");
                let count = self.refused.map_or(0, |(_, n)| n);
                self.refused = Some((status, count + 1));
                Handled::Done
            }
        }
    }

    /// Only frames to the current care-of address reach the engine: the packet
    /// socket's filter follows it, but the raw ESP socket also gets ESP the kernel
    /// accepted for a link-local, multicast or other local address
    /// ([`screen_destination`]).
    fn screen_network(&self, frame: &[u8]) -> Option<&'static str> {
        match self.tracker.attachment() {
            Attachment::Away(care_of) => screen_destination(frame, core::slice::from_ref(&care_of)),
            // At home the home agent answers the home address itself (§11.5.4).
            Attachment::Home { .. } => {
                screen_destination(frame, core::slice::from_ref(&self.id.home_address))
            }
            Attachment::Detached => screen_destination(frame, &[]),
        }
    }

    fn poll_link_transmit(&mut self) -> Option<LinkPacket> {
        self.link_out.pop_front()
    }

    fn data_drop(error: &DataError) -> &'static str {
        match error {
            DataError::NotAway => "tun_not_away",
            DataError::WrongInnerSource(_) => "tun_wrong_source",
            DataError::Frame(_) => "tun_bad_packet",
        }
    }

    async fn next_host_event(&mut self) -> Result<HostEvent, String> {
        let stopped = || "the rtnetlink address watcher stopped".to_owned();
        let watch = &mut self.watch;
        match self.router_link.as_mut() {
            None => watch
                .next()
                .await
                .map(HostEvent::Address)
                .ok_or_else(stopped),
            Some(link) => tokio::select! {
                event = watch.next() => event.map(HostEvent::Address).ok_or_else(stopped),
                input = link.next() => input.map(HostEvent::Router),
            },
        }
    }

    async fn on_host_event(&mut self, event: HostEvent, io: &Io) -> HostAction {
        match event {
            HostEvent::Address(event) => {
                tracing::debug!(?event, "address event");
                if let Some(link) = self.router_link.as_mut() {
                    let actions = link.on_address_event(mip6_daemon::clock::now(), &event);
                    link.carry_out(actions, &mut self.host, &mut self.link_out)
                        .await;
                }
                match self.tracker.apply(&event) {
                    Some(attachment) => self.attach(attachment, io).await,
                    None => HostAction::None,
                }
            }
            HostEvent::Router(input) => {
                // The addresses it adds or removes come back as address events, which
                // move the node.
                if let Some(link) = self.router_link.as_mut() {
                    let actions = link.handle(mip6_daemon::clock::now(), input);
                    link.carry_out(actions, &mut self.host, &mut self.link_out)
                        .await;
                }
                HostAction::None
            }
        }
    }

    fn move_to(&mut self, now: Time, care_of: Option<Ipv6Addr>) {
        tracing::info!(care_of_address = ?care_of, "care-of address changed");
        self.handovers.note(care_of);
        self.node.set_care_of_address(now, care_of);
    }

    fn keys_in(&self, record: &MnRecord) -> Vec<KeyMaterial> {
        [&record.anterior, &record.newest]
            .into_iter()
            .flatten()
            .map(|g| KeyMaterial {
                home_agent: self.id.home_agent,
                home_address: self.id.home_address,
                secret: g.secret.clone(),
                spis: g.spis,
                suite: g.suite,
            })
            .collect()
    }

    fn engine_drops(&self) -> Vec<(String, u64)> {
        self.node
            .counters()
            .drops()
            .map(|(r, n)| (snake_case(&format!("{r:?}")), n))
            .collect()
    }

    /// SIGHUP ([`crate::reload`]): the watched interfaces and the timers change live;
    /// anything else refuses the reload. With new interfaces the care-of address is
    /// chosen again from what they hold now.
    async fn reload(
        &mut self,
        _now: Time,
        io: &Io,
        _stored: Vec<MnRecord>,
    ) -> Result<HostAction, String> {
        let path = self
            .config
            .origin
            .clone()
            .ok_or("no configuration file to read again")?;
        let new = crate::config::load(&path).map_err(|e| e.to_string())?;
        let join = |errors: Vec<crate::config::ConfigError>| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        new.validate(&|name| mip6_netio::if_index(name).is_ok())
            .map_err(join)?;
        let fixed = crate::reload::fixed_changes(&self.config, &new);
        if !fixed.is_empty() {
            return Err(fixed
                .iter()
                .map(|f| format!("{f} cannot change while running"))
                .collect::<Vec<_>>()
                .join("; "));
        }
        let names = |c: &DaemonConfig| -> Vec<String> {
            c.interfaces
                .get_ref()
                .iter()
                .map(|i| i.get_ref().clone())
                .collect()
        };
        let mut action = HostAction::None;
        if names(&self.config) != names(&new) {
            let mut watched = Vec::new();
            for name in names(&new) {
                watched.push(
                    mip6_netio::if_index(&name).map_err(|e| format!("interface {name}: {e}"))?,
                );
            }
            let mut tracker = CoaTracker::new(
                watched,
                HomePrefix {
                    home_address: self.id.home_address,
                    len: new.home_prefix_len(),
                },
            );
            for event in self
                .watch
                .dump()
                .await
                .map_err(|e| format!("address dump: {e}"))?
            {
                tracker.apply(&event);
            }
            if let Some(link) = self.router_link.as_mut() {
                let interfaces = Self::watched_interfaces(&new)?;
                let actions = link.set_interfaces(&interfaces);
                link.carry_out(actions, &mut self.host, &mut self.link_out)
                    .await;
            }
            let before = self.tracker.attachment();
            self.tracker = tracker;
            let after = self.tracker.attachment();
            if after != before {
                action = self.attach(after, io).await;
            }
        }
        let engine = new.to_engine().map_err(join)?;
        self.node
            .set_timers(engine.requested_lifetime, engine.key_update_interval);
        tracing::info!(
            interfaces = ?names(&new),
            care_of_address = ?self.tracker.current(),
            lifetime_s = engine.requested_lifetime.as_secs(),
            key_update_interval_s = engine.key_update_interval.map(|d| d.as_secs()),
            "configuration reloaded"
        );
        self.config = new;
        Ok(action)
    }

    /// An ICV failure on frames from the home agent (wrong init secret?), a Binding
    /// Update retransmitted [`NO_BA_AFTER_RETRIES`] times without any BA (the home
    /// agent silently drops what it cannot authenticate), a refused Binding Update.
    fn poll_warnings(&mut self, _now: Time, out: &mut Vec<Warning>) {
        let hoa = self.id.home_address;
        let integrity = self.node.counters().dropped(DropReason::Integrity);
        if integrity > self.integrity_seen {
            out.push(Warning {
                mobile_node: hoa,
                cause: "icv_failure",
                count: integrity - self.integrity_seen,
                message: format!(
                    "frames from the home agent {} fail their ICV and are dropped: wrong \
                     init secret (or init SPIs or suite) here or on the home agent?",
                    self.id.home_agent
                ),
            });
            self.integrity_seen = integrity;
        }
        let retries = match self.node.registration().state {
            Registration::AwaitingAck(a) if a.refused.is_none() => a.retries,
            _ => 0,
        };
        if retries < self.retries_seen {
            self.retries_seen = 0;
        }
        if retries >= NO_BA_AFTER_RETRIES && retries > self.retries_seen {
            let new = u64::from(retries - self.retries_seen);
            self.retries_seen = retries;
            out.push(Warning {
                mobile_node: hoa,
                cause: "no_binding_ack",
                count: new,
                message: format!(
                    "no Binding Acknowledgement from the home agent {} after {} \
                         retransmissions: home agent unreachable, wrong home_agent \
                         address, or wrong init secret or SPIs (the home agent drops \
                         what it cannot authenticate, without an answer)?",
                    self.id.home_agent, retries
                ),
            });
        }
        if let Some((status, count)) = self.refused.take() {
            out.push(Warning {
                mobile_node: hoa,
                cause: "refused",
                count,
                message: format!(
                    "the home agent {} refused the Binding Update with status {} \
                     ({status:?}): {}",
                    self.id.home_agent,
                    u8::from(status),
                    refusal_hint(status)
                ),
            });
        }
    }

    fn status(&self, input: &ReportInput<'_>) -> Map<String, Value> {
        let mut fields = status::status_fields(&self.node, &self.id, self.handovers.count, input);
        fields.insert(
            "movement".into(),
            self.movement.map_or(Value::Null, |m| m.status()),
        );
        fields.insert(
            "router_discovery".into(),
            self.router_link
                .as_ref()
                .map_or(Value::Null, RouterLink::status),
        );
        fields
    }

    fn metrics(&self, input: &ReportInput<'_>, text: Text) -> Text {
        status::metrics_fields(&self.node, self.handovers.count, input, text)
    }

    fn log_ready(&self, ready: Ready<'_>) {
        tracing::info!(
            event = "ready",
            home_address = %self.id.home_address,
            home_agent = %self.id.home_agent,
            care_of_address = ?self.tracker.current(),
            tun = %self.tun_name,
            control_socket = %ready.control_socket.display(),
            metrics = ?ready.metrics,
            "ready"
        );
    }

    async fn shutdown(self) -> Result<(), String> {
        tracing::info!("removing rule, route, nft table, TUN");
        self.host.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_hints_name_the_likely_cause() {
        assert!(refusal_hint(BaStatus::from(132)).contains("home_address"));
        assert!(refusal_hint(BaStatus::from(133)).contains("not configured"));
        assert!(refusal_hint(BaStatus::from(145)).contains("clocks"));
        assert!(refusal_hint(BaStatus::from(200)).contains("RFC 6275"));
    }

    #[test]
    fn a_new_care_of_address_is_advertised_to_all_nodes_with_override() {
        let coa: Ipv6Addr = "2001:db8:2::ff:fe00:21".parse().unwrap();
        let mac = [0x02, 0, 0, 0, 0, 0x21];
        let p = unsolicited_advertisement(coa, 3, mac).expect("all-nodes has a group address");
        assert_eq!(p.ifindex, Some(3));
        assert_eq!(p.destination, [0x33, 0x33, 0, 0, 0, 1]);
        match nd::parse(&p.packet) {
            Ok(nd::NdMessage::Advertisement(na)) => {
                assert_eq!(
                    (na.source, na.target, na.destination),
                    (coa, coa, nd::ALL_NODES)
                );
                assert!(na.flags.override_entry && !na.flags.solicited && !na.flags.router);
                assert_eq!(na.target_link_address, Some(mac));
            }
            other => panic!("not an advertisement: {other:?}"),
        }
    }

    #[test]
    fn handovers_count_changes_after_the_first_address_only() {
        let mut h = Handovers::default();
        let a: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:3::100".parse().unwrap();
        h.note(Some(a));
        assert_eq!(h.count, 0);
        h.note(None);
        h.note(Some(b));
        assert_eq!(h.count, 1);
        h.note(Some(b));
        assert_eq!(h.count, 1);
        h.note(Some(a));
        assert_eq!(h.count, 2);
    }
}
