//! The `HomeAgent` engine: state, construction and restore, the poll interface,
//! timers and introspection. Frame handling lives in [`crate::signalling`] (BUs)
//! and [`crate::data`] (the tunnel).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::Ipv6Addr;

use mip6_wire::keys::{Generation, GenerationId, Slot};
use mip6_wire::Time;
use rand_core::{CryptoRng, RngCore};

use crate::binding::BindingView;
use crate::config::HaConfig;
use crate::counters::Counters;
use crate::events::{BindingChange, Event, RemovalCause, RouteChange, Transmit};
use crate::mobile_node::{MnKeys, MobileNode, Proof, UpdateTimer};
use crate::persist::MnRecord;
use crate::timers::{Deadline, TimerKind, TimerQueue};

/// Index of a mobile node in the engine's table.
pub(crate) type MnIndex = u32;

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
}

/// The sans-IO home agent (RFC 6275 §10) with the two-generation key distribution of
/// the patent, HA role.
///
/// Driver contract: feed every received frame to [`handle`](Self::handle) and every
/// deadline to [`handle_timeout`](Self::handle_timeout); then drain
/// [`poll_event`](Self::poll_event) and **persist every [`Event::Persist`] before
/// sending anything** from [`poll_transmit`](Self::poll_transmit) or the result of
/// [`seal_data`](Self::seal_data); sleep until [`poll_timeout`](Self::poll_timeout).
pub struct HomeAgent<R> {
    pub(crate) config: HaConfig,
    pub(crate) rng: R,
    pub(crate) mns: Vec<MobileNode>,
    pub(crate) by_hoa: HashMap<Ipv6Addr, MnIndex>,
    /// MN→HA SPIs of every accepted key (init and generations) → MN.
    pub(crate) by_spi: HashMap<u32, MnIndex>,
    /// Every init SPI, both directions: never drawn for a generation.
    pub(crate) init_spis: HashSet<u32>,
    pub(crate) timers: TimerQueue,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) counters: Counters,
}

impl<R> core::fmt::Debug for HomeAgent<R> {
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
        let mut ha = HomeAgent {
            rng,
            mns: Vec::with_capacity(config.mobile_nodes.len()),
            by_hoa: HashMap::with_capacity(config.mobile_nodes.len()),
            by_spi: HashMap::with_capacity(config.mobile_nodes.len() * 3),
            init_spis: HashSet::with_capacity(config.mobile_nodes.len() * 2),
            timers: TimerQueue::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            config,
        };
        for mn in &ha.config.mobile_nodes {
            let index =
                MnIndex::try_from(ha.mns.len()).map_err(|_| ConfigError::TooManyMobileNodes)?;
            if ha.by_hoa.insert(mn.home_address, index).is_some() {
                return Err(ConfigError::DuplicateHomeAddress(mn.home_address));
            }
            for spi in [mn.init_spis.mn_to_ha.get(), mn.init_spis.ha_to_mn.get()] {
                if !ha.init_spis.insert(spi) {
                    return Err(ConfigError::DuplicateInitSpi(spi));
                }
            }
            ha.by_spi.insert(mn.init_spis.mn_to_ha.get(), index);
            let init = Generation::derive(
                mip6_wire::keys::Role::HomeAgent,
                GenerationId::Init,
                mn.init_secret.clone(),
                &mn.home_address,
                mn.init_spis,
                mn.init_suite,
            );
            ha.mns.push(MobileNode {
                home_address: mn.home_address,
                keys: MnKeys::new(init),
                binding: None,
                dirty: false,
            });
        }
        for record in restored {
            ha.restore(now, &record);
        }
        ha.prune_timers();
        Ok(ha)
    }

    fn restore(&mut self, now: Time, record: &MnRecord) {
        let Some(&index) = self.by_hoa.get(&record.home_address) else {
            tracing::warn!(hoa = %record.home_address, "record for an unconfigured home address ignored");
            return;
        };
        let mn = &mut self.mns[index as usize];
        let hoa = mn.home_address;
        let keys = &mut mn.keys;
        // Init SA: resume the outbound counter at the mark, refuse inbound replays.
        let init = keys.table.get_mut(Slot::Init).map(|g| g.outbound_mut());
        if let Some(sa) = init {
            *sa = sa.clone().with_next_sequence(record.init_outbound_mark);
        }
        keys.marks.init = record.init_outbound_mark;
        keys.floors.init = record.init_inbound_top;
        keys.last_init_timestamp = record.last_init_timestamp;
        // Anterior first, so installing newest shifts it into place.
        for generation in [&record.anterior, &record.newest] {
            let Some(g) = generation else { continue };
            let restored = MnKeys::restore_generation(&hoa, g);
            let spi = restored.spis().mn_to_ha.get();
            if self.by_spi.get(&spi).is_some_and(|&other| other != index) {
                tracing::warn!(%hoa, spi, "restored SPI belongs to another MN; generation ignored");
                continue;
            }
            if let Err(e) = keys.install(restored) {
                tracing::warn!(%hoa, error = %e, "restored generation refused");
                continue;
            }
            self.by_spi.insert(spi, index);
            *keys.marks.get_mut(Slot::Newest) = g.outbound_mark;
            *keys.floors.get_mut(Slot::Newest) = g.inbound_top;
        }
        if keys.table.newest().is_some() {
            keys.proof = if record.newest_confirmed {
                Proof::Confirmed
            } else {
                Proof::Unconfirmed
            };
            let at = now + self.config.key_update_interval;
            keys.update = UpdateTimer::Running(at);
            self.timers.push(at, index, TimerKind::KeyUpdate);
        }
        if let Some(binding) = record.binding {
            mn.binding = Some(binding);
            self.timers
                .push(binding.expires_at, index, TimerKind::BindingExpiry);
            self.events.push_back(Event::Route(RouteChange::Install {
                home_address: hoa,
                care_of_address: binding.care_of_address,
            }));
        }
    }

    /// Advances timers to `now`: expired bindings are removed (with their route), and
    /// expired key update timers mark an update as due (patent (6), (9)).
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(deadline) = self.timers.pop_due(now) {
            if !self.is_live(&deadline) {
                continue;
            }
            let index = deadline.mn;
            match deadline.kind {
                TimerKind::BindingExpiry => {
                    self.counters.bindings_expired += 1;
                    self.remove_binding(index, RemovalCause::Expired);
                    self.flush_persist(index);
                }
                TimerKind::KeyUpdate => {
                    let mn = &mut self.mns[index as usize];
                    tracing::debug!(hoa = %mn.home_address, "key update timer expired: update due at next BU");
                    mn.keys.update = UpdateTimer::Due;
                }
            }
        }
        self.prune_timers();
    }

    /// The next signalling frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next deadline, if any: call [`handle_timeout`](Self::handle_timeout) then.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.peek().map(|d| d.at)
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Drops by reason, refusals, frames by kind.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The key state for one home address.
    pub fn keys(&self, home_address: &Ipv6Addr) -> Option<KeyView> {
        let mn = self.mn(home_address)?;
        let k = &mn.keys;
        let transmit = k.table.transmit();
        Some(KeyView {
            transmit: transmit.id(),
            transmit_spi: transmit.outbound().spi().get(),
            accepted: k
                .table
                .accepted_slots()
                .filter_map(|s| k.table.get(s).map(|g| g.id()))
                .collect(),
            newest: k.number(Slot::Newest),
            anterior: k.number(Slot::Anterior),
            newest_confirmed: k.table.newest().is_some() && k.proof == Proof::Confirmed,
            update_due: k.update == UpdateTimer::Due,
        })
    }

    /// The binding cache entry for one home address.
    pub fn binding(&self, home_address: &Ipv6Addr) -> Option<BindingView> {
        self.mn(home_address)?.binding
    }

    /// The record the engine would persist now for one home address.
    pub fn record(&self, home_address: &Ipv6Addr) -> Option<MnRecord> {
        self.mn(home_address).map(MobileNode::record)
    }

    /// Approximate bytes of the engine's state: per-MN state, both indexes and the
    /// timer heap (for the bytes-per-MN bench). Not counted: the boxed AES-GCM cipher
    /// state mip6-wire allocates once per SA (two per filled key slot; measure it with
    /// a counting allocator) and the queued transmits/events.
    pub fn approx_state_bytes(&self) -> usize {
        use core::mem::size_of;
        let entry = |k: usize, v: usize| k + v + 8; // key, value, hashbrown control + slack
        self.mns.capacity() * size_of::<MobileNode>()
            + self.by_hoa.capacity() * entry(size_of::<Ipv6Addr>(), size_of::<MnIndex>())
            + self.by_spi.capacity() * entry(size_of::<u32>(), size_of::<MnIndex>())
            + self.init_spis.capacity() * entry(size_of::<u32>(), 0)
            + self.timers.len() * size_of::<Deadline>()
    }

    /// Bytes of the fixed per-MN state (key table with its three generations, replay
    /// windows, binding), without the indexes.
    pub const fn mn_state_bytes() -> usize {
        core::mem::size_of::<MobileNode>()
    }

    pub(crate) fn mn(&self, home_address: &Ipv6Addr) -> Option<&MobileNode> {
        let &index = self.by_hoa.get(home_address)?;
        self.mns.get(index as usize)
    }

    /// Whether a popped deadline still names the MN's current state.
    fn is_live(&self, d: &Deadline) -> bool {
        let Some(mn) = self.mns.get(d.mn as usize) else {
            return false;
        };
        match d.kind {
            TimerKind::BindingExpiry => mn.binding.is_some_and(|b| b.expires_at == d.at),
            TimerKind::KeyUpdate => mn.keys.update == UpdateTimer::Running(d.at),
        }
    }

    /// Pops stale deadlines off the top so `poll_timeout` names a live one.
    pub(crate) fn prune_timers(&mut self) {
        while let Some(d) = self.timers.peek() {
            if self.is_live(&d) {
                break;
            }
            self.timers.pop();
        }
    }

    /// Removes the MN's binding (if any) with its route.
    pub(crate) fn remove_binding(&mut self, index: MnIndex, cause: RemovalCause) {
        let mn = &mut self.mns[index as usize];
        if mn.binding.take().is_none() {
            return;
        }
        mn.dirty = true;
        let home_address = mn.home_address;
        tracing::debug!(hoa = %home_address, ?cause, "binding removed");
        self.events
            .push_back(Event::Route(RouteChange::Remove { home_address }));
        self.events.push_back(Event::Binding {
            home_address,
            change: BindingChange::Removed(cause),
        });
    }

    /// Emits a `Persist` event if a persisted field of the MN changed.
    pub(crate) fn flush_persist(&mut self, index: MnIndex) {
        let mn = &mut self.mns[index as usize];
        if mn.dirty {
            mn.dirty = false;
            self.events.push_back(Event::Persist(mn.record()));
        }
    }
}
