# Shared by the fuzzers (tools/fuzz.py, in CPython) and the corpus replay
# (fuzz_replay.py, under MicroPython): the real charge point of firmware/main.py
# over the simulated board and a fresh flash directory, fed one inbound frame at
# a time through Rpc.on_frame, and a one-word verdict on what it answered.
# Common subset of both runtimes only.
import json
from jsontext import loads as jloads
import asyncio
import log
from firmware.main import App

ERROR_CODES = ("NotImplemented", "NotSupported", "InternalError", "ProtocolError",
               "SecurityError", "FormationViolation", "PropertyConstraintViolation",
               "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError")


def utf8_ok(b):
    # Strict UTF-8 (RFC 3629): MicroPython's json turns "\ud83d\ude00" into
    # surrogate bytes that a text frame must not carry, so check by hand.
    i, n = 0, len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            k, lo, hi = 1, 0x80, 0xBF
        elif 0xE0 <= c <= 0xEF:
            k = 2
            lo = 0xA0 if c == 0xE0 else 0x80
            hi = 0x9F if c == 0xED else 0xBF
        elif 0xF0 <= c <= 0xF4:
            k = 3
            lo = 0x90 if c == 0xF0 else 0x80
            hi = 0x8F if c == 0xF4 else 0xBF
        else:
            return False
        if i + k >= n:
            return False
        if not lo <= b[i + 1] <= hi:
            return False
        for j in range(i + 2, i + k + 1):
            if not 0x80 <= b[j] <= 0xBF:
                return False
        i += k + 1
    return True


class Wire:
    # What Rpc needs of a WebSocket: the receive buffer and send().
    def __init__(self, size):
        self.buf = bytearray(size)
        self.sent = []

    async def send_pieces(self, n, make):
        # What the charger's rpc uses: the message in pieces, n bytes in all.
        data = b"".join(make())
        if len(data) != n:
            raise ValueError("announced %d bytes, made %d" % (n, len(data)))
        await self.send(data.decode())

    async def send(self, text):
        self.sent.append(text)


def _echo_vendor(mid, data):
    return "Accepted", data


class Harness:
    """One charge point; feed(frame, total) -> (verdict, reply or None)."""

    def __init__(self, board_cls, data_dir, bufsize=8192, connectors=2, trace=False):
        class FuzzBoard(board_cls):
            def reset(self):   # a board restarts (the sim exits); the fuzzing goes on
                pass
        self.board = FuzzBoard({"data_dir": data_dir, "connectors": connectors, "rx_buf": bufsize})
        self.app = App(self.board, {})
        self.cp = self.app.cp
        self.rpc = self.cp.rpc
        self.wire = Wire(bufsize)
        self.rpc.attach(self.wire)
        self.cp.vendors["fuzz"] = _echo_vendor
        self.task_errors = []
        self.logged = []       # log.error lines of the last frame
        if trace:
            # The frame trace of setup.logfile(trace=True): every inbound frame
            # then also goes through its redaction of secrets.
            import logfile
            self.rpc.trace = logfile.trace

    def _on_task_error(self, loop, ctx):
        self.task_errors.append(repr(ctx.get("exception") or ctx.get("message")))

    def install(self):
        # Exceptions of tasks the handlers start (remote start, reset...) count
        # as escaped: nothing may die quietly in the background.
        asyncio.get_event_loop().set_exception_handler(self._on_task_error)

    async def feed(self, frame, total=None):
        buf, wire = self.wire.buf, self.wire
        n = min(len(frame), len(buf))
        buf[:n] = frame[:n]
        if total is None:
            total = len(frame)
        wire.sent = []
        del self.task_errors[:]
        del self.logged[:]
        real = log.error
        log.error = self._log_error   # why a handler failed, for the report
        try:
            try:
                await self.rpc.on_frame(buf, n, total)
            except Exception as e:
                return "crash", "on_frame raised %r" % (e,)
            for _ in range(4):
                await asyncio.sleep(0)
        finally:
            log.error = real
        if self.task_errors:
            return "crash", "background task failed: %s" % self.task_errors[0]
        return verdict(wire.sent)

    def _log_error(self, tag, msg, *args):
        try:
            self.logged.append(msg % args)
        except Exception:
            self.logged.append(msg)


def verdict(sent):
    """('none' | 'result' | an error code | 'bad', detail) for what was sent."""
    if not sent:
        return "none", None
    if len(sent) > 1:
        return "bad", "%d frames sent for one inbound frame" % len(sent)
    text = sent[0]
    try:
        raw = text.encode() if isinstance(text, str) else bytes(text)
    except UnicodeError:   # CPython: a lone surrogate cannot be sent at all
        return "bad", "reply holds a lone surrogate: %r" % (text[:80],)
    if not utf8_ok(raw):
        return "bad", "reply is not valid UTF-8: %r" % (raw[:80],)
    try:
        msg = jloads(bytearray(raw), len(raw))
    except Exception:
        return "bad", "reply is not JSON: %r" % (raw[:80],)
    if not isinstance(msg, list) or len(msg) < 3 or not isinstance(msg[1], str):
        return "bad", "reply is not an OCPP-J message: %r" % (raw[:80],)
    if msg[0] == 3 and len(msg) == 3 and isinstance(msg[2], dict):
        return "result", msg
    if msg[0] == 4 and len(msg) == 5 and msg[2] in ERROR_CODES and isinstance(msg[3], str) \
            and isinstance(msg[4], dict):
        return msg[2], msg
    return "bad", "malformed reply: %r" % (raw[:120],)


def quiet():
    # Thousands of rejected frames would each log a warning.
    old = log.level
    log.level = log.ERROR + 10
    return old


def judge(codes, uid, verdict, detail):
    """None when the verdict is one of `codes` (and carries `uid` if given)."""
    if verdict in ("crash", "bad"):
        return "%s: %s" % (verdict, detail)
    if verdict not in codes:
        return "answered %s, expected %s" % (verdict, " or ".join(sorted(codes)))
    if verdict != "none" and uid is not None and detail[1] != uid:
        return "answer carries id %r, the CALL had %r" % (detail[1], uid)
    return None
