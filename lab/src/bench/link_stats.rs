//! Packet counters of an interface in a lab namespace, from iproute2's JSON output
//! (`ip -j -s link show dev IFACE`, field `stats64`).

use serde::Deserialize;

use crate::error::LabError;
use crate::topology::{Lab, Node};

/// An interface's packet and octet counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Octets received.
    pub rx_bytes: u64,
    /// Octets sent.
    pub tx_bytes: u64,
}

impl LinkCounters {
    /// Packets both ways from `earlier` to `self`.
    pub fn packets_since(self, earlier: LinkCounters) -> u64 {
        self.rx_packets.saturating_sub(earlier.rx_packets)
            + self.tx_packets.saturating_sub(earlier.tx_packets)
    }

    /// Octets both ways from `earlier` to `self`.
    pub fn bytes_since(self, earlier: LinkCounters) -> u64 {
        self.rx_bytes.saturating_sub(earlier.rx_bytes)
            + self.tx_bytes.saturating_sub(earlier.tx_bytes)
    }
}

#[derive(Deserialize)]
struct Direction {
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    packets: u64,
}

#[derive(Deserialize)]
struct Stats64 {
    rx: Direction,
    tx: Direction,
}

#[derive(Deserialize)]
struct LinkEntry {
    stats64: Stats64,
}

/// Parses `ip -j -s link show dev IFACE` output (a one-element JSON array).
pub fn parse_ip_json(text: &str) -> Result<LinkCounters, String> {
    let entries: Vec<LinkEntry> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let entry = entries
        .into_iter()
        .next()
        .ok_or_else(|| "no interface in the output".to_owned())?;
    Ok(LinkCounters {
        rx_packets: entry.stats64.rx.packets,
        tx_packets: entry.stats64.tx.packets,
        rx_bytes: entry.stats64.rx.bytes,
        tx_bytes: entry.stats64.tx.bytes,
    })
}

/// Reads `iface`'s counters in `node`'s namespace.
pub fn read(lab: &Lab, node: Node, iface: &str) -> Result<LinkCounters, LabError> {
    let out = lab.exec_in_checked(node, &["ip", "-j", "-s", "link", "show", "dev", iface])?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_ip_json(&text).map_err(|what| LabError::Parse {
        command: format!("ip -j -s link show dev {iface} (in {node})"),
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iproute2_json_is_read() {
        let text = r#"[{"ifindex":5,"ifname":"wgm1","flags":["POINTOPOINT","UP"],"mtu":1420,
            "qdisc":"fq_codel","operstate":"UNKNOWN","link_type":"none",
            "stats64":{"rx":{"bytes":1000,"packets":10,"errors":0,"dropped":0,"over_errors":0,"multicast":0},
                       "tx":{"bytes":3000,"packets":20,"errors":0,"dropped":1,"carrier_errors":0,"collisions":0}}}]"#;
        let c = parse_ip_json(text).unwrap();
        assert_eq!(
            c,
            LinkCounters {
                rx_packets: 10,
                tx_packets: 20,
                rx_bytes: 1000,
                tx_bytes: 3000
            }
        );
        let later = LinkCounters {
            rx_packets: 15,
            tx_packets: 40,
            rx_bytes: 1500,
            tx_bytes: 9000,
        };
        assert_eq!(later.packets_since(c), 25);
        assert_eq!(later.bytes_since(c), 6500);
        assert_eq!(c.packets_since(later), 0);
    }

    #[test]
    fn bad_output_is_an_error() {
        assert!(parse_ip_json("[]").is_err());
        assert!(parse_ip_json("Device \"x\" does not exist.").is_err());
        assert!(parse_ip_json(r#"[{"ifname":"x"}]"#).is_err());
    }
}
