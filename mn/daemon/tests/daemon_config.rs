//! The `mip6-mn` configuration file: syntax errors with positions, every semantic
//! check with the line and column of the offending value, and the conversion of the
//! example file to the engine's configuration.

use std::net::Ipv6Addr;
use std::time::Duration;

use mip6_mn_daemon::config::{load, parse, ConfigError, ConfigErrorKind, Position};
use mip6_wire::esp::Suite;
use mip6_wire::keys::RequestMode;
use mip6_wire::Secret32;
use proptest::prelude::*;

const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A valid configuration; line numbers below refer to it.
fn base() -> String {
    format!(
        r#"home_agent = "2001:db8:1::1"
home_address = "2001:db8:1::100"
init_secret = "{SECRET}"
init_spi_mn_to_ha = 0x1001
init_spi_ha_to_mn = 0x1002
interfaces = ["eth0", "wlan0"]
"#
    )
}

fn known(name: &str) -> bool {
    ["eth0", "wlan0", "mn-fg1", "mn-fg2", "mn-home"].contains(&name)
}

fn at(line: usize, column: usize) -> Option<Position> {
    Some(Position { line, column })
}

fn syntax_error(text: &str) -> ConfigError {
    parse(text).expect_err("parse must fail")
}

fn one_error(text: &str) -> ConfigError {
    let mut errors = parse(text)
        .expect("parses")
        .validate(&known)
        .expect_err("validate must fail");
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.remove(0)
}

#[test]
fn base_is_valid_with_engine_defaults() {
    let config = parse(&base()).unwrap();
    config.validate(&known).unwrap();
    assert_eq!(config.tun_name(), config.host_defaults().tun_name());
    let engine = config.to_engine().unwrap();
    assert_eq!(engine.requested_lifetime, Duration::from_secs(600));
    assert_eq!(engine.key_update_interval, Some(Duration::from_secs(3600)));
    assert_eq!(engine.request_mode, RequestMode::Explicit);
}

#[test]
fn unknown_field_is_named_with_its_position() {
    let e = syntax_error(&(base() + "home_agnet = \"2001:db8:1::1\"\n"));
    assert_eq!((e.position, e.field.as_str()), (at(7, 1), "home_agnet"));
    assert!(
        e.to_string()
            .starts_with("7:1: home_agnet: unknown field `home_agnet`"),
        "{e}"
    );
}

#[test]
fn missing_field_is_named() {
    let text = base().replace("init_spi_ha_to_mn = 0x1002\n", "");
    let e = syntax_error(&text);
    assert_eq!(e.field, "init_spi_ha_to_mn", "{e}");
    assert!(
        e.to_string().contains("missing field `init_spi_ha_to_mn`"),
        "{e}"
    );
}

#[test]
fn bad_values_are_syntax_errors_at_the_value() {
    let cases = [
        ("request_mode = \"auto\"\n", "request_mode"),
        ("lifetime = \"10x\"\n", "lifetime"),
        ("init_suite = \"chacha\"\n", "init_suite"),
        ("home_prefix_len = 300\n", "home_prefix_len"),
    ];
    for (line, field) in cases {
        let e = syntax_error(&(line.to_owned() + &base()));
        assert_eq!(
            (e.position, e.field.as_str()),
            (at(1, field.len() + 4), field),
            "{e}"
        );
    }
    let e = syntax_error(&(base() + "[log]\nformat = \"xml\"\n"));
    assert_eq!((e.position, e.field.as_str()), (at(8, 10), "format"), "{e}");
}

#[test]
fn secret_too_long() {
    let text = base().replace(SECRET, &format!("{SECRET}00"));
    let e = one_error(&text);
    assert!(matches!(
        e.kind,
        ConfigErrorKind::BadSecretLength { octets: 33 }
    ));
    assert_eq!(
        e.to_string(),
        "3:15: init_secret: bad secret length: 33 octets, need 32"
    );
}

#[test]
fn reserved_and_equal_spis() {
    let e = one_error(&base().replace("0x1001", "0"));
    assert!(matches!(e.kind, ConfigErrorKind::ReservedSpi { spi: 0 }));
    assert_eq!(
        (e.position, e.field.as_str()),
        (at(4, 21), "init_spi_mn_to_ha")
    );
    let e = one_error(&base().replace("0x1002", "\"0x1001\""));
    assert!(matches!(
        e.kind,
        ConfigErrorKind::DuplicateSpi { spi: 0x1001, first } if first == Position { line: 4, column: 21 }
    ));
    assert_eq!(e.position, at(5, 21));
}

#[test]
fn home_agent_off_the_home_link() {
    let text = base().replace(
        "home_agent = \"2001:db8:1::1\"",
        "home_agent = \"2001:db8:2::1\"",
    );
    let e = one_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::HomeAgentOffLink { .. }));
    assert_eq!(
        e.to_string(),
        "1:14: home_agent: home agent 2001:db8:2::1 is not inside the home prefix 2001:db8:1::/64"
    );
    // A shorter prefix takes it in.
    let wide = "home_prefix_len = 32\n".to_owned() + &text;
    parse(&wide).unwrap().validate(&known).unwrap();
}

#[test]
fn home_address_is_the_agent() {
    let text = base().replace("2001:db8:1::100", "2001:db8:1::1");
    let e = one_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::HomeAddressIsAgent(_)));
    assert_eq!(e.position, at(2, 16));
}

#[test]
fn unknown_and_missing_interfaces() {
    let e = one_error(&base().replace("\"wlan0\"", "\"wlan1\""));
    assert!(matches!(&e.kind, ConfigErrorKind::UnknownInterface(n) if n == "wlan1"));
    assert_eq!((e.position, e.field.as_str()), (at(6, 23), "interfaces"));
    let e = one_error(&base().replace("[\"eth0\", \"wlan0\"]", "[]"));
    assert!(matches!(e.kind, ConfigErrorKind::NoInterface));
    assert_eq!(e.position, at(6, 14));
}

#[test]
fn bad_tun_names() {
    for name in ["", "a-name-that-is-too-long", "tun/0", "tun 0"] {
        let e = one_error(&(format!("tun_name = \"{name}\"\n") + &base()));
        assert!(matches!(e.kind, ConfigErrorKind::BadTunName(_)), "{e}");
        assert_eq!(e.position, at(1, 12));
    }
}

#[test]
fn metrics_only_on_loopback_and_tables_not_reserved() {
    let e = one_error(&("metrics = \"192.0.2.1:9101\"\n".to_owned() + &base()));
    assert!(
        matches!(e.kind, ConfigErrorKind::MetricsNotLoopback(_)),
        "{e}"
    );
    assert_eq!((e.position, e.field.as_str()), (at(1, 11), "metrics"));
    for table in [0, 253, 254, 255] {
        let e = one_error(&(format!("route_table = {table}\n") + &base()));
        assert!(
            matches!(e.kind, ConfigErrorKind::ReservedTable(t) if t == table),
            "{e}"
        );
        assert_eq!((e.position, e.field.as_str()), (at(1, 15), "route_table"));
    }
    let config = parse(
        &("metrics = \"[::1]:9101\"\nroute_table = 100\nrule_priority = 50\n".to_owned() + &base()),
    )
    .unwrap();
    config.validate(&known).unwrap();
    assert_eq!(config.metrics(), Some("[::1]:9101".parse().unwrap()));
    assert_eq!((config.route_table(), config.rule_priority), (100, 50));
    let defaults = parse(&base()).unwrap();
    assert_eq!(defaults.metrics(), None);
    assert!(defaults.tun_offload, "TUN offloads on by default");
    let off = parse(&("tun_offload = false\n".to_owned() + &base())).unwrap();
    off.validate(&known).unwrap();
    assert!(!off.tun_offload);
    assert_eq!(
        (defaults.route_table(), defaults.rule_priority),
        (defaults.host_defaults().route_table(), 1000)
    );
}

#[test]
fn zero_and_out_of_range_durations() {
    let e = one_error(&("key_update_interval = 0\n".to_owned() + &base()));
    assert!(matches!(e.kind, ConfigErrorKind::ZeroDuration));
    assert_eq!(e.position, at(1, 23));
    for (value, secs) in [("\"0s\"", 0), ("\"2s\"", 2), ("\"4370m\"", 262_200)] {
        let e = one_error(&(format!("lifetime = {value}\n") + &base()));
        assert!(
            matches!(e.kind, ConfigErrorKind::LifetimeOutOfRange { secs: s } if s == secs),
            "{e}"
        );
        assert_eq!((e.position, e.field.as_str()), (at(1, 12), "lifetime"));
    }
}

#[test]
fn load_names_the_file() {
    let dir = std::env::temp_dir().join(format!("mip6-mn-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mn.toml");
    std::fs::write(&path, base().replace("0x1002", "17")).unwrap();
    let errors = load(&path).unwrap().validate(&known).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        format!(
            "{}:5:21: init_spi_ha_to_mn: SPI 0x11 is reserved (0..=255, RFC 4303 §2.1)",
            path.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        load(&path).unwrap_err().kind,
        ConfigErrorKind::Io(_)
    ));
}

#[test]
fn example_file_validates_and_converts() {
    let config = parse(include_str!("../../config/mn.toml")).unwrap();
    config.validate(&known).unwrap();
    // The example leaves the host settings to their defaults, derived from the home
    // address (what its comments show).
    assert!(
        config.tun_name().starts_with("mip6mn-"),
        "{}",
        config.tun_name()
    );
    assert_eq!(
        config.state_dir(),
        std::path::Path::new("/var/lib/mip6-mn/2001-db8-1--100")
    );
    assert_eq!(
        config.control_socket(),
        std::path::Path::new("/run/mip6-mn-2001-db8-1--100.sock")
    );
    let names: Vec<&str> = config
        .interfaces
        .get_ref()
        .iter()
        .map(|i| i.get_ref().as_str())
        .collect();
    assert_eq!(names, ["mn-fg1", "mn-fg2", "mn-home"]);
    let engine = config.to_engine().unwrap();
    assert_eq!(
        engine.home_agent,
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1)
    );
    assert_eq!(
        engine.home_address,
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100)
    );
    let octets: [u8; 32] = core::array::from_fn(|i| i as u8);
    assert!(engine.init_secret == Secret32::new(octets));
    assert_eq!(engine.init_spis.mn_to_ha.get(), 0x1001);
    assert_eq!(engine.init_spis.ha_to_mn.get(), 0x1002);
    assert_eq!(engine.suite, Suite::Aes128Gcm);
    assert_eq!(engine.request_mode, RequestMode::Explicit);
    assert_eq!(engine.key_update_interval, Some(Duration::from_secs(3600)));
    assert_eq!(engine.requested_lifetime, Duration::from_secs(600));
    assert_eq!(engine.vendor_id, 32473);
    assert_eq!(config.metrics(), Some("127.0.0.1:9102".parse().unwrap()));
    assert_eq!(config.route_table(), config.host_defaults().route_table());
}

#[test]
fn non_default_values_reach_the_engine() {
    let text = "request_mode = \"implicit\"\ninit_suite = \"aes-256-gcm\"\nvendor_id = 9\n\
                key_update_interval = \"45s\"\nlifetime = 120\n"
        .to_owned()
        + &base();
    let engine = parse(&text).unwrap().to_engine().unwrap();
    assert_eq!(engine.request_mode, RequestMode::Implicit);
    assert_eq!(engine.suite, Suite::Aes256Gcm);
    assert_eq!(engine.vendor_id, 9);
    assert_eq!(engine.key_update_interval, Some(Duration::from_secs(45)));
    assert_eq!(engine.requested_lifetime, Duration::from_secs(120));
}

#[test]
fn invalid_config_is_refused_by_to_engine() {
    let text = base().replace(SECRET, "abc");
    assert!(parse(&text).unwrap().to_engine().is_err());
    assert!(!format!("{:?}", parse(&base()).unwrap()).contains("0a0b0c"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parse_never_panics(text in "\\PC{0,200}") {
        if let Ok(config) = parse(&text) {
            let _ = config.validate(&|_| false);
            let _ = config.to_engine();
        }
    }

    #[test]
    fn parse_never_panics_on_near_valid_text(
        cut in 0usize..300,
        junk in "[\\[\\]=\"#a-z0-9 \n\u{e9}]{0,8}",
    ) {
        let mut text = base();
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.insert_str(cut, &junk);
        if let Ok(config) = parse(&text) {
            let _ = config.validate(&known);
            let _ = config.to_engine();
        }
    }
}
