# JSON in and out of the OCPP frame buffer: parsed in place on MicroPython,
# and strings that escaped UTF-16 surrogates made valid both ways. Only the
# RPC layer needs it, so it stays out of compat (every module's import).
import json
from compat import MICROPYTHON
from jsoncheck import check, MAX_DEPTH


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
    ValueError when it is not JSON, the same on both runtimes: strict RFC 8259
    in UTF-8, at most MAX_DEPTH arrays and objects deep (lib/jsoncheck.py)."""
    strict(buf, n)
    return parse(buf, n)


def strict(buf, n):
    """ValueError unless buf[:n] is strict JSON, where the parser is lenient
    (MicroPython): loads() in two steps, for a caller that lets the event loop
    run between them."""
    if MICROPYTHON:
        why = check(buf, n)
        if why is not None:
            raise ValueError(why)


def parse(buf, n):
    """loads() after strict(buf, n) passed."""
    if MICROPYTHON:
        v = json.loads(memoryview(buf)[:n])
        if buf.find(b"\\ud", 0, n) >= 0 or buf.find(b"\\uD", 0, n) >= 0:
            v = _fix(v)
        return v
    # CPython's json is strict already, once held to UTF-8 (bytes would let it
    # take UTF-16 and a byte order mark) and refusing NaN and Infinity; only
    # the depth is left to count, on the parsed value, which is cheaper.
    try:
        v = json.loads(bytes(buf[:n]).decode("utf-8"), parse_constant=_refuse)
    except RecursionError:
        raise ValueError("nested deeper than %d levels" % MAX_DEPTH)
    if _deeper(v, MAX_DEPTH):
        raise ValueError("nested deeper than %d levels" % MAX_DEPTH)
    return v


def _refuse(name):
    raise ValueError("%s is not JSON" % name)


def _deeper(v, most):
    todo = [(v, 1)]
    while todo:
        x, d = todo.pop()
        if isinstance(x, dict):
            x = x.values()
        elif not isinstance(x, list):
            continue
        if d > most:
            return True
        for y in x:
            if isinstance(y, (list, dict)):
                todo.append((y, d + 1))
    return False


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


class Lazy:
    """A JSON array written item by item: items() returns a fresh iterator of
    them each time it is called (pieces() walks it twice, to count, then to
    send). A big answer, GetConfiguration's keys, then never exists whole in RAM."""

    def __init__(self, items):
        self.items = items


def pieces(obj, depth=0):
    """obj's JSON text (what dumps() gives) as a series of small bytes: the
    brackets, commas and keys of its two outer levels and of every Lazy array,
    and each value below those whole. A message goes out this way without its
    text ever existing in one piece: a 4 KB string, and the copies json.dumps
    makes while it grows, are blocks a fragmented heap cannot give."""
    if isinstance(obj, Lazy):
        it = obj.items()
    elif depth < 2 and isinstance(obj, (list, tuple)):
        it = obj
    elif depth < 2 and isinstance(obj, dict):
        yield b"{"
        first = True
        for k in obj:
            yield (b'"' if first else b', "')
            yield dumps(k).encode()[1:]
            yield b": "
            for p in pieces(obj[k], depth + 1):
                yield p
            first = False
        yield b"}"
        return
    else:
        yield dumps(obj).encode()
        return
    yield b"["
    first = True
    for x in it:
        if not first:
            yield b", "
        for p in pieces(x, depth + 1):
            yield p
        first = False
    yield b"]"


def text(b):
    """Bytes as text for a log line, whatever they hold."""
    try:
        return bytes(b).decode()
    except Exception:
        return repr(bytes(b))
