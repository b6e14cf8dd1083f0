//! Wire captures of the namespaces that run no daemon: the router (`rt.pcapng`, every
//! link, ESP included) and the correspondent (`cn.pcapng`, the plain inner traffic).
//! The daemons write their own engine captures (`ha*.pcapng`, `mn*.pcapng`); these show
//! the same exchanges as the links carried them.
//!
//! `dumpcap -i any -y LINUX_SLL2` (Wireshark's capture engine, from the `tshark` package) runs in each
//! namespace, at most [`MAX_PACKETS`] packets, from before the HA starts until before the
//! goodput run (a TCP flood adds nothing to read and would fill the disk). The router's
//! capture gets a key file too: `rt.pcapng.esp_sa` is the union of the HA captures' key
//! files, since the router sees every SA the HA used. Without `dumpcap` the demo runs on
//! and says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::topology::{Lab, Node, ProcId};

/// Packets each capture stops at.
pub const MAX_PACKETS: u32 = 200_000;
/// How long a capture may take to start writing.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `dumpcap` can be run.
pub fn available() -> bool {
    Command::new("dumpcap")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The capture file of `node` under `out`.
pub fn capture_path(out: &Path, node: Node) -> PathBuf {
    out.join(format!("{}.pcapng", node_name(node)))
}

fn node_name(node: Node) -> &'static str {
    match node {
        Node::Ha => "ha-wire",
        Node::Ha2 => "ha2-wire",
        Node::Rt => "rt",
        Node::Mn => "mn-wire",
        Node::Cn => "cn",
    }
}

/// Starts `dumpcap` in `node`, writing [`capture_path`], its messages in
/// `<node>.dumpcap.log`; returns once the file has its header (or after
/// `START_TIMEOUT`, with a warning).
pub fn start(lab: &mut Lab, node: Node, out: &Path) -> Result<ProcId, crate::error::LabError> {
    let path = capture_path(out, node);
    let _ = std::fs::remove_file(&path);
    let log = std::fs::File::create(out.join(format!("{}.dumpcap.log", node_name(node))))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut command = lab.command_in(node, "dumpcap");
    command
        // Linux cooked v2: each frame says which interface it crossed (ifindex), so a
        // frame the router forwards shows once per interface and can be told apart
        // from a frame sent twice (repeated_esp_nonces).
        .args(["-q", "-i", "any", "-y", "LINUX_SLL2", "-c"])
        .arg(MAX_PACKETS.to_string())
        .arg("-w")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let id = lab.spawn_command(command)?;
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            return Ok(id);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!(
        node = node_name(node),
        "dumpcap did not start writing in time"
    );
    Ok(id)
}

/// Writes `rt.pcapng.esp_sa`: every distinct line of the `ha*.pcapng.esp_sa` files in
/// `out`, in file-name order. Nothing when there is no router capture.
pub fn write_router_keys(out: &Path) -> std::io::Result<()> {
    let rt = capture_path(out, Node::Rt);
    if !rt.is_file() {
        return Ok(());
    }
    let mut sources: Vec<PathBuf> = std::fs::read_dir(out)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ha") && n.ends_with(".pcapng.esp_sa"))
        })
        .collect();
    sources.sort();
    let mut lines: Vec<String> = Vec::new();
    for s in sources {
        for line in std::fs::read_to_string(s)?.lines() {
            if !line.trim().is_empty() && !lines.iter().any(|l| l == line) {
                lines.push(line.to_owned());
            }
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(rt.with_extension("pcapng.esp_sa"), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_keys_are_the_union_of_the_ha_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        // No router capture: nothing written.
        std::fs::write(
            out.join("ha.pcapng.esp_sa"),
            "\"IPv6\",\"a\"\n\"IPv6\",\"b\"\n",
        )
        .unwrap();
        write_router_keys(out).unwrap();
        assert!(!out.join("rt.pcapng.esp_sa").exists());

        std::fs::write(out.join("rt.pcapng"), b"x").unwrap();
        std::fs::write(
            out.join("ha-2.pcapng.esp_sa"),
            "\"IPv6\",\"b\"\n\n\"IPv6\",\"c\"\n",
        )
        .unwrap();
        std::fs::write(out.join("mn.pcapng.esp_sa"), "\"IPv6\",\"m\"\n").unwrap();
        write_router_keys(out).unwrap();
        let keys = std::fs::read_to_string(out.join("rt.pcapng.esp_sa")).unwrap();
        // ha-2 sorts before ha.pcapng ('-' < '.'); duplicates and blanks go; the MN's
        // file is not read.
        assert_eq!(keys, "\"IPv6\",\"b\"\n\"IPv6\",\"c\"\n\"IPv6\",\"a\"\n");
    }

    #[test]
    fn capture_paths_name_the_namespace() {
        let out = Path::new("/out");
        assert_eq!(capture_path(out, Node::Rt), Path::new("/out/rt.pcapng"));
        assert_eq!(capture_path(out, Node::Cn), Path::new("/out/cn.pcapng"));
    }
}

/// One ESP frame of a capture, as tshark reads it: the interface it crossed (Linux
/// cooked v2's ifindex; empty for a capture of one interface), its IPv6 source, SPI
/// and sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EspFrame {
    /// The interface index, or empty.
    pub interface: String,
    /// The outer IPv6 source.
    pub source: String,
    /// The SPI (tshark's hex).
    pub spi: String,
    /// The sequence number.
    pub sequence: String,
}

/// Every ESP frame of the capture at `pcap`, in order; `None` if tshark cannot read
/// it.
pub fn esp_frames(pcap: &Path) -> Option<Vec<EspFrame>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", "esp", "-T", "fields"])
        .args(["-e", "sll.ifindex", "-e", "ipv6.src", "-e", "esp.spi"])
        .args(["-e", "esp.sequence"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| parse_frames(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_frames(lines: &str) -> Vec<EspFrame> {
    lines
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t').map(str::to_owned);
            Some(EspFrame {
                interface: f.next()?,
                source: f.next()?,
                spi: f.next()?,
                sequence: f.next()?,
            })
        })
        .filter(|f| !f.spi.is_empty())
        .collect()
}

/// How many frames repeat an earlier one's interface, source, SPI and sequence
/// number: each is an AES-GCM nonce sealed twice (RFC 4106 §3.1), since a frame
/// crosses each interface once.
pub fn repeats(frames: &[EspFrame]) -> u64 {
    let mut seen = std::collections::HashSet::new();
    frames.iter().filter(|f| !seen.insert(*f)).count() as u64
}

/// [`repeats`] over the capture at `pcap` (the router's, in Linux cooked v2); `None`
/// if tshark cannot read it.
pub fn repeated_esp_nonces(pcap: &Path) -> Option<u64> {
    esp_frames(pcap).map(|f| repeats(&f))
}

#[cfg(test)]
mod repeat_tests {
    use super::{parse_frames, repeats};

    #[test]
    fn a_frame_seen_twice_on_one_interface_is_a_repeat_on_two_it_is_not() {
        let lines = "3\t2001:db8:1::1\t0x1002\t7\n4\t2001:db8:1::1\t0x1002\t7\n3\t2001:db8:1::1\t0x1002\t8\n\t\t\t\n";
        let frames = parse_frames(lines);
        assert_eq!(frames.len(), 3);
        assert_eq!(repeats(&frames), 0);
        let twice = parse_frames(&format!("{lines}3\t2001:db8:1::1\t0x1002\t7\n"));
        assert_eq!(repeats(&twice), 1);
    }
}
