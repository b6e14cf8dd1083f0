//! The mobile node's record in the state store ([`mip6_daemon::store`]): the
//! [`MnRecord`] of [`mip6_mn::Event::Persist`] as the single row of
//! `<state_dir>/mip6-mn.redb`, so a restarted node resumes its outbound sequence
//! marks and never seals the same (key, sequence number) twice (invariant 2). With
//! [`Persistence::DurableMinimum`] only [`durable_minimum`] of the record is stored:
//! the init SA's mark and the Binding Update mark, no generation, hence no secret
//! (the node restarts as with
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

use std::path::Path;

use mip6_daemon::record::{RecordReader, RecordWriter};
use mip6_daemon::store::redb::RedbStore;
pub use mip6_daemon::store::{DecodeError, Persistence, StoreError};
use mip6_daemon::store::{RecordCodec, Store};
use mip6_mn::persist::{GenerationRecord, MnRecord};
use mip6_wire::keys::SpiPair;
use mip6_wire::mh::SequenceNumber;
use mip6_wire::Secret32;

/// The database file's name inside the state directory.
pub const FILE_NAME: &str = "mip6-mn.redb";
/// The encoding version this module writes and reads.
pub const VERSION: u8 = 1;
/// Length of an encoded generation record.
const GENERATION_LEN: usize = 53;
/// Length of every encoded [`MnRecord`], version 1.
pub const RECORD_LEN: usize = 119;
/// The single row's key.
pub const KEY: &[u8] = b"mobile node";

/// The mobile node's record: one row, the version-1 layout.
#[derive(Debug, Clone, Copy)]
pub struct MnRecords;

impl RecordCodec for MnRecords {
    type Record = MnRecord;

    fn key(_record: &MnRecord) -> Vec<u8> {
        KEY.to_vec()
    }

    fn encode(record: &MnRecord) -> Vec<u8> {
        encode_record(record).to_vec()
    }

    fn decode(_key: &[u8], value: &[u8]) -> Result<MnRecord, DecodeError> {
        decode_record(value)
    }

    fn durable_minimum(record: &MnRecord) -> MnRecord {
        durable_minimum(record)
    }
}

/// The mobile node's state store: its record over the embedded redb backend.
pub type StateStore = Store<RedbStore, MnRecords>;

/// Opens (creating if needed) `<dir>/mip6-mn.redb` with mode 0600 (`dir` must exist).
pub fn open(dir: &Path, mode: Persistence) -> Result<StateStore, StoreError> {
    Ok(Store::new(RedbStore::open(dir, FILE_NAME)?, mode))
}

/// The stored record, if any, for [`mip6_mn::MobileNode::new`].
pub async fn load(store: &StateStore) -> Result<Option<MnRecord>, StoreError> {
    Ok(store.load_all().await?.pop())
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
