//! The tunnel: HA → MN sealing, MN → HA checks (RFC 6275 §10.4).

use mip6_wire::frames::{self, Payload};
use mip6_wire::keys::GenerationId;
use mip6_wire::mh::KeyOption;

use super::harness::*;
use crate::{DataError, DropReason, Event, Received};

fn downlink(
    ha: &mut Ha,
    dst: std::net::Ipv6Addr,
) -> (Result<crate::DataFrame, DataError>, Vec<u8>) {
    let inner = udp_packet(CN, dst, b"to the mobile node");
    let mut buf = data_buffer(&inner);
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
    let ba = mn.open_ba(one_ba(&mut ha));
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
    assert!(take_events(&mut ha)
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
