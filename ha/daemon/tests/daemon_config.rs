//! The `mip6-ha` configuration file: syntax errors with positions, every semantic
//! check with the line and column of the offending value, and the conversion of the
//! example file to the engine's configuration.

use std::net::Ipv6Addr;
use std::time::Duration;

use mip6_ha_daemon::config::{parse, ConfigError, ConfigErrorKind, Position};
use mip6_wire::esp::Suite;
use mip6_wire::keys::RequestMode;
use mip6_wire::Secret32;
use proptest::prelude::*;

const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A valid configuration; line numbers below refer to it.
fn base() -> String {
    format!(
        r#"home_interface = "eth0"
home_prefix = "2001:db8:1::/64"
address = "2001:db8:1::1"

[[mobile_node]]
home_address = "2001:db8:1::100"
init_secret = "{SECRET}"
init_spi_mn_to_ha = 0x1001
init_spi_ha_to_mn = 0x1002
"#
    )
}

/// A second `[[mobile_node]]` appended to [`base`]: its lines are 11 to 15.
fn second_mn(hoa: &str, secret: &str, a: &str, b: &str) -> String {
    format!(
        r#"
[[mobile_node]]
home_address = "{hoa}"
init_secret = "{secret}"
init_spi_mn_to_ha = {a}
init_spi_ha_to_mn = {b}
"#
    )
}

fn known(name: &str) -> bool {
    ["eth0", "eth1", "ha-home"].contains(&name)
}

fn at(line: usize, column: usize) -> Option<Position> {
    Some(Position { line, column })
}

fn syntax_error(text: &str) -> ConfigError {
    parse(text).expect_err("parse must fail")
}

fn semantic_errors(text: &str) -> Vec<ConfigError> {
    parse(text)
        .expect("parses")
        .validate(&known)
        .expect_err("validate must fail")
}

fn one_error(text: &str) -> ConfigError {
    let mut errors = semantic_errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.remove(0)
}

#[test]
fn base_is_valid() {
    let config = parse(&base()).unwrap();
    config.validate(&known).unwrap();
    let engine = config.to_engine().unwrap();
    assert_eq!(engine.mobile_nodes.len(), 1);
    assert_eq!(engine.mode, RequestMode::Explicit);
    assert_eq!(engine.key_update_interval, Duration::from_secs(3600));
}

#[test]
fn unknown_field_is_named_with_its_position() {
    let text = base().replace("address = \"2001:db8:1::1\"", "adress = \"2001:db8:1::1\"");
    let e = syntax_error(&text);
    assert_eq!(e.position, at(3, 1));
    assert_eq!(e.field, "adress");
    assert!(e.to_string().contains("unknown field `adress`"), "{e}");
    assert!(e.to_string().starts_with("3:1: adress: "), "{e}");
}

#[test]
fn unknown_field_inside_mobile_node() {
    let text = base() + "init_spi = 5\n";
    let e = syntax_error(&text);
    assert_eq!(e.position, at(10, 1));
    assert_eq!(e.field, "init_spi");
}

#[test]
fn missing_field_in_mobile_node_is_named() {
    let text = base().replace("init_spi_ha_to_mn = 0x1002\n", "");
    let e = syntax_error(&text);
    assert_eq!(e.field, "init_spi_ha_to_mn", "{e}");
    assert_eq!(e.position.map(|p| p.line), Some(5), "{e}");
}

#[test]
fn syntax_error_has_line_and_column() {
    let text = base().replace("address = \"2001:db8:1::1\"", "address = ");
    let e = syntax_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::Syntax(_)));
    assert_eq!(e.position.map(|p| p.line), Some(3), "{e}");
}

#[test]
fn bad_values_are_syntax_errors_at_the_value() {
    let cases = [
        ("request_mode = \"sometimes\"\n", "request_mode"),
        ("suite = \"aes-192-gcm\"\n", "suite"),
        ("key_update_interval = \"1d\"\n", "key_update_interval"),
        ("key_update_interval = -5\n", "key_update_interval"),
        ("metrics = \"localhost\"\n", "metrics"),
        ("persistence = \"yes\"\n", "persistence"),
    ];
    for (line, field) in cases {
        let e = syntax_error(&(line.to_owned() + &base()));
        assert_eq!(e.field, field, "{e}");
        assert_eq!(e.position, at(1, field.len() + 4), "{e}");
    }
}

#[test]
fn bad_prefix_and_address() {
    for prefix in [
        "2001:db8:1::",
        "2001:db8:1::/129",
        "2001:db8:1::1/64",
        "x/64",
    ] {
        let text = base().replace("2001:db8:1::/64", prefix);
        let e = syntax_error(&text);
        assert_eq!(
            (e.position, e.field.as_str()),
            (at(2, 15), "home_prefix"),
            "{e}"
        );
    }
    let e = syntax_error(&base().replace("\"2001:db8:1::100\"", "\"2001:db8:1::zz\""));
    assert_eq!((e.position, e.field.as_str()), (at(6, 16), "home_address"));
}

#[test]
fn bad_spi_values() {
    for spi in ["\"1001\"", "\"0x\"", "\"0x1_0\"", "0x100000000", "-1"] {
        let text = base().replace(
            "init_spi_mn_to_ha = 0x1001",
            &format!("init_spi_mn_to_ha = {spi}"),
        );
        let e = syntax_error(&text);
        assert_eq!(
            (e.position, e.field.as_str()),
            (at(8, 21), "init_spi_mn_to_ha"),
            "{e}"
        );
    }
    let text = base().replace(
        "init_spi_mn_to_ha = 0x1001",
        "init_spi_mn_to_ha = \"0xABCD\"",
    );
    let engine = parse(&text).unwrap().to_engine().unwrap();
    assert_eq!(engine.mobile_nodes[0].init_spis.mn_to_ha.get(), 0xabcd);
}

#[test]
fn secret_too_short() {
    let text = base().replace(SECRET, &SECRET[..62]);
    let e = one_error(&text);
    assert!(matches!(
        e.kind,
        ConfigErrorKind::BadSecretLength { octets: 31 }
    ));
    assert_eq!(e.position, at(7, 15));
    assert_eq!(
        e.to_string(),
        "7:15: init_secret: bad secret length: 31 octets, need 32"
    );
}

#[test]
fn secret_not_hex() {
    let text = base().replace(SECRET, &SECRET.replace('a', "g"));
    let e = one_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::SecretNotHex(_)), "{e}");
    assert_eq!(e.position, at(7, 15));
}

#[test]
fn reserved_spi() {
    let text = base().replace("0x1002", "255");
    let e = one_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::ReservedSpi { spi: 255 }));
    assert_eq!(
        (e.position, e.field.as_str()),
        (at(9, 21), "init_spi_ha_to_mn")
    );
}

#[test]
fn same_spi_in_both_directions() {
    let text = base().replace("0x1002", "0x1001");
    let e = one_error(&text);
    assert!(matches!(
        e.kind,
        ConfigErrorKind::DuplicateSpi { spi: 0x1001, first } if first == Position { line: 8, column: 21 }
    ));
    assert_eq!(e.position, at(9, 21));
}

#[test]
fn overlapping_spis_across_mobile_nodes() {
    let text = base() + &second_mn("2001:db8:1::101", SECRET, "0x2001", "\"0x1001\"");
    let e = one_error(&text);
    assert!(matches!(
        e.kind,
        ConfigErrorKind::DuplicateSpi { spi: 0x1001, .. }
    ));
    assert_eq!(
        (e.position, e.field.as_str()),
        (at(15, 21), "init_spi_ha_to_mn")
    );
}

#[test]
fn duplicate_home_address() {
    let text = base() + &second_mn("2001:db8:1::100", SECRET, "0x2001", "0x2002");
    let e = one_error(&text);
    assert!(matches!(
        e.kind,
        ConfigErrorKind::DuplicateHomeAddress { first, .. } if first == Position { line: 6, column: 16 }
    ));
    assert_eq!(e.position, at(12, 16));
}

#[test]
fn home_address_outside_prefix() {
    let text = base() + &second_mn("2001:db8:2::100", SECRET, "0x2001", "0x2002");
    let e = one_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::OutsideHomePrefix { .. }));
    assert_eq!((e.position, e.field.as_str()), (at(12, 16), "home_address"));
    assert_eq!(
        e.to_string(),
        "12:16: home_address: 2001:db8:2::100 is not inside the home prefix 2001:db8:1::/64"
    );
}

#[test]
fn home_address_is_the_agent() {
    let text = base() + &second_mn("2001:db8:1::1", SECRET, "0x2001", "0x2002");
    let e = one_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::HomeAddressIsAgent(_)));
    assert_eq!(e.position, at(12, 16));
}

#[test]
fn agent_address_outside_prefix() {
    let text = base().replace("address = \"2001:db8:1::1\"", "address = \"2001:db8:9::1\"");
    let e = one_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::OutsideHomePrefix { .. }));
    assert_eq!((e.position, e.field.as_str()), (at(3, 11), "address"));
}

#[test]
fn unknown_interfaces() {
    let text =
        "interfaces = [\"eth1\", \"wlan9\"]\n".to_owned() + &base().replace("\"eth0\"", "\"eth7\"");
    let errors = semantic_errors(&text);
    let found: Vec<_> = errors
        .iter()
        .map(|e| (e.position, e.field.as_str(), e.kind.to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (
                at(2, 18),
                "home_interface",
                "unknown interface \"eth7\"".to_owned()
            ),
            (
                at(1, 23),
                "interfaces",
                "unknown interface \"wlan9\"".to_owned()
            ),
        ]
    );
}

#[test]
fn metrics_must_be_loopback() {
    let ok = "metrics = \"127.0.0.1:9464\"\n".to_owned() + &base();
    parse(&ok).unwrap().validate(&known).unwrap();
    let text = "metrics = \"[2001:db8:1::1]:9464\"\n".to_owned() + &base();
    let e = one_error(&text);
    assert!(matches!(e.kind, ConfigErrorKind::MetricsNotLoopback(_)));
    assert_eq!((e.position, e.field.as_str()), (at(1, 11), "metrics"));
}

#[test]
fn zero_and_out_of_range_durations() {
    let e = one_error(&("key_update_interval = \"0s\"\n".to_owned() + &base()));
    assert!(matches!(e.kind, ConfigErrorKind::ZeroDuration));
    assert_eq!(e.position, at(1, 23));
    for (value, secs) in [("\"3s\"", 3), ("262141", 262_141), ("\"73h\"", 262_800)] {
        let e = one_error(&(format!("max_binding_lifetime = {value}\n") + &base()));
        assert!(
            matches!(e.kind, ConfigErrorKind::LifetimeOutOfRange { secs: s } if s == secs),
            "{e}"
        );
        assert_eq!(e.position, at(1, 24));
    }
    let max = "max_binding_lifetime = 262140\n".to_owned() + &base();
    parse(&max).unwrap().validate(&known).unwrap();
}

/// A file without `[[mobile_node]]` is valid: the nodes may all be provisioned at
/// run time (`mip6-ha mn add`, issue 13), and the daemon warns at start when it
/// serves nobody.
#[test]
fn no_mobile_node_in_the_file_is_valid() {
    let text: String = base().lines().take(3).collect::<Vec<_>>().join("\n");
    let config = parse(&text).unwrap();
    config.validate(&known).unwrap();
    assert!(config.to_engine().unwrap().mobile_nodes.is_empty());
}

#[test]
fn errors_are_collected() {
    let text = base()
        .replace(SECRET, "00")
        .replace("0x1002", "7")
        .replace("\"eth0\"", "\"nope\"");
    assert_eq!(semantic_errors(&text).len(), 3);
    // A config that does not validate is refused by to_engine too (no panic).
    assert!(parse(&text).unwrap().to_engine().is_err());
}

#[test]
fn load_names_the_file() {
    let dir = std::env::temp_dir().join(format!("mip6-ha-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, base().replace(SECRET, &SECRET[..62])).unwrap();
    let config = mip6_ha_daemon::config::load(&path).unwrap();
    let errors = config.validate(&known).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        format!(
            "{}:7:15: init_secret: bad secret length: 31 octets, need 32",
            path.display()
        )
    );
    std::fs::write(&path, "bogus = 1\n").unwrap();
    let e = mip6_ha_daemon::config::load(&path).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:1:1: bogus: ", path.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let e = mip6_ha_daemon::config::load(&dir.join("missing.toml")).unwrap_err();
    assert!(matches!(e.kind, ConfigErrorKind::Io(_)));
}

#[test]
fn example_file_validates_and_converts() {
    let text = include_str!("../../config/ha.toml");
    let config = parse(text).unwrap();
    config.validate(&|name| name == "ha-home").unwrap();
    assert!(config.persistence);
    assert_eq!(config.state_dir, std::path::Path::new("/var/lib/mip6-ha"));
    let engine = config.to_engine().unwrap();
    assert_eq!(
        engine.address,
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1)
    );
    assert_eq!(engine.mode, RequestMode::Explicit);
    assert_eq!(engine.suite, Suite::Aes128Gcm);
    assert_eq!(engine.vendor_id, 32473);
    assert_eq!(engine.max_binding_lifetime, Duration::from_secs(3600));
    assert_eq!(engine.key_update_interval, Duration::from_secs(3600));
    let [mn] = engine.mobile_nodes.as_slice() else {
        panic!("one MN expected");
    };
    assert_eq!(
        mn.home_address,
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100)
    );
    let octets: [u8; 32] = core::array::from_fn(|i| i as u8);
    assert!(mn.init_secret == Secret32::new(octets));
    assert_eq!(mn.init_spis.mn_to_ha.get(), 0x1001);
    assert_eq!(mn.init_spis.ha_to_mn.get(), 0x1002);
    assert_eq!(mn.init_suite, Suite::Aes128Gcm);
}

#[test]
fn non_default_values_reach_the_engine() {
    let text = "request_mode = \"implicit\"\nsuite = \"aes-256-gcm\"\nvendor_id = 7\n\
                key_update_interval = \"30m\"\nmax_binding_lifetime = 600\n"
        .to_owned()
        + &base();
    let engine = parse(&text).unwrap().to_engine().unwrap();
    assert_eq!(engine.mode, RequestMode::Implicit);
    assert_eq!(engine.suite, Suite::Aes256Gcm);
    assert_eq!(engine.vendor_id, 7);
    assert_eq!(engine.key_update_interval, Duration::from_secs(1800));
    assert_eq!(engine.max_binding_lifetime, Duration::from_secs(600));
}

#[test]
fn secret_is_redacted_in_debug() {
    let config = parse(&base()).unwrap();
    assert!(!format!("{config:?}").contains("0a0b0c"));
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
        cut in 0usize..400,
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

/// The `[pair]` table (issue 13, item 5): its timers with their defaults and a
/// millisecond unit, and what cannot work is refused with the table's line.
#[test]
fn a_pair_table_is_read_and_checked() {
    let pair = |body: &str| {
        base().replacen(
            "\n[[mobile_node]]",
            &format!("\n[pair]\n{body}\n\n[[mobile_node]]"),
            1,
        )
    };
    let ok = parse(&pair(
        "name = \"ha-a\"\netcd = [\"http://[2001:db8:1::fe]:2379\"]\nhold_time = \"600ms\"",
    ))
    .unwrap();
    ok.validate(&|_| true).unwrap();
    let p = ok.pair.as_ref().unwrap().get_ref();
    assert_eq!(p.timing().hold, Duration::from_millis(600));
    assert_eq!(p.timing().heartbeat, Duration::from_millis(100));
    assert_eq!(p.prefix, "/mip6/ha/");

    let refused = |text: String, want: &str| {
        let errors = parse(&text).unwrap().validate(&|_| true).unwrap_err();
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            all.iter().any(|e| e.contains(want) && e.contains("pair")),
            "{all:?}"
        );
    };
    refused(pair("name = \"ha-a\"\netcd = []"), "no endpoint");
    refused(
        pair("name = \"ha-a\"\netcd = [\"http://x:2379\"]\nheartbeat = \"200ms\"\nhold_time = \"500ms\""),
        "three heartbeats",
    );
    refused(
        pair("name = \"ha-a\"\netcd = [\"http://x:2379\"]").replacen(
            "address = \"2001:db8:1::1\"",
            "address = \"2001:db8:1::1\"\npersistence = false",
            1,
        ),
        "needs persistence = true",
    );
    // An unknown key in the table is a syntax error with its position.
    assert!(parse(&pair(
        "name = \"ha-a\"\netcd = [\"http://x:2379\"]\nlease = 3"
    ))
    .is_err());
}
