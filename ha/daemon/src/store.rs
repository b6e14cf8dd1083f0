//! The home agent's records in the state store ([`mip6_daemon::store`]): the
//! [`MnRecord`]s of [`mip6_ha::Event::Persist`], one row per home address in
//! `<state_dir>/mip6-ha.redb`, so a restarted home agent resumes without reusing a
//! (key, sequence number) pair (invariant 2) or accepting a replayed BU (invariant 4).
//! With [`Persistence::DurableMinimum`] only [`MnRecord::durable_minimum`] is stored:
//! no binding and no generation, hence no secret.
//!
//! The record layout (version 1, [`RECORD_LEN`] octets) is the engine's,
//! `mip6_ha::record_layout`: the row key is the 16-octet home address, which must
//! equal the record's.
//!
//! Not supported: migrating other versions (an unknown version is an error), sharing
//! the file between processes (redb locks it).

use std::path::Path;

use mip6_daemon::store::redb::RedbStore;
pub use mip6_daemon::store::{DecodeError, Persistence, StoreError};
use mip6_daemon::store::{RecordCodec, Store};
use mip6_ha::persist::MnRecord;
pub use mip6_ha::record_layout::{decode_record, encode_record, RECORD_LEN, VERSION};

/// The database file's name inside the state directory.
pub const FILE_NAME: &str = "mip6-ha.redb";

/// The home agent's records: keyed by home address, the version-1 layout.
#[derive(Debug, Clone, Copy)]
pub struct HaRecords;

/// The row key of the record of the mobile node with this home address.
pub fn record_key(home_address: &std::net::Ipv6Addr) -> Vec<u8> {
    home_address.octets().to_vec()
}

impl RecordCodec for HaRecords {
    type Record = MnRecord;

    fn key(record: &MnRecord) -> Vec<u8> {
        record_key(&record.home_address)
    }

    fn encode(record: &MnRecord) -> Vec<u8> {
        encode_record(record).to_vec()
    }

    fn decode(key: &[u8], value: &[u8]) -> Result<MnRecord, DecodeError> {
        let record = decode_record(value)?;
        if key != record.home_address.octets() {
            return Err(DecodeError::KeyMismatch {
                home_address: record.home_address,
            });
        }
        Ok(record)
    }

    fn durable_minimum(record: &MnRecord) -> MnRecord {
        record.durable_minimum()
    }

    /// The provisioned nodes' rows ([`crate::provision`]) are not records.
    fn owns(key: &[u8]) -> bool {
        !key.starts_with(crate::provision::KEY_PREFIX)
    }
}

/// The home agent's state store: its records over the embedded redb backend.
pub type StateStore = Store<RedbStore, HaRecords>;

/// Opens (creating if needed) `<dir>/mip6-ha.redb` with mode 0600 (`dir` must exist).
pub fn open(dir: &Path, mode: Persistence) -> Result<StateStore, StoreError> {
    Ok(Store::new(RedbStore::open(dir, FILE_NAME)?, mode))
}
