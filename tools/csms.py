"""A development OCPP 1.6J central system for tests and for trying a charger by hand.

Built on the `ocpp` package (ocpp.v16.ChargePoint handlers, its Call/CallResult/
CallError classes and schema validation) and `websockets`. CPython only. The frames,
links and built-in answers are in csms_wire.py, the methods test code calls from its
own thread in csms_api.py; this module runs the server and the command line.

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
    passwords            {cp_id: password} for HTTP Basic auth (security profile 1/2); a
                         TLS client certificate whose CN is the cp_id stands for it (3)
    require_subprotocol  True: a client not offering ocpp1.6 is accepted without a
                         subprotocol and closed at once (1002), as OCPP-J 3.2 says
    validate_requests    True: CALLs failing the official schema get a CALLERROR
    clock_offset         seconds added to the currentTime given out
Built-in: BootNotification, Heartbeat, StatusNotification, Authorize, StartTransaction
(ids from next_transaction_id, 1 up), StopTransaction, MeterValues, DataTransfer,
DiagnosticsStatusNotification, FirmwareStatusNotification, SecurityEventNotification,
SignCertificate, LogStatusNotification, SignedFirmwareStatusNotification. Other actions
get the ocpp package's NotImplemented / NotSupported CALLERROR. State seen: transactions
{id: dict}, connector_status {(cp_id, connectorId): status}, events (connects; a
"connected" event names the TLS client certificate, client_cert, when there is one).

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
import copy
import datetime
import json
import logging
import signal
import sys
import threading
import time

from ocpp.charge_point import camel_to_snake_case
from ocpp.messages import Call, validate_payload
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from csms_api import ThreadApi
# Re-exported: tests and tools import these from here.
from csms_wire import (NO_REPLY, CallErrorReply, InvalidPayload, _Link, _pick_ocpp16,  # noqa: F401
                       cp_id_from_path, parse_frame, client_cert, cert_cn)

log = logging.getLogger("csms")


class CentralSystem(ThreadApi):
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
        elif cp_id in self.passwords and cert_cn(ws) != cp_id:
            # Security profile 3 names the charge point by its certificate
            # (A00.FR.405), profiles 1 and 2 by the password.
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
        self._event(cp_id, "connected", peer=peer, subprotocol=ws.subprotocol,
                    client_cert=client_cert(ws))
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
