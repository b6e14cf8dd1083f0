//! Router advertisements in the lab: Debian's `radvd`, started by the lab in the
//! router's namespace on the two foreign links and the home link, stopped with the lab
//! (issue 11, item 2; RFC 6275 §11.5.1).
//!
//! Each link announces its /64 (on-link, autonomous) with the Advertisement Interval
//! option (RFC 6275 §7.3) and the short intervals RFC 6275 §7.5 allows for mobile
//! nodes' links (30–70 ms): a mobile node that comes onto a link hears its router
//! within 70 ms without soliciting. `MinDelayBetweenRAs` is 30 ms too: radvd's
//! default (3 s, RFC 4861's MIN_DELAY_BETWEEN_RAS) made it hold its next
//! advertisement for over 3 s when a solicitation came right after one, so a mobile
//! node arriving on the home link (whose bridge never loses carrier) solicited and
//! then waited 3.5 s (measured in the demo's return home). The Router Lifetime is [`ROUTER_LIFETIME_S`]: a
//! router that stops is noticed within seconds by its lifetime alone. The home link's
//! advertisements reach the home agent too, which ignores them (`accept_ra=0`).
//!
//! The MN's interfaces have fixed Ethernet addresses ([`mn_link_address`]), so the
//! address a mobile node forms from each prefix (modified EUI-64, RFC 4291 §2.5.1) is
//! known in advance ([`crate::Link::slaac_addr`], [`home_slaac_addr`]).

use std::fmt::Write as _;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::process::Stdio;

use crate::error::LabError;
use crate::topology::{Lab, Link, Node, ProcId, HOME_PREFIX, MN_HOME_IFACE, RT_HOME_IFACE};

/// The Router Lifetime the lab's routers advertise, in seconds.
pub const ROUTER_LIFETIME_S: u32 = 9;
/// The shortest interval between unsolicited advertisements, in seconds.
pub const MIN_INTERVAL_S: f64 = 0.03;
/// The longest, in seconds (also the Advertisement Interval option's value).
pub const MAX_INTERVAL_S: f64 = 0.07;

/// The Ethernet address of the MN's interface `iface` (`mn-fg1`, `mn-fg2`,
/// `mn-home`): locally administered, fixed, so its autoconfigured addresses are known.
pub fn mn_link_address(iface: &str) -> [u8; 6] {
    let last = match iface {
        "mn-fg1" => 0x21,
        "mn-fg2" => 0x31,
        _ => 0x11,
    };
    [0x02, 0, 0, 0, 0, last]
}

/// The address a node forms from `prefix` on an interface with Ethernet address `mac`
/// (modified EUI-64, RFC 4291 §2.5.1), as the MN daemon forms it.
pub use mip6_wire::ra::eui64_address as eui64;

/// The address the MN forms on its home link from the advertised home prefix.
pub fn home_slaac_addr() -> Ipv6Addr {
    eui64(HOME_PREFIX, mn_link_address(MN_HOME_IFACE))
}

/// radvd's configuration for the lab's router.
pub fn config() -> String {
    let mut text = String::new();
    let links = [
        (RT_HOME_IFACE, HOME_PREFIX),
        (Link::Foreign1.rt_iface(), Link::Foreign1.prefix()),
        (Link::Foreign2.rt_iface(), Link::Foreign2.prefix()),
    ];
    for (iface, prefix) in links {
        let _ = write!(
            text,
            "interface {iface} {{\n\
             \x20   AdvSendAdvert on;\n\
             \x20   MinRtrAdvInterval {MIN_INTERVAL_S};\n\
             \x20   MaxRtrAdvInterval {MAX_INTERVAL_S};\n\
             \x20   MinDelayBetweenRAs {MIN_INTERVAL_S};\n\
             \x20   AdvIntervalOpt on;\n\
             \x20   AdvDefaultLifetime {ROUTER_LIFETIME_S};\n\
             \x20   prefix {prefix}/64 {{\n\
             \x20       AdvOnLink on;\n\
             \x20       AdvAutonomous on;\n\
             \x20       AdvValidLifetime 600;\n\
             \x20       AdvPreferredLifetime 300;\n\
             \x20   }};\n\
             }};\n"
        );
    }
    text
}

/// A running radvd of a lab (stopped with the lab; its files removed on drop).
#[derive(Debug)]
pub struct Radvd {
    /// The process.
    pub proc: ProcId,
    dir: PathBuf,
}

impl Radvd {
    /// What radvd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("radvd.log")).unwrap_or_default()
    }
}

impl Drop for Radvd {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where radvd is: `$PATH`, or Debian's /usr/sbin (not on a non-root `$PATH`).
pub fn program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("radvd");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let debian = PathBuf::from("/usr/sbin/radvd");
    debian.is_file().then_some(debian)
}

/// Starts radvd in `lab`'s router namespace, in the foreground, logging to
/// `radvd.log` beside its configuration ([`Radvd::log`]).
pub fn start(lab: &mut Lab) -> Result<Radvd, LabError> {
    let program = program().ok_or(LabError::Missing {
        what: "radvd (Debian package radvd; `mip6-lab demo --hand-set-addresses` runs without it)",
    })?;
    let dir = std::env::temp_dir().join(format!("{}radvd", lab.prefix()));
    std::fs::create_dir_all(&dir).map_err(|source| LabError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    let conf = dir.join("radvd.conf");
    std::fs::write(&conf, config()).map_err(|source| LabError::Io {
        what: format!("writing {}", conf.display()),
        source,
    })?;
    let log = std::fs::File::create(dir.join("radvd.log")).map_err(|source| LabError::Io {
        what: format!("creating {}", dir.join("radvd.log").display()),
        source,
    })?;
    let mut command = lab.command_in(Node::Rt, &program);
    command
        .arg("--nodaemon")
        .arg("--config")
        .arg(&conf)
        .arg("--pidfile")
        .arg(dir.join("radvd.pid"))
        .args(["--logmethod", "stderr"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let proc = lab.spawn_command(command)?;
    Ok(Radvd { proc, dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_announces_each_link_prefix_with_the_interval_option() {
        let c = config();
        for prefix in ["2001:db8:1::/64", "2001:db8:2::/64", "2001:db8:3::/64"] {
            assert!(c.contains(&format!("prefix {prefix} {{")), "{c}");
        }
        assert_eq!(c.matches("AdvIntervalOpt on;").count(), 3);
        assert!(c.contains("MaxRtrAdvInterval 0.07;"), "{c}");
        assert!(c.contains("MinDelayBetweenRAs 0.03;"), "{c}");
    }

    #[test]
    fn the_mn_addresses_are_modified_eui64() {
        assert_eq!(
            eui64("2001:db8:2::".parse().unwrap(), [0x02, 0, 0, 0, 0, 0x21]),
            "2001:db8:2::ff:fe00:21".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            home_slaac_addr(),
            "2001:db8:1::ff:fe00:11".parse::<Ipv6Addr>().unwrap()
        );
    }
}
