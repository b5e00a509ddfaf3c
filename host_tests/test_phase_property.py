"""Property-based test of phase switching (firmware/evse/phases.py through the
controller): random orders of EV moves (plug, ready, pause, unplug, an EV that
keeps drawing after the offer stopped), requests for 1 or 3 phases, a welded
contactor and feedback fitted or not, on a fake clock at the controller's 50 Hz.
A model of the hardware checks, at every step:

- the phase contactor moves only while the contactor is open, physically
  (a welded one counts as closed), and has been for SETTLE_MS;
- while a switch is due or SWITCH_MS after it, there is no offer and the
  contactor does not close;
and at the end, with a healthy contactor, the phases in use are the last ones
asked for."""
import os
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (_ROOT, os.path.join(_ROOT, "lib"), os.path.join(_ROOT, "host_tests", "fake_machine")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import log  # noqa: E402
from fakeport import FakePort, LEVEL  # noqa: E402
from firmware.evse.controller import Controller, PERIOD_MS  # noqa: E402
from firmware.evse.phases import SETTLE_MS, SWITCH_MS  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def quiet():
    # Thousands of controller steps log nothing worth reading; the level is
    # put back for the tests that read the log.
    lvl = log.level
    log.level = log.ERROR + 1
    yield
    log.level = lvl


class PhasePort(FakePort):
    """The hardware: an EV that shows C only while offered 6 A or more (unless
    stubborn), the board's safety path, a phase contactor that counts."""
    has_phase_switch = True

    def __init__(self, fb, react_ms=0):
        FakePort.__init__(self, feedback="follow" if fb else None)
        self.react_ms = react_ms    # how long the EV keeps C once the offer is gone
        self.gone = None            # since when there is no offer
        self.phase_on = False
        self.plugged = False
        self.wants_c = False
        self.stubborn = False       # keeps C (and draws) without an offer
        self.now = 0
        self.open_since = 0         # physically open since
        self.phase_moves = []       # (time, on)

    def closed(self):
        return self.cmd or self.fb_mode == "welded"

    def settle(self):
        # The EV's answer to the pilot, and the board's own safety path.
        offered = self.out == "pwm" and self.duty >= 100
        if offered:
            self.gone = None
        elif self.gone is None:
            self.gone = self.now
        late = self.gone is not None and self.now - self.gone < self.react_ms \
            and self.hi == LEVEL["C"]
        if not self.plugged:
            letter = "A"
        elif self.wants_c and (self.stubborn or offered or late):
            letter = "C"
        else:
            letter = "B"
        self.pilot(letter)
        if self.cmd and letter != "C":
            self.trip_now("pilot")
        if self.closed():
            self.open_since = None
        elif self.open_since is None:
            self.open_since = self.now

    def contactor(self, closed, vent=False):
        FakePort.contactor(self, closed, vent)
        self.settle()

    def phase_switch(self, on):
        assert not self.closed(), "phase contactor switched under load at %d ms" % self.now
        assert self.open_since is not None and self.now - self.open_since >= SETTLE_MS, \
            "phase contactor switched %s ms after the contactor opened" % (
                None if self.open_since is None else self.now - self.open_since)
        self.phase_moves.append((self.now, bool(on)))
        self.phase_on = bool(on)


ACTIONS = st.sampled_from(["plug", "ready", "pause", "unplug", "ask1", "ask3", "ask1", "ask3",
                           "stubborn", "polite", "weld", "unweld", "wait"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fb=st.booleans(), react=st.sampled_from([0, 200, 2500, 8000]),
       script=st.lists(st.tuples(ACTIONS, st.integers(1, 120)), min_size=1, max_size=30))
def test_never_switched_under_load(fb, react, script):
    p = PhasePort(fb, react)
    ctl = Controller(p, {"max_current_a": 16, "free_vend": True, "phases": 3})
    asked = 3
    welded = False
    t = 1000
    p.now = t
    p.settle()
    for action, steps in script:
        if action == "plug":
            p.plugged = True
        elif action == "ready":
            p.wants_c = True
        elif action == "pause":
            p.wants_c = False
        elif action == "unplug":
            p.plugged = p.wants_c = False
        elif action in ("ask1", "ask3"):
            asked = 1 if action == "ask1" else 3
            assert ctl.set_phases(asked)
        elif action == "stubborn":
            p.stubborn = True
        elif action == "polite":
            p.stubborn = False
        elif action == "weld":
            p.fb_mode = "welded" if fb else p.fb_mode
            welded = fb
        elif action == "unweld" and fb:
            p.fb_mode = "follow"
            welded = False
        for _ in range(steps):
            t += PERIOD_MS
            p.now = t
            p.settle()
            was_closed = p.cmd
            ctl.step(t)
            p.settle()
            last = p.phase_moves[-1][0] if p.phase_moves else None
            busy = ctl.phases != asked or (last is not None and t - last < SWITCH_MS)
            if busy:
                assert ctl.offered_a == 0 and p.out != "pwm", (t, ctl.offered_a, p.out)
                assert was_closed or not p.cmd, "the contactor closed during a phase switch"
    # Settle: a healthy contactor ends on the phases asked for last, with the
    # phase contactor in the matching position.
    p.stubborn = False
    if welded:
        p.fb_mode = "follow"
    for _ in range((SETTLE_MS + SWITCH_MS + 8000) // PERIOD_MS):
        t += PERIOD_MS
        p.now = t
        p.settle()
        ctl.step(t)
        p.settle()
    assert ctl.phases == asked and p.phase_on == (asked == 3), (ctl.phases, asked, p.phase_on)


def test_switch_sequence_timing_while_charging():
    """The sequence a car sees, step by step, with the times it takes: this EV
    leaves C 1.5 s after the offer stopped."""
    p = PhasePort(True, 1500)
    ctl = Controller(p, {"max_current_a": 16, "free_vend": True, "phases": 3})
    t = 1000
    p.now = t
    p.plugged = p.wants_c = True
    events = []

    def run(ms):
        nonlocal t
        for _ in range(ms // PERIOD_MS):
            was = (ctl.offered_a, p.cmd, ctl.phases)
            t += PERIOD_MS
            p.now = t
            p.settle()
            ctl.step(t)
            p.settle()
            now = (ctl.offered_a, p.cmd, ctl.phases)
            if now != was:
                events.append((t, now))
    run(SETTLE_MS + 2000)       # the first switch, to 3 phases, before any offer
    assert ctl.phases == 3 and p.cmd and ctl.offered_a == 16, events
    assert p.phase_moves and p.phase_moves[0][1] is True
    t0 = t
    del events[:]
    ctl.set_phases(1)
    run(SETTLE_MS + 4000)
    assert len(events) >= 5, events
    (t_stop, s1), (t_open, s2) = events[0], events[1]
    assert s1 == (0, True, 3) and t_stop - t0 <= PERIOD_MS       # the offer stops at once
    # The EV leaves C after its 1.5 s, and the contactor opens with it.
    assert s2 == (0, False, 3) and 1500 <= t_open - t_stop <= 1500 + 2 * PERIOD_MS
    t_sw, s3 = events[2]
    assert s3 == (0, False, 1) and t_sw - t_open >= SETTLE_MS      # switched after settling
    t_offer, s4 = events[3]
    assert s4[0] == 16 and s4[2] == 1 and SWITCH_MS <= t_offer - t_sw <= SWITCH_MS + PERIOD_MS
    assert p.cmd and ctl.phases == 1, events


def test_without_a_phase_contactor_the_count_stays():
    p = FakePort()
    ctl = Controller(p, {"phases": 3})
    assert not ctl.can_switch and ctl.phases == 3
    assert ctl.set_phases(1) is False and ctl.phases == 3
    assert LEVEL["C"] == 6000
