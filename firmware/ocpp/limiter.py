# Brings the smart-charging limit in force to each connector's pilot. It wakes
# when a period starts or ends (the schedule says when) or when something
# changed (a profile, a transaction, the clock), never by polling every tick,
# and a new limit reaches the controller at once (the pilot within one step).
import asyncio
from compat import wall

MAX_SLEEP_S = 300   # a bound on any sleep, against a wall clock that jumps


class Limiter:
    def __init__(self, smart, conns):
        self.smart = smart
        self.conns = conns
        self.event = asyncio.Event()
        self.limits = [None] * len(conns)

    def changed(self):
        self.event.set()

    def apply(self):
        """Set every connector's limit now; returns seconds until the next change."""
        now = wall()
        nxt = MAX_SLEEP_S
        for conn in self.conns[1:]:
            tx = conn.tx
            a, dt = self.smart.limit(conn.c, now, tx["start_s"] if tx else None)
            self.limits[conn.c] = a
            if conn.ctl is not None:
                conn.ctl.set_limit(a)
            if dt is not None and dt < nxt:
                nxt = dt
        return nxt

    async def run(self):
        while True:
            self.event.clear()
            nxt = self.apply()
            try:
                await asyncio.wait_for(self.event.wait(), max(0.05, nxt))
            except asyncio.TimeoutError:
                pass
