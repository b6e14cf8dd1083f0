//! The home agent's state for one mobile node: its key table with the HA role
//! (patent FIG. 1), whether the MN has proven it holds the newest key, the per-MN
//! key update timer, the outbound sequence marks and the restored replay floors, and
//! its binding cache entry.
//!
//! Slot moves go through [`MnKeys::initialize`] and [`MnKeys::install`] so the marks
//! and floors move with the keys.

use std::net::Ipv6Addr;

use mip6_wire::esp::ReplayWindow;
use mip6_wire::keys::{Generation, GenerationId, KeyTable, KeyTableError, Role, Slot};
use mip6_wire::Time;

use crate::binding::BindingView;
use crate::persist::{GenerationRecord, MnRecord};

/// Whether the MN has proven it holds the newest generation (docs/key-protocol.md:
/// "confirmed"): a BU or data frame opened under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    /// The Key Distribution may have been lost: a BU under the anterior key means
    /// "resend", and no new generation is drawn.
    Unconfirmed,
    /// A frame opened under newest.
    Confirmed,
}

/// The HA's per-MN key update timer (patent (6), (9)): expiry only marks an update
/// as due, acted on at the MN's next BU under newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpdateTimer {
    /// No dynamic keys: nothing to update.
    Idle,
    /// Running; expires at this time.
    Running(Time),
    /// Expired: the next BU under newest gets a new generation.
    Due,
}

/// One value per key slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PerSlot<T> {
    pub init: T,
    pub anterior: T,
    pub newest: T,
}

impl<T> PerSlot<T> {
    pub fn get_mut(&mut self, slot: Slot) -> &mut T {
        match slot {
            Slot::Init => &mut self.init,
            Slot::Anterior => &mut self.anterior,
            Slot::Newest => &mut self.newest,
        }
    }

    pub fn get(&self, slot: Slot) -> &T {
        match slot {
            Slot::Init => &self.init,
            Slot::Anterior => &self.anterior,
            Slot::Newest => &self.newest,
        }
    }
}

impl<T: Copy + Default> PerSlot<T> {
    /// The newest slot's value moves to anterior; newest starts fresh.
    fn shift(&mut self) {
        self.anterior = self.newest;
        self.newest = T::default();
    }

    /// Both dynamic slots start fresh.
    fn reset_dynamic(&mut self) {
        self.anterior = T::default();
        self.newest = T::default();
    }
}

/// The keys of one MN, HA role.
#[derive(Debug)]
pub(crate) struct MnKeys {
    pub table: KeyTable,
    pub proof: Proof,
    pub update: UpdateTimer,
    /// Outbound sequence numbers reserved up to (not including) this mark, per slot.
    pub marks: PerSlot<u64>,
    /// Inbound frames at or below this sequence number are replays (restored tops).
    pub floors: PerSlot<u32>,
    /// Last accepted Key Initialization timestamp (NTP).
    pub last_init_timestamp: Option<u64>,
}

impl MnKeys {
    pub fn new(init: Generation) -> Self {
        MnKeys {
            table: KeyTable::new(Role::HomeAgent, init),
            proof: Proof::Unconfirmed,
            update: UpdateTimer::Idle,
            marks: PerSlot::default(),
            floors: PerSlot::default(),
            last_init_timestamp: None,
        }
    }

    /// The HA's initialization (patent S114): drop N and N−1, `generation` becomes
    /// newest, init transmits.
    pub fn initialize(&mut self, generation: Generation) -> Result<Vec<u32>, KeyTableError> {
        let dropped = self.table.initialize(generation)?;
        self.marks.reset_dynamic();
        self.floors.reset_dynamic();
        self.proof = Proof::Unconfirmed;
        Ok([dropped.anterior, dropped.newest]
            .into_iter()
            .flatten()
            .map(|g| g.spis().mn_to_ha.get())
            .collect())
    }

    /// An update (patent S217): N becomes anterior, `generation` newest.
    pub fn install(&mut self, generation: Generation) -> Result<Option<u32>, KeyTableError> {
        let dropped = self.table.install_newest(generation)?;
        self.marks.shift();
        self.floors.shift();
        self.proof = Proof::Unconfirmed;
        Ok(dropped.map(|g| g.spis().mn_to_ha.get()))
    }

    /// Reserves outbound sequence numbers of `slot` before a seal: true if the mark
    /// moved (a `Persist` must be emitted before the sealed frame leaves).
    pub fn reserve(&mut self, slot: Slot, block: u64) -> bool {
        let Some(generation) = self.table.get(slot) else {
            return false;
        };
        let next = generation.outbound().next_sequence();
        let mark = self.marks.get_mut(slot);
        if next >= *mark {
            *mark = next.saturating_add(block.max(1));
            true
        } else {
            false
        }
    }

    fn generation_record(&self, slot: Slot) -> Option<GenerationRecord> {
        let g = self.table.get(slot)?;
        let GenerationId::Number(generation) = g.id() else {
            return None;
        };
        Some(GenerationRecord {
            generation,
            secret: g.secret().clone(),
            spis: g.spis(),
            suite: g.suite(),
            outbound_mark: (*self.marks.get(slot)).max(g.outbound().next_sequence()),
            inbound_top: g.inbound().window().top().max(*self.floors.get(slot)),
        })
    }

    /// Restores a generation from its record into a fresh Generation (HA role).
    pub fn restore_generation(hoa: &Ipv6Addr, record: &GenerationRecord) -> Generation {
        let mut g = Generation::derive_with_window(
            Role::HomeAgent,
            GenerationId::Number(record.generation),
            record.secret.clone(),
            hoa,
            record.spis,
            record.suite,
            ReplayWindow::default(),
        );
        let sa = g.outbound_mut();
        *sa = sa.clone().with_next_sequence(record.outbound_mark);
        g
    }

    /// The generation number in a slot, if it holds a generation.
    pub fn number(&self, slot: Slot) -> Option<u32> {
        match self.table.get(slot)?.id() {
            GenerationId::Number(n) => Some(n),
            GenerationId::Init => None,
        }
    }
}

/// Everything the HA keeps for one MN.
#[derive(Debug)]
pub(crate) struct MobileNode {
    pub home_address: Ipv6Addr,
    pub keys: MnKeys,
    pub binding: Option<BindingView>,
    /// A persisted field changed since the last `Persist` event.
    pub dirty: bool,
}

impl MobileNode {
    /// The record to persist now.
    pub fn record(&self) -> MnRecord {
        let k = &self.keys;
        let init = k.table.init();
        MnRecord {
            home_address: self.home_address,
            binding: self.binding,
            newest: k.generation_record(Slot::Newest),
            anterior: k.generation_record(Slot::Anterior),
            newest_confirmed: k.proof == Proof::Confirmed,
            init_outbound_mark: k.marks.init.max(init.outbound().next_sequence()),
            init_inbound_top: init.inbound().window().top().max(k.floors.init),
            last_init_timestamp: k.last_init_timestamp,
        }
    }
}
