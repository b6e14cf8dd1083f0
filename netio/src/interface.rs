//! What the kernel says about one network interface, read from sysfs and procfs: its
//! Ethernet address (`/sys/class/net/<if>/address`) and its link-local IPv6 address
//! (`/proc/net/if_inet6`, scope 0x20). The home agent needs both for the Neighbor
//! Advertisements it sends on the home link (RFC 4861 §4.4, §7.2.4).
//!
//! Not supported: link-layer addresses other than 6 octets (an error).

use std::net::Ipv6Addr;

use crate::Error;

/// The interface's Ethernet address.
pub fn hardware_address(ifname: &str) -> Result<[u8; 6], Error> {
    let path = format!("/sys/class/net/{ifname}/address");
    let text =
        std::fs::read_to_string(&path).map_err(Error::sys("reading the interface address"))?;
    parse_mac(text.trim()).ok_or_else(|| {
        Error::sys("parsing the interface address")(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{path}: {:?} is not a 6-octet Ethernet address",
                text.trim()
            ),
        ))
    })
}

/// The name of the interface with index `ifindex` (`/sys/class/net/*/ifindex`).
pub fn name_of(ifindex: u32) -> Result<String, Error> {
    let dir = std::fs::read_dir("/sys/class/net").map_err(Error::sys("listing /sys/class/net"))?;
    for entry in dir.flatten() {
        let index = std::fs::read_to_string(entry.path().join("ifindex")).ok();
        if index.and_then(|t| t.trim().parse::<u32>().ok()) == Some(ifindex) {
            return Ok(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Err(Error::NoSuchInterface {
        name: format!("index {ifindex}"),
    })
}

/// Whether the interface is administratively up (`IFF_UP` in
/// `/sys/class/net/<ifname>/flags`); false when it cannot be read.
pub fn is_up(ifname: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/flags"))
        .ok()
        .and_then(|t| u32::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|flags| flags & libc::IFF_UP as u32 != 0)
}

/// The interface's first link-local IPv6 address, if it has one.
pub fn link_local_address(ifname: &str) -> Result<Option<Ipv6Addr>, Error> {
    let text = std::fs::read_to_string("/proc/net/if_inet6")
        .map_err(Error::sys("reading /proc/net/if_inet6"))?;
    Ok(link_local_in(&text, ifname))
}

/// `aa:bb:cc:dd:ee:ff`.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for octet in &mut mac {
        *octet = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The first `/proc/net/if_inet6` line of `ifname` with link scope (0x20): "address
/// (32 hex digits), ifindex, prefix length, scope, flags, name".
fn link_local_in(if_inet6: &str, ifname: &str) -> Option<Ipv6Addr> {
    if_inet6.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 6 || f[5] != ifname || f[3] != "20" {
            return None;
        }
        u128::from_str_radix(f[0], 16).ok().map(Ipv6Addr::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_up_and_a_missing_interface_is_not() {
        assert!(is_up("lo"));
        assert!(!is_up("no-such-if0"));
    }

    #[test]
    fn the_loopback_interface_is_found_by_its_index() {
        let index = crate::if_index("lo").expect("lo exists");
        assert_eq!(name_of(index).expect("named"), "lo");
        assert!(name_of(u32::MAX).is_err());
    }

    #[test]
    fn reads_the_link_local_address_of_the_named_interface_only() {
        let text = "\
20010db8000100000000000000000001 02 40 00 80 home0
fe80000000000000000000fffe000001 03 40 20 80 other
fe800000000000000000000000000001 02 40 20 80 home0
00000000000000000000000000000001 01 80 10 80 lo
";
        assert_eq!(
            link_local_in(text, "home0"),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(
            link_local_in(text, "other"),
            Some("fe80::ff:fe00:1".parse().unwrap())
        );
        assert_eq!(
            link_local_in(text, "lo"),
            None,
            "host scope is not link scope"
        );
        assert_eq!(link_local_in(text, "absent"), None);
        assert_eq!(link_local_in("garbage\n", "home0"), None);
    }

    #[test]
    fn parses_six_octet_ethernet_addresses_only() {
        assert_eq!(parse_mac("02:00:00:00:00:1f"), Some([2, 0, 0, 0, 0, 0x1f]));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        assert_eq!(parse_mac("02:00:00:00:00:1f:00"), None);
        assert_eq!(parse_mac("zz:00:00:00:00:1f"), None);
        assert_eq!(parse_mac(""), None);
    }
}
