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
//! `delete table` and nothing else in the ruleset is touched:
//!
//! ```text
//! table inet mip6_<name> {
//!     chain prerouting {
//!         type filter hook prerouting priority raw; policy accept;
//!         ip6 nexthdr esp ip6 daddr { <addresses> } drop
//!         ip6 nexthdr 135 ip6 daddr { <addresses> } drop
//!         ip6 daddr { <addresses> } exthdr dst exists drop
//!         ip6 daddr { <addresses> } rt type 2 drop
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
//! installed it and runs every later `nft` (update, removal, drop) in that namespace, so
//! dropping it on another thread cannot leave the table behind; from a thread already in
//! that namespace `nft` runs as it is, so a daemon with only `CAP_NET_ADMIN` and
//! `CAP_NET_RAW` left (no `CAP_SYS_ADMIN` for `setns`) still removes its table.
//!
//! Not supported: restricting by interface; IPv4.

use std::io::Write;
use std::net::Ipv6Addr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::sys::NetnsFd;
use crate::Error;

/// The installed rules; dropping the guard deletes the table.
#[derive(Debug)]
pub struct NftGuard {
    table: String,
    installed: bool,
    netns: NetnsFd,
    intercept_link_local: bool,
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
        let mut guard = NftGuard {
            table,
            installed: false,
            netns,
            intercept_link_local,
        };
        guard.update(addresses)?;
        Ok(guard)
    }

    /// Replaces the address set (the MN calls this when its care-of address changes), in
    /// one transaction.
    pub fn update(&mut self, addresses: &[Ipv6Addr]) -> Result<(), Error> {
        let script = ruleset_for(&self.table, addresses, self.intercept_link_local)?;
        run_nft(&self.netns, &script, "install", &self.table)?;
        self.installed = true;
        Ok(())
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
    let set = addresses
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "table inet {table}\n\
         delete table inet {table}\n\
         table inet {table} {{\n\
         \tchain prerouting {{\n\
         \t\ttype filter hook prerouting priority raw; policy accept;\n\
         \t\tip6 nexthdr esp ip6 daddr {{ {set} }} drop\n\
         \t\tip6 nexthdr 135 ip6 daddr {{ {set} }} drop\n\
         \t\tip6 daddr {{ {set} }} exthdr dst exists drop\n\
         \t\tip6 daddr {{ {set} }} rt type 2 drop\n\
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
    fn ruleset_names_both_rules_for_every_address() {
        let a: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:2::5".parse().unwrap();
        let s = ruleset("mip6_ha", &[a, b]).unwrap();
        assert!(s.starts_with("table inet mip6_ha\ndelete table inet mip6_ha\n"));
        assert!(s.contains("hook prerouting priority raw"));
        assert!(s.contains("ip6 daddr { 2001:db8:1::1, 2001:db8:2::5 } exthdr dst exists drop"));
        assert!(s.contains("ip6 daddr { 2001:db8:1::1, 2001:db8:2::5 } rt type 2 drop"));
        assert!(s.contains("ip6 nexthdr 135 ip6 daddr { 2001:db8:1::1, 2001:db8:2::5 } drop"));
        // The tunnel frames, most of the traffic, are decided by the first rule: one
        // octet compare and a set lookup, no extension-header walk.
        let esp = s
            .find("ip6 nexthdr esp ip6 daddr { 2001:db8:1::1, 2001:db8:2::5 } drop")
            .expect("ESP rule");
        assert!(esp < s.find("exthdr dst exists").unwrap());
        assert!(matches!(ruleset("mip6_ha", &[]), Err(Error::NoAddresses)));
        assert!(!s.contains("fe80::/10"), "only the home agent intercepts");
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
