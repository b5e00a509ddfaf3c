# MicroPython only: the WebSocket client on a small heap, with precompiled
# modules as on a board. Prints MSG/ALLOC lines that test_ws.py asserts on.
#   micropython -X heapsize=N ws_mp_heap.py PORT TAG
import sys
import gc
import asyncio
import ws


async def show(c):
    op, n, total = await c.recv()
    print("MSG", op, n, total, bytes(c.buf[:min(n, 40)]).decode())
    return total


async def main(port, tag):
    c = await ws.connect("ws://127.0.0.1:%d/big/%s" % (port, tag))
    gc.collect()
    gc.disable()   # count every byte the receive path allocates
    before = gc.mem_alloc()
    op, n, total = await c.recv()
    print("ALLOC", gc.mem_alloc() - before, total)
    gc.enable()
    print("MSG", op, n, total, bytes(c.buf[:40]).decode())
    for _ in range(3):
        await show(c)
    await c.send("still up")
    await show(c)
    await c.close()
    buf = c.buf
    c = None
    gc.collect()
    # A message ten times the buffer; the heap could not hold it.
    c = await ws.connect("ws://127.0.0.1:%d/huge/%s" % (port, tag), buf=buf)
    await show(c)
    await show(c)
    await c.close()
    gc.collect()
    print("CLOSED", c.closed, "free", gc.mem_free())


asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
