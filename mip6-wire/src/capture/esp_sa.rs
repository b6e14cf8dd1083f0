//! Export of our ESP Security Associations to Wireshark's `esp_sa` table (a UAT,
//! "user accessible table"), so Wireshark and tshark decrypt ESP with AES-GCM
//! (RFC 4303, RFC 4106) and check its ICV.
//!
//! One record per SA, the eight UAT fields of Wireshark 4.0's `packet-ipsec.c` in
//! order (protocol, source, destination, SPI, encryption algorithm, encryption key,
//! authentication algorithm, authentication key):
//!
//! ```text
//! "IPv6","*","2001:db8:1::1","0x00001001","AES-GCM with 16 octet ICV [RFC4106]","0x<key‖salt>","NULL",""
//! ```
//!
//! The key field is the AES key followed by the 4-octet salt (RFC 4106 §8.1), so 20,
//! 28 or 36 octets; authentication is `"NULL"` because GCM authenticates itself.
//!
//! Address matching (measured with tshark 4.0.17): for a Binding Update, Wireshark
//! looks the SA up with the **Home Address** from the Home Address option as the
//! source, and for a Binding Acknowledgement with the **Home Address** from the type 2
//! routing header as the destination; for tunnelled data it uses the packet's own
//! addresses, i.e. the **care-of address**, which changes as the MN moves. So
//! [`home_registration_records`] writes two records per SA: one with the exact HoA
//! on the MN side (matched first, so it stays right even if two MNs ever shared an
//! SPI) and one with `*` there, which catches the tunnel packets from any CoA.
//!
//! Handing the table to tshark, two routes (both tested below):
//! - `-o` options ([`tshark_esp_args`]): `-o esp.enable_encryption_decode:TRUE
//!   -o esp.enable_authentication_check:TRUE -o 'uat:esp_sa:<record>'`, one
//!   `uat:esp_sa:` option per record (tshark 4.0 appends each).
//! - a configuration directory: a file named `esp_sa` ([`write_esp_sa_file`]) and a
//!   `preferences` file with [`WIRESHARK_PREFERENCES`] in a directory given to
//!   Wireshark/tshark as `WIRESHARK_CONFIG_DIR=<dir>` (or the user's
//!   `~/.config/wireshark/`, or a profile's directory).
//!
//! Without `esp.enable_authentication_check` tshark decrypts but leaves the ICV
//! `[unchecked]`; with it, `esp.icv_good` is 1 and `esp.icv_bad` 0 on success.
//!
//! NOT supported: algorithms other than AES-GCM with a 16-octet ICV, IPv4, and
//! reading `esp_sa` files back.

use std::fmt;
use std::io::Write;
use std::net::Ipv6Addr;

use zeroize::Zeroizing;

/// The encryption-algorithm string tshark 4.0 expects for RFC 4106 with a 16-octet ICV.
pub const ENCRYPTION_ALGORITHM: &str = "AES-GCM with 16 octet ICV [RFC4106]";
/// The authentication-algorithm string for AEAD ciphers (no separate integrity key).
pub const AUTHENTICATION_ALGORITHM: &str = "NULL";
/// A Wireshark `preferences` file that turns on ESP decryption and ICV checking.
pub const WIRESHARK_PREFERENCES: &str =
    "esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n";

/// An address field of an `esp_sa` record: an exact address or Wireshark's `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrMatch {
    /// Matches this address only.
    Exact(Ipv6Addr),
    /// `*`: matches any address.
    Any,
}

impl fmt::Display for AddrMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrMatch::Exact(a) => write!(f, "{a}"),
            AddrMatch::Any => f.write_str("*"),
        }
    }
}

/// Which way an SA carries packets (RFC 4303: one SA per direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the mobile node to the home agent (BU, reverse-tunnelled data).
    MnToHa,
    /// From the home agent to the mobile node (BA, tunnelled data).
    HaToMn,
}

/// Errors building an `esp_sa` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EspSaError {
    /// key‖salt must be a 16-, 24- or 32-octet AES key plus a 4-octet salt (RFC 4106 §8.1).
    #[error("esp_sa record: key and salt are {len} octets, AES-GCM needs 20, 28 or 36")]
    KeyLength {
        /// Octets given.
        len: usize,
    },
}

/// One SA for Wireshark's `esp_sa` table (AES-GCM with a 16-octet ICV, IPv6).
#[derive(Clone, PartialEq, Eq)]
pub struct EspSaRecord {
    /// Source address the SA matches.
    pub src: AddrMatch,
    /// Destination address the SA matches.
    pub dst: AddrMatch,
    /// Security Parameter Index (RFC 4303 §2.1).
    pub spi: u32,
    /// AES key followed by the 4-octet salt (RFC 4106 §8.1); zeroized on drop.
    pub key_and_salt: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for EspSaRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspSaRecord")
            .field("src", &self.src)
            .field("dst", &self.dst)
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field(
                "key_and_salt",
                &format_args!("<{} octets>", self.key_and_salt.len()),
            )
            .finish()
    }
}

impl EspSaRecord {
    /// A record, checking that `key_and_salt` is 20, 28 or 36 octets long.
    pub fn new(
        src: AddrMatch,
        dst: AddrMatch,
        spi: u32,
        key_and_salt: &[u8],
    ) -> Result<Self, EspSaError> {
        if !matches!(key_and_salt.len(), 20 | 28 | 36) {
            return Err(EspSaError::KeyLength {
                len: key_and_salt.len(),
            });
        }
        Ok(EspSaRecord {
            src,
            dst,
            spi,
            key_and_salt: Zeroizing::new(key_and_salt.to_vec()),
        })
    }

    /// The record as one line of the `esp_sa` file (no newline), which is also the
    /// value of tshark's `-o uat:esp_sa:<record>`.
    pub fn uat_record(&self) -> Zeroizing<String> {
        let mut key = Zeroizing::new(String::with_capacity(2 + 2 * self.key_and_salt.len()));
        key.push_str("0x");
        for b in self.key_and_salt.iter() {
            key.push(char::from(HEX[usize::from(b >> 4)]));
            key.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Zeroizing::new(format!(
            "\"IPv6\",\"{}\",\"{}\",\"0x{:08x}\",\"{ENCRYPTION_ALGORITHM}\",\"{}\",\"{AUTHENTICATION_ALGORITHM}\",\"\"",
            self.src, self.dst, self.spi, key.as_str()
        ))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The records Wireshark needs for one home-registration SA between the MN with
/// home address `hoa` and its home agent `ha`, in the order Wireshark should try them:
/// first with the exact HoA on the MN side (BU and BA, which Wireshark matches by
/// the HoA), then with `*` there (tunnelled packets, matched by the CoA).
pub fn home_registration_records(
    hoa: Ipv6Addr,
    ha: Ipv6Addr,
    spi: u32,
    direction: Direction,
    key_and_salt: &[u8],
) -> Result<[EspSaRecord; 2], EspSaError> {
    let ha = AddrMatch::Exact(ha);
    let pair = |mn: AddrMatch| match direction {
        Direction::MnToHa => EspSaRecord::new(mn, ha, spi, key_and_salt),
        Direction::HaToMn => EspSaRecord::new(ha, mn, spi, key_and_salt),
    };
    Ok([pair(AddrMatch::Exact(hoa))?, pair(AddrMatch::Any)?])
}

/// The records of one key generation (or the init key) between home agent `ha` and
/// the mobile node with home address `hoa`: both directions, each derived from the
/// generation's secret and SPI with the key schedule ([`crate::keys::schedule`]), each
/// with the exact home address and with `*` ([`home_registration_records`]).
pub fn generation_records(
    ha: Ipv6Addr,
    hoa: Ipv6Addr,
    secret: &crate::Secret32,
    spis: crate::keys::SpiPair,
    suite: crate::esp::Suite,
) -> Vec<EspSaRecord> {
    use crate::keys::schedule::{Direction as KeyDirection, KeySchedule};
    let schedule = KeySchedule::new(secret);
    let mut records = Vec::with_capacity(4);
    for (key_direction, direction, spi) in [
        (KeyDirection::MnToHa, Direction::MnToHa, spis.mn_to_ha),
        (KeyDirection::HaToMn, Direction::HaToMn, spis.ha_to_mn),
    ] {
        let key = schedule.derive(&hoa, key_direction, spi, suite);
        let mut key_and_salt = Zeroizing::new(Vec::with_capacity(key.key().len() + 4));
        key_and_salt.extend_from_slice(key.key());
        key_and_salt.extend_from_slice(key.salt());
        // Cannot fail: the schedule makes 20 or 36 octets, as a record takes.
        if let Ok(pair) = home_registration_records(hoa, ha, spi.get(), direction, &key_and_salt) {
            records.extend(pair);
        }
    }
    records
}

/// The tshark arguments that decrypt with `records` and check the ICV:
/// `-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE`
/// then `-o uat:esp_sa:<record>` per record. Each argument is one `argv` entry
/// (no shell quoting). They hold the keys: pass them to tshark only.
pub fn tshark_esp_args<'a>(records: impl IntoIterator<Item = &'a EspSaRecord>) -> Vec<String> {
    let mut args = vec![
        "-o".to_owned(),
        "esp.enable_encryption_decode:TRUE".to_owned(),
        "-o".to_owned(),
        "esp.enable_authentication_check:TRUE".to_owned(),
    ];
    for r in records {
        args.push("-o".to_owned());
        args.push(format!("uat:esp_sa:{}", r.uat_record().as_str()));
    }
    args
}

/// Writes the `esp_sa` file of a Wireshark configuration directory: a comment line,
/// then one record per line.
pub fn write_esp_sa_file<'a, W: Write>(
    records: impl IntoIterator<Item = &'a EspSaRecord>,
    mut w: W,
) -> std::io::Result<()> {
    w.write_all(b"# Wireshark ESP SAs (esp_sa UAT), written by mip6-wire; holds keys.\n")?;
    for r in records {
        w.write_all(r.uat_record().as_bytes())?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_records_hold_the_key_schedule_known_answer() {
        // docs/architecture.md "Key schedule": secret 00..1f, HoA 2001:db8:1::100,
        // SPI 0x1001 both ways, AES-128-GCM.
        let secret = crate::Secret32::new(core::array::from_fn(|i| i as u8));
        let ha: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        let spi = crate::esp::Spi::new(0x1001).unwrap();
        let spis = crate::keys::SpiPair {
            mn_to_ha: spi,
            ha_to_mn: spi,
        };
        let records = generation_records(ha, hoa, &secret, spis, crate::esp::Suite::Aes128Gcm);
        let lines: Vec<String> = records.iter().map(|r| r.uat_record().to_string()).collect();
        assert_eq!(lines.len(), 4);
        assert!(
            lines[0].starts_with("\"IPv6\",\"2001:db8:1::100\",\"2001:db8:1::1\",\"0x00001001\"")
        );
        assert!(lines[0].contains("0x48231ff0950aa7d4089c033abc0acfe4e0cd599b"));
        assert!(lines[1].starts_with("\"IPv6\",\"*\",\"2001:db8:1::1\""));
        assert!(lines[2].starts_with("\"IPv6\",\"2001:db8:1::1\",\"2001:db8:1::100\""));
        assert!(lines[2].contains("0xf64b1a0338566c33b312152363bddb32cda8a32c"));
        assert!(lines[3].starts_with("\"IPv6\",\"2001:db8:1::1\",\"*\""));
    }
    use crate::capture::test_tshark;
    use crate::capture::PcapngWriter;

    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
    const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
    const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);
    const SPI_MN2HA: u32 = 0x1001;
    const SPI_HA2MN: u32 = 0x2002;

    fn key128() -> Vec<u8> {
        // AES-128 key 00..0f, salt 01020304.
        (0u8..16).chain([1, 2, 3, 4]).collect()
    }
    fn key256() -> Vec<u8> {
        // AES-256 key 20..3f, salt a0a1a2a3.
        (0x20u8..0x40).chain([0xa0, 0xa1, 0xa2, 0xa3]).collect()
    }

    #[test]
    fn record_line_is_wiresharks_uat_syntax() {
        let r =
            EspSaRecord::new(AddrMatch::Any, AddrMatch::Exact(HA), SPI_MN2HA, &key128()).unwrap();
        assert_eq!(
            r.uat_record().as_str(),
            "\"IPv6\",\"*\",\"2001:db8:1::1\",\"0x00001001\",\
             \"AES-GCM with 16 octet ICV [RFC4106]\",\
             \"0x000102030405060708090a0b0c0d0e0f01020304\",\"NULL\",\"\""
        );
        let dbg = format!("{r:?}");
        assert!(dbg.contains("20 octets") && !dbg.contains("0a0b"), "{dbg}");
    }

    #[test]
    fn key_lengths() {
        for len in [0, 16, 19, 21, 32, 37] {
            assert_eq!(
                EspSaRecord::new(AddrMatch::Any, AddrMatch::Any, 1, &vec![0; len]),
                Err(EspSaError::KeyLength { len })
            );
        }
        for len in [20, 28, 36] {
            assert!(EspSaRecord::new(AddrMatch::Any, AddrMatch::Any, 1, &vec![0; len]).is_ok());
        }
    }

    #[test]
    fn home_registration_records_put_hoa_then_wildcard_on_mn_side() {
        let [a, b] =
            home_registration_records(HOA, HA, SPI_MN2HA, Direction::MnToHa, &key128()).unwrap();
        assert_eq!(
            (a.src, a.dst),
            (AddrMatch::Exact(HOA), AddrMatch::Exact(HA))
        );
        assert_eq!((b.src, b.dst), (AddrMatch::Any, AddrMatch::Exact(HA)));
        let [c, d] =
            home_registration_records(HOA, HA, SPI_HA2MN, Direction::HaToMn, &key256()).unwrap();
        assert_eq!(
            (c.src, c.dst),
            (AddrMatch::Exact(HA), AddrMatch::Exact(HOA))
        );
        assert_eq!((d.src, d.dst), (AddrMatch::Exact(HA), AddrMatch::Any));
        assert_eq!(d.spi, SPI_HA2MN);
        assert_eq!(&d.key_and_salt[..], &key256()[..]);
    }

    #[test]
    fn args_and_file() {
        let r =
            EspSaRecord::new(AddrMatch::Exact(HA), AddrMatch::Any, 0xdead_beef, &key128()).unwrap();
        let args = tshark_esp_args([&r]);
        assert_eq!(args.len(), 6);
        assert_eq!(args[1], "esp.enable_encryption_decode:TRUE");
        assert_eq!(args[3], "esp.enable_authentication_check:TRUE");
        assert_eq!(args[5], format!("uat:esp_sa:{}", r.uat_record().as_str()));
        assert!(args[5].contains("\"0xdeadbeef\""));
        let mut file = Vec::new();
        write_esp_sa_file([&r, &r], &mut file).unwrap();
        let text = String::from_utf8(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with('#'));
        assert_eq!(lines[1], r.uat_record().as_str());
    }

    // ---- A local, test-only ESP sealer and the packets it protects. ----

    /// One's-complement sum of 16-bit words (RFC 1071).
    fn sum16(data: &[u8], mut acc: u32) -> u32 {
        for c in data.chunks(2) {
            acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        acc
    }

    /// MH checksum over the pseudo-header (RFC 6275 §6.1.1, RFC 8200 §8.1).
    fn mh_checksum(src: Ipv6Addr, dst: Ipv6Addr, mh: &[u8]) -> u16 {
        let mut acc = sum16(&src.octets(), 0);
        acc = sum16(&dst.octets(), acc);
        acc = sum16(&(mh.len() as u32).to_be_bytes(), acc);
        acc = sum16(&[0, 0, 0, 135], acc);
        acc = sum16(mh, acc);
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    /// Binding Update (RFC 6275 §6.1.7): seq 7, A and H set, lifetime 100 (400 s),
    /// one PadN(2) option to reach 16 octets; checksum with src = HoA, dst = HA.
    fn mh_bu() -> Vec<u8> {
        let mut mh = vec![59, 1, 5, 0, 0, 0, 0, 7, 0xc0, 0, 0, 100, 1, 2, 0, 0];
        let c = mh_checksum(HOA, HA, &mh);
        mh[4..6].copy_from_slice(&c.to_be_bytes());
        mh
    }

    /// Binding Acknowledgement (RFC 6275 §6.1.8): status 0, seq 7, lifetime 100,
    /// PadN(2); checksum with src = HA, dst = HoA (the RH2's final destination).
    fn mh_ba() -> Vec<u8> {
        let mut mh = vec![59, 1, 6, 0, 0, 0, 0, 0, 0, 7, 0, 100, 1, 2, 0, 0];
        let c = mh_checksum(HA, HOA, &mh);
        mh[4..6].copy_from_slice(&c.to_be_bytes());
        mh
    }

    /// ESP (RFC 4303 §2) with AES-GCM (RFC 4106): IV = 64-bit seq, nonce = salt ‖ IV,
    /// AAD = SPI ‖ 32-bit seq, padding 1, 2, … to a 4-octet boundary, ICV 16 octets.
    fn esp_seal(key_and_salt: &[u8], spi: u32, seq: u32, next: u8, payload: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let (key, salt) = key_and_salt.split_at(key_and_salt.len() - 4);
        let iv = u64::from(seq).to_be_bytes();
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(salt);
        nonce[4..].copy_from_slice(&iv);
        let mut plain = payload.to_vec();
        let pad = (4 - (payload.len() + 2) % 4) % 4;
        plain.extend((1..=pad as u8).collect::<Vec<_>>());
        plain.push(pad as u8);
        plain.push(next);
        let mut aad = spi.to_be_bytes().to_vec();
        aad.extend_from_slice(&seq.to_be_bytes());
        let sealed = match key.len() {
            16 => aes_gcm::Aes128Gcm::new_from_slice(key).unwrap().encrypt(
                (&nonce).into(),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            ),
            32 => aes_gcm::Aes256Gcm::new_from_slice(key).unwrap().encrypt(
                (&nonce).into(),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            ),
            _ => unreachable!(),
        }
        .unwrap();
        let mut esp = aad;
        esp.extend_from_slice(&iv);
        esp.extend_from_slice(&sealed);
        esp
    }

    fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(payload);
        p
    }

    /// `IPv6(CoA→HA) | DestOpts(PadN(2), HoA option) | ESP(transport) | MH(BU)`.
    fn bu_packet(key: &[u8], seq: u32) -> Vec<u8> {
        // Destination Options (RFC 8200 §4.6): next 50, len 2 (24 octets), PadN with
        // 2 data octets, then the HoA option (RFC 6275 §6.3, type 0xC9, 8n+6 aligned).
        let mut ext = vec![50, 2, 1, 2, 0, 0, 0xc9, 16];
        ext.extend_from_slice(&HOA.octets());
        ext.extend(esp_seal(key, SPI_MN2HA, seq, 135, &mh_bu()));
        ipv6(COA, HA, 60, &ext)
    }

    /// `IPv6(HA→CoA) | RH2(HoA) | ESP(transport) | MH(BA)`.
    fn ba_packet(key: &[u8], seq: u32) -> Vec<u8> {
        // Type 2 Routing Header (RFC 6275 §6.4): next 50, len 2, type 2, segments left 1.
        let mut ext = vec![50, 2, 2, 1, 0, 0, 0, 0];
        ext.extend_from_slice(&HOA.octets());
        ext.extend(esp_seal(key, SPI_HA2MN, seq, 135, &mh_ba()));
        ipv6(HA, COA, 43, &ext)
    }

    /// `IPv6(CoA→HA) | ESP(tunnel) | IPv6(HoA→CN) | no next header`.
    fn tunnel_packet(key: &[u8], seq: u32) -> Vec<u8> {
        let inner = ipv6(HOA, CN, 59, &[]);
        ipv6(COA, HA, 50, &esp_seal(key, SPI_MN2HA, seq, 41, &inner))
    }

    const FIELDS: [&str; 13] = [
        "esp.spi",
        "esp.sequence",
        "esp.icv_good",
        "esp.icv_bad",
        "esp.protocol",
        "mip6.bu.seqnr",
        "mip6.bu.a_flag",
        "mip6.bu.h_flag",
        "mip6.bu.lifetime",
        "mip6.ba.status",
        "mip6.ba.seqnr",
        "mip6.ba.lifetime",
        "ipv6.src",
    ];

    /// Writes `frames` to a pcapng file, runs tshark with `extra` args, returns one
    /// field vector per frame (FIELDS order).
    fn tshark_fields(
        tshark: &test_tshark::Tshark,
        name: &str,
        frames: &[Vec<u8>],
        extra: &[String],
        env: Option<(&str, &std::path::Path)>,
    ) -> Vec<Vec<String>> {
        let path = test_tshark::temp_path(name);
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.write_packet(1_700_000_000_000_000 + i as u64, f).unwrap();
        }
        std::fs::write(&path, w.into_inner()).unwrap();
        let mut args: Vec<String> = vec!["-r".into(), path.to_str().unwrap().into()];
        args.extend_from_slice(extra);
        args.extend(["-T".into(), "fields".into()]);
        for f in FIELDS {
            args.extend(["-e".into(), f.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = match env {
            Some((k, v)) => tshark.run_with_env(&args, k, v),
            None => tshark.run(&args),
        };
        let _ = std::fs::remove_file(&path);
        out.lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }

    /// The proof docs/architecture.md asks for: tshark 4.0 decrypts BU, BA and tunnelled data
    /// with the exported records, reports the ICV correct, and reads the MH fields.
    #[test]
    fn tshark_decrypts_bu_ba_and_tunnel_with_exported_sas() {
        let Some(tshark) = test_tshark::tshark("tshark_decrypts_bu_ba_and_tunnel") else {
            return;
        };
        let (k1, k2) = (key128(), key256());
        let mut records = Vec::new();
        records
            .extend(home_registration_records(HOA, HA, SPI_MN2HA, Direction::MnToHa, &k1).unwrap());
        records
            .extend(home_registration_records(HOA, HA, SPI_HA2MN, Direction::HaToMn, &k2).unwrap());
        let frames = [bu_packet(&k1, 5), ba_packet(&k2, 9), tunnel_packet(&k1, 6)];
        let rows = tshark_fields(
            &tshark,
            "esp.pcapng",
            &frames,
            &tshark_esp_args(&records),
            None,
        );
        assert_eq!(rows.len(), 3, "{rows:?}");
        let (bu, ba, tun) = (&rows[0], &rows[1], &rows[2]);
        // BU: SPI, seq, ICV good, next header 135, seq 7, A, H, lifetime 100.
        assert_eq!(
            bu[..9],
            ["0x00001001", "5", "1", "0", "0x87", "7", "1", "1", "100"],
            "{bu:?}"
        );
        // BA: ICV good (AES-256), status 0, seq 7, lifetime 100.
        assert_eq!(ba[..5], ["0x00002002", "9", "1", "0", "0x87"], "{ba:?}");
        assert_eq!(ba[9..12], ["0", "7", "100"], "{ba:?}");
        // Tunnel: matched by the wildcard (CoA), next header 41, inner source HoA.
        assert_eq!(tun[..5], ["0x00001001", "6", "1", "0", "0x29"], "{tun:?}");
        assert_eq!(tun[12], "2001:db8:2::100,2001:db8:1::100", "{tun:?}");

        // A wrong key: tshark says the ICV is bad and decodes no MH.
        let mut wrong = k1.clone();
        wrong[0] ^= 1;
        let bad =
            EspSaRecord::new(AddrMatch::Any, AddrMatch::Exact(HA), SPI_MN2HA, &wrong).unwrap();
        let rows = tshark_fields(
            &tshark,
            "esp-bad.pcapng",
            &frames[..1],
            &tshark_esp_args([&bad]),
            None,
        );
        assert_eq!(rows[0][2..4], ["0", "1"], "{rows:?}");
        assert_eq!(rows[0][5], "", "{rows:?}");
    }

    /// docs/architecture.md's claim, measured: BU and BA are matched by the HoA, not the CoA;
    /// tunnel packets by the CoA.
    #[test]
    fn tshark_matches_bu_and_ba_by_home_address() {
        let Some(tshark) = test_tshark::tshark("tshark_matches_bu_and_ba_by_home_address") else {
            return;
        };
        let k1 = key128();
        let exact = |src, dst, spi| {
            EspSaRecord::new(AddrMatch::Exact(src), AddrMatch::Exact(dst), spi, &k1).unwrap()
        };
        let frames = [bu_packet(&k1, 1), ba_packet(&k1, 1), tunnel_packet(&k1, 2)];
        let by_hoa = [exact(HOA, HA, SPI_MN2HA), exact(HA, HOA, SPI_HA2MN)];
        let rows = tshark_fields(
            &tshark,
            "hoa.pcapng",
            &frames,
            &tshark_esp_args(&by_hoa),
            None,
        );
        let good: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
        assert_eq!(good, ["1", "1", ""], "{rows:?}");
        let by_coa = [exact(COA, HA, SPI_MN2HA), exact(HA, COA, SPI_HA2MN)];
        let rows = tshark_fields(
            &tshark,
            "coa.pcapng",
            &frames,
            &tshark_esp_args(&by_coa),
            None,
        );
        let good: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
        assert_eq!(good, ["", "", "1"], "{rows:?}");
    }

    /// The configuration-directory route: `esp_sa` + `preferences` in
    /// `WIRESHARK_CONFIG_DIR`.
    #[test]
    fn tshark_reads_esp_sa_file_from_config_dir() {
        let Some(tshark) = test_tshark::tshark("tshark_reads_esp_sa_file_from_config_dir") else {
            return;
        };
        let k1 = key128();
        let records =
            home_registration_records(HOA, HA, SPI_MN2HA, Direction::MnToHa, &k1).unwrap();
        let dir = test_tshark::temp_path("wireshark-config");
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = std::fs::File::create(dir.join("esp_sa")).unwrap();
        write_esp_sa_file(&records, &mut f).unwrap();
        drop(f);
        std::fs::write(dir.join("preferences"), WIRESHARK_PREFERENCES).unwrap();
        let rows = tshark_fields(
            &tshark,
            "cfgdir.pcapng",
            &[bu_packet(&k1, 3)],
            &[],
            Some(("WIRESHARK_CONFIG_DIR", &dir)),
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            rows[0][..6],
            ["0x00001001", "3", "1", "0", "0x87", "7"],
            "{rows:?}"
        );
    }
}
