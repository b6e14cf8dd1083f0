//! What a test needs from the machine (a tool, root), and the rule for when it is
//! missing: skip with a loud message, except under `CI=true`, where a skip is a failure.

use std::path::PathBuf;
use std::process::Command;

/// True when running under CI (`CI=true`), where no test may skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Reports a missing prerequisite: panics under CI, otherwise prints a loud skip
/// notice and returns `false` so the caller returns early.
pub fn missing(test: &str, what: &str) -> bool {
    if under_ci() {
        panic!("{test}: {what} is missing, and under CI=true a skip is a failure");
    }
    eprintln!(
        "\n!!!! SKIPPED {test}: {what} is missing (run scripts/test as root to install it) !!!!\n"
    );
    false
}

/// True when `tool` runs (`tool --version` exits 0); otherwise see [`missing`].
pub fn require_tool(test: &str, tool: &str) -> bool {
    let runs = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    runs || missing(test, tool)
}

/// True when radvd is installed ([`mip6_lab::radvd::program`]: `radvd --version`
/// exits 1, and Debian puts it in /usr/sbin); otherwise see [`missing`].
pub fn require_radvd(test: &str) -> bool {
    mip6_lab::radvd::program().is_some() || missing(test, "radvd")
}

/// True when python3 can import every module named; otherwise see [`missing`].
pub fn require_python_modules(test: &str, modules: &[&str]) -> bool {
    let script = format!("import {}", modules.join(", "));
    let ok = Command::new("python3")
        .args(["-c", &script])
        .output()
        .is_ok_and(|o| o.status.success());
    ok || missing(test, &format!("python3 modules {}", modules.join(", ")))
}

/// The workspace root (the directory holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}
