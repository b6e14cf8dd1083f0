//! The `mip6-mn` binary: `--check-config` errors with their positions and exit 2,
//! `status` without a daemon, and (as root) the daemon in the lab's MN namespace:
//! ready, first Binding Update, a handover from foreign link 1 to 2, orderly removal of
//! everything it installed on SIGTERM, and a replay of its capture through a fresh
//! engine that produces the same frames byte for byte.

use std::io::{BufRead, BufReader};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mip6_daemon::capture::{read_inputs, InputKind};
use mip6_daemon::rng::DaemonRng;
use mip6_lab::{prereq, Lab, Link, Node, ProcId};
use mip6_mn::{MobileNode, Received};
use mip6_mn_daemon::config::parse;
use mip6_wire::frames::DATA_HEADROOM;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mip6-mn");
const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run mip6-mn")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("mn.toml");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn check_config_reports_every_error_with_its_position_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // Line 3: a 31-octet secret; line 4: a reserved SPI; line 6: an unknown interface.
    let path = write_config(
        dir.path(),
        &format!(
            r#"home_agent = "2001:db8:1::1"
home_address = "2001:db8:1::100"
init_secret = "{}"
init_spi_mn_to_ha = 0x10
init_spi_ha_to_mn = 0x1002
interfaces = ["lo", "no-such-if0"]
"#,
            &SECRET[..62]
        ),
    );
    let o = run(&["-c", path.to_str().unwrap(), "--check-config"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let file = path.display().to_string();
    assert!(
        err.contains(&format!(
            "{file}:3:15: init_secret: bad secret length: 31 octets, need 32"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:4:21: init_spi_mn_to_ha: SPI 0x10 is reserved"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:6:21: interfaces: unknown interface \"no-such-if0\""
        )),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn check_config_syntax_error_and_missing_file_exit_2_and_good_file_prints_ok() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "home_agent = \"2001:db8:1::1\"\nbogus = = 1\n");
    let o = run(&["-c", path.to_str().unwrap(), "--check-config"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{}:2:", path.display())),
        "{}",
        stderr(&o)
    );

    let o = run(&["-c", "/nonexistent/mn.toml", "--check-config"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/mn.toml: cannot read"),
        "{}",
        stderr(&o)
    );

    let o = run(&["--check-config"]);
    assert_eq!(o.status.code(), Some(2));

    let path = write_config(dir.path(), &config_text(dir.path(), &["lo"]));
    let o = run(&["-c", path.to_str().unwrap(), "--check-config"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
}

#[test]
fn status_without_a_daemon_is_a_clear_error_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let o = run(&["status", "--socket", socket.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "mip6-mn status: no daemon answers on {}",
            socket.display()
        )),
        "{err}"
    );
    let o = run(&["status", "--json", "-c", "/nonexistent/mn.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// A configuration for the lab with everything the daemon writes under `dir`.
fn config_text(dir: &Path, interfaces: &[&str]) -> String {
    let list = interfaces
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"home_agent = "2001:db8:1::1"
home_address = "2001:db8:1::100"
init_secret = "{SECRET}"
init_spi_mn_to_ha = 0x1001
init_spi_ha_to_mn = 0x1002
interfaces = [{list}]
state_dir = "{state}"
control_socket = "{dir}/mn.sock"
tun_name = "mip6mn0"
route_table = 6275
metrics = "127.0.0.1:0"
"#,
        state = dir.join("state").display(),
        dir = dir.display(),
    )
}

fn status(socket: &Path) -> Value {
    let o = run(&["status", "--json", "--socket", socket.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "status: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("status JSON")
}

/// Polls the status until `ok` holds, at most `limit`.
fn wait_status(socket: &Path, limit: Duration, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = status(socket);
        if ok(&v) || start.elapsed() > limit {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `mip6-mn -c config ARGS` in the MN namespace and waits for its "ready" log.
fn start_daemon(lab: &mut Lab, config: &Path, args: &[&str]) -> ProcId {
    let mut command = lab.command_in(Node::Mn, BIN);
    command
        .args(["-c", config.to_str().unwrap()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let id = lab.spawn_command(command).unwrap();
    let err = lab.take_stderr(id).unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("[mip6-mn] {line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("ready") => return id,
            Ok(_) => {}
            Err(_) => panic!("mip6-mn did not log ready within 15 s"),
        }
    }
}

fn in_mn(lab: &Lab, args: &[&str]) -> String {
    let o = lab.exec_in(Node::Mn, args).unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn daemon_registers_moves_and_cleans_up_in_the_lab() {
    if !prereq::require_lab("daemon_registers_moves_and_cleans_up_in_the_lab") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), &["mn-fg1", "mn-fg2"]);
    let config = write_config(dir.path(), &text);
    let socket = dir.path().join("mn.sock");
    let capture = dir.path().join("mn.pcapng");
    let mut lab = Lab::new().unwrap();
    lab.move_mn(Link::Foreign1).unwrap();

    let id = start_daemon(
        &mut lab,
        &config,
        &["--seed", "7", "--capture", capture.to_str().unwrap()],
    );

    // Installed: TUN with the HoA, the source rule, the route, the nft table.
    let link = in_mn(&lab, &["ip", "-6", "addr", "show", "dev", "mip6mn0"]);
    assert!(link.contains("2001:db8:1::100/128"), "{link}");
    let rules = in_mn(&lab, &["ip", "-6", "rule", "show"]);
    assert!(
        rules.contains("from 2001:db8:1::100 lookup 6275"),
        "{rules}"
    );
    let routes = in_mn(&lab, &["ip", "-6", "route", "show", "table", "6275"]);
    assert!(routes.contains("default dev mip6mn0"), "{routes}");
    let tables = in_mn(&lab, &["nft", "list", "tables"]);
    assert!(tables.contains("mip6_mn_mip6mn0"), "{tables}");

    let v = wait_status(&socket, Duration::from_secs(2), |v| {
        v["bu_sent"].as_u64() >= Some(1)
    });
    eprintln!("status: {v}");
    assert_eq!(v["role"], "mn");
    assert_eq!(v["home_address"], "2001:db8:1::100");
    assert_eq!(v["home_agent"], "2001:db8:1::1");
    assert_eq!(v["care_of_address"], "2001:db8:2::100");
    assert_eq!(v["registration"], "awaiting");
    assert_eq!(v["handovers"], 0);
    assert_eq!(v["keys"]["transmit"], "init");
    assert!(v["bu_sent"].as_u64().unwrap() >= 1, "{v}");
    let first_sent = v["bu_sent"].as_u64().unwrap();

    let moved = Instant::now();
    lab.move_mn(Link::Foreign2).unwrap();
    let v = wait_status(&socket, Duration::from_secs(2), |v| {
        v["care_of_address"] == "2001:db8:3::100" && v["handovers"] == 1
    });
    assert_eq!(v["care_of_address"], "2001:db8:3::100", "{v}");
    assert_eq!(v["handovers"], 1, "{v}");
    assert!(moved.elapsed() < Duration::from_secs(2));
    assert_eq!(v["registration"], "awaiting", "{v}");
    assert!(
        v["bu_sent"].as_u64().unwrap() > first_sent,
        "a BU from the new CoA: {v}"
    );

    let human = Command::new(BIN)
        .args(["status", "--socket", socket.to_str().unwrap()])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("care_of_address    2001:db8:3::100"),
        "{human}"
    );

    let exit = lab.stop(id).unwrap();
    assert_eq!(exit.code(), Some(0), "exit after SIGTERM");
    let rules = in_mn(&lab, &["ip", "-6", "rule", "show"]);
    assert!(!rules.contains("2001:db8:1::100"), "{rules}");
    let routes = in_mn(&lab, &["ip", "-6", "route", "show", "table", "6275"]);
    assert!(!routes.contains("mip6mn0"), "{routes}");
    let links = in_mn(&lab, &["ip", "link", "show"]);
    assert!(!links.contains("mip6mn0"), "{links}");
    let tables = in_mn(&lab, &["nft", "list", "tables"]);
    assert!(!tables.contains("mip6_mn"), "{tables}");
    assert!(!socket.exists(), "control socket removed");

    // The capture: care-of changes, BUs from both care-of addresses, keys logged.
    let inputs = read_inputs(&capture).unwrap();
    let care_ofs: Vec<Option<Ipv6Addr>> = inputs
        .iter()
        .filter_map(|i| match i.kind {
            InputKind::CareOf(c) => Some(c),
            _ => None,
        })
        .collect();
    let fg1: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
    let fg2: Ipv6Addr = "2001:db8:3::100".parse().unwrap();
    assert_eq!(care_ofs.first(), Some(&Some(fg1)), "{care_ofs:?}");
    assert_eq!(care_ofs.last(), Some(&Some(fg2)), "{care_ofs:?}");
    let sources: Vec<Ipv6Addr> = inputs
        .iter()
        .filter(|i| i.kind == InputKind::NetOut)
        .map(|i| Ipv6Addr::from(<[u8; 16]>::try_from(&i.data[8..24]).unwrap()))
        .collect();
    assert!(
        sources.contains(&fg1) && sources.contains(&fg2),
        "{sources:?}"
    );
    let keys = std::fs::read_to_string(dir.path().join("mn.pcapng.esp_sa")).unwrap();
    assert!(
        keys.contains("\"0x00001001\"") && keys.contains("\"0x00001002\""),
        "{keys}"
    );

    replay_matches(&text, 7, &capture);

    // SIGKILL leaves the rule, the nft table and the socket file behind; a new daemon
    // replaces them and still removes everything at its end.
    let id = start_daemon(&mut lab, &config, &[]);
    let o = Command::new("kill")
        .args(["-9", &id.pid().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while lab.is_running(id) == Some(true) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let rules = in_mn(&lab, &["ip", "-6", "rule", "show"]);
    assert!(
        rules.contains("from 2001:db8:1::100 lookup 6275"),
        "leftover: {rules}"
    );
    assert!(in_mn(&lab, &["nft", "list", "tables"]).contains("mip6_mn_mip6mn0"));
    assert!(socket.exists(), "leftover socket file");
    let id = start_daemon(&mut lab, &config, &[]);
    let rules = in_mn(&lab, &["ip", "-6", "rule", "show"]);
    assert_eq!(
        rules.matches("from 2001:db8:1::100 lookup 6275").count(),
        1,
        "{rules}"
    );
    let v = status(&socket);
    assert_eq!(v["care_of_address"], "2001:db8:3::100", "{v}");
    assert_eq!(lab.stop(id).unwrap().code(), Some(0));
    let rules = in_mn(&lab, &["ip", "-6", "rule", "show"]);
    assert!(!rules.contains("2001:db8:1::100"), "{rules}");
    assert!(!in_mn(&lab, &["nft", "list", "tables"]).contains("mip6_mn"));
    assert!(!in_mn(&lab, &["ip", "link", "show"]).contains("mip6mn0"));
    assert!(!socket.exists());
    lab.close().unwrap();
}

/// Feeds the capture's inputs to a fresh engine with the same configuration and seed
/// and checks it produces the recorded outputs byte for byte, in order.
fn replay_matches(config_text: &str, seed: u64, capture: &Path) {
    let inputs = read_inputs(capture).unwrap();
    let config = parse(config_text).unwrap().to_engine().unwrap();
    let first = inputs.first().expect("a non-empty capture");
    assert_eq!(
        first.kind,
        InputKind::Start,
        "the capture opens with the engine's start"
    );
    let mut node = MobileNode::new(config, &mut DaemonRng::new(Some(seed)), first.time, None);
    let mut produced: Vec<(InputKind, Vec<u8>)> = Vec::new();
    let mut recorded: Vec<(InputKind, Vec<u8>)> = Vec::new();
    for input in &inputs[1..] {
        let now = input.time;
        match input.kind {
            InputKind::Start | InputKind::Restart => panic!("a second start in one capture"),
            InputKind::NetOut | InputKind::TunOut => {
                recorded.push((input.kind, input.data.clone()))
            }
            InputKind::NetIn => {
                let mut frame = input.data.clone();
                if let Received::Delivered { inner, .. } = node.handle(now, &mut frame) {
                    produced.push((InputKind::TunOut, frame[inner].to_vec()));
                }
            }
            InputKind::TunIn => {
                let n = input.data.len();
                let mut buf = vec![0; DATA_HEADROOM + n + 64];
                buf[DATA_HEADROOM..DATA_HEADROOM + n].copy_from_slice(&input.data);
                if let Ok(f) = node.seal_data(now, &mut buf, n) {
                    produced.push((InputKind::NetOut, buf[..f.len].to_vec()));
                }
            }
            InputKind::Timeout => node.handle_timeout(now),
            InputKind::CareOf(c) => node.set_care_of_address(now, c),
            // The daemon's own link packets (router solicitations and probes, the
            // advertisement of returning home): not the engine's output.
            InputKind::LinkOut(_) => {}
            InputKind::LinkIn(_) => panic!("a mobile node records no link input"),
        }
        while node.poll_event().is_some() {}
        while let Some(t) = node.poll_transmit() {
            produced.push((InputKind::NetOut, t.frame));
        }
    }
    assert!(!recorded.is_empty());
    assert_eq!(
        produced.len(),
        recorded.len(),
        "as many outputs as recorded"
    );
    for (i, (p, r)) in produced.iter().zip(&recorded).enumerate() {
        assert_eq!(p, r, "output {i} differs");
    }
}

/// Runs the daemon with `args` for at most 10 s; as root in a network namespace of its
/// own (`unshare -n`), so a daemon that went past its store by mistake would change
/// nothing on this host.
fn run_isolated(args: &[&str]) -> Output {
    let mut command = Command::new("timeout");
    command.args(["-s", "KILL", "10"]);
    if prereq::is_root() {
        command.args(["unshare", "-n"]);
    }
    command
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("timeout runs mip6-mn")
}

/// Issue 12, item 11: a store file cut short stops the daemon with exit 1 and a
/// message that names the file and says what to do, not a panic (exit 101).
#[test]
fn a_truncated_store_stops_the_daemon_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    drop(
        mip6_mn_daemon::store::open(&state, mip6_mn_daemon::store::Persistence::Full)
            .expect("a fresh store"),
    );
    let file = state.join(mip6_mn_daemon::store::FILE_NAME);
    let whole = std::fs::read(&file).unwrap();
    let path = write_config(dir.path(), &config_text(dir.path(), &["lo"]));
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
