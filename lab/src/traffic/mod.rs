//! The lab's traffic generator: what `mip6-lab udp-peer`, `mip6-lab tcp-sink` and
//! `mip6-lab tcp-source` run inside the lab's namespaces (the demo spawns them with
//! [`crate::Lab::command_in`]).
//!
//! | module | what |
//! | --- | --- |
//! | [`datagram`] | the UDP test datagram: magic, kind, phase id, sequence number, send time |
//! | [`account`] | loss, duplication and reordering of one stream, without sockets |
//! | [`udp`] | a UDP peer: sends at a rate, counts what the other side sends, reports JSON |
//! | [`tcp`] | TCP goodput: a sink and a source |
//!
//! Each run is one phase: the demo starts one pair of peers per phase, both given the
//! same start time so neither sends before the other has bound its socket.
//!
//! Not supported: IPv4, more than one peer per process, pacing finer than the OS
//! timer (a peer catches up with a short burst when it falls behind).

pub mod account;
pub mod datagram;
pub mod tcp;
pub mod udp;

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (wall clock, shared by every namespace of the
/// host, so a send time stamped in one namespace compares with a receive time in
/// another).
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
