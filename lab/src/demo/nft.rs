//! The BA-loss phase's nftables table in the router's namespace: it drops a share of
//! the home agent's packets that carry a type 2 routing header on their way to the MN
//! (RFC 6275 §6.4: the Binding Acknowledgements, and nothing else the HA sends has
//! one: tunnelled data is ESP in IPv6 without extension headers), so the MN's
//! retransmission and key resend path (docs/architecture.md, "Key schedule", patent (4), (10)) runs.
//!
//! Two rules: one counts every such packet (`ba-seen`), the next drops P % of them
//! (`ba-dropped`; [`ba_drop_ruleset`] says how the share is taken). The table is installed with
//! `nft -f FILE` (the file stays in the output directory) and deleted afterwards;
//! deleting the lab's namespaces would remove it too.

use std::ffi::OsStr;
use std::path::Path;

use crate::error::LabError;
use crate::topology::{Lab, Node};
use crate::HA_ADDR;

/// The table's name (family `ip6`).
pub const BA_DROP_TABLE: &str = "mip6_lab_ba_drop";

/// The ruleset that drops `percent` % (0..=100) of the HA's RH2 packets forwarded by
/// the router.
///
/// The share is taken deterministically, `numgen inc mod D < N` with N/D the percentage
/// in lowest terms (50 %: every other BA, starting with the first), not with
/// `numgen random`: a run sees only a handful of BAs, and at random a 15-second phase
/// with three BAs drops none one time in eight. nft refuses a value not below the
/// modulus, so 100 % drops without `numgen`; 0 % has no drop rule (counter stays 0).
pub fn ba_drop_ruleset(percent: u8) -> String {
    let share = match percent {
        0 => None,
        1..=99 => {
            let g = gcd(u32::from(percent), 100);
            let (kept, every) = (u32::from(percent) / g, 100 / g);
            Some(format!("numgen inc mod {every} < {kept} "))
        }
        _ => Some(String::new()),
    };
    let drop_rule = share.map_or(String::new(), |share| {
        format!("\t\tip6 saddr {HA_ADDR} rt type 2 {share}counter drop comment \"ba-dropped\"\n")
    });
    format!(
        "table ip6 {BA_DROP_TABLE} {{
\tchain forward {{
\t\ttype filter hook forward priority 0; policy accept;
\t\tip6 saddr {HA_ADDR} rt type 2 counter comment \"ba-seen\"
{drop_rule}\t}}
}}
"
    )
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Packets counted by the table's two rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BaDropCounts {
    /// HA packets with a type 2 routing header forwarded (or dropped) by the router.
    pub seen: u64,
    /// Those dropped.
    pub dropped: u64,
}

/// Reads the counters out of `nft list table` output: the `packets N` of the rules
/// commented `ba-seen` and `ba-dropped`.
pub fn parse_counters(listing: &str) -> BaDropCounts {
    let packets = |line: &str| {
        let mut words = line.split_whitespace();
        words
            .by_ref()
            .find(|w| *w == "packets")
            .and_then(|_| words.next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut counts = BaDropCounts::default();
    for line in listing.lines() {
        if line.contains("\"ba-seen\"") {
            counts.seen = packets(line);
        } else if line.contains("\"ba-dropped\"") {
            counts.dropped = packets(line);
        }
    }
    counts
}

/// Writes the ruleset to `file` and loads it into the lab's router namespace.
pub fn install(lab: &Lab, percent: u8, file: &Path) -> Result<(), LabError> {
    std::fs::write(file, ba_drop_ruleset(percent)).map_err(|source| LabError::Spawn {
        command: format!("write {}", file.display()),
        source,
    })?;
    lab.exec_in_checked(
        Node::Rt,
        &[OsStr::new("nft"), OsStr::new("-f"), file.as_os_str()],
    )
    .map(drop)
}

/// The table's counters now.
pub fn counters(lab: &Lab) -> Result<BaDropCounts, LabError> {
    let out = lab.exec_in_checked(Node::Rt, &["nft", "list", "table", "ip6", BA_DROP_TABLE])?;
    Ok(parse_counters(&String::from_utf8_lossy(&out.stdout)))
}

/// Deletes the table.
pub fn remove(lab: &Lab) -> Result<(), LabError> {
    lab.exec_in_checked(Node::Rt, &["nft", "delete", "table", "ip6", BA_DROP_TABLE])
        .map(drop)
}

/// Whether the table exists in the router's namespace.
pub fn installed(lab: &Lab) -> Result<bool, LabError> {
    let out = lab.exec_in_checked(Node::Rt, &["nft", "list", "tables"])?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == format!("table ip6 {BA_DROP_TABLE}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_matches_rh2_from_the_ha_and_drops_a_share() {
        let text = ba_drop_ruleset(50);
        assert!(text.starts_with("table ip6 mip6_lab_ba_drop {"));
        assert!(text.contains("type filter hook forward priority 0; policy accept;"));
        assert!(text.contains(
            "ip6 saddr 2001:db8:1::1 rt type 2 numgen inc mod 2 < 1 counter drop comment \"ba-dropped\""
        ));
        assert!(text.contains("ip6 saddr 2001:db8:1::1 rt type 2 counter comment \"ba-seen\""));
        assert!(ba_drop_ruleset(30).contains("numgen inc mod 10 < 3 counter drop"));
        assert!(ba_drop_ruleset(99).contains("numgen inc mod 100 < 99 counter drop"));
        assert!(ba_drop_ruleset(100)
            .contains("ip6 saddr 2001:db8:1::1 rt type 2 counter drop comment \"ba-dropped\""));
        assert_eq!(ba_drop_ruleset(250), ba_drop_ruleset(100));
        assert!(!ba_drop_ruleset(0).contains("counter drop"));
        assert!(ba_drop_ruleset(0).contains("\"ba-seen\""));
    }

    #[test]
    fn counters_are_read_from_the_listing() {
        let listing = r#"table ip6 mip6_lab_ba_drop {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip6 saddr 2001:db8:1::1 rt type 2 counter packets 7 bytes 1120 comment "ba-seen"
		ip6 saddr 2001:db8:1::1 rt type 2 numgen random mod 100 < 50 counter packets 3 bytes 480 drop comment "ba-dropped"
	}
}
"#;
        assert_eq!(
            parse_counters(listing),
            BaDropCounts {
                seen: 7,
                dropped: 3
            }
        );
        assert_eq!(parse_counters(""), BaDropCounts::default());
    }
}
