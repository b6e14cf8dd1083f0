//! The ESP header and explicit IV (RFC 4303 §2, RFC 4106 §3): a zero-copy [`Packet`]
//! view and the plain [`Repr`] of its clear-text fields.
//!
//! [`Packet::check_len`] requires [`MIN_PACKET_LEN`] octets (header, IV, Pad Length,
//! Next Header and ICV); once it has succeeded no accessor of [`Packet`] panics.
//! The encrypted part is only reachable through [`InboundSa::open`](super::InboundSa::open).
//!
//! Not supported: Extended Sequence Numbers (the high 32 bits are never on the wire
//! anyway, RFC 4303 §2.2.1), IVs of any length but 8.

use super::{Error, HEADER_LEN, ICV_LEN, IV_LEN, MIN_PACKET_LEN, PAYLOAD_OFFSET};
use crate::{Layer, LenError};
use core::fmt;

/// Field offsets. RFC 4303 §2 (Figure 1) with the AES-GCM payload of RFC 4106 §3:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |               Security Parameters Index (SPI)                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Sequence Number                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Initialization Vector (IV), 8 octets          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ~           Ciphertext (payload, padding, pad len, next hdr)    ~
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Integrity Check Value (ICV), 16 octets        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
mod field {
    use core::ops::Range;
    pub const SPI: Range<usize> = 0..4;
    pub const SEQ: Range<usize> = 4..8;
    /// Additional authenticated data (RFC 4106 §5, no ESN): SPI ‖ Sequence Number.
    pub const AAD: Range<usize> = 0..8;
    pub const IV: Range<usize> = 8..16;
    pub const CIPHERTEXT_START: usize = 16;
}

pub(crate) use field::AAD as AAD_FIELD;

/// A Security Parameters Index that may appear on the wire: never 0..=255 (RFC 4303 §2.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spi(u32);

impl Spi {
    /// Largest reserved SPI value (RFC 4303 §2.1: 1..=255 reserved to IANA, 0 local).
    pub const MAX_RESERVED: u32 = 255;

    /// Accepts any SPI above 255; [`Error::ReservedSpi`] otherwise (RFC 4303 §2.1).
    pub const fn new(value: u32) -> Result<Spi, Error> {
        if value <= Self::MAX_RESERVED {
            Err(Error::ReservedSpi { spi: value })
        } else {
            Ok(Spi(value))
        }
    }

    /// The SPI as a number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The SPI in network order, as in the ESP header and the key schedule's info.
    pub const fn to_be_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

impl fmt::Debug for Spi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Spi({:#010x})", self.0)
    }
}

impl fmt::Display for Spi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// A read/write view of an ESP packet (RFC 4303 §2) starting at the SPI.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer and checks it with [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds at least header, IV, Pad Length, Next Header and
    /// ICV ([`MIN_PACKET_LEN`] octets, RFC 4303 §2, RFC 4106 §3). After this no accessor
    /// panics.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < MIN_PACKET_LEN {
            Err(LenError::fixed(Layer::Esp, 0, MIN_PACKET_LEN, len).into())
        } else {
            Ok(())
        }
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The SPI field as a number, reserved values included (RFC 4303 §2.1).
    pub fn spi(&self) -> u32 {
        read_u32(&self.buffer.as_ref()[field::SPI])
    }

    /// The Sequence Number field (RFC 4303 §2.2).
    pub fn sequence_number(&self) -> u32 {
        read_u32(&self.buffer.as_ref()[field::SEQ])
    }

    /// The explicit IV (RFC 4106 §3.1), read as a 64-bit network-order number.
    pub fn iv(&self) -> u64 {
        let mut octets = [0; IV_LEN];
        octets.copy_from_slice(&self.buffer.as_ref()[field::IV]);
        u64::from_be_bytes(octets)
    }

    /// Ciphertext of payload, padding, Pad Length and Next Header (RFC 4303 §2.3–2.6).
    pub fn ciphertext(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        &data[field::CIPHERTEXT_START..data.len() - ICV_LEN]
    }

    /// The ICV, the last 16 octets (RFC 4106 §6).
    pub fn icv(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        &data[data.len() - ICV_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the SPI field.
    pub fn set_spi(&mut self, spi: Spi) {
        self.buffer.as_mut()[field::SPI].copy_from_slice(&spi.to_be_bytes());
    }

    /// Sets the Sequence Number field.
    pub fn set_sequence_number(&mut self, seq: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.to_be_bytes());
    }

    /// Sets the explicit IV.
    pub fn set_iv(&mut self, iv: u64) {
        self.buffer.as_mut()[field::IV].copy_from_slice(&iv.to_be_bytes());
    }
}

fn read_u32(octets: &[u8]) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(octets);
    u32::from_be_bytes(word)
}

/// The clear-text fields of an ESP packet: SPI, Sequence Number and explicit IV
/// (RFC 4303 §2, RFC 4106 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Security Parameters Index, never a reserved value.
    pub spi: Spi,
    /// Sequence Number (RFC 4303 §2.2).
    pub seq: u32,
    /// Explicit IV (RFC 4106 §3.1).
    pub iv: u64,
}

impl Repr {
    /// Reads the clear-text fields of a checked packet; rejects reserved SPIs
    /// (RFC 4303 §2.1).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        packet.check_len()?;
        Ok(Repr {
            spi: Spi::new(packet.spi())?,
            seq: packet.sequence_number(),
            iv: packet.iv(),
        })
    }

    /// Octets [`emit`](Self::emit) writes: header and IV.
    pub const fn buffer_len(&self) -> usize {
        PAYLOAD_OFFSET
    }

    /// Writes header and IV into the first [`buffer_len`](Self::buffer_len) octets of
    /// the packet (which must be at least that long).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_spi(self.spi);
        packet.set_sequence_number(self.seq);
        packet.set_iv(self.iv);
    }
}

const _: () = assert!(field::CIPHERTEXT_START == PAYLOAD_OFFSET);
const _: () = assert!(field::SEQ.end == HEADER_LEN);

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built from RFC 4303 Figure 1 / RFC 4106 Figure 1: SPI 0x00001001, sequence
    /// number 5, IV = 5 as a 64-bit counter, two octets of "ciphertext", 16 of ICV.
    const PACKET: [u8; 34] = [
        0x00, 0x00, 0x10, 0x01, // SPI
        0x00, 0x00, 0x00, 0x05, // Sequence Number
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, // IV
        0xAA, 0xBB, // ciphertext (Pad Length, Next Header when decrypted)
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // ICV
        0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F,
    ];

    fn repr() -> Repr {
        Repr {
            spi: Spi::new(0x1001).unwrap(),
            seq: 5,
            iv: 5,
        }
    }

    #[test]
    fn parse_reads_every_field() {
        let packet = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(Repr::parse(&packet).unwrap(), repr());
        assert_eq!(packet.ciphertext(), &[0xAA, 0xBB]);
        assert_eq!(packet.icv(), &PACKET[18..]);
    }

    #[test]
    fn emit_writes_all_sixteen_octets_over_ff() {
        let mut buf = [0xFF; 34];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf[..16], PACKET[..16]);
        assert!(buf[16..].iter().all(|&b| b == 0xFF));
        assert_eq!(repr().buffer_len(), 16);
    }

    #[test]
    fn every_truncation_is_a_len_error() {
        for len in 0..PACKET.len() {
            let err = Packet::new_checked(&PACKET[..len]).unwrap_err();
            assert_eq!(
                err,
                Error::Truncated(LenError::fixed(Layer::Esp, 0, 34, len)),
                "len {len}"
            );
        }
    }

    #[test]
    fn reserved_spis_are_rejected() {
        for spi in [0u32, 1, 2, 200, 255] {
            let mut bytes = PACKET;
            bytes[..4].copy_from_slice(&spi.to_be_bytes());
            let packet = Packet::new_unchecked(&bytes[..]);
            assert_eq!(Repr::parse(&packet), Err(Error::ReservedSpi { spi }));
            assert_eq!(Spi::new(spi), Err(Error::ReservedSpi { spi }));
        }
        assert_eq!(Spi::new(256).unwrap().get(), 256);
    }

    proptest::proptest! {
        #[test]
        fn repr_round_trips(spi in 256u32.., seq: u32, iv: u64) {
            let repr = Repr { spi: Spi::new(spi).unwrap(), seq, iv };
            let mut buf = [0xFF; MIN_PACKET_LEN];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            proptest::prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(repr));
        }
    }
}
