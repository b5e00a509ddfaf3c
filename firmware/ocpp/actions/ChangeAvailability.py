# ChangeAvailability (spec 5.2): connector 0 is the whole charge point. A
# connector with a running transaction changes when the transaction ends
# (Scheduled). The availability, a scheduled one too, is kept on flash and
# survives a reboot.
from firmware.ocpp.check import I, E, REQ
from firmware.ocpp.rpc import CallError

SCHEMA = {"connectorId": (I | REQ,), "type": (E | REQ, ("Inoperative", "Operative"))}


def handle(cp, p):
    c = p["connectorId"]
    if not 0 <= c <= cp.n:
        raise CallError("PropertyConstraintViolation", "connectorId must be 0..%d" % cp.n)
    on = p["type"] == "Operative"
    targets = cp.conns[1:] if c == 0 else [cp.conns[c]]
    scheduled = False
    for conn in targets:
        if conn.tx is not None and conn.operative != on:
            conn.scheduled = on
            scheduled = True
        else:
            conn.set_operative(on)
    if scheduled:
        # On flash at once: a power cut that ends the transaction must not
        # forget the change the central system was promised.
        cp.save_availability()
    if c == 0 and cp.operative0 != on:
        cp.operative0 = on
        cp.save_availability()
        cp.status_changed(0)
    return {"status": "Scheduled" if scheduled else "Accepted"}
