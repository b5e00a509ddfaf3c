# A charge point stand-in for the reservation and trigger checks: real
# Connector objects, a real Rpc and Store, fake EVSE controllers, and the
# wiring of Reservations the integrator is asked to copy into ChargePoint.
import json
from rpcfake import FakeWS, call as _call
from firmware.store import Store
from firmware.config import Config
from firmware.ocpp.rpc import Rpc
from firmware.ocpp.connector import Connector
from firmware.ocpp.reservation import Reservations, refresh
from firmware.ocpp.chargepoint import ChargePoint


class FakeCtl:
    def __init__(self):
        self.fault = None
        self.ev_connected = False
        self.charging = False
        self.cp = "A"
        self.offered_a = 0
        self.energy_wh = 1000
        self.permitted = False

    def permit(self, on):
        self.permitted = on
        self.charging = on and self.ev_connected

    def unlock(self):
        return True


class FakePort:
    def lock(self, on):
        return True


class FakeBoard:
    def port(self, c):
        return FakePort()


class FakeQueue:
    def __init__(self):
        self.pushed = []

    def next_ref(self):
        return len(self.pushed) + 1

    def push(self, action, ref, payload, c=None):
        self.pushed.append((action, payload))
        return len(self.pushed)


class FakeCP:
    def __init__(self, root, n=2, zero=False):
        self.n = n
        self.store = Store(root)
        self.cfg = Config(self.store, defaults={"ReserveConnectorZeroSupported": zero})
        self.events = []
        self.ws = FakeWS(4096, self.events)
        self.rpc = Rpc(self)
        self.rpc.attach(self.ws)
        self.queue = FakeQueue()
        self.board = FakeBoard()
        self.boot = "Accepted"
        self.status = ["Available"] * (n + 1)
        self.operative0 = True
        self.changed = []
        self.ctls = [None] + [FakeCtl() for _ in range(n)]
        self.conns = [None] + [Connector(self, c, self.ctls[c]) for c in range(1, n + 1)]
        # --- the wiring ChargePoint needs
        self.reservations = Reservations(self.store, n)
        self.reservations.bind(self)
        for c in range(n + 1):
            self._refresh(c)

    # The charge point's own reservation wiring, not a copy of it.
    reserved = ChargePoint.reserved
    reservation_for = ChargePoint.reservation_for

    def status_changed(self, c):
        self.changed.append(c)
        if c and self.reservations.has_zero():
            for k in range(1, self.n + 1):
                self._refresh(k)
        else:
            self._refresh(c)

    def _refresh(self, c):
        if c == 0:
            st = "Available" if self.operative0 else "Unavailable"
        else:
            st = self.conns[c].status()[0]
        if self.reservations.on_status(c, st) and c == 0:
            for k in range(1, self.n + 1):
                self._refresh(k)
        self.status[c] = st

    def tick(self, now_s):
        for c in self.reservations.expire(now_s):
            refresh(self, c)

    def present(self, c, tag, parent=None):
        """A tag authorised for connector c, gated as ChargePoint._tag must be."""
        info = {"status": "Accepted"}
        if parent:
            info["parentIdTag"] = parent
        ok, _rid = self.reservations.allows(c, tag, parent)
        if not ok:
            return False
        return self.conns[c].authorized(tag, info)

    def plug(self, c, on=True):
        self.ctls[c].ev_connected = on
        self.conns[c].on_evse("state", "B" if on else "A")

    # Connector's other needs
    def tx_started(self, conn):
        pass

    def tx_stopped(self, conn):
        pass

    def tx_data(self, conn):
        return None

    def save_tx(self, conn):
        pass

    def begin_reading(self, conn):
        return None

    def save_availability(self):
        pass


async def call(cp, action, payload, show=True):
    """(CALLRESULT payload, None) or (None, (code, description)); show: print
    the request too, for the schema check on the pytest side."""
    return await _call(cp, action, payload, req=show)

