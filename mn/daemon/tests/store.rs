//! The mobile node's record in the state store: round trips (including a record the
//! real engine emitted), the "stateless" mode keeping no secret, the encoding's
//! robustness. The backend's own properties (file mode, crash safety, compare-and-set)
//! are tested once for both daemons in `daemon/tests/store.rs`.

use std::path::Path;

use mip6_daemon::store::complete_now as done;
use mip6_mn::{Event, GenerationRecord, MnConfig, MnRecord, MobileNode};
use mip6_mn_daemon::store::{
    self, decode_record, durable_minimum, encode_record, DecodeError, Persistence, FILE_NAME,
    RECORD_LEN,
};
use mip6_wire::esp::{Spi, Suite};
use mip6_wire::keys::SpiPair;
use mip6_wire::mh::SequenceNumber;
use mip6_wire::{Secret32, Time};
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// A recognisable secret: 32 octets no other field produces.
fn secret(tag: u8) -> [u8; 32] {
    let mut s = [0x5A; 32];
    s[0] = tag;
    s[31] = tag;
    s
}

fn spis(mn_to_ha: u32, ha_to_mn: u32) -> SpiPair {
    SpiPair {
        mn_to_ha: Spi::new(mn_to_ha).unwrap(),
        ha_to_mn: Spi::new(ha_to_mn).unwrap(),
    }
}

/// A node mid key update: N and N−1 held, marks well past their first blocks.
fn full_record() -> MnRecord {
    MnRecord {
        init_outbound_mark: 8192,
        newest: Some(GenerationRecord {
            generation: 7,
            secret: Secret32::new(secret(0x27)),
            spis: spis(0x1000_0007, 0x2000_0007),
            suite: Suite::Aes256Gcm,
            outbound_mark: 1 << 40,
        }),
        anterior: Some(GenerationRecord {
            generation: 6,
            secret: Secret32::new(secret(0x26)),
            spis: spis(0x1000_0006, 0x2000_0006),
            suite: Suite::Aes128Gcm,
            outbound_mark: 4096,
        }),
        bu_sequence_mark: SequenceNumber(0xfff0),
    }
}

/// The record the real engine persists when it first leaves home.
fn engine_record() -> MnRecord {
    let config = MnConfig::new(
        "2001:db8:1::1".parse().unwrap(),
        "2001:db8:1::100".parse().unwrap(),
        Secret32::new([0x11; 32]),
        spis(0x1111_0000, 0x2222_0000),
    );
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let now = Time::from_secs(1_764_000_000);
    let mut node = MobileNode::new(config, &mut rng, now, None);
    node.set_care_of_address(now, Some("2001:db8:2::100".parse().unwrap()));
    let mut persisted = None;
    while let Some(event) = node.poll_event() {
        if let Event::Persist(r) = event {
            persisted = Some(r);
        }
    }
    persisted.expect("sending the first BU reserves sequence numbers: a Persist event")
}

#[test]
fn round_trip_through_the_database_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let from_engine = engine_record();
    {
        let store = store::open(dir.path(), Persistence::Full).unwrap();
        assert_eq!(done(store::load(&store)).unwrap(), None);
        done(store.put(&full_record())).unwrap();
        assert_eq!(done(store::load(&store)).unwrap(), Some(full_record()));
        // The last put replaces the record.
        done(store.put(&from_engine)).unwrap();
    }
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    assert_eq!(
        done(store::load(&store)).unwrap(),
        Some(from_engine.clone())
    );

    // A node restarted from the stored record takes up its marks.
    let config = MnConfig::new(
        "2001:db8:1::1".parse().unwrap(),
        "2001:db8:1::100".parse().unwrap(),
        Secret32::new([0x11; 32]),
        spis(0x1111_0000, 0x2222_0000),
    );
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let node = MobileNode::new(
        config,
        &mut rng,
        Time::from_secs(1_764_000_100),
        done(store::load(&store)).unwrap(),
    );
    assert_eq!(
        node.record().init_outbound_mark,
        from_engine.init_outbound_mark
    );
    assert_eq!(node.record().bu_sequence_mark, from_engine.bu_sequence_mark);

    assert!(done(store.remove(store::KEY)).unwrap());
    assert!(!done(store.remove(store::KEY)).unwrap());
    assert_eq!(done(store::load(&store)).unwrap(), None);
}

#[test]
fn put_many_keeps_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    let mut later = full_record();
    later.init_outbound_mark += 4096;
    done(store.put_many(&[full_record(), later.clone()])).unwrap();
    drop(store);
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    assert_eq!(done(store::load(&store)).unwrap(), Some(later));
}

/// Whether `needle` occurs in the database file.
fn file_contains(dir: &Path, needle: &[u8]) -> bool {
    let bytes = std::fs::read(dir.join(FILE_NAME)).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn durable_minimum_mode_never_stores_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = store::open(dir.path(), Persistence::DurableMinimum).unwrap();
        assert_eq!(store.mode(), Persistence::DurableMinimum);
        done(store.put(&full_record())).unwrap();
        done(store.put_many(&[full_record(), full_record()])).unwrap();
    }
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    let loaded = done(store::load(&store)).unwrap().unwrap();
    assert!(loaded.newest.is_none() && loaded.anterior.is_none());
    assert_eq!(loaded, durable_minimum(&full_record()));
    assert_eq!(loaded.init_outbound_mark, 8192);
    assert_eq!(loaded.bu_sequence_mark, SequenceNumber(0xfff0));
    drop(store);
    assert!(!file_contains(dir.path(), &secret(0x27)));
    assert!(!file_contains(dir.path(), &secret(0x26)));
}

/// Control for the scan above: in Full mode the secret is on disk.
#[test]
fn full_mode_stores_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    done(store.put(&full_record())).unwrap();
    drop(store);
    assert!(file_contains(dir.path(), &secret(0x27)));
}

#[test]
fn encoding_layout_is_the_documented_one() {
    let bytes = encode_record(&full_record());
    assert_eq!(bytes.len(), RECORD_LEN);
    assert_eq!(bytes[0], 1, "version");
    assert_eq!(&bytes[1..9], &8192u64.to_be_bytes());
    assert_eq!(bytes[9], 1, "newest present");
    assert_eq!(&bytes[10..14], &7u32.to_be_bytes());
    assert_eq!(&bytes[14..46], &secret(0x27));
    assert_eq!(&bytes[46..50], &0x1000_0007u32.to_be_bytes());
    assert_eq!(&bytes[50..54], &0x2000_0007u32.to_be_bytes());
    assert_eq!(bytes[54], 2, "AES-256-GCM");
    assert_eq!(&bytes[55..63], &(1u64 << 40).to_be_bytes());
    assert_eq!(bytes[63], 1, "anterior present");
    assert_eq!(&bytes[68..100], &secret(0x26));
    assert_eq!(bytes[108], 1, "AES-128-GCM");
    assert_eq!(&bytes[117..119], &[0xff, 0xf0]);

    let minimum = encode_record(&durable_minimum(&full_record()));
    assert!(minimum[9..117].iter().all(|&b| b == 0));
}

#[test]
fn decoding_rejects_each_kind_of_corruption() {
    let mut one = full_record();
    one.anterior = None;
    let good = encode_record(&one);
    assert_eq!(decode_record(&good).unwrap(), one);
    assert_eq!(decode_record(&[]), Err(DecodeError::Empty));
    let mut v = good;
    v[0] = 0;
    assert_eq!(decode_record(&v), Err(DecodeError::UnknownVersion(0)));
    for len in 1..RECORD_LEN {
        assert_eq!(
            decode_record(&good[..len]),
            Err(DecodeError::Length {
                expected: RECORD_LEN,
                actual: len
            })
        );
    }
    let mut v = good;
    v[9] = 0xff;
    assert_eq!(
        decode_record(&v),
        Err(DecodeError::BadFlag {
            offset: 9,
            value: 0xff
        })
    );
    let mut v = good;
    v[54] = 0;
    assert_eq!(
        decode_record(&v),
        Err(DecodeError::UnknownSuite {
            offset: 54,
            code: 0
        })
    );
    let mut v = good;
    v[50..54].copy_from_slice(&0u32.to_be_bytes());
    assert_eq!(
        decode_record(&v),
        Err(DecodeError::ReservedSpi { offset: 50, spi: 0 })
    );
    let mut v = good;
    v[116] = 1;
    assert_eq!(
        decode_record(&v),
        Err(DecodeError::NonZeroFiller { offset: 64 })
    );
}

fn arb_generation() -> impl Strategy<Value = GenerationRecord> {
    (
        any::<u32>(),
        any::<[u8; 32]>(),
        256u32..,
        256u32..,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(generation, s, a, b, big, outbound_mark)| GenerationRecord {
                generation,
                secret: Secret32::new(s),
                spis: spis(a, b),
                suite: if big {
                    Suite::Aes256Gcm
                } else {
                    Suite::Aes128Gcm
                },
                outbound_mark,
            },
        )
}

fn arb_record() -> impl Strategy<Value = MnRecord> {
    (
        any::<u64>(),
        proptest::option::of(arb_generation()),
        proptest::option::of(arb_generation()),
        any::<u16>(),
    )
        .prop_map(|(init_outbound_mark, newest, anterior, bu)| MnRecord {
            init_outbound_mark,
            newest,
            anterior,
            bu_sequence_mark: SequenceNumber(bu),
        })
}

proptest! {
    #[test]
    fn record_encode_decode_round_trips(r in arb_record()) {
        prop_assert_eq!(decode_record(&encode_record(&r)), Ok(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_record(&bytes);
    }

    #[test]
    fn mutated_records_never_panic(r in arb_record(), at in 0..RECORD_LEN, b in any::<u8>()) {
        let mut bytes = encode_record(&r);
        bytes[at] = b;
        if let Ok(back) = decode_record(&bytes) {
            // Whatever decodes re-encodes to the same bytes: the encoding is canonical.
            prop_assert_eq!(encode_record(&back), bytes);
        }
    }
}
