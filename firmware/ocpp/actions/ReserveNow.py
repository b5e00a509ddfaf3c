# ReserveNow (spec 5.13): reserve connector c (0: any connector, only with
# ReserveConnectorZeroSupported) for idTag until expiryDate. The rules live in
# firmware/ocpp/reservation.py; a connector that changes shows it with a
# StatusNotification (Reserved).
from compat import parse_iso
from firmware.ocpp.check import I, S, T, REQ
from firmware.ocpp.rpc import CallError
from firmware.ocpp.reservation import refresh

SCHEMA = {"connectorId": (I | REQ,), "expiryDate": (T | REQ,), "idTag": (S | REQ, 20),
          "parentIdTag": (S, 20), "reservationId": (I | REQ,)}


def handle(cp, p):
    c = p["connectorId"]
    if c < 0:
        # 6.37: connectorId >= 0; a connector that does not exist is only Rejected.
        raise CallError("PropertyConstraintViolation", "connectorId must be 0 or more")
    rs = cp.reservations
    rid = p["reservationId"]
    old = rs.connector_of(rid)
    st = rs.reserve(cp, c, parse_iso(p["expiryDate"]), p["idTag"], p.get("parentIdTag"), rid)
    if st == "Accepted":
        if old is not None and old != c:
            refresh(cp, old)
        refresh(cp, c)
    return {"status": st}
