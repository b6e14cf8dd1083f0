//! Movement detection (RFC 6275 §11.5.1) from address events: where the node is
//! attached, as the global addresses of the watched interfaces say.
//!
//! Rules: a usable address that appears (and was not known) decides the attachment at
//! once, so the Binding Update leaves immediately; an address already known that is
//! reported again (a flag or lifetime change, or the dump/event overlap at start)
//! changes nothing; when the deciding address goes (or stops being usable), the most
//! recently added remaining one takes over, or the node is detached. An address
//! inside the home prefix means the node is on its home link (RFC 6275 §11.5.4, "at
//! home"); any other is a care-of address. The home address itself is never a
//! candidate (the daemon puts it on the home link itself). Addresses on other
//! interfaces are ignored.
//!
//! Not done here: router discovery (an address is what SLAAC, DHCPv6 or an operator
//! leaves behind; the node learns of a new link when one appears).

use std::net::Ipv6Addr;

use mip6_netio::addr_watch::AddrEvent;

/// Where the node is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// On a foreign link, with this care-of address.
    Away(Ipv6Addr),
    /// On its home link, through the interface with this index (RFC 6275 §11.5.4).
    Home {
        /// The home link's interface.
        ifindex: u32,
    },
    /// On no link the node can use.
    Detached,
}

impl Attachment {
    /// The care-of address, if the node is away.
    pub fn care_of(self) -> Option<Ipv6Addr> {
        match self {
            Attachment::Away(c) => Some(c),
            Attachment::Home { .. } | Attachment::Detached => None,
        }
    }
}

/// The home prefix: the home address and its prefix length (RFC 6275 §11.5.4 tells
/// the home link by its prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HomePrefix {
    /// The node's home address.
    pub home_address: Ipv6Addr,
    /// The home prefix's length (0..=128).
    pub len: u8,
}

impl HomePrefix {
    /// Whether `address` is inside the home prefix.
    pub fn contains(&self, address: &Ipv6Addr) -> bool {
        let len = u32::from(self.len.min(128));
        if len == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - len);
        u128::from(*address) & mask == u128::from(self.home_address) & mask
    }
}

/// The usable addresses of the watched interfaces, newest last, and the attachment
/// they make.
#[derive(Debug, Clone)]
pub struct CoaTracker {
    watched: Vec<u32>,
    home: HomePrefix,
    candidates: Vec<(u32, Ipv6Addr)>,
    current: Attachment,
}

impl CoaTracker {
    /// Watches the interfaces with these indexes, for a node with this home prefix.
    pub fn new(watched: Vec<u32>, home: HomePrefix) -> CoaTracker {
        CoaTracker {
            watched,
            home,
            candidates: Vec::new(),
            current: Attachment::Detached,
        }
    }

    /// The current care-of address (`None` at home or detached).
    pub fn current(&self) -> Option<Ipv6Addr> {
        self.current.care_of()
    }

    /// The current attachment.
    pub fn attachment(&self) -> Attachment {
        self.current
    }

    /// The interface a usable address is on (the newest, if on several).
    pub fn interface_of(&self, address: Ipv6Addr) -> Option<u32> {
        self.candidates
            .iter()
            .rev()
            .find(|(_, a)| *a == address)
            .map(|(ifindex, _)| *ifindex)
    }

    /// Takes one event; `Some(new)` when the attachment changed to `new`.
    pub fn apply(&mut self, e: &AddrEvent) -> Option<Attachment> {
        if !self.watched.contains(&e.ifindex) || e.address == self.home.home_address {
            return None;
        }
        let key = (e.ifindex, e.address);
        let known = self.candidates.contains(&key);
        if e.usable_care_of() {
            if !known {
                self.candidates.push(key);
                return self.set(Some(key));
            }
            if self.current == Attachment::Detached {
                return self.set(Some(key));
            }
            return None;
        }
        if !known {
            return None;
        }
        self.candidates.retain(|c| *c != key);
        if self.deciding(key) {
            let next = self.candidates.last().copied();
            return self.set(next);
        }
        None
    }

    /// Whether the candidate `key` is what makes the current attachment.
    fn deciding(&self, (ifindex, address): (u32, Ipv6Addr)) -> bool {
        match self.current {
            Attachment::Away(c) => {
                c == address && !self.candidates.iter().any(|(_, a)| *a == address)
            }
            Attachment::Home { ifindex: home } => {
                home == ifindex
                    && !self
                        .candidates
                        .iter()
                        .any(|(i, a)| *i == home && self.home.contains(a))
            }
            Attachment::Detached => false,
        }
    }

    fn attachment_of(&self, candidate: Option<(u32, Ipv6Addr)>) -> Attachment {
        match candidate {
            None => Attachment::Detached,
            Some((ifindex, a)) if self.home.contains(&a) => Attachment::Home { ifindex },
            Some((_, a)) => Attachment::Away(a),
        }
    }

    fn set(&mut self, candidate: Option<(u32, Ipv6Addr)>) -> Option<Attachment> {
        let next = self.attachment_of(candidate);
        if self.current == next {
            return None;
        }
        self.current = next;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_netio::addr_watch::AddrChange;

    const HOME: HomePrefix = HomePrefix {
        home_address: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100),
        len: 64,
    };

    fn ev(change: AddrChange, ifindex: u32, addr: &str, flags: u32) -> AddrEvent {
        AddrEvent {
            change,
            ifindex,
            address: addr.parse().unwrap(),
            prefix_len: 64,
            global_scope: !addr.starts_with("fe80"),
            flags,
        }
    }
    fn add(i: u32, a: &str) -> AddrEvent {
        ev(AddrChange::Added, i, a, 0)
    }
    fn del(i: u32, a: &str) -> AddrEvent {
        ev(AddrChange::Removed, i, a, 0)
    }
    fn away(a: &str) -> Option<Attachment> {
        Some(Attachment::Away(a.parse().unwrap()))
    }
    fn ip(a: &str) -> Option<Ipv6Addr> {
        Some(a.parse().unwrap())
    }

    #[test]
    fn the_lab_move_is_a_loss_then_a_new_address() {
        let mut t = CoaTracker::new(vec![2, 3], HOME);
        assert_eq!(t.apply(&add(2, "fe80::1")), None);
        assert_eq!(t.apply(&add(2, "2001:db8:2::100")), away("2001:db8:2::100"));
        // Reported again (dump and event overlap): nothing.
        assert_eq!(t.apply(&add(2, "2001:db8:2::100")), None);
        // Lab::move_mn: flush the old address, then add the new one.
        assert_eq!(
            t.apply(&del(2, "2001:db8:2::100")),
            Some(Attachment::Detached)
        );
        assert_eq!(t.apply(&add(3, "2001:db8:3::100")), away("2001:db8:3::100"));
        assert_eq!(t.current(), ip("2001:db8:3::100"));
        // Where the new care-of address is advertised from; the flushed one is nowhere.
        assert_eq!(t.interface_of("2001:db8:3::100".parse().unwrap()), Some(3));
        assert_eq!(t.interface_of("2001:db8:2::100".parse().unwrap()), None);
    }

    #[test]
    fn a_new_address_wins_and_the_older_one_takes_over_when_it_goes() {
        let mut t = CoaTracker::new(vec![2, 3], HOME);
        t.apply(&add(2, "2001:db8:2::100"));
        assert_eq!(t.apply(&add(3, "2001:db8:3::100")), away("2001:db8:3::100"));
        // The old one refreshed: stays where we are.
        assert_eq!(t.apply(&add(2, "2001:db8:2::100")), None);
        // Removing a non-current address changes nothing.
        assert_eq!(t.apply(&del(2, "2001:db8:2::100")), None);
        t.apply(&add(2, "2001:db8:2::100"));
        assert_eq!(t.current(), ip("2001:db8:2::100"));
        assert_eq!(t.apply(&del(2, "2001:db8:2::100")), away("2001:db8:3::100"));
    }

    #[test]
    fn unwatched_tentative_and_deprecated_addresses_are_not_care_of_addresses() {
        let mut t = CoaTracker::new(vec![2], HOME);
        assert_eq!(t.apply(&add(9, "2001:db8:9::1")), None);
        assert_eq!(
            t.apply(&ev(AddrChange::Added, 2, "2001:db8:2::1", 0x40)),
            None
        );
        // DAD done: the same address again, no longer tentative.
        assert_eq!(t.apply(&add(2, "2001:db8:2::1")), away("2001:db8:2::1"));
        // Deprecated: no longer chosen.
        assert_eq!(
            t.apply(&ev(AddrChange::Added, 2, "2001:db8:2::1", 0x20)),
            Some(Attachment::Detached)
        );
        assert_eq!(t.apply(&del(9, "2001:db8:9::1")), None);
    }

    /// RFC 6275 §11.5.4: an address of the home prefix on a watched interface means the
    /// node is on its home link, not that it has a care-of address there.
    #[test]
    fn rfc6275_11_5_4_an_address_in_the_home_prefix_means_at_home() {
        let mut t = CoaTracker::new(vec![2, 4], HOME);
        t.apply(&add(2, "2001:db8:2::100"));
        assert_eq!(
            t.apply(&add(4, "2001:db8:1::200")),
            Some(Attachment::Home { ifindex: 4 })
        );
        assert_eq!(t.current(), None, "no care-of address at home");
        // The daemon puts the home address on the home link: no change, and it is
        // never a care-of address.
        assert_eq!(t.apply(&add(4, "2001:db8:1::100")), None);
        assert_eq!(t.apply(&del(4, "2001:db8:1::100")), None);
        // A second address of the home prefix on the same link: still home.
        assert_eq!(t.apply(&add(4, "2001:db8:1::201")), None);
        assert_eq!(t.apply(&del(4, "2001:db8:1::201")), None);
        assert_eq!(t.attachment(), Attachment::Home { ifindex: 4 });
        // Leaving home: the foreign address left behind takes over.
        assert_eq!(t.apply(&del(4, "2001:db8:1::200")), away("2001:db8:2::100"));
        // The home prefix's length counts: 2001:db8:1:1::/64 is not home.
        assert_eq!(t.apply(&add(4, "2001:db8:1:1::5")), away("2001:db8:1:1::5"));
    }

    #[test]
    fn the_home_prefix_compares_only_its_length() {
        let p = HomePrefix { len: 48, ..HOME };
        assert!(p.contains(&"2001:db8:1:ffff::1".parse().unwrap()));
        assert!(!p.contains(&"2001:db8:2::1".parse().unwrap()));
        assert!(HomePrefix { len: 0, ..HOME }.contains(&Ipv6Addr::LOCALHOST));
        assert!(HomePrefix { len: 128, ..HOME }.contains(&HOME.home_address));
        assert!(!HomePrefix { len: 128, ..HOME }.contains(&"2001:db8:1::101".parse().unwrap()));
    }
}
