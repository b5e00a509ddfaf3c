"""What the charge point tells the central system, one CALL at a time: the
status of every connector (spec 4.9 with the errata's status table,
StatusNotification), the messages that are not about a transaction
(BootNotification, Heartbeat, DataTransfer, MeterValues outside a transaction,
Diagnostics- and FirmwareStatusNotification), each built once, here or in
the room that owns it, for the normal flow and for TriggerMessage (5.17,
actions/TriggerMessage.py), and the order everything goes in:
the statuses owed, then the messages waiting in RAM, then those of the rooms
in `rooms` (security events, firmware and diagnostics statuses: each keeps
its own until it is answered), then the head of the transaction queue
(firmware/ocpp/transaction.py builds and answers those).
The session (firmware/ocpp/session.py) sends what next_message() gives.

    out = Outbox(cfg, rpc, board, conns)   then out.res, out.txs (they need it first)
    out.changed(c=None, now=False)  connector c's status may have changed; None: any
    out.send(action, payload, on_answer=None, triggered=False) -> queued or not
    out.next_message()     (action, payload, on_answer) or None; on_answer(result
                           or exception) gets the answer
    out.status_message(c), out.owe_status(c)   StatusNotification of c, now or in turn
    out.meter_value(c, mv, kind)  what metering reads: a transaction's, or clock-aligned
    out.online, out.boot   the link and the last BootNotification status (the session's)

A connector's status is reported only once it has lasted MinimumStatusDuration
(a fault at once); SuspendedEV and SuspendedEVSE at least a second, since an EV
takes a moment to answer a new offer. Status notifications are not queued on
flash: the current status of every connector goes after every (re)connection.
While the boot is Pending only what the central system triggered goes (4.2).
"""
import asyncio
import log
from compat import iso, ticks_ms, ticks_diff, set_wall, parse_iso, MAX_BACK_S, wall, wall_known
from firmware.ocpp.rpc import LinkDown
from firmware.ocpp.transaction import meter_values
from firmware.version import VERSION
_RAM = 4             # non-transaction messages waiting in RAM (they are not kept offline)
_SETTLE = ("SuspendedEV", "SuspendedEVSE")
_SETTLE_S = 1


class Outbox:
    def __init__(self, cfg, rpc, board, conns):
        self.cfg = cfg
        self.rpc = rpc
        self.board = board
        self.conns = conns
        self.res = None              # the reservations, which end on some statuses
        self.txs = None              # the transactions, whose queue goes last
        self.on_time = None          # fn() after the central system set the clock
        self.security = None         # the security events (secevents.py)
        n = len(conns) - 1
        self.n = n
        self.status = ["Available"] * (n + 1)
        self.error = ["NoError"] * (n + 1)
        self._dirty = 0              # bit c set: connector c's status is owed
        self._held = [None] * (n + 1)   # (status, error, ticks) waiting out MinimumStatusDuration
        self.wake = asyncio.Event()  # set when there is something to send
        self.online = False          # True while a WebSocket is open
        self.boot = None             # last BootNotification status, None before the first answer
        self.boot_requested = False  # TriggerMessage(BootNotification) while Pending
        self.ram = []                # (action, payload, on_answer) not tied to a transaction
        self.rooms = []              # rooms with a next_message() of their own

    # ---- the link
    def can_send(self):
        return self.online and self.boot == "Accepted"

    async def call(self, action, payload):
        """A CALL now, for whoever must wait for its answer (Authorize)."""
        if not self.can_send():
            raise LinkDown("offline")
        return await self.rpc.call(action, payload, self.cfg.get("MessageTimeout"))

    def on_connected(self):
        # After every (re)connection the central system gets the current status of
        # every connector: it may have missed changes while the link was down.
        self._dirty = (1 << (self.n + 1)) - 1
        self.txs.queue.retry_now()
        self.wake.set()

    def send(self, action, payload, on_answer=None, triggered=False):
        """Queue a message that is not about a transaction; dropped when offline.
        A triggered message may go while the boot is Pending (spec 4.2)."""
        ok = self.online and (self.boot == "Accepted" or (triggered and self.boot == "Pending"))
        if not ok or len(self.ram) >= _RAM:
            return False
        self.ram.append((action, payload, on_answer))
        self.wake.set()
        return True

    def next_message(self):
        if self._dirty:
            for c in range(self.n + 1):
                if self._dirty & (1 << c):
                    self._dirty &= ~(1 << c)
                    return "StatusNotification", self.status_message(c), None
        if self.ram:
            return self.ram.pop(0)
        for r in self.rooms:
            m = r.next_message()
            if m is not None:
                return m
        return self.txs.next_message()

    # ---- the messages
    def boot_payload(self):
        b = self.board
        return {"chargePointVendor": b.vendor[:20], "chargePointModel": b.model[:20],
                "chargePointSerialNumber": b.unique_id()[:25],
                "chargeBoxSerialNumber": b.unique_id()[:25],
                "firmwareVersion": VERSION}

    def clock(self, res):
        """The currentTime of a BootNotification or Heartbeat answer sets the clock."""
        s = res.get("currentTime") if isinstance(res, dict) else None
        if isinstance(s, str):
            before = wall() if wall_known() else None
            try:
                t = parse_iso(s)
            except ValueError:
                log.warn("boot", "central system time %r not understood; clock not set", s[:40])
                return
            if not set_wall(t, True):
                log.warn("boot", "central system time %s is more than %d s behind the clock "
                         "(%s); not applied", iso(t), MAX_BACK_S, iso())
                return
            if before is not None and abs(wall() - before) > 60 and self.security is not None:
                self.security.event("SettingSystemTime", "clock moved by %d s by the central "
                                    "system" % (wall() - before))
            # Schedules and reservations are in wall-clock time.
            if self.on_time is not None:
                self.on_time()

    def status_message(self, c):
        """StatusNotification.req of connector c, its last reported status."""
        return {"connectorId": c, "errorCode": self.error[c], "status": self.status[c],
                "timestamp": iso()}

    def owe_status(self, c):
        """Send connector c's status once more (in order with the rest)."""
        self._dirty |= 1 << c
        self.wake.set()

    def data_transfer(self, vendor_id, message_id=None, data=None, on_answer=None):
        """The charge point's own DataTransfer (spec 4.3), for vendor code: sent
        when online, on_answer(result or exception) gets the answer."""
        p = {"vendorId": vendor_id}
        if message_id is not None:
            p["messageId"] = message_id
        if data is not None:
            p["data"] = data
        return self.send("DataTransfer", p, on_answer)

    def meter_value(self, c, mv, kind):
        # What metering reads (its emit): a running transaction's reading goes
        # to the flash queue, a clock-aligned one without a transaction here.
        tx = self.conns[c].tx
        if tx is not None:
            self.txs.meter_value(tx, mv)
            self.wake.set()
        elif kind == "aligned":
            self.send("MeterValues", meter_values(c, mv))

    # ---- status
    def changed(self, c=None, now=False):
        if c is None or (c and self.res.has_zero()):
            # None: anything may have changed. A connector-0 reservation holds a
            # pool: one connector's change can make the others show Reserved or not.
            for k in range(0 if c is None else 1, self.n + 1):
                self._refresh(k, now)
        else:
            self._refresh(c, now)

    def tick(self):
        # Statuses waiting out MinimumStatusDuration.
        for c in range(self.n + 1):
            if self._held[c] is not None:
                self._refresh(c)

    def _refresh(self, c, now=False):
        st, err = self.conns[c].status()
        if self.res.on_status(c, st):
            self.changed(c or None)
            st, err = self.conns[c].status()
        if st == self.status[c] and err == self.error[c]:
            self._held[c] = None
            return
        hold = self.cfg.get("MinimumStatusDuration")
        if st in _SETTLE and hold < _SETTLE_S:
            # The EV takes a moment to answer a new offer: a suspended state is
            # reported only once it lasts, not on the way to Charging.
            hold = _SETTLE_S
        if st != "Faulted" and hold > 0 and not now:
            h = self._held[c]
            if h is None or h[0] != st or h[1] != err:
                self._held[c] = (st, err, ticks_ms())
                return
            if ticks_diff(ticks_ms(), h[2]) < hold * 1000:
                return
        self._held[c] = None
        log.info("cp", "connector %d: %s%s", c, st, "" if err == "NoError" else " (%s)" % err)
        self.status[c] = st
        self.error[c] = err
        self._dirty |= 1 << c
        self.wake.set()
