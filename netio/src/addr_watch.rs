//! Watching the IPv6 addresses of this network namespace over rtnetlink (rtnetlink(7)):
//! the mobile node's movement detection (RFC 6275 §11.5.1) reads a new global address on
//! a watched interface as a new care-of address.
//!
//! [`AddrWatch::open`] joins the `RTNLGRP_IPV6_IFADDR` multicast group **before**
//! [`AddrWatch::dump`] asks for the current addresses, so no change between the two is
//! lost (a change may be reported twice, which [`AddrEvent`]'s consumers take as
//! idempotent). [`AddrWatch::next`] yields one [`AddrEvent`] per `RTM_NEWADDR` /
//! `RTM_DELADDR` of an IPv6 address; which of them is usable as a care-of address is
//! [`AddrEvent::usable_care_of`]'s judgement (global scope, not link-local, not
//! tentative, DAD not failed, not deprecated). An address that finishes DAD is reported
//! again with the tentative flag cleared (a second `RTM_NEWADDR`), so a consumer that
//! waits for a usable one never polls.
//!
//! Needs a tokio runtime (the netlink connection is a task spawned on it). No privilege
//! is needed to listen.
//!
//! Not supported: IPv4; following an interface that is deleted and created again under
//! the same name (the consumer watches interface indexes).

use std::net::{IpAddr, Ipv6Addr};

use futures_util::{StreamExt, TryStreamExt};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, MulticastGroup};

use crate::Error;

/// Whether an address appeared (or changed) or went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrChange {
    /// `RTM_NEWADDR`: added, or its flags changed (e.g. DAD finished).
    Added,
    /// `RTM_DELADDR`: removed.
    Removed,
}

/// One IPv6 address of one interface, as rtnetlink reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrEvent {
    /// Added or removed.
    pub change: AddrChange,
    /// The interface index.
    pub ifindex: u32,
    /// The address (`IFA_ADDRESS`, or `IFA_LOCAL` when that is all there is).
    pub address: Ipv6Addr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// Its scope is global (`RT_SCOPE_UNIVERSE`).
    pub global_scope: bool,
    /// `IFA_F_*` flags (the 32-bit `IFA_FLAGS` attribute when present, else the header's
    /// 8 bits).
    pub flags: u32,
}

/// `IFA_F_TENTATIVE`: duplicate address detection still running (RFC 4862 §5.4).
pub const FLAG_TENTATIVE: u32 = 0x40;
/// `IFA_F_DADFAILED`: duplicate address detection found the address in use.
pub const FLAG_DADFAILED: u32 = 0x08;
/// `IFA_F_DEPRECATED`: preferred lifetime over (RFC 4862 §5.5.4): keep, do not choose.
pub const FLAG_DEPRECATED: u32 = 0x20;

impl AddrEvent {
    /// Whether this address can serve as a care-of address: added, global scope, not
    /// link-local (fe80::/10), not loopback, multicast or unspecified, and neither
    /// tentative, nor failed DAD, nor deprecated.
    pub fn usable_care_of(&self) -> bool {
        let a = self.address;
        self.change == AddrChange::Added
            && self.global_scope
            && (a.segments()[0] & 0xffc0) != 0xfe80
            && !a.is_loopback()
            && !a.is_multicast()
            && !a.is_unspecified()
            && self.flags & (FLAG_TENTATIVE | FLAG_DADFAILED | FLAG_DEPRECATED) == 0
    }

    /// The event a netlink address message means, if it is about an IPv6 address.
    pub fn from_message(change: AddrChange, msg: &AddressMessage) -> Option<AddrEvent> {
        if msg.header.family != AddressFamily::Inet6 {
            return None;
        }
        let mut address = None;
        let mut local = None;
        let mut flags = u32::from(msg.header.flags.bits());
        for attr in &msg.attributes {
            match attr {
                AddressAttribute::Address(IpAddr::V6(a)) => address = Some(*a),
                AddressAttribute::Local(IpAddr::V6(a)) => local = Some(*a),
                AddressAttribute::Flags(f) => flags = f.bits(),
                _ => {}
            }
        }
        Some(AddrEvent {
            change,
            ifindex: msg.header.index,
            address: address.or(local)?,
            prefix_len: msg.header.prefix_len,
            global_scope: msg.header.scope == AddressScope::Universe,
            flags,
        })
    }
}

// The flag constants above are the kernel's; keep them tied to the crate's names.
const _: () = {
    assert!(FLAG_TENTATIVE == AddressFlags::Tentative.bits());
    assert!(FLAG_DADFAILED == AddressFlags::Dadfailed.bits());
    assert!(FLAG_DEPRECATED == AddressFlags::Deprecated.bits());
    assert!(FLAG_TENTATIVE as u8 == AddressHeaderFlags::Tentative.bits());
};

type Messages = futures_util::stream::BoxStream<
    'static,
    (
        rtnetlink::packet_core::NetlinkMessage<RouteNetlinkMessage>,
        rtnetlink::sys::SocketAddr,
    ),
>;

/// A netlink connection subscribed to IPv6 address changes.
pub struct AddrWatch {
    handle: Handle,
    messages: Messages,
}

impl std::fmt::Debug for AddrWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddrWatch").finish_non_exhaustive()
    }
}

impl AddrWatch {
    /// Opens a netlink socket in the calling thread's network namespace, joins
    /// `RTNLGRP_IPV6_IFADDR` and spawns the connection on the current tokio runtime.
    pub fn open() -> Result<Self, Error> {
        let rt = tokio::runtime::Handle::try_current().map_err(Error::NoRuntime)?;
        let (conn, handle, messages) =
            rtnetlink::new_multicast_connection(&[MulticastGroup::Ipv6Ifaddr])
                .map_err(Error::sys("socket(AF_NETLINK) joining RTNLGRP_IPV6_IFADDR"))?;
        rt.spawn(conn);
        Ok(AddrWatch {
            handle,
            messages: messages.boxed(),
        })
    }

    /// The IPv6 addresses configured now (an `RTM_GETADDR` dump), each as an
    /// [`AddrChange::Added`] event.
    pub async fn dump(&self) -> Result<Vec<AddrEvent>, Error> {
        let mut stream = self.handle.address().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = stream.try_next().await.map_err(|source| Error::Netlink {
            op: "dump addresses".into(),
            source,
        })? {
            out.extend(AddrEvent::from_message(AddrChange::Added, &msg));
        }
        Ok(out)
    }

    /// The next IPv6 address change; `None` when the connection has ended (the task
    /// stopped: the runtime is shutting down). Messages about other families are
    /// skipped. Cancel-safe.
    pub async fn next(&mut self) -> Option<AddrEvent> {
        loop {
            let (msg, _) = self.messages.next().await?;
            let event = match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(m)) => {
                    AddrEvent::from_message(AddrChange::Added, &m)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(m)) => {
                    AddrEvent::from_message(AddrChange::Removed, &m)
                }
                _ => None,
            };
            if let Some(e) = event {
                return Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(address: &str, global: bool, flags: u32) -> AddrEvent {
        AddrEvent {
            change: AddrChange::Added,
            ifindex: 3,
            address: address.parse().unwrap(),
            prefix_len: 64,
            global_scope: global,
            flags,
        }
    }

    #[test]
    fn only_settled_global_unicast_addresses_are_care_of_addresses() {
        assert!(event("2001:db8:2::100", true, 0).usable_care_of());
        assert!(event("2001:db8:2::100", true, 0x80).usable_care_of()); // permanent
        assert!(!event("fe80::1", true, 0).usable_care_of());
        assert!(!event("fe80::1", false, 0).usable_care_of());
        assert!(!event("2001:db8:2::100", false, 0).usable_care_of());
        assert!(!event("2001:db8:2::100", true, FLAG_TENTATIVE).usable_care_of());
        assert!(!event("2001:db8:2::100", true, FLAG_DADFAILED).usable_care_of());
        assert!(!event("2001:db8:2::100", true, FLAG_DEPRECATED).usable_care_of());
        assert!(!event("::1", true, 0).usable_care_of());
        let mut removed = event("2001:db8:2::100", true, 0);
        removed.change = AddrChange::Removed;
        assert!(!removed.usable_care_of());
    }

    #[test]
    fn messages_are_read_with_the_32_bit_flags_first() {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet6;
        m.header.index = 7;
        m.header.prefix_len = 64;
        m.header.scope = AddressScope::Universe;
        m.header.flags = AddressHeaderFlags::Tentative;
        let a: Ipv6Addr = "2001:db8:3::100".parse().unwrap();
        m.attributes.push(AddressAttribute::Address(IpAddr::V6(a)));
        let e = AddrEvent::from_message(AddrChange::Added, &m).unwrap();
        assert_eq!((e.ifindex, e.address, e.prefix_len), (7, a, 64));
        assert!(!e.usable_care_of(), "tentative from the header");
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Permanent));
        assert!(AddrEvent::from_message(AddrChange::Added, &m)
            .unwrap()
            .usable_care_of());
        m.header.family = AddressFamily::Inet;
        assert!(AddrEvent::from_message(AddrChange::Added, &m).is_none());
    }

    #[test]
    fn open_outside_a_runtime_is_an_error_not_a_panic() {
        assert!(matches!(AddrWatch::open(), Err(Error::NoRuntime(_))));
    }
}
