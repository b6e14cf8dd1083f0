//! The fixed-length binary records the daemons' stores keep (the home agent's layout
//! is `mip6_ha::record_layout`'s, the mobile node's `mip6_mn_daemon::store`'s): a
//! version byte first, big-endian integers, and optional fields
//! as a presence byte followed by the field or by as many zero octets. Each store
//! fixes its own layout and length; this module reads and writes the fields.
//!
//! It lives here, with no I/O, so an engine crate can encode its own records (the
//! home agent's engine bench counts that cost per Binding Update). Reading never
//! panics: every read is bounds-checked and every presence byte, SPI
//! and suite code point is validated, with the offset of the bad octet in the error.

use crate::esp::{Spi, Suite};

/// Why a stored record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The record is empty: not even a version byte.
    #[error("store record: empty")]
    Empty,
    /// The version byte is not one this build reads.
    #[error("store record: unknown version {0}")]
    UnknownVersion(u8),
    /// The record's length is not the one its version fixes.
    #[error("store record: length {actual}, expected {expected}")]
    Length {
        /// Length required by the version.
        expected: usize,
        /// Length found.
        actual: usize,
    },
    /// A presence byte or flag other than 0 or 1.
    #[error("store record: byte {value} at offset {offset} is neither 0 nor 1")]
    BadFlag {
        /// Offset of the byte in the record.
        offset: usize,
        /// Its value.
        value: u8,
    },
    /// An absent field whose filler is not all zero.
    #[error("store record: absent field at offset {offset} is not zero-filled")]
    NonZeroFiller {
        /// Offset of the field in the record.
        offset: usize,
    },
    /// A suite code point that is not a [`Suite`].
    #[error("store record: unknown suite {code} at offset {offset}")]
    UnknownSuite {
        /// Offset of the code point.
        offset: usize,
        /// The code point.
        code: u8,
    },
    /// A reserved SPI (0..=255, RFC 4303 §2.1).
    #[error("store record: reserved SPI {spi} at offset {offset}")]
    ReservedSpi {
        /// Offset of the SPI.
        offset: usize,
        /// The SPI.
        spi: u32,
    },
    /// The row key is not the record's home address (a store keyed by home address).
    #[error("store record: key does not match home address {home_address}")]
    KeyMismatch {
        /// The home address inside the record.
        home_address: std::net::Ipv6Addr,
    },
}

/// Writes a record of `N` octets front to back.
#[derive(Debug)]
pub struct RecordWriter<const N: usize> {
    buf: [u8; N],
    pos: usize,
}

impl<const N: usize> Default for RecordWriter<N> {
    fn default() -> Self {
        RecordWriter {
            buf: [0; N],
            pos: 0,
        }
    }
}

impl<const N: usize> RecordWriter<N> {
    /// An all-zero record, writing from offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `bytes`. The layout is the caller's: writing past `N` is a bug in it
    /// and panics.
    pub fn put(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    /// Appends a presence byte or flag (0 or 1).
    pub fn flag(&mut self, value: bool) {
        self.put(&[u8::from(value)]);
    }

    /// Leaves `len` zero octets (an absent field).
    pub fn skip(&mut self, len: usize) {
        self.pos += len;
    }

    /// The write offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The record; every octet must have been written or skipped.
    pub fn finish(self) -> [u8; N] {
        debug_assert_eq!(self.pos, N, "record layout does not fill the record");
        self.buf
    }
}

/// Reads a record checked to have its version's length.
#[derive(Debug)]
pub struct RecordReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> RecordReader<'a> {
    /// Checks the version byte (offset 0) and the length, then reads from `start`.
    pub fn open(
        bytes: &'a [u8],
        version: u8,
        len: usize,
        start: usize,
    ) -> Result<RecordReader<'a>, DecodeError> {
        let found = *bytes.first().ok_or(DecodeError::Empty)?;
        if found != version {
            return Err(DecodeError::UnknownVersion(found));
        }
        if bytes.len() != len {
            return Err(DecodeError::Length {
                expected: len,
                actual: bytes.len(),
            });
        }
        Ok(RecordReader {
            buf: bytes,
            pos: start,
        })
    }

    /// The read offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn short(&self) -> DecodeError {
        DecodeError::Length {
            expected: self.buf.len(),
            actual: self.buf.len(),
        }
    }

    /// The next `N` octets.
    pub fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self
            .buf
            .get(self.pos..self.pos.saturating_add(N))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| self.short())?;
        self.pos += N;
        Ok(bytes)
    }

    /// One octet.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.take()?))
    }

    /// A presence byte or flag: 0 or 1, anything else refused.
    pub fn flag(&mut self) -> Result<bool, DecodeError> {
        let offset = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(DecodeError::BadFlag { offset, value }),
        }
    }

    /// An SPI outside the reserved 0..=255.
    pub fn spi(&mut self) -> Result<Spi, DecodeError> {
        let offset = self.pos;
        let spi = self.u32()?;
        Spi::new(spi).map_err(|_| DecodeError::ReservedSpi { offset, spi })
    }

    /// A suite code point.
    pub fn suite(&mut self) -> Result<Suite, DecodeError> {
        let offset = self.pos;
        let code = self.u8()?;
        Suite::from_code(code).ok_or(DecodeError::UnknownSuite { offset, code })
    }

    /// An optional field: the presence byte, then `read`, or `len` zero octets.
    pub fn option<T>(
        &mut self,
        len: usize,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.flag()? {
            return read(self).map(Some);
        }
        let offset = self.pos;
        let filler = self
            .buf
            .get(offset..offset.saturating_add(len))
            .ok_or_else(|| self.short())?;
        if filler.iter().any(|&b| b != 0) {
            return Err(DecodeError::NonZeroFiller { offset });
        }
        self.pos += len;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// version, flag, optional u32 (present), optional u16 (absent), spi, suite
    fn sample() -> [u8; 16] {
        let mut w = RecordWriter::<16>::new();
        w.put(&[7]);
        w.flag(true);
        w.flag(true);
        w.put(&0xdead_beef_u32.to_be_bytes());
        w.flag(false);
        w.skip(2);
        w.put(&0x1001_u32.to_be_bytes());
        w.put(&[Suite::Aes128Gcm.code()]);
        w.skip(1);
        w.finish()
    }

    #[test]
    fn fields_round_trip() {
        let bytes = sample();
        let mut r = RecordReader::open(&bytes, 7, 16, 1).unwrap();
        assert!(r.flag().unwrap());
        assert_eq!(r.option(4, RecordReader::u32).unwrap(), Some(0xdead_beef));
        assert_eq!(r.option(2, RecordReader::u16).unwrap(), None);
        assert_eq!(r.spi().unwrap().get(), 0x1001);
        assert_eq!(r.suite().unwrap(), Suite::Aes128Gcm);
        assert_eq!(r.pos(), 15);
    }

    #[test]
    fn bad_records_are_refused_with_their_offset() {
        assert_eq!(
            RecordReader::open(&[], 7, 16, 1).unwrap_err(),
            DecodeError::Empty
        );
        let mut bytes = sample();
        assert_eq!(
            RecordReader::open(&bytes, 8, 16, 1).unwrap_err(),
            DecodeError::UnknownVersion(7)
        );
        assert_eq!(
            RecordReader::open(&bytes[..15], 7, 16, 1).unwrap_err(),
            DecodeError::Length {
                expected: 16,
                actual: 15
            }
        );
        bytes[1] = 2;
        let mut r = RecordReader::open(&bytes, 7, 16, 1).unwrap();
        assert_eq!(
            r.flag().unwrap_err(),
            DecodeError::BadFlag {
                offset: 1,
                value: 2
            }
        );
        let mut bytes = sample();
        bytes[8] = 1; // filler of the absent u16
        let mut r = RecordReader::open(&bytes, 7, 16, 7).unwrap();
        assert_eq!(
            r.option(2, RecordReader::u16).unwrap_err(),
            DecodeError::NonZeroFiller { offset: 8 }
        );
        let mut bytes = sample();
        bytes[10..14].copy_from_slice(&255u32.to_be_bytes());
        let mut r = RecordReader::open(&bytes, 7, 16, 10).unwrap();
        assert_eq!(
            r.spi().unwrap_err(),
            DecodeError::ReservedSpi {
                offset: 10,
                spi: 255
            }
        );
        let mut r = RecordReader::open(&bytes, 7, 16, 14).unwrap();
        assert!(r.suite().is_ok());
        let mut r = RecordReader::open(&bytes, 7, 16, 15).unwrap();
        assert_eq!(
            r.suite().unwrap_err(),
            DecodeError::UnknownSuite {
                offset: 15,
                code: 0
            }
        );
        // Past the end: a length error, no panic.
        let mut r = RecordReader::open(&bytes, 7, 16, 15).unwrap();
        assert!(matches!(r.take::<4>(), Err(DecodeError::Length { .. })));
    }
}
