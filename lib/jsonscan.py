# The strict JSON check of lib/jsoncheck.py as machine code: the same state
# machine, compiled by the native emitter (`@micropython.viper`) for the board's
# architecture (mpy-cross -march=armv6m on an RP2040, xtensawin on an ESP32).
# On an RP2040 the Python version takes 200 ms for an 8 KB frame, this one a few.
#
# MicroPython only: jsoncheck imports it when it can and keeps its Python
# scan otherwise (CPython, a port without a native emitter). The two are held
# to the same answers on every test frame (host_tests/test_jsoncheck.py).
#
# scan(buf, n, stack) returns -1 when buf[:n] is one JSON value, else
# (reason << 20) | offset, the reasons being jsoncheck's messages, in order:
#   1 text after the value     2 ',' or ']' expected   3 ',' or '}' expected
#   4 ':' expected             5 a string key expected 6 bad string
#   7 nested too deep          8 bad value             9 the text ends early
# stack is a bytearray of MAX_DEPTH bytes, the open containers.
import micropython

# No function here may grow past 2 KB of Thumb code: a longer jump on armv6m
# loads its offset PC-relative, which assumes the code is word-aligned, and a
# frozen image aligns native code to two bytes only (MicroPython 1.28), so the
# jump would land anywhere. test_jsoncheck.py checks the compiled code.


@micropython.viper
def _string(buf, i: int, n: int) -> int:
    # Index after the string whose quote is at i, or -1: escapes, no raw
    # control characters, UTF-8 in its shortest form, no surrogates, at most
    # U+10FFFF.
    b = ptr8(buf)
    i += 1
    while i < n:
        c = b[i]
        if c == 34:
            return i + 1
        if c == 92:
            if i + 1 >= n:
                return -1
            e = b[i + 1]
            if e == 117:
                if i + 5 >= n:
                    return -1
                k = i + 2
                while k < i + 6:
                    h = b[k]
                    if not ((48 <= h and h <= 57) or (97 <= h and h <= 102)
                            or (65 <= h and h <= 70)):
                        return -1
                    k += 1
                i += 6
            elif e == 34 or e == 92 or e == 47 or e == 98 or e == 102 \
                    or e == 110 or e == 114 or e == 116:
                i += 2
            else:
                return -1
        elif c < 32:
            return -1
        elif c < 128:
            i += 1
        else:
            i = int(_utf8(buf, i, n))
            if i < 0:
                return -1
    return -1


@micropython.viper
def _utf8(buf, i: int, n: int) -> int:
    b = ptr8(buf)
    c = b[i]
    lo = 0x80
    hi = 0xBF
    if 0xC2 <= c and c <= 0xDF:
        m = 1
    elif 0xE0 <= c and c <= 0xEF:
        m = 2
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
    elif 0xF0 <= c and c <= 0xF4:
        m = 3
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
    else:
        return -1
    if i + m >= n:
        return -1
    t = b[i + 1]
    if t < lo or t > hi:
        return -1
    k = i + 2
    while k <= i + m:
        t = b[k]
        if t < 0x80 or t > 0xBF:
            return -1
        k += 1
    return i + m + 1


@micropython.viper
def _number(buf, i: int, n: int) -> int:
    # Index after the number at i, or -1: no leading zeros, digits after a
    # point and after an exponent.
    b = ptr8(buf)
    if b[i] == 45:
        i += 1
    if i >= n:
        return -1
    if b[i] == 48:
        i += 1
    else:
        k = i
        while i < n and 48 <= b[i] and b[i] <= 57:
            i += 1
        if i == k:
            return -1
    if i < n and b[i] == 46:
        i += 1
        k = i
        while i < n and 48 <= b[i] and b[i] <= 57:
            i += 1
        if i == k:
            return -1
    if i < n and (b[i] == 101 or b[i] == 69):
        i += 1
        if i < n and (b[i] == 43 or b[i] == 45):
            i += 1
        k = i
        while i < n and 48 <= b[i] and b[i] <= 57:
            i += 1
        if i == k:
            return -1
    return i


@micropython.viper
def _literal(buf, i: int, n: int) -> int:
    b = ptr8(buf)
    c = b[i]
    if c == 116:
        if i + 4 <= n and b[i + 1] == 114 and b[i + 2] == 117 and b[i + 3] == 101:
            return i + 4
    elif c == 102:
        if i + 5 <= n and b[i + 1] == 97 and b[i + 2] == 108 and b[i + 3] == 115 \
                and b[i + 4] == 101:
            return i + 5
    elif c == 110:
        if i + 4 <= n and b[i + 1] == 117 and b[i + 2] == 108 and b[i + 3] == 108:
            return i + 4
    return -1


@micropython.viper
def scan(buf, n: int, stack) -> int:
    b = ptr8(buf)
    st = ptr8(stack)
    depth = int(len(stack))
    d = 0
    want = 0            # 0 value, 1 value or ], 2 key, 3 key or }, 4 colon, 5 after
    i = 0
    while True:
        while i < n:
            c = b[i]
            if c == 32 or c == 9 or c == 10 or c == 13:
                i += 1
            else:
                break
        if i >= n:
            break
        c = b[i]
        if want == 5:
            if d == 0:
                return (1 << 20) | i
            top = st[d - 1]
            if c == 44:
                want = 2 if top == 123 else 0
                i += 1
                continue
            if c == top + 2:
                d -= 1
                i += 1
                continue
            return ((3 if top == 123 else 2) << 20) | i
        if want == 4:
            if c != 58:
                return (4 << 20) | i
            want = 0
            i += 1
            continue
        if want == 2 or want == 3:
            if c == 125 and want == 3:
                d -= 1
                want = 5
                i += 1
                continue
            if c != 34:
                return (5 << 20) | i
            j = int(_string(buf, i, n))
            if j < 0:
                return (6 << 20) | i
            i = j
            want = 4
            continue
        if c == 93 and want == 1:
            d -= 1
            want = 5
            i += 1
            continue
        if c == 123 or c == 91:
            if d == depth:
                return (7 << 20) | i
            st[d] = c
            d += 1
            want = 3 if c == 123 else 1
            i += 1
            continue
        if c == 34:
            j = int(_string(buf, i, n))
        elif c == 45 or (48 <= c and c <= 57):
            j = int(_number(buf, i, n))
        else:
            j = int(_literal(buf, i, n))
        if j < 0:
            return (8 << 20) | i
        i = j
        want = 5
    if want != 5 or d != 0:
        return (9 << 20) | n
    return -1
