"""boards/<board>/manifest.py: every path a frozen-firmware manifest names
exists, and together they freeze what a deploy installs."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402

BOARDS = ["esp32", "rp2040"]


def load(board):
    """Run the manifest with the functions of MicroPython's manifestfile.py
    replaced by recorders; relative paths resolve from the manifest's folder."""
    mdir = os.path.join(ROOT, "boards", board)
    calls = []

    def res(p):
        return p if "$(" in p else os.path.normpath(os.path.join(mdir, p))

    def include(path, **kw):
        calls.append(("include", res(path)))

    def freeze(path, script=None, opt=None):
        calls.append(("freeze", res(path), script))

    def package(name, files=None, base_path=".", opt=None):
        calls.append(("package", os.path.join(res(base_path), name), files))

    def module(path, base_path=".", opt=None):
        calls.append(("module", os.path.join(res(base_path), path)))

    def require(name, **kw):
        calls.append(("require", name))

    g = {"include": include, "freeze": freeze, "package": package, "module": module,
         "require": require, "metadata": lambda **kw: None, "options": None}
    with open(os.path.join(mdir, "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), g)
    return calls


@pytest.mark.parametrize("board", BOARDS)
def test_every_path_exists(board):
    calls = load(board)
    assert calls
    for c in calls:
        kind, path = c[0], c[1]
        if kind == "require" or "$(" in path:
            continue            # a name or a path of the MicroPython tree
        if kind in ("package", "freeze"):
            assert os.path.isdir(path), c
        else:
            assert os.path.isfile(path), c


@pytest.mark.parametrize("board", BOARDS)
def test_freezes_what_deploy_installs(board):
    """Each module a .mpy deploy copies is also frozen, under the same name."""
    frozen = set()
    for c in load(board):
        if c[0] == "freeze" and "$(" not in c[1]:
            frozen |= set(f[:-3] for f in os.listdir(c[1]) if f.endswith(".py"))
        elif c[0] == "package":
            base = os.path.dirname(c[1])
            for d, dirs, files in os.walk(c[1]):
                rel = os.path.relpath(d, base).replace(os.sep, ".")
                frozen |= set(rel + "." + f[:-3] for f in files if f.endswith(".py"))
        elif c[0] == "module":
            frozen.add(os.path.basename(c[1])[:-3])
    assert any(c[0] == "include" and "$(" in c[1] for c in load(board)), \
        "the port's own frozen modules (asyncio) must stay"
    for dest in deploy.plan_sources(board):
        if dest == "main.py":
            continue
        name = dest.rsplit(".", 1)[0]
        name = name[4:] if name.startswith("lib/") else name
        name = name.replace("/", ".")
        if name.endswith(".__init__"):
            name = name[:-9]
            assert any(f.startswith(name + ".") for f in frozen), dest
            continue
        assert name in frozen, dest
