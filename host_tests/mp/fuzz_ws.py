# WebSocket-layer fuzzing of lib/ws.py, on both runtimes. A server byte stream
# is handed to the real WebSocket through stand-ins for its two stream
# primitives (no socket: thousands of streams a second), in chunks of chosen
# sizes, and what recv() returns, raises and writes back is compared with
# ref_events(), an independent reading of RFC 6455 for a client:
#   - reserved bits, a masked frame, an unknown opcode, a fragmented or long
#     (> 125) control frame, a continuation with nothing to continue, a new
#     data frame inside a fragmented message, a 64-bit length with its top bit
#     set, a 1-byte close: fail the connection (close 1002, WSError);
#   - ping: answered by a pong with the same payload, masked;
#   - close: echoed with the same code, then the stream ends (EOFError);
#   - a message longer than the buffer: its first `cap` bytes and its length.
# Used by tools/fuzz.py (hypothesis, CPython) and, as a script, under
# MicroPython:  fuzz_ws.py SEED COUNT  prints PASS/FAIL lines and DONE.
import asyncio
import ws as wslib
from compat import MICROPYTHON


class Stream:
    """Server-to-client bytes, handed out at most chunks[i] bytes per read."""

    def __init__(self, data, chunks=None):
        self.data = data
        self.pos = 0
        self.chunks = chunks or [1 << 30]
        self.ci = 0

    def _take(self, n):
        k = min(n, len(self.data) - self.pos, self.chunks[self.ci % len(self.chunks)])
        self.ci += 1
        return k

    def readinto(self, mv):   # the MicroPython path (a non-blocking socket)
        k = self._take(len(mv))
        mv[:k] = self.data[self.pos:self.pos + k]
        self.pos += k
        return k

    async def readexactly(self, n):   # the CPython path (asyncio.StreamReader)
        if len(self.data) - self.pos < n:
            part = self.data[self.pos:]
            self.pos = len(self.data)
            raise asyncio.IncompleteReadError(part, n)
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def close(self):
        pass


class Out:
    """What the client writes; also its transport (abort) on CPython."""

    def __init__(self):
        self.data = bytearray()
        self.transport = self
        self.closed = False

    def write(self, b):
        self.data += bytes(b)

    async def drain(self):
        pass

    def close(self):
        self.closed = True

    def abort(self):
        self.closed = True


def _be(b, i, k):
    n = 0
    for j in range(i, i + k):
        n = n << 8 | b[j]
    return n


def ref_events(s, cap):
    """The events RFC 6455 asks of a client reading stream s with a cap-byte
    buffer: ("msg", op, total, first cap bytes), ("pong", payload) for each
    ping, then one end: ("close", code bytes), ("fail", truncated) or ("eof",).
    `truncated`: the stream ended inside the part of the offending frame that
    shows the fault, where a client that reads it first sees the end instead."""
    ev, pos, size = [], 0, len(s)
    op0, total, kept = 0, 0, bytearray()
    while True:
        if pos + 2 > size:
            ev.append(("eof",))
            return ev
        b0, b1 = s[pos], s[pos + 1]
        fin, op, n = b0 & 0x80, b0 & 15, b1 & 127
        hdr = 2 + (2 if n == 126 else 8 if n == 127 else 0)
        short = pos + hdr > size
        if b0 & 0x70 or b1 & 0x80 or 2 < op < 8 or op > 10:
            ev.append(("fail", short))
            return ev
        if short:
            ev.append(("eof",))
            return ev
        if hdr > 2:
            n = _be(s, pos + 2, hdr - 2)
        pos += hdr
        if op >= 8:
            if not fin or n > 125 or (op == 8 and n == 1):
                # A 1-byte close is only seen bad once its byte has come.
                ev.append(("fail", op == 8 and n == 1 and pos + 1 > size))
                return ev
        elif (op == 0 and not op0) or (op != 0 and op0) or n >> 63:
            ev.append(("fail", False))
            return ev
        if pos + n > size:
            ev.append(("eof",))
            return ev
        body = s[pos:pos + n]
        pos += n
        if op == 9:
            ev.append(("pong", bytes(body)))
        elif op == 8:
            ev.append(("close", bytes(body[:2])))
            return ev
        elif op < 8:
            op0 = op0 or op
            total += n
            if len(kept) < cap:
                kept += body[:cap - len(kept)]
            if fin:
                ev.append(("msg", op0, total, bytes(kept)))
                op0, total, kept = 0, 0, bytearray()


def client_frames(b):
    """Frames a client wrote: [(fin, op, masked, payload)]; None if unparseable."""
    out, pos = [], 0
    while pos < len(b):
        if pos + 2 > len(b):
            return None
        b0, b1 = b[pos], b[pos + 1]
        n, pos = b1 & 127, pos + 2
        if n >= 126:
            k = 2 if n == 126 else 8
            n = _be(b, pos, k)
            pos += k
        key = b[pos:pos + 4] if b1 & 0x80 else b"\0\0\0\0"
        pos += 4 if b1 & 0x80 else 0
        if pos + n > len(b):
            return None
        body = bytes(b[pos + i] ^ key[i & 3] for i in range(n))
        out.append((b0 & 0x80, b0 & 15, bool(b1 & 0x80), body))
        pos += n
    return out


async def run_stream(s, cap, chunks=None):
    """Feed s to a WebSocket with a cap-byte buffer; returns (events, written
    frames, problem or None)."""
    src, out = Stream(s, chunks), Out()
    w = wslib.WebSocket(cap)
    if MICROPYTHON:
        w._sock = src
    else:
        w._r = src
    w._w = out
    ev = []
    while True:
        try:
            op, n, total = await w.recv()
        except wslib.WSError:
            ev.append(("fail",))
            break
        except EOFError:
            ev.append(("end",))
            break
        except Exception as e:
            return ev, None, "recv() raised %r" % (e,)
        ev.append(("msg", op, total, bytes(w.buf[:n])))
        if n > cap or n != min(total, cap):
            return ev, None, "recv() gave n=%d total=%d with a %d byte buffer" % (n, total, cap)
    if not w.closed:
        return ev, None, "the connection is still open after %r" % (ev[-1],)
    try:
        await w.recv()
        return ev, None, "recv() after the end returned"
    except EOFError:
        pass
    except Exception as e:
        return ev, None, "recv() after the end raised %r" % (e,)
    return ev, client_frames(out.data), None


def compare(s, cap, got, frames, problem):
    """None when the WebSocket did what ref_events says, else why not."""
    if problem:
        return problem
    want = ref_events(s, cap)
    msgs = [e for e in want if e[0] == "msg"]
    pongs = [e[1] for e in want if e[0] == "pong"]
    end = want[-1]
    if [e for e in got if e[0] == "msg"] != msgs:
        return "messages differ: got %s, want %s" % (_short(got), _short(msgs))
    kind = got[-1][0]
    if end[0] == "fail" and kind != "fail" and not (end[1] and kind == "end"):
        return "protocol error not reported (got %s)" % kind
    if end[0] != "fail" and kind != "end":
        return "connection failed where RFC 6455 allows the stream (%s)" % end[0]
    if frames is None:
        return "the client wrote an unparseable frame"
    for fin, op, masked, body in frames:
        if not masked or not fin:
            return "client frame op %d not masked or not final" % op
    sent_pongs = [f[3] for f in frames if f[1] == 10]
    closes = [f[3] for f in frames if f[1] == 8]
    if sent_pongs != pongs[:len(sent_pongs)] or len(sent_pongs) != len(pongs):
        return "pongs sent %s, pings seen %s" % (_short(sent_pongs), _short(pongs))
    if [f for f in frames if f[1] not in (8, 10)]:
        return "the client sent a frame that is neither pong nor close"
    if end[0] == "close" and closes != [end[1]]:
        return "close echo %s, want [%r]" % (closes, end[1])
    if end[0] == "fail" and kind == "fail" and closes != [b"\x03\xea"]:
        return "protocol error closed with %s, want 1002" % (closes,)
    if end[0] == "eof" and closes:
        return "close sent on a plain end of stream"
    return None


def _short(x):
    s = repr(x)
    return s if len(s) < 200 else s[:200] + "..."


# ---- random streams (the rnd object: random.Random or MicroPython's random)
_SIZES = (0, 1, 2, 7, 125, 126, 127, 200, 1000, 65535, 65536)


def frame(op, body, fin=True, rsv=0, mask=None, form=None):
    n = len(body)
    h = bytearray([(0x80 if fin else 0) | rsv | op])
    form = form if form is not None else (0 if n < 126 else 1 if n < 65536 else 2)
    m = 0x80 if mask else 0
    if form == 0:
        h.append(m | n)
    elif form == 1:
        h.append(m | 126)
        h += bytes([n >> 8 & 255, n & 255])
    else:
        h.append(m | 127)
        h += bytes([(n >> (8 * (7 - i))) & 255 for i in range(8)])
    if mask:
        h += mask
        body = bytes(body[i] ^ mask[i & 3] for i in range(n))
    return bytes(h) + bytes(body)


def _body(rnd, n):
    if n > 300:
        return bytes([65 + rnd.randint(0, 25)]) * n
    return bytes([rnd.randint(0, 255) for _ in range(n)])


def _size(rnd, cap):
    r = rnd.randint(0, 9)
    if r < 4:
        return rnd.randint(0, 40)
    if r < 7:
        return rnd.choice((cap - 1, cap, cap + 1, 2 * cap + 3))
    if r < 9:
        return rnd.choice(_SIZES[:-2])
    return rnd.choice(_SIZES)


def gen_frames(rnd, cap):
    """A list of frames a server might send, mostly valid, some not."""
    out = []
    for _ in range(rnd.randint(1, 6)):
        k = rnd.randint(0, 29)
        if k >= 18:
            k = rnd.choice((0, 6, 9, 18))
        if k < 6:   # a whole data message, sometimes with a longer length form than needed
            n = _size(rnd, cap)
            form = rnd.choice((None, None, None, 1, 2)) if n < 65536 else None
            out.append(frame(rnd.choice((1, 1, 2)), _body(rnd, n), form=form))
        elif k < 9:   # fragmented, with control frames in between
            parts = rnd.randint(2, 4)
            for i in range(parts):
                out.append(frame(rnd.choice((1, 2)) if i == 0 else 0,
                                  _body(rnd, _size(rnd, cap) // parts), fin=i == parts - 1))
                if rnd.randint(0, 2) == 0:
                    out.append(frame(rnd.choice((9, 10)), _body(rnd, rnd.randint(0, 125))))
        elif k < 12:
            out.append(frame(rnd.choice((9, 9, 10)), _body(rnd, rnd.choice((0, 1, 5, 125)))))
        elif k == 12:
            body = rnd.choice((b"", b"\x03", b"\x03\xe8", b"\x03\xe9bye", b"\x0f\xa0x",
                               b"\x03\xe8\xff\xfe"))
            out.append(frame(8, body))
        elif k == 13:   # reserved bits, masking, unknown opcodes
            v = rnd.randint(0, 2)
            key = bytes([rnd.randint(0, 255) for _ in range(4)]) if v == 1 else None
            out.append(frame(rnd.choice((1, 2, 9)) if v < 2 else rnd.choice((3, 7, 11, 15)),
                             _body(rnd, rnd.randint(0, 20)),
                             rsv=rnd.choice((0x10, 0x20, 0x40)) if v == 0 else 0, mask=key))
        elif k == 14:   # fragmented or oversized control frame
            if rnd.randint(0, 1):
                out.append(frame(rnd.choice((8, 9, 10)), _body(rnd, 3), fin=False))
            else:
                out.append(frame(rnd.choice((9, 10)), _body(rnd, 126), form=1))
        elif k == 15:   # continuation without a start, or data inside a fragmented message
            if rnd.randint(0, 1):
                out.append(frame(0, _body(rnd, 4)))
            else:
                out.append(frame(1, b"ab", fin=False) + frame(1, b"cd"))
        elif k == 16:   # a 64-bit length with the top bit set, or a huge one
            hi = rnd.choice((0x80, 0x7f, 0x00))
            out.append(bytes([0x81, 127, hi, 0, 0, 0, 0, 0, 0, 5]) + b"hello")
        elif k == 17:   # random bytes
            out.append(bytes([rnd.randint(0, 255) for _ in range(rnd.randint(1, 12))]))
        else:
            out.append(frame(1, b'[2,"w%d","Heartbeat",{}]' % rnd.randint(0, 999)))
    return out


def gen_stream(rnd, cap):
    """(stream bytes, chunk sizes or None): frames, sometimes cut short."""
    s = b"".join(gen_frames(rnd, cap))
    if s and rnd.randint(0, 4) == 0:
        s = s[:rnd.randint(0, len(s) - 1)]
    chunks = None
    if rnd.randint(0, 2) == 0:
        chunks = [rnd.randint(1, 40) for _ in range(rnd.randint(1, 5))]
    return s, chunks


async def check_stream(s, cap, chunks=None):
    got, frames, problem = await run_stream(s, cap, chunks)
    return compare(s, cap, got, frames, problem)


def _hex(b):
    return "".join("%02x" % c for c in b)


async def _main(seed, count):
    import random
    import log
    log.level = log.ERROR + 10
    random.seed(seed)
    bad = 0
    for i in range(count):
        cap = random.choice((128, 256, 1024))
        s, chunks = gen_stream(random, cap)
        why = await check_stream(s, cap, chunks)
        if why:
            bad += 1
            if bad <= 10:
                print("FAIL ws-stream-%d: %s; cap %d chunks %s stream %s" % (
                    i, why, cap, chunks, _hex(s[:300])))
    if not bad:
        print("PASS ws-random-streams %d" % count)
    print("DONE %d" % count)


if __name__ == "__main__":
    import sys
    asyncio.run(_main(int(sys.argv[1]) if len(sys.argv) > 1 else 1,
                      int(sys.argv[2]) if len(sys.argv) > 2 else 300))
