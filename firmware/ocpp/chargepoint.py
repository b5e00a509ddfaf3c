"""The charge point as OCPP sees it: it builds the rooms and wires them, and it
is what the inbound-action handlers get. Plain data and decisions, no sockets,
no pins. Each room calls only the rooms below it:

    connector.py    a connector's status, availability and waiting authorisation
    transaction.py  a transaction, its state, its messages and their answers
    txqueue.py      the flash queue those messages (and that state) wait in;
                    txrecord.py how a message is kept there
    outbox.py       the status and every other message to the central system
    reservation.py, auth.py, locallist.py, smart.py, limiter.py, metering.py

What a handler (firmware/ocpp/actions/<Action>.py) may use, and nothing else
(the test fakes are this class, host_tests/mp/realcp.py):
    cp.n              the number of connectors
    cp.cfg            the configuration registry (firmware/config.py)
    cp.rpc.later(fn)  run fn once the answer is on the wire
    cp.conns[c]       connector c (connector.py), 0 the charge point as a whole
    cp.txs            the transactions: find(transactionId), mark_reboot()
    cp.out            the outbox: can_send(), send(), status_message(c), owe_status(c),
                      clock, boot, boot_requested, wake
    cp.auth, cp.locallist, cp.reservations, cp.smart, cp.limiter
    cp.update         firmware updates (fwupdate.py): start(job), trigger(signed)
    cp.diag           diagnostics and log uploads (diagnostics.py): start(...), trigger(...)
    cp.security       the security events (secevents.py): event(type, info)
    cp.certs          the CA certificates (firmware/certstore.py): install, ids, delete
    cp.cpcert         the charge point's own key and certificate (firmware/cpcert.py)
    cp.enrol          getting it signed (enrol.py): start(), signed(chain)
    (cp.smart.local: the local limits, firmware/locallimit.py, read-only here)
    cp.vendors        vendorId -> fn(messageId, data) -> (status, data), DataTransfer
    cp.reset(kind)    stop every transaction and restart the board
The session (session.py) works with cp.out alone.
"""
import asyncio
import log
from compat import ticks_ms, ticks_diff, sleep_ms, wall, wall_known
from firmware.ocpp.rpc import Rpc
from firmware.ocpp.connector import Connector, Zero, load_availability, pick
from firmware.ocpp.txqueue import TxQueue
from firmware.ocpp.transaction import Transactions
from firmware.ocpp.outbox import Outbox
from firmware.ocpp.auth import Auth
from firmware.ocpp.metering import Metering
from firmware.ocpp.reservation import Reservations
from firmware.ocpp.locallist import LocalList
from firmware.ocpp.smart import Smart
from firmware.ocpp.limiter import Limiter
from firmware.ocpp.secevents import SecurityEvents
from firmware.ocpp.fwupdate import FirmwareUpdate
from firmware.ocpp.diagnostics import Diagnostics
from firmware.certstore import CertStore, CS
from firmware.cpcert import CpCert
from firmware.ocpp.enrol import Enrolment
from firmware import signing


class ChargePoint:
    def __init__(self, board, cfg, store, controllers=None, register=None, tls=None,
                 local=None):
        self.board = board
        self.cfg = cfg
        self.store = store
        self.n = n = board.connectors
        self.vendors = {}            # vendorId -> handler, see actions/DataTransfer.py
        self.rpc = Rpc(self)
        self.reset_pending = None    # "Soft" / "Hard" once a Reset was accepted
        ctls = controllers or [None] * n
        self.register = register
        self.queue = TxQueue(store)
        # Filled below: the rooms that read the connectors get the list first.
        self.conns = conns = [None] * (n + 1)
        self.out = out = Outbox(cfg, self.rpc, board, conns)
        self.reservations = out.res = Reservations(store, conns, cfg, out.changed)
        self.auth = Auth(cfg, store, out.call, out.can_send)
        self.locallist = self.auth.local_list = LocalList(store, cfg)
        self.smart = Smart(cfg, store, n, cfg.get("voltage"), cfg.get("phases"))
        for c in range(1, n + 1):
            self.smart.can_switch[c] = bool(getattr(ctls[c - 1], "can_switch", False))
        self.limiter = Limiter(self.smart, conns)
        if local is not None:
            # The local limits (MQTT) take part in the limit and the composite
            # schedule, and wake the limiter when they move.
            self.smart.local = local
            local.on_change = self.limiter.changed
        out.on_time = self._clock
        self.txs = out.txs = Transactions(cfg, store, self.queue, conns, self.reservations,
                                          self.auth, self.smart, self.limiter, register)
        self.metering = self.txs.metering = Metering(cfg, [None] + ctls, out.meter_value)
        conns[0] = Zero(cfg, store, conns, out.changed)
        self.auth.on_conflict = conns[0].list_conflict
        for c in range(1, n + 1):
            conn = conns[c] = Connector(c, ctls[c - 1], cfg, store, conns, self.reservations,
                                        self.txs, out.changed)
            if conn.ctl is not None:
                conn.ctl.listener = conn.on_evse
        load_availability(store, conns)
        self.txs.recover(ctls)
        self.security = SecurityEvents(store)
        self.security.wake = out.wake.set
        out.security = self.security
        self.certs = CertStore(store, cfg)
        # Security profile 3: the charger's own key and certificate, and how
        # it gets them signed.
        self.cpcert = CpCert(store, cfg, self.certs)
        self.enrol = Enrolment(self.cpcert, out, self.security)
        cfg.prereq = self._prereq
        self.update = FirmwareUpdate(cfg, store, board, conns, out, self.security, tls)
        self.update.verify = signing.make(self.certs)
        self.update.queue = self.queue
        self.diag = Diagnostics(cfg, store, out, self.security, self.dump, tls)
        out.rooms = [self.security, self.update, self.diag]
        out.changed(None, True)
        import fwslot
        from firmware.version import VERSION
        self.security.event("StartupOfTheDevice", "firmware %s, %s" % (VERSION, fwslot.note))

    def _prereq(self, profile):
        # What SecurityProfile 2 or 3 needs before it may be set (A05.FR.03/04):
        # a CA to check the central system with; for 3 also a charge point
        # certificate valid now, and a wss:// address.
        if not self.certs.ders(CS):
            return ("SecurityProfile %d needs a %s: InstallCertificate, or ca_cert_file at "
                    "the REPL" % (profile, CS))
        if profile == 3:
            why = self.cpcert.usable()
            if why:
                return "SecurityProfile 3 needs a valid charge point certificate: " + why
            if not self.cfg.get("csms_url").startswith("wss://"):
                return "SecurityProfile 3 needs a wss:// csms_url"
        return None

    def _clock(self):
        # The central system set the clock: queued times become real ones before
        # anything more is sent, and schedules and reservations follow it.
        self.txs.clock_known()
        self.limiter.changed()

    # ---- tags at the reader
    def present_tag(self, tag):
        asyncio.create_task(self._tag(tag))

    async def _tag(self, tag):
        # A running transaction of this tag (or its group) is stopped by it.
        for conn in self.conns[1:]:
            tx = conn.tx
            if tx is not None:
                if tag == tx.tag or await self.auth.may_stop(tx.tag, tx.parent, tag):
                    conn.stop("Local", tag)
                    return
        if pick(self.conns, tag, None, True) is None:
            log.info("cp", "tag %s: no connector free", tag)
            return
        info = await self.auth.authorize(tag)
        if info.get("status") != "Accepted":
            log.info("cp", "tag %s refused: %s", tag, info.get("status"))
            return
        conn = pick(self.conns, tag, info.get("parentIdTag"))
        if conn is None:
            log.info("cp", "tag %s: every free connector is reserved for someone else", tag)
            return
        conn.authorized(tag, info)

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
        while self.queue.pending and self.out.can_send() and ticks_diff(end, ticks_ms()) > 0:
            await sleep_ms(50)
        for conn in self.conns[1:]:
            if conn.ctl is not None:
                conn.ctl.shutdown()
        # An acknowledgement waiting for a record to carry it: a reset is no
        # power cut, and nothing delivered goes twice.
        self.queue.flush()
        log.warn("cp", "%s reset", kind)
        await sleep_ms(100)
        self.board.reset()

    # ---- periodic work
    async def run(self):
        ctls = [c.ctl for c in self.conns[1:]]
        while True:
            for conn in self.conns[1:]:
                conn.tick()
            self.txs.tick()
            self.update.tick()
            self.out.tick()
            self.reservations.expire()
            self.enrol.tick(wall() if wall_known() else None)
            if self.register is not None and None not in ctls:
                self.register.tick(ctls)
            await sleep_ms(200)

    def dump(self):
        """The status part of a diagnostics file, one line at a time."""
        import fwslot
        from compat import iso, ticks_ms
        from firmware.version import VERSION
        out = self.out
        yield "charge point %s, %s" % (self.cfg.get("charge_point_id"), iso())
        yield "firmware %s (%s), board %s, up %d s" % (VERSION, fwslot.note, self.board.name,
                                                       ticks_ms() // 1000)
        yield "central system: %s, boot %s; %d transaction message(s) waiting" % (
            "online" if out.online else "offline", out.boot, self.queue.pending)
        for c in range(self.n + 1):
            ctl = self.conns[c].ctl if c else None
            yield "connector %d: %s %s%s" % (c, out.status[c], out.error[c], (
                ", fault %s" % ctl.fault) if ctl is not None and ctl.fault else "")
        try:
            import gc
            gc.collect()
            yield "heap: %d bytes free" % gc.mem_free()
        except AttributeError:
            pass
        yield "settings (secrets hidden):"
        for line in self.cfg.show():
            yield "  " + line

    def snapshot(self):
        out = self.out
        conns = []
        for c in range(1, self.n + 1):
            conn = self.conns[c]
            d = {"id": c, "status": out.status[c], "error": out.error[c],
                 "transaction_id": conn.tx.id if conn.tx else None}
            ctl = conn.ctl
            if ctl is not None:
                d["cp"] = ctl.cp
                d["offered_a"] = ctl.offered_a
                d["contactor"] = ctl.contactor_closed
                d["energy_wh"] = ctl.energy_wh
                d["power_w"] = ctl.power_w
                d["fault"] = ctl.fault
                d["phases"] = ctl.phases
                d["session_wh"] = ctl.energy_wh - conn.tx.start_wh if conn.tx else 0
            conns.append(d)
        return {"online": out.online, "boot": out.boot, "connectors": conns,
                "queue": self.queue.pending}
