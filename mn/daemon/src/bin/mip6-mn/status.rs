//! The status report (daemon contract, "Status JSON", MN) built from the engine's public
//! views and the driver's [`Stats`], its aligned-text rendering for `mip6-mn status`,
//! and the Prometheus text of the same counters ("Prometheus metric names").

use std::net::Ipv6Addr;

use mip6_daemon::metrics::Text;
use mip6_mn::{MobileNode, Registration};
use mip6_wire::keys::{GenerationId, SpiPair};
use mip6_wire::Time;
use serde_json::{json, Value};

use crate::stats::Stats;

/// What the report says about the node that the engine does not.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    /// The home address.
    pub home_address: Ipv6Addr,
    /// The home agent.
    pub home_agent: Ipv6Addr,
    /// The init SAs' SPIs.
    pub init_spis: SpiPair,
}

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

/// `CamelCase` → `snake_case` (drop reasons' names in JSON and metrics).
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn secs(micros: u64) -> f64 {
    (micros as f64 / 1e5).round() / 10.0
}

/// Every drop, engine's and driver's, by name (zero counts left out).
pub fn drops(node: &MobileNode, stats: &Stats) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = node
        .counters()
        .drops()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| (snake(&format!("{r:?}")), n))
        .collect();
    out.extend(
        stats
            .drops
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(d, n)| (d.name().to_owned(), *n)),
    );
    out
}

/// The status JSON at `now`.
pub fn status_json(node: &MobileNode, id: &Identity, stats: &Stats, now: Time) -> Value {
    let view = node.registration();
    let lifetime_left = match &view.state {
        Registration::Registered(r) => {
            json!(secs(
                r.expires_at.as_micros().saturating_sub(now.as_micros())
            ))
        }
        _ => Value::Null,
    };
    let keys = node.keys();
    let record = node.record();
    let generation = |slot: &str, number: u32, spis: SpiPair, since: Time| {
        let (packets_in, packets_out_mn) = (
            stats
                .spi_packets
                .get(&spis.ha_to_mn.get())
                .map_or(0, |p| p.0),
            stats
                .spi_packets
                .get(&spis.mn_to_ha.get())
                .map_or(0, |p| p.1),
        );
        json!({
            "slot": slot,
            "generation": number,
            "spi_mn_to_ha": spis.mn_to_ha.get(),
            "spi_ha_to_mn": spis.ha_to_mn.get(),
            "age_s": secs(now.as_micros().saturating_sub(since.as_micros())),
            "packets_in": packets_in,
            "packets_out": packets_out_mn,
        })
    };
    let mut generations = Vec::new();
    for (slot, number, gen_record) in [
        ("newest", keys.newest, record.newest.as_ref()),
        ("anterior", keys.anterior, record.anterior.as_ref()),
    ] {
        if let (Some(n), Some(g)) = (number, gen_record) {
            let since = stats.installed_at.get(&n).copied().unwrap_or(stats.started);
            generations.push(generation(slot, n, g.spis, since));
        }
    }
    generations.push(generation("init", 0, id.init_spis, stats.init_since));
    let transmit = match keys.transmit {
        GenerationId::Init => "init",
        GenerationId::Number(_) => "newest",
    };
    let counters = node.counters();
    let drops: serde_json::Map<String, Value> = drops(node, stats)
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    json!({
        "role": "mn",
        "home_address": id.home_address.to_string(),
        "home_agent": id.home_agent.to_string(),
        "care_of_address": view.care_of_address.map(|a| a.to_string()),
        "registration": registration_name(&view.state),
        "sequence": view.last_sequence.map(|s| s.0),
        "lifetime_left_s": lifetime_left,
        "uptime_s": secs(now.as_micros().saturating_sub(stats.started.as_micros())),
        "keys": { "transmit": transmit, "generations": generations },
        "key_events": {
            "initialization": stats.key_events.initialization,
            "update": stats.key_events.update,
            "resend": stats.key_events.resend,
        },
        "handovers": stats.handovers,
        "bu_sent": stats.bu_sent,
        "ba_received": counters.ba_accepted + counters.ba_refused,
        "drops": drops,
        "frames": stats.frames.to_json(),
    })
}

/// The Prometheus exposition of the counters (`mip6_mn_` names).
pub fn metrics_text(node: &MobileNode, stats: &Stats) -> String {
    let c = node.counters();
    let registered = matches!(node.registration().state, Registration::Registered(_));
    let mut t = Text::new()
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
            stats.handovers,
        )
        .counter(
            "mip6_mn_binding_updates_sent_total",
            "Binding Updates the kernel took",
            &[],
            stats.bu_sent,
        );
    for (kind, n) in [
        ("initialization", stats.key_events.initialization),
        ("update", stats.key_events.update),
        ("resend", stats.key_events.resend),
    ] {
        t = t.counter(
            "mip6_mn_key_events_total",
            "Key generations installed, by kind",
            &[("kind", kind)],
            n,
        );
    }
    for (result, n) in [("accepted", c.ba_accepted), ("refused", c.ba_refused)] {
        t = t.counter(
            "mip6_mn_registrations_total",
            "Binding Acknowledgements received, by result",
            &[("result", result)],
            n,
        );
    }
    for (path, n) in stats.frames.by_path() {
        t = t.counter(
            "mip6_mn_frames_total",
            "Frames on each path of the daemon",
            &[("path", path)],
            n,
        );
    }
    for (reason, n) in drops(node, stats) {
        t = t.counter(
            "mip6_mn_drops_total",
            "Frames dropped, by reason",
            &[("reason", &reason)],
            n,
        );
    }
    t.finish()
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
    use mip6_mn::MnConfig;
    use mip6_wire::esp::Spi;
    use mip6_wire::Secret32;
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
        let mut stats = Stats::new(start);
        node.set_care_of_address(start, Some(coa));
        stats.care_of(Some(coa));
        let bu = node.poll_transmit().expect("a BU at once");
        let spi = mip6_wire::frames::inspect(&bu.frame).unwrap().spi;
        stats.spi_out(spi);
        stats.bu_sent += 1;
        let id = Identity {
            home_address: hoa,
            home_agent: ha,
            init_spis: spis,
        };
        let v = status_json(&node, &id, &stats, Time::from_secs(1_002));
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
        assert_eq!(init["packets_out"], 1, "{v}");
        assert!(v["sequence"].is_u64());
        for key in ["key_events", "drops", "frames"] {
            assert!(v[key].is_object(), "{key}");
        }
        let m = metrics_text(&node, &stats);
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
    fn drop_names_are_snake_case() {
        assert_eq!(snake("UnknownSpi"), "unknown_spi");
        assert_eq!(snake("Malformed"), "malformed");
        assert_eq!(snake("InitEchoMismatch"), "init_echo_mismatch");
    }

    #[test]
    fn text_rendering_aligns_every_field() {
        let v = json!({"role":"mn","care_of_address":null,"registration":"awaiting",
            "keys":{"transmit":"init","generations":[{"slot":"init","generation":0,
            "spi_mn_to_ha":4097,"spi_ha_to_mn":4098,"age_s":1.5,"packets_in":0,"packets_out":2}]},
            "key_events":{"initialization":0},"frames":{"net_out":3},"drops":{}});
        let t = render_text(&v);
        assert!(t.contains("care_of_address    -\n"), "{t}");
        assert!(t.contains("registration       awaiting\n"), "{t}");
        assert!(
            t.contains("keys.init          generation 0    spi out 0x00001001 in 0x00001002"),
            "{t}"
        );
        assert!(t.contains("drops              none\n"), "{t}");
    }
}
