"""Switching one connector between one and three phases, with the board's phase
contactor (the option has_phase_switch, boards/README.md: a second contactor on
L2 and L3, energised for three phases). Never under load, in the order an EV
accepts, stepped by the controller (firmware/evse/controller.py), which offers
nothing while step() says so:

1. another count is asked for (ask): the offer stops, the pilot goes to a
   constant +12 V (B1/C1);
2. the EV stops drawing and the contactor opens: the EV leaves C and the
   board's safety path opens it, or the controller opens it NO_OFFER_MS
   later; with a feedback contact fitted it must read open as well;
3. it stays open SETTLE_MS (counted from when it opened: a contactor open for
   longer already counts), so the EV's charger has wound down;
4. the phase contactor switches;
5. SWITCH_MS later, its contacts at rest, the offer comes back.

The phase contactor is de-energised (one phase) when the board starts: the
first step() sequence brings it to the count asked for before any offer.
Asking again for the count in use before the switch ends the sequence.
"""
import log
from compat import ticks_diff

SETTLE_MS = 5000    # contactor open before the phase contactor may move
SWITCH_MS = 500     # the phase contactor's own operate and bounce time, with margin


class PhaseSwitch:
    def __init__(self, port, wired, tag):
        self.port = port
        self.wired = wired
        self.tag = tag
        self.n = 1              # in use: the phase contactor starts de-energised
        self.want = wired
        self.switches = 0
        self._open_t = None     # ticks since the contactor reads open
        self._sw_t = None       # ticks of the last switch

    def ask(self, n):
        """Charge on n phases from now on (1 or the wired count); False when
        this connector cannot."""
        if n != 1 and n != self.wired:
            return False
        if n != self.want:
            log.info(self.tag, "%d phase(s) asked for; switching when the contactor is "
                     "open", n)
        self.want = n
        return True

    @property
    def busy(self):
        return self.want != self.n or self._sw_t is not None

    def step(self, now, closed, feedback):
        """True while the offer must stay off. closed: the contactor's command;
        feedback: its auxiliary contact (True closed, None not fitted)."""
        if not closed and feedback is not True:
            if self._open_t is None:
                self._open_t = now
        else:
            self._open_t = None
        if self._sw_t is not None:
            if ticks_diff(now, self._sw_t) < SWITCH_MS:
                return True
            self._sw_t = None
        if self.want == self.n:
            return False
        if self._open_t is not None and ticks_diff(now, self._open_t) >= SETTLE_MS:
            self.port.phase_switch(self.want > 1)
            log.info(self.tag, "phase contactor: %d -> %d phase(s)", self.n, self.want)
            self.n = self.want
            self.switches += 1
            self._sw_t = now
        return True
