//! ESP seal/open (RFC 4303/4106, AES-128-GCM) against the bare `aes-gcm`
//! `encrypt_inout_detached` / `decrypt_inout_detached` on the same buffers, so the
//! cost of ESP framing (header, padding, trailer, replay window) shows as the difference.
//!
//! Run: `cargo bench -p mip6-wire --bench esp -- --warm-up-time 1 --measurement-time 2`.
#![allow(missing_docs)]

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mip6_wire::esp::{
    sealed_len, AesGcmAead, InboundSa, OutboundSa, ReplayWindow, SaKey, Spi, Suite,
};

const SIZES: [usize; 4] = [64, 576, 1420, 9000];
const KEY: [u8; 16] = [0x42; 16];
const SALT: [u8; 4] = [1, 2, 3, 4];

fn sa_key() -> SaKey {
    SaKey::new(Suite::Aes128Gcm, &KEY, SALT).unwrap()
}

fn bench(c: &mut Criterion) {
    let spi = Spi::new(0x1001).unwrap();
    let cipher = Aes128Gcm::new(&KEY.into());
    let nonce = [7u8; 12];
    let aad = [9u8; 8];

    let mut group = c.benchmark_group("seal");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = vec![0xA5u8; sealed_len(size)];
        group.bench_with_input(BenchmarkId::new("esp", size), &size, |b, &size| {
            let mut sa: OutboundSa = OutboundSa::new(spi, sa_key());
            b.iter(|| {
                if sa.seq_remaining() == 0 {
                    sa = OutboundSa::new(spi, sa_key());
                }
                black_box(sa.seal(&mut buf, size, 41).unwrap())
            });
        });
        let mut bare = vec![0xA5u8; size];
        group.bench_with_input(BenchmarkId::new("bare_aes_gcm", size), &size, |b, _| {
            b.iter(|| {
                black_box(
                    cipher
                        .encrypt_inout_detached((&nonce).into(), &aad, (&mut bare[..]).into())
                        .unwrap(),
                )
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("open");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        // One sealed packet, opened once per iteration by a fresh inbound SA (built
        // outside the timed part, so the replay window accepts it again); each iteration
        // copies the packet in first, as the bare case copies its ciphertext.
        let len = sealed_len(size);
        let mut sealed = vec![0u8; len];
        let mut out: OutboundSa = OutboundSa::new(spi, sa_key());
        out.seal(&mut sealed, size, 41).unwrap();
        let mut work = sealed.clone();
        group.bench_with_input(BenchmarkId::new("esp", size), &size, |b, _| {
            b.iter_batched_ref(
                || {
                    InboundSa::<AesGcmAead>::with_window(
                        spi,
                        sa_key(),
                        ReplayWindow::new(64).unwrap(),
                    )
                },
                |sa| {
                    work.copy_from_slice(&sealed);
                    black_box(sa.open(&mut work).unwrap())
                },
                criterion::BatchSize::SmallInput,
            );
        });

        let mut ct = vec![0xA5u8; size];
        let tag = cipher
            .encrypt_inout_detached((&nonce).into(), &aad, (&mut ct[..]).into())
            .unwrap();
        let mut work = ct.clone();
        group.bench_with_input(BenchmarkId::new("bare_aes_gcm", size), &size, |b, _| {
            b.iter(|| {
                work.copy_from_slice(&ct);
                cipher
                    .decrypt_inout_detached((&nonce).into(), &aad, (&mut work[..]).into(), &tag)
                    .unwrap();
                black_box(&work);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
