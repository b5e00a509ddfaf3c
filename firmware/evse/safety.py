"""Fault latches of one connector: residual current (with the self-test),
contactor feedback, over-current, diode, ventilation and the cable lock.

The controller owns one Faults and calls update() once per step; top() names
the fault to report as an OCPP ChargePointErrorCode. Which faults latch and
what clears them is documented in firmware/evse/controller.py.
"""
import log
from compat import ticks_diff

FEEDBACK_MS = 300      # a contactor and its mirror contact settle well within this
RCD_TEST_MS = 1000     # the monitor must trip, then reset, each within this
OVERCURRENT_MS = 10000  # IEC 61851-1 gives the EV 5 s to follow a lower offer
OVERCURRENT_MARGIN = 1.1
OVERCURRENT_SLACK_A = 1.0
OVERCURRENT_CHECK_MS = 200

# Self-test phases.
_T_IDLE = 0     # not run since the EV was plugged in
_T_TRIP = 1     # test output on, waiting for the monitor to trip
_T_RESET = 2    # test output off, waiting for the monitor to reset
_T_PASSED = 3
_T_FAILED = 4


class Faults:
    def __init__(self, port):
        self.port = port
        self.has_test = bool(getattr(port, "has_rcd_test", False))
        self.has_lock = bool(getattr(port, "has_lock", False))
        self.rcd = False            # GroundFailure latch
        self.tripped = False        # the monitor input this step
        self.switch = None          # "welded" / "stuck_open"
        self.oc = False
        self.diode = False
        self.vent = False
        self.lock_failed = False
        self.locked = False
        self.feedback = None
        self.test = _T_IDLE
        self._test_t = 0
        self._fb_t = None
        self._oc_t = None
        self._oc_chk = 0
        self.info = None

    def commanded(self, closed):
        # The feedback gets its full settling time from each new command.
        self._fb_t = None
        self._oc_t = None

    def ready(self):
        """Nothing that is not a reportable fault stops the offer."""
        if self.has_test and self.test != _T_PASSED:
            return False
        if self.has_lock and not self.locked:
            return False
        return True

    def update(self, now, unplugged, closed, connected, ctl):
        port = self.port
        t = bool(port.rcd_fault())
        self.tripped = t
        if self.test == _T_TRIP or self.test == _T_RESET:
            self._self_test(now, t, unplugged)
        elif t:
            if not self.rcd:
                log.warn("rcd", "residual current monitor tripped")
            self.rcd = True
        elif unplugged:
            self.rcd = False
        if self.has_test and self.test == _T_IDLE and connected and not closed \
                and not self.rcd:
            port.rcd_test(True)
            self.test = _T_TRIP
            self._test_t = now

        fb = port.contactor_feedback()
        self.feedback = fb
        if fb is None or fb == closed:
            self._fb_t = None
        elif self._fb_t is None:
            self._fb_t = now
        elif ticks_diff(now, self._fb_t) >= FEEDBACK_MS and self.switch is None:
            self.switch = "welded" if fb else "stuck_open"
            log.warn("contactor", "does not follow its command: %s", self.switch)

        if not closed or not ctl.offered_a or ctl.power_w == 0:
            self._oc_t = None
        elif ticks_diff(now, self._oc_chk) >= OVERCURRENT_CHECK_MS:
            # Float arithmetic allocates on the boards, so a few times a second.
            self._oc_chk = now
            a = ctl.current_a
            if a <= ctl.offered_a * OVERCURRENT_MARGIN + OVERCURRENT_SLACK_A:
                self._oc_t = None
            elif self._oc_t is None:
                self._oc_t = now
            elif ticks_diff(now, self._oc_t) >= OVERCURRENT_MS and not self.oc:
                self.oc = True
                log.warn("meter", "EV draws %.1f A, offer %s A", a, ctl.offered_a)

        if unplugged:
            self.diode = False
            self.vent = False
            self.oc = False
            self.lock_failed = False
            if self.test != _T_IDLE:
                if self.test == _T_TRIP or self.test == _T_RESET:
                    port.rcd_test(False)
                self.test = _T_IDLE
            if self.switch is not None and not closed and fb is not True:
                self.switch = None

    def _self_test(self, now, t, unplugged):
        port = self.port
        late = ticks_diff(now, self._test_t) >= RCD_TEST_MS
        if self.test == _T_TRIP:
            if t or late or unplugged:
                port.rcd_test(False)
                self._test_t = now
                if t:
                    self.test = _T_RESET
                elif late:
                    self.test = _T_FAILED
                    log.warn("rcd", "self-test: the monitor did not trip")
        elif not t:
            self.test = _T_PASSED
            log.info("rcd", "self-test passed")
        elif late:
            # Still tripped with the test output off: a real residual current,
            # or a monitor that does not reset; either way no charging.
            self.test = _T_FAILED
            self.rcd = True
            log.warn("rcd", "self-test: the monitor did not reset")

    def manage_lock(self, want, closed):
        if not self.has_lock:
            return
        if want and not self.locked and not self.lock_failed:
            r = self.port.lock(True)
            if r:
                self.locked = True
            else:
                self.lock_failed = True
                log.warn("lock", "the connector lock did not engage")
        elif not want and self.locked and not closed:
            # Never release the plug while the contactor can still be closed.
            self.port.lock(False)
            self.locked = False

    def top(self, cp, cp_real):
        """The ChargePointErrorCode of the most serious fault, or None; its
        short detail is left in self.info."""
        if self.rcd:
            return self._is("GroundFailure", "rcd")
        if self.switch is not None:
            return self._is("PowerSwitchFailure", self.switch)
        if self.oc:
            return self._is("OverCurrentFailure", "overcurrent")
        if self.test == _T_FAILED:
            return self._is("InternalError", "rcd_selftest")
        if self.lock_failed:
            return self._is("ConnectorLockFailure", "lock")
        if self.diode:
            return self._is("EVCommunicationError", "diode")
        if self.vent:
            return self._is("EVCommunicationError", "ventilation")
        if cp_real:
            if cp == "E":
                return self._is("EVCommunicationError", "pilot_short")
            if cp == "F":
                return self._is("EVCommunicationError", "pilot_f")
            if cp == "?":
                return self._is("EVCommunicationError", "pilot_invalid")
        return self._is(None, None)

    def _is(self, code, info):
        self.info = info
        return code
