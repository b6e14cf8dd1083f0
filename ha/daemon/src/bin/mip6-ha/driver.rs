//! The event loop: moves bytes and time between the OS ([`Io`]) and the engine
//! ([`HomeAgent`]), following the engine's driver contract (mip6-ha crate docs):
//!
//! 1. take a batch of inputs — frames from the packet sockets or the ESP socket
//!    (`recvmmsg`), packets from the TUN, or a deadline — with **one `now` per
//!    batch**, read once and given to the engine and the capture alike;
//! 2. feed them to `handle` / `seal_data` / `handle_timeout` (recording each input in
//!    the capture first: `handle` decrypts in place);
//! 3. drain `poll_event`: routes and proxy entries, key and binding logs, and every
//!    `Persist` record stored (one durable transaction) **before anything is sent**;
//! 4. write delivered inner packets to the TUN, send sealed tunnel frames and the
//!    queued BAs (`sendmmsg`).
//!
//! The engine is called only from recorded inputs (status requests read it without
//! changing it), so a capture replays byte for byte. Nothing here parses protocol
//! beyond reading the SPI of a frame for the per-SA counters.

use std::collections::HashMap;
use std::io;
use std::net::Ipv6Addr;
use std::ops::Range;

use mip6_daemon::clock;
use mip6_daemon::rng::DaemonRng;
use mip6_ha::persist::MnRecord;
use mip6_ha::{
    BindingChange, DataError, Event, HomeAgent, KeyChange, Received, RouteChange, Transmit,
};
use mip6_ha_daemon::store::{StateStore, StoreError};
use mip6_netio::{
    NextHop, RecvMeta, TunWriteBatch, MAX_BATCH, READ_SCRATCH_LEN, SEGMENTS_PER_READ,
};
use mip6_wire::frames::{esp_spi, DATA_HEADROOM};
use mip6_wire::Time;
use serde_json::Value;

use crate::capture::Capture;
use crate::io::Io;
use crate::routes::Routes;
use crate::stats::{DriverDrop, Stats};
use crate::status::{status_json, StatusInput};

/// Offset of the first octet of the destination address in an IPv6 header.
const IPV6_DST_FIRST: usize = 24;
/// Largest IPv6 packet with its header (65535 payload + 40).
const MAX_FRAME: usize = 65_535 + 40;
/// Room after a TUN packet for the ESP trailer (padding, pad length, next header, ICV).
const TRAILER_ROOM: usize = 64;
/// How long a next hop learned from a care-of address's frames is used without a new
/// frame.
const NEXT_HOP_FRESH: std::time::Duration = std::time::Duration::from_secs(3);
/// Care-of addresses whose next hop is remembered, at most (then the table restarts).
const NEXT_HOPS_MAX: usize = 65_536;
/// From this many configured mobile nodes on, each received batch is first handed to
/// [`HomeAgent::prefetch`]: the engine's state then outgrows the caches, and
/// overlapping the batch's misses pays (mip6-wire/BENCHMARKS.md, issue 3); below it
/// the extra header walk would only cost.
pub const PREFETCH_FROM_MNS: usize = 4096;
/// Packet buffers for one TUN batch: reading goes on while a whole super-packet's worth
/// ([`SEGMENTS_PER_READ`]) is free, so a batch holds at least that many packets when
/// the TUN is busy.
const TUN_BATCH: usize = 2 * SEGMENTS_PER_READ;

/// The engine and everything the loop keeps beside it.
pub struct Driver {
    /// The engine.
    pub engine: HomeAgent<DaemonRng>,
    store: StateStore,
    /// The capture, with `--capture`.
    pub capture: Option<Capture>,
    /// Counters beside the engine's.
    pub stats: Stats,
    /// Routes and proxy entries of bound home addresses.
    pub routes: Routes,
    /// Hand each received batch to [`HomeAgent::prefetch`] first.
    pub prefetch: bool,
    address: Ipv6Addr,
    persistence: bool,
    net_bufs: Vec<Vec<u8>>,
    net_meta: Vec<RecvMeta>,
    tun_bufs: Vec<Vec<u8>>,
    tun_sizes: Vec<usize>,
    tun_scratch: Vec<u8>,
    tun_out: TunWriteBatch,
    /// Per care-of address, the neighbour its last authenticated frame came through,
    /// and when ([`mip6_netio::link_send`]).
    next_hops: HashMap<Ipv6Addr, (NextHop, Time)>,
    delivered: Vec<(usize, Range<usize>)>,
    sealed: Vec<(usize, usize)>,
    persist: Vec<MnRecord>,
    transmits: Vec<Transmit>,
}

/// The store failed: the driver may not send what the engine queued after the record.
#[derive(Debug, thiserror::Error)]
#[error("storing persistence records failed, refusing to send: {0}")]
pub struct PersistFailed(#[from] StoreError);

impl Driver {
    /// A driver around a constructed engine and its store; `tun_mtu` sizes the buffers
    /// of packets read from the TUN.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: HomeAgent<DaemonRng>,
        store: StateStore,
        capture: Option<Capture>,
        stats: Stats,
        routes: Routes,
        address: Ipv6Addr,
        persistence: bool,
        tun_mtu: u16,
    ) -> Self {
        Driver {
            engine,
            store,
            capture,
            stats,
            routes,
            prefetch: false,
            address,
            persistence,
            net_bufs: (0..MAX_BATCH).map(|_| vec![0; MAX_FRAME]).collect(),
            net_meta: vec![RecvMeta::default(); MAX_BATCH],
            tun_bufs: (0..TUN_BATCH)
                .map(|_| vec![0; DATA_HEADROOM + usize::from(tun_mtu) + TRAILER_ROOM])
                .collect(),
            tun_sizes: vec![0; TUN_BATCH],
            tun_scratch: vec![0; READ_SCRATCH_LEN],
            tun_out: TunWriteBatch::new(),
            next_hops: HashMap::new(),
            delivered: Vec::with_capacity(MAX_BATCH),
            sealed: Vec::with_capacity(MAX_BATCH),
            persist: Vec::new(),
            transmits: Vec::new(),
        }
    }

    /// The parts shutdown undoes: routes (with the netlink handle) and the capture.
    pub fn into_parts(self) -> (Routes, Option<Capture>) {
        (self.routes, self.capture)
    }

    /// The status JSON as of now.
    pub fn status(&self) -> Value {
        status_json(&StatusInput {
            engine: &self.engine,
            address: self.address,
            persistence: self.persistence,
            stats: &self.stats,
            now: clock::now(),
        })
    }

    /// The metrics text as of now.
    pub fn metrics(&self) -> String {
        let now = clock::now();
        let bindings = self
            .stats
            .keys
            .iter()
            .filter(|(hoa, _)| self.engine.binding(hoa).is_some_and(|b| b.expires_at > now))
            .count();
        crate::metrics::render(bindings, self.engine.counters(), &self.stats)
    }

    /// Receives one batch from packet socket `index` (signalling) and handles it.
    pub async fn on_signalling(&mut self, io: &Io, index: usize) -> Result<(), PersistFailed> {
        let Some(fd) = io.signalling.get(index) else {
            return Ok(());
        };
        let got = match fd.readable().await {
            Ok(mut guard) => {
                let mut bufs: Vec<&mut [u8]> =
                    self.net_bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
                match guard.try_io(|s| s.get_ref().recv_batch(&mut bufs, &mut self.net_meta)) {
                    Ok(r) => r,
                    Err(_would_block) => return Ok(()),
                }
            }
            Err(e) => Err(e),
        };
        self.on_frames(io, got, "packet socket").await
    }

    /// Receives one batch from the ESP socket (tunnel frames) and handles it.
    pub async fn on_esp(&mut self, io: &Io) -> Result<(), PersistFailed> {
        let got = match io.esp.readable().await {
            Ok(mut guard) => {
                let mut bufs: Vec<&mut [u8]> =
                    self.net_bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
                match guard.try_io(|s| s.get_ref().recv_batch(&mut bufs, &mut self.net_meta)) {
                    Ok(r) => r,
                    Err(_would_block) => return Ok(()),
                }
            }
            Err(e) => Err(e),
        };
        self.on_frames(io, got, "ESP socket").await
    }

    async fn on_frames(
        &mut self,
        io: &Io,
        got: io::Result<usize>,
        from: &str,
    ) -> Result<(), PersistFailed> {
        let n = match got {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, socket = from, "receive failed");
                return Ok(());
            }
        };
        let now = clock::now();
        self.delivered.clear();
        if self.prefetch && n > 1 {
            self.engine.prefetch(
                self.net_bufs
                    .iter()
                    .zip(&self.net_meta)
                    .take(n)
                    .map(|(b, m)| &b[..m.len.min(b.len())]),
            );
        }
        for i in 0..n {
            self.stats.frames.net_in += 1;
            let meta = self.net_meta[i];
            if meta.truncated {
                self.stats.drop(DriverDrop::Truncated);
                tracing::debug!(len = meta.len, "truncated frame dropped");
                continue;
            }
            let frame = &mut self.net_bufs[i][..meta.len];
            if let Some(c) = &mut self.capture {
                c.pcap.net_in(now, frame);
            }
            let spi = esp_spi(frame);
            let source = frame
                .get(8..24)
                .and_then(|s| <[u8; 16]>::try_from(s).ok())
                .map(Ipv6Addr::from);
            let received = self.engine.handle(now, frame);
            // Only a frame the engine authenticated may teach the next hop.
            if let (Some(hop), Some(coa), false) = (
                meta.next_hop(),
                source,
                matches!(received, Received::Dropped(_)),
            ) {
                if self.next_hops.len() >= NEXT_HOPS_MAX && !self.next_hops.contains_key(&coa) {
                    self.next_hops.clear();
                }
                self.next_hops.insert(coa, (hop, now));
            }
            match received {
                Received::Delivered { inner, .. } => {
                    if let Some(spi) = spi {
                        self.stats.opened(spi);
                    }
                    self.delivered.push((i, inner));
                }
                Received::Consumed { .. } => {
                    if let Some(spi) = spi {
                        self.stats.opened(spi);
                    }
                }
                Received::Dropped(_) => {} // counted and traced by the engine
            }
        }
        self.settle(now).await?;
        for (i, inner) in self.delivered.drain(..) {
            let Some(packet) = self.net_bufs[i].get(inner) else {
                continue;
            };
            if let Some(c) = &mut self.capture {
                c.pcap.tun_out(now, packet);
            }
            if !self.tun_out.push(packet) {
                self.stats.drop(DriverDrop::TunWriteFailed);
            }
        }
        let queued = self.tun_out.len() as u64;
        match io.tun.get_ref().send_batch(&mut self.tun_out) {
            Ok(_) => self.stats.frames.tun_out += queued,
            Err(e) => {
                self.stats.drop(DriverDrop::TunWriteFailed);
                tracing::debug!(error = %e, packets = queued, "TUN write failed");
            }
        }
        self.flush_transmits(io, now).await;
        Ok(())
    }

    /// Reads a batch of packets from the TUN (super-packets split into segments),
    /// tunnels them, sends them.
    pub async fn on_tun(&mut self, io: &Io) -> Result<(), PersistFailed> {
        let mut n = 0;
        while self.tun_bufs.len() - n >= SEGMENTS_PER_READ {
            let mut guard = match io.tun.readable().await {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(error = %e, "TUN readiness failed");
                    break;
                }
            };
            let read = guard.try_io(|t| {
                t.get_ref().recv_segments(
                    &mut self.tun_scratch,
                    &mut self.tun_bufs[n..],
                    &mut self.tun_sizes[n..],
                    DATA_HEADROOM,
                )
            });
            match read {
                Ok(Ok(k)) => n += k,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => {
                    // A packet that could not be split is consumed: go on. An error of
                    // the descriptor itself would repeat: stop this batch.
                    self.stats.drop(DriverDrop::TunReadFailed);
                    tracing::warn!(error = %e, "TUN read failed");
                    if e.raw_os_error().is_some() {
                        break;
                    }
                }
                Err(_would_block) => break,
            }
        }
        if n == 0 {
            return Ok(());
        }
        let now = clock::now();
        self.sealed.clear();
        for (i, &len) in self.tun_sizes[..n].iter().enumerate() {
            self.stats.frames.tun_in += 1;
            let buf = &mut self.tun_bufs[i];
            // The kernel's own link-local chatter on the TUN (MLD reports, router
            // solicitations): never for a home address, not an engine input.
            if buf.get(DATA_HEADROOM + IPV6_DST_FIRST) == Some(&0xff) {
                self.stats.drop(DriverDrop::TunMulticast);
                continue;
            }
            if let Some(c) = &mut self.capture {
                c.pcap.tun_in(now, &buf[DATA_HEADROOM..DATA_HEADROOM + len]);
            }
            match self.engine.seal_data(now, buf, len) {
                Ok(frame) => self.sealed.push((i, frame.len)),
                Err(e) => {
                    let reason = match e {
                        DataError::UnknownHomeAddress(_) => DriverDrop::TunUnknownHomeAddress,
                        DataError::NotBound(_) => DriverDrop::TunNotBound,
                        _ => DriverDrop::TunSealFailed,
                    };
                    self.stats.drop(reason);
                    tracing::debug!(error = %e, "packet from the TUN not tunnelled");
                }
            }
        }
        self.settle(now).await?;
        let frames: Vec<&[u8]> = self
            .sealed
            .iter()
            .map(|&(i, len)| &self.tun_bufs[i][..len])
            .collect();
        for frame in &frames {
            if let Some(c) = &mut self.capture {
                c.pcap.net_out(now, frame);
            }
            self.stats.frames.net_out += 1;
            if let Some(spi) = esp_spi(frame) {
                self.stats.sealed(spi);
            }
        }
        // Frames to a care-of address heard from lately go straight to its next hop, in
        // runs of one next hop; the others are routed.
        let next_hop = |frame: &[u8]| {
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(frame.get(24..40)?).ok()?);
            let &(hop, at) = self.next_hops.get(&dst)?;
            (now.saturating_since(at) < NEXT_HOP_FRESH).then_some(hop)
        };
        let mut routed: Vec<&[u8]> = Vec::new();
        let mut failed = 0u64;
        let mut direct = 0u64;
        let mut at = 0;
        while at < frames.len() {
            let (Some(link), Some(hop)) = (&io.link, next_hop(frames[at])) else {
                routed.push(frames[at]);
                at += 1;
                continue;
            };
            let run = frames[at..]
                .iter()
                .take_while(|f| next_hop(f) == Some(hop))
                .count();
            let mut done = 0;
            while done < run {
                match link.send_batch(&frames[at + done..at + run], hop) {
                    Ok(n) if n > 0 => {
                        done += n;
                        direct += n as u64;
                    }
                    Ok(_) => break,
                    Err(e) => {
                        failed += 1;
                        tracing::debug!(error = %e, "tunnel frame not sent to the next hop");
                        done += 1;
                    }
                }
            }
            failed += (run - done) as u64;
            at += run;
        }
        self.stats.frames.net_out_link += direct;
        io.send_all(&routed, |_, e| {
            failed += 1;
            tracing::debug!(error = %e, "tunnel frame not sent");
        })
        .await;
        for _ in 0..failed {
            self.stats.drop(DriverDrop::SendFailed);
        }
        self.flush_transmits(io, now).await;
        Ok(())
    }

    /// Advances the engine's timers to now.
    pub async fn on_timeout(&mut self, io: &Io) -> Result<(), PersistFailed> {
        let now = clock::now();
        if let Some(c) = &mut self.capture {
            c.pcap.timeout(now);
        }
        self.engine.handle_timeout(now);
        self.settle(now).await?;
        self.flush_transmits(io, now).await;
        Ok(())
    }

    /// Drains the engine's events: routes, logs, and every `Persist` record stored in
    /// one durable transaction. Called after every batch, before anything is sent.
    pub async fn settle(&mut self, now: Time) -> Result<(), PersistFailed> {
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::Persist(record) => {
                    self.stats.note_record(&record, now);
                    if let Some(c) = &mut self.capture {
                        c.add_record(&record);
                    }
                    self.persist.push(record);
                }
                Event::Route(RouteChange::Install {
                    home_address,
                    care_of_address,
                }) => {
                    tracing::info!(hoa = %home_address, coa = %care_of_address, "route home address into the TUN");
                    if let Err(e) = self.routes.install(home_address).await {
                        self.stats.drop(DriverDrop::RouteFailed);
                        tracing::error!(hoa = %home_address, error = %e, "route or proxy entry not installed");
                    }
                }
                Event::Route(RouteChange::Remove { home_address }) => {
                    tracing::info!(hoa = %home_address, "route of home address removed");
                    if let Err(e) = self.routes.remove(home_address).await {
                        tracing::warn!(hoa = %home_address, error = %e, "route or proxy entry not removed");
                    }
                }
                Event::Keys(KeyChange {
                    home_address,
                    kind,
                    generation,
                }) => {
                    self.stats.key_event(kind);
                    tracing::info!(hoa = %home_address, %kind, generation, "key distribution");
                }
                Event::Binding {
                    home_address,
                    change,
                } => match change {
                    BindingChange::Added(b) => {
                        tracing::info!(hoa = %home_address, coa = %b.care_of_address, sequence = b.sequence.0, lifetime_s = b.lifetime_secs, "binding added")
                    }
                    BindingChange::Updated(b) => {
                        tracing::info!(hoa = %home_address, coa = %b.care_of_address, sequence = b.sequence.0, lifetime_s = b.lifetime_secs, "binding updated")
                    }
                    BindingChange::Removed(cause) => {
                        tracing::info!(hoa = %home_address, ?cause, "binding removed")
                    }
                },
            }
        }
        if !self.persist.is_empty() {
            self.store.put_many(&self.persist)?;
            self.persist.clear();
        }
        Ok(())
    }

    /// Sends every queued BA.
    async fn flush_transmits(&mut self, io: &Io, now: Time) {
        self.transmits.clear();
        while let Some(t) = self.engine.poll_transmit() {
            self.transmits.push(t);
        }
        if !self.transmits.is_empty() {
            for t in &self.transmits {
                if let Some(c) = &mut self.capture {
                    c.pcap.net_out(now, &t.frame);
                }
                self.stats.frames.net_out += 1;
                if let Some(spi) = esp_spi(&t.frame) {
                    self.stats.sealed(spi);
                }
                tracing::debug!(destination = %t.destination, len = t.frame.len(), "BA sent");
            }
            let frames: Vec<&[u8]> = self.transmits.iter().map(|t| t.frame.as_slice()).collect();
            let mut failed = 0u64;
            io.send_all(&frames, |f, e| {
                failed += 1;
                tracing::warn!(error = %e, len = f.len(), "BA not sent");
            })
            .await;
            for _ in 0..failed {
                self.stats.drop(DriverDrop::SendFailed);
            }
        }
        if let Some(c) = &mut self.capture {
            c.pcap.flush();
        }
    }
}
