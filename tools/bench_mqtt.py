#!/usr/bin/env python3
"""The event-loop stall with MQTT at work, on MicroPython's unix port and on
the emulated RP2040 (tools/chip/), measured by the benchmark's probe
(boards/sim/probe.py: a task that asks to wake every 5 ms and records how late
it wakes).

    python tools/bench_mqtt.py [--seconds 20] [--runtime micropython|cpython|rp2040 ...]

Each runtime charges a car for --seconds twice, against the bundled central
system on 127.0.0.1: once without MQTT, once with a local mosquitto
(tools/broker.py) while a solar controller publishes a new current limit every
second and the charger publishes its telemetry; the probe's statistics are
cleared when charging starts. Timings on the chip are its own (125 MHz,
cycle-counted), so there the two runs compare the firmware alone; on the PC
other processes show in both, and a bare asyncio loop with the same probe runs
beside each (bench_scenario's baseline): its figures are the machine's own.
tools/bench.py runs this after its scenario.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from bench_scenario import BenchCharger, Failed, CP, _baseline_start, _baseline_stop  # noqa: E402
from broker import Broker  # noqa: E402
from csms import CentralSystem  # noqa: E402

PREFIX = "evse/" + CP


def _c1(st):
    return st["connectors"][0]


def run(runtime, seconds=20, mqtt=True):
    """One charge of `seconds`; a dict with the probe's figures (ok, error)."""
    tmp = tempfile.mkdtemp(prefix="evse-bench-mqtt-")
    srv = CentralSystem(port=0)
    srv.start()
    broker = Broker().start() if mqtt else None
    board = ("has_feedback=true",) if runtime == "rp2040" else ()
    ch = BenchCharger(runtime, srv.url, os.path.join(tmp, "flash"), board=board)
    res = {"runtime": runtime, "mqtt": mqtt, "seconds": seconds, "ok": False, "error": None}
    base = None
    try:
        ch.start()
        ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=120, what="online")
        ch.do("set", key="free_vend", value="true")
        w = None
        if mqtt:
            ch.do("set", key="mqtt_url", value=broker.url)
            ch.wait(lambda s: s["mqtt"] == "connected", timeout=60, what="MQTT connected")
            w = broker.watch(PREFIX + "/#")
            w.wait(PREFIX + "/status", timeout=30)
        ch.do("plug", connector=1)
        ch.do("ev", connector=1, state="C")
        ch.wait(lambda s: _c1(s)["contactor"], timeout=60, what="charging")
        time.sleep(1)
        if runtime != "rp2040":
            base = _baseline_start(runtime, tmp)
        ch.do("stats", clear=True)
        t0 = time.time()
        sent = 0
        while time.time() - t0 < seconds:
            if w is not None:
                w.publish(PREFIX + "/set/current_a", str(10 + sent % 3))
                sent += 1
            time.sleep(1)
        st = ch.do("stats")
        if base is not None:
            res["baseline"] = _baseline_stop(base)
            base = None
        res.update({"stall_max_ms": st.get("stall_max_ms"), "stall_p99_ms": st.get("stall_p99_ms"),
                    "samples": st.get("samples"), "mem_peak": st.get("mem_peak"),
                    "limits_sent": sent})
        if w is not None:
            res["published_by_charger"] = len(w.since(t0))
            want = 10 + (sent - 1) % 3
            ch.wait(lambda s: _c1(s)["offered_a"] == want, timeout=20, what="the last limit")
        res["ok"] = True
    except (Failed, AssertionError, OSError, ValueError) as e:
        res["error"] = "%s: %s" % (e.__class__.__name__, str(e).splitlines()[0] if str(e) else "")
        res["log_tail"] = ch.tail()
    finally:
        if base is not None:
            base.kill()
            base.wait()
        ch.stop()
        srv.stop()
        if broker is not None:
            broker.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def measure(runtimes=("micropython", "rp2040"), seconds=20, say=print):
    out = {}
    for rt in runtimes:
        for mqtt in (False, True):
            key = "%s%s" % (rt, "+mqtt" if mqtt else "")
            say("bench: %s charging %d s%s" % (rt, seconds, " with MQTT" if mqtt else ""))
            out[key] = run(rt, seconds, mqtt)
            if not out[key]["ok"]:
                say("  FAIL: %s" % out[key]["error"])
    return out


def table(m):
    rows = ["| runtime | MQTT | stall max / p99 (ms) | bare loop beside it, max / p99 (ms) "
            "| probe samples | limits in / telemetry out |",
            "| --- | --- | --- | --- | --- | --- |"]
    for key, r in m.items():
        if not r["ok"]:
            rows.append("| %s | %s | failed: %s | | | |" % (
                r["runtime"], "on" if r["mqtt"] else "off", (r["error"] or "")[:60]))
            continue
        b = r.get("baseline")
        rows.append("| %s | %s | %s / %s | %s | %s | %s |" % (
            r["runtime"], "on" if r["mqtt"] else "off", r["stall_max_ms"], r["stall_p99_ms"],
            "%s / %s" % (b["stall_max_ms"], b["stall_p99_ms"]) if b else "- (the chip's clock)",
            r["samples"], "%d / %d" % (r["limits_sent"], r["published_by_charger"])
            if r["mqtt"] else "-"))
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--runtime", action="append", default=None,
                    choices=("micropython", "cpython", "twin", "rp2040"))
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    a = ap.parse_args(argv)
    m = measure(a.runtime or ("micropython", "rp2040"), a.seconds)
    print(table(m))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(m, f, indent=1, sort_keys=True)
    return 0 if all(r["ok"] for r in m.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
