#!/usr/bin/env python3
"""`make bench`: the firmware's numbers, measured on this PC.

    python tools/bench.py [--smoke] [--out build/bench.json] [--no-bisect] [--rtt-ms 3000]

Prints a table and writes every figure as JSON to --out (default build/bench.json;
"figures" holds the summary, "targets" the verdicts, "details" the raw runs).
--smoke is the few-second version `make test` runs (host_tests/test_bench_smoke.py):
one short session, a few round trips, one heap check at a fixed size instead of the
bisection, the scenario runs in parallel.

What runs (the reference scenario is in tools/bench_scenario.py):
  size        mpy-cross every file a deploy copies (tools/deploy.py's plan) for esp32
              and rp2040: total .mpy bytes
  throughput  CALL->CALLRESULT per second against an echo central system on
              127.0.0.1 (tools/bench_rpc.py): the charger's stack on MicroPython and
              CPython, the ocpp package's ChargePoint, bare websockets+json (floor)
  scenario    on MicroPython from .mpy files (default heap, probe on) and on CPython:
              boot time, event-loop stall, safety reactions, flash writes; beside each,
              a bare asyncio loop with the same probe measures the machine's own
              lateness (other processes), so a stall can be told from noise
  mqtt        (not with --smoke) the stall while charging with and without MQTT at work,
              on MicroPython and, when it can be built, the emulated RP2040
              (tools/bench_mqtt.py); its own table and "details"/"mqtt"
  heap        smallest -X heapsize= (KB) that passes, by bisection with the scenario's
              SHORT variant (.mpy and .py in parallel), then the full scenario at the
              .mpy minimum (raised in steps until it passes) with a probe that runs
              gc.collect() every ~100 ms: the peak of live data; and the live heap each
              module adds when imported
Targets are reported, never asserted. The exit status is 1 when a scenario that
must pass (default heap, either runtime) failed.
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_heap  # noqa: E402
import bench_mqtt  # noqa: E402
import bench_report  # noqa: E402
import bench_rpc  # noqa: E402
import bench_scenario  # noqa: E402
import sim  # noqa: E402

DEFAULT_OUT = os.path.join(ROOT, "build", "bench.json")
HEAP_LO_KB, HEAP_HI_KB, HEAP_STEP_KB = 32, 1024, 8
SMOKE_HEAP_KB = 1024


def say(text):
    print(text, flush=True)


def _heap(tree, smoke, no_bisect, plan):
    """Bisection (.mpy and .py at once) and the full scenario at the .mpy minimum."""
    out = {"bisection": {}, "verify": None}
    if smoke or no_bisect:
        lo, hi = SMOKE_HEAP_KB - HEAP_STEP_KB, SMOKE_HEAP_KB
        out["note"] = "no bisection: one run at %d KB, an upper bound only" % hi
        short = dict(bench_scenario.SMOKE, idle_s=0, reps=0, plain=False)
        if smoke:
            plan = short
    else:
        lo, hi = HEAP_LO_KB, HEAP_HI_KB
        short = bench_scenario.SHORT

    def one(mpy_dir, label):
        def run_once(kb):
            return bench_scenario.run("micropython", short, mpy_dir=mpy_dir, heap=kb, probe=False)
        if lo != hi - HEAP_STEP_KB and run_once(lo)["ok"]:
            return {"min_kb": lo, "note": "passes at the lowest size tried", "steps": []}
        kb, steps = bench_heap.bisect_heap(run_once, lo, hi, HEAP_STEP_KB,
                                           lambda s: say("  [%s]%s" % (label, s)))
        return {"min_kb": kb, "steps": steps}
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        fm = ex.submit(one, tree, ".mpy")
        fp = ex.submit(one, None, ".py")
        out["bisection"]["mpy"], out["bisection"]["py"] = fm.result(), fp.result()
    kb = out["bisection"]["mpy"]["min_kb"]
    if kb is None:
        return out
    entry = os.path.join(tree, "board", bench_heap.ENTRY)
    for attempt in range(4):
        say("  full scenario at %d KB (.mpy, live-heap probe)" % kb)
        res = bench_scenario.run("micropython", plan, mpy_dir=tree, heap=kb, entry=entry,
                                 baseline=True)
        if res["ok"]:
            break
        say("    failed: %s" % (res.get("first_memory_error") or res["error"])[:140])
        kb += HEAP_STEP_KB
    out["verify"] = res
    out["full_min_kb"] = kb if res["ok"] else None
    return out


def _twin(smoke):
    """The smallest heap at which the scenario passes on the 32-bit twin (the
    firmware frozen, as on a board): bisection with SHORT, then the full
    scenario there, raised until it passes. Smoke: one SMOKE run at the target."""
    out = {"target_kb": bench_scenario.TWIN_HEAP_KB}
    if smoke:
        # At the target, else at twice it: an upper bound, not a minimum.
        for kb in (bench_scenario.TWIN_HEAP_KB, 2 * bench_scenario.TWIN_HEAP_KB):
            res = bench_scenario.run("twin", bench_scenario.SMOKE, heap=kb, probe=False)
            if res["ok"]:
                break
        out["smoke"] = res
        out["min_kb"] = kb if res["ok"] else None
        out["note"] = "smoke: passes at %d KB, an upper bound only" % kb
        return out

    def run_once(kb):
        return bench_scenario.run("twin", bench_scenario.SHORT, heap=kb, probe=False)
    if run_once(HEAP_LO_KB)["ok"]:
        kb, steps = HEAP_LO_KB, []
    else:
        kb, steps = bench_heap.bisect_heap(run_once, HEAP_LO_KB, 256, HEAP_STEP_KB,
                                           lambda t: say("  [twin]" + t))
    out["bisection"] = {"min_kb": kb, "steps": steps}
    if kb is None:
        out["min_kb"] = None
        return out
    for attempt in range(4):
        say("  [twin] full scenario at %d KB" % kb)
        res = bench_scenario.run("twin", bench_scenario.FULL, heap=kb, probe=False)
        if res["ok"]:
            break
        say("    failed: %s" % (res.get("first_memory_error") or res["error"])[:140])
        kb += HEAP_STEP_KB
    out["verify"] = res
    out["min_kb"] = kb if res["ok"] else None
    return out


def _chip(smoke, full=bench_scenario.CHIP, short=bench_scenario.CHIP_SMOKE):
    """A plan on the emulated RP2040: by default the reference scenario with
    the frames timed on the wire and the safety repetitions under bursts of
    big frames."""
    ok, why = sim.images().available("rp2040-emu")
    if not ok:
        return {"ok": False, "error": "no emulator image: %s" % why}
    return bench_scenario.run("rp2040", short if smoke else full, probe=True)


def _chip_cpu_pilot(smoke):
    """The safety phase on the emulated RP2040 without the pilot comparator."""
    return _chip(smoke, bench_scenario.CHIP_CPU_PILOT, bench_scenario.CHIP_CPU_PILOT_SMOKE)


def collect(a):
    smoke = a.smoke
    plan = bench_scenario.SMOKE if smoke else bench_scenario.FULL
    tmp = tempfile.mkdtemp(prefix="evse-bench-tree-")
    d = {}
    try:
        say("bench: compiling the firmware with mpy-cross")
        tree = bench_heap.build_tree(tmp)
        d["size"] = {b: bench_heap.deploy_size(b) for b in ("esp32", "rp2040")}
        say("bench: round trips against the echo central system (%d ms per client)" % a.rtt_ms)
        d["throughput"] = bench_rpc.measure(a.rtt_ms, say)
        say("bench: reference scenario (%s) and heap (%s)" % (
            "smoke" if smoke else "full", "one fixed size" if smoke or a.no_bisect else "bisection"))
        runs = (("micropython", tree), ("cpython", None))
        d["scenario"] = {}
        if smoke:
            # Only the mechanics are checked: everything at once, for time. The
            # chip's figures are in its own emulated time, load or not.
            with concurrent.futures.ThreadPoolExecutor(6) as ex:
                futs = [ex.submit(bench_scenario.run, rt, plan, mpy_dir=t, baseline=True)
                        for rt, t in runs]
                fheap = ex.submit(_heap, tree, smoke, a.no_bisect, plan)
                fchip = ex.submit(_chip, smoke)
                fcpu = ex.submit(_chip_cpu_pilot, smoke)
                ftwin = ex.submit(_twin, smoke)
                for (rt, _t), fut in zip(runs, futs):
                    d["scenario"][rt] = fut.result()
                d["heap"] = fheap.result()
                d["chip"] = fchip.result()
                d["chip_cpu_pilot"] = fcpu.result()
                d["twin"] = ftwin.result()
        else:
            # One at a time: the stall and reaction figures must not share the CPU.
            for rt, t in runs:
                d["scenario"][rt] = bench_scenario.run(rt, plan, mpy_dir=t, baseline=True)
            d["heap"] = _heap(tree, smoke, a.no_bisect, plan)
            say("bench: the emulated RP2040 (the scenario, frames on the wire, bursts)")
            d["chip"] = _chip(smoke)
            say("bench: the emulated RP2040 without the pilot comparator (safety phase)")
            d["chip_cpu_pilot"] = _chip_cpu_pilot(smoke)
            say("bench: the 32-bit twin's smallest heap (bisection)")
            d["twin"] = _twin(smoke)
        for rt, res in list(d["scenario"].items()) + [("rp2040", d["chip"])]:
            say("  %-11s %s in %.1f s %s" % (rt, "pass" if res["ok"] else "FAIL",
                                            res.get("seconds") or 0, (res["error"] or "")[:140]))
        say("  twin        smallest heap %s KB" % d["twin"]["min_kb"])
        d["imports"] = {"mpy": bench_heap.import_costs(tree), "py": bench_heap.import_costs(None)}
        if not smoke:
            say("bench: the stall with MQTT at work (tools/bench_mqtt.py)")
            rts = ["micropython"]
            if sim.images().available("rp2040-emu")[0] and shutil.which("node"):
                rts.append("rp2040")
            d["mqtt"] = bench_mqtt.measure(rts, 30, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return d


def _versions():
    cmd, env = sim.command("micropython", "unused")
    try:
        mpv = subprocess.run([cmd[0], "-c", "import sys; print(sys.version)"], env=env,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        mpv = None
    return {"python": platform.python_version(), "micropython": mpv, "machine": platform.machine(),
            "system": platform.system(), "cpus": os.cpu_count(),
            # Other work on the machine shows in the stall and rate figures.
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="the short version `make test` runs")
    ap.add_argument("--out", default=DEFAULT_OUT, help="JSON output (default build/bench.json)")
    ap.add_argument("--no-bisect", action="store_true", help="one heap check instead of the bisection")
    ap.add_argument("--rtt-ms", type=int, default=None, help="ms per throughput client (3000; smoke 300)")
    a = ap.parse_args(argv)
    if a.rtt_ms is None:
        a.rtt_ms = 300 if a.smoke else 3000
    t0 = time.time()
    host = _versions()
    d = collect(a)
    host["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    f = bench_report.figures(d)
    f["targets"] = bench_report.targets(f)
    f["notes"] = bench_report.notes(f, d)
    doc = {"schema": 1, "mode": "smoke" if a.smoke else "full",
           "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "command": "python tools/bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "seconds": round(time.time() - t0, 1), "host": host,
           "figures": dict((k, v) for k, v in f.items() if k not in ("targets", "notes")),
           "targets": f["targets"], "notes": f["notes"], "details": d}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
    say("")
    say(bench_report.table(f))
    say("")
    if "mqtt" in d:
        say(bench_mqtt.table(d["mqtt"]))
        say("")
    say("bench: %.0f s; figures written to %s" % (doc["seconds"], a.out))
    failed = [rt for rt, res in d["scenario"].items() if not res["ok"]]
    if not d["chip"]["ok"]:
        failed.append("rp2040")
        d["scenario"]["rp2040"] = d["chip"]
    if failed:
        say("bench: the scenario FAILED on %s: %s" % (", ".join(failed), "; ".join(
            d["scenario"][rt]["error"] for rt in failed)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
