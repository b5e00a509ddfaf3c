#!/usr/bin/env python3
"""Name the emulated chip's hot spots: the program counters emu.js sampled
(EMU_PROFILE=file in its environment) against the image's symbols.

    EMU_PROFILE=/tmp/prof.json python tools/sim.py --runtime rp2040 ...
    python tools/chip/profile.py /tmp/prof.json [--elf build/firmware/rp2040-emu/firmware.elf]

    EMU_STALLS=/tmp/stalls.jsonl python tools/sim.py --runtime rp2040 --probe ...
    python tools/chip/profile.py --stalls /tmp/stalls.jsonl

With --stalls, each event-loop stall of 40 ms or more the probe saw: where the
core's time went in it, in 5 ms steps (the symbol with most samples in each).

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


def _name(syms, addrs, pc):
    if pc < 0x4000:
        return "bootrom"
    i = bisect.bisect_right(addrs, pc & ~1) - 1
    return syms[i][1] if i >= 0 else "?"


def stalls(path, syms, top):
    addrs = [x for x, _ in syms]
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            count = collections.Counter()
            steps = collections.defaultdict(collections.Counter)
            for t, pc in d["samples"]:
                n = _name(syms, addrs, pc)
                count[n] += 1
                steps[int(t // 5)][n] += 1
            total = sum(count.values()) or 1
            print("stall of %d ms at %.1f s (%d erases so far):" % (d["late"], d["ms"] / 1000,
                                                                    d["erases"]))
            print("  " + ", ".join("%s %.0f%%" % (n, 100.0 * c / total)
                                   for n, c in count.most_common(top)))
            print("  " + " ".join(steps[k].most_common(1)[0][0][:14] if steps[k] else "-"
                                  for k in range(max(steps) + 1 if steps else 0)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile")
    ap.add_argument("--elf", default=os.path.join(ROOT, "build", "firmware", "rp2040-emu",
                                                  "firmware.elf"))
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--stalls", action="store_true", help="the file is EMU_STALLS's")
    a = ap.parse_args(argv)
    syms = symbols(a.elf)
    if a.stalls:
        return stalls(a.profile, syms, min(a.top, 8))
    addrs = [x for x, _ in syms]
    count = collections.Counter()
    with open(a.profile) as f:
        for pc, n in json.load(f):
            count[_name(syms, addrs, pc)] += n
    total = sum(count.values()) or 1
    for name, n in count.most_common(a.top):
        print("%5.1f%%  %s" % (100.0 * n / total, name))
    print("%d samples" % total)


if __name__ == "__main__":
    main()
