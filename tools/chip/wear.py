#!/usr/bin/env python3
"""Flash wear of online transactions, counted by the firmware and, on the
emulated RP2040, by the flash chip itself.

    python tools/chip/wear.py [--runtime rp2040|micropython|cpython] [--sessions 3]
                              [--readings 5] [--interval 1]

Plays the benchmark's session (tools/bench_scenario.py: plug, tag, charge with
MeterValueSampleInterval=--interval and the benchmark's measurands, tag again,
unplug) --sessions times against the development central system, each until
the central system has --readings sampled readings of it (the chip's clock
runs slower than the PC's, so the benchmark's 5 s of the PC's time are about
half a second of the chip's), and prints per session the store's counters
(files written or records appended, their bytes) and, on the chip, the sector
erases and page programs the flash chip saw (tools/chip/emu.js), each erase
45 ms with the core stalled. The counters are read once the session's messages
are delivered.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.join(os.path.dirname(TOOLS), "host_tests"))

import bench_scenario as bs  # noqa: E402
from csms import CentralSystem  # noqa: E402


def counters(ch):
    st = ch.do("stats")
    clock = st.get("chip_clock") or {}
    return (st["store_writes"], st["store_bytes"], clock.get("erases"), clock.get("pages"))


def settle(ch, before):
    # The chip reports its flash counters every 100 ms of its time: wait for a
    # report taken after the session ended.
    if before[2] is None:
        return counters(ch)
    time.sleep(1.5)
    return counters(ch)


def readings(srv, mark):
    return [m for m in bs._in_calls(srv, "MeterValues", mark) if "transactionId" in m["payload"]]


def session(ch, srv, tag, n, mark):
    ch.do("plug", connector=1)
    ch.do("ev", connector=1, state="C")
    ch.do("rfid", tag=tag)
    ch.wait(lambda s: bs._c1(s)["contactor"], timeout=60, what="charging (%s)" % tag)
    end = time.time() + 60 + 10 * n
    while len(readings(srv, mark)) < n:
        if time.time() > end:
            raise SystemExit("%s: %d of %d readings" % (tag, len(readings(srv, mark)), n))
        time.sleep(0.05)
    # Stopped once the last reading is answered: a Stop queued behind a message
    # in flight costs that message's acknowledgement a write of its own.
    ch.wait(lambda s: s["queue"] == 0, timeout=60, what="readings delivered (%s)" % tag)
    ch.do("rfid", tag=tag)
    ch.wait(lambda s: bs._c1(s)["transaction_id"] is None and not bs._c1(s)["contactor"],
            timeout=60, what="the transaction to stop (%s)" % tag)
    ch.do("unplug", connector=1)
    ch.wait(lambda s: bs._c1(s)["status"] == "Available", timeout=60, what="Available")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtime", default="rp2040", choices=("rp2040", "micropython", "cpython"))
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--readings", type=int, default=5)
    ap.add_argument("--interval", type=int, default=1)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="evse-wear-")
    srv = CentralSystem(port=0)
    srv.start()
    ch = bs.BenchCharger(a.runtime, srv.url, os.path.join(tmp, "flash"), probe=False)
    try:
        ch.start()
        ch.wait(lambda s: s["boot"] == "Accepted", timeout=120, what="BootNotification accepted")
        for key, val in (("MeterValueSampleInterval", str(a.interval)),
                         ("MeterValuesSampledData", bs.MEASURANDS)):
            ans = srv.call(bs.CP, "ChangeConfiguration", {"key": key, "value": val})
            if ans.get("status") != "Accepted":
                raise SystemExit("ChangeConfiguration %s: %s" % (key, ans))
        bs._quiet(ch, "quiet after configuration")
        print("session  writes  bytes  erases  page programs  meter values")
        for i in range(a.sessions):
            w0 = settle(ch, counters(ch))
            mark = srv.mark()
            session(ch, srv, "TAG-%d" % (i + 1), a.readings, mark)
            bs._quiet(ch, "delivery after session %d" % (i + 1))
            w1 = settle(ch, w0)
            mv = readings(srv, mark)
            d = ["-" if x is None else x1 - x for x, x1 in zip(w0, w1)]
            print("%7d  %6s  %5s  %6s  %13s  %12d" % (i + 1, d[0], d[1], d[2], d[3], len(mv)))
    finally:
        if os.environ.get("WEAR_LOG"):
            shutil.copyfile(ch.logfile, os.environ["WEAR_LOG"])
        ch.stop()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
