# The life of a transaction's messages beyond the charge point's own rooms:
# what the central system's answer to the queue's head does, and what a
# restart finds on flash (a transaction the power cut short).
import log
from compat import ticks_ms
from firmware.ocpp.rpc import CallError


def raise_register(cp, ctls):
    # Readings sent since the register was last saved are in the queue's log:
    # the register restarts at least there, so no reading ever goes back.
    if cp.register is None or None in ctls:
        return
    cp.queue.registers = lambda: [int(c.energy_wh) for c in ctls]
    fl = cp.queue.floor(cp.n)
    for i in range(cp.n):
        if fl[i] > cp.register.saved[i]:
            log.info("cp", "connector %d: energy register raised to %d Wh from the queue",
                     i + 1, fl[i])
            ctls[i].configure({"energy_base_wh": fl[i]})
            cp.register.saved[i] = fl[i]


def recover(cp):
    # A transaction file left behind means the power went while it ran:
    # end it with the energy the register had, or, with resume_after_power_loss
    # and the EV still connected, carry on with it.
    for conn in cp.conns[1:]:
        tx = cp.store.load("tx%d" % conn.c)
        if not isinstance(tx, dict) or "ref" not in tx:
            continue
        ref = tx["ref"]
        cp.queue.bump(ref)
        if cp.queue.has("StopTransaction", ref):
            # Stopped, and the power went before the file was removed.
            cp.store.remove("tx%d" % conn.c)
            continue
        if tx.get("id") is None and not cp.queue.has("StartTransaction", ref):
            # The power went between this file and its StartTransaction: the
            # transaction never began (no energy flows before the Start is queued).
            cp.store.remove("tx%d" % conn.c)
            continue
        conn.tx = tx
        if tx.get("id") is not None:
            cp.queue.ids[ref] = tx["id"]
        reason = cp.store.load("resetreason") or "PowerLoss"
        if reason == "PowerLoss" and conn.ctl is not None \
                and cp.cfg.get("resume_after_power_loss"):
            # The first reading of the pilot decides: the EV still there
            # resumes the transaction, otherwise it ends (Connector.on_evse).
            conn.resuming = ticks_ms()
            log.info("cp", "connector %d: transaction of %s from before the power cut: "
                     "resumed if the EV is still connected", conn.c, tx.get("tag"))
            continue
        log.warn("cp", "connector %d: transaction of %s ended by a restart (%s)",
                 conn.c, tx.get("tag"), reason)
        conn.stop(reason)
    if cp.store.exists("resetreason"):
        cp.store.remove("resetreason")


class QueueAnswer:
    # What to do with the central system's answer to the queue's head.
    def __init__(self, cp, seq, action, payload):
        self.cp = cp
        self.seq = seq
        self.action = action
        self.payload = payload

    def __call__(self, res):
        cp = self.cp
        q = cp.queue
        if isinstance(res, CallError):
            if q.failed(cp.cfg.get("TransactionMessageAttempts"),
                        cp.cfg.get("TransactionMessageRetryInterval")):
                log.warn("txq", "%s given up after %d attempts", self.action, q.attempt)
                self._done(-1, None)
            return
        if isinstance(res, Exception):
            # No answer (timeout, link down): it stays at the head and goes again
            # after the retry interval or the reconnection; never dropped.
            q.failed(1 << 30, cp.cfg.get("TransactionMessageRetryInterval"))
            q.attempt = 0
            return
        info = res.get("idTagInfo")
        tid = res.get("transactionId") if self.action == "StartTransaction" else None
        if self.action == "StartTransaction" and not isinstance(tid, int):
            log.warn("txq", "StartTransaction.conf without a transactionId")
            tid = -1
        self._done(tid, info)

    def _done(self, tid, info):
        cp = self.cp
        p = self.payload
        tag = p.get("idTag")
        if info and tag:
            cp.auth.update(tag, info)
        if self.action == "StartTransaction":
            # The id reaches the transaction file before the queue forgets the
            # Start, so a restart in between still knows the transaction began.
            ref = self.seq
            for conn in cp.conns[1:]:
                if conn.tx is not None and conn.tx["ref"] == ref:
                    conn.on_start_conf(tid, info)
            cp.queue.ack(self.seq, tid)
        else:
            cp.queue.ack(self.seq)
