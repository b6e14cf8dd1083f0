//! The classic BPF program (`SO_ATTACH_FILTER`, Linux `Documentation/networking/filter.rst`)
//! that lets a [`PacketSocket`](crate::PacketSocket) see only Mobile IPv6 signalling and
//! tunnel frames for one local address.
//!
//! It passes an IPv6 packet when, and only when:
//! - the version nibble is 6;
//! - the destination address is the given local address;
//! - the first extension header (the IPv6 next header field) is a Destination Options
//!   header (60: the BU's Home Address option, RFC 6275 §6.3), a Routing header (43)
//!   whose routing type is 2 (the BA's type 2 routing header, RFC 6275 §6.4), ESP
//!   (50: a tunnel frame, RFC 6275 §9.5.1 with RFC 4303 tunnel mode), or a Mobility
//!   Header (135: unprotected signalling, which the home agent answers, §9.2).
//!
//! What follows that header (ESP in docs/architecture.md's BU/BA, RFC 3776) is not checked: the
//! engine rejects what it cannot open, and a BPF program cannot walk an option list.
//! Tunnel frames come this way, beside signalling, because the [`nft`](crate::nft) guard
//! then drops them at prerouting: the kernel spends no route lookup and no local delivery
//! on them (measured in docs/benchmarks-lab.md). A fragmented ESP packet (next header 44)
//! does not pass; the kernel reassembles it and the raw ESP socket
//! ([`raw_recv`](crate::raw_recv)) gets it. The
//! socket is `SOCK_DGRAM`, so offset 0 is the first octet of the IPv6 header (packet(7));
//! a load beyond the end of the frame makes the kernel return 0, i.e. drop, so short
//! frames never pass.
//!
//! [`prefix64_filter`] is the same test for every address of a /64.
//!
//! Program, instruction by instruction (`A` is the accumulator; jumps are relative):
//!
//! | # | instruction | meaning |
//! | --- | --- | --- |
//! | 0 | `ldb [0]` | A = first octet: version ‖ high traffic-class bits (RFC 8200 §3) |
//! | 1 | `and #0xf0` | keep the version nibble |
//! | 2 | `jeq #0x60, 0, drop` | not IPv6 → drop |
//! | 3 | `ld [24]` | A = destination address, octets 24..28 |
//! | 4 | `jeq #dst0, 0, drop` | first word differs → drop |
//! | 5 | `ld [28]` | octets 28..32 |
//! | 6 | `jeq #dst1, 0, drop` | |
//! | 7 | `ld [32]` | octets 32..36 |
//! | 8 | `jeq #dst2, 0, drop` | |
//! | 9 | `ld [36]` | octets 36..40 |
//! | 10 | `jeq #dst3, 0, drop` | last word differs → drop |
//! | 11 | `ldb [6]` | A = next header |
//! | 12 | `jeq #60, accept, 0` | Destination Options first → accept |
//! | 13 | `jeq #50, accept, 0` | ESP first (a tunnel frame) → accept |
//! | 14 | `jeq #135, accept, 0` | a Mobility Header first (unprotected: answered with a Binding Error or ICMPv6 error, RFC 6275 §9.2) → accept |
//! | 15 | `jeq #43, 0, drop` | none of DestOpts, ESP, MH, Routing → drop |
//! | 16 | `ldb [42]` | A = routing type (octet 2 of the routing header at 40, RFC 8200 §4.4) |
//! | 17 | `jeq #2, accept, drop` | type 2 → accept, else drop |
//! | 18 | `ret #-1` | accept: keep the whole frame |
//! | 19 | `ret #0` | drop |

use std::net::Ipv6Addr;

/// One classic BPF instruction (`struct sock_filter`, linux/filter.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode: class | size | mode, or class | op | source.
    pub code: u16,
    /// Instructions to skip after this one when a jump is taken.
    pub jt: u8,
    /// Instructions to skip after this one when a jump is not taken.
    pub jf: u8,
    /// The constant operand.
    pub k: u32,
}

/// Opcode parts from linux/bpf_common.h.
pub mod op {
    /// Load into A.
    pub const LD: u16 = 0x00;
    /// Arithmetic on A.
    pub const ALU: u16 = 0x04;
    /// Jump.
    pub const JMP: u16 = 0x05;
    /// Return.
    pub const RET: u16 = 0x06;
    /// 32-bit word (network order).
    pub const W: u16 = 0x00;
    /// 16-bit half word.
    pub const H: u16 = 0x08;
    /// Octet.
    pub const B: u16 = 0x10;
    /// Absolute offset into the frame.
    pub const ABS: u16 = 0x20;
    /// Bitwise and.
    pub const AND: u16 = 0x50;
    /// Jump if equal.
    pub const JEQ: u16 = 0x10;
    /// The operand is the constant `k`.
    pub const K: u16 = 0x00;
}

/// Next header value of a Destination Options header (IANA protocol numbers).
pub const NH_DEST_OPTS: u8 = 60;
/// Next header value of a Routing header.
pub const NH_ROUTING: u8 = 43;
/// Next header value of ESP (RFC 4303 §2).
pub const NH_ESP: u8 = 50;
/// Next header value of the Mobility Header (RFC 6275 §6.1).
pub const NH_MOBILITY: u8 = 135;
/// Routing type of the Mobile IPv6 type 2 routing header (RFC 6275 §6.4).
pub const RH_TYPE_2: u8 = 2;

/// Number of instructions in [`signalling_filter`].
pub const PROGRAM_LEN: usize = 20;
const ACCEPT: u8 = 18;
const DROP: u8 = 19;

const fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A `jeq #k` at index `at` with absolute targets (`None` = fall through).
const fn jeq(at: u8, k: u32, t: Option<u8>, f: Option<u8>) -> Insn {
    let next = at + 1;
    let jt = match t {
        Some(t) => t - next,
        None => 0,
    };
    let jf = match f {
        Some(f) => f - next,
        None => 0,
    };
    Insn {
        code: op::JMP | op::JEQ | op::K,
        jt,
        jf,
        k,
    }
}

/// The signalling filter for `local` (see the module doc for the program, line by line).
pub fn signalling_filter(local: Ipv6Addr) -> [Insn; PROGRAM_LEN] {
    let o = local.octets();
    let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
    let ldb = |k| stmt(op::LD | op::B | op::ABS, k);
    let ld = |k| stmt(op::LD | op::W | op::ABS, k);
    [
        ldb(0),
        stmt(op::ALU | op::AND | op::K, 0xf0),
        jeq(2, 0x60, None, Some(DROP)),
        ld(24),
        jeq(4, w(0), None, Some(DROP)),
        ld(28),
        jeq(6, w(4), None, Some(DROP)),
        ld(32),
        jeq(8, w(8), None, Some(DROP)),
        ld(36),
        jeq(10, w(12), None, Some(DROP)),
        ldb(6),
        jeq(12, NH_DEST_OPTS as u32, Some(ACCEPT), None),
        jeq(13, NH_ESP as u32, Some(ACCEPT), None),
        jeq(14, NH_MOBILITY as u32, Some(ACCEPT), None),
        jeq(15, NH_ROUTING as u32, None, Some(DROP)),
        ldb(42),
        jeq(17, RH_TYPE_2 as u32, Some(ACCEPT), Some(DROP)),
        stmt(op::RET | op::K, u32::MAX),
        stmt(op::RET | op::K, 0),
    ]
}

/// Number of instructions in [`prefix64_filter`].
pub const PREFIX64_PROGRAM_LEN: usize = 16;
const PREFIX64_ACCEPT: u8 = 14;
const PREFIX64_DROP: u8 = 15;

/// The signalling filter of [`signalling_filter`] for a whole /64 instead of one
/// address: the first 64 bits of the destination must be `prefix`'s, the interface
/// identifier is not looked at. For a host that receives for many addresses of one
/// prefix the kernel does not own (`mip6-lab swarm`: a care-of address per simulated
/// mobile node, routed to it, dropped by its non-forwarding stack after this socket
/// took its copy). The next-header checks are the same.
///
/// | # | instruction | meaning |
/// | --- | --- | --- |
/// | 0–2 | `ldb [0]`, `and #0xf0`, `jeq #0x60, 0, drop` | IPv6 only |
/// | 3, 4 | `ld [24]`, `jeq #p0, 0, drop` | destination octets 24..28 are the prefix's first word |
/// | 5, 6 | `ld [28]`, `jeq #p1, 0, drop` | octets 28..32 its second |
/// | 7 | `ldb [6]` | next header |
/// | 8–10 | `jeq #60` / `#50` / `#135`, accept | DestOpts, ESP, Mobility Header first → accept |
/// | 11 | `jeq #43, 0, drop` | anything else but a Routing header → drop |
/// | 12, 13 | `ldb [42]`, `jeq #2, accept, drop` | routing type 2 → accept |
/// | 14 | `ret #-1` | accept |
/// | 15 | `ret #0` | drop |
///
/// A frame shorter than 32 octets never passes (the prefix loads fail: drop), nor a
/// Routing header frame shorter than 43.
pub fn prefix64_filter(prefix: Ipv6Addr) -> [Insn; PREFIX64_PROGRAM_LEN] {
    const ACCEPT: u8 = PREFIX64_ACCEPT;
    const DROP: u8 = PREFIX64_DROP;
    let o = prefix.octets();
    let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
    let ldb = |k| stmt(op::LD | op::B | op::ABS, k);
    let ld = |k| stmt(op::LD | op::W | op::ABS, k);
    [
        ldb(0),
        stmt(op::ALU | op::AND | op::K, 0xf0),
        jeq(2, 0x60, None, Some(DROP)),
        ld(24),
        jeq(4, w(0), None, Some(DROP)),
        ld(28),
        jeq(6, w(4), None, Some(DROP)),
        ldb(6),
        jeq(8, NH_DEST_OPTS as u32, Some(ACCEPT), None),
        jeq(9, NH_ESP as u32, Some(ACCEPT), None),
        jeq(10, NH_MOBILITY as u32, Some(ACCEPT), None),
        jeq(11, NH_ROUTING as u32, None, Some(DROP)),
        ldb(42),
        jeq(13, RH_TYPE_2 as u32, Some(ACCEPT), Some(DROP)),
        stmt(op::RET | op::K, u32::MAX),
        stmt(op::RET | op::K, 0),
    ]
}

/// ICMPv6's next header value (IANA protocol numbers).
pub const NH_ICMPV6: u8 = 58;
/// Number of instructions in [`neighbour_discovery_filter`].
pub const ND_PROGRAM_LEN: usize = 15;

/// The home link's filter: Neighbor Discovery (RFC 4861 §4.3–4.4), an IPv6 packet
/// whose hop limit is 255, whose next header is ICMPv6 (no extension header before it)
/// and whose ICMPv6 type is Neighbor Solicitation (135) or Advertisement (136), to any
/// destination (the home addresses' solicited-node groups, the home addresses
/// themselves, all-nodes); and any IPv6 packet to a link-local unicast destination
/// (fe80::/10), which the home agent intercepts for the link-local addresses it
/// proxies and answers with Destination Unreachable (RFC 6275 §10.4.2).
///
/// | # | instruction | meaning |
/// | --- | --- | --- |
/// | 0 | `ldb [0]` | version ‖ traffic class |
/// | 1 | `and #0xf0` | the version nibble |
/// | 2 | `jeq #0x60, 0, drop` | not IPv6 → drop |
/// | 3 | `ldb [24]` | first octet of the destination |
/// | 4 | `jeq #0xfe, 0, nd` | not fe.. → Neighbor Discovery checks |
/// | 5 | `ldb [25]` | second octet of the destination |
/// | 6 | `and #0xc0` | its top two bits |
/// | 7 | `jeq #0x80, accept, nd` | fe80::/10 → accept |
/// | 8 (nd) | `ldb [6]` | next header |
/// | 9 | `jeq #58, 0, drop` | not ICMPv6 → drop |
/// | 10 | `ldb [7]` | hop limit |
/// | 11 | `jeq #255, 0, drop` | from off the link → drop (RFC 4861 §7.1) |
/// | 12 | `ldb [40]` | ICMPv6 type |
/// | 13, 14 | `jeq #135, accept, 0` / `jeq #136, accept, drop` | NS or NA → accept |
pub fn neighbour_discovery_filter() -> [Insn; ND_PROGRAM_LEN + 2] {
    const ND_CHECKS: u8 = 8;
    const ND_ACCEPT: u8 = 15;
    const ND_DROP: u8 = 16;
    let ldb = |k| stmt(op::LD | op::B | op::ABS, k);
    [
        ldb(0),
        stmt(op::ALU | op::AND | op::K, 0xf0),
        jeq(2, 0x60, None, Some(ND_DROP)),
        ldb(24),
        jeq(4, 0xfe, None, Some(ND_CHECKS)),
        ldb(25),
        stmt(op::ALU | op::AND | op::K, 0xc0),
        jeq(7, 0x80, Some(ND_ACCEPT), Some(ND_CHECKS)),
        ldb(6),
        jeq(9, NH_ICMPV6 as u32, None, Some(ND_DROP)),
        ldb(7),
        jeq(11, 255, None, Some(ND_DROP)),
        ldb(40),
        jeq(13, 135, Some(ND_ACCEPT), None),
        jeq(14, 136, Some(ND_ACCEPT), Some(ND_DROP)),
        stmt(op::RET | op::K, u32::MAX),
        stmt(op::RET | op::K, 0),
    ]
}

/// Number of instructions in [`router_discovery_filter`].
pub const RD_PROGRAM_LEN: usize = 12;

/// The mobile node's movement detection filter (RFC 6275 §11.5.1): Router
/// Advertisements (134) and Neighbor Advertisements (136, the answers to its
/// reachability probes of a router, RFC 4861 §7.3.3), IPv6 with hop limit 255 and
/// ICMPv6 right after the IPv6 header.
///
/// | # | instruction | meaning |
/// | --- | --- | --- |
/// | 0 | `ldb [0]` | version ‖ traffic class |
/// | 1 | `and #0xf0` | the version nibble |
/// | 2 | `jeq #0x60, 0, drop` | not IPv6 → drop |
/// | 3 | `ldb [6]` | next header |
/// | 4 | `jeq #58, 0, drop` | not ICMPv6 → drop |
/// | 5 | `ldb [7]` | hop limit |
/// | 6 | `jeq #255, 0, drop` | from off the link → drop (RFC 4861 §6.1.2, §7.1.2) |
/// | 7 | `ldb [40]` | ICMPv6 type |
/// | 8, 9 | `jeq #134, accept, 0` / `jeq #136, accept, drop` | RA or NA → accept |
pub fn router_discovery_filter() -> [Insn; RD_PROGRAM_LEN] {
    const RD_ACCEPT: u8 = 10;
    const RD_DROP: u8 = 11;
    let ldb = |k| stmt(op::LD | op::B | op::ABS, k);
    [
        ldb(0),
        stmt(op::ALU | op::AND | op::K, 0xf0),
        jeq(2, 0x60, None, Some(RD_DROP)),
        ldb(6),
        jeq(4, NH_ICMPV6 as u32, None, Some(RD_DROP)),
        ldb(7),
        jeq(6, 255, None, Some(RD_DROP)),
        ldb(40),
        jeq(8, 134, Some(RD_ACCEPT), None),
        jeq(9, 136, Some(RD_ACCEPT), Some(RD_DROP)),
        stmt(op::RET | op::K, u32::MAX),
        stmt(op::RET | op::K, 0),
    ]
}

/// The program in the form socket2 attaches.
pub(crate) fn to_socket2(prog: &[Insn]) -> Vec<socket2::SockFilter> {
    prog.iter()
        .map(|i| socket2::SockFilter::new(i.code, i.jt, i.jf, i.k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for the opcodes the program uses, with the kernel's rule
    /// that an out-of-range load returns 0 (drop). Returns the accepted length.
    fn run(prog: &[Insn], pkt: &[u8]) -> u32 {
        let mut a: u32 = 0;
        let mut pc = 0usize;
        for _ in 0..64 {
            let i = prog[pc];
            match i.code {
                c if c == op::LD | op::B | op::ABS => match pkt.get(i.k as usize) {
                    Some(&b) => a = b as u32,
                    None => return 0,
                },
                c if c == op::LD | op::W | op::ABS => {
                    let k = i.k as usize;
                    match pkt.get(k..k + 4) {
                        Some(s) => a = u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
                        None => return 0,
                    }
                }
                c if c == op::ALU | op::AND | op::K => a &= i.k,
                c if c == op::JMP | op::JEQ | op::K => {
                    pc += if a == i.k { i.jt } else { i.jf } as usize;
                }
                c if c == op::RET | op::K => return i.k.min(pkt.len() as u32),
                other => panic!("opcode {other:#x} not modelled"),
            }
            pc += 1;
        }
        panic!("program did not return");
    }

    const LOCAL: &str = "2001:db8:1::1";

    /// IPv6 header (RFC 8200 §3) with next header `nh`, src 2001:db8:2::2, dst `dst`,
    /// followed by `rest`.
    fn ipv6(nh: u8, dst: &str, rest: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
        p.extend_from_slice(&[nh, 64]);
        p.extend_from_slice(&"2001:db8:2::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(rest);
        p
    }

    /// DestOpts (next 50 = ESP, len 2) with PadN(4) and a Home Address option (type 0xC9,
    /// length 16, RFC 6275 §6.3, alignment 8n+6), then an 8-octet ESP stub (SPI, seq).
    fn bu() -> Vec<u8> {
        let mut e = vec![50, 2, 1, 2, 0, 0, 0xc9, 16];
        e.extend_from_slice(&"2001:db8:1::100".parse::<Ipv6Addr>().unwrap().octets());
        e.extend_from_slice(&[0, 0, 0x10, 0x01, 0, 0, 0, 1]);
        ipv6(60, LOCAL, &e)
    }

    /// RH2 (next 50, len 2, type 2, segments left 1, reserved, HoA, RFC 6275 §6.4) + ESP stub.
    fn ba(rtype: u8) -> Vec<u8> {
        let mut e = vec![50, 2, rtype, 1, 0, 0, 0, 0];
        e.extend_from_slice(&"2001:db8:1::100".parse::<Ipv6Addr>().unwrap().octets());
        e.extend_from_slice(&[0, 0, 0x10, 0x02, 0, 0, 0, 1]);
        ipv6(43, LOCAL, &e)
    }

    fn prog() -> [Insn; PROGRAM_LEN] {
        signalling_filter(LOCAL.parse().unwrap())
    }

    #[test]
    fn the_neighbour_discovery_filter_passes_ns_and_na_with_hop_limit_255_only() {
        let prog = neighbour_discovery_filter();
        let mut p = vec![0u8; 72];
        p[0] = 0x60;
        p[6] = NH_ICMPV6;
        p[7] = 255;
        for (icmp_type, pass) in [
            (135, true),
            (136, true),
            (134, false),
            (128, false),
            (1, false),
        ] {
            p[40] = icmp_type;
            assert_eq!(run(&prog, &p) == 72, pass, "type {icmp_type}");
        }
        p[40] = 135;
        p[7] = 254;
        assert_eq!(run(&prog, &p), 0, "hop limit 254");
        p[7] = 255;
        p[6] = NH_DEST_OPTS;
        assert_eq!(run(&prog, &p), 0, "behind an extension header");
        p[6] = NH_ICMPV6;
        p[0] = 0x45;
        assert_eq!(run(&prog, &p), 0, "IPv4");
        p[0] = 0x60;
        for len in 0..41 {
            assert_eq!(run(&prog, &p[..len]), 0, "{len} octets");
        }
    }

    #[test]
    fn the_router_discovery_filter_passes_ra_and_na_with_hop_limit_255_only() {
        let prog = router_discovery_filter();
        let mut p = vec![0u8; 64];
        p[0] = 0x60;
        p[6] = NH_ICMPV6;
        p[7] = 255;
        for (icmp_type, pass) in [
            (134, true),
            (136, true),
            (133, false),
            (135, false),
            (128, false),
        ] {
            p[40] = icmp_type;
            assert_eq!(run(&prog, &p) == 64, pass, "type {icmp_type}");
        }
        p[40] = 134;
        p[7] = 64;
        assert_eq!(run(&prog, &p), 0, "hop limit 64");
        p[7] = 255;
        p[6] = NH_DEST_OPTS;
        assert_eq!(run(&prog, &p), 0, "behind an extension header");
        p[6] = NH_ICMPV6;
        p[0] = 0x45;
        assert_eq!(run(&prog, &p), 0, "IPv4");
        p[0] = 0x60;
        for len in 0..41 {
            assert_eq!(run(&prog, &p[..len]), 0, "{len} octets");
        }
    }

    #[test]
    fn the_home_link_filter_also_passes_any_packet_to_a_link_local_unicast_address() {
        let prog = neighbour_discovery_filter();
        let mut p = vec![0u8; 80];
        p[0] = 0x60;
        p[6] = 17;
        p[7] = 64;
        for (dst, pass) in [
            ("fe80::1", true),
            ("febf::1", true),
            ("fec0::1", false),
            ("fe00::1", false),
            ("ff02::1", false),
            ("2001:db8:1::100", false),
        ] {
            let dst: Ipv6Addr = dst.parse().unwrap();
            p[24..40].copy_from_slice(&dst.octets());
            assert_eq!(run(&prog, &p) == 80, pass, "UDP to {dst}");
        }
        // Neighbor Discovery to any destination still passes with hop limit 255.
        p[24..40].copy_from_slice(&"ff02::1:ff00:100".parse::<Ipv6Addr>().unwrap().octets());
        p[6] = NH_ICMPV6;
        p[7] = 255;
        p[40] = 135;
        assert_eq!(run(&prog, &p), 80);
        p[0] = 0x45;
        p[24] = 0xfe;
        p[25] = 0x80;
        assert_eq!(run(&prog, &p), 0, "IPv4");
    }

    #[test]
    fn passes_bu_ba_and_tunnel_frames_whole() {
        let p = prog();
        let bu = bu();
        assert_eq!(run(&p, &bu), bu.len() as u32);
        let ba = ba(2);
        assert_eq!(run(&p, &ba), ba.len() as u32);
        let esp = ipv6(50, LOCAL, &[0, 0, 0x10, 1, 0, 0, 0, 1]);
        assert_eq!(run(&p, &esp), esp.len() as u32);
        // An unprotected Mobility Header (RFC 6275 §9.2: answered by the engine).
        let mh = ipv6(
            135,
            LOCAL,
            &[59, 1, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(run(&p, &mh), mh.len() as u32);
        assert_eq!(run(&p, &ipv6(135, "2001:db8:1::2", &[59, 0, 0, 0])), 0);
    }

    #[test]
    fn drops_plain_traffic_other_routing_types_and_other_destinations() {
        let p = prog();
        // UDP 8-octet header, ICMPv6 echo request, a fragment of an ESP packet (the
        // kernel reassembles those for raw_recv), ESP to another address.
        assert_eq!(run(&p, &ipv6(17, LOCAL, &[0, 1, 0, 2, 0, 8, 0, 0])), 0);
        assert_eq!(run(&p, &ipv6(58, LOCAL, &[128, 0, 0, 0, 0, 1, 0, 1])), 0);
        assert_eq!(run(&p, &ipv6(44, LOCAL, &[50, 0, 0, 1, 0, 0, 0, 7])), 0);
        assert_eq!(
            run(&p, &ipv6(50, "2001:db8:1::2", &[0, 0, 0x10, 1, 0, 0, 0, 1])),
            0
        );
        // Routing header type 0 and type 3 (RPL): not ours.
        assert_eq!(run(&p, &ba(0)), 0);
        assert_eq!(run(&p, &ba(3)), 0);
        // Same BU to another address, each word of the address differing in turn.
        for other in [
            "2001:db9:1::1",
            "2001:db8:1:1::1",
            "2001:db8:1::1:0:1",
            "2001:db8:1::2",
        ] {
            let mut f = bu();
            f[24..40].copy_from_slice(&other.parse::<Ipv6Addr>().unwrap().octets());
            assert_eq!(run(&p, &f), 0, "{other}");
        }
        // Version 4 in the first nibble.
        let mut f = bu();
        f[0] = 0x45;
        assert_eq!(run(&p, &f), 0);
    }

    #[test]
    fn traffic_class_bits_do_not_matter() {
        let mut f = bu();
        f[0] = 0x6f;
        f[1] = 0xff;
        assert_eq!(run(&prog(), &f), f.len() as u32);
    }

    #[test]
    fn every_truncation_is_dropped_before_the_deciding_octet() {
        let p = prog();
        let bu = bu();
        // A DestOpts frame is decided at octet 39 (the last destination octet).
        for len in 0..40 {
            assert_eq!(run(&p, &bu[..len]), 0, "bu truncated to {len}");
        }
        assert_eq!(run(&p, &bu[..40]), 40);
        // An RH frame needs octet 42 (routing type).
        let ba = ba(2);
        for len in 0..43 {
            assert_eq!(run(&p, &ba[..len]), 0, "ba truncated to {len}");
        }
        assert_eq!(run(&p, &ba[..43]), 43);
    }

    fn prefix_prog() -> [Insn; PREFIX64_PROGRAM_LEN] {
        prefix64_filter("2001:db8:1::".parse().unwrap())
    }

    #[test]
    fn the_prefix_filter_passes_signalling_and_tunnel_frames_to_any_address_of_the_prefix() {
        let p = prefix_prog();
        for dst in [
            LOCAL,
            "2001:db8:1::2",
            "2001:db8:1:0:ffff:ffff:ffff:ffff",
            "2001:db8:1::",
        ] {
            let mut f = bu();
            f[24..40].copy_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
            assert_eq!(run(&p, &f), f.len() as u32, "BU to {dst}");
            let mut f = ba(2);
            f[24..40].copy_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
            assert_eq!(run(&p, &f), f.len() as u32, "BA to {dst}");
            let esp = ipv6(50, dst, &[0, 0, 0x10, 1, 0, 0, 0, 1]);
            assert_eq!(run(&p, &esp), esp.len() as u32, "ESP to {dst}");
            let mh = ipv6(135, dst, &[59, 1, 42, 0, 0, 0, 0, 0]);
            assert_eq!(run(&p, &mh), mh.len() as u32, "MH to {dst}");
        }
    }

    #[test]
    fn the_prefix_filter_drops_other_prefixes_protocols_and_routing_types() {
        let p = prefix_prog();
        // Each of the prefix's four 16-bit words differing in turn.
        for other in [
            "2001:db9:1::1",
            "2002:db8:1::1",
            "2001:db8:2::1",
            "2001:db8:1:1::1",
        ] {
            let esp = ipv6(50, other, &[0, 0, 0x10, 1, 0, 0, 0, 1]);
            assert_eq!(run(&p, &esp), 0, "{other}");
        }
        assert_eq!(run(&p, &ipv6(17, LOCAL, &[0, 1, 0, 2, 0, 8, 0, 0])), 0);
        assert_eq!(run(&p, &ipv6(58, LOCAL, &[128, 0, 0, 0, 0, 1, 0, 1])), 0);
        assert_eq!(run(&p, &ipv6(44, LOCAL, &[50, 0, 0, 1, 0, 0, 0, 7])), 0);
        assert_eq!(run(&p, &ba(0)), 0);
        assert_eq!(run(&p, &ba(3)), 0);
        let mut f = ba(2);
        f[0] = 0x45;
        assert_eq!(run(&p, &f), 0, "IPv4");
    }

    #[test]
    fn the_prefix_filter_drops_every_truncation_before_the_deciding_octet() {
        let p = prefix_prog();
        let bu = bu();
        // A BU is decided at octet 31 (the prefix's last octet), a BA at 42 (routing
        // type); anything shorter is dropped. A frame that passes cut short is the
        // engine's to drop.
        for len in 0..32 {
            assert_eq!(run(&p, &bu[..len]), 0, "bu truncated to {len}");
        }
        let ba = ba(2);
        for len in 0..43 {
            assert_eq!(run(&p, &ba[..len]), 0, "ba truncated to {len}");
        }
        assert_eq!(run(&p, &ba[..43]), 43);
    }

    #[test]
    fn the_prefix_filter_jumps_stay_inside_the_program() {
        let prog = prefix_prog();
        for (i, insn) in prog.iter().enumerate() {
            if insn.code == op::JMP | op::JEQ | op::K {
                assert!(
                    i + 1 + (insn.jt as usize) < PREFIX64_PROGRAM_LEN,
                    "jt at {i}"
                );
                assert!(
                    i + 1 + (insn.jf as usize) < PREFIX64_PROGRAM_LEN,
                    "jf at {i}"
                );
            }
        }
        assert_eq!(prog[PREFIX64_ACCEPT as usize].k, u32::MAX);
        assert_eq!(prog[PREFIX64_DROP as usize].k, 0);
    }

    #[test]
    fn jumps_stay_inside_the_program() {
        for (i, insn) in prog().iter().enumerate() {
            if insn.code == op::JMP | op::JEQ | op::K {
                assert!(i + 1 + (insn.jt as usize) < PROGRAM_LEN, "jt at {i}");
                assert!(i + 1 + (insn.jf as usize) < PROGRAM_LEN, "jf at {i}");
            }
        }
        assert_eq!(prog()[ACCEPT as usize].k, u32::MAX);
        assert_eq!(prog()[DROP as usize].k, 0);
        assert_eq!(to_socket2(&prog()).len(), PROGRAM_LEN);
    }
}
