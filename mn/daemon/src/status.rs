//! The status report of the mobile node (status JSON, "role":"mn") built from the
//! engine's public views and the shell's counters, and its aligned-text rendering for
//! `mip6-mn status`.
//!
//! ```json
//! {"role":"mn","home_address":..,"home_agent":..,"care_of_address":..|null,
//!  "registration":"registered|awaiting|idle|at-home","sequence":7,"lifetime_left_s":..|null,
//!  "uptime_s":12.3,"keys":{"transmit":"newest|init","generations":[{"slot":"newest|anterior|init",
//!  "generation":3,"spi_mn_to_ha":..,"spi_ha_to_mn":..,"age_s":4.2,"packets_in":..,"packets_out":..}]},
//!  "key_events":{"initialization":1,"update":5,"resend":1},"handovers":2,"bu_sent":9,
//!  "ba_received":9,"drops":{"<reason>":n},"frames":{..}}
//! ```

use std::net::Ipv6Addr;

use mip6_daemon::metrics::Text;
use mip6_daemon::shell::report::secs_between;
use mip6_daemon::shell::ReportInput;
use mip6_mn::{MobileNode, Registration};
use mip6_wire::esp::EspAead;
use mip6_wire::keys::GenerationId;
use serde_json::{json, Map, Value};

/// The registration state's name: `registered`, `awaiting`, `idle` (started, no
/// care-of address yet) or `at-home`.
pub fn registration_name(r: &Registration) -> &'static str {
    match r {
        Registration::Registered(_) => "registered",
        Registration::AwaitingAck(_) => "awaiting",
        Registration::Unregistered => "idle",
        Registration::AtHome => "at-home",
    }
}

/// What the report says about the node that the engine does not.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    /// The home address.
    pub home_address: Ipv6Addr,
    /// The home agent.
    pub home_agent: Ipv6Addr,
}

/// The mobile node's status fields.
pub fn status_fields<A: EspAead>(
    node: &MobileNode<A>,
    id: &Identity,
    handovers: u64,
    input: &ReportInput<'_>,
) -> Map<String, Value> {
    let view = node.registration();
    let lifetime_left = match &view.state {
        Registration::Registered(r) => json!(secs_between(r.expires_at, input.now)),
        _ => Value::Null,
    };
    let keys = node.keys();
    let generations: Vec<Value> = keys
        .generations
        .iter()
        .map(|g| input.generation_json(g))
        .collect();
    let transmit = match keys.transmit {
        GenerationId::Init => "init",
        GenerationId::Number(_) => "newest",
    };
    let counters = node.counters();
    let mut m = Map::new();
    m.insert("home_address".into(), id.home_address.to_string().into());
    m.insert("home_agent".into(), id.home_agent.to_string().into());
    m.insert(
        "care_of_address".into(),
        view.care_of_address.map(|a| a.to_string()).into(),
    );
    m.insert("registration".into(), registration_name(&view.state).into());
    m.insert("sequence".into(), view.last_sequence.map(|s| s.0).into());
    m.insert("lifetime_left_s".into(), lifetime_left);
    m.insert(
        "keys".into(),
        json!({ "transmit": transmit, "generations": generations }),
    );
    m.insert("handovers".into(), handovers.into());
    m.insert("bu_sent".into(), input.stats.signalling_sent.into());
    m.insert(
        "ba_received".into(),
        (counters.ba_accepted + counters.ba_refused).into(),
    );
    m
}

/// The mobile node's metrics (`mip6_mn_…`), before the shell's shared ones.
pub fn metrics_fields<A: EspAead>(
    node: &MobileNode<A>,
    handovers: u64,
    input: &ReportInput<'_>,
    text: Text,
) -> Text {
    let c = node.counters();
    let registered = matches!(node.registration().state, Registration::Registered(_));
    let mut t = text
        .gauge(
            "mip6_mn_registered",
            "1 while the home agent holds a binding for this node",
            &[],
            if registered { 1.0 } else { 0.0 },
        )
        .counter(
            "mip6_mn_handovers_total",
            "Care-of address changes after the first",
            &[],
            handovers,
        )
        .counter(
            "mip6_mn_binding_updates_sent_total",
            "Binding Updates the kernel took",
            &[],
            input.stats.signalling_sent,
        );
    for (result, n) in [("accepted", c.ba_accepted), ("refused", c.ba_refused)] {
        t = t.counter(
            "mip6_mn_registrations_total",
            "Binding Acknowledgements received, by result",
            &[("result", result)],
            n,
        );
    }
    t
}

/// The status as aligned text (what `mip6-mn status` prints without `--json`).
pub fn render_text(v: &Value) -> String {
    let s = |k: &str| match &v[k] {
        Value::Null => "-".to_owned(),
        Value::String(x) => x.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    let mut line = |k: &str, val: String| out.push_str(&format!("{k:<18} {val}\n"));
    for k in [
        "role",
        "home_address",
        "home_agent",
        "care_of_address",
        "registration",
        "sequence",
        "lifetime_left_s",
        "uptime_s",
        "handovers",
        "bu_sent",
        "ba_received",
    ] {
        line(k, s(k));
    }
    line(
        "keys.transmit",
        v["keys"]["transmit"].as_str().unwrap_or("-").to_owned(),
    );
    if let Some(gens) = v["keys"]["generations"].as_array() {
        for g in gens {
            line(
                &format!("keys.{}", g["slot"].as_str().unwrap_or("?")),
                format!(
                    "generation {:<4} spi out {:#010x} in {:#010x}  age {:>8} s  packets in {} out {}",
                    g["generation"].to_string(),
                    g["spi_mn_to_ha"].as_u64().unwrap_or(0),
                    g["spi_ha_to_mn"].as_u64().unwrap_or(0),
                    g["age_s"].to_string(),
                    g["packets_in"],
                    g["packets_out"]
                ),
            );
        }
    }
    for group in ["key_events", "frames", "drops"] {
        if let Some(map) = v[group].as_object() {
            let body = if map.is_empty() {
                "none".to_owned()
            } else {
                map.iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            line(group, body);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_daemon::shell::stats::ShellStats;
    use mip6_mn::MnConfig;
    use mip6_wire::esp::Spi;
    use mip6_wire::keys::SpiPair;
    use mip6_wire::{Secret32, Time};
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn status_of_a_node_awaiting_its_first_ba_has_the_contract_fields() {
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let ha: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let coa: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        let spis = SpiPair {
            mn_to_ha: Spi::new(0x1001).unwrap(),
            ha_to_mn: Spi::new(0x1002).unwrap(),
        };
        let config = MnConfig::new(ha, hoa, Secret32::new([7; 32]), spis);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let start = Time::from_secs(1_000);
        let mut node = MobileNode::new(config, &mut rng, start, None);
        let mut stats = ShellStats::new(start);
        node.set_care_of_address(start, Some(coa));
        let bu = node.poll_transmit().expect("a BU at once");
        assert_eq!(bu.spi, Some(0x1001), "sealed under init");
        stats.signalling_sent += 1;
        let id = Identity {
            home_address: hoa,
            home_agent: ha,
        };
        let input = ReportInput {
            stats: &stats,
            engine_drops: Vec::new(),
            now: Time::from_secs(1_002),
            page: mip6_daemon::control::Page::default(),
        };
        let mut v = input.common_status("mn");
        v.extend(status_fields(&node, &id, 0, &input));
        let v = Value::Object(v);
        assert_eq!(v["role"], "mn");
        assert_eq!(v["care_of_address"], "2001:db8:2::100");
        assert_eq!(v["registration"], "awaiting");
        assert_eq!(v["lifetime_left_s"], Value::Null);
        assert_eq!(v["uptime_s"], 2.0);
        assert_eq!(v["bu_sent"], 1);
        assert_eq!(v["ba_received"], 0);
        assert_eq!(v["keys"]["transmit"], "init");
        let init = &v["keys"]["generations"][0];
        assert_eq!(init["slot"], "init");
        assert_eq!(init["spi_mn_to_ha"], 0x1001);
        assert_eq!(
            (&init["packets_in"], &init["packets_out"]),
            (&json!(0), &json!(1)),
            "the BU, counted by the engine in its slot: {v}"
        );
        assert!(v["sequence"].is_u64());
        for key in ["key_events", "drops", "frames"] {
            assert!(v[key].is_object(), "{key}");
        }
        let text = metrics_fields(&node, 0, &input, Text::new());
        let m = input.common_metrics("mn", text).finish();
        for line in [
            "mip6_mn_registered 0",
            "mip6_mn_key_events_total{kind=\"update\"} 0",
            "mip6_mn_frames_total{path=\"net_out\"} 0",
            "mip6_mn_registrations_total{result=\"accepted\"} 0",
        ] {
            assert!(m.contains(line), "{line} in\n{m}");
        }
    }

    #[test]
    fn text_rendering_names_every_field_and_survives_any_json() {
        let v = json!({
            "role": "mn", "home_address": "2001:db8:1::100", "registration": "registered",
            "keys": {"transmit": "newest", "generations": [
                {"slot": "newest", "generation": 2, "spi_mn_to_ha": 4660, "spi_ha_to_mn": 4661,
                 "age_s": 1.5, "packets_in": 3, "packets_out": 4}]},
            "key_events": {"update": 1}, "frames": {}, "drops": {}
        });
        let text = render_text(&v);
        assert!(text.contains("registration       registered"), "{text}");
        assert!(text.contains("keys.newest"), "{text}");
        assert!(text.contains("0x00001234"), "{text}");
        assert!(text.contains("frames             none"), "{text}");
        for junk in [json!(null), json!({}), json!({"keys": 3})] {
            assert!(render_text(&junk).contains("role"));
        }
    }
}
