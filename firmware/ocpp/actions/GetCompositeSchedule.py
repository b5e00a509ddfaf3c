# GetCompositeSchedule (spec 5.7, errata 3.24/3.28-3.30/3.51): the limits in
# force from now for `duration` seconds. Rejected (status only) for a connector
# this charge point does not have or a duration below 1 s. The schedule is the
# smallest of the profiles, the charger's maximum and the local limits (MQTT,
# firmware/locallimit.py), with the phases in use (smart_calc.composite). When
# neither a profile nor a local limit applies in that time the answer is
# Accepted with connectorId and scheduleStart but no chargingSchedule: nothing
# limits the charger but its own maximum. Without chargingRateUnit the unit is
# that of the prevailing profile.
from firmware.ocpp.check import I, E, REQ
from firmware.ocpp.rpc import CallError
from compat import wall, iso

SCHEMA = {"connectorId": (I | REQ,), "duration": (I | REQ,), "chargingRateUnit": (E, ("A", "W"))}


def handle(cp, p):
    sc = cp.smart
    if not sc.supported():
        raise CallError("NotSupported", "smart charging is not enabled on this charge point")
    c = p["connectorId"]
    if not 0 <= c <= cp.n or p["duration"] < 1:
        return {"status": "Rejected"}
    now = wall()
    tx = cp.conns[c].tx
    sched = sc.composite(c, p["duration"], p.get("chargingRateUnit"), now,
                         tx.start_s if tx is not None else None)
    res = {"status": "Accepted", "connectorId": c, "scheduleStart": iso(now)}
    if sched is not None:
        res["chargingSchedule"] = sched
    return res
