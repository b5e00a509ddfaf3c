# The charge point as OCPP sees it: plain data and decisions, no sockets, no pins.
# The session asks it what to send next (next_message) and tells it what the
# central system answered; the RPC layer hands it to action handlers.
import asyncio
import log
from compat import iso, ticks_ms, ticks_diff, sleep_ms
from firmware.ocpp.rpc import Rpc, LinkDown
from firmware.ocpp.connector import Connector
from firmware.ocpp.txqueue import TxQueue
from firmware.ocpp.auth import Auth
from firmware.ocpp import metering, txflow
from firmware.ocpp.reservation import Reservations, refresh
from firmware.ocpp.locallist import LocalList
from firmware.ocpp.smart import Smart
from firmware.ocpp.limiter import Limiter

FIRMWARE_VERSION = "0.1.0"
_OUTBOX = 4          # non-transaction messages waiting in RAM (they are not kept offline)
_SETTLE = ("SuspendedEV", "SuspendedEVSE")
_SETTLE_S = 1


class ChargePoint:
    def __init__(self, board, cfg, store, controllers=None, register=None):
        self.board = board
        self.cfg = cfg
        self.store = store
        self.n = board.connectors
        # Index 0 is the charge point as a whole (spec 4.9: connector 0).
        self.status = ["Available"] * (self.n + 1)
        self.error = ["NoError"] * (self.n + 1)
        self.info = [None] * (self.n + 1)
        self._dirty = 0              # bit c set: connector c's status is owed to the central system
        self._held = [None] * (self.n + 1)   # (status, error, ticks) waiting out MinimumStatusDuration
        self.wake = asyncio.Event()  # set when there is something to send
        self.vendors = {}            # vendorId -> handler, see actions/DataTransfer.py
        self.rpc = Rpc(self)
        self.boot = None             # last BootNotification status, None before the first answer
        self.online = False          # True while a WebSocket is open
        self.outbox = []             # (action, payload, on_answer) not tied to a transaction
        self.reset_pending = None    # "Soft" / "Hard" once a Reset was accepted
        self.boot_requested = False  # TriggerMessage(BootNotification) while Pending
        self.queue = TxQueue(store)
        self.register = register
        self.auth = Auth(cfg, store, self._call, self.can_send)
        ctls = controllers or [None] * self.n
        self.conns = [None] + [Connector(self, c, ctls[c - 1]) for c in range(1, self.n + 1)]
        self.reservations = Reservations(store, self.n)
        self.reservations.bind(self)
        self.locallist = LocalList(store, cfg)
        self.auth.local_list = self.locallist
        # Spec 3.5.2: set when an answer contradicted the local list; connector
        # 0 reports LocalListConflict until the central system sends a list.
        self.list_conflict = False
        self.auth.on_conflict = self._list_conflict
        self.smart = Smart(cfg, store, self.n, cfg.get("voltage"), cfg.get("phases"))
        self.limiter = Limiter(self.smart, self.conns)
        self.operative0 = True
        self._load_availability()
        for conn in self.conns[1:]:
            if conn.ctl is not None:
                conn.ctl.listener = _listener(conn)
        self.metering = metering.Metering(cfg, [None] + ctls, self._meter_value)
        txflow.raise_register(self, ctls)
        txflow.recover(self)
        for c in range(self.n + 1):
            self._refresh(c, True)

    # ---- what the session needs
    def can_send(self):
        return self.online and self.boot == "Accepted"

    async def _call(self, action, payload):
        if not self.can_send():
            raise LinkDown("offline")
        return await self.rpc.call(action, payload, self.cfg.get("MessageTimeout"))

    def boot_payload(self):
        b = self.board
        return {"chargePointVendor": b.vendor[:20], "chargePointModel": b.model[:20],
                "chargePointSerialNumber": b.unique_id()[:25],
                "chargeBoxSerialNumber": b.unique_id()[:25],
                "firmwareVersion": FIRMWARE_VERSION}

    def on_connected(self):
        # After every (re)connection the central system gets the current status of
        # every connector: it may have missed changes while the link was down.
        self._dirty = (1 << (self.n + 1)) - 1
        self.queue.retry_now()
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
        if self.outbox:
            return self.outbox.pop(0)
        head = self.queue.head()
        if head is not None:
            seq, action, payload = head
            return action, payload, txflow.QueueAnswer(self, seq, action, payload)
        return None

    def next_due_ms(self):
        """How long the session may sleep before next_message could have more."""
        return self.queue.due_ms()

    def send(self, action, payload, on_answer=None, triggered=False):
        """Queue a message that is not about a transaction; dropped when offline.
        A triggered message may go while the boot is Pending (spec 4.2)."""
        ok = self.online and (self.boot == "Accepted" or (triggered and self.boot == "Pending"))
        if not ok or len(self.outbox) >= _OUTBOX:
            return False
        self.outbox.append((action, payload, on_answer))
        self.wake.set()
        return True

    # ---- status
    def mark_status(self, c):
        self._dirty |= 1 << c
        self.wake.set()

    def status_changed(self, c):
        if c and self.reservations.has_zero():
            # A connector-0 reservation holds a pool: one connector's change can
            # make the others show Reserved or not.
            for k in range(1, self.n + 1):
                self._refresh(k)
        else:
            self._refresh(c)

    def _refresh(self, c, now=False):
        if c == 0:
            st = "Available" if self.operative0 else "Unavailable"
            err = "LocalListConflict" if self.list_conflict else "NoError"
        else:
            st, err = self.conns[c].status()
        if self.reservations.on_status(c, st):
            refresh(self, 0 if c == 0 else c)
            if c:
                st, err = self.conns[c].status()
        if st == self.status[c] and err == self.error[c]:
            self._held[c] = None
            return
        hold = self.cfg.get("MinimumStatusDuration")
        if st in _SETTLE and hold < _SETTLE_S:
            # The EV takes a moment to answer a new offer: a suspended state is
            # reported only once it lasts, not on the way to Charging.
            hold = _SETTLE_S
        if st == "Faulted" or hold <= 0 or now:
            self._held[c] = None
            self.set_status(c, st, err)
            return
        h = self._held[c]
        if h is None or h[0] != st or h[1] != err:
            self._held[c] = (st, err, ticks_ms())
        elif ticks_diff(ticks_ms(), h[2]) >= hold * 1000:
            self._held[c] = None
            self.set_status(c, st, err)

    def _list_conflict(self, tag, listed, given):
        log.warn("cp", "local list says %s for %s, the central system %s: LocalListConflict",
                 listed, tag, given)
        self.list_conflict = True
        self._refresh(0, True)

    def list_updated(self):
        if self.list_conflict:
            self.list_conflict = False
            self._refresh(0, True)

    def set_status(self, c, status, error="NoError", info=None):
        if self.status[c] == status and self.error[c] == error and self.info[c] == info:
            return
        log.info("cp", "connector %d: %s%s", c, status, "" if error == "NoError" else " (%s)" % error)
        self.status[c] = status
        self.error[c] = error
        self.info[c] = info
        self._dirty |= 1 << c
        self.wake.set()

    # ---- reservations
    def reserved(self, c):
        return self.reservations.reserved(c)

    def reservation_for(self, c, tag, parent):
        """The reservationId a start of this tag on connector c uses up, or None."""
        ok, rid = self.reservations.allows(c, tag, parent)
        if rid is not None and self.reservations.used(rid) == 0:
            for k in range(1, self.n + 1):
                if k != c:
                    self._refresh(k)
        return rid

    def allowed(self, conn, tag, parent):
        return self.reservations.allows(conn.c, tag, parent)[0]

    # ---- tags at the reader and transactions
    def present_tag(self, tag):
        asyncio.create_task(self._tag(tag))

    async def _tag(self, tag):
        # A running transaction of this tag (or its group) is stopped by it.
        for conn in self.conns[1:]:
            tx = conn.tx
            if tx is not None:
                if tag == tx["tag"] or await self.auth.may_stop(tx["tag"], tx["parent"], tag):
                    conn.stop("Local", tag)
                    return
        if self.pick_connector(tag, None, True) is None:
            log.info("cp", "tag %s: no connector free", tag)
            return
        info = await self.auth.authorize(tag)
        if info.get("status") != "Accepted":
            log.info("cp", "tag %s refused: %s", tag, info.get("status"))
            return
        conn = self.pick_connector(tag, info.get("parentIdTag"))
        if conn is None:
            log.info("cp", "tag %s: every free connector is reserved for someone else", tag)
            return
        conn.authorized(tag, info)

    def pick_connector(self, tag, parent, any_tag=False):
        """The connector a tag should charge on: one with an EV waiting first,
        then a free one; never one reserved for somebody else (any_tag: ignore
        reservations, to see whether asking the central system is worth it)."""
        best = None
        for conn in self.conns[1:]:
            if conn.tx is None and conn.operative and conn.status()[0] not in ("Faulted", "Unavailable"):
                if not any_tag and not self.allowed(conn, tag, parent):
                    continue
                if conn.ctl is not None and conn.ctl.ev_connected and not conn.finishing:
                    return conn
                if best is None and conn.auth is None:
                    best = conn
        return best

    def tx_started(self, conn):
        self.metering.tx_started(conn.c)
        prof = conn.remote_profile
        conn.remote_profile = None
        if prof is not None:
            # The profile of a RemoteStartTransaction is for the transaction it started.
            st = self.smart.set(conn.c, prof, conn.tx)
            log.info("cp", "connector %d: charging profile of the remote start %s", conn.c, st)
        self.limits_changed()

    def limits_changed(self):
        self.limiter.changed()

    def tx_stopped(self, conn):
        self.metering.tx_stopped(conn.c)
        self.smart.tx_ended(conn.c)
        self.limits_changed()
        self.store.remove("tx%d" % conn.c)
        if self.register is not None:
            # A later meterStart must never be below this meterStop, power cut or not.
            self.register.save([c.ctl for c in self.conns[1:]])

    def tx_data(self, conn):
        """StopTransaction.transactionData: the Transaction.Begin reading, the
        periodic and clock-aligned readings kept during the transaction, and a
        Transaction.End reading, within StopTransactionMaxMeterValues."""
        ms = self.cfg.get("StopTxnSampledData")
        if not ms and not self.cfg.get("StopTxnAlignedData"):
            return []
        data = self.metering.tx_data(conn.c, 2)
        if ms and conn.ctl is not None:
            begin = conn.tx.get("begin")
            end = metering.meter_value(conn.ctl, ms, metering.TRANSACTION_END)
            data = ([begin] if begin else []) + data + ([end] if end else [])
        return data

    def begin_reading(self, conn):
        ms = self.cfg.get("StopTxnSampledData")
        if ms and conn.ctl is not None:
            return metering.meter_value(conn.ctl, ms, metering.TRANSACTION_BEGIN)
        return None

    def data_transfer(self, vendor_id, message_id=None, data=None, on_answer=None):
        """The charge point's own DataTransfer (spec 4.3), for vendor code: sent
        when online, on_answer(result or exception) gets the answer."""
        p = {"vendorId": vendor_id}
        if message_id is not None:
            p["messageId"] = message_id
        if data is not None:
            p["data"] = data
        return self.send("DataTransfer", p, on_answer)

    def save_tx(self, conn):
        self.store.save("tx%d" % conn.c, conn.tx)

    def _meter_value(self, c, mv, kind):
        conn = self.conns[c] if c > 0 else None
        if conn is not None and conn.tx is not None:
            tx = conn.tx
            self.queue.push("MeterValues", tx["ref"], {"connectorId": c, "transactionId": tx["id"],
                                                       "meterValue": [mv]}, c)
            self.wake.set()
        elif kind == "aligned":
            self.send("MeterValues", {"connectorId": c, "meterValue": [mv]})

    def find_tx(self, tid):
        for conn in self.conns[1:]:
            if conn.tx is not None and conn.tx["id"] == tid:
                return conn
        return None

    # ---- availability (ChangeAvailability)
    def _load_availability(self):
        a = self.store.load("avail")
        if isinstance(a, list) and len(a) == self.n + 1:
            self.operative0 = bool(a[0])
            for c in range(1, self.n + 1):
                self.conns[c].operative = bool(a[c])

    def save_availability(self):
        # A scheduled change is saved as done: after a restart the transaction
        # it waited for has ended (or resumes, and the change waits for its end).
        self.store.save("avail", [self.operative0] + [
            c.operative if c.scheduled is None else c.scheduled for c in self.conns[1:]])

    # ---- reset
    def reset(self, kind):
        reason = "HardReset" if kind == "Hard" else "SoftReset"
        for conn in self.conns[1:]:
            conn.stop(reason)
        self.reset_pending = kind
        asyncio.create_task(self._restart(kind))

    async def _restart(self, kind):
        # Give the queue a moment to deliver the StopTransaction messages; they
        # are on flash already, so a restart before that loses nothing.
        end = ticks_ms() + 3000
        while self.queue.pending and self.can_send() and ticks_diff(end, ticks_ms()) > 0:
            await sleep_ms(50)
        for conn in self.conns[1:]:
            if conn.ctl is not None:
                conn.ctl.shutdown()
        log.warn("cp", "%s reset", kind)
        await sleep_ms(100)
        self.board.reset()

    # ---- periodic work
    async def run(self):
        ctls = [c.ctl for c in self.conns[1:]]
        while True:
            for conn in self.conns[1:]:
                conn.tick()
            for c in range(self.n + 1):
                if self._held[c] is not None:
                    self._refresh(c)
            for c in self.reservations.expire():
                refresh(self, c)
            if self.register is not None and None not in ctls:
                self.register.tick(ctls)
            await sleep_ms(200)

    def snapshot(self):
        conns = []
        for c in range(1, self.n + 1):
            conn = self.conns[c]
            d = {"id": c, "status": self.status[c], "error": self.error[c],
                 "transaction_id": conn.tx["id"] if conn.tx else None}
            ctl = conn.ctl
            if ctl is not None:
                d["cp"] = ctl.cp
                d["offered_a"] = ctl.offered_a
                d["contactor"] = ctl.contactor_closed
                d["energy_wh"] = ctl.energy_wh
                d["power_w"] = ctl.power_w
                d["fault"] = ctl.fault
            conns.append(d)
        return {"online": self.online, "boot": self.boot, "connectors": conns,
                "queue": self.queue.pending}


def _listener(conn):
    def fn(event, detail):
        conn.on_evse(event, detail)
    return fn
