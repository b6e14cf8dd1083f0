//! [`ScriptedMn`]: a mobile node played by hand against the home agent engine.

use std::net::Ipv6Addr;

use mip6_wire::frames::{self, Payload, TunnelEndpoints};
use mip6_wire::keys::{KeyTable, Role, Slot};
use mip6_wire::mh::{
    BaStatus, BindingUpdateRepr, KeyDistribution, KeyOption, Message, DEFAULT_VENDOR_ID,
};
use mip6_wire::tunnel::InnerOrigin;

use crate::lab::{second_init_key, CN, COA2, HA};
use crate::material::KeyMaterial;
use crate::packet::{data_buffer, udp_packet};
use crate::signalling::{home_registration, BuSpec, OptionsRead, LIFETIME_UNITS};

/// What the scripted mobile node read in a BA it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedBa {
    /// The key slot that opened it.
    pub slot: Slot,
    /// Its status.
    pub status: BaStatus,
    /// The sequence number it answers.
    pub sequence: u16,
    /// The granted lifetime, in 4 s units.
    pub lifetime_units: u16,
    /// A Key Distribution option.
    pub distribution: Option<KeyDistribution>,
    /// The echoed Key Initialization timestamp.
    pub echo: Option<u64>,
    /// A Binding Refresh Advice, in 4 s units.
    pub refresh_units: Option<u16>,
}

/// A mobile node played by hand: its key table (role [`Role::MobileNode`]) and the
/// frames it seals, under whichever key slot and for whichever home address the test
/// says.
pub struct ScriptedMn {
    /// The home address it claims by default.
    pub home_address: Ipv6Addr,
    /// The care-of address it sends from by default.
    pub care_of_address: Ipv6Addr,
    /// Its keys.
    pub keys: KeyTable,
    /// The vendor ID of its key options.
    pub vendor_id: u32,
    /// The sequence number of its last BU.
    pub bu_sequence: u16,
}

impl core::fmt::Debug for ScriptedMn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ScriptedMn")
            .field("home_address", &self.home_address)
            .field("care_of_address", &self.care_of_address)
            .field("bu_sequence", &self.bu_sequence)
            .finish_non_exhaustive()
    }
}

impl ScriptedMn {
    /// A node holding only its init key `init`, at `care_of_address`.
    pub fn new(init: &KeyMaterial, care_of_address: Ipv6Addr) -> Self {
        ScriptedMn {
            home_address: init.home_address,
            care_of_address,
            keys: KeyTable::new(Role::MobileNode, init.derive(Role::MobileNode)),
            vendor_id: DEFAULT_VENDOR_ID,
            bu_sequence: 0,
        }
    }

    /// The lab's second node (`HOA2` with its init key) at `COA2`.
    pub fn second() -> Self {
        ScriptedMn::new(&second_init_key(), COA2)
    }

    /// Installs `key` as the newest generation (the previous newest becomes the
    /// anterior), as a Key Distribution would.
    pub fn install_key(&mut self, key: &KeyMaterial) {
        self.keys
            .install_newest(key.derive(Role::MobileNode))
            .expect("a generation with SPIs of its own");
    }

    /// Makes the outbound SA of `slot` go on at sequence number `next` (a node
    /// resumed from a record, or an insider skipping past the engine's numbers).
    pub fn resume_outbound(&mut self, slot: Slot, next: u64) {
        let sa = self.keys.get_mut(slot).expect("slot filled").outbound_mut();
        *sa = sa.clone().with_next_sequence(next);
    }

    /// A home registration (A|H, 600 s) with the next BU sequence number.
    pub fn next_update(&mut self) -> BindingUpdateRepr {
        self.bu_sequence = self.bu_sequence.wrapping_add(1);
        home_registration(self.bu_sequence, LIFETIME_UNITS)
    }

    /// Seals the BU `update` from `coa` for `home_address` with `keys`, under `slot`
    /// (the transmit key when `None`).
    pub fn seal_bu(
        &mut self,
        slot: Option<Slot>,
        update: BindingUpdateRepr,
        coa: Ipv6Addr,
        home_address: Ipv6Addr,
        keys: &[KeyOption],
    ) -> Vec<u8> {
        let slot = slot.unwrap_or(self.keys.transmit_slot());
        let spec = BuSpec {
            care_of_address: coa,
            home_address,
            update,
            keys,
            vendor_id: self.vendor_id,
        };
        spec.seal(self.keys.get_mut(slot).expect("slot filled").outbound_mut())
    }

    /// The next home registration BU with `keys`, under the transmit key.
    pub fn bu(&mut self, keys: &[KeyOption]) -> Vec<u8> {
        let update = self.next_update();
        self.seal_bu(None, update, self.care_of_address, self.home_address, keys)
    }

    /// The next home registration BU with `keys`, under `slot`.
    pub fn bu_under(&mut self, slot: Slot, keys: &[KeyOption]) -> Vec<u8> {
        let update = self.next_update();
        self.seal_bu(
            Some(slot),
            update,
            self.care_of_address,
            self.home_address,
            keys,
        )
    }

    /// The next home registration BU with `keys`, under `slot`, naming `home_address`
    /// (its own or another node's) in its Home Address option.
    pub fn bu_claiming(
        &mut self,
        slot: Slot,
        home_address: Ipv6Addr,
        keys: &[KeyOption],
    ) -> Vec<u8> {
        let update = self.next_update();
        self.seal_bu(Some(slot), update, self.care_of_address, home_address, keys)
    }

    /// A tunnelled packet `inner_src` → the correspondent, from `outer_src` to the home
    /// agent, under the transmit key.
    pub fn data(&mut self, inner_src: Ipv6Addr, outer_src: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
        let slot = self.keys.transmit_slot();
        self.data_under(slot, inner_src, outer_src, payload)
    }

    /// A tunnelled packet `inner_src` → the correspondent, from `outer_src` to the home
    /// agent, under `slot`.
    pub fn data_under(
        &mut self,
        slot: Slot,
        inner_src: Ipv6Addr,
        outer_src: Ipv6Addr,
        payload: &[u8],
    ) -> Vec<u8> {
        let inner = udp_packet(inner_src, CN, payload);
        let mut buf = data_buffer(&inner);
        let sa = self.keys.get_mut(slot).expect("slot filled").outbound_mut();
        let endpoints = TunnelEndpoints::new(outer_src, HA);
        let n =
            frames::seal_data_in_place(&endpoints, sa, &mut buf, inner.len(), InnerOrigin::Local)
                .expect("a tunnel frame seals");
        buf.truncate(n);
        buf
    }

    /// Opens a BA sent to this node and reads it; panics unless it opens, is routed to
    /// this node's home address, and carries no key option but a Key Distribution and
    /// an echoed Key Initialization.
    pub fn open_ba(&mut self, mut frame: Vec<u8>) -> OpenedBa {
        let opened = frames::open(&mut frame, &mut self.keys).expect("the BA opens");
        // Away: a type 2 routing header names the home address; at home the BA is
        // sent to the home address itself, without one (RFC 6275 §6.1.8).
        match opened.frame.chain.rh2 {
            Some(rh2) => assert_eq!(rh2, self.home_address, "the RH2 names the home address"),
            None => assert_eq!(
                opened.frame.chain.ipv6.dst_addr, self.home_address,
                "a BA without RH2 goes to the home address"
            ),
        }
        let Payload::Signalling(mh) = opened.payload else {
            panic!("not signalling")
        };
        let Message::BindingAck(ack) = mh.message else {
            panic!("not a BA: {:?}", mh.message)
        };
        let options = OptionsRead::read(&mh, self.vendor_id);
        for k in &options.keys {
            assert!(
                matches!(
                    k,
                    KeyOption::KeyDistribution(_) | KeyOption::KeyInitialization { .. }
                ),
                "unexpected key option in a BA: {k:?}"
            );
        }
        OpenedBa {
            slot: opened.slot,
            status: ack.status,
            sequence: ack.sequence.0,
            lifetime_units: ack.lifetime,
            distribution: options.distribution().cloned(),
            echo: options.echo(),
            refresh_units: options.refresh_units,
        }
    }

    /// Installs the Key Distribution of `ba` as the newest generation (panics if it
    /// has none; after an initialization the caller drops the dynamic keys first).
    pub fn install(&mut self, ba: &OpenedBa) {
        let d = ba.distribution.as_ref().expect("a Key Distribution");
        self.install_key(&KeyMaterial::distributed(self.home_address, d));
    }

    /// Opens a BA ([`open_ba`](Self::open_ba)) and installs the Key Distribution it
    /// carries, if any.
    pub fn take_ba(&mut self, frame: Vec<u8>) -> OpenedBa {
        let ba = self.open_ba(frame);
        if ba.distribution.is_some() {
            self.install(&ba);
        }
        ba
    }
}
