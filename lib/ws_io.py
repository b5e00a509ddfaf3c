# The byte stream under the WebSocket client, the one place where the two
# runtimes differ: on MicroPython the client holds the socket itself (a
# timed-out connect closes it instead of leaking it, and reads take what is
# already there without a generator per call) and masks frames through a
# scratch buffer; on CPython it uses asyncio streams.
import asyncio
import os
import tcp
from compat import sleep_ms, MICROPYTHON

_TX = 512         # MicroPython: frames go out masked through this scratch

if MICROPYTHON:
    import micropython
    # What asyncio's Stream does, with the socket in our hands: a timed-out
    # connect closes it instead of leaking it (lib/tcp.py), and reads take what
    # is already there without a generator per call.
    _readable = tcp.readable

    # Machine code: in Python this loop cost 10 us a byte on an RP2040, so a
    # 4 KB answer held the event loop for 40 ms.
    @micropython.viper
    def _mask_into(dst, pos: int, src, off: int, k: int, key, at: int):
        # src[off:off + k] into dst[pos:], masked as bytes `at`.. of the payload.
        d = ptr8(dst)
        s = ptr8(src)
        m = ptr8(key)
        j = off
        e = off + k
        while j < e:
            d[pos] = s[j] ^ m[at & 3]
            pos += 1
            j += 1
            at += 1
else:
    def _mask(data, key):
        n = len(data)
        k = (key * (n // 4 + 1))[:n]
        return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


class Stream:
    # Methods of WebSocket; its __init__ sets _sock, _r, _w, _cm, _tx, _txm,
    # _mid and _txmid.
    if MICROPYTHON:
        async def _open(self, host, port, ctx):
            s = await tcp.connect(host, port, ctx, self._keep)
            self._w = asyncio.StreamWriter(s)

        def _keep(self, s):
            self._sock = s

        async def _fill(self, mv):
            s, got, n = self._sock, 0, len(mv)
            while got < n:
                k = s.readinto(mv[got:] if got else mv)
                if k is None:   # nothing yet (or half a TLS record)
                    await _readable(s)
                    continue
                if not k:
                    raise EOFError
                got += k
                self._mid = True

        async def _skip(self, n):
            s, cm, i = self._sock, self._cm, 0
            while n:
                k = s.readinto(cm if n >= 128 else cm[:n])
                if k is None:
                    await _readable(s)
                elif not k:
                    raise EOFError
                else:
                    n -= k
                    i += 1
                    if not i & 31:
                        await sleep_ms(0)  # a long discard must not starve other tasks

        def _head(self, op, n):
            t, h = self._tx, 2
            t[0] = 0x80 | op
            if n < 126:
                t[1] = 0x80 | n
            elif n < 65536:
                t[1], t[2], t[3], h = 0xFE, n >> 8, n & 255, 4
            else:
                t[1], h = 0xFF, 10
                for i in range(8):
                    t[9 - i] = (n >> (8 * i)) & 255
            key = os.urandom(4)
            t[h:h + 4] = key
            return h + 4, key

        async def _write(self, op, data, n):
            t = self._tx
            pos, key = self._head(op, n)
            off = 0
            while True:
                k = min(_TX - pos, n - off)
                _mask_into(t, pos, data, off, k, key, off)
                self._w.write(self._txm[:pos + k])   # copies what it cannot send
                off += k
                self._txmid = off < n
                await self._w.drain()
                if off >= n:
                    return
                pos = 0

        async def _write_pieces(self, op, n, pieces):
            # One frame of n bytes from an iterator of small bytes, masked
            # through the scratch as they come: the message is never whole in RAM.
            t = self._tx
            pos, key = self._head(op, n)
            at = 0
            for p in pieces:
                k = len(p)
                off = 0
                while off < k:
                    m = min(_TX - pos, k - off)
                    if at + m > n:
                        raise ValueError("message longer than announced")
                    _mask_into(t, pos, p, off, m, key, at)
                    pos += m
                    off += m
                    at += m
                    if pos == _TX:
                        self._w.write(self._txm)
                        self._txmid = True
                        await self._w.drain()
                        pos = 0
            if at != n:
                raise ValueError("message shorter than announced")
            self._w.write(self._txm[:pos])
            self._txmid = False
            await self._w.drain()
    else:
        async def _open(self, host, port, ctx):
            self._r, self._w = await tcp.connect(host, port, ctx)

        async def _fill(self, mv):
            try:
                mv[:] = await self._r.readexactly(len(mv))
            except asyncio.IncompleteReadError:
                raise EOFError
            self._mid = True

        async def _skip(self, n):
            while n:
                k = min(n, 65536)
                await self._fill(memoryview(bytearray(k)))
                n -= k

        async def _write_pieces(self, op, n, pieces):
            await self._write(op, b"".join(pieces), n)

        async def _write(self, op, data, n):
            if n < 126:
                hdr = bytes((0x80 | op, 0x80 | n))
            else:
                hdr = bytes((0x80 | op, 0xFE if n < 65536 else 0xFF)) + \
                    n.to_bytes(2 if n < 65536 else 8, "big")
            key = os.urandom(4)
            self._w.write(hdr + key + _mask(bytes(data), key))
            await self._w.drain()

