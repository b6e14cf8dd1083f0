//! [`ScriptedHa`]: a home agent played by hand against the mobile node engine,
//! following docs/key-protocol.md step by step as the test calls it.

use std::net::Ipv6Addr;

use mip6_wire::esp::{OutboundSa, Suite};
use mip6_wire::frames::{self, Payload, TunnelEndpoints};
use mip6_wire::keys::{Generation, GenerationId, KeyTable, Role, Slot};
use mip6_wire::mh::{
    BaStatus, BindingUpdateRepr, KeyDistribution, KeyOption, Message, MobilityOption,
    SequenceNumber, DEFAULT_VENDOR_ID,
};
use mip6_wire::tunnel::InnerOrigin;
use mip6_wire::Secret32;

use crate::lab::HA;
use crate::material::KeyMaterial;
use crate::packet::data_buffer;
use crate::signalling::{seal_ba, seal_brr, AckFields, OptionsRead};

/// What the scripted home agent saw in a BU it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedBu {
    /// The key slot that opened it.
    pub slot: Slot,
    /// The key in that slot.
    pub generation: GenerationId,
    /// The ESP SPI.
    pub spi: u32,
    /// The ESP sequence number.
    pub esp_seq: u32,
    /// The outer source address.
    pub src: Ipv6Addr,
    /// The BU's fields.
    pub update: BindingUpdateRepr,
    /// The Alternate Care-of Address option.
    pub alt_coa: Option<Ipv6Addr>,
    /// The key-management option (at most one).
    pub key: Option<KeyOption>,
}

/// The scripted home agent's generation `g`: secret `[g; 32]`, SPIs MN→HA
/// 0x3000 + 2g and HA→MN 0x3001 + 2g, AES-256-GCM, one hour.
pub fn distribution(g: u32) -> KeyDistribution {
    KeyDistribution {
        generation: g,
        spi_mn_to_ha: 0x3000 + 2 * g,
        spi_ha_to_mn: 0x3001 + 2 * g,
        suite: Suite::Aes256Gcm,
        lifetime_secs: 3600,
        secret: Secret32::new([g as u8; 32]),
    }
}

/// A home agent played by hand for one mobile node: its key table (role
/// [`Role::HomeAgent`]: transmits with the anterior key) and the frames it seals.
pub struct ScriptedHa {
    /// The mobile node's home address.
    pub home_address: Ipv6Addr,
    /// Its keys for that node.
    pub table: KeyTable,
}

impl core::fmt::Debug for ScriptedHa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ScriptedHa")
            .field("home_address", &self.home_address)
            .finish_non_exhaustive()
    }
}

impl ScriptedHa {
    /// A home agent holding only the node's init key `init`.
    pub fn new(init: &KeyMaterial) -> Self {
        ScriptedHa {
            home_address: init.home_address,
            table: KeyTable::new(Role::HomeAgent, init.derive(Role::HomeAgent)),
        }
    }

    /// The outbound SA of the transmit key (the anterior; init when there is none).
    fn transmit_sa(&mut self) -> &mut OutboundSa {
        let slot = self.table.transmit_slot();
        self.table
            .get_mut(slot)
            .expect("transmit slot")
            .outbound_mut()
    }

    /// The generation `d` carries, with the home agent's role.
    fn generation(&self, d: &KeyDistribution) -> Generation {
        KeyMaterial::distributed(self.home_address, d).derive(Role::HomeAgent)
    }

    /// Opens a BU the node sent and reads it (panics unless it opens and carries at
    /// most one key option).
    pub fn open_bu(&mut self, frame: &[u8]) -> OpenedBu {
        let mut buf = frame.to_vec();
        let opened = frames::open(&mut buf, &mut self.table).expect("the BU opens");
        let Payload::Signalling(mh) = opened.payload else {
            panic!("not signalling")
        };
        let Message::BindingUpdate(update) = mh.message else {
            panic!("not a BU: {:?}", mh.message)
        };
        let options = OptionsRead::read(&mh, DEFAULT_VENDOR_ID);
        assert!(options.keys.len() <= 1, "one key option at most");
        let generation = self
            .table
            .get(opened.slot)
            .expect("the slot that opened it")
            .id();
        OpenedBu {
            slot: opened.slot,
            generation,
            spi: opened.frame.spi,
            esp_seq: opened.seq,
            src: opened.frame.chain.ipv6.src_addr,
            update,
            alt_coa: options.alt_coa,
            key: options.keys.into_iter().next(),
        }
    }

    /// Initializes with `d` (key-protocol "initialize": dynamic keys dropped, `d` newest).
    pub fn initialize_with(&mut self, d: KeyDistribution) -> KeyDistribution {
        let generation = self.generation(&d);
        self.table
            .initialize(generation)
            .expect("a generation with SPIs of its own");
        d
    }

    /// Initializes with generation `g` of [`distribution`].
    pub fn initialize(&mut self, g: u32) -> KeyDistribution {
        self.initialize_with(distribution(g))
    }

    /// Updates to generation `g` of [`distribution`] (installed newest; seal the BA
    /// before calling this, since the transmit key moves).
    pub fn update(&mut self, g: u32) -> KeyDistribution {
        let d = distribution(g);
        let generation = self.generation(&d);
        self.table
            .install_newest(generation)
            .expect("a generation with SPIs of its own");
        d
    }

    /// A BA to `to` with every field given (`status` as its code), `keys` and then
    /// `extra` options, sealed with the transmit key.
    pub fn ba_with(
        &mut self,
        to: Ipv6Addr,
        sequence: SequenceNumber,
        status: u8,
        lifetime_units: u16,
        keys: &[KeyOption],
        extra: &[MobilityOption<'_>],
    ) -> Vec<u8> {
        let ack = AckFields {
            status: BaStatus::from(status),
            sequence,
            lifetime_units,
        };
        let home_address = self.home_address;
        seal_ba(self.transmit_sa(), to, home_address, ack, keys, extra)
    }

    /// An accepting BA answering `bu` (to its source, its sequence number and
    /// lifetime) with `keys`.
    pub fn ba(&mut self, bu: &OpenedBu, keys: &[KeyOption]) -> Vec<u8> {
        self.ba_with(bu.src, bu.update.sequence, 0, bu.update.lifetime, keys, &[])
    }

    /// A tunnelled packet from the home agent to `coa` carrying `inner`, under the
    /// transmit key.
    pub fn seal_data(&mut self, coa: Ipv6Addr, inner: &[u8]) -> Vec<u8> {
        let mut buf = data_buffer(inner);
        let sa = self.transmit_sa();
        let n = frames::seal_data_in_place(
            &TunnelEndpoints::new(HA, coa),
            sa,
            &mut buf,
            inner.len(),
            InnerOrigin::Forwarded,
        )
        .expect("a tunnel frame seals");
        buf.truncate(n);
        buf
    }

    /// A Binding Refresh Request to `to` (RFC 6275 §6.1.2), under the transmit key.
    pub fn brr(&mut self, to: Ipv6Addr) -> Vec<u8> {
        let home_address = self.home_address;
        seal_brr(self.transmit_sa(), to, home_address)
    }
}
