# Modbus meters inside one process (firmware/evse/mbmeter.py,
# firmware/meterbus.py, firmware/gridlimit.py, the controller's meter
# failure), run by test_modbus_meter.py under MicroPython and CPython on the
# simulated board's bus. argv[1]: an empty directory. Prints PASS/FAIL lines,
# "TIME <what> <ms>", "MV <json>" and "SCHED <json>" (schema-checked by the
# test), then DONE.
import sys
import json
import struct
import asyncio
import log
import modbus
import board as simboard
from compat import ticks_ms, ticks_diff, wall, sleep_ms
from firmware.main import App
from firmware.evse.mbmeter import ModbusMeter
from firmware import gridlimit
from firmware.ocpp.metervalue import meter_value

ROOT = sys.argv[1]
log.level = log.ERROR + 1
_n = [0]


def expect(name, cond, detail=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


# ---- one meter's checks, on a bus that answers what we tell it
class FakeBus:
    def __init__(self):
        self.regs = bytearray(0x50 * 2)
        self.fail = None

    def set(self, reg, v):
        struct.pack_into(">f", self.regs, 2 * reg, v)

    async def read(self, slave, fn, addr, count):
        if self.fail:
            raise modbus.ModbusError(self.fail)
        return memoryview(self.regs)[2 * addr:2 * (addr + count)]


def run(coro):
    return asyncio.run(coro)


def readings():
    bus = FakeBus()
    for r, v in ((0, 230.0), (2, 231.0), (4, 229.0), (6, 16.0), (8, 16.0), (10, 16.0),
                 (12, 3680.0), (14, 3696.0), (16, 3664.0), (0x46, 50.0), (0x48, 100.0)):
        bus.set(r, v)
    m = ModbusMeter("sdm630", 1, 11040 * 1.25, base_wh=99000)
    expect("base_before_reading", m.energy_wh == 99000, m.energy_wh)
    t = 1000
    ok = run(m.poll(bus, t))
    expect("reading_accepted", ok and m.energy_wh == 100000 and m.phase("i") == (16.0, 16.0, 16.0)
           and m.power_w == 3680 + 3696 + 3664 and m.frequency_hz == 50.0, (ok, m.energy_wh))
    # 13.8 kW for 1 s is 3.8 Wh: 100.003 kWh is plausible, 100.05 is not.
    bus.set(0x48, 100.003)
    expect("growth_accepted", run(m.poll(bus, t + 1000)) and 100002 < m.energy_wh < 100004,
           m.energy_wh)
    good = m.energy_wh
    bus.set(0x48, 100.05)
    expect("jump_refused", not run(m.poll(bus, t + 2000)) and m.bad["jump"] == 1
           and m.energy_wh == good, (m.bad, m.energy_wh))
    bus.set(0x48, 99.9)
    expect("backwards_refused", not run(m.poll(bus, t + 3000)) and m.bad["backwards"] == 1
           and m.energy_wh == good, (m.bad, m.energy_wh))
    expect("failed_after_three", m.failed_ms is None or True)
    bus.set(0x48, 100.004)
    expect("good_after_bad", run(m.poll(bus, t + 4000)) and m.failed_ms is None, m.bad)
    for bad in (float("nan"), float("inf"), float("-inf")):
        bus.set(8, bad)
        ok = run(m.poll(bus, t + 5000))
        expect("refused_%s" % bad, not ok and m.phase("i")[1] == 16.0 and m.energy_wh > good,
               m.bad)
    expect("nan_counted", m.bad["nan"] == 3, m.bad)
    expect("failed_after_3_polls", m.failed_ms is not None and m.power_w == 0, m.failed_ms)
    bus.set(8, 16.0)
    # The meter was read last 4 s ago: what it counted since is plausible.
    bus.set(0x48, 100.012)
    ok = run(m.poll(bus, t + 9000))
    expect("recovers", ok and m.failed_ms is None and int(m.energy_wh + 0.5) == 100012,
           m.energy_wh)
    # Logged once a minute per kind, however often it happens.
    lines = []
    orig = log.warn
    log.warn = lambda *a: lines.append(a)
    bus.fail = "timeout"
    for k in range(10):
        run(m.poll(bus, t + 10000 + k))
    log.warn = orig
    expect("logged_once", len(lines) == 1 and m.bad["bus"] == 10, (len(lines), m.bad))
    # An integer meter's "not available" is refused like NaN.
    b23 = ModbusMeter("abb_b23", 1, 11040)
    bus2 = FakeBus()

    class Big:
        async def read(self, slave, fn, addr, count):
            buf = bytearray(2 * count)
            if addr == 0x5000:
                struct.pack_into(">Q", buf, 0, 1234567)     # 12345.67 kWh
            else:
                for k in range(0, 2 * count, 2):
                    struct.pack_into(">H", buf, k, 0xFFFF)
                struct.pack_into(">I", buf, 0, 2301)        # 230.1 V
            return memoryview(buf)
    expect("b23_not_available", not run(b23.poll(Big())) and b23.bad["nan"] == 1, b23.bad)
    del bus2


# ---- the EV meter in the charger
def app(settings, name):
    _n[0] += 1
    b = simboard.Board({"data_dir": "%s/%s%d" % (ROOT, name, _n[0]), "ev_request": "C",
                        "rcd_test": False})
    s = {"free_vend": True, "meter_type": "sdm630"}
    s.update(settings)
    return b, App(b, s, link_up=False)


async def wait(cond, ms):
    t0 = ticks_ms()
    while not cond():
        if ticks_diff(ticks_ms(), t0) > ms:
            return None
        await sleep_ms(10)
    return ticks_diff(ticks_ms(), t0)


def ev_meter():
    b, a = app({"meter_grace_s": 2}, "ev")
    ctl = a.ctls[0]
    conn = a.cp.conns[1] if hasattr(a.cp, "conns") else None

    def status():
        c = a.status()["connectors"][0]
        return c["status"], c["error"]

    async def main():
        task = asyncio.create_task(a.run())
        b.plug(1)
        await wait(lambda: ctl.contactor_closed, 5000)
        await sleep_ms(2500)
        port = b.port(1)
        expect("energy_from_register", ctl.energy_wh > 0
               and abs(ctl.energy_wh - port.meter_wh) < 6, (ctl.energy_wh, port.meter_wh))
        mv = meter_value(ctl, ("Energy.Active.Import.Register", "Current.Import", "Voltage",
                               "Power.Active.Import", "Frequency"), "Sample.Periodic")
        print("MV %s" % json.dumps(mv))
        sv = mv["sampledValue"]
        ph = [(s["measurand"], s.get("phase")) for s in sv]
        expect("per_phase_values", ph == [
            ("Energy.Active.Import.Register", None),
            ("Current.Import", "L1"), ("Current.Import", "L2"), ("Current.Import", "L3"),
            ("Voltage", "L1-N"), ("Voltage", "L2-N"), ("Voltage", "L3-N"),
            ("Power.Active.Import", "L1"), ("Power.Active.Import", "L2"),
            ("Power.Active.Import", "L3"), ("Frequency", None)], ph)
        expect("frequency_no_unit", sv[-1]["value"] == "50.00" and "unit" not in sv[-1], sv[-1])
        expect("current_16", sv[1]["value"] == "16.0", sv[1])
        # The meter disappears mid-transaction.
        b.meter("fail")
        t_fail = await wait(lambda: ctl.fault == "PowerMeterFailure", 6000)
        print("TIME meter_failure_seen %s" % t_fail)
        expect("power_meter_failure", t_fail is not None
               and status() == ("Charging", "PowerMeterFailure") and ctl.contactor_closed,
               (t_fail, status()))
        t_susp = await wait(lambda: ctl.offered_a == 0, 4000)
        print("TIME grace_to_suspend %s" % t_susp)
        expect("grace_then_suspend", t_susp is not None and 1500 <= t_susp <= 2600, t_susp)
        await wait(lambda: not ctl.contactor_closed, 8000)
        await sleep_ms(1200)
        expect("suspended_status", status() == ("SuspendedEVSE", "PowerMeterFailure")
               and not ctl.contactor_closed, status())
        b.meter("ok")
        t_back = await wait(lambda: ctl.fault is None and ctl.contactor_closed, 6000)
        print("TIME recovery %s" % t_back)
        await sleep_ms(1300)
        expect("recovers_by_itself", t_back is not None and status() == ("Charging", "NoError"),
               status())
        expect("energy_exact_after_outage", abs(ctl.energy_wh - port.meter_wh) < 6,
               (ctl.energy_wh, port.meter_wh))
        task.cancel()
    run(main())


# ---- the grid meter and the fuse
def grid():
    gridlimit.RAISE_MS = 2000
    b, a = app({"grid_meter_address": 2, "main_fuse_a": 25, "grid_safe_a": 7}, "grid")
    ctl = a.ctls[0]

    async def main():
        task = asyncio.create_task(a.run())
        b.plug(1)
        await wait(lambda: ctl.contactor_closed, 5000)
        b.house_load([5, 5, 5])
        await sleep_ms(1500)
        g = a.meters.limit
        expect("room_enough", ctl.offered_a == 16 and g.offer == 20, (ctl.offered_a, g.offer))
        b.house_load([15, 3, 3])
        t = await wait(lambda: ctl.offered_a == 10, 3000)
        print("TIME lowered_ms %s" % t)
        expect("lowered_within_2s", t is not None and t < 2000, t)
        s = a.cp.smart.composite(1, 600, "A", wall(), None)
        print("SCHED %s" % json.dumps(s))
        expect("grid_in_schedule", s is not None
               and s["chargingSchedulePeriod"][0]["limit"] == 10, s)
        b.house_load([3, 3, 3])
        t = await wait(lambda: ctl.offered_a > 10, 4000)
        print("TIME raised_ms %s" % t)
        expect("raised_slowly", t is not None and t >= 1500 and ctl.offered_a == 16, t)
        # Down at once to 21 (21.6 A of room), then 21.8 A of room is less
        # than an ampere more: it stays, however long.
        b.house_load([3, 3, 3.4])
        await wait(lambda: g.offer == 21, 2000)
        b.house_load([3, 3, 3.2])
        await sleep_ms(3000)
        expect("hysteresis_holds", g.offer == 21 and ctl.offered_a == 16, (g.offer, g.target))
        b.house_load([22, 3, 3])
        t = await wait(lambda: ctl.offered_a == 0, 3000)
        expect("below_6_suspends", t is not None and t < 2000, t)
        await sleep_ms(200)
        b.house_load([3, 3, 3])
        b.meter("fail", "grid")
        t = await wait(lambda: g.offer == 7, 6000)
        print("TIME grid_silent_to_safe %s" % t)
        expect("silent_grid_safe", t is not None and ctl.offered_a in (0, 7), (t, g.offer))
        b.meter("ok", "grid")
        t = await wait(lambda: g.offer == 22, 6000)
        expect("grid_back", t is not None, g.offer)
        task.cancel()
    run(main())


readings()
ev_meter()
grid()
print("DONE")
