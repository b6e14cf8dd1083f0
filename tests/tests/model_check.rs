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
const DEPTH: usize = 6;
/// Heal runs must converge within this many actions (deliveries and ticks).
const HEAL_STEPS: usize = 40;

fn run(mode: RequestMode) -> Report {
    let depth = std::env::var("MIP6_MODEL_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(DEPTH);
    let bounds = Bounds {
        depth,
        heal_steps: HEAL_STEPS,
    };
    let report = explore(ModelConfig::new(mode), bounds);
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
    let report = run(mode);
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
