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
//! Not supported: TLS and authentication to etcd (lab only for now), leases and leader
//! election (the pair's active/standby logic comes on top of this store).

use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, KvClient, Txn, TxnOp};

use super::{RecordStore, Row, StoreError};

/// Rows per transaction: etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

/// How long a request may take before it is an error (the daemon sends nothing an
/// engine queued after a `Persist` until the store has answered).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`RecordStore`] in etcd under a key prefix (module docs).
#[derive(Clone)]
pub struct EtcdStore {
    kv: KvClient,
    prefix: Vec<u8>,
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
        let options = ConnectOptions::new()
            .with_connect_timeout(REQUEST_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(backend)?;
        Ok(EtcdStore {
            kv: client.kv_client(),
            prefix: prefix.as_bytes().to_vec(),
        })
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
        let resp = kv
            .get(self.prefix.clone(), Some(GetOptions::new().with_prefix()))
            .await
            .map_err(backend)?;
        Ok(resp
            .kvs()
            .iter()
            .map(|entry| Row {
                key: entry.key()[self.prefix.len()..].to_vec(),
                value: entry.value().to_vec(),
            })
            .collect())
    }

    async fn put_batch(&self, rows: &[Row]) -> Result<(), StoreError> {
        let mut kv = self.kv.clone();
        for chunk in rows.chunks(MAX_TXN_OPS) {
            let puts: Vec<TxnOp> = chunk
                .iter()
                .map(|r| TxnOp::put(self.full_key(&r.key), r.value.clone(), None))
                .collect();
            kv.txn(Txn::new().and_then(puts)).await.map_err(backend)?;
        }
        Ok(())
    }

    async fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        let mut kv = self.kv.clone();
        let resp = kv.delete(self.full_key(key), None).await.map_err(backend)?;
        Ok(resp.deleted() > 0)
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
        let mut kv = self.kv.clone();
        let resp = kv
            .txn(
                Txn::new()
                    .when([condition])
                    .and_then([TxnOp::put(key, new.to_vec(), None)]),
            )
            .await
            .map_err(backend)?;
        Ok(resp.succeeded())
    }
}
