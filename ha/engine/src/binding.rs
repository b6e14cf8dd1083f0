//! Binding cache entries (RFC 6275 §9.1, §10.3.1): one per mobile node, keyed by home
//! address in the engine's index. The care-of address is always the authenticated
//! Alternate Care-of Address option, never the unprotected IPv6 source (docs/architecture.md).
//!
//! Not supported: correspondent registrations (route optimisation), the L and K
//! flags' semantics, multiple care-of addresses (RFC 5648).

use std::net::Ipv6Addr;

use mip6_wire::mh::SequenceNumber;
use mip6_wire::Time;

/// A home registration as the binding cache holds it (RFC 6275 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BindingView {
    /// The care-of address packets for the home address are tunnelled to.
    pub care_of_address: Ipv6Addr,
    /// Sequence number of the last accepted BU (RFC 6275 §9.5.1).
    pub sequence: SequenceNumber,
    /// The lifetime granted, in seconds (at most the configured maximum).
    pub lifetime_secs: u32,
    /// When the binding expires and is removed (RFC 6275 §10.3.1).
    pub expires_at: Time,
}

/// Whether `coa` may be a care-of address for home agent `ha`: a global unicast
/// address — not unspecified, loopback, multicast, link-local or IPv4-mapped — and
/// not the HA's own address (RFC 6275 §9.5.1: the care-of address must be a unicast
/// routable address; BA status 174 otherwise).
pub fn is_valid_care_of(coa: &Ipv6Addr, ha: &Ipv6Addr) -> bool {
    is_unicast_routable(coa) && coa != ha
}

/// Whether `address` is a unicast routable address (RFC 6275 §9.5.1: a Binding
/// Update's home address must be one, or the BU is silently discarded): not
/// unspecified, loopback, multicast, link-local or IPv4-mapped.
pub fn is_unicast_routable(address: &Ipv6Addr) -> bool {
    let link_local = address.segments()[0] & 0xffc0 == 0xfe80;
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        || link_local
        || address.to_ipv4_mapped().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn care_of_validity() {
        let ha: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        for bad in [
            "::",
            "::1",
            "ff02::1",
            "fe80::1",
            "::ffff:192.0.2.1",
            "2001:db8:1::1",
        ] {
            assert!(!is_valid_care_of(&bad.parse().unwrap(), &ha), "{bad}");
        }
        for good in ["2001:db8:2::100", "2a00::1", "fd00::1"] {
            assert!(is_valid_care_of(&good.parse().unwrap(), &ha), "{good}");
        }
    }
}
