"""Installing a release bundle into a slot, without OCPP: which slot, whether
the bundle suits this charger (board, CPU, .mpy version, a newer version, the
flash it needs), and the switch. The boot code (lib/fwslot.py) owns the slot
layout and the state it reads at boot; this module fills a slot and writes
the switch, in one atomic write of that state.

    slot = target()                       the slot that neither runs nor is the fallback
    why = suits(manifest, board_name, allow_downgrade)    None or why not
                                          (a delta: also whether its base is this base)
    clear(data, slot); why = room(data, slot, manifest)
    ... firmware/bundle.Reader writes the files ...
    seal(data, slot, manifest)            manifest.json, then `ok` (the boot code's test)
    why = recheck(data, slot)             every hash again, right before the switch
    switch(data, slot, trial_s)           the next boot tries it
"""
import os
import sys
import json
import fwslot
from firmware.version import VERSION, parse

# sys.implementation._mpy bits 10 and up: the native code this MicroPython
# runs (py/persistentcode.h), as mpy-cross -march names it.
_ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
          "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
RESERVE = 64 * 1024     # flash left for the data after a bundle is in


def runtime():
    """(arch, "major.minor" of .mpy) of this interpreter; ("py", None) on CPython."""
    v = getattr(sys.implementation, "_mpy", None)
    if v is None:
        return "py", None
    i = (v >> 10) & 0x3f
    return (_ARCHS[i] if i < len(_ARCHS) else None), "%d.%d" % (v & 0xff, (v >> 8) & 3)


def suits(m, board_name, allow_downgrade=False):
    if m["board"] != board_name:
        return "the bundle is for the %s board, this charger is %s" % (m["board"][:20], board_name)
    arch, mpy = runtime()
    if m["arch"] != "py":
        if m["arch"] != arch:
            return "the bundle's code is for %s CPUs, this charger runs %s" % (m["arch"][:12], arch)
        if m["mpy"] != mpy:
            return "the bundle holds .mpy v%s, this MicroPython loads v%s" % (m["mpy"][:8], mpy)
    base = m.get("base")
    if base is not None and base != fwslot.base_version():
        # A delta holds only what differs from its base: on any other
        # firmware it would mix two versions.
        return ("the bundle is a delta for firmware %s, the firmware frozen into this "
                "charger is %s: send the full bundle" % (base[:20], fwslot.base_version()))
    new, cur = parse(m["version"]), parse(VERSION)
    if new is None:
        return "the bundle's version %r is not X.Y.Z" % m["version"][:20]
    if new < cur and not allow_downgrade:
        return ("version %s is older than the running %s (setting update_allow_downgrade "
                "allows it)" % (m["version"], VERSION))
    return None


def target(data):
    st = fwslot.read(data) or {}
    for s in fwslot.SLOTS:
        if s != fwslot.chosen and s != st.get("run"):
            return s
    for s in fwslot.SLOTS:
        if s != fwslot.chosen:
            return s


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            _rmtree(p)
            try:
                os.rmdir(p)
            except OSError:
                pass


def _used(path):
    n = 0
    try:
        names = os.listdir(path)
    except OSError:
        return 0
    for name in names:
        p = path + "/" + name
        st = os.stat(p)
        n += _used(p) if st[0] & 0x4000 else st[6]
    return n


def clear(data, slot):
    """Empty the slot, the `ok` marker first: a cut leaves it incomplete."""
    d = fwslot.slot_dir(data, slot)
    try:
        os.remove(d + "/ok")
    except OSError:
        pass
    _rmtree(d)
    try:
        os.mkdir(d)
    except OSError:
        pass


def room(data, slot, m):
    """None, or why the bundle's files do not fit on the flash."""
    try:
        st = os.statvfs(data)
    except (AttributeError, OSError):
        return None
    bs = st[0] or 4096
    free = st[0] * st[4] + _used(fwslot.slot_dir(data, slot))
    # A file takes whole blocks, and its entry in a folder more.
    need = sum([(e[1] + bs - 1) // bs * bs + bs for e in m["files"]]) + RESERVE
    if need > free:
        return ("the flash is too full: the bundle needs %d KB (with %d KB left for data), "
                "%d KB are free" % (need // 1024, RESERVE // 1024, free // 1024))
    return None


def seal(data, slot, m):
    d = fwslot.slot_dir(data, slot)
    with open(d + "/manifest.json", "w") as f:
        json.dump(m, f)
    if m.get("base") is not None:
        # What the boot code reads to run the slot over the base (lib/fwslot.py).
        with open(d + "/base", "w") as f:
            f.write(m["base"])
    with open(d + "/ok", "w") as f:
        f.write(m["version"])


def recheck(data, slot):
    from firmware.bundle import verify_folder
    d = fwslot.slot_dir(data, slot)
    if not fwslot.complete(data, slot):
        return "slot %s is incomplete" % slot
    try:
        with open(d + "/manifest.json") as f:
            m = json.load(f)
    except (OSError, ValueError):
        return "slot %s has no readable manifest" % slot
    return verify_folder(d, m)


def version_of(data, slot):
    try:
        with open(fwslot.slot_dir(data, slot) + "/ok") as f:
            return f.read(20)
    except OSError:
        return None


def switch(data, slot, trial_s):
    st = fwslot.read(data) or {"run": fwslot.chosen}
    st["try"] = slot
    st["n"] = 0
    st["t"] = trial_s
    st["base"] = fwslot.image_id()
    st["fail"] = ""
    fwslot.write(data, st)
