"""The boot code: which firmware runs. The one part of the firmware that an
update never replaces (tools/release.py leaves it out of every bundle), so it
stays small and imports nothing but built-in modules: whatever it imported
from the firmware would stay loaded from the old version (the base's version
module, read at select(), is dropped again at once).

Flash layout, in the data folder (store.FILES):
    fwa/, fwb/   the two slots: a whole version each (firmware/ and lib/ as .mpy
                 or .py, its manifest.json), or a delta (only the modules that
                 differ from the base, and the file `base` naming the base's
                 version), and the file `ok`, written last when every file checked
    fwboot       this state, a checked store file (firmware/store.py format)
The base is the firmware the image froze in (or a USB deploy copied); it is
what runs when no slot is chosen, and the last resort.

State: {"run": confirmed slot ("" base), "try": slot on trial ("" none),
"n": boots of the trial so far, "t": seconds a trial has to confirm,
"base": the image it was installed over, "fail": why the last trial was
rolled back ("" none)}.

Each boot, select(data) decides, from the state (MAX_TRIAL_BOOTS = 3):
    no state, or one that does not check     the base
    "base" is not this image                  the base; state cleared (a new
                                              image or deploy came by cable)
    a trial, n < 3                            n + 1 written, then the trial slot
    a trial, n >= 3                           rollback: trial dropped, "fail" set,
                                              then the confirmed slot (or base)
    a confirmed slot                          that slot (the base if its `ok` is gone)
The chosen slot's folder and its lib/ go first on sys.path, ahead of the
frozen modules and the deployed ones, so the whole version comes from it.

A delta's base is always the base firmware (never another slot): its
top-level modules come from its lib/, first on sys.path as above, and each
module of a package (firmware.ocpp.fwupdate) through an import hook that
looks for it in the slot's folder of that package, the package itself and
its other modules staying the base's. The base's version is read before any
slot is on the path (base_version()), so no slot's own version.py can pose as
the base; a delta made for another base is not used (a trial of one is
rolled back).

While on trial, guard(board) (a task the start script creates) rolls back and
resets when the firmware has not confirmed within "t" seconds, and stopped()
does it at once when the firmware ends (an error at start). The firmware
confirms with confirm(data) once BootNotification is accepted and the EVSE
controllers run (firmware/ocpp/fwupdate.py).
"""
import os
import sys
import json
import binascii

SLOTS = ("a", "b")
MAX_TRIAL_BOOTS = 3
STATE = "fwboot"

chosen = ""         # the slot this boot runs ("" the base)
delta = None        # ... when a delta: {module name: its package's folder in the slot}
_base = None        # the base's version, read before a slot went on the path
trial = False       # ... on trial
note = ""           # what select() did, for the firmware's log
_data = "data"


def slot_dir(data, s):
    return data + "/fw" + s


def image_id():
    """The base firmware: the MicroPython image it runs in."""
    try:
        return os.uname().version
    except AttributeError:      # CPython
        return sys.version.split()[0]


def _crc(b):
    try:
        return binascii.crc32(b) & 0xffffffff
    except AttributeError:      # a port without it: the length check only
        return None


def read(data):
    """The state, or None when there is none or it does not check."""
    try:
        with open(data + "/" + STATE, "rb") as f:
            raw = f.read(1024)
    except OSError:
        return None
    try:
        n = int(raw[3:11], 16)
        body = raw[21:]
        crc = _crc(body)
        if raw[:3] != b"S1 " or len(body) != n or (crc is not None and crc != int(raw[12:20], 16)):
            return None
        st = json.loads(body)
    except ValueError:
        return None
    return st if isinstance(st, dict) else None


def write(data, st):
    """Replace the state in one atomic rename (littlefs)."""
    body = json.dumps(st).encode()
    crc = _crc(body) or 0
    p = data + "/" + STATE
    with open(p + ".tmp", "wb") as f:
        f.write(("S1 %08x %08x\n" % (len(body), crc)).encode())
        f.write(body)
    os.rename(p + ".tmp", p)


def complete(data, s):
    try:
        os.stat(slot_dir(data, s) + "/ok")
        return True
    except OSError:
        return False


def _delta_base(data, s):
    """The base version a delta slot was made for; None for a whole version."""
    try:
        with open(slot_dir(data, s) + "/base") as f:
            return f.read(40).strip()
    except OSError:
        return None


def base_version():
    """The version of the base firmware (frozen into the image, or deployed)."""
    if _base is None:
        # The base runs: its version module is the one imported.
        from firmware.version import VERSION
        return VERSION
    return _base


def _read_base():
    # The boot code's one import of the firmware: only here, before a slot is
    # on the path, is firmware.version the base's module for sure. It
    # leaves sys.modules again so that a slot's own version is the one
    # imported later (the package goes too: a whole slot brings its own).
    global _base
    try:
        from firmware.version import VERSION
        _base = VERSION
    except ImportError:
        _base = ""
    for n in ("firmware.version", "firmware"):
        if n in sys.modules:
            del sys.modules[n]


def _unusable(data, s):
    """None, or why slot s cannot run on this base."""
    if not complete(data, s):
        return "slot %s is incomplete" % s
    want = _delta_base(data, s)
    if want is not None and _base is None:
        _read_base()
    if want is not None and want != _base:
        return ("slot %s is a delta for firmware %s, the base here is %s"
                % (s, want, _base))
    return None


def select(data="data"):
    """Decide what runs and put it first on the import path; call before
    importing anything of the firmware or the board."""
    global trial, note, _data
    _data = data
    st = read(data)
    if st is None:
        note = "base firmware"
        return ""
    if st.get("base") != image_id():
        note = "a new base firmware was installed by cable: slots no longer used"
        write(data, {"run": "", "try": "", "n": 0, "base": image_id(), "fail": ""})
        return ""
    s = st.get("try") or ""
    why = _unusable(data, s) if s in SLOTS else None
    if s in SLOTS and why is None:
        if st.get("n", 0) < MAX_TRIAL_BOOTS:
            st["n"] = st.get("n", 0) + 1
            write(data, st)
            trial = True
            note = "slot %s on trial, boot %d of %d" % (s, st["n"], MAX_TRIAL_BOOTS)
            return _use(data, s)
        rollback(data, "reset %d times on trial" % st["n"], st)
        st = read(data) or {}
    elif s:
        rollback(data, why or "slot %s is incomplete" % s, st)
    s = st.get("run") or ""
    why = _unusable(data, s) if s in SLOTS else None
    if s in SLOTS and why is None:
        note = note or "slot %s" % s
        return _use(data, s)
    note = note or ("%s: base firmware" % why if s else "base firmware")
    return ""


def _use(data, s):
    global chosen, note, delta
    if _base is None:
        _read_base()
    d = slot_dir(data, s)
    sys.path.insert(0, d + "/lib")
    if _delta_base(data, s) is None:
        sys.path.insert(0, d)
    else:
        delta = {}
        _modules(d, "firmware", delta)
        _hook()
        note += " (a delta on %s)" % _base
    chosen = s
    return s


def _modules(d, rel, out):
    # Every module in the slot's packages: name -> the folder it is in.
    try:
        names = os.listdir(d + "/" + rel)
    except OSError:
        return
    for n in names:
        p = d + "/" + rel + "/" + n
        if os.stat(p)[0] & 0x4000:
            _modules(d, rel + "/" + n, out)
        elif n.endswith(".mpy") or n.endswith(".py"):
            out[(rel + "/" + n.rsplit(".", 1)[0]).replace("/", ".")] = p.rsplit("/", 1)[0]


_orig = None


def _hook():
    # MicroPython looks for a package's module only in the one folder the
    # package's __path__ names; for a delta's module that folder is the slot's
    # while it is found, and the base's again for every other module.
    global _orig
    import builtins
    _orig = builtins.__import__
    builtins.__import__ = _import


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    # The firmware imports by absolute names; a relative import goes the usual
    # way, from the base.
    if not level:
        if name in delta and name not in sys.modules:
            _load(name)
        # (MicroPython's `from a import b` may ask again for "a.b" with
        # fromlist True.)
        for f in fromlist if isinstance(fromlist, (tuple, list)) else ():
            n = name + "." + f
            if n in delta and n not in sys.modules:
                _load(n)
    return _orig(name, globals, locals, fromlist, level)


def _load(name):
    pkg = name.rsplit(".", 1)[0]
    _import(pkg)
    p = sys.modules[pkg]
    was = p.__path__
    p.__path__ = delta[name] if isinstance(was, str) else [delta[name]]
    try:
        _orig(name, None, None, (), 0)
    finally:
        p.__path__ = was


def rollback(data, why, st=None):
    """Drop the trial: the confirmed slot runs from the next boot."""
    global note
    st = st if st is not None else (read(data) or {})
    st["fail"] = "slot %s: %s" % (st.get("try"), why)
    st["try"] = ""
    st["n"] = 0
    write(data, st)
    note = "rolled back: " + st["fail"]


def confirm(data=None):
    """The trial slot becomes the confirmed one (one atomic write)."""
    global trial
    data = data or _data
    st = read(data)
    if st is None or not trial or st.get("try") != chosen:
        return False
    st["run"] = chosen
    st["try"] = ""
    st["n"] = 0
    st["fail"] = ""
    write(data, st)
    trial = False
    return True


def stopped():
    """The firmware ended (an error at start): on trial, roll back; True
    when the caller must reset."""
    if not trial:
        return False
    rollback(_data, "the firmware stopped at start")
    print("fwslot: " + note + "; resetting")
    return True


async def guard(board, limit_s=None):
    """On trial: roll back and reset unless confirmed within the trial time."""
    if not trial:
        return
    import asyncio
    st = read(_data) or {}
    left = limit_s or st.get("t") or 600
    while left > 0 and trial:
        await asyncio.sleep(1)
        left -= 1
    if trial:
        rollback(_data, "not confirmed within %d s (BootNotification accepted, "
                 "EVSE controllers running)" % (limit_s or st.get("t") or 600))
        print("fwslot: " + note + "; resetting")
        board.reset()
