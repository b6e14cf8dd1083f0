//! The home agent as a role of the daemon shell ([`mip6_daemon::shell::Role`]): what
//! the `mip6-ha` daemon does beside moving bytes — the kernel side of each binding
//! ([`crate::routes`]: a /128 route into the TUN, RFC 6275 §10.4.1; the engine itself
//! answers Neighbor Solicitations on the home link), the logs of bindings and key distributions, the
//! status and metrics of the bindings it serves.

use std::convert::Infallible;
use std::net::Ipv6Addr;

use mip6_daemon::metrics::Text;
use mip6_daemon::rng::DaemonRng;
use mip6_daemon::shell::report::snake_case;
use mip6_daemon::shell::screen::screen_destination;
use mip6_daemon::shell::{
    ControlOutcome, Handled, HostAction, Io, KeyMaterial, LinkPacket, Ready, RecordsWanted,
    ReportInput, Role, Warning,
};
use mip6_ha::{
    BindingChange, DataError, DropReason, Event, HomeAgent, KeyChange, LinkReceived, MnNotices,
    MnRecord, Refusal, RouteChange,
};
use mip6_netio::nft::NftGuard;
use mip6_wire::Time;
use serde_json::{Map, Value};

use crate::config::DaemonConfig;
use crate::pair::Leadership;
use crate::reload::FileNodes;
use crate::routes::Routes;
use crate::status;
use crate::store::HaRecords;
use crate::Aead;

/// From this many configured mobile nodes on, each received batch is first handed to
/// [`HomeAgent::prefetch`]: the engine's state then outgrows the caches, and
/// overlapping the batch's misses pays (mip6-wire/BENCHMARKS.md, "Engines"); below it
/// the extra header walk would only cost.
pub const PREFETCH_FROM_MNS: usize = 4096;

/// Offset of the first octet of the destination address in an IPv6 header.
const IPV6_DST_FIRST: usize = 24;

/// Drop name of a Neighbor Discovery message read from the TUN.
pub const TUN_NEIGHBOUR_DISCOVERY: &str = "tun_neighbour_discovery";

/// Whether a packet read from the TUN is Neighbor Discovery (ICMPv6 types 133–137 right
/// after the IPv6 header, RFC 4861 §4): link-scoped, never tunnelled (RFC 6275 §10.4.1:
/// the home agent answers for the home address itself). Never panics.
pub fn screen_neighbour_discovery(packet: &[u8]) -> Option<&'static str> {
    let next_header = *packet.get(6)?;
    let icmp_type = *packet.get(40)?;
    (next_header == 58 && (133..=137).contains(&icmp_type)).then_some(TUN_NEIGHBOUR_DISCOVERY)
}

/// The home agent role: its engine and what it installed in the host.
pub struct HomeAgentRole {
    engine: HomeAgent<DaemonRng, Aead>,
    address: Ipv6Addr,
    home_interface: String,
    tun_name: String,
    persistence: bool,
    restored_records: usize,
    /// The served home addresses, in configuration order (status lists them so).
    home_addresses: Vec<Ipv6Addr>,
    /// The served home addresses provisioned at run time ([`crate::mn_control`]).
    provisioned: std::collections::BTreeSet<Ipv6Addr>,
    routes: Routes,
    nft: NftGuard,
    /// The running configuration (SIGHUP compares the file with it), without its
    /// `[[mobile_node]]` entries.
    config: DaemonConfig,
    /// What a reload compares of the running file's entries.
    file_nodes: FileNodes,
    /// Active in a home agent pair ([`crate::pair`]): losing it ends the daemon.
    leadership: Option<Leadership>,
}

impl std::fmt::Debug for HomeAgentRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeAgentRole")
            .field("address", &self.address)
            .field("mobile_nodes", &self.home_addresses.len())
            .finish_non_exhaustive()
    }
}

/// What [`HomeAgentRole::new`] takes beside the engine and the host guards.
#[derive(Debug, Clone)]
pub struct HomeAgentSetup {
    /// The home agent's address.
    pub address: Ipv6Addr,
    /// The home link's interface.
    pub home_interface: String,
    /// The TUN's name.
    pub tun_name: String,
    /// Whether the store keeps whole records.
    pub persistence: bool,
    /// How many records the engine was restored from.
    pub restored_records: usize,
    /// The served home addresses, in configuration order, then the provisioned ones.
    pub home_addresses: Vec<Ipv6Addr>,
    /// Which of them are provisioned ([`crate::provision`]).
    pub provisioned: std::collections::BTreeSet<Ipv6Addr>,
    /// The configuration it runs with (its `origin` is the file SIGHUP reads again);
    /// its `[[mobile_node]]` entries are dropped ([`DaemonConfig::forget_mobile_nodes`]).
    pub config: DaemonConfig,
    /// The file's entries, as a reload compares them.
    pub file_nodes: FileNodes,
}

impl HomeAgentRole {
    /// The role around a built engine, the routes (netlink handle with forwarding and
    /// the proxy sysctls set) and the nftables guard.
    pub fn new(
        engine: HomeAgent<DaemonRng, Aead>,
        setup: HomeAgentSetup,
        routes: Routes,
        nft: NftGuard,
    ) -> Self {
        HomeAgentRole {
            engine,
            address: setup.address,
            home_interface: setup.home_interface,
            tun_name: setup.tun_name,
            persistence: setup.persistence,
            restored_records: setup.restored_records,
            home_addresses: setup.home_addresses,
            provisioned: setup.provisioned,
            routes,
            nft,
            config: {
                let mut config = setup.config;
                config.forget_mobile_nodes();
                config
            },
            file_nodes: setup.file_nodes,
            leadership: None,
        }
    }

    /// This home agent is the active one of a pair: when it loses the leader key the
    /// daemon stops at once, and an orderly stop resigns it once the routes and the
    /// address are removed ([`crate::pair`]).
    pub fn with_leadership(mut self, leadership: Leadership) -> Self {
        self.leadership = Some(leadership);
        self
    }

    /// Live bindings now.
    fn live_bindings(&self, now: Time) -> usize {
        self.home_addresses
            .iter()
            .filter(|hoa| self.engine.binding(hoa).is_some_and(|b| b.expires_at > now))
            .count()
    }
}

/// The warnings one mobile node's notices make (issue 11, item 6): ICV failures under
/// its init SA (a wrong init secret, SPI pair or suite on one side), under its
/// generations (corruption or forgery), and refused Binding Updates with what the
/// refusal likely means. A sequence number behind the binding's (135) is no
/// misconfiguration: the node resynchronizes by itself.
pub fn warnings_of(hoa: Ipv6Addr, n: &MnNotices) -> Vec<Warning> {
    let mut out = Vec::new();
    if n.init_icv_failures > 0 {
        out.push(Warning {
            mobile_node: hoa,
            cause: "init_icv_failure",
            count: n.init_icv_failures,
            message: "frames under its init SA fail their ICV and are dropped: wrong init \
                      secret (or init SPIs or suite) here or on the mobile node?"
                .into(),
        });
    }
    if n.icv_failures > 0 {
        out.push(Warning {
            mobile_node: hoa,
            cause: "icv_failure",
            count: n.icv_failures,
            message: "frames under one of its key generations fail their ICV and are \
                      dropped: corrupted or forged frames?"
                .into(),
        });
    }
    match n.last_refusal {
        Some(Refusal::SequenceOutOfWindow) | None => {}
        Some(refusal) => {
            let hint = match refusal {
                Refusal::NotHomeSubnet => "its home address is off home_prefix: wrong home_address on the mobile node?",
                Refusal::HomeAddressOfAnotherMn => "it claims another mobile node's home address: wrong home_address on the mobile node, or an attack?",
                Refusal::InitTimestamp => "its Key Initialization timestamp is stale or off this host's clock: clocks not synchronized, or request_mode differs?",
                Refusal::MalformedKeyOption => "its key-management option does not parse: vendor_id or version differs?",
                Refusal::MissingAlternateCareOf | Refusal::InvalidCareOf => "its care-of address is unusable (not global unicast, or this home agent's)",
                Refusal::DuplicateAddress => "another node on the home link uses its home address",
                Refusal::InsufficientResources => "no SPIs left to draw a key generation",
                _ => "see the status code",
            };
            out.push(Warning {
                mobile_node: hoa,
                cause: "refused",
                count: n.refusals,
                message: format!(
                    "Binding Update refused with status {} ({refusal}): {hint}",
                    u8::from(refusal.status())
                ),
            });
        }
    }
    out
}

impl Role for HomeAgentRole {
    type Engine = HomeAgent<DaemonRng, Aead>;
    type Codec = HaRecords;
    type HostEvent = Infallible;

    const NAME: &'static str = "ha";

    fn engine(&self) -> &Self::Engine {
        &self.engine
    }

    fn engine_mut(&mut self) -> &mut Self::Engine {
        &mut self.engine
    }

    async fn on_event(&mut self, event: Event, _now: Time) -> Handled<MnRecord> {
        match event {
            Event::Persist(record) => Handled::Persist(record),
            Event::PersistLagging(record) => Handled::PersistLagging(record),
            Event::Route(RouteChange::Install {
                home_address,
                care_of_address,
            }) => {
                tracing::info!(hoa = %home_address, coa = %care_of_address, "route home address into the TUN");
                match self.routes.install(home_address).await {
                    Ok(()) => Handled::Done,
                    Err(e) => {
                        tracing::error!(hoa = %home_address, error = %e, "route or proxy entry not installed");
                        Handled::Failed("route_failed")
                    }
                }
            }
            Event::Route(RouteChange::Remove { home_address }) => {
                tracing::info!(hoa = %home_address, "route of home address removed");
                if let Err(e) = self.routes.remove(home_address).await {
                    tracing::warn!(hoa = %home_address, error = %e, "route or proxy entry not removed");
                }
                Handled::Done
            }
            Event::Keys(KeyChange {
                home_address,
                kind,
                generation,
            }) => {
                tracing::info!(hoa = %home_address, %kind, generation, "key distribution");
                Handled::Distribution(kind)
            }
            Event::Binding {
                home_address,
                change,
            } => {
                match change {
                    BindingChange::Added(b) => {
                        tracing::info!(hoa = %home_address, coa = %b.care_of_address, sequence = b.sequence.0, lifetime_s = b.lifetime_secs, "binding added")
                    }
                    BindingChange::Updated(b) => {
                        tracing::info!(hoa = %home_address, coa = %b.care_of_address, sequence = b.sequence.0, lifetime_s = b.lifetime_secs, "binding updated")
                    }
                    BindingChange::Removed(cause) => {
                        tracing::info!(hoa = %home_address, ?cause, "binding removed")
                    }
                }
                Handled::Done
            }
        }
    }

    /// The kernel's own link-local chatter on the TUN (MLD reports, router
    /// solicitations) is for no home address: not an engine input. Nor is Neighbor
    /// Discovery the kernel forwarded into the TUN (a unicast solicitation for a home
    /// address): it is link-scoped, the engine answers it on the home link
    /// ([`screen_neighbour_discovery`]).
    fn screen_tun(&self, packet: &[u8]) -> Option<&'static str> {
        if packet.get(IPV6_DST_FIRST) == Some(&0xff) {
            return Some("tun_multicast");
        }
        screen_neighbour_discovery(packet)
    }

    fn handle_link(&mut self, now: Time, link_source: [u8; 6], packet: &[u8]) {
        if let LinkReceived::DuplicateDetected = self.engine.handle_link(now, link_source, packet) {
            tracing::warn!("a home address under Duplicate Address Detection is in use on the home link: registration refused (134)");
        }
    }

    fn poll_link_transmit(&mut self) -> Option<LinkPacket> {
        self.engine.poll_link_transmit().map(|t| LinkPacket {
            ifindex: None,
            destination: t.link_destination,
            packet: t.packet,
        })
    }

    /// A mobile node's home address as the destination means the node is on its home
    /// link (away, the home agent signals to the care-of address): RFC 6275 §10.3.2.
    fn signalling_on_link(&self, destination: &Ipv6Addr) -> bool {
        self.engine.serves(destination)
    }

    /// Only frames to the home agent's own address reach the engine
    /// ([`screen_destination`]).
    fn screen_network(&self, frame: &[u8]) -> Option<&'static str> {
        screen_destination(frame, core::slice::from_ref(&self.address))
    }

    fn data_drop(error: &DataError) -> &'static str {
        match error {
            DataError::UnknownHomeAddress(_) => "tun_unknown_home_address",
            DataError::NotBound(_) => "tun_not_bound",
            _ => "tun_seal_failed",
        }
    }

    fn before_batch(&self, frames: &[&[u8]]) {
        if self.home_addresses.len() >= PREFETCH_FROM_MNS {
            self.engine.prefetch(frames.iter().copied());
        }
    }

    async fn next_host_event(&mut self) -> Result<Infallible, String> {
        match &mut self.leadership {
            Some(leadership) => Err(format!(
                "no longer the active home agent of the pair: {}",
                leadership.lost().await
            )),
            None => std::future::pending().await,
        }
    }

    async fn on_host_event(&mut self, event: Infallible, _io: &Io) -> HostAction {
        match event {}
    }

    fn keys_in(&self, record: &MnRecord) -> Vec<KeyMaterial> {
        [&record.anterior, &record.newest]
            .into_iter()
            .flatten()
            .map(|g| KeyMaterial {
                home_agent: self.address,
                home_address: record.home_address,
                secret: g.secret.clone(),
                spis: g.spis,
                suite: g.suite,
            })
            .collect()
    }

    fn engine_drops(&self) -> Vec<(String, u64)> {
        let counters = self.engine.counters();
        DropReason::ALL
            .iter()
            .map(|&r| (snake_case(&format!("{r:?}")), counters.dropped(r)))
            .collect()
    }

    /// SIGHUP ([`crate::reload`]): mobile nodes added and removed, timers changed;
    /// anything else refuses the reload.
    async fn reload(
        &mut self,
        now: Time,
        _io: &Io,
        stored: Vec<MnRecord>,
    ) -> Result<HostAction, String> {
        let path = self
            .config
            .origin
            .clone()
            .ok_or("no configuration file to read again")?;
        let new = crate::config::load(&path).map_err(|e| e.to_string())?;
        new.validate(&|name| mip6_netio::if_index(name).is_ok())
            .map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
        let (plan, file_nodes) = crate::reload::plan(&self.config, &self.file_nodes, &new)?;
        // An added node's init SPI may be one a served node drew for a generation
        // (or one a node removed in this same reload still holds): refuse before
        // changing anything.
        for mn in &plan.added {
            for spi in [mn.init_spis.mn_to_ha.get(), mn.init_spis.ha_to_mn.get()] {
                if self.engine.spi_in_use(spi) {
                    return Err(format!(
                        "mobile_node {}: SPI {spi:#x} is in use by a served node's keys (a node \
                         removed in this reload frees its SPIs only after it)",
                        mn.home_address
                    ));
                }
            }
        }
        for hoa in &plan.removed {
            self.engine.remove_mobile_node(now, hoa);
        }
        let removed: std::collections::HashSet<&Ipv6Addr> = plan.removed.iter().collect();
        self.home_addresses.retain(|h| !removed.contains(h));
        let stored: std::collections::HashMap<Ipv6Addr, &MnRecord> =
            stored.iter().map(|r| (r.home_address, r)).collect();
        for mn in &plan.added {
            let hoa = mn.home_address;
            let record = stored.get(&hoa).copied();
            if let Err(e) = self.engine.add_mobile_node(now, mn.clone(), record) {
                return Err(format!(
                    "mobile_node {hoa}: {e} (nodes removed so far stay removed)"
                ));
            }
            self.home_addresses.push(hoa);
        }
        self.engine
            .set_timers(plan.key_update_interval, plan.max_binding_lifetime);
        let show = |v: &[Ipv6Addr]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let added: Vec<Ipv6Addr> = plan.added.iter().map(|m| m.home_address).collect();
        tracing::info!(
            added = %show(&added),
            removed = %show(&plan.removed),
            mobile_nodes = self.home_addresses.len(),
            key_update_interval_s = plan.key_update_interval.as_secs(),
            max_binding_lifetime_s = plan.max_binding_lifetime.as_secs(),
            "configuration reloaded"
        );
        let mut new = new;
        new.forget_source_text();
        new.forget_mobile_nodes();
        self.config = new;
        self.file_nodes = file_nodes;
        Ok(HostAction::None)
    }

    /// `mn list`, `mn show`, `mn add`, `mn import`, `mn remove` ([`crate::mn_control`]).
    async fn control(
        &mut self,
        now: Time,
        command: &str,
        args: &Map<String, Value>,
        stored: Vec<MnRecord>,
    ) -> Option<ControlOutcome> {
        let home_prefix = *self.config.home_prefix.get_ref();
        let mut served = crate::mn_control::Served {
            engine: &mut self.engine,
            home_addresses: &mut self.home_addresses,
            provisioned: &mut self.provisioned,
            home_prefix,
        };
        served.control(now, command, args, &stored)
    }

    fn records_wanted(&self, command: &str, args: &Map<String, Value>) -> RecordsWanted {
        crate::mn_control::records_wanted(command, args, self.config.home_prefix.get_ref())
    }

    fn poll_warnings(&mut self, _now: Time, out: &mut Vec<Warning>) {
        for (hoa, n) in self.engine.take_notices() {
            out.extend(warnings_of(hoa, &n));
        }
    }

    fn status(&self, input: &ReportInput<'_>) -> Map<String, Value> {
        let mut m = status::status_fields(&self.engine, &self.home_addresses, input);
        m.insert("address".into(), self.address.to_string().into());
        m.insert("persistence".into(), self.persistence.into());
        if let Some(l) = &self.leadership {
            m.insert(
                "pair".into(),
                serde_json::json!({"state": "active", "token": l.token()}),
            );
        }
        m
    }

    fn metrics(&self, input: &ReportInput<'_>, text: Text) -> Text {
        let counters = self.engine.counters();
        let mut text = text.gauge(
            "mip6_ha_bindings",
            "Bindings in the binding cache (RFC 6275 §10.3.1).",
            &[],
            self.live_bindings(input.now) as f64,
        );
        for (result, n) in [
            ("accepted", counters.bu_accepted),
            ("refused", status::refused(counters)),
        ] {
            text = text.counter(
                "mip6_ha_registrations_total",
                "Binding Updates accepted and refused.",
                &[("result", result)],
                n,
            );
        }
        text
    }

    fn log_ready(&self, ready: Ready<'_>) {
        tracing::info!(
            event = "ready",
            address = %self.address,
            home_interface = %self.home_interface,
            tun = %self.tun_name,
            mobile_nodes = self.home_addresses.len(),
            restored_records = self.restored_records,
            persistence = self.persistence,
            control_socket = %ready.control_socket.display(),
            metrics = ?ready.metrics,
            "ready"
        );
    }

    async fn shutdown(self) -> Result<(), String> {
        let mut errors = Vec::new();
        if let Err(e) = self.routes.cleanup().await {
            errors.push(format!("removing routes, proxy entries or sysctls: {e}"));
        }
        if let Err(e) = self.nft.remove() {
            errors.push(format!("removing the nftables table: {e}"));
        }
        // Last: once the standby may take over, nothing of ours is on the link.
        if let Some(leadership) = self.leadership {
            leadership.resign().await;
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_become_warnings_with_their_likely_cause() {
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let w = warnings_of(
            hoa,
            &MnNotices {
                init_icv_failures: 3,
                icv_failures: 0,
                refusals: 2,
                last_refusal: Some(Refusal::NotHomeSubnet),
            },
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!((w[0].cause, w[0].count), ("init_icv_failure", 3));
        assert!(
            w[0].message.contains("wrong init secret"),
            "{}",
            w[0].message
        );
        assert_eq!((w[1].cause, w[1].count), ("refused", 2));
        assert!(w[1].message.contains("status 132"), "{}", w[1].message);
        assert!(w.iter().all(|w| w.mobile_node == hoa));
        // 135 is routine: no warning.
        let quiet = MnNotices {
            refusals: 1,
            last_refusal: Some(Refusal::SequenceOutOfWindow),
            ..MnNotices::default()
        };
        assert!(warnings_of(hoa, &quiet).is_empty());
    }

    #[test]
    fn neighbour_discovery_read_from_the_tun_is_screened_out() {
        let mut ns = mip6_wire::nd::NeighbourSolicitation {
            source: "2001:db8:1::2".parse().unwrap(),
            destination: "2001:db8:1::100".parse().unwrap(),
            target: "2001:db8:1::100".parse().unwrap(),
            source_link_address: None,
        }
        .emit();
        ns[7] = 254; // forwarded by the kernel
        assert_eq!(
            screen_neighbour_discovery(&ns),
            Some(TUN_NEIGHBOUR_DISCOVERY)
        );
        for icmp_type in [133u8, 134, 136, 137] {
            ns[40] = icmp_type;
            assert_eq!(
                screen_neighbour_discovery(&ns),
                Some(TUN_NEIGHBOUR_DISCOVERY)
            );
        }
        for icmp_type in [1u8, 128, 129, 138] {
            ns[40] = icmp_type;
            assert_eq!(screen_neighbour_discovery(&ns), None, "{icmp_type}");
        }
        ns[6] = 17;
        ns[40] = 135;
        assert_eq!(screen_neighbour_discovery(&ns), None, "UDP");
        for len in 0..41 {
            assert_eq!(screen_neighbour_discovery(&ns[..len]), None);
        }
    }
}
