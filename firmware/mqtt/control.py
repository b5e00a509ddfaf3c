"""The command topics and the local limit they make (a source of
firmware/locallimit.py, named "mqtt"):

    <prefix>/set/current_a   amps, 0 to 80, "6", "10.5" (down to 0.1 A); "none"
                             removes the limit
    <prefix>/set/pause       true (no offer, the transaction goes on) or false
    <prefix>/set/phases      1 or 3 (the wired count): the phase contactor
                             switches (firmware/evse/phases.py)

Everything else is refused with one log line and changes nothing: a payload
that is not text, not a number, out of range or longer than 16 bytes, a
retained command (a value kept by the broker is no live setpoint), an unknown
command. Below 6 A there is no offer, as a pause (SuspendedEVSE, the
transaction goes on). Nothing is written to flash (a new limit is logged at
the debug level, which the log file leaves out by default; the first, and a
pause starting or ending, and one after a stale limit, at info), and the limiter hears only of a change of
the limit in force, so a solar controller may repeat or move its limit every
second.

A limit older than mqtt_limit_timeout_s (0: it holds until replaced) gives way
to mqtt_fallback_a, until the next one arrives: a dead solar controller does
not keep the car at its last, or full, power. The limit lives in RAM: after a
restart there is none until one arrives.
"""
import log
from compat import ticks_ms, ticks_diff

MAX_A = 80          # the most a pilot can offer
_MAX_LEN = 16
COMMANDS = ("current_a", "pause", "phases")


def _shown(b):
    # A payload in the log: printable ASCII, short, whatever it holds.
    out = ""
    for c in b[:24]:
        out += chr(c) if 32 <= c < 127 and c != 39 else "\\x%02x" % c
    return "'" + out + ("...'" if len(b) > 24 else "'")


def _tenths(s):
    """Tenths of amps in s ("16", "6.5", "10.25" -> 102), or None."""
    whole, dot, frac = s.partition(".")
    if not whole or len(whole) > 6 or (dot and not frac):
        return None
    for c in whole + frac:
        if not "0" <= c <= "9":
            return None
    return int(whole) * 10 + (ord(frac[0]) - 48 if frac else 0)


class Control:
    name = "mqtt"

    def __init__(self, cfg, limits, wired, can_switch):
        self.cfg = cfg
        self.limits = limits
        self.wired = wired
        self.can_switch = can_switch
        self.limit_a = None     # the last limit received, or None
        self.limit_t = 0        # ticks when it came
        self.paused = False
        self.phases_sel = None  # None: the wired count
        self.refused = 0

    # ---- the local limit (firmware/locallimit.py)
    def amps(self, c, t_ms):
        if self.paused:
            return 0, None
        return self.current(t_ms)

    def current(self, t_ms):
        """(the current limit at t_ms, its fallback once stale; ms until it
        goes stale or None), the pause aside."""
        a = self.limit_a
        if a is None:
            return None, None
        to = self.cfg.get("mqtt_limit_timeout_s")
        if to <= 0:
            return a, None
        left = to * 1000 - ticks_diff(t_ms, self.limit_t)
        if left <= 0:
            return self.cfg.get("mqtt_fallback_a"), None
        return a, left

    def phases(self, c):
        return self.phases_sel

    def stale(self):
        to = self.cfg.get("mqtt_limit_timeout_s")
        return self.limit_a is not None and to > 0 and \
            ticks_diff(ticks_ms(), self.limit_t) >= to * 1000

    # ---- commands
    def command(self, name, payload, retained):
        """One message on <prefix>/set/<name>; True when it changed something."""
        if name not in COMMANDS:
            return self._bad(name, "unknown command; the commands are %s" % ", ".join(COMMANDS))
        if retained:
            return self._bad(name, "a retained command is ignored (the broker kept it; it "
                                   "is no live value): publish commands without retain")
        if len(payload) > _MAX_LEN:
            return self._bad(name, "%d bytes is too long for a command" % len(payload))
        try:
            s = payload.decode().strip()
        except UnicodeError:
            return self._bad(name, "%s is not text" % _shown(payload))
        before = self.amps(0, ticks_ms())[0]
        if name == "current_a":
            ok = self._current(s, payload)
        elif name == "pause":
            ok = self._pause(s, payload)
        else:
            ok = self._phases(s, payload)
        if not ok:
            return False
        if self.amps(0, ticks_ms())[0] != before or name == "phases":
            self.limits.changed()
        return True

    def _current(self, s, raw):
        if s.lower() == "none":
            if self.limit_a is not None:
                log.info("mqtt", "current limit removed")
            self.limit_a = None
            return True
        q = _tenths(s)
        if q is None:
            return self._bad("current_a", "%s is not a number; send amps from 0 to %d, or "
                                          "none" % (_shown(raw), MAX_A))
        if q > MAX_A * 10:
            return self._bad("current_a", "%s A is out of range; send 0 to %d" % (s, MAX_A))
        a = q // 10 if q % 10 == 0 else q / 10
        old = self.limit_a
        stale = self.stale()
        if a != old or stale:
            # A solar controller moves the limit every few seconds: the log on
            # flash gets the first, one after a stale one, and the start and
            # end of a pause; the rest is debug.
            low = a < 6
            was = old is not None and old < 6
            (log.info if low != was or old is None or stale else log.debug)(
                "mqtt", "current limit %s A%s", s, " (pause: below 6 A)" if low else "")
        self.limit_a = a
        self.limit_t = ticks_ms()
        return True

    def _pause(self, s, raw):
        if s not in ("true", "false"):
            return self._bad("pause", "%s must be true or false" % _shown(raw))
        on = s == "true"
        if on != self.paused:
            log.info("mqtt", "charging %s", "paused" if on else "resumed")
        self.paused = on
        return True

    def _phases(self, s, raw):
        if s not in ("1", "2", "3"):
            return self._bad("phases", "%s must be 1 or %d" % (_shown(raw), self.wired))
        n = ord(s) - 48
        if not self.can_switch:
            return self._bad("phases", "this charger has no phase contactor (board option "
                                       "has_phase_switch): it charges on %d" % self.wired)
        if n != 1 and n != self.wired:
            return self._bad("phases", "%d must be 1 or %d (the phases wired)" % (n, self.wired))
        sel = None if n == self.wired else n
        if sel != self.phases_sel:
            log.info("mqtt", "%d phase(s) asked for", n)
        self.phases_sel = sel
        return True

    def _bad(self, name, why):
        self.refused += 1
        log.warn("mqtt", "set/%s: %s; ignored", name, why)
        return False
