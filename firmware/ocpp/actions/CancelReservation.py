# CancelReservation (spec 5.1): Accepted when a reservation with this id exists
# (its connector goes back to Available), else Rejected.
from firmware.ocpp.check import I, REQ
from firmware.ocpp.reservation import refresh

SCHEMA = {"reservationId": (I | REQ,)}


def handle(cp, p):
    rs = cp.reservations
    c = rs.connector_of(p["reservationId"])
    st = rs.cancel(p["reservationId"])
    if st == "Accepted":
        refresh(cp, c)
    return {"status": st}
