//! The data plane (RFC 6275 §11.3.1) and drops.

use mip6_wire::frames::{self, Payload};
use mip6_wire::keys::{RequestMode, Slot};

use super::harness::*;
use crate::{DataError, DropReason, Event, Received};

fn seal(mn: &mut crate::MobileNode, inner: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut buf = data_buffer(inner);
    let frame = mn.seal_data(T0, &mut buf, inner.len())?;
    assert_eq!(frame.destination, HA);
    buf.truncate(frame.len);
    Ok(buf)
}

#[test]
fn data_crosses_the_tunnel_both_ways_with_the_right_keys() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    let inner = udp_packet(HOA, CN, b"up the tunnel");
    assert_eq!(seal(&mut mn, &inner), Err(DataError::NotAway));
    register(&mut mn, &mut ha, T0);
    take_all(&mut mn);

    let mut up = seal(&mut mn, &inner).unwrap();
    let (events, _) = take_all(&mut mn);
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

    let down_inner = udp_packet(CN, HOA, b"down the tunnel");
    let mut down = ha.seal_data(COA, &down_inner);
    let Received::Delivered { inner, .. } = mn.handle(T0, &mut down) else {
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
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    let mut down = ha.seal_data(COA, &udp_packet(CN, COA2, b"not for us"));
    assert_eq!(
        mn.handle(T0, &mut down),
        Received::Dropped(DropReason::WrongInnerDestination)
    );
    assert_eq!(mn.counters().dropped(DropReason::WrongInnerDestination), 1);
    assert_eq!(
        seal(&mut mn, &udp_packet(CN, HOA, b"spoofed")),
        Err(DataError::WrongInnerSource(CN))
    );
}

#[test]
fn junk_and_foreign_frames_are_dropped_and_counted() {
    let mut mn = node(RequestMode::Explicit);
    let mut ha = home_agent();
    register(&mut mn, &mut ha, T0);
    let mut junk = vec![0x60; 30];
    assert_eq!(
        mn.handle(T0, &mut junk),
        Received::Dropped(DropReason::Malformed)
    );
    let mut down = ha.seal_data(COA, &udp_packet(CN, HOA, b"x"));
    down[8..24].copy_from_slice(&CN.octets());
    assert_eq!(
        mn.handle(T0, &mut down),
        Received::Dropped(DropReason::WrongSource)
    );
    let mut down = ha.seal_data(COA, &udp_packet(CN, HOA, b"x"));
    let last = down.len() - 1;
    down[last] ^= 1;
    assert_eq!(
        mn.handle(T0, &mut down),
        Received::Dropped(DropReason::Integrity)
    );
    assert_eq!(mn.counters().dropped_total(), 3);
}

mod robustness {
    use super::*;
    use mip6_wire::mh::KeyOption;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bytes never panic and never move keys or the registration.
        #[test]
        fn arbitrary_frames_are_dropped(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut mn = node(RequestMode::Explicit);
            mn.set_care_of_address(T0, Some(COA));
            let before = (mn.keys(), mn.registration());
            let r = mn.handle(T0, &mut bytes);
            prop_assert!(matches!(r, Received::Dropped(_)));
            prop_assert_eq!((mn.keys(), mn.registration()), before);
        }

        /// A valid BA with one octet flipped anywhere never panics and, unless the
        /// flip is outside what ESP and the MH checksum protect and changes nothing
        /// that matters, is dropped without moving keys.
        #[test]
        fn flipped_bas_move_nothing(at in 0usize..400, bit in 0u8..8) {
            let mut mn = node(RequestMode::Explicit);
            let mut ha = home_agent();
            mn.set_care_of_address(T0, Some(COA));
            let bu = ha.open_bu(&one_bu(&mut mn));
            let kd = ha.initialize(1);
            let mut ba = ha.ba(&bu, &[KeyOption::KeyDistribution(kd), bu.key.clone().unwrap()]);
            let at = at % ba.len();
            ba[at] ^= 1 << bit;
            match mn.handle(T0, &mut ba) {
                Received::Consumed { .. } => {
                    // Only octets outside ESP's and the MH checksum's protection that
                    // the MN does not check may flip harmlessly: version/traffic
                    // class/flow label/hop limit, the outer destination (the BA may
                    // reach an older care-of address; RH2 carries the HoA), and the
                    // RH2's Reserved field (ignored on receipt, RFC 6275 §6.4.1).
                    let harmless = at < 8 || (24..40).contains(&at) || (44..48).contains(&at);
                    prop_assert!(harmless, "flip at {} accepted", at);
                    prop_assert_eq!(mn.keys().newest, Some(1));
                }
                Received::Dropped(_) => prop_assert_eq!(mn.keys().newest, None),
                Received::Delivered { .. } => prop_assert!(false, "a BA delivered data"),
            }
        }
    }
}
