//! Body of the Binding Error (RFC 6275 §6.1.9).
//!
//! Not supported: nothing is left out; Reserved is ignored on parse and zeroed on emit.

use core::net::Ipv6Addr;

use super::status::BeStatus;

/// Octets of a BE's fixed message data (RFC 6275 §6.1.9).
pub const BE_LEN: usize = 18;

/// RFC 6275 §6.1.9, message data only:
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |     Status    |   Reserved    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// +                          Home Address                         +
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// .                        Mobility Options                       .
/// ```
mod field {
    use core::ops::Range;
    pub const STATUS: usize = 0;
    pub const RESERVED: usize = 1;
    pub const HOME_ADDRESS: Range<usize> = 2..18;
}

/// Body of a Binding Error (RFC 6275 §6.1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BindingErrorRepr {
    /// Status: 1 unknown binding for a Home Address option, 2 unrecognized MH Type.
    pub status: BeStatus,
    /// The home address from the offending packet's Home Address option, or the
    /// unspecified address (RFC 6275 §6.1.9).
    pub home_address: Ipv6Addr,
}

impl BindingErrorRepr {
    /// Reads the fixed part (Reserved ignored).
    pub fn parse(data: &[u8; BE_LEN]) -> Self {
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&data[field::HOME_ADDRESS]);
        BindingErrorRepr {
            status: BeStatus::from(data[field::STATUS]),
            home_address: Ipv6Addr::from(addr),
        }
    }

    /// Writes the fixed part, Reserved zeroed.
    pub fn emit(&self, data: &mut [u8; BE_LEN]) {
        data[field::STATUS] = self.status.into();
        data[field::RESERVED] = 0;
        data[field::HOME_ADDRESS].copy_from_slice(&self.home_address.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // BE body from RFC 6275 §6.1.9: status 2, HoA 2001:db8:1::100.
    const BE: [u8; 18] = [
        2, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
    ];

    #[test]
    fn known_bytes_and_reserved_cleared() {
        let r = BindingErrorRepr::parse(&BE);
        assert_eq!(r.status, BeStatus::UnrecognizedMhType);
        assert_eq!(
            r.home_address,
            "2001:db8:1::100".parse::<Ipv6Addr>().unwrap()
        );
        let mut out = [0xFF; BE_LEN];
        r.emit(&mut out);
        assert_eq!(out, BE);
    }

    proptest! {
        #[test]
        fn round_trip(status: u8, addr: [u8; 16]) {
            let r = BindingErrorRepr { status: BeStatus::from(status), home_address: Ipv6Addr::from(addr) };
            let mut b = [0xFF; BE_LEN];
            r.emit(&mut b);
            prop_assert_eq!(BindingErrorRepr::parse(&b), r);
        }
    }
}
