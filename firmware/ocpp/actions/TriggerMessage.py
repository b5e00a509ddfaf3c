# TriggerMessage (spec 5.17, errata 3.35 and 3.46): the central system asks
# for a message now. The answer goes first; the message follows it (rpc.later),
# built by the outbox as the normal flow builds it (firmware/ocpp/outbox.py).
# A requestedMessage this code does not know answers NotImplemented (5.17 says
# NotImplemented rather than a CALLERROR, so the enum is checked here, not in
# SCHEMA).
#
# Which messages take the connectorId (5.17: "the requested message is
# leading"):
# - StatusNotification and MeterValues are per connector: connectorId 0 is the
#   charge point itself (its status; the main meter), a connector 1..N that
#   one, and no connectorId means every allowed value (StatusNotification:
#   connector 0 and each connector). Any other number is Rejected.
# - BootNotification, Heartbeat, DiagnosticsStatusNotification and
#   FirmwareStatusNotification are about the whole charge point: a
#   connectorId is not relevant to them and is ignored, whatever its value.
# - BootNotification is Rejected once the central system has Accepted this
#   charge point (errata 3.35 recommends it: a Pending or Rejected answer to a
#   second boot would leave running transactions in limbo; the central system
#   must not ask for it then, errata 3.40).
# StartTransaction and StopTransaction cannot be triggered (they describe a
# transition, not a state) and are not in the enum.
from firmware.ocpp.check import I, S, REQ

SCHEMA = {"requestedMessage": (S | REQ, 50), "connectorId": (I,)}

# The messages the outbox can be asked for; the last two take a connector.
_WHAT = ("BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
         "Heartbeat", "MeterValues", "StatusNotification")


def _answer(s):
    return {"status": s}


def handle(cp, p):
    msg = p["requestedMessage"]
    if msg not in _WHAT:
        return _answer("NotImplemented")
    c = None
    if msg == "MeterValues" or msg == "StatusNotification":
        c = p.get("connectorId")
        if c is not None and not 0 <= c <= cp.n:
            return _answer("Rejected")
    elif msg == "BootNotification" and cp.out.boot == "Accepted":
        return _answer("Rejected")
    cp.rpc.later(lambda: cp.out.trigger(msg, c))
    return _answer("Accepted")
