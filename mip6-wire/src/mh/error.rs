//! Errors of the Mobility Header layer (RFC 6275 §6.1, §9.2), of mobility options
//! (RFC 6275 §6.2) and of key-management options (RFC 5094, docs/architecture.md), one enum per
//! layer. Every variant carries an offset; truncations are [`LenError`]s.
//!
//! Offsets: [`Error`] and [`OptionError`] count from the first octet of the Mobility
//! Header; [`KeyError`] counts from the first octet (Option Type) of the Vendor-Specific
//! option. Each enum has `shifted(by)` to re-base the offset onto an enclosing buffer.

use super::mh_type::MhType;
use super::option::OptionType;
use crate::error::{Layer, LenError};

/// An error parsing a Mobility Header (RFC 6275 §6.1, §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the common header, or than Header Len says
    /// (layer [`Layer::MobilityHeader`](crate::Layer::MobilityHeader)).
    #[error(transparent)]
    Len(LenError),
    /// Payload Proto is not IPPROTO_NONE (59); RFC 6275 §9.2 says discard and send ICMP
    /// Parameter Problem code 0 pointing at `offset`.
    #[error(
        "Mobility Header at offset {offset}: Payload Proto {value}, must be 59 (RFC 6275 §9.2)"
    )]
    PayloadProto {
        /// Offset of the Payload Proto field.
        offset: usize,
        /// The value found.
        value: u8,
    },
    /// Header Len leaves less message data than the MH Type's fixed part needs
    /// (RFC 6275 §9.2: discard, ICMP Parameter Problem code 0 pointing at the Header Len
    /// field, whose offset is `offset`).
    #[error(
        "Mobility Header: {mh_type} needs {needed} octets but Header Len (at offset {offset}) gives {actual}"
    )]
    MessageTooShort {
        /// The message type whose fixed part did not fit.
        mh_type: MhType,
        /// Offset of the Header Len field.
        offset: usize,
        /// Octets of Mobility Header the type needs (common header + fixed part).
        needed: usize,
        /// Octets of Mobility Header Header Len gives.
        actual: usize,
    },
    /// The checksum does not match the pseudo-header the caller gave (RFC 6275 §6.1.1;
    /// §9.2: silently discard).
    #[error(
        "Mobility Header: checksum at offset {offset} is {found:#06x}, should be {expected:#06x}"
    )]
    Checksum {
        /// Offset of the Checksum field.
        offset: usize,
        /// The value in the packet.
        found: u16,
        /// The value the pseudo-header and contents call for.
        expected: u16,
    },
    /// A mobility option is malformed.
    #[error(transparent)]
    Option(#[from] OptionError),
}

impl From<LenError> for Error {
    fn from(e: LenError) -> Self {
        Error::Len(e)
    }
}

impl Error {
    /// The same error with every offset moved `by` octets further, for reporting relative
    /// to an enclosing buffer.
    #[must_use]
    pub const fn shifted(self, by: usize) -> Self {
        match self {
            Error::Len(e) => Error::Len(e.shifted(by)),
            Error::PayloadProto { offset, value } => Error::PayloadProto {
                offset: offset + by,
                value,
            },
            Error::MessageTooShort {
                mh_type,
                offset,
                needed,
                actual,
            } => Error::MessageTooShort {
                mh_type,
                offset: offset + by,
                needed,
                actual,
            },
            Error::Checksum {
                offset,
                found,
                expected,
            } => Error::Checksum {
                offset: offset + by,
                found,
                expected,
            },
            Error::Option(e) => Error::Option(e.shifted(by)),
        }
    }

    /// The layer at fault: the Mobility Header, or one of its options.
    pub const fn layer(&self) -> Layer {
        match self {
            Error::Len(e) => e.layer,
            Error::Option(e) => e.layer(),
            Error::PayloadProto { .. } | Error::MessageTooShort { .. } | Error::Checksum { .. } => {
                Layer::MobilityHeader
            }
        }
    }

    /// Offset (from the Mobility Header start, unless shifted) of the octet the error is
    /// about, e.g. for an ICMP Parameter Problem pointer.
    pub const fn offset(&self) -> usize {
        match self {
            Error::Len(e) => e.offset,
            Error::PayloadProto { offset, .. }
            | Error::MessageTooShort { offset, .. }
            | Error::Checksum { offset, .. } => *offset,
            Error::Option(e) => e.offset(),
        }
    }
}

/// An error parsing mobility options (RFC 6275 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// An option runs past the end of the Mobility Header: its Option Type / Option Length
    /// pair is cut (`length_field` None) or its Option Length overruns
    /// (`length_field` "Option Length"); layer
    /// [`Layer::MobilityOption`](crate::Layer::MobilityOption), `offset` is the option's
    /// first octet.
    #[error(transparent)]
    Len(LenError),
    /// An option whose length is fixed or bounded by RFC 6275 §6.2 / RFC 5094 has another.
    #[error("mobility option {option_type:?} at offset {offset}: Option Length {length}, must be {expected}")]
    BadLength {
        /// The option's type.
        option_type: OptionType,
        /// Offset of the option's first octet.
        offset: usize,
        /// The Option Length found.
        length: u8,
        /// What the RFC requires, in words ("2", "16", "4", "at least 5").
        expected: &'static str,
    },
    /// The option does not sit at its alignment (RFC 6275 §6.2); only reported by
    /// [`Options::check_alignment`](super::Options::check_alignment), parsing accepts it.
    #[error(
        "mobility option {option_type:?} at offset {offset} is not at {multiple}n+{remainder}"
    )]
    Misaligned {
        /// The option's type.
        option_type: OptionType,
        /// Offset of the option's first octet.
        offset: usize,
        /// x in the xn+y alignment.
        multiple: usize,
        /// y in the xn+y alignment.
        remainder: usize,
    },
}

impl From<LenError> for OptionError {
    fn from(e: LenError) -> Self {
        OptionError::Len(e)
    }
}

impl OptionError {
    /// The same error with its offset moved `by` octets further.
    #[must_use]
    pub const fn shifted(self, by: usize) -> Self {
        match self {
            OptionError::Len(e) => OptionError::Len(e.shifted(by)),
            OptionError::BadLength {
                option_type,
                offset,
                length,
                expected,
            } => OptionError::BadLength {
                option_type,
                offset: offset + by,
                length,
                expected,
            },
            OptionError::Misaligned {
                option_type,
                offset,
                multiple,
                remainder,
            } => OptionError::Misaligned {
                option_type,
                offset: offset + by,
                multiple,
                remainder,
            },
        }
    }

    /// The layer at fault (a mobility option).
    pub const fn layer(&self) -> Layer {
        match self {
            OptionError::Len(e) => e.layer,
            OptionError::BadLength { .. } | OptionError::Misaligned { .. } => Layer::MobilityOption,
        }
    }

    /// Offset of the offending option's first octet.
    pub const fn offset(&self) -> usize {
        match self {
            OptionError::Len(e) => e.offset,
            OptionError::BadLength { offset, .. } | OptionError::Misaligned { offset, .. } => {
                *offset
            }
        }
    }
}

/// An error reading a key-management option out of a Vendor-Specific mobility option of
/// our vendor ID (docs/architecture.md, "Key-management options"). Offsets count from the
/// Vendor-Specific option's Option Type octet (the sub-type is at 6, its body at 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The body is shorter than the sub-type needs (layer
    /// [`Layer::KeyOption`](crate::Layer::KeyOption), `length_field` "Option Length").
    #[error(transparent)]
    Len(LenError),
    /// The body is longer than the sub-type's fixed layout.
    #[error("key-management option sub-type {sub_type} at offset {offset}: body of {actual} octets, must be {expected}")]
    Overlong {
        /// The sub-type.
        sub_type: u8,
        /// Offset of the option's first octet.
        offset: usize,
        /// Body octets the sub-type's layout has.
        expected: usize,
        /// Body octets present.
        actual: usize,
    },
    /// A sub-type docs/architecture.md does not define (1–4 are defined).
    #[error("key-management option at offset {offset}: unknown sub-type {sub_type}")]
    UnknownSubType {
        /// The sub-type found.
        sub_type: u8,
        /// Offset of the sub-type octet.
        offset: usize,
    },
    /// A Key Distribution suite other than 1 (AES-128-GCM) or 2 (AES-256-GCM).
    #[error("Key Distribution option: unknown suite {value} at offset {offset}")]
    UnknownSuite {
        /// The suite octet found.
        value: u8,
        /// Offset of the suite octet.
        offset: usize,
    },
}

impl From<LenError> for KeyError {
    fn from(e: LenError) -> Self {
        KeyError::Len(e)
    }
}

impl KeyError {
    /// The layer at fault (a key-management option).
    pub const fn layer(&self) -> Layer {
        match self {
            KeyError::Len(e) => e.layer,
            _ => Layer::KeyOption,
        }
    }

    /// Offset of the octet the error is about (from the Vendor-Specific option's first
    /// octet, unless shifted).
    pub const fn offset(&self) -> usize {
        match self {
            KeyError::Len(e) => e.offset,
            KeyError::Overlong { offset, .. }
            | KeyError::UnknownSubType { offset, .. }
            | KeyError::UnknownSuite { offset, .. } => *offset,
        }
    }

    /// The same error with its offset moved `by` octets further (e.g. by the option's
    /// offset in the Mobility Header).
    #[must_use]
    pub const fn shifted(self, by: usize) -> Self {
        match self {
            KeyError::Len(e) => KeyError::Len(e.shifted(by)),
            KeyError::Overlong {
                sub_type,
                offset,
                expected,
                actual,
            } => KeyError::Overlong {
                sub_type,
                offset: offset + by,
                expected,
                actual,
            },
            KeyError::UnknownSubType { sub_type, offset } => KeyError::UnknownSubType {
                sub_type,
                offset: offset + by,
            },
            KeyError::UnknownSuite { value, offset } => KeyError::UnknownSuite {
                value,
                offset: offset + by,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Layer;

    #[test]
    fn messages_name_layer_offset_and_shift() {
        let e = Error::MessageTooShort {
            mh_type: MhType::BindingUpdate,
            offset: 1,
            needed: 12,
            actual: 8,
        };
        assert_eq!(
            e.to_string(),
            "Mobility Header: BU (MH type 5) needs 12 octets but Header Len (at offset 1) gives 8"
        );
        assert_eq!(e.shifted(48).offset(), 49);
        let o = OptionError::Len(LenError::by_field(
            Layer::MobilityOption,
            14,
            18,
            10,
            "Option Length",
        ));
        assert_eq!(Error::from(o).shifted(8).offset(), 22);
        let c = Error::Checksum {
            offset: 4,
            found: 0x1234,
            expected: 0xabcd,
        };
        assert_eq!(
            c.to_string(),
            "Mobility Header: checksum at offset 4 is 0x1234, should be 0xabcd"
        );
        let k = KeyError::UnknownSuite {
            value: 9,
            offset: 19,
        };
        assert_eq!(
            k.shifted(14),
            KeyError::UnknownSuite {
                value: 9,
                offset: 33
            }
        );
    }
}
