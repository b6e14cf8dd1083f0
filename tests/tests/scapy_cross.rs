//! Cross-check of mip6-wire against scapy (`tests/scapy/catalogue.py`), both ways:
//!
//! - scapy → us: every case scapy builds is read with OUR parsers (chain walker, HoA
//!   option, RH2, Mobility Header with its checksum over the RFC 6275 §6.1.1
//!   pseudo-header, options, key options, tunnel decapsulation, ESP open) into the
//!   same flat schema, and the two field maps must be equal: same keys, same values.
//!   A key our reader does not produce fails the case, so no field is ignored.
//! - us → scapy: one of everything from `mip6_tests::catalogue` (our emitters and
//!   frame builders) is dissected by scapy (which decrypts the ESP cases), and scapy
//!   must read back exactly the values we put in, checksum_ok included.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::Ipv6Addr;
use std::process::{Command, Stdio};

use mip6_tests::catalogue::{self, Fields, V};
use mip6_tests::prerequisites::{require_python_modules, workspace_root};
use mip6_wire::esp::{self, InboundSa, SaKey, Spi, Suite};
use mip6_wire::ext::{self, NextHeader};
use mip6_wire::mh::{self, BaFlags, BuFlags, KeyOption, Message, MobilityOption};
use mip6_wire::tunnel;
use serde_json::{json, Map, Value};

/// Every key of the catalogue.py schema. Each one is produced by [`our_fields`] when
/// the packet has that part; none is "not applicable" to our reader.
const SCHEMA: &[&str] = &[
    "ip_src",
    "ip_dst",
    "ip_nh",
    "hoa",
    "rh2",
    "inner_src",
    "inner_dst",
    "inner_nh",
    "icmp_type",
    "icmp_id",
    "icmp_seq",
    "spi",
    "esp_seq",
    "esp_iv",
    "esp_key",
    "esp_salt",
    "esp_next_header",
    "mh_type",
    "mh_len",
    "mh_payload_proto",
    "checksum",
    "checksum_ok",
    "cookie",
    "nonce_index",
    "token",
    "seq",
    "lifetime",
    "flags_a",
    "flags_h",
    "flags_l",
    "flags_k",
    "status",
    "home_address",
    "opt_types",
    "bra_interval",
    "alt_coa",
    "ni_home",
    "ni_careof",
    "bad",
    "vendor_id",
    "subtype",
    "nonce",
    "generation",
    "spi_mn2ha",
    "spi_ha2mn",
    "suite",
    "key_lifetime",
    "secret",
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn to_json(f: &Fields) -> Map<String, Value> {
    f.iter()
        .map(|(k, v)| {
            let v = match v {
                V::Int(i) => json!(i),
                V::Str(s) => json!(s),
                V::Bool(b) => json!(b),
                V::Ints(l) => json!(l),
            };
            (k.clone(), v)
        })
        .collect()
}

struct EspKey {
    spi: u32,
    key: Vec<u8>,
    salt: [u8; 4],
}

/// Reads a packet with OUR code into the catalogue.py schema.
fn our_fields(packet: &[u8], key: Option<&EspKey>) -> Result<Map<String, Value>, String> {
    let mut f = Map::new();
    let chain = ext::walk(packet).map_err(|e| format!("walk: {e}"))?;
    f.insert("ip_src".into(), json!(chain.ipv6.src_addr.to_string()));
    f.insert("ip_dst".into(), json!(chain.ipv6.dst_addr.to_string()));
    f.insert("ip_nh".into(), json!(chain.ipv6.next_header.0));
    if let Some(a) = chain.home_address {
        f.insert("hoa".into(), json!(a.to_string()));
    }
    if let Some(a) = chain.rh2 {
        f.insert("rh2".into(), json!(a.to_string()));
    }
    let payload = chain.payload(packet).ok_or("payload out of the buffer")?;
    let src = chain.mh_checksum_source();
    let dst = chain.mh_checksum_destination();
    match chain.final_header {
        NextHeader::MOBILITY => mh_fields(&mut f, payload, src, dst)?,
        NextHeader::IPV6 => {
            let d = tunnel::decapsulate(packet).map_err(|e| format!("decapsulate: {e}"))?;
            inner_fields(&mut f, &packet[d.inner.clone()])?;
        }
        NextHeader::ESP => {
            let view = esp::Packet::new_checked(payload).map_err(|e| format!("esp: {e}"))?;
            f.insert("spi".into(), json!(view.spi()));
            f.insert("esp_seq".into(), json!(view.sequence_number()));
            f.insert("esp_iv".into(), json!(hex(&view.iv().to_be_bytes())));
            let Some(k) = key else { return Ok(f) };
            f.insert("esp_key".into(), json!(hex(&k.key)));
            f.insert("esp_salt".into(), json!(hex(&k.salt)));
            let suite = if k.key.len() == 32 {
                Suite::Aes256Gcm
            } else {
                Suite::Aes128Gcm
            };
            let mut sa = InboundSa::<esp::AesGcmAead>::new(
                Spi::new(k.spi).map_err(|e| e.to_string())?,
                SaKey::new(suite, &k.key, k.salt).ok_or("key length")?,
            );
            let mut buf = payload.to_vec();
            let opened = sa.open(&mut buf).map_err(|e| format!("ESP open: {e}"))?;
            f.insert("esp_next_header".into(), json!(opened.next_header));
            let inner = &buf[opened.payload.clone()];
            match opened.next_header {
                135 => mh_fields(&mut f, inner, src, dst)?,
                41 => {
                    let p = tunnel::validate_inner(inner).map_err(|e| e.to_string())?;
                    inner_fields(&mut f, &inner[..p.len])?;
                }
                other => return Err(format!("ESP next header {other}")),
            }
        }
        other => return Err(format!("final header {}", other.0)),
    }
    Ok(f)
}

/// Inner IPv6 packet (RFC 2473) and, for ICMPv6 Echo Request, its id and sequence.
fn inner_fields(f: &mut Map<String, Value>, inner: &[u8]) -> Result<(), String> {
    let p = tunnel::validate_inner(inner).map_err(|e| e.to_string())?;
    f.insert("inner_src".into(), json!(p.header.src_addr.to_string()));
    f.insert("inner_dst".into(), json!(p.header.dst_addr.to_string()));
    f.insert("inner_nh".into(), json!(p.header.next_header.0));
    if p.header.next_header == NextHeader::ICMPV6 {
        let icmp = inner.get(40..48).ok_or("short ICMPv6")?;
        if icmp[0] == 128 {
            f.insert("icmp_type".into(), json!(icmp[0]));
            f.insert(
                "icmp_id".into(),
                json!(u16::from_be_bytes([icmp[4], icmp[5]])),
            );
            f.insert(
                "icmp_seq".into(),
                json!(u16::from_be_bytes([icmp[6], icmp[7]])),
            );
        }
    }
    Ok(())
}

/// The Mobility Header: mh::Packet for the common header, Repr::parse_checked for
/// the message (checksum over the chain's pseudo-header), options by iterator, key
/// options by KeyOption::from_option with vendor 32473.
fn mh_fields(
    f: &mut Map<String, Value>,
    bytes: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Result<(), String> {
    let packet = mh::Packet::new_checked(bytes).map_err(|e| format!("MH: {e}"))?;
    f.insert("mh_type".into(), json!(u8::from(packet.mh_type())));
    f.insert("mh_len".into(), json!(packet.header_len()));
    f.insert("mh_payload_proto".into(), json!(packet.payload_proto()));
    f.insert("checksum".into(), json!(packet.checksum()));
    f.insert(
        "checksum_ok".into(),
        json!(packet.verify_checksum(&src, &dst)),
    );
    let repr = mh::Repr::parse_checked(&packet, &src, &dst).map_err(|e| format!("MH: {e}"))?;
    match repr.message {
        Message::HomeTestInit(r) | Message::CareOfTestInit(r) => {
            f.insert("cookie".into(), json!(hex(&r.cookie)));
        }
        Message::HomeTest(r) | Message::CareOfTest(r) => {
            f.insert("nonce_index".into(), json!(r.nonce_index));
            f.insert("cookie".into(), json!(hex(&r.cookie)));
            f.insert("token".into(), json!(hex(&r.keygen_token)));
        }
        Message::BindingUpdate(b) => {
            f.insert("seq".into(), json!(b.sequence.0));
            f.insert("lifetime".into(), json!(b.lifetime));
            for (k, flag) in [
                ("flags_a", BuFlags::A),
                ("flags_h", BuFlags::H),
                ("flags_l", BuFlags::L),
                ("flags_k", BuFlags::K),
            ] {
                f.insert(k.into(), json!(u8::from(b.flags.contains(flag))));
            }
        }
        Message::BindingAck(b) => {
            f.insert("status".into(), json!(u8::from(b.status)));
            f.insert(
                "flags_k".into(),
                json!(u8::from(b.flags.contains(BaFlags::K))),
            );
            f.insert("seq".into(), json!(b.sequence.0));
            f.insert("lifetime".into(), json!(b.lifetime));
        }
        Message::BindingError(b) => {
            f.insert("status".into(), json!(u8::from(b.status)));
            f.insert("home_address".into(), json!(b.home_address.to_string()));
        }
        Message::BindingRefreshRequest => {}
        Message::Unknown { mh_type, .. } => return Err(format!("unknown MH type {mh_type}")),
    }
    let mut types = Vec::new();
    for o in repr.options() {
        let o = o.map_err(|e| format!("option: {e}"))?;
        types.push(u8::from(o.option_type()));
        match o {
            MobilityOption::BindingRefreshAdvice { refresh_interval } => {
                f.insert("bra_interval".into(), json!(refresh_interval));
            }
            MobilityOption::AlternateCareOfAddress(a) => {
                f.insert("alt_coa".into(), json!(a.to_string()));
            }
            MobilityOption::NonceIndices {
                home_nonce_index,
                care_of_nonce_index,
            } => {
                f.insert("ni_home".into(), json!(home_nonce_index));
                f.insert("ni_careof".into(), json!(care_of_nonce_index));
            }
            MobilityOption::BindingAuthorizationData(a) => {
                f.insert("bad".into(), json!(hex(a)));
            }
            MobilityOption::VendorSpecific(v) => {
                f.insert("vendor_id".into(), json!(v.vendor_id));
                f.insert("subtype".into(), json!(v.sub_type));
                match KeyOption::from_option(&o, catalogue::VENDOR)
                    .map_err(|e| format!("key option: {e}"))?
                {
                    Some(KeyOption::KeyInitialization { timestamp }) => {
                        f.insert("nonce".into(), json!(timestamp));
                    }
                    Some(KeyOption::KeyDistribution(d)) => {
                        f.insert("generation".into(), json!(d.generation));
                        f.insert("spi_mn2ha".into(), json!(d.spi_mn_to_ha));
                        f.insert("spi_ha2mn".into(), json!(d.spi_ha_to_mn));
                        f.insert("suite".into(), json!(d.suite.code()));
                        f.insert("key_lifetime".into(), json!(d.lifetime_secs));
                        f.insert("secret".into(), json!(hex(d.secret.expose())));
                    }
                    Some(KeyOption::KeyUpdateRequest | KeyOption::KeyResendingRequest) => {}
                    None => return Err(format!("vendor {} is not ours", v.vendor_id)),
                }
            }
            MobilityOption::Pad1 | MobilityOption::PadN(_) => {}
            MobilityOption::Unknown { option_type, .. } => {
                return Err(format!("unknown option type {option_type}"))
            }
        }
    }
    f.insert("opt_types".into(), json!(types));
    Ok(())
}

/// Differences between two field maps, one line each ("" when equal).
fn diff(who_a: &str, a: &Map<String, Value>, who_b: &str, b: &Map<String, Value>) -> String {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = String::new();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            out += &format!("  {k}: {who_a} {x:?} vs {who_b} {y:?}\n");
        }
    }
    out
}

fn python(args: &[&str], stdin: Option<&str>) -> Value {
    let root = workspace_root();
    let mut child = Command::new("python3")
        .arg(root.join("tests/scapy/catalogue.py"))
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(pipe);
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "catalogue.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("catalogue.py prints JSON")
}

#[test]
fn scapy_built_packets_read_the_same_with_our_parsers() {
    if !require_python_modules("scapy_cross", &["scapy", "cryptography"]) {
        return;
    }
    let cases = python(&["build"], None);
    let cases = cases.as_array().expect("a list of cases");
    assert!(cases.len() >= 14, "too few scapy cases: {}", cases.len());
    let mut failures = String::new();
    let mut kinds = BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let fields = case["fields"].as_object().expect("fields");
        for k in fields.keys() {
            assert!(
                SCHEMA.contains(&k.as_str()),
                "case {name}: scapy emitted field {k:?} our reader does not know: extend SCHEMA and our_fields"
            );
        }
        let packet = unhex(case["hex"].as_str().expect("hex"));
        let key = fields.get("esp_key").map(|k| EspKey {
            spi: fields["spi"].as_u64().expect("spi") as u32,
            key: unhex(k.as_str().expect("key")),
            salt: unhex(fields["esp_salt"].as_str().expect("salt"))
                .try_into()
                .expect("4-octet salt"),
        });
        match our_fields(&packet, key.as_ref()) {
            Ok(ours) => {
                let d = diff("scapy", fields, "ours", &ours);
                if !d.is_empty() {
                    failures += &format!("{name}:\n{d}");
                }
            }
            Err(e) => failures += &format!("{name}: our parser refused it: {e}\n"),
        }
        if let Some(t) = fields.get("mh_type") {
            kinds.insert(t.as_u64().expect("mh_type"));
        }
    }
    assert!(failures.is_empty(), "scapy → us mismatches:\n{failures}");
    assert_eq!(
        kinds,
        (0..=7).collect(),
        "scapy catalogue covers every MH type"
    );
}

#[test]
fn scapy_reads_back_what_our_emitters_put_in() {
    if !require_python_modules("scapy_cross", &["scapy", "cryptography"]) {
        return;
    }
    let cases = catalogue::all();
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            let mut item = json!({"name": c.name, "kind": c.name, "hex": hex(&c.packet)});
            if let Some(e) = c.esp.as_ref() {
                item["esp_key"] = json!(hex(&e.key));
                item["esp_salt"] = json!(hex(&e.salt));
                item["spi"] = json!(e.spi);
            }
            item
        })
        .collect();
    let parsed = python(&["parse"], Some(&Value::from(input).to_string()));
    let parsed = parsed.as_array().expect("a list");
    assert_eq!(parsed.len(), cases.len());
    let mut failures = String::new();
    for (case, got) in cases.iter().zip(parsed) {
        assert_eq!(got["name"], json!(case.name));
        let expected = catalogue_json(case);
        // Our own reader must agree with our own emitter too.
        let key = case.esp.as_ref().map(|e| EspKey {
            spi: e.spi,
            key: e.key.clone(),
            salt: e.salt,
        });
        match our_fields(&case.packet, key.as_ref()) {
            Ok(ours) => {
                let d = diff("put in", &catalogue_json(case), "ours", &ours);
                if !d.is_empty() {
                    failures += &format!("{} (our reader):\n{d}", case.name);
                }
            }
            Err(e) => failures += &format!("{}: our parser refused our packet: {e}\n", case.name),
        }
        if let Some(err) = got.get("error") {
            failures += &format!("{}: scapy failed: {err}\n", case.name);
            continue;
        }
        let fields = got["fields"].as_object().expect("fields");
        let d = diff("put in", &expected, "scapy", fields);
        if !d.is_empty() {
            failures += &format!("{} (scapy):\n{d}", case.name);
        }
    }
    assert!(failures.is_empty(), "us → scapy mismatches:\n{failures}");
    let types: BTreeSet<u64> = cases
        .iter()
        .filter_map(|c| match c.fields.get("mh_type") {
            Some(V::Int(t)) => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(
        types,
        (0..=7).collect(),
        "our catalogue covers every MH type"
    );
    let subtypes: BTreeSet<u64> = cases
        .iter()
        .flat_map(|c| c.fields.get("subtype").cloned())
        .filter_map(|v| match v {
            V::Int(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(subtypes, (1..=4).collect(), "every key sub-type");
}

fn catalogue_json(case: &catalogue::Case) -> Map<String, Value> {
    to_json(&case.fields)
}
