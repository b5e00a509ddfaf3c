# CancelReservation (spec 5.1): Accepted when a reservation with this id exists
# (its connector goes back to Available), else Rejected.
from firmware.ocpp.check import I, REQ

SCHEMA = {"reservationId": (I | REQ,)}


def handle(cp, p):
    return {"status": cp.reservations.cancel(p["reservationId"])}
