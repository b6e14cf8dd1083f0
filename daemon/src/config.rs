//! What the `mip6-ha` and `mip6-mn` configuration files (TOML) share: the error
//! layout `FILE:LINE:COLUMN: FIELD: MESSAGE` ([`ConfigError`], generic over each
//! daemon's own kind enum), [`Position`]s from byte offsets, the value types both files
//! use ([`Prefix`], [`ConfigDuration`], [`ConfigSpi`], [`SecretHex`], [`ConfigSuite`],
//! [`ConfigRequestMode`], the `[log]` table), and the parse/load plumbing
//! ([`parse_toml`], [`read_file`], [`SourceText`]).
//!
//! Each daemon keeps its `DaemonConfig`, its `validate` and its `ConfigErrorKind`; that
//! kind implements [`CommonKind`] so the shared code can report what it finds (a
//! syntax error, an unreadable file, a bad secret) in the daemon's own enum.
//!
//! Values: durations are `"30s"`, `"5m"`, `"1h"` or an integer number of seconds; SPIs
//! are TOML integers (`0x1001` is one) or hex strings `"0x1001"`; secrets are 64 hex
//! digits (32 octets, docs/architecture.md, "Key schedule"); prefixes are `ADDRESS/LEN` with no
//! host bits set. Nothing here panics on any input.

use core::fmt;
use core::ops::Range;
use core::time::Duration;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use mip6_wire::esp::Suite;
use mip6_wire::keys::RequestMode;
use mip6_wire::Secret32;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// Longest binding lifetime RFC 6275 §6.1.7 can carry: 65535 units of 4 seconds.
pub const MAX_LIFETIME: Duration = Duration::from_secs(65535 * 4);

/// Shortest binding lifetime that is not 0 on the wire (4-second units, RFC 6275 §6.1.7);
/// a lifetime of 0 means deregistration.
pub const MIN_LIFETIME: Duration = Duration::from_secs(4);

/// Octets of an initialization secret (docs/architecture.md, "Key schedule").
pub const SECRET_OCTETS: usize = 32;

/// The problems the shared code finds, built in a daemon's own kind enum. Each daemon's
/// variants render as documented here, so both daemons word them alike.
pub trait CommonKind: Sized {
    /// The file could not be read: `cannot read: ERROR`.
    fn io(error: std::io::Error) -> Self;
    /// TOML syntax, a wrong type, a bad value or an unknown field: toml's own message.
    fn syntax(message: String) -> Self;
    /// A secret that is not hex: `secret is not hex: WHY`.
    fn secret_not_hex(why: String) -> Self;
    /// A secret of the wrong length: `bad secret length: N octets, need 32`.
    fn bad_secret_length(octets: usize) -> Self;
}

/// A 1-based line and column (in characters) in the configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text; an offset inside a
    /// multi-byte character counts from that character's start).
    pub fn at(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A configuration error: where (file, line, column), which field, and what (`K`, the
/// daemon's kind enum). `Display` reads `FILE:LINE:COLUMN: FIELD: MESSAGE`, leaving out
/// what is not known.
#[derive(Debug)]
pub struct ConfigError<K> {
    /// The file, when the text came from a file.
    pub origin: Option<PathBuf>,
    /// Line and column of the offending item, where known.
    pub position: Option<Position>,
    /// The field (TOML key) at fault; empty when none applies.
    pub field: String,
    /// What is wrong.
    pub kind: K,
}

impl<K> ConfigError<K> {
    /// An error at `position` (no file yet), about `field`.
    pub fn new(position: Option<Position>, field: &str, kind: K) -> ConfigError<K> {
        ConfigError {
            origin: None,
            position,
            field: field.to_owned(),
            kind,
        }
    }

    /// The same error, naming the file it came from.
    pub fn with_origin(mut self, path: &Path) -> ConfigError<K> {
        self.origin = Some(path.to_owned());
        self
    }
}

impl<K: fmt::Display> fmt::Display for ConfigError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut located = false;
        if let Some(origin) = &self.origin {
            write!(f, "{}:", origin.display())?;
            located = true;
        }
        if let Some(position) = self.position {
            write!(f, "{position}:")?;
            located = true;
        }
        if located {
            f.write_str(" ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.kind)
    }
}

impl<K: std::error::Error + 'static> std::error::Error for ConfigError<K> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// The configuration text a daemon's configuration was parsed from (it holds secrets):
/// zeroed on drop, not shown by `Debug`; turns spans into [`Position`]s.
#[derive(Clone, Default)]
pub struct SourceText(Zeroizing<String>);

impl SourceText {
    /// Keeps a copy of `text`.
    pub fn new(text: &str) -> SourceText {
        SourceText(Zeroizing::new(text.to_owned()))
    }

    /// The position of a span's start.
    pub fn position(&self, span: Range<usize>) -> Position {
        Position::at(&self.0, span.start)
    }

    /// An error at `span` (if any) of this text, from the file `origin` (if any).
    pub fn error<K>(
        &self,
        origin: Option<&Path>,
        span: Option<Range<usize>>,
        field: &str,
        kind: K,
    ) -> ConfigError<K> {
        ConfigError {
            origin: origin.map(Path::to_owned),
            position: span.map(|s| self.position(s)),
            field: field.to_owned(),
            kind,
        }
    }
}

impl fmt::Debug for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} octets of text>", self.0.len())
    }
}

/// An IPv6 prefix, `ADDRESS/LEN`, with no bits set past `LEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// The prefix's address (host bits zero).
    pub address: Ipv6Addr,
    /// The prefix length, 0..=128.
    pub len: u8,
}

impl Prefix {
    /// Parses `ADDRESS/LEN`; host bits must be zero.
    pub fn parse(text: &str) -> Result<Prefix, String> {
        let (address, len) = text
            .split_once('/')
            .ok_or_else(|| format!("prefix {text:?} has no /LENGTH"))?;
        let address: Ipv6Addr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IPv6 address"))?;
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= 128)
            .ok_or_else(|| format!("prefix length {len:?} is not 0..=128"))?;
        let prefix = Prefix { address, len };
        if prefix.mask() & u128::from(address) != u128::from(address) {
            return Err(format!("prefix {text} has bits set past /{len}"));
        }
        Ok(prefix)
    }

    fn mask(&self) -> u128 {
        u128::MAX
            .checked_shl(128 - u32::from(self.len))
            .unwrap_or(0)
    }

    /// Whether `address` lies inside the prefix.
    pub fn contains(&self, address: Ipv6Addr) -> bool {
        u128::from(address) & self.mask() == u128::from(self.address)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.len)
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Prefix::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A duration: `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"90"` or the integer `90`
/// (seconds without a suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// Parses a whole number with an optional `ms`, `s`, `m` or `h` suffix (seconds
    /// without one).
    pub fn parse(text: &str) -> Result<ConfigDuration, String> {
        let text = text.trim();
        let (digits, unit_ms) = if let Some(d) = text.strip_suffix("ms") {
            (d, 1)
        } else {
            match text.char_indices().last() {
                Some((i, 's')) => (&text[..i], 1_000),
                Some((i, 'm')) => (&text[..i], 60_000),
                Some((i, 'h')) => (&text[..i], 3_600_000),
                _ => (text, 1_000),
            }
        };
        let bad = || {
            format!(
                "bad duration {text:?}: want e.g. \"500ms\", \"30s\", \"5m\", \"1h\" or seconds"
            )
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let ms = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_ms))
            .ok_or_else(bad)?;
        Ok(ConfigDuration(Duration::from_millis(ms)))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => u64::try_from(n)
                .map(|s| ConfigDuration(Duration::from_secs(s)))
                .map_err(|_| serde::de::Error::custom(format!("negative duration {n}"))),
            Raw::Text(t) => ConfigDuration::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A 32-bit SPI as written: a TOML integer or a hex string `"0x1001"`. Reserved values
/// are rejected by each daemon's `validate`, not here, so the error names the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigSpi(pub u32);

impl<'de> Deserialize<'de> for ConfigSpi {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        let bad = |what: &dyn fmt::Display| {
            serde::de::Error::custom(format!(
                "bad SPI {what}: want a 32-bit integer or a hex string \"0x1001\""
            ))
        };
        match Raw::deserialize(d)? {
            Raw::Int(n) => u32::try_from(n).map(ConfigSpi).map_err(|_| bad(&n)),
            Raw::Text(t) => t
                .strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .map(ConfigSpi)
                .ok_or_else(|| bad(&format_args!("{t:?}"))),
        }
    }
}

/// A secret as written: hex digits, kept in memory that is zeroed on drop and never
/// printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHex(Zeroizing<String>);

impl SecretHex {
    /// Decodes the 64 hex digits into a [`Secret32`] (docs/architecture.md, "Key schedule").
    pub fn decode<K: CommonKind>(&self) -> Result<Secret32, K> {
        let text = self.0.trim();
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(K::secret_not_hex("only 0-9, a-f, A-F allowed".into()));
        }
        if text.len() != 2 * SECRET_OCTETS {
            return Err(K::bad_secret_length(text.len() / 2));
        }
        let mut octets = Zeroizing::new([0u8; SECRET_OCTETS]);
        hex::decode_to_slice(text, &mut octets[..])
            .map_err(|e| K::secret_not_hex(e.to_string()))?;
        Ok(Secret32::new(*octets))
    }
}

impl fmt::Debug for SecretHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHex(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for SecretHex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretHex(Zeroizing::new(s)))
    }
}

/// How mobile nodes ask for keys (`"explicit"` or `"implicit"`, docs/key-protocol.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigRequestMode {
    /// Key-management options in the BU.
    #[default]
    Explicit,
    /// The request is read from the SPI that sealed the BU.
    Implicit,
}

impl From<ConfigRequestMode> for RequestMode {
    fn from(mode: ConfigRequestMode) -> RequestMode {
        match mode {
            ConfigRequestMode::Explicit => RequestMode::Explicit,
            ConfigRequestMode::Implicit => RequestMode::Implicit,
        }
    }
}

/// How tunnel frames and signalling travel (`"esp"` or `"udp"`, issue 14): raw ESP
/// (IP protocol 50, the default), or ESP in UDP (RFC 3948), which crosses NATs and
/// UDP-only firewalls and lets the kernel batch the tunnel (UDP GSO and GRO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigEncapsulation {
    /// Raw ESP.
    #[default]
    Esp,
    /// ESP in UDP on `udp_port`.
    Udp,
}

/// The UDP port of ESP in UDP unless configured (RFC 3948 §2.1).
pub const DEFAULT_UDP_PORT: u16 = mip6_wire::udp_encap::PORT;

/// Octets ESP in UDP adds to every tunnel frame: the TUN's MTU shrinks by this much
/// so that no frame outgrows the link (RFC 3948 §2.1: the UDP header).
pub const UDP_OVERHEAD: u16 = mip6_wire::udp_encap::UDP_HEADER_LEN as u16;

/// ESP suite (`"aes-128-gcm"` or `"aes-256-gcm"`, RFC 4106).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ConfigSuite {
    /// AES-128-GCM, 16-octet ICV.
    #[default]
    #[serde(rename = "aes-128-gcm")]
    Aes128Gcm,
    /// AES-256-GCM, 16-octet ICV.
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
}

impl From<ConfigSuite> for Suite {
    fn from(suite: ConfigSuite) -> Suite {
        match suite {
            ConfigSuite::Aes128Gcm => Suite::Aes128Gcm,
            ConfigSuite::Aes256Gcm => Suite::Aes256Gcm,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Least severe log level written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Informational and up.
    #[default]
    Info,
    /// Debugging and up.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The `tracing` level of the same name.
    pub fn to_tracing(self) -> tracing::Level {
        match self {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

/// The `[log]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `"text"` (default) or `"json"`.
    #[serde(default)]
    pub format: LogFormat,
    /// `"error"`, `"warn"`, `"info"` (default), `"debug"` or `"trace"`.
    #[serde(default)]
    pub level: LogLevel,
}

/// The key whose `key = value` line holds byte `offset`, or `""`.
fn key_at(text: &str, offset: usize) -> String {
    let Some(before) = text.get(..offset.min(text.len())) else {
        return String::new();
    };
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let trimmed = line.trim_start();
    let key: String = trimmed.chars().take_while(|c| key_char(*c)).collect();
    if !key.is_empty() && trimmed[key.len()..].trim_start().starts_with('=') {
        key
    } else if trimmed.starts_with('[') {
        trimmed
            .trim_matches(|c| c == '[' || c == ']' || c == ' ')
            .to_owned()
    } else {
        String::new()
    }
}

/// Deserializes `text` as `T`; syntax errors, wrong types, bad values and unknown fields
/// come back with their line and column and the field they concern. No semantic checks:
/// those are each daemon's `validate`.
pub fn parse_toml<T: DeserializeOwned, K: CommonKind>(text: &str) -> Result<T, ConfigError<K>> {
    toml::from_str::<T>(text).map_err(|e| {
        let span = e.span();
        let position = span.as_ref().map(|s| Position::at(text, s.start));
        let message = e.message().trim();
        // A missing field's span is its table's: name the missing key, not the
        // first key of that table.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name.to_owned());
        let field = missing
            .or_else(|| span.map(|s| key_at(text, s.start)))
            .unwrap_or_default();
        ConfigError::new(position, &field, K::syntax(message.to_owned()))
    })
}

/// Reads the configuration file at `path` (zeroed on drop: it holds secrets); the error
/// names the file.
pub fn read_file<K: CommonKind>(path: &Path) -> Result<Zeroizing<String>, ConfigError<K>> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| ConfigError::new(None, "", K::io(e)).with_origin(path))
}

/// Permission bits that let the file's group or everyone else read it.
pub const GROUP_OR_OTHER_READ: u32 = 0o044;

/// The permission bits (`0o7777` part of the mode) of the file at `path` when its group
/// or others may read it; `None` when only its owner can.
pub fn readable_by_others(path: &Path) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    Ok((mode & GROUP_OR_OTHER_READ != 0).then_some(mode))
}

/// Warns (tracing WARN) when the configuration file at `path`, which holds an
/// `init_secret`, can be read by its group or others, naming the file and its mode and
/// the fix (`chmod 600`). Returns whether it warned. A file whose mode cannot be read
/// is reported at WARN too (and counts as a warning).
pub fn warn_if_secret_readable(path: &Path) -> bool {
    match readable_by_others(path) {
        Ok(None) => false,
        Ok(Some(mode)) => {
            tracing::warn!(
                file = %path.display(),
                mode = %format!("{mode:04o}"),
                "configuration file holds init_secret and is readable by group or others \
                 (mode {mode:04o}): anyone who can read it can derive the mobile nodes' \
                 initialization keys; run chmod 600 {}",
                path.display()
            );
            true
        }
        Err(e) => {
            tracing::warn!(
                file = %path.display(),
                error = %e,
                "cannot read the mode of the configuration file holding init_secret; \
                 make sure only its owner can read it (chmod 600)"
            );
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_readable_by_group_or_others_is_a_warning_naming_file_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ha.toml");
        std::fs::write(&path, "init_secret = \"00\"\n").unwrap();
        for (mode, warned) in [
            (0o644, true),
            (0o640, true),
            (0o604, true),
            (0o600, false),
            (0o400, false),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let (did, log) = crate::logging::capture(|| warn_if_secret_readable(&path));
            assert_eq!(did, warned, "mode {mode:o}: {log}");
            if warned {
                let shown = format!("{mode:04o}");
                assert!(log.contains(" WARN "), "{log}");
                assert!(log.contains(&path.display().to_string()), "{log}");
                assert!(log.contains(&shown), "mode {shown} in {log}");
                assert!(log.contains("chmod 600"), "{log}");
            } else {
                assert!(log.is_empty(), "mode {mode:o}: {log}");
            }
        }
        let (did, log) =
            crate::logging::capture(|| warn_if_secret_readable(&dir.path().join("gone")));
        assert!(did && log.contains("chmod 600"), "{log}");
    }

    /// A kind as a daemon would write one, with the documented texts.
    #[derive(Debug, PartialEq)]
    enum Kind {
        Io(String),
        Syntax(String),
        SecretNotHex(String),
        BadSecretLength(usize),
    }

    impl CommonKind for Kind {
        fn io(error: std::io::Error) -> Self {
            Kind::Io(error.kind().to_string())
        }
        fn syntax(message: String) -> Self {
            Kind::Syntax(message)
        }
        fn secret_not_hex(why: String) -> Self {
            Kind::SecretNotHex(why)
        }
        fn bad_secret_length(octets: usize) -> Self {
            Kind::BadSecretLength(octets)
        }
    }

    impl fmt::Display for Kind {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{self:?}")
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        prefix: Prefix,
        every: ConfigDuration,
        spi: ConfigSpi,
        secret: SecretHex,
        #[serde(default)]
        log: LogConfig,
    }

    const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn sample(extra: &str) -> String {
        format!(
            "prefix = \"2001:db8:1::/64\"\nevery = \"5m\"\nspi = \"0x1001\"\nsecret = \"{SECRET}\"\n{extra}"
        )
    }

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "ab\nçd = 1\n";
        assert_eq!(Position::at(text, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::at(text, 3), Position { line: 2, column: 1 });
        // Inside the two-octet 'ç': counts from its start.
        assert_eq!(Position::at(text, 4), Position { line: 2, column: 1 });
        assert_eq!(Position::at(text, 5), Position { line: 2, column: 2 });
        assert_eq!(Position::at(text, 999), Position { line: 3, column: 1 });
        assert_eq!(Position { line: 4, column: 7 }.to_string(), "4:7");
    }

    #[test]
    fn values_parse() {
        let s: Sample = parse_toml::<_, Kind>(&sample("[log]\nlevel = \"debug\"")).unwrap();
        assert_eq!(s.prefix.to_string(), "2001:db8:1::/64");
        assert!(s.prefix.contains("2001:db8:1::9".parse().unwrap()));
        assert!(!s.prefix.contains("2001:db8:2::9".parse().unwrap()));
        assert_eq!(s.every.0, Duration::from_secs(300));
        assert_eq!(s.spi, ConfigSpi(0x1001));
        assert!(s.secret.decode::<Kind>().is_ok());
        assert_eq!(s.log.level, LogLevel::Debug);
        assert_eq!(s.log.level.to_tracing(), tracing::Level::DEBUG);
        assert_eq!(s.log.format, LogFormat::Text);
        assert_eq!(format!("{:?}", s.secret), "SecretHex(<redacted>)");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Prefix::parse("2001:db8:1::1/64").is_err());
        assert!(Prefix::parse("2001:db8::/129").is_err());
        assert!(Prefix::parse("2001:db8::").is_err());
        assert_eq!(Prefix::parse("::/0").unwrap().len, 0);
        for bad in [
            "",
            "s",
            "ms",
            "5x",
            "-5s",
            "5 ms",
            "1.5s",
            "99999999999999999999h",
        ] {
            assert!(ConfigDuration::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ConfigDuration::parse("2h").unwrap().0.as_secs(), 7200);
        assert_eq!(ConfigDuration::parse("5m").unwrap().0.as_secs(), 300);
        assert_eq!(ConfigDuration::parse("90").unwrap().0.as_secs(), 90);
        assert_eq!(
            ConfigDuration::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
    }

    #[test]
    fn syntax_errors_name_position_and_field() {
        let e = parse_toml::<Sample, Kind>(&sample("bogus = 1")).unwrap_err();
        assert_eq!(e.position, Some(Position { line: 5, column: 1 }));
        assert_eq!(e.field, "bogus");
        let e = parse_toml::<Sample, Kind>("prefix = \"::/0\"\n").unwrap_err();
        assert_eq!(e.field, "every");
        let text = sample("").replace("\"0x1001\"", "\"0x\"");
        let e = parse_toml::<Sample, Kind>(&text).unwrap_err();
        assert_eq!(e.field, "spi");
        assert_eq!(e.position, Some(Position { line: 3, column: 7 }));
    }

    #[test]
    fn secrets_decode_only_at_32_hex_octets() {
        let secret = |s: &str| SecretHex(Zeroizing::new(s.to_owned()));
        assert_eq!(
            secret(&SECRET[2..]).decode::<Kind>().unwrap_err(),
            Kind::BadSecretLength(31)
        );
        assert!(matches!(
            secret(&SECRET.replace('0', "g")).decode::<Kind>(),
            Err(Kind::SecretNotHex(_))
        ));
    }

    #[test]
    fn errors_render_file_position_field_and_message() {
        let e = ConfigError::new(Some(Position { line: 2, column: 3 }), "spi", "bad");
        assert_eq!(e.to_string(), "2:3: spi: bad");
        let e = e.with_origin(Path::new("/etc/x.toml"));
        assert_eq!(e.to_string(), "/etc/x.toml:2:3: spi: bad");
        assert_eq!(ConfigError::new(None, "", "bad").to_string(), "bad");
        let e = read_file::<Kind>(Path::new("/nonexistent/x.toml")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/nonexistent/x.toml: Io(\"entity not found\")"
        );
    }
}
