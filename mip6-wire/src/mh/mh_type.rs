//! MH Type code points (RFC 6275 §6.1.1; IANA "Mobility Header Types").
//!
//! Types 0–7 (RFC 6275 §6.1.2–§6.1.9) are named; every other value (the FMIPv6, PMIPv6,
//! ... types IANA lists from 8 on) is [`MhType::Unknown`], which the receiver answers with
//! a Binding Error, status 2 (RFC 6275 §9.2).

open_enum! {
    /// The MH Type field of the Mobility Header (RFC 6275 §6.1.1).
    pub enum MhType(u8) {
        /// Binding Refresh Request (RFC 6275 §6.1.2).
        BindingRefreshRequest = 0,
        /// Home Test Init (RFC 6275 §6.1.3).
        HomeTestInit = 1,
        /// Care-of Test Init (RFC 6275 §6.1.4).
        CareOfTestInit = 2,
        /// Home Test (RFC 6275 §6.1.5).
        HomeTest = 3,
        /// Care-of Test (RFC 6275 §6.1.6).
        CareOfTest = 4,
        /// Binding Update (RFC 6275 §6.1.7).
        BindingUpdate = 5,
        /// Binding Acknowledgement (RFC 6275 §6.1.8).
        BindingAck = 6,
        /// Binding Error (RFC 6275 §6.1.9).
        BindingError = 7,
    }
}

impl MhType {
    /// Octets of this type's fixed message data, i.e. what follows the 6-octet common
    /// header before the mobility options (RFC 6275 §6.1.2–§6.1.9); `None` for unknown
    /// types, whose layout this crate does not know.
    pub const fn fixed_len(self) -> Option<usize> {
        match self {
            MhType::BindingRefreshRequest => Some(super::rr::BRR_LEN),
            MhType::HomeTestInit | MhType::CareOfTestInit => Some(super::rr::TEST_INIT_LEN),
            MhType::HomeTest | MhType::CareOfTest => Some(super::rr::TEST_LEN),
            MhType::BindingUpdate => Some(super::bu::BU_LEN),
            MhType::BindingAck => Some(super::ba::BA_LEN),
            MhType::BindingError => Some(super::be::BE_LEN),
            MhType::Unknown(_) => None,
        }
    }

    /// Short name as RFC 6275 abbreviates it ("BU", "BA", ...), or "unknown".
    pub const fn abbreviation(self) -> &'static str {
        match self {
            MhType::BindingRefreshRequest => "BRR",
            MhType::HomeTestInit => "HoTI",
            MhType::CareOfTestInit => "CoTI",
            MhType::HomeTest => "HoT",
            MhType::CareOfTest => "CoT",
            MhType::BindingUpdate => "BU",
            MhType::BindingAck => "BA",
            MhType::BindingError => "BE",
            MhType::Unknown(_) => "unknown",
        }
    }
}

impl core::fmt::Display for MhType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MhType::Unknown(t) => write!(f, "unknown MH type {t}"),
            known => write!(f, "{} (MH type {})", known.abbreviation(), u8::from(*known)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_u8_round_trips_and_types_0_to_7_are_named() {
        for v in 0..=255u8 {
            let t = MhType::from(v);
            assert_eq!(u8::from(t), v);
            assert_eq!(matches!(t, MhType::Unknown(_)), v > 7, "type {v}");
            assert_eq!(t.fixed_len().is_some(), v <= 7);
        }
        assert_eq!(MhType::from(5), MhType::BindingUpdate);
        assert_eq!(MhType::BindingUpdate.to_string(), "BU (MH type 5)");
        assert_eq!(MhType::from(12).to_string(), "unknown MH type 12");
    }

    #[test]
    fn fixed_lengths_match_rfc_6275_diagrams() {
        // Message data octets after the common header, counted on RFC 6275 §6.1.2-§6.1.9.
        let expected = [2, 10, 10, 18, 18, 6, 6, 18];
        for (t, len) in expected.iter().enumerate() {
            assert_eq!(MhType::from(t as u8).fixed_len(), Some(*len));
        }
    }
}
