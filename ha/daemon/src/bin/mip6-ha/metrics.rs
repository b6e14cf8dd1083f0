//! The Prometheus text the metrics endpoint serves (daemon contract "Prometheus metric
//! names"): `mip6_ha_bindings`, `mip6_ha_key_events_total{kind}`,
//! `mip6_ha_drops_total{reason}`, `mip6_ha_frames_total{path}`,
//! `mip6_ha_registrations_total{result}`. Drop reasons are named as in the status
//! ([`crate::status::drops`]).

use mip6_daemon::metrics::Text;
use mip6_ha::{Counters, DropReason};

use crate::stats::{Stats, KEY_EVENT_NAMES};
use crate::status;

/// The exposition text for the current counters; `bindings` is the number of live
/// bindings.
pub fn render(bindings: usize, counters: &Counters, stats: &Stats) -> String {
    let mut text = Text::new().gauge(
        "mip6_ha_bindings",
        "Bindings in the binding cache (RFC 6275 §10.3.1).",
        &[],
        bindings as f64,
    );
    for (name, n) in KEY_EVENT_NAMES.iter().zip(stats.key_events) {
        text = text.counter(
            "mip6_ha_key_events_total",
            "Key distributions by kind: initialization, update, resend.",
            &[("kind", name)],
            n,
        );
    }
    // Every engine reason, zero or not, so each series exists from the start.
    let engine_drops = DropReason::ALL
        .iter()
        .map(|&r| (status::drop_name(r), counters.dropped(r)));
    let driver_drops = stats.drops.iter().map(|(d, n)| (d.name().to_owned(), *n));
    for (reason, n) in engine_drops.chain(driver_drops) {
        text = text.counter(
            "mip6_ha_drops_total",
            "Frames and packets dropped, by reason.",
            &[("reason", &reason)],
            n,
        );
    }
    let f = stats.frames;
    for (path, n) in f.by_path() {
        text = text.counter(
            "mip6_ha_frames_total",
            "Frames by path: network in/out, TUN in/out.",
            &[("path", path)],
            n,
        );
    }
    for (result, n) in [
        ("accepted", counters.bu_accepted),
        ("refused", status::refused(counters)),
    ] {
        text = text.counter(
            "mip6_ha_registrations_total",
            "Binding Updates accepted and refused.",
            &[("result", result)],
            n,
        );
    }
    text.finish()
}
