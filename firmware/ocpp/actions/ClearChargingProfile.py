# ClearChargingProfile (spec 5.5, errata 3.25/3.26): by id alone, or by every
# given field of connectorId, purpose and stackLevel; nothing given clears all.
# A connectorId no connector has simply matches nothing (Unknown).
from firmware.ocpp.check import I, E
from firmware.ocpp.rpc import CallError

SCHEMA = {"id": (I,), "connectorId": (I,),
          "chargingProfilePurpose": (E, ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")),
          "stackLevel": (I,)}


def handle(cp, p):
    sc = cp.smart
    if not sc.supported():
        raise CallError("NotSupported", "smart charging is not enabled on this charge point")
    st = sc.clear(p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"),
                  p.get("stackLevel"))
    if st == "Accepted":
        cp.limiter.changed()
    return {"status": st}
