# TriggerMessage (spec 5.17, errata 3.35 and 3.46): the central system asks
# for a message now. The answer goes first; the message follows it (rpc.later,
# send() below), built where the normal flow builds it (the outbox, the
# meter-value builder), and sent through the outbox, which lets it go while
# the boot is Pending (4.2).
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
from firmware.ocpp.metervalue import meter_value, TRIGGER
from firmware.ocpp.transaction import meter_values

SCHEMA = {"requestedMessage": (S | REQ, 50), "connectorId": (I,)}

# The messages send() knows; the last two take a connector.
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
    cp.rpc.later(lambda: send(cp, msg, c))
    return _answer("Accepted")


def send(cp, msg, c):
    """Send what TriggerMessage asked for; c only for StatusNotification and
    MeterValues (None: every connector)."""
    out = cp.out
    if msg == "BootNotification":
        out.boot_requested = True
        out.wake.set()
    elif msg == "Heartbeat":
        out.send("Heartbeat", {}, out.clock, True)
    elif msg == "StatusNotification":
        for k in range(cp.n + 1) if c is None else (c,):
            if out.boot == "Accepted":
                out.owe_status(k)
            else:
                out.send("StatusNotification", out.status_message(k), None, True)
    elif msg == "MeterValues":
        ms = cp.cfg.get("MeterValuesSampledData")
        for k in range(1, cp.n + 1) if not c else (c,):
            conn = cp.conns[k]
            mv = meter_value(conn.ctl, ms, TRIGGER) if conn.ctl is not None else None
            if mv is not None:
                tx = conn.tx
                out.send("MeterValues", meter_values(k, mv, tx.id if tx else None), None, True)
    else:
        # The real state: Idle only when no upload or update is under way.
        action, payload = cp.update.trigger(False) if msg == "FirmwareStatusNotification" \
            else cp.diag.trigger(True)
        out.send(action, payload, None, True)
