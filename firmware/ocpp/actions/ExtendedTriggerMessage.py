# ExtendedTriggerMessage (security whitepaper 5.5, F06 of OCPP 2.0.1): the
# TriggerMessage of the whitepaper's messages. The status messages go as
# TriggerMessage sends them (actions/TriggerMessage.py); FirmwareStatusNotification
# is answered with SignedFirmwareStatusNotification (L01.FR.28/29: the last
# status, Idle after Installed), LogStatusNotification with the log upload's
# status (N01.FR.12: a requestId only while one is under way), and
# SignChargePointCertificate starts a new key pair and its SignCertificate
# (A02.FR.02; Rejected while CpoName, which the request carries, is unset).
# connectorId is > 0 here (5.5); 0 is Rejected like any connector that does
# not exist.
from firmware.ocpp.check import I, S, REQ
from firmware.ocpp.actions import TriggerMessage

SCHEMA = {"requestedMessage": (S | REQ, 50), "connectorId": (I,)}

_WHAT = ("BootNotification", "LogStatusNotification", "FirmwareStatusNotification",
         "Heartbeat", "MeterValues", "SignChargePointCertificate", "StatusNotification")


def handle(cp, p):
    msg = p["requestedMessage"]
    if msg not in _WHAT:
        return {"status": "NotImplemented"}
    c = p.get("connectorId")
    if c is not None and not 1 <= c <= cp.n:
        return {"status": "Rejected"}
    if msg == "SignChargePointCertificate":
        if not cp.cfg.get("CpoName") or cp.cpcert.busy:
            return {"status": "Rejected"}
        cp.rpc.later(cp.enrol.start)
    elif msg in ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification"):
        if msg == "BootNotification" and cp.out.boot == "Accepted":
            return {"status": "Rejected"}
        cp.rpc.later(lambda: TriggerMessage.send(cp, msg, c))
    else:
        action, payload = cp.update.trigger(True) if msg == "FirmwareStatusNotification" \
            else cp.diag.trigger(False)
        cp.rpc.later(lambda: cp.out.send(action, payload, None, True))
    return {"status": "Accepted"}
