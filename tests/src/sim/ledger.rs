//! Key identities and the nonce ledger (DESIGN.md invariants 1 and 2).
//!
//! A key is named by what derives it (DESIGN.md "Key schedule"): the direction, the
//! SPI and the generation secret (the home address is implied: init secrets differ per
//! MN, generation secrets are random). The engines never expose derived keys, so the
//! ledger learns `(direction, SPI) → secret` from the records both engines expose
//! ([`mip6_ha::HomeAgent::record`], [`mip6_mn::MobileNode::record`]) after every call,
//! and names the key of each sealed frame by the secret its SPI maps to at that moment.
//! A mapping that changes (an SPI drawn again with a new secret, e.g. by an HA that
//! forgot its generations) is counted as a *rebind*: still safe, since the key differs.

use std::collections::{HashMap, HashSet};

use mip6_wire::esp;
use mip6_wire::frames::inspect;

/// The direction a key seals in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    /// Mobile node to home agent.
    MnToHa,
    /// Home agent to mobile node.
    HaToMn,
}

/// A key generation as both ends name it: the init key of an MN, or a drawn
/// generation (number, SPIs MN→HA and HA→MN, secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyId {
    /// The MN's pre-shared init key.
    Init,
    /// A generation drawn by the HA.
    Gen {
        /// Generation number.
        generation: u32,
        /// (MN→HA, HA→MN) SPIs.
        spis: (u32, u32),
        /// The generation secret.
        secret: [u8; 32],
    },
}

impl KeyId {
    /// From an HA persistence record's generation.
    pub fn from_ha(g: &mip6_ha::GenerationRecord) -> Self {
        KeyId::Gen {
            generation: g.generation,
            spis: (g.spis.mn_to_ha.get(), g.spis.ha_to_mn.get()),
            secret: *g.secret.expose(),
        }
    }

    /// From an MN persistence record's generation.
    pub fn from_mn(g: &mip6_mn::GenerationRecord) -> Self {
        KeyId::Gen {
            generation: g.generation,
            spis: (g.spis.mn_to_ha.get(), g.spis.ha_to_mn.get()),
            secret: *g.secret.expose(),
        }
    }

    /// Short form for traces: `init` or `g3/0x1234abcd`.
    pub fn short(&self) -> String {
        match self {
            KeyId::Init => "init".into(),
            KeyId::Gen {
                generation, spis, ..
            } => format!("g{generation}/{:#x}", spis.0),
        }
    }
}

/// What each end transmits with and accepts, computed from its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    /// The transmit key.
    pub transmit: KeyId,
    /// Newest N, if any.
    pub newest: Option<KeyId>,
    /// Anterior N−1, if any.
    pub anterior: Option<KeyId>,
}

impl KeySet {
    /// The HA side (patent FIG. 1): transmits with anterior, init when there is none.
    pub fn of_ha(r: &mip6_ha::MnRecord) -> Self {
        let newest = r.newest.as_ref().map(KeyId::from_ha);
        let anterior = r.anterior.as_ref().map(KeyId::from_ha);
        KeySet {
            transmit: anterior.clone().unwrap_or(KeyId::Init),
            newest,
            anterior,
        }
    }

    /// The MN side: transmits with newest, init when there is none.
    pub fn of_mn(r: &mip6_mn::MnRecord) -> Self {
        let newest = r.newest.as_ref().map(KeyId::from_mn);
        let anterior = r.anterior.as_ref().map(KeyId::from_mn);
        KeySet {
            transmit: newest.clone().unwrap_or(KeyId::Init),
            newest,
            anterior,
        }
    }

    /// Whether `key` is accepted: newest, anterior or init (both roles accept these).
    pub fn accepts(&self, key: &KeyId) -> bool {
        *key == KeyId::Init
            || self.newest.as_ref() == Some(key)
            || self.anterior.as_ref() == Some(key)
    }

    /// Short form for traces.
    pub fn short(&self) -> String {
        let s = |k: &Option<KeyId>| k.as_ref().map_or("-".into(), KeyId::short);
        format!(
            "tx {} [N {} N-1 {}]",
            self.transmit.short(),
            s(&self.newest),
            s(&self.anterior)
        )
    }
}

/// Every (key, IV) ever sealed in a run, and the SPI → secret map that names keys.
#[derive(Debug, Default)]
pub struct Ledger {
    spi_secret: HashMap<(Dir, u32), [u8; 32]>,
    key_ids: HashMap<(Dir, u32, [u8; 32]), u32>,
    sealed: HashSet<(u32, u64)>,
    /// SPIs seen mapped to a second secret.
    pub rebinds: u64,
    /// Frames sealed.
    pub frames: u64,
}

/// A (key, sequence number) sealed twice, or a frame the ledger cannot name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// The frame has no ESP header the ledger can read.
    Unreadable,
    /// No key known for this SPI in this direction.
    UnknownKey(Dir, u32),
    /// This (key, IV) was sealed before.
    NonceReuse(Dir, u32, u64),
}

impl Ledger {
    /// Teaches the ledger a key: `spi` in `dir` is derived from `secret`.
    pub fn learn(&mut self, dir: Dir, spi: u32, secret: &[u8; 32]) {
        match self.spi_secret.insert((dir, spi), *secret) {
            Some(old) if old != *secret => self.rebinds += 1,
            _ => {}
        }
    }

    /// Learns both SPIs of every generation in an HA record.
    pub fn learn_ha(&mut self, r: &mip6_ha::MnRecord) {
        for g in [&r.newest, &r.anterior].into_iter().flatten() {
            let s = g.secret.expose();
            self.learn(Dir::MnToHa, g.spis.mn_to_ha.get(), s);
            self.learn(Dir::HaToMn, g.spis.ha_to_mn.get(), s);
        }
    }

    /// Learns both SPIs of every generation in an MN record.
    pub fn learn_mn(&mut self, r: &mip6_mn::MnRecord) {
        for g in [&r.newest, &r.anterior].into_iter().flatten() {
            let s = g.secret.expose();
            self.learn(Dir::MnToHa, g.spis.mn_to_ha.get(), s);
            self.learn(Dir::HaToMn, g.spis.ha_to_mn.get(), s);
        }
    }

    /// Records a frame sealed in `dir`: its key (by SPI) and explicit IV (the SA's
    /// 64-bit sequence number, the variable part of the nonce). Returns the SPI and
    /// the IV.
    pub fn sealed(&mut self, dir: Dir, frame: &[u8]) -> Result<(u32, u64), LedgerError> {
        let f = inspect(frame).map_err(|_| LedgerError::Unreadable)?;
        let area = frame.get(f.esp.clone()).ok_or(LedgerError::Unreadable)?;
        let iv = esp::Packet::new_checked(area)
            .map_err(|_| LedgerError::Unreadable)?
            .iv();
        let secret = *self
            .spi_secret
            .get(&(dir, f.spi))
            .ok_or(LedgerError::UnknownKey(dir, f.spi))?;
        let next = u32::try_from(self.key_ids.len()).unwrap_or(u32::MAX);
        let id = *self.key_ids.entry((dir, f.spi, secret)).or_insert(next);
        self.frames += 1;
        if !self.sealed.insert((id, iv)) {
            return Err(LedgerError::NonceReuse(dir, f.spi, iv));
        }
        Ok((f.spi, iv))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebind_counts_only_a_new_secret() {
        let mut l = Ledger::default();
        l.learn(Dir::MnToHa, 0x1000, &[1; 32]);
        l.learn(Dir::MnToHa, 0x1000, &[1; 32]);
        assert_eq!(l.rebinds, 0);
        l.learn(Dir::MnToHa, 0x1000, &[2; 32]);
        assert_eq!(l.rebinds, 1);
    }

    #[test]
    fn unreadable_frame_is_an_error() {
        let mut l = Ledger::default();
        assert_eq!(
            l.sealed(Dir::MnToHa, &[0; 10]),
            Err(LedgerError::Unreadable)
        );
    }
}
