//! One state of the model: the real [`HomeAgent`] and [`MobileNode`] engines, the
//! network between them (a multiset of in-flight frames, as bytes), the HA's
//! persisted record, the clock, and what the path so far sealed (the test kit's
//! nonce ledger). [`World::apply`] performs one [`Action`]; the engines are driven
//! exactly as their driver contract says, through the kit's stepper (after every
//! call: drain the events, store every `Persist`, then send). Addresses and the init
//! key are the kit's lab.
//!
//! The engines hold `mip6_wire::keys::KeyTable`s, which are not `Clone` (their SAs
//! own expanded AES keys), so a state is never copied: the explorer rebuilds a state
//! by replaying its action trace from [`World::new`] (everything is deterministic:
//! seeded RNGs, simulated time).

use core::time::Duration;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::net::Ipv6Addr;

use mip6_ha::{HaConfig, HomeAgent};
use mip6_mn::{MobileNode, Registration};
use mip6_testkit::ledger::Learned;
use mip6_testkit::packet::{esp_header, udp_packet};
use mip6_testkit::{stepper, KeyMaterial, NonceLedger};
use mip6_wire::keys::{Direction, RequestMode};
use mip6_wire::Time;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::engine_keys::{ha_mn_config, ha_record_keys, mn_config, mn_record_keys};

/// The lab's addresses (the MN's care-of address is [`COA`]: it never moves in the
/// model) and start of simulated time.
pub use mip6_testkit::lab::{init_key, CN, COA, HA, HOA, T0};

use mip6_testkit::lab::since_t0;

/// The model's knobs: the request mode and short protocol timers, so that key
/// updates, retransmissions and expiries happen within a few actions.
#[derive(Debug, Clone, Copy)]
pub struct ModelConfig {
    /// Explicit or implicit requests (both ends alike).
    pub mode: RequestMode,
    /// The HA's per-MN key update timer.
    pub ha_key_update: Duration,
    /// The MN's key update timer (explicit mode only; `None`: off).
    pub mn_key_update: Option<Duration>,
    /// The binding lifetime the MN asks for (the HA grants it).
    pub lifetime: Duration,
    /// HA crashes allowed along one path.
    pub max_crashes: u32,
    /// Frames lost along one path.
    pub max_losses: u32,
    /// Frames duplicated along one path.
    pub max_duplicates: u32,
    /// Data packets sent (either way) along one path.
    pub max_data: u32,
    /// Sending a data frame is enabled only with fewer frames than this in flight.
    pub max_in_flight: usize,
    /// Whether an update follows each initialization by itself (the engines'
    /// `rekey_after_initialization`). Off in [`ModelConfig::new`]: the extra
    /// exchange doubles the depth every path needs before the faults start, beyond
    /// the check's budget; the simulation runs the daemons' default (on).
    pub rekey_after_initialization: bool,
}

impl ModelConfig {
    /// The configuration the model check runs: HA key timer 10 s, MN key timer 8 s
    /// (explicit mode), 60 s bindings; fault budget per path: one HA crash, two
    /// losses, one duplicate; two data packets, sent with fewer than 3 frames in
    /// flight. Both engines reserve sequence numbers in blocks of 1, so every persisted
    /// mark is the exact next sequence number (see [`World::fingerprint`]).
    pub fn new(mode: RequestMode) -> Self {
        ModelConfig {
            mode,
            ha_key_update: Duration::from_secs(10),
            mn_key_update: match mode {
                RequestMode::Explicit => Some(Duration::from_secs(8)),
                RequestMode::Implicit => None,
            },
            lifetime: Duration::from_secs(60),
            max_crashes: 1,
            max_losses: 2,
            max_duplicates: 1,
            max_data: 2,
            max_in_flight: 3,
            rekey_after_initialization: false,
        }
    }

    fn ha_config(&self) -> HaConfig {
        let mut c = HaConfig::new(HA, vec![ha_mn_config(&init_key())]);
        c.mode = self.mode;
        c.key_update_interval = self.ha_key_update;
        c.rekey_after_initialization = self.rekey_after_initialization;
        c.sequence_block = 1;
        c
    }

    fn mn_config(&self) -> mip6_mn::MnConfig {
        let mut c = mn_config(HA, &init_key());
        c.request_mode = self.mode;
        c.key_update_interval = self.mn_key_update;
        c.requested_lifetime = self.lifetime;
        c.rekey_after_initialization = self.rekey_after_initialization;
        c.sequence_block = 1;
        c
    }
}

/// One end of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// The home agent.
    Ha,
    /// The mobile node.
    Mn,
}

/// One step of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Deliver in-flight frame `frame` to its receiver; with `keep` a copy stays in
    /// flight (duplication), else it leaves the network.
    Deliver {
        /// Index into [`World::net`].
        frame: usize,
        /// Leave a copy in flight.
        keep: bool,
    },
    /// Lose in-flight frame `frame`.
    Drop {
        /// Index into [`World::net`].
        frame: usize,
    },
    /// Advance the clock to the earliest deadline of either engine and fire it (both
    /// if they coincide): retransmission, refresh, key timers, binding expiry.
    Tick,
    /// The HA crashes and restarts from its last persisted record, or (with
    /// `durable_only`) from its durable minimum (a "stateless" HA).
    CrashHa {
        /// Restart from `MnRecord::durable_minimum` instead of the full record.
        durable_only: bool,
    },
    /// One data packet is tunnelled by `from` (if it can).
    SendData {
        /// The sender.
        from: Side,
    },
}

/// A frame in flight.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// Its receiver.
    pub to: Side,
    /// The whole IPv6 packet.
    pub bytes: Vec<u8>,
    /// A copy of it was delivered before (its receiver's replay window saw it).
    pub delivered: bool,
    /// What it is, for traces.
    pub label: String,
}

/// How the two sides' keys relate in one state (invariant 1, docs/architecture.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concord {
    /// Both sides hold dynamic keys for each other (newest is set on both): the scope
    /// in which invariant 1 must hold.
    pub in_scope: bool,
    /// The MN's transmit key is among the keys the HA accepts.
    pub mn_to_ha: bool,
    /// The HA's transmit key is among the keys the MN accepts.
    pub ha_to_mn: bool,
}

/// What a heal run took to converge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Healed {
    /// Actions (deliveries and ticks).
    pub steps: usize,
    /// Simulated time.
    pub elapsed: Duration,
}

/// One state of the model (see the module docs).
pub struct World {
    config: ModelConfig,
    /// The home agent engine.
    pub ha: HomeAgent<ChaCha20Rng>,
    /// The mobile node engine.
    pub mn: MobileNode,
    /// Frames in flight, in the order they were sent.
    pub net: Vec<InFlight>,
    /// The HA's last persisted record (what a restart gets back).
    pub ha_store: Option<mip6_ha::MnRecord>,
    /// The clock.
    pub now: Time,
    /// HA crashes on this path.
    pub crashes: u32,
    /// Frames lost on this path.
    pub losses: u32,
    /// Frames duplicated on this path.
    pub duplicates: u32,
    /// Data packets sent on this path.
    pub data: u32,
    /// Every key held on this path and every sequence number sealed under each.
    ledger: NonceLedger,
    /// Safety violations seen on this path (nonce reuse, SPI naming two keys).
    pub violations: Vec<String>,
    /// Hash of the actions so far: seeds the RNG of a restarted HA.
    trace_hash: u64,
}

/// An IPv6/UDP inner packet src → dst (the model's data).
fn inner_packet(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    udp_packet(src, dst, b"model")
}

fn hash_ha_record(h: &mut DefaultHasher, r: &mip6_ha::MnRecord) {
    r.binding.hash(h);
    for g in [&r.newest, &r.anterior] {
        g.as_ref()
            .map(|g| {
                (
                    g.generation,
                    g.secret.expose(),
                    g.spis.mn_to_ha.get(),
                    g.spis.ha_to_mn.get(),
                    g.outbound_mark,
                    g.inbound_top,
                )
            })
            .hash(h);
    }
    (
        r.newest_confirmed,
        r.init_outbound_mark,
        r.init_inbound_top,
        r.last_init_timestamp,
    )
        .hash(h);
}

impl World {
    /// The start: both engines fresh (the MN from the init key only), the MN has just
    /// moved to its care-of address, so its first BU (an initialization) is in flight.
    pub fn new(config: ModelConfig) -> Self {
        let ha = HomeAgent::new(
            config.ha_config(),
            ChaCha20Rng::seed_from_u64(7),
            T0,
            Vec::new(),
        )
        .expect("a valid HA configuration");
        let mn = MobileNode::new(
            config.mn_config(),
            &mut ChaCha20Rng::seed_from_u64(11),
            T0,
            None,
        );
        let mut w = World {
            config,
            ha,
            mn,
            net: Vec::new(),
            ha_store: None,
            now: T0,
            crashes: 0,
            losses: 0,
            duplicates: 0,
            data: 0,
            ledger: NonceLedger::new(),
            violations: Vec::new(),
            trace_hash: 0,
        };
        w.learn_keys();
        w.mn.set_care_of_address(T0, Some(COA));
        w.after_mn();
        w
    }

    /// Rebuilds the state reached by `trace` from the start.
    pub fn replay(config: ModelConfig, trace: &[Action]) -> Self {
        let mut w = World::new(config);
        for &a in trace {
            w.apply(a);
        }
        w
    }

    /// The actions enabled in this state. Of several identical in-flight frames only
    /// the first is offered (delivering either leads to the same state), and a frame
    /// is duplicated at most once.
    pub fn enabled(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for (i, f) in self.net.iter().enumerate() {
            let twin = self.net[..i]
                .iter()
                .any(|g| g.to == f.to && g.delivered == f.delivered && g.bytes == f.bytes);
            if twin {
                continue;
            }
            out.push(Action::Deliver {
                frame: i,
                keep: false,
            });
            // One duplicate per frame: a third copy meets the replay window (or the
            // persisted floor after a restart) exactly as the second did.
            if !f.delivered && self.duplicates < self.config.max_duplicates {
                out.push(Action::Deliver {
                    frame: i,
                    keep: true,
                });
            }
            if self.losses < self.config.max_losses {
                out.push(Action::Drop { frame: i });
            }
        }
        if self.mn.poll_timeout().is_some() || self.ha.poll_timeout().is_some() {
            out.push(Action::Tick);
        }
        if self.crashes < self.config.max_crashes {
            out.push(Action::CrashHa {
                durable_only: false,
            });
            out.push(Action::CrashHa { durable_only: true });
        }
        if self.net.len() < self.config.max_in_flight && self.data < self.config.max_data {
            if self.mn.registration().care_of_address.is_some() {
                out.push(Action::SendData { from: Side::Mn });
            }
            if self
                .ha
                .binding(&HOA)
                .is_some_and(|b| b.expires_at > self.now)
            {
                out.push(Action::SendData { from: Side::Ha });
            }
        }
        out
    }

    /// Performs one action; returns what happened, for traces.
    pub fn apply(&mut self, action: Action) -> String {
        let mut h = DefaultHasher::new();
        (self.trace_hash, action).hash(&mut h);
        let seed = h.finish();
        let what = match action {
            Action::Deliver { frame, keep } => {
                let Some(f) = self.net.get_mut(frame) else {
                    return format!("deliver #{frame}: no such frame");
                };
                let f = if keep {
                    f.delivered = true;
                    self.duplicates += 1;
                    f.clone()
                } else {
                    self.net.remove(frame)
                };
                let mut bytes = f.bytes;
                let dup = if keep {
                    " (a copy stays in flight)"
                } else {
                    ""
                };
                match f.to {
                    Side::Ha => {
                        let r = self.ha.handle(self.now, &mut bytes);
                        self.after_ha();
                        format!("deliver {} to the HA{dup}: {r:?}", f.label)
                    }
                    Side::Mn => {
                        let r = self.mn.handle(self.now, &mut bytes);
                        self.after_mn();
                        format!("deliver {} to the MN{dup}: {r:?}", f.label)
                    }
                }
            }
            Action::Drop { frame } => {
                if frame < self.net.len() {
                    self.losses += 1;
                    format!("lose {}", self.net.remove(frame).label)
                } else {
                    format!("lose #{frame}: no such frame")
                }
            }
            Action::Tick => self.tick(),
            Action::CrashHa { durable_only } => self.crash(durable_only, seed),
            Action::SendData { from } => {
                self.data += 1;
                self.send_data(from)
            }
        };
        self.trace_hash = seed;
        what
    }

    fn tick(&mut self) -> String {
        let dm = self.mn.poll_timeout();
        let dh = self.ha.poll_timeout();
        let Some(t) = stepper::jump_to_deadline(self.now, [dm, dh], None) else {
            return "tick: no deadline".into();
        };
        self.now = t;
        let mut fired = Vec::new();
        if dm.is_some_and(|d| d <= self.now) {
            self.mn.handle_timeout(self.now);
            self.after_mn();
            fired.push("MN");
        }
        if dh.is_some_and(|d| d <= self.now) {
            self.ha.handle_timeout(self.now);
            self.after_ha();
            fired.push("HA");
        }
        format!(
            "tick to t={:.1}s: {} deadline fired",
            since_t0(self.now),
            fired.join("+")
        )
    }

    fn crash(&mut self, durable_only: bool, seed: u64) -> String {
        let restored: Vec<mip6_ha::MnRecord> = match &self.ha_store {
            Some(r) if durable_only => vec![r.durable_minimum()],
            Some(r) => vec![r.clone()],
            None => Vec::new(),
        };
        if durable_only {
            self.ha_store = restored.first().cloned();
        }
        self.ha = HomeAgent::new(
            self.config.ha_config(),
            ChaCha20Rng::seed_from_u64(seed),
            self.now,
            restored,
        )
        .expect("a valid HA configuration");
        self.crashes += 1;
        self.after_ha();
        let kind = if durable_only {
            "durable minimum"
        } else {
            "full record"
        };
        format!("HA crashes, restarts from its {kind}")
    }

    fn send_data(&mut self, from: Side) -> String {
        match from {
            Side::Mn => {
                match stepper::seal_packet(&mut self.mn, self.now, &inner_packet(HOA, CN)) {
                    Ok(sealed) => {
                        self.after_mn();
                        let label = self.label("data MN→HA", &sealed.frame);
                        self.sent(Side::Ha, sealed.frame, label.clone());
                        format!("MN sends {label}")
                    }
                    Err(e) => format!("MN cannot send data: {e}"),
                }
            }
            Side::Ha => {
                match stepper::seal_packet(&mut self.ha, self.now, &inner_packet(CN, HOA)) {
                    Ok(sealed) => {
                        self.after_ha();
                        let label = self.label("data HA→MN", &sealed.frame);
                        self.sent(Side::Mn, sealed.frame, label.clone());
                        format!("HA sends {label}")
                    }
                    Err(e) => format!("HA cannot send data: {e}"),
                }
            }
        }
    }

    fn label(&self, kind: &str, frame: &[u8]) -> String {
        let (spi, seq) = esp_header(frame).unwrap_or_default();
        format!(
            "[{kind} spi={spi:#x} seq={seq} sent t={:.1}s]",
            since_t0(self.now)
        )
    }

    /// A frame leaves a sender: nonce checks, then into the network.
    fn sent(&mut self, to: Side, bytes: Vec<u8>, label: String) {
        self.check_seal(to, &bytes, &label);
        self.net.push(InFlight {
            to,
            bytes,
            delivered: false,
            label,
        });
    }

    /// Puts `bytes` on the network as if `to`'s peer had sealed and sent them: the
    /// nonce checks run on it. For tests of the checker itself (a replayed frame is a
    /// sender sealing the same (SPI, sequence) twice).
    pub fn inject(&mut self, to: Side, bytes: Vec<u8>) {
        let label = self.label("injected", &bytes);
        self.sent(to, bytes, label);
    }

    /// Driver contract after an HA call (the kit's stepper): events first (store
    /// Persist), then send.
    fn after_ha(&mut self) {
        let frames = stepper::drain(&mut self.ha, |e| {
            // Lagging records count as stored at once here: the model's crashes
            // restore the last record; the loss of a lagging one is the simulation's
            // and the engine fuzzer's (`Event::PersistLagging`).
            if let mip6_ha::Event::Persist(r) | mip6_ha::Event::PersistLagging(r) = e {
                self.ha_store = Some(r);
            }
        });
        self.learn_keys();
        for t in frames {
            let label = self.label("BA", &t.frame);
            self.sent(Side::Mn, t.frame, label);
        }
    }

    /// Driver contract after an MN call (the MN never crashes here: its Persist
    /// records are not kept).
    fn after_mn(&mut self) {
        let frames = stepper::drain(&mut self.mn, |_| {});
        self.learn_keys();
        for t in frames {
            let label = self.label("BU", &t.frame);
            self.sent(Side::Ha, t.frame, label);
        }
    }

    /// Teaches the ledger every key either side holds; an SPI that named another
    /// key earlier on this path is a violation (SPIs name keys 1:1 along a path).
    fn learn_keys(&mut self) {
        let hr = self.ha.record(&HOA);
        let mr = self.mn.record();
        let keys = std::iter::once(init_key())
            .chain(hr.iter().flat_map(ha_record_keys))
            .chain(mn_record_keys(HOA, &mr));
        for key in keys {
            let learned = self.ledger.learn(&key);
            let spis = [key.spis.mn_to_ha, key.spis.ha_to_mn];
            for (spi, l) in spis.into_iter().zip(learned) {
                if l == Learned::Rebound {
                    self.violations.push(format!(
                        "SPI {:#x} names two different keys on this path",
                        spi.get()
                    ));
                }
            }
        }
    }

    /// No (key, sequence) sealed twice (docs/architecture.md invariant 2), checked strictly by
    /// the kit's nonce ledger: each new sequence number under a key must exceed every
    /// earlier one on the path.
    fn check_seal(&mut self, to: Side, frame: &[u8], label: &str) {
        let direction = match to {
            Side::Ha => Direction::MnToHa,
            Side::Mn => Direction::HaToMn,
        };
        if let Err(e) = self.ledger.record(direction, frame) {
            self.violations.push(format!("{label}: {e}"));
        }
    }

    /// Invariant 1 on the key views: each side's transmit key (directional SPI and
    /// secret) among the keys the other accepts.
    pub fn concord(&self) -> Concord {
        let hr = self.ha.record(&HOA).expect("the MN is configured");
        let mr = self.mn.record();
        let init = init_key();
        let ha_held: Vec<KeyMaterial> = ha_record_keys(&hr).chain([init.clone()]).collect();
        let mn_held: Vec<KeyMaterial> = mn_record_keys(HOA, &mr).chain([init.clone()]).collect();
        // The MN transmits with newest, init when there is none.
        let mn_tx = match &mr.newest {
            Some(g) => {
                KeyMaterial::generation(HOA, g.generation, g.secret.clone(), g.spis, g.suite)
            }
            None => init,
        };
        // The HA's transmit key, as the engine says (anterior, or init).
        let tx_spi = self.ha.keys(&HOA).expect("configured").transmit_spi;
        let ha_tx = ha_held.iter().find(|k| k.spis.ha_to_mn.get() == tx_spi);
        Concord {
            in_scope: hr.newest.is_some() && mr.newest.is_some(),
            mn_to_ha: ha_held
                .iter()
                .any(|k| k.spis.mn_to_ha == mn_tx.spis.mn_to_ha && k.secret == mn_tx.secret),
            ha_to_mn: ha_tx.is_some_and(|t| {
                mn_held
                    .iter()
                    .any(|k| k.spis.ha_to_mn == t.spis.ha_to_mn && k.secret == t.secret)
            }),
        }
    }

    /// Invariant 1 on real frames: a data packet sealed now by each side opens at the
    /// other (consumes the state). MN→HA may be refused by the HA's binding checks
    /// (not bound, wrong care-of) but must open; HA→MN is tried if the HA is bound.
    /// With `strict`, both must be delivered.
    pub fn data_trial(&mut self, strict: bool) -> Result<(), String> {
        let mut buf = stepper::seal_packet(&mut self.mn, self.now, &inner_packet(HOA, CN))
            .map_err(|e| format!("MN cannot seal data: {e}"))?
            .frame;
        self.after_mn();
        self.check_seal(Side::Ha, &buf, "trial data MN→HA");
        let r = self.ha.handle(self.now, &mut buf);
        self.after_ha();
        use mip6_ha::DropReason as D;
        let ok = match r {
            mip6_ha::Received::Delivered { .. } => true,
            mip6_ha::Received::Dropped(D::NotBound | D::WrongCareOf) => !strict,
            // Not a key discordance: the key is accepted, but what its SA took after
            // the last persist is unknown, so its data waits for the next generation
            // (issue 12, item 10; docs/architecture.md invariant 1). A heal
            // (`strict`) must end past it.
            mip6_ha::Received::Dropped(D::DataUnderRestoredKey) => !strict,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "data sealed by the MN does not open at the HA: {r:?}"
            ));
        }
        match stepper::seal_packet(&mut self.ha, self.now, &inner_packet(CN, HOA)) {
            Ok(sealed) => {
                let mut buf = sealed.frame;
                self.after_ha();
                self.check_seal(Side::Mn, &buf, "trial data HA→MN");
                let r = self.mn.handle(self.now, &mut buf);
                self.after_mn();
                if !matches!(r, mip6_mn::Received::Delivered { .. }) {
                    return Err(format!(
                        "data sealed by the HA does not open at the MN: {r:?}"
                    ));
                }
            }
            Err(mip6_ha::DataError::NotBound(_)) if !strict => {}
            Err(e) => return Err(format!("HA cannot seal data: {e}")),
        }
        match self.violations.first() {
            Some(v) => Err(v.clone()),
            None => Ok(()),
        }
    }

    /// Whether the HA's newest key was restored after a restart (data under it is
    /// dropped until the next generation).
    pub fn ha_holds_restored_newest(&self) -> bool {
        self.ha.keys(&HOA).is_some_and(|k| k.newest_restored)
    }

    /// The node sends a packet under a key the HA restored: it must be dropped as
    /// unprovable; true if the HA asked for a BU (a BRR in flight; at most one a
    /// second).
    fn probe_restored_key(&mut self) -> Result<bool, String> {
        let mut buf = stepper::seal_packet(&mut self.mn, self.now, &inner_packet(HOA, CN))
            .map_err(|e| format!("MN cannot seal data: {e}"))?
            .frame;
        self.after_mn();
        self.check_seal(Side::Ha, &buf, "data MN→HA under a restored key");
        let r = self.ha.handle(self.now, &mut buf);
        self.after_ha();
        if r != mip6_ha::Received::Dropped(mip6_ha::DropReason::DataUnderRestoredKey) {
            return Err(format!("data under a restored key: {r:?}"));
        }
        Ok(!self.net.is_empty())
    }

    /// Both ends on a common newest key (same secret and SPIs), the HA bound to the
    /// care-of address, the MN registered, nothing in flight.
    pub fn converged(&self) -> bool {
        let hr = self.ha.record(&HOA).expect("configured");
        let mr = self.mn.record();
        let common = match (&hr.newest, &mr.newest) {
            (Some(h), Some(m)) => {
                h.secret.expose() == m.secret.expose()
                    && h.spis == m.spis
                    && h.generation == m.generation
            }
            _ => false,
        };
        common
            && self.net.is_empty()
            && self
                .ha
                .binding(&HOA)
                .is_some_and(|b| b.care_of_address == COA && b.expires_at > self.now)
            && matches!(self.mn.registration().state, Registration::Registered(_))
    }

    /// Fair delivery from here, no loss, no crash: deliver the oldest frame in flight;
    /// when none is, tick. Converged within `max_steps` actions, then data opens both
    /// ways (consumes the state).
    ///
    /// The run is a function of the state, so `memo` (fingerprint → actions and time
    /// still needed) records every state a successful run passed through, and a run
    /// that reaches one of them stops there.
    pub fn heal(
        &mut self,
        max_steps: usize,
        memo: &mut HashMap<u64, (usize, Duration)>,
    ) -> Result<Healed, String> {
        let start = self.now;
        let mut passed: Vec<(u64, Time)> = Vec::new();
        let finish = |memo: &mut HashMap<u64, (usize, Duration)>,
                      passed: &[(u64, Time)],
                      steps: usize,
                      end: Time| {
            for (i, &(fp, at)) in passed.iter().enumerate() {
                memo.insert(fp, (steps - i, end.saturating_since(at)));
            }
            Healed {
                steps,
                elapsed: end.saturating_since(start),
            }
        };
        for steps in 0..=max_steps {
            if let Some(v) = self.violations.first() {
                return Err(v.clone());
            }
            let fp = self.fingerprint();
            if let Some(&(rest, time)) = memo.get(&fp) {
                let total = steps + rest;
                if total > max_steps {
                    break;
                }
                return Ok(finish(memo, &passed, total, self.now + time));
            }
            passed.push((fp, self.now));
            if !self.net.is_empty() {
                self.apply(Action::Deliver {
                    frame: 0,
                    keep: false,
                });
                continue;
            }
            let restored = self.ha_holds_restored_newest();
            // Keys restored after an HA restart take no data (issue 12, item 10):
            // the node's next packet is dropped and draws a BRR (at most one a
            // second: without one, time goes on below).
            if self.converged() && restored && self.probe_restored_key()? {
                continue;
            }
            if self.converged() && !restored {
                self.data_trial(true)?;
                return Ok(finish(memo, &passed, steps, self.now));
            }
            if self.mn.poll_timeout().is_none() && self.ha.poll_timeout().is_none() {
                return Err("heal stuck: nothing in flight, no deadline, not converged".into());
            }
            self.apply(Action::Tick);
        }
        Err(format!(
            "no common newest key and registration within {max_steps} heal actions \
             (t=+{:.1}s; HA {:?} bound {:?}; MN {:?} {:?})",
            self.now.saturating_since(start).as_secs_f64(),
            self.ha.keys(&HOA),
            self.ha.binding(&HOA).map(|b| b.care_of_address),
            self.mn.keys(),
            self.mn.registration().state
        ))
    }

    /// A hash of everything that decides the future of this state, as far as the
    /// engines' public views show it:
    ///
    /// - the clock and both engines' next deadlines;
    /// - the HA's key view and its whole live record (binding with expiry, each
    ///   generation's secret, SPIs, outbound mark and inbound replay top, the init SA's
    ///   mark and top, the last init timestamp, confirmation) and its *persisted*
    ///   record (what a crash restores) — with sequence blocks of 1 the outbound marks
    ///   are the exact next sequence numbers;
    /// - the MN's key view (with its update timer), its record (secrets, SPIs, marks =
    ///   next sequence numbers, BU sequence mark) and its registration state (target,
    ///   BU sequence, request, timeouts, retry and key-resend counts, refusal);
    /// - the network as a multiset of (receiver, bytes, delivered-before): the
    ///   delivered flag stands for the receiver's replay bitmap below its top;
    /// - for each SPI a side holds, the highest sequence number sealed under it on the
    ///   path (the nonce check only compares against that maximum);
    /// - the fault budget spent (crashes, losses, duplicates, data packets: they bound
    ///   the actions still enabled).
    ///
    /// Not covered (hidden inside the engines): the RNG state (secrets and SPIs are
    /// drawn fresh; states differing only there are isomorphic), the HA's key-update
    /// deadline when the binding expiry is earlier, the MN's last init timestamp
    /// (below `now` except after two initializations in the same microsecond) and
    /// counters (statistics only).
    pub fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.now.hash(&mut h);
        self.mn.poll_timeout().hash(&mut h);
        self.ha.poll_timeout().hash(&mut h);
        // Install times only feed status ages: states differing in them alone behave
        // alike, so the key views are hashed without them.
        let mut ha_view = self.ha.keys(&HOA);
        if let Some(v) = ha_view.as_mut() {
            v.generations
                .iter_mut()
                .for_each(|g| g.installed_at = Time::ZERO);
        }
        format!("{ha_view:?}").hash(&mut h);
        let hr = self.ha.record(&HOA).expect("configured");
        hash_ha_record(&mut h, &hr);
        match &self.ha_store {
            Some(r) => {
                1u8.hash(&mut h);
                hash_ha_record(&mut h, r);
            }
            None => 0u8.hash(&mut h),
        }
        let mut mn_view = self.mn.keys();
        mn_view
            .generations
            .iter_mut()
            .for_each(|g| g.installed_at = Time::ZERO);
        format!("{mn_view:?}").hash(&mut h);
        let mr = self.mn.record();
        (mr.init_outbound_mark, mr.bu_sequence_mark).hash(&mut h);
        for g in [&mr.newest, &mr.anterior] {
            g.as_ref()
                .map(|g| {
                    (
                        g.generation,
                        g.secret.expose(),
                        g.spis.mn_to_ha.get(),
                        g.spis.ha_to_mn.get(),
                        g.outbound_mark,
                    )
                })
                .hash(&mut h);
        }
        format!("{:?}", self.mn.registration()).hash(&mut h);
        let mut net: Vec<(Side, &[u8], bool)> = self
            .net
            .iter()
            .map(|f| (f.to, f.bytes.as_slice(), f.delivered))
            .collect();
        net.sort();
        net.hash(&mut h);
        let live: BTreeSet<u32> = std::iter::once(init_key())
            .chain(ha_record_keys(&hr))
            .chain(mn_record_keys(HOA, &mr))
            .flat_map(|k| [k.spis.mn_to_ha.get(), k.spis.ha_to_mn.get()])
            .collect();
        for spi in live {
            let highest = self.ledger.key_of_spi(spi).and_then(|k| k.highest());
            (spi, highest).hash(&mut h);
        }
        (self.crashes, self.losses, self.duplicates, self.data).hash(&mut h);
        h.finish()
    }
}
