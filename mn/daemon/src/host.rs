//! What the mobile node installs in the host beside the shell's sockets and TUN, and
//! removes again: the source rule and the reverse-tunnel route (RFC 6275 §11.3.1)
//! and the nftables guard.
//!
//! - The TUN (opened by the shell, [`mip6_daemon::shell::Io`]) carries the home
//!   address /128 with MTU [`TUN_MTU`], so the outer packet (outer IPv6 40 + ESP
//!   header and IV 16 + inner + padding and trailer + ICV 16) fits a 1500-octet link:
//!   the kernel would fragment it silently otherwise (`docs/architecture.md`,
//!   "Measured facts").
//! - `from <home address> lookup <route_table>` (priority `rule_priority`) and
//!   `default dev <tun> table <route_table>`: the host's traffic from the home address
//!   goes into the TUN; the outer packets (care-of address → home agent) are routed
//!   by the main table as usual.
//! - `table inet mip6_mn_<tun>` dropping HoA-option and RH2 packets to the care-of
//!   address at prerouting: a BA arrives with an RH2, and the kernel must not answer it
//!   with ICMPv6 Parameter Problem ([`mip6_netio::nft`]).
//!
//! When the care-of address changes ([`Host::follow_care_of`]), the packet sockets'
//! filter, the nft guard and the raw sender's source follow it.
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
use mip6_netio::routes::NetConfig;

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
        // A rule left by a killed daemon would make add_source_rule a no-op that is not
        // undone at shutdown: delete it first.
        if let Err(e) = routes
            .remove_source_rule(hoa, config.route_table, config.rule_priority)
            .await
        {
            tracing::debug!(error = %e, "no leftover source rule removed");
        }
        routes
            .add_source_rule(hoa, config.route_table, config.rule_priority)
            .await
            .map_err(step("source rule"))?;
        routes
            .add_default_route(tun_ifindex, config.route_table)
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
                .remove_default_route(self.tun_ifindex, self.route_table)
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
        if let Some(ifindex) = self.home_link.take() {
            routes
                .remove_address(ifindex, self.home_address, self.home_prefix_len)
                .await
                .map_err(step("home address off the home link"))?;
        }
        if !self.tunnel_route {
            routes
                .add_default_route(self.tun_ifindex, self.route_table)
                .await
                .map_err(step("reverse-tunnel route"))?;
            self.tunnel_route = true;
        }
        Ok(())
    }

    /// Points the packet sockets' filter, the nft guard and the raw sender's source at
    /// a new care-of address (the home address while there is none). Failures are
    /// logged: the daemon goes on, and the next change tries again.
    pub fn follow_care_of(&mut self, io: &Io, care_of: Option<Ipv6Addr>) {
        let hoa = self.home_address;
        if let Err(e) = io.set_local_address(care_of.unwrap_or(hoa)) {
            tracing::error!(error = %e, "could not refilter the packet socket");
        }
        if let Err(e) = self.nft.update(&guarded(hoa, care_of)) {
            tracing::error!(error = %e, "could not update the nftables guard");
        }
        // Every frame leaves from the care-of address: bound, the kernel skips source
        // address selection per packet. Unbound is only slower.
        let sender = io.sender.get_ref();
        if let Err(e) = sender.set_source(care_of) {
            tracing::debug!(error = %e, "raw socket not bound to the care-of address");
            let _ = sender.set_source(None);
        }
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
    fn the_guard_always_has_an_address() {
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let coa: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        assert_eq!(guarded(hoa, None), vec![hoa]);
        assert_eq!(guarded(hoa, Some(coa)), vec![hoa, coa]);
        assert_eq!(guarded(hoa, Some(hoa)), vec![hoa]);
    }
}
