#!/usr/bin/env python3
"""Name the emulated chip's hot spots: the program counters emu.js sampled
(EMU_PROFILE=file in its environment) against the image's symbols.

    EMU_PROFILE=/tmp/prof.json python tools/sim.py --runtime rp2040 ...
    python tools/chip/profile.py /tmp/prof.json [--elf build/firmware/rp2040-emu/firmware.elf]

Frozen Python code runs inside mp_execute_bytecode; time in a viper function
shows under its fun_data_<module> symbol.
"""
import argparse
import bisect
import collections
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def symbols(elf):
    out = subprocess.run(["arm-none-eabi-nm", "-n", "--defined-only", elf], capture_output=True,
                         text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 3 and p[1] in "tTwWrRdD":
            syms.append((int(p[0], 16), p[2]))
    return syms


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile")
    ap.add_argument("--elf", default=os.path.join(ROOT, "build", "firmware", "rp2040-emu",
                                                  "firmware.elf"))
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args(argv)
    syms = symbols(a.elf)
    addrs = [x for x, _ in syms]
    count = collections.Counter()
    with open(a.profile) as f:
        for pc, n in json.load(f):
            i = bisect.bisect_right(addrs, pc & ~1) - 1
            count[syms[i][1] if i >= 0 else "?"] += n
    total = sum(count.values()) or 1
    for name, n in count.most_common(a.top):
        print("%5.1f%%  %s" % (100.0 * n / total, name))
    print("%d samples" % total)


if __name__ == "__main__":
    main()
