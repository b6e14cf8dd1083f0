//! The status JSON and the Prometheus text both daemons serve, built from what the
//! shell counts and what the role's engine shows (its key view, its counters): the
//! fields both roles share are written here once, each role adds its own.
//!
//! Shared status fields: `role`, `uptime_s`, `key_events` (distributions by kind),
//! `drops` (engine and shell reasons, non-zero only) and `frames` (by path). Shared
//! metrics: `mip6_<role>_key_events_total{kind}`, `mip6_<role>_drops_total{reason}`
//! (every engine reason from the start, zero or not, so each series exists) and
//! `mip6_<role>_frames_total{path}`.

use mip6_wire::keys::{GenerationView, SpiPair};
use mip6_wire::Time;
use serde_json::{json, Map, Value};

use super::stats::ShellStats;
use crate::metrics::Text;

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

/// Seconds from `earlier` to `later` (0 if `later` is not later), to 0.1 s.
pub fn secs_between(later: Time, earlier: Time) -> f64 {
    let us = later.as_micros().saturating_sub(earlier.as_micros());
    (us / 100_000) as f64 / 10.0
}

/// What a report is built from beside the role's engine: the shell's counters, the
/// engine's drop counts by reason, and now.
#[derive(Debug)]
pub struct ReportInput<'a> {
    /// The shell's counters.
    pub stats: &'a ShellStats,
    /// Every engine drop reason with its count (zero included), snake case.
    pub engine_drops: Vec<(String, u64)>,
    /// Now.
    pub now: Time,
    /// Which mobile nodes a `status` lists ([`crate::control::Page`]).
    pub page: crate::control::Page,
}

impl ReportInput<'_> {
    /// One key slot as the status lists it: `slot`, `generation` (0 for the init
    /// key), both SPIs, `age_s`, and the engine's packet counts of the slot
    /// ([`mip6_wire::keys::SlotPackets`]) since it was installed: `packets_in`, the
    /// frames this end opened under it (ICV and anti-replay passed), and
    /// `packets_out`, the frames it sealed under it (signalling and data, counted
    /// when sealed; one the kernel refused is also a `send_failed` drop). At the
    /// home agent `packets_in` are MN→HA frames, at the mobile node HA→MN ones.
    pub fn generation_json(&self, g: &GenerationView) -> Value {
        let SpiPair { mn_to_ha, ha_to_mn } = g.spis;
        let number = match g.id {
            mip6_wire::keys::GenerationId::Init => 0,
            mip6_wire::keys::GenerationId::Number(n) => n,
        };
        json!({
            "slot": g.slot.name(),
            "generation": number,
            "spi_mn_to_ha": mn_to_ha.get(),
            "spi_ha_to_mn": ha_to_mn.get(),
            "age_s": secs_between(self.now, g.installed_at),
            "packets_in": g.packets.opened,
            "packets_out": g.packets.sealed,
        })
    }

    /// Every drop, the engine's and the shell's, by name (zero counts included).
    pub fn all_drops(&self) -> Vec<(String, u64)> {
        let mut out = self.engine_drops.clone();
        out.extend(
            self.stats
                .drops
                .iter()
                .map(|(name, n)| ((*name).to_owned(), *n)),
        );
        out.sort();
        out
    }

    /// The fields every status has, for role `role`.
    pub fn common_status(&self, role: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("role".into(), role.into());
        m.insert(
            "uptime_s".into(),
            secs_between(self.now, self.stats.started).into(),
        );
        let key_events: Map<String, Value> = self
            .stats
            .distributions()
            .map(|(kind, n)| (kind.name().to_owned(), Value::from(n)))
            .collect();
        m.insert("key_events".into(), key_events.into());
        let drops: Map<String, Value> = self
            .all_drops()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k, Value::from(n)))
            .collect();
        m.insert("drops".into(), drops.into());
        m.insert("frames".into(), self.stats.frames.to_json());
        let store_writes: Map<String, Value> = self
            .stats
            .store
            .by_kind()
            .into_iter()
            .map(|(kind, n)| (kind.to_owned(), Value::from(n)))
            .chain([("pending".to_owned(), Value::from(self.stats.store.pending))])
            .collect();
        m.insert("store_writes".into(), store_writes.into());
        m
    }

    /// The metrics every daemon exports, named `mip6_<role>_…`, after `text`.
    pub fn common_metrics(&self, role: &str, mut text: Text) -> Text {
        let key_events = format!("mip6_{role}_key_events_total");
        for (kind, n) in self.stats.distributions() {
            text = text.counter(
                &key_events,
                "Key distributions by kind: initialization, update, resend.",
                &[("kind", kind.name())],
                n,
            );
        }
        let drops = format!("mip6_{role}_drops_total");
        for (reason, n) in self.all_drops() {
            text = text.counter(
                &drops,
                "Frames and packets dropped, by reason.",
                &[("reason", &reason)],
                n,
            );
        }
        let frames = format!("mip6_{role}_frames_total");
        for (path, n) in self.stats.frames.by_path() {
            text = text.counter(
                &frames,
                "Frames by path: network in/out, TUN in/out.",
                &[("path", path)],
                n,
            );
        }
        let writes = format!("mip6_{role}_store_writes_total");
        for (kind, n) in self.stats.store.by_kind() {
            text = text.counter(
                &writes,
                "Batches of persistence records written: before_sending (the round's frames waited), behind (they did not).",
                &[("kind", kind)],
                n,
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_wire::esp::Spi;
    use mip6_wire::keys::{DistributionKind, GenerationId, Slot, SlotPackets};

    #[test]
    fn names_are_snake_case_and_seconds_tenths() {
        assert_eq!(snake_case("UnknownSpi"), "unknown_spi");
        assert_eq!(snake_case("Malformed"), "malformed");
        assert_eq!(snake_case("InitEchoMismatch"), "init_echo_mismatch");
        assert_eq!(
            secs_between(Time::from_micros(12_345_678), Time::from_micros(0)),
            12.3
        );
        assert_eq!(secs_between(Time::from_secs(1), Time::from_secs(2)), 0.0);
    }

    #[test]
    fn a_generation_shows_its_slots_packet_counts() {
        let mut stats = ShellStats::new(Time::from_secs(100));
        stats.distribution(DistributionKind::Update);
        stats.drop("truncated");
        let input = ReportInput {
            stats: &stats,
            engine_drops: vec![("bad_icv".into(), 3), ("replayed".into(), 0)],
            now: Time::from_secs(112),
            page: crate::control::Page::default(),
        };
        let g = GenerationView {
            slot: Slot::Init,
            id: GenerationId::Init,
            spis: SpiPair {
                mn_to_ha: Spi::new(0x1001).unwrap(),
                ha_to_mn: Spi::new(0x2001).unwrap(),
            },
            installed_at: Time::from_secs(102),
            packets: SlotPackets {
                opened: 2,
                sealed: 1,
            },
        };
        let json = input.generation_json(&g);
        assert_eq!(json["slot"], "init");
        assert_eq!(json["generation"], 0);
        assert_eq!(
            (&json["spi_mn_to_ha"], &json["spi_ha_to_mn"]),
            (&json!(0x1001), &json!(0x2001))
        );
        assert_eq!(json["age_s"], 10.0);
        assert_eq!(
            (&json["packets_in"], &json["packets_out"]),
            (&json!(2), &json!(1)),
            "opened in, sealed out"
        );
        let numbered = GenerationView {
            slot: Slot::Newest,
            id: GenerationId::Number(7),
            packets: SlotPackets::default(),
            ..g
        };
        let json = input.generation_json(&numbered);
        assert_eq!(
            (&json["slot"], &json["generation"]),
            (&json!("newest"), &json!(7))
        );
        assert_eq!(
            (&json["packets_in"], &json["packets_out"]),
            (&json!(0), &json!(0))
        );

        let status = input.common_status("ha");
        assert_eq!(status["role"], "ha");
        assert_eq!(status["uptime_s"], 12.0);
        assert_eq!(status["key_events"]["update"], 1);
        assert_eq!(
            Value::Object(status["drops"].as_object().unwrap().clone()),
            json!({"bad_icv": 3, "truncated": 1}),
            "non-zero drops of both kinds"
        );
        let text = input.common_metrics("ha", Text::new()).finish();
        for line in [
            "mip6_ha_key_events_total{kind=\"update\"} 1",
            "mip6_ha_drops_total{reason=\"replayed\"} 0",
            "mip6_ha_drops_total{reason=\"truncated\"} 1",
            "mip6_ha_frames_total{path=\"net_in\"} 0",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
