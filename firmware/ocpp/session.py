# The life of the link to the central system: connect with back-off, boot,
# heartbeat, and feed the charge point's outgoing messages one CALL at a time
# (firmware/ocpp/outbox.py says what goes next and builds it).
# Every new connection goes through BootNotification again: the central
# system cannot tell a reconnect from a restart otherwise, and until it
# answers Accepted or Pending nothing else may be sent (spec 4.2).
import asyncio
import random
import log
import ws as wslib
from compat import ticks_ms, ticks_diff, sleep_ms
from firmware.ocpp.rpc import CallError, CallTimeout, LinkDown

BACKOFF_MIN_MS = 1000
BACKOFF_MAX_MS = 60000
PENDING_DEFAULT_S = 30   # our own wait when Pending/Rejected comes with interval 0


class Session:
    def __init__(self, out, url, ssl=None, auth=None, bufsize=8192, buf=None, dial=None):
        self.out = out
        # dial() -> (url, ssl, auth), asked before every connect when given:
        # what the security profile and the certificates make of the link can
        # change while the firmware runs (firmware/main.py).
        self.dial = dial
        self.on_fail = None         # fn(exception) after a connect that failed
        self.on_up = None           # fn() once a BootNotification is accepted
        self.rpc = out.rpc
        self.url = url
        self.ssl = ssl
        self.auth = auth
        # One receive buffer for the life of the firmware: a fresh 8 KiB block
        # at every reconnect is what a fragmented heap fails to give first.
        self.buf = bytearray(bufsize) if buf is None else buf
        self.link_allowed = True
        self._allowed = asyncio.Event()
        self._allowed.set()
        self.ws = None
        self._dead = False
        self.attempt = 0
        self.connects = 0
        self.heartbeats = 0
        self.accepted_ms = None     # ticks when the first BootNotification was accepted
        self._bad = None            # the security event of the last failed connects

    def _cfg(self, key, default):
        try:
            v = self.out.cfg.get(key)
        except Exception:
            return default
        return default if v is None else v

    def set_link(self, up):
        """Allow or forbid the network link; forbidding drops it at once."""
        self.link_allowed = up
        if up:
            self._allowed.set()
        else:
            self._allowed.clear()
            self._drop()

    def reconnect(self):
        """Drop the link; the next connect asks dial() again."""
        log.info("link", "reconnecting with the new security settings")
        self._drop()

    def _drop(self):
        self._dead = True
        ws = self.ws
        if ws is not None:
            try:
                ws.abort()
            except Exception:
                pass
        self.out.wake.set()

    async def run(self):
        backoff = BACKOFF_MIN_MS
        while True:
            if not self.link_allowed:
                await self._allowed.wait()
            self.attempt += 1
            try:
                if self.dial is not None:
                    self.url, self.ssl, self.auth = self.dial()
                ws = await wslib.connect(self.url, ssl=self.ssl, auth=self.auth,
                                         buf=self.buf)
            except Exception as e:
                self._security(e)
                if self.on_fail is not None:
                    self.on_fail(e)
                # Jitter spreads the reconnects of a fleet after a central system outage.
                delay = backoff // 2 + random.getrandbits(16) % (backoff // 2 + 1)
                log.warn("link", "connect to %s failed (attempt %d): %s; retry in %d.%d s",
                         self.url, self.attempt, _one_line(e), delay // 1000, delay % 1000 // 100)
                await self._sleep_unless_forbidden(delay)
                backoff = min(backoff * 2, BACKOFF_MAX_MS)
                continue
            if not self.link_allowed:
                await _close(ws)
                continue
            self.connects += 1
            self._bad = None
            log.info("link", "connected to %s", self.url)
            started = ticks_ms()
            await self._online(ws)
            # A link that held for a while earns a fresh back-off; one that the
            # server drops at once keeps growing it, so it is not hammered.
            if ticks_diff(ticks_ms(), started) > BACKOFF_MAX_MS or self.out.boot == "Accepted":
                backoff = BACKOFF_MIN_MS
            else:
                backoff = min(backoff * 2, BACKOFF_MAX_MS)
            if self.link_allowed:
                log.warn("link", "connection lost; reconnecting")
                await self._sleep_unless_forbidden(backoff // 2 + random.getrandbits(8))

    def _security(self, e):
        # A certificate the CA does not vouch for, or credentials refused: a
        # security event, once for a run of failed attempts.
        sec = self.out.security
        kind = _kind(e, self.ssl is not None)
        if kind is not None and kind != self._bad and sec is not None:
            sec.event(kind, _one_line(e))
        self._bad = kind

    async def _sleep_unless_forbidden(self, ms):
        end = ticks_ms() + ms
        while self.link_allowed and ticks_diff(end, ticks_ms()) > 0:
            await sleep_ms(min(200, max(1, ticks_diff(end, ticks_ms()))))

    async def _online(self, ws):
        self.ws = ws
        self._dead = False
        self.rpc.attach(ws)
        self.out.online = True
        reader = asyncio.create_task(self._read(ws))
        keep = asyncio.create_task(ws.keepalive(self._ping_interval))
        try:
            if await self._boot():
                self.out.on_connected()
                await self._send_loop()
        except (LinkDown, EOFError, OSError) as e:
            log.debug("link", "link down: %s", _one_line(e))
        finally:
            self.out.online = False
            self.rpc.detach()
            self.ws = None
            reader.cancel()
            keep.cancel()
            await _close(ws)

    def _ping_interval(self):
        return self._cfg("WebSocketPingInterval", 0)

    async def _read(self, ws):
        try:
            await self.rpc.serve()
        except Exception as e:
            log.info("link", "closed: %s", _one_line(e) or "by the central system")
        self._dead = True
        self.rpc.detach()
        self.out.wake.set()

    async def _wait(self, ms):
        # Sleep between BootNotifications, but wake at once when the link dies
        # or the central system triggers a message (spec 4.2: while Pending only
        # triggered messages may be sent).
        out = self.out
        end = ticks_ms() + ms
        while not self._dead and ticks_diff(end, ticks_ms()) > 0:
            if out.boot_requested:
                out.boot_requested = False
                return
            if out.ram:
                action, payload, done = out.ram.pop(0)
                try:
                    res = await self.rpc.call(action, payload, self._cfg("MessageTimeout", 30))
                except (CallError, CallTimeout) as e:
                    res = e
                if done is not None:
                    done(res)
                continue
            await sleep_ms(min(100, max(1, ticks_diff(end, ticks_ms()))))
        if self._dead:
            raise LinkDown("link down")

    async def _boot(self):
        out = self.out
        while not self._dead:
            try:
                res = await self.rpc.call("BootNotification", out.boot_payload(),
                                          self._cfg("MessageTimeout", 30))
            except (CallError, CallTimeout) as e:
                log.warn("boot", "BootNotification failed: %s; retry in %d s",
                         _one_line(e), PENDING_DEFAULT_S)
                await self._wait(PENDING_DEFAULT_S * 1000)
                continue
            status = res.get("status")
            interval = res.get("interval")
            if not isinstance(interval, int) or interval < 0:
                interval = 0
            out.clock(res)
            out.boot = status
            if status == "Accepted":
                if interval > 0:
                    try:
                        out.cfg.set("HeartbeatInterval", interval, "boot")
                    except Exception as e:
                        log.warn("boot", "cannot keep heartbeat interval %d: %s", interval, e)
                if self.accepted_ms is None:
                    self.accepted_ms = ticks_ms()
                if self.on_up is not None:
                    self.on_up()
                log.info("boot", "accepted; heartbeat every %d s", self._cfg("HeartbeatInterval", 0))
                return True
            wait = interval or PENDING_DEFAULT_S
            log.info("boot", "%s by the central system; next BootNotification in %d s", status, wait)
            if status == "Rejected":
                # While Rejected the charge point must not answer the central system.
                self.rpc.accept_calls = False
            try:
                await self._wait(wait * 1000)
            finally:
                self.rpc.accept_calls = True
        return False

    async def _send_loop(self):
        out = self.out
        rpc = self.rpc
        while not self._dead:
            msg = out.next_message()
            if msg is not None:
                action, payload, done = msg
                try:
                    res = await rpc.call(action, payload, self._cfg("MessageTimeout", 30))
                except (CallError, CallTimeout) as e:
                    log.warn("ocpp", "%s: %s", action, _one_line(e))
                    res = e
                if done is not None:
                    done(res)
                continue
            hb = self._cfg("HeartbeatInterval", 0)
            idle = ticks_diff(ticks_ms(), rpc.last_tx_ms)
            if hb > 0 and idle >= hb * 1000:
                await self._heartbeat()
                continue
            out.wake.clear()
            wait = hb * 1000 - idle if hb > 0 else 1000
            try:
                await asyncio.wait_for(out.wake.wait(), min(wait, 1000) / 1000)
            except asyncio.TimeoutError:
                pass
        raise LinkDown("link down")

    async def _heartbeat(self):
        try:
            res = await self.rpc.call("Heartbeat", {}, self._cfg("MessageTimeout", 30))
        except (CallError, CallTimeout) as e:
            log.warn("ocpp", "Heartbeat: %s", _one_line(e))
            return
        self.heartbeats += 1
        self.out.clock(res)


def _kind(e, tls=False):
    # The security event of a failed connect, from CPython's ssl and mbedtls
    # (MicroPython) messages: a server certificate the CA does not vouch for;
    # a TLS version or cipher suites refused (A00.FR.419/426); the central
    # system refusing this charger: HTTP 401/403 for profiles 1 and 2, a TLS
    # alert about its certificate, or none given, for profile 3.
    text = str(e)
    up = text.upper()
    if ("CERT" in up and "VERIF" in up) or "-9984" in text:
        return "InvalidCentralSystemCertificate"
    if "PROTOCOL_VERSION" in up or "UNSUPPORTED_PROTOCOL" in up:
        return "InvalidTLSVersion"
    if "NO_SHARED_CIPHER" in up or "NO_CIPHER" in up:
        return "InvalidTLSCipherSuite"
    if getattr(e, "status", None) in (401, 403) or "CERTIFICATE_REQUIRED" in up \
            or "BAD_CERTIFICATE" in up or "UNKNOWN_CA" in up or "FATAL_ALERT" in up:
        return "FailedToAuthenticateAtCentralSystem"
    # With TLS 1.3 the server checks the client's certificate (or its
    # absence) after the client has finished its part of the handshake, and a
    # refusal reaches the client as the link closing: EOF during the
    # WebSocket handshake (CPython), or mbedtls' EOF or a broken pipe. Other
    # causes look the same; this event is logged, not sent.
    if tls and ("DURING THE HANDSHAKE" in up or "CONN_EOF" in up or text.endswith(": 32")
                or text.endswith(": 104")):
        return "FailedToAuthenticateAtCentralSystem"
    return None


def _one_line(e):
    s = str(e) or e.__class__.__name__
    return s.replace("\n", " ")[:160]


async def _close(ws):
    try:
        await asyncio.wait_for(ws.close(), 2)
    except Exception:
        pass
