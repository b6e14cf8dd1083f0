//! The record store both daemons use (`mip6_daemon::store`): the redb backend's
//! durability and batching, the typed layer's persistence modes, the file mode, the
//! compare-and-set for sequence-number reservations, and crash safety across a real
//! `abort()` of a child process. The daemons' record layouts are tested beside them
//! (`ha/daemon/tests/store.rs`, `mn/daemon/tests/store.rs`).

use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use mip6_daemon::store::redb::RedbStore;
use mip6_daemon::store::{
    complete_now as done, DecodeError, Persistence, RecordCodec, RecordStore, Row, Store,
    StoreError,
};

const FILE: &str = "test.redb";

/// A record with a secret worth keeping off the disk and a sequence mark.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    name: u16,
    secret: Option<[u8; 32]>,
    mark: u64,
}

/// Layout: name (2), secret present (1), secret (32), mark (8).
struct TestCodec;

impl RecordCodec for TestCodec {
    type Record = Record;

    fn key(r: &Record) -> Vec<u8> {
        r.name.to_be_bytes().to_vec()
    }

    fn encode(r: &Record) -> Vec<u8> {
        let mut v = r.name.to_be_bytes().to_vec();
        v.push(u8::from(r.secret.is_some()));
        v.extend_from_slice(&r.secret.unwrap_or([0; 32]));
        v.extend_from_slice(&r.mark.to_be_bytes());
        v
    }

    fn decode(key: &[u8], value: &[u8]) -> Result<Record, DecodeError> {
        if value.len() != 43 {
            return Err(DecodeError::Length {
                expected: 43,
                actual: value.len(),
            });
        }
        let name = u16::from_be_bytes([value[0], value[1]]);
        if key != name.to_be_bytes() {
            return Err(DecodeError::KeyMismatch {
                home_address: std::net::Ipv6Addr::UNSPECIFIED,
            });
        }
        let secret = (value[2] == 1).then(|| value[3..35].try_into().unwrap());
        let mark = u64::from_be_bytes(value[35..43].try_into().unwrap());
        Ok(Record { name, secret, mark })
    }

    fn durable_minimum(r: &Record) -> Record {
        Record {
            secret: None,
            ..r.clone()
        }
    }
}

fn secret(tag: u8) -> [u8; 32] {
    let mut s = [0xC3; 32];
    s[0] = tag;
    s[31] = tag;
    s
}

fn record(name: u16) -> Record {
    Record {
        name,
        secret: Some(secret(name as u8)),
        mark: 1 << 20 | u64::from(name),
    }
}

fn open(dir: &Path, mode: Persistence) -> Store<RedbStore, TestCodec> {
    Store::new(RedbStore::open(dir, FILE).unwrap(), mode)
}

fn file_contains(dir: &Path, needle: &[u8]) -> bool {
    let bytes = std::fs::read(dir.join(FILE)).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn rows_survive_a_reopen_the_last_put_of_a_key_wins_and_remove_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), Persistence::Full);
        assert!(done(store.load_all()).unwrap().is_empty());
        done(store.put(&record(2))).unwrap();
        let mut newer = record(1);
        newer.mark += 7;
        done(store.put_many(&[record(1), record(3), newer])).unwrap();
    }
    let store = open(dir.path(), Persistence::Full);
    let mut newer = record(1);
    newer.mark += 7;
    assert_eq!(
        done(store.load_all()).unwrap(),
        vec![newer, record(2), record(3)],
        "ordered by key, the last put of key 1 kept"
    );
    assert!(done(store.remove(&2u16.to_be_bytes())).unwrap());
    assert!(!done(store.remove(&2u16.to_be_bytes())).unwrap());
    drop(store);
    let store = open(dir.path(), Persistence::Full);
    assert_eq!(done(store.load_all()).unwrap().len(), 2);
}

#[test]
fn records_are_read_by_key_only_those_that_exist_in_the_order_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Persistence::Full);
    done(store.put_many(&[record(1), record(2), record(3), record(4)])).unwrap();
    let key = |n: u16| n.to_be_bytes().to_vec();
    assert_eq!(
        done(store.load_records(&[key(3), key(9), key(1), key(3)])).unwrap(),
        vec![record(3), record(1)],
        "3 and 1, in that order; 9 is not there; 3 once"
    );
    assert!(done(store.load_records(&[])).unwrap().is_empty());
    assert!(done(store.load_records(&[key(7)])).unwrap().is_empty());
}

#[test]
fn the_durable_minimum_mode_keeps_no_secret_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), Persistence::DurableMinimum);
        assert_eq!(store.mode(), Persistence::DurableMinimum);
        done(store.put_many(&[record(1), record(2)])).unwrap();
    }
    let store = open(dir.path(), Persistence::Full);
    let loaded = done(store.load_all()).unwrap();
    assert_eq!(
        loaded,
        vec![
            TestCodec::durable_minimum(&record(1)),
            TestCodec::durable_minimum(&record(2))
        ]
    );
    drop(store);
    assert!(!file_contains(dir.path(), &secret(1)));
    assert!(!file_contains(dir.path(), &secret(2)));
    // The control: in the full mode the secret is on disk, so the scan can find one.
    let full = tempfile::tempdir().unwrap();
    done(open(full.path(), Persistence::Full).put(&record(1))).unwrap();
    assert!(file_contains(full.path(), &secret(1)));
}

#[test]
fn one_corrupt_row_fails_the_whole_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Persistence::Full);
    done(store.put(&record(1))).unwrap();
    let bad = Row {
        key: 9u16.to_be_bytes().to_vec(),
        value: vec![0; 5],
    };
    done(store.backend().put_batch(&[bad])).unwrap();
    let err = done(store.load_all()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Decode(DecodeError::Length { actual: 5, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn compare_and_set_writes_only_over_the_expected_value() {
    let dir = tempfile::tempdir().unwrap();
    let backend = RedbStore::open(dir.path(), FILE).unwrap();
    let key = b"sequence block";
    assert!(
        done(backend.compare_and_set(key, None, b"1")).unwrap(),
        "absent, as expected"
    );
    assert!(
        !done(backend.compare_and_set(key, None, b"2")).unwrap(),
        "present now: a second reservation from scratch loses"
    );
    assert!(!done(backend.compare_and_set(key, Some(b"0"), b"2")).unwrap());
    assert!(done(backend.compare_and_set(key, Some(b"1"), b"2")).unwrap());
    drop(backend);
    let backend = RedbStore::open(dir.path(), FILE).unwrap();
    let rows = done(backend.load_all()).unwrap();
    assert_eq!(
        rows,
        vec![Row {
            key: key.to_vec(),
            value: b"2".to_vec()
        }],
        "the winning write is durable, the losing ones changed nothing"
    );
}

#[test]
fn database_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    // A pre-existing store made world-readable is narrowed to 0600 on open.
    drop(open(dir.path(), Persistence::Full));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = open(dir.path(), Persistence::Full);
    done(store.put(&record(1))).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(store);

    let fresh = tempfile::tempdir().unwrap();
    RedbStore::open(fresh.path(), FILE).unwrap();
    let mode = std::fs::metadata(fresh.path().join(FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// Item 11 of issue 12: a store file cut short (at 0, a few octets, inside the header,
/// half-way, all but its last page, all but its last octet) is a typed error naming the
/// file and what to do, never a panic (redb 2 asserts on some of these lengths).
#[test]
fn a_truncated_store_is_a_damaged_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), Persistence::Full);
        let records: Vec<Record> = (1..=40).map(record).collect();
        done(store.put_many(&records)).unwrap();
    }
    let path = dir.path().join(FILE);
    let whole = std::fs::read(&path).unwrap();
    assert!(whole.len() > 8192, "a store of {} octets", whole.len());
    let page = 4096;
    let lengths = [
        0,
        1,
        7,
        64,
        511,
        page,
        whole.len() / 2,
        whole.len() - page,
        whole.len() - 1,
    ];
    for len in lengths {
        let cut = tempfile::tempdir().unwrap();
        let cut_path = cut.path().join(FILE);
        std::fs::write(&cut_path, &whole[..len]).unwrap();
        let opened = std::panic::catch_unwind(|| RedbStore::open(cut.path(), FILE));
        let result = opened.unwrap_or_else(|_| panic!("open panicked on {len} octets"));
        let err = result.expect_err(&format!("{len} of {} octets opened", whole.len()));
        let text = err.to_string();
        assert!(
            matches!(&err, StoreError::Damaged { path, .. } if *path == cut_path),
            "{len} octets: {err:?}"
        );
        assert!(
            text.contains(&cut_path.display().to_string())
                && text.contains("damaged")
                && text.contains("move it away"),
            "{len} octets: {text}"
        );
        // The damaged file is left as it was, for the operator to look at.
        assert_eq!(std::fs::metadata(&cut_path).unwrap().len(), len as u64);
    }
    // The whole file still opens, with every record.
    let store = open(dir.path(), Persistence::Full);
    assert_eq!(done(store.load_all()).unwrap().len(), 40);
}

/// A new store file appears whole under its name: created as `<file>.new` and renamed,
/// a leftover `.new` of a crash is replaced, and the store says it was created.
#[test]
fn a_new_store_is_created_whole_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let leftover = dir.path().join(format!("{FILE}.new"));
    std::fs::write(&leftover, b"half a header").unwrap();
    let backend = RedbStore::open(dir.path(), FILE).unwrap();
    assert!(backend.created());
    assert!(!leftover.exists(), "the leftover was used and renamed");
    drop(backend);
    let backend = RedbStore::open(dir.path(), FILE).unwrap();
    assert!(!backend.created(), "the second open found the file");
}

#[test]
fn open_in_a_missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = RedbStore::open(&dir.path().join("absent"), FILE).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
}

/// Environment variable that turns [`crash_child`] into the writer of the crash test.
const CRASH_DIR: &str = "MIP6_STORE_CRASH_DIR";

/// Child half of [`puts_that_returned_survive_an_abort`]; a no-op in a normal run.
/// Writes records 1, 2, … from a thread, printing `PUT n` after the n-th put
/// returns, while the main thread aborts the process at a moment that usually falls
/// inside a commit.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let store = open(Path::new(&dir), Persistence::Full);
    std::thread::spawn(move || {
        for n in 1..=u16::MAX {
            done(store.put(&record(n))).unwrap();
            let mut out = std::io::stdout().lock();
            writeln!(out, "PUT {n}").unwrap();
            out.flush().unwrap();
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::process::abort();
}

#[test]
fn puts_that_returned_survive_an_abort() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CRASH_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "the child must have aborted");
        let completed = out
            .stdout
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("PUT ")?.parse::<u16>().ok())
            .max()
            .unwrap_or(0);
        assert!(completed > 0, "round {round}: the child completed no put");

        let store = open(dir.path(), Persistence::Full);
        let loaded = done(store.load_all()).unwrap();
        // Every put that returned is there; at most the one in flight may be too.
        assert!(
            loaded.len() == usize::from(completed) || loaded.len() == usize::from(completed) + 1,
            "round {round}: {} records after {completed} completed puts",
            loaded.len()
        );
        for n in 1..=completed {
            assert!(
                loaded.contains(&record(n)),
                "round {round}: record {n} lost"
            );
        }
    }
}

/// A write behind (`Store::put_many_behind`) runs on tokio's blocking threads and is
/// durable once its handle completes: a reopened store holds it, the last record of a
/// key kept. Outside a runtime the rows are written in the call instead.
#[test]
fn a_write_behind_is_durable_when_its_handle_completes() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut newer = record(1);
    newer.mark += 3;
    {
        let store = open(dir.path(), Persistence::Full);
        let write = runtime
            .block_on(store.put_many_behind(&[record(1), record(2), newer.clone()]))
            .unwrap()
            .expect("redb writes behind inside a runtime");
        runtime.block_on(write).unwrap().unwrap();
        // Outside a runtime: written in the call, no handle.
        assert!(done(store.put_many_behind(&[record(3)])).unwrap().is_none());
    }
    let store = open(dir.path(), Persistence::Full);
    assert_eq!(
        done(store.load_all()).unwrap(),
        vec![newer, record(2), record(3)]
    );
}
