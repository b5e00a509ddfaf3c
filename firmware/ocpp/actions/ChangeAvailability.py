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
    scheduled = False
    for conn in cp.conns[1:] if c == 0 else (cp.conns[c],):
        if conn.tx is not None and conn.operative != on:
            conn.scheduled = on
            scheduled = True
        else:
            conn.set_operative(on)
    if scheduled:
        # On flash at once: a power cut that ends the transaction must not
        # forget the change the central system was promised.
        cp.conns[c].save_availability()
    if c == 0:
        cp.conns[0].set_operative(on)
    return {"status": "Scheduled" if scheduled else "Accepted"}
