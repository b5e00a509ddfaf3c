# OCPP-J 1.6 RPC: CALL / CALLRESULT / CALLERROR over one WebSocket.
# The charge point has at most one CALL in flight (OCPP-J 4.1.1); inbound CALLs
# are answered as they come, also while our own CALL waits for its answer.
# Handlers are found by action name: firmware/ocpp/actions/<Action>.py with a
# SCHEMA dict (see check.py) and handle(cp, payload) -> response payload.
import json
import asyncio
import os
import binascii
import log
from compat import ticks_ms, sleep_ms
from jsontext import strict, parse, pieces, text
from firmware.ocpp.check import check, acheck

CALL = 2
CALLRESULT = 3
CALLERROR = 4

# Every action a central system may send to a charge point in OCPP 1.6 and the
# security whitepaper. An action in this set without a handler module is
# NotSupported; any other action is NotImplemented (OCPP-J 1.6 table 7).
KNOWN = ("CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache",
         "ClearChargingProfile", "DataTransfer", "GetCompositeSchedule", "GetConfiguration",
         "GetDiagnostics", "GetLocalListVersion", "RemoteStartTransaction",
         "RemoteStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile",
         "TriggerMessage", "UnlockConnector", "UpdateFirmware",
         "CertificateSigned", "DeleteCertificate", "ExtendedTriggerMessage",
         "GetInstalledCertificateIds", "GetLog", "InstallCertificate", "SignedUpdateFirmware")

_MAX_ID = 36
_BIG = 2048         # a frame above this many bytes is handled in steps


def _printable(s):
    # Descriptions quote field names from the frame; whatever the frame held,
    # the answer stays short, printable ASCII.
    s = s[:200]
    for ch in s:
        if not " " <= ch <= "~":
            return "".join([c if " " <= c <= "~" else "?" for c in s])
    return s


class CallError(Exception):
    def __init__(self, code, description="", details=None):
        super().__init__("%s: %s" % (code, description))
        self.code = code
        self.description = description
        self.details = details


class CallTimeout(Exception):
    pass


class LinkDown(Exception):
    pass


def _quote_id(buf, n):
    # Read the message type and unique id from the first bytes of a frame that
    # could not be parsed whole (too large, or not JSON), so that a CALL still
    # gets its CALLERROR. Returns (type, id) or (None, None).
    i = 0
    while i < n and buf[i] in b" \t\r\n":
        i += 1
    if i >= n or buf[i] != 0x5B:  # [
        return None, None
    i += 1
    while i < n and buf[i] in b" \t\r\n":
        i += 1
    j = i
    while j < n and 0x30 <= buf[j] <= 0x39:
        j += 1
    if j == i or j - i > 2:
        return None, None
    mtype = int(bytes(buf[i:j]))
    while j < n and buf[j] in b" \t\r\n,":
        j += 1
    if j >= n or buf[j] != 0x22:  # "
        return mtype, None
    k = j + 1
    while k < n and buf[k] != 0x22 and buf[k] != 0x5C and k - j <= _MAX_ID + 1:
        k += 1
    if k >= n or buf[k] != 0x22:
        return mtype, None
    try:
        return mtype, bytes(buf[j + 1:k]).decode()
    except Exception:
        return mtype, None


class Rpc:
    def __init__(self, cp):
        self.cp = cp                 # handed to action handlers
        self.ws = None
        self._lock = asyncio.Lock()  # one CALL in flight
        self._wait_id = None
        self._answer = None
        self._event = asyncio.Event()
        self._prefix = binascii.hexlify(os.urandom(4)).decode()
        self._seq = 0
        self._handlers = {}
        self._after = []
        self._big = False            # the frame being handled is big: pause between steps
        self.sent = 0                # frames sent, for the benchmarks and the demo summary
        self.received = 0
        self.last_tx_ms = ticks_ms()
        self.accept_calls = True     # False while a BootNotification was Rejected
        self.trace = None            # fn(direction, text) to trace frames, or None

    def attach(self, ws):
        self.ws = ws

    def detach(self):
        self.ws = None
        if self._wait_id is not None:
            self._answer = LinkDown("link down")
            self._event.set()

    def later(self, fn):
        # Work a handler wants done after its answer is on the wire (OCPP asks
        # for this for Reset, TriggerMessage, RemoteStart authorisation...).
        self._after.append(fn)

    async def _send(self, obj):
        ws = self.ws
        if ws is None:
            raise LinkDown("link down")
        if self.trace:
            self.trace(">", b"".join(pieces(obj)).decode())
        # Twice through the pieces: to count the bytes for the frame header,
        # then to send them (jsontext.pieces: no 4 KB string on a small heap).
        n = 0
        for p in pieces(obj):
            n += len(p)
        try:
            await ws.send_pieces(n, lambda: pieces(obj))
        except Exception as e:
            raise LinkDown("send failed: %s" % e)
        self.sent += 1
        self.last_tx_ms = ticks_ms()

    async def call(self, action, payload, timeout_s=30):
        """Send a CALL, wait for its answer. Returns the CALLRESULT payload;
        raises CallError, CallTimeout or LinkDown."""
        async with self._lock:
            self._seq += 1
            uid = "%s-%d" % (self._prefix, self._seq)
            self._wait_id = uid
            self._answer = None
            self._event.clear()
            try:
                await self._send([CALL, uid, action, payload])
                if self._answer is None:
                    # The event is set only together with an answer (a result,
                    # a CallError, or LinkDown from detach).
                    try:
                        await asyncio.wait_for(self._event.wait(), timeout_s)
                    except asyncio.TimeoutError:
                        raise CallTimeout("%s: no answer within %d s" % (action, timeout_s))
            finally:
                self._wait_id = None
            ans = self._answer
            self._answer = None
            if isinstance(ans, Exception):
                raise ans
            return ans

    async def serve(self):
        """Read frames until the link closes (then raises EOFError or OSError)."""
        ws = self.ws
        while True:
            # A binary frame is read like a text one: OCPP-J says nothing of
            # binary frames, and a CALL in one still deserves its answer.
            op, n, total = await ws.recv()
            self.received += 1
            await self.on_frame(ws.buf, n, total)

    async def on_frame(self, buf, n, total):
        self._big = n > _BIG
        if total > n:
            mtype, uid = _quote_id(buf, n)
            log.warn("rpc", "message of %d bytes dropped: larger than the %d byte buffer", total, n)
            msg = "message too large: %d bytes, limit %d bytes" % (total, n)
            if mtype == CALL and uid is not None:
                await self._error(uid, "FormationViolation", msg)
            elif uid is not None and uid == self._wait_id:
                self._resolve(CallError("FormationViolation", msg))
            return
        try:
            strict(buf, n)
            if n > _BIG:
                # The check, the parse and the payload's check of a big frame
                # take tens of milliseconds each on a board: others run between.
                await sleep_ms(0)
            msg = parse(buf, n)
        except MemoryError:
            # A frame that is well formed but did not fit the heap is no
            # FormationViolation: the sender did nothing wrong.
            mtype, uid = _quote_id(buf, n)
            log.error("rpc", "no memory to parse a frame of %d bytes", n)
            if mtype == CALL and uid is not None:
                await self._error(uid, "InternalError", "out of memory for a %d-byte message" % n)
            return
        except Exception:
            msg = None
        if self.trace:
            try:
                self.trace("<", text(buf[:n]))
            except Exception as e:
                log.warn("rpc", "frame trace failed: %r", e)
        if not isinstance(msg, list) or len(msg) < 2 or not isinstance(msg[1], str):
            mtype, uid = _quote_id(buf, n)
            if uid is not None and (mtype == CALL or mtype is None):
                await self._error(uid, "FormationViolation", "not a valid OCPP-J message")
            else:
                log.warn("rpc", "unreadable frame dropped (%d bytes)", n)
            return
        mtype, uid = msg[0], msg[1]
        if len(msg) < 3:
            if mtype == CALL:
                await self._error(uid, "ProtocolError", "a CALL has 4 elements: 2, id, action, payload")
            else:
                log.warn("rpc", "frame of %d element(s) dropped", len(msg))
            return
        if len(uid) > _MAX_ID:
            if mtype == CALL:
                await self._error(uid, "FormationViolation", "unique id longer than 36 characters")
            else:
                log.warn("rpc", "answer with a unique id over 36 characters ignored")
            return
        if mtype == CALL:
            await self._on_call(msg)
        elif mtype == CALLRESULT or mtype == CALLERROR:
            if uid != self._wait_id:
                log.warn("rpc", "answer to unknown or late call %s ignored", uid)
                return
            if mtype == CALLRESULT:
                if len(msg) != 3 or not isinstance(msg[2], dict):
                    self._resolve(CallError("FormationViolation", "CALLRESULT payload is not an object"))
                else:
                    self._resolve(msg[2])
            else:
                code = msg[2] if isinstance(msg[2], str) else "GenericError"
                desc = msg[3] if len(msg) > 3 and isinstance(msg[3], str) else ""
                details = msg[4] if len(msg) > 4 else None
                self._resolve(CallError(code, desc, details))
        else:
            await self._error(uid, "ProtocolError", "unknown message type id %r" % (mtype,))

    def _resolve(self, answer):
        self._answer = answer
        self._event.set()

    async def _error(self, uid, code, desc):
        try:
            await self._send([CALLERROR, uid, code, _printable(desc), {}])
        except LinkDown:
            pass

    def handler(self, action):
        h = self._handlers.get(action)
        if h is None:
            try:
                h = __import__("firmware.ocpp.actions." + action, None, None, ["handle"])
            except ImportError:
                return None
            self._handlers[action] = h
        return h

    async def _on_call(self, msg):
        uid = msg[1]
        if not self.accept_calls:
            log.warn("rpc", "call %s ignored: boot was rejected", uid)
            return
        if len(msg) != 4 or not isinstance(msg[2], str):
            await self._error(uid, "ProtocolError", "a CALL has 4 elements: 2, id, action, payload")
            return
        action, payload = msg[2], msg[3]
        if action not in KNOWN:
            await self._error(uid, "NotImplemented", "unknown action %s" % action[:40])
            return
        h = self.handler(action)
        if h is None:
            await self._error(uid, "NotSupported", "%s is not supported" % action)
            return
        if self._big:
            await sleep_ms(0)
            err = await acheck(payload, h.SCHEMA)
        else:
            err = check(payload, h.SCHEMA)
        if err:
            await self._error(uid, err[0], err[1])
            return
        try:
            res = h.handle(self.cp, payload)
            if not isinstance(res, dict):
                # An async handler, for work that must let the event loop run
                # (CertificateSigned checks signatures in slices).
                res = await res
        except CallError as e:
            await self._error(uid, e.code, e.description)
            return
        except Exception as e:
            log.error("rpc", "%s handler failed: %r", action, e)
            await self._error(uid, "InternalError", "%s failed" % action)
            return
        try:
            await self._send([CALLRESULT, uid, res])
        except LinkDown:
            self._after = []
            return
        after = self._after
        self._after = []
        for fn in after:
            try:
                fn()
            except Exception as e:
                log.error("rpc", "after %s: %r", action, e)
