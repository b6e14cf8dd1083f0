//! Byte-exact replay of engine captures (`mip6_daemon::capture`): the inputs a daemon
//! recorded are fed to a fresh engine with the same configuration and RNG seed, and
//! the outputs must equal the recorded ones, byte for byte.
//!
//! [`HaStepper`] and [`MnStepper`] are the reference for what one input does and in
//! which order its outputs come (the order the capture module documents: `tun-out`
//! of a delivered packet, then the `net-out` of a sealed data frame, then every
//! `poll_transmit` frame). The network and TUN streams are compared apart, each in
//! order, so a daemon may handle inputs in batches; the replay tests of `pcaps/`
//! hold the daemons to this.

use std::net::Ipv6Addr;

use mip6_daemon::capture::{CapturedInput, EngineCapture, InputKind};
use mip6_daemon::rng::DaemonRng;
use mip6_testkit::stepper;
use mip6_wire::engine::{Engine, Received, Transmit};
use mip6_wire::Time;

/// One output of an engine step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A frame for the network.
    NetOut(Vec<u8>),
    /// An inner packet for the TUN.
    TunOut(Vec<u8>),
}

fn net_out(frames: Vec<Transmit>) -> impl Iterator<Item = Output> {
    frames.into_iter().map(|t| Output::NetOut(t.frame))
}

/// Drives an engine one input at a time through the test kit's stepper (events
/// first, then frames) and returns each input's outputs in order.
pub struct Stepper<E: Engine> {
    /// The engine.
    pub engine: E,
    /// Every event drained, in order.
    pub events: Vec<E::Event>,
}

/// A home agent stepper.
pub type HaStepper = Stepper<mip6_ha::HomeAgent<DaemonRng>>;
/// A mobile node stepper.
pub type MnStepper = Stepper<mip6_mn::MobileNode>;

impl<E: Engine> Stepper<E> {
    fn with(mut engine: E) -> Stepper<E> {
        let events = stepper::take_events(&mut engine);
        Stepper { engine, events }
    }

    /// A frame from the network.
    pub fn net_in(&mut self, now: Time, frame: &[u8]) -> Vec<Output> {
        let mut buf = frame.to_vec();
        let (received, frames) =
            stepper::handle(&mut self.engine, now, &mut buf, |e| self.events.push(e));
        let mut out = Vec::new();
        if let Received::Delivered { inner, .. } = received {
            if let Some(p) = buf.get(inner) {
                out.push(Output::TunOut(p.to_vec()));
            }
        }
        out.extend(net_out(frames));
        out
    }

    /// A packet from the TUN.
    pub fn tun_in(&mut self, now: Time, packet: &[u8]) -> Vec<Output> {
        let (sealed, frames) =
            stepper::seal(&mut self.engine, now, packet, |e| self.events.push(e));
        let mut out: Vec<Output> = sealed
            .ok()
            .map(|s| Output::NetOut(s.frame))
            .into_iter()
            .collect();
        out.extend(net_out(frames));
        out
    }

    /// `handle_timeout(now)`.
    pub fn timeout(&mut self, now: Time) -> Vec<Output> {
        net_out(stepper::timeout(&mut self.engine, now, |e| {
            self.events.push(e)
        }))
        .collect()
    }
}

impl HaStepper {
    /// A Neighbor Discovery packet from the home link (`handle_link`). What the engine
    /// puts on the home link is not compared (captures record it as `link-out`); the
    /// BAs it causes (134) are.
    pub fn link_in(&mut self, now: Time, sender: [u8; 6], packet: &[u8]) -> Vec<Output> {
        let (_, frames) = stepper::input(
            &mut self.engine,
            |ha| {
                ha.handle_link(now, sender, packet);
                while ha.poll_link_transmit().is_some() {}
            },
            |e| self.events.push(e),
        );
        net_out(frames).collect()
    }

    /// A fresh home agent (empty state directory) built at `now`.
    pub fn new(config: mip6_ha::HaConfig, seed: u64, now: Time) -> HaStepper {
        HaStepper::restored(config, seed, now, Vec::new())
    }

    /// A home agent built at `now` from stored records.
    pub fn restored(
        config: mip6_ha::HaConfig,
        seed: u64,
        now: Time,
        records: Vec<mip6_ha::MnRecord>,
    ) -> HaStepper {
        Stepper::with(
            mip6_ha::HomeAgent::new(config, DaemonRng::new(Some(seed)), now, records)
                .expect("a valid HA configuration"),
        )
    }
}

impl MnStepper {
    /// A fresh mobile node (no stored record) built at `now`.
    pub fn new(config: mip6_mn::MnConfig, seed: u64, now: Time) -> MnStepper {
        let mut rng = DaemonRng::new(Some(seed));
        Stepper::with(mip6_mn::MobileNode::new(config, &mut rng, now, None))
    }

    /// The care-of address changed.
    pub fn care_of(&mut self, now: Time, coa: Option<Ipv6Addr>) -> Vec<Output> {
        let ((), frames) = stepper::input(
            &mut self.engine,
            |mn| mn.set_care_of_address(now, coa),
            |e| self.events.push(e),
        );
        net_out(frames).collect()
    }
}

/// Records a stepper's inputs and outputs into an engine capture, the way a daemon
/// does.
pub fn record(
    capture: &mut EngineCapture,
    now: Time,
    input: &InputKind,
    data: &[u8],
    outputs: &[Output],
) {
    match input {
        InputKind::NetIn => capture.net_in(now, data),
        InputKind::TunIn => capture.tun_in(now, data),
        InputKind::Timeout => capture.timeout(now),
        InputKind::CareOf(a) => capture.care_of(now, *a),
        InputKind::Start => capture.start(now, false),
        InputKind::Restart => capture.start(now, true),
        InputKind::LinkIn(mac) => capture.link_in(now, *mac, data),
        InputKind::NetOut | InputKind::TunOut | InputKind::LinkOut(_) => {}
    }
    for o in outputs {
        match o {
            Output::NetOut(f) => capture.net_out(now, f),
            Output::TunOut(p) => capture.tun_out(now, p),
        }
    }
}

/// A network frame as the engine opened or sealed it: a daemon with ESP in UDP
/// (RFC 3948) records frames as they were on the wire, and the engine never sees the
/// UDP header (`mip6_daemon::shell::encap`); any other frame as it is.
pub fn engine_view(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    match mip6_wire::udp_encap::decapsulate(&mut f) {
        Ok(_) => f,
        Err(_) => frame.to_vec(),
    }
}

/// Where a replay first differed from its capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Index of the output within its stream (network frames, or TUN packets).
    pub output_index: usize,
    /// Index of the capture record it belongs to.
    pub record_index: usize,
    /// What the capture holds there (None: the capture ended).
    pub captured: Option<Output>,
    /// What the replay produced (None: the replay produced nothing more).
    pub replayed: Option<Output>,
}

/// The result of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Inputs fed to the engine.
    pub inputs: usize,
    /// Outputs compared (all equal).
    pub outputs: usize,
}

fn split(inputs: &[CapturedInput]) -> Result<(Time, &[CapturedInput]), String> {
    match inputs.first() {
        Some(first) if first.kind == InputKind::Start => Ok((first.time, &inputs[1..])),
        Some(first) if first.kind == InputKind::Restart => {
            Err("the capture starts from stored state (`restart`): a replay needs a `start`".into())
        }
        _ => Err("the capture does not begin with a `start` record".into()),
    }
}

/// Replays a capture through `step` and compares outputs; `step` is called for each
/// input record with (time, kind, data). The network and TUN outputs are compared as
/// two separate streams, each in order: a daemon that handles a batch of inputs
/// records their TUN writes and their frames in two runs, which interleaves the
/// streams differently from one input at a time, but never reorders either.
fn compare(
    records: &[CapturedInput],
    mut step: impl FnMut(Time, InputKind, &[u8]) -> Vec<Output>,
) -> Result<ReplaySummary, Box<Mismatch>> {
    // (record index, output) per stream: [net, tun].
    let mut expected: [Vec<(usize, Output)>; 2] = [Vec::new(), Vec::new()];
    let mut produced: [Vec<(usize, Output)>; 2] = [Vec::new(), Vec::new()];
    let stream = |o: &Output| usize::from(matches!(o, Output::TunOut(_)));
    let mut inputs = 0;
    for (i, r) in records.iter().enumerate() {
        match r.kind {
            InputKind::NetOut => expected[0].push((i, Output::NetOut(engine_view(&r.data)))),
            InputKind::TunOut => expected[1].push((i, Output::TunOut(r.data.clone()))),
            InputKind::LinkOut(_) => {}
            InputKind::Start | InputKind::Restart => break,
            InputKind::NetIn => {
                inputs += 1;
                for o in step(r.time, InputKind::NetIn, &engine_view(&r.data)) {
                    produced[stream(&o)].push((i, o));
                }
            }
            kind => {
                inputs += 1;
                for o in step(r.time, kind, &r.data) {
                    produced[stream(&o)].push((i, o));
                }
            }
        }
    }
    for s in 0..2 {
        let (e, p) = (&expected[s], &produced[s]);
        let first_difference =
            (0..e.len().max(p.len())).find(|&k| e.get(k).map(|x| &x.1) != p.get(k).map(|x| &x.1));
        if let Some(k) = first_difference {
            return Err(Box::new(Mismatch {
                output_index: k,
                record_index: e.get(k).or(p.get(k)).map_or(0, |x| x.0),
                captured: e.get(k).map(|x| x.1.clone()),
                replayed: p.get(k).map(|x| x.1.clone()),
            }));
        }
    }
    Ok(ReplaySummary {
        inputs,
        outputs: expected[0].len() + expected[1].len(),
    })
}

/// Replays a home agent's capture (from its `start` up to the next start).
pub fn replay_ha(
    config: mip6_ha::HaConfig,
    seed: u64,
    records: &[CapturedInput],
) -> Result<ReplaySummary, String> {
    let (t0, rest) = split(records)?;
    let mut ha = HaStepper::new(config, seed, t0);
    replay_ha_inputs(&mut ha, rest)
}

/// Replays a home agent's capture that begins with `restart`, from the records the
/// daemon wrote beside it (`<capture>.state`, see [`read_start_state`]).
pub fn replay_ha_restored(
    config: mip6_ha::HaConfig,
    seed: u64,
    state: Vec<mip6_ha::MnRecord>,
    records: &[CapturedInput],
) -> Result<ReplaySummary, String> {
    let (t0, rest) = match records.first() {
        Some(first) if first.kind == InputKind::Restart => (first.time, &records[1..]),
        _ => return Err("the capture does not begin with a `restart` record".into()),
    };
    let mut ha = HaStepper::restored(config, seed, t0, state);
    replay_ha_inputs(&mut ha, rest)
}

/// The records `mip6-ha` started from, as written to `<capture>.state`.
pub fn read_start_state(capture: &std::path::Path) -> Result<Vec<mip6_ha::MnRecord>, String> {
    let path = mip6_daemon::capture::state_path(capture);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    bytes
        .chunks(mip6_ha_daemon::store::RECORD_LEN)
        .map(|c| mip6_ha_daemon::store::decode_record(c).map_err(|e| e.to_string()))
        .collect()
}

/// The record `mip6-mn` started from, as written to `<capture>.state`.
pub fn read_mn_start_state(capture: &std::path::Path) -> Result<mip6_mn::MnRecord, String> {
    let path = mip6_daemon::capture::state_path(capture);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    mip6_mn_daemon::store::decode_record(&bytes).map_err(|e| e.to_string())
}

/// Replays a mobile node's capture that begins with `restart`, from the record the
/// daemon wrote beside it ([`read_mn_start_state`]).
pub fn replay_mn_restored(
    config: mip6_mn::MnConfig,
    seed: u64,
    state: mip6_mn::MnRecord,
    records: &[CapturedInput],
) -> Result<ReplaySummary, String> {
    let (t0, rest) = match records.first() {
        Some(first) if first.kind == InputKind::Restart => (first.time, &records[1..]),
        _ => return Err("the capture does not begin with a `restart` record".into()),
    };
    let mut rng = DaemonRng::new(Some(seed));
    let mut mn = Stepper::with(mip6_mn::MobileNode::new(config, &mut rng, t0, Some(state)));
    replay_mn_inputs(&mut mn, rest)
}

fn replay_ha_inputs(ha: &mut HaStepper, rest: &[CapturedInput]) -> Result<ReplaySummary, String> {
    compare(rest, |now, kind, data| match kind {
        InputKind::NetIn => ha.net_in(now, data),
        InputKind::TunIn => ha.tun_in(now, data),
        InputKind::Timeout => ha.timeout(now),
        InputKind::LinkIn(mac) => ha.link_in(now, mac, data),
        _ => Vec::new(),
    })
    .map_err(|m| describe(&m))
}

/// Replays a mobile node's capture (from its `start` up to the next start).
pub fn replay_mn(
    config: mip6_mn::MnConfig,
    seed: u64,
    records: &[CapturedInput],
) -> Result<ReplaySummary, String> {
    let (t0, rest) = split(records)?;
    let mut mn = MnStepper::new(config, seed, t0);
    replay_mn_inputs(&mut mn, rest)
}

fn replay_mn_inputs(mn: &mut MnStepper, rest: &[CapturedInput]) -> Result<ReplaySummary, String> {
    compare(rest, |now, kind, data| match kind {
        InputKind::NetIn => mn.net_in(now, data),
        InputKind::TunIn => mn.tun_in(now, data),
        InputKind::Timeout => mn.timeout(now),
        InputKind::CareOf(a) => mn.care_of(now, a),
        _ => Vec::new(),
    })
    .map_err(|m| describe(&m))
}

fn describe(m: &Mismatch) -> String {
    let show = |o: &Option<Output>| match o {
        None => "nothing".to_owned(),
        Some(Output::NetOut(f)) => format!("net-out of {} octets: {}", f.len(), hex::encode(f)),
        Some(Output::TunOut(p)) => format!("tun-out of {} octets: {}", p.len(), hex::encode(p)),
    };
    format!(
        "output {} (capture record {}) differs:\n  captured: {}\n  replayed: {}",
        m.output_index,
        m.record_index,
        show(&m.captured),
        show(&m.replayed)
    )
}
