//! The `mip6-ha` daemon's configuration file (TOML): what [`DaemonConfig`] holds, how
//! [`parse`] reports syntax errors with line and column, the semantic checks of
//! [`DaemonConfig::validate`], and the conversion to the engine's [`HaConfig`].
//!
//! Steps: [`load`] (or [`parse`]) → [`DaemonConfig::validate`] → [`DaemonConfig::to_engine`].
//! Nothing here panics on any input; every problem is a [`ConfigError`] whose
//! `Display` reads `FILE:LINE:COLUMN: FIELD: MESSAGE`.
//!
//! Values: durations are `"30s"`, `"5m"`, `"1h"` or an integer number of seconds; SPIs
//! are TOML integers (`0x1001` is one) or hex strings `"0x1001"`; secrets are 64 hex
//! digits (32 octets, docs/architecture.md, "Key schedule"); the home prefix is `ADDRESS/LEN` with
//! no host bits set.
//!
//! The value types, the error layout and the parsing plumbing are shared with
//! `mip6_mn_daemon::config` in [`mip6_daemon::config`] and re-exported here.
//!
//! Mobile nodes are added and removed, and the timers changed, by SIGHUP without a
//! restart ([`crate::reload`]).
//!
//! Not supported: more than one home prefix,
//! include files, environment overrides.

use core::ops::Range;
use core::time::Duration;
use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use mip6_daemon::config::{self, CommonKind, ConfigEncapsulation, SourceText};
use mip6_wire::esp::{ReplayWindow, Spi};
use mip6_wire::keys::SpiPair;
use mip6_wire::mh::DEFAULT_VENDOR_ID;
use serde::Deserialize;
use toml::Spanned;

use mip6_ha::{BindingCacheStorage, HaConfig, MnConfig};

pub use mip6_daemon::config::{
    ConfigDuration, ConfigRequestMode, ConfigSpi, ConfigSuite, LogConfig, LogFormat, LogLevel,
    Position, Prefix, SecretHex, MAX_LIFETIME, MIN_LIFETIME, SECRET_OCTETS,
};

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    /// TOML syntax, a wrong type, a bad value or an unknown field (toml's own message).
    #[error("{0}")]
    Syntax(String),
    /// A secret that is not hex.
    #[error("secret is not hex: {0}")]
    SecretNotHex(String),
    /// A secret of the wrong length.
    #[error("bad secret length: {octets} octets, need 32")]
    BadSecretLength {
        /// Octets given (odd digit counts round down).
        octets: usize,
    },
    /// An SPI in 0..=255 (RFC 4303 §2.1).
    #[error("SPI {spi:#x} is reserved (0..=255, RFC 4303 §2.1)")]
    ReservedSpi {
        /// The SPI.
        spi: u32,
    },
    /// The same SPI configured twice, for any mobile node and direction.
    #[error("SPI {spi:#x} is already used at line {first}")]
    DuplicateSpi {
        /// The SPI.
        spi: u32,
        /// Where it was first configured.
        first: Position,
    },
    /// Two mobile nodes with one home address.
    #[error("home address {address} is already configured at line {first}")]
    DuplicateHomeAddress {
        /// The home address.
        address: Ipv6Addr,
        /// Where it was first configured.
        first: Position,
    },
    /// An address outside the home prefix: an MN the HA cannot serve, or an HA address
    /// off the home link (RFC 6275 §10.3.1).
    #[error("{address} is not inside the home prefix {prefix}")]
    OutsideHomePrefix {
        /// The address.
        address: Ipv6Addr,
        /// The configured home prefix.
        prefix: Prefix,
    },
    /// A mobile node whose home address is the HA's own address.
    #[error("home address {0} is the home agent's own address")]
    HomeAddressIsAgent(Ipv6Addr),
    /// An interface the system does not have.
    #[error("unknown interface {0:?}")]
    UnknownInterface(String),
    /// A TUN name the kernel would refuse: 1 to 15 octets (`IFNAMSIZ` − 1), none of
    /// them `/`, `:` or white space, and not `.` or `..` (netdevice(7)).
    #[error("bad interface name {0:?}: 1 to 15 octets, no '/', ':' or white space")]
    BadInterfaceName(String),
    /// A TUN MTU below IPv6's minimum link MTU (RFC 8200 §5).
    #[error("MTU {0} is below IPv6's minimum of 1280 (RFC 8200 §5)")]
    MtuTooSmall(u16),
    /// An anti-replay window outside 64..=4096 (RFC 4303 §3.4.3: 32 minimum, 64
    /// recommended; mip6-wire keeps at most 4096).
    #[error("replay window {0} is outside 64..=4096 packets")]
    ReplayWindow(u32),
    /// A metrics listener not on a loopback address.
    #[error("metrics address {0} is not loopback")]
    MetricsNotLoopback(SocketAddr),
    /// A `[pair]` table that cannot work (its own words).
    #[error("{0}")]
    Pair(String),
    /// A pair of home agents without persistence: the standby would find no key or
    /// binding to take over (issue 13, item 5).
    #[error("a home agent pair needs persistence = true (the standby takes over the stored keys and bindings)")]
    PairWithoutPersistence,
    /// A duration of zero.
    #[error("duration must not be zero")]
    ZeroDuration,
    /// A binding lifetime outside 4 s..=262140 s (RFC 6275 §6.1.7: 4-second units,
    /// 16 bits; below 4 s it is 0, a deregistration).
    #[error("lifetime {secs} s is outside 4..=262140 s (RFC 6275 §6.1.7)")]
    LifetimeOutOfRange {
        /// The configured lifetime in seconds.
        secs: u64,
    },
    /// UDP port 0 for ESP in UDP (RFC 3948 §2.1 uses 4500).
    #[error("udp_port 0 cannot be listened on (RFC 3948 uses 4500)")]
    ZeroUdpPort,
}

/// A configuration error: where (file, line, column), which field, and what.
pub type ConfigError = mip6_daemon::config::ConfigError<ConfigErrorKind>;

impl CommonKind for ConfigErrorKind {
    fn io(error: std::io::Error) -> Self {
        ConfigErrorKind::Io(error)
    }
    fn syntax(message: String) -> Self {
        ConfigErrorKind::Syntax(message)
    }
    fn secret_not_hex(why: String) -> Self {
        ConfigErrorKind::SecretNotHex(why)
    }
    fn bad_secret_length(octets: usize) -> Self {
        ConfigErrorKind::BadSecretLength { octets }
    }
}

/// One `[[mobile_node]]` entry (RFC 6275 §10.3.1: the home addresses the HA serves).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileNodeEntry {
    /// The mobile node's home address, inside `home_prefix`.
    pub home_address: Spanned<Ipv6Addr>,
    /// The pre-shared initialization secret: 64 hex digits.
    pub init_secret: Spanned<SecretHex>,
    /// SPI of the MN→HA init SA; unique across all entries and directions.
    pub init_spi_mn_to_ha: Spanned<ConfigSpi>,
    /// SPI of the HA→MN init SA; unique across all entries and directions.
    pub init_spi_ha_to_mn: Spanned<ConfigSpi>,
    /// Suite of the init SAs (default `"aes-128-gcm"`).
    #[serde(default)]
    pub init_suite: ConfigSuite,
}

/// The `mip6-ha` configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// The file this came from ([`load`]); prefixes every error.
    #[serde(skip)]
    pub origin: Option<PathBuf>,
    /// The home link's interface: proxy Neighbor Discovery for the home addresses.
    pub home_interface: Spanned<String>,
    /// Further interfaces the HA receives signalling and tunnel traffic on.
    #[serde(default)]
    pub interfaces: Vec<Spanned<String>>,
    /// The home prefix (RFC 6275 §10.3.1), e.g. `"2001:db8:1::/64"`.
    pub home_prefix: Spanned<Prefix>,
    /// The HA's own address, inside the home prefix.
    pub address: Spanned<Ipv6Addr>,
    /// Directory of the persisted key records.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Whether key records are persisted (default true); false: a "stateless" HA.
    #[serde(default = "default_true")]
    pub persistence: bool,
    /// How the mobile nodes ask for keys (default explicit).
    #[serde(default)]
    pub request_mode: ConfigRequestMode,
    /// The per-MN key update timer (default 1 h).
    pub key_update_interval: Option<Spanned<ConfigDuration>>,
    /// Longest binding lifetime granted (default 1 h; at most 262140 s).
    pub max_binding_lifetime: Option<Spanned<ConfigDuration>>,
    /// Vendor ID of the key-management options (default 32473).
    #[serde(default = "default_vendor_id")]
    pub vendor_id: u32,
    /// Suite of the generations the HA draws (default `"aes-128-gcm"`).
    #[serde(default)]
    pub suite: ConfigSuite,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Where metrics are served (loopback only); none if absent.
    pub metrics: Option<Spanned<SocketAddr>>,
    /// Name of the TUN the data path runs through (default `"mip6ha"`).
    pub tun_name: Option<Spanned<String>>,
    /// MTU of the TUN (default 1420, so a tunnelled packet — inner packet, outer IPv6
    /// header, ESP header, IV, padding and ICV — fits a 1500-octet link; 1412 with
    /// `encapsulation = "udp"`, for the UDP header).
    pub tun_mtu: Option<Spanned<u16>>,
    /// `"esp"` (default): raw ESP only. `"udp"`: also listen for ESP in UDP (RFC 3948)
    /// on `udp_port`, and answer each mobile node the way its last authenticated
    /// frame came (raw ESP, or UDP to the port it came from).
    #[serde(default)]
    pub encapsulation: ConfigEncapsulation,
    /// The UDP port of ESP in UDP (default 4500, RFC 3948 §2.1).
    pub udp_port: Option<Spanned<u16>>,
    /// Run the TUN with offloads (`IFF_VNET_HDR`: TSO super-packets split on read, TCP
    /// segments coalesced on write; default `true`). `false` gives one system call per
    /// packet, for kernels or tools that mishandle `virtio_net_hdr`.
    #[serde(default = "default_tun_offload")]
    pub tun_offload: bool,
    /// Duplicate Address Detection probes the home agent sends on the home link before
    /// it accepts a home address's first registration (RFC 6275 §10.3.1, RFC 4862
    /// `DupAddrDetectTransmits`; default 1, one second; 0: none, the first
    /// registration is answered at once).
    #[serde(default = "default_dad_transmits")]
    pub dad_transmits: u8,
    /// Anti-replay window of every inbound SA, in packets (RFC 4303 §3.4.3; default
    /// 64, RFC 4303's recommendation, [`HaConfig::DEFAULT_REPLAY_WINDOW`]).
    pub replay_window: Option<Spanned<u32>>,
    /// The control socket's path.
    #[serde(default = "default_control_socket")]
    pub control_socket: PathBuf,
    /// A home agent pair on etcd (`crate::pair`); alone on the embedded store if
    /// absent.
    pub pair: Option<Spanned<crate::pair::PairConfig>>,
    /// The mobile nodes served.
    #[serde(default)]
    pub mobile_node: Vec<MobileNodeEntry>,
    /// The text parsed, to turn spans into lines and columns.
    #[serde(skip)]
    text: SourceText,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/mip6-ha")
}

fn default_control_socket() -> PathBuf {
    PathBuf::from("/run/mip6-ha.sock")
}

fn default_true() -> bool {
    true
}

fn default_vendor_id() -> u32 {
    DEFAULT_VENDOR_ID
}

/// Default TUN name.
pub const DEFAULT_TUN_NAME: &str = "mip6ha";

/// Default TUN MTU: 1500 − 40 (outer IPv6) − 8 (ESP header) − 8 (IV) − 3 (padding at
/// most) − 2 (pad length, next header) − 16 (ICV) = 1423, rounded down to 1420.
pub const DEFAULT_TUN_MTU: u16 = 1420;

/// IPv6's minimum link MTU (RFC 8200 §5).
pub const MIN_MTU: u16 = 1280;

/// Whether Linux accepts `name` as an interface name (`dev_valid_name`).
pub fn is_valid_interface_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

/// Default key update interval and binding lifetime: one hour.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

impl DaemonConfig {
    /// Drops the copy of the file's text kept for error positions: a validated
    /// configuration the daemon runs with needs none, and at 100 000 mobile nodes it is
    /// some 20 MB (issue 13: resident memory per node). Errors found after this have
    /// no line and column.
    pub fn forget_source_text(&mut self) {
        self.text = SourceText::default();
    }

    /// Drops the `[[mobile_node]]` entries (with their secrets in hex): the running
    /// daemon keeps what a reload compares of them in `crate::reload::FileNodes`.
    pub fn forget_mobile_nodes(&mut self) {
        self.mobile_node = Vec::new();
    }
}

/// Parses a configuration; syntax errors, wrong types, bad values and unknown fields
/// come back with their line and column and the field they concern. No semantic
/// checks: see [`DaemonConfig::validate`].
pub fn parse(text: &str) -> Result<DaemonConfig, ConfigError> {
    let mut config: DaemonConfig = config::parse_toml(text)?;
    config.text = SourceText::new(text);
    Ok(config)
}

/// Reads and [`parse`]s the file at `path`; errors name the file.
pub fn load(path: &Path) -> Result<DaemonConfig, ConfigError> {
    let text = config::read_file(path)?;
    let mut config = parse(&text).map_err(|e| e.with_origin(path))?;
    config.origin = Some(path.to_owned());
    Ok(config)
}

impl DaemonConfig {
    fn error(&self, span: Option<Range<usize>>, field: &str, kind: ConfigErrorKind) -> ConfigError {
        self.text.error(self.origin.as_deref(), span, field, kind)
    }

    fn position(&self, span: Range<usize>) -> Position {
        self.text.position(span)
    }

    /// The key update interval, with its default.
    pub fn key_update_interval(&self) -> Duration {
        self.key_update_interval
            .as_ref()
            .map_or(DEFAULT_INTERVAL, |d| d.get_ref().0)
    }

    /// The longest binding lifetime granted, with its default.
    pub fn max_binding_lifetime(&self) -> Duration {
        self.max_binding_lifetime
            .as_ref()
            .map_or(DEFAULT_INTERVAL, |d| d.get_ref().0)
    }

    /// The TUN's name, with its default.
    pub fn tun_name(&self) -> &str {
        self.tun_name
            .as_ref()
            .map_or(DEFAULT_TUN_NAME, |n| n.get_ref().as_str())
    }

    /// The TUN's MTU, with its default (smaller by the UDP header with ESP in UDP).
    pub fn tun_mtu(&self) -> u16 {
        self.tun_mtu.as_ref().map_or_else(
            || match self.encapsulation {
                ConfigEncapsulation::Esp => DEFAULT_TUN_MTU,
                ConfigEncapsulation::Udp => DEFAULT_TUN_MTU - config::UDP_OVERHEAD,
            },
            |m| *m.get_ref(),
        )
    }

    /// ESP in UDP as the shell takes it: the port, no fixed peer (each mobile node is
    /// answered as it came); `None` with raw ESP only.
    pub fn udp_encapsulation(&self) -> Option<mip6_daemon::shell::UdpEncapConfig> {
        (self.encapsulation == ConfigEncapsulation::Udp).then(|| {
            mip6_daemon::shell::UdpEncapConfig {
                port: self
                    .udp_port
                    .as_ref()
                    .map_or(config::DEFAULT_UDP_PORT, |p| *p.get_ref()),
                fixed_peer: None,
                keepalive: None,
            }
        })
    }

    /// All interfaces the daemon uses: the home interface first, then `interfaces`.
    pub fn all_interfaces(&self) -> impl Iterator<Item = &str> {
        core::iter::once(self.home_interface.get_ref().as_str())
            .chain(self.interfaces.iter().map(|i| i.get_ref().as_str()))
    }

    /// Semantic checks, all errors collected in file order of discovery: secrets of
    /// 32 hex octets, SPIs not reserved (RFC 4303 §2.1) and not configured twice,
    /// home addresses unique, inside the home prefix and not the HA's, the HA address
    /// inside the home prefix, every interface known to `interface_exists`, metrics on
    /// loopback, non-zero durations, lifetimes within RFC 6275 §6.1.7, a valid TUN name
    /// and a TUN MTU of at least 1280.
    pub fn validate(
        &self,
        interface_exists: &dyn Fn(&str) -> bool,
    ) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let prefix = *self.home_prefix.get_ref();
        let ha = *self.address.get_ref();

        for (field, iface) in core::iter::once(("home_interface", &self.home_interface))
            .chain(self.interfaces.iter().map(|i| ("interfaces", i)))
        {
            if !interface_exists(iface.get_ref()) {
                errors.push(self.error(
                    Some(iface.span()),
                    field,
                    ConfigErrorKind::UnknownInterface(iface.get_ref().clone()),
                ));
            }
        }
        if let Some(pair) = &self.pair {
            if let Err(why) = pair.get_ref().check() {
                errors.push(self.error(Some(pair.span()), "pair", ConfigErrorKind::Pair(why)));
            }
            if !self.persistence {
                errors.push(self.error(
                    Some(pair.span()),
                    "pair",
                    ConfigErrorKind::PairWithoutPersistence,
                ));
            }
        }
        if let Some(name) = &self.tun_name {
            if !is_valid_interface_name(name.get_ref()) {
                errors.push(self.error(
                    Some(name.span()),
                    "tun_name",
                    ConfigErrorKind::BadInterfaceName(name.get_ref().clone()),
                ));
            }
        }
        if let Some(w) = &self.replay_window {
            if ReplayWindow::new(*w.get_ref()).is_none() {
                errors.push(self.error(
                    Some(w.span()),
                    "replay_window",
                    ConfigErrorKind::ReplayWindow(*w.get_ref()),
                ));
            }
        }
        if let Some(port) = &self.udp_port {
            if *port.get_ref() == 0 {
                errors.push(self.error(
                    Some(port.span()),
                    "udp_port",
                    ConfigErrorKind::ZeroUdpPort,
                ));
            }
        }
        if let Some(mtu) = &self.tun_mtu {
            if *mtu.get_ref() < MIN_MTU {
                errors.push(self.error(
                    Some(mtu.span()),
                    "tun_mtu",
                    ConfigErrorKind::MtuTooSmall(*mtu.get_ref()),
                ));
            }
        }
        if !prefix.contains(ha) {
            errors.push(self.error(
                Some(self.address.span()),
                "address",
                ConfigErrorKind::OutsideHomePrefix {
                    address: ha,
                    prefix,
                },
            ));
        }
        if let Some(key) = &self.key_update_interval {
            if key.get_ref().0.is_zero() {
                errors.push(self.error(
                    Some(key.span()),
                    "key_update_interval",
                    ConfigErrorKind::ZeroDuration,
                ));
            }
        }
        if let Some(lifetime) = &self.max_binding_lifetime {
            let d = lifetime.get_ref().0;
            if d < MIN_LIFETIME || d > MAX_LIFETIME {
                errors.push(self.error(
                    Some(lifetime.span()),
                    "max_binding_lifetime",
                    ConfigErrorKind::LifetimeOutOfRange { secs: d.as_secs() },
                ));
            }
        }
        if let Some(metrics) = &self.metrics {
            if !metrics.get_ref().ip().is_loopback() {
                errors.push(self.error(
                    Some(metrics.span()),
                    "metrics",
                    ConfigErrorKind::MetricsNotLoopback(*metrics.get_ref()),
                ));
            }
        }
        let mut spis: HashMap<u32, usize> = HashMap::new();
        let mut hoas: HashMap<Ipv6Addr, usize> = HashMap::new();
        for mn in &self.mobile_node {
            let hoa = *mn.home_address.get_ref();
            let hoa_span = mn.home_address.span();
            if let Some(first) = hoas.get(&hoa) {
                errors.push(self.error(
                    Some(hoa_span.clone()),
                    "home_address",
                    ConfigErrorKind::DuplicateHomeAddress {
                        address: hoa,
                        first: self.position(*first..*first),
                    },
                ));
            } else {
                // The offset only: a position costs a scan of the text before it,
                // which per entry made validation quadratic (issue 13).
                hoas.insert(hoa, hoa_span.start);
            }
            if !prefix.contains(hoa) {
                errors.push(self.error(
                    Some(hoa_span.clone()),
                    "home_address",
                    ConfigErrorKind::OutsideHomePrefix {
                        address: hoa,
                        prefix,
                    },
                ));
            } else if hoa == ha {
                errors.push(self.error(
                    Some(hoa_span),
                    "home_address",
                    ConfigErrorKind::HomeAddressIsAgent(hoa),
                ));
            }
            if let Err(kind) = mn.init_secret.get_ref().decode() {
                errors.push(self.error(Some(mn.init_secret.span()), "init_secret", kind));
            }
            for (field, spi) in [
                ("init_spi_mn_to_ha", &mn.init_spi_mn_to_ha),
                ("init_spi_ha_to_mn", &mn.init_spi_ha_to_mn),
            ] {
                let value = spi.get_ref().0;
                if Spi::new(value).is_err() {
                    errors.push(self.error(
                        Some(spi.span()),
                        field,
                        ConfigErrorKind::ReservedSpi { spi: value },
                    ));
                } else if let Some(first) = spis.get(&value) {
                    errors.push(self.error(
                        Some(spi.span()),
                        field,
                        ConfigErrorKind::DuplicateSpi {
                            spi: value,
                            first: self.position(*first..*first),
                        },
                    ));
                } else {
                    spis.insert(value, spi.span().start);
                }
            }
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The engine's configuration. Runs [`validate`](Self::validate) without the
    /// interface check first (the engine has no interfaces), so it never panics and
    /// returns the same errors for a configuration that is not valid.
    pub fn to_engine(&self) -> Result<HaConfig, Vec<ConfigError>> {
        self.validate(&|_| true)?;
        let mut mobile_nodes = Vec::with_capacity(self.mobile_node.len());
        for mn in &self.mobile_node {
            let spi = |s: &Spanned<ConfigSpi>, field: &str| {
                Spi::new(s.get_ref().0).map_err(|_| {
                    vec![self.error(
                        Some(s.span()),
                        field,
                        ConfigErrorKind::ReservedSpi { spi: s.get_ref().0 },
                    )]
                })
            };
            mobile_nodes.push(MnConfig {
                home_address: *mn.home_address.get_ref(),
                init_secret: mn
                    .init_secret
                    .get_ref()
                    .decode()
                    .map_err(|k| vec![self.error(Some(mn.init_secret.span()), "init_secret", k)])?,
                init_spis: SpiPair {
                    mn_to_ha: spi(&mn.init_spi_mn_to_ha, "init_spi_mn_to_ha")?,
                    ha_to_mn: spi(&mn.init_spi_ha_to_mn, "init_spi_ha_to_mn")?,
                },
                init_suite: mn.init_suite.into(),
            });
        }
        let mut config = HaConfig::new(*self.address.get_ref(), mobile_nodes);
        let prefix = *self.home_prefix.get_ref();
        config.home_prefix = (prefix.address, prefix.len);
        config.mode = self.request_mode.into();
        config.vendor_id = self.vendor_id;
        config.suite = self.suite.into();
        config.max_binding_lifetime = self.max_binding_lifetime();
        config.key_update_interval = self.key_update_interval();
        config.binding_cache = if self.persistence {
            BindingCacheStorage::Durable
        } else {
            BindingCacheStorage::Volatile
        };
        if let Some(window) = self
            .replay_window
            .as_ref()
            .and_then(|w| ReplayWindow::new(*w.get_ref()))
        {
            config.replay_window = window;
        }
        Ok(config)
    }
}

fn default_tun_offload() -> bool {
    true
}

fn default_dad_transmits() -> u8 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"home_interface = "eth0"
home_prefix = "2001:db8:1::/64"
address = "2001:db8:1::1"
[[mobile_node]]
home_address = "2001:db8:1::100"
init_secret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
init_spi_mn_to_ha = 0x1001
init_spi_ha_to_mn = 0x1002
"#;

    fn with(line: &str) -> String {
        format!("{line}\n{BASE}")
    }

    #[test]
    fn tun_defaults() {
        let config = parse(BASE).unwrap();
        config.validate(&|_| true).unwrap();
        assert_eq!(config.tun_name(), DEFAULT_TUN_NAME);
        assert_eq!(config.tun_mtu(), DEFAULT_TUN_MTU);
        assert!(config.tun_offload, "TUN offloads on by default");
        assert_eq!(config.dad_transmits, 1, "RFC 4862's DupAddrDetectTransmits");
        assert_eq!(parse(&with("dad_transmits = 0")).unwrap().dad_transmits, 0);
        let off = parse(&with("tun_offload = false")).unwrap();
        off.validate(&|_| true).unwrap();
        assert!(!off.tun_offload);
    }

    #[test]
    fn esp_in_udp_listens_on_its_port_and_learns_each_node_with_a_smaller_tun() {
        let raw = parse(BASE).unwrap();
        assert_eq!(
            raw.encapsulation,
            ConfigEncapsulation::Esp,
            "raw ESP by default"
        );
        assert_eq!(raw.udp_encapsulation(), None);
        let udp = parse(&with("encapsulation = \"udp\"")).unwrap();
        udp.validate(&|_| true).unwrap();
        let shell = udp.udp_encapsulation().expect("UDP");
        assert_eq!(shell.port, 4500);
        assert_eq!(shell.fixed_peer, None, "each node answered as it came");
        assert_eq!(
            udp.tun_mtu(),
            DEFAULT_TUN_MTU - 8,
            "room for the UDP header"
        );
        let set = parse(&with(
            "encapsulation = \"udp\"\nudp_port = 14500\ntun_mtu = 1400",
        ))
        .unwrap();
        assert_eq!(set.udp_encapsulation().unwrap().port, 14500);
        assert_eq!(set.tun_mtu(), 1400, "a configured MTU wins");
        let zero = parse(&with("udp_port = 0")).unwrap();
        let errors = zero.validate(&|_| true).unwrap_err();
        assert!(
            matches!(errors[0].kind, ConfigErrorKind::ZeroUdpPort),
            "{errors:?}"
        );
    }

    #[test]
    fn tun_values_are_read() {
        let config = parse(&with("tun_name = \"ha0\"\ntun_mtu = 1300")).unwrap();
        config.validate(&|_| true).unwrap();
        assert_eq!(config.tun_name(), "ha0");
        assert_eq!(config.tun_mtu(), 1300);
    }

    #[test]
    fn bad_tun_names_are_refused_at_their_position() {
        for bad in ["", "a/b", "a b", "a:b", "..", "sixteen-octets-x"] {
            let config = parse(&with(&format!("tun_name = \"{bad}\""))).unwrap();
            let errors = config.validate(&|_| true).unwrap_err();
            assert_eq!(errors.len(), 1, "{bad:?}: {errors:?}");
            assert_eq!(errors[0].field, "tun_name");
            assert_eq!(
                errors[0].position,
                Some(Position {
                    line: 1,
                    column: 12
                })
            );
            assert!(matches!(
                errors[0].kind,
                ConfigErrorKind::BadInterfaceName(_)
            ));
        }
        assert!(is_valid_interface_name("fifteen-octets-"));
    }

    #[test]
    fn replay_window_defaults_to_rfc_4303s_64_and_can_be_widened() {
        let config = parse(&with("")).unwrap();
        assert_eq!(config.to_engine().unwrap().replay_window.size(), 64);
        let config = parse(&with("replay_window = 1024")).unwrap();
        assert_eq!(config.to_engine().unwrap().replay_window.size(), 1024);
    }

    #[test]
    fn small_or_huge_mtu_is_refused() {
        let config = parse(&with("replay_window = 10000")).unwrap();
        let errors = config.validate(&|_| true).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "1:17: replay_window: replay window 10000 is outside 64..=4096 packets"
        );
        let config = parse(&with("tun_mtu = 1279")).unwrap();
        let errors = config.validate(&|_| true).unwrap_err();
        assert!(matches!(errors[0].kind, ConfigErrorKind::MtuTooSmall(1279)));
        assert_eq!(
            errors[0].to_string(),
            "1:11: tun_mtu: MTU 1279 is below IPv6's minimum of 1280 (RFC 8200 §5)"
        );
        // Not a u16: a syntax error with its position, not a panic.
        let e = parse(&with("tun_mtu = 70000")).unwrap_err();
        assert_eq!(
            e.position,
            Some(Position {
                line: 1,
                column: 11
            })
        );
    }
}
