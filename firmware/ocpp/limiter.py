# Brings the limit in force to each connector's pilot: the smallest of the
# smart-charging limit and the local limits (firmware/locallimit.py: MQTT),
# and the phase count (numberPhases, MQTT) to its phase contactor. It wakes
# when a period starts or ends (the schedule says when), when a local limit
# expires, or when something changed (a profile, a transaction, the clock, a
# local limit), never by polling every tick, and a new limit reaches the
# controller at once (the pilot within one step). The controller acts on
# changes only, so a limit given again changes nothing.
#
# A ChargePointMaxProfile limits the charge point as a whole (spec 3.13.1), so
# with more than one connector its current is shared (share() below): the
# connectors with a transaction split it, each at most its own limit, earliest
# transaction first when there is not enough for everyone to get the 6 A IEC
# 61851 asks for (the others are offered nothing and show SuspendedEVSE).
# Connectors without a transaction are offered only what is left, so a new
# transaction never pushes the total over the limit; its start rebalances.
# When shares move, the lowered offers go out at once and the raised ones
# RAISE_AFTER_MS later: an EV has that long to follow a lower offer (IEC
# 61851-1), and until it has, the total it draws is not yet down.
import asyncio
from compat import wall, wall_known, ticks_ms, ticks_diff
from firmware.ocpp import smart_calc as calc

MAX_SLEEP_S = 300   # a bound on any sleep, against a wall clock that jumps
MIN_A = 6           # the lowest offer an EV can charge with (IEC 61851-1)
RAISE_AFTER_MS = 5000
_NONE = 1 << 30     # no limit, as a number to compare


def _down(a):
    # To 0.1 A, never above what was computed.
    return int(a * 10 + 1e-6) / 10


def share(total, caps, active):
    """Amps for each connector index of caps (its own limit), given the
    station's total; active: the indices with a transaction, earliest first."""
    out = [0] * len(caps)
    run = [i for i in active if caps[i] >= MIN_A]
    while run and total < MIN_A * len(run):
        run.pop()
    left = total
    k = len(run)
    # Water-filling: the smallest own limits are met first, the rest share
    # equally what remains.
    for i in sorted(run, key=lambda j: caps[j]):
        give = _down(min(caps[i], left / k))
        out[i] = give
        left -= give
        k -= 1
    for i in range(len(caps)):
        if i not in active:
            out[i] = _down(min(caps[i], left)) if left >= MIN_A else 0
    return out


class Limiter:
    def __init__(self, smart, conns):
        self.smart = smart
        self.conns = conns
        self.event = asyncio.Event()
        self.limits = [None] * len(conns)   # what each controller was given
        self._cut_ms = None                 # when a drawing connector's share last fell

    def changed(self):
        self.event.set()

    def apply(self, now_ms=None):
        """Set every connector's limit now; returns seconds until the next change."""
        now = wall()
        # Known again: BootNotification or NTP call changed() (the charge point).
        self.smart.clock_known = wall_known()
        t_ms = ticks_ms() if now_ms is None else now_ms
        nxt = MAX_SLEEP_S
        sc = self.smart
        local = sc.local
        conns = self.conns
        shared = len(conns) > 2
        station = None
        if shared:
            station, dt = self.smart.limit(0, now, None, calc.STATION)
            if dt is not None:
                nxt = dt
        own = [None] * len(conns)
        for conn in conns[1:]:
            tx = conn.tx
            c = conn.c
            a, dt, n = sc.limits(c, now, tx.start_s if tx else None,
                                 calc.OWN if station is not None else calc.ALL)
            if local is not None:
                la, _src, ldt = local.amps(c, t_ms)
                if la is not None and (a is None or la < a):
                    a = la
                if ldt is not None and (dt is None or ldt / 1000 < dt):
                    dt = ldt / 1000
            own[c] = a
            if dt is not None and dt < nxt:
                nxt = dt
            if getattr(conn.ctl, "can_switch", False):
                conn.ctl.set_phases(calc.used_phases(sc, c, n))
        if station is not None:
            hw = self.smart.cfg.get("max_current_a")
            caps = [hw if a is None or a > hw else a for a in own[1:]]
            active = [conn for conn in conns[1:] if conn.tx is not None]
            active.sort(key=lambda conn: (conn.tx.start_s, conn.c))
            got = share(station, caps, [conn.c - 1 for conn in active])
            wait = self._hold(got, t_ms)
            if wait is not None and wait < nxt:
                nxt = wait
            own[1:] = got
        for conn in conns[1:]:
            self.limits[conn.c] = own[conn.c]
            if conn.ctl is not None:
                conn.ctl.set_limit(own[conn.c])
        return nxt

    def _hold(self, got, t):
        # Raised shares wait until every lowered one has had RAISE_AFTER_MS to
        # take effect; returns seconds until they may go up, or None.
        old = self.limits
        for i in range(len(got)):
            was = _NONE if old[i + 1] is None else old[i + 1]
            if got[i] < was and self.conns[i + 1].tx is not None:
                self._cut_ms = t
        if self._cut_ms is None:
            return None
        left = RAISE_AFTER_MS - ticks_diff(t, self._cut_ms)
        if left <= 0:
            self._cut_ms = None
            return None
        held = False
        for i in range(len(got)):
            was = old[i + 1]
            if was is not None and got[i] > was:
                got[i] = was
                held = True
        return left / 1000 if held else None

    async def run(self):
        while True:
            self.event.clear()
            nxt = self.apply()
            try:
                await asyncio.wait_for(self.event.wait(), max(0.05, nxt))
            except asyncio.TimeoutError:
                pass
