# Random inbound OCPP-J frames for the fuzzers: what a central system (a
# broken one, or an attacker) can put in a text frame. Everything is drawn from
# `rnd` (random.Random under CPython, where hypothesis controls it through
# st.randoms(); MicroPython's random module works too), so a seed replays a run.
# Payloads start valid, generated from the official JSON schema of the action
# (passed in as a dict), and are then mutated; frames are written by our own
# serialiser so that whitespace, escapes, duplicate keys and number spellings
# vary, and some are then damaged byte by byte.
# Common subset of both runtimes.

CP_ACTIONS = ("Authorize", "BootNotification", "DiagnosticsStatusNotification",
              "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
              "StatusNotification", "StopTransaction", "SecurityEventNotification",
              "SignCertificate", "LogStatusNotification", "SignedFirmwareStatusNotification")

_INTS = (0, 1, -1, 2, 7, 255, 65535, 2147483647, 2147483648, -2147483649,
         9007199254740993, 18446744073709551616, 10 ** 30, -(10 ** 40))
_FLOATS = (0.0, -0.0, 0.1, 0.5, 1.5, 16.0, 21.4, 21.45, 1e-7, 5e-324, 1.7976931348623157e308,
           123456.789, -3.2)
_CHARS = ("a", "Z", "0", " ", "-", "_", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "\x7f",
          "\xe9", "\xff", "\u0100", "\u20ac", "\u4e2d", "\ufeff", "\uffff", "\U0001f600",
          "\U0010ffff")
_WORDS = ("", "Hard", "Soft", "Operative", "A", "TxProfile", "HeartbeatInterval",
          "MeterValueSampleInterval", "AuthorizationKey", "csms_url", "SecurityProfile",
          "true", "null", "Accepted", "fuzz", "x" * 21, "\u00e9\u00e9", "2026-01-01T00:00:00Z")


def _pick(rnd, seq):
    return seq[rnd.randint(0, len(seq) - 1)]


def text(rnd, most=30):
    r = rnd.randint(0, 9)
    if r < 3:
        return _pick(rnd, _WORDS)
    n = rnd.randint(0, most)
    if r < 6:
        return "".join(_pick(rnd, "abcdefghijklmnopqrstuvwxyzABCDEF0123456789") for _ in range(n))
    return "".join(_pick(rnd, _CHARS) for _ in range(n))


def value(rnd, depth=0):
    """Any JSON value (no NaN: that is a byte mutation)."""
    r = rnd.randint(0, 11 if depth < 3 else 7)
    if r == 0:
        return None
    if r == 1:
        return rnd.randint(0, 1) == 1
    if r == 2:
        return _pick(rnd, _INTS)
    if r == 3:
        return rnd.randint(-1000, 100000)
    if r == 4:
        return _pick(rnd, _FLOATS)
    if r < 8:
        return text(rnd)
    if r < 10:
        return [value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    d = {}
    for _ in range(rnd.randint(0, 4)):
        d[text(rnd, 8)] = value(rnd, depth + 1)
    return d


def date_time(rnd):
    y, mo, d = rnd.randint(1970, 2099), rnd.randint(1, 12), rnd.randint(1, 28)
    s = "%04d-%02d-%02dT%02d:%02d:%02d" % (y, mo, d, rnd.randint(0, 23), rnd.randint(0, 59),
                                          rnd.randint(0, 59))
    if rnd.randint(0, 2) == 0:
        s += "." + "".join(_pick(rnd, "0123456789") for _ in range(rnd.randint(1, 6)))
    r = rnd.randint(0, 3)
    return s + ("Z" if r < 2 else "%s%02d:%02d" % (_pick(rnd, "+-"), rnd.randint(0, 23),
                                                    _pick(rnd, (0, 30, 45))))


_BAD_DATES = ("", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z",
              "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+25:00",
              "2026-01-01T00:00:00.Z", "2026-01-01 00:00:00Z", "26-01-01T00:00:00Z",
              "2026-01-01T00:00:00ZZ", "2026-1-01T00:00:00Z", "tomorrow", "2026-01-01T 1:00:00Z",
              "1_00-01-01T00:00:00Z", "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+01:00:00")


def valid(rnd, s):
    """A value that the JSON schema s accepts."""
    if "enum" in s:
        return _pick(rnd, s["enum"])
    t = s.get("type")
    if t == "object":
        props, req = s.get("properties", {}), s.get("required", ())
        out = {}
        for k in props:
            if k in req or rnd.randint(0, 2) == 0:
                out[k] = valid(rnd, props[k])
        return out
    if t == "array":
        lo = s.get("minItems", 0)
        return [valid(rnd, s.get("items", {})) for _ in range(rnd.randint(lo, lo + 3))]
    if t == "string":
        if s.get("format") == "date-time":
            return date_time(rnd)
        most = s.get("maxLength", 40)
        if rnd.randint(0, 4) == 0:
            return "".join(_pick(rnd, "abcXYZ09\xe9\u4e2d") for _ in range(min(most, 600)))
        return text(rnd, min(most, 30))[:most]
    if t == "integer":
        return _pick(rnd, (0, 1, 1, 2, 3, rnd.randint(-5, 100), rnd.randint(0, 2147483647)))
    if t == "number":
        if "multipleOf" in s:
            return rnd.randint(0, 5000) / 10 if rnd.randint(0, 1) else rnd.randint(0, 500)
        return _pick(rnd, (0, 1.5, 16, 32.0, rnd.randint(-10, 10000)))
    if t == "boolean":
        return rnd.randint(0, 1) == 1
    return value(rnd)


def _paths(v, s, path, out):
    # Every (path, subschema) inside v, for picking a place to mutate.
    out.append((path, s))
    if isinstance(v, dict) and s.get("type") == "object":
        props = s.get("properties", {})
        for k in v:
            if k in props:
                _paths(v[k], props[k], path + [k], out)
    elif isinstance(v, list) and s.get("type") == "array":
        for i in range(len(v)):
            _paths(v[i], s.get("items", {}), path + [i], out)
    return out


def _get(v, path):
    for p in path:
        v = v[p]
    return v


def _set(v, path, new):
    if not path:
        return new
    _get(v, path[:-1])[path[-1]] = new
    return v


def wrong(rnd, s):
    """A value of the wrong kind, or of the right kind with a bad value, for s."""
    t = s.get("type")
    r = rnd.randint(0, 5)
    if r == 0:
        return value(rnd)
    if "enum" in s:
        e = _pick(rnd, s["enum"])
        return _pick(rnd, (e.lower(), e.upper(), e + " ", "", text(rnd), 1))
    if t == "string":
        if s.get("format") == "date-time":
            return _pick(rnd, _BAD_DATES)
        most = s.get("maxLength", 500)
        return _pick(rnd, ("x" * (most + 1), "\u00e9" * (most + 1), "y" * (most + 50), 5, None))
    if t == "integer":
        return _pick(rnd, (1.0, 1.5, "1", True, 1e400, -0.0, 10 ** 25, [1], None))
    if t == "number":
        return _pick(rnd, ("16", False, 0.05, 21.45, 1e400, None, {}))
    if t == "array":
        return _pick(rnd, ({}, "a", [], [None], [1, 2]))
    if t == "object":
        return _pick(rnd, ([], "x", None, 0, {"zz": 1}))
    return value(rnd)


def mutate(rnd, payload, schema):
    """1 to 3 changes to a payload: drop, add, or retype a field somewhere."""
    for _ in range(rnd.randint(1, 3)):
        places = _paths(payload, schema, [], [])
        path, s = _pick(rnd, places)
        here = _get(payload, path)
        r = rnd.randint(0, 9)
        if r < 2 and isinstance(here, dict) and here:
            del here[_pick(rnd, list(here))]
        elif r < 4 and isinstance(here, dict):
            here[_pick(rnd, ("zz", "extra", text(rnd, 6), "IdTag", "connectorid"))] = value(rnd)
        elif r < 5 and isinstance(here, list):
            here.append(value(rnd))
        elif path or r == 9:
            payload = _set(payload, path, wrong(rnd, s))
    return payload


# ---- the serialiser
def _ws(rnd):
    r = rnd.randint(0, 15)
    return "" if r < 12 else _pick(rnd, (" ", "\n", "\t ", "\r\n  "))


def _str(rnd, s, out):
    esc = rnd.randint(0, 3)   # 0: escape all non-ASCII, 1: some ASCII too
    out.append('"')
    for c in s:
        o = ord(c)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif o < 0x20:
            out.append(_pick(rnd, ("\\u%04x" % o, "\\u%04X" % o)) if o not in (9, 10) or esc
                       else ("\\t" if o == 9 else "\\n"))
        elif o > 0x7e and esc == 0:
            if o > 0xffff:
                o -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xd800 + (o >> 10), 0xdc00 + (o & 0x3ff)))
            else:
                out.append("\\u%04x" % o)
        elif esc == 1 and o < 0x7f and rnd.randint(0, 7) == 0:
            out.append("\\u%04x" % o)
        else:
            out.append(c)
    if rnd.randint(0, 60) == 0:   # valid JSON, but no Unicode character
        out.append(_pick(rnd, ("\\ud800", "\\udfff", "\\uDBFF")))
    out.append('"')


def _dump(rnd, v, out, dup):
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        if v != v:
            out.append("NaN")
        elif v in (1e400, -1e400):
            out.append(_pick(rnd, ("1e400", "Infinity")) if v > 0 else "-1e400")
        else:
            out.append(repr(v))
    elif isinstance(v, str):
        _str(rnd, v, out)
    elif isinstance(v, list):
        out.append("[" + _ws(rnd))
        for i in range(len(v)):
            if i:
                out.append(_ws(rnd) + "," + _ws(rnd))
            _dump(rnd, v[i], out, dup)
        out.append(_ws(rnd) + "]")
    else:
        out.append("{" + _ws(rnd))
        first = True
        for k in v:
            extra = [(k, value(rnd))] if dup and rnd.randint(0, 5) == 0 else []
            for kk, vv in extra + [(k, v[k])]:   # a duplicate key: the last one counts
                if not first:
                    out.append(_ws(rnd) + "," + _ws(rnd))
                first = False
                _str(rnd, kk, out)
                out.append(_ws(rnd) + ":" + _ws(rnd))
                _dump(rnd, vv, out, dup)
        out.append(_ws(rnd) + "}")


def dumps(rnd, v, dup=False):
    out = []
    _dump(rnd, v, out, dup)
    return "".join(out).encode()


# ---- damage at the byte level
def damage(rnd, b):
    r = rnd.randint(0, 13)
    i = rnd.randint(0, len(b)) if b else 0
    if r == 0:
        return b[:i]
    if r == 1:
        return b[:i] + bytes([rnd.randint(0, 255)]) + b[i:]
    if r == 2 and b:
        i = min(i, len(b) - 1)
        return b[:i] + bytes([b[i] ^ (1 << rnd.randint(0, 7))]) + b[i + 1:]
    if r == 3:
        return b"\xef\xbb\xbf" + b
    if r == 4:
        return b[:i] + _pick(rnd, (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                                   b"\xc0\xaf", b"\x00")) + b[i:]
    if r == 5:
        for lit in (b"true", b"false", b"null", b"0", b"1"):
            j = b.find(lit)
            if j >= 0:
                return b[:j] + _pick(rnd, (b"NaN", b"Infinity", b"-Infinity", b"1e400",
                                           b"-1e999", b"1" + b"0" * 400, b"01", b"1.",
                                           b".5", b"+1", b"0x10", b"tru")) + b[j + len(lit):]
        return b + b"NaN"
    if r == 6:
        return b + _pick(rnd, (b" ", b"\n", b"]", b",", b"x", b"[]", b"\x00"))
    if r == 7:
        j = b.find(b'"', max(i, 1))
        return b if j < 0 else b[:j] + _pick(rnd, (b"\\ud800", b"\\udfff", b"\\ud83d\\ude00",
                                                  b"\\u0000", b"\\x41", b"\\", b"\\uZZZZ")) + b[j:]
    if r == 8:
        return b.replace(b",", b"", 1) if rnd.randint(0, 1) else b.replace(b":", b" ", 1)
    if r == 9:
        return b.replace(b'"', b"'", 2)
    if r == 10:
        return b.replace(b"]", b",]", 1) if rnd.randint(0, 1) else b.replace(b"}", b",}", 1)
    if r == 11:
        k = rnd.randint(1, 40)
        return b[:i] + b"[" * k + b"]" * k + b[i:]
    if r == 12:
        return b[:i] + b" " * rnd.randint(1, 3000) + b[i:]
    return b.upper() if rnd.randint(0, 1) else b.replace(b"2", b"3", 1)


# ---- whole frames
def uid(rnd, seq):
    r = rnd.randint(0, 19)
    base = "f%d" % seq
    if r < 14:
        return base
    if r == 14:
        return base + "-" + "u" * (36 - len(base) - 1)     # 36 characters: the limit
    if r == 15:
        return base + "-" + "u" * (37 - len(base) - 1)     # 37: one over
    if r == 16:
        return base + "\u00e9\U0001f600"
    if r == 17:
        return ""
    return base + " " + text(rnd, 6)


def call(rnd, schemas, handled, seq):
    """A CALL: a valid or mutated payload for an action (mostly handled ones)."""
    r = rnd.randint(0, 19)
    if r < 13:
        action = _pick(rnd, handled)
    elif r < 17:
        action = _pick(rnd, list(schemas))
    elif r < 18:
        action = _pick(rnd, CP_ACTIONS)
    else:
        action = _pick(rnd, ("FooBar", "reset", "Reset ", "", "DataTransfer\x00",
                             "\u00c9change", "x" * 100, text(rnd, 10)))
    schema = schemas.get(action, {"type": "object", "properties": {}})
    payload = valid(rnd, schema)
    if rnd.randint(0, 2) != 0:
        payload = mutate(rnd, payload, schema)
    return [2, uid(rnd, seq), action, payload]


def reshape(rnd, msg):
    """The OCPP-J array itself broken: type id, element count, id type."""
    r = rnd.randint(0, 11)
    msg = list(msg)
    if r == 0:
        msg[0] = _pick(rnd, (0, 1, 5, 7, 99, -2, 2.0, "2", True, None, [2], 10 ** 20))
    elif r == 1:
        msg[1] = _pick(rnd, (None, 5, 5.0, [], {}, True))
    elif r == 2:
        msg = msg[:rnd.randint(0, 3)]
    elif r == 3:
        msg.append(_pick(rnd, ({}, None, "x", 1)))
    elif r == 4:
        msg[2] = _pick(rnd, (None, 5, ["Reset"], {"a": 1}, True))
    elif r == 5:
        msg[3] = _pick(rnd, ([], "{}", None, 0, [msg[3]], True))
    elif r == 6:
        msg = [3, msg[1], msg[3]] if rnd.randint(0, 1) else [4, msg[1], "GenericError", "x", {}]
    elif r == 7:
        return _pick(rnd, ({"a": msg}, "x", 2, None, [], [[]], msg[1]))
    elif r == 8:
        msg = [msg[0], msg[1]]
    return msg


def deep(rnd, seq, depth):
    k = rnd.randint(0, 2)
    head = '[2,"f%d","DataTransfer",' % seq
    vendor = '{"vendorId":"%s","data":' % _pick(rnd, ("x", "AuthorizationKey"))   # traced: redacted
    if k == 0:
        return (head + vendor + "[" * depth + "]" * depth + "}]").encode()
    if k == 1:
        return (head + vendor + '{"a":' * depth + "1" + "}" * depth + "}]").encode()
    return (head + "[" * depth + "]" * depth + "]").encode()


def frame(rnd, schemas, handled, seq):
    """One frame (bytes) a central system might send."""
    r = rnd.randint(0, 99)
    if r < 55:
        return dumps(rnd, call(rnd, schemas, handled, seq), rnd.randint(0, 4) == 0)
    if r < 67:
        return dumps(rnd, reshape(rnd, call(rnd, schemas, handled, seq)))
    if r < 72:
        return dumps(rnd, _pick(rnd, ([2, uid(rnd, seq), text(rnd, 12), value(rnd)],
                                      value(rnd), [value(rnd) for _ in range(rnd.randint(0, 5))])))
    if r < 92:
        return damage(rnd, dumps(rnd, call(rnd, schemas, handled, seq)))
    if r < 95:
        return deep(rnd, seq, _pick(rnd, (50, 500, 2000, 4000, 10000)))
    if r < 98:   # long strings and big numbers where numbers and strings go
        n = _pick(rnd, (100, 1000, 7000, 9000, 20000))
        return dumps(rnd, [2, "f%d" % seq, _pick(rnd, handled),
                           _pick(rnd, ({"vendorId": "fuzz", "data": "d" * n},
                                       {"key": ["k" * 50] * (n // 60)},
                                       {"connectorId": 10 ** (n // 10), "type": "Operative"}))])
    return dumps(rnd, [_pick(rnd, (3, 4)), uid(rnd, seq), value(rnd), value(rnd), value(rnd)][
        :rnd.randint(2, 5)])
