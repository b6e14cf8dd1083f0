//! docs/architecture.md's lab ("Lab topology") in Linux network namespaces joined by veth pairs.
//!
//! ```text
//!                 home link 2001:db8:1::/64 (bridge rt-home)
//!   [ha] ha-home ──────────────────┬────── rt-home [rt] rt-cn ──────── cn-link [cn]
//!   2001:db8:1::1                  │  2001:db8:1::fe   2001:db8:4::fe   2001:db8:4::1
//!                                  │            │  │   cn link 2001:db8:4::/64
//!              foreign link 1 2001:db8:2::/64   │  │   foreign link 2 2001:db8:3::/64
//!                         rt-fg1 2001:db8:2::fe ┘  └ rt-fg2 2001:db8:3::fe
//!                             │                    │   │
//!                          mn-fg1 ──────[mn]───────┼── mn-fg2
//!                     2001:db8:2::100   │          │ 2001:db8:3::100
//!                                    mn-home ──────┘
//!                                 2001:db8:1::200
//! ```
//!
//! - `rt` forwards between all four links; every other node has a default route via
//!   the router's `::fe` address on its link, static, until
//!   [`Lab::start_router_advertisements`] starts radvd in `rt` ([`crate::radvd`]):
//!   then [`Lab::switch_mn`] and [`Lab::switch_mn_home`] move the MN by bringing
//!   interfaces down and up only, and the MN daemon forms its addresses and default
//!   routes from the advertisements. The MN's interfaces have fixed Ethernet
//!   addresses, so those addresses are known ([`Link::slaac_addr`]).
//! - The home link is a bridge in the router's namespace (`rt-home`, holding the
//!   router's address; multicast snooping off, so Neighbor Solicitations reach the
//!   home agent, which joins no solicited-node group for the addresses it defends):
//!   its ports are the veths to the HA (`ha-home`) and to the MN (`mn-home`).
//! - The MN has one veth pair into each foreign link. [`Lab::move_mn`] takes the old
//!   interface down (its address is flushed first, an `RTM_DELADDR`), then brings the
//!   new one up and adds its address (an `RTM_NEWADDR` for a global address, which is
//!   what the MN daemon watches for) and the default route. A new [`Lab`] starts with
//!   the MN on no link. [`Lab::move_mn_home`] puts it on the home link the same way,
//!   with an address of its own there, `2001:db8:1::200` (what SLAAC would give it),
//!   from which the MN daemon learns it is at home (RFC 6275 §11.5.4).
//! - The MN's home address 2001:db8:1::100 is not configured here: the MN daemon owns
//!   it. Nor is proxy neighbour discovery for it on the HA: the HA daemon owns that.
//! - Duplicate address detection is off in every namespace (`accept_dad=0`) and every
//!   address is added `nodad`, so addresses are usable the moment they exist.
//! - The kernels accept no router advertisement (`accept_ra=0`): only the lab, or
//!   under radvd the MN daemon, configures addresses and routes.
//!
//! # Names and cleanup
//!
//! Every namespace of a lab is named `mip6-<pid>-<n>-<node>` ([`Lab::prefix`] is
//! `mip6-<pid>-<n>-`), so labs of parallel tests and processes never collide. All veth
//! ends live inside the lab's namespaces (none in the caller's), so interface names are
//! fixed ([`Node::iface`], [`Link::mn_iface`]) and disappear with the namespaces.
//! [`Lab`]'s `Drop` (also while unwinding from a panic) stops every process it spawned,
//! kills whatever else still runs in its namespaces, and deletes them; [`Lab::close`]
//! does the same and reports failures. For leftovers of runs that were killed (so never
//! dropped) there are [`cleanup_stale`] and [`cleanup_orphans`].
//!
//! # Why the `ip` command
//!
//! The lab drives iproute2's `ip` through [`std::process::Command`] rather than
//! rtnetlink: it is a test and demo tool, where a command line in every error message
//! is worth more than speed (a lab builds in well under a second), the commands can be
//! pasted into a shell to reproduce a failure, and `ip netns` already does the bind
//! mounts under `/run/netns` that make namespaces outlive their first process. The
//! daemons themselves use rtnetlink.
//!
//! Not supported: IPv4, link impairments (loss, delay).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt;
use std::net::Ipv6Addr;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::cmd;
use crate::error::LabError;

/// The home link's prefix, 2001:db8:1::/64 (docs/architecture.md, "Lab topology").
pub const HOME_PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0);
/// The home agent's address on the home link.
pub const HA_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// The MN's home address (configured by the MN daemon, not by the lab).
pub const MN_HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
/// The correspondent's link prefix, 2001:db8:4::/64.
pub const CN_PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0);
/// The correspondent's address.
pub const CN_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 1);
/// The length of every lab prefix.
pub const PREFIX_LEN: u8 = 64;

/// The router's interface identifier on every link (`<prefix>::fe`).
const ROUTER_IID: u16 = 0xfe;
/// The MN's interface identifier on the foreign links (`<prefix>::100`).
const MN_IID: u16 = 0x100;

/// How long [`Lab::stop`] and teardown wait after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// How often a stopping process is polled.
const STOP_POLL: Duration = Duration::from_millis(10);

/// Serialises `ip netns add`: its first use mounts `/run/netns` shared, and concurrent
/// first uses race on that mount.
static NETNS_ADD: Mutex<()> = Mutex::new(());
/// The `<n>` of the next lab made by this process.
static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// A node of the lab: one network namespace each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// The home agent, on the home link.
    Ha,
    /// The router between all links.
    Rt,
    /// The mobile node, on one of the foreign links (or none).
    Mn,
    /// The correspondent node, on its own link.
    Cn,
    /// The second home agent of a pair, on the home link: made only by
    /// [`Lab::add_home_agent_pair`].
    Ha2,
}

impl Node {
    /// Every node [`Lab::new`] makes, in the order it creates them.
    pub const ALL: [Node; 4] = [Node::Ha, Node::Rt, Node::Mn, Node::Cn];

    /// The suffix of the node's namespace name.
    pub fn suffix(self) -> &'static str {
        match self {
            Node::Ha => "ha",
            Node::Rt => "rt",
            Node::Mn => "mn",
            Node::Cn => "cn",
            Node::Ha2 => "ha2",
        }
    }

    /// The node's one interface, for the HA (`ha-home`, on the home link) and the CN
    /// (`cn-link`); `None` for the router (see [`Link::rt_iface`] and `rt-home`,
    /// `rt-cn`) and the MN (see [`Link::mn_iface`]).
    pub fn iface(self) -> Option<&'static str> {
        match self {
            Node::Ha => Some(HA_IFACE),
            Node::Ha2 => Some(HA2_IFACE),
            Node::Cn => Some(CN_IFACE),
            Node::Rt | Node::Mn => None,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// The HA's interface on the home link.
pub const HA_IFACE: &str = "ha-home";
/// The second home agent's interface on the home link ([`Lab::add_home_agent_pair`]).
pub const HA2_IFACE: &str = "ha2-home";
/// The own addresses of the two home agents of a pair on the home link (`ha`, `ha2`),
/// from which they reach etcd; the home agent address [`HA_ADDR`] belongs to the
/// active one, which adds it itself ([`Lab::add_home_agent_pair`]).
pub const HA_PAIR_ADDRS: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 3),
];
/// The CN's interface on its link.
pub const CN_IFACE: &str = "cn-link";
/// The MN's interface into the home link.
pub const MN_HOME_IFACE: &str = "mn-home";
/// The MN's own address on the home link (not its home address, which the MN daemon
/// takes onto the link itself when it is at home).
pub const MN_HOME_LINK_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x200);
/// The home link's bridge in the router, holding the router's home address.
pub(crate) const RT_HOME_IFACE: &str = "rt-home";
/// The bridge ports toward the HA and the MN.
const RT_HOME_HA_PORT: &str = "rt-home-ha";
const RT_HOME_MN_PORT: &str = "rt-home-mn";
const RT_HOME_HA2_PORT: &str = "rt-home-ha2";
/// The nftables table of [`Lab::partition_from_etcd`].
const PARTITION_TABLE: &str = "mip6_lab_partition";
const RT_CN_IFACE: &str = "rt-cn";

/// A foreign link the MN can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// Foreign link 1, 2001:db8:2::/64.
    Foreign1,
    /// Foreign link 2, 2001:db8:3::/64.
    Foreign2,
}

impl Link {
    /// Both foreign links.
    pub const ALL: [Link; 2] = [Link::Foreign1, Link::Foreign2];

    fn net(self) -> u16 {
        match self {
            Link::Foreign1 => 2,
            Link::Foreign2 => 3,
        }
    }

    /// The link's /64 prefix (host bits zero).
    pub fn prefix(self) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, self.net(), 0, 0, 0, 0, 0)
    }

    /// The MN's address (its care-of address) on this link, `<prefix>::100`.
    pub fn mn_addr(self) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, self.net(), 0, 0, 0, 0, MN_IID)
    }

    /// The address the MN forms on this link from the router's advertisement
    /// ([`Lab::start_router_advertisements`]): the prefix and the modified EUI-64 of
    /// its interface's fixed Ethernet address ([`crate::radvd::mn_link_address`]).
    pub fn slaac_addr(self) -> Ipv6Addr {
        crate::radvd::eui64(
            self.prefix(),
            crate::radvd::mn_link_address(self.mn_iface()),
        )
    }

    /// The router's address on this link, `<prefix>::fe`: the MN's default gateway.
    pub fn router_addr(self) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, self.net(), 0, 0, 0, 0, ROUTER_IID)
    }

    /// The MN's interface into this link (`mn-fg1`, `mn-fg2`).
    pub fn mn_iface(self) -> &'static str {
        match self {
            Link::Foreign1 => "mn-fg1",
            Link::Foreign2 => "mn-fg2",
        }
    }

    /// The router's interface on this link (`rt-fg1`, `rt-fg2`).
    pub fn rt_iface(self) -> &'static str {
        match self {
            Link::Foreign1 => "rt-fg1",
            Link::Foreign2 => "rt-fg2",
        }
    }

    /// The other foreign link.
    pub fn other(self) -> Link {
        match self {
            Link::Foreign1 => Link::Foreign2,
            Link::Foreign2 => Link::Foreign1,
        }
    }
}

/// The router's address on the home link, the HA's default gateway.
pub fn home_router_addr() -> Ipv6Addr {
    with_iid(HOME_PREFIX, ROUTER_IID)
}

/// The router's address on the CN's link, the CN's default gateway.
pub fn cn_router_addr() -> Ipv6Addr {
    with_iid(CN_PREFIX, ROUTER_IID)
}

fn with_iid(prefix: Ipv6Addr, iid: u16) -> Ipv6Addr {
    let mut s = prefix.segments();
    s[7] = iid;
    Ipv6Addr::from(s)
}

/// A process spawned in the lab by [`Lab::spawn_in`] or [`Lab::spawn_command`]; its
/// value is the OS process id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcId(u32);

impl ProcId {
    /// The OS process id (`ip netns exec` execs the program, so this is the program's).
    pub fn pid(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ProcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

struct Tracked {
    id: ProcId,
    command: String,
    child: Child,
}

/// A running lab: owns its namespaces (and so their veths) and the processes spawned in
/// them, and removes all of them on drop. See the module doc for the topology.
pub struct Lab {
    prefix: String,
    /// Namespaces created so far, in creation order (a half-built lab cleans up too).
    created: Vec<Node>,
    procs: Vec<Tracked>,
    mn_link: Option<Link>,
    /// Whether the MN is on the home link.
    mn_home: bool,
    /// When the last [`Lab::move_mn`] added the MN's new address.
    coa_added_at: Option<std::time::SystemTime>,
    /// When the last [`Lab::detach_mn`] (or move) flushed the MN's old address.
    coa_removed_at: Option<std::time::SystemTime>,
    closed: bool,
    /// The router's radvd, once [`Lab::start_router_advertisements`] ran.
    radvd: Option<crate::radvd::Radvd>,
    /// etcd in the router, once [`Lab::start_etcd`] ran.
    etcd: Option<crate::etcd::Etcd>,
}

impl fmt::Debug for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lab")
            .field("prefix", &self.prefix)
            .field("created", &self.created)
            .field(
                "procs",
                &self.procs.iter().map(|p| p.id.0).collect::<Vec<_>>(),
            )
            .field("mn_link", &self.mn_link)
            .finish()
    }
}

impl Lab {
    /// Builds the whole topology, with the MN on no link (call [`Lab::move_mn`]).
    /// Needs root (`CAP_SYS_ADMIN`, `CAP_NET_ADMIN`) and iproute2's `ip`; see
    /// [`crate::prereq`]. On failure everything made so far is removed again.
    pub fn new() -> Result<Lab, LabError> {
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let mut lab = Lab {
            prefix: format!("mip6-{}-{n}-", std::process::id()),
            created: Vec::with_capacity(Node::ALL.len()),
            procs: Vec::new(),
            mn_link: None,
            mn_home: false,
            coa_added_at: None,
            coa_removed_at: None,
            closed: false,
            radvd: None,
            etcd: None,
        };
        lab.build()?;
        Ok(lab)
    }

    fn build(&mut self) -> Result<(), LabError> {
        for node in Node::ALL {
            let name = self.ns(node);
            {
                let _serial = NETNS_ADD.lock().unwrap_or_else(|e| e.into_inner());
                cmd::ip(&["netns", "add", &name])?;
            }
            self.created.push(node);
            self.ip(node, &["link", "set", "lo", "up"])?;
            let mut sysctls = vec![
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.accept_ra=0",
                "net.ipv6.conf.default.accept_ra=0",
            ];
            if node == Node::Rt {
                sysctls.push("net.ipv6.conf.all.forwarding=1");
            }
            // Before any veth exists: an interface takes the namespace's `default`.
            let mut args = vec!["sysctl", "-q", "-w"];
            args.extend(sysctls);
            self.exec_in_checked(node, &args)?;
        }

        self.ip(
            Node::Rt,
            &[
                "link",
                "add",
                RT_HOME_IFACE,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        )?;
        self.veth(RT_HOME_HA_PORT, Node::Ha, HA_IFACE)?;
        self.veth(RT_HOME_MN_PORT, Node::Mn, MN_HOME_IFACE)?;
        for port in [RT_HOME_HA_PORT, RT_HOME_MN_PORT] {
            self.ip(
                Node::Rt,
                &["link", "set", port, "master", RT_HOME_IFACE, "up"],
            )?;
        }
        self.veth(RT_CN_IFACE, Node::Cn, CN_IFACE)?;
        for link in Link::ALL {
            self.veth(link.rt_iface(), Node::Mn, link.mn_iface())?;
        }
        // Fixed Ethernet addresses, so the MN's autoconfigured addresses are known.
        for iface in [
            MN_HOME_IFACE,
            Link::Foreign1.mn_iface(),
            Link::Foreign2.mn_iface(),
        ] {
            let mac = crate::radvd::mn_link_address(iface)
                .iter()
                .map(|o| format!("{o:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            self.ip(Node::Mn, &["link", "set", "dev", iface, "address", &mac])?;
        }

        self.add_addr(Node::Rt, RT_HOME_IFACE, home_router_addr())?;
        self.add_addr(Node::Rt, RT_CN_IFACE, cn_router_addr())?;
        for link in Link::ALL {
            self.add_addr(Node::Rt, link.rt_iface(), link.router_addr())?;
        }
        self.add_addr(Node::Ha, HA_IFACE, HA_ADDR)?;
        self.add_addr(Node::Cn, CN_IFACE, CN_ADDR)?;

        for iface in [RT_HOME_IFACE, RT_CN_IFACE]
            .into_iter()
            .chain(Link::ALL.map(Link::rt_iface))
        {
            self.ip(Node::Rt, &["link", "set", iface, "up"])?;
        }
        self.ip(Node::Ha, &["link", "set", HA_IFACE, "up"])?;
        self.ip(Node::Cn, &["link", "set", CN_IFACE, "up"])?;

        self.default_route(Node::Ha, home_router_addr(), HA_IFACE)?;
        self.default_route(Node::Cn, cn_router_addr(), CN_IFACE)?;
        Ok(())
    }

    /// A veth pair with `rt_end` in the router and `peer_end` in `peer`.
    fn veth(&self, rt_end: &str, peer: Node, peer_end: &str) -> Result<(), LabError> {
        let peer_ns = self.ns(peer);
        self.ip(
            Node::Rt,
            &[
                "link", "add", rt_end, "type", "veth", "peer", "name", peer_end, "netns", &peer_ns,
            ],
        )
        .map(drop)
    }

    fn add_addr(&self, node: Node, iface: &str, addr: Ipv6Addr) -> Result<(), LabError> {
        let cidr = format!("{addr}/{PREFIX_LEN}");
        self.ip(node, &["addr", "add", &cidr, "dev", iface, "nodad"])
            .map(drop)
    }

    fn default_route(&self, node: Node, via: Ipv6Addr, iface: &str) -> Result<(), LabError> {
        let via = via.to_string();
        self.ip(
            node,
            &[
                "-6", "route", "replace", "default", "via", &via, "dev", iface,
            ],
        )
        .map(drop)
    }

    /// `ip -n <ns of node> ARGS...`, checked.
    fn ip(&self, node: Node, args: &[&str]) -> Result<Output, LabError> {
        let ns = self.ns(node);
        cmd::checked(Command::new("ip").args(["-n", &ns]).args(args))
    }

    /// Makes the lab's home agents a pair (issue 13, item 5): a second home agent
    /// namespace, `ha2`, on the home link (interface [`HA2_IFACE`]); the home agent
    /// address [`HA_ADDR`] taken off `ha`, whose daemon adds it back when it is the
    /// active one; each of the two gets an address of its own ([`HA_PAIR_ADDRS`]) and
    /// the default route via the router, to reach etcd ([`Lab::start_etcd`]).
    pub fn add_home_agent_pair(&mut self) -> Result<(), LabError> {
        if self.created.contains(&Node::Ha2) {
            return Ok(());
        }
        let name = self.ns(Node::Ha2);
        {
            let _serial = NETNS_ADD.lock().unwrap_or_else(|e| e.into_inner());
            cmd::ip(&["netns", "add", &name])?;
        }
        self.created.push(Node::Ha2);
        self.ip(Node::Ha2, &["link", "set", "lo", "up"])?;
        self.exec_in_checked(
            Node::Ha2,
            &[
                "sysctl",
                "-q",
                "-w",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.accept_ra=0",
                "net.ipv6.conf.default.accept_ra=0",
            ],
        )?;
        self.veth(RT_HOME_HA2_PORT, Node::Ha2, HA2_IFACE)?;
        self.ip(
            Node::Rt,
            &[
                "link",
                "set",
                RT_HOME_HA2_PORT,
                "master",
                RT_HOME_IFACE,
                "up",
            ],
        )?;
        let cidr = format!("{HA_ADDR}/{PREFIX_LEN}");
        self.ip(Node::Ha, &["addr", "del", &cidr, "dev", HA_IFACE])?;
        for (node, iface, addr) in [
            (Node::Ha, HA_IFACE, HA_PAIR_ADDRS[0]),
            (Node::Ha2, HA2_IFACE, HA_PAIR_ADDRS[1]),
        ] {
            self.add_addr(node, iface, addr)?;
            self.ip(node, &["link", "set", iface, "up"])?;
            self.default_route(node, home_router_addr(), iface)?;
        }
        Ok(())
    }

    /// Starts one etcd member in the router's namespace, once ([`crate::etcd`]); the
    /// client URLs (one).
    pub fn start_etcd(&mut self) -> Result<Vec<String>, LabError> {
        self.start_etcd_cluster(1)
    }

    /// Starts an etcd cluster of `members` members in the router's namespace, once;
    /// their client URLs.
    pub fn start_etcd_cluster(&mut self, members: usize) -> Result<Vec<String>, LabError> {
        if self.etcd.is_none() {
            self.etcd = Some(crate::etcd::start(self, members)?);
        }
        Ok(self
            .etcd
            .as_ref()
            .map(crate::etcd::Etcd::client_urls)
            .unwrap_or_default())
    }

    /// etcd, once [`Lab::start_etcd`] ran.
    pub fn etcd(&self) -> Option<&crate::etcd::Etcd> {
        self.etcd.as_ref()
    }

    /// `kill -9` of etcd member `index`; its data stays for [`Lab::restart_etcd_member`].
    pub fn kill_etcd_member(&mut self, index: usize) -> Result<(), LabError> {
        let mut etcd = self.etcd.take().ok_or(LabError::Missing {
            what: "etcd (Lab::start_etcd)",
        })?;
        let r = crate::etcd::kill_member(self, &mut etcd, index);
        self.etcd = Some(etcd);
        r
    }

    /// Starts etcd member `index` again on its data.
    pub fn restart_etcd_member(&mut self, index: usize) -> Result<(), LabError> {
        let mut etcd = self.etcd.take().ok_or(LabError::Missing {
            what: "etcd (Lab::start_etcd)",
        })?;
        let r = crate::etcd::restart_member(self, &mut etcd, index);
        self.etcd = Some(etcd);
        r
    }

    /// Cuts `node` off from etcd (an nftables table in its namespace drops the etcd
    /// client port both ways) while the home link stays up: a partition of a home
    /// agent from its store, not a failure of either. [`Lab::heal_from_etcd`] undoes it.
    pub fn partition_from_etcd(&self, node: Node) -> Result<(), LabError> {
        let members = self.etcd.as_ref().map_or(1, crate::etcd::Etcd::size);
        let ports = crate::etcd::client_ports(members)
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let port = format!("{{ {ports} }}");
        let table = ["inet", PARTITION_TABLE];
        self.exec_in_checked(node, &["nft", "add", "table", table[0], table[1]])?;
        for (chain, hook, field) in [("out", "output", "dport"), ("in", "input", "sport")] {
            let spec = format!("{{ type filter hook {hook} priority 0; }}");
            self.exec_in_checked(
                node,
                &["nft", "add", "chain", table[0], table[1], chain, &spec],
            )?;
            self.exec_in_checked(
                node,
                &[
                    "nft", "add", "rule", table[0], table[1], chain, "tcp", field, &port, "drop",
                ],
            )?;
        }
        Ok(())
    }

    /// Ends [`Lab::partition_from_etcd`].
    pub fn heal_from_etcd(&self, node: Node) -> Result<(), LabError> {
        self.exec_in_checked(node, &["nft", "delete", "table", "inet", PARTITION_TABLE])
            .map(drop)
    }

    /// This lab's name prefix, `mip6-<pid>-<n>-`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The name of `node`'s namespace (`<prefix><node>`), as `ip netns` knows it.
    pub fn ns(&self, node: Node) -> String {
        format!("{}{}", self.prefix, node.suffix())
    }

    /// The foreign link the MN is on, if any.
    pub fn mn_link(&self) -> Option<Link> {
        self.mn_link
    }

    /// Whether the MN is on the home link ([`Lab::move_mn_home`]).
    pub fn mn_at_home(&self) -> bool {
        self.mn_home
    }

    /// Moves the MN to the home link: off every foreign link first, then `mn-home`
    /// comes up with the default route via the router's home address and then
    /// [`MN_HOME_LINK_ADDR`] (an `RTM_NEWADDR` in the home prefix, which tells the MN
    /// daemon it is at home). Moving home when at home changes nothing.
    pub fn move_mn_home(&mut self) -> Result<(), LabError> {
        if self.mn_home {
            return Ok(());
        }
        self.detach_mn()?;
        self.ip(Node::Mn, &["link", "set", MN_HOME_IFACE, "up"])?;
        // The default route first (`onlink`: the prefix is not there yet), so that the
        // MN daemon finds the home link's router when the address tells it it is home.
        let router = home_router_addr().to_string();
        self.ip(
            Node::Mn,
            &[
                "-6",
                "route",
                "replace",
                "default",
                "via",
                &router,
                "dev",
                MN_HOME_IFACE,
                "onlink",
            ],
        )?;
        self.add_addr(Node::Mn, MN_HOME_IFACE, MN_HOME_LINK_ADDR)?;
        self.coa_added_at = Some(std::time::SystemTime::now());
        self.mn_home = true;
        Ok(())
    }

    /// Moves the MN to `link`: the other foreign interface loses its address and goes
    /// down, then `link`'s interface comes up, gets the MN's address on that link
    /// ([`Link::mn_addr`]) and the default route via the router. The MN daemon sees the
    /// old care-of address go (`RTM_DELADDR`) and the new one appear (`RTM_NEWADDR`).
    /// Moving to the link the MN is already on changes nothing.
    pub fn move_mn(&mut self, link: Link) -> Result<(), LabError> {
        if self.mn_link == Some(link) {
            return Ok(());
        }
        self.detach_mn()?;
        self.ip(Node::Mn, &["link", "set", link.mn_iface(), "up"])?;
        self.add_addr(Node::Mn, link.mn_iface(), link.mn_addr())?;
        self.coa_added_at = Some(std::time::SystemTime::now());
        self.default_route(Node::Mn, link.router_addr(), link.mn_iface())?;
        self.mn_link = Some(link);
        Ok(())
    }

    /// Starts radvd in the router's namespace ([`crate::radvd`]): from then on every
    /// link announces its prefix, and [`Lab::switch_mn`] moves the MN by links alone.
    /// A second call changes nothing.
    pub fn start_router_advertisements(&mut self) -> Result<(), LabError> {
        if self.radvd.is_none() {
            self.radvd = Some(crate::radvd::start(self)?);
        }
        Ok(())
    }

    /// Whether radvd runs ([`Lab::start_router_advertisements`]).
    pub fn advertises(&self) -> bool {
        self.radvd.is_some()
    }

    /// radvd's process (to pause or stop it), if it runs.
    pub fn radvd(&self) -> Option<&crate::radvd::Radvd> {
        self.radvd.as_ref()
    }

    /// Stops radvd (SIGTERM: it sends its final advertisements, Router Lifetime 0,
    /// RFC 4861 §6.2.5) and waits for it.
    pub fn stop_router_advertisements(&mut self) -> Result<(), LabError> {
        match self.radvd.take() {
            Some(r) => self.stop(r.proc).map(drop),
            None => Ok(()),
        }
    }

    /// The MN's care-of address on `link`: the one it forms from the router's
    /// advertisement when radvd runs, the hand-set one otherwise.
    pub fn mn_coa(&self, link: Link) -> Ipv6Addr {
        if self.advertises() {
            link.slaac_addr()
        } else {
            link.mn_addr()
        }
    }

    /// Moves the MN onto `link` as a host moves between networks: off every link
    /// (addresses flushed, interfaces down), then `link`'s interface up, and nothing
    /// else: no address, no route. The MN daemon hears the link's router (within
    /// [`crate::radvd::MAX_INTERVAL_S`]) and configures both itself (RFC 6275 §11.5.1).
    /// Needs [`Lab::start_router_advertisements`]. [`Lab::coa_added_at`] is the moment
    /// the interface came up.
    pub fn switch_mn(&mut self, link: Link) -> Result<(), LabError> {
        if self.mn_link == Some(link) {
            return Ok(());
        }
        self.detach_mn()?;
        self.ip(Node::Mn, &["link", "set", link.mn_iface(), "up"])?;
        self.coa_added_at = Some(std::time::SystemTime::now());
        self.mn_link = Some(link);
        Ok(())
    }

    /// Moves the MN onto its home link the same way as [`Lab::switch_mn`]: the MN
    /// learns it is home from the home prefix in the router's advertisement.
    pub fn switch_mn_home(&mut self) -> Result<(), LabError> {
        if self.mn_home {
            return Ok(());
        }
        self.detach_mn()?;
        self.ip(Node::Mn, &["link", "set", MN_HOME_IFACE, "up"])?;
        self.coa_added_at = Some(std::time::SystemTime::now());
        self.mn_home = true;
        Ok(())
    }

    /// When the last [`Lab::move_mn`] added the MN's address on its new link (wall
    /// clock): the moment the new care-of address existed, before its default route
    /// was added. `None` before any move.
    pub fn coa_added_at(&self) -> Option<std::time::SystemTime> {
        self.coa_added_at
    }

    /// When the last [`Lab::detach_mn`] (which [`Lab::move_mn`] starts with) flushed
    /// the address of the link the MN was on (wall clock): from then on the old
    /// care-of address is gone. `None` if the MN was never taken off a link.
    pub fn coa_removed_at(&self) -> Option<std::time::SystemTime> {
        self.coa_removed_at
    }

    /// Takes the MN off every link: each foreign interface and the home interface
    /// lose their global addresses and go down (their routes go with them).
    pub fn detach_mn(&mut self) -> Result<(), LabError> {
        if self.mn_home {
            self.ip(
                Node::Mn,
                &["addr", "flush", "dev", MN_HOME_IFACE, "scope", "global"],
            )?;
            self.coa_removed_at = Some(std::time::SystemTime::now());
            self.ip(Node::Mn, &["link", "set", MN_HOME_IFACE, "down"])?;
            self.mn_home = false;
        }
        for link in Link::ALL {
            let iface = link.mn_iface();
            self.ip(
                Node::Mn,
                &["addr", "flush", "dev", iface, "scope", "global"],
            )?;
            if self.mn_link == Some(link) {
                self.coa_removed_at = Some(std::time::SystemTime::now());
            }
            self.ip(Node::Mn, &["link", "set", iface, "down"])?;
        }
        self.mn_link = None;
        Ok(())
    }

    /// The global IPv6 addresses configured in `node`'s namespace
    /// (`ip -6 -o addr show scope global`).
    pub fn global_addrs(&self, node: Node) -> Result<Vec<Ipv6Addr>, LabError> {
        let ns = self.ns(node);
        let mut command = Command::new("ip");
        command.args(["-n", &ns, "-6", "-o", "addr", "show", "scope", "global"]);
        let out = cmd::checked(&mut command)?;
        parse_addrs(&String::from_utf8_lossy(&out.stdout)).map_err(|what| LabError::Parse {
            command: cmd::display(&command),
            what,
        })
    }

    /// A [`Command`] that runs `program` inside `node`'s namespace
    /// (`ip netns exec <ns> <program>`), to add arguments, stdio and environment to,
    /// then hand to [`Lab::spawn_command`] (or run directly, untracked).
    pub fn command_in(&self, node: Node, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec"])
            .arg(self.ns(node))
            .arg(program);
        command
    }

    /// Runs `args` (program first) inside `node`'s namespace to completion and returns
    /// its output whatever its exit status; fails only if `ip` could not be started
    /// (a missing program shows as `ip netns exec`'s non-zero status and stderr).
    pub fn exec_in<S: AsRef<OsStr>>(&self, node: Node, args: &[S]) -> Result<Output, LabError> {
        let mut command = self.netns_exec(node, args);
        cmd::output(&mut command)
    }

    /// Like [`Lab::exec_in`], but a non-zero exit is a [`LabError::Failed`].
    pub fn exec_in_checked<S: AsRef<OsStr>>(
        &self,
        node: Node,
        args: &[S],
    ) -> Result<Output, LabError> {
        let mut command = self.netns_exec(node, args);
        cmd::checked(&mut command)
    }

    fn netns_exec<S: AsRef<OsStr>>(&self, node: Node, args: &[S]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec"])
            .arg(self.ns(node))
            .args(args);
        command
    }

    /// Bounded reachability check: `ping -6 -n -c 2 -i 0.2 -W 1 -I <from> <to>` inside
    /// `node` (at most about 1.2 s). `Ok(true)` if a reply came, `Ok(false)` if none
    /// did (exit 1); any other failure, such as `from` not being an address of `node`
    /// (exit 2), is a [`LabError::Failed`].
    pub fn ping(&self, node: Node, from: Ipv6Addr, to: Ipv6Addr) -> Result<bool, LabError> {
        let (from, to) = (from.to_string(), to.to_string());
        let args = [
            "ping", "-6", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1", "-I", &from, &to,
        ];
        let mut command = self.netns_exec(node, &args);
        let out = cmd::output(&mut command)?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(LabError::Failed {
                command: cmd::display(&command),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            }),
        }
    }

    /// Spawns `args` (program first) inside `node`'s namespace with stdin closed and
    /// stdout/stderr inherited; the lab stops it on drop (or see [`Lab::stop`]).
    pub fn spawn_in<S: AsRef<OsStr>>(
        &mut self,
        node: Node,
        args: &[S],
    ) -> Result<ProcId, LabError> {
        let mut command = self.netns_exec(node, args);
        command.stdin(Stdio::null());
        self.spawn_command(command)
    }

    /// Spawns a command made by [`Lab::command_in`] (with whatever stdio the caller
    /// set) and tracks it, so the lab stops it on drop. A command that does not run in
    /// one of this lab's namespaces is tracked all the same.
    pub fn spawn_command(&mut self, mut command: Command) -> Result<ProcId, LabError> {
        let line = cmd::display(&command);
        let child = command.spawn().map_err(|source| LabError::Spawn {
            command: line.clone(),
            source,
        })?;
        let id = ProcId(child.id());
        self.procs.push(Tracked {
            id,
            command: line,
            child,
        });
        Ok(id)
    }

    /// Takes the stdout pipe of a spawned process (if it was spawned with
    /// `Stdio::piped()` and not taken before).
    pub fn take_stdout(&mut self, id: ProcId) -> Option<ChildStdout> {
        self.tracked(id)?.child.stdout.take()
    }

    /// Takes the stdin pipe of a spawned process, as [`Lab::take_stdout`] (closing it
    /// tells a process that reads to its end to finish).
    pub fn take_stdin(&mut self, id: ProcId) -> Option<std::process::ChildStdin> {
        self.tracked(id)?.child.stdin.take()
    }

    /// Takes the stderr pipe of a spawned process, as [`Lab::take_stdout`].
    pub fn take_stderr(&mut self, id: ProcId) -> Option<ChildStderr> {
        self.tracked(id)?.child.stderr.take()
    }

    /// Whether a spawned process is still running (`None` if it is not tracked).
    pub fn is_running(&mut self, id: ProcId) -> Option<bool> {
        let t = self.tracked(id)?;
        Some(matches!(t.child.try_wait(), Ok(None)))
    }

    fn tracked(&mut self, id: ProcId) -> Option<&mut Tracked> {
        self.procs.iter_mut().find(|t| t.id == id)
    }

    /// Stops a spawned process: SIGTERM, up to one second's grace, then SIGKILL; reaps
    /// it and stops tracking it. Returns its exit status.
    pub fn stop(&mut self, id: ProcId) -> Result<ExitStatus, LabError> {
        let pos = self
            .procs
            .iter()
            .position(|t| t.id == id)
            .ok_or(LabError::UnknownProcess(id))?;
        let mut tracked = self.procs.swap_remove(pos);
        let mut errors = Vec::new();
        let status = stop_all(std::slice::from_mut(&mut tracked), &mut errors);
        match (status.into_iter().next().flatten(), errors.pop()) {
            (Some(status), _) => Ok(status),
            (None, Some(err)) => Err(err),
            (None, None) => Err(LabError::UnknownProcess(id)),
        }
    }

    /// Tears the lab down now, reporting every failure (teardown goes on past each
    /// one). Dropping a lab does the same and prints failures to stderr.
    pub fn close(mut self) -> Result<(), LabError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), LabError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let mut errors = Vec::new();
        stop_all(&mut self.procs, &mut errors);
        self.procs.clear();
        for node in self.created.drain(..).rev() {
            let name = format!("{}{}", self.prefix, node.suffix());
            if let Err(e) = remove_namespace(&name) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LabError::Teardown { errors })
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("mip6-lab: {e}");
        }
    }
}

/// SIGTERMs every process, waits up to [`STOP_GRACE`] for all of them together, then
/// SIGKILLs the rest and reaps them. Returns each exit status (None where it failed).
fn stop_all(procs: &mut [Tracked], errors: &mut Vec<LabError>) -> Vec<Option<ExitStatus>> {
    let mut status: Vec<Option<ExitStatus>> = vec![None; procs.len()];
    for (t, s) in procs.iter_mut().zip(status.iter_mut()) {
        match t.child.try_wait() {
            Ok(Some(done)) => *s = Some(done),
            // No SIGTERM in std: `kill` it is. If that fails, SIGKILL below still ends it.
            Ok(None) => {
                let _ = cmd::output(Command::new("kill").args(["-TERM", &t.id.to_string()]));
            }
            Err(source) => errors.push(LabError::Wait {
                command: t.command.clone(),
                source,
            }),
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    while status.iter().any(Option::is_none) && Instant::now() < deadline {
        thread::sleep(STOP_POLL);
        for (t, s) in procs.iter_mut().zip(status.iter_mut()) {
            if s.is_none() {
                if let Ok(Some(done)) = t.child.try_wait() {
                    *s = Some(done);
                }
            }
        }
    }
    for (t, s) in procs.iter_mut().zip(status.iter_mut()) {
        if s.is_none() {
            // SIGKILL; an error here means it already exited, which wait() tells.
            let _ = t.child.kill();
            match t.child.wait() {
                Ok(done) => *s = Some(done),
                Err(source) => errors.push(LabError::Wait {
                    command: t.command.clone(),
                    source,
                }),
            }
        }
    }
    status
}

/// Kills every process still in namespace `name` (`ip netns pids`), then deletes it.
fn remove_namespace(name: &str) -> Result<(), LabError> {
    let mut pids_cmd = Command::new("ip");
    pids_cmd.args(["netns", "pids", name]);
    let out = cmd::checked(&mut pids_cmd)?;
    let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !pids.is_empty() {
        // A process may exit between listing and killing; what matters is the check below.
        let _ = cmd::output(Command::new("kill").arg("-KILL").args(&pids));
    }
    cmd::ip(&["netns", "delete", name]).map(drop)
}

/// The namespaces `ip netns list` shows, by name.
pub fn list_namespaces() -> Result<Vec<String>, LabError> {
    let out = cmd::ip(&["netns", "list"])?;
    // Each line is `name` or `name (id: N)`.
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// Removes every namespace whose name starts with `prefix` (killing the processes in
/// it first), for leftovers of runs that were killed before their [`Lab`] dropped.
/// `prefix` must start with `mip6-`. Returns the names removed.
///
/// Do not pass a prefix that matches a live lab of another test or process: use a
/// full lab prefix (`mip6-<pid>-<n>-`), a dead process's `mip6-<pid>-`, or
/// [`cleanup_orphans`], which checks for that.
pub fn cleanup_stale(prefix: &str) -> Result<Vec<String>, LabError> {
    if !prefix.starts_with("mip6-") {
        return Err(LabError::ForeignPrefix {
            prefix: prefix.to_owned(),
        });
    }
    remove_matching(|name| name.starts_with(prefix))
}

/// Removes the namespaces of labs whose process no longer exists: every
/// `mip6-<pid>-...` with no `/proc/<pid>`. Safe while other processes run labs. Returns
/// the names removed.
pub fn cleanup_orphans() -> Result<Vec<String>, LabError> {
    let mut alive: HashSet<u32> = HashSet::new();
    remove_matching(|name| match owner_pid(name) {
        Some(pid) if alive.contains(&pid) => false,
        Some(pid) if std::path::Path::new(&format!("/proc/{pid}")).exists() => {
            alive.insert(pid);
            false
        }
        Some(_) => true,
        None => false,
    })
}

/// The `<pid>` of a lab namespace name `mip6-<pid>-<n>-<node>`.
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix("mip6-")?.split('-').next()?.parse().ok()
}

fn remove_matching(mut matches: impl FnMut(&str) -> bool) -> Result<Vec<String>, LabError> {
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    for name in list_namespaces()? {
        if matches(&name) {
            match remove_namespace(&name) {
                Ok(()) => removed.push(name),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(removed)
    } else {
        Err(LabError::Teardown { errors })
    }
}

/// The addresses in `ip -6 -o addr show` output: the word after each `inet6`,
/// without its `/len`.
fn parse_addrs(text: &str) -> Result<Vec<Ipv6Addr>, String> {
    let mut addrs = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.by_ref().any(|w| w == "inet6") {
            let cidr = words
                .next()
                .ok_or_else(|| format!("no address after inet6 in {line:?}"))?;
            let addr = cidr.split('/').next().unwrap_or(cidr);
            addrs.push(
                addr.parse()
                    .map_err(|e| format!("bad address {addr:?} in {line:?}: {e}"))?,
            );
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_design() {
        assert_eq!(HA_ADDR.to_string(), "2001:db8:1::1");
        assert_eq!(MN_HOA.to_string(), "2001:db8:1::100");
        assert_eq!(CN_ADDR.to_string(), "2001:db8:4::1");
        assert_eq!(home_router_addr().to_string(), "2001:db8:1::fe");
        assert_eq!(cn_router_addr().to_string(), "2001:db8:4::fe");
        assert_eq!(Link::Foreign1.prefix().to_string(), "2001:db8:2::");
        assert_eq!(Link::Foreign1.mn_addr().to_string(), "2001:db8:2::100");
        assert_eq!(Link::Foreign2.mn_addr().to_string(), "2001:db8:3::100");
        assert_eq!(Link::Foreign2.router_addr().to_string(), "2001:db8:3::fe");
        assert_eq!(Link::Foreign1.other(), Link::Foreign2);
        assert_eq!(Link::Foreign2.other(), Link::Foreign1);
    }

    #[test]
    fn every_address_is_documentation_space() {
        let all = [
            HA_ADDR,
            MN_HOA,
            CN_ADDR,
            home_router_addr(),
            cn_router_addr(),
            Link::Foreign1.mn_addr(),
            Link::Foreign1.router_addr(),
            Link::Foreign2.mn_addr(),
            Link::Foreign2.router_addr(),
        ];
        for a in all {
            assert_eq!(
                &a.segments()[..2],
                &[0x2001, 0xdb8],
                "{a} outside 2001:db8::/32"
            );
        }
    }

    #[test]
    fn interface_names_fit_ifnamsiz() {
        let names = [HA_IFACE, CN_IFACE, RT_HOME_IFACE, RT_CN_IFACE]
            .into_iter()
            .chain(Link::ALL.map(Link::mn_iface))
            .chain(Link::ALL.map(Link::rt_iface));
        for n in names {
            assert!(!n.is_empty() && n.len() <= 15, "{n}");
        }
    }

    #[test]
    fn owner_pid_reads_lab_names_only() {
        assert_eq!(owner_pid("mip6-1234-0-ha"), Some(1234));
        assert_eq!(owner_pid("mip6-1234-17-rt"), Some(1234));
        assert_eq!(owner_pid("mip6-x-0-ha"), None);
        assert_eq!(owner_pid("other-1234-0-ha"), None);
    }

    #[test]
    fn cleanup_stale_refuses_foreign_prefixes() {
        for bad in ["", "mip6", "ha", "x-mip6-"] {
            assert!(
                matches!(cleanup_stale(bad), Err(LabError::ForeignPrefix { prefix }) if prefix == bad),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_addrs_reads_ip_o_output() {
        let text = "\
2: mn-fg1    inet6 2001:db8:2::100/64 scope global nodad \\       valid_lft forever preferred_lft forever
3: mn-fg2    inet6 2001:db8:3::100/64 scope global \\       valid_lft forever preferred_lft forever
";
        assert_eq!(
            parse_addrs(text).unwrap(),
            vec![Link::Foreign1.mn_addr(), Link::Foreign2.mn_addr()]
        );
        assert_eq!(parse_addrs("").unwrap(), Vec::<Ipv6Addr>::new());
        assert!(parse_addrs("2: x inet6 zz/64").is_err());
        assert!(parse_addrs("2: x inet6").is_err());
    }
}
