//! Why the home agent refuses a Binding Update, and the BA status each refusal is
//! answered with (RFC 6275 §6.1.8, §10.3.1; RFC 4285 §6 for 145; status 174 from the
//! IANA Mobile IPv6 status registry). Every refusal maps to exactly one status, as
//! rustls maps each error to one alert.
//!
//! Refusals are answered (a BA is sent); BUs that fail to *open* are not refusals but
//! silent drops ([`crate::DropReason`]): the HA cannot prove who sent them. So are the
//! BUs RFC 6275 §9.5.1 says to discard silently (a home address that is not unicast
//! routable, a Nonce Indices option in a home registration, H clear with no binding).
//!
//! The A (acknowledge) flag refuses nothing: "regardless of the setting of the
//! Acknowledge (A) bit", the home agent returns a BA (§10.3.1).

use core::fmt;

use mip6_wire::mh::BaStatus;

/// A reason to refuse an authenticated Binding Update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The home address (the Home Address option, else the IPv6 source, RFC 6275
    /// §9.5.1) is not on the home subnet prefix → 132 not home subnet (§10.3.1).
    NotHomeSubnet,
    /// The home address is on the home subnet but names another MN than the one
    /// whose SA sealed the BU (an MN trying to move another's binding; counted as an
    /// attack) → 133 not home agent for this mobile node **(choice)**: under this SA
    /// the HA serves only the SA's own home address.
    HomeAddressOfAnotherMn,
    /// The H (home registration) flag is clear while a home registration binding
    /// exists → 139 registration type change disallowed (RFC 6275 §9.5.1). Without a
    /// binding such a BU is silently discarded instead (route optimisation is not
    /// supported).
    RegistrationTypeChange,
    /// A deregistration for a mobile node that has no binding → 133 not home agent
    /// for this mobile node (RFC 6275 §10.3.2).
    NoBindingToDeregister,
    /// Explicit mode, BU under the init key without a Key Initialization Request, or a
    /// Key Initialization Request whose timestamp is not newer than the last accepted
    /// or outside the skew → 145 MIPV6-MESG-ID-REQD (RFC 4285 §6).
    InitTimestamp,
    /// A key-management option of our vendor could not be parsed → 128.
    MalformedKeyOption,
    /// No Alternate Care-of Address option: the HA never binds to the unprotected IPv6
    /// source (docs/architecture.md) → 174 invalid care-of address **(choice)**.
    MissingAlternateCareOf,
    /// The Alternate Care-of Address is not a global unicast address, or is the HA's
    /// own → 174 invalid care-of address.
    InvalidCareOf,
    /// The sequence number is not newer than the binding's (RFC 6275 §9.5.1) → 135;
    /// the BA carries the last accepted sequence number.
    SequenceOutOfWindow,
    /// The HA could not draw SPIs for a new generation → 130 insufficient resources.
    InsufficientResources,
    /// Another node on the home link answered (or probed) the home address while the
    /// home agent ran Duplicate Address Detection for it → 134 (RFC 6275 §10.3.1).
    DuplicateAddress,
}

impl Refusal {
    /// Every refusal, in a fixed order (the index into the refusal counters).
    pub const ALL: [Refusal; 11] = [
        Refusal::NotHomeSubnet,
        Refusal::HomeAddressOfAnotherMn,
        Refusal::RegistrationTypeChange,
        Refusal::NoBindingToDeregister,
        Refusal::InitTimestamp,
        Refusal::MalformedKeyOption,
        Refusal::MissingAlternateCareOf,
        Refusal::InvalidCareOf,
        Refusal::SequenceOutOfWindow,
        Refusal::InsufficientResources,
        Refusal::DuplicateAddress,
    ];

    /// The BA status this refusal is answered with (RFC 6275 §6.1.8).
    pub const fn status(&self) -> BaStatus {
        match self {
            Refusal::NotHomeSubnet => BaStatus::NotHomeSubnet,
            Refusal::HomeAddressOfAnotherMn | Refusal::NoBindingToDeregister => {
                BaStatus::NotHomeAgentForThisMobileNode
            }
            Refusal::RegistrationTypeChange => BaStatus::RegistrationTypeChangeDisallowed,
            Refusal::MalformedKeyOption => BaStatus::ReasonUnspecified,
            Refusal::InitTimestamp => BaStatus::Mipv6MesgIdReqd,
            Refusal::MissingAlternateCareOf | Refusal::InvalidCareOf => {
                BaStatus::InvalidCareOfAddress
            }
            Refusal::SequenceOutOfWindow => BaStatus::SequenceNumberOutOfWindow,
            Refusal::InsufficientResources => BaStatus::InsufficientResources,
            Refusal::DuplicateAddress => BaStatus::DuplicateAddressDetectionFailed,
        }
    }

    /// Position in [`Refusal::ALL`].
    pub const fn index(&self) -> usize {
        match self {
            Refusal::NotHomeSubnet => 0,
            Refusal::HomeAddressOfAnotherMn => 1,
            Refusal::RegistrationTypeChange => 2,
            Refusal::NoBindingToDeregister => 3,
            Refusal::InitTimestamp => 4,
            Refusal::MalformedKeyOption => 5,
            Refusal::MissingAlternateCareOf => 6,
            Refusal::InvalidCareOf => 7,
            Refusal::SequenceOutOfWindow => 8,
            Refusal::InsufficientResources => 9,
            Refusal::DuplicateAddress => 10,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Refusal::NotHomeSubnet => "home address is not on the home subnet",
            Refusal::HomeAddressOfAnotherMn => "home address names another mobile node",
            Refusal::RegistrationTypeChange => "H flag clear for a home registration binding",
            Refusal::NoBindingToDeregister => "deregistration without a binding",
            Refusal::InitTimestamp => "missing, stale or skewed Key Initialization timestamp",
            Refusal::MalformedKeyOption => "malformed key-management option",
            Refusal::MissingAlternateCareOf => "no Alternate Care-of Address option",
            Refusal::InvalidCareOf => "care-of address is not a global unicast address",
            Refusal::SequenceOutOfWindow => "sequence number not newer than the binding's",
            Refusal::InsufficientResources => "no SPI available for a new generation",
            Refusal::DuplicateAddress => "Duplicate Address Detection failed on the home link",
        };
        write!(f, "{text} (BA status {})", u8::from(self.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_its_index_and_status() {
        for (i, r) in Refusal::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(!r.status().is_accepted(), "{r}");
        }
        assert_eq!(u8::from(Refusal::InitTimestamp.status()), 145);
        assert_eq!(u8::from(Refusal::InvalidCareOf.status()), 174);
        assert_eq!(u8::from(Refusal::SequenceOutOfWindow.status()), 135);
        assert_eq!(u8::from(Refusal::HomeAddressOfAnotherMn.status()), 133);
        assert_eq!(u8::from(Refusal::NoBindingToDeregister.status()), 133);
        assert_eq!(u8::from(Refusal::NotHomeSubnet.status()), 132);
        assert_eq!(u8::from(Refusal::RegistrationTypeChange.status()), 139);
    }
}
