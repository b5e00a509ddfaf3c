"""Transactions (OCPP 1.6 sections 3.6, 4.8, 4.10, 5.11, 5.12, 9.1 and the
errata): a transaction's state, its file on flash and what a restart makes of
it, its StartTransaction, StopTransaction and MeterValues payloads, and what
the central system's answers to them do. Compare MicroOcpp's
Model/Transactions/Transaction and TransactionStore. The messages themselves
wait in the flash queue (firmware/ocpp/txqueue.py).

    txs = Transactions(cfg, store, queue, conns, reservations, auth, smart, limiter, register)
    txs.metering = metering             its own emit comes through the outbox, so set after
    txs.start(conn, tag, info)          conn.tx: a new Transaction, on flash, its Start queued
    txs.stop(conn, reason, tag=None)    its Stop queued, False when none ran (Connector.stop)
    txs.meter_value(tx, mv)             a sampled or clock-aligned reading of a running one
    txs.next_message()                  the queue's head: (action, payload, on_answer) or None
    txs.recover(ctls)                   at start: the register, and a transaction a cut left
    txs.resume(conn, ev_there)          the pilot's verdict on a transaction from before a cut
    txs.tick()                          MaxEnergyOnInvalidId, a pilot that never answers
    txs.find(tid) -> conn or None
    txs.mark_reboot()                   a transaction alive after the restart ends with Reboot

A transaction's state lives in the queue's records (firmware/ocpp/txqueue.py),
which a restart reads back: tag, parent (idTag and parentIdTag), start_wh,
start_s (meterStart and the start, wall seconds), ref (our own number for it:
the queue seq of its StartTransaction), id (the central system's transactionId,
null until StartTransaction.conf), begin (the Transaction.Begin reading, if
any), and, once the central system refused the tag, invalid and cap (the Wh at
which MaxEnergyOnInvalidId ends charging). The StartTransaction record carries
the state, its acknowledgement the id and the verdict, the StopTransaction
record ends it. Format version 1 kept it in a file tx<c> of its own (written
three times a transaction); such a file from before an upgrade is still read,
and removed once its transaction's Stop is queued.
"""
import log
from compat import ticks_ms, ticks_diff, wall, iso, retime, set_floor
from firmware.ocpp.rpc import CallError
from firmware.ocpp.txqueue import START, STOP, METER
from firmware.ocpp.txrecord import retime_mv
from firmware.ocpp.metervalue import meter_value, TRANSACTION_BEGIN, TRANSACTION_END

# How long a transaction from before a power cut waits for the first reading
# of the pilot to tell whether the EV is still there.
_RESUME_WAIT_MS = 10000
_RESET = "resetreason"
# How old the last wall time on flash may be before the clock, once known,
# is saved with the register (at most once a boot).
_KEEP_S = 86400
# Sampled readings at most this many seconds apart carry the acknowledgement
# of the StartTransaction (its transactionId) to flash.
_START_HOLD_S = 2


def meter_values(c, mv, tid=None):
    """A MeterValues.req payload: one MeterValue of connector c, of transaction
    tid when there is one and its id is known (the queue names it otherwise)."""
    p = {"connectorId": c, "meterValue": [mv]}
    if tid is not None:
        p["transactionId"] = tid
    return p


class Transaction:
    def __init__(self, c, d):
        self.c = c
        self.tag = d["tag"]
        self.parent = d.get("parent")
        self.start_wh = d["start_wh"]
        self.start_s = d.get("start_s")
        self.ref = d["ref"]
        self.id = d.get("id")
        self.begin = d.get("begin")
        self.invalid = bool(d.get("invalid"))
        self.cap = d.get("cap")
        self.limit_wh = None    # the cap still to enforce in this life
        self.resuming = None    # ticks: from before a power cut, the pilot decides
        self.ending = None      # (reason, ticks): ends at its meter's first reading

    def verdict(self):
        # What the acknowledgement of its StartTransaction keeps of a refusal.
        if not self.invalid:
            return None
        v = {"invalid": True}
        if self.cap is not None:
            v["cap"] = self.cap
        return v


class Transactions:
    def __init__(self, cfg, store, queue, conns, reservations, auth, smart, limiter, register):
        self.cfg = cfg
        self.store = store
        self.queue = queue
        self.conns = conns
        self.reservations = reservations
        self.auth = auth
        self.smart = smart
        self.limiter = limiter
        self.register = register
        self.metering = None
        queue.on_retime = self._retime

    # ---- start and stop
    def start(self, conn, tag, info):
        c = conn.c
        parent = (info or {}).get("parentIdTag")
        tx = Transaction(c, {"tag": tag, "parent": parent, "start_wh": conn.meter_wh(),
                             "start_s": wall(), "ref": self.queue.next_ref()})
        ms = self.cfg.get("StopTxnSampledData")
        if ms and conn.ctl is not None:
            tx.begin = meter_value(conn.ctl, ms, TRANSACTION_BEGIN)
        payload = {"connectorId": c, "idTag": tag, "meterStart": tx.start_wh,
                   "timestamp": iso(tx.start_s)}
        rid = self.reservations.use(c, tag, parent)
        if rid is not None:
            payload["reservationId"] = rid
        # The StartTransaction record is the transaction's state on flash: a
        # power cut before it leaves no transaction, and none had begun.
        conn.tx = tx
        t = {"parent": parent, "start_s": tx.start_s}
        if tx.begin is not None:
            t["begin"] = tx.begin
        self.queue.push(START, None, payload, c, t)
        self._running(conn)
        if conn.ctl is not None:
            conn.ctl.permit(True)
        log.info("cp", "connector %d: transaction started for %s at %d Wh", c, tag, tx.start_wh)

    def _running(self, conn):
        # Started, or resumed after a power cut: sampling, and the limits in force.
        self.metering.tx_started(conn.c)
        prof = conn.remote_profile
        conn.remote_profile = None
        if prof is not None:
            # The profile of a RemoteStartTransaction is for the transaction it started.
            st = self.smart.set(conn.c, prof, conn.tx)
            log.info("cp", "connector %d: charging profile of the remote start %s", conn.c, st)
        self.limiter.changed()

    def stop(self, conn, reason, tag=None):
        tx = conn.tx
        if tx is None:
            return False
        c = conn.c
        if conn.ctl is not None:
            conn.ctl.permit(False)
        stop_wh = max(conn.meter_wh(), tx.start_wh)
        payload = {"meterStop": stop_wh, "timestamp": iso(), "reason": reason,
                   "transactionId": tx.id}
        if tag:
            payload["idTag"] = tag
        data = self._data(conn)
        if data:
            payload["transactionData"] = data
        self.queue.push(STOP, tx.ref, payload, c)
        conn.tx = None
        self.metering.tx_stopped(c)
        self.smart.tx_ended(c)
        self.limiter.changed()
        # A file of format version 1 (store.FILES), from before an upgrade.
        self.store.remove("tx%d" % c)
        # The Stop record carried the registers (the queue's floor()): a later
        # meterStart is never below this meterStop, power cut or not.
        log.info("cp", "connector %d: transaction stopped (%s), %d Wh", c, reason,
                 stop_wh - tx.start_wh)
        return True

    def _data(self, conn):
        # StopTransaction.transactionData: the Transaction.Begin reading, the
        # periodic and clock-aligned readings kept during the transaction, and a
        # Transaction.End reading, within StopTransactionMaxMeterValues.
        ms = self.cfg.get("StopTxnSampledData")
        if not ms and not self.cfg.get("StopTxnAlignedData"):
            return []
        data = self.metering.tx_data(conn.c, 2)
        if ms and conn.ctl is not None:
            begin = conn.tx.begin
            end = meter_value(conn.ctl, ms, TRANSACTION_END)
            data = ([begin] if begin else []) + data + ([end] if end else [])
        return data

    def meter_value(self, tx, mv):
        self.queue.push(METER, tx.ref, meter_values(tx.c, mv, tx.id), tx.c)

    def find(self, tid):
        for conn in self.conns[1:]:
            if conn.tx is not None and conn.tx.id == tid:
                return conn
        return None

    # ---- the central system's answers
    def next_message(self):
        head = self.queue.head()
        if head is None:
            return None
        seq, action, payload = head
        return action, payload, lambda res: self._answer(seq, action, payload, res)

    def _answer(self, seq, action, payload, res):
        q = self.queue
        if isinstance(res, CallError):
            if q.failed(self.cfg.get("TransactionMessageAttempts"),
                        self.cfg.get("TransactionMessageRetryInterval")):
                log.warn("txq", "%s given up after %d attempts", action, q.attempt)
                self._done(seq, action, payload, -1, None)
            return
        if isinstance(res, Exception):
            # No answer (timeout, link down): it stays at the head and goes again
            # after the retry interval or the reconnection; never dropped.
            q.failed(1 << 30, self.cfg.get("TransactionMessageRetryInterval"))
            q.attempt = 0
            return
        tid = None
        if action == START:
            tid = res.get("transactionId")
            if not isinstance(tid, int):
                log.warn("txq", "StartTransaction.conf without a transactionId")
                tid = -1
        self._done(seq, action, payload, tid, res.get("idTagInfo"))

    def _done(self, seq, action, payload, tid, info):
        tag = payload.get("idTag")
        if info and tag:
            self.auth.update(tag, info)
        if action != START:
            self.queue.ack(seq)
            return
        conn = None
        for k in self.conns[1:]:
            if k.tx is not None and k.tx.ref == seq:
                conn = k
        stop = conn is not None and self._verdict(conn, tid, info)
        verdict = conn.tx.verdict() if conn is not None else None
        # The id and a refusal go to flash with the acknowledgement before the
        # Stop it may bring is queued. A refusal at once: a transaction resumed
        # after a power cut must not charge again on a refused tag. The id rides
        # on the first sampled reading when that comes within _START_HOLD_S;
        # otherwise it is written at once, since a power cut before it would
        # send the Start again and open a second transaction at the central system.
        iv = self.cfg.get("MeterValueSampleInterval")
        hold = (_START_HOLD_S + 1) * 1000 if not verdict and 0 < iv <= _START_HOLD_S else 0
        self.queue.ack(seq, tid, verdict, hold)
        if stop:
            conn.stop("DeAuthorized")

    def _verdict(self, conn, tid, info):
        # StartTransaction.conf: the real transactionId and the verdict on the
        # tag. True when the transaction must stop.
        tx = conn.tx
        tx.id = tid
        status = (info or {}).get("status", "Accepted")
        if status == "Accepted":
            return False
        tx.invalid = True
        if self.cfg.get("StopTransactionOnInvalidId"):
            log.info("cp", "connector %d: tag %s is %s; stopping", conn.c, tx.tag, status)
            return True
        cap = self.cfg.get("MaxEnergyOnInvalidId")
        if cap > conn.meter_wh() - tx.start_wh:
            tx.cap = tx.limit_wh = tx.start_wh + cap
        elif conn.ctl is not None:
            conn.ctl.permit(False)
        conn.changed(conn.c)
        return False

    # ---- power cuts and restarts
    def mark_reboot(self):
        # Should a transaction survive to the restart after all (a power cut in
        # between), it ends with reason Reboot rather than PowerLoss.
        self.store.save(_RESET, "Reboot")

    def recover(self, ctls):
        # The clock never restarts below the last wall time on flash.
        q = self.queue
        w = q.last_wall
        if self.register is not None and self.register.wall is not None:
            w = self.register.wall if w is None else max(w, self.register.wall)
        set_floor(w)
        if self.register is not None and None not in ctls:
            self._raise_register(ctls)
        # A transaction whose Stop is not queued means the power went while it
        # ran: end it with the energy the register had, or, with
        # resume_after_power_loss and the EV still connected, carry on with it.
        self._legacy()
        found = [None] * len(self.conns)
        for st in q.open.values():
            c = st.get("c")
            if isinstance(c, int) and 1 <= c < len(found):
                found[c] = st
        for conn in self.conns[1:]:
            st = found[conn.c]
            if st is None:
                continue
            tx = conn.tx = Transaction(conn.c, st)
            reason = self.store.load(_RESET) or "PowerLoss"
            if reason == "PowerLoss" and conn.ctl is not None \
                    and self.cfg.get("resume_after_power_loss"):
                # The first reading of the pilot decides (resume()).
                tx.resuming = ticks_ms()
                log.info("cp", "connector %d: transaction of %s from before the power cut: "
                         "resumed if the EV is still connected", conn.c, tx.tag)
                continue
            log.warn("cp", "connector %d: transaction of %s ended by a restart (%s)",
                     conn.c, tx.tag, reason)
            if _unread(conn.ctl):
                # A Modbus meter kept counting to the cut: its first reading
                # is the exact meterStop, the saved register only a floor.
                tx.ending = (reason, ticks_ms())
                continue
            conn.stop(reason)
        if self.store.exists(_RESET):
            self.store.remove(_RESET)

    def _retime(self):
        # The clock became known in this boot: the running transactions' times
        # of before become real ones (the queue does its own records).
        for conn in self.conns[1:]:
            tx = conn.tx
            if tx is not None:
                tx.start_s = retime(tx.start_s)
                if tx.begin is not None:
                    tx.begin = retime_mv(tx.begin)

    def clock_known(self):
        """The clock was set: nothing waiting goes with a provisional time."""
        self.queue.clock()
        # A flash that keeps no time, or one older than _KEEP_S: once a boot,
        # the register carries the time (after a cut the clock starts there).
        reg = self.register
        ctls = [k.ctl for k in self.conns[1:]]
        if reg is None or None in ctls:
            return
        w = self.queue.last_wall
        if reg.wall is not None and (w is None or reg.wall > w):
            w = reg.wall
        if w is None or wall() - w > _KEEP_S:
            reg.save(ctls)
            self.queue.last_wall = reg.wall

    def _legacy(self):
        # Transaction files of format version 1, from before an upgrade: the
        # queue takes their transactions over.
        q = self.queue
        for conn in self.conns[1:]:
            name = "tx%d" % conn.c
            d = self.store.load(name)
            if not (isinstance(d, dict) and isinstance(d.get("ref"), int)
                    and isinstance(d.get("start_wh"), int) and isinstance(d.get("tag"), str)):
                continue
            ref = d["ref"]
            q.bump(ref)
            if ref in q.open:
                continue
            if q.has(STOP, ref) or (d.get("id") is None and not q.has(START, ref)):
                # Stopped, and the power went before the file was removed; or
                # the power went between this file and its StartTransaction:
                # the transaction never began (no energy flows before that).
                self.store.remove(name)
                continue
            q.adopt(conn.c, d)

    def _raise_register(self, ctls):
        # Readings sent since the register was last saved are in the queue's log:
        # the register restarts at least there, so no reading ever goes back.
        q = self.queue
        q.registers = lambda: [int(c.energy_wh) for c in ctls]
        q.noted = self.register.noted
        fl = q.floor(len(ctls))
        saved = self.register.saved
        for i in range(len(ctls)):
            if fl[i] > saved[i]:
                log.info("cp", "connector %d: energy register raised to %d Wh from the queue",
                         i + 1, fl[i])
                ctls[i].configure({"energy_base_wh": fl[i]})
                saved[i] = fl[i]

    def resume(self, conn, ev_there):
        tx = conn.tx
        tx.resuming = None
        if not ev_there:
            log.warn("cp", "connector %d: transaction of %s ended by the power cut (PowerLoss): "
                     "the EV is gone", conn.c, tx.tag)
            conn.stop("PowerLoss")
            return
        log.info("cp", "connector %d: transaction of %s resumed after the power cut at %d Wh",
                 conn.c, tx.tag, conn.meter_wh())
        self._running(conn)
        # A tag the central system refused before the cut stays refused: no
        # energy (StopTransactionOnInvalidId false), or only up to its cap.
        tx.limit_wh = tx.cap
        if conn.ctl is not None and (not tx.invalid or
                                     (tx.cap is not None and tx.cap > conn.meter_wh())):
            conn.ctl.permit(True)

    def tick(self):
        self.queue.tick()
        for conn in self.conns[1:]:
            tx = conn.tx
            if tx is not None and tx.ending is not None and (
                    not _unread(conn.ctl) or ticks_diff(ticks_ms(), tx.ending[1]) > _RESUME_WAIT_MS):
                reason = tx.ending[0]
                tx.ending = None
                conn.stop(reason, before=True)
                tx = conn.tx
            if tx is not None and tx.resuming is not None and \
                    ticks_diff(ticks_ms(), tx.resuming) > _RESUME_WAIT_MS:
                # No pilot reading at all: nobody can tell whether the EV is there.
                self.resume(conn, False)
                tx = conn.tx
            if tx is not None and tx.limit_wh is not None and conn.ctl is not None \
                    and conn.ctl.energy_wh >= tx.limit_wh:
                tx.limit_wh = None
                conn.ctl.permit(False)
                log.info("cp", "connector %d: MaxEnergyOnInvalidId reached", conn.c)
                conn.changed(conn.c)


def _unread(ctl):
    # A Modbus meter (firmware/evse/mbmeter.py) not read yet in this life,
    # and not given up on.
    m = getattr(ctl, "meter", None)
    return getattr(m, "ok_ms", 0) is None and getattr(m, "failed_ms", None) is None
