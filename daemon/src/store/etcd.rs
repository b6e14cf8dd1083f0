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

/// How long a request may take before it is an error (the daemon sends nothing an
/// engine queued after a `Persist` until the store has answered).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`RecordStore`] in etcd under a key prefix (module docs).
#[derive(Clone)]
pub struct EtcdStore {
    kv: KvClient,
    prefix: Vec<u8>,
    fence: Option<Fence>,
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
        Ok(Self::with_client(&connect(endpoints).await?, prefix))
    }

    /// A store under `prefix` on a client already connected ([`connect`]).
    pub fn with_client(client: &Client, prefix: &str) -> Self {
        EtcdStore {
            kv: client.kv_client(),
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
        let mut kv = self.kv.clone();
        if compares.is_empty() {
            kv.txn(Txn::new().and_then(ops)).await.map_err(backend)?;
            return Ok(true);
        }
        let has_condition = compares.len() > usize::from(self.fence.is_some());
        // When the comparison fails, read the fence key back to tell a lost fence from
        // a condition that did not hold.
        let mut otherwise = Vec::new();
        if let Some(f) = &self.fence {
            otherwise.push(TxnOp::get(f.key.clone(), None));
        }
        let resp = kv
            .txn(Txn::new().when(compares).and_then(ops).or_else(otherwise))
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
        let mut kv = self.kv.clone();
        let end = prefix_end(&self.prefix);
        let mut from = self.prefix.clone();
        let mut rows = Vec::new();
        loop {
            let resp = kv
                .get(
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

    async fn put_batch(&self, rows: &[Row]) -> Result<(), StoreError> {
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

/// Connects to the etcd cluster at `endpoints` (`http://host:port`) with the store's
/// timeouts ([`REQUEST_TIMEOUT`]). Needs a tokio runtime.
pub async fn connect(endpoints: &[String]) -> Result<Client, StoreError> {
    let options = ConnectOptions::new()
        .with_connect_timeout(REQUEST_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT);
    Client::connect(endpoints, Some(options))
        .await
        .map_err(backend)
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
    use super::prefix_end;

    #[test]
    fn a_prefix_range_ends_after_its_last_key() {
        assert_eq!(prefix_end(b"/mip6/ha/"), b"/mip6/ha0".to_vec());
        assert_eq!(prefix_end(&[0x61, 0xff]), vec![0x62]);
        assert_eq!(prefix_end(&[0xff, 0xff]), vec![0]);
    }
}
