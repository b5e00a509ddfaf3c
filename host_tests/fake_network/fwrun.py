"""Run a firmware-side script under MicroPython or CPython in a folder of its
own (the board's flash: setup.py keeps its data in ./data), with the fake
`network` module first on the import path unless told otherwise."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


def paths(board="sim", fake_network=True):
    # build/mplib: umqtt.simple from the pinned micropython-lib (tools/mplib.py).
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import mplib
    p = [ROOT, os.path.join(ROOT, "lib"), os.path.join(ROOT, "boards", board), mplib.path()]
    return ([HERE] if fake_network else []) + p


def command(runtime, script, args=(), board="sim", fake_network=True, env=None, heap_kb=None):
    """(argv, environment) to start the script."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = paths(board, fake_network)
    if runtime == "micropython":
        e["MICROPYPATH"] = ":".join([".frozen"] + p)
        cmd = [MICROPYTHON] + (["-X", "heapsize=%dK" % heap_kb] if heap_kb else [])
    else:
        e["PYTHONPATH"] = os.pathsep.join(p)
        e["PYTHONDONTWRITEBYTECODE"] = "1"
        cmd = [sys.executable]
    return cmd + [str(script)] + [str(a) for a in args], e


def run(runtime, cwd, text, args=(), timeout=60, **kw):
    """Write text to cwd/check.py, run it there; (exit code, stdout + stderr)."""
    script = os.path.join(str(cwd), "check.py")
    with open(script, "w") as f:
        f.write(text)
    cmd, env = command(runtime, script, args, **kw)
    p = subprocess.run(cmd, env=env, cwd=str(cwd), capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def sections(out):
    """{name: text} from lines '== name' that the script prints before each step."""
    res = {}
    name = None
    for line in out.splitlines():
        if line.startswith("== "):
            name = line[3:].strip()
            res[name] = ""
        elif name is not None:
            res[name] += line + "\n"
    return res
