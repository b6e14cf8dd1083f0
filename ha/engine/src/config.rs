//! Configuration of the home agent engine: the HA's own address, the key protocol's
//! knobs (docs/key-protocol.md) and the mobile nodes it serves, each with its
//! pre-shared initialization key (docs/architecture.md "Key schedule").
//!
//! Mobile nodes are added and removed, and the timers changed, on a running engine by
//! `HomeAgent::add_mobile_node`, `remove_mobile_node` and `set_timers`.
//!
//! Not supported: dynamic home agent address discovery (RFC 6275 §10.5).

use core::time::Duration;
use std::net::Ipv6Addr;

use mip6_wire::esp::{ReplayWindow, Suite};
use mip6_wire::keys::{RequestMode, SpiPair};
use mip6_wire::mh::DEFAULT_VENDOR_ID;
use mip6_wire::Secret32;

/// One mobile node the home agent serves (RFC 6275 §10.3.1: the HA is configured with
/// the home addresses it may register) and its initialization key.
#[derive(Debug, Clone)]
pub struct MnConfig {
    /// The mobile node's home address.
    pub home_address: Ipv6Addr,
    /// The pre-shared initialization secret (docs/architecture.md "Key schedule").
    pub init_secret: Secret32,
    /// The init SPIs (MN→HA and HA→MN), configured on both ends.
    pub init_spis: SpiPair,
    /// Suite of the init SAs.
    pub init_suite: Suite,
}

/// Whether the home agent's binding cache survives a restart: what decides the
/// Binding Refresh Advice of RFC 6275 §10.3.1.
///
/// The RFC lets the home agent ask for a refresh earlier than the granted lifetime
/// with a Binding Refresh Advice option (§6.2.4), and gives the reason: a home agent
/// whose binding cache is not kept in nonvolatile storage learns of the bindings it
/// lost only when their mobile nodes refresh them. When the cache survives restarts
/// (the daemon's `persistence = true`: whole records) that reason is gone and the
/// advice would only multiply the signalling, so the BA carries none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingCacheStorage {
    /// Lost at a restart: every accepted BA advises a refresh at
    /// [`HaConfig::refresh_percent`] of the granted lifetime.
    Volatile,
    /// Restored after a restart: no Binding Refresh Advice.
    Durable,
}

/// The home agent on its home link, for proxy Neighbor Discovery and Duplicate Address
/// Detection in the engine (RFC 6275 §10.3.1, §10.4.1; RFC 4861 §7.2; RFC 4862 §5.4).
/// The engine answers Neighbor Solicitations for the home addresses it holds a binding
/// for, announces a new binding with an unsolicited Neighbor Advertisement, and runs
/// Duplicate Address Detection for a home address before it accepts its first
/// registration; the driver hands it the home link's Neighbor Discovery packets
/// ([`crate::HomeAgent::handle_link`]) and sends what
/// [`crate::HomeAgent::poll_link_transmit`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HomeLink {
    /// The home agent's link-layer (Ethernet) address on the home link: the Target
    /// Link-Layer Address of every proxy advertisement.
    pub link_address: mip6_wire::nd::LinkAddress,
    /// The home agent's link-local address on the home link: the source of its
    /// advertisements (RFC 4861 §7.2.4: an address of the sending interface).
    pub link_local: Ipv6Addr,
    /// Neighbor Solicitations sent for Duplicate Address Detection before a home
    /// address is taken (RFC 4862 `DupAddrDetectTransmits`, default 1); 0 accepts the
    /// first registration at once, without Duplicate Address Detection.
    pub dad_transmits: u8,
    /// Time between those solicitations and after the last one (RFC 4861
    /// `RetransTimer`, default 1 s).
    pub retrans_timer: Duration,
}

impl HomeLink {
    /// The RFC defaults: one Duplicate Address Detection probe, 1 s `RetransTimer`.
    pub fn new(link_address: mip6_wire::nd::LinkAddress, link_local: Ipv6Addr) -> Self {
        HomeLink {
            link_address,
            link_local,
            dad_transmits: 1,
            retrans_timer: Duration::from_secs(1),
        }
    }
}

/// The home agent engine's configuration.
#[derive(Debug, Clone)]
pub struct HaConfig {
    /// The home agent's own address: the source of its frames, the destination of BUs.
    pub address: Ipv6Addr,
    /// The home subnet prefix and its length (RFC 6275 §10.3.1: a home address off it
    /// is refused with 132). [`HaConfig::new`] takes the /64 of `address`.
    pub home_prefix: (Ipv6Addr, u8),
    /// How the mobile nodes ask for keys; both ends are configured alike.
    pub mode: RequestMode,
    /// The home link, if the engine does proxy Neighbor Discovery and Duplicate Address
    /// Detection itself ([`HomeLink`]); `None`: the driver proxies some other way and
    /// every registration is answered at once.
    pub home_link: Option<HomeLink>,
    /// Vendor ID of the key-management options (docs/architecture.md: 32473 unless configured).
    pub vendor_id: u32,
    /// Suite of the generations the HA draws.
    pub suite: Suite,
    /// Longest binding lifetime granted (RFC 6275 §10.3.1: the HA MAY shorten it).
    pub max_binding_lifetime: Duration,
    /// Where the binding cache lives. A home agent whose cache is lost at a restart
    /// advises early refreshes; one whose cache survives does not
    /// ([`BindingCacheStorage`], RFC 6275 §10.3.1).
    pub binding_cache: BindingCacheStorage,
    /// Binding Refresh Advice at this percentage of the granted lifetime, when
    /// the binding cache is [`BindingCacheStorage::Volatile`] (RFC 6275 §6.2.4,
    /// §10.3.1). **(choice: 80 %)**
    pub refresh_percent: u8,
    /// The HA's per-MN key update timer (patent (6), (9)); also the lifetime carried in
    /// the Key Distribution option.
    pub key_update_interval: Duration,
    /// After an initialization the update is due at once, so the node's next BU
    /// under generation 1 draws generation 2 and the HA stops transmitting with the
    /// pre-shared init key, which it otherwise uses until then (it holds no anterior
    /// key; issue 12, item 9). **(choice: on.)** Off, the timer starts as after an
    /// update (patent (6), (9) as written).
    pub rekey_after_initialization: bool,
    /// How far a Key Initialization Request's timestamp may be from the HA's clock
    /// (RFC 4285 §6 rule, docs/architecture.md).
    pub init_timestamp_skew: Duration,
    /// An update is due when the HA's transmit SA or the MN's newest SA has fewer
    /// sequence numbers left than this (docs/key-protocol.md, default 2^20).
    pub rekey_sequence_margin: u64,
    /// Outbound sequence numbers reserved per `Persist` event (engine contract, 1024).
    pub sequence_block: u64,
    /// The anti-replay window every inbound SA starts with (RFC 4303 §3.4.3; its size
    /// is what matters: 64 to 4096). Default [`HaConfig::DEFAULT_REPLAY_WINDOW`], the
    /// 64 RFC 4303 says SHOULD be the default: it lives inline in the SA, where larger
    /// ones cost `size / 8 + 8` octets of heap per inbound SA (three per MN).
    pub replay_window: ReplayWindow,
    /// The mobile nodes served. [`HomeAgent::new`](crate::HomeAgent::new) takes them
    /// out of the configuration it keeps (their init secrets live on only in the
    /// derived init SAs).
    pub mobile_nodes: Vec<MnConfig>,
}

impl HaConfig {
    /// Anti-replay window of the HA's inbound SAs unless configured (RFC 4303 §3.4.3:
    /// "a window size of 64 is preferred and SHOULD be employed as the default").
    /// Signalling and tunnel frames of one MN reach the HA through one packet socket
    /// in the order the MN sealed them, so a wider window buys nothing here, and at a
    /// million MNs each wider window costs heap (BENCHMARKS.md "Engines").
    pub const DEFAULT_REPLAY_WINDOW: u32 = 64;

    /// A configuration with the defaults of docs/key-protocol.md and the engine
    /// contract: the /64 of `address` as the home prefix, explicit mode, AES-128-GCM
    /// generations, bindings of at most 3600 s in a volatile binding cache
    /// (refresh advised at 80 %), a key update every 3600 s, 30 s of timestamp skew, a rekey
    /// margin of 2^20, sequence blocks of 1024 and anti-replay windows of 64.
    pub fn new(address: Ipv6Addr, mobile_nodes: Vec<MnConfig>) -> Self {
        let seg = address.segments();
        HaConfig {
            address,
            home_prefix: (
                Ipv6Addr::new(seg[0], seg[1], seg[2], seg[3], 0, 0, 0, 0),
                64,
            ),
            mode: RequestMode::Explicit,
            home_link: None,
            vendor_id: DEFAULT_VENDOR_ID,
            suite: Suite::Aes128Gcm,
            max_binding_lifetime: Duration::from_secs(3600),
            binding_cache: BindingCacheStorage::Volatile,
            refresh_percent: 80,
            key_update_interval: Duration::from_secs(3600),
            rekey_after_initialization: true,
            init_timestamp_skew: Duration::from_secs(30),
            rekey_sequence_margin: 1 << 20,
            sequence_block: 1024,
            replay_window: ReplayWindow::new(Self::DEFAULT_REPLAY_WINDOW)
                .unwrap_or_else(|| unreachable!("64 is a valid window")),
            mobile_nodes,
        }
    }
}

/// Whether `address` lies inside `prefix` of `len` bits (RFC 4291 §2.3).
pub fn on_prefix(address: &Ipv6Addr, (prefix, len): (Ipv6Addr, u8)) -> bool {
    let bits = u32::from(len.min(128));
    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
    u128::from(*address) & mask == u128::from(prefix) & mask
}
