//! Writes `pcaps/wire-catalogue.pcapng` (one of everything from
//! `mip6_tests::catalogue`, built with our emitters) and its `.esp_sa` key file, then
//! checks with tshark 4.0 and `wireshark/mip6-keys.lua` that Wireshark reads every
//! packet as we meant it: no malformed packet, no expert info of severity error,
//! every ESP ICV good, and the (decrypted) fields equal to the values we put in.
//!
//! The file is deterministic (fixed keys, SPIs, nonces and timestamps), so rewriting
//! it on every run leaves git clean.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;

use mip6_tests::catalogue::{self, Case, HA, HOA, V};
use mip6_tests::prerequisites::{require_tool, workspace_root};
use mip6_wire::capture::{
    home_registration_records, tshark_esp_args, write_esp_sa_file, Direction, EspSaRecord,
    PcapngWriter,
};

/// 2024-01-01T00:00:00Z in microseconds; packet i is at i seconds after.
const T0_US: u64 = 1_704_067_200_000_000;

/// Where a catalogue field shows in tshark 4.0: field name and which occurrence.
#[derive(Clone, Copy)]
enum Occ {
    First,
    Second,
    Last,
}

/// The tshark field of a schema key for this case, or why it has none.
fn tshark_field(key: &str, case: &Case) -> Result<(&'static str, Occ), &'static str> {
    let mh_type = match case.fields.get("mh_type") {
        Some(V::Int(t)) => Some(*t),
        _ => None,
    };
    use Occ::*;
    Ok(match (key, mh_type) {
        ("ip_src", _) => ("ipv6.src", First),
        ("ip_dst", _) => ("ipv6.dst", First),
        ("ip_nh", _) => ("ipv6.nxt", First),
        ("udp_sport", _) => ("udp.srcport", First),
        ("udp_dport", _) => ("udp.dstport", First),
        ("hoa", _) => ("ipv6.opt.mipv6.home_address", First),
        ("rh2", _) => ("ipv6.routing.mipv6.home_address", First),
        ("inner_src", _) => ("ipv6.src", Second),
        ("inner_dst", _) => ("ipv6.dst", Second),
        ("inner_nh", _) => ("ipv6.nxt", Second),
        ("icmp_type", _) => ("icmpv6.type", First),
        ("icmp_id", _) => ("icmpv6.echo.identifier", First),
        ("icmp_seq", _) => ("icmpv6.echo.sequence_number", First),
        ("spi", _) => ("esp.spi", First),
        ("esp_seq", _) => ("esp.sequence", First),
        ("esp_iv", _) => ("esp.iv", First),
        ("esp_next_header", _) => ("esp.protocol", First),
        ("esp_key" | "esp_salt", _) => return Err("key material: given to tshark, not shown"),
        ("checksum_ok", _) => {
            return Err("Wireshark does not verify the MH checksum (docs/architecture.md)")
        }
        ("opt_types", _) => return Err("checked as mip6.mobility_opt below, padding apart"),
        ("mh_type", _) => ("mip6.mhtype", First),
        ("mh_len", _) => ("mip6.hlen", First),
        ("mh_payload_proto", _) => ("mip6.proto", First),
        ("checksum", _) => ("mip6.csum", First),
        ("cookie", Some(1)) => ("mip6.hoti.cookie", First),
        ("cookie", Some(2)) => ("mip6.coti.cookie", First),
        ("cookie", Some(3)) => ("mip6.hot.cookie", First),
        ("cookie", Some(4)) => ("mip6.cot.cookie", First),
        ("nonce_index", Some(3)) => ("mip6.hot.nindex", First),
        ("nonce_index", Some(4)) => ("mip6.cot.nindex", First),
        ("token", Some(3)) => ("mip6.hot.token", First),
        // Wireshark 4.0 has no mip6.cot.token: it shows the Care-of Keygen Token
        // under hf_mip6_hot_token ("Home Keygen Token"), a label slip of its own.
        ("token", Some(4)) => ("mip6.hot.token", First),
        ("seq", Some(5)) => ("mip6.bu.seqnr", First),
        ("seq", Some(6)) => ("mip6.ba.seqnr", First),
        ("lifetime", Some(5)) => ("mip6.bu.lifetime", First),
        ("lifetime", Some(6)) => ("mip6.ba.lifetime", First),
        ("flags_a", Some(5)) => ("mip6.bu.a_flag", First),
        ("flags_h", Some(5)) => ("mip6.bu.h_flag", First),
        ("flags_l", Some(5)) => ("mip6.bu.l_flag", First),
        ("flags_k", Some(5)) => ("mip6.bu.k_flag", First),
        ("flags_k", Some(6)) => ("mip6.ba.k_flag", First),
        ("status", Some(6)) => ("mip6.ba.status", First),
        ("status", Some(7)) => ("mip6.be.status", First),
        ("home_address", Some(7)) => ("mip6.be.haddr", First),
        ("bra_interval", _) => ("mip6.bra.interval", First),
        ("alt_coa", _) => ("mip6.acoa.acoa", First),
        ("ni_home", _) => ("mip6.ni.hni", First),
        ("ni_careof", _) => ("mip6.ni.cni", First),
        ("bad", _) => ("mip6.bad.auth", First),
        // The schema keeps the last vendor option's fields (catalogue.py).
        ("vendor_id", _) => ("mip6.vsm.vendorId", Last),
        ("subtype", _) => ("mip6keys.subtype", Last),
        ("nonce", _) => ("mip6keys.nonce", First),
        ("generation", _) => ("mip6keys.generation", First),
        ("spi_mn2ha", _) => ("mip6keys.spi_mn2ha", First),
        ("spi_ha2mn", _) => ("mip6keys.spi_ha2mn", First),
        ("suite", _) => ("mip6keys.suite", First),
        ("key_lifetime", _) => ("mip6keys.lifetime", First),
        ("secret", _) => ("mip6keys.secret", First),
        _ => panic!("{}: schema key {key:?} has no tshark mapping", case.name),
    })
}

/// Writes the capture and its key file; returns the SA records.
fn write_capture(cases: &[Case], pcap: &Path) -> Vec<EspSaRecord> {
    let file = BufWriter::new(File::create(pcap).expect("create pcapng"));
    let mut w = PcapngWriter::new(file).expect("pcapng header");
    for (i, c) in cases.iter().enumerate() {
        w.write_packet_with_comment(T0_US + i as u64 * 1_000_000, &c.packet, c.name)
            .expect("write packet");
    }
    w.into_inner().flush().expect("flush pcapng");

    let mut records = Vec::new();
    let mut seen = Vec::new();
    for c in cases {
        let Some(e) = &c.esp else { continue };
        if seen.contains(&e.spi) {
            continue;
        }
        seen.push(e.spi);
        let dir = if e.mn_to_ha {
            Direction::MnToHa
        } else {
            Direction::HaToMn
        };
        records.extend(
            home_registration_records(HOA, HA, e.spi, dir, &e.key_and_salt()).expect("record"),
        );
    }
    let sa_path = format!("{}.esp_sa", pcap.display());
    let f = BufWriter::new(File::create(&sa_path).expect("create esp_sa"));
    write_esp_sa_file(&records, f).expect("write esp_sa");
    records
}

fn tshark(pcap: &Path, records: &[EspSaRecord], extra: &[&str]) -> String {
    let root = workspace_root();
    let lua = format!(
        "lua_script:{}",
        root.join("wireshark/mip6-keys.lua").display()
    );
    let out = Command::new("tshark")
        .arg("-n")
        .args(["-X", &lua])
        .args(tshark_esp_args(records))
        .arg("-r")
        .arg(pcap)
        .args(extra)
        .output()
        .expect("tshark runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tshark {extra:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Normalises a tshark value for comparison with what we put in.
fn matches(expected: &V, got: &str) -> bool {
    let g = got.trim();
    match expected {
        V::Int(n) => {
            let parsed = if let Some(h) = g.strip_prefix("0x") {
                u64::from_str_radix(h, 16).ok()
            } else {
                match g {
                    "True" => Some(1),
                    "False" => Some(0),
                    _ => g.parse().ok(),
                }
            };
            parsed == Some(*n)
        }
        V::Str(s) => {
            if s.contains(':') || s.contains('.') {
                return g == s; // an address
            }
            // Hex octets: tshark prints bytes as hex (maybe with colons) and 64-bit
            // cookies/tokens as 0x-prefixed numbers.
            let h = g.trim_start_matches("0x").replace(':', "").to_lowercase();
            h == *s || u64::from_str_radix(&h, 16).ok() == u64::from_str_radix(s, 16).ok()
        }
        V::Bool(b) => matches(&V::Int(u64::from(*b)), g),
        V::Ints(_) => false,
    }
}

#[test]
fn wireshark_reads_the_catalogue_as_we_built_it() {
    let t = "tshark_catalogue";
    if !require_tool(t, "tshark") {
        return;
    }
    let root = workspace_root();
    std::fs::create_dir_all(root.join("pcaps")).expect("pcaps dir");
    let pcap = root.join("pcaps/wire-catalogue.pcapng");
    let mut cases = catalogue::all();
    cases.extend(catalogue::udp_encapsulated());
    let records = write_capture(&cases, &pcap);
    let sa_text = std::fs::read_to_string(format!("{}.esp_sa", pcap.display())).expect("esp_sa");
    assert_eq!(
        sa_text.lines().filter(|l| !l.starts_with('#')).count(),
        records.len()
    );

    // Determinism: building again gives the same octets.
    let mut again = catalogue::all();
    again.extend(catalogue::udp_encapsulated());
    for (a, b) in cases.iter().zip(&again) {
        assert_eq!(a.packet, b.packet, "{} is not reproducible", a.name);
    }

    // 1. No malformed packet, no expert info of severity error.
    let malformed = tshark(&pcap, &records, &["-Y", "_ws.malformed"]);
    assert!(
        malformed.trim().is_empty(),
        "malformed packets:\n{malformed}"
    );
    let errors = tshark(&pcap, &records, &["-Y", "_ws.expert.severity == error"]);
    assert!(errors.trim().is_empty(), "expert errors:\n{errors}");
    let all = tshark(&pcap, &records, &[]);
    assert_eq!(
        all.lines().count(),
        cases.len(),
        "one line per packet:\n{all}"
    );

    // 2. Fields, one row per packet.
    let mut names: Vec<&'static str> = vec!["frame.comment", "esp.icv_good"];
    for c in &cases {
        for k in c.fields.keys() {
            if let Ok((f, _)) = tshark_field(k, c) {
                if !names.contains(&f) {
                    names.push(f);
                }
            }
        }
    }
    let mut args = vec![
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "aggregator=;",
        "-E",
        "occurrence=a",
    ];
    for n in &names {
        args.push("-e");
        args.push(n);
    }
    let out = tshark(&pcap, &records, &args);
    let rows: Vec<BTreeMap<&str, Vec<&str>>> = out
        .lines()
        .map(|l| {
            names
                .iter()
                .zip(l.split('|'))
                .map(|(n, v)| {
                    (
                        *n,
                        if v.is_empty() {
                            vec![]
                        } else {
                            v.split(';').collect()
                        },
                    )
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), cases.len());

    let mut failures = String::new();
    let mut checked = 0;
    let option_types = pdml_option_types(&tshark(&pcap, &records, &["-T", "pdml"]));
    assert_eq!(option_types.len(), cases.len());
    for (i, (c, row)) in cases.iter().zip(&rows).enumerate() {
        assert_eq!(row["frame.comment"], vec![c.name], "packet order");
        if c.esp.is_some() && row["esp.icv_good"] != vec!["1"] {
            failures += &format!("{}: esp.icv_good = {:?}\n", c.name, row["esp.icv_good"]);
        }
        for (k, v) in &c.fields {
            let (f, occ) = match tshark_field(k, c) {
                Ok(m) => m,
                Err(_why) => continue,
            };
            let vals = &row[f];
            let got = match occ {
                Occ::First => vals.first(),
                Occ::Second => vals.get(1),
                Occ::Last => vals.last(),
            };
            checked += 1;
            match got {
                Some(g) if matches(v, g) => {}
                other => {
                    failures += &format!("{}: {k} ({f}): put in {v:?}, tshark {other:?}\n", c.name)
                }
            }
        }
        // Option types in wire order, padding included: tshark 4.0 shows each option
        // as a `mip6.options.<name>` item whose value starts with the type octet.
        if let Some(V::Ints(types)) = c.fields.get("opt_types") {
            let got = &option_types[i];
            checked += 1;
            if types != got {
                failures += &format!(
                    "{}: option types put in {types:?}, tshark {got:?}\n",
                    c.name
                );
            }
        }
    }
    assert!(failures.is_empty(), "tshark disagrees:\n{failures}");
    assert!(checked > 200, "only {checked} fields checked");
}

/// Per packet of a PDML dump, the type octet of every `mip6.options.*` item in order.
fn pdml_option_types(pdml: &str) -> Vec<Vec<u64>> {
    pdml.split("<packet>")
        .skip(1)
        .map(|packet| {
            packet
                .lines()
                .filter(|l| l.trim_start().starts_with("<field name=\"mip6.options."))
                .filter_map(|l| {
                    let v = l.split(" value=\"").nth(1)?;
                    u64::from_str_radix(v.get(..2)?, 16).ok()
                })
                .collect()
        })
        .collect()
}
