//! Movement detection (RFC 6275 §11.5.1) from address events: which global address of
//! the watched interfaces is the care-of address.
//!
//! Rules: a usable address that appears (and was not known) becomes the care-of address
//! at once, so the Binding Update leaves immediately; an address already known that is
//! reported again (a flag or lifetime change, or the dump/event overlap at start)
//! changes nothing; when the care-of address goes (or stops being usable), the most
//! recently added remaining one takes over, or there is none. Addresses on other
//! interfaces are ignored.

use std::net::Ipv6Addr;

use mip6_netio::addr_watch::AddrEvent;

/// The usable addresses of the watched interfaces, newest last, and the current
/// care-of address.
#[derive(Debug, Clone, Default)]
pub struct CoaTracker {
    watched: Vec<u32>,
    candidates: Vec<(u32, Ipv6Addr)>,
    current: Option<Ipv6Addr>,
}

impl CoaTracker {
    /// Watches the interfaces with these indexes.
    pub fn new(watched: Vec<u32>) -> CoaTracker {
        CoaTracker {
            watched,
            ..CoaTracker::default()
        }
    }

    /// The current care-of address.
    pub fn current(&self) -> Option<Ipv6Addr> {
        self.current
    }

    /// Takes one event; `Some(new)` when the care-of address changed to `new`.
    pub fn apply(&mut self, e: &AddrEvent) -> Option<Option<Ipv6Addr>> {
        if !self.watched.contains(&e.ifindex) {
            return None;
        }
        let key = (e.ifindex, e.address);
        let known = self.candidates.contains(&key);
        if e.usable_care_of() {
            if !known {
                self.candidates.push(key);
                return self.set(Some(e.address));
            }
            if self.current.is_none() {
                return self.set(Some(e.address));
            }
            return None;
        }
        if !known {
            return None;
        }
        self.candidates.retain(|c| *c != key);
        if self.current == Some(e.address) && !self.candidates.iter().any(|(_, a)| *a == e.address)
        {
            let next = self.candidates.last().map(|(_, a)| *a);
            return self.set(next);
        }
        None
    }

    fn set(&mut self, coa: Option<Ipv6Addr>) -> Option<Option<Ipv6Addr>> {
        if self.current == coa {
            return None;
        }
        self.current = coa;
        Some(coa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_netio::addr_watch::AddrChange;

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
    fn ip(a: &str) -> Option<Ipv6Addr> {
        Some(a.parse().unwrap())
    }

    #[test]
    fn the_lab_move_is_a_loss_then_a_new_address() {
        let mut t = CoaTracker::new(vec![2, 3]);
        assert_eq!(t.apply(&add(2, "fe80::1")), None);
        assert_eq!(
            t.apply(&add(2, "2001:db8:2::100")),
            Some(ip("2001:db8:2::100"))
        );
        // Reported again (dump and event overlap): nothing.
        assert_eq!(t.apply(&add(2, "2001:db8:2::100")), None);
        // Lab::move_mn: flush the old address, then add the new one.
        assert_eq!(t.apply(&del(2, "2001:db8:2::100")), Some(None));
        assert_eq!(
            t.apply(&add(3, "2001:db8:3::100")),
            Some(ip("2001:db8:3::100"))
        );
        assert_eq!(t.current(), ip("2001:db8:3::100"));
    }

    #[test]
    fn a_new_address_wins_and_the_older_one_takes_over_when_it_goes() {
        let mut t = CoaTracker::new(vec![2, 3]);
        t.apply(&add(2, "2001:db8:2::100"));
        assert_eq!(
            t.apply(&add(3, "2001:db8:3::100")),
            Some(ip("2001:db8:3::100"))
        );
        // The old one refreshed: stays where we are.
        assert_eq!(t.apply(&add(2, "2001:db8:2::100")), None);
        // Removing a non-current address changes nothing.
        assert_eq!(t.apply(&del(2, "2001:db8:2::100")), None);
        t.apply(&add(2, "2001:db8:2::100"));
        assert_eq!(t.current(), ip("2001:db8:2::100"));
        assert_eq!(
            t.apply(&del(2, "2001:db8:2::100")),
            Some(ip("2001:db8:3::100"))
        );
    }

    #[test]
    fn unwatched_tentative_and_deprecated_addresses_are_not_care_of_addresses() {
        let mut t = CoaTracker::new(vec![2]);
        assert_eq!(t.apply(&add(9, "2001:db8:9::1")), None);
        assert_eq!(
            t.apply(&ev(AddrChange::Added, 2, "2001:db8:2::1", 0x40)),
            None
        );
        // DAD done: the same address again, no longer tentative.
        assert_eq!(t.apply(&add(2, "2001:db8:2::1")), Some(ip("2001:db8:2::1")));
        // Deprecated: no longer chosen.
        assert_eq!(
            t.apply(&ev(AddrChange::Added, 2, "2001:db8:2::1", 0x20)),
            Some(None)
        );
        assert_eq!(t.apply(&del(9, "2001:db8:9::1")), None);
    }
}
