"""Run a firmware-side script under MicroPython or CPython with the firmware's
import path, and return what it printed."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIMES = ("micropython", "cpython")


def _mplib():
    # umqtt.simple from the pinned micropython-lib (tools/mplib.py).
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import mplib
    return mplib.path()


def micropython():
    return os.path.join(os.path.dirname(sys.executable), "micropython")


def run(runtime, script, *args, board="sim", timeout=60, heap=None):
    paths = [ROOT, os.path.join(ROOT, "lib"), os.path.join(ROOT, "boards", board),
             os.path.join(ROOT, "host_tests"), _mplib()]
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


def must_pass(runtime, script, arg, must, at_least=0):
    """cases() for a script whose every case must pass: none failed, every
    name in `must` ran (a case that silently disappears fails the test instead
    of shrinking it), and at least `at_least` passed. Returns (passed, output)."""
    passed, failed, out = cases(runtime, script, arg)
    assert not failed, "\n".join(failed)
    missing = [m for m in must if m not in passed]
    assert not missing, "cases not run: %s\n%s" % (missing, out[-2000:])
    assert len(passed) >= at_least, out
    return passed, out


def tagged(out, tag):
    """[(action, JSON text)] of the "TAG action json" lines a script printed."""
    return [tuple(l.split(" ", 2)[1:]) for l in out.splitlines() if l.startswith(tag + " ")]
