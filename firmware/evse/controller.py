"""The EVSE controller of one connector (IEC 61851-1 mode 3): pilot, offer,
contactor and safety. Plain Python over a board Port (see boards/README.md);
it never imports OCPP code and never waits on the network or on files.

    from firmware.evse.controller import Controller
    ctl = Controller(port, settings)
    ctl.listener = fn        # fn(event, detail), called synchronously at the end
                             # of a step, in this order when several happen:
                             #   "state"     debounced pilot letter "A".."F" or "?"
                             #   "fault"     ChargePointErrorCode string, None = cleared
                             #   "offer"     amps now offered on the pilot (0 = none)
                             #   "contactor" bool, the new command
                             #   "phases"    phases now in use (after a switch)
                             # It must not block; its exceptions are logged and dropped.
    ctl.permit(bool)         # charging allowed (authorised transaction, free vend)
    ctl.set_limit(amps)      # OCPP / smart-charging limit; None = none, < 6 A = no offer
    ctl.set_phases(n)        # charge on n phases (ports with a phase contactor,
                             # firmware/evse/phases.py); False when it cannot
    ctl.configure(settings)  # change settings at run time (same keys as below)
    ctl.step(now_ms=None)    # one control cycle; tests drive it on a fake clock
    await ctl.run()          # the asyncio task: step() every PERIOD_MS (50 Hz)
    ctl.shutdown()           # open now, stop the offer (before a reset)
    ctl.unlock()             # UnlockConnector: revoke permission, open, release the
                             # lock; True / False (failed) / None (no lock fitted)

settings (dict, all optional; None means the default): max_current_a (16), fixed_cable_a (None: use the
proximity pilot if the port has one), ventilation (False), free_vend (False:
when True the controller starts permitted, the OCPP side can still revoke it),
phases (3), voltage (230), imp_per_kwh (the port's), energy_base_wh (0, added
to the pulse count so the register survives reboots), connector (1, for logs),
meter_grace_s (60: how long charging goes on once a Modbus meter fails).

ctl.meter is the S0 Meter (firmware/evse/meter.py) or, when one is fitted, a
Modbus meter (firmware/evse/mbmeter.py) put there by firmware/meterbus.py;
while it fails the fault is PowerMeterFailure (no stop: the connector's status
stays, with that errorCode) and after meter_grace_s the offer is withdrawn
(SuspendedEVSE) until it answers again.

Read-only: cp, offered_a, contactor_closed, energy_wh, power_w, current_a,
voltage_v, per_phase ({attribute: (L1, L2, L3)} from a Modbus meter, or
None), frequency_hz, fault (ChargePointErrorCode or None), fault_info (short vendor
detail for vendorErrorCode, e.g. "rcd", "diode", "welded"), ev_connected
(cp in B/C/D), charging (contactor closed), permitted, limit_a, cable_a
(None = no cable limit), raw (the undebounced letter of the last reading),
last_step_ms (ticks of the last step, for the watchdog supervisor: the task
is alive while ticks_diff(ticks_ms(), ctl.last_step_ms) stays small),
phases (in use: the wired count, or the phase contactor's), can_switch
(a phase contactor is fitted).

Rules (IEC 61851-1 and issue 3), with the timing constants:
- Classification: pilot.classify on the high plateau; a new letter must be read
  continuously for DEBOUNCE_MS (60 ms, three steps) before it becomes `cp`.
- Offer: min(max_current_a, cable rating, limit), PWM only while an EV is
  connected, charging is permitted, nothing is faulted, the residual-current
  self-test passed (ports with a test output) and the lock holds (ports with a
  lock). Otherwise the pilot is a constant +12 V. A new limit reaches the PWM
  on the next step (<= 20 ms).
- The contactor closes only when cp is C (or D with ventilation), the raw
  reading agrees, the pilot offers current and nothing is faulted.
- Phase switching (firmware/evse/phases.py): while the phase contactor is
  to move there is no offer; it moves only once the contactor has been open
  (feedback too, when fitted) for SETTLE_MS, and the offer returns SWITCH_MS
  after it moved. So it never switches under load.
- The board opens the contactor by itself, without this step and without the
  event loop, on a residual-current trip or when the pilot leaves C (D with
  ventilation): port.contactor(True, vent) arms its safety path, and each step
  first follows what port.tripped() reports (boards/README.md). The rules
  below are the controller's own, behind it.
- It opens: when the raw reading has not been C (D with ventilation) for
  LEAVE_MS (30 ms; so within 100 ms of C->B/A/E/F/? at 50 Hz, also when the
  reading flickers between non-C letters); at once on a residual-current trip
  or any fault (the diode fault counts after DIODE_MS, 30 ms, of bad low
  plateaus); and NO_OFFER_MS (6 s) after the offer stopped if the EV stays in C
  (it opens within 100 ms if the EV goes to B).
- Latched until the EV is unplugged, i.e. a step where the debounced cp and
  the reading of that step are both A:
  residual-current trip: GroundFailure, also held while the monitor input
    stays active;
  missing diode, state D without ventilation: EVCommunicationError;
  over-current: OverCurrentFailure, when the current from the meter exceeds
    1.1 x offer + 1 A for 10 s (the EV may take 5 s to follow a lower offer);
  RCD self-test: at each plug-in (ports with a test output) the test current
    must trip the monitor within 1 s and the monitor reset within 1 s of
    removing it; if it does not trip: InternalError; if it does not reset:
    GroundFailure;
  lock that does not engage: ConnectorLockFailure;
  contactor that does not follow its command for 300 ms per the feedback
    input (welded or stuck open): PowerSwitchFailure, cleared in A only once
    the feedback reads open.
- Not latched: pilot E, F or "?" (EVCommunicationError) while they last.
- The diode is checked on the low plateau while PWM runs and the EV is in
  B/C/D, for duties up to DIODE_MAX_PM (90 %: the low phase of a longer duty
  is too short for a burst of ADC reads to catch).
- Several faults at once: the first of GroundFailure, PowerSwitchFailure,
  OverCurrentFailure, InternalError, ConnectorLockFailure,
  EVCommunicationError is reported.
- The OCPP side decides the connector status: EVCommunicationError is a
  warning (SuspendedEVSE, Preparing), the others are Faulted.
"""
import log
from compat import ticks_ms, ticks_diff, sleep_ms
from firmware.evse import pilot
from firmware.evse.meter import Meter
from firmware.evse.safety import Faults
from firmware.evse.phases import PhaseSwitch

PERIOD_MS = 20
DEBOUNCE_MS = 60
LEAVE_MS = 30
DIODE_MS = 30
DIODE_MAX_PM = 900
NO_OFFER_MS = 6000

_DEFAULTS = (
    ("max_current_a", 16), ("fixed_cable_a", None), ("ventilation", False),
    ("free_vend", False), ("phases", 3), ("voltage", 230),
    ("imp_per_kwh", None), ("energy_base_wh", 0), ("connector", 1), ("meter_grace_s", 60),
)
METER_FAIL = "PowerMeterFailure"


class Controller:
    def __init__(self, port, settings=None):
        self.port = port
        self.listener = None
        self.cp = "?"
        self._cp_real = False        # cp came from a debounced reading
        self._cand = None
        self._cand_t = 0
        self.raw = "?"
        self.offered_a = 0
        self._duty = 0               # per mille on the pilot now, 0 = constant
        self.contactor_closed = False
        self._bad_t = None           # since when the raw reading is not chargeable
        self._diode_t = None
        self._nooffer_t = None
        self.limit_a = None
        self.cable_a = None
        self.last_step_ms = ticks_ms()
        self._errors = 0
        self.s = {}
        for k, v in _DEFAULTS:
            self.s[k] = v
        if settings:
            self._merge(settings)
        imp = self.s["imp_per_kwh"] or getattr(port, "imp_per_kwh", 1000)
        self.meter = Meter(imp, self.s["energy_base_wh"])
        self.faults = Faults(port)
        self._read_pp = getattr(port, "read_pp", None)
        self._tripped = getattr(port, "tripped", None)
        self.tag = "evse%d" % self.s["connector"]
        self._permit = bool(self.s["free_vend"])
        self._phase = PhaseSwitch(port, self.s["phases"], self.tag) \
            if getattr(port, "has_phase_switch", False) else None
        self.fault = None
        self.fault_info = None
        port.contactor(False)
        port.pilot_high()

    # ---- requests from above -------------------------------------------------
    def permit(self, on):
        on = bool(on)
        if on != self._permit:
            log.info(self.tag, "charging %s", "permitted" if on else "not permitted")
        self._permit = on

    def set_limit(self, amps):
        self.limit_a = amps

    def set_phases(self, n):
        return self._phase.ask(n) if self._phase is not None else n == self.s["phases"]

    def _merge(self, settings):
        for k in settings:
            v = settings[k]
            # None for a setting with a real default means "not configured".
            if v is not None or self.s.get(k) is None:
                self.s[k] = v

    def configure(self, settings):
        self._merge(settings)
        imp = self.s["imp_per_kwh"] or getattr(self.port, "imp_per_kwh", 1000)
        self.meter.configure(imp, self.s["energy_base_wh"])
        if self.s["ventilation"]:
            self.faults.vent = False

    def unlock(self):
        """Release the cable (OCPP UnlockConnector): stops charging first, at
        once, since the plug must never move under load. True when released,
        False when the actuator failed, None when there is none."""
        f = self.faults
        if not f.has_lock:
            return None
        self.permit(False)
        if self.contactor_closed:
            self._switch(False)
            self._emit("contactor", False)
        r = self.port.lock(False)
        f.locked = False
        return bool(r)

    # ---- read-only view ------------------------------------------------------
    @property
    def permitted(self):
        return self._permit

    @property
    def energy_wh(self):
        return self.meter.energy_wh

    @property
    def power_w(self):
        return self.meter.power_w

    @property
    def phases(self):
        return self._phase.n if self._phase is not None else self.s["phases"]

    @property
    def can_switch(self):
        return self._phase is not None

    @property
    def current_a(self):
        ph = getattr(self.meter, "phase", None)
        if ph is not None:
            # A Modbus meter measures each phase: the highest, which is what
            # the over-current check and a fuse care about.
            m = 0
            for x in ph("i"):
                if x is not None and x > m:
                    m = x
            return m
        return self.meter.power_w / (self.s["voltage"] * self.phases)

    @property
    def voltage_v(self):
        ph = getattr(self.meter, "phase", None)
        if ph is not None:
            v = ph("v")[0]
            if v is not None:
                return v
        return self.s["voltage"]

    @property
    def per_phase(self):
        """{attribute: (L1, L2, L3)} measured per phase (a Modbus meter), or None."""
        m = self.meter
        if getattr(m, "phase", None) is None or m.failed_ms is not None or m.ok_ms is None:
            return None
        return {"current_a": m.phase("i"), "voltage_v": m.phase("v"), "power_w": m.phase("p")}

    @property
    def frequency_hz(self):
        return getattr(self.meter, "frequency_hz", None)

    @property
    def ev_connected(self):
        c = self.cp
        return c == "B" or c == "C" or c == "D"

    @property
    def charging(self):
        return self.contactor_closed

    # ---- the control cycle ---------------------------------------------------
    def step(self, now=None):
        if now is None:
            now = ticks_ms()
        port = self.port
        f = self.faults
        old_cp = self.cp
        old_fault = self.fault
        old_offer = self.offered_a
        old_closed = self.contactor_closed
        old_phases = self.phases
        pwm_at_read = self._duty

        # The board's safety path may have opened the contactor since the last
        # step, without us (boards/README.md): follow it, the rest of the step
        # then sees why (the pilot's letter, the monitor's latch).
        why = self._tripped() if self._tripped is not None else None
        if why is not None and self.contactor_closed:
            self.contactor_closed = False
            f.commanded(False)
            # After the offer stopped, the EV leaving C is the normal end.
            (log.warn if self._duty else log.info)(
                self.tag, "contactor opened by the board's safety path (%s)", why)

        hi, lo = port.read_pilot()
        raw = pilot.classify(hi)
        self.raw = raw
        if raw != self._cand:
            self._cand = raw
            self._cand_t = now
        if (raw != self.cp or not self._cp_real) and ticks_diff(now, self._cand_t) >= DEBOUNCE_MS:
            self.cp = raw
            self._cp_real = True
        cp = self.cp
        vent = self.s["ventilation"]
        connected = cp == "B" or cp == "C" or cp == "D"

        # The diode only shows while the pilot swings negative, and only when
        # the EV loads it; a missing diode reads above -11 V.
        if pwm_at_read and pwm_at_read <= DIODE_MAX_PM \
                and (raw == "B" or raw == "C" or raw == "D") and not pilot.diode_ok(lo):
            if self._diode_t is None:
                self._diode_t = now
            elif ticks_diff(now, self._diode_t) >= DIODE_MS:
                f.diode = True
        else:
            self._diode_t = None

        if cp == "D" and self._cp_real and not vent:
            f.vent = True
        self.meter.update(port.pulses(), now,
                          self.contactor_closed or f.feedback is True)
        # Latches clear only while the debounced state and this very reading
        # both say A, so a trip at the instant of plug-in is not forgotten.
        f.update(now, cp == "A" and raw == "A", self.contactor_closed, connected, self)
        self._set_fault(f)
        # A Modbus meter that gives no good reading (firmware/evse/mbmeter.py)
        # is reported, but charging goes on for meter_grace_s: a short outage
        # of the meter costs no energy that is not billed later (its register
        # counts on), while a long one must not charge unmetered.
        mfail = getattr(self.meter, "failed_ms", None)
        meter_hold = mfail is not None and \
            ticks_diff(now, mfail) >= self.s["meter_grace_s"] * 1000
        hard = self.fault is not None and self.fault != METER_FAIL

        # ---- offer ----
        amps = self._offer_amps()
        hold = self._phase is not None and self._phase.step(now, self.contactor_closed,
                                                            f.feedback)
        offering = connected and self._permit and not hard and not meter_hold \
            and f.ready() and amps >= pilot.MIN_A and not hold
        if not offering:
            amps = 0
        self.offered_a = amps
        duty = pilot.duty_pm(amps)
        if duty != self._duty:
            if duty:
                port.pilot_pwm(duty)
            else:
                port.pilot_high()
            self._duty = duty

        # ---- contactor ----
        chargeable = raw == "C" or (raw == "D" and vent)
        if chargeable:
            self._bad_t = None
        elif self._bad_t is None:
            self._bad_t = now
        if offering:
            self._nooffer_t = None
        elif self._nooffer_t is None:
            self._nooffer_t = now
        must_open = hard or f.tripped \
            or (self._bad_t is not None and ticks_diff(now, self._bad_t) >= LEAVE_MS) \
            or (self._nooffer_t is not None and ticks_diff(now, self._nooffer_t) >= NO_OFFER_MS)
        if self.contactor_closed:
            if must_open:
                self._switch(False)
        elif offering and chargeable and not must_open \
                and (cp == "C" or (cp == "D" and vent)):
            self._switch(True)
        f.manage_lock(connected and self._permit, self.contactor_closed)

        self.last_step_ms = now
        if self._errors:
            self._errors = 0
        if cp != old_cp:
            log.info(self.tag, "pilot %s -> %s", old_cp, cp)
            self._emit("state", cp)
        if self.fault != old_fault:
            self._emit("fault", self.fault)
        if self.offered_a != old_offer:
            self._emit("offer", self.offered_a)
        if self.contactor_closed != old_closed:
            self._emit("contactor", self.contactor_closed)
        if self.phases != old_phases:
            self._emit("phases", self.phases)

    def _offer_amps(self):
        s = self.s
        amps = s["max_current_a"]
        cable = s["fixed_cable_a"]
        if cable is None and self._read_pp is not None:
            mv = self._read_pp()
            if mv is not None:
                cable = pilot.cable_amps(pilot.pp_ohms(
                    mv, self.port.pp_pullup_ohm, self.port.pp_supply_mv))
        self.cable_a = cable
        if cable is not None and cable < amps:
            amps = cable
        lim = self.limit_a
        if lim is not None and lim < amps:
            amps = lim
        if amps > pilot.MAX_A:
            amps = pilot.MAX_A
        return amps

    def _set_fault(self, f):
        code = f.top(self.cp, self._cp_real)
        info = f.info
        if code is None and getattr(self.meter, "failed_ms", None) is not None:
            code = METER_FAIL
            info = self.meter.last_error
        if code != self.fault:
            if code:
                log.warn(self.tag, "fault %s (%s)", code, info)
            else:
                log.info(self.tag, "fault cleared")
        self.fault = code
        self.fault_info = info

    def _switch(self, closed):
        if closed:
            # What the board's safety path lets through while closed.
            self.port.contactor(True, self.s["ventilation"])
        else:
            self.port.contactor(False)
        self.contactor_closed = closed
        self.faults.commanded(closed)
        log.info(self.tag, "contactor %s", "closed" if closed else "open")

    def _emit(self, event, detail):
        fn = self.listener
        if fn is None:
            return
        try:
            fn(event, detail)
        except Exception as e:
            log.error(self.tag, "listener failed on %s: %r", event, e)

    def shutdown(self):
        """Open and stop offering now, whatever the EV does (before a reset)."""
        try:
            self.port.contactor(False)
        finally:
            self.contactor_closed = False
            self.faults.commanded(False)
            self._duty = 0
            self.offered_a = 0
            self.port.pilot_high()

    def _failsafe(self, e):
        # A step that raised leaves the outputs unknown: force them safe and
        # report InternalError until a step completes again.
        self._errors += 1
        if self._errors == 1 or self._errors % 500 == 0:
            log.error(self.tag, "control step failed (%d): %r", self._errors, e)
        was = self.contactor_closed
        old_fault = self.fault
        old_offer = self.offered_a
        try:
            self.shutdown()
        except Exception:
            pass
        self.fault = "InternalError"
        self.fault_info = "exception"
        if old_fault != self.fault:
            self._emit("fault", self.fault)
        if old_offer:
            self._emit("offer", 0)
        if was:
            self._emit("contactor", False)

    async def run(self):
        while True:
            t0 = ticks_ms()
            try:
                self.step(t0)
            except Exception as e:
                self._failsafe(e)
            el = ticks_diff(ticks_ms(), t0)
            await sleep_ms(PERIOD_MS - el if el < PERIOD_MS - 1 else 1)
