//! The capture's key log: Wireshark `esp_sa` records (DESIGN.md "Key schedule",
//! `mip6_wire::capture::esp_sa`) for the init SAs and each generation the node installs,
//! so a capture opens decrypted.

use std::net::Ipv6Addr;

use mip6_wire::capture::{home_registration_records, Direction as SaDirection, EspSaRecord};
use mip6_wire::esp::Suite;
use mip6_wire::keys::{derive_sa_key, Direction, SpiPair};
use mip6_wire::Secret32;

/// The records for one generation (both directions, each with the exact home address
/// and with `*` on the node's side).
pub fn generation_records(
    hoa: Ipv6Addr,
    ha: Ipv6Addr,
    secret: &Secret32,
    spis: SpiPair,
    suite: Suite,
) -> Vec<EspSaRecord> {
    let mut out = Vec::with_capacity(4);
    for (direction, sa_direction, spi) in [
        (Direction::MnToHa, SaDirection::MnToHa, spis.mn_to_ha),
        (Direction::HaToMn, SaDirection::HaToMn, spis.ha_to_mn),
    ] {
        let key = derive_sa_key(secret, &hoa, direction, spi, suite);
        let mut key_and_salt = zeroize::Zeroizing::new(key.key().to_vec());
        key_and_salt.extend_from_slice(key.salt());
        match home_registration_records(hoa, ha, spi.get(), sa_direction, &key_and_salt) {
            Ok(records) => out.extend(records),
            // Cannot happen: the schedule makes 20 or 36 octets, as the record needs.
            Err(e) => tracing::warn!(error = %e, "no esp_sa record for SPI {:#x}", spi.get()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_wire::esp::Spi;

    #[test]
    fn design_known_answer_reaches_the_record() {
        let secret = Secret32::new(core::array::from_fn(|i| i as u8));
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let ha: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let spi = Spi::new(0x1001).unwrap();
        let r = generation_records(
            hoa,
            ha,
            &secret,
            SpiPair {
                mn_to_ha: spi,
                ha_to_mn: spi,
            },
            Suite::Aes128Gcm,
        );
        assert_eq!(r.len(), 4);
        // DESIGN.md's table: mn->ha key 48231ff0…, salt e0cd599b.
        let line = r[0].uat_record();
        assert!(
            line.contains("\"2001:db8:1::100\",\"2001:db8:1::1\",\"0x00001001\""),
            "{}",
            *line
        );
        assert!(
            line.contains("0x48231ff0950aa7d4089c033abc0acfe4e0cd599b"),
            "{}",
            *line
        );
        assert!(r[1].uat_record().contains("\"*\",\"2001:db8:1::1\""));
        let back = r[2].uat_record();
        assert!(
            back.contains("\"2001:db8:1::1\",\"2001:db8:1::100\""),
            "{}",
            *back
        );
        assert!(
            back.contains("0xf64b1a0338566c33b312152363bddb32cda8a32c"),
            "{}",
            *back
        );
    }
}
