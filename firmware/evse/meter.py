"""Energy and power from a cumulative S0 pulse count.

Meter(imp_per_kwh, base_wh=0)
m.update(count, now_ms, live)  once per control cycle; `live` says whether the
                               supply can be on (contactor commanded closed or
                               its feedback reports closed)
m.energy_wh   base_wh + pulses since the first update, in Wh
m.power_w     estimate from the pulse rate, 0 while the supply is off

Power is measured edge to edge over a window of at least WINDOW_MS, because
the pulses are only seen at the control rate (20 ms) and one interval alone
would be off by several per cent at 10 kW. Between pulses the estimate is
capped by one pulse over the time since the last one (checked every
DECAY_EVERY_MS), so it falls when the EV stops drawing; after IDLE_MS without
a pulse it is 0.
"""
from compat import ticks_diff

WINDOW_MS = 2000
IDLE_MS = 60000
DECAY_EVERY_MS = 250   # float work allocates on the boards: do it sparingly


class Meter:
    def __init__(self, imp_per_kwh, base_wh=0):
        self.configure(imp_per_kwh, base_wh)
        self._n0 = None
        self._last_n = 0
        self._ref_t = 0
        self._ref_n = 0
        self._have_ref = False
        self._pulse_t = 0
        self._decay_t = 0
        self._count = 0
        self._live = False
        self.power_w = 0

    def configure(self, imp_per_kwh, base_wh=0):
        if not imp_per_kwh or imp_per_kwh <= 0:
            raise ValueError("imp_per_kwh must be a positive number, e.g. 1000")
        self.wh_per_pulse = 1000 / imp_per_kwh
        # Wh per pulse times ms per hour: power of one pulse per millisecond.
        self._wms = self.wh_per_pulse * 3600000
        self.base_wh = base_wh

    @property
    def energy_wh(self):
        if self._n0 is None:
            return self.base_wh
        return self.base_wh + (self._count - self._n0) * self.wh_per_pulse

    def update(self, count, now, live):
        if self._n0 is None:
            self._n0 = count
            self._last_n = count
        self._count = count
        if not live:
            self._live = False
            self._have_ref = False
            self.power_w = 0
            self._last_n = count
            return
        if not self._live:
            # Supply just came on: energy starts flowing from here, so the
            # first pulse already gives a (slightly low) estimate.
            self._live = True
            self._set_ref(now, count)
            self._pulse_t = now
            self._last_n = count
            return
        if count != self._last_n:
            self._last_n = count
            self._pulse_t = now
            if not self._have_ref:
                self._set_ref(now, count)
                return
            dt = ticks_diff(now, self._ref_t)
            if dt > 0 and (dt >= WINDOW_MS or self.power_w == 0):
                self.power_w = (count - self._ref_n) * self._wms / dt
                self._set_ref(now, count)
            return
        if self.power_w > 0 and ticks_diff(now, self._decay_t) >= DECAY_EVERY_MS:
            self._decay_t = now
            idle = ticks_diff(now, self._pulse_t)
            if idle >= IDLE_MS:
                self.power_w = 0
                self._set_ref(now, count)
            elif idle > 0:
                cap = self._wms / idle
                if cap < self.power_w:
                    self.power_w = cap

    def _set_ref(self, now, count):
        self._ref_t = now
        self._ref_n = count
        self._have_ref = True
