//! What the lab needs from the machine (root, `ip`, `ping`), and the rule for when it
//! is missing, as in the workspace's `tests/src/prerequisites.rs`: a test skips with a
//! loud message, except under `CI=true`, where a skip is a failure.

use std::process::Command;

/// True when running under CI (`CI=true`), where no test may skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Reports a missing prerequisite: panics under CI, otherwise prints a loud skip notice
/// and returns `false` so the caller returns early.
pub fn missing(test: &str, what: &str) -> bool {
    if under_ci() {
        panic!("{test}: {what} is missing, and under CI=true a skip is a failure");
    }
    eprintln!(
        "\n!!!! SKIPPED {test}: {what} is missing (run scripts/test as root to install it) !!!!\n"
    );
    false
}

/// True when the effective user id is 0, read from `/proc/self/status` (no `libc`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// True when `program args` starts and exits 0.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True when a [`crate::Lab`] can be built and pinged through here: root, iproute2's
/// `ip`, `sysctl` and iputils' `ping`; otherwise see [`missing`].
pub fn require_lab(test: &str) -> bool {
    if !is_root() {
        return missing(test, "root (network namespaces need CAP_SYS_ADMIN)");
    }
    let tools = [
        ("ip", &["-V"][..], "ip (iproute2)"),
        ("sysctl", &["--version"][..], "sysctl (procps)"),
        ("ping", &["-V"][..], "ping (iputils-ping)"),
    ];
    tools
        .into_iter()
        .all(|(program, args, what)| runs(program, args) || missing(test, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_root_agrees_with_id() {
        let Ok(out) = Command::new("id").arg("-u").output() else {
            return; // no `id`: nothing to compare against
        };
        let uid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(is_root(), uid == "0", "id -u said {uid}");
    }
}
