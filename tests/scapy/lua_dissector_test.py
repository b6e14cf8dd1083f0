#!/usr/bin/env python3
"""Tests wireshark/mip6-keys.lua with tshark on packets built by catalogue.py
(scapy): every key sub-type in clear BU/BA, the vendor-id preference, and an
ESP-encrypted BA whose Key Distribution tshark decrypts (esp_sa) and then
dissects with the Lua script -- the "open it in Wireshark" path of the README.

Run: python3 tests/scapy/lua_dissector_test.py
A missing tshark skips LOUDLY (exit 0), except under CI=true (exit 1).
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LUA = os.path.join(ROOT, "wireshark", "mip6-keys.lua")
sys.path.insert(0, HERE)

import catalogue as cat  # noqa: E402
from scapy.layers.inet6 import IPv6, MIP6OptUnknown  # noqa: E402
from scapy.layers.ipsec import ESP, SecurityAssociation  # noqa: E402
from scapy.utils import wrpcap  # noqa: E402

LINKTYPE_IPV6 = 229


def tshark(pcap, fields, extra=()):
    cmd = ["tshark", "-X", "lua_script:" + LUA, "-r", pcap, *extra, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Lua Error" not in out.stdout + out.stderr, out.stdout + out.stderr
    return [line.split("\t") for line in out.stdout.splitlines()]


def write(pcap, hexes):
    wrpcap(pcap, [IPv6(bytes.fromhex(h)) for h in hexes], linktype=LINKTYPE_IPV6)


FIELDS = ["mip6.vsm.vendorId", "mip6keys.subtype", "mip6keys.nonce", "mip6keys.generation",
          "mip6keys.spi_mn2ha", "mip6keys.spi_ha2mn", "mip6keys.suite", "mip6keys.lifetime",
          "mip6keys.secret", "mip6.bu.seqnr", "mip6.ba.seqnr", "_ws.expert"]


def test_every_subtype_in_clear(tmp):
    cases = {c["name"]: c for c in cat.build()}
    names = ["bu_key_sub1", "bu_key_sub2", "bu_key_sub3", "ba_key_dist", "ba_key_init_echo"]
    pcap = os.path.join(tmp, "keys.pcap")
    write(pcap, [cases[n]["hex"] for n in names])
    rows = tshark(pcap, FIELDS)
    assert len(rows) == 5, rows
    nonce = "0x%016x" % cat.NONCE
    assert rows[0][:3] == ["32473", "1", nonce], rows[0]
    assert rows[0][9] == str(cases["bu_key_sub1"]["fields"]["seq"]), rows[0]
    assert rows[1][:3] == ["32473", "2", ""], rows[1]
    assert rows[2][:3] == ["32473", "3", ""], rows[2]
    assert rows[3][:9] == ["32473", "4", "", "7", "0x00001001", "0x00002002", "2", "3600",
                           cat.SECRET.hex()], rows[3]
    assert rows[3][10] == str(cases["ba_key_dist"]["fields"]["seq"]), rows[3]
    assert rows[4][:3] == ["32473", "1", nonce], rows[4]
    for r in rows:
        assert r[11] == "", r   # no expert info (no malformed, no Lua error)


def bu_with_vendor(vendor_id, body):
    opt = MIP6OptUnknown(otype=19, olen=4 + len(body), odata=vendor_id.to_bytes(4, "big") + body)
    mh, f, opts = cat.bu(9, 1, 1, 1, 0, 0, [opt])
    return cat.signalling("v", cat.COA, cat.HA, mh, f, opts, hoa=cat.HOA)["hex"]


def test_vendor_id_preference_and_malformed(tmp):
    pcap = os.path.join(tmp, "vendor.pcap")
    write(pcap, [bu_with_vendor(12345, b"\x02"), bu_with_vendor(32473, b"\x02"),
                 bu_with_vendor(32473, b"\x04\x00\x00")])
    rows = tshark(pcap, ["mip6.vsm.vendorId", "mip6keys.subtype", "_ws.expert.message"])
    assert [r[:2] for r in rows] == [["12345", ""], ["32473", "2"], ["32473", "4"]], rows
    assert "needs 52 octets after the sub-type, 2 present" in rows[2][2], rows[2]
    rows = tshark(pcap, ["mip6.vsm.vendorId", "mip6keys.subtype"],
                  ["-o", "mip6keys.vendor_id:12345"])
    assert [r[:2] for r in rows] == [["12345", "2"], ["32473", ""], ["32473", ""]], rows


def esp_sa_record(src, dst, spi, key_and_salt):
    return ('"IPv6","%s","%s","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%s","NULL",""'
            % (src, dst, spi, key_and_salt.hex()))


def test_encrypted_key_distribution(tmp):
    """BA | RH2 | ESP(AES-256-GCM) | MH BA with Key Distribution, as the HA sends it."""
    ba = {c["name"]: c for c in cat.build()}["ba_key_dist"]
    key = bytes(range(0x20, 0x40)) + bytes.fromhex("a0a1a2a3")
    sa = SecurityAssociation(ESP, spi=0x2002, crypt_algo="AES-GCM", crypt_key=key,
                             auth_algo="NULL")
    enc = sa.encrypt(IPv6(bytes.fromhex(ba["hex"])), seq_num=3, iv=(3).to_bytes(8, "big"))
    pcap = os.path.join(tmp, "esp.pcap")
    wrpcap(pcap, [enc], linktype=LINKTYPE_IPV6)
    fields = ["esp.icv_good", "esp.protocol", "mip6.ba.seqnr", "mip6keys.subtype",
              "mip6keys.generation", "mip6keys.secret"]
    rows = tshark(pcap, fields)
    assert rows == [["", "", "", "", "", ""]], rows   # no key: nothing readable
    args = ["-o", "esp.enable_encryption_decode:TRUE",
            "-o", "esp.enable_authentication_check:TRUE",
            "-o", "uat:esp_sa:" + esp_sa_record(cat.HA, "*", 0x2002, key)]
    rows = tshark(pcap, fields, args)
    assert rows == [["1", "0x87", str(ba["fields"]["seq"]), "4", "7", cat.SECRET.hex()]], rows


def main():
    if shutil.which("tshark") is None:
        if os.environ.get("CI") == "true":
            print("FAIL: tshark is not installed and CI=true requires it")
            return 1
        print("SKIPPED lua_dissector_test: tshark is not installed (apt-get install tshark)",
              file=sys.stderr)
        print("0 passed, 0 failed, 3 skipped")
        return 0
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_every_subtype_in_clear, test_vendor_id_preference_and_malformed,
                  test_encrypted_key_distribution):
            try:
                t(tmp)
                passed += 1
            except AssertionError as e:
                failed += 1
                print("FAIL", t.__name__, e)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
