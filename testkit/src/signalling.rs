//! Binding Updates and Acknowledgements built and read by hand, over any outbound SA:
//! what the scripted peers send, what a bench pre-seals for thousands of nodes and
//! what a forger seals under a guessed key; and the reading of their options.
//!
//! Frames are laid out by `mip6_wire::frames` (RFC 6275 §6.1.7, §6.1.8, §9.3.1): a BU
//! from the care-of address to [`HA`] with the home address in a Home Address option,
//! a BA from [`HA`] to the care-of address with the home address in a type 2 routing
//! header, both ESP-protected. Key-management options are vendor-specific options of
//! the given vendor ID.

use std::net::Ipv6Addr;

use mip6_wire::esp::{self, EspAead, OutboundSa};
use mip6_wire::ext::{ChainRepr, NextHeader};
use mip6_wire::frames::{BindingAckFrame, BindingUpdateFrame};
use mip6_wire::mh::{
    self, BaFlags, BaStatus, BindingAckRepr, BindingUpdateRepr, BuFlags, KeyBody, KeyDistribution,
    KeyOption, Message, MobilityOption, SequenceNumber, MH_NEXT_HEADER,
};
use mip6_wire::Time;

use crate::lab::HA;

/// Lifetime of the scripted peers' BUs: 150 units of 4 s, 600 s.
pub const LIFETIME_UNITS: u16 = 150;

/// A home registration BU (flags A and H, RFC 6275 §6.1.7) with `sequence`, asking
/// `lifetime_units` × 4 s.
pub fn home_registration(sequence: u16, lifetime_units: u16) -> BindingUpdateRepr {
    BindingUpdateRepr {
        sequence: SequenceNumber(sequence),
        flags: BuFlags::A | BuFlags::H,
        lifetime: lifetime_units,
    }
}

/// A Key Initialization Request stamped `now` (the mobile node's explicit request).
pub fn key_initialization(now: Time) -> KeyOption {
    KeyOption::KeyInitialization {
        timestamp: now.to_ntp(),
    }
}

/// The key options encoded for `vendor_id` (to be turned into mobility options with
/// [`KeyBody::to_option`], borrowing them).
fn key_bodies(keys: &[KeyOption]) -> Vec<KeyBody> {
    keys.iter().map(KeyOption::encode).collect()
}

/// A Binding Update to seal: from `care_of_address` to [`HA`], for `home_address`,
/// carrying `keys` as vendor-specific options of `vendor_id`.
#[derive(Debug, Clone, Copy)]
pub struct BuSpec<'a> {
    /// The outer source and Alternate Care-of Address.
    pub care_of_address: Ipv6Addr,
    /// The Home Address option.
    pub home_address: Ipv6Addr,
    /// The BU's fields.
    pub update: BindingUpdateRepr,
    /// The key-management options.
    pub keys: &'a [KeyOption],
    /// Their vendor ID.
    pub vendor_id: u32,
}

impl BuSpec<'_> {
    /// Seals the BU with `sa` into `buf` (resized to fit); returns the frame's length.
    pub fn seal_into<A: EspAead>(&self, sa: &mut OutboundSa<A>, buf: &mut Vec<u8>) -> usize {
        let bodies = key_bodies(self.keys);
        let options: Vec<MobilityOption<'_>> =
            bodies.iter().map(|b| b.to_option(self.vendor_id)).collect();
        let frame = BindingUpdateFrame::new(
            self.care_of_address,
            HA,
            self.home_address,
            self.update,
            &options,
        );
        buf.clear();
        buf.resize(frame.buffer_len().expect("a BU layout"), 0);
        frame.seal(sa, buf).expect("a BU seals")
    }

    /// Seals the BU with `sa`.
    pub fn seal<A: EspAead>(&self, sa: &mut OutboundSa<A>) -> Vec<u8> {
        let mut buf = Vec::new();
        let n = self.seal_into(sa, &mut buf);
        buf.truncate(n);
        buf
    }
}

/// What a BA says besides its options (RFC 6275 §6.1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckFields {
    /// The status code.
    pub status: BaStatus,
    /// The sequence number of the BU it answers.
    pub sequence: SequenceNumber,
    /// The granted lifetime, in 4 s units.
    pub lifetime_units: u16,
}

/// The BA `ack` to `care_of_address` for `home_address`, carrying `keys` and then
/// `extra` options, sealed with `sa`.
pub fn seal_ba<A: EspAead>(
    sa: &mut OutboundSa<A>,
    care_of_address: Ipv6Addr,
    home_address: Ipv6Addr,
    ack: AckFields,
    keys: &[KeyOption],
    extra: &[MobilityOption<'_>],
) -> Vec<u8> {
    let bodies = key_bodies(keys);
    let mut options: Vec<MobilityOption<'_>> = bodies
        .iter()
        .map(|b| b.to_option(mh::DEFAULT_VENDOR_ID))
        .collect();
    options.extend_from_slice(extra);
    let repr = BindingAckRepr {
        status: ack.status,
        flags: BaFlags(0),
        sequence: ack.sequence,
        lifetime: ack.lifetime_units,
    };
    let frame = BindingAckFrame::new(HA, care_of_address, home_address, repr, &options);
    let mut buf = vec![0; frame.buffer_len().expect("a BA layout")];
    let n = frame.seal(sa, &mut buf).expect("a BA seals");
    buf.truncate(n);
    buf
}

/// A Binding Refresh Request from [`HA`] to `care_of_address` (RFC 6275 §6.1.2), laid
/// out like a BA: `IPv6 | RH2(home address) | ESP | MH(BRR)`, sealed with `sa`.
pub fn seal_brr<A: EspAead>(
    sa: &mut OutboundSa<A>,
    care_of_address: Ipv6Addr,
    home_address: Ipv6Addr,
) -> Vec<u8> {
    let mh = mh::Repr::new(Message::BindingRefreshRequest, &[]);
    let mh_len = mh.buffer_len();
    let esp_len = esp::sealed_len(mh_len);
    let chain = ChainRepr {
        src_addr: HA,
        dst_addr: care_of_address,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
        rh2: Some(home_address),
        home_address: None,
        next_header: NextHeader::ESP,
        payload_len: esp_len,
    };
    let header_len = chain.buffer_len();
    let mut buf = vec![0; header_len + esp_len];
    chain.emit(&mut buf).expect("a chain layout");
    let esp_area = &mut buf[header_len..];
    mh.emit_into(
        &mut esp_area[esp::PAYLOAD_OFFSET..esp::PAYLOAD_OFFSET + mh_len],
        &HA,
        &home_address,
    );
    sa.seal(esp_area, mh_len, MH_NEXT_HEADER)
        .expect("a BRR seals");
    buf
}

/// The options of a BU or a BA that the tests look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionsRead {
    /// Every key-management option of the vendor, in order.
    pub keys: Vec<KeyOption>,
    /// The Alternate Care-of Address option.
    pub alt_coa: Option<Ipv6Addr>,
    /// The Binding Refresh Advice, in 4 s units.
    pub refresh_units: Option<u16>,
}

impl OptionsRead {
    /// Reads the options of `mh` (panics on a malformed option: the engines under test
    /// never send one).
    pub fn read(mh: &mh::Repr<'_>, vendor_id: u32) -> Self {
        let mut read = OptionsRead::default();
        for option in mh.options() {
            let option = option.expect("a well-formed mobility option");
            match option {
                MobilityOption::AlternateCareOfAddress(a) => read.alt_coa = Some(a),
                MobilityOption::BindingRefreshAdvice { refresh_interval } => {
                    read.refresh_units = Some(refresh_interval);
                }
                _ => {}
            }
            if let Some(k) = KeyOption::from_option(&option, vendor_id).expect("a key option") {
                read.keys.push(k);
            }
        }
        read
    }

    /// The Key Distribution, if one came.
    pub fn distribution(&self) -> Option<&KeyDistribution> {
        self.keys.iter().rev().find_map(|k| match k {
            KeyOption::KeyDistribution(d) => Some(d),
            _ => None,
        })
    }

    /// The Key Initialization timestamp (a request in a BU, its echo in a BA).
    pub fn echo(&self) -> Option<u64> {
        self.keys.iter().rev().find_map(|k| match k {
            KeyOption::KeyInitialization { timestamp } => Some(*timestamp),
            _ => None,
        })
    }

    /// The last key option other than a Key Distribution: a BU's request.
    pub fn request(&self) -> Option<&KeyOption> {
        self.keys
            .iter()
            .rev()
            .find(|k| !matches!(k, KeyOption::KeyDistribution(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{init_key, COA, HOA, T0};
    use mip6_wire::frames::{self, Payload};
    use mip6_wire::keys::{KeyTable, Role};

    #[test]
    fn a_sealed_bu_opens_with_its_options() {
        let key = init_key();
        let mut mn = KeyTable::new(Role::MobileNode, key.derive(Role::MobileNode));
        let mut ha = KeyTable::new(Role::HomeAgent, key.derive(Role::HomeAgent));
        let sa = mn
            .get_mut(mip6_wire::keys::Slot::Init)
            .unwrap()
            .outbound_mut();
        let kir = key_initialization(T0);
        let update = home_registration(7, LIFETIME_UNITS);
        let mut bu = BuSpec {
            care_of_address: COA,
            home_address: HOA,
            update,
            keys: std::slice::from_ref(&kir),
            vendor_id: mh::DEFAULT_VENDOR_ID,
        }
        .seal(sa);
        let opened = frames::open(&mut bu, &mut ha).unwrap();
        let Payload::Signalling(repr) = opened.payload else {
            panic!("signalling")
        };
        assert_eq!(repr.message, Message::BindingUpdate(update));
        let read = OptionsRead::read(&repr, mh::DEFAULT_VENDOR_ID);
        assert_eq!(read.alt_coa, Some(COA));
        assert_eq!(read.request(), Some(&kir));
        assert_eq!(read.echo(), Some(T0.to_ntp()));
        assert_eq!(read.distribution(), None);
    }
}
