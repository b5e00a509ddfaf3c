# JSON in and out of the OCPP frame buffer: parsed in place on MicroPython,
# and strings that escaped UTF-16 surrogates made valid both ways. Only the
# RPC layer needs it, so it stays out of compat (every module's import).
import json
from compat import MICROPYTHON
from jsoncheck import check


def _fix_str(s):
    # MicroPython's json keeps a \\uD83D\\uDE00 escape pair as two surrogate
    # code points (invalid UTF-8 inside the str): join each pair into the one
    # character it encodes, as CPython does. Lone surrogates stay; dumps()
    # escapes them again on the way out, so an id comes back as it came.
    b = s.encode()
    if b.find(b"\xed") < 0:
        return s
    out = bytearray()
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c == 0xED and i + 5 < n and 0xA0 <= b[i + 1] <= 0xAF and b[i + 3] == 0xED \
                and 0xB0 <= b[i + 4] <= 0xBF:
            hi = ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F) | 0xD000
            lo = ((b[i + 4] & 0x3F) << 6) | (b[i + 5] & 0x3F) | 0xD000
            out += chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).encode()
            i += 6
            continue
        out.append(c)
        i += 1
    return str(out, "utf-8")


def _fix(v, depth=0):
    if isinstance(v, str):
        return _fix_str(v)
    if depth > 32:
        return v
    if isinstance(v, list):
        for i in range(len(v)):
            v[i] = _fix(v[i], depth + 1)
    elif isinstance(v, dict):
        for k in list(v.keys()):
            fk = _fix_str(k)
            val = _fix(v.pop(k), depth + 1)
            v[fk] = val
    return v


def loads(buf, n):
    """JSON from buf[:n] (a bytearray) without copying it on MicroPython;
    strings come out as valid Unicode even when the text escaped surrogates.
    ValueError when it is not JSON, on both runtimes alike."""
    # MicroPython's json.loads is lenient: text that is not JSON is refused
    # here, as CPython's json refuses it (ValueError). On CPython the check is
    # what keeps the verdicts alike: the nesting bound, NaN and Infinity.
    why = check(buf, n)
    if why is not None:
        raise ValueError(why)
    if MICROPYTHON:
        v = json.loads(memoryview(buf)[:n])
    else:
        v = json.loads(bytes(buf[:n]))
    if MICROPYTHON and (buf.find(b"\\ud", 0, n) >= 0 or buf.find(b"\\uD", 0, n) >= 0):
        v = _fix(v)
    return v


def dumps(obj):
    """JSON text that is valid UTF-8 whatever strings obj holds: surrogates a
    frame brought in (MicroPython keeps them as raw bytes) go out as \\u escapes."""
    s = json.dumps(obj)
    if MICROPYTHON:
        b = s.encode()
        i = b.find(b"\xed")
        if i >= 0:
            out = bytearray()
            j = 0
            while i >= 0:
                if i + 2 < len(b) and 0xA0 <= b[i + 1] <= 0xBF:
                    cp = 0xD000 | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F)
                    out += b[j:i]
                    out += b"\\u%04x" % cp
                    j = i + 3
                i = b.find(b"\xed", i + 1)
            out += b[j:]
            s = str(out, "utf-8")
    return s


def text(b):
    """Bytes as text for a log line, whatever they hold."""
    try:
        return bytes(b).decode()
    except Exception:
        return repr(bytes(b))
