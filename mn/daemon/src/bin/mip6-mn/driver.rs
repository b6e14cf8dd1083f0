//! The event loop: moves bytes and time between the host ([`Host`]) and the sans-IO
//! [`MobileNode`], following the engine's driver contract (`mip6_mn` crate docs): after
//! every engine call, every `Persist` is written to the store **before** anything of
//! that round is sent.
//!
//! Every engine call takes a `now` read once for it (or for its batch), and every input
//! is recorded with that `now` in the capture before the call (a received frame before
//! `handle` decrypts it in place), so a replay makes the same calls.
//!
//! Inputs: BAs (packet socket), tunnel frames (raw ESP socket), packets from the TUN,
//! address events (movement detection), the engine's deadline, control and metrics
//! requests, SIGINT/SIGTERM.

use std::io;
use std::net::Ipv6Addr;

use mip6_daemon::capture::EngineCapture;
use mip6_daemon::clock;
use mip6_daemon::control::ControlRequest;
use mip6_daemon::metrics::MetricsRequest;
use mip6_mn::{DataError, DistributionKind, Event, MobileNode, Received};
use mip6_mn_daemon::store::StateStore;
use mip6_netio::addr_watch::AddrWatch;
use mip6_netio::{
    NextHop, RecvMeta, TunWriteBatch, MAX_BATCH, READ_SCRATCH_LEN, SEGMENTS_PER_READ,
};
use mip6_wire::frames::{esp_spi, DATA_HEADROOM};
use mip6_wire::Time;
use tokio::sync::mpsc;

use crate::keylog;
use crate::movement::CoaTracker;
use crate::setup::Host;
use crate::stats::{DriverDrop, Stats};
use crate::status::{self, Identity};

/// Receive buffer per frame: anything up to a jumbo frame on the foreign link.
const RECV_BUF: usize = 9216;
/// Packet buffers for one TUN batch: reading goes on while a whole super-packet's worth
/// ([`SEGMENTS_PER_READ`]) is free.
const TUN_BATCH: usize = 2 * SEGMENTS_PER_READ;
/// Room behind a TUN packet for the ESP trailer (padding, pad length, next header, ICV).
const TRAILER_ROOM: usize = 64;
/// How long a next hop learned from the HA's frames is used without a new frame.
const NEXT_HOP_FRESH: std::time::Duration = std::time::Duration::from_secs(3);
/// Batches taken from one descriptor before the loop looks at the others.
const BATCHES_PER_WAKE: usize = 8;

/// A failure that stops the daemon (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    /// The store refused a record: sending on could reuse a nonce after a crash.
    #[error("state store: {0}")]
    Store(#[from] mip6_mn_daemon::store::StoreError),
    /// A descriptor failed in a way that is not transient.
    #[error("{what}: {source}")]
    Io {
        /// Which descriptor.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The address watcher's connection ended.
    #[error("the rtnetlink address watcher stopped")]
    WatcherGone,
}

/// The engine and what the driver keeps beside it.
pub struct Driver {
    /// The engine.
    pub node: MobileNode,
    store: StateStore,
    capture: Option<EngineCapture>,
    /// The driver's counters.
    pub stats: Stats,
    id: Identity,
    tracker: CoaTracker,
    recv_bufs: Vec<Vec<u8>>,
    tun_bufs: Vec<Vec<u8>>,
    tun_sizes: Vec<usize>,
    tun_scratch: Vec<u8>,
    tun_out: TunWriteBatch,
    /// The neighbour the HA's last authenticated frame came through, and when: tunnel
    /// frames go straight to it while it is fresh ([`mip6_netio::link_send`]).
    ha_next_hop: Option<(NextHop, Time)>,
}

impl Driver {
    /// A driver for `node`.
    pub fn new(
        node: MobileNode,
        store: StateStore,
        capture: Option<EngineCapture>,
        stats: Stats,
        id: Identity,
        tracker: CoaTracker,
    ) -> Driver {
        Driver {
            node,
            store,
            capture,
            stats,
            id,
            tracker,
            recv_bufs: vec![vec![0; RECV_BUF]; MAX_BATCH],
            tun_bufs: vec![
                vec![
                    0;
                    DATA_HEADROOM + usize::from(crate::setup::TUN_MTU) + TRAILER_ROOM
                ];
                TUN_BATCH
            ],
            tun_sizes: vec![0; TUN_BATCH],
            tun_scratch: vec![0; READ_SCRATCH_LEN],
            tun_out: TunWriteBatch::new(),
            ha_next_hop: None,
        }
    }

    /// Tells the engine its (initial or new) care-of address and sends the BU.
    pub fn set_care_of(&mut self, host: &mut Host, coa: Option<Ipv6Addr>) -> Result<(), Fatal> {
        host.follow_care_of(coa);
        // A new link: the old next hop is not on it.
        self.ha_next_hop = None;
        let now = clock::now();
        tracing::info!(care_of_address = ?coa, "care-of address changed");
        if let Some(c) = &mut self.capture {
            c.care_of(now, coa);
        }
        self.stats.care_of(coa);
        self.node.set_care_of_address(now, coa);
        self.after_call(&*host, now)
    }

    /// Runs until SIGINT/SIGTERM (`Ok`) or a fatal error.
    pub async fn run(
        &mut self,
        host: &mut Host,
        watch: &mut AddrWatch,
        control: &mut mpsc::Receiver<ControlRequest>,
        metrics: &mut Option<mpsc::Receiver<MetricsRequest>>,
    ) -> Result<&'static str, Fatal> {
        let shutdown = mip6_daemon::signals::shutdown();
        tokio::pin!(shutdown);
        loop {
            let deadline = self.node.poll_timeout();
            let sleep_for = deadline.map_or(std::time::Duration::from_secs(3600), |d| {
                d.saturating_since(clock::now())
            });
            tokio::select! {
                signal = &mut shutdown => {
                    let signal = signal.map_err(|source| Fatal::Io { what: "signal handler", source })?;
                    return Ok(signal);
                }
                ready = host.signalling.readable() => {
                    let mut guard = ready.map_err(|source| Fatal::Io { what: "packet socket", source })?;
                    if self.drain_network(host, Source::Signalling)? {
                        guard.clear_ready();
                    }
                }
                ready = host.esp.readable() => {
                    let mut guard = ready.map_err(|source| Fatal::Io { what: "raw ESP socket", source })?;
                    if self.drain_network(host, Source::Esp)? {
                        guard.clear_ready();
                    }
                }
                ready = host.tun.readable() => {
                    let mut guard = ready.map_err(|source| Fatal::Io { what: "TUN", source })?;
                    if self.drain_tun(host)? {
                        guard.clear_ready();
                    }
                }
                event = watch.next() => {
                    let event = event.ok_or(Fatal::WatcherGone)?;
                    tracing::debug!(?event, "address event");
                    match self.tracker.apply(&event) {
                        // The last usable address went: the node is off every link,
                        // not at home (RFC 6275 §11.5.4 is for the home link). Telling
                        // the engine `None` would send a deregistration from the home
                        // address; keep the binding until a new address appears.
                        Some(None) => tracing::info!("no care-of address left: detached, waiting for a new one"),
                        Some(coa) => self.set_care_of(host, coa)?,
                        None => {}
                    }
                }
                Some(req) = control.recv() => {
                    let answer = match req.command.as_str() {
                        "status" => status::status_json(&self.node, &self.id, &self.stats, clock::now()),
                        other => serde_json::json!({"error": format!("unknown command {other:?}")}),
                    };
                    let _ = req.reply.send(answer);
                }
                Some(req) = recv_metrics(metrics) => {
                    let _ = req.reply.send(status::metrics_text(&self.node, &self.stats));
                }
                () = tokio::time::sleep(sleep_for), if deadline.is_some() => {
                    let now = clock::now();
                    if deadline.is_some_and(|d| now >= d) {
                        if let Some(c) = &mut self.capture {
                            c.timeout(now);
                        }
                        self.node.handle_timeout(now);
                        self.after_call(host, now)?;
                    }
                }
            }
            if let Some(c) = &mut self.capture {
                c.flush();
            }
        }
    }

    /// Takes up to [`BATCHES_PER_WAKE`] batches from a socket; `true` when it ran dry
    /// (`WouldBlock`), so the readiness may be cleared.
    fn drain_network(&mut self, host: &Host, source: Source) -> Result<bool, Fatal> {
        let mut bufs = std::mem::take(&mut self.recv_bufs);
        let result = self.drain_network_into(host, source, &mut bufs);
        self.recv_bufs = bufs;
        result
    }

    fn drain_network_into(
        &mut self,
        host: &Host,
        source: Source,
        bufs: &mut [Vec<u8>],
    ) -> Result<bool, Fatal> {
        let mut meta = [RecvMeta::default(); MAX_BATCH];
        for _ in 0..BATCHES_PER_WAKE {
            let mut slices: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
            let got = match source {
                Source::Signalling => host.signalling.get_ref().recv_batch(&mut slices, &mut meta),
                Source::Esp => host.esp.get_ref().recv_batch(&mut slices, &mut meta),
            };
            let got = match got {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source_err) => {
                    return Err(Fatal::Io {
                        what: source.name(),
                        source: source_err,
                    })
                }
            };
            let now = clock::now();
            for (buf, m) in bufs.iter_mut().zip(&meta).take(got) {
                if m.truncated {
                    self.stats.drop(DriverDrop::Truncated);
                    tracing::debug!(len = m.len, "truncated frame dropped");
                    continue;
                }
                self.handle_frame(host, now, &mut buf[..m.len], source, m.next_hop())?;
            }
            self.flush_tun(host);
            if got == 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn handle_frame(
        &mut self,
        host: &Host,
        now: Time,
        frame: &mut [u8],
        source: Source,
        next_hop: Option<NextHop>,
    ) -> Result<(), Fatal> {
        self.stats.frames.net_in += 1;
        if let Some(c) = &mut self.capture {
            c.net_in(now, frame);
        }
        let spi = esp_spi(frame);
        let from_ha = frame.get(8..24) == Some(&self.id.home_agent.octets()[..]);
        let received = self.node.handle(now, frame);
        if let (Some(s), false) = (spi, matches!(received, Received::Dropped(_))) {
            self.stats.spi_in(s);
        }
        // Only a frame the engine authenticated may teach the next hop.
        if let (Some(hop), true, false) =
            (next_hop, from_ha, matches!(received, Received::Dropped(_)))
        {
            self.ha_next_hop = Some((hop, now));
        }
        match received {
            Received::Delivered { inner, .. } => {
                if let Some(packet) = frame.get(inner) {
                    if let Some(c) = &mut self.capture {
                        c.tun_out(now, packet);
                    }
                    if !self.tun_out.push(packet) {
                        self.stats.drop(DriverDrop::TunWriteFailed);
                    }
                }
            }
            Received::Consumed { .. } => {}
            Received::Dropped(reason) => {
                tracing::debug!(%reason, from = source.name(), "frame dropped by the engine");
            }
        }
        self.after_call(host, now)
    }

    /// Reads up to [`MAX_BATCH`] packets from the TUN per batch, seals each, persists,
    /// then sends the batch with one `sendmmsg`.
    fn drain_tun(&mut self, host: &Host) -> Result<bool, Fatal> {
        let mut bufs = std::mem::take(&mut self.tun_bufs);
        let result = self.drain_tun_into(host, &mut bufs);
        self.tun_bufs = bufs;
        result
    }

    fn drain_tun_into(&mut self, host: &Host, bufs: &mut [Vec<u8>]) -> Result<bool, Fatal> {
        for _ in 0..BATCHES_PER_WAKE {
            let mut n = 0;
            let mut dry = false;
            while bufs.len() - n >= SEGMENTS_PER_READ {
                let read = host.tun.get_ref().recv_segments(
                    &mut self.tun_scratch,
                    &mut bufs[n..],
                    &mut self.tun_sizes[n..],
                    DATA_HEADROOM,
                );
                match read {
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        dry = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) if source.raw_os_error().is_some() => {
                        return Err(Fatal::Io {
                            what: "TUN",
                            source,
                        })
                    }
                    // A packet that could not be split is consumed: go on.
                    Err(e) => {
                        self.stats.drop(DriverDrop::TunReadFailed);
                        tracing::warn!(error = %e, "TUN read failed");
                    }
                }
            }
            let now = clock::now();
            let mut sealed: Vec<(usize, usize)> = Vec::with_capacity(n);
            for (i, buf) in bufs[..n].iter_mut().enumerate() {
                let n = self.tun_sizes[i];
                self.stats.frames.tun_in += 1;
                if let Some(c) = &mut self.capture {
                    c.tun_in(now, &buf[DATA_HEADROOM..DATA_HEADROOM + n]);
                }
                match self.node.seal_data(now, buf, n) {
                    Ok(frame) => {
                        if let Some(c) = &mut self.capture {
                            c.net_out(now, &buf[..frame.len]);
                        }
                        sealed.push((i, frame.len));
                    }
                    Err(e) => {
                        let why = match e {
                            DataError::NotAway => DriverDrop::TunNotAway,
                            DataError::WrongInnerSource(_) => DriverDrop::TunWrongSource,
                            DataError::Frame(_) => DriverDrop::TunBadPacket,
                        };
                        self.stats.drop(why);
                        tracing::debug!(error = %e, "TUN packet not tunnelled");
                    }
                }
            }
            // Persist first (a new sequence mark), then send.
            self.drain_events(now)?;
            let frames: Vec<&[u8]> = sealed.iter().map(|&(i, len)| &bufs[i][..len]).collect();
            let fresh = self
                .ha_next_hop
                .filter(|&(_, at)| now.saturating_since(at) < NEXT_HOP_FRESH)
                .map(|(hop, _)| hop);
            let sent = match (&host.link, fresh) {
                (Some(link), Some(hop)) => send_direct(link, hop, &frames, &mut self.stats),
                _ => send_all(host, &frames, &mut self.stats),
            };
            for f in &frames[..sent] {
                if let Some(spi) = esp_spi(f) {
                    self.stats.spi_out(spi);
                }
            }
            self.send_transmits(host, now)?;
            if dry {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Writes the inner packets delivered by the last batch into the TUN in one go
    /// (coalesced where the TUN's offloads allow).
    fn flush_tun(&mut self, host: &Host) {
        let queued = self.tun_out.len() as u64;
        match host.tun.get_ref().send_batch(&mut self.tun_out) {
            Ok(_) => self.stats.frames.tun_out += queued,
            Err(e) => {
                self.stats.drop(DriverDrop::TunWriteFailed);
                tracing::debug!(error = %e, packets = queued, "TUN write failed");
            }
        }
    }

    /// After an engine call: events (persist), then the queued signalling.
    fn after_call(&mut self, host: &Host, now: Time) -> Result<(), Fatal> {
        self.drain_events(now)?;
        self.send_transmits(host, now)
    }

    fn drain_events(&mut self, now: Time) -> Result<(), Fatal> {
        while let Some(event) = self.node.poll_event() {
            match event {
                Event::Persist(record) => self.store.put(&record)?,
                Event::KeysInstalled { generation, kind } => {
                    let kind_name = match kind {
                        DistributionKind::Initialization => {
                            self.stats.key_events.initialization += 1;
                            "initialization"
                        }
                        DistributionKind::Resend => {
                            self.stats.key_events.resend += 1;
                            "resend"
                        }
                        DistributionKind::Update => {
                            self.stats.key_events.update += 1;
                            "update"
                        }
                    };
                    self.stats.installed_at.insert(generation, now);
                    tracing::info!(generation, kind = kind_name, "key generation installed");
                    if let Some(c) = &mut self.capture {
                        if let Some(g) = self
                            .node
                            .record()
                            .newest
                            .filter(|g| g.generation == generation)
                        {
                            c.add_sas(keylog::generation_records(
                                self.id.home_address,
                                self.id.home_agent,
                                &g.secret,
                                g.spis,
                                g.suite,
                            ));
                        }
                    }
                }
                Event::KeysDropped => {
                    self.stats.init_since = now;
                    tracing::warn!("dynamic keys dropped after unanswered resends: re-initializing under the init key");
                }
                Event::Registered { coa, lifetime } => {
                    tracing::info!(care_of_address = %coa, lifetime_s = lifetime.as_secs(), "registered with the home agent");
                }
                Event::Deregistered => tracing::info!("deregistered: at home"),
                Event::Refused { status } => {
                    tracing::warn!(?status, "the home agent refused the Binding Update");
                }
            }
        }
        Ok(())
    }

    fn send_transmits(&mut self, host: &Host, now: Time) -> Result<(), Fatal> {
        let mut frames = Vec::new();
        while let Some(t) = self.node.poll_transmit() {
            if let Some(c) = &mut self.capture {
                c.net_out(now, &t.frame);
            }
            frames.push(t.frame);
        }
        if frames.is_empty() {
            return Ok(());
        }
        let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
        let sent = send_all(host, &refs, &mut self.stats);
        self.stats.bu_sent += sent as u64;
        for f in &refs[..sent] {
            if let Some(spi) = esp_spi(f) {
                self.stats.spi_out(spi);
            }
        }
        Ok(())
    }
}

/// Sends tunnel frames straight to `hop` in `sendmmsg` batches, counted as
/// [`send_all`] counts them (and as `net_out_link`).
fn send_direct(
    link: &mip6_netio::LinkSender,
    hop: NextHop,
    frames: &[&[u8]],
    stats: &mut Stats,
) -> usize {
    let mut at = 0;
    let mut sent = 0;
    while at < frames.len() {
        match link.send_batch(&frames[at..], hop) {
            Ok(n) if n > 0 => {
                at += n;
                sent += n;
                stats.frames.net_out += n as u64;
                stats.frames.net_out_link += n as u64;
            }
            Ok(_) => break,
            Err(e) => {
                stats.drop(DriverDrop::SendFailed);
                tracing::debug!(error = %e, len = frames[at].len(), "link-layer send failed");
                at += 1;
            }
        }
    }
    for _ in at..frames.len() {
        stats.drop(DriverDrop::SendFailed);
    }
    sent
}

/// Sends `frames` in `sendmmsg` batches; frames the kernel does not take are counted
/// as [`DriverDrop::SendFailed`]. Returns how many of the first frames were sent (a
/// failed frame is skipped and the rest still tried, so the count is of a prefix only
/// when none failed).
fn send_all(host: &Host, frames: &[&[u8]], stats: &mut Stats) -> usize {
    let mut at = 0;
    let mut sent = 0;
    while at < frames.len() {
        match host.sender.send_batch(&frames[at..]) {
            Ok(n) if n > 0 => {
                at += n;
                sent += n;
                stats.frames.net_out += n as u64;
            }
            Ok(_) => break,
            Err(e) => {
                stats.drop(DriverDrop::SendFailed);
                tracing::debug!(error = %e, len = frames[at].len(), "send failed");
                at += 1;
            }
        }
    }
    for _ in at..frames.len() {
        stats.drop(DriverDrop::SendFailed);
    }
    sent
}

async fn recv_metrics(rx: &mut Option<mpsc::Receiver<MetricsRequest>>) -> Option<MetricsRequest> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Which receive socket a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The BPF-filtered packet socket: BAs.
    Signalling,
    /// The raw ESP socket: tunnel frames.
    Esp,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Signalling => "packet socket",
            Source::Esp => "raw ESP socket",
        }
    }
}
