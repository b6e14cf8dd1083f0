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
        let mh = packet
            .mh_slice()
            .ok_or_else(|| short(packet.as_ref().len()))?;
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
        let mh = packet
            .mh_slice()
            .ok_or_else(|| short(packet.as_ref().len()))?;
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
        let (Some(&payload_proto), Some(&raw_type), Some(data)) =
            (mh.first(), mh.get(2), mh.get(COMMON_HEADER_LEN..))
        else {
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
        assert!(
            len <= MAX_LEN,
            "Mobility Header of {len} octets exceeds {MAX_LEN}"
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mh::key::tests::{any_key_option, key_distribution};
    use crate::mh::option::tests::any_option;
    use crate::mh::{
        BaFlags, BaStatus, BeStatus, BuFlags, KeyOption, SequenceNumber, DEFAULT_VENDOR_ID,
    };
    use proptest::prelude::*;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }
    fn hoa() -> Ipv6Addr {
        addr("2001:db8:1::100")
    }
    fn ha() -> Ipv6Addr {
        addr("2001:db8:1::1")
    }

    /// BU from the MN (HoA 2001:db8:1::100) to the HA (2001:db8:1::1), hand-built from
    /// RFC 6275 §6.1.1, §6.1.7, §6.2.5 and RFC 5094 §3 / docs/architecture.md; checksum computed
    /// with an independent Python RFC 1071 sum over the pseudo-header (src HoA, dst HA).
    /// seq 7, A|H|K, lifetime 150 (600 s), Alternate CoA 2001:db8:2::100 at 14 (8n+6),
    /// Key Initialization Request (vendor 32473, timestamp 0xE98A3B0080000000) at 34
    /// (4n+2), PadN(5) to 56; Header Len 6.
    const BU: [u8; 56] = [
        0x3b, 0x06, 0x05, 0x00, 0x3a, 0xd0, 0x00, 0x07, // 0
        0xd0, 0x00, 0x00, 0x96, 0x01, 0x00, 0x03, 0x10, // 8
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00, // 16
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // 24
        0x01, 0x00, 0x13, 0x0d, 0x00, 0x00, 0x7e, 0xd9, // 32
        0x01, 0xe9, 0x8a, 0x3b, 0x00, 0x80, 0x00, 0x00, // 40
        0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, // 48
    ];

    /// BA from the HA to the MN (pseudo-header src HA, dst HoA: the final destination
    /// of the RH2), same sources as [`BU`]: status 0, no flags, seq 7, lifetime 150,
    /// Key Distribution (generation 5, SPIs 0x1005 / 0x2005, AES-256-GCM, 3600 s,
    /// secret 00..1f) at 14 (4n+2), PadN(5) to 80; Header Len 9.
    const BA: [u8; 80] = [
        0x3b, 0x09, 0x06, 0x00, 0xa4, 0xc8, 0x00, 0x00, // 0
        0x00, 0x07, 0x00, 0x96, 0x01, 0x00, 0x13, 0x39, // 8
        0x00, 0x00, 0x7e, 0xd9, 0x04, 0x00, 0x00, 0x00, // 16
        0x05, 0x00, 0x00, 0x10, 0x05, 0x00, 0x00, 0x20, // 24
        0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, // 32
        0x10, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // 40
        0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, // 48
        0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, // 56
        0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, // 64
        0x1f, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, // 72
    ];

    fn bu_message() -> Message<'static> {
        Message::BindingUpdate(BindingUpdateRepr {
            sequence: SequenceNumber(7),
            flags: BuFlags::A | BuFlags::H | BuFlags::K,
            lifetime: 150,
        })
    }

    fn emit_vec(repr: &Repr<'_>, src: &Ipv6Addr, dst: &Ipv6Addr) -> Vec<u8> {
        let mut buf = vec![0xFF; repr.buffer_len() + 3];
        let n = repr.emit_into(&mut buf, src, dst);
        assert_eq!(n, repr.buffer_len());
        assert_eq!(&buf[n..], &[0xFF; 3], "emit wrote past buffer_len()");
        buf.truncate(n);
        buf
    }

    #[test]
    fn bu_with_alternate_coa_and_key_init_bytes() {
        let key = KeyOption::KeyInitialization {
            timestamp: 0xE98A_3B00_8000_0000,
        };
        let body = key.encode();
        let opts = [
            MobilityOption::AlternateCareOfAddress(addr("2001:db8:2::100")),
            body.to_option(DEFAULT_VENDOR_ID),
        ];
        let repr = Repr::new(bu_message(), &opts);
        assert_eq!(repr.buffer_len(), 56);
        assert_eq!(emit_vec(&repr, &hoa(), &ha()), BU);

        let parsed = Repr::parse_checked(&Packet::new_unchecked(&BU[..]), &hoa(), &ha()).unwrap();
        assert_eq!(parsed.message, bu_message());
        let Message::BindingUpdate(bu) = parsed.message else {
            unreachable!()
        };
        assert_eq!(bu.lifetime_secs(), 600);
        let real: Vec<_> = parsed
            .options()
            .map(Result::unwrap)
            .filter(|o| !matches!(o, MobilityOption::Pad1 | MobilityOption::PadN(_)))
            .collect();
        assert_eq!(real, opts);
        assert_eq!(
            KeyOption::from_option(&real[1], DEFAULT_VENDOR_ID),
            Ok(Some(key))
        );
        // The parsed Repr re-emits the same octets.
        assert_eq!(emit_vec(&parsed, &hoa(), &ha()), BU);
    }

    #[test]
    fn ba_with_key_distribution_bytes() {
        let body = key_distribution().encode();
        let opts = [body.to_option(DEFAULT_VENDOR_ID)];
        let message = Message::BindingAck(BindingAckRepr {
            status: BaStatus::Accepted,
            flags: BaFlags::empty(),
            sequence: SequenceNumber(7),
            lifetime: 150,
        });
        let repr = Repr::new(message, &opts);
        assert_eq!(emit_vec(&repr, &ha(), &hoa()), BA);
        let parsed = Repr::parse_checked(&Packet::new_unchecked(&BA[..]), &ha(), &hoa()).unwrap();
        assert_eq!(parsed.message, message);
        let keys: Vec<_> = parsed
            .options()
            .filter_map(|o| KeyOption::from_option(&o.unwrap(), DEFAULT_VENDOR_ID).unwrap())
            .collect();
        assert_eq!(keys, vec![key_distribution()]);
    }

    /// One message of each type 0..=7 without options, hand-built from RFC 6275
    /// §6.1.2-§6.1.9 with Header Len from the fixed part rounded up to 8 and the padding
    /// the RFC describes; checksum field left to the test (filled for src HoA, dst HA).
    fn every_type() -> Vec<(Vec<u8>, Message<'static>)> {
        let cookie = [1, 2, 3, 4, 5, 6, 7, 8];
        let token = [9, 10, 11, 12, 13, 14, 15, 16];
        let mut v = Vec::new();
        // 0 BRR: Reserved(2), 8 octets, no padding.
        v.push((
            vec![59, 0, 0, 0, 0, 0, 0, 0],
            Message::BindingRefreshRequest,
        ));
        // 1 HoTI / 2 CoTI: Reserved(2) cookie(8) = 16 octets.
        for (t, m) in [
            (1u8, Message::HomeTestInit(TestInitRepr { cookie })),
            (2, Message::CareOfTestInit(TestInitRepr { cookie })),
        ] {
            let mut b = vec![59, 1, t, 0, 0, 0, 0, 0];
            b.extend_from_slice(&cookie);
            v.push((b, m));
        }
        // 3 HoT / 4 CoT: index(2) cookie(8) token(8) = 24 octets.
        for (t, m) in [
            (
                3u8,
                Message::HomeTest(TestRepr {
                    nonce_index: 0x0102,
                    cookie,
                    keygen_token: token,
                }),
            ),
            (
                4,
                Message::CareOfTest(TestRepr {
                    nonce_index: 0x0102,
                    cookie,
                    keygen_token: token,
                }),
            ),
        ] {
            let mut b = vec![59, 2, t, 0, 0, 0, 0x01, 0x02];
            b.extend_from_slice(&cookie);
            b.extend_from_slice(&token);
            v.push((b, m));
        }
        // 5 BU: 12 octets + PadN(2) = 16 (RFC 6275 §6.1.7: "4 octets of padding").
        v.push((
            vec![
                59, 1, 5, 0, 0, 0, 0xFF, 0xFE, 0x80, 0x00, 0x00, 0x00, 1, 2, 0, 0,
            ],
            Message::BindingUpdate(BindingUpdateRepr {
                sequence: SequenceNumber(0xFFFE),
                flags: BuFlags::A,
                lifetime: 0,
            }),
        ));
        // 6 BA: status 135, K, seq 9, lifetime 0 + PadN(2) = 16.
        v.push((
            vec![59, 1, 6, 0, 0, 0, 135, 0x80, 0, 9, 0, 0, 1, 2, 0, 0],
            Message::BindingAck(BindingAckRepr {
                status: BaStatus::SequenceNumberOutOfWindow,
                flags: BaFlags::K,
                sequence: SequenceNumber(9),
                lifetime: 0,
            }),
        ));
        // 7 BE: status 1, reserved, HoA = 24 octets.
        let mut be = vec![59, 2, 7, 0, 0, 0, 1, 0];
        be.extend_from_slice(&hoa().octets());
        v.push((
            be,
            Message::BindingError(BindingErrorRepr {
                status: BeStatus::UnknownBindingForHomeAddress,
                home_address: hoa(),
            }),
        ));
        for (b, _) in &mut v {
            let c = compute_checksum(&hoa(), &ha(), b);
            b[4..6].copy_from_slice(&c.to_be_bytes());
        }
        v
    }

    #[test]
    fn each_type_0_to_7_parses_and_emits() {
        for (bytes, message) in every_type() {
            let parsed =
                Repr::parse_checked(&Packet::new_unchecked(&bytes[..]), &hoa(), &ha()).unwrap();
            assert_eq!(parsed.message, message);
            assert_eq!(parsed.mh_type(), message.mh_type());
            let emitted = emit_vec(&Repr::new(message, &[]), &hoa(), &ha());
            assert_eq!(emitted, bytes, "{:?}", message.mh_type());
        }
    }

    #[test]
    fn truncations_at_every_length() {
        for (bytes, message) in every_type()
            .into_iter()
            .chain([(BU.to_vec(), bu_message())])
        {
            for len in 0..bytes.len() {
                let e = Repr::parse(&Packet::new_unchecked(&bytes[..len])).unwrap_err();
                let expected = if len < 6 {
                    LenError::fixed(Layer::MobilityHeader, 0, 6, len)
                } else {
                    LenError::by_field(Layer::MobilityHeader, 0, bytes.len(), len, "Header Len")
                };
                assert_eq!(e, Error::Len(expected), "{:?} at {len}", message.mh_type());
            }
        }
    }

    #[test]
    fn header_len_too_short_for_type_names_type_and_offset() {
        // A BU with Header Len 0: 8 octets, the BU needs 12 (RFC 6275 §9.2).
        let mut b = [59, 0, 5, 0, 0, 0, 0, 1];
        let c = compute_checksum(&hoa(), &ha(), &b);
        b[4..6].copy_from_slice(&c.to_be_bytes());
        let e = Repr::parse_checked(&Packet::new_unchecked(&b[..]), &hoa(), &ha()).unwrap_err();
        assert_eq!(
            e,
            Error::MessageTooShort {
                mh_type: MhType::BindingUpdate,
                offset: 1,
                needed: 12,
                actual: 8
            }
        );
        assert!(e.to_string().contains("BU"));
        // A BE with Header Len 1 (16 octets) needs 24.
        let mut be = [0u8; 16];
        be[..3].copy_from_slice(&[59, 1, 7]);
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&be[..])),
            Err(Error::MessageTooShort {
                mh_type: MhType::BindingError,
                needed: 24,
                ..
            })
        ));
    }

    #[test]
    fn wrong_checksum_is_rejected_with_offset() {
        let mut b = BU;
        b[9] ^= 0x10; // flip a flag bit
        let e = Repr::parse_checked(&Packet::new_unchecked(&b[..]), &hoa(), &ha()).unwrap_err();
        let Error::Checksum {
            offset,
            found,
            expected,
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!((offset, found), (4, 0x3ad0));
        b[4..6].copy_from_slice(&expected.to_be_bytes());
        assert!(Repr::parse_checked(&Packet::new_unchecked(&b[..]), &hoa(), &ha()).is_ok());
        // The CoA as pseudo-header source is wrong (RFC 6275 §6.1.1).
        assert!(matches!(
            Repr::parse_checked(
                &Packet::new_unchecked(&BU[..]),
                &addr("2001:db8:2::100"),
                &ha()
            ),
            Err(Error::Checksum { .. })
        ));
        // Unchecked parse does not look at it.
        assert!(Repr::parse(&Packet::new_unchecked(&b[..])).is_ok());
    }

    #[test]
    fn overrunning_and_overlong_options_rejected_with_offset() {
        // Alternate CoA at 14 claims 17 octets; the MH has room for them, so this is a
        // wrong fixed length (RFC 6275 §6.2.5: 16) reported at offset 14.
        let mut b = BU;
        b[15] = 17;
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::Option(OptionError::BadLength {
                offset: 14,
                length: 17,
                ..
            }))
        ));
        // The final PadN at 49 claims 7 octets: 49 + 9 > 56, overruns the header.
        let mut b = BU;
        b[50] = 7;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::Option(OptionError::Len(LenError::by_field(
                Layer::MobilityOption,
                49,
                9,
                7,
                "Option Length"
            ))))
        );
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..]))
                .unwrap_err()
                .offset(),
            49
        );
    }

    #[test]
    fn payload_proto_other_than_59_rejected() {
        let mut b = BU;
        b[0] = 6;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::PayloadProto {
                offset: 0,
                value: 6
            })
        );
    }

    #[test]
    fn unknown_type_round_trips_raw() {
        let mut b = [59, 1, 42, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let c = compute_checksum(&hoa(), &ha(), &b);
        b[4..6].copy_from_slice(&c.to_be_bytes());
        let r = Repr::parse_checked(&Packet::new_unchecked(&b[..]), &hoa(), &ha()).unwrap();
        assert_eq!(
            r.message,
            Message::Unknown {
                mh_type: 42,
                data: &b[6..]
            }
        );
        assert_eq!(r.mh_type(), MhType::Unknown(42));
        assert_eq!(r.options().count(), 0);
        assert_eq!(emit_vec(&r, &hoa(), &ha()), b);
    }

    #[test]
    fn emit_clears_reserved_in_prefilled_buffer() {
        // Every octet of a BRR, a HoTI and a BE the RFC marks Reserved comes out zero.
        for (bytes, message) in every_type() {
            let repr = Repr::new(message, &[]);
            let mut buf = vec![0xFF; repr.buffer_len()];
            repr.emit_into(&mut buf, &hoa(), &ha());
            assert_eq!(buf[3], 0, "MH Reserved");
            assert_eq!(buf, bytes);
        }
    }

    fn any_message() -> impl Strategy<Value = Message<'static>> {
        prop_oneof![
            Just(Message::BindingRefreshRequest),
            any::<[u8; 8]>().prop_map(|cookie| Message::HomeTestInit(TestInitRepr { cookie })),
            any::<[u8; 8]>().prop_map(|cookie| Message::CareOfTestInit(TestInitRepr { cookie })),
            (any::<u16>(), any::<[u8; 8]>(), any::<[u8; 8]>()).prop_map(|(i, c, t)| {
                Message::HomeTest(TestRepr {
                    nonce_index: i,
                    cookie: c,
                    keygen_token: t,
                })
            }),
            (any::<u16>(), any::<[u8; 8]>(), any::<[u8; 8]>()).prop_map(|(i, c, t)| {
                Message::CareOfTest(TestRepr {
                    nonce_index: i,
                    cookie: c,
                    keygen_token: t,
                })
            }),
            (any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(s, f, l)| {
                Message::BindingUpdate(BindingUpdateRepr {
                    sequence: SequenceNumber(s),
                    flags: BuFlags(f),
                    lifetime: l,
                })
            }),
            (any::<u8>(), any::<u8>(), any::<u16>(), any::<u16>()).prop_map(|(st, f, s, l)| {
                Message::BindingAck(BindingAckRepr {
                    status: BaStatus::from(st),
                    flags: BaFlags(f),
                    sequence: SequenceNumber(s),
                    lifetime: l,
                })
            }),
            (any::<u8>(), any::<[u8; 16]>()).prop_map(|(st, a)| {
                Message::BindingError(BindingErrorRepr {
                    status: BeStatus::from(st),
                    home_address: a.into(),
                })
            }),
        ]
    }

    fn not_pad(o: &MobilityOption<'_>) -> bool {
        !matches!(o, MobilityOption::Pad1 | MobilityOption::PadN(_))
    }

    proptest! {
        #[test]
        fn round_trip_every_message_with_options(
            message in any_message(),
            opts in proptest::collection::vec(any_option(), 0..5),
            key in proptest::option::of(any_key_option()),
            src: [u8; 16], dst: [u8; 16],
        ) {
            let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
            let body = key.as_ref().map(KeyOption::encode);
            let mut all = opts.clone();
            if let Some(b) = &body {
                all.push(b.to_option(DEFAULT_VENDOR_ID));
            }
            let repr = Repr::new(message, &all);
            prop_assume!(repr.buffer_len() <= MAX_LEN);
            let bytes = emit_vec(&repr, &src, &dst);
            prop_assert_eq!(bytes.len() % 8, 0);
            let parsed = Repr::parse_checked(&Packet::new_unchecked(&bytes[..]), &src, &dst).unwrap();
            prop_assert_eq!(parsed.message, message);
            if let OptionList::Parsed(o) = parsed.options {
                prop_assert!(o.check_alignment().is_ok());
            }
            let got: Vec<_> = parsed.options().map(Result::unwrap).filter(not_pad).collect();
            let want: Vec<_> = all.iter().copied().filter(not_pad).collect();
            prop_assert_eq!(&got, &want);
            if let Some(k) = key {
                prop_assert_eq!(KeyOption::from_option(got.last().unwrap(), DEFAULT_VENDOR_ID), Ok(Some(k)));
            }
            prop_assert_eq!(emit_vec(&parsed, &src, &dst), bytes);
        }

        #[test]
        fn parse_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..200), fix_len: bool) {
            if fix_len && bytes.len() >= 8 {
                bytes[1] = (bytes.len() / 8 - 1) as u8;
            }
            let _ = Repr::parse(&Packet::new_unchecked(&bytes[..]));
            let _ = Repr::parse_checked(&Packet::new_unchecked(&bytes[..]), &hoa(), &ha());
        }
    }
}
