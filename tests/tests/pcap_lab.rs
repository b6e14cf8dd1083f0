//! The checked-in lab captures of `pcaps/lab/` (issue 4, "pcaps/"): a seeded lab run
//! with registration, data both ways, rekeys by update, a rekey after a lost BA, a
//! handover, and an HA fault (the HA killed without its key state) that makes the MN
//! re-initialize.
//!
//! - `lab_captures_replay_byte_for_byte`: each capture's inputs, fed to a fresh
//!   engine with the same configuration and seed (and, for the restarted HA, the
//!   records it started from), give its outputs byte for byte.
//! - `lab_captures_decrypt_in_tshark`: tshark dissects and decrypts them with their
//!   `.esp_sa` key logs: no malformed frame, every ICV good.
//! - `regenerate_lab_captures` (ignored; run it as root to remake them):
//!   `cargo test -p mip6-tests --test pcap_lab regenerate -- --ignored --nocapture`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mip6_daemon::capture::{key_log_path, read_inputs, InputKind};
use mip6_lab::demo::nft as ba_drop;
use mip6_lab::prereq::require_lab;
use mip6_lab::{Link, Node};
use mip6_tests::lab_e2e::{tshark_summary, Running, CN, HOA};
use mip6_tests::prerequisites::{require_tool, workspace_root};
use mip6_tests::replay::{read_start_state, replay_ha, replay_ha_restored, replay_mn};

/// Seeds of the HA and the MN in the recorded run.
const HA_SEED: u64 = 6275;
const MN_SEED: u64 = 4303;

fn dir() -> PathBuf {
    workspace_root().join("pcaps/lab")
}

fn key_events(s: &serde_json::Value) -> (u64, u64, u64) {
    let k = &s["key_events"];
    let n = |f: &str| k[f].as_u64().unwrap_or(0);
    (n("initialization"), n("update"), n("resend"))
}

fn ha_config() -> mip6_ha::HaConfig {
    mip6_ha_daemon::config::load(&dir().join("ha.toml"))
        .expect("pcaps/lab/ha.toml")
        .to_engine()
        .expect("a valid HA configuration")
}

fn mn_config() -> mip6_mn::MnConfig {
    mip6_mn_daemon::config::load(&dir().join("mn.toml"))
        .expect("pcaps/lab/mn.toml")
        .to_engine()
        .expect("a valid MN configuration")
}

#[test]
fn lab_captures_replay_byte_for_byte() {
    let ha1 = read_inputs(&dir().join("ha-1.pcapng")).expect("ha-1.pcapng");
    let ha2 = read_inputs(&dir().join("ha-2.pcapng")).expect("ha-2.pcapng");
    let mn1 = read_inputs(&dir().join("mn-1.pcapng")).expect("mn-1.pcapng");
    assert_eq!(ha1.first().map(|r| r.kind), Some(InputKind::Start));
    assert_eq!(ha2.first().map(|r| r.kind), Some(InputKind::Restart));

    let r = replay_ha(ha_config(), HA_SEED, &ha1).unwrap_or_else(|e| panic!("ha-1: {e}"));
    // Registration, two updates, the lost BA and its resend, the handover: six
    // BU/BA exchanges at least, and the pings through the tunnel.
    assert!(r.inputs >= 15 && r.outputs >= 15, "ha-1: {r:?}");
    let state = read_start_state(&dir().join("ha-2.pcapng")).expect("ha-2.pcapng.state");
    assert_eq!(state.len(), 1);
    assert!(
        state[0].newest.is_none(),
        "a faulted HA keeps no key generation"
    );
    let r = replay_ha_restored(ha_config(), HA_SEED, state, &ha2)
        .unwrap_or_else(|e| panic!("ha-2: {e}"));
    assert!(r.inputs >= 5 && r.outputs >= 5, "ha-2: {r:?}");
    let r = replay_mn(mn_config(), MN_SEED, &mn1).unwrap_or_else(|e| panic!("mn-1: {e}"));
    assert!(r.inputs >= 15 && r.outputs >= 15, "mn-1: {r:?}");
    // Another seed, another first key: the replay must notice.
    assert!(replay_ha(ha_config(), HA_SEED + 1, &ha1).is_err());
}

#[test]
fn lab_captures_decrypt_in_tshark() {
    if !require_tool("lab_captures_decrypt_in_tshark", "tshark") {
        return;
    }
    for (name, min_bu, min_ba) in [("ha-1", 6, 6), ("ha-2", 1, 1), ("mn-1", 8, 5)] {
        let pcap = dir().join(format!("{name}.pcapng"));
        assert!(key_log_path(&pcap).exists(), "{name}: no key log");
        let s = tshark_summary(&pcap);
        assert_eq!(s.malformed_or_errors, 0, "{name}: {s:?}");
        assert_eq!(s.bad_icv, 0, "{name}: {s:?}");
        assert!(s.binding_updates >= min_bu, "{name}: {s:?}");
        assert!(s.binding_acks >= min_ba, "{name}: {s:?}");
        assert!(s.good_icv >= min_bu + min_ba, "{name}: {s:?}");
    }
}

/// Writes a daemon configuration with the run's paths replaced by the defaults of
/// the example configurations (replay reads only what reaches the engine).
fn copy_config(from: &Path, to: &Path, run_dir: &Path, role: &str) {
    let text = std::fs::read_to_string(from).expect("configuration");
    let out = run_dir.display().to_string();
    let text = text
        .replace(
            &format!("{out}/{role}-state"),
            &format!("/var/lib/mip6-{role}"),
        )
        .replace(
            &format!("{out}/{role}.sock"),
            &format!("/run/mip6-{role}.sock"),
        );
    std::fs::write(to, text).expect("write configuration");
}

#[test]
#[ignore = "remakes pcaps/lab from a lab run (root); run by hand"]
fn regenerate_lab_captures() {
    if !require_lab("regenerate_lab_captures") {
        return;
    }
    let mut run = Running::start_seeded(Duration::from_secs(3), false, Some((HA_SEED, MN_SEED)));
    let registered = |coa: &'static str| {
        move |s: &serde_json::Value| {
            s["registration"] == "registered" && s["care_of_address"] == coa
        }
    };
    run.wait_mn(
        "registration",
        Duration::from_secs(20),
        registered("2001:db8:2::100"),
    );
    assert!(run.lab.ping(Node::Mn, HOA, CN).expect("ping"));
    assert!(run.lab.ping(Node::Cn, CN, HOA).expect("ping"));
    // Two rekeys by update.
    run.wait_ha("two key updates", Duration::from_secs(15), |s| {
        key_events(s).1 >= 2
    });
    // A rekey whose BA is lost: the key is resent.
    let before = key_events(&run.ha_json());
    ba_drop::install(&run.lab, 100, &run.out().join("ba-drop.nft")).expect("BA drop");
    run.wait_ha("an update while BAs drop", Duration::from_secs(10), |s| {
        key_events(s).1 > before.1
    });
    std::thread::sleep(Duration::from_millis(300));
    ba_drop::remove(&run.lab).expect("BA drop removed");
    run.wait_ha("the resend", Duration::from_secs(10), |s| {
        key_events(s).2 > before.2
    });
    // A handover.
    run.lab.move_mn(Link::Foreign2).expect("move");
    run.wait_mn(
        "binding at foreign 2",
        Duration::from_secs(10),
        registered("2001:db8:3::100"),
    );
    assert!(run.lab.ping(Node::Mn, HOA, CN).expect("ping"));
    // An HA fault: killed, restarted without its keys; the MN re-initializes.
    run.kill_ha();
    run.start_ha();
    run.wait_mn("re-initialization", Duration::from_secs(60), |s| {
        key_events(s).0 >= 2 && s["registration"] == "registered"
    });
    assert!(run.lab.ping(Node::Mn, HOA, CN).expect("ping"));
    assert!(run.lab.ping(Node::Cn, CN, HOA).expect("ping"));
    run.stop_daemons();

    let to = dir();
    std::fs::create_dir_all(&to).unwrap();
    for name in ["ha-1", "ha-2", "mn-1"] {
        let pcap = run.out().join(format!("{name}.pcapng"));
        std::fs::copy(&pcap, to.join(format!("{name}.pcapng"))).unwrap();
        std::fs::copy(
            key_log_path(&pcap),
            to.join(format!("{name}.pcapng.esp_sa")),
        )
        .unwrap();
    }
    let mut state = run.out().join("ha-2.pcapng").into_os_string();
    state.push(".state");
    std::fs::copy(&state, to.join("ha-2.pcapng.state")).unwrap();
    copy_config(&run.files.ha_config, &to.join("ha.toml"), run.out(), "ha");
    copy_config(&run.files.mn_config, &to.join("mn.toml"), run.out(), "mn");
    eprintln!("captures written to {}", to.display());
}
