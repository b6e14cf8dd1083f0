//! [`RingAead`]: the ESP AEAD (RFC 4106) from the `ring` crate, behind mip6-wire's
//! non-default `ring` feature.
//!
//! Same suites, nonce and ICV as the default [`AesGcmAead`](super::AesGcmAead): AES-128-GCM
//! and AES-256-GCM with a 16-octet ICV (RFC 4106 §8.1), a 12-octet nonce of salt ‖
//! explicit IV (RFC 4106 §4), the SPI ‖ Sequence Number as AAD (RFC 4106 §5). Its AES and
//! GHASH are BoringSSL's assembly (AES-NI, PCLMULQDQ, AVX where the CPU has them): 2 to
//! 2.7 times as fast as aes-gcm 0.11 over a 1420-octet packet, 1.4 times over 64 octets
//! (docs/benchmarks-lab.md, "ESP microbench"). Building it needs a C compiler, which is
//! why it is not the default.
//!
//! **Opening leaves a forgery as it came, at the price of a copy.** `ring` decrypts and
//! authenticates in one pass and, when the ICV is wrong, zeroes the buffer (so no
//! unauthenticated plaintext is left behind). [`EspAead::open_in_place`] promises the
//! buffer unchanged on error, so the ciphertext is copied aside first, into one buffer
//! per thread that grows to the largest packet the thread has opened and is then
//! reused, and copied back if the ICV fails. The copy holds ciphertext only.
//!
//! **Not wiped on drop.** `ring`'s keys do not implement `Zeroize` and wipe nothing when
//! dropped: the expanded AES round keys and the GHASH key table of every `RingAead` stay
//! in freed memory (heap or stack) until something overwrites them. The raw key and salt
//! ([`SaKey`]) are still wiped as with any AEAD. Where that matters more than the speed,
//! build without the `ring` feature: [`AesGcmAead`](super::AesGcmAead) and
//! [`AesGcmInline`](super::AesGcmInline) wipe their expanded state.
//!
//! Not supported, as for the default AEAD: ICVs of 8 or 12 octets, AES-192.

use super::aead::{AeadError, EspAead, SaKey, Suite};
use super::{ICV_LEN, NONCE_LEN};
use core::cell::RefCell;
use core::fmt;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_128_GCM, AES_256_GCM};

/// AES-128-GCM or AES-256-GCM (RFC 4106, 16-octet ICV) from `ring`. The key state is
/// held inline (560 octets on x86-64) and built without allocating, so it serves both as a
/// long-lived SA's cipher and as one built around a single packet, as the home agent
/// builds [`AesGcmInline`](super::AesGcmInline). Not wiped on drop (module docs).
#[derive(Clone)]
pub struct RingAead {
    key: LessSafeKey,
    suite: Suite,
}

impl fmt::Debug for RingAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RingAead({:?}, <key>)", self.suite)
    }
}

std::thread_local! {
    /// The ciphertext of the packet being opened on this thread, to put back if the
    /// ICV fails (module docs). Grows to the largest packet opened, never shrinks.
    static CIPHERTEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl RingAead {
    /// RFC 4106 §3: decrypts `buf` in place if `icv` verifies over `aad` and `buf`; on
    /// failure `ring` has zeroed `buf`, and it is left so.
    fn open_or_zero(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        icv: &[u8; ICV_LEN],
    ) -> Result<(), AeadError> {
        self.key
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                Tag::from(*icv),
                buf,
                0..,
            )
            .map(|_| ())
            .map_err(|_| AeadError)
    }
}

impl EspAead for RingAead {
    fn from_key(key: &SaKey) -> Self {
        let algorithm = match key.suite() {
            Suite::Aes128Gcm => &AES_128_GCM,
            Suite::Aes256Gcm => &AES_256_GCM,
        };
        // Cannot fail: SaKey holds exactly the suite's key length.
        let unbound =
            UnboundKey::new(algorithm, key.key()).expect("SaKey holds the suite's key length");
        RingAead {
            key: LessSafeKey::new(unbound),
            suite: key.suite(),
        }
    }

    /// RFC 4106 §3: encrypts `buf` in place under `nonce` (salt ‖ explicit IV, §4) and
    /// returns the 16-octet ICV over `aad` (§5) and the ciphertext. Fails only for an
    /// input longer than GCM allows for one nonce.
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; ICV_LEN], AeadError> {
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
            .map_err(|_| AeadError)?;
        let mut icv = [0; ICV_LEN];
        icv.copy_from_slice(tag.as_ref());
        Ok(icv)
    }

    /// RFC 4106 §3 and RFC 4303 §3.4.4: compares the ICV in constant time (`ring`'s
    /// `verify_slices_are_equal`) and leaves the plaintext in `buf` only if it verifies;
    /// on error `buf` is its ciphertext again (module docs: copied aside, put back).
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        icv: &[u8; ICV_LEN],
    ) -> Result<(), AeadError> {
        let opened = CIPHERTEXT.try_with(|saved| {
            // Never borrowed elsewhere: nothing below calls back into this module.
            let mut saved = saved.borrow_mut();
            saved.clear();
            saved.extend_from_slice(buf);
            let opened = self.open_or_zero(nonce, aad, buf, icv);
            if opened.is_err() {
                buf.copy_from_slice(&saved);
            }
            opened
        });
        match opened {
            Ok(opened) => opened,
            // The thread is exiting and its buffer is gone: a copy of its own.
            Err(_) => {
                let saved = buf.to_vec();
                let opened = self.open_or_zero(nonce, aad, buf, icv);
                if opened.is_err() {
                    buf.copy_from_slice(&saved);
                }
                opened
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esp::AesGcmAead;
    use proptest::prelude::*;

    /// Everything one cross-check seals: suite, key, nonce, AAD, plaintext, and the
    /// octet of ciphertext ‖ ICV a forgery changes (index modulo the length) and how.
    #[derive(Debug)]
    struct Case {
        key: SaKey,
        nonce: [u8; NONCE_LEN],
        aad: Vec<u8>,
        plaintext: Vec<u8>,
        forge_at: usize,
        flip: u8,
    }

    prop_compose! {
        fn case()(
            suite in prop_oneof![Just(Suite::Aes128Gcm), Just(Suite::Aes256Gcm)],
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; NONCE_LEN]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..=24),
            plaintext in proptest::collection::vec(any::<u8>(), 0..=2048),
            forge_at in any::<usize>(),
            flip in 1..=255u8,
        ) -> Case {
            let key = SaKey::new(suite, &key[..suite.key_len()], [0; 4]).unwrap();
            Case { key, nonce, aad, plaintext, forge_at, flip }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// `ring` and RustCrypto agree octet for octet on ciphertext and ICV, each opens
        /// what the other sealed, and each refuses the same forgery and leaves it as it
        /// came.
        #[test]
        fn ring_and_aes_gcm_agree(case in case()) {
            let Case { key, nonce, aad, plaintext, forge_at, flip } = case;
            let ring = RingAead::from_key(&key);
            let rust = AesGcmAead::from_key(&key);

            let mut by_ring = plaintext.clone();
            let ring_icv = ring.seal_in_place(&nonce, &aad, &mut by_ring).unwrap();
            let mut by_rust = plaintext.clone();
            let rust_icv = rust.seal_in_place(&nonce, &aad, &mut by_rust).unwrap();
            prop_assert_eq!(&by_ring, &by_rust, "ciphertext");
            prop_assert_eq!(ring_icv, rust_icv, "ICV");

            let mut opened = by_ring.clone();
            rust.open_in_place(&nonce, &aad, &mut opened, &ring_icv).unwrap();
            prop_assert_eq!(&opened, &plaintext, "aes-gcm opens ring's");
            let mut opened = by_rust.clone();
            ring.open_in_place(&nonce, &aad, &mut opened, &rust_icv).unwrap();
            prop_assert_eq!(&opened, &plaintext, "ring opens aes-gcm's");

            // One octet of ciphertext ‖ ICV changed: both refuse, neither touches it.
            let mut forged = by_ring.clone();
            let mut icv = ring_icv;
            let at = forge_at % (forged.len() + ICV_LEN);
            match forged.get_mut(at) {
                Some(octet) => *octet ^= flip,
                None => icv[at - by_ring.len()] ^= flip,
            }
            let kept = forged.clone();
            prop_assert_eq!(ring.open_in_place(&nonce, &aad, &mut forged, &icv), Err(AeadError));
            prop_assert_eq!(&forged, &kept, "ring leaves a forgery unchanged");
            prop_assert_eq!(rust.open_in_place(&nonce, &aad, &mut forged, &icv), Err(AeadError));
            prop_assert_eq!(&forged, &kept, "aes-gcm leaves a forgery unchanged");
        }
    }

    #[test]
    fn a_forgery_after_a_larger_packet_is_put_back_whole() {
        // The per-thread copy is longer than the second packet: only its own length
        // goes back.
        let key = SaKey::new(Suite::Aes128Gcm, &[3; 16], [0; 4]).unwrap();
        let ring = RingAead::from_key(&key);
        let nonce = [9; NONCE_LEN];
        let mut big = vec![0x11; 1500];
        let icv = ring.seal_in_place(&nonce, b"aad", &mut big).unwrap();
        ring.open_in_place(&nonce, b"aad", &mut big, &icv).unwrap();
        let mut small = vec![0x22; 40];
        let icv = ring.seal_in_place(&nonce, b"aad", &mut small).unwrap();
        let sealed = small.clone();
        let mut bad = icv;
        bad[3] ^= 0x40;
        assert_eq!(
            ring.open_in_place(&nonce, b"aad", &mut small, &bad),
            Err(AeadError)
        );
        assert_eq!(small, sealed);
        ring.open_in_place(&nonce, b"aad", &mut small, &icv)
            .unwrap();
        assert_eq!(small, [0x22; 40]);
    }

    #[test]
    fn debug_names_the_suite_and_hides_the_key() {
        let key = SaKey::new(Suite::Aes256Gcm, &[0xAB; 32], [0xCD; 4]).unwrap();
        let shown = format!("{:?}", RingAead::from_key(&key));
        assert_eq!(shown, "RingAead(Aes256Gcm, <key>)");
    }
}
