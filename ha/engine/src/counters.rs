//! Why the home agent drops a frame without answering, and the counters of drops,
//! refusals and frames by kind. Every drop is counted here (O(1): an array indexed by
//! reason) and traced with `tracing::debug!` by the engine.
//!
//! A drop is never answered: a frame that does not open under one of the MN's SAs
//! (unknown SPI, bad ICV, replay) proves nothing about its sender (RFC 4303 §3.4,
//! docs/key-protocol.md).

use core::fmt;

use crate::refusal::Refusal;

/// Why a received frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The IPv6 header chain is malformed or does not end in ESP.
    Malformed,
    /// No MN's SA has this SPI (RFC 4303 §3.4.2).
    UnknownSpi,
    /// The ESP sequence number was already received, is left of the window, is 0, or
    /// is at or below the floor restored from a persisted record (RFC 4303 §3.4.3).
    Replayed,
    /// The ICV did not verify: forged, corrupted or sealed under another key.
    BadIcv,
    /// ESP padding or pad length is wrong after decryption (RFC 4303 §2.4–2.5).
    BadEspTrailer,
    /// The decrypted payload is malformed: bad Mobility Header or checksum, or a
    /// tunnelled packet that is not valid IPv6.
    MalformedPayload,
    /// A Mobility Header other than a Binding Update.
    UnexpectedMessage,
    /// An ESP payload that is neither a Mobility Header nor a tunnelled IPv6 packet.
    UnexpectedPayload,
    /// A dummy packet (Next Header 59, RFC 4303 §2.6).
    Dummy,
    /// A tunnelled packet whose inner source is not the MN's home address
    /// (RFC 6275 §10.4.5; counted as an attack).
    SpoofedInnerSource,
    /// A tunnelled packet from a source other than the MN's bound care-of address
    /// (RFC 6275 §10.4.5).
    WrongCareOf,
    /// A tunnelled packet from an MN that has no binding.
    NotBound,
    /// The answer could not be sealed (an exhausted SA).
    SealFailed,
    /// A BU whose home address is not unicast routable (RFC 6275 §9.5.1: silently
    /// discarded).
    InvalidHomeAddress,
    /// A BU with the H flag clear and no binding: a correspondent registration, and
    /// route optimisation is not supported (RFC 6275 §9.5.1 would need the Nonce
    /// Indices and Binding Authorization Data of return routability).
    NotHomeRegistration,
    /// A home registration carrying a Nonce Indices option (RFC 6275 §9.5.1: silently
    /// discarded).
    NonceIndicesInHomeRegistration,
    /// A tunnelled packet under a generation restored after a restart: what that SA
    /// accepted after its last persisted replay top is unknown, so a data frame under
    /// it may be a replay (issue 12, item 10). The node is asked to refresh (a BRR)
    /// and gets a fresh generation at its next BU.
    DataUnderRestoredKey,
    /// A Mobility Header that needs ESP came without it (a Binding Update, RFC 4877
    /// §4), or a known type the home agent does not take unprotected.
    UnprotectedSignalling,
    /// A Home Address option whose home address has no binding to the packet's
    /// source (RFC 6275 §9.3.1): answered with Binding Error status 1.
    NoBindingForHomeAddressOption,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 19] = [
        DropReason::Malformed,
        DropReason::UnknownSpi,
        DropReason::Replayed,
        DropReason::BadIcv,
        DropReason::BadEspTrailer,
        DropReason::MalformedPayload,
        DropReason::UnexpectedMessage,
        DropReason::UnexpectedPayload,
        DropReason::Dummy,
        DropReason::SpoofedInnerSource,
        DropReason::WrongCareOf,
        DropReason::NotBound,
        DropReason::SealFailed,
        DropReason::InvalidHomeAddress,
        DropReason::NotHomeRegistration,
        DropReason::NonceIndicesInHomeRegistration,
        DropReason::DataUnderRestoredKey,
        DropReason::UnprotectedSignalling,
        DropReason::NoBindingForHomeAddressOption,
    ];

    /// Position in [`DropReason::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Malformed => "malformed header chain",
            DropReason::UnknownSpi => "unknown SPI",
            DropReason::Replayed => "replayed ESP sequence number",
            DropReason::BadIcv => "ICV failed",
            DropReason::BadEspTrailer => "bad ESP padding",
            DropReason::MalformedPayload => "malformed payload",
            DropReason::UnexpectedMessage => "unexpected Mobility Header type",
            DropReason::UnexpectedPayload => "unexpected ESP payload",
            DropReason::Dummy => "dummy packet",
            DropReason::SpoofedInnerSource => "inner source is not the home address",
            DropReason::WrongCareOf => "outer source is not the bound care-of address",
            DropReason::NotBound => "no binding for this mobile node",
            DropReason::SealFailed => "answer could not be sealed",
            DropReason::InvalidHomeAddress => "home address is not unicast routable",
            DropReason::NotHomeRegistration => "H flag clear: route optimisation not supported",
            DropReason::NonceIndicesInHomeRegistration => {
                "Nonce Indices option in a home registration"
            }
            DropReason::DataUnderRestoredKey => {
                "data under a key restored after a restart (replay state unknown)"
            }
            DropReason::UnprotectedSignalling => "signalling without ESP",
            DropReason::NoBindingForHomeAddressOption => {
                "Home Address option without a binding to the source"
            }
        })
    }
}

/// Counters of the home agent engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Drops by reason, indexed by [`DropReason::index`].
    pub drops: [u64; DropReason::ALL.len()],
    /// Refused BUs by reason, indexed by [`Refusal::index`].
    pub refusals: [u64; Refusal::ALL.len()],
    /// Attacks seen: BUs naming another MN's home address, spoofed inner sources.
    pub attacks: u64,
    /// BUs accepted (registrations and deregistrations).
    pub bu_accepted: u64,
    /// BAs sent (accepted or refused).
    pub ba_sent: u64,
    /// Tunnelled packets delivered from MNs.
    pub data_received: u64,
    /// Tunnelled packets sealed toward MNs.
    pub data_sealed: u64,
    /// Key initializations (patent (1), (2), (5), (7), (8), (11)).
    pub key_initializations: u64,
    /// Key updates (patent (3), (6), (9)).
    pub key_updates: u64,
    /// Key resends (patent (4), (10)).
    pub key_resends: u64,
    /// Bindings removed by lifetime expiry.
    pub bindings_expired: u64,
    /// Binding Refresh Requests sent (RFC 6275 §6.1.2), to move a node off a key
    /// restored after a restart.
    pub brr_sent: u64,
    /// Neighbor Solicitations for proxied addresses answered (RFC 6275 §10.4.1).
    pub neighbour_solicitations_answered: u64,
    /// Unsolicited Neighbor Advertisements announcing a new binding (§10.4.1).
    pub neighbour_advertisements_announced: u64,
    /// Duplicate Address Detection probes sent (§10.3.1).
    pub dad_probes_sent: u64,
    /// Duplicate Address Detection runs another node contested (BA 134).
    pub dad_collisions: u64,
    /// Home-link packets that were not valid Neighbor Discovery (RFC 4861 §7.1).
    pub neighbour_discovery_invalid: u64,
    /// Packets to a proxied link-local address, discarded (RFC 6275 §10.4.2).
    pub link_local_intercepted: u64,
    /// Binding Errors sent (RFC 6275 §9.2, §9.3.1).
    pub binding_errors_sent: u64,
    /// ICMPv6 errors sent (Parameter Problem, RFC 6275 §9.2, RFC 4443 §3.4;
    /// Destination Unreachable, §10.4.2, RFC 4443 §3.1).
    pub icmp_errors_sent: u64,
    /// Echo Replies sent to bound nodes through their care-of address (§9.3.2).
    pub echo_replies_sent: u64,
    /// Answers not sent because their rate limit was reached (RFC 4443 §2.4 (f)).
    pub answers_rate_limited: u64,
}

impl Counters {
    /// Drops counted for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Refusals counted for one reason.
    pub fn refused(&self, refusal: Refusal) -> u64 {
        self.refusals[refusal.index()]
    }

    /// All drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }

    pub(crate) fn refuse(&mut self, refusal: Refusal) {
        self.refusals[refusal.index()] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_positions() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut c = Counters::default();
        c.drop(DropReason::BadIcv);
        c.drop(DropReason::BadIcv);
        assert_eq!(c.dropped(DropReason::BadIcv), 2);
        assert_eq!(c.total_drops(), 2);
    }
}
