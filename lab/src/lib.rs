//! # mip6-lab
//!
//! Builds the network-namespace topology of `docs/architecture.md` ("Lab topology"), runs the home agent, the mobile node
//! and a correspondent in it, moves the mobile node and reports (issue 4).
//!
//! | module | what |
//! | --- | --- |
//! | [`topology`] | [`Lab`]: the namespaces, veths, addresses and routes; MN movement; processes in namespaces; cleanup |
//! | [`prereq`] | root and tools a lab needs; the skip rule for tests |
//! | [`radvd`] | router advertisements on the lab's links (Debian's radvd in the router's namespace) |
//! | [`etcd`] | etcd for a home agent pair (Debian's etcd-server in the router's namespace) |
//! | [`error`] | [`LabError`] |
//! | `cmd` | running `ip`, `ping`, `kill` with failures as [`LabError`]s carrying the command line and stderr (private) |
//! | [`traffic`] | the traffic generator the demo runs in the namespaces: UDP with sequence numbers, TCP goodput |
//! | [`bench`](mod@bench) | `mip6-lab bench`: TCP goodput and CPU per Gbit through mip6's tunnel, without a tunnel, and through boringtun (issue 4) |
//! | [`swarm`] | `mip6-lab swarm`: thousands of mobile node engines in one process against one `mip6-ha`; rates, BA latency, HA CPU and memory, exact counts (issue 13) |
//! | [`demo`] | `mip6-lab demo`: the daemons in the lab, traffic phases, moves, rekeys, HA restart, the report |
//!
//! ```no_run
//! use mip6_lab::{Lab, Link, Node, HA_ADDR};
//! # fn main() -> Result<(), mip6_lab::LabError> {
//! let mut lab = Lab::new()?;
//! lab.move_mn(Link::Foreign1)?;
//! assert!(lab.ping(Node::Mn, Link::Foreign1.mn_addr(), HA_ADDR)?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
mod cmd;
pub mod demo;
pub mod error;
pub mod etcd;
pub mod prereq;
pub mod radvd;
pub mod swarm;
pub mod topology;
pub mod traffic;

pub use error::LabError;
pub use topology::{
    cleanup_orphans, cleanup_stale, list_namespaces, Lab, Link, Node, ProcId, CN_ADDR, HA2_IFACE,
    HA_ADDR, HOME_PREFIX, MN_HOA, MN_HOME_IFACE, MN_HOME_LINK_ADDR,
};
