"""The MQTT connection: micropython-lib's umqtt.simple speaks the protocol (the
CONNECT with user, password and last will, PUBLISH, SUBSCRIBE, PINGREQ, and the
parsing of a PUBLISH in wait_msg), this module does the I/O without ever
blocking the event loop, and reconnects with back-off, independently of the
central system's link.

umqtt.simple reads and writes a blocking socket. Here it gets a _Pipe: what it
writes lands in a fixed send buffer that the link then hands to the event
loop's non-blocking writer; what it reads comes from a fixed receive buffer,
and the link calls its wait_msg() only once a whole packet is there. A read
that cannot be served raises _Short; that happens only where the client would
wait for an answer (the CONNACK at the end of connect(), the SUBACK at the end
of subscribe()), and the link waits for those itself, with a time limit. The
client's connect() dials through its module's `socket`: for that one call the
module gets a _Handover, which hands it the connection opened here instead, so
neither a blocking connect nor a name lookup happens inside it.

Memory: RX (256) and TX (1024) bytes, allocated once. A packet larger than RX
(a command is a few bytes) is skipped as it arrives, never accumulated, with
one log line; a message we publish larger than TX is refused with one.

    link = Link(on_message, on_up)
    link.configure(settings)   Settings below, or None: disconnect, stay off
    link.set_link(up)          the network is there (Wi-Fi) or not
    await link.run()           the task: connect, serve, reconnect, forever
    await link.publish(topic, payload, retain=True) -> True when handed to the socket
    await link.close()         DISCONNECT (no last will) and stay off
    link.up, link.state        connected; "off", "connecting", "connected", "down"
on_message(topic, payload, retained): bytes, bytes, bool; on_up(): connected
and subscribed. Both are called from the link's tasks and must not block.
"""
import asyncio
import random
import log
import tcp
from compat import ticks_ms, ticks_diff, sleep_ms
from umqtt import simple as _simple

RX = 256
TX = 1024
KEEPALIVE_S = 60
CONNECT_MS = 10000      # TCP (and TLS) connection, and the CONNACK after it
SEND_MS = 10000         # a send the broker does not take within this drops the link
BACKOFF_MIN_MS = 1000
BACKOFF_MAX_MS = 60000
_SOCKET = _simple.socket
# CONNACK return codes (MQTT 3.1.1, 3.2.2.3)
_REFUSED = (None, "the broker does not speak MQTT 3.1.1", "the client id was refused",
            "the broker is unavailable", "bad user name or password (mqtt_user, mqtt_password)",
            "not authorised (check mqtt_user and mqtt_password)")


class Settings:
    def __init__(self, host, port, tls, ctx, client_id, user, password, will, subs, shown):
        self.host = host
        self.port = port
        self.tls = tls
        self.ctx = ctx              # SSLContext for mqtts://
        self.client_id = client_id  # bytes, like user, password and topics
        self.user = user
        self.password = password
        self.will = will            # the availability topic: "offline" there, retained
        self.subs = subs            # topic filters to subscribe to
        self.shown = shown          # the URL, for the log


class _Short(Exception):
    pass


class _Pipe:
    # The socket umqtt.simple sees.
    def __init__(self):
        self.rx = bytearray(RX)
        self.rxm = memoryview(self.rx)
        self.start = 0      # first byte not yet taken
        self.end = 0        # bytes held
        self.lim = 0        # reads stop here: the end of the packet being parsed
        self.tx = bytearray(TX)
        self.txm = memoryview(self.tx)
        self.n = 0          # bytes waiting to be sent

    def reset(self):
        self.start = self.end = self.lim = self.n = 0

    def write(self, buf, n=None):
        if isinstance(buf, str):
            buf = buf.encode()
        if n is None:
            n = len(buf)
        if self.n + n > TX:
            raise ValueError("an MQTT packet above %d bytes" % TX)
        self.tx[self.n:self.n + n] = memoryview(buf)[:n]
        self.n += n
        return n

    def read(self, n):
        if self.start + n > self.lim:
            raise _Short()
        b = bytes(self.rxm[self.start:self.start + n])
        self.start += n
        return b

    def setblocking(self, flag):
        pass

    def settimeout(self, t):
        pass

    def connect(self, addr):
        pass

    def close(self):
        pass


class _Handover:
    # Stands in for the socket module inside umqtt.simple while its connect()
    # runs: the connection is open already.
    def __init__(self, pipe):
        self.pipe = pipe

    def socket(self, *args):
        return self.pipe

    def getaddrinfo(self, host, port, *args):
        return ((None, None, None, None, (host, port)),)


def _header(buf, i, end):
    """(header bytes, remaining length) of the packet at i, None while its
    header is incomplete; ValueError when it is malformed."""
    n = 0
    sh = 0
    j = i + 1
    while j < end:
        b = buf[j]
        n |= (b & 0x7F) << sh
        j += 1
        if not b & 0x80:
            return j - i, n
        sh += 7
        if sh > 21:
            raise ValueError("the broker sent a malformed packet length")
    return None


def _one_line(e):
    s = str(e) or e.__class__.__name__
    return s.replace("\n", " ")[:160]


class Link:
    def __init__(self, on_message, on_up):
        self.on_message = on_message
        self.on_up = on_up
        self.pipe = _Pipe()
        self.settings = None
        self.allowed = True
        self.up = False
        self.state = "off"
        self.connects = 0
        self.dropped = 0            # packets skipped for their size
        self.last_rx = self.last_tx = ticks_ms()
        self._conn = None
        self._cl = None
        self._gen = 0
        self._acked = None          # the CONNACK's return code
        self._retain = False
        self._skip = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    # ---- what the service asks
    def configure(self, settings):
        self.settings = settings
        self._gen += 1
        self._drop()
        self._wake.set()

    def set_link(self, up):
        self.allowed = up
        if not up:
            self._drop()
        self._wake.set()

    async def publish(self, topic, payload, retain=True):
        if not self.up:
            return False
        if len(topic) + len(payload) + 5 > TX:
            log.error("mqtt", "a message of %d bytes for %s is larger than %d: not sent",
                      len(payload), topic.decode(), TX)
            return False
        self._cl.publish(topic, payload, retain)
        return await self._flush()

    async def close(self):
        """Disconnect cleanly (the broker sends no last will) and stay off."""
        if self.up:
            self._cl.disconnect()
            await self._flush()
        self.configure(None)

    # ---- the task
    async def run(self):
        backoff = BACKOFF_MIN_MS
        while True:
            st = self.settings
            if st is None or not self.allowed:
                self.state = "off" if st is None else "down"
                self._wake.clear()
                await self._wake.wait()
                continue
            gen = self._gen
            t0 = ticks_ms()
            why = None
            try:
                await self._session(st, gen)
            except Exception as e:
                why = _one_line(e)
            self.up = False
            self._drop()
            if self._gen != gen or not self.allowed:
                backoff = BACKOFF_MIN_MS
                continue
            self.state = "down"
            if ticks_diff(ticks_ms(), t0) > BACKOFF_MAX_MS:
                backoff = BACKOFF_MIN_MS
            # Jitter spreads the reconnects of many chargers after a broker restart.
            delay = backoff // 2 + random.getrandbits(16) % (backoff // 2 + 1)
            log.warn("mqtt", "%s: %s; retry in %d.%d s", st.shown, why or "connection lost",
                     delay // 1000, delay % 1000 // 100)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay / 1000)
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, BACKOFF_MAX_MS)

    async def _session(self, st, gen):
        self.state = "connecting"
        conn = self._conn = tcp.Conn()
        await asyncio.wait_for(conn.open(st.host, st.port, st.ctx), CONNECT_MS / 1000)
        p = self.pipe
        p.reset()
        self._skip = 0
        self._acked = None
        cl = self._cl = _simple.MQTTClient(st.client_id, st.host, st.port, st.user or None,
                                           st.password, keepalive=KEEPALIVE_S)
        cl.set_callback(self._deliver)
        cl.set_last_will(st.will, b"offline", retain=True)
        _simple.socket = _Handover(p)
        try:
            cl.connect()
        except _Short:
            pass                    # it waits for the CONNACK: served below
        finally:
            _simple.socket = _SOCKET
        self.last_rx = ticks_ms()
        reader = asyncio.create_task(self._serve(conn))
        try:
            if not await self._flush():
                raise OSError("cannot send to the broker")
            while self._acked is None:
                if reader.done() or ticks_diff(ticks_ms(), self.last_rx) > CONNECT_MS:
                    raise OSError("no CONNACK from the broker")
                await sleep_ms(20)
            if self._acked:
                rc = self._acked
                raise OSError("refused: %s" % (_REFUSED[rc] if rc < len(_REFUSED)
                                               else "code %d" % rc))
            for t in st.subs:
                try:
                    cl.subscribe(t)
                except _Short:
                    pass            # the SUBACK comes to the reader
            if not await self._flush():
                raise OSError("cannot send to the broker")
            self.up = True
            self.state = "connected"
            self.connects += 1
            log.info("mqtt", "connected to %s", st.shown)
            self.on_up()
            await self._keepalive(reader, cl, gen)
        finally:
            self.up = False
            reader.cancel()

    async def _keepalive(self, reader, cl, gen):
        while not reader.done() and self._gen == gen and self.allowed:
            await sleep_ms(250)
            now = ticks_ms()
            if ticks_diff(now, self.last_rx) > KEEPALIVE_S * 1500:
                raise OSError("no answer from the broker for %d s" % (KEEPALIVE_S * 3 // 2))
            if ticks_diff(now, self.last_tx) >= KEEPALIVE_S * 500:
                cl.ping()
                await self._flush()
        if reader.done():
            await reader            # its exception says why

    def _drop(self):
        self.up = False
        c = self._conn
        self._conn = None
        if c is not None:
            c.close()

    async def _flush(self):
        """Send what the client wrote; False (and the link dropped) if that fails."""
        p = self.pipe
        async with self._lock:
            if not p.n:
                return True
            conn = self._conn
            n = p.n
            p.n = 0
            if conn is None:
                return False
            try:
                await asyncio.wait_for(conn.send(p.txm[:n]), SEND_MS / 1000)
            except Exception as e:
                log.warn("mqtt", "send failed: %s", _one_line(e) or "timeout")
                self._drop()
                return False
            self.last_tx = ticks_ms()
            return True

    # ---- what comes in
    async def _serve(self, conn):
        p = self.pipe
        while True:
            if p.end >= RX:         # only while skipping: make room
                p.start = p.end = 0
            k = await conn.read(p.rxm[p.end:])
            self.last_rx = ticks_ms()
            p.end += k
            self._packets()
            if p.n:
                await self._flush()     # a PUBACK the client wrote

    def _packets(self):
        p = self.pipe
        rx = p.rx
        while True:
            if self._skip:
                k = min(self._skip, p.end - p.start)
                p.start += k
                self._skip -= k
                if self._skip:
                    break
            h = _header(rx, p.start, p.end)
            if h is None:
                break
            total = h[0] + h[1]
            if total > RX:
                self._too_large(p.start, h[0], total)
                self._skip = total
                continue
            if p.end - p.start < total:
                break
            self._packet(p.start, total)
        if p.start:
            k = p.end - p.start
            rx[:k] = p.rxm[p.start:p.end]
            p.start = 0
            p.end = k

    def _packet(self, i, total):
        p = self.pipe
        rx = p.rx
        kind = rx[i] & 0xF0
        end = i + total
        if kind == 0x20:
            self._acked = rx[i + 3] if total >= 4 else 255
        elif kind == 0x90:
            if rx[end - 1] == 0x80:
                log.warn("mqtt", "the broker refused a subscription: commands will not arrive")
        elif kind == 0x30 or kind == 0xD0:
            self._retain = bool(rx[i] & 1)
            p.lim = end
            try:
                self._cl.wait_msg()
            except (_Short, IndexError, AssertionError):
                log.warn("mqtt", "a malformed packet from the broker was dropped")
            p.lim = 0
        p.start = end

    def _too_large(self, i, hl, total):
        self.dropped += 1
        rx = self.pipe.rx
        end = self.pipe.end
        topic = "?"
        j = i + hl
        if rx[i] & 0xF0 == 0x30 and j + 2 <= end:
            tl = rx[j] << 8 | rx[j + 1]
            if j + 2 + tl <= end:
                topic = bytes(rx[j + 2:j + 2 + tl]).decode("utf-8", "replace")
        log.warn("mqtt", "a message of %d bytes on %s is larger than %d: ignored",
                 total, topic, RX)

    def _deliver(self, topic, payload):
        try:
            self.on_message(topic, payload, self._retain)
        except Exception as e:
            log.error("mqtt", "handling a message on %s failed: %r", topic, e)
