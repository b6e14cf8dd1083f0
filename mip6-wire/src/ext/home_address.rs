//! The Destination Options header (RFC 8200 §4.6) and the Home Address
//! destination option it carries (RFC 6275 §6.3).
//!
//! [`Header`] is a zero-copy view of one Destination Options header; once
//! [`Header::check_len`] has succeeded no accessor panics (the buffer holds
//! the `(Hdr Ext Len + 1) * 8` octets the header announces). [`Repr`] is the
//! parsed header: its next header and the home address, if a Home Address
//! option is present. [`HomeAddressOption`] is the option alone.
//!
//! Parsing walks every option ([`super::options`]): Pad1 and PadN are
//! skipped, the Home Address option must have `Option Length` 16 and may
//! appear once, and any other option is unrecognized: skipped when its action
//! bits are `00`, otherwise reported as [`Error::UnrecognizedOption`] with the
//! action, so the caller can send the ICMPv6 Parameter Problem RFC 8200 §4.2
//! asks for (code 2, pointer = the error's offset, shifted to the packet).
//!
//! Emitting writes either the 24-octet header with the Home Address option at
//! its 8n+6 alignment (2-octet header, PadN of 4 octets, 18-octet option) or,
//! without a home address, an 8-octet header of padding.
//!
//! Not supported: re-emitting unrecognized options; enforcing the 8n+6
//! alignment on received options (RFC 6275 §6.3 states it for senders; we
//! accept a Home Address option at any offset); checking that the home
//! address is unicast (RFC 6275 §9.3.1 leaves that to the receiver's
//! processing, i.e. the engine).

use core::net::Ipv6Addr;

use super::ipv6::{addr_at, NextHeader};
use super::options::{OptionType, Options, RawOption, UnrecognizedAction};
use crate::error::{Layer, LenError};

/// Field offsets of the Destination Options header, RFC 8200 §4.6:
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header  |  Hdr Ext Len  |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                                                               |
/// .                            Options                            .
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// and of the Home Address option inside it, RFC 6275 §6.3:
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |  Option Type  | Option Length |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +                          Home Address                         +
/// |                                                               |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
mod field {
    use core::ops::{Range, RangeFrom};
    pub const NEXT_HEADER: usize = 0;
    pub const HDR_EXT_LEN: usize = 1;
    pub const OPTIONS: RangeFrom<usize> = 2..;

    /// Home Address option, relative to the option's first octet.
    pub const OPT_TYPE: usize = 0;
    pub const OPT_LEN: usize = 1;
    pub const OPT_HOME_ADDRESS: Range<usize> = 2..18;
}

/// Length of the fixed part of the header (Next Header, Hdr Ext Len).
pub const FIXED_LEN: usize = 2;

/// Offset at which [`Repr::emit`] places the Home Address option: 6, which
/// is the 8n+6 alignment RFC 6275 §6.3 requires.
pub const HOME_ADDRESS_OPTION_OFFSET: usize = 6;

/// Errors of the Destination Options header and of the Home Address option
/// (layers [`Layer::DestinationOptions`] and [`Layer::HomeAddressOption`]).
///
/// Offsets are relative to the buffer the parser was given (the header's
/// first octet is 0), and name the offending field's octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The header, or one option in it, is cut short.
    #[error(transparent)]
    Len(#[from] LenError),
    /// A Home Address option whose Option Length is not 16 (RFC 6275 §6.3).
    /// `offset` points at the Option Length octet.
    #[error("Home Address option: Option Length {length} at offset {offset}, must be 16")]
    HomeAddressLength {
        /// Offset of the Option Length octet.
        offset: usize,
        /// The length found.
        length: u8,
    },
    /// A second Home Address option (RFC 6275 §6.3: at most one per packet).
    #[error("second Home Address option at offset {offset} (first at {first})")]
    DuplicateHomeAddress {
        /// Offset of the second option's type octet.
        offset: usize,
        /// Offset of the first option's type octet.
        first: usize,
    },
    /// An option we do not recognize whose action bits say not to skip it
    /// (RFC 8200 §4.2). `offset` is the option type octet, the pointer of the
    /// ICMPv6 Parameter Problem (code 2) the action may ask for.
    #[error("Destination Options header: unrecognized option {option_type} at offset {offset}, action {action:?}")]
    UnrecognizedOption {
        /// Offset of the Option Type octet.
        offset: usize,
        /// The option type.
        option_type: OptionType,
        /// What RFC 8200 §4.2 says to do about it.
        action: UnrecognizedAction,
    },
}

impl Error {
    /// The layer the error belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            Error::Len(e) => e.layer,
            Error::HomeAddressLength { .. } | Error::DuplicateHomeAddress { .. } => {
                Layer::HomeAddressOption
            }
            Error::UnrecognizedOption { .. } => Layer::DestinationOptions,
        }
    }

    /// Offset of the offending octet in the parsed buffer.
    pub fn offset(&self) -> usize {
        match self {
            Error::Len(e) => e.offset,
            Error::HomeAddressLength { offset, .. }
            | Error::DuplicateHomeAddress { offset, .. }
            | Error::UnrecognizedOption { offset, .. } => *offset,
        }
    }

    /// The same error, `by` octets further into an enclosing buffer.
    #[must_use]
    pub fn shifted(self, by: usize) -> Self {
        match self {
            Error::Len(e) => Error::Len(e.shifted(by)),
            Error::HomeAddressLength { offset, length } => Error::HomeAddressLength {
                offset: offset + by,
                length,
            },
            Error::DuplicateHomeAddress { offset, first } => Error::DuplicateHomeAddress {
                offset: offset + by,
                first: first + by,
            },
            Error::UnrecognizedOption {
                offset,
                option_type,
                action,
            } => Error::UnrecognizedOption {
                offset: offset + by,
                option_type,
                action,
            },
        }
    }
}

/// Zero-copy view of a Destination Options header (RFC 8200 §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps a buffer without checking it; accessors may panic on a short
    /// buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks that the buffer holds the fixed part and the `(Hdr Ext Len + 1)
    /// * 8` octets it announces. After this, no accessor panics.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN {
            return Err(LenError::fixed(Layer::DestinationOptions, 0, FIXED_LEN, len).into());
        }
        let needed = self.header_len();
        if len < needed {
            return Err(LenError::by_field(
                Layer::DestinationOptions,
                0,
                needed,
                len,
                "Hdr Ext Len",
            )
            .into());
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Next Header.
    pub fn next_header(&self) -> NextHeader {
        NextHeader(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// Hdr Ext Len: length in 8-octet units, not counting the first 8.
    pub fn hdr_ext_len(&self) -> u8 {
        self.buffer.as_ref()[field::HDR_EXT_LEN]
    }

    /// Length of the whole header in octets: `(Hdr Ext Len + 1) * 8`.
    pub fn header_len(&self) -> usize {
        (usize::from(self.hdr_ext_len()) + 1) * 8
    }

    /// The options area: the header after its first two octets.
    pub fn options_area(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS.start..self.header_len()]
    }

    /// Iterator over the options, offsets relative to the header start.
    pub fn options(&self) -> Options<'_> {
        Options::new(
            self.options_area(),
            field::OPTIONS.start,
            Layer::DestinationOptions,
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Sets Next Header.
    pub fn set_next_header(&mut self, nh: NextHeader) {
        self.buffer.as_mut()[field::NEXT_HEADER] = nh.0;
    }

    /// Sets Hdr Ext Len.
    pub fn set_hdr_ext_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HDR_EXT_LEN] = v;
    }

    /// The options area, mutable.
    pub fn options_area_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS.start..end]
    }
}

/// The Home Address destination option (RFC 6275 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HomeAddressOption {
    /// The mobile node's home address.
    pub home_address: Ipv6Addr,
}

impl HomeAddressOption {
    /// Octets of the option on the wire: type, length, 16-octet address.
    pub const LEN: usize = 18;
    /// Value of its Option Length field.
    pub const DATA_LEN: u8 = 16;

    /// Interprets an option the walker found. `option.option_type` must be
    /// [`OptionType::HOME_ADDRESS`] (other types are the caller's to handle;
    /// they get [`Error::UnrecognizedOption`] here).
    pub fn parse(option: &RawOption<'_>) -> Result<Self, Error> {
        if option.option_type != OptionType::HOME_ADDRESS {
            return Err(Error::UnrecognizedOption {
                offset: option.offset,
                option_type: option.option_type,
                action: option.option_type.action(),
            });
        }
        if option.data.len() != usize::from(Self::DATA_LEN) {
            return Err(Error::HomeAddressLength {
                offset: option.offset + field::OPT_LEN,
                // The walker took the length from one octet, so it fits.
                length: u8::try_from(option.data.len()).unwrap_or(u8::MAX),
            });
        }
        Ok(HomeAddressOption {
            home_address: addr_at(option.data, 0),
        })
    }

    /// Writes the 18-octet option at the start of `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than [`Self::LEN`] (a caller bug, not input).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::OPT_TYPE] = OptionType::HOME_ADDRESS.0;
        buf[field::OPT_LEN] = Self::DATA_LEN;
        buf[field::OPT_HOME_ADDRESS].copy_from_slice(&self.home_address.octets());
    }
}

/// A parsed Destination Options header (RFC 8200 §4.6): the next header and
/// the Home Address option's address, if present (RFC 6275 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Next Header after this one.
    pub next_header: NextHeader,
    /// Address of the Home Address option, if the header carries one.
    pub home_address: Option<Ipv6Addr>,
}

impl Repr {
    /// Parses a header: walks every option, see the module doc for what is
    /// accepted. Offsets in errors are relative to the header start.
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<Repr, Error> {
        h.check_len()?;
        let mut home: Option<(usize, Ipv6Addr)> = None;
        for opt in h.options() {
            let opt = opt?;
            match opt.option_type {
                OptionType::PAD1 | OptionType::PADN => {}
                OptionType::HOME_ADDRESS => {
                    if let Some((first, _)) = home {
                        return Err(Error::DuplicateHomeAddress {
                            offset: opt.offset,
                            first,
                        });
                    }
                    let hoa = HomeAddressOption::parse(&opt)?;
                    home = Some((opt.offset, hoa.home_address));
                }
                other => match other.action() {
                    UnrecognizedAction::Skip => {}
                    action => {
                        return Err(Error::UnrecognizedOption {
                            offset: opt.offset,
                            option_type: other,
                            action,
                        })
                    }
                },
            }
        }
        Ok(Repr {
            next_header: h.next_header(),
            home_address: home.map(|(_, a)| a),
        })
    }

    /// Octets [`emit`](Repr::emit) writes: 24 with a home address, 8 without.
    pub const fn buffer_len(&self) -> usize {
        match self.home_address {
            Some(_) => 24,
            None => 8,
        }
    }

    /// Writes the header into the first [`buffer_len`](Repr::buffer_len)
    /// octets of `h`'s buffer: with a home address `Next Header, 2, PadN(4),
    /// HoA option` so the option starts at offset 6 (8n+6); without, `Next
    /// Header, 0, PadN(4)`. Padding octets are zero.
    ///
    /// # Panics
    /// If the buffer is shorter than [`buffer_len`](Repr::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut Header<T>) {
        let len = self.buffer_len();
        let hdr_ext_len = u8::try_from(len / 8 - 1).unwrap_or(0);
        h.set_next_header(self.next_header);
        h.set_hdr_ext_len(hdr_ext_len);
        let area = h.options_area_mut();
        // PadN filling up to the option (or the whole area): type, length, zeros.
        let pad_total = match self.home_address {
            Some(_) => HOME_ADDRESS_OPTION_OFFSET - FIXED_LEN,
            None => len - FIXED_LEN,
        };
        area[0] = OptionType::PADN.0;
        area[1] = u8::try_from(pad_total - 2).unwrap_or(0);
        area[2..pad_total].fill(0);
        if let Some(home_address) = self.home_address {
            HomeAddressOption { home_address }.emit(&mut area[pad_total..]);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ext::ipv6::tests::arb_addr;
    use proptest::prelude::*;

    /// The Destination Options header of a BU, hand-built from RFC 8200 §4.6
    /// and RFC 6275 §6.3: next header 50 (ESP), Hdr Ext Len 2, PadN with 2
    /// data octets (RFC 8200 §4.2), Home Address option 0xC9 / 16 with
    /// 2001:db8:1::100, starting at offset 6 (8n+6).
    pub(crate) const BU_DEST_OPTS: [u8; 24] = [
        50, 2, // next header ESP, hdr ext len 2 (24 octets)
        1, 2, 0, 0, // PadN, 2 data octets
        0xC9, 16, // Home Address option, length 16
        0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
    ];

    fn hoa() -> Ipv6Addr {
        "2001:db8:1::100".parse().unwrap()
    }

    fn repr() -> Repr {
        Repr {
            next_header: NextHeader::ESP,
            home_address: Some(hoa()),
        }
    }

    #[test]
    fn parse_bu_dest_opts() {
        let h = Header::new_checked(&BU_DEST_OPTS[..]).unwrap();
        assert_eq!(h.header_len(), 24);
        assert_eq!(Repr::parse(&h).unwrap(), repr());
    }

    #[test]
    fn emit_over_ff() {
        let mut buf = [0xFFu8; 26];
        let r = repr();
        assert_eq!(r.buffer_len(), 24);
        r.emit(&mut Header::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[..24], &BU_DEST_OPTS[..]);
        assert_eq!(&buf[24..], &[0xFF, 0xFF]);
        assert_eq!(buf[HOME_ADDRESS_OPTION_OFFSET], 0xC9);
        assert_eq!(HOME_ADDRESS_OPTION_OFFSET % 8, 6);
    }

    #[test]
    fn emit_without_hoa_is_padding() {
        let mut buf = [0xFFu8; 8];
        let r = Repr {
            next_header: NextHeader::MOBILITY,
            home_address: None,
        };
        r.emit(&mut Header::new_unchecked(&mut buf[..]));
        assert_eq!(buf, [135, 0, 1, 4, 0, 0, 0, 0]);
        assert_eq!(
            Repr::parse(&Header::new_checked(&buf[..]).unwrap()).unwrap(),
            r
        );
    }

    #[test]
    fn every_truncation() {
        for len in 0..24 {
            let e = Header::new_checked(&BU_DEST_OPTS[..len]).unwrap_err();
            let expected = if len < 2 {
                LenError::fixed(Layer::DestinationOptions, 0, 2, len)
            } else {
                LenError::by_field(Layer::DestinationOptions, 0, 24, len, "Hdr Ext Len")
            };
            assert_eq!(e, Error::Len(expected), "len {len}");
            // Repr::parse on an unchecked view reports the same.
            assert_eq!(
                Repr::parse(&Header::new_unchecked(&BU_DEST_OPTS[..len])).unwrap_err(),
                Error::Len(expected)
            );
        }
    }

    /// A HoA option whose length overruns the header is a length error.
    #[test]
    fn option_overrunning_header() {
        let mut b = BU_DEST_OPTS;
        b[7] = 17; // one more than fits
        assert_eq!(
            Repr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap_err(),
            Error::Len(LenError::by_field(
                Layer::DestinationOptions,
                6,
                19,
                18,
                "Opt Data Len"
            ))
        );
    }

    /// HoA option with Option Length 8: `.., 0xC9, 8, 8 octets, PadN(6)`.
    #[test]
    fn hoa_length_8_rejected() {
        let b: [u8; 24] = [
            50, 2, 1, 2, 0, 0, 0xC9, 8, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 1, 6, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(
            Repr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap_err(),
            Error::HomeAddressLength {
                offset: 7,
                length: 8
            }
        );
    }

    /// HoA option with Option Length 18 (two extra octets, header of 32).
    #[test]
    fn hoa_length_18_rejected() {
        let mut b = [0u8; 32];
        b[..2].copy_from_slice(&[50, 3]);
        b[2..6].copy_from_slice(&[1, 2, 0, 0]);
        b[6] = 0xC9;
        b[7] = 18;
        b[8..24].copy_from_slice(&hoa().octets());
        b[26..28].copy_from_slice(&[1, 4]); // PadN over the rest
        let e = Repr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap_err();
        assert_eq!(
            e,
            Error::HomeAddressLength {
                offset: 7,
                length: 18
            }
        );
        assert_eq!(e.layer(), Layer::HomeAddressOption);
        assert_eq!(e.shifted(40).offset(), 47);
    }

    /// Two HoA options, each at 8n+6: header of 48 octets.
    #[test]
    fn two_hoa_rejected() {
        let mut b = [0u8; 48];
        b[..2].copy_from_slice(&[50, 5]);
        b[2..6].copy_from_slice(&[1, 2, 0, 0]);
        HomeAddressOption {
            home_address: hoa(),
        }
        .emit(&mut b[6..24]);
        b[24..30].copy_from_slice(&[1, 4, 0, 0, 0, 0]);
        HomeAddressOption {
            home_address: hoa(),
        }
        .emit(&mut b[30..48]);
        assert_eq!(
            Repr::parse(&Header::new_checked(&b[..]).unwrap()).unwrap_err(),
            Error::DuplicateHomeAddress {
                offset: 30,
                first: 6
            }
        );
    }

    /// Unknown options: skipped with action 00, reported otherwise.
    #[test]
    fn unknown_option_actions() {
        for (ty, action) in [
            (0x1E, None),
            (0x5E, Some(UnrecognizedAction::Discard)),
            (0x9E, Some(UnrecognizedAction::DiscardSendIcmp)),
            (
                0xDE,
                Some(UnrecognizedAction::DiscardSendIcmpUnlessMulticast),
            ),
        ] {
            // next header 59, hdr ext len 0, unknown option with 2 data octets, Pad1, Pad1
            let b = [59, 0, ty, 2, 0xAA, 0xBB, 0, 0];
            let got = Repr::parse(&Header::new_checked(&b[..]).unwrap());
            match action {
                None => assert_eq!(
                    got.unwrap(),
                    Repr {
                        next_header: NextHeader::NO_NEXT_HEADER,
                        home_address: None
                    }
                ),
                Some(action) => assert_eq!(
                    got.unwrap_err(),
                    Error::UnrecognizedOption {
                        offset: 2,
                        option_type: OptionType(ty),
                        action
                    }
                ),
            }
        }
    }

    #[test]
    fn hoa_option_alone() {
        let opt = RawOption {
            offset: 6,
            option_type: OptionType::HOME_ADDRESS,
            data: &BU_DEST_OPTS[8..24],
        };
        assert_eq!(HomeAddressOption::parse(&opt).unwrap().home_address, hoa());
        let mut buf = [0xFF; 18];
        HomeAddressOption {
            home_address: hoa(),
        }
        .emit(&mut buf);
        assert_eq!(&buf[..], &BU_DEST_OPTS[6..24]);
    }

    prop_compose! {
        pub(crate) fn arb_repr()(nh in any::<u8>(), hoa in proptest::option::of(arb_addr())) -> Repr {
            Repr { next_header: NextHeader(nh), home_address: hoa }
        }
    }

    proptest! {
        #[test]
        fn round_trip(r in arb_repr()) {
            let mut buf = vec![0xFFu8; r.buffer_len()];
            r.emit(&mut Header::new_unchecked(&mut buf[..]));
            let h = Header::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(h.header_len(), r.buffer_len());
            prop_assert_eq!(Repr::parse(&h).unwrap(), r);
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(h) = Header::new_checked(&b[..]) {
                let _ = Repr::parse(&h);
            }
        }
    }
}
