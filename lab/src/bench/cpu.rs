//! CPU time of a process from `/proc/<pid>/stat`: user plus system time of all its
//! threads (fields 14 and 15, `utime` and `stime`, in clock ticks; proc(5)).

use std::io;
use std::process::Command;

/// Clock ticks per second when `getconf CLK_TCK` cannot say (Linux's `USER_HZ` on
/// every architecture the lab runs on).
const DEFAULT_CLK_TCK: u64 = 100;

/// User and system time of a process, clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// `utime`: user mode.
    pub user: u64,
    /// `stime`: kernel mode.
    pub system: u64,
}

impl CpuTicks {
    /// User plus system.
    pub fn total(self) -> u64 {
        self.user + self.system
    }

    /// Seconds of CPU from `earlier` to `self` at `ticks_per_sec`, never negative.
    pub fn secs_since(self, earlier: CpuTicks, ticks_per_sec: u64) -> f64 {
        self.total().saturating_sub(earlier.total()) as f64 / ticks_per_sec.max(1) as f64
    }
}

/// Parses the text of `/proc/<pid>/stat`. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so the fields are counted
/// from the last `)`. `None` if the text is not in that form.
pub fn parse_stat(text: &str) -> Option<CpuTicks> {
    let after_comm = &text[text.rfind(')')? + 1..];
    // After the name: field 3 (state) is index 0, so utime (14) is 11, stime (15) 12.
    let mut fields = after_comm.split_whitespace().skip(11);
    let user = fields.next()?.parse().ok()?;
    let system = fields.next()?.parse().ok()?;
    Some(CpuTicks { user, system })
}

/// Reads the CPU time of process `pid` (all its threads).
pub fn read(pid: u32) -> io::Result<CpuTicks> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path)?;
    parse_stat(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path}: no utime/stime in {text:?}"),
        )
    })
}

/// The command name of process `pid` (`/proc/<pid>/comm`), to check that a pid is
/// the program itself and not a wrapper.
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 when that fails: the lab forbids
/// the `unsafe` a `sysconf` call would need).
pub fn ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&t: &u64| t > 0)
        .unwrap_or(DEFAULT_CLK_TCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces_and_parens() {
        let text = "4242 (mip6 (x) ha) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                    731 269 0 0 20 0 3 0 123456 0 0";
        assert_eq!(
            parse_stat(text),
            Some(CpuTicks {
                user: 731,
                system: 269
            })
        );
        let plain = "7 (mip6-mn) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 0 0";
        assert_eq!(parse_stat(plain).map(CpuTicks::total), Some(11));
    }

    #[test]
    fn malformed_stat_is_none() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("12 (short) S 1 2"), None);
        assert_eq!(parse_stat("12 (x) S 1 2 3 4 5 6 7 8 9 10 eleven 0 0"), None);
    }

    #[test]
    fn seconds_between_samples() {
        let a = CpuTicks {
            user: 100,
            system: 50,
        };
        let b = CpuTicks {
            user: 300,
            system: 100,
        };
        assert!((b.secs_since(a, 100) - 2.5).abs() < 1e-12);
        assert_eq!(a.secs_since(b, 100), 0.0);
    }

    #[test]
    fn own_process_is_readable() {
        let me = read(std::process::id()).expect("own /proc stat");
        assert!(me.total() < u64::MAX);
        assert!(ticks_per_sec() >= 1);
    }
}
