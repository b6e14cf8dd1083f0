//! The whole Mobility Header as engines use it (RFC 6275 §6.1, §9.2): message `Repr` plus
//! mobility options, parsed without allocating and emitted with padding, Header Len and
//! checksum.
//!
//! **Parse** ([`Repr::parse_checked`]) follows RFC 6275 §9.2's order: checksum
//! ([`Error::Checksum`]); MH Type (unknown types become [`Message::Unknown`] with their
//! raw message data, so the caller can answer with a Binding Error, status 2); Payload
//! Proto 59 ([`Error::PayloadProto`]); Header Len covering the type's fixed part
//! ([`Error::MessageTooShort`]); then every option is walked once ([`Error::Option`]).
//! The parsed `Repr` borrows the option octets ([`OptionList::Parsed`]); iterate them
//! with [`Repr::options`]. Reserved fields are ignored.
//!
//! **Emit** takes the message and a slice of option `Repr`s ([`OptionList::List`]),
//! lays the options out at their alignment, pads to a multiple of 8, sets Header Len,
//! zeroes Reserved and fills the checksum for the pseudo-header addresses the caller
//! picks (see [`compute_checksum`](super::compute_checksum): the home address when a
//! Home Address option or an RH2 is present). A parsed `Repr` re-emits its option
//! octets verbatim.
//!
//! Not supported: Mobility Headers over [`MAX_LEN`] octets (Header Len cannot say
//! more); options inside an unknown message type (its whole message data is opaque).

use core::net::Ipv6Addr;

use super::ba::{BindingAckRepr, BA_LEN};
use super::be::{BindingErrorRepr, BE_LEN};
use super::bu::{BindingUpdateRepr, BU_LEN};
use super::checksum::compute_checksum;
use super::error::{Error, OptionError};
use super::mh_type::MhType;
use super::option::MobilityOption;
use super::option_emit::{emit_options, options_buffer_len};
use super::option_iter::{OptionIter, Options};
use super::packet::{
    Packet, CHECKSUM_OFFSET, COMMON_HEADER_LEN, HEADER_LEN_OFFSET, IPPROTO_NONE, MAX_LEN,
};
use super::rr::{emit_brr, TestInitRepr, TestRepr, BRR_LEN, TEST_INIT_LEN, TEST_LEN};
use crate::error::{Layer, LenError};

/// The message of a Mobility Header: its type and fixed fields (RFC 6275 §6.1.2–§6.1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message<'a> {
    /// Binding Refresh Request (RFC 6275 §6.1.2).
    BindingRefreshRequest,
    /// Home Test Init (RFC 6275 §6.1.3).
    HomeTestInit(TestInitRepr),
    /// Care-of Test Init (RFC 6275 §6.1.4).
    CareOfTestInit(TestInitRepr),
    /// Home Test (RFC 6275 §6.1.5).
    HomeTest(TestRepr),
    /// Care-of Test (RFC 6275 §6.1.6).
    CareOfTest(TestRepr),
    /// Binding Update (RFC 6275 §6.1.7).
    BindingUpdate(BindingUpdateRepr),
    /// Binding Acknowledgement (RFC 6275 §6.1.8).
    BindingAck(BindingAckRepr),
    /// Binding Error (RFC 6275 §6.1.9).
    BindingError(BindingErrorRepr),
    /// A type this crate does not know, with all its message data (octet 6 to the end
    /// of the Mobility Header). `mh_type` must be above 7 for emit to round-trip.
    Unknown {
        /// The MH Type octet.
        mh_type: u8,
        /// Message data as received, options and padding included.
        data: &'a [u8],
    },
}

impl Message<'_> {
    /// The MH Type this message is sent with.
    pub fn mh_type(&self) -> MhType {
        match self {
            Message::BindingRefreshRequest => MhType::BindingRefreshRequest,
            Message::HomeTestInit(_) => MhType::HomeTestInit,
            Message::CareOfTestInit(_) => MhType::CareOfTestInit,
            Message::HomeTest(_) => MhType::HomeTest,
            Message::CareOfTest(_) => MhType::CareOfTest,
            Message::BindingUpdate(_) => MhType::BindingUpdate,
            Message::BindingAck(_) => MhType::BindingAck,
            Message::BindingError(_) => MhType::BindingError,
            Message::Unknown { mh_type, .. } => MhType::from(*mh_type),
        }
    }

    /// Octets of message data before the options (the fixed part; all of it for
    /// `Unknown`).
    pub fn fixed_len(&self) -> usize {
        match self {
            Message::Unknown { data, .. } => data.len(),
            known => known.mh_type().fixed_len().unwrap_or(0),
        }
    }

    fn emit(&self, data: &mut [u8]) {
        match self {
            Message::BindingRefreshRequest => emit_brr(chunk::<BRR_LEN>(data)),
            Message::HomeTestInit(r) | Message::CareOfTestInit(r) => {
                r.emit(chunk::<TEST_INIT_LEN>(data))
            }
            Message::HomeTest(r) | Message::CareOfTest(r) => r.emit(chunk::<TEST_LEN>(data)),
            Message::BindingUpdate(r) => r.emit(chunk::<BU_LEN>(data)),
            Message::BindingAck(r) => r.emit(chunk::<BA_LEN>(data)),
            Message::BindingError(r) => r.emit(chunk::<BE_LEN>(data)),
            Message::Unknown { data: d, .. } => data[..d.len()].copy_from_slice(d),
        }
    }
}

/// The first `N` octets of an emit buffer (emit panics on a short buffer, as documented).
fn chunk<const N: usize>(data: &mut [u8]) -> &mut [u8; N] {
    data.first_chunk_mut::<N>()
        .expect("emit buffer shorter than buffer_len()")
}

/// Mobility options of a [`Repr`]: as parsed (octets borrowed from the packet) or as a
/// list of option `Repr`s to lay out on emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionList<'a> {
    /// The option octets of a parsed Mobility Header, padding included; emitted
    /// verbatim (then padded to a multiple of 8 if they are not).
    Parsed(Options<'a>),
    /// Options to emit, each at its alignment (RFC 6275 §6.2); explicit Pad1/PadN in
    /// the list are emitted as given.
    List(&'a [MobilityOption<'a>]),
}

impl<'a> OptionList<'a> {
    /// Iterates over the options (padding included). After a successful
    /// [`Repr::parse`] the iterator yields no error.
    pub fn iter(&self) -> OptionListIter<'a> {
        match self {
            OptionList::Parsed(o) => OptionListIter::Parsed(o.iter()),
            OptionList::List(l) => OptionListIter::List(l.iter()),
        }
    }
}

/// Iterator over an [`OptionList`].
#[derive(Debug, Clone)]
pub enum OptionListIter<'a> {
    /// Over parsed octets.
    Parsed(OptionIter<'a>),
    /// Over a list of `Repr`s.
    List(core::slice::Iter<'a, MobilityOption<'a>>),
}

impl<'a> Iterator for OptionListIter<'a> {
    type Item = Result<MobilityOption<'a>, OptionError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            OptionListIter::Parsed(it) => it.next(),
            OptionListIter::List(it) => it.next().map(|o| Ok(*o)),
        }
    }
}

/// A whole Mobility Header (RFC 6275 §6.1): message and mobility options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The message (type and fixed fields).
    pub message: Message<'a>,
    /// The mobility options.
    pub options: OptionList<'a>,
}

impl<'a> Repr<'a> {
    /// A message with options to emit.
    pub const fn new(message: Message<'a>, options: &'a [MobilityOption<'a>]) -> Self {
        Repr {
            message,
            options: OptionList::List(options),
        }
    }

    /// Parses a Mobility Header without checking its checksum (for when the caller
    /// has already verified it, or for captures); see the module doc for the checks.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Self, Error> {
        packet.check_len()?;
        let mh = packet.mh_slice().ok_or_else(|| short(packet.as_ref().len()))?;
        Self::parse_mh(mh)
    }

    /// Verifies the checksum for the pseudo-header `src`, `dst` the caller picked (the
    /// home address when a Home Address option or an RH2 is present, RFC 6275 §6.1.1),
    /// then parses as [`parse`](Self::parse) does. A wrong checksum is
    /// [`Error::Checksum`] at offset 4.
    pub fn parse_checked<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<Self, Error> {
        packet.check_len()?;
        let mh = packet.mh_slice().ok_or_else(|| short(packet.as_ref().len()))?;
        if !super::checksum::verify_checksum(src, dst, mh) {
            return Err(Error::Checksum {
                offset: CHECKSUM_OFFSET,
                found: packet.checksum(),
                expected: compute_checksum(src, dst, mh),
            });
        }
        Self::parse_mh(mh)
    }

    /// `mh` is exactly the Mobility Header (length checked against Header Len).
    fn parse_mh(mh: &'a [u8]) -> Result<Self, Error> {
        let (Some(&payload_proto), Some(&raw_type), Some(data)) = (
            mh.first(),
            mh.get(2),
            mh.get(COMMON_HEADER_LEN..),
        ) else {
            return Err(short(mh.len()));
        };
        let mh_type = MhType::from(raw_type);
        let Some(fixed) = mh_type.fixed_len() else {
            return Ok(Repr {
                message: Message::Unknown {
                    mh_type: raw_type,
                    data,
                },
                options: OptionList::Parsed(Options::new(&[], mh.len())),
            });
        };
        if payload_proto != IPPROTO_NONE {
            return Err(Error::PayloadProto {
                offset: 0,
                value: payload_proto,
            });
        }
        let too_short = Error::MessageTooShort {
            mh_type,
            offset: HEADER_LEN_OFFSET,
            needed: COMMON_HEADER_LEN + fixed,
            actual: mh.len(),
        };
        let message = match mh_type {
            MhType::BindingRefreshRequest => data
                .first_chunk::<BRR_LEN>()
                .map(|_| Message::BindingRefreshRequest),
            MhType::HomeTestInit => data
                .first_chunk()
                .map(|d| Message::HomeTestInit(TestInitRepr::parse(d))),
            MhType::CareOfTestInit => data
                .first_chunk()
                .map(|d| Message::CareOfTestInit(TestInitRepr::parse(d))),
            MhType::HomeTest => data
                .first_chunk()
                .map(|d| Message::HomeTest(TestRepr::parse(d))),
            MhType::CareOfTest => data
                .first_chunk()
                .map(|d| Message::CareOfTest(TestRepr::parse(d))),
            MhType::BindingUpdate => data
                .first_chunk()
                .map(|d| Message::BindingUpdate(BindingUpdateRepr::parse(d))),
            MhType::BindingAck => data
                .first_chunk()
                .map(|d| Message::BindingAck(BindingAckRepr::parse(d))),
            MhType::BindingError => data
                .first_chunk()
                .map(|d| Message::BindingError(BindingErrorRepr::parse(d))),
            MhType::Unknown(_) => None,
        }
        .ok_or(too_short)?;
        let option_bytes = data.get(fixed..).ok_or(too_short)?;
        let options = Options::new(option_bytes, COMMON_HEADER_LEN + fixed);
        options.validate()?;
        Ok(Repr {
            message,
            options: OptionList::Parsed(options),
        })
    }

    /// The MH Type.
    pub fn mh_type(&self) -> MhType {
        self.message.mh_type()
    }

    /// Iterates over the options (padding included).
    pub fn options(&self) -> OptionListIter<'a> {
        self.options.iter()
    }

    /// Octets [`emit`](Self::emit) writes: common header, fixed part, options with
    /// alignment padding, rounded up to a multiple of 8.
    pub fn buffer_len(&self) -> usize {
        let fixed_end = COMMON_HEADER_LEN + self.message.fixed_len();
        match self.options {
            OptionList::Parsed(o) => {
                let end = fixed_end + o.bytes().len();
                end + options_buffer_len(&[], end)
            }
            OptionList::List(list) => fixed_end + options_buffer_len(list, fixed_end),
        }
    }

    /// Writes the Mobility Header into `packet` (Payload Proto 59, Header Len, MH Type,
    /// Reserved 0, message, options, padding) and fills the checksum for the
    /// pseudo-header `src`, `dst` (see [`compute_checksum`](super::compute_checksum)).
    ///
    /// # Panics
    /// When the buffer is shorter than [`buffer_len`](Self::buffer_len), when
    /// `buffer_len()` exceeds [`MAX_LEN`], or when an option's data exceeds 255 octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) {
        let len = self.buffer_len();
        assert!(len <= MAX_LEN, "Mobility Header of {len} octets exceeds {MAX_LEN}");
        packet.set_payload_proto(IPPROTO_NONE);
        packet.set_header_len((len / 8 - 1) as u8);
        packet.set_mh_type(self.message.mh_type());
        packet.clear_reserved();
        packet.set_checksum(0);
        let fixed = self.message.fixed_len();
        let data = packet.message_data_mut();
        self.message.emit(data);
        let rest = &mut data[fixed..];
        let start = COMMON_HEADER_LEN + fixed;
        match self.options {
            OptionList::Parsed(o) => {
                let n = o.bytes().len();
                rest[..n].copy_from_slice(o.bytes());
                emit_options(&[], start + n, &mut rest[n..]);
            }
            OptionList::List(list) => {
                emit_options(list, start, rest);
            }
        }
        packet.fill_checksum(src, dst);
    }

    /// [`emit`](Self::emit) into the start of `buf`; returns the octets written.
    ///
    /// # Panics
    /// As [`emit`](Self::emit).
    pub fn emit_into(&self, buf: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> usize {
        let len = self.buffer_len();
        self.emit(&mut Packet::new_unchecked(&mut buf[..len]), src, dst);
        len
    }
}

fn short(actual: usize) -> Error {
    Error::Len(LenError::fixed(
        Layer::MobilityHeader,
        0,
        COMMON_HEADER_LEN,
        actual,
    ))
}
