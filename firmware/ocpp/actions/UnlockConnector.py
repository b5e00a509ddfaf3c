# UnlockConnector (spec 5.18): stops a running transaction (UnlockCommand),
# then drives the lock. Unlocked / UnlockFailed from the actuator; NotSupported
# when the connector has no lock (a tethered cable).
from firmware.ocpp.check import I, REQ
from firmware.ocpp.rpc import CallError

SCHEMA = {"connectorId": (I | REQ,)}


def handle(cp, p):
    c = p["connectorId"]
    if not 1 <= c <= cp.n:
        raise CallError("PropertyConstraintViolation", "connectorId must be 1..%d" % cp.n)
    conn = cp.conns[c]
    if conn.ctl is None or not conn.ctl.faults.has_lock:
        return {"status": "NotSupported"}
    conn.stop("UnlockCommand")
    ok = conn.ctl.unlock()
    if ok is None:
        return {"status": "NotSupported"}
    return {"status": "Unlocked" if ok else "UnlockFailed"}
