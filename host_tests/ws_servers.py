# Servers for the WebSocket client tests, run in a background thread so that a
# MicroPython subprocess and in-process CPython clients can both reach them.
#   - a real `websockets` server for well-behaved protocol exchanges;
#   - a raw asyncio TCP server that speaks just enough HTTP/WebSocket to
#     misbehave on purpose (bad frames, missing subprotocol, silence, ...).
# Both record what they saw in `records[path]` for the tests to assert on.
import asyncio
import base64
import hashlib
import os
import shutil
import ssl
import subprocess
import threading
import time

from websockets.asyncio.server import serve

from ws_scenarios import big_text
from charger import free_port

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
AUTH_USER = "CP-1"
AUTH_PASS = "s3cret pass"


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class Servers:
    def __init__(self, certdir=None):
        self.records = {}
        self.certdir = certdir
        self.cert = None
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    # ---- lifecycle
    def start(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test servers did not start")
        return self

    def stop(self):
        async def _stop():
            for s in self._servers:
                s.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.wait([asyncio.ensure_future(s.wait_closed()) for s in self._servers],
                               timeout=3)
        fut = asyncio.run_coroutine_threadsafe(_stop(), self.loop)
        try:
            fut.result(8)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self._tasks = set()
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()
        pending = asyncio.all_tasks(self.loop)
        for t in pending:
            t.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _start(self):
        common = dict(subprotocols=["ocpp1.6"], process_request=self._process_request,
                      ping_interval=None, compression=None, max_size=2 ** 22,
                      close_timeout=1)
        ws = await serve(self._ws_handler, "127.0.0.1", 0, **common)
        raw = await asyncio.start_server(self._raw_handler, "127.0.0.1", 0)
        self._servers = [ws, raw]
        self.ws_port = ws.sockets[0].getsockname()[1]
        self.raw_port = raw.sockets[0].getsockname()[1]
        self.tls_port = None
        if self.certdir and shutil.which("openssl"):
            self.cert = make_cert(self.certdir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert[0], self.cert[1])
            tls = await serve(self._ws_handler, "127.0.0.1", 0, ssl=ctx, **common)
            self._servers.append(tls)
            self.tls_port = tls.sockets[0].getsockname()[1]
        self.closed_port = free_port()

    def rec(self, path):
        return self.records.setdefault(path, {})

    def wait_rec(self, path, key, timeout=3.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.records.get(path, {})
            if key in r:
                return r[key]
            time.sleep(0.02)
        raise AssertionError("server never recorded %r for %s (has %r)"
                             % (key, path, self.records.get(path)))

    # ---- the websockets server
    def _process_request(self, conn, request):
        path = request.path
        self.rec(path)["headers"] = dict(request.headers.raw_items())
        kind = path.split("/")[1]
        if kind == "auth":
            want = "Basic " + base64.b64encode(
                ("%s:%s" % (AUTH_USER, AUTH_PASS)).encode()).decode()
            if request.headers.get("Authorization") != want:
                return conn.respond(401, "who are you?\n")
        elif kind == "missing":
            return conn.respond(404, "no such charge point\n")
        return None

    async def _ws_handler(self, conn):
        path = conn.request.path
        r = self.rec(path)
        kind = path.split("/")[1]
        t = asyncio.current_task()
        self._tasks.add(t)
        try:
            if kind == "frag":
                await conn.send(["Hel", "lo ", "World"])
                await conn.send([b"\x00\x01", b"\x02\xff"])
            elif kind == "sping":
                waiter = await conn.ping(b"ping-data")
                try:
                    await asyncio.wait_for(waiter, 2)
                    await conn.send("pong ok")
                except asyncio.TimeoutError:
                    await conn.send("no pong")
            elif kind == "sclose":
                await conn.send("bye")
                await conn.close(1001, "going away")
            elif kind == "big":
                await conn.send(big_text(20000, "uid-big-1"))
                await conn.send("after-big")
                s = big_text(15000, "uid-frag-2")
                await conn.send([s[:5000], s[5000:10000], s[10000:]])
                await conn.send("after-frag")
            elif kind == "huge":
                await conn.send(big_text(200000, "uid-huge"))
                await conn.send("after-huge")
            elif kind == "deaf":
                conn.transport.pause_reading()
                await asyncio.sleep(30)
                return
            elif kind == "quiet":
                await conn.wait_closed()
            r["msgs"] = msgs = []
            async for m in conn:
                msgs.append(m)
                await conn.send(m)
        except Exception as e:   # record, the client side decides what it means
            r["error"] = repr(e)
        finally:
            self._tasks.discard(t)
            r["close_code"] = conn.close_code
            r["close_reason"] = conn.close_reason
            rcvd = conn.protocol.close_rcvd
            r["close_rcvd"] = (rcvd.code, rcvd.reason) if rcvd else None

    # ---- the raw server
    async def _raw_handler(self, reader, writer):
        t = asyncio.current_task()
        self._tasks.add(t)
        r = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            hdrs = {}
            for line in lines[1:]:
                if line:
                    k, _, v = line.partition(":")
                    hdrs[k.strip()] = v.strip()
            r = self.rec(path)
            r["request_line"] = lines[0]
            r["headers"] = hdrs
            await self._raw_dispatch(path.split("/")[1], r, hdrs, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError) as e:
            if r is not None:
                r["error"] = repr(e)
        except asyncio.CancelledError:
            pass  # shutting down; a cancelled handler would only be logged as noise
        finally:
            self._tasks.discard(t)
            writer.close()

    async def _raw_dispatch(self, kind, r, hdrs, reader, writer):
        key = hdrs.get("Sec-WebSocket-Key", "")
        status = {"r401": "401 Unauthorized", "r404": "404 Not Found",
                  "r500": "500 Internal Server Error", "r418": "418 I'm a teapot"}
        if kind in status:
            writer.write(("HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n" % status[kind]).encode())
            return
        if kind == "hang":
            await asyncio.sleep(10)
            return
        if kind == "garbage":
            writer.write(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")
            return
        proto = "Sec-WebSocket-Protocol: ocpp1.6\r\n"
        accept = accept_for(key)
        extra = ""
        if kind == "noproto":
            proto = ""
        elif kind == "wrongproto":
            proto = "Sec-WebSocket-Protocol: ocpp2.0.1\r\n"
        elif kind == "badaccept":
            accept = accept_for(key + "x")
        elif kind == "longhdr":
            extra = "X-Pad: %s\r\n" % ("p" * 5000) + "X-Many: 1\r\n" * 40
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s\r\n"
                      % (accept, proto, extra)).encode())
        bad = {
            "badop": b"\x83\x00",
            "masked": b"\x81\x82\x01\x02\x03\x04" + bytes([ord("h") ^ 1, ord("i") ^ 2]),
            "fragping": b"\x09\x00",
            "bigping": b"\x89\x7e\x00\x7e" + b"x" * 126,
            "rsv": b"\xc1\x02hi",
            "cont": b"\x80\x02hi",
            "newdata": b"\x01\x02ab\x81\x02cd",
            "close1": b"\x88\x01\x03",
            "hugelen": b"\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x01",
        }
        if kind in bad:
            writer.write(bad[kind])
            await self._expect_close(r, reader)
        elif kind == "trunc":
            writer.write(b"\x81\x64" + b"0123456789")
            await writer.drain()
        elif kind == "interleave":
            writer.write(b"\x01\x02ab" + b"\x89\x02p1" + b"\x00\x02cd" + b"\x8a\x01x"
                         + b"\x80\x02ef")
            fin, op, masked, mkey, payload = await read_frame(reader)
            r["pong"] = (op, payload)
            writer.write(b"\x81" + bytes([5 + len(payload)]) + b"pong:" + payload)
            await self._expect_close(r, reader)
        elif kind == "mask":
            r["frames"] = frames = []
            for _ in range(3):
                fin, op, masked, mkey, payload = await read_frame(reader)
                frames.append((fin, op, masked, mkey, payload))
                writer.write(b"\x81" + bytes([len(payload)]) + payload)
            await self._expect_close(r, reader)
        elif kind == "closeme":
            writer.write(b"\x88\x05\x03\xe9bye")
            fin, op, masked, mkey, payload = await read_frame(reader)
            r["echo"] = (op, payload)
            r["eof"] = await reader.read(100) == b""
        elif kind == "noclose":
            fin, op, masked, mkey, payload = await read_frame(reader)
            r["close"] = (op, payload)
            await asyncio.sleep(5)
        else:  # "hdrs", "longhdr" and the subprotocol cases: say hello, then echo
            writer.write(b"\x81\x05hello")
            await self._expect_close(r, reader)

    async def _expect_close(self, r, reader):
        # Read client frames until its close; record the code it sent.
        while True:
            fin, op, masked, mkey, payload = await read_frame(reader)
            if op == 8:
                r["close_code"] = int.from_bytes(payload[:2], "big") if payload else None
                return


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 127
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    key = await reader.readexactly(4) if b1 & 0x80 else b""
    data = await reader.readexactly(n)
    if key:
        data = bytes(c ^ key[i % 4] for i, c in enumerate(data))
    return b0 & 0x80, b0 & 15, bool(b1 & 0x80), key, data


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=30)
        der = os.path.join(d, "cert.der")
        subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER", "-out", der],
                       check=True, capture_output=True, timeout=30)
    return cert, key
