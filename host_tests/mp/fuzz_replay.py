# Replays fuzz cases on the runtime that runs this script (MicroPython in
# `make test`, CPython too): every host_tests/fuzz_corpus/*.json, or a batch of
# generated frames (one case per line) written by a test.
#   fuzz_replay.py CORPUS_DIR_OR_BATCH_FILE DATA_DIR
# A case (host_tests/fuzz_corpus/README.md):
#   {"kind": "rpc", "frame": str | [[str, repeat], ...] | "frame_hex": hex,
#    "expect": [allowed answers], "id": uid or null, "action": name or null,
#    "total", "bufsize", "trace", "before": [frames fed first], "bug": optional}
#   {"kind": "ws", "stream_hex": hex | "stream": [[hex, repeat], ...], "cap": n,
#    "chunks": [read sizes] or null}
# Prints PASS name / FAIL name [verdict]: why / XFAIL name [verdict]: why (a
# case with "bug" that still fails), REPLY name action payload for every CALLRESULT (the test checks
# it against the official response schema), and DONE count.
import sys
import os
import json
from compat import MICROPYTHON
import asyncio
import board
import log
import fuzz_harness
import fuzz_ws


def frame_of(case):
    if "frame_hex" in case:
        return bytes.fromhex(case["frame_hex"])
    f = case["frame"]
    if isinstance(f, list):
        parts = []
        for text, k in f:
            parts.append(text.encode() * k)
        return b"".join(parts)
    return f.encode()


def stream_of(case):
    if "stream_hex" in case:
        return bytes.fromhex(case["stream_hex"])
    parts = []
    for h, k in case["stream"]:   # [[hex, repeat], ...]
        parts.append(bytes.fromhex(h) * k)
    return b"".join(parts)


def _norm(v):
    # The case files escape emoji as surrogate pairs; read them as the
    # firmware reads frames (jsontext), so expected ids compare alike.
    if MICROPYTHON:
        from jsontext import _fix
        return _fix(v)
    return v


def cases(path):
    if path.endswith(".jsonl"):
        with open(path) as f:
            i = 0
            for line in f:
                if line.strip():
                    yield "b%d" % i, _norm(json.loads(line))
                    i += 1
        return
    for name in sorted(os.listdir(path)):
        if name.endswith(".json"):
            with open(path + "/" + name) as f:
                yield name[:-5], _norm(json.load(f))


async def one(name, case, data, shared):
    if case.get("kind") == "ws":
        s = stream_of(case)
        why = await fuzz_ws.check_stream(s, case.get("cap", 256), case.get("chunks"))
        return why, None, "ws"
    h = shared
    bufsize = case.get("bufsize", 8192)
    if h is None or case.get("trace") or case.get("before") or bufsize != len(h.wire.buf):
        h = fuzz_harness.Harness(board.Board, data + "/" + name, bufsize, trace=case.get("trace"))
    h.install()
    for f in case.get("before", ()):   # frames that set the scene, answers not judged
        await h.feed(f.encode())
    verdict, detail = await h.feed(frame_of(case), case.get("total"))
    why = fuzz_harness.judge(case["expect"], case.get("id"), verdict, detail)
    if why and h.logged:
        why += " [log: %s]" % " | ".join(h.logged)[:300]
    reply = detail[2] if verdict == "result" and not why else None
    return why, reply, verdict


async def main(path, data):
    fuzz_harness.quiet()
    batch = path.endswith(".jsonl")
    shared = None
    if batch:
        shared = fuzz_harness.Harness(board.Board, data + "/batch")
    n = 0
    for name, case in cases(path):
        n += 1
        try:
            why, reply, verdict = await one(name, case, data, shared)
        except Exception as e:
            why, reply, verdict = "replay failed: %r" % (e,), None, "crash"
        if why is None:
            print("PASS %s" % name)
            if reply is not None and case.get("action"):
                print("REPLY %s %s %s" % (name, case["action"], json.dumps(reply)))
        else:
            print("%s %s [%s]: %s" % ("XFAIL" if case.get("bug") else "FAIL", name, verdict,
                                      why.replace("\n", " ")))
    print("DONE %d" % n)


try:
    os.mkdir(sys.argv[2])
except OSError:
    pass
log.level = log.ERROR + 10
asyncio.run(main(sys.argv[1], sys.argv[2]))
