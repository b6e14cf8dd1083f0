//! A hand-played mobile node (a `KeyTable` with `Role::MobileNode` and mip6-wire's
//! frame builders) and helpers to drive a `HomeAgent` deterministically.

use core::time::Duration;
use std::net::Ipv6Addr;

use mip6_wire::esp::{self, Spi, Suite};
use mip6_wire::frames::{self, BindingUpdateFrame, Payload, TunnelEndpoints, DATA_HEADROOM};
use mip6_wire::keys::{Generation, GenerationId, KeyTable, RequestMode, Role, Slot, SpiPair};
use mip6_wire::mh::{
    BaStatus, BindingUpdateRepr, BuFlags, KeyDistribution, KeyOption, Message, MobilityOption,
    SequenceNumber, DEFAULT_VENDOR_ID,
};
use mip6_wire::tunnel::InnerOrigin;
use mip6_wire::{Secret32, Time};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::{Event, HaConfig, HomeAgent, MnConfig, MnRecord};

pub const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
pub const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
pub const HOA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x200);
pub const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
pub const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);
pub const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);
/// 2026-01-01T00:00:00Z.
pub const T0: Time = Time::from_secs(1_767_225_600);

pub type Ha = HomeAgent<ChaCha20Rng>;

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn mn_config(hoa: Ipv6Addr, n: u8) -> MnConfig {
    MnConfig {
        home_address: hoa,
        init_secret: Secret32::new([n; 32]),
        init_spis: SpiPair {
            mn_to_ha: Spi::new(0x1000 + u32::from(n)).unwrap(),
            ha_to_mn: Spi::new(0x2000 + u32::from(n)).unwrap(),
        },
        init_suite: Suite::Aes128Gcm,
    }
}

pub fn config(mode: RequestMode) -> HaConfig {
    let mut c = HaConfig::new(HA, vec![mn_config(HOA, 1), mn_config(HOA2, 2)]);
    c.mode = mode;
    c
}

pub fn ha_with(config: HaConfig, seed: u64, restored: Vec<MnRecord>) -> Ha {
    HomeAgent::new(config, ChaCha20Rng::seed_from_u64(seed), T0, restored).unwrap()
}

pub fn ha(mode: RequestMode) -> Ha {
    ha_with(config(mode), 7, Vec::new())
}

pub fn drain(ha: &mut Ha) -> Vec<Event> {
    std::iter::from_fn(|| ha.poll_event()).collect()
}

/// The single frame the HA queued.
pub fn one_transmit(ha: &mut Ha) -> Vec<u8> {
    let t = ha.poll_transmit().expect("a BA");
    assert!(ha.poll_transmit().is_none(), "exactly one BA");
    t.frame
}

/// The last Persist record for each home address among `events`.
pub fn last_records(events: &[Event]) -> Vec<MnRecord> {
    let mut out: Vec<MnRecord> = Vec::new();
    for e in events {
        if let Event::Persist(r) = e {
            out.retain(|o| o.home_address != r.home_address);
            out.push(r.clone());
        }
    }
    out
}

/// The ESP SPI and sequence number of a BA frame (IPv6 40 + RH2 24, then ESP).
pub fn ba_esp(frame: &[u8]) -> (u32, u32) {
    let spi = u32::from_be_bytes(frame[64..68].try_into().unwrap());
    let seq = u32::from_be_bytes(frame[68..72].try_into().unwrap());
    (spi, seq)
}

/// What the MN read from a BA.
#[derive(Debug)]
pub struct Ba {
    pub slot: Slot,
    pub status: BaStatus,
    pub sequence: u16,
    pub lifetime_units: u16,
    pub distribution: Option<KeyDistribution>,
    pub echo: Option<u64>,
    pub refresh_units: Option<u16>,
}

/// A mobile node played by hand.
pub struct Mn {
    pub hoa: Ipv6Addr,
    pub coa: Ipv6Addr,
    pub keys: KeyTable,
    pub seq: u16,
}

impl Mn {
    pub fn new(config: &MnConfig) -> Self {
        Mn {
            hoa: config.home_address,
            coa: COA,
            keys: KeyTable::new(Role::MobileNode, Self::init_generation(config)),
            seq: 0,
        }
    }

    fn init_generation(c: &MnConfig) -> Generation {
        Generation::derive(
            Role::MobileNode,
            GenerationId::Init,
            c.init_secret.clone(),
            &c.home_address,
            c.init_spis,
            c.init_suite,
        )
    }

    /// A plain home registration BU (A|H, 600 s) with the next sequence number.
    pub fn update(&mut self) -> BindingUpdateRepr {
        self.seq = self.seq.wrapping_add(1);
        BindingUpdateRepr {
            sequence: SequenceNumber(self.seq),
            flags: BuFlags::A | BuFlags::H,
            lifetime: 150,
        }
    }

    /// Seals a BU with `slot` (default: the transmit key).
    pub fn seal_bu(
        &mut self,
        slot: Option<Slot>,
        update: BindingUpdateRepr,
        coa: Ipv6Addr,
        hoa: Ipv6Addr,
        keys: &[KeyOption],
    ) -> Vec<u8> {
        let bodies: Vec<_> = keys.iter().map(KeyOption::encode).collect();
        let options: Vec<MobilityOption<'_>> = bodies
            .iter()
            .map(|b| b.to_option(DEFAULT_VENDOR_ID))
            .collect();
        let frame = BindingUpdateFrame::new(coa, HA, hoa, update, &options);
        let mut buf = vec![0; frame.buffer_len().unwrap()];
        let slot = slot.unwrap_or(self.keys.transmit_slot());
        let sa = self.keys.get_mut(slot).unwrap().outbound_mut();
        let n = frame.seal(sa, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// A plain BU with key options, sealed with the transmit key.
    pub fn bu(&mut self, keys: &[KeyOption]) -> Vec<u8> {
        let u = self.update();
        self.seal_bu(None, u, self.coa, self.hoa, keys)
    }

    /// A BU under a given slot.
    pub fn bu_under(&mut self, slot: Slot, keys: &[KeyOption]) -> Vec<u8> {
        let u = self.update();
        self.seal_bu(Some(slot), u, self.coa, self.hoa, keys)
    }

    /// Opens a BA and reads it.
    pub fn open_ba(&mut self, mut frame: Vec<u8>) -> Ba {
        let opened = frames::open(&mut frame, &mut self.keys).expect("BA opens at the MN");
        assert_eq!(opened.frame.chain.rh2, Some(self.hoa));
        let Payload::Signalling(mh) = opened.payload else {
            panic!("not signalling")
        };
        let Message::BindingAck(ack) = mh.message else {
            panic!("not a BA")
        };
        let mut ba = Ba {
            slot: opened.slot,
            status: ack.status,
            sequence: ack.sequence.0,
            lifetime_units: ack.lifetime,
            distribution: None,
            echo: None,
            refresh_units: None,
        };
        for option in mh.options().map(Result::unwrap) {
            if let MobilityOption::BindingRefreshAdvice { refresh_interval } = option {
                ba.refresh_units = Some(refresh_interval);
            }
            match KeyOption::from_option(&option, DEFAULT_VENDOR_ID).unwrap() {
                Some(KeyOption::KeyDistribution(d)) => ba.distribution = Some(d),
                Some(KeyOption::KeyInitialization { timestamp }) => ba.echo = Some(timestamp),
                Some(other) => panic!("unexpected key option in a BA: {other:?}"),
                None => {}
            }
        }
        ba
    }

    /// Installs the Key Distribution of a BA as newest (after an initialization the
    /// MN has dropped its dynamic keys first).
    pub fn install(&mut self, ba: &Ba) {
        let d = ba.distribution.as_ref().expect("a Key Distribution");
        let g = Generation::derive(
            Role::MobileNode,
            GenerationId::Number(d.generation),
            d.secret.clone(),
            &self.hoa,
            SpiPair {
                mn_to_ha: Spi::new(d.spi_mn_to_ha).unwrap(),
                ha_to_mn: Spi::new(d.spi_ha_to_mn).unwrap(),
            },
            d.suite,
        );
        self.keys.install_newest(g).unwrap();
    }

    /// A tunnelled data frame CoA → HA with inner source `src`, under the transmit key.
    pub fn data(&mut self, src: Ipv6Addr, outer_src: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
        let inner = inner_packet(src, CN, 64, payload);
        let mut buf = vec![0; DATA_HEADROOM + inner.len() + esp::trailer_len(inner.len())];
        buf[DATA_HEADROOM..DATA_HEADROOM + inner.len()].copy_from_slice(&inner);
        let slot = self.keys.transmit_slot();
        let sa = self.keys.get_mut(slot).unwrap().outbound_mut();
        let ep = TunnelEndpoints::new(outer_src, HA);
        let n =
            frames::seal_data_in_place(&ep, sa, &mut buf, inner.len(), InnerOrigin::Local).unwrap();
        buf.truncate(n);
        buf
    }
}

/// An IPv6/UDP-ish inner packet.
pub fn inner_packet(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[17, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// Explicit Key Initialization Request at `now`.
pub fn kir(now: Time) -> KeyOption {
    KeyOption::KeyInitialization {
        timestamp: now.to_ntp(),
    }
}

/// Registers `mn` with an initialization (explicit or implicit) and installs gen 1.
pub fn initialize(ha: &mut Ha, mn: &mut Mn, now: Time, mode: RequestMode) -> Ba {
    let options = match mode {
        RequestMode::Explicit => vec![kir(now)],
        RequestMode::Implicit => vec![],
    };
    mn.keys.drop_dynamic();
    let frame = mn.bu_under(Slot::Init, &options);
    let r = ha.handle(now, &mut frame.clone());
    assert!(matches!(r, crate::Received::Consumed { .. }), "{r:?}");
    let ba = mn.open_ba(one_transmit(ha));
    assert_eq!(ba.status, BaStatus::Accepted);
    assert_eq!(ba.slot, Slot::Init);
    mn.install(&ba);
    ba
}
