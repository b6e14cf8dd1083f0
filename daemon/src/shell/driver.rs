//! [`Shell`]: the event loop over a [`Role`] (module docs of [`crate::shell`]).

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use mip6_netio::{RecvMeta, TunWriteBatch, MAX_BATCH, READ_SCRATCH_LEN, SEGMENTS_PER_READ};
use mip6_wire::engine::{DataFrame, Engine, Received};
use mip6_wire::frames::DATA_HEADROOM;
use mip6_wire::udp_encap::{self, Ports};
use mip6_wire::Time;
use serde_json::Value;
use tokio::sync::mpsc;

use super::encap::UdpPeers;
use super::io::Io;
use super::key_log::{KeyLog, KeyMaterial};
use super::next_hops::NextHops;
use super::notice::{self, DropSummary, RateLimiter, Warning, WARN_EVERY};
use super::report::ReportInput;
use super::stats::{drop_names, ShellStats};
use super::{Handled, HostAction, LinkPacket, Ready, RecordOf, RecordsWanted, Role};
use crate::capture::EngineCapture;
use crate::clock;
use crate::control::{self, ControlRequest};
use crate::metrics::{self, MetricsRequest, Text};
use crate::signals::{Caught, Shutdown};
use crate::store::{BehindWrite, RecordStore, Store, StoreError};

/// The IPv6 header's length (RFC 8200 §3).
const HEADER_LEN: usize = 40;
/// Largest IPv6 packet with its header (65 535 payload + 40): the raw ESP socket
/// hands over what the kernel reassembled.
const MAX_FRAME: usize = 65_535 + 40;
/// Room after a TUN packet for the ESP trailer (padding, pad length, next header, ICV).
const TRAILER_ROOM: usize = 64;
/// Packet buffers for one TUN batch: reading goes on while a whole super-packet's worth
/// ([`SEGMENTS_PER_READ`]) is free, so a batch holds at least that many packets when
/// the TUN is busy.
const TUN_BATCH: usize = 2 * SEGMENTS_PER_READ;
/// Batches taken from one descriptor before the loop looks at the others.
const BATCHES_PER_WAKE: usize = 8;
/// The longest sleep when the engine has no deadline.
const IDLE_WAKE: Duration = Duration::from_secs(3600);
/// How often the packet sockets' kernel drop counters are read (also before every
/// status and metrics answer), so an overflow is logged within this long.
const SOCKET_STATS_EVERY: Duration = Duration::from_secs(10);

/// A failure that stops the daemon (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The store refused a record: sending on could reuse a nonce after a crash.
    #[error("storing persistence records failed, refusing to send: {0}")]
    Store(#[from] StoreError),
    /// A descriptor or server failed in a way that is not transient.
    #[error("{what}: {source}")]
    Io {
        /// Which one.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The role's host events ended (the mobile node's address watcher).
    #[error("{0}")]
    Host(String),
    /// Dropping the privileges after set-up failed: the daemon does not run with more
    /// than it needs.
    #[error("dropping privileges: {0}")]
    Privileges(#[from] crate::privileges::PrivilegeError),
}

/// The engine capture with the set of keys already in its key log.
#[derive(Debug)]
pub struct Capture {
    /// The pcapng writer.
    pub pcap: EngineCapture,
    keys: KeyLog,
}

impl Capture {
    /// Wraps a capture whose key log is empty.
    pub fn new(pcap: EngineCapture) -> Self {
        Capture {
            pcap,
            keys: KeyLog::default(),
        }
    }

    /// Adds the keys not in the key log yet.
    pub fn add_keys(&mut self, keys: impl IntoIterator<Item = KeyMaterial>) {
        for key in keys {
            let records = self.keys.entries(&key);
            if !records.is_empty() {
                self.pcap.add_sas(records);
            }
        }
    }
}

/// Where a batch of frames came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Packet socket `i`.
    Packet(usize),
    /// The raw ESP socket.
    Esp,
    /// The home link's Neighbor Discovery socket.
    HomeLink,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Packet(_) => "packet socket",
            Source::Esp => "raw ESP socket",
            Source::HomeLink => "home link Neighbor Discovery socket",
        }
    }
}

/// The daemon: the role, its I/O, its store, its capture, and the loop.
pub struct Shell<R: Role, S: RecordStore> {
    io: Io,
    core: Core<R, S>,
    drop_privileges: bool,
}

/// Everything but the I/O, so a readiness guard on the I/O and the engine can be held
/// at once.
struct Core<R: Role, S: RecordStore> {
    role: R,
    store: Store<S, R::Codec>,
    capture: Option<Capture>,
    stats: ShellStats,
    next_hops: NextHops,
    net_bufs: Vec<Vec<u8>>,
    net_meta: Vec<RecvMeta>,
    tun_bufs: Vec<Vec<u8>>,
    tun_sizes: Vec<usize>,
    tun_scratch: Vec<u8>,
    tun_out: TunWriteBatch,
    /// The records of this round, in the order the engine emitted them.
    persist: Vec<RecordOf<R>>,
    /// Records that may lag ([`Handled::PersistLagging`]) not yet handed to the store.
    lagging: Vec<RecordOf<R>>,
    /// The write of lagging records in flight on the store's own thread.
    behind: Option<BehindWrite>,
    /// How many records that write holds.
    behind_records: usize,
    warnings: Vec<Warning>,
    warn_limit: RateLimiter,
    drop_summary: DropSummary,
    delivered: Vec<(usize, Range<usize>)>,
    sealed: Vec<(usize, DataFrame)>,
    /// ESP in UDP: which peers get UDP ([`super::encap`]); `None` without it.
    udp_peers: Option<UdpPeers>,
    /// Per frame of the batch in `net_bufs`: the UDP source port it arrived from, if
    /// it came in UDP (what an authenticated frame teaches `udp_peers`).
    udp_ports: Vec<Option<u16>>,
    /// One receive of the UDP socket (with `UDP_GRO`, several datagrams).
    udp_scratch: Vec<u8>,
    /// Whether segmented sends work on this host (off after an `EIO`).
    gso: bool,
    /// When the last frame went out in UDP (NAT keepalives are due after a silence).
    udp_last_sent: Time,
    /// The care-of address the role last moved to (the keepalives' source).
    care_of: Option<Ipv6Addr>,
}

/// Where the frames of a batch in `net_bufs` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A packet socket or the raw ESP socket: whole IPv6 frames as on the wire.
    Frames,
    /// The UDP socket: ESP packets with an IPv6 header rebuilt in front.
    Udp,
}

impl<R: Role, S: RecordStore> std::fmt::Debug for Shell<R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("role", &R::NAME)
            .field("stats", &self.core.stats)
            .finish_non_exhaustive()
    }
}

impl<R: Role, S: RecordStore> Shell<R, S> {
    /// The shell around a role whose engine was built at `now`; `tun_mtu` sizes the
    /// buffers of packets read from the TUN.
    pub fn new(
        role: R,
        io: Io,
        store: Store<S, R::Codec>,
        capture: Option<Capture>,
        now: Time,
        tun_mtu: u16,
    ) -> Self {
        let tun_buf = DATA_HEADROOM + usize::from(tun_mtu) + TRAILER_ROOM;
        let udp = io
            .udp
            .as_ref()
            .map(|(fd, config)| (*config, fd.get_ref().supports_gso()));
        Shell {
            io,
            drop_privileges: false,
            core: Core {
                role,
                store,
                capture,
                stats: ShellStats::new(now),
                next_hops: NextHops::default(),
                net_bufs: (0..MAX_BATCH).map(|_| vec![0; MAX_FRAME]).collect(),
                net_meta: vec![RecvMeta::default(); MAX_BATCH],
                tun_bufs: (0..TUN_BATCH).map(|_| vec![0; tun_buf]).collect(),
                tun_sizes: vec![0; TUN_BATCH],
                tun_scratch: vec![0; READ_SCRATCH_LEN],
                tun_out: TunWriteBatch::new(),
                persist: Vec::new(),
                lagging: Vec::new(),
                behind: None,
                behind_records: 0,
                warnings: Vec::new(),
                warn_limit: RateLimiter::default(),
                drop_summary: DropSummary::default(),
                delivered: Vec::with_capacity(MAX_BATCH),
                sealed: Vec::with_capacity(TUN_BATCH),
                udp_peers: udp.map(|(config, _)| UdpPeers::new(config)),
                udp_ports: vec![None; MAX_BATCH],
                udp_scratch: if udp.is_some() {
                    vec![0; mip6_netio::udp_socket::MAX_PAYLOAD]
                } else {
                    Vec::new()
                },
                gso: udp.is_some_and(|(_, gso)| gso),
                udp_last_sent: now,
                care_of: None,
            },
        }
    }

    /// Whether [`Shell::run`] drops the process's privileges once its sockets are
    /// bound, keeping only [`crate::privileges::KEPT`] ([`crate::privileges`]); off
    /// until asked (a test running a shell in its own process keeps its privileges).
    pub fn set_drop_privileges(&mut self, drop: bool) {
        self.drop_privileges = drop;
    }

    /// The role.
    pub fn role(&self) -> &R {
        &self.core.role
    }

    /// The shell's counters.
    pub fn stats(&self) -> &ShellStats {
        &self.core.stats
    }

    /// Drains the engine's events (routes of bindings restored at start, …) and
    /// stores their records, then sends what the engine queued.
    pub async fn settle(&mut self, now: Time) -> Result<(), ShellError> {
        self.core.settle(now).await?;
        self.core.flush_transmits(&self.io, now).await;
        Ok(())
    }

    /// Tells the engine its care-of address (the mobile node's first one at start).
    pub async fn move_to(&mut self, care_of: Option<Ipv6Addr>) -> Result<(), ShellError> {
        let now = clock::now();
        self.core.move_to(&self.io, now, care_of).await
    }

    /// Serves the control socket and the metrics endpoint, drops the privileges if
    /// asked ([`Shell::set_drop_privileges`]: everything that needs more is open by
    /// then), logs `ready`, and runs the loop (reloading on SIGHUP) until SIGINT, SIGTERM or SIGQUIT (`Ok`) or a fatal
    /// error; then removes what the role installed (also after an error) and reports
    /// what could not be removed.
    pub async fn run(
        mut self,
        mut shutdown: Shutdown,
        control_socket: &Path,
        metrics_at: Option<SocketAddr>,
    ) -> Result<(), ShellError> {
        let served = serve(control_socket, metrics_at).await;
        let result = match served {
            Ok((control_server, mut control_rx, metrics_server, mut metrics_rx)) => {
                if self.drop_privileges {
                    if let Err(e) = crate::privileges::drop_privileges() {
                        drop(metrics_server);
                        drop(control_server);
                        return self.stop(Err(e.into())).await;
                    }
                }
                self.core.role.log_ready(Ready {
                    control_socket,
                    metrics: metrics_server.as_ref().map(|m| m.local_addr()),
                });
                let result = self
                    .event_loop(&mut shutdown, &mut control_rx, &mut metrics_rx)
                    .await;
                drop(metrics_server);
                drop(control_server);
                result
            }
            Err(e) => Err(e),
        };
        self.stop(result).await
    }

    /// Logs why the loop ended, flushes the capture, removes what the role installed.
    async fn stop(mut self, result: Result<&'static str, ShellError>) -> Result<(), ShellError> {
        match &result {
            Ok(signal) => tracing::info!(signal, "shutting down"),
            Err(e) => tracing::error!(error = %e, "stopping after a fatal error"),
        }
        // Lagging records reach the store before the daemon goes (after a store
        // failure this fails again and says so).
        if let Err(e) = self.core.catch_up_store().await {
            tracing::error!(error = %e, "lagging persistence records not stored at shutdown");
        }
        let Shell { io, core, .. } = self;
        let Core { role, capture, .. } = core;
        if let Some(mut c) = capture {
            c.pcap.flush();
        }
        let cleanup = role.shutdown().await;
        drop(io);
        if let Err(e) = &cleanup {
            tracing::warn!(error = %e, "cleanup incomplete");
        }
        tracing::info!("stopped");
        result.map(|_| ())
    }

    async fn event_loop(
        &mut self,
        shutdown: &mut Shutdown,
        control_rx: &mut mpsc::Receiver<ControlRequest>,
        metrics_rx: &mut Option<mpsc::Receiver<MetricsRequest>>,
    ) -> Result<&'static str, ShellError> {
        let mut socket_stats = tokio::time::interval(SOCKET_STATS_EVERY);
        socket_stats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut summary = tokio::time::interval(WARN_EVERY);
        summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // NAT keepalives are checked four times per interval (ESP in UDP, the MN).
        let keepalive_check = self
            .core
            .udp_peers
            .as_ref()
            .and_then(UdpPeers::keepalive_interval)
            .map_or(IDLE_WAKE, |k| {
                (k / 4).clamp(Duration::from_millis(250), Duration::from_secs(5))
            });
        let mut keepalive = tokio::time::interval(keepalive_check);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.core.role.engine().poll_timeout();
            let sleep_for = deadline.map_or(IDLE_WAKE, |d| {
                d.saturating_since(clock::now()).min(IDLE_WAKE)
            });
            tokio::select! {
                caught = shutdown.next() => match caught {
                    Caught::Stop(signal) => return Ok(signal),
                    Caught::Reload => self.core.reload(&self.io).await?,
                    Caught::Ignored(signal) => tracing::info!(signal, "signal ignored"),
                },
                index = self.io.signalling_readable() => {
                    self.core.drain_network(&self.io, Source::Packet(index)).await?;
                }
                ready = self.io.esp.readable() => {
                    // The drain below clears the readiness when a read would block.
                    ready
                        .map_err(|source| ShellError::Io { what: "raw ESP socket".into(), source })?
                        .retain_ready();
                    self.core.drain_network(&self.io, Source::Esp).await?;
                }
                ready = self.io.tun.readable() => {
                    ready
                        .map_err(|source| ShellError::Io { what: "TUN".into(), source })?
                        .retain_ready();
                    self.core.drain_tun(&self.io).await?;
                }
                event = self.core.role.next_host_event() => {
                    let event = event.map_err(ShellError::Host)?;
                    let action = self.core.role.on_host_event(event, &self.io).await;
                    if let HostAction::CareOf(care_of) = action {
                        self.core.move_to(&self.io, clock::now(), care_of).await?;
                    }
                    // What the event queued for a link (the mobile node's router
                    // solicitations and probes) leaves now.
                    self.core.flush_link_transmits(&self.io, clock::now());
                }
                () = self.io.home_link_readable() => {
                    self.core.drain_network(&self.io, Source::HomeLink).await?;
                }
                () = self.io.udp_readable() => {
                    self.core.drain_udp(&self.io).await?;
                }
                joined = behind_write_done(&mut self.core.behind) => {
                    self.core.behind_done(joined).await?;
                }
                _ = socket_stats.tick() => {
                    self.core.poll_socket_drops(&self.io);
                    if let Some(peers) = &mut self.core.udp_peers {
                        peers.prune(clock::now());
                    }
                }
                _ = summary.tick() => self.core.summarize_drops(),
                _ = keepalive.tick() => self.core.send_keepalive(&self.io),
                Some(request) = control_rx.recv() => {
                    self.core.poll_socket_drops(&self.io);
                    let answer = match request.command.as_str() {
                        "status" => self.core.status(&request.args),
                        other => self.core.control(&self.io, other, &request.args).await?,
                    };
                    let _ = request.reply.send(answer);
                }
                Some(request) = recv_metrics(metrics_rx) => {
                    self.core.poll_socket_drops(&self.io);
                    let _ = request.reply.send(self.core.metrics());
                }
                () = tokio::time::sleep(sleep_for), if deadline.is_some() => {
                    let now = clock::now();
                    if deadline.is_some_and(|d| now >= d) {
                        self.core.on_timeout(&self.io, now).await?;
                    }
                }
            }
            if let Some(c) = &mut self.core.capture {
                c.pcap.flush();
            }
            self.core.report_warnings();
        }
    }
}

/// The control socket and, if asked, the metrics endpoint.
async fn serve(
    control_socket: &Path,
    metrics_at: Option<SocketAddr>,
) -> Result<
    (
        control::ControlServer,
        mpsc::Receiver<ControlRequest>,
        Option<metrics::MetricsServer>,
        Option<mpsc::Receiver<MetricsRequest>>,
    ),
    ShellError,
> {
    let (control_server, control_rx) =
        control::serve(control_socket).map_err(|source| ShellError::Io {
            what: format!("control socket {}", control_socket.display()),
            source,
        })?;
    let (metrics_server, metrics_rx) = match metrics_at {
        Some(addr) => {
            let (server, rx) = metrics::serve(addr)
                .await
                .map_err(|source| ShellError::Io {
                    what: format!("metrics endpoint {addr}"),
                    source,
                })?;
            (Some(server), Some(rx))
        }
        None => (None, None),
    };
    Ok((control_server, control_rx, metrics_server, metrics_rx))
}

async fn recv_metrics(rx: &mut Option<mpsc::Receiver<MetricsRequest>>) -> Option<MetricsRequest> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl<R: Role, S: RecordStore> Core<R, S> {
    fn report_input(&self) -> ReportInput<'_> {
        ReportInput {
            stats: &self.stats,
            engine_drops: self.role.engine_drops(),
            now: clock::now(),
            page: crate::control::Page::default(),
        }
    }

    /// The status the control socket asks for, a page of its mobile nodes
    /// ([`crate::control::Page`]); bad arguments are an `error` answer.
    fn status(&self, args: &serde_json::Map<String, Value>) -> Value {
        let page = match crate::control::Page::from_args(args) {
            Ok(page) => page,
            Err(why) => return serde_json::json!({ "error": why }),
        };
        let input = ReportInput {
            page,
            ..self.report_input()
        };
        let mut status = input.common_status(R::NAME);
        status.extend(self.role.status(&input));
        Value::Object(status)
    }

    fn metrics(&self) -> String {
        let input = self.report_input();
        let text = self.role.metrics(&input, Text::new());
        input.common_metrics(R::NAME, text).finish()
    }

    /// A control command of the role ([`Role::control`]): its rows are written
    /// durably, then what the engine queued is stored and sent, then the answer goes
    /// back. A store failure is an `error` answer (the engine may have changed: the
    /// next persist of that node writes its record again).
    async fn control(
        &mut self,
        io: &Io,
        command: &str,
        args: &serde_json::Map<String, Value>,
    ) -> Result<Value, ShellError> {
        self.catch_up_store().await?;
        let stored = match self.role.records_wanted(command, args) {
            RecordsWanted::None => Ok(Vec::new()),
            RecordsWanted::All => self.store.load_all().await,
            RecordsWanted::Keys(keys) => self.store.load_records(&keys).await,
        };
        let stored = match stored {
            Ok(records) => records,
            Err(e) => {
                return Ok(
                    serde_json::json!({ "error": format!("the store could not be read: {e}") }),
                )
            }
        };
        let now = clock::now();
        let Some(outcome) = self.role.control(now, command, args, stored).await else {
            return Ok(serde_json::json!({ "error": format!("unknown command {command:?}") }));
        };
        if let Err(e) = self.store.write_rows(&outcome.put, &outcome.remove).await {
            tracing::error!(error = %e, command, "control command not stored");
            return Ok(serde_json::json!({ "error": format!("not stored: {e}") }));
        }
        self.settle(now).await?;
        self.flush_transmits(io, now).await;
        Ok(outcome.answer)
    }

    /// SIGHUP: the role reloads its configuration ([`Role::reload`]); what it changed
    /// in the engine is stored and sent as after any input. A refused reload is a
    /// WARN and changes nothing.
    async fn reload(&mut self, io: &Io) -> Result<(), ShellError> {
        tracing::info!(signal = "SIGHUP", "reloading the configuration");
        self.catch_up_store().await?;
        let stored = match self.store.load_all().await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!(error = %e, "configuration reload refused: the store could not be read; the running configuration is kept");
                return Ok(());
            }
        };
        let now = clock::now();
        match self.role.reload(now, io, stored).await {
            Ok(action) => {
                if let HostAction::CareOf(care_of) = action {
                    self.move_to(io, now, care_of).await?;
                }
            }
            Err(why) => {
                tracing::warn!(
                    error = %why,
                    "configuration reload refused; the running configuration is kept"
                );
            }
        }
        self.settle(now).await?;
        self.flush_transmits(io, now).await;
        Ok(())
    }

    /// Logs what the role reports pointing at a misconfigured mobile node, each (node,
    /// cause) at most once per [`WARN_EVERY`] ([`notice`]).
    fn report_warnings(&mut self) {
        let now = clock::now();
        self.role.poll_warnings(now, &mut self.warnings);
        for warning in self.warnings.drain(..) {
            if let Some(held_back) = self.warn_limit.admit(&warning, now) {
                notice::log_warning(&warning, held_back);
            }
        }
    }

    /// Once a minute: one INFO line with that minute's drops by reason, if there were
    /// any ([`notice::DropSummary`]).
    fn summarize_drops(&mut self) {
        let totals = self
            .role
            .engine_drops()
            .into_iter()
            .chain(self.stats.drops.iter().map(|(k, v)| ((*k).to_owned(), *v)));
        let grown = self.drop_summary.take(totals);
        if !grown.is_empty() {
            let total: u64 = grown.iter().map(|(_, n)| n).sum();
            tracing::info!(
                total,
                by_reason = %notice::format_summary(&grown),
                "frames dropped in the last minute"
            );
        }
    }

    /// Adds what the kernel dropped on each packet socket since the last read, and on
    /// the raw ESP socket as its packets reported it (receive buffer full), to the drop
    /// counts, with a warning when there is any: those frames
    /// passed the filter and were lost before the daemon saw them.
    fn poll_socket_drops(&mut self, io: &Io) {
        for (index, fd) in io.signalling.iter().enumerate() {
            match fd.get_ref().take_drops() {
                Ok(0) => {}
                Ok(n) => {
                    self.stats.drops(drop_names::PACKET_SOCKET_RCVBUF_FULL, n);
                    tracing::warn!(
                        socket = index,
                        ifindex = fd.get_ref().ifindex(),
                        dropped = n,
                        total = self.stats.drops[drop_names::PACKET_SOCKET_RCVBUF_FULL],
                        "packet socket receive buffer full: the kernel dropped frames the daemon never saw"
                    );
                }
                Err(e) => {
                    tracing::debug!(socket = index, error = %e, "PACKET_STATISTICS not read");
                }
            }
        }
        let n = io.esp.get_ref().take_drops();
        if n > 0 {
            self.stats.drops(drop_names::RAW_ESP_RCVBUF_FULL, n);
            tracing::warn!(
                dropped = n,
                total = self.stats.drops[drop_names::RAW_ESP_RCVBUF_FULL],
                "raw ESP socket receive buffer full: the kernel dropped frames the daemon never saw"
            );
        }
        if let Some((fd, _)) = &io.udp {
            let n = fd.get_ref().take_drops();
            if n > 0 {
                self.stats.drops(drop_names::UDP_RCVBUF_FULL, n);
                tracing::warn!(
                    dropped = n,
                    total = self.stats.drops[drop_names::UDP_RCVBUF_FULL],
                    "ESP-in-UDP socket receive buffer full: the kernel dropped datagrams the daemon never saw"
                );
            }
        }
    }

    /// Sends a NAT keepalive (one octet, 0xFF, RFC 3948 §2.3) to the fixed peer if one
    /// is due ([`UdpPeers::keepalive_due`]), from the care-of address. Not an engine
    /// frame: not in the capture.
    fn send_keepalive(&mut self, io: &Io) {
        let now = clock::now();
        let (Some(peers), Some((fd, _))) = (&self.udp_peers, &io.udp) else {
            return;
        };
        let Some((peer, ports)) = peers.keepalive_due(self.udp_last_sent, now) else {
            return;
        };
        let to = std::net::SocketAddrV6::new(peer, ports.destination, 0, 0);
        match fd
            .get_ref()
            .send_to_from(to, self.care_of, &[udp_encap::NAT_KEEPALIVE])
        {
            Ok(_) => {
                self.stats.frames.udp_keepalives += 1;
                tracing::debug!(%peer, port = ports.destination, "NAT keepalive sent");
            }
            Err(e) => {
                self.stats.drop(drop_names::SEND_FAILED);
                tracing::debug!(error = %e, %peer, "NAT keepalive not sent");
            }
        }
        // Also after a failure: the next one is an interval later.
        self.udp_last_sent = now;
    }

    /// Drains the engine's events through the role and stores their records. Called
    /// after every batch of inputs, before anything is sent.
    ///
    /// If one record must precede what is sent ([`Handled::Persist`]), every record
    /// of the round is stored in one durable batch now, after the lagging ones before
    /// it (the write in flight completes first, then the queued ones go in the same
    /// batch: a key's newest record is the one that stays). If all of them may lag
    /// ([`Handled::PersistLagging`]), they are queued for the store's own thread and
    /// the round's frames leave without waiting for the disk.
    async fn settle(&mut self, now: Time) -> Result<(), ShellError> {
        let mut before_sending = false;
        while let Some(event) = self.role.engine_mut().poll_event() {
            match self.role.on_event(event, now).await {
                Handled::Done => {}
                Handled::Persist(record) => {
                    if let Some(c) = &mut self.capture {
                        c.add_keys(self.role.keys_in(&record));
                    }
                    self.persist.push(record);
                    before_sending = true;
                }
                Handled::PersistLagging(record) => {
                    if let Some(c) = &mut self.capture {
                        c.add_keys(self.role.keys_in(&record));
                    }
                    self.persist.push(record);
                }
                Handled::Distribution(kind) => self.stats.distribution(kind),
                Handled::Failed(name) => self.stats.drop(name),
            }
        }
        if self.persist.is_empty() {
            return Ok(());
        }
        if before_sending {
            self.finish_behind().await?;
            self.lagging.append(&mut self.persist);
            let batch = std::mem::take(&mut self.lagging);
            self.store.put_many(&batch).await?;
            self.stats.store.before_sending += 1;
        } else {
            self.lagging.append(&mut self.persist);
            self.start_behind().await?;
        }
        self.count_pending();
        Ok(())
    }

    /// Status `store_writes.pending`: lagging records not durable yet.
    fn count_pending(&mut self) {
        self.stats.store.pending = (self.lagging.len() + self.behind_records) as u64;
    }

    /// Hands the queued lagging records to the store's thread, unless a write is in
    /// flight (they follow it: [`Core::behind_done`]). A backend without a thread of
    /// its own stores them in this call.
    async fn start_behind(&mut self) -> Result<(), ShellError> {
        if self.behind.is_some() || self.lagging.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.lagging);
        self.behind = self.store.put_many_behind(&batch).await?;
        self.behind_records = if self.behind.is_some() {
            batch.len()
        } else {
            0
        };
        self.stats.store.behind += 1;
        self.count_pending();
        Ok(())
    }

    /// The lagging write in flight completed: a failure is fatal, as for any store
    /// write; records queued meanwhile go next.
    async fn behind_done(
        &mut self,
        joined: Result<Result<(), StoreError>, tokio::task::JoinError>,
    ) -> Result<(), ShellError> {
        self.behind = None;
        self.behind_records = 0;
        self.count_pending();
        joined_write(joined)?;
        self.start_behind().await
    }

    /// Waits for the lagging write in flight, if any.
    async fn finish_behind(&mut self) -> Result<(), ShellError> {
        if let Some(write) = self.behind.take() {
            self.behind_records = 0;
            self.count_pending();
            joined_write(write.await)?;
        }
        Ok(())
    }

    /// Every record the engine emitted is durable when this returns: before the store
    /// is read or written outside [`Core::settle`], and at shutdown.
    async fn catch_up_store(&mut self) -> Result<(), ShellError> {
        self.finish_behind().await?;
        if !self.lagging.is_empty() {
            let batch = std::mem::take(&mut self.lagging);
            self.store.put_many(&batch).await?;
            self.count_pending();
        }
        Ok(())
    }

    /// Hands a batch of Neighbor Discovery packets from the home link to the role,
    /// then persists and sends what they caused.
    async fn on_link_packets(&mut self, io: &Io, n: usize) -> Result<(), ShellError> {
        let now = clock::now();
        for i in 0..n {
            let meta = self.net_meta[i];
            let packet = &self.net_bufs[i][..meta.len.min(self.net_bufs[i].len())];
            let Some(sender) = meta.link_sender.filter(|_| !meta.truncated) else {
                self.stats.drop(drop_names::TRUNCATED);
                continue;
            };
            if let Some(c) = &mut self.capture {
                c.pcap.link_in(now, sender, packet);
            }
            self.stats.frames.link_in += 1;
            self.role.handle_link(now, sender, packet);
        }
        self.settle(now).await?;
        self.flush_transmits(io, now).await;
        Ok(())
    }

    /// Sends what the engine queued for the home link, straight to its Ethernet
    /// destinations.
    fn flush_link_transmits(&mut self, io: &Io, now: Time) {
        let home = io.home_link.as_ref().map(|(_, ifindex)| *ifindex);
        while let Some(LinkPacket {
            ifindex,
            destination: mac,
            packet,
        }) = self.role.poll_link_transmit()
        {
            if let Some(c) = &mut self.capture {
                c.pcap.link_out(now, mac, &packet);
            }
            let Some(ifindex) = ifindex.or(home) else {
                self.stats.drop(drop_names::SEND_FAILED);
                continue;
            };
            let sent = io.send_direct(&[&packet], mip6_netio::NextHop { ifindex, mac }, |_, e| {
                tracing::warn!(error = %e, ifindex, "link packet not sent");
            });
            if sent == 1 {
                self.stats.frames.link_out += 1;
            } else {
                self.stats.drop(drop_names::SEND_FAILED);
            }
        }
    }

    /// Sends every queued signalling frame through the routed raw socket, and the
    /// home link's packets straight onto it.
    async fn flush_transmits(&mut self, io: &Io, now: Time) {
        self.flush_link_transmits(io, now);
        let mut transmits = Vec::new();
        while let Some(mut t) = self.role.engine_mut().poll_transmit() {
            let ports = self
                .udp_peers
                .as_ref()
                .and_then(|p| p.ports_for(&t.destination));
            if let Some(ports) = ports {
                if let Err(e) = udp_encap::encapsulate(&mut t.frame, ports) {
                    self.stats.drop(drop_names::UDP_ENCAP_FAILED);
                    tracing::warn!(error = %e, destination = %t.destination, "signalling frame not put in UDP");
                    continue;
                }
                self.udp_last_sent = now;
            }
            if let Some(c) = &mut self.capture {
                c.pcap.net_out(now, &t.frame);
            }
            tracing::debug!(destination = %t.destination, len = t.frame.len(), "signalling sent");
            transmits.push(t);
        }
        if transmits.is_empty() {
            return;
        }
        let mut failed = 0;
        let mut frames: Vec<&[u8]> = Vec::with_capacity(transmits.len());
        for t in &transmits {
            let hop = self
                .role
                .signalling_on_link(&t.destination)
                .then(|| self.next_hops.get(&t.destination, now))
                .flatten();
            let Some(hop) = hop else {
                frames.push(t.frame.as_slice());
                continue;
            };
            let sent = io.send_direct(&[t.frame.as_slice()], hop, |f, e| {
                failed += 1;
                tracing::warn!(error = %e, len = f.len(), "signalling frame not sent on the link");
            });
            tracing::debug!(destination = %t.destination, ifindex = hop.ifindex, "signalling sent on the link");
            self.stats.signalling_sent += sent as u64;
            self.stats.frames.net_out += sent as u64;
        }
        let sent = io
            .send_routed(&frames, |f, e| {
                failed += 1;
                tracing::warn!(error = %e, len = f.len(), "signalling frame not sent");
            })
            .await;
        self.stats.signalling_sent += sent as u64;
        self.stats.frames.net_out += sent as u64;
        for _ in 0..failed {
            self.stats.drop(drop_names::SEND_FAILED);
        }
    }

    async fn on_timeout(&mut self, io: &Io, now: Time) -> Result<(), ShellError> {
        if let Some(c) = &mut self.capture {
            c.pcap.timeout(now);
        }
        self.role.engine_mut().handle_timeout(now);
        self.settle(now).await?;
        self.flush_transmits(io, now).await;
        Ok(())
    }

    async fn move_to(
        &mut self,
        io: &Io,
        now: Time,
        care_of: Option<Ipv6Addr>,
    ) -> Result<(), ShellError> {
        // A new link: next hops learned on the old one are not on it.
        self.next_hops.clear();
        // ESP in UDP only while away (`super::encap`).
        if let Some(peers) = &mut self.udp_peers {
            peers.set_away(care_of.is_some());
        }
        self.care_of = care_of;
        if let Some(c) = &mut self.capture {
            c.pcap.care_of(now, care_of);
        }
        self.role.move_to(now, care_of);
        self.settle(now).await?;
        self.flush_transmits(io, now).await;
        Ok(())
    }

    /// Takes up to [`BATCHES_PER_WAKE`] batches from one receive socket; the
    /// readiness is cleared when a receive would block.
    async fn drain_network(&mut self, io: &Io, source: Source) -> Result<(), ShellError> {
        for _ in 0..BATCHES_PER_WAKE {
            let read = {
                let mut bufs: Vec<&mut [u8]> =
                    self.net_bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
                let meta = &mut self.net_meta;
                match source {
                    Source::Packet(i) => {
                        let Some(fd) = io.signalling.get(i) else {
                            return Ok(());
                        };
                        let mut guard = fd.readable().await.map_err(|source| ShellError::Io {
                            what: "packet socket".into(),
                            source,
                        })?;
                        guard.try_io(|s| s.get_ref().recv_batch(&mut bufs, meta))
                    }
                    Source::Esp => {
                        let mut guard =
                            io.esp.readable().await.map_err(|source| ShellError::Io {
                                what: "raw ESP socket".into(),
                                source,
                            })?;
                        guard.try_io(|s| s.get_ref().recv_batch(&mut bufs, meta))
                    }
                    Source::HomeLink => {
                        let Some((fd, _)) = &io.home_link else {
                            return Ok(());
                        };
                        let mut guard = fd.readable().await.map_err(|source| ShellError::Io {
                            what: "home link Neighbor Discovery socket".into(),
                            source,
                        })?;
                        guard.try_io(|s| s.get_ref().recv_batch(&mut bufs, meta))
                    }
                }
            };
            let n = match read {
                Ok(Ok(0)) | Err(_) => return Ok(()),
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => {
                    // A socket error is reported once (an interface went down): go on.
                    tracing::warn!(error = %e, socket = source.name(), "receive failed");
                    return Ok(());
                }
            };
            match source {
                Source::HomeLink => self.on_link_packets(io, n).await?,
                Source::Packet(_) | Source::Esp => self.on_frames(io, n, Origin::Frames).await?,
            }
        }
        Ok(())
    }

    /// Takes up to [`BATCHES_PER_WAKE`] receives from the ESP-in-UDP socket, each one
    /// datagram or several coalesced (`UDP_GRO`), and hands their ESP packets to the
    /// engine with the IPv6 header they were sent with rebuilt in front
    /// ([`udp_encap::esp_frame_header`]), in batches of at most [`MAX_BATCH`].
    async fn drain_udp(&mut self, io: &Io) -> Result<(), ShellError> {
        let Some((fd, _)) = &io.udp else {
            return Ok(());
        };
        for _ in 0..BATCHES_PER_WAKE {
            let read = {
                let mut guard = fd.readable().await.map_err(|source| ShellError::Io {
                    what: "ESP-in-UDP socket".into(),
                    source,
                })?;
                let scratch = &mut self.udp_scratch;
                guard.try_io(|s| s.get_ref().recv(scratch))
            };
            let r = match read {
                Err(_would_block) => return Ok(()),
                Ok(Ok(r)) => r,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, socket = "ESP-in-UDP socket", "receive failed");
                    return Ok(());
                }
            };
            if r.truncated {
                self.stats.drop(drop_names::TRUNCATED);
                continue;
            }
            let Some(local) = r.destination else {
                self.stats.drop(drop_names::UDP_NO_DESTINATION);
                continue;
            };
            let (peer, port) = (*r.source.ip(), r.source.port());
            let scratch = std::mem::take(&mut self.udp_scratch);
            let mut k = 0;
            let mut result = Ok(());
            for datagram in r.datagrams(&scratch) {
                self.stats.frames.udp_in += 1;
                if let Err(e) = udp_encap::check_payload(datagram, 0) {
                    self.stats.drop(udp_drop_name(&e));
                    tracing::debug!(error = %e, %peer, port, "UDP datagram is not ESP");
                    continue;
                }
                let buf = &mut self.net_bufs[k];
                let len = HEADER_LEN + datagram.len();
                let header = udp_encap::esp_frame_header(peer, local, datagram.len(), 64);
                let (Ok(header), Some(frame)) = (header, buf.get_mut(..len)) else {
                    self.stats.drop(drop_names::TRUNCATED);
                    continue;
                };
                frame[..HEADER_LEN].copy_from_slice(&header);
                frame[HEADER_LEN..].copy_from_slice(datagram);
                self.net_meta[k] = RecvMeta {
                    len,
                    truncated: false,
                    ifindex: r.ifindex,
                    link_source: None,
                    link_sender: None,
                };
                self.udp_ports[k] = Some(port);
                k += 1;
                if k == MAX_BATCH {
                    result = self.on_frames(io, k, Origin::Udp).await;
                    k = 0;
                    if result.is_err() {
                        break;
                    }
                }
            }
            if k > 0 && result.is_ok() {
                result = self.on_frames(io, k, Origin::Udp).await;
            }
            self.udp_scratch = scratch;
            result?;
        }
        Ok(())
    }

    /// Hands a received batch to the engine, then persists, delivers and sends. Frames
    /// from the packet sockets that are ESP in UDP on this daemon's port (signalling:
    /// their Home Address option or type 2 routing header keeps them from the UDP
    /// socket) lose their UDP header first; the capture records every frame as it
    /// was on the wire.
    async fn on_frames(&mut self, io: &Io, n: usize, origin: Origin) -> Result<(), ShellError> {
        let now = clock::now();
        self.delivered.clear();
        if n > 1 {
            let frames: Vec<&[u8]> = self
                .net_bufs
                .iter()
                .zip(&self.net_meta)
                .take(n)
                .map(|(b, m)| &b[..m.len.min(b.len())])
                .collect();
            self.role.before_batch(&frames);
        }
        for i in 0..n {
            self.stats.frames.net_in += 1;
            let meta = self.net_meta[i];
            if meta.truncated {
                self.stats.drop(drop_names::TRUNCATED);
                tracing::debug!(len = meta.len, "truncated frame dropped");
                continue;
            }
            let mut len = meta.len;
            let frame = &mut self.net_bufs[i][..len];
            if let Some(name) = self.role.screen_network(frame) {
                self.stats.drop(name);
                tracing::debug!(
                    reason = name,
                    len = meta.len,
                    ifindex = meta.ifindex,
                    count = self.stats.drops.get(name).copied().unwrap_or(0),
                    "frame screened out before the engine"
                );
                continue;
            }
            let mut arrived_port = None;
            match (origin, &self.udp_peers) {
                (Origin::Udp, Some(peers)) => {
                    arrived_port = self.udp_ports[i];
                    if let Some(c) = &mut self.capture {
                        let mut wire = frame.to_vec();
                        let ports = Ports {
                            source: arrived_port.unwrap_or(peers.port()),
                            destination: peers.port(),
                        };
                        if udp_encap::encapsulate(&mut wire, ports).is_ok() {
                            c.pcap.net_in(now, &wire);
                        }
                    }
                }
                (_, peers) => {
                    // Raw ESP (Next Header 50 right after the IPv6 header) is the
                    // common case and is not walked.
                    if peers.is_none()
                        && frame.get(6) != Some(&50)
                        && udp_encap::is_encapsulated(frame, udp_encap::PORT)
                    {
                        self.stats.drop(drop_names::UDP_NOT_ENABLED);
                        tracing::debug!(
                            "ESP in UDP received, but this daemon has encapsulation = \"esp\""
                        );
                        continue;
                    }
                    let port = peers.as_ref().map(|p| p.port());
                    let mut wire = None;
                    if let Some(port) = port.filter(|_| frame.get(6) != Some(&50)) {
                        if udp_encap::is_encapsulated(frame, port) {
                            if self.capture.is_some() {
                                wire = Some(frame.to_vec());
                            }
                            match udp_encap::decapsulate_in_place(frame) {
                                Ok((ports, esp_len)) if ports.destination == port => {
                                    len = esp_len;
                                    arrived_port = Some(ports.source);
                                }
                                Ok(_) => {
                                    // From our port to another: not for this daemon.
                                    self.stats.drop(drop_names::UDP_MALFORMED);
                                    continue;
                                }
                                Err(e) => {
                                    self.stats.drop(udp_drop_name(&e));
                                    tracing::debug!(error = %e, "ESP-in-UDP frame refused");
                                    continue;
                                }
                            }
                        }
                    }
                    // Recorded as on the wire, once it is known to reach the engine.
                    if let Some(c) = &mut self.capture {
                        let frame = &self.net_bufs[i][..len];
                        c.pcap.net_in(now, wire.as_deref().unwrap_or(frame));
                    }
                }
            }
            let frame = &mut self.net_bufs[i][..len];
            let peer = frame
                .get(8..24)
                .and_then(|s| <[u8; 16]>::try_from(s).ok())
                .map(Ipv6Addr::from);
            let received = self.role.engine_mut().handle(now, frame);
            // Only a frame the engine authenticated may teach the next hop, and how
            // its sender is answered (raw ESP or UDP, and to which port).
            if received.is_authenticated() {
                if let (Some(hop), Some(peer)) = (meta.next_hop(), peer) {
                    self.next_hops.learn(peer, hop, now);
                }
                if let (Some(peers), Some(peer)) = (&mut self.udp_peers, peer) {
                    peers.learn(peer, arrived_port, now);
                }
            }
            match received {
                Received::Delivered { inner, .. } => self.delivered.push((i, inner)),
                Received::Consumed { .. } => {}
                Received::Dropped(reason) => {
                    tracing::debug!(%reason, "frame dropped by the engine");
                }
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
                self.stats.drop(drop_names::TUN_WRITE_FAILED);
            }
        }
        let queued = self.tun_out.len() as u64;
        if queued > 0 {
            match io.tun.get_ref().send_batch(&mut self.tun_out) {
                Ok(_) => self.stats.frames.tun_out += queued,
                Err(e) => {
                    self.stats.drop(drop_names::TUN_WRITE_FAILED);
                    tracing::debug!(error = %e, packets = queued, "TUN write failed");
                }
            }
        }
        self.flush_transmits(io, now).await;
        Ok(())
    }

    /// Reads up to [`BATCHES_PER_WAKE`] batches from the TUN (super-packets split into
    /// segments), tunnels them, persists, sends.
    async fn drain_tun(&mut self, io: &Io) -> Result<(), ShellError> {
        for _ in 0..BATCHES_PER_WAKE {
            let (n, dry) = self.read_tun(io).await?;
            if n > 0 {
                self.on_tun_packets(io, n).await?;
            }
            if dry {
                break;
            }
        }
        Ok(())
    }

    /// Fills the TUN buffers; `(packets, ran dry)`.
    async fn read_tun(&mut self, io: &Io) -> Result<(usize, bool), ShellError> {
        let mut n = 0;
        while self.tun_bufs.len() - n >= SEGMENTS_PER_READ {
            let mut guard = io.tun.readable().await.map_err(|source| ShellError::Io {
                what: "TUN".into(),
                source,
            })?;
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
                Ok(Err(e)) if e.raw_os_error().is_some() => {
                    return Err(ShellError::Io {
                        what: "TUN".into(),
                        source: e,
                    })
                }
                Ok(Err(e)) => {
                    // A packet that could not be split is consumed: go on.
                    self.stats.drop(drop_names::TUN_READ_FAILED);
                    tracing::warn!(error = %e, "TUN read failed");
                }
                Err(_would_block) => return Ok((n, true)),
            }
        }
        Ok((n, false))
    }

    /// Seals the packets read from the TUN, persists, then sends the frames: those to
    /// a peer heard from lately straight to its next hop (in runs of one next hop),
    /// the others routed.
    async fn on_tun_packets(&mut self, io: &Io, n: usize) -> Result<(), ShellError> {
        let now = clock::now();
        self.sealed.clear();
        for i in 0..n {
            self.stats.frames.tun_in += 1;
            let len = self.tun_sizes[i];
            let buf = &mut self.tun_bufs[i];
            if let Some(name) = self
                .role
                .screen_tun(&buf[DATA_HEADROOM..DATA_HEADROOM + len])
            {
                self.stats.drop(name);
                continue;
            }
            if let Some(c) = &mut self.capture {
                c.pcap.tun_in(now, &buf[DATA_HEADROOM..DATA_HEADROOM + len]);
            }
            match self.role.engine_mut().seal_data(now, buf, len) {
                Ok(frame) => self.sealed.push((i, frame)),
                Err(e) => {
                    self.stats.drop(R::data_drop(&e));
                    tracing::debug!(error = %e, "packet from the TUN not tunnelled");
                }
            }
        }
        self.settle(now).await?;
        let mut failed = 0u64;
        if let Some(c) = &mut self.capture {
            for &(i, frame) in &self.sealed {
                let sealed = &self.tun_bufs[i][..frame.len];
                match self
                    .udp_peers
                    .as_ref()
                    .and_then(|p| p.ports_for(&frame.destination))
                {
                    Some(ports) => {
                        let mut wire = sealed.to_vec();
                        if udp_encap::encapsulate(&mut wire, ports).is_ok() {
                            c.pcap.net_out(now, &wire);
                        }
                    }
                    None => c.pcap.net_out(now, sealed),
                }
            }
        }
        let mut in_udp: Vec<UdpFrame<'_>> = Vec::new();
        let mut frames: Vec<(&[u8], Ipv6Addr)> = Vec::with_capacity(self.sealed.len());
        for &(i, f) in &self.sealed {
            let sealed = &self.tun_bufs[i][..f.len];
            let ports = self
                .udp_peers
                .as_ref()
                .and_then(|p| p.ports_for(&f.destination));
            match ports {
                Some(ports) => match UdpFrame::of(sealed, f.destination, ports) {
                    Some(u) => in_udp.push(u),
                    None => {
                        self.stats.drop(drop_names::UDP_ENCAP_FAILED);
                    }
                },
                None => frames.push((sealed, f.destination)),
            }
        }
        if !in_udp.is_empty() {
            if let Some((fd, _)) = &io.udp {
                let (sent, segmented) = send_udp(fd, &in_udp, &mut self.gso, |n, e| {
                    failed += n as u64;
                    tracing::debug!(error = %e, frames = n, "tunnel frames not sent in UDP");
                })
                .await;
                self.stats.frames.udp_out += sent as u64;
                self.stats.frames.udp_gso_sends += segmented as u64;
                self.stats.frames.net_out += sent as u64;
                if sent > 0 {
                    self.udp_last_sent = now;
                }
            }
        }
        let mut routed: Vec<&[u8]> = Vec::new();
        let mut direct = 0;
        let mut at = 0;
        while at < frames.len() {
            let Some(hop) = self
                .next_hops
                .get(&frames[at].1, now)
                .filter(|_| io.link.is_some())
            else {
                routed.push(frames[at].0);
                at += 1;
                continue;
            };
            let run: Vec<&[u8]> = frames[at..]
                .iter()
                .take_while(|(_, to)| self.next_hops.get(to, now) == Some(hop))
                .map(|(f, _)| *f)
                .collect();
            at += run.len();
            direct += io.send_direct(&run, hop, |f, e| {
                failed += 1;
                tracing::debug!(error = %e, len = f.len(), "tunnel frame not sent to the next hop");
            });
        }
        let routed_sent = io
            .send_routed(&routed, |f, e| {
                failed += 1;
                tracing::debug!(error = %e, len = f.len(), "tunnel frame not sent");
            })
            .await;
        self.stats.frames.net_out_link += direct as u64;
        self.stats.frames.net_out += (direct + routed_sent) as u64;
        for _ in 0..failed {
            self.stats.drop(drop_names::SEND_FAILED);
        }
        self.flush_transmits(io, now).await;
        Ok(())
    }
}

/// A lagging write's outcome; a write whose thread panicked failed.
fn joined_write(
    joined: Result<Result<(), StoreError>, tokio::task::JoinError>,
) -> Result<(), ShellError> {
    let written = joined.unwrap_or_else(|e| Err(StoreError::Backend(Box::new(e))));
    Ok(written?)
}

/// Completes when the lagging write in flight does; never without one.
async fn behind_write_done(
    write: &mut Option<BehindWrite>,
) -> Result<Result<(), StoreError>, tokio::task::JoinError> {
    match write {
        Some(write) => write.await,
        None => std::future::pending().await,
    }
}

/// The drop name of an ESP-in-UDP frame or datagram refused for `e`.
fn udp_drop_name(e: &udp_encap::Error) -> &'static str {
    match e {
        udp_encap::Error::Keepalive { .. } => drop_names::UDP_KEEPALIVE,
        udp_encap::Error::NonEspMarker { .. } => drop_names::UDP_NON_ESP,
        _ => drop_names::UDP_MALFORMED,
    }
}

/// A sealed tunnel frame leaving through the UDP socket: its ESP packet (what the
/// socket carries), the address it leaves from and where it goes.
#[derive(Debug, Clone, Copy)]
struct UdpFrame<'a> {
    esp: &'a [u8],
    source: Ipv6Addr,
    to: std::net::SocketAddrV6,
}

impl<'a> UdpFrame<'a> {
    /// The frame `sealed` (an IPv6 header and ESP, as the engines seal tunnel frames)
    /// for `destination` and `ports`; `None` if ESP does not follow the IPv6 header.
    fn of(sealed: &'a [u8], destination: Ipv6Addr, ports: Ports) -> Option<Self> {
        if sealed.get(6) != Some(&50) {
            return None;
        }
        let source: [u8; 16] = sealed.get(8..24)?.try_into().ok()?;
        Some(UdpFrame {
            esp: sealed.get(HEADER_LEN..)?,
            source: Ipv6Addr::from(source),
            to: std::net::SocketAddrV6::new(destination, ports.destination, 0, 0),
        })
    }

    /// Whether `next` may follow this frame in one segmented send whose segments are
    /// `segment` octets: same addresses, and this one not shorter than a segment (only
    /// the last segment may be short).
    fn continues(&self, next: &UdpFrame<'_>, segment: usize) -> bool {
        self.to == next.to
            && self.source == next.source
            && self.esp.len() == segment
            && next.esp.len() <= segment
    }
}

/// How many times a full send buffer is waited out before frames are given up.
const SEND_WAITS: usize = 4;

/// Sends `frames` through the UDP socket in order: each run of frames to one peer
/// whose ESP packets are one length (the last one may be shorter) leaves in one
/// segmented send, gathered from where the frames lie (`UDP_SEGMENT`, at most [`mip6_netio::udp_socket::MAX_SEGMENTS`]
/// segments and [`mip6_netio::udp_socket::MAX_PAYLOAD`] octets), or one by one
/// without GSO. An `EIO` from a segmented send turns `gso` off and sends that run
/// one by one (the module docs of `mip6_netio::udp_socket`). A full send buffer is
/// waited out [`SEND_WAITS`] times per run; what is refused is reported with how
/// many frames it held. Returns (frames sent, segmented sends).
async fn send_udp(
    fd: &tokio::io::unix::AsyncFd<mip6_netio::EspUdpSocket>,
    frames: &[UdpFrame<'_>],
    gso: &mut bool,
    mut refused: impl FnMut(usize, &io::Error),
) -> (usize, usize) {
    use mip6_netio::udp_socket::{MAX_PAYLOAD, MAX_SEGMENTS};
    let (mut sent, mut segmented) = (0, 0);
    let mut at = 0;
    while at < frames.len() {
        let first = frames[at];
        let segment = first.esp.len();
        let mut end = at + 1;
        let mut total = segment;
        if *gso {
            while end < frames.len()
                && end - at < MAX_SEGMENTS
                && frames[end - 1].continues(&frames[end], segment)
                && total + frames[end].esp.len() <= MAX_PAYLOAD
            {
                total += frames[end].esp.len();
                end += 1;
            }
        }
        let run = &frames[at..end];
        at = end;
        if run.len() > 1 {
            // Gathered where they were sealed: no copy into one buffer.
            let segments: Vec<&[u8]> = run.iter().map(|f| f.esp).collect();
            let result = send_waiting(fd, |s| {
                s.send_segments_gathered(first.to, Some(first.source), &segments)
            })
            .await;
            match result {
                Ok(_) => {
                    sent += run.len();
                    segmented += 1;
                    continue;
                }
                Err(e) if mip6_netio::udp_socket::cannot_segment(&e) => {
                    *gso = false;
                    tracing::warn!(error = %e, "segmented UDP sends refused (EIO): sending datagrams one by one from now on");
                }
                Err(e) => {
                    refused(run.len(), &e);
                    continue;
                }
            }
        }
        for f in run {
            match send_waiting(fd, |s| s.send_to_from(f.to, Some(f.source), f.esp)).await {
                Ok(_) => sent += 1,
                Err(e) => refused(1, &e),
            }
        }
    }
    (sent, segmented)
}

/// One send through `fd`, waiting out a full send buffer up to [`SEND_WAITS`] times.
async fn send_waiting(
    fd: &tokio::io::unix::AsyncFd<mip6_netio::EspUdpSocket>,
    mut send: impl FnMut(&mip6_netio::EspUdpSocket) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut waits = 0;
    loop {
        match send(fd.get_ref()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && waits < SEND_WAITS => {
                waits += 1;
                match fd.writable().await {
                    Ok(mut guard) => guard.clear_ready(),
                    Err(e) => return Err(e),
                }
            }
            other => return other,
        }
    }
}
