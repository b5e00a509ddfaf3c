"""Property-based fuzzing of inbound OCPP-J frames, in this process: the real
charge point (sim board, temporary flash) gets hypothesis-made frames through
Rpc.on_frame, and tools/fuzz.py judges each answer against the official
schemas. Known, reported bugs (KNOWN_BUGS in tools/fuzz_expect.py) are tolerated here;
their reproducers sit in host_tests/fuzz_corpus/ as expected failures."""
import json
import os
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import fuzz  # noqa: E402



def fast(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def cp():
    r = fuzz.InProcess()
    yield r
    r.close()


def ok(r, frame):
    res = r.check(frame)
    assert res is None or res[1] is not None, "%s\nframe: %r" % (res[0], frame[:400])


# ---- the oracle itself: what OCPP-J 1.6 names for each kind of fault
ORACLE = [
    (b'[2,"a","Reset",{"type":"Soft"}]', {"result"}),
    (b'[2,"a","Reset",{"type":"Later"}]', {"PropertyConstraintViolation"}),
    (b'[2,"a","Reset",{}]', {"OccurenceConstraintViolation"}),
    (b'[2,"a","Reset",{"type":1}]', {"TypeConstraintViolation"}),
    (b'[2,"a","Reset",{"type":"Soft","x":1}]', {"FormationViolation"}),
    (b'[2,"a","Reset",[]]', {"FormationViolation"}),
    (b'[2,"a","Reset"]', {"ProtocolError"}),
    (b'[9,"a","Reset",{}]', {"ProtocolError"}),
    (b'[2,"a","Nope",{}]', {"NotImplemented"}),
    (b'[2,"a","ExtendedTriggerMessage",{}]', {"OccurenceConstraintViolation"}),
    (b'[2,"a","Reset",{"type":"So', {"FormationViolation"}),
    (b'[3,"a",{}]', {"none"}),
    (b'garbage', {"none", "FormationViolation"}),
    (b'[2,"a","ChangeAvailability",{"connectorId":7,"type":"Operative"}]',
     {"result", "PropertyConstraintViolation"}),
    (b'[2,"a","ChangeConfiguration",{"key":"' + b"k" * 51 + b'","value":""}]',
     {"PropertyConstraintViolation"}),
]


@pytest.mark.parametrize("frame,codes", ORACLE)
def test_oracle_names_the_ocpp_j_error_codes(frame, codes):
    assert set(fuzz.expect(frame, ctx=fuzz.Ctx(n=2)).codes) == codes


def test_oracle_quotes_the_id_of_a_message_too_large():
    big = b'[2,"id7","DataTransfer",{"vendorId":"x","data":"' + b"d" * 9000 + b'"}]'
    e = fuzz.expect(big)
    assert e.codes == {"FormationViolation"} and e.uid == "id7"


def test_oracle_reads_multipleof_in_decimal():
    prof = ('[2,"a","RemoteStartTransaction",{"idTag":"t","chargingProfile":{"chargingProfileId":1,'
            '"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Relative",'
            '"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":'
            '[{"startPeriod":0,"limit":%s}]}}}]')
    assert fuzz.expect((prof % "21.4").encode()).codes == {"result"}
    assert fuzz.expect((prof % "21.45").encode()).codes == {"PropertyConstraintViolation"}


def test_judge_rejects_wrong_code_wrong_id_and_invalid_result():
    e = fuzz.expect(b'[2,"a","Reset",{"type":"Soft"}]')
    assert fuzz.judge(e, "result", [3, "a", {"status": "Accepted"}]) is None
    assert "expected" in fuzz.judge(e, "FormationViolation", [4, "a", "FormationViolation", "", {}])
    assert "id" in fuzz.judge(e, "result", [3, "b", {"status": "Accepted"}])
    assert "official schema" in fuzz.judge(e, "result", [3, "a", {"status": "Maybe"}])


def test_harness_catches_an_exception_escaping_on_frame(cp):
    h = cp.harness()
    real = h.rpc._on_call

    async def boom(msg):
        raise KeyError("escaped")
    h.rpc._on_call = boom
    try:
        exp, verdict, detail = cp.feed(b'[2,"a","Reset",{"type":"Soft"}]')
    finally:
        h.rpc._on_call = real
    assert verdict == "crash" and "escaped" in detail


# ---- properties
@fast(400)
@given(st.randoms(use_true_random=False), st.integers(0, 10 ** 6))
def test_generated_frames_get_the_answer_the_spec_names(cp, rnd, seq):
    ok(cp, fuzz.fuzz_gen.frame(rnd, fuzz.SCHEMAS, fuzz.HANDLED, seq))


@pytest.fixture(scope="module")
def traced():
    r = fuzz.InProcess(trace=True)
    yield r
    r.close()


@fast(200)
@given(st.randoms(use_true_random=False), st.integers(0, 10 ** 6))
def test_generated_frames_with_the_frame_trace_on(traced, rnd, seq):
    # setup.logfile(trace=True) puts every inbound frame through the redaction
    # of lib/logfile.py before it is handled.
    ok(traced, fuzz.fuzz_gen.frame(rnd, fuzz.SCHEMAS, fuzz.HANDLED, seq))


@fast(250)
@given(fuzz.hypothesis_frames())
def test_any_json_anywhere(cp, frame):
    ok(cp, frame)


@pytest.mark.parametrize("action", fuzz.HANDLED)
def test_every_action_valid_then_mutated(cp, action):
    @fast(25)
    @given(st.randoms(use_true_random=False), st.booleans())
    def prop(rnd, mutate):
        schema = fuzz.SCHEMAS[action]
        p = fuzz.fuzz_gen.valid(rnd, schema)
        if mutate:
            p = fuzz.fuzz_gen.mutate(rnd, p, schema)
        frame = json.dumps([2, "v1", action, p]).encode()
        if not mutate:   # a valid payload gets a CALLRESULT the response schema accepts
            exp = fuzz.expect(frame, ctx=fuzz.Ctx.of(cp.harness().cp))
            assert exp.codes & {"result"}, exp
        ok(cp, frame)
    prop()


@fast(60)
@given(st.binary(max_size=60), st.integers(8193, 40000),
       st.sampled_from([b'[2,"big","DataTransfer",{"vendorId":"x","data":"', b" [ 2 , \"b2\" ,",
                        b'[2,"' + b"q" * 37 + b'",', b"{", b"[3,\"x\",{", b""]))
def test_oversized_messages(cp, tail, size, head):
    ok(cp, (head + tail + b"x" * size)[:size])


@fast(150)
@given(st.binary(max_size=300))
def test_random_bytes(cp, frame):
    ok(cp, frame)


def test_campaign_tool_runs_and_writes_replayable_failures(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "fuzz.py"), "--count", "600",
                        "--seed", "11", "--corpus", str(corpus)],
                       capture_output=True, text=True, timeout=120)
    line = p.stdout.strip().splitlines()[-1]
    m = re.match(r"fuzz: (\d+) inputs \((\d+) generated frames, (\d+) hypothesis frames, "
                 r"(\d+) ws streams\) in [\d.]+ s, seed 11: (\d+) new failures", line)
    assert m, p.stdout + p.stderr
    assert int(m.group(1)) == 600 and int(m.group(5)) == 0 and p.returncode == 0, p.stdout
    # A failure the tool writes can be replayed: a deliberately wrong expectation.
    e = fuzz.expect(b'[2,"w","Reset",{"type":"Soft"}]')
    e.codes = frozenset({"FormationViolation"})
    path = fuzz.save_failure(str(corpus), b'[2,"w","Reset",{"type":"Soft"}]', e, "result", "test")
    case = json.load(open(path))
    assert fuzz.case_frame(case) == b'[2,"w","Reset",{"type":"Soft"}]'
    from mprun import run
    rc, out = run("micropython", os.path.join(ROOT, "host_tests", "mp", "fuzz_replay.py"),
                  str(corpus), str(tmp_path / "data"))
    assert "FAIL " + os.path.basename(path)[:-5] + " [result]" in out, out
