//! What a SIGHUP may change in a running home agent (issue 11, item 5), as a pure
//! comparison of the running and the new configuration ([`plan`]); the role applies
//! the plan to the engine ([`crate::role`]).
//!
//! | may change live | refused (whole reload, the running configuration kept) |
//! | --- | --- |
//! | `[[mobile_node]]` entries added or removed | an entry's `init_secret`, SPIs or `init_suite` changed |
//! | `key_update_interval`, `max_binding_lifetime` | every other field: addresses, prefix, interfaces, sockets, state, TUN, modes, suite, vendor, DAD, window, metrics, log, `[pair]` |
//!
//! Removing an entry deregisters its node (route and proxy Neighbor Discovery gone);
//! an added entry starts from its stored record if the store has one. A refused field
//! is named in the error; change it with a restart.

use core::time::Duration;
use std::collections::HashMap;
use std::net::Ipv6Addr;

use mip6_ha::MnConfig;
use mip6_wire::esp::Suite;
use mip6_wire::keys::SpiPair;
use sha2::{Digest, Sha256};

use crate::config::DaemonConfig;

/// The running file's `[[mobile_node]]` entries, as much of them as a reload compares:
/// per home address a SHA-256 digest of the init secret, the init SPIs and the suite.
/// The role keeps this instead of the entries themselves (issue 13: at 100 000 nodes
/// the entries with their secrets in hex cost some 200 octets per node, and kept the
/// secrets in memory twice for the daemon's life).
#[derive(Debug, Clone, Default)]
pub struct FileNodes {
    by_home_address: HashMap<Ipv6Addr, FileNode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileNode {
    secret_digest: [u8; 32],
    spis: SpiPair,
    suite: Suite,
}

impl FileNodes {
    /// The entries of a file, converted ([`DaemonConfig::to_engine`]).
    pub fn of(nodes: &[MnConfig]) -> Self {
        FileNodes {
            by_home_address: nodes
                .iter()
                .map(|mn| {
                    let node = FileNode {
                        secret_digest: Sha256::digest(mn.init_secret.expose()).into(),
                        spis: mn.init_spis,
                        suite: mn.init_suite,
                    };
                    (mn.home_address, node)
                })
                .collect(),
        }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.by_home_address.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_home_address.is_empty()
    }
}

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
        "pair",
        format!("{:?}", old.pair.as_ref().map(|p| p.get_ref())),
        format!("{:?}", new.pair.as_ref().map(|p| p.get_ref())),
    );
    check(
        "control_socket",
        format!("{:?}", old.control_socket),
        format!("{:?}", new.control_socket),
    );
    changed
}

/// The plan that takes the running configuration `old`, whose file had the entries
/// `running`, to the validated `new`, or why it cannot be applied live (module docs);
/// with the plan, the new file's entries. Linear in the number of entries.
pub fn plan(
    old: &DaemonConfig,
    running: &FileNodes,
    new: &DaemonConfig,
) -> Result<(Plan, FileNodes), String> {
    let join = |errors: Vec<crate::config::ConfigError>| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let fixed = fixed_changes(old, new);
    let wanted = new.to_engine().map_err(join)?;
    let wanted_nodes = FileNodes::of(&wanted.mobile_nodes);
    let mut refused: Vec<String> = fixed
        .iter()
        .map(|f| format!("{f} cannot change while running"))
        .collect();
    let mut added = Vec::new();
    for mn in &wanted.mobile_nodes {
        let now = &wanted_nodes.by_home_address[&mn.home_address];
        let Some(was) = running.by_home_address.get(&mn.home_address) else {
            added.push(mn.clone());
            continue;
        };
        for (field, same) in [
            ("init_secret", was.secret_digest == now.secret_digest),
            ("init_spi_mn_to_ha", was.spis.mn_to_ha == now.spis.mn_to_ha),
            ("init_spi_ha_to_mn", was.spis.ha_to_mn == now.spis.ha_to_mn),
            ("init_suite", was.suite == now.suite),
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
    if !refused.is_empty() {
        return Err(refused.join("; "));
    }
    let mut removed: Vec<Ipv6Addr> = running
        .by_home_address
        .keys()
        .filter(|hoa| !wanted_nodes.by_home_address.contains_key(hoa))
        .copied()
        .collect();
    removed.sort_unstable();
    Ok((
        Plan {
            added,
            removed,
            key_update_interval: new.key_update_interval(),
            max_binding_lifetime: new.max_binding_lifetime(),
        },
        wanted_nodes,
    ))
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

    /// The plan from `old` (its entries as the role keeps them) to `new`.
    fn plan(old: &DaemonConfig, new: &DaemonConfig) -> Result<Plan, String> {
        let running = FileNodes::of(&old.to_engine().unwrap().mobile_nodes);
        super::plan(old, &running, new).map(|(p, nodes)| {
            assert_eq!(nodes.len(), new.mobile_node.len());
            p
        })
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
        let why = plan(
            &old,
            &config(
                &format!("{HEAD}\n[pair]\nname = \"a\"\netcd = [\"http://x:2379\"]\n"),
                &[node(0x100, 'a', 0x1001)],
            ),
        )
        .unwrap_err();
        assert!(why.contains("pair cannot change"), "{why}");
    }

    #[test]
    fn a_reload_of_many_nodes_is_linear_and_keeps_no_secret_text() {
        // 20 000 entries, one removed and one added: a quadratic comparison would take
        // 4 × 10^8 steps here, which this test would notice in CI time.
        let nodes: Vec<String> = (0..20_000u32)
            .map(|i| {
                node(
                    u16::try_from(0x1000 + i % 0xe000).unwrap(),
                    'a',
                    0x10_000 + 2 * i,
                )
            })
            .collect();
        let old = config(HEAD, &nodes);
        let mut changed = nodes.clone();
        changed[7] = node(0xf000, 'b', 0x100);
        let new = config(HEAD, &changed);
        let p = plan(&old, &new).unwrap();
        assert_eq!(p.added.len(), 1);
        assert_eq!(p.removed, ["2001:db8:1::1007".parse::<Ipv6Addr>().unwrap()]);
        let kept = format!(
            "{:?}",
            FileNodes::of(&old.to_engine().unwrap().mobile_nodes)
        );
        assert!(
            !kept.contains(&"a".repeat(64)),
            "no secret in what the role keeps"
        );
    }
}
