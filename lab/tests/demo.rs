//! `mip6-lab demo`'s failure path with stand-in daemons (shell scripts that log a
//! "ready" line and never register): the demo must fail with both daemons' last log
//! lines in its message and leave no namespace behind. Root-only.
//!
//! One test in this file on purpose: it checks that no namespace of this process is
//! left, which a lab of a parallel test would spoil.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use mip6_lab::demo::{self, DemoError, DemoOptions};
use mip6_lab::list_namespaces;
use mip6_lab::prereq::require_lab;

const EXE: &str = env!("CARGO_BIN_EXE_mip6-lab");

#[test]
fn demo_fails_cleanly_when_the_mn_never_registers() {
    if !require_lab("demo_fails_cleanly_when_the_mn_never_registers") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["mip6-ha", "mip6-mn"] {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"INFO {name}: ready event=\\\"ready\\\"\" >&2\necho \"{name} stand-in: args $*\" >&2\nexec sleep 60\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut opts = DemoOptions::new(EXE.into());
    opts.out_dir = dir.path().join("out");
    opts.bin_dir = Some(dir.path().to_owned());
    opts.register_timeout = Duration::from_secs(2);
    opts.echo_daemon_logs = false;
    // The default moves by router advertisements (radvd in the lab); without radvd the
    // failure path is the same with hand-set addresses.
    opts.hand_set_addresses = mip6_lab::radvd::program().is_none();
    let started = Instant::now();
    let err = demo::run(&opts).expect_err("stand-ins never register");
    assert!(started.elapsed() < Duration::from_secs(20));
    let text = err.to_string();
    assert!(matches!(err, DemoError::Registration { .. }), "{text}");
    assert!(text.contains("mip6-ha stand-in: args -c"), "{text}");
    assert!(text.contains("mip6-mn stand-in: args -c"), "{text}");
    assert!(text.contains("--capture"), "{text}");
    let out = dir.path().join("out");
    for f in ["ha.toml", "mn.toml", "ha.log", "mn.log"] {
        assert!(out.join(f).is_file(), "{f} not written");
    }
    // The wire captures of the router and the CN were started before the daemons and
    // closed by the teardown: each is a pcapng file (its Section Header Block first).
    if demo::sniff::available() {
        for f in ["rt.pcapng", "cn.pcapng"] {
            let bytes = std::fs::read(out.join(f)).unwrap_or_default();
            assert!(
                bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]),
                "{f} is a closed pcapng ({} octets)",
                bytes.len()
            );
        }
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "dumpcap missing under CI=true"
        );
    }
    let mine = format!("mip6-{}-", std::process::id());
    let left: Vec<_> = list_namespaces()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(&mine))
        .collect();
    assert!(left.is_empty(), "namespaces left: {left:?}");
}
