"""A scriptable board Port (see boards/README.md) for controller tests, on
CPython and MicroPython alike. Tests set the inputs, the controller drives the
outputs, and the port remembers both.

    p = FakePort(feedback="follow", rcd_test=True)
    p.pilot("C")            # or p.hi = 6200: the high plateau the EV makes
    p.diode = False         # low plateau stays near -5 V while PWM runs
    p.rcd = True            # residual current (the monitor input)
    p.count += 10           # S0 pulses
    p.trip_now("pilot")     # the board's safety path opened the contactor itself
"""

LEVEL = {"A": 12000, "B": 9000, "C": 6000, "D": 3000, "E": 0, "F": -12000, "?": 10500}


class FakePort:
    pp_pullup_ohm = 1000
    pp_supply_mv = 3300

    def __init__(self, feedback=None, rcd_test=False, lock=None, pp_mv=None,
                 imp_per_kwh=1000):
        self.hi = LEVEL["A"]
        self.diode = True
        self.rcd = False
        self.fb_mode = feedback     # None, "follow", "welded", "stuck"
        self.has_rcd_test = rcd_test
        self.test_out = False
        self.out = "+12"            # "+12", "pwm", "-12"
        self.duty = 0
        self.cmd = False
        self.count = 0
        self.imp_per_kwh = imp_per_kwh
        self.has_lock = lock is not None
        self.lock_ok = lock
        self.locked = False
        self.pp_mv = pp_mv
        self.last_rcd = None
        self.last_read = None
        self.raise_on_read = None
        self.switches = 0
        self.trip = None
        self.vent = None

    def pilot(self, letter):
        self.hi = LEVEL[letter]

    # ---- the Port interface --------------------------------------------------
    def pilot_pwm(self, duty_pm):
        if not 0 < duty_pm < 1000:
            raise ValueError("duty out of range: %r" % (duty_pm,))
        self.out = "pwm"
        self.duty = duty_pm

    def pilot_high(self):
        self.out = "+12"
        self.duty = 0

    def pilot_low(self):
        self.out = "-12"
        self.duty = 0

    def read_pilot(self):
        if self.raise_on_read is not None:
            raise self.raise_on_read
        hi = self.hi
        if self.out == "pwm" and hi > -11000:
            lo = -12000 if self.diode else -5000
        else:
            lo = hi
        self.last_read = (hi, lo)
        return hi, lo

    def tripped(self):
        """What a test made the board's safety path do (trip_now()), once."""
        t = self.trip
        self.trip = None
        return t

    def trip_now(self, why):
        # The safety path opens by itself, as a board's interrupt would.
        self.cmd = False
        self.trip = why

    def contactor(self, closed, vent=False):
        self.vent = vent
        closed = bool(closed)
        if closed != self.cmd:
            self.switches += 1
        self.cmd = closed

    def contactor_feedback(self):
        m = self.fb_mode
        if m is None:
            return None
        if m == "welded":
            return True
        if m == "stuck":
            return False
        return self.cmd

    def pulses(self):
        return self.count

    def rcd_fault(self):
        v = bool(self.rcd or self.test_out)
        self.last_rcd = v
        return v

    def rcd_test(self, on):
        self.test_out = bool(on)

    def read_pp(self):
        return self.pp_mv

    def lock(self, locked):
        if not self.has_lock:
            return None
        if locked:
            if self.lock_ok:
                self.locked = True
            return self.lock_ok
        self.locked = False
        return True
