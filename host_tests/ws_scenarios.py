# Client-side scenarios for lib/ws.py. The same code runs under CPython (in
# process, from test_ws.py) and under MicroPython:
#   micropython ws_scenarios.py '<json config>' NAME...
# which prints one "RESULT NAME OK" / "RESULT NAME FAIL why" line per scenario.
# The servers (ws_servers.py) record their side; test_ws.py asserts on both.
import sys
import json
import asyncio
import ws
from compat import ticks_ms, ticks_diff, MICROPYTHON


def big_text(n, uid):
    head = '[2,"%s","DataTransfer",{"data":"' % uid
    m = n - len(head) - 3
    body = ("abcdefghijklmnopqrstuvwxyz" * (m // 26 + 1))[:m]
    return head + body + '"}]'


class Env:
    def __init__(self, cfg):
        for k in cfg:
            setattr(self, k, cfg[k])

    def url(self, kind, extra=""):
        return "ws://127.0.0.1:%d/%s/%s%s" % (self.ws_port, kind, self.tag, extra)

    def raw(self, kind, extra=""):
        return "ws://127.0.0.1:%d/%s/%s%s" % (self.raw_port, kind, self.tag, extra)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def text(c, n):
    return bytes(c.buf[:n]).decode()


async def recv_text(c):
    op, n, total = await c.recv()
    check(op == 1 and n == total, "expected a whole text message, got %r" % ((op, n, total),))
    return text(c, n)


async def expect(exc_type, coro, *needles):
    try:
        await coro
    except exc_type as e:
        for s in needles:
            check(s in str(e), "%r not in %s: %s" % (s, type(e).__name__, e))
        return e
    raise AssertionError("no %s raised" % exc_type.__name__)


async def handshake_error(url, status, *needles, **kw):
    e = await expect(ws.HandshakeError, ws.connect(url, **kw), *needles)
    check(e.status == status, "status %r, want %r (%s)" % (e.status, status, e))
    check("\n" not in str(e), "message is not one line: %r" % str(e))
    return e


async def reader(c, out):
    # Background receiver: keeps pongs flowing, records how recv() ended.
    try:
        while True:
            op, n, total = await c.recv()
            out.append(("msg", op, bytes(c.buf[:n])))
    except Exception as e:
        out.append(("exc", type(e).__name__, str(e)))


async def wait_until(cond, ms):
    t0 = ticks_ms()
    while not cond():
        if ticks_diff(ticks_ms(), t0) > ms:
            return False
        await asyncio.sleep_ms(10) if MICROPYTHON else await asyncio.sleep(0.01)
    return True


# ---- pure helpers
async def sc_urls(env):
    j = ws.join_url
    check(j("ws://h:9000/ocpp", "CP-1") == "ws://h:9000/ocpp/CP-1", "plain id")
    check(j("ws://h:9000/ocpp/", "CP 1/\u00e4~._-") == "ws://h:9000/ocpp/CP%201%2F%C3%A4~._-",
          "encoded id: %s" % j("ws://h:9000/ocpp/", "CP 1/\u00e4~._-"))
    check(j("wss://h/", "a:b?c#d%") == "wss://h/a%3Ab%3Fc%23d%25", "reserved chars")
    await expect(ws.WSError, _call(j, "ws://h", ""), "identity")
    p = ws.parse_url
    check(p("ws://127.0.0.1/ocpp/CP1") == (False, "127.0.0.1", 80, "/ocpp/CP1"), "ws default")
    check(p("wss://example.com/x") == (True, "example.com", 443, "/x"), "wss default")
    check(p("ws://10.0.0.2:9000") == (False, "10.0.0.2", 9000, "/"), "no path")
    check(p("WS://h:1/a%20b?x=1&y=2")[3] == "/a%20b?x=1&y=2", "path kept as given")
    check(p("ws://h?x=1")[3] == "/?x=1", "query only")
    for bad in ("http://h/", "ws://", "ws://h:0/", "ws://h:99999/", "ws://h:abc/",
                "ws://u:p@h/", "ws://h/a b", None):
        await expect(ws.WSError, _call(p, bad), "bad URL")


async def _call(fn, *a):
    return fn(*a)


async def sc_argerrors(env):
    await expect(ws.WSError, ws.connect("http://127.0.0.1/"), "ws://")
    await handshake_error("wss://127.0.0.1:1/x", None, "TLS context")
    await expect(ws.WSError, ws.connect(env.url("echo"), bufsize=16), "too small")
    await expect(ws.WSError, ws.connect(env.url("echo"), buf=bytearray(64)), "too small")
    await expect(ws.WSError, ws.connect(env.url("echo"), auth=("a:b", "c")), "':'")
    await expect(ws.WSError, ws.connect(env.url("echo"), headers=[("X", "a\r\nb")]), "header")
    c = await ws.connect(env.url("echo"))
    await expect(ws.WSError, c.send("x", 9), "opcode")
    await expect(ws.WSError, c.ping(b"x" * 126), "125")
    await c.close()


# ---- handshake
async def sc_hdrs(env):
    c = await ws.connect(env.raw("hdrs", "/CP%201?x=1"), auth=("CP-1", "s3cret pass"),
                         headers=[("X-Test", "yes")])
    check(await recv_text(c) == "hello", "first message")
    await c.close()
    c = await ws.connect(env.raw("hdrs2"))
    await c.close()


async def sc_websockets_ok(env):
    c = await ws.connect(env.url("echo"))
    check(c.subprotocol == "ocpp1.6", "subprotocol %r" % c.subprotocol)
    await c.send("[2,\"1\",\"Heartbeat\",{}]")
    check(await recv_text(c) == "[2,\"1\",\"Heartbeat\",{}]", "echo")
    await c.close()


async def sc_auth_ok(env):
    c = await ws.connect(env.url("auth"), auth=("CP-1", "s3cret pass"))
    await c.send("authorised")
    check(await recv_text(c) == "authorised", "echo after auth")
    await c.close()


async def sc_auth_401(env):
    await handshake_error(env.url("auth"), 401, "401 Unauthorized", auth=("CP-1", "wrong"))
    await handshake_error(env.url("auth"), 401, "401 Unauthorized")
    await handshake_error(env.raw("r401"), 401, "401 Unauthorized", "password")


async def sc_404(env):
    await handshake_error(env.url("missing"), 404, "404 Not Found", "URL")
    await handshake_error(env.raw("r404"), 404, "404 Not Found")


async def sc_500(env):
    await handshake_error(env.raw("r500"), 500, "500 Internal Server Error")
    await handshake_error(env.raw("r418"), 418, "418 I'm a teapot")


async def sc_badaccept(env):
    await handshake_error(env.raw("badaccept"), 101, "Sec-WebSocket-Accept")


async def sc_noproto(env):
    await handshake_error(env.raw("noproto"), 101, "server did not accept subprotocol ocpp1.6")
    await handshake_error(env.raw("wrongproto"), 101,
                          "server did not accept subprotocol ocpp1.6 (it chose ocpp2.0.1)")


async def sc_garbage(env):
    await handshake_error(env.raw("garbage"), None, "not HTTP")


async def sc_timeout(env):
    t0 = ticks_ms()
    await handshake_error(env.raw("hang"), None, "within 300 ms", timeout_ms=300)
    dt = ticks_diff(ticks_ms(), t0)
    check(250 <= dt < 1500, "timeout took %d ms" % dt)


async def sc_refused(env):
    await handshake_error("ws://127.0.0.1:%d/x" % env.closed_port, None, "refused",
                          "127.0.0.1:%d" % env.closed_port)


async def sc_longhdr(env):
    c = await ws.connect(env.raw("longhdr"), bufsize=128)
    check(await recv_text(c) == "hello", "message after a long header")
    await c.close()


# ---- data frames
async def sc_echo(env):
    c = await ws.connect(env.url("echo"), bufsize=80000)
    big = big_text(70000, "uid-echo")
    cases = [("hello", 1), ("Gr\u00fc\u00dfe \u26a1 ok", 1), ("x" * 125, 1), ("y" * 126, 1),
             ("z" * 300, 1), (big, 1), (bytes(range(256)), 2),
             (bytearray(b"\x00\xff" * 100), 2), (memoryview(b"abcdef")[1:4], 2), ("", 1)]
    for data, op in cases:
        await c.send(data, op)
        want = data.encode() if isinstance(data, str) else bytes(data)
        op2, n, total = await c.recv()
        check(op2 == op and n == total == len(want), "%r for %d bytes" % ((op2, n, total), len(want)))
        check(bytes(c.buf[:n]) == want, "echo differs for a %d-byte message" % len(want))
    await c.close()


async def sc_mask(env):
    c = await ws.connect(env.raw("mask"))
    for s in ("Hello", "Hello", ""):
        await c.send(s)
        check(await recv_text(c) == s, "echo of %r" % s)
    await c.close()


async def sc_frag(env):
    c = await ws.connect(env.url("frag"))
    check(await c.recv() == (1, 11, 11) and text(c, 11) == "Hello World", "text fragments")
    check(await c.recv() == (2, 4, 4) and bytes(c.buf[:4]) == b"\x00\x01\x02\xff", "binary")
    await c.send("after")
    check(await recv_text(c) == "after", "usable after fragments")
    await c.close()


async def sc_interleave(env):
    c = await ws.connect(env.raw("interleave"))
    check(await recv_text(c) == "abcdef", "control frames inside a fragmented message")
    check(await recv_text(c) == "pong:p1", "server saw our pong")
    check(c.last_pong_ms is not None, "unsolicited pong not recorded")
    await c.close()


async def sc_sping(env):
    c = await ws.connect(env.url("sping"))
    check(await recv_text(c) == "pong ok", "server ping answered")
    await c.close()


async def sc_cping(env):
    c = await ws.connect(env.url("echo"))
    await c.ping(b"abc")
    await c.send("x")
    check(await recv_text(c) == "x", "echo")
    check(c.last_pong_ms is not None, "pong recorded")
    await c.close()


async def sc_big(env):
    c = await ws.connect(env.url("big"), bufsize=256)
    for total, uid, after in ((20000, "uid-big-1", "after-big"), (15000, "uid-frag-2", "after-frag")):
        op, n, tot = await c.recv()
        check((op, n, tot) == (1, 256, total), "oversized: %r" % ((op, n, tot),))
        check(text(c, n) == big_text(total, uid)[:256], "first bytes of the big message")
        check(await recv_text(c) == after, "next message after the big one")
    await c.send("still up")
    check(await recv_text(c) == "still up", "connection usable after truncation")
    await c.close()


async def sc_small_heap(env):
    # Default 8 KiB buffer; test_ws also runs this on a 64 KiB MicroPython heap.
    c = await ws.connect(env.url("big"))
    for total, uid, after in ((20000, "uid-big-1", "after-big"), (15000, "uid-frag-2", "after-frag")):
        op, n, tot = await c.recv()
        check((op, n, tot) == (1, 8192, total), "oversized: %r" % ((op, n, tot),))
        check(text(c, 200) == big_text(300, uid)[:200], "first bytes of the big message")
        check(await recv_text(c) == after, "next message after the big one")
    await c.send("still up")
    check(await recv_text(c) == "still up", "connection usable after truncation")
    await c.close()


async def sc_recv_cancel(env):
    c = await ws.connect(env.url("echo"))
    await expect(asyncio.TimeoutError, asyncio.wait_for(c.recv(), 0.2))
    check(not c.closed, "idle recv() cancelled should not drop the link")
    await c.send("x")
    check(await recv_text(c) == "x", "usable after a cancelled idle recv")
    await c.close()


# ---- protocol violations (the raw server checks our 1002)
_VIOLATIONS = {"badop": "opcode", "masked": "masked", "fragping": "fragmented control",
               "bigping": "125", "rsv": "reserved", "cont": "continuation",
               "newdata": "fragmented message", "close1": "1-byte", "hugelen": "length"}


async def sc_violations(env):
    for kind in _VIOLATIONS:
        c = await ws.connect(env.raw(kind))
        await expect(ws.WSError, c.recv(), "protocol error", _VIOLATIONS[kind])
        check(c.closed, "%s: still open" % kind)
        await expect(EOFError, c.recv())


async def sc_trunc(env):
    c = await ws.connect(env.raw("trunc"))
    await expect(EOFError, c.recv(), "without a close frame")
    check(c.closed, "closed after a truncated frame")


# ---- closing
async def sc_server_close(env):
    c = await ws.connect(env.url("sclose"))
    check(await recv_text(c) == "bye", "message before close")
    await expect(EOFError, c.recv(), "1001", "going away")
    check(c.closed and c.close_code == 1001 and c.close_reason == "going away", "close info")


async def sc_raw_closeme(env):
    c = await ws.connect(env.raw("closeme"))
    await expect(EOFError, c.recv(), "1001", "bye")
    check(c.closed, "closed")


async def sc_client_close(env):
    c = await ws.connect(env.url("echo"))
    await c.send("x")
    await recv_text(c)
    t0 = ticks_ms()
    await c.close(1000, "done")
    dt = ticks_diff(ticks_ms(), t0)
    check(c.closed and dt < 1000, "close took %d ms" % dt)
    await expect(EOFError, c.recv())
    await expect(EOFError, c.send("late"))
    await c.close()


async def sc_close_while_reading(env):
    c = await ws.connect(env.url("echo"))
    out = []
    t = asyncio.create_task(reader(c, out))
    await asyncio.sleep(0.05)
    await c.close(1000, "bye")
    check(await wait_until(lambda: out, 1000), "reader did not end")
    check(out[0][:2] == ("exc", "EOFError"), "reader ended with %r" % (out,))
    await t


async def sc_close_noanswer(env):
    c = await ws.connect(env.raw("noclose"))
    c.close_timeout_ms = 300
    t0 = ticks_ms()
    await c.close()
    dt = ticks_diff(ticks_ms(), t0)
    check(c.closed and 250 <= dt < 1500, "close without answer took %d ms" % dt)


async def sc_close_cancelled(env):
    # Cut short by the caller's own timeout, close() still drops the link.
    c = await ws.connect(env.raw("noclose"))
    await expect(asyncio.TimeoutError, asyncio.wait_for(c.close(), 0.2))
    check(c.closed, "cancelled close() left the connection open")


async def sc_close_after_reader_cancel(env):
    # What a session does on teardown: cancel its reader, then close().
    c = await ws.connect(env.url("echo"))
    out = []
    t = asyncio.create_task(reader(c, out))
    await asyncio.sleep(0.05)
    t.cancel()
    t0 = ticks_ms()
    await c.close()
    dt = ticks_diff(ticks_ms(), t0)
    check(c.closed and dt < 1000, "close took %d ms" % dt)


async def sc_abort(env):
    c = await ws.connect(env.url("echo"))
    out = []
    asyncio.create_task(reader(c, out))
    await asyncio.sleep(0.05)
    c.abort("network forbidden")
    check(await wait_until(lambda: out, 1000), "reader not woken by abort()")
    check(out[0] == ("exc", "EOFError", "network forbidden"), "reader got %r" % (out,))
    await expect(EOFError, c.send("x"), "network forbidden")
    await c.close()


# ---- keepalive
async def _keepalive(env, kind, iv, to, ms):
    c = await ws.connect(env.url(kind))
    out = []
    rx = asyncio.create_task(reader(c, out))
    ka = asyncio.create_task(c.keepalive(lambda: iv[0], to))
    return c, out, rx, ka


async def sc_keepalive_alive(env):
    c, out, rx, ka = await _keepalive(env, "quiet", [0.2], 0.3, 0)
    await asyncio.sleep(1.3)
    check(not c.closed, "keepalive dropped a live link: %s" % c._why)
    check(c.last_pong_ms is not None and ticks_diff(ticks_ms(), c.last_pong_ms) < 600,
          "no recent pong")
    await c.close()
    check(await wait_until(lambda: ka.done() and rx.done(), 2000), "tasks did not end")


async def sc_keepalive_dead(env):
    c, out, rx, ka = await _keepalive(env, "deaf", [0.2], 0.3, 0)
    t0 = ticks_ms()
    check(await wait_until(lambda: out, 3000), "dead link not detected")
    dt = ticks_diff(ticks_ms(), t0)
    check(out[0][:2] == ("exc", "EOFError") and "link dead" in out[0][2], "recv: %r" % (out,))
    check(450 <= dt < 2000, "detected after %d ms" % dt)
    check(await wait_until(lambda: ka.done(), 1000), "keepalive did not end")


async def sc_keepalive_toggle(env):
    iv = [0]
    c, out, rx, ka = await _keepalive(env, "deaf", iv, 0.3, 0)
    await asyncio.sleep(1.2)
    check(not c.closed and not out, "interval 0 must disable the dead-link check")
    iv[0] = 0.2
    t0 = ticks_ms()
    check(await wait_until(lambda: out, 3000), "dead link not detected after enabling")
    dt = ticks_diff(ticks_ms(), t0)
    check(250 <= dt < 2200 and "link dead" in out[0][2], "%d ms %r" % (dt, out))
    await c.close()


# ---- TLS
def _ctx(env, verify=True):
    import ssl
    if not MICROPYTHON:
        return ssl.create_default_context(cafile=env.cafile if verify else None)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if verify:
        with open(env.cader, "rb") as f:
            ctx.load_verify_locations(cadata=f.read())
    return ctx


async def sc_wss(env):
    url = "wss://127.0.0.1:%d/echo/%s" % (env.tls_port, env.tag)
    c = await ws.connect(url, ssl=_ctx(env))
    for msg in ("secure hello", "s" * 3000):
        await c.send(msg)
        check(await recv_text(c) == msg, "TLS echo of %d bytes" % len(msg))
    await c.close()
    await handshake_error(url, None, "cannot connect to 127.0.0.1:%d" % env.tls_port,
                          ssl=_ctx(env, False))


SCENARIOS = {}
for _k in list(globals()):
    if _k.startswith("sc_"):
        SCENARIOS[_k[3:]] = globals()[_k]


def main():
    env = Env(json.loads(sys.argv[1]))
    base = env.tag
    for name in sys.argv[2:]:
        env.tag = base + "-" + name   # each scenario has its own server paths
        asyncio.new_event_loop()
        try:
            asyncio.run(SCENARIOS[name](env))
            print("RESULT %s OK" % name)
        except Exception as e:
            print("RESULT %s FAIL %s: %s" % (name, type(e).__name__, str(e).replace("\n", " ")))
            sys.print_exception(e) if MICROPYTHON else None


if __name__ == "__main__":
    main()
