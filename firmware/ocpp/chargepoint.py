# The charge point as OCPP sees it: plain data and decisions, no sockets, no pins.
# The session asks it what to send next (next_message) and tells it what the
# central system answered; the RPC layer hands it to action handlers.
import asyncio
import log
from compat import iso
from firmware.ocpp.rpc import Rpc

FIRMWARE_VERSION = "0.1.0"


class ChargePoint:
    def __init__(self, board, cfg):
        self.board = board
        self.cfg = cfg
        self.n = board.connectors
        # Index 0 is the charge point as a whole (spec 4.9: connector 0).
        self.status = ["Available"] * (self.n + 1)
        self.error = ["NoError"] * (self.n + 1)
        self.info = [None] * (self.n + 1)
        self._dirty = 0              # bit c set: connector c's status is owed to the central system
        self.wake = asyncio.Event()  # set when there is something to send
        self.vendors = {}            # vendorId -> handler, see actions/DataTransfer.py
        self.rpc = Rpc(self)
        self.boot = None             # last BootNotification status, None before the first answer
        self.online = False          # True while a WebSocket is open

    def boot_payload(self):
        b = self.board
        p = {"chargePointVendor": b.vendor[:20], "chargePointModel": b.model[:20],
             "chargePointSerialNumber": b.unique_id()[:25],
             "chargeBoxSerialNumber": b.unique_id()[:25],
             "firmwareVersion": FIRMWARE_VERSION}
        return p

    def set_status(self, c, status, error="NoError", info=None):
        if self.status[c] == status and self.error[c] == error and self.info[c] == info:
            return
        log.info("cp", "connector %d: %s%s", c, status, "" if error == "NoError" else " (%s)" % error)
        self.status[c] = status
        self.error[c] = error
        self.info[c] = info
        self._dirty |= 1 << c
        self.wake.set()

    def on_connected(self):
        # After every (re)connection the central system gets the current status of
        # every connector: it may have missed changes while the link was down.
        self._dirty = (1 << (self.n + 1)) - 1
        self.wake.set()

    def next_message(self):
        """The next message to send as (action, payload, on_answer) or None.
        on_answer(result) gets the CALLRESULT payload, or an exception."""
        if self._dirty:
            for c in range(self.n + 1):
                if self._dirty & (1 << c):
                    self._dirty &= ~(1 << c)
                    p = {"connectorId": c, "errorCode": self.error[c],
                         "status": self.status[c], "timestamp": iso()}
                    if self.info[c]:
                        p["info"] = self.info[c][:50]
                    return "StatusNotification", p, None
        return None

    def snapshot(self):
        conns = []
        for c in range(1, self.n + 1):
            conns.append({"id": c, "status": self.status[c], "error": self.error[c]})
        return {"online": self.online, "boot": self.boot, "connectors": conns}
