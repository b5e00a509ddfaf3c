"""The simulated RS-485 bus: Eastron-shaped meters (IEEE-754 float input
registers, function 4, registers 0x0000..0x004F) answering Modbus RTU
frames byte for byte, as the firmware's master (lib/modbus.py) sees a UART.

An EV meter measures its connector's simulated supply (what the EV draws,
on the phases it draws on; the import register is the simulated meter's
true energy, kept in DATA/sim_meters.json across restarts and power cuts);
the grid meter measures the house load plus every EV. An
answer becomes readable after its line time at the baud rate.

    bus = SimBus(board, baud, layout)   layout {address: ("ev", c, kind) |
                                        ("grid", 0, kind)}: the firmware's
    bus.set_house([a1, a2, a3])         the house load per phase
    bus.set_fail("fail"|"ok", "ev"|"grid")  the EV meters / the grid meter
                                        stop answering, or answer again
    bus.answer(request) -> frame|None   one request's answer, for a bus whose
                                        line timing is modelled elsewhere (the
                                        emulated chip's UART, tools/chip/)

board: data_dir, connectors, port(c) with advance(), live_phases(),
power_w, voltage and meter_wh (boards/sim/board.py, tools/chip/host.py).
"""
import json
import struct

from compat import ticks_ms, ticks_diff

NREGS = 0x50


def _crc(b, n):
    c = 0xFFFF
    for i in range(n):
        c ^= b[i]
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


class SimBus:
    def __init__(self, board, baud, layout):
        self.board = board
        self.layout = layout
        # A meter is no part of the charger: its register goes on across the
        # charger's power cuts and restarts. It lives beside the flash.
        self._file = board.data_dir + "/sim_meters.json"
        self.base_kwh = [0.0] * board.connectors
        try:
            with open(self._file) as f:
                v = json.load(f)
            if isinstance(v, list) and len(v) == board.connectors:
                self.base_kwh = [float(x) for x in v]
        except (OSError, ValueError):
            pass
        self.char_ms = 11000 / baud
        self.house = [0.0, 0.0, 0.0]
        self.ev_fail = False
        self.grid_fail = False
        self.requests = 0
        self._out = b""
        self._ready = 0
        self._inbuf = b""

    # ---- the UART the firmware sees
    def any(self):
        if self._out and ticks_diff(ticks_ms(), self._ready) >= 0:
            return len(self._out)
        return 0

    def readinto(self, mv):
        n = min(len(mv), self.any())
        mv[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def write(self, b):
        self._inbuf = bytes(b)
        self.requests += 1
        ans = self.answer(self._inbuf)
        if ans:
            self._out = ans
            # The request's and the answer's line time, and a meter's turnaround.
            self._ready = ticks_ms() + int((len(b) + len(ans)) * self.char_ms) + 2
        return len(b)

    # ---- the control channel's commands
    def set_house(self, amps):
        if not isinstance(amps, list) or len(amps) != 3 or not all(
                isinstance(a, (int, float)) and not isinstance(a, bool) and 0 <= a <= 1000
                for a in amps):
            raise ValueError("amps must be a list of three numbers 0..1000 (L1, L2, L3)")
        self.house = [float(a) for a in amps]

    def set_fail(self, state, which="ev"):
        if state not in ("ok", "fail"):
            raise ValueError("state must be ok or fail")
        if which not in ("ev", "grid"):
            raise ValueError("which must be ev or grid")
        setattr(self, which + "_fail", state == "fail")

    # ---- the meters
    def answer(self, req):
        if len(req) != 8 or _crc(req, 8) != 0:
            return None
        addr = req[0]
        who = self.layout.get(addr)
        if who is None or (self.ev_fail if who[0] == "ev" else self.grid_fail):
            return None
        fn = req[1]
        start = (req[2] << 8) | req[3]
        n = (req[4] << 8) | req[5]
        if fn != 4 or who[2] == "abb_b23":
            return self._frame(bytes([addr, fn | 0x80, 1]))
        if start + n > NREGS or n < 1:
            return self._frame(bytes([addr, fn | 0x80, 2]))
        regs = self._regs(who)
        if who[0] == "ev":
            self.keep()
        return self._frame(bytes([addr, fn, 2 * n]) + regs[2 * start:2 * (start + n)])

    def _frame(self, body):
        c = _crc(body, len(body))
        return body + bytes([c & 0xFF, c >> 8])

    def _ev(self, c):
        # (volts, amps per phase, energy kWh) of connector c's supply.
        p = self.board.port(c)
        p.advance()
        n = p.live_phases()
        a = p.power_w / (p.voltage * n) if p.power_w else 0.0
        return (p.voltage, [a if k < n else 0.0 for k in range(3)],
                self.base_kwh[c - 1] + p.meter_wh / 1000)

    def keep(self):
        """Write the registers down (each reading, and before a power cut)."""
        e = [self.base_kwh[c - 1] + self.board.port(c).meter_wh / 1000
             for c in range(1, self.board.connectors + 1)]
        with open(self._file, "w") as f:
            f.write(json.dumps(e))

    def _regs(self, who):
        vals = [0.0] * (NREGS // 2)
        if who[0] == "ev":
            v, i, e = self._ev(who[1])
        else:
            v = 230.0
            i = list(self.house)
            e = 0.0
            for c in range(1, self.board.connectors + 1):
                _v, ei, _e = self._ev(c)
                for k in range(3):
                    i[k] += ei[k]
        for k in range(3):
            vals[k] = float(v)
            vals[3 + k] = i[k]
            vals[6 + k] = v * i[k]
        vals[0x46 // 2] = 50.0
        vals[0x48 // 2] = e
        out = bytearray(2 * NREGS)
        for k in range(len(vals)):
            struct.pack_into(">f", out, 4 * k, vals[k])
        return bytes(out)
