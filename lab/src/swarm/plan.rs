//! Who the swarm's mobile nodes are: every one's home address, care-of address, init
//! secret and init SPIs, derived from its index `n` alone, so the swarm process and the
//! `ha.toml` it writes for the home agent agree without exchanging anything.
//!
//! | what | for mobile node `n` (0-based) |
//! | --- | --- |
//! | home address | `2001:db8:1::1:<n>` (the 32-bit `n` in the last two words, a `1` above it), on the home prefix, clear of the HA's `::1`, the router's `::fe` and the single-MN lab's `::100` |
//! | care-of address | `2001:db8:5::1:<n>`, out of [`COA_PREFIX`], which the router routes to the swarm's address on foreign link 1 |
//! | init secret | 32 octets from ChaCha20 seeded with `n` (a lab secret: not secret at all) |
//! | init SPIs | MN→HA `0x1000_0000 + 2n`, HA→MN `0x1000_0000 + 2n + 1` (unique across all, above the reserved 0–255, clear of the lab's `0x1001`/`0x1002`) |

use std::fmt::Write as _;
use std::net::Ipv6Addr;
use std::path::Path;
use std::time::Duration;

use mip6_mn::MnConfig;
use mip6_wire::esp::Spi;
use mip6_wire::keys::SpiPair;
use mip6_wire::Secret32;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::topology::HA_IFACE;
use crate::{HA_ADDR, HOME_PREFIX};

/// The /64 the swarm's care-of addresses come from, 2001:db8:5::/64: routed by the
/// router to the swarm on foreign link 1, configured on no interface (the swarm's
/// namespace does not forward, so its kernel drops what its packet socket takes).
pub const COA_PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 0);
/// The largest swarm: `n` must fit the address plan's 32 bits, and the SPIs
/// `0x1000_0000 + 2n + 1` must stay below 2^32.
pub const MAX_NODES: u32 = 1 << 24;
/// The first init SPI (MN→HA of node 0).
const SPI_BASE: u32 = 0x1000_0000;
/// The word above `n` in both addresses.
const PLAN_WORD: u16 = 1;
/// Lifetime every node asks for (RFC 6275 §6.1.7); refreshed at 75 %.
pub const REQUESTED_LIFETIME: Duration = Duration::from_secs(600);
/// The nodes' and the HA's key update interval: longer than any swarm run, so keys
/// change only when the swarm asks (the update phase jumps the nodes' clock past it).
pub const KEY_UPDATE_INTERVAL: Duration = Duration::from_secs(3600);

fn with_index(prefix: Ipv6Addr, n: u32) -> Ipv6Addr {
    let mut s = prefix.segments();
    s[5] = PLAN_WORD;
    s[6] = (n >> 16) as u16;
    s[7] = n as u16;
    Ipv6Addr::from(s)
}

/// Node `n`'s home address.
pub fn home_address(n: u32) -> Ipv6Addr {
    with_index(HOME_PREFIX, n)
}

/// Node `n`'s care-of address.
pub fn care_of_address(n: u32) -> Ipv6Addr {
    with_index(COA_PREFIX, n)
}

/// The node whose care-of address `addr` is, if it is one of a swarm of `count`.
pub fn index_of_care_of(addr: Ipv6Addr, count: u32) -> Option<u32> {
    let s = addr.segments();
    let c = COA_PREFIX.segments();
    if s[..5] != c[..5] || s[5] != PLAN_WORD {
        return None;
    }
    let n = (u32::from(s[6]) << 16) | u32::from(s[7]);
    (n < count).then_some(n)
}

/// Node `n`'s init secret.
pub fn init_secret(n: u32) -> [u8; 32] {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(n));
    let mut secret = [0; 32];
    rng.fill_bytes(&mut secret);
    secret
}

/// Node `n`'s init SPIs (MN→HA, HA→MN).
pub fn init_spis(n: u32) -> (u32, u32) {
    let base = SPI_BASE + 2 * n;
    (base, base + 1)
}

/// Node `n`'s engine configuration: the defaults of RFC 6275 and the key protocol, but
/// no key update right after the initialization (the swarm asks for it in a phase of
/// its own) and [`REQUESTED_LIFETIME`]. `None` if `n` is beyond [`MAX_NODES`].
pub fn mn_config(n: u32) -> Option<MnConfig> {
    if n >= MAX_NODES {
        return None;
    }
    let (out, inb) = init_spis(n);
    let spis = SpiPair {
        mn_to_ha: Spi::new(out).ok()?,
        ha_to_mn: Spi::new(inb).ok()?,
    };
    let mut config = MnConfig::new(
        HA_ADDR,
        home_address(n),
        Secret32::new(init_secret(n)),
        spis,
    );
    config.rekey_after_initialization = false;
    config.key_update_interval = Some(KEY_UPDATE_INTERVAL);
    config.requested_lifetime = REQUESTED_LIFETIME;
    Some(config)
}

fn hex(octets: &[u8]) -> String {
    octets.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What the HA's configuration says besides the nodes.
#[derive(Debug, Clone)]
pub struct HaSettings<'a> {
    /// The HA's state directory.
    pub state_dir: &'a Path,
    /// Its control socket.
    pub control_socket: &'a Path,
    /// Whether it persists its records (its default: yes).
    pub persistence: bool,
    /// Its log level (`warn` keeps three INFO lines per BU out of the measurement).
    pub log_level: &'a str,
}

/// `mip6-ha`'s configuration for a swarm of `count`: the lab's home link, explicit
/// requests, no Duplicate Address Detection (`dad_transmits = 0`: a first registration
/// would otherwise wait a second for its probe), the key update interval of
/// [`KEY_UPDATE_INTERVAL`], and one `[[mobile_node]]` table per node.
pub fn ha_toml(settings: &HaSettings<'_>, count: u32) -> String {
    let quoted = |p: &Path| format!("{:?}", p.display().to_string());
    let mut text = format!(
        r#"# mip6-ha configuration written by `mip6-lab swarm` for {count} mobile nodes.
home_interface = "{HA_IFACE}"
home_prefix = "{HOME_PREFIX}/64"
address = "{HA_ADDR}"
state_dir = {state}
persistence = {persistence}
request_mode = "explicit"
key_update_interval = "{key}s"
dad_transmits = 0
control_socket = {socket}

[log]
format = "text"
level = "{level}"
"#,
        state = quoted(settings.state_dir),
        persistence = settings.persistence,
        key = KEY_UPDATE_INTERVAL.as_secs(),
        socket = quoted(settings.control_socket),
        level = settings.log_level,
    );
    text.reserve(count as usize * 200);
    for n in 0..count {
        let (out, inb) = init_spis(n);
        let _ = write!(
            text,
            "\n[[mobile_node]]\nhome_address = \"{}\"\ninit_secret = \"{}\"\ninit_spi_mn_to_ha = {out:#x}\ninit_spi_ha_to_mn = {inb:#x}\n",
            home_address(n),
            hex(&init_secret(n)),
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_plan_and_map_back() {
        assert_eq!(home_address(0).to_string(), "2001:db8:1::1:0:0");
        assert_eq!(home_address(70_000).to_string(), "2001:db8:1::1:1:1170");
        assert_eq!(care_of_address(5).to_string(), "2001:db8:5::1:0:5");
        for n in [0, 1, 65_535, 65_536, 99_999] {
            assert_eq!(index_of_care_of(care_of_address(n), 100_000), Some(n));
        }
        assert_eq!(index_of_care_of(care_of_address(100_000), 100_000), None);
        assert_eq!(index_of_care_of(home_address(3), 100_000), None);
        assert_eq!(index_of_care_of("2001:db8:5::5".parse().unwrap(), 10), None);
        for addr in [home_address(0), home_address(0xfe), home_address(0x100)] {
            assert_ne!(addr, HA_ADDR);
            assert_ne!(addr, crate::MN_HOA);
        }
    }

    #[test]
    fn secrets_and_spis_differ_per_node_and_repeat_per_index() {
        assert_eq!(init_secret(7), init_secret(7));
        assert_ne!(init_secret(7), init_secret(8));
        assert_eq!(init_spis(0), (0x1000_0000, 0x1000_0001));
        assert_eq!(init_spis(3), (0x1000_0006, 0x1000_0007));
        assert!(mn_config(MAX_NODES - 1).is_some());
        assert!(mn_config(MAX_NODES).is_none());
    }

    #[test]
    fn the_ha_configuration_parses_validates_and_matches_the_nodes() {
        let dir = Path::new("/tmp/swarm");
        let settings = HaSettings {
            state_dir: &dir.join("state"),
            control_socket: &dir.join("ha.sock"),
            persistence: false,
            log_level: "warn",
        };
        let text = ha_toml(&settings, 3);
        let config = mip6_ha_daemon::config::parse(&text).expect("ha.toml parses");
        config
            .validate(&|iface| iface == HA_IFACE)
            .expect("ha.toml validates");
        assert_eq!(config.dad_transmits, 0);
        assert!(!config.persistence);
        assert_eq!(config.key_update_interval(), KEY_UPDATE_INTERVAL);
        assert_eq!(config.mobile_node.len(), 3);
        for (n, entry) in (0u32..).zip(&config.mobile_node) {
            let mn = mn_config(n).unwrap();
            assert_eq!(*entry.home_address.get_ref(), mn.home_address);
            assert_eq!(
                entry.init_spi_mn_to_ha.get_ref().0,
                mn.init_spis.mn_to_ha.get()
            );
            assert_eq!(
                entry.init_spi_ha_to_mn.get_ref().0,
                mn.init_spis.ha_to_mn.get()
            );
        }
        config.to_engine().expect("engine config");
    }
}
