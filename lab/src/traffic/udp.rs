//! A UDP peer (`mip6-lab udp-peer`): sends numbered datagrams ([`super::datagram`]) at
//! a fixed rate from a bound address to its peer, and accounts for what the peer sends
//! back ([`super::account`]). Two of them, one at each end, measure a phase both ways.
//!
//! Timeline: bind (retrying while the address does not exist yet, e.g. a home address
//! the MN daemon is still configuring) → wait for the common start time → send for the
//! duration while receiving → send the end message three times, 50 ms apart →
//! keep receiving for the linger time → report.
//!
//! A datagram whose `send_to` fails (no route while the MN moves, a port unreachable
//! while the peer is not up) still consumed its number, so the receiver counts it as
//! lost; the sender counts it in `send_errors` as well.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::account::{Arrival, SeqAccount, StreamCounts};
use super::datagram::{Datagram, Kind, HEADER_LEN};
use super::unix_micros;

/// How long binding is retried while the local address does not exist.
const BIND_RETRY: Duration = Duration::from_secs(3);
/// End messages sent, and their spacing.
const END_COPIES: u32 = 3;
const END_SPACING: Duration = Duration::from_millis(50);
/// Most datagrams sent in one go when the sender fell behind its schedule.
const MAX_BURST: u32 = 64;

/// What one peer does.
#[derive(Debug, Clone)]
pub struct UdpPeerConfig {
    /// Local address to bind (the source of every datagram).
    pub bind: SocketAddr,
    /// The other peer.
    pub peer: SocketAddr,
    /// Datagrams per second sent (0: receive only).
    pub rate_pps: u32,
    /// How long to send.
    pub duration: Duration,
    /// Phase id carried in every datagram; datagrams of other phases are foreign.
    pub phase: u32,
    /// When to start sending, µs since the epoch (None: right after binding).
    pub start_at_us: Option<u64>,
    /// How long to keep receiving after the last datagram was sent.
    pub linger: Duration,
    /// Datagram size in octets (at least the header).
    pub size: usize,
    /// Record every first arrival (sequence, send time, receive time) in the report.
    pub record_arrivals: bool,
}

/// One first arrival: sequence number, send time and receive time (µs since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalRecord(pub u64, pub u64, pub u64);

impl ArrivalRecord {
    /// The sequence number.
    pub fn sequence(&self) -> u64 {
        self.0
    }
    /// When the peer sent it.
    pub fn sent_us(&self) -> u64 {
        self.1
    }
    /// When it arrived.
    pub fn received_us(&self) -> u64 {
        self.2
    }
}

/// What a peer prints (as JSON) when it is done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UdpPeerReport {
    /// The phase id.
    pub phase: u32,
    /// Local address.
    pub bind: String,
    /// Peer address.
    pub peer: String,
    /// When sending started, µs since the epoch.
    pub started_us: u64,
    /// Data datagrams sent (numbers used), including those whose send failed.
    pub sent: u64,
    /// Sends that failed locally.
    pub send_errors: u64,
    /// The received stream's counts.
    #[serde(flatten)]
    pub rx: StreamCounts,
    /// Datagrams that were not ours (wrong source, magic, phase or kind).
    pub foreign: u64,
    /// First arrivals in arrival order, when asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<ArrivalRecord>,
}

/// Why a peer could not run.
#[derive(Debug, thiserror::Error)]
pub enum UdpPeerError {
    /// The datagram size is below the header.
    #[error("datagram size {0} is below the {HEADER_LEN}-octet header")]
    Size(usize),
    /// Binding failed (after retries for a missing address).
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A socket call other than send failed.
    #[error("socket error: {0}")]
    Socket(#[from] io::Error),
}

/// Binds `addr`, retrying for `BIND_RETRY` while it is not (yet) a local address.
pub fn bind_retrying(addr: SocketAddr) -> Result<UdpSocket, UdpPeerError> {
    let deadline = Instant::now() + BIND_RETRY;
    loop {
        match UdpSocket::bind(addr) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(source) => return Err(UdpPeerError::Bind { addr, source }),
        }
    }
}

/// Runs one peer to completion (see the module doc) and returns its report.
pub fn run(config: &UdpPeerConfig) -> Result<UdpPeerReport, UdpPeerError> {
    if config.size < HEADER_LEN {
        return Err(UdpPeerError::Size(config.size));
    }
    let socket = bind_retrying(config.bind)?;
    // At most one second of the expected stream, plus slack, is kept in memory.
    let limit = u64::from(config.rate_pps.max(1)) * (config.duration.as_secs() + 2) * 2 + 1024;
    let mut account = SeqAccount::new(limit);
    let mut report = UdpPeerReport {
        phase: config.phase,
        bind: config.bind.to_string(),
        peer: config.peer.to_string(),
        ..UdpPeerReport::default()
    };

    if let Some(at) = config.start_at_us {
        let now = unix_micros();
        if at > now {
            thread::sleep(Duration::from_micros(at - now));
        }
    }
    report.started_us = unix_micros();
    let start = Instant::now();
    let end_send = start + config.duration;
    let end_all = end_send + END_SPACING * END_COPIES + config.linger;
    // The sender paces itself with `thread::sleep` (an hrtimer, microseconds) on a
    // thread of its own. It used to share one loop with the receiver and wake from a
    // receive timeout: `SO_RCVTIMEO` counts in jiffies (4 ms at HZ=250), so while the
    // other side was silent (around a move) it sent nothing for 4–12 ms, then a burst.
    let sender = {
        let socket = socket.try_clone()?;
        let config = config.clone();
        thread::spawn(move || send_paced(&socket, &config, start, end_send))
    };
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        if now >= end_all {
            break;
        }
        // Receives wake on arrival; the timeout only bounds the wait for the end.
        let timeout = end_all
            .saturating_duration_since(now)
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        socket.set_read_timeout(Some(timeout))?;
        match socket.recv_from(&mut buf) {
            Ok((len, from)) => receive(&buf[..len], from, config, &mut account, &mut report),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            // ICMP errors for earlier sends surface on receive (port unreachable while
            // the peer is not bound yet, no route while moving): not fatal.
            Err(e) => tracing::debug!(error = %e, "receive error"),
        }
    }
    let sent = sender
        .join()
        .map_err(|_| io::Error::other("the sender thread panicked"))?;
    report.sent = sent.sent;
    report.send_errors = sent.send_errors;
    report.rx = account.counts();
    Ok(report)
}

/// What the sender thread did.
#[derive(Debug, Default, Clone, Copy)]
struct Sent {
    sent: u64,
    send_errors: u64,
}

/// Sends the data datagrams at the configured rate from `start` until `end_send`
/// (falling behind, at most [`MAX_BURST`] at once), then the end messages.
fn send_paced(
    socket: &UdpSocket,
    config: &UdpPeerConfig,
    start: Instant,
    end_send: Instant,
) -> Sent {
    let mut out = vec![0u8; config.size];
    let mut sent = Sent::default();
    if let Some(interval) = (config.rate_pps > 0).then(|| Duration::from_secs(1) / config.rate_pps)
    {
        let mut next_send = start;
        while next_send < end_send {
            let now = Instant::now();
            if next_send > now {
                thread::sleep(next_send - now);
            }
            let now = Instant::now();
            let mut burst = 0;
            while next_send <= now && next_send < end_send && burst < MAX_BURST {
                send(socket, config, &mut out, Kind::Data, sent.sent, &mut sent);
                sent.sent += 1;
                next_send += interval;
                burst += 1;
            }
        }
    }
    let now = Instant::now();
    if end_send > now {
        thread::sleep(end_send - now);
    }
    for i in 0..END_COPIES {
        if i > 0 {
            thread::sleep(END_SPACING);
        }
        send(socket, config, &mut out, Kind::End, sent.sent, &mut sent);
    }
    sent
}

fn send(
    socket: &UdpSocket,
    config: &UdpPeerConfig,
    out: &mut [u8],
    kind: Kind,
    sequence: u64,
    sent: &mut Sent,
) {
    let d = Datagram {
        kind,
        phase: config.phase,
        sequence,
        sent_us: unix_micros(),
    };
    let len = match kind {
        Kind::Data => out.len(),
        Kind::End => HEADER_LEN,
    };
    d.emit(&mut out[..len]);
    if let Err(e) = socket.send_to(&out[..len], config.peer) {
        sent.send_errors += 1;
        tracing::debug!(error = %e, sequence, "send failed");
    }
}

fn receive(
    bytes: &[u8],
    from: SocketAddr,
    config: &UdpPeerConfig,
    account: &mut SeqAccount,
    report: &mut UdpPeerReport,
) {
    if from.ip() != config.peer.ip() {
        report.foreign += 1;
        tracing::debug!(%from, "datagram from a stranger dropped");
        return;
    }
    let d = match Datagram::parse(bytes) {
        Ok(d) if d.phase == config.phase => d,
        Ok(d) => {
            report.foreign += 1;
            tracing::debug!(phase = d.phase, "datagram of another phase dropped");
            return;
        }
        Err(e) => {
            report.foreign += 1;
            tracing::debug!(error = %e, "foreign datagram dropped");
            return;
        }
    };
    match d.kind {
        Kind::End => account.set_sender_total(d.sequence),
        Kind::Data => {
            let what = account.record(d.sequence);
            if config.record_arrivals && matches!(what, Arrival::InOrder | Arrival::Reordered) {
                report
                    .arrivals
                    .push(ArrivalRecord(d.sequence, d.sent_us, unix_micros()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two peers on loopback: every datagram arrives, both ways, and the end message
    /// sets the total.
    #[test]
    fn two_peers_on_loopback_lose_nothing() {
        let a: SocketAddr = "[::1]:0".parse().unwrap();
        // Find two free ports by binding and releasing.
        let pa = UdpSocket::bind(a).unwrap().local_addr().unwrap();
        let pb = UdpSocket::bind(a).unwrap().local_addr().unwrap();
        let start = unix_micros() + 100_000;
        let cfg = |bind, peer| UdpPeerConfig {
            bind,
            peer,
            rate_pps: 200,
            duration: Duration::from_millis(500),
            phase: 3,
            start_at_us: Some(start),
            linger: Duration::from_millis(200),
            size: 100,
            record_arrivals: true,
        };
        let (ca, cb) = (cfg(pa, pb), cfg(pb, pa));
        let ta = thread::spawn(move || run(&ca).unwrap());
        let rb = run(&cb).unwrap();
        let ra = ta.join().unwrap();
        for (me, other) in [(&ra, &rb), (&rb, &ra)] {
            assert!(me.sent >= 90, "{me:?}");
            assert_eq!(me.rx.sender_total, Some(other.sent));
            assert_eq!(me.rx.received, other.sent);
            assert_eq!((me.rx.lost, me.rx.duplicated, me.foreign), (0, 0, 0));
            assert_eq!(me.arrivals.len() as u64, other.sent);
        }
        let json = serde_json::to_value(&ra).unwrap();
        for key in [
            "sent",
            "received",
            "lost",
            "duplicated",
            "reordered",
            "arrivals",
        ] {
            assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
    }

    #[test]
    fn too_small_a_datagram_is_refused() {
        let c = UdpPeerConfig {
            bind: "[::1]:0".parse().unwrap(),
            peer: "[::1]:9".parse().unwrap(),
            rate_pps: 1,
            duration: Duration::ZERO,
            phase: 0,
            start_at_us: None,
            linger: Duration::ZERO,
            size: 8,
            record_arrivals: false,
        };
        assert!(matches!(run(&c), Err(UdpPeerError::Size(8))));
    }
}
