//! Runs the Python-side checks under `cargo test`: the scapy catalogue's own
//! build→parse self-check and the Lua dissector test under tshark.

use mip6_tests::prerequisites::{require_python_modules, require_tool, workspace_root};
use std::process::Command;

fn run_python(script: &str) {
    let root = workspace_root();
    let out = Command::new("python3")
        .arg(root.join(script))
        .current_dir(&root)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" 0 failed") && !last.starts_with("0 passed"),
        "{script} did not report passing checks: {last:?}"
    );
}

#[test]
fn scapy_catalogue_builds_and_reparses_its_own_cases() {
    if !require_python_modules("scapy_catalogue_selftest", &["scapy", "cryptography"]) {
        return;
    }
    run_python("tests/scapy/selftest.py");
}

#[test]
fn lua_dissector_names_key_option_fields_under_tshark() {
    if !require_python_modules("lua_dissector", &["scapy"])
        || !require_tool("lua_dissector", "tshark")
    {
        return;
    }
    run_python("tests/scapy/lua_dissector_test.py");
}
