"""The frozen-module manifests (boards/<board>/manifest.py, the emulator's and the
twin's): every path they name exists, the boards' images freeze what a deploy
installs and a main.py that starts the charger, and the emulator's image freezes
the firmware exactly as the Pico W's does."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402

MANIFESTS = {"esp32": "boards/esp32/manifest.py", "rp2040": "boards/rp2040/manifest.py",
             "rp2040-emu": "boards/rp2040/emu/manifest.py", "twin": "boards/sim/manifest.py"}
BOARDS = ["esp32", "rp2040"]        # the ones tools/deploy.py installs on


def load(image):
    """Run the manifest with the functions of MicroPython's manifestfile.py
    replaced by recorders, following include() of this repository's manifests as
    makemanifest.py does: relative paths resolve from the folder of the manifest
    that names them. Paths into the MicroPython tree ($(...)) are recorded only."""
    calls = []

    def run(path):
        mdir = os.path.dirname(path)

        def res(p):
            return p if "$(" in p else os.path.normpath(os.path.join(mdir, p))

        def include(p, **kw):
            p = res(p)
            if "$(" not in p and os.path.isdir(p):
                p = os.path.join(p, "manifest.py")
            calls.append(("include", p))
            if "$(" not in p:
                run(p)

        def freeze(p, script=None, opt=None):
            calls.append(("freeze", res(p), script))

        def package(name, files=None, base_path=".", opt=None):
            calls.append(("package", os.path.join(res(base_path), name), files))

        def module(p, base_path=".", opt=None):
            calls.append(("module", os.path.join(res(base_path), p)))

        def require(name, **kw):
            calls.append(("require", name))

        g = {"include": include, "freeze": freeze, "package": package, "module": module,
             "require": require, "metadata": lambda **kw: None, "options": None}
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), g)

    run(os.path.join(ROOT, MANIFESTS[image]))
    return calls


def frozen(image):
    """{module name: source file} of what the manifest freezes from this repository."""
    out = {}

    def add(name, path):
        assert name not in out, "%s frozen twice: %s and %s" % (name, out[name], path)
        out[name] = path
    for c in load(image):
        if c[0] == "freeze" and "$(" not in c[1]:
            for f in sorted(os.listdir(c[1])):
                if f.endswith(".py"):
                    add(f[:-3], os.path.join(c[1], f))
        elif c[0] == "package":
            base = os.path.dirname(c[1])
            for d, dirs, files in os.walk(c[1]):
                dirs[:] = [x for x in dirs if x != "__pycache__"]
                rel = os.path.relpath(d, base).replace(os.sep, ".")
                for f in files:
                    if f.endswith(".py"):
                        name = rel if f == "__init__.py" else rel + "." + f[:-3]
                        add(name, os.path.join(d, f))
        elif c[0] == "module":
            add(os.path.basename(c[1])[:-3], c[1])
        elif c[0] == "require":
            # A package of the pinned micropython-lib, e.g. umqtt.simple.
            add(c[1], "micropython-lib " + c[1])
    return out


@pytest.mark.parametrize("image", sorted(MANIFESTS))
def test_every_path_exists(image):
    calls = load(image)
    assert calls
    for c in calls:
        kind, path = c[0], c[1]
        if kind == "require" or "$(" in path:
            continue            # a name or a path of the MicroPython tree
        if kind in ("package", "freeze"):
            assert os.path.isdir(path), c
        else:
            assert os.path.isfile(path), c
    assert any(c[0] == "include" and "$(" in c[1] for c in calls), \
        "the port's own frozen modules (asyncio) must stay"


@pytest.mark.parametrize("board", BOARDS)
def test_freezes_what_deploy_installs_and_main(board):
    """Each module a .mpy deploy copies is also frozen, under the same name, and
    boards/main.py is frozen as main: the image starts the charger by itself."""
    names = frozen(board)
    assert names["main"] == os.path.join(ROOT, "boards", "main.py")
    for dest in deploy.plan_sources(board):
        if dest == "main.py":
            continue
        name = dest.rsplit(".", 1)[0]
        name = name[4:] if name.startswith("lib/") else name
        name = name.replace("/", ".")
        if name.endswith(".__init__"):
            name = name[:-9]
        assert name in names, dest
    assert names["board"] == os.path.join(ROOT, "boards", board, "board.py")


def test_emulator_image_freezes_the_pico_w_firmware_and_its_modules():
    pico_w = frozen("rp2040")
    emu = frozen("rp2040-emu")
    mods = os.path.join(ROOT, "boards", "rp2040", "emu", "modules")
    own = dict((f[:-3], os.path.join(mods, f)) for f in os.listdir(mods) if f.endswith(".py"))
    assert "main" in own
    del pico_w["main"]
    # ... and the test channel and probe the simulated board has too.
    sim = os.path.join(ROOT, "boards", "sim")
    own.update(dict((m, os.path.join(sim, m + ".py")) for m in ("control", "probe")))
    assert emu == dict(pico_w, **own)
    assert ("include", "$(PORT_DIR)/boards/manifest.py") in load("rp2040-emu")


def test_twin_freezes_the_firmware_and_the_sim_board():
    names = frozen("twin")
    sim = os.path.join(ROOT, "boards", "sim")
    for m in ("board", "control", "ev", "probe", "start"):
        assert names[m] == os.path.join(sim, m + ".py")
    for m in ("firmware", "firmware.main", "setup", "compat", "ws", "log"):
        assert m in names, m
    assert "main" not in names and "mport" not in names
    assert ("include", "$(PORT_DIR)/variants/standard/manifest.py") in load("twin")
