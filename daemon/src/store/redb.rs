//! The embedded backend of [`super::RecordStore`]: one [redb](https://docs.rs/redb)
//! database file in the state directory, one table of rows.
//!
//! **Durability.** Every write is one transaction committed with
//! [`Durability::Immediate`]: when the call returns `Ok` the rows are on stable
//! storage (redb repairs a file left by a crashed process on open).
//!
//! **Secrets.** With [`super::Persistence::Full`] the file holds key material. It is
//! created with mode 0600 by this module before redb opens it, and set to 0600 again
//! on every open.

use std::fs::{OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableTable, TableDefinition};

use super::{RecordStore, Row, StoreError};

/// Row key → encoded record.
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// Maps any redb error into [`StoreError::Backend`].
fn db_err<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Backend(Box::new(e.into()))
}

/// A redb database of rows (module docs).
pub struct RedbStore {
    db: Database,
    path: PathBuf,
}

impl core::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens (creating if needed) `<dir>/<file_name>` with mode 0600. `dir` must exist.
    pub fn open(dir: &Path, file_name: &str) -> Result<Self, StoreError> {
        let path = dir.join(file_name);
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
        Ok(RedbStore { db, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `write` in one write transaction committed durably.
    fn write<T>(
        &self,
        write: impl FnOnce(&mut redb::Table<'_, &'static [u8], &'static [u8]>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate);
        let out = {
            let mut table = txn.open_table(TABLE).map_err(db_err)?;
            write(&mut table)?
        };
        txn.commit().map_err(db_err)?;
        Ok(out)
    }

    fn load_all_now(&self) -> Result<Vec<Row>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(TABLE).map_err(db_err)?;
        let mut rows = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (key, value) = row.map_err(db_err)?;
            rows.push(Row {
                key: key.value().to_vec(),
                value: value.value().to_vec(),
            });
        }
        Ok(rows)
    }
}

impl RecordStore for RedbStore {
    async fn load_all(&self) -> Result<Vec<Row>, StoreError> {
        self.load_all_now()
    }

    async fn put_batch(&self, rows: &[Row]) -> Result<(), StoreError> {
        self.write(|table| {
            for row in rows {
                table.insert(&row.key[..], &row.value[..]).map_err(db_err)?;
            }
            Ok(())
        })
    }

    async fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.write(|table| Ok(table.remove(key).map_err(db_err)?.is_some()))
    }

    async fn compare_and_set(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        // redb serializes write transactions: the read and the write below see no
        // other writer in between.
        self.write(|table| {
            let current = table.get(key).map_err(db_err)?.map(|v| v.value().to_vec());
            if current.as_deref() != expected {
                return Ok(false);
            }
            table.insert(key, new).map_err(db_err)?;
            Ok(true)
        })
    }
}
