//! The mip6 key schedule (docs/architecture.md "Key schedule"): HKDF with HMAC-SHA-256
//! (RFC 5869) from a 32-octet generation (or initialization) secret to one AES-GCM
//! key ‖ salt (RFC 4106 §8.1 KEYMAT) per direction.
//!
//! ```text
//! PRK      = HKDF-Extract(salt = "mip6 key schedule v1", IKM = secret)
//! k_ha2mn  = HKDF-Expand(PRK, "ha->mn" ‖ HoA ‖ SPI_ha2mn ‖ suite, keylen + 4)   # key ‖ salt
//! k_mn2ha  = HKDF-Expand(PRK, "mn->ha" ‖ HoA ‖ SPI_mn2ha ‖ suite, keylen + 4)
//! ```
//!
//! Labels are ASCII without terminator, the HoA its 16 octets, the SPI 4 octets in
//! network order, the suite its 1-octet code point (1 = AES-128-GCM, 2 = AES-256-GCM).
//!
//! **Zeroization.** The input [`Secret32`] and the output [`SaKey`] are wiped on drop, as
//! is the intermediate output buffer here. The PRK lives inside the `hkdf` crate's HMAC
//! state ([`KeySchedule`]), which `hkdf` 0.12 does not wipe; keep a `KeySchedule` only as
//! long as the derivation takes (the free function [`derive_sa_key`] does).
//!
//! Not supported: other hash functions, suites, or label versions.

use crate::esp::{SaKey, Spi, Suite};
use crate::Secret32;
use hkdf::Hkdf;
use sha2::Sha256;
use std::net::Ipv6Addr;
use zeroize::Zeroize;

use crate::esp::aead::MAX_KEY_LEN;

/// HKDF-Extract salt of the schedule (docs/architecture.md; versioned so a later schedule differs).
pub const KDF_SALT: &[u8] = b"mip6 key schedule v1";

/// The direction an SA protects; each has its own label, SPI and key (docs/architecture.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Home agent to mobile node: label `"ha->mn"`.
    HaToMn,
    /// Mobile node to home agent: label `"mn->ha"`.
    MnToHa,
}

impl Direction {
    /// The HKDF-Expand info label (ASCII, no terminator).
    pub const fn label(self) -> &'static [u8] {
        match self {
            Direction::HaToMn => b"ha->mn",
            Direction::MnToHa => b"mn->ha",
        }
    }

    /// The other direction.
    pub const fn reverse(self) -> Direction {
        match self {
            Direction::HaToMn => Direction::MnToHa,
            Direction::MnToHa => Direction::HaToMn,
        }
    }
}

/// A secret after HKDF-Extract (RFC 5869 §2.2): expands into per-direction keys.
pub struct KeySchedule {
    hkdf: Hkdf<Sha256>,
}

impl core::fmt::Debug for KeySchedule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeySchedule(<redacted>)")
    }
}

impl KeySchedule {
    /// PRK = HKDF-Extract(salt = [`KDF_SALT`], IKM = secret).
    pub fn new(secret: &Secret32) -> Self {
        KeySchedule {
            hkdf: Hkdf::<Sha256>::new(Some(KDF_SALT), secret.expose()),
        }
    }

    /// HKDF-Expand(PRK, label ‖ HoA ‖ SPI ‖ suite, keylen + 4), split into key ‖ salt.
    pub fn derive(&self, hoa: &Ipv6Addr, direction: Direction, spi: Spi, suite: Suite) -> SaKey {
        let mut okm = [0u8; MAX_KEY_LEN + 4];
        let len = suite.key_len() + 4;
        let info: [&[u8]; 4] = [
            direction.label(),
            &hoa.octets(),
            &spi.to_be_bytes(),
            &[suite.code()],
        ];
        // Cannot fail: 36 octets are far below HKDF-SHA-256's 255 × 32 limit.
        let expanded = self.hkdf.expand_multi_info(&info, &mut okm[..len]);
        debug_assert!(expanded.is_ok());
        let key = SaKey::from_keymat(suite, &okm[..len]);
        okm.zeroize();
        // Cannot fail: `len` is exactly the suite's key length + 4.
        key.unwrap_or_else(|| unreachable!("keymat length matches the suite"))
    }
}

/// Derives one direction's key ‖ salt from a secret (extract, then expand once).
pub fn derive_sa_key(
    secret: &Secret32,
    hoa: &Ipv6Addr,
    direction: Direction,
    spi: Spi,
    suite: Suite,
) -> SaKey {
    KeySchedule::new(secret).derive(hoa, direction, spi, suite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret32 {
        let mut octets = [0; 32];
        for (i, o) in octets.iter_mut().enumerate() {
            *o = i as u8;
        }
        Secret32::new(octets)
    }

    /// The known-answer table of docs/architecture.md "Key schedule" (secret 00..1f,
    /// HoA 2001:db8:1::100, SPI 0x00001001 in both rows), all four rows.
    #[test]
    fn design_known_answers() {
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let spi = Spi::new(0x1001).unwrap();
        let rows = [
            (
                Suite::Aes128Gcm,
                Direction::HaToMn,
                "f64b1a0338566c33b312152363bddb32",
                "cda8a32c",
            ),
            (
                Suite::Aes128Gcm,
                Direction::MnToHa,
                "48231ff0950aa7d4089c033abc0acfe4",
                "e0cd599b",
            ),
            (
                Suite::Aes256Gcm,
                Direction::HaToMn,
                "5729d784c749088129771acd9147854a4dd1e668e6f98b310ac64adbf7bbc317",
                "e777a414",
            ),
            (
                Suite::Aes256Gcm,
                Direction::MnToHa,
                "fec480bb256d6f940463174c2d3f3bbdb58ecff49585d2fc41fe72a996395552",
                "25f05d3e",
            ),
        ];
        let schedule = KeySchedule::new(&secret());
        for (suite, direction, key, salt) in rows {
            let derived = schedule.derive(&hoa, direction, spi, suite);
            assert_eq!(hex::encode(derived.key()), key, "{suite:?} {direction:?}");
            assert_eq!(hex::encode(derived.salt()), salt, "{suite:?} {direction:?}");
            assert_eq!(
                derived,
                derive_sa_key(&secret(), &hoa, direction, spi, suite)
            );
        }
    }

    #[test]
    fn every_input_changes_the_key() {
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let spi = Spi::new(0x1001).unwrap();
        let base = derive_sa_key(&secret(), &hoa, Direction::HaToMn, spi, Suite::Aes128Gcm);
        let other_hoa: Ipv6Addr = "2001:db8:1::101".parse().unwrap();
        let mut other_secret = *secret().expose();
        other_secret[31] ^= 1;
        let variants = [
            derive_sa_key(
                &Secret32::new(other_secret),
                &hoa,
                Direction::HaToMn,
                spi,
                Suite::Aes128Gcm,
            ),
            derive_sa_key(
                &secret(),
                &other_hoa,
                Direction::HaToMn,
                spi,
                Suite::Aes128Gcm,
            ),
            derive_sa_key(&secret(), &hoa, Direction::MnToHa, spi, Suite::Aes128Gcm),
            derive_sa_key(
                &secret(),
                &hoa,
                Direction::HaToMn,
                Spi::new(0x1002).unwrap(),
                Suite::Aes128Gcm,
            ),
        ];
        for v in &variants {
            assert_ne!(v.key(), base.key());
        }
        assert_eq!(Direction::HaToMn.reverse(), Direction::MnToHa);
    }
}
