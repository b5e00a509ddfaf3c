"""lib/logfile.py: the bounded rotating log on flash and the redacted OCPP
frame trace, under MicroPython and CPython."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_network"))
import fwrun  # noqa: E402

SCRIPT = r'''
import os
import json
import asyncio
import log
import logfile
import compat


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else " " + str(detail)))


def read(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return None


def size(p):
    try:
        return os.stat(p)[6]
    except OSError:
        return -1


I = log.INFO
os.mkdir("a")
lf = logfile.LogFile("a", size=1024, files=2, buf=256)
lf.sink(I, "first line")
lf.sink(I, "second line")
check("sink does not touch flash", read("a/log.txt") is None)
lf.flush()
check("flush writes the lines in order", read("a/log.txt") == "first line\nsecond line\n",
      read("a/log.txt"))

# rotation: never more than two files of at most 1024 bytes, newest kept
for i in range(300):
    lf.sink(I, "line %04d ........................" % i)
    if i % 5 == 4:
        lf.flush()
lf.flush()
cur, old = read("a/log.txt"), read("a/log.1.txt")
check("two files", cur is not None and old is not None and size("a/log.2.txt") == -1)
check("each file within its size", size("a/log.txt") <= 1024 and size("a/log.1.txt") <= 1024,
      (size("a/log.txt"), size("a/log.1.txt")))
nums = [int(l[5:9]) for l in (old + cur).splitlines()]
check("newest lines kept, in order, none missing", nums == list(range(nums[0], 300)), nums[:3])
check("most of the budget used", len(nums) > 30, len(nums))

# a full buffer drops new lines and says so
for i in range(20):
    lf.sink(I, "burst %02d ................................" % i)
check("dropped counted", lf.dropped > 0, lf.dropped)
kept = lf.pending()
check("buffer bounded", kept <= 256, kept)
n = lf.dropped
lf.flush()
check("drop note written", ("... %d line(s) dropped: log buffer full" % n) in read("a/log.txt"))

# a long line is cut to half the buffer
lf.sink(I, "x" * 1000)
lf.flush()
last = read("a/log.txt").splitlines()[-1]
check("long line cut", len(last) == 127 and last.endswith("..."), len(last))

# registered secrets never reach the file
logfile.secret("Key-0123456789-abcdef")
lf.sink(I, "oops Key-0123456789-abcdef leaked")
lf.flush()
t = read("a/log.txt")
check("secret scrubbed", "Key-0123456789-abcdef" not in t and "oops <hidden> leaked" in t)
logfile.forget_secrets()

# three files rotate through .1 and .2
os.mkdir("b")
lf3 = logfile.LogFile("b", size=300, files=3, buf=256)
for i in range(60):
    lf3.sink(I, "b %03d ..........." % i)
    lf3.flush()
check("three files", all(size("b/" + f) > 0 for f in ("log.txt", "log.1.txt", "log.2.txt"))
      and size("b/log.3.txt") == -1)
tail = logfile.tail("b", 100, 3)
check("tail ends with the newest line", tail.endswith("b 059 ...........\n"), tail)
check("tail starts at a whole line", tail.startswith("b "), tail[:20])
check("tail bounded", len(tail) <= 100, len(tail))

# redaction of frames
R = logfile.redact
f1 = '[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"TopSecretKey-123456"}]'
r1 = R(f1)
check("ChangeConfiguration key hidden", "TopSecretKey" not in r1 and "<hidden>" in r1
      and json.loads(r1)[3]["key"] == "AuthorizationKey", r1)
f2 = '[2,"1","ChangeConfiguration",{"key":"authorizationkey","value":"TopSecretKey-123456"}]'
check("any case", "TopSecretKey" not in R(f2), R(f2))
f3 = '[3,"1",{"configurationKey":[{"key":"AuthorizationKey","readonly":false,"value":"TopSecretKey-123456"}]}]'
check("configuration entries hidden", "TopSecretKey" not in R(f3), R(f3))
f4 = 'garbage AuthorizationKey TopSecretKey-123456'
check("non-JSON cut", "TopSecretKey" not in R(f4), R(f4))
f5 = '[2,"1","DataTransfer",{"vendorId":"x","data":"Authorization: Basic dXNlcjpwYXNzd29yZA=="}]'
check("basic credentials hidden", "dXNlcjpwYXNzd29yZA" not in R(f5) and "Basic <hidden>" in R(f5),
      R(f5))
f6 = '[2,"1","Heartbeat",{}]'
check("other frames untouched", R(f6) == f6)

# trace goes through the log, redacted, to the file
os.mkdir("c")
lfc = logfile.LogFile("c", buf=1024)
log.add_sink(lfc.sink)
logfile.trace("<", f1)
lfc.flush()
t = read("c/log.txt")
check("trace line in the file", "I frame: < [2" in t and "ChangeConfiguration" in t, t)
check("trace redacted", "TopSecretKey" not in t)
log.remove_sink(lfc.sink)

# the writer task: periodic flush, at once on ERROR, yields between chunks
os.mkdir("d")
lfd = logfile.LogFile("d", size=16384, buf=4096, flush_ms=1000)
ticks = [0]
seen = []
orig_done = lfd._done


def done(k):
    seen.append(ticks[0])
    orig_done(k)


lfd._done = done


async def ticker():
    while True:
        ticks[0] += 1
        await compat.sleep_ms(0)


async def main():
    tk = asyncio.create_task(ticker())
    w = asyncio.create_task(lfd.run(poll_ms=20))
    lfd.sink(I, "quiet line")
    await compat.sleep_ms(300)
    check("not written before the flush period", read("d/log.txt") is None)
    lfd.sink(log.ERROR, "an error")
    await compat.sleep_ms(200)
    check("error flushed at once", "an error" in (read("d/log.txt") or ""))
    del seen[:]
    for i in range(40):
        lfd.sink(I, "chunky %02d ......................................" % i)
    await compat.sleep_ms(1500)
    check("periodic flush", "chunky 39" in (read("d/log.txt") or ""))
    check("several chunks", len(seen) >= 8, seen)
    check("other tasks ran between chunks",
          all(seen[i + 1] > seen[i] for i in range(len(seen) - 1)), seen)
    w.cancel()
    tk.cancel()

asyncio.run(main())

# the heap does not grow with the number of lines
if compat.MICROPYTHON:
    import gc
    os.mkdir("e")
    lfe = logfile.LogFile("e", size=4096, buf=512)
    for i in range(50):
        lfe.sink(I, "warm %d" % i)
    lfe.flush()
    gc.collect()
    before = gc.mem_alloc()
    for i in range(3000):
        lfe.sink(I, "steady state line number %d with some text" % i)
        if i % 8 == 7:
            lfe.flush()
    lfe.flush()
    gc.collect()
    grew = gc.mem_alloc() - before
    print("GREW", grew)
    check("heap flat over 3000 lines", grew < 1024, grew)
    check("size kept", size("e/log.txt") <= 4096 and size("e/log.1.txt") <= 4096)
print("DONE")
'''


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_logfile(runtime, tmp_path):
    rc, out = fwrun.run(runtime, tmp_path, SCRIPT, fake_network=False)
    assert rc == 0 and "DONE" in out, out
    assert "FAIL" not in out, out
    assert out.count("PASS ") == (30 if runtime == "micropython" else 28), out
