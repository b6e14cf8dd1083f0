//! Mobile nodes provisioned at run time (issue 13, item 3): `mip6-ha mn add`, `mn
//! import`, `mn remove` over the control socket, kept in the state store beside the
//! engine's records so a restarted home agent serves them again. The configuration
//! file's `[[mobile_node]]` entries stay for small labs; a node is either in the file
//! or provisioned, never both.
//!
//! What a client sends is the file's own format: `mn add` carries one
//! `[[mobile_node]]` table as TOML text, `mn import` names a file of such tables, so
//! one parser ([`parse_entries`]) and one set of rules serve all three ways in.
//!
//! ## Row layout, version 1
//!
//! Key: `provisioned/` and the 16-octet home address ([`row_key`]). Value (58 octets,
//! integers in network order):
//!
//! ```text
//! offset len  field
//!   0     1   version = 1
//!   1    16   home_address
//!  17    32   init_secret
//!  49     4   init SPI MN→HA (> 255)
//!  53     4   init SPI HA→MN (> 255)
//!  57     1   init suite code point (1 = AES-128-GCM, 2 = AES-256-GCM)
//!  58         end
//! ```
//!
//! [`decode_row`] never panics: another length, version, SPI or suite, or a key that
//! is not the record's home address, is a [`DecodeError`].

use std::net::Ipv6Addr;

use mip6_daemon::config::SecretHex;
use mip6_daemon::record::{RecordReader, RecordWriter};
use mip6_daemon::store::{DecodeError, Row};
use mip6_ha::MnConfig;
use mip6_wire::esp::Spi;
use mip6_wire::keys::SpiPair;
use mip6_wire::Secret32;
use serde::Deserialize;
use toml::Spanned;

use crate::config::{ConfigErrorKind, ConfigSpi, ConfigSuite, Prefix};

/// The key prefix of the provisioned nodes' rows.
pub const KEY_PREFIX: &[u8] = b"provisioned/";
/// The row value's version.
const VERSION: u8 = 1;
/// The row value's length.
pub const ROW_LEN: usize = 58;

/// The row key of the node with home address `hoa`.
pub fn row_key(hoa: &Ipv6Addr) -> Vec<u8> {
    let mut key = KEY_PREFIX.to_vec();
    key.extend_from_slice(&hoa.octets());
    key
}

/// The row of a provisioned node.
pub fn encode_row(mn: &MnConfig) -> Row {
    let mut w = RecordWriter::<ROW_LEN>::new();
    w.put(&[VERSION]);
    w.put(&mn.home_address.octets());
    w.put(mn.init_secret.expose());
    w.put(&mn.init_spis.mn_to_ha.get().to_be_bytes());
    w.put(&mn.init_spis.ha_to_mn.get().to_be_bytes());
    w.put(&[mn.init_suite.code()]);
    Row {
        key: row_key(&mn.home_address),
        value: w.finish().to_vec(),
    }
}

/// A provisioned node from its row (module docs).
pub fn decode_row(row: &Row) -> Result<MnConfig, DecodeError> {
    let mut r = RecordReader::open(&row.value, VERSION, ROW_LEN, 1)?;
    let home_address = Ipv6Addr::from(r.take::<16>()?);
    let secret = r.take::<32>()?;
    let init_secret = Secret32::from_slice(&secret).ok_or(DecodeError::Length {
        expected: ROW_LEN,
        actual: row.value.len(),
    })?;
    let mn_to_ha = r.spi()?;
    let ha_to_mn = r.spi()?;
    let init_suite = r.suite()?;
    if row.key != row_key(&home_address) {
        return Err(DecodeError::KeyMismatch { home_address });
    }
    Ok(MnConfig {
        home_address,
        init_secret,
        init_spis: SpiPair { mn_to_ha, ha_to_mn },
        init_suite,
    })
}

/// One `[[mobile_node]]` table as a client sends it (the configuration file's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    home_address: Spanned<Ipv6Addr>,
    init_secret: Spanned<SecretHex>,
    init_spi_mn_to_ha: Spanned<ConfigSpi>,
    init_spi_ha_to_mn: Spanned<ConfigSpi>,
    #[serde(default)]
    init_suite: ConfigSuite,
}

/// A text of `[[mobile_node]]` tables and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entries {
    #[serde(default)]
    mobile_node: Vec<Entry>,
}

/// The nodes of a text of `[[mobile_node]]` tables, each checked on its own: a home
/// address inside the home prefix (RFC 6275 §10.3.1), a
/// 64-hex-digit secret, two different SPIs above 255 (RFC 4303 §2.1). Their home
/// addresses and SPIs are also checked against each other; against the nodes already
/// served the caller checks ([`crate::role`]). The first error names the entry and
/// the field.
pub fn parse_entries(text: &str, home_prefix: &Prefix) -> Result<Vec<MnConfig>, String> {
    let entries: Entries = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    if entries.mobile_node.is_empty() {
        return Err("no [[mobile_node]] table".to_owned());
    }
    let mut out: Vec<MnConfig> = Vec::with_capacity(entries.mobile_node.len());
    for (n, e) in entries.mobile_node.iter().enumerate() {
        let at = |field: &str, why: String| format!("mobile_node #{}: {field}: {why}", n + 1);
        let hoa = *e.home_address.get_ref();
        if !home_prefix.contains(hoa) {
            return Err(at(
                "home_address",
                format!("{hoa} is outside the home prefix {home_prefix}"),
            ));
        }
        let init_secret = e
            .init_secret
            .get_ref()
            .decode::<ConfigErrorKind>()
            .map_err(|k| at("init_secret", k.to_string()))?;
        let spi = |s: &Spanned<ConfigSpi>, field: &str| {
            Spi::new(s.get_ref().0).map_err(|_| {
                at(
                    field,
                    format!("{} is reserved (0..=255, RFC 4303 §2.1)", s.get_ref().0),
                )
            })
        };
        let init_spis = SpiPair {
            mn_to_ha: spi(&e.init_spi_mn_to_ha, "init_spi_mn_to_ha")?,
            ha_to_mn: spi(&e.init_spi_ha_to_mn, "init_spi_ha_to_mn")?,
        };
        if init_spis.mn_to_ha == init_spis.ha_to_mn {
            return Err(at("init_spi_ha_to_mn", "equals init_spi_mn_to_ha".into()));
        }
        for other in &out {
            if other.home_address == hoa {
                return Err(at("home_address", format!("{hoa} appears twice")));
            }
            for s in [init_spis.mn_to_ha, init_spis.ha_to_mn] {
                if [other.init_spis.mn_to_ha, other.init_spis.ha_to_mn].contains(&s) {
                    return Err(at("init SPI", format!("{:#x} appears twice", s.get())));
                }
            }
        }
        out.push(MnConfig {
            home_address: hoa,
            init_secret,
            init_spis,
            init_suite: e.init_suite.into(),
        });
    }
    Ok(out)
}

/// One node as `mn add` sends it: a `[[mobile_node]]` table.
pub fn entry_text(
    home_address: &Ipv6Addr,
    init_secret: &str,
    spis: (u32, u32),
    suite: &str,
) -> String {
    format!(
        "[[mobile_node]]\nhome_address = \"{home_address}\"\ninit_secret = \"{init_secret}\"\n\
         init_spi_mn_to_ha = {}\ninit_spi_ha_to_mn = {}\ninit_suite = \"{suite}\"\n",
        spis.0, spis.1
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_wire::esp::Suite;

    const PREFIX: Prefix = Prefix {
        address: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0),
        len: 64,
    };
    const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn one(hoa: &str, spis: (u32, u32)) -> String {
        entry_text(&hoa.parse().unwrap(), SECRET, spis, "aes-256-gcm")
    }

    #[test]
    fn a_row_round_trips_and_refuses_another_key_version_or_length() {
        let mn = parse_entries(&one("2001:db8:1::7", (0x2001, 0x2002)), &PREFIX)
            .unwrap()
            .remove(0);
        assert_eq!(mn.init_suite, Suite::Aes256Gcm);
        let row = encode_row(&mn);
        assert!(row.key.starts_with(KEY_PREFIX));
        assert_eq!(row.value.len(), ROW_LEN);
        let back = decode_row(&row).unwrap();
        assert_eq!(back.home_address, mn.home_address);
        assert_eq!(back.init_secret.expose(), mn.init_secret.expose());
        assert_eq!(back.init_spis, mn.init_spis);
        let mut wrong_key = row.clone();
        wrong_key.key = row_key(&"2001:db8:1::8".parse().unwrap());
        assert!(matches!(
            decode_row(&wrong_key),
            Err(DecodeError::KeyMismatch { .. })
        ));
        let mut version = row.clone();
        version.value[0] = 2;
        assert_eq!(
            decode_row(&version).unwrap_err(),
            DecodeError::UnknownVersion(2)
        );
        let mut spi = row.clone();
        spi.value[49..53].copy_from_slice(&7u32.to_be_bytes());
        assert!(matches!(
            decode_row(&spi),
            Err(DecodeError::ReservedSpi { spi: 7, .. })
        ));
        for n in 0..ROW_LEN {
            let cut = Row {
                key: row.key.clone(),
                value: row.value[..n].to_vec(),
            };
            assert!(decode_row(&cut).is_err());
        }
    }

    #[test]
    fn entries_are_checked_on_their_own_and_against_each_other() {
        let two = format!(
            "{}{}",
            one("2001:db8:1::7", (0x2001, 0x2002)),
            one("2001:db8:1::8", (0x2003, 0x2004))
        );
        assert_eq!(parse_entries(&two, &PREFIX).unwrap().len(), 2);
        for (text, wanted) in [
            (
                one("2001:db8:9::7", (0x2001, 0x2002)),
                "outside the home prefix",
            ),
            (one("2001:db8:1::7", (0x2001, 0x2001)), "equals"),
            (one("2001:db8:1::7", (7, 0x2002)), "reserved"),
            (
                format!(
                    "{}{}",
                    one("2001:db8:1::7", (0x2001, 0x2002)),
                    one("2001:db8:1::7", (0x2003, 0x2004))
                ),
                "appears twice",
            ),
            (
                format!(
                    "{}{}",
                    one("2001:db8:1::7", (0x2001, 0x2002)),
                    one("2001:db8:1::8", (0x2002, 0x2004))
                ),
                "0x2002 appears twice",
            ),
            (
                one("2001:db8:1::7", (0x2001, 0x2002)).replace(SECRET, "00"),
                "init_secret",
            ),
            (
                "home_agent = \"2001:db8:1::1\"\n".to_owned(),
                "unknown field",
            ),
            (String::new(), "no [[mobile_node]]"),
        ] {
            let e = parse_entries(&text, &PREFIX).unwrap_err();
            assert!(e.contains(wanted), "{wanted:?} not in {e:?} for {text}");
        }
    }
}
