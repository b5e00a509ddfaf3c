"""firmware/evse/pilot.py: IEC 61851-1 pilot bands, the duty formula and the
proximity-pilot cable rating, at every boundary, on both runtimes."""
import json
import os
import subprocess
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (_ROOT, os.path.join(_ROOT, "lib"), os.path.join(_ROOT, "boards", "sim")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from firmware.evse import pilot  # noqa: E402
import ev as sim_ev  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")

# (millivolts on the high plateau, letter)
CLASSIFY = [
    (13001, "?"), (13000, "A"), (12000, "A"), (11000, "A"), (10999, "?"),
    (10500, "?"), (10001, "?"), (10000, "B"), (9000, "B"), (8000, "B"),
    (7999, "?"), (7001, "?"), (7000, "C"), (6000, "C"), (5000, "C"),
    (4999, "?"), (4001, "?"), (4000, "D"), (3000, "D"), (2000, "D"),
    (1999, "?"), (1001, "?"), (1000, "E"), (0, "E"), (-1000, "E"),
    (-1001, "?"), (-10999, "?"), (-11000, "F"), (-12000, "F"), (-13000, "F"),
    (-13001, "?"),
]

# (amps, per mille duty)
DUTY = [
    (None, 0), (0, 0), (5, 0), (5.99, 0), (6, 100), (6.06, 101), (7.2, 120),
    (10, 166), (13, 216), (16, 266), (20, 333), (25, 416), (32, 533),
    (40, 666), (50.99, 849), (51, 850), (51.01, 844), (52, 848), (52.5, 850),
    (63, 892), (70, 920), (79.99, 959), (80, 960), (80.01, 960), (100, 960),
]

# (ohms, amps)
CABLE = [
    (None, 0), (0, 0), (49, 0), (50, 63), (100, 63), (149, 63), (150, 32),
    (220, 32), (329, 32), (330, 20), (680, 20), (999, 20), (1000, 13),
    (1500, 13), (2699, 13), (2700, 0), (100000, 0),
]


@pytest.mark.parametrize("mv,letter", CLASSIFY)
def test_classify_bands_and_gaps(mv, letter):
    assert pilot.classify(mv) == letter


@pytest.mark.parametrize("mv,ok", [(-13500, True), (-12000, True), (-11000, True),
                                   (-10999, False), (-8790, False), (0, False)])
def test_diode_needs_the_low_plateau_at_minus_12_volts(mv, ok):
    assert pilot.diode_ok(mv) is ok


@pytest.mark.parametrize("amps,duty", DUTY)
def test_duty_formula(amps, duty):
    assert pilot.duty_pm(amps) == duty


def test_duty_never_offers_more_than_asked():
    # An EV that decodes the duty by the standard must never read more than
    # the limit and, outside the seam of the two formulas (51 to 52.75 A,
    # where A / 2.5 + 64 rounds down to 85 % or less), not much less.
    a = 6.0
    while a <= 80:
        got = sim_ev.amps_from_duty(pilot.duty_pm(a))
        assert got <= a + 1e-9, (a, got)
        assert a - got < (1.8 if 51 < a < 52.75 else 0.3), (a, got)
        a = round(a + 0.1, 1)


@pytest.mark.parametrize("ohms,amps", CABLE)
def test_cable_rating_from_pp_resistor(ohms, amps):
    assert pilot.cable_amps(ohms) == amps


@pytest.mark.parametrize("mv,ohms", [(None, None), (3300, None), (3400, None),
                                     (0, 0), (1650, 1000), (300, 100)])
def test_pp_divider(mv, ohms):
    assert pilot.pp_ohms(mv, 1000, 3300) == ohms


def test_same_tables_under_micropython(tmp_path):
    script = tmp_path / "tables.py"
    script.write_text(
        "import json\n"
        "from firmware.evse import pilot\n"
        "c = json.loads(%r)\nd = json.loads(%r)\np = json.loads(%r)\n"
        "print(json.dumps([[pilot.classify(m) for m, _ in c],"
        " [pilot.duty_pm(a) for a, _ in d], [pilot.cable_amps(o) for o, _ in p]]))\n"
        % (json.dumps(CLASSIFY), json.dumps(DUTY), json.dumps(CABLE)))
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", _ROOT, os.path.join(_ROOT, "lib")])
    out = subprocess.run([MICROPYTHON, str(script)], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == [[x for _, x in CLASSIFY], [x for _, x in DUTY], [x for _, x in CABLE]]
