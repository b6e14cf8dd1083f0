//! The daemons' configuration files for the demo: lab addresses and interfaces, state
//! directories and control sockets under the output directory, a short key update
//! interval so several rekeys happen during a run.
//!
//! The texts are written by hand (the daemons' config types are for reading, with
//! spans) and the tests check that `mip6_ha_daemon::config::parse` and
//! `mip6_mn_daemon::config::parse` accept and validate them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::topology::{Link, HA_IFACE, MN_HOME_IFACE};
use crate::{HA_ADDR, HOME_PREFIX, MN_HOA};

/// The lab's initialization secret: octets 0x00..=0x1f, docs/architecture.md's known-answer
/// secret. A lab secret, in the open on purpose: the captures' key files show every
/// key anyway.
pub const LAB_INIT_SECRET: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// SPI of the MN→HA init SA.
pub const LAB_INIT_SPI_MN_TO_HA: u32 = 0x1001;
/// SPI of the HA→MN init SA.
pub const LAB_INIT_SPI_HA_TO_MN: u32 = 0x1002;
/// Binding lifetime asked for and granted: long enough that no binding expires while
/// the HA is restarted, short enough that refreshes show in a capture.
pub const LAB_LIFETIME: Duration = Duration::from_secs(120);
/// Longest Unix socket path (`sun_path` is 108 octets with its terminator).
const MAX_SOCKET_PATH: usize = 100;

/// Where one run's daemon files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoFiles {
    /// The output directory (captures, logs, configs).
    pub out: PathBuf,
    /// `ha.toml`.
    pub ha_config: PathBuf,
    /// `mn.toml`.
    pub mn_config: PathBuf,
    /// The HA's state directory (persisted keys and bindings).
    pub ha_state: PathBuf,
    /// The MN's state directory.
    pub mn_state: PathBuf,
    /// The HA's control socket.
    pub ha_socket: PathBuf,
    /// The MN's control socket.
    pub mn_socket: PathBuf,
}

impl DemoFiles {
    /// The files under `out` (an absolute path is best: the daemons run with the
    /// demo's working directory, but the paths end up in their logs). Control sockets
    /// go to `out` too unless its path is too long for a Unix socket, then to
    /// `/tmp/mip6-lab-<pid>-{ha,mn}.sock`.
    pub fn under(out: &Path) -> DemoFiles {
        let socket = |name: &str| {
            let inside = out.join(format!("{name}.sock"));
            if inside.as_os_str().len() <= MAX_SOCKET_PATH {
                inside
            } else {
                PathBuf::from(format!("/tmp/mip6-lab-{}-{name}.sock", std::process::id()))
            }
        };
        DemoFiles {
            out: out.to_owned(),
            ha_config: out.join("ha.toml"),
            mn_config: out.join("mn.toml"),
            ha_state: out.join("ha-state"),
            mn_state: out.join("mn-state"),
            ha_socket: socket("ha"),
            mn_socket: socket("mn"),
        }
    }
}

/// TOML strings are written with `Debug` of a `str`, which escapes quotes and
/// backslashes as TOML basic strings want (paths with other control characters are
/// not supported).
fn toml_str(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// Writes a configuration file readable by its owner only (mode 0600, also when it
/// replaces an older file): it holds the init secrets, and the daemons warn about a
/// file others can read.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}

/// `mip6-ha`'s configuration: home link `ha-home`, home prefix 2001:db8:1::/64, HA
/// 2001:db8:1::1, one mobile node (the lab's HoA) with the lab secret.
pub fn ha_toml(files: &DemoFiles, key_interval: Duration, persistence: bool) -> String {
    format!(
        r#"# mip6-ha configuration written by `mip6-lab demo`.
home_interface = "{HA_IFACE}"
home_prefix = "{HOME_PREFIX}/64"
address = "{HA_ADDR}"
state_dir = {state}
persistence = {persistence}
request_mode = "explicit"
key_update_interval = "{key}s"
max_binding_lifetime = "{lifetime}s"
control_socket = {socket}

[log]
format = "text"
level = "info"

[[mobile_node]]
home_address = "{MN_HOA}"
init_secret = "{LAB_INIT_SECRET}"
init_spi_mn_to_ha = {LAB_INIT_SPI_MN_TO_HA:#x}
init_spi_ha_to_mn = {LAB_INIT_SPI_HA_TO_MN:#x}
"#,
        state = toml_str(&files.ha_state),
        key = key_interval.as_secs().max(1),
        lifetime = LAB_LIFETIME.as_secs(),
        socket = toml_str(&files.ha_socket),
    )
}

/// The top-level line that turns ESP in UDP on (RFC 3948, issue 14) in either
/// daemon's configuration when `udp`, put before the rest of the file; empty
/// otherwise.
pub fn encapsulation_line(udp: bool) -> &'static str {
    if udp {
        "encapsulation = \"udp\"\n"
    } else {
        ""
    }
}

/// One home agent of a pair (issue 13, item 5): its configuration file, state
/// directory and control socket beside the single home agent's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairMember {
    /// `a` or `b`: the name in the pair is `ha-a`, `ha-b`.
    pub letter: char,
    /// Its configuration file.
    pub config: PathBuf,
    /// Its state directory (journal of host settings; the records are in etcd).
    pub state: PathBuf,
    /// Its control socket.
    pub socket: PathBuf,
}

impl PairMember {
    /// Member `index` (0: `ha-a` in namespace `ha`, 1: `ha-b` in `ha2`) of a pair
    /// whose files go beside `files`.
    pub fn of(files: &DemoFiles, index: usize) -> PairMember {
        let letter = if index == 0 { 'a' } else { 'b' };
        let beside = |path: &Path, suffix: &str| {
            let mut name = path.file_stem().unwrap_or_default().to_os_string();
            name.push(format!("-{letter}{suffix}"));
            path.with_file_name(name)
        };
        PairMember {
            letter,
            config: beside(&files.ha_config, ".toml"),
            state: beside(&files.ha_state, ""),
            socket: beside(&files.ha_socket, ".sock"),
        }
    }

    /// Its name in the pair.
    pub fn name(&self) -> String {
        format!("ha-{}", self.letter)
    }
}

/// `mip6-ha`'s configuration as one of a pair: [`ha_toml`] with the member's home
/// interface (`ha-home` or `ha2-home`), state directory and control socket, and a
/// `[pair]` table naming etcd's members `etcd`, with the daemon's default heartbeat
/// and `hold_time` (the daemon's default, 500 ms, when `None`).
///
/// The hold time must cover an etcd leader election: the active home agent stops when
/// it has confirmed nothing for a hold time less a heartbeat, and while a cluster
/// elects a leader it confirms nothing. A lab whose members may die gives it seconds.
pub fn ha_pair_toml(
    files: &DemoFiles,
    member: &PairMember,
    key_interval: Duration,
    etcd: &[String],
    hold_time: Option<Duration>,
) -> String {
    let iface = if member.letter == 'a' {
        HA_IFACE
    } else {
        crate::topology::HA2_IFACE
    };
    let single = ha_toml(files, key_interval, true)
        .replace(
            &format!("home_interface = \"{HA_IFACE}\""),
            &format!("home_interface = \"{iface}\""),
        )
        .replace(
            &format!("state_dir = {}", toml_str(&files.ha_state)),
            &format!("state_dir = {}", toml_str(&member.state)),
        )
        .replace(
            &format!("control_socket = {}", toml_str(&files.ha_socket)),
            &format!("control_socket = {}", toml_str(&member.socket)),
        );
    let hold = hold_time.map_or(String::new(), |d| {
        format!("hold_time = \"{}ms\"\n", d.as_millis())
    });
    // The [pair] table goes before the [log] table, with the top-level keys.
    single.replacen(
        "\n[log]",
        &format!(
            "\n[pair]\nname = \"{}\"\netcd = [{}]\n{hold}\n[log]",
            member.name(),
            etcd.iter()
                .map(|u| format!("{u:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        1,
    )
}

/// `mip6-mn`'s configuration: the lab HoA and HA, both foreign interfaces and the home
/// interface watched.
pub fn mn_toml(files: &DemoFiles, key_interval: Duration) -> String {
    format!(
        r#"# mip6-mn configuration written by `mip6-lab demo`.
home_agent = "{HA_ADDR}"
home_address = "{MN_HOA}"
home_prefix_len = 64
init_secret = "{LAB_INIT_SECRET}"
init_spi_mn_to_ha = {LAB_INIT_SPI_MN_TO_HA:#x}
init_spi_ha_to_mn = {LAB_INIT_SPI_HA_TO_MN:#x}
interfaces = ["{fg1}", "{fg2}", "{home}"]
request_mode = "explicit"
key_update_interval = "{key}s"
lifetime = "{lifetime}s"
state_dir = {state}
control_socket = {socket}

[log]
format = "text"
level = "info"
"#,
        fg1 = Link::Foreign1.mn_iface(),
        fg2 = Link::Foreign2.mn_iface(),
        home = MN_HOME_IFACE,
        key = key_interval.as_secs().max(1),
        lifetime = LAB_LIFETIME.as_secs(),
        state = toml_str(&files.mn_state),
        socket = toml_str(&files.mn_socket),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> DemoFiles {
        DemoFiles::under(Path::new("/tmp/mip6 demo \"out\""))
    }

    #[test]
    fn the_encapsulation_line_turns_esp_in_udp_on_in_both_daemons() {
        let udp = encapsulation_line(true);
        let key = Duration::from_secs(5);
        let ha = mip6_ha_daemon::config::parse(&format!("{udp}{}", ha_toml(&files(), key, true)))
            .expect("the HA's toml parses");
        ha.validate(&|_| true).unwrap();
        assert_eq!(ha.udp_encapsulation().map(|u| u.port), Some(4500));
        let mn = mip6_mn_daemon::config::parse(&format!("{udp}{}", mn_toml(&files(), key)))
            .expect("the MN's toml parses");
        mn.validate(&|_| true).unwrap();
        assert_eq!(mn.udp_encapsulation().map(|u| u.port), Some(4500));
        assert_eq!(encapsulation_line(false), "");
        let raw = mip6_mn_daemon::config::parse(&mn_toml(&files(), key)).unwrap();
        assert_eq!(raw.udp_encapsulation(), None);
    }

    #[test]
    fn configuration_files_are_written_for_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ha.toml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }

    #[test]
    fn ha_config_parses_and_validates_with_lab_interfaces() {
        let text = ha_toml(&files(), Duration::from_secs(5), true);
        let config = mip6_ha_daemon::config::parse(&text).expect("ha.toml parses");
        config
            .validate(&|iface| iface == HA_IFACE)
            .expect("ha.toml validates");
        assert_eq!(config.key_update_interval(), Duration::from_secs(5));
        assert_eq!(config.max_binding_lifetime(), LAB_LIFETIME);
        assert_eq!(config.state_dir, files().ha_state);
        assert_eq!(config.control_socket, files().ha_socket);
        assert!(config.persistence);
        assert_eq!(config.mobile_node.len(), 1);
        assert_eq!(*config.mobile_node[0].home_address.get_ref(), MN_HOA);
        config.to_engine().expect("engine config");
        let off = ha_toml(&files(), Duration::from_secs(5), false);
        assert!(!mip6_ha_daemon::config::parse(&off).unwrap().persistence);
    }

    #[test]
    fn each_pair_members_config_validates_with_its_own_interface_files_and_name() {
        let urls = [
            "http://[2001:db8:1::fe]:2379".to_owned(),
            "http://[2001:db8:1::fe]:2479".to_owned(),
        ];
        let a = PairMember::of(&files(), 0);
        let b = PairMember::of(&files(), 1);
        assert_ne!(a.socket, b.socket);
        assert_ne!(a.state, b.state);
        assert_ne!(a.socket, files().ha_socket);
        for (member, iface) in [(&a, HA_IFACE), (&b, crate::topology::HA2_IFACE)] {
            let hold = Some(Duration::from_secs(2));
            let text = ha_pair_toml(&files(), member, Duration::from_secs(5), &urls, hold);
            let config = mip6_ha_daemon::config::parse(&text).expect("the pair's toml parses");
            config
                .validate(&|i| i == iface)
                .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            let pair = config.pair.as_ref().expect("a [pair] table").get_ref();
            assert_eq!(pair.name, member.name());
            assert_eq!(pair.etcd, urls);
            assert_eq!(pair.timing().hold, Duration::from_secs(2));
            assert_eq!(config.state_dir, member.state);
            assert_eq!(config.control_socket, member.socket);
            assert_eq!(config.mobile_node.len(), 1);
        }
    }

    #[test]
    fn mn_config_parses_and_validates_with_lab_interfaces() {
        let text = mn_toml(&files(), Duration::from_secs(5));
        let config = mip6_mn_daemon::config::parse(&text).expect("mn.toml parses");
        config
            .validate(&|iface| {
                iface == MN_HOME_IFACE || Link::ALL.iter().any(|l| l.mn_iface() == iface)
            })
            .expect("mn.toml validates");
        assert_eq!(config.key_update_interval(), Duration::from_secs(5));
        assert_eq!(config.lifetime(), LAB_LIFETIME);
        assert_eq!(config.state_dir(), files().mn_state);
        assert_eq!(config.control_socket(), files().mn_socket);
        assert_eq!(*config.home_address.get_ref(), MN_HOA);
        assert_eq!(*config.home_agent.get_ref(), HA_ADDR);
        config.to_engine().expect("engine config");
    }

    #[test]
    fn configs_refer_to_the_same_init_sa() {
        let ha = mip6_ha_daemon::config::parse(&ha_toml(&files(), Duration::from_secs(5), true))
            .unwrap();
        let mn = mip6_mn_daemon::config::parse(&mn_toml(&files(), Duration::from_secs(5))).unwrap();
        let entry = &ha.mobile_node[0];
        assert_eq!(
            entry.init_spi_mn_to_ha.get_ref().0,
            mn.init_spi_mn_to_ha.get_ref().0
        );
        assert_eq!(
            entry.init_spi_ha_to_mn.get_ref().0,
            mn.init_spi_ha_to_mn.get_ref().0
        );
    }

    #[test]
    fn an_unknown_interface_is_refused() {
        let text = mn_toml(&files(), Duration::from_secs(5));
        let config = mip6_mn_daemon::config::parse(&text).unwrap();
        assert!(config.validate(&|_| false).is_err());
    }

    #[test]
    fn long_output_paths_move_the_sockets_to_tmp() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        let f = DemoFiles::under(&long);
        assert!(f.ha_socket.to_string_lossy().starts_with("/tmp/mip6-lab-"));
        assert!(f.mn_socket.as_os_str().len() <= MAX_SOCKET_PATH);
        assert!(f.ha_config.starts_with(&long));
        let short = DemoFiles::under(Path::new("/tmp/out"));
        assert_eq!(short.ha_socket, Path::new("/tmp/out/ha.sock"));
    }
}
