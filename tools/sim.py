#!/usr/bin/env python3
"""Run the firmware on the simulated board, as a charger on this PC.

    python tools/sim.py [--runtime micropython|cpython|twin|rp2040] [--csms URL] [--id ID]
                        [--data DIR] [--connectors N] [--control PORT] [--heap KB]

--data DIR is the board's flash: every persisted file lives there, so running
again with the same DIR is a reboot. --control PORT opens the JSON-lines control
channel on 127.0.0.1 (see README). The firmware process is restarted on the same
DIR when it resets itself (OCPP Reset); a power cut ends this launcher too, with
the exit status of the killed process.

--runtime twin runs the "32-bit twin" (tools/images.py twin, built first when
anything it is made of changed): the unix port for i386 with the firmware and
this board frozen in, started as `micropython -m start`, nothing of the source
tree on its import path. Its sys.path starts with "" (the working directory), so
it runs in an empty folder: a folder named like a frozen module (firmware/, as in
this repository's root) would be imported instead.

On micropython and cpython the micropython-lib modules the firmware uses
(umqtt.simple, for MQTT) come from the pinned archive (tools/mplib.py, into
build/mplib); the twin and the chip have them frozen in.

--board OPTION=JSON sets an option of the simulated board (boards/README.md),
e.g. --board phase_switch=true; on rp2040, of the chip's board driver.

--runtime rp2040 runs the real rp2 port in an emulated RP2040 (tools/chip/), the
emulator image built first in the same way; the chip's flash is DATA/flash.bin.
--heap does not apply (the chip's heap is what the port leaves), nor do .mpy
trees or more than one connector. CHIP_IMAGE in the environment names another
image (one built by hand, to compare).
"""
import argparse
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESET_EXIT = 3
RUNTIMES = ("micropython", "cpython", "twin", "rp2040")
_IMAGE = {"twin": "twin", "rp2040": "rp2040-emu"}


def images():
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import images
    return images


def twin_exe():
    return images().outputs("twin")["micropython"]


def chip_image():
    if os.environ.get("CHIP_IMAGE"):
        return os.environ["CHIP_IMAGE"]
    return images().outputs("rp2040-emu")["bin"]


def prepare(runtime, say=None):
    """Before command(): the twin or the emulator image is built, or rebuilt
    when its sources changed."""
    if runtime in _IMAGE and not (runtime == "rp2040" and os.environ.get("CHIP_IMAGE")):
        tool = images()
        try:
            tool.build(_IMAGE[runtime], say=say)
        except tool.FirmwareError as e:
            raise SystemExit("sim: cannot build the %s image: %s" % (runtime, e))


def workdir(runtime):
    """The working directory a firmware process of `runtime` needs (None: any)."""
    if runtime != "twin":
        return None
    d = os.path.join(os.path.dirname(twin_exe()), "run")
    os.makedirs(d, exist_ok=True)
    if os.listdir(d):
        raise SystemExit("sim: %s must stay empty (the twin imports from it ahead of its "
                         "frozen modules): remove what is in it" % d)
    return d


def mplib_path():
    """build/mplib (tools/mplib.py): umqtt.simple for the unfrozen runtimes."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import mplib
    try:
        return mplib.path()
    except mplib.MplibError as e:
        raise SystemExit("sim: %s" % e)


def micropython_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(exe):
        return exe
    return "micropython"


def command(runtime, data, csms=None, ident=None, connectors=1, control=0, heap=None,
            probe=False, mpy_dir=None, sets=(), ev=None, entry=None, board=(), clock=None):
    """The command line and environment that start one firmware process (run it
    in workdir(runtime)). entry: a script to run instead of start.py. board:
    options of the board, "name=json" (the simulated board's, or on rp2040 the
    chip's driver's). clock "unset": the board's RTC starts at the embedded
    ports' epoch, as after a power loss (the emulated chip's RTC always does
    what the rp2 port's does)."""
    # mpy_dir: a tree of precompiled .mpy modules (firmware/, lib/ and the
    # board's) to run instead of the sources, as on a board.
    if mpy_dir:
        paths = [mpy_dir, os.path.join(mpy_dir, "lib"), os.path.join(mpy_dir, "board")]
    else:
        paths = [ROOT, os.path.join(ROOT, "lib"), os.path.join(ROOT, "boards", "sim")]
    if runtime in ("micropython", "cpython"):
        paths.append(mplib_path())
    start = os.path.join(ROOT, "boards", "sim", "start.py")
    if mpy_dir:
        # The entry script's folder comes first on the path: it must be the
        # precompiled tree's, or the sources would be imported instead.
        start = os.path.join(mpy_dir, "board", "start.py")
    if entry:
        start = entry
    args = ["--data", os.path.abspath(data), "--connectors", str(connectors),
            "--control", str(control)]
    if csms:
        args += ["--csms", csms]
    if ident:
        args += ["--id", ident]
    if probe:
        args += ["--probe", "1"]
    for kv in sets:
        args += ["--set", kv]
    if ev:
        args += ["--ev", ev]
    if clock == "unset":
        args += ["--clock", "unset"]
    if runtime != "rp2040":
        for kv in board:
            args += ["--board", kv]
    env = dict(os.environ)
    if runtime == "micropython":
        env["MICROPYPATH"] = ":".join([".frozen"] + paths)
        cmd = [micropython_exe()]
        if heap:
            cmd += ["-X", "heapsize=%dK" % heap]
        return cmd + [start] + args, env
    if runtime == "cpython":
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        return [sys.executable, start] + args, env
    if runtime == "twin":
        # The frozen modules only: the firmware as a board runs it.
        env["MICROPYPATH"] = ".frozen"
        cmd = [twin_exe()]
        if heap:
            cmd += ["-X", "heapsize=%dK" % heap]
        return cmd + ([entry] if entry else ["-m", "start"]) + args, env
    if runtime == "rp2040":
        if connectors != 1:
            raise SystemExit("--runtime rp2040 has one connector, as the board")
        cmd = [sys.executable, os.path.join(HERE, "chip", "host.py"), "--image", chip_image(),
               "--data", data, "--control", str(control)]
        for flag, val in (("--csms", csms), ("--id", ident), ("--ev", ev)):
            if val:
                cmd += [flag, val]
        if probe:
            cmd += ["--probe"]
        for kv in sets:
            cmd += ["--set", kv]
        for kv in board:
            cmd += ["--board", kv]
        return cmd, env
    raise SystemExit("--runtime must be one of %s" % ", ".join(RUNTIMES))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtime", default="micropython", choices=RUNTIMES,
                    help="twin: the 32-bit unix port with the firmware frozen in; rp2040: the "
                         "emulated chip")
    ap.add_argument("--csms", default="ws://127.0.0.1:9000", help="central system URL")
    ap.add_argument("--id", default="sim-1", help="charge point identity")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "sim-1"),
                    help="directory that plays the board's flash")
    ap.add_argument("--connectors", type=int, default=1)
    ap.add_argument("--control", type=int, default=0, help="control channel TCP port (0 = off)")
    ap.add_argument("--heap", type=int, default=None, help="MicroPython heap in KB")
    ap.add_argument("--probe", action="store_true",
                    help="measure event-loop lateness and heap (control command stats)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a configuration key at start, e.g. --set free_vend=true (repeatable)")
    ap.add_argument("--ev", default=None, choices=("B", "C"),
                    help="an EV plugged in on every connector at power-up, in this state (one "
                         "that stayed connected through a power cut)")
    ap.add_argument("--clock", default="host", choices=("host", "unset"),
                    help="unset: the board's RTC starts at 2000-01-01T00:00:00Z on every start, "
                         "as a board without a battery after a power loss (rp2040: the chip's "
                         "RTC always starts where the rp2 port sets it, 2021-01-01)")
    ap.add_argument("--board", action="append", default=[], metavar="OPTION=JSON",
                    help="a board option (boards/README.md), e.g. --board phase_switch=true "
                         "(repeatable)")
    ap.add_argument("--mpy", default=None, metavar="DIR",
                    help="run precompiled .mpy modules from DIR (see tools/bench.py)")
    a = ap.parse_args(argv)
    if not 1 <= a.connectors <= 8:
        ap.error("--connectors must be 1..8")
    os.makedirs(a.data, exist_ok=True)
    prepare(a.runtime, say=lambda s: print("sim: " + s.strip(), flush=True))
    cwd = workdir(a.runtime)
    cmd, env = command(a.runtime, a.data, a.csms, a.id, a.connectors, a.control, a.heap,
                       a.probe, a.mpy, a.set, a.ev, board=a.board, clock=a.clock)
    child = None

    def forward(sig, _frame):
        if child and child.poll() is None:
            child.send_signal(sig)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        child = subprocess.Popen(cmd, env=env, cwd=cwd)
        rc = child.wait()
        if rc == RESET_EXIT:
            print("sim: firmware reset; restarting on the same data directory", flush=True)
            continue
        if rc < 0:
            # Killed by a signal (a power cut): report it as the shell would.
            return 128 - rc
        return rc


if __name__ == "__main__":
    sys.exit(main())
