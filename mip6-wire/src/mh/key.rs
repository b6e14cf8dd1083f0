//! Key-management options carried in a Vendor-Specific Mobility Option (RFC 5094, type
//! 19, alignment 4n+2) of our vendor ID (docs/architecture.md, "Key-management options").
//!
//! | sub-type | name | body after the sub-type octet |
//! | --- | --- | --- |
//! | 1 | Key Initialization Request (and its echo in the BA) | 8-octet NTP-format timestamp nonce |
//! | 2 | Key Update Request | none |
//! | 3 | Key Resending Request | none |
//! | 4 | Key Distribution | generation u32, SPI MN→HA u32, SPI HA→MN u32, suite u8, reserved 3, lifetime s u32, secret 32 |
//!
//! The vendor ID is a parameter everywhere ([`DEFAULT_VENDOR_ID`] = 32473, RFC 5612's
//! documentation number); a Vendor-Specific option of another vendor is not ours and
//! converts to `Ok(None)`.
//!
//! Strictness (our own format, so we are strict): a body shorter or longer than its
//! sub-type's layout, an unknown sub-type and an unknown **suite** (anything but 1 and
//! 2) are errors ([`KeyError`]) — a Key Distribution with a suite we cannot run is
//! useless, so there is no `Unknown` suite. Reserved octets are ignored on parse and
//! zeroed on emit.
//!
//! Secrets: [`KeyDistribution::secret`] is a [`Secret32`]; the encoded body
//! ([`KeyBody`]) that holds a copy of it on the way to the wire is zeroized on drop.
//!
//! Not supported: sub-types other than 1–4.

use zeroize::Zeroize;

use super::error::KeyError;
use super::option::{MobilityOption, VendorSpecific, VSO_HEADER_LEN, VSO_SUB_TYPE_OFFSET};
use crate::error::{Layer, LenError};
use crate::secret::{Secret32, SECRET_LEN};

/// Vendor ID used when none is configured: 32473, the enterprise number RFC 5612
/// reserves for documentation (docs/architecture.md).
pub const DEFAULT_VENDOR_ID: u32 = 32473;

/// Sub-type numbers (docs/architecture.md, "Key-management options").
pub mod sub_type {
    /// Key Initialization Request (in a BU) and its echo (in the BA).
    pub const KEY_INITIALIZATION: u8 = 1;
    /// Key Update Request.
    pub const KEY_UPDATE: u8 = 2;
    /// Key Resending Request.
    pub const KEY_RESENDING: u8 = 3;
    /// Key Distribution.
    pub const KEY_DISTRIBUTION: u8 = 4;
}

/// Key Distribution body (after the sub-type octet), docs/architecture.md:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Generation                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          SPI MN->HA                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          SPI HA->MN                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Suite     |                   Reserved                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Lifetime (seconds)                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Secret (32 octets) ...                    |
/// ```
///
/// Key Initialization body: one 64-bit NTP timestamp (RFC 5905 format, as RFC 4285's
/// Message-ID).
mod field {
    use core::ops::Range;
    pub const INIT_TIMESTAMP: Range<usize> = 0..8;
    pub const INIT_LEN: usize = 8;
    pub const GENERATION: Range<usize> = 0..4;
    pub const SPI_MN_TO_HA: Range<usize> = 4..8;
    pub const SPI_HA_TO_MN: Range<usize> = 8..12;
    pub const SUITE: usize = 12;
    pub const RESERVED: Range<usize> = 13..16;
    pub const LIFETIME: Range<usize> = 16..20;
    pub const SECRET: Range<usize> = 20..52;
    pub const DISTRIBUTION_LEN: usize = 52;
}

/// Largest body of any sub-type (Key Distribution).
pub const KEY_BODY_MAX: usize = field::DISTRIBUTION_LEN;

/// The cipher suite a Key Distribution names: the same type ESP and the key schedule use.
pub use crate::esp::Suite;

/// A Key Distribution (sub-type 4), sent by the HA in a BA (always ESP-encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDistribution {
    /// Generation number g.
    pub generation: u32,
    /// SPI of the MN→HA SA of this generation.
    pub spi_mn_to_ha: u32,
    /// SPI of the HA→MN SA of this generation.
    pub spi_ha_to_mn: u32,
    /// Cipher suite.
    pub suite: Suite,
    /// Lifetime of the generation in seconds.
    pub lifetime_secs: u32,
    /// The generation's secret (HKDF input keying material).
    pub secret: Secret32,
}

/// A key-management option (docs/architecture.md, "Key-management options").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOption {
    /// Sub-type 1: Key Initialization Request in a BU, echoed unchanged in the BA that
    /// answers it. `timestamp` is a 64-bit NTP-format time (RFC 4285 Message-ID style).
    KeyInitialization {
        /// NTP-format timestamp nonce (seconds since 1900 in the high 32 bits).
        timestamp: u64,
    },
    /// Sub-type 2: Key Update Request (BU).
    KeyUpdateRequest,
    /// Sub-type 3: Key Resending Request (BU).
    KeyResendingRequest,
    /// Sub-type 4: Key Distribution (BA).
    KeyDistribution(KeyDistribution),
}

fn be_u32(b: &[u8], at: core::ops::Range<usize>) -> u32 {
    b.get(at)
        .map(|s| s.iter().fold(0u32, |a, x| (a << 8) | u32::from(*x)))
        .unwrap_or(0)
}

impl KeyOption {
    /// The sub-type octet.
    pub const fn sub_type(&self) -> u8 {
        match self {
            KeyOption::KeyInitialization { .. } => sub_type::KEY_INITIALIZATION,
            KeyOption::KeyUpdateRequest => sub_type::KEY_UPDATE,
            KeyOption::KeyResendingRequest => sub_type::KEY_RESENDING,
            KeyOption::KeyDistribution(_) => sub_type::KEY_DISTRIBUTION,
        }
    }

    /// Octets of the body after the sub-type octet.
    pub const fn body_len(&self) -> usize {
        match self {
            KeyOption::KeyInitialization { .. } => field::INIT_LEN,
            KeyOption::KeyUpdateRequest | KeyOption::KeyResendingRequest => 0,
            KeyOption::KeyDistribution(_) => field::DISTRIBUTION_LEN,
        }
    }

    /// Octets of the whole Vendor-Specific option carrying this (type, length, vendor
    /// ID, sub-type, body).
    pub const fn option_len(&self) -> usize {
        VSO_HEADER_LEN + self.body_len()
    }

    /// Reads a key option out of a Vendor-Specific option: `Ok(None)` when its vendor
    /// ID is not `vendor_id`; errors (offsets from the option's first octet) for a
    /// malformed body of ours.
    pub fn from_vendor_specific(
        vso: &VendorSpecific<'_>,
        vendor_id: u32,
    ) -> Result<Option<KeyOption>, KeyError> {
        if vso.vendor_id != vendor_id {
            return Ok(None);
        }
        let body = vso.data;
        let need = match vso.sub_type {
            sub_type::KEY_INITIALIZATION => field::INIT_LEN,
            sub_type::KEY_UPDATE | sub_type::KEY_RESENDING => 0,
            sub_type::KEY_DISTRIBUTION => field::DISTRIBUTION_LEN,
            other => {
                return Err(KeyError::UnknownSubType {
                    sub_type: other,
                    offset: VSO_SUB_TYPE_OFFSET,
                })
            }
        };
        if body.len() < need {
            return Err(LenError::by_field(
                Layer::KeyOption,
                0,
                VSO_HEADER_LEN + need,
                VSO_HEADER_LEN + body.len(),
                "Option Length",
            )
            .into());
        }
        if body.len() > need {
            return Err(KeyError::Overlong {
                sub_type: vso.sub_type,
                offset: 0,
                expected: need,
                actual: body.len(),
            });
        }
        let option = match vso.sub_type {
            sub_type::KEY_INITIALIZATION => KeyOption::KeyInitialization {
                timestamp: (u64::from(be_u32(body, 0..4)) << 32) | u64::from(be_u32(body, 4..8)),
            },
            sub_type::KEY_UPDATE => KeyOption::KeyUpdateRequest,
            sub_type::KEY_RESENDING => KeyOption::KeyResendingRequest,
            _ => {
                let code = body.get(field::SUITE).copied().unwrap_or(0);
                let suite = Suite::from_code(code).ok_or(KeyError::UnknownSuite {
                    value: code,
                    offset: VSO_HEADER_LEN + field::SUITE,
                })?;
                let secret = body
                    .get(field::SECRET)
                    .and_then(Secret32::from_slice)
                    .unwrap_or_else(|| Secret32::new([0; SECRET_LEN]));
                KeyOption::KeyDistribution(KeyDistribution {
                    generation: be_u32(body, field::GENERATION),
                    spi_mn_to_ha: be_u32(body, field::SPI_MN_TO_HA),
                    spi_ha_to_mn: be_u32(body, field::SPI_HA_TO_MN),
                    suite,
                    lifetime_secs: be_u32(body, field::LIFETIME),
                    secret,
                })
            }
        };
        Ok(Some(option))
    }

    /// Like [`from_vendor_specific`](Self::from_vendor_specific) for any mobility
    /// option: `Ok(None)` for options that are not Vendor-Specific of `vendor_id`.
    pub fn from_option(
        option: &MobilityOption<'_>,
        vendor_id: u32,
    ) -> Result<Option<KeyOption>, KeyError> {
        match option {
            MobilityOption::VendorSpecific(v) => Self::from_vendor_specific(v, vendor_id),
            _ => Ok(None),
        }
    }

    /// Encodes the body, ready to be borrowed as a Vendor-Specific option
    /// ([`KeyBody::to_option`]).
    pub fn encode(&self) -> KeyBody {
        let mut body = KeyBody {
            sub_type: self.sub_type(),
            len: self.body_len(),
            octets: [0; KEY_BODY_MAX],
        };
        let b = &mut body.octets;
        match self {
            KeyOption::KeyInitialization { timestamp } => {
                b[field::INIT_TIMESTAMP].copy_from_slice(&timestamp.to_be_bytes());
            }
            KeyOption::KeyUpdateRequest | KeyOption::KeyResendingRequest => {}
            KeyOption::KeyDistribution(d) => {
                b[field::GENERATION].copy_from_slice(&d.generation.to_be_bytes());
                b[field::SPI_MN_TO_HA].copy_from_slice(&d.spi_mn_to_ha.to_be_bytes());
                b[field::SPI_HA_TO_MN].copy_from_slice(&d.spi_ha_to_mn.to_be_bytes());
                b[field::SUITE] = d.suite.code();
                b[field::RESERVED].fill(0);
                b[field::LIFETIME].copy_from_slice(&d.lifetime_secs.to_be_bytes());
                b[field::SECRET].copy_from_slice(d.secret.expose());
            }
        }
        body
    }
}

/// The encoded body of a [`KeyOption`], which a [`VendorSpecific`] option borrows for
/// emit. Holds a copy of a Key Distribution's secret, so it is zeroized on drop and
/// its `Debug` prints no octets.
#[derive(Clone)]
pub struct KeyBody {
    sub_type: u8,
    len: usize,
    octets: [u8; KEY_BODY_MAX],
}

impl KeyBody {
    /// The sub-type octet.
    pub const fn sub_type(&self) -> u8 {
        self.sub_type
    }

    /// The body octets after the sub-type.
    pub fn data(&self) -> &[u8] {
        &self.octets[..self.len]
    }

    /// The Vendor-Specific option data for `vendor_id`, borrowing this body.
    pub fn to_vendor_specific(&self, vendor_id: u32) -> VendorSpecific<'_> {
        VendorSpecific {
            vendor_id,
            sub_type: self.sub_type,
            data: self.data(),
        }
    }

    /// The mobility option for `vendor_id`, borrowing this body; put it in the option
    /// list given to [`Repr`](super::Repr) for emit.
    pub fn to_option(&self, vendor_id: u32) -> MobilityOption<'_> {
        MobilityOption::VendorSpecific(self.to_vendor_specific(vendor_id))
    }
}

impl Drop for KeyBody {
    fn drop(&mut self) {
        self.octets.zeroize();
    }
}

impl core::fmt::Debug for KeyBody {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyBody")
            .field("sub_type", &self.sub_type)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Strategy for any key option.
    pub fn any_key_option() -> impl Strategy<Value = KeyOption> {
        prop_oneof![
            any::<u64>().prop_map(|timestamp| KeyOption::KeyInitialization { timestamp }),
            Just(KeyOption::KeyUpdateRequest),
            Just(KeyOption::KeyResendingRequest),
            (any::<[u32; 4]>(), any::<bool>(), any::<[u8; 32]>()).prop_map(|(n, s, secret)| {
                KeyOption::KeyDistribution(KeyDistribution {
                    generation: n[0],
                    spi_mn_to_ha: n[1],
                    spi_ha_to_mn: n[2],
                    suite: if s {
                        Suite::Aes256Gcm
                    } else {
                        Suite::Aes128Gcm
                    },
                    lifetime_secs: n[3],
                    secret: Secret32::new(secret),
                })
            }),
        ]
    }

    fn emit(o: &MobilityOption<'_>) -> Vec<u8> {
        let mut v = vec![0xFF; o.buffer_len()];
        o.emit(&mut v);
        v
    }

    fn parse_vso(bytes: &[u8]) -> VendorSpecific<'_> {
        match MobilityOption::parse(bytes, 0).unwrap().0 {
            MobilityOption::VendorSpecific(v) => v,
            other => panic!("not a VSO: {other:?}"),
        }
    }

    // Whole Vendor-Specific options, hand-built from RFC 5094 §3 and the docs/architecture.md
    // table: type 19, Option Length, vendor 32473 = 0x00007ED9, sub-type, body.
    const KEY_INIT: [u8; 15] = [
        19, 13, 0x00, 0x00, 0x7E, 0xD9, 1, 0xE9, 0x8A, 0x3B, 0x00, 0x80, 0x00, 0x00, 0x00,
    ];
    const KEY_UPDATE: [u8; 7] = [19, 5, 0x00, 0x00, 0x7E, 0xD9, 2];
    const KEY_RESEND: [u8; 7] = [19, 5, 0x00, 0x00, 0x7E, 0xD9, 3];

    pub(crate) fn key_distribution_bytes() -> [u8; 59] {
        let mut b = [0u8; 59];
        b[..7].copy_from_slice(&[19, 57, 0x00, 0x00, 0x7E, 0xD9, 4]);
        b[7..11].copy_from_slice(&[0, 0, 0, 5]); // generation 5
        b[11..15].copy_from_slice(&[0, 0, 0x10, 0x05]); // SPI MN->HA 0x1005
        b[15..19].copy_from_slice(&[0, 0, 0x20, 0x05]); // SPI HA->MN 0x2005
        b[19] = 2; // AES-256-GCM; 20..23 reserved
        b[23..27].copy_from_slice(&[0, 0, 0x0E, 0x10]); // 3600 s
        for (i, s) in b[27..59].iter_mut().enumerate() {
            *s = i as u8; // secret 00..1f
        }
        b
    }

    pub(crate) fn key_distribution() -> KeyOption {
        let mut secret = [0u8; 32];
        secret
            .iter_mut()
            .enumerate()
            .for_each(|(i, s)| *s = i as u8);
        KeyOption::KeyDistribution(KeyDistribution {
            generation: 5,
            spi_mn_to_ha: 0x1005,
            spi_ha_to_mn: 0x2005,
            suite: Suite::Aes256Gcm,
            lifetime_secs: 3600,
            secret: Secret32::new(secret),
        })
    }

    #[test]
    fn known_bytes_every_sub_type() {
        let init = KeyOption::KeyInitialization {
            timestamp: 0xE98A_3B00_8000_0000,
        };
        let kd_bytes = key_distribution_bytes();
        let cases: [(&[u8], KeyOption); 4] = [
            (&KEY_INIT, init),
            (&KEY_UPDATE, KeyOption::KeyUpdateRequest),
            (&KEY_RESEND, KeyOption::KeyResendingRequest),
            (&kd_bytes, key_distribution()),
        ];
        for (bytes, key) in cases {
            let vso = parse_vso(bytes);
            assert_eq!(
                KeyOption::from_vendor_specific(&vso, DEFAULT_VENDOR_ID),
                Ok(Some(key.clone()))
            );
            assert_eq!(key.option_len(), bytes.len());
            let body = key.encode();
            assert_eq!(emit(&body.to_option(DEFAULT_VENDOR_ID)), bytes);
            // Another vendor's option is not ours.
            assert_eq!(KeyOption::from_vendor_specific(&vso, 9), Ok(None));
        }
        assert_eq!(
            KeyOption::from_option(&MobilityOption::PadN(0), DEFAULT_VENDOR_ID),
            Ok(None)
        );
    }

    #[test]
    fn reserved_octets_are_ignored_and_cleared() {
        let mut b = key_distribution_bytes();
        b[20..23].copy_from_slice(&[0xAA, 0xBB, 0xCC]);
        let k = KeyOption::from_vendor_specific(&parse_vso(&b), DEFAULT_VENDOR_ID)
            .unwrap()
            .unwrap();
        assert_eq!(k, key_distribution());
        assert_eq!(
            emit(&k.encode().to_option(DEFAULT_VENDOR_ID)),
            key_distribution_bytes()
        );
    }

    #[test]
    fn malformed_bodies_are_typed_errors() {
        // Truncated at every body length.
        let kd = key_distribution_bytes();
        for body_len in 0..52 {
            let vso = VendorSpecific {
                vendor_id: DEFAULT_VENDOR_ID,
                sub_type: 4,
                data: &kd[7..7 + body_len],
            };
            assert_eq!(
                KeyOption::from_vendor_specific(&vso, DEFAULT_VENDOR_ID),
                Err(KeyError::Len(LenError::by_field(
                    Layer::KeyOption,
                    0,
                    59,
                    7 + body_len,
                    "Option Length"
                )))
            );
        }
        for body_len in 0..8 {
            let vso = VendorSpecific {
                vendor_id: DEFAULT_VENDOR_ID,
                sub_type: 1,
                data: &KEY_INIT[7..7 + body_len],
            };
            assert!(matches!(
                KeyOption::from_vendor_specific(&vso, DEFAULT_VENDOR_ID),
                Err(KeyError::Len(_))
            ));
        }
        let overlong = VendorSpecific {
            vendor_id: DEFAULT_VENDOR_ID,
            sub_type: 2,
            data: &[0],
        };
        assert_eq!(
            KeyOption::from_vendor_specific(&overlong, DEFAULT_VENDOR_ID),
            Err(KeyError::Overlong {
                sub_type: 2,
                offset: 0,
                expected: 0,
                actual: 1
            })
        );
        let unknown = VendorSpecific {
            vendor_id: DEFAULT_VENDOR_ID,
            sub_type: 9,
            data: &[],
        };
        assert_eq!(
            KeyOption::from_vendor_specific(&unknown, DEFAULT_VENDOR_ID),
            Err(KeyError::UnknownSubType {
                sub_type: 9,
                offset: 6
            })
        );
        let mut bad_suite = key_distribution_bytes();
        bad_suite[19] = 3;
        assert_eq!(
            KeyOption::from_vendor_specific(&parse_vso(&bad_suite), DEFAULT_VENDOR_ID),
            Err(KeyError::UnknownSuite {
                value: 3,
                offset: 19
            })
        );
    }

    #[test]
    fn configured_vendor_id_is_used() {
        let body = KeyOption::KeyUpdateRequest.encode();
        let bytes = emit(&body.to_option(0x0102_0304));
        assert_eq!(bytes, [19, 5, 1, 2, 3, 4, 2]);
        let vso = parse_vso(&bytes);
        assert_eq!(
            KeyOption::from_vendor_specific(&vso, 0x0102_0304),
            Ok(Some(KeyOption::KeyUpdateRequest))
        );
        assert_eq!(
            KeyOption::from_vendor_specific(&vso, DEFAULT_VENDOR_ID),
            Ok(None)
        );
        assert!(!format!("{:?}", key_distribution().encode()).contains("31"));
        assert_eq!(Suite::from_code(1).map(Suite::key_len), Some(16));
        assert_eq!(Suite::from_code(0), None);
    }

    proptest! {
        #[test]
        fn round_trip(k in any_key_option(), vendor: u32) {
            let body = k.encode();
            let bytes = emit(&body.to_option(vendor));
            prop_assert_eq!(bytes.len(), k.option_len());
            let vso = parse_vso(&bytes);
            prop_assert_eq!(KeyOption::from_vendor_specific(&vso, vendor), Ok(Some(k)));
        }
    }
}
