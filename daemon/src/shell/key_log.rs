//! The capture's key log (`<capture>.esp_sa`, Wireshark's ESP SA table): each key the
//! engine uses, added once when it first appears in a stored record or at start, so
//! the capture opens decrypted. It holds live keys: labs and tests only.

use std::collections::HashSet;
use std::net::Ipv6Addr;

use mip6_wire::capture::{generation_records, EspSaRecord};
use mip6_wire::esp::Suite;
use mip6_wire::keys::SpiPair;
use mip6_wire::Secret32;

/// One key (the init key or a generation) between a home agent and a mobile node.
#[derive(Debug, Clone)]
pub struct KeyMaterial {
    /// The home agent's address.
    pub home_agent: Ipv6Addr,
    /// The mobile node's home address.
    pub home_address: Ipv6Addr,
    /// The secret both directions' keys derive from.
    pub secret: Secret32,
    /// Its SPIs.
    pub spis: SpiPair,
    /// Its suite.
    pub suite: Suite,
}

/// Which keys are in the log already.
#[derive(Debug, Default)]
pub struct KeyLog {
    logged: HashSet<(Ipv6Addr, u32, u32)>,
}

impl KeyLog {
    /// The records of one key, or none if it is in the log already.
    pub fn entries(&mut self, key: &KeyMaterial) -> Vec<EspSaRecord> {
        let id = (
            key.home_address,
            key.spis.mn_to_ha.get(),
            key.spis.ha_to_mn.get(),
        );
        if self.logged.insert(id) {
            generation_records(
                key.home_agent,
                key.home_address,
                &key.secret,
                key.spis,
                key.suite,
            )
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_wire::esp::Spi;

    #[test]
    fn a_key_is_logged_once() {
        let ha: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let spis = SpiPair {
            mn_to_ha: Spi::new(0x1001).unwrap(),
            ha_to_mn: Spi::new(0x2001).unwrap(),
        };
        let key = KeyMaterial {
            home_agent: ha,
            home_address: hoa,
            secret: Secret32::new([9; 32]),
            spis,
            suite: Suite::Aes128Gcm,
        };
        let mut log = KeyLog::default();
        assert_eq!(log.entries(&key).len(), 4);
        assert!(log.entries(&key).is_empty(), "logged once");
    }
}
