//! The hand-played home agent and helpers.

use core::net::Ipv6Addr;
use core::time::Duration;

use mip6_wire::esp::{self, Spi, Suite};
use mip6_wire::frames::{self, BindingAckFrame, Payload, TunnelEndpoints, DATA_HEADROOM};
use mip6_wire::keys::{Generation, GenerationId, KeyTable, RequestMode, Role, Slot, SpiPair};
use mip6_wire::mh::{
    BaFlags, BaStatus, BindingAckRepr, BindingUpdateRepr, KeyBody, KeyDistribution, KeyOption,
    Message, MobilityOption, SequenceNumber, DEFAULT_VENDOR_ID,
};
use mip6_wire::tunnel::InnerOrigin;
use mip6_wire::{Secret32, Time};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::{Event, MnConfig, MnRecord, MobileNode, Received, Transmit};

pub const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
pub const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
pub const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
pub const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);
pub const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);
/// 2026-01-01T00:00:00Z.
pub const T0: Time = Time::from_secs(1_767_225_600);

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

pub fn init_spis() -> SpiPair {
    SpiPair {
        mn_to_ha: Spi::new(0x1001).unwrap(),
        ha_to_mn: Spi::new(0x2001).unwrap(),
    }
}

pub const INIT_SECRET: [u8; 32] = [0x42; 32];

pub fn config(mode: RequestMode) -> MnConfig {
    let mut c = MnConfig::new(HA, HOA, Secret32::new(INIT_SECRET), init_spis());
    c.request_mode = mode;
    c
}

pub fn node_with(config: MnConfig, restored: Option<MnRecord>) -> MobileNode {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    MobileNode::new(config, &mut rng, T0, restored)
}

pub fn node(mode: RequestMode) -> MobileNode {
    node_with(config(mode), None)
}

/// Everything the node queued: events (in order) and transmits.
pub fn drain(mn: &mut MobileNode) -> (Vec<Event>, Vec<Transmit>) {
    let events = std::iter::from_fn(|| mn.poll_event()).collect();
    let transmits = std::iter::from_fn(|| mn.poll_transmit()).collect();
    (events, transmits)
}

/// Exactly one BU was queued: its frame.
pub fn one_bu(mn: &mut MobileNode) -> Vec<u8> {
    let (_, mut t) = drain(mn);
    assert_eq!(t.len(), 1, "one BU expected, got {}", t.len());
    let t = t.remove(0);
    assert_eq!(t.destination, HA);
    t.frame
}

/// Events other than Persist.
pub fn non_persist(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| !matches!(e, Event::Persist(_)))
        .cloned()
        .collect()
}

/// What the home agent saw in a BU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenBu {
    pub slot: Slot,
    pub generation: GenerationId,
    pub spi: u32,
    pub esp_seq: u32,
    pub src: Ipv6Addr,
    pub update: BindingUpdateRepr,
    pub alt_coa: Option<Ipv6Addr>,
    pub key: Option<KeyOption>,
}

/// A home agent's generation g: secret [g; 32], SPIs 0x3000 + 2g / 0x3001 + 2g.
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

fn ha_generation(kd: &KeyDistribution) -> Generation {
    Generation::derive(
        Role::HomeAgent,
        GenerationId::Number(kd.generation),
        kd.secret.clone(),
        &HOA,
        SpiPair {
            mn_to_ha: Spi::new(kd.spi_mn_to_ha).unwrap(),
            ha_to_mn: Spi::new(kd.spi_ha_to_mn).unwrap(),
        },
        kd.suite,
    )
}

/// The home agent, played by hand.
pub struct Ha {
    pub table: KeyTable,
}

impl Ha {
    pub fn new() -> Self {
        let init = Generation::derive(
            Role::HomeAgent,
            GenerationId::Init,
            Secret32::new(INIT_SECRET),
            &HOA,
            init_spis(),
            Suite::Aes128Gcm,
        );
        Ha {
            table: KeyTable::new(Role::HomeAgent, init),
        }
    }

    /// Opens a BU the node sent.
    pub fn open_bu(&mut self, frame: &[u8]) -> SeenBu {
        let mut buf = frame.to_vec();
        let opened = frames::open(&mut buf, &mut self.table).expect("BU opens at the HA");
        let Payload::Signalling(mh) = opened.payload else {
            panic!("not signalling")
        };
        let Message::BindingUpdate(update) = mh.message else {
            panic!("not a BU: {:?}", mh.message)
        };
        let mut alt_coa = None;
        let mut key = None;
        for o in mh.options() {
            let o = o.unwrap();
            if let MobilityOption::AlternateCareOfAddress(a) = o {
                alt_coa = Some(a);
            }
            if let Some(k) = KeyOption::from_option(&o, DEFAULT_VENDOR_ID).unwrap() {
                assert!(key.replace(k).is_none(), "one key option at most");
            }
        }
        let generation = self.table.get(opened.slot).unwrap().id();
        SeenBu {
            slot: opened.slot,
            generation,
            spi: opened.frame.spi,
            esp_seq: opened.seq,
            src: opened.frame.chain.ipv6.src_addr,
            update,
            alt_coa,
            key,
        }
    }

    /// HA initialization with generation g (key-protocol "initialize").
    pub fn initialize(&mut self, g: u32) -> KeyDistribution {
        let kd = distribution(g);
        self.table.initialize(ha_generation(&kd)).unwrap();
        kd
    }

    /// HA update to generation g (install_newest; seal the BA before calling this).
    pub fn update(&mut self, g: u32) -> KeyDistribution {
        let kd = distribution(g);
        self.table.install_newest(ha_generation(&kd)).unwrap();
        kd
    }

    /// A BA to `to`, sealed with the HA's transmit key.
    pub fn ba_with(
        &mut self,
        to: Ipv6Addr,
        seq: SequenceNumber,
        status: u8,
        lifetime: u16,
        keys: &[KeyOption],
        extra: &[MobilityOption<'_>],
    ) -> Vec<u8> {
        let bodies: Vec<KeyBody> = keys.iter().map(KeyOption::encode).collect();
        let mut options: Vec<MobilityOption<'_>> = bodies
            .iter()
            .map(|b| b.to_option(DEFAULT_VENDOR_ID))
            .collect();
        options.extend_from_slice(extra);
        let ack = BindingAckRepr {
            status: BaStatus::from(status),
            flags: BaFlags(0),
            sequence: seq,
            lifetime,
        };
        let frame = BindingAckFrame::new(HA, to, HOA, ack, &options);
        let mut buf = vec![0; frame.buffer_len().unwrap()];
        let slot = self.table.transmit_slot();
        frame
            .seal(self.table.get_mut(slot).unwrap().outbound_mut(), &mut buf)
            .unwrap();
        buf
    }

    /// An accepting BA answering `bu` with the given key options.
    pub fn ba(&mut self, bu: &SeenBu, keys: &[KeyOption]) -> Vec<u8> {
        self.ba_with(bu.src, bu.update.sequence, 0, bu.update.lifetime, keys, &[])
    }

    /// A tunnelled packet HA → CoA carrying `inner`.
    pub fn seal_data(&mut self, coa: Ipv6Addr, inner: &[u8]) -> Vec<u8> {
        let mut buf = vec![0; DATA_HEADROOM + inner.len() + esp::trailer_len(inner.len())];
        buf[DATA_HEADROOM..DATA_HEADROOM + inner.len()].copy_from_slice(inner);
        let slot = self.table.transmit_slot();
        let sa = self.table.get_mut(slot).unwrap().outbound_mut();
        let len = frames::seal_data_in_place(
            &TunnelEndpoints::new(HA, coa),
            sa,
            &mut buf,
            inner.len(),
            InnerOrigin::Forwarded,
        )
        .unwrap();
        buf.truncate(len);
        buf
    }
}

/// An IPv6/UDP-ish packet src → dst with `payload`.
pub fn inner_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// The node moves to `COA` and completes an initialization with generation 1;
/// returns the BU the HA saw.
pub fn register(mn: &mut MobileNode, ha: &mut Ha, now: Time) -> SeenBu {
    mn.set_care_of_address(now, Some(COA));
    let bu = ha.open_bu(&one_bu(mn));
    assert_eq!(bu.slot, Slot::Init);
    let kd = ha.initialize(1);
    let mut keys = vec![KeyOption::KeyDistribution(kd)];
    if let Some(echo @ KeyOption::KeyInitialization { .. }) = &bu.key {
        keys.push(echo.clone());
    }
    let mut ba = ha.ba(&bu, &keys);
    let r = mn.handle(now, &mut ba);
    assert!(matches!(r, Received::Consumed { .. }), "{r:?}");
    assert_eq!(mn.keys().newest, Some(1));
    bu
}

impl Ha {
    /// A Binding Refresh Request HA → CoA (RFC 6275 §6.1.2), laid out like a BA:
    /// `IPv6 | RH2(HoA) | ESP | MH(BRR)`, sealed with the HA's transmit key.
    pub fn brr(&mut self, to: Ipv6Addr) -> Vec<u8> {
        use mip6_wire::ext::{ChainRepr, NextHeader};
        use mip6_wire::mh::{self, MH_NEXT_HEADER};
        let mh = mh::Repr::new(Message::BindingRefreshRequest, &[]);
        let mh_len = mh.buffer_len();
        let esp_len = esp::sealed_len(mh_len);
        let chain = ChainRepr {
            src_addr: HA,
            dst_addr: to,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
            rh2: Some(HOA),
            home_address: None,
            next_header: NextHeader::ESP,
            payload_len: esp_len,
        };
        let header_len = chain.buffer_len();
        let mut buf = vec![0; header_len + esp_len];
        chain.emit(&mut buf).unwrap();
        let esp_area = &mut buf[header_len..];
        mh.emit_into(
            &mut esp_area[esp::PAYLOAD_OFFSET..esp::PAYLOAD_OFFSET + mh_len],
            &HA,
            &HOA,
        );
        let slot = self.table.transmit_slot();
        self.table
            .get_mut(slot)
            .unwrap()
            .outbound_mut()
            .seal(esp_area, mh_len, MH_NEXT_HEADER)
            .unwrap();
        buf
    }
}
