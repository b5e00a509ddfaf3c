# The boot code's decision table (lib/fwslot.py), the bundle reader
# (firmware/bundle.py) and the installer's checks (firmware/install.py),
# on MicroPython and CPython. Usage: update_check.py DIR BUNDLE
# (a good bundle for the sim board, made by the test with tools/release.py).
import os
import sys
import json
import fwslot
from firmware import install
from firmware.bundle import Reader, BundleError, MAGIC, verify_folder

DIR = sys.argv[1]
BUNDLE = sys.argv[2]


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))


_n = [0]


def fresh(st=None, slots=()):
    data = DIR + "/d%d" % _n[0]
    _n[0] += 1
    os.mkdir(data)
    for s in slots:
        os.mkdir(fwslot.slot_dir(data, s))
        with open(fwslot.slot_dir(data, s) + "/ok", "w") as f:
            f.write("9.9.9")
    if st is not None:
        st.setdefault("base", fwslot.image_id())
        fwslot.write(data, st)
    return data


def boot(data):
    # What one boot decides, without touching the real import path.
    saved = list(sys.path)
    fwslot.chosen, fwslot.trial, fwslot.note = "", False, ""
    s = fwslot.select(data)
    sys.path[:] = saved
    return s, fwslot.trial, fwslot.read(data)


# -- the decision table
s, t, st = boot(fresh())
check("no state: base", s == "" and not t and st is None, (s, t, st))
s, t, st = boot(fresh({"run": "a", "try": "", "n": 0}, ("a",)))
check("confirmed slot runs", s == "a" and not t, (s, t))
s, t, st = boot(fresh({"run": "a", "try": "", "n": 0}))
check("confirmed slot without ok: base", s == "", (s, fwslot.note))
d = fresh({"run": "", "try": "b", "n": 0}, ("b",))
seen = [boot(d)[:2] for _ in range(4)]
check("trial runs three boots then rolls back",
      seen == [("b", True), ("b", True), ("b", True), ("", False)], seen)
st = fwslot.read(d)
check("rollback says why", st["try"] == "" and "reset 3 times" in st["fail"], st)
d = fresh({"run": "a", "try": "b", "n": 3}, ("a", "b"))
s, t, st = boot(d)
check("rollback goes to the confirmed slot", s == "a" and not t and st["run"] == "a", (s, st))
d = fresh({"run": "a", "try": "b", "n": 0, "base": "another image"}, ("a", "b"))
s, t, st = boot(d)
check("a new base by cable drops the slots", s == "" and st["run"] == "" and st["try"] == "",
      (s, st))
d = fresh({"run": "", "try": "b", "n": 0}, ("b",))
boot(d)
ok = fwslot.confirm(d)
st = fwslot.read(d)
check("confirm makes the trial the confirmed slot", ok and st["run"] == "b" and st["try"] == "",
      st)
d = fresh({"run": "", "try": "a", "n": 0}, ("a",))
with open(d + "/fwboot", "r+b") as f:
    f.seek(25)
    f.write(b"X")
s, t, st = boot(d)
check("a damaged state: base", s == "" and st is None, (s, st))

# -- the bundle reader
with open(BUNDLE, "rb") as f:
    good = f.read()


def read(data, chunk=700, folder=None, on_manifest=None):
    folder = folder or fresh()
    r = Reader(folder, on_manifest)
    try:
        for i in range(0, len(data), chunk):
            r.feed(data[i:i + chunk])
        r.finish()
        return r, None
    except BundleError as e:
        r.abort()
        return r, e


r, e = read(good)
check("good bundle reads", e is None and r.manifest["board"] == "sim", e)
folder = fresh()
r, e = read(good, 333, folder)
check("files land with their hashes", e is None and
      verify_folder(folder, r.manifest) is None, e)
r, e = read(good[:len(good) - 10])
check("truncated", e is not None and "ended early" in str(e), e)
r, e = read(good + b"x")
check("trailing bytes", e is not None and e.kind == "format", e)
r, e = read(b"GIF89a" + good)
check("not a bundle", e is not None and "not a firmware bundle" in str(e), e)
bad = bytearray(good)
bad[-5] ^= 1
r, e = read(bytes(bad))
check("a flipped byte fails its hash", e is not None and e.kind == "hash" and
      "does not match its SHA-256" in str(e), e)
mlen = int(good[len(MAGIC):len(MAGIC) + 8], 16)
m = json.loads(good[len(MAGIC) + 9:len(MAGIC) + 9 + mlen])
m["files"][0][0] = "../../etc/passwd.py"
mb = json.dumps(m).encode()
evil = MAGIC + b"%08x\n" % len(mb) + mb + good[len(MAGIC) + 9 + mlen:]
r, e = read(evil)
check("a path out of the slot is refused", e is not None and "bad manifest entry" in str(e), e)


def refuse(m):
    raise BundleError("refused", "no")


r, e = read(good, on_manifest=refuse)
check("the manifest callback can refuse before any file", e is not None and e.kind == "refused"
      and r.manifest is not None, e)

# -- what suits this charger
arch, mpy = install.runtime()
m = dict(r.manifest)
if arch == "py":
    m["arch"] = "py"        # CPython runs source bundles only
check("suits", install.suits(m, "sim") is None, install.suits(m, "sim"))
check("another board", "for the sim board, this charger is rp2040" in
      (install.suits(m, "rp2040") or ""), install.suits(m, "rp2040"))
m2 = dict(m, version="0.0.1")
check("older refused", "older" in (install.suits(m2, "sim") or ""))
check("older allowed", install.suits(m2, "sim", True) is None)
if arch != "py":
    m3 = dict(m, arch="xtensawin")
    check("another CPU", "for xtensawin CPUs" in (install.suits(m3, "sim") or ""))
check("room for it", install.room(DIR, "a", m) is None, install.room(DIR, "a", m))
st = os.statvfs(DIR)
install.RESERVE = st[0] * st[4] + 1     # as if the data already filled the flash
check("flash too full", "too full" in (install.room(DIR, "a", m) or ""),
      install.room(DIR, "a", m))

# -- deltas: only over the base they were made for
from firmware.version import VERSION
from firmware.bundle import check_manifest
md = dict(m, base=VERSION)
check("a delta for this base suits", install.suits(md, "sim") is None, install.suits(md, "sim"))
md = dict(m, base="0.0.7")
check("a delta for another base is refused", "delta for firmware 0.0.7, the firmware frozen "
      "into this charger is %s" % VERSION in (install.suits(md, "sim") or ""),
      install.suits(md, "sim"))
md = dict(m, base=VERSION, files=[["firmware/ocpp/__init__.mpy", 10, "0" * 64]])
check("a delta cannot change a package", "needs the full bundle" in (check_manifest(md) or ""),
      check_manifest(md))


def delta_slot(data, s, base):
    with open(fwslot.slot_dir(data, s) + "/base", "w") as f:
        f.write(base)


d = fresh({"run": "", "try": "b", "n": 0}, ("b",))
delta_slot(d, "b", "0.0.7")
s, t, st = boot(d)
check("a trial delta for another base rolls back", s == "" and not t and
      "slot b is a delta for firmware 0.0.7, the base here is %s" % VERSION in st["fail"],
      (s, st))
d = fresh({"run": "a", "try": "", "n": 0}, ("a",))
delta_slot(d, "a", "0.0.7")
s, t, st = boot(d)
check("a confirmed delta for another base: the base runs", s == "" and st["run"] == "a"
      and "a delta for firmware 0.0.7" in fwslot.note, (s, fwslot.note))
check("the base's version stays the base's", fwslot.base_version() == VERSION,
      fwslot.base_version())
print("DONE")
