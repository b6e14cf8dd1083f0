//! The home agent engine at scale (issue 3): N configured mobile nodes, all registered
//! (init key, generation 1), then all through one key update (generation 2 drawn, 1
//! kept as the anterior: the three generations a long-running HA holds per MN), then
//!
//! - `ha/bu_ba`: steady-state binding refresh: one valid refresh BU (next BU sequence
//!   number, next ESP sequence number, sealed under the MN's newest key) from each of
//!   the N MNs in turn, in a fresh random order each round (every MN, not a hot set:
//!   the engine's state for all N is cycled through the caches) →
//!   [`HomeAgent::handle`] + draining `poll_event` / `poll_transmit` (one `Persist`,
//!   encoded as the daemon's store writes it, `mip6_ha::record_layout`; one `Binding`
//!   event; one BA sealed with the anterior key). Target ≥ 500 k/s on one core with
//!   N = 1 M. `MIP6_BENCH_SAMPLED` limits the MNs cycled through (for quick runs).
//! - `ha/bu_ba_prefetch`: the same, driven as a batching driver would:
//!   [`HomeAgent::prefetch`] on the next 16 frames, then `handle` + drain each.
//! - `ha/data_seal_1420`: [`HomeAgent::seal_data`] of a 1420-octet inner packet toward
//!   one bound MN among the N (copy-in of the inner packet included, ~30 ns).
//! - `ha/data_open_1420`: [`HomeAgent::handle`] of a tunnelled frame (1420-octet inner
//!   packet) from that MN → `Received::Delivered`.
//! - `ha/aes128gcm_from_key`: building one SA's boxed AES-128-GCM state from its key
//!   (what an eager SA pays once), and `ha/aes128gcm_inline_from_key`: the same on the
//!   stack, what the HA pays per packet since it keeps no expanded cipher per SA.
//!
//! Times are the bench thread's on-CPU time (`/proc/thread-self/schedstat`, returned to
//! criterion through `iter_custom`, ten flat samples so that each spans many scheduler
//! ticks), not wall-clock time: the machine the figures were
//! taken on is shared, and wall-clock time there counts other jobs' slices. The
//! refresh benches also print their wall-clock rate beside the CPU one, over every
//! BU they handled (warm-up included), so the two can be compared.
//!
//! Printed before criterion runs: setup times (configuration, `HomeAgent::new`, the N
//! registrations, the N key updates) and memory per MN, after the registrations and
//! after the updates. Memory is the process's resident set
//! (`/proc/self/statm`) before and after, since a counting `#[global_allocator]` needs
//! `unsafe impl GlobalAlloc`, which the package's `unsafe_code = "forbid"` refuses in
//! every target; next to it, `HomeAgent::approx_state_bytes()` and the sizes of the
//! types a binding holds, with the boxed AES-GCM state measured with `size_of_val`.
//!
//! The mobile nodes are played by hand with the test kit (`mip6-testkit`, as the unit
//! tests do): registration BUs carry a Key Initialization Request and are sealed under
//! each MN's init key; the refresh BUs are sealed under the generation the HA
//! distributed, rebuilt with the MN role from the HA's `Persist` record of each sampled
//! MN (the record holds the same secret and SPIs as the Key Distribution in the BA;
//! one BA is opened and checked at the kit's scripted MN before the runs). The MNs
//! are kept as bare generations, not key tables, so that a million of them fit. Nothing is asserted about speed; the
//! run panics only if the engine refuses what the bench feeds it (the figures would
//! be meaningless).
//!
//! Run (N defaults to 1 000 000; `MIP6_BENCH_MNS` overrides it; the HA's anti-replay
//! window is the default, RFC 4303's 64, unless `MIP6_BENCH_WINDOW` sets another):
//!
//! ```sh
//! MIP6_BENCH_MNS=10000 CARGO_TARGET_DIR=target cargo bench -p mip6-ha --bench engine -- \
//!     --warm-up-time 1 --measurement-time 3
//! ```
#![allow(missing_docs)]

use core::time::Duration;
use std::net::Ipv6Addr;
use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mip6_ha::{Event, HaConfig, HomeAgent, MnConfig, Received};
use mip6_testkit::cpu::{cpu_iters, cpu_iters_batched, cpu_time};
use mip6_testkit::lab::{spi_pair, CN, COA, HA, T0};
use mip6_testkit::packet::{data_buffer, udp_packet};
use mip6_testkit::signalling::{home_registration, key_initialization, BuSpec, LIFETIME_UNITS};
use mip6_testkit::{stepper, KeyMaterial, ScriptedMn};
use mip6_wire::esp::{
    AesGcmAead, AesGcmInline, EspAead, InboundSa, OutboundSa, ReplayWindow, SaKey, Suite,
};
use mip6_wire::frames::{self, TunnelEndpoints, DATA_HEADROOM};
use mip6_wire::keys::{Generation, KeyTable, Role, Slot, SpiPair};
use mip6_wire::mh::{BaStatus, KeyOption, DEFAULT_VENDOR_ID};
use mip6_wire::tunnel::InnerOrigin;
use mip6_wire::{Secret32, Time};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// Inner packet size of the data benches.
const INNER: usize = 1420;
/// Mobile nodes whose refresh BUs the steady-state bench sends (spread over all N):
/// all N unless `MIP6_BENCH_SAMPLED` says fewer.
fn sampled_from_env(n: usize) -> usize {
    std::env::var("MIP6_BENCH_SAMPLED")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .map_or(n, |k: usize| k.clamp(1, n))
}
/// Frames per `prefetch` call in `bu_ba_prefetch` (a receive batch).
const BATCH: usize = 16;
/// Tunnelled frames sealed ahead per refill of the data-open pool.
const DATA_POOL: usize = 16_384;

type Ha = HomeAgent<ChaCha20Rng>;

fn window_from_env() -> ReplayWindow {
    let size = std::env::var("MIP6_BENCH_WINDOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(HaConfig::DEFAULT_REPLAY_WINDOW);
    ReplayWindow::new(size).expect("a window of 64..=4096, multiple of 64")
}

fn mns_from_env() -> usize {
    std::env::var("MIP6_BENCH_MNS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000)
}

/// Home address of MN `i`: 2001:db8:1::/64 with `i` in the interface identifier.
fn hoa(i: u32) -> Ipv6Addr {
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        1,
        0,
        0,
        1,
        (i >> 16) as u16,
        (i & 0xffff) as u16,
    )
}

/// The init key of MN `i`: its own secret and SPIs (0x1000_0000 + i, 0x2000_0000 + i).
fn init_key(i: u32) -> KeyMaterial {
    let mut secret = [0x5a; 32];
    secret[..4].copy_from_slice(&i.to_be_bytes());
    KeyMaterial::init(hoa(i), secret, spi_pair(0x1000_0000 + i, 0x2000_0000 + i))
}

fn mn_config(i: u32) -> MnConfig {
    let key = init_key(i);
    MnConfig {
        home_address: key.home_address,
        init_secret: key.secret,
        init_spis: key.spis,
        init_suite: key.suite,
    }
}

/// Generation `number` of MN `i` as the HA distributed it, with the MN role.
fn generation(i: u32, number: u32, secret: Secret32, spis: SpiPair) -> Generation {
    KeyMaterial::generation(hoa(i), number, secret, spis, Suite::Aes128Gcm).derive(Role::MobileNode)
}

/// Resident set size of this process in octets (Linux `/proc/self/statm`, 4 KiB pages).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A home registration BU from [`COA`], sealed with `sa`, into `buf`; its length.
fn seal_bu(
    sa: &mut OutboundSa,
    hoa: Ipv6Addr,
    seq: u16,
    keys: &[KeyOption],
    buf: &mut Vec<u8>,
) -> usize {
    let spec = BuSpec {
        care_of_address: COA,
        home_address: hoa,
        update: home_registration(seq, LIFETIME_UNITS),
        keys,
        vendor_id: DEFAULT_VENDOR_ID,
    };
    spec.seal_into(sa, buf)
}

/// The MN side of a sampled mobile node: its newest generation and BU sequence number.
struct Sampled {
    index: u32,
    newest: Generation,
    seq: u16,
}

/// Pre-sealed refresh BUs, all of one length, in one flat buffer.
struct BuPool {
    frames: Vec<u8>,
    len: usize,
    next: usize,
    count: usize,
}

impl BuPool {
    /// One refresh BU per sampled MN, in a fresh random order.
    fn refill(&mut self, mns: &mut [Sampled], rng: &mut ChaCha20Rng) {
        shuffle(mns, rng);
        self.frames.clear();
        let mut buf = Vec::new();
        for mn in mns.iter_mut() {
            mn.seq = mn.seq.wrapping_add(1);
            let n = seal_bu(
                mn.newest.outbound_mut(),
                hoa(mn.index),
                mn.seq,
                &[],
                &mut buf,
            );
            assert!(self.len == 0 || self.len == n, "BU frames differ in length");
            self.len = n;
            self.frames.extend_from_slice(&buf[..n]);
        }
        self.count = mns.len();
        self.next = 0;
    }

    fn remaining(&self) -> usize {
        self.count - self.next
    }

    /// The next `k` frames, without taking them.
    fn peek(&self, k: usize) -> impl Iterator<Item = &[u8]> {
        let at = self.next * self.len;
        self.frames[at..at + k * self.len].chunks_exact(self.len)
    }

    fn take(&mut self) -> &mut [u8] {
        let at = self.next * self.len;
        self.next += 1;
        &mut self.frames[at..at + self.len]
    }
}

/// Drains the HA as its driver does, encoding each `Persist` record as the daemon's
/// store writes it (`mip6_ha::record_layout`): the work a refresh costs beside I/O.
fn drain_encoding(ha: &mut Ha) {
    stepper::drain_with(
        ha,
        |e| {
            if let Event::Persist(r) = &e {
                black_box(mip6_ha::record_layout::encode_record(r));
            }
            black_box(e);
        },
        |t| {
            black_box(t);
        },
    );
}

/// One line: BUs per second by CPU time and by wall-clock time.
fn print_rates(name: &str, bus: u64, cpu: Duration, wall: Duration) {
    if bus == 0 {
        return;
    }
    let rate = |d: Duration| bus as f64 / d.as_secs_f64().max(1e-9) / 1e3;
    println!(
        "{name}: {bus} BUs, CPU {:.3} µs/BU = {:.0} k/s; wall clock {:.3} µs/BU = {:.0} k/s",
        cpu.as_secs_f64() * 1e6 / bus as f64,
        rate(cpu),
        wall.as_secs_f64() * 1e6 / bus as f64,
        rate(wall)
    );
}

fn shuffle<T>(v: &mut [T], rng: &mut ChaCha20Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// An IPv6/UDP packet of `total` octets src → dst (payload 0xA5).
fn inner_packet(src: Ipv6Addr, dst: Ipv6Addr, total: usize) -> Vec<u8> {
    udp_packet(src, dst, &vec![0xA5; total - 48])
}

/// Sizes of what one binding holds (std::mem::size_of) and of the boxed AES-GCM state.
fn print_type_sizes() {
    use core::mem::size_of;
    let key = SaKey::new(Suite::Aes128Gcm, &[7; 16], [1, 2, 3, 4]).unwrap();
    let aead = <AesGcmAead as EspAead>::from_key(&key);
    let boxed = match &aead {
        AesGcmAead::Aes128(b) => core::mem::size_of_val(&**b),
        AesGcmAead::Aes256(b) => core::mem::size_of_val(&**b),
    };
    let key256 = SaKey::new(Suite::Aes256Gcm, &[7; 32], [1, 2, 3, 4]).unwrap();
    let boxed256 = match <AesGcmAead as EspAead>::from_key(&key256) {
        AesGcmAead::Aes128(b) => core::mem::size_of_val(&*b),
        AesGcmAead::Aes256(b) => core::mem::size_of_val(&*b),
    };
    println!("type sizes (std::mem::size_of, octets):");
    println!(
        "  HomeAgent::mn_state_bytes() (per-MN struct)  {}",
        Ha::mn_state_bytes()
    );
    println!(
        "  AesGcmInline (per packet)   {}",
        size_of::<AesGcmInline>()
    );
    println!("  KeyTable (mip6-wire, MN)    {}", size_of::<KeyTable>());
    println!("  Generation                  {}", size_of::<Generation>());
    println!(
        "  Option<Generation>          {}",
        size_of::<Option<Generation>>()
    );
    println!("  OutboundSa                  {}", size_of::<OutboundSa>());
    println!("  InboundSa                   {}", size_of::<InboundSa>());
    println!(
        "  ReplayWindow                {}",
        size_of::<ReplayWindow>()
    );
    println!("  SaKey                       {}", size_of::<SaKey>());
    println!("  Secret32                    {}", size_of::<Secret32>());
    println!("  AesGcmAead (enum of Box)    {}", size_of::<AesGcmAead>());
    println!("  *Box<Aes128Gcm> (heap)      {boxed}");
    println!("  *Box<Aes256Gcm> (heap)      {boxed256}");
    println!("  MnConfig (in HaConfig)      {}", size_of::<MnConfig>());
    println!(
        "  mip6_ha::MnRecord           {}",
        size_of::<mip6_ha::MnRecord>()
    );
}

/// Hands the HA the BU of MN i in each `len`-octet chunk of `frames`, in order,
/// draining it as its driver contract says (the kit's stepper): `on_persist(i, r)`
/// sees each Persist record, and each BU must be answered by exactly one BA.
fn handle_each(
    ha: &mut Ha,
    now: Time,
    frames: &mut [u8],
    len: usize,
    what: &str,
    mut on_persist: impl FnMut(u32, &mip6_ha::MnRecord),
) {
    for (i, frame) in (0..).zip(frames.chunks_exact_mut(len)) {
        let received = ha.handle(now, frame);
        let mut sent = 0;
        stepper::drain_with(
            ha,
            |e| {
                if let Event::Persist(r) = &e {
                    on_persist(i, r);
                }
            },
            |tx| {
                black_box(tx);
                sent += 1;
            },
        );
        assert!(
            matches!(received, Received::Consumed { .. }) && sent == 1,
            "{what} of MN {i} failed: {received:?}"
        );
    }
}

/// Everything the benches share: the HA with N registered MNs and the sampled MNs.
struct Setup {
    ha: Ha,
    now: Time,
    sampled: Vec<Sampled>,
    rng: ChaCha20Rng,
}

fn setup() -> Setup {
    let n = mns_from_env();
    let n32 = u32::try_from(n).expect("N fits in u32");
    let window = window_from_env();
    println!(
        "== mip6-ha engine bench: N = {n} mobile nodes, replay window {} ==",
        window.size()
    );
    print_type_sizes();
    let mut rng = ChaCha20Rng::seed_from_u64(0xbe4c);

    // Which MNs the steady-state bench refreshes, spread over all N; their records
    // are kept in a buffer allocated before the first memory reading.
    let k = sampled_from_env(n);
    println!("refresh BUs cycle through {k} of the {n} mobile nodes");
    let mut chosen: Vec<u32> = (0..n32).collect();
    shuffle(&mut chosen, &mut rng);
    chosen.truncate(k);
    let mut is_sampled = vec![u32::MAX; n];
    for (slot, &i) in chosen.iter().enumerate() {
        is_sampled[i as usize] = slot as u32;
    }
    let mut records: Vec<Option<mip6_ha::GenerationRecord>> = vec![None; k];
    // Generation 1 of every MN as the HA distributed it (secret, SPIs), for the key
    // update BUs; allocated and faulted in before the first memory reading.
    let mut generation_1: Vec<(Secret32, SpiPair)> =
        vec![(Secret32::new([0; 32]), mn_config(0).init_spis); n];
    // The registration BUs are sealed (MN side) into one flat buffer, faulted in
    // before the first memory reading, so that the HA's handling is timed alone.
    let now = T0 + Duration::from_secs(1);
    let kir = [key_initialization(now)];
    let mut buf = Vec::with_capacity(256);
    let bu_len = seal_bu(
        init_key(0).derive(Role::MobileNode).outbound_mut(),
        hoa(0),
        1,
        &kir,
        &mut buf,
    );
    let mut bus = vec![0u8; n * bu_len];
    bus.fill(1);
    let kur = [KeyOption::KeyUpdateRequest];
    let update_len = seal_bu(
        init_key(0).derive(Role::MobileNode).outbound_mut(),
        hoa(0),
        2,
        &kur,
        &mut buf,
    );
    let mut update_bus = vec![1u8; n * update_len];

    let rss0 = rss();
    let (t, c) = (Instant::now(), cpu_time());
    let mobile_nodes: Vec<MnConfig> = (0..n32).map(mn_config).collect();
    let mut config = HaConfig::new(HA, mobile_nodes);
    config.replay_window = window;
    let (t_config, c_config) = (t.elapsed(), cpu_time() - c);
    let rss1 = rss();
    let (t, c) = (Instant::now(), cpu_time());
    let mut ha = HomeAgent::new(config, ChaCha20Rng::seed_from_u64(7), T0, Vec::new()).unwrap();
    let (t_new, c_new) = (t.elapsed(), cpu_time() - c);
    let rss2 = rss();

    // Register every MN: BU with a Key Initialization Request under its init key.
    let (t, c) = (Instant::now(), cpu_time());
    for (i, frame) in (0..n32).zip(bus.chunks_exact_mut(bu_len)) {
        let mut init = init_key(i).derive(Role::MobileNode);
        let len = seal_bu(init.outbound_mut(), hoa(i), 1, &kir, &mut buf);
        assert_eq!(len, bu_len, "registration BUs differ in length");
        frame.copy_from_slice(&buf[..len]);
    }
    let (t_seal, c_seal) = (t.elapsed(), cpu_time() - c);
    let (t, c) = (Instant::now(), cpu_time());
    handle_each(&mut ha, now, &mut bus, bu_len, "registration", |i, r| {
        if let Some(g) = &r.newest {
            generation_1[i as usize] = (g.secret.clone(), g.spis);
        }
    });
    let (t_register, c_register) = (t.elapsed(), cpu_time() - c);
    let rss3 = rss();
    drop(bus);
    // The registration BUs' buffer went back to the OS: the update phase is measured
    // from here.
    let rss3_freed = rss();
    let c = ha.counters();
    assert_eq!(c.bu_accepted, n as u64, "every registration accepted");
    assert_eq!(c.key_initializations, n as u64);
    let approx_registered = ha.approx_state_bytes();

    // One key update for every MN (patent (3)): a BU with a Key Update Request under
    // generation 1 proves it, the HA draws generation 2 and keeps 1 as the anterior
    // it transmits with. Three generations per MN is the state a home agent that has
    // run for one key update interval is in.
    for (i, frame) in (0..n32).zip(update_bus.chunks_exact_mut(update_len)) {
        let (secret, spis) = generation_1[i as usize].clone();
        let mut g1 = generation(i, 1, secret, spis);
        let len = seal_bu(g1.outbound_mut(), hoa(i), 2, &kur, &mut buf);
        assert_eq!(len, update_len, "update BUs differ in length");
        frame.copy_from_slice(&buf[..len]);
    }
    let (t, c) = (Instant::now(), cpu_time());
    handle_each(
        &mut ha,
        now,
        &mut update_bus,
        update_len,
        "key update",
        |i, r| {
            let slot = is_sampled[i as usize];
            if slot != u32::MAX {
                records[slot as usize] = r.newest.clone();
            }
        },
    );
    let (t_update, c_update) = (t.elapsed(), cpu_time() - c);
    let rss4 = rss();
    drop(update_bus);
    // The first sampled MN's generations 1 and 2, for the MN key table of check_one_ba.
    let first = (
        generation_1[chosen[0] as usize].clone(),
        records[0]
            .clone()
            .expect("generation 2 of the first sampled MN"),
    );
    drop(generation_1);
    let c = ha.counters();
    assert_eq!(c.bu_accepted, 2 * n as u64, "every key update accepted");
    let approx_updated = ha.approx_state_bytes();

    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!("setup (on-CPU time of the bench thread; wall clock in brackets):");
    println!(
        "  config of N MNs         {:>8.3} s [{:.3} s] = {:.3} µs/MN",
        c_config.as_secs_f64(),
        t_config.as_secs_f64(),
        per(c_config)
    );
    println!(
        "  HomeAgent::new          {:>8.3} s [{:.3} s] = {:.3} µs/MN (init key schedule, 2 AES-GCM)",
        c_new.as_secs_f64(),
        t_new.as_secs_f64(),
        per(c_new)
    );
    println!(
        "  N registration BUs      {:>8.3} s [{:.3} s] = {:.3} µs/MN (MN side: init key, seal)",
        c_seal.as_secs_f64(),
        t_seal.as_secs_f64(),
        per(c_seal)
    );
    println!(
        "  N registrations at HA   {:>8.3} s [{:.3} s] = {:.3} µs/MN = {:.0} k/s (handle + drain)",
        c_register.as_secs_f64(),
        t_register.as_secs_f64(),
        per(c_register),
        n as f64 / c_register.as_secs_f64() / 1e3
    );
    println!(
        "  N key updates at HA     {:>8.3} s [{:.3} s] = {:.3} µs/MN = {:.0} k/s (handle + drain, generation 2 drawn)",
        c_update.as_secs_f64(),
        t_update.as_secs_f64(),
        per(c_update),
        n as f64 / c_update.as_secs_f64() / 1e3
    );
    println!("memory (resident set, /proc/self/statm):");
    println!(
        "  config (Vec<MnConfig>)  {:>9.1} MiB = {:.0} B/MN",
        mib(rss1 - rss0),
        (rss1 - rss0) as f64 / n as f64
    );
    println!(
        "  HomeAgent::new          {:>9.1} MiB = {:.0} B/MN (init SAs, indexes)",
        mib(rss2.saturating_sub(rss1)),
        rss2.saturating_sub(rss1) as f64 / n as f64
    );
    println!(
        "  N registrations         {:>9.1} MiB = {:.0} B/MN (generation 1, binding, timers)",
        mib(rss3.saturating_sub(rss2)),
        rss3.saturating_sub(rss2) as f64 / n as f64
    );
    println!(
        "  registered (init, N)    {:>9.1} MiB = {:.0} B/MN (target ≤ 512)",
        mib(rss3.saturating_sub(rss0)),
        rss3.saturating_sub(rss0) as f64 / n as f64
    );
    let update_delta = rss4.saturating_sub(rss3_freed);
    let updated = rss3.saturating_sub(rss0) + update_delta;
    println!(
        "  N key updates           {:>9.1} MiB = {:.0} B/MN (generation 2, 1 kept as anterior)",
        mib(update_delta),
        update_delta as f64 / n as f64
    );
    println!(
        "  updated (init, N-1, N)  {:>9.1} MiB = {:.0} B/MN (target ≤ 512)",
        mib(updated),
        updated as f64 / n as f64
    );
    println!(
        "  approx_state_bytes()    {:>9.1} MiB = {:.0} B/MN registered, {:.0} B/MN updated (engine state, heap blocks rounded)",
        mib(approx_updated as u64),
        approx_registered as f64 / n as f64,
        approx_updated as f64 / n as f64
    );

    // The MN side of the sampled MNs, from the HA's records.
    let sampled: Vec<Sampled> = chosen
        .iter()
        .zip(records)
        .map(|(&index, record)| {
            let r = record.expect("a record with generation 2 for every sampled MN");
            let newest = generation(index, r.generation, r.secret, r.spis);
            // Generation 2 is fresh (its ESP sequence starts at 1); BU sequence 2 was
            // the key update's.
            Sampled {
                index,
                newest,
                seq: 2,
            }
        })
        .collect();
    let mut s = Setup {
        ha,
        now: now + Duration::from_secs(1),
        sampled,
        rng,
    };
    check_one_ba(&mut s, first);
    s
}

/// One refresh of the first sampled MN, whose BA is opened at the kit's scripted MN
/// holding its keys (init, generation 1 as anterior, 2 as newest): status 0, sealed
/// under the anterior, the key the HA transmits with once the MN proved it holds 2.
fn check_one_ba(
    s: &mut Setup,
    (generation_1, generation_2): ((Secret32, SpiPair), mip6_ha::GenerationRecord),
) {
    let mn = &mut s.sampled[0];
    let home = hoa(mn.index);
    let mut scripted = ScriptedMn::new(&init_key(mn.index), COA);
    for (number, secret, spis) in [
        (1, generation_1.0, generation_1.1),
        (2, generation_2.secret, generation_2.spis),
    ] {
        scripted.install_key(&KeyMaterial::generation(
            home,
            number,
            secret,
            spis,
            Suite::Aes128Gcm,
        ));
    }
    mn.seq = mn.seq.wrapping_add(1);
    let mut buf = Vec::new();
    let len = seal_bu(mn.newest.outbound_mut(), home, mn.seq, &[], &mut buf);
    let r = s.ha.handle(s.now, &mut buf[..len]);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    let ba = stepper::drain(&mut s.ha, |_| {});
    let ba = scripted.open_ba(ba.into_iter().next().expect("a BA").frame);
    assert_eq!(ba.slot, Slot::Anterior);
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.sequence, mn.seq);
}

fn bench(c: &mut Criterion) {
    let mut s = setup();
    let mut group = c.benchmark_group("ha");
    group.throughput(Throughput::Elements(1));
    // CPU time is read at scheduler-tick granularity: ten equal samples of
    // measurement-time / 10 each keep that error near 1 %.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);

    // Steady-state BU → BA.
    let mut pool = BuPool {
        frames: Vec::new(),
        len: 0,
        next: 0,
        count: 0,
    };
    let accepted_before = s.ha.counters().bu_accepted;
    let mut handled = 0u64;
    // (wall-clock time, BUs) and CPU time over every iteration criterion ran.
    let mut wall = (Duration::ZERO, 0u64);
    let mut cpu = (Duration::ZERO,);
    group.bench_function("bu_ba", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if pool.remaining() == 0 {
                    pool.refill(&mut s.sampled, &mut s.rng);
                }
                let batch = left.min(pool.remaining() as u64);
                let started = Instant::now();
                total += cpu_iters(batch, || {
                    let frame = pool.take();
                    black_box(s.ha.handle(s.now, frame));
                    drain_encoding(&mut s.ha);
                });
                wall.0 += started.elapsed();
                left -= batch;
                handled += batch;
            }
            cpu.0 += total;
            wall.1 += iters;
            total
        });
    });
    print_rates("bu_ba", wall.1, cpu.0, wall.0);
    let mut wall = (Duration::ZERO, 0u64);
    let mut cpu = (Duration::ZERO,);
    // The same, the way a driver that reads frames in batches (recvmmsg) would run
    // it: `prefetch` on the next BATCH frames, then `handle` + drain each.
    group.bench_function("bu_ba_prefetch", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if pool.remaining() == 0 {
                    pool.refill(&mut s.sampled, &mut s.rng);
                }
                let batch = left.min(pool.remaining() as u64);
                let started = Instant::now();
                total += cpu_iters_batched(batch, BATCH, |k| {
                    s.ha.prefetch(pool.peek(k));
                    for _ in 0..k {
                        let frame = pool.take();
                        black_box(s.ha.handle(s.now, frame));
                        drain_encoding(&mut s.ha);
                    }
                });
                wall.0 += started.elapsed();
                left -= batch;
                handled += batch;
            }
            cpu.0 += total;
            wall.1 += iters;
            total
        });
    });
    print_rates("bu_ba_prefetch", wall.1, cpu.0, wall.0);
    let accepted = s.ha.counters().bu_accepted - accepted_before;
    println!(
        "bu_ba: {handled} refresh BUs handled, {accepted} accepted, {} BAs sent in all",
        s.ha.counters().ba_sent
    );
    assert_eq!(accepted, handled, "every refresh BU accepted");

    // Data toward and from one bound MN among the N.
    let mn_index = s.sampled[0].index;
    let home = hoa(mn_index);
    let toward = inner_packet(CN, home, INNER);
    let mut buf = data_buffer(&toward);
    group.bench_function("data_seal_1420", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, || {
                buf[DATA_HEADROOM..DATA_HEADROOM + INNER].copy_from_slice(&toward);
                let sealed = s.ha.seal_data(s.now, &mut buf, INNER).unwrap();
                while let Some(e) = s.ha.poll_event() {
                    black_box(e);
                }
                black_box(sealed);
            })
        });
    });

    let from = inner_packet(home, CN, INNER);
    let frame_len = data_buffer(&from).len();
    let mut data = vec![0u8; frame_len * DATA_POOL];
    let mut data_next = DATA_POOL;
    let received_before = s.ha.counters().data_received;
    let mut opened = 0u64;
    let mn = &mut s.sampled[0];
    let ep = TunnelEndpoints::new(COA, HA);
    group.bench_function("data_open_1420", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if data_next == DATA_POOL {
                    for f in data.chunks_exact_mut(frame_len) {
                        f[DATA_HEADROOM..DATA_HEADROOM + INNER].copy_from_slice(&from);
                        let n = frames::seal_data_in_place(
                            &ep,
                            mn.newest.outbound_mut(),
                            f,
                            INNER,
                            InnerOrigin::Local,
                        )
                        .unwrap();
                        assert_eq!(n, frame_len);
                    }
                    data_next = 0;
                }
                let batch = left.min((DATA_POOL - data_next) as u64);
                total += cpu_iters(batch, || {
                    let at = data_next * frame_len;
                    data_next += 1;
                    black_box(s.ha.handle(s.now, &mut data[at..at + frame_len]));
                    while let Some(e) = s.ha.poll_event() {
                        black_box(e);
                    }
                });
                left -= batch;
                opened += batch;
            }
            total
        });
    });
    let delivered = s.ha.counters().data_received - received_before;
    println!("data_open_1420: {opened} frames handled, {delivered} delivered");
    assert_eq!(delivered, opened, "every tunnelled frame delivered");

    // What expanding an SA's AES-GCM state on demand would cost (the memory proposal
    // in BENCHMARKS.md): AES-128 key schedule + GHASH key, boxed, as each SA does now.
    let key = SaKey::new(Suite::Aes128Gcm, &[7; 16], [1, 2, 3, 4]).unwrap();
    group.bench_function("aes128gcm_from_key", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, || {
                black_box(<AesGcmAead as EspAead>::from_key(black_box(&key)));
            })
        });
    });
    group.bench_function("aes128gcm_inline_from_key", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, || {
                black_box(<AesGcmInline as EspAead>::from_key(black_box(&key)));
            })
        });
    });
    group.finish();
    println!(
        "resident set at the end: {:.1} MiB; approx_state_bytes() {:.0} B/MN",
        mib(rss()),
        s.ha.approx_state_bytes() as f64 / mns_from_env() as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
