//! `mip6-lab bench`'s measuring on a real lab, for the plain path only (no daemons,
//! no boringtun) and one second: the sink must see data. Root-only (skips loudly
//! otherwise, fails under `CI=true`, see `mip6_lab::prereq`).

use std::path::PathBuf;

use mip6_lab::bench::{self, BenchOptions, Scenario};
use mip6_lab::prereq::require_lab;

const EXE: &str = env!("CARGO_BIN_EXE_mip6-lab");

#[test]
fn plain_goodput_is_measured() {
    if !require_lab("plain_goodput_is_measured") {
        return;
    }
    let mut opts = BenchOptions::new(PathBuf::from(EXE));
    opts.secs = 1;
    opts.scenarios = vec![Scenario::Plain];
    let report = bench::run(&opts).expect("bench runs");
    assert_eq!(report.runs.len(), 1, "{report}");
    let plain = &report.runs[0];
    assert_eq!(plain.name, "plain");
    assert!(plain.goodput_gbps > 0.0, "{report}");
    assert!(plain.bytes > 0, "{report}");
    assert!(plain.packets.is_some_and(|p| p > 0), "{report}");
    assert!(plain.daemons.is_empty());
    assert!(report.comparison.is_none());
    assert!(report.to_string().contains("plain"));
}
