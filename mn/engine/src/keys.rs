//! The mobile node's keys for its home agent (docs/key-protocol.md, patent FIG. 1):
//! a [`KeyTable`] of role [`Role::MobileNode`] — transmit with newest (init when there
//! is none), accept newest, anterior and init — plus, per slot, the outbound sequence
//! marks ([`crate::persist`]), install times and packet counts (status), which move
//! with the keys when a generation is installed and go when they are dropped, and the
//! node's own key-update timer (explicit mode, patent (3)).

use core::net::Ipv6Addr;

use mip6_wire::esp::{self, AesGcmAead, EspAead, Opened, OutboundSa, Spi};
use mip6_wire::keys::{
    DistributionKind, Generation, GenerationId, GenerationView, KeyTable, Role, Slot, SlotPackets,
    SpiPair,
};
use mip6_wire::mh::KeyDistribution;
use mip6_wire::Time;

use crate::config::{MnConfig, RestorePolicy};
use crate::counters::DropReason;
use crate::persist::{GenerationRecord, MnRecord};

/// The node's key-update timer (explicit mode; patent (3)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateTimer {
    /// Not running: no dynamic keys, implicit mode, or no interval configured.
    Off,
    /// A Key Update Request becomes due at this time.
    At(Time),
    /// Due, waiting for the outstanding BU to be answered before asking.
    Due,
    /// A BU carrying a Key Update Request is outstanding.
    Requested,
}

/// Which key the node transmits with and which it accepts, for tests and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyView {
    /// The key the node seals with.
    pub transmit: GenerationId,
    /// The keys the node opens with, newest first.
    pub accepted: Vec<GenerationId>,
    /// Newest generation number (N).
    pub newest: Option<u32>,
    /// Anterior generation number (N−1).
    pub anterior: Option<u32>,
    /// The key-update timer.
    pub update: UpdateTimer,
    /// Every filled slot, newest first: SPIs, when the node installed it (the init
    /// key: when the node started or last fell back to it), and the frames the node
    /// opened (HA→MN) and sealed (MN→HA) under it since it was installed (the init
    /// key: since the node started).
    pub generations: Vec<GenerationView>,
}

/// When each slot was installed (status: the ages of the keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InstallTimes {
    init: Time,
    anterior: Time,
    newest: Time,
}

/// Outbound sequence marks per slot (see [`crate::persist`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marks {
    init: u64,
    anterior: u64,
    newest: u64,
}

/// Frames opened and sealed per slot (status), shifted like the marks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Packets {
    init: SlotPackets,
    anterior: SlotPackets,
    newest: SlotPackets,
}

impl Packets {
    fn slot(&self, slot: Slot) -> SlotPackets {
        match slot {
            Slot::Init => self.init,
            Slot::Anterior => self.anterior,
            Slot::Newest => self.newest,
        }
    }

    fn slot_mut(&mut self, slot: Slot) -> &mut SlotPackets {
        match slot {
            Slot::Init => &mut self.init,
            Slot::Anterior => &mut self.anterior,
            Slot::Newest => &mut self.newest,
        }
    }
}

/// What a Key Distribution did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Installed {
    /// Installed as newest.
    New {
        generation: u32,
        kind: DistributionKind,
    },
    /// Not newer than the newest: ignored (a duplicate or late BA).
    Ignored,
}

/// The node's key table and its bookkeeping; `A` is the ESP AEAD (RFC 4106).
#[derive(Debug)]
pub(crate) struct NodeKeys<A: EspAead = AesGcmAead> {
    table: KeyTable<A>,
    marks: Marks,
    installed: InstallTimes,
    packets: Packets,
    pub(crate) update: UpdateTimer,
}

/// A persisted generation, its outbound SA resuming at the persisted mark.
fn restored_generation<A: EspAead>(hoa: &Ipv6Addr, record: &GenerationRecord) -> Generation<A> {
    let mut g = Generation::derive(
        Role::MobileNode,
        GenerationId::Number(record.generation),
        record.secret.clone(),
        hoa,
        record.spis,
        record.suite,
    );
    resume(g.outbound_mut(), record.outbound_mark);
    g
}

fn resume<A: EspAead>(sa: &mut OutboundSa<A>, mark: u64) {
    sa.resume_at(mark);
}

impl<A: EspAead> NodeKeys<A> {
    /// The init key only, or what `record` gives back under the configured policy,
    /// installed at `now`; every outbound SA writes `iv_prefix` in its IVs.
    pub(crate) fn new(
        config: &MnConfig,
        record: Option<&MnRecord>,
        now: Time,
        iv_prefix: u32,
    ) -> Self {
        let mut init = Generation::derive(
            Role::MobileNode,
            GenerationId::Init,
            config.init_secret.clone(),
            &config.home_address,
            config.init_spis,
            config.suite,
        );
        let mut marks = Marks {
            init: 1,
            anterior: 1,
            newest: 1,
        };
        if let Some(r) = record {
            resume(init.outbound_mut(), r.init_outbound_mark);
            marks.init = init.outbound().next_sequence();
        }
        let mut table = KeyTable::new(Role::MobileNode, init).with_iv_prefix(iv_prefix);
        if let (Some(r), RestorePolicy::ResumeKeys) = (record, config.restore) {
            for gr in [&r.anterior, &r.newest].into_iter().flatten() {
                let g = restored_generation(&config.home_address, gr);
                let mark = g.outbound().next_sequence();
                if table.install_newest(g).is_ok() {
                    marks.anterior = marks.newest;
                    marks.newest = mark;
                } else {
                    tracing::debug!(
                        generation = gr.generation,
                        "persisted generation not restored: SPI clash"
                    );
                }
            }
        }
        NodeKeys {
            table,
            marks,
            installed: InstallTimes {
                init: now,
                anterior: now,
                newest: now,
            },
            packets: Packets::default(),
            update: UpdateTimer::Off,
        }
    }

    /// The key table (for `inbound::open`).
    pub(crate) fn table_mut(&mut self) -> &mut KeyTable<A> {
        &mut self.table
    }

    /// Opens an ESP packet with the accepted key its SPI names and counts it as
    /// opened in that slot; returns the slot too.
    pub(crate) fn open_inbound(&mut self, buf: &mut [u8]) -> Result<(Slot, Opened), esp::Error> {
        let (slot, opened) = self.table.open_inbound(buf)?;
        self.packets.slot_mut(slot).count_opened();
        Ok((slot, opened))
    }

    /// Counts a frame opened in `slot` outside [`open_inbound`](Self::open_inbound)
    /// (the init BA taken outside the replay window).
    pub(crate) fn count_opened(&mut self, slot: Slot) {
        self.packets.slot_mut(slot).count_opened();
    }

    /// True when the node holds a dynamic generation (so it transmits with newest).
    pub(crate) fn has_dynamic(&self) -> bool {
        self.table.newest().is_some()
    }

    /// Newest generation number.
    pub(crate) fn newest_generation(&self) -> Option<u32> {
        number(self.table.newest())
    }

    /// Makes sure the transmit SA's next sequence number is below its persisted mark;
    /// returns true when the mark moved (the caller emits a Persist event first).
    pub(crate) fn reserve_transmit(&mut self, block: u64) -> bool {
        let slot = self.table.transmit_slot();
        let next = self
            .table
            .get(slot)
            .map_or(0, |g| g.outbound().next_sequence());
        let mark = match slot {
            Slot::Init => &mut self.marks.init,
            Slot::Anterior => &mut self.marks.anterior,
            Slot::Newest => &mut self.marks.newest,
        };
        if next >= *mark {
            *mark = next.saturating_add(block.max(1));
            true
        } else {
            false
        }
    }

    /// Runs `seal` on the SA the node seals with (newest, init when there is none);
    /// every sequence number it used counts as a frame sealed in that slot.
    pub(crate) fn with_transmit_sa<T>(&mut self, seal: impl FnOnce(&mut OutboundSa<A>) -> T) -> T {
        let slot = self.table.transmit_slot();
        // The transmit slot is always filled (init is, newest is when it is chosen).
        let Some(g) = self.table.get_mut(slot) else {
            unreachable!("transmit slot {slot:?} is filled by construction")
        };
        let sa = g.outbound_mut();
        let before = sa.next_sequence();
        let result = seal(sa);
        let used = sa.next_sequence().saturating_sub(before);
        self.packets.slot_mut(slot).count_sealed(used);
        result
    }

    /// Installs a Key Distribution as newest if its generation is newer than the
    /// newest (any generation when there is none) — never moving keys backwards.
    /// `answers_resend`: the BU answered carried a Key Resending Request, so a newer
    /// generation is the lost one sent again (patent (4), (10)).
    pub(crate) fn install(
        &mut self,
        hoa: &Ipv6Addr,
        kd: &KeyDistribution,
        answers_resend: bool,
        now: Time,
    ) -> Result<Installed, DropReason> {
        let kind = match self.newest_generation() {
            Some(n) if kd.generation <= n => return Ok(Installed::Ignored),
            None => DistributionKind::Initialization,
            Some(_) if answers_resend => DistributionKind::Resend,
            Some(_) => DistributionKind::Update,
        };
        let (Ok(mn_to_ha), Ok(ha_to_mn)) = (Spi::new(kd.spi_mn_to_ha), Spi::new(kd.spi_ha_to_mn))
        else {
            return Err(DropReason::BadKeyDistribution);
        };
        let generation = Generation::derive(
            Role::MobileNode,
            GenerationId::Number(kd.generation),
            kd.secret.clone(),
            hoa,
            SpiPair { mn_to_ha, ha_to_mn },
            kd.suite,
        );
        self.table
            .install_newest(generation)
            .map_err(|_| DropReason::BadKeyDistribution)?;
        self.marks.anterior = self.marks.newest;
        self.marks.newest = 1;
        self.installed.anterior = self.installed.newest;
        self.installed.newest = now;
        self.packets.anterior = self.packets.newest;
        self.packets.newest = SlotPackets::default();
        Ok(Installed::New {
            generation: kd.generation,
            kind,
        })
    }

    /// Drops both dynamic generations (patent (5), (11)): init transmits again, from
    /// `now` on.
    pub(crate) fn drop_dynamic(&mut self, now: Time) {
        let _ = self.table.drop_dynamic();
        self.installed.init = now;
        self.marks.anterior = 1;
        self.marks.newest = 1;
        self.packets.anterior = SlotPackets::default();
        self.packets.newest = SlotPackets::default();
        self.update = UpdateTimer::Off;
    }

    /// The view tests assert on.
    pub(crate) fn view(&self) -> KeyView {
        KeyView {
            transmit: self.table.transmit().id(),
            accepted: self
                .table
                .accepted_slots()
                .filter_map(|s| self.table.get(s).map(Generation::<A>::id))
                .collect(),
            newest: number(self.table.newest()),
            anterior: number(self.table.anterior()),
            update: self.update,
            generations: self
                .table
                .accepted_slots()
                .filter_map(|slot| {
                    let g = self.table.get(slot)?;
                    Some(GenerationView {
                        slot,
                        id: g.id(),
                        spis: g.spis(),
                        installed_at: match slot {
                            Slot::Init => self.installed.init,
                            Slot::Anterior => self.installed.anterior,
                            Slot::Newest => self.installed.newest,
                        },
                        packets: self.packets.slot(slot),
                    })
                })
                .collect(),
        }
    }

    /// The persisted form.
    pub(crate) fn record(&self, bu_sequence_mark: mip6_wire::mh::SequenceNumber) -> MnRecord {
        let gen_record = |g: Option<&Generation<A>>, mark: u64| {
            g.and_then(|g| match g.id() {
                GenerationId::Number(generation) => Some(GenerationRecord {
                    generation,
                    secret: g.secret().clone(),
                    spis: g.spis(),
                    suite: g.suite(),
                    outbound_mark: mark,
                }),
                GenerationId::Init => None,
            })
        };
        MnRecord {
            init_outbound_mark: self.marks.init,
            newest: gen_record(self.table.newest(), self.marks.newest),
            anterior: gen_record(self.table.anterior(), self.marks.anterior),
            bu_sequence_mark,
        }
    }
}

fn number<A: EspAead>(g: Option<&Generation<A>>) -> Option<u32> {
    match g?.id() {
        GenerationId::Number(n) => Some(n),
        GenerationId::Init => None,
    }
}
