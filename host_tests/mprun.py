"""Run a firmware-side script under MicroPython or CPython with the firmware's
import path, and return what it printed."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIMES = ("micropython", "cpython")


def micropython():
    return os.path.join(os.path.dirname(sys.executable), "micropython")


def run(runtime, script, *args, board="sim", timeout=60, heap=None):
    paths = [ROOT, os.path.join(ROOT, "lib"), os.path.join(ROOT, "boards", board),
             os.path.join(ROOT, "host_tests")]
    env = dict(os.environ)
    if runtime == "micropython":
        env["MICROPYPATH"] = ":".join([".frozen"] + paths)
        cmd = [micropython()]
        if heap:
            cmd += ["-X", "heapsize=%dK" % heap]
    else:
        env["PYTHONPATH"] = os.pathsep.join(paths)
        cmd = [sys.executable]
    p = subprocess.run(cmd + [script] + list(args), env=env, capture_output=True,
                       timeout=timeout, cwd=ROOT)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def cases(runtime, script, *args, **kw):
    """Run a script that prints PASS/FAIL lines; returns (passed names, failures, output)."""
    rc, out = run(runtime, script, *args, **kw)
    passed = [l[5:] for l in out.splitlines() if l.startswith("PASS ")]
    failed = [l[5:] for l in out.splitlines() if l.startswith("FAIL ")]
    if rc != 0 or "DONE" not in out:
        failed.append("script exited %d:\n%s" % (rc, out[-3000:]))
    return passed, failed, out
