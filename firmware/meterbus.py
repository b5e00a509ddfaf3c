"""The RS-485 bus and the Modbus meters on it: an EV meter per connector
(meter_type, at meter_address + connector - 1) in place of the S0 count, and
a grid meter (grid_meter_address) for load management (firmware/gridlimit.py).

    mb = MeterBus.build(board, cfg, ctls, register, limits)   None when no
                                       Modbus meter is configured
    asyncio.create_task(mb.run())
    await probe(board, cfg) -> one line per meter (setup.meter())

One task polls every meter in turn over one Master (lib/modbus.py): every
EV_MS, or with a grid meter every GRID_MS (the EV meters just before it), so
a rising house load lowers the offer within 2 s (firmware/gridlimit.py). A failed poll costs at
most the Master's timeout times its tries, and the loop goes on meanwhile.
"""
import log
import modbus
from compat import ticks_ms, ticks_diff, sleep_ms
from firmware.evse.mbmeter import ModbusMeter

GRID_MS = 500
EV_MS = 1000
TIMEOUT_MS = 200
RETRIES = 1
MARGIN = 1.25       # the most power an EV meter may show, over the wired maximum


def _bus(board, cfg, layout):
    uart_of = getattr(board, "modbus_uart", None)
    if uart_of is None:
        raise ValueError("this board has no RS-485 bus")
    baud = cfg.get("modbus_baud")
    uart, de = uart_of(baud, cfg.get("modbus_parity"), layout)
    return modbus.Master(uart, baud, de=de, timeout_ms=TIMEOUT_MS, retries=RETRIES)


def _layout(cfg, n):
    # What sits where on the bus: the simulated board answers for these.
    out = {}
    kind = cfg.get("meter_type")
    if kind != "s0":
        for c in range(1, n + 1):
            out[cfg.get("meter_address") + c - 1] = ("ev", c, kind)
    g = cfg.get("grid_meter_address")
    if g:
        out[g] = ("grid", 0, cfg.get("grid_meter_type"))
    return out


class MeterBus:
    def __init__(self, bus, ev, grid, limit):
        self.bus = bus
        self.ev = ev            # [ModbusMeter per connector] (may be empty)
        self.grid = grid        # ModbusMeter or None
        self.limit = limit      # GridLimit or None

    @staticmethod
    def build(board, cfg, ctls, register, limits):
        kind = cfg.get("meter_type")
        if kind == "s0" and not cfg.get("grid_meter_address"):
            return None
        try:
            bus = _bus(board, cfg, _layout(cfg, len(ctls)))
        except (ValueError, OSError) as e:
            log.error("meter", "Modbus meters stay off: %s", e)
            return None
        ev = []
        if kind != "s0":
            addr = cfg.get("meter_address")
            for ctl in ctls:
                c = ctl.s["connector"]
                max_w = ctl.s["max_current_a"] * ctl.s["voltage"] * ctl.s["phases"] * MARGIN
                m = ModbusMeter(kind, addr + c - 1, max_w, register.base(c), ctl.tag)
                # The controller's meter: energy from the import register.
                ctl.meter = m
                ev.append(m)
        grid = None
        limit = None
        g = cfg.get("grid_meter_address")
        if g:
            # Its register is not billed: only a NaN refuses its readings.
            grid = ModbusMeter(cfg.get("grid_meter_type"), g, 1e12, 0, "grid")
            from firmware.gridlimit import GridLimit
            limit = GridLimit(cfg, limits, grid, ctls)
            limits.add(limit)
        log.info("meter", "Modbus: %s at %s, grid meter %s, %d baud, parity %s",
                 kind, cfg.get("meter_address") if ev else "-", g or "none",
                 cfg.get("modbus_baud"), cfg.get("modbus_parity"))
        return MeterBus(bus, ev, grid, limit)

    async def run(self):
        # With a grid meter the EV meters are read just before it, every
        # GRID_MS: house load = grid - EV holds only for readings taken
        # together (a frame apart, not half a second).
        every = GRID_MS if self.grid is not None else EV_MS
        while True:
            t0 = ticks_ms()
            for m in self.ev:
                await m.poll(self.bus)
            if self.grid is not None:
                await self.grid.poll(self.bus)
                self.limit.update(ticks_ms())
            left = every - ticks_diff(ticks_ms(), t0)
            await sleep_ms(left if left > 10 else 10)

    def stats(self):
        d = {"ok": self.bus.ok, "errors": dict(self.bus.errors),
             "refused": [dict(m.bad) for m in self.ev] +
                        ([dict(self.grid.bad)] if self.grid else []),
             "ev_failed": [m.failed_ms is not None for m in self.ev]}
        if self.limit is not None:
            d["grid_offer_a"] = self.limit.offer
            d["house_a"] = [int(h * 10) / 10 for h in self.limit.house]
        return d


async def probe(board, cfg, n=1):
    """Read each configured meter once: one line each, what it read or why
    not (no answer, another address answering, a garbled answer)."""
    lay = _layout(cfg, n)
    if not lay:
        return ["no Modbus meter configured: setup.set('meter_type', 'sdm630') or "
                "setup.set('grid_meter_address', 2)"]
    try:
        bus = _bus(board, cfg, lay)
    except (ValueError, OSError) as e:
        return ["Modbus: %s" % e]
    out = []
    where = "%d baud, parity %s" % (cfg.get("modbus_baud"), cfg.get("modbus_parity"))
    for addr in sorted(lay):
        role, c, kind = lay[addr]
        name = "connector %d meter" % c if role == "ev" else "grid meter"
        m = ModbusMeter(kind, addr, 1e12, 0, "meter")
        e0 = dict(bus.errors)
        if await m.poll(bus):
            v = m.vals
            out.append("%s %s at %d: %s V, %s A, %s W, %s Hz, %s kWh" % (
                name, kind, addr, _few(m.phase("v")), _few(m.phase("i")), _few(m.phase("p")),
                _one(v[9]), _one(v[10])))
            continue
        grew = [k for k in bus.errors if bus.errors[k] != e0[k]]
        if "address" in grew:
            why = "another address answered: check meter_address / grid_meter_address"
        elif "crc" in grew or "frame" in grew:
            why = ("garbled answers at %s: the meter's baud rate or parity differs "
                   "(setup.set('modbus_baud', ...), setup.set('modbus_parity', ...))" % where)
        elif "exception" in grew:
            why = "%s: is it really a %s?" % (m.last_error, kind)
        elif m.bad["nan"]:
            why = "%s" % m.last_error
        else:
            why = ("no answer at %s: check A/B wiring, the termination, the address and "
                   "the baud rate" % where)
        out.append("%s %s at %d: %s" % (name, kind, addr, why))
    return out


def _one(x):
    return "-" if x is None else "%d.%d" % (int(x), int(abs(x) * 10) % 10)


def _few(t):
    return "/".join([_one(x) for x in t if x is not None]) or "-"
