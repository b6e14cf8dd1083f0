//! The one daemon shell: the event loop both `mip6-ha` and `mip6-mn` run, generic over
//! a [`Role`] — what differs between them (the engine, the host set-up, the status
//! view) — in the manner of quinn's endpoint driver and boringtun's device loop.
//!
//! Each round of the loop takes one batch of inputs with **one `now`**, read once and
//! given to the engine and the capture alike: frames from the packet sockets or the
//! raw ESP socket, packets from the TUN, a host event (the mobile node's address
//! changes), or the engine's deadline. Then it follows the engine contract
//! ([`mip6_wire::engine`]):
//!
//! 1. record each input in the capture, then hand it to the engine (`handle` decrypts
//!    in place, so the frame is recorded first);
//! 2. drain the engine's events through [`Role::on_event`] (routes, logs) and store
//!    every persistence record in **one durable batch before anything is sent** —
//!    but when every record of the round may lag ([`Handled::PersistLagging`]: the
//!    home agent's refresh or move of a binding), they are written on the store's own
//!    thread while the round's frames go (docs/architecture.md, "Nonces and
//!    persistence");
//! 3. write delivered inner packets to the TUN, send sealed tunnel frames (straight to
//!    the next hop the peer's last authenticated frame came through, or routed), then
//!    the queued signalling.
//!
//! The engine is called only from recorded inputs (status and metrics requests read
//! it without changing it), so a capture replays byte for byte. The shell parses no
//! protocol: everything it counts or routes by (SPIs, destinations) is in what the
//! engine returns.
//!
//! | module | job |
//! | --- | --- |
//! | [`io`] | the sockets and the TUN on the reactor, routed and direct sends |
//! | [`encap`] | ESP in UDP (RFC 3948): which peers get UDP, on which port |
//! | [`driver`] | [`Shell`]: the loop, batches, persistence before sending |
//! | [`next_hops`] | per peer, the neighbour its last authenticated frame came through |
//! | [`stats`] | the shell's counters: frames, drops, packets per SPI, distributions |
//! | [`screen`] | frames for an address that is not the daemon's, dropped by name |
//! | [`report`] | status JSON and Prometheus text fields both roles share |
//! | [`key_log`] | the capture's `esp_sa` key log, one entry per key |
//! | [`notice`] | warnings that name a misconfigured mobile node, rate-limited; the minute's drop summary |

pub mod driver;
pub mod encap;
pub mod io;
pub mod key_log;
pub mod next_hops;
pub mod notice;
pub mod report;
pub mod screen;
pub mod stats;

use core::future::Future;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::Path;

use mip6_wire::engine::Engine;
use mip6_wire::keys::DistributionKind;
use mip6_wire::Time;
use serde_json::{Map, Value};

pub use driver::{Capture, Shell, ShellError};
pub use encap::UdpEncapConfig;
pub use io::{Io, IoConfig, OpenError};
pub use key_log::KeyMaterial;
pub use notice::Warning;
pub use report::ReportInput;

use crate::metrics::Text;
use crate::store::RecordCodec;

/// The engine of role `R`.
pub type EngineOf<R> = <R as Role>::Engine;
/// The events of role `R`'s engine.
pub type EventOf<R> = <EngineOf<R> as Engine>::Event;
/// Why role `R`'s engine refuses to tunnel a packet.
pub type DataErrorOf<R> = <EngineOf<R> as Engine>::DataError;
/// The persistence record of role `R`.
pub type RecordOf<R> = <<R as Role>::Codec as RecordCodec>::Record;

/// What the shell does with one engine event after [`Role::on_event`] acted on it.
#[derive(Debug)]
pub enum Handled<Rec> {
    /// Nothing more.
    Done,
    /// Store this record durably before anything of this round is sent.
    Persist(Rec),
    /// Store this record soon, in order with the others; what this round queued may
    /// be sent first (the home agent's `Event::PersistLagging`).
    PersistLagging(Rec),
    /// A key distribution of this kind happened (status `key_events`).
    Distribution(DistributionKind),
    /// Acting on it failed: count a drop of this name.
    Failed(&'static str),
}

/// What a host event asks of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAction {
    /// Nothing.
    None,
    /// The local node's care-of address changed (`None`: no usable address, or
    /// home): record it, forget next hops learned on the old link, tell the engine
    /// ([`Role::move_to`]).
    CareOf(Option<Ipv6Addr>),
}

/// A packet for a link, with the Ethernet destination it goes to
/// ([`Role::poll_link_transmit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPacket {
    /// The interface it leaves through; `None` is the home link ([`IoConfig::home_link`]).
    pub ifindex: Option<u32>,
    /// The Ethernet destination.
    pub destination: [u8; 6],
    /// The IPv6 packet.
    pub packet: Vec<u8>,
}

/// A control command's result ([`Role::control`]): the answer, and the rows the role
/// keeps beside its records that the shell must write (and remove) durably before
/// it answers.
#[derive(Debug, Clone, Default)]
pub struct ControlOutcome {
    /// The JSON answer.
    pub answer: Value,
    /// Rows to write.
    pub put: Vec<crate::store::Row>,
    /// Keys of rows to remove.
    pub remove: Vec<Vec<u8>>,
}

/// What the shell tells the role once everything is open.
#[derive(Debug, Clone, Copy)]
pub struct Ready<'a> {
    /// The control socket's path.
    pub control_socket: &'a Path,
    /// Where the metrics endpoint listens, if it does.
    pub metrics: Option<SocketAddr>,
}

/// The stored records a control command needs ([`Role::records_wanted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordsWanted {
    /// None.
    None,
    /// Every record (a bulk import: one paged read beats a lookup per node).
    All,
    /// The records of these keys ([`crate::store::RecordCodec::key`]), those that
    /// exist.
    Keys(Vec<Vec<u8>>),
}

/// What differs between the home agent and the mobile node daemons (module docs).
pub trait Role {
    /// The sans-IO engine.
    type Engine: Engine;
    /// How the engine's persistence records are stored.
    type Codec: RecordCodec;
    /// Something the host reports beside packets (the mobile node's address events).
    type HostEvent;

    /// `ha` or `mn`: the status `role` and the metrics prefix `mip6_<name>_`.
    const NAME: &'static str;

    /// The engine.
    fn engine(&self) -> &Self::Engine;

    /// The engine, to call it.
    fn engine_mut(&mut self) -> &mut Self::Engine;

    /// Acts on one engine event (routes, proxy entries, logs) and says what the shell
    /// must do with it.
    fn on_event(
        &mut self,
        event: EventOf<Self>,
        now: Time,
    ) -> impl Future<Output = Handled<RecordOf<Self>>>;

    /// The drop name for a packet read from the TUN that the engine must not see,
    /// if it is one (the kernel's own multicast chatter on the home agent's TUN).
    fn screen_tun(&self, _packet: &[u8]) -> Option<&'static str> {
        None
    }

    /// The drop name for a frame received from the network that the engine must not
    /// see, if it is one (the home agent takes only frames to its own address: the raw
    /// ESP socket also gets ESP the kernel accepted for link-local or multicast
    /// addresses). Called for every received frame before it is captured or handled;
    /// must never panic, whatever the octets.
    fn screen_network(&self, _frame: &[u8]) -> Option<&'static str> {
        None
    }

    /// Hands a Neighbor Solicitation or Advertisement received on the home link (the
    /// Ethernet sender `link_source`) to the engine: the home agent's proxy Neighbor
    /// Discovery and Duplicate Address Detection (RFC 6275 §10.3.1, §10.4.1). Only a
    /// role that names a home link ([`IoConfig::home_link`]) gets any.
    fn handle_link(&mut self, _now: Time, _link_source: [u8; 6], _packet: &[u8]) {}

    /// The next packet the role has for a link, sent straight to its Ethernet
    /// destination: the home agent's Neighbor Discovery on the home link, the mobile
    /// node's Neighbor Advertisements on returning home (RFC 6275 §11.5.4).
    fn poll_link_transmit(&mut self) -> Option<LinkPacket> {
        None
    }

    /// Whether a signalling frame to `destination` goes straight to the next hop that
    /// destination's authenticated frames came through, not through the routing
    /// table. The home agent's answers to a mobile node on its home link do (RFC 6275
    /// §10.3.2: the Binding Acknowledgement goes to the home address itself, which
    /// the binding's route would carry into the tunnel, to the old care-of address,
    /// while the binding lasts, as it does after a refusal). Without a known next hop
    /// the frame is routed.
    fn signalling_on_link(&self, _destination: &Ipv6Addr) -> bool {
        false
    }

    /// The drop name for a packet the engine refused to tunnel.
    fn data_drop(error: &DataErrorOf<Self>) -> &'static str;

    /// A hint before a batch of received frames is handled one by one (the home
    /// agent brings their state into cache); changes nothing.
    fn before_batch(&self, _frames: &[&[u8]]) {}

    /// Waits for the next host event; a role without any never resolves. An error
    /// ends the daemon.
    fn next_host_event(&mut self) -> impl Future<Output = Result<Self::HostEvent, String>>;

    /// Acts on a host event (may re-point the sockets' filters at a new address, and
    /// change routes and addresses).
    fn on_host_event(
        &mut self,
        event: Self::HostEvent,
        io: &Io,
    ) -> impl Future<Output = HostAction>;

    /// Tells the engine its care-of address changed (the mobile node's
    /// `set_care_of_address`); the home agent has none.
    fn move_to(&mut self, _now: Time, _care_of: Option<Ipv6Addr>) {}

    /// The keys a stored record holds, for the capture's key log.
    fn keys_in(&self, record: &RecordOf<Self>) -> Vec<KeyMaterial>;

    /// The engine's drop counts by reason name (snake case), zero included.
    fn engine_drops(&self) -> Vec<(String, u64)>;

    /// Adds what points at a misconfigured mobile node since the last call to `out`
    /// (issue 11, item 6; [`notice`]): the shell rate-limits and logs it. Called after
    /// every wake of the loop, so it must be cheap when nothing happened.
    fn poll_warnings(&mut self, _now: Time, _out: &mut Vec<Warning>) {}

    /// Re-reads and applies the configuration file (SIGHUP; issue 11, item 5) without
    /// dropping bindings or keys: what may change live is applied, anything else
    /// refuses the whole reload (`Err`: why, naming the fields; the running
    /// configuration stays). `stored` is every record of the store, for a node added
    /// with a record from an earlier life. `Ok` says what the host now asks of the
    /// engine (the mobile node's care-of address when its watched interfaces
    /// changed). The shell then stores and sends what the engine queued.
    fn reload(
        &mut self,
        _now: Time,
        _io: &Io,
        _stored: Vec<RecordOf<Self>>,
    ) -> impl Future<Output = Result<HostAction, String>> {
        async { Err("this daemon does not reload its configuration".to_owned()) }
    }

    /// A control-socket command other than `status` (the home agent's `mn add`,
    /// `mn remove`, `mn list`, `mn show`, `mn import`); `None`: the role has no such
    /// command. `stored` gives the store's records that [`Role::records_wanted`] asked
    /// for, for a command that adds a node that had one (its sequence marks must
    /// resume, invariant 2). The shell writes the outcome's rows, then stores and
    /// sends what the engine queued, then answers.
    fn control(
        &mut self,
        _now: Time,
        _command: &str,
        _args: &Map<String, Value>,
        _stored: Vec<RecordOf<Self>>,
    ) -> impl Future<Output = Option<ControlOutcome>> {
        async { None }
    }

    /// Which of the store's records [`Role::control`] needs for `command`.
    fn records_wanted(&self, _command: &str, _args: &Map<String, Value>) -> RecordsWanted {
        RecordsWanted::None
    }

    /// The role's status fields, beside [`ReportInput::common_status`]'s.
    fn status(&self, input: &ReportInput<'_>) -> Map<String, Value>;

    /// The role's metrics, before [`ReportInput::common_metrics`]'s.
    fn metrics(&self, input: &ReportInput<'_>, text: Text) -> Text;

    /// Logs the `ready` event with what the role knows.
    fn log_ready(&self, ready: Ready<'_>);

    /// Removes what the role installed in the host, reporting failures.
    fn shutdown(self) -> impl Future<Output = Result<(), String>>;
}
