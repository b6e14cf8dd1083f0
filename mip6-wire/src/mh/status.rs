//! Status codes of the Binding Acknowledgement (RFC 6275 §6.1.8; IANA "Mobile IPv6
//! parameters", registry "Status Codes" of the BA) and of the Binding Error
//! (RFC 6275 §6.1.9).
//!
//! Every BA status IANA names in 0..=178 is a variant, with the RFC that defines it
//! (RFC 6275, RFC 3963, RFC 4285, RFC 4866, RFC 5149, RFC 5213, RFC 5648, RFC 5844,
//! RFC 5845, RFC 6058, RFC 6602, RFC 6618, RFC 7148). RFC 4877 and RFC 5026 define no
//! BA status code. Values IANA added later (179 RFC 7222, 180 RFC 8278) and unassigned
//! values are [`BaStatus::Unknown`]. Values below 128 mean the BU was accepted.

open_enum! {
    /// Status field of a Binding Acknowledgement (RFC 6275 §6.1.8, IANA registry).
    pub enum BaStatus(u8) {
        /// 0: Binding Update accepted (RFC 6275); also Proxy BU accepted (RFC 5213).
        Accepted = 0,
        /// 1: Accepted but prefix discovery necessary (RFC 6275).
        AcceptedPrefixDiscoveryNecessary = 1,
        /// 2: GRE_KEY_OPTION_NOT_REQUIRED (RFC 5845).
        GreKeyOptionNotRequired = 2,
        /// 3: GRE_TUNNELING_BUT_TLV_HEADER_NOT_SUPPORTED (RFC 5845).
        GreTunnelingButTlvHeaderNotSupported = 3,
        /// 4: MCOA NOTCOMPLETE (RFC 5648).
        McoaNotComplete = 4,
        /// 5: MCOA RETURNHOME WO/NDP (RFC 5648).
        McoaReturnHomeWithoutNdp = 5,
        /// 6: PBU_ACCEPTED_TB_IGNORED_SETTINGSMISMATCH (RFC 6058).
        PbuAcceptedTbIgnoredSettingsMismatch = 6,
        /// 128: Reason unspecified (RFC 6275).
        ReasonUnspecified = 128,
        /// 129: Administratively prohibited (RFC 6275).
        AdministrativelyProhibited = 129,
        /// 130: Insufficient resources (RFC 6275).
        InsufficientResources = 130,
        /// 131: Home registration not supported (RFC 6275).
        HomeRegistrationNotSupported = 131,
        /// 132: Not home subnet (RFC 6275).
        NotHomeSubnet = 132,
        /// 133: Not home agent for this mobile node (RFC 6275).
        NotHomeAgentForThisMobileNode = 133,
        /// 134: Duplicate Address Detection failed (RFC 6275).
        DuplicateAddressDetectionFailed = 134,
        /// 135: Sequence number out of window (RFC 6275).
        SequenceNumberOutOfWindow = 135,
        /// 136: Expired home nonce index (RFC 6275).
        ExpiredHomeNonceIndex = 136,
        /// 137: Expired care-of nonce index (RFC 6275).
        ExpiredCareOfNonceIndex = 137,
        /// 138: Expired nonces (RFC 6275).
        ExpiredNonces = 138,
        /// 139: Registration type change disallowed (RFC 6275).
        RegistrationTypeChangeDisallowed = 139,
        /// 140: Mobile Router Operation not permitted (RFC 3963).
        MobileRouterOperationNotPermitted = 140,
        /// 141: Invalid Prefix (RFC 3963).
        InvalidPrefix = 141,
        /// 142: Not Authorized for Prefix (RFC 3963).
        NotAuthorizedForPrefix = 142,
        /// 143: Forwarding Setup failed (RFC 3963).
        ForwardingSetupFailed = 143,
        /// 144: MIPV6-ID-MISMATCH (RFC 4285).
        Mipv6IdMismatch = 144,
        /// 145: MIPV6-MESG-ID-REQD (RFC 4285).
        Mipv6MesgIdReqd = 145,
        /// 146: MIPV6-AUTH-FAIL (RFC 4285).
        Mipv6AuthFail = 146,
        /// 147: Permanent home keygen token unavailable (RFC 4866).
        PermanentHomeKeygenTokenUnavailable = 147,
        /// 148: CGA and signature verification failed (RFC 4866).
        CgaAndSignatureVerificationFailed = 148,
        /// 149: Permanent home keygen token exists (RFC 4866).
        PermanentHomeKeygenTokenExists = 149,
        /// 150: Non-null home nonce index expected (RFC 4866).
        NonNullHomeNonceIndexExpected = 150,
        /// 151: SERVICE_AUTHORIZATION_FAILED (RFC 5149).
        ServiceAuthorizationFailed = 151,
        /// 152: PROXY_REG_NOT_ENABLED (RFC 5213).
        ProxyRegNotEnabled = 152,
        /// 153: NOT_LMA_FOR_THIS_MOBILE_NODE (RFC 5213).
        NotLmaForThisMobileNode = 153,
        /// 154: MAG_NOT_AUTHORIZED_FOR_PROXY_REG (RFC 5213).
        MagNotAuthorizedForProxyReg = 154,
        /// 155: NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX (RFC 5213).
        NotAuthorizedForHomeNetworkPrefix = 155,
        /// 156: TIMESTAMP_MISMATCH (RFC 5213).
        TimestampMismatch = 156,
        /// 157: TIMESTAMP_LOWER_THAN_PREV_ACCEPTED (RFC 5213).
        TimestampLowerThanPrevAccepted = 157,
        /// 158: MISSING_HOME_NETWORK_PREFIX_OPTION (RFC 5213).
        MissingHomeNetworkPrefixOption = 158,
        /// 159: BCE_PBU_PREFIX_SET_DO_NOT_MATCH (RFC 5213).
        BcePbuPrefixSetDoNotMatch = 159,
        /// 160: MISSING_MN_IDENTIFIER_OPTION (RFC 5213).
        MissingMnIdentifierOption = 160,
        /// 161: MISSING_HANDOFF_INDICATOR_OPTION (RFC 5213).
        MissingHandoffIndicatorOption = 161,
        /// 162: MISSING_ACCESS_TECH_TYPE_OPTION (RFC 5213).
        MissingAccessTechTypeOption = 162,
        /// 163: GRE_KEY_OPTION_REQUIRED (RFC 5845).
        GreKeyOptionRequired = 163,
        /// 164: MCOA MALFORMED (RFC 5648).
        McoaMalformed = 164,
        /// 165: MCOA NON-MCOA BINDING EXISTS (RFC 5648).
        McoaNonMcoaBindingExists = 165,
        /// 166: MCOA PROHIBITED (RFC 5648).
        McoaProhibited = 166,
        /// 167: MCOA UNKNOWN COA (RFC 5648).
        McoaUnknownCoa = 167,
        /// 168: MCOA BULK REGISTRATION PROHIBITED (RFC 5648).
        McoaBulkRegistrationProhibited = 168,
        /// 169: MCOA SIMULTANEOUS HOME AND FOREIGN PROHIBITED (RFC 5648).
        McoaSimultaneousHomeAndForeignProhibited = 169,
        /// 170: NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE (RFC 5844).
        NotAuthorizedForIpv4MobilityService = 170,
        /// 171: NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS (RFC 5844).
        NotAuthorizedForIpv4HomeAddress = 171,
        /// 172: NOT_AUTHORIZED_FOR_IPV6_MOBILITY_SERVICE (RFC 5844).
        NotAuthorizedForIpv6MobilityService = 172,
        /// 173: MULTIPLE_IPV4_HOME_ADDRESS_ASSIGNMENT_NOT_SUPPORTED (RFC 5844).
        MultipleIpv4HomeAddressAssignmentNotSupported = 173,
        /// 174: Invalid Care-of Address (RFC 6275).
        InvalidCareOfAddress = 174,
        /// 175: INVALID_MOBILE_NODE_GROUP_IDENTIFIER (RFC 6602).
        InvalidMobileNodeGroupIdentifier = 175,
        /// 176: REINIT_SA_WITH_HAC (RFC 6618).
        ReinitSaWithHac = 176,
        /// 177: NOT_AUTHORIZED_FOR_DELEGATED_MNP (RFC 7148).
        NotAuthorizedForDelegatedMnp = 177,
        /// 178: REQUESTED_DMNP_IN_USE (RFC 7148).
        RequestedDmnpInUse = 178,
    }
}

impl BaStatus {
    /// True when the BU was accepted: status below 128 (RFC 6275 §6.1.8).
    pub fn is_accepted(self) -> bool {
        u8::from(self) < 128
    }
}

open_enum! {
    /// Status field of a Binding Error (RFC 6275 §6.1.9).
    pub enum BeStatus(u8) {
        /// 1: Unknown binding for Home Address destination option (RFC 6275 §6.1.9).
        UnknownBindingForHomeAddress = 1,
        /// 2: Unrecognized MH Type value (RFC 6275 §6.1.9).
        UnrecognizedMhType = 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_ba_statuses_are_the_iana_set_and_all_round_trip() {
        // IANA BA status registry, values 0..=178: 0-6 and 128-178 are assigned.
        for v in 0..=255u8 {
            let s = BaStatus::from(v);
            assert_eq!(u8::from(s), v);
            let named = v <= 6 || (128..=178).contains(&v);
            assert_eq!(!matches!(s, BaStatus::Unknown(_)), named, "status {v}");
            assert_eq!(s.is_accepted(), v < 128);
        }
        assert_eq!(BaStatus::NAMED.len(), 7 + 51);
        assert_eq!(BaStatus::from(135), BaStatus::SequenceNumberOutOfWindow);
        assert_eq!(BaStatus::from(144), BaStatus::Mipv6IdMismatch);
        assert_eq!(BaStatus::from(174), BaStatus::InvalidCareOfAddress);
        assert_eq!(BaStatus::from(164), BaStatus::McoaMalformed);
        assert!(!BaStatus::Unknown(200).is_accepted());
        assert!(BaStatus::Unknown(100).is_accepted());
    }

    #[test]
    fn be_status_names_1_and_2_only() {
        assert_eq!(BeStatus::from(1), BeStatus::UnknownBindingForHomeAddress);
        assert_eq!(BeStatus::from(2), BeStatus::UnrecognizedMhType);
        assert_eq!(BeStatus::from(0), BeStatus::Unknown(0));
        assert_eq!(u8::from(BeStatus::Unknown(9)), 9);
    }
}
