//! "One of everything", built with OUR emitters (mip6-wire), for the cross-checks
//! against scapy (`tests/tests/scapy_cross.rs`) and tshark
//! (`tests/tests/tshark_catalogue.rs`, which also writes `pcaps/wire-catalogue.pcapng`).
//!
//! Every Mobility Header type 0..=7 (RFC 6275 §6.1.2–6.1.9), every mobility option
//! (Pad1, PadN, BRA, Alternate CoA, Nonce Indices, BAD, Vendor-Specific with each of
//! the four key sub-types, RFC 6275 §6.2, RFC 5094), the Home Address option and the
//! type 2 routing header (§6.3, §6.4), a bare IPv6-in-IPv6 packet (RFC 2473), ESP BUs
//! sealed by [`BindingUpdateFrame`] with explicit AES-128 and AES-256 keys, and a
//! home registration under the key table (BU with Key Initialization, BA with Key
//! Distribution, tunnelled data both ways, RFC 4303/4106).
//!
//! Each [`Case`] carries the values we put in, in the flat field schema of
//! `tests/scapy/catalogue.py` (documented at its top): those are what scapy and tshark
//! must read back. Everything is fixed (keys, SPIs, nonces), so the packets are the
//! same octets on every run.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use mip6_wire::esp::{OutboundSa, SaKey, Spi, Suite};
use mip6_wire::ext::{ChainRepr, NextHeader};
use mip6_wire::frames::{
    seal_data_in_place, BindingAckFrame, BindingUpdateFrame, TunnelEndpoints, DATA_HEADROOM,
};
use mip6_wire::keys::{Generation, GenerationId, KeyTable, Role, SpiPair};
use mip6_wire::mh::{
    self, BaFlags, BaStatus, BeStatus, BindingAckRepr, BindingErrorRepr, BindingUpdateRepr,
    BuFlags, KeyDistribution, KeyOption, Message, MobilityOption, SequenceNumber, TestInitRepr,
    TestRepr,
};
use mip6_wire::tunnel::{InnerOrigin, Tunnel};
use mip6_wire::Secret32;

/// The home agent, the mobile node's home and care-of addresses and a correspondent:
/// the test kit's lab addresses.
pub use mip6_testkit::lab::{CN, COA, HA, HOA};
/// Vendor ID of the key options (RFC 5612 documentation PEN).
pub const VENDOR: u32 = mh::DEFAULT_VENDOR_ID;
/// Key Initialization timestamp nonce (NTP format).
pub const NONCE: u64 = 0xE8F1_2A3B_8000_0000;
/// Secret carried by the Key Distribution options.
pub const DIST_SECRET: [u8; 32] = {
    let mut s = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        s[i] = 0x40 + i as u8;
        i += 1;
    }
    s
};
/// Initialization secret of the key-table home registration (octets 00..1f).
pub const INIT_SECRET: [u8; 32] = {
    let mut s = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        s[i] = i as u8;
        i += 1;
    }
    s
};
/// Init SPIs of the key-table home registration.
pub const INIT_SPI_MN2HA: u32 = 0x1001;
/// Init SPI HA→MN.
pub const INIT_SPI_HA2MN: u32 = 0x2001;

/// A field value in the schema of `tests/scapy/catalogue.py`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V {
    /// An integer.
    Int(u64),
    /// A string: an address, or hex octets.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A list of integers (`opt_types`).
    Ints(Vec<u64>),
}

/// Fields by schema name.
pub type Fields = BTreeMap<String, V>;

/// The key of an ESP-protected case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspParams {
    /// SPI.
    pub spi: u32,
    /// AES key (16 or 32 octets).
    pub key: Vec<u8>,
    /// Salt (RFC 4106 §4).
    pub salt: [u8; 4],
    /// Direction, for the Wireshark `esp_sa` records.
    pub mn_to_ha: bool,
}

impl EspParams {
    /// key ‖ salt, as Wireshark's `esp_sa` wants it.
    pub fn key_and_salt(&self) -> Vec<u8> {
        let mut v = self.key.clone();
        v.extend_from_slice(&self.salt);
        v
    }
}

/// One packet of the catalogue and the values it was built from.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short unique name.
    pub name: &'static str,
    /// The whole IPv6 packet.
    pub packet: Vec<u8>,
    /// The SA's key, for ESP cases.
    pub esp: Option<EspParams>,
    /// The values put in, in the scapy catalogue schema.
    pub fields: Fields,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn set(f: &mut Fields, k: &str, v: V) {
    f.insert(k.to_owned(), v);
}
fn int(f: &mut Fields, k: &str, v: impl Into<u64>) {
    set(f, k, V::Int(v.into()));
}
fn addr(f: &mut Fields, k: &str, a: Ipv6Addr) {
    set(f, k, V::Str(a.to_string()));
}

/// Alignment (x, y) of an option type: it starts at x·n + y from the MH start
/// (RFC 6275 §6.2.4–6.2.7, RFC 5094 §3). Written here from the RFCs, not taken from
/// mip6-wire, so the expected padding is independent of the emitter.
fn rfc_alignment(option_type: u8) -> (usize, usize) {
    match option_type {
        2 | 4 => (2, 0),
        3 => (8, 6),
        5 => (8, 2),
        19 => (4, 2),
        _ => (1, 0),
    }
}

/// Option types in wire order with the Pad1 (gap 1) / PadN (gap ≥ 2) a compliant
/// emitter inserts, starting at `start` octets into the MH, and the MH length.
fn expected_layout(start: usize, options: &[MobilityOption<'_>]) -> (Vec<u64>, usize) {
    let mut types = Vec::new();
    let mut pos = start;
    let pad = |gap: usize, types: &mut Vec<u64>| match gap {
        0 => {}
        1 => types.push(0),
        _ => types.push(1),
    };
    for o in options {
        let t: u8 = o.option_type().into();
        let (x, y) = rfc_alignment(t);
        let gap = (y + x - pos % x) % x;
        pad(gap, &mut types);
        pos += gap + o.buffer_len();
        types.push(u64::from(t));
    }
    let gap = (8 - pos % 8) % 8;
    pad(gap, &mut types);
    (types, pos + gap)
}

/// The option fields of the schema for the options we put in.
fn option_fields(f: &mut Fields, options: &[MobilityOption<'_>]) {
    for o in options {
        match o {
            MobilityOption::BindingRefreshAdvice { refresh_interval } => {
                int(f, "bra_interval", *refresh_interval)
            }
            MobilityOption::AlternateCareOfAddress(a) => addr(f, "alt_coa", *a),
            MobilityOption::NonceIndices {
                home_nonce_index,
                care_of_nonce_index,
            } => {
                int(f, "ni_home", *home_nonce_index);
                int(f, "ni_careof", *care_of_nonce_index);
            }
            MobilityOption::BindingAuthorizationData(a) => set(f, "bad", V::Str(hex(a))),
            MobilityOption::VendorSpecific(v) => {
                int(f, "vendor_id", v.vendor_id);
                int(f, "subtype", v.sub_type);
                match KeyOption::from_vendor_specific(v, VENDOR) {
                    Ok(Some(KeyOption::KeyInitialization { timestamp })) => {
                        int(f, "nonce", timestamp)
                    }
                    Ok(Some(KeyOption::KeyDistribution(d))) => {
                        int(f, "generation", d.generation);
                        int(f, "spi_mn2ha", d.spi_mn_to_ha);
                        int(f, "spi_ha2mn", d.spi_ha_to_mn);
                        int(f, "suite", d.suite.code());
                        int(f, "key_lifetime", d.lifetime_secs);
                        set(f, "secret", V::Str(hex(d.secret.expose())));
                    }
                    _ => {}
                }
            }
            MobilityOption::Pad1 | MobilityOption::PadN(_) | MobilityOption::Unknown { .. } => {}
        }
    }
}

/// The message fields of the schema.
fn message_fields(f: &mut Fields, m: &Message<'_>) {
    int(f, "mh_type", u8::from(m.mh_type()));
    match m {
        Message::HomeTestInit(r) | Message::CareOfTestInit(r) => {
            set(f, "cookie", V::Str(hex(&r.cookie)))
        }
        Message::HomeTest(r) | Message::CareOfTest(r) => {
            int(f, "nonce_index", r.nonce_index);
            set(f, "cookie", V::Str(hex(&r.cookie)));
            set(f, "token", V::Str(hex(&r.keygen_token)));
        }
        Message::BindingUpdate(b) => {
            int(f, "seq", b.sequence.0);
            int(f, "lifetime", b.lifetime);
            for (k, flag) in [
                ("flags_a", BuFlags::A),
                ("flags_h", BuFlags::H),
                ("flags_l", BuFlags::L),
                ("flags_k", BuFlags::K),
            ] {
                int(f, k, u8::from(b.flags.contains(flag)));
            }
        }
        Message::BindingAck(b) => {
            int(f, "status", u8::from(b.status));
            int(f, "flags_k", u8::from(b.flags.contains(BaFlags::K)));
            int(f, "seq", b.sequence.0);
            int(f, "lifetime", b.lifetime);
        }
        Message::BindingError(b) => {
            int(f, "status", u8::from(b.status));
            addr(f, "home_address", b.home_address);
        }
        Message::BindingRefreshRequest | Message::Unknown { .. } => {}
    }
}

/// Schema fields of a Mobility Header we emit: message, options, common header
/// (Header Len and checksum from an emission with the pseudo-header `src`, `dst`).
fn mh_fields(
    f: &mut Fields,
    message: Message<'_>,
    options: &[MobilityOption<'_>],
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Vec<u8> {
    let repr = mh::Repr::new(message, options);
    let mut mh_bytes = vec![0u8; repr.buffer_len()];
    repr.emit_into(&mut mh_bytes, &src, &dst);
    let fixed = 6 + message.fixed_len();
    let (types, len) = expected_layout(fixed, options);
    assert_eq!(
        len,
        mh_bytes.len(),
        "our emitter laid out {} octets, RFC 6275 §6.2 alignment gives {len}",
        mh_bytes.len()
    );
    message_fields(f, &message);
    int(f, "mh_len", (len / 8 - 1) as u64);
    int(f, "mh_payload_proto", 59u8);
    int(
        f,
        "checksum",
        u16::from_be_bytes([mh_bytes[4], mh_bytes[5]]),
    );
    set(f, "checksum_ok", V::Bool(true));
    set(f, "opt_types", V::Ints(types));
    option_fields(f, options);
    mh_bytes
}

/// `IPv6 [| RH2(rh2)] [| DestOpts(HoA)] | MH`, unprotected.
fn signalling(
    name: &'static str,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hoa: Option<Ipv6Addr>,
    rh2: Option<Ipv6Addr>,
    message: Message<'_>,
    options: &[MobilityOption<'_>],
) -> Case {
    let mut chain = ChainRepr {
        src_addr: src,
        dst_addr: dst,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
        rh2,
        home_address: hoa,
        next_header: NextHeader::MOBILITY,
        payload_len: 0,
    };
    let mut f = Fields::new();
    let mh_bytes = mh_fields(
        &mut f,
        message,
        options,
        chain.mh_checksum_source(),
        chain.mh_checksum_destination(),
    );
    chain.payload_len = mh_bytes.len();
    let h = chain.buffer_len();
    let mut packet = vec![0u8; h + mh_bytes.len()];
    chain.emit(&mut packet).expect("headers fit");
    packet[h..].copy_from_slice(&mh_bytes);
    addr(&mut f, "ip_src", src);
    addr(&mut f, "ip_dst", dst);
    let first = match (rh2, hoa) {
        (Some(_), _) => 43u8,
        (None, Some(_)) => 60,
        (None, None) => 135,
    };
    int(&mut f, "ip_nh", first);
    if let Some(a) = hoa {
        addr(&mut f, "hoa", a);
    }
    if let Some(a) = rh2 {
        addr(&mut f, "rh2", a);
    }
    Case {
        name,
        packet,
        esp: None,
        fields: f,
    }
}

/// One's-complement sum for the ICMPv6 checksum (RFC 4443 §2.3, RFC 8200 §8.1).
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    upper_layer_checksum(src, dst, 58, msg)
}

/// The upper-layer checksum of `msg` (next header `nh`) between `src` and `dst`
/// (RFC 8200 §8.1), the textbook way.
fn upper_layer_checksum(src: Ipv6Addr, dst: Ipv6Addr, nh: u8, msg: &[u8]) -> u16 {
    let mut data = Vec::new();
    data.extend_from_slice(&src.octets());
    data.extend_from_slice(&dst.octets());
    data.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, nh]);
    data.extend_from_slice(msg);
    if data.len() % 2 == 1 {
        data.push(0);
    }
    let mut acc: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    !(acc as u16)
}

/// An inner IPv6 packet `src → dst` carrying an ICMPv6 Echo Request (RFC 4443 §4.1).
pub fn echo_request(src: Ipv6Addr, dst: Ipv6Addr, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut icmp = vec![128, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(data);
    let c = icmpv6_checksum(src, dst, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    p.extend_from_slice(&[58, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&icmp);
    p
}

fn inner_fields(f: &mut Fields, src: Ipv6Addr, dst: Ipv6Addr, id: u16, seq: u16) {
    addr(f, "inner_src", src);
    addr(f, "inner_dst", dst);
    int(f, "inner_nh", 58u8);
    int(f, "icmp_type", 128u8);
    int(f, "icmp_id", id);
    int(f, "icmp_seq", seq);
}

fn esp_fields(f: &mut Fields, p: &EspParams, seq: u32, next_header: u8) {
    int(f, "spi", p.spi);
    int(f, "esp_seq", seq);
    set(f, "esp_iv", V::Str(hex(&u64::from(seq).to_be_bytes())));
    set(f, "esp_key", V::Str(hex(&p.key)));
    set(f, "esp_salt", V::Str(hex(&p.salt)));
    int(f, "esp_next_header", next_header);
}

/// An ESP-protected home-registration BU sealed by [`BindingUpdateFrame`] with `sa`.
fn esp_bu(
    name: &'static str,
    sa: &mut OutboundSa,
    params: EspParams,
    update: BindingUpdateRepr,
    extra: &[MobilityOption<'_>],
) -> Case {
    let seq = sa.next_sequence() as u32;
    let frame = BindingUpdateFrame::new(COA, HA, HOA, update, extra);
    let mut packet = vec![0u8; frame.buffer_len().expect("options fit")];
    let n = frame.seal(sa, &mut packet).expect("BU seals");
    packet.truncate(n);
    let mut options = vec![MobilityOption::AlternateCareOfAddress(COA)];
    options.extend_from_slice(extra);
    let mut f = Fields::new();
    mh_fields(&mut f, Message::BindingUpdate(update), &options, HOA, HA);
    addr(&mut f, "ip_src", COA);
    addr(&mut f, "ip_dst", HA);
    int(&mut f, "ip_nh", 60u8);
    addr(&mut f, "hoa", HOA);
    esp_fields(&mut f, &params, seq, 135);
    Case {
        name,
        packet,
        esp: Some(params),
        fields: f,
    }
}

fn bu(seq: u16, flags: BuFlags, lifetime: u16) -> BindingUpdateRepr {
    BindingUpdateRepr {
        sequence: SequenceNumber(seq),
        flags,
        lifetime,
    }
}

fn ba(status: u8, flags: BaFlags, seq: u16, lifetime: u16) -> BindingAckRepr {
    BindingAckRepr {
        status: BaStatus::from(status),
        flags,
        sequence: SequenceNumber(seq),
        lifetime,
    }
}

fn key_distribution() -> KeyOption {
    KeyOption::KeyDistribution(KeyDistribution {
        generation: 7,
        spi_mn_to_ha: 0x0000_1002,
        spi_ha_to_mn: 0x0000_2002,
        suite: Suite::Aes256Gcm,
        lifetime_secs: 3600,
        secret: Secret32::new(DIST_SECRET),
    })
}

/// The unprotected signalling cases: every MH type, every option, HoA option, RH2,
/// and a bare IPv6-in-IPv6 packet.
pub fn plain_cases() -> Vec<Case> {
    let init = KeyOption::KeyInitialization { timestamp: NONCE }.encode();
    let update = KeyOption::KeyUpdateRequest.encode();
    let resend = KeyOption::KeyResendingRequest.encode();
    let dist = key_distribution().encode();
    let bad = [
        0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB,
    ];
    let mut cases = vec![
        signalling(
            "brr",
            HA,
            COA,
            None,
            Some(HOA),
            Message::BindingRefreshRequest,
            &[],
        ),
        signalling(
            "hoti",
            HOA,
            CN,
            None,
            None,
            Message::HomeTestInit(TestInitRepr {
                cookie: [1, 2, 3, 4, 5, 6, 7, 8],
            }),
            &[],
        ),
        signalling(
            "coti",
            COA,
            CN,
            None,
            None,
            Message::CareOfTestInit(TestInitRepr {
                cookie: [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
            }),
            &[],
        ),
        signalling(
            "hot",
            CN,
            HOA,
            None,
            None,
            Message::HomeTest(TestRepr {
                nonce_index: 0x0102,
                cookie: [1, 2, 3, 4, 5, 6, 7, 8],
                keygen_token: [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8],
            }),
            &[],
        ),
        signalling(
            "cot",
            CN,
            COA,
            None,
            None,
            Message::CareOfTest(TestRepr {
                nonce_index: 0x0304,
                cookie: [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
                keygen_token: [0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8],
            }),
            &[],
        ),
        signalling(
            "bu_key_init",
            COA,
            HA,
            Some(HOA),
            None,
            Message::BindingUpdate(bu(0x1235, BuFlags::A | BuFlags::H, 0x0096)),
            &[
                MobilityOption::AlternateCareOfAddress(COA),
                init.to_option(VENDOR),
            ],
        ),
        signalling(
            "bu_key_update",
            COA,
            HA,
            Some(HOA),
            None,
            Message::BindingUpdate(bu(0x1236, BuFlags::A | BuFlags::H | BuFlags::K, 0x0097)),
            &[
                MobilityOption::AlternateCareOfAddress(COA),
                update.to_option(VENDOR),
            ],
        ),
        signalling(
            "bu_key_resend",
            COA,
            HA,
            Some(HOA),
            None,
            Message::BindingUpdate(bu(0x1237, BuFlags::H | BuFlags::L, 0x0098)),
            &[
                MobilityOption::AlternateCareOfAddress(COA),
                resend.to_option(VENDOR),
                MobilityOption::BindingRefreshAdvice {
                    refresh_interval: 0x0102,
                },
            ],
        ),
        signalling(
            "bu_rr",
            COA,
            CN,
            Some(HOA),
            None,
            Message::BindingUpdate(bu(0xFFFE, BuFlags::A | BuFlags::L, 0x0001)),
            &[
                MobilityOption::NonceIndices {
                    home_nonce_index: 0x0102,
                    care_of_nonce_index: 0x0304,
                },
                MobilityOption::BindingAuthorizationData(&bad),
            ],
        ),
        signalling(
            "ba_key_dist",
            HA,
            COA,
            None,
            Some(HOA),
            Message::BindingAck(ba(0, BaFlags(0), 0x1235, 0x0096)),
            &[
                MobilityOption::BindingRefreshAdvice {
                    refresh_interval: 0x0030,
                },
                dist.to_option(VENDOR),
            ],
        ),
        signalling(
            "ba_key_init_echo",
            HA,
            COA,
            None,
            Some(HOA),
            Message::BindingAck(ba(129, BaFlags::K, 0x4321, 0)),
            &[init.to_option(VENDOR)],
        ),
        signalling(
            "be",
            HA,
            COA,
            None,
            None,
            Message::BindingError(BindingErrorRepr {
                status: BeStatus::from(2),
                home_address: HOA,
            }),
            &[],
        ),
    ];
    // RFC 2473: HA → CoA carrying CN → HoA, forwarded (inner hop limit 64 → 63).
    let inner = echo_request(CN, HOA, 0x0777, 3, b"mip6");
    let mut packet = vec![0u8; 40 + inner.len()];
    packet[40..].copy_from_slice(&inner);
    let n = Tunnel::new(HA, COA)
        .encapsulate_in_place(&mut packet, InnerOrigin::Forwarded)
        .expect("tunnel");
    packet.truncate(n);
    let mut f = Fields::new();
    addr(&mut f, "ip_src", HA);
    addr(&mut f, "ip_dst", COA);
    int(&mut f, "ip_nh", 41u8);
    inner_fields(&mut f, CN, HOA, 0x0777, 3);
    cases.push(Case {
        name: "tunnel",
        packet,
        esp: None,
        fields: f,
    });
    cases
}

/// ESP BUs sealed by [`BindingUpdateFrame`] under explicit keys: AES-128-GCM (key
/// 00..0f, salt 01020304, SPI 0x3001) and AES-256-GCM (key 20..3f, salt a0a1a2a3,
/// SPI 0x3002), each with a Key Initialization Request.
pub fn explicit_key_bus() -> Vec<Case> {
    let init = KeyOption::KeyInitialization { timestamp: NONCE }.encode();
    let extra = [init.to_option(VENDOR)];
    let mut out = Vec::new();
    for (name, suite, key, salt, spi) in [
        (
            "esp_bu_aes128",
            Suite::Aes128Gcm,
            (0u8..16).collect::<Vec<_>>(),
            [1, 2, 3, 4],
            0x3001u32,
        ),
        (
            "esp_bu_aes256",
            Suite::Aes256Gcm,
            (0x20u8..0x40).collect(),
            [0xa0, 0xa1, 0xa2, 0xa3],
            0x3002,
        ),
    ] {
        let params = EspParams {
            spi,
            key: key.clone(),
            salt,
            mn_to_ha: true,
        };
        let mut sa = OutboundSa::new(
            Spi::new(spi).expect("spi"),
            SaKey::new(suite, &key, salt).expect("key"),
        );
        // Start at 5, as the scapy catalogue does, so the IV is not the trivial 1.
        sa = sa.with_next_sequence(5);
        out.push(esp_bu(
            name,
            &mut sa,
            params,
            bu(0x2001, BuFlags::A | BuFlags::H, 0x0010),
            &extra,
        ));
    }
    out
}

fn init_generation(role: Role) -> Generation {
    Generation::derive(
        role,
        GenerationId::Init,
        Secret32::new(INIT_SECRET),
        &HOA,
        SpiPair {
            mn_to_ha: Spi::new(INIT_SPI_MN2HA).expect("spi"),
            ha_to_mn: Spi::new(INIT_SPI_HA2MN).expect("spi"),
        },
        Suite::Aes128Gcm,
    )
}

fn params_of(g: &Generation, role: Role) -> EspParams {
    let sa = g.outbound();
    EspParams {
        spi: sa.spi().get(),
        key: sa.key().key().to_vec(),
        salt: *sa.key().salt(),
        mn_to_ha: role == Role::MobileNode,
    }
}

/// A home registration under the key tables (init keys from [`INIT_SECRET`]): the MN's
/// BU with a Key Initialization Request, the HA's BA echoing it with a Key
/// Distribution, then a tunnelled data packet each way (ESP tunnel mode).
pub fn key_table_exchange() -> Vec<Case> {
    let mut mn = KeyTable::new(Role::MobileNode, init_generation(Role::MobileNode));
    let mut ha = KeyTable::new(Role::HomeAgent, init_generation(Role::HomeAgent));
    let mut out = Vec::new();

    // BU, MN → HA under the init key.
    let init = KeyOption::KeyInitialization { timestamp: NONCE }.encode();
    let slot = mn.transmit_slot();
    let g = mn.get_mut(slot).expect("init slot");
    let params = params_of(g, Role::MobileNode);
    out.push(esp_bu(
        "reg_bu",
        g.outbound_mut(),
        params,
        bu(0x0100, BuFlags::A | BuFlags::H | BuFlags::K, 0x0096),
        &[init.to_option(VENDOR)],
    ));

    // BA, HA → MN under the init key: echo + Key Distribution.
    let dist = key_distribution().encode();
    let options = [init.to_option(VENDOR), dist.to_option(VENDOR)];
    let ack = ba(0, BaFlags::K, 0x0100, 0x0096);
    let slot = ha.transmit_slot();
    let g = ha.get_mut(slot).expect("init slot");
    let params = params_of(g, Role::HomeAgent);
    let seq = g.outbound().next_sequence() as u32;
    let frame = BindingAckFrame::new(HA, COA, HOA, ack, &options);
    let mut packet = vec![0u8; frame.buffer_len().expect("fits")];
    let n = frame.seal(g.outbound_mut(), &mut packet).expect("BA seals");
    packet.truncate(n);
    let mut f = Fields::new();
    mh_fields(&mut f, Message::BindingAck(ack), &options, HA, HOA);
    addr(&mut f, "ip_src", HA);
    addr(&mut f, "ip_dst", COA);
    int(&mut f, "ip_nh", 43u8);
    addr(&mut f, "rh2", HOA);
    esp_fields(&mut f, &params, seq, 135);
    // Two vendor options: the schema keeps the last one's fields (the distribution),
    // but `nonce` from the first stays too.
    int(&mut f, "nonce", NONCE);
    out.push(Case {
        name: "reg_ba_key_dist",
        packet,
        esp: Some(params),
        fields: f,
    });

    // Tunnelled data both ways.
    for (name, keys, role, src, dst, inner_src, inner_dst, origin, id) in [
        (
            "data_up",
            &mut mn,
            Role::MobileNode,
            COA,
            HA,
            HOA,
            CN,
            InnerOrigin::Local,
            0x0101u16,
        ),
        (
            "data_down",
            &mut ha,
            Role::HomeAgent,
            HA,
            COA,
            CN,
            HOA,
            InnerOrigin::Forwarded,
            0x0202,
        ),
    ] {
        let inner = echo_request(inner_src, inner_dst, id, 1, b"through the tunnel");
        let mut buf =
            vec![0u8; DATA_HEADROOM + inner.len() + mip6_wire::esp::trailer_len(inner.len())];
        buf[DATA_HEADROOM..DATA_HEADROOM + inner.len()].copy_from_slice(&inner);
        let slot = keys.transmit_slot();
        let g = keys.get_mut(slot).expect("slot");
        let params = params_of(g, role);
        let seq = g.outbound().next_sequence() as u32;
        let n = seal_data_in_place(
            &TunnelEndpoints::new(src, dst),
            g.outbound_mut(),
            &mut buf,
            inner.len(),
            origin,
        )
        .expect("data seals");
        buf.truncate(n);
        let mut f = Fields::new();
        addr(&mut f, "ip_src", src);
        addr(&mut f, "ip_dst", dst);
        int(&mut f, "ip_nh", 50u8);
        esp_fields(&mut f, &params, seq, 41);
        inner_fields(&mut f, inner_src, inner_dst, id, 1);
        out.push(Case {
            name,
            packet: buf,
            esp: Some(params),
            fields: f,
        });
    }
    out
}

/// Everything: [`plain_cases`], [`explicit_key_bus`], [`key_table_exchange`].
pub fn all() -> Vec<Case> {
    let mut v = plain_cases();
    v.extend(explicit_key_bus());
    v.extend(key_table_exchange());
    v
}

/// The home registration and the data of [`key_table_exchange`] as ESP in UDP (RFC
/// 3948, issue 14), as the daemons send them with `encapsulation = "udp"`: the BU
/// keeps its Home Address option and the BA its type 2 routing header in front of
/// the UDP header; the mobile node sends from port 61 000 (a NAT's) and the home agent
/// answers there; plus a NAT keepalive (RFC 3948 §2.3). For the tshark catalogue
/// (scapy's cross-check keeps to [`all`]).
pub fn udp_encapsulated() -> Vec<Case> {
    use mip6_wire::udp_encap::{self, Ports, PORT};
    const NAT_PORT: u16 = 61_000;
    let up = Ports {
        source: NAT_PORT,
        destination: PORT,
    };
    let down = Ports {
        source: PORT,
        destination: NAT_PORT,
    };
    let mut out = Vec::new();
    for case in key_table_exchange() {
        let (name, ports) = match case.name {
            "reg_bu" => ("udp_reg_bu", up),
            "reg_ba_key_dist" => ("udp_reg_ba_key_dist", down),
            "data_up" => ("udp_data_up", up),
            "data_down" => ("udp_data_down", down),
            _ => continue,
        };
        let mut packet = case.packet;
        udp_encap::encapsulate(&mut packet, ports).expect("an ESP frame encapsulates");
        let mut fields = case.fields;
        if packet[6] == 17 {
            int(&mut fields, "ip_nh", 17u8);
        }
        int(&mut fields, "udp_sport", ports.source);
        int(&mut fields, "udp_dport", ports.destination);
        out.push(Case {
            name,
            packet,
            esp: case.esp,
            fields,
        });
    }
    // A NAT keepalive from the mobile node: one octet, 0xFF, in UDP to port 4500.
    let mut udp = vec![0u8; 9];
    udp[0..2].copy_from_slice(&NAT_PORT.to_be_bytes());
    udp[2..4].copy_from_slice(&PORT.to_be_bytes());
    udp[4..6].copy_from_slice(&9u16.to_be_bytes());
    udp[8] = udp_encap::NAT_KEEPALIVE;
    let sum = upper_layer_checksum(COA, HA, 17, &udp);
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    let mut packet = vec![0x60, 0, 0, 0, 0, 9, 17, 64];
    packet.extend_from_slice(&COA.octets());
    packet.extend_from_slice(&HA.octets());
    packet.extend_from_slice(&udp);
    let mut f = Fields::new();
    addr(&mut f, "ip_src", COA);
    addr(&mut f, "ip_dst", HA);
    int(&mut f, "ip_nh", 17u8);
    int(&mut f, "udp_sport", NAT_PORT);
    int(&mut f, "udp_dport", PORT);
    out.push(Case {
        name: "udp_nat_keepalive",
        packet,
        esp: None,
        fields: f,
    });
    out
}
