"""The fuzz corpus (host_tests/fuzz_corpus/, one case per file: frame or
stream, what must come back) replayed on MicroPython and CPython through
host_tests/mp/fuzz_replay.py; and a fresh batch of generated frames, judged
here by tools/fuzz.py, replayed on MicroPython. A case with a "bug" field is
a reported bug: it is an expected failure until someone fixes it."""
import json
import os
import random
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import fuzz  # noqa: E402
import schemas  # noqa: E402
from mprun import RUNTIMES, run  # noqa: E402

REPLAY = os.path.join(ROOT, "host_tests", "mp", "fuzz_replay.py")
NAMES = sorted(f[:-5] for f in os.listdir(fuzz.CORPUS) if f.endswith(".json"))
_runs = {}


def load(name):
    with open(os.path.join(fuzz.CORPUS, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def replay(runtime, tmp_path_factory):
    if runtime not in _runs:
        data = str(tmp_path_factory.mktemp("corpus-" + runtime))
        rc, out = run(runtime, REPLAY, fuzz.CORPUS, data, timeout=120)
        assert "DONE %d" % len(NAMES) in out, out[-3000:]
        res = {}
        for line in out.splitlines():
            word, _, rest = line.partition(" ")
            if word in ("PASS", "FAIL", "XFAIL"):
                name = rest.split(" ", 1)[0].rstrip(":")
                res[name] = (word, rest)
            elif word == "REPLY":
                name, action, payload = rest.split(" ", 2)
                res[name + "/reply"] = (action, json.loads(payload))
        _runs[runtime] = res
    return _runs[runtime]


def test_corpus_has_the_seed_cases():
    kinds = [load(n)["kind"] for n in NAMES]
    assert kinds.count("rpc") >= 80 and kinds.count("ws") >= 25
    for must in ("deep-10000-too-large", "float-1e400-integer-field", "huge-int-5000-digits",
                 "nan-integer-field", "invalid-utf8", "bom", "duplicate-keys-last-valid", "id-37"):
        assert must in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_case_agrees_with_the_oracle(name):
    # A case may allow more than the oracle (one runtime's parser differs:
    # runtime_note says which), never less, and must quote the same id.
    case = load(name)
    if case["kind"] == "ws":
        assert fuzz_stream(case)
        return
    frame = fuzz.case_frame(case)
    e = fuzz.expect(frame, case.get("total"), case.get("bufsize", fuzz.BUFSIZE), fuzz.Ctx(n=2))
    assert e.codes <= set(case["expect"]), (e, case["expect"])
    assert set(case["expect"]) == e.codes or case.get("runtime_note"), (e, case["expect"])
    assert case.get("id") == e.uid


def fuzz_stream(case):
    if "stream_hex" in case:
        return bytes.fromhex(case["stream_hex"])
    return b"".join(bytes.fromhex(h) * k for h, k in case["stream"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_corpus_case(runtime, name, tmp_path_factory):
    res = replay(runtime, tmp_path_factory)
    word, rest = res[name]
    case = load(name)
    if word == "XFAIL":
        # Still failing, and as the bug it is filed for, not some other way.
        bug = case["bug"].split(":")[0]
        verdict, why = rest.split(" ", 2)[1].strip("[]:"), rest.split(": ", 1)[1]
        frame = fuzz.case_frame(case)
        e = fuzz.expect(frame, case.get("total"), case.get("bufsize", fuzz.BUFSIZE), fuzz.Ctx(n=2))
        seen = fuzz.known_bug(frame, e, verdict, why, runtime, why)
        assert seen == bug, "fails as %s, not as its bug %s: %s" % (seen, bug, rest)
        pytest.xfail("%s -- %s" % (bug, rest))
    assert word == "PASS", rest
    if name + "/reply" in res:
        action, payload = res[name + "/reply"]
        schemas.validate(action, payload, response=True)


def test_generated_batch_on_micropython(tmp_path):
    # Frames made here, judged by the official schemas here, answered by the
    # charge point running on MicroPython.
    rnd = random.Random(2024)
    ctx = fuzz.Ctx(n=2)
    frames, batch = [], tmp_path / "batch.jsonl"
    with open(batch, "w", encoding="utf-8") as f:
        for i in range(500):
            fr = fuzz.fuzz_gen.frame(rnd, fuzz.SCHEMAS, fuzz.HANDLED, i)
            e = fuzz.expect(fr, ctx=ctx)
            frames.append((fr, e))
            # Raw UTF-8, no \\u escapes: MicroPython's json would read an escaped
            # emoji in the expected id as surrogates (the mp-json-surrogates bug).
            try:
                line = json.dumps({"kind": "rpc", "frame_hex": fr.hex(), "expect": sorted(e.codes),
                                   "id": e.uid, "action": e.action}, ensure_ascii=False)
                line.encode("utf-8")
            except UnicodeEncodeError:   # a lone surrogate in the id
                line = json.dumps({"kind": "rpc", "frame_hex": fr.hex(), "expect": sorted(e.codes),
                                   "id": e.uid, "action": e.action})
            f.write(line + "\n")
    rc, out = run("micropython", REPLAY, str(batch), str(tmp_path / "data"), timeout=120)
    assert "DONE 500" in out, out[-3000:]
    bad, known = [], {}
    for line in out.splitlines():
        if line.startswith("REPLY "):
            _, name, action, payload = line.split(" ", 3)
            schemas.validate(action, json.loads(payload), response=True)
        if not line.startswith("FAIL "):
            continue
        name, verdict = line.split()[1], line.split()[2].strip("[]:")
        why = line.split(": ", 1)[1]
        fr, e = frames[int(name[1:])]
        bug = fuzz.known_bug(fr, e, verdict, why, "micropython", why)
        if bug:
            known[bug] = known.get(bug, 0) + 1
        else:
            bad.append("%s <- %r" % (line, fr[:200]))
    assert not bad, "\n".join(bad[:10])
    assert out.count("PASS ") > 400, known
