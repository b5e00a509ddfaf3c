"""Security events (security whitepaper, A04 and section 8): every event goes
into the security log on flash; the critical ones, and those the whitepaper
asks to report, are sent as SecurityEventNotification, in order, from the
same log, so none is lost offline or in a power cut (A04.FR.02).

    sec = SecurityEvents(store)
    sec.event("FirmwareUpdated", "0.2.0 -> 0.2.1")   the API for every room
    record(store, type, info)      the same without a running charger (the REPL)
    sec.next_message()             (action, payload, on_answer) or None (the outbox)
    sec.lines()                    the security log as text lines (GetLog)

The record log "secq" (firmware/recordlog.py, store.FILES) holds one record
per event, {"q": seq, "type": ..., "ts": ISO time, "info": techInfo, "s": 1 to
send}, and {"k": seq} once the central system confirmed it. It is the
security log too: when it passes MAX_BYTES it is rewritten with the newest
events that fit half of it, the undelivered ones first kept.
"""
import log
from compat import iso
from firmware.recordlog import RecordLog

LOG = "secq"
MAX_BYTES = 16384
# Sent to the central system: the whitepaper's critical events, and those its
# firmware update asks for (L01.FR.02/03); the rest stay in the log.
SEND = ("FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot",
        "SecurityLogWasCleared", "MemoryExhaustion", "TamperDetectionActivated",
        "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate",
        "InvalidCentralSystemCertificate", "ReconfigurationOfSecurityParameters",
        # Those of security profile 3 (A00.FR.413/419/426, A02.FR.07).
        "InvalidChargePointCertificate", "InvalidTLSVersion", "InvalidTLSCipherSuite")


def _rec(seq, kind, info):
    r = {"q": seq, "type": kind[:50], "ts": iso()}
    if info:
        r["info"] = str(info)[:255]
    if kind in SEND:
        r["s"] = 1
    return r


def record(store, kind, info=None):
    """Append one event to the log, with no charger running (the REPL)."""
    q = RecordLog(store, LOG, 1024)
    seq = 0
    for _off, r in q.records():
        seq = max(seq, r.get("q", 0), r.get("k", 0))
    q.append(_rec(seq + 1, kind, info))


class SecurityEvents:
    def __init__(self, store):
        self.log = RecordLog(store, LOG, 1024)
        self.seq = 0
        self.acked = set()
        self.waiting = 0
        self._busy = None
        for _off, r in self.log.records():
            if "k" in r:
                self.acked.add(r["k"])
            self.seq = max(self.seq, r.get("q", 0), r.get("k", 0))
        for _off, r in self.log.records():
            if r.get("s") and r["q"] not in self.acked:
                self.waiting += 1
        self.wake = None            # fn() when there is something to send (the outbox)

    def event(self, kind, info=None):
        """A security event happened now."""
        self.seq += 1
        r = _rec(self.seq, kind, info)
        log.warn("security", "%s%s", kind, ": " + r["info"] if "info" in r else "")
        if self.log.size > MAX_BYTES:
            self._trim()
        try:
            self.log.append(r)
        except OSError as e:
            log.error("security", "cannot keep the event on flash: %s", e)
            return
        if "s" in r:
            self.waiting += 1
            if self.wake is not None:
                self.wake()

    def _trim(self):
        keep = []
        size = 0
        for _off, r in self.log.records():
            if "q" in r:
                keep.append((r["q"], len(str(r)) + 8, bool(r.get("s")) and r["q"] not in self.acked))
        # Newest first, the undelivered ones before the others.
        keep.sort(key=lambda e: (not e[2], -e[0]))
        chosen = set()
        for q, n, _u in keep:
            if size + n > MAX_BYTES // 2:
                break
            chosen.add(q)
            size += n
        dropped = len(keep) - len(chosen)
        self.log.rewrite(lambda r: r if r.get("q") in chosen or r.get("k") in chosen else None)
        self.acked = set([k for k in self.acked if k in chosen])
        self.waiting = len([1 for q, _n, u in keep if u and q in chosen])
        log.warn("security", "security log full: %d oldest event(s) dropped", dropped)

    def next_message(self):
        if not self.waiting or self._busy is not None:
            return None
        for _off, r in self.log.records():
            if r.get("s") and r["q"] not in self.acked:
                self._busy = r["q"]
                p = {"type": r["type"], "timestamp": r["ts"]}
                if "info" in r:
                    p["techInfo"] = r["info"]
                return "SecurityEventNotification", p, self._answer
        self.waiting = 0
        return None

    def _answer(self, res):
        q, self._busy = self._busy, None
        if isinstance(res, Exception):
            # Not confirmed: it goes again (after a reconnection if the link fell).
            return
        self.acked.add(q)
        self.waiting = max(0, self.waiting - 1)
        self.log.append({"k": q})

    def lines(self):
        """The security log, oldest first, one text line per event."""
        for _off, r in self.log.records():
            if "q" in r:
                yield "%s %s%s%s\n" % (r["ts"], r["type"], " " + r["info"] if "info" in r else "",
                                       "" if not r.get("s") else " (sent)" if r["q"] in self.acked
                                       else " (to send)")
