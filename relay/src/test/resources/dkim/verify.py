#!/usr/bin/python3
# Independent DKIM check with dkimpy (Debian python3-dkim; python3-nacl for ed25519).
# Usage: verify.py KEYS MESSAGE...   KEYS has lines "selector._domainkey.domain TXT-record".
# Prints one line per signature, "pass ..." or "fail ...", per message; exits 0 only if every
# signature of every message passed. No real DNS: keys come from the KEYS file.
import sys
import dkim

keys = {}
with open(sys.argv[1]) as f:
    for line in f:
        name, _, record = line.strip().partition(" ")
        if name:
            keys[name.lower().rstrip(".")] = record.encode()


def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    return keys.get(name.lower().rstrip("."))


ok = True
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        msg = f.read()
    try:
        d = dkim.DKIM(msg, minkey=1024)
    except Exception as e:
        print("fail %s unparsable %r" % (path, e))
        ok = False
        continue
    n = sum(1 for k, _ in d.headers if k.lower() == b"dkim-signature")
    if n == 0:
        print("fail %s no signature" % path)
        ok = False
    for i in range(n):
        try:
            good = d.verify(idx=i, dnsfunc=dnsfunc)
            why = ""
        except Exception as e:  # dkimpy raises on malformed input
            good, why = False, repr(e)
        print("%s %s sig%d %s" % ("pass" if good else "fail", path, i, why))
        ok = ok and good
sys.exit(0 if ok else 1)
