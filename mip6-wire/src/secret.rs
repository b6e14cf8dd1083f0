//! 32-octet secrets (generation secrets, the initialization secret), wiped on drop
//! and compared in constant time.
//!
//! A [`Secret32`] is what a Key Distribution option carries (docs/architecture.md, "Key-management
//! options") and what the HKDF key schedule takes as input keying material (RFC 5869).

use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a generation or initialization secret in octets.
pub const SECRET_LEN: usize = 32;

/// A 32-octet secret. Zeroized on drop; `==` runs in constant time; `Debug` never
/// prints the octets.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret32([u8; SECRET_LEN]);

impl Secret32 {
    /// Wraps octets the caller drew from an RNG or read from configuration.
    pub const fn new(octets: [u8; SECRET_LEN]) -> Self {
        Secret32(octets)
    }

    /// Reads a secret from a slice of exactly 32 octets.
    pub fn from_slice(octets: &[u8]) -> Option<Self> {
        let array: [u8; SECRET_LEN] = octets.try_into().ok()?;
        Some(Secret32(array))
    }

    /// The secret's octets, for the key schedule and for emitting a Key Distribution option.
    pub fn expose(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }
}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret32 {}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_and_unequal_secrets_compare_right_and_debug_hides_octets() {
        let a = Secret32::new([7; 32]);
        let mut other = [7; 32];
        other[31] = 8;
        assert_eq!(a, Secret32::new([7; 32]));
        assert_ne!(a, Secret32::new(other));
        assert!(!format!("{a:?}").contains('7'));
        assert!(Secret32::from_slice(&[1; 31]).is_none());
    }

    #[test]
    fn zeroize_clears_octets() {
        let mut s = Secret32::new([0xAB; 32]);
        s.zeroize();
        assert_eq!(s.expose(), &[0; 32]);
    }
}
