#!/usr/bin/env python3
"""Fuzzing of everything a central system can send to the charger (issue 8).

    python tools/fuzz.py [--count N] [--seed S] [--corpus DIR] [--no-write]

Runs N inputs (default 100000) in this process, against the real charge point
of firmware/main.py over the simulated board (host_tests/mp/fuzz_harness.py)
and against lib/ws.py fed raw server byte streams (host_tests/mp/fuzz_ws.py):
  70 %  generated frames (host_tests/mp/fuzz_gen.py): valid payloads from the
        official request schemas, then mutated; broken OCPP-J arrays; damaged
        bytes; deep nesting; huge numbers and strings; frames over the buffer
  10 %  hypothesis JSON values as whole frames and as payloads of every action
  20 %  WebSocket byte streams (bad opcodes, lengths, masks, fragments, ...)
Each frame's answer is judged by tools/fuzz_expect.py: the CALLERROR that
OCPP-J 1.6 names, worked out from the official schema (not from the firmware's
own tables), or a CALLRESULT that the official response schema accepts.
A failure of a new kind is written to the corpus directory (default
host_tests/fuzz_corpus/, replayed by `make test` on MicroPython) unless
--no-write. Ends with one summary line; exit status 1 when something new failed.

The fuzz tests (host_tests/test_fuzz_*.py) use this module as their library:
it re-exports the oracle (fuzz_expect) and the driver (fuzz_run), so that
`fuzz.<name>` reaches all of it from one import.
"""
import argparse
import hashlib
import json
import os
import sys
import time

# fuzz_expect first: it puts host_tests/mp (fuzz_gen, fuzz_ws below) on sys.path.
from fuzz_expect import (  # noqa: F401  (re-exported for the tests)
    BUFSIZE, CS_ACTIONS, HANDLED, KNOWN_BUGS, ROOT, SCHEMA_DIR, SCHEMAS, SEMANTIC, STATUS_ENUMS,
    UNCHECKED, Ctx, Expect, expect, judge, known_bug, parse, sniff)
from fuzz_run import InProcess, hypothesis_frames, json_values, ws_streams  # noqa: F401

import fuzz_gen
import fuzz_ws

CORPUS = os.path.join(ROOT, "host_tests", "fuzz_corpus")


# ---- the corpus: one JSON file per case, see host_tests/fuzz_corpus/README.md
def frame_field(frame):
    try:
        text = frame.decode("utf-8")
        if "\x00" not in text:
            return {"frame": text}
    except UnicodeDecodeError:
        pass
    return {"frame_hex": frame.hex()}


def case_frame(case):
    if "frame_hex" in case:
        return bytes.fromhex(case["frame_hex"])
    f = case["frame"]
    if isinstance(f, list):   # [[text, repeat], ...] keeps huge frames small on disk
        return b"".join(t.encode() * k for t, k in f)
    return f.encode()


def save_failure(corpus, frame, exp, verdict, why, trace=False):
    what = "%s|%s|%s" % (exp.action, sorted(exp.codes), verdict)
    sig = hashlib.sha1(what.encode()).hexdigest()[:10]
    path = os.path.join(corpus, "found-%s.json" % sig)
    if os.path.exists(path):
        return None
    case = {"kind": "rpc", "note": "found by tools/fuzz.py: " + why[:300],
            "expect": sorted(exp.codes), "id": exp.uid, "action": exp.action}
    case.update(frame_field(frame))
    if trace:
        case["trace"] = True
    try:   # raw UTF-8 where possible: MicroPython's json misreads escaped emoji
        text = json.dumps(case, indent=1, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(case, indent=1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return path


def campaign(count, seed=0, corpus=CORPUS, write=True, out=sys.stdout):
    """Run `count` inputs; returns the statistics and prints the summary line."""
    import random
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    n_hyp, n_ws = count // 10, count // 5
    n_gen = count - n_hyp - n_ws
    # Every fourth generated frame goes to a charge point with the frame trace
    # on (setup.logfile(trace=True)), which puts each frame through redaction.
    plain, traced = InProcess(), InProcess(trace=True)
    stats = {"inputs": 0, "failures": 0, "known": {}, "written": [], "first": []}

    def record(runner, frame):
        stats["inputs"] += 1
        res = runner.check(frame)
        if res is None:
            return
        why, bug = res
        if bug:
            stats["known"][bug] = stats["known"].get(bug, 0) + 1
            return
        stats["failures"] += 1
        if len(stats["first"]) < 5:
            stats["first"].append("%s <- %r" % (why, frame[:160]))
        if write:
            exp, verdict, _ = runner.feed(frame)
            p = save_failure(corpus, frame, exp, verdict, why, runner.trace)
            if p:
                stats["written"].append(p)
    t0 = time.time()
    rnd = random.Random(seed)
    try:
        for i in range(n_gen):
            record(traced if i % 4 == 0 else plain, fuzz_gen.frame(rnd, SCHEMAS, HANDLED, i))

        @hseed(seed)
        @settings(max_examples=max(1, n_hyp), database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(hypothesis_frames())
        def hyp(f):
            record(plain, f)
        if n_hyp:
            hyp()
        for i in range(n_ws):
            cap = rnd.choice((128, 256, 1024))
            s, chunks = fuzz_ws.gen_stream(rnd, cap)
            why = plain.stream(s, cap, chunks)
            stats["inputs"] += 1
            if not why:
                continue
            stats["failures"] += 1
            if len(stats["first"]) < 5:
                stats["first"].append("ws: %s <- %s" % (why, s[:80].hex()))
            if write:
                p = os.path.join(corpus, "found-ws-%s.json" % hashlib.sha1(s).hexdigest()[:10])
                with open(p, "w") as f:
                    json.dump({"kind": "ws", "note": "found by tools/fuzz.py: " + why[:300],
                               "stream_hex": s.hex(), "cap": cap, "chunks": chunks}, f, indent=1)
                stats["written"].append(p)
    finally:
        plain.close()
        traced.close()
    dt = time.time() - t0
    known = ", ".join("%s %d" % kv for kv in sorted(stats["known"].items())) or "none"
    for line in stats["first"]:
        print("  " + line, file=out)
    print("fuzz: %d inputs (%d generated frames, %d hypothesis frames, %d ws streams) in %.1f s, "
          "seed %d: %d new failures, known bugs hit: %s; %d corpus files written"
          % (stats["inputs"], n_gen, n_hyp, n_ws, dt, seed, stats["failures"], known,
             len(stats["written"])), file=out)
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100000, help="inputs to try (default 100000)")
    ap.add_argument("--seed", type=int, default=None, help="default: from the clock (printed)")
    ap.add_argument("--corpus", default=CORPUS, help="where new failures go")
    ap.add_argument("--no-write", action="store_true", help="report failures, write nothing")
    a = ap.parse_args(argv)
    seed = a.seed if a.seed is not None else int(time.time()) % 100000
    os.makedirs(a.corpus, exist_ok=True)
    stats = campaign(a.count, seed, a.corpus, not a.no_write)
    return 1 if stats["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
