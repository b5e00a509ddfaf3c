# RFC 6455 WebSocket client over asyncio streams, for the OCPP-J link.
# One receive buffer per connection, allocated once: the OCPP layer parses
# messages in place, and a message that does not fit is cut, never accumulated.
# Only WSError (and its HandshakeError), EOFError and OSError leave the API.
import asyncio
import os
import binascii
import log
from compat import ticks_ms, ticks_diff, ticks_add, sleep_ms, MICROPYTHON
from ws_handshake import (WSError, HandshakeError, join_url, parse_url,  # noqa: F401
                          _b, _accept, _status_msg, _errstr, _request)
from ws_io import Stream, _TX

TEXT = 1
BINARY = 2
_CLOSE = 8
_PING = 9
_PONG = 10
_MAXLINE = 1024   # handshake: longer header lines are cut (we need short ones)
_MAXHEAD = 16384  # handshake: total response header bytes accepted

class WebSocket(Stream):
    close_timeout_ms = 3000  # how long close() waits for the server's close

    def __init__(self, bufsize=8192, buf=None):
        n = bufsize if buf is None else len(buf)
        if n < 128:
            raise WSError("receive buffer of %d bytes is too small (minimum 128)" % n)
        buf = bytearray(n) if buf is None else buf
        self.buf = buf
        self._bm = memoryview(buf)
        self._cm = memoryview(bytearray(128))  # control payloads, discard scratch
        rh = memoryview(bytearray(8))
        self._rh, self._rh1, self._rh2 = rh, rh[0:1], rh[0:2]
        if MICROPYTHON:
            self._tx = bytearray(_TX)
            self._txm = memoryview(self._tx)
        self._r = self._w = self._sock = None
        self._lock = asyncio.Lock()
        self._ev = asyncio.Event()
        self.closed = self._close_sent = self._reading = False
        self._mid = False    # bytes of an unfinished frame or message consumed
        self._txmid = False  # part of a frame written, the rest not yet
        self._why = "connection closed"
        self.close_code = self.subprotocol = self.last_pong_ms = None
        self.close_reason = ""
        self.last_rx_ms = ticks_ms()

    # ---- handshake
    async def _handshake(self, host, port, ctx, lines, subprotocol):
        await self._open(host, port, ctx)
        key = binascii.b2a_base64(os.urandom(16))[:-1]
        lines[4] = "Sec-WebSocket-Key: " + key.decode()
        self._w.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._w.drain()
        self._hbytes = 0
        parts = (await self._line()).split(None, 2)
        try:
            status = int(parts[1]) if parts[0].startswith("HTTP/") else None
        except (ValueError, IndexError):
            status = None
        if status is None:
            raise HandshakeError("the server's answer is not HTTP (is this a WebSocket URL?)")
        if status != 101:
            raise HandshakeError(_status_msg(status, parts[2] if len(parts) > 2 else ""), status)
        got = {}
        for _ in range(100):
            name, _, value = (await self._line()).partition(":")
            if not name:
                break
            got[name.strip().lower()] = value.strip()
        else:
            raise HandshakeError("too many header lines in the server's answer", status)
        conn = [t.strip() for t in got.get("connection", "").lower().split(",")]
        if got.get("upgrade", "").lower() != "websocket" or "upgrade" not in conn:
            raise HandshakeError("server answered 101 without upgrading to WebSocket", status)
        if got.get("sec-websocket-accept", "").encode() != _accept(key):
            raise HandshakeError("server sent a wrong Sec-WebSocket-Accept", status)
        if "sec-websocket-extensions" in got:
            raise HandshakeError("server enabled an extension that was not offered", status)
        proto = got.get("sec-websocket-protocol")
        if proto != subprotocol and (proto or subprotocol):
            raise HandshakeError("server did not accept subprotocol %s%s" % (
                subprotocol, " (it chose %s)" % proto[:40] if proto else ""), status)
        self.subprotocol = proto
        self.last_rx_ms = ticks_ms()

    async def _line(self):
        # Byte by byte: nothing beyond the header may be consumed, and memory
        # stays bounded whatever the server sends. Headers we keep are few,
        # so the line is only remembered as a short string.
        buf, n = self.buf, 0
        lim = min(len(buf), _MAXLINE)
        while True:
            await self._fill(self._rh1)
            self._hbytes += 1
            if self._hbytes > _MAXHEAD:
                raise HandshakeError("the server's HTTP header is too long")
            c = self._rh[0]
            if c == 10:
                break
            if n < lim:
                buf[n] = c
            n += 1
        n = min(n, lim)
        n -= 1 if n and buf[n - 1] == 13 else 0
        try:
            return bytes(self._bm[:n]).decode()
        except Exception:
            return "?"

    # ---- sending
    async def _send(self, op, data):
        if isinstance(data, str):
            data = memoryview(data) if MICROPYTHON else data.encode()
        async with self._lock:
            if self.closed or self._close_sent:
                raise EOFError(self._why if self.closed else "connection is closing")
            self._close_sent = op == _CLOSE
            self._txmid = False
            try:
                await self._write(op, data, len(data))
            except asyncio.CancelledError:
                if self._txmid:   # half a frame on the wire cannot be taken back
                    self._abort("send cancelled in the middle of a frame")
                raise
            except OSError as e:
                self._abort("send failed: %s" % _errstr(e))
                raise

    async def send(self, data, opcode=TEXT):
        if opcode not in (TEXT, BINARY):
            raise WSError("send: opcode must be 1 (text) or 2 (binary)")
        await self._send(opcode, data)

    async def send_pieces(self, n, make, opcode=TEXT):
        """One message of n bytes that make() yields in small pieces (it is
        called once): no copy of the whole message is made."""
        async with self._lock:
            if self.closed or self._close_sent:
                raise EOFError(self._why if self.closed else "connection is closing")
            self._txmid = False
            try:
                await self._write_pieces(opcode, n, make())
            except asyncio.CancelledError:
                if self._txmid:
                    self._abort("send cancelled in the middle of a frame")
                raise
            except (OSError, ValueError) as e:
                self._abort("send failed: %s" % _errstr(e))
                raise

    async def ping(self, payload=b""):
        if len(payload) > 125:
            raise WSError("ping payload longer than 125 bytes")
        await self._send(_PING, payload)

    # ---- receiving
    async def recv(self):
        """Next data message: (opcode, n, total); its first n bytes are in buf.
        Cancelling it while it waits for a frame is harmless; mid-frame, the
        connection is dropped (the stream position would be lost)."""
        if self.closed:
            raise EOFError(self._why)
        if self._reading:
            raise WSError("recv() is already running in another task")
        self._reading = True
        try:
            return await self._recv()
        except asyncio.CancelledError:
            if self._mid:
                self._abort("receive cancelled in the middle of a message")
            raise
        except EOFError:
            self._abort("connection lost: the server dropped it without a close frame")
            raise EOFError(self._why)
        except OSError as e:
            if self.closed:   # we closed the socket under a pending read
                raise EOFError(self._why)
            self._abort("connection lost: %s" % _errstr(e))
            raise
        except WSError:
            raise
        except Exception as e:
            self._abort("internal error")
            raise WSError("receive failed: %r" % (e,))
        finally:
            self._reading = False

    async def _recv(self):
        bm, cap, h = self._bm, len(self.buf), self._rh
        op0 = kept = total = 0
        while True:
            self._mid = op0 != 0
            await self._fill(self._rh2)
            b0, b1 = h[0], h[1]
            self.last_rx_ms = ticks_ms()
            op, n, fin = b0 & 15, b1 & 127, b0 & 0x80
            if b0 & 0x70:
                await self._fail("reserved bits set in a frame")
            if b1 & 0x80:
                await self._fail("masked frame from the server")
            if op > 10 or 2 < op < 8:
                await self._fail("unknown opcode %d" % op)
            if n >= 126:
                m = 2 if n == 126 else 8
                await self._fill(h[:m])
                n = 0
                for i in range(m):
                    n = n << 8 | h[i]
                if n >> 63:
                    await self._fail("frame length out of range")
            if op >= _CLOSE:
                if not fin:
                    await self._fail("fragmented control frame")
                if n > 125:
                    await self._fail("control frame longer than 125 bytes")
                await self._control(op, n)
                continue
            if op == 0 and not op0:
                await self._fail("continuation frame without a message to continue")
            if op and op0:
                await self._fail("new data frame inside a fragmented message")
            op0 = op0 or op
            k = min(n, cap - kept)
            if k:
                await self._fill(bm[kept:kept + k])
            if n > k:
                await self._skip(n - k)
            kept += k
            total += n
            self.last_rx_ms = ticks_ms()
            if fin:
                self._mid = False
                return op0, kept, total

    async def _control(self, op, n):
        c = self._cm[:n]
        if n:
            await self._fill(c)
        self.last_rx_ms = ticks_ms()
        if op == _PONG:
            self.last_pong_ms = self.last_rx_ms
        elif op == _PING:
            if not self._close_sent:
                await self._send(_PONG, c)
        else:
            if n == 1:
                await self._fail("close frame with a 1-byte payload")
            code = c[0] << 8 | c[1] if n else None
            try:
                reason = bytes(c[2:]).decode()
            except Exception:
                reason = ""
            self.close_code, self.close_reason = code, reason
            if self._close_sent:
                why = "connection closed (code %s)" % code
            else:
                why = "connection closed by the server (code %s%s)" % (
                    code, ", " + reason[:80] if reason else "")
                await self._bounded(self._send(_CLOSE, c[:2]))   # echo the code
            self._abort(why, False)
            raise EOFError(why)

    async def _bounded(self, coro):
        try:
            await asyncio.wait_for(coro, self.close_timeout_ms / 1000)
            return True
        except (asyncio.TimeoutError, OSError, EOFError, WSError):
            return False

    async def _fail(self, why):
        # Protocol violation: say 1002 if we still can, then drop the link.
        if not self.closed and not self._close_sent:
            await self._bounded(self._send(_CLOSE, b"\x03\xea"))
        self._abort("protocol error: " + why)
        raise WSError("protocol error from the server: " + why)

    # ---- closing
    def _abort(self, why=None, hard=True):
        if not self.closed:
            self.closed = True
            self._why = why or self._why
            log.debug("ws", "%s", self._why)
        self._ev.set()
        try:
            if self._w is not None:
                if hard and not MICROPYTHON:
                    self._w.transport.abort()   # no flush: the link is gone
                else:
                    self._w.close()
            if self._sock is not None:
                self._sock.close()
        except Exception:
            pass

    def abort(self, why="connection dropped by this side"):
        """Drop the link now, without close handshake; a pending recv() raises
        EOFError(why)."""
        self._abort(why)

    async def close(self, code=1000, reason=""):
        """Close handshake: send close, wait (bounded) for the server's, drop.
        Never raises; cancelled half-way it still drops the connection."""
        if self.closed:
            return
        why, hard = "closed without close handshake", True
        try:
            if not self._close_sent:
                frame = bytes((code >> 8, code & 255)) + _b(reason)[:123]
                if not await self._bounded(self._send(_CLOSE, frame)):
                    return
            why, hard = "connection closed (no close from the server)", False
            end = ticks_add(ticks_ms(), self.close_timeout_ms)
            while not self.closed and ticks_diff(end, ticks_ms()) > 0:
                # A task blocked in recv() sees the server's close; else we read.
                reading = self._reading
                try:
                    await asyncio.wait_for(self._ev.wait() if reading else self._drain(),
                                           0.1 if reading else ticks_diff(end, ticks_ms()) / 1000)
                except (asyncio.TimeoutError, OSError, EOFError, WSError):
                    pass
        finally:
            self._abort(why, hard)

    async def _drain(self):
        while True:
            await self.recv()

    async def keepalive(self, interval_s, timeout_s=None):
        """Ping after interval_s() seconds without receiving anything; drop the
        link when nothing came for interval + timeout. interval_s() == 0 turns
        it off; it is read again every round. Needs a task running recv()."""
        first = last = None   # our unanswered pings: the first and the latest
        while not self.closed:
            iv = interval_s() or 0
            if iv <= 0:
                first = None
                await sleep_ms(1000)
                continue
            to = timeout_s() if callable(timeout_s) else timeout_s
            ivms, toms = int(iv * 1000), int((to if to is not None else max(iv, 5)) * 1000)
            now = ticks_ms()
            idle = ticks_diff(now, self.last_rx_ms)
            if first is not None and ticks_diff(first, self.last_rx_ms) < 0:
                first = None   # something arrived since our ping
            if first is not None and idle >= ivms + toms and ticks_diff(now, first) >= toms:
                self._abort("link dead: nothing received for %.1f s" % (idle / 1000))
                log.warn("ws", "%s (ping interval %s s), dropping the connection", self._why, iv)
                return
            if idle >= ivms and (first is None or ticks_diff(now, last) >= ivms):
                last = now
                first = now if first is None else first
                try:
                    await asyncio.wait_for(self.ping(), toms / 1000)
                except asyncio.TimeoutError:
                    self._abort("link dead: a ping could not be sent for %d ms" % toms)
                    return
                except (OSError, EOFError, WSError):
                    return
            await sleep_ms(min(1000, max(10, min(ivms, toms) // 4)))


async def connect(url, subprotocol="ocpp1.6", ssl=None, auth=None, bufsize=8192,
                  timeout_ms=10000, headers=None, buf=None):
    """Open a WebSocket. ssl: an SSLContext, used for wss:// only. buf: a
    bytearray to reuse as the receive buffer (no new 8 KiB per reconnect).
    Raises HandshakeError with a one-line reason when no link results, and
    WSError for bad arguments."""
    secure, host, port, path = parse_url(url)
    if secure and not ssl:
        raise HandshakeError("wss:// needs a TLS context: pass ssl=ssl.SSLContext(...)")
    lines = _request(host, port, secure, path, subprotocol, auth, headers)
    ws = WebSocket(bufsize, buf)
    where = "%s:%d" % (host, port)
    try:
        await asyncio.wait_for(ws._handshake(host, port, ssl if secure else None, lines,
                                             subprotocol), timeout_ms / 1000)
        log.debug("ws", "connected to %s%s", where, path)
        return ws
    except HandshakeError:
        ws._abort()
        raise
    except asyncio.TimeoutError:   # before OSError: on CPython it is one
        msg = "no WebSocket handshake with %s within %d ms" % (where, timeout_ms)
    except EOFError:
        msg = "%s closed the connection during the handshake" % where
    except OSError as e:
        msg = "cannot connect to %s: %s" % (where, _errstr(e))
    except Exception as e:
        msg = "handshake with %s failed: %r" % (where, e)
    ws._abort()
    raise HandshakeError(msg)
