# Round trips of the charger's own OCPP stack (lib/ws.py and the RPC of
# firmware/ocpp/rpc.py) against the echo central system of tools/bench_rpc.py.
# Runs unchanged on MicroPython and CPython:
#   bench_rpc_client.py ws://127.0.0.1:PORT/ID MILLISECONDS
# and prints one line: RESULT {"calls": N, "ms": elapsed}.
import sys
import json
import asyncio
import ws as wslib
from compat import ticks_ms, ticks_diff
from firmware.ocpp.rpc import Rpc

WARM = 20   # calls before the clock starts: imports, first allocations


async def main(url, ms):
    link = await wslib.connect(url)
    rpc = Rpc(None)  # the charge point is only needed by inbound handlers
    rpc.attach(link)
    reader = asyncio.create_task(rpc.serve())
    for _ in range(WARM):
        await rpc.call("Heartbeat", {})
    n = 0
    t0 = ticks_ms()
    while True:
        await rpc.call("Heartbeat", {})
        n += 1
        took = ticks_diff(ticks_ms(), t0)
        if took >= ms:
            break
    reader.cancel()
    try:
        await link.close()
    except Exception:
        pass
    print("RESULT " + json.dumps({"calls": n, "ms": took}))


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
