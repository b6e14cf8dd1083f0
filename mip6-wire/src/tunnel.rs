//! IPv6-in-IPv6 tunnelling (RFC 2473), as the home agent and the mobile node
//! use it for data (RFC 6275 §10.4.5, §11.3.1), bare or inside ESP tunnel
//! mode (RFC 4303 §3.1.2, Next Header 41).
//!
//! **Entry point** ([`Tunnel::encapsulate_in_place`]): the caller leaves
//! [`HEADROOM`] (40) octets in front of the inner packet and the outer IPv6
//! header is written there, so the inner packet is neither copied nor
//! allocated. Hop limits (RFC 2473 §3.1, §6.3): the outer Hop Limit is the
//! tunnel's configured one ([`DEFAULT_HOP_LIMIT`], 64, unless set); the
//! inner packet, when the entry point *forwards* it into the tunnel
//! ([`InnerOrigin::Forwarded`], e.g. the HA tunnelling a correspondent's
//! packet to the MN), has its Hop Limit decremented by one as any forwarding
//! node does, and a packet whose Hop Limit would reach zero is refused with
//! [`Error::HopLimitExceeded`], which the driver turns into an ICMPv6 Time
//! Exceeded (RFC 4443 §3.3, code 0) to the inner source. A packet the entry
//! point originates itself ([`InnerOrigin::Local`], e.g. the MN
//! reverse-tunnelling its own packet) is left unchanged. The outer Traffic
//! Class is configured or copied from the inner packet (RFC 2473 §6.5), the
//! outer Flow Label configured (default 0).
//!
//! **Exit point** ([`decapsulate`]): the outer header chain is walked with
//! [`crate::ext::chain::walk`] (extension headers are allowed before the
//! inner packet), the final header must be IPv6 (41), and the inner packet
//! must be a valid IPv6 header whose Payload Length fits what the outer
//! packet carries; the inner packet's range is returned. Decapsulation does
//! not change the inner Hop Limit (RFC 2473 §3.3: the exit point removes the
//! tunnel header; the original packet is then processed as if received). If
//! the exit point then *forwards* the inner packet (the HA sending a
//! reverse-tunnelled packet on to a correspondent), that forwarding is an
//! ordinary hop and the driver decrements with [`decrement_hop_limit`].
//! Checking that the outer source is the mobile node's registered care-of
//! address and the inner source its home address (RFC 6275 §10.4.5) is the
//! engine's job: [`Decapsulated`] gives both.
//!
//! **ESP tunnel mode**: the ESP payload is the inner packet, Next Header 41.
//! The sender prepares the inner packet with [`prepare_inner`] (same hop-limit
//! rule as above) before sealing; the receiver hands the opened payload to
//! [`validate_inner`], which gives the inner packet's length, so any TFC
//! padding after it (RFC 4303 §2.7) is left out.
//!
//! Not supported: the Tunnel Encapsulation Limit option (RFC 2473 §4.1.1;
//! it is skipped like any option with action bits 00 when walking), tunnel
//! MTU handling and fragmentation of tunnel packets (RFC 2473 §7: the driver
//! sizes the TUN MTU so it never has to), IPv4 inner packets, ECN
//! combination on decapsulation (RFC 6040).

use core::net::Ipv6Addr;
use core::ops::Range;

use crate::error::{Layer, LenError};
use crate::ext::chain::{self, Chain};
use crate::ext::ipv6::{self, NextHeader, Packet as Ipv6Packet, Repr as Ipv6Repr, HEADER_LEN};

/// Octets the caller leaves in front of the inner packet for the outer IPv6
/// header.
pub const HEADROOM: usize = HEADER_LEN;

/// Default Hop Limit of the outer header (RFC 2473 §6.3 says to use the
/// node's default, which for us is 64, the IANA-recommended default).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// Offset of the Hop Limit field in an IPv6 header (RFC 8200 §3).
const HOP_LIMIT_FIELD: usize = 7;

/// Errors of IPv6-in-IPv6 encapsulation and decapsulation (layer
/// [`Layer::Tunnel`], or the layer of the inner error). Offsets count from
/// the start of the buffer handed to the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The outer packet's header chain is bad.
    #[error("outer packet: {0}")]
    Outer(#[source] chain::Error),
    /// The inner packet's IPv6 header is bad or longer than what carries it.
    #[error("inner packet: {0}")]
    Inner(#[source] ipv6::Error),
    /// The outer packet's final header is not IPv6 (41).
    #[error("not an IPv6-in-IPv6 packet: final header {next_header} at offset {offset}")]
    NotTunnel {
        /// Offset of that final header.
        offset: usize,
        /// What it is.
        next_header: NextHeader,
    },
    /// Forwarding the inner packet would take its Hop Limit to zero: drop it
    /// and send ICMPv6 Time Exceeded, code 0 (RFC 2473 §3.1, RFC 4443 §3.3).
    #[error("inner Hop Limit {hop_limit} at offset {offset}: cannot forward into the tunnel")]
    HopLimitExceeded {
        /// Offset of the inner Hop Limit field.
        offset: usize,
        /// Its value.
        hop_limit: u8,
    },
    /// The buffer has no room for the outer header.
    #[error(transparent)]
    Headroom(LenError),
    /// The inner packet is too long for the outer Payload Length (65535).
    #[error("inner packet of {length} octets does not fit an IPv6 payload")]
    TooLong {
        /// Inner packet length.
        length: usize,
    },
}

impl Error {
    /// The layer the error belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            Error::Outer(e) => e.layer(),
            Error::Inner(e) => e.layer(),
            Error::Headroom(e) => e.layer,
            Error::NotTunnel { .. } | Error::HopLimitExceeded { .. } | Error::TooLong { .. } => {
                Layer::Tunnel
            }
        }
    }

    /// Offset of the offending octet in the buffer given.
    pub fn offset(&self) -> usize {
        match self {
            Error::Outer(e) => e.offset(),
            Error::Inner(e) => e.offset(),
            Error::Headroom(e) => e.offset,
            Error::NotTunnel { offset, .. } | Error::HopLimitExceeded { offset, .. } => *offset,
            Error::TooLong { .. } => 0,
        }
    }

    /// The same error, `by` octets further into an enclosing buffer (the
    /// outer chain's errors are left alone: they already count from the
    /// packet start, which is where an enclosing buffer would put them).
    #[must_use]
    pub fn shifted(self, by: usize) -> Self {
        match self {
            Error::Inner(e) => Error::Inner(e.shifted(by)),
            Error::Headroom(e) => Error::Headroom(e.shifted(by)),
            Error::NotTunnel {
                offset,
                next_header,
            } => Error::NotTunnel {
                offset: offset + by,
                next_header,
            },
            Error::HopLimitExceeded { offset, hop_limit } => Error::HopLimitExceeded {
                offset: offset + by,
                hop_limit,
            },
            e => e,
        }
    }
}

/// Who puts the inner packet into the tunnel (RFC 2473 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InnerOrigin {
    /// The entry point forwards a packet it received: its Hop Limit is
    /// decremented, and it is refused if that would make it zero.
    Forwarded,
    /// The entry point originated the packet: its Hop Limit is left alone.
    Local,
}

/// An inner packet found valid: its header and its length (header +
/// Payload Length), which may be less than the slice it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InnerPacket {
    /// The inner IPv6 header.
    pub header: Ipv6Repr,
    /// Octets of the inner packet: 40 + its Payload Length.
    pub len: usize,
}

/// Checks that `inner` starts with a valid IPv6 packet (version 6, Payload
/// Length within `inner`), e.g. an opened ESP tunnel-mode payload. Offsets in
/// errors are relative to `inner`.
pub fn validate_inner(inner: &[u8]) -> Result<InnerPacket, Error> {
    let p = Ipv6Packet::new_checked(inner).map_err(Error::Inner)?;
    let header = Ipv6Repr::parse(&p).map_err(Error::Inner)?;
    Ok(InnerPacket {
        header,
        len: p.packet().len(),
    })
}

/// Decrements the Hop Limit of the IPv6 packet at the start of `packet` as a
/// forwarding node does (RFC 8200 §3), refusing with
/// [`Error::HopLimitExceeded`] when it is 0 or 1 (it would reach zero).
/// Returns the new Hop Limit. Only the fixed header is checked.
pub fn decrement_hop_limit(packet: &mut [u8]) -> Result<u8, Error> {
    let Some(hl) = packet.get_mut(HOP_LIMIT_FIELD) else {
        return Err(Error::Inner(ipv6::Error::Len(LenError::fixed(
            Layer::Ipv6,
            0,
            HEADER_LEN,
            packet.len(),
        ))));
    };
    if *hl <= 1 {
        return Err(Error::HopLimitExceeded {
            offset: HOP_LIMIT_FIELD,
            hop_limit: *hl,
        });
    }
    *hl -= 1;
    Ok(*hl)
}

/// Validates an inner packet and applies the entry point's hop-limit rule
/// for `origin` (see [`InnerOrigin`]); for ESP tunnel mode, before sealing.
/// On error the packet is unchanged. Returns the inner packet as it now is.
pub fn prepare_inner(inner: &mut [u8], origin: InnerOrigin) -> Result<InnerPacket, Error> {
    let mut found = validate_inner(inner)?;
    if origin == InnerOrigin::Forwarded {
        found.header.hop_limit = decrement_hop_limit(inner)?;
    }
    Ok(found)
}

/// Configuration of one tunnel's entry point (RFC 2473 §6: tunnel state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// Entry-point address: the outer source.
    pub entry_point: Ipv6Addr,
    /// Exit-point address: the outer destination.
    pub exit_point: Ipv6Addr,
    /// Outer Hop Limit (RFC 2473 §6.3).
    pub hop_limit: u8,
    /// Outer Traffic Class; `None` copies the inner packet's (RFC 2473 §6.5).
    pub traffic_class: Option<u8>,
    /// Outer Flow Label (RFC 2473 §6.6; low 20 bits).
    pub flow_label: u32,
}

impl Tunnel {
    /// A tunnel from `entry_point` to `exit_point` with Hop Limit
    /// [`DEFAULT_HOP_LIMIT`], Traffic Class copied, Flow Label 0.
    pub const fn new(entry_point: Ipv6Addr, exit_point: Ipv6Addr) -> Self {
        Tunnel {
            entry_point,
            exit_point,
            hop_limit: DEFAULT_HOP_LIMIT,
            traffic_class: None,
            flow_label: 0,
        }
    }

    /// Encapsulates in place. `buf` holds [`HEADROOM`] octets (any content),
    /// then the inner IPv6 packet; octets after the inner packet's Payload
    /// Length are ignored. Writes the outer header (Next Header 41) into the
    /// headroom, applies the hop-limit rule for `origin` to the inner packet,
    /// and returns the tunnel packet's length (`HEADROOM` + inner length):
    /// send `buf[..n]`. On error `buf` is unchanged. Offsets in errors count
    /// from the start of `buf`.
    pub fn encapsulate_in_place(
        &self,
        buf: &mut [u8],
        origin: InnerOrigin,
    ) -> Result<usize, Error> {
        if buf.len() < HEADROOM {
            return Err(Error::Headroom(LenError::fixed(
                Layer::Tunnel,
                0,
                HEADROOM,
                buf.len(),
            )));
        }
        let (outer, inner) = buf.split_at_mut(HEADROOM);
        let found = validate_inner(inner).map_err(|e| e.shifted(HEADROOM))?;
        let payload_len =
            u16::try_from(found.len).map_err(|_| Error::TooLong { length: found.len })?;
        let header = prepare_inner(inner, origin)
            .map_err(|e| e.shifted(HEADROOM))?
            .header;
        Ipv6Repr {
            src_addr: self.entry_point,
            dst_addr: self.exit_point,
            next_header: NextHeader::IPV6,
            payload_len,
            hop_limit: self.hop_limit,
            traffic_class: self.traffic_class.unwrap_or(header.traffic_class),
            flow_label: self.flow_label,
        }
        .emit(&mut Ipv6Packet::new_unchecked(outer));
        Ok(HEADROOM + found.len)
    }
}

/// A decapsulated tunnel packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decapsulated {
    /// The outer header chain (outer source and destination, extension
    /// headers found).
    pub outer: Chain,
    /// Where the inner packet lies in the buffer given to [`decapsulate`].
    pub inner: Range<usize>,
    /// The inner IPv6 header, Hop Limit as received.
    pub inner_header: Ipv6Repr,
}

/// Decapsulates an IPv6-in-IPv6 packet: walks the outer chain, requires the
/// final header to be IPv6 (41) and a valid inner IPv6 packet that fits the
/// outer payload. The inner packet is not modified (see the module doc).
pub fn decapsulate(packet: &[u8]) -> Result<Decapsulated, Error> {
    let outer = chain::walk(packet).map_err(Error::Outer)?;
    if outer.final_header != NextHeader::IPV6 {
        return Err(Error::NotTunnel {
            offset: outer.final_offset,
            next_header: outer.final_header,
        });
    }
    let carried = packet.get(outer.payload_range()).unwrap_or(&[]);
    let found = validate_inner(carried).map_err(|e| e.shifted(outer.final_offset))?;
    let start = outer.final_offset;
    Ok(Decapsulated {
        outer,
        inner: start..start + found.len,
        inner_header: found.header,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::chain::ChainRepr;
    use proptest::prelude::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// Inner packet CN -> HoA: IPv6 (RFC 8200 §3) with traffic class 0x28,
    /// hop limit 63, next header 59, 4 payload octets.
    fn inner() -> Vec<u8> {
        let mut v = vec![0x62, 0x80, 0, 0, 0, 4, 59, 63];
        v.extend_from_slice(&a("2001:db8:4::4").octets());
        v.extend_from_slice(&a("2001:db8:1::100").octets());
        v.extend_from_slice(&[1, 2, 3, 4]);
        v
    }

    fn tunnel() -> Tunnel {
        Tunnel::new(a("2001:db8:1::1"), a("2001:db8:2::100"))
    }

    /// Expected tunnel packet, hand-built from RFC 2473 §3.1 / §5: outer
    /// IPv6 HA -> CoA, traffic class copied (0x28), payload length 44, next
    /// header 41, hop limit 64; then the inner packet with hop limit 62.
    fn expected() -> Vec<u8> {
        let mut v = vec![0x62, 0x80, 0, 0, 0, 44, 41, 64];
        v.extend_from_slice(&a("2001:db8:1::1").octets());
        v.extend_from_slice(&a("2001:db8:2::100").octets());
        let mut i = inner();
        i[7] = 62;
        v.extend_from_slice(&i);
        v
    }

    #[test]
    fn encapsulate_forwarded() {
        let mut buf = vec![0xFFu8; HEADROOM];
        buf.extend_from_slice(&inner());
        buf.extend_from_slice(&[0xEE; 3]); // slack after the inner packet
        let n = tunnel()
            .encapsulate_in_place(&mut buf, InnerOrigin::Forwarded)
            .unwrap();
        assert_eq!(n, 84);
        assert_eq!(&buf[..n], &expected()[..]);
        assert_eq!(&buf[n..], &[0xEE; 3]);
    }

    #[test]
    fn encapsulate_local_keeps_hop_limit_and_config() {
        let t = Tunnel {
            hop_limit: 9,
            traffic_class: Some(0),
            flow_label: 0xABCDE,
            ..tunnel()
        };
        let mut buf = vec![0u8; HEADROOM];
        buf.extend_from_slice(&inner());
        let n = t
            .encapsulate_in_place(&mut buf, InnerOrigin::Local)
            .unwrap();
        assert_eq!(&buf[HEADROOM..n], &inner()[..]);
        let o = Ipv6Repr::parse(&Ipv6Packet::new_checked(&buf[..n]).unwrap()).unwrap();
        assert_eq!(
            (o.hop_limit, o.traffic_class, o.flow_label),
            (9, 0, 0xABCDE)
        );
    }

    #[test]
    fn hop_limit_exceeded() {
        for hl in [0u8, 1] {
            let mut buf = vec![0u8; HEADROOM];
            buf.extend_from_slice(&inner());
            buf[HEADROOM + 7] = hl;
            let before = buf.clone();
            let e = tunnel()
                .encapsulate_in_place(&mut buf, InnerOrigin::Forwarded)
                .unwrap_err();
            assert_eq!(
                e,
                Error::HopLimitExceeded {
                    offset: 47,
                    hop_limit: hl
                }
            );
            assert_eq!(e.layer(), Layer::Tunnel);
            assert_eq!(buf, before, "unchanged on error");
        }
        let mut i = inner();
        i[7] = 2;
        assert_eq!(decrement_hop_limit(&mut i), Ok(1));
        assert!(decrement_hop_limit(&mut i).is_err());
    }

    #[test]
    fn encapsulate_truncations() {
        let full = {
            let mut b = vec![0u8; HEADROOM];
            b.extend_from_slice(&inner());
            b
        };
        for len in 0..full.len() {
            let mut b = full[..len].to_vec();
            let e = tunnel()
                .encapsulate_in_place(&mut b, InnerOrigin::Forwarded)
                .unwrap_err();
            if len < HEADROOM {
                assert_eq!(
                    e,
                    Error::Headroom(LenError::fixed(Layer::Tunnel, 0, 40, len))
                );
            } else {
                let Error::Inner(ipv6::Error::Len(l)) = e else {
                    panic!("{e:?}")
                };
                assert_eq!((l.offset, l.actual), (40, len - 40));
            }
            assert_eq!(&b[..], &full[..len], "unchanged on error");
        }
    }

    #[test]
    fn decapsulate_plain() {
        let p = expected();
        let d = decapsulate(&p).unwrap();
        assert_eq!(d.inner, 40..84);
        assert_eq!(d.inner_header.hop_limit, 62, "not changed by decapsulation");
        assert_eq!(d.inner_header.dst_addr, a("2001:db8:1::100"));
        assert_eq!(d.outer.ipv6.src_addr, a("2001:db8:1::1"));
    }

    /// Outer packet with a Destination Options header (HoA) before the
    /// inner packet: `IPv6 | DestOpts | IPv6 | ...`.
    #[test]
    fn decapsulate_after_extension_header() {
        let r = ChainRepr {
            src_addr: a("2001:db8:2::100"),
            dst_addr: a("2001:db8:1::1"),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
            rh2: None,
            home_address: Some(a("2001:db8:1::100")),
            next_header: NextHeader::IPV6,
            payload_len: 44,
        };
        let mut p = vec![0u8; r.buffer_len()];
        r.emit(&mut p).unwrap();
        p.extend_from_slice(&inner());
        let d = decapsulate(&p).unwrap();
        assert_eq!(d.inner, 64..108);
        assert_eq!(d.outer.home_address, Some(a("2001:db8:1::100")));
        assert_eq!(&p[d.inner.clone()], &inner()[..]);
    }

    #[test]
    fn decapsulate_errors() {
        let p = expected();
        // Every truncation of the buffer: the outer header says more.
        for len in 0..p.len() {
            let e = decapsulate(&p[..len]).unwrap_err();
            assert!(matches!(e, Error::Outer(_)), "{len}: {e:?}");
        }
        // Outer payload length cut inside the inner packet.
        for plen in 0..44u16 {
            let mut q = p.clone();
            q[4..6].copy_from_slice(&plen.to_be_bytes());
            let e = decapsulate(&q).unwrap_err();
            let Error::Inner(ipv6::Error::Len(l)) = e else {
                panic!("{plen}: {e:?}")
            };
            assert_eq!((l.offset, l.actual), (40, usize::from(plen)));
        }
        // Not 41.
        let mut q = p.clone();
        q[6] = 59;
        assert_eq!(
            decapsulate(&q).unwrap_err(),
            Error::NotTunnel {
                offset: 40,
                next_header: NextHeader::NO_NEXT_HEADER
            }
        );
        // Inner version 4.
        let mut q = p.clone();
        q[40] = 0x45;
        assert_eq!(
            decapsulate(&q).unwrap_err(),
            Error::Inner(ipv6::Error::Version {
                offset: 40,
                version: 4
            })
        );
    }

    #[test]
    fn inner_too_long_for_outer() {
        // Inner packet of 40 + 65535 octets: one more than an outer payload holds.
        let mut buf = vec![0u8; HEADROOM + HEADER_LEN + 65535];
        buf[HEADROOM..HEADROOM + HEADER_LEN].copy_from_slice(&inner()[..HEADER_LEN]);
        buf[HEADROOM + 4..HEADROOM + 6].copy_from_slice(&[0xFF, 0xFF]);
        let before = buf[HEADROOM + 7];
        assert_eq!(
            tunnel()
                .encapsulate_in_place(&mut buf, InnerOrigin::Forwarded)
                .unwrap_err(),
            Error::TooLong { length: 65575 }
        );
        assert_eq!(buf[HEADROOM + 7], before, "hop limit untouched on error");
    }

    #[test]
    fn errors_explain_themselves() {
        let mut p = expected();
        p[4..6].copy_from_slice(&10u16.to_be_bytes());
        let e = decapsulate(&p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "inner packet: IPv6 header at offset 40: needs 40 octets, only 10 present"
        );
        assert_eq!((e.layer(), e.offset()), (Layer::Ipv6, 40));
    }

    #[test]
    fn esp_tunnel_mode_helpers() {
        // Opened ESP payload: inner packet then 4 octets of TFC padding.
        let mut payload = inner();
        payload.extend_from_slice(&[0; 4]);
        let found = validate_inner(&payload).unwrap();
        assert_eq!(found.len, 44);
        assert_eq!(found.header.hop_limit, 63);
        let found = prepare_inner(&mut payload, InnerOrigin::Forwarded).unwrap();
        assert_eq!(found.header.hop_limit, 62);
        assert_eq!(payload[7], 62);
        assert!(validate_inner(&payload[..43]).is_err());
    }

    fn arb_inner() -> impl Strategy<Value = Vec<u8>> {
        (
            crate::ext::ipv6::tests::arb_repr(),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(mut r, payload)| {
                r.payload_len = u16::try_from(payload.len()).unwrap();
                let mut v = vec![0u8; HEADER_LEN];
                r.emit(&mut Ipv6Packet::new_unchecked(&mut v[..]));
                v.extend_from_slice(&payload);
                v
            })
    }

    proptest! {
        #[test]
        fn encap_decap_round_trip(inner in arb_inner(), forwarded in any::<bool>(),
                                  src in crate::ext::ipv6::tests::arb_addr(),
                                  dst in crate::ext::ipv6::tests::arb_addr()) {
            let t = Tunnel::new(src, dst);
            let origin = if forwarded { InnerOrigin::Forwarded } else { InnerOrigin::Local };
            let mut buf = vec![0xFFu8; HEADROOM];
            buf.extend_from_slice(&inner);
            let hl = inner[7];
            match t.encapsulate_in_place(&mut buf, origin) {
                Err(Error::HopLimitExceeded { hop_limit, .. }) => {
                    prop_assert!(forwarded && hl <= 1);
                    prop_assert_eq!(hop_limit, hl);
                }
                Err(e) => prop_assert!(false, "{:?}", e),
                Ok(n) => {
                    prop_assert_eq!(n, HEADROOM + inner.len());
                    let d = decapsulate(&buf[..n]).unwrap();
                    prop_assert_eq!(d.inner.clone(), HEADROOM..n);
                    prop_assert_eq!(d.outer.ipv6.src_addr, src);
                    prop_assert_eq!(d.outer.ipv6.dst_addr, dst);
                    prop_assert_eq!(d.outer.ipv6.hop_limit, DEFAULT_HOP_LIMIT);
                    let want_hl = if forwarded { hl - 1 } else { hl };
                    prop_assert_eq!(d.inner_header.hop_limit, want_hl);
                    let mut want = inner.clone();
                    want[7] = want_hl;
                    prop_assert_eq!(&buf[d.inner], &want[..]);
                }
            }
        }

        #[test]
        fn decapsulate_never_panics(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decapsulate(&b);
            let _ = validate_inner(&b);
        }
    }
}
