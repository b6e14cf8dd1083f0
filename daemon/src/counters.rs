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
    /// Packets read from the TUN (after splitting offloaded super-packets).
    pub tun_in: u64,
    /// Inner packets written to the TUN (before coalescing).
    pub tun_out: u64,
}
