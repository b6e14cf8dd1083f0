//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`: seeds, crash
//! regressions and a small minimized set) through the same target bodies cargo fuzz
//! runs (`mip6_tests::fuzz_checks`), under plain `cargo test`.
//!
//! `MIP6_WRITE_SEEDS=1 cargo test -p mip6-tests --test fuzz_corpus` (re)writes the
//! seed files from `fuzz_checks::seeds()`; without it the test checks they are
//! committed unchanged.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use mip6_tests::fuzz_checks::{seeds, TARGETS};
use mip6_tests::prerequisites::workspace_root;

fn corpus_dir(target: &str) -> PathBuf {
    workspace_root().join("fuzz").join("corpus").join(target)
}

/// Every file of every target's corpus runs through the target without a failed
/// property; each corpus directory holds at least the target's seeds.
#[test]
fn corpus_replays() {
    let mut failures = Vec::new();
    for (target, body) in TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let seeds_for = seeds().iter().filter(|s| s.0 == *target).count();
        assert!(seeds_for > 0, "{target}: no seeds");
        assert!(
            files.len() >= seeds_for,
            "{target}: {} files in {}, fewer than its {seeds_for} seeds",
            files.len(),
            dir.display()
        );
        for f in files {
            let data = fs::read(&f).expect("read corpus file");
            if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
                failures.push(f.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "corpus files failing: {failures:#?}");
}

/// The seeds `fuzz_checks::seeds()` builds are the ones committed, octet for octet.
#[test]
fn seeds_are_committed() {
    let write = std::env::var("MIP6_WRITE_SEEDS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (target, name, bytes) in seeds() {
        assert!(
            TARGETS.iter().any(|t| t.0 == target),
            "seed {name} for unknown target {target}"
        );
        let path = corpus_dir(target).join(&name);
        if write {
            fs::create_dir_all(corpus_dir(target)).expect("create corpus dir");
            fs::write(&path, &bytes).expect("write seed");
        } else if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "seeds missing or stale (rerun with MIP6_WRITE_SEEDS=1): {stale:#?}"
    );
}

/// The seeds themselves pass every target's properties (independently of the files).
#[test]
fn seeds_pass_their_target() {
    for (target, name, bytes) in seeds() {
        let body = TARGETS
            .iter()
            .find(|t| t.0 == target)
            .expect("known target")
            .1;
        if catch_unwind(AssertUnwindSafe(|| body(&bytes))).is_err() {
            panic!("seed {target}/{name} fails its target");
        }
    }
}

/// Each seed name is unique within its target (a later seed would overwrite a file).
#[test]
fn seed_names_unique() {
    let mut names: Vec<_> = seeds().into_iter().map(|(t, n, _)| (t, n)).collect();
    let before = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), before);
}
