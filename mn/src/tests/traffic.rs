//! The data plane (RFC 6275 §11.3.1) and drops.

use mip6_wire::esp;
use mip6_wire::frames::{self, Payload, DATA_HEADROOM};
use mip6_wire::keys::{RequestMode, Slot};

use super::harness::*;
use crate::{DataError, DropReason, Event, Received};

fn seal(mn: &mut crate::MobileNode, inner: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut buf = vec![0; DATA_HEADROOM + inner.len() + esp::trailer_len(inner.len())];
    buf[DATA_HEADROOM..DATA_HEADROOM + inner.len()].copy_from_slice(inner);
    let frame = mn.seal_data(T0, &mut buf, inner.len())?;
    assert_eq!(frame.destination, HA);
    buf.truncate(frame.len);
    Ok(buf)
}

#[test]
fn data_crosses_the_tunnel_both_ways_with_the_right_keys() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = Ha::new();
    let inner = inner_packet(HOA, CN, b"up the tunnel");
    assert_eq!(seal(&mut mn, &inner), Err(DataError::NotAway));
    register(&mut mn, &mut ha, T0);
    drain(&mut mn);

    let mut up = seal(&mut mn, &inner).unwrap();
    let (events, _) = drain(&mut mn);
    assert!(
        matches!(&events[..], [Event::Persist(r)] if r.newest.as_ref().unwrap().outbound_mark == 1025),
        "the first data frame under generation 1 reserves a block: {events:?}"
    );
    assert_eq!(&up[8..24], &COA.octets(), "outer source: the CoA");
    assert_eq!(&up[24..40], &HA.octets());
    let opened = frames::open(&mut up, &mut ha.table).unwrap();
    assert_eq!(
        opened.slot,
        Slot::Newest,
        "sealed with the node's newest key"
    );
    assert_eq!(opened.frame.spi, 0x3002);
    let Payload::Tunnelled { header, packet } = opened.payload else {
        panic!("tunnelled")
    };
    assert_eq!(header.src_addr, HOA);
    assert_eq!(&up[packet], &inner[..]);

    let down_inner = inner_packet(CN, HOA, b"down the tunnel");
    let mut down = ha.seal_data(COA, &down_inner);
    let Received::Delivered { inner } = mn.handle(T0, &mut down) else {
        panic!("delivered")
    };
    assert_eq!(&down[inner.start + 8..inner.end], &down_inner[8..]);
    assert_eq!(down[inner.start + 7], 63, "the HA forwarded it");
    assert_eq!(mn.counters().data_delivered, 1);
    assert_eq!(mn.counters().data_sealed, 1);
}

#[test]
fn wrong_inner_addresses_are_refused() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = Ha::new();
    register(&mut mn, &mut ha, T0);
    let mut down = ha.seal_data(COA, &inner_packet(CN, COA2, b"not for us"));
    assert_eq!(
        mn.handle(T0, &mut down),
        Received::Dropped(DropReason::WrongInnerDestination)
    );
    assert_eq!(mn.counters().dropped(DropReason::WrongInnerDestination), 1);
    assert_eq!(
        seal(&mut mn, &inner_packet(CN, HOA, b"spoofed")),
        Err(DataError::WrongInnerSource(CN))
    );
}

#[test]
fn junk_and_foreign_frames_are_dropped_and_counted() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = Ha::new();
    register(&mut mn, &mut ha, T0);
    let mut junk = vec![0x60; 30];
    assert_eq!(
        mn.handle(T0, &mut junk),
        Received::Dropped(DropReason::Malformed)
    );
    let mut down = ha.seal_data(COA, &inner_packet(CN, HOA, b"x"));
    down[8..24].copy_from_slice(&CN.octets());
    assert_eq!(
        mn.handle(T0, &mut down),
        Received::Dropped(DropReason::WrongSource)
    );
    let mut down = ha.seal_data(COA, &inner_packet(CN, HOA, b"x"));
    let last = down.len() - 1;
    down[last] ^= 1;
    assert_eq!(
        mn.handle(T0, &mut down),
        Received::Dropped(DropReason::Integrity)
    );
    assert_eq!(mn.counters().dropped_total(), 3);
}
