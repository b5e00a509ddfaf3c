"""Modbus RTU master over a UART-like object (Modbus over Serial Line V1.02).

    bus = Master(uart, baud, de=pin_or_None)
    regs = await bus.read(slave, 4, addr, count)   # memoryview of 2*count bytes
    bus.errors  {"timeout": n, "crc": n, "address": n, "frame": n, "exception": n}

uart: write(buf) -> n, any() -> bytes waiting (a lower bound is enough),
readinto(mv) -> n; optionally txdone() (True once the last bit is out).
de: the RS-485 driver-enable pin (DE and /RE tied), an object with value(v),
high while we transmit, so the line is released at once for the answer.
A meter answers 3.5 characters after the request, and the release must not
wait on this task's next turn: another task may start a flash erase, which
masks interrupts, a hard timer's too, for 45 ms on an RP2040. So a de with
hold_us(us) (the Pico's: a PIO state machine) is raised and dropped by the
board's hardware for the request's line time; a plain pin is raised, and the
master holds the loop, without an await, until the last stop bit is out
(txdone(), else the line time) and drops it before any other task runs: 9.2 ms
for 8 bytes at 9600 baud, 2.3 ms at 38400.

Timing (spec 2.5.1.1): frames are delimited by 3.5 character times of
silence, 11 bits a character whatever the parity (a missing parity bit is
replaced by a second stop bit), fixed at 1.75 ms above 19200 baud. A request
goes out only after the bus has been quiet that long; an answer ends at the
first such silence after its first byte. Everything waits with short asyncio
sleeps, so the loop never blocks: a board's UART has a FIFO and an interrupt
driven ring buffer, and a few milliseconds of polling lose nothing (the
line time of a request with a plain driver-enable pin is the exception, above).

Failures are ModbusError(kind, code): "timeout" (no answer in timeout_ms),
"crc", "address" (an answer from another slave), "frame" (too short, wrong
function, wrong length) are retried `retries` times; "exception" (the slave
answered with exception code `code`) is final. Each is counted in errors.
"""
import struct
from array import array
from compat import ticks_ms, ticks_us, ticks_diff, sleep_ms

KINDS = ("timeout", "crc", "address", "frame", "exception")
EXC = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
       4: "slave device failure", 6: "slave device busy"}


class ModbusError(Exception):
    def __init__(self, kind, code=0):
        super().__init__(kind, code)
        self.kind = kind
        self.code = code

    def text(self):
        if self.kind == "exception":
            return "exception %d (%s)" % (self.code, EXC.get(self.code, "?"))
        return self.kind


def _crc_table():
    # 512 bytes as an array: a tuple of 256 ints would take four times that.
    t = array("H", bytes(512))
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        t[i] = c
    return t


_T = _crc_table()


def crc16(buf, n):
    """CRC-16/MODBUS of buf[:n] (sent low byte first)."""
    c = 0xFFFF
    t = _T
    for i in range(n):
        c = (c >> 8) ^ t[(c ^ buf[i]) & 0xFF]
    return c


def gap_us(baud):
    # 3.5 characters of 11 bits; the spec fixes 1750 us above 19200 baud.
    if baud > 19200:
        return 1750
    return 38500000 // baud


class Master:
    def __init__(self, uart, baud, de=None, timeout_ms=300, retries=2):
        self.uart = uart
        self.de = de
        self.baud = baud
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.char_us = 11000000 // baud
        # The silence that ends an answer, in whole ms as our sleeps see it:
        # 3.5 characters rounded up, plus one ms for the sleep's own jitter.
        self.gap_ms = (gap_us(baud) + 999) // 1000 + 1
        self.rx = bytearray(256)        # the longest RTU frame
        self.mv = memoryview(self.rx)
        self.tx = bytearray(8)
        self.errors = {}
        for k in KINDS:
            self.errors[k] = 0
        self.ok = 0
        self._quiet = ticks_ms()        # when the bus was last seen busy
        if de is not None:
            de.value(0)
        self._hold = getattr(de, "hold_us", None)

    async def read(self, slave, fn, addr, count):
        """Registers addr..addr+count-1 of slave by function 3 (holding) or 4
        (input): a memoryview of their 2*count bytes, big-endian, valid until
        the next call."""
        if fn not in (3, 4) or not 1 <= count <= 125 or not 1 <= slave <= 247:
            raise ValueError("read: function 3 or 4, 1..125 registers, slave 1..247")
        t = self.tx
        t[0] = slave
        t[1] = fn
        t[2] = addr >> 8
        t[3] = addr & 0xFF
        t[4] = count >> 8
        t[5] = count & 0xFF
        c = crc16(t, 6)
        t[6] = c & 0xFF
        t[7] = c >> 8
        err = None
        for _ in range(self.retries + 1):
            await self._send(t)
            n = await self._receive()
            err = self._check(n, slave, fn, count)
            if err is None:
                self.ok += 1
                return self.mv[3:3 + 2 * count]
            self.errors[err.kind] += 1
            if err.kind == "exception":
                break
        raise err

    async def _send(self, frame):
        u = self.uart
        # Whatever is left from a late or foreign answer belongs to no request.
        while u.any():
            u.readinto(self.mv[:64])
            self._quiet = ticks_ms()
        # Wait for 3.5 characters of silence since the bus was last busy.
        while ticks_diff(ticks_ms(), self._quiet) < self.gap_ms:
            await sleep_ms(1)
            if u.any():
                u.readinto(self.mv[:64])
                self._quiet = ticks_ms()
        de = self.de
        done = getattr(u, "txdone", None)
        line_us = len(frame) * self.char_us
        if de is not None and self._hold is None:
            de.value(1)
            u.write(frame)
            # No await until the driver is off (module docstring); the limit
            # keeps a UART whose txdone never comes from holding it for good.
            t0 = ticks_us()
            if done is None:
                while ticks_diff(ticks_us(), t0) < line_us:
                    pass
            else:
                while not done() and ticks_diff(ticks_us(), t0) < 2 * line_us:
                    pass
            de.value(0)
        else:
            t0 = ticks_ms()
            if self._hold is not None:
                # Half a character more: the write's own latency.
                self._hold(line_us + self.char_us // 2)
            u.write(frame)
            out_ms = (line_us + 999) // 1000
            while ticks_diff(ticks_ms(), t0) < out_ms or (done is not None and not done()):
                await sleep_ms(1)
                if ticks_diff(ticks_ms(), t0) > out_ms + 50:
                    break
        self._quiet = ticks_ms()

    async def _receive(self):
        # Bytes until the first silence of gap_ms after the first one, or 0
        # when none came within timeout_ms. Longer frames are cut off and
        # fail their CRC.
        u = self.uart
        mv = self.mv
        size = len(mv)
        n = 0
        t0 = ticks_ms()
        last = t0
        while True:
            k = u.any()
            if k:
                if n < size:
                    got = u.readinto(mv[n:min(size, n + k)])
                    n += got or 0
                else:
                    # Too long for any answer: drop it, it fails as a frame.
                    u.readinto(mv[:min(k, 64)])
                    n = size + 1
                last = ticks_ms()
                continue
            now = ticks_ms()
            if n == 0:
                if ticks_diff(now, t0) >= self.timeout_ms:
                    return 0
            elif ticks_diff(now, last) >= self.gap_ms:
                self._quiet = last
                return n
            await sleep_ms(1)

    def _check(self, n, slave, fn, count):
        r = self.rx
        if n == 0:
            return ModbusError("timeout")
        if n < 5 or n > len(r):
            return ModbusError("frame")
        c = crc16(r, n - 2)
        if r[n - 2] != c & 0xFF or r[n - 1] != c >> 8:
            return ModbusError("crc")
        if r[0] != slave:
            return ModbusError("address", r[0])
        if r[1] == fn | 0x80:
            return ModbusError("exception", r[2])
        if r[1] != fn or r[2] != 2 * count or n != 5 + 2 * count:
            return ModbusError("frame")
        return None


# ---- register formats: big-endian words, as Modbus meters send them
def u16(b, i):
    return (b[i] << 8) | b[i + 1]


def u32(b, i):
    return (u16(b, i) << 16) | u16(b, i + 2)


def s32(b, i):
    v = u32(b, i)
    return v - 0x100000000 if v & 0x80000000 else v


def u64(b, i):
    return (u32(b, i) << 32) | u32(b, i + 4)


def f32(b, i):
    """IEEE-754 single from two registers, high word first (Eastron); NaN and
    the infinities come back as they are: the caller refuses them."""
    return struct.unpack_from(">f", b, i)[0]
