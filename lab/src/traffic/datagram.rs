//! The UDP test datagram. Layout (network order):
//!
//! ```text
//!  0      4     5     6     8            16           24
//!  +------+-----+-----+-----+------------+------------+---- padding to the size asked
//!  | magic| kind| rsvd| rsvd|  sequence  | send time  |
//!  "M6LB"  0/1   0     0      u64          u64 µs since the epoch
//!          + phase id u32 at 24..28
//! ```
//!
//! `kind` 0 is data (sequence = the datagram's number, from 0); 1 is the end of a
//! stream (sequence = how many data datagrams the sender sent), sent a few times at
//! the end so the receiver can count losses after the last datagram it saw.

/// The four octets every test datagram starts with.
pub const MAGIC: [u8; 4] = *b"M6LB";
/// Octets of the header; shorter datagrams are not ours.
pub const HEADER_LEN: usize = 28;

mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const KIND: usize = 4;
    pub const SEQUENCE: Range<usize> = 8..16;
    pub const SENT: Range<usize> = 16..24;
    pub const PHASE: Range<usize> = 24..28;
}

/// What a datagram is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A numbered data datagram.
    Data,
    /// End of stream: `sequence` is the number of data datagrams sent.
    End,
}

/// One test datagram, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Data or end of stream.
    pub kind: Kind,
    /// The phase this stream belongs to; datagrams of another phase are foreign.
    pub phase: u32,
    /// The sequence number (data) or the count sent (end).
    pub sequence: u64,
    /// Send time, µs since the Unix epoch.
    pub sent_us: u64,
}

/// Why a received datagram is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// Shorter than [`HEADER_LEN`].
    #[error("datagram of {0} octets is shorter than the {HEADER_LEN}-octet header")]
    Short(usize),
    /// Does not start with [`MAGIC`].
    #[error("datagram does not start with the magic \"M6LB\"")]
    Magic,
    /// A kind other than 0 or 1.
    #[error("unknown datagram kind {0}")]
    Kind(u8),
}

impl Datagram {
    /// Parses the header of `bytes` (padding ignored).
    pub fn parse(bytes: &[u8]) -> Result<Datagram, DatagramError> {
        if bytes.len() < HEADER_LEN {
            return Err(DatagramError::Short(bytes.len()));
        }
        if bytes[field::MAGIC] != MAGIC {
            return Err(DatagramError::Magic);
        }
        let kind = match bytes[field::KIND] {
            0 => Kind::Data,
            1 => Kind::End,
            other => return Err(DatagramError::Kind(other)),
        };
        let u64_at = |r: core::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[r]);
            u64::from_be_bytes(b)
        };
        let mut phase = [0u8; 4];
        phase.copy_from_slice(&bytes[field::PHASE]);
        Ok(Datagram {
            kind,
            phase: u32::from_be_bytes(phase),
            sequence: u64_at(field::SEQUENCE),
            sent_us: u64_at(field::SENT),
        })
    }

    /// Writes the header into the start of `buf` and zeroes the rest (padding).
    /// `buf` must be at least [`HEADER_LEN`] long; shorter buffers are left untouched
    /// and `false` is returned.
    pub fn emit(&self, buf: &mut [u8]) -> bool {
        if buf.len() < HEADER_LEN {
            return false;
        }
        buf.fill(0);
        buf[field::MAGIC].copy_from_slice(&MAGIC);
        buf[field::KIND] = match self.kind {
            Kind::Data => 0,
            Kind::End => 1,
        };
        buf[field::SEQUENCE].copy_from_slice(&self.sequence.to_be_bytes());
        buf[field::SENT].copy_from_slice(&self.sent_us.to_be_bytes());
        buf[field::PHASE].copy_from_slice(&self.phase.to_be_bytes());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding_cleared() {
        let d = Datagram {
            kind: Kind::Data,
            phase: 7,
            sequence: 0x0102_0304_0506_0708,
            sent_us: 1_700_000_000_000_000,
        };
        let mut buf = [0xffu8; 64];
        assert!(d.emit(&mut buf));
        assert_eq!(&buf[..4], b"M6LB");
        assert_eq!(&buf[8..16], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(buf[HEADER_LEN..].iter().all(|b| *b == 0));
        assert_eq!(buf[5..8], [0, 0, 0]);
        assert_eq!(Datagram::parse(&buf), Ok(d));
        let end = Datagram {
            kind: Kind::End,
            ..d
        };
        assert!(end.emit(&mut buf[..HEADER_LEN]));
        assert_eq!(Datagram::parse(&buf[..HEADER_LEN]), Ok(end));
    }

    #[test]
    fn foreign_datagrams_are_errors() {
        assert_eq!(Datagram::parse(b"M6LB"), Err(DatagramError::Short(4)));
        assert_eq!(Datagram::parse(&[0u8; 40]), Err(DatagramError::Magic));
        let mut buf = [0u8; HEADER_LEN];
        buf[..4].copy_from_slice(b"M6LB");
        buf[4] = 9;
        assert_eq!(Datagram::parse(&buf), Err(DatagramError::Kind(9)));
        assert!(!Datagram {
            kind: Kind::Data,
            phase: 0,
            sequence: 0,
            sent_us: 0
        }
        .emit(&mut [0u8; 10]));
    }
}
