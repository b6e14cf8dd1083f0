//! The home agent's two lookup tables, sized for millions of mobile nodes: SPI → MN
//! ([`SpiIndex`], every inbound frame goes through it, RFC 4303 §2.1: the SPI alone
//! names the SA) and home address → MN ([`HoaIndex`], every BU's Home Address
//! option and every packet for a home address, RFC 6275 §10.4.1). Both are open
//! addressing over 8-octet slots, less than half of what a std `HashMap` needs here;
//! the engine state doc (`docs/architecture.md`, "Crates and layers") gives the
//! per-MN budget they serve.

use std::net::Ipv6Addr;

use crate::engine::MnIndex;
use crate::mobile_node::MobileNode;

/// Slot of `hash` in a table of `len` slots (multiply-shift range reduction, so the
/// table size need not be a power of two).
fn home_slot(hash: u64, len: usize) -> usize {
    (((hash >> 32) * len as u64) >> 32) as usize
}

fn mix(x: u64) -> u64 {
    let mut h = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}

/// Table length for `n` entries at a load of at most 3/4 (at least 8 slots).
fn slots_for(n: usize) -> usize {
    (n.saturating_mul(4) / 3 + 1).max(8)
}

/// SPI → MN index, open addressing with linear probing and backward-shift deletion,
/// 8 octets a slot (key 0 = empty: SPIs 0..=255 are reserved and never stored). Kept
/// at a load of at most 4/5, grown by half when it would pass it. A std `HashMap`
/// holds the same in 9 octets a bucket with a power-of-two bucket count (up to twice
/// the room needed); here the HA→MN init SPIs ride along, flagged, instead of a
/// second set.
#[derive(Debug)]
pub(crate) struct SpiIndex {
    slots: Vec<(u32, u32)>,
    len: usize,
}

impl SpiIndex {
    /// Value flag of a reserved SPI (an HA→MN init SPI): taken, but finds no MN.
    pub const RESERVED: u32 = 1 << 31;
    /// Most mobile nodes the flag leaves room for.
    pub const MAX_MN: usize = 1 << 31;

    pub fn with_capacity(n: usize) -> Self {
        SpiIndex {
            slots: vec![(0, 0); slots_for(n)],
            len: 0,
        }
    }

    fn find(&self, spi: u32) -> Option<usize> {
        if spi == 0 {
            return None;
        }
        let n = self.slots.len();
        let mut i = home_slot(mix(spi.into()), n);
        loop {
            match self.slots[i] {
                (0, _) => return None,
                (k, _) if k == spi => return Some(i),
                _ => i = if i + 1 == n { 0 } else { i + 1 },
            }
        }
    }

    /// Loads the slot a lookup of `spi` starts at, so that a lookup soon after finds
    /// it in cache (see [`HomeAgent::prefetch`]). Returns the slot's key so the load
    /// cannot be optimised away.
    pub fn touch(&self, spi: u32) -> u32 {
        let n = self.slots.len();
        self.slots
            .get(home_slot(mix(spi.into()), n))
            .map_or(0, |&(k, _)| k)
    }

    /// The MN whose accepted key has this MN→HA SPI.
    pub fn get(&self, spi: u32) -> Option<MnIndex> {
        let v = self.slots[self.find(spi)?].1;
        (v & Self::RESERVED == 0).then_some(v)
    }

    /// Whether the SPI is in use (an accepted key's or a reserved init SPI).
    pub fn is_taken(&self, spi: u32) -> bool {
        self.find(spi).is_some()
    }

    /// Adds `spi` (> 0) → `value`; false, changing nothing, if it is already there.
    pub fn insert(&mut self, spi: u32, value: u32) -> bool {
        if spi == 0 || self.find(spi).is_some() {
            return false;
        }
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.grow();
        }
        let n = self.slots.len();
        let mut i = home_slot(mix(spi.into()), n);
        while self.slots[i].0 != 0 {
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        self.slots[i] = (spi, value);
        self.len += 1;
        true
    }

    fn grow(&mut self) {
        let bigger = (self.slots.len() + self.slots.len() / 2).max(8);
        let old = core::mem::replace(&mut self.slots, vec![(0, 0); bigger]);
        self.len = 0;
        for (spi, value) in old.into_iter().filter(|&(spi, _)| spi != 0) {
            self.insert(spi, value);
        }
    }

    /// Removes `spi`; the entries after it in its cluster shift back into the hole.
    pub fn remove(&mut self, spi: u32) {
        let Some(mut hole) = self.find(spi) else {
            return;
        };
        let n = self.slots.len();
        let mut j = hole;
        loop {
            j = if j + 1 == n { 0 } else { j + 1 };
            let (key, _) = self.slots[j];
            if key == 0 {
                break;
            }
            let home = home_slot(mix(key.into()), n);
            // The entry at j may fill the hole unless its home lies in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
        }
        self.slots[hole] = (0, 0);
        self.len -= 1;
    }

    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<(u32, u32)>()
    }
}

/// Home address → MN index: open addressing over (32-bit fingerprint, index) slots,
/// the address itself compared in the MN's own state. Built from the configuration,
/// and built again when a node is added or removed while running. 8 octets a slot at a load of at most 3/4,
/// against 21 a bucket for a `HashMap<Ipv6Addr, u32>` (which also doubles).
#[derive(Debug)]
pub(crate) struct HoaIndex {
    slots: Vec<(u32, u32)>,
}

impl HoaIndex {
    pub fn with_capacity(n: usize) -> Self {
        HoaIndex {
            slots: vec![(0, u32::MAX); slots_for(n)],
        }
    }

    fn hash(hoa: &Ipv6Addr) -> u64 {
        let x = u128::from(*hoa);
        mix((x as u64) ^ mix((x >> 64) as u64))
    }

    /// The MN with this home address; `mns` is the table the indexes point into.
    pub fn get(&self, mns: &[MobileNode], hoa: &Ipv6Addr) -> Option<MnIndex> {
        let h = Self::hash(hoa);
        let fingerprint = h as u32;
        let n = self.slots.len();
        let mut i = home_slot(h, n);
        loop {
            let (fp, index) = self.slots[i];
            if index == u32::MAX {
                return None;
            }
            if fp == fingerprint && mns.get(index as usize)?.home_address == *hoa {
                return Some(index);
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Adds an address not yet present (the caller checked with `get`).
    pub fn insert(&mut self, hoa: &Ipv6Addr, index: MnIndex) {
        let h = Self::hash(hoa);
        let n = self.slots.len();
        let mut i = home_slot(h, n);
        while self.slots[i].1 != u32::MAX {
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        self.slots[i] = (h as u32, index);
    }

    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<(u32, u32)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The open-addressed SPI index against a `HashMap` model, through growth and
    /// backward-shift deletions (the part that is easy to get wrong).
    #[test]
    fn spi_index_matches_a_map() {
        let mut index = SpiIndex::with_capacity(4);
        let mut model: HashMap<u32, u32> = HashMap::new();
        let mut x: u64 = 0x1234_5678;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few distinct keys, so inserts, hits and removals all happen often.
            let spi = 256 + (x % 700) as u32;
            match x >> 60 {
                0..=8 => {
                    let fresh = !model.contains_key(&spi);
                    assert_eq!(index.insert(spi, step), fresh);
                    model.entry(spi).or_insert(step);
                }
                _ => {
                    index.remove(spi);
                    model.remove(&spi);
                }
            }
            assert_eq!(index.len, model.len());
            let probe = 256 + ((x >> 20) % 700) as u32;
            assert_eq!(index.get(probe), model.get(&probe).copied(), "step {step}");
        }
        for (&spi, &v) in &model {
            assert_eq!(index.get(spi), Some(v));
        }
        assert!(
            index.slots.len() * 4 >= index.len * 5,
            "load stays at most 4/5"
        );
        assert_eq!(index.get(0), None);
        assert!(!index.insert(0, 1));
        assert!(index.insert(300_000, 7 | SpiIndex::RESERVED));
        assert!(index.is_taken(300_000));
        assert_eq!(index.get(300_000), None, "reserved SPIs find no MN");
    }
}
