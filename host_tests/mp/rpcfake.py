# What the handler scripts under host_tests/mp/ share: PASS/FAIL lines, a fake
# WebSocket that keeps what the charge point sends, and call(), which feeds one
# CALL through the real Rpc.on_frame and returns its answer. Runs on both
# runtimes. "REQ"/"RES" lines let the pytest side check the payloads against
# the official schemas.
import json

results = []


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


def done():
    print("DONE %d" % len(results))


class FakeWS:
    def __init__(self, size=8192, events=None):
        self.buf = bytearray(size)
        self.sent = []
        self.events = events
        self.broken = False

    async def send_pieces(self, n, make):
        # What the charger's rpc uses: the message in pieces, n bytes in all.
        data = b"".join(make())
        if len(data) != n:
            raise ValueError("announced %d bytes, made %d" % (n, len(data)))
        await self.send(data.decode())

    async def send(self, text):
        if self.broken:
            raise OSError("link gone")
        m = json.loads(text)
        self.sent.append(m)
        if self.events is not None:
            self.events.append(("ws", m))


_SEQ = [0]


async def call(cp, action, payload, req=False, res=True):
    """(CALLRESULT payload, None) or (None, (code, description)). req: print
    the request as a REQ line (for a valid one); res: print a CALLRESULT's
    payload as a RES line."""
    if req:
        print("REQ %s %s" % (action, json.dumps(payload)))
    _SEQ[0] += 1
    uid = "c%d" % _SEQ[0]
    data = json.dumps([2, uid, action, payload]).encode()
    cp.ws.buf[:len(data)] = data
    cp.ws.sent = []
    await cp.rpc.on_frame(cp.ws.buf, len(data), len(data))
    if len(cp.ws.sent) != 1 or cp.ws.sent[0][1] != uid:
        return None, ("no answer", repr(cp.ws.sent))
    m = cp.ws.sent[0]
    if m[0] == 3:
        if res:
            print("RES %s %s" % (action, json.dumps(m[2])))
        return m[2], None
    return None, (m[2], m[3])
