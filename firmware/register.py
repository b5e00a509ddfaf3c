# The energy register of each connector, kept across power cuts. The S0 pulse
# counter restarts at zero with the board, so the register is the last saved
# value plus the pulses counted since boot. It is saved every REGISTER_WH of
# energy and every REGISTER_S seconds while energy flows, unless a record of the
# transaction queue carried it meanwhile (every record does, and the register
# restarts no lower than the queue's highest: firmware/ocpp/txqueue.py floor());
# a StopTransaction record carries it at the end of each transaction. After a
# power cut it is therefore never behind the last meterStop and at most
# REGISTER_WH short of the energy really delivered.
#
# The file (store.FILES "register", version 2) is {"e": [Wh, ...], "w": wall
# seconds}: the wall clock when it was saved, known or provisional, rides
# along, so that after a power cut the clock restarts no earlier (compat.set_floor)
# without a write of its own. Version 1 was the list of Wh alone.
from compat import ticks_ms, ticks_diff, wall

REGISTER_WH = 100
REGISTER_S = 600
NAME = "register"


class Register:
    def __init__(self, store, n):
        self.store = store
        d = store.load(NAME, None, _upgrade)
        w = d.get("w") if isinstance(d, dict) else None
        v = d.get("e") if isinstance(d, dict) else None
        if not isinstance(v, list) or len(v) != n or \
                not all(isinstance(x, int) and x >= 0 for x in v):
            v = [0] * n
        self.saved = v
        self.wall = w if isinstance(w, int) else None
        self._at = ticks_ms()

    def base(self, c):
        return self.saved[c - 1]

    def save(self, ctls):
        self.saved = [int(ctl.energy_wh) for ctl in ctls]
        self._at = ticks_ms()
        self.wall = wall()
        self.store.save(NAME, {"e": self.saved, "w": self.wall})

    def noted(self, values):
        """These values reached flash in another record (the queue's)."""
        self.saved = values
        self._at = ticks_ms()

    def tick(self, ctls):
        """Save when enough energy or time has gone by; cheap when nothing moved."""
        grown = False
        for i in range(len(ctls)):
            d = int(ctls[i].energy_wh) - self.saved[i]
            if d >= REGISTER_WH:
                self.save(ctls)
                return True
            if d > 0:
                grown = True
        if grown and ticks_diff(ticks_ms(), self._at) >= REGISTER_S * 1000:
            self.save(ctls)
            return True
        return False


def _upgrade(version, obj):
    # Version 1: the list of Wh, without the time.
    return {"e": obj}
