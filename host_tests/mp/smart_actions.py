# SetChargingProfile, ClearChargingProfile and GetCompositeSchedule through the
# RPC layer with a fake charge point, run under MicroPython and CPython by
# test_smart.py. argv[1]: an empty directory. Prints "PASS name" / "FAIL name:
# why", "RES <action> <json>" for every CALLRESULT and "REQ <action> <json>" for
# every request meant to be valid (both checked against the official schemas by
# the test), then DONE.
import sys
import json
import asyncio
import log
from compat import parse_iso, set_wall
from rpcfake import expect, results, call as _call
from realcp import RealCP

ROOT = sys.argv[1]
log.level = log.ERROR
T0 = parse_iso("2030-01-07T00:00:00Z")


class SmartCP(RealCP):
    # Counts the limiter's wake-ups in `limits` (a new limit for the pilots).
    def __init__(self, root, **defaults):
        RealCP.__init__(self, root, **defaults)
        self.limits = 0
        wake = self.limiter.changed

        def changed():
            self.limits += 1
            wake()
        self.limiter.changed = changed


def running(cp, c, tid, start_s):
    # A transaction on connector c, started at start_s, that the central
    # system named tid (StartTransaction.conf).
    cp.ctls[c].ev_connected = True
    cp.conns[c].authorized("T%d" % c, {"status": "Accepted"})
    tx = cp.conns[c].tx
    tx.id = tid
    tx.start_s = start_s


async def call(cp, action, payload, valid=True):
    """(CALLRESULT payload, None) or (None, (code, description))."""
    return await _call(cp, action, payload, req=valid)


def profile(pid, purpose, stack, periods, unit="A", kind="Absolute", tid=None, start=None):
    p = {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind,
         "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod":
                              [{"startPeriod": a, "limit": b} for a, b in periods]}}
    if tid is not None:
        p["transactionId"] = tid
    if start is not None:
        p["chargingSchedule"]["startSchedule"] = start
    return p


async def main():
    set_wall(T0 + 1800)
    cp = SmartCP(ROOT + "/a")
    S = "SetChargingProfile"
    G = "GetCompositeSchedule"
    C = "ClearChargingProfile"

    res, err = await call(cp, G, {"connectorId": 1, "duration": 3600})
    expect("composite_nothing_installed", err is None and res == {
        "status": "Accepted", "connectorId": 1, "scheduleStart": "2030-01-07T00:30:00Z"}, (res, err))

    res, err = await call(cp, S, {"connectorId": 0, "csChargingProfiles": profile(
        1, "TxDefaultProfile", 0, ((0, 10), (3600, 6)), start="2030-01-07T00:00:00Z")})
    expect("set_default_accepted", res == {"status": "Accepted"} and cp.limits == 1, (res, err))
    a, nxt = cp.smart.limit(1, T0 + 1800, None)
    expect("set_reaches_limit", a == 10 and nxt == 1800, (a, nxt))

    res, err = await call(cp, G, {"connectorId": 1, "duration": 3600})
    sch = (res or {}).get("chargingSchedule", {})
    expect("composite_from_now", res is not None and res["status"] == "Accepted"
           and res["connectorId"] == 1 and res["scheduleStart"] == "2030-01-07T00:30:00Z"
           and sch.get("chargingSchedulePeriod") == [{"startPeriod": 0, "limit": 10},
                                                     {"startPeriod": 1800, "limit": 6}]
           and sch.get("duration") == 3600 and sch.get("chargingRateUnit") == "A", res)
    res, err = await call(cp, G, {"connectorId": 0, "duration": 600, "chargingRateUnit": "W"})
    sch = (res or {}).get("chargingSchedule", {})
    expect("composite_connector0_in_w", res is not None and sch.get("chargingRateUnit") == "W"
           and sch.get("chargingSchedulePeriod") == [{"startPeriod": 0, "limit": 6900}], res)

    res, err = await call(cp, G, {"connectorId": 3, "duration": 600})
    expect("composite_unknown_connector_rejected", res == {"status": "Rejected"}, (res, err))
    res, err = await call(cp, G, {"connectorId": 1, "duration": 0})
    expect("composite_zero_duration_rejected", res == {"status": "Rejected"}, (res, err))
    res, err = await call(cp, G, {"connectorId": 1, "duration": 60, "chargingRateUnit": "kW"}, False)
    expect("composite_bad_unit_callerror", err is not None and err[0] == "PropertyConstraintViolation", err)
    res, err = await call(cp, G, {"connectorId": 1}, False)
    expect("composite_missing_duration", err is not None and err[0] == "OccurenceConstraintViolation", err)

    # TxProfile: Rejected without a transaction, Accepted with it; the composite
    # follows the transaction.
    n = cp.limits
    tx_prof = profile(2, "TxProfile", 1, ((0, 8),), kind="Relative", tid=55)
    res, err = await call(cp, S, {"connectorId": 1, "csChargingProfiles": tx_prof})
    expect("tx_profile_without_tx_rejected", res == {"status": "Rejected"} and cp.limits == n, (res, err))
    running(cp, 1, 55, T0 + 600)
    n = cp.limits       # the start itself rebalances the limits
    res, err = await call(cp, S, {"connectorId": 1, "csChargingProfiles": tx_prof})
    expect("tx_profile_with_tx_accepted", res == {"status": "Accepted"} and cp.limits == n + 1, (res, err))
    res, err = await call(cp, G, {"connectorId": 1, "duration": 3600})
    sch = (res or {}).get("chargingSchedule", {})
    # The TxProfile overrules the TxDefaultProfile for the whole transaction.
    expect("composite_follows_tx", sch.get("chargingSchedulePeriod") == [
        {"startPeriod": 0, "limit": 8}], res)
    running(cp, 2, 56, T0)
    res, err = await call(cp, S, {"connectorId": 2, "csChargingProfiles": profile(
        3, "TxProfile", 1, ((0, 8),), kind="Relative", tid=55)})
    expect("tx_profile_other_tx_rejected", res == {"status": "Rejected"}, (res, err))

    # CALLERRORs the errata name.
    res, err = await call(cp, S, {"connectorId": 3, "csChargingProfiles": profile(
        4, "TxDefaultProfile", 0, ((0, 8),))})
    expect("set_bad_connector_callerror", err is not None and err[0] == "PropertyConstraintViolation", err)
    res, err = await call(cp, S, {"connectorId": -1, "csChargingProfiles": profile(
        4, "TxDefaultProfile", 0, ((0, 8),))})
    expect("set_negative_connector_callerror", err is not None and err[0] == "PropertyConstraintViolation", err)
    res, err = await call(cp, S, {"connectorId": 1, "csChargingProfiles": profile(
        4, "TxDefaultProfile", 0, ((0, 8),), unit="kW")}, False)
    expect("set_bad_unit_callerror", err is not None and err[0] == "PropertyConstraintViolation", err)
    bad = profile(4, "TxDefaultProfile", 0, ((0, 8),))
    del bad["stackLevel"]
    res, err = await call(cp, S, {"connectorId": 1, "csChargingProfiles": bad}, False)
    expect("set_missing_field_callerror", err is not None and err[0] == "OccurenceConstraintViolation", err)
    res, err = await call(cp, S, {"connectorId": 1, "csChargingProfiles": profile(
        4, "TxDefaultProfile", 9, ((0, 8),))})
    expect("set_stack_too_high_rejected", res == {"status": "Rejected"}, (res, err))

    # ClearChargingProfile.
    n = cp.limits
    res, err = await call(cp, C, {"id": 99})
    expect("clear_unknown", res == {"status": "Unknown"} and cp.limits == n, (res, err))
    res, err = await call(cp, C, {"connectorId": 1, "chargingProfilePurpose": "TxProfile"})
    expect("clear_tx_profile", res == {"status": "Accepted"} and cp.limits == n + 1
           and len(cp.smart.entries) == 1, (res, err))
    res, err = await call(cp, C, {"chargingProfilePurpose": "Other"}, False)
    expect("clear_bad_purpose_callerror", err is not None and err[0] == "PropertyConstraintViolation", err)
    res, err = await call(cp, C, {})
    expect("clear_all", res == {"status": "Accepted"} and cp.smart.entries == [], (res, err))
    res, err = await call(cp, G, {"connectorId": 0, "duration": 60})
    expect("composite_after_clear", res is not None and "chargingSchedule" not in res, res)

    # A charge point without smart charging says NotSupported (errata 3.39).
    cp2 = SmartCP(ROOT + "/b", SupportedFeatureProfiles="Core,LocalAuthListManagement,Reservation,"
                                                        "RemoteTrigger")
    for action, payload in ((S, {"connectorId": 0, "csChargingProfiles": profile(
            1, "TxDefaultProfile", 0, ((0, 8),))}), (C, {}), (G, {"connectorId": 0, "duration": 60})):
        res, err = await call(cp2, action, payload)
        expect("not_supported_" + action, err is not None and err[0] == "NotSupported", err)
    print("DONE %d" % len(results))


asyncio.run(main())
