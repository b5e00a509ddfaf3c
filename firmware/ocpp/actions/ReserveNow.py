# ReserveNow (spec 5.13): reserve connector c (0: any connector, only with
# ReserveConnectorZeroSupported) for idTag until expiryDate. The rules live in
# firmware/ocpp/reservation.py; a connector that changes shows it with a
# StatusNotification (Reserved).
from compat import parse_iso
from firmware.ocpp.check import I, S, T, REQ
from firmware.ocpp.rpc import CallError

SCHEMA = {"connectorId": (I | REQ,), "expiryDate": (T | REQ,), "idTag": (S | REQ, 20),
          "parentIdTag": (S, 20), "reservationId": (I | REQ,)}


def handle(cp, p):
    c = p["connectorId"]
    if c < 0:
        # 6.37: connectorId >= 0; a connector that does not exist is only Rejected.
        raise CallError("PropertyConstraintViolation", "connectorId must be 0 or more")
    st = cp.reservations.reserve(c, parse_iso(p["expiryDate"]), p["idTag"],
                                 p.get("parentIdTag"), p["reservationId"])
    return {"status": st}
