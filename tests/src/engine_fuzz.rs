//! The engine fuzz targets `ha_engine` and `mn_engine`: each drives a whole engine
//! (home agent, mobile node) with the identity AEAD `mip6_wire::esp::NullAead`
//! (feature `null-aead`), so a fuzzer gets past the ICV into the binding and key
//! logic, as rustls' fuzzing provider lets its fuzzers past the handshake MACs.
//!
//! The input is a script of operations, read octet by octet ([`Script`]): time
//! passing, a Binding Update (or Acknowledgement) built from fuzzed fields by a peer
//! played with the test kit's key table, a tunnelled packet, raw octets, a packet from
//! the host, a replay of an earlier frame, a crash and restart from the persisted
//! records. The first octet picks the configuration (explicit or implicit key
//! requests, sequence-number blocks of 1 or the default). A script runs at most
//! [`MAX_OPS`] operations.
//!
//! Properties, beyond "never panics":
//!
//! - **invariant 2** (RFC 4303 §3.3.3, RFC 4106 §3): every frame an engine seals goes
//!   through the test kit's [`NonceLedger`], which knows every key from the
//!   configurations and from every record the engine persisted, across restarts; no
//!   (key, sequence number) is sealed twice or backwards, and nothing is sealed under
//!   a key the engine had not persisted first (the driver contract);
//! - every signalling frame the engine sends is one the peer can open and parse.
//!
//! A restart draws the engine's RNG from a new seed, as a restarted daemon draws from
//! the OS: the same seed would draw the same secrets again and make the ledger see a
//! reuse the real daemon cannot make.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use mip6_ha::{HaConfig, HomeAgent};
use mip6_mn::{MnConfig, MobileNode, RestorePolicy};
use mip6_testkit::lab::{init_key, second_init_key, CN, COA, COA2, HA, HOA, HOA2, T0};
use mip6_testkit::packet::{data_buffer, udp_packet};
use mip6_testkit::signalling::{seal_ba, seal_brr, AckFields, BuSpec, OptionsRead};
use mip6_testkit::{stepper, KeyMaterial, NonceLedger};
use mip6_wire::engine::Transmit;
use mip6_wire::esp::{NullAead, Suite};
use mip6_wire::frames::{self, Payload, TunnelEndpoints};
use mip6_wire::keys::{Direction, KeyTable, RequestMode, Role, Slot};
use mip6_wire::mh::{
    BaStatus, BindingUpdateRepr, BuFlags, KeyDistribution, KeyOption, Message, SequenceNumber,
    DEFAULT_VENDOR_ID,
};
use mip6_wire::tunnel::InnerOrigin;
use mip6_wire::{Secret32, Time};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::engine_keys::{ha_mn_config, ha_record_keys, mn_config, mn_record_keys};

/// Most operations one input runs (keeps an execution short).
pub const MAX_OPS: usize = 96;

/// `MIP6_FUZZ_TRACE=1` prints every operation and event of a script to stderr (to
/// read a crash the fuzzer found: `MIP6_FUZZ_INPUT=FILE cargo test -p mip6-tests
/// --lib engine_fuzz::tests::replay_input -- --ignored --nocapture`).
fn tracing_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("MIP6_FUZZ_TRACE").is_ok_and(|v| v == "1"))
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing_on() {
            eprintln!($($arg)*);
        }
    };
}

/// The fuzz input read as a script: each read takes the next octets, and an input
/// that runs out reads zeros (so every prefix of an input is a valid script).
#[derive(Debug)]
pub struct Script<'a> {
    data: &'a [u8],
}

impl<'a> Script<'a> {
    /// A script over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Script { data }
    }

    /// The next octet, `None` at the end.
    pub fn op(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    /// The next octet (0 past the end).
    pub fn u8(&mut self) -> u8 {
        self.op().unwrap_or(0)
    }

    /// The next two octets, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// The next eight octets, big-endian.
    pub fn u64(&mut self) -> u64 {
        (0..4).fold(0u64, |a, _| (a << 16) | u64::from(self.u16()))
    }

    /// Up to `n` next octets.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// The slot a script names, the transmit slot when that one is empty.
fn pick_slot<A: mip6_wire::esp::EspAead>(table: &KeyTable<A>, choice: u8) -> Slot {
    let slot = match choice % 4 {
        1 => Slot::Init,
        2 => Slot::Anterior,
        3 => Slot::Newest,
        _ => table.transmit_slot(),
    };
    if table.get(slot).is_some() {
        slot
    } else {
        table.transmit_slot()
    }
}

/// The address a script names (lab addresses, so replies find their peer).
fn pick_address(choice: u8, own: Ipv6Addr) -> Ipv6Addr {
    match choice % 6 {
        1 => COA,
        2 => COA2,
        3 => HOA,
        4 => HOA2,
        5 => CN,
        _ => own,
    }
}

/// Time passing: up to ~18 h, so lifetimes, refreshes and key timers all expire.
fn advance(script: &mut Script<'_>) -> Duration {
    let units = script.u16();
    match units >> 14 {
        0 => Duration::from_millis(u64::from(units)),
        1 => Duration::from_secs(u64::from(units & 0x3fff) % 700),
        _ => Duration::from_secs(u64::from(units & 0x3fff) * 4),
    }
}

/// A packet of the host: UDP from `src` to `dst` with a payload the script sizes.
fn host_packet(script: &mut Script<'_>, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let len = usize::from(script.u8()) * 6;
    udp_packet(src, dst, &vec![0x5a; len])
}

/// Panics unless the ledger accepts `frame`, sealed in `direction`.
fn check_sealed(ledger: &mut NonceLedger, direction: Direction, frame: &[u8], what: &str) {
    if let Err(e) = ledger.record(direction, frame) {
        panic!("invariant 2: {what}: {e}");
    }
}

// ---------------------------------------------------------------------------------
// The home agent target.

/// A mobile node played against the home agent: its keys, its addresses, its BUs.
struct PlayedMn {
    home_address: Ipv6Addr,
    care_of_address: Ipv6Addr,
    keys: KeyTable<NullAead>,
    bu_sequence: u16,
    asked_initialization: bool,
}

impl PlayedMn {
    fn new(init: &KeyMaterial, care_of_address: Ipv6Addr) -> Self {
        PlayedMn {
            home_address: init.home_address,
            care_of_address,
            keys: KeyTable::new(Role::MobileNode, init.derive_with(Role::MobileNode)),
            bu_sequence: 0,
            asked_initialization: false,
        }
    }

    /// A BA the home agent sent this node: opened with its keys, the generation it
    /// distributes installed as the key protocol says (initialize after a Key
    /// Initialization Request, else newest).
    fn take_ba(&mut self, frame: &[u8]) {
        let mut buf = frame.to_vec();
        let Ok(opened) = frames::open(&mut buf, &mut self.keys) else {
            return;
        };
        let Payload::Signalling(mh) = opened.payload else {
            panic!(
                "the home agent sent a non-signalling frame to {}",
                self.home_address
            );
        };
        let Message::BindingAck(ack) = mh.message else {
            return;
        };
        let options = OptionsRead::read(&mh, DEFAULT_VENDOR_ID);
        let Some(d) = options.distribution().filter(|_| ack.status.is_accepted()) else {
            return;
        };
        let generation =
            KeyMaterial::distributed(self.home_address, d).derive_with(Role::MobileNode);
        let _ = if self.asked_initialization {
            self.keys.initialize(generation).map(drop)
        } else {
            self.keys.install_newest(generation).map(drop)
        };
    }
}

struct HaWorld {
    now: Time,
    seed: u64,
    config: HaConfig,
    ha: HomeAgent<ChaCha8Rng, NullAead>,
    disk: BTreeMap<Ipv6Addr, mip6_ha::MnRecord>,
    /// Lagging records (`Event::PersistLagging`): on `disk` at the next drain, lost
    /// in a crash before it.
    lagging: BTreeMap<Ipv6Addr, mip6_ha::MnRecord>,
    ledger: NonceLedger,
    peers: [PlayedMn; 2],
    last_frame: Vec<u8>,
}

impl HaWorld {
    fn new(setup: u8) -> Self {
        let keys = [init_key(), second_init_key()];
        let mut config = HaConfig::new(HA, keys.iter().map(ha_mn_config).collect());
        if setup & 1 != 0 {
            config.mode = RequestMode::Implicit;
        }
        if setup & 2 != 0 {
            config.sequence_block = 1;
        }
        config.key_update_interval = Duration::from_secs(30);
        let mut ledger = NonceLedger::new();
        for k in &keys {
            ledger.learn(k);
        }
        let ha = HomeAgent::with_cipher(config.clone(), ChaCha8Rng::seed_from_u64(0), T0, vec![])
            .expect("the lab configuration");
        HaWorld {
            now: T0,
            seed: 0,
            config,
            ha,
            disk: BTreeMap::new(),
            lagging: BTreeMap::new(),
            ledger,
            peers: [PlayedMn::new(&keys[0], COA), PlayedMn::new(&keys[1], COA2)],
            last_frame: Vec::new(),
        }
    }

    /// Drains the engine as the driver contract says: events first (every record
    /// learned and kept), then its frames, each checked by the ledger and handed to
    /// the node it is for.
    fn drain(&mut self) {
        let (ledger, disk, lagging) = (&mut self.ledger, &mut self.disk, &mut self.lagging);
        disk.append(lagging);
        let frames = stepper::drain(&mut self.ha, |e| {
            trace!("  HA event {e:?}");
            match e {
                mip6_ha::Event::Persist(r) => {
                    for key in ha_record_keys(&r) {
                        ledger.learn(&key);
                    }
                    lagging.remove(&r.home_address);
                    disk.insert(r.home_address, r);
                }
                mip6_ha::Event::PersistLagging(r) => {
                    for key in ha_record_keys(&r) {
                        ledger.learn(&key);
                    }
                    lagging.insert(r.home_address, r);
                }
                _ => {}
            }
        });
        for t in frames {
            self.sent(t);
        }
    }

    fn sent(&mut self, t: Transmit) {
        if t.spi.is_some() {
            check_sealed(
                &mut self.ledger,
                Direction::HaToMn,
                &t.frame,
                "HA signalling",
            );
        }
        if let Some(peer) = self
            .peers
            .iter_mut()
            .find(|p| p.care_of_address == t.destination || p.home_address == t.destination)
        {
            peer.take_ba(&t.frame);
        }
    }

    fn deliver(&mut self, mut frame: Vec<u8>) {
        let copy = frame.clone();
        let received = self.ha.handle(self.now, &mut frame);
        trace!("  HA received {} octets: {received:?}", copy.len());
        self.last_frame = copy;
        self.drain();
    }

    fn bu(&mut self, script: &mut Script<'_>) -> Vec<u8> {
        let p = &mut self.peers[usize::from(script.u8() & 1)];
        let slot = pick_slot(&p.keys, script.u8());
        let sequence = match script.u8() {
            0..=199 => {
                p.bu_sequence = p.bu_sequence.wrapping_add(1);
                p.bu_sequence
            }
            _ => script.u16(),
        };
        let flags = match script.u8() {
            0..=159 => BuFlags::A | BuFlags::H,
            b => BuFlags(u16::from(b) << 8),
        };
        let lifetime = match script.u8() {
            0..=127 => 150,
            200..=255 => 0,
            _ => script.u16(),
        };
        let key = match script.u8() % 6 {
            1 => Some(KeyOption::KeyInitialization {
                timestamp: match script.u8() {
                    0..=199 => self.now.to_ntp(),
                    _ => script.u64(),
                },
            }),
            2 => Some(KeyOption::KeyUpdateRequest),
            3 => Some(KeyOption::KeyResendingRequest),
            4 => Some(KeyOption::KeyDistribution(fuzzed_distribution(script, 0))),
            _ => None,
        };
        p.asked_initialization = matches!(key, Some(KeyOption::KeyInitialization { .. }));
        let care_of_address = pick_address(script.u8(), p.care_of_address);
        let home_address = match script.u8() % 8 {
            0 => pick_address(script.u8(), p.home_address),
            _ => p.home_address,
        };
        let keys: Vec<KeyOption> = key.into_iter().collect();
        let spec = BuSpec {
            care_of_address,
            home_address,
            update: BindingUpdateRepr {
                sequence: SequenceNumber(sequence),
                flags,
                lifetime,
            },
            keys: &keys,
            vendor_id: DEFAULT_VENDOR_ID,
        };
        let sa = p.keys.get_mut(slot).expect("a filled slot").outbound_mut();
        spec.seal(sa)
    }

    fn data(&mut self, script: &mut Script<'_>) -> Vec<u8> {
        let p = &mut self.peers[usize::from(script.u8() & 1)];
        let slot = pick_slot(&p.keys, script.u8());
        let inner_src = pick_address(script.u8(), p.home_address);
        let inner = host_packet(script, inner_src, CN);
        let mut buf = data_buffer(&inner);
        let sa = p.keys.get_mut(slot).expect("a filled slot").outbound_mut();
        let endpoints = TunnelEndpoints::new(p.care_of_address, HA);
        match frames::seal_data_in_place(
            &endpoints,
            sa,
            &mut buf,
            inner.len(),
            InnerOrigin::Forwarded,
        ) {
            Ok(n) => {
                buf.truncate(n);
                buf
            }
            Err(_) => Vec::new(),
        }
    }

    fn learn_live(&mut self) {
        for p in &self.peers {
            if let Some(r) = self.ha.record(&p.home_address) {
                for key in ha_record_keys(&r) {
                    self.ledger.learn(&key);
                }
            }
        }
    }

    fn step(&mut self, op: u8, script: &mut Script<'_>) {
        trace!("HA op {} at {}", op % 9, self.now);
        match op % 9 {
            0 => {
                self.now = self.now + advance(script);
                self.ha.handle_timeout(self.now);
                self.drain();
            }
            1 | 2 => {
                let frame = self.bu(script);
                self.deliver(frame);
            }
            3 => {
                let frame = self.data(script);
                self.deliver(frame);
            }
            4 => {
                let len = usize::from(script.u8());
                let frame = script.bytes(len).to_vec();
                self.deliver(frame);
            }
            5 => {
                // A BU with one octet changed after sealing (the null AEAD lets it
                // through to the header and Mobility Header parsers).
                let mut frame = self.bu(script);
                let at = usize::from(script.u16()) % frame.len().max(1);
                if let Some(b) = frame.get_mut(at) {
                    *b ^= script.u8().max(1);
                }
                self.deliver(frame);
            }
            6 => {
                let to = pick_address(script.u8(), HOA);
                let inner = host_packet(script, CN, to);
                let mut buf = data_buffer(&inner);
                self.learn_live();
                if let Ok(sealed) = self.ha.seal_data(self.now, &mut buf, inner.len()) {
                    self.drain();
                    check_sealed(
                        &mut self.ledger,
                        Direction::HaToMn,
                        &buf[..sealed.len],
                        "HA data",
                    );
                } else {
                    self.drain();
                }
            }
            7 => {
                // A replay of the last frame delivered.
                let frame = self.last_frame.clone();
                self.deliver(frame);
            }
            _ => {
                // A crash and restart from what was persisted: everything, or the
                // durable minimum (a home agent that keeps no secrets on disk).
                let durable_only = script.u8() & 1 != 0;
                // What had not reached the disk is lost.
                self.lagging.clear();
                let records = self
                    .disk
                    .values()
                    .map(|r| {
                        if durable_only {
                            r.durable_minimum()
                        } else {
                            r.clone()
                        }
                    })
                    .collect();
                self.seed += 1;
                self.ha = HomeAgent::with_cipher(
                    self.config.clone(),
                    ChaCha8Rng::seed_from_u64(self.seed),
                    self.now,
                    records,
                )
                .expect("the lab configuration");
                self.drain();
            }
        }
        self.learn_live();
    }
}

/// A Key Distribution option with fuzzed fields (SPIs above the reserved range). The
/// secret's last four octets are `draw`: a home agent draws every secret afresh, so a
/// played one must never hand out the same key twice (the node would then rightly
/// start its counter again under a key it had used).
fn fuzzed_distribution(script: &mut Script<'_>, draw: u32) -> KeyDistribution {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&script.u64().to_be_bytes());
    secret[28..].copy_from_slice(&draw.to_be_bytes());
    KeyDistribution {
        generation: u32::from(script.u8()),
        spi_mn_to_ha: 0x1_0000 + u32::from(script.u16()),
        spi_ha_to_mn: 0x1_0000 + u32::from(script.u16()),
        suite: if script.u8() & 1 == 0 {
            Suite::Aes128Gcm
        } else {
            Suite::Aes256Gcm
        },
        lifetime_secs: u32::from(script.u16()),
        secret: Secret32::new(secret),
    }
}

/// Fuzz target `ha_engine`: the home agent engine driven by a script (module docs).
pub fn ha_engine(data: &[u8]) {
    let mut script = Script::new(data);
    let mut world = HaWorld::new(script.u8());
    for _ in 0..MAX_OPS {
        let Some(op) = script.op() else { break };
        world.step(op, &mut script);
    }
}

// ---------------------------------------------------------------------------------
// The mobile node target.

/// What the played home agent read of the node's last BU.
#[derive(Debug, Clone, Copy)]
struct LastBu {
    source: Ipv6Addr,
    sequence: SequenceNumber,
    lifetime: u16,
    timestamp: Option<u64>,
}

struct MnWorld {
    now: Time,
    seed: u64,
    config: MnConfig,
    node: MobileNode<NullAead>,
    disk: Option<mip6_mn::MnRecord>,
    ledger: NonceLedger,
    /// The home agent, played: its key table (role home agent).
    keys: KeyTable<NullAead>,
    /// Secrets the played home agent has drawn.
    draws: u32,
    last_bu: Option<LastBu>,
    care_of_address: Option<Ipv6Addr>,
    last_frame: Vec<u8>,
}

impl MnWorld {
    fn new(setup: u8) -> Self {
        let key = init_key();
        let mut config = mn_config(HA, &key);
        if setup & 1 != 0 {
            config.request_mode = RequestMode::Implicit;
        } else {
            config.key_update_interval = Some(Duration::from_secs(20));
        }
        if setup & 2 != 0 {
            config.sequence_block = 1;
        }
        if setup & 4 != 0 {
            config.restore = RestorePolicy::ResumeKeys;
        }
        let mut ledger = NonceLedger::new();
        ledger.learn(&key);
        let node =
            MobileNode::with_cipher(config.clone(), &mut ChaCha8Rng::seed_from_u64(0), T0, None);
        MnWorld {
            now: T0,
            seed: 0,
            config,
            node,
            disk: None,
            ledger,
            keys: KeyTable::new(Role::HomeAgent, key.derive_with(Role::HomeAgent)),
            draws: 0,
            last_bu: None,
            care_of_address: None,
            last_frame: Vec::new(),
        }
    }

    fn learn_live(&mut self) {
        for key in mn_record_keys(HOA, &self.node.record()) {
            self.ledger.learn(&key);
        }
    }

    fn drain(&mut self) {
        let (ledger, disk) = (&mut self.ledger, &mut self.disk);
        let frames = stepper::drain(&mut self.node, |e| {
            trace!("  MN event {e:?}");
            if let mip6_mn::Event::Persist(r) = e {
                for key in mn_record_keys(HOA, &r) {
                    ledger.learn(&key);
                }
                *disk = Some(r);
            }
        });
        for t in frames {
            assert_eq!(t.destination, HA, "the node signals its home agent only");
            check_sealed(&mut self.ledger, Direction::MnToHa, &t.frame, "MN BU");
            self.read_bu(&t.frame);
        }
    }

    /// The played home agent opens a BU of the node: every BU must open under a key
    /// the home agent was given, and parse.
    fn read_bu(&mut self, frame: &[u8]) {
        let mut buf = frame.to_vec();
        let Ok(opened) = frames::open(&mut buf, &mut self.keys) else {
            // Sealed under a generation the played home agent never distributed:
            // only a fuzzed Key Distribution the node took can do that.
            return;
        };
        let Payload::Signalling(mh) = opened.payload else {
            panic!("the node sent a non-signalling frame as signalling");
        };
        let Message::BindingUpdate(update) = mh.message else {
            panic!("the node sent {:?}, not a BU", mh.message);
        };
        let options = OptionsRead::read(&mh, DEFAULT_VENDOR_ID);
        self.last_bu = Some(LastBu {
            source: opened.frame.chain.ipv6.src_addr,
            sequence: update.sequence,
            lifetime: update.lifetime,
            timestamp: match options.request() {
                Some(KeyOption::KeyInitialization { timestamp }) => Some(*timestamp),
                _ => None,
            },
        });
    }

    fn deliver(&mut self, mut frame: Vec<u8>) {
        let copy = frame.clone();
        let received = self.node.handle(self.now, &mut frame);
        trace!("  MN received {} octets: {received:?}", copy.len());
        self.last_frame = copy;
        self.drain();
    }

    fn ba(&mut self, script: &mut Script<'_>) -> Vec<u8> {
        let last = self.last_bu.unwrap_or(LastBu {
            source: COA,
            sequence: SequenceNumber(0),
            lifetime: 150,
            timestamp: None,
        });
        let status = match script.u8() {
            0..=159 => 0,
            200..=215 => 135,
            b => b,
        };
        let sequence = match script.u8() {
            0..=199 => last.sequence,
            _ => SequenceNumber(script.u16()),
        };
        let lifetime = match script.u8() {
            0..=199 => last.lifetime,
            _ => script.u16(),
        };
        let to = match script.u8() % 4 {
            0 => pick_address(script.u8(), last.source),
            _ => last.source,
        };
        let choice = script.u8() % 5;
        let generation = u32::from(script.u8());
        self.draws += 1;
        let d = fuzzed_distribution(script, self.draws);
        let d = KeyDistribution { generation, ..d };
        let mut keys = Vec::new();
        if let Some(ts) = last.timestamp {
            if choice != 4 {
                keys.push(KeyOption::KeyInitialization { timestamp: ts });
            }
        }
        let ack = AckFields {
            status: BaStatus::from(status),
            sequence,
            lifetime_units: lifetime,
        };
        // The key protocol's order (docs/key-protocol.md): an initialization installs
        // before the BA is sealed, an update after (the transmit key moves).
        match choice {
            1 => {
                let g = KeyMaterial::distributed(HOA, &d).derive_with(Role::HomeAgent);
                if self.keys.initialize(g).is_ok() {
                    self.learn_played(&d);
                    keys.push(KeyOption::KeyDistribution(d));
                }
                self.seal_ba(script, to, ack, &keys)
            }
            2 => {
                keys.push(KeyOption::KeyDistribution(d.clone()));
                let frame = self.seal_ba(script, to, ack, &keys);
                let g = KeyMaterial::distributed(HOA, &d).derive_with(Role::HomeAgent);
                if self.keys.install_newest(g).is_ok() {
                    self.learn_played(&d);
                }
                frame
            }
            _ => self.seal_ba(script, to, ack, &keys),
        }
    }

    /// A generation the played home agent distributes: the ledger knows its SPIs.
    fn learn_played(&mut self, d: &KeyDistribution) {
        self.ledger.learn(&KeyMaterial::distributed(HOA, d));
    }

    fn seal_ba(
        &mut self,
        script: &mut Script<'_>,
        to: Ipv6Addr,
        ack: AckFields,
        keys: &[KeyOption],
    ) -> Vec<u8> {
        let slot = pick_slot(&self.keys, script.u8());
        let sa = self
            .keys
            .get_mut(slot)
            .expect("a filled slot")
            .outbound_mut();
        seal_ba(sa, to, HOA, ack, keys, &[])
    }

    fn step(&mut self, op: u8, script: &mut Script<'_>) {
        trace!("MN op {} at {}", op % 9, self.now);
        match op % 9 {
            0 => {
                self.now = self.now + advance(script);
                self.node.handle_timeout(self.now);
                self.drain();
            }
            1 => {
                // Movement: a care-of address, none, or the home address (at home).
                self.care_of_address = match script.u8() % 4 {
                    0 => Some(COA),
                    1 => Some(COA2),
                    2 => Some(HOA),
                    _ => None,
                };
                self.node
                    .set_care_of_address(self.now, self.care_of_address);
                self.drain();
            }
            2 | 3 => {
                let frame = self.ba(script);
                self.deliver(frame);
            }
            4 => {
                let to = self.care_of_address.unwrap_or(COA);
                let inner = host_packet(script, CN, HOA);
                let mut buf = data_buffer(&inner);
                let slot = pick_slot(&self.keys, script.u8());
                let sa = self
                    .keys
                    .get_mut(slot)
                    .expect("a filled slot")
                    .outbound_mut();
                if let Ok(n) = frames::seal_data_in_place(
                    &TunnelEndpoints::new(HA, to),
                    sa,
                    &mut buf,
                    inner.len(),
                    InnerOrigin::Forwarded,
                ) {
                    buf.truncate(n);
                    self.deliver(buf);
                }
            }
            5 => {
                let len = usize::from(script.u8());
                let frame = script.bytes(len).to_vec();
                self.deliver(frame);
            }
            6 => {
                let src = pick_address(script.u8(), HOA);
                let inner = host_packet(script, src, CN);
                let mut buf = data_buffer(&inner);
                if let Ok(sealed) = self.node.seal_data(self.now, &mut buf, inner.len()) {
                    self.drain();
                    self.learn_live();
                    check_sealed(
                        &mut self.ledger,
                        Direction::MnToHa,
                        &buf[..sealed.len],
                        "MN data",
                    );
                } else {
                    self.drain();
                }
            }
            7 => {
                let frame = match script.u8() & 1 {
                    0 => self.last_frame.clone(),
                    _ => {
                        let to = self.care_of_address.unwrap_or(COA);
                        let slot = self.keys.transmit_slot();
                        let sa = self.keys.get_mut(slot).expect("transmit").outbound_mut();
                        seal_brr(sa, to, HOA)
                    }
                };
                self.deliver(frame);
            }
            _ => {
                // A crash and restart from the last persisted record.
                self.seed += 1;
                self.node = MobileNode::with_cipher(
                    self.config.clone(),
                    &mut ChaCha8Rng::seed_from_u64(self.seed),
                    self.now,
                    self.disk.clone(),
                );
                self.node
                    .set_care_of_address(self.now, self.care_of_address);
                self.drain();
            }
        }
        self.learn_live();
    }
}

/// Fuzz target `mn_engine`: the mobile node engine driven by a script (module docs).
pub fn mn_engine(data: &[u8]) {
    let mut script = Script::new(data);
    let mut world = MnWorld::new(script.u8());
    for _ in 0..MAX_OPS {
        let Some(op) = script.op() else { break };
        world.step(op, &mut script);
    }
}

/// Seed scripts for both targets: a registration with key initialization, a key
/// update, data both ways, a lost BA and its resend, a restart, time passing.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    // HA: setup, then ops. BU op 1: peer, slot, seq<200, flags<160, lifetime<128,
    // key option kind, (timestamp<200), coa choice, hoa choice.
    let bu_init = [1u8, 0, 0, 0, 0, 0, 1, 0, 0, 1];
    let bu_update = [1u8, 0, 0, 0, 0, 0, 2, 0, 1];
    let bu_plain = [1u8, 0, 0, 0, 0, 0, 0, 0, 1];
    let bu_resend = [1u8, 0, 0, 0, 0, 0, 3, 0, 1];
    let wait_10s = [0u8, 0x40, 10];
    let wait_40s = [0u8, 0x40, 40];
    let data_mn = [3u8, 0, 0, 0, 20];
    let data_cn = [6u8, 0, 20];
    let restart = [8u8, 0];
    let restart_durable = [8u8, 1];
    let replay = [7u8];
    let cat = |parts: &[&[u8]]| parts.concat();
    let mut seeds = vec![
        (
            "ha_engine",
            "registration".to_string(),
            cat(&[&[0], &bu_init, &data_mn, &data_cn, &replay]),
        ),
        (
            "ha_engine",
            "update_and_resend".to_string(),
            cat(&[
                &[0],
                &bu_init,
                &wait_40s,
                &bu_update,
                &bu_plain,
                &bu_resend,
                &data_cn,
                &wait_10s,
                &bu_plain,
            ]),
        ),
        (
            "ha_engine",
            "restarts_implicit".to_string(),
            cat(&[
                &[3],
                &bu_init,
                &data_cn,
                &restart,
                &data_cn,
                &bu_plain,
                &restart_durable,
                &bu_init,
                &data_mn,
            ]),
        ),
    ];
    // MN: setup, then ops. Move op 1 (coa), BA op 2: status<160, seq<200, lifetime<200,
    // to (non-zero: the BU's source), key choice, generation, distribution fields,
    // slot.
    let move_coa = [1u8, 0];
    let move_coa2 = [1u8, 1];
    let go_home = [1u8, 2];
    // Secret (8), generation (replaced), SPIs 0x1_0000 + g and 0x1_8000 + g,
    // AES-128-GCM, lifetime 3600 s.
    let dist = |g: u8| {
        let mut d = vec![0u8; 8];
        d.extend_from_slice(&[0, 0, g, 0x80, g, 0, 0x0e, 0x10]);
        d
    };
    let ba = |choice: u8, g: u8| cat(&[&[2u8, 0, 0, 0, 1, choice, g], &dist(g), &[0]]);
    seeds.extend([
        (
            "mn_engine",
            "registration_and_update".to_string(),
            cat(&[
                &[0],
                &move_coa,
                &ba(1, 1),
                &[6, 0, 20],
                &[4, 20, 0],
                &wait_40s,
                &ba(2, 2),
                &wait_10s,
            ]),
        ),
        (
            "mn_engine",
            "handover_home_and_restart".to_string(),
            cat(&[
                &[6],
                &move_coa,
                &ba(1, 1),
                &move_coa2,
                &ba(0, 0),
                &go_home,
                &ba(0, 0),
                &restart,
                &move_coa,
                &ba(1, 3),
                &[7, 1],
            ]),
        ),
    ]);
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds reach the key logic: the home agent registers a node and distributes
    /// keys, the mobile node installs one (so the fuzzer starts past the ICV).
    #[test]
    fn seeds_register_and_distribute_keys() {
        let seeds = seeds();
        let (_, _, ha_seed) = &seeds[1];
        let mut script = Script::new(ha_seed);
        let mut w = HaWorld::new(script.u8());
        while let Some(op) = script.op() {
            w.step(op, &mut script);
        }
        assert!(w.ha.binding(&HOA).is_some(), "the seed registers HOA");
        let keys = w.ha.keys(&HOA).expect("configured");
        assert!(
            keys.newest.unwrap_or(0) >= 2,
            "an update was distributed: {keys:?}"
        );
        assert!(w.ledger.frames > 0);

        let (_, _, mn_seed) = &seeds[3];
        let mut script = Script::new(mn_seed);
        let mut w = MnWorld::new(script.u8());
        while let Some(op) = script.op() {
            w.step(op, &mut script);
        }
        assert_eq!(w.node.keys().newest, Some(2), "{:?}", w.node.keys());
        assert!(w.ledger.frames > 0);
    }

    /// Runs the file `MIP6_FUZZ_INPUT` through the target `MIP6_FUZZ_TARGET`
    /// (`ha_engine` unless `mn_engine`), for reading a crash with `MIP6_FUZZ_TRACE=1`.
    #[test]
    #[ignore = "a diagnostic: run by hand on a fuzzer's crash file"]
    fn replay_input() {
        let path = std::env::var("MIP6_FUZZ_INPUT").expect("MIP6_FUZZ_INPUT=FILE");
        let data = std::fs::read(path).expect("read the input");
        match std::env::var("MIP6_FUZZ_TARGET").as_deref() {
            Ok("mn_engine") => mn_engine(&data),
            _ => ha_engine(&data),
        }
    }

    /// The ledger in the target catches a reuse: a home agent restarted from records
    /// older than what it sealed would seal a sequence number again.
    #[test]
    fn a_restart_from_stale_records_is_caught() {
        let seeds = seeds();
        let (_, _, seed) = &seeds[0];
        let mut script = Script::new(seed);
        let mut w = HaWorld::new(script.u8());
        while let Some(op) = script.op() {
            w.step(op, &mut script);
        }
        // Forget the marks: a restart from an empty disk seals from 1 again.
        w.disk.clear();
        w.seed += 1;
        w.ha = HomeAgent::with_cipher(
            w.config.clone(),
            ChaCha8Rng::seed_from_u64(w.seed),
            w.now,
            vec![],
        )
        .unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // A Key Initialization under the init key (slot 1): answered under init.
            let mut script = Script::new(&[1, 0, 1, 0, 0, 0, 1, 0, 0, 1]);
            let op = script.u8();
            w.step(op, &mut script);
        }));
        assert!(
            caught.is_err(),
            "a sequence number sealed twice must be caught"
        );
    }
}
