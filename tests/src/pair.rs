//! A deterministic pair harness: one [`HomeAgent`] and one [`MobileNode`] with
//! matching configurations, simulated time, and the network between them as two
//! explicit in-flight queues a test inspects, drops, duplicates, reorders or delivers
//! one frame at a time (in the manner of quinn-proto's `src/tests/util.rs` `Pair`).
//!
//! - Addresses, the start time and the init keys are the test kit's lab
//!   (`mip6_testkit::lab`, re-exported here): HA 2001:db8:1::1, HoA 2001:db8:1::100,
//!   care-of addresses 2001:db8:2::100 ([`COA`]) and 2001:db8:3::100 ([`COA2`]),
//!   correspondent 2001:db8:4::10 ([`CN`]); the request mode is a parameter.
//! - The driver contract of both engines is kept, through the kit's stepper: after
//!   every call the harness drains `poll_event` first, writes each `Persist` record to
//!   that side's "disk" ([`Pair::ha_disk`], [`Pair::mn_disk`]), then queues what
//!   `poll_transmit` (or `seal_data`) produced. A restart ([`Pair::restart_ha`],
//!   [`Pair::restart_mn`]) builds the engine again from that disk.
//! - Every frame an engine emits goes through the kit's nonce ledger (invariant 2):
//!   the harness teaches it every SA's key (from the configuration and the persisted
//!   generations) and panics if a (key, sequence number) is ever sealed twice, or a
//!   sequence number goes backwards — across restarts too. A restarted HA gets a fresh
//!   RNG seed (a real one reads the OS RNG; the same seed would redraw the same
//!   generation 1 and reuse its nonces).
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
//! than one engine-driven mobile node (other MNs are the kit's scripted
//! [`ScriptedMn`]s; [`clone_of_mn`] makes one holding the pair's MN keys).

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use mip6_ha::{self as ha, HomeAgent};
use mip6_mn::{self as mn, MobileNode};
use mip6_testkit::ledger::LedgerKey;
use mip6_testkit::signalling::OptionsRead;
use mip6_testkit::{stepper, NonceLedger};
use mip6_wire::capture::{self, PcapngWriter};
use mip6_wire::esp::{InboundSa, Spi};
use mip6_wire::frames::{self, Payload};
use mip6_wire::keys::schedule::Direction;
use mip6_wire::keys::{GenerationId, RequestMode, Slot, SpiPair};
use mip6_wire::mh::{BaStatus, KeyDistribution, KeyOption, Message};
use mip6_wire::Time;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub use mip6_testkit::lab::{
    g, init_key, init_spis, init_spis2, second_init_key, CN, COA, COA2, HA, HOA, HOA2, INIT,
    INIT_SECRET, INIT_SECRET2, T0,
};
pub use mip6_testkit::packet::{esp_header, set_spi, udp_packet, udp_payload};
pub use mip6_testkit::signalling::{home_registration, key_initialization};
pub use mip6_testkit::ScriptedMn;

use crate::engine_keys::{ha_mn_config, ha_record_keys, init_key_of, mn_config, mn_record_keys};

/// The HA-side configuration of the second mobile node [`HOA2`].
pub fn second_mn() -> ha::MnConfig {
    ha_mn_config(&second_init_key())
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
    /// timer fires within a test unless the test sets it (MN: none; HA: one day), and
    /// no update follows an initialization by itself (`rekey_after_initialization`
    /// off on both ends, so the patent's sequences run as written; a test that wants
    /// the daemons' default sets it).
    pub fn new(mode: RequestMode) -> Self {
        let mut ha = ha::HaConfig::new(HA, vec![ha_mn_config(&init_key())]);
        ha.mode = mode;
        ha.key_update_interval = Duration::from_secs(86_400);
        ha.rekey_after_initialization = false;
        let mut mn = mn_config(HA, &init_key());
        mn.request_mode = mode;
        mn.key_update_interval = None;
        mn.rekey_after_initialization = false;
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

    /// Also serves [`HOA2`] (hand-played with [`ScriptedMn::second`]).
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
        self.esp_header().0
    }

    /// Its ESP sequence number.
    pub fn esp_seq(&self) -> u32 {
        self.esp_header().1
    }

    fn esp_header(&self) -> (u32, u32) {
        esp_header(&self.frame).expect("an ESP frame")
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
    /// No record at all: the store was wiped or removed (issue 12, item 9). The HA's
    /// sequence numbers start again under the same init keys, which the nonce ledger
    /// is told (`NonceLedger::state_lost`): only a repeated nonce fails.
    Nothing,
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
    /// The HA's lagging records (`Event::PersistLagging`) not yet on `ha_disk`: they
    /// land at the HA's next pump; a restart before it loses them.
    pub ha_lagging: BTreeMap<Ipv6Addr, ha::MnRecord>,
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
    ledger: NonceLedger,
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
            ha_lagging: BTreeMap::new(),
            mn_disk: None,
            ha_events: Vec::new(),
            mn_events: Vec::new(),
            ha_forwarded: Vec::new(),
            mn_received: Vec::new(),
            mn_rng,
            ha_restarts: 0,
            ledger: NonceLedger::new(),
            data_counter: 0,
            capture,
            config,
        };
        for m in &pair.config.ha.mobile_nodes {
            pair.ledger.learn(&init_key_of(m));
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

    /// docs/architecture.md invariant 1 on the state, by SPI: the key each side transmits with
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

    /// Which key (and home address, direction) an SPI names now, among every SA the
    /// pair has seen.
    pub fn sa_of(&self, spi: u32) -> Option<&LedgerKey> {
        self.ledger.key_of_spi(spi)
    }

    /// Which key sealed a frame.
    #[track_caller]
    pub fn sealed_with(&self, frame: &InFlight) -> GenerationId {
        self.sealed_with_bytes(&frame.frame)
    }

    #[track_caller]
    fn sealed_with_bytes(&self, frame: &[u8]) -> GenerationId {
        let spi = esp_header(frame).expect("an ESP frame").0;
        self.sa_of(spi)
            .unwrap_or_else(|| panic!("SPI {spi:#x} is not a known SA"))
            .material
            .id
    }

    /// Decodes a frame with the harness's copy of the keys (a fresh replay window:
    /// neither engine's state is touched).
    #[track_caller]
    pub fn decode(&self, frame: &[u8]) -> Decoded {
        let mut buf = frame.to_vec();
        let f = frames::inspect(&buf).expect("an ESP frame");
        let key = self
            .sa_of(f.spi)
            .unwrap_or_else(|| panic!("SPI {:#x} is not a known SA", f.spi));
        let mut sa: InboundSa = InboundSa::new(
            Spi::new(f.spi).expect("SPI"),
            key.material.sa_key(key.direction),
        );
        let opened = sa
            .open(&mut buf[f.esp.clone()])
            .expect("the frame opens under its SA");
        let content = match frames::inbound::classify(&buf, &f, &opened).expect("payload") {
            Payload::Signalling(mh) => {
                let options = OptionsRead::read(&mh, self.config.ha.vendor_id);
                match mh.message {
                    Message::BindingUpdate(u) => Content::Bu {
                        sequence: u.sequence.0,
                        lifetime: u.lifetime,
                        home_address: f.chain.home_address,
                        alt_coa: options.alt_coa,
                        key: options.request().cloned(),
                    },
                    Message::BindingAck(a) => Content::Ba {
                        status: a.status,
                        sequence: a.sequence.0,
                        distribution: options.distribution().cloned(),
                        echo: options.echo(),
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
            sealed_with: key.material.id,
            direction: key.direction,
            home_address: key.material.home_address,
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
        stepper::next_deadline(self.deadlines())
    }

    fn deadlines(&self) -> [Option<Time>; 2] {
        [self.ha.poll_timeout(), self.mn.poll_timeout()]
    }

    /// Both engines act on `now` (each ignores it if nothing of its is due).
    fn fire_timeouts(&mut self) {
        self.ha.handle_timeout(self.now);
        self.mn.handle_timeout(self.now);
        self.pump();
    }

    /// Moves time to the earliest deadline and lets both engines act on it; returns
    /// the new time.
    #[track_caller]
    pub fn advance_to_next_deadline(&mut self) -> Time {
        self.now = stepper::jump_to_deadline(self.now, self.deadlines(), None)
            .expect("an engine has a deadline");
        self.fire_timeouts();
        self.now
    }

    /// Moves time to `t`, handling every deadline on the way in order.
    pub fn advance_to(&mut self, t: Time) {
        let mut steps = 0;
        while let Some(at) = stepper::jump_to_deadline(self.now, self.deadlines(), Some(t)) {
            steps += 1;
            assert!(steps < 100_000, "deadlines do not advance: {at}");
            self.now = at;
            self.fire_timeouts();
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
        let inner = udp_packet(HOA, CN, payload);
        let sealed = stepper::seal_packet(&mut self.mn, self.now, &inner);
        self.pump_mn();
        let frame = sealed?.frame;
        self.observe(&frame, Direction::MnToHa, "MN→HA data");
        Ok(frame)
    }

    /// Seals a packet CN → HoA at the HA without queueing it.
    pub fn ha_seal_data(&mut self, payload: &[u8]) -> Result<Vec<u8>, ha::DataError> {
        let inner = udp_packet(CN, HOA, payload);
        let sealed = stepper::seal_packet(&mut self.ha, self.now, &inner);
        self.pump_ha();
        let frame = sealed?.frame;
        self.observe(&frame, Direction::HaToMn, "HA→MN data");
        Ok(frame)
    }

    /// docs/architecture.md invariant 1 with real frames: one packet each way, sealed by the
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
            udp_payload(forwarded),
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
            udp_payload(received),
            payload.as_slice(),
            "HA→MN payload intact"
        );
        DataFlow {
            mn_sealed_with,
            ha_sealed_with,
        }
    }

    /// After a restart of the HA from full records (issue 12, item 10): the MN's
    /// next data frame, under a restored generation, is dropped and answered with a
    /// Binding Refresh Request; the MN's BU gets it a fresh generation. Runs that
    /// exchange to the end and returns the HA's key events of it.
    #[track_caller]
    pub fn refresh_after_ha_restart(&mut self) -> Vec<(ha::DistributionKind, u32)> {
        let before = self.ha_key_events().len();
        let up = self
            .mn_seal_data(b"first data after the HA restart")
            .expect("the MN seals data");
        let (r, _) = self.handle_at_ha(up);
        assert_eq!(
            r,
            ha::Received::Dropped(ha::DropReason::DataUnderRestoredKey),
            "{self:?}"
        );
        assert!(!self.to_mn.is_empty(), "a BRR is on its way");
        self.deliver_all();
        self.ha_key_events()[before..].to_vec()
    }

    // ----- crashes ----------------------------------------------------------------

    /// The HA crashes and restarts from its disk (frames in flight stay in flight).
    pub fn restart_ha(&mut self, how: HaRestore) {
        self.ha_restarts += 1;
        self.ha_lagging.clear();
        let records: Vec<ha::MnRecord> = match how {
            HaRestore::Full => self.ha_disk.values().cloned().collect(),
            HaRestore::DurableMinimum => self
                .ha_disk
                .values()
                .map(ha::MnRecord::durable_minimum)
                .collect(),
            HaRestore::Nothing => {
                self.ha_disk.clear();
                self.ledger.state_lost(Direction::HaToMn);
                Vec::new()
            }
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

    /// Driver contract (the kit's stepper): events first — each `Persist` on the
    /// disk, its keys in the ledger — then the frames.
    fn pump_ha(&mut self) {
        self.ha_disk.append(&mut self.ha_lagging);
        let transmits = stepper::drain(&mut self.ha, |e| {
            match &e {
                ha::Event::Persist(r) => {
                    for key in ha_record_keys(r) {
                        self.ledger.learn(&key);
                    }
                    self.ha_lagging.remove(&r.home_address);
                    self.ha_disk.insert(r.home_address, r.clone());
                }
                ha::Event::PersistLagging(r) => {
                    for key in ha_record_keys(r) {
                        self.ledger.learn(&key);
                    }
                    self.ha_lagging.insert(r.home_address, r.clone());
                }
                _ => {}
            }
            self.ha_events.push(e);
        });
        for t in transmits {
            // A BA reaches the pair's node when it is sealed under one of that node's
            // SAs (only it can open it); its RH2 names whatever home address the BU
            // claimed (RFC 6275 §9.5.4), so it cannot tell.
            let to_pair = t
                .spi
                .and_then(|spi| self.ledger.key(Direction::HaToMn, spi))
                .is_some_and(|k| k.material.home_address == HOA);
            self.observe(&t.frame, Direction::HaToMn, "HA→MN signalling");
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
        let transmits = stepper::drain(&mut self.mn, |e| {
            if let mn::Event::Persist(r) = &e {
                for key in mn_record_keys(HOA, r) {
                    self.ledger.learn(&key);
                }
                self.mn_disk = Some(r.clone());
            }
            self.mn_events.push(e);
        });
        for t in transmits {
            assert_eq!(t.destination, HA, "the MN only talks to its HA");
            self.observe(&t.frame, Direction::MnToHa, "MN→HA signalling");
            self.to_ha.push_back(InFlight {
                kind: FrameKind::Signalling,
                frame: t.frame,
                sent_at: self.now,
            });
        }
    }

    /// Checks an engine-emitted frame against invariant 2 (the kit's nonce ledger)
    /// and mirrors it.
    #[track_caller]
    fn observe(&mut self, frame: &[u8], direction: Direction, what: &str) {
        let sealed = self
            .ledger
            .record(direction, frame)
            .unwrap_or_else(|e| panic!("docs/architecture.md invariant 2 violated: {what}: {e}"));
        let id = self
            .ledger
            .key(direction, sealed.spi)
            .map(|k| k.material.id);
        let comment = format!(
            "{what}, SPI {:#x} ({id:?}) seq {}",
            sealed.spi, sealed.sequence
        );
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
        let mut keys: Vec<&LedgerKey> = self.ledger.current_keys().collect();
        keys.sort_by_key(|k| (k.material.home_address, k.spi()));
        for key in keys {
            let direction = match key.direction {
                Direction::MnToHa => capture::Direction::MnToHa,
                Direction::HaToMn => capture::Direction::HaToMn,
            };
            let sa_key = key.material.sa_key(key.direction);
            let mut key_and_salt = sa_key.key().to_vec();
            key_and_salt.extend_from_slice(sa_key.salt());
            if let Ok(rs) = capture::home_registration_records(
                key.material.home_address,
                HA,
                key.spi(),
                direction,
                &key_and_salt,
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

/// A copy of the pair's MN keys as its record holds them (an insider, or the MN
/// itself behaving as the engine never would), at `coa`, every outbound SA resuming
/// `offset` sequence numbers past the record's mark so it never reuses a nonce the
/// engine uses in a test.
pub fn clone_of_mn(record: &mn::MnRecord, coa: Ipv6Addr, offset: u64) -> ScriptedMn {
    let mut clone = ScriptedMn::new(&init_key(), coa);
    clone.resume_outbound(Slot::Init, record.init_outbound_mark + offset);
    for key in mn_record_keys(HOA, record)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        clone.install_key(&key);
    }
    let marks = [&record.newest, &record.anterior].map(|g| g.as_ref().map(|g| g.outbound_mark));
    for (slot, mark) in [Slot::Newest, Slot::Anterior].into_iter().zip(marks) {
        if let Some(mark) = mark {
            clone.resume_outbound(slot, mark + offset);
        }
    }
    clone
}
