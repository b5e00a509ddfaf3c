# The Modbus RTU master (lib/modbus.py) against an independent slave
# (host_tests/mbslave.py: pymodbus on a pseudo-terminal), run by
# test_modbus.py under MicroPython and CPython. argv: the pty, the slave's
# control file, the baud rate. Prints PASS/FAIL lines, "TIME <case> <ms>",
# then DONE.
import sys
import json
import asyncio
import modbus
from compat import ticks_ms, ticks_us, ticks_diff
from ptyuart import PtyUart

PTY = sys.argv[1]
CTL = sys.argv[2]
BAUD = int(sys.argv[3])


def expect(name, cond, detail=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


def control(**kw):
    with open(CTL, "w") as f:
        f.write(json.dumps(kw))


class Pin:
    def __init__(self):
        self.v = 0
        self.rises = 0

    def value(self, v):
        if v and not self.v:
            self.rises += 1
        self.v = v


class TimedPin(Pin):
    # Records how long the driver stayed on, in microseconds.
    def __init__(self):
        super().__init__()
        self.on_us = []
        self._t = 0

    def value(self, v):
        if v and not self.v:
            self._t = ticks_us()
        elif self.v and not v:
            self.on_us.append(ticks_diff(ticks_us(), self._t))
        super().value(v)


class HeldPin(Pin):
    # A board whose hardware raises and drops the driver (the Pico's PIO).
    def __init__(self):
        super().__init__()
        self.holds = []

    def hold_us(self, us):
        self.holds.append(us)


class NoTxdone:
    # A UART that cannot say when its last bit is out.
    def __init__(self, u):
        self.u = u
        self.write = u.write
        self.any = u.any
        self.readinto = u.readinto


async def fails(bus, kind, *args):
    try:
        await bus.read(*args)
    except modbus.ModbusError as e:
        return e.kind == kind, e
    return False, "no error"


async def main():
    de = Pin()
    bus = modbus.Master(PtyUart(PTY), BAUD, de=de, timeout_ms=250, retries=2)
    control(mode="ok")
    t = ticks_ms()
    r = await bus.read(1, 4, 0, 0x12)
    ms = ticks_diff(ticks_ms(), t)
    print("TIME read18 %d" % ms)
    v = [modbus.f32(r, 4 * k) for k in range(9)]
    expect("readings", v == [230.0, 231.0, 229.0, 10.0, 11.0, 12.0, 2300.0, 2541.0, 2748.0], v)
    expect("de_released", de.v == 0 and de.rises == 1, (de.v, de.rises))
    r = await bus.read(2, 4, 0x46, 4)
    expect("freq_energy", (modbus.f32(r, 0), modbus.f32(r, 4)) == (50.0, 1234.5))
    control(mode="ok", regs={"72": 1300.25})
    r = await bus.read(1, 4, 0x48, 2)
    expect("value_moves", modbus.f32(r, 0) == 1300.25, modbus.f32(r, 0))
    r = await bus.read(1, 3, 0, 2)
    expect("fn3_answers", len(r) == 4)

    # A spoiled answer is retried; one good answer is enough.
    for mode in ("crc", "addr", "trunc", "noise"):
        before = dict(bus.errors)
        control(mode=mode, once=True)
        r = await bus.read(1, 4, 0, 2)
        kind = {"crc": "crc", "addr": "address", "trunc": "frame", "noise": "crc"}[mode]
        grew = [k for k in bus.errors if bus.errors[k] != before[k]]
        expect("retried_" + mode, modbus.f32(r, 0) == 230.0 and grew == [kind], (grew, kind))

    # Spoiled every time: the error after retries, each attempt counted.
    for mode, kind in (("crc", "crc"), ("addr", "address"), ("drop", "timeout")):
        control(mode=mode)
        n0 = bus.errors[kind]
        t = ticks_ms()
        ok, e = await fails(bus, kind, 1, 4, 0, 2)
        ms = ticks_diff(ticks_ms(), t)
        expect("fails_" + mode, ok and bus.errors[kind] - n0 == 3, (e, bus.errors))
        if mode == "drop":
            print("TIME timeout3 %d" % ms)
            expect("timeout_bounded", 700 <= ms < 1500, ms)
    control(mode="ok")
    # An exception answer is final: no retry.
    n0 = bus.errors["exception"]
    ok, e = await fails(bus, "exception", 1, 4, 0x100, 2)
    expect("exception_code", ok and e.code == 2 and bus.errors["exception"] == n0 + 1,
           (e, bus.errors))
    expect("exception_text", ok and e.text() == "exception 2 (illegal data address)",
           e.text() if ok else e)
    # And the bus is usable after all that.
    r = await bus.read(1, 4, 6, 2)
    expect("after_errors", modbus.f32(r, 0) == 10.0)

    # While the driver is on, no other task runs (one might start a flash
    # erase, which masks the interrupts on a chip): a task that looks at the
    # pin at every turn of the loop never sees it high. A UART without
    # txdone() keeps it on for the request's line time, 11 bits a character
    # (and not much longer: a loaded PC may preempt the spin for a while).
    seen = [0, 0]

    async def watcher():
        while True:
            seen[0] += 1
            seen[1] += tde.v
            await asyncio.sleep(0)
    tde = TimedPin()
    tbus = modbus.Master(NoTxdone(bus.uart), BAUD, de=tde, timeout_ms=250, retries=0)
    w = asyncio.create_task(watcher())
    for _ in range(3):
        r = await tbus.read(1, 4, 6, 2)
    w.cancel()
    char_us = 11000000 // BAUD
    expect("de_held_alone", seen[0] > 10 and seen[1] == 0 and tde.v == 0
           and len(tde.on_us) == 3 and min(tde.on_us) >= 8 * char_us
           and max(tde.on_us) < 8 * char_us + 50000 and modbus.f32(r, 0) == 10.0,
           (seen, tde.on_us, tde.v))
    # A driver the board's hardware times is told the line time and half a
    # character, and never raised by the master itself.
    hde = HeldPin()
    hbus = modbus.Master(bus.uart, BAUD, de=hde, timeout_ms=250, retries=0)
    r = await hbus.read(1, 4, 6, 2)
    expect("de_hold_us", hde.holds == [8 * char_us + char_us // 2] and hde.rises == 0
           and modbus.f32(r, 0) == 10.0, (hde.holds, hde.rises))
    # The first master did not see that answer: leave it its silence.
    await asyncio.sleep(0.01)

    # The loop never blocks: a ticker keeps running during a timeout.
    ticks = [0]
    late = [0]

    async def ticker():
        while True:
            t0 = ticks_ms()
            await asyncio.sleep_ms(5) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(0.005)
            d = ticks_diff(ticks_ms(), t0)
            ticks[0] += 1
            if d > late[0]:
                late[0] = d
    task = asyncio.create_task(ticker())
    control(mode="drop")
    await fails(bus, "timeout", 1, 4, 0, 2)
    control(mode="ok")
    for _ in range(5):
        await bus.read(1, 4, 0, 0x12)
    task.cancel()
    print("TIME ticker_late %d" % late[0])
    expect("loop_not_blocked", ticks[0] > 50 and late[0] < 60, (ticks[0], late[0]))
    print("ERRORS %s" % json.dumps(bus.errors))
    await probes()


class Cfg:
    def __init__(self, **kw):
        self.v = {"meter_type": "sdm630", "meter_address": 1, "modbus_baud": BAUD,
                  "modbus_parity": "none", "grid_meter_address": 0, "grid_meter_type": "sdm630"}
        self.v.update(kw)

    def get(self, k):
        return self.v[k]


class PtyBoard:
    # What setup.meter() needs of a board: the bus.
    def __init__(self):
        self.uart = PtyUart(PTY)

    def modbus_uart(self, baud, parity, layout):
        return self.uart, None


async def probes():
    # setup.meter()'s lines (firmware/meterbus.py probe) for each trouble.
    from firmware.meterbus import probe
    b = PtyBoard()
    control(mode="ok")
    lines = await probe(b, Cfg(grid_meter_address=2))
    expect("probe_reads", len(lines) == 2 and "230.0/231.0/229.0 V" in lines[0]
           and "10.0/11.0/12.0 A" in lines[0] and "1234.5 kWh" in lines[0]
           and lines[1].startswith("grid meter sdm630 at 2:"), lines)
    for mode, needle in (("drop", "no answer at %d baud, parity none" % BAUD),
                         ("addr", "another address answered"),
                         ("crc", "garbled answers at %d baud, parity none: the meter's baud "
                          "rate or parity differs" % BAUD)):
        control(mode=mode)
        lines = await probe(b, Cfg())
        expect("probe_" + mode, len(lines) == 1 and needle in lines[0] and "\n" not in lines[0],
               lines)
    control(mode="ok")
    lines = await probe(b, Cfg(meter_type="abb_b23"))
    expect("probe_exception", "exception 2 (illegal data address)" in lines[0], lines)
    control(mode="ok", regs={"6": "nan"})
    lines = await probe(b, Cfg())
    expect("probe_nan", "i1 is not a number" in lines[0], lines)
    control(mode="ok")


asyncio.run(main())
print("DONE")
