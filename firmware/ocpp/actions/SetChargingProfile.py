# SetChargingProfile (spec 5.16): install a charging profile. The rules, and
# which problems are Rejected and which a CALLERROR, are in firmware/ocpp/smart.py.
from firmware.ocpp.check import I, REQ
from firmware.ocpp.profile_schema import PROFILE
from firmware.ocpp.rpc import CallError

SCHEMA = {"connectorId": (I | REQ,), "csChargingProfiles": (PROFILE[0] | REQ, PROFILE[1])}


def handle(cp, p):
    sc = getattr(cp, "smart", None)
    if sc is None:
        # Errata 3.39: a charge point without smart charging says NotSupported.
        raise CallError("NotSupported", "smart charging is not enabled on this charge point")
    c = p["connectorId"]
    if not 0 <= c <= cp.n:
        raise CallError("PropertyConstraintViolation",
                        "connectorId %d is out of range: this charge point has 0 to %d" % (c, cp.n))
    tx = cp.conns[c].tx if c > 0 else None
    st = sc.set(c, p["csChargingProfiles"], tx)
    if st == "Accepted":
        cp.limits_changed()
    return {"status": st}
