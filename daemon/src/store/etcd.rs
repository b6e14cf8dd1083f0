//! [`RecordStore`] on etcd v3 (the `etcd-client` crate, gRPC): the store two home
//! agents share (issue 13, item 5), so that a standby that takes over finds every
//! binding, key generation and sequence-number reservation the active one made durable.
//!
//! - Every row lives under one key prefix (`<prefix>` + the row's key octets), so one
//!   etcd cluster can hold several stores. [`RecordStore::load_all`] is one range read
//!   of the prefix, which etcd returns sorted by key.
//! - A write is durable when etcd answers: etcd acknowledges a request once the Raft
//!   log entry is committed on a quorum and fsynced.
//! - [`RecordStore::put_batch`] is one transaction of puts per [`MAX_TXN_OPS`] rows
//!   (etcd refuses larger transactions by default, `--max-txn-ops 128`): each chunk is
//!   all or none; a batch larger than that is not atomic as a whole. Every row is one
//!   mobile node's whole record, so a row is never half written either way.
//! - [`RecordStore::compare_and_set`] is a transaction comparing the row's value (or,
//!   for `expected = None`, its create revision with 0: the key does not exist) before
//!   the put: two home agents reserving sequence-number blocks from one row can never
//!   both win the same block.
//!
//! - **Fencing**: a store given a fence ([`EtcdStore::fenced_by`], the home agent
//!   pair's leader key and this home agent's token) makes every write a transaction
//!   that first compares the leader key's value with the token: once another home
//!   agent has taken the key over, no write of this one lands (the write fails with
//!   [`StoreError::Fenced`]). The new active home agent reads the rows only after its
//!   takeover committed, so it sees every write the old one made and the old one can
//!   reserve no sequence-number block after that: the two never seal the same
//!   (key, sequence number).
//! - [`RecordStore::load_all`] reads in pages of [`PAGE_ROWS`] rows (a response of
//!   100 000 records in one piece would pass gRPC's and etcd's message limits).
//!
//! Not supported: TLS and authentication to etcd (lab only for now).

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, KvClient, SortOrder, SortTarget, Txn,
    TxnOp,
};

use super::{RecordStore, Row, StoreError};

/// Rows per transaction: etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

/// Rows per read of [`RecordStore::load_all`].
pub const PAGE_ROWS: i64 = 1000;

/// Up to this many keys, [`RecordStore::load_keys`] asks etcd for each; above, it
/// reads the whole prefix in pages and keeps those.
const KEYED_READS: usize = 64;

/// How long a request may take before it is an error (the daemon sends nothing an
/// engine queued after a `Persist` until the store has answered).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`RecordStore`] in etcd under a key prefix (module docs).
#[derive(Clone)]
pub struct EtcdStore {
    kv: Cluster,
    prefix: Vec<u8>,
    fence: Option<Fence>,
}

/// One client per etcd member, tried in turn: a request that fails on one member
/// (killed, restarting, without a leader) goes to the next at once. etcd-client's own
/// balanced channel over several endpoints kept sending to a killed member (every
/// request "connection refused" until its reconnect), which cost the active home agent
/// of a pair its leader key when one member of three went down (measured in the lab
/// test of member loss). A request that failed may still have been applied; every
/// request the daemons retry is idempotent (a put of the same rows, a heartbeat).
#[derive(Clone)]
pub struct Cluster {
    members: std::sync::Arc<[KvClient]>,
    current: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A client for each of `endpoints` (`http://host:port`), with the store's
    /// timeouts ([`REQUEST_TIMEOUT`]); a member answers only while it has a Raft
    /// leader. Connects lazily: a member down now is tried when asked. Needs a tokio
    /// runtime.
    pub async fn connect(endpoints: &[String]) -> Result<Self, StoreError> {
        let mut members = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let options = ConnectOptions::new()
                .with_connect_timeout(REQUEST_TIMEOUT)
                .with_timeout(REQUEST_TIMEOUT)
                .with_require_leader(true);
            let client = Client::connect([endpoint], Some(options))
                .await
                .map_err(backend)?;
            members.push(client.kv_client());
        }
        if members.is_empty() {
            return Err(StoreError::Backend("no etcd endpoint".into()));
        }
        Ok(Cluster {
            members: members.into(),
            current: Default::default(),
        })
    }

    /// Runs `call` on the member that last answered, then on each other member in
    /// turn until one answers (each attempt within `attempt`); the last error if none
    /// does.
    pub async fn call<T, F, Fut>(&self, attempt: Duration, call: F) -> Result<T, etcd_client::Error>
    where
        F: Fn(KvClient) -> Fut,
        Fut: core::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        use std::sync::atomic::Ordering;
        let n = self.members.len();
        let first = self.current.load(Ordering::Relaxed) % n;
        let mut last = None;
        for i in (0..n).map(|k| (first + k) % n) {
            match tokio::time::timeout(attempt, call(self.members[i].clone())).await {
                Ok(Ok(out)) => {
                    self.current.store(i, Ordering::Relaxed);
                    return Ok(out);
                }
                Ok(Err(e)) => last = Some(e),
                Err(_) => {
                    last = Some(etcd_client::Error::InvalidArgs(format!(
                        "no answer from etcd member {i} within {attempt:?}"
                    )));
                }
            }
        }
        Err(last.unwrap_or_else(|| etcd_client::Error::InvalidArgs("no etcd member".into())))
    }

    /// A transaction ([`Cluster::call`]).
    pub async fn txn(
        &self,
        attempt: Duration,
        txn: Txn,
    ) -> Result<etcd_client::TxnResponse, etcd_client::Error> {
        self.call(attempt, |mut kv| {
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
        .await
    }

    /// A read ([`Cluster::call`]).
    pub async fn get(
        &self,
        attempt: Duration,
        key: Vec<u8>,
        options: Option<GetOptions>,
    ) -> Result<etcd_client::GetResponse, etcd_client::Error> {
        self.call(attempt, |mut kv| {
            let (key, options) = (key.clone(), options.clone());
            async move { kv.get(key, options).await }
        })
        .await
    }
}

/// A leader key and the value it must hold for a write to land (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The full etcd key.
    pub key: Vec<u8>,
    /// The value this writer holds it with.
    pub value: Vec<u8>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("prefix", &String::from_utf8_lossy(&self.prefix))
            .finish_non_exhaustive()
    }
}

fn backend(e: etcd_client::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

impl EtcdStore {
    /// Connects to the etcd cluster at `endpoints` (`http://host:port`) and keeps rows
    /// under `prefix` (e.g. `/mip6/ha/records/`). Needs a tokio runtime.
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<Self, StoreError> {
        Ok(Self::with_cluster(
            &Cluster::connect(endpoints).await?,
            prefix,
        ))
    }

    /// A store under `prefix` on clients already made ([`Cluster::connect`]).
    pub fn with_cluster(cluster: &Cluster, prefix: &str) -> Self {
        EtcdStore {
            kv: cluster.clone(),
            prefix: prefix.as_bytes().to_vec(),
            fence: None,
        }
    }

    /// This store with every write conditioned on `fence` (module docs).
    pub fn fenced_by(mut self, fence: Fence) -> Self {
        self.fence = Some(fence);
        self
    }

    /// Runs `ops` as one transaction, under the fence if there is one; with `condition`
    /// beside it. `Ok(false)`: `condition` did not hold.
    async fn txn(&self, condition: Option<Compare>, ops: Vec<TxnOp>) -> Result<bool, StoreError> {
        let mut compares: Vec<Compare> = condition.into_iter().collect();
        if let Some(f) = &self.fence {
            compares.push(Compare::value(
                f.key.clone(),
                CompareOp::Equal,
                f.value.clone(),
            ));
        }
        if compares.is_empty() {
            self.kv
                .txn(REQUEST_TIMEOUT, Txn::new().and_then(ops))
                .await
                .map_err(backend)?;
            return Ok(true);
        }
        let has_condition = compares.len() > usize::from(self.fence.is_some());
        // When the comparison fails, read the fence key back to tell a lost fence from
        // a condition that did not hold.
        let mut otherwise = Vec::new();
        if let Some(f) = &self.fence {
            otherwise.push(TxnOp::get(f.key.clone(), None));
        }
        let resp = self
            .kv
            .txn(
                REQUEST_TIMEOUT,
                Txn::new().when(compares).and_then(ops).or_else(otherwise),
            )
            .await
            .map_err(backend)?;
        if resp.succeeded() {
            return Ok(true);
        }
        if let Some(f) = &self.fence {
            let holds = resp.op_responses().into_iter().any(|op| match op {
                etcd_client::TxnOpResponse::Get(get) => {
                    get.kvs().first().is_some_and(|kv| kv.value() == f.value)
                }
                _ => false,
            });
            if !holds || !has_condition {
                return Err(StoreError::Fenced);
            }
        }
        Ok(false)
    }

    fn full_key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + key.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(key);
        k
    }
}

impl RecordStore for EtcdStore {
    async fn load_all(&self) -> Result<Vec<Row>, StoreError> {
        let end = prefix_end(&self.prefix);
        let mut from = self.prefix.clone();
        let mut rows = Vec::new();
        loop {
            let resp = self
                .kv
                .get(
                    REQUEST_TIMEOUT,
                    from.clone(),
                    Some(
                        GetOptions::new()
                            .with_range(end.clone())
                            .with_limit(PAGE_ROWS)
                            .with_sort(SortTarget::Key, SortOrder::Ascend),
                    ),
                )
                .await
                .map_err(backend)?;
            rows.extend(resp.kvs().iter().map(|entry| Row {
                key: entry.key()[self.prefix.len()..].to_vec(),
                value: entry.value().to_vec(),
            }));
            match resp.kvs().last() {
                Some(last) if resp.more() => {
                    from = last.key().to_vec();
                    from.push(0);
                }
                _ => return Ok(rows),
            }
        }
    }

    async fn load_keys(&self, keys: &[Vec<u8>]) -> Result<Vec<Row>, StoreError> {
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        let keys: Vec<&Vec<u8>> = keys.iter().filter(|k| seen.insert(k.as_slice())).collect();
        if keys.len() > KEYED_READS {
            // One paged range read beats thousands of round trips.
            let wanted: std::collections::HashMap<&[u8], usize> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.as_slice(), i))
                .collect();
            let mut rows: Vec<(usize, Row)> = self
                .load_all()
                .await?
                .into_iter()
                .filter_map(|row| wanted.get(row.key.as_slice()).map(|&i| (i, row)))
                .collect();
            rows.sort_by_key(|(i, _)| *i);
            return Ok(rows.into_iter().map(|(_, row)| row).collect());
        }
        let mut rows = Vec::new();
        for key in keys {
            let resp = self
                .kv
                .get(REQUEST_TIMEOUT, self.full_key(key), None)
                .await
                .map_err(backend)?;
            if let Some(entry) = resp.kvs().first() {
                rows.push(Row {
                    key: key.clone(),
                    value: entry.value().to_vec(),
                });
            }
        }
        Ok(rows)
    }

    async fn put_batch(&self, rows: &[Row]) -> Result<(), StoreError> {
        // etcd refuses a transaction that names a key twice; of several rows of one
        // key the last one stays (the trait's rule), so only it is sent.
        let rows = last_of_each_key(rows);
        for chunk in rows.chunks(MAX_TXN_OPS) {
            let puts: Vec<TxnOp> = chunk
                .iter()
                .map(|r| TxnOp::put(self.full_key(&r.key), r.value.clone(), None))
                .collect();
            self.txn(None, puts).await?;
        }
        Ok(())
    }

    async fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        let key = self.full_key(key);
        // Whether it was there: the same transaction deletes it only if it exists.
        let exists = Compare::create_revision(key.clone(), CompareOp::Greater, 0);
        self.txn(Some(exists), vec![TxnOp::delete(key, None)]).await
    }

    async fn compare_and_set(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let key = self.full_key(key);
        let condition = match expected {
            Some(value) => Compare::value(key.clone(), CompareOp::Equal, value.to_vec()),
            None => Compare::create_revision(key.clone(), CompareOp::Equal, 0),
        };
        self.txn(Some(condition), vec![TxnOp::put(key, new.to_vec(), None)])
            .await
    }
}

/// The rows of `rows` that no later row of the same key replaces, in their order.
fn last_of_each_key(rows: &[Row]) -> Vec<&Row> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<&Row> = rows
        .iter()
        .rev()
        .filter(|r| seen.insert(r.key.as_slice()))
        .collect();
    kept.reverse();
    kept
}

/// The first key after every key that starts with `prefix` (etcd's range end of a
/// prefix read).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): to the end of the key space.
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::{last_of_each_key, prefix_end, Row};

    #[test]
    fn of_several_rows_of_one_key_the_last_is_written() {
        let row = |k: &[u8], v: &[u8]| Row {
            key: k.to_vec(),
            value: v.to_vec(),
        };
        let rows = [row(b"a", b"1"), row(b"b", b"1"), row(b"a", b"2")];
        let kept: Vec<&Row> = last_of_each_key(&rows);
        assert_eq!(kept, [&rows[1], &rows[2]]);
    }

    #[test]
    fn a_prefix_range_ends_after_its_last_key() {
        assert_eq!(prefix_end(b"/mip6/ha/"), b"/mip6/ha0".to_vec());
        assert_eq!(prefix_end(&[0x61, 0xff]), vec![0x62]);
        assert_eq!(prefix_end(&[0xff, 0xff]), vec![0]);
    }
}
