# A strict JSON syntax check (RFC 8259) of buf[:n], for MicroPython: its
# json.loads takes text that is not JSON (missing or extra commas and colons,
# leading zeros, "1.", non-string keys, unknown escapes, raw control characters,
# invalid or overlong UTF-8) and would have such a frame executed where OCPP-J
# asks for a FormationViolation. CPython's json is strict already.
#
# It also bounds the nesting at MAX_DEPTH arrays and objects: no OCPP message
# needs more than about six, and without a bound how deep a frame may go would
# depend on the free heap (MicroPython) or the recursion limit (CPython).
#
# One pass over the bytes, no recursion: the open containers are a bytearray
# of b"[" / b"{", one byte per level.
#
# On MicroPython the pass is lib/jsonscan.py, the same state machine compiled
# to machine code (40 times faster on an RP2040); this Python version stays
# for CPython and ports without a native emitter, and as the reference the
# tests hold the other to.
MAX_DEPTH = 32
try:
    from jsonscan import scan as _scan
except Exception:       # no micropython module, no native emitter, another arch
    _scan = None
fast = _scan is not None
_STACK = bytearray(MAX_DEPTH)
_WHY = ("text after the JSON value at byte %d", "',' or ']' expected at byte %d",
        "',' or '}' expected at byte %d", "':' expected at byte %d",
        "a string key expected at byte %d", "bad string at byte %d", None,
        "bad value at byte %d", "the JSON text ends early (%d bytes)")
_WS = b" \t\n\r"
_ESC = b'"\\/bfnrtu'
_HEX = b"0123456789abcdefABCDEF"

# What may come next.
_VALUE = 0          # a value
_VALUE_END = 1      # a value, or "]" of an empty array
_KEY = 2            # a key string
_KEY_END = 3        # a key string, or "}" of an empty object
_COLON = 4
_AFTER = 5          # "," or the closing bracket, or the end after the top value


def _string(b, i, n):
    """Index after the string whose opening quote is at i, or -1 when it is
    not a JSON string of valid UTF-8."""
    i += 1
    while i < n:
        c = b[i]
        if c == 34:                 # "
            return i + 1
        if c == 92:                 # backslash
            if i + 1 >= n or b[i + 1] not in _ESC:
                return -1
            if b[i + 1] == 117:     # \uXXXX
                if i + 5 >= n:
                    return -1
                for k in range(i + 2, i + 6):
                    if b[k] not in _HEX:
                        return -1
                i += 6
            else:
                i += 2
        elif c < 32:
            return -1
        elif c < 128:
            i += 1
        else:
            i = _utf8(b, i, n)
            if i < 0:
                return -1
    return -1


def _utf8(b, i, n):
    # One multi-byte character, shortest form, no surrogates, at most U+10FFFF.
    c = b[i]
    if 0xC2 <= c <= 0xDF:
        k, lo, hi = 1, 0x80, 0xBF
    elif 0xE0 <= c <= 0xEF:
        k = 2
        lo, hi = (0xA0, 0xBF) if c == 0xE0 else (0x80, 0x9F) if c == 0xED else (0x80, 0xBF)
    elif 0xF0 <= c <= 0xF4:
        k = 3
        lo, hi = (0x90, 0xBF) if c == 0xF0 else (0x80, 0x8F) if c == 0xF4 else (0x80, 0xBF)
    else:
        return -1
    if i + k >= n or not lo <= b[i + 1] <= hi:
        return -1
    for j in range(i + 2, i + k + 1):
        if not 0x80 <= b[j] <= 0xBF:
            return -1
    return i + k + 1


def _digits(b, i, n):
    j = i
    while j < n and 48 <= b[j] <= 57:
        j += 1
    return j


def _number(b, i, n):
    """Index after the number at i, or -1."""
    if b[i] == 45:                  # -
        i += 1
    if i >= n:
        return -1
    if b[i] == 48:                  # a lone 0: no leading zeros
        i += 1
    else:
        j = _digits(b, i, n)
        if j == i:
            return -1
        i = j
    if i < n and b[i] == 46:        # .
        j = _digits(b, i + 1, n)
        if j == i + 1:
            return -1
        i = j
    if i < n and (b[i] == 101 or b[i] == 69):   # e E
        i += 1
        if i < n and (b[i] == 43 or b[i] == 45):
            i += 1
        j = _digits(b, i, n)
        if j == i:
            return -1
        i = j
    return i


def check(buf, n):
    """None when buf[:n] is one JSON value, else why not (with the offset)."""
    if _scan is None:
        return check_py(buf, n)
    r = _scan(buf, n, _STACK)
    if r < 0:
        return None
    why, at = r >> 20, r & 0xFFFFF
    if why == 7:
        return "nested deeper than %d levels at byte %d" % (MAX_DEPTH, at)
    return _WHY[why - 1] % at


def check_py(buf, n):
    """check() in Python: the reference, and the scan where no native code runs."""
    b = buf
    stack = bytearray(MAX_DEPTH)
    d = 0                           # open containers
    want = _VALUE
    i = 0
    while True:
        while i < n and b[i] in _WS:
            i += 1
        if i >= n:
            break
        c = b[i]
        if want == _AFTER:
            if not d:
                return "text after the JSON value at byte %d" % i
            top = stack[d - 1]
            if c == 44:             # ,
                want = _KEY if top == 123 else _VALUE
                i += 1
                continue
            if c == top + 2:        # ] after [, } after {
                d -= 1
                i += 1
                continue
            return "',' or '%s' expected at byte %d" % (chr(top + 2), i)
        if want == _COLON:
            if c != 58:
                return "':' expected at byte %d" % i
            want = _VALUE
            i += 1
            continue
        if want == _KEY or want == _KEY_END:
            if c == 125 and want == _KEY_END:
                d -= 1
                want = _AFTER
                i += 1
                continue
            if c != 34:
                return "a string key expected at byte %d" % i
            j = _string(b, i, n)
            if j < 0:
                return "bad string at byte %d" % i
            i = j
            want = _COLON
            continue
        # A value.
        if c == 93 and want == _VALUE_END:
            d -= 1
            want = _AFTER
            i += 1
            continue
        if c == 123 or c == 91:     # { [
            if d == MAX_DEPTH:
                return "nested deeper than %d levels at byte %d" % (MAX_DEPTH, i)
            stack[d] = c
            d += 1
            want = _KEY_END if c == 123 else _VALUE_END
            i += 1
            continue
        if c == 34:
            j = _string(b, i, n)
        elif c == 45 or 48 <= c <= 57:
            j = _number(b, i, n)
        elif c == 116:
            j = i + 4 if b[i:i + 4] == b"true" else -1
        elif c == 102:
            j = i + 5 if b[i:i + 5] == b"false" else -1
        elif c == 110:
            j = i + 4 if b[i:i + 4] == b"null" else -1
        else:
            j = -1
        if j < 0:
            return "bad value at byte %d" % i
        i = j
        want = _AFTER
    if want != _AFTER or d:
        return "the JSON text ends early (%d bytes)" % n
    return None
