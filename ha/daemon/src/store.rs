//! The home agent's state store: the [`MnRecord`]s of [`mip6_ha::Event::Persist`] kept
//! in a [redb](https://docs.rs/redb) database, `<dir>/mip6-ha.redb`, one row per home
//! address, so a restarted home agent resumes without reusing a (key, sequence
//! number) pair (DESIGN.md invariant 2) or accepting a replayed BU (invariant 4).
//!
//! **Durability.** Every [`StateStore::put`] / [`StateStore::put_many`] is one write
//! transaction committed with [`redb::Durability::Immediate`]: when it returns `Ok`
//! the record is on stable storage, so the driver may send what the engine queued
//! after the Persist event (the crate's driver contract).
//!
//! **Secrets.** In [`Persistence::Full`] mode the database holds key material (the
//! generation secrets). The file is created with mode 0600, and its mode is set to
//! 0600 again on every open. In [`Persistence::DurableMinimum`] mode only
//! [`MnRecord::durable_minimum`] is stored: no binding and no generation, hence no
//! secret.
//!
//! ## Record encoding, version 1
//!
//! The value of each row is written by hand (the engine types carry no serde). All
//! integers in network order; every record has the same length, [`RECORD_LEN`];
//! an absent `Option` is a presence byte 0 followed by its field, all zero.
//!
//! ```text
//! offset len  field
//!   0     1   version = 1
//!   1    16   home_address
//!  17     1   binding present (0/1)
//!  18    16     care_of_address
//!  34     2     sequence
//!  36     4     lifetime_secs
//!  40     8     expires_at (µs since the Unix epoch)
//!  48     1   newest present (0/1)
//!  49    57     generation record (below)
//! 106     1   anterior present (0/1)
//! 107    57     generation record
//! 164     1   newest_confirmed (0/1)
//! 165     8   init_outbound_mark
//! 173     4   init_inbound_top
//! 177     1   last_init_timestamp present (0/1)
//! 178     8     last_init_timestamp (64-bit NTP)
//! 186         end
//!
//! generation record (57 octets):
//!   0     4   generation
//!   4    32   secret
//!  36     4   SPI MN→HA   (> 255, RFC 4303 §2.1)
//!  40     4   SPI HA→MN   (> 255)
//!  44     1   suite code point (1 = AES-128-GCM, 2 = AES-256-GCM)
//!  45     8   outbound_mark
//!  53     4   inbound_top
//! ```
//!
//! The row key is the 16-octet home address; it must equal the record's.
//! [`decode_record`] never panics: any other length, version, presence byte, flag,
//! suite, SPI, non-zero filler of an absent field, or key mismatch is a
//! [`DecodeError`].
//!
//! Not supported: migrating other versions (an unknown version is an error), sharing
//! the file between processes (redb locks it).

use std::fs::{OpenOptions, Permissions};
use std::net::Ipv6Addr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mip6_daemon::record::{RecordReader, RecordWriter};
use mip6_wire::keys::SpiPair;
use mip6_wire::mh::SequenceNumber;
use mip6_wire::{Secret32, Time};
use redb::{Database, Durability, ReadableTable, TableDefinition};

use mip6_ha::persist::{GenerationRecord, MnRecord};
use mip6_ha::BindingView;

/// The database file's name inside the state directory.
pub const FILE_NAME: &str = "mip6-ha.redb";
/// The encoding version this module writes and reads.
pub const VERSION: u8 = 1;
/// Length of an encoded generation record.
const GENERATION_LEN: usize = 57;
/// Length of every encoded [`MnRecord`], version 1.
pub const RECORD_LEN: usize = 186;

/// Home address (16 octets) → encoded [`MnRecord`].
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mn_records");

/// What the store keeps of each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// The whole record: bindings and generations (with their secrets) survive.
    Full,
    /// Only [`MnRecord::durable_minimum`]: a "stateless" home agent whose MNs
    /// re-initialize after a restart; no secret reaches the disk.
    DurableMinimum,
}

/// Why a stored record could not be decoded (shared with the other daemon's store).
pub use mip6_daemon::record::DecodeError;

/// Errors of [`StateStore`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Creating the file or setting its mode failed.
    #[error("state store {path}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// redb failed (open, transaction, table, storage or commit); boxed, as redb's
    /// error is large.
    #[error("state store database: {0}")]
    Database(#[source] Box<redb::Error>),
    /// A stored record is corrupt or of an unknown version.
    #[error("state store: {0}")]
    Decode(#[from] DecodeError),
}

/// Maps any redb error into [`StoreError::Database`].
fn db_err<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Database(Box::new(e.into()))
}

/// The home agent's durable record store (see the module docs).
pub struct StateStore {
    db: Database,
    mode: Persistence,
}

impl core::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StateStore")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl StateStore {
    /// Opens (creating if needed) `<dir>/mip6-ha.redb` with mode 0600. `dir` must
    /// exist. A database left by a crashed process is repaired by redb on open.
    pub fn open(dir: &Path, mode: Persistence) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        // Create the file ourselves so it is never world-readable, even briefly.
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).map_err(io)?;
        let db = Database::create(&path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(TABLE).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(StateStore { db, mode })
    }

    /// The store's mode.
    pub fn mode(&self) -> Persistence {
        self.mode
    }

    /// Stores `record`, replacing the previous record of its home address, durably:
    /// one transaction committed with [`Durability::Immediate`].
    pub fn put(&self, record: &MnRecord) -> Result<(), StoreError> {
        self.put_many(core::slice::from_ref(record))
    }

    /// Stores every record of `records` in one durable transaction (all or none).
    pub fn put_many(&self, records: &[MnRecord]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate);
        {
            let mut table = txn.open_table(TABLE).map_err(db_err)?;
            for record in records {
                let encoded = match self.mode {
                    Persistence::Full => encode_record(record),
                    Persistence::DurableMinimum => encode_record(&record.durable_minimum()),
                };
                table
                    .insert(&record.home_address.octets()[..], &encoded[..])
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Removes the record of `home_address`, durably; whether there was one.
    pub fn remove(&self, home_address: Ipv6Addr) -> Result<bool, StoreError> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate);
        let removed = {
            let mut table = txn.open_table(TABLE).map_err(db_err)?;
            let old = table.remove(&home_address.octets()[..]).map_err(db_err)?;
            old.is_some()
        };
        txn.commit().map_err(db_err)?;
        Ok(removed)
    }

    /// Every stored record, ordered by home address, for [`mip6_ha::HomeAgent::new`].
    /// One corrupt record fails the whole load: the caller must not start with a
    /// silently missing record (its sequence marks would be lost).
    pub fn load_all(&self) -> Result<Vec<MnRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(TABLE).map_err(db_err)?;
        let mut records = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (key, value) = row.map_err(db_err)?;
            let record = decode_record(value.value())?;
            if key.value() != record.home_address.octets() {
                return Err(DecodeError::KeyMismatch {
                    home_address: record.home_address,
                }
                .into());
            }
            records.push(record);
        }
        Ok(records)
    }
}

/// Field offsets of the version-1 layout (module docs).
mod field {
    // The version byte is at offset 0, where `RecordReader::open` reads it.
    pub const HOME_ADDRESS: usize = 1;
    pub const BINDING: usize = 17;
    pub const BINDING_LEN: usize = 30;
    pub const NEWEST: usize = 48;
    pub const ANTERIOR: usize = 106;
    pub const CONFIRMED: usize = 164;
    pub const INIT_OUTBOUND_MARK: usize = 165;
    pub const INIT_INBOUND_TOP: usize = 173;
    pub const LAST_INIT_TIMESTAMP: usize = 177;
}

/// Encodes `record` in the version-1 layout (module docs).
pub fn encode_record(record: &MnRecord) -> [u8; RECORD_LEN] {
    let mut w = RecordWriter::<RECORD_LEN>::new();
    w.put(&[VERSION]);
    w.put(&record.home_address.octets());
    w.flag(record.binding.is_some());
    match &record.binding {
        Some(b) => {
            w.put(&b.care_of_address.octets());
            w.put(&b.sequence.0.to_be_bytes());
            w.put(&b.lifetime_secs.to_be_bytes());
            w.put(&b.expires_at.as_micros().to_be_bytes());
        }
        None => w.skip(field::BINDING_LEN),
    }
    for generation in [&record.newest, &record.anterior] {
        w.flag(generation.is_some());
        match generation {
            Some(g) => {
                w.put(&g.generation.to_be_bytes());
                w.put(g.secret.expose());
                w.put(&g.spis.mn_to_ha.to_be_bytes());
                w.put(&g.spis.ha_to_mn.to_be_bytes());
                w.put(&[g.suite.code()]);
                w.put(&g.outbound_mark.to_be_bytes());
                w.put(&g.inbound_top.to_be_bytes());
            }
            None => w.skip(GENERATION_LEN),
        }
    }
    w.flag(record.newest_confirmed);
    w.put(&record.init_outbound_mark.to_be_bytes());
    w.put(&record.init_inbound_top.to_be_bytes());
    w.flag(record.last_init_timestamp.is_some());
    w.put(&record.last_init_timestamp.unwrap_or(0).to_be_bytes());
    w.finish()
}

/// Reads one key generation (module docs).
fn read_generation(r: &mut RecordReader<'_>) -> Result<GenerationRecord, DecodeError> {
    Ok(GenerationRecord {
        generation: r.u32()?,
        secret: Secret32::new(r.take()?),
        spis: SpiPair {
            mn_to_ha: r.spi()?,
            ha_to_mn: r.spi()?,
        },
        suite: r.suite()?,
        outbound_mark: r.u64()?,
        inbound_top: r.u32()?,
    })
}

/// Decodes a version-1 record (module docs). Never panics.
pub fn decode_record(bytes: &[u8]) -> Result<MnRecord, DecodeError> {
    let mut r = RecordReader::open(bytes, VERSION, RECORD_LEN, field::HOME_ADDRESS)?;
    let home_address = Ipv6Addr::from(r.take::<16>()?);
    debug_assert_eq!(r.pos(), field::BINDING);
    let binding = r.option(field::BINDING_LEN, |r| {
        Ok(BindingView {
            care_of_address: Ipv6Addr::from(r.take::<16>()?),
            sequence: SequenceNumber(r.u16()?),
            lifetime_secs: r.u32()?,
            expires_at: Time::from_micros(r.u64()?),
        })
    })?;
    debug_assert_eq!(r.pos(), field::NEWEST);
    let newest = r.option(GENERATION_LEN, read_generation)?;
    debug_assert_eq!(r.pos(), field::ANTERIOR);
    let anterior = r.option(GENERATION_LEN, read_generation)?;
    debug_assert_eq!(r.pos(), field::CONFIRMED);
    let newest_confirmed = r.flag()?;
    debug_assert_eq!(r.pos(), field::INIT_OUTBOUND_MARK);
    let init_outbound_mark = r.u64()?;
    debug_assert_eq!(r.pos(), field::INIT_INBOUND_TOP);
    let init_inbound_top = r.u32()?;
    debug_assert_eq!(r.pos(), field::LAST_INIT_TIMESTAMP);
    let last_init_timestamp = r.option(8, RecordReader::u64)?;
    Ok(MnRecord {
        home_address,
        binding,
        newest,
        anterior,
        newest_confirmed,
        init_outbound_mark,
        init_inbound_top,
        last_init_timestamp,
    })
}
