//! The key table of one peer: the init key and the two newest generations, and which
//! of them transmits (docs/architecture.md "Who transmits and accepts which key", patent FIG. 1).
//!
//! | role | transmits with | accepts |
//! | --- | --- | --- |
//! | [`Role::HomeAgent`] | anterior (N−1); init when there is no anterior | newest, anterior, init |
//! | [`Role::MobileNode`] | newest (N); init when there is no newest | newest, anterior, init |
//!
//! Who uses which role: the mobile node engine (`mip6-mn`) keeps its keys in a
//! [`KeyTable`] of [`Role::MobileNode`]. [`Role::HomeAgent`] serves only the test kit's
//! scripted home agent (`mip6-testkit`), which plays the HA by hand against the
//! mobile node engine: the home agent engine (`mip6-ha`) does not use this table, it
//! keeps its own compact per-MN slots (`ha/engine/src/mobile_node.rs`) so that a
//! million mobile nodes fit in memory.
//!
//! A [`Generation`] holds one secret, its suite, its two SPIs and the two SAs derived
//! from it with [`super::schedule`]: the outbound one in the role's transmit direction,
//! the inbound one in the other. The init key (pre-shared initialization secret, init
//! SPIs) is a [`Generation`] too, with [`GenerationId::Init`]: it has its own slot and is
//! never "generation 0".
//!
//! The [`OutboundSa`] and [`InboundSa`] themselves are [`crate::esp`]'s (re-exported
//! here): seal/open live with the packet format (`esp/sa.rs`, one SA; this module, the
//! table of a peer's SAs).
//!
//! The operations are slot moves only — [`KeyTable::install_newest`],
//! [`KeyTable::initialize`], [`KeyTable::drop_dynamic`] — plus SPI lookup and
//! seal/open wrappers. *When* to generate, distribute or resend is the engines' business.
//!
//! Not supported: more than two dynamic generations; SPI lookup across peers (the HA's
//! MN table indexes MN→HA SPIs over all MNs).

use crate::esp::{AesGcmAead, Error, EspAead, Opened, ReplayWindow, Spi, Suite};
pub use crate::esp::{InboundSa, OutboundSa};
use crate::keys::schedule::{Direction, KeySchedule};
use crate::Secret32;
use std::net::Ipv6Addr;

/// Which end of the binding this table belongs to; decides the transmit key and which
/// derived direction is outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The home agent: transmits HA→MN with the anterior key.
    HomeAgent,
    /// The mobile node: transmits MN→HA with the newest key.
    MobileNode,
}

impl Role {
    /// The direction this role seals in.
    pub const fn outbound(self) -> Direction {
        match self {
            Role::HomeAgent => Direction::HaToMn,
            Role::MobileNode => Direction::MnToHa,
        }
    }
}

/// The three key slots of a peer (patent FIG. 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The initialization key, pre-shared and never replaced by a generation.
    Init,
    /// The one-generation-anterior key (N−1).
    Anterior,
    /// The newest key (N).
    Newest,
}

impl Slot {
    /// The slot's name in status reports: `init`, `anterior`, `newest`.
    pub const fn name(self) -> &'static str {
        match self {
            Slot::Init => "init",
            Slot::Anterior => "anterior",
            Slot::Newest => "newest",
        }
    }
}

/// Names a set of keys: the initialization key or generation number g.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenerationId {
    /// The pre-shared initialization key.
    Init,
    /// A generation the HA created (number carried by the Key Distribution option).
    Number(u32),
}

/// The two SPIs of a generation (one SA per direction, RFC 4303 / docs/architecture.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpiPair {
    /// SPI of the MN→HA SA (unique across all MNs of an HA).
    pub mn_to_ha: Spi,
    /// SPI of the HA→MN SA.
    pub ha_to_mn: Spi,
}

impl SpiPair {
    /// The SPI of one direction.
    pub const fn get(&self, direction: Direction) -> Spi {
        match direction {
            Direction::HaToMn => self.ha_to_mn,
            Direction::MnToHa => self.mn_to_ha,
        }
    }
}

/// One key generation (or the init key) as seen by one role: secret, suite, SPIs and
/// the two derived SAs. The secret is kept so the HA can resend it.
pub struct Generation<A: EspAead = AesGcmAead> {
    id: GenerationId,
    secret: Secret32,
    suite: Suite,
    spis: SpiPair,
    outbound: OutboundSa<A>,
    inbound: InboundSa<A>,
}

impl<A: EspAead> core::fmt::Debug for Generation<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Generation")
            .field("id", &self.id)
            .field("suite", &self.suite)
            .field("spis", &self.spis)
            .field("outbound", &self.outbound)
            .field("inbound", &self.inbound)
            .finish_non_exhaustive()
    }
}

impl<A: EspAead> Generation<A> {
    /// Derives both SAs of a generation for `role` with the default replay window
    /// (docs/architecture.md key schedule; outbound = the role's direction).
    pub fn derive(
        role: Role,
        id: GenerationId,
        secret: Secret32,
        hoa: &Ipv6Addr,
        spis: SpiPair,
        suite: Suite,
    ) -> Self {
        Self::derive_with_window(role, id, secret, hoa, spis, suite, ReplayWindow::default())
    }

    /// As [`derive`](Self::derive), with the inbound SA's anti-replay window given.
    pub fn derive_with_window(
        role: Role,
        id: GenerationId,
        secret: Secret32,
        hoa: &Ipv6Addr,
        spis: SpiPair,
        suite: Suite,
        window: ReplayWindow,
    ) -> Self {
        let schedule = KeySchedule::new(&secret);
        let out_dir = role.outbound();
        let in_dir = out_dir.reverse();
        let out_spi = spis.get(out_dir);
        let in_spi = spis.get(in_dir);
        let outbound = OutboundSa::new(out_spi, schedule.derive(hoa, out_dir, out_spi, suite));
        let inbound =
            InboundSa::with_window(in_spi, schedule.derive(hoa, in_dir, in_spi, suite), window);
        Generation {
            id,
            secret,
            suite,
            spis,
            outbound,
            inbound,
        }
    }

    /// Init key or generation number.
    pub const fn id(&self) -> GenerationId {
        self.id
    }

    /// The secret (for a Key Distribution option, which is always ESP-encrypted).
    pub const fn secret(&self) -> &Secret32 {
        &self.secret
    }

    /// The cipher suite.
    pub const fn suite(&self) -> Suite {
        self.suite
    }

    /// Both SPIs.
    pub const fn spis(&self) -> SpiPair {
        self.spis
    }

    /// The SA this role seals with.
    pub const fn outbound(&self) -> &OutboundSa<A> {
        &self.outbound
    }

    /// The SA this role seals with, mutably (to restore its sequence number).
    pub fn outbound_mut(&mut self) -> &mut OutboundSa<A> {
        &mut self.outbound
    }

    /// The SA this role opens with.
    pub const fn inbound(&self) -> &InboundSa<A> {
        &self.inbound
    }

    /// The SA this role opens with, mutably.
    pub fn inbound_mut(&mut self) -> &mut InboundSa<A> {
        &mut self.inbound
    }
}

/// Why a generation could not be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyTableError {
    /// One of the new generation's SPIs is already used by a key the table keeps.
    #[error("SPI {spi} is already used by the {slot:?} key of this peer")]
    DuplicateSpi {
        /// The clashing SPI.
        spi: Spi,
        /// The slot that already uses it.
        slot: Slot,
    },
    /// The init key cannot be installed as a generation.
    #[error("the init key cannot be installed as a generation")]
    InitAsGeneration,
}

/// Generations a slot operation removed from the table (the HA unindexes their SPIs).
#[derive(Debug)]
pub struct Dropped<A: EspAead = AesGcmAead> {
    /// The former anterior key, if one was dropped.
    pub anterior: Option<Generation<A>>,
    /// The former newest key, if one was dropped.
    pub newest: Option<Generation<A>>,
}

/// The key table of one peer: init, anterior (N−1) and newest (N) (patent FIG. 1).
#[derive(Debug)]
pub struct KeyTable<A: EspAead = AesGcmAead> {
    role: Role,
    init: Generation<A>,
    anterior: Option<Generation<A>>,
    newest: Option<Generation<A>>,
    iv_prefix: u32,
}

impl<A: EspAead> KeyTable<A> {
    /// A table holding only the init key: both roles transmit with it.
    pub fn new(role: Role, init: Generation<A>) -> Self {
        KeyTable {
            role,
            init,
            anterior: None,
            newest: None,
            iv_prefix: 0,
        }
    }

    /// The same table writing `prefix` as the upper 32 bits of the explicit IV of
    /// every outbound SA it holds or is given later ([`OutboundSa::with_iv_prefix`]):
    /// an engine passes the prefix it drew for its process life, so a sequence number
    /// used again after lost state is still a new nonce.
    #[must_use]
    pub fn with_iv_prefix(mut self, prefix: u32) -> Self {
        self.iv_prefix = prefix;
        for slot in [Slot::Init, Slot::Anterior, Slot::Newest] {
            if let Some(g) = self.get_mut(slot) {
                g.outbound.set_iv_prefix(prefix);
            }
        }
        self
    }

    /// The IV prefix of this table's outbound SAs.
    pub const fn iv_prefix(&self) -> u32 {
        self.iv_prefix
    }

    /// Whose table this is.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The key in a slot, if the slot is filled (init always is).
    pub fn get(&self, slot: Slot) -> Option<&Generation<A>> {
        match slot {
            Slot::Init => Some(&self.init),
            Slot::Anterior => self.anterior.as_ref(),
            Slot::Newest => self.newest.as_ref(),
        }
    }

    /// The key in a slot, mutably.
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Generation<A>> {
        match slot {
            Slot::Init => Some(&mut self.init),
            Slot::Anterior => self.anterior.as_mut(),
            Slot::Newest => self.newest.as_mut(),
        }
    }

    /// The init key.
    pub const fn init(&self) -> &Generation<A> {
        &self.init
    }

    /// The anterior key (N−1), if any.
    pub const fn anterior(&self) -> Option<&Generation<A>> {
        self.anterior.as_ref()
    }

    /// The newest key (N), if any.
    pub const fn newest(&self) -> Option<&Generation<A>> {
        self.newest.as_ref()
    }

    /// The slot this role transmits with: HA → anterior, else init; MN → newest, else
    /// init (patent FIG. 1).
    pub const fn transmit_slot(&self) -> Slot {
        match self.role {
            Role::HomeAgent if self.anterior.is_some() => Slot::Anterior,
            Role::MobileNode if self.newest.is_some() => Slot::Newest,
            _ => Slot::Init,
        }
    }

    /// The key this role transmits with.
    pub fn transmit(&self) -> &Generation<A> {
        match self.transmit_slot() {
            Slot::Anterior => self.anterior.as_ref().unwrap_or(&self.init),
            Slot::Newest => self.newest.as_ref().unwrap_or(&self.init),
            Slot::Init => &self.init,
        }
    }

    fn transmit_mut(&mut self) -> (Slot, &mut Generation<A>) {
        let slot = self.transmit_slot();
        let generation = match slot {
            Slot::Anterior => self.anterior.as_mut(),
            Slot::Newest => self.newest.as_mut(),
            Slot::Init => None,
        };
        (slot, generation.unwrap_or(&mut self.init))
    }

    /// The filled slots, in lookup order: newest, anterior, init. All of them are
    /// accepted, for both roles.
    pub fn accepted_slots(&self) -> impl Iterator<Item = Slot> + '_ {
        [Slot::Newest, Slot::Anterior, Slot::Init]
            .into_iter()
            .filter(|&slot| self.get(slot).is_some())
    }

    /// The slot whose inbound SA has this SPI, searching newest, anterior, init.
    pub fn lookup_inbound(&self, spi: u32) -> Option<Slot> {
        self.accepted_slots()
            .find(|&slot| self.get(slot).is_some_and(|g| g.inbound.spi().get() == spi))
    }

    fn check_spis(&self, generation: &Generation<A>, kept: &[Slot]) -> Result<(), KeyTableError> {
        for &slot in kept {
            if let Some(old) = self.get(slot) {
                for spi in [generation.spis.mn_to_ha, generation.spis.ha_to_mn] {
                    if spi == old.spis.mn_to_ha || spi == old.spis.ha_to_mn {
                        return Err(KeyTableError::DuplicateSpi { spi, slot });
                    }
                }
            }
        }
        Ok(())
    }

    /// Installs a new generation as newest: newest → anterior, the old anterior is
    /// dropped and returned. Its SPIs must differ from those of init and of the current
    /// newest (which stays, as anterior). Used by the HA when it creates a generation and
    /// by the MN when a Key Distribution arrives.
    pub fn install_newest(
        &mut self,
        mut generation: Generation<A>,
    ) -> Result<Option<Generation<A>>, KeyTableError> {
        if generation.id == GenerationId::Init {
            return Err(KeyTableError::InitAsGeneration);
        }
        self.check_spis(&generation, &[Slot::Init, Slot::Newest])?;
        generation.outbound.set_iv_prefix(self.iv_prefix);
        let dropped = self.anterior.take();
        self.anterior = self.newest.replace(generation);
        Ok(dropped)
    }

    /// The HA's initialization: both dynamic keys are dropped and `generation` becomes
    /// newest with no anterior, so the HA transmits with init until the next install.
    /// Its SPIs must differ from init's.
    pub fn initialize(
        &mut self,
        mut generation: Generation<A>,
    ) -> Result<Dropped<A>, KeyTableError> {
        if generation.id == GenerationId::Init {
            return Err(KeyTableError::InitAsGeneration);
        }
        self.check_spis(&generation, &[Slot::Init])?;
        generation.outbound.set_iv_prefix(self.iv_prefix);
        let dropped = Dropped {
            anterior: self.anterior.take(),
            newest: self.newest.replace(generation),
        };
        Ok(dropped)
    }

    /// Drops both dynamic keys (the MN's fallback before it re-initializes): only init
    /// is left, and it transmits.
    pub fn drop_dynamic(&mut self) -> Dropped<A> {
        Dropped {
            anterior: self.anterior.take(),
            newest: self.newest.take(),
        }
    }

    /// Seals a payload laid out as [`OutboundSa::seal`] wants with the transmit key;
    /// returns the slot used and the ESP packet length.
    pub fn seal_outbound(
        &mut self,
        buf: &mut [u8],
        payload_len: usize,
        next_header: u8,
    ) -> Result<(Slot, usize), Error> {
        let (slot, generation) = self.transmit_mut();
        let len = generation.outbound.seal(buf, payload_len, next_header)?;
        Ok((slot, len))
    }

    /// Opens an ESP packet with the accepted key its SPI names; returns that slot too.
    /// [`Error::UnknownSpi`] if no accepted key has it.
    pub fn open_inbound(&mut self, buf: &mut [u8]) -> Result<(Slot, Opened), Error> {
        let packet = crate::esp::Packet::new_checked(&*buf)?;
        let spi = Spi::new(packet.spi())?.get();
        let slot = self.lookup_inbound(spi).ok_or(Error::UnknownSpi { spi })?;
        let generation = self.get_mut(slot).ok_or(Error::UnknownSpi { spi })?;
        let opened = generation.inbound.open(buf)?;
        Ok((slot, opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hoa() -> Ipv6Addr {
        "2001:db8:1::100".parse().unwrap()
    }

    /// SPIs 0x1000 + 2g (MN→HA) and 0x1000 + 2g + 1 (HA→MN); init uses g = 0.
    fn spis(g: u32) -> SpiPair {
        SpiPair {
            mn_to_ha: Spi::new(0x1000 + 2 * g).unwrap(),
            ha_to_mn: Spi::new(0x1001 + 2 * g).unwrap(),
        }
    }

    fn generation(role: Role, id: GenerationId) -> Generation {
        let g = match id {
            GenerationId::Init => 0,
            GenerationId::Number(n) => n,
        };
        let suite = if g % 2 == 0 {
            Suite::Aes128Gcm
        } else {
            Suite::Aes256Gcm
        };
        Generation::derive(
            role,
            id,
            Secret32::new([g as u8; 32]),
            &hoa(),
            spis(g),
            suite,
        )
    }

    fn g(n: u32) -> GenerationId {
        GenerationId::Number(n)
    }

    fn table(role: Role) -> KeyTable {
        KeyTable::new(role, generation(role, GenerationId::Init))
    }

    fn accepted_ids(t: &KeyTable) -> Vec<GenerationId> {
        t.accepted_slots().map(|s| t.get(s).unwrap().id()).collect()
    }

    fn assert_state(t: &KeyTable, transmit: (Slot, GenerationId), accepted: &[GenerationId]) {
        assert_eq!(
            t.transmit_slot(),
            transmit.0,
            "{:?} transmit slot",
            t.role()
        );
        assert_eq!(t.transmit().id(), transmit.1, "{:?} transmit key", t.role());
        assert_eq!(accepted_ids(t), accepted, "{:?} accepted keys", t.role());
        // Every accepted key is found by its inbound SPI, in its own slot.
        for slot in t.accepted_slots() {
            let spi = t.get(slot).unwrap().inbound().spi().get();
            assert_eq!(t.lookup_inbound(spi), Some(slot));
        }
    }

    /// A packet sealed by `from` opens at `to`, in the slot holding the same generation.
    fn deliver(from: &mut KeyTable, to: &mut KeyTable) -> Result<Slot, Error> {
        let mut buf = [0u8; 64];
        buf[16..20].copy_from_slice(b"data");
        let (_, len) = from.seal_outbound(&mut buf, 4, 135)?;
        let (slot, opened) = to.open_inbound(&mut buf[..len])?;
        assert_eq!(&buf[opened.payload], b"data");
        assert_eq!(to.get(slot).unwrap().id(), from.transmit().id());
        Ok(slot)
    }

    #[test]
    fn the_iv_prefix_reaches_every_outbound_sa_held_or_installed_later() {
        let mut t = table(Role::MobileNode).with_iv_prefix(0xA1B2_C3D4);
        assert_eq!(t.iv_prefix(), 0xA1B2_C3D4);
        t.install_newest(generation(Role::MobileNode, g(1)))
            .unwrap();
        t.install_newest(generation(Role::MobileNode, g(2)))
            .unwrap();
        let again = table(Role::MobileNode);
        let mut t2 = again.with_iv_prefix(0xA1B2_C3D4);
        t2.initialize(generation(Role::MobileNode, g(3))).unwrap();
        for table in [&t, &t2] {
            for slot in table.accepted_slots() {
                let sa = table.get(slot).unwrap().outbound();
                assert_eq!(sa.iv_prefix(), 0xA1B2_C3D4, "{slot:?}");
            }
        }
        // What it seals carries the prefix in the IV and still opens at the peer.
        let mut peer = table(Role::HomeAgent);
        peer.install_newest(generation(Role::HomeAgent, g(1)))
            .unwrap();
        peer.install_newest(generation(Role::HomeAgent, g(2)))
            .unwrap();
        let mut buf = [0u8; 64];
        let (_, len) = t.seal_outbound(&mut buf, 4, 135).unwrap();
        let iv = crate::esp::Packet::new_checked(&buf[..len]).unwrap().iv();
        assert_eq!(iv >> 32, 0xA1B2_C3D4);
        assert!(peer.open_inbound(&mut buf[..len]).is_ok());
    }

    #[test]
    fn slot_operations_for_both_roles() {
        use GenerationId::Init;
        use Slot::{Anterior, Init as SInit, Newest};
        for role in [Role::HomeAgent, Role::MobileNode] {
            let ha = role == Role::HomeAgent;
            let mut t = table(role);
            assert_state(&t, (SInit, Init), &[Init]);

            // Install G1: newest = G1, nothing anterior.
            assert!(t.install_newest(generation(role, g(1))).unwrap().is_none());
            let tx = if ha { (SInit, Init) } else { (Newest, g(1)) };
            assert_state(&t, tx, &[g(1), Init]);

            // Install G2: G1 becomes anterior.
            assert!(t.install_newest(generation(role, g(2))).unwrap().is_none());
            let tx = if ha { (Anterior, g(1)) } else { (Newest, g(2)) };
            assert_state(&t, tx, &[g(2), g(1), Init]);

            // Install G3: G1 dropped, G2 anterior.
            let dropped = t.install_newest(generation(role, g(3))).unwrap().unwrap();
            assert_eq!(dropped.id(), g(1));
            assert_eq!(t.lookup_inbound(dropped.inbound().spi().get()), None);
            let tx = if ha { (Anterior, g(2)) } else { (Newest, g(3)) };
            assert_state(&t, tx, &[g(3), g(2), Init]);

            // Initialize with G4: both dynamic keys dropped, newest = G4, no anterior.
            let dropped = t.initialize(generation(role, g(4))).unwrap();
            assert_eq!(dropped.anterior.map(|x| x.id()), Some(g(2)));
            assert_eq!(dropped.newest.map(|x| x.id()), Some(g(3)));
            let tx = if ha { (SInit, Init) } else { (Newest, g(4)) };
            assert_state(&t, tx, &[g(4), Init]);

            // Drop dynamic keys: only init is left and transmits.
            let dropped = t.drop_dynamic();
            assert!(dropped.anterior.is_none());
            assert_eq!(dropped.newest.map(|x| x.id()), Some(g(4)));
            assert_state(&t, (SInit, Init), &[Init]);
            assert!(t.drop_dynamic().newest.is_none());
        }
    }

    #[test]
    fn install_refuses_init_and_clashing_spis() {
        let mut t = table(Role::HomeAgent);
        assert!(matches!(
            t.install_newest(generation(Role::HomeAgent, GenerationId::Init)),
            Err(KeyTableError::InitAsGeneration)
        ));
        assert!(matches!(
            t.initialize(generation(Role::HomeAgent, GenerationId::Init)),
            Err(KeyTableError::InitAsGeneration)
        ));
        // Generation 7 reusing init's MN→HA SPI.
        let clash = Generation::derive(
            Role::HomeAgent,
            g(7),
            Secret32::new([7; 32]),
            &hoa(),
            SpiPair {
                mn_to_ha: Spi::new(0x5000).unwrap(),
                ha_to_mn: spis(0).mn_to_ha,
            },
            Suite::Aes128Gcm,
        );
        assert_eq!(
            t.install_newest(clash).unwrap_err(),
            KeyTableError::DuplicateSpi {
                spi: spis(0).mn_to_ha,
                slot: Slot::Init
            }
        );
        t.install_newest(generation(Role::HomeAgent, g(1))).unwrap();
        // The same generation again would clash with newest (which would stay as anterior).
        assert_eq!(
            t.install_newest(generation(Role::HomeAgent, g(1)))
                .unwrap_err(),
            KeyTableError::DuplicateSpi {
                spi: spis(1).mn_to_ha,
                slot: Slot::Newest
            }
        );
        t.install_newest(generation(Role::HomeAgent, g(2))).unwrap();
        // Reusing the anterior's SPIs is fine: that key is dropped by the install.
        assert!(t.install_newest(generation(Role::HomeAgent, g(1))).is_ok());
        assert_eq!(accepted_ids(&t), [g(1), g(2), GenerationId::Init]);
    }

    /// HA and MN run the key life cycle side by side; after every step, what each one
    /// transmits is accepted by the other (docs/architecture.md invariant 1), checked on the slot
    /// state and on real packets sealed and opened.
    #[test]
    fn ha_and_mn_stay_concordant_through_the_life_cycle() {
        use GenerationId::Init;
        let mut ha = table(Role::HomeAgent);
        let mut mn = table(Role::MobileNode);
        let check =
            |ha: &mut KeyTable, mn: &mut KeyTable, ha_tx: GenerationId, mn_tx: GenerationId| {
                assert_eq!(ha.transmit().id(), ha_tx);
                assert_eq!(mn.transmit().id(), mn_tx);
                assert!(accepted_ids(mn).contains(&ha_tx));
                assert!(accepted_ids(ha).contains(&mn_tx));
                deliver(ha, mn).unwrap();
                deliver(mn, ha).unwrap();
            };
        check(&mut ha, &mut mn, Init, Init);
        // Initialization: HA creates G1, answers under init; the BA is lost first.
        ha.initialize(generation(Role::HomeAgent, g(1))).unwrap();
        check(&mut ha, &mut mn, Init, Init);
        mn.install_newest(generation(Role::MobileNode, g(1)))
            .unwrap();
        check(&mut ha, &mut mn, Init, g(1));
        // Update: HA creates G2 (it holds proof the MN has G1); distribution lost.
        ha.install_newest(generation(Role::HomeAgent, g(2)))
            .unwrap();
        check(&mut ha, &mut mn, g(1), g(1));
        mn.install_newest(generation(Role::MobileNode, g(2)))
            .unwrap();
        check(&mut ha, &mut mn, g(1), g(2));
        ha.install_newest(generation(Role::HomeAgent, g(3)))
            .unwrap();
        check(&mut ha, &mut mn, g(2), g(2));
        mn.install_newest(generation(Role::MobileNode, g(3)))
            .unwrap();
        check(&mut ha, &mut mn, g(2), g(3));
        // MN gives up on its dynamic keys; it can still reach the HA under init, and the
        // HA's G2 is no longer accepted until the HA re-initializes.
        mn.drop_dynamic();
        assert_eq!(mn.transmit().id(), Init);
        assert_eq!(deliver(&mut mn, &mut ha), Ok(Slot::Init));
        let mut buf = [0u8; 64];
        let (_, len) = ha.seal_outbound(&mut buf, 0, 135).unwrap();
        assert_eq!(
            mn.open_inbound(&mut buf[..len]),
            Err(Error::UnknownSpi {
                spi: spis(2).ha_to_mn.get()
            })
        );
        ha.initialize(generation(Role::HomeAgent, g(4))).unwrap();
        check(&mut ha, &mut mn, Init, Init);
        mn.install_newest(generation(Role::MobileNode, g(4)))
            .unwrap();
        check(&mut ha, &mut mn, Init, g(4));
    }

    #[test]
    fn open_inbound_rejects_short_reserved_and_replayed_packets() {
        let mut ha = table(Role::HomeAgent);
        let mut mn = table(Role::MobileNode);
        assert!(matches!(
            mn.open_inbound(&mut [0u8; 10]),
            Err(Error::Truncated(_))
        ));
        let mut buf = [0u8; 40];
        let (slot, len) = ha.seal_outbound(&mut buf, 0, 135).unwrap();
        assert_eq!(slot, Slot::Init);
        let packet = buf;
        assert_eq!(mn.open_inbound(&mut buf[..len]).unwrap().0, Slot::Init);
        let mut again = packet;
        assert_eq!(
            mn.open_inbound(&mut again[..len]),
            Err(Error::Replayed { seq: 1 })
        );
        let mut reserved = packet;
        reserved[..4].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(
            mn.open_inbound(&mut reserved[..len]),
            Err(Error::ReservedSpi { spi: 7 })
        );
    }

    #[test]
    fn derived_directions_pair_up_across_roles() {
        let ha = generation(Role::HomeAgent, g(5));
        let mn = generation(Role::MobileNode, g(5));
        assert_eq!(ha.outbound().spi(), spis(5).ha_to_mn);
        assert_eq!(ha.inbound().spi(), spis(5).mn_to_ha);
        assert_eq!(ha.outbound().key(), mn.inbound().key());
        assert_eq!(ha.inbound().key(), mn.outbound().key());
        assert_ne!(ha.outbound().key(), ha.inbound().key());
        assert_eq!(ha.secret(), mn.secret());
        assert_eq!(ha.suite(), Suite::Aes256Gcm);
    }
}
