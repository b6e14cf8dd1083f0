//! The swarm process (`mip6-lab swarm-driver`, run in the lab's MN namespace): N
//! [`MobileNode`] engines on one thread, driven by the engine contract, their frames
//! sent on one `IPPROTO_RAW` socket (any source: each node's care-of address) and
//! received on one packet socket whose filter passes the whole care-of prefix
//! ([`mip6_netio::PacketSocket::open_prefix64`]).
//!
//! Each phase admits nodes in index order while fewer than `window` of them await a
//! BA; a node is done with the phase when its engine raises `Registered`. Its BA
//! latency runs from the phase's first BU of that node to the event (so a
//! retransmission shows as a latency of 1.5 s or more). A phase ends when every node
//! is done, or when none has been for `stall_timeout` (then it is reported
//! incomplete).
//!
//! - **init**: `set_care_of_address` — the first BU, under the init key, with an
//!   explicit Key Initialization Request;
//! - **update**: the nodes' clock jumps past their key update timer
//!   ([`plan::KEY_UPDATE_INTERVAL`]), so `handle_timeout` sends a BU with a Key Update
//!   Request under generation 1 (the engines are configured without
//!   `rekey_after_initialization`, so this is a phase of its own);
//! - **refresh**: the clock jumps past 75 % of the lifetime: one more BU each, under
//!   generation 2, no key request.
//!
//! The jumps move only the engines' clock (the KIR timestamps of the init phase are
//! wall-clock time, as the HA checks them); latencies are differences on that clock
//! and unaffected. `Persist` events are dropped: a load generator keeps no record, and
//! every swarm starts against a home agent with fresh state.
//!
//! The RNG is ChaCha20 seeded from `--seed` (BU sequence numbers and IV prefixes of
//! all engines): a load generator needs no OS randomness, and a seeded run sends the
//! same first BUs every time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mip6_mn::{Event, MobileNode, Received};
use mip6_netio::{PacketSocket, RawSender, RecvMeta, MAX_BATCH};
use mip6_wire::keys::Slot;
use mip6_wire::Time;
use rand_chacha::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use super::plan::{self, KEY_UPDATE_INTERVAL, REQUESTED_LIFETIME};
use super::stats::{self, HaUsage, Latency};

/// Receive buffer of the packet socket: a window of BAs and more.
const RECV_BUFFER: usize = 8 << 20;
/// One frame: BAs are ~150 octets, tunnel frames at most the link MTU.
const FRAME_BUF: usize = 2048;
/// Longest idle sleep of the loop (it polls: the lab crate forbids the `unsafe` of a
/// `poll(2)`); bounds the latency resolution.
const IDLE_SLEEP: Duration = Duration::from_micros(100);

/// What the driver is asked to do.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    /// Mobile nodes.
    pub count: u32,
    /// Most BUs outstanding at once.
    pub window: usize,
    /// The interface the care-of prefix is routed to (the swarm's foreign link).
    pub iface: String,
    /// The home agent's process, sampled around each phase.
    pub ha_pid: Option<u32>,
    /// Seed of the engines' RNG.
    pub seed: u64,
    /// A phase gives up when no node finished it for this long.
    pub stall_timeout: Duration,
}

/// The phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// First registration, key initialization.
    Init,
    /// A Key Update Request each.
    Update,
    /// A binding refresh each.
    Refresh,
}

impl Phase {
    /// All, in order.
    pub const ALL: [Phase; 3] = [Phase::Init, Phase::Update, Phase::Refresh];

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Update => "update",
            Phase::Refresh => "refresh",
        }
    }

    /// How far the engines' clock jumps before this phase.
    fn clock_jump(self) -> Duration {
        match self {
            Phase::Init => Duration::ZERO,
            Phase::Update => KEY_UPDATE_INTERVAL + Duration::from_secs(1),
            Phase::Refresh => REQUESTED_LIFETIME * 3 / 4 + Duration::from_secs(1),
        }
    }
}

/// One phase's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// Which.
    pub phase: Phase,
    /// Nodes that finished it.
    pub count: u64,
    /// From the first BU to the last node done (or to giving up), seconds.
    pub secs: f64,
    /// `count / secs`.
    pub rate_per_s: f64,
    /// BU → BA, per node.
    pub latency: Latency,
    /// Retransmitted BUs (the engines' counters).
    pub retransmissions: u64,
    /// BAs that refused.
    pub refusals: u64,
    /// The home agent over the phase, if it was sampled.
    pub ha: Option<HaUsage>,
    /// CPU seconds the swarm process itself spent in the phase (with the HA's, it
    /// tells which side was busy).
    pub swarm_cpu_s: f64,
}

/// Everything the driver measured, printed as one JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverReport {
    /// Mobile nodes.
    pub count: u32,
    /// The window.
    pub window: usize,
    /// Creating the engines, seconds.
    pub setup_secs: f64,
    /// The phases run.
    pub phases: Vec<PhaseResult>,
    /// Nodes registered at the end.
    pub registered: u64,
    /// Per node, in index order: its newest generation (0: none) and that
    /// generation's MN→HA SPI (0: none), to compare with the home agent's.
    pub newest: Vec<(u32, u32)>,
    /// Frames the engines dropped (all reasons).
    pub engine_drops: u64,
    /// Frames to an address of the prefix that is no node's.
    pub unmatched: u64,
    /// Frames the packet socket's buffer had no room for (kernel count).
    pub socket_drops: u64,
    /// Frames the raw socket refused (other than "try again").
    pub send_errors: u64,
}

/// Why the driver could not run.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A socket could not be opened.
    #[error("{0}")]
    Socket(#[from] mip6_netio::Error),
    /// Too many nodes for the address plan.
    #[error("at most {max} mobile nodes", max = plan::MAX_NODES)]
    TooMany,
    /// Sending or receiving failed.
    #[error("{what}: {source}")]
    Io {
        /// Which call.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
}

/// Where a node is in the current phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Waiting,
    Done,
}

/// The sockets and receive buffers.
struct Io {
    tx: RawSender,
    rx: PacketSocket,
    bufs: Vec<Vec<u8>>,
    meta: Vec<RecvMeta>,
    /// Frames built, not yet taken by the kernel.
    outbox: Vec<Vec<u8>>,
    send_errors: u64,
}

impl Io {
    /// Sends what the outbox holds until the kernel says "try again". Returns how many
    /// frames left.
    fn flush(&mut self) -> usize {
        let mut sent_total = 0;
        while sent_total < self.outbox.len() {
            let end = (sent_total + MAX_BATCH).min(self.outbox.len());
            let batch: Vec<&[u8]> = self.outbox[sent_total..end]
                .iter()
                .map(Vec::as_slice)
                .collect();
            match self.tx.send_batch(&batch) {
                Ok(n) => sent_total += n.max(1).min(batch.len()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // One frame the kernel will not take (no route, no buffer): lost,
                    // as on a network; the engine's retransmission covers it.
                    tracing::debug!(error = %e, "send failed");
                    self.send_errors += 1;
                    sent_total += 1;
                }
            }
        }
        self.outbox.drain(..sent_total);
        sent_total
    }
}

/// The fleet of engines and the phase bookkeeping.
struct Fleet {
    nodes: Vec<MobileNode>,
    state: Vec<State>,
    started_at: Vec<Time>,
    timers: BinaryHeap<Reverse<(Time, u32)>>,
    /// How far the engines' clock is ahead of the wall clock.
    offset: Duration,
    engine_drops: u64,
    unmatched: u64,
}

/// What happens while a phase runs.
#[derive(Debug, Default)]
struct Tally {
    outstanding: usize,
    done: u64,
    refusals: u64,
    latencies: Vec<Duration>,
    last_done: Option<Instant>,
}

fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

impl Fleet {
    fn now(&self) -> Time {
        let t = wall_clock() + self.offset;
        Time::from_micros(u64::try_from(t.as_micros()).unwrap_or(u64::MAX))
    }

    /// Events first (done, refusals), then frames into the outbox; a node still
    /// waiting gets its deadline on the timer heap.
    fn drain(&mut self, n: u32, now: Time, outbox: &mut Vec<Vec<u8>>, tally: &mut Tally) {
        let i = n as usize;
        let node = &mut self.nodes[i];
        while let Some(event) = node.poll_event() {
            match event {
                Event::Registered { .. } if self.state[i] == State::Waiting => {
                    self.state[i] = State::Done;
                    tally.outstanding -= 1;
                    tally.done += 1;
                    tally
                        .latencies
                        .push(now.saturating_since(self.started_at[i]));
                    tally.last_done = Some(Instant::now());
                }
                Event::Refused { status } => {
                    tracing::debug!(n, ?status, "refused");
                    tally.refusals += 1;
                }
                _ => {}
            }
        }
        while let Some(t) = node.poll_transmit() {
            outbox.push(t.frame);
        }
        if self.state[i] == State::Waiting {
            if let Some(at) = node.poll_timeout() {
                self.timers.push(Reverse((at, n)));
            }
        }
    }

    /// Starts node `n` on `phase`.
    fn start(&mut self, n: u32, phase: Phase, now: Time, net: &mut Io, tally: &mut Tally) {
        let i = n as usize;
        self.state[i] = State::Waiting;
        self.started_at[i] = now;
        tally.outstanding += 1;
        match phase {
            Phase::Init => self.nodes[i].set_care_of_address(now, Some(plan::care_of_address(n))),
            Phase::Update | Phase::Refresh => self.nodes[i].handle_timeout(now),
        }
        self.drain(n, now, &mut net.outbox, tally);
    }

    /// Retransmissions that are due.
    fn fire_timers(&mut self, now: Time, net: &mut Io, tally: &mut Tally) -> bool {
        let mut fired = false;
        while let Some(&Reverse((at, n))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let i = n as usize;
            if self.state[i] != State::Waiting {
                continue;
            }
            // Entries are pushed after every call: a stale one names a deadline the
            // engine has since moved.
            if self.nodes[i].poll_timeout().is_some_and(|t| t <= now) {
                self.nodes[i].handle_timeout(now);
                self.drain(n, now, &mut net.outbox, tally);
                fired = true;
            }
        }
        fired
    }

    /// Hands every queued frame to its node. Returns how many were read.
    fn receive(&mut self, net: &mut Io, tally: &mut Tally) -> Result<usize, DriverError> {
        let mut total = 0;
        loop {
            let mut refs: Vec<&mut [u8]> = net.bufs.iter_mut().map(Vec::as_mut_slice).collect();
            let got = match net.rx.recv_batch(&mut refs, &mut net.meta) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(DriverError::Io {
                        what: "recvmmsg on the packet socket",
                        source,
                    })
                }
            };
            let now = self.now();
            for (buf, meta) in refs.iter_mut().zip(&net.meta).take(got) {
                let frame = &mut buf[..meta.len];
                let node = frame
                    .get(24..40)
                    .and_then(|d| <[u8; 16]>::try_from(d).ok())
                    .and_then(|d| plan::index_of_care_of(d.into(), self.nodes.len() as u32));
                let Some(n) = node.filter(|_| !meta.truncated) else {
                    self.unmatched += 1;
                    continue;
                };
                if let Received::Dropped(reason) = self.nodes[n as usize].handle(now, frame) {
                    tracing::debug!(n, %reason, "frame dropped");
                    self.engine_drops += 1;
                }
                self.drain(n, now, &mut net.outbox, tally);
            }
            total += got;
            if got < net.bufs.len() {
                break;
            }
        }
        Ok(total)
    }

    fn retransmissions(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.counters().bu_retransmitted)
            .sum()
    }

    fn run_phase(
        &mut self,
        phase: Phase,
        opts: &DriverOptions,
        net: &mut Io,
    ) -> Result<PhaseResult, DriverError> {
        self.offset += phase.clock_jump();
        self.state.fill(State::Idle);
        self.timers.clear();
        let count = self.nodes.len() as u32;
        let mut tally = Tally {
            latencies: Vec::with_capacity(self.nodes.len()),
            ..Tally::default()
        };
        let retransmitted_before = self.retransmissions();
        let ticks = crate::bench::cpu::ticks_per_sec();
        let ha_before = opts.ha_pid.and_then(stats::sample);
        let own_before = stats::sample(std::process::id());
        let started = Instant::now();
        let mut next = 0u32;
        let mut progress = started;
        let window = opts.window.max(1);
        while tally.done < u64::from(count) {
            let now = self.now();
            let mut busy = false;
            while tally.outstanding < window && next < count {
                self.start(next, phase, now, net, &mut tally);
                next += 1;
                busy = true;
            }
            busy |= net.flush() > 0;
            let done_before = tally.done;
            busy |= self.receive(net, &mut tally)? > 0;
            busy |= self.fire_timers(self.now(), net, &mut tally);
            busy |= net.flush() > 0;
            if tally.done > done_before {
                progress = Instant::now();
            } else if progress.elapsed() > opts.stall_timeout {
                tracing::warn!(
                    phase = phase.name(),
                    done = tally.done,
                    count,
                    "no node finished the phase for {:?}: giving up",
                    opts.stall_timeout
                );
                break;
            }
            if !busy {
                std::thread::sleep(IDLE_SLEEP);
            }
        }
        let ended = tally.last_done.unwrap_or_else(Instant::now);
        let secs = ended.saturating_duration_since(started).as_secs_f64();
        let ha_after = opts.ha_pid.and_then(stats::sample);
        let own_after = stats::sample(std::process::id());
        Ok(PhaseResult {
            phase,
            count: tally.done,
            secs,
            rate_per_s: if secs > 0.0 {
                tally.done as f64 / secs
            } else {
                0.0
            },
            latency: Latency::of(&mut tally.latencies),
            retransmissions: self.retransmissions() - retransmitted_before,
            refusals: tally.refusals,
            ha: ha_before
                .zip(ha_after)
                .map(|(b, a)| HaUsage::between(b, a, ticks)),
            swarm_cpu_s: own_before
                .zip(own_after)
                .map_or(0.0, |(b, a)| a.cpu.secs_since(b.cpu, ticks)),
        })
    }
}

/// Each node's newest generation and its MN→HA SPI (zeros without one).
fn newest_of(node: &MobileNode) -> (u32, u32) {
    let view = node.keys();
    let spi = view
        .generations
        .iter()
        .find(|g| g.slot == Slot::Newest)
        .map_or(0, |g| g.spis.mn_to_ha.get());
    (view.newest.unwrap_or(0), spi)
}

/// Runs the swarm: creates the engines, opens the sockets, runs every phase, and
/// reports.
pub fn run(opts: &DriverOptions) -> Result<DriverReport, DriverError> {
    if opts.count > plan::MAX_NODES {
        return Err(DriverError::TooMany);
    }
    let setup = Instant::now();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(opts.seed);
    let start = Time::from_micros(u64::try_from(wall_clock().as_micros()).unwrap_or(0));
    let mut nodes = Vec::with_capacity(opts.count as usize);
    for n in 0..opts.count {
        let config = plan::mn_config(n).ok_or(DriverError::TooMany)?;
        nodes.push(MobileNode::new(config, &mut rng, start, None));
    }
    let setup_secs = setup.elapsed().as_secs_f64();
    let rx = PacketSocket::open_prefix64(&opts.iface, plan::COA_PREFIX)?;
    rx.set_receive_buffer(RECV_BUFFER)?;
    let mut net = Io {
        tx: RawSender::open(None)?,
        rx,
        bufs: vec![vec![0; FRAME_BUF]; MAX_BATCH],
        meta: vec![RecvMeta::default(); MAX_BATCH],
        outbox: Vec::new(),
        send_errors: 0,
    };
    let count = opts.count as usize;
    let mut fleet = Fleet {
        nodes,
        state: vec![State::Idle; count],
        started_at: vec![Time::ZERO; count],
        timers: BinaryHeap::new(),
        offset: Duration::ZERO,
        engine_drops: 0,
        unmatched: 0,
    };
    let mut phases = Vec::new();
    for phase in Phase::ALL {
        let result = fleet.run_phase(phase, opts, &mut net)?;
        tracing::info!(
            phase = phase.name(),
            count = result.count,
            secs = result.secs,
            "phase done"
        );
        let complete = result.count == u64::from(opts.count);
        phases.push(result);
        if !complete {
            break;
        }
    }
    let registered = fleet
        .nodes
        .iter()
        .filter(|n| matches!(n.registration().state, mip6_mn::Registration::Registered(_)))
        .count() as u64;
    Ok(DriverReport {
        count: opts.count,
        window: opts.window,
        setup_secs,
        phases,
        registered,
        newest: fleet.nodes.iter().map(newest_of).collect(),
        engine_drops: fleet.engine_drops,
        unmatched: fleet.unmatched,
        socket_drops: net.rx.take_drops().unwrap_or(0),
        send_errors: net.send_errors,
    })
}
