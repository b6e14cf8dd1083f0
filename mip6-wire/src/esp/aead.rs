//! The AEAD behind ESP (RFC 4106): cipher suites, SA key material, the [`EspAead`]
//! trait and its default RustCrypto AES-GCM implementation.
//!
//! **Zeroization.** [`SaKey`] (the raw key ‖ salt, RFC 4106 §8.1) is wiped on drop, and
//! so is the expanded cipher state inside [`AesGcmAead`] (AES round keys, the GHASH key
//! H): the workspace builds `aes-gcm` 0.11 with its `zeroize` feature, which makes the
//! `aes` and `polyval` states it holds wipe themselves when the cipher is dropped (checked
//! at compile time below).
//!
//! Not supported: ICVs of 8 or 12 octets (RFC 4106 §8.1 defines them; docs/architecture.md uses 16),
//! AES-192.

use super::{ICV_LEN, NONCE_LEN, SALT_LEN};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The ESP cipher suites (docs/architecture.md "Key schedule"; RFC 4106 with a 16-octet ICV).
/// The code point is the one the Key Distribution option and the key schedule carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-128-GCM, 16-octet ICV: code point 1, 16-octet key.
    Aes128Gcm,
    /// AES-256-GCM, 16-octet ICV: code point 2, 32-octet key.
    Aes256Gcm,
}

impl Suite {
    /// The suite with this code point, if any (1 = AES-128-GCM, 2 = AES-256-GCM).
    pub const fn from_code(code: u8) -> Option<Suite> {
        match code {
            1 => Some(Suite::Aes128Gcm),
            2 => Some(Suite::Aes256Gcm),
            _ => None,
        }
    }

    /// The suite's code point.
    pub const fn code(self) -> u8 {
        match self {
            Suite::Aes128Gcm => 1,
            Suite::Aes256Gcm => 2,
        }
    }

    /// AES key length in octets (RFC 4106 §8.1: the KEYMAT is key ‖ 4-octet salt).
    pub const fn key_len(self) -> usize {
        match self {
            Suite::Aes128Gcm => 16,
            Suite::Aes256Gcm => 32,
        }
    }

    /// Name as Wireshark's `esp_sa` file spells the encryption algorithm.
    pub const fn wireshark_name(self) -> &'static str {
        "AES-GCM with 16 octet ICV [RFC4106]"
    }
}

/// Largest AES key any suite uses.
pub const MAX_KEY_LEN: usize = 32;

/// The keying material of one SA: AES key and 4-octet salt (RFC 4106 §8.1).
/// Wiped on drop; `Debug` never prints it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SaKey {
    #[zeroize(skip)]
    suite: Suite,
    key: [u8; MAX_KEY_LEN],
    salt: [u8; SALT_LEN],
}

impl SaKey {
    /// Key material for `suite`; `None` unless `key` is exactly the suite's key length.
    pub fn new(suite: Suite, key: &[u8], salt: [u8; SALT_LEN]) -> Option<SaKey> {
        if key.len() != suite.key_len() {
            return None;
        }
        let mut sa_key = SaKey {
            suite,
            key: [0; MAX_KEY_LEN],
            salt,
        };
        sa_key.key[..key.len()].copy_from_slice(key);
        Some(sa_key)
    }

    /// Splits HKDF output `key ‖ salt` (RFC 4106 §8.1 KEYMAT); `None` unless it is
    /// `suite.key_len() + 4` octets.
    pub fn from_keymat(suite: Suite, keymat: &[u8]) -> Option<SaKey> {
        if keymat.len() != suite.key_len() + SALT_LEN {
            return None;
        }
        let (key, salt) = keymat.split_at(suite.key_len());
        let mut salt_octets = [0; SALT_LEN];
        salt_octets.copy_from_slice(salt);
        SaKey::new(suite, key, salt_octets)
    }

    /// The suite the key is for.
    pub const fn suite(&self) -> Suite {
        self.suite
    }

    /// The AES key (16 or 32 octets).
    pub fn key(&self) -> &[u8] {
        &self.key[..self.suite.key_len()]
    }

    /// The 4-octet salt (RFC 4106 §4).
    pub const fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }
}

impl fmt::Debug for SaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaKey({:?}, <redacted>)", self.suite)
    }
}

impl PartialEq for SaKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.suite == other.suite
            && bool::from(self.key.ct_eq(&other.key) & self.salt.ct_eq(&other.salt))
    }
}

impl Eq for SaKey {}

// Both ciphers wipe their round keys and GHASH key on drop: this fails to compile if the
// `zeroize` feature of aes-gcm (and through it of aes and polyval) is ever turned off.
const _: fn() = || {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<Aes128Gcm>();
    wiped_on_drop::<Aes256Gcm>();
};

/// The AES-128-GCM or AES-256-GCM cipher for `key`.
macro_rules! cipher_for {
    ($cipher:ty, $key:expr) => {
        // Cannot fail: SaKey holds exactly the suite's key length.
        <$cipher>::new_from_slice($key.key()).expect("SaKey holds the suite's key length")
    };
}

/// The AEAD refused the operation: a wrong ICV on open, an over-long input on seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("AEAD operation failed")]
pub struct AeadError;

/// An AEAD usable for ESP (RFC 4106 §2): 12-octet nonce, 16-octet ICV, encryption in
/// place with the ICV detached. Implement it to plug in another AES-GCM.
pub trait EspAead {
    /// Builds the cipher from an SA's key (the salt stays with the SA, not here).
    fn from_key(key: &SaKey) -> Self
    where
        Self: Sized;

    /// Encrypts `buf` in place and returns the ICV over `aad` and the ciphertext.
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; ICV_LEN], AeadError>;

    /// Verifies `icv` over `aad` and the ciphertext in `buf` (in constant time), and
    /// decrypts `buf` in place only if it verifies. On error `buf` is unchanged.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        icv: &[u8; ICV_LEN],
    ) -> Result<(), AeadError>;
}

/// RustCrypto `aes-gcm` (AES-NI/CLMUL when the CPU has them, constant-time software
/// otherwise) for both suites. The cipher state is boxed so SAs stay small; it is
/// allocated once per SA, never per packet.
#[derive(Clone)]
pub enum AesGcmAead {
    /// AES-128-GCM.
    Aes128(Box<Aes128Gcm>),
    /// AES-256-GCM.
    Aes256(Box<Aes256Gcm>),
}

impl fmt::Debug for AesGcmAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AesGcmAead::Aes128(_) => f.write_str("AesGcmAead::Aes128(<key>)"),
            AesGcmAead::Aes256(_) => f.write_str("AesGcmAead::Aes256(<key>)"),
        }
    }
}

impl EspAead for AesGcmAead {
    fn from_key(key: &SaKey) -> Self {
        match key.suite() {
            Suite::Aes128Gcm => AesGcmAead::Aes128(Box::new(cipher_for!(Aes128Gcm, key))),
            Suite::Aes256Gcm => AesGcmAead::Aes256(Box::new(cipher_for!(Aes256Gcm, key))),
        }
    }

    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; ICV_LEN], AeadError> {
        let tag = match self {
            AesGcmAead::Aes128(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
            AesGcmAead::Aes256(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
        }
        .map_err(|_| AeadError)?;
        Ok(tag.into())
    }

    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        icv: &[u8; ICV_LEN],
    ) -> Result<(), AeadError> {
        match self {
            AesGcmAead::Aes128(c) => {
                c.decrypt_inout_detached(nonce.into(), aad, buf.into(), icv.into())
            }
            AesGcmAead::Aes256(c) => {
                c.decrypt_inout_detached(nonce.into(), aad, buf.into(), icv.into())
            }
        }
        .map_err(|_| AeadError)
    }
}

/// RustCrypto `aes-gcm` like [`AesGcmAead`], with the cipher state held inline instead
/// of boxed: for an SA built on the stack around one packet from key material kept
/// compact elsewhere (a home agent with a million mobile nodes keeps no expanded
/// cipher per idle SA). Building it costs one AES key expansion and the GHASH key, no
/// allocation; the round keys and H are wiped when it is dropped (the `aes` and
/// `polyval` `zeroize` features, as for [`AesGcmAead`]). Do not keep one per SA: it
/// is ~1000 octets.
#[derive(Clone)]
// Boxing the larger variant would bring back the allocation this type exists to avoid.
#[allow(clippy::large_enum_variant)]
pub enum AesGcmInline {
    /// AES-128-GCM.
    Aes128(Aes128Gcm),
    /// AES-256-GCM.
    Aes256(Aes256Gcm),
}

impl fmt::Debug for AesGcmInline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AesGcmInline::Aes128(_) => f.write_str("AesGcmInline::Aes128(<key>)"),
            AesGcmInline::Aes256(_) => f.write_str("AesGcmInline::Aes256(<key>)"),
        }
    }
}

impl EspAead for AesGcmInline {
    fn from_key(key: &SaKey) -> Self {
        match key.suite() {
            Suite::Aes128Gcm => AesGcmInline::Aes128(cipher_for!(Aes128Gcm, key)),
            Suite::Aes256Gcm => AesGcmInline::Aes256(cipher_for!(Aes256Gcm, key)),
        }
    }

    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; ICV_LEN], AeadError> {
        let tag = match self {
            AesGcmInline::Aes128(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
            AesGcmInline::Aes256(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
        }
        .map_err(|_| AeadError)?;
        Ok(tag.into())
    }

    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        icv: &[u8; ICV_LEN],
    ) -> Result<(), AeadError> {
        match self {
            AesGcmInline::Aes128(c) => {
                c.decrypt_inout_detached(nonce.into(), aad, buf.into(), icv.into())
            }
            AesGcmInline::Aes256(c) => {
                c.decrypt_inout_detached(nonce.into(), aad, buf.into(), icv.into())
            }
        }
        .map_err(|_| AeadError)
    }
}

/// The identity "AEAD" for fuzzing past the ICV (as rustls' fuzzing provider does):
/// seal leaves the plaintext as it is and writes an all-zero ICV; open accepts any ICV.
/// Compiled only under `cfg(test)`, `cfg(fuzzing)` or the `null-aead` feature (which
/// the engine fuzz targets and the test kit turn on, and no daemon does).
#[cfg(any(test, fuzzing, feature = "null-aead"))]
#[derive(Debug, Clone, Copy, Default)]
pub struct NullAead;

#[cfg(any(test, fuzzing, feature = "null-aead"))]
impl EspAead for NullAead {
    fn from_key(_key: &SaKey) -> Self {
        NullAead
    }

    fn seal_in_place(
        &self,
        _nonce: &[u8; NONCE_LEN],
        _aad: &[u8],
        _buf: &mut [u8],
    ) -> Result<[u8; ICV_LEN], AeadError> {
        Ok([0; ICV_LEN])
    }

    fn open_in_place(
        &self,
        _nonce: &[u8; NONCE_LEN],
        _aad: &[u8],
        _buf: &mut [u8],
        _icv: &[u8; ICV_LEN],
    ) -> Result<(), AeadError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One McGrew–Viega test case ("The Galois/Counter Mode of Operation", 2005,
    /// Appendix B). Values typed in from the spec and cross-checked against the python
    /// `cryptography` package's AESGCM.
    struct Case {
        name: &'static str,
        key: &'static str,
        iv: &'static str,
        aad: &'static str,
        pt: &'static str,
        ct: &'static str,
        tag: &'static str,
    }

    const K1: &str = "feffe9928665731c6d6a8f9467308308";
    const K2: &str = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    const IV: &str = "cafebabefacedbaddecaf888";
    const AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    const P64: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                       1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    const P60: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                       1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

    const CASES: &[Case] = &[
        Case {
            name: "Test Case 2",
            key: "00000000000000000000000000000000",
            iv: "000000000000000000000000",
            aad: "",
            pt: "00000000000000000000000000000000",
            ct: "0388dace60b6a392f328c2b971b2fe78",
            tag: "ab6e47d42cec13bdf53a67b21257bddf",
        },
        Case {
            name: "Test Case 3",
            key: K1,
            iv: IV,
            aad: "",
            pt: P64,
            ct: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
            tag: "4d5c2af327cd64a62cf35abd2ba6fab4",
        },
        Case {
            name: "Test Case 4",
            key: K1,
            iv: IV,
            aad: AAD,
            pt: P60,
            ct: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
            tag: "5bc94fbc3221a5db94fae95ae7121a47",
        },
        Case {
            name: "Test Case 14",
            key: "0000000000000000000000000000000000000000000000000000000000000000",
            iv: "000000000000000000000000",
            aad: "",
            pt: "00000000000000000000000000000000",
            ct: "cea7403d4d606b6e074ec5d3baf39d18",
            tag: "d0d1c8a799996bf0265b98b5d48ab919",
        },
        Case {
            name: "Test Case 15",
            key: K2,
            iv: IV,
            aad: "",
            pt: P64,
            ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
            tag: "b094dac5d93471bdec1a502270e3cc6c",
        },
        Case {
            name: "Test Case 16",
            key: K2,
            iv: IV,
            aad: AAD,
            pt: P60,
            ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            tag: "76fc6ece0f4e1768cddf8853bb2d551b",
        },
    ];

    fn h(s: &str) -> Vec<u8> {
        let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        hex::decode(clean).unwrap()
    }

    fn sa_key(key: &[u8]) -> SaKey {
        let suite = if key.len() == 16 {
            Suite::Aes128Gcm
        } else {
            Suite::Aes256Gcm
        };
        SaKey::new(suite, key, [0; 4]).unwrap()
    }

    /// The McGrew–Viega vectors through the trait, for the AEAD `A`: seal gives the
    /// spec's ciphertext and tag, `A` and the default [`AesGcmAead`] each open what `A`
    /// sealed, and a flipped tag bit fails and leaves the buffer as it was.
    fn mcgrew_viega_vectors<A: EspAead>() {
        for case in CASES {
            let key = sa_key(&h(case.key));
            let aead = A::from_key(&key);
            let nonce: [u8; 12] = h(case.iv).try_into().unwrap();
            let aad = h(case.aad);
            let mut buf = h(case.pt);
            let tag = aead.seal_in_place(&nonce, &aad, &mut buf).unwrap();
            assert_eq!(buf, h(case.ct), "{} ciphertext", case.name);
            assert_eq!(tag.to_vec(), h(case.tag), "{} tag", case.name);

            aead.open_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
            assert_eq!(buf, h(case.pt), "{} decrypt", case.name);
            let mut buf = h(case.ct);
            AesGcmAead::from_key(&key)
                .open_in_place(&nonce, &aad, &mut buf, &tag)
                .unwrap();
            assert_eq!(buf, h(case.pt), "{} decrypt by the default AEAD", case.name);

            for (at, bit) in [(15, 0x01), (0, 0x80)] {
                let ct = h(case.ct);
                let mut buf = ct.clone();
                let mut bad = tag;
                bad[at] ^= bit;
                assert_eq!(
                    aead.open_in_place(&nonce, &aad, &mut buf, &bad),
                    Err(AeadError)
                );
                assert_eq!(buf, ct, "{} buffer untouched on failure", case.name);
            }
        }
    }

    test_every_aead!(mcgrew_viega_vectors);

    #[test]
    fn key_length_must_match_suite_and_debug_hides_it() {
        assert!(SaKey::new(Suite::Aes128Gcm, &[1; 32], [0; 4]).is_none());
        assert!(SaKey::new(Suite::Aes256Gcm, &[1; 16], [0; 4]).is_none());
        assert!(SaKey::from_keymat(Suite::Aes128Gcm, &[1; 19]).is_none());
        let k = SaKey::from_keymat(Suite::Aes128Gcm, &[7; 20]).unwrap();
        assert_eq!(k.key(), &[7; 16]);
        assert_eq!(k.salt(), &[7; 4]);
        assert!(!format!("{k:?}").contains('7'));
        for code in 0..=255u8 {
            match Suite::from_code(code) {
                Some(s) => assert_eq!(s.code(), code),
                None => assert!(code == 0 || code > 2),
            }
        }
    }

    #[test]
    fn zeroize_wipes_key_and_salt() {
        let mut k = SaKey::new(Suite::Aes256Gcm, &[0xAB; 32], [0xCD; 4]).unwrap();
        k.zeroize();
        assert_eq!(k.key(), &[0; 32]);
        assert_eq!(k.salt(), &[0; 4]);
    }
}
