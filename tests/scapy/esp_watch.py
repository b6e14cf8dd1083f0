"""An observer on the router for tests/tests/e2e_lab.rs: records every ESP packet
that crosses the given interfaces (behind a Home Address option or a type 2
routing header too: BUs and BAs) until stdin closes, then prints one JSON line per
packet: source, destination, SPI, sequence number, explicit IV (the 8 octets after
the sequence number, RFC 4106 §3.1), a digest of the ciphertext, and the whole
packet in hex when asked ("--frames"). It sends nothing.

  esp_watch.py [--frames] IFACE...
"""
import hashlib
import json
import sys

from scapy.all import AsyncSniffer, IPv6, Raw
from scapy.layers.ipsec import ESP


def main(args):
    frames = "--frames" in args
    ifaces = [a for a in args if not a.startswith("--")]
    sniffer = AsyncSniffer(iface=ifaces, store=True,
                           lfilter=lambda p: IPv6 in p and ESP in p)
    sniffer.start()
    print("ready", flush=True)
    sys.stdin.read()
    for p in sniffer.stop():
        ip = p[IPv6]
        esp = bytes(p[ESP])
        if len(esp) < 16:
            continue
        out = {
            "iface": p.sniffed_on, "src": ip.src, "dst": ip.dst,
            "spi": int.from_bytes(esp[0:4], "big"),
            "seq": int.from_bytes(esp[4:8], "big"),
            "iv": esp[8:16].hex(),
            "digest": hashlib.sha256(esp[16:]).hexdigest()[:16],
        }
        if frames:
            out["frame"] = bytes(ip).hex()
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
