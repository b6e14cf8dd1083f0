"""A node on foreign link 1 that sends the home agent packets it must answer with an
error, for tests/tests/ha_conformance_lab.rs (RFC 6275 §9.2, §9.3.1, §9.3.2;
RFC 4443 §3.4, §4.2). Prints one JSON line per case with what came back from the
home agent within 1 s.

  unprotected.py IFACE HA COA HOA OTHER_HOA

Only 2001:db8::/32 addresses are used; each case sends one packet.
"""
import json
import sys
import time

from scapy.all import (AsyncSniffer, ICMPv6EchoReply, ICMPv6EchoRequest,
                       ICMPv6ParamProblem, IPv6, IPv6ExtHdrRouting, Raw, send)
from scapy.layers.inet6 import HAO, IPv6ExtHdrDestOpt, MIP6MH_BE, MIP6MH_Generic


def describe(pkt):
    ip = pkt[IPv6]
    out = {"src": ip.src, "dst": ip.dst}
    if IPv6ExtHdrRouting in pkt:
        rh = pkt[IPv6ExtHdrRouting]
        out["rh_type"] = rh.type
        out["rh_addresses"] = list(rh.addresses)
    if MIP6MH_BE in pkt:
        be = pkt[MIP6MH_BE]
        out.update(kind="be", status=be.status, home_address=be.ha)
    elif ICMPv6ParamProblem in pkt:
        pp = pkt[ICMPv6ParamProblem]
        out.update(kind="param_problem", code=pp.code, pointer=pp.ptr)
    elif ICMPv6EchoReply in pkt:
        er = pkt[ICMPv6EchoReply]
        out.update(kind="echo_reply", id=er.id, seq=er.seq, data=bytes(er.data).decode(errors="replace"))
    else:
        out["kind"] = "other"
    return out


def echo_from(home_address, ha, ident):
    """An Echo Request whose checksum covers the home address as source: the receiver
    of a Home Address option hands the upper layer the home address (RFC 6275 §9.3.1),
    which scapy's own checksum does not do behind a HAO."""
    echo = ICMPv6EchoRequest(id=ident, seq=1, data=b"hello")
    cksum = IPv6(bytes(IPv6(src=home_address, dst=ha) / echo))[ICMPv6EchoRequest].cksum
    return ICMPv6EchoRequest(id=ident, seq=1, data=b"hello", cksum=cksum)


def main(iface, ha, coa, hoa, other_hoa):
    dest = lambda a: IPv6ExtHdrDestOpt(options=[HAO(hoa=a)])
    cases = [
        ("echo_with_hoa", IPv6(src=coa, dst=ha) / dest(hoa) / echo_from(hoa, ha, 0x42)),
        ("hoa_without_binding", IPv6(src=coa, dst=ha) / dest(other_hoa)
         / echo_from(other_hoa, ha, 0x43)),
        ("unknown_mh_type", IPv6(src=coa, dst=ha) / MIP6MH_Generic(mhtype=42, msg=b"\0" * 10)),
        ("payload_proto", IPv6(src=coa, dst=ha) / MIP6MH_Generic(nh=6, mhtype=0, msg=b"\0" * 2)),
    ]
    for name, pkt in cases:
        sniffer = AsyncSniffer(iface=iface, store=True,
                               lfilter=lambda p: IPv6 in p and p[IPv6].src == ha)
        sniffer.start()
        time.sleep(0.3)
        send(pkt, verbose=False)
        time.sleep(1.0)
        replies = [describe(p) for p in sniffer.stop()]
        print(json.dumps({"case": name, "replies": replies}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
