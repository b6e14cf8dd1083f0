//! Breadth-first, depth-bounded exhaustive exploration of [`World`] with
//! fingerprint dedup. BFS visits each state first at its least depth, so dedup is
//! sound under the depth bound, and a failure comes with a shortest trace.
//!
//! Every state reached (new or not) is checked for the path's safety violations
//! (no nonce reuse, SPIs name keys 1:1); every *new* state for invariant 1 (key views
//! and a real data frame each way) and for bounded liveness (a heal run, see
//! [`World::heal`]).

use core::time::Duration;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::world::{Action, ModelConfig, World};

/// How far to look.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Actions from the start (the initial BU in flight is depth 0).
    pub depth: usize,
    /// Actions a heal run may take before it must have converged.
    pub heal_steps: usize,
}

/// Which property failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// No (key, sequence) sealed twice; SPIs name keys 1:1 (docs/architecture.md invariant 2).
    NoNonceReuse,
    /// Each side's transmit key among the other's accepted keys, and data opens both
    /// ways, whenever both hold dynamic keys (docs/architecture.md invariant 1).
    KeyConcord,
    /// A heal run converges to a common newest key and a registration (docs/architecture.md
    /// invariant 3, bounded).
    Heal,
}

/// A property that failed, with the shortest trace to it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The property.
    pub property: Property,
    /// What went wrong.
    pub message: String,
    /// The actions from the start, each with what it did.
    pub trace: Vec<String>,
}

/// What an exploration saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Depth explored to.
    pub depth: usize,
    /// Distinct states (fingerprints), the start included.
    pub states: usize,
    /// Transitions taken (actions applied to explored states).
    pub transitions: usize,
    /// New states per depth.
    pub per_depth: Vec<usize>,
    /// States in which both sides hold dynamic keys (invariant 1 checked on frames).
    pub in_scope: usize,
    /// States outside that scope where a transmit key is not accepted by the peer
    /// (after a key drop or a stateless HA restart): expected, counted.
    pub discord_out_of_scope: usize,
    /// Longest heal run (actions) and the longest simulated time one took.
    pub max_heal_steps: usize,
    /// See `max_heal_steps`.
    pub max_heal_time: Duration,
    /// Wall time.
    pub wall: Duration,
    /// The first failure, if any (exploration stops there).
    pub failure: Option<Failure>,
}

/// The trace of `actions` from the start, described step by step.
pub fn describe(config: ModelConfig, actions: &[Action]) -> Vec<String> {
    let mut w = World::new(config);
    let mut out = vec!["start: MN at its care-of address, initialization BU in flight".into()];
    for (i, &a) in actions.iter().enumerate() {
        out.push(format!("{:>2}. {}", i + 1, w.apply(a)));
    }
    out
}

fn fail(config: ModelConfig, property: Property, message: String, trace: &[Action]) -> Failure {
    Failure {
        property,
        message,
        trace: describe(config, trace),
    }
}

/// Checks a new state (built by `w`, consumed): invariant 1 and the heal run.
fn check_new(
    config: ModelConfig,
    bounds: Bounds,
    trace: &[Action],
    mut w: World,
    report: &mut Report,
    healed: &mut HashMap<u64, (usize, Duration)>,
) -> Result<(), Failure> {
    let c = w.concord();
    if c.in_scope {
        report.in_scope += 1;
        if !(c.mn_to_ha && c.ha_to_mn) {
            return Err(fail(
                config,
                Property::KeyConcord,
                format!("transmit key not accepted by the peer: {c:?}"),
                trace,
            ));
        }
        if let Err(e) = w.data_trial(false) {
            let property = if w.violations.is_empty() {
                Property::KeyConcord
            } else {
                Property::NoNonceReuse
            };
            return Err(fail(config, property, e, trace));
        }
    } else if !(c.mn_to_ha && c.ha_to_mn) {
        report.discord_out_of_scope += 1;
    }
    let mut w = World::replay(config, trace);
    match w.heal(bounds.heal_steps, healed) {
        Ok(h) => {
            report.max_heal_steps = report.max_heal_steps.max(h.steps);
            report.max_heal_time = report.max_heal_time.max(h.elapsed);
            Ok(())
        }
        Err(e) => {
            let property = if w.violations.is_empty() {
                Property::Heal
            } else {
                Property::NoNonceReuse
            };
            let mut f = fail(config, property, e, trace);
            f.trace
                .push("then the heal run (fair delivery, no loss, no crash) fails".into());
            Err(f)
        }
    }
}

/// Explores every state within `bounds.depth` actions of the start.
pub fn explore(config: ModelConfig, bounds: Bounds) -> Report {
    let started = Instant::now();
    let mut report = Report {
        depth: bounds.depth,
        ..Report::default()
    };
    let mut visited: HashSet<u64> = HashSet::new();
    let mut healed = HashMap::new();
    let root = World::new(config);
    visited.insert(root.fingerprint());
    report.states = 1;
    report.per_depth.push(1);
    let enabled = root.enabled();
    if let Err(f) = check_new(config, bounds, &[], root, &mut report, &mut healed) {
        report.failure = Some(f);
        report.wall = started.elapsed();
        return report;
    }
    let mut frontier: Vec<(Vec<Action>, Vec<Action>)> = vec![(Vec::new(), enabled)];
    for depth in 1..=bounds.depth {
        let mut next = Vec::new();
        let before = report.states;
        for (trace, actions) in &frontier {
            for &a in actions {
                report.transitions += 1;
                let mut child = trace.clone();
                child.push(a);
                let w = World::replay(config, &child);
                if let Some(v) = w.violations.first() {
                    report.failure = Some(fail(config, Property::NoNonceReuse, v.clone(), &child));
                    report.wall = started.elapsed();
                    return report;
                }
                if !visited.insert(w.fingerprint()) {
                    continue;
                }
                report.states += 1;
                let enabled = w.enabled();
                if let Err(f) = check_new(config, bounds, &child, w, &mut report, &mut healed) {
                    report.failure = Some(f);
                    report.wall = started.elapsed();
                    return report;
                }
                if depth < bounds.depth {
                    next.push((child, enabled));
                }
            }
        }
        report.per_depth.push(report.states - before);
        frontier = next;
    }
    report.wall = started.elapsed();
    report
}
