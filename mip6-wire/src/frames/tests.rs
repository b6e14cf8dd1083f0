//! Frames built by one end and opened by the other, with real keys from the key
//! schedule; layouts checked octet by octet where RFC 6275 fixes them.

use core::net::Ipv6Addr;

use super::*;
use crate::esp::{self, Spi, Suite};
use crate::ext::NextHeader;
use crate::keys::{Generation, GenerationId, KeyTable, Role, Slot, SpiPair};
use crate::mh::{
    BaFlags, BaStatus, BindingAckRepr, BindingUpdateRepr, BuFlags, KeyDistribution, KeyOption,
    Message, MobilityOption, SequenceNumber, DEFAULT_VENDOR_ID,
};
use crate::tunnel::InnerOrigin;
use crate::Secret32;

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);

fn init_generation(role: Role) -> Generation {
    Generation::derive(
        role,
        GenerationId::Init,
        Secret32::new([0x42; 32]),
        &HOA,
        SpiPair {
            mn_to_ha: Spi::new(0x1001).unwrap(),
            ha_to_mn: Spi::new(0x2001).unwrap(),
        },
        Suite::Aes128Gcm,
    )
}

fn pair() -> (KeyTable, KeyTable) {
    (
        KeyTable::new(Role::HomeAgent, init_generation(Role::HomeAgent)),
        KeyTable::new(Role::MobileNode, init_generation(Role::MobileNode)),
    )
}

fn bu() -> BindingUpdateRepr {
    BindingUpdateRepr {
        sequence: SequenceNumber(7),
        flags: BuFlags::A | BuFlags::H,
        lifetime: 150,
    }
}

fn seal_bu(mn: &mut KeyTable, options: &[MobilityOption<'_>], buf: &mut [u8]) -> usize {
    let frame = BindingUpdateFrame::new(COA, HA, HOA, bu(), options);
    let slot = mn.transmit_slot();
    let sa = mn.get_mut(slot).unwrap().outbound_mut();
    let len = frame.seal(sa, buf).unwrap();
    assert_eq!(len, frame.buffer_len().unwrap());
    len
}

#[test]
fn bu_layout_is_ipv6_destopts_hoa_esp() {
    let (_, mut mn) = pair();
    let mut buf = [0xFF; 256];
    let len = seal_bu(&mut mn, &[], &mut buf);
    let f = &buf[..len];
    assert_eq!(f[0] >> 4, 6);
    assert_eq!(usize::from(u16::from_be_bytes([f[4], f[5]])), len - 40);
    assert_eq!(f[6], 60, "next header: Destination Options");
    assert_eq!(&f[8..24], &COA.octets());
    assert_eq!(&f[24..40], &HA.octets());
    // Destination Options: next header ESP, length 2 (24 octets), PadN(2), HoA at 8n+6.
    assert_eq!(&f[40..46], &[50, 2, 1, 2, 0, 0]);
    assert_eq!(&f[46..48], &[0xC9, 16]);
    assert_eq!(&f[48..64], &HOA.octets());
    assert_eq!(
        &f[64..68],
        &0x1001u32.to_be_bytes(),
        "SPI of the init MN→HA SA"
    );
    assert_eq!(&f[68..72], &1u32.to_be_bytes(), "first sequence number");
    assert_eq!(
        &f[72..80],
        &1u64.to_be_bytes(),
        "IV = 64-bit sequence number"
    );
}

#[test]
fn bu_opens_at_the_home_agent_with_checksum_over_the_home_address() {
    let (mut ha, mut mn) = pair();
    let key_update = KeyOption::KeyUpdateRequest.encode();
    let options = [key_update.to_option(DEFAULT_VENDOR_ID)];
    let mut buf = [0; 256];
    let len = seal_bu(&mut mn, &options, &mut buf);
    let opened = open(&mut buf[..len], &mut ha).unwrap();
    assert_eq!(opened.slot, Slot::Init);
    assert_eq!(opened.seq, 1);
    assert_eq!(opened.frame.chain.home_address, Some(HOA));
    assert_eq!(opened.frame.chain.ipv6.src_addr, COA);
    let Payload::Signalling(mh) = opened.payload else {
        panic!("not signalling: {:?}", opened.payload)
    };
    assert_eq!(mh.message, Message::BindingUpdate(bu()));
    let got: Vec<_> = mh
        .options()
        .map(Result::unwrap)
        .filter(|o| !matches!(o, MobilityOption::Pad1 | MobilityOption::PadN(_)))
        .collect();
    assert_eq!(got[0], MobilityOption::AlternateCareOfAddress(COA));
    assert_eq!(
        KeyOption::from_option(&got[1], DEFAULT_VENDOR_ID).unwrap(),
        Some(KeyOption::KeyUpdateRequest)
    );
    assert_eq!(got.len(), 2);
}

#[test]
fn ba_with_key_distribution_opens_at_the_mobile_node() {
    let (mut ha, mut mn) = pair();
    let distribution = KeyOption::KeyDistribution(KeyDistribution {
        generation: 1,
        spi_mn_to_ha: 0x1002,
        spi_ha_to_mn: 0x2002,
        suite: Suite::Aes256Gcm,
        lifetime_secs: 600,
        secret: Secret32::new([9; 32]),
    });
    let body = distribution.encode();
    let options = [body.to_option(DEFAULT_VENDOR_ID)];
    let ack = BindingAckRepr {
        status: BaStatus::from(0),
        flags: BaFlags(0),
        sequence: SequenceNumber(7),
        lifetime: 150,
    };
    let frame = BindingAckFrame::new(HA, COA, HOA, ack, &options);
    let mut buf = [0xFF; 512];
    let slot = ha.transmit_slot();
    assert_eq!(
        slot,
        Slot::Init,
        "right after start the HA transmits with init"
    );
    let len = frame
        .seal(ha.get_mut(slot).unwrap().outbound_mut(), &mut buf)
        .unwrap();
    assert_eq!(len, frame.buffer_len().unwrap());
    // RH2 right after the IPv6 header: next ESP, len 2, type 2, segments left 1.
    assert_eq!(buf[6], 43);
    assert_eq!(&buf[40..44], &[50, 2, 2, 1]);
    assert_eq!(&buf[48..64], &HOA.octets());
    assert_eq!(&buf[64..68], &0x2001u32.to_be_bytes());

    let opened = open(&mut buf[..len], &mut mn).unwrap();
    assert_eq!(opened.frame.chain.rh2, Some(HOA));
    let Payload::Signalling(mh) = opened.payload else {
        panic!("not signalling")
    };
    assert_eq!(mh.message, Message::BindingAck(ack));
    let keys: Vec<_> = mh
        .options()
        .filter_map(|o| KeyOption::from_option(&o.unwrap(), DEFAULT_VENDOR_ID).unwrap())
        .collect();
    assert_eq!(keys, vec![distribution]);
}

#[test]
fn brr_goes_to_the_care_of_address_without_a_routing_header_and_opens() {
    // RFC 6275 §6.1.2 BRR; §6.1: no type 2 routing header on an MH message but a BA.
    let (mut ha, mut mn) = pair();
    let frame = BindingRefreshRequestFrame::new(HA, COA);
    let mut buf = [0xFF; 256];
    let len = frame
        .seal(ha.get_mut(Slot::Init).unwrap().outbound_mut(), &mut buf)
        .unwrap();
    assert_eq!(len, frame.buffer_len());
    assert_eq!(buf[6], 50, "ESP right after the IPv6 header");
    assert_eq!(&buf[8..24], &HA.octets());
    assert_eq!(&buf[24..40], &COA.octets());
    assert_eq!(&buf[40..44], &0x2001u32.to_be_bytes());
    let opened = open(&mut buf[..len], &mut mn).unwrap();
    assert_eq!(opened.frame.chain.rh2, None);
    let Payload::Signalling(mh) = opened.payload else {
        panic!("not signalling")
    };
    assert_eq!(mh.message, Message::BindingRefreshRequest);
    assert_eq!(mh.options().count(), 0);
    assert!(
        frame
            .seal(ha.get_mut(Slot::Init).unwrap().outbound_mut(), &mut [0; 40])
            .is_err(),
        "too small a buffer is an error"
    );
}

#[test]
fn a_flipped_octet_anywhere_after_the_spi_fails_to_open() {
    let (mut ha, mut mn) = pair();
    let mut clean = [0; 256];
    let len = seal_bu(&mut mn, &[], &mut clean);
    for at in 72..len {
        let mut ha_copy = KeyTable::new(Role::HomeAgent, init_generation(Role::HomeAgent));
        let mut buf = clean;
        buf[at] ^= 0x01;
        let err = open(&mut buf[..len], &mut ha_copy).unwrap_err();
        assert!(
            matches!(err, FrameError::Esp(esp::Error::BadIcv { .. })),
            "flip at {at}: {err:?}"
        );
    }
    // The untouched frame still opens, once; its replay is refused.
    let mut buf = clean;
    open(&mut buf[..len], &mut ha).unwrap();
    let mut buf = clean;
    assert!(matches!(
        open(&mut buf[..len], &mut ha),
        Err(FrameError::Esp(esp::Error::Replayed { seq: 1 }))
    ));
}

#[test]
fn a_spoofed_home_address_option_breaks_the_mh_checksum() {
    // The HoA option is outside ESP; changing it is caught by the MH checksum, whose
    // pseudo-header source is the HoA (RFC 6275 §6.1.1).
    let (mut ha, mut mn) = pair();
    let mut buf = [0; 256];
    let len = seal_bu(&mut mn, &[], &mut buf);
    buf[63] ^= 0x01;
    let err = open(&mut buf[..len], &mut ha).unwrap_err();
    assert!(
        matches!(err, FrameError::Mobility(crate::mh::Error::Checksum { .. })),
        "{err:?}"
    );
}

#[test]
fn signalling_builders_refuse_small_buffers_and_too_many_options() {
    let (_, mut mn) = pair();
    let sa = mn.get_mut(Slot::Init).unwrap().outbound_mut();
    let frame = BindingUpdateFrame::new(COA, HA, HOA, bu(), &[]);
    let need = frame.buffer_len().unwrap();
    let mut small = vec![0; need - 1];
    assert_eq!(
        frame.seal(sa, &mut small),
        Err(FrameError::NoRoom {
            needed: need,
            actual: need - 1
        })
    );
    assert_eq!(
        sa.next_sequence(),
        1,
        "a refused frame uses no sequence number"
    );
    let many = [MobilityOption::PadN(0); MAX_EXTRA_OPTIONS + 1];
    let frame = BindingUpdateFrame::new(COA, HA, HOA, bu(), &many);
    assert!(matches!(
        frame.seal(sa, &mut [0; 512]),
        Err(FrameError::TooManyOptions { count: 7, max: 6 })
    ));
}

fn inner_packet(hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[17, hop_limit]);
    p.extend_from_slice(&HOA.octets());
    p.extend_from_slice(&CN.octets());
    p.extend_from_slice(payload);
    p
}

fn seal_data(
    keys: &mut KeyTable,
    endpoints: TunnelEndpoints,
    inner: &[u8],
    origin: InnerOrigin,
) -> Result<Vec<u8>, FrameError> {
    let mut buf = vec![0xFF; DATA_HEADROOM + inner.len() + esp::trailer_len(inner.len())];
    buf[DATA_HEADROOM..DATA_HEADROOM + inner.len()].copy_from_slice(inner);
    let slot = keys.transmit_slot();
    let sa = keys.get_mut(slot).unwrap().outbound_mut();
    let len = seal_data_in_place(&endpoints, sa, &mut buf, inner.len(), origin)?;
    assert_eq!(len, buf.len());
    Ok(buf)
}

#[test]
fn data_frames_cross_the_tunnel_both_ways() {
    let (mut ha, mut mn) = pair();
    let inner = inner_packet(64, b"hello through the tunnel");
    let mut up = seal_data(
        &mut mn,
        TunnelEndpoints::new(COA, HA),
        &inner,
        InnerOrigin::Local,
    )
    .unwrap();
    assert_eq!(up[6], 50, "outer next header ESP");
    let opened = open(&mut up, &mut ha).unwrap();
    let Payload::Tunnelled { header, packet } = opened.payload else {
        panic!("not tunnelled")
    };
    assert_eq!(header.src_addr, HOA);
    assert_eq!(header.next_header, NextHeader::UDP);
    assert_eq!(&up[packet], &inner[..], "local origin keeps the hop limit");

    let mut down = seal_data(
        &mut ha,
        TunnelEndpoints::new(HA, COA),
        &inner,
        InnerOrigin::Forwarded,
    )
    .unwrap();
    let opened = open(&mut down, &mut mn).unwrap();
    let Payload::Tunnelled { header, packet } = opened.payload else {
        panic!("not tunnelled")
    };
    assert_eq!(
        header.hop_limit, 63,
        "the HA forwards: hop limit decremented"
    );
    assert_eq!(&down[packet.start + 8..packet.end], &inner[8..]);
}

#[test]
fn data_frames_refuse_expiring_and_mis_sized_inner_packets() {
    let (_, mut mn) = pair();
    let ep = TunnelEndpoints::new(COA, HA);
    let expiring = inner_packet(1, b"x");
    assert!(matches!(
        seal_data(&mut mn, ep, &expiring, InnerOrigin::Forwarded),
        Err(FrameError::Tunnel(
            crate::tunnel::Error::HopLimitExceeded { .. }
        ))
    ));
    let mut padded = inner_packet(64, b"abc");
    padded.push(0);
    assert!(matches!(
        seal_data(&mut mn, ep, &padded, InnerOrigin::Local),
        Err(FrameError::InnerLength {
            given: 44,
            declared: 43
        })
    ));
}

#[test]
fn inspect_refuses_frames_without_esp() {
    let mut bare = inner_packet(64, b"udp");
    assert!(matches!(
        inspect(&bare),
        Err(FrameError::NotEsp {
            offset: 40,
            next_header: 17
        })
    ));
    // Truncated ESP: the error names the layer; ESP offsets count from its header.
    bare[6] = 50;
    match inspect(&bare) {
        Err(e @ FrameError::Esp(esp::Error::Truncated(_))) => {
            assert_eq!(e.layer(), Some(crate::Layer::Esp));
            assert_eq!(e.offset(), Some(0));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn esp_spi_reads_tunnel_frames_directly_and_walks_signalling() {
    let (_, mut mn) = pair();
    // A BU: Destination Options before ESP, so the walk finds the SPI.
    let mut buf = [0xFF; 256];
    let len = seal_bu(&mut mn, &[], &mut buf);
    assert_eq!(esp_spi(&buf[..len]), Some(0x1001));
    // A tunnel frame: ESP right after the IPv6 header.
    let inner = inner_packet(64, b"spi");
    let up = seal_data(
        &mut mn,
        TunnelEndpoints::new(COA, HA),
        &inner,
        InnerOrigin::Local,
    )
    .unwrap();
    assert_eq!(esp_spi(&up), Some(0x1001));
    // Cut inside the SPI: none, no panic.
    assert_eq!(esp_spi(&up[..42]), None);
    assert_eq!(esp_spi(&[]), None);
    // No ESP at all.
    assert_eq!(esp_spi(&inner), None);
}
