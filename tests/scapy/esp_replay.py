"""An attacker on the home link for tests/tests/e2e_lab.rs: sends back to the home
agent, once each and in order, IPv6 packets captured earlier (one hex string per
line on stdin), addressed to the home agent's Ethernet address. Prints how many it
sent. Only packets captured in the test's own lab (2001:db8::/32) are replayed.

  esp_replay.py IFACE HA_MAC < frames.hex
"""
import sys

from scapy.all import Ether, IPv6, sendp


def main(iface, ha_mac):
    packets = [Ether(dst=ha_mac) / IPv6(bytes.fromhex(line.strip()))
               for line in sys.stdin if line.strip()]
    for p in packets:
        assert p[IPv6].dst.startswith("2001:db8:"), p[IPv6].dst
    sendp(packets, iface=iface, verbose=False, inter=0.001)
    print(len(packets), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
