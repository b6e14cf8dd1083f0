//! The traffic generator and the BA-drop table on a real lab, without the daemons:
//! the MN on foreign link 1 talks to the CN from its care-of address directly (no
//! tunnel), so nothing may be lost. Root-only (skips loudly otherwise, fails under
//! `CI=true`, see `mip6_lab::prereq`).

use std::io::Read;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mip6_lab::demo::nft;
use mip6_lab::prereq::require_lab;
use mip6_lab::traffic::tcp::TcpReport;
use mip6_lab::traffic::udp::UdpPeerReport;
use mip6_lab::traffic::unix_micros;
use mip6_lab::{Lab, Link, Node, ProcId, CN_ADDR};

const EXE: &str = env!("CARGO_BIN_EXE_mip6-lab");

fn sa(addr: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(addr, port, 0, 0))
}

fn spawn(lab: &mut Lab, node: Node, args: &[String]) -> ProcId {
    let mut command = lab.command_in(node, EXE);
    command.args(args).stdout(Stdio::piped());
    lab.spawn_command(command).expect("spawn mip6-lab")
}

fn report<T: serde::de::DeserializeOwned>(lab: &mut Lab, id: ProcId) -> T {
    let mut text = String::new();
    lab.take_stdout(id)
        .expect("stdout piped")
        .read_to_string(&mut text)
        .expect("read report");
    let status = lab.stop(id).expect("reap");
    assert!(status.success(), "{id} exited {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad report {text:?}: {e}"))
}

fn peer_args(bind: SocketAddr, peer: SocketAddr, start_at: u64) -> Vec<String> {
    [
        "udp-peer",
        "--bind",
        &bind.to_string(),
        "--peer",
        &peer.to_string(),
        "--rate",
        "300",
        "--secs",
        "2",
        "--phase",
        "9",
        "--start-at-us",
        &start_at.to_string(),
        "--linger-ms",
        "500",
        "--record-arrivals",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn udp_and_tcp_between_mn_and_cn_lose_nothing() {
    if !require_lab("udp_and_tcp_between_mn_and_cn_lose_nothing") {
        return;
    }
    let mut lab = Lab::new().expect("lab");
    lab.move_mn(Link::Foreign1).expect("move");
    let coa = Link::Foreign1.mn_addr();
    let (mn_at, cn_at) = (sa(coa, 41009), sa(CN_ADDR, 42009));
    let start_at = unix_micros() + 500_000;
    let started = Instant::now();
    let mn = spawn(&mut lab, Node::Mn, &peer_args(mn_at, cn_at, start_at));
    let cn = spawn(&mut lab, Node::Cn, &peer_args(cn_at, mn_at, start_at));
    let mn: UdpPeerReport = report(&mut lab, mn);
    let cn: UdpPeerReport = report(&mut lab, cn);
    assert!(started.elapsed() < Duration::from_secs(10));
    for (me, other, what) in [(&mn, &cn, "CN->MN"), (&cn, &mn, "MN->CN")] {
        assert!(other.sent >= 550, "{what}: sent only {}", other.sent);
        assert_eq!(me.rx.received, other.sent, "{what}: {me:?}");
        assert_eq!(
            (me.rx.lost, me.rx.duplicated, me.foreign),
            (0, 0, 0),
            "{what}"
        );
        assert_eq!(me.rx.sender_total, Some(other.sent), "{what}: end message");
        assert_eq!(me.arrivals.len() as u64, other.sent);
        // Arrival records are plausible: received after sent, within a second.
        for a in &me.arrivals {
            assert!(a.received_us() >= a.sent_us() && a.received_us() - a.sent_us() < 1_000_000);
        }
    }

    let sink_at = sa(CN_ADDR, 5009);
    let sink = spawn(
        &mut lab,
        Node::Cn,
        &["tcp-sink", "--bind", &sink_at.to_string()].map(str::to_owned),
    );
    let source = spawn(
        &mut lab,
        Node::Mn,
        &[
            "tcp-source",
            "--bind",
            &sa(coa, 0).to_string(),
            "--connect",
            &sink_at.to_string(),
            "--secs",
            "1",
        ]
        .map(str::to_owned),
    );
    let sent: TcpReport = report(&mut lab, source);
    let got: TcpReport = report(&mut lab, sink);
    eprintln!("plain veth goodput: {:.0} Mbit/s", got.mbps);
    assert_eq!(got.bytes, sent.bytes);
    assert!(got.mbps > 10.0, "{got:?}");
    lab.close().expect("teardown");
}

#[test]
fn ba_drop_table_installs_in_the_router_and_goes() {
    if !require_lab("ba_drop_table_installs_in_the_router_and_goes") {
        return;
    }
    let lab = Lab::new().expect("lab");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ba-drop.nft");
    assert!(!nft::installed(&lab).expect("list"));
    nft::install(&lab, 50, &file).expect("nft -f");
    assert!(nft::installed(&lab).expect("list"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        nft::ba_drop_ruleset(50)
    );
    let counts = nft::counters(&lab).expect("counters");
    assert_eq!(counts, nft::BaDropCounts::default());
    // Real packets: the HA sends three IPv6 packets with a type 2 routing header
    // toward the MN's foreign address (built by hand in python3 on an IPPROTO_RAW
    // socket); with 100 % asked, the router counts and drops all of them.
    if python3_runs() {
        nft::remove(&lab).expect("delete");
        nft::install(&lab, 100, &file).expect("nft -f 100 %");
        let sent = lab
            .exec_in(Node::Ha, &["python3", "-c", SEND_RH2])
            .expect("python3 runs");
        assert!(
            sent.status.success(),
            "{}",
            String::from_utf8_lossy(&sent.stderr)
        );
        let counts = nft::counters(&lab).expect("counters");
        assert_eq!(
            counts,
            nft::BaDropCounts {
                seen: 3,
                dropped: 3
            }
        );
        // 50 %: every other one, starting with the first.
        nft::remove(&lab).expect("delete");
        nft::install(&lab, 50, &file).expect("nft -f 50 %");
        let sent = lab
            .exec_in(Node::Ha, &["python3", "-c", SEND_RH2])
            .expect("python3 runs");
        assert!(
            sent.status.success(),
            "{}",
            String::from_utf8_lossy(&sent.stderr)
        );
        let counts = nft::counters(&lab).expect("counters");
        assert_eq!(
            counts,
            nft::BaDropCounts {
                seen: 3,
                dropped: 2
            }
        );
    } else {
        eprintln!("!!!! python3 missing: RH2 packets through the drop table not tried !!!!");
    }
    // Only in the router's namespace.
    let elsewhere = lab
        .exec_in_checked(Node::Ha, &["nft", "list", "tables"])
        .expect("nft in ha");
    assert!(!String::from_utf8_lossy(&elsewhere.stdout).contains(nft::BA_DROP_TABLE));
    nft::remove(&lab).expect("delete");
    assert!(!nft::installed(&lab).expect("list"));
    lab.close().expect("teardown");
}

fn python3_runs() -> bool {
    std::process::Command::new("python3")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Sends three `IPv6(HA -> 2001:db8:2::100) | RH2(HoA) | no next header` packets.
const SEND_RH2: &str = r#"
import socket
src = socket.inet_pton(socket.AF_INET6, "2001:db8:1::1")
dst = socket.inet_pton(socket.AF_INET6, "2001:db8:2::100")
hoa = socket.inet_pton(socket.AF_INET6, "2001:db8:1::100")
rh2 = bytes([59, 2, 2, 1, 0, 0, 0, 0]) + hoa
ip6 = bytes([0x60, 0, 0, 0]) + len(rh2).to_bytes(2, "big") + bytes([43, 64]) + src + dst
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(3):
    s.sendto(ip6 + rh2, ("2001:db8:2::100", 0))
"#;
