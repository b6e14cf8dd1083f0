//! The nftables rules that keep the kernel quiet about our signalling, and away from our
//! tunnel frames (nft(8)).
//!
//! A kernel without Mobile IPv6 support answers a packet carrying a Home Address option
//! with ICMPv6 Parameter Problem code 2, and one carrying a type 2 routing header with code
//! 0 (docs/architecture.md, measured facts; RFC 8200 §4.2, §4.4). The daemon takes those packets from
//! an `AF_PACKET` socket, which taps the frame in the device layer before netfilter's
//! prerouting hook, so dropping them at prerouting stops the kernel's answer without
//! hiding them from the daemon. Unfragmented ESP to the same addresses (tunnel frames)
//! takes the same way ([`crate::bpf`]) and is dropped at prerouting too, so the kernel
//! does no route lookup and no local delivery for it; a fragmented one is not matched
//! (its first next header is 44), is reassembled, and reaches the raw ESP socket.
//! A Mobility Header right after the IPv6 header (unprotected signalling, which the
//! kernel would answer with Parameter Problem code 1) is dropped likewise: the engine
//! answers it as RFC 6275 §9.2 says.
//!
//! The rules live in a table of their own, `table inet mip6_<name>`, so removal is one
//! `delete table` and nothing else in the ruleset is touched. The guarded addresses are
//! the elements of one named set, so a change of address (the mobile node's care-of
//! address) is a change of elements, not of rules:
//!
//! ```text
//! table inet mip6_<name> {
//!     set guarded { type ipv6_addr; elements = { <addresses> } }
//!     chain prerouting {
//!         type filter hook prerouting priority raw; policy accept;
//!         ip6 nexthdr esp ip6 daddr @guarded drop
//!         ip6 nexthdr 135 ip6 daddr @guarded drop
//!         ip6 daddr @guarded exthdr dst exists drop
//!         ip6 daddr @guarded rt type 2 drop
//!         ip6 daddr fe80::/10 fib daddr . iif type != local drop   (home agent only)
//!     }
//! }
//! ```
//!
//! The home agent's table has one more rule: a packet to a link-local address that is
//! not the host's own (one the home agent proxies for a mobile node, RFC 6275
//! §10.4.2) is dropped before the kernel would forward it back onto the link with a
//! Redirect; the home agent's home-link socket has taken it already and answers it
//! with Destination Unreachable.
//!
//! Installation is one `nft -f -` transaction that first creates and deletes the table, so
//! it is idempotent (a leftover table of a crashed daemon is replaced) and atomic. The
//! [`NftGuard`] deletes the table when dropped. The `nft` binary is the standard
//! interface to nftables. The guard remembers the network namespace of the thread that
//! installed it and runs every later `nft` (removal, drop, a fallback re-install) in that
//! namespace, so dropping it on another thread cannot leave the table behind; from a
//! thread already in that namespace `nft` runs as it is, so a daemon with only
//! `CAP_NET_ADMIN` and `CAP_NET_RAW` left (no `CAP_SYS_ADMIN` for `setns`) still removes
//! its table.
//!
//! **Updates without a process** ([`NftGuard::update`]): a new address set is one
//! nfnetlink batch (`NFT_MSG_NEWSETELEM` for what is new, `NFT_MSG_DELSETELEM` for what
//! went, in one transaction, so the new address is guarded the moment the old one is
//! not) sent on a `NETLINK_NETFILTER` socket the guard opened at installation, in the
//! namespace it installed in. Spawning `nft -f` costs 10–25 ms (the process, and nft
//! reading the whole ruleset back before it changes anything), which the mobile node
//! would pay between a new care-of address and its Binding Update; the batch costs tens
//! of microseconds (docs/benchmarks-lab.md, "Handover latency"). If the batch fails (the
//! table was deleted or changed behind the guard's back, no socket), the update falls
//! back to re-installing the whole table with `nft -f`.
//!
//! Not supported: restricting by interface; IPv4; sets of more than a few hundred
//! addresses in one update (one batch must fit one netlink datagram).

use std::io::Write;
use std::net::Ipv6Addr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rtnetlink::sys::protocols::NETLINK_NETFILTER;
use rtnetlink::sys::Socket;

use crate::sys::NetnsFd;
use crate::Error;

/// The name of the set of guarded addresses in the table (module docs).
pub const GUARDED_SET: &str = "guarded";

/// How [`NftGuard::update`] changed the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The set held those addresses already.
    Unchanged,
    /// Elements added and deleted in one nfnetlink batch (no process).
    Elements,
    /// The whole table installed again with `nft -f` (the batch failed).
    Reinstalled,
}

/// The installed rules; dropping the guard deletes the table.
#[derive(Debug)]
pub struct NftGuard {
    table: String,
    installed: bool,
    netns: NetnsFd,
    intercept_link_local: bool,
    /// The set's elements, as last installed or updated.
    addresses: Vec<Ipv6Addr>,
    /// The `NETLINK_NETFILTER` socket for element updates, opened in `netns`; `None`
    /// if it could not be opened (updates then re-install with `nft -f`).
    netlink: Option<Socket>,
    /// Sequence number of the next netlink message.
    seq: u32,
}

impl NftGuard {
    /// Installs (or replaces) `table inet mip6_<name>` dropping HoA-option, RH2 and
    /// unfragmented ESP packets addressed to any of `addresses` (the HA's address; the
    /// MN's care-of addresses), which the daemon takes from its packet sockets.
    pub fn install(name: &str, addresses: &[Ipv6Addr]) -> Result<Self, Error> {
        Self::install_with(name, addresses, false)
    }

    /// Like [`install`](Self::install), plus the home agent's rule dropping packets to
    /// link-local addresses that are not the host's own (module docs).
    pub fn install_home_agent(name: &str, addresses: &[Ipv6Addr]) -> Result<Self, Error> {
        Self::install_with(name, addresses, true)
    }

    fn install_with(
        name: &str,
        addresses: &[Ipv6Addr],
        intercept_link_local: bool,
    ) -> Result<Self, Error> {
        let table = table_name(name)?;
        let netns = NetnsFd::current().map_err(|e| Error::Nft {
            action: "install",
            table: format!("inet {table}"),
            detail: format!("cannot open /proc/thread-self/ns/net: {e}"),
        })?;
        // Opened here, on the installing thread: the socket stays in this namespace
        // whichever thread later updates through it.
        let netlink = match Socket::new(NETLINK_NETFILTER) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "no NETLINK_NETFILTER socket: nftables set updates will run nft");
                None
            }
        };
        let mut guard = NftGuard {
            table,
            installed: false,
            netns,
            intercept_link_local,
            addresses: Vec::new(),
            netlink,
            seq: 1,
        };
        guard.reinstall(addresses)?;
        Ok(guard)
    }

    /// Makes `addresses` the set's elements (the MN calls this when its care-of address
    /// changes), in one transaction: one nfnetlink batch adding and deleting elements,
    /// or, if that fails, a re-install of the whole table with `nft -f` (module docs).
    pub fn update(&mut self, addresses: &[Ipv6Addr]) -> Result<Applied, Error> {
        if addresses.is_empty() {
            return Err(Error::NoAddresses);
        }
        if self.installed && self.netlink.is_some() {
            match self.update_elements(addresses) {
                Ok(applied) => return Ok(applied),
                Err(e) => {
                    tracing::warn!(error = %e, table = %self.table,
                        "nftables set update failed: re-installing the table with nft");
                }
            }
        }
        self.reinstall(addresses)?;
        Ok(Applied::Reinstalled)
    }

    /// The set's elements, as last installed or updated.
    pub fn addresses(&self) -> &[Ipv6Addr] {
        &self.addresses
    }

    /// The whole table again, with `nft -f` (a process: not for the hot path).
    fn reinstall(&mut self, addresses: &[Ipv6Addr]) -> Result<(), Error> {
        let script = ruleset_for(&self.table, addresses, self.intercept_link_local)?;
        run_nft(&self.netns, &script, "install", &self.table)?;
        self.installed = true;
        self.addresses = unique(addresses);
        Ok(())
    }

    /// The element changes from the current set to `addresses`, as one nfnetlink batch.
    fn update_elements(&mut self, addresses: &[Ipv6Addr]) -> Result<Applied, Error> {
        let diff = SetDiff::between(&self.addresses, addresses);
        if diff.is_empty() {
            return Ok(Applied::Unchanged);
        }
        let fail = |detail: String| Error::Nft {
            action: "update",
            table: format!("inet {}", self.table),
            detail,
        };
        let Some(socket) = self.netlink.as_ref() else {
            return Err(fail("no NETLINK_NETFILTER socket".into()));
        };
        let batch = SetBatch::encode(&self.table, GUARDED_SET, &diff, self.seq);
        self.seq = self.seq.wrapping_add(batch.messages);
        socket
            .send(&batch.bytes, 0)
            .map_err(|e| fail(format!("netlink send: {e}")))?;
        // The kernel runs the batch inside send(2) (nfnetlink processes a batch in the
        // sender's context), so every answer is queued by now: read without waiting.
        let mut pending = batch.acked.clone();
        let mut buf = vec![0u8; 8192];
        while !pending.is_empty() {
            let n = socket
                .recv(&mut &mut buf[..], libc::MSG_DONTWAIT)
                .map_err(|e| {
                    fail(format!(
                        "netlink answer for {} of the batch: {e}",
                        pending.len()
                    ))
                })?;
            for (seq, errno) in parse_acks(&buf[..n.min(buf.len())]) {
                if errno != 0 {
                    return Err(fail(format!(
                        "the kernel refused the set update: {}",
                        std::io::Error::from_raw_os_error(errno)
                    )));
                }
                pending.retain(|s| *s != seq);
            }
        }
        self.addresses = unique(addresses);
        Ok(Applied::Elements)
    }

    /// The table's name (`mip6_<name>`; family `inet`).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Deletes the table now, reporting failure (drop does the same but can only log).
    pub fn remove(mut self) -> Result<(), Error> {
        self.installed = false;
        run_nft(
            &self.netns,
            &delete_script(&self.table),
            "remove",
            &self.table,
        )
    }
}

impl Drop for NftGuard {
    fn drop(&mut self) {
        if self.installed {
            if let Err(e) = run_nft(
                &self.netns,
                &delete_script(&self.table),
                "remove",
                &self.table,
            ) {
                tracing::warn!("mip6-netio: could not remove nftables table: {e}");
            }
        }
    }
}

/// `mip6_<name>`, after checking `name` is 1..=24 of `[a-z0-9_]`.
pub fn table_name(name: &str) -> Result<String, Error> {
    let ok = (1..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(Error::InvalidName(name.into()));
    }
    Ok(format!("mip6_{name}"))
}

/// The `nft -f` script that (re)creates `table` with the drop rules for `addresses`.
pub fn ruleset(table: &str, addresses: &[Ipv6Addr]) -> Result<String, Error> {
    ruleset_for(table, addresses, false)
}

/// [`ruleset`], with the home agent's link-local rule if `intercept_link_local`.
pub fn ruleset_for(
    table: &str,
    addresses: &[Ipv6Addr],
    intercept_link_local: bool,
) -> Result<String, Error> {
    if addresses.is_empty() {
        return Err(Error::NoAddresses);
    }
    let set = unique(addresses)
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "table inet {table}\n\
         delete table inet {table}\n\
         table inet {table} {{\n\
         \tset {GUARDED_SET} {{\n\
         \t\ttype ipv6_addr\n\
         \t\telements = {{ {set} }}\n\
         \t}}\n\
         \tchain prerouting {{\n\
         \t\ttype filter hook prerouting priority raw; policy accept;\n\
         \t\tip6 nexthdr esp ip6 daddr @{GUARDED_SET} drop\n\
         \t\tip6 nexthdr 135 ip6 daddr @{GUARDED_SET} drop\n\
         \t\tip6 daddr @{GUARDED_SET} exthdr dst exists drop\n\
         \t\tip6 daddr @{GUARDED_SET} rt type 2 drop\n\
         {link_local}\
         \t}}\n\
         }}\n",
        link_local = if intercept_link_local {
            "\t\tip6 daddr fe80::/10 fib daddr . iif type != local drop\n"
        } else {
            ""
        }
    ))
}

/// `addresses` without repeats, in their first order.
fn unique(addresses: &[Ipv6Addr]) -> Vec<Ipv6Addr> {
    let mut v: Vec<Ipv6Addr> = Vec::with_capacity(addresses.len());
    for a in addresses {
        if !v.contains(a) {
            v.push(*a);
        }
    }
    v
}

/// What changes from one set of guarded addresses to another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetDiff {
    /// Elements to add (in `wanted`, not in `current`).
    pub add: Vec<Ipv6Addr>,
    /// Elements to delete (in `current`, not in `wanted`).
    pub remove: Vec<Ipv6Addr>,
}

impl SetDiff {
    /// From the elements `current` to the elements `wanted`.
    pub fn between(current: &[Ipv6Addr], wanted: &[Ipv6Addr]) -> SetDiff {
        SetDiff {
            add: unique(wanted)
                .into_iter()
                .filter(|a| !current.contains(a))
                .collect(),
            remove: unique(current)
                .into_iter()
                .filter(|a| !wanted.contains(a))
                .collect(),
        }
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// Netlink and nf_tables numbers (linux/netlink.h, linux/netfilter/nfnetlink.h,
/// linux/netfilter/nf_tables.h).
mod nl {
    pub const NLMSG_HDRLEN: usize = 16;
    pub const NLMSG_ERROR: u16 = 2;
    pub const NLM_F_REQUEST: u16 = 0x1;
    pub const NLM_F_ACK: u16 = 0x4;
    pub const NLM_F_CREATE: u16 = 0x400;
    pub const NLA_F_NESTED: u16 = 0x8000;
    pub const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
    pub const NFNL_MSG_BATCH_END: u16 = 0x11;
    pub const NFNL_SUBSYS_NFTABLES: u16 = 10;
    pub const NFT_MSG_NEWSETELEM: u16 = 12;
    pub const NFT_MSG_DELSETELEM: u16 = 14;
    pub const NFPROTO_UNSPEC: u8 = 0;
    pub const NFPROTO_INET: u8 = 1;
    pub const NFNETLINK_V0: u8 = 0;
    pub const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
    pub const NFTA_SET_ELEM_LIST_SET: u16 = 2;
    pub const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
    pub const NFTA_LIST_ELEM: u16 = 1;
    pub const NFTA_SET_ELEM_KEY: u16 = 1;
    pub const NFTA_DATA_VALUE: u16 = 1;
}

/// One nfnetlink batch changing a set's elements: begin, `NEWSETELEM` (if anything is
/// added), `DELSETELEM` (if anything is deleted), end. The kernel commits it as one
/// transaction, or nothing of it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetBatch {
    /// The datagram.
    bytes: Vec<u8>,
    /// Sequence numbers of the messages the kernel acknowledges.
    acked: Vec<u32>,
    /// Messages in the batch (sequence numbers used).
    messages: u32,
}

impl SetBatch {
    /// The batch for `diff` on set `set` of `table inet <table>`, numbered from `seq`.
    fn encode(table: &str, set: &str, diff: &SetDiff, seq: u32) -> SetBatch {
        let mut b = NlWriter::default();
        let mut seq = seq;
        let mut acked = Vec::new();
        let subsys = nl::NFNL_SUBSYS_NFTABLES;
        let begin = b.message(nl::NFNL_MSG_BATCH_BEGIN, nl::NLM_F_REQUEST, seq);
        b.nfgenmsg(nl::NFPROTO_UNSPEC, subsys);
        b.finish(begin);
        let mut elements = |b: &mut NlWriter, ty: u16, flags: u16, seq: u32, list: &[Ipv6Addr]| {
            let m = b.message(
                subsys << 8 | ty,
                flags | nl::NLM_F_REQUEST | nl::NLM_F_ACK,
                seq,
            );
            b.nfgenmsg(nl::NFPROTO_INET, 0);
            b.attr_str(nl::NFTA_SET_ELEM_LIST_TABLE, table);
            b.attr_str(nl::NFTA_SET_ELEM_LIST_SET, set);
            let all = b.nest(nl::NFTA_SET_ELEM_LIST_ELEMENTS);
            for a in list {
                let elem = b.nest(nl::NFTA_LIST_ELEM);
                let key = b.nest(nl::NFTA_SET_ELEM_KEY);
                b.attr(nl::NFTA_DATA_VALUE, &a.octets());
                b.finish_attr(key);
                b.finish_attr(elem);
            }
            b.finish_attr(all);
            b.finish(m);
            acked.push(seq);
        };
        if !diff.add.is_empty() {
            seq = seq.wrapping_add(1);
            elements(
                &mut b,
                nl::NFT_MSG_NEWSETELEM,
                nl::NLM_F_CREATE,
                seq,
                &diff.add,
            );
        }
        if !diff.remove.is_empty() {
            seq = seq.wrapping_add(1);
            elements(&mut b, nl::NFT_MSG_DELSETELEM, 0, seq, &diff.remove);
        }
        seq = seq.wrapping_add(1);
        let end = b.message(nl::NFNL_MSG_BATCH_END, nl::NLM_F_REQUEST, seq);
        b.nfgenmsg(nl::NFPROTO_UNSPEC, subsys);
        b.finish(end);
        SetBatch {
            bytes: b.buf,
            messages: acked.len() as u32 + 2,
            acked,
        }
    }
}

/// Netlink messages and attributes into one buffer (netlink(7)): headers in host byte
/// order, every message and attribute padded to 4 octets.
#[derive(Debug, Default)]
struct NlWriter {
    buf: Vec<u8>,
}

impl NlWriter {
    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    /// Starts a message; [`finish`](Self::finish) writes its length.
    fn message(&mut self, ty: u16, flags: u16, seq: u32) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        start
    }

    fn finish(&mut self, start: usize) {
        self.pad();
        let len = (self.buf.len() - start) as u32;
        self.buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// `struct nfgenmsg`: family, version, resource id (big-endian).
    fn nfgenmsg(&mut self, family: u8, res_id: u16) {
        self.buf.push(family);
        self.buf.push(nl::NFNETLINK_V0);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
    }

    fn attr(&mut self, ty: u16, payload: &[u8]) {
        let len = (4 + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    /// A NUL-terminated string attribute.
    fn attr_str(&mut self, ty: u16, s: &str) {
        let mut z = Vec::with_capacity(s.len() + 1);
        z.extend_from_slice(s.as_bytes());
        z.push(0);
        self.attr(ty, &z);
    }

    /// Starts a nested attribute; [`finish_attr`](Self::finish_attr) writes its length.
    fn nest(&mut self, ty: u16) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | nl::NLA_F_NESTED).to_ne_bytes());
        start
    }

    fn finish_attr(&mut self, start: usize) {
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

/// The acknowledgements and errors (`NLMSG_ERROR`) in a netlink datagram: (the
/// sequence number they answer, the positive errno or 0).
fn parse_acks(datagram: &[u8]) -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= nl::NLMSG_HDRLEN {
        let word =
            |at: usize| u32::from_ne_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]]);
        let len = word(0) as usize;
        if len < nl::NLMSG_HDRLEN || len > rest.len() {
            break;
        }
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        let seq = word(8);
        if ty == nl::NLMSG_ERROR && len >= nl::NLMSG_HDRLEN + 4 {
            let error = word(nl::NLMSG_HDRLEN) as i32;
            out.push((seq, error.saturating_neg()));
        }
        let next = (len + 3) & !3;
        rest = rest.get(next..).unwrap_or_default();
    }
    out
}

fn delete_script(table: &str) -> String {
    // Creating first makes the delete succeed when the table is already gone.
    format!("table inet {table}\ndelete table inet {table}\n")
}

fn run_nft(netns: &NetnsFd, script: &str, action: &'static str, table: &str) -> Result<(), Error> {
    let fail = |detail: String| Error::Nft {
        action,
        table: format!("inet {table}"),
        detail,
    };
    let ns = netns.raw();
    let mut cmd = Command::new("nft");
    // Only a thread elsewhere needs the hook (and CAP_SYS_ADMIN for setns): a daemon that
    // dropped its privileges runs nft from the namespace it installed the table in.
    if !netns.is_current() {
        // SAFETY: the hook runs in the forked child before exec and calls only setns(2),
        // a plain system call that is async-signal-safe and allocates nothing; `ns` is a
        // descriptor the parent keeps open (it is inherited across fork).
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(ns, libc::CLONE_NEWNET) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run nft: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| fail(format!("writing to nft: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for nft: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_they_reach_a_script() {
        assert_eq!(table_name("ha").unwrap(), "mip6_ha");
        assert_eq!(table_name("mn_1").unwrap(), "mip6_mn_1");
        for bad in ["", "HA", "a b", "x;flush ruleset", "a-b", &"a".repeat(25)] {
            assert!(
                matches!(table_name(bad), Err(Error::InvalidName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ruleset_puts_every_address_in_the_set_the_rules_look_up() {
        let a: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:2::5".parse().unwrap();
        let s = ruleset("mip6_ha", &[a, b, a]).unwrap();
        assert!(s.starts_with("table inet mip6_ha\ndelete table inet mip6_ha\n"));
        assert!(s.contains("hook prerouting priority raw"));
        assert!(
            s.contains("\tset guarded {\n\t\ttype ipv6_addr\n\t\telements = { 2001:db8:1::1, 2001:db8:2::5 }\n\t}\n"),
            "one element each: {s}"
        );
        assert!(s.contains("ip6 daddr @guarded exthdr dst exists drop"));
        assert!(s.contains("ip6 daddr @guarded rt type 2 drop"));
        assert!(s.contains("ip6 nexthdr 135 ip6 daddr @guarded drop"));
        // The tunnel frames, most of the traffic, are decided by the first rule: one
        // octet compare and a set lookup, no extension-header walk.
        let esp = s
            .find("ip6 nexthdr esp ip6 daddr @guarded drop")
            .expect("ESP rule");
        assert!(esp < s.find("exthdr dst exists").unwrap());
        assert!(matches!(ruleset("mip6_ha", &[]), Err(Error::NoAddresses)));
        assert!(!s.contains("fe80::/10"), "only the home agent intercepts");
    }

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn a_move_adds_the_new_care_of_address_and_deletes_the_old_one() {
        let (hoa, old, new) = (
            ip("2001:db8:1::100"),
            ip("2001:db8:2::100"),
            ip("2001:db8:3::100"),
        );
        let d = SetDiff::between(&[hoa, old], &[hoa, new]);
        assert_eq!(
            d,
            SetDiff {
                add: vec![new],
                remove: vec![old]
            }
        );
        assert!(SetDiff::between(&[hoa, old], &[old, hoa, old]).is_empty());
        let home = SetDiff::between(&[hoa, old], &[hoa]);
        assert_eq!(
            home,
            SetDiff {
                add: vec![],
                remove: vec![old]
            }
        );
    }

    /// The batch read back: (type, flags, seq, nfgenmsg family, attributes as (type,
    /// payload) with the nested element list flattened to its keys).
    type Decoded = (u16, u16, u32, u8, Vec<(u16, Vec<u8>)>);

    fn decode(mut bytes: &[u8]) -> Vec<Decoded> {
        let u16_at = |b: &[u8], i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        let u32_at = |b: &[u8], i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let len = u32_at(bytes, 0) as usize;
            assert_eq!(len % 4, 0, "messages are padded");
            let msg = &bytes[..len];
            let mut attrs = Vec::new();
            let mut rest = &msg[20..];
            while !rest.is_empty() {
                let alen = u16_at(rest, 0) as usize;
                let ty = u16_at(rest, 2);
                if ty & nl::NLA_F_NESTED != 0 {
                    // Elements → element → key → value.
                    let mut inner = &rest[4..alen];
                    while !inner.is_empty() {
                        let elen = u16_at(inner, 0) as usize;
                        assert_eq!(u16_at(inner, 2), nl::NFTA_LIST_ELEM | nl::NLA_F_NESTED);
                        let key = &inner[4..elen];
                        assert_eq!(u16_at(key, 2), nl::NFTA_SET_ELEM_KEY | nl::NLA_F_NESTED);
                        assert_eq!(u16_at(key, 0) as usize, key.len());
                        let value = &key[4..];
                        assert_eq!(u16_at(value, 0), 20);
                        assert_eq!(u16_at(value, 2), nl::NFTA_DATA_VALUE);
                        attrs.push((ty, value[4..20].to_vec()));
                        inner = &inner[elen..];
                    }
                } else {
                    attrs.push((ty, rest[4..alen].to_vec()));
                }
                rest = &rest[(alen + 3) & !3..];
            }
            out.push((
                u16_at(msg, 4),
                u16_at(msg, 6),
                u32_at(msg, 8),
                msg[16],
                attrs,
            ));
            bytes = &bytes[len..];
        }
        out
    }

    #[test]
    fn the_set_batch_adds_then_deletes_between_begin_and_end() {
        let (hoa, old, new) = (
            ip("2001:db8:1::100"),
            ip("2001:db8:2::100"),
            ip("2001:db8:3::100"),
        );
        let diff = SetDiff::between(&[hoa, old], &[hoa, new]);
        let batch = SetBatch::encode("mip6_mn_mip6", GUARDED_SET, &diff, 7);
        assert_eq!(batch.acked, vec![8, 9]);
        assert_eq!(batch.messages, 4);
        let m = decode(&batch.bytes);
        assert_eq!(m.len(), 4);
        let (ty, flags, seq, family, attrs) = &m[0];
        assert_eq!((*ty, *flags, *seq, *family), (0x10, 0x1, 7, 0));
        assert!(attrs.is_empty());
        // nfgenmsg res_id of the batch: the nftables subsystem, big-endian.
        assert_eq!(&batch.bytes[18..20], &[0, 10]);
        let table = |name: &str| {
            let mut v = name.as_bytes().to_vec();
            v.push(0);
            v
        };
        let (ty, flags, seq, family, attrs) = &m[1];
        assert_eq!(
            (*ty, *flags, *seq, *family),
            (10 << 8 | 12, 0x1 | 0x4 | 0x400, 8, 1)
        );
        assert_eq!(
            attrs,
            &vec![
                (1, table("mip6_mn_mip6")),
                (2, table("guarded")),
                (3 | nl::NLA_F_NESTED, new.octets().to_vec()),
            ]
        );
        let (ty, flags, seq, family, attrs) = &m[2];
        assert_eq!(
            (*ty, *flags, *seq, *family),
            (10 << 8 | 14, 0x1 | 0x4, 9, 1)
        );
        assert_eq!(attrs[2], (3 | nl::NLA_F_NESTED, old.octets().to_vec()));
        let (ty, _, seq, _, _) = &m[3];
        assert_eq!((*ty, *seq), (0x11, 10));

        // Only additions: no delete message.
        let only_add = SetDiff {
            add: vec![new, old],
            remove: vec![],
        };
        let batch = SetBatch::encode("mip6_t", GUARDED_SET, &only_add, u32::MAX);
        let m = decode(&batch.bytes);
        assert_eq!(
            m.iter().map(|m| m.0 & 0xff).collect::<Vec<_>>(),
            vec![0x10, 12, 0x11]
        );
        assert_eq!(m[1].4.len(), 4, "table, set, two elements");
        assert_eq!(batch.acked, vec![0], "sequence numbers wrap");
    }

    #[test]
    fn acks_are_read_with_their_sequence_and_errno() {
        let mut w = NlWriter::default();
        for (seq, err) in [(8u32, 0i32), (9, -2)] {
            let m = w.message(nl::NLMSG_ERROR, 0, seq);
            w.buf.extend_from_slice(&err.to_ne_bytes());
            w.buf.extend_from_slice(&[0; 16]); // the request's header
            w.finish(m);
        }
        let m = w.message(3, 0, 10); // NLMSG_DONE: not an answer
        w.finish(m);
        assert_eq!(parse_acks(&w.buf), vec![(8, 0), (9, 2)]);
        assert_eq!(
            parse_acks(&w.buf[..30]),
            vec![],
            "a truncated message ends the walk"
        );
        assert_eq!(parse_acks(&[]), vec![]);
    }

    #[test]
    fn the_home_agent_ruleset_drops_link_local_packets_not_for_the_host() {
        let a: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let s = ruleset_for("mip6_ha", &[a], true).unwrap();
        assert!(
            s.contains("\t\tip6 daddr fe80::/10 fib daddr . iif type != local drop\n\t}\n}\n"),
            "{s}"
        );
    }
}
