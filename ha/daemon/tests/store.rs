//! The home agent's records in the state store: round trips through redb,
//! replacement, batching, the "stateless" mode keeping no secret, the encoding's
//! robustness. The backend's own properties (file mode, crash safety, compare-and-set)
//! are tested once for both daemons in `daemon/tests/store.rs`.

use std::net::Ipv6Addr;
use std::path::Path;

use mip6_daemon::store::complete_now as done;
use mip6_ha::binding::BindingView;
use mip6_ha::{GenerationRecord, MnRecord};
use mip6_ha_daemon::store::{
    self, decode_record, encode_record, DecodeError, Persistence, FILE_NAME, RECORD_LEN,
};
use mip6_wire::esp::{Spi, Suite};
use mip6_wire::keys::SpiPair;
use mip6_wire::mh::SequenceNumber;
use mip6_wire::{Secret32, Time};
use proptest::prelude::*;

/// A recognisable secret: 32 octets no other field produces.
fn secret(tag: u8) -> [u8; 32] {
    let mut s = [0xA5; 32];
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

fn hoa(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, n)
}

/// A registered MN mid key update: binding, confirmed N and N−1, init marks.
fn full_record(n: u16) -> MnRecord {
    MnRecord {
        home_address: hoa(n),
        binding: Some(BindingView {
            care_of_address: Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, n),
            sequence: SequenceNumber(0xfffe),
            lifetime_secs: 600,
            expires_at: Time::from_micros(1_764_000_000_123_456),
        }),
        newest: Some(GenerationRecord {
            generation: 7,
            secret: Secret32::new(secret(0x17)),
            spis: spis(0x1000_0007, 0x2000_0007),
            suite: Suite::Aes256Gcm,
            outbound_mark: 1 << 40,
            inbound_top: u32::MAX,
        }),
        anterior: Some(GenerationRecord {
            generation: 6,
            secret: Secret32::new(secret(0x16)),
            spis: spis(0x1000_0006, 0x2000_0006),
            suite: Suite::Aes128Gcm,
            outbound_mark: 4096,
            inbound_top: 77,
        }),
        newest_confirmed: true,
        init_outbound_mark: 8192,
        init_inbound_top: 12,
        last_init_timestamp: Some(0xE8E1_0000_8000_0000),
    }
}

/// The same MN before its first key update: one unconfirmed generation, no anterior.
fn first_key_record(n: u16) -> MnRecord {
    MnRecord {
        anterior: None,
        newest_confirmed: false,
        last_init_timestamp: None,
        ..full_record(n)
    }
}

#[test]
fn round_trip_through_the_database_and_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let records = [
        full_record(1),
        first_key_record(2),
        MnRecord::empty(hoa(3)),
        full_record(3).durable_minimum(),
    ];
    {
        let store = store::open(dir.path(), Persistence::Full).unwrap();
        assert!(done(store.load_all()).unwrap().is_empty());
        for r in &records[..3] {
            done(store.put(r)).unwrap();
        }
        // hoa(3) is replaced by its durable minimum: the last put wins.
        done(store.put(&records[3])).unwrap();
    }
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    let loaded = done(store.load_all()).unwrap();
    assert_eq!(
        loaded,
        vec![records[0].clone(), records[1].clone(), records[3].clone()]
    );
    assert!(done(store.remove(&hoa(2).octets())).unwrap());
    assert!(!done(store.remove(&hoa(2).octets())).unwrap());
    assert_eq!(done(store.load_all()).unwrap().len(), 2);
}

#[test]
fn put_many_stores_every_record_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    let records: Vec<MnRecord> = (1..=50).map(full_record).collect();
    done(store.put_many(&records)).unwrap();
    drop(store);
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    assert_eq!(done(store.load_all()).unwrap(), records);
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
        done(store.put(&full_record(1))).unwrap();
        done(store.put_many(&[full_record(2), first_key_record(3)])).unwrap();
    }
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    let loaded = done(store.load_all()).unwrap();
    for r in &loaded {
        assert!(r.newest.is_none() && r.anterior.is_none(), "{r:?}");
        assert!(r.binding.is_none());
    }
    let want: Vec<MnRecord> = [full_record(1), full_record(2), first_key_record(3)]
        .iter()
        .map(MnRecord::durable_minimum)
        .collect();
    assert_eq!(loaded, want);
    drop(store);
    // Not on disk either, not even in a stale page.
    assert!(!file_contains(dir.path(), &secret(0x17)));
    assert!(!file_contains(dir.path(), &secret(0x16)));
}

/// The same test's control: in Full mode the secret is on disk, so the scan above
/// can find one.
#[test]
fn full_mode_stores_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(dir.path(), Persistence::Full).unwrap();
    done(store.put(&full_record(1))).unwrap();
    drop(store);
    assert!(file_contains(dir.path(), &secret(0x17)));
}

#[test]
fn encoding_layout_is_the_documented_one() {
    let r = full_record(1);
    let bytes = encode_record(&r);
    assert_eq!(bytes.len(), RECORD_LEN);
    assert_eq!(bytes[0], 1, "version");
    assert_eq!(&bytes[1..17], &hoa(1).octets());
    assert_eq!(bytes[17], 1, "binding present");
    assert_eq!(&bytes[34..36], &[0xff, 0xfe], "BU sequence");
    assert_eq!(&bytes[36..40], &600u32.to_be_bytes());
    assert_eq!(bytes[48], 1, "newest present");
    assert_eq!(&bytes[49..53], &7u32.to_be_bytes());
    assert_eq!(&bytes[53..85], &secret(0x17));
    assert_eq!(&bytes[85..89], &0x1000_0007u32.to_be_bytes());
    assert_eq!(&bytes[89..93], &0x2000_0007u32.to_be_bytes());
    assert_eq!(bytes[93], 2, "AES-256-GCM");
    assert_eq!(&bytes[94..102], &(1u64 << 40).to_be_bytes());
    assert_eq!(&bytes[102..106], &u32::MAX.to_be_bytes());
    assert_eq!(bytes[106], 1, "anterior present");
    assert_eq!(bytes[164], 1, "newest confirmed");
    assert_eq!(&bytes[165..173], &8192u64.to_be_bytes());
    assert_eq!(&bytes[173..177], &12u32.to_be_bytes());
    assert_eq!(bytes[177], 1);
    assert_eq!(&bytes[178..186], &0xE8E1_0000_8000_0000u64.to_be_bytes());

    // Absent options are a zero presence byte and zero filler.
    let empty = encode_record(&MnRecord::empty(hoa(1)));
    assert!(empty[17..].iter().all(|&b| b == 0));
}

#[test]
fn decoding_rejects_each_kind_of_corruption() {
    let good = encode_record(&first_key_record(1));
    assert_eq!(decode_record(&good).unwrap(), first_key_record(1));
    assert_eq!(decode_record(&[]), Err(DecodeError::Empty));
    let mut v = good;
    v[0] = 2;
    assert_eq!(decode_record(&v), Err(DecodeError::UnknownVersion(2)));
    for len in 1..RECORD_LEN {
        assert_eq!(
            decode_record(&good[..len]),
            Err(DecodeError::Length {
                expected: RECORD_LEN,
                actual: len
            })
        );
    }
    let mut long = good.to_vec();
    long.push(0);
    assert!(matches!(
        decode_record(&long),
        Err(DecodeError::Length { .. })
    ));
    let mut v = good;
    v[17] = 2;
    assert_eq!(
        decode_record(&v),
        Err(DecodeError::BadFlag {
            offset: 17,
            value: 2
        })
    );
    let mut v = good;
    v[93] = 3;
    assert_eq!(
        decode_record(&v),
        Err(DecodeError::UnknownSuite {
            offset: 93,
            code: 3
        })
    );
    let mut v = good;
    v[85..89].copy_from_slice(&255u32.to_be_bytes());
    assert_eq!(
        decode_record(&v),
        Err(DecodeError::ReservedSpi {
            offset: 85,
            spi: 255
        })
    );
    // The anterior is absent in `good`: a stray byte in its filler is corruption.
    let mut v = good;
    v[140] = 1;
    assert_eq!(
        decode_record(&v),
        Err(DecodeError::NonZeroFiller { offset: 107 })
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
        any::<u32>(),
    )
        .prop_map(
            |(generation, s, a, b, big, outbound_mark, inbound_top)| GenerationRecord {
                generation,
                secret: Secret32::new(s),
                spis: spis(a, b),
                suite: if big {
                    Suite::Aes256Gcm
                } else {
                    Suite::Aes128Gcm
                },
                outbound_mark,
                inbound_top,
            },
        )
}

fn arb_record() -> impl Strategy<Value = MnRecord> {
    let binding = (any::<[u8; 16]>(), any::<u16>(), any::<u32>(), any::<u64>()).prop_map(
        |(coa, seq, lifetime_secs, t)| BindingView {
            care_of_address: Ipv6Addr::from(coa),
            sequence: SequenceNumber(seq),
            lifetime_secs,
            expires_at: Time::from_micros(t),
        },
    );
    (
        any::<[u8; 16]>(),
        proptest::option::of(binding),
        proptest::option::of(arb_generation()),
        proptest::option::of(arb_generation()),
        any::<bool>(),
        any::<u64>(),
        any::<u32>(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(
            |(h, binding, newest, anterior, confirmed, mark, top, ts)| MnRecord {
                home_address: Ipv6Addr::from(h),
                binding,
                newest,
                anterior,
                newest_confirmed: confirmed,
                init_outbound_mark: mark,
                init_inbound_top: top,
                last_init_timestamp: ts,
            },
        )
}

proptest! {
    #[test]
    fn record_encode_decode_round_trips(r in arb_record()) {
        prop_assert_eq!(decode_record(&encode_record(&r)), Ok(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
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

#[test]
fn a_row_under_another_home_address_is_refused() {
    use mip6_daemon::store::RecordCodec;
    use mip6_ha_daemon::store::HaRecords;
    let r = full_record(1);
    let value = HaRecords::encode(&r);
    assert_eq!(HaRecords::key(&r), hoa(1).octets());
    assert_eq!(HaRecords::decode(&hoa(1).octets(), &value), Ok(r));
    assert_eq!(
        HaRecords::decode(&hoa(2).octets(), &value),
        Err(DecodeError::KeyMismatch {
            home_address: hoa(1)
        })
    );
}
