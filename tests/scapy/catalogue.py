#!/usr/bin/env python3
"""Independent encoder/decoder for the mip6 cross-check tests, built on scapy.

Two modes:

  python3 catalogue.py build
      Prints JSON: a list of cases {"name", "kind", "hex", "fields"} built with
      scapy, every field set explicitly. "hex" is the full IPv6 packet.
  python3 catalogue.py parse  < cases.json
      Reads JSON [{"name", "kind", "hex", optional "esp_key", "esp_salt", "spi"}]
      (hex strings for key and salt, an integer SPI), dissects each packet with
      scapy (decrypting ESP with scapy's SecurityAssociation when a key is given)
      and prints JSON [{"name", "kind", "fields"}] (or {"name","kind","error"}).

Field schema (flat; a field is present only when the packet has that part):

  outer IPv6    ip_src, ip_dst (str), ip_nh (int, outer next header)
  HoA option    hoa (str): Home Address destination option (RFC 6275 6.3)
  RH2           rh2 (str): type 2 routing header address (RFC 6275 6.4)
  tunnel        inner_src, inner_dst (str), inner_nh (int);
                icmp_type, icmp_id, icmp_seq (int) for an inner ICMPv6 echo
  ESP           spi, esp_seq (int), esp_iv (hex), esp_key, esp_salt (hex, build
                only and echoed by parse when given), esp_next_header (int, the
                decrypted next header)
  MH common     mh_type (0 BRR .. 7 BE), mh_len (Header Len, 8-octet units after
                the first 8), mh_payload_proto (59), checksum (int, as on the wire),
                checksum_ok (bool: RFC 6275 6.1.1 pseudo-header with src = HoA when
                a HoA option is present else IPv6 src, dst = RH2 address when an
                RH2 is present else IPv6 dst; computed here, not by scapy)
  BRR           (none beyond common)
  HoTI / CoTI   cookie (hex, 8 octets)
  HoT / CoT     nonce_index (int), cookie (hex), token (hex, 8 octets)
  BU            seq, lifetime (raw field, 4-second units), flags_a, flags_h,
                flags_l, flags_k (0/1)
  BA            status, flags_k (0/1), seq, lifetime (raw, 4-second units)
  BE            status, home_address (str)
  options       opt_types (list of int, wire order, Pad1 = 0 and PadN = 1 included)
                bra_interval (int, 4-second units), alt_coa (str),
                ni_home, ni_careof (int), bad (hex, 12 octets)
  vendor 19     vendor_id (int), subtype (int), and by sub-type:
                1: nonce (int, 64-bit NTP timestamp)
                4: generation, spi_mn2ha, spi_ha2mn, suite, key_lifetime (int),
                   secret (hex, 32 octets)

Alignment: options are placed at the alignment RFC 6275 6.2 (and RFC 5094 for
the vendor option, 4n+2) requires, counted from the start of the Mobility
Header, with explicit Pad1/PadN; the MH is padded to a multiple of 8 octets.

scapy quirks worked around (scapy 2.8): BU's default flags set K, the Nonce
Indices and BAD options default to wrong lengths (16), and its MH checksum is
computed over the wrong pseudo-header when a HoA option comes with padding, so
every length, flag and the checksum is set explicitly here.
"""

import json
import logging
import sys

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet6 import (  # noqa: E402
    HAO,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    MIP6MH_BA,
    MIP6MH_BE,
    MIP6MH_BRR,
    MIP6MH_BU,
    MIP6MH_CoT,
    MIP6MH_CoTI,
    MIP6MH_HoT,
    MIP6MH_HoTI,
    MIP6OptAltCoA,
    MIP6OptBindingAuthData,
    MIP6OptBRAdvice,
    MIP6OptNonceIndices,
    MIP6OptUnknown,
    Pad1,
    PadN,
)
from scapy.layers.ipsec import ESP, SecurityAssociation  # noqa: E402
from scapy.packet import Raw  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402

VENDOR_ID = 32473
HA = "2001:db8:1::1"
HOA = "2001:db8:1::100"
COA = "2001:db8:2::100"
CN = "2001:db8:4::10"

MH_TYPES = {MIP6MH_BRR: 0, MIP6MH_HoTI: 1, MIP6MH_CoTI: 2, MIP6MH_HoT: 3,
            MIP6MH_CoT: 4, MIP6MH_BU: 5, MIP6MH_BA: 6, MIP6MH_BE: 7}
MH_CLASSES = tuple(MH_TYPES)
# Octets of each message before its options (RFC 6275 6.1.2-6.1.9).
FIXED_LEN = {0: 8, 1: 16, 2: 16, 3: 24, 4: 24, 5: 12, 6: 12, 7: 24}


# ---------------------------------------------------------------- checksum

def _sum16(data, acc=0):
    if len(data) % 2:
        data += b"\x00"
    for i in range(0, len(data), 2):
        acc += (data[i] << 8) | data[i + 1]
    return acc


def mh_checksum(src, dst, mh):
    """RFC 6275 6.1.1 / RFC 8200 8.1: one's complement over the pseudo-header
    (src, dst, upper-layer length, zero, next header 135) and the MH, whose
    checksum field must be zero in `mh`."""
    acc = _sum16(socket.inet_pton(socket.AF_INET6, src))
    acc = _sum16(socket.inet_pton(socket.AF_INET6, dst), acc)
    acc = _sum16(struct.pack("!IxxxB", len(mh), 135), acc)
    acc = _sum16(bytes(mh), acc)
    while acc > 0xFFFF:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return (~acc) & 0xFFFF


# ---------------------------------------------------------------- options

def vendor_option(subtype, **kw):
    """Vendor-Specific Mobility Option (RFC 5094), our key-management layout."""
    body = struct.pack("!IB", VENDOR_ID, subtype)
    if subtype == 1:
        body += struct.pack("!Q", kw["nonce"])
    elif subtype == 4:
        body += struct.pack("!IIIB3xI", kw["generation"], kw["spi_mn2ha"],
                            kw["spi_ha2mn"], kw["suite"], kw["key_lifetime"])
        body += kw["secret"]
    return MIP6OptUnknown(otype=19, olen=len(body), odata=body)


# (x, y): option must start at offset x*n + y from the MH start (RFC 6275 6.2).
ALIGN = {2: (2, 0), 3: (8, 6), 4: (2, 0), 5: (8, 2), 19: (4, 2)}


def _pad(gap):
    if gap == 0:
        return []
    if gap == 1:
        return [Pad1()]
    return [PadN(otype=1, optlen=gap - 2, optdata=b"\x00" * (gap - 2))]


def aligned(mh_type, options):
    """Inserts Pad1/PadN so each option sits at its alignment and the MH ends
    on an 8-octet boundary."""
    out, pos = [], FIXED_LEN[mh_type]
    for opt in options:
        x, y = ALIGN.get(opt.otype, (1, 0))
        gap = (y - pos) % x
        out += _pad(gap)
        pos += gap + len(bytes(opt))
        out.append(opt)
    out += _pad((-pos) % 8)
    return out


# ---------------------------------------------------------------- build

def finish_mh(mh, src, dst):
    """Sets Header Len and the checksum over the right pseudo-header; returns
    (mh, checksum)."""
    mh.len = (len(bytes(mh)) - 8) // 8
    mh.cksum = 0
    c = mh_checksum(src, dst, bytes(mh))
    mh.cksum = c
    return mh, c


def mh_common(mh_type, mh, checksum):
    return {"mh_type": mh_type, "mh_len": mh.len, "mh_payload_proto": 59,
            "checksum": checksum, "checksum_ok": True}


def option_fields(opts):
    f = {"opt_types": [o.otype for o in opts]}
    for o in opts:
        if o.otype == 2:
            f["bra_interval"] = o.rinter
        elif o.otype == 3:
            f["alt_coa"] = o.acoa
        elif o.otype == 4:
            f["ni_home"], f["ni_careof"] = o.hni, o.coni
        elif o.otype == 5:
            f["bad"] = o.authenticator.to_bytes(12, "big").hex()
        elif o.otype == 19:
            f.update(vendor_fields(bytes(o.odata)))
    return f


def vendor_fields(data):
    """Fields of a vendor option's data (vendor id onwards)."""
    f = {}
    if len(data) < 5:
        return {"vendor_error": "short"}
    f["vendor_id"], f["subtype"] = struct.unpack("!IB", data[:5])
    rest = data[5:]
    if f["subtype"] == 1 and len(rest) >= 8:
        f["nonce"] = struct.unpack("!Q", rest[:8])[0]
    elif f["subtype"] == 4 and len(rest) >= 52:
        (f["generation"], f["spi_mn2ha"], f["spi_ha2mn"], f["suite"],
         f["key_lifetime"]) = struct.unpack("!IIIB3xI", rest[:20])
        f["secret"] = rest[20:52].hex()
    return f


def bu(seq, lifetime, a, h, l, k, options):
    flags = (a << 6) | (h << 5) | (l << 4) | (k << 3)   # scapy: "PRMKLHA", LSB first
    opts = aligned(5, options)
    mh = MIP6MH_BU(nh=59, mhtype=5, res=0, seq=seq, flags=flags, reserved=0,
                   mhtime=lifetime, autopad=0, options=opts)
    f = {"seq": seq, "lifetime": lifetime, "flags_a": a, "flags_h": h,
         "flags_l": l, "flags_k": k}
    return mh, f, opts


def ba(status, k, seq, lifetime, options):
    opts = aligned(6, options)
    mh = MIP6MH_BA(nh=59, mhtype=6, res=0, status=status, flags=(4 if k else 0),
                   res2=0, seq=seq, mhtime=lifetime, autopad=0, options=opts)
    return mh, {"status": status, "flags_k": k, "seq": seq, "lifetime": lifetime}, opts


def hao_destopt():
    # PadN(2) puts the HoA option at offset 6 (8n+6, RFC 6275 6.3); 24 octets.
    return IPv6ExtHdrDestOpt(nh=135, len=2, autopad=0, options=[
        PadN(otype=1, optlen=2, optdata=b"\x00\x00"), HAO(otype=201, optlen=16, hoa=HOA)])


def rh2():
    return IPv6ExtHdrRouting(nh=135, len=2, type=2, segleft=1, reserved=0, addresses=[HOA])


def case(name, kind, pkt, fields):
    return {"name": name, "kind": kind, "hex": bytes(pkt).hex(), "fields": fields}


def signalling(name, src, dst, mh, mh_fields, opts, hoa=None, rh=None):
    """IPv6 [| DestOpt(HoA)] [| RH2] | MH, with the checksum set explicitly."""
    ck_src = hoa or src
    ck_dst = rh or dst
    mh, c = finish_mh(mh, ck_src, ck_dst)
    mh_type = mh.mhtype
    chain = mh
    nh = 135
    if hoa:
        chain = hao_destopt() / chain
        nh = 60
    if rh:
        chain = rh2() / chain
        nh = 43
    pkt = IPv6(version=6, tc=0, fl=0, nh=nh, hlim=64, src=src, dst=dst) / chain
    f = {"ip_src": src, "ip_dst": dst, "ip_nh": nh}
    if hoa:
        f["hoa"] = hoa
    if rh:
        f["rh2"] = rh
    f.update(mh_common(mh_type, mh, c))
    f.update(mh_fields)
    f.update(option_fields(opts))
    return case(name, ["brr", "hoti", "coti", "hot", "cot", "bu", "ba", "be"][mh_type], pkt, f)


SECRET = bytes(range(0x40, 0x60))
NONCE = 0xE8F1_2A3B_8000_0000


def build():
    cases = []
    # 0 BRR (RFC 6275 6.1.2): HA -> MN at its CoA via RH2, no options.
    mh = MIP6MH_BRR(nh=59, mhtype=0, res=0, res2=0, autopad=0, options=[])
    cases.append(signalling("brr", HA, COA, mh, {}, [], rh=HOA))
    # 1 HoTI, 2 CoTI (6.1.3, 6.1.4).
    mh = MIP6MH_HoTI(nh=59, mhtype=1, res=0, reserved=b"\x00\x00",
                     cookie=bytes.fromhex("0102030405060708"), autopad=0, options=[])
    cases.append(signalling("hoti", HOA, CN, mh, {"cookie": "0102030405060708"}, []))
    mh = MIP6MH_CoTI(nh=59, mhtype=2, res=0, reserved=b"\x00\x00",
                     cookie=bytes.fromhex("1112131415161718"), autopad=0, options=[])
    cases.append(signalling("coti", COA, CN, mh, {"cookie": "1112131415161718"}, []))
    # 3 HoT, 4 CoT (6.1.5, 6.1.6).
    mh = MIP6MH_HoT(nh=59, mhtype=3, res=0, index=0x0102,
                    cookie=bytes.fromhex("0102030405060708"),
                    token=bytes.fromhex("a1a2a3a4a5a6a7a8"), autopad=0, options=[])
    cases.append(signalling("hot", CN, HOA, mh, {"nonce_index": 0x0102, "cookie": "0102030405060708",
                                                 "token": "a1a2a3a4a5a6a7a8"}, []))
    mh = MIP6MH_CoT(nh=59, mhtype=4, res=0, index=0x0304,
                    cookie=bytes.fromhex("1112131415161718"),
                    token=bytes.fromhex("b1b2b3b4b5b6b7b8"), autopad=0, options=[])
    cases.append(signalling("cot", CN, COA, mh, {"nonce_index": 0x0304, "cookie": "1112131415161718",
                                                 "token": "b1b2b3b4b5b6b7b8"}, []))
    # 5 BU, home registration with each key sub-type 1, 2, 3 and the AltCoA.
    # Sub-types 2 and 3 are 7 octets long, so the Binding Refresh Advice after
    # the sub-type 3 option (2n) needs a Pad1.
    for sub, extra, more in [(1, {"nonce": NONCE}, []), (2, {}, []),
                             (3, {}, [MIP6OptBRAdvice(otype=2, olen=2, rinter=0x0102)])]:
        mh, f, opts = bu(0x1234 + sub, 0x0096, 1, 1, 0, 0,
                         [MIP6OptAltCoA(otype=3, olen=16, acoa=COA), vendor_option(sub, **extra)]
                         + more)
        cases.append(signalling(f"bu_key_sub{sub}", COA, HA, mh, f, opts, hoa=HOA))
    # BU to a correspondent: Nonce Indices + BAD (RFC 6275 6.2.6, 6.2.7), Pad1/PadN in between.
    mh, f, opts = bu(0xFFFE, 0x0001, 1, 0, 1, 0, [
        MIP6OptNonceIndices(otype=4, olen=4, hni=0x0102, coni=0x0304),
        MIP6OptBindingAuthData(otype=5, olen=12, authenticator=0xC0C1C2C3C4C5C6C7C8C9CACB)])
    cases.append(signalling("bu_rr", COA, CN, mh, f, opts, hoa=HOA))
    # 6 BA: Key Distribution (sub-type 4) + BRA; and the echo of a Key Init nonce.
    mh, f, opts = ba(0, 0, 0x1235, 0x0096, [
        MIP6OptBRAdvice(otype=2, olen=2, rinter=0x0030),
        vendor_option(4, generation=7, spi_mn2ha=0x0000_1001, spi_ha2mn=0x0000_2002,
                      suite=2, key_lifetime=3600, secret=SECRET)])
    cases.append(signalling("ba_key_dist", HA, COA, mh, f, opts, rh=HOA))
    mh, f, opts = ba(129, 1, 0x4321, 0, [vendor_option(1, nonce=NONCE)])
    cases.append(signalling("ba_key_init_echo", HA, COA, mh, f, opts, rh=HOA))
    # 7 BE (6.1.9): status 2 (unrecognized MH type), home address.
    mh = MIP6MH_BE(nh=59, mhtype=7, res=0, status=2, reserved=0, ha=HOA, options=[])
    cases.append(signalling("be", HA, COA, mh, {"status": 2, "home_address": HOA}, []))
    # IPv6-in-IPv6 (RFC 2473): HA -> CoA carrying CN -> HoA ICMPv6 echo.
    inner = IPv6(version=6, tc=0, fl=0, nh=58, hlim=63, src=CN, dst=HOA) / \
        ICMPv6EchoRequest(type=128, code=0, id=0x0777, seq=3, data=b"mip6")
    pkt = IPv6(version=6, tc=0, fl=0, nh=41, hlim=64, src=HA, dst=COA) / inner
    cases.append(case("tunnel", "tunnel", pkt, {
        "ip_src": HA, "ip_dst": COA, "ip_nh": 41, "inner_src": CN, "inner_dst": HOA,
        "inner_nh": 58, "icmp_type": 128, "icmp_id": 0x0777, "icmp_seq": 3}))
    cases.append(esp_bu())
    return cases


ESP_KEY = bytes(range(16))
ESP_SALT = bytes.fromhex("01020304")
ESP_SPI = 0x1001
ESP_SEQ = 5


def esp_bu():
    """IPv6(CoA->HA) | DestOpt(HoA) | ESP transport, AES-GCM RFC 4106 | MH BU."""
    plain = signalling("x", COA, HA, *bu_args(), hoa=HOA)
    pkt = IPv6(bytes.fromhex(plain["hex"]))
    sa = SecurityAssociation(ESP, spi=ESP_SPI, crypt_algo="AES-GCM",
                             crypt_key=ESP_KEY + ESP_SALT, auth_algo="NULL")
    iv = ESP_SEQ.to_bytes(8, "big")   # docs/architecture.md: explicit IV = 64-bit sequence number
    enc = sa.encrypt(pkt, seq_num=ESP_SEQ, iv=iv)
    f = dict(plain["fields"])
    f.update({"ip_nh": 60, "spi": ESP_SPI, "esp_seq": ESP_SEQ, "esp_iv": iv.hex(),
              "esp_key": ESP_KEY.hex(), "esp_salt": ESP_SALT.hex(), "esp_next_header": 135})
    return case("esp_bu", "esp_bu", enc, f)


def bu_args():
    mh, f, opts = bu(0x2001, 0x0010, 1, 1, 0, 0,
                     [MIP6OptAltCoA(otype=3, olen=16, acoa=COA), vendor_option(1, nonce=NONCE)])
    return mh, f, opts


# ---------------------------------------------------------------- parse

def parse_one(item):
    raw = bytes.fromhex(item["hex"])
    pkt = IPv6(raw)
    f = {"ip_src": pkt.src, "ip_dst": pkt.dst, "ip_nh": pkt.nh}
    if ESP in pkt:
        esp = pkt[ESP]
        f["spi"], f["esp_seq"] = esp.spi, esp.seq
        f["esp_iv"] = bytes(esp.data[:8]).hex()
        if item.get("esp_key") is not None:
            key = bytes.fromhex(item["esp_key"])
            salt = bytes.fromhex(item["esp_salt"])
            f["esp_key"], f["esp_salt"] = key.hex(), salt.hex()
            sa = SecurityAssociation(ESP, spi=item.get("spi", esp.spi), crypt_algo="AES-GCM",
                                     crypt_key=key + salt, auth_algo="NULL")
            # decrypt raises on a bad ICV; re-dissect the plaintext packet.
            pkt = IPv6(bytes(sa.decrypt(pkt)))
            # After transport-mode decryption the ESP Next Header is the nh of the
            # last header of the outer chain (IPv6 or its extension headers); in
            # tunnel mode what follows is the inner IPv6 packet.
            layer = pkt
            while isinstance(layer.payload, (IPv6ExtHdrDestOpt, IPv6ExtHdrRouting,
                                             IPv6ExtHdrHopByHop, IPv6ExtHdrFragment)):
                layer = layer.payload
            f["esp_next_header"] = layer.nh
    hoa = rh = None
    layer = pkt.payload
    while layer is not None and not isinstance(layer, Raw) and layer.name != "NoPayload":
        if isinstance(layer, IPv6ExtHdrDestOpt):
            for o in layer.options:
                if isinstance(o, HAO):
                    hoa = f["hoa"] = o.hoa
        elif isinstance(layer, IPv6ExtHdrRouting) and layer.type == 2:
            rh = f["rh2"] = layer.addresses[0]
        elif isinstance(layer, IPv6):
            f.update({"inner_src": layer.src, "inner_dst": layer.dst, "inner_nh": layer.nh})
        elif isinstance(layer, ICMPv6EchoRequest):
            f.update({"icmp_type": layer.type, "icmp_id": layer.id, "icmp_seq": layer.seq})
        elif isinstance(layer, MH_CLASSES):
            f.update(parse_mh(layer, hoa or pkt.src, rh or pkt.dst))
            break
        layer = layer.payload
    return f


def parse_mh(mh, ck_src, ck_dst):
    wire = bytes(mh)
    mh_len = wire[1]
    wire = wire[:8 + 8 * mh_len]
    zeroed = wire[:4] + b"\x00\x00" + wire[6:]
    checksum = (wire[4] << 8) | wire[5]
    f = {"mh_type": mh.mhtype, "mh_len": mh_len, "mh_payload_proto": mh.nh,
         "checksum": checksum, "checksum_ok": mh_checksum(ck_src, ck_dst, zeroed) == checksum}
    t = mh.mhtype
    if t in (1, 2):
        f["cookie"] = bytes(mh.cookie).hex()
    elif t in (3, 4):
        f.update({"nonce_index": mh.index, "cookie": bytes(mh.cookie).hex(),
                  "token": bytes(mh.token).hex()})
    elif t == 5:
        fl = int(mh.flags)
        f.update({"seq": mh.seq, "lifetime": mh.mhtime, "flags_a": (fl >> 6) & 1,
                  "flags_h": (fl >> 5) & 1, "flags_l": (fl >> 4) & 1, "flags_k": (fl >> 3) & 1})
    elif t == 6:
        f.update({"status": mh.status, "flags_k": (int(mh.flags) >> 2) & 1,
                  "seq": mh.seq, "lifetime": mh.mhtime})
    elif t == 7:
        f.update({"status": mh.status, "home_address": mh.ha})
    if t in FIXED_LEN:
        f.update(option_fields(list(mh.options)))
    return f


def parse(items):
    out = []
    for item in items:
        r = {"name": item.get("name"), "kind": item.get("kind")}
        try:
            r["fields"] = parse_one(item)
        except Exception as e:  # report, never crash: one bad packet is one bad case
            r["error"] = f"{type(e).__name__}: {e}"
        out.append(r)
    return out


def main(argv):
    if len(argv) != 2 or argv[1] not in ("build", "parse"):
        sys.stderr.write(__doc__)
        return 2
    if argv[1] == "build":
        json.dump(build(), sys.stdout, indent=1)
    else:
        json.dump(parse(json.load(sys.stdin)), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
