//! The daemons' state store: the engines' persistence records kept durably, so a
//! restarted daemon resumes without sealing a (key, sequence number) pair twice
//! (RFC 4303 §3.3.3; invariant 2 of `docs/architecture.md`) or accepting a replayed
//! Binding Update (invariant 4).
//!
//! Two layers:
//!
//! - [`RecordStore`], the backend: rows of opaque octets keyed by octets, read all at
//!   once at start, written in **batches that are durable when the call returns**
//!   (the driver sends nothing an engine queued after a `Persist` event before that),
//!   removed one by one, and a **compare-and-set** for sequence-number reservations
//!   shared between processes. Its methods are `async` so a remote backend (a second
//!   home agent's shared store) fits behind the same trait; [`redb::RedbStore`], the
//!   embedded one, completes each call before it returns; [`etcd::EtcdStore`] keeps
//!   the rows in etcd, for a pair of home agents.
//! - [`Store`], the typed layer: a role's [`RecordCodec`] turns its engine's records
//!   into rows and back, and [`Persistence`] decides how much of each record reaches
//!   the disk.
//!
//! Not supported: migrating record layouts (a codec refuses a version it does not
//! know), several processes sharing one redb file (redb locks it).

pub mod etcd;
pub mod redb;

use core::future::Future;
use core::marker::PhantomData;
use std::path::PathBuf;

pub use crate::record::DecodeError;

/// A write running on a thread of its own ([`RecordStore::put_batch_behind`]).
pub type BehindWrite = tokio::task::JoinHandle<Result<(), StoreError>>;

/// One stored row: the key a record is found by and its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The row's key (a home address's 16 octets, or a fixed name).
    pub key: Vec<u8>,
    /// The encoded record.
    pub value: Vec<u8>,
}

/// Errors of a store.
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
    /// The file is not a usable database: cut short, emptied, overwritten, or of a
    /// format this build does not read. The daemon must not start on it (its records
    /// are lost), nor silently replace it (an operator should see why).
    #[error(
        "state store {path} is damaged ({detail}): move it away to start with an empty store; \
         the mobile nodes will re-initialize their keys with the home agent"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it (the backend's own words).
        detail: String,
    },
    /// The backend failed (open, transaction, storage, commit, connection).
    #[error("state store database: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A home agent of a pair lost its lease: the other one took the leader key over,
    /// so this one's write did not land ([`etcd`] module docs). It must stop sending.
    #[error(
        "state store: this home agent no longer holds the pair's leader key (the other one \
         took over): the write did not land"
    )]
    Fenced,
    /// A stored record is corrupt or of an unknown version.
    #[error("state store: {0}")]
    Decode(#[from] DecodeError),
}

/// A durable key-value backend for persistence records (module docs).
pub trait RecordStore {
    /// Every row, ordered by key.
    fn load_all(&self) -> impl Future<Output = Result<Vec<Row>, StoreError>>;

    /// The rows of `keys` that exist, in the order of `keys` (a key named twice
    /// gives its row once). Reads only those rows where the backend can, so adding
    /// one node to a store of a million does not read a million.
    fn load_keys(&self, keys: &[Vec<u8>]) -> impl Future<Output = Result<Vec<Row>, StoreError>>;

    /// Writes every row (replacing a row of the same key) in one batch, all or none,
    /// durable once this returns `Ok`.
    fn put_batch(&self, rows: &[Row]) -> impl Future<Output = Result<(), StoreError>>;

    /// Starts the write of [`put_batch`](Self::put_batch) on a thread of its own and
    /// returns at once: the write is durable when the handle completes with `Ok`. A
    /// backend that cannot gives the rows back (`Err`), and the caller awaits
    /// `put_batch`. The caller orders writes: it starts no other write of these keys
    /// until this one completed.
    fn put_batch_behind(&self, rows: Vec<Row>) -> Result<BehindWrite, Vec<Row>> {
        Err(rows)
    }

    /// Removes the row of `key`, durably; whether there was one.
    fn remove(&self, key: &[u8]) -> impl Future<Output = Result<bool, StoreError>>;

    /// Writes `new` at `key` only if the row's current value is `expected` (`None`: no
    /// row), durably; whether it wrote. Two processes reserving sequence numbers from
    /// one row this way never both win the same block.
    fn compare_and_set(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> impl Future<Output = Result<bool, StoreError>>;
}

/// How a role's records become rows and back.
pub trait RecordCodec {
    /// The engine's persistence record.
    type Record;

    /// The row key of a record.
    fn key(record: &Self::Record) -> Vec<u8>;

    /// The record's encoding.
    fn encode(record: &Self::Record) -> Vec<u8>;

    /// Decodes a row; a key that does not belong to the record is an error. Never
    /// panics.
    fn decode(key: &[u8], value: &[u8]) -> Result<Self::Record, DecodeError>;

    /// What [`Persistence::DurableMinimum`] keeps of a record: what must survive every
    /// restart (the init SA's marks and replay state), no generation and no secret.
    fn durable_minimum(record: &Self::Record) -> Self::Record;

    /// Whether a row of this key holds one of these records; rows the role keeps
    /// beside them (the home agent's mobile nodes provisioned at run time) answer
    /// `false` and are read with [`Store::load_rows`].
    fn owns(_key: &[u8]) -> bool {
        true
    }
}

/// What the store keeps of each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// The whole record: bindings and generations (with their secrets) survive.
    Full,
    /// Only [`RecordCodec::durable_minimum`]: a daemon whose peers re-initialize after
    /// a restart; no secret reaches the disk.
    DurableMinimum,
}

/// A role's records over a backend (module docs).
#[derive(Debug)]
pub struct Store<S, C> {
    backend: S,
    mode: Persistence,
    codec: PhantomData<fn() -> C>,
}

impl<S: RecordStore, C: RecordCodec> Store<S, C> {
    /// The typed store over `backend`, keeping what `mode` says.
    pub fn new(backend: S, mode: Persistence) -> Self {
        Store {
            backend,
            mode,
            codec: PhantomData,
        }
    }

    /// The store's mode.
    pub fn mode(&self) -> Persistence {
        self.mode
    }

    /// The backend.
    pub fn backend(&self) -> &S {
        &self.backend
    }

    /// The row `record` is stored as under this store's mode.
    pub fn row(&self, record: &C::Record) -> Row {
        let value = match self.mode {
            Persistence::Full => C::encode(record),
            Persistence::DurableMinimum => C::encode(&C::durable_minimum(record)),
        };
        Row {
            key: C::key(record),
            value,
        }
    }

    /// Stores `record`, replacing the previous record of its key, durably.
    pub async fn put(&self, record: &C::Record) -> Result<(), StoreError> {
        self.put_many(core::slice::from_ref(record)).await
    }

    /// Stores every record in one durable batch (all or none); of several records of
    /// one key, the last one stays.
    pub async fn put_many(&self, records: &[C::Record]) -> Result<(), StoreError> {
        let rows: Vec<Row> = records.iter().map(|r| self.row(r)).collect();
        self.backend.put_batch(&rows).await
    }

    /// Stores every record as [`put_many`](Self::put_many) does, on the backend's own
    /// thread where it has one ([`RecordStore::put_batch_behind`]): the write in
    /// flight, or `None` when it was done (durably) in this call.
    pub async fn put_many_behind(
        &self,
        records: &[C::Record],
    ) -> Result<Option<BehindWrite>, StoreError> {
        let rows: Vec<Row> = records.iter().map(|r| self.row(r)).collect();
        match self.backend.put_batch_behind(rows) {
            Ok(write) => Ok(Some(write)),
            Err(rows) => self.backend.put_batch(&rows).await.map(|()| None),
        }
    }

    /// Removes the record of `key`, durably; whether there was one.
    pub async fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.backend.remove(key).await
    }

    /// Every stored record, ordered by key. One corrupt record fails the whole load:
    /// a daemon must not start with a silently missing record (its sequence marks
    /// would be lost).
    pub async fn load_all(&self) -> Result<Vec<C::Record>, StoreError> {
        let rows = self.backend.load_all().await?;
        rows.iter()
            .filter(|row| C::owns(&row.key))
            .map(|row| C::decode(&row.key, &row.value).map_err(StoreError::from))
            .collect()
    }

    /// The stored records of `keys` ([`RecordCodec::key`]) that exist; a corrupt one
    /// fails the load, as in [`load_all`](Self::load_all).
    pub async fn load_records(&self, keys: &[Vec<u8>]) -> Result<Vec<C::Record>, StoreError> {
        let rows = self.backend.load_keys(keys).await?;
        rows.iter()
            .filter(|row| C::owns(&row.key))
            .map(|row| C::decode(&row.key, &row.value).map_err(StoreError::from))
            .collect()
    }

    /// Every row whose key starts with `prefix` and holds no record
    /// ([`RecordCodec::owns`]), ordered by key.
    pub async fn load_rows(&self, prefix: &[u8]) -> Result<Vec<Row>, StoreError> {
        let rows = self.backend.load_all().await?;
        Ok(rows
            .into_iter()
            .filter(|row| row.key.starts_with(prefix) && !C::owns(&row.key))
            .collect())
    }

    /// Writes rows the role keeps beside its records (and removes the rows of
    /// `removed` keys), each durably; for keys [`RecordCodec::owns`] refuses.
    pub async fn write_rows(&self, put: &[Row], removed: &[Vec<u8>]) -> Result<(), StoreError> {
        if !put.is_empty() {
            self.backend.put_batch(put).await?;
        }
        for key in removed {
            self.backend.remove(key).await?;
        }
        Ok(())
    }
}

/// Runs a future that completes without waiting (every [`redb::RedbStore`] call) to
/// its end, outside any runtime: for tests and tools. Panics if it would wait.
pub fn complete_now<F: Future>(future: F) -> F::Output {
    let mut future = core::pin::pin!(future);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        core::task::Poll::Ready(out) => out,
        core::task::Poll::Pending => panic!("complete_now: the store call would wait"),
    }
}
