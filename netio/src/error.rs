//! The set-up error of this crate. Per-packet calls return [`std::io::Result`] instead, so
//! `WouldBlock` reaches the caller's reactor as it is.

use std::io;
use std::path::PathBuf;

/// What went wrong while opening or configuring an OS resource. Each variant names the
/// operation, so a daemon's log line says which step of its set-up failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `if_nametoindex(3)` found no interface of that name in this network namespace.
    #[error("no interface named {name:?} in this network namespace")]
    NoSuchInterface {
        /// The name looked up.
        name: String,
    },
    /// A system call failed; `op` names it and what it was for.
    #[error("{op} failed")]
    Sys {
        /// The call and its purpose, e.g. `"setsockopt(SO_ATTACH_FILTER)"`.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A `/proc/sys` file could not be read or written (proc(5), `ip-sysctl.txt`).
    #[error("sysctl {path}: {source}", path = path.display())]
    Sysctl {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The `nft` binary could not be run, or refused the rule set (nft(8)).
    #[error("nft {action} of table {table}: {detail}")]
    Nft {
        /// `"install"` or `"remove"`.
        action: &'static str,
        /// The table, `inet mip6_<name>`.
        table: String,
        /// nft's standard error, or the spawn error.
        detail: String,
    },
    /// A table name must be 1 to 24 characters of `[a-z0-9_]` (it is spliced into an nft
    /// script, so nothing else is accepted).
    #[error("invalid nftables table suffix {0:?}: want 1..=24 of [a-z0-9_]")]
    InvalidName(String),
    /// The nftables rules need at least one local address to restrict them to.
    #[error("no local address given for the nftables rules")]
    NoAddresses,
    /// An rtnetlink request failed (rtnetlink(7)).
    #[error("rtnetlink {op} failed: {source}")]
    Netlink {
        /// The request, e.g. `"add route 2001:db8:1::100/128"`.
        op: String,
        /// rtnetlink's error (carries the kernel's errno).
        #[source]
        source: rtnetlink::Error,
    },
    /// [`crate::routes::NetConfig::new`] was called outside a tokio runtime.
    #[error("rtnetlink needs a tokio runtime: {0}")]
    NoRuntime(#[source] tokio::runtime::TryCurrentError),
    /// Opening or configuring the TUN device failed (tun-rs).
    #[error("tun {op} failed")]
    Tun {
        /// The step, e.g. `"create"`.
        op: &'static str,
        /// The OS error as tun-rs reports it.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The kernel's (positive) errno behind this error, when it carries one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Sys { source, .. }
            | Error::Sysctl { source, .. }
            | Error::Tun { source, .. } => source.raw_os_error(),
            Error::Netlink {
                source: rtnetlink::Error::NetlinkError(m),
                ..
            } => Some(m.raw_code().abs()),
            _ => None,
        }
    }

    pub(crate) fn sys(op: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Sys { op, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errno_is_the_kernels() {
        let e = Error::sys("x")(io::Error::from_raw_os_error(22));
        assert_eq!(e.errno(), Some(22));
        assert_eq!(Error::NoAddresses.errno(), None);
    }
}
