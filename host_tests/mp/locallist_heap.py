# A local list of LocalAuthListMaxLength (1000) entries built from SendLocalList
# messages as large as SendLocalListMaxLength and the 8 KiB message buffer
# allow, then looked up. test_locallist.py runs it precompiled under MicroPython
# with a 64 KB heap (and under CPython). Each frame is written into the receive
# buffer and parsed from it as firmware/ocpp/rpc.py does, but from a memoryview
# (no copy of the frame) on MicroPython; the RPC layer and the configuration
# registry are left out: loaded from .mpy files, code lives in the heap, and
# store + list + compat + log already take about 37 KB of it here.
# argv[1]: an empty directory. Prints "PASS name" / "FAIL name: why",
# "INFO ..." and "DONE n".
import sys
import gc
import json
import log
from compat import MICROPYTHON
from firmware.store import Store
from firmware.ocpp.locallist import LocalList

ROOT = sys.argv[1]
log.level = log.WARN
results = []
STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
BUF = bytearray(8192)       # the WebSocket client's frame buffer
MV = memoryview(BUF)


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


class Cfg:
    # The registry's defaults for the keys the list reads; firmware/config.py
    # itself is left out to leave the heap to the list.
    def get(self, k):
        return {"LocalAuthListMaxLength": 1000, "SendLocalListMaxLength": 32,
                "SupportedFeatureProfiles": ["Core", "LocalAuthListManagement"],
                "LocalAuthListEnabled": True}[k]


def tag(i):
    # 20 characters, the most an idTag may have; mixed case on purpose.
    return "Tag-%016d" % (i * 7919)


def want(i):
    """The idTagInfo entry i was given (expiry as the list gives it back)."""
    d = {"status": STATUSES[i % 5]}
    if i % 3:
        d["expiryDate"] = "2031-%02d-%02dT%02d:00:00Z" % (i % 12 + 1, i % 28 + 1, i % 24)
    if i % 4:
        d["parentIdTag"] = "Parent-Group-%07d" % (i % 97)
    return d


def entry_json(i, info):
    """AuthorizationData for tag(i) with the idTagInfo of want(info); info None deletes."""
    if info is None:
        return '{"idTag": "%s"}' % tag(i)
    w = want(info)
    s = '"status": "%s"' % w["status"]
    if "expiryDate" in w:
        # Sent with a fraction and an offset: the longest form, given back in UTC.
        s += ', "expiryDate": "%s.123+00:00"' % w["expiryDate"][:-1]
    if "parentIdTag" in w:
        s += ', "parentIdTag": "%s"' % w["parentIdTag"]
    return '{"idTag": "%s", "idTagInfo": {%s}}' % (tag(i), s)


SEQ = [0]


def put(n, text):
    b = text.encode()
    BUF[n:n + len(b)] = b
    return n + len(b)


def send(ll, version, kind, count, item):
    """item(k) -> (tag index, info index or None) for k < count: the list of
    entries is never built here. The frame is written straight into the
    receive buffer, as the WebSocket client leaves it, and parsed as
    firmware/ocpp/rpc.py does; returns (status, frame size)."""
    SEQ[0] += 1
    n = put(0, '[2, "m%d", "SendLocalList", {"listVersion": %d, "updateType": "%s", '
            '"localAuthorizationList": [' % (SEQ[0], version, kind))
    for k in range(count):
        t, i = item(k)
        n = put(n, (", " if k else "") + entry_json(t, i))
    n = put(n, "]}]")
    gc.collect()
    msg = json.loads(MV[:n] if MICROPYTHON else bytes(BUF[:n]))
    p = msg[3]
    msg = None
    return ll.update(p["listVersion"], p["updateType"], p.get("localAuthorizationList")), n


# On a full list, one message deletes 12 entries, replaces 8, adds 12.
def _change(k):
    if k < 12:
        return 4 * k, None
    if k < 20:
        return 4 * (k - 12) + 2, 4 * (k - 12) + 3
    return 2000 + k - 20, 2000 + k - 20


def expected(j):
    if j < 48 and j % 4 == 0:
        return None
    if j < 32 and j % 4 == 2:
        return want(j + 1)
    return want(j)


def build(ll, most, per):
    version = 1
    i = 0
    ok = True
    biggest = 0
    while i < most:
        k = min(per, most - i)
        r, n = send(ll, version, "Full" if i == 0 else "Differential", k, lambda m: (i + m, i + m))
        ok = ok and r == "Accepted"
        biggest = max(biggest, n)
        i += k
        version += 1
    print("INFO %d messages, largest %d bytes" % (version - 1, biggest))
    expect("built_1000_from_messages", ok and ll.count == 1000 and biggest < 8192, (ok, ll.count))
    return version


def check_all(ll):
    bad = []
    for j in range(1000):
        got = ll.lookup(tag(j).upper() if j % 2 else tag(j).lower())
        if got != expected(j):
            bad.append((j, got))
    for j in range(2000, 2012):
        if ll.lookup(tag(j)) != want(j):
            bad.append(j)
    for j in (1000, 1001, 3000, 10 ** 6):
        if ll.lookup(tag(j)) is not None:
            bad.append(j)
    expect("every_entry_looks_up", not bad, bad[:5])


def main():
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        print("INFO heap in use after imports: %d of %d bytes"
              % (gc.mem_alloc(), gc.mem_alloc() + gc.mem_free()))
    store = Store(ROOT)
    cfg = Cfg()
    ll = LocalList(store, cfg)
    most = cfg.get("LocalAuthListMaxLength")
    per = cfg.get("SendLocalListMaxLength")
    expect("limits", most == 1000 and per == 32, (most, per))
    version = build(ll, most, per)

    r, n = send(ll, version, "Differential", 1, lambda k: (5000, 5000))
    expect("entry_1001_failed", r == "Failed" and ll.count == 1000 and ll.version == version - 1, r)
    r, n = send(ll, version, "Differential", 32, lambda k: _change(31 - k))
    expect("differential_on_full_list", r == "Accepted" and ll.count == 1000 and ll.version == version,
           (r, ll.count))
    check_all(ll)

    version += 1
    r, n = send(ll, version, "Full", per, lambda k: (9000 + k, 9000 + k))
    expect("full_replaces_1000", r == "Accepted" and ll.count == per and ll.lookup(tag(5)) is None
           and ll.lookup(tag(9000)) == want(9000), (r, ll.count))
    ll2 = LocalList(store, cfg)
    expect("reopened", ll2.version == version and ll2.count == per)
    if hasattr(gc, "mem_alloc"):
        # What one lookup allocates (a key and a slice per probe, the answer),
        # all garbage once it returns: nothing near the 50 KB of the list.
        t = tag(9017).lower()
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        got = ll.lookup(t)
        used = gc.mem_alloc() - before
        gc.enable()
        expect("lookup_allocates_under_2k", got == want(9017) and used < 2048, (got, used))
        print("INFO one lookup allocates %d bytes; heap in use at the end: %d bytes"
              % (used, gc.mem_alloc()))


main()
print("DONE %d" % len(results))
