"""One Modbus meter (a table of firmware/evse/meters.py at an address): its
readings, their checks, and its health.

    m = ModbusMeter("sdm630", 1, max_w=11000*1.25, base_wh=register value)
    ok = await m.poll(bus, now_ms)     one reading over lib/modbus.py's Master
    m.energy_wh, m.power_w             the controller's meter interface
    m.update(count, now, live)         (firmware/evse/meter.py's Meter: the
    m.configure(imp, base_wh)          controller calls both; no pulses here)
    m.phase("i") -> (i1, i2, i3)       per phase, None where the meter has none
    m.failed_ms                        ticks since when it gives no good
                                       reading (None: healthy)

The import register is the meter's own, so the energy is exact across power
cuts: until the first reading after a start, energy_wh is base_wh (the last
value the charger saved). A reading is refused, counted and never billed
when any value is NaN or infinite (or an integer meter's "not available"), or
when the register went backwards, or grew more than max_w allows over the
time since the last accepted reading (plus SLACK_WH for rounding). The
meter is failed after FAIL_POLLS polls in a row without an accepted reading
and healthy again at the first one. Each kind of trouble is logged at most
once a minute (LOG_MS): a dead meter polled every second does not fill the
log.
"""
import log
import modbus
from compat import ticks_ms, ticks_diff
from firmware.evse.meters import PROFILES, QUANTITIES, F32, U16, U32, S32, U64, WORDS

FAIL_POLLS = 3
SLACK_WH = 10
LOG_MS = 60000
_NA = (None, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFFFFFFFFFFF)   # "not available" by format
_E = QUANTITIES.index("e")
_F = QUANTITIES.index("f")


def finite(x):
    # NaN - NaN and inf - inf are NaN, which equals nothing.
    return x - x == 0


def _decode(fmt, b, i):
    if fmt == F32:
        return modbus.f32(b, i)
    if fmt == U16:
        v = modbus.u16(b, i)
    elif fmt == U32:
        v = modbus.u32(b, i)
    elif fmt == S32:
        v = modbus.s32(b, i)
    else:
        v = modbus.u64(b, i)
    return float("nan") if v == _NA[fmt] else v


class ModbusMeter:
    def __init__(self, kind, address, max_w, base_wh=0, tag="meter"):
        if kind not in PROFILES:
            raise ValueError("no Modbus meter %r; known: %s" % (kind, ", ".join(sorted(PROFILES))))
        self.kind = kind
        self.address = address
        self.fn, self.blocks, fields = PROFILES[kind]
        # (quantity index, block, byte offset in the block, format, divisor)
        self.fields = []
        for q, reg, fmt, div in fields:
            for b in range(len(self.blocks)):
                start, n = self.blocks[b]
                if start <= reg and reg + WORDS[fmt] <= start + n:
                    self.fields.append((QUANTITIES.index(q), b, 2 * (reg - start), fmt, div))
                    break
            else:
                raise ValueError("%s: register 0x%04x is in no block" % (kind, reg))
        self.max_w = max_w
        self.base_wh = base_wh
        self.tag = tag
        self.vals = [None] * len(QUANTITIES)
        self._tmp = [0.0] * len(QUANTITIES)
        self._e_wh = None           # the last accepted register, Wh
        self._e_ms = 0              # when it was read
        self.ok_ms = None           # the last accepted reading
        self.fails = 0              # polls in a row without one
        self.failed_ms = None
        self.live = False
        self.bad = {"nan": 0, "backwards": 0, "jump": 0, "bus": 0}
        self.last_error = None
        self._logged = {}

    # ---- the controller's meter interface
    @property
    def energy_wh(self):
        return self.base_wh if self._e_wh is None else self._e_wh

    @property
    def power_w(self):
        if self.failed_ms is not None:
            return 0
        p = 0
        for k in (6, 7, 8):
            x = self.vals[k]
            if x is not None:
                p += x
        return p if p > 0 else 0

    def update(self, count, now, live):
        self.live = live

    def configure(self, imp_per_kwh, base_wh=0):
        self.base_wh = base_wh

    def phase(self, q):
        """("v"|"i"|"p") -> the three phase values, None for those not read."""
        k = QUANTITIES.index(q + "1")
        v = self.vals
        return (v[k], v[k + 1], v[k + 2])

    @property
    def frequency_hz(self):
        return self.vals[_F] if self.failed_ms is None else None

    # ---- a reading
    async def poll(self, bus, now=None):
        t = self._tmp
        try:
            for b in range(len(self.blocks)):
                start, n = self.blocks[b]
                mv = await bus.read(self.address, self.fn, start, n)
                for q, fb, off, fmt, div in self.fields:
                    if fb == b:
                        t[q] = _decode(fmt, mv, off) / div if div != 1 else _decode(fmt, mv, off)
        except modbus.ModbusError as e:
            return self._refuse("bus", "address %d: %s" % (self.address, e.text()))
        now = ticks_ms() if now is None else now
        for q, _b, _o, _f, _d in self.fields:
            if not finite(t[q]):
                return self._refuse("nan", "address %d: %s is not a number" %
                                    (self.address, QUANTITIES[q]))
        e_wh = t[_E] * 1000
        if e_wh < 0:
            return self._refuse("backwards", "address %d: negative register" % self.address)
        if self._e_wh is not None:
            if e_wh < self._e_wh:
                return self._refuse("backwards", "address %d: register went back from %d to "
                                    "%d Wh" % (self.address, self._e_wh, e_wh))
            dt = ticks_diff(now, self._e_ms)
            most = self.max_w * dt / 3600000 + SLACK_WH
            if e_wh - self._e_wh > most:
                return self._refuse("jump", "address %d: register jumped %d Wh in %d ms (at "
                                    "most %d)" % (self.address, e_wh - self._e_wh, dt, most))
        for q, _b, _o, _f, _d in self.fields:
            self.vals[q] = t[q]
        self._e_wh = e_wh
        self._e_ms = now
        self.ok_ms = now
        self.fails = 0
        if self.failed_ms is not None:
            log.info(self.tag, "meter at address %d answers again", self.address)
            self.failed_ms = None
        return True

    def _refuse(self, kind, text):
        self.bad[kind] += 1
        self.fails += 1
        self.last_error = text
        now = ticks_ms()
        t = self._logged.get(kind)
        if t is None or ticks_diff(now, t) >= LOG_MS:
            self._logged[kind] = now
            log.warn(self.tag, "%s (%d so far)", text, self.bad[kind])
        if self.fails >= FAIL_POLLS and self.failed_ms is None:
            self.failed_ms = now
            log.error(self.tag, "meter at address %d failed: %s", self.address, text)
        return False
