"""Load management: the house's main fuse, watched by a grid meter, as a
local limit (a source of firmware/locallimit.py named "grid"), so it
combines with the central system's profiles and MQTT's limit (the smallest
wins) and shows in GetCompositeSchedule.

With main_fuse_a set, after each reading of the grid meter:
    house_k  = grid current on phase k - what the EV meters (or the S0
               estimate) draw on phase k, never below 0
    target   = min over the phases (main_fuse_a - house_k), whole amps down
               (below 6 A: 0, a pause)
The offer falls to a lower target at once, so it reaches the pilot within
one grid reading (500 ms) and a control step; it rises only when the target
has stayed at least HYST_A above it for RAISE_MS, so a fridge starting and
stopping does not make the EV hunt. A grid meter without a good reading
gives grid_safe_a until it reads again.

    g = GridLimit(cfg, limits, grid_meter, ctls)
    g.update(now_ms)          after each poll of the grid meter
    g.offer                   the limit now (None: load management off)
"""
import log
from compat import ticks_diff

HYST_A = 1
RAISE_MS = 10000
MIN_A = 6


class GridLimit:
    name = "grid"

    def __init__(self, cfg, limits, meter, ctls):
        self.cfg = cfg
        self.limits = limits
        self.meter = meter
        self.ctls = ctls
        self.offer = None
        self.target = None
        self._up_ms = None      # since when the target is above the offer
        self.house = [0, 0, 0]

    # ---- the local limit
    def amps(self, c, t_ms):
        return self.offer, None

    def phases(self, c):
        return None

    # ---- the arithmetic
    def ev_amps(self):
        """What the EVs draw per phase: (L1, L2, L3)."""
        out = [0, 0, 0]
        for ctl in self.ctls:
            pp = ctl.per_phase
            if pp is not None:
                i = pp["current_a"]
                for k in range(3):
                    if i[k] is not None:
                        out[k] += i[k]
            else:
                a = ctl.current_a
                for k in range(ctl.phases):
                    out[k] += a
        return out

    def compute(self, grid, ev, fuse):
        """The target for grid and EV currents per phase (pure: the tests
        call it)."""
        room = None
        for k in range(3):
            g = grid[k]
            if g is None:
                continue
            h = g - ev[k]
            if h < 0:
                h = 0
            self.house[k] = h
            r = fuse - h
            if room is None or r < room:
                room = r
        if room is None:
            return None
        a = int(room)
        return a if a >= MIN_A else 0

    def update(self, now):
        fuse = self.cfg.get("main_fuse_a")
        if fuse <= 0:
            new = None
        else:
            m = self.meter
            if m.failed_ms is not None or m.ok_ms is None:
                new = self.cfg.get("grid_safe_a")
                if new < MIN_A:
                    new = 0
            else:
                new = self.compute(m.phase("i"), self.ev_amps(), fuse)
                if new is None:
                    new = self.cfg.get("grid_safe_a")
        self.target = new
        self.step(new, now)

    def step(self, new, now):
        old = self.offer
        if new is None or old is None or new < old:
            self._up_ms = None
            self.offer = new
        elif new >= old + HYST_A:
            if self._up_ms is None:
                self._up_ms = now
            elif ticks_diff(now, self._up_ms) >= RAISE_MS:
                self._up_ms = None
                self.offer = new
        else:
            self._up_ms = None
        if self.offer != old:
            log.info("grid", "house %s A, offer %s A", [int(h) for h in self.house], self.offer)
            self.limits.changed()
