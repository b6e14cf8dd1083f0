//! What a SIGHUP may change in a running home agent (issue 11, item 5), as a pure
//! comparison of the running and the new configuration ([`plan`]); the role applies
//! the plan to the engine ([`crate::role`]).
//!
//! | may change live | refused (whole reload, the running configuration kept) |
//! | --- | --- |
//! | `[[mobile_node]]` entries added or removed | an entry's `init_secret`, SPIs or `init_suite` changed |
//! | `key_update_interval`, `max_binding_lifetime` | every other field: addresses, prefix, interfaces, sockets, state, TUN, modes, suite, vendor, DAD, window, metrics, log |
//!
//! Removing an entry deregisters its node (route and proxy Neighbor Discovery gone);
//! an added entry starts from its stored record if the store has one. A refused field
//! is named in the error; change it with a restart.

use core::time::Duration;
use std::net::Ipv6Addr;

use mip6_ha::MnConfig;

use crate::config::DaemonConfig;

/// What a reload changes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Mobile nodes to serve from now on.
    pub added: Vec<MnConfig>,
    /// Home addresses no longer served.
    pub removed: Vec<Ipv6Addr>,
    /// The key update interval.
    pub key_update_interval: Duration,
    /// The longest binding lifetime granted.
    pub max_binding_lifetime: Duration,
}

/// The fields a reload must leave as they are, named as in the file, whose values
/// differ between `old` and `new`.
pub fn fixed_changes(old: &DaemonConfig, new: &DaemonConfig) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |field: &'static str, a: String, b: String| {
        if a != b {
            changed.push(field);
        }
    };
    let ifaces = |c: &DaemonConfig| format!("{:?}", c.all_interfaces().collect::<Vec<_>>());
    check(
        "home_interface",
        old.home_interface.get_ref().clone(),
        new.home_interface.get_ref().clone(),
    );
    check("interfaces", ifaces(old), ifaces(new));
    check(
        "home_prefix",
        format!("{:?}", old.home_prefix.get_ref()),
        format!("{:?}", new.home_prefix.get_ref()),
    );
    check(
        "address",
        old.address.get_ref().to_string(),
        new.address.get_ref().to_string(),
    );
    check(
        "state_dir",
        format!("{:?}", old.state_dir),
        format!("{:?}", new.state_dir),
    );
    check(
        "persistence",
        old.persistence.to_string(),
        new.persistence.to_string(),
    );
    check(
        "request_mode",
        format!("{:?}", old.request_mode),
        format!("{:?}", new.request_mode),
    );
    check(
        "vendor_id",
        old.vendor_id.to_string(),
        new.vendor_id.to_string(),
    );
    check(
        "suite",
        format!("{:?}", old.suite),
        format!("{:?}", new.suite),
    );
    check("log", format!("{:?}", old.log), format!("{:?}", new.log));
    check(
        "metrics",
        format!("{:?}", old.metrics.as_ref().map(|m| *m.get_ref())),
        format!("{:?}", new.metrics.as_ref().map(|m| *m.get_ref())),
    );
    check(
        "tun_name",
        old.tun_name().to_owned(),
        new.tun_name().to_owned(),
    );
    check(
        "tun_mtu",
        old.tun_mtu().to_string(),
        new.tun_mtu().to_string(),
    );
    check(
        "tun_offload",
        old.tun_offload.to_string(),
        new.tun_offload.to_string(),
    );
    check(
        "dad_transmits",
        old.dad_transmits.to_string(),
        new.dad_transmits.to_string(),
    );
    check(
        "replay_window",
        format!("{:?}", old.replay_window.as_ref().map(|w| *w.get_ref())),
        format!("{:?}", new.replay_window.as_ref().map(|w| *w.get_ref())),
    );
    check(
        "control_socket",
        format!("{:?}", old.control_socket),
        format!("{:?}", new.control_socket),
    );
    changed
}

/// The plan that takes the running configuration `old` to the validated `new`, or
/// why it cannot be applied live (module docs).
pub fn plan(old: &DaemonConfig, new: &DaemonConfig) -> Result<Plan, String> {
    let join = |errors: Vec<crate::config::ConfigError>| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let fixed = fixed_changes(old, new);
    let running = old.to_engine().map_err(join)?;
    let wanted = new.to_engine().map_err(join)?;
    let mut refused: Vec<String> = fixed
        .iter()
        .map(|f| format!("{f} cannot change while running"))
        .collect();
    for mn in &wanted.mobile_nodes {
        if let Some(was) = running
            .mobile_nodes
            .iter()
            .find(|r| r.home_address == mn.home_address)
        {
            for (field, same) in [
                ("init_secret", was.init_secret == mn.init_secret),
                (
                    "init_spi_mn_to_ha",
                    was.init_spis.mn_to_ha == mn.init_spis.mn_to_ha,
                ),
                (
                    "init_spi_ha_to_mn",
                    was.init_spis.ha_to_mn == mn.init_spis.ha_to_mn,
                ),
                ("init_suite", was.init_suite == mn.init_suite),
            ] {
                if !same {
                    refused.push(format!(
                        "mobile_node {}: {field} cannot change while running (remove the \
                         entry, reload, add it again)",
                        mn.home_address
                    ));
                }
            }
        }
    }
    if !refused.is_empty() {
        return Err(refused.join("; "));
    }
    let added = wanted
        .mobile_nodes
        .iter()
        .filter(|mn| {
            !running
                .mobile_nodes
                .iter()
                .any(|r| r.home_address == mn.home_address)
        })
        .cloned()
        .collect();
    let removed = running
        .mobile_nodes
        .iter()
        .map(|r| r.home_address)
        .filter(|hoa| !wanted.mobile_nodes.iter().any(|w| w.home_address == *hoa))
        .collect();
    Ok(Plan {
        added,
        removed,
        key_update_interval: new.key_update_interval(),
        max_binding_lifetime: new.max_binding_lifetime(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const HEAD: &str = r#"home_interface = "eth0"
home_prefix = "2001:db8:1::/64"
address = "2001:db8:1::1"
"#;

    fn node(last: u16, secret: char, spi: u32) -> String {
        format!(
            "[[mobile_node]]\nhome_address = \"2001:db8:1::{last:x}\"\ninit_secret = \"{}\"\n\
             init_spi_mn_to_ha = {spi:#x}\ninit_spi_ha_to_mn = {:#x}\n",
            secret.to_string().repeat(64),
            spi + 1
        )
    }

    fn config(head: &str, nodes: &[String]) -> DaemonConfig {
        let c = parse(&format!("{head}{}", nodes.concat())).unwrap();
        c.validate(&|_| true).unwrap();
        c
    }

    #[test]
    fn nodes_and_timers_change_live() {
        let old = config(HEAD, &[node(0x100, 'a', 0x1001), node(0x101, 'b', 0x2001)]);
        let new = config(
            &format!("key_update_interval = \"5m\"\nmax_binding_lifetime = \"10m\"\n{HEAD}"),
            &[node(0x101, 'b', 0x2001), node(0x102, 'c', 0x3001)],
        );
        let p = plan(&old, &new).unwrap();
        let added: Vec<Ipv6Addr> = p.added.iter().map(|m| m.home_address).collect();
        assert_eq!(added, ["2001:db8:1::102".parse::<Ipv6Addr>().unwrap()]);
        assert_eq!(p.removed, ["2001:db8:1::100".parse::<Ipv6Addr>().unwrap()]);
        assert_eq!(p.key_update_interval, Duration::from_secs(300));
        assert_eq!(p.max_binding_lifetime, Duration::from_secs(600));
        // Nothing changed: an empty plan.
        let same = plan(&old, &old).unwrap();
        assert!(same.added.is_empty() && same.removed.is_empty());
    }

    #[test]
    fn what_cannot_change_live_refuses_the_reload_by_name() {
        let old = config(HEAD, &[node(0x100, 'a', 0x1001)]);
        let new = config(
            &format!("tun_mtu = 1400\n{HEAD}"),
            &[node(0x100, 'a', 0x1001)],
        );
        let why = plan(&old, &new).unwrap_err();
        assert!(why.contains("tun_mtu cannot change while running"), "{why}");
        let new = config(HEAD, &[node(0x100, 'f', 0x1001)]);
        let why = plan(&old, &new).unwrap_err();
        assert!(
            why.contains("mobile_node 2001:db8:1::100: init_secret cannot change"),
            "{why}"
        );
        assert!(!why.contains("init_spi"), "{why}");
        let moved = HEAD.replace("2001:db8:1::1\"", "2001:db8:1::2\"");
        let why = plan(&old, &config(&moved, &[node(0x100, 'a', 0x1001)])).unwrap_err();
        assert!(why.contains("address cannot change"), "{why}");
    }
}
