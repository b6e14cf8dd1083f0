"""A neighbour on the home link, for the home agent's conformance tests
(tests/tests/ha_conformance_lab.rs): it watches and pokes the Neighbor Discovery
the home agent does for the home addresses it serves (RFC 6275 §10.3.1, §10.4.1,
RFC 4861 §7.2, RFC 4862 §5.4). Every packet the home agent sends from its own
Ethernet address is printed as one JSON line, read by the test.

  home_link.py watch IFACE HA_MAC SECONDS
      prints "ready", then every NS/NA from HA_MAC for SECONDS.
  home_link.py solicit IFACE HA_MAC TARGET OWN_ADDR
      sends, one after another, a multicast NS (with a Source Link-Layer Address
      option), a unicast NS (none), and a Duplicate Address Detection probe (from
      ::) for TARGET, and prints what the home agent answered to each within 1 s.

Only addresses of 2001:db8::/32 and link-local ones are ever used; each run sends
three packets.
"""
import json
import sys
import time

from scapy.all import (AsyncSniffer, Ether, ICMPv6ND_NA, ICMPv6ND_NS,
                       ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6,
                       get_if_hwaddr, in6_getnsma, in6_getnsmac, inet_pton,
                       inet_ntop, sendp, socket)


def describe(pkt, t0):
    ip = pkt[IPv6]
    out = {"t": round(pkt.time - t0, 4), "eth_dst": pkt[Ether].dst,
           "src": ip.src, "dst": ip.dst, "hlim": ip.hlim}
    if ICMPv6ND_NS in pkt:
        ns = pkt[ICMPv6ND_NS]
        out.update(type="ns", target=ns.tgt,
                   sll=pkt[ICMPv6NDOptSrcLLAddr].lladdr
                   if ICMPv6NDOptSrcLLAddr in pkt else None)
    else:
        na = pkt[ICMPv6ND_NA]
        out.update(type="na", target=na.tgt, R=na.R, S=na.S, O=na.O,
                   tlla=pkt[ICMPv6NDOptDstLLAddr].lladdr
                   if ICMPv6NDOptDstLLAddr in pkt else None)
    return out


def from_ha(ha_mac):
    return lambda p: (Ether in p and p[Ether].src == ha_mac and IPv6 in p
                      and (ICMPv6ND_NS in p or ICMPv6ND_NA in p))


def watch(iface, ha_mac, seconds):
    t0 = time.time()
    sniffer = AsyncSniffer(iface=iface, lfilter=from_ha(ha_mac), store=True)
    sniffer.start()
    time.sleep(0.5)
    print("ready", flush=True)
    time.sleep(seconds)
    for p in sniffer.stop():
        print(json.dumps(describe(p, t0)), flush=True)


def solicit(iface, ha_mac, target, own):
    own_mac = get_if_hwaddr(iface)
    group = inet_ntop(socket.AF_INET6, in6_getnsma(inet_pton(socket.AF_INET6, target)))
    cases = [
        ("multicast", Ether(src=own_mac, dst=in6_getnsmac(inet_pton(socket.AF_INET6, group)))
         / IPv6(src=own, dst=group, hlim=255) / ICMPv6ND_NS(tgt=target)
         / ICMPv6NDOptSrcLLAddr(lladdr=own_mac)),
        ("unicast", Ether(src=own_mac, dst=ha_mac)
         / IPv6(src=own, dst=target, hlim=255) / ICMPv6ND_NS(tgt=target)),
        ("probe", Ether(src=own_mac, dst=in6_getnsmac(inet_pton(socket.AF_INET6, group)))
         / IPv6(src="::", dst=group, hlim=255) / ICMPv6ND_NS(tgt=target)),
    ]
    for name, pkt in cases:
        t0 = time.time()
        sniffer = AsyncSniffer(iface=iface, lfilter=from_ha(ha_mac), store=True)
        sniffer.start()
        time.sleep(0.3)
        sendp(pkt, iface=iface, verbose=False)
        time.sleep(1.0)
        replies = [describe(p, t0) for p in sniffer.stop()]
        print(json.dumps({"case": name, "replies": replies}), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "watch":
        watch(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif mode == "solicit":
        solicit(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(f"unknown mode {mode}")
