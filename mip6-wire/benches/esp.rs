//! ESP seal/open (RFC 4303/4106, AES-128-GCM and AES-256-GCM) through each AEAD the
//! build has, beside the bare AEAD on the same buffers, so the cost of ESP framing
//! (header, padding, trailer, replay window) shows as the difference:
//!
//! - `esp_aes_gcm` / `bare_aes_gcm`: [`AesGcmAead`], RustCrypto aes-gcm 0.11 (default);
//! - `esp_ring` / `bare_ring`: [`RingAead`](mip6_wire::esp::RingAead), with `--features
//!   ring`. `esp_ring` opens with the copy that keeps a forgery unchanged;
//!   `bare_ring` opens with `ring` alone.
//!
//! Group `from_key` is what building the cipher from an SA's key costs (the home agent
//! builds one per packet).
//!
//! Run: `cargo bench -p mip6-wire [--features ring] --bench esp -- --warm-up-time 1
//! --measurement-time 2 [filter, e.g. '/(64|1420)$']`.
#![allow(missing_docs)]

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use mip6_wire::esp::{
    sealed_len, AesGcmAead, AesGcmInline, EspAead, InboundSa, OutboundSa, ReplayWindow, SaKey, Spi,
    Suite,
};

const SIZES: [usize; 4] = [64, 576, 1420, 9000];
const KEY: [u8; 32] = [0x42; 32];
const SALT: [u8; 4] = [1, 2, 3, 4];
const NONCE: [u8; 12] = [7; 12];
const AAD: [u8; 8] = [9; 8];

fn sa_key(suite: Suite) -> SaKey {
    SaKey::new(suite, &KEY[..suite.key_len()], SALT).unwrap()
}

fn suite_name(suite: Suite) -> &'static str {
    match suite {
        Suite::Aes128Gcm => "aes128",
        Suite::Aes256Gcm => "aes256",
    }
}

fn spi() -> Spi {
    Spi::new(0x1001).unwrap()
}

/// `OutboundSa::seal` of `size` payload octets with the AEAD `A`.
fn esp_seal<A: EspAead>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, suite: Suite) {
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        let mut buf = vec![0xA5u8; sealed_len(size)];
        let id = BenchmarkId::new(format!("{}/{name}", suite_name(suite)), size);
        g.bench_with_input(id, &size, |b, &size| {
            let mut sa = OutboundSa::<A>::new(spi(), sa_key(suite));
            b.iter(|| {
                if sa.seq_remaining() == 0 {
                    sa = OutboundSa::new(spi(), sa_key(suite));
                }
                black_box(sa.seal(&mut buf, size, 41).unwrap())
            });
        });
    }
}

/// `InboundSa::open` of one sealed packet with the AEAD `A`: a fresh inbound SA per
/// iteration (built outside the timed part, so the replay window accepts it again);
/// each iteration copies the packet in first, as the bare cases copy their ciphertext.
fn esp_open<A: EspAead>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, suite: Suite) {
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        let mut sealed = vec![0u8; sealed_len(size)];
        let mut out = OutboundSa::<A>::new(spi(), sa_key(suite));
        out.seal(&mut sealed, size, 41).unwrap();
        let mut work = sealed.clone();
        let id = BenchmarkId::new(format!("{}/{name}", suite_name(suite)), size);
        g.bench_with_input(id, &size, |b, _| {
            b.iter_batched_ref(
                || {
                    InboundSa::<A>::with_window(
                        spi(),
                        sa_key(suite),
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
    }
}

/// The bare RustCrypto AEAD for `suite`: seal (`open == false`) or open.
fn bare_aes_gcm(g: &mut BenchmarkGroup<'_, WallTime>, suite: Suite, open: bool) {
    macro_rules! run {
        ($cipher:expr) => {{
            let cipher = $cipher;
            for size in SIZES {
                g.throughput(Throughput::Bytes(size as u64));
                let id = BenchmarkId::new(format!("{}/bare_aes_gcm", suite_name(suite)), size);
                let mut ct = vec![0xA5u8; size];
                let tag = cipher
                    .encrypt_inout_detached((&NONCE).into(), &AAD, (&mut ct[..]).into())
                    .unwrap();
                let mut work = ct.clone();
                g.bench_with_input(id, &size, |b, _| {
                    if open {
                        b.iter(|| {
                            work.copy_from_slice(&ct);
                            cipher
                                .decrypt_inout_detached(
                                    (&NONCE).into(),
                                    &AAD,
                                    (&mut work[..]).into(),
                                    &tag,
                                )
                                .unwrap();
                            black_box(&work);
                        })
                    } else {
                        b.iter(|| {
                            black_box(
                                cipher
                                    .encrypt_inout_detached(
                                        (&NONCE).into(),
                                        &AAD,
                                        (&mut work[..]).into(),
                                    )
                                    .unwrap(),
                            )
                        })
                    }
                });
            }
        }};
    }
    let key = sa_key(suite);
    match suite {
        Suite::Aes128Gcm => run!(Aes128Gcm::new_from_slice(key.key()).unwrap()),
        Suite::Aes256Gcm => run!(Aes256Gcm::new_from_slice(key.key()).unwrap()),
    }
}

/// The bare `ring` AEAD for `suite`: seal (`open == false`) or open.
#[cfg(feature = "ring")]
fn bare_ring(g: &mut BenchmarkGroup<'_, WallTime>, suite: Suite, open: bool) {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
    let algorithm = match suite {
        Suite::Aes128Gcm => &AES_128_GCM,
        Suite::Aes256Gcm => &AES_256_GCM,
    };
    let key = LessSafeKey::new(UnboundKey::new(algorithm, sa_key(suite).key()).unwrap());
    let nonce = || Nonce::assume_unique_for_key(NONCE);
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        let id = BenchmarkId::new(format!("{}/bare_ring", suite_name(suite)), size);
        let mut ct = vec![0xA5u8; size];
        let tag = key
            .seal_in_place_separate_tag(nonce(), Aad::from(AAD), &mut ct)
            .unwrap();
        let mut work = ct.clone();
        g.bench_with_input(id, &size, |b, _| {
            if open {
                b.iter(|| {
                    work.copy_from_slice(&ct);
                    key.open_in_place_separate_tag(nonce(), Aad::from(AAD), tag, &mut work, 0..)
                        .unwrap();
                    black_box(&work);
                })
            } else {
                b.iter(|| {
                    black_box(
                        key.seal_in_place_separate_tag(nonce(), Aad::from(AAD), &mut work)
                            .unwrap(),
                    )
                })
            }
        });
    }
}

fn bench(c: &mut Criterion) {
    let suites = [Suite::Aes128Gcm, Suite::Aes256Gcm];

    let mut g = c.benchmark_group("seal");
    for suite in suites {
        esp_seal::<AesGcmAead>(&mut g, "esp_aes_gcm", suite);
        bare_aes_gcm(&mut g, suite, false);
        #[cfg(feature = "ring")]
        {
            esp_seal::<mip6_wire::esp::RingAead>(&mut g, "esp_ring", suite);
            bare_ring(&mut g, suite, false);
        }
    }
    g.finish();

    let mut g = c.benchmark_group("open");
    for suite in suites {
        esp_open::<AesGcmAead>(&mut g, "esp_aes_gcm", suite);
        bare_aes_gcm(&mut g, suite, true);
        #[cfg(feature = "ring")]
        {
            esp_open::<mip6_wire::esp::RingAead>(&mut g, "esp_ring", suite);
            bare_ring(&mut g, suite, true);
        }
    }
    g.finish();

    let mut g = c.benchmark_group("from_key");
    for suite in suites {
        let key = sa_key(suite);
        let name = suite_name(suite);
        g.bench_function(format!("{name}/aes_gcm_boxed"), |b| {
            b.iter(|| black_box(AesGcmAead::from_key(black_box(&key))))
        });
        g.bench_function(format!("{name}/aes_gcm_inline"), |b| {
            b.iter(|| black_box(AesGcmInline::from_key(black_box(&key))))
        });
        #[cfg(feature = "ring")]
        g.bench_function(format!("{name}/ring"), |b| {
            b.iter(|| black_box(mip6_wire::esp::RingAead::from_key(black_box(&key))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
