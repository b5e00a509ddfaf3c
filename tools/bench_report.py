"""Figures, targets, notes and the table of tools/bench.py, from its raw runs.

    f = figures(details)        # the summary written under "figures" in bench.json
    f["targets"] = targets(f)   # [{id, target, value, met}]; met None = not measured
    f["notes"] = notes(f, details)   # one line per missed target: why
    print(table(f))
"""
import math


def p99(values):
    """Nearest-rank 99th percentile (with 20 samples: the largest)."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, int(math.ceil(0.99 * len(v))) - 1)]


def _scenario_figures(res):
    if not res or not res.get("ok"):
        return None
    st = res["stats"]
    per_tx = res.get("flash_per_tx") or []
    idle = res.get("idle")
    out = {
        "boot_outside_ms": res.get("boot_outside_ms"),
        "boot_accepted_ms": st.get("boot_accepted_ms"),
        "stall_max_ms": st.get("stall_max_ms"),
        "stall_p99_ms": st.get("stall_p99_ms"),
        "stall_samples": st.get("samples"),
        "baseline_stall_max_ms": (res.get("baseline") or {}).get("stall_max_ms"),
        "baseline_stall_p99_ms": (res.get("baseline") or {}).get("stall_p99_ms"),
        "mem_peak": st.get("mem_peak"),
        "reaction_cb_max_ms": max(res["reactions_cb_ms"]) if res.get("reactions_cb_ms") else None,
        "reaction_cb_p99_ms": p99(res.get("reactions_cb_ms")),
        "reaction_rcd_max_ms": max(res["reactions_rcd_ms"]) if res.get("reactions_rcd_ms") else None,
        "reaction_rcd_p99_ms": p99(res.get("reactions_rcd_ms")),
        "reaction_reps": len(res.get("reactions_cb_ms") or ()),
        "flash_writes_per_tx": max(t["writes"] for t in per_tx) if per_tx else None,
        "flash_bytes_per_tx": max(t["bytes"] for t in per_tx) if per_tx else None,
        "meter_values_per_tx": max(t["meter_values"] for t in per_tx) if per_tx else None,
        "flash_writes_plain_tx": (res.get("flash_plain_tx") or {}).get("writes"),
        "flash_bytes_plain_tx": (res.get("flash_plain_tx") or {}).get("bytes"),
        "flash_writes_per_hour_idle": round(idle["writes"] * 3600.0 / idle["seconds"], 1) if idle else None,
        "flash_bytes_per_hour_idle": round(idle["bytes"] * 3600.0 / idle["seconds"], 1) if idle else None,
        "idle_seconds": idle["seconds"] if idle else None,
        "cs_calls": (res.get("cs_calls") or {}).get("n"),
        "cs_call_rtt_ms_max": (res.get("cs_calls") or {}).get("rtt_ms_max"),
        "frames_sent": st.get("frames_sent"),
        "frames_received": st.get("frames_received"),
        "seconds": res.get("seconds"),
    }
    return out


def _chip_figures(res):
    """The emulated RP2040's figures, in its own emulated time (bench.json "chip")."""
    if not res or not res.get("ok"):
        return None
    st = res["stats"]
    frames = res.get("frame_ms") or {}
    flash = st.get("flash") or {}
    clock = st.get("chip_clock") or {}
    return {
        "frame_ms": frames.get("structured"),
        "frame_flat_ms": frames.get("flat"),
        "stall_max_ms": st.get("stall_max_ms"),
        "stall_p99_ms": st.get("stall_p99_ms"),
        "stall_phase": res.get("stall_phase"),
        "reaction_cb_max_ms": max(res["reactions_cb_ms"]) if res.get("reactions_cb_ms") else None,
        "reaction_rcd_max_ms": max(res["reactions_rcd_ms"]) if res.get("reactions_rcd_ms") else None,
        "reaction_reps": len(res.get("reactions_cb_ms") or ()),
        "burst_frames": (res.get("burst") or {}).get("frames"),
        "mem_free_boot": st.get("mem_free_boot"),
        "mem_free_min": st.get("mem_free_min"),
        "boot_accepted_ms": st.get("boot_accepted_ms"),
        "flash_erases": flash.get("erases"),
        "irq_off_max_ms": flash.get("irqOffMaxMs"),
        "emulated_s": round(clock["ms"] / 1000, 1) if clock.get("ms") else None,
        "flash_writes_per_tx": max(t["writes"] for t in res["flash_per_tx"]) if res.get("flash_per_tx") else None,
        "seconds": res.get("seconds"),
    }


def _reactions(res):
    """The safety phase alone on a board without the pilot comparator."""
    if not res or not res.get("ok"):
        return None
    return {"reaction_cb_max_ms": max(res["reactions_cb_ms"]) if res.get("reactions_cb_ms") else None,
            "reaction_rcd_max_ms": max(res["reactions_rcd_ms"]) if res.get("reactions_rcd_ms") else None,
            "stall_max_ms": res["stats"].get("stall_max_ms")}


def figures(d):
    sc = d["scenario"]
    mp, cp = _scenario_figures(sc.get("micropython")), _scenario_figures(sc.get("cpython"))
    heap = d["heap"]
    ver = heap.get("verify") or {}
    vst = ver.get("stats") or {}
    rt = d["throughput"]
    f = {
        "heap": {
            "mem_peak_default_heap_bytes": mp and mp["mem_peak"],
            "min_heap_kb_mpy": heap["bisection"]["mpy"]["min_kb"],
            "min_heap_kb_py": heap["bisection"]["py"]["min_kb"],
            "full_scenario_heap_kb_mpy": heap.get("full_min_kb"),
            "mem_peak_at_min_heap_bytes": vst.get("mem_peak"),
            "live_peak_bytes": vst.get("live_peak"),
            "live_after_imports_bytes": vst.get("live_after_imports"),
            "stall_max_ms_at_min_heap": vst.get("stall_max_ms"),
            "stall_p99_ms_at_min_heap": vst.get("stall_p99_ms"),
            "baseline_stall_max_ms_at_min_heap": (ver.get("baseline") or {}).get("stall_max_ms"),
            "imports_all_modules_bytes_mpy": d["imports"]["mpy"]["total_bytes"],
            "imports_all_modules_bytes_py": d["imports"]["py"]["total_bytes"],
        },
        "micropython": mp,
        "cpython": cp,
        "throughput_per_s": dict((k, rt[k].get("per_s")) for k in rt if k != "ratios"),
        "client_cpu_us_per_call": dict((k, rt[k].get("cpu_us_per_call")) for k in rt if k != "ratios"),
        "throughput_ratios": rt["ratios"],
        "size": dict((b, d["size"][b]["total_bytes"]) for b in d["size"]),
        "chip": _chip_figures(d.get("chip")),
        "chip_cpu_pilot": _reactions(d.get("chip_cpu_pilot")),
        "twin": {"min_heap_kb": (d.get("twin") or {}).get("min_kb"),
                 "smoke": (d.get("twin") or {}).get("note")},
    }
    return f


def targets(f):
    mp = f["micropython"] or {}
    cp = f["cpython"] or {}
    h, r, s = f["heap"], f["throughput_ratios"], f["size"]
    ch = f.get("chip") or {}
    reacts = [mp.get(k) for k in ("reaction_cb_max_ms", "reaction_rcd_max_ms")]

    def t(ident, text, value, ok):
        return {"id": ident, "target": text, "value": value,
                "met": None if value is None or (isinstance(value, list) and None in value) else ok}
    kb = h["min_heap_kb_mpy"]
    return [
        t("heap", "scenario passes in a 64 KB heap with .mpy", kb, kb is not None and kb <= 64),
        t("stall", "event-loop stall max < 20 ms (MicroPython)", mp.get("stall_max_ms"),
          (mp.get("stall_max_ms") or 0) < 20),
        t("reaction", "contactor opens < 100 ms, always (MicroPython, C->B and RCD)", reacts,
          None not in reacts and max(reacts or [0]) < 100),
        t("reaction_cpython", "contactor opens < 100 ms, always (CPython)",
          [cp.get("reaction_cb_max_ms"), cp.get("reaction_rcd_max_ms")],
          max([cp.get("reaction_cb_max_ms") or 0, cp.get("reaction_rcd_max_ms") or 0]) < 100),
        t("rtt_ocpp", ">= 5x the ocpp package's round trips (CPython)",
          r["charger_cpython_vs_ocpp"], (r["charger_cpython_vs_ocpp"] or 0) >= 5),
        t("rtt_floor", ">= half the websockets+json floor (CPython)",
          r["charger_cpython_vs_floor"], (r["charger_cpython_vs_floor"] or 0) >= 0.5),
        t("flash_idle", "no flash write per hour online and idle (beyond the log)",
          mp.get("flash_writes_per_hour_idle"), mp.get("flash_writes_per_hour_idle") == 0),
        t("flash_tx", "<= 8 writes per online transaction (reference, meter values every 1 s)",
          mp.get("flash_writes_per_tx"), (mp.get("flash_writes_per_tx") or 0) <= 8),
        t("flash_tx_plain", "<= 8 writes per online transaction (no sampled meter values)",
          mp.get("flash_writes_plain_tx"), (mp.get("flash_writes_plain_tx") or 0) <= 8),
        t("size", ".mpy total <= 120 KB (esp32 deploy)", s.get("esp32"),
          (s.get("esp32") or 0) <= 120 * 1024),
        t("chip_reaction_cb", "chip: contactor opens <= 20 ms after EV C->B, under 8/10 KB bursts",
          ch.get("reaction_cb_max_ms"), (ch.get("reaction_cb_max_ms") or 0) <= 20),
        t("chip_reaction_rcd", "chip: contactor opens <= 10 ms after a residual-current trip",
          ch.get("reaction_rcd_max_ms"), (ch.get("reaction_rcd_max_ms") or 0) <= 10),
        t("chip_stall", "chip: event-loop stall max <= 50 ms", ch.get("stall_max_ms"),
          (ch.get("stall_max_ms") or 0) <= 50),
        t("chip_frame", "chip: an 8 KB frame handled in <= 100 ms (last byte in, answer out)",
          [(ch.get("frame_ms") or {}).get("8000"), (ch.get("frame_flat_ms") or {}).get("8000")],
          max((ch.get("frame_ms") or {}).get("8000") or 0,
              (ch.get("frame_flat_ms") or {}).get("8000") or 0) <= 100),
        t("chip_heap", "chip: gc.mem_free() >= 100 KB at its lowest", ch.get("mem_free_min"),
          (ch.get("mem_free_min") or 0) >= 100 * 1024),
        t("twin_heap", "twin: the scenario passes in a 64 KB heap (frozen, 32-bit)",
          f["twin"]["min_heap_kb"], f["twin"]["min_heap_kb"] is not None
          and f["twin"]["min_heap_kb"] <= 64),
    ]


def _v(x, unit=""):
    if x is None:
        return "-"
    if isinstance(x, float):
        x = ("%.2f" % x).rstrip("0").rstrip(".")
    return "%s%s" % (x, unit)


def _pair(a, b, unit=""):
    if a is None and b is None:
        return "-"
    return "%s / %s" % (_v(a, unit), _v(b, unit))


def notes(f, d):
    """One line per missed target: why, from the figures themselves."""
    out = []
    mp = f["micropython"] or {}
    h, rt = f["heap"], f["throughput_per_s"]
    for t in f["targets"]:
        if t["met"] is not False:
            continue
        if t["id"] == "heap":
            loaded = set(((d["heap"].get("verify") or {}).get("stats") or {}).get("modules") or ())
            costs = [(m, n) for m, n in d["imports"]["mpy"]["all"] if not loaded or m in loaded]
            top = ", ".join("%s %d KB" % (m, n // 1024) for m, n in costs[:6])
            out.append("heap: on the 64-bit unix port, %s KB are live right after start.py's "
                       "imports (bytecode of .mpy files loaded into RAM; frozen modules would "
                       "keep it in flash), of a live peak of %s KB; the largest of the "
                       "modules it loads (import cost after gc.collect, approximate): %s"
                       % (_v((h["live_after_imports_bytes"] or 0) // 1024),
                          _v((h["live_peak_bytes"] or 0) // 1024), top))
        elif t["id"] == "rtt_ocpp":
            fl, oc = rt.get("floor_cpython"), rt.get("ocpp_cpython")
            cpu = f["client_cpu_us_per_call"]
            if fl and oc:
                out.append("rtt: the floor (bare websockets+json) is itself only %.1fx the ocpp "
                           "package: the echo server (CPython websockets) caps every client. "
                           "By client CPU per round trip the charger's stack on CPython needs "
                           "%s us, the ocpp package %s us, the floor %s us (%sx less than ocpp)"
                           % (fl / oc, _v(cpu.get("charger_cpython")), _v(cpu.get("ocpp_cpython")),
                              _v(cpu.get("floor_cpython")),
                              _v(f["throughput_ratios"].get("cpu_charger_cpython_vs_ocpp"))))
        elif t["id"] == "flash_tx":
            out.append("flash: each sampled MeterValues costs a queue record and its "
                       "acknowledgement; %s meter values in the reference session"
                       % _v(mp.get("meter_values_per_tx")))
        elif t["id"] == "stall":
            out.append("stall: a bare asyncio loop with the same probe, run beside the firmware "
                       "at the same time, was up to %s ms late (p99 %s ms): that much comes from "
                       "the machine (other processes, scheduling), not the firmware; the phase "
                       "where the maximum was reached: %s"
                       % (_v(mp.get("baseline_stall_max_ms")), _v(mp.get("baseline_stall_p99_ms")),
                          _v(d["scenario"]["micropython"].get("stall_phase"))))
        else:
            out.append("%s: missed (%s)" % (t["id"], _v(t["value"])))
    return out


def table(f):
    mp, cp = f["micropython"] or {}, f["cpython"] or {}
    h, tp, ra = f["heap"], f["throughput_per_s"], f["throughput_ratios"]
    cpu, sz = f["client_cpu_us_per_call"], f["size"]
    rows = []

    def row(name, a, b="n/a"):
        rows.append((name, a, b))

    def both(k1, k2, unit=""):
        return _pair(mp.get(k1), mp.get(k2), unit), _pair(cp.get(k1), cp.get(k2), unit)
    row("heap: peak gc.mem_alloc(), default heap (mostly garbage)",
        _v(h["mem_peak_default_heap_bytes"], " B"))
    row("heap: smallest -X heapsize, .mpy / .py (bisection, SHORT)",
        _pair(h["min_heap_kb_mpy"], h["min_heap_kb_py"], " KB"))
    row("heap: full scenario passes at, .mpy", _v(h["full_scenario_heap_kb_mpy"], " KB"))
    row("heap: live peak (gc.collect every ~100 ms), at that heap", _v(h["live_peak_bytes"], " B"))
    row("heap: live after start.py's imports", _v(h["live_after_imports_bytes"], " B"))
    row("heap: all modules imported, .mpy / .py",
        _pair(h["imports_all_modules_bytes_mpy"], h["imports_all_modules_bytes_py"], " B"))
    row("stall: max / p99 (ms), default heap", *both("stall_max_ms", "stall_p99_ms"))
    row("stall: bare loop beside it, max / p99 (ms): the machine",
        *both("baseline_stall_max_ms", "baseline_stall_p99_ms"))
    row("stall: max / p99 (ms), at the smallest heap (bare loop max)",
        "%s (%s)" % (_pair(h["stall_max_ms_at_min_heap"], h["stall_p99_ms_at_min_heap"]),
                     _v(h["baseline_stall_max_ms_at_min_heap"])))
    reps = _v(mp.get("reaction_reps"))
    row("reaction EV C->B: max / p99 (ms, %s reps)" % reps,
        *both("reaction_cb_max_ms", "reaction_cb_p99_ms"))
    row("reaction RCD fault: max / p99 (ms, %s reps)" % reps,
        *both("reaction_rcd_max_ms", "reaction_rcd_p99_ms"))
    row("round trips/s: the charger's ws.py + rpc.py", _v(tp.get("charger_micropython")),
        _v(tp.get("charger_cpython")))
    row("round trips/s: ocpp package ChargePoint / floor", "n/a",
        _pair(tp.get("ocpp_cpython"), tp.get("floor_cpython")))
    row("round trips: charger vs ocpp / vs floor",
        _pair(ra.get("charger_micropython_vs_ocpp"), ra.get("charger_micropython_vs_floor"), "x"),
        _pair(ra.get("charger_cpython_vs_ocpp"), ra.get("charger_cpython_vs_floor"), "x"))
    row("client CPU per round trip: charger / ocpp / floor (us)",
        _v(cpu.get("charger_micropython")),
        " / ".join(_v(cpu.get(k)) for k in ("charger_cpython", "ocpp_cpython", "floor_cpython")))
    row("flash per online tx, MV every 1 s: writes / bytes (%s MV)"
        % _v(mp.get("meter_values_per_tx")), *both("flash_writes_per_tx", "flash_bytes_per_tx"))
    row("flash per online tx, no sampled MV: writes / bytes",
        *both("flash_writes_plain_tx", "flash_bytes_plain_tx"))
    idle = mp.get("idle_seconds")
    row("flash per hour online idle: writes / bytes (%s s x %s)"
        % (_v(idle), _v(3600 // idle if idle else None)),
        *both("flash_writes_per_hour_idle", "flash_bytes_per_hour_idle"))
    row("size: .mpy a deploy copies, esp32 / rp2040", _pair(sz.get("esp32"), sz.get("rp2040"), " B"))
    row("boot: start -> BootNotification accepted, outside (ms)", _v(mp.get("boot_outside_ms")),
        _v(cp.get("boot_outside_ms")))
    row("boot: boot_accepted_ms, firmware's clock (ms)", _v(mp.get("boot_accepted_ms")),
        _v(cp.get("boot_accepted_ms")))
    w = max(len(r[0]) for r in rows)
    lines = ["%-*s  %-24s %s" % (w, a, b, c) for a, b, c in
             [("figure", "MicroPython", "CPython")] + rows]
    ch = f.get("chip") or {}
    fr, ff = ch.get("frame_ms") or {}, ch.get("frame_flat_ms") or {}
    cpu = f.get("chip_cpu_pilot") or {}
    chip_rows = [
        ("frame handled, last byte in to answer out, median (ms): schedule / flat, by size",
         ", ".join("%s B %s / %s" % (k, _v(fr.get(k)), _v(ff.get(k)))
                   for k in sorted(set(fr) | set(ff), key=int)) or "-"),
        ("event-loop stall, max / p99 (ms; phase of the max)",
         "%s (%s)" % (_pair(ch.get("stall_max_ms"), ch.get("stall_p99_ms")), _v(ch.get("stall_phase")))),
        ("contactor after EV C->B / residual current, max (ms, %s reps each, bursts of %s frames)"
         % (_v(ch.get("reaction_reps")), _v(ch.get("burst_frames"))),
         _pair(ch.get("reaction_cb_max_ms"), ch.get("reaction_rcd_max_ms"))),
        ("same without the pilot comparator (the sampler's interrupt; stall max)",
         "%s (%s)" % (_pair(cpu.get("reaction_cb_max_ms"), cpu.get("reaction_rcd_max_ms")),
                      _v(cpu.get("stall_max_ms")))),
        ("gc.mem_free() after boot / lowest after a collection (B)",
         _pair(ch.get("mem_free_boot"), ch.get("mem_free_min"))),
        ("start -> BootNotification accepted, the firmware's clock (ms)", _v(ch.get("boot_accepted_ms"))),
        ("flash: sector erases / longest time with interrupts masked (ms)",
         _pair(ch.get("flash_erases"), ch.get("irq_off_max_ms"))),
        ("flash writes per online transaction, MV every 1 s", _v(ch.get("flash_writes_per_tx"))),
        ("emulated seconds of the run", _v(ch.get("emulated_s"))),
        ("twin: smallest heap the scenario passes in (KB)", _v(f["twin"]["min_heap_kb"])),
    ]
    cw = max(len(r[0]) for r in chip_rows)
    lines += ["", "the emulated RP2040 (emulated time) and the 32-bit twin:"]
    lines += ["  %-*s  %s" % (cw, a, b) for a, b in chip_rows]
    lines += ["", "targets:"]
    for t in f["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        lines.append("  %-7s %s: %s" % (verdict, t["target"], _v(t["value"])))
    for n in f["notes"]:
        lines.append("  note: " + n)
    return "\n".join(lines)
