//! Deterministic simulation of one home agent and a few mobile nodes over a faulty
//! network (docs/architecture.md "Invariants"), in simulated time.
//!
//! Everything a run does comes from its seed, through one `ChaCha20Rng`: the
//! parameters ([`Params::draw`]: request mode, HA persistence, MN restore
//! policy, loss 0–50 %, duplication 0–20 %, reordering or not, delays, when the HA
//! crashes and for how long, when MNs restart and move, when BUs are replayed or
//! forged, data rates) and every draw during the run. The engines are driven as their
//! driver contract says: after each call, events are drained first (every `Persist`
//! is written to the simulated disk) and only then are frames sent.
//!
//! A run has a **fault phase** (30–70 s) and then a **quiet phase**: from
//! [`Params::fault_ms`] on, the network loses, duplicates and reorders nothing, and no
//! crash, restart, move or injection happens. The run ends 8 s after
//! every MN has converged, and fails if that takes longer than [`Params::bound`].
//!
//! ## Home visits
//!
//! In [`Scenario::HomeVisits`] each MN also returns home once or twice during the
//! fault phase ([`Params::home_visits`], drawn after every other draw, so that the
//! other scenarios' seeds run as before; every visit ends before the faults stop).
//! Back home the MN is told it has no care-of address and deregisters from its home
//! address (RFC 6275 §11.5.4: a BU of lifetime 0); the HA answers it at the home
//! address (§10.3.2), where the network delivers to the MN while it is home and counts
//! a frame as to an old address when it is not. Leaving home gives the MN its current
//! foreign care-of address back (a move while at home only changes which one); an MN
//! restarted at home restarts at home. At home the MN tunnels nothing (`NotAway`) and
//! the HA, once the binding is gone, seals nothing for it: both are counted as unsent.
//!
//! ## What "both ends hold state for each other" means
//!
//! For MN *i* the pair holds state unless
//! - the HA is down (between a crash and its restart), or
//! - the HA restarted from [`mip6_ha::MnRecord::durable_minimum`], or with no record
//!   at all ([`Scenario::StoreLost`]), while it held generations for *i* (it forgot
//!   them), or
//! - MN *i* lost its dynamic keys: it restarted with
//!   [`RestorePolicy::Reinitialize`] while holding generations, or it dropped them
//!   itself after unanswered resends (`Event::KeysDropped`, patent (5), (11)),
//!
//! and the HA has not initialized MN *i* since (an `Event::Keys` of kind
//! `Initialization` for its home address ends the window: from then on the HA
//! transmits with init, which every MN accepts, and accepts init and the new
//! generation). That holds when the initialization answers the node's current
//! request, i.e. the node holds no generation and transmits with init. An HA that
//! lost its store has no replay state left and may take a late copy of an init BU
//! the node has already seen answered, while the node holds that answer's
//! generation: such a *stale* initialization is counted and leaves the window open
//! (the node falls back to init after its unanswered resends). An HA restarted from full records and an MN resumed with
//! [`RestorePolicy::ResumeKeys`] lose nothing, so they open no window: the run checks
//! that their restored keys (and the HA's bindings) equal those before the crash.
//! Each time a window opens, the pair's *epoch* is bumped; a data frame counts as
//! "failed for want of a key" only if it was sealed and received in the same epoch
//! with the pair holding state at both moments.
//!
//! ## Invariants checked after every step
//!
//! After every step, for each MN whose state the step touched (the one a frame,
//! timer or script action concerns; every MN after an HA timeout, crash, restart or
//! injection, and every MN at every step of the quiet phase until convergence):
//!
//! 1. Whenever the pair holds state, the key the HA transmits with is among the MN's
//!    accepted keys (newest, anterior, init) and the key the MN transmits with among
//!    the HA's. The transmit keys are the engines' own: the generation and SPI of
//!    their `KeyView`s (`transmit`, `transmit_spi`; the MN's SPI from its view's
//!    slot of that generation), found by SPI in their records, compared by SPIs and
//!    secret, and each checked to be the key FIG. 1 gives (below). On the
//!    frames: a data frame dropped with `UnknownSpi` while the pair holds state fails
//!    the run when the seed does not reorder, and is counted when it does.
//! 2. No (key, explicit IV) is sealed twice over the whole run, across every crash
//!    and restart (the test kit's [`NonceLedger`](mip6_testkit::NonceLedger), which
//!    also refuses a sequence number going backwards under a key, except after a lost
//!    store, where only the IV prefix keeps the HA's nonces new). Also the
//!    persistence contract: the records on
//!    the simulated disk name the engines' keys, bindings and replay state, with
//!    outbound marks at or above the engines'.
//! 3. After the faults stop, every MN is registered at its care-of address, the HA
//!    binds it there, and both hold the same newest key, within [`Params::bound`];
//!    then data is delivered both ways for every MN.
//! 4. Replays of BUs the HA has already been handed, BUs with flipped octets, BUs
//!    sealed under a guessed key, and garbage, injected during the fault phase, leave
//!    every MN's binding, key view and persisted replay state unchanged. After a lost
//!    store only the BUs the HA was handed since are replayed: the store is what
//!    holds the replay state.
//! 5. A node at home that has seen its deregistration acknowledged
//!    (`Event::Deregistered`) and has no BU outstanding is `Registration::AtHome`, and
//!    the HA holds no unexpired binding for it (RFC 6275 §11.5.4, §10.3.2) — but for
//!    one made after the deregistration by a registration the node had sent before it
//!    came home, delayed past it: an HA with no binding takes any sequence number
//!    (§9.5.1). Those are counted ([`Stats::stale_registrations`]); a BU sent from home
//!    that binds the node fails the run, and so does a deregistration seen while away.
//! 6. Keys are initialized again only after a loss of state: an initialization of a
//!    node that holds no generation, while neither end has lost state since the node
//!    last held one, fails the run, in every scenario (a home visit, for one, must not
//!    cost the keys). An initialization while the node holds a generation is a stale
//!    one (above), never seen but after a lost store.
//!
//! Besides, on every frame: the SPI it was sealed under is the one of the key the
//! sealing engine's own view names as its transmit key (the HA's signalling may be
//! sealed under init too), and after every step that view is the key the patent's
//! FIG. 1 gives for the engine's slots (HA: anterior, else init; MN: newest, else
//! init). Each run counts how often its fault paths fired ([`Totals::fault_paths`]).

pub mod keys;
pub mod net;
mod world;

use core::time::Duration;
use std::collections::BTreeMap;

use mip6_mn::config::MAX_BINDACK_TIMEOUT;
use mip6_mn::RestorePolicy;
use mip6_wire::keys::RequestMode;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub use world::mode_name;

use net::Faults;

/// Binding lifetime the MNs ask for (short, so refreshes happen in a run).
const LIFETIME: Duration = Duration::from_secs(40);
/// The MN refreshes at this percentage of the lifetime (`MnConfig` default).
const MN_REFRESH_PERCENT: u32 = 75;
/// `MnConfig` default: resends under dynamic keys before the MN re-initializes.
const MAX_KEY_RESENDS: u32 = 2;

/// The convergence bound after the faults stop (invariant 3), from the timers:
///
/// - an MN registered under keys the HA forgot sends its next BU at the latest at
///   its refresh (75 % of the 40 s lifetime = 30 s);
/// - a BU that is not answered is retransmitted at most every MAX_BINDACK_TIMEOUT
///   (32 s); after a refusal the MN waits 32 s, then resends `max_key_resends` (2)
///   times under its keys before it drops them and initializes: at most
///   (2 + 2) × 32 s = 128 s from the last BU before the faults stopped;
/// - plus 2 s for round trips.
///
/// Summed (the cases do not chain, but the sum is safe): 30 + 128 + 2 = 160 s.
pub fn convergence_bound() -> Duration {
    LIFETIME * MN_REFRESH_PERCENT / 100
        + MAX_BINDACK_TIMEOUT * (MAX_KEY_RESENDS + 2)
        + Duration::from_secs(2)
}

/// Which family of runs a seed belongs to: the same seed gives other runs in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// A crashed home agent restarts from its full records or from their durable
    /// minimum ([`Params::ha_persistence`]).
    Faults,
    /// As [`Scenario::Faults`], but the HA crashes at least once, and at its first
    /// crash its store is lost (wiped, removed: issue 12, item 9): it restarts with no
    /// record at all, so its init SAs start again from sequence number 1 under the
    /// same init keys and every node it served must initialize again. Later crashes
    /// find what was written since.
    StoreLost,
    /// As [`Scenario::Faults`], and each MN returns home once or twice during the
    /// fault phase ([`Params::home_visits`]; RFC 6275 §11.5.4, §10.3.2).
    HomeVisits,
}

impl Scenario {
    /// The scenario named `name` (`faults`, `store-lost`, `home-visits`), for
    /// `MIP6_SIM_SCENARIO`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "faults" => Some(Scenario::Faults),
            "store-lost" => Some(Scenario::StoreLost),
            "home-visits" => Some(Scenario::HomeVisits),
            _ => None,
        }
    }

    /// The name [`from_name`](Self::from_name) reads.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Faults => "faults",
            Scenario::StoreLost => "store-lost",
            Scenario::HomeVisits => "home-visits",
        }
    }
}

/// Everything a seed decides before the run.
#[derive(Debug, Clone)]
pub struct Params {
    /// The seed.
    pub seed: u64,
    /// The family of runs.
    pub scenario: Scenario,
    /// Mobile nodes (2 or 3).
    pub mns: usize,
    /// Request mode of every node (even seeds explicit, odd implicit).
    pub mode: RequestMode,
    /// Whether the HA restarts from its full records (else from the durable minimum).
    pub ha_persistence: bool,
    /// Whether the HA's first crash loses its whole store ([`Scenario::StoreLost`]).
    pub store_lost: bool,
    /// What a restarted MN takes back from its record.
    pub mn_restore: RestorePolicy,
    /// Network faults during the fault phase.
    pub faults: Faults,
    /// End of the fault phase, ms after T0.
    pub fault_ms: u64,
    /// HA crashes: (at ms, down for ms).
    pub ha_crashes: Vec<(u64, u64)>,
    /// MN restarts: (at ms, MN).
    pub mn_restarts: Vec<(u64, usize)>,
    /// MN moves to its other care-of address: (at ms, MN).
    pub moves: Vec<(u64, usize)>,
    /// Home visits ([`Scenario::HomeVisits`] only): (from ms, for ms, MN). A node's
    /// visits do not overlap, and each ends before `fault_ms - 1000`.
    pub home_visits: Vec<(u64, u64, usize)>,
    /// Replays of captured BUs, at ms.
    pub replays: Vec<u64>,
    /// Forgeries, at ms.
    pub forgeries: Vec<u64>,
    /// Per MN: ms between its data packets to the CN.
    pub data_up_ms: Vec<u64>,
    /// Per MN: ms between the CN's data packets to it.
    pub data_down_ms: Vec<u64>,
    /// The HA's per-MN key update timer.
    pub ha_key_update: Duration,
    /// The MNs' key update timer (explicit mode).
    pub mn_key_update: Duration,
    /// Binding lifetime asked for.
    pub lifetime: Duration,
    /// Outbound sequence numbers reserved per Persist (small, so marks move often).
    pub sequence_block: u64,
    /// Convergence bound (invariant 3).
    pub bound: Duration,
}

impl Params {
    /// The parameters of `seed` in `scenario`, drawn from `rng` (which the run then
    /// goes on using). [`Scenario::Faults`] draws exactly what it always drew, so a
    /// seed's run stays the same; [`Scenario::HomeVisits`] draws the same and then,
    /// after every other draw, its visits.
    pub fn draw(seed: u64, scenario: Scenario, rng: &mut ChaCha20Rng) -> Self {
        let mns = rng.gen_range(2..=3);
        let fault_ms = rng.gen_range(30_000..=70_000);
        let reorder = rng.gen_bool(0.5);
        let faults = Faults {
            loss: rng.gen_range(0.0..=0.5),
            duplicate: rng.gen_range(0.0..=0.2),
            reorder,
            base_delay_us: rng.gen_range(2_000..30_000),
            jitter_us: if reorder {
                rng.gen_range(50_000..400_000)
            } else {
                rng.gen_range(0..20_000)
            },
        };
        let when = |rng: &mut ChaCha20Rng| rng.gen_range(2_000..fault_ms - 1_000);
        let mut ha_crashes = Vec::new();
        for _ in 0..rng.gen_range(0..=2) {
            let t = rng.gen_range(5_000..fault_ms - 10_000);
            let down = rng.gen_range(0..8_000);
            ha_crashes.push((t, down));
        }
        let mut mn_restarts = Vec::new();
        let mut moves = Vec::new();
        for i in 0..mns {
            for _ in 0..rng.gen_range(0..=2) {
                mn_restarts.push((when(rng), i));
            }
            for _ in 0..rng.gen_range(0..=3) {
                moves.push((when(rng), i));
            }
        }
        let replays = (0..rng.gen_range(0..=8)).map(|_| when(rng)).collect();
        let forgeries = (0..rng.gen_range(0..=8)).map(|_| when(rng)).collect();
        let data_up_ms = (0..mns).map(|_| rng.gen_range(1000..=3000)).collect();
        let data_down_ms = (0..mns).map(|_| rng.gen_range(1000..=3000)).collect();
        let store_lost = scenario == Scenario::StoreLost;
        let mn_restore = if rng.gen_bool(0.5) {
            RestorePolicy::Reinitialize
        } else {
            RestorePolicy::ResumeKeys
        };
        if store_lost && ha_crashes.is_empty() {
            let t = rng.gen_range(5_000..fault_ms - 10_000);
            let down = rng.gen_range(0..8_000);
            ha_crashes.push((t, down));
        }
        // Drawn last, so that the other scenarios' draws stay what they were.
        let mut home_visits = Vec::new();
        if scenario == Scenario::HomeVisits {
            for i in 0..mns {
                // One or two visits; two split the window in halves, so they never
                // overlap. Each starts at 2 s at the earliest and ends before
                // fault_ms - 1000.
                let n = rng.gen_range(1..=2u64);
                let (first, end) = (2_000, fault_ms - 1_000);
                let span = (end - first) / n;
                for k in 0..n {
                    let from = first + k * span;
                    let stay = rng.gen_range(500..=8_000);
                    let start = rng.gen_range(from..from + span - stay);
                    home_visits.push((start, stay, i));
                }
            }
        }
        Params {
            seed,
            scenario,
            mns,
            mode: if seed % 2 == 0 {
                RequestMode::Explicit
            } else {
                RequestMode::Implicit
            },
            ha_persistence: (seed / 2) % 2 == 0,
            store_lost,
            mn_restore,
            faults,
            fault_ms,
            ha_crashes,
            mn_restarts,
            moves,
            home_visits,
            replays,
            forgeries,
            data_up_ms,
            data_down_ms,
            ha_key_update: Duration::from_secs(12),
            mn_key_update: Duration::from_secs(8),
            lifetime: LIFETIME,
            sequence_block: 8,
            bound: convergence_bound(),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Steps taken.
    pub steps: u64,
    /// BUs sent.
    pub bus: u64,
    /// Data MN → CN: sealed, delivered by the HA, not sealable (at home / no CoA).
    pub up_sent: u64,
    /// See `up_sent`.
    pub up_delivered: u64,
    /// See `up_sent`.
    pub up_unsent: u64,
    /// Data CN → MN: sealed by the HA, delivered by the MN, refused by the HA (not
    /// bound, or HA down).
    pub down_sent: u64,
    /// See `down_sent`.
    pub down_delivered: u64,
    /// See `down_sent`.
    pub down_unsent: u64,
    /// Frames that reached a crashed HA.
    pub to_dead_ha: u64,
    /// Frames that reached an address of an MN (care-of or home) it was not at.
    pub to_old_address: u64,
    /// Data frames that found no key while the pair held state (invariant 1).
    pub key_failures: u64,
    /// Data frames that found no key while (or sealed before) one end had lost state.
    pub key_misses_exempt: u64,
    /// `key_misses_exempt` by which end had lost state.
    pub exempt_causes: BTreeMap<String, u64>,
    /// Per-MN state checks skipped because one end had lost state.
    pub exempt_checks: u64,
    /// HA key initializations, updates and resends.
    pub initializations: u64,
    /// Initializations of a node the HA had initialized before in the run (after the
    /// HA forgot its keys, or the node dropped its own).
    pub reinitializations: u64,
    /// Initializations while the node held a generation: the HA took an init BU
    /// the node had seen answered already (after a lost store).
    pub stale_initializations: u64,
    /// Unprotected answers of the HA (Binding Errors, ICMPv6 errors) to unprotected
    /// or altered frames (RFC 6275 §9.2, §9.3.1).
    pub unprotected_answers: u64,
    /// See `initializations`.
    pub updates: u64,
    /// See `initializations`.
    pub resends: u64,
    /// MNs dropping their keys after unanswered resends.
    pub mn_keys_dropped: u64,
    /// Faults injected.
    pub ha_crashes: u64,
    /// HA restarts from full records, from their durable minimum, and with a lost
    /// store (no record).
    pub ha_restores_full: u64,
    /// See `ha_restores_full`.
    pub ha_restores_minimum: u64,
    /// See `ha_restores_full`.
    pub store_losses: u64,
    /// Lagging records (`Event::PersistLagging`) a crash took before they were
    /// stored: each leaves the HA at the binding of the record before it.
    pub lagging_records_lost: u64,
    /// Replays of the BU of such a record, taken once by the restarted HA (invariant
    /// 4's one exemption: a BU taken just before a crash and not yet stored).
    pub lost_lagging_bus_replayed: u64,
    /// See `ha_crashes`.
    pub mn_restarts: u64,
    /// See `ha_crashes`.
    pub moves: u64,
    /// Returns home ([`Scenario::HomeVisits`]).
    pub home_visits: u64,
    /// Deregistrations the MNs saw acknowledged (`Event::Deregistered`: a BA
    /// accepting the lifetime-0 BU, or a refusal 133 of it).
    pub deregistrations: u64,
    /// Registrations an MN sent before it came home that reached the HA after its
    /// deregistration, binding it again while it was at home (RFC 6275 §9.5.1: an HA
    /// with no binding accepts any sequence number).
    pub stale_registrations: u64,
    /// Injections by kind and outcome.
    pub injections: BTreeMap<String, u64>,
    /// HA drops by reason.
    pub ha_drops: BTreeMap<String, u64>,
    /// MN drops by reason.
    pub mn_drops: BTreeMap<String, u64>,
    /// BA statuses of refusals the MNs received (`Event::Refused`).
    pub mn_refusals: BTreeMap<String, u64>,
    /// Frames sealed (all in the nonce ledger).
    pub sealed: u64,
    /// Frames sealed at a (key, sequence number) sealed before, kept a new nonce by
    /// the IV prefix alone (`NonceLedger::sequences_repeated`).
    pub sequences_repeated: u64,
    /// SPIs seen again with another secret.
    pub rebinds: u64,
    /// Time from the end of the faults to convergence.
    pub convergence: Option<Duration>,
}

/// A run's parameters and what it did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The parameters.
    pub params: Params,
    /// The counters.
    pub stats: Stats,
}

/// Runs one seed of `scenario`; with `trace`, prints every step. `Err` says which
/// invariant broke.
pub fn run_seed(seed: u64, scenario: Scenario, trace: bool) -> Result<Outcome, String> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let params = Params::draw(seed, scenario, &mut rng);
    let mut w = world::World::new(params.clone(), rng, trace);
    let result = w.run();
    let mut stats = w.stats.clone();
    let (sealed, rebinds, repeated) = w.ledger_counts();
    stats.sealed = sealed;
    stats.rebinds = rebinds;
    stats.sequences_repeated = repeated;
    result.map(|()| Outcome { params, stats })
}

/// Totals over many seeds.
#[derive(Debug, Default)]
pub struct Totals {
    /// Seeds run.
    pub seeds: u64,
    /// (seed, what broke).
    pub failures: Vec<(u64, String)>,
    /// Seeds per (mode, persistence, reorder).
    pub kinds: BTreeMap<String, u64>,
    /// Longest convergence and its seed.
    pub max_convergence: (Duration, u64),
    /// Sum of convergence times (for the mean).
    pub sum_convergence: Duration,
    /// Key failures on reordering seeds (sum) and the seeds with any.
    pub reorder_key_failures: u64,
    /// See `reorder_key_failures`.
    pub reorder_seeds_with_failures: u64,
    /// Reordering seeds, and their data frames sent both ways.
    pub reorder_seeds: u64,
    /// See `reorder_seeds`.
    pub reorder_data_frames: u64,
    /// Summed counters.
    pub sum: Stats,
}

impl Totals {
    /// Adds a run.
    pub fn add(&mut self, seed: u64, r: Result<Outcome, String>) {
        self.seeds += 1;
        let o = match r {
            Ok(o) => o,
            Err(e) => {
                self.failures.push((seed, e));
                return;
            }
        };
        let p = &o.params;
        let s = &o.stats;
        *self
            .kinds
            .entry(format!(
                "{} persistence={} reorder={}",
                mode_name(p.mode),
                p.ha_persistence,
                p.faults.reorder
            ))
            .or_default() += 1;
        if let Some(c) = s.convergence {
            self.sum_convergence += c;
            if c > self.max_convergence.0 {
                self.max_convergence = (c, seed);
            }
        }
        if p.faults.reorder {
            self.reorder_seeds += 1;
            self.reorder_data_frames += s.up_sent + s.down_sent;
            self.reorder_key_failures += s.key_failures;
            self.reorder_seeds_with_failures += u64::from(s.key_failures > 0);
        }
        let t = &mut self.sum;
        t.steps += s.steps;
        t.bus += s.bus;
        t.up_sent += s.up_sent;
        t.up_delivered += s.up_delivered;
        t.down_sent += s.down_sent;
        t.down_delivered += s.down_delivered;
        t.key_failures += s.key_failures;
        t.key_misses_exempt += s.key_misses_exempt;
        t.exempt_checks += s.exempt_checks;
        t.initializations += s.initializations;
        t.reinitializations += s.reinitializations;
        t.stale_initializations += s.stale_initializations;
        t.unprotected_answers += s.unprotected_answers;
        t.updates += s.updates;
        t.resends += s.resends;
        t.mn_keys_dropped += s.mn_keys_dropped;
        t.ha_crashes += s.ha_crashes;
        t.ha_restores_full += s.ha_restores_full;
        t.ha_restores_minimum += s.ha_restores_minimum;
        t.store_losses += s.store_losses;
        t.lagging_records_lost += s.lagging_records_lost;
        t.lost_lagging_bus_replayed += s.lost_lagging_bus_replayed;
        t.mn_restarts += s.mn_restarts;
        t.moves += s.moves;
        t.home_visits += s.home_visits;
        t.deregistrations += s.deregistrations;
        t.stale_registrations += s.stale_registrations;
        t.sealed += s.sealed;
        t.rebinds += s.rebinds;
        t.sequences_repeated += s.sequences_repeated;
        for (sum, one) in [
            (&mut t.injections, &s.injections),
            (&mut t.ha_drops, &s.ha_drops),
            (&mut t.mn_drops, &s.mn_drops),
            (&mut t.mn_refusals, &s.mn_refusals),
        ] {
            for (k, v) in one {
                *sum.entry(k.clone()).or_default() += v;
            }
        }
        for (k, v) in &s.exempt_causes {
            *t.exempt_causes.entry(k.clone()).or_default() += v;
        }
    }

    /// A human-readable summary.
    pub fn report(&self) -> String {
        let mean = if self.seeds > 0 {
            self.sum_convergence / u32::try_from(self.seeds).unwrap_or(u32::MAX)
        } else {
            Duration::ZERO
        };
        let s = &self.sum;
        let mut out = format!(
            "seeds {} failures {}\nconvergence: max {:?} (seed {}), mean {:?}, bound {:?}\n\
             reordering: {} seeds, {} data frames, {} failed for want of a key ({} seeds)\n\
             steps {} sealed {} BUs {} data up {}/{} down {}/{}\n\
             keys: {} initializations ({} again, {} stale), {} updates, {} resends, {} MN key drops, {} rebinds\n\
             nonces: {} sealed at a sequence number used before under the key, new by the IV prefix\n\
             faults: {} HA crashes (restored: {} full, {} durable minimum, {} store lost), {} MN restarts, {} moves; exempt checks {}, exempt key misses {}\n\
             home: {} visits, {} deregistrations acknowledged, {} registrations bound again after a deregistration\n",
            self.seeds,
            self.failures.len(),
            self.max_convergence.0,
            self.max_convergence.1,
            mean,
            convergence_bound(),
            self.reorder_seeds,
            self.reorder_data_frames,
            self.reorder_key_failures,
            self.reorder_seeds_with_failures,
            s.steps,
            s.sealed,
            s.bus,
            s.up_delivered,
            s.up_sent,
            s.down_delivered,
            s.down_sent,
            s.initializations,
            s.reinitializations,
            s.stale_initializations,
            s.updates,
            s.resends,
            s.mn_keys_dropped,
            s.rebinds,
            s.sequences_repeated,
            s.ha_crashes,
            s.ha_restores_full,
            s.ha_restores_minimum,
            s.store_losses,
            s.mn_restarts,
            s.moves,
            s.exempt_checks,
            s.key_misses_exempt,
            s.home_visits,
            s.deregistrations,
            s.stale_registrations,
        );
        for (k, v) in &self.kinds {
            out += &format!("  {k}: {v}\n");
        }
        for (k, v) in &s.injections {
            out += &format!("  injected {k}: {v}\n");
        }
        for (k, v) in &s.exempt_causes {
            out += &format!("  data frames without a key, exempt, {k}: {v}\n");
        }
        for (k, v) in &s.ha_drops {
            out += &format!("  HA drops {k}: {v}\n");
        }
        for (k, v) in &s.mn_drops {
            out += &format!("  MN drops {k}: {v}\n");
        }
        for (k, v) in &s.mn_refusals {
            out += &format!("  MN refused with {k}: {v}\n");
        }
        out
    }

    /// How often each fault path fired, by a stable name (the floors of
    /// `tests/simulation.rs` are keyed by it).
    pub fn fault_paths(&self) -> Vec<(&'static str, u64)> {
        let s = &self.sum;
        let sum_of = |map: &BTreeMap<String, u64>, prefix: &str| -> u64 {
            map.iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| v)
                .sum()
        };
        vec![
            ("HA key resends", s.resends),
            ("HA key updates", s.updates),
            ("MN key drops", s.mn_keys_dropped),
            ("re-initializations", s.reinitializations),
            ("stale initializations", s.stale_initializations),
            ("HA unprotected answers", s.unprotected_answers),
            ("HA crashes", s.ha_crashes),
            ("HA restores from full records", s.ha_restores_full),
            (
                "HA restores from the durable minimum",
                s.ha_restores_minimum,
            ),
            ("HA store losses", s.store_losses),
            ("HA lagging records lost", s.lagging_records_lost),
            (
                "replays of a lost lagging record's BU taken",
                s.lost_lagging_bus_replayed,
            ),
            ("MN restarts", s.mn_restarts),
            ("moves", s.moves),
            ("home visits", s.home_visits),
            ("deregistrations acknowledged", s.deregistrations),
            (
                "data under a restored key (BRR)",
                sum_of(&s.ha_drops, "DataUnderRestoredKey"),
            ),
            (
                "replayed BUs dropped as replays",
                sum_of(&s.injections, "replayed BU: Dropped(Replayed)"),
            ),
            (
                "BUs under a guessed key dropped",
                sum_of(&s.injections, "BU under a guessed key: Dropped"),
            ),
            (
                "data without a key, one end lost state",
                s.key_misses_exempt,
            ),
            (
                "sequence numbers repeated under a key",
                s.sequences_repeated,
            ),
        ]
    }
}

/// Runs `seeds` of `scenario` and returns the totals.
pub fn run_seeds(seeds: impl IntoIterator<Item = u64>, scenario: Scenario) -> Totals {
    let mut t = Totals::default();
    for seed in seeds {
        t.add(seed, run_seed(seed, scenario, false));
    }
    t
}
