"""CALL -> CALLRESULT round trips per second, for tools/bench.py.

    python tools/bench_rpc.py serve            # the echo central system; prints PORT n
    python tools/bench_rpc.py ocpp URL MS      # the `ocpp` package's ChargePoint client
    python tools/bench_rpc.py floor URL MS     # bare websockets + json: the floor
    measure(ms) -> {client: {"calls", "ms", "per_s", "cpu_us_per_call"}, "ratios": {...}}

The server answers every CALL with a CALLRESULT carrying one fixed currentTime
(the ocpp package checks a Heartbeat answer against the schema, and an empty one
would fail it), with permessage-deflate off so that no client pays for
compression the charger does not offer. Each client is its own process, one
after the other, so none shares an interpreter (or a GIL) with the server:
    charger_micropython  host_tests/mp/bench_rpc_client.py on the MicroPython unix port
    charger_cpython      the same script on CPython
    ocpp_cpython         ocpp.v16.ChargePoint.call(call.Heartbeat())
    floor_cpython        websockets send(json.dumps(CALL)), json.loads(recv())
All four share the one server, whose own cost per message caps every rate; so
each client also gets its own CPU time per round trip (cpu_us_per_call, from
getrusage of the child process: a run of `ms` minus a run of 0 ms), which the
server's speed does not enter.
"""
import asyncio
import json
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

WARM = 20
ANSWER = '[3,"%s",{"currentTime":"2026-01-01T00:00:00Z"}]'


async def _serve():
    from websockets.asyncio.server import serve

    async def handler(ws):
        async for msg in ws:
            try:
                uid = json.loads(msg)[1]
            except (ValueError, IndexError, TypeError):
                continue
            await ws.send(ANSWER % uid)
    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"], compression=None,
                     ping_interval=None) as server:
        print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
        # Serve until the parent closes our stdin.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


async def _timed(one, ms):
    for _ in range(WARM):
        await one()
    n = 0
    t0 = loop_time = asyncio.get_running_loop().time
    start = t0()
    while True:
        await one()
        n += 1
        took = (loop_time() - start) * 1000
        if took >= ms:
            break
    print("RESULT " + json.dumps({"calls": n, "ms": round(took, 1)}), flush=True)


async def _ocpp(url, ms):
    import logging
    from websockets.asyncio.client import connect
    from ocpp.v16 import ChargePoint, call
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    async with connect(url, subprotocols=["ocpp1.6"], compression=None, ping_interval=None) as ws:
        cp = ChargePoint("bench", ws)
        task = asyncio.create_task(cp.start())

        async def one():
            await cp.call(call.Heartbeat())
        await _timed(one, ms)
        task.cancel()


async def _floor(url, ms):
    from websockets.asyncio.client import connect
    async with connect(url, subprotocols=["ocpp1.6"], compression=None, ping_interval=None) as ws:
        seq = [0]

        async def one():
            seq[0] += 1
            await ws.send(json.dumps([2, str(seq[0]), "Heartbeat", {}]))
            ans = json.loads(await ws.recv())
            if ans[0] != 3:
                raise RuntimeError("not a CALLRESULT: %r" % (ans,))
        await _timed(one, ms)


def _client(cmd, env=None, timeout=120):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            r["per_s"] = round(r["calls"] * 1000.0 / r["ms"], 1) if r["ms"] else None
            r["cpu_s"] = cpu
            return r
    return {"error": "no result (exit %s): %s" % (p.returncode,
                                                  (p.stderr or p.stdout).strip()[-400:])}


def _run_client(cmd, env, ms):
    # Twice: with 0 ms (start-up, imports, warm-up, one call) and with `ms`; the
    # difference of the client's CPU time over the difference of calls is its own
    # cost per round trip, whatever the server's speed.
    r0 = _client(cmd + ["0"], env)
    r = _client(cmd + [str(ms)], env)
    if "error" not in r and "error" not in r0 and r["calls"] > r0["calls"]:
        r["cpu_us_per_call"] = round((r["cpu_s"] - r0["cpu_s"]) * 1e6 / (r["calls"] - r0["calls"]), 1)
    else:
        r["cpu_us_per_call"] = None
    r.pop("cpu_s", None)
    return r


def measure(ms=3000, log=None):
    """Run the four clients for `ms` each against one echo server."""
    import sim
    srv = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("the echo server did not start: %r" % line)
        url = "ws://127.0.0.1:%s/bench" % line.split()[1]
        client = os.path.join(ROOT, "host_tests", "mp", "bench_rpc_client.py")
        out = {}
        for name, runtime in (("charger_micropython", "micropython"),
                              ("charger_cpython", "cpython")):
            cmd, env = sim.command(runtime, "unused")
            out[name] = _run_client([cmd[0], client, url], env, ms)
            if log:
                log("  %-20s %s" % (name, out[name]))
        for name, mode in (("ocpp_cpython", "ocpp"), ("floor_cpython", "floor")):
            out[name] = _run_client([sys.executable, os.path.abspath(__file__), mode, url], None, ms)
            if log:
                log("  %-20s %s" % (name, out[name]))
    finally:
        srv.stdin.close()
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()

    def rate(name):
        return out[name].get("per_s")

    def ratio(a, b):
        return round(rate(a) / rate(b), 2) if rate(a) and rate(b) else None

    def cpu(a):
        return out[a].get("cpu_us_per_call")

    def cpu_ratio(a, b):
        # How many times less client CPU `a` needs per round trip than `b`.
        return round(cpu(b) / cpu(a), 2) if cpu(a) and cpu(b) else None
    out["ratios"] = {
        "charger_cpython_vs_ocpp": ratio("charger_cpython", "ocpp_cpython"),
        "charger_cpython_vs_floor": ratio("charger_cpython", "floor_cpython"),
        "charger_micropython_vs_floor": ratio("charger_micropython", "floor_cpython"),
        "charger_micropython_vs_ocpp": ratio("charger_micropython", "ocpp_cpython"),
        "cpu_charger_cpython_vs_ocpp": cpu_ratio("charger_cpython", "ocpp_cpython"),
        "cpu_charger_cpython_vs_floor": cpu_ratio("charger_cpython", "floor_cpython"),
    }
    return out


def main(argv):
    if argv[:1] == ["serve"]:
        asyncio.run(_serve())
    elif len(argv) == 3 and argv[0] in ("ocpp", "floor"):
        asyncio.run((_ocpp if argv[0] == "ocpp" else _floor)(argv[1], int(argv[2])))
    else:
        print(json.dumps(measure(int(argv[0]) if argv else 3000), indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
