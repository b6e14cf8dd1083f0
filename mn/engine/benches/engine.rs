//! The mobile node engine (issue 3), one registered node (generation 1 installed, the
//! home agent played by hand with a mip6-wire `KeyTable`, as `mn/src/tests/harness.rs`
//! does):
//!
//! - `mn/data_seal_1420`: [`MobileNode::seal_data`] of a 1420-octet inner packet from
//!   the home address (copy-in of the inner packet included, ~30 ns) + draining
//!   `poll_event` (a `Persist` every 1024 frames).
//! - `mn/data_open_1420`: [`MobileNode::handle`] of a tunnelled frame HA → CoA carrying
//!   a 1420-octet inner packet → `Received::Delivered`.
//! - `mn/bu_build`: [`MobileNode::set_care_of_address`] to the other of two care-of
//!   addresses (a movement: a fresh BU with the next sequence number, sealed under the
//!   newest key) + draining `poll_event` / `poll_transmit`.
//!
//! Times are the bench thread's on-CPU time (`/proc/thread-self/schedstat`, returned to
//! criterion through `iter_custom`, ten flat samples so that each spans many scheduler
//! ticks), not wall-clock time: the machine the figures were
//! taken on is shared, and wall-clock time there counts other jobs' slices.
//!
//! Nothing is asserted about speed; the run panics only if the engine refuses what the
//! bench feeds it.
//!
//! Run: `CARGO_TARGET_DIR=target cargo bench -p mip6-mn --bench engine --
//! --warm-up-time 1 --measurement-time 3`.
#![allow(missing_docs)]

use core::time::Duration;
use std::net::Ipv6Addr;
use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mip6_mn::{Event, MnConfig, MobileNode, Received};
use mip6_wire::esp::{self, Spi, Suite};
use mip6_wire::frames::{self, BindingAckFrame, Payload, TunnelEndpoints, DATA_HEADROOM};
use mip6_wire::keys::{Generation, GenerationId, KeyTable, Role, Slot, SpiPair};
use mip6_wire::mh::{
    BaFlags, BaStatus, BindingAckRepr, KeyBody, KeyDistribution, KeyOption, Message,
    MobilityOption, DEFAULT_VENDOR_ID,
};
use mip6_wire::tunnel::InnerOrigin;
use mip6_wire::{Secret32, Time};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);
const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);
/// 2026-01-01T00:00:00Z.
const T0: Time = Time::from_secs(1_767_225_600);
const INIT_SECRET: [u8; 32] = [0x42; 32];
/// Inner packet size of the data benches.
const INNER: usize = 1420;
/// Tunnelled frames sealed ahead per refill of the data-open pool.
const DATA_POOL: usize = 16_384;

fn init_spis() -> SpiPair {
    SpiPair {
        mn_to_ha: Spi::new(0x1001).unwrap(),
        ha_to_mn: Spi::new(0x2001).unwrap(),
    }
}

/// An IPv6 packet of `total` octets src → dst (UDP next header, zero payload).
fn inner_packet(src: Ipv6Addr, dst: Ipv6Addr, total: usize) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&((total - 40) as u16).to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.resize(total, 0xA5);
    p
}

/// On-CPU time of this thread (`/proc/thread-self/schedstat`, ns; the kernel brings it
/// up to date at scheduler ticks and switches, so only spans of many ms are exact),
/// so that figures hold on a shared, loaded machine; wall-clock time if unreadable.
fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| WALL.with(|w| w.elapsed()), Duration::from_nanos)
}

thread_local! {
    static WALL: Instant = Instant::now();
}

/// Runs `f` `iters` times, returns the on-CPU time it took.
fn cpu_iters(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = cpu_time();
    for _ in 0..iters {
        f();
    }
    cpu_time() - start
}

fn drain(mn: &mut MobileNode) -> usize {
    while let Some(e) = mn.poll_event() {
        black_box(e);
    }
    let mut sent = 0;
    while let Some(t) = mn.poll_transmit() {
        black_box(t);
        sent += 1;
    }
    sent
}

/// A node registered with generation 1 (Key Initialization answered with a Key
/// Distribution under init), and the home agent's key table (init + generation 1).
fn registered(now: Time) -> (MobileNode, KeyTable) {
    let config = MnConfig::new(HA, HOA, Secret32::new(INIT_SECRET), init_spis());
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut mn = MobileNode::new(config, &mut rng, now, None);
    let mut ha = KeyTable::new(
        Role::HomeAgent,
        Generation::derive(
            Role::HomeAgent,
            GenerationId::Init,
            Secret32::new(INIT_SECRET),
            &HOA,
            init_spis(),
            Suite::Aes128Gcm,
        ),
    );
    mn.set_care_of_address(now, Some(COA));
    while mn.poll_event().is_some() {}
    let mut bu = mn.poll_transmit().expect("a BU").frame;
    let opened = frames::open(&mut bu, &mut ha).expect("the BU opens at the HA");
    assert_eq!(opened.slot, Slot::Init);
    let Payload::Signalling(mh) = opened.payload else {
        panic!("not signalling")
    };
    let Message::BindingUpdate(update) = mh.message else {
        panic!("not a BU")
    };
    let echo = mh
        .options()
        .filter_map(Result::ok)
        .find_map(|o| KeyOption::from_option(&o, DEFAULT_VENDOR_ID).ok().flatten())
        .expect("a Key Initialization Request");
    let kd = KeyDistribution {
        generation: 1,
        spi_mn_to_ha: 0x3001,
        spi_ha_to_mn: 0x3002,
        suite: Suite::Aes128Gcm,
        lifetime_secs: 3600,
        secret: Secret32::new([1; 32]),
    };
    let generation = Generation::derive(
        Role::HomeAgent,
        GenerationId::Number(1),
        kd.secret.clone(),
        &HOA,
        SpiPair {
            mn_to_ha: Spi::new(kd.spi_mn_to_ha).unwrap(),
            ha_to_mn: Spi::new(kd.spi_ha_to_mn).unwrap(),
        },
        kd.suite,
    );
    ha.initialize(generation).unwrap();
    let keys = [KeyOption::KeyDistribution(kd), echo];
    let bodies: Vec<KeyBody> = keys.iter().map(KeyOption::encode).collect();
    let options: Vec<MobilityOption<'_>> = bodies
        .iter()
        .map(|b| b.to_option(DEFAULT_VENDOR_ID))
        .collect();
    let ack = BindingAckRepr {
        status: BaStatus::Accepted,
        flags: BaFlags(0),
        sequence: update.sequence,
        lifetime: update.lifetime,
    };
    let frame = BindingAckFrame::new(HA, COA, HOA, ack, &options);
    let mut ba = vec![0; frame.buffer_len().unwrap()];
    let slot = ha.transmit_slot();
    frame
        .seal(ha.get_mut(slot).unwrap().outbound_mut(), &mut ba)
        .unwrap();
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let events: Vec<Event> = std::iter::from_fn(|| mn.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Registered { coa, .. } if *coa == COA)),
        "registered: {events:?}"
    );
    assert_eq!(mn.keys().newest, Some(1));
    (mn, ha)
}

fn bench(c: &mut Criterion) {
    let now = T0 + Duration::from_secs(1);
    let (mut mn, mut ha) = registered(now);
    let mut group = c.benchmark_group("mn");
    group.throughput(Throughput::Elements(1));
    // CPU time is read at scheduler-tick granularity: ten equal samples of
    // measurement-time / 10 each keep that error near 1 %.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);

    let from = inner_packet(HOA, CN, INNER);
    let frame_len = DATA_HEADROOM + INNER + esp::trailer_len(INNER);
    let mut buf = vec![0u8; frame_len];
    group.bench_function("data_seal_1420", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, || {
                buf[DATA_HEADROOM..DATA_HEADROOM + INNER].copy_from_slice(&from);
                let sealed = mn.seal_data(now, &mut buf, INNER).unwrap();
                while let Some(e) = mn.poll_event() {
                    black_box(e);
                }
                black_box(sealed);
            })
        });
    });

    let toward = inner_packet(CN, HOA, INNER);
    let mut data = vec![0u8; frame_len * DATA_POOL];
    let mut next = DATA_POOL;
    let delivered_before = mn.counters().data_delivered;
    let mut handled = 0u64;
    let ep = TunnelEndpoints::new(HA, COA);
    group.bench_function("data_open_1420", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if next == DATA_POOL {
                    let slot = ha.transmit_slot();
                    let sa = ha.get_mut(slot).unwrap().outbound_mut();
                    for f in data.chunks_exact_mut(frame_len) {
                        f[DATA_HEADROOM..DATA_HEADROOM + INNER].copy_from_slice(&toward);
                        let n =
                            frames::seal_data_in_place(&ep, sa, f, INNER, InnerOrigin::Forwarded)
                                .unwrap();
                        assert_eq!(n, frame_len);
                    }
                    next = 0;
                }
                let batch = left.min((DATA_POOL - next) as u64);
                total += cpu_iters(batch, || {
                    let at = next * frame_len;
                    next += 1;
                    black_box(mn.handle(now, &mut data[at..at + frame_len]));
                });
                left -= batch;
                handled += batch;
            }
            total
        });
    });
    let delivered = mn.counters().data_delivered - delivered_before;
    println!("data_open_1420: {handled} frames handled, {delivered} delivered");
    assert_eq!(delivered, handled, "every tunnelled frame delivered");

    let mut moves = 0u64;
    let mut sent = 0u64;
    group.bench_function("bu_build", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, || {
                moves += 1;
                let coa = if moves % 2 == 1 { COA2 } else { COA };
                mn.set_care_of_address(now, Some(coa));
                sent += drain(&mut mn) as u64;
            })
        });
    });
    println!("bu_build: {moves} movements, {sent} BUs sent");
    assert_eq!(sent, moves, "one BU per movement");
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
