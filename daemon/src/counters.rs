//! Counters both drivers keep beside their engine's (daemon contract, status JSON
//! `frames`).

/// Frames and packets on each path of a driver, counted where the driver hands them on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Frames {
    /// Frames received from the network and handed to the engine (signalling and
    /// tunnel frames).
    pub net_in: u64,
    /// Frames the engine produced that the kernel took (BUs/BAs and tunnel frames).
    pub net_out: u64,
    /// Of `net_out`, tunnel frames handed straight to the next hop
    /// (`mip6_netio::link_send`) instead of being routed by the kernel.
    pub net_out_link: u64,
    /// Packets read from the TUN (after splitting offloaded super-packets).
    pub tun_in: u64,
    /// Inner packets written to the TUN (before coalescing).
    pub tun_out: u64,
    /// Neighbor Discovery packets from the home link handed to the engine (home agent).
    pub link_in: u64,
    /// Packets the engine sent on the home link (proxy advertisements, probes).
    pub link_out: u64,
    /// Datagrams the UDP socket received (RFC 3948): tunnel frames, which `net_in`
    /// counts too, and NAT keepalives, which it does not (they are counted as the
    /// `udp_keepalive` drop). Signalling in UDP comes through the packet sockets.
    pub udp_in: u64,
    /// Of `net_out`, tunnel frames sent in UDP through the UDP socket.
    pub udp_out: u64,
    /// Segmented sends (`UDP_SEGMENT`) that carried them: `udp_out / udp_gso_sends`
    /// frames per system call.
    pub udp_gso_sends: u64,
    /// NAT keepalives sent (RFC 3948 §2.3; the mobile node).
    pub udp_keepalives: u64,
}

impl Frames {
    /// Each counter with its name in the status JSON and the metrics' `path` label.
    pub fn by_path(&self) -> [(&'static str, u64); 11] {
        [
            ("net_in", self.net_in),
            ("net_out", self.net_out),
            ("net_out_link", self.net_out_link),
            ("tun_in", self.tun_in),
            ("tun_out", self.tun_out),
            ("link_in", self.link_in),
            ("link_out", self.link_out),
            ("udp_in", self.udp_in),
            ("udp_out", self.udp_out),
            ("udp_gso_sends", self.udp_gso_sends),
            ("udp_keepalives", self.udp_keepalives),
        ]
    }

    /// The status JSON's `frames` object.
    pub fn to_json(&self) -> serde_json::Value {
        self.by_path()
            .iter()
            .map(|&(k, v)| (k.to_owned(), serde_json::Value::from(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_named_once_in_json_and_labels() {
        let f = Frames {
            net_in: 1,
            net_out: 2,
            net_out_link: 3,
            tun_in: 4,
            tun_out: 5,
            link_in: 6,
            link_out: 7,
            udp_in: 8,
            udp_out: 9,
            udp_gso_sends: 10,
            udp_keepalives: 11,
        };
        assert_eq!(
            f.to_json(),
            serde_json::json!({"net_in":1,"net_out":2,"net_out_link":3,"tun_in":4,"tun_out":5,"link_in":6,"link_out":7,"udp_in":8,"udp_out":9,"udp_gso_sends":10,"udp_keepalives":11})
        );
        let names: std::collections::BTreeSet<_> = f.by_path().iter().map(|p| p.0).collect();
        assert_eq!(names.len(), 11);
    }
}
