#!/usr/bin/env python3
"""Build MicroPython images with the firmware frozen in, from the pinned sources.

    python tools/images.py rp2040|rp2040-emu|twin|esp32 [--verbose]
    (make firmware BOARD=rp2040)

targets (outputs in build/firmware/<target>/):
  rp2040      Raspberry Pi Pico W (ports/rp2, RPI_PICO_W, boards/rp2040/manifest.py):
              firmware.uf2 (copy it onto the RPI-RP2 drive), firmware.elf, firmware.bin
  rp2040-emu  the same chip without the radio, for an RP2040 emulator (ports/rp2,
              RPI_PICO, boards/rp2040/emu/manifest.py): firmware.uf2, .elf, .bin
  twin        the "32-bit twin": the unix port built for i386 with the simulated
              board frozen in (boards/sim/manifest.py): micropython; run it with
              tools/sim.py --runtime twin
  esp32       needs ESP-IDF, which this tool does not drive: prints the commands

The sources are the archives of ../shared/toolchain (override: EVSE_TOOLCHAIN=DIR),
checked against its SHA256SUMS and unpacked once under build/firmware/src (one stamp
per archive). mpy-cross and picotool are built once; each image keeps its port build
folder (build/firmware/<target>/build), so a rebuild after a change of firmware/,
lib/ or boards/ only freezes and links again, and a build with nothing changed
returns at once. One build at a time (a lock on build/firmware/.lock); builds run
under `nice -n 19` with -j2. Needs make, gcc, cmake, arm-none-eabi-gcc with newlib
(rp2040), gcc-multilib (twin).

Python API (tools/ on sys.path):
    import firmware
    ok, why = firmware.available("twin")     # (False, "one line why") when it cannot build;
                                             # available(): every target but esp32
    paths = images.build("rp2040-emu")     # {"uf2": ..., "elf": ..., "bin": ...}
    images.build("twin")["micropython"]
    images.report("rp2040")                # image and GC heap sizes, as printed
build() raises FirmwareError (one line) when it cannot build.

"""
import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLCHAIN = os.environ.get("EVSE_TOOLCHAIN") or os.path.join(os.path.dirname(ROOT), "shared",
                                                              "toolchain")
WORK = os.path.join(ROOT, "build", "firmware")
SRC = os.path.join(WORK, "src")
MPY = os.path.join(SRC, "micropython")
PICOTOOL = os.path.join(WORK, "picotool")           # its install prefix
MICROPYTHON_TAG = "v1.28.0"
JOBS = "-j2"

# (archive in the toolchain folder, where it goes under SRC), parents first.
SOURCES = (
    ("micropython-v1.28.0.tar.xz", "micropython"),
    ("pico-sdk-2.2.0.tar.xz", "micropython/lib/pico-sdk"),
    ("tinyusb-aa0fc2e.tar.xz", "micropython/lib/tinyusb"),
    ("mbedtls-v3.6.2.tar.xz", "micropython/lib/mbedtls"),
    ("micropython-lib-v1.28.0.tar.xz", "micropython/lib/micropython-lib"),
    ("cyw43-driver-055d642.tar.xz", "micropython/lib/cyw43-driver"),
    ("lwip-2.2.1.tar.xz", "micropython/lib/lwip"),
    ("btstack-v1.5.6.2.tar.xz", "micropython/lib/btstack"),
    ("picotool-2.2.0.tar.xz", "picotool"),
)
UPSTREAM = ("MicroPython v1.28.0 with its submodules (git clone --branch v1.28.0 "
            "--recurse-submodules https://github.com/micropython/micropython) and picotool 2.2.0 "
            "(git clone --branch 2.2.0 https://github.com/raspberrypi/picotool)")

FLASH_BYTES = 2 * 1024 * 1024       # the Pico and Pico W carry 2 MB of flash

TARGETS = {
    "rp2040": {"port": "rp2", "board": "RPI_PICO_W", "manifest": "boards/rp2040/manifest.py",
               "outputs": ("uf2", "elf", "bin")},
    "rp2040-emu": {"port": "rp2", "board": "RPI_PICO", "manifest": "boards/rp2040/emu/manifest.py",
                   "outputs": ("uf2", "elf", "bin")},
    # FFI and btree need libffi and berkeley-db, which the pinned sources leave out
    # and the firmware does not use. The unix port's manifest step passes no
    # -march to mpy-cross by itself: the firmware's machine code (lib/jsonscan.py,
    # the WebSocket mask) needs the i386 one.
    "twin": {"port": "unix", "manifest": "boards/sim/manifest.py",
             "vars": ("VARIANT=standard", "MICROPY_FORCE_32BIT=1", "MICROPY_PY_FFI=0",
                      "MICROPY_PY_BTREE=0", "MPY_CROSS_FLAGS=-march=x86"),
             "outputs": ("micropython",)},
    "esp32": {"port": "esp32", "board": "ESP32_GENERIC", "manifest": "boards/esp32/manifest.py"},
}


class FirmwareError(Exception):
    """One line that says what went wrong and what to do."""


def _rel(path):
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def outputs(target):
    """{kind: path} of a target's outputs, built or not."""
    t = _target(target)
    d = os.path.join(WORK, target)
    return dict((k, os.path.join(d, "micropython" if k == "micropython" else "firmware." + k))
                for k in t.get("outputs", ()))


def _target(name):
    if name not in TARGETS:
        raise FirmwareError("no target %r: choose one of %s" % (name, ", ".join(TARGETS)))
    return TARGETS[name]


# -- what is there ------------------------------------------------------------

def _sums():
    """{archive: sha256} from the toolchain's SHA256SUMS."""
    out = {}
    with open(os.path.join(TOOLCHAIN, "SHA256SUMS")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                out[parts[1].lstrip("*")] = parts[0]
    return out


def _sources_missing():
    if not os.path.isdir(TOOLCHAIN):
        return ("no pinned sources at %s: get %s, or set EVSE_TOOLCHAIN to a folder of the "
                "pinned archives" % (_rel(TOOLCHAIN), UPSTREAM))
    try:
        sums = _sums()
    except OSError:
        return "%s has no SHA256SUMS: copy the toolchain folder again" % _rel(TOOLCHAIN)
    for name, _dest in SOURCES:
        if name not in sums or not os.path.exists(os.path.join(TOOLCHAIN, name)):
            return ("%s lacks %s (or its line in SHA256SUMS): get %s"
                    % (_rel(TOOLCHAIN), name, UPSTREAM))
    return None


def _run_quiet(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _compilers_missing(target):
    t = _target(target)
    debian = "gcc-arm-none-eabi libnewlib-arm-none-eabi cmake gcc-multilib build-essential"
    need = ["make", "gcc"]
    if t["port"] == "rp2":
        need += ["cmake", "g++", "arm-none-eabi-gcc"]
    for exe in need:
        if not shutil.which(exe):
            return "%s is not installed: install %s (Debian: apt-get install %s)" % (
                exe, exe, debian)
    # gcc answers with the bare name when it has no such file: the library is missing.
    if t["port"] == "rp2" and not os.path.isabs(
            _run_quiet(["arm-none-eabi-gcc", "-print-file-name=libc.a"])):
        return "arm-none-eabi-gcc has no C library: install newlib (apt-get install %s)" % debian
    if t["port"] == "unix" and not os.path.isabs(
            _run_quiet(["gcc", "-m32", "-print-file-name=crt1.o"])):
        return ("gcc cannot build 32-bit programs: install gcc-multilib (apt-get install %s)"
                % debian)
    return None


def available(target=None):
    """(True, "") when `target` (None: every target but esp32) can be built here,
    else (False, one line why)."""
    try:
        targets = [target] if target else [n for n in TARGETS if n != "esp32"]
        if target and _target(target)["port"] == "esp32":
            return False, _esp32_reason()
    except FirmwareError as e:
        return False, str(e)
    why = _sources_missing()
    for name in targets:
        why = why or _compilers_missing(name)
    return (False, why) if why else (True, "")


# -- the steps ----------------------------------------------------------------

class _Log:
    """Step lines for the user; the tools' own output goes to a log file, or to
    the terminal with --verbose."""

    def __init__(self, say, verbose):
        self.say = say or (lambda s: None)
        self.verbose = verbose

    def run(self, cmd, logfile, env=None, what="make"):
        env = _build_env(env)
        os.makedirs(os.path.dirname(logfile), exist_ok=True)
        with open(logfile, "ab") as out:
            out.write(("\n$ %s\n" % " ".join(cmd)).encode())
            out.flush()
            p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                               stdout=None if self.verbose else out,
                               stderr=None if self.verbose else subprocess.STDOUT)
        if p.returncode != 0:
            tail = _tail(logfile) if not self.verbose else ""
            if tail:
                self.say(tail)
            raise FirmwareError("%s failed (exit %d)%s: see %s" % (
                what, p.returncode, (": " + _last_error(tail)) if tail else "", _rel(logfile)))


def _build_env(extra):
    env = dict(os.environ)
    # `make firmware BOARD=...` passes its variables down in MAKEFLAGS: the ports'
    # Makefiles would take BOARD=rp2040 as their own board.
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "CMAKE_ARGS"):
        env.pop(k, None)
    # The unpacked tree sits inside this project's git work tree: without these the
    # version header would name this project's commit (and change with every one).
    env["GIT_CEILING_DIRECTORIES"] = SRC
    env["MICROPY_GIT_TAG"] = MICROPYTHON_TAG
    try:
        env["SOURCE_DATE_EPOCH"] = str(int(os.path.getmtime(os.path.join(MPY, "py", "mpconfig.h"))))
    except OSError:
        pass
    env.update(extra or {})
    return env


def _tail(logfile, n=15):
    try:
        with open(logfile, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return "\n".join("  | " + ln for ln in lines[-n:])


def _last_error(tail):
    lines = [ln[4:].strip() for ln in tail.splitlines()]
    for ln in reversed(lines):
        if "error" in ln.lower() and not ln.startswith("make"):
            return ln[:200]
    return (lines[-1] if lines else "")[:200]


def _nice(cmd):
    return ["nice", "-n", "19"] + cmd


def _stamp(name):
    return os.path.join(SRC, ".stamps", name + ".sha256")


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, path)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _unpack(log):
    """Unpack every archive whose stamp does not hold its SHA-256 of SHA256SUMS."""
    sums = _sums()
    t0 = time.time()
    done = []
    for name, dest in SOURCES:
        want = sums[name]
        if _read(_stamp(name)) == want:
            continue
        src = os.path.join(TOOLCHAIN, name)
        if _sha256(src) != want:
            raise FirmwareError("%s does not match its SHA256SUMS line: copy the toolchain "
                                "folder again" % _rel(src))
        target = os.path.join(SRC, dest)
        if os.path.exists(target):
            shutil.rmtree(target)
        # What was unpacked inside it (the submodules of micropython/) went too.
        for other, odest in SOURCES:
            if odest.startswith(dest + "/"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(_stamp(other))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".unpack-", dir=SRC)
        try:
            with tarfile.open(src) as tf:
                if hasattr(tarfile, "tar_filter"):
                    tf.extractall(tmp, filter="tar")
                else:
                    tf.extractall(tmp)
            tops = os.listdir(tmp)
            if len(tops) != 1:
                raise FirmwareError("%s holds %d top folders, expected one" % (name, len(tops)))
            os.rename(os.path.join(tmp, tops[0]), target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _write(_stamp(name), want)
        done.append(name)
    if done:
        # Unpacked files keep the archive's times, which can be older than what
        # was built from the sources they replace: make would keep the old build.
        for name in TARGETS:
            shutil.rmtree(_port_build_dir(name), ignore_errors=True)
        shutil.rmtree(PICOTOOL, ignore_errors=True)
        log.say("  sources: unpacked %d archive(s) in %.0f s" % (len(done), time.time() - t0))


# Fixes the pinned sources need, applied after unpacking: (file under micropython/,
# text, replacement, why). Each is checked, so a new release that fixed it stops
# the build with a clear line instead of building something else.
PATCHES = (
    ("tools/mpy-tool.py",
     'self.fun_data_attributes += " __attribute__ ((aligned (2)))"',
     'self.fun_data_attributes += " __attribute__ ((aligned (4)))"',
     # Frozen Thumb native code is aligned to 2 bytes, but a jump of over 2 KB
     # in it loads its offset PC-relative as if the code were word-aligned: on
     # an RP2040 such a function crashes when the linker puts it at 2 mod 4.
     "frozen armv6m native code word-aligned"),
)


def _patch(log):
    changed = False
    for rel, old, new, why in PATCHES:
        path = os.path.join(MPY, rel)
        with open(path) as f:
            text = f.read()
        if old not in text:
            if new in text:
                continue            # patched already
            raise FirmwareError("%s no longer has what the build patches (%s): check PATCHES in "
                                "tools/images.py against this MicroPython" % (_rel(path), why))
        with open(path, "w") as f:
            f.write(text.replace(old, new, 1))
        log.say("  sources: patched %s (%s)" % (rel, why))
        changed = True
    if changed:
        # What was frozen before the patch is not rebuilt by make on its own.
        for name in TARGETS:
            shutil.rmtree(_port_build_dir(name), ignore_errors=True)


def _mpy_cross(log):
    exe = os.path.join(MPY, "mpy-cross", "build", "mpy-cross")
    if os.path.exists(exe):
        return exe
    t0 = time.time()
    log.run(_nice(["make", "-C", os.path.join(MPY, "mpy-cross"), JOBS]),
            os.path.join(WORK, "mpy-cross.log"), what="mpy-cross build")
    log.say("  mpy-cross: built in %.0f s" % (time.time() - t0))
    return exe


def _picotool_dir():
    return os.path.join(PICOTOOL, "lib", "cmake", "picotool")


def _picotool(log):
    """Build and install picotool, which the rp2 build needs to make the .uf2; given
    to it through CMAKE_ARGS, it does not try to fetch one from the network."""
    if os.path.exists(os.path.join(_picotool_dir(), "picotoolConfig.cmake")):
        return _picotool_dir()
    t0 = time.time()
    bdir = os.path.join(WORK, "picotool-build")
    logfile = os.path.join(WORK, "picotool.log")
    shutil.rmtree(bdir, ignore_errors=True)
    log.run(_nice(["cmake", "-S", os.path.join(SRC, "picotool"), "-B", bdir,
                   "-DPICO_SDK_PATH=" + os.path.join(MPY, "lib", "pico-sdk"),
                   "-DPICOTOOL_NO_LIBUSB=1", "-DCMAKE_BUILD_TYPE=Release",
                   "-DCMAKE_INSTALL_PREFIX=" + PICOTOOL]), logfile, what="picotool cmake")
    log.run(_nice(["make", "-C", bdir, JOBS, "install"]), logfile, what="picotool build")
    if not os.path.exists(os.path.join(_picotool_dir(), "picotoolConfig.cmake")):
        raise FirmwareError("picotool installed no cmake package in %s: see %s"
                            % (_rel(_picotool_dir()), _rel(logfile)))
    log.say("  picotool: built and installed in %.0f s" % (time.time() - t0))
    return _picotool_dir()


def _port_build_dir(target):
    return os.path.join(WORK, target, "build")


def make_command(target):
    """(argv, extra environment) of the port build, without `nice`."""
    t = _target(target)
    manifest = os.path.join(ROOT, t["manifest"])
    argv = ["make", "-C", os.path.join(MPY, "ports", t["port"]), JOBS]
    env = {}
    if t["port"] == "rp2":
        argv += ["BOARD=" + t["board"]]
        # In the environment: on make's command line CMAKE_ARGS would replace the
        # port Makefile's own, the board among them, and build RPI_PICO silently.
        env["CMAKE_ARGS"] = "-Dpicotool_DIR=" + _picotool_dir()
    argv += list(t.get("vars", ()))
    argv += ["FROZEN_MANIFEST=" + manifest, "BUILD=" + _port_build_dir(target)]
    return argv, env


def _inputs(target):
    """A hash of everything the image is made of: the pinned sources, the build
    command and every file of firmware/, lib/ and boards/."""
    h = hashlib.sha256()
    with open(os.path.join(TOOLCHAIN, "SHA256SUMS"), "rb") as f:
        h.update(f.read())
    h.update(repr(PATCHES).encode())
    argv, env = make_command(target)
    h.update(repr((argv, sorted(env.items()))).encode())
    for top in ("firmware", "lib", "boards"):
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for name in sorted(files):
                if name.endswith(".pyc"):
                    continue
                p = os.path.join(d, name)
                h.update(os.path.relpath(p, ROOT).encode() + b"\0")
                with open(p, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


@contextlib.contextmanager
def _locked(log):
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, ".lock"), "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.say("  waiting for another build to finish (build/firmware/.lock)")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _copy(src, dest):
    # Through a new file and a rename: a twin that is running keeps its own copy.
    tmp = dest + ".tmp"
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)


def build(target, say=None, verbose=False):
    """Build `target` if anything it is made of changed; {kind: path} of its
    outputs. say: a function that takes the progress lines (None: silent)."""
    t = _target(target)
    log = _Log(say, verbose)
    if t["port"] == "esp32":
        raise FirmwareError(_esp32_reason())
    why = _sources_missing()
    if why:
        raise FirmwareError(why)
    out = outputs(target)
    with _locked(log):
        stampfile = os.path.join(WORK, target, "inputs.sha256")
        fp = _inputs(target)
        if _read(stampfile) == fp and all(os.path.exists(p) for p in out.values()):
            log.say("  %s: up to date" % target)
            return out
        why = _compilers_missing(target)
        if why:
            raise FirmwareError(why)
        _unpack(log)
        _patch(log)
        _mpy_cross(log)
        if t["port"] == "rp2":
            _picotool(log)
        argv, env = make_command(target)
        logfile = os.path.join(WORK, target, "build.log")
        with contextlib.suppress(FileNotFoundError):
            os.remove(logfile)
        t0 = time.time()
        log.say("  %s: %s (log: %s)" % (target, " ".join(argv).replace(ROOT + os.sep, ""),
                                         _rel(logfile)))
        log.run(_nice(argv), logfile, env=env, what="the %s build" % target)
        built = _port_build_dir(target)
        for kind, dest in out.items():
            name = "micropython" if kind == "micropython" else "firmware." + kind
            src = os.path.join(built, name)
            if not os.path.exists(src):
                raise FirmwareError("the %s build made no %s: see %s" % (target, name,
                                                                        _rel(logfile)))
            _copy(src, dest)
        _write(stampfile, fp)
        log.say("  %s: built in %.0f s" % (target, time.time() - t0))
    return out


# -- what came out ------------------------------------------------------------

def _storage_bytes(board):
    """The board's filesystem size, MICROPY_HW_FLASH_STORAGE_BYTES of its mpconfigboard.h."""
    path = os.path.join(MPY, "ports", "rp2", "boards", board, "mpconfigboard.h")
    text = _read(path) or ""
    m = re.search(r"MICROPY_HW_FLASH_STORAGE_BYTES\s+\(?\s*(\d+)\s*\*\s*1024\s*\)?", text)
    return int(m.group(1)) * 1024 if m else None


def gc_heap(elf):
    """(start, end) of the GC heap from the ELF symbols __GcHeapStart/__GcHeapEnd."""
    p = subprocess.run(["arm-none-eabi-nm", elf], capture_output=True, text=True)
    syms = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in ("__GcHeapStart", "__GcHeapEnd"):
            syms[parts[2]] = int(parts[0], 16)
    if len(syms) != 2:
        raise FirmwareError("%s has no __GcHeapStart/__GcHeapEnd symbols" % _rel(elf))
    return syms["__GcHeapStart"], syms["__GcHeapEnd"]


def uf2_extent(path):
    """Bytes of flash a .uf2 covers, from the flash's start to its highest block's end."""
    with open(path, "rb") as f:
        data = f.read()
    lo = hi = None
    for off in range(0, len(data) - 511, 512):
        addr, size = int.from_bytes(data[off + 12:off + 16], "little"), \
            int.from_bytes(data[off + 16:off + 20], "little")
        lo = addr if lo is None else min(lo, addr)
        hi = addr + size if hi is None else max(hi, addr + size)
    return (hi - lo) if lo is not None else 0


def report(target):
    """The sizes of a built target, as lines to print, and as a dict."""
    t = _target(target)
    out = outputs(target)
    info = {}
    lines = []
    if t["port"] == "rp2":
        info["image_bytes"] = os.path.getsize(out["bin"])
        info["uf2_flash_bytes"] = uf2_extent(out["uf2"])
        start, end = gc_heap(out["elf"])
        info["gc_heap_bytes"] = end - start
        info["fs_bytes"] = _storage_bytes(t["board"])
        lines.append("  flash: %s (copy it onto the RPI-RP2 drive)" % _rel(out["uf2"]))
        room = FLASH_BYTES - info["fs_bytes"] if info["fs_bytes"] else None
        lines.append("  image: %s bytes%s" % (format(info["image_bytes"], ","), (
            ", %d KB free of the %d KB the 2 MB flash keeps beside its %d KB filesystem" % (
                (room - info["uf2_flash_bytes"]) // 1024, room // 1024, info["fs_bytes"] // 1024))
            if room else ""))
        lines.append("  GC heap: %s bytes (__GcHeapStart 0x%08x to __GcHeapEnd 0x%08x)"
                      % (format(info["gc_heap_bytes"], ","), start, end))
    else:
        info["image_bytes"] = os.path.getsize(out["micropython"])
        lines.append("  image: %s, %s bytes (i386)" % (
            _rel(out["micropython"]), format(info["image_bytes"], ",")))
        lines.append("  GC heap: 1024 KB unless -X heapsize=NK says otherwise "
                     "(tools/sim.py --runtime twin --heap KB)")
    return lines, info


# -- ESP32 --------------------------------------------------------------------

def _esp32_reason():
    todo = "run the commands `make firmware BOARD=esp32` prints"
    if shutil.which("idf.py"):
        return "esp32: this tool does not drive ESP-IDF builds: %s" % todo
    return ("esp32: no ESP-IDF here (idf.py is not on PATH): on a machine with ESP-IDF v5.5.1, "
            "%s" % todo)


def esp32_commands():
    manifest = os.path.join(ROOT, TARGETS["esp32"]["manifest"])
    return [
        "To build the ESP32 image (ESP32_GENERIC, firmware frozen in) with ESP-IDF v5.5.1 "
        "(v5.3 to v5.4.2 work too):",
        "  git clone --branch %s --recurse-submodules https://github.com/micropython/micropython"
        % MICROPYTHON_TAG,
        "  cd micropython && . $IDF_PATH/export.sh && idf.py --version",
        "  make -C mpy-cross",
        "  make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=%s" % manifest,
        "  esptool.py --chip esp32 --port /dev/ttyUSB0 erase_flash",
        "  esptool.py --chip esp32 --port /dev/ttyUSB0 --baud 460800 write_flash -z 0x1000 "
        "ports/esp32/build-ESP32_GENERIC/firmware.bin",
    ]


# What `make test` builds before the tests start, so that no test waits on a
# build inside its own time limit (the emulated chip's tests, the twin's).
BEFORE_TESTS = ("twin", "rp2040-emu", "rp2040")


def before_tests():
    """Build the images the suite uses, one after the other; say in one line why
    not where the toolchain is missing (the tests that need it then say so)."""
    for target in BEFORE_TESTS:
        ok, why = available(target)
        if not ok:
            print("firmware: %s not built before the tests: %s" % (target, why), flush=True)
            continue
        t0 = time.time()
        try:
            build(target, say=lambda s: None)
        except FirmwareError as e:
            print("firmware: %s: %s" % (target, e), file=sys.stderr)
            return 1
        dt = time.time() - t0
        if dt > 1:
            print("firmware: %s built in %.0f s" % (target, dt), flush=True)
    return 0


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv == ["--before-tests"]:
        return before_tests()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", choices=sorted(TARGETS))
    ap.add_argument("--verbose", action="store_true",
                    help="show the compilers' output instead of writing it to a log")
    a = ap.parse_args(argv)
    if a.target == "esp32":
        for line in esp32_commands():
            print(line)
        print("firmware: " + _esp32_reason(), file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        print("firmware: %s (%s)" % (a.target, TARGETS[a.target]["manifest"]), flush=True)
        build(a.target, say=lambda s: print(s, flush=True), verbose=a.verbose)
        lines, _info = report(a.target)
    except FirmwareError as e:
        print("firmware: %s" % e, file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    print("firmware: %s done in %.1f s" % (a.target, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
