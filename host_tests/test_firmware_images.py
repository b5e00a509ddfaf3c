"""tools/images.py: MicroPython images with the firmware frozen in, built from
the pinned sources of ../shared/toolchain (the first build of each takes a minute
or two; later ones return at once). The 32-bit twin runs a charging session; the
emulator's and the Pico W's images are checked as files."""
import fcntl
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import bench_scenario  # noqa: E402
import deploy  # noqa: E402
import sim  # noqa: E402
import test_e2e_core as core  # noqa: E402

fw = sim.images()
TOOL = [sys.executable, os.path.join(ROOT, "tools", "images.py")]
TWIN_HEAP_KB = 128      # the unix port loading .mpy files needs 320 KB (make bench)


def need(target):
    """Skip where the toolchain is missing; CI has it, so there it is a failure."""
    ok, why = fw.available(target)
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="session")
def twin():
    need("twin")
    return fw.build("twin")


@pytest.fixture(scope="session")
def emu():
    need("rp2040-emu")
    return fw.build("rp2040-emu")


@pytest.fixture(scope="session")
def pico_w():
    need("rp2040")
    return fw.build("rp2040")


def frozen_names(image):
    """The frozen modules' file names, from the NUL-separated list the image carries."""
    with open(image, "rb") as f:
        data = f.read()
    return set(n.decode("latin-1") for n in data.split(b"\0") if n.endswith(b".py"))


def run_twin(exe, code, cwd):
    p = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=30, cwd=cwd,
                       env=dict(os.environ, MICROPYPATH=".frozen"))
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


# -- the twin ------------------------------------------------------------------

def test_twin_is_32_bit_with_the_firmware_frozen(twin, tmp_path):
    exe = twin["micropython"]
    assert exe == sim.twin_exe() and os.access(exe, os.X_OK)
    with open(exe, "rb") as f:
        assert f.read(5) == b"\x7fELF\x01"          # ELFCLASS32
    # Nothing but the frozen modules on the path: each import below is frozen.
    out = run_twin(exe, "import sys\nprint(sys.maxsize == 2**31 - 1, sys.implementation._mpy)\n"
                   "sys.path[:] = ['.frozen']\n"
                   "import firmware.main, board, control, ev, probe, setup, compat, ws, ssl\n"
                   "import umqtt.simple, firmware.mqtt.service\n"
                   "import asyncio\nprint(firmware.main.__file__, board.__file__)\n", tmp_path)
    lines = out.split("\n")
    big, mpy = lines[0].split()
    assert big == "True" and deploy.board_mpy(int(mpy)) == (6, 3), out   # as mpy-cross makes
    assert lines[1] == "firmware/main.py board.py", out
    assert not os.path.exists(tmp_path / "firmware")
    # The frozen list as a board's image shows it: the twin has no main.py, so a
    # frozen deploy to it would be refused for that.
    assert deploy.frozen_missing(run_twin(exe, "help('modules')", tmp_path)) == ["main"]


def test_twin_command_runs_the_frozen_start_only(twin):
    cmd, env = sim.command("twin", "data", heap=96)
    assert cmd[:4] == [twin["micropython"], "-X", "heapsize=96K", "-m"] and cmd[4] == "start"
    assert env["MICROPYPATH"] == ".frozen"
    assert cmd[cmd.index("--data") + 1] == os.path.abspath("data")
    d = sim.workdir("twin")
    assert os.path.isdir(d) and os.listdir(d) == []
    cmd, env = sim.command("twin", "data", entry="/x/bench_entry.py")
    assert cmd[1:3] == ["/x/bench_entry.py", "--data"]


@pytest.fixture
def runtime():
    return "twin"


@pytest.fixture
def make_charger(make_charger):
    """The conftest's, on the twin, with a small heap."""
    made = []

    def make(url, **kw):
        kw.setdefault("heap", TWIN_HEAP_KB)
        c = make_charger(url, **kw)
        made.append(c)
        return c
    make.made = made
    return make


def test_charging_session_on_the_twin(twin, csms, make_charger):
    core.test_tag_first_session_with_meter_values_and_stop_by_tag(csms, make_charger)
    ch = make_charger.made[0]
    # The firmware process under tools/sim.py is the twin, with the heap asked for.
    kids = subprocess.run(["pgrep", "-P", str(ch.proc.pid)], capture_output=True,
                          text=True).stdout.split()
    assert len(kids) == 1, kids
    assert os.readlink("/proc/%s/exe" % kids[0]) == twin["micropython"]
    with open("/proc/%s/cmdline" % kids[0], "rb") as f:
        argv = f.read().split(b"\0")
    assert b"heapsize=%dK" % TWIN_HEAP_KB in argv and b"start" in argv
    assert "memory allocation failed" not in ch.log() and "Traceback" not in ch.log()


def test_bench_scenario_runs_on_the_twin(twin):
    res = bench_scenario.run("twin", bench_scenario.SMOKE, heap=TWIN_HEAP_KB)
    assert res["ok"], (res["error"], res.get("log_tail"))
    # The frozen probe ran: the figures the benchmark reports are there.
    assert res["stats"]["samples"] > 100 and res["stats"]["stall_max_ms"] is not None, res
    assert res["transactions"] >= 2 and len(res["reactions_rcd_ms"]) == 2, res


def test_a_build_with_nothing_changed_returns_at_once_and_builds_one_at_a_time(twin):
    said = []
    t = time.time()
    assert fw.build("twin", say=said.append) == twin
    assert time.time() - t < 5 and said == ["  twin: up to date"], said
    # Another caller holds the lock: this one waits for it, even when up to date.
    with open(os.path.join(fw.WORK, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = subprocess.Popen(TOOL + ["twin"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        time.sleep(1.5)
        assert p.poll() is None
        fcntl.flock(lock, fcntl.LOCK_UN)
        out = p.communicate(timeout=60)[0]
    assert p.returncode == 0, out
    assert "waiting for another build to finish" in out and "twin: up to date" in out, out


# -- the RP2040 images ---------------------------------------------------------

def _uf2_blocks(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data and len(data) % 512 == 0
    for off in range(0, len(data), 512):
        b = data[off:off + 512]
        # UF2 magic numbers, and the RP2040's family id.
        assert b[:8] == b"UF2\n\x57\x51\x5d\x9e" and b[-4:] == b"\x30\x6f\xb1\x0a"
        assert b[28:32] == (0xe48bff56).to_bytes(4, "little")
    return len(data) // 512


def test_emulator_image(emu):
    assert sorted(emu) == ["bin", "elf", "uf2"]
    assert _uf2_blocks(emu["uf2"]) * 256 >= os.path.getsize(emu["bin"])
    names = frozen_names(emu["bin"])
    for n in ("main.py", "board.py", "mport.py", "setup.py", "firmware/main.py", "compat.py",
              "asyncio/core.py", "umqtt/simple.py", "firmware/mqtt/link.py"):
        assert n in names, n
    assert "network/__init__.py" not in names        # no radio: RPI_PICO's modules
    lines, info = fw.report("rp2040-emu")
    assert info["gc_heap_bytes"] > 240 * 1024, lines
    assert info["uf2_flash_bytes"] <= fw.FLASH_BYTES - info["fs_bytes"], lines


def test_pico_w_image_fits_its_flash_beside_the_filesystem(pico_w):
    blocks = _uf2_blocks(pico_w["uf2"])
    lines, info = fw.report("rp2040")
    assert info["fs_bytes"] == 848 * 1024
    # From the flash's start to the end of the highest block the .uf2 writes.
    assert blocks * 256 <= info["uf2_flash_bytes"] <= 2048 * 1024 - 848 * 1024, lines
    names = frozen_names(pico_w["bin"])
    for n in ("main.py", "board.py", "mport.py", "setup.py", "firmware/main.py",
              "firmware/net.py", "logfile.py", "umqtt/simple.py"):
        assert n in names, n
    assert 200 * 1024 < info["gc_heap_bytes"] < 220 * 1024, lines


# -- without a toolchain, and the ESP32 ----------------------------------------

def test_without_the_sources_says_where_to_get_them(tmp_path):
    p = subprocess.run(TOOL + ["twin"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, EVSE_TOOLCHAIN=str(tmp_path / "none")))
    assert p.returncode == 1
    err = p.stderr.strip()
    assert "\n" not in err and err.startswith("firmware: no pinned sources at "), err
    for s in ("https://github.com/micropython/micropython", "v1.28.0",
              "https://github.com/raspberrypi/picotool", "2.2.0"):
        assert s in err, err


def test_esp32_prints_the_esp_idf_commands():
    p = subprocess.run(TOOL + ["esp32"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "\n" not in p.stderr.strip() and "ESP-IDF" in p.stderr, p.stderr
    manifest = os.path.join(ROOT, "boards", "esp32", "manifest.py")
    assert ("make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=%s" % manifest) in p.stdout
    assert "idf.py --version" in p.stdout and "esptool.py --chip esp32" in p.stdout
    assert len(p.stdout.splitlines()) <= 8
