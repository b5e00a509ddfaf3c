"""Feeding the charge point, shared by the campaign (tools/fuzz.py) and the
property tests (host_tests/test_fuzz_*.py): InProcess runs frames and byte
streams through the real charge point in this process and judges the answers
with tools/fuzz_expect.py; the hypothesis strategies make the inputs that
hypothesis itself shrinks, next to fuzz_gen's and fuzz_ws's seeded generators.
"""
import asyncio
import importlib.util
import json
import os
import shutil
import tempfile

from fuzz_expect import BUFSIZE, HANDLED, ROOT, SCHEMAS, Ctx, expect, judge, known_bug

import fuzz_gen   # host_tests/mp, on sys.path since fuzz_expect
import fuzz_harness
import fuzz_ws


class InProcess:
    """The charge point under test in this process, on its own event loop and
    temporary flash; a fresh one every `renew` frames so state cannot drift."""
    _open, _level = 0, None   # the log is quiet while any is open

    def __init__(self, bufsize=BUFSIZE, connectors=2, renew=400, trace=False):
        spec = importlib.util.spec_from_file_location(
            "fuzz_sim_board", os.path.join(ROOT, "boards", "sim", "board.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        self.board_cls = mod.Board
        self.bufsize, self.connectors, self.renew, self.trace = bufsize, connectors, renew, trace
        self.dir = tempfile.mkdtemp(prefix="fuzz-")
        self.loop = asyncio.new_event_loop()
        if not InProcess._open:
            InProcess._level = fuzz_harness.quiet()
        InProcess._open += 1
        self.h, self.fed, self.made = None, 0, 0

    def harness(self):
        if self.h is None or self.fed >= self.renew:
            self.made += 1
            self.h = fuzz_harness.Harness(self.board_cls, os.path.join(self.dir, str(self.made)),
                                          self.bufsize, self.connectors, self.trace)
            self.loop.set_exception_handler(self.h._on_task_error)
            self.fed = 0
        self.fed += 1
        return self.h

    def feed(self, frame):
        """(Expect, verdict, detail) for one frame."""
        h = self.harness()
        exp = expect(frame, len(frame), self.bufsize, Ctx.of(h.cp))
        verdict, detail = self.loop.run_until_complete(h.feed(frame))
        return exp, verdict, detail

    def check(self, frame):
        """None, or (failure text, known bug name or None)."""
        exp, verdict, detail = self.feed(frame)
        why = judge(exp, verdict, detail)
        if why is None:
            return None
        logged = " | ".join(self.h.logged)
        return why + (" [log: %s]" % logged[:200] if logged else ""), known_bug(
            frame, exp, verdict, detail, "cpython", logged)

    def stream(self, s, cap, chunks=None):
        return self.loop.run_until_complete(fuzz_ws.check_stream(s, cap, chunks))

    def close(self):
        for t in asyncio.all_tasks(self.loop):
            t.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()
        InProcess._open -= 1
        if not InProcess._open:
            import log
            log.level = InProcess._level
        shutil.rmtree(self.dir, ignore_errors=True)


def json_values():
    from hypothesis import strategies as st
    scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=60)
               | st.floats(allow_nan=False, allow_infinity=False))
    return st.recursive(scalars, lambda kids: st.lists(kids, max_size=5)
                        | st.dictionaries(st.text(max_size=12), kids, max_size=5), max_leaves=20)


def hypothesis_frames():
    """Frames built by hypothesis itself: any JSON as a frame or as the payload
    (or a field) of a handled action."""
    from hypothesis import strategies as st
    uids = st.text(max_size=40) | st.sampled_from(["a", "x" * 36, "y" * 37])

    def put(action, key, val, uid):
        p = fuzz_gen.valid(_Seeded(len(uid)), SCHEMAS[action])
        if key is not None:
            p[key] = val
            return [2, uid, action, p]
        return [2, uid, action, val]
    keyed = st.sampled_from(HANDLED).flatmap(lambda a: st.tuples(
        st.just(a), st.sampled_from([None] + list(SCHEMAS[a].get("properties", {})) + ["zz"]),
        json_values(), uids)).map(lambda t: put(*t))
    whole = json_values() | st.lists(json_values(), max_size=5)
    return (keyed | whole).map(lambda v: json.dumps(v, ensure_ascii=False).encode())


class _Seeded:
    """A tiny deterministic rnd for building a base payload under hypothesis."""

    def __init__(self, seed):
        self.x = seed * 2654435761 + 1

    def randint(self, a, b):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return a + (self.x >> 33) % (b - a + 1)


def ws_streams():
    """Hypothesis strategy: (stream, cap, chunks), a server's byte stream built
    from frames whose every header field may be wrong, then maybe cut short."""
    from hypothesis import strategies as st
    body = st.binary(max_size=200) | st.sampled_from([125, 126, 127, 300, 1025, 65536]).map(
        lambda n: b"z" * n)
    frame = st.builds(
        lambda op, fin, rsv, mask, data, form: fuzz_ws.frame(op, data, fin, rsv, mask, form),
        st.sampled_from([1, 1, 2, 0, 0, 8, 9, 9, 10, 3, 7, 11, 15]),
        st.booleans() | st.just(True), st.sampled_from([0, 0, 0, 0, 0x10, 0x40]),
        st.none() | st.none() | st.binary(min_size=4, max_size=4), body,
        st.sampled_from([None, None, None, 1, 2]))
    cut = st.none() | st.floats(0, 1)
    chunks = st.none() | st.lists(st.integers(1, 40), min_size=1, max_size=4)

    def build(frames, cut, cap, chunks):
        s = b"".join(frames)
        return (s if cut is None else s[:int(len(s) * cut)]), cap, chunks
    return st.builds(build, st.lists(frame, max_size=6), cut, st.sampled_from([128, 256, 1024]),
                     chunks)

