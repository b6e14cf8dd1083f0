//! The `mip6-mn` daemon's configuration file (TOML): what [`DaemonConfig`] holds, how
//! [`parse`] reports syntax errors with line and column, the semantic checks of
//! [`DaemonConfig::validate`], and the conversion to the engine's [`MnConfig`].
//!
//! Steps: [`load`] (or [`parse`]) → [`DaemonConfig::validate`] → [`DaemonConfig::to_engine`].
//! Nothing here panics on any input; every problem is a [`ConfigError`] whose
//! `Display` reads `FILE:LINE:COLUMN: FIELD: MESSAGE`.
//!
//! Values: durations are `"30s"`, `"5m"`, `"1h"` or an integer number of seconds; SPIs
//! are TOML integers (`0x1001` is one) or hex strings `"0x1001"`; the secret is 64 hex
//! digits (32 octets, docs/architecture.md, "Key schedule").
//!
//! The value types, the error layout and the parsing plumbing are shared with
//! `mip6_ha_daemon::config` in [`mip6_daemon::config`] and re-exported here.
//!
//! Not supported: more than one home agent or home address, include files,
//! environment overrides.

use core::ops::Range;
use core::time::Duration;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use mip6_daemon::config::{self, CommonKind, ConfigEncapsulation, SourceText};
use mip6_wire::esp::Spi;
use mip6_wire::keys::SpiPair;
use mip6_wire::mh::DEFAULT_VENDOR_ID;
use serde::Deserialize;
use toml::Spanned;

use mip6_mn::MnConfig;

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
    /// The same SPI in both directions.
    #[error("SPI {spi:#x} is already used at line {first}")]
    DuplicateSpi {
        /// The SPI.
        spi: u32,
        /// Where it was first configured.
        first: Position,
    },
    /// The home agent is not on the home link (RFC 6275 §10.1: it is a router on it).
    #[error("home agent {home_agent} is not inside the home prefix {prefix}")]
    HomeAgentOffLink {
        /// The home agent's address.
        home_agent: Ipv6Addr,
        /// The home prefix (home address / `home_prefix_len`).
        prefix: Prefix,
    },
    /// The home address is the home agent's address.
    #[error("home address {0} is the home agent's own address")]
    HomeAddressIsAgent(Ipv6Addr),
    /// A prefix length above 128.
    #[error("prefix length {0} is above 128")]
    PrefixLength(u8),
    /// No interface to watch.
    #[error("no interface to watch: the node could never find a care-of address")]
    NoInterface,
    /// A TUN name Linux would refuse (1..=15 octets, no `/`, whitespace or `:`).
    #[error("bad TUN name {0:?}: 1 to 15 characters, no '/', ':' or whitespace")]
    BadTunName(String),
    /// An interface the system does not have.
    #[error("unknown interface {0:?}")]
    UnknownInterface(String),
    /// A duration of zero.
    #[error("duration must not be zero")]
    ZeroDuration,
    /// A metrics listener not on a loopback address (the endpoint has no
    /// authentication, so it is never exposed beyond the host).
    #[error("metrics address {0} is not loopback")]
    MetricsNotLoopback(SocketAddr),
    /// A routing table number the kernel reserves (0 unspec, 253 default, 254 main,
    /// 255 local).
    #[error("routing table {0} is reserved (0, 253, 254, 255)")]
    ReservedTable(u32),
    /// UDP port 0 for ESP in UDP (RFC 3948 §2.1 uses 4500).
    #[error("udp_port 0 cannot be listened on (RFC 3948 uses 4500)")]
    ZeroUdpPort,
    /// A binding lifetime outside 4 s..=262140 s (RFC 6275 §6.1.7: 4-second units,
    /// 16 bits; below 4 s it is 0, a deregistration).
    #[error("lifetime {secs} s is outside 4..=262140 s (RFC 6275 §6.1.7)")]
    LifetimeOutOfRange {
        /// The configured lifetime in seconds.
        secs: u64,
    },
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

/// The `mip6-mn` configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// The file this came from ([`load`]); prefixes every error.
    #[serde(skip)]
    pub origin: Option<PathBuf>,
    /// The home agent's address: destination of every Binding Update and tunnel frame.
    pub home_agent: Spanned<Ipv6Addr>,
    /// The node's home address (RFC 6275 §11.5).
    pub home_address: Spanned<Ipv6Addr>,
    /// Length of the home prefix (default 64); the home agent must be inside it.
    pub home_prefix_len: Option<Spanned<u8>>,
    /// The pre-shared initialization secret: 64 hex digits.
    pub init_secret: Spanned<SecretHex>,
    /// SPI of the MN→HA init SA, as configured on the home agent.
    pub init_spi_mn_to_ha: Spanned<ConfigSpi>,
    /// SPI of the HA→MN init SA, as configured on the home agent.
    pub init_spi_ha_to_mn: Spanned<ConfigSpi>,
    /// Suite of the init SAs (default `"aes-128-gcm"`), as on the home agent.
    #[serde(default)]
    pub init_suite: ConfigSuite,
    /// Interfaces watched for care-of addresses.
    pub interfaces: Spanned<Vec<Spanned<String>>>,
    /// Read Router Advertisements on the watched interfaces and form care-of addresses
    /// from them (RFC 6275 §11.5.1–11.5.3; default `true`). `false`: only addresses
    /// put there by others (the kernel's SLAAC, DHCPv6, an operator) count.
    #[serde(default = "default_router_discovery")]
    pub router_discovery: bool,
    /// How the node asks for keys (default explicit), as on the home agent.
    #[serde(default)]
    pub request_mode: ConfigRequestMode,
    /// After this long on one generation, ask for a new one (default 1 h).
    pub key_update_interval: Option<Spanned<ConfigDuration>>,
    /// Binding lifetime asked for (default 600 s; 4 s to 262140 s, RFC 6275 §6.1.7).
    pub lifetime: Option<Spanned<ConfigDuration>>,
    /// Vendor ID of the key-management options (default 32473), as on the home agent.
    #[serde(default = "default_vendor_id")]
    pub vendor_id: u32,
    /// Directory of the persisted record (sequence marks); default derived from the
    /// home address ([`DaemonConfig::state_dir`]).
    pub state_dir: Option<PathBuf>,
    /// Name of the TUN device the home address lives on; default derived from the
    /// home address ([`DaemonConfig::tun_name`]).
    pub tun_name: Option<Spanned<String>>,
    /// Run the TUN with offloads (`IFF_VNET_HDR`: TSO super-packets split on read, TCP
    /// segments coalesced on write; default `true`). `false` gives one system call per
    /// packet, for kernels or tools that mishandle `virtio_net_hdr`.
    #[serde(default = "default_tun_offload")]
    pub tun_offload: bool,
    /// `"esp"` (default): raw ESP to the home agent. `"udp"`: ESP in UDP (RFC 3948)
    /// to `udp_port` on the home agent, signalling and data, from the same port here
    /// (behind a NAT or a UDP-only firewall; the kernel then batches the tunnel with
    /// UDP GSO and GRO). The home agent must have `encapsulation = "udp"` too.
    #[serde(default)]
    pub encapsulation: ConfigEncapsulation,
    /// The UDP port of ESP in UDP, here and on the home agent (default 4500, RFC 3948
    /// §2.1).
    pub udp_port: Option<Spanned<u16>>,
    /// With ESP in UDP: after this long without sending the home agent anything, send
    /// a NAT keepalive (RFC 3948 §2.3; default 20 s, RFC 3948 §4), so a NAT on the
    /// way keeps the mapping the home agent answers through.
    pub udp_keepalive: Option<Spanned<ConfigDuration>>,
    /// The control socket's path; default derived from the home address
    /// ([`DaemonConfig::control_socket`]).
    pub control_socket: Option<PathBuf>,
    /// Where Prometheus metrics are served (loopback only); none if absent.
    pub metrics: Option<Spanned<SocketAddr>>,
    /// The routing table holding the default route via the TUN, looked up by the
    /// source rule `from <home address>`; default derived from the home address
    /// ([`DaemonConfig::route_table`]).
    pub route_table: Option<Spanned<u32>>,
    /// Priority of that source rule (default 1000: before the main table's 32766).
    #[serde(default = "default_rule_priority")]
    pub rule_priority: u32,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// The text parsed, to turn spans into lines and columns.
    #[serde(skip)]
    text: SourceText,
}

fn default_rule_priority() -> u32 {
    DEFAULT_RULE_PRIORITY
}

fn default_tun_offload() -> bool {
    true
}

fn default_router_discovery() -> bool {
    true
}

fn default_vendor_id() -> u32 {
    DEFAULT_VENDOR_ID
}

/// Default key update interval: one hour (as the engine's default).
pub const DEFAULT_KEY_UPDATE_INTERVAL: Duration = Duration::from_secs(3600);
/// Default binding lifetime asked for: 600 s (as the engine's default).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
/// Default home prefix length.
pub const DEFAULT_PREFIX_LEN: u8 = 64;
/// Default priority of the source rule. One priority serves every mobile node of a
/// host: each rule selects its own home address (`from <home address>`).
pub const DEFAULT_RULE_PRIORITY: u32 = 1000;
/// Where the derived control sockets live ([`HostDefaults::control_socket`]).
pub const CONTROL_SOCKET_DIR: &str = "/run";
/// Under which directory the derived state directories live
/// ([`HostDefaults::state_dir`]).
pub const STATE_DIR_BASE: &str = "/var/lib/mip6-mn";
/// Prefix of the derived TUN names ([`HostDefaults::tun_name`]).
pub const TUN_NAME_PREFIX: &str = "mip6mn-";
/// First routing table of the derived range ([`HostDefaults::route_table`]): 2^28,
/// far above the numbers distributions and `/etc/iproute2/rt_tables` use, and clear
/// of the kernel's reserved 0 and 253..=255.
pub const DERIVED_TABLE_BASE: u32 = 1 << 28;

/// The per-node defaults of everything a mobile node installs or opens on its host,
/// derived from its home address so that several mobile nodes run on one host with
/// no setting beside their own address, secret and SPIs (issue 11, item 4; the
/// design document's "Defaults"):
///
/// | what | default for home address `2001:db8:1::100` |
/// | --- | --- |
/// | control socket | `/run/mip6-mn-2001-db8-1--100.sock` (the address with `:` as `-`) |
/// | state directory | `/var/lib/mip6-mn/2001-db8-1--100` |
/// | TUN | `mip6mn-` and 6 hex digits of a hash of the address (13 characters) |
/// | routing table | 2^28 + the same 24 bits of that hash |
///
/// The socket and the directory are the address itself, so two nodes never share
/// them. The TUN name and the table share their 24 hash bits: two home addresses
/// whose hashes collide (about one pair in 16 million) get one TUN name, and the
/// second daemon's start fails when the kernel refuses it the busy TUN, before it
/// touches the table. The hash is FNV-1a over the address's 16 octets: stable
/// across builds and hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostDefaults {
    home_address: Ipv6Addr,
}

impl HostDefaults {
    /// The defaults of the node with this home address.
    pub const fn new(home_address: Ipv6Addr) -> Self {
        HostDefaults { home_address }
    }

    /// The home address as a file name: its RFC 5952 text with `:` made `-`.
    pub fn file_tag(&self) -> String {
        self.home_address.to_string().replace(':', "-")
    }

    /// 24 bits of FNV-1a over the address's octets.
    fn hash24(&self) -> u32 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.home_address.octets() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        ((h ^ (h >> 32)) & 0x00ff_ffff) as u32
    }

    /// `/run/mip6-mn-<tag>.sock`.
    pub fn control_socket(&self) -> PathBuf {
        Path::new(CONTROL_SOCKET_DIR).join(format!("mip6-mn-{}.sock", self.file_tag()))
    }

    /// `/var/lib/mip6-mn/<tag>`.
    pub fn state_dir(&self) -> PathBuf {
        Path::new(STATE_DIR_BASE).join(self.file_tag())
    }

    /// `mip6mn-<6 hex digits>`: 13 characters, within Linux's 15.
    pub fn tun_name(&self) -> String {
        format!("{TUN_NAME_PREFIX}{:06x}", self.hash24())
    }

    /// [`DERIVED_TABLE_BASE`] + the 24 hash bits.
    pub fn route_table(&self) -> u32 {
        DERIVED_TABLE_BASE + self.hash24()
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

    /// The key update interval, with its default.
    pub fn key_update_interval(&self) -> Duration {
        self.key_update_interval
            .as_ref()
            .map_or(DEFAULT_KEY_UPDATE_INTERVAL, |d| d.get_ref().0)
    }

    /// The binding lifetime asked for, with its default.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
            .as_ref()
            .map_or(DEFAULT_LIFETIME, |d| d.get_ref().0)
    }

    /// The home prefix length, with its default.
    pub fn home_prefix_len(&self) -> u8 {
        self.home_prefix_len
            .as_ref()
            .map_or(DEFAULT_PREFIX_LEN, |l| *l.get_ref())
    }

    /// The defaults derived from this node's home address ([`HostDefaults`]).
    pub fn host_defaults(&self) -> HostDefaults {
        HostDefaults::new(*self.home_address.get_ref())
    }

    /// The TUN device name: configured, else [`HostDefaults::tun_name`].
    pub fn tun_name(&self) -> String {
        self.tun_name
            .as_ref()
            .map_or_else(|| self.host_defaults().tun_name(), |t| t.get_ref().clone())
    }

    /// The reverse tunnel's routing table: configured, else
    /// [`HostDefaults::route_table`].
    pub fn route_table(&self) -> u32 {
        self.route_table
            .as_ref()
            .map_or_else(|| self.host_defaults().route_table(), |t| *t.get_ref())
    }

    /// The control socket: configured, else [`HostDefaults::control_socket`].
    pub fn control_socket(&self) -> PathBuf {
        self.control_socket
            .clone()
            .unwrap_or_else(|| self.host_defaults().control_socket())
    }

    /// The state directory: configured, else [`HostDefaults::state_dir`].
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| self.host_defaults().state_dir())
    }

    /// ESP in UDP as the shell takes it: every frame to the home agent in UDP on the
    /// port; `None` with raw ESP.
    pub fn udp_encapsulation(&self) -> Option<mip6_daemon::shell::UdpEncapConfig> {
        (self.encapsulation == ConfigEncapsulation::Udp).then(|| {
            mip6_daemon::shell::UdpEncapConfig {
                port: self
                    .udp_port
                    .as_ref()
                    .map_or(config::DEFAULT_UDP_PORT, |p| *p.get_ref()),
                fixed_peer: Some(*self.home_agent.get_ref()),
                keepalive: Some(
                    self.udp_keepalive
                        .as_ref()
                        .map_or(mip6_daemon::shell::encap::KEEPALIVE_EVERY, |d| {
                            d.get_ref().0
                        }),
                ),
            }
        })
    }

    /// The TUN's MTU: [`crate::host::TUN_MTU`], less the UDP header with ESP in UDP
    /// (so a full-size frame still fits a 1500-octet link).
    pub fn tun_mtu(&self) -> u16 {
        match self.encapsulation {
            ConfigEncapsulation::Esp => crate::host::TUN_MTU,
            ConfigEncapsulation::Udp => crate::host::TUN_MTU - config::UDP_OVERHEAD,
        }
    }

    /// The metrics address, if configured.
    pub fn metrics(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| *m.get_ref())
    }

    /// Semantic checks, all errors collected: the secret of 32 hex octets, SPIs not
    /// reserved (RFC 4303 §2.1) and different, the home agent inside the home prefix
    /// and not the home address, a prefix length of at most 128, at least one
    /// interface and every one known to `interface_exists`, a TUN name Linux takes,
    /// non-zero durations, a lifetime within RFC 6275 §6.1.7, metrics on a loopback
    /// address and a routing table the kernel does not reserve.
    pub fn validate(
        &self,
        interface_exists: &dyn Fn(&str) -> bool,
    ) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let ha = *self.home_agent.get_ref();
        let hoa = *self.home_address.get_ref();

        if let Err(kind) = self.init_secret.get_ref().decode() {
            errors.push(self.error(Some(self.init_secret.span()), "init_secret", kind));
        }
        let mut first: Option<(u32, Range<usize>)> = None;
        for (field, spi) in [
            ("init_spi_mn_to_ha", &self.init_spi_mn_to_ha),
            ("init_spi_ha_to_mn", &self.init_spi_ha_to_mn),
        ] {
            let value = spi.get_ref().0;
            if Spi::new(value).is_err() {
                errors.push(self.error(
                    Some(spi.span()),
                    field,
                    ConfigErrorKind::ReservedSpi { spi: value },
                ));
            } else if let Some((_, span)) = first.as_ref().filter(|(v, _)| *v == value) {
                errors.push(self.error(
                    Some(spi.span()),
                    field,
                    ConfigErrorKind::DuplicateSpi {
                        spi: value,
                        first: self.text.position(span.clone()),
                    },
                ));
            } else {
                first = Some((value, spi.span()));
            }
        }

        let len = self.home_prefix_len();
        if len > 128 {
            let span = self.home_prefix_len.as_ref().map(Spanned::span);
            errors.push(self.error(span, "home_prefix_len", ConfigErrorKind::PrefixLength(len)));
        } else {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            let prefix = Prefix {
                address: Ipv6Addr::from(u128::from(hoa) & mask),
                len,
            };
            if !prefix.contains(ha) {
                errors.push(self.error(
                    Some(self.home_agent.span()),
                    "home_agent",
                    ConfigErrorKind::HomeAgentOffLink {
                        home_agent: ha,
                        prefix,
                    },
                ));
            }
        }
        if ha == hoa {
            errors.push(self.error(
                Some(self.home_address.span()),
                "home_address",
                ConfigErrorKind::HomeAddressIsAgent(hoa),
            ));
        }

        if self.interfaces.get_ref().is_empty() {
            errors.push(self.error(
                Some(self.interfaces.span()),
                "interfaces",
                ConfigErrorKind::NoInterface,
            ));
        }
        for iface in self.interfaces.get_ref() {
            if !interface_exists(iface.get_ref()) {
                errors.push(self.error(
                    Some(iface.span()),
                    "interfaces",
                    ConfigErrorKind::UnknownInterface(iface.get_ref().clone()),
                ));
            }
        }
        if let Some(tun) = &self.tun_name {
            let name = tun.get_ref();
            if name.is_empty()
                || name.len() > 15
                || name
                    .chars()
                    .any(|c| c == '/' || c == ':' || c.is_whitespace())
            {
                errors.push(self.error(
                    Some(tun.span()),
                    "tun_name",
                    ConfigErrorKind::BadTunName(name.clone()),
                ));
            }
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
        if let Some(keepalive) = &self.udp_keepalive {
            if keepalive.get_ref().0.is_zero() {
                errors.push(self.error(
                    Some(keepalive.span()),
                    "udp_keepalive",
                    ConfigErrorKind::ZeroDuration,
                ));
            }
        }
        if let Some(lifetime) = &self.lifetime {
            let d = lifetime.get_ref().0;
            if d < MIN_LIFETIME || d > MAX_LIFETIME {
                errors.push(self.error(
                    Some(lifetime.span()),
                    "lifetime",
                    ConfigErrorKind::LifetimeOutOfRange { secs: d.as_secs() },
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
        if let Some(metrics) = &self.metrics {
            if !metrics.get_ref().ip().is_loopback() {
                errors.push(self.error(
                    Some(metrics.span()),
                    "metrics",
                    ConfigErrorKind::MetricsNotLoopback(*metrics.get_ref()),
                ));
            }
        }
        if let Some(table) = &self.route_table {
            if matches!(*table.get_ref(), 0 | 253..=255) {
                errors.push(self.error(
                    Some(table.span()),
                    "route_table",
                    ConfigErrorKind::ReservedTable(*table.get_ref()),
                ));
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
    pub fn to_engine(&self) -> Result<MnConfig, Vec<ConfigError>> {
        self.validate(&|_| true)?;
        let spi = |s: &Spanned<ConfigSpi>, field: &str| {
            Spi::new(s.get_ref().0).map_err(|_| {
                vec![self.error(
                    Some(s.span()),
                    field,
                    ConfigErrorKind::ReservedSpi { spi: s.get_ref().0 },
                )]
            })
        };
        let init_secret = self
            .init_secret
            .get_ref()
            .decode()
            .map_err(|k| vec![self.error(Some(self.init_secret.span()), "init_secret", k)])?;
        let init_spis = SpiPair {
            mn_to_ha: spi(&self.init_spi_mn_to_ha, "init_spi_mn_to_ha")?,
            ha_to_mn: spi(&self.init_spi_ha_to_mn, "init_spi_ha_to_mn")?,
        };
        let mut config = MnConfig::new(
            *self.home_agent.get_ref(),
            *self.home_address.get_ref(),
            init_secret,
            init_spis,
        );
        config.suite = self.init_suite.into();
        config.request_mode = self.request_mode.into();
        config.key_update_interval = Some(self.key_update_interval());
        config.requested_lifetime = self.lifetime();
        config.vendor_id = self.vendor_id;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"home_agent = "2001:db8:1::1"
home_address = "2001:db8:1::100"
init_secret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
init_spi_mn_to_ha = 0x1001
init_spi_ha_to_mn = 0x1002
interfaces = ["eth0"]
"#;

    fn hoa(s: &str) -> HostDefaults {
        HostDefaults::new(s.parse().unwrap())
    }

    #[test]
    fn unset_host_paths_and_names_come_from_the_home_address() {
        let config = parse(BASE).unwrap();
        config.validate(&|_| true).unwrap();
        assert_eq!(
            config.control_socket(),
            Path::new("/run/mip6-mn-2001-db8-1--100.sock")
        );
        assert_eq!(
            config.state_dir(),
            Path::new("/var/lib/mip6-mn/2001-db8-1--100")
        );
        let tun = config.tun_name();
        assert!(tun.starts_with("mip6mn-") && tun.len() == 13, "{tun}");
        assert!(tun[7..].chars().all(|c| c.is_ascii_hexdigit()), "{tun}");
        let table = config.route_table();
        assert!(
            (DERIVED_TABLE_BASE..DERIVED_TABLE_BASE + (1 << 24)).contains(&table),
            "{table}"
        );
        // The TUN name and the table carry the same hash bits.
        assert_eq!(
            u32::from_str_radix(&tun[7..], 16).unwrap(),
            table - DERIVED_TABLE_BASE
        );
        assert_eq!(config.rule_priority, DEFAULT_RULE_PRIORITY);
    }

    #[test]
    fn derived_defaults_are_stable_and_differ_between_nodes() {
        // Pinned: the names must not change between builds or hosts (a restarted
        // daemon finds its state directory and replaces its own leftovers).
        let a = hoa("2001:db8:1::100");
        assert_eq!(a.tun_name(), hoa("2001:db8:1::100").tun_name());
        let known = a.tun_name();
        assert_eq!(known, format!("mip6mn-{:06x}", a.route_table() - (1 << 28)));
        let mut tuns = std::collections::HashSet::new();
        let mut sockets = std::collections::HashSet::new();
        for i in 0..2000u16 {
            let d = HostDefaults::new(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, i));
            assert!(tuns.insert(d.tun_name()), "TUN collision at ::{i:x}");
            assert!(
                sockets.insert(d.control_socket()),
                "socket collision at ::{i:x}"
            );
            assert!(d.tun_name().len() <= 15);
            assert!(!matches!(d.route_table(), 0 | 253..=255));
        }
    }

    #[test]
    fn configured_values_win_over_the_derived_ones() {
        let text = format!(
            "{BASE}control_socket = \"/tmp/x.sock\"\nstate_dir = \"/tmp/st\"\n\
             tun_name = \"mip6\"\nroute_table = 6275\nrule_priority = 900\n"
        );
        let config = parse(&text).unwrap();
        config.validate(&|_| true).unwrap();
        assert_eq!(config.control_socket(), Path::new("/tmp/x.sock"));
        assert_eq!(config.state_dir(), Path::new("/tmp/st"));
        assert_eq!(config.tun_name(), "mip6");
        assert_eq!(config.route_table(), 6275);
        assert_eq!(config.rule_priority, 900);
    }

    #[test]
    fn esp_in_udp_sends_everything_to_the_home_agent_on_its_port_with_a_smaller_tun() {
        let raw = parse(BASE).unwrap();
        assert_eq!(
            raw.encapsulation,
            ConfigEncapsulation::Esp,
            "raw ESP by default"
        );
        assert_eq!(raw.udp_encapsulation(), None);
        assert_eq!(raw.tun_mtu(), crate::host::TUN_MTU);

        let udp = parse(&format!("{BASE}encapsulation = \"udp\"\n")).unwrap();
        udp.validate(&|_| true).unwrap();
        let shell = udp.udp_encapsulation().expect("UDP");
        assert_eq!(shell.port, 4500, "RFC 3948's port by default");
        assert_eq!(shell.fixed_peer, Some("2001:db8:1::1".parse().unwrap()));
        assert_eq!(
            shell.keepalive,
            Some(Duration::from_secs(20)),
            "RFC 3948's 20 s"
        );
        // 1412 + 2 (trailer) + 2 (padding to 4) + 16 (ICV) + 16 (ESP header, IV)
        // + 8 (UDP) + 40 (IPv6) = 1496: a full-size frame fits 1500 octets.
        assert_eq!(udp.tun_mtu(), 1412);

        let other = parse(&format!(
            "{BASE}encapsulation = \"udp\"\nudp_port = 14500\nudp_keepalive = \"5s\"\n"
        ))
        .unwrap();
        assert_eq!(other.udp_encapsulation().unwrap().port, 14500);
        assert_eq!(
            other.udp_encapsulation().unwrap().keepalive,
            Some(Duration::from_secs(5))
        );
        let zero = parse(&format!("{BASE}udp_keepalive = \"0s\"\n")).unwrap();
        assert!(
            zero.validate(&|_| true).is_err(),
            "a zero keepalive interval"
        );

        let zero = parse(&format!("{BASE}encapsulation = \"udp\"\nudp_port = 0\n")).unwrap();
        let errors = zero.validate(&|_| true).unwrap_err();
        assert!(
            matches!(errors[0].kind, ConfigErrorKind::ZeroUdpPort),
            "{errors:?}"
        );
        assert!(errors[0].to_string().contains("udp_port"), "{}", errors[0]);
        let e = parse(&format!("{BASE}encapsulation = \"gre\"\n")).unwrap_err();
        assert!(e.to_string().contains("encapsulation"), "{e}");
    }
}
