//! What a SIGHUP may change in a running mobile node (issue 11, item 5), as a pure
//! comparison of the running and the new configuration ([`fixed_changes`]); the role
//! applies the rest ([`crate::role`]).
//!
//! | may change live | refused (whole reload, the running configuration kept) |
//! | --- | --- |
//! | `interfaces` (movement detection follows the new set at once) | `home_agent`, `home_address`, `home_prefix_len`, the init secret, SPIs and suite, `request_mode`, `vendor_id` |
//! | `lifetime`, `key_update_interval` (from the next Binding Update and key) | `state_dir`, `control_socket`, `router_discovery`, `tun_name`, `tun_offload`, `route_table`, `rule_priority`, `metrics`, `log` |
//!
//! Compared with their defaults applied, so a field left out and the same value
//! written out are the same.

use crate::config::DaemonConfig;

/// The fields a reload must leave as they are, named as in the file, whose values
/// differ between `old` and `new`.
pub fn fixed_changes(old: &DaemonConfig, new: &DaemonConfig) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |field: &'static str, a: String, b: String| {
        if a != b {
            changed.push(field);
        }
    };
    let secret = |c: &DaemonConfig| {
        c.init_secret
            .get_ref()
            .decode::<crate::config::ConfigErrorKind>()
            .ok()
    };
    check(
        "home_agent",
        old.home_agent.get_ref().to_string(),
        new.home_agent.get_ref().to_string(),
    );
    check(
        "home_address",
        old.home_address.get_ref().to_string(),
        new.home_address.get_ref().to_string(),
    );
    check(
        "home_prefix_len",
        old.home_prefix_len().to_string(),
        new.home_prefix_len().to_string(),
    );
    check(
        "init_secret",
        String::new(),
        if secret(old) == secret(new) {
            String::new()
        } else {
            "changed".into()
        },
    );
    check(
        "init_spi_mn_to_ha",
        format!("{:?}", old.init_spi_mn_to_ha.get_ref().0),
        format!("{:?}", new.init_spi_mn_to_ha.get_ref().0),
    );
    check(
        "init_spi_ha_to_mn",
        format!("{:?}", old.init_spi_ha_to_mn.get_ref().0),
        format!("{:?}", new.init_spi_ha_to_mn.get_ref().0),
    );
    check(
        "init_suite",
        format!("{:?}", old.init_suite),
        format!("{:?}", new.init_suite),
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
        "state_dir",
        format!("{:?}", old.state_dir()),
        format!("{:?}", new.state_dir()),
    );
    check(
        "control_socket",
        format!("{:?}", old.control_socket()),
        format!("{:?}", new.control_socket()),
    );
    check("tun_name", old.tun_name(), new.tun_name());
    check(
        "router_discovery",
        old.router_discovery.to_string(),
        new.router_discovery.to_string(),
    );
    check(
        "tun_offload",
        old.tun_offload.to_string(),
        new.tun_offload.to_string(),
    );
    check(
        "route_table",
        old.route_table().to_string(),
        new.route_table().to_string(),
    );
    check(
        "rule_priority",
        old.rule_priority.to_string(),
        new.rule_priority.to_string(),
    );
    check(
        "metrics",
        format!("{:?}", old.metrics()),
        format!("{:?}", new.metrics()),
    );
    check("log", format!("{:?}", old.log), format!("{:?}", new.log));
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const BASE: &str = r#"home_agent = "2001:db8:1::1"
home_address = "2001:db8:1::100"
init_secret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
init_spi_mn_to_ha = 0x1001
init_spi_ha_to_mn = 0x1002
"#;

    fn with(extra: &str) -> DaemonConfig {
        parse(&format!("{BASE}{extra}")).unwrap()
    }

    #[test]
    fn interfaces_and_timers_may_change_the_rest_may_not() {
        let old = with("interfaces = [\"eth0\"]\n");
        let new = with(
            "interfaces = [\"eth1\", \"eth2\"]\nlifetime = \"60s\"\nkey_update_interval = \"5m\"\n",
        );
        assert!(fixed_changes(&old, &new).is_empty());
        // A default written out is no change.
        let explicit = with(&format!(
            "interfaces = [\"eth0\"]\ntun_name = \"{}\"\n",
            old.tun_name()
        ));
        assert!(fixed_changes(&old, &explicit).is_empty());
        let new = with("interfaces = [\"eth0\"]\ntun_name = \"other\"\nroute_table = 7\n");
        assert_eq!(fixed_changes(&old, &new), ["tun_name", "route_table"]);
        let new = parse(&format!(
            "{}interfaces = [\"eth0\"]\n",
            BASE.replace("0x1001", "0x1003").replace("0001", "ff01")
        ))
        .unwrap();
        assert_eq!(
            fixed_changes(&old, &new),
            ["init_secret", "init_spi_mn_to_ha"]
        );
    }
}
