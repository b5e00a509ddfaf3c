"""What the charger publishes under <prefix>/, retained (the topic layout is in
the README):

    status              one JSON object shaped like the control channel's
                        status answer: online, boot, firmware, and connectors
                        with id, status, error, cp, offered_a, contactor,
                        power_w, energy_wh, session_wh, transaction_id, fault,
                        phases (energies and power in whole Wh and W)
    online              true / false: the link to the central system
    firmware            the firmware version
    heap_free           free heap in bytes, every 30 s (none where the runtime
                        cannot tell: CPython)
    current_a           the MQTT current limit in force (its fallback once
                        stale), or none; the pause aside
    pause               true / false
    phases              the phases asked for (1, or the wired count)
    <c>/status          per connector c: the OCPP status
    <c>/cp              the pilot state, A to F (? between bands)
    <c>/offered_a       the current offered on the pilot, A
    <c>/contactor       true / false
    <c>/power_w, <c>/energy_wh, <c>/session_wh   W, Wh (total), Wh (this transaction)
    <c>/transaction_id  the transaction id, or none
    <c>/fault           the controller's error code, or none
    <c>/phases          the phases in use

Values are plain text. Each topic goes out when its value changed (looked at
every PERIOD_MS), and all of them again every FULL_MS while a connector
charges. The last text sent of each topic is kept to compare with.
"""
import json
from compat import ticks_ms, ticks_diff

PERIOD_MS = 1000
FULL_MS = 30000


def _num(x):
    # Whole numbers plainly, others to one decimal, the same on both runtimes.
    t = int(x * 10 + 0.5) if x >= 0 else -int(-x * 10 + 0.5)
    if t % 10 == 0:
        return str(t // 10)
    return "%s%d.%d" % ("-" if t < 0 else "", abs(t) // 10, abs(t) % 10)


def _text(v):
    if v is None:
        return "none"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return _num(v)
    return str(v)


def _heap():
    try:
        import gc
        return gc.mem_free()
    except (ImportError, AttributeError):
        return None


_PER = ("status", "cp", "offered_a", "contactor", "power_w", "energy_wh", "session_wh",
        "transaction_id", "fault", "phases")


class Telemetry:
    def __init__(self, status, control, version, wired):
        self.status = status        # fn() -> the control channel's status dict
        self.control = control
        self.version = version
        self.wired = wired
        self.sent = {}              # topic suffix -> the payload last sent
        self._full = None           # ticks of the last full round
        self._heap = None           # ticks of the last heap_free

    def reset(self):
        """Connected again: everything goes out once more."""
        self.sent = {}
        self._full = None
        self._heap = None

    def doc(self, st):
        conns = []
        for c in st.get("connectors", ()):
            d = {}
            for k in ("id", "status", "error", "cp", "offered_a", "contactor", "transaction_id",
                      "fault", "phases"):
                d[k] = c.get(k)
            for k in ("power_w", "energy_wh", "session_wh"):
                d[k] = int(c.get(k) or 0)
            conns.append(d)
        return {"online": st.get("online"), "boot": st.get("boot"), "firmware": self.version,
                "connectors": conns}

    def items(self, now=None):
        """(topic suffix, payload bytes) of each topic due now, in order, made
        one at a time: the publisher sends each before the next is made, so
        the event loop gets a turn between them."""
        now = ticks_ms() if now is None else now
        st = self.status()
        doc = self.doc(st)
        charging = False
        for d in doc["connectors"]:
            charging = charging or bool(d["contactor"])
        full = self._full is None or (charging and ticks_diff(now, self._full) >= FULL_MS)
        if full:
            self._full = now
        for k, v in self._values(st, doc, now):
            b = v.encode()
            if full or self.sent.get(k) != b:
                yield k, b
        if self._heap is None or ticks_diff(now, self._heap) >= FULL_MS:
            self._heap = now
            yield "heap_free", _text(_heap()).encode()

    def _values(self, st, doc, now):
        yield "online", _text(st.get("online"))
        yield "firmware", self.version
        ctl = self.control
        yield "current_a", _text(ctl.current(now)[0] if ctl is not None else None)
        yield "pause", _text(ctl is not None and ctl.paused)
        yield "phases", _text((ctl.phases_sel if ctl is not None else None) or self.wired)
        for d in doc["connectors"]:
            for k in _PER:
                yield "%d/%s" % (d["id"], k), _text(d[k])
        yield "status", json.dumps(doc)

    def sent_ok(self, suffix, payload):
        if suffix != "heap_free":
            self.sent[suffix] = payload
