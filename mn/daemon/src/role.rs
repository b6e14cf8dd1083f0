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
    Handled, HostAction, Io, KeyMaterial, LinkPacket, Ready, ReportInput, Role,
};
use mip6_mn::{DataError, Event, MnRecord, MobileNode, Registration};
use mip6_netio::addr_watch::{AddrEvent, AddrWatch};
use mip6_wire::nd::{self, AdvertisementFlags, NeighbourAdvertisement};
use mip6_wire::Time;
use serde_json::{Map, Value};

use crate::host::Host;
use crate::movement::{Attachment, CoaTracker};
use crate::status::{self, Identity};
use crate::store::MnRecords;

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

/// The mobile node role: its engine, what it installed, its movement detection.
pub struct MobileNodeRole {
    node: MobileNode,
    id: Identity,
    host: Host,
    watch: AddrWatch,
    tracker: CoaTracker,
    handovers: Handovers,
    tun_name: String,
    /// Neighbor Advertisements for the home link (RFC 6275 §11.5.4).
    link_out: VecDeque<LinkPacket>,
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
        node: MobileNode,
        id: Identity,
        host: Host,
        watch: AddrWatch,
        tracker: CoaTracker,
        tun_name: String,
    ) -> Self {
        MobileNodeRole {
            node,
            id,
            host,
            watch,
            tracker,
            handovers: Handovers::default(),
            tun_name,
            link_out: VecDeque::new(),
        }
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
    /// one is outstanding).
    fn may_have_binding(&self) -> bool {
        !matches!(
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
        let mac = mip6_netio::interface::name_of(ifindex)
            .and_then(|name| mip6_netio::interface::hardware_address(&name));
        match mac {
            Ok(mac) => {
                let advertisement = NeighbourAdvertisement {
                    source: hoa,
                    destination: nd::ALL_NODES,
                    flags: AdvertisementFlags {
                        router: false,
                        solicited: false,
                        override_entry: true,
                    },
                    target: hoa,
                    target_link_address: Some(mac),
                };
                if let Some(destination) = nd::link_destination(&nd::ALL_NODES) {
                    self.link_out.push_back(LinkPacket {
                        ifindex: Some(ifindex),
                        destination,
                        packet: advertisement.emit(),
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, ifindex, "no Ethernet address: the home address is not advertised");
            }
        }
        tracing::info!(home_address = %hoa, ifindex, "at home: the home address is on the home link");
    }

    /// The attachment the tracker settled on, applied to the host; says what the
    /// shell must tell the engine.
    async fn attach(&mut self, attachment: Attachment, io: &Io) -> HostAction {
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
    type Engine = MobileNode;
    type Codec = MnRecords;
    type HostEvent = AddrEvent;

    const NAME: &'static str = "mn";

    fn engine(&self) -> &MobileNode {
        &self.node
    }

    fn engine_mut(&mut self) -> &mut MobileNode {
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
                tracing::warn!(?status, "the home agent refused the Binding Update");
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

    async fn next_host_event(&mut self) -> Result<AddrEvent, String> {
        self.watch
            .next()
            .await
            .ok_or_else(|| "the rtnetlink address watcher stopped".to_owned())
    }

    async fn on_host_event(&mut self, event: AddrEvent, io: &Io) -> HostAction {
        tracing::debug!(?event, "address event");
        match self.tracker.apply(&event) {
            Some(attachment) => self.attach(attachment, io).await,
            None => HostAction::None,
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

    fn status(&self, input: &ReportInput<'_>) -> Map<String, Value> {
        status::status_fields(&self.node, &self.id, self.handovers.count, input)
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
