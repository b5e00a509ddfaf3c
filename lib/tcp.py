# Opening a TCP connection, with TLS on top when asked, without holding the
# event loop: how the firmware's links dial (lib/ws_io.py for the central
# system, firmware/mqtt/link.py for the broker). On MicroPython the caller
# holds the socket itself, told of it as soon as it exists (keep), so that a
# connect that times out is closed instead of leaked; the TLS handshake goes on
# as the socket is read and written. A host name is looked up with the blocking
# getaddrinfo, as asyncio's own open_connection does. Conn: the bytes of such
# a connection for a link with its own buffers (firmware/mqtt/link.py).
import asyncio
from compat import MICROPYTHON

if MICROPYTHON:
    import errno
    from asyncio import core as _core

    def writable(s):
        yield _core._io_queue.queue_write(s)

    def readable(s):
        yield _core._io_queue.queue_read(s)

    async def connect(host, port, ctx, keep):
        """The non-blocking socket, connected (or failing at its first use)."""
        import socket
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        s = socket.socket(ai[0], ai[1], ai[2])
        keep(s)
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.errno != errno.EINPROGRESS:
                raise
        if ctx:
            s = ctx.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
            keep(s)
            s.setblocking(False)
        await writable(s)
        return s
else:
    async def connect(host, port, ctx, keep=None):
        """asyncio's (reader, writer)."""
        kw = {"ssl": ctx} if ctx else {}
        return await asyncio.open_connection(host, port, **kw)


if MICROPYTHON:
    class Conn:
        """A connection's bytes for a link that reads into its own buffer:
        open(host, port, ctx), read(mv) -> n (EOFError at the end),
        send(mv), close(). The socket in our hands: a connect that times out
        closes it."""
        s = None

        async def open(self, host, port, ctx):
            self.w = asyncio.StreamWriter(await connect(host, port, ctx, self._keep))

        def _keep(self, s):
            self.s = s

        async def read(self, mv):
            s = self.s
            while True:
                k = s.readinto(mv)
                if k is None:       # nothing yet, or half a TLS record
                    await readable(s)
                elif not k:
                    raise EOFError("the other side closed the connection")
                else:
                    return k

        async def send(self, mv):
            self.w.write(mv)        # copies what it cannot send at once
            await self.w.drain()

        def close(self):
            if self.s is not None:
                try:
                    self.s.close()
                except OSError:
                    pass
                self.s = None
else:
    class Conn:
        w = None

        async def open(self, host, port, ctx):
            self.r, self.w = await connect(host, port, ctx)

        async def read(self, mv):
            b = await self.r.read(len(mv))
            if not b:
                raise EOFError("the other side closed the connection")
            mv[:len(b)] = b
            return len(b)

        async def send(self, mv):
            self.w.write(bytes(mv))
            await self.w.drain()

        def close(self):
            if self.w is not None:
                self.w.close()
                self.w = None
