"""IEC 61851-1 control pilot arithmetic: pure functions, no state, no hardware.

classify(mv)      letter for the high plateau of the pilot, in millivolts as
                  seen by the EVSE: "A".."F", or "?" between the bands.
diode_ok(mv)      whether the low plateau proves the EV's diode (while PWM runs).
duty_pm(amps)     PWM duty in per mille (0.1 %) that offers `amps`; 0 = no offer.
cable_amps(ohms)  current rating of a detachable cable from its proximity
                  resistor; 0 for an open or shorted PP (no usable cable).
pp_ohms(mv, pullup_ohm, supply_mv)  PP resistance from the divider reading.

Bands (nominal +-1 V, IEC 61851-1 annex A): A 12 V, B 9 V, C 6 V, D 3 V,
E 0 V, F -12 V. Both edges of a band belong to it; a reading in the gaps (for
example 10.5 V) is "?" and the controller treats it as "not ready".
"""

A_MIN_MV = 11000
A_MAX_MV = 13000
# The edge of the -12 V band: a low plateau above this means the EV's diode is
# missing (or the pilot is loaded by a resistor to earth during the negative half).
DIODE_MAX_MV = -11000

MIN_A = 6      # below this there is no offer at all (IEC 61851-1)
MAX_A = 80     # the highest current the duty cycle can express

# (letter, low edge, high edge), millivolts; checked in order.
_BANDS = (
    ("A", 11000, 13000),
    ("B", 8000, 10000),
    ("C", 5000, 7000),
    ("D", 2000, 4000),
    ("E", -1000, 1000),
    ("F", -13000, -11000),
)


def classify(mv):
    for b in _BANDS:
        if b[1] <= mv <= b[2]:
            return b[0]
    return "?"


def diode_ok(low_mv):
    return low_mv <= DIODE_MAX_MV


def duty_pm(amps):
    """Duty in per mille: A / 0.6 % for 6..51 A, A / 2.5 + 64 % for 51..80 A.

    Rounded down so the EV never reads more than was meant; above 80 A the
    offer is 80 A (96 %), below 6 A there is none (0)."""
    if amps is None or amps < MIN_A:
        return 0
    if amps > MAX_A:
        amps = MAX_A
    if amps <= 51:
        # A / 0.6 percent = A * 50 / 3 per mille; the epsilon keeps 7.2 A at 120
        # when binary floating point lands a hair below.
        return int(amps * 50 / 3 + 1e-6)
    return int(amps * 4 + 640 + 1e-6)


def pp_ohms(mv, pullup_ohm, supply_mv):
    """The PP resistor to PE from a pull-up divider; None when open."""
    if mv is None:
        return None
    if mv >= supply_mv:
        return None
    if mv <= 0:
        return 0
    return pullup_ohm * mv // (supply_mv - mv)


# (lowest ohm, highest ohm, amps) around the nominal 100/220/680/1500 ohm of
# IEC 61851-1 table B.2; the edges sit between neighbours.
_PP = (
    (50, 150, 63),
    (150, 330, 32),
    (330, 1000, 20),
    (1000, 2700, 13),
)


def cable_amps(ohms):
    if ohms is None:
        return 0
    for lo, hi, a in _PP:
        if lo <= ohms < hi:
            return a
    return 0
