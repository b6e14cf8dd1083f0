//! `--capture FILE`: the engine capture ([`EngineCapture`]) and its key log
//! `FILE.esp_sa`, kept up to date with every SA the home agent uses: the init SAs of
//! the configuration at start, then each generation as it appears in a stored
//! `Persist` record (DESIGN.md "Key schedule" re-derives both directions from the
//! generation's secret and SPIs).

use std::collections::HashSet;
use std::net::Ipv6Addr;
use std::path::Path;

use mip6_daemon::capture::{CaptureError, EngineCapture};
use mip6_ha::persist::MnRecord;
use mip6_ha::HaConfig;
use mip6_wire::capture::esp_sa::{
    home_registration_records, Direction as SaDirection, EspSaRecord,
};
use mip6_wire::esp::Suite;
use mip6_wire::keys::{Direction, KeySchedule, SpiPair};
use mip6_wire::Secret32;
use zeroize::Zeroizing;

/// The capture with the set of SPIs already in its key log.
#[derive(Debug)]
pub struct Capture {
    /// The pcapng writer (the daemon records through it directly).
    pub pcap: EngineCapture,
    home_agent: Ipv6Addr,
    logged: HashSet<(Ipv6Addr, u32, u32)>,
}

/// The `esp_sa` records of one generation (both directions, each with the exact HoA
/// and with `*`).
pub fn generation_records(
    home_agent: Ipv6Addr,
    home_address: Ipv6Addr,
    secret: &Secret32,
    spis: SpiPair,
    suite: Suite,
) -> Vec<EspSaRecord> {
    let schedule = KeySchedule::new(secret);
    let mut records = Vec::with_capacity(4);
    for (direction, sa_direction, spi) in [
        (Direction::MnToHa, SaDirection::MnToHa, spis.mn_to_ha),
        (Direction::HaToMn, SaDirection::HaToMn, spis.ha_to_mn),
    ] {
        let key = schedule.derive(&home_address, direction, spi, suite);
        let mut keymat = Zeroizing::new(Vec::with_capacity(key.key().len() + 4));
        keymat.extend_from_slice(key.key());
        keymat.extend_from_slice(key.salt());
        match home_registration_records(home_address, home_agent, spi.get(), sa_direction, &keymat)
        {
            Ok(pair) => records.extend(pair),
            // Cannot happen for AES-GCM-128/256 key material; logged, not fatal.
            Err(e) => tracing::warn!(error = %e, "esp_sa record not built"),
        }
    }
    records
}

impl Capture {
    /// Creates `path` and its key log with the init SAs of every mobile node.
    pub fn create(path: &Path, config: &HaConfig) -> Result<Capture, CaptureError> {
        let pcap = EngineCapture::create(path, config.address)?;
        let mut capture = Capture {
            pcap,
            home_agent: config.address,
            logged: HashSet::new(),
        };
        for mn in &config.mobile_nodes {
            capture.add(
                mn.home_address,
                &mn.init_secret,
                mn.init_spis,
                mn.init_suite,
            );
        }
        Ok(capture)
    }

    /// Adds the generations of a record not yet in the key log.
    pub fn add_record(&mut self, record: &MnRecord) {
        for g in [&record.anterior, &record.newest].into_iter().flatten() {
            self.add(record.home_address, &g.secret, g.spis, g.suite);
        }
    }

    fn add(&mut self, home_address: Ipv6Addr, secret: &Secret32, spis: SpiPair, suite: Suite) {
        let key = (home_address, spis.mn_to_ha.get(), spis.ha_to_mn.get());
        if self.logged.insert(key) {
            let records = generation_records(self.home_agent, home_address, secret, spis, suite);
            self.pcap.add_sas(records);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_wire::esp::Spi;

    #[test]
    fn both_directions_with_exact_and_any_mn_address() {
        let ha: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let secret = Secret32::new(core::array::from_fn(|i| i as u8));
        let spis = SpiPair {
            mn_to_ha: Spi::new(0x1001).unwrap(),
            ha_to_mn: Spi::new(0x1001).unwrap(),
        };
        let records = generation_records(ha, hoa, &secret, spis, Suite::Aes128Gcm);
        let lines: Vec<String> = records.iter().map(|r| r.uat_record().to_string()).collect();
        assert_eq!(lines.len(), 4);
        // DESIGN.md's known answer, suite 1: mn->ha key ‖ salt, then ha->mn.
        assert!(
            lines[0].starts_with("\"IPv6\",\"2001:db8:1::100\",\"2001:db8:1::1\",\"0x00001001\"")
        );
        assert!(lines[0].contains("0x48231ff0950aa7d4089c033abc0acfe4e0cd599b"));
        assert!(lines[1].starts_with("\"IPv6\",\"*\",\"2001:db8:1::1\""));
        assert!(lines[2].starts_with("\"IPv6\",\"2001:db8:1::1\",\"2001:db8:1::100\""));
        assert!(lines[2].contains("0xf64b1a0338566c33b312152363bddb32cda8a32c"));
        assert!(lines[3].starts_with("\"IPv6\",\"2001:db8:1::1\",\"*\""));
    }
}
