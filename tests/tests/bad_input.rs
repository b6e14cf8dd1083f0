//! The bad-input corpus of the wire layer in one place: every kind of malformed frame
//! a home agent or mobile node can receive is refused with a typed error that names
//! the layer and the offset, and nothing panics.
//!
//! Frames are built valid with mip6-wire's own builders, then broken one way each.

use mip6_testkit::lab::{COA, HA, HOA};
use mip6_wire::esp::{self, AesGcmAead, EspAead, InboundSa, OutboundSa, SaKey, Spi, Suite};
use mip6_wire::frames::{self, BindingUpdateFrame, FrameError};
use mip6_wire::mh::{self, BindingUpdateRepr, BuFlags, Message, MobilityOption, SequenceNumber};
use mip6_wire::{ext, Layer};

const SPI: u32 = 0x1001;

fn key() -> SaKey {
    SaKey::new(Suite::Aes128Gcm, &[0x11; 16], [1, 2, 3, 4]).unwrap()
}

fn inbound() -> InboundSa {
    InboundSa::new(Spi::new(SPI).unwrap(), key())
}

fn update() -> BindingUpdateRepr {
    BindingUpdateRepr {
        sequence: SequenceNumber(9),
        flags: BuFlags::A | BuFlags::H,
        lifetime: 100,
    }
}

/// A valid ESP-protected BU frame (the first sequence number of its SA).
fn sealed_bu() -> Vec<u8> {
    let mut out = OutboundSa::<AesGcmAead>::new(Spi::new(SPI).unwrap(), key());
    let frame = BindingUpdateFrame::new(COA, HA, HOA, update(), &[]);
    let mut buf = vec![0; frame.buffer_len().unwrap()];
    frame.seal(&mut out, &mut buf).unwrap();
    buf
}

/// Inspects, opens and classifies a frame: the receive path of both engines.
fn receive(frame: &mut [u8], sa: &mut InboundSa) -> Result<(), FrameError> {
    let found = frames::inspect(frame)?;
    let opened = sa.open(&mut frame[found.esp.clone()])?;
    frames::inbound::classify(frame, &found, &opened).map(|_| ())
}

/// A plain BU Mobility Header (no ESP) with the given options, checksummed for HoA→HA.
fn plain_bu(options: &[MobilityOption<'_>]) -> Vec<u8> {
    let repr = mh::Repr::new(Message::BindingUpdate(update()), options);
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit_into(&mut buf, &HOA, &HA);
    buf
}

fn parse_mh(bytes: &[u8]) -> Result<(), mh::Error> {
    let packet = mh::Packet::new_checked(bytes)?;
    let repr = mh::Repr::parse_checked(&packet, &HOA, &HA)?;
    repr.options().try_for_each(|o| o.map(|_| ()))?;
    Ok(())
}

#[test]
fn every_truncation_of_a_sealed_bu_is_refused_with_layer_and_offset() {
    let frame = sealed_bu();
    for len in 0..frame.len() {
        let mut cut = frame[..len].to_vec();
        let err = receive(&mut cut, &mut inbound()).expect_err("a cut frame must not open");
        let offset = err.offset().expect("a receive error names its offset");
        assert!(
            offset <= len,
            "cut at {len}: offset {offset} beyond the input ({err})"
        );
        // The IPv6 Payload Length now overruns the buffer: the IPv6 layer says so.
        assert_eq!(err.layer(), Some(Layer::Ipv6), "cut at {len}: {err}");
        if len < 40 {
            continue;
        }
        // The same cut with the Payload Length fixed up: the layer that was cut speaks.
        let payload_len = u16::try_from(len - 40).unwrap();
        cut[4..6].copy_from_slice(&payload_len.to_be_bytes());
        let err = receive(&mut cut, &mut inbound()).expect_err("a cut frame must not open");
        let expected = match len {
            40..=63 => [Layer::DestinationOptions, Layer::HomeAddressOption],
            _ => [Layer::Esp, Layer::Esp],
        };
        assert!(
            expected.contains(&err.layer().unwrap()),
            "cut at {len}: {err} (expected {expected:?})"
        );
    }
    receive(&mut frame.clone(), &mut inbound()).expect("the whole frame opens");
}

#[test]
fn every_truncation_of_a_mobility_header_is_a_length_error() {
    let bytes = plain_bu(&[MobilityOption::AlternateCareOfAddress(COA)]);
    for len in 0..bytes.len() {
        match parse_mh(&bytes[..len]) {
            Err(mh::Error::Len(e)) => {
                assert_eq!(e.layer, Layer::MobilityHeader, "cut at {len}");
                assert_eq!(e.actual, len, "cut at {len}");
                assert!(e.needed > len);
            }
            other => panic!("cut at {len}: {other:?}"),
        }
    }
    parse_mh(&bytes).unwrap();
}

#[test]
fn lengths_that_overrun_are_refused_by_the_field_that_claimed_them() {
    // IPv6 Payload Length larger than the frame.
    let mut frame = sealed_bu();
    frame[5] = frame[5].wrapping_add(8);
    let err = frames::inspect(&frame).unwrap_err();
    assert_eq!(
        (err.layer(), err.offset()),
        (Some(Layer::Ipv6), Some(0)),
        "{err}"
    );

    // Mobility Header Len larger than the MH.
    let mut bytes = plain_bu(&[]);
    bytes[1] += 1;
    match parse_mh(&bytes) {
        Err(mh::Error::Len(e)) => assert_eq!(e.length_field, Some("Header Len")),
        other => panic!("{other:?}"),
    }

    // An option whose Option Length runs past the end of the MH: a PadN at 12 claiming
    // 200 octets where the BU's option area (its alignment padding) has 4.
    let mut bytes = plain_bu(&[]);
    assert_eq!(bytes.len(), 16);
    bytes[12] = 1;
    bytes[13] = 200;
    let fixed = mh::Packet::new_checked(&bytes).unwrap();
    let zero_sum = mh::compute_checksum(&HOA, &HA, fixed.mh_bytes());
    bytes[4..6].copy_from_slice(&zero_sum.to_be_bytes());
    match parse_mh(&bytes) {
        Err(e @ mh::Error::Option(mh::OptionError::Len(len))) => {
            assert_eq!(e.layer(), Layer::MobilityOption);
            assert_eq!(e.offset(), 12);
            assert_eq!(len.length_field, Some("Option Length"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrong_checksum_is_refused_at_offset_4() {
    for flip in 0..48 {
        let mut bytes = plain_bu(&[MobilityOption::AlternateCareOfAddress(COA)]);
        let at = flip % bytes.len();
        bytes[at] ^= 1 << (flip % 8);
        match parse_mh(&bytes) {
            Err(e @ mh::Error::Checksum { .. }) => {
                assert_eq!((e.layer(), e.offset()), (Layer::MobilityHeader, 4));
            }
            // A flip in Header Len or Payload Proto is caught by those checks first.
            Err(e) if at < 2 => assert_eq!(e.layer(), Layer::MobilityHeader),
            other => panic!("flip at {at}: {other:?}"),
        }
    }
    // The checksum covers the pseudo-header: the right MH with the wrong HoA fails.
    let bytes = plain_bu(&[]);
    let packet = mh::Packet::new_checked(&bytes[..]).unwrap();
    assert!(matches!(
        mh::Repr::parse_checked(&packet, &COA, &HA),
        Err(mh::Error::Checksum { offset: 4, .. })
    ));
}

/// Writes `options` raw after a BU's fixed part (MH offset 12) and fixes Header Len
/// and the checksum, so only the options are wrong.
fn bu_with_raw_options(raw: &[u8]) -> Vec<u8> {
    let mut bytes = plain_bu(&[]);
    bytes.truncate(12);
    bytes.extend_from_slice(raw);
    while bytes.len() % 8 != 0 {
        bytes.push(0);
    }
    bytes[1] = (bytes.len() / 8 - 1) as u8;
    bytes[4..6].fill(0);
    let sum = mh::compute_checksum(&HOA, &HA, &bytes);
    bytes[4..6].copy_from_slice(&sum.to_be_bytes());
    bytes
}

#[test]
fn misaligned_and_overlong_options_are_refused_with_their_offset() {
    // Alternate CoA must sit at 8n+6; at 12 (no padding) it is misaligned.
    let mut raw = vec![3, 16];
    raw.extend_from_slice(&COA.octets());
    match parse_mh(&bu_with_raw_options(&raw)) {
        Err(e @ mh::Error::Option(mh::OptionError::Misaligned { .. })) => {
            assert_eq!((e.layer(), e.offset()), (Layer::MobilityOption, 12));
        }
        other => panic!("{other:?}"),
    }
    // Correctly padded (PadN of 2 octets), it parses.
    let mut padded = vec![1, 0];
    padded.extend_from_slice(&raw);
    parse_mh(&bu_with_raw_options(&padded)).unwrap();
    // Overlong: an Alternate CoA option of 18 data octets.
    let mut overlong = vec![1, 0, 3, 18];
    overlong.extend_from_slice(&COA.octets());
    overlong.extend_from_slice(&[0, 0]);
    match parse_mh(&bu_with_raw_options(&overlong)) {
        Err(e @ mh::Error::Option(mh::OptionError::BadLength { .. })) => {
            assert_eq!((e.layer(), e.offset()), (Layer::MobilityOption, 14));
        }
        other => panic!("{other:?}"),
    }
    // Binding Refresh Advice with 3 data octets.
    match parse_mh(&bu_with_raw_options(&[2, 3, 0, 1, 2])) {
        Err(e @ mh::Error::Option(mh::OptionError::BadLength { .. })) => {
            assert_eq!(e.offset(), 12);
        }
        other => panic!("{other:?}"),
    }
}

/// A BA-shaped header chain (IPv6 | RH2(HoA) | no next header) for the RH2 cases.
fn rh2_chain() -> Vec<u8> {
    let repr = ext::ChainRepr {
        src_addr: HA,
        dst_addr: COA,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
        rh2: Some(HOA),
        home_address: None,
        next_header: ext::NextHeader::NO_NEXT_HEADER,
        payload_len: 0,
    };
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut buf).unwrap();
    buf
}

#[test]
fn type_2_routing_headers_other_than_one_segment_one_address_are_refused() {
    ext::walk(&rh2_chain()).unwrap();
    for (field, value, offset) in [(43, 0u8, 43), (43, 2, 43), (41, 4, 41), (41, 0, 41)] {
        let mut bytes = rh2_chain();
        bytes[field] = value;
        if field == 41 && value == 4 {
            // Two addresses: make the packet long enough so the length is not the issue.
            bytes.extend_from_slice(&[0; 16]);
            let len = (bytes.len() - 40) as u16;
            bytes[4..6].copy_from_slice(&len.to_be_bytes());
        }
        let err = ext::walk(&bytes).unwrap_err();
        assert_eq!(err.layer(), Layer::RoutingHeaderType2, "{err}");
        assert_eq!(err.offset(), offset, "{err}");
    }
}

#[test]
fn a_home_address_option_of_the_wrong_length_is_refused() {
    let frame = sealed_bu();
    // The HoA option's length octet sits at 47 (Destination Options at 40, PadN(2)
    // before the option at 46).
    assert_eq!(&frame[46..48], &[0xC9, 16]);
    for bad in [0u8, 8, 15, 17] {
        let mut bytes = frame.clone();
        bytes[47] = bad;
        let err = frames::inspect(&bytes).unwrap_err();
        let layer = err.layer().unwrap();
        assert!(
            matches!(layer, Layer::HomeAddressOption | Layer::DestinationOptions),
            "length {bad}: {err}"
        );
        assert!(
            err.offset().unwrap() >= 40 && err.offset().unwrap() < 64,
            "{err}"
        );
    }
}

#[test]
fn esp_bad_icv_short_packet_replay_and_too_old_are_refused() {
    let frame = sealed_bu();
    let esp_at = 64;
    // Bad ICV: a flip in the ciphertext or in the ICV.
    for at in [esp_at + 16, frame.len() - 1] {
        let mut bytes = frame.clone();
        bytes[at] ^= 0x80;
        let err = receive(&mut bytes, &mut inbound()).unwrap_err();
        assert!(
            matches!(err, FrameError::Esp(esp::Error::BadIcv { .. })),
            "{err}"
        );
        assert_eq!(err.layer(), Some(Layer::Esp));
        assert_eq!(err.offset(), Some(frame.len() - 16 - esp_at));
    }
    // Short packet: an ESP payload of 20 octets (the IPv6 length says so).
    let mut short = frame[..esp_at + 20].to_vec();
    short[4..6].copy_from_slice(&((esp_at + 20 - 40) as u16).to_be_bytes());
    let err = receive(&mut short, &mut inbound()).unwrap_err();
    assert!(
        matches!(err, FrameError::Esp(esp::Error::Truncated(_))),
        "{err}"
    );
    assert_eq!(err.layer(), Some(Layer::Esp));

    // Replayed: the same frame twice.
    let mut sa = inbound();
    receive(&mut frame.clone(), &mut sa).unwrap();
    let err = receive(&mut frame.clone(), &mut sa).unwrap_err();
    assert_eq!(err, FrameError::Esp(esp::Error::Replayed { seq: 1 }));
    assert_eq!(err.offset(), Some(4));

    // Too old: sequence 1 after 2000 has moved the 1024-packet window past it.
    let mut out =
        OutboundSa::<AesGcmAead>::new(Spi::new(SPI).unwrap(), key()).with_next_sequence(2000);
    let bu = BindingUpdateFrame::new(COA, HA, HOA, update(), &[]);
    let mut late = vec![0; bu.buffer_len().unwrap()];
    bu.seal(&mut out, &mut late).unwrap();
    let mut sa = inbound();
    receive(&mut late, &mut sa).unwrap();
    let err = receive(&mut frame.clone(), &mut sa).unwrap_err();
    assert_eq!(err, FrameError::Esp(esp::Error::TooOld { seq: 1 }));
}

#[test]
fn esp_bad_padding_under_a_valid_icv_is_refused_at_the_padding() {
    // Seal by hand (RFC 4106: nonce = salt ‖ IV, AAD = SPI ‖ seq) a payload whose
    // padding is 1, 2, 9 instead of 1, 2, 3: the ICV verifies, the padding does not.
    let sa_key = key();
    let aead = AesGcmAead::from_key(&sa_key);
    let payload = [0xAB; 5];
    let mut packet = Vec::new();
    packet.extend_from_slice(&SPI.to_be_bytes());
    packet.extend_from_slice(&1u32.to_be_bytes());
    packet.extend_from_slice(&1u64.to_be_bytes());
    packet.extend_from_slice(&payload);
    packet.extend_from_slice(&[1, 2, 9, 3, 59]); // padding, Pad Length 3, Next Header
    let mut nonce = [0; 12];
    nonce[..4].copy_from_slice(sa_key.salt());
    nonce[4..].copy_from_slice(&1u64.to_be_bytes());
    let aad = packet[..8].to_vec();
    let tag = aead.seal_in_place(&nonce, &aad, &mut packet[16..]).unwrap();
    packet.extend_from_slice(&tag);
    let err = inbound().open(&mut packet).unwrap_err();
    assert_eq!(err, esp::Error::BadPadding { offset: 16 + 5 + 2 });
    assert_eq!((err.layer(), err.offset()), (Layer::Esp, 23));
}
