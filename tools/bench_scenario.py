"""The reference scenario of the benchmarks (tools/bench.py), played against one
simulated charger process with the measurement probe on (start.py --probe 1).

    from bench_scenario import run, FULL, SHORT
    res = run("micropython", FULL, mpy_dir=None, heap=None, entry=None)
    res["ok"], res["error"], res["phases"], res["stats"], ...

Phases, in order (FULL / SHORT counts are in the dicts below):
  boot      start the process; BootNotification accepted (measured from outside
            as the time from Popen to the central system's CALLRESULT)
  config    ChangeConfiguration MeterValueSampleInterval=1 and sampled measurands
  sessions  `sessions` charging sessions online: plug, EV C, tag, charge
            `charge_s`, tag again, unplug; flash writes counted per session
  offline   link down, one session, link up again: the queue holds it
  calls     at once after the link is back, `calls` central-system CALLs
            (GetConfiguration all keys / one key, DataTransfer) while the charger
            delivers its queue; then every queued message must be delivered
  idle      HeartbeatInterval=10, then `idle_s` of nothing: flash writes counted
  plain     one online session with sampled meter values off (fixed cost)
  safety    `reps` x (EV C->B while charging) and `reps` x (residual-current fault
            while charging, then unplug): reactions_ms from the sim port
A run passes when every phase finished in time, every call got a CALLRESULT,
every transaction reached the central system once, the queue emptied, the process
is alive and its log holds no MemoryError ("memory allocation failed" on
MicroPython) or traceback.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (HERE, os.path.join(ROOT, "host_tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import sim  # noqa: E402
from charger import Charger  # noqa: E402
from csms import CentralSystem, CallErrorReply  # noqa: E402

CP = "bench-1"
FULL = {"sessions": 3, "charge_s": 5, "offline_s": 4, "calls": 200, "idle_s": 20,
        "plain": True, "reps": 20}
SMOKE = {"sessions": 1, "charge_s": 1.5, "offline_s": 1, "calls": 6, "idle_s": 2,
         "plain": True, "reps": 2}
# The bisection's variant: the same kinds of work, shorter and without the idle
# and safety phases (they allocate nothing the other phases do not).
SHORT = {"sessions": 1, "charge_s": 3, "offline_s": 2, "calls": 40, "idle_s": 0,
         "plain": False, "reps": 0}
# On the emulated chip, the same, plus the inbound frames timed on the wire and
# the safety repetitions under a burst of large frames. Its receive buffer is
# 12 KiB there, so that a 10 KB frame is handled rather than refused.
FRAME_SIZES = (200, 2000, 8000, 10000)
# The chip's board has the pilot comparator (boards/README.md, cp_comparator):
# the PIO interlock opens on C->B. CHIP_CPU_PILOT is the safety phase alone on a
# board without it, where the sampler's timer interrupt opens the contactor.
CHIP_BOARD = ("rx_buf=12288", "cp_comparator=true")
CHIP = dict(FULL, frames=FRAME_SIZES, burst=True, board=CHIP_BOARD)
CHIP_SMOKE = dict(SMOKE, frames=(200, 8000), burst=True, board=CHIP_BOARD)
CHIP_CPU_PILOT = {"sessions": 0, "charge_s": 0, "offline_s": 0, "calls": 0, "idle_s": 0,
                  "plain": False, "reps": 20, "burst": True, "board": ("rx_buf=12288",)}
CHIP_CPU_PILOT_SMOKE = dict(CHIP_CPU_PILOT, reps=2)
# The heap a board can give the firmware beside TLS, on the 32-bit twin.
TWIN_HEAP_KB = 64
MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Offered"


class Failed(Exception):
    """The scenario did not pass; the message says at which step and why."""


class BenchCharger(Charger):
    """A firmware process started directly (no tools/sim.py launcher in between,
    so the start time is the interpreter's), with the probe on."""
    failure = Failed

    def __init__(self, runtime, url, data, mpy_dir=None, heap=None, entry=None, probe=True,
                 board=()):
        Charger.__init__(self, runtime, url, data, CP, 1, heap)
        self.mpy_dir = mpy_dir
        self.entry = entry
        self.probe = probe
        self.board = board
        self.t_start = None

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        sim.prepare(self.runtime)
        cmd, env = sim.command(self.runtime, self.data_dir, self.csms_url, self.ident, 1,
                               self.port, self.heap, self.probe, self.mpy_dir, entry=self.entry,
                               board=self.board)
        self._out = open(self.logfile, "ab")
        self.t_start = time.time()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=sim.workdir(self.runtime))
        return self

    def tail(self, n=1500):
        return self.log()[-n:]

    def do(self, cmd, **kw):
        if not self.running():
            raise Failed("the charger process ended before %s" % cmd)
        ans = self.ctl(cmd, **kw)
        if not ans.get("ok"):
            raise Failed("control %s failed: %s" % (cmd, ans.get("error")))
        return ans


def _c1(st):
    return st["connectors"][0]


def _quiet(ch, what):
    # Online, nothing queued, connector idle: a point where counters are comparable.
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted" and s["queue"] == 0
            and _c1(s)["status"] == "Available" and _c1(s)["transaction_id"] is None,
            timeout=40, what=what)
    time.sleep(0.3)


def _session(ch, tag, charge_s, online=True):
    ch.do("plug", connector=1)
    ch.do("ev", connector=1, state="C")
    ch.do("rfid", tag=tag)
    ch.wait(lambda s: _c1(s)["contactor"], what="charging (%s)" % tag)
    time.sleep(charge_s)
    ch.do("rfid", tag=tag)
    ch.wait(lambda s: _c1(s)["transaction_id"] is None and not _c1(s)["contactor"],
            what="the transaction to stop (%s)" % tag)
    ch.do("unplug", connector=1)
    ch.wait(lambda s: _c1(s)["status"] == "Available", what="Available after %s" % tag)


def _writes(ch):
    st = ch.do("stats")
    return st["store_writes"], st["store_bytes"]


def _in_calls(srv, action, after=0):
    return [m for m in srv.messages(cp_id=CP, action=action, direction="in", message_type="CALL")
            if m["seq"] > after]


def _cs_calls(srv, n):
    # Mixed inbound load: the big answer (all keys), a small one, a DataTransfer.
    kinds = (("GetConfiguration", {}), ("GetConfiguration", {"key": ["HeartbeatInterval"]}),
             ("DataTransfer", {"vendorId": "org.bench", "messageId": "ping", "data": "x" * 64}))
    rtts = []
    for i in range(n):
        action, payload = kinds[i % len(kinds)]
        t = time.time()
        try:
            ans = srv.call(CP, action, payload, timeout=20)
        except CallErrorReply as e:
            raise Failed("call %d (%s) got CALLERROR %s %s" % (i, action, e.code, e.description))
        except (TimeoutError, ConnectionError) as e:
            raise Failed("call %d (%s): %s" % (i, action, e))
        rtts.append((time.time() - t) * 1000)
        if action == "GetConfiguration" and not ans.get("configurationKey"):
            raise Failed("GetConfiguration answered without keys: %s" % ans)
    return rtts


def frame_payload(kind, size):
    """(action, payload) whose CALL frame is `size` bytes long: "flat" is one long
    string (DataTransfer, answered UnknownVendorId), "structured" a schedule of many
    periods (SetChargingProfile, Rejected for its stack level after the whole
    frame was checked), the costlier kind for a JSON check."""
    head = len('[2,"%s",' % ("x" * 36))
    if kind == "flat":
        base = {"vendorId": "org.bench", "messageId": "frame", "data": ""}
        fill = size - head - len(json.dumps(["DataTransfer", base], separators=(",", ":"))) + 1
        base["data"] = "x" * max(0, fill)
        return "DataTransfer", base
    periods = []
    payload = {"connectorId": 0, "csChargingProfiles": {
        "chargingProfileId": 900, "stackLevel": 99, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "startSchedule": "2026-01-01T00:00:00Z",
            "chargingSchedulePeriod": periods}}}

    def length():
        return head + len(json.dumps(["SetChargingProfile", payload], separators=(",", ":"))) - 1
    while True:
        periods.append({"startPeriod": 60 * len(periods), "limit": 16.0, "numberPhases": 3})
        if length() > size:
            periods.pop()
            break
    if not periods:
        periods.append({"startPeriod": 0, "limit": 16.0})
    return "SetChargingProfile", payload


def _frames(ch, srv, sizes, res, reps=5):
    """Each size and kind `reps` times: the chip's turnaround, from the last byte of
    the CALL in its receive FIFO to its answer on the wire (emulated ms). The
    median is the figure; every run is kept: the other tasks of the charger run
    while a big frame pauses between its steps, and one of them may be writing
    the flash (a 45 ms erase with interrupts off) just then."""
    out = {}
    runs = {}
    for size in sizes:
        for kind in ("structured", "flat"):
            action, payload = frame_payload(kind, size)
            n = len(json.dumps([2, "x" * 36, action, payload], separators=(",", ":")))
            got = []
            for _ in range(reps):
                try:
                    srv.call(CP, action, payload, timeout=30)
                except CallErrorReply as e:
                    raise Failed("a %d-byte %s frame got CALLERROR %s %s"
                                 % (size, kind, e.code, e.description))
                turns = ch.do("stats").get("turns") or []
                # The CALL as the central system wrote it, plus its WebSocket header.
                near = [t[1] for t in turns if n * 9 // 10 <= t[0] <= n + 64]
                if not near:
                    raise Failed("no turnaround of about %d bytes on the wire: %s" % (n, turns[-4:]))
                got.append(near[-1])
            got.sort()
            out.setdefault(kind, {})[str(size)] = got[len(got) // 2]
            runs.setdefault(kind, {})[str(size)] = got
    res["frame_ms"] = out
    res["frame_runs_ms"] = runs


class _Burst:
    """The central system sends 8 and 10 KB frames back to back, from a thread."""

    def __init__(self, srv):
        import threading
        self.srv = srv
        self.stop = threading.Event()
        self.sent = 0
        self.errors = []
        self.frames = [frame_payload("flat", 8000), frame_payload("structured", 10000)]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            action, payload = self.frames[self.sent % 2]
            try:
                self.srv.call(CP, action, payload, timeout=30)
                self.sent += 1
            except Exception as e:  # the burst must not hide the phase's own failure
                self.errors.append(str(e))
                time.sleep(0.2)

    def end(self):
        self.stop.set()
        self.thread.join(40)
        return {"frames": self.sent, "errors": self.errors[:3]}


def _reactions(ch):
    return list(ch.do("stats")["reactions_ms"][0])


def _safety(ch, reps, res):
    base = len(_reactions(ch))
    ch.do("plug", connector=1)
    ch.do("ev", connector=1, state="C")
    ch.do("rfid", tag="SAFETY")
    ch.wait(lambda s: _c1(s)["contactor"], what="charging before the C->B repetitions")
    for i in range(reps):
        ch.do("ev", connector=1, state="B")
        ch.wait(lambda s: not _c1(s)["contactor"], what="contactor open after C->B %d" % i)
        ch.do("ev", connector=1, state="C")
        ch.wait(lambda s: _c1(s)["contactor"], what="contactor closed again after B->C %d" % i)
    ch.do("rfid", tag="SAFETY")
    # Unplugging with the contactor still closed would be one more hazard.
    ch.wait(lambda s: _c1(s)["transaction_id"] is None and not _c1(s)["contactor"],
            what="stop after C->B repetitions")
    ch.do("unplug", connector=1)
    ch.wait(lambda s: _c1(s)["status"] == "Available", what="Available after C->B repetitions")
    got = _reactions(ch)
    res["reactions_cb_ms"] = got[base:]
    base = len(got)
    for i in range(reps):
        ch.do("plug", connector=1)
        ch.do("ev", connector=1, state="C")
        ch.do("rfid", tag="SAFETY")
        ch.wait(lambda s: _c1(s)["contactor"], what="charging before RCD trip %d" % i)
        ch.do("fault", connector=1, kind="rcd", on=True)
        ch.wait(lambda s: not _c1(s)["contactor"], what="contactor open after RCD trip %d" % i)
        ch.do("fault", connector=1, kind="rcd", on=False)
        ch.do("unplug", connector=1)
        ch.wait(lambda s: _c1(s)["transaction_id"] is None and _c1(s)["fault"] is None,
                what="fault cleared by unplugging after RCD trip %d" % i)
    res["reactions_rcd_ms"] = _reactions(ch)[base:]
    if len(res["reactions_cb_ms"]) != reps or len(res["reactions_rcd_ms"]) != reps:
        raise Failed("expected %d reactions of each kind, got %d C->B and %d RCD"
                     % (reps, len(res["reactions_cb_ms"]), len(res["reactions_rcd_ms"])))


def _play(ch, srv, plan, res):
    phases = res["phases"]

    def phase(name, t0):
        phases[name] = round(time.time() - t0, 2)
        # The stall maximum (and, with the live-heap probe, the live peak) so
        # far: where it jumps is the phase that caused it.
        st = ch.do("stats")
        res["stall_max_after"][name] = st.get("stall_max_ms")
        if "live_peak" in st:
            res.setdefault("live_peak_after", {})[name] = st["live_peak"]
        return time.time()

    t = time.time()
    ch.start()
    ch.wait(lambda s: s["boot"] == "Accepted", timeout=40, what="BootNotification accepted")
    boot = srv.messages(cp_id=CP, action="BootNotification", direction="out",
                        message_type="CALLRESULT")
    res["boot_outside_ms"] = round((boot[0]["timestamp"] - ch.t_start) * 1000) if boot else None
    t = phase("boot", t)
    for key, val in (("MeterValueSampleInterval", "1"), ("MeterValuesSampledData", MEASURANDS),
                     ("LocalAuthorizeOffline", "true")):
        if srv.call(CP, "ChangeConfiguration", {"key": key, "value": val})["status"] != "Accepted":
            raise Failed("ChangeConfiguration %s was not accepted" % key)
    _quiet(ch, "quiet after configuration")
    t = phase("config", t)
    per_tx = []
    for i in range(plan["sessions"]):
        w0, b0 = _writes(ch)
        mark = srv.mark()
        _session(ch, "TAG-%d" % (i + 1), plan["charge_s"])
        _quiet(ch, "delivery after session %d" % (i + 1))
        w1, b1 = _writes(ch)
        mv = [m for m in _in_calls(srv, "MeterValues", mark) if "transactionId" in m["payload"]]
        per_tx.append({"writes": w1 - w0, "bytes": b1 - b0, "meter_values": len(mv)})
    res["flash_per_tx"] = per_tx
    t = phase("sessions", t)
    if plan["offline_s"]:
        starts_before = len(_in_calls(srv, "StartTransaction"))
        ch.do("net", up=False)
        ch.wait(lambda s: not s["online"], what="offline")
        _session(ch, "TAG-1", plan["offline_s"])
        res["queued_offline"] = ch.status()["queue"]
        if res["queued_offline"] < 2:
            raise Failed("the offline session queued %d messages, expected at least 2"
                         % res["queued_offline"])
        t = phase("offline", t)
        ch.do("net", up=True)
        ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=30, what="back online")
        rtts = _cs_calls(srv, plan["calls"])
        rtts.sort()
        res["cs_calls"] = {"n": len(rtts), "rtt_ms_median": round(rtts[len(rtts) // 2], 2) if rtts else None,
                           "rtt_ms_max": round(rtts[-1], 2) if rtts else None}
        _quiet(ch, "delivery of the offline queue")
        if len(_in_calls(srv, "StartTransaction")) != starts_before + 1:
            raise Failed("the offline transaction's StartTransaction was not delivered once")
        t = phase("calls", t)
    if plan["idle_s"]:
        srv.call(CP, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "10"})
        time.sleep(1)
        w0, b0 = _writes(ch)
        mark = srv.mark()
        time.sleep(plan["idle_s"])
        w1, b1 = _writes(ch)
        res["idle"] = {"seconds": plan["idle_s"], "writes": w1 - w0, "bytes": b1 - b0,
                       "heartbeats": len(_in_calls(srv, "Heartbeat", mark))}
        t = phase("idle", t)
    if plan["plain"]:
        srv.call(CP, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "0"})
        _quiet(ch, "quiet before the plain session")
        w0, b0 = _writes(ch)
        _session(ch, "TAG-2", 1)
        _quiet(ch, "delivery after the plain session")
        w1, b1 = _writes(ch)
        res["flash_plain_tx"] = {"writes": w1 - w0, "bytes": b1 - b0, "meter_values": 0}
        t = phase("plain", t)
    if plan.get("frames"):
        _quiet(ch, "quiet before the frames")
        _frames(ch, srv, plan["frames"], res)
        t = phase("frames", t)
    if plan["reps"]:
        burst = _Burst(srv) if plan.get("burst") else None
        try:
            _safety(ch, plan["reps"], res)
        finally:
            if burst is not None:
                res["burst"] = burst.end()
        _quiet(ch, "quiet after the safety repetitions")
        t = phase("safety", t)
    starts = _in_calls(srv, "StartTransaction")
    stops = _in_calls(srv, "StopTransaction")
    if len(starts) != len(stops) or not starts:
        raise Failed("%d StartTransaction but %d StopTransaction reached the central system"
                     % (len(starts), len(stops)))
    res["transactions"] = len(starts)
    res["stats"] = ch.do("stats")
    top = res["stats"].get("stall_max_ms")
    res["stall_phase"] = [k for k, v in res["stall_max_after"].items() if v == top][:1] or None
    if res["stall_phase"]:
        res["stall_phase"] = res["stall_phase"][0]


# A bare asyncio loop with the same 5 ms probe, run beside the scenario: what the
# machine itself (other processes, the scheduler) adds to the stall figures.
BASELINE = """import json
import asyncio
from probe import Probe
from compat import sleep_ms


async def main():
    p = Probe()
    asyncio.create_task(p.run())
    while True:
        await sleep_ms(500)
        print(json.dumps(p.stats()))


asyncio.run(main())
"""


def _baseline_start(runtime, tmp):
    path = os.path.join(tmp, "baseline.py")
    with open(path, "w") as f:
        f.write(BASELINE)
    cmd, env = sim.command(runtime, tmp)
    return subprocess.Popen([cmd[0], path], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def _baseline_stop(proc):
    proc.kill()
    out = proc.communicate()[0].decode("utf-8", "replace").splitlines()
    for line in reversed(out):
        try:
            d = json.loads(line)
            return {"stall_max_ms": d["stall_max_ms"], "stall_p99_ms": d["stall_p99_ms"],
                    "samples": d["samples"]}
        except (ValueError, KeyError):
            continue
    return None


def run(runtime, plan, mpy_dir=None, heap=None, entry=None, probe=True, keep_log=None,
        baseline=False):
    """Play the scenario once; returns a dict (ok, error, figures). Never raises
    for a scenario failure: a too small heap is an expected outcome. probe=False
    leaves the probe out (its 1000-bin histogram is 8 KB of a 64-bit heap):
    stats then has the counters but no stall or heap figures. baseline=True runs a
    bare loop with the same probe beside it: res["baseline"] has its stall figures."""
    tmp = tempfile.mkdtemp(prefix="evse-bench-")
    srv = CentralSystem(port=0, max_records=200000)
    srv.start()
    ch = BenchCharger(runtime, srv.url, os.path.join(tmp, "flash"), mpy_dir, heap, entry,
                      probe, plan.get("board", ()))
    res = {"runtime": runtime, "heap_kb": heap, "mpy": bool(mpy_dir), "ok": False, "error": None,
           "phases": {}, "stall_max_after": {}}
    t0 = time.time()
    base = _baseline_start(runtime, tmp) if baseline else None
    try:
        _play(ch, srv, plan, res)
        text = ch.log()
        # A memory failure the firmware caught and survived still fails the run:
        # the heap was too small for what the scenario asked.
        for bad in ("MemoryError", "memory allocation failed", "Traceback"):
            if bad in text:
                raise Failed("the charger's log shows %r" % bad)
        if not ch.running():
            raise Failed("the charger process ended")
        res["ok"] = True
    except (Failed, AssertionError, TimeoutError, ConnectionError, CallErrorReply, KeyError) as e:
        res["error"] = "%s: %s" % (e.__class__.__name__, str(e).splitlines()[0] if str(e) else "")
        res["log_tail"] = ch.tail()
        mem = [ln for ln in ch.log().splitlines()
               if "memory allocation failed" in ln or "MemoryError" in ln]
        res["first_memory_error"] = mem[0][:200] if mem else None
    finally:
        res["seconds"] = round(time.time() - t0, 1)
        if base is not None:
            res["baseline"] = _baseline_stop(base)
        ch.stop()
        srv.stop()
        if keep_log:
            shutil.copyfile(ch.logfile, keep_log)
        shutil.rmtree(tmp, ignore_errors=True)
    return res
