#!/usr/bin/env python3
"""`make soak`: the crash-consistency run of the test suite, longer.

    python tools/soak.py [--cuts 1000] [--runtime micropython|cpython] [--seed N] [--resume]

--resume turns resume_after_power_loss on and keeps the EV plugged in through
the cuts, so transactions live through them instead of ending with PowerLoss.

Charges on the simulated board while cutting the power at random moments and
restarting on the same data directory, then checks at the central system that
every transaction has exactly one StopTransaction, that no reading goes back
and that the billed energy matches the simulated energy within the bound of
firmware/register.py. Prints one line with the counts.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "host_tests"))
from crash import run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cuts", type=int, default=1000)
    ap.add_argument("--runtime", default="micropython", choices=("micropython", "cpython"))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--resume", action="store_true",
                    help="resume_after_power_loss on, the EV plugged in through the cuts")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="evse-soak-") as d:
        report = run(a.cuts, d, a.runtime, a.seed, resume=a.resume)
    print("soak: " + ", ".join("%s %s" % (k, v) for k, v in report.items()))


if __name__ == "__main__":
    main()
