# Opening a TCP connection, with TLS on top when asked, without holding the
# event loop: how the firmware's links dial (lib/ws_io.py for the central
# system, firmware/mqtt/link.py for the broker). On MicroPython the caller
# holds the socket itself, told of it as soon as it exists (keep), so that a
# connect that times out is closed instead of leaked; the TLS handshake goes on
# as the socket is read and written. A host name is looked up with the blocking
# getaddrinfo, as asyncio's own open_connection does.
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
