"""How a message of the transaction queue (firmware/ocpp/txqueue.py) is kept
on flash: its meter values packed, and its times once the clock is known.

Packed MeterValue: [timestamp, sampledValue, ...], each sampledValue a list of
the values of _KEYS in that order (trailing absent ones left out), the words
of _WORDS by their index: a third of its JSON. A MeterValue or sampledValue
with anything else stays as it is.

Retiming: a time handed out while the wall clock was unknown in this boot
becomes the real time of the same instant (compat.retime); any other stays.
"""
from compat import retime, iso, parse_iso

_KEYS = ("value", "context", "format", "measurand", "unit", "location", "phase")
_WORDS = ("Sample.Periodic", "Sample.Clock", "Transaction.Begin", "Transaction.End", "Trigger",
          "Interruption.Begin", "Interruption.End", "Other", "Raw", "SignedData",
          "Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
          "Current.Offered", "Voltage", "Wh", "kWh", "W", "kW", "A", "V", "Outlet", "Inlet",
          "Body", "Cable", "EV", "L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N")


def pack(mv):
    """A MeterValue as the queue keeps it; one with keys pack() does not know
    stays as it is."""
    if len(mv) != 2 or "sampledValue" not in mv or "timestamp" not in mv:
        return mv
    out = [mv["timestamp"]]
    for sv in mv["sampledValue"]:
        row = []
        for k in _KEYS:
            v = sv.get(k)
            if k != "value" and v in _WORDS:
                v = _WORDS.index(v)
            row.append(v)
        while row[-1] is None:
            row.pop()
        if len(sv) != len([v for v in row if v is not None]):
            return mv
        out.append(row)
    return out


def unpack(mv):
    if not isinstance(mv, list):
        return mv
    svs = []
    for row in mv[1:]:
        sv = {}
        for i in range(len(row)):
            v = row[i]
            if v is not None:
                sv[_KEYS[i]] = _WORDS[v] if i and isinstance(v, int) else v
        svs.append(sv)
    return {"timestamp": mv[0], "sampledValue": svs}


def each_mv(p, f):
    # Each MeterValue of a payload through f, in place.
    for k in ("meterValue", "transactionData"):
        mvs = p.get(k)
        if mvs:
            p[k] = [f(mv) for mv in mvs]
    return p


def retime_iso(s):
    """An ISO time of this boot's unknown clock as the real one (compat.retime)."""
    try:
        t = parse_iso(s)
    except (ValueError, TypeError):
        return s
    r = retime(t)
    return s if r == t else iso(r)


def retime_mv(mv):
    """A MeterValue (packed or not) with its time retimed: a new object."""
    if isinstance(mv, list) and mv:
        return [retime_iso(mv[0])] + mv[1:]
    if isinstance(mv, dict) and "timestamp" in mv:
        d = dict(mv)
        d["timestamp"] = retime_iso(mv["timestamp"])
        return d
    return mv


def retime_state(st):
    if isinstance(st.get("start_s"), int):
        st["start_s"] = retime(st["start_s"])
    if st.get("begin") is not None:
        st["begin"] = retime_mv(st["begin"])
