"""lib/der.py, lib/pem.py, lib/dn.py: round trips, the strict reading DER
requires (each defect one ValueError that names it), UTCTime/GeneralizedTime,
PEM armour, distinguished names; the cases run on both runtimes, the
properties on CPython."""
import base64
import os
import sys

import pytest
from hypothesis import given, settings, strategies as st

from mprun import must_pass, RUNTIMES

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "lib"))
import der  # noqa: E402
import pem  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "crypto_der_check.py")
MUST = ["integer_round_trip", "long_length", "oid_1.2.840.10045.2.1", "utctime_1950",
        "utctime_2049", "generalized_2050", "time_no_leap_2023", "indefinite",
        "non_minimal_length", "int_leading_zero", "pem_round_trip", "pem_two_blocks",
        "pem_not_base64", "pem_no_end", "dn_round_trip", "dn_country_code"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_der_and_pem_cases(runtime):
    must_pass(runtime, SCRIPT, "", MUST, 50)


def walk(buf, s, e, depth=0):
    # Every element, recursing into constructed ones, as a reader would.
    for t, vs, ve, _ in der.items(buf, s, e):
        if t & 0x20 and depth < 20:
            walk(buf, vs, ve, depth + 1)
        elif t == der.INTEGER:
            der.uint(buf, vs, ve)
        elif t in (der.UTC_TIME, der.GENERALIZED_TIME):
            der.time(buf, t, vs, ve)
        elif t in (der.UTF8_STRING, der.PRINTABLE_STRING, der.BMP_STRING):
            der.text(buf, t, vs, ve)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_read_or_value_error(b):
    try:
        walk(b, 0, len(b))
    except ValueError as e:
        assert str(e).startswith("DER: "), e


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2 ** 4100))
def test_integer_matches_python(v):
    b = der.integer(v)
    s, e = der.expect(b, 0, len(b), der.INTEGER, "n")
    assert der.uint(b, s, e) == v
    # The shortest two's complement form, as DER wants.
    n = (v.bit_length() + 8) // 8
    assert b[s:e] == v.to_bytes(n, "big")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2 ** 40), min_size=1, max_size=8), st.integers(0, 2),
       st.integers(0, 39))
def test_oid_round_trip(arcs, first, second):
    dotted = ".".join(str(a) for a in [first, second if first < 2 else second + 40] + arcs)
    o = der.oid(dotted)
    assert der.oid_str(o, 2, len(o)) == dotted


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=3000))
def test_pem_matches_base64(b):
    text = pem.encode(b, "X")
    body = "".join(text.splitlines()[1:-1])
    assert base64.b64decode(body) == b
    assert pem.decode(text, "X") == [b]
