"""The simulated board: the board interface of boards/README.md over a model
of the pilot circuit, a contactor, an S0 meter and an EV (ev.py).

Time is real (compat.ticks_ms): every call first integrates the power drawn
since the previous call, so energy, battery and meter pulses follow the
wall clock whatever the caller's rhythm.

Extra methods for the simulator's control channel (connector n is 1-based):
    plug(n), unplug(n), ev_state(n, "B"|"C"|"D"), ev_max_a(n, amps),
    fault(n, "rcd"|"short"|"diode"|"weld", on), sim_status(n) -> dict,
    house_load([a1, a2, a3]), meter("ok"|"fail", "ev"|"grid") (the Modbus meters,
    mbsim.py)

With the option phase_switch, a phase contactor on L2 and L3: de-energised
(one phase) at start, phase_switch(True) for all the phases; the EV draws on
the phases it connects, and every switch made while the main contactor is
closed is counted (phase_switch_under_load: must stay 0).
"""
import binascii
import hashlib
import os

import log
from compat import ticks_ms, ticks_diff
from ev import EV, amps_from_duty

FAULT_KINDS = ("rcd", "short", "diode", "weld")
# Pilot voltage the EVSE reads for each state the EV shows (nominal).
_LEVEL = {"A": 12000, "B": 9000, "C": 6000, "D": 3000}
# Without its diode the EV's resistor loads the negative half as well: the
# low plateau is -12 V x R / (R + 1 kohm) with R = 2.74 k (B), 2.74 k || 1.3 k
# (C) or 2.74 k || 270 ohm (D), all well above the -11 V a diode would give.
_NO_DIODE_LOW = {"B": -8790, "C": -5620, "D": -2370}


class SimPort:
    has_rcd_test = True
    pp_pullup_ohm = 1000
    pp_supply_mv = 3300

    def __init__(self, n, opts):
        self.n = n
        self.voltage = opts.get("voltage", 230)
        self.phases = opts.get("phases", 3)
        self.imp_per_kwh = opts.get("imp_per_kwh", 1000)
        self.has_rcd_test = bool(opts.get("rcd_test", True))
        self.has_lock = bool(opts.get("lock", False))
        self._feedback = bool(opts.get("feedback", True))
        self._pp_ohm = opts.get("pp_ohm")
        self.has_phase_switch = bool(opts.get("phase_switch", False))
        self.phase_on = False     # the phase contactor, de-energised: one phase
        self.phase_switches = 0
        self.phase_under_load = 0
        self.ev = EV(opts.get("battery_wh", 40000), opts.get("soc", 0.5),
                     opts.get("ev_max_a", 32))
        self._ready_on_plug = opts.get("ev_request", "B")
        self.faults = {}
        for k in FAULT_KINDS:
            self.faults[k] = False
        self.out = "+12"          # pilot output: "+12", "pwm", "-12"
        self.duty_pm = 0
        self.cmd = False          # contactor command
        self.test_out = False
        self.locked = False
        self.meter_wh = 0.0
        self.power_w = 0
        self._t = ticks_ms()
        # Safety reaction times for the benchmark: from a hazard the simulator
        # caused while the contactor was closed to the contactor opening.
        self.hazard_ms = None
        self.reactions = []
        # The safety path of a real board (boards/README.md): armed while the
        # contactor is closed, it opens it at the hazard itself, as the chip's
        # interlock and pilot interrupt do within microseconds; the emulated
        # RP2040 (tools/chip/) measures the real thing.
        self.armed = False
        self.vent = False
        self.trip = None

    # ---- the model ----------------------------------------------------------
    def closed(self):
        return self.cmd or self.faults["weld"]

    def _duty(self):
        return self.duty_pm if self.out == "pwm" else 0

    def advance(self):
        now = ticks_ms()
        dt = ticks_diff(now, self._t)
        self._t = now
        if dt > 0 and self.power_w > 0:
            took = self.ev.charge(self.power_w * dt / 3600000)
            self.meter_wh += took
        self.power_w = self.ev.draw_w(self._duty(), self.closed(),
                                      self.voltage, self.live_phases())

    def live_phases(self):
        if self.has_phase_switch and not self.phase_on:
            return 1
        return self.phases

    def ev_shows(self):
        if self.faults["short"]:
            return "E"
        return self.ev.state(self._duty())

    # ---- board interface ----------------------------------------------------
    def pilot_pwm(self, duty_pm):
        self.advance()
        self.out = "pwm"
        self.duty_pm = duty_pm
        self.advance()

    def pilot_high(self):
        self.advance()
        self.out = "+12"
        self.advance()

    def pilot_low(self):
        self.advance()
        self.out = "-12"
        self.advance()

    def read_pilot(self):
        self.advance()
        if self.faults["short"]:
            return 0, 0
        if self.out == "-12":
            return -12000, -12000
        s = self.ev.state(self._duty())
        hi = _LEVEL[s]
        if self.out != "pwm":
            return hi, hi
        if s != "A" and self.faults["diode"]:
            return hi, _NO_DIODE_LOW[s]
        return hi, -12000

    def contactor(self, closed, vent=False):
        self.advance()
        self.armed = bool(closed)
        self.vent = bool(vent)
        if closed:
            self.trip = None
        self._set_cmd(closed)

    def tripped(self):
        t = self.trip
        self.trip = None
        return t

    def _guard(self):
        # After a change the EV or a fault made: what the board's safety path does.
        if not self.armed:
            return
        why = None
        if self.faults["rcd"] or self.test_out:
            why = "rcd"
        else:
            s = self.ev_shows()
            if s != "C" and not (s == "D" and self.vent):
                why = "pilot"
        if why:
            self.armed = False
            self.trip = why
            self._set_cmd(False)

    def _set_cmd(self, closed):
        self.cmd = bool(closed)
        if not closed and self.hazard_ms is not None:
            if len(self.reactions) >= 256:
                self.reactions.pop(0)
            self.reactions.append(ticks_diff(ticks_ms(), self.hazard_ms))
            self.hazard_ms = None
        self.advance()

    def _hazard(self):
        if self.cmd and self.hazard_ms is None:
            self.hazard_ms = ticks_ms()

    def phase_switch(self, on):
        self.advance()
        if bool(on) != self.phase_on:
            self.phase_switches += 1
            if self.closed():
                self.phase_under_load += 1
                log.error("sim", "connector %d: phase contactor switched under load", self.n)
        self.phase_on = bool(on)
        self.advance()

    def contactor_feedback(self):
        return self.closed() if self._feedback else None

    def pulses(self):
        self.advance()
        return int(self.meter_wh * self.imp_per_kwh / 1000 + 1e-9)

    def rcd_fault(self):
        # The test output injects a residual current through the monitor.
        return self.faults["rcd"] or self.test_out

    def rcd_test(self, on):
        self.test_out = bool(on)

    def read_pp(self):
        r = self._pp_ohm
        if r is None:
            return None
        return self.pp_supply_mv * r // (r + self.pp_pullup_ohm)

    def lock(self, locked):
        if not self.has_lock:
            return None
        self.locked = bool(locked)
        return True

    # ---- control channel ----------------------------------------------------
    def plug(self):
        self.advance()
        if not self.ev.plugged:
            self.ev.plugged = True
            self.ev.request = self._ready_on_plug
        self.advance()

    def unplug(self):
        self.advance()
        self._hazard()
        self.ev.plugged = False
        self._guard()
        self.advance()

    def set_request(self, letter):
        if letter not in ("B", "C", "D"):
            raise ValueError("EV state must be B, C or D, not %r" % (letter,))
        self.advance()
        if letter == "B":
            self._hazard()
        self.ev.request = letter
        self._guard()
        self.advance()

    def set_max_a(self, amps):
        if not isinstance(amps, (int, float)) or amps < 0:
            raise ValueError("EV maximum current must be a number >= 0, not %r" % (amps,))
        self.advance()
        self.ev.max_a = amps
        self.advance()

    def set_fault(self, kind, on):
        if kind not in self.faults:
            raise ValueError("unknown fault %r: use rcd, short, diode or weld" % (kind,))
        self.advance()
        if on and kind in ("rcd", "short", "diode"):
            self._hazard()
        self.faults[kind] = bool(on)
        self._guard()
        self.advance()

    def status(self):
        self.advance()
        ev = self.ev
        active = [k for k in FAULT_KINDS if self.faults[k]]
        return {
            "plugged": ev.plugged,
            "ev_request": ev.request,
            "ev_state": self.ev_shows(),
            "ev_max_a": ev.max_a,
            "ev_offered_a": amps_from_duty(self._duty()),
            "battery_pct": round(ev.soc_pct(), 2),
            "battery_wh": round(ev.battery_wh, 1),
            "ev_power_w": self.power_w,
            "meter_wh": round(self.meter_wh, 3),
            "meter_pulses": int(self.meter_wh * self.imp_per_kwh / 1000 + 1e-9),
            "pilot_out": self.out,
            "duty_pct": self._duty() / 10,
            "contactor_physical": self.closed(),
            "sim_faults": active,
            "rcd_test_out": self.test_out,
            "locked": self.locked,
            "phases": self.live_phases(),
            "phase_switches": self.phase_switches,
            "phase_switch_under_load": self.phase_under_load,
        }


class Board:
    name = "sim"
    vendor = "DIY-EVSE"
    model = "Simulator"

    def __init__(self, opts=None):
        opts = opts or {}
        self.opts = opts
        self.data_dir = opts.get("data_dir", "data")
        self.connectors = int(opts.get("connectors", 1))
        if self.connectors < 1:
            raise ValueError("connectors must be 1 or more")
        self.rx_buf = int(opts.get("rx_buf", 8192))
        self._ports = [SimPort(i + 1, opts) for i in range(self.connectors)]
        self.led_state = "off"
        self.wdt_timeout_ms = None
        self.wdt_fed_ms = None
        self.bus = None           # the simulated RS-485 bus, once asked for
        try:
            os.mkdir(self.data_dir)
        except OSError:
            pass

    def unique_id(self):
        # Stable per data directory, so two simulated chargers differ.
        h = hashlib.sha256(self.data_dir.encode())
        return binascii.hexlify(h.digest()[:6]).decode()

    def port(self, n):
        if not isinstance(n, int) or not 1 <= n <= self.connectors:
            raise ValueError("no connector %r: this board has 1..%d" % (n, self.connectors))
        return self._ports[n - 1]

    def led(self, state):
        if state != self.led_state:
            log.debug("led", "%s", state)
        self.led_state = state

    def wdt_start(self, timeout_ms):
        self.wdt_timeout_ms = timeout_ms
        self.wdt_fed_ms = ticks_ms()

    def wdt_feed(self):
        self.wdt_fed_ms = ticks_ms()

    def reset(self):
        # Exit code 3 asks the launcher to start the firmware again.
        raise SystemExit(3)

    def modbus_uart(self, baud, parity, layout):
        """(uart, de) of the RS-485 bus: simulated meters at the addresses
        of layout (boards/sim/mbsim.py); no driver-enable pin."""
        from mbsim import SimBus
        self.bus = SimBus(self, baud, layout)
        return self.bus, None

    # ---- the simulator's control channel ---------------------------------------
    def house_load(self, amps):
        if self.bus is None:
            raise ValueError("no grid meter: start with --set grid_meter_address=2")
        self.bus.set_house(amps)

    def meter(self, state, which="ev"):
        if self.bus is None:
            raise ValueError("no Modbus meter: start with --set meter_type=sdm630")
        self.bus.set_fail(state, which)

    def plug(self, n):
        self.port(n).plug()

    def unplug(self, n):
        self.port(n).unplug()

    def ev_state(self, n, letter):
        self.port(n).set_request(letter)

    def ev_max_a(self, n, amps):
        self.port(n).set_max_a(amps)

    def fault(self, n, kind, on):
        self.port(n).set_fault(kind, on)

    def sim_status(self, n):
        return self.port(n).status()
