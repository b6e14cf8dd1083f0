//! Namespace lab for the root-only tests: creates `mip6t-<pid>-<tag>-<role>` network
//! namespaces with `ip netns add`, runs code inside one by `setns(2)` on a scoped thread,
//! and deletes every namespace (and kills any process left in it) in `Drop`, which also
//! runs when a test panics.
//!
//! Why setns on a thread rather than re-exec'ing the test binary under `ip netns exec`:
//! a socket, TUN or netlink handle keeps the namespace it was created in, so only the
//! creation has to happen on the namespaced thread; the test body then uses the same
//! objects from the test thread, with ordinary asserts and no inter-process protocol.
//! Child processes (`ip`, `nft`) spawned from that thread inherit its namespace.
//!
//! The skip rule is the one of `tests/src/prerequisites.rs` (copied, not depended on): not
//! root → skip with a loud message, except under `CI=true`, where a skip is a failure.

#![allow(dead_code)]

use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// True when running under CI (`CI=true`), where no test may skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Reports a missing prerequisite: panics under CI, otherwise prints a loud skip
/// notice and returns `false` so the caller returns early.
pub fn missing(test: &str, what: &str) -> bool {
    if under_ci() {
        panic!("{test}: {what} is missing, and under CI=true a skip is a failure");
    }
    eprintln!("\n!!!! SKIPPED {test}: {what} is missing (run the tests as root) !!!!\n");
    false
}

/// True when we are root and `ip` and `nft` run; otherwise see [`missing`].
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return missing(test, "root (CAP_NET_ADMIN, CAP_NET_RAW)");
    }
    for tool in [["ip", "-V"], ["nft", "--version"]] {
        let ok = Command::new(tool[0])
            .arg(tool[1])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return missing(test, tool[0]);
        }
    }
    true
}

/// Address of role `a` on the shared link.
pub const A: &str = "2001:db8:1::1";
/// Address of role `b` on the shared link.
pub const B: &str = "2001:db8:1::2";

/// Parses a test address.
pub fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The namespaces of one test.
pub struct Lab {
    names: Vec<(String, String)>,
}

impl Lab {
    /// Creates one namespace per role, each with `lo` up.
    pub fn new(tag: &str, roles: &[&str]) -> Lab {
        let pid = std::process::id();
        let mut lab = Lab { names: Vec::new() };
        for r in roles {
            let name = format!("mip6t-{pid}-{tag}-{r}");
            run(&["ip", "netns", "add", &name]);
            lab.names.push((r.to_string(), name));
            lab.sh(r, &["ip", "link", "set", "lo", "up"]);
        }
        lab
    }

    /// Two namespaces `a` and `b` joined by veth `va`/`vb`, addressed [`A`]/[`B`] (no DAD),
    /// returned once a ping crosses the link: until the kernel activates a new device its
    /// queue discipline drops every packet, which would eat a test's first frames.
    pub fn pair(tag: &str) -> Lab {
        let lab = Lab::new(tag, &["a", "b"]);
        for r in ["a", "b"] {
            lab.sh(r, &["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
        }
        let nb = lab.name("b").to_string();
        lab.sh(
            "a",
            &[
                "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &nb,
            ],
        );
        lab.sh(
            "a",
            &[
                "ip",
                "addr",
                "add",
                &format!("{A}/64"),
                "dev",
                "va",
                "nodad",
            ],
        );
        lab.sh(
            "b",
            &[
                "ip",
                "addr",
                "add",
                &format!("{B}/64"),
                "dev",
                "vb",
                "nodad",
            ],
        );
        lab.sh("a", &["ip", "link", "set", "va", "up"]);
        lab.sh("b", &["ip", "link", "set", "vb", "up"]);
        let ping = [
            "ip",
            "netns",
            "exec",
            lab.name("a"),
            "ping",
            "-6",
            "-c",
            "1",
            "-W",
            "1",
            B,
        ];
        let up = (0..5).any(|_| {
            Command::new(ping[0])
                .args(&ping[1..])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        assert!(
            up,
            "veth link between {} and {} never came up",
            lab.name("a"),
            nb
        );
        lab
    }

    /// The full namespace name of `role`.
    pub fn name(&self, role: &str) -> &str {
        &self
            .names
            .iter()
            .find(|(r, _)| r == role)
            .expect("no such role")
            .1
    }

    /// Runs a command in `role`'s namespace, asserting it succeeds; returns stdout.
    pub fn sh(&self, role: &str, argv: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", self.name(role)];
        full.extend_from_slice(argv);
        String::from_utf8_lossy(&run(&full).stdout).into_owned()
    }

    /// Runs `f` on a thread that has entered `role`'s namespace; a panic in `f` is
    /// re-raised here.
    pub fn run<R: Send>(&self, role: &str, f: impl FnOnce() -> R + Send) -> R {
        let path = format!("/run/netns/{}", self.name(role));
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = std::fs::File::open(&path).expect("open netns file");
                // SAFETY: `ns` is an open namespace file; setns affects only this thread.
                let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, name) in &self.names {
            if let Ok(o) = Command::new("ip").args(["netns", "pids", name]).output() {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Runs `argv`, panicking with its stderr if it fails.
pub fn run(argv: &[&str]) -> Output {
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("spawn");
    assert!(
        o.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Waits up to `timeout` for `fd` to become readable (poll(2)).
pub fn readable(fd: &impl AsRawFd, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as libc::c_int) };
    r > 0
}

/// Calls `recv` whenever `fd` is readable, until `deadline` passes or `max` items came;
/// returns what came. Bounded in time and count.
pub fn collect<T>(
    fd: &impl AsRawFd,
    within: Duration,
    max: usize,
    mut recv: impl FnMut() -> Vec<T>,
) -> Vec<T> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < max {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !readable(fd, left) {
            break;
        }
        out.extend(recv());
    }
    out
}

/// An IPv6 header (RFC 8200 §3) with the given fields, followed by `rest`.
pub fn ipv6(tc: u8, flow: u32, nh: u8, hop: u8, src: &str, dst: &str, rest: &[u8]) -> Vec<u8> {
    let first = (6u32 << 28) | ((tc as u32) << 20) | (flow & 0xf_ffff);
    let mut p = first.to_be_bytes().to_vec();
    p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    p.extend_from_slice(&[nh, hop]);
    p.extend_from_slice(&ip6(src).octets());
    p.extend_from_slice(&ip6(dst).octets());
    p.extend_from_slice(rest);
    p
}

/// The HoA used in the frames.
pub const HOA: &str = "2001:db8:7::100";

/// An 8-octet ESP header stub (SPI, sequence number; RFC 4303 §2) plus 16 octets of
/// "ciphertext": the packet socket and the kernel never look inside.
pub fn esp_stub(spi: u32, seq: u32) -> Vec<u8> {
    let mut e = spi.to_be_bytes().to_vec();
    e.extend_from_slice(&seq.to_be_bytes());
    e.extend_from_slice(&[0xa5; 16]);
    e
}

/// BU-shaped: IPv6(src→dst) | DestOpts(PadN(2), HoA option 0xC9 at 8n+6, RFC 6275 §6.3) |
/// ESP stub. By hand from the RFC 8200 §4.6 and RFC 6275 §6.3 diagrams.
pub fn bu_frame(tc: u8, flow: u32, hop: u8, src: &str, dst: &str, seq: u32) -> Vec<u8> {
    let mut e = vec![50, 2, 1, 2, 0, 0, 0xc9, 16];
    e.extend_from_slice(&ip6(HOA).octets());
    e.extend_from_slice(&esp_stub(0x1001, seq));
    ipv6(tc, flow, 60, hop, src, dst, &e)
}

/// BA-shaped: IPv6 | RH2 (next 50, len 2, type 2, segments left 1, HoA; RFC 6275 §6.4) |
/// ESP stub.
pub fn ba_frame(src: &str, dst: &str, seq: u32) -> Vec<u8> {
    let mut e = vec![50, 2, 2, 1, 0, 0, 0, 0];
    e.extend_from_slice(&ip6(HOA).octets());
    e.extend_from_slice(&esp_stub(0x2002, seq));
    ipv6(0, 0, 43, 64, src, dst, &e)
}

/// Internet checksum (RFC 1071) of an ICMPv6 message over the IPv6 pseudo-header
/// (RFC 8200 §8.1).
pub fn icmpv6_checksum(src: &str, dst: &str, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            sum += w as u32;
        }
    };
    add(&ip6(src).octets());
    add(&ip6(dst).octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMPv6 echo request (RFC 4443 §4.1) with a correct checksum.
pub fn echo_request(src: &str, dst: &str, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![128, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let c = icmpv6_checksum(src, dst, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ipv6(0, 0, 58, 64, src, dst, &m)
}

/// A UDP datagram (RFC 768) from port 5000 to 5001, checksum left 0 (the filter must drop
/// it before anyone checks).
pub fn udp_frame(src: &str, dst: &str) -> Vec<u8> {
    let payload = b"not signalling";
    let mut u = vec![0x13, 0x88, 0x13, 0x89];
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv6(0, 0, 17, 64, src, dst, &u)
}
