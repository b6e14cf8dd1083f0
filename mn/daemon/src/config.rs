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

use mip6_daemon::config::{self, CommonKind, SourceText};
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
    /// Directory of the persisted record (sequence marks).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Name of the TUN device the home address lives on (default `"mip6"`).
    pub tun_name: Option<Spanned<String>>,
    /// Run the TUN with offloads (`IFF_VNET_HDR`: TSO super-packets split on read, TCP
    /// segments coalesced on write; default `true`). `false` gives one system call per
    /// packet, for kernels or tools that mishandle `virtio_net_hdr`.
    #[serde(default = "default_tun_offload")]
    pub tun_offload: bool,
    /// The control socket's path.
    #[serde(default = "default_control_socket")]
    pub control_socket: PathBuf,
    /// Where Prometheus metrics are served (loopback only); none if absent.
    pub metrics: Option<Spanned<SocketAddr>>,
    /// The routing table holding the default route via the TUN, looked up by the
    /// source rule `from <home address>` (default 6275).
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

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/mip6-mn")
}

fn default_control_socket() -> PathBuf {
    PathBuf::from("/run/mip6-mn.sock")
}

fn default_rule_priority() -> u32 {
    DEFAULT_RULE_PRIORITY
}

fn default_tun_offload() -> bool {
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
/// Default TUN device name.
pub const DEFAULT_TUN_NAME: &str = "mip6";
/// Default routing table of the reverse tunnel (RFC 6275's number; any free one works).
pub const DEFAULT_ROUTE_TABLE: u32 = 6275;
/// Default priority of the source rule.
pub const DEFAULT_RULE_PRIORITY: u32 = 1000;

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

    /// The TUN device name, with its default.
    pub fn tun_name(&self) -> &str {
        self.tun_name
            .as_ref()
            .map_or(DEFAULT_TUN_NAME, |t| t.get_ref().as_str())
    }

    /// The reverse tunnel's routing table, with its default.
    pub fn route_table(&self) -> u32 {
        self.route_table
            .as_ref()
            .map_or(DEFAULT_ROUTE_TABLE, |t| *t.get_ref())
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
