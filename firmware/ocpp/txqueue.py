# The transaction message queue: StartTransaction, StopTransaction and
# transaction meter values, on flash, delivered in order, one at a time.
#
# Records in the log "txq" (firmware/recordlog.py), one JSON object each:
#   {"q": seq, "a": action, "r": ref, "p": payload}   a message to deliver
#   {"k": seq, "r": ref, "id": transactionId}         delivered (or given up) up to seq;
#                                                     for a StartTransaction, the id the
#                                                     central system gave (-1: never delivered)
#   {"n": seq, "reg": [Wh, ...]}                      the next seq and each connector's energy
#                                                     register, left when the log is emptied
# A transaction is known by its ref (our own number, the seq of its Start) until the
# central system names it; Stop and MeterValues carry the ref and get the real
# transactionId when they are sent. Acknowledging costs one record; when nothing is
# left to send, the log is rewritten to one "n" record, so it does not grow online.
#
# Periodic meter values are the only records that may be thinned when flash runs
# short (oldest first); Start, Stop and the Transaction.Begin/End values never are.
import log
from compat import ticks_ms, ticks_diff
from firmware.recordlog import RecordLog

LOG = "txq"
START = "StartTransaction"
STOP = "StopTransaction"
METER = "MeterValues"


class TxQueue:
    def __init__(self, store, max_bytes=512 * 1024):
        self.log = RecordLog(store, LOG)
        self.max_bytes = max_bytes
        self.ids = {}        # ref -> transactionId, for refs that still have records
        self.pending = 0     # records not yet delivered
        self.attempt = 0     # failed attempts of the head (CALLERROR answers)
        self._retry_at = None
        self._head = None    # the next record to send, once found
        self._scan = 0       # log offset from which to look for it
        self.seq = 0
        self.acked = 0
        self.registers = None  # fn() -> each connector's energy now, for the "n" record
        self._thin_at = max_bytes
        self._load()

    def _load(self):
        acked = 0
        last = 0
        for _off, r in self.log.records():
            if "k" in r:
                acked = max(acked, r["k"])
                if r.get("id") is not None:
                    self.ids[r["r"]] = r["id"]
            elif "q" in r:
                last = max(last, r["q"])
            elif "n" in r:
                last = max(last, r["n"] - 1)
        self.acked = acked
        self.seq = last
        self.pending = 0
        for _off, r in self.log.records():
            if "q" in r and r["q"] > acked:
                self.pending += 1
        if self.pending:
            log.info("txq", "%d transaction message(s) waiting from before the restart", self.pending)

    def floor(self, n):
        """Per connector, the highest energy reading this log holds (in meter
        values, starts, stops or the last register record): the register must
        never restart below what the central system may have been told."""
        out = [0] * n
        for _off, r in self.log.records():
            reg = r.get("reg")
            if reg:
                for i in range(min(n, len(reg))):
                    if isinstance(reg[i], int) and reg[i] > out[i]:
                        out[i] = reg[i]
            c = r.get("c")
            if not isinstance(c, int) or not 1 <= c <= n:
                continue
            p = r.get("p") or {}
            v = p.get("meterStart", p.get("meterStop"))
            if isinstance(v, int) and v > out[c - 1]:
                out[c - 1] = v
            for mv in p.get("meterValue", ()):
                for sv in mv.get("sampledValue", ()):
                    if sv.get("measurand", "Energy.Active.Import.Register") == \
                            "Energy.Active.Import.Register" and sv.get("unit", "Wh") == "Wh":
                        try:
                            e = int(float(sv["value"]))
                        except (KeyError, ValueError):
                            continue
                        if e > out[c - 1]:
                            out[c - 1] = e
        return out

    def next_ref(self):
        """The seq (hence the ref) the next push will get."""
        return self.seq + 1

    def has(self, action, ref):
        """Whether the log still holds a message of this action for ref."""
        for _off, r in self.log.records():
            if r.get("a") == action and r.get("r") == ref:
                return True
        return False

    def push(self, action, ref, payload, c=None):
        """Write a message to flash; returns its seq (a StartTransaction's seq is
        the ref of its transaction). c: the connector, for floor()."""
        self.seq += 1
        if ref is None:
            ref = self.seq
        self._make_room()
        rec = {"q": self.seq, "a": action, "r": ref, "p": payload}
        if c is not None:
            rec["c"] = c
        self.log.append(rec)
        self.pending += 1
        return self.seq

    def _make_room(self):
        if self.log.size < self._thin_at:
            return
        # Thin periodic meter values, oldest first: every other one of each
        # transaction goes, Start and Stop never (the Begin and End readings
        # travel inside the StopTransaction).
        seen = {}
        dropped = [0]

        def thin(r):
            if "q" in r and r["a"] == METER and r["q"] > self.acked:
                ref = r["r"]
                seen[ref] = seen.get(ref, 0) + 1
                if seen[ref] % 2 == 0:
                    dropped[0] += 1
                    return None
            return r
        self.log.rewrite(thin)
        self.pending -= dropped[0]
        self._head = None
        self._scan = 0
        # Starts and Stops may fill the budget on their own: do not rewrite the
        # log again before it has grown by a quarter.
        self._thin_at = max(self.max_bytes, self.log.size + self.max_bytes // 4)
        log.warn("txq", "queue full: %d periodic meter value(s) thinned", dropped[0])

    def head(self):
        """(seq, action, payload) of the next message due now, or None."""
        if not self.pending:
            return None
        if self._retry_at is not None and ticks_diff(ticks_ms(), self._retry_at) < 0:
            return None
        if self._head is None:
            for off, r in self.log.records(self._scan):
                if "q" in r and r["q"] > self.acked:
                    self._head = r
                    self._scan = off
                    break
            else:
                self.pending = 0
                return None
        r = self._head
        p = r["p"]
        if r["a"] != START:
            tid = self.ids.get(r["r"])
            if tid is None:
                tid = p.get("transactionId")
            if tid is None:
                # The Start of this transaction was lost with a damaged record:
                # the spec's placeholder for an unknown transaction.
                tid = -1
            p["transactionId"] = tid
        return r["q"], r["a"], p

    def due_ms(self):
        if not self.pending:
            return None
        if self._retry_at is None:
            return 0
        return max(0, ticks_diff(self._retry_at, ticks_ms()))

    def ack(self, seq, tid=None):
        """The head was delivered (or given up). tid: the transactionId a
        StartTransaction.conf gave (-1 when the Start is given up)."""
        r = self._head
        if r is None or r["q"] != seq:
            return
        ref = r["r"]
        if r["a"] == START:
            self.ids[ref] = tid
        self.acked = seq
        self.pending -= 1
        self._head = None
        self.attempt = 0
        self._retry_at = None
        if self.pending <= 0:
            self.pending = 0
            # Nothing left: shrink the log to the sequence number alone.
            self.log.clear()
            self._thin_at = self.max_bytes
            rec = {"n": self.seq + 1}
            if self.registers is not None:
                rec["reg"] = self.registers()
            self.log.append(rec)
            self.ids = {}
            self._scan = 0
            return
        rec = {"k": seq, "r": ref}
        if r["a"] == START:
            rec["id"] = tid
        self.log.append(rec)

    def failed(self, attempts, interval_s):
        """The central system answered the head with a CALLERROR. Returns True
        when the message is given up (after `attempts` tries, spec 4.10)."""
        self.attempt += 1
        if self.attempt >= attempts:
            return True
        # The n-th retry waits n x TransactionMessageRetryInterval.
        self._retry_at = ticks_ms() + self.attempt * interval_s * 1000
        return False

    def bump(self, seq):
        # Refs live on in transaction files; never hand one out twice, even if
        # the log was emptied just before a power cut.
        if seq > self.seq:
            self.seq = seq

    def retry_now(self):
        # A new connection: what waited for the link goes at once (a CALLERROR's
        # retry wait is kept only within one connection).
        self._retry_at = None

    def id_of(self, ref):
        return self.ids.get(ref)
