//! One simulated run: the home agent, the mobile nodes, the network and the script
//! of faults, driven step by step in simulated time, with the invariants checked
//! after every step (see the module docs of [`crate::sim`]).

use core::time::Duration;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv6Addr;

use mip6_ha::{DistributionKind, HaConfig, HomeAgent};
use mip6_mn::{MobileNode, Registration, RestorePolicy};
use mip6_testkit::lab::{fleet_init_key, since_t0, t0_plus_ms, CN, HA, T0};
use mip6_testkit::packet::{udp_packet, udp_payload};
use mip6_testkit::signalling::{home_registration, BuSpec};
use mip6_testkit::{stepper, KeyMaterial, NonceLedger};
use mip6_wire::esp::{Spi, Suite};
use mip6_wire::keys::{Direction, RequestMode, Role, SpiPair};
use mip6_wire::mh::{KeyOption, DEFAULT_VENDOR_ID};
use mip6_wire::{Secret32, Time};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::keys::KeySet;
use super::net::{Dest, Kind, Network, Packet};
use super::{Params, Stats};
use crate::engine_keys::{ha_mn_config, ha_record_keys, init_key_of, mn_config, mn_record_keys};

/// Where forged BUs claim the MN is.
const ATTACKER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x66, 0, 0, 0, 0, 1);
/// How long data must flow after convergence before a run ends.
const TAIL: Duration = Duration::from_secs(8);
/// BUs kept per MN for replays.
const CAPTURED: usize = 16;

type Ha = HomeAgent<ChaCha20Rng>;

/// Something the script does at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    MnData(usize),
    HaData(usize),
    HaCrash,
    HaRestart(u64),
    MnRestart(usize),
    Move(usize),
    GoHome(usize),
    LeaveHome(usize),
    Replay,
    Forge,
    Heal,
    Deadline,
    Finish,
}

/// One mobile node and the simulation's bookkeeping about it.
struct Mn {
    hoa: Ipv6Addr,
    coas: [Ipv6Addr; 2],
    /// The care-of address it is at, or comes back to from home.
    at: usize,
    /// At home (a home visit, [`super::Scenario::HomeVisits`]).
    home: bool,
    /// When the current (or last) home visit began.
    home_since: Time,
    /// At home, the MN has seen its deregistration acknowledged (`Event::Deregistered`)
    /// since it came back.
    dereg_acked: bool,
    /// At home: a binding the HA made from a registration the MN had sent before it
    /// came home, taken after its deregistration (RFC 6275 §9.5.1).
    stale_binding: Option<mip6_ha::BindingView>,
    /// The MN has held a generation since either end last lost state: from then on
    /// nothing but a loss of state may make the HA initialize it again.
    settled: bool,
    /// Restarted under [`RestorePolicy::Reinitialize`] and not persisted since: the
    /// disk still names the keys the restart dropped. The engine writes its record
    /// with its first BU, at once when away; a node restarted at home sends none
    /// until it leaves. Such keys are never taken back (the policy takes back only
    /// the marks), so only the keys of the two records may differ meanwhile.
    disk_keys_dropped: bool,
    cfg: mip6_mn::MnConfig,
    node: MobileNode,
    disk: Option<mip6_mn::MnRecord>,
    /// The MN dropped its dynamic keys (restart under `Reinitialize`, or
    /// `KeysDropped`) and the HA has not initialized it since.
    mn_lost: bool,
    /// The HA forgot this MN's generations (restart from the durable minimum) and
    /// has not initialized it since.
    ha_lost: bool,
    /// Bumped whenever one end loses state: a frame sealed in another epoch may
    /// legitimately find no key.
    epoch: u64,
    /// The HA has initialized this MN at least once in the run.
    initialized: bool,
    up_seq: u32,
    down_seq: u32,
    up_after: u64,
    down_after: u64,
    captured: Vec<Vec<u8>>,
}

impl Mn {
    fn coa(&self) -> Ipv6Addr {
        self.coas[self.at]
    }

    /// The address the MN is reached at: its care-of address, or at home its home
    /// address.
    fn address(&self) -> Ipv6Addr {
        if self.home {
            self.hoa
        } else {
            self.coa()
        }
    }

    /// One end lost its state for the other (see the module docs): a new epoch.
    fn lose(&mut self, ha_side: bool) {
        if ha_side {
            self.ha_lost = true;
        } else {
            self.mn_lost = true;
        }
        self.settled = false;
        self.epoch += 1;
    }
}

/// What an injection may not move: the binding, the key view and the persisted
/// fields other than outbound marks (replay tops included), for every MN.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Digest(
    Vec<(
        Option<mip6_ha::BindingView>,
        Option<mip6_ha::KeyView>,
        Option<mip6_ha::MnRecord>,
    )>,
);

/// The simulated world of one seed.
pub struct World {
    p: Params,
    rng: ChaCha20Rng,
    now: Time,
    trace: bool,
    ha_cfg: HaConfig,
    ha: Option<Ha>,
    ha_disk: HashMap<Ipv6Addr, mip6_ha::MnRecord>,
    /// Records that may lag (`Event::PersistLagging`) not yet on `ha_disk`: they land
    /// when the HA takes its next input, and a crash before that loses them.
    ha_lagging: HashMap<Ipv6Addr, mip6_ha::MnRecord>,
    /// What replay protection lagging records a crash lost covered: per MN→HA SPI,
    /// the sequence numbers above the restored top up to the lost one's. A replay of
    /// a BU sealed there is taken once by the restarted HA, as a BU taken just before
    /// a crash and not yet stored would be (invariant 4's one exemption,
    /// `Event::PersistLagging`); `(spi, sequence number)` taken so.
    ha_lagging_lost: Vec<(u32, core::ops::RangeInclusive<u32>)>,
    ha_lagging_taken: std::collections::HashSet<(u32, u32)>,
    crash_id: u64,
    before_crash: Vec<(Option<mip6_ha::KeyView>, Option<mip6_ha::BindingView>)>,
    mns: Vec<Mn>,
    /// The MN each care-of and home address belongs to.
    owner: HashMap<Ipv6Addr, usize>,
    net: Network,
    ledger: NonceLedger,
    actions: BinaryHeap<Reverse<(Time, u64, Action)>>,
    order: u64,
    healed_at: Option<Time>,
    converged_at: Option<Time>,
    /// Bit i: the step touched MN i's state at either end (what [`World::check`]
    /// looks at).
    touched: u64,
    /// What happened.
    pub stats: Stats,
}

fn at(ms: u64) -> Time {
    t0_plus_ms(ms)
}

/// An inner IPv6/UDP packet src → dst carrying (tag, MN, sequence number).
fn inner(src: Ipv6Addr, dst: Ipv6Addr, tag: u8, mn: usize, seq: u32) -> Vec<u8> {
    let mut payload = vec![tag, u8::try_from(mn).unwrap_or(u8::MAX), 0, 0];
    payload.extend_from_slice(&seq.to_be_bytes());
    udp_packet(src, dst, &payload)
}

/// (tag, MN, sequence number) of a delivered inner packet.
fn read_inner(inner: &[u8]) -> Option<(u8, usize, u32)> {
    let p = udp_payload(inner).get(..8)?;
    Some((
        p[0],
        usize::from(p[1]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
    ))
}

macro_rules! tr {
    ($w:expr, $($arg:tt)*) => {
        if $w.trace {
            println!("{:>10.6} {}", since_t0($w.now), format_args!($($arg)*));
        }
    };
}

impl World {
    /// Builds the world of `p`: engines started, the script scheduled.
    pub fn new(p: Params, mut rng: ChaCha20Rng, trace: bool) -> Self {
        let mut ha_mns = Vec::new();
        let mut mns = Vec::new();
        let mut owner = HashMap::new();
        for i in 0..p.mns {
            let n = u8::try_from(i).unwrap_or(0) + 1;
            let last = 0x100 + u16::from(n);
            let hoa = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, last);
            let coas = [
                Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, last),
                Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, last),
            ];
            let key = fleet_init_key(hoa, n);
            ha_mns.push(ha_mn_config(&key));
            let mut cfg = mn_config(HA, &key);
            cfg.request_mode = p.mode;
            cfg.key_update_interval = Some(p.mn_key_update);
            cfg.requested_lifetime = p.lifetime;
            cfg.sequence_block = p.sequence_block;
            cfg.restore = p.mn_restore;
            let node = MobileNode::new(cfg.clone(), &mut rng, T0, None);
            owner.insert(coas[0], i);
            owner.insert(coas[1], i);
            owner.insert(hoa, i);
            mns.push(Mn {
                hoa,
                coas,
                at: 0,
                home: false,
                home_since: T0,
                dereg_acked: false,
                stale_binding: None,
                settled: false,
                disk_keys_dropped: false,
                cfg,
                node,
                disk: None,
                mn_lost: false,
                ha_lost: false,
                epoch: 0,
                initialized: false,
                up_seq: 0,
                down_seq: 0,
                up_after: 0,
                down_after: 0,
                captured: Vec::new(),
            });
        }
        let mut ha_cfg = HaConfig::new(HA, ha_mns);
        ha_cfg.mode = p.mode;
        ha_cfg.key_update_interval = p.ha_key_update;
        ha_cfg.sequence_block = p.sequence_block;
        let ha = HomeAgent::new(
            ha_cfg.clone(),
            ChaCha20Rng::seed_from_u64(rng.next_u64()),
            T0,
            Vec::new(),
        )
        .expect("valid configuration");
        let mut ledger = NonceLedger::new();
        for m in &ha_cfg.mobile_nodes {
            ledger.learn(&init_key_of(m));
        }
        let net = Network::new(p.faults);
        let mut w = World {
            rng,
            now: T0,
            trace,
            ha_cfg,
            ha: Some(ha),
            ha_disk: HashMap::new(),
            ha_lagging: HashMap::new(),
            ha_lagging_lost: Vec::new(),
            ha_lagging_taken: std::collections::HashSet::new(),
            crash_id: 0,
            before_crash: Vec::new(),
            mns,
            owner,
            net,
            ledger,
            actions: BinaryHeap::new(),
            order: 0,
            healed_at: None,
            converged_at: None,
            touched: u64::MAX,
            stats: Stats::default(),
            p,
        };
        w.script();
        w
    }

    /// Frames sealed, SPI rebinds and sequence numbers sealed again under a key, as
    /// the nonce ledger saw them.
    pub fn ledger_counts(&self) -> (u64, u64, u64) {
        (
            self.ledger.frames,
            self.ledger.rebinds,
            self.ledger.sequences_repeated,
        )
    }

    fn schedule(&mut self, t: Time, a: Action) {
        self.order += 1;
        self.actions.push(Reverse((t, self.order, a)));
    }

    fn script(&mut self) {
        let p = self.p.clone();
        for i in 0..p.mns {
            let up = self.rng.gen_range(0..p.data_up_ms[i]);
            let down = self.rng.gen_range(0..p.data_down_ms[i]);
            self.schedule(at(1000 + up), Action::MnData(i));
            self.schedule(at(1000 + down), Action::HaData(i));
        }
        for &(t, _) in &p.ha_crashes {
            self.schedule(at(t), Action::HaCrash);
        }
        for &(t, i) in &p.mn_restarts {
            self.schedule(at(t), Action::MnRestart(i));
        }
        for &(t, i) in &p.moves {
            self.schedule(at(t), Action::Move(i));
        }
        for &(t, stay, i) in &p.home_visits {
            self.schedule(at(t), Action::GoHome(i));
            self.schedule(at(t + stay), Action::LeaveHome(i));
        }
        for &t in &p.replays {
            self.schedule(at(t), Action::Replay);
        }
        for &t in &p.forgeries {
            self.schedule(at(t), Action::Forge);
        }
        self.schedule(at(p.fault_ms), Action::Heal);
    }

    /// Runs to the end; `Err` names the first invariant broken.
    pub fn run(&mut self) -> Result<(), String> {
        tr!(self, "params {:?}", self.p);
        for i in 0..self.mns.len() {
            let coa = self.mns[i].coa();
            self.mns[i].node.set_care_of_address(self.now, Some(coa));
            self.after_mn(i)?;
        }
        let mut same_time_steps = 0u32;
        loop {
            let next = self.next_time();
            if next <= self.now {
                same_time_steps += 1;
                if same_time_steps > 100_000 {
                    return Err("livelock: 100000 steps without time advancing".into());
                }
            } else {
                same_time_steps = 0;
                self.now = next;
            }
            if self.step()? {
                return Ok(());
            }
            self.stats.steps += 1;
            self.check()?;
        }
    }

    fn next_time(&self) -> Time {
        let deadlines = [
            self.net.peek(),
            self.ha.as_ref().and_then(Ha::poll_timeout),
            self.actions.peek().map(|r| r.0 .0),
        ]
        .into_iter()
        .chain(self.mns.iter().map(|m| m.node.poll_timeout()));
        stepper::next_deadline(deadlines)
            .unwrap_or(Time::from_micros(u64::MAX))
            .max(self.now)
    }

    fn touch(&mut self, i: usize) {
        self.touched |= 1 << i;
    }

    /// Does one thing due at `now`. True when the run is over.
    fn step(&mut self) -> Result<bool, String> {
        let now = self.now;
        self.touched = 0;
        if let Some(p) = self.net.pop_due(now) {
            self.touch(p.mn);
            self.deliver(p)?;
            return Ok(false);
        }
        if let Some(ha) = self.ha.as_mut() {
            if ha.poll_timeout().is_some_and(|t| t <= now) {
                ha.handle_timeout(now);
                self.touched = u64::MAX;
                tr!(self, "HA timeout");
                self.after_ha()?;
                return Ok(false);
            }
        }
        for i in 0..self.mns.len() {
            if self.mns[i].node.poll_timeout().is_some_and(|t| t <= now) {
                self.mns[i].node.handle_timeout(now);
                self.touch(i);
                tr!(self, "MN{i} timeout");
                self.after_mn(i)?;
                return Ok(false);
            }
        }
        let Some(Reverse((t, _, action))) = self.actions.pop() else {
            return Err("nothing left to do before the run ended".into());
        };
        debug_assert!(t <= now);
        match action {
            Action::MnData(i)
            | Action::HaData(i)
            | Action::MnRestart(i)
            | Action::Move(i)
            | Action::GoHome(i)
            | Action::LeaveHome(i) => {
                self.touch(i);
            }
            _ => self.touched = u64::MAX,
        }
        self.act(action)
    }

    fn act(&mut self, action: Action) -> Result<bool, String> {
        let now = self.now;
        match action {
            Action::MnData(i) => {
                self.mn_data(i)?;
                let next = now + Duration::from_millis(self.p.data_up_ms[i]);
                self.schedule(next, Action::MnData(i));
            }
            Action::HaData(i) => {
                self.ha_data(i)?;
                let next = now + Duration::from_millis(self.p.data_down_ms[i]);
                self.schedule(next, Action::HaData(i));
            }
            Action::HaCrash => self.ha_crash(),
            Action::HaRestart(id) => self.ha_restart(id)?,
            Action::MnRestart(i) => self.mn_restart(i)?,
            Action::Move(i) => {
                let m = &mut self.mns[i];
                m.at = 1 - m.at;
                let coa = m.coa();
                self.stats.moves += 1;
                if m.home {
                    // At home it only changes where it will come back to.
                    tr!(self, "MN{i}, at home, will come back to {coa}");
                } else {
                    m.node.set_care_of_address(now, Some(coa));
                    tr!(self, "MN{i} moves to {coa}");
                    self.after_mn(i)?;
                }
            }
            Action::GoHome(i) => {
                let m = &mut self.mns[i];
                m.home = true;
                m.home_since = now;
                m.dereg_acked = false;
                m.stale_binding = None;
                // RFC 6275 §11.5.4: back home, the node deregisters (a BU of lifetime 0
                // from its home address).
                m.node.set_care_of_address(now, None);
                self.stats.home_visits += 1;
                tr!(self, "MN{i} returns home");
                self.after_mn(i)?;
            }
            Action::LeaveHome(i) => {
                let m = &mut self.mns[i];
                m.home = false;
                m.stale_binding = None;
                let coa = m.coa();
                m.node.set_care_of_address(now, Some(coa));
                tr!(self, "MN{i} leaves home for {coa}");
                self.after_mn(i)?;
            }
            Action::Replay => self.replay()?,
            Action::Forge => self.forge()?,
            Action::Heal => {
                self.net.heal();
                self.healed_at = Some(now);
                tr!(self, "faults stop");
                self.schedule(now + self.p.bound, Action::Deadline);
            }
            Action::Deadline => {
                if self.converged_at.is_none() {
                    return Err(format!(
                        "no common newest key and registration {:?} after the faults stopped\n{}",
                        self.p.bound,
                        self.state_dump()
                    ));
                }
            }
            Action::Finish => {
                for (i, m) in self.mns.iter().enumerate() {
                    if m.up_after == 0 || m.down_after == 0 {
                        return Err(format!(
                            "MN{i}: no data delivered in {TAIL:?} after convergence (up {}, down {})",
                            m.up_after, m.down_after
                        ));
                    }
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether both ends hold state for each other (see the module docs).
    fn holds_state(&self, i: usize) -> bool {
        let m = &self.mns[i];
        self.ha.is_some() && !m.mn_lost && !m.ha_lost
    }

    fn pair_epoch(&self, i: usize) -> Option<u64> {
        self.holds_state(i).then_some(self.mns[i].epoch)
    }

    fn deliver(&mut self, mut p: Packet) -> Result<(), String> {
        let now = self.now;
        let mut bytes = std::mem::take(&mut p.bytes);
        match p.dest {
            Dest::Ha => {
                let Some(ha) = self.ha.as_mut() else {
                    self.stats.to_dead_ha += 1;
                    return Ok(());
                };
                if p.kind == Kind::Bu {
                    let c = &mut self.mns[p.mn].captured;
                    if c.len() >= CAPTURED {
                        c.remove(0);
                    }
                    c.push(bytes.clone());
                }
                let hoa = self.mns[p.mn].hoa;
                let bound_before = ha.binding(&hoa);
                let r = ha.handle(now, &mut bytes);
                tr!(self, "HA <- MN{} {:?}: {:?}", p.mn, p.kind, r);
                let m = &mut self.mns[p.mn];
                let bound_after = ha.binding(&hoa);
                if m.home && p.kind == Kind::Bu && bound_after != bound_before {
                    if let Some(b) = bound_after.filter(|b| b.care_of_address != hoa) {
                        // At home the node sends nothing but deregistrations: a
                        // binding made now comes from a BU it sent before it came home,
                        // delayed past its deregistration, which an HA with no binding
                        // takes whatever its sequence number (RFC 6275 §9.5.1).
                        if p.from_home {
                            return Err(format!(
                                "MN{}, at home since {:?}, bound to {} by a BU sent from home",
                                p.mn,
                                since_t0(m.home_since),
                                b.care_of_address,
                            ));
                        }
                        m.stale_binding = Some(b);
                        self.stats.stale_registrations += 1;
                        tr!(
                            self,
                            "MN{} at home bound again by a BU sent before: {b:?}",
                            p.mn
                        );
                    }
                }
                match r {
                    mip6_ha::Received::Delivered { inner, .. } => {
                        if let Some((b'U', i, _)) = bytes.get(inner).and_then(read_inner) {
                            self.stats.up_delivered += 1;
                            if self.converged_at.is_some() {
                                if let Some(m) = self.mns.get_mut(i) {
                                    m.up_after += 1;
                                }
                            }
                        }
                    }
                    mip6_ha::Received::Consumed { .. } => {}
                    mip6_ha::Received::Dropped(reason) => {
                        *self
                            .stats
                            .ha_drops
                            .entry(format!("{reason:?}"))
                            .or_default() += 1;
                        if p.kind == Kind::Data && reason == mip6_ha::DropReason::UnknownSpi {
                            self.missing_key(&p)?;
                        }
                    }
                }
                self.after_ha()
            }
            Dest::Mn(addr) => {
                let Some(&i) = self.owner.get(&addr) else {
                    return Err(format!("frame to {addr}, no MN's address"));
                };
                if self.mns[i].address() != addr {
                    self.stats.to_old_address += 1;
                    return Ok(());
                }
                let r = self.mns[i].node.handle(now, &mut bytes);
                tr!(self, "MN{i} <- HA {:?}: {:?}", p.kind, r);
                match r {
                    mip6_mn::Received::Delivered { inner, .. } => {
                        if let Some((b'D', _, _)) = bytes.get(inner).and_then(read_inner) {
                            self.stats.down_delivered += 1;
                            if self.converged_at.is_some() {
                                self.mns[i].down_after += 1;
                            }
                        }
                    }
                    mip6_mn::Received::Consumed { .. } => {}
                    mip6_mn::Received::Dropped(reason) => {
                        *self
                            .stats
                            .mn_drops
                            .entry(format!("{reason:?}"))
                            .or_default() += 1;
                        if p.kind == Kind::Data && reason == mip6_mn::DropReason::UnknownSpi {
                            self.missing_key(&p)?;
                        }
                    }
                }
                self.after_mn(i)
            }
        }
    }

    /// A data frame found no key at its receiver (invariant 1 on the frames).
    fn missing_key(&mut self, p: &Packet) -> Result<(), String> {
        if p.epoch.is_some() && p.epoch == self.pair_epoch(p.mn) {
            self.stats.key_failures += 1;
            if !self.p.faults.reorder {
                return Err(format!(
                    "invariant 1: a data frame for MN{} ({:?}) found no key at its receiver \
                     on a network that keeps order, both ends holding state",
                    p.mn, p.dest
                ));
            }
        } else {
            self.stats.key_misses_exempt += 1;
            let m = &self.mns[p.mn];
            let cause = if m.ha_lost {
                "HA forgot the MN's keys"
            } else if m.mn_lost {
                "MN dropped its keys"
            } else {
                "sealed before a loss of state"
            };
            *self.stats.exempt_causes.entry(cause.into()).or_default() += 1;
        }
        Ok(())
    }

    /// Drains the HA after a call (the kit's stepper): events (persist first), then
    /// its frames.
    fn after_ha(&mut self) -> Result<(), String> {
        let Some(ha) = self.ha.as_mut() else {
            return Ok(());
        };
        // The lagging records of the HA's previous input were written meanwhile.
        self.ha_disk.extend(self.ha_lagging.drain());
        let mut unexplained = None;
        let frames = stepper::drain(ha, |e| match e {
            mip6_ha::Event::Persist(r) => {
                for key in ha_record_keys(&r) {
                    self.ledger.learn(&key);
                }
                // The driver writes the queued lagging records in the same batch,
                // before this one: the newest stays.
                self.ha_lagging.remove(&r.home_address);
                self.ha_disk.insert(r.home_address, r);
            }
            mip6_ha::Event::PersistLagging(r) => {
                for key in ha_record_keys(&r) {
                    self.ledger.learn(&key);
                }
                self.ha_lagging.insert(r.home_address, r);
            }
            mip6_ha::Event::Keys(k) => {
                match k.kind {
                    DistributionKind::Initialization => {
                        self.stats.initializations += 1;
                        if let Some(m) = self.mns.iter_mut().find(|m| m.hoa == k.home_address) {
                            self.stats.reinitializations += u64::from(m.initialized);
                            m.initialized = true;
                            // It answers the node's current request only if the node
                            // holds no generation (it transmits with init); otherwise
                            // the HA took an init BU the node had already seen
                            // answered (see the module docs): the window stays open.
                            if m.node.keys().newest.is_none() {
                                // A node that held a generation since the last loss
                                // of state, at either end, and now asks for init lost
                                // its keys with no cause the run knows of: a home
                                // visit, say, must not re-initialize the keys.
                                if m.settled && !m.mn_lost && !m.ha_lost {
                                    unexplained.get_or_insert(format!(
                                        "keys of {} initialized again, though neither end lost state since the node last held a generation (home {})",
                                        m.hoa, m.home
                                    ));
                                }
                                m.mn_lost = false;
                                m.ha_lost = false;
                            } else {
                                self.stats.stale_initializations += 1;
                            }
                        }
                    }
                    DistributionKind::Update => self.stats.updates += 1,
                    DistributionKind::Resend => self.stats.resends += 1,
                }
                tr!(self, "HA keys {k:?}");
            }
            other => tr!(self, "HA event {other:?}"),
        });
        if let Some(e) = unexplained {
            return Err(e);
        }
        for (i, m) in self.mns.iter().enumerate() {
            if self.touched & (1 << i) != 0 {
                if let Some(r) = ha.record(&m.hoa) {
                    for key in ha_record_keys(&r) {
                        self.ledger.learn(&key);
                    }
                }
            }
        }
        for t in frames {
            if t.spi.is_none() {
                // An unprotected answer to an unprotected or altered frame (RFC 6275
                // §9.2, §9.3.1): a Binding Error or an ICMPv6 error, under no key.
                let is_binding_error = t.frame.get(6) == Some(&135) && t.frame.get(42) == Some(&7);
                let is_icmp = t.frame.get(6) == Some(&58);
                if !(is_binding_error || is_icmp) {
                    return Err(format!(
                        "HA sent an unprotected frame that is no error: {:02x?}",
                        t.frame
                    ));
                }
                self.stats.unprotected_answers += 1;
                tr!(self, "HA answered unprotected to {}", t.destination);
                continue;
            }
            // A node at home is answered at its home address (RFC 6275 §10.3.2).
            let Some(&i) = self.owner.get(&t.destination) else {
                return Err(format!(
                    "HA sent a frame to {}, no MN's address",
                    t.destination
                ));
            };
            // Signalling goes under the HA's transmit key, or under init when it
            // answers a BU that came under init (docs/key-protocol.md).
            let sealed_under = [
                self.ha_transmit_spi(i)?,
                self.mns[i].cfg.init_spis.ha_to_mn.get(),
            ];
            let dest = Dest::Mn(t.destination);
            self.send(dest, i, Kind::Ba, t.frame, "HA BA", &sealed_under)?;
        }
        Ok(())
    }

    /// The HA→MN SPI the HA's own view names as its transmit key for MN `i`.
    fn ha_transmit_spi(&self, i: usize) -> Result<u32, String> {
        let ha = self.ha.as_ref().ok_or("the HA is down")?;
        let v = ha.keys(&self.mns[i].hoa).ok_or("HA lost an MN")?;
        Ok(v.transmit_spi)
    }

    /// The MN→HA SPI MN `i`'s own view names as its transmit key.
    fn mn_transmit_spi(&self, i: usize) -> Result<u32, String> {
        mn_transmit_spi(i, &self.mns[i].node.keys())
    }

    /// Drains MN `i` after a call (the kit's stepper): events (persist first), then
    /// its BUs.
    fn after_mn(&mut self, i: usize) -> Result<(), String> {
        let m = &mut self.mns[i];
        let mut keys_dropped = 0;
        let mut deregistered = false;
        let frames = stepper::drain(&mut m.node, |e| match e {
            mip6_mn::Event::Deregistered => {
                self.stats.deregistrations += 1;
                tr!(self, "MN{i} deregistered");
                deregistered = true;
            }
            mip6_mn::Event::Persist(r) => {
                for key in mn_record_keys(m.hoa, &r) {
                    self.ledger.learn(&key);
                }
                m.disk = Some(r);
                m.disk_keys_dropped = false;
            }
            mip6_mn::Event::KeysDropped => {
                self.stats.mn_keys_dropped += 1;
                tr!(self, "MN{i} dropped its keys");
                keys_dropped += 1;
            }
            mip6_mn::Event::Refused { status } => {
                *self
                    .stats
                    .mn_refusals
                    .entry(format!("{} {status:?}", u8::from(status)))
                    .or_default() += 1;
                tr!(self, "MN{i} refused: {status:?}");
            }
            other => tr!(self, "MN{i} event {other:?}"),
        });
        for _ in 0..keys_dropped {
            m.lose(false);
        }
        if deregistered {
            // Only a node told it is home deregisters (RFC 6275 §11.5.4).
            if !m.home {
                return Err(format!("MN{i} deregistered while away, at {}", m.coa()));
            }
            m.dereg_acked = true;
        }
        if m.node.keys().newest.is_some() && !m.mn_lost && !m.ha_lost {
            m.settled = true;
        }
        for key in mn_record_keys(m.hoa, &m.node.record()) {
            self.ledger.learn(&key);
        }
        for t in frames {
            let sealed_under = [self.mn_transmit_spi(i)?];
            let what = format!("MN{i} BU");
            self.send(Dest::Ha, i, Kind::Bu, t.frame, &what, &sealed_under)?;
            self.stats.bus += 1;
        }
        Ok(())
    }

    /// A frame an engine sealed, from or for MN `i`, goes on the network: checked
    /// against invariant 2 (the kit's nonce ledger) first, and its SPI against
    /// `sealed_under`, the SPIs of the keys the sealing engine's own view says it
    /// seals with (its transmit key; for the HA's signalling, init as well).
    fn send(
        &mut self,
        dest: Dest,
        i: usize,
        kind: Kind,
        bytes: Vec<u8>,
        what: &str,
        sealed_under: &[u32],
    ) -> Result<(), String> {
        let direction = match dest {
            Dest::Ha => Direction::MnToHa,
            Dest::Mn(_) => Direction::HaToMn,
        };
        let sealed = self
            .ledger
            .record(direction, &bytes)
            .map_err(|e| format!("invariant 2: {what}: {e}"))?;
        if !sealed_under.contains(&sealed.spi) {
            return Err(format!(
                "{what} sealed under SPI {:#x}, but the engine transmits under {sealed_under:#x?}",
                sealed.spi
            ));
        }
        let packet = Packet {
            dest,
            mn: i,
            kind,
            epoch: self.pair_epoch(i),
            from_home: dest == Dest::Ha && self.mns[i].home,
            bytes,
        };
        self.net.send(self.now, packet, &mut self.rng);
        Ok(())
    }

    fn mn_data(&mut self, i: usize) -> Result<(), String> {
        let m = &mut self.mns[i];
        m.up_seq += 1;
        let pkt = inner(m.hoa, CN, b'U', i, m.up_seq);
        match stepper::seal_packet(&mut m.node, self.now, &pkt) {
            Ok(sealed) => {
                self.after_mn(i)?;
                let what = format!("MN{i} data");
                let sealed_under = [self.mn_transmit_spi(i)?];
                self.send(Dest::Ha, i, Kind::Data, sealed.frame, &what, &sealed_under)?;
                self.stats.up_sent += 1;
            }
            Err(e) => {
                self.stats.up_unsent += 1;
                tr!(self, "MN{i} data not sealed: {e}");
            }
        }
        Ok(())
    }

    fn ha_data(&mut self, i: usize) -> Result<(), String> {
        let Some(ha) = self.ha.as_mut() else {
            self.stats.down_unsent += 1;
            return Ok(());
        };
        let m = &mut self.mns[i];
        m.down_seq += 1;
        let pkt = inner(CN, m.hoa, b'D', i, m.down_seq);
        match stepper::seal_packet(ha, self.now, &pkt) {
            Ok(sealed) => {
                self.after_ha()?;
                let dest = Dest::Mn(sealed.destination);
                let what = format!("HA data for MN{i}");
                let sealed_under = [self.ha_transmit_spi(i)?];
                self.send(dest, i, Kind::Data, sealed.frame, &what, &sealed_under)?;
                self.stats.down_sent += 1;
            }
            Err(e) => {
                self.stats.down_unsent += 1;
                tr!(self, "HA data for MN{i} not sealed: {e}");
            }
        }
        Ok(())
    }

    fn ha_crash(&mut self) {
        let Some(ha) = self.ha.take() else {
            return;
        };
        // A lagging record not yet written is lost: the node's binding comes back as
        // the record before it has it (its keys and marks are the same).
        self.stats.lagging_records_lost += self.ha_lagging.len() as u64;
        let lost = std::mem::take(&mut self.ha_lagging);
        for (hoa, r) in &lost {
            let durable = self.ha_disk.get(hoa);
            for g in [&r.newest, &r.anterior].into_iter().flatten() {
                let spi = g.spis.mn_to_ha.get();
                let floor = durable
                    .into_iter()
                    .flat_map(|d| [&d.newest, &d.anterior])
                    .flatten()
                    .find(|d| d.spis.mn_to_ha.get() == spi)
                    .map_or(0, |d| d.inbound_top);
                if g.inbound_top > floor {
                    self.ha_lagging_lost.push((spi, floor + 1..=g.inbound_top));
                }
            }
        }
        self.before_crash = self
            .mns
            .iter()
            .map(|m| {
                let binding = match lost.contains_key(&m.hoa) {
                    true => self.ha_disk.get(&m.hoa).and_then(|r| r.binding),
                    false => ha.binding(&m.hoa),
                };
                (ha.keys(&m.hoa), binding)
            })
            .collect();
        self.crash_id += 1;
        self.stats.ha_crashes += 1;
        let down = self
            .p
            .ha_crashes
            .iter()
            .find(|(t, _)| at(*t) == self.now)
            .map_or(0, |&(_, d)| d);
        tr!(self, "HA crashes for {down} ms");
        self.schedule(
            self.now + Duration::from_millis(down),
            Action::HaRestart(self.crash_id),
        );
    }

    fn ha_restart(&mut self, id: u64) -> Result<(), String> {
        if self.ha.is_some() || id != self.crash_id {
            return Ok(());
        }
        // Scenario::StoreLost: the first restart finds no store at all.
        let store_lost = self.p.store_lost && self.stats.store_losses == 0;
        if store_lost {
            self.lose_store();
        } else if self.p.ha_persistence {
            self.stats.ha_restores_full += 1;
        } else {
            self.stats.ha_restores_minimum += 1;
        }
        let mut records = Vec::new();
        for i in 0..self.mns.len() {
            let hoa = self.mns[i].hoa;
            let Some(r) = self.ha_disk.get(&hoa).cloned() else {
                continue;
            };
            let r = if self.p.ha_persistence {
                r
            } else {
                if r.newest.is_some() || r.anterior.is_some() {
                    self.mns[i].lose(true);
                }
                r.durable_minimum()
            };
            self.ha_disk.insert(hoa, r.clone());
            records.push(r);
        }
        let rng = ChaCha20Rng::seed_from_u64(self.rng.next_u64());
        let ha = HomeAgent::new(self.ha_cfg.clone(), rng, self.now, records)
            .map_err(|e| format!("HA restart refused: {e}"))?;
        if store_lost {
            for (i, m) in self.mns.iter().enumerate() {
                let (k, b) = (ha.keys(&m.hoa), ha.binding(&m.hoa));
                if b.is_some() || k.as_ref().is_none_or(|k| k.newest.is_some()) {
                    return Err(format!(
                        "HA restarted without a store holds state for MN{i}: {k:?} {b:?}"
                    ));
                }
            }
        } else if self.p.ha_persistence {
            for (i, m) in self.mns.iter().enumerate() {
                let (keys, binding) = &self.before_crash[i];
                let (k, b) = (ha.keys(&m.hoa), ha.binding(&m.hoa));
                // Neither the update timer's state, install times nor packet counts
                // are persisted: a restored slot counts as installed at the restart,
                // with no packet yet.
                let strip = |v: &Option<mip6_ha::KeyView>| {
                    v.clone().map(|mut v| {
                        for g in &mut v.generations {
                            g.installed_at = mip6_wire::Time::ZERO;
                            g.packets = Default::default();
                        }
                        mip6_ha::KeyView {
                            update_due: false,
                            newest_restored: false,
                            ..v
                        }
                    })
                };
                // Restored generations take no data and an update is due at once
                // (issue 12, item 10).
                if let Some(v) = &k {
                    if v.newest_restored != v.newest.is_some() || v.update_due != v.newest.is_some()
                    {
                        return Err(format!("HA restored MN{i} without marking its keys: {v:?}"));
                    }
                }
                if strip(keys) != strip(&k) || *binding != b {
                    return Err(format!(
                        "HA restored from its records differs for MN{i}: before {keys:?} {binding:?}, after {k:?} {b:?}"
                    ));
                }
            }
        }
        tr!(
            self,
            "HA restarts (persistence {}, store lost {store_lost})",
            self.p.ha_persistence
        );
        self.ha = Some(ha);
        self.after_ha()
    }

    /// The HA's store is gone (wiped or removed while it was down): every node it held
    /// generations for holds keys the HA will not know (a new epoch), and the HA's
    /// outbound sequence numbers, init SAs included, may start again from 1 under the
    /// same keys — the nonce ledger is told, so only a repeated nonce (RFC 4106 §3.1:
    /// an IV never repeats under a key), not a repeated sequence number, fails the run
    /// (docs/architecture.md "Nonces and persistence").
    fn lose_store(&mut self) {
        self.stats.store_losses += 1;
        for i in 0..self.mns.len() {
            let held = self
                .ha_disk
                .get(&self.mns[i].hoa)
                .is_some_and(|r| r.newest.is_some() || r.anterior.is_some());
            if held {
                self.mns[i].lose(true);
            }
        }
        self.ha_disk.clear();
        self.ha_lagging.clear();
        self.ha_lagging_lost.clear();
        self.ha_lagging_taken.clear();
        self.ledger.state_lost(Direction::HaToMn);
        // The BUs captured so far are not replayed against the HA's new life: with
        // no record it holds no replay window, no init floor and no last init
        // timestamp (docs/architecture.md "Nonces and persistence"), so a captured
        // init BU initializes again (implicit mode; explicit within the timestamp
        // skew) — invariant 4 rests on the store. Replays of what it is handed from
        // now on are still injected and checked.
        for m in &mut self.mns {
            m.captured.clear();
        }
        tr!(self, "HA store lost");
    }

    fn mn_restart(&mut self, i: usize) -> Result<(), String> {
        let now = self.now;
        let m = &mut self.mns[i];
        let before = KeySet::of_mn(&m.node.record());
        m.node = MobileNode::new(m.cfg.clone(), &mut self.rng, now, m.disk.clone());
        let after = KeySet::of_mn(&m.node.record());
        self.stats.mn_restarts += 1;
        match self.p.mn_restore {
            RestorePolicy::ResumeKeys if before != after => {
                return Err(format!(
                    "MN{i} resumed from its record with other keys: {} vs {}",
                    before.short(),
                    after.short()
                ));
            }
            RestorePolicy::Reinitialize if before.newest.is_some() => {
                self.mns[i].lose(false);
                self.mns[i].disk_keys_dropped = true;
            }
            _ => {}
        }
        let m = &mut self.mns[i];
        // A node restarted at home starts at home.
        let coa = (!m.home).then(|| m.coa());
        m.node.set_care_of_address(now, coa);
        tr!(
            self,
            "MN{i} restarts ({:?}) at {:?}",
            self.p.mn_restore,
            coa
        );
        self.after_mn(i)
    }

    fn digest(&self) -> Digest {
        let ha = self.ha.as_ref();
        Digest(
            self.mns
                .iter()
                .map(|m| {
                    let record = ha.and_then(|h| h.record(&m.hoa)).map(|mut r| {
                        r.init_outbound_mark = 0;
                        for g in [&mut r.newest, &mut r.anterior].into_iter().flatten() {
                            g.outbound_mark = 0;
                        }
                        r
                    });
                    (
                        ha.and_then(|h| h.binding(&m.hoa)),
                        ha.and_then(|h| h.keys(&m.hoa)),
                        record,
                    )
                })
                .collect(),
        )
    }

    /// Hands an injected frame to the HA and checks it moved nothing (invariant 4).
    fn inject(&mut self, what: &str, mut frame: Vec<u8>) -> Result<(), String> {
        let before = self.digest();
        let Some(ha) = self.ha.as_mut() else {
            return Ok(());
        };
        let r = ha.handle(self.now, &mut frame);
        tr!(self, "inject {what}: {r:?}");
        *self
            .stats
            .injections
            .entry(format!("{what}: {r:?}"))
            .or_default() += 1;
        self.after_ha()?;
        let after = self.digest();
        if before != after {
            if let Some(key) = self.lost_replay_protection(&frame) {
                self.stats.lost_lagging_bus_replayed += 1;
                // Once: the restarted HA's window now holds it.
                self.ha_lagging_taken.insert(key);
                return Ok(());
            }
        }
        if before != after {
            return Err(format!(
                "invariant 4: injected {what} ({r:?}) moved state:\nbefore {before:?}\nafter  {after:?}"
            ));
        }
        Ok(())
    }

    /// The `(SPI, sequence number)` of `frame` if its replay protection was a lagging
    /// record's that a crash lost, and it was not taken so before.
    fn lost_replay_protection(&self, frame: &[u8]) -> Option<(u32, u32)> {
        let key = mip6_testkit::packet::esp_header(frame)?;
        let (spi, seq) = key;
        (!self.ha_lagging_taken.contains(&key)
            && self
                .ha_lagging_lost
                .iter()
                .any(|(s, range)| *s == spi && range.contains(&seq)))
        .then_some(key)
    }

    fn replay(&mut self) -> Result<(), String> {
        let i = self.rng.gen_range(0..self.mns.len());
        let c = &self.mns[i].captured;
        if c.is_empty() || self.ha.is_none() {
            return Ok(());
        }
        let frame = c[self.rng.gen_range(0..c.len())].clone();
        self.inject("replayed BU", frame)
    }

    fn forge(&mut self) -> Result<(), String> {
        if self.ha.is_none() {
            return Ok(());
        }
        let i = self.rng.gen_range(0..self.mns.len());
        match self.rng.gen_range(0..3) {
            0 => {
                let c = &self.mns[i].captured;
                if c.is_empty() {
                    return Ok(());
                }
                let mut frame = c[self.rng.gen_range(0..c.len())].clone();
                for _ in 0..self.rng.gen_range(1..=3) {
                    let at = self.rng.gen_range(0..frame.len());
                    frame[at] ^= self.rng.gen_range(1..=255u8);
                }
                self.inject("altered BU", frame)
            }
            1 => {
                let frame = self.forged_bu(i);
                self.inject("BU under a guessed key", frame)
            }
            _ => {
                let len = self.rng.gen_range(0..160);
                let mut frame = vec![0u8; len];
                self.rng.fill_bytes(&mut frame);
                // Half of them keep a real BU's headers, to get past the parser.
                if let Some(c) = self.mns[i].captured.first() {
                    if self.rng.gen_bool(0.5) {
                        let n = 48.min(len).min(c.len());
                        frame[..n].copy_from_slice(&c[..n]);
                    }
                }
                self.inject("garbage", frame)
            }
        }
    }

    /// A well-formed BU for MN `i`, claiming the attacker's care-of address, sealed
    /// under a random secret with the MN's init SPI, its newest SPI or a random one.
    fn forged_bu(&mut self, i: usize) -> Vec<u8> {
        let m = &self.mns[i];
        let rec = m.node.record();
        let spi = match self.rng.gen_range(0..3) {
            0 => m.cfg.init_spis.mn_to_ha.get(),
            1 => rec
                .newest
                .as_ref()
                .map_or(m.cfg.init_spis.mn_to_ha.get(), |g| g.spis.mn_to_ha.get()),
            _ => self.rng.gen_range(256..u32::MAX),
        };
        let mut secret = [0u8; 32];
        self.rng.fill_bytes(&mut secret);
        let spis = SpiPair {
            mn_to_ha: Spi::new(spi).expect("above the reserved range"),
            ha_to_mn: Spi::new(self.rng.gen_range(256..u32::MAX))
                .expect("above the reserved range"),
        };
        let guessed =
            KeyMaterial::generation(m.hoa, 1, Secret32::new(secret), spis, Suite::Aes128Gcm);
        let mut sa = guessed
            .derive(Role::MobileNode)
            .outbound()
            .clone()
            .with_next_sequence(self.rng.gen_range(1..1 << 20));
        let key = match self.rng.gen_range(0..4) {
            0 => Some(KeyOption::KeyInitialization {
                timestamp: self.now.to_ntp(),
            }),
            1 => Some(KeyOption::KeyUpdateRequest),
            2 => Some(KeyOption::KeyResendingRequest),
            _ => None,
        };
        BuSpec {
            care_of_address: ATTACKER,
            home_address: m.hoa,
            update: home_registration(self.rng.gen(), 10),
            keys: key.as_slice(),
            vendor_id: DEFAULT_VENDOR_ID,
        }
        .seal(&mut sa)
    }

    /// The invariants after a step.
    fn check(&mut self) -> Result<(), String> {
        let Some(ha) = self.ha.as_ref() else {
            return Ok(());
        };
        let mut all_converged = self.healed_at.is_some() && self.converged_at.is_none();
        for i in 0..self.mns.len() {
            if !all_converged && self.touched & (1 << i) == 0 {
                continue;
            }
            let m = &self.mns[i];
            let hr = ha.record(&m.hoa).ok_or("HA lost an MN")?;
            let mr = m.node.record();
            let hs = KeySet::of_ha(&hr);
            let ms = KeySet::of_mn(&mr);
            // What each engine transmits with, by its own view (generation and SPI; the
            // frames it seals are held to the same SPIs in `send`), found in its record,
            // and compared with what FIG. 1 makes of that record's slots.
            let hv = ha.keys(&m.hoa).ok_or("HA lost an MN")?;
            let mv = m.node.keys();
            if hv.newest != hr.newest.as_ref().map(|g| g.generation)
                || mv.newest != mr.newest.as_ref().map(|g| g.generation)
            {
                return Err(format!(
                    "MN{i}: key views disagree with records: {hv:?} {mv:?}"
                ));
            }
            let init = m.cfg.init_spis;
            let ha_tx = hs
                .named(hv.transmit, hv.transmit_spi, Direction::HaToMn, init)
                .ok_or_else(|| {
                    format!(
                        "HA transmits to MN{i} with {:?} under SPI {:#x}, a key its record does not hold: {}",
                        hv.transmit,
                        hv.transmit_spi,
                        hs.short()
                    )
                })?;
            let mn_spi = mn_transmit_spi(i, &mv)?;
            let mn_tx = ms
                .named(mv.transmit, mn_spi, Direction::MnToHa, init)
                .ok_or_else(|| {
                    format!(
                        "MN{i} transmits with {:?} under SPI {mn_spi:#x}, a key its record does not hold: {}",
                        mv.transmit,
                        ms.short()
                    )
                })?;
            if ha_tx != hs.transmit {
                return Err(format!(
                    "HA transmits to MN{i} with {}, FIG. 1 says {} (anterior, else init): {}",
                    ha_tx.short(),
                    hs.transmit.short(),
                    hs.short()
                ));
            }
            if mn_tx != ms.transmit {
                return Err(format!(
                    "MN{i} transmits with {}, FIG. 1 says {} (newest, else init): {}",
                    mn_tx.short(),
                    ms.transmit.short(),
                    ms.short()
                ));
            }
            self.check_persisted(i, &hr, &mr)?;
            // Invariant 1 on the state, with the keys the engines transmit with.
            if self.holds_state(i) {
                if !hs.accepts(&mn_tx) {
                    return Err(format!(
                        "invariant 1: MN{i} transmits with {} which the HA does not accept (HA {}, MN {})",
                        mn_tx.short(),
                        hs.short(),
                        ms.short()
                    ));
                }
                if !ms.accepts(&ha_tx) {
                    return Err(format!(
                        "invariant 1: HA transmits to MN{i} with {} which the MN does not accept (HA {}, MN {})",
                        ha_tx.short(),
                        hs.short(),
                        ms.short()
                    ));
                }
            } else {
                self.stats.exempt_checks += 1;
            }
            self.check_home(i, ha)?;
            if all_converged {
                let coa = m.coa();
                let bound = ha
                    .binding(&m.hoa)
                    .is_some_and(|b| b.care_of_address == coa && b.expires_at > self.now);
                let registered = matches!(
                    m.node.registration().state,
                    Registration::Registered(r) if r.coa == coa
                );
                let common = hs.newest.is_some() && hs.newest == ms.newest;
                all_converged = !m.home && bound && registered && common;
            }
        }
        if all_converged {
            let healed = self.healed_at.unwrap_or(self.now);
            self.converged_at = Some(self.now);
            self.stats.convergence = Some(self.now.saturating_since(healed));
            tr!(self, "converged after {:?}", self.stats.convergence);
            self.schedule(self.now + TAIL, Action::Finish);
        }
        Ok(())
    }

    /// A node at home (RFC 6275 §11.5.4, §10.3.2): once it has seen its deregistration
    /// acknowledged and while no BU of its is outstanding, it is `AtHome` and the HA
    /// holds no binding for it — none, an expired one, or one a registration it sent
    /// before it came home made after the deregistration (see `deliver`).
    fn check_home(&self, i: usize, ha: &Ha) -> Result<(), String> {
        let m = &self.mns[i];
        if !m.home || !m.dereg_acked {
            return Ok(());
        }
        let state = m.node.registration().state;
        if matches!(state, Registration::AwaitingAck(_)) {
            return Ok(());
        }
        if state != Registration::AtHome {
            return Err(format!(
                "MN{i} at home, deregistration acknowledged, registration {state:?}"
            ));
        }
        match ha.binding(&m.hoa) {
            Some(b) if b.expires_at > self.now && Some(b) != m.stale_binding => Err(format!(
                "MN{i} at home, deregistration acknowledged, but the HA binds it: {b:?}"
            )),
            _ => Ok(()),
        }
    }

    /// The engines' persistence contract: what is on disk names the same keys,
    /// binding and replay state as the engine, and its outbound marks are at or
    /// above the engine's (so a restart never reuses a sequence number).
    fn check_persisted(
        &self,
        i: usize,
        hr: &mip6_ha::MnRecord,
        mr: &mip6_mn::MnRecord,
    ) -> Result<(), String> {
        let m = &self.mns[i];
        // A lagging record not yet written is what the disk will hold.
        match self.ha_lagging.get(&m.hoa).or(self.ha_disk.get(&m.hoa)) {
            Some(d) => {
                let marks_ok = d.init_outbound_mark >= hr.init_outbound_mark
                    && [(&d.newest, &hr.newest), (&d.anterior, &hr.anterior)]
                        .iter()
                        .all(|(d, h)| match (d, h) {
                            (Some(d), Some(h)) => d.outbound_mark >= h.outbound_mark,
                            _ => true,
                        });
                if KeySet::of_ha(d) != KeySet::of_ha(hr)
                    || d.binding != hr.binding
                    || d.newest_confirmed != hr.newest_confirmed
                    || d.last_init_timestamp != hr.last_init_timestamp
                    || d.init_inbound_top != hr.init_inbound_top
                    || !marks_ok
                {
                    return Err(format!(
                        "HA persistence for MN{i}: on disk {d:?}\nengine {hr:?}"
                    ));
                }
            }
            None if hr.newest.is_some() || hr.binding.is_some() => {
                return Err(format!("HA state for MN{i} never persisted: {hr:?}"));
            }
            None => {}
        }
        match &m.disk {
            Some(d) => {
                let same = (m.disk_keys_dropped || KeySet::of_mn(d) == KeySet::of_mn(mr))
                    && d.bu_sequence_mark == mr.bu_sequence_mark
                    && d.init_outbound_mark >= mr.init_outbound_mark
                    && [(&d.newest, &mr.newest), (&d.anterior, &mr.anterior)]
                        .iter()
                        .all(|(d, h)| match (d, h) {
                            (Some(d), Some(h)) => d.outbound_mark >= h.outbound_mark,
                            _ => true,
                        });
                if !same {
                    return Err(format!("MN{i} persistence: on disk {d:?}\nengine {mr:?}"));
                }
            }
            None if mr.newest.is_some() => {
                return Err(format!("MN{i} keys never persisted"));
            }
            None => {}
        }
        Ok(())
    }

    fn state_dump(&self) -> String {
        let mut s = String::new();
        for (i, m) in self.mns.iter().enumerate() {
            let ha = self.ha.as_ref();
            s += &format!(
                "MN{i} at {}{} lost(mn {}, ha {}) reg {:?}\n  MN keys {}\n  HA keys {:?} binding {:?}\n",
                m.address(),
                if m.home { " (home)" } else { "" },
                m.mn_lost,
                m.ha_lost,
                m.node.registration().state,
                KeySet::of_mn(&m.node.record()).short(),
                ha.and_then(|h| h.record(&m.hoa)).map(|r| KeySet::of_ha(&r).short()),
                ha.and_then(|h| h.binding(&m.hoa)),
            );
        }
        s
    }
}

/// The MN→HA SPI of the slot MN `i`'s view `v` names as its transmit key.
fn mn_transmit_spi(i: usize, v: &mip6_mn::KeyView) -> Result<u32, String> {
    v.generations
        .iter()
        .find(|g| g.id == v.transmit)
        .map(|g| g.spis.mn_to_ha.get())
        .ok_or_else(|| format!("MN{i}'s view lists no transmit key: {v:?}"))
}

/// Whether the mode name is explicit, for reports.
pub fn mode_name(m: RequestMode) -> &'static str {
    match m {
        RequestMode::Explicit => "explicit",
        RequestMode::Implicit => "implicit",
    }
}
