//! The demo's report: what `--json` prints (one object) and the human form, plus the
//! pure computations behind it (per-phase totals, handover latency).
//!
//! **Handover latency** is measured on the UDP streams, per direction: from the new
//! care-of address's cause (the Router Advertisement heard on the new link, or the
//! hand-set address added; [`MoveTimes::done_us`]) to the first arrival after it of a
//! datagram *sent after the old address was flushed* ([`MoveTimes::started_us`]).
//! Arrivals before that moment came the old way (the MN seals with its old care-of
//! address until it sees it go, and the old link stays up a moment): they say nothing
//! of the new one. MN→CN is measured at the CN, CN→MN at the MN; `latency_ms` is the
//! larger, i.e. until traffic flows through the new CoA both ways. The datagram
//! interval (1/rate) bounds its resolution; the handover phase's peers send 2000/s
//! each way at real-time priority, paced by a timer of their own.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::nft::BaDropCounts;
use super::status::KeyEvents;
use crate::traffic::udp::{ArrivalRecord, UdpPeerReport};

/// One direction of one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionCounts {
    /// Datagrams the sender numbered (sent or attempted).
    pub sent: u64,
    /// Distinct datagrams received.
    pub received: u64,
    /// `sent - received`.
    pub lost: u64,
    /// Extra copies received.
    pub duplicated: u64,
    /// Received out of order.
    pub reordered: u64,
    /// Sends that failed at the sender (no route, unreachable).
    pub send_errors: u64,
}

impl DirectionCounts {
    /// The counts of the stream from `sender` to `receiver`: loss is what the sender
    /// numbered and the receiver never saw, exact even when the end message was lost.
    pub fn between(sender: &UdpPeerReport, receiver: &UdpPeerReport) -> DirectionCounts {
        DirectionCounts {
            sent: sender.sent,
            received: receiver.rx.received,
            lost: sender.sent.saturating_sub(receiver.rx.received),
            duplicated: receiver.rx.duplicated,
            reordered: receiver.rx.reordered,
            send_errors: sender.send_errors,
        }
    }
}

/// One traffic phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseReport {
    /// `steady`, `rekey`, `ba_loss`, `handover` or `ha_restart`.
    pub name: String,
    /// Seconds of sending.
    pub secs: f64,
    /// Both directions: datagrams sent.
    pub sent: u64,
    /// Both directions: received.
    pub received: u64,
    /// Both directions: lost.
    pub lost: u64,
    /// Both directions: duplicated.
    pub duplicated: u64,
    /// Both directions: reordered.
    pub reordered: u64,
    /// MN (home address) → CN.
    pub mn_to_cn: DirectionCounts,
    /// CN → MN (home address).
    pub cn_to_mn: DirectionCounts,
    /// Key generations the MN received during the phase, by kind.
    pub mn_key_events: KeyEvents,
}

impl PhaseReport {
    /// A phase's report from its two peers' reports.
    pub fn new(name: &str, secs: f64, mn: &UdpPeerReport, cn: &UdpPeerReport) -> PhaseReport {
        let up = DirectionCounts::between(mn, cn);
        let down = DirectionCounts::between(cn, mn);
        PhaseReport {
            name: name.to_owned(),
            secs,
            sent: up.sent + down.sent,
            received: up.received + down.received,
            lost: up.lost + down.lost,
            duplicated: up.duplicated + down.duplicated,
            reordered: up.reordered + down.reordered,
            mn_to_cn: up,
            cn_to_mn: down,
            mn_key_events: KeyEvents::default(),
        }
    }
}

/// One move of the MN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoverReport {
    /// Interface left (`mn-fg1`).
    pub from: String,
    /// Interface joined.
    pub to: String,
    /// Until the first packet through the new CoA both ways (see the module doc);
    /// null if a direction never recovered before the next move or the phase's end.
    pub latency_ms: Option<f64>,
    /// MN→CN part.
    pub uplink_ms: Option<f64>,
    /// CN→MN part (through the HA: needs the HA's binding updated).
    pub downlink_ms: Option<f64>,
    /// From the old address flushed to the new address's cause: the Router
    /// Advertisement heard on the new link, or the hand-set address added.
    pub move_ms: f64,
    /// What the latency counts from: `router_advertisement` or `address_added`.
    #[serde(default)]
    pub trigger: String,
}

/// The first arrival at or after `since` (the new care-of address usable) of a
/// datagram sent in `[sent_from, sent_before)`, as microseconds after `since`.
/// Arrivals before `since` came the old way, still up while the move began (the
/// MN's datagrams leave through the old link until it goes down): they say nothing
/// of the new care-of address.
pub fn recovery_us(
    arrivals: &[ArrivalRecord],
    sent_from: u64,
    sent_before: u64,
    since: u64,
) -> Option<u64> {
    arrivals
        .iter()
        .filter(|a| (sent_from..sent_before).contains(&a.sent_us()) && a.received_us() >= since)
        .map(|a| a.received_us() - since)
        .min()
}

/// Times of one move, µs since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveTimes {
    /// The old care-of address was flushed.
    pub started_us: u64,
    /// The new care-of address's cause: the Router Advertisement arrived, or the
    /// hand-set address was added.
    pub done_us: u64,
}

/// Latencies of one move from the phase's arrivals; `next_move_us` bounds the window.
pub fn handover_latency(
    from: &str,
    to: &str,
    times: MoveTimes,
    next_move_us: u64,
    mn: &UdpPeerReport,
    cn: &UdpPeerReport,
) -> HandoverReport {
    let ms = |us: Option<u64>| us.map(|u| u as f64 / 1000.0);
    let up = recovery_us(&cn.arrivals, times.started_us, next_move_us, times.done_us);
    let down = recovery_us(&mn.arrivals, times.started_us, next_move_us, times.done_us);
    HandoverReport {
        from: from.to_owned(),
        to: to.to_owned(),
        latency_ms: ms(up.zip(down).map(|(u, d)| u.max(d))),
        uplink_ms: ms(up),
        downlink_ms: ms(down),
        move_ms: times.done_us.saturating_sub(times.started_us) as f64 / 1000.0,
        trigger: String::new(),
    }
}

/// Rekeys by kind (from the HA's `key_events`, summed over its instances).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyCounts {
    /// Initializations.
    pub init: u64,
    /// Updates (new generations).
    pub update: u64,
    /// Resends of a generation after a lost Key Distribution.
    pub resend: u64,
}

impl From<KeyEvents> for RekeyCounts {
    fn from(k: KeyEvents) -> RekeyCounts {
        RekeyCounts {
            init: k.initialization,
            update: k.update,
            resend: k.resend,
        }
    }
}

/// Registration counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationCounts {
    /// BUs the HA accepted (all instances).
    pub accepted: u64,
    /// BUs the HA refused (all instances).
    pub refused: u64,
    /// BUs the MN sent.
    pub mn_bu_sent: u64,
    /// BAs the MN received.
    pub mn_ba_received: u64,
    /// Care-of address changes the MN saw.
    pub mn_handovers: u64,
}

/// The BA-loss phase's router counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaLossReport {
    /// Share of the HA's RH2 packets dropped, %.
    pub drop_percent: u8,
    /// Counters of the router's nft rules.
    #[serde(flatten)]
    pub counts: BaDropCounts,
    /// Resends the HA made during the phase.
    pub resends: u64,
}

/// The HA restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HaRestartReport {
    /// A failover in a home agent pair (`--ha-pair`), not a restart.
    #[serde(default)]
    pub failover: bool,
    /// From `kill -9` to the new instance's (or the standby's) "ready".
    pub down_ms: f64,
    /// ESP frames seen twice on one router interface with the same (source, SPI,
    /// sequence number): a repeated AES-GCM nonce (RFC 4106 §3.1); `None` without the
    /// router's capture or tshark.
    #[serde(default)]
    pub repeated_nonces: Option<u64>,
    /// Persistence was on.
    pub persistence: bool,
    /// The new instance had the MN's binding right after start (from its state).
    pub binding_restored: bool,
    /// The MN went back to its init key (key initializations it received during the
    /// phase).
    pub mn_reinitializations: u64,
}

/// The `return_home` phase (RFC 6275 §11.5.4): the MN moves onto its home link and
/// away again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReturnHomeReport {
    /// From the move onto the home link to the MN's status saying `at-home` (its
    /// deregistration acknowledged), ms; `None` if it never did.
    pub at_home_ms: Option<f64>,
    /// The HA listed no binding for the home address once the MN was at home.
    pub deregistered_at_ha: bool,
    /// The MN's home address was on its home-link interface while at home.
    pub home_address_on_link: bool,
    /// Key initializations the MN received during the phase (returning home must not
    /// touch the keys).
    pub mn_reinitializations: u64,
    /// Datagrams lost during the phase, both ways. Most are lost on leaving home:
    /// with no binding left, the registration from the foreign link is a first one,
    /// which the HA answers only after Duplicate Address Detection (RFC 6275 §10.3.1,
    /// `dad_transmits` probes one RetransTimer apart).
    pub lost: u64,
}

/// A pass/fail check of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// The values behind it.
    pub detail: String,
}

/// Everything the demo reports; `--json` prints it as one object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DemoReport {
    /// The lab's namespace prefix.
    pub lab: String,
    /// The output directory.
    pub out_dir: String,
    /// Registration counters.
    pub registrations: RegistrationCounts,
    /// How the MN was moved: `router_advertisements` (links switched under radvd) or
    /// `hand_set_addresses`.
    #[serde(default)]
    pub movement: String,
    /// Datagrams per second each way in the handover phase: its latencies are first
    /// arrivals, so they are measured to within one interval (1 / this rate).
    #[serde(default)]
    pub handover_rate_pps: u32,
    /// Every move, in order.
    pub handovers: Vec<HandoverReport>,
    /// Rekeys by kind, from the HA.
    pub rekeys: RekeyCounts,
    /// Rekeys by kind as the MN counted them.
    pub rekeys_mn: RekeyCounts,
    /// The traffic phases, in order.
    pub phases: Vec<PhaseReport>,
    /// TCP goodput MN→CN through the tunnel, Mbit/s.
    pub goodput_mbps: f64,
    /// The BA-loss phase.
    pub ba_loss: BaLossReport,
    /// The HA restart.
    pub ha_restart: HaRestartReport,
    /// The return home.
    pub return_home: ReturnHomeReport,
    /// Capture files (`.pcapng` and their `.esp_sa` key files).
    pub captures: Vec<String>,
    /// Checks of what the run should show.
    pub checks: Vec<Check>,
}

impl DemoReport {
    /// Whether every check held.
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The checks of a finished run: no loss in `steady`, `rekey` and `ba_loss` (the
    /// point of the two-generation keys), at least two updates in `rekey`, BAs
    /// actually dropped in `ba_loss`, every handover recovered, no re-initialization
    /// across the HA restart with persistence, goodput above zero.
    pub fn add_checks(&mut self) {
        let mut checks = Vec::new();
        for p in &self.phases {
            if ["steady", "rekey", "ba_loss"].contains(&p.name.as_str()) {
                checks.push(Check {
                    name: format!("no loss in {}", p.name),
                    ok: p.lost == 0 && p.sent > 0,
                    detail: format!("sent {} received {} lost {}", p.sent, p.received, p.lost),
                });
            }
            if p.name == "rekey" {
                checks.push(Check {
                    name: "at least 2 key updates in rekey".into(),
                    ok: p.mn_key_events.update >= 2,
                    detail: format!("MN received {} updates", p.mn_key_events.update),
                });
            }
        }
        if self.phases.iter().any(|p| p.name == "ba_loss") {
            checks.push(Check {
                name: "BAs dropped in ba_loss".into(),
                ok: self.ba_loss.counts.dropped > 0,
                detail: format!(
                    "{} of {} dropped, {} resends",
                    self.ba_loss.counts.dropped, self.ba_loss.counts.seen, self.ba_loss.resends
                ),
            });
        }
        for h in &self.handovers {
            if self.movement == "router_advertisements" {
                checks.push(Check {
                    name: format!(
                        "care-of address from a Router Advertisement after {} -> {}",
                        h.from, h.to
                    ),
                    ok: h.trigger == "router_advertisement",
                    detail: format!("trigger {:?}", h.trigger),
                });
            }
            checks.push(Check {
                name: format!("traffic through the new CoA after {} -> {}", h.from, h.to),
                ok: h.latency_ms.is_some(),
                detail: format!(
                    "uplink {:?} ms, downlink {:?} ms",
                    h.uplink_ms, h.downlink_ms
                ),
            });
        }
        if self.phases.iter().any(|p| p.name == "return_home") {
            let r = &self.return_home;
            checks.push(Check {
                name: "deregistered on the home link".into(),
                ok: r.at_home_ms.is_some() && r.deregistered_at_ha && r.home_address_on_link,
                detail: format!(
                    "at home after {}, HA binding removed: {}, home address on the link: {}",
                    opt_ms(r.at_home_ms),
                    r.deregistered_at_ha,
                    r.home_address_on_link
                ),
            });
            checks.push(Check {
                name: "no re-initialization across the return home".into(),
                ok: r.mn_reinitializations == 0,
                detail: format!("{} initializations", r.mn_reinitializations),
            });
        }
        if let Some(n) = self.ha_restart.repeated_nonces {
            checks.push(Check {
                name: "no (SPI, sequence number) twice on the router's links".into(),
                ok: n == 0,
                detail: format!("{n} repeated"),
            });
        }
        if self.ha_restart.persistence && self.phases.iter().any(|p| p.name == "ha_restart") {
            let what = if self.ha_restart.failover {
                "failover to the standby HA"
            } else {
                "HA restart"
            };
            checks.push(Check {
                name: format!("no re-initialization across the {what}"),
                ok: self.ha_restart.mn_reinitializations == 0,
                detail: format!(
                    "{} initializations, binding restored: {}",
                    self.ha_restart.mn_reinitializations, self.ha_restart.binding_restored
                ),
            });
        }
        checks.push(Check {
            name: "TCP goodput through the tunnel".into(),
            ok: self.goodput_mbps > 0.0,
            detail: format!("{:.1} Mbit/s", self.goodput_mbps),
        });
        self.checks = checks;
    }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "none".to_owned(), |ms| format!("{ms:.1} ms"))
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mip6-lab demo report (lab {}, output {})",
            self.lab, self.out_dir
        )?;
        let r = &self.registrations;
        writeln!(
            f,
            "\nregistrations: HA accepted {} refused {}; MN sent {} BUs, got {} BAs, {} handovers",
            r.accepted, r.refused, r.mn_bu_sent, r.mn_ba_received, r.mn_handovers
        )?;
        writeln!(
            f,
            "rekeys (HA):   init {} update {} resend {}",
            self.rekeys.init, self.rekeys.update, self.rekeys.resend
        )?;
        writeln!(
            f,
            "rekeys (MN):   init {} update {} resend {}",
            self.rekeys_mn.init, self.rekeys_mn.update, self.rekeys_mn.resend
        )?;
        writeln!(
            f,
            "\n{:<11} {:>6} {:>8} {:>8} {:>6} {:>5} {:>6}   MN->CN lost  CN->MN lost",
            "phase", "secs", "sent", "received", "lost", "dup", "reord"
        )?;
        for p in &self.phases {
            writeln!(
                f,
                "{:<11} {:>6.1} {:>8} {:>8} {:>6} {:>5} {:>6}   {:>11}  {:>11}",
                p.name,
                p.secs,
                p.sent,
                p.received,
                p.lost,
                p.duplicated,
                p.reordered,
                p.mn_to_cn.lost,
                p.cn_to_mn.lost
            )?;
        }
        let cause = if self.movement == "router_advertisements" {
            "Router Advertisement on the new link"
        } else {
            "new address added"
        };
        writeln!(
            f,
            "\nhandovers ({cause} -> first packet through the new CoA; a datagram every {:.2} ms each way):",
            1000.0 / f64::from(self.handover_rate_pps.max(1))
        )?;
        for h in &self.handovers {
            writeln!(
                f,
                "  {} -> {}: {} (uplink {}, downlink {}; move took {:.1} ms)",
                h.from,
                h.to,
                opt_ms(h.latency_ms),
                opt_ms(h.uplink_ms),
                opt_ms(h.downlink_ms),
                h.move_ms
            )?;
        }
        writeln!(
            f,
            "\nBA loss: {} % asked, {} of {} HA RH2 packets dropped, {} resends",
            self.ba_loss.drop_percent,
            self.ba_loss.counts.dropped,
            self.ba_loss.counts.seen,
            self.ba_loss.resends
        )?;
        writeln!(
            f,
            "{}: down {:.0} ms, persistence {}, binding restored {}, MN re-initializations {}, repeated nonces on the router's links {}",
            if self.ha_restart.failover {
                "HA failover (kill -9 of the active one)"
            } else {
                "HA restart"
            },
            self.ha_restart.down_ms,
            self.ha_restart.persistence,
            self.ha_restart.binding_restored,
            self.ha_restart.mn_reinitializations,
            self.ha_restart
                .repeated_nonces
                .map_or_else(|| "not checked".to_owned(), |n| n.to_string())
        )?;
        writeln!(
            f,
            "return home: at home after {}, HA binding removed {}, home address on the link {}, MN re-initializations {}, {} datagrams lost\n  (most on leaving home: a first registration again, held for the HA's Duplicate Address Detection, RFC 6275 §10.3.1, one RetransTimer)",
            opt_ms(self.return_home.at_home_ms),
            self.return_home.deregistered_at_ha,
            self.return_home.home_address_on_link,
            self.return_home.mn_reinitializations,
            self.return_home.lost
        )?;
        writeln!(
            f,
            "TCP goodput MN->CN through the tunnel: {:.1} Mbit/s",
            self.goodput_mbps
        )?;
        writeln!(f, "\ncaptures:")?;
        for c in &self.captures {
            writeln!(f, "  {c}")?;
        }
        writeln!(f, "\nchecks:")?;
        for c in &self.checks {
            writeln!(
                f,
                "  [{}] {} ({})",
                if c.ok { "ok" } else { "FAIL" },
                c.name,
                c.detail
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::account::StreamCounts;

    fn peer(sent: u64, received: u64, arrivals: Vec<ArrivalRecord>) -> UdpPeerReport {
        UdpPeerReport {
            sent,
            rx: StreamCounts {
                received,
                ..StreamCounts::default()
            },
            arrivals,
            ..UdpPeerReport::default()
        }
    }

    #[test]
    fn phase_totals_add_both_directions() {
        let mn = peer(100, 98, vec![]);
        let cn = peer(100, 100, vec![]);
        let p = PhaseReport::new("handover", 5.0, &mn, &cn);
        assert_eq!((p.sent, p.received, p.lost), (200, 198, 2));
        assert_eq!(p.mn_to_cn.lost, 0);
        assert_eq!(p.cn_to_mn.lost, 2);
    }

    #[test]
    fn latency_is_first_datagram_sent_after_the_move() {
        // Move began at 1000 µs, done at 1500 µs. The MN received an old datagram at
        // 1200 (sent at 900: before the move, ignored) and the first new one at 41500.
        let mn = peer(
            0,
            0,
            vec![
                ArrivalRecord(1, 900, 1200),
                ArrivalRecord(5, 30_000, 41_500),
                ArrivalRecord(6, 35_000, 42_000),
                ArrivalRecord(9, 90_000, 90_100), // after the next move: outside
            ],
        );
        let cn = peer(0, 0, vec![ArrivalRecord(3, 1_100, 21_500)]);
        let h = handover_latency(
            "mn-fg1",
            "mn-fg2",
            MoveTimes {
                started_us: 1000,
                done_us: 1500,
            },
            80_000,
            &mn,
            &cn,
        );
        assert_eq!(h.downlink_ms, Some(40.0));
        assert_eq!(h.uplink_ms, Some(20.0));
        assert_eq!(h.latency_ms, Some(40.0));
        assert_eq!(h.move_ms, 0.5);
        let none = handover_latency(
            "a",
            "b",
            MoveTimes {
                started_us: 1000,
                done_us: 1500,
            },
            80_000,
            &peer(0, 0, vec![]),
            &cn,
        );
        assert_eq!((none.latency_ms, none.downlink_ms), (None, None));
        // Arrivals before the new address came the old way: not counted.
        assert_eq!(
            recovery_us(
                &[ArrivalRecord(0, 10, 20), ArrivalRecord(1, 30, 70)],
                0,
                100,
                50
            ),
            Some(20)
        );
        assert_eq!(recovery_us(&[ArrivalRecord(0, 10, 20)], 0, 100, 50), None);
    }

    #[test]
    fn json_report_has_the_required_shape() {
        let mut report = DemoReport {
            handovers: vec![HandoverReport {
                from: "mn-fg1".into(),
                to: "mn-fg2".into(),
                latency_ms: Some(12.5),
                uplink_ms: Some(3.0),
                downlink_ms: Some(12.5),
                move_ms: 9.0,
                trigger: "router_advertisement".into(),
            }],
            rekeys: RekeyCounts {
                init: 1,
                update: 7,
                resend: 1,
            },
            phases: [
                "steady",
                "rekey",
                "ba_loss",
                "handover",
                "return_home",
                "ha_restart",
            ]
            .iter()
            .map(|n| PhaseReport::new(n, 1.0, &peer(10, 10, vec![]), &peer(10, 10, vec![])))
            .collect(),
            goodput_mbps: 512.0,
            captures: vec!["/out/ha.pcapng".into(), "/out/ha.pcapng.esp_sa".into()],
            return_home: ReturnHomeReport {
                at_home_ms: Some(4.5),
                deregistered_at_ha: true,
                home_address_on_link: true,
                mn_reinitializations: 0,
                lost: 3,
            },
            ..DemoReport::default()
        };
        report.add_checks();
        let v = serde_json::to_value(&report).unwrap();
        let h = &v["handovers"][0];
        for key in ["from", "to", "latency_ms"] {
            assert!(h.get(key).is_some(), "handovers[0].{key}");
        }
        for key in ["init", "update", "resend"] {
            assert!(v["rekeys"][key].is_u64(), "rekeys.{key}");
        }
        let names: Vec<&str> = v["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                for key in ["sent", "received", "lost", "duplicated"] {
                    assert!(p[key].is_u64(), "phase {key}");
                }
                p["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "steady",
                "rekey",
                "ba_loss",
                "handover",
                "return_home",
                "ha_restart"
            ]
        );
        assert_eq!(v["return_home"]["at_home_ms"], 4.5);
        assert_eq!(v["return_home"]["deregistered_at_ha"], true);
        for name in [
            "deregistered on the home link",
            "no re-initialization across the return home",
        ] {
            assert!(
                report.checks.iter().any(|c| c.name == name && c.ok),
                "{name}: {:?}",
                report.checks
            );
        }
        assert!(v["goodput_mbps"].is_f64());
        assert_eq!(v["captures"].as_array().unwrap().len(), 2);
        // Round trip, and the text form mentions every phase.
        let back: DemoReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, report);
        let text = report.to_string();
        for n in [
            "steady",
            "rekey",
            "ba_loss",
            "handover",
            "ha_restart",
            "return home: at home after 4.5 ms",
            "512.0 Mbit/s",
        ] {
            assert!(text.contains(n), "{n} missing in\n{text}");
        }
        // Without key updates in `rekey` its check fails.
        assert!(!report.all_ok());
    }
}
