"""Fuzzing of lib/ws.py with server byte streams: bad opcodes, bad lengths,
masked frames, fragmented and oversized control frames, truncation, binary
and oversized messages. In this process with hypothesis, and under
MicroPython with seeded random streams (host_tests/mp/fuzz_ws.py); both are
judged by fuzz_ws.ref_events, an independent reading of RFC 6455."""
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import fuzz  # noqa: E402
import fuzz_ws  # noqa: E402
from mprun import RUNTIMES, cases  # noqa: E402

F = fuzz_ws.frame


@pytest.fixture(scope="module")
def cp():
    r = fuzz.InProcess()
    yield r
    r.close()


# ---- the reference reader
REF = [
    (F(1, b"hi"), [("msg", 1, 2, b"hi"), ("eof",)]),
    (F(2, b"\x00\xff"), [("msg", 2, 2, b"\x00\xff"), ("eof",)]),
    (F(9, b"p") + F(1, b"x"), [("pong", b"p"), ("msg", 1, 1, b"x"), ("eof",)]),
    (F(8, b"\x03\xe8bye") + F(1, b"late"), [("close", b"\x03\xe8")]),
    (F(1, b"ab", fin=False) + F(9, b"") + F(0, b"cd"),
     [("pong", b""), ("msg", 1, 4, b"abcd"), ("eof",)]),
    (F(1, b"a" * 300), [("msg", 1, 300, b"a" * 128), ("eof",)]),
    (F(1, b"hi", mask=b"abcd"), [("fail", False)]),
    (F(1, b"hi", rsv=0x40), [("fail", False)]),
    (F(3, b""), [("fail", False)]),
    (F(9, b"", fin=False), [("fail", False)]),
    (F(9, b"z" * 126, form=1), [("fail", False)]),
    (F(0, b"x"), [("fail", False)]),
    (F(1, b"a", fin=False) + F(1, b"b"), [("fail", False)]),
    (F(8, b"\x03"), [("fail", False)]),
    (b"\x81\x7f\x80" + b"\0" * 6 + b"\x01x", [("fail", False)]),
    (F(1, b"hello")[:4], [("eof",)]),
    (b"\x81\x7e\x00", [("eof",)]),
    (b"\x89\x7e\x00", [("eof",)]),
    (F(1, b"hello", form=2), [("msg", 1, 5, b"hello"), ("eof",)]),
]


@pytest.mark.parametrize("stream,events", REF)
def test_reference_reader_follows_rfc_6455(stream, events):
    assert fuzz_ws.ref_events(stream, 128) == events


def test_compare_spots_a_wrong_pong_and_a_missing_close():
    s = F(9, b"p1") + F(8, b"\x03\xe9")
    close = (128, 8, True, b"\x03\xe9")

    def cmp(*frames):
        return fuzz_ws.compare(s, 128, [("end",)], list(frames), None)
    assert cmp((128, 10, True, b"p1"), close) is None
    assert "pong" in cmp((128, 10, True, b"p2"), close)
    assert "close" in cmp((128, 10, True, b"p1"))
    assert "masked" in cmp((128, 10, False, b"p1"), close)


# ---- properties
@settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(fuzz.ws_streams())
def test_ws_streams_hypothesis(cp, case):
    s, cap, chunks = case
    why = cp.stream(s, cap, chunks)
    assert why is None, "%s\nstream %s cap %d chunks %s" % (why, s[:200].hex(), cap, chunks)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(fuzz.ws_streams())
def test_messages_from_fuzzed_streams_then_go_to_the_charge_point(cp, case):
    # What ws.recv() hands up must never upset Rpc.on_frame either.
    s, cap, chunks = case
    for ev in fuzz_ws.ref_events(s, cap):
        if ev[0] == "msg":
            h = cp.harness()
            exp = fuzz.expect(ev[3], ev[2], cap, fuzz.Ctx.of(h.cp))
            verdict, detail = cp.loop.run_until_complete(h.feed(ev[3], ev[2]))
            why = fuzz.judge(exp, verdict, detail)
            assert why is None or fuzz.known_bug(ev[3], exp, verdict, detail), why


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_random_streams_on_each_runtime(runtime):
    passed, failed, out = cases(runtime, os.path.join(ROOT, "host_tests", "mp", "fuzz_ws.py"),
                                "8", "600")
    assert not failed, "\n".join(failed)
    assert passed == ["ws-random-streams 600"], out


def test_reader_is_not_blind_to_a_broken_websocket(cp, monkeypatch):
    # A WebSocket that stopped failing on masked frames must be caught.
    import ws
    real = ws.WebSocket._fail

    async def lenient(self, why):
        if "masked" in why:
            return
        await real(self, why)
    monkeypatch.setattr(ws.WebSocket, "_fail", lenient)
    assert cp.stream(F(1, b"hi", mask=b"abcd"), 128) is not None
