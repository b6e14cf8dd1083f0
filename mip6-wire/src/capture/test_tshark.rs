//! Test support: run the `tshark` binary on files the tests wrote.
//!
//! When `tshark` is not installed the calling test is skipped LOUDLY (a line on
//! stderr), unless the environment has `CI=true`, where a missing tshark fails the
//! test: CI must prove that Wireshark reads what we write.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A `tshark` that was found on `PATH`.
pub(crate) struct Tshark;

/// Finds `tshark`, or explains on stderr why `test` is skipped (panics under `CI=true`).
pub(crate) fn tshark(test: &str) -> Option<Tshark> {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(Tshark);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: tshark is not installed, and CI=true requires it");
    }
    eprintln!("SKIPPED {test}: tshark is not installed (apt-get install tshark); set CI=true to make this a failure");
    None
}

impl Tshark {
    /// Runs `tshark ARGS`, asserts it exited 0, returns its stdout.
    pub(crate) fn run(&self, args: &[&str]) -> String {
        Self::finish(args, Command::new("tshark").args(args))
    }

    /// Like [`Tshark::run`] with one environment variable set.
    pub(crate) fn run_with_env(&self, args: &[&str], key: &str, value: &Path) -> String {
        Self::finish(args, Command::new("tshark").args(args).env(key, value))
    }

    fn finish(args: &[&str], cmd: &mut Command) -> String {
        let out = cmd.output().expect("tshark runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "tshark {args:?} failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// A file name in the temp directory unique to this process and `name`.
pub(crate) fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mip6-wire-{}-{name}", std::process::id()))
}
