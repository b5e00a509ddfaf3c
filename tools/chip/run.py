#!/usr/bin/env python3
"""Run a MicroPython script on the emulated RP2040 (the emulator image, with the
firmware frozen in), print what it prints, and stop: for timings and heap
figures taken on the chip itself.

    python tools/chip/run.py script.py [--image firmware.bin]

Times read with time.ticks_us() inside are the chip's (125 MHz, cycle-counted).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import host  # noqa: E402

DONE = b"\x04chip: done"


def run(source, image=None, timeout=600):
    """The script's output (bytes), up to the end marker."""
    import sim
    host.node_modules()
    image = image or sim.chip_image()
    with tempfile.TemporaryDirectory() as d:
        w = os.open(os.devnull, os.O_WRONLY)    # the pin events: not needed here
        p = subprocess.Popen(["node", os.path.join(HERE, "emu.js"), "--bootrom", host.BOOTROM,
                              "--image", image, "--flash", os.path.join(d, "flash.bin"),
                              "--args", json.dumps({"exec": source}), "--events-fd", str(w)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(w,))
        os.close(w)
        out = b""
        try:
            while DONE not in out:
                b = p.stdout.read1(4096)
                if not b:
                    break
                out += b
        finally:
            p.kill()
            p.wait()
    return out.split(DONE)[0].replace(b"\r\n", b"\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("script")
    ap.add_argument("--image", default=None)
    a = ap.parse_args(argv)
    with open(a.script) as f:
        src = f.read()
    sys.stdout.buffer.write(run(src, a.image))
    return 0


if __name__ == "__main__":
    sys.exit(main())
