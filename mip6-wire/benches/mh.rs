//! Mobility Header signalling paths (RFC 6275 §6.1, §9.2) and the extension-header
//! walk (RFC 8200 §4) in front of them, one packet per iteration, so criterion prints
//! packets per second (`elem/s`).
//!
//! - `bu_parse_verify`: home-registration BU (A|H|K, seq, lifetime, Alternate CoA, Key
//!   Update Request) → `Packet::new_checked` + `Repr::parse_checked` (checksum verify)
//!   + walking every option. Target ≥ 10 M/s on one core.
//! - `bu_parse_no_checksum`, `bu_option_walk`: the same BU, `Repr::parse` without the
//!   checksum, and the option walk alone over an already parsed `Repr` (where the time
//!   of `bu_parse_verify` goes).
//! - `ba_emit`: BA status 0 with a Key Distribution option, emitted with checksum into
//!   a reused buffer.
//! - `checksum_56B` / `checksum_1420B`: `compute_checksum` alone.
//! - `ext_chain_walk`: IPv6 + Destination Options (Home Address) + ESP carrying the BU.
//!
//! Run: `CARGO_TARGET_DIR=/work/target cargo bench -p mip6-wire --bench mh --
//! --warm-up-time 1 --measurement-time 3`. Figures: BENCHMARKS.md.
#![allow(missing_docs)]

use core::net::Ipv6Addr;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mip6_wire::esp::{sealed_len, OutboundSa, SaKey, Spi, Suite as EspSuite, PAYLOAD_OFFSET};
use mip6_wire::ext::{walk, ChainRepr, NextHeader};
use mip6_wire::mh::{
    self, BaFlags, BaStatus, BindingAckRepr, BindingUpdateRepr, BuFlags, KeyDistribution,
    KeyOption, Message, MobilityOption, SequenceNumber, Suite, DEFAULT_VENDOR_ID,
};
use mip6_wire::secret::Secret32;

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The BU a mobile node sends to register with its home agent (RFC 6275 §11.7.1),
/// emitted by the crate with the checksum for src HoA, dst HA.
fn bu_bytes(hoa: &Ipv6Addr, ha: &Ipv6Addr) -> Vec<u8> {
    let key = KeyOption::KeyUpdateRequest.encode();
    let opts = [
        MobilityOption::AlternateCareOfAddress(addr("2001:db8:2::100")),
        key.to_option(DEFAULT_VENDOR_ID),
    ];
    let repr = mh::Repr::new(
        Message::BindingUpdate(BindingUpdateRepr {
            sequence: SequenceNumber(7),
            flags: BuFlags::A | BuFlags::H | BuFlags::K,
            lifetime: 150,
        }),
        &opts,
    );
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit_into(&mut buf, hoa, ha);
    buf
}

fn bench(c: &mut Criterion) {
    let hoa = addr("2001:db8:1::100");
    let ha = addr("2001:db8:1::1");
    let coa = addr("2001:db8:2::100");
    let bu = bu_bytes(&hoa, &ha);
    assert_eq!(bu.len(), 48);

    let mut group = c.benchmark_group("mh");
    group.throughput(Throughput::Elements(1));

    group.bench_function("bu_parse_verify", |b| {
        b.iter(|| {
            let packet = mh::Packet::new_checked(black_box(&bu[..])).unwrap();
            let repr = mh::Repr::parse_checked(&packet, &hoa, &ha).unwrap();
            let mut n = 0usize;
            for opt in repr.options() {
                if !matches!(opt.unwrap(), MobilityOption::Pad1 | MobilityOption::PadN(_)) {
                    n += 1;
                }
            }
            assert_eq!(n, 2);
            black_box(repr.message)
        })
    });

    group.bench_function("bu_parse_no_checksum", |b| {
        b.iter(|| {
            let packet = mh::Packet::new_unchecked(black_box(&bu[..]));
            black_box(mh::Repr::parse(&packet).unwrap().message)
        })
    });
    let parsed = mh::Repr::parse(&mh::Packet::new_unchecked(&bu[..])).unwrap();
    group.bench_function("bu_option_walk", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for o in black_box(&parsed).options() {
                n += usize::from(o.is_ok());
            }
            black_box(n)
        })
    });

    let kd = KeyOption::KeyDistribution(KeyDistribution {
        generation: 5,
        spi_mn_to_ha: 0x1005,
        spi_ha_to_mn: 0x2005,
        suite: Suite::Aes256Gcm,
        lifetime_secs: 3600,
        secret: Secret32::new(core::array::from_fn(|i| i as u8)),
    })
    .encode();
    let ba_opts = [kd.to_option(DEFAULT_VENDOR_ID)];
    let mut ba_buf = [0u8; 128];
    let ba_len = mh::Repr::new(
        Message::BindingAck(BindingAckRepr {
            status: BaStatus::Accepted,
            flags: BaFlags::empty(),
            sequence: SequenceNumber(7),
            lifetime: 150,
        }),
        &ba_opts,
    )
    .emit_into(&mut ba_buf, &ha, &hoa);
    assert_eq!(ba_len, 80);
    let ba = mh::Repr::parse_checked(
        &mh::Packet::new_checked(&ba_buf[..ba_len]).unwrap(),
        &ha,
        &hoa,
    );
    assert!(ba.is_ok());
    group.bench_function("ba_emit", |b| {
        b.iter(|| {
            let repr = mh::Repr::new(
                Message::BindingAck(BindingAckRepr {
                    status: BaStatus::Accepted,
                    flags: BaFlags::empty(),
                    sequence: SequenceNumber(black_box(7)),
                    lifetime: 150,
                }),
                &ba_opts,
            );
            black_box(repr.emit_into(&mut ba_buf, &ha, &hoa))
        })
    });

    // 56 octets: the size of a BU with an Alternate CoA and a Key Initialization Request.
    let small: Vec<u8> = (0..56u32).map(|i| (i * 7) as u8).collect();
    group.bench_function("checksum_56B", |b| {
        b.iter(|| black_box(mh::compute_checksum(&hoa, &ha, black_box(&small[..]))))
    });
    let large: Vec<u8> = (0..1420u32).map(|i| (i * 7) as u8).collect();
    group.bench_function("checksum_1420B", |b| {
        b.iter(|| black_box(mh::compute_checksum(&hoa, &ha, black_box(&large[..]))))
    });

    // IPv6 (CoA → HA) + Destination Options (HoA) + ESP (transport mode, the BU inside),
    // as the MN sends a BU (RFC 6275 §11.7.1, docs/architecture.md).
    let mut esp = vec![0u8; sealed_len(bu.len())];
    esp[PAYLOAD_OFFSET..PAYLOAD_OFFSET + bu.len()].copy_from_slice(&bu);
    let key = SaKey::new(EspSuite::Aes128Gcm, &[0x42; 16], [1, 2, 3, 4]).unwrap();
    let mut sa: OutboundSa = OutboundSa::new(Spi::new(0x1005).unwrap(), key);
    let esp_len = sa.seal(&mut esp, bu.len(), 135).unwrap();
    let chain = ChainRepr {
        src_addr: coa,
        dst_addr: ha,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
        rh2: None,
        home_address: Some(hoa),
        next_header: NextHeader::ESP,
        payload_len: esp_len,
    };
    let mut pkt = vec![0u8; chain.buffer_len() + esp_len];
    let hlen = chain.emit(&mut pkt).unwrap();
    pkt[hlen..].copy_from_slice(&esp[..esp_len]);
    assert_eq!(pkt.len(), 148);
    group.bench_function("ext_chain_walk", |b| {
        b.iter(|| {
            let c = walk(black_box(&pkt[..])).unwrap();
            assert_eq!(c.final_header, NextHeader::ESP);
            black_box((c.home_address, c.final_offset))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
