"""A development OCPP 1.6J central system for tests and for trying a charger by hand.

Built on the `ocpp` package (ocpp.v16.ChargePoint handlers, its Call/CallResult/
CallError classes and schema validation) and `websockets`. CPython only.

As a script::

    python tools/csms.py [--host 127.0.0.1] [--port 9000] [--heartbeat 300] [--tag ID=Status]

It prints ``listening on ws://HOST:PORT`` on stdout, logs every frame on stderr and
reads commands on stdin, printing each answer on one stdout line:

    call CPID Action {json}   central-system CALL, e.g. call CP1 Reset {"type": "Soft"}
    raw CPID text             send any text frame, print what comes back with the same id
    list                      charge points connected now
    quit                      stop (so does Ctrl-C, SIGTERM, or EOF on stdin then a signal)

From synchronous test code::

    srv = CentralSystem(port=0).start()   # own thread and event loop; port 0 picks one
    srv.port, srv.url                     # "ws://127.0.0.1:PORT"; a CP uses srv.url + "/" + id
    srv.stop(); srv.start()               # restart: connections dropped, same port again
    srv.stop(abort=True)                  # drop TCP without a close frame, like a crash

Answers, all changeable between or during tests (attributes):
    heartbeat_interval   interval of an Accepted BootNotification (default 300)
    boot_answers         queue consumed one per BootNotification: "Pending", ("Rejected", 5)
                         or {"status": ..., "interval": ...}; empty means Accepted
    tags                 {idTag: "Blocked" | {"status": ..., "expiryDate": ...}}; unknown tags
                         get default_tag_status ("Accepted")
    data_transfer        {vendorId: {"status": "Accepted", "data": "..."} or fn(cp_id, payload)};
                         other vendors get UnknownVendorId
    responses            {action: answer or [answer, ...]} for any CALL from the charge point,
                         ahead of the built-in answers; an answer is a payload dict, NO_REPLY,
                         or fn(cp_id, payload) returning either or raising an OCPPError (sent as
                         CALLERROR); a list is used up one answer per CALL
    known_ids            None, or the set of ids allowed to connect (others get HTTP 404)
    passwords            {cp_id: password} for HTTP Basic auth (security profile 1/2)
    require_subprotocol  True: a client not offering ocpp1.6 is accepted without a
                         subprotocol and closed at once (1002), as OCPP-J 3.2 says
    validate_requests    True: CALLs failing the official schema get a CALLERROR
    clock_offset         seconds added to the currentTime given out
Built-in: BootNotification, Heartbeat, StatusNotification, Authorize, StartTransaction
(ids from next_transaction_id, 1 up), StopTransaction, MeterValues, DataTransfer,
DiagnosticsStatusNotification, FirmwareStatusNotification, SecurityEventNotification,
SignCertificate, LogStatusNotification, SignedFirmwareStatusNotification. Other actions
get the ocpp package's NotImplemented / NotSupported CALLERROR. State seen: transactions
{id: dict}, connector_status {(cp_id, connectorId): status}, events (connects).

Recording: every frame either way is a dict, in order, under `messages()`:
    seq, timestamp (time.time()), cp_id, direction ("in" = from the charge point,
    "out" = to it), message_type ("CALL" | "CALLRESULT" | "CALLERROR" | "INVALID"),
    unique_id, action (for results: the action of the CALL answered), payload,
    error_code / error_description / error_details (CALLERROR), raw (the frame text),
    binary (True for a binary frame), problem (why a frame is INVALID).

Methods:
    messages(cp_id=None, action=None, direction=None, message_type=None) -> [record]
    mark() -> seq of the last record; after=mark() limits waits to newer records
    wait_for(pred, timeout=10) -> pred(records) once truthy, else TimeoutError
    wait_message(cp_id=None, action=None, direction="in", message_type="CALL",
                 after=0, timeout=10) -> first matching record newer than `after`
    connected(cp_id) -> bool;  wait_connected(cp_id, timeout=10);  charge_points()
    connect_count(cp_id) -> connections accepted so far
    call(cp_id, action, payload=None, timeout=10, validate=True) -> response payload dict;
        raises CallErrorReply (.code .description .details), TimeoutError,
        ConnectionError (not connected / dropped), InvalidPayload (schema, if validate)
    send_raw(cp_id, text_or_bytes) -> the record sent;  wait_raw_reply(sent, timeout=10)
    disconnect(cp_id, abort=False);  clear() forgets records and events
"""
import argparse
import asyncio
import base64
import collections
import concurrent.futures
import copy
import datetime
import json
import logging
import signal
import sys
import threading
import time
import urllib.parse
import uuid

from ocpp.charge_point import camel_to_snake_case
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallResult, MessageType, validate_payload
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

log = logging.getLogger("csms")
_ocpp_log = logging.getLogger("csms.ocpp")
# The ocpp package logs each frame at INFO and a traceback for each CALLERROR it sends;
# the frame log already shows both. Keep its warnings and real failures only.
_ocpp_log.setLevel(logging.WARNING)
_ocpp_log.addFilter(lambda r: not (r.exc_info and isinstance(r.exc_info[1], OCPPError)))

NO_REPLY = object()
_TYPES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}
_KEEP_PENDING = 256


class CallErrorReply(Exception):
    """The charge point answered a central-system CALL with a CALLERROR."""

    def __init__(self, action, code, description, details):
        Exception.__init__(self, "%s answered with CALLERROR %s: %s %s"
                           % (action, code, description, json.dumps(details)))
        self.action, self.code, self.description, self.details = action, code, description, details


class InvalidPayload(ValueError):
    """A payload fails the official OCPP 1.6 schema."""


def parse_frame(raw):
    """Split an OCPP-J frame into a record's fields; never raises."""
    rec = {"message_type": "INVALID", "unique_id": None, "action": None, "payload": None}
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError) as e:
        rec["problem"] = "not JSON: %s" % e
        return rec
    if not isinstance(msg, list) or not msg or type(msg[0]) is not int or msg[0] not in _TYPES:
        rec["problem"] = "not an array starting with 2, 3 or 4"
        return rec
    kind = _TYPES[msg[0]]
    if len(msg) > 1 and isinstance(msg[1], str):
        rec["unique_id"] = msg[1]
    want = {"CALL": 4, "CALLRESULT": 3, "CALLERROR": 5}[kind]
    if len(msg) != want or not isinstance(msg[1], str):
        rec["problem"] = "%s needs %d elements with a string unique id" % (kind, want)
        return rec
    if kind == "CALL" and not isinstance(msg[2], str):
        rec["problem"] = "the action must be a string"
        return rec
    rec["message_type"] = kind
    if kind == "CALL":
        rec["action"], rec["payload"] = msg[2], msg[3]
    elif kind == "CALLRESULT":
        rec["payload"] = msg[2]
    else:
        rec["error_code"], rec["error_description"], rec["error_details"] = msg[2], msg[3], msg[4]
    return rec


class _Link:
    """One charge point's WebSocket; also the `connection` the ocpp ChargePoint sends on."""

    def __init__(self, srv, cp_id, ws):
        self.srv, self.cp_id, self.ws = srv, cp_id, ws
        # Results carry no action on the wire: remember which CALL each id belonged to.
        self.pending = {"in": collections.OrderedDict(), "out": collections.OrderedDict()}
        self.closed = asyncio.get_running_loop().create_future()
        self.cp = _OcppSide(self)

    def note(self, direction, raw):
        binary = isinstance(raw, (bytes, bytearray))
        text = bytes(raw).decode("utf-8", "replace") if binary else raw
        rec = {"message_type": "INVALID", "unique_id": None, "action": None, "payload": None,
               "problem": "binary frame"} if binary else parse_frame(text)
        kind, uid = rec["message_type"], rec["unique_id"]
        if kind == "CALL":
            pend = self.pending[direction]
            pend[uid] = rec["action"]
            while len(pend) > _KEEP_PENDING:
                pend.popitem(last=False)
        elif kind in ("CALLRESULT", "CALLERROR"):
            rec["action"] = self.pending["out" if direction == "in" else "in"].pop(uid, None)
        rec.update(cp_id=self.cp_id, direction=direction, raw=text, binary=binary)
        return self.srv._record(rec)

    async def send(self, raw):
        rec = self.note("out", raw)
        await self.ws.send(raw)
        return rec


class _OcppSide(ChargePoint):
    """The ocpp package's view of one charge point: the built-in answers."""

    def __init__(self, link):
        ChargePoint.__init__(self, link.cp_id, link, response_timeout=30, logger=_ocpp_log)
        self.srv = link.srv
        self._last_payload = None
        if not self.srv.validate_requests:
            for route in self.route_map.values():
                route["_skip_schema_validation"] = True

    @on("BootNotification")
    def on_boot_notification(self, **kw):
        status, interval = self.srv._next_boot()
        self.srv.registration[self.id] = status
        return call_result.BootNotification(current_time=self.srv.now_iso(), interval=interval,
                                            status=status)

    @on("Heartbeat")
    def on_heartbeat(self, **kw):
        return call_result.Heartbeat(current_time=self.srv.now_iso())

    @on("StatusNotification")
    def on_status_notification(self, connector_id, status, **kw):
        self.srv.connector_status[(self.id, connector_id)] = status
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_tag, **kw):
        return call_result.Authorize(id_tag_info=self.srv._tag_info(id_tag))

    @on("StartTransaction")
    def on_start_transaction(self, connector_id, id_tag, meter_start, timestamp, **kw):
        srv = self.srv
        tx = srv.next_transaction_id
        srv.next_transaction_id += 1
        srv.transactions[tx] = {"cp_id": self.id, "connectorId": connector_id, "idTag": id_tag,
                                "meterStart": meter_start, "timestamp": timestamp,
                                "meterStop": None, "stopped": None, "reason": None}
        return call_result.StartTransaction(transaction_id=tx, id_tag_info=srv._tag_info(id_tag))

    @on("StopTransaction")
    def on_stop_transaction(self, transaction_id, meter_stop, timestamp, id_tag=None, **kw):
        tx = self.srv.transactions.get(transaction_id)
        if tx is not None:
            tx.update(meterStop=meter_stop, stopped=timestamp, reason=kw.get("reason", "Local"))
        info = self.srv._tag_info(id_tag) if id_tag is not None else None
        return call_result.StopTransaction(id_tag_info=info)

    @on("MeterValues")
    def on_meter_values(self, **kw):
        return call_result.MeterValues()

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id, **kw):
        ans = self.srv.data_transfer.get(vendor_id, {"status": "UnknownVendorId"})
        if callable(ans):
            ans = ans(self.id, self._last_payload)
        return call_result.DataTransfer(status=ans["status"], data=ans.get("data"))

    @on("DiagnosticsStatusNotification")
    def on_diagnostics_status_notification(self, **kw):
        return call_result.DiagnosticsStatusNotification()

    @on("FirmwareStatusNotification")
    def on_firmware_status_notification(self, **kw):
        return call_result.FirmwareStatusNotification()

    @on("SecurityEventNotification")
    def on_security_event_notification(self, **kw):
        return call_result.SecurityEventNotification()

    @on("SignCertificate")
    def on_sign_certificate(self, **kw):
        return call_result.SignCertificate(status="Accepted")

    @on("LogStatusNotification")
    def on_log_status_notification(self, **kw):
        return call_result.LogStatusNotification()

    @on("SignedFirmwareStatusNotification")
    def on_signed_firmware_status_notification(self, **kw):
        return call_result.SignedFirmwareStatusNotification()


class CentralSystem:
    """The central system; the module docstring lists its attributes and methods."""

    def __init__(self, host="127.0.0.1", port=9000, heartbeat_interval=300, ssl_context=None,
                 ping_interval=20, close_timeout=0.5, max_records=50000):
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self.heartbeat_interval = heartbeat_interval
        self.ping_interval, self.close_timeout, self.max_records = ping_interval, close_timeout, max_records
        self.boot_answers, self.tags, self.default_tag_status = [], {}, "Accepted"
        self.data_transfer, self.responses = {}, {}
        self.known_ids, self.passwords = None, {}
        self.require_subprotocol = self.validate_requests = True
        self.clock_offset = 0
        self.next_transaction_id = 1
        self.transactions, self.connector_status, self.registration = {}, {}, {}
        self.events = []
        self._records, self._seq, self._version = [], 0, 0
        self._cond = threading.Condition()
        self._life = threading.Lock()
        self._links = {}
        self._tasks = set()
        self._thread = self._loop = self._stop_ev = None

    # ---- life cycle (any thread) ----
    @property
    def url(self):
        return "%s://%s:%d" % ("wss" if self.ssl_context else "ws", self.host, self.port)

    def start(self):
        with self._life:
            if self._thread is not None:
                return self
            ready, box = threading.Event(), []
            t = threading.Thread(target=self._thread_main, args=(ready, box),
                                 name="csms-%s" % self.port, daemon=True)
            t.start()
            ready.wait()
            if box:
                t.join()
                raise box[0]
            self._thread = t
        return self

    def stop(self, abort=False, code=1001):
        """Close every connection (close frame `code`, or TCP reset if `abort`), stop listening
        and join the thread; returns within about a second."""
        with self._life:
            t, loop = self._thread, self._loop
            if t is None:
                return
            self._stop_how = (abort, code)
            try:
                loop.call_soon_threadsafe(self._stop_ev.set)
            except (RuntimeError, AttributeError):
                pass  # the loop already ended
            t.join(10)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _thread_main(self, ready, box):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as e:  # noqa: B902 - reported to start() or logged
            if not ready.is_set():
                box.append(e)
            else:
                log.exception("central system loop failed")
        finally:
            try:
                left = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in left:
                    t.cancel()
                loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                self._links.clear()
                self._loop = None
                ready.set()

    async def _serve(self, ready):
        self._loop = asyncio.get_running_loop()
        self._stop_ev = asyncio.Event()
        self._stop_how = (False, 1001)
        server = await serve(self._handle, self.host, self.port, ssl=self.ssl_context,
                             compression=None, select_subprotocol=_pick_ocpp16,
                             process_request=self._check_request,
                             ping_interval=self.ping_interval, close_timeout=self.close_timeout)
        self.port = server.sockets[0].getsockname()[1]
        log.info("listening on %s", self.url)
        ready.set()
        await self._stop_ev.wait()
        abort, code = self._stop_how
        if abort:
            for ws in list(server.all_connections):
                ws.transport.abort()
        server.close(close_connections=not abort, code=code, reason="central system stopping")
        try:
            await asyncio.wait_for(server.wait_closed(), self.close_timeout + 1)
        except asyncio.TimeoutError:
            for ws in list(server.all_connections):
                ws.transport.abort()
            await asyncio.wait_for(server.wait_closed(), 1)
        log.info("stopped")

    # ---- connections (loop thread) ----
    def _check_request(self, ws, request):
        cp_id = cp_id_from_path(request.path)
        why = None
        if not cp_id:
            why, status = "no charge point id in the URL path", 404
        elif self.known_ids is not None and cp_id not in self.known_ids:
            why, status = "unknown charge point id", 404
        elif cp_id in self.passwords:
            want = "Basic " + base64.b64encode(("%s:%s" % (cp_id, self.passwords[cp_id]))
                                               .encode()).decode()
            if request.headers.get("Authorization") != want:
                why, status = "missing or wrong Basic authorization", 401
        if why is None:
            return None
        self._event(cp_id, "rejected", reason=why, status=status)
        log.info("[%s] rejected: HTTP %d %s", cp_id, status, why)
        resp = ws.respond(status, why + "\n")
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
        return resp

    async def _handle(self, ws):
        cp_id = cp_id_from_path(ws.request.path)
        peer = "%s:%s" % ws.remote_address[:2] if ws.remote_address else "?"
        if ws.subprotocol != "ocpp1.6" and self.require_subprotocol:
            self._event(cp_id, "rejected", reason="no ocpp1.6 subprotocol offered", peer=peer)
            log.info("[%s] closed: client did not offer subprotocol ocpp1.6", cp_id)
            await ws.close(1002, "subprotocol ocpp1.6 required")
            return
        link = _Link(self, cp_id, ws)
        old = self._links.get(cp_id)
        self._links[cp_id] = link
        self._event(cp_id, "connected", peer=peer, subprotocol=ws.subprotocol)
        log.info("[%s] connected from %s, subprotocol %s", cp_id, peer, ws.subprotocol)
        if old is not None:
            log.info("[%s] closing the previous connection", cp_id)
            self._spawn(old.ws.close(1000, "replaced by a new connection"))
        try:
            while True:
                raw = await ws.recv()
                # One frame at a time, like the ocpp package: answers leave in order.
                await self._dispatch(link, raw, link.note("in", raw))
        except ConnectionClosed:
            pass
        finally:
            link.closed.set_result(None)
            if self._links.get(cp_id) is link:
                del self._links[cp_id]
            self._event(cp_id, "disconnected", code=ws.close_code, reason=ws.close_reason)
            log.info("[%s] disconnected (code %s %s)", cp_id, ws.close_code, ws.close_reason or "")

    def _spawn(self, coro):
        # Keep a reference so the task is not collected half-way.
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, link, raw, rec):
        try:
            if rec["message_type"] == "INVALID":
                return  # nothing trustworthy to answer; the record says what was wrong
            if rec["message_type"] == "CALL" and rec["action"] in self.responses:
                if await self._override(link, rec):
                    return
            link.cp._last_payload = rec["payload"]
            await link.cp.route_message(raw)
        except ConnectionClosed:
            raise
        except Exception:  # noqa: B902 - a bad frame must never stop the server
            log.exception("[%s] failed to handle %r", link.cp_id, raw[:200])

    async def _override(self, link, rec):
        """Answer from `responses`; False when the entry is used up (built-in answer)."""
        ans = self.responses[rec["action"]]
        if isinstance(ans, list):
            if not ans:
                return False
            ans = ans.pop(0)
        call = Call(rec["unique_id"], rec["action"], rec["payload"])
        try:
            if self.validate_requests:
                await validate_payload(Call(call.unique_id, call.action, copy.deepcopy(call.payload)),
                                       "1.6")
            if callable(ans):
                ans = ans(link.cp_id, rec["payload"])
        except Exception as e:  # noqa: B902 - OCPPError or a test's own bug: both CALLERROR
            await link.send(call.create_call_error(e).to_json())
            return True
        if ans is not NO_REPLY and ans is not None:
            await link.send(call.create_call_result(ans).to_json())
        else:
            log.info("[%s] not answering %s %s (as configured)", link.cp_id, rec["action"],
                     rec["unique_id"])
        return True

    # ---- answers (loop thread) ----
    def now_iso(self):
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.clock_offset)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)

    def _next_boot(self):
        if not self.boot_answers:
            return "Accepted", self.heartbeat_interval
        a = self.boot_answers.pop(0)
        if isinstance(a, str):
            return a, self.heartbeat_interval
        if isinstance(a, dict):
            return a["status"], a.get("interval", self.heartbeat_interval)
        return a[0], a[1]

    def _tag_info(self, id_tag):
        info = self.tags.get(id_tag, self.default_tag_status)
        if isinstance(info, str):
            info = {"status": info}
        return camel_to_snake_case(info)

    # ---- recording (both threads) ----
    def _record(self, rec):
        with self._cond:
            self._seq += 1
            rec["seq"], rec["timestamp"] = self._seq, time.time()
            self._records.append(rec)
            if len(self._records) > self.max_records:
                del self._records[:len(self._records) // 2]
            self._version += 1
            self._cond.notify_all()
        _log_record(rec)
        return rec

    def _event(self, cp_id, what, **info):
        info.update(cp_id=cp_id, event=what, timestamp=time.time())
        with self._cond:
            self.events.append(info)
            del self.events[:-1000]
            self._version += 1
            self._cond.notify_all()

    def messages(self, cp_id=None, action=None, direction=None, message_type=None):
        with self._cond:
            recs = list(self._records)
        return [r for r in recs if (cp_id is None or r["cp_id"] == cp_id)
                and (action is None or r["action"] == action)
                and (direction is None or r["direction"] == direction)
                and (message_type is None or r["message_type"] == message_type)]

    def mark(self):
        with self._cond:
            return self._seq

    def clear(self):
        with self._cond:
            del self._records[:]
            del self.events[:]

    def wait_for(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                recs, ver = list(self._records), self._version
            res = predicate(recs)
            if res:
                return res
            with self._cond:
                while self._version == ver:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        tail = "; ".join(_summary(r) for r in recs[-6:]) or "none"
                        raise TimeoutError("condition not met within %ss; last messages: %s"
                                           % (timeout, tail))
                    self._cond.wait(left)

    def wait_message(self, cp_id=None, action=None, direction="in", message_type="CALL",
                     after=0, timeout=10):
        def first(recs):
            for r in recs:
                if r["seq"] > after and (cp_id is None or r["cp_id"] == cp_id) \
                        and (action is None or r["action"] == action) \
                        and (direction is None or r["direction"] == direction) \
                        and (message_type is None or r["message_type"] == message_type):
                    return r
            return None
        try:
            return self.wait_for(first, timeout)
        except TimeoutError as e:
            raise TimeoutError("no %s %s %s from/to %s: %s"
                               % (direction, message_type, action, cp_id, e)) from None

    def connected(self, cp_id):
        return cp_id in self._links

    def charge_points(self):
        return sorted(self._links.copy())

    def connect_count(self, cp_id):
        with self._cond:
            return sum(1 for e in self.events if e["cp_id"] == cp_id and e["event"] == "connected")

    def wait_connected(self, cp_id, timeout=10):
        def ok(_):
            return self.connected(cp_id)
        try:
            return self.wait_for(ok, timeout)
        except TimeoutError:
            raise TimeoutError("%s did not connect within %ss" % (cp_id, timeout)) from None

    # ---- central-system initiated (any thread) ----
    def _run(self, coro, timeout):
        loop = self._loop
        if loop is None:
            coro.close()
            raise ConnectionError("the central system is not running")
        fut = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.CancelledError:
            raise ConnectionError("the central system stopped while waiting") from None
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError("no result within %ss" % timeout) from None

    def call(self, cp_id, action, payload=None, timeout=10, validate=True):
        return self._run(self._call(cp_id, action, {} if payload is None else payload,
                                    timeout, validate), timeout + 5)

    async def _call(self, cp_id, action, payload, timeout, validate):
        link = self._links.get(cp_id)
        if link is None:
            raise ConnectionError("%s is not connected" % cp_id)
        msg = Call(str(uuid.uuid4()), action, payload)
        if validate:
            await _check(msg, "request")
        async with link.cp._call_lock:
            await link.send(msg.to_json())
            waiter = asyncio.ensure_future(link.cp._get_specific_response(msg.unique_id, timeout))
            await asyncio.wait([waiter, link.closed], return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done():
                waiter.cancel()
                raise ConnectionError("%s disconnected before answering %s" % (cp_id, action))
            try:
                resp = waiter.result()
            except asyncio.TimeoutError:
                raise TimeoutError("%s did not answer %s within %ss" % (cp_id, action, timeout)) from None
        if resp.message_type_id == MessageType.CallError:
            raise CallErrorReply(action, resp.error_code, resp.error_description, resp.error_details)
        if validate:
            await _check(CallResult(resp.unique_id, resp.payload, action), "response")
        return resp.payload

    def send_raw(self, cp_id, raw, timeout=5):
        async def go():
            link = self._links.get(cp_id)
            if link is None:
                raise ConnectionError("%s is not connected" % cp_id)
            return await link.send(raw)
        return self._run(go(), timeout)

    def wait_raw_reply(self, sent, timeout=10):
        """The first result/error from the same charge point after `sent`; matched by unique
        id when `sent` was a well-formed CALL."""
        uid = sent["unique_id"] if sent["message_type"] == "CALL" else None

        def reply(recs):
            for r in recs:
                if r["seq"] > sent["seq"] and r["cp_id"] == sent["cp_id"] and r["direction"] == "in" \
                        and r["message_type"] != "CALL" and (uid is None or r["unique_id"] == uid):
                    return r
            return None
        return self.wait_for(reply, timeout)

    def disconnect(self, cp_id, abort=False, timeout=5):
        async def go():
            link = self._links.get(cp_id)
            if link is None:
                return False
            if abort:
                link.ws.transport.abort()
            else:
                await link.ws.close(1000, "closed by the central system")
            await link.closed
            return True
        return self._run(go(), timeout)


async def _check(msg, what):
    # The ocpp package rewrites some payloads in place while validating: give it a copy.
    clone = copy.copy(msg)
    clone.payload = copy.deepcopy(msg.payload)
    try:
        await validate_payload(clone, "1.6")
    except OCPPError as e:
        raise InvalidPayload("%s %s fails the OCPP 1.6 schema: %s (payload %s)"
                             % (msg.action, what, e.details.get("cause", e.description),
                                json.dumps(msg.payload))) from None


def _pick_ocpp16(ws, offered):
    return "ocpp1.6" if "ocpp1.6" in offered else None


def cp_id_from_path(path):
    """The charge point id: the last path segment, percent-decoded (OCPP-J 3.1.1)."""
    path = urllib.parse.urlsplit(path).path
    return urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1]) if path.strip("/") else ""


def _summary(rec):
    name = rec["action"] or rec.get("error_code") or rec.get("problem") or ""
    return "%s %s %s %s" % (rec["cp_id"], "cp->cs" if rec["direction"] == "in" else "cs->cp",
                            rec["message_type"], name)


def _log_record(rec):
    if not log.isEnabledFor(logging.INFO):
        return
    body = rec["raw"] if len(rec["raw"]) <= 600 else rec["raw"][:600] + "..."
    log.info("[%s] %s %s %s #%s %s", rec["cp_id"], "cp->cs" if rec["direction"] == "in" else "cs->cp",
             rec["message_type"], rec["action"] or rec.get("error_code") or rec.get("problem") or "",
             rec["unique_id"], body)


# ---- command line ----
def _command(srv, line):
    parts = line.split(None, 1)
    if not parts:
        return None
    cmd, rest = parts[0].lower(), parts[1] if len(parts) > 1 else ""
    if cmd == "list":
        return "connected: " + (" ".join(srv.charge_points()) or "none")
    if cmd == "call":
        args = rest.split(None, 2)
        if len(args) < 2:
            return "usage: call CPID Action {json}"
        try:
            payload = json.loads(args[2]) if len(args) > 2 else {}
            return "CALLRESULT " + json.dumps(srv.call(args[0], args[1], payload, timeout=30))
        except CallErrorReply as e:
            return "CALLERROR %s %s %s" % (e.code, json.dumps(e.description), json.dumps(e.details))
        except (ValueError, TimeoutError, ConnectionError) as e:
            return "error: %s" % e
    if cmd == "raw":
        args = rest.split(None, 1)
        if len(args) < 2:
            return "usage: raw CPID text"
        try:
            sent = srv.send_raw(args[0], args[1])
            return "reply " + srv.wait_raw_reply(sent, timeout=10)["raw"]
        except TimeoutError:
            return "no reply within 10 s"
        except ConnectionError as e:
            return "error: %s" % e
    return "unknown command %r; try: call CPID Action {json} | raw CPID text | list | quit" % cmd


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    ap = argparse.ArgumentParser(description="Development OCPP 1.6J central system.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--heartbeat", type=int, default=300, help="heartbeat interval given at boot (s)")
    ap.add_argument("--tag", action="append", default=[], metavar="ID=STATUS",
                    help="answer this idTag with this status (Blocked, Expired, Invalid, ...)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("websockets").setLevel(logging.WARNING)
    srv = CentralSystem(a.host, a.port, a.heartbeat)
    for t in a.tag:
        k, _, v = t.partition("=")
        srv.tags[k] = v or "Invalid"
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        srv.start()
        print("listening on %s" % srv.url, flush=True)
        for line in sys.stdin:
            if line.strip().lower() in ("quit", "exit"):
                break
            out = _command(srv, line.strip())
            if out is not None:
                print(out, flush=True)
        else:
            while True:  # stdin closed: keep serving until a signal
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print("error: cannot listen on %s:%s: %s; is another central system running? try --port"
              % (a.host, a.port, e.strerror or e), file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
