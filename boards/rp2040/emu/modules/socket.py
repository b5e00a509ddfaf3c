"""TCP for the emulated chip: connections carried over UART0 and bridged to the
host's loopback by the emulator (tools/chip/emu.js documents the framing).
The console rides on the same link (bridge().console, for os.dupterm), so
that UART1 stays the Pico W's RS-485 bus (boards/rp2040/board.py).

Frozen into the emulator's image only, under the name `socket`, so that the
firmware's WebSocket client, asyncio's streams and the NTP query run on it
unchanged, as they run on lwIP on a Pico W. What differs from the radio: the
link is a 3 Mbaud UART (about 300 KB/s each way), there is no UDP (NTP fails
and the central system's time is used), and no DNS (the host resolves names).

The chip asks before the host sends: a socket that wants data says how much
(one buffer of _CHUNK bytes, owned by its slot for the charger's life), and the
host answers with at most that. So the UART's receive buffer never holds data
no reader wants, and one idle connection cannot block another.
"""
import io
import errno
import time
from micropython import const
from machine import UART, Pin

AF_INET = const(2)
SOCK_STREAM = const(1)
SOCK_DGRAM = const(2)
IPPROTO_TCP = const(6)
SOL_SOCKET = const(1)
SO_REUSEADDR = const(4)

BAUD = const(3000000)
_CHUNK = const(512)       # one read's worth per connection
_SLOTS = const(4)         # connections open at once
_POLL = const(3)          # MP_STREAM_POLL
_RD = const(1)
_WR = const(4)
_ERR = const(8)
_HUP = const(16)

_A = const(65)    # arguments (host -> chip)
_C = const(67)    # connect
_D = const(68)    # data
_E = const(69)    # connect failed
_H = const(72)    # hello
_K = const(75)    # connected
_T = const(84)    # console text (both ways)
_W = const(87)    # want
_X = const(88)    # closed


class _Slot:
    # One connection's state: its receive buffer is reused by the next
    # connection in the same slot.
    def __init__(self):
        self.buf = bytearray(_CHUNK)
        self.mv = memoryview(self.buf)
        self.sock = None


class _Bridge:
    def __init__(self):
        self.uart = UART(0, baudrate=BAUD, tx=Pin(0), rx=Pin(1), txbuf=1024,
                         rxbuf=_SLOTS * (_CHUNK + 8) + 64, timeout=2000, timeout_char=2000)
        self.slots = [_Slot() for _ in range(_SLOTS)]
        self.hin = bytearray(4)
        self.hinv = memoryview(self.hin)
        self.hout = bytearray(4)
        self.hn = 0             # header bytes read of the frame coming in
        self.left = 0           # its payload bytes still to read
        self.to = None          # the socket its payload is for (None: dropped)
        self.kind = 0
        self.junk = bytearray(32)
        self.text = None        # the payload of an A or E frame, collected
        self.chan = 0
        self.args = None
        self.busy = False       # a frame is being written
        self.console = _Console(self)

    def send(self, kind, chan, data=None, n=0):
        h = self.hout
        h[0] = kind
        h[1] = chan
        h[2] = n >> 8
        h[3] = n & 255
        self.busy = True
        try:
            self.uart.write(h)
            if n:
                self.uart.write(data)
        finally:
            self.busy = False

    def slot(self, sock):
        for sl in self.slots:
            if sl.sock is None:
                sl.sock = sock
                return sl
        raise OSError(errno.ENOMEM)

    def find(self, chan):
        for sl in self.slots:
            s = sl.sock
            if s is not None and s.chan == chan:
                return s
        return None

    def pump(self):
        """Take what the UART holds, frame by frame; never waits."""
        u = self.uart
        while True:
            n = u.any()
            if not n:
                return
            if self.hn < 4:
                k = 4 - self.hn
                self.hn += u.readinto(self.hinv[self.hn:self.hn + (k if k < n else n)])
                if self.hn < 4:
                    return
                h = self.hin
                self.kind = h[0]
                self.chan = h[1]
                self.left = (h[2] << 8) | h[3]
                self.to = self.find(self.chan)
                if self.kind in (_A, _E, _T):
                    self.text = bytearray()
                if not self.left:
                    self._done()
                continue
            k = self.left if self.left < n else n
            s = self.to
            if self.kind == _D and s is not None:
                if s.end + k > _CHUNK:
                    k = _CHUNK - s.end
                got = u.readinto(s.slot.mv[s.end:s.end + k])
                s.end += got
            else:
                if k > 32:
                    k = 32
                got = u.readinto(self.junk, k)
                if self.text is not None:
                    self.text.extend(self.junk[:got])
            self.left -= got
            if not self.left:
                self._done()

    def _done(self):
        self.hn = 0
        kind, s = self.kind, self.to
        text = self.text
        self.text = None
        if kind == _A:
            self.args = bytes(text)
            return
        if kind == _T:
            self.console.took(text)
            return
        if s is None:
            return
        if kind == _D:
            s.asked = False
        elif kind == _K:
            s.state = 2
        elif kind == _E:
            s.state = 4
            s.why = bytes(text).decode()
        elif kind == _X:
            s.eof = True
            s.asked = False

    def hello(self):
        """The start arguments the host gives this run (JSON bytes)."""
        self.send(_H, 0)
        while self.args is None:
            time.sleep_ms(1)
            self.pump()
        return self.args


class _Console(io.IOBase):
    # The REPL's stream: what MicroPython prints leaves as T frames, what the
    # host types arrives as T frames (read when the REPL asks).
    def __init__(self, br):
        self.br = br
        self.inp = b""

    def took(self, text):
        self.inp += text

    def write(self, buf):
        n = len(buf)
        # A print from a callback that runs while a frame is half written
        # (uart.write waits with callbacks pending) would tear that frame: it
        # is dropped instead.
        if n and not self.br.busy:
            self.br.send(_T, 0, buf, n if n < 65536 else 65535)
        return n

    def readinto(self, buf):
        if not self.inp:
            self.br.pump()
        k = len(self.inp)
        if not k:
            return None
        if k > len(buf):
            k = len(buf)
        buf[:k] = self.inp[:k]
        self.inp = self.inp[k:]
        return k

    def ioctl(self, req, arg):
        if req == _POLL:
            return arg & _WR | (arg & _RD if self.inp else 0)
        return 0


_bridge = None


def bridge():
    global _bridge
    if _bridge is None:
        _bridge = _Bridge()
    return _bridge


_next = 0


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    # The host resolves names when it connects.
    return [(AF_INET, type or SOCK_STREAM, IPPROTO_TCP, "", (host, port))]


class socket(io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        global _next
        if type != SOCK_STREAM:
            raise OSError(errno.EOPNOTSUPP)
        self.br = bridge()
        self.slot = self.br.slot(self)
        _next = _next % 255 + 1
        self.chan = _next
        self.state = 0          # 0 new, 1 connecting, 2 connected, 3 closed, 4 failed
        self.why = None
        self.start = 0          # the unread part of the slot's buffer: start..end
        self.end = 0
        self.asked = False
        self.eof = False
        self.blocking = True

    def setblocking(self, flag):
        self.blocking = flag

    def settimeout(self, t):
        self.blocking = t is None

    def setsockopt(self, level, opt, value):
        pass

    def connect(self, addr):
        b = "%s:%d" % (addr[0], addr[1])
        self.state = 1
        self.br.send(_C, self.chan, b, len(b))
        if not self.blocking:
            raise OSError(errno.EINPROGRESS)
        while self.state == 1:
            self._wait()
        self._check()

    def _wait(self):
        # Blocking mode only (the firmware's sockets are non-blocking).
        time.sleep_ms(1)
        self.br.pump()

    def _check(self):
        if self.state == 4:
            raise OSError(errno.ECONNREFUSED)
        if self.state == 3:
            raise OSError(errno.EBADF)

    def _ask(self):
        if not self.asked and not self.eof and self.state == 2 and self.start == self.end:
            self.start = self.end = 0
            self.asked = True
            self.br.send(_W, self.chan, b"\x02\x00", 2)  # _CHUNK, big-endian

    def readinto(self, buf, n=-1):
        self._check()
        self.br.pump()
        if n < 0 or n > len(buf):
            n = len(buf)
        while self.start == self.end:
            if self.eof:
                return 0
            self._ask()
            if not self.blocking:
                return None
            self._wait()
            self._check()
        k = self.end - self.start
        if k > n:
            k = n
        buf[:k] = self.slot.mv[self.start:self.start + k]
        self.start += k
        if self.start == self.end:
            self._ask()
        return k

    def read(self, n=-1):
        if n < 0:
            n = _CHUNK
        b = bytearray(n)
        k = self.readinto(b)
        if k is None:
            return None
        return bytes(b[:k])

    def recv(self, n):
        return self.read(n)

    def readline(self):
        # Up to a newline or what is there; None when nothing is (asyncio's
        # Stream.readline calls it again after the next poll).
        self._check()
        self.br.pump()
        if self.start == self.end:
            if self.eof:
                return b""
            self._ask()
            return None
        mv = self.slot.mv
        i = self.start
        while i < self.end and mv[i] != 10:
            i += 1
        if i < self.end:
            i += 1
        out = bytes(mv[self.start:i])
        self.start = i
        if self.start == self.end:
            self._ask()
        return out

    def write(self, data, n=-1):
        self._check()
        if self.state != 2:
            if self.blocking:
                while self.state == 1:
                    self._wait()
                self._check()
            else:
                return None
        if self.eof and self.state != 2:
            raise OSError(errno.ECONNRESET)
        if n < 0:
            n = len(data)
        mv = memoryview(data)
        off = 0
        while off < n:
            k = n - off
            if k > _CHUNK:
                k = _CHUNK
            self.br.send(_D, self.chan, mv[off:off + k], k)
            off += k
        return n

    def send(self, data):
        return self.write(data)

    def sendall(self, data):
        self.write(data)

    def ioctl(self, req, arg):
        if req != _POLL:
            if req == 4:    # MP_STREAM_CLOSE
                self.close()
            return 0
        self.br.pump()
        ev = 0
        st = self.state
        if st == 4 or st == 3:
            return arg & (_RD | _WR) | _ERR | _HUP
        if arg & _RD:
            if self.start < self.end or self.eof:
                ev |= _RD
            else:
                self._ask()
        if arg & _WR and st == 2:
            ev |= _WR
        if self.eof:
            ev |= _HUP
        return ev

    def close(self):
        if self.state == 3:
            return
        if self.state in (1, 2) and not self.eof:
            self.br.send(_X, self.chan)
        self.state = 3
        if self.slot.sock is self:
            self.slot.sock = None

    def fileno(self):
        return -1
