# The transaction message queue: StartTransaction, StopTransaction and
# transaction meter values, on flash, delivered in order, one at a time; and,
# in the same records, what a restart needs of every transaction whose
# StopTransaction is not queued yet.
#
# Records in the log "txq" (firmware/recordlog.py, format version 2), one JSON object each:
#   {"q": seq, "a": action, "r": ref, "p": payload, "c": connector, "reg": [Wh, ...],
#    "w": wall seconds, "t": {...}, "ack": {...}}
#       a message to deliver. "reg": each connector's energy register as it was written,
#       which spares the register its own save (firmware/register.py); "w": the wall
#       clock then, known or not, below which the clock never restarts. "t", on a
#       StartTransaction only: parent, start_s and begin of the transaction (its tag,
#       meterStart, connector and ref are the record's own). "ack": an acknowledgement
#       riding along (below), so that it costs no write of its own.
#   {"k": seq, "r": ref, "id": transactionId, "invalid": true, "cap": Wh}
#       delivered (or given up) up to seq, written alone only when no record came to carry
#       it: before the next message already on flash is sent, or after ACK_HOLD_MS. For a
#       StartTransaction: the id the central system gave (-1: given up) and its verdict.
#   {"n": seq, "reg": [Wh, ...], "w": wall seconds, "tx": [state, ...]}
#       a checkpoint: every message before seq was delivered; the registers; the state of
#       each transaction whose Stop is not queued (c, ref, tag, parent, start_wh, start_s,
#       begin, id, invalid, cap), as firmware/ocpp/transaction.py builds it again.
# A transaction is known by its ref (our own number, the seq of its Start) until the
# central system names it; Stop and MeterValues carry the ref and get the real
# transactionId when they are sent.
#
# What a write is: a message pushed while nothing else waits (the usual case online)
# replaces the whole log by a checkpoint and that message, one atomic replace of a
# small file; the acknowledgement of the last message and the transaction's state
# ride in the checkpoint. A message pushed while others wait (offline) is appended.
# An acknowledgement that no record carried within ACK_HOLD_MS is written alone
# (as a checkpoint when nothing waits). A StartTransaction's, which brings the
# transactionId, waits only when its owner expects a record soon (a sampled
# reading within a second or two: firmware/ocpp/transaction.py), since sending a
# Start again opens a second transaction at the central system. So an online transaction costs its
# Start, each sampled reading and its Stop, plus one checkpoint for the Stop's
# acknowledgement unless the next transaction starts within ACK_HOLD_MS; the log
# never grows online.
#
# Exactly once as far as the charge point can tell: an answered message whose
# acknowledgement is still only in RAM is the only one a power cut makes go again
# (unchanged, once): the acknowledgement reaches flash before any other message
# on flash is sent.
#
# In a record, each MeterValue of "meterValue" and "transactionData" is packed
# (firmware/ocpp/txrecord.py): the log of an online transaction stays within the
# 512 bytes littlefs stores in its directory's metadata on the RP2040, where a
# write needs no erase of its own.
#
# Times: while the wall clock is unknown (compat.wall), messages carry the
# provisional time of this boot. When it becomes known in the same boot, every
# message still waiting, and the running transactions' state, is rewritten with
# the real time (one write) before anything more is sent. After a power cut the
# provisional times of the boot that ended stay: nobody can know them any more.
#
# Version 1 logs (each acknowledgement a record, the transaction in its own file
# tx<c>) are read as they are: their records mean the same in version 2.
#
# Periodic meter values are the only records that may be thinned when flash runs
# short (oldest first); Start, Stop and the Transaction.Begin/End values never are.
import log
from compat import ticks_ms, ticks_diff, ticks_add, wall, wall_known, retimed
from firmware.recordlog import RecordLog
from firmware.ocpp.txrecord import pack, unpack, each_mv, retime_iso, retime_mv, retime_state

LOG = "txq"
START = "StartTransaction"
STOP = "StopTransaction"
METER = "MeterValues"
# How long an acknowledgement waits in RAM for a record to carry it: a sampled
# reading every minute or more often never pays for one.
ACK_HOLD_MS = 90000


class TxQueue:
    def __init__(self, store, max_bytes=512 * 1024):
        self.log = RecordLog(store, LOG, older=True)
        self.max_bytes = max_bytes
        self.ids = {}        # ref -> transactionId, for refs that still have records
        self.open = {}       # ref -> state of a transaction whose Stop is not queued
        self.pending = 0     # records not yet delivered
        self.attempt = 0     # failed attempts of the head (CALLERROR answers)
        self._retry_at = None
        self._head = None    # the next record to send, once found
        self._scan = 0       # log offset from which to look for it
        self._ack = None     # the acknowledgement not yet on flash
        self._ack_at = 0     # ticks: when it is written alone at the latest
        self.seq = 0
        self.acked = 0
        self.registers = None  # fn() -> each connector's energy now, for the records
        self.noted = None      # fn(values): those values are on flash
        self.last_wall = None  # the latest wall time the log holds
        self.on_retime = None  # fn(): the clock became known; RAM times of this boot follow
        self._timed = False
        self._thin_at = max_bytes
        self._load()

    def _load(self):
        acked = 0
        last = 0
        for _off, r in self.log.records():
            w = r.get("w")
            if isinstance(w, int) and (self.last_wall is None or w > self.last_wall):
                self.last_wall = w
            a = r.get("ack")
            if a is None and "k" in r:
                a = r
            if a is not None:
                acked = max(acked, a["k"])
                self._apply(a)
            if "q" in r:
                last = max(last, r["q"])
                if r["a"] == START and "t" in r:
                    self.open[r["r"]] = _state(r)
                elif r["a"] == STOP:
                    self.open.pop(r["r"], None)
            elif "n" in r:
                last = max(last, r["n"] - 1)
                acked = max(acked, r["n"] - 1)
                for st in r.get("tx", ()):
                    self.open[st["ref"]] = st
                    if st.get("id") is not None:
                        self.ids[st["ref"]] = st["id"]
        self.acked = acked
        self.seq = last
        self.pending = 0
        for _off, r in self.log.records():
            if "q" in r and r["q"] > acked:
                self.pending += 1
        if self.pending:
            log.info("txq", "%d transaction message(s) waiting from before the restart", self.pending)

    def _apply(self, a):
        # An acknowledgement that names a transaction (a Start's) gives its id and verdict.
        if "id" not in a:
            return
        ref = a["r"]
        self.ids[ref] = a["id"]
        st = self.open.get(ref)
        if st is not None:
            for k in ("id", "invalid", "cap"):
                if k in a:
                    st[k] = a[k]

    def floor(self, n):
        """Per connector, the highest energy reading this log holds (in meter
        values, starts, stops or the registers records carry): the register must
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
            p = each_mv(r.get("p") or {}, unpack)
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

    def adopt(self, c, d):
        """A transaction known from its own file (format version 1 of tx<c>):
        from now on the queue's checkpoints carry it."""
        st = dict(d)
        st["c"] = c
        self.open[d["ref"]] = st
        if d.get("id") is not None:
            self.ids[d["ref"]] = d["id"]

    def push(self, action, ref, payload, c=None, t=None):
        """Write a message to flash; returns its seq (a StartTransaction's seq is
        the ref of its transaction). c: the connector, for floor() and the
        transaction's state; t: a StartTransaction's parent, start_s and begin."""
        self.seq += 1
        if ref is None:
            ref = self.seq
        rec = {"q": self.seq, "a": action, "r": ref, "p": each_mv(dict(payload), pack)}
        if c is not None:
            rec["c"] = c
        if t is not None:
            rec["t"] = t
            self.open[ref] = _state(rec)
        elif action == STOP:
            self.open.pop(ref, None)
        self.clock()
        regs = self._regs()
        rec["w"] = wall()
        if self.pending:
            if regs is not None:
                rec["reg"] = regs
            self._make_room()
            if self._ack is not None:
                rec["ack"] = self._ack
                self._ack = None
            self.log.append(rec)
        else:
            # Everything before was delivered: the checkpoint carries the last
            # acknowledgement and the state of the running transactions.
            self._checkpoint(rec, regs)
        self.pending += 1
        if regs is not None and self.noted is not None:
            self.noted(regs)
        return self.seq

    def _regs(self):
        return None if self.registers is None else self.registers()

    def _checkpoint(self, rec=None, regs=None):
        # Replaces the log by a checkpoint (and rec): one write.
        cp = {"n": rec["q"] if rec is not None else self.seq + 1, "w": wall()}
        if regs is not None:
            cp["reg"] = regs
        if self.open:
            cp["tx"] = list(self.open.values())
        self.log.reset((cp, rec) if rec is not None else (cp,))
        self._ack = None
        self._thin_at = self.max_bytes
        self._head = None
        self._scan = 0
        ids = {}
        for ref in self.ids:
            if ref in self.open or (rec is not None and ref == rec["r"]):
                ids[ref] = self.ids[ref]
        self.ids = ids

    def _make_room(self):
        if self.log.size < self._thin_at:
            return
        # Thin periodic meter values, oldest first: every other one of each
        # transaction goes, Start and Stop never (the Begin and End readings
        # travel inside the StopTransaction). What a dropped record carried
        # besides its reading (an acknowledgement, the registers) stays.
        seen = {}
        dropped = [0]

        def thin(r):
            if "q" in r and r["a"] == METER and r["q"] > self.acked:
                ref = r["r"]
                seen[ref] = seen.get(ref, 0) + 1
                if seen[ref] % 2 == 0:
                    dropped[0] += 1
                    keep = r.get("ack") or {}
                    if "reg" in r:
                        keep["reg"] = r["reg"]
                    return keep or None
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
        self.clock()
        if self._ack is not None:
            # The next message is on flash already: the last one's acknowledgement
            # goes first, so that a power cut never sends more than one again.
            self.flush()
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
        p = each_mv(r["p"], unpack)
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

    def ack(self, seq, tid=None, verdict=None, hold_ms=ACK_HOLD_MS):
        """The head was delivered (or given up). tid: the transactionId a
        StartTransaction.conf gave (-1 when the Start is given up); verdict:
        what the transaction keeps of the answer ({"invalid": True, "cap": Wh}).
        hold_ms: how long it may wait for a record to carry it (0: written now)."""
        r = self._head
        if r is None or r["q"] != seq:
            return
        ref = r["r"]
        a = {"k": seq, "r": ref}
        if r["a"] == START:
            a["id"] = tid
            if verdict:
                a.update(verdict)
            self._apply(a)
        self.acked = seq
        self.pending -= 1
        self._head = None
        self.attempt = 0
        self._retry_at = None
        if self.pending <= 0:
            self.pending = 0
        self._ack = a
        self._ack_at = ticks_add(ticks_ms(), hold_ms)
        if hold_ms <= 0:
            self.flush()

    def flush(self):
        """Write the acknowledgement that waits in RAM, if any."""
        a = self._ack
        if a is None:
            return
        if self.pending:
            self._ack = None
            self.log.append(a)
            return
        regs = self._regs()
        self._checkpoint(None, regs)
        if regs is not None and self.noted is not None:
            self.noted(regs)

    def clock(self):
        """Once the wall clock is known in this boot: what waits gets the real
        time of its provisional one (compat.retime), in RAM and on flash."""
        if self._timed or not wall_known():
            return
        self._timed = True
        if not retimed():
            return
        if self.on_retime is not None:
            self.on_retime()
        for st in self.open.values():
            retime_state(st)
        if not self.pending and not self.open:
            return
        acked = self.acked

        def fix(r):
            if "q" in r and r["q"] > acked:
                p = r["p"]
                if "timestamp" in p:
                    p["timestamp"] = retime_iso(p["timestamp"])
                each_mv(p, retime_mv)
                if "t" in r:
                    retime_state(r["t"])
            for st in r.get("tx", ()):
                retime_state(st)
            return r
        self.log.rewrite(fix)
        self._head = None
        self._scan = 0
        log.info("txq", "clock known: %d waiting message(s) and %d transaction(s) retimed",
                 self.pending, len(self.open))

    def tick(self):
        self.clock()
        if self._ack is not None and ticks_diff(ticks_ms(), self._ack_at) >= 0:
            self.flush()

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


def _state(rec):
    # A transaction's state from its StartTransaction record.
    p = rec["p"]
    st = {"c": rec.get("c"), "ref": rec["r"], "tag": p["idTag"], "start_wh": p["meterStart"]}
    st.update(rec["t"])
    return st
