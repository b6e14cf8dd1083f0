//! The mobile node's state store: the [`MnRecord`] of [`mip6_mn::Event::Persist`] kept
//! in a [redb](https://docs.rs/redb) database, `<dir>/mip6-mn.redb`, as its single
//! row, so a restarted node resumes its outbound sequence marks and never seals the
//! same (key, sequence number) twice (DESIGN.md invariant 2).
//!
//! **Durability.** Every [`StateStore::put`] / [`StateStore::put_many`] is one write
//! transaction committed with [`redb::Durability::Immediate`]: when it returns `Ok`
//! the record is on stable storage, so the driver may send what the engine queued
//! after the Persist event (the crate's driver contract).
//!
//! **Secrets.** In [`Persistence::Full`] mode the database holds key material (the
//! generation secrets). The file is created with mode 0600, and its mode is set to
//! 0600 again on every open. In [`Persistence::DurableMinimum`] mode only
//! [`durable_minimum`] of the record is stored: the init SA's mark and the Binding
//! Update mark, no generation, hence no secret (the node restarts as with
//! [`RestorePolicy::Reinitialize`](mip6_mn::RestorePolicy::Reinitialize)).
//!
//! ## Record encoding, version 1
//!
//! The row's value is written by hand (the engine types carry no serde). All
//! integers in network order; every record has the same length, [`RECORD_LEN`];
//! an absent `Option` is a presence byte 0 followed by its field, all zero.
//!
//! ```text
//! offset len  field
//!   0     1   version = 1
//!   1     8   init_outbound_mark
//!   9     1   newest present (0/1)
//!  10    53     generation record (below)
//!  63     1   anterior present (0/1)
//!  64    53     generation record
//! 117     2   bu_sequence_mark
//! 119         end
//!
//! generation record (53 octets):
//!   0     4   generation
//!   4    32   secret
//!  36     4   SPI MN→HA   (> 255, RFC 4303 §2.1)
//!  40     4   SPI HA→MN   (> 255)
//!  44     1   suite code point (1 = AES-128-GCM, 2 = AES-256-GCM)
//!  45     8   outbound_mark
//! ```
//!
//! [`decode_record`] never panics: any other length, version, presence byte, suite,
//! SPI or non-zero filler of an absent field is a [`DecodeError`].
//!
//! Not supported: migrating other versions (an unknown version is an error), sharing
//! the file between processes (redb locks it).

use std::fs::{OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mip6_daemon::record::{RecordReader, RecordWriter};
use mip6_wire::keys::SpiPair;
use mip6_wire::mh::SequenceNumber;
use mip6_wire::Secret32;
use redb::{Database, Durability, TableDefinition};

use mip6_mn::persist::{GenerationRecord, MnRecord};

/// The database file's name inside the state directory.
pub const FILE_NAME: &str = "mip6-mn.redb";
/// The encoding version this module writes and reads.
pub const VERSION: u8 = 1;
/// Length of an encoded generation record.
const GENERATION_LEN: usize = 53;
/// Length of every encoded [`MnRecord`], version 1.
pub const RECORD_LEN: usize = 119;

/// [`KEY`] → the encoded [`MnRecord`].
const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("mn_record");
/// The single row's key.
const KEY: &str = "record";

/// What the store keeps of each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// The whole record: bindings and generations (with their secrets) survive.
    Full,
    /// Only [`durable_minimum`]: the node re-initializes after a restart; no secret
    /// reaches the disk.
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

/// The mobile node's durable record store (see the module docs).
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
    /// Opens (creating if needed) `<dir>/mip6-mn.redb` with mode 0600. `dir` must
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

    /// Stores `record`, replacing the previous one, durably:
    /// one transaction committed with [`Durability::Immediate`].
    pub fn put(&self, record: &MnRecord) -> Result<(), StoreError> {
        self.put_many(core::slice::from_ref(record))
    }

    /// Stores the records of `records` in turn, in one durable transaction (all or
    /// none): the last one is what [`StateStore::load`] returns.
    pub fn put_many(&self, records: &[MnRecord]) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate);
        {
            let mut table = txn.open_table(TABLE).map_err(db_err)?;
            for record in records {
                let encoded = match self.mode {
                    Persistence::Full => encode_record(record),
                    Persistence::DurableMinimum => encode_record(&durable_minimum(record)),
                };
                table.insert(KEY, &encoded[..]).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Removes the record, durably; whether there was one.
    pub fn remove(&self) -> Result<bool, StoreError> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate);
        let removed = {
            let mut table = txn.open_table(TABLE).map_err(db_err)?;
            let old = table.remove(KEY).map_err(db_err)?;
            old.is_some()
        };
        txn.commit().map_err(db_err)?;
        Ok(removed)
    }

    /// The stored record, if any, for [`mip6_mn::MobileNode::new`].
    pub fn load(&self) -> Result<Option<MnRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(TABLE).map_err(db_err)?;
        let Some(value) = table.get(KEY).map_err(db_err)? else {
            return Ok(None);
        };
        Ok(Some(decode_record(value.value())?))
    }
}

/// What [`Persistence::DurableMinimum`] keeps of `record`: the init SA's outbound
/// mark (the init key survives every restart, so its nonces must not repeat) and the
/// Binding Update mark; the generations, and their secrets, are dropped.
pub fn durable_minimum(record: &MnRecord) -> MnRecord {
    MnRecord {
        init_outbound_mark: record.init_outbound_mark,
        newest: None,
        anterior: None,
        bu_sequence_mark: record.bu_sequence_mark,
    }
}

/// Field offsets of the version-1 layout (module docs).
mod field {
    // The version byte is at offset 0, where `RecordReader::open` reads it.
    pub const INIT_OUTBOUND_MARK: usize = 1;
    pub const NEWEST: usize = 9;
    pub const ANTERIOR: usize = 63;
    pub const BU_SEQUENCE_MARK: usize = 117;
}

/// Encodes `record` in the version-1 layout (module docs).
pub fn encode_record(record: &MnRecord) -> [u8; RECORD_LEN] {
    let mut w = RecordWriter::<RECORD_LEN>::new();
    w.put(&[VERSION]);
    w.put(&record.init_outbound_mark.to_be_bytes());
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
            }
            None => w.skip(GENERATION_LEN),
        }
    }
    w.put(&record.bu_sequence_mark.0.to_be_bytes());
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
    })
}

/// Decodes a version-1 record (module docs). Never panics.
pub fn decode_record(bytes: &[u8]) -> Result<MnRecord, DecodeError> {
    let mut r = RecordReader::open(bytes, VERSION, RECORD_LEN, field::INIT_OUTBOUND_MARK)?;
    let init_outbound_mark = r.u64()?;
    debug_assert_eq!(r.pos(), field::NEWEST);
    let newest = r.option(GENERATION_LEN, read_generation)?;
    debug_assert_eq!(r.pos(), field::ANTERIOR);
    let anterior = r.option(GENERATION_LEN, read_generation)?;
    debug_assert_eq!(r.pos(), field::BU_SEQUENCE_MARK);
    let bu_sequence_mark = SequenceNumber(r.u16()?);
    Ok(MnRecord {
        init_outbound_mark,
        newest,
        anterior,
        bu_sequence_mark,
    })
}
