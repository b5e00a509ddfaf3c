"""The Modbus RTU master (lib/modbus.py) talking over a pseudo-terminal to an
independent slave (pymodbus, host_tests/mbslave.py), on MicroPython and
CPython: readings, CRC errors, a wrong slave answering, garbled and truncated
frames, timeouts, exception answers, retries, the loop never blocked; and the
frame arithmetic in CPython."""
import os
import subprocess
import sys

import pytest

import mprun

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, os.path.dirname(HERE))
import modbus  # noqa: E402

MUST = ["readings", "de_released", "freq_energy", "value_moves", "fn3_answers",
        "retried_crc", "retried_addr", "retried_trunc", "retried_noise",
        "fails_crc", "fails_addr", "fails_drop", "timeout_bounded", "exception_code",
        "exception_text", "after_errors", "de_held_alone", "de_hold_us", "loop_not_blocked", "probe_reads", "probe_drop",
        "probe_addr", "probe_crc", "probe_exception", "probe_nan"]


@pytest.fixture
def slave(tmp_path):
    ctl = str(tmp_path / "slave.json")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "mbslave.py"), ctl, "9600"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("PTY "), line + p.stderr.read()
        yield line.split()[1], ctl
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("runtime", mprun.RUNTIMES)
def test_master_against_pymodbus(runtime, slave):
    pty, ctl = slave
    script = os.path.join(HERE, "mp", "modbus_check.py")
    passed, failed, out = mprun.cases(runtime, script, pty, ctl, "9600")
    assert not failed, "\n".join(failed)
    missing = [m for m in MUST if m not in passed]
    assert not missing, out
    times = dict(l.split()[1:] for l in out.splitlines() if l.startswith("TIME "))
    # 8 bytes out, 41 back at 9600 baud is about 47 ms on a wire; a pty is
    # faster, the gaps and the pymodbus turnaround are what is left.
    assert int(times["read18"]) < 200, out
    # 3.5 characters of silence before each request (4.01 ms at 9600 baud).
    with open(ctl + ".gaps") as f:
        gaps = [float(x) for x in f.read().split()]
    assert len(gaps) > 20 and min(gaps) >= 4.0, gaps
    os.remove(ctl + ".gaps")


def test_settings_name_the_tables():
    from firmware.config_keys import KEYS
    from firmware.evse.meters import NAMES, PROFILES
    rules = dict((k[0], k[3]) for k in KEYS)
    assert tuple(sorted(rules["meter_type"][2])) == tuple(sorted(NAMES))
    assert tuple(sorted(rules["grid_meter_type"][2])) == tuple(sorted(PROFILES))


def test_crc_and_gaps():
    assert modbus.crc16(bytes([1, 4, 0, 0, 0, 2]), 6) == 0xCB71
    assert modbus.gap_us(9600) == 4010
    assert modbus.gap_us(19200) == 2005
    assert modbus.gap_us(38400) == 1750
    assert modbus.gap_us(115200) == 1750
    b = bytes([0x43, 0x66, 0x80, 0x00, 0x7F, 0xC0, 0, 0, 0x7F, 0x80, 0, 0])
    assert modbus.f32(b, 0) == 230.5
    assert modbus.f32(b, 4) != modbus.f32(b, 4)
    assert modbus.f32(b, 8) == float("inf")
    assert modbus.s32(bytes([0xFF, 0xFF, 0xFF, 0xFE]), 0) == -2
    assert modbus.u64(bytes([0, 0, 0, 0, 0, 1, 0, 0]), 0) == 65536
