//! One direction of an ESP security association (RFC 4301 §4.1, RFC 4303 §3.3–3.4):
//! [`OutboundSa::seal`] and [`InboundSa::open`], both in place.
//!
//! **Sealing.** The caller lays out a buffer with the plaintext payload at
//! [`PAYLOAD_OFFSET`] (16) and at least [`trailer_len`]`(payload_len)` octets after it,
//! i.e. [`sealed_len`]`(payload_len)` octets in all, then calls [`OutboundSa::seal`].
//! It writes SPI, Sequence Number and IV in front, padding (1, 2, 3, ...), Pad Length and
//! Next Header behind (RFC 4303 §2.4–2.6), encrypts payload and trailer, and appends the
//! ICV (RFC 4106 §3). Nothing is allocated.
//!
//! **Sequence numbers.** The outbound counter starts at 1; each seal uses the current
//! value and advances it before encrypting, so a number is never used twice even if the
//! AEAD fails. After 2^32 − 1 has been used, [`OutboundSa::seal`] returns
//! [`Error::SequenceExhausted`] forever: with no ESN the AAD carries 32 bits and the
//! counter must not cycle (RFC 4303 §3.3.3). [`OutboundSa::seq_remaining`] lets an engine
//! rekey in time.
//!
//! **IVs.** The explicit IV (RFC 4106 §3.1) is an *IV prefix* (32 bits) followed by
//! the sequence number (32 bits): `IV = prefix << 32 | sequence`. A fresh SA has
//! prefix 0, so its IV is the counter itself. The engines give every SA they set up
//! the prefix they drew from their RNG when their process started
//! ([`OutboundSa::with_iv_prefix`]): sequence numbers come back from persisted marks,
//! but if the marks are lost (a wiped store, a stale one restored) a sequence number
//! may be used again under the same key, and the prefix keeps the *nonce* new (two
//! process lives collide only if they drew the same 32-bit prefix; docs/architecture.md
//! "Nonces and persistence"). RFC 4106 §3.1 only asks the IV to be unique per key;
//! it is carried in the packet and its structure is the sender's business.
//!
//! **Opening.** [`InboundSa::open`] checks the length, the SPI, and the anti-replay window
//! *before* decrypting; verifies the ICV and decrypts (constant time inside the AEAD);
//! updates the window only after the ICV verified (RFC 4303 §3.4.3); then checks Pad
//! Length and the padding octets. A packet whose ICV verified but whose padding is wrong
//! has still consumed its sequence number (it was authentic). The receiver takes the IV
//! from the packet as RFC 4106 §3.1 has it; it does not require IV = sequence number.
//!
//! Not supported: ESN; mixing several SPIs in one SA (the SA table looks SPIs up).

use super::packet::{Packet, Spi, AAD_FIELD};
use super::{
    AesGcmAead, Error, EspAead, ReplayWindow, SaKey, HEADER_LEN, ICV_LEN, IV_LEN,
    NEXT_HEADER_DUMMY, NONCE_LEN, PAYLOAD_OFFSET, SALT_LEN, TRAILER_FIXED_LEN,
};
use core::ops::Range;

/// Padding octets RFC 4303 §2.4 asks for after a payload of `payload_len` octets: the
/// fewest (0..=3) that make payload ‖ padding ‖ Pad Length ‖ Next Header a multiple of 4.
pub const fn padding_len(payload_len: usize) -> usize {
    (4 - (payload_len % 4 + TRAILER_FIXED_LEN) % 4) % 4
}

/// Octets [`OutboundSa::seal`] needs behind a payload of `payload_len` octets:
/// padding, Pad Length, Next Header and ICV (RFC 4303 §2, RFC 4106 §3).
pub const fn trailer_len(payload_len: usize) -> usize {
    padding_len(payload_len) + TRAILER_FIXED_LEN + ICV_LEN
}

/// Whole ESP packet length for a payload of `payload_len` octets: header, IV, payload
/// and [`trailer_len`].
pub const fn sealed_len(payload_len: usize) -> usize {
    PAYLOAD_OFFSET + payload_len + trailer_len(payload_len)
}

fn nonce(salt: &[u8; SALT_LEN], iv: &[u8]) -> [u8; NONCE_LEN] {
    let mut nonce = [0; NONCE_LEN];
    nonce[..SALT_LEN].copy_from_slice(salt);
    nonce[SALT_LEN..].copy_from_slice(iv);
    nonce
}

/// First sequence number of an SA (RFC 4303 §3.3.3: the counter is 0 at SA setup and
/// the first packet carries 1).
pub const FIRST_SEQUENCE: u64 = 1;
/// One past the last usable sequence number: the value of an exhausted counter.
pub const SEQUENCE_END: u64 = u32::MAX as u64 + 1;

/// The sending side of an SA: SPI, key, AEAD and the next sequence number
/// (RFC 4303 §3.3).
#[derive(Clone)]
pub struct OutboundSa<A: EspAead = AesGcmAead> {
    spi: Spi,
    key: SaKey,
    aead: A,
    next_seq: u64,
    iv_prefix: u32,
}

impl<A: EspAead> core::fmt::Debug for OutboundSa<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &self.spi)
            .field("suite", &self.key.suite())
            .field("next_seq", &self.next_seq)
            .field("iv_prefix", &self.iv_prefix)
            .finish_non_exhaustive()
    }
}

impl<A: EspAead> OutboundSa<A> {
    /// A fresh SA whose first packet carries sequence number 1.
    pub fn new(spi: Spi, key: SaKey) -> Self {
        OutboundSa {
            spi,
            aead: A::from_key(&key),
            key,
            next_seq: FIRST_SEQUENCE,
            iv_prefix: 0,
        }
    }

    /// A fresh SA resuming at sequence number `next` (as
    /// [`with_next_sequence`](Self::with_next_sequence), built in place: for an SA
    /// rebuilt around each packet from a compactly kept key and counter).
    pub fn resume(spi: Spi, key: SaKey, next: u64) -> Self {
        OutboundSa {
            spi,
            aead: A::from_key(&key),
            key,
            next_seq: next.clamp(FIRST_SEQUENCE, SEQUENCE_END),
            iv_prefix: 0,
        }
    }

    /// The same SA writing `prefix` as the upper 32 bits of every explicit IV
    /// (module docs, "IVs"): a prefix drawn per process life keeps nonces unique
    /// when sequence numbers repeat after lost state.
    #[must_use]
    pub fn with_iv_prefix(mut self, prefix: u32) -> Self {
        self.iv_prefix = prefix;
        self
    }

    /// Sets the IV prefix in place (as [`with_iv_prefix`](Self::with_iv_prefix)).
    pub fn set_iv_prefix(&mut self, prefix: u32) {
        self.iv_prefix = prefix;
    }

    /// The upper 32 bits of the IVs this SA writes.
    pub const fn iv_prefix(&self) -> u32 {
        self.iv_prefix
    }

    /// The same SA resuming at sequence number `next`, for restoring a persisted
    /// high-water mark after a restart (docs/architecture.md invariant 2: persist ahead of use).
    /// `0` is taken as 1; anything at or above 2^32 leaves the SA exhausted.
    #[must_use]
    pub fn with_next_sequence(mut self, next: u64) -> Self {
        self.resume_at(next);
        self
    }

    /// Makes this SA go on at sequence number `next`, in place, as
    /// [`with_next_sequence`](Self::with_next_sequence) does.
    pub fn resume_at(&mut self, next: u64) {
        self.next_seq = next.clamp(FIRST_SEQUENCE, SEQUENCE_END);
    }

    /// The SPI this SA writes.
    pub const fn spi(&self) -> Spi {
        self.spi
    }

    /// The key material (for a Wireshark `esp_sa` export).
    pub const fn key(&self) -> &SaKey {
        &self.key
    }

    /// The sequence number the next seal will use (2^32 once exhausted).
    pub const fn next_sequence(&self) -> u64 {
        self.next_seq
    }

    /// How many more packets this SA can seal before [`Error::SequenceExhausted`].
    pub const fn seq_remaining(&self) -> u64 {
        SEQUENCE_END - self.next_seq
    }

    /// Seals in place the `payload_len` octets found at [`PAYLOAD_OFFSET`] in `buf`, with
    /// Next Header `next_header` (135 transport mode MH, 41 tunnel mode, ...), and returns
    /// the ESP packet's length, [`sealed_len`]`(payload_len)`. `buf` must be at least that
    /// long ([`Error::NoRoom`] otherwise); octets past it are left alone.
    pub fn seal(
        &mut self,
        buf: &mut [u8],
        payload_len: usize,
        next_header: u8,
    ) -> Result<usize, Error> {
        let actual = buf.len();
        let needed = PAYLOAD_OFFSET
            .checked_add(payload_len)
            .and_then(|n| n.checked_add(trailer_len(payload_len)))
            .ok_or(Error::NoRoom {
                needed: usize::MAX,
                actual,
            })?;
        let buf = buf
            .get_mut(..needed)
            .ok_or(Error::NoRoom { needed, actual })?;
        if self.next_seq >= SEQUENCE_END {
            return Err(Error::SequenceExhausted);
        }
        let counter = self.next_seq;
        self.next_seq += 1;

        let mut packet = Packet::new_unchecked(&mut *buf);
        packet.set_spi(self.spi);
        packet.set_sequence_number(counter as u32);
        packet.set_iv(u64::from(self.iv_prefix) << 32 | counter);

        let pad_start = PAYLOAD_OFFSET + payload_len;
        let pad = padding_len(payload_len);
        for (i, octet) in buf[pad_start..pad_start + pad].iter_mut().enumerate() {
            *octet = i as u8 + 1;
        }
        buf[pad_start + pad] = pad as u8;
        buf[pad_start + pad + 1] = next_header;

        let (head, rest) = buf.split_at_mut(PAYLOAD_OFFSET);
        let (body, icv) = rest.split_at_mut(rest.len() - ICV_LEN);
        let nonce = nonce(self.key.salt(), &head[HEADER_LEN..HEADER_LEN + IV_LEN]);
        let tag = self
            .aead
            .seal_in_place(&nonce, &head[AAD_FIELD], body)
            .map_err(|_| Error::SealFailed)?;
        icv.copy_from_slice(&tag);
        Ok(needed)
    }
}

/// What [`InboundSa::open`] found inside a packet that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Next Header (RFC 4303 §2.6): 135 Mobility Header, 41 IPv6 (tunnel mode), 59 dummy.
    pub next_header: u8,
    /// Where the decrypted payload lies in the buffer handed to `open`.
    pub payload: Range<usize>,
    /// The packet's (authenticated) Sequence Number.
    pub seq: u32,
}

impl Opened {
    /// A dummy packet (Next Header 59) that RFC 4303 §2.6 says to discard silently.
    pub const fn is_dummy(&self) -> bool {
        self.next_header == NEXT_HEADER_DUMMY
    }
}

/// The receiving side of an SA: SPI, key, AEAD and anti-replay window (RFC 4303 §3.4).
#[derive(Clone)]
pub struct InboundSa<A: EspAead = AesGcmAead> {
    spi: Spi,
    key: SaKey,
    aead: A,
    window: ReplayWindow,
}

impl<A: EspAead> core::fmt::Debug for InboundSa<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InboundSa")
            .field("spi", &self.spi)
            .field("suite", &self.key.suite())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl<A: EspAead> InboundSa<A> {
    /// A fresh SA with the default anti-replay window (1024).
    pub fn new(spi: Spi, key: SaKey) -> Self {
        Self::with_window(spi, key, ReplayWindow::default())
    }

    /// A fresh SA with the given anti-replay window (or a restored one).
    pub fn with_window(spi: Spi, key: SaKey, window: ReplayWindow) -> Self {
        InboundSa {
            spi,
            aead: A::from_key(&key),
            key,
            window,
        }
    }

    /// The SPI this SA accepts.
    pub const fn spi(&self) -> Spi {
        self.spi
    }

    /// The key material (for a Wireshark `esp_sa` export).
    pub const fn key(&self) -> &SaKey {
        &self.key
    }

    /// The anti-replay window (to persist its `top`).
    pub const fn window(&self) -> &ReplayWindow {
        &self.window
    }

    /// Gives the anti-replay window back, for a caller that keeps the window and the
    /// key compactly and builds the SA around one packet
    /// ([`with_window`](Self::with_window), `open`, `into_window`).
    pub fn into_window(self) -> ReplayWindow {
        self.window
    }

    /// Opens in place the ESP packet that fills `buf` (SPI to ICV, nothing after). On
    /// success the payload lies decrypted at [`Opened::payload`]; on error the buffer
    /// may hold decrypted octets only if the ICV verified (bad padding).
    pub fn open(&mut self, buf: &mut [u8]) -> Result<Opened, Error> {
        open_with(&self.aead, self.spi, self.key.salt(), &mut self.window, buf)
    }

    /// Authenticates and opens `buf` as [`open`](Self::open) does, but against an
    /// empty anti-replay window and without moving this SA's: for a receiver that
    /// proves the packet fresh by other means (the mobile node's echoed Key
    /// Initialization timestamp, when its peer restarted the SA's sequence numbers
    /// after losing its state). Call [`restart_window_at`](Self::restart_window_at)
    /// once the packet proved fresh.
    pub fn open_outside_window(&self, buf: &mut [u8]) -> Result<Opened, Error> {
        let mut empty = ReplayWindow::new(self.window.size()).unwrap_or_default();
        open_with(&self.aead, self.spi, self.key.salt(), &mut empty, buf)
    }

    /// Restarts the anti-replay window with `seq` as the only number seen: the peer
    /// restarted its sequence numbers, and `seq` was proved fresh.
    pub fn restart_window_at(&mut self, seq: u32) {
        let mut window = ReplayWindow::new(self.window.size()).unwrap_or_default();
        window.update(seq);
        self.window = window;
    }
}

/// [`InboundSa::open`] on an SA kept in parts: the AEAD (built for this packet, e.g. an
/// [`AesGcmInline`](super::AesGcmInline) from a compactly stored key), the SPI it
/// accepts, the key's salt and the anti-replay window. Same checks, same order, same
/// errors: length, SPI, window before decryption; ICV; window update; padding.
pub fn open_with<A: EspAead>(
    aead: &A,
    expected_spi: Spi,
    salt: &[u8; SALT_LEN],
    window: &mut ReplayWindow,
    buf: &mut [u8],
) -> Result<Opened, Error> {
    let packet = Packet::new_checked(&*buf)?;
    let spi = Spi::new(packet.spi())?;
    if spi != expected_spi {
        return Err(Error::WrongSpi {
            spi: spi.get(),
            expected: expected_spi.get(),
        });
    }
    let seq = packet.sequence_number();
    window.check(seq)?;

    let len = buf.len();
    let icv_offset = len - ICV_LEN;
    let (head, rest) = buf.split_at_mut(PAYLOAD_OFFSET);
    let (body, icv) = rest.split_at_mut(rest.len() - ICV_LEN);
    let mut icv_octets = [0; ICV_LEN];
    icv_octets.copy_from_slice(icv);
    let nonce = nonce(salt, &head[HEADER_LEN..HEADER_LEN + IV_LEN]);
    aead.open_in_place(&nonce, &head[AAD_FIELD], body, &icv_octets)
        .map_err(|_| Error::BadIcv {
            offset: icv_offset,
            seq,
        })?;
    window.update(seq);

    // body holds at least Pad Length and Next Header (check_len).
    let pad_len_at = body.len() - TRAILER_FIXED_LEN;
    let pad_len = body[pad_len_at];
    let next_header = body[pad_len_at + 1];
    let payload_end = pad_len_at
        .checked_sub(usize::from(pad_len))
        .ok_or(Error::BadPadLength {
            offset: PAYLOAD_OFFSET + pad_len_at,
            pad_len,
        })?;
    for (i, &octet) in body[payload_end..pad_len_at].iter().enumerate() {
        if usize::from(octet) != i + 1 {
            return Err(Error::BadPadding {
                offset: PAYLOAD_OFFSET + payload_end + i,
            });
        }
    }
    Ok(Opened {
        next_header,
        payload: PAYLOAD_OFFSET..PAYLOAD_OFFSET + payload_end,
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esp::{NullAead, Suite, MIN_PACKET_LEN};
    use crate::{Layer, LenError};
    use proptest::prelude::*;

    const KEY128: [u8; 16] = [
        0xf6, 0x4b, 0x1a, 0x03, 0x38, 0x56, 0x6c, 0x33, 0xb3, 0x12, 0x15, 0x23, 0x63, 0xbd, 0xdb,
        0x32,
    ];
    const SALT128: [u8; 4] = [0xcd, 0xa8, 0xa3, 0x2c];
    const KEY256: [u8; 32] = [
        0x57, 0x29, 0xd7, 0x84, 0xc7, 0x49, 0x08, 0x81, 0x29, 0x77, 0x1a, 0xcd, 0x91, 0x47, 0x85,
        0x4a, 0x4d, 0xd1, 0xe6, 0x68, 0xe6, 0xf9, 0x8b, 0x31, 0x0a, 0xc6, 0x4a, 0xdb, 0xf7, 0xbb,
        0xc3, 0x17,
    ];
    const SALT256: [u8; 4] = [0xe7, 0x77, 0xa4, 0x14];
    const MH_PAYLOAD: [u8; 13] = [
        0x3b, 0x02, 0x05, 0x00, 0x00, 0x00, 0xa5, 0xf3, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];

    /// RFC 4106-shaped packet: AES-128-GCM, key ‖ salt = the docs/architecture.md suite-1 ha->mn row,
    /// SPI 0x00001001, sequence number 0x01020304 (IV the same as a 64-bit counter),
    /// payload MH_PAYLOAD (13 octets), one padding octet, next header 135.
    /// Expected bytes computed once, independently, with the python `cryptography`
    /// package (AESGCM(key).encrypt(salt ‖ iv, payload ‖ 01 ‖ 01 ‖ 87, spi ‖ seq)).
    const PACKET128: [u8; 48] = [
        0x00, 0x00, 0x10, 0x01, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03,
        0x04, 0x1b, 0x8e, 0x73, 0x16, 0x42, 0xed, 0x62, 0xc4, 0x53, 0xd5, 0x75, 0x3e, 0x66, 0xd0,
        0xc5, 0x94, 0xf7, 0xa7, 0x61, 0x10, 0x87, 0x9e, 0xdb, 0x17, 0xfa, 0x7c, 0x0a, 0x03, 0xaa,
        0xfa, 0xfc, 0x24,
    ];

    /// AES-256-GCM, key ‖ salt = the docs/architecture.md suite-2 ha->mn row, SPI 0x00001001,
    /// sequence number 1, payload 00 01 .. 27 (40 octets, tunnel mode), padding 01 02,
    /// next header 41. Expected bytes from the python `cryptography` package as above.
    const PACKET256: [u8; 76] = [
        0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x13, 0x26, 0xab, 0x5c, 0xe1, 0x8a, 0xac, 0xd0, 0x2d, 0x90, 0xd5, 0x30, 0xc7, 0x89,
        0x3a, 0xfd, 0xa1, 0x2a, 0x37, 0x24, 0x40, 0xcc, 0x5e, 0xc4, 0x8d, 0xef, 0xbd, 0xd0, 0x0a,
        0x2e, 0x22, 0xda, 0x0d, 0xec, 0x7a, 0xd7, 0xf1, 0xca, 0x11, 0xc7, 0x2f, 0xff, 0xae, 0x7f,
        0x64, 0x9e, 0xca, 0x07, 0x45, 0x83, 0x91, 0x4e, 0x95, 0xcb, 0xf1, 0x26, 0xca, 0xb7, 0xf9,
        0x79,
    ];

    fn spi() -> Spi {
        Spi::new(0x1001).unwrap()
    }

    fn key128() -> SaKey {
        SaKey::new(Suite::Aes128Gcm, &KEY128, SALT128).unwrap()
    }

    fn key256() -> SaKey {
        SaKey::new(Suite::Aes256Gcm, &KEY256, SALT256).unwrap()
    }

    fn inbound128() -> InboundSa {
        InboundSa::new(spi(), key128())
    }

    /// Seals an arbitrary plaintext (payload, padding and trailer chosen by the test)
    /// with the real AEAD, for packets `seal` would never produce.
    fn seal_raw(spi: u32, seq: u32, plaintext: &[u8]) -> Vec<u8> {
        let aead = AesGcmAead::from_key(&key128());
        let mut out = Vec::new();
        out.extend_from_slice(&spi.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&u64::from(seq).to_be_bytes());
        out.extend_from_slice(plaintext);
        let n = nonce(&SALT128, &out[8..16]);
        let (head, body) = out.split_at_mut(16);
        let tag = aead.seal_in_place(&n, &head[..8], body).unwrap();
        out.extend_from_slice(&tag);
        out
    }

    fn seal_matches_independent_aes128_packet<A: EspAead>() {
        let mut sa = OutboundSa::<A>::new(spi(), key128()).with_next_sequence(0x0102_0304);
        let mut buf = [0xEE; 64];
        buf[16..29].copy_from_slice(&MH_PAYLOAD);
        assert_eq!(trailer_len(13), 1 + 2 + 16);
        let len = sa.seal(&mut buf, 13, 135).unwrap();
        assert_eq!(len, 48);
        assert_eq!(buf[..48], PACKET128);
        assert!(
            buf[48..].iter().all(|&b| b == 0xEE),
            "nothing written past the packet"
        );
        assert_eq!(sa.next_sequence(), 0x0102_0305);
    }

    fn seal_matches_independent_aes256_packet<A: EspAead>() {
        let mut sa = OutboundSa::<A>::new(spi(), key256());
        let mut buf = [0; 76];
        for (i, b) in buf[16..56].iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(sa.seal(&mut buf, 40, 41), Ok(76));
        assert_eq!(buf, PACKET256);
    }

    #[test]
    fn the_iv_prefix_makes_a_repeated_sequence_number_a_new_nonce() {
        // Two lives of one SA that both start at sequence 1 (the second lost the
        // first's mark): with prefix 0 they write the same IV, so the same nonce.
        let seal_first = |prefix: u32| {
            let mut sa = OutboundSa::<AesGcmAead>::new(spi(), key128()).with_iv_prefix(prefix);
            assert_eq!(sa.iv_prefix(), prefix);
            let mut buf = [0; 48];
            buf[16..29].copy_from_slice(&MH_PAYLOAD);
            assert_eq!(sa.seal(&mut buf, 13, 135), Ok(48));
            buf
        };
        let plain = seal_first(0);
        let life_a = seal_first(0x5eed_0001);
        let life_b = seal_first(0x5eed_0002);
        for packet in [&plain, &life_a, &life_b] {
            let view = Packet::new_checked(&packet[..]).unwrap();
            assert_eq!(
                view.sequence_number(),
                1,
                "the sequence number is the counter"
            );
        }
        let iv = |p: &[u8; 48]| Packet::new_checked(&p[..]).unwrap().iv();
        assert_eq!(iv(&plain), 1, "prefix 0: IV = sequence number");
        assert_eq!(iv(&life_a), 0x5eed_0001_0000_0001);
        assert_eq!(iv(&life_b), 0x5eed_0002_0000_0001);
        assert_ne!(
            life_a[16..32],
            life_b[16..32],
            "another nonce, another ciphertext"
        );
        // The receiver takes the IV from the packet (RFC 4106 §3.1): all open.
        for mut packet in [plain, life_a, life_b] {
            let mut sa = inbound128();
            assert_eq!(sa.open(&mut packet).unwrap().payload, 16..29);
            assert_eq!(packet[16..29], MH_PAYLOAD);
        }
        // The counter stays below 2^32, so it never reaches the prefix's bits.
        let mut last = OutboundSa::<AesGcmAead>::new(spi(), key128())
            .with_next_sequence(SEQUENCE_END - 1)
            .with_iv_prefix(7);
        let mut buf = [0; 48];
        assert_eq!(last.seal(&mut buf, 13, 135), Ok(48));
        assert_eq!(
            Packet::new_checked(&buf[..]).unwrap().iv(),
            7 << 32 | 0xFFFF_FFFF
        );
        assert_eq!(last.seal(&mut buf, 13, 135), Err(Error::SequenceExhausted));
    }

    /// As the home agent uses [`AesGcmInline`](crate::esp::AesGcmInline): SAs built
    /// around one packet from parts kept elsewhere.
    fn transient_sas_keep_their_state_in_the_parts<A: EspAead>() {
        // Outbound: rebuilt around each packet from the key and the counter.
        let mut next = 0x0102_0304;
        let mut buf = [0xEE; 48];
        buf[16..29].copy_from_slice(&MH_PAYLOAD);
        let mut sa = OutboundSa::<A>::resume(spi(), key128(), next);
        assert_eq!(sa.seal(&mut buf, 13, 135), Ok(48));
        next = sa.next_sequence();
        assert_eq!(buf, PACKET128);
        assert_eq!(next, 0x0102_0305);
        let fresh = OutboundSa::<A>::resume(spi(), key128(), 0);
        assert_eq!(fresh.next_sequence(), 1, "0 is taken as 1");
        let mut spent = OutboundSa::<A>::resume(spi(), key128(), u64::MAX);
        assert_eq!(spent.seq_remaining(), 0);
        assert_eq!(
            spent.seal(&mut [0; 64], 0, 59),
            Err(Error::SequenceExhausted)
        );

        // Inbound: the window goes in and comes back with the packet recorded.
        let window = ReplayWindow::new(64).unwrap();
        let mut sa = InboundSa::<A>::with_window(spi(), key128(), window);
        assert_eq!(sa.open(&mut buf).unwrap().payload, 16..29);
        let window = sa.into_window();
        assert_eq!(window.top(), 0x0102_0304);
        let mut again = PACKET128;
        let mut sa = InboundSa::<A>::with_window(spi(), key128(), window);
        assert_eq!(
            sa.open(&mut again),
            Err(Error::Replayed { seq: 0x0102_0304 })
        );

        // The same on parts, the window borrowed.
        let aead = A::from_key(&key128());
        let mut window = ReplayWindow::new(64).unwrap();
        let mut buf = PACKET128;
        buf[20] ^= 1;
        assert_eq!(
            open_with(&aead, spi(), &SALT128, &mut window, &mut buf),
            Err(Error::BadIcv {
                offset: 32,
                seq: 0x0102_0304
            })
        );
        assert_eq!(window.top(), 0, "a forgery does not move the window");
        buf[20] ^= 1;
        let opened = open_with(&aead, spi(), &SALT128, &mut window, &mut buf).unwrap();
        assert_eq!(buf[opened.payload], MH_PAYLOAD);
        assert_eq!(window.top(), 0x0102_0304);
        let other = Spi::new(0x1002).unwrap();
        assert_eq!(
            open_with(&aead, other, &SALT128, &mut window, &mut PACKET128.clone()),
            Err(Error::WrongSpi {
                spi: 0x1001,
                expected: 0x1002
            })
        );
    }

    fn open_recovers_both_known_packets<A: EspAead>() {
        let mut buf = PACKET128;
        let opened = InboundSa::<A>::new(spi(), key128()).open(&mut buf).unwrap();
        assert_eq!(
            opened,
            Opened {
                next_header: 135,
                payload: 16..29,
                seq: 0x0102_0304
            }
        );
        assert_eq!(buf[opened.payload], MH_PAYLOAD);

        let mut buf = PACKET256;
        let opened = InboundSa::<A>::new(spi(), key256()).open(&mut buf).unwrap();
        assert_eq!(
            (opened.next_header, opened.payload.clone(), opened.seq),
            (41, 16..56, 1)
        );
        assert!(buf[opened.payload]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == i as u8));
    }

    fn every_truncation_is_rejected<A: EspAead>() {
        for len in 0..PACKET128.len() {
            let mut buf = PACKET128;
            let mut sa = InboundSa::<A>::new(spi(), key128());
            let err = sa.open(&mut buf[..len]).unwrap_err();
            if len < MIN_PACKET_LEN {
                assert_eq!(
                    err,
                    Error::Truncated(LenError::fixed(Layer::Esp, 0, MIN_PACKET_LEN, len)),
                    "len {len}"
                );
            } else {
                // Long enough to parse: ESP has no length field, so the cut shows as a
                // wrong ICV (the last 16 octets are taken as the ICV).
                assert_eq!(
                    err,
                    Error::BadIcv {
                        offset: len - 16,
                        seq: 0x0102_0304
                    },
                    "len {len}"
                );
            }
            assert_eq!(sa.window().top(), 0, "len {len}: window untouched");
        }
    }

    fn flipped_bits_fail_the_icv_and_do_not_move_the_window<A: EspAead>() {
        // Sequence number (AAD), IV, ciphertext start/end, ICV start/end.
        for (offset, bit) in [
            (7, 0x01),
            (4, 0x80),
            (8, 0x10),
            (15, 0x01),
            (16, 0x01),
            (31, 0x80),
            (32, 0x01),
            (47, 0x80),
        ] {
            let mut buf = PACKET128;
            buf[offset] ^= bit;
            let mut sa = InboundSa::<A>::new(spi(), key128());
            let seq = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
            assert_eq!(
                sa.open(&mut buf),
                Err(Error::BadIcv { offset: 32, seq }),
                "offset {offset}"
            );
            assert_eq!(sa.window().top(), 0);
            // Nothing was decrypted, and the genuine packet still opens afterwards.
            buf[offset] ^= bit;
            assert_eq!(buf, PACKET128);
            assert_eq!(sa.open(&mut buf).unwrap().seq, 0x0102_0304);
        }
    }

    test_every_aead!(
        seal_matches_independent_aes128_packet,
        seal_matches_independent_aes256_packet,
        transient_sas_keep_their_state_in_the_parts,
        open_recovers_both_known_packets,
        every_truncation_is_rejected,
        flipped_bits_fail_the_icv_and_do_not_move_the_window,
    );

    #[test]
    fn replayed_too_old_and_zero_sequence_numbers() {
        let mut sa =
            InboundSa::<AesGcmAead>::with_window(spi(), key128(), ReplayWindow::new(64).unwrap());
        let mut buf = PACKET128;
        sa.open(&mut buf).unwrap();
        let mut buf = PACKET128;
        assert_eq!(sa.open(&mut buf), Err(Error::Replayed { seq: 0x0102_0304 }));
        assert_eq!(buf, PACKET128, "rejected before decryption");

        let mut old = seal_raw(0x1001, 0x0102_0304 - 64, &[0, 135]);
        assert_eq!(
            sa.open(&mut old),
            Err(Error::TooOld {
                seq: 0x0102_0304 - 64
            })
        );
        let mut in_window = seal_raw(0x1001, 0x0102_0304 - 63, &[0, 135]);
        assert_eq!(sa.open(&mut in_window).unwrap().payload, 16..16);

        let mut zero = seal_raw(0x1001, 0, &[0, 135]);
        assert_eq!(inbound128().open(&mut zero), Err(Error::SequenceZero));
    }

    #[test]
    fn reserved_and_foreign_spis_are_rejected() {
        for spi in [0u32, 1, 255] {
            let mut buf = seal_raw(spi, 1, &[0, 135]);
            assert_eq!(inbound128().open(&mut buf), Err(Error::ReservedSpi { spi }));
        }
        let mut buf = seal_raw(0x1002, 1, &[0, 135]);
        assert_eq!(
            inbound128().open(&mut buf),
            Err(Error::WrongSpi {
                spi: 0x1002,
                expected: 0x1001
            })
        );
    }

    #[test]
    fn bad_padding_and_pad_length_are_rejected_but_consume_the_sequence_number() {
        // Padding 01 03 instead of 01 02: the second padding octet is wrong.
        let mut buf = seal_raw(0x1001, 7, &[0xAA, 0xBB, 0x01, 0x03, 2, 135]);
        let mut sa = inbound128();
        assert_eq!(sa.open(&mut buf), Err(Error::BadPadding { offset: 16 + 3 }));
        assert_eq!(sa.window().top(), 7, "the ICV verified: the number is used");

        // Padding 00 01: wrong from the first octet.
        let mut buf = seal_raw(0x1001, 8, &[0x00, 0x01, 2, 4]);
        assert_eq!(sa.open(&mut buf), Err(Error::BadPadding { offset: 16 }));

        // Pad Length 5 with only 4 octets before it.
        let mut buf = seal_raw(0x1001, 9, &[1, 2, 3, 4, 5, 135]);
        assert_eq!(
            sa.open(&mut buf),
            Err(Error::BadPadLength {
                offset: 16 + 4,
                pad_len: 5
            })
        );
        // Pad Length 4 exactly fits, and 255 octets of padding are accepted.
        let mut buf = seal_raw(0x1001, 10, &[1, 2, 3, 4, 4, 59]);
        let opened = sa.open(&mut buf).unwrap();
        assert_eq!(opened.payload, 16..16);
        assert!(opened.is_dummy());
        let mut long: Vec<u8> = (1..=255).collect();
        long.extend_from_slice(&[255, 41]);
        let mut buf = seal_raw(0x1001, 11, &long);
        assert_eq!(sa.open(&mut buf).unwrap().payload, 16..16);
    }

    #[test]
    fn sequence_counter_never_wraps() {
        let sa = OutboundSa::<AesGcmAead>::new(spi(), key128());
        assert_eq!(sa.next_sequence(), 1);
        assert_eq!(sa.seq_remaining(), u64::from(u32::MAX));
        let mut sa = sa.with_next_sequence(u64::from(u32::MAX) - 1);
        assert_eq!(sa.seq_remaining(), 2);
        let mut buf = [0; 64];
        let mut inbound = inbound128();
        for expected in [u32::MAX - 1, u32::MAX] {
            let len = sa.seal(&mut buf, 0, 59).unwrap();
            let opened = inbound.open(&mut buf[..len]).unwrap();
            assert_eq!(opened.seq, expected);
        }
        assert_eq!(sa.seq_remaining(), 0);
        for _ in 0..3 {
            assert_eq!(sa.seal(&mut buf, 0, 59), Err(Error::SequenceExhausted));
        }
        assert_eq!(sa.next_sequence(), 1 << 32);
        // Restoring out-of-range values: 0 becomes 1, beyond 2^32 stays exhausted.
        let sa = OutboundSa::<AesGcmAead>::new(spi(), key128()).with_next_sequence(0);
        assert_eq!(sa.next_sequence(), 1);
        let mut sa = sa.with_next_sequence(u64::MAX);
        assert_eq!(sa.seal(&mut buf, 0, 59), Err(Error::SequenceExhausted));
    }

    #[test]
    fn too_small_buffer_is_refused_without_using_a_sequence_number() {
        let mut sa = OutboundSa::<AesGcmAead>::new(spi(), key128());
        let mut buf = [0; 47];
        assert_eq!(
            sa.seal(&mut buf, 13, 135),
            Err(Error::NoRoom {
                needed: 48,
                actual: 47
            })
        );
        assert_eq!(sa.next_sequence(), 1);
        assert!(matches!(
            sa.seal(&mut buf, usize::MAX - 4, 135),
            Err(Error::NoRoom { .. })
        ));
    }

    #[test]
    fn padding_aligns_the_trailer_to_four_octets() {
        for len in 0..64 {
            assert_eq!((len + padding_len(len) + 2) % 4, 0);
            assert!(padding_len(len) < 4);
            assert_eq!(sealed_len(len), 16 + len + trailer_len(len));
        }
        assert_eq!(padding_len(usize::MAX), (4 - (usize::MAX % 4 + 2) % 4) % 4);
    }

    #[test]
    fn null_aead_leaves_plaintext_visible_and_accepts_any_icv() {
        let mut out = OutboundSa::<NullAead>::new(spi(), key128());
        let mut inb = InboundSa::<NullAead>::new(spi(), key128());
        let mut buf = [0; 40];
        buf[16..20].copy_from_slice(b"abcd");
        let len = out.seal(&mut buf, 4, 135).unwrap();
        assert_eq!(&buf[16..24], &[b'a', b'b', b'c', b'd', 1, 2, 2, 135]);
        buf[len - 1] ^= 0xFF;
        assert_eq!(inb.open(&mut buf[..len]).unwrap().payload, 16..20);
    }

    proptest! {
        #[test]
        fn seal_then_open_round_trips(
            payload in prop::collection::vec(any::<u8>(), 0..1600),
            next_header: u8,
            aes256: bool,
            start in 1u64..=u64::from(u32::MAX),
            extra in 0usize..8,
        ) {
            let key = if aes256 { key256() } else { key128() };
            let mut out = OutboundSa::<AesGcmAead>::new(spi(), key.clone()).with_next_sequence(start);
            let mut inb = InboundSa::<AesGcmAead>::new(spi(), key);
            let total = sealed_len(payload.len());
            let mut buf = vec![0xA5; total + extra];
            buf[16..16 + payload.len()].copy_from_slice(&payload);
            prop_assert_eq!(out.seal(&mut buf, payload.len(), next_header), Ok(total));
            prop_assert_eq!(total % 4, 0);
            prop_assert!(buf[total..].iter().all(|&b| b == 0xA5));
            let opened = inb.open(&mut buf[..total]).unwrap();
            prop_assert_eq!(opened.next_header, next_header);
            prop_assert_eq!(opened.seq as u64, start);
            prop_assert_eq!(&buf[opened.payload], &payload[..]);
        }

        #[test]
        fn open_never_panics_on_garbage(mut bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = inbound128().open(&mut bytes);
            let _ = InboundSa::<NullAead>::new(spi(), key128()).open(&mut bytes);
        }
    }
}
