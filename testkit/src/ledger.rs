//! The nonce ledger: the project's invariant 2, "no (key, nonce) is ever sealed
//! twice, across restarts and lost state too" (RFC 4303 §3.3.3; with AES-GCM a
//! repeated nonce under one key gives the key away, RFC 4106 §3).
//!
//! A harness teaches the ledger every key either end holds ([`NonceLedger::learn`]:
//! from the configurations' init keys, from every persistence record, from the
//! engines' live records) and hands it every frame an engine seals
//! ([`NonceLedger::record`]), across every crash and restart of the run. The ledger
//! names the key of a frame by the secret its (direction, SPI) maps to at that moment,
//! and the nonce by the ESP explicit IV (RFC 4106 §3.1: the engines write their IV
//! prefix and the sequence number there, mip6-wire `esp::sa` "IVs").
//!
//! A mapping that changes — an SPI drawn again with another secret, e.g. by a home
//! agent that forgot its generations — is a *rebind*: still safe, since the key
//! differs, and counted ([`NonceLedger::rebinds`]); a harness that holds SPIs to name
//! one key per run can treat [`Learned::Rebound`] as a failure.
//!
//! Besides reuse, the ledger refuses an ESP sequence number below one already sealed
//! under the same key ([`LedgerError::Backwards`]): RFC 4303 §3.3.3 has the sender
//! count up, and an engine that restarts from its records resumes at or above its
//! persisted mark. A harness that wipes an engine's records on purpose says so
//! ([`NonceLedger::state_lost`]): from then on the sequence numbers of that direction
//! may start again, and only the nonces must stay new. A frame sealed at a (key,
//! sequence number) sealed before, under another IV, is counted
//! ([`NonceLedger::sequences_repeated`]): the IV prefix alone kept its nonce new
//! (docs/architecture.md "Nonces and persistence"), which only lost state explains.

use std::collections::HashMap;

use mip6_wire::esp;
use mip6_wire::frames::inspect;
use mip6_wire::keys::Direction;

use crate::material::KeyMaterial;

/// What [`NonceLedger::learn`] found for one direction's SPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// The SPI was unknown.
    New,
    /// The SPI already named this key.
    Known,
    /// The SPI named another key (another secret) until now.
    Rebound,
}

/// A frame the ledger refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerError {
    /// The frame has no ESP header the ledger can read.
    Unreadable,
    /// No key is known for this SPI in this direction.
    UnknownKey {
        /// The direction the frame was sealed in.
        direction: Direction,
        /// Its SPI.
        spi: u32,
    },
    /// This (key, IV) was sealed before: the same AES-GCM nonce twice.
    NonceReuse {
        /// The direction the frame was sealed in.
        direction: Direction,
        /// Its SPI.
        spi: u32,
        /// The explicit IV sealed again.
        iv: u64,
    },
    /// A sequence number below one already sealed under the key.
    Backwards {
        /// The direction the frame was sealed in.
        direction: Direction,
        /// Its SPI.
        spi: u32,
        /// The sequence number.
        sequence: u64,
        /// The highest sequence number sealed under the key before it.
        highest: u64,
    },
}

impl core::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LedgerError::Unreadable => f.write_str("a sent frame has no ESP header"),
            LedgerError::UnknownKey { direction, spi } => {
                write!(f, "sealed {direction:?} under SPI {spi:#x}, which no key names")
            }
            LedgerError::NonceReuse { direction, spi, iv } => write!(
                f,
                "NONCE REUSE: IV {iv:#018x} sealed twice {direction:?} under the key of SPI {spi:#x}"
            ),
            LedgerError::Backwards {
                direction,
                spi,
                sequence,
                highest,
            } => write!(
                f,
                "sequence number went backwards {direction:?} under SPI {spi:#x}: {sequence} after {highest}"
            ),
        }
    }
}

impl std::error::Error for LedgerError {}

/// One key as the ledger knows it, with what was sealed under it.
#[derive(Debug, Clone)]
pub struct LedgerKey {
    /// The key's material (home address, init key or generation, secret, SPIs, suite).
    pub material: KeyMaterial,
    /// The direction of the SA.
    pub direction: Direction,
    /// Every explicit IV sealed under it, every ESP sequence number, and the highest
    /// one since the last [`NonceLedger::state_lost`].
    sealed: std::collections::HashSet<u64>,
    sequences: std::collections::HashSet<u64>,
    highest: Option<u64>,
}

impl LedgerKey {
    /// The SA's SPI.
    pub fn spi(&self) -> u32 {
        self.material.spis.get(self.direction).get()
    }

    /// The highest ESP sequence number sealed under it (since the last
    /// [`NonceLedger::state_lost`] of its direction).
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// A frame the ledger accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    /// Its SPI.
    pub spi: u32,
    /// Its ESP sequence number.
    pub sequence: u64,
    /// Its explicit IV.
    pub iv: u64,
}

/// Every (key, sequence number) sealed in a run, and the (direction, SPI) → key map
/// that names keys (see the module docs).
#[derive(Debug, Default)]
pub struct NonceLedger {
    /// Every key learned, in order; a key is identified by (direction, SPI, secret).
    keys: Vec<LedgerKey>,
    /// (direction, SPI) → the key it names now (an index into `keys`).
    current: HashMap<(Direction, u32), usize>,
    /// SPIs seen mapped to a second secret.
    pub rebinds: u64,
    /// Frames recorded.
    pub frames: u64,
    /// Frames sealed at a (key, sequence number) already sealed, under another IV.
    pub sequences_repeated: u64,
}

impl NonceLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        NonceLedger::default()
    }

    /// Learns both SAs of `key`; what each direction's SPI named before, MN→HA first.
    pub fn learn(&mut self, key: &KeyMaterial) -> [Learned; 2] {
        [Direction::MnToHa, Direction::HaToMn].map(|d| self.learn_direction(key, d))
    }

    fn learn_direction(&mut self, key: &KeyMaterial, direction: Direction) -> Learned {
        let spi = key.spis.get(direction).get();
        let learned = match self.current.get(&(direction, spi)) {
            Some(&i) if self.keys[i].material.secret == key.secret => return Learned::Known,
            Some(_) => {
                self.rebinds += 1;
                Learned::Rebound
            }
            None => Learned::New,
        };
        // A secret this SPI named earlier in the run is the same key again: its
        // sequence numbers still count.
        let earlier = self.keys.iter().position(|k| {
            k.direction == direction && k.spi() == spi && k.material.secret == key.secret
        });
        let index = earlier.unwrap_or_else(|| {
            self.keys.push(LedgerKey {
                material: key.clone(),
                direction,
                sealed: Default::default(),
                sequences: Default::default(),
                highest: None,
            });
            self.keys.len() - 1
        });
        self.current.insert((direction, spi), index);
        learned
    }

    /// Records a frame sealed in `direction`: its key (by SPI), IV and sequence number.
    pub fn record(&mut self, direction: Direction, frame: &[u8]) -> Result<Sealed, LedgerError> {
        let f = inspect(frame).map_err(|_| LedgerError::Unreadable)?;
        let area = frame.get(f.esp.clone()).ok_or(LedgerError::Unreadable)?;
        let esp = esp::Packet::new_checked(area).map_err(|_| LedgerError::Unreadable)?;
        let (iv, sequence) = (esp.iv(), u64::from(esp.sequence_number()));
        let spi = f.spi;
        let &index = self
            .current
            .get(&(direction, spi))
            .ok_or(LedgerError::UnknownKey { direction, spi })?;
        self.frames += 1;
        let key = &mut self.keys[index];
        if !key.sealed.insert(iv) {
            return Err(LedgerError::NonceReuse { direction, spi, iv });
        }
        if !key.sequences.insert(sequence) {
            self.sequences_repeated += 1;
        }
        match key.highest {
            Some(highest) if sequence < highest => Err(LedgerError::Backwards {
                direction,
                spi,
                sequence,
                highest,
            }),
            _ => {
                key.highest = Some(sequence);
                Ok(Sealed { spi, sequence, iv })
            }
        }
    }

    /// The harness wiped the records of the engine that seals in `direction` (a lost
    /// or stale store): its sequence numbers may start again from there, so the
    /// order check starts afresh for every key of that direction. The nonces sealed
    /// so far stay recorded: none may come again.
    pub fn state_lost(&mut self, direction: Direction) {
        for key in self.keys.iter_mut().filter(|k| k.direction == direction) {
            key.highest = None;
        }
    }

    /// The key `spi` names now in `direction`.
    pub fn key(&self, direction: Direction, spi: u32) -> Option<&LedgerKey> {
        self.current.get(&(direction, spi)).map(|&i| &self.keys[i])
    }

    /// The key `spi` names now, in either direction (MN→HA first).
    pub fn key_of_spi(&self, spi: u32) -> Option<&LedgerKey> {
        self.key(Direction::MnToHa, spi)
            .or_else(|| self.key(Direction::HaToMn, spi))
    }

    /// Every key the SPIs name now, in no particular order.
    pub fn current_keys(&self) -> impl Iterator<Item = &LedgerKey> + '_ {
        self.current.values().map(|&i| &self.keys[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{init_key, spi_pair, COA, HOA};
    use crate::signalling::{home_registration, BuSpec};
    use mip6_wire::keys::{Role, Slot};
    use mip6_wire::mh::DEFAULT_VENDOR_ID;
    use mip6_wire::Secret32;

    fn bu(sa: &mut mip6_wire::esp::OutboundSa) -> Vec<u8> {
        BuSpec {
            care_of_address: COA,
            home_address: HOA,
            update: home_registration(1, 1),
            keys: &[],
            vendor_id: DEFAULT_VENDOR_ID,
        }
        .seal(sa)
    }

    #[test]
    fn rebind_counts_only_a_new_secret() {
        let mut l = NonceLedger::new();
        let k = init_key();
        assert_eq!(l.learn(&k), [Learned::New; 2]);
        assert_eq!(l.learn(&k), [Learned::Known; 2]);
        assert_eq!(l.rebinds, 0);
        let other = KeyMaterial {
            secret: Secret32::new([9; 32]),
            ..k
        };
        assert_eq!(l.learn(&other), [Learned::Rebound; 2]);
        assert_eq!(l.rebinds, 2);
    }

    #[test]
    fn unreadable_frame_is_an_error() {
        let mut l = NonceLedger::new();
        assert_eq!(
            l.record(Direction::MnToHa, &[0; 10]),
            Err(LedgerError::Unreadable)
        );
        assert_eq!(l.frames, 0);
    }

    #[test]
    fn a_frame_sealed_twice_or_backwards_or_under_no_key_is_refused() {
        let mut l = NonceLedger::new();
        let k = init_key();
        let mut table =
            mip6_wire::keys::KeyTable::new(Role::MobileNode, k.derive(Role::MobileNode));
        let sa = table.get_mut(Slot::Init).unwrap().outbound_mut();
        let first = bu(sa);
        let second = bu(sa);
        assert_eq!(
            l.record(Direction::MnToHa, &first),
            Err(LedgerError::UnknownKey {
                direction: Direction::MnToHa,
                spi: 0x1001
            })
        );
        l.learn(&k);
        assert_eq!(
            l.record(Direction::MnToHa, &second),
            Ok(Sealed {
                spi: 0x1001,
                sequence: 2,
                iv: 2
            })
        );
        assert!(matches!(
            l.record(Direction::MnToHa, &first),
            Err(LedgerError::Backwards {
                sequence: 1,
                highest: 2,
                ..
            })
        ));
        let e = l.record(Direction::MnToHa, &second).unwrap_err();
        assert!(e.to_string().contains("NONCE REUSE"), "{e}");
        assert_eq!(l.frames, 3, "frames under a known key");
        // The same SPI under another secret is another key: its numbers start afresh.
        l.learn(&KeyMaterial {
            secret: Secret32::new([9; 32]),
            spis: spi_pair(0x1001, 0x2001),
            ..k
        });
        let mut other = mip6_wire::keys::KeyTable::new(
            Role::MobileNode,
            KeyMaterial {
                secret: Secret32::new([9; 32]),
                ..init_key()
            }
            .derive(Role::MobileNode),
        );
        let again = bu(other.get_mut(Slot::Init).unwrap().outbound_mut());
        assert!(l.record(Direction::MnToHa, &again).is_ok());
        assert_eq!(l.key_of_spi(0x1001).unwrap().highest(), Some(1));
    }

    #[test]
    fn after_lost_state_only_a_repeated_nonce_is_refused() {
        let k = init_key();
        let life = |prefix: u32| {
            mip6_wire::keys::KeyTable::new(Role::MobileNode, k.derive(Role::MobileNode))
                .with_iv_prefix(prefix)
        };
        let mut l = NonceLedger::new();
        l.learn(&k);
        let mut first = life(0x1111_1111);
        let one = bu(first.get_mut(Slot::Init).unwrap().outbound_mut());
        let two = bu(first.get_mut(Slot::Init).unwrap().outbound_mut());
        assert!(l.record(Direction::MnToHa, &one).is_ok());
        let sealed = l.record(Direction::MnToHa, &two).unwrap();
        assert_eq!((sealed.sequence, sealed.iv), (2, 0x1111_1111_0000_0002));

        // The node lost its record: its next life counts from 1 again.
        let mut second = life(0x2222_2222);
        let again = bu(second.get_mut(Slot::Init).unwrap().outbound_mut());
        assert!(
            matches!(
                l.record(Direction::MnToHa, &again),
                Err(LedgerError::Backwards {
                    sequence: 1,
                    highest: 2,
                    ..
                })
            ),
            "without state_lost a restart below the mark is a failure"
        );
        assert_eq!(
            l.sequences_repeated, 1,
            "sealed at sequence 1 again, refused or not"
        );
        l.state_lost(Direction::MnToHa);
        let mut third = life(0x3333_3333);
        let fresh = bu(third.get_mut(Slot::Init).unwrap().outbound_mut());
        assert_eq!(
            l.record(Direction::MnToHa, &fresh).map(|s| s.iv),
            Ok(0x3333_3333_0000_0001),
            "sequence 1 again under a new prefix is a new nonce"
        );
        assert_eq!(l.sequences_repeated, 2, "kept new by the prefix alone");
        // A life that drew the first one's prefix repeats its nonces.
        l.state_lost(Direction::MnToHa);
        let mut clash = life(0x1111_1111);
        let repeated = bu(clash.get_mut(Slot::Init).unwrap().outbound_mut());
        assert_eq!(
            l.record(Direction::MnToHa, &repeated),
            Err(LedgerError::NonceReuse {
                direction: Direction::MnToHa,
                spi: 0x1001,
                iv: 0x1111_1111_0000_0001
            })
        );
    }
}
