//! The status the control socket serves (daemon contract "Status JSON", HA), and its
//! human rendering for `mip6-ha status` without `--json`.
//!
//! ```json
//! {"role":"ha","address":"2001:db8:1::1","uptime_s":12.3,"persistence":true,
//!  "bindings":[{"home_address":..,"care_of_address":..,"sequence":7,"lifetime_left_s":580.0}],
//!  "keys":[{"home_address":..,"transmit":"anterior|newest|init",
//!           "generations":[{"slot":"init|anterior|newest","generation":3,"spi_mn_to_ha":4660,
//!                           "spi_ha_to_mn":4661,"age_s":4.2,"packets_in":10,"packets_out":12}]}],
//!  "key_events":{"initialization":1,"update":5,"resend":1},
//!  "registrations":{"accepted":9,"refused":0},
//!  "drops":{"<reason>":n},"frames":{"net_in":..,"net_out":..,"net_out_link":..,"tun_in":..,"tun_out":..}}
//! ```
//!
//! Beyond the contract: `refusals` (refused BUs by reason, RFC 6275 §6.1.8 status).
//! Drop reasons are the engine's [`DropReason`] names in snake case (`unknown_spi`,
//! `bad_icv`, …) and the driver's own ([`crate::stats::DriverDrop`]); only non-zero
//! counts are listed.

use std::fmt::Write as _;
use std::net::Ipv6Addr;

use mip6_ha::{Counters, DropReason, HomeAgent, Refusal};
use mip6_wire::keys::GenerationId;
use mip6_wire::Time;
use rand_core::{CryptoRng, RngCore};
use serde_json::{json, Map, Value};

use crate::stats::{GenerationInfo, Stats, KEY_EVENT_NAMES};

/// `CamelCase` → `camel_case`, for counter names taken from `Debug`.
pub fn snake_case(name: &str) -> String {
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

/// An engine drop reason's name in the status and the metrics.
pub fn drop_name(reason: DropReason) -> String {
    snake_case(&format!("{reason:?}"))
}

/// A refusal's name in the status.
pub fn refusal_name(refusal: Refusal) -> String {
    snake_case(&format!("{refusal:?}"))
}

/// Every non-zero drop count, the engine's and the driver's, by name.
pub fn drops(counters: &Counters, stats: &Stats) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = DropReason::ALL
        .iter()
        .map(|&r| (drop_name(r), counters.dropped(r)))
        .chain(stats.drops.iter().map(|(d, n)| (d.name().to_owned(), *n)))
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort();
    out
}

/// Refused BUs, all reasons.
pub fn refused(counters: &Counters) -> u64 {
    counters.refusals.iter().sum()
}

/// Seconds from `earlier` to `later` (0 if `later` is not later), to 0.1 s.
fn secs_between(later: Time, earlier: Time) -> f64 {
    let us = later.as_micros().saturating_sub(earlier.as_micros());
    (us / 100_000) as f64 / 10.0
}

/// What the status needs from the daemon beside the engine.
pub struct StatusInput<'a, R> {
    /// The engine.
    pub engine: &'a HomeAgent<R>,
    /// The HA's address.
    pub address: Ipv6Addr,
    /// Whether the store keeps whole records.
    pub persistence: bool,
    /// The driver's counters.
    pub stats: &'a Stats,
    /// Now.
    pub now: Time,
}

/// The status JSON.
pub fn status_json<R: RngCore + CryptoRng>(input: &StatusInput<'_, R>) -> Value {
    let StatusInput {
        engine, stats, now, ..
    } = input;
    let now = *now;
    let mut bindings = Vec::new();
    let mut keys = Vec::new();
    for (hoa, known) in &stats.keys {
        if let Some(b) = engine.binding(hoa) {
            bindings.push(json!({
                "home_address": hoa.to_string(),
                "care_of_address": b.care_of_address.to_string(),
                "sequence": b.sequence.0,
                "lifetime_left_s": secs_between(b.expires_at, now),
            }));
        }
        let Some(view) = engine.keys(hoa) else {
            continue;
        };
        let transmit = match view.transmit {
            GenerationId::Init => "init",
            GenerationId::Number(n) if view.newest == Some(n) => "newest",
            GenerationId::Number(_) => "anterior",
        };
        let generation = |slot: &str, g: &GenerationInfo| {
            let spi_in = g.spis.mn_to_ha.get();
            let spi_out = g.spis.ha_to_mn.get();
            let packets_in = stats.sa_packets.get(&spi_in).map_or(0, |p| p.inbound);
            let packets_out = stats.sa_packets.get(&spi_out).map_or(0, |p| p.outbound);
            json!({
                "slot": slot,
                "generation": g.generation,
                "spi_mn_to_ha": spi_in,
                "spi_ha_to_mn": spi_out,
                "age_s": secs_between(now, g.since),
                "packets_in": packets_in,
                "packets_out": packets_out,
            })
        };
        // Trust the engine's view for which slots are filled; the ledger for SPIs.
        let mut generations = vec![generation("init", &known.init)];
        if let (Some(n), Some(g)) = (view.anterior, known.anterior) {
            if n == g.generation {
                generations.push(generation("anterior", &g));
            }
        }
        if let (Some(n), Some(g)) = (view.newest, known.newest) {
            if n == g.generation {
                generations.push(generation("newest", &g));
            }
        }
        keys.push(json!({
            "home_address": hoa.to_string(),
            "transmit": transmit,
            "generations": generations,
        }));
    }
    let counters = engine.counters();
    let key_events: Map<String, Value> = KEY_EVENT_NAMES
        .iter()
        .zip(stats.key_events)
        .map(|(name, n)| ((*name).to_owned(), Value::from(n)))
        .collect();
    let drops: Map<String, Value> = drops(counters, stats)
        .into_iter()
        .map(|(k, n)| (k, Value::from(n)))
        .collect();
    let refusals: Map<String, Value> = Refusal::ALL
        .iter()
        .filter(|&&r| counters.refused(r) > 0)
        .map(|&r| (refusal_name(r), Value::from(counters.refused(r))))
        .collect();
    let f = stats.frames;
    json!({
        "role": "ha",
        "address": input.address.to_string(),
        "uptime_s": secs_between(now, stats.started),
        "persistence": input.persistence,
        "bindings": bindings,
        "keys": keys,
        "key_events": key_events,
        "registrations": {"accepted": counters.bu_accepted, "refused": refused(counters)},
        "refusals": refusals,
        "drops": drops,
        "frames": f.to_json(),
    })
}

/// The status as aligned text (`mip6-ha status`). Reads only what is there, so a
/// reply from another version still prints.
pub fn render_text(status: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let _ = writeln!(out, "role          {}", s(&status["role"]));
    let _ = writeln!(out, "address       {}", s(&status["address"]));
    let _ = writeln!(out, "uptime        {} s", s(&status["uptime_s"]));
    let _ = writeln!(out, "persistence   {}", s(&status["persistence"]));
    let bindings = status["bindings"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(out, "\nbindings ({})", bindings.len());
    if !bindings.is_empty() {
        let _ = writeln!(
            out,
            "  {:<39} {:<39} {:>8} {:>12}",
            "home address", "care-of address", "sequence", "lifetime (s)"
        );
    }
    for b in &bindings {
        let _ = writeln!(
            out,
            "  {:<39} {:<39} {:>8} {:>12}",
            s(&b["home_address"]),
            s(&b["care_of_address"]),
            s(&b["sequence"]),
            s(&b["lifetime_left_s"])
        );
    }
    let _ = writeln!(out, "\nkeys");
    for k in status["keys"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {}  transmit: {}",
            s(&k["home_address"]),
            s(&k["transmit"])
        );
        let _ = writeln!(
            out,
            "    {:<9} {:>10} {:>12} {:>12} {:>9} {:>10} {:>11}",
            "slot",
            "generation",
            "SPI mn->ha",
            "SPI ha->mn",
            "age (s)",
            "packets in",
            "packets out"
        );
        for g in k["generations"].as_array().into_iter().flatten() {
            let hex = |v: &Value| v.as_u64().map_or("-".to_owned(), |n| format!("{n:#010x}"));
            let _ = writeln!(
                out,
                "    {:<9} {:>10} {:>12} {:>12} {:>9} {:>10} {:>11}",
                s(&g["slot"]),
                s(&g["generation"]),
                hex(&g["spi_mn_to_ha"]),
                hex(&g["spi_ha_to_mn"]),
                s(&g["age_s"]),
                s(&g["packets_in"]),
                s(&g["packets_out"])
            );
        }
    }
    let table = |out: &mut String, title: &str, v: &Value| {
        let _ = writeln!(out, "\n{title}");
        match v.as_object() {
            Some(m) if !m.is_empty() => {
                for (k, n) in m {
                    let _ = writeln!(out, "  {:<28} {}", k, s(n));
                }
            }
            _ => {
                let _ = writeln!(out, "  (none)");
            }
        }
    };
    table(&mut out, "key events", &status["key_events"]);
    table(&mut out, "registrations", &status["registrations"]);
    table(&mut out, "refusals", &status["refusals"]);
    table(&mut out, "drops", &status["drops"]);
    table(&mut out, "frames", &status["frames"]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case() {
        assert_eq!(drop_name(DropReason::UnknownSpi), "unknown_spi");
        assert_eq!(drop_name(DropReason::BadIcv), "bad_icv");
        assert_eq!(snake_case("Malformed"), "malformed");
    }

    #[test]
    fn text_rendering_survives_any_json() {
        for v in [json!(null), json!({}), json!({"bindings": 3, "keys": "x"})] {
            let text = render_text(&v);
            assert!(text.contains("bindings (0)"));
        }
    }

    #[test]
    fn seconds_are_tenths_and_never_negative() {
        assert_eq!(
            secs_between(Time::from_micros(12_345_678), Time::from_micros(0)),
            12.3
        );
        assert_eq!(secs_between(Time::from_secs(1), Time::from_secs(2)), 0.0);
    }
}
