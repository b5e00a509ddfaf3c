"""The controller's asyncio task on the simulated board, in real time, under
the real MicroPython executable (and CPython): plug, EV ready, free vend,
contactor closes, energy rises at the expected rate from the S0 pulses, C->B
opens, a residual-current trip opens and is reported, and the other injected
faults."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")

SCRIPT = r'''
import asyncio
import sys
import log
import board
from compat import ticks_ms, ticks_diff, sleep_ms
from ev import amps_from_duty
from firmware.evse.controller import Controller

log.level = log.WARN + 1
DATA = sys.argv[1]
fails = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else " " + str(detail)))
    if not ok:
        fails.append(name)


class Rig:
    def __init__(self, opts, settings):
        self.b = board.Board(opts)
        self.port = self.b.port(1)
        self.ctl = Controller(self.port, settings)
        self.events = []
        self.ctl.listener = lambda e, d: self.events.append((e, d))
        self.steps = 0
        read = self.port.read_pilot

        def counted():
            self.steps += 1
            return read()
        self.port.read_pilot = counted

    async def until(self, cond, steps):
        """Wait for cond(); the number of control steps it took, or None."""
        n0 = self.steps
        while not cond():
            if self.steps - n0 > steps:
                return None
            await sleep_ms(5)
        return self.steps - n0


async def main():
    r = Rig({"data_dir": DATA, "imp_per_kwh": 10000, "voltage": 230, "phases": 3},
            {"max_current_a": 16, "free_vend": True, "imp_per_kwh": 10000})
    b, ctl = r.b, r.ctl
    task = asyncio.create_task(ctl.run())
    await sleep_ms(200)
    check("unplugged is A without offer", ctl.cp == "A" and ctl.offered_a == 0, ctl.cp)

    b.plug(1)
    n = await r.until(lambda: ctl.cp == "B" and ctl.offered_a == 16, 30)
    check("plug: B, free vend offers 16 A", n is not None, (ctl.cp, ctl.offered_a))
    check("EV not ready: contactor open", not ctl.contactor_closed)

    b.ev_state(1, "C")
    n = await r.until(lambda: ctl.contactor_closed, 25)
    st = b.sim_status(1)
    check("EV ready: contactor closes", n is not None and st["contactor_physical"], n)
    check("events so far", r.events == [("state", "A"), ("state", "B"), ("offer", 16),
                                        ("state", "C"), ("contactor", True)], r.events)

    await sleep_ms(300)
    e0 = ctl.energy_wh
    t0 = ticks_ms()
    await sleep_ms(2500)
    e1 = ctl.energy_wh
    dt = ticks_diff(ticks_ms(), t0)
    st = b.sim_status(1)
    expect = amps_from_duty(266) * 230 * 3
    rate = (e1 - e0) * 3600000 / dt
    check("energy rises at the expected rate", abs(rate - expect) < expect * 0.04,
          (rate, expect))
    check("power from the pulses", abs(ctl.power_w - expect) < expect * 0.05,
          (ctl.power_w, expect))
    check("meter counts what the EV drew",
          # the controller read its pulses at its last step, the status reads
          # them now: a pulse may fall in between on a loaded machine
          abs(ctl.energy_wh - st["meter_pulses"] / 10) < 0.11, (ctl.energy_wh, st))
    check("EV battery fills", st["battery_wh"] > 20000, st["battery_wh"])

    ctl.set_limit(8)
    await sleep_ms(100)
    st = b.sim_status(1)
    check("limit reaches the pilot", ctl.offered_a == 8 and 7.9 <= st["ev_offered_a"] <= 8,
          (ctl.offered_a, st["ev_offered_a"]))
    check("EV follows the lower offer", abs(st["ev_power_w"] - st["ev_offered_a"] * 690) < 1,
          st["ev_power_w"])
    ctl.set_limit(None)

    b.ev_state(1, "B")
    n = await r.until(lambda: not ctl.contactor_closed, 10)
    check("ev C->B opens within 5 steps (100 ms)", n is not None and n <= 5, n)
    check("no power after opening", b.sim_status(1)["ev_power_w"] == 0)

    b.ev_state(1, "C")
    await r.until(lambda: ctl.contactor_closed, 25)
    r.events = []
    b.fault(1, "rcd", True)
    n = await r.until(lambda: not ctl.contactor_closed, 10)
    check("rcd trip opens at the next step", n is not None and n <= 1, n)
    check("rcd reported as GroundFailure", ctl.fault == "GroundFailure"
          and ("fault", "GroundFailure") in r.events, r.events)
    b.fault(1, "rcd", False)
    await sleep_ms(300)
    check("rcd stays latched while plugged", ctl.fault == "GroundFailure"
          and not ctl.contactor_closed)
    b.unplug(1)
    n = await r.until(lambda: ctl.fault is None, 20)
    check("unplug clears the rcd latch", n is not None and ctl.cp == "A")

    b.plug(1)
    b.ev_state(1, "C")
    await r.until(lambda: ctl.contactor_closed, 40)
    b.fault(1, "short", True)
    n = await r.until(lambda: not ctl.contactor_closed, 10)
    await r.until(lambda: ctl.cp == "E", 10)
    check("pilot short opens, E, EVCommunicationError",
          n is not None and n <= 5 and ctl.cp == "E" and ctl.fault == "EVCommunicationError",
          (n, ctl.cp, ctl.fault))
    b.fault(1, "short", False)
    n = await r.until(lambda: ctl.contactor_closed, 40)
    check("short cleared: charging again", n is not None and ctl.fault is None)

    b.fault(1, "diode", True)
    n = await r.until(lambda: not ctl.contactor_closed, 10)
    check("missing diode opens", n is not None and n <= 5 and ctl.fault_info == "diode",
          (n, ctl.fault_info))
    b.fault(1, "diode", False)
    b.unplug(1)
    await r.until(lambda: ctl.cp == "A", 20)

    b.plug(1)
    b.ev_state(1, "C")
    await r.until(lambda: ctl.contactor_closed, 40)
    b.fault(1, "weld", True)
    b.ev_state(1, "B")
    n = await r.until(lambda: ctl.fault == "PowerSwitchFailure", 40)
    check("welded contactor: PowerSwitchFailure", n is not None and not ctl.contactor_closed
          and b.sim_status(1)["contactor_physical"], (n, ctl.fault))
    b.fault(1, "weld", False)
    b.unplug(1)
    n = await r.until(lambda: ctl.fault is None, 30)
    check("weld cleared and unplugged: no fault", n is not None)
    task.cancel()

    # A nearly full battery: the EV stops by itself and the contactor opens.
    r2 = Rig({"data_dir": DATA, "battery_wh": 100, "soc": 0.99, "ev_request": "C"},
             {"max_current_a": 32, "free_vend": True})
    task = asyncio.create_task(r2.ctl.run())
    r2.b.plug(1)
    n = await r2.until(lambda: r2.ctl.contactor_closed, 40)
    check("plugged with the EV ready: closes", n is not None)
    n = await r2.until(lambda: not r2.ctl.contactor_closed, 100)
    st = r2.b.sim_status(1)
    check("battery full: EV goes to B, contactor opens",
          n is not None and st["ev_state"] == "B" and st["battery_pct"] >= 99.99, (n, st))
    task.cancel()
    print("DONE %d failures" % len(fails))


asyncio.run(main())
'''


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_sim_charging_session(runtime, tmp_path):
    script = tmp_path / "session.py"
    script.write_text(SCRIPT)
    paths = [ROOT, os.path.join(ROOT, "lib"), os.path.join(ROOT, "boards", "sim")]
    env = dict(os.environ)
    if runtime == "micropython":
        env["MICROPYPATH"] = ":".join([".frozen"] + paths)
        cmd = [MICROPYTHON]
    else:
        env["PYTHONPATH"] = os.pathsep.join(paths)
        cmd = [sys.executable]
    p = subprocess.run(cmd + [str(script), str(tmp_path / "data")], env=env,
                       capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    failed = [l for l in out.splitlines() if l.startswith("FAIL")]
    assert not failed, out
    assert p.returncode == 0 and "DONE 0 failures" in out, out
    assert out.count("PASS ") == 24, out
