//! One mobility option (RFC 6275 §6.2.1–§6.2.7; Vendor-Specific, RFC 5094 §3): type
//! code points, alignment requirements, and the option `Repr` with `parse`/`emit`.
//!
//! Parsing reads one option at the start of a byte slice with bounds-checked access
//! only (no separate zero-copy view: options are a few octets and the `Repr` borrows
//! every variable part), never allocates, and keeps options of unknown type as
//! [`MobilityOption::Unknown`] so they re-emit unchanged. Lists, padding and alignment
//! are in [`Options`](super::Options) and [`emit_options`](super::emit_options).
//!
//! Not supported: the contents of the Binding Authorization Data authenticator
//! (return-routability Kbm, RFC 6275 §5.2.6) — it is carried as bytes; options other
//! than those named in [`OptionType`] are carried as [`MobilityOption::Unknown`].

use core::net::Ipv6Addr;

use super::error::OptionError;
use crate::error::{Layer, LenError};

/// RFC 6275 §6.2.1, mobility option format (Pad1, §6.2.2, is the single octet 0):
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
/// |  Option Type  | Option Length |   Option Data...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
/// ```
///
/// RFC 5094 §3, Vendor-Specific Mobility Option (Option Data):
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Vendor ID                             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Sub-Type    |     Data.......
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 1;
    pub const DATA: usize = 2;
    // Within Option Data:
    pub const BRA_INTERVAL: Range<usize> = 0..2;
    pub const NONCE_HOME: Range<usize> = 0..2;
    pub const NONCE_CARE_OF: Range<usize> = 2..4;
    pub const VSO_VENDOR_ID: Range<usize> = 0..4;
    pub const VSO_SUB_TYPE: usize = 4;
    pub const VSO_DATA: usize = 5;
}

/// Offset of the Sub-Type octet of a Vendor-Specific option from its first octet.
pub const VSO_SUB_TYPE_OFFSET: usize = field::DATA + field::VSO_SUB_TYPE;
/// Octets of a Vendor-Specific option before its Data (type, length, vendor, sub-type).
pub const VSO_HEADER_LEN: usize = field::DATA + field::VSO_DATA;
/// Largest Option Data an option can carry (Option Length is one octet).
pub const MAX_OPTION_DATA: usize = 255;

open_enum! {
    /// Mobility option type (RFC 6275 §6.2; IANA "Mobility Options").
    pub enum OptionType(u8) {
        /// Pad1 (RFC 6275 §6.2.2).
        Pad1 = 0,
        /// PadN (RFC 6275 §6.2.3).
        PadN = 1,
        /// Binding Refresh Advice (RFC 6275 §6.2.4).
        BindingRefreshAdvice = 2,
        /// Alternate Care-of Address (RFC 6275 §6.2.5).
        AlternateCareOfAddress = 3,
        /// Nonce Indices (RFC 6275 §6.2.6).
        NonceIndices = 4,
        /// Binding Authorization Data (RFC 6275 §6.2.7).
        BindingAuthorizationData = 5,
        /// Vendor-Specific Mobility Option (RFC 5094).
        VendorSpecific = 19,
    }
}

/// An `xn+y` alignment requirement, counted from the first octet of the Mobility Header
/// (RFC 6275 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alignment {
    /// x.
    pub multiple: usize,
    /// y.
    pub remainder: usize,
}

impl Alignment {
    /// No requirement (Pad1, PadN, unknown options).
    pub const NONE: Alignment = Alignment::new(1, 0);

    /// `multiple`·n + `remainder`.
    pub const fn new(multiple: usize, remainder: usize) -> Self {
        Alignment {
            multiple,
            remainder,
        }
    }

    /// True when an option starting `offset` octets into the MH meets the requirement.
    pub const fn is_aligned(self, offset: usize) -> bool {
        offset % self.multiple == self.remainder % self.multiple
    }

    /// Padding octets to insert at `offset` so the next option meets the requirement.
    pub const fn padding_at(self, offset: usize) -> usize {
        let m = self.multiple;
        (self.remainder % m + m - offset % m) % m
    }
}

/// Option Data of a Vendor-Specific Mobility Option (RFC 5094 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VendorSpecific<'a> {
    /// IANA Private Enterprise Number.
    pub vendor_id: u32,
    /// Vendor's sub-type.
    pub sub_type: u8,
    /// Data after the sub-type (at most 250 octets).
    pub data: &'a [u8],
}

/// A mobility option (RFC 6275 §6.2, RFC 5094).
///
/// Emitting needs Option Data of at most 255 octets (250 of vendor data); larger
/// slices make [`emit`](Self::emit) panic. `Unknown` must not carry a named type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MobilityOption<'a> {
    /// Pad1: one octet of padding (RFC 6275 §6.2.2).
    Pad1,
    /// PadN with this many Option Data octets (RFC 6275 §6.2.3); the octets are
    /// ignored on parse and zero on emit.
    PadN(u8),
    /// Binding Refresh Advice (RFC 6275 §6.2.4): refresh interval in 4-second units.
    BindingRefreshAdvice {
        /// Refresh Interval, units of 4 seconds.
        refresh_interval: u16,
    },
    /// Alternate Care-of Address (RFC 6275 §6.2.5).
    AlternateCareOfAddress(Ipv6Addr),
    /// Nonce Indices (RFC 6275 §6.2.6).
    NonceIndices {
        /// Home Nonce Index.
        home_nonce_index: u16,
        /// Care-of Nonce Index.
        care_of_nonce_index: u16,
    },
    /// Binding Authorization Data (RFC 6275 §6.2.7): the authenticator octets.
    BindingAuthorizationData(&'a [u8]),
    /// Vendor-Specific Mobility Option (RFC 5094 §3).
    VendorSpecific(VendorSpecific<'a>),
    /// An option of a type not named above, kept whole.
    Unknown {
        /// Option Type.
        option_type: u8,
        /// Option Data.
        data: &'a [u8],
    },
}

fn u16_at(b: &[u8], at: core::ops::Range<usize>) -> u16 {
    match b.get(at) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

impl<'a> MobilityOption<'a> {
    /// The option's type.
    pub fn option_type(&self) -> OptionType {
        match self {
            MobilityOption::Pad1 => OptionType::Pad1,
            MobilityOption::PadN(_) => OptionType::PadN,
            MobilityOption::BindingRefreshAdvice { .. } => OptionType::BindingRefreshAdvice,
            MobilityOption::AlternateCareOfAddress(_) => OptionType::AlternateCareOfAddress,
            MobilityOption::NonceIndices { .. } => OptionType::NonceIndices,
            MobilityOption::BindingAuthorizationData(_) => OptionType::BindingAuthorizationData,
            MobilityOption::VendorSpecific(_) => OptionType::VendorSpecific,
            MobilityOption::Unknown { option_type, .. } => OptionType::from(*option_type),
        }
    }

    /// The alignment RFC 6275 §6.2.4–§6.2.7 / RFC 5094 §3 require: BRA 2n, Alternate
    /// CoA 8n+6, Nonce Indices 2n, Binding Authorization Data 8n+2, Vendor-Specific
    /// 4n+2; none for padding and unknown options.
    pub fn alignment(&self) -> Alignment {
        match self {
            MobilityOption::BindingRefreshAdvice { .. } | MobilityOption::NonceIndices { .. } => {
                Alignment::new(2, 0)
            }
            MobilityOption::AlternateCareOfAddress(_) => Alignment::new(8, 6),
            MobilityOption::BindingAuthorizationData(_) => Alignment::new(8, 2),
            MobilityOption::VendorSpecific(_) => Alignment::new(4, 2),
            MobilityOption::Pad1 | MobilityOption::PadN(_) | MobilityOption::Unknown { .. } => {
                Alignment::NONE
            }
        }
    }

    /// Option Data octets (the Option Length field's value).
    pub fn data_len(&self) -> usize {
        match self {
            MobilityOption::Pad1 => 0,
            MobilityOption::PadN(n) => usize::from(*n),
            MobilityOption::BindingRefreshAdvice { .. } => 2,
            MobilityOption::AlternateCareOfAddress(_) => 16,
            MobilityOption::NonceIndices { .. } => 4,
            MobilityOption::BindingAuthorizationData(a) => a.len(),
            MobilityOption::VendorSpecific(v) => field::VSO_DATA + v.data.len(),
            MobilityOption::Unknown { data, .. } => data.len(),
        }
    }

    /// Octets the option takes on the wire (1 for Pad1, else 2 + Option Length).
    pub fn buffer_len(&self) -> usize {
        match self {
            MobilityOption::Pad1 => 1,
            other => field::DATA + other.data_len(),
        }
    }

    /// Parses the option at the start of `bytes` (which runs to the end of the Mobility
    /// Header) and returns it with the octets it took. `offset` is where `bytes` starts
    /// in the Mobility Header; errors carry it.
    pub fn parse(bytes: &'a [u8], offset: usize) -> Result<(Self, usize), OptionError> {
        let Some(&kind) = bytes.get(field::TYPE) else {
            return Err(LenError::fixed(Layer::MobilityOption, offset, 1, 0).into());
        };
        let option_type = OptionType::from(kind);
        if option_type == OptionType::Pad1 {
            return Ok((MobilityOption::Pad1, 1));
        }
        let Some(&length) = bytes.get(field::LENGTH) else {
            return Err(
                LenError::fixed(Layer::MobilityOption, offset, field::DATA, bytes.len()).into(),
            );
        };
        let total = field::DATA + usize::from(length);
        let Some(data) = bytes.get(field::DATA..total) else {
            return Err(LenError::by_field(
                Layer::MobilityOption,
                offset,
                total,
                bytes.len(),
                "Option Length",
            )
            .into());
        };
        let bad = |expected| OptionError::BadLength {
            option_type,
            offset,
            length,
            expected,
        };
        let option = match option_type {
            OptionType::Pad1 => MobilityOption::Pad1,
            OptionType::PadN => MobilityOption::PadN(length),
            OptionType::BindingRefreshAdvice => {
                if data.len() != 2 {
                    return Err(bad("2"));
                }
                MobilityOption::BindingRefreshAdvice {
                    refresh_interval: u16_at(data, field::BRA_INTERVAL),
                }
            }
            OptionType::AlternateCareOfAddress => {
                let addr: [u8; 16] = data.try_into().map_err(|_| bad("16"))?;
                MobilityOption::AlternateCareOfAddress(Ipv6Addr::from(addr))
            }
            OptionType::NonceIndices => {
                if data.len() != 4 {
                    return Err(bad("4"));
                }
                MobilityOption::NonceIndices {
                    home_nonce_index: u16_at(data, field::NONCE_HOME),
                    care_of_nonce_index: u16_at(data, field::NONCE_CARE_OF),
                }
            }
            OptionType::BindingAuthorizationData => MobilityOption::BindingAuthorizationData(data),
            OptionType::VendorSpecific => {
                let (Some(id), Some(&sub_type), Some(rest)) = (
                    data.get(field::VSO_VENDOR_ID),
                    data.get(field::VSO_SUB_TYPE),
                    data.get(field::VSO_DATA..),
                ) else {
                    return Err(bad("at least 5"));
                };
                let vendor_id = id.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
                MobilityOption::VendorSpecific(VendorSpecific {
                    vendor_id,
                    sub_type,
                    data: rest,
                })
            }
            OptionType::Unknown(option_type) => MobilityOption::Unknown { option_type, data },
        };
        Ok((option, total))
    }

    /// Writes the option into the first [`buffer_len`](Self::buffer_len) octets of
    /// `buf`.
    ///
    /// # Panics
    /// When `buf` is shorter than `buffer_len()`, or Option Data would exceed 255 octets.
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.data_len();
        assert!(
            len <= MAX_OPTION_DATA,
            "mobility option data over 255 octets"
        );
        let buf = &mut buf[..self.buffer_len()];
        buf[field::TYPE] = self.option_type().into();
        if let MobilityOption::Pad1 = self {
            return;
        }
        buf[field::LENGTH] = len as u8;
        let data = &mut buf[field::DATA..];
        match self {
            MobilityOption::Pad1 => {}
            MobilityOption::PadN(_) => data.fill(0),
            MobilityOption::BindingRefreshAdvice { refresh_interval } => {
                data[field::BRA_INTERVAL].copy_from_slice(&refresh_interval.to_be_bytes());
            }
            MobilityOption::AlternateCareOfAddress(a) => data.copy_from_slice(&a.octets()),
            MobilityOption::NonceIndices {
                home_nonce_index,
                care_of_nonce_index,
            } => {
                data[field::NONCE_HOME].copy_from_slice(&home_nonce_index.to_be_bytes());
                data[field::NONCE_CARE_OF].copy_from_slice(&care_of_nonce_index.to_be_bytes());
            }
            MobilityOption::BindingAuthorizationData(a) => data.copy_from_slice(a),
            MobilityOption::VendorSpecific(v) => {
                data[field::VSO_VENDOR_ID].copy_from_slice(&v.vendor_id.to_be_bytes());
                data[field::VSO_SUB_TYPE] = v.sub_type;
                data[field::VSO_DATA..].copy_from_slice(v.data);
            }
            MobilityOption::Unknown { data: d, .. } => data.copy_from_slice(d),
        }
    }
}

impl MobilityOption<'_> {
    /// For a Binding Refresh Advice, the refresh interval in seconds (4 × the field).
    pub fn refresh_interval_secs(&self) -> Option<u32> {
        match self {
            MobilityOption::BindingRefreshAdvice { refresh_interval } => {
                Some(u32::from(*refresh_interval) * 4)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Strategy for any option Repr (Unknown only with unnamed types).
    pub fn any_option() -> impl Strategy<Value = MobilityOption<'static>> {
        fn leak(v: Vec<u8>) -> &'static [u8] {
            Box::leak(v.into_boxed_slice())
        }
        prop_oneof![
            Just(MobilityOption::Pad1),
            any::<u8>().prop_map(MobilityOption::PadN),
            any::<u16>().prop_map(|r| MobilityOption::BindingRefreshAdvice {
                refresh_interval: r
            }),
            any::<[u8; 16]>().prop_map(|a| MobilityOption::AlternateCareOfAddress(a.into())),
            (any::<u16>(), any::<u16>()).prop_map(|(h, c)| MobilityOption::NonceIndices {
                home_nonce_index: h,
                care_of_nonce_index: c
            }),
            proptest::collection::vec(any::<u8>(), 0..=255)
                .prop_map(|v| MobilityOption::BindingAuthorizationData(leak(v))),
            (
                any::<u32>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..=250)
            )
                .prop_map(|(vendor_id, sub_type, v)| MobilityOption::VendorSpecific(
                    VendorSpecific {
                        vendor_id,
                        sub_type,
                        data: leak(v)
                    }
                )),
            (
                any::<u8>().prop_filter("unnamed", |t| !OptionType::NAMED.contains(t)),
                proptest::collection::vec(any::<u8>(), 0..=255)
            )
                .prop_map(|(option_type, v)| MobilityOption::Unknown {
                    option_type,
                    data: leak(v)
                }),
        ]
    }

    #[test]
    fn known_bytes_each_type() {
        // Hand-built from RFC 6275 §6.2.2-§6.2.7 and RFC 5094 §3.
        let coa: Ipv6Addr = "2001:db8:2::100".parse().unwrap();
        let cases: [(&[u8], MobilityOption<'_>); 8] = [
            (&[0], MobilityOption::Pad1),
            (&[1, 3, 0, 0, 0], MobilityOption::PadN(3)),
            (
                &[2, 2, 0x01, 0x2c],
                MobilityOption::BindingRefreshAdvice {
                    refresh_interval: 300,
                },
            ),
            (
                &[
                    3, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
                ],
                MobilityOption::AlternateCareOfAddress(coa),
            ),
            (
                &[4, 4, 0, 7, 0, 9],
                MobilityOption::NonceIndices {
                    home_nonce_index: 7,
                    care_of_nonce_index: 9,
                },
            ),
            (
                &[5, 3, 0xaa, 0xbb, 0xcc],
                MobilityOption::BindingAuthorizationData(&[0xaa, 0xbb, 0xcc]),
            ),
            (
                &[19, 7, 0, 0, 0x7e, 0xd9, 2, 0x55, 0x66],
                MobilityOption::VendorSpecific(VendorSpecific {
                    vendor_id: 32473,
                    sub_type: 2,
                    data: &[0x55, 0x66],
                }),
            ),
            (
                &[42, 1, 0x99],
                MobilityOption::Unknown {
                    option_type: 42,
                    data: &[0x99],
                },
            ),
        ];
        for (bytes, repr) in cases {
            assert_eq!(MobilityOption::parse(bytes, 0), Ok((repr, bytes.len())));
            assert_eq!(repr.buffer_len(), bytes.len());
            let mut out = vec![0xFF; bytes.len() + 1];
            repr.emit(&mut out);
            assert_eq!(&out[..bytes.len()], bytes, "{repr:?}");
            assert_eq!(out[bytes.len()], 0xFF, "wrote past the option");
        }
        assert_eq!(
            MobilityOption::BindingRefreshAdvice {
                refresh_interval: 300
            }
            .refresh_interval_secs(),
            Some(1200)
        );
    }

    #[test]
    fn pad_n_content_is_ignored_and_emitted_as_zero() {
        let (o, n) = MobilityOption::parse(&[1, 2, 0xde, 0xad], 0).unwrap();
        assert_eq!((o, n), (MobilityOption::PadN(2), 4));
        let mut out = [0xFF; 4];
        o.emit(&mut out);
        assert_eq!(out, [1, 2, 0, 0]);
    }

    #[test]
    fn wrong_fixed_lengths_rejected_with_offset() {
        for (bytes, t, expected) in [
            (
                &[2u8, 3, 0, 0, 0][..],
                OptionType::BindingRefreshAdvice,
                "2",
            ),
            (&[3, 2, 0, 0][..], OptionType::AlternateCareOfAddress, "16"),
            (&[4, 2, 0, 0][..], OptionType::NonceIndices, "4"),
            (
                &[19, 4, 0, 0, 0, 1][..],
                OptionType::VendorSpecific,
                "at least 5",
            ),
        ] {
            assert_eq!(
                MobilityOption::parse(bytes, 20),
                Err(OptionError::BadLength {
                    option_type: t,
                    offset: 20,
                    length: bytes[1],
                    expected
                })
            );
        }
    }

    #[test]
    fn truncation_at_every_length() {
        let full = [
            3u8, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        ];
        for len in 0..full.len() {
            let e = MobilityOption::parse(&full[..len], 14).unwrap_err();
            let expected = match len {
                0 => LenError::fixed(Layer::MobilityOption, 14, 1, 0),
                1 => LenError::fixed(Layer::MobilityOption, 14, 2, 1),
                _ => LenError::by_field(Layer::MobilityOption, 14, 18, len, "Option Length"),
            };
            assert_eq!(e, OptionError::Len(expected), "len {len}");
        }
        assert!(MobilityOption::parse(&full, 14).is_ok());
    }

    #[test]
    fn alignment_padding() {
        let a = Alignment::new(8, 6);
        assert_eq!(a.padding_at(12), 2);
        assert_eq!(a.padding_at(14), 0);
        assert_eq!(a.padding_at(15), 7);
        assert!(a.is_aligned(22));
        assert_eq!(Alignment::new(4, 2).padding_at(32), 2);
        assert_eq!(Alignment::NONE.padding_at(13), 0);
    }

    proptest! {
        #[test]
        fn round_trip(o in any_option()) {
            let mut buf = vec![0xFF; o.buffer_len()];
            o.emit(&mut buf);
            let (parsed, n) = MobilityOption::parse(&buf, 0).unwrap();
            prop_assert_eq!(n, buf.len());
            prop_assert_eq!(parsed, o);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), off in 0usize..100) {
            if let Ok((_, n)) = MobilityOption::parse(&bytes, off) {
                prop_assert!(n <= bytes.len());
            }
        }
    }
}
