//! Zero-copy view of the Mobility Header's common part (RFC 6275 §6.1.1).
//!
//! [`Packet::check_len`] makes sure the buffer holds the 6-octet common header and the
//! whole Mobility Header as Header Len gives it; after it succeeds no accessor panics
//! (as long as the setters have not been used to grow Header Len past the buffer). The
//! buffer may be longer than the Mobility Header; everything past
//! [`Packet::total_len`] is ignored, checksum included.
//!
//! Not supported here: per-message field accessors. Message bodies are read and written
//! by their `Repr`s ([`BindingUpdateRepr`](super::BindingUpdateRepr), ...) over
//! [`Packet::message_data`].

use core::net::Ipv6Addr;

use super::checksum::{compute_checksum, verify_checksum};
use super::mh_type::MhType;
use crate::error::{Layer, LenError};

/// RFC 6275 §6.1.1, Mobility Header format:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Payload Proto |  Header Len   |   MH Type     |   Reserved    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Checksum            |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
/// .                       Message Data                            .
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
mod field {
    use core::ops::{Range, RangeFrom};
    pub const PAYLOAD_PROTO: usize = 0;
    pub const HEADER_LEN: usize = 1;
    pub const MH_TYPE: usize = 2;
    pub const RESERVED: usize = 3;
    pub const CHECKSUM: Range<usize> = 4..6;
    pub const MESSAGE_DATA: RangeFrom<usize> = 6..;
}

/// Octets of the common header before the message data (RFC 6275 §6.1.1).
pub const COMMON_HEADER_LEN: usize = field::MESSAGE_DATA.start;

/// Offset of the Checksum field (RFC 6275 §6.1.1).
pub const CHECKSUM_OFFSET: usize = field::CHECKSUM.start;

/// Offset of the Header Len field (RFC 6275 §6.1.1), the ICMP Parameter Problem pointer
/// for a too-short message (RFC 6275 §9.2).
pub const HEADER_LEN_OFFSET: usize = field::HEADER_LEN;

/// IPPROTO_NONE (59), the Payload Proto every Mobility Header carries (RFC 6275 §6.1.1).
pub const IPPROTO_NONE: u8 = 59;

/// Largest Mobility Header Header Len can describe: (255 + 1) * 8 octets.
pub const MAX_LEN: usize = 256 * 8;

/// A read/write view of a Mobility Header in a buffer (RFC 6275 §6.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors may panic until
    /// [`check_len`](Self::check_len) has succeeded.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer and checks its length ([`check_len`](Self::check_len)).
    pub fn new_checked(buffer: T) -> Result<Self, LenError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the common header and the `(Header Len + 1) * 8`
    /// octets Header Len announces (RFC 6275 §6.1.1). Errors are
    /// [`Layer::MobilityHeader`] at offset 0.
    pub fn check_len(&self) -> Result<(), LenError> {
        let data = self.buffer.as_ref();
        if data.len() < COMMON_HEADER_LEN {
            return Err(LenError::fixed(
                Layer::MobilityHeader,
                0,
                COMMON_HEADER_LEN,
                data.len(),
            ));
        }
        let total = self.total_len();
        if data.len() < total {
            return Err(LenError::by_field(
                Layer::MobilityHeader,
                0,
                total,
                data.len(),
                "Header Len",
            ));
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Payload Proto (RFC 6275 §6.1.1; 59 = IPPROTO_NONE).
    pub fn payload_proto(&self) -> u8 {
        self.buffer.as_ref()[field::PAYLOAD_PROTO]
    }

    /// Header Len as on the wire: 8-octet units, not counting the first 8 octets.
    pub fn header_len(&self) -> u8 {
        self.buffer.as_ref()[field::HEADER_LEN]
    }

    /// Length of the whole Mobility Header in octets, `(Header Len + 1) * 8`.
    pub fn total_len(&self) -> usize {
        (usize::from(self.header_len()) + 1) * 8
    }

    /// MH Type (RFC 6275 §6.1.1).
    pub fn mh_type(&self) -> MhType {
        MhType::from(self.buffer.as_ref()[field::MH_TYPE])
    }

    /// Reserved octet (RFC 6275 §6.1.1; zero on send, ignored on receipt).
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[field::RESERVED]
    }

    /// Checksum field (RFC 6275 §6.1.1).
    pub fn checksum(&self) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[field::CHECKSUM.start], d[field::CHECKSUM.start + 1]])
    }

    /// Message data: octet 6 up to the end Header Len gives (fixed part and options).
    pub fn message_data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::MESSAGE_DATA.start..self.total_len()]
    }

    /// The Mobility Header's octets, exactly `total_len()` of them.
    pub fn mh_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.total_len()]
    }

    /// True when the checksum is right for the pseudo-header `src`, `dst` (RFC 6275
    /// §6.1.1; see [`compute_checksum`] for which addresses to pass). False, never a
    /// panic, when the buffer is shorter than Header Len says.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        match self.buffer.as_ref().get(..self.total_len()) {
            Some(mh) => verify_checksum(src, dst, mh),
            None => false,
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The Mobility Header's octets (`..total_len()`) with the buffer's own lifetime, for
    /// `Repr`s that borrow from it; `None` when the buffer is shorter than Header Len says.
    pub fn mh_slice(&self) -> Option<&'a [u8]> {
        let data: &'a [u8] = T::as_ref(self.buffer);
        data.get(..self.total_len())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets Payload Proto.
    pub fn set_payload_proto(&mut self, value: u8) {
        self.buffer.as_mut()[field::PAYLOAD_PROTO] = value;
    }

    /// Sets Header Len (8-octet units after the first 8).
    pub fn set_header_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HEADER_LEN] = value;
    }

    /// Sets MH Type.
    pub fn set_mh_type(&mut self, value: MhType) {
        self.buffer.as_mut()[field::MH_TYPE] = value.into();
    }

    /// Clears the Reserved octet.
    pub fn clear_reserved(&mut self) {
        self.buffer.as_mut()[field::RESERVED] = 0;
    }

    /// Sets the Checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Mutable message data (octet 6 to `total_len()`).
    pub fn message_data_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.buffer.as_mut()[field::MESSAGE_DATA.start..end]
    }

    /// Computes and writes the checksum over `total_len()` octets for the pseudo-header
    /// `src`, `dst` (RFC 6275 §6.1.1). Header Len must already be set.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let value = compute_checksum(src, dst, self.mh_bytes());
        self.set_checksum(value);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // BRR, hand-built from RFC 6275 §6.1.1/§6.1.2: Payload Proto 59, Header Len 0,
    // MH Type 0, Reserved 0, Checksum 0x1234, Reserved 0, no options.
    const BRR: [u8; 8] = [59, 0, 0, 0, 0x12, 0x34, 0, 0];

    #[test]
    fn accessors_read_the_rfc_fields() {
        let p = Packet::new_checked(&BRR[..]).unwrap();
        assert_eq!(p.payload_proto(), 59);
        assert_eq!(p.header_len(), 0);
        assert_eq!(p.total_len(), 8);
        assert_eq!(p.mh_type(), MhType::BindingRefreshRequest);
        assert_eq!(p.checksum(), 0x1234);
        assert_eq!(p.message_data(), &[0, 0]);
    }

    #[test]
    fn check_len_on_every_truncation() {
        // A 24-octet MH (Header Len 2) followed by 3 octets of something else.
        let mut buf = [0u8; 27];
        buf[0] = 59;
        buf[1] = 2;
        buf[2] = 7;
        for len in 0..buf.len() {
            let r = Packet::new_unchecked(&buf[..len]).check_len();
            if len < 6 {
                assert_eq!(r, Err(LenError::fixed(Layer::MobilityHeader, 0, 6, len)));
            } else if len < 24 {
                assert_eq!(
                    r,
                    Err(LenError::by_field(
                        Layer::MobilityHeader,
                        0,
                        24,
                        len,
                        "Header Len"
                    ))
                );
            } else {
                assert_eq!(r, Ok(()));
                let p = Packet::new_unchecked(&buf[..len]);
                assert_eq!(p.message_data().len(), 18);
                assert_eq!(p.mh_bytes().len(), 24);
            }
        }
        // Largest Header Len needs 2048 octets.
        let mut big = [0u8; MAX_LEN];
        big[1] = 255;
        assert!(Packet::new_checked(&big[..]).is_ok());
        assert!(Packet::new_checked(&big[..MAX_LEN - 1]).is_err());
    }

    #[test]
    fn setters_write_fields_and_checksum_verifies() {
        let src: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let mut buf = [0xFFu8; 8];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_payload_proto(IPPROTO_NONE);
        p.set_header_len(0);
        p.set_mh_type(MhType::BindingRefreshRequest);
        p.clear_reserved();
        p.message_data_mut().fill(0);
        p.fill_checksum(&src, &dst);
        assert!(p.verify_checksum(&src, &dst));
        let c = p.checksum();
        assert_eq!(&buf[..4], &[59, 0, 0, 0]);
        assert_eq!(u16::from_be_bytes([buf[4], buf[5]]), c);
        // A view claiming more than the buffer holds does not panic on verify.
        buf[1] = 9;
        assert!(!Packet::new_unchecked(&buf[..]).verify_checksum(&src, &dst));
    }
}
