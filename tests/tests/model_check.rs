//! Model check of the HA and MN engines (issue 3): every state within a fixed number of
//! actions of the start — loss, duplication, reordering, HA crashes (full record and
//! durable minimum), timers, data both ways — checked for no nonce reuse, key concord
//! (invariant 1) and bounded liveness. See `mip6_tests::model` for what is explored
//! and what a state's fingerprint covers.
//!
//! `MIP6_MODEL_DEPTH` overrides the depth (for longer runs by hand).

use mip6_tests::model::{explore, Bounds, ModelConfig, Report};
use mip6_wire::keys::RequestMode;

/// Depth run in the suite: exhaustive to this many actions from the start.
const DEPTH: usize = 7;
/// Heal runs must converge within this many actions (deliveries and ticks).
const HEAL_STEPS: usize = 40;

fn run(mode: RequestMode) -> Report {
    run_with(ModelConfig::new(mode), DEPTH)
}

fn run_with(config: ModelConfig, default_depth: usize) -> Report {
    let mode = config.mode;
    let depth = std::env::var("MIP6_MODEL_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(default_depth);
    let bounds = Bounds {
        depth,
        heal_steps: HEAL_STEPS,
    };
    let report = explore(config, bounds);
    println!(
        "{mode:?}: depth {}, {} states, {} transitions, new states per depth {:?}, \
         {} states with both sides keyed, {} out-of-scope discordant states, \
         longest heal {} actions / {:.1} s simulated, wall {:.1} s",
        report.depth,
        report.states,
        report.transitions,
        report.per_depth,
        report.in_scope,
        report.discord_out_of_scope,
        report.max_heal_steps,
        report.max_heal_time.as_secs_f64(),
        report.wall.as_secs_f64()
    );
    if let Some(f) = &report.failure {
        println!("{:?} FAILED: {}", f.property, f.message);
        for line in &f.trace {
            println!("  {line}");
        }
    }
    report
}

fn check(mode: RequestMode) {
    assert_passes(mode, run(mode));
}

fn assert_passes(mode: RequestMode, report: Report) {
    if let Some(f) = report.failure {
        panic!(
            "{mode:?}: property {:?} failed: {}\n{}",
            f.property,
            f.message,
            f.trace.join("\n")
        );
    }
    // The exploration reached the states the properties are about.
    assert!(report.states > 1000, "too few states: {}", report.states);
    assert!(
        report.in_scope > 100,
        "too few keyed states: {}",
        report.in_scope
    );
    assert!(report.max_heal_steps > 0);
}

#[test]
fn explicit_mode_model_check() {
    check(RequestMode::Explicit);
}

#[test]
fn implicit_mode_model_check() {
    check(RequestMode::Implicit);
}

/// Deeper, by hand (`cargo test -p mip6-tests --test model_check -- --ignored`):
/// signalling only (no data packets), so the same time buys two more actions.
fn deep(mode: RequestMode) {
    let mut config = ModelConfig::new(mode);
    config.max_data = 0;
    assert_passes(mode, run_with(config, 8));
}

#[test]
#[ignore = "several minutes: run by hand"]
fn explicit_mode_deep_signalling_only() {
    deep(RequestMode::Explicit);
}

#[test]
#[ignore = "several minutes: run by hand"]
fn implicit_mode_deep_signalling_only() {
    deep(RequestMode::Implicit);
}

// The checker itself: each property check sees what it is meant to see.

use std::collections::HashMap;

use mip6_tests::model::{describe, Action, Side, World};

/// Initialization BU delivered, BA delivered: both sides on generation 1.
const KEYED: [Action; 2] = [
    Action::Deliver {
        frame: 0,
        keep: false,
    },
    Action::Deliver {
        frame: 0,
        keep: false,
    },
];

#[test]
fn checker_flags_a_frame_sealed_twice() {
    let config = ModelConfig::new(RequestMode::Explicit);
    let mut w = World::new(config);
    assert!(w.violations.is_empty());
    let again = w.net[0].bytes.clone();
    w.inject(Side::Ha, again);
    assert_eq!(w.violations.len(), 1);
    assert!(
        w.violations[0].contains("NONCE REUSE"),
        "{:?}",
        w.violations
    );
}

#[test]
fn concord_holds_when_keyed_and_is_out_of_scope_after_a_stateless_restart() {
    for mode in [RequestMode::Explicit, RequestMode::Implicit] {
        let config = ModelConfig::new(mode);
        let mut w = World::replay(config, &KEYED);
        let c = w.concord();
        assert!(c.in_scope && c.mn_to_ha && c.ha_to_mn, "{mode:?}: {c:?}");
        assert!(w.converged(), "{mode:?}");
        w.apply(Action::CrashHa { durable_only: true });
        let c = w.concord();
        // The HA forgot generation 1; the MN still transmits with it.
        assert!(!c.in_scope && !c.mn_to_ha, "{mode:?}: {c:?}");
        assert!(!w.converged());
        // Fair delivery brings both back: the MN's BUs under generation 1 go
        // unanswered, it drops its keys after its resends and re-initializes.
        let healed = w.heal(40, &mut HashMap::new()).expect("heals");
        assert!(healed.steps >= 4, "{mode:?}: {healed:?}");
        assert!(healed.elapsed.as_secs() >= 10, "{mode:?}: {healed:?}");
        assert!(w.violations.is_empty(), "{:?}", w.violations);
    }
}

#[test]
fn data_opens_both_ways_once_keyed_and_traces_read() {
    let config = ModelConfig::new(RequestMode::Implicit);
    let mut w = World::replay(config, &KEYED);
    w.data_trial(true).expect("data opens both ways");
    let trace = describe(config, &KEYED);
    assert_eq!(trace.len(), 3);
    assert!(
        trace[1].contains("BU") && trace[1].contains("Consumed"),
        "{trace:?}"
    );
    assert!(
        trace[2].contains("BA") && trace[2].contains("Consumed"),
        "{trace:?}"
    );
}
