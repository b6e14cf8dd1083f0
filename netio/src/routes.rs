//! Routes, proxy NDP and source rules over rtnetlink (rtnetlink(7)), and the IPv6 sysctls
//! the HA and MN need (`Documentation/networking/ip-sysctl.rst`), each undone on cleanup.
//!
//! - HA: a /128 route for each bound HoA toward the TUN, so the kernel hands packets for
//!   the HoA to the daemon; a proxy neighbour entry for the HoA on the home link so the HA
//!   answers neighbour solicitations for it (RFC 6275 §10.4.1); `forwarding` on (proxy NDP
//!   answers only with forwarding on) and `proxy_ndp` 1 with `proxy_delay` 0 on the home
//!   link, or the first packet to a HoA waits up to 0.8 s (docs/architecture.md, measured facts).
//! - MN: a source rule `from <HoA> lookup <table>` and a default route in that table toward
//!   its TUN, so traffic sourced from the HoA is reverse-tunnelled (RFC 6275 §11.3.1).
//!
//! Everything [`NetConfig`] adds it records, and [`NetConfig::cleanup`] undoes in reverse
//! order (sysctls restored to the value read before). If the value is dropped without
//! `cleanup`, `Drop` undoes the same on a helper thread with a fresh netlink connection
//! and a private tokio runtime, so it works inside or outside the daemon's runtime; the
//! helper thread first enters the network namespace [`NetConfig::new`] was called in.
//!
//! **Sysctl journal** ([`NetConfig::set_sysctl_journal`]): the value a sysctl had before
//! the first change is also written to a file (and synced) before the change, and the
//! file is removed once cleanup has restored them. A daemon killed with SIGKILL leaves
//! the file behind; the next start reads its originals from it instead of taking the
//! killed run's values for them, so the host gets back what it had before the first
//! start (issue 13: a restarted HA used to leave `forwarding=1` behind for good).
//!
//! Adds are idempotent: routes and neighbour entries are added with `NLM_F_REPLACE`; a rule
//! that already exists (`EEXIST`) is left alone and not recorded. Deletes of entries that
//! are already gone (`ENOENT`, `ESRCH`) succeed.
//!
//! Sysctls are files under `/proc/sys/net`, which the kernel resolves in the network
//! namespace of the thread that opens them: call [`NetConfig::sysctl`] and
//! [`NetConfig::cleanup`] from a thread in the namespace `new` ran in (any thread of a
//! daemon that never calls `setns`).
//!
//! Needs a tokio runtime ([`NetConfig::new`] spawns the netlink connection task on it),
//! and `CAP_NET_ADMIN`.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::neighbour::NeighbourFlags;
use rtnetlink::packet_route::route::RouteMessage;
use rtnetlink::packet_route::rule::RuleMessage;
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::sys::NetnsFd;
use crate::Error;

/// One thing [`NetConfig`] changed and must undo.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Undo {
    Route(RouteKey),
    ProxyNdp {
        ifindex: u32,
        addr: Ipv6Addr,
    },
    Rule(RuleKey),
    Address {
        ifindex: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
    },
    Sysctl {
        path: PathBuf,
        old: String,
    },
}

/// A route this crate adds: `dst/prefix [via gateway] dev ifindex [src source] table
/// table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RouteKey {
    dst: Ipv6Addr,
    prefix: u8,
    ifindex: u32,
    table: u32,
    gateway: Option<Ipv6Addr>,
    source: Option<Ipv6Addr>,
}

/// Which packets a policy rule ([`PolicyRule`]) selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleSelector {
    /// `from <address>/128`.
    From(Ipv6Addr),
    /// `not fwmark <mark>`: every packet but those a socket marked (`SO_MARK`).
    NotFwmark(u32),
    /// `from all`.
    All,
}

/// An IPv6 policy rule (`ip -6 rule`): `<selector> lookup <table> [suppress_prefixlength
/// <n>] priority <priority>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyRule {
    /// The packets it selects.
    pub selector: RuleSelector,
    /// The table it looks up.
    pub table: u32,
    /// Its priority (lower first).
    pub priority: u32,
    /// `suppress_prefixlength`: a route found with a prefix this long or shorter is
    /// ignored and the next rule is tried (0 skips the table's default route only).
    pub suppress_prefix_len: Option<u32>,
}

impl std::fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.selector {
            RuleSelector::From(a) => write!(f, "from {a}")?,
            RuleSelector::NotFwmark(m) => write!(f, "not fwmark {m:#x}")?,
            RuleSelector::All => f.write_str("from all")?,
        }
        write!(f, " lookup {}", self.table)?;
        if let Some(n) = self.suppress_prefix_len {
            write!(f, " suppress_prefixlength {n}")?;
        }
        write!(f, " priority {}", self.priority)
    }
}

type RuleKey = PolicyRule;

/// The main routing table (`RT_TABLE_MAIN`).
pub const TABLE_MAIN: u32 = 254;

/// The changes to undo, with O(1) record and forget (a home agent records one route
/// per binding: a scan per change made registrations quadratic, issue 13). Each live
/// change is held once, with the number of its record: the order is needed only when
/// everything is undone, newest first, and sorting then costs less than an ordered
/// list beside the index, which held every route twice (≈ 90 octets per binding at
/// 100 000 mobile nodes, issue 13's memory budget).
#[derive(Debug, Default)]
struct UndoLog {
    /// Each live change and when it was recorded (counting from 0).
    changes: std::collections::HashMap<Undo, u64>,
    /// The number of the next record.
    next: u64,
}

impl UndoLog {
    fn record(&mut self, u: Undo) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.changes.entry(u) {
            e.insert(self.next);
            self.next += 1;
        }
    }

    fn forget(&mut self, u: &Undo) {
        self.changes.remove(u);
    }

    fn has_sysctl(&self, path: &std::path::Path) -> bool {
        self.changes
            .keys()
            .any(|u| matches!(u, Undo::Sysctl { path: p, .. } if p == path))
    }

    fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Every live change, oldest first; the log is left empty.
    fn take(&mut self) -> Vec<Undo> {
        let mut live: Vec<(Undo, u64)> = std::mem::take(&mut self.changes).into_iter().collect();
        live.sort_unstable_by_key(|&(_, at)| at);
        live.into_iter().map(|(u, _)| u).collect()
    }
}

/// An rtnetlink handle plus the list of changes to undo.
pub struct NetConfig {
    handle: Handle,
    undo: UndoLog,
    /// The sysctl journal's path, if any.
    journal: Option<PathBuf>,
    netns: std::sync::Arc<NetnsFd>,
}

impl std::fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetConfig")
            .field("undo", &self.undo)
            .finish()
    }
}

impl NetConfig {
    /// Opens a netlink connection in the calling thread's network namespace and spawns its
    /// task on the current tokio runtime.
    pub fn new() -> Result<Self, Error> {
        let rt = tokio::runtime::Handle::try_current().map_err(Error::NoRuntime)?;
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(Error::sys("socket(AF_NETLINK, NETLINK_ROUTE)"))?;
        let netns = NetnsFd::current().map_err(Error::sys("open /proc/thread-self/ns/net"))?;
        rt.spawn(conn);
        Ok(NetConfig {
            handle,
            undo: UndoLog::default(),
            journal: None,
            netns: std::sync::Arc::new(netns),
        })
    }

    /// `ip -6 route replace <dst>/128 dev <ifindex> table <table>`: the HA's route for a
    /// bound HoA toward its TUN ([`TABLE_MAIN`] for the main table).
    pub async fn add_host_route(
        &mut self,
        dst: Ipv6Addr,
        ifindex: u32,
        table: u32,
    ) -> Result<(), Error> {
        self.add_route(RouteKey {
            dst,
            prefix: 128,
            ifindex,
            table,
            gateway: None,
            source: None,
        })
        .await
    }

    /// Removes a route added by [`add_host_route`](Self::add_host_route) (binding deleted).
    pub async fn remove_host_route(
        &mut self,
        dst: Ipv6Addr,
        ifindex: u32,
        table: u32,
    ) -> Result<(), Error> {
        self.remove_route(RouteKey {
            dst,
            prefix: 128,
            ifindex,
            table,
            gateway: None,
            source: None,
        })
        .await
    }

    /// `ip -6 route replace <dst>/128 dev <ifindex> table <table>` through a device
    /// this process owns and the kernel deletes when the process lets go of it (a
    /// non-persistent TUN), **not recorded for undo**: the kernel removes the route
    /// with the device, also after a `kill -9`. The home agent's route per binding
    /// (issue 13: an undo entry per bound home address cost ~90 octets per node at
    /// 100 000 nodes, for routes that go with the TUN anyway).
    pub async fn add_device_route(
        &mut self,
        dst: Ipv6Addr,
        ifindex: u32,
        table: u32,
    ) -> Result<(), Error> {
        let key = RouteKey {
            dst,
            prefix: 128,
            ifindex,
            table,
            gateway: None,
            source: None,
        };
        self.handle
            .route()
            .add(route_message(key))
            .replace()
            .execute()
            .await
            .map_err(|source| Error::Netlink {
                op: format!("add route {dst}/128"),
                source,
            })
    }

    /// Removes a route added by [`add_device_route`](Self::add_device_route).
    pub async fn remove_device_route(
        &mut self,
        dst: Ipv6Addr,
        ifindex: u32,
        table: u32,
    ) -> Result<(), Error> {
        route_del(
            &self.handle,
            RouteKey {
                dst,
                prefix: 128,
                ifindex,
                table,
                gateway: None,
                source: None,
            },
        )
        .await
    }

    /// `ip -6 route replace default dev <ifindex> table <table>`: the MN's reverse-tunnel
    /// table.
    pub async fn add_default_route(&mut self, ifindex: u32, table: u32) -> Result<(), Error> {
        self.add_route(RouteKey {
            dst: Ipv6Addr::UNSPECIFIED,
            prefix: 0,
            ifindex,
            table,
            gateway: None,
            source: None,
        })
        .await
    }

    /// Removes a route added by [`add_default_route`](Self::add_default_route).
    pub async fn remove_default_route(&mut self, ifindex: u32, table: u32) -> Result<(), Error> {
        self.remove_default_route_with(ifindex, table, None, None)
            .await
    }

    /// `ip -6 route replace default [via GATEWAY] dev IFINDEX [src SOURCE] table
    /// TABLE`: a default route that also names the preferred source (the MN's home
    /// address for every application, RFC 6724 §5 rule 4 done by routing).
    pub async fn add_default_route_with(
        &mut self,
        ifindex: u32,
        table: u32,
        gateway: Option<Ipv6Addr>,
        source: Option<Ipv6Addr>,
    ) -> Result<(), Error> {
        self.add_route(RouteKey {
            dst: Ipv6Addr::UNSPECIFIED,
            prefix: 0,
            ifindex,
            table,
            gateway,
            source,
        })
        .await
    }

    /// Removes a route added by [`add_default_route_with`](Self::add_default_route_with).
    pub async fn remove_default_route_with(
        &mut self,
        ifindex: u32,
        table: u32,
        gateway: Option<Ipv6Addr>,
        source: Option<Ipv6Addr>,
    ) -> Result<(), Error> {
        self.remove_route(RouteKey {
            dst: Ipv6Addr::UNSPECIFIED,
            prefix: 0,
            ifindex,
            table,
            gateway,
            source,
        })
        .await
    }

    /// The gateway of the main table's default route through `ifindex`, if there is
    /// one.
    pub async fn default_gateway(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, Error> {
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
        let mut filter = RouteMessageBuilder::<Ipv6Addr>::new().build();
        filter.header.table = 0;
        let mut s = self.handle.route().get(filter).execute();
        while let Some(m) = s.try_next().await.map_err(|source| Error::Netlink {
            op: "dump routes".into(),
            source,
        })? {
            if m.header.destination_prefix_length != 0 {
                continue;
            }
            let mut table = u32::from(m.header.table);
            let (mut oif, mut gateway) = (0, None);
            for a in &m.attributes {
                match a {
                    RouteAttribute::Table(t) => table = *t,
                    RouteAttribute::Oif(i) => oif = *i,
                    RouteAttribute::Gateway(RouteAddress::Inet6(g)) => gateway = Some(*g),
                    _ => {}
                }
            }
            if table == TABLE_MAIN && oif == ifindex && gateway.is_some() {
                return Ok(gateway);
            }
        }
        Ok(None)
    }

    /// `ip -6 neigh replace proxy <addr> dev <ifindex>`: answer neighbour solicitations for
    /// a HoA on the home link (RFC 6275 §10.4.1). Needs
    /// [`prepare_proxy_link`](Self::prepare_proxy_link) on that link and [`set_forwarding`](Self::set_forwarding).
    pub async fn add_proxy_ndp(&mut self, ifindex: u32, addr: Ipv6Addr) -> Result<(), Error> {
        proxy_add(&self.handle, ifindex, addr).await?;
        self.record(Undo::ProxyNdp { ifindex, addr });
        Ok(())
    }

    /// Removes a proxy entry added by [`add_proxy_ndp`](Self::add_proxy_ndp).
    pub async fn remove_proxy_ndp(&mut self, ifindex: u32, addr: Ipv6Addr) -> Result<(), Error> {
        proxy_del(&self.handle, ifindex, addr).await?;
        self.forget(&Undo::ProxyNdp { ifindex, addr });
        Ok(())
    }

    /// `ip -6 rule add from <src>/128 lookup <table> priority <priority>`: the MN's source
    /// rule for its HoA. An identical existing rule is left as it is and not recorded.
    pub async fn add_source_rule(
        &mut self,
        src: Ipv6Addr,
        table: u32,
        priority: u32,
    ) -> Result<(), Error> {
        self.add_rule(PolicyRule {
            selector: RuleSelector::From(src),
            table,
            priority,
            suppress_prefix_len: None,
        })
        .await
    }

    /// `ip -6 rule add <rule>`. An identical existing rule is left as it is and not
    /// recorded.
    pub async fn add_rule(&mut self, rule: PolicyRule) -> Result<(), Error> {
        match rule_request(&self.handle, rule).execute().await {
            Ok(()) => {
                self.record(Undo::Rule(rule));
                Ok(())
            }
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(source) => Err(Error::Netlink {
                op: format!("add rule {rule}"),
                source,
            }),
        }
    }

    /// Removes a rule added by [`add_rule`](Self::add_rule) (or one left by a killed
    /// daemon); one already gone is no error.
    pub async fn remove_rule(&mut self, rule: PolicyRule) -> Result<(), Error> {
        rule_del(&self.handle, rule).await?;
        self.forget(&Undo::Rule(rule));
        Ok(())
    }

    /// Removes a rule added by [`add_source_rule`](Self::add_source_rule).
    pub async fn remove_source_rule(
        &mut self,
        src: Ipv6Addr,
        table: u32,
        priority: u32,
    ) -> Result<(), Error> {
        self.remove_rule(PolicyRule {
            selector: RuleSelector::From(src),
            table,
            priority,
            suppress_prefix_len: None,
        })
        .await
    }

    /// `ip -6 addr replace <addr>/<prefix_len> dev <ifindex> nodad`: an address taken
    /// onto a link without Duplicate Address Detection (the MN's home address on its
    /// home link, which RFC 6275 §11.5.4 forbids it to probe for: the home agent
    /// defends it until the deregistration is acknowledged).
    pub async fn add_address_nodad(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
    ) -> Result<(), Error> {
        use rtnetlink::packet_route::address::{
            AddressAttribute, AddressFlags, AddressHeaderFlags,
        };
        let mut req = self
            .handle
            .address()
            .add(ifindex, IpAddr::V6(addr), prefix_len)
            .replace();
        let msg = req.message_mut();
        msg.header.flags = AddressHeaderFlags::Nodad;
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        req.execute().await.map_err(|source| Error::Netlink {
            op: format!("add address {addr}/{prefix_len}"),
            source,
        })?;
        self.record(Undo::Address {
            ifindex,
            addr,
            prefix_len,
        });
        Ok(())
    }

    /// Removes an address added by [`add_address_nodad`](Self::add_address_nodad); one
    /// already gone is no error.
    pub async fn remove_address(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
    ) -> Result<(), Error> {
        address_del(&self.handle, ifindex, addr, prefix_len).await?;
        self.forget(&Undo::Address {
            ifindex,
            addr,
            prefix_len,
        });
        Ok(())
    }

    /// Sets `net.ipv6.conf.all.forwarding` (the HA forwards between home link and TUN;
    /// proxy NDP needs it).
    pub fn set_forwarding(&mut self, on: bool) -> Result<(), Error> {
        self.sysctl("all", "forwarding", if on { "1" } else { "0" })
    }

    /// Sets `net.ipv6.conf.<ifname>.proxy_ndp` 1 and `net.ipv6.neigh.<ifname>.proxy_delay`
    /// 0 on the home link `ifname` (the delay is a neighbour-table parameter, in units of
    /// USER_HZ; its default 80 delays the first answer by up to 0.8 s).
    pub fn prepare_proxy_link(&mut self, ifname: &str) -> Result<(), Error> {
        self.sysctl(ifname, "proxy_ndp", "1")?;
        self.write_sysctl(sysctl_path("neigh", ifname, "proxy_delay")?, "0")
    }

    /// Writes `/proc/sys/net/ipv6/conf/<ifname>/<key>` = `value`, recording the old value
    /// for cleanup. `ifname` may be `all` or `default`; `/` and `..` are refused.
    pub fn sysctl(&mut self, ifname: &str, key: &str, value: &str) -> Result<(), Error> {
        self.write_sysctl(sysctl_path("conf", ifname, key)?, value)
    }

    /// Keeps the originals of the sysctls this value changes in `journal` (module
    /// docs), and takes the originals a killed run left there. Call before the first
    /// sysctl.
    pub fn set_sysctl_journal(&mut self, journal: PathBuf) {
        self.journal = Some(journal);
    }

    fn write_sysctl(&mut self, path: PathBuf, value: &str) -> Result<(), Error> {
        let current = std::fs::read_to_string(&path)
            .map_err(|source| Error::Sysctl {
                path: path.clone(),
                source,
            })?
            .trim()
            .to_string();
        let old = match &self.journal {
            Some(journal) if !self.undo.has_sysctl(&path) => {
                journal_original(journal, &path, &current)?
            }
            _ => current,
        };
        std::fs::write(&path, value).map_err(|source| Error::Sysctl {
            path: path.clone(),
            source,
        })?;
        // Only the first write to a path records: cleanup restores the value before us.
        if !self.undo.has_sysctl(&path) {
            self.undo.record(Undo::Sysctl { path, old });
        }
        Ok(())
    }

    /// Undoes every recorded change, newest first. Goes on after a failure and returns the
    /// first error.
    pub async fn cleanup(mut self) -> Result<(), Error> {
        let undo = self.undo.take();
        let result = undo_all(&self.handle, undo).await;
        if let (Ok(()), Some(journal)) = (&result, self.journal.take()) {
            remove_journal(&journal);
        }
        result
    }

    async fn add_route(&mut self, key: RouteKey) -> Result<(), Error> {
        self.handle
            .route()
            .add(route_message(key))
            .replace()
            .execute()
            .await
            .map_err(|source| Error::Netlink {
                op: format!("add route {}/{}", key.dst, key.prefix),
                source,
            })?;
        self.record(Undo::Route(key));
        Ok(())
    }

    async fn remove_route(&mut self, key: RouteKey) -> Result<(), Error> {
        route_del(&self.handle, key).await?;
        self.forget(&Undo::Route(key));
        Ok(())
    }

    fn record(&mut self, u: Undo) {
        self.undo.record(u);
    }

    fn forget(&mut self, u: &Undo) {
        self.undo.forget(u);
    }
}

impl Drop for NetConfig {
    fn drop(&mut self) {
        if self.undo.is_empty() {
            return;
        }
        let undo = self.undo.take();
        let journal = self.journal.take();
        // A thread of its own: Drop may run inside the daemon's runtime, where block_on
        // is not allowed; and it can enter the namespace without moving this thread.
        let netns = self.netns.clone();
        let joined = std::thread::spawn(move || -> Result<(), Error> {
            netns
                .enter()
                .map_err(Error::sys("setns(CLONE_NEWNET) for netlink cleanup"))?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .map_err(Error::sys("tokio runtime for netlink cleanup"))?;
            rt.block_on(async move {
                let (conn, handle, _) = rtnetlink::new_connection()
                    .map_err(Error::sys("socket(AF_NETLINK, NETLINK_ROUTE)"))?;
                tokio::spawn(conn);
                undo_all(&handle, undo).await
            })
        })
        .join();
        match joined {
            Ok(Ok(())) => {
                if let Some(journal) = journal {
                    remove_journal(&journal);
                }
            }
            Ok(Err(e)) => tracing::warn!("mip6-netio: network cleanup incomplete: {e}"),
            Err(_) => tracing::warn!("mip6-netio: network cleanup thread panicked"),
        }
    }
}

/// The original of sysctl `path` per `journal`: the one a killed run wrote there, or
/// `current`, which is then appended and synced before the caller changes it.
fn journal_original(
    journal: &std::path::Path,
    path: &std::path::Path,
    current: &str,
) -> Result<String, Error> {
    use std::io::Write;
    let key = path.display().to_string();
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    for line in text.lines() {
        if let Some((p, v)) = line.split_once('\t') {
            if p == key {
                tracing::info!(sysctl = %key, original = v, current, "original value from the sysctl journal of a run that did not clean up");
                return Ok(v.to_owned());
            }
        }
    }
    let fail = |source| Error::Sysctl {
        path: journal.to_owned(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(journal)
        .map_err(fail)?;
    writeln!(f, "{key}\t{current}").map_err(fail)?;
    f.sync_all().map_err(fail)?;
    Ok(current.to_owned())
}

fn remove_journal(journal: &std::path::Path) {
    match std::fs::remove_file(journal) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(journal = %journal.display(), error = %e, "sysctl journal not removed")
        }
    }
}

async fn undo_all(handle: &Handle, undo: Vec<Undo>) -> Result<(), Error> {
    let mut first = None;
    for u in undo.into_iter().rev() {
        let r = match u {
            Undo::Route(k) => route_del(handle, k).await,
            Undo::ProxyNdp { ifindex, addr } => proxy_del(handle, ifindex, addr).await,
            Undo::Rule(k) => rule_del(handle, k).await,
            Undo::Address {
                ifindex,
                addr,
                prefix_len,
            } => address_del(handle, ifindex, addr, prefix_len).await,
            Undo::Sysctl { path, old } => {
                std::fs::write(&path, old).map_err(|source| Error::Sysctl { path, source })
            }
        };
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

fn route_message(k: RouteKey) -> RouteMessage {
    let mut b = RouteMessageBuilder::<Ipv6Addr>::new()
        .destination_prefix(k.dst, k.prefix)
        .output_interface(k.ifindex)
        .table_id(k.table);
    if let Some(g) = k.gateway {
        b = b.gateway(g);
    }
    if let Some(src) = k.source {
        b = b.pref_source(src);
    }
    b.build()
}

async fn route_del(handle: &Handle, k: RouteKey) -> Result<(), Error> {
    gone_is_ok(handle.route().del(route_message(k)).execute().await, || {
        format!("delete route {}/{}", k.dst, k.prefix)
    })
}

async fn proxy_add(handle: &Handle, ifindex: u32, addr: Ipv6Addr) -> Result<(), Error> {
    handle
        .neighbours()
        .add(ifindex, IpAddr::V6(addr))
        .flags(NeighbourFlags::Proxy)
        .replace()
        .execute()
        .await
        .map_err(|source| Error::Netlink {
            op: format!("add proxy neighbour {addr}"),
            source,
        })
}

async fn proxy_del(handle: &Handle, ifindex: u32, addr: Ipv6Addr) -> Result<(), Error> {
    // The delete request is built from the add request's message: same family, ifindex,
    // destination and NTF_PROXY flag, which is what the kernel matches on.
    let mut req = handle
        .neighbours()
        .add(ifindex, IpAddr::V6(addr))
        .flags(NeighbourFlags::Proxy);
    let msg = req.message_mut().clone();
    gone_is_ok(handle.neighbours().del(msg).execute().await, || {
        format!("delete proxy neighbour {addr}")
    })
}

async fn address_del(
    handle: &Handle,
    ifindex: u32,
    addr: Ipv6Addr,
    prefix_len: u8,
) -> Result<(), Error> {
    let mut req = handle.address().add(ifindex, IpAddr::V6(addr), prefix_len);
    let msg = req.message_mut().clone();
    let r = handle.address().del(msg).execute().await;
    match r {
        // An address that is gone: EADDRNOTAVAIL.
        Err(e) if errno(&e) == Some(libc::EADDRNOTAVAIL) => Ok(()),
        r => gone_is_ok(r, || format!("delete address {addr}/{prefix_len}")),
    }
}

fn rule_request(handle: &Handle, k: PolicyRule) -> rtnetlink::RuleAddRequest<Ipv6Addr> {
    use rtnetlink::packet_route::rule::{RuleAttribute, RuleFlags};
    let mut req = handle
        .rule()
        .add()
        .v6()
        .table_id(k.table)
        .priority(k.priority)
        .action(rtnetlink::packet_route::rule::RuleAction::ToTable);
    match k.selector {
        RuleSelector::From(src) => req = req.source_prefix(src, 128),
        RuleSelector::NotFwmark(mark) => {
            req = req.fw_mark(mark);
            req.message_mut().header.flags |= RuleFlags::Invert;
        }
        RuleSelector::All => {}
    }
    if let Some(n) = k.suppress_prefix_len {
        req.message_mut()
            .attributes
            .push(RuleAttribute::SuppressPrefixLen(n));
    }
    req
}

async fn rule_del(handle: &Handle, k: RuleKey) -> Result<(), Error> {
    let mut req = rule_request(handle, k);
    let msg: RuleMessage = req.message_mut().clone();
    gone_is_ok(handle.rule().del(msg).execute().await, || {
        format!("delete rule {k}")
    })
}

fn gone_is_ok(r: Result<(), rtnetlink::Error>, op: impl FnOnce() -> String) -> Result<(), Error> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if matches!(errno(&e), Some(libc::ENOENT | libc::ESRCH)) => Ok(()),
        Err(source) => Err(Error::Netlink { op: op(), source }),
    }
}

/// The positive errno of a kernel netlink error.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

fn sysctl_path(dir: &str, ifname: &str, key: &str) -> Result<PathBuf, Error> {
    let bad = |s: &str| s.is_empty() || s.contains('/') || s == "." || s == "..";
    if bad(ifname) || bad(key) {
        return Err(Error::NoSuchInterface {
            name: format!("{ifname}/{key}"),
        });
    }
    Ok(PathBuf::from(format!(
        "/proc/sys/net/ipv6/{dir}/{ifname}/{key}"
    )))
}

/// Lists the IPv6 routes of `table` as `(destination, prefix, output ifindex)` — for
/// checks and diagnostics, not the packet path.
pub async fn list_routes(nc: &NetConfig, table: u32) -> Result<Vec<(Ipv6Addr, u8, u32)>, Error> {
    use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
    let mut filter = RouteMessageBuilder::<Ipv6Addr>::new().build();
    filter.header.table = 0;
    let mut s = nc.handle.route().get(filter).execute();
    let mut out = Vec::new();
    while let Some(m) = s.try_next().await.map_err(|source| Error::Netlink {
        op: "dump routes".into(),
        source,
    })? {
        let mut t = m.header.table as u32;
        let mut dst = Ipv6Addr::UNSPECIFIED;
        let mut oif = 0;
        for a in &m.attributes {
            match a {
                RouteAttribute::Table(x) => t = *x,
                RouteAttribute::Destination(RouteAddress::Inet6(d)) => dst = *d,
                RouteAttribute::Oif(i) => oif = *i,
                _ => {}
            }
        }
        if t == table {
            out.push((dst, m.header.destination_prefix_length, oif));
        }
    }
    Ok(out)
}

/// Whether the kernel routes a packet from `source` to `destination` carrying the
/// mark `mark` (`SO_MARK`; needs `CAP_NET_ADMIN`): a UDP socket bound to `source`,
/// marked, and connected, which makes the kernel look the route up through the policy
/// rules and send nothing. `Ok(false)` for "network" or "host unreachable"; an error
/// if `source` is not a local address or the socket cannot be set up. A few
/// microseconds, no netlink: cheap enough to poll while a route is being added.
pub fn has_route(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    mark: Option<u32>,
) -> Result<bool, Error> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).map_err(
        Error::sys("socket(AF_INET6, SOCK_DGRAM) for a route lookup"),
    )?;
    if let Some(mark) = mark {
        socket
            .set_mark(mark)
            .map_err(Error::sys("setsockopt(SO_MARK) for a route lookup"))?;
    }
    let local = std::net::SocketAddrV6::new(source, 0, 0, 0);
    socket
        .bind(&SockAddr::from(local))
        .map_err(Error::sys("bind to the source of a route lookup"))?;
    // The discard port: connect(2) on UDP only looks the route up.
    let remote = std::net::SocketAddrV6::new(destination, 9, 0, 0);
    match socket.connect(&SockAddr::from(remote)) {
        Ok(()) => Ok(true),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENETUNREACH | libc::EHOSTUNREACH)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(Error::Sys {
            op: "connect(2) for a route lookup",
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_paths_refuse_traversal() {
        assert_eq!(
            sysctl_path("neigh", "eth0", "proxy_delay").unwrap(),
            PathBuf::from("/proc/sys/net/ipv6/neigh/eth0/proxy_delay")
        );
        for (i, k) in [
            ("..", "x"),
            ("a/b", "x"),
            ("eth0", "../../x"),
            ("", "x"),
            ("eth0", ""),
        ] {
            assert!(sysctl_path("conf", i, k).is_err(), "{i}/{k}");
        }
    }

    #[test]
    fn route_message_carries_prefix_interface_and_table() {
        use rtnetlink::packet_route::route::RouteAttribute;
        let m = route_message(RouteKey {
            dst: "2001:db8:1::100".parse().unwrap(),
            prefix: 128,
            ifindex: 7,
            table: 100,
            gateway: None,
            source: None,
        });
        assert_eq!(m.header.destination_prefix_length, 128);
        assert!(m.attributes.contains(&RouteAttribute::Oif(7)));
        assert!(
            m.attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Table(100)))
                || m.header.table == 100
        );
    }

    #[test]
    fn route_message_names_gateway_and_preferred_source() {
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
        let gw: Ipv6Addr = "fe80::1".parse().unwrap();
        let src: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let m = route_message(RouteKey {
            dst: Ipv6Addr::UNSPECIFIED,
            prefix: 0,
            ifindex: 3,
            table: 6275,
            gateway: Some(gw),
            source: Some(src),
        });
        assert!(m
            .attributes
            .contains(&RouteAttribute::Gateway(RouteAddress::Inet6(gw))));
        assert!(m
            .attributes
            .contains(&RouteAttribute::PrefSource(RouteAddress::Inet6(src))));
    }

    #[test]
    fn the_undo_log_keeps_order_and_forgets_in_constant_time() {
        let route = |i: u16| {
            Undo::Route(RouteKey {
                dst: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, i),
                prefix: 128,
                ifindex: 3,
                table: TABLE_MAIN,
                gateway: None,
                source: None,
            })
        };
        let mut log = UndoLog::default();
        for i in 0..1000 {
            log.record(route(i));
        }
        log.record(route(5)); // recorded once only
        for i in (0..1000).filter(|i| i % 3 != 0) {
            log.forget(&route(i));
        }
        log.forget(&route(2)); // gone already: nothing
        assert_eq!(log.changes.len(), 334, "each live change once");
        let left = log.take();
        let expected: Vec<Undo> = (0..1000).filter(|i| i % 3 == 0).map(route).collect();
        assert_eq!(left, expected, "the live changes, oldest first");
        assert!(log.is_empty());
        let sysctl = Undo::Sysctl {
            path: "/proc/sys/net/ipv6/conf/all/forwarding".into(),
            old: "0".into(),
        };
        log.record(sysctl);
        assert!(log.has_sysctl(std::path::Path::new(
            "/proc/sys/net/ipv6/conf/all/forwarding"
        )));
    }

    #[test]
    fn rules_say_what_they_select() {
        use rtnetlink::packet_route::rule::{RuleAttribute, RuleFlags};
        let not_marked = PolicyRule {
            selector: RuleSelector::NotFwmark(6275),
            table: 6275,
            priority: 999,
            suppress_prefix_len: None,
        };
        assert_eq!(
            not_marked.to_string(),
            "not fwmark 0x1883 lookup 6275 priority 999"
        );
        let suppress = PolicyRule {
            selector: RuleSelector::All,
            table: TABLE_MAIN,
            priority: 998,
            suppress_prefix_len: Some(0),
        };
        assert_eq!(
            suppress.to_string(),
            "from all lookup 254 suppress_prefixlength 0 priority 998"
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        rt.block_on(async {
            let nc = NetConfig::new().unwrap();
            let mut req = rule_request(&nc.handle, not_marked);
            let m = req.message_mut();
            assert!(m.header.flags.contains(RuleFlags::Invert));
            assert!(m.attributes.contains(&RuleAttribute::FwMark(6275)));
            let mut req = rule_request(&nc.handle, suppress);
            let m = req.message_mut();
            assert!(!m.header.flags.contains(RuleFlags::Invert));
            assert!(m.attributes.contains(&RuleAttribute::SuppressPrefixLen(0)));
        });
    }

    #[test]
    fn new_outside_a_runtime_is_an_error_not_a_panic() {
        assert!(matches!(NetConfig::new(), Err(Error::NoRuntime(_))));
    }
}
