//! The `mip6-ha` binary: `--check-config` errors with positions and exit 2, `--help`,
//! `status` without a daemon (exit 1), and, as root, a daemon started in the lab's HA
//! namespace: ready, status over the control socket, its nftables table, and a clean
//! exit on SIGTERM that removes the table and the control socket.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mip6_lab::topology::{Node, HA_ADDR, HA_IFACE};
use mip6_lab::Lab;

const BIN: &str = env!("CARGO_BIN_EXE_mip6-ha");
const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("mip6-ha runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A configuration on `interface` with the given `[[mobile_node]]` tables appended.
fn config(interface: &str, dir: &Path, mobile_nodes: &str) -> String {
    format!(
        r#"home_interface = "{interface}"
home_prefix = "2001:db8:1::/64"
address = "2001:db8:1::1"
state_dir = "{state}"
control_socket = "{socket}"
tun_name = "mip6hatest"
{mobile_nodes}"#,
        state = dir.join("state").display(),
        socket = dir.join("ha.sock").display(),
    )
}

fn mobile_node(hoa: &str, secret: &str, spi_in: u32, spi_out: u32) -> String {
    format!(
        r#"
[[mobile_node]]
home_address = "{hoa}"
init_secret = "{secret}"
init_spi_mn_to_ha = {spi_in:#x}
init_spi_ha_to_mn = {spi_out:#x}
"#
    )
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("ha.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn check(path: &Path) -> Output {
    run(&["-c", path.to_str().unwrap(), "--check-config"])
}

#[test]
fn example_config_without_lab_interfaces_names_the_interface() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/ha.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    if mip6_netio::if_index(HA_IFACE).is_ok() {
        eprintln!("{HA_IFACE} exists in this namespace: nothing to check");
        return;
    }
    let line = text
        .lines()
        .position(|l| l.starts_with("home_interface"))
        .unwrap()
        + 1;
    let out = check(&path);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let expected = format!(
        "{}:{line}:18: home_interface: unknown interface \"ha-home\"",
        path.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}

#[test]
fn valid_config_checks_ok() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &config(
            "lo",
            dir.path(),
            &mobile_node("2001:db8:1::100", SECRET, 0x1001, 0x1002),
        ),
    );
    let out = check(&path);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn bad_secret_length_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let mn = mobile_node("2001:db8:1::100", &SECRET[..62], 0x1001, 0x1002);
    let path = write_config(dir.path(), &config("lo", dir.path(), &mn));
    let out = check(&path);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(":10:15: init_secret: bad secret length: 31 octets, need 32"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn overlapping_spis_are_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let mns = mobile_node("2001:db8:1::100", SECRET, 0x1001, 0x1002)
        + &mobile_node("2001:db8:1::101", SECRET, 0x1003, 0x1001);
    let path = write_config(dir.path(), &config("lo", dir.path(), &mns));
    let out = check(&path);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(":18:21: init_spi_ha_to_mn: SPI 0x1001 is already used at line 11"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn duplicate_home_address_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let mns = mobile_node("2001:db8:1::100", SECRET, 0x1001, 0x1002)
        + &mobile_node("2001:db8:1::100", SECRET, 0x1003, 0x1004);
    let path = write_config(dir.path(), &config("lo", dir.path(), &mns));
    let out = check(&path);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            ":15:16: home_address: home address 2001:db8:1::100 is already configured at line 9"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn running_with_an_invalid_config_exits_2_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mn = mobile_node("2001:db8:1::100", "zz", 0x1001, 0x1002);
    let path = write_config(dir.path(), &config("no-such-if0", dir.path(), &mn));
    let out = run(&["-c", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown interface \"no-such-if0\""), "{err}");
    assert!(err.contains("init_secret: secret is not hex"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_file_and_missing_option_are_config_errors() {
    let out = run(&["-c", "/nonexistent/ha.toml", "--check-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/ha.toml: cannot read"),
        "{}",
        stderr(&out)
    );
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("-c FILE"), "{}", stderr(&out));
}

#[test]
fn help_lists_the_options_and_the_status_command() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--check-config",
        "--seed",
        "--capture",
        "status",
        "-c, --config",
    ] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
    let out = run(&["status", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--json") && text.contains("--socket"),
        "{text}"
    );
}

#[test]
fn status_without_a_daemon_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let out = run(&["status", "--socket", socket.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no daemon answers on"),
        "{}",
        stderr(&out)
    );
    // The socket path from a configuration file.
    let path = write_config(
        dir.path(),
        &config(
            "lo",
            dir.path(),
            &mobile_node("2001:db8:1::100", SECRET, 0x1001, 0x1002),
        ),
    );
    let out = run(&["status", "--json", "-c", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("ha.sock"), "{}", stderr(&out));
}

/// Whether `nft list table inet mip6_ha` succeeds in the HA namespace.
fn nft_table_exists(lab: &Lab) -> bool {
    lab.exec_in(Node::Ha, &["nft", "list", "table", "inet", "mip6_ha"])
        .unwrap()
        .status
        .success()
}

#[test]
fn daemon_in_the_lab_starts_serves_status_and_cleans_up_on_sigterm() {
    if !mip6_lab::prereq::require_lab("daemon_in_the_lab") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json_log = "\n[log]\nformat = \"json\"\n";
    let text = config(
        HA_IFACE,
        dir.path(),
        &(json_log.to_owned() + &mobile_node("2001:db8:1::100", SECRET, 0x1001, 0x1002)),
    )
    .replace(
        "address = \"2001:db8:1::1\"",
        &format!("address = \"{HA_ADDR}\""),
    );
    let path = write_config(dir.path(), &text);
    let socket = dir.path().join("ha.sock");
    let mut lab = Lab::new().expect("lab");
    assert!(!nft_table_exists(&lab));

    let mut command = lab.command_in(Node::Ha, BIN);
    command
        .args(["-c", path.to_str().unwrap(), "--seed", "7"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let id = lab.spawn_command(command).expect("spawn mip6-ha");
    let log = lab.take_stderr(id).unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(log).lines() {
            let Ok(line) = line else { break };
            let is_ready = serde_json::from_str::<serde_json::Value>(&line)
                .is_ok_and(|v| v["fields"]["event"] == "ready" || v["event"] == "ready");
            if is_ready {
                let _ = ready_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    if ready_rx.recv_timeout(Duration::from_secs(15)).is_err() {
        let _ = lab.stop(id);
        panic!("no ready event:\n{}", reader.join().unwrap().join("\n"));
    }

    let out = lab
        .exec_in(
            Node::Ha,
            &[
                BIN,
                "status",
                "--json",
                "--socket",
                socket.to_str().unwrap(),
            ],
        )
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(status["role"], "ha");
    assert_eq!(status["address"], HA_ADDR.to_string());
    assert_eq!(status["persistence"], true);
    assert_eq!(status["bindings"].as_array().unwrap().len(), 0);
    assert_eq!(status["keys"][0]["transmit"], "init");
    assert_eq!(status["keys"][0]["generations"][0]["spi_mn_to_ha"], 0x1001);
    assert_eq!(status["registrations"]["accepted"], 0);
    let out = lab
        .exec_in(
            Node::Ha,
            &[BIN, "status", "--socket", socket.to_str().unwrap()],
        )
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bindings (0)"));

    assert!(
        nft_table_exists(&lab),
        "nft table inet mip6_ha not installed"
    );
    let tun = lab
        .exec_in(Node::Ha, &["ip", "link", "show", "mip6hatest"])
        .unwrap();
    assert!(tun.status.success(), "TUN missing");
    assert!(socket.exists());

    let status = lab.stop(id).expect("stop");
    let lines = reader.join().unwrap();
    assert!(status.success(), "exit {status:?}:\n{}", lines.join("\n"));
    assert!(!nft_table_exists(&lab), "nft table left behind");
    assert!(!socket.exists(), "control socket left behind");
    let tun = lab
        .exec_in(Node::Ha, &["ip", "link", "show", "mip6hatest"])
        .unwrap();
    assert!(!tun.status.success(), "TUN left behind");
    assert!(
        lines.iter().any(|l| l.contains("stopped")),
        "{}",
        lines.join("\n")
    );
    lab.close().expect("lab teardown");
}

/// Runs the daemon with `args` for at most 10 s; as root in a network namespace of its
/// own (`unshare -n`), so a daemon that went past its store by mistake would change
/// nothing on this host.
fn run_isolated(args: &[&str]) -> Output {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    });
    let mut command = Command::new("timeout");
    command.args(["-s", "KILL", "10"]);
    if root {
        command.args(["unshare", "-n"]);
    }
    command
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("timeout runs mip6-ha")
}

/// Issue 12, item 11: a store file cut short stops the daemon with exit 1 and a
/// message that names the file and says what to do, not a panic (exit 101).
#[test]
fn a_truncated_store_stops_the_daemon_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    {
        // A real store of this daemon, with the layout's file name.
        let store = mip6_ha_daemon::store::open(&state, mip6_ha_daemon::store::Persistence::Full)
            .expect("a fresh store");
        drop(store);
    }
    let file = state.join(mip6_ha_daemon::store::FILE_NAME);
    let whole = std::fs::read(&file).unwrap();
    let path = write_config(
        dir.path(),
        &config(
            "lo",
            dir.path(),
            &mobile_node("2001:db8:1::100", SECRET, 0x1001, 0x1002),
        ),
    );
    for len in [0, 100, whole.len() / 2] {
        std::fs::write(&file, &whole[..len]).unwrap();
        let out = run_isolated(&["-c", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{len} octets: {err}");
        assert!(!err.contains("panicked"), "{len} octets: {err}");
        assert!(
            err.contains(&file.display().to_string())
                && err.contains("is damaged")
                && err.contains("move it away"),
            "{len} octets: {err}"
        );
    }
}
