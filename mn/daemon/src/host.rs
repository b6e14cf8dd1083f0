//! What the mobile node installs in the host beside the shell's sockets and TUN, and
//! removes again: the source rule and the reverse-tunnel route (RFC 6275 §11.3.1)
//! and the nftables guard.
//!
//! - The TUN (opened by the shell, [`mip6_daemon::shell::Io`]) carries the home
//!   address /128 with MTU [`TUN_MTU`], so the outer packet (outer IPv6 40 + ESP
//!   header and IV 16 + inner + padding and trailer + ICV 16) fits a 1500-octet link:
//!   the kernel would fragment it silently otherwise (`docs/architecture.md`,
//!   "Measured facts").
//! - **The home address for every application** (issue 11; RFC 6724 §5 rule 4, "prefer
//!   home addresses", is compiled only into kernels with `CONFIG_IPV6_MIP6`, so it is
//!   done here by routing). Three rules and one route:
//!
//!   | priority | rule | what it does |
//!   | --- | --- | --- |
//!   | `rule_priority` − 2 | `from all lookup main suppress_prefixlength 0` | on-link and other specific routes stay direct (neighbours on the current link, the kernel's own link-local and multicast traffic) |
//!   | `rule_priority` − 1 | `from <home address> lookup <route_table>` | what is sent from the home address goes through the table below… |
//!   | `rule_priority` | `not fwmark 0x6d697036 lookup <route_table>` | …and so does everything else the host sends (with several nodes on one host: through the first node's table) |
//!
//!   with `default dev <tun> src <home address> table <route_table>`: an application
//!   that binds no address gets the home address as its source (the route's preferred
//!   source) and its packets go into the tunnel. The daemons' own outer packets (care-of
//!   address → home agent) carry the mark [`OWN_PACKET_MARK`] (`SO_MARK` on the raw
//!   socket and on the ESP-in-UDP one), skip the last rule and are routed by the main table as usual. Source rules
//!   come before the catch-all, so every node of a host keeps its own tunnel for what
//!   is sent from its home address.
//! - At home the table holds `default via <the home link's default router> dev <home
//!   link> src <home address>` instead, when the main table names such a router: the
//!   home address stays the source, without a tunnel.
//! - `table inet mip6_mn_<tun>` dropping HoA-option and RH2 packets to the care-of
//!   address at prerouting: a BA arrives with an RH2, and the kernel must not answer it
//!   with ICMPv6 Parameter Problem ([`mip6_netio::nft`]).
//!
//! When the care-of address changes ([`Host::follow_care_of`]), the packet sockets'
//! filter, the nft guard and the raw sender's source follow it, in that order and all
//! **before the Binding Update leaves** (the shell sends it once the role returns
//! [`mip6_daemon::shell::HostAction::CareOf`]). The guard's set gets the new care-of
//! address and loses the old one in one nfnetlink transaction (no `nft` process,
//! [`mip6_netio::nft`]): tens of microseconds, so it costs the handover nothing
//! measurable (issue 14, docs/benchmarks-lab.md, "Handover latency"). It is not moved
//! after the BU on purpose: the BA answering it (an RH2 to the new care-of address)
//! and the first tunnel frames (ESP to it) come back one round trip later, which in
//! a lab is less than a millisecond; arriving unguarded, the BA would make the kernel
//! send the home agent a Parameter Problem and the ESP would reach the kernel's own
//! ESP delivery besides the daemon's packet socket. Nothing of ours is sent to the new
//! address before the BU, so the guard covers it before any of our signalling or
//! tunnel frames can arrive there (only if the set update fails does the guard fall
//! back to re-installing its table with `nft`, 10–25 ms, still before the BU). The old
//! address leaves the set in the same transaction: frames still sent to it are no
//! longer ours.
//!
//! At home (RFC 6275 §11.5.4) there is no tunnel: [`Host::arrive_home`] removes the
//! reverse-tunnel route (the rule then falls through to the main table, so the
//! deregistration and all traffic from the home address leave on the home link), and
//! once the home agent has stopped defending the home address
//! ([`Host::take_home_address`]) the address goes onto the home link's interface,
//! without Duplicate Address Detection (§11.5.4 forbids it). [`Host::leave_home`]
//! undoes both when the node moves away again.
//!
//! Leftovers of a daemon killed with SIGKILL are replaced: the rule is deleted before
//! it is added, the route is added with replace, the nft table is recreated in one
//! transaction, a stale control socket is replaced. Everything is removed by
//! [`Host::shutdown`], and by the guards' `Drop` on error paths.

use std::net::Ipv6Addr;

use mip6_daemon::shell::Io;
use mip6_netio::nft::NftGuard;
use mip6_netio::routes::{NetConfig, PolicyRule, RuleSelector, TABLE_MAIN};

/// MTU of the TUN: inner packets of at most 1420 octets make outer frames of at most
/// 1496 (40 + 16 + 1420 + 2 padding + 2 + 16).
pub const TUN_MTU: u16 = 1420;

/// Why set-up failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct SetupError {
    /// Which step.
    pub what: &'static str,
    /// The error.
    #[source]
    pub source: mip6_netio::Error,
}

fn step(what: &'static str) -> impl FnOnce(mip6_netio::Error) -> SetupError {
    move |source| SetupError { what, source }
}

/// What set-up needs from the configuration.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The home address.
    pub home_address: Ipv6Addr,
    /// TUN name.
    pub tun_name: String,
    /// Routing table of the reverse tunnel.
    pub route_table: u32,
    /// Priority of the source rule.
    pub rule_priority: u32,
    /// Length of the home prefix (the home address's prefix on its home link).
    pub home_prefix_len: u8,
}

/// The rule, the route and the nft guard (module docs).
pub struct Host {
    nft: NftGuard,
    routes: Option<NetConfig>,
    home_address: Ipv6Addr,
    home_prefix_len: u8,
    tun_ifindex: u32,
    route_table: u32,
    /// Whether the reverse-tunnel route is in its table (not at home).
    tunnel_route: bool,
    /// The interface the home address was taken onto, at home.
    home_link: Option<u32>,
    /// At home: the default route through the home link's router with the home
    /// address as source (interface, router).
    home_route: Option<(u32, Ipv6Addr)>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("home_address", &self.home_address)
            .field("nft", &self.nft)
            .finish_non_exhaustive()
    }
}

/// The nft table suffix for a TUN name: `mn_` and the name with every character
/// outside `[a-z0-9_]` made `_` (the table name is spliced into an nft script).
pub fn nft_name(tun: &str) -> String {
    let clean: String = tun
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    format!("mn_{clean}")
}

impl Host {
    /// Installs the rule, the route into the TUN with index `tun_ifindex`, and the nft
    /// guard for `care_of` (if known) and the home address. Needs the tokio runtime
    /// (rtnetlink).
    pub async fn install(
        config: &HostConfig,
        tun_ifindex: u32,
        care_of: Option<Ipv6Addr>,
    ) -> Result<Host, SetupError> {
        let hoa = config.home_address;
        let mut routes = NetConfig::new().map_err(step("rtnetlink"))?;
        // A rule left by a killed daemon would make add_rule a no-op that is not undone
        // at shutdown: delete each first.
        for rule in rules(config) {
            if let Err(e) = routes.remove_rule(rule).await {
                tracing::debug!(error = %e, %rule, "no leftover rule removed");
            }
            routes.add_rule(rule).await.map_err(step("policy rule"))?;
        }
        add_tunnel_route(&mut routes, tun_ifindex, config.route_table, hoa)
            .await
            .map_err(step("reverse-tunnel route"))?;
        let nft = NftGuard::install(&nft_name(&config.tun_name), &guarded(hoa, care_of))
            .map_err(step("nftables guard"))?;
        Ok(Host {
            nft,
            routes: Some(routes),
            home_address: hoa,
            home_prefix_len: config.home_prefix_len,
            tun_ifindex,
            route_table: config.route_table,
            tunnel_route: true,
            home_link: None,
            home_route: None,
        })
    }

    /// On the home link (RFC 6275 §11.5.4): the reverse-tunnel route goes, so what
    /// leaves from the home address (the deregistration first) is routed by the main
    /// table onto the home link instead of into the TUN.
    pub async fn arrive_home(&mut self) -> Result<(), SetupError> {
        let Some(routes) = self.routes.as_mut() else {
            return Ok(());
        };
        if self.tunnel_route {
            routes
                .remove_default_route_with(
                    self.tun_ifindex,
                    self.route_table,
                    None,
                    Some(self.home_address),
                )
                .await
                .map_err(step("removing the reverse-tunnel route"))?;
            self.tunnel_route = false;
        }
        Ok(())
    }

    /// Takes the home address onto the home link's interface `ifindex`, without
    /// Duplicate Address Detection: the home agent no longer defends it (RFC 6275
    /// §11.5.4). Call once the deregistration is acknowledged.
    pub async fn take_home_address(&mut self, ifindex: u32) -> Result<(), SetupError> {
        let Some(routes) = self.routes.as_mut() else {
            return Ok(());
        };
        if let Some(old) = self.home_link.filter(|old| *old != ifindex) {
            let _ = routes
                .remove_address(old, self.home_address, self.home_prefix_len)
                .await;
        }
        routes
            .add_address_nodad(ifindex, self.home_address, self.home_prefix_len)
            .await
            .map_err(step("home address on the home link"))?;
        self.home_link = Some(ifindex);
        // The home address stays every application's source at home: the home link's
        // default router, with the home address as preferred source.
        match routes.default_gateway(ifindex).await {
            Ok(Some(router)) => {
                routes
                    .add_default_route_with(
                        ifindex,
                        self.route_table,
                        Some(router),
                        Some(self.home_address),
                    )
                    .await
                    .map_err(step("default route from the home address"))?;
                self.home_route = Some((ifindex, router));
            }
            Ok(None) => tracing::info!(
                ifindex,
                "no default router on the home link: sources are the kernel's choice"
            ),
            Err(e) => tracing::warn!(error = %e, "reading the main table's default route"),
        }
        Ok(())
    }

    /// The interface the home address is on at home, if it was taken there.
    pub fn home_link(&self) -> Option<u32> {
        self.home_link
    }

    /// Away again: the home address leaves the home link (if the link did not take it
    /// down already) and the reverse-tunnel route is back.
    pub async fn leave_home(&mut self) -> Result<(), SetupError> {
        let Some(routes) = self.routes.as_mut() else {
            return Ok(());
        };
        if let Some((ifindex, router)) = self.home_route.take() {
            routes
                .remove_default_route_with(
                    ifindex,
                    self.route_table,
                    Some(router),
                    Some(self.home_address),
                )
                .await
                .map_err(step("default route from the home address"))?;
        }
        if let Some(ifindex) = self.home_link.take() {
            routes
                .remove_address(ifindex, self.home_address, self.home_prefix_len)
                .await
                .map_err(step("home address off the home link"))?;
        }
        if !self.tunnel_route {
            add_tunnel_route(
                routes,
                self.tun_ifindex,
                self.route_table,
                self.home_address,
            )
            .await
            .map_err(step("reverse-tunnel route"))?;
            self.tunnel_route = true;
        }
        Ok(())
    }

    /// Turns the kernel's own autoconfiguration off on the watched interfaces
    /// (`accept_ra=0`): router discovery forms the addresses and routes there
    /// ([`crate::router_link`]). The old values are kept in `journal` and restored at
    /// shutdown, or by the next start after a kill.
    pub fn disable_kernel_autoconf(
        &mut self,
        interfaces: &[String],
        journal: std::path::PathBuf,
    ) -> Result<(), SetupError> {
        let Some(routes) = self.routes.as_mut() else {
            return Ok(());
        };
        routes.set_sysctl_journal(journal);
        for name in interfaces {
            routes
                .sysctl(name, "accept_ra", "0")
                .map_err(step("accept_ra=0 on a watched interface"))?;
        }
        Ok(())
    }

    /// `default via <router> dev <ifindex>` in the main table: where the node's own
    /// packets (and, at home, its applications') leave by (RFC 4861 §6.3.4).
    pub async fn add_router(&mut self, ifindex: u32, router: Ipv6Addr) -> Result<(), SetupError> {
        let Some(routes) = self.routes.as_mut() else {
            return Ok(());
        };
        routes
            .add_default_route_with(ifindex, TABLE_MAIN, Some(router), None)
            .await
            .map_err(step("default route through a router"))
    }

    /// Removes a route [`Host::add_router`] added.
    pub async fn remove_router(
        &mut self,
        ifindex: u32,
        router: Ipv6Addr,
    ) -> Result<(), SetupError> {
        let Some(routes) = self.routes.as_mut() else {
            return Ok(());
        };
        routes
            .remove_default_route_with(ifindex, TABLE_MAIN, Some(router), None)
            .await
            .map_err(step("default route through a router"))
    }

    /// Adds an address formed from a Router Advertisement (`/64`, no DAD).
    pub async fn add_formed_address(
        &mut self,
        ifindex: u32,
        address: Ipv6Addr,
    ) -> Result<(), SetupError> {
        let Some(routes) = self.routes.as_mut() else {
            return Ok(());
        };
        routes
            .add_address_nodad(ifindex, address, 64)
            .await
            .map_err(step("address formed from a Router Advertisement"))
    }

    /// Removes an address [`Host::add_formed_address`] added.
    pub async fn remove_formed_address(
        &mut self,
        ifindex: u32,
        address: Ipv6Addr,
    ) -> Result<(), SetupError> {
        let Some(routes) = self.routes.as_mut() else {
            return Ok(());
        };
        routes
            .remove_address(ifindex, address, 64)
            .await
            .map_err(step("address formed from a Router Advertisement"))
    }

    /// Points the packet sockets' filter, the nft guard and the raw sender's source at
    /// a new care-of address (the home address while there is none). Failures are
    /// logged: the daemon goes on, and the next change tries again.
    pub fn follow_care_of(&mut self, io: &Io, care_of: Option<Ipv6Addr>) {
        let hoa = self.home_address;
        let started = std::time::Instant::now();
        if let Err(e) = io.set_local_address(care_of.unwrap_or(hoa)) {
            tracing::error!(error = %e, "could not refilter the packet socket");
        }
        let filtered_at = started.elapsed();
        let applied = self.nft.update(&guarded(hoa, care_of));
        if let Err(e) = &applied {
            tracing::error!(error = %e, "could not update the nftables guard");
        }
        let guarded_at = started.elapsed();
        // Every frame leaves from the care-of address: bound, the kernel skips source
        // address selection per packet. Unbound is only slower.
        let sender = io.sender.get_ref();
        if let Err(e) = sender.set_source(care_of) {
            tracing::debug!(error = %e, "raw socket not bound to the care-of address");
            let _ = sender.set_source(None);
        }
        tracing::debug!(
            care_of_address = ?care_of,
            refilter_us = filtered_at.as_micros() as u64,
            nft_us = (guarded_at - filtered_at).as_micros() as u64,
            nft = ?applied.ok(),
            total_us = started.elapsed().as_micros() as u64,
            "host follows the care-of address"
        );
    }

    /// Removes the rule, the route and the nft table, reporting failures.
    pub async fn shutdown(mut self) -> Result<(), String> {
        let mut errors = Vec::new();
        if let Some(routes) = self.routes.take() {
            if let Err(e) = routes.cleanup().await {
                errors.push(format!("routes: {e}"));
            }
        }
        if let Err(e) = self.nft.remove() {
            errors.push(format!("nftables: {e}"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// How long [`wait_for_route`] waits for a route to the home agent.
pub const ROUTE_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Waits until the daemon's own packets (marked [`OWN_PACKET_MARK`]) from `care_of`
/// have a route to `home_agent`, polling every millisecond for at most
/// [`ROUTE_WAIT`]; returns how long it waited, `None` if it gave up (or could not
/// look: the BU then goes as before). A new address can be usable before the route
/// through its link's router is there (an address and a route added by hand, or by
/// the kernel's own autoconfiguration, one after the other): a BU sent in between
/// fails with "network unreachable" and waits 1.5 s for its retransmission (RFC 6275
/// §11.8). Addresses router discovery forms have their route already
/// ([`crate::router_link`] adds the route first): no wait.
pub async fn wait_for_route(
    care_of: Ipv6Addr,
    home_agent: Ipv6Addr,
) -> Option<std::time::Duration> {
    let started = std::time::Instant::now();
    loop {
        match mip6_netio::routes::has_route(care_of, home_agent, Some(OWN_PACKET_MARK)) {
            Ok(true) => return Some(started.elapsed()),
            Ok(false) if started.elapsed() < ROUTE_WAIT => {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            Ok(false) => return None,
            Err(e) => {
                tracing::debug!(error = %e, "no route lookup: the BU goes at once");
                return None;
            }
        }
    }
}

/// `EINVAL` (errno-base.h): what the kernel says to a preferred source it does not
/// take yet.
const EINVAL: i32 = 22;

/// How long [`add_tunnel_route`] waits for the TUN's home address to be usable.
const TUN_ADDRESS_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `default dev <tun> src <home address> table <table>`. The kernel takes a preferred
/// source only once the address is no longer tentative, which on a TUN that has just
/// come up is a moment later (the kernel's address work runs asynchronously): an
/// `EINVAL` is retried every 10 ms for up to [`TUN_ADDRESS_WAIT`].
async fn add_tunnel_route(
    routes: &mut NetConfig,
    tun_ifindex: u32,
    table: u32,
    hoa: Ipv6Addr,
) -> Result<(), mip6_netio::Error> {
    let started = std::time::Instant::now();
    loop {
        match routes
            .add_default_route_with(tun_ifindex, table, None, Some(hoa))
            .await
        {
            Err(e) if e.errno() == Some(EINVAL) && started.elapsed() < TUN_ADDRESS_WAIT => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            r => return r,
        }
    }
}

/// The mark on the daemon's own packets (module docs): one value, "mip6", for every
/// mobile node of the host, so no node's outer packets enter another node's tunnel.
pub const OWN_PACKET_MARK: u32 = 0x6d69_7036;

/// The mark on the daemon's own packets ([`OWN_PACKET_MARK`]).
pub fn own_packet_mark(_config: &HostConfig) -> u32 {
    OWN_PACKET_MARK
}

/// The three policy rules (module docs), lowest priority number first.
pub fn rules(config: &HostConfig) -> [PolicyRule; 3] {
    let p = config.rule_priority;
    [
        PolicyRule {
            selector: RuleSelector::All,
            table: TABLE_MAIN,
            priority: p.saturating_sub(2),
            suppress_prefix_len: Some(0),
        },
        PolicyRule {
            selector: RuleSelector::From(config.home_address),
            table: config.route_table,
            priority: p.saturating_sub(1),
            suppress_prefix_len: None,
        },
        PolicyRule {
            selector: RuleSelector::NotFwmark(own_packet_mark(config)),
            table: config.route_table,
            priority: p,
            suppress_prefix_len: None,
        },
    ]
}

/// The addresses the nft guard protects: the care-of address, and the home address
/// (which keeps the set non-empty while there is no care-of address).
fn guarded(hoa: Ipv6Addr, care_of: Option<Ipv6Addr>) -> Vec<Ipv6Addr> {
    let mut v = vec![hoa];
    v.extend(care_of.filter(|c| *c != hoa));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_names_are_what_the_guard_accepts() {
        for tun in ["mip6", "mip6-mn", "Tun.0", "a-very-long-tun"] {
            let n = nft_name(tun);
            assert!(mip6_netio::nft::table_name(&n).is_ok(), "{tun} → {n}");
        }
        assert_eq!(nft_name("mip6-mn"), "mn_mip6_mn");
    }

    #[test]
    fn the_rules_keep_specific_routes_direct_then_send_the_rest_through_the_table() {
        let config = HostConfig {
            home_address: "2001:db8:1::100".parse().unwrap(),
            tun_name: "mip6".into(),
            route_table: 6275,
            rule_priority: 1000,
            home_prefix_len: 64,
        };
        let r = rules(&config);
        assert_eq!(
            r.map(|r| r.to_string()),
            [
                "from all lookup 254 suppress_prefixlength 0 priority 998",
                "from 2001:db8:1::100 lookup 6275 priority 999",
                "not fwmark 0x6d697036 lookup 6275 priority 1000",
            ]
        );
        assert_eq!(own_packet_mark(&config), OWN_PACKET_MARK);
    }

    #[test]
    fn the_guard_always_has_an_address() {
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let coa: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        assert_eq!(guarded(hoa, None), vec![hoa]);
        assert_eq!(guarded(hoa, Some(coa)), vec![hoa, coa]);
        assert_eq!(guarded(hoa, Some(hoa)), vec![hoa]);
    }
}
