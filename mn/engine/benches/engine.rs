//! The mobile node engine (issue 3), one registered node (generation 1 installed, the
//! home agent played by the test kit's `ScriptedHa`, as the unit tests do):
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

use criterion::{black_box, criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mip6_mn::{Event, MnConfig, MobileNode, Received};
use mip6_testkit::cpu::cpu_iters;
use mip6_testkit::lab::{init_key, CN, COA, COA2, HA, HOA, T0};
use mip6_testkit::packet::{data_buffer, udp_packet};
use mip6_testkit::scripted::distribution;
use mip6_testkit::{stepper, ScriptedHa};
use mip6_wire::esp::Suite;
use mip6_wire::keys::Slot;
use mip6_wire::mh::{KeyDistribution, KeyOption};
use mip6_wire::Time;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Inner packet size of the data benches.
const INNER: usize = 1420;
/// Tunnelled frames sealed ahead per refill of the data-open pool.
const DATA_POOL: usize = 16_384;

/// An IPv6/UDP packet of `total` octets src → dst (payload 0xA5).
fn inner_packet(src: Ipv6Addr, dst: Ipv6Addr, total: usize) -> Vec<u8> {
    udp_packet(src, dst, &vec![0xA5; total - 48])
}

/// A node registered with generation 1 (Key Initialization answered with a Key
/// Distribution under init, AES-128-GCM), and the scripted home agent (init +
/// generation 1).
fn registered(now: Time) -> (MobileNode, ScriptedHa) {
    let key = init_key();
    let config = MnConfig::new(HA, key.home_address, key.secret.clone(), key.spis);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut mn = MobileNode::new(config, &mut rng, now, None);
    let mut ha = ScriptedHa::new(&key);
    mn.set_care_of_address(now, Some(COA));
    let bu = stepper::drain(&mut mn, |_| {});
    let bu = ha.open_bu(&bu.first().expect("a BU").frame);
    assert_eq!(bu.slot, Slot::Init);
    let echo = bu.key.clone().expect("a Key Initialization Request");
    let kd = ha.initialize_with(KeyDistribution {
        suite: Suite::Aes128Gcm,
        ..distribution(1)
    });
    let mut ba = ha.ba(&bu, &[KeyOption::KeyDistribution(kd), echo]);
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let events: Vec<Event> = stepper::take_events(&mut mn);
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
    let mut buf = data_buffer(&from);
    let frame_len = buf.len();
    group.bench_function("data_seal_1420", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, || {
                buf[mip6_wire::frames::DATA_HEADROOM..][..INNER].copy_from_slice(&from);
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
    group.bench_function("data_open_1420", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if next == DATA_POOL {
                    for f in data.chunks_exact_mut(frame_len) {
                        f.copy_from_slice(&ha.seal_data(COA, &toward));
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
                sent += stepper::drain_and_count(&mut mn) as u64;
            })
        });
    });
    println!("bu_build: {moves} movements, {sent} BUs sent");
    assert_eq!(sent, moves, "one BU per movement");
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
