//! Deterministic simulation of one home agent and 2–3 mobile nodes over a network
//! that loses, duplicates, delays and reorders, with HA crashes, MN restarts, moves,
//! replayed and forged BUs (see `mip6_tests::sim` for what is checked after every
//! step). 10 000 seeds, split over four tests so they run in parallel; the same
//! 10 000 seeds again in which the HA's first crash loses its whole store
//! (`Scenario::StoreLost`, issue 12 item 9), also in four tests; and 5 000 seeds in
//! which each mobile node also returns home once or twice during the faults and
//! leaves again (`Scenario::HomeVisits`, issue 11: RFC 6275 §11.5.4, §10.3.2), in two
//! tests. Each shard also asserts that its fault paths fired (a floor per path,
//! `floor`).
//!
//! A failure names its seed; replay it with a trace of every step:
//! `MIP6_SIM_SEED=<seed> [MIP6_SIM_SCENARIO=store-lost|home-visits] cargo test -p mip6-tests --test simulation replay_seed -- --nocapture`

use std::time::Instant;

use mip6_tests::sim::{run_seed, run_seeds, Scenario};

/// Seeds per shard.
const PER_SHARD: u64 = 2_500;

/// What a shard of 2 500 seeds must show of a fault path.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// At least this many times.
    AtLeast(u64),
    /// Never.
    Never,
    /// Once per seed.
    EverySeed,
    /// Printed, not asserted.
    Reported,
}

/// The floor of each fault path (the names of `Totals::fault_paths`) per shard of
/// 2 500 seeds: about a third of the smallest figure the shards of the scenario
/// measured (every shard prints its own), so that a change which keeps a fault path
/// from firing fails, and a change of the draws does not.
///
/// Measured per shard, faults / store-lost (minimum of four): HA key resends 4 483 /
/// 3 695, updates 25 594 / 23 831, MN key drops 3 950 / 6 045, re-initializations
/// 11 240 / 15 442, HA crashes 2 258 / 3 128, restores from full records 1 147 / 325,
/// from the durable minimum 1 111 / 303, MN restarts 6 182 / 6 182, moves 9 311 /
/// 9 311, data under a restored key 3 168 / 258, replayed BUs dropped as replays
/// 6 208 / 4 949, BUs under a guessed key dropped 2 912 / 2 833, data without a key
/// while one end had lost state 14 255 / 32 351, sequence numbers sealed again under
/// a key 0 / 11 193, stale initializations 0 / 0–1, store losses 0 / 2 500.
///
/// `home-visits` draws what `faults` draws and is held to its floors; its own paths,
/// measured in its two shards: home visits 9 317 / 9 395, deregistrations
/// acknowledged 6 206 / 6 319 (a visit sees none when the node restarts at home before
/// the answer, or the faults or a down HA outlast the stay).
fn floor(scenario: Scenario, path: &str) -> Expect {
    use Expect::*;
    // Home visits draw what the faults draw, and more: the same floors.
    let faults = scenario != Scenario::StoreLost;
    let visits = scenario == Scenario::HomeVisits;
    let pick = |f: u64, s: u64| AtLeast(if faults { f } else { s });
    match path {
        "home visits" | "deregistrations acknowledged" if !visits => Never,
        "home visits" => AtLeast(3_100),
        "deregistrations acknowledged" => AtLeast(2_050),
        "HA key resends" => pick(1_500, 1_200),
        "HA key updates" => pick(8_500, 7_900),
        "MN key drops" => pick(1_300, 2_000),
        "re-initializations" => pick(3_700, 5_100),
        "HA crashes" => pick(750, 1_000),
        "HA restores from full records" => pick(380, 100),
        "HA restores from the durable minimum" => pick(370, 100),
        "MN restarts" => pick(2_000, 2_000),
        "moves" => pick(3_100, 3_100),
        "data under a restored key (BRR)" => pick(1_000, 85),
        "replayed BUs dropped as replays" => pick(2_000, 1_600),
        "BUs under a guessed key dropped" => pick(950, 940),
        "data without a key, one end lost state" => pick(4_700, 10_700),
        // With the store intact the sequence marks alone keep every nonce new, and
        // every initialization answers the node's current request.
        "sequence numbers repeated under a key" if faults => Never,
        "sequence numbers repeated under a key" => AtLeast(3_700),
        "stale initializations" if faults => Never,
        // A late copy of an init BU reaching an HA that lost its store: rare (none
        // to two a shard), and no fault of the engines'.
        "stale initializations" => Reported,
        "HA store losses" if faults => Never,
        "HA store losses" => EverySeed,
        // Binding Errors answering altered BUs (RFC 6275 §9.3.1); measured 19–29 /
        // 8–18 a shard.
        "HA unprotected answers" => pick(6, 2),
        // A crash between a refresh's or a move's BA and its record's write: measured
        // 52–80 a shard (faults, store-lost, home visits).
        "HA lagging records lost" => pick(19, 19),
        // Rare (0–2 a shard): a replay drawn of that very BU before the node's next.
        "replays of a lost lagging record's BU taken" => Reported,
        other => panic!("fault path {other:?} has no floor"),
    }
}

fn shard(scenario: Scenario, k: u64) {
    let per = PER_SHARD;
    let start = Instant::now();
    let totals = run_seeds(k * per..(k + 1) * per, scenario);
    println!(
        "{} shard {k}: {} seeds in {:.1} s\n{}",
        scenario.name(),
        totals.seeds,
        start.elapsed().as_secs_f64(),
        totals.report()
    );
    let mut short = Vec::new();
    for (name, n) in totals.fault_paths() {
        let expect = floor(scenario, name);
        println!("  fault path {name}: {n} (expected {expect:?})");
        let met = match expect {
            Expect::AtLeast(min) => n >= min,
            Expect::Never => n == 0,
            Expect::EverySeed => n == totals.seeds,
            Expect::Reported => true,
        };
        if !met {
            short.push(format!("{name}: {n}, expected {expect:?}"));
        }
    }
    if let Some((seed, e)) = totals.failures.first() {
        panic!(
            "{} of {} seeds failed; first: seed {seed}: {e}\nreplay: MIP6_SIM_SEED={seed} MIP6_SIM_SCENARIO={} cargo test -p mip6-tests --test simulation replay_seed -- --nocapture\nall failing seeds: {:?}",
            totals.failures.len(),
            totals.seeds,
            scenario.name(),
            totals.failures.iter().map(|f| f.0).collect::<Vec<_>>()
        );
    }
    assert_eq!(totals.seeds, per);
    assert!(totals.max_convergence.0 <= mip6_tests::sim::convergence_bound());
    assert!(
        short.is_empty(),
        "{} shard {k}: fault paths that did not fire as expected: {short:#?}",
        scenario.name()
    );
}

#[test]
fn seeds_0() {
    shard(Scenario::Faults, 0);
}

#[test]
fn seeds_1() {
    shard(Scenario::Faults, 1);
}

#[test]
fn seeds_2() {
    shard(Scenario::Faults, 2);
}

#[test]
fn seeds_3() {
    shard(Scenario::Faults, 3);
}

#[test]
fn store_lost_0() {
    shard(Scenario::StoreLost, 0);
}

#[test]
fn store_lost_1() {
    shard(Scenario::StoreLost, 1);
}

#[test]
fn store_lost_2() {
    shard(Scenario::StoreLost, 2);
}

#[test]
fn store_lost_3() {
    shard(Scenario::StoreLost, 3);
}

#[test]
fn home_visits_0() {
    shard(Scenario::HomeVisits, 0);
}

#[test]
fn home_visits_1() {
    shard(Scenario::HomeVisits, 1);
}

/// Runs the seed in `MIP6_SIM_SEED` (a fixed one without it) of the scenario in
/// `MIP6_SIM_SCENARIO` (`faults`, the default, `store-lost` or `home-visits`) with a
/// trace of every step.
#[test]
fn replay_seed() {
    let seed = std::env::var("MIP6_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4242);
    let scenario = std::env::var("MIP6_SIM_SCENARIO")
        .ok()
        .map(|s| {
            Scenario::from_name(&s).expect("MIP6_SIM_SCENARIO: faults, store-lost or home-visits")
        })
        .unwrap_or(Scenario::Faults);
    match run_seed(seed, scenario, true) {
        Ok(o) => println!("seed {seed}: ok\n{:#?}", o.stats),
        Err(e) => panic!("seed {seed}: {e}"),
    }
}

/// 300 seeds with their totals and first failures printed (for timing, and for
/// checking that a deliberately broken engine is caught): `cargo test -p mip6-tests
/// --test simulation probe -- --ignored --nocapture`.
#[test]
#[ignore = "a by-hand diagnostic: the same seeds run in the shards"]
fn probe() {
    for scenario in [Scenario::Faults, Scenario::StoreLost, Scenario::HomeVisits] {
        let start = Instant::now();
        let totals = run_seeds(0..300, scenario);
        println!(
            "{}: {:.2} s\n{}",
            scenario.name(),
            start.elapsed().as_secs_f64(),
            totals.report()
        );
        // Failures by kind (their first words, numbers masked), with a seed of each.
        let mut kinds = std::collections::BTreeMap::<String, (u64, u64)>::new();
        for (seed, e) in &totals.failures {
            let words: Vec<&str> = e.split_whitespace().take(5).collect();
            let kind = words.join(" ").replace(|c: char| c.is_ascii_digit(), "#");
            kinds.entry(kind).or_insert((0, *seed)).0 += 1;
        }
        for (kind, (n, seed)) in kinds {
            println!("{n} × {kind}… (seed {seed})");
        }
    }
}
