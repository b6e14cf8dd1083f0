//! A deterministic pair harness: one [`HomeAgent`] and one [`MobileNode`] with
//! matching configurations, simulated time, and the network between them as two
//! explicit in-flight queues a test inspects, drops, duplicates, reorders or delivers
//! one frame at a time (in the manner of quinn-proto's `src/tests/util.rs` `Pair`).
//!
//! - Addresses are DESIGN.md's lab plan: HA 2001:db8:1::1, HoA 2001:db8:1::100,
//!   care-of addresses 2001:db8:2::100 ([`COA`]) and 2001:db8:3::100 ([`COA2`]),
//!   correspondent 2001:db8:4::10 ([`CN`]). The init secret and SPIs are fixed
//!   ([`INIT_SECRET`], [`init_spis`]); the request mode is a parameter.
//! - The driver contract of both engines is kept: after every call the harness drains
//!   `poll_event` first, writes each `Persist` record to that side's "disk"
//!   ([`Pair::ha_disk`], [`Pair::mn_disk`]), then queues what `poll_transmit` (or
//!   `seal_data`) produced. A restart ([`Pair::restart_ha`], [`Pair::restart_mn`])
//!   builds the engine again from that disk.
//! - Every frame an engine emits is checked against DESIGN.md invariant 2: the
//!   harness knows every SA's key (from the configuration and the persisted
//!   generations) and panics if a (key, sequence number) is ever sealed twice — across
//!   restarts too. A restarted HA gets a fresh RNG seed (a real one reads the OS RNG;
//!   the same seed would redraw the same generation 1 and reuse its nonces).
//! - Knowing the keys, the harness also decodes a frame in flight without touching
//!   either engine ([`Pair::decode`]): which generation sealed it, and the BU/BA/data
//!   inside.
//! - With `MIP6_PCAP_DIR` set, every emitted frame is mirrored into
//!   `<dir>/<name>.pcapng` (packet comments say who sent what) and, when the pair is
//!   dropped, the keys into `<dir>/<name>.esp_sa` (Wireshark's ESP SA table: copy it
//!   into a Wireshark profile, or pass it to tshark with
//!   `mip6_wire::capture::tshark_esp_args`), so a failing test can be opened in
//!   Wireshark.
//!
//! Not modelled: link delays (a frame is in flight until a test delivers it), more
//! than one engine-driven mobile node (other MNs are hand-played with [`Forger`]).

use core::time::Duration;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use mip6_ha::{self as ha, HomeAgent};
use mip6_mn::{self as mn, MobileNode};
use mip6_wire::capture::{self, PcapngWriter};
use mip6_wire::esp::{self, InboundSa, SaKey, Spi, Suite};
use mip6_wire::frames::{self, BindingUpdateFrame, Payload, TunnelEndpoints, DATA_HEADROOM};
use mip6_wire::keys::schedule::{derive_sa_key, Direction};
use mip6_wire::keys::{Generation, GenerationId, KeyTable, RequestMode, Role, Slot, SpiPair};
use mip6_wire::mh::{
    BaStatus, BindingUpdateRepr, BuFlags, KeyDistribution, KeyOption, Message, MobilityOption,
    SequenceNumber,
};
use mip6_wire::tunnel::InnerOrigin;
use mip6_wire::{Secret32, Time};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// The home agent's address (DESIGN.md lab: home link 2001:db8:1::/64).
pub const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// The mobile node's home address.
pub const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
/// A second home address the HA may serve (hand-played with [`Forger`]).
pub const HOA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x200);
/// Care-of address on the first foreign link (2001:db8:2::/64).
pub const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
/// Care-of address on the second foreign link (2001:db8:3::/64).
pub const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);
/// A correspondent (2001:db8:4::/64).
pub const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);
/// Octets of a UDP header.
const UDP_HEADER: usize = 8;
/// Start of every run: 2026-01-01T00:00:00Z.
pub const T0: Time = Time::from_secs(1_767_225_600);
/// The pre-shared initialization secret of [`HOA`].
pub const INIT_SECRET: [u8; 32] = [0x42; 32];
/// The pre-shared initialization secret of [`HOA2`].
pub const INIT_SECRET2: [u8; 32] = [0x43; 32];

/// The init SPIs of [`HOA`]: MN→HA 0x1001, HA→MN 0x2001.
pub fn init_spis() -> SpiPair {
    spi_pair(0x1001, 0x2001)
}

/// The init SPIs of [`HOA2`]: MN→HA 0x1002, HA→MN 0x2002.
pub fn init_spis2() -> SpiPair {
    spi_pair(0x1002, 0x2002)
}

fn spi_pair(mn_to_ha: u32, ha_to_mn: u32) -> SpiPair {
    SpiPair {
        mn_to_ha: Spi::new(mn_to_ha).expect("not reserved"),
        ha_to_mn: Spi::new(ha_to_mn).expect("not reserved"),
    }
}

/// Generation `n` (shorthand for assertions).
pub const fn g(n: u32) -> GenerationId {
    GenerationId::Number(n)
}

/// The init key (shorthand for assertions).
pub const INIT: GenerationId = GenerationId::Init;

/// The HA-side configuration of the second mobile node [`HOA2`].
pub fn second_mn() -> ha::MnConfig {
    ha::MnConfig {
        home_address: HOA2,
        init_secret: Secret32::new(INIT_SECRET2),
        init_spis: init_spis2(),
        init_suite: Suite::Aes128Gcm,
    }
}

/// Configuration of both engines, adjustable before [`Pair::with`].
#[derive(Debug, Clone)]
pub struct PairConfig {
    /// The home agent's configuration (its first MN is the pair's).
    pub ha: ha::HaConfig,
    /// The mobile node's configuration.
    pub mn: mn::MnConfig,
    /// Seed of the HA's RNG (restart k uses `ha_seed + k`).
    pub ha_seed: u64,
    /// Seed of the RNG the MN draws its first BU sequence number from.
    pub mn_seed: u64,
    /// File name stem of the pcapng/esp_sa mirror.
    pub name: String,
}

impl PairConfig {
    /// Matching configurations in `mode`: the MN asks 600 s lifetimes (refresh at
    /// 75 %), the HA grants up to 3600 s (refresh advice at 80 %); neither key update
    /// timer fires within a test unless the test sets it (MN: none; HA: one day).
    pub fn new(mode: RequestMode) -> Self {
        let mn_ha = ha::MnConfig {
            home_address: HOA,
            init_secret: Secret32::new(INIT_SECRET),
            init_spis: init_spis(),
            init_suite: Suite::Aes128Gcm,
        };
        let mut ha = ha::HaConfig::new(HA, vec![mn_ha]);
        ha.mode = mode;
        ha.key_update_interval = Duration::from_secs(86_400);
        let mut mn = mn::MnConfig::new(HA, HOA, Secret32::new(INIT_SECRET), init_spis());
        mn.request_mode = mode;
        mn.key_update_interval = None;
        PairConfig {
            ha,
            mn,
            ha_seed: 7,
            mn_seed: 11,
            name: "pair".to_owned(),
        }
    }

    /// Names the pcapng/esp_sa mirror.
    pub fn named(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// Also serves [`HOA2`] (hand-played with [`Forger::second_mn`]).
    pub fn with_second_mn(mut self) -> Self {
        self.ha.mobile_nodes.push(second_mn());
        self
    }
}

/// Whether a frame in flight is signalling (BU, BA) or tunnelled data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A Binding Update or Acknowledgement.
    Signalling,
    /// A tunnelled data packet.
    Data,
}

/// A frame on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// Signalling or data.
    pub kind: FrameKind,
    /// The whole IPv6 packet.
    pub frame: Vec<u8>,
    /// When it was sent.
    pub sent_at: Time,
}

impl InFlight {
    /// The ESP SPI that sealed it.
    pub fn spi(&self) -> u32 {
        esp_header(&self.frame).0
    }

    /// Its ESP sequence number.
    pub fn esp_seq(&self) -> u32 {
        esp_header(&self.frame).1
    }
}

/// SPI and sequence number of a frame's ESP header (panics if it has none).
pub fn esp_header(frame: &[u8]) -> (u32, u32) {
    let f = frames::inspect(frame).expect("an ESP frame");
    let seq = frame
        .get(f.esp.start + 4..f.esp.start + 8)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .expect("ESP sequence number");
    (f.spi, seq)
}

/// Overwrites the ESP SPI of a frame (panics if it has none).
pub fn set_spi(frame: &mut [u8], spi: u32) {
    let f = frames::inspect(frame).expect("an ESP frame");
    frame[f.esp.start..f.esp.start + 4].copy_from_slice(&spi.to_be_bytes());
}

/// One SA the harness knows the key of.
#[derive(Clone)]
pub struct SaInfo {
    /// The home address it belongs to.
    pub home_address: Ipv6Addr,
    /// Init key or generation number.
    pub id: GenerationId,
    /// Its direction.
    pub direction: Direction,
    key: SaKey,
}

impl core::fmt::Debug for SaInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaInfo")
            .field("home_address", &self.home_address)
            .field("id", &self.id)
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

impl SaInfo {
    fn key_and_salt(&self) -> Vec<u8> {
        let mut v = self.key.key().to_vec();
        v.extend_from_slice(self.key.salt());
        v
    }
}

/// What a frame carries, read with the harness's copy of the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A Binding Update.
    Bu {
        /// Its sequence number.
        sequence: u16,
        /// Lifetime in 4-second units.
        lifetime: u16,
        /// The Home Address option.
        home_address: Option<Ipv6Addr>,
        /// The Alternate Care-of Address option.
        alt_coa: Option<Ipv6Addr>,
        /// The key-management option of our vendor.
        key: Option<KeyOption>,
    },
    /// A Binding Acknowledgement.
    Ba {
        /// Its status.
        status: BaStatus,
        /// Its sequence number.
        sequence: u16,
        /// A Key Distribution option.
        distribution: Option<KeyDistribution>,
        /// The echoed Key Initialization timestamp.
        echo: Option<u64>,
    },
    /// A tunnelled packet.
    Data {
        /// Inner source.
        inner_src: Ipv6Addr,
        /// Inner destination.
        inner_dst: Ipv6Addr,
    },
    /// Anything else that opened.
    Other,
}

/// A frame decoded by the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The key (and its home address) whose SA sealed it.
    pub sealed_with: GenerationId,
    /// The SA's direction.
    pub direction: Direction,
    /// The home address the SA belongs to.
    pub home_address: Ipv6Addr,
    /// What it carries.
    pub content: Content,
}

impl Decoded {
    /// The key option of a BU (None for anything else).
    pub fn bu_key(&self) -> Option<&KeyOption> {
        match &self.content {
            Content::Bu { key, .. } => key.as_ref(),
            _ => None,
        }
    }

    /// The generation a BA's Key Distribution carries.
    pub fn distributed(&self) -> Option<u32> {
        match &self.content {
            Content::Ba { distribution, .. } => distribution.as_ref().map(|d| d.generation),
            _ => None,
        }
    }

    /// A BA's status.
    pub fn ba_status(&self) -> Option<BaStatus> {
        match &self.content {
            Content::Ba { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The SPIs of each filled slot of one side, read from its current record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotSpis {
    /// Init SPIs.
    pub init: SpiPair,
    /// Anterior generation number and SPIs.
    pub anterior: Option<(u32, SpiPair)>,
    /// Newest generation number and SPIs.
    pub newest: Option<(u32, SpiPair)>,
}

impl SlotSpis {
    /// The SPI pair of key `id` in these slots (panics if it is not held).
    #[track_caller]
    pub fn of(&self, id: GenerationId) -> SpiPair {
        match id {
            GenerationId::Init => self.init,
            GenerationId::Number(n) => [self.newest, self.anterior]
                .into_iter()
                .flatten()
                .find(|(m, _)| *m == n)
                .map(|(_, s)| s)
                .unwrap_or_else(|| panic!("generation {n} not held: {self:?}")),
        }
    }

    /// Every MN→HA SPI held.
    pub fn mn_to_ha(&self) -> Vec<u32> {
        self.all().map(|s| s.mn_to_ha.get()).collect()
    }

    /// Every HA→MN SPI held.
    pub fn ha_to_mn(&self) -> Vec<u32> {
        self.all().map(|s| s.ha_to_mn.get()).collect()
    }

    fn all(&self) -> impl Iterator<Item = SpiPair> + '_ {
        [self.newest, self.anterior]
            .into_iter()
            .flatten()
            .map(|(_, s)| s)
            .chain(Some(self.init))
    }
}

/// What a data round trip used ([`Pair::assert_data_flows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFlow {
    /// The key the MN sealed its packet with.
    pub mn_sealed_with: GenerationId,
    /// The key the HA sealed its packet with.
    pub ha_sealed_with: GenerationId,
}

/// How a restarted home agent gets its state back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaRestore {
    /// Every persisted record as stored.
    Full,
    /// Only [`ha::MnRecord::durable_minimum`] of each: the HA lost its keys and
    /// bindings (patent (5), (11)) but not its init nonce and replay state.
    DurableMinimum,
}

struct Capture {
    writer: PcapngWriter<BufWriter<File>>,
    esp_sa: PathBuf,
}

/// One HA and one MN over a network the test drives frame by frame.
pub struct Pair {
    /// Simulated time.
    pub now: Time,
    /// The configuration both engines were built from.
    pub config: PairConfig,
    /// The home agent engine.
    pub ha: HomeAgent<ChaCha20Rng>,
    /// The mobile node engine.
    pub mn: MobileNode,
    /// Frames from the MN (and injected ones) on their way to the HA, in order.
    pub to_ha: VecDeque<InFlight>,
    /// Frames from the HA to the MN, in order.
    pub to_mn: VecDeque<InFlight>,
    /// Frames from the HA to other home addresses (hand-played MNs).
    pub to_others: VecDeque<InFlight>,
    /// The HA's stable storage: the last `Persist` record per home address.
    pub ha_disk: BTreeMap<Ipv6Addr, ha::MnRecord>,
    /// The MN's stable storage: its last `Persist` record.
    pub mn_disk: Option<mn::MnRecord>,
    /// Every HA event since the last [`take_ha_events`](Self::take_ha_events).
    pub ha_events: Vec<ha::Event>,
    /// Every MN event since the last [`take_mn_events`](Self::take_mn_events).
    pub mn_events: Vec<mn::Event>,
    /// Inner packets the HA forwarded out of the tunnel, in order.
    pub ha_forwarded: Vec<Vec<u8>>,
    /// Inner packets the MN received through the tunnel, in order.
    pub mn_received: Vec<Vec<u8>>,
    mn_rng: ChaCha20Rng,
    ha_restarts: u64,
    sas: HashMap<u32, SaInfo>,
    sealed: HashSet<(Vec<u8>, u32)>,
    data_counter: u32,
    capture: Option<Capture>,
}

impl core::fmt::Debug for Pair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pair")
            .field("now", &self.now)
            .field("to_ha", &self.to_ha.len())
            .field("to_mn", &self.to_mn.len())
            .field("ha_keys", &self.ha.keys(&HOA))
            .field("mn_keys", &self.mn.keys())
            .finish_non_exhaustive()
    }
}

impl Pair {
    /// A pair in `mode` with the defaults of [`PairConfig::new`].
    pub fn new(mode: RequestMode) -> Self {
        Pair::with(PairConfig::new(mode))
    }

    /// A pair built from `config`; nothing is sent until [`start`](Self::start).
    pub fn with(config: PairConfig) -> Self {
        let now = T0;
        let ha = HomeAgent::new(
            config.ha.clone(),
            ChaCha20Rng::seed_from_u64(config.ha_seed),
            now,
            Vec::new(),
        )
        .expect("valid HA configuration");
        let mut mn_rng = ChaCha20Rng::seed_from_u64(config.mn_seed);
        let mn = MobileNode::new(config.mn.clone(), &mut mn_rng, now, None);
        let capture = std::env::var_os("MIP6_PCAP_DIR").map(|dir| {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("MIP6_PCAP_DIR is creatable");
            let file = File::create(dir.join(format!("{}.pcapng", config.name)))
                .expect("pcapng file is creatable");
            Capture {
                writer: PcapngWriter::new(BufWriter::new(file)).expect("pcapng header"),
                esp_sa: dir.join(format!("{}.esp_sa", config.name)),
            }
        });
        let mut pair = Pair {
            now,
            ha,
            mn,
            to_ha: VecDeque::new(),
            to_mn: VecDeque::new(),
            to_others: VecDeque::new(),
            ha_disk: BTreeMap::new(),
            mn_disk: None,
            ha_events: Vec::new(),
            mn_events: Vec::new(),
            ha_forwarded: Vec::new(),
            mn_received: Vec::new(),
            mn_rng,
            ha_restarts: 0,
            sas: HashMap::new(),
            sealed: HashSet::new(),
            data_counter: 0,
            capture,
            config,
        };
        for m in pair.config.ha.mobile_nodes.clone() {
            pair.learn(
                m.home_address,
                GenerationId::Init,
                &m.init_secret,
                m.init_spis,
                m.init_suite,
            );
        }
        pair.pump();
        pair
    }

    // ----- keys and state -------------------------------------------------------

    /// The HA's key view for the pair's MN.
    pub fn ha_keys(&self) -> ha::KeyView {
        self.ha.keys(&HOA).expect("HOA is configured")
    }

    /// The MN's key view.
    pub fn mn_keys(&self) -> mn::KeyView {
        self.mn.keys()
    }

    /// The HA's binding for the pair's MN.
    pub fn binding(&self) -> Option<ha::BindingView> {
        self.ha.binding(&HOA)
    }

    /// The HA's counters.
    pub fn ha_counters(&self) -> ha::Counters {
        self.ha.counters().clone()
    }

    /// The MN's counters.
    pub fn mn_counters(&self) -> mn::Counters {
        self.mn.counters().clone()
    }

    /// The SPIs of the HA's slots for the pair's MN (from its current record).
    pub fn ha_spis(&self) -> SlotSpis {
        let r = self.ha.record(&HOA).expect("HOA is configured");
        let slot = |g: &Option<ha::GenerationRecord>| g.as_ref().map(|g| (g.generation, g.spis));
        SlotSpis {
            init: init_spis(),
            anterior: slot(&r.anterior),
            newest: slot(&r.newest),
        }
    }

    /// The SPIs of the MN's slots (from its current record).
    pub fn mn_spis(&self) -> SlotSpis {
        let r = self.mn.record();
        let slot = |g: &Option<mn::GenerationRecord>| g.as_ref().map(|g| (g.generation, g.spis));
        SlotSpis {
            init: init_spis(),
            anterior: slot(&r.anterior),
            newest: slot(&r.newest),
        }
    }

    /// Asserts what the HA transmits with and accepts (newest first), and that its
    /// newest/anterior numbers are the dynamic entries of `accepted`.
    #[track_caller]
    pub fn assert_ha_keys(&self, transmit: GenerationId, accepted: &[GenerationId]) {
        let v = self.ha_keys();
        assert_eq!(v.transmit, transmit, "HA transmit key: {v:?}");
        assert_eq!(v.accepted, accepted, "HA accepted keys: {v:?}");
        let (newest, anterior) = dynamic_numbers(accepted);
        assert_eq!(
            (v.newest, v.anterior),
            (newest, anterior),
            "HA slots: {v:?}"
        );
        assert_eq!(
            v.transmit_spi,
            self.ha_spis().of(transmit).ha_to_mn.get(),
            "HA transmit SPI is its transmit key's: {v:?}"
        );
    }

    /// Asserts what the MN transmits with and accepts (newest first).
    #[track_caller]
    pub fn assert_mn_keys(&self, transmit: GenerationId, accepted: &[GenerationId]) {
        let v = self.mn_keys();
        assert_eq!(v.transmit, transmit, "MN transmit key: {v:?}");
        assert_eq!(v.accepted, accepted, "MN accepted keys: {v:?}");
        let (newest, anterior) = dynamic_numbers(accepted);
        assert_eq!(
            (v.newest, v.anterior),
            (newest, anterior),
            "MN slots: {v:?}"
        );
    }

    /// DESIGN.md invariant 1 on the state, by SPI: the key each side transmits with
    /// is among the keys its peer accepts.
    #[track_caller]
    pub fn assert_keys_concordant(&self) {
        let (ha, mn) = (self.ha_spis(), self.mn_spis());
        let mn_tx = mn.of(self.mn_keys().transmit).mn_to_ha.get();
        assert!(
            ha.mn_to_ha().contains(&mn_tx),
            "MN transmits under {mn_tx:#x}, HA accepts {ha:?}"
        );
        let ha_tx = self.ha_keys().transmit_spi;
        assert!(
            mn.ha_to_mn().contains(&ha_tx),
            "HA transmits under {ha_tx:#x}, MN accepts {mn:?}"
        );
    }

    /// Which key (and home address, direction) an SPI belongs to, among every SA the
    /// pair has seen.
    pub fn sa_of(&self, spi: u32) -> Option<&SaInfo> {
        self.sas.get(&spi)
    }

    /// Which key sealed a frame.
    #[track_caller]
    pub fn sealed_with(&self, frame: &InFlight) -> GenerationId {
        let spi = frame.spi();
        self.sa_of(spi)
            .unwrap_or_else(|| panic!("SPI {spi:#x} is not a known SA"))
            .id
    }

    /// Decodes a frame with the harness's copy of the keys (a fresh replay window:
    /// neither engine's state is touched).
    #[track_caller]
    pub fn decode(&self, frame: &[u8]) -> Decoded {
        let mut buf = frame.to_vec();
        let f = frames::inspect(&buf).expect("an ESP frame");
        let info = self
            .sas
            .get(&f.spi)
            .unwrap_or_else(|| panic!("SPI {:#x} is not a known SA", f.spi))
            .clone();
        let mut sa: InboundSa = InboundSa::new(Spi::new(f.spi).expect("SPI"), info.key.clone());
        let opened = sa
            .open(&mut buf[f.esp.clone()])
            .expect("the frame opens under its SA");
        let vendor = self.config.ha.vendor_id;
        let content = match frames::inbound::classify(&buf, &f, &opened).expect("payload") {
            Payload::Signalling(mh) => {
                let mut key = None;
                let mut alt_coa = None;
                let mut distribution = None;
                let mut echo = None;
                for option in mh.options() {
                    let option = option.expect("well-formed option");
                    if let MobilityOption::AlternateCareOfAddress(a) = option {
                        alt_coa = Some(a);
                    }
                    match KeyOption::from_option(&option, vendor).expect("key option") {
                        Some(KeyOption::KeyDistribution(d)) => distribution = Some(d),
                        Some(KeyOption::KeyInitialization { timestamp }) => {
                            echo = Some(timestamp);
                            key = Some(KeyOption::KeyInitialization { timestamp });
                        }
                        Some(k) => key = Some(k),
                        None => {}
                    }
                }
                match mh.message {
                    Message::BindingUpdate(u) => Content::Bu {
                        sequence: u.sequence.0,
                        lifetime: u.lifetime,
                        home_address: f.chain.home_address,
                        alt_coa,
                        key,
                    },
                    Message::BindingAck(a) => Content::Ba {
                        status: a.status,
                        sequence: a.sequence.0,
                        distribution,
                        echo,
                    },
                    _ => Content::Other,
                }
            }
            Payload::Tunnelled { header, .. } => Content::Data {
                inner_src: header.src_addr,
                inner_dst: header.dst_addr,
            },
            _ => Content::Other,
        };
        Decoded {
            sealed_with: info.id,
            direction: info.direction,
            home_address: info.home_address,
            content,
        }
    }

    // ----- the network ----------------------------------------------------------

    /// The next frame toward the HA.
    #[track_caller]
    pub fn peek_to_ha(&self) -> &InFlight {
        self.to_ha.front().expect("a frame in flight to the HA")
    }

    /// The next frame toward the MN.
    #[track_caller]
    pub fn peek_to_mn(&self) -> &InFlight {
        self.to_mn.front().expect("a frame in flight to the MN")
    }

    /// Delivers the next frame toward the HA; returns what the HA made of it.
    #[track_caller]
    pub fn deliver_to_ha(&mut self) -> ha::Received {
        let f = self.to_ha.pop_front().expect("a frame in flight to the HA");
        self.handle_at_ha(f.frame).0
    }

    /// Delivers the next frame toward the MN; returns what the MN made of it.
    #[track_caller]
    pub fn deliver_to_mn(&mut self) -> mn::Received {
        let f = self.to_mn.pop_front().expect("a frame in flight to the MN");
        self.handle_at_mn(f.frame).0
    }

    /// Loses the next frame toward the HA.
    #[track_caller]
    pub fn drop_next_to_ha(&mut self) -> InFlight {
        self.to_ha.pop_front().expect("a frame in flight to the HA")
    }

    /// Loses the next frame toward the MN.
    #[track_caller]
    pub fn drop_next_to_mn(&mut self) -> InFlight {
        self.to_mn.pop_front().expect("a frame in flight to the MN")
    }

    /// Duplicates the next frame toward the HA (the copy follows it).
    #[track_caller]
    pub fn duplicate_next_to_ha(&mut self) {
        let f = self.peek_to_ha().clone();
        self.to_ha.insert(1, f);
    }

    /// Duplicates the next frame toward the MN (the copy follows it).
    #[track_caller]
    pub fn duplicate_next_to_mn(&mut self) {
        let f = self.peek_to_mn().clone();
        self.to_mn.insert(1, f);
    }

    /// Delivers everything in flight, both ways, until both queues are empty;
    /// returns how many frames were delivered.
    pub fn deliver_all(&mut self) -> usize {
        let mut n = 0;
        while !(self.to_ha.is_empty() && self.to_mn.is_empty()) {
            assert!(n < 10_000, "the engines keep talking: {self:?}");
            if !self.to_ha.is_empty() {
                self.deliver_to_ha();
                n += 1;
            }
            if !self.to_mn.is_empty() {
                self.deliver_to_mn();
                n += 1;
            }
        }
        n
    }

    /// Hands the HA a frame from outside the queues (a replay, a forgery); returns
    /// its verdict and the buffer as the HA left it (decrypted in place).
    pub fn handle_at_ha(&mut self, mut frame: Vec<u8>) -> (ha::Received, Vec<u8>) {
        let r = self.ha.handle(self.now, &mut frame);
        if let ha::Received::Delivered { inner, .. } = &r {
            self.ha_forwarded.push(frame[inner.clone()].to_vec());
        }
        self.pump_ha();
        (r, frame)
    }

    /// Hands the MN a frame from outside the queues.
    pub fn handle_at_mn(&mut self, mut frame: Vec<u8>) -> (mn::Received, Vec<u8>) {
        let r = self.mn.handle(self.now, &mut frame);
        if let mn::Received::Delivered { inner, .. } = &r {
            self.mn_received.push(frame[inner.clone()].to_vec());
        }
        self.pump_mn();
        (r, frame)
    }

    // ----- time -----------------------------------------------------------------

    /// The earliest deadline of either engine.
    pub fn next_deadline(&self) -> Option<Time> {
        match (self.ha.poll_timeout(), self.mn.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves time to the earliest deadline and lets both engines act on it; returns
    /// the new time.
    #[track_caller]
    pub fn advance_to_next_deadline(&mut self) -> Time {
        let at = self.next_deadline().expect("an engine has a deadline");
        self.now = self.now.max(at);
        self.ha.handle_timeout(self.now);
        self.mn.handle_timeout(self.now);
        self.pump();
        self.now
    }

    /// Moves time to `t`, handling every deadline on the way in order.
    pub fn advance_to(&mut self, t: Time) {
        let mut steps = 0;
        while let Some(at) = self.next_deadline().filter(|&at| at <= t) {
            steps += 1;
            assert!(steps < 100_000, "deadlines do not advance: {at}");
            self.now = self.now.max(at);
            self.ha.handle_timeout(self.now);
            self.mn.handle_timeout(self.now);
            self.pump();
        }
        self.now = self.now.max(t);
    }

    /// Moves time forward by `d`.
    pub fn advance_by(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    // ----- the mobile node's movements ------------------------------------------

    /// The MN learns its care-of address (None: at home); a BU goes in flight.
    pub fn move_to(&mut self, coa: Option<Ipv6Addr>) {
        self.mn.set_care_of_address(self.now, coa);
        self.pump_mn();
    }

    /// Starts the MN at `coa`: its first BU (an initialization) goes in flight.
    pub fn start(&mut self, coa: Ipv6Addr) {
        self.move_to(Some(coa));
    }

    /// Starts at [`COA`] and runs the initialization to completion (patent (1)/(7)):
    /// both hold generation 1, the MN is registered.
    #[track_caller]
    pub fn establish(&mut self) {
        self.start(COA);
        self.deliver_all();
        assert_eq!(self.ha_keys().newest, Some(1), "{self:?}");
        assert_eq!(self.mn_keys().newest, Some(1), "{self:?}");
        assert!(self.binding().is_some(), "registered");
    }

    // ----- data -----------------------------------------------------------------

    /// An IPv6/UDP packet `src`:5000 → `dst`:5001 with hop limit 64 carrying
    /// `payload` (UDP checksum computed, so Wireshark shows it clean).
    pub fn inner_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
        let udp_len = u16::try_from(UDP_HEADER + payload.len()).expect("short payload");
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&udp_len.to_be_bytes());
        p.extend_from_slice(&[17, 64]);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(&5000u16.to_be_bytes());
        p.extend_from_slice(&5001u16.to_be_bytes());
        p.extend_from_slice(&udp_len.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        // RFC 8200 §8.1: the checksum covers the pseudo-header and the datagram.
        let mut sum: u32 = 0;
        let mut add = |bytes: &[u8]| {
            for chunk in bytes.chunks(2) {
                let hi = u32::from(chunk[0]) << 8;
                sum += hi | chunk.get(1).map_or(0, |&b| u32::from(b));
            }
        };
        add(&src.octets());
        add(&dst.octets());
        add(&u32::from(udp_len).to_be_bytes());
        add(&[0, 0, 0, 17]);
        add(&p[40..]);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let checksum = match !(sum as u16) {
            0 => 0xffff,
            c => c,
        };
        p[46..48].copy_from_slice(&checksum.to_be_bytes());
        p
    }

    /// The UDP payload of an inner packet built by [`inner_packet`](Self::inner_packet).
    pub fn inner_payload(packet: &[u8]) -> &[u8] {
        packet.get(40 + UDP_HEADER..).unwrap_or_default()
    }

    fn data_buffer(inner: &[u8]) -> Vec<u8> {
        let mut buf = vec![0; DATA_HEADROOM + inner.len() + esp::trailer_len(inner.len())];
        buf[DATA_HEADROOM..DATA_HEADROOM + inner.len()].copy_from_slice(inner);
        buf
    }

    /// The MN tunnels a packet HoA → CN (sealed with `seal_data`); the frame goes in
    /// flight toward the HA.
    pub fn mn_send_data(&mut self, payload: &[u8]) -> Result<(), mn::DataError> {
        let frame = self.mn_seal_data(payload)?;
        self.to_ha.push_back(InFlight {
            kind: FrameKind::Data,
            frame,
            sent_at: self.now,
        });
        Ok(())
    }

    /// The HA tunnels a packet CN → HoA (sealed with `seal_data`); the frame goes in
    /// flight toward the MN.
    pub fn ha_send_data(&mut self, payload: &[u8]) -> Result<(), ha::DataError> {
        let frame = self.ha_seal_data(payload)?;
        self.to_mn.push_back(InFlight {
            kind: FrameKind::Data,
            frame,
            sent_at: self.now,
        });
        Ok(())
    }

    /// Seals a packet HoA → CN at the MN (events drained, frame checked and
    /// mirrored) without queueing it.
    pub fn mn_seal_data(&mut self, payload: &[u8]) -> Result<Vec<u8>, mn::DataError> {
        let inner = Self::inner_packet(HOA, CN, payload);
        let mut buf = Self::data_buffer(&inner);
        let sealed = self.mn.seal_data(self.now, &mut buf, inner.len());
        self.pump_mn();
        let f = sealed?;
        buf.truncate(f.len);
        self.observe(&buf, "MN→HA data");
        Ok(buf)
    }

    /// Seals a packet CN → HoA at the HA without queueing it.
    pub fn ha_seal_data(&mut self, payload: &[u8]) -> Result<Vec<u8>, ha::DataError> {
        let inner = Self::inner_packet(CN, HOA, payload);
        let mut buf = Self::data_buffer(&inner);
        let sealed = self.ha.seal_data(self.now, &mut buf, inner.len());
        self.pump_ha();
        let f = sealed?;
        buf.truncate(f.len);
        self.observe(&buf, "HA→MN data");
        Ok(buf)
    }

    /// DESIGN.md invariant 1 with real frames: one packet each way, sealed by the
    /// engines and handed straight to the peer (overtaking whatever is in flight);
    /// both must be delivered with their payload intact. Returns the keys that
    /// sealed them.
    #[track_caller]
    pub fn assert_data_flows(&mut self) -> DataFlow {
        self.data_counter += 1;
        let payload = format!("data #{} at {}", self.data_counter, self.now).into_bytes();
        let up = self.mn_seal_data(&payload).expect("the MN seals data");
        let mn_sealed_with = self.sealed_with_bytes(&up);
        let (r, _) = self.handle_at_ha(up);
        assert!(
            matches!(r, ha::Received::Delivered { .. }),
            "MN→HA data under {mn_sealed_with:?} not delivered: {r:?}; {self:?}"
        );
        let forwarded = self.ha_forwarded.last().expect("forwarded");
        assert_eq!(
            Self::inner_payload(forwarded),
            payload.as_slice(),
            "MN→HA payload intact"
        );
        let down = self.ha_seal_data(&payload).expect("the HA seals data");
        let ha_sealed_with = self.sealed_with_bytes(&down);
        let (r, _) = self.handle_at_mn(down);
        assert!(
            matches!(r, mn::Received::Delivered { .. }),
            "HA→MN data under {ha_sealed_with:?} not delivered: {r:?}; {self:?}"
        );
        let received = self.mn_received.last().expect("received");
        assert_eq!(
            Self::inner_payload(received),
            payload.as_slice(),
            "HA→MN payload intact"
        );
        DataFlow {
            mn_sealed_with,
            ha_sealed_with,
        }
    }

    fn sealed_with_bytes(&self, frame: &[u8]) -> GenerationId {
        let spi = esp_header(frame).0;
        self.sa_of(spi)
            .map_or_else(|| panic!("unknown SPI {spi:#x}"), |s| s.id)
    }

    // ----- crashes ----------------------------------------------------------------

    /// The HA crashes and restarts from its disk (frames in flight stay in flight).
    pub fn restart_ha(&mut self, how: HaRestore) {
        self.ha_restarts += 1;
        let records: Vec<ha::MnRecord> = match how {
            HaRestore::Full => self.ha_disk.values().cloned().collect(),
            HaRestore::DurableMinimum => self
                .ha_disk
                .values()
                .map(ha::MnRecord::durable_minimum)
                .collect(),
        };
        let rng = ChaCha20Rng::seed_from_u64(self.config.ha_seed + self.ha_restarts);
        self.ha = HomeAgent::new(self.config.ha.clone(), rng, self.now, records)
            .expect("valid HA configuration");
        self.pump_ha();
    }

    /// The MN crashes and restarts from its disk with `policy`; it knows no care-of
    /// address until [`move_to`](Self::move_to).
    pub fn restart_mn(&mut self, policy: mn::RestorePolicy) {
        let mut config = self.config.mn.clone();
        config.restore = policy;
        self.mn = MobileNode::new(config, &mut self.mn_rng, self.now, self.mn_disk.clone());
        self.pump_mn();
    }

    /// Takes the HA events logged so far.
    pub fn take_ha_events(&mut self) -> Vec<ha::Event> {
        std::mem::take(&mut self.ha_events)
    }

    /// Takes the MN events logged so far.
    pub fn take_mn_events(&mut self) -> Vec<mn::Event> {
        std::mem::take(&mut self.mn_events)
    }

    /// The HA's key events (kind, generation) logged so far.
    pub fn ha_key_events(&self) -> Vec<(ha::DistributionKind, u32)> {
        self.ha_events
            .iter()
            .filter_map(|e| match e {
                ha::Event::Keys(k) if k.home_address == HOA => Some((k.kind, k.generation)),
                _ => None,
            })
            .collect()
    }

    /// Injects a frame toward the HA at the back of the queue (not checked for
    /// nonce reuse: it is the attacker's).
    pub fn inject_to_ha(&mut self, frame: Vec<u8>) {
        self.capture_frame(&frame, "injected toward the HA");
        self.to_ha.push_back(InFlight {
            kind: FrameKind::Signalling,
            frame,
            sent_at: self.now,
        });
    }

    // ----- plumbing ---------------------------------------------------------------

    fn pump(&mut self) {
        self.pump_ha();
        self.pump_mn();
    }

    /// Driver contract: events (persist) first, then transmits.
    fn pump_ha(&mut self) {
        while let Some(e) = self.ha.poll_event() {
            if let ha::Event::Persist(r) = &e {
                for gr in [&r.newest, &r.anterior].into_iter().flatten() {
                    let secret = gr.secret.clone();
                    self.learn(r.home_address, g(gr.generation), &secret, gr.spis, gr.suite);
                }
                self.ha_disk.insert(r.home_address, r.clone());
            }
            self.ha_events.push(e);
        }
        while let Some(t) = self.ha.poll_transmit() {
            let to_pair = frames::inspect(&t.frame)
                .map(|f| f.chain.rh2 == Some(HOA))
                .unwrap_or(false);
            self.observe(&t.frame, "HA→MN signalling");
            let f = InFlight {
                kind: FrameKind::Signalling,
                frame: t.frame,
                sent_at: self.now,
            };
            if to_pair {
                self.to_mn.push_back(f);
            } else {
                self.to_others.push_back(f);
            }
        }
    }

    fn pump_mn(&mut self) {
        while let Some(e) = self.mn.poll_event() {
            if let mn::Event::Persist(r) = &e {
                for gr in [&r.newest, &r.anterior].into_iter().flatten() {
                    let secret = gr.secret.clone();
                    self.learn(HOA, g(gr.generation), &secret, gr.spis, gr.suite);
                }
                self.mn_disk = Some(r.clone());
            }
            self.mn_events.push(e);
        }
        while let Some(t) = self.mn.poll_transmit() {
            assert_eq!(t.destination, HA, "the MN only talks to its HA");
            self.observe(&t.frame, "MN→HA signalling");
            self.to_ha.push_back(InFlight {
                kind: FrameKind::Signalling,
                frame: t.frame,
                sent_at: self.now,
            });
        }
    }

    fn learn(
        &mut self,
        home_address: Ipv6Addr,
        id: GenerationId,
        secret: &Secret32,
        spis: SpiPair,
        suite: Suite,
    ) {
        for direction in [Direction::MnToHa, Direction::HaToMn] {
            let spi = spis.get(direction);
            let key = derive_sa_key(secret, &home_address, direction, spi, suite);
            self.sas.insert(
                spi.get(),
                SaInfo {
                    home_address,
                    id,
                    direction,
                    key,
                },
            );
        }
    }

    /// Checks an engine-emitted frame against invariant 2 and mirrors it.
    #[track_caller]
    fn observe(&mut self, frame: &[u8], what: &str) {
        let (spi, seq) = esp_header(frame);
        let info = self
            .sas
            .get(&spi)
            .unwrap_or_else(|| panic!("{what} sealed under SPI {spi:#x} no SA of the pair has"));
        let fresh = self.sealed.insert((info.key_and_salt(), seq));
        assert!(
            fresh,
            "DESIGN.md invariant 2 violated: {what} reuses sequence number {seq} under the key of \
             SPI {spi:#x} ({:?} {:?})",
            info.id, info.direction
        );
        let comment = format!("{what}, SPI {spi:#x} ({:?}) seq {seq}", info.id);
        self.capture_frame(frame, &comment);
    }

    fn capture_frame(&mut self, frame: &[u8], comment: &str) {
        if let Some(c) = &mut self.capture {
            c.writer
                .write_packet_with_comment(self.now.as_micros(), frame, comment)
                .expect("pcapng write");
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let Some(c) = self.capture.take() else {
            return;
        };
        drop(c.writer.into_inner());
        let mut records = Vec::new();
        let mut sas: Vec<(&u32, &SaInfo)> = self.sas.iter().collect();
        sas.sort_by_key(|(spi, s)| (s.home_address, **spi));
        for (spi, info) in sas {
            let direction = match info.direction {
                Direction::MnToHa => capture::Direction::MnToHa,
                Direction::HaToMn => capture::Direction::HaToMn,
            };
            if let Ok(rs) = capture::home_registration_records(
                info.home_address,
                HA,
                *spi,
                direction,
                &info.key_and_salt(),
            ) {
                records.extend(rs);
            }
        }
        if let Ok(file) = File::create(&c.esp_sa) {
            let _ = capture::write_esp_sa_file(&records, BufWriter::new(file));
        }
    }
}

fn dynamic_numbers(accepted: &[GenerationId]) -> (Option<u32>, Option<u32>) {
    let mut numbers = accepted.iter().filter_map(|id| match id {
        GenerationId::Number(n) => Some(*n),
        GenerationId::Init => None,
    });
    (numbers.next(), numbers.next())
}

/// A hand-played mobile node for attacks and for a second MN: a key table with the
/// MN role and mip6-wire's frame builders, sealing whatever a test asks.
pub struct Forger {
    /// The home address it claims by default.
    pub home_address: Ipv6Addr,
    /// The care-of address it sends from.
    pub care_of_address: Ipv6Addr,
    /// Its keys.
    pub keys: KeyTable,
    /// Vendor ID of its key options.
    pub vendor_id: u32,
    /// Sequence number of its last BU.
    pub bu_sequence: u16,
}

impl core::fmt::Debug for Forger {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Forger")
            .field("home_address", &self.home_address)
            .finish_non_exhaustive()
    }
}

impl Forger {
    /// A node holding only its init key.
    pub fn new(home_address: Ipv6Addr, secret: [u8; 32], spis: SpiPair, coa: Ipv6Addr) -> Self {
        let init = Generation::derive(
            Role::MobileNode,
            GenerationId::Init,
            Secret32::new(secret),
            &home_address,
            spis,
            Suite::Aes128Gcm,
        );
        Forger {
            home_address,
            care_of_address: coa,
            keys: KeyTable::new(Role::MobileNode, init),
            vendor_id: mip6_wire::mh::DEFAULT_VENDOR_ID,
            bu_sequence: 0,
        }
    }

    /// The second MN ([`HOA2`]) at [`COA2`], init key only.
    pub fn second_mn() -> Self {
        Forger::new(HOA2, INIT_SECRET2, init_spis2(), COA2)
    }

    /// A copy of the pair's MN keys as its record holds them (an insider, or the MN
    /// itself behaving as the engine never would), every outbound SA resuming
    /// `offset` sequence numbers past the record's mark so it never reuses a nonce
    /// the engine uses in a test.
    pub fn clone_of_mn(record: &mn::MnRecord, coa: Ipv6Addr, offset: u64) -> Self {
        let mut f = Forger::new(HOA, INIT_SECRET, init_spis(), coa);
        let resume = |g: &mut Generation, mark: u64| {
            let sa = g.outbound_mut();
            *sa = sa.clone().with_next_sequence(mark + offset);
        };
        if let Some(init) = f.keys.get_mut(Slot::Init) {
            resume(init, record.init_outbound_mark);
        }
        for gr in [&record.anterior, &record.newest].into_iter().flatten() {
            let mut generation = Generation::derive(
                Role::MobileNode,
                g(gr.generation),
                gr.secret.clone(),
                &HOA,
                gr.spis,
                gr.suite,
            );
            resume(&mut generation, gr.outbound_mark);
            f.keys.install_newest(generation).expect("distinct SPIs");
        }
        f
    }

    /// A home-registration BU (A|H, 600 s) with the next sequence number, sealed
    /// with `slot`, naming `home_address` in its Home Address option.
    pub fn bu(&mut self, slot: Slot, home_address: Ipv6Addr, key: Option<KeyOption>) -> Vec<u8> {
        self.bu_sequence = self.bu_sequence.wrapping_add(1);
        self.bu_with(
            slot,
            home_address,
            SequenceNumber(self.bu_sequence),
            150,
            key,
        )
    }

    /// A BU with every field given.
    pub fn bu_with(
        &mut self,
        slot: Slot,
        home_address: Ipv6Addr,
        sequence: SequenceNumber,
        lifetime_units: u16,
        key: Option<KeyOption>,
    ) -> Vec<u8> {
        let body = key.as_ref().map(KeyOption::encode);
        let options: Vec<MobilityOption<'_>> =
            body.iter().map(|b| b.to_option(self.vendor_id)).collect();
        let update = BindingUpdateRepr {
            sequence,
            flags: BuFlags::A | BuFlags::H,
            lifetime: lifetime_units,
        };
        let frame =
            BindingUpdateFrame::new(self.care_of_address, HA, home_address, update, &options);
        let mut buf = vec![0; frame.buffer_len().expect("BU layout")];
        let sa = self.keys.get_mut(slot).expect("slot filled").outbound_mut();
        let n = frame.seal(sa, &mut buf).expect("seal");
        buf.truncate(n);
        buf
    }

    /// A tunnelled packet `inner_src` → CN from `outer_src`, sealed with `slot`.
    pub fn data(
        &mut self,
        slot: Slot,
        outer_src: Ipv6Addr,
        inner_src: Ipv6Addr,
        payload: &[u8],
    ) -> Vec<u8> {
        let inner = Pair::inner_packet(inner_src, CN, payload);
        let mut buf = Pair::data_buffer(&inner);
        let sa = self.keys.get_mut(slot).expect("slot filled").outbound_mut();
        let ep = TunnelEndpoints::new(outer_src, HA);
        let n = frames::seal_data_in_place(&ep, sa, &mut buf, inner.len(), InnerOrigin::Local)
            .expect("seal");
        buf.truncate(n);
        buf
    }

    /// Opens a BA sent to this node; returns the slot and what it carried, and
    /// installs a Key Distribution in it as newest.
    pub fn take_ba(&mut self, mut frame: Vec<u8>) -> (Slot, Content) {
        let opened = frames::open(&mut frame, &mut self.keys).expect("BA opens");
        let Payload::Signalling(mh) = opened.payload else {
            panic!("not signalling")
        };
        let Message::BindingAck(ack) = mh.message else {
            panic!("not a BA")
        };
        let mut distribution = None;
        let mut echo = None;
        for option in mh.options() {
            match KeyOption::from_option(&option.expect("option"), self.vendor_id)
                .expect("key option")
            {
                Some(KeyOption::KeyDistribution(d)) => distribution = Some(d),
                Some(KeyOption::KeyInitialization { timestamp }) => echo = Some(timestamp),
                _ => {}
            }
        }
        if let Some(d) = &distribution {
            let generation = Generation::derive(
                Role::MobileNode,
                g(d.generation),
                d.secret.clone(),
                &self.home_address,
                SpiPair {
                    mn_to_ha: Spi::new(d.spi_mn_to_ha).expect("SPI"),
                    ha_to_mn: Spi::new(d.spi_ha_to_mn).expect("SPI"),
                },
                d.suite,
            );
            self.keys.install_newest(generation).expect("distinct SPIs");
        }
        (
            opened.slot,
            Content::Ba {
                status: ack.status,
                sequence: ack.sequence.0,
                distribution,
                echo,
            },
        )
    }
}
