//! The `HomeAgent` engine: state, construction and restore, the poll interface,
//! timers and introspection. Frame handling lives in [`crate::signalling`] (BUs)
//! and [`crate::data`] (the tunnel); the lookup tables in [`crate::index`].

use std::collections::VecDeque;
use std::net::Ipv6Addr;

use core::marker::PhantomData;

use mip6_wire::esp::{AesGcmInline, EspAead};
use mip6_wire::keys::{GenerationId, GenerationView, Slot};
use mip6_wire::Time;
use rand_core::{CryptoRng, RngCore};

use crate::binding::BindingView;
use crate::config::HaConfig;
use crate::counters::Counters;
use crate::events::{BindingChange, Event, RemovalCause, RouteChange, Transmit};
use crate::index::{HoaIndex, SpiIndex};
use crate::mobile_node::{Dirt, QueuedDeadline};
use crate::mobile_node::{
    InstallStamps, KeySlots, MobileNode, Proof, ReplayKnowledge, UpdateTimer,
};
use crate::neighbour::Neighbours;
use crate::notices::Notices;
use crate::persist::MnRecord;
use crate::timers::{Deadline, TimerQueue};
use crate::unprotected::AnswerRates;

/// Index of a mobile node in the engine's table.
pub(crate) type MnIndex = u32;

/// The engine's mobile nodes, indexed by [`MnIndex`] (what the lookup tables and
/// timers hold): in configuration order, then in the order added while running. A
/// removed node's place is taken by the last one, whose index every table then
/// changes ([`crate::reload`]).
#[derive(Default)]
pub(crate) struct MobileNodes(Vec<MobileNode>);

impl MobileNodes {
    pub(crate) fn with_capacity(n: usize) -> Self {
        MobileNodes(Vec::with_capacity(n))
    }
}

impl core::ops::Deref for MobileNodes {
    type Target = Vec<MobileNode>;
    fn deref(&self) -> &Vec<MobileNode> {
        &self.0
    }
}

impl core::ops::DerefMut for MobileNodes {
    fn deref_mut(&mut self) -> &mut Vec<MobileNode> {
        &mut self.0
    }
}

impl core::ops::Index<MnIndex> for MobileNodes {
    type Output = MobileNode;
    fn index(&self, index: MnIndex) -> &MobileNode {
        &self.0[index as usize]
    }
}

impl core::ops::IndexMut<MnIndex> for MobileNodes {
    fn index_mut(&mut self, index: MnIndex) -> &mut MobileNode {
        &mut self.0[index as usize]
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Two mobile nodes share a home address.
    #[error("home address {0} is configured twice")]
    DuplicateHomeAddress(Ipv6Addr),
    /// An init SPI is used twice (the MN→HA SPI alone must find the MN).
    #[error("init SPI {0:#010x} is configured twice")]
    DuplicateInitSpi(u32),
    /// More mobile nodes than the index type holds.
    #[error("too many mobile nodes")]
    TooManyMobileNodes,
}

/// What each side transmits with and accepts, for tests and diagnostics
/// (docs/key-protocol.md "Key slots").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyView {
    /// The key the HA seals with: anterior, or init when there is no anterior.
    pub transmit: GenerationId,
    /// The HA→MN SPI it seals with.
    pub transmit_spi: u32,
    /// The keys the HA accepts, newest first.
    pub accepted: Vec<GenerationId>,
    /// Generation number of the newest key N.
    pub newest: Option<u32>,
    /// Generation number of the anterior key N−1.
    pub anterior: Option<u32>,
    /// Whether the MN has proven it holds N.
    pub newest_confirmed: bool,
    /// Whether the HA's key update timer has expired (acted on at the next BU under N).
    pub update_due: bool,
    /// Whether N was restored after a restart: data under it is dropped until a
    /// fresh generation ([`crate::DropReason::DataUnderRestoredKey`]).
    pub newest_restored: bool,
    /// Every filled slot, newest first: SPIs, when the HA installed it (the init key:
    /// when the engine started), and the frames the HA opened (MN→HA) and sealed
    /// (HA→MN) under it since.
    pub generations: Vec<GenerationView>,
}

/// The sans-IO home agent (RFC 6275 §10) with the two-generation key distribution of
/// the patent, HA role.
///
/// Driver contract: feed every received frame to [`handle`](Self::handle) and every
/// deadline to [`handle_timeout`](Self::handle_timeout); then drain
/// [`poll_event`](Self::poll_event) and **persist every [`Event::Persist`] before
/// sending anything** from [`poll_transmit`](Self::poll_transmit) or the result of
/// [`seal_data`](Self::seal_data) (an [`Event::PersistLagging`] record may follow
/// what was sent, in order with the other records); sleep until [`poll_timeout`](Self::poll_timeout).
///
/// `A` is the ESP AEAD (RFC 4106): AES-GCM expanded per packet by default;
/// `mip6_wire::esp::NullAead` (feature `null-aead`) in the engine fuzz target, so the
/// fuzzer reaches the key logic behind the ICV.
pub struct HomeAgent<R, A = AesGcmInline> {
    pub(crate) config: HaConfig,
    pub(crate) rng: R,
    pub(crate) mns: MobileNodes,
    pub(crate) by_hoa: HoaIndex,
    /// MN→HA SPIs of every accepted key (init and generations) → MN, and the HA→MN
    /// init SPIs (reserved: never drawn for a generation, found by no frame).
    pub(crate) by_spi: SpiIndex,
    pub(crate) timers: TimerQueue,
    pub(crate) transmits: VecDeque<Transmit>,
    /// Proxy Neighbor Discovery and Duplicate Address Detection on the home link.
    pub(crate) neighbours: Neighbours,
    /// Rate limits of the unprotected answers (Binding Errors, ICMPv6).
    pub(crate) answer_rates: AnswerRates,
    pub(crate) events: VecDeque<Event>,
    pub(crate) counters: Counters,
    /// Per mobile node: ICV failures and refusals since the driver last took them.
    pub(crate) notices: Notices,
    /// When the engine was built: the epoch of the install stamps, and when the init
    /// keys it reports were installed.
    pub(crate) started: Time,
    /// The upper 32 bits of every explicit IV this engine writes, drawn from `rng`
    /// when it is built (mip6-wire `esp::sa` "IVs"): a sequence number used again
    /// after lost marks is still a new nonce.
    pub(crate) iv_prefix: u32,
    cipher: PhantomData<fn() -> A>,
}

impl<R, A> core::fmt::Debug for HomeAgent<R, A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HomeAgent")
            .field("address", &self.config.address)
            .field("mobile_nodes", &self.mns.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<R: RngCore + CryptoRng> HomeAgent<R> {
    /// A home agent for `config`, resuming from `restored` records (one per MN; records
    /// for home addresses not configured are ignored). Restored bindings produce
    /// `Route(Install)` events; restored SAs resume at their persisted marks.
    pub fn new(
        config: HaConfig,
        rng: R,
        now: Time,
        restored: Vec<MnRecord>,
    ) -> Result<Self, ConfigError> {
        Self::with_cipher(config, rng, now, restored)
    }
}

impl<R: RngCore + CryptoRng, A: EspAead> HomeAgent<R, A> {
    /// [`HomeAgent::new`] with the AEAD `A` instead of the default AES-GCM.
    pub fn with_cipher(
        config: HaConfig,
        mut rng: R,
        now: Time,
        restored: Vec<MnRecord>,
    ) -> Result<Self, ConfigError> {
        let iv_prefix = rng.next_u32();
        let mut config = config;
        // The init secrets live on only in the derived init SAs: not kept twice.
        let mobile_nodes = core::mem::take(&mut config.mobile_nodes);
        let n = mobile_nodes.len();
        if n > SpiIndex::MAX_MN {
            return Err(ConfigError::TooManyMobileNodes);
        }
        let mut ha = HomeAgent {
            rng,
            mns: MobileNodes::with_capacity(n),
            by_hoa: HoaIndex::with_capacity(n),
            // Init (both directions) and generation 1 of every MN.
            by_spi: SpiIndex::with_capacity(n * 3),
            timers: TimerQueue::default(),
            transmits: VecDeque::new(),
            neighbours: Neighbours::default(),
            answer_rates: AnswerRates::default(),
            events: VecDeque::new(),
            counters: Counters::default(),
            notices: Notices::new(),
            started: now,
            iv_prefix,
            config,
            cipher: PhantomData,
        };
        for mn in mobile_nodes {
            let index =
                MnIndex::try_from(ha.mns.len()).map_err(|_| ConfigError::TooManyMobileNodes)?;
            if ha.by_hoa.get(&ha.mns, &mn.home_address).is_some() {
                return Err(ConfigError::DuplicateHomeAddress(mn.home_address));
            }
            let (to_ha, to_mn) = (mn.init_spis.mn_to_ha.get(), mn.init_spis.ha_to_mn.get());
            if !ha.by_spi.insert(to_ha, index) {
                return Err(ConfigError::DuplicateInitSpi(to_ha));
            }
            if !ha.by_spi.insert(to_mn, index | SpiIndex::RESERVED) {
                return Err(ConfigError::DuplicateInitSpi(to_mn));
            }
            ha.by_hoa.insert(&mn.home_address, index);
            let keys = KeySlots::new(
                &mn.init_secret,
                &mn.home_address,
                mn.init_spis,
                mn.init_suite,
                ha.config.replay_window.clone(),
            );
            ha.mns.push(MobileNode {
                home_address: mn.home_address,
                keys,
                binding: None,
                queued: QueuedDeadline::NONE,
                dirty: Dirt::Clean,
                refresh_requested: 0,
            });
        }
        for record in restored {
            ha.restore(now, &record);
        }
        ha.prune_timers();
        Ok(ha)
    }

    pub(crate) fn restore(&mut self, now: Time, record: &MnRecord) {
        let Some(index) = self.by_hoa.get(&self.mns, &record.home_address) else {
            tracing::warn!(hoa = %record.home_address, "record for an unconfigured home address ignored");
            return;
        };
        let mn = &mut self.mns[index];
        let hoa = mn.home_address;
        let keys = &mut mn.keys;
        // Init SA: resume the outbound counter at the mark, refuse inbound replays.
        keys.init.resume_at(record.init_outbound_mark);
        keys.init.set_mark(record.init_outbound_mark);
        keys.init.raise_floor(record.init_inbound_top);
        keys.last_init_timestamp = record
            .last_init_timestamp
            .and_then(core::num::NonZeroU64::new);
        // Anterior first, so installing newest shifts it into place.
        for generation in [&record.anterior, &record.newest] {
            let Some(g) = generation else { continue };
            let restored = KeySlots::restore_generation(&hoa, g, self.config.replay_window.clone());
            let spi = restored.keys.spis().mn_to_ha.get();
            if self.by_spi.get(spi).is_some_and(|other| other != index) {
                tracing::warn!(%hoa, spi, "restored SPI belongs to another MN; generation ignored");
                continue;
            }
            match keys.install(restored, InstallStamps::stamp(self.started, now)) {
                Ok(dropped) => {
                    if let Some(old) = dropped {
                        self.by_spi.remove(old);
                    }
                }
                Err(e) => {
                    tracing::warn!(%hoa, error = %e, "restored generation refused");
                    continue;
                }
            }
            self.by_spi.insert(spi, index);
        }
        if keys.newest.is_some() {
            keys.proof = if record.newest_confirmed {
                Proof::Confirmed
            } else {
                Proof::Unconfirmed
            };
            // The restored generations' replay state is not exact (data under them
            // is dropped): a fresh generation at the node's next BU under newest.
            keys.update.set(UpdateTimer::Due);
        }
        if let Some(binding) = record.binding {
            mn.binding = Some(binding);
            self.events.push_back(Event::Route(RouteChange::Install {
                home_address: hoa,
                care_of_address: binding.care_of_address,
            }));
        }
        self.schedule(index);
    }

    /// Advances timers to `now`: expired bindings are removed (with their route), and
    /// expired key update timers mark an update as due (patent (6), (9)).
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(deadline) = self.timers.pop_due(now) {
            if !self.is_queued(&deadline) {
                // Superseded by an earlier entry for this MN.
                continue;
            }
            let index = deadline.mn;
            let mn = &mut self.mns[index];
            mn.queued = QueuedDeadline::NONE;
            if let UpdateTimer::Running(at) = mn.keys.update.get() {
                if at <= now {
                    tracing::debug!(hoa = %mn.home_address, "key update timer expired: update due at next BU");
                    mn.keys.update.set(UpdateTimer::Due);
                }
            }
            if mn.binding.is_some_and(|b| b.expires_at <= now) {
                self.counters.bindings_expired += 1;
                self.remove_binding(index, RemovalCause::Expired);
                self.flush_persist(index);
            }
            self.schedule(index);
        }
        self.prune_timers();
        self.handle_detection_timeouts(now);
    }

    /// The next signalling frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next deadline, if any: call [`handle_timeout`](Self::handle_timeout) then.
    pub fn poll_timeout(&self) -> Option<Time> {
        let binding_or_key = self.timers.peek().map(|d| d.at());
        match (binding_or_key, self.neighbours.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Drops by reason, refusals, frames by kind.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether an SPI is in the engine's index: a served node's init SPIs (both
    /// directions) or a current generation's MN→HA SPI (the ones the home agent
    /// receives under; a generation's HA→MN SPI is looked up by no one here). A node
    /// added while running cannot take one.
    pub fn spi_in_use(&self, spi: u32) -> bool {
        self.by_spi.is_taken(spi)
    }

    /// Takes what the engine noticed per mobile node since the last take: ICV
    /// failures under its init SA and its generations, refused Binding Updates
    /// ([`crate::notices`]). The driver logs them (issue 11, item 6).
    pub fn take_notices(&mut self) -> Notices {
        core::mem::take(&mut self.notices)
    }

    /// The key state for one home address.
    pub fn keys(&self, home_address: &Ipv6Addr) -> Option<KeyView> {
        let mn = self.mn(home_address)?;
        let k = &mn.keys;
        let transmit = k.transmit();
        Some(KeyView {
            transmit: transmit.id(),
            transmit_spi: transmit.spis().ha_to_mn.get(),
            accepted: k
                .accepted_slots()
                .filter_map(|s| k.get(s).map(|g| g.id()))
                .collect(),
            newest: k.number(Slot::Newest),
            anterior: k.number(Slot::Anterior),
            newest_confirmed: k.newest.is_some() && k.proof == Proof::Confirmed,
            update_due: k.update.get() == UpdateTimer::Due,
            newest_restored: k.newest.is_some()
                && k.replay_knowledge(Slot::Newest) == ReplayKnowledge::LostAtRestart,
            generations: k
                .accepted_slots()
                .filter_map(|slot| {
                    let keys = k.get(slot)?;
                    let installed_at = match slot {
                        Slot::Init => self.started,
                        Slot::Anterior => InstallStamps::time(self.started, k.installed.anterior),
                        Slot::Newest => InstallStamps::time(self.started, k.installed.newest),
                    };
                    Some(GenerationView {
                        slot,
                        id: keys.id(),
                        spis: keys.spis(),
                        installed_at,
                        packets: keys.packets(),
                    })
                })
                .collect(),
        })
    }

    /// Whether `home_address` is a configured mobile node's home address (RFC 6275
    /// §10.1: the home agent serves only the nodes it is configured for).
    pub fn serves(&self, home_address: &Ipv6Addr) -> bool {
        self.mn(home_address).is_some()
    }

    /// The binding cache entry for one home address.
    pub fn binding(&self, home_address: &Ipv6Addr) -> Option<BindingView> {
        self.mn(home_address)?.binding
    }

    /// Brings into cache the state that [`handle`](Self::handle) will read for each of
    /// `frames` (at most [`PREFETCH_MAX`] are looked at): the SPI index slot, then the
    /// mobile node's state. Changes nothing and has no effect on what `handle` does;
    /// it only makes it faster when called on a batch of received frames before
    /// handling them one by one.
    ///
    /// Why: with a million mobile nodes every frame finds its SPI slot and its MN's
    /// state (~6 cache lines) cold, two dependent misses that one frame alone cannot
    /// overlap. Here the slot loads of all the frames are issued back to back, then
    /// the state loads of all their MNs, so the misses of the batch overlap.
    pub fn prefetch<'a>(&self, frames: impl IntoIterator<Item = &'a [u8]>) {
        let mut spis = [0u32; PREFETCH_MAX];
        let mut n = 0;
        for frame in frames.into_iter().take(PREFETCH_MAX) {
            if let Ok(f) = mip6_wire::frames::inspect(frame) {
                core::hint::black_box(self.by_spi.touch(f.spi));
                spis[n] = f.spi;
                n += 1;
            }
        }
        for &spi in &spis[..n] {
            if let Some(mn) = self
                .by_spi
                .get(spi)
                .and_then(|index| self.mns.get(index as usize))
            {
                mn.touch();
            }
        }
    }

    /// The record the engine would persist now for one home address.
    pub fn record(&self, home_address: &Ipv6Addr) -> Option<MnRecord> {
        self.mn(home_address).map(MobileNode::record)
    }

    /// Approximate bytes of the engine's state: per-MN state (all three key slots
    /// inline), the heap blocks of AES-256 keys and of replay windows beyond 64, both
    /// indexes and the timer heap (for the bytes-per-MN bench), each heap block counted
    /// with glibc's 16-octet rounding. No expanded cipher is kept anywhere (see
    /// `mobile_node`). Not counted: the queued transmits/events. Walks every MN: a
    /// diagnostic, not for a hot path.
    pub fn approx_state_bytes(&self) -> usize {
        use core::mem::size_of;
        let chunk = |n: usize| if n == 0 { 0 } else { (n + 8).div_ceil(16) * 16 };
        let per_mn: usize = self
            .mns
            .iter()
            .map(|mn| {
                let k = &mn.keys;
                k.accepted_slots()
                    .filter_map(|s| k.get(s))
                    .map(|g| g.window().heap_bytes(chunk) + g.heap_bytes(chunk))
                    .sum::<usize>()
            })
            .sum();
        self.mns.capacity() * size_of::<MobileNode>()
            + per_mn
            + self.by_hoa.heap_bytes()
            + self.by_spi.heap_bytes()
            + self.timers.capacity() * size_of::<Deadline>()
    }

    /// Bytes of the fixed per-MN state (init, anterior and newest key slots inline,
    /// marks, binding, the queued deadline), without the indexes and heap blocks.
    pub const fn mn_state_bytes() -> usize {
        core::mem::size_of::<MobileNode>()
    }

    pub(crate) fn mn(&self, home_address: &Ipv6Addr) -> Option<&MobileNode> {
        let index = self.by_hoa.get(&self.mns, home_address)?;
        self.mns.get(index as usize)
    }

    /// The MN's earliest deadline: its binding's expiry or its running key update
    /// timer.
    fn next_deadline(mn: &MobileNode) -> Option<Time> {
        let update = match mn.keys.update.get() {
            UpdateTimer::Running(at) => Some(at),
            UpdateTimer::Idle | UpdateTimer::Due => None,
        };
        let expiry = mn.binding.map(|b| b.expires_at);
        match (update, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Queues the MN at its earliest deadline unless an entry at or before it is
    /// queued already (see [`crate::timers`]). Call after every change to the MN's
    /// binding or key update timer.
    pub(crate) fn schedule(&mut self, index: MnIndex) {
        let Some(mn) = self.mns.get_mut(index as usize) else {
            return;
        };
        let Some(at) = Self::next_deadline(mn) else {
            return;
        };
        if mn.queued.get().is_none_or(|queued| at < queued) {
            mn.queued = QueuedDeadline::at(at);
            self.timers.push(at, index);
        }
    }

    /// Whether a heap entry is the one its MN recorded.
    fn is_queued(&self, d: &Deadline) -> bool {
        self.mns
            .get(d.mn as usize)
            .is_some_and(|mn| mn.queued.get() == Some(d.at()))
    }

    /// Brings the heap's top to an MN's real deadline, so that `poll_timeout` names
    /// one: superseded entries are popped, and an entry queued before a deadline that
    /// has since moved later is moved to it. Rebuilds the heap from the MNs' records
    /// once superseded entries (one per deadline moved earlier) outnumber the MNs:
    /// amortized O(1) per push, a rebuild costs O(MNs) and removes as many.
    pub(crate) fn prune_timers(&mut self) {
        if self.timers.len() > 2 * self.mns.len() + 1024 {
            let queued = self.mns.iter().enumerate().filter_map(|(index, mn)| {
                let at = mn.queued.get()?;
                Some(Deadline::new(at, MnIndex::try_from(index).ok()?))
            });
            let mut timers = core::mem::take(&mut self.timers);
            timers.rebuild(queued);
            self.timers = timers;
        }
        while let Some(d) = self.timers.peek() {
            if !self.is_queued(&d) {
                self.timers.pop();
                continue;
            }
            let mn = &self.mns[d.mn];
            match Self::next_deadline(mn) {
                Some(at) if at == d.at() => break,
                _ => {
                    // Moved later (or gone): queue the MN again where it now is.
                    self.timers.pop();
                    self.mns[d.mn].queued = QueuedDeadline::NONE;
                    self.schedule(d.mn);
                }
            }
        }
    }

    /// Removes the MN's binding (if any) with its route.
    pub(crate) fn remove_binding(&mut self, index: MnIndex, cause: RemovalCause) {
        let mn = &mut self.mns[index];
        if mn.binding.take().is_none() {
            return;
        }
        mn.changed();
        let home_address = mn.home_address;
        tracing::debug!(hoa = %home_address, ?cause, "binding removed");
        self.on_binding_removed(index);
        self.events
            .push_back(Event::Route(RouteChange::Remove { home_address }));
        self.events.push_back(Event::Binding {
            home_address,
            change: BindingChange::Removed(cause),
        });
    }

    /// Emits a `Persist` event if a persisted field of the MN changed.
    pub(crate) fn flush_persist(&mut self, index: MnIndex) {
        let mn = &mut self.mns[index];
        match core::mem::take(&mut mn.dirty) {
            Dirt::Clean => {}
            Dirt::BindingOnly => self.events.push_back(Event::PersistLagging(mn.record())),
            Dirt::BeforeSending => self.events.push_back(Event::Persist(mn.record())),
        }
    }
}

/// Most frames one [`HomeAgent::prefetch`] call looks at (the rest are ignored): a
/// batch's worth, whose state fits the L1 cache.
pub const PREFETCH_MAX: usize = 32;

/// The shared sans-IO contract ([`mip6_wire::engine`]), so one driver shell and one
/// test stepper serve both engines. Each method is the inherent one of the same name.
impl<R: RngCore + CryptoRng, A: EspAead> mip6_wire::engine::Engine for HomeAgent<R, A> {
    type Event = Event;
    type DropReason = crate::counters::DropReason;
    type DataError = crate::events::DataError;

    fn handle(&mut self, now: Time, frame: &mut [u8]) -> crate::events::Received {
        HomeAgent::handle(self, now, frame)
    }

    fn seal_data(
        &mut self,
        now: Time,
        buf: &mut [u8],
        inner_len: usize,
    ) -> Result<crate::events::DataFrame, Self::DataError> {
        HomeAgent::seal_data(self, now, buf, inner_len)
    }

    fn handle_timeout(&mut self, now: Time) {
        HomeAgent::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Time> {
        HomeAgent::poll_timeout(self)
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        HomeAgent::poll_transmit(self)
    }

    fn poll_event(&mut self) -> Option<Event> {
        HomeAgent::poll_event(self)
    }
}
