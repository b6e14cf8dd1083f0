//! Bodies of the Binding Refresh Request and of the return-routability messages:
//! Home/Care-of Test Init and Home/Care-of Test (RFC 6275 §6.1.2–§6.1.6).
//!
//! Each body `Repr` reads from and writes to exactly its fixed part (an array, so no
//! access can be out of bounds); the mobility options after it are the whole-message
//! [`Repr`](super::Repr)'s business. Reserved fields are ignored on parse and zeroed on
//! emit.
//!
//! Not supported: return-routability itself (cookies, Kbm, nonces) — this crate only
//! carries the fields.

/// Octets of a BRR's fixed message data (RFC 6275 §6.1.2).
pub const BRR_LEN: usize = 2;
/// Octets of a HoTI's or CoTI's fixed message data (RFC 6275 §6.1.3, §6.1.4).
pub const TEST_INIT_LEN: usize = 10;
/// Octets of a HoT's or CoT's fixed message data (RFC 6275 §6.1.5, §6.1.6).
pub const TEST_LEN: usize = 18;

/// RFC 6275 §6.1.3 (HoTI; CoTI §6.1.4 is the same with the Care-of Init Cookie),
/// message data only:
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |           Reserved            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                       Home Init Cookie                        +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// RFC 6275 §6.1.5 (HoT; CoT §6.1.6 the same with care-of fields):
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |       Home Nonce Index        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// +                        Home Init Cookie  (64 bits)            +
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// +                        Home Keygen Token (64 bits)            +
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The BRR (§6.1.2) has a 16-bit Reserved field and nothing else.
mod field {
    use core::ops::Range;
    pub const INIT_RESERVED: Range<usize> = 0..2;
    pub const INIT_COOKIE: Range<usize> = 2..10;
    pub const TEST_NONCE_INDEX: Range<usize> = 0..2;
    pub const TEST_COOKIE: Range<usize> = 2..10;
    pub const TEST_KEYGEN_TOKEN: Range<usize> = 10..18;
}

fn array8(b: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.iter_mut().zip(b).for_each(|(o, i)| *o = *i);
    out
}

/// Body of a Home Test Init or Care-of Test Init (RFC 6275 §6.1.3, §6.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TestInitRepr {
    /// Home (or Care-of) Init Cookie, 64 random bits.
    pub cookie: [u8; 8],
}

impl TestInitRepr {
    /// Reads the fixed part (Reserved ignored).
    pub fn parse(data: &[u8; TEST_INIT_LEN]) -> Self {
        TestInitRepr {
            cookie: array8(&data[field::INIT_COOKIE]),
        }
    }

    /// Writes the fixed part, Reserved zeroed.
    pub fn emit(&self, data: &mut [u8; TEST_INIT_LEN]) {
        data[field::INIT_RESERVED].fill(0);
        data[field::INIT_COOKIE].copy_from_slice(&self.cookie);
    }
}

/// Body of a Home Test or Care-of Test (RFC 6275 §6.1.5, §6.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TestRepr {
    /// Home (or Care-of) Nonce Index.
    pub nonce_index: u16,
    /// Home (or Care-of) Init Cookie echoed from the Test Init.
    pub cookie: [u8; 8],
    /// Home (or Care-of) Keygen Token.
    pub keygen_token: [u8; 8],
}

impl TestRepr {
    /// Reads the fixed part.
    pub fn parse(data: &[u8; TEST_LEN]) -> Self {
        TestRepr {
            nonce_index: u16::from_be_bytes([data[0], data[1]]),
            cookie: array8(&data[field::TEST_COOKIE]),
            keygen_token: array8(&data[field::TEST_KEYGEN_TOKEN]),
        }
    }

    /// Writes the fixed part.
    pub fn emit(&self, data: &mut [u8; TEST_LEN]) {
        data[field::TEST_NONCE_INDEX].copy_from_slice(&self.nonce_index.to_be_bytes());
        data[field::TEST_COOKIE].copy_from_slice(&self.cookie);
        data[field::TEST_KEYGEN_TOKEN].copy_from_slice(&self.keygen_token);
    }
}

/// Writes a Binding Refresh Request's fixed part: its 16-bit Reserved field, zeroed
/// (RFC 6275 §6.1.2). The BRR has no fields to parse.
pub fn emit_brr(data: &mut [u8; BRR_LEN]) {
    data.fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // HoTI body from RFC 6275 §6.1.3: Reserved 0, cookie 01..08.
    const HOTI: [u8; 10] = [0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    // HoT body from RFC 6275 §6.1.5: nonce index 0x0102, cookie 11..18, token 21..28.
    const HOT: [u8; 18] = [
        0x01, 0x02, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24, 0x25,
        0x26, 0x27, 0x28,
    ];

    #[test]
    fn parse_and_emit_known_bytes_clearing_reserved() {
        let ti = TestInitRepr::parse(&HOTI);
        assert_eq!(ti.cookie, [1, 2, 3, 4, 5, 6, 7, 8]);
        let mut out = [0xFF; TEST_INIT_LEN];
        ti.emit(&mut out);
        assert_eq!(out, HOTI);

        let t = TestRepr::parse(&HOT);
        assert_eq!(t.nonce_index, 0x0102);
        assert_eq!(t.cookie[0], 0x11);
        assert_eq!(t.keygen_token[7], 0x28);
        let mut out = [0xFF; TEST_LEN];
        t.emit(&mut out);
        assert_eq!(out, HOT);

        let mut brr = [0xFF; BRR_LEN];
        emit_brr(&mut brr);
        assert_eq!(brr, [0, 0]);
    }

    proptest! {
        #[test]
        fn round_trip(cookie: [u8; 8], token: [u8; 8], idx: u16) {
            let ti = TestInitRepr { cookie };
            let mut b = [0xFF; TEST_INIT_LEN];
            ti.emit(&mut b);
            prop_assert_eq!(TestInitRepr::parse(&b), ti);
            let t = TestRepr { nonce_index: idx, cookie, keygen_token: token };
            let mut b = [0xFF; TEST_LEN];
            t.emit(&mut b);
            prop_assert_eq!(TestRepr::parse(&b), t);
        }
    }
}
