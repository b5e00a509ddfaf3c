# Power cuts during local list updates, run under MicroPython and CPython by
# test_locallist.py, which SIGKILLs the "run" process at random moments.
#   locallist_kill.py DIR run      apply updates one after the other until killed:
#                                  odd versions Full, even ones Differential
#   locallist_kill.py DIR check    "STATE version count" and PASS/FAIL: the list on
#                                  flash is exactly what its version says, no mix
import sys
import time
import log
from firmware.store import Store
from firmware.config import Config
from firmware.ocpp.locallist import LocalList, STATUSES

log.level = log.ERROR


def full(v):
    """tag -> idTagInfo of the Full list with (odd) version v."""
    d = {}
    for i in range(10 + v * 7 % 25):
        info = {"status": STATUSES[(i + v) % 5]}
        if i % 2:
            info["expiryDate"] = "2030-01-%02dT00:00:00Z" % (v % 28 + 1)
        d["K%02d" % i] = info
    return d


def diff(v):
    """The Differential update to (even) version v, applied to full(v - 1)."""
    out = []
    for t in sorted(full(v - 1)):
        i = int(t[1:])
        if i % 3 == v % 3:
            out.append({"idTag": t.lower()})
        elif i % 3 == (v + 1) % 3:
            out.append({"idTag": t, "idTagInfo": {"status": "Blocked", "parentIdTag": "V%d" % v}})
    for j in range(3):
        out.append({"idTag": "A%d_%d" % (v, j), "idTagInfo": {"status": "Accepted"}})
    return out


def state(v):
    if v == 0:
        return {}
    if v % 2:
        return full(v)
    d = full(v - 1)
    for e in diff(v):
        t = e["idTag"].upper()
        if "idTagInfo" in e:
            d[t] = e["idTagInfo"]
        else:
            del d[t]
    return d


st = Store(sys.argv[1])
ll = LocalList(st, Config(st))
if sys.argv[2] == "run":
    t0 = time.time()
    v = ll.version + 1
    while time.time() - t0 < 10:
        if v % 2:
            r = ll.update(v, "Full", [{"idTag": t, "idTagInfo": i} for t, i in full(v).items()])
        else:
            r = ll.update(v, "Differential", diff(v))
        if r != "Accepted":
            print("FAIL update %d: %s" % (v, r))
            break
        v += 1
else:
    v = ll.version
    want = state(v)
    bad = [t for t in want if ll.lookup(t) != want[t]]
    print("STATE %d %d" % (v, ll.count))
    if ll.count != len(want) or bad:
        print("FAIL version %d: count %d, want %d; wrong: %r" % (v, ll.count, len(want), bad[:5]))
    else:
        print("PASS consistent")
print("DONE")
