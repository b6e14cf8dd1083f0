//! `mip6-lab swarm` small, as CI runs it (issue 13: "the swarm at 2 000 MNs with exact
//! counts"): 2 000 mobile node engines in the lab's MN namespace against the
//! debug-built `mip6-ha`, through init, update and refresh. The counts are asserted,
//! not the speed. Root-only (skipped loudly otherwise, failed under `CI=true`).
//!
//! One test in this file on purpose: it checks that no namespace of this process is
//! left, which a lab of a parallel test would spoil.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mip6_lab::list_namespaces;
use mip6_lab::prereq::require_lab;
use mip6_lab::swarm::driver::Phase;
use mip6_lab::swarm::{self, SwarmOptions};

const EXE: &str = env!("CARGO_BIN_EXE_mip6-lab");
const NODES: u32 = 2000;

/// `target/<profile>/`, with `mip6-ha` built there if it is not yet.
fn bin_dir() -> PathBuf {
    let dir = Path::new(EXE)
        .parent()
        .expect("target/<profile>")
        .to_owned();
    if !dir.join("mip6-ha").is_file() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--bins", "-p", "mip6-ha-daemon"])
            .env("CARGO_TARGET_DIR", dir.parent().expect("target dir"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building mip6-ha failed");
    }
    dir
}

#[test]
fn a_swarm_of_2000_registers_rekeys_and_refreshes_with_exact_counts() {
    if !require_lab("a_swarm_of_2000_registers_rekeys_and_refreshes_with_exact_counts") {
        return;
    }
    let out = tempfile::Builder::new()
        .prefix("mip6-swarm-")
        .tempdir()
        .expect("a temporary directory");
    let mut opts = SwarmOptions::new(EXE.into());
    opts.count = NODES;
    opts.window = 256;
    opts.out_dir = out.path().to_owned();
    opts.bin_dir = Some(bin_dir());
    opts.stall_timeout = Duration::from_secs(15);
    let started = Instant::now();
    let report = swarm::run(&opts).expect("the swarm runs");
    eprintln!("{report}");
    eprintln!("whole run: {:.1} s", started.elapsed().as_secs_f64());

    let n = u64::from(NODES);
    let c = report.checks;
    assert_eq!(c.expected, n);
    assert_eq!(c.bindings, n, "one binding per node in the HA's cache");
    assert_eq!(c.key_initializations, n, "one key initialization per node");
    assert!(
        c.key_updates >= n,
        "a key update per node: {}",
        c.key_updates
    );
    assert_eq!(c.registered, n, "every engine registered");
    assert_eq!(
        c.common_newest_key, n,
        "every node holds the HA's newest key"
    );
    let phases: Vec<Phase> = report.phases.iter().map(|p| p.phase).collect();
    assert_eq!(phases, Phase::ALL);
    for p in &report.phases {
        assert_eq!(p.count, n, "{:?} complete", p.phase);
        assert_eq!(p.refusals, 0, "{:?}: no refusal", p.phase);
        assert!(p.latency.p50_ms.is_some(), "{:?} measured", p.phase);
        assert!(p.ha.is_some(), "{:?}: the HA was sampled", p.phase);
    }
    assert!(report.ha_startup_s > 0.0 && report.ha_rss_end_kib > 0);
    assert!(report.all_ok());

    let prefix = format!("mip6-{}-", std::process::id());
    let left: Vec<String> = list_namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|ns| ns.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}
