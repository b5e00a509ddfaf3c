"""The wire side of the development central system (tools/csms.py): OCPP-J frames
parsed into records, one charge point's link, the built-in answers through the
`ocpp` package's ChargePoint, and the helpers around them. CPython only."""
import asyncio
import collections
import copy
import json
import logging
import urllib.parse

from ocpp.exceptions import OCPPError
from ocpp.messages import validate_payload
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result

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


def client_cert(ws):
    # The TLS client certificate the charge point showed (security profile 3):
    # {"subject": {attribute: value}, "serial": hex, "not_after": text}, or None.
    try:
        c = ws.transport.get_extra_info("peercert")
    except Exception:  # noqa: B902 - a plain TCP link has none
        return None
    if not c:
        return None
    subject = {}
    for rdn in c.get("subject", ()):
        for k, v in rdn:
            subject[k] = v
    return {"subject": subject, "serial": c.get("serialNumber"), "not_after": c.get("notAfter")}


def cert_cn(ws):
    c = client_cert(ws)
    return c["subject"].get("commonName") if c else None
