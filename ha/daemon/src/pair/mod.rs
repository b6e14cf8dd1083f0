//! Two home agents on one home link, one active and one standby, sharing their state
//! in etcd (issue 13, item 5). Configured by the `[pair]` table; without it the home
//! agent runs alone on its embedded store.
//!
//! - **Election** ([`Candidate`]): one leader key, `<prefix>leader`, holds the active
//!   home agent's token (its name and 64 random bits). A standby reads it every
//!   heartbeat and takes it over by a compare-and-set transaction when it has not
//!   changed for the hold time, or is gone ([`hold`] says why that is safe and why
//!   it is not an etcd lease).
//! - **Active** ([`Leadership`]): a task rewrites the key every heartbeat, on condition
//!   that it still holds the token; when it cannot confirm that within
//!   [`hold::Timing::fence_after`], or finds the key taken, it reports the loss and
//!   the daemon stops at once, sending nothing more (a partition from etcd ends the
//!   same way as losing the key). Its state store writes are fenced by the same key
//!   ([`mip6_daemon::store::etcd`]): not one lands after a takeover.
//! - **State**: every record of the engine (bindings, key generations with their
//!   secrets, sequence-number marks, replay tops) and the mobile nodes provisioned at
//!   run time live under `<prefix>records/`; the new active home agent reads them
//!   after its takeover committed, so it resumes every sequence number above the
//!   marks the old one stored before it sealed under them (invariant 2): no (key,
//!   nonce) repeats, no mobile node re-initializes.
//! - **Takeover on the link**: the new active home agent adds the home agent's
//!   address to its home interface, announces it and every bound home address with
//!   unsolicited Neighbor Advertisements (`HomeAgent::announce_home_link`), and
//!   installs the routes of the bindings, as at any start from the store.
//! - **Graceful stop**: the active one removes its routes and address, then deletes
//!   the key, so the standby takes over at its next read, without a hold time.
//!
//! - **A killed active home agent's address**: its host's kernel keeps the address
//!   after a `kill -9`; the new active one's advertisements (O set) override the
//!   link's caches, and the home agent started again on that host as a standby
//!   removes the address before it waits (`start::drop_leftover_address`).
//!
//! - **The standby's control socket** ([`StandbyControl`]): `status` says which home
//!   agent is active and whether etcd answers; other commands are refused. Its file
//!   is removed at the takeover, before the active shell binds the same path.
//!
//! Not supported: TLS to etcd.

pub mod hold;

use core::time::Duration;

use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use mip6_daemon::clock;
use mip6_daemon::control::{ControlRequest, ControlServer};
use mip6_daemon::signals::{Caught, Shutdown};
use mip6_daemon::store::etcd::{Cluster, EtcdStore, Fence};
use mip6_daemon::store::StoreError;
use mip6_wire::Time;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use mip6_daemon::config::ConfigDuration;

use self::hold::{ActiveClock, Timing, Verdict, Watcher};

/// The `[pair]` table of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairConfig {
    /// This home agent's name in the pair (logs, the leader key's value).
    pub name: String,
    /// etcd's client URLs, e.g. `["http://[2001:db8:1::fe]:2379"]`.
    pub etcd: Vec<String>,
    /// Where the pair keeps its keys in etcd (default `/mip6/ha/`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How often the active home agent confirms it is active (default 100 ms).
    pub heartbeat: Option<ConfigDuration>,
    /// How long the standby waits for a confirmation before it takes over (default
    /// 500 ms; at least three heartbeats).
    pub hold_time: Option<ConfigDuration>,
}

fn default_prefix() -> String {
    "/mip6/ha/".to_owned()
}

impl PairConfig {
    /// The timers, with their defaults.
    pub fn timing(&self) -> Timing {
        Timing {
            heartbeat: self.heartbeat.map_or(Timing::DEFAULT.heartbeat, |d| d.0),
            hold: self.hold_time.map_or(Timing::DEFAULT.hold, |d| d.0),
        }
    }

    /// The leader key.
    pub fn leader_key(&self) -> Vec<u8> {
        format!("{}leader", self.prefix).into_bytes()
    }

    /// The prefix of the state store's rows.
    pub fn records_prefix(&self) -> String {
        format!("{}records/", self.prefix)
    }

    /// What is wrong with the table, if anything.
    pub fn check(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.chars().any(char::is_whitespace) {
            return Err(format!(
                "name {:?} must be non-empty, without white space",
                self.name
            ));
        }
        if self.etcd.is_empty() {
            return Err("etcd: no endpoint".to_owned());
        }
        if let Some(bad) = self.etcd.iter().find(|e| !e.starts_with("http://")) {
            return Err(format!(
                "etcd endpoint {bad:?}: want http://HOST:PORT (TLS is not supported)"
            ));
        }
        if !self.prefix.starts_with('/') || !self.prefix.ends_with('/') {
            return Err(format!(
                "prefix {:?} must start and end with '/'",
                self.prefix
            ));
        }
        self.timing().check()
    }
}

/// A home agent of the pair that is not (yet) active.
pub struct Candidate {
    kv: Cluster,
    config: PairConfig,
    token: Vec<u8>,
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl Candidate {
    /// Connects to etcd; `nonce` makes this run's token unique (a restarted home
    /// agent of the same name is another holder).
    pub async fn connect(config: &PairConfig, nonce: u64) -> Result<Self, StoreError> {
        Ok(Candidate {
            kv: Cluster::connect(&config.etcd).await?,
            config: config.clone(),
            token: format!("{} {nonce:016x}", config.name).into_bytes(),
        })
    }

    /// The state store every active home agent of the pair shares, its writes fenced
    /// by `leadership`.
    pub fn store(&self, leadership: &Leadership) -> EtcdStore {
        EtcdStore::with_cluster(&self.kv, &self.config.records_prefix())
            .fenced_by(leadership.fence())
    }

    /// Stays standby until this home agent holds the leader key (module docs);
    /// `None` if a stop signal came first. etcd being unreachable is no error: the
    /// standby keeps trying, and says so. Meanwhile `standby` answers on the control
    /// socket (its file is removed before this returns, for the active shell's).
    pub async fn wait_for_leadership(
        &mut self,
        shutdown: &mut Shutdown,
        mut standby: StandbyControl,
    ) -> Option<Leadership> {
        let timing = self.config.timing();
        let key = self.config.leader_key();
        let mut watcher = Watcher::new(timing);
        let mut active_seen: Option<Vec<u8>> = None;
        let mut unreachable_since: Option<Time> = None;
        let started = clock::now();
        loop {
            let now = clock::now();
            match self.kv.get(timing.heartbeat * 2, key.clone(), None).await {
                Ok(resp) => {
                    if unreachable_since.take().is_some() {
                        tracing::info!("etcd answers again");
                    }
                    let entry = resp.kvs().first();
                    let holder = entry.map(|e| e.value().to_vec());
                    if holder != active_seen {
                        match &holder {
                            Some(h) => tracing::info!(
                                active = %String::from_utf8_lossy(h),
                                "standby: another home agent is active"
                            ),
                            None => tracing::info!("standby: no home agent is active"),
                        }
                        active_seen = holder;
                    }
                    let verdict = watcher.observe(now, entry.map(|e| e.mod_revision()));
                    if let Verdict::TakeOver { expected_revision } = verdict {
                        let sent = clock::now();
                        match self.take_over(expected_revision).await {
                            Ok(true) => {
                                tracing::info!(
                                    name = %self.config.name,
                                    "taking over: this home agent is now the active one"
                                );
                                return Some(self.lead(sent));
                            }
                            Ok(false) => {
                                tracing::info!("takeover lost: the key changed meanwhile");
                            }
                            Err(e) => tracing::warn!(error = %e, "takeover failed"),
                        }
                    }
                }
                Err(e) => {
                    if unreachable_since.is_none() {
                        tracing::warn!(error = %e, "standby: etcd does not answer; still trying");
                        unreachable_since = Some(now);
                    }
                }
            }
            let wake = tokio::time::sleep(timing.heartbeat);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    caught = shutdown.next() => match caught {
                        Caught::Stop(signal) => {
                            tracing::info!(signal, "standby: stopping");
                            return None;
                        }
                        Caught::Reload => tracing::info!("standby: SIGHUP ignored until active"),
                        Caught::Ignored(signal) => tracing::info!(signal, "signal ignored"),
                    },
                    Some(request) = standby.next() => {
                        let answer = standby.answer(
                            &request.command,
                            &self.config.name,
                            active_seen.as_deref(),
                            unreachable_since.is_none(),
                            clock::now().saturating_since(started),
                        );
                        let _ = request.reply.send(answer);
                    }
                    () = &mut wake => break,
                }
            }
        }
    }

    /// The takeover transaction: the key is still at `expected_revision` (or absent).
    async fn take_over(
        &mut self,
        expected_revision: Option<i64>,
    ) -> Result<bool, etcd_client::Error> {
        let key = self.config.leader_key();
        let condition = match expected_revision {
            Some(rev) => Compare::mod_revision(key.clone(), CompareOp::Equal, rev),
            None => Compare::create_revision(key.clone(), CompareOp::Equal, 0),
        };
        let txn =
            Txn::new()
                .when([condition])
                .and_then([TxnOp::put(key, self.token.clone(), None)]);
        let resp = self.kv.txn(self.config.timing().heartbeat * 2, txn).await?;
        Ok(resp.succeeded())
    }

    /// Starts the heartbeat of a home agent whose takeover, sent at `sent`, succeeded.
    fn lead(&self, sent: Time) -> Leadership {
        let (tx, rx) = watch::channel(None);
        let timing = self.config.timing();
        let heartbeat = Heartbeat {
            kv: self.kv.clone(),
            key: self.config.leader_key(),
            token: self.token.clone(),
            timing,
            clock: ActiveClock::new(timing, sent),
            lost: tx,
        };
        let task = tokio::spawn(heartbeat.run());
        Leadership {
            lost: rx,
            task,
            kv: self.kv.clone(),
            key: self.config.leader_key(),
            token: self.token.clone(),
        }
    }
}

/// The standby's control socket (the daemon's `control_socket`): `status` says it is
/// the standby and which home agent is active; every other command is refused with
/// that answer, since a standby serves no mobile node.
pub struct StandbyControl {
    server: Option<(ControlServer, mpsc::Receiver<ControlRequest>)>,
    address: std::net::Ipv6Addr,
}

impl std::fmt::Debug for StandbyControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandbyControl")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl StandbyControl {
    /// Binds `path` (a standby that cannot is still a standby: it says so and goes
    /// on without one); `address` is the pair's home agent address, for `status`.
    pub fn bind(path: &std::path::Path, address: std::net::Ipv6Addr) -> StandbyControl {
        let server = match mip6_daemon::control::serve(path) {
            Ok(served) => Some(served),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "standby: no control socket");
                None
            }
        };
        StandbyControl { server, address }
    }

    async fn next(&mut self) -> Option<ControlRequest> {
        match &mut self.server {
            Some((_, requests)) => requests.recv().await,
            None => std::future::pending().await,
        }
    }

    /// The answer to `command`: for `status`, the standby's state
    /// (`{"role":"ha","address":…,"uptime_s":…,"pair":{"state":"standby","name":…,
    /// "active":<the leader key's token or null>,"etcd":"answers"|"unreachable"}}`);
    /// for anything else an `error` naming the standby.
    fn answer(
        &self,
        command: &str,
        name: &str,
        active: Option<&[u8]>,
        etcd_answers: bool,
        uptime: Duration,
    ) -> serde_json::Value {
        let active = active.map(|t| String::from_utf8_lossy(t).into_owned());
        if command != "status" {
            return serde_json::json!({
                "error": format!(
                    "{name} is the standby of a home agent pair and serves no mobile node \
                     (active: {}); ask the active home agent",
                    active.as_deref().unwrap_or("none")
                )
            });
        }
        serde_json::json!({
            "role": "ha",
            "address": self.address.to_string(),
            "uptime_s": uptime.as_secs_f64(),
            "pair": {
                "state": "standby",
                "name": name,
                "active": active,
                "etcd": if etcd_answers { "answers" } else { "unreachable" },
            },
        })
    }
}

/// This home agent is the active one: the heartbeat runs until it is lost or
/// [`Leadership::resign`]ed (module docs).
pub struct Leadership {
    lost: watch::Receiver<Option<String>>,
    task: tokio::task::JoinHandle<()>,
    kv: Cluster,
    key: Vec<u8>,
    token: Vec<u8>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("token", &String::from_utf8_lossy(&self.token))
            .finish_non_exhaustive()
    }
}

impl Leadership {
    /// This home agent's token in the leader key (`<name> <64 random bits>`).
    pub fn token(&self) -> String {
        String::from_utf8_lossy(&self.token).into_owned()
    }

    /// What this home agent's store writes are conditioned on.
    pub fn fence(&self) -> Fence {
        Fence {
            key: self.key.clone(),
            value: self.token.clone(),
        }
    }

    /// Resolves when this home agent is no longer active, with the reason: it must
    /// stop sending at once.
    pub async fn lost(&mut self) -> String {
        loop {
            if let Some(why) = self.lost.borrow_and_update().clone() {
                return why;
            }
            if self.lost.changed().await.is_err() {
                return "the heartbeat task ended".to_owned();
            }
        }
    }

    /// Stops the heartbeat and deletes the leader key if it still holds this home
    /// agent's token, so the standby takes over at once. Call it after everything
    /// this home agent put on the link is removed.
    pub async fn resign(self) {
        self.task.abort();
        let condition = Compare::value(self.key.clone(), CompareOp::Equal, self.token.clone());
        let txn = Txn::new()
            .when([condition])
            .and_then([TxnOp::delete(self.key.clone(), None)]);
        match self.kv.txn(Duration::from_secs(1), txn).await {
            Ok(resp) if resp.succeeded() => {
                tracing::info!("resigned: the standby may take over at once");
            }
            Ok(_) => tracing::info!("not resigned: the leader key was no longer ours"),
            Err(e) => {
                tracing::warn!(error = %e, "resigning failed: the standby takes over after its hold time")
            }
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The active home agent's heartbeat task.
struct Heartbeat {
    kv: Cluster,
    key: Vec<u8>,
    token: Vec<u8>,
    timing: Timing,
    clock: ActiveClock,
    lost: watch::Sender<Option<String>>,
}

impl Heartbeat {
    async fn run(mut self) {
        loop {
            let sent = clock::now();
            let fence_at = self.clock.fence_at();
            let left = fence_at.saturating_since(sent);
            let condition = Compare::value(self.key.clone(), CompareOp::Equal, self.token.clone());
            let txn = Txn::new().when([condition]).and_then([TxnOp::put(
                self.key.clone(),
                self.token.clone(),
                None,
            )]);
            // Each member gets at most a heartbeat (one that hangs, cut off, is left
            // for the next), all of them no longer than the time left.
            let attempt = self.timing.heartbeat.min(left);
            match tokio::time::timeout(left, self.kv.txn(attempt, txn)).await {
                Ok(Ok(resp)) if resp.succeeded() => self.clock.confirmed(sent),
                Ok(Ok(_)) => {
                    self.lose("another home agent took the leader key over".to_owned());
                    return;
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "heartbeat not confirmed"),
                Err(_) => {}
            }
            let now = clock::now();
            if self.clock.is_fenced(now) {
                self.lose(format!(
                    "no heartbeat confirmed by etcd for {:?}: the standby may take over",
                    self.timing.fence_after()
                ));
                return;
            }
            let next = (sent + self.timing.heartbeat).min(self.clock.fence_at());
            tokio::time::sleep(next.saturating_since(now)).await;
        }
    }

    fn lose(&self, why: String) {
        tracing::error!(reason = %why, "lost the pair's leader key: stopping at once");
        let _ = self.lost.send(Some(why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PairConfig {
        PairConfig {
            name: "ha-a".into(),
            etcd: vec!["http://[2001:db8:1::fe]:2379".into()],
            prefix: default_prefix(),
            heartbeat: None,
            hold_time: None,
        }
    }

    #[test]
    fn the_standby_says_who_is_active_and_refuses_the_rest() {
        let standby = StandbyControl {
            server: None,
            address: "2001:db8:1::1".parse().unwrap(),
        };
        let status = standby.answer(
            "status",
            "ha-b",
            Some(b"ha-a 00ff".as_slice()),
            true,
            Duration::from_millis(1500),
        );
        assert_eq!(status["pair"]["state"], "standby");
        assert_eq!(status["pair"]["name"], "ha-b");
        assert_eq!(status["pair"]["active"], "ha-a 00ff");
        assert_eq!(status["pair"]["etcd"], "answers");
        assert_eq!(status["address"], "2001:db8:1::1");
        assert_eq!(status["uptime_s"], 1.5);
        let text = crate::status::render_text(&status);
        assert!(
            text.contains("standby ha-b (active: ha-a 00ff; etcd answers)"),
            "{text}"
        );
        assert!(!text.contains("bindings"), "{text}");
        let alone = standby.answer("status", "ha-b", None, false, Duration::ZERO);
        assert_eq!(alone["pair"]["active"], serde_json::Value::Null);
        assert_eq!(alone["pair"]["etcd"], "unreachable");
        let refused = standby.answer("mn list", "ha-b", Some(b"ha-a 00ff"), true, Duration::ZERO);
        let why = refused["error"].as_str().expect("an error");
        assert!(
            why.contains("standby") && why.contains("ha-a 00ff"),
            "{why}"
        );
    }

    #[test]
    fn the_pair_table_is_checked() {
        assert!(config().check().is_ok());
        assert_eq!(config().leader_key(), b"/mip6/ha/leader");
        assert_eq!(config().records_prefix(), "/mip6/ha/records/");
        let bad = |f: fn(&mut PairConfig), want: &str| {
            let mut c = config();
            f(&mut c);
            let e = c.check().unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        bad(|c| c.name = String::new(), "name");
        bad(|c| c.name = "ha a".into(), "white space");
        bad(|c| c.etcd.clear(), "no endpoint");
        bad(|c| c.etcd = vec!["https://x:2379".into()], "TLS");
        bad(|c| c.prefix = "mip6".into(), "prefix");
        bad(
            |c| c.hold_time = Some(ConfigDuration(Duration::from_millis(200))),
            "three heartbeats",
        );
    }
}
