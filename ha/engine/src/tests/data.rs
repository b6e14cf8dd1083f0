//! The tunnel: HA → MN sealing, MN → HA checks (RFC 6275 §10.4).

use mip6_wire::esp;
use mip6_wire::frames::{self, Payload, DATA_HEADROOM};
use mip6_wire::keys::{GenerationId, RequestMode};
use mip6_wire::mh::KeyOption;

use super::harness::*;
use crate::{DataError, DropReason, Event, Received};

fn registered() -> (Ha, Mn) {
    let mut ha = ha(RequestMode::Explicit);
    let mut mn = Mn::new(&mn_config(HOA, 1));
    initialize(&mut ha, &mut mn, T0, RequestMode::Explicit);
    drain(&mut ha);
    (ha, mn)
}

fn downlink(
    ha: &mut Ha,
    dst: std::net::Ipv6Addr,
) -> (Result<crate::DataFrame, DataError>, Vec<u8>) {
    let inner = inner_packet(CN, dst, 64, b"to the mobile node");
    let mut buf = vec![0; DATA_HEADROOM + inner.len() + esp::trailer_len(inner.len())];
    buf[DATA_HEADROOM..DATA_HEADROOM + inner.len()].copy_from_slice(&inner);
    let r = ha.seal_data(T0 + secs(1), &mut buf, inner.len());
    (r, buf)
}

#[test]
fn data_frames_both_ways() {
    let (mut ha, mut mn) = registered();
    let (sealed, mut buf) = downlink(&mut ha, HOA);
    let sealed = sealed.unwrap();
    assert_eq!(sealed.destination, COA);
    let opened = frames::open(&mut buf[..sealed.len], &mut mn.keys).unwrap();
    let Payload::Tunnelled { header, .. } = opened.payload else {
        panic!("not tunnelled")
    };
    assert_eq!(header.dst_addr, HOA);
    assert_eq!(header.hop_limit, 63, "forwarded: hop limit decremented");
    assert_eq!(opened.frame.chain.ipv6.src_addr, HA);

    let mut up = mn.data(HOA, COA, b"from the mobile node");
    let Received::Delivered { inner, .. } = ha.handle(T0 + secs(2), &mut up) else {
        panic!("not delivered")
    };
    assert_eq!(&up[inner.start + 8..inner.start + 24], &HOA.octets());
    assert!(up[inner].ends_with(b"from the mobile node"));
    assert_eq!(ha.counters().data_received, 1);
    assert_eq!(ha.counters().data_sealed, 1);
    assert!(
        ha.keys(&HOA).unwrap().newest_confirmed,
        "data under newest confirms it"
    );
}

#[test]
fn data_under_the_new_generation_confirms_it() {
    let (mut ha, mut mn) = registered();
    let mut frame = mn.bu(&[KeyOption::KeyUpdateRequest]);
    ha.handle(T0 + secs(1), &mut frame);
    let ba = mn.open_ba(one_transmit(&mut ha));
    mn.install(&ba);
    assert!(!ha.keys(&HOA).unwrap().newest_confirmed);
    let mut up = mn.data(HOA, COA, b"x");
    assert!(matches!(
        ha.handle(T0 + secs(2), &mut up),
        Received::Delivered { .. }
    ));
    let v = ha.keys(&HOA).unwrap();
    assert!(v.newest_confirmed);
    assert_eq!(v.transmit, GenerationId::Number(1));
    assert!(drain(&mut ha)
        .iter()
        .any(|e| matches!(e, Event::Persist(r) if r.newest_confirmed)));
}

#[test]
fn spoofed_inner_source_and_wrong_care_of_are_dropped() {
    let (mut ha, mut mn) = registered();
    let mut spoofed = mn.data(HOA2, COA, b"x");
    assert_eq!(
        ha.handle(T0 + secs(1), &mut spoofed),
        Received::Dropped(DropReason::SpoofedInnerSource)
    );
    assert_eq!(ha.counters().attacks, 1);
    let mut elsewhere = mn.data(HOA, COA2, b"x");
    assert_eq!(
        ha.handle(T0 + secs(1), &mut elsewhere),
        Received::Dropped(DropReason::WrongCareOf)
    );
}

#[test]
fn seal_data_refuses_unknown_and_unbound_home_addresses() {
    let (mut ha, _) = registered();
    assert_eq!(
        downlink(&mut ha, CN).0,
        Err(DataError::UnknownHomeAddress(CN))
    );
    assert_eq!(downlink(&mut ha, HOA2).0, Err(DataError::NotBound(HOA2)));
    let mut short = [0u8; 10];
    assert!(matches!(
        ha.seal_data(T0, &mut short, 10),
        Err(DataError::TooShort { .. })
    ));
}
