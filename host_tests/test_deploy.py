"""tools/deploy.py: the version check, the build, and a deploy to the virtual
board (the MicroPython unix port on a pseudo-terminal, driven by mpremote),
which then boots the deployed firmware."""
import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(HERE, "fake_network"))
import deploy  # noqa: E402
from vboard import VirtualBoard  # noqa: E402

DEPLOY = [sys.executable, os.path.join(ROOT, "tools", "deploy.py")]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tree(root):
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root).replace(os.sep, "/")] = sha(p)
    return out


def run_deploy(port, *args, build=None):
    cmd = DEPLOY + ["--port", port] + list(args)
    if build:
        cmd += ["--build", str(build)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture
def vb(tmp_path):
    b = VirtualBoard(tmp_path / "board").start()
    try:
        yield b
    finally:
        b.stop()


# -- pieces --------------------------------------------------------------------

def test_mpy_versions():
    ver, mpy = deploy.mpy_cross_info(deploy.default_mpy_cross())
    assert mpy == (6, 3) and ver.startswith("1.")
    assert deploy.board_mpy(2822) == (6, 3)         # the unix port's sys.implementation._mpy
    assert deploy.board_mpy(6 | (2 << 8) | (10 << 10)) == (6, 2)


def test_mismatch_is_refused_in_one_line():
    cross = ("1.29.0", (6, 3))
    assert deploy.compat_error({"version": "1.29.0", "mpy": 2822}, cross) is None
    old = deploy.compat_error({"version": "1.19.1", "mpy": 5 | (10 << 10)}, cross)
    assert "\n" not in old
    assert "MicroPython 1.19.1, which loads .mpy v5.0" in old
    assert "makes .mpy v6.3" in old and "flash MicroPython 1.29.0" in old and "--source" in old
    none = deploy.compat_error({"version": "1.12.0", "mpy": -1}, cross)
    assert "cannot load .mpy files" in none and "\n" not in none


def test_build_layout(tmp_path):
    files = deploy.build("esp32", str(tmp_path), deploy.default_mpy_cross())
    for p in ("main.py", "lib/board.mpy", "lib/setup.mpy", "lib/compat.mpy", "lib/log.mpy",
              "lib/logfile.mpy", "firmware/__init__.mpy", "firmware/main.mpy",
              "firmware/setup.mpy", "firmware/net.mpy", "lib/umqtt/simple.mpy",
              "firmware/mqtt/link.mpy"):
        assert p in files and os.path.getsize(files[p]) > 0, p
    assert not any("manifest" in p or "README" in p or p.endswith(".py") and p != "main.py"
                   for p in files)
    with open(files["lib/board.mpy"], "rb") as f:
        assert f.read(2) == b"M\x06"                # .mpy v6
    assert sha(files["main.py"]) == sha(os.path.join(ROOT, "boards", "main.py"))
    src = deploy.build("rp2040", str(tmp_path / "s"), deploy.default_mpy_cross(), source=True)
    assert sha(src["lib/board.py"]) == sha(os.path.join(ROOT, "boards", "rp2040", "board.py"))
    with pytest.raises(deploy.DeployError) as e:
        deploy.plan_sources("esp8266")
    assert "choose one of" in str(e.value) and "esp32" in str(e.value)


def test_plan_changes():
    want = {"main.py": "a", "lib/log.mpy": "b", "firmware/x.mpy": "c"}
    have = {"main.py": "a", "lib/log.mpy": "OLD", "lib/log.py": "s", "firmware/gone.mpy": "d",
            "lib/user.py": "u", "lib/was_ours.mpy": "w", "log.py": "r", "deploy.json": "j"}
    copy, stale, warn = deploy.plan_changes(want, have, {"lib/was_ours.mpy"})
    assert copy == ["firmware/x.mpy", "lib/log.mpy"]
    assert stale == ["firmware/gone.mpy", "lib/log.py", "lib/was_ours.mpy"]
    assert len(warn) == 1 and "/log.py on the board shadows lib/log.py" in warn[0]


# -- the virtual board ---------------------------------------------------------

def test_deploy_to_virtual_board_and_boot(vb, tmp_path):
    build = tmp_path / "build"
    r = run_deploy(vb.port, "--board", "esp32", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "board: MicroPython 1.29.0 (.mpy v6.3) on linux" in out and "(virtual board)" in out
    n = len(deploy.plan_sources("esp32"))
    assert "build: %d files for esp32 (.mpy)" % n in out
    assert "copy: %d changed, 0 up to date, 0 stale to remove" % n in out
    assert "verified: %d files match the build" % n in out
    assert "reset: virtual board (unix port) has no reset" in out
    board = tree(vb.root)
    built = tree(build)
    for p in deploy.plan_sources("esp32"):
        assert board[p] == built[p], p
    assert "deploy.json" in board

    # Again: nothing to copy.
    r = run_deploy(vb.port, "--board", "esp32", build=build)
    assert r.returncode == 0 and "copy: 0 changed, %d up to date, 0 stale" % n in r.stdout, r.stdout

    # A damaged file is copied again, leftovers of ours go, the user's stay.
    root = vb.root
    with open(os.path.join(root, "lib", "log.mpy"), "wb") as f:
        f.write(b"junk")
    for p, text in (("firmware/old_module.mpy", b"x"), ("lib/compat.py", b"x = 1\n"),
                    ("lib/userlib.py", b"y = 2\n")):
        with open(os.path.join(root, *p.split("/")), "wb") as f:
            f.write(text)
    r = run_deploy(vb.port, "--board", "esp32", "--dry-run", build=build)
    assert "would copy lib/log.mpy" in r.stdout and "would remove lib/compat.py" in r.stdout
    assert sha(os.path.join(root, "lib", "log.mpy")) != built["lib/log.mpy"]
    r = run_deploy(vb.port, "--board", "esp32", build=build)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "copy: 1 changed, %d up to date, 2 stale to remove" % (n - 1) in r.stdout, r.stdout
    board = tree(root)
    assert board["lib/log.mpy"] == built["lib/log.mpy"]
    assert "firmware/old_module.mpy" not in board and "lib/compat.py" not in board
    assert "lib/userlib.py" in board

    # An mpy-cross that makes another .mpy version: refused before any copy.
    fake = tmp_path / "mpy-cross-old"
    fake.write_text("#!/bin/sh\necho 'MicroPython v1.22.0 on 2024-01-01; "
                    "mpy-cross emitting mpy v6.2'\n")
    fake.chmod(0o755)
    before = tree(root)
    r = run_deploy(vb.port, "--board", "esp32", "--mpy-cross", str(fake), build=tmp_path / "b2")
    assert r.returncode == 1
    err = r.stderr.strip()
    assert err == ("deploy: refused: the board runs MicroPython 1.29.0, which loads .mpy v6.3, "
                   "but this mpy-cross (MicroPython 1.22.0) makes .mpy v6.2: flash MicroPython "
                   "1.22.0 on the board, or deploy with --source"), err
    assert tree(root) == before

    # Power on: main.py starts the deployed firmware, which waits to be configured.
    vb.restart()
    assert vb.wait_output("not configured (missing csms_url, charge_point_id)", 15), vb.output()
    time.sleep(1.5)
    assert vb.alive(), vb.output()
    assert "Traceback" not in vb.output(), vb.output()
    # The deployed setup answers over mpremote (which stops the firmware first).
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "configure.py"), vb.port,
                        "--status"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration: not configured (missing csms_url, charge_point_id)" in r.stdout
    assert "network: host network (no Wi-Fi on this board)" in r.stdout
    assert "firmware stopped (Ctrl-C); contactor open" in vb.output()


def test_source_deploy_replaces_mpy_and_boots(vb, tmp_path):
    r = run_deploy(vb.port, "--board", "rp2040", build=tmp_path / "b1")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_deploy(vb.port, "--board", "rp2040", "--source", build=tmp_path / "b2")
    assert r.returncode == 0, r.stdout + r.stderr
    n = len(deploy.plan_sources("rp2040", source=True))
    # main.py is the same; every .mpy is replaced by its .py.
    assert "copy: %d changed, 1 up to date, %d stale to remove" % (n - 1, n - 1) in r.stdout, \
        r.stdout
    board = tree(vb.root)
    assert not any(p.endswith(".mpy") for p in board), sorted(board)
    assert sha(os.path.join(vb.root, "lib", "board.py")) == \
        sha(os.path.join(ROOT, "boards", "rp2040", "board.py"))
    vb.restart()
    assert vb.wait_output("not configured (missing csms_url, charge_point_id)", 15), vb.output()
    assert vb.alive()


def test_frozen_deploy_is_refused_before_any_change_without_the_frozen_firmware(vb, tmp_path):
    r = run_deploy(vb.port, "--board", "esp32", build=tmp_path / "b1")
    assert r.returncode == 0, r.stdout + r.stderr
    before = tree(vb.root)
    r = run_deploy(vb.port, "--board", "esp32", "--frozen", build=tmp_path / "b2")
    # The unix port behind the virtual board has asyncio frozen, not the firmware.
    assert r.returncode == 1
    assert r.stderr.strip() == ("deploy: the board's MicroPython image has no frozen main.py, "
                                "setup.py, board.py, firmware/main.py: flash an image built with "
                                "boards/esp32/manifest.py (make firmware BOARD=esp32), or deploy "
                                "without --frozen"), r.stderr
    assert "copy:" not in r.stdout
    assert tree(vb.root) == before


def test_frozen_missing_reads_help_modules():
    listing = ("__main__          firmware/main     main              setup\n"
               "board             firmware/__init__ gc                sys\n"
               "Plus any modules on the filesystem\n")
    assert deploy.frozen_missing(listing) == []
    assert deploy.frozen_missing(listing.replace(" main ", " x ")) == ["main"]
    assert deploy.frozen_missing("gc sys\n") == ["main", "setup", "board", "firmware/main"]


def test_frozen_deploy_removes_earlier_deploys(vb, tmp_path, monkeypatch):
    """On an image that has everything frozen (here the image's list is the only
    thing faked): nothing is copied, what earlier deploys left goes, folders too
    (an empty /firmware would shadow the frozen package), the user's files stay."""
    r = run_deploy(vb.port, "--board", "rp2040", build=tmp_path / "b1")
    assert r.returncode == 0, r.stdout + r.stderr
    with open(os.path.join(vb.root, "lib", "userlib.py"), "w") as f:
        f.write("y = 2\n")
    n_old = len(deploy.plan_sources("rp2040"))
    monkeypatch.setattr(deploy, "frozen_missing", lambda text: [])
    lines = []
    assert deploy.deploy("rp2040", vb.port, frozen=True, build_dir=str(tmp_path / "b2"),
                         out=lines.append) == 0
    out = "\n".join(lines)
    assert "image: main.py, the board driver and the firmware are frozen in it" in out, out
    assert "copy: 0 changed, 0 up to date, %d stale to remove" % n_old in out, out
    assert "verified: 0 files match the build, %d of earlier deploys removed" % n_old in out, out
    board = tree(vb.root)
    assert sorted(board) == ["deploy.json", "lib/userlib.py"], sorted(board)
    assert not os.path.exists(os.path.join(vb.root, "firmware"))
    with open(os.path.join(vb.root, "deploy.json")) as f:
        assert json.load(f) == {"board": "rp2040", "mode": "frozen", "files": []}

    # Files copied onto such an image would run mixed with the frozen ones.
    with pytest.raises(deploy.DeployError) as e:
        deploy.deploy("rp2040", vb.port, build_dir=str(tmp_path / "b3"), out=lines.append)
    assert str(e.value) == ("refused: the board's MicroPython image has the firmware frozen "
                            "in, ahead of copied files: flash a new image (make firmware "
                            "BOARD=rp2040), or flash plain MicroPython to deploy files")
    assert sorted(tree(vb.root)) == ["deploy.json", "lib/userlib.py"]

    # A /main.py that is not ours stays, with a warning: it never runs.
    with open(os.path.join(vb.root, "main.py"), "w") as f:
        f.write("print('mine')\n")
    lines = []
    deploy.deploy("rp2040", vb.port, frozen=True, build_dir=str(tmp_path / "b2"),
                  out=lines.append)
    assert any(ln.startswith("warning: /main.py on the board never runs") for ln in lines), lines
    assert "main.py" in tree(vb.root)
