# The real charge point for the handler and rule checks under host_tests/mp/:
# firmware/ocpp/chargepoint.py with all its rooms, its Store in a test
# directory, on a test board with fake EVSE controllers, its Rpc attached to a
# FakeWS. The checks drive it through the interface the handlers use; the
# helpers below only do what a person or an EV would (present a tag, plug in)
# and read what went out. Nothing here stands in for the charge point's own
# wiring, so it cannot drift from it.
from rpcfake import FakeWS, call as _call
from firmware.store import Store
from firmware.config import Config
from firmware.ocpp.chargepoint import ChargePoint
from firmware.ocpp.txrecord import each_mv, unpack


class FakeFaults:
    has_lock = True


class FakeCtl:
    def __init__(self):
        self.fault = None
        self.ev_connected = False
        self.charging = False
        self.cp = "A"
        self.offered_a = 0
        self.energy_wh = 1000
        self.permitted = False
        self.faults = FakeFaults()
        self.listener = None

    def permit(self, on):
        self.permitted = on
        self.charging = on and self.ev_connected

    def unlock(self):
        return True

    def set_limit(self, a):
        pass


class TestBoard:
    vendor = "Test"
    model = "RealCP"

    def __init__(self, n):
        self.connectors = n

    def unique_id(self):
        return "test"

    def reset(self):
        pass


class RealCP(ChargePoint):
    """ChargePoint(root, n, **configuration defaults)."""

    def __init__(self, root, n=2, **defaults):
        store = Store(root)
        defaults["connectors"] = n
        self.ctls = [None] + [FakeCtl() for _ in range(n)]
        ChargePoint.__init__(self, TestBoard(n), Config(store, defaults), store, self.ctls[1:])
        self.events = []
        self.ws = FakeWS(4096, self.events)
        self.rpc.attach(self.ws)
        self.out.boot = "Accepted"
        # The connectors whose status was looked at again, in order.
        self.changed = []
        refresh = self.out._refresh

        def spy(c, now=False):
            self.changed.append(c)
            refresh(c, now)
        self.out._refresh = spy

    def present(self, c, tag, parent=None):
        """A tag authorised for connector c, gated by the reservations as a tag
        at the reader is."""
        info = {"status": "Accepted"}
        if parent:
            info["parentIdTag"] = parent
        if not self.reservations.allows(c, tag, parent)[0]:
            return False
        return self.conns[c].authorized(tag, info)

    def plug(self, c, on=True):
        self.ctls[c].ev_connected = on
        self.conns[c].on_evse("state", "B" if on else "A")

    def pushed(self):
        """(action, payload) of every message the transactions queued, in order."""
        return [(r["a"], each_mv(r["p"], unpack)) for _o, r in self.queue.log.records() if "q" in r]


async def call(cp, action, payload, show=True):
    """(CALLRESULT payload, None) or (None, (code, description)); show: print
    the request too, for the schema check on the pytest side."""
    return await _call(cp, action, payload, req=show)
