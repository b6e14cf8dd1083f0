//! The home agent's state for one mobile node: its keys with the HA role (patent
//! FIG. 1: init, anterior N−1, newest N), whether the MN has proven it holds the
//! newest key, the per-MN key update timer, the outbound sequence marks and the
//! inbound anti-replay windows, and its binding cache entry.
//!
//! **Compact keys.** A home agent serves up to millions of mobile nodes, nearly all
//! idle at any instant, so a key slot holds no expanded cipher: only the SPIs, the
//! derived key ‖ salt of each direction at their real length (40 octets for
//! AES-128-GCM inline, AES-256-GCM in a 72-octet box), the outbound counter and the
//! inbound anti-replay window ([`SlotKeys`], 88 octets). The AES-GCM state is expanded
//! on the stack around each packet (the engine's cipher, by default
//! [`AesGcmInline`](mip6_wire::esp::AesGcmInline), one key expansion, ~155 ns with
//! aes-gcm 0.11 on an AMD EPYC) and wiped when it is dropped. At a million MNs every packet finds its MN's state cold, and
//! re-expanding from the 20-octet key that lies in the line already fetched costs less
//! than the misses on a cached 750-octet cipher would. Key material is wiped on drop.
//!
//! Slot moves go through [`KeySlots::initialize`] and [`KeySlots::install`]; marks,
//! windows (with the floors restored into them) and the slot's packet counts
//! ([`SlotPackets`], status `packets_in` / `packets_out`) live in the slot, so they
//! move with their keys and are dropped with them. All three slots are inline: a long-running HA holds init, N−1 and N for
//! every MN, and a box for N−1 would cost a pointer and an allocator header per MN.

use core::num::NonZeroU64;
use std::net::Ipv6Addr;

use mip6_wire::esp::{self, EspAead, Opened, OutboundSa, ReplayWindow, SaKey, Suite};
use mip6_wire::keys::{
    Direction, GenerationId, KeySchedule, KeyTableError, Slot, SlotPackets, SpiPair,
};
use mip6_wire::{Secret32, Time};
use zeroize::Zeroize;

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

/// An [`UpdateTimer`] in 8 octets: the expiry in microseconds, two values no clock
/// reaches standing for `Idle` and `Due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedUpdateTimer(u64);

impl PackedUpdateTimer {
    const IDLE: u64 = u64::MAX;
    const DUE: u64 = u64::MAX - 1;

    pub const fn get(self) -> UpdateTimer {
        match self.0 {
            Self::IDLE => UpdateTimer::Idle,
            Self::DUE => UpdateTimer::Due,
            at => UpdateTimer::Running(Time::from_micros(at)),
        }
    }

    pub fn set(&mut self, timer: UpdateTimer) {
        self.0 = match timer {
            UpdateTimer::Idle => Self::IDLE,
            UpdateTimer::Due => Self::DUE,
            // Never collides with the two markers: a clock half a million years on.
            UpdateTimer::Running(at) => at.as_micros().min(Self::DUE - 1),
        };
    }
}

/// Octets of one direction's key ‖ salt for AES-128-GCM and AES-256-GCM.
const NARROW: usize = 16 + 4;
const WIDE: usize = 32 + 4;

/// The two SAs of one key slot, HA role: outbound HA→MN, inbound MN→HA, kept compact
/// (no expanded cipher), with the slot's outbound mark; a restored inbound floor is
/// raised in the window. 96 octets: the packet counts take 8, the replay knowledge
/// one octet of what was padding.
pub(crate) struct SlotKeys {
    /// 0 for the init key, else the generation number (never 0, see `draw`).
    number: u32,
    spis: SpiPair,
    /// Outbound sequence numbers used: the next seal uses `used + 1` (RFC 4303 §3.3.3,
    /// 1..=2^32 − 1; `u32::MAX` used = exhausted).
    used: u32,
    /// Outbound sequence numbers reserved (persisted) up to, not including,
    /// `reserved_below + 1` (the mark, at most 2^32).
    reserved_below: u32,
    suite: Suite,
    /// What is known of the inbound replay state (always exact for the init key:
    /// its top is persisted on every frame it opens). Here rather than in
    /// [`Dynamic`], where it would cost 8 octets of padding per generation.
    replay: ReplayKnowledge,
    window: ReplayWindow,
    /// Frames opened and sealed under this key since it was installed.
    packets: SlotPackets,
    /// AES-128-GCM: outbound key ‖ salt, then inbound key ‖ salt. Zero for AES-256.
    narrow: [u8; 2 * NARROW],
    /// AES-256-GCM: the same layout.
    wide: Option<Box<[u8; 2 * WIDE]>>,
}

impl Drop for SlotKeys {
    fn drop(&mut self) {
        self.narrow.zeroize();
        if let Some(wide) = self.wide.as_mut() {
            wide.zeroize();
        }
    }
}

impl core::fmt::Debug for SlotKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SlotKeys")
            .field("number", &self.number)
            .field("spis", &self.spis)
            .field("suite", &self.suite)
            .field("next_out", &self.next_out())
            .field("window", &self.window)
            .field("replay", &self.replay)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl SlotKeys {
    /// Derives both SAs of a key (docs/architecture.md key schedule), HA role.
    fn derive(
        id: GenerationId,
        secret: &Secret32,
        hoa: &Ipv6Addr,
        spis: SpiPair,
        suite: Suite,
        window: ReplayWindow,
    ) -> Self {
        let schedule = KeySchedule::new(secret);
        let out = schedule.derive(hoa, Direction::HaToMn, spis.ha_to_mn, suite);
        let inb = schedule.derive(hoa, Direction::MnToHa, spis.mn_to_ha, suite);
        let mut keys = SlotKeys {
            number: match id {
                GenerationId::Init => 0,
                GenerationId::Number(n) => n,
            },
            spis,
            used: 0,
            reserved_below: 0,
            suite,
            replay: ReplayKnowledge::Exact,
            window,
            packets: SlotPackets::default(),
            narrow: [0; 2 * NARROW],
            wide: None,
        };
        let half = suite.key_len() + 4;
        let put = |dst: &mut [u8]| {
            for (i, k) in [&out, &inb].into_iter().enumerate() {
                let at = i * half;
                dst[at..at + suite.key_len()].copy_from_slice(k.key());
                dst[at + suite.key_len()..at + half].copy_from_slice(k.salt());
            }
        };
        match suite {
            Suite::Aes128Gcm => put(&mut keys.narrow),
            Suite::Aes256Gcm => {
                let mut wide = Box::new([0u8; 2 * WIDE]);
                put(&mut wide[..]);
                keys.wide = Some(wide);
            }
        }
        keys
    }

    /// Key ‖ salt of one direction (outbound = HA→MN).
    fn material(&self, outbound: bool) -> &[u8] {
        let half = self.suite.key_len() + 4;
        let all: &[u8] = match &self.wide {
            Some(wide) => &wide[..],
            None => &self.narrow,
        };
        let at = if outbound { 0 } else { half };
        all.get(at..at + half).unwrap_or(&[])
    }

    fn sa_key(&self, outbound: bool) -> Option<SaKey> {
        SaKey::from_keymat(self.suite, self.material(outbound))
    }

    /// Init key or generation number.
    pub fn id(&self) -> GenerationId {
        match self.number {
            0 => GenerationId::Init,
            n => GenerationId::Number(n),
        }
    }

    /// Both SPIs.
    pub const fn spis(&self) -> SpiPair {
        self.spis
    }

    /// The sequence number the next outbound seal uses (2^32 once exhausted).
    const fn next_out(&self) -> u64 {
        self.used as u64 + 1
    }

    fn set_next_out(&mut self, next: u64) {
        let next = next.clamp(esp::sa::FIRST_SEQUENCE, esp::sa::SEQUENCE_END);
        self.used = u32::try_from(next - 1).unwrap_or(u32::MAX);
    }

    /// Outbound sequence numbers are reserved up to, not including, this mark.
    pub const fn mark(&self) -> u64 {
        self.reserved_below as u64 + 1
    }

    /// Moves the reservation mark (clamped to 2^32: no number beyond is ever used).
    pub fn set_mark(&mut self, mark: u64) {
        self.reserved_below = u32::try_from(mark.saturating_sub(1)).unwrap_or(u32::MAX);
    }

    /// The sequence number the next outbound seal uses.
    #[cfg(test)]
    pub const fn next_sequence(&self) -> u64 {
        self.next_out()
    }

    /// Sequence numbers left on the outbound SA.
    pub const fn seq_remaining(&self) -> u64 {
        esp::sa::SEQUENCE_END - self.next_out()
    }

    /// The inbound anti-replay window.
    pub const fn window(&self) -> &ReplayWindow {
        &self.window
    }

    /// Frames opened and sealed under this key since it was installed.
    pub const fn packets(&self) -> SlotPackets {
        self.packets
    }

    /// Heap bytes of the key material (the AES-256 box), `chunk` rounding a request.
    pub fn heap_bytes(&self, chunk: impl Fn(usize) -> usize) -> usize {
        self.wide.as_ref().map_or(0, |_| chunk(2 * WIDE))
    }

    /// The highest inbound sequence number accepted, or the floor raised above it.
    pub fn inbound_top(&self) -> u32 {
        self.window.top()
    }

    /// Refuses every inbound sequence number at or below `floor` from now on (a
    /// persisted top restored, or the implicit mode's in-order init frames).
    pub fn raise_floor(&mut self, floor: u32) {
        self.window.raise_floor(floor);
    }

    /// The reserved outbound mark, never below the next number to use.
    pub fn outbound_mark(&self) -> u64 {
        self.mark().max(self.next_out())
    }

    /// Opens an ESP packet under the inbound SA (RFC 4303 §3.4), the cipher `A`
    /// expanded for this packet only.
    pub fn open<A: EspAead>(&mut self, buf: &mut [u8]) -> Result<Opened, esp::Error> {
        let material = self.material(false);
        let Some(key) = SaKey::from_keymat(self.suite, material) else {
            return Err(esp::Error::UnknownSpi {
                spi: self.spis.mn_to_ha.get(),
            });
        };
        let aead = A::from_key(&key);
        let opened = esp::open_with(&aead, self.spis.mn_to_ha, key.salt(), &mut self.window, buf)?;
        self.packets.count_opened();
        Ok(opened)
    }

    /// Runs `seal` on the outbound SA, built for this call around the compact key, the
    /// counter and the engine's IV prefix, and keeps the counter it leaves (so no
    /// number is used twice); every sequence number `seal` used counts as a frame
    /// sealed. `None` if the key material is unusable (cannot happen for a derived
    /// key).
    pub fn with_outbound<A: EspAead, T>(
        &mut self,
        iv_prefix: u32,
        seal: impl FnOnce(&mut OutboundSa<A>) -> T,
    ) -> Option<T> {
        let key = self.sa_key(true)?;
        let mut sa = OutboundSa::<A>::resume(self.spis.ha_to_mn, key, self.next_out())
            .with_iv_prefix(iv_prefix);
        let result = seal(&mut sa);
        let next = sa.next_sequence();
        self.packets
            .count_sealed(next.saturating_sub(self.next_out()));
        self.set_next_out(next);
        Some(result)
    }

    /// The same key resuming its outbound counter at `next` (persisted mark).
    pub fn resume_at(&mut self, next: u64) {
        self.set_next_out(next);
    }
}

/// A generation the HA drew or restored: its keys (with what is known of their
/// replay state) and the secret it distributes.
#[derive(Debug)]
pub(crate) struct Dynamic {
    pub keys: SlotKeys,
    pub secret: Secret32,
}

/// What the home agent knows of a generation's inbound replay state (issue 12,
/// item 10). Data frames never trigger a persist, so after a restart the window
/// resumes at the top persisted with the last BU: a data frame the SA accepted
/// after that, captured and replayed, would still fit. A replayed BU cannot, since
/// every accepted BU persists the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayKnowledge {
    /// Drawn in this run: the window has seen every frame.
    Exact,
    /// Restored from a record: BUs are taken, data is dropped
    /// ([`crate::DropReason::DataUnderRestoredKey`]) until a fresh generation.
    LostAtRestart,
}

impl Dynamic {
    /// Derives generation `number` from its secret (HA role).
    pub fn derive(
        number: u32,
        secret: Secret32,
        hoa: &Ipv6Addr,
        spis: SpiPair,
        suite: Suite,
        window: ReplayWindow,
    ) -> Self {
        Dynamic {
            keys: SlotKeys::derive(
                GenerationId::Number(number),
                &secret,
                hoa,
                spis,
                suite,
                window,
            ),
            secret,
        }
    }

    pub fn suite(&self) -> Suite {
        self.keys.suite
    }
}

/// The keys of one MN, HA role.
#[derive(Debug)]
pub(crate) struct KeySlots {
    pub init: SlotKeys,
    pub newest: Option<Dynamic>,
    pub anterior: Option<Dynamic>,
    pub proof: Proof,
    pub update: PackedUpdateTimer,
    /// Last accepted Key Initialization timestamp (NTP; 0, the era's first instant,
    /// is never within the accepted skew of a clock).
    pub last_init_timestamp: Option<NonZeroU64>,
    /// When newest and anterior were installed (status: their ages), 8 octets per MN.
    pub installed: InstallStamps,
}

/// When the two dynamic slots were installed, in tenths of a second since the
/// engine started ([`InstallStamps::stamp`]; 13.6 years fit, later ones saturate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InstallStamps {
    /// When newest was installed.
    pub newest: u32,
    /// When anterior was installed (as newest, before the update that demoted it).
    pub anterior: u32,
}

impl InstallStamps {
    /// `now` as a stamp relative to `started`.
    pub fn stamp(started: Time, now: Time) -> u32 {
        u32::try_from(now.saturating_since(started).as_millis() / 100).unwrap_or(u32::MAX)
    }

    /// The time a stamp stands for.
    pub fn time(started: Time, stamp: u32) -> Time {
        started + core::time::Duration::from_millis(u64::from(stamp) * 100)
    }
}

impl KeySlots {
    /// The init key from the MN's configuration.
    pub fn new(
        secret: &Secret32,
        hoa: &Ipv6Addr,
        spis: SpiPair,
        suite: Suite,
        window: ReplayWindow,
    ) -> Self {
        KeySlots {
            init: SlotKeys::derive(GenerationId::Init, secret, hoa, spis, suite, window),
            newest: None,
            anterior: None,
            proof: Proof::Unconfirmed,
            update: PackedUpdateTimer(PackedUpdateTimer::IDLE),
            last_init_timestamp: None,
            installed: InstallStamps::default(),
        }
    }

    /// The key in a slot, if filled (init always is).
    pub fn get(&self, slot: Slot) -> Option<&SlotKeys> {
        match slot {
            Slot::Init => Some(&self.init),
            Slot::Anterior => self.anterior.as_ref().map(|d| &d.keys),
            Slot::Newest => self.newest.as_ref().map(|d| &d.keys),
        }
    }

    /// The key in a slot, mutably.
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut SlotKeys> {
        match slot {
            Slot::Init => Some(&mut self.init),
            Slot::Anterior => self.anterior.as_mut().map(|d| &mut d.keys),
            Slot::Newest => self.newest.as_mut().map(|d| &mut d.keys),
        }
    }

    /// The slot the HA transmits with: anterior, else init (patent FIG. 1).
    pub fn transmit_slot(&self) -> Slot {
        if self.anterior.is_some() {
            Slot::Anterior
        } else {
            Slot::Init
        }
    }

    /// The key the HA transmits with.
    pub fn transmit(&self) -> &SlotKeys {
        self.anterior.as_ref().map_or(&self.init, |d| &d.keys)
    }

    /// Filled slots in lookup order: newest, anterior, init (all accepted).
    pub fn accepted_slots(&self) -> impl Iterator<Item = Slot> + '_ {
        [Slot::Newest, Slot::Anterior, Slot::Init]
            .into_iter()
            .filter(|&slot| self.get(slot).is_some())
    }

    /// What is known of the inbound replay state of the key in `slot` (init's top is
    /// persisted on every frame: exact).
    pub fn replay_knowledge(&self, slot: Slot) -> ReplayKnowledge {
        self.get(slot).map_or(ReplayKnowledge::Exact, |k| k.replay)
    }

    /// The slot whose inbound (MN→HA) SPI is `spi`.
    pub fn lookup_inbound(&self, spi: u32) -> Option<Slot> {
        self.accepted_slots()
            .find(|&slot| self.get(slot).is_some_and(|k| k.spis.mn_to_ha.get() == spi))
    }

    fn check_spis(&self, new: &Dynamic, kept: &[Slot]) -> Result<(), KeyTableError> {
        for &slot in kept {
            if let Some(old) = self.get(slot) {
                for spi in [new.keys.spis.mn_to_ha, new.keys.spis.ha_to_mn] {
                    if spi == old.spis.mn_to_ha || spi == old.spis.ha_to_mn {
                        return Err(KeyTableError::DuplicateSpi { spi, slot });
                    }
                }
            }
        }
        Ok(())
    }

    /// The HA's initialization (patent S114): drop N and N−1, `generation` becomes
    /// newest, init transmits; `stamp` is when ([`InstallStamps`]). Returns the MN→HA
    /// SPIs dropped.
    pub fn initialize(
        &mut self,
        generation: Dynamic,
        stamp: u32,
    ) -> Result<Vec<u32>, KeyTableError> {
        self.check_spis(&generation, &[Slot::Init])?;
        let dropped: Vec<u32> = [
            self.anterior.take().map(|d| d.keys.spis.mn_to_ha.get()),
            self.newest
                .replace(generation)
                .map(|d| d.keys.spis.mn_to_ha.get()),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.proof = Proof::Unconfirmed;
        self.installed = InstallStamps {
            newest: stamp,
            anterior: stamp,
        };
        Ok(dropped)
    }

    /// An update (patent S217): N becomes anterior, `generation` newest; returns the
    /// MN→HA SPI of the dropped N−1. `stamp` is when ([`InstallStamps`]).
    pub fn install(
        &mut self,
        generation: Dynamic,
        stamp: u32,
    ) -> Result<Option<u32>, KeyTableError> {
        self.check_spis(&generation, &[Slot::Init, Slot::Newest])?;
        let dropped = match self.newest.replace(generation) {
            Some(old) => self.anterior.replace(old),
            None => self.anterior.take(),
        };
        self.proof = Proof::Unconfirmed;
        self.installed = InstallStamps {
            newest: stamp,
            anterior: self.installed.newest,
        };
        Ok(dropped.map(|d| d.keys.spis.mn_to_ha.get()))
    }

    /// Reserves outbound sequence numbers of `slot` before a seal: true if the mark
    /// moved (a `Persist` must be emitted before the sealed frame leaves).
    pub fn reserve(&mut self, slot: Slot, block: u64) -> bool {
        let Some(keys) = self.get_mut(slot) else {
            return false;
        };
        if keys.next_out() >= keys.mark() {
            keys.set_mark(keys.next_out().saturating_add(block.max(1)));
            true
        } else {
            false
        }
    }

    fn generation_record(generation: Option<&Dynamic>) -> Option<GenerationRecord> {
        let g = generation?;
        Some(GenerationRecord {
            generation: g.keys.number,
            secret: g.secret.clone(),
            spis: g.keys.spis,
            suite: g.keys.suite,
            outbound_mark: g.keys.outbound_mark(),
            inbound_top: g.keys.inbound_top(),
        })
    }

    /// Restores a generation from its record (HA role), resuming at its mark, its
    /// inbound top raised as the window's floor.
    pub fn restore_generation(
        hoa: &Ipv6Addr,
        record: &GenerationRecord,
        window: ReplayWindow,
    ) -> Dynamic {
        let mut g = Dynamic::derive(
            record.generation,
            record.secret.clone(),
            hoa,
            record.spis,
            record.suite,
            window,
        );
        g.keys.resume_at(record.outbound_mark);
        g.keys.set_mark(record.outbound_mark);
        g.keys.raise_floor(record.inbound_top);
        g.keys.replay = ReplayKnowledge::LostAtRestart;
        g
    }

    /// The generation number in a slot, if it holds a generation.
    pub fn number(&self, slot: Slot) -> Option<u32> {
        match self.get(slot)?.id() {
            GenerationId::Number(n) => Some(n),
            GenerationId::Init => None,
        }
    }
}

/// The time of the MN's one live entry in the engine's timer heap, if it has one
/// (see [`crate::timers`]), in 8 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueuedDeadline(u64);

impl QueuedDeadline {
    /// No entry queued.
    pub const NONE: QueuedDeadline = QueuedDeadline(u64::MAX);

    /// An entry queued for `at`.
    pub fn at(at: Time) -> Self {
        QueuedDeadline(at.as_micros().min(u64::MAX - 1))
    }

    pub fn get(self) -> Option<Time> {
        (self != Self::NONE).then_some(Time::from_micros(self.0))
    }
}

/// What changed in a mobile node's persisted fields since its last record
/// ([`crate::persist`]), and so which event carries the next one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dirt {
    /// Nothing: no record is due.
    #[default]
    Clean,
    /// Only the binding and the BU's replay top: [`crate::Event::PersistLagging`].
    BindingOnly,
    /// Anything else (keys, sequence marks, the init SA's top, the key proof, a
    /// removed binding, a refusal's replay top): [`crate::Event::Persist`], stored
    /// before anything is sent.
    BeforeSending,
}

/// Everything the HA keeps for one MN.
#[derive(Debug)]
pub(crate) struct MobileNode {
    pub home_address: Ipv6Addr,
    pub keys: KeySlots,
    pub binding: Option<BindingView>,
    /// The MN's entry in the timer heap.
    pub queued: QueuedDeadline,
    /// Which persisted fields changed since the last `Persist` event.
    pub dirty: Dirt,
    /// When the last Binding Refresh Request went to this MN
    /// ([`InstallStamps::stamp`]; 0: none yet).
    pub refresh_requested: u32,
}

impl MobileNode {
    /// A persisted field changed that must be stored before anything is sent.
    pub fn changed(&mut self) {
        self.dirty = Dirt::BeforeSending;
    }

    /// The binding (and the replay top of the BU that moved it) changed: a record
    /// that may lag behind what is sent, unless something else is pending too.
    pub fn binding_changed(&mut self) {
        self.dirty = self.dirty.max(Dirt::BindingOnly);
    }

    /// Loads a field from each cache line of this MN's state that a BU or data frame
    /// reads (keys of all filled slots, binding, home address), values discarded:
    /// [`crate::HomeAgent::prefetch`]'s way to bring the lines in without `unsafe`
    /// prefetch intrinsics. The loads are independent, so their misses overlap.
    pub fn touch(&self) {
        let k = &self.keys;
        let slot = |s: &SlotKeys| {
            (
                s.window.top(),
                s.spis.mn_to_ha.get(),
                s.narrow[0],
                s.number,
                s.used,
            )
        };
        core::hint::black_box((
            slot(&k.init),
            k.newest
                .as_ref()
                .map(|d| (slot(&d.keys), d.keys.narrow[2 * NARROW - 1])),
            k.anterior
                .as_ref()
                .map(|d| (slot(&d.keys), d.keys.narrow[2 * NARROW - 1])),
            k.update,
            k.last_init_timestamp,
            self.binding.map(|b| b.sequence),
            self.home_address.octets()[15],
            self.dirty,
        ));
    }

    /// The record to persist now.
    pub fn record(&self) -> MnRecord {
        let k = &self.keys;
        MnRecord {
            home_address: self.home_address,
            binding: self.binding,
            newest: KeySlots::generation_record(k.newest.as_ref()),
            anterior: KeySlots::generation_record(k.anterior.as_ref()),
            newest_confirmed: k.proof == Proof::Confirmed,
            init_outbound_mark: k.init.outbound_mark(),
            init_inbound_top: k.init.inbound_top(),
            last_init_timestamp: k.last_init_timestamp.map(NonZeroU64::get),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_wire::esp::{AesGcmInline, Spi};
    use mip6_wire::keys::{Generation, Role};

    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);

    fn spis(a: u32, b: u32) -> SpiPair {
        SpiPair {
            mn_to_ha: Spi::new(a).unwrap(),
            ha_to_mn: Spi::new(b).unwrap(),
        }
    }

    /// The compact slot seals and opens exactly what mip6-wire's `Generation` (the
    /// MN's side, the reference) opens and seals, for both suites and both windows.
    #[test]
    fn compact_slot_interoperates_with_a_full_generation() {
        for (suite, window) in [
            (Suite::Aes128Gcm, 64),
            (Suite::Aes256Gcm, 1024),
            (Suite::Aes128Gcm, 1024),
        ] {
            let secret = Secret32::new([0x42; 32]);
            let pair = spis(0x1001, 0x2002);
            let mut ha = Dynamic::derive(
                3,
                secret.clone(),
                &HOA,
                pair,
                suite,
                ReplayWindow::new(window).unwrap(),
            );
            let mut mn: Generation = Generation::derive(
                Role::MobileNode,
                GenerationId::Number(3),
                secret,
                &HOA,
                pair,
                suite,
            );
            // MN → HA.
            let mut buf = vec![0u8; esp::sealed_len(5)];
            buf[16..21].copy_from_slice(b"hello");
            let len = mn.outbound_mut().seal(&mut buf, 5, 135).unwrap();
            let opened = ha.keys.open::<AesGcmInline>(&mut buf[..len]).unwrap();
            assert_eq!(&buf[opened.payload], b"hello");
            assert_eq!(ha.keys.inbound_top(), 1);
            // A replay of it is refused and a flipped bit fails the ICV.
            let mut again = buf.clone();
            assert!(ha.keys.open::<AesGcmInline>(&mut again[..len]).is_err());
            // HA → MN, twice: the counter kept in the slot advances.
            for expected in 1..=2u32 {
                let mut buf = vec![0u8; esp::sealed_len(3)];
                buf[16..19].copy_from_slice(b"ack");
                let len = ha
                    .keys
                    .with_outbound::<AesGcmInline, _>(0, |sa| sa.seal(&mut buf, 3, 135))
                    .unwrap()
                    .unwrap();
                let opened = mn.inbound_mut().open(&mut buf[..len]).unwrap();
                assert_eq!(opened.seq, expected);
                assert_eq!(&buf[opened.payload], b"ack");
            }
            assert_eq!(ha.keys.next_sequence(), 3);
            assert_eq!(ha.suite(), suite);
        }
    }

    #[test]
    fn slots_move_with_their_marks_and_floors() {
        let w = || ReplayWindow::new(64).unwrap();
        let secret = Secret32::new([1; 32]);
        let mut keys = KeySlots::new(&secret, &HOA, spis(0x100, 0x101), Suite::Aes128Gcm, w());
        assert_eq!(keys.transmit_slot(), Slot::Init);
        let g1 = Dynamic::derive(
            1,
            Secret32::new([2; 32]),
            &HOA,
            spis(0x200, 0x201),
            Suite::Aes128Gcm,
            w(),
        );
        assert_eq!(keys.initialize(g1, 0).unwrap(), Vec::<u32>::new());
        assert!(keys.reserve(Slot::Newest, 1024));
        assert!(!keys.reserve(Slot::Newest, 1024));
        keys.get_mut(Slot::Newest).unwrap().raise_floor(77);
        let g2 = Dynamic::derive(
            2,
            Secret32::new([3; 32]),
            &HOA,
            spis(0x300, 0x301),
            Suite::Aes128Gcm,
            w(),
        );
        assert_eq!(keys.install(g2, 0).unwrap(), None);
        assert_eq!(keys.transmit_slot(), Slot::Anterior);
        assert_eq!(keys.transmit().id(), GenerationId::Number(1));
        let ant = keys.get(Slot::Anterior).unwrap();
        assert_eq!(
            (ant.mark(), ant.inbound_top()),
            (1025, 77),
            "marks move with the key"
        );
        assert_eq!(keys.get(Slot::Newest).unwrap().outbound_mark(), 1);
        // Duplicate SPIs are refused and nothing moves.
        let dup = Dynamic::derive(
            3,
            Secret32::new([4; 32]),
            &HOA,
            spis(0x300, 0x999),
            Suite::Aes128Gcm,
            w(),
        );
        assert!(keys.install(dup, 0).is_err());
        assert_eq!(keys.number(Slot::Newest), Some(2));
        let g3 = Dynamic::derive(
            3,
            Secret32::new([5; 32]),
            &HOA,
            spis(0x400, 0x401),
            Suite::Aes128Gcm,
            w(),
        );
        assert_eq!(keys.install(g3, 0).unwrap(), Some(0x200));
        assert_eq!(keys.lookup_inbound(0x300), Some(Slot::Anterior));
        assert_eq!(keys.lookup_inbound(0x400), Some(Slot::Newest));
        assert_eq!(keys.lookup_inbound(0x100), Some(Slot::Init));
        assert_eq!(keys.lookup_inbound(0x200), None);
        let g4 = Dynamic::derive(
            1,
            Secret32::new([6; 32]),
            &HOA,
            spis(0x500, 0x501),
            Suite::Aes128Gcm,
            w(),
        );
        let mut dropped = keys.initialize(g4, 0).unwrap();
        dropped.sort_unstable();
        assert_eq!(dropped, vec![0x300, 0x400]);
        assert!(keys.anterior.is_none());
    }
}
