//! Router discovery and stateless address autoconfiguration for movement detection
//! (RFC 6275 §11.5.1–11.5.3, RFC 4861 §6.3.4 and §7.3, RFC 4862 §5.5.3), sans-IO:
//! time and received Router and Neighbor Advertisements in, [`Action`]s out, which the
//! role carries out (addresses and routes over rtnetlink, solicitations and probes on
//! the link). The care-of address itself is still chosen by [`crate::movement`] from
//! the addresses this machine adds and removes, so hand-set addresses keep working as
//! a second source.
//!
//! Per watched interface the machine keeps the default routers heard and the
//! addresses it formed (one per autonomous /64, the interface identifier from the
//! Ethernet address, modified EUI-64, RFC 4291 §2.5.1):
//!
//! - **A new link.** An advertisement from a router not known on the interface whose
//!   autonomous prefixes include none the node formed an address from there means
//!   the node moved (RFC 6275 §11.5.1: a new default router with new prefixes): the
//!   old routers and addresses of the interface are removed at once, then the new
//!   router's default route and the new address are added, route first, so the Binding
//!   Update for the new care-of address leaves without waiting for a lifetime to run
//!   out. A new router that advertises a prefix already in use is a second router on
//!   the same link.
//! - **Loss of the router.** Its Router Lifetime runs out, it advertises lifetime 0,
//!   or, when it sends the Advertisement Interval option (RFC 6275 §7.3), no
//!   advertisement comes for [`MISSED_INTERVALS`] intervals and Neighbor Unreachability
//!   Detection then fails: [`MAX_UNICAST_SOLICIT`] unicast Neighbor Solicitations, one
//!   Retrans Timer apart, without a solicited Neighbor Advertisement (RFC 4861 §7.3.3).
//!   The router's route goes; when no router is left on the link its addresses go too
//!   (a care-of address with no router to leave by is no use) and a Router
//!   Solicitation asks whether another router is there.
//! - **Lifetimes** (RFC 4862 §5.5.3): an address is formed only for a prefix with a
//!   non-zero valid lifetime no shorter than its preferred lifetime; an advertised
//!   valid lifetime over two hours or over the remaining one replaces it, a shorter
//!   one is taken only down to two hours (item e); the address is removed when its
//!   valid lifetime ends. The kernel holds the addresses with infinite lifetimes: the
//!   machine keeps the lifetimes, so a router advertising every 50 ms costs no
//!   netlink traffic.
//!
//! Choices: addresses are added without Duplicate Address Detection (a lab and a
//! handover cannot wait a second for it; RFC 6275 §11.5.2 lets the node use the
//! address at once when it accepts the risk, as optimistic DAD does); only /64
//! prefixes are used for addresses; the M and O flags are ignored (no DHCPv6); one
//! solicitation per interface at start, when the interface comes up (at most one a
//! second) and on loss of the last router, without RFC 4861's random delay, and none
//! on a timer.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use mip6_wire::nd::LinkAddress;
pub use mip6_wire::ra::eui64_address;
use mip6_wire::ra::RouterAdvertisement;
use mip6_wire::Time;

/// Advertisement intervals without an advertisement after which the router is probed
/// (RFC 6275 §7.3 leaves the number to the node).
pub const MISSED_INTERVALS: u32 = 3;
/// Unicast solicitations before a router is unreachable (RFC 4861 §10).
pub const MAX_UNICAST_SOLICIT: u32 = 3;
/// The probe spacing when the router gives no Retrans Timer (RFC 4861 §10).
pub const RETRANS_TIMER: Duration = Duration::from_secs(1);
/// The least time between two solicitations for one interface coming up.
pub const SOLICITATION_SPACING: Duration = Duration::from_secs(1);
/// Valid lifetimes an advertisement may shorten to without checks (RFC 4862 §5.5.3 e).
pub const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);

/// What the role must do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `ip -6 route replace default via <router> dev <ifindex>` in the main table.
    AddDefaultRoute {
        /// The interface.
        ifindex: u32,
        /// The router's link-local address.
        router: Ipv6Addr,
    },
    /// Removes that route.
    RemoveDefaultRoute {
        /// The interface.
        ifindex: u32,
        /// The router's link-local address.
        router: Ipv6Addr,
    },
    /// Adds `address/64` to the interface, without DAD.
    AddAddress {
        /// The interface.
        ifindex: u32,
        /// The formed address.
        address: Ipv6Addr,
    },
    /// Removes `address/64` from the interface.
    RemoveAddress {
        /// The interface.
        ifindex: u32,
        /// The formed address.
        address: Ipv6Addr,
    },
    /// Sends a Router Solicitation from the unspecified address (RFC 4861 §6.3.7).
    Solicit {
        /// The interface.
        ifindex: u32,
    },
    /// Sends a unicast Neighbor Solicitation for the router (RFC 4861 §7.3.3 PROBE).
    Probe {
        /// The interface.
        ifindex: u32,
        /// The router's link-local address.
        router: Ipv6Addr,
        /// Its Ethernet address, if known.
        link_address: Option<LinkAddress>,
    },
}

impl Action {
    /// Its name in logs (`add_address`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Action::AddDefaultRoute { .. } => "add_default_route",
            Action::RemoveDefaultRoute { .. } => "remove_default_route",
            Action::AddAddress { .. } => "add_address",
            Action::RemoveAddress { .. } => "remove_address",
            Action::Solicit { .. } => "solicit",
            Action::Probe { .. } => "probe",
        }
    }
}

/// A default router heard on a watched interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Router {
    link_address: Option<LinkAddress>,
    expires: Time,
    interval: Option<Duration>,
    retrans: Duration,
    last_heard: Time,
    /// Unicast solicitations sent since the last sign of life, and when the next is due.
    probing: Option<(u32, Time)>,
}

impl Router {
    /// When this router needs attention next.
    fn deadline(&self) -> Time {
        let missed = self
            .interval
            .map(|i| self.last_heard + i * MISSED_INTERVALS);
        let probe = self.probing.map(|(_, at)| at);
        [
            Some(self.expires),
            probe,
            missed.filter(|_| self.probing.is_none()),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.expires)
    }
}

/// An address the machine formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Formed {
    address: Ipv6Addr,
    /// `None`: infinite.
    valid_until: Option<Time>,
}

#[derive(Debug, Clone, Default)]
struct Link {
    link_address: LinkAddress,
    /// When [`RouterDiscovery::on_link_up`] last solicited.
    last_solicitation: Option<Time>,
    routers: BTreeMap<Ipv6Addr, Router>,
    /// By /64 prefix.
    formed: BTreeMap<Ipv6Addr, Formed>,
}

/// Router discovery on the watched interfaces (module docs).
#[derive(Debug, Clone, Default)]
pub struct RouterDiscovery {
    links: BTreeMap<u32, Link>,
}

fn after(now: Time, seconds: u32) -> Option<Time> {
    (seconds != u32::MAX).then(|| now + Duration::from_secs(u64::from(seconds)))
}

impl RouterDiscovery {
    /// Watches these interfaces (index, Ethernet address); the actions are one Router
    /// Solicitation on each.
    pub fn new(interfaces: &[(u32, LinkAddress)]) -> (RouterDiscovery, Vec<Action>) {
        let mut links = BTreeMap::new();
        let mut actions = Vec::new();
        for &(ifindex, link_address) in interfaces {
            links.insert(
                ifindex,
                Link {
                    link_address,
                    ..Link::default()
                },
            );
            actions.push(Action::Solicit { ifindex });
        }
        (RouterDiscovery { links }, actions)
    }

    /// Watches these interfaces from now on: links no longer watched lose their
    /// routers and addresses, new ones are solicited; the others keep their state.
    pub fn set_interfaces(&mut self, interfaces: &[(u32, LinkAddress)]) -> Vec<Action> {
        let mut actions = Vec::new();
        let keep: Vec<u32> = interfaces.iter().map(|(i, _)| *i).collect();
        let gone: Vec<u32> = self
            .links
            .keys()
            .copied()
            .filter(|i| !keep.contains(i))
            .collect();
        for ifindex in gone {
            if let Some(mut link) = self.links.remove(&ifindex) {
                clear_link(ifindex, &mut link, &mut actions);
            }
        }
        for &(ifindex, link_address) in interfaces {
            self.links.entry(ifindex).or_insert_with(|| {
                actions.push(Action::Solicit { ifindex });
                Link {
                    link_address,
                    ..Link::default()
                }
            });
        }
        actions
    }

    /// The interfaces watched.
    pub fn interfaces(&self) -> impl Iterator<Item = u32> + '_ {
        self.links.keys().copied()
    }

    /// The routers known on `ifindex`.
    pub fn routers(&self, ifindex: u32) -> Vec<Ipv6Addr> {
        self.links
            .get(&ifindex)
            .map(|l| l.routers.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The addresses formed on `ifindex`.
    pub fn formed(&self, ifindex: u32) -> Vec<Ipv6Addr> {
        self.links
            .get(&ifindex)
            .map(|l| l.formed.values().map(|f| f.address).collect())
            .unwrap_or_default()
    }

    /// Whether `address` was formed here (its removal by someone else matters).
    pub fn is_formed(&self, ifindex: u32, address: &Ipv6Addr) -> bool {
        self.links
            .get(&ifindex)
            .is_some_and(|l| l.formed.values().any(|f| f.address == *address))
    }

    /// Takes a valid Router Advertisement received on `ifindex` (Ethernet sender
    /// `link_sender`). The second value is true when the advertisement showed a new link
    /// (module docs).
    pub fn on_advertisement(
        &mut self,
        now: Time,
        ifindex: u32,
        link_sender: Option<LinkAddress>,
        ra: &RouterAdvertisement,
    ) -> (Vec<Action>, bool) {
        let mut actions = Vec::new();
        let Some(link) = self.links.get_mut(&ifindex) else {
            return (actions, false);
        };
        let usable: Vec<_> = ra
            .prefixes
            .iter()
            .filter(|p| {
                p.autonomous
                    && p.len == 64
                    && p.valid_lifetime > 0
                    && p.preferred_lifetime <= p.valid_lifetime
                    && p.network().segments()[0] & 0xffc0 != 0xfe80
            })
            .collect();
        let known_router = link.routers.contains_key(&ra.source);
        let known_prefix = usable
            .iter()
            .any(|p| link.formed.contains_key(&p.network()));
        let moved = !known_router
            && !known_prefix
            && !usable.is_empty()
            && (!link.formed.is_empty() || !link.routers.is_empty());
        if moved {
            clear_link(ifindex, link, &mut actions);
        }
        let router_address = ra.source;
        if ra.router_lifetime == 0 {
            if link.routers.remove(&router_address).is_some() {
                actions.push(Action::RemoveDefaultRoute {
                    ifindex,
                    router: router_address,
                });
                if link.routers.is_empty() {
                    drop_addresses(ifindex, link, &mut actions);
                    actions.push(Action::Solicit { ifindex });
                }
            }
        } else {
            let router = Router {
                link_address: ra.source_link_address.or(link_sender),
                expires: now + ra.router_lifetime(),
                interval: ra.advertisement_interval(),
                retrans: match ra.retrans_timer_ms {
                    0 => RETRANS_TIMER,
                    ms => Duration::from_millis(u64::from(ms)),
                },
                last_heard: now,
                probing: None,
            };
            if link.routers.insert(router_address, router).is_none() {
                actions.push(Action::AddDefaultRoute {
                    ifindex,
                    router: router_address,
                });
            }
        }
        // Addresses only with a router to leave by (module docs).
        let usable = if link.routers.is_empty() {
            Vec::new()
        } else {
            usable
        };
        for p in usable {
            let network = p.network();
            let advertised = after(now, p.valid_lifetime);
            match link.formed.get_mut(&network) {
                Some(formed) => formed.valid_until = refreshed(now, formed.valid_until, advertised),
                None => {
                    let address = eui64_address(network, link.link_address);
                    link.formed.insert(
                        network,
                        Formed {
                            address,
                            valid_until: advertised,
                        },
                    );
                    actions.push(Action::AddAddress { ifindex, address });
                }
            }
        }
        (actions, moved)
    }

    /// The interface `ifindex` came up (its link-local address appeared): a Router
    /// Solicitation asks the link's routers to speak now, not at their next
    /// unsolicited advertisement (RFC 4861 §6.3.7; no random delay: a handover
    /// cannot wait for it). At most one per [`SOLICITATION_SPACING`] per interface.
    pub fn on_link_up(&mut self, now: Time, ifindex: u32) -> Vec<Action> {
        let Some(link) = self.links.get_mut(&ifindex) else {
            return Vec::new();
        };
        if link
            .last_solicitation
            .is_some_and(|at| now < at + SOLICITATION_SPACING)
        {
            return Vec::new();
        }
        link.last_solicitation = Some(now);
        vec![Action::Solicit { ifindex }]
    }

    /// A Neighbor Advertisement for `target` arrived on `ifindex`: a solicited one
    /// from a router being probed confirms it reachable (RFC 4861 §7.3.3).
    pub fn on_neighbour_advertisement(
        &mut self,
        now: Time,
        ifindex: u32,
        target: Ipv6Addr,
        solicited: bool,
    ) {
        if !solicited {
            return;
        }
        if let Some(router) = self
            .links
            .get_mut(&ifindex)
            .and_then(|l| l.routers.get_mut(&target))
        {
            router.probing = None;
            router.last_heard = now;
        }
    }

    /// An address this machine formed was removed by someone else (the interface went
    /// down and the kernel flushed it): forget it, and with the link's last address,
    /// its routers (whose routes went with the link).
    pub fn on_address_removed(&mut self, ifindex: u32, address: Ipv6Addr) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(link) = self.links.get_mut(&ifindex) else {
            return actions;
        };
        let before = link.formed.len();
        link.formed.retain(|_, f| f.address != address);
        if link.formed.len() != before {
            // Still remove, so the role's record of what it installed stays true.
            actions.push(Action::RemoveAddress { ifindex, address });
            if link.formed.is_empty() {
                for router in std::mem::take(&mut link.routers).into_keys() {
                    actions.push(Action::RemoveDefaultRoute { ifindex, router });
                }
            }
        }
        actions
    }

    /// When [`RouterDiscovery::on_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.links
            .values()
            .flat_map(|l| {
                l.routers
                    .values()
                    .map(Router::deadline)
                    .chain(l.formed.values().filter_map(|f| f.valid_until))
            })
            .min()
    }

    /// Lifetimes that ran out, missed advertisements, probes (module docs). The
    /// second value lists the routers lost.
    pub fn on_timeout(&mut self, now: Time) -> (Vec<Action>, Vec<Ipv6Addr>) {
        let mut actions = Vec::new();
        let mut lost = Vec::new();
        for (&ifindex, link) in &mut self.links {
            let mut gone = Vec::new();
            for (&address, router) in &mut link.routers {
                if now >= router.expires {
                    gone.push(address);
                    continue;
                }
                match router.probing {
                    Some((sent, at)) if now >= at => {
                        if sent >= MAX_UNICAST_SOLICIT {
                            gone.push(address);
                            continue;
                        }
                        router.probing = Some((sent + 1, now + router.retrans));
                        actions.push(Action::Probe {
                            ifindex,
                            router: address,
                            link_address: router.link_address,
                        });
                    }
                    None if router
                        .interval
                        .is_some_and(|i| now >= router.last_heard + i * MISSED_INTERVALS) =>
                    {
                        router.probing = Some((1, now + router.retrans));
                        actions.push(Action::Probe {
                            ifindex,
                            router: address,
                            link_address: router.link_address,
                        });
                    }
                    _ => {}
                }
            }
            for router in gone {
                link.routers.remove(&router);
                actions.push(Action::RemoveDefaultRoute { ifindex, router });
                lost.push(router);
                if link.routers.is_empty() {
                    drop_addresses(ifindex, link, &mut actions);
                    actions.push(Action::Solicit { ifindex });
                }
            }
            let expired: Vec<Ipv6Addr> = link
                .formed
                .iter()
                .filter(|(_, f)| f.valid_until.is_some_and(|t| now >= t))
                .map(|(p, _)| *p)
                .collect();
            for prefix in expired {
                if let Some(f) = link.formed.remove(&prefix) {
                    actions.push(Action::RemoveAddress {
                        ifindex,
                        address: f.address,
                    });
                }
            }
        }
        (actions, lost)
    }
}

/// RFC 4862 §5.5.3 e: the new valid lifetime of an address already formed.
fn refreshed(now: Time, current: Option<Time>, advertised: Option<Time>) -> Option<Time> {
    let two_hours = now + TWO_HOURS;
    match (current, advertised) {
        (_, None) => None,
        (None, Some(a)) => Some(a.max(two_hours)),
        (Some(c), Some(a)) => {
            if a > two_hours || a > c {
                Some(a)
            } else if c <= two_hours {
                Some(c)
            } else {
                Some(two_hours)
            }
        }
    }
}

fn drop_addresses(ifindex: u32, link: &mut Link, actions: &mut Vec<Action>) {
    for f in std::mem::take(&mut link.formed).into_values() {
        actions.push(Action::RemoveAddress {
            ifindex,
            address: f.address,
        });
    }
}

fn clear_link(ifindex: u32, link: &mut Link, actions: &mut Vec<Action>) {
    for router in std::mem::take(&mut link.routers).into_keys() {
        actions.push(Action::RemoveDefaultRoute { ifindex, router });
    }
    drop_addresses(ifindex, link, actions);
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_wire::ra::PrefixInformation;

    const MAC: LinkAddress = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }
    fn t(ms: u64) -> Time {
        Time::ZERO + Duration::from_millis(ms)
    }
    fn ra(router: &str, prefix: &str, lifetime: u16) -> RouterAdvertisement {
        RouterAdvertisement {
            source: a(router),
            destination: mip6_wire::nd::ALL_NODES,
            cur_hop_limit: 64,
            managed: false,
            other_config: false,
            home_agent: false,
            router_lifetime: lifetime,
            reachable_time_ms: 0,
            retrans_timer_ms: 0,
            source_link_address: Some([2, 0, 0, 0, 0, 0xfe]),
            mtu: None,
            advertisement_interval_ms: None,
            prefixes: vec![PrefixInformation {
                prefix: a(prefix),
                len: 64,
                on_link: true,
                autonomous: true,
                router_address: false,
                valid_lifetime: 86_400,
                preferred_lifetime: 14_400,
            }],
        }
    }

    #[test]
    fn start_solicits_on_every_watched_interface() {
        let (_, actions) = RouterDiscovery::new(&[(2, MAC), (3, MAC)]);
        assert_eq!(
            actions,
            vec![
                Action::Solicit { ifindex: 2 },
                Action::Solicit { ifindex: 3 }
            ]
        );
    }

    /// RFC 6275 §11.5.1 and RFC 4862 §5.5.3: the first advertisement gives the default
    /// route, then the address (route first, so the Binding Update can leave at once).
    #[test]
    fn rfc6275_11_5_1_a_first_router_gives_route_then_address() {
        let (mut rd, _) = RouterDiscovery::new(&[(2, MAC)]);
        let (actions, moved) =
            rd.on_advertisement(t(0), 2, None, &ra("fe80::fe", "2001:db8:2::", 1800));
        let address = eui64_address(a("2001:db8:2::"), MAC);
        assert_eq!(
            actions,
            vec![
                Action::AddDefaultRoute {
                    ifindex: 2,
                    router: a("fe80::fe")
                },
                Action::AddAddress {
                    ifindex: 2,
                    address
                },
            ]
        );
        assert!(!moved, "a first router is not a move");
        // Repeated advertisements: nothing to do (no netlink per advertisement).
        let (again, _) = rd.on_advertisement(t(50), 2, None, &ra("fe80::fe", "2001:db8:2::", 1800));
        assert!(again.is_empty(), "{again:?}");
        // Other interfaces are not watched.
        let (other, _) = rd.on_advertisement(t(60), 9, None, &ra("fe80::fe", "2001:db8:9::", 1800));
        assert!(other.is_empty());
    }

    /// RFC 6275 §11.5.1: a new router with a new prefix on the same interface (the
    /// port was moved to another link) means movement: the old router and address go
    /// before the new ones come.
    #[test]
    fn rfc6275_11_5_1_a_new_router_with_new_prefixes_is_a_move() {
        let (mut rd, _) = RouterDiscovery::new(&[(2, MAC)]);
        rd.on_advertisement(t(0), 2, None, &ra("fe80::1", "2001:db8:2::", 1800));
        let (actions, moved) =
            rd.on_advertisement(t(10), 2, None, &ra("fe80::2", "2001:db8:3::", 1800));
        assert!(moved);
        assert_eq!(
            actions,
            vec![
                Action::RemoveDefaultRoute {
                    ifindex: 2,
                    router: a("fe80::1")
                },
                Action::RemoveAddress {
                    ifindex: 2,
                    address: eui64_address(a("2001:db8:2::"), MAC)
                },
                Action::AddDefaultRoute {
                    ifindex: 2,
                    router: a("fe80::2")
                },
                Action::AddAddress {
                    ifindex: 2,
                    address: eui64_address(a("2001:db8:3::"), MAC)
                },
            ]
        );
        // A second router advertising the prefix in use: same link, one more route.
        let (second, moved) =
            rd.on_advertisement(t(20), 2, None, &ra("fe80::3", "2001:db8:3::", 1800));
        assert!(!moved);
        assert_eq!(
            second,
            vec![Action::AddDefaultRoute {
                ifindex: 2,
                router: a("fe80::3")
            }]
        );
        assert_eq!(rd.routers(2), vec![a("fe80::2"), a("fe80::3")]);
    }

    /// RFC 4861 §6.3.4: Router Lifetime 0 removes the router; with none left the
    /// link's addresses go and a solicitation asks for another.
    #[test]
    fn rfc4861_6_3_4_lifetime_zero_and_expiry_lose_the_router() {
        let (mut rd, _) = RouterDiscovery::new(&[(2, MAC)]);
        rd.on_advertisement(t(0), 2, None, &ra("fe80::1", "2001:db8:2::", 1800));
        let (actions, _) = rd.on_advertisement(t(5), 2, None, &ra("fe80::1", "2001:db8:2::", 0));
        assert_eq!(
            actions,
            vec![
                Action::RemoveDefaultRoute {
                    ifindex: 2,
                    router: a("fe80::1")
                },
                Action::RemoveAddress {
                    ifindex: 2,
                    address: eui64_address(a("2001:db8:2::"), MAC)
                },
                Action::Solicit { ifindex: 2 },
            ]
        );
        // Expiry: lifetime 3 s, no more advertisements.
        rd.on_advertisement(t(10), 2, None, &ra("fe80::1", "2001:db8:2::", 3));
        assert_eq!(rd.poll_timeout(), Some(t(3010)));
        assert_eq!(rd.on_timeout(t(3009)).0, vec![]);
        let (actions, lost) = rd.on_timeout(t(3010));
        assert_eq!(lost, vec![a("fe80::1")]);
        assert_eq!(actions.len(), 3, "{actions:?}");
        assert!(rd.formed(2).is_empty() && rd.routers(2).is_empty());
        assert_eq!(rd.poll_timeout(), None);
    }

    /// RFC 6275 §7.3 and RFC 4861 §7.3.3: advertisements missed for three intervals
    /// start unicast probes one Retrans Timer apart; a solicited advertisement ends
    /// them; three unanswered ones lose the router.
    #[test]
    fn rfc6275_7_3_missed_advertisements_start_neighbour_unreachability_detection() {
        let (mut rd, _) = RouterDiscovery::new(&[(2, MAC)]);
        let mut adv = ra("fe80::1", "2001:db8:2::", 1800);
        adv.advertisement_interval_ms = Some(100);
        adv.retrans_timer_ms = 200;
        rd.on_advertisement(t(0), 2, None, &adv);
        assert_eq!(rd.poll_timeout(), Some(t(300)));
        let probe = Action::Probe {
            ifindex: 2,
            router: a("fe80::1"),
            link_address: Some([2, 0, 0, 0, 0, 0xfe]),
        };
        assert_eq!(rd.on_timeout(t(300)).0, vec![probe]);
        assert_eq!(rd.poll_timeout(), Some(t(500)));
        // Answered: reachable again, the next probe only after three more intervals.
        rd.on_neighbour_advertisement(t(350), 2, a("fe80::1"), true);
        assert_eq!(rd.poll_timeout(), Some(t(650)));
        // An unsolicited advertisement proves nothing.
        assert_eq!(rd.on_timeout(t(650)).0, vec![probe]);
        rd.on_neighbour_advertisement(t(660), 2, a("fe80::1"), false);
        assert_eq!(rd.on_timeout(t(850)).0, vec![probe]);
        assert_eq!(rd.on_timeout(t(1050)).0, vec![probe]);
        let (actions, lost) = rd.on_timeout(t(1250));
        assert_eq!(lost, vec![a("fe80::1")]);
        assert_eq!(
            actions[0],
            Action::RemoveDefaultRoute {
                ifindex: 2,
                router: a("fe80::1")
            }
        );
        assert_eq!(actions.last(), Some(&Action::Solicit { ifindex: 2 }));
    }

    /// RFC 4862 §5.5.3: prefixes that may not form an address, and the two-hour rule.
    #[test]
    fn rfc4862_5_5_3_prefix_rules() {
        let (mut rd, _) = RouterDiscovery::new(&[(2, MAC)]);
        let mut bad = ra("fe80::1", "2001:db8:2::", 1800);
        bad.prefixes[0].preferred_lifetime = 90_000; // > valid
        bad.prefixes.push(PrefixInformation {
            len: 48,
            ..bad.prefixes[0]
        });
        bad.prefixes.push(PrefixInformation {
            prefix: a("fe80::"),
            preferred_lifetime: 0,
            ..bad.prefixes[0]
        });
        bad.prefixes.push(PrefixInformation {
            prefix: a("2001:db8:5::"),
            autonomous: false,
            preferred_lifetime: 0,
            ..bad.prefixes[0]
        });
        let (actions, _) = rd.on_advertisement(t(0), 2, None, &bad);
        assert_eq!(
            actions,
            vec![Action::AddDefaultRoute {
                ifindex: 2,
                router: a("fe80::1")
            }]
        );
        // Router Lifetime 9000 s (the most RFC 4861 §6.2.1 allows): longer than the
        // two hours below.
        let mut short = ra("fe80::1", "2001:db8:2::", 9000);
        short.prefixes[0].valid_lifetime = 60;
        short.prefixes[0].preferred_lifetime = 60;
        rd.on_advertisement(t(0), 2, None, &short);
        assert_eq!(rd.formed(2).len(), 1);
        // A shorter valid lifetime cannot cut a remaining one over two hours below two
        // hours (RFC 4862 §5.5.3 e): first raised to 1 day, then "60 s" gives 2 h.
        let day = ra("fe80::1", "2001:db8:2::", 9000);
        rd.on_advertisement(t(1000), 2, None, &day);
        rd.on_advertisement(t(2000), 2, None, &short);
        assert_eq!(
            rd.on_timeout(t(2000) + TWO_HOURS - Duration::from_millis(1))
                .0
                .len(),
            0
        );
        let (actions, _) = rd.on_timeout(t(2000) + TWO_HOURS);
        assert_eq!(
            actions,
            vec![Action::RemoveAddress {
                ifindex: 2,
                address: eui64_address(a("2001:db8:2::"), MAC)
            }]
        );
    }

    #[test]
    fn a_new_interface_set_clears_the_old_links_and_solicits_the_new() {
        let (mut rd, _) = RouterDiscovery::new(&[(2, MAC)]);
        rd.on_advertisement(t(0), 2, None, &ra("fe80::1", "2001:db8:2::", 1800));
        let actions = rd.set_interfaces(&[(3, MAC)]);
        assert_eq!(
            actions,
            vec![
                Action::RemoveDefaultRoute {
                    ifindex: 2,
                    router: a("fe80::1")
                },
                Action::RemoveAddress {
                    ifindex: 2,
                    address: eui64_address(a("2001:db8:2::"), MAC)
                },
                Action::Solicit { ifindex: 3 },
            ]
        );
        assert_eq!(rd.interfaces().collect::<Vec<_>>(), vec![3]);
        assert!(rd.set_interfaces(&[(3, MAC)]).is_empty());
    }

    /// RFC 4861 §6.3.7: an interface that comes up solicits at once, once a second at
    /// most; unwatched ones do not.
    #[test]
    fn rfc4861_6_3_7_an_interface_coming_up_solicits() {
        let (mut rd, _) = RouterDiscovery::new(&[(2, MAC)]);
        assert_eq!(rd.on_link_up(t(0), 2), vec![Action::Solicit { ifindex: 2 }]);
        assert!(rd.on_link_up(t(999), 2).is_empty());
        assert_eq!(
            rd.on_link_up(t(1000), 2),
            vec![Action::Solicit { ifindex: 2 }]
        );
        assert!(rd.on_link_up(t(5000), 7).is_empty());
    }

    /// The link went down and the kernel flushed the address: routers and addresses
    /// are forgotten, so the next advertisement (on this link or another) starts over.
    #[test]
    fn a_flushed_address_forgets_the_link() {
        let (mut rd, _) = RouterDiscovery::new(&[(2, MAC)]);
        rd.on_advertisement(t(0), 2, None, &ra("fe80::1", "2001:db8:2::", 1800));
        let address = eui64_address(a("2001:db8:2::"), MAC);
        assert!(rd.is_formed(2, &address));
        let actions = rd.on_address_removed(2, address);
        assert_eq!(
            actions,
            vec![
                Action::RemoveAddress {
                    ifindex: 2,
                    address
                },
                Action::RemoveDefaultRoute {
                    ifindex: 2,
                    router: a("fe80::1")
                },
            ]
        );
        assert!(rd.on_address_removed(2, address).is_empty());
        let (again, moved) =
            rd.on_advertisement(t(10), 2, None, &ra("fe80::1", "2001:db8:2::", 1800));
        assert_eq!(again.len(), 2);
        assert!(!moved);
    }
}
