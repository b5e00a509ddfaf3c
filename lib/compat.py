# One spelling for both runtimes. Firmware code imports timing, const and the
# wall clock from here and never tests which interpreter it runs on.
import time
# asyncio is imported where a coroutine needs it, not here: the store, the
# configuration and the REPL setup use this module without an event loop, and
# on a 64 KB heap asyncio's 4 KB is worth leaving out for them.

try:
    from micropython import const
    MICROPYTHON = True
except ImportError:
    MICROPYTHON = False

    def const(x):
        return x

    class micropython:
        # What `@micropython.native` is on CPython: the function as it is. A
        # module imports this only where `import micropython` fails.
        @staticmethod
        def native(f):
            return f

if MICROPYTHON:
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add

    def sleep_ms(ms):
        import asyncio
        return asyncio.sleep_ms(ms)

    async def read_into(reader, mv):
        # Fill the whole memoryview; MicroPython streams can read in place.
        n = len(mv)
        got = 0
        while got < n:
            k = await reader.readinto(mv[got:])
            if k is None:
                # A TLS socket says None while a record is still incomplete.
                continue
            if k == 0:
                raise EOFError("connection closed")
            got += k
else:
    _T0 = time.monotonic()

    def ticks_ms():
        return int((time.monotonic() - _T0) * 1000)

    def ticks_us():
        return int((time.monotonic() - _T0) * 1000000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

    def sleep_ms(ms):
        import asyncio
        return asyncio.sleep(ms / 1000)

    async def read_into(reader, mv):
        import asyncio
        n = len(mv)
        try:
            data = await reader.readexactly(n)
        except asyncio.IncompleteReadError:
            raise EOFError("connection closed")
        mv[:n] = data


def mono_s():
    # Seconds since start, for intervals longer than the ticks wrap allows us to
    # reason about comfortably; resolution 1 ms.
    return ticks_ms() / 1000


# The wall clock is UTC seconds since 1970, kept as an offset from the monotonic
# ticks: the board's RTC epoch differs between ports, and the central system's
# currentTime (or NTP) is the authority once it is known in this boot.
#
# Until then the time is provisional: the monotonic clock of this boot from a
# base, the board's RTC at the first reading or, when later, the last wall
# time the charger kept on flash (set_floor) plus one second, so time never
# goes backwards across a power cut. A board without a battery wakes with its
# RTC at its port's epoch (2000 or 2021), which is no time to send anyone.
# When the clock becomes known, retime() turns a provisional time of this boot
# into the real one: the offset between the two clocks is the same for every
# time of this boot. A time of an earlier boot stays what it was.
_wall_base = None
_wall_ticks = 0
_prov_base = None       # the provisional time at _prov_ticks
_prov_ticks = 0
_fix = None             # (lowest, highest provisional time, offset) once known
_rtc_shift = 0
_floor = None           # the last wall time kept on flash
MAX_BACK_S = const(60)  # a currentTime further behind the clock is refused


def rtc():
    """The board's RTC, UTC seconds since 1970 (the host's clock on a PC)."""
    return int(time.time()) + _EPOCH_FIX + _rtc_shift


def set_rtc(epoch_s):
    """Set the board's RTC (the simulator: a board that lost its power)."""
    global _rtc_shift
    _rtc_shift = epoch_s - int(time.time()) - _EPOCH_FIX


def _provisional():
    global _prov_base, _prov_ticks
    if _prov_base is None:
        _prov_base = rtc()
        _prov_ticks = ticks_ms()
    return _prov_base + ticks_diff(ticks_ms(), _prov_ticks) // 1000


def set_floor(epoch_s):
    """The last wall time kept on flash: the provisional clock starts after it."""
    global _prov_base, _prov_ticks, _floor
    if epoch_s is None:
        return
    _floor = epoch_s if _floor is None else max(_floor, epoch_s)
    if _wall_base is None and epoch_s + 1 > _provisional():
        _prov_base = epoch_s + 1
        _prov_ticks = ticks_ms()


def set_wall(epoch_s, check=False):
    """The real time. check (the central system's or NTP's): refused, False,
    when it is more than MAX_BACK_S behind the last time known (this boot's
    clock, else the one kept on flash): time does not go back that far. The
    first in this boot fixes the offset retime() applies."""
    global _wall_base, _wall_ticks, _fix
    now = wall()
    last = now if _wall_base is not None else _floor
    if check and last is not None and epoch_s < last - MAX_BACK_S:
        return False
    if _wall_base is None and _prov_base is not None and not -1 <= epoch_s - now <= 1:
        # A second either way is the two clocks' rounding, not a wrong time.
        _fix = (_prov_base, now, epoch_s - now)
    _wall_base = epoch_s
    _wall_ticks = ticks_ms()
    return True


def retimed():
    """Whether times of this boot's unknown clock change once it is known."""
    return _fix is not None


def retime(epoch_s):
    """A time handed out while the clock was unknown, in this boot: the real
    time of the same instant once the clock is known; any other as it is."""
    f = _fix
    if f is None or epoch_s is None or not f[0] <= epoch_s <= f[1]:
        return epoch_s
    return epoch_s + f[2]


# 2020-01-01T00:00:00Z. A wall clock before it was never set; and times stored
# as seconds since it stay small ints (no heap object each) on 32-bit boards
# until 2054, where Unix seconds have not fit in one since 2004.
EPOCH_2020 = const(1577836800)


def wall_known():
    return _wall_base is not None


def wall():
    if _wall_base is None:
        return _provisional()
    return _wall_base + ticks_diff(ticks_ms(), _wall_ticks) // 1000


# Embedded MicroPython ports count time.time() from 2000, the unix port and
# CPython from 1970.
_EPOCH_FIX = 946684800 if time.gmtime(0)[0] == 2000 else 0


def _days_from_civil(y, m, d):
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    if m <= 2:
        y += 1
    return y, m, d


def iso(epoch_s=None):
    """UTC time as OCPP wants it: 2026-11-21T23:31:35Z."""
    if epoch_s is None:
        epoch_s = wall()
    epoch_s = int(epoch_s)
    days, rem = divmod(epoch_s, 86400)
    y, m, d = _civil_from_days(days)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, rem // 3600, rem // 60 % 60, rem % 60)


_DIM = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _digits(s, i, n):
    v = 0
    for k in range(i, i + n):
        c = s[k]
        if not "0" <= c <= "9":
            raise ValueError("not a date-time: %r" % (s,))
        v = v * 10 + ord(c) - 48
    return v


def parse_iso(s):
    """Seconds since 1970 from an RFC 3339 date-time (the JSON schema's
    date-time): YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm). Fractions are
    dropped, the offset applied. Raises ValueError on anything else."""
    if not isinstance(s, str) or len(s) < 20 or s[4] != "-" or s[7] != "-" \
            or s[10] not in "Tt" or s[13] != ":" or s[16] != ":":
        raise ValueError("not a date-time: %r" % (s,))
    y = _digits(s, 0, 4)
    mo = _digits(s, 5, 2)
    d = _digits(s, 8, 2)
    hh = _digits(s, 11, 2)
    mi = _digits(s, 14, 2)
    ss = _digits(s, 17, 2)
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= mo <= 12 and 1 <= d <= (_DIM[mo - 1] if mo != 2 or leap else 28)
            and hh < 24 and mi < 60 and ss < 61):
        raise ValueError("date-time out of range: %r" % (s,))
    i = 19
    if s[i] == ".":
        i += 1
        j = i
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        if i == j:
            raise ValueError("empty fraction in date-time: %r" % (s,))
    rest = s[i:]
    if rest in ("Z", "z"):
        off = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        oh = _digits(rest, 1, 2)
        om = _digits(rest, 4, 2)
        if oh > 23 or om > 59:
            raise ValueError("bad time zone in date-time: %r" % (s,))
        off = oh * 3600 + om * 60
        if rest[0] == "-":
            off = -off
    else:
        raise ValueError("date-time needs a time zone (Z or +hh:mm): %r" % (s,))
    return _days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - off


if MICROPYTHON:
    def utf8(s):
        return s.encode()
else:
    def utf8(s):
        # A lone surrogate from a \\uD800 escape is kept, not an error.
        return s.encode("utf-8", "surrogatepass")


def ci_key(s):
    """A case-insensitive string as it compares (OCPP's CiString, e.g. an
    idTag; errata 3.73): its UTF-8 with ASCII letters lower-cased, or None
    when it is not a non-empty string. str.lower() differs between the
    runtimes for other letters; bytes.lower() folds ASCII only on both."""
    if not isinstance(s, str) or not s:
        return None
    return utf8(s).lower()
