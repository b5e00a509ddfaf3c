# One TCP (or TLS) connection for file transfers (lib/httpc.py, lib/ftpc.py):
# line reads for protocol headers and replies, chunk reads and writes for the
# data, each bounded by a timeout so a server that stops answering frees the
# charger. One small buffer per connection; the data never piles up in RAM.
import asyncio
import errno
from compat import MICROPYTHON


class TransferError(Exception):
    """kind: "connect", "timeout", "closed", "protocol", "refused", "notfound",
    "auth", "local"; the message is one line for the log."""

    def __init__(self, kind, msg):
        super().__init__(msg)
        self.kind = kind


class Conn:
    def __init__(self, timeout_s=30, bufsize=256):
        self.timeout_s = timeout_s
        self.buf = bytearray(bufsize)
        self.mv = memoryview(self.buf)
        self.s = self.e = 0         # buffered bytes: buf[s:e]
        self.r = self.w = None
        self.host = None

    async def _t(self, coro, what):
        try:
            return await asyncio.wait_for(coro, self.timeout_s)
        except asyncio.TimeoutError:
            raise TransferError("timeout", "%s: no answer from %s within %d s"
                                % (what, self.host, self.timeout_s))
        except OSError as e:
            # MicroPython reports a refused connect at the first read or write.
            if getattr(e, "errno", None) == errno.ECONNREFUSED:
                raise TransferError("connect", "cannot connect to %s: connection refused"
                                    % self.host)
            raise TransferError("closed", "%s: %s" % (what, _oserr(e)))

    async def open(self, host, port, ctx=None):
        self.host = host
        try:
            kw = {"ssl": ctx} if ctx else {}
            if ctx and MICROPYTHON:
                kw["server_hostname"] = host
            self.r, self.w = await asyncio.wait_for(
                asyncio.open_connection(host, port, **kw), self.timeout_s)
        except asyncio.TimeoutError:
            raise TransferError("connect", "cannot reach %s:%d within %d s"
                                % (host, port, self.timeout_s))
        except (OSError, ValueError) as e:
            raise TransferError("connect", "cannot connect to %s:%d: %s" % (host, port, _oserr(e)))

    async def _read(self, mv):
        # Some bytes into mv (0 at the end of the stream).
        if MICROPYTHON:
            while True:
                n = await self.r.readinto(mv)
                if n is not None:       # None: half a TLS record so far
                    return n
        data = await self.r.read(len(mv))
        mv[:len(data)] = data
        return len(data)

    async def readinto(self, mv):
        """Up to len(mv) bytes (what the buffer holds first); 0 at the end."""
        if self.e > self.s:
            k = min(len(mv), self.e - self.s)
            mv[:k] = self.mv[self.s:self.s + k]
            self.s += k
            return k
        return await self._t(self._read(mv), "reading")

    async def readline(self, what="reading"):
        """One line without its CR LF (a longer one is cut to the buffer)."""
        out = b""
        while True:
            i = bytes(self.mv[self.s:self.e]).find(b"\n")
            if i >= 0:
                out += bytes(self.mv[self.s:self.s + i])
                self.s += i + 1
                break
            out += bytes(self.mv[self.s:self.e])
            self.s = 0
            self.e = await self._t(self._read(self.mv), what)
            if not self.e:
                if out:
                    break
                raise TransferError("closed", "%s: %s closed the connection" % (what, self.host))
            if len(out) > 2048:
                raise TransferError("protocol", "%s: a line longer than 2 KB" % what)
        try:
            return out.rstrip(b"\r").decode()
        except UnicodeError:
            return "?"

    async def write(self, data):
        await self._t(self._write(data), "sending")

    async def _write(self, data):
        self.w.write(data)      # MicroPython tries the socket at once: it may raise here
        await self.w.drain()

    async def send_file(self, path, size):
        """The first size bytes of the local file path, 1 KB at a time."""
        buf = bytearray(1024)
        with open(path, "rb") as f:
            left = size
            while left > 0:
                k = f.readinto(buf)
                if not k:
                    raise TransferError("local", "%s is shorter than %d bytes" % (path, size))
                k = min(k, left)
                await self.write(bytes(buf[:k]))
                left -= k

    async def close(self):
        w, self.w, self.r = self.w, None, None
        if w is not None:
            try:
                w.close()
                await asyncio.wait_for(w.wait_closed(), 2)
            except Exception:
                pass


def _oserr(e):
    return str(e) or e.__class__.__name__
