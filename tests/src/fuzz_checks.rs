//! Fuzz target bodies, shared by cargo-fuzz and the corpus replay test.
//!
//! Each `pub fn <target>(data: &[u8])` here is the whole body of
//! `fuzz/fuzz_targets/<target>.rs` (a one-line `fuzz_target!`), and
//! `tests/tests/fuzz_corpus.rs` replays every file of `fuzz/corpus/<target>/` through
//! the same function under plain `cargo test`, so a crash found by the fuzzer and
//! committed to the corpus stays a regression test.
//!
//! The bodies assert properties, not only "does not panic":
//!
//! - every error offset lies inside the input (`<=` its length for a layer that starts
//!   where the input ends, `<` for a pointer at an offending octet), and every
//!   [`LenError`] asked for more octets than were there, from an offset that plus the
//!   octets present stays inside the input;
//! - whatever parses re-emits and re-parses to the same `Repr` (the round trip), and a
//!   second emit of that gives the same octets (the emitted form is canonical);
//! - ESP: a sealed packet opens to the same payload, opens only once (replay), and any
//!   one flipped bit makes it fail; the MH checksum agrees with a plain RFC 1071
//!   reference sum.
//!
//! ESP and the identity AEAD: `mip6_wire::esp::NullAead` (feature `null-aead`, which
//! this crate turns on) lets arbitrary bytes past the ICV into the Pad Length and
//! padding checks; the real [`AesGcmAead`] with a fixed key runs on the same bytes
//! (ICV failures, length and SPI paths) and in the seal → open round trip. The two
//! engine targets (`ha_engine`, `mn_engine`, [`crate::engine_fuzz`]) drive whole
//! engines through the same null AEAD.
//!
//! Allocation is fine here (a harness, not a per-packet path); the code under test is
//! the only thing that must not allocate.

use std::net::Ipv6Addr;

use mip6_wire::capture::{CapturedFrame, PcapngReader, PcapngWriter};
use mip6_wire::esp::{
    self, sealed_len, AesGcmAead, EspAead, InboundSa, NullAead, OutboundSa, SaKey, Spi, Suite,
    ICV_LEN, MIN_PACKET_LEN, PAYLOAD_OFFSET, TRAILER_FIXED_LEN,
};
use mip6_wire::ext::{
    self, ChainError, ChainRepr, DestOptsError, DestOptsHeader, DestOptsRepr, HomeAddressOption,
    Ipv6Error, NextHeader, OptionType, Rh2Error, Rh2Header, Rh2Repr, MAX_EXTENSION_HEADERS,
};
use mip6_wire::mh::{
    self, KeyError, KeyOption, MobilityOption, OptionError, VendorSpecific, DEFAULT_VENDOR_ID,
    VSO_HEADER_LEN,
};
use mip6_wire::tunnel::{self, InnerOrigin, Tunnel, HEADROOM};
use mip6_wire::udp_encap;
use mip6_wire::LenError;

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target: its name (the `fuzz/fuzz_targets/<name>.rs` file and the
/// `fuzz/corpus/<name>/` directory) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("ext_chain", ext_chain),
    ("dest_opts_hoa", dest_opts_hoa),
    ("routing_type2", routing_type2),
    ("tunnel_decap", tunnel_decap),
    ("udp_decap", udp_decap),
    ("esp_open", esp_open),
    ("pcapng_read", pcapng_read),
    ("mh_parse", mh_parse),
    ("mh_options", mh_options),
    ("key_option", key_option),
    ("router_advertisement", router_advertisement),
    ("ha_engine", crate::engine_fuzz::ha_engine),
    ("mn_engine", crate::engine_fuzz::mn_engine),
];

// ---------------------------------------------------------------------------------
// Error-offset properties
// ---------------------------------------------------------------------------------

/// A truncation error inside a buffer of `len` octets: it starts inside (or right at
/// the end of) the buffer, the octets it says were present end inside it, and it asked
/// for more than that.
fn check_len_error(e: &LenError, len: usize) {
    assert!(e.offset <= len, "{e}: offset past the {len}-octet input");
    assert!(
        e.offset + e.actual <= len,
        "{e}: offset + present octets past the {len}-octet input"
    );
    assert!(e.needed > e.actual, "{e}: needed no more than present");
    let _ = e.to_string();
}

/// A pointer at an offending octet: strictly inside the input.
fn check_pointer(what: &dyn std::fmt::Display, offset: usize, len: usize) {
    assert!(
        offset < len,
        "{what}: offset {offset} not inside the {len}-octet input"
    );
}

fn check_ipv6_error(e: &Ipv6Error, len: usize) {
    match e {
        Ipv6Error::Len(l) => check_len_error(l, len),
        other => check_pointer(other, other.offset(), len),
    }
}

fn check_dest_opts_error(e: &DestOptsError, len: usize) {
    match e {
        DestOptsError::Len(l) => check_len_error(l, len),
        other => check_pointer(other, other.offset(), len),
    }
}

fn check_rh2_error(e: &Rh2Error, len: usize) {
    match e {
        Rh2Error::Len(l) => check_len_error(l, len),
        other => check_pointer(other, other.offset(), len),
    }
}

fn check_chain_error(e: &ChainError, len: usize) {
    let _ = (e.to_string(), e.layer());
    match e {
        ChainError::Ipv6(i) => check_ipv6_error(i, len),
        ChainError::DestinationOptions(d) => check_dest_opts_error(d, len),
        ChainError::RoutingType2(r) => check_rh2_error(r, len),
        ChainError::Len(l) => check_len_error(l, len),
        ChainError::UnrecognizedOption { offset, .. } => check_pointer(e, *offset, len),
        // Point at a header's first octet; a header named by a Next Header may start
        // right where the packet ends.
        ChainError::HopByHopNotFirst { offset }
        | ChainError::DuplicateHomeAddress { offset, .. }
        | ChainError::DuplicateRoutingType2 { offset, .. }
        | ChainError::TooManyHeaders { offset, .. } => {
            assert!(*offset <= len, "{e}: offset past the {len}-octet input")
        }
        ChainError::PayloadTooLong { .. } | ChainError::BufferTooShort { .. } => {
            panic!("walk returned an emitter error: {e}")
        }
    }
    assert_eq!(e.offset(), chain_error_offset(e));
}

fn chain_error_offset(e: &ChainError) -> usize {
    match e {
        ChainError::Ipv6(i) => i.offset(),
        ChainError::DestinationOptions(d) => d.offset(),
        ChainError::RoutingType2(r) => r.offset(),
        ChainError::Len(l) => l.offset,
        other => other.offset(),
    }
}

fn check_mh_option_error(e: &OptionError, start: usize, len: usize) {
    match e {
        OptionError::Len(l) => {
            assert!(l.offset >= start, "{e}: before the option area at {start}");
            check_len_error(l, len);
        }
        other => {
            assert!(other.offset() >= start, "{e}: before the option area");
            check_pointer(other, other.offset(), len);
        }
    }
}

fn check_mh_error(e: &mh::Error, len: usize) {
    let _ = e.to_string();
    match e {
        mh::Error::Len(l) => check_len_error(l, len),
        mh::Error::Option(o) => check_mh_option_error(o, mh::COMMON_HEADER_LEN, len),
        other => check_pointer(other, other.offset(), len),
    }
}

fn key_error_offset(e: &KeyError) -> usize {
    match e {
        KeyError::Len(l) => l.offset,
        KeyError::Overlong { offset, .. }
        | KeyError::UnknownSubType { offset, .. }
        | KeyError::UnknownSuite { offset, .. } => *offset,
    }
}

fn check_key_error(e: &KeyError, option_len: usize) {
    let _ = e.to_string();
    match e {
        KeyError::Len(l) => {
            // Counted from the option's first octet: the whole option was there.
            assert_eq!(l.offset, 0, "{e}");
            assert_eq!(l.actual, option_len, "{e}");
            assert!(l.needed > l.actual, "{e}");
        }
        other => check_pointer(other, key_error_offset(other), option_len),
    }
}

// ---------------------------------------------------------------------------------
// ext: the header chain, the Home Address option, the type 2 Routing Header
// ---------------------------------------------------------------------------------

/// Fixed addresses for the Mobility Header checksum pseudo-header (the home address
/// of docs/architecture.md's lab MN and its home agent).
pub const MH_SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
/// See [`MH_SRC`].
pub const MH_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);

fn is_walked(nh: NextHeader) -> bool {
    matches!(
        nh,
        NextHeader::HOP_BY_HOP
            | NextHeader::ROUTING
            | NextHeader::FRAGMENT
            | NextHeader::DESTINATION_OPTIONS
    )
}

/// `ext::walk` on an arbitrary packet; when the chain holds only what [`ChainRepr`]
/// can say (an RH2 and/or one Destination Options header with the Home Address
/// option), re-emit it in front of the same payload and walk again. When the final
/// header is a Mobility Header, parse it with the chain's checksum addresses.
pub fn ext_chain(data: &[u8]) {
    let chain = match ext::walk(data) {
        Err(e) => return check_chain_error(&e, data.len()),
        Ok(c) => c,
    };
    assert_eq!(chain.packet_len, 40 + usize::from(chain.ipv6.payload_len));
    assert!(chain.packet_len <= data.len());
    assert!(chain.final_offset <= chain.packet_len);
    assert!(chain.final_offset >= 40);
    assert!(chain.extension_headers <= MAX_EXTENSION_HEADERS);
    let payload = chain
        .payload(data)
        .expect("payload range inside the packet");
    assert_eq!(payload.len(), chain.packet_len - chain.final_offset);
    if chain.final_header == NextHeader::FRAGMENT {
        assert!(
            chain.fragment.is_some(),
            "stopped at a fragment it did not report"
        );
    } else {
        assert!(!is_walked(chain.final_header), "stopped at a walked header");
    }
    if chain.extension_headers == 0 {
        assert_eq!(chain.final_offset, 40);
        assert_eq!(chain.final_header, chain.ipv6.next_header);
    }

    let expressible = chain.other_routing.is_none()
        && chain.fragment.is_none()
        && chain.extension_headers
            == usize::from(chain.rh2.is_some()) + usize::from(chain.home_address.is_some());
    if expressible {
        let repr = chain_repr(&chain, payload.len());
        let emitted = emit_chain(&repr, payload);
        let again = ext::walk(&emitted).expect("re-emitted chain walks");
        assert_eq!(chain_repr(&again, payload.len()), repr);
        assert_eq!(again.extension_headers, chain.extension_headers);
        assert_eq!(again.final_offset, repr.buffer_len());
        assert_eq!(again.payload(&emitted), Some(payload));
        assert_eq!(again.mh_checksum_source(), chain.mh_checksum_source());
        assert_eq!(
            again.mh_checksum_destination(),
            chain.mh_checksum_destination()
        );
        // Canonical: the emitted chain, walked and emitted again, is the same octets.
        let repr2 = chain_repr(&again, emitted.len() - again.final_offset);
        assert_eq!(emit_chain(&repr2, payload), emitted);
    }

    if chain.final_header == NextHeader::MOBILITY {
        let mh_bytes = &data[chain.payload_range()];
        let (src, dst) = (chain.mh_checksum_source(), chain.mh_checksum_destination());
        if let Ok(p) = mh::Packet::new_checked(mh_bytes) {
            match mh::Repr::parse_checked(&p, &src, &dst) {
                Ok(r) => mh_round_trip(&p, &r, &src, &dst),
                Err(e) => check_mh_error(&e, mh_bytes.len()),
            }
        }
    }
}

/// What [`ChainRepr`] would emit for a walked chain whose final header carries
/// `payload_len` octets.
fn chain_repr(chain: &ext::Chain, payload_len: usize) -> ChainRepr {
    ChainRepr {
        src_addr: chain.ipv6.src_addr,
        dst_addr: chain.ipv6.dst_addr,
        hop_limit: chain.ipv6.hop_limit,
        traffic_class: chain.ipv6.traffic_class,
        flow_label: chain.ipv6.flow_label,
        rh2: chain.rh2,
        home_address: chain.home_address,
        next_header: chain.final_header,
        payload_len,
    }
}

fn emit_chain(repr: &ChainRepr, payload: &[u8]) -> Vec<u8> {
    let hlen = repr.buffer_len();
    let mut buf = vec![0xFF; hlen + payload.len()];
    let n = repr.emit(&mut buf).expect("headers of a walked packet fit");
    assert_eq!(n, hlen);
    buf[hlen..].copy_from_slice(payload);
    buf
}

/// The Destination Options header parser on arbitrary bytes; a parsed header re-emits
/// (into a 0xFF-filled buffer) to one that parses to the same `Repr`.
pub fn dest_opts_hoa(data: &[u8]) {
    let h = match DestOptsHeader::new_checked(data) {
        Err(e) => return check_dest_opts_error(&e, data.len()),
        Ok(h) => h,
    };
    let hlen = h.header_len();
    assert!(hlen <= data.len() && hlen % 8 == 0);
    let mut hoa_options = Vec::new();
    for opt in h.options() {
        match opt {
            Ok(o) => {
                let size = if o.option_type == OptionType::PAD1 {
                    1
                } else {
                    2 + o.data.len()
                };
                assert!(
                    o.offset >= 2 && o.offset + size <= hlen,
                    "option outside header"
                );
                if o.option_type == OptionType::HOME_ADDRESS {
                    hoa_options.push(HomeAddressOption::parse(&o));
                }
            }
            Err(e) => {
                assert!(e.offset >= 2);
                check_len_error(&e, hlen);
            }
        }
    }
    let repr = match DestOptsRepr::parse(&h) {
        Err(e) => return check_dest_opts_error(&e, hlen),
        Ok(r) => r,
    };
    assert_eq!(repr.next_header, h.next_header());
    match repr.home_address {
        Some(a) => assert_eq!(hoa_options, vec![Ok(HomeAddressOption { home_address: a })]),
        None => assert!(hoa_options.is_empty()),
    }
    let n = repr.buffer_len();
    let mut buf = vec![0xFF; n];
    repr.emit(&mut DestOptsHeader::new_unchecked(&mut buf[..]));
    let back = DestOptsHeader::new_checked(&buf[..]).expect("emitted header checks");
    assert_eq!(back.header_len(), n);
    assert_eq!(DestOptsRepr::parse(&back), Ok(repr));
    // The padding is one PadN of zeros (nothing of the 0xFF prefill survives).
    match repr.home_address {
        Some(a) => {
            assert_eq!(buf[2..8], [1, 2, 0, 0, OptionType::HOME_ADDRESS.0, 16]);
            assert_eq!(buf[8..24], a.octets());
        }
        None => assert_eq!(buf[2..8], [1, 4, 0, 0, 0, 0]),
    }
}

/// The type 2 Routing Header parser on arbitrary bytes; a parsed header re-emits to
/// the same octets except the Reserved field, which is cleared.
/// A Router Advertisement as the mobile node's router discovery reads one
/// (`mip6_wire::ra`): an error's length is inside the input; what parses came from a
/// link-local source, and emitting it and parsing that gives it back (the emitted
/// form is canonical: unknown options and repeated ones are not kept).
pub fn router_advertisement(data: &[u8]) {
    use mip6_wire::ra::{parse_advertisement, RaError};
    match parse_advertisement(data) {
        Err(RaError::Short(n)) => assert!(n < 16 && n <= data.len()),
        Err(_) => {}
        Ok(ra) => {
            assert_eq!(ra.source.segments()[0] & 0xffc0, 0xfe80, "{ra:?}");
            let again = ra.emit();
            assert_eq!(parse_advertisement(&again).as_ref(), Ok(&ra));
            assert_eq!(parse_advertisement(&again).map(|r| r.emit()), Ok(again));
        }
    }
}

pub fn routing_type2(data: &[u8]) {
    let h = match Rh2Header::new_checked(data) {
        Err(e) => return check_rh2_error(&e, data.len()),
        Ok(h) => h,
    };
    let repr = match Rh2Repr::parse(&h) {
        Err(e) => return check_rh2_error(&e, data.len()),
        Ok(r) => r,
    };
    let n = repr.buffer_len();
    assert_eq!(n, 24);
    let mut buf = [0xFF; 24];
    repr.emit(&mut Rh2Header::new_unchecked(&mut buf[..]));
    assert_eq!(&buf[..4], &data[..4], "fixed fields of a valid RH2");
    assert_eq!(&buf[4..8], &[0; 4], "Reserved cleared");
    assert_eq!(&buf[8..24], &data[8..24], "home address");
    let back = Rh2Header::new_checked(&buf[..]).expect("emitted RH2 checks");
    assert_eq!(Rh2Repr::parse(&back), Ok(repr));
}

/// `tunnel::decapsulate` on an arbitrary packet; a decapsulated inner packet
/// re-encapsulates (as a local and as a forwarded packet) and decapsulates again to the
/// same inner packet and outer fields.
/// ESP in UDP (RFC 3948) taken off: a refused frame is left as it was and its error
/// points inside the input; a frame that decapsulates is an ESP frame, and putting
/// the UDP header back with the same ports gives the same octets (the checksum has
/// one form: a zero field is refused, a computed zero is sent as 0xFFFF).
pub fn udp_decap(data: &[u8]) {
    use udp_encap::Error as E;
    let mut frame = data.to_vec();
    // The in-place form (a receive buffer) gives the same frame or the same error,
    // and leaves a refused buffer as it was.
    let mut in_place = data.to_vec();
    let in_place_result = udp_encap::decapsulate_in_place(&mut in_place);
    let result = udp_encap::decapsulate(&mut frame);
    match (&result, &in_place_result) {
        (Ok(ports), Ok((p, len))) => {
            assert_eq!(ports, p);
            assert_eq!(&in_place[..*len], &frame[..], "the same ESP frame in place");
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            assert_eq!(in_place, data, "a refused buffer is left as it was");
        }
        _ => panic!("decapsulate {result:?} but in place {in_place_result:?}"),
    }
    let ports = match result {
        Err(e) => {
            let _ = (e.to_string(), e.layer());
            assert_eq!(frame, data, "a refused frame is left as it was: {e}");
            match e {
                E::Chain(c) => check_chain_error(&c, data.len()),
                E::Length(l) => check_len_error(&l, data.len()),
                E::NotUdp { offset, .. } => assert!(offset <= data.len()),
                E::Fragmented { offset }
                | E::LengthMismatch { offset, .. }
                | E::ZeroChecksum { offset }
                | E::BadChecksum { offset }
                | E::Keepalive { offset }
                | E::NonEspMarker { offset } => check_pointer(&e, offset, data.len()),
                E::NotEsp { .. } | E::TooLong { .. } => {
                    panic!("decapsulate returned an encapsulation error: {e}")
                }
            }
            return;
        }
        Ok(ports) => ports,
    };
    let walked = mip6_wire::ext::chain::walk(&frame).expect("a decapsulated frame walks");
    assert_eq!(walked.final_header, NextHeader::ESP);
    assert_eq!(frame.len(), walked.packet_len);
    assert!(!udp_encap::is_encapsulated(&frame, ports.destination));
    udp_encap::encapsulate(&mut frame, ports).expect("a decapsulated frame encapsulates");
    let original = mip6_wire::ext::chain::walk(data).expect("the input walked");
    assert_eq!(frame, &data[..original.packet_len], "encapsulated again");
}

pub fn tunnel_decap(data: &[u8]) {
    let d = match tunnel::decapsulate(data) {
        Err(e) => {
            let _ = (e.to_string(), e.layer());
            match e {
                tunnel::Error::Outer(c) => check_chain_error(&c, data.len()),
                tunnel::Error::Inner(i) => check_ipv6_error(&i, data.len()),
                tunnel::Error::NotTunnel { offset, .. } => assert!(offset <= data.len()),
                other => panic!("decapsulate returned an entry-point error: {other}"),
            }
            return;
        }
        Ok(d) => d,
    };
    assert_eq!(d.outer.final_header, NextHeader::IPV6);
    assert_eq!(d.inner.start, d.outer.final_offset);
    assert!(d.inner.start <= d.inner.end && d.inner.end <= d.outer.packet_len);
    assert!(d.outer.packet_len <= data.len());
    let inner = &data[d.inner.clone()];
    let v = tunnel::validate_inner(inner).expect("decapsulated inner packet validates");
    assert_eq!(v.header, d.inner_header);
    assert_eq!(v.len, inner.len());
    assert_eq!(inner.len(), 40 + usize::from(d.inner_header.payload_len));

    let t = Tunnel {
        entry_point: d.outer.ipv6.src_addr,
        exit_point: d.outer.ipv6.dst_addr,
        hop_limit: d.outer.ipv6.hop_limit,
        traffic_class: Some(d.outer.ipv6.traffic_class),
        flow_label: d.outer.ipv6.flow_label,
    };
    let mut buf = vec![0xFF; HEADROOM + inner.len()];
    buf[HEADROOM..].copy_from_slice(inner);
    let n = t
        .encapsulate_in_place(&mut buf, InnerOrigin::Local)
        .expect("an inner packet that came out of a tunnel goes back in");
    assert_eq!(n, buf.len());
    let d2 = tunnel::decapsulate(&buf).expect("re-encapsulated packet decapsulates");
    assert_eq!(&buf[d2.inner.clone()], inner);
    assert_eq!(d2.inner_header, d.inner_header);
    assert_eq!(d2.outer.extension_headers, 0);
    assert_eq!(d2.outer.ipv6.src_addr, d.outer.ipv6.src_addr);
    assert_eq!(d2.outer.ipv6.dst_addr, d.outer.ipv6.dst_addr);
    assert_eq!(d2.outer.ipv6.hop_limit, d.outer.ipv6.hop_limit);
    assert_eq!(d2.outer.ipv6.traffic_class, d.outer.ipv6.traffic_class);
    assert_eq!(d2.outer.ipv6.flow_label, d.outer.ipv6.flow_label);

    let mut fwd = vec![0; HEADROOM + inner.len()];
    fwd[HEADROOM..].copy_from_slice(inner);
    let hl = d.inner_header.hop_limit;
    match t.encapsulate_in_place(&mut fwd, InnerOrigin::Forwarded) {
        Ok(_) => {
            assert!(hl > 1);
            let d3 = tunnel::decapsulate(&fwd).expect("forwarded packet decapsulates");
            assert_eq!(d3.inner_header.hop_limit, hl - 1);
        }
        Err(tunnel::Error::HopLimitExceeded { offset, hop_limit }) => {
            assert!(hl <= 1);
            assert_eq!((offset, hop_limit), (HEADROOM + 7, hl));
            assert_eq!(
                &fwd[HEADROOM..],
                inner,
                "a refused packet is left unchanged"
            );
        }
        Err(e) => panic!("forwarding a valid inner packet: {e}"),
    }
}

// ---------------------------------------------------------------------------------
// ESP
// ---------------------------------------------------------------------------------

/// The SPI of the fuzzed SA.
pub const ESP_SPI: u32 = 0x1001;
/// The fixed AES-256 key (AES-128 uses its first 16 octets) of the fuzzed SA.
pub const ESP_KEY: [u8; 32] = [
    0x57, 0x29, 0xd7, 0x84, 0xc7, 0x49, 0x08, 0x81, 0x29, 0x77, 0x1a, 0xcd, 0x91, 0x47, 0x85, 0x4a,
    0x4d, 0xd1, 0xe6, 0x68, 0xe6, 0xf9, 0x8b, 0x31, 0x0a, 0xc6, 0x4a, 0xdb, 0xf7, 0xbb, 0xc3, 0x17,
];
/// The fixed salt of the fuzzed SA.
pub const ESP_SALT: [u8; 4] = [0xe7, 0x77, 0xa4, 0x14];
/// Largest payload the seal → open round trip uses.
const MAX_ESP_PAYLOAD: usize = 2048;

/// The fuzzed SA's key for `suite`.
pub fn esp_key(suite: Suite) -> SaKey {
    SaKey::new(suite, &ESP_KEY[..suite.key_len()], ESP_SALT).expect("key length of the suite")
}

fn esp_spi() -> Spi {
    Spi::new(ESP_SPI).expect("not a reserved SPI")
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn check_esp_error(e: &esp::Error, bytes: &[u8]) {
    let len = bytes.len();
    let _ = e.to_string();
    match *e {
        esp::Error::Truncated(l) => {
            assert!(len < MIN_PACKET_LEN);
            check_len_error(&l, len);
        }
        esp::Error::ReservedSpi { spi } => {
            assert_eq!(spi, be32(bytes));
            assert!(spi <= Spi::MAX_RESERVED);
        }
        esp::Error::WrongSpi { spi, expected } => {
            assert_eq!((spi, expected), (be32(bytes), ESP_SPI));
        }
        esp::Error::SequenceZero => assert_eq!(be32(&bytes[4..]), 0),
        esp::Error::BadIcv { offset, seq } => {
            assert_eq!(offset, len - ICV_LEN);
            assert_eq!(seq, be32(&bytes[4..]));
        }
        esp::Error::BadPadLength { offset, .. } => {
            assert_eq!(offset, len - ICV_LEN - TRAILER_FIXED_LEN);
        }
        esp::Error::BadPadding { offset } => {
            assert!(offset >= PAYLOAD_OFFSET && offset < len - ICV_LEN - TRAILER_FIXED_LEN)
        }
        // A fresh SA has seen nothing, so nothing is a replay or too old; open never
        // reports a sealing error.
        other => panic!("open on a fresh SA: {other}"),
    }
}

/// Opens `bytes` on a fresh SA; on success checks the result against the octets and
/// that the same packet is refused as a replay the second time.
fn esp_open_arbitrary<A: EspAead>(bytes: &[u8], suite: Suite) {
    let mut sa = InboundSa::<A>::new(esp_spi(), esp_key(suite));
    let mut buf = bytes.to_vec();
    let opened = match sa.open(&mut buf) {
        Err(e) => return check_esp_error(&e, bytes),
        Ok(o) => o,
    };
    let len = bytes.len();
    let trailer_at = len - ICV_LEN - TRAILER_FIXED_LEN;
    assert_eq!(opened.payload.start, PAYLOAD_OFFSET);
    assert!(opened.payload.end <= trailer_at);
    assert_eq!(
        usize::from(buf[trailer_at]),
        trailer_at - opened.payload.end
    );
    assert_eq!(opened.next_header, buf[trailer_at + 1]);
    assert_eq!(opened.seq, be32(&bytes[4..]));
    assert_eq!(sa.window().top(), opened.seq);
    let mut again = bytes.to_vec();
    assert_eq!(
        sa.open(&mut again),
        Err(esp::Error::Replayed { seq: opened.seq })
    );
}

/// ESP open on arbitrary bytes (as they are, and with the SPI set to the SA's), with
/// the identity AEAD and with AES-GCM; then a seal → open round trip driven by the
/// input: octet 0 picks the suite and the first sequence number, octet 1 is the Next
/// Header, the rest (up to 2048 octets) the payload.
pub fn esp_open(data: &[u8]) {
    esp_open_arbitrary::<NullAead>(data, Suite::Aes128Gcm);
    if data.len() >= 4 {
        let mut ours = data.to_vec();
        ours[..4].copy_from_slice(&ESP_SPI.to_be_bytes());
        esp_open_arbitrary::<NullAead>(&ours, Suite::Aes128Gcm);
        esp_open_arbitrary::<AesGcmAead>(&ours, Suite::Aes128Gcm);
        esp_open_arbitrary::<AesGcmAead>(&ours, Suite::Aes256Gcm);
    }
    esp_seal_open(data);
}

fn esp_seal_open(data: &[u8]) {
    let [ctl, next_header, rest @ ..] = data else {
        return;
    };
    let (ctl, next_header) = (*ctl, *next_header);
    let suite = if ctl & 1 == 0 {
        Suite::Aes128Gcm
    } else {
        Suite::Aes256Gcm
    };
    // Bit 1 clear: start near 1; set: start near the end of the 32-bit space
    // (2^32 - (ctl >> 2); ctl >> 2 == 0 means exhausted).
    let k = u64::from(ctl >> 2);
    let next = if ctl & 2 == 0 { 1 + k } else { (1 << 32) - k };
    let payload = &rest[..rest.len().min(MAX_ESP_PAYLOAD)];
    let n = sealed_len(payload.len());

    let mut out = OutboundSa::<AesGcmAead>::new(esp_spi(), esp_key(suite)).with_next_sequence(next);
    assert_eq!(out.next_sequence(), next);
    // One octet short: refused before the counter moves.
    let mut short = vec![0; n - 1];
    assert_eq!(
        out.seal(&mut short, payload.len(), next_header),
        Err(esp::Error::NoRoom {
            needed: n,
            actual: n - 1
        })
    );
    assert_eq!(out.next_sequence(), next);

    let mut buf = vec![0xA5; n + 3];
    buf[PAYLOAD_OFFSET..PAYLOAD_OFFSET + payload.len()].copy_from_slice(payload);
    match out.seal(&mut buf, payload.len(), next_header) {
        Err(esp::Error::SequenceExhausted) => {
            assert_eq!(next, 1 << 32);
            return;
        }
        Err(e) => panic!("seal: {e}"),
        Ok(len) => assert_eq!(len, n),
    }
    assert_eq!(&buf[n..], &[0xA5; 3], "seal wrote past the packet");
    assert_eq!(out.next_sequence(), next + 1);
    let sealed = &buf[..n];

    let mut inbound = InboundSa::<AesGcmAead>::new(esp_spi(), esp_key(suite));
    let mut b = sealed.to_vec();
    let o = inbound.open(&mut b).expect("sealed packet opens");
    assert_eq!(&b[o.payload.clone()], payload);
    assert_eq!(o.next_header, next_header);
    assert_eq!(u64::from(o.seq), next);
    let mut b = sealed.to_vec();
    assert_eq!(
        inbound.open(&mut b),
        Err(esp::Error::Replayed { seq: o.seq })
    );

    // One flipped bit anywhere: a fresh SA refuses the packet.
    let i = (usize::from(ctl) * 131 + payload.len()) % n;
    let mut tampered = sealed.to_vec();
    tampered[i] ^= 1 << (next_header % 8);
    let mut t = tampered.clone();
    let mut fresh = InboundSa::<AesGcmAead>::new(esp_spi(), esp_key(suite));
    let e = fresh.open(&mut t).expect_err("tampered packet opened");
    check_esp_error(&e, &tampered);
}

// ---------------------------------------------------------------------------------
// pcapng
// ---------------------------------------------------------------------------------

/// Most frames [`pcapng_read`] reads from one input.
const MAX_FRAMES: usize = 64;

/// `PcapngReader` over arbitrary bytes, at most 64 frames; the iterator stops after its
/// first error; the frames read write back out and read back the same.
pub fn pcapng_read(data: &[u8]) {
    let Ok(mut reader) = PcapngReader::new(data) else {
        return;
    };
    let mut frames: Vec<CapturedFrame> = Vec::new();
    for _ in 0..MAX_FRAMES {
        match reader.next() {
            None => break,
            Some(Ok(f)) => {
                assert!(f.data.len() <= data.len());
                frames.push(f);
            }
            Some(Err(e)) => {
                let _ = e.to_string();
                assert!(reader.next().is_none(), "reader goes on after an error");
                break;
            }
        }
    }
    let mut w = PcapngWriter::new(Vec::new()).expect("writer on a Vec");
    for f in &frames {
        match &f.comment {
            Some(c) => w.write_packet_with_comment(f.timestamp_us, &f.data, c),
            None => w.write_packet(f.timestamp_us, &f.data),
        }
        .expect("write a frame that was read");
    }
    let file = w.into_inner();
    let back: Vec<CapturedFrame> = PcapngReader::new(&file[..])
        .expect("read what the writer wrote")
        .collect::<Result<_, _>>()
        .expect("frames the writer wrote read back");
    assert_eq!(back, frames);
}

// ---------------------------------------------------------------------------------
// Mobility Header
// ---------------------------------------------------------------------------------

/// RFC 1071 reference: 16-bit words summed into a u32 with end-around carry, over the
/// RFC 6275 §6.1.1 pseudo-header and the MH; true when the total is 0xFFFF.
fn reference_checksum_ok(src: &Ipv6Addr, dst: &Ipv6Addr, mh: &[u8]) -> bool {
    let mut pseudo = Vec::with_capacity(40 + mh.len() + 1);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(mh.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, mh::MH_NEXT_HEADER]);
    pseudo.extend_from_slice(mh);
    if pseudo.len() % 2 == 1 {
        pseudo.push(0);
    }
    let mut sum: u32 = 0;
    for w in pseudo.chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum == 0xFFFF
}

/// Whole-message parse of an arbitrary Mobility Header, checksum verified over
/// [`MH_SRC`] → [`MH_DST`]: once as given, once with the checksum filled in so the
/// parser gets past it. A parsed message re-emits and re-parses to the same `Repr`.
pub fn mh_parse(data: &[u8]) {
    mh_parse_one(data);
    let Ok(p) = mh::Packet::new_checked(data) else {
        return;
    };
    let total = p.total_len();
    let mut fixed = data[..total].to_vec();
    let mut fp = mh::Packet::new_unchecked(&mut fixed[..]);
    fp.fill_checksum(&MH_SRC, &MH_DST);
    assert!(
        fp.verify_checksum(&MH_SRC, &MH_DST),
        "a filled-in checksum does not verify"
    );
    assert!(reference_checksum_ok(&MH_SRC, &MH_DST, &fixed));
    match mh::Repr::parse_checked(&mh::Packet::new_unchecked(&fixed[..]), &MH_SRC, &MH_DST) {
        Err(mh::Error::Checksum { .. }) => panic!("checksum error after fill_checksum"),
        _ => mh_parse_one(&fixed),
    }
}

fn mh_parse_one(data: &[u8]) {
    let p = match mh::Packet::new_checked(data) {
        Err(e) => return check_len_error(&e, data.len()),
        Ok(p) => p,
    };
    let total = p.total_len();
    assert!(total <= data.len() && total % 8 == 0 && total <= mh::MAX_LEN);
    let mh_bytes = &data[..total];
    assert_eq!(
        p.verify_checksum(&MH_SRC, &MH_DST),
        reference_checksum_ok(&MH_SRC, &MH_DST, mh_bytes),
        "verify_checksum disagrees with the RFC 1071 reference"
    );
    let unchecked = mh::Repr::parse(&p);
    match mh::Repr::parse_checked(&p, &MH_SRC, &MH_DST) {
        Err(e) => {
            check_mh_error(&e, total);
            match e {
                mh::Error::Checksum {
                    offset,
                    found,
                    expected,
                } => {
                    assert_eq!(offset, mh::CHECKSUM_OFFSET);
                    assert_eq!(found, p.checksum());
                    assert_eq!(expected, mh::compute_checksum(&MH_SRC, &MH_DST, mh_bytes));
                    assert!(!p.verify_checksum(&MH_SRC, &MH_DST));
                    if let Err(e) = unchecked {
                        check_mh_error(&e, total);
                    }
                }
                other => assert_eq!(unchecked, Err(other)),
            }
        }
        Ok(r) => {
            assert_eq!(unchecked, Ok(r));
            mh_round_trip(&p, &r, &MH_SRC, &MH_DST);
        }
    }
}

fn mh_round_trip(p: &mh::Packet<&[u8]>, r: &mh::Repr<'_>, src: &Ipv6Addr, dst: &Ipv6Addr) {
    let total = p.total_len();
    let original = &p.as_ref()[..total];
    assert_eq!(r.mh_type(), p.mh_type());
    let n = r.buffer_len();
    assert_eq!(n, total, "a parsed MH re-emits to its own length");
    let mut buf = vec![0xFF; n];
    assert_eq!(r.emit_into(&mut buf, src, dst), n);
    let p2 = mh::Packet::new_checked(&buf[..]).expect("emitted MH checks");
    assert!(p2.verify_checksum(src, dst));
    let r2 = mh::Repr::parse_checked(&p2, src, dst).expect("emitted MH parses");
    assert_eq!(&r2, r);
    // Only the Payload Proto (for a type we do not know), Reserved, Checksum and the
    // message's own reserved bits may differ; the options are copied as they were.
    let fixed_end = mh::COMMON_HEADER_LEN + r.message.fixed_len();
    assert_eq!(buf[1..3], original[1..3]);
    assert_eq!(buf[fixed_end..], original[fixed_end..]);
    assert_eq!(buf[3], 0);
    // Canonical: emitting what the emitted octets parse to gives the same octets.
    let mut buf2 = vec![0x00; n];
    r2.emit_into(&mut buf2, src, dst);
    assert_eq!(buf2, buf);

    // Options: every one parsed (validated), those of our vendor convert.
    let mut list = Vec::new();
    for o in r.options() {
        let o = o.expect("options of a parsed MH were validated");
        if let MobilityOption::VendorSpecific(v) = o {
            key_vso(&v);
        }
        list.push(o);
    }
    // The same message from a list of options (laid out by emit_options) parses back
    // to the same message and the same non-padding options.
    let listed = mh::Repr::new(r.message, &list);
    if listed.buffer_len() <= mh::MAX_LEN {
        let mut buf3 = vec![0xFF; listed.buffer_len()];
        listed.emit_into(&mut buf3, src, dst);
        let p3 = mh::Packet::new_checked(&buf3[..]).expect("emitted MH checks");
        let r3 = mh::Repr::parse_checked(&p3, src, dst).expect("listed MH parses");
        assert_eq!(r3.message, r.message);
        assert_eq!(strip_padding(r3.options()), strip_padding(r.options()));
        if matches!(r3.message, mh::Message::Unknown { .. }) {
            return;
        }
        assert_eq!(
            mh::Options::new(&buf3[fixed_end..], fixed_end).check_alignment(),
            Ok(()),
            "emit_options misaligned an option"
        );
    }
}

/// The non-padding options of a validated list.
fn strip_padding<'a>(it: mh::OptionListIter<'a>) -> Vec<MobilityOption<'a>> {
    it.map(|o| o.expect("validated options"))
        .filter(|o| !matches!(o, MobilityOption::Pad1 | MobilityOption::PadN(_)))
        .collect()
}

/// The mobility option iterator on arbitrary option bytes: octet 0 is where the option
/// area starts in its Mobility Header (for the alignment), the rest the options. Options
/// that parse re-emit (with alignment padding) to options that parse to the same list.
pub fn mh_options(data: &[u8]) {
    let Some((&start, bytes)) = data.split_first() else {
        return;
    };
    let start = usize::from(start);
    let end = start + bytes.len();
    let options = mh::Options::new(bytes, start);
    let mut list = Vec::new();
    let mut next = start;
    let mut failed = None;
    for item in options.iter().with_offsets() {
        match item {
            Ok((offset, o)) => {
                assert_eq!(offset, next, "options not contiguous");
                next += o.buffer_len();
                assert!(next <= end, "option past the area");
                assert!(o.data_len() <= mh::MAX_OPTION_DATA);
                assert_eq!(
                    MobilityOption::parse(&bytes[offset - start..], offset).map(|x| x.0),
                    Ok(o)
                );
                if let MobilityOption::VendorSpecific(v) = o {
                    key_vso(&v);
                }
                list.push(o);
            }
            Err(e) => {
                assert_eq!(e.offset(), next, "error not at the next option");
                check_mh_option_error(&e, start, end);
                failed = Some(e);
            }
        }
    }
    // Validation refuses what the iterator refuses, and options off their RFC 6275
    // §6.2 alignment too: the same first error as the alignment check.
    let aligned = options.check_alignment();
    assert_eq!(options.validate(), aligned);
    if let Some(e) = failed {
        assert!(
            aligned.is_err(),
            "the iterator failed with {e:?}, validation did not"
        );
        return;
    }
    assert_eq!(next, end, "options do not cover the area");
    if let Err(e) = aligned {
        check_mh_option_error(&e, start, end);
    }
    let n = mh::options_buffer_len(&list, start);
    assert_eq!((start + n) % 8, 0);
    let mut buf = vec![0xFF; n];
    assert_eq!(mh::emit_options(&list, start, &mut buf), n);
    let back = mh::Options::new(&buf, start);
    assert_eq!(
        back.check_alignment(),
        Ok(()),
        "emit_options misaligned an option"
    );
    let again: Vec<_> = back
        .iter()
        .map(|o| o.expect("emitted options parse"))
        .collect();
    let strip = |v: &[MobilityOption<'_>]| -> Vec<String> {
        v.iter()
            .filter(|o| !matches!(o, MobilityOption::Pad1 | MobilityOption::PadN(_)))
            .map(|o| format!("{o:?}"))
            .collect()
    };
    assert_eq!(strip(&again), strip(&list));
    // Well-aligned options with zeroed PadN re-emit to the same octets, plus the final
    // padding.
    if aligned.is_ok() && bytes_pads_zero(bytes, start) {
        assert_eq!(
            &buf[..bytes.len()],
            bytes,
            "aligned options re-emit differently"
        );
    }
}

/// True when every PadN in the (valid) option bytes carries only zeros.
fn bytes_pads_zero(bytes: &[u8], start: usize) -> bool {
    mh::Options::new(bytes, start)
        .iter()
        .with_offsets()
        .all(|item| match item {
            Ok((offset, MobilityOption::PadN(n))) => {
                let at = offset - start + 2;
                bytes[at..at + usize::from(n)].iter().all(|&b| b == 0)
            }
            _ => true,
        })
}

/// Vendor-Specific → key option conversion: the input as one mobility option, and as
/// the body of a Vendor-Specific option of our vendor (octet 0 the sub-type). A key
/// option re-encodes to the same option (reserved octets zeroed) and back.
pub fn key_option(data: &[u8]) {
    if let Ok((opt, used)) = MobilityOption::parse(data, 0) {
        assert!(used <= data.len() && used == opt.buffer_len());
        match KeyOption::from_option(&opt, DEFAULT_VENDOR_ID) {
            Ok(k) => {
                if let MobilityOption::VendorSpecific(v) = opt {
                    assert_eq!(
                        KeyOption::from_vendor_specific(&v, DEFAULT_VENDOR_ID),
                        Ok(k)
                    );
                    key_vso(&v);
                } else {
                    assert_eq!(k, None);
                }
            }
            Err(e) => check_key_error(&e, used),
        }
    }
    if let Some((&sub_type, body)) = data.split_first() {
        let body = &body[..body.len().min(mh::MAX_OPTION_DATA - 5)];
        key_vso(&VendorSpecific {
            vendor_id: DEFAULT_VENDOR_ID,
            sub_type,
            data: body,
        });
    }
}

fn key_vso(vso: &VendorSpecific<'_>) {
    let option_len = VSO_HEADER_LEN + vso.data.len();
    let k = match KeyOption::from_vendor_specific(vso, DEFAULT_VENDOR_ID) {
        Err(e) => return check_key_error(&e, option_len),
        Ok(None) => return assert_ne!(vso.vendor_id, DEFAULT_VENDOR_ID),
        Ok(Some(k)) => k,
    };
    assert_eq!(vso.vendor_id, DEFAULT_VENDOR_ID);
    assert_eq!(k.option_len(), option_len);
    assert_eq!(k.sub_type(), vso.sub_type);
    // Another vendor's option with the same octets is not ours.
    let other = VendorSpecific {
        vendor_id: DEFAULT_VENDOR_ID ^ 1,
        ..*vso
    };
    assert_eq!(
        KeyOption::from_vendor_specific(&other, DEFAULT_VENDOR_ID),
        Ok(None)
    );

    let body = k.encode();
    assert_eq!(body.sub_type(), k.sub_type());
    assert_eq!(body.data().len(), k.body_len());
    let vso2 = body.to_vendor_specific(DEFAULT_VENDOR_ID);
    for (i, (&a, &b)) in vso2.data.iter().zip(vso.data).enumerate() {
        let reserved = matches!(k, KeyOption::KeyDistribution(_)) && (13..16).contains(&i);
        if reserved {
            assert_eq!(a, 0, "reserved octet {i} not zeroed");
        } else {
            assert_eq!(a, b, "body octet {i} changed");
        }
    }
    assert_eq!(
        KeyOption::from_vendor_specific(&vso2, DEFAULT_VENDOR_ID),
        Ok(Some(k.clone()))
    );
    // Through the wire: emit the option, parse it back, convert.
    let opt = body.to_option(DEFAULT_VENDOR_ID);
    assert_eq!(opt.buffer_len(), option_len);
    let mut buf = vec![0xFF; option_len + 1];
    opt.emit(&mut buf);
    assert_eq!(buf[option_len], 0xFF, "option emit wrote past its length");
    let (parsed, used) = MobilityOption::parse(&buf, 0).expect("emitted key option parses");
    assert_eq!(used, option_len);
    assert_eq!(
        KeyOption::from_option(&parsed, DEFAULT_VENDOR_ID),
        Ok(Some(k))
    );
}

// ---------------------------------------------------------------------------------
// Seed corpus
// ---------------------------------------------------------------------------------

/// The seed corpus: `(target, file name, octets)`, valid inputs built with the
/// `mip6-wire` emitters and hand-broken invalid ones. `tests/tests/fuzz_corpus.rs`
/// checks that each is committed as `fuzz/corpus/<target>/<file name>` (and writes
/// them with `MIP6_WRITE_SEEDS=1`).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        out.push((target, format!("seed-{name}"), bytes));
    };
    let hoa: Ipv6Addr = MH_SRC;
    let ha: Ipv6Addr = MH_DST;
    let coa = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);

    // --- Mobility Header messages (checksums over MH_SRC -> MH_DST) ---
    let key_init = KeyOption::KeyInitialization {
        timestamp: 0xE7A1_B2C3_0000_8000,
    }
    .encode();
    let key_dist = KeyOption::KeyDistribution(mh::KeyDistribution {
        generation: 7,
        spi_mn_to_ha: 0x1002,
        spi_ha_to_mn: 0x1001,
        suite: mh::Suite::Aes256Gcm,
        lifetime_secs: 3600,
        secret: mip6_wire::Secret32::new([0x5A; 32]),
    })
    .encode();
    let bu = mh::Message::BindingUpdate(mh::BindingUpdateRepr {
        sequence: mh::SequenceNumber(0xA5F3),
        flags: mh::BuFlags::A
            .with(mh::BuFlags::H, true)
            .with(mh::BuFlags::K, true),
        lifetime: 1000,
    });
    let ba = mh::Message::BindingAck(mh::BindingAckRepr {
        status: mh::BaStatus::from(0u8),
        flags: mh::BaFlags::K,
        sequence: mh::SequenceNumber(0xA5F3),
        lifetime: 1000,
    });
    let bu_opts = [
        MobilityOption::AlternateCareOfAddress(coa),
        key_init.to_option(DEFAULT_VENDOR_ID),
    ];
    let ba_opts = [
        MobilityOption::BindingRefreshAdvice {
            refresh_interval: 900,
        },
        key_dist.to_option(DEFAULT_VENDOR_ID),
    ];
    let emit_mh = |repr: mh::Repr<'_>| -> Vec<u8> {
        let mut buf = vec![0; repr.buffer_len()];
        repr.emit_into(&mut buf, &MH_SRC, &MH_DST);
        buf
    };
    let mh_bu = emit_mh(mh::Repr::new(bu, &bu_opts));
    let mh_ba = emit_mh(mh::Repr::new(ba, &ba_opts));
    let brr = emit_mh(mh::Repr::new(mh::Message::BindingRefreshRequest, &[]));
    let hoti = emit_mh(mh::Repr::new(
        mh::Message::HomeTestInit(mh::TestInitRepr {
            cookie: [1, 2, 3, 4, 5, 6, 7, 8],
        }),
        &[],
    ));
    let hot = emit_mh(mh::Repr::new(
        mh::Message::HomeTest(mh::TestRepr {
            nonce_index: 3,
            cookie: [1, 2, 3, 4, 5, 6, 7, 8],
            keygen_token: [9; 8],
        }),
        &[MobilityOption::NonceIndices {
            home_nonce_index: 3,
            care_of_nonce_index: 4,
        }],
    ));
    let be = emit_mh(mh::Repr::new(
        mh::Message::BindingError(mh::BindingErrorRepr {
            status: mh::BeStatus::from(1u8),
            home_address: hoa,
        }),
        &[],
    ));
    let unknown = emit_mh(mh::Repr::new(
        mh::Message::Unknown {
            mh_type: 42,
            data: &[0xAB; 10],
        },
        &[],
    ));
    for (name, m) in [
        ("bu-altcoa-keyinit", &mh_bu),
        ("ba-bra-keydist", &mh_ba),
        ("brr", &brr),
        ("hoti", &hoti),
        ("hot-nonce-indices", &hot),
        ("be", &be),
        ("unknown-type-42", &unknown),
    ] {
        add("mh_parse", name, m.clone());
    }
    let mut bad = mh_bu.clone();
    bad[4] ^= 0x55;
    add("mh_parse", "bu-bad-checksum", bad);
    let mut bad = mh_bu.clone();
    bad[0] = 6;
    add("mh_parse", "bu-payload-proto-6", bad);
    add(
        "mh_parse",
        "bu-cut-by-header-len",
        mh_bu[..mh_bu.len() - 8].to_vec(),
    );
    let mut bad = brr.clone();
    bad[2] = 5; // a BRR's 8 octets are too short for a BU (12)
    add("mh_parse", "bu-too-short", bad);
    let mut bad = mh_bu.clone();
    bad[15] = 200; // Alternate CoA length
    add("mh_parse", "bu-option-overrun", bad);
    add("mh_parse", "header-only-5", mh_bu[..5].to_vec());

    // --- mobility options: octet 0 = where the area starts in its MH ---
    let with_start = |start: u8, bytes: &[u8]| -> Vec<u8> {
        let mut v = vec![start];
        v.extend_from_slice(bytes);
        v
    };
    add(
        "mh_options",
        "bu-options-at-12",
        with_start(12, &mh_bu[12..]),
    );
    add(
        "mh_options",
        "ba-options-at-12",
        with_start(12, &mh_ba[12..]),
    );
    add(
        "mh_options",
        "hot-options-at-24",
        with_start(24, &hot[24..]),
    );
    add(
        "mh_options",
        "misaligned-altcoa-at-12",
        with_start(12, &mh_bu[14..32]),
    );
    add(
        "mh_options",
        "pad1-padn-nonzero",
        with_start(6, &[0, 1, 3, 9, 9, 9, 0]),
    );
    add(
        "mh_options",
        "bra-length-3",
        with_start(12, &[2, 3, 0, 1, 2]),
    );
    add(
        "mh_options",
        "vso-length-4",
        with_start(14, &[19, 4, 0, 0, 0x7E, 0xD9]),
    );
    add("mh_options", "cut-after-type", with_start(12, &[3]));
    add(
        "mh_options",
        "unknown-type-99",
        with_start(6, &[99, 2, 0xAA, 0xBB]),
    );
    add(
        "mh_options",
        "bad-3-length-16",
        with_start(
            8,
            &[5, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
        ),
    );

    // --- key options (one Vendor-Specific option each) ---
    let emit_opt = |o: MobilityOption<'_>| -> Vec<u8> {
        let mut b = vec![0; o.buffer_len()];
        o.emit(&mut b);
        b
    };
    for (name, k) in [
        ("key-init", &key_init),
        ("key-dist", &key_dist),
        ("key-update", &KeyOption::KeyUpdateRequest.encode()),
        ("key-resend", &KeyOption::KeyResendingRequest.encode()),
    ] {
        add("key_option", name, emit_opt(k.to_option(DEFAULT_VENDOR_ID)));
    }
    add(
        "key_option",
        "other-vendor",
        emit_opt(key_init.to_option(9)),
    );
    let mut v = emit_opt(key_dist.to_option(DEFAULT_VENDOR_ID));
    v[7 + 12] = 3; // suite 3
    add("key_option", "key-dist-suite-3", v);
    let mut v = emit_opt(key_init.to_option(DEFAULT_VENDOR_ID));
    v.push(0);
    v[1] += 1;
    add("key_option", "key-init-overlong", v);
    let mut v = emit_opt(key_dist.to_option(DEFAULT_VENDOR_ID));
    v.truncate(30);
    v[1] = 28;
    add("key_option", "key-dist-short", v);
    let mut v = emit_opt(
        KeyOption::KeyUpdateRequest
            .encode()
            .to_option(DEFAULT_VENDOR_ID),
    );
    v[6] = 9;
    add("key_option", "sub-type-9", v);

    // --- IPv6 chains ---
    let packet = |rh2: Option<Ipv6Addr>, home: Option<Ipv6Addr>, nh: NextHeader, payload: &[u8]| {
        let repr = ChainRepr {
            src_addr: if home.is_some() { coa } else { ha },
            dst_addr: if rh2.is_some() { coa } else { ha },
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0x12345,
            rh2,
            home_address: home,
            next_header: nh,
            payload_len: payload.len(),
        };
        emit_chain(&repr, payload)
    };
    let plain = packet(None, None, NextHeader::NO_NEXT_HEADER, &[]);
    let bu_pkt = packet(None, Some(hoa), NextHeader::MOBILITY, &mh_bu);
    let ba_pkt = packet(Some(hoa), None, NextHeader::MOBILITY, &mh_ba);
    let both = packet(
        Some(hoa),
        Some(hoa),
        NextHeader::UDP,
        &[1, 2, 3, 4, 5, 6, 7, 8],
    );
    add("ext_chain", "plain-no-next-header", plain.clone());
    add("ext_chain", "hoa-bu", bu_pkt.clone());
    add("ext_chain", "rh2-ba", ba_pkt.clone());
    add("ext_chain", "rh2-hoa-udp", both.clone());
    // Hop-by-Hop (PadN) -> atomic Fragment -> Destination Options (Pad only) -> Routing
    // type 0 (segments left 1) -> UDP.
    let mut ext = plain.clone();
    ext[6] = 0;
    ext.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
    ext.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0x12, 0x34]);
    ext.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]);
    ext.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 0]);
    ext.extend_from_slice(&[0xDE, 0xAD]);
    let set_plen = |v: &mut Vec<u8>| {
        let l = (v.len() - 40) as u16;
        v[4..6].copy_from_slice(&l.to_be_bytes());
    };
    set_plen(&mut ext);
    add("ext_chain", "hbh-frag-dest-rt0-udp", ext.clone());
    let mut frag = plain.clone();
    frag[6] = 44;
    frag.extend_from_slice(&[17, 0, 0x01, 0x01, 0, 0, 0, 9, 0xAA, 0xBB]);
    set_plen(&mut frag);
    add("ext_chain", "non-first-fragment", frag);
    let mut many = plain.clone();
    many[6] = 60;
    for i in 0..17 {
        many.extend_from_slice(&[if i == 16 { 59 } else { 60 }, 0, 1, 4, 0, 0, 0, 0]);
    }
    set_plen(&mut many);
    add("ext_chain", "17-dest-opts", many);
    let mut dup = bu_pkt.clone();
    // A second copy of the Destination Options header with the HoA option.
    let d: Vec<u8> = dup[40..64].to_vec();
    dup[40] = 60;
    dup.splice(64..64, d);
    set_plen(&mut dup);
    add("ext_chain", "duplicate-hoa", dup);
    let mut hbh2 = ext.clone();
    hbh2[48] = 0; // Fragment's next header says Hop-by-Hop
    add("ext_chain", "hbh-not-first", hbh2);
    let mut unk = ext.clone();
    unk[42] = 0x85; // Hop-by-Hop option 0x85: discard and send ICMP
    add("ext_chain", "hbh-unrecognized-0x85", unk);
    let mut v4 = plain.clone();
    v4[0] = 0x45;
    add("ext_chain", "version-4", v4);
    let mut long = bu_pkt.clone();
    long[5] = long[5].wrapping_add(8);
    add("ext_chain", "payload-length-past-end", long);
    add("ext_chain", "cut-39", plain[..39].to_vec());
    let mut bad_rh2 = ba_pkt.clone();
    bad_rh2[43] = 0; // segments left 0
    add("ext_chain", "rh2-segments-left-0", bad_rh2);

    // --- Destination Options header and type 2 Routing Header alone ---
    let dest = bu_pkt[40..64].to_vec();
    add("dest_opts_hoa", "hoa", dest.clone());
    add("dest_opts_hoa", "pad-only-8", ext[56..64].to_vec());
    let mut pad1s = dest.clone();
    pad1s[2..6].copy_from_slice(&[0, 0, 0, 0]);
    add("dest_opts_hoa", "hoa-after-pad1s", pad1s);
    let mut wrong = dest.clone();
    wrong[7] = 14;
    wrong[22..24].copy_from_slice(&[1, 0]);
    add("dest_opts_hoa", "hoa-length-14", wrong);
    let mut two = dest.clone();
    two[1] = 4;
    two.extend_from_slice(&[1, 4, 0, 0, 0, 0]);
    two.extend_from_slice(&dest[6..24]);
    add("dest_opts_hoa", "two-hoa", two);
    add(
        "dest_opts_hoa",
        "unrecognized-0x45",
        vec![59, 0, 0x45, 2, 0, 0, 1, 0],
    );
    add("dest_opts_hoa", "cut-20", dest[..20].to_vec());
    add(
        "dest_opts_hoa",
        "option-overrun",
        vec![59, 0, 7, 9, 0, 0, 0, 0],
    );

    let rh2 = ba_pkt[40..64].to_vec();
    add("routing_type2", "valid", rh2.clone());
    for (name, at, value) in [
        ("segments-left-0", 3, 0),
        ("hdr-ext-len-4", 1, 4),
        ("routing-type-0", 2, 0),
        ("reserved-set", 5, 0xFF),
    ] {
        let mut v = rh2.clone();
        v[at] = value;
        add("routing_type2", name, v);
    }
    add("routing_type2", "cut-23", rh2[..23].to_vec());

    // --- router advertisements ---
    let advertisement = mip6_wire::ra::RouterAdvertisement {
        source: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xfe),
        destination: mip6_wire::nd::ALL_NODES,
        cur_hop_limit: 64,
        managed: false,
        other_config: false,
        home_agent: true,
        router_lifetime: 9,
        reachable_time_ms: 0,
        retrans_timer_ms: 1000,
        source_link_address: Some([2, 0, 0, 0, 0, 0xfe]),
        mtu: Some(1500),
        advertisement_interval_ms: Some(70),
        prefixes: vec![mip6_wire::ra::PrefixInformation {
            prefix: Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0),
            len: 64,
            on_link: true,
            autonomous: true,
            router_address: false,
            valid_lifetime: 600,
            preferred_lifetime: 300,
        }],
    }
    .emit();
    add("router_advertisement", "valid", advertisement.clone());
    let mut hop = advertisement.clone();
    hop[7] = 64;
    add("router_advertisement", "hop-limit-64", hop);
    add(
        "router_advertisement",
        "cut-50",
        advertisement[..50].to_vec(),
    );
    add(
        "router_advertisement",
        "solicitation",
        mip6_wire::ra::solicitation_from_unspecified(),
    );

    // --- tunnels ---
    let inner = packet(None, None, NextHeader::UDP, &[0x11; 12]);
    let tunnel = Tunnel::new(ha, coa);
    let mut tun = vec![0; HEADROOM];
    tun.extend_from_slice(&inner);
    tunnel
        .encapsulate_in_place(&mut tun, InnerOrigin::Forwarded)
        .expect("seed tunnel");
    add("tunnel_decap", "ipv6-in-ipv6", tun.clone());
    let hoa_tun = packet(None, Some(hoa), NextHeader::IPV6, &inner);
    add("tunnel_decap", "hoa-then-inner", hoa_tun);
    let mut hl1 = tun.clone();
    hl1[40 + 7] = 1;
    add("tunnel_decap", "inner-hop-limit-1", hl1);
    add("tunnel_decap", "inner-cut", {
        let mut v = tun[..tun.len() - 4].to_vec();
        set_plen(&mut v);
        v
    });
    let mut v = tun.clone();
    v[40] = 0x40;
    add("tunnel_decap", "inner-version-4", v);
    add("tunnel_decap", "not-tunnel-mh", bu_pkt.clone());

    // --- ESP in UDP ---
    let esp_body = |len: usize| {
        let mut b = vec![0x12, 0x34, 0x56, 0x78, 0, 0, 0, 9];
        b.extend((0..len).map(|i| i as u8));
        b
    };
    let encapsulated = |mut f: Vec<u8>| {
        udp_encap::encapsulate(&mut f, udp_encap::Ports::STANDARD).expect("seed encapsulates");
        f
    };
    let data_udp = encapsulated(packet(None, None, NextHeader::ESP, &esp_body(40)));
    add("udp_decap", "data", data_udp.clone());
    add(
        "udp_decap",
        "bu-with-hoa-option",
        encapsulated(packet(None, Some(hoa), NextHeader::ESP, &esp_body(24))),
    );
    add(
        "udp_decap",
        "ba-with-rh2",
        encapsulated(packet(Some(hoa), None, NextHeader::ESP, &esp_body(24))),
    );
    // encapsulate() takes any payload after ESP's Next Header: these two come out
    // with a right checksum, and decapsulate() must name them.
    add(
        "udp_decap",
        "keepalive",
        encapsulated(packet(
            None,
            None,
            NextHeader::ESP,
            &[udp_encap::NAT_KEEPALIVE],
        )),
    );
    add(
        "udp_decap",
        "non-esp-marker",
        encapsulated(packet(
            None,
            None,
            NextHeader::ESP,
            &[0, 0, 0, 0, 1, 2, 3, 4],
        )),
    );
    let mut flipped = data_udp.clone();
    flipped[60] ^= 0x80;
    add("udp_decap", "bad-checksum", flipped);
    add(
        "udp_decap",
        "not-udp",
        packet(None, None, NextHeader::ESP, &esp_body(8)),
    );

    // --- ESP ---
    let seal = |suite: Suite, payload: &[u8], nh: u8, next: u64| -> Vec<u8> {
        let mut sa =
            OutboundSa::<AesGcmAead>::new(esp_spi(), esp_key(suite)).with_next_sequence(next);
        let mut buf = vec![0; sealed_len(payload.len())];
        buf[PAYLOAD_OFFSET..PAYLOAD_OFFSET + payload.len()].copy_from_slice(payload);
        let n = sa.seal(&mut buf, payload.len(), nh).expect("seed seal");
        buf.truncate(n);
        buf
    };
    add(
        "esp_open",
        "aes128-bu",
        seal(Suite::Aes128Gcm, &mh_bu, 135, 1),
    );
    add(
        "esp_open",
        "aes256-ba",
        seal(Suite::Aes256Gcm, &mh_ba, 135, 5),
    );
    add(
        "esp_open",
        "aes128-tunnel",
        seal(Suite::Aes128Gcm, &inner, 41, 0x0102_0304),
    );
    add(
        "esp_open",
        "aes128-dummy-empty",
        seal(Suite::Aes128Gcm, &[], 59, 2),
    );
    // Identity-AEAD layouts (plaintext where the ciphertext would be).
    let clear = |payload: &[u8], pad: &[u8], nh: u8, seq: u32| -> Vec<u8> {
        let mut v = ESP_SPI.to_be_bytes().to_vec();
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&u64::from(seq).to_be_bytes());
        v.extend_from_slice(payload);
        v.extend_from_slice(pad);
        v.push(pad.len() as u8);
        v.push(nh);
        v.extend_from_slice(&[0; ICV_LEN]);
        v
    };
    add(
        "esp_open",
        "clear-pad-3",
        clear(&[0xAB; 5], &[1, 2, 3], 135, 9),
    );
    add(
        "esp_open",
        "clear-bad-padding",
        clear(&[0xAB; 5], &[1, 7, 3], 135, 9),
    );
    add("esp_open", "clear-pad-length-too-big", {
        let mut v = clear(&[], &[], 41, 1);
        v[16] = 9;
        v
    });
    add("esp_open", "clear-seq-0", clear(&[1, 2], &[], 135, 0));
    let mut reserved = clear(&[1, 2], &[], 135, 3);
    reserved[..4].copy_from_slice(&[0, 0, 0, 7]);
    add("esp_open", "reserved-spi-7", reserved);
    add("esp_open", "cut-33", clear(&[], &[], 59, 1)[..33].to_vec());
    // Round-trip controls: octet 0 = suite/sequence choice, octet 1 = next header.
    add("esp_open", "roundtrip-exhausted", vec![2, 135, 1, 2, 3]);
    add("esp_open", "roundtrip-last-seq", vec![7, 41, 9, 9, 9, 9, 9]);

    // --- pcapng ---
    let mut w = PcapngWriter::new(Vec::new()).expect("pcapng writer");
    w.write_packet(1_700_000_000_000_000, &bu_pkt)
        .expect("frame");
    w.write_packet_with_comment(1_700_000_000_250_000, &ba_pkt, "BA")
        .expect("frame");
    w.write_packet(1_700_000_001_000_000, &plain)
        .expect("frame");
    let file = w.into_inner();
    add("pcapng_read", "three-frames", file.clone());
    let empty = PcapngWriter::new(Vec::new())
        .expect("pcapng writer")
        .into_inner();
    add("pcapng_read", "header-only", empty.clone());
    add(
        "pcapng_read",
        "cut-mid-block",
        file[..empty.len() + 20].to_vec(),
    );
    // The IDB follows the SHB: its link type is the first field of its body.
    let shb_len = u32::from_le_bytes([file[4], file[5], file[6], file[7]]) as usize;
    let mut eth = file.clone();
    eth[shb_len + 8..shb_len + 10].copy_from_slice(&1u16.to_le_bytes());
    add("pcapng_read", "linktype-ethernet", eth);
    if let Some(at) = file.windows(5).position(|w| w == [9, 0, 1, 0, 6]) {
        let mut ns = file.clone();
        ns[at + 4] = 9;
        add("pcapng_read", "tsresol-nanoseconds", ns);
        let mut bad = file.clone();
        bad[at + 4] = 0x7F;
        add("pcapng_read", "tsresol-bad", bad);
    }
    let mut iface = file.clone();
    let epb = shb_len
        + u32::from_le_bytes([
            file[shb_len + 4],
            file[shb_len + 5],
            file[shb_len + 6],
            file[shb_len + 7],
        ]) as usize;
    iface[epb + 8] = 3; // interface 3 was never declared
    add("pcapng_read", "undeclared-interface", iface);
    out.extend(
        crate::engine_fuzz::seeds()
            .into_iter()
            .map(|(target, name, bytes)| (target, format!("seed-{name}"), bytes)),
    );
    out
}
