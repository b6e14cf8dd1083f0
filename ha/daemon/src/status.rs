//! The status the control socket serves (HA), and its human rendering for
//! `mip6-ha status` without `--json`.
//!
//! ```json
//! {"role":"ha","address":"2001:db8:1::1","uptime_s":12.3,"persistence":true,
//!  "pair":{"state":"active","token":"ha-a 3f2a…"},   (only in a home agent pair;
//!  a standby answers only {"role","address","uptime_s","pair":{"state":"standby",
//!  "name","active","etcd"}}, see `pair::StandbyControl`)
//!  "bindings":[{"home_address":..,"care_of_address":..,"sequence":7,"lifetime_left_s":580.0}],
//!  "keys":[{"home_address":..,"transmit":"anterior|newest|init",
//!           "generations":[{"slot":"newest|anterior|init","generation":3,"spi_mn_to_ha":4660,
//!                           "spi_ha_to_mn":4661,"age_s":4.2,"packets_in":10,"packets_out":12}]}],
//!  "key_events":{"initialization":1,"update":5,"resend":1},
//!  "registrations":{"accepted":9,"refused":0},
//!  "refusals":{"<reason>":n},
//!  "drops":{"<reason>":n},"frames":{"net_in":..,"net_out":..,"net_out_link":..,"tun_in":..,"tun_out":..}}
//! ```
//!
//! `refusals` counts refused BUs by reason (RFC 6275 §6.1.8 status). Drop reasons are
//! the engine's [`mip6_ha::DropReason`] names in snake case (`unknown_spi`,
//! `bad_icv`, …) and the shell's and this role's own (`truncated`, `tun_not_bound`,
//! `route_failed`, …); only non-zero counts are listed. Generations are listed newest
//! first; a generation restored from the store is aged from the restart.

use std::fmt::Write as _;

use mip6_daemon::shell::report::{secs_between, snake_case};
use mip6_daemon::shell::ReportInput;
use mip6_ha::{BindingView, Counters, HomeAgent, KeyView, Refusal};
use mip6_wire::esp::EspAead;
use mip6_wire::keys::GenerationId;
use rand_core::{CryptoRng, RngCore};
use serde_json::{json, Map, Value};

/// Refused BUs, all reasons.
pub fn refused(counters: &Counters) -> u64 {
    counters.refusals.iter().sum()
}

/// Which key the HA transmits with: `init`, `newest` or `anterior`.
pub fn transmit_name(view: &KeyView) -> &'static str {
    match view.transmit {
        GenerationId::Init => "init",
        GenerationId::Number(n) if view.newest == Some(n) => "newest",
        GenerationId::Number(_) => "anterior",
    }
}

/// The home agent's status fields for one page ([`ReportInput::page`]) of the home
/// addresses it serves, in configuration order: `bindings` and `keys` list only that
/// page, so an answer stays bounded however many nodes are served (at most
/// [`mip6_daemon::control::Page::MAX_LIMIT`]); `mobile_nodes` says which page it is
/// (`total`, `offset`, `listed`, `next_offset`, null on the last page).
pub fn status_fields<R: RngCore + CryptoRng, A: EspAead>(
    engine: &HomeAgent<R, A>,
    home_addresses: &[std::net::Ipv6Addr],
    input: &ReportInput<'_>,
) -> Map<String, Value> {
    let mut bindings = Vec::new();
    let mut keys = Vec::new();
    let range = input.page.range(home_addresses.len());
    let page = json!({
        "total": home_addresses.len(),
        "offset": range.start,
        "listed": range.len(),
        "next_offset": (range.end < home_addresses.len()).then_some(range.end),
    });
    for hoa in &home_addresses[range] {
        if let Some(b) = engine.binding(hoa) {
            bindings.push(binding_json(hoa, &b, input));
        }
        if let Some(view) = engine.keys(hoa) {
            let generations: Vec<Value> = view
                .generations
                .iter()
                .map(|g| input.generation_json(g))
                .collect();
            keys.push(json!({
                "home_address": hoa.to_string(),
                "transmit": transmit_name(&view),
                "generations": generations,
            }));
        }
    }
    let counters = engine.counters();
    let refusals: Map<String, Value> = Refusal::ALL
        .iter()
        .filter(|&&r| counters.refused(r) > 0)
        .map(|&r| {
            (
                snake_case(&format!("{r:?}")),
                Value::from(counters.refused(r)),
            )
        })
        .collect();
    let mut m = Map::new();
    m.insert("mobile_nodes".into(), page);
    m.insert("bindings".into(), bindings.into());
    m.insert("keys".into(), keys.into());
    m.insert(
        "registrations".into(),
        json!({"accepted": counters.bu_accepted, "refused": refused(counters)}),
    );
    m.insert("refusals".into(), refusals.into());
    m.insert(
        "home_link".into(),
        json!({
            "solicitations_answered": counters.neighbour_solicitations_answered,
            "advertisements_announced": counters.neighbour_advertisements_announced,
            "dad_probes_sent": counters.dad_probes_sent,
            "dad_collisions": counters.dad_collisions,
            "invalid": counters.neighbour_discovery_invalid,
            "link_local_intercepted": counters.link_local_intercepted,
        }),
    );
    m
}

fn binding_json(hoa: &std::net::Ipv6Addr, b: &BindingView, input: &ReportInput<'_>) -> Value {
    json!({
        "home_address": hoa.to_string(),
        "care_of_address": b.care_of_address.to_string(),
        "sequence": b.sequence.0,
        "lifetime_left_s": secs_between(b.expires_at, input.now),
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
    if let Some(pair) = status.get("pair") {
        if pair["state"] == "standby" {
            // A standby serves nothing: who is active is all there is to say.
            let _ = writeln!(
                out,
                "pair          standby {} (active: {}; etcd {})",
                s(&pair["name"]),
                s(&pair["active"]),
                s(&pair["etcd"])
            );
            return out;
        }
        let _ = writeln!(
            out,
            "pair          {} ({})",
            s(&pair["state"]),
            s(&pair["token"])
        );
    }
    let page = &status["mobile_nodes"];
    if let (Some(total), Some(offset), Some(listed)) = (
        page["total"].as_u64(),
        page["offset"].as_u64(),
        page["listed"].as_u64(),
    ) {
        let _ = writeln!(
            out,
            "mobile nodes  {total} (listed here: {listed} from {offset}{})",
            match page["next_offset"].as_u64() {
                Some(next) => format!("; next page: --offset {next}"),
                None => String::new(),
            }
        );
    }
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

    /// Issue 13: `packets_in` / `packets_out` of a slot are the frames the engine
    /// opened and sealed under it, with no help from the shell.
    #[test]
    fn a_slot_lists_the_frames_the_engine_opened_and_sealed_under_it() {
        use mip6_daemon::shell::stats::ShellStats;
        use mip6_ha::{HaConfig, MnConfig, Received};
        use mip6_testkit::lab::{init_key, COA, HA, HOA, T0};
        use mip6_testkit::signalling::key_initialization;
        use mip6_testkit::ScriptedMn;
        use rand_chacha::rand_core::SeedableRng;

        let key = init_key();
        let config = HaConfig::new(
            HA,
            vec![MnConfig {
                home_address: key.home_address,
                init_secret: key.secret.clone(),
                init_spis: key.spis,
                init_suite: key.suite,
            }],
        );
        let rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let mut ha = HomeAgent::new(config, rng, T0, Vec::new()).unwrap();
        let mut mn = ScriptedMn::new(&key, COA);
        let mut bu = mn.bu(&[key_initialization(T0)]);
        assert!(matches!(ha.handle(T0, &mut bu), Received::Consumed { .. }));
        while ha.poll_event().is_some() {}
        let ba = mn.open_ba(ha.poll_transmit().expect("a BA").frame);
        mn.install(&ba);
        for _ in 0..3 {
            let mut up = mn.data(HOA, COA, b"up");
            assert!(matches!(ha.handle(T0, &mut up), Received::Delivered { .. }));
        }

        let stats = ShellStats::new(T0);
        let input = ReportInput {
            stats: &stats,
            engine_drops: Vec::new(),
            now: T0,
            page: mip6_daemon::control::Page::default(),
        };
        let v = Value::Object(status_fields(&ha, &[HOA], &input));
        let slots: Vec<_> = v["keys"][0]["generations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["slot"].clone(),
                    g["packets_in"].clone(),
                    g["packets_out"].clone(),
                )
            })
            .collect();
        assert_eq!(
            slots,
            [
                (json!("newest"), json!(3), json!(0)),
                (json!("init"), json!(1), json!(1)),
            ],
            "data under generation 1; the BU and its BA under init: {v}"
        );
    }

    #[test]
    fn text_rendering_survives_any_json() {
        for v in [json!(null), json!({}), json!({"bindings": 3, "keys": "x"})] {
            let text = render_text(&v);
            assert!(text.contains("bindings (0)"));
        }
    }

    #[test]
    fn the_text_names_the_page_and_the_next_one() {
        let text = render_text(&json!({
            "mobile_nodes": {"total": 2500, "offset": 1000, "listed": 1000, "next_offset": 2000}
        }));
        assert!(
            text.contains(
                "mobile nodes  2500 (listed here: 1000 from 1000; next page: --offset 2000)"
            ),
            "{text}"
        );
        let last = render_text(&json!({
            "mobile_nodes": {"total": 2, "offset": 0, "listed": 2, "next_offset": null}
        }));
        assert!(last.contains("(listed here: 2 from 0)"), "{last}");
    }
}
