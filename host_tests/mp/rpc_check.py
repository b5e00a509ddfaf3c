# RPC layer checks, run under MicroPython and CPython by test_rpc.py, on the
# real charge point's Rpc. argv[1]: an empty directory. Prints one line per
# case: "PASS name" or "FAIL name: why".
import sys
import json
import asyncio
from firmware.ocpp.rpc import CallError, CallTimeout
from realcp import RealCP


class FakeWS:
    def __init__(self, size=512):
        self.buf = bytearray(size)
        self.sent = []
        self.frames = []

    def feed(self, data, total=None):
        self.frames.append((bytes(data), total))

    async def recv(self):
        while not self.frames:
            await asyncio.sleep(0.001)
        data, total = self.frames.pop(0)
        n = min(len(data), len(self.buf))
        self.buf[:n] = data[:n]
        return 1, n, total if total is not None else len(data)

    async def send_pieces(self, n, make):
        # What the charger's rpc uses: the message in pieces, n bytes in all.
        data = b"".join(make())
        if len(data) != n:
            raise ValueError("announced %d bytes, made %d" % (n, len(data)))
        await self.send(data.decode())

    async def send(self, text):
        self.sent.append(json.loads(text))


async def frame(rpc, ws, data, total=None):
    ws.sent = []
    ws.feed(data, total)
    op, n, t = await ws.recv()
    await rpc.on_frame(ws.buf, n, t)
    return ws.sent


results = []


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, detail)))


def err_code(sent):
    if len(sent) == 1 and sent[0][0] == 4:
        return sent[0][1], sent[0][2], sent[0][3]
    return None, None, None


async def main():
    ws = FakeWS()
    rpc = RealCP(sys.argv[1]).rpc
    rpc.attach(ws)

    s = await frame(rpc, ws, b'[2,"a1","DataTransfer",{"vendorId":"x"}]')
    expect("call_answered", s == [[3, "a1", {"status": "UnknownVendorId"}]], s)

    s = await frame(rpc, ws, b'[2,"u1","FooBar",{}]')
    expect("unknown_action_not_implemented", err_code(s)[:2] == ("u1", "NotImplemented"), s)

    s = await frame(rpc, ws, b'[2,"u2","ExtendedTriggerMessage",{}]')
    expect("extended_trigger_needs_its_field",
           err_code(s)[:2] == ("u2", "OccurenceConstraintViolation"), s)

    s = await frame(rpc, ws, b'[2,"b1","DataTransfer",{}]')
    expect("missing_field_occurrence", err_code(s)[:2] == ("b1", "OccurenceConstraintViolation"), s)

    s = await frame(rpc, ws, b'[2,"b2","DataTransfer",{"vendorId":5}]')
    expect("wrong_type_type_violation", err_code(s)[:2] == ("b2", "TypeConstraintViolation"), s)

    s = await frame(rpc, ws, b'[2,"b3","DataTransfer",{"vendorId":"' + b"v" * 300 + b'"}]')
    expect("too_long_property_violation", err_code(s)[:2] == ("b3", "PropertyConstraintViolation"), s)

    s = await frame(rpc, ws, b'[2,"b4","DataTransfer",{"vendorId":"x","zzz":1}]')
    expect("extra_field_formation", err_code(s)[:2] == ("b4", "FormationViolation"), s)

    s = await frame(rpc, ws, b'[2,"b5","DataTransfer",[1]]')
    expect("payload_not_object_formation", err_code(s)[:2] == ("b5", "FormationViolation"), s)

    s = await frame(rpc, ws, b'[2,"b6","DataTransfer"]')
    expect("call_too_short_protocol", err_code(s)[:2] == ("b6", "ProtocolError"), s)

    s = await frame(rpc, ws, b'[2,"j1","DataTransfer",{"vendorId":')
    expect("not_json_with_id_formation", err_code(s)[:2] == ("j1", "FormationViolation"), s)

    # A good frame the heap cannot hold: InternalError, not the sender's fault.
    import firmware.ocpp.rpc as rpc_mod
    real_parse = rpc_mod.parse

    def no_memory(buf, n):
        raise MemoryError("memory allocation failed")
    rpc_mod.parse = no_memory
    try:
        s = await frame(rpc, ws, b'[2,"m1","DataTransfer",{"vendorId":"x"}]')
    finally:
        rpc_mod.parse = real_parse
    expect("no_memory_internal_error", err_code(s)[:2] == ("m1", "InternalError"), s)

    s = await frame(rpc, ws, b'garbage')
    expect("garbage_dropped", s == [], s)

    s = await frame(rpc, ws, b'{"a":1}')
    expect("not_array_dropped", s == [], s)

    s = await frame(rpc, ws, b'[7,"t1",{}]')
    expect("bad_type_protocol", err_code(s)[:2] == ("t1", "ProtocolError"), s)

    s = await frame(rpc, ws, b'[2,"' + b"i" * 37 + b'","DataTransfer",{"vendorId":"x"}]')
    expect("id_too_long_formation", err_code(s)[1] == "FormationViolation", s)

    big = b'[2,"big1","DataTransfer",{"vendorId":"x","data":"' + b"d" * 2000 + b'"}]'
    s = await frame(rpc, ws, big[:512], total=len(big))
    c = err_code(s)
    expect("too_large_formation", c[:2] == ("big1", "FormationViolation")
           and "too large" in c[2] and "512" in c[2], s)

    s = await frame(rpc, ws, b'[3,"nobody",{}]')
    expect("stray_result_ignored", s == [], s)

    def bad_vendor(mid, data):
        raise RuntimeError("boom")
    rpc.cp.vendors["bad"] = bad_vendor
    s = await frame(rpc, ws, b'[2,"h1","DataTransfer",{"vendorId":"bad"}]')
    expect("handler_crash_internal_error", err_code(s)[:2] == ("h1", "InternalError"), s)

    # Outgoing call answered by CALLRESULT, matched by id.
    ws.sent = []
    task = asyncio.create_task(rpc.call("Heartbeat", {}, 2))
    await asyncio.sleep(0.01)
    uid = ws.sent[0][1]
    ok_shape = ws.sent[0][0] == 2 and ws.sent[0][2] == "Heartbeat" and len(uid) <= 36
    await frame(rpc, ws, b'[3,"other",{}]')
    await frame(rpc, ws, json.dumps([3, uid, {"currentTime": "2026-01-01T00:00:00Z"}]).encode())
    res = await task
    expect("call_result_matched", ok_shape and res == {"currentTime": "2026-01-01T00:00:00Z"}, res)

    ws.sent = []
    task = asyncio.create_task(rpc.call("Heartbeat", {}, 2))
    await asyncio.sleep(0.01)
    uid = ws.sent[0][1]
    await frame(rpc, ws, json.dumps([4, uid, "GenericError", "nope", {}]).encode())
    try:
        await task
        expect("call_error_raised", False, "no exception")
    except CallError as e:
        expect("call_error_raised", e.code == "GenericError" and e.description == "nope", e)

    ws.sent = []
    try:
        await rpc.call("Heartbeat", {}, 0.2)
        expect("call_timeout", False, "no timeout")
    except CallTimeout:
        expect("call_timeout", True)
    # A late answer to the timed-out call is ignored.
    s = await frame(rpc, ws, json.dumps([3, ws.sent[0][1], {}]).encode())
    expect("late_answer_ignored", s == [], s)

    # One call in flight: the second waits for the first.
    ws.sent = []
    t1 = asyncio.create_task(rpc.call("Heartbeat", {}, 2))
    t2 = asyncio.create_task(rpc.call("Heartbeat", {}, 2))
    await asyncio.sleep(0.02)
    one = len(ws.sent) == 1
    await frame(rpc, ws, json.dumps([3, ws.sent[0][1], {}]).encode())
    await t1
    await asyncio.sleep(0.02)
    two = len(ws.sent) == 1
    await frame(rpc, ws, json.dumps([3, ws.sent[0][1], {}]).encode())
    await t2
    expect("one_call_in_flight", one and two)


asyncio.run(main())
print("DONE %d" % len(results))
