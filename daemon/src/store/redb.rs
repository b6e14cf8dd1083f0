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
//!
//! **A new file appears whole.** A missing file is made as `<file>.new`, initialized
//! (header and table committed), then renamed into place, so a crash while creating
//! it never leaves an empty or half-written file under the real name.
//!
//! **A damaged file is an error, never a panic.** A file cut short, emptied or
//! overwritten is [`StoreError::Damaged`], naming the file and what to do. redb 2
//! answers some truncations with an assertion failure in `page_manager.rs` (the file is
//! shorter than its header's layout) instead of an error, so every call into redb runs
//! under [`std::panic::catch_unwind`]; the default panic message is held back while it
//! does (on that thread only), and the panic becomes the error's detail.

/// redb's page cache (its default is 1 GiB): the pages it keeps in the process. The
/// daemons read the whole table once, at start, and then only write; the kernel's
/// page cache serves what a write must read back. Bounded, the store adds a fixed
/// amount to a home agent's resident memory instead of growing with its mobile
/// nodes (issue 13: resident memory per node; measured in docs/benchmarks-lab.md:
/// 16 MiB filled up during 100 000 registrations, 4 MiB gives the same rates).
pub const CACHE_BYTES: usize = 4 << 20;

use std::cell::{Cell, RefCell};
use std::fs::{OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use redb::{Database, Durability, ReadableTable, TableDefinition};

use super::{BehindWrite, RecordStore, Row, StoreError};

/// Row key → encoded record.
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// Maps a redb error on `path` into [`StoreError::Damaged`] when it says the file is
/// not a sound database (corrupt, cut short, an unknown format), else
/// [`StoreError::Backend`].
fn db_err<E: Into<redb::Error>>(path: &Path) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| {
        let e: redb::Error = e.into();
        let damaged = match &e {
            redb::Error::Corrupted(_) | redb::Error::UpgradeRequired(_) => true,
            redb::Error::Io(io) => matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        };
        if damaged {
            StoreError::Damaged {
                path: path.to_owned(),
                detail: e.to_string(),
            }
        } else {
            StoreError::Backend(Box::new(e))
        }
    }
}

thread_local! {
    /// Set while this thread runs a [`guarded`] redb call: the panic hook stays quiet.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Where the last quiet panic happened (`file:line`), for the error's detail.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that says nothing for a panic on a thread
/// inside [`guarded`] (it notes the location) and hands every other panic to the hook
/// that was there before.
fn install_quiet_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                LOCATION.with(|l| *l.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `call` (a redb call on the database at `path`, doing `what`); a panic inside it
/// becomes [`StoreError::Damaged`] (module docs).
fn guarded<T>(
    path: &Path,
    what: &str,
    call: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    install_quiet_hook();
    let was_quiet = QUIET.with(|q| q.replace(true));
    let caught = panic::catch_unwind(AssertUnwindSafe(call));
    QUIET.with(|q| q.set(was_quiet));
    caught.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        let at = LOCATION
            .with(|l| l.borrow_mut().take())
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        Err(StoreError::Damaged {
            path: path.to_owned(),
            detail: format!("redb failed while {what}: {message}{at}"),
        })
    })
}

/// A redb database of rows (module docs).
pub struct RedbStore {
    /// Shared with the blocking threads of [`RecordStore::put_batch_behind`].
    db: Arc<Database>,
    path: PathBuf,
    created: bool,
}

impl core::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens `<dir>/<file_name>`, or creates it whole with mode 0600 if there is none
    /// (module docs). `dir` must exist. A file that is empty or not a sound redb
    /// database is [`StoreError::Damaged`]; this never panics.
    pub fn open(dir: &Path, file_name: &str) -> Result<Self, StoreError> {
        let path = dir.join(file_name);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let created = match std::fs::metadata(&path) {
            Ok(meta) if meta.len() == 0 => {
                return Err(StoreError::Damaged {
                    path,
                    detail: "the file is empty, not even a database header is left".into(),
                })
            }
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_whole(dir, &path)?;
                true
            }
            Err(e) => return Err(io(e)),
        };
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).map_err(io)?;
        let db = guarded(&path, "opening the file", || {
            let db = Database::builder()
                .set_cache_size(CACHE_BYTES)
                .open(&path)
                .map_err(db_err(&path))?;
            let txn = db.begin_write().map_err(db_err(&path))?;
            txn.open_table(TABLE).map_err(db_err(&path))?;
            txn.commit().map_err(db_err(&path))?;
            Ok(db)
        })?;
        Ok(RedbStore {
            db: Arc::new(db),
            path,
            created,
        })
    }

    /// Whether this open created the file (there was none): a first start, or a store
    /// that was deleted.
    pub fn created(&self) -> bool {
        self.created
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
        write_durably(&self.db, &self.path, write)
    }

    fn load_all_now(&self) -> Result<Vec<Row>, StoreError> {
        let path = &self.path;
        guarded(path, "reading", || {
            let txn = self.db.begin_read().map_err(db_err(path))?;
            let table = txn.open_table(TABLE).map_err(db_err(path))?;
            let mut rows = Vec::new();
            for row in table.iter().map_err(db_err(path))? {
                let (key, value) = row.map_err(db_err(path))?;
                rows.push(Row {
                    key: key.value().to_vec(),
                    value: value.value().to_vec(),
                });
            }
            Ok(rows)
        })
    }
}

/// One write transaction on `db`, committed with [`Durability::Immediate`] (synced
/// before this returns).
fn write_durably<T>(
    db: &Database,
    path: &Path,
    write: impl FnOnce(&mut redb::Table<'_, &'static [u8], &'static [u8]>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    guarded(path, "writing", || {
        let mut txn = db.begin_write().map_err(db_err(path))?;
        txn.set_durability(Durability::Immediate);
        let out = {
            let mut table = txn.open_table(TABLE).map_err(db_err(path))?;
            write(&mut table)?
        };
        txn.commit().map_err(db_err(path))?;
        Ok(out)
    })
}

/// Inserts every row (replacing rows of the same key).
fn insert_rows(
    table: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    rows: &[Row],
    path: &Path,
) -> Result<(), StoreError> {
    for row in rows {
        table
            .insert(&row.key[..], &row.value[..])
            .map_err(db_err(path))?;
    }
    Ok(())
}

/// Creates the database at `path` whole: initialized as `<path>.new` (mode 0600), synced,
/// renamed into place, the directory synced (module docs).
fn create_whole(dir: &Path, path: &Path) -> Result<(), StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    let fresh = PathBuf::from(name);
    let io = |source| StoreError::Io {
        path: fresh.clone(),
        source,
    };
    // A leftover of a crash while creating: it never held a record.
    match std::fs::remove_file(&fresh) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    // Create the file ourselves so it is never world-readable, even briefly.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&fresh)
        .map_err(io)?;
    guarded(&fresh, "creating the file", || {
        let db = Database::create(&fresh).map_err(db_err(&fresh))?;
        let mut txn = db.begin_write().map_err(db_err(&fresh))?;
        txn.set_durability(Durability::Immediate);
        txn.open_table(TABLE).map_err(db_err(&fresh))?;
        txn.commit().map_err(db_err(&fresh))?;
        Ok(())
    })?;
    std::fs::rename(&fresh, path).map_err(io)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })
}

impl RecordStore for RedbStore {
    async fn load_all(&self) -> Result<Vec<Row>, StoreError> {
        self.load_all_now()
    }

    async fn load_keys(&self, keys: &[Vec<u8>]) -> Result<Vec<Row>, StoreError> {
        let path = &self.path;
        guarded(path, "reading", || {
            let txn = self.db.begin_read().map_err(db_err(path))?;
            let table = txn.open_table(TABLE).map_err(db_err(path))?;
            let mut seen = std::collections::HashSet::with_capacity(keys.len());
            let mut rows = Vec::new();
            for key in keys.iter().filter(|k| seen.insert(k.as_slice())) {
                if let Some(value) = table.get(key.as_slice()).map_err(db_err(path))? {
                    rows.push(Row {
                        key: key.clone(),
                        value: value.value().to_vec(),
                    });
                }
            }
            Ok(rows)
        })
    }

    async fn put_batch(&self, rows: &[Row]) -> Result<(), StoreError> {
        self.write(|table| insert_rows(table, rows, &self.path))
    }

    /// The same transaction as [`RecordStore::put_batch`], on one of tokio's blocking
    /// threads (outside a runtime: the rows come back).
    fn put_batch_behind(&self, rows: Vec<Row>) -> Result<BehindWrite, Vec<Row>> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(rows);
        };
        let db = Arc::clone(&self.db);
        let path = self.path.clone();
        Ok(runtime.spawn_blocking(move || {
            write_durably(&db, &path, |table| insert_rows(table, &rows, &path))
        }))
    }

    async fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.write(|table| Ok(table.remove(key).map_err(db_err(&self.path))?.is_some()))
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
            let current = table
                .get(key)
                .map_err(db_err(&self.path))?
                .map(|v| v.value().to_vec());
            if current.as_deref() != expected {
                return Ok(false);
            }
            table.insert(key, new).map_err(db_err(&self.path))?;
            Ok(true)
        })
    }
}
