#!/usr/bin/env python3
"""Self-check of catalogue.py: `parse(build())` must read back every field that
`build` recorded, through the real command line (JSON on stdin/stdout), and the
checks must be able to fail (a flipped checksum octet, a wrong ESP key).

Run: python3 tests/scapy/selftest.py   (exit 0 and "N passed, 0 failed" when good)
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOGUE = os.path.join(HERE, "catalogue.py")


def run(mode, stdin=None):
    out = subprocess.run([sys.executable, CATALOGUE, mode], input=stdin,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def parse_input(case):
    item = {"name": case["name"], "kind": case["kind"], "hex": case["hex"]}
    f = case["fields"]
    if "esp_key" in f:
        item.update({"esp_key": f["esp_key"], "esp_salt": f["esp_salt"], "spi": f["spi"]})
    return item


def main():
    passed, failed = 0, 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL", what)

    cases = run("build")
    kinds = {c["kind"] for c in cases}
    check({"brr", "hoti", "coti", "hot", "cot", "bu", "ba", "be", "tunnel", "esp_bu"} <= kinds,
          f"every MH type, tunnel and ESP present: {sorted(kinds)}")
    opt_types = set()
    subtypes = set()
    for c in cases:
        opt_types |= set(c["fields"].get("opt_types", []))
        if "subtype" in c["fields"]:
            subtypes.add(c["fields"]["subtype"])
    check({0, 1, 2, 3, 4, 5, 19} <= opt_types, f"every option type present: {sorted(opt_types)}")
    check(subtypes == {1, 2, 3, 4}, f"every key sub-type present: {sorted(subtypes)}")

    parsed = run("parse", json.dumps([parse_input(c) for c in cases]))
    check(len(parsed) == len(cases), "one answer per case")
    for c, p in zip(cases, parsed):
        if "error" in p:
            check(False, f"{c['name']}: {p['error']}")
            continue
        diff = {k: (c["fields"].get(k), p["fields"].get(k))
                for k in set(c["fields"]) | set(p["fields"])
                if c["fields"].get(k) != p["fields"].get(k)}
        check(not diff and p["name"] == c["name"], f"{c['name']}: build != parse {diff}")

    # The checks can fail: a flipped octet in the MH checksum is seen.
    bu = next(c for c in cases if c["name"] == "bu_key_sub1")
    raw = bytearray.fromhex(bu["hex"])
    mh_at = 40 + 24   # IPv6 header + Destination Options (24 octets)
    raw[mh_at + 4] ^= 0x01
    bad = run("parse", json.dumps([{"name": "x", "kind": "bu", "hex": raw.hex()}]))[0]
    check(bad["fields"]["checksum_ok"] is False, "flipped checksum is detected")
    # A checksum over the CoA instead of the HoA is wrong (RFC 6275 6.1.1).
    check(bu["fields"]["checksum_ok"] is True and bad["fields"]["hoa"] == "2001:db8:1::100",
          "HoA used in the pseudo-header")
    # ESP with a wrong key is an error, not garbage fields.
    esp = next(c for c in cases if c["name"] == "esp_bu")
    item = parse_input(esp)
    item["esp_key"] = "ff" + item["esp_key"][2:]
    wrong = run("parse", json.dumps([item]))[0]
    check("error" in wrong, f"wrong ESP key is refused: {wrong}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
