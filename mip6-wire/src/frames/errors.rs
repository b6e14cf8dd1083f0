//! The home agent's answers to packets it cannot process, all unprotected (RFC 6275
//! §9.3.3 sends a Binding Error without IPsec; RFC 4443 errors never carry it):
//!
//! | frame | layout | RFC |
//! | --- | --- | --- |
//! | Binding Error | `IPv6(src=HA, dst=offending source) \| MH(BE)` | RFC 6275 §6.1.9, §9.3.3 |
//! | Parameter Problem | `IPv6(src=HA, dst=offending source) \| ICMPv6(4, code, pointer) \| invoking packet` | RFC 4443 §3.4, RFC 6275 §9.2 |
//! | Destination Unreachable | `IPv6(src=HA, dst=offending source) \| ICMPv6(1, code) \| invoking packet` | RFC 4443 §3.1, RFC 6275 §10.4.2 |
//! | Echo Reply to a node away | `IPv6(src=HA, dst=CoA) \| RH2(HoA) \| ICMPv6(129)` | RFC 4443 §4.2, RFC 6275 §9.3.2 |
//!
//! An ICMPv6 error carries "as much of invoking packet as possible without the
//! ICMPv6 packet exceeding the minimum IPv6 MTU" (RFC 4443 §2.4 (c)): the whole
//! frame stays within 1280 octets. The Echo Reply's checksum covers the home address
//! as destination, the final destination behind the type 2 routing header (RFC 8200
//! §8.1).
//!
//! Not supported: the Binding Error's mobility options (none is defined for it).

use std::net::Ipv6Addr;

use etherparse::{icmpv6::ParameterProblemHeader, IcmpEchoHeader, Icmpv6Header, Icmpv6Type};

use crate::ext::{ChainRepr, NextHeader};
use crate::mh::{self, BeStatus, BindingErrorRepr, Message};

use super::DEFAULT_HOP_LIMIT;

/// The minimum IPv6 MTU (RFC 8200 §5): no ICMPv6 error frame is longer.
pub const MINIMUM_MTU: usize = 1280;

/// A Binding Error (RFC 6275 §6.1.9) from `source` to `destination`, naming
/// `home_address` (the unspecified address when there is none to name).
pub fn binding_error(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    status: BeStatus,
    home_address: Ipv6Addr,
) -> Vec<u8> {
    let message = mh::Repr::new(
        Message::BindingError(BindingErrorRepr {
            status,
            home_address,
        }),
        &[],
    );
    let (mut frame, at) = with_headers(
        source,
        destination,
        None,
        NextHeader::MOBILITY,
        message.buffer_len(),
    );
    message.emit_into(&mut frame[at..], &source, &destination);
    frame
}

/// An ICMPv6 Parameter Problem (RFC 4443 §3.4) with `code` and `pointer` (the
/// offset of the offending octet in `invoking`) from `source` to `destination`,
/// carrying as much of `invoking` as fits in [`MINIMUM_MTU`].
pub fn parameter_problem(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    code: etherparse::icmpv6::ParameterProblemCode,
    pointer: u32,
    invoking: &[u8],
) -> Vec<u8> {
    let room = MINIMUM_MTU - 40 - 8;
    let carried = &invoking[..invoking.len().min(room)];
    icmp_frame(
        source,
        destination,
        None,
        Icmpv6Type::ParameterProblem(ParameterProblemHeader { code, pointer }),
        carried,
    )
}

/// An ICMPv6 Destination Unreachable (RFC 4443 §3.1) with `code` from `source` to
/// `destination`, carrying as much of `invoking` as fits in [`MINIMUM_MTU`]. The home
/// agent sends code 3 (address unreachable) for a packet to a mobile node's link-local
/// address, which it never tunnels (RFC 6275 §10.4.2).
pub fn destination_unreachable(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    code: etherparse::icmpv6::DestUnreachableCode,
    invoking: &[u8],
) -> Vec<u8> {
    let room = MINIMUM_MTU - 40 - 8;
    let carried = &invoking[..invoking.len().min(room)];
    icmp_frame(
        source,
        destination,
        None,
        Icmpv6Type::DestinationUnreachable(code),
        carried,
    )
}

/// An ICMPv6 Echo Reply (RFC 4443 §4.2) from `source` to a mobile node away,
/// `care_of` with a type 2 routing header naming `home_address` (RFC 6275 §9.3.2),
/// echoing `echo` (identifier, sequence number) and `data`.
pub fn echo_reply_via_care_of(
    source: Ipv6Addr,
    care_of: Ipv6Addr,
    home_address: Ipv6Addr,
    echo: IcmpEchoHeader,
    data: &[u8],
) -> Vec<u8> {
    let room = usize::from(u16::MAX) - 24 - 8;
    icmp_frame(
        source,
        care_of,
        Some(home_address),
        Icmpv6Type::EchoReply(echo),
        &data[..data.len().min(room)],
    )
}

/// A zeroed frame with its IPv6 header (and RH2) written for a payload of
/// `payload_len` octets of `next_header`; returns it and where the payload starts.
fn with_headers(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    rh2: Option<Ipv6Addr>,
    next_header: NextHeader,
    payload_len: usize,
) -> (Vec<u8>, usize) {
    let headers = ChainRepr {
        src_addr: source,
        dst_addr: destination,
        hop_limit: DEFAULT_HOP_LIMIT,
        traffic_class: 0,
        flow_label: 0,
        rh2,
        home_address: None,
        next_header,
        payload_len,
    };
    let mut frame = vec![0; headers.buffer_len() + payload_len];
    let at = headers
        .emit(&mut frame)
        .unwrap_or_else(|_| unreachable!("sized by buffer_len"));
    (frame, at)
}

fn icmp_frame(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    rh2: Option<Ipv6Addr>,
    icmp_type: Icmpv6Type,
    payload: &[u8],
) -> Vec<u8> {
    let final_destination = rh2.unwrap_or(destination);
    let icmp = Icmpv6Header::with_checksum(
        icmp_type,
        source.octets(),
        final_destination.octets(),
        payload,
    )
    .unwrap_or_else(|_| unreachable!("payloads are cut below the ICMPv6 length limit"));
    let icmp_len = icmp.header_len() + payload.len();
    let (mut frame, at) = with_headers(source, destination, rh2, NextHeader::ICMPV6, icmp_len);
    let bytes = icmp.to_bytes();
    frame[at..at + bytes.len()].copy_from_slice(&bytes);
    frame[at + bytes.len()..].copy_from_slice(payload);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext;
    use etherparse::icmpv6::ParameterProblemCode;
    use etherparse::Icmpv6Slice;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    const HA: &str = "2001:db8:1::1";
    const COA: &str = "2001:db8:2::100";
    const HOA: &str = "2001:db8:1::100";

    #[test]
    fn a_binding_error_is_an_unprotected_mobility_header_whose_checksum_verifies() {
        let frame = binding_error(
            a(HA),
            a(COA),
            BeStatus::UnknownBindingForHomeAddress,
            a(HOA),
        );
        let chain = ext::walk(&frame).unwrap();
        assert_eq!(chain.final_header, NextHeader::MOBILITY);
        assert_eq!(chain.home_address, None);
        assert!(chain.other_routing.is_none());
        let payload = chain.payload(&frame).unwrap();
        assert_eq!(payload.len(), 24, "8 + 18 rounded to 8");
        let packet = mh::Packet::new_checked(payload).unwrap();
        let repr = mh::Repr::parse_checked(&packet, &a(HA), &a(COA)).unwrap();
        assert_eq!(
            repr.message,
            Message::BindingError(BindingErrorRepr {
                status: BeStatus::UnknownBindingForHomeAddress,
                home_address: a(HOA),
            })
        );
        assert_eq!(&frame[8..24], &a(HA).octets());
        assert_eq!(&frame[24..40], &a(COA).octets());
    }

    #[test]
    fn a_parameter_problem_points_and_stays_within_the_minimum_mtu() {
        let invoking: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        let frame = parameter_problem(
            a(HA),
            a(COA),
            ParameterProblemCode::ErroneousHeaderField,
            42,
            &invoking,
        );
        assert_eq!(frame.len(), MINIMUM_MTU);
        assert_eq!(frame[6], 58);
        let icmp = Icmpv6Slice::from_slice(&frame[40..]).unwrap();
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (4, 0));
        assert_eq!(&frame[44..48], &42u32.to_be_bytes(), "pointer");
        assert!(icmp.is_checksum_valid(a(HA).octets(), a(COA).octets()));
        assert_eq!(&frame[48..], &invoking[..MINIMUM_MTU - 48]);
        // A short invoking packet is carried whole.
        let short = parameter_problem(
            a(HA),
            a(COA),
            ParameterProblemCode::ErroneousHeaderField,
            0,
            &invoking[..60],
        );
        assert_eq!(short.len(), 48 + 60);
    }

    #[test]
    fn a_destination_unreachable_has_its_code_unused_zero_and_the_invoking_packet() {
        let ll_ha = a("fe80::1");
        let ll_peer = a("fe80::2");
        let invoking: Vec<u8> = (0..1500u32).map(|i| (i * 7) as u8).collect();
        let frame = destination_unreachable(
            ll_ha,
            ll_peer,
            etherparse::icmpv6::DestUnreachableCode::Address,
            &invoking,
        );
        assert_eq!(frame.len(), MINIMUM_MTU);
        assert_eq!((frame[6], frame[7]), (58, DEFAULT_HOP_LIMIT));
        let icmp = Icmpv6Slice::from_slice(&frame[40..]).unwrap();
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (1, 3));
        assert_eq!(&frame[44..48], &[0; 4], "unused, zero (RFC 4443 §3.1)");
        assert!(icmp.is_checksum_valid(ll_ha.octets(), ll_peer.octets()));
        assert_eq!(&frame[48..], &invoking[..MINIMUM_MTU - 48]);
    }

    #[test]
    fn an_echo_reply_to_a_node_away_carries_an_rh2_and_sums_over_the_home_address() {
        let echo = IcmpEchoHeader { id: 0x1234, seq: 7 };
        let frame = echo_reply_via_care_of(a(HA), a(COA), a(HOA), echo, b"ping");
        let chain = ext::walk(&frame).unwrap();
        assert_eq!(chain.final_header, NextHeader::ICMPV6);
        assert_eq!(
            chain.mh_checksum_destination(),
            a(HOA),
            "RH2 names the home address"
        );
        assert_eq!(&frame[24..40], &a(COA).octets());
        let icmp = Icmpv6Slice::from_slice(chain.payload(&frame).unwrap()).unwrap();
        assert_eq!(icmp.icmp_type(), Icmpv6Type::EchoReply(echo));
        assert!(icmp.is_checksum_valid(a(HA).octets(), a(HOA).octets()));
        assert!(!icmp.is_checksum_valid(a(HA).octets(), a(COA).octets()));
        assert_eq!(icmp.payload(), b"ping");
    }
}
