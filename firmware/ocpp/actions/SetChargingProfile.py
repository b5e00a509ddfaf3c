# SetChargingProfile (spec 5.16): install a charging profile. The rules, and
# which problems are Rejected and which a CALLERROR, are in firmware/ocpp/smart.py.
from firmware.ocpp.check import I, REQ
from firmware.ocpp.profile_schema import PROFILE
from firmware.ocpp.rpc import CallError

SCHEMA = {"connectorId": (I | REQ,), "csChargingProfiles": (PROFILE[0] | REQ, PROFILE[1])}


def handle(cp, p):
    sc = cp.smart
    if not sc.supported():
        # Errata 3.39: a charge point without smart charging says NotSupported.
        raise CallError("NotSupported", "smart charging is not enabled on this charge point")
    c = p["connectorId"]
    if not 0 <= c <= cp.n:
        raise CallError("PropertyConstraintViolation",
                        "connectorId %d is out of range: this charge point has 0 to %d" % (c, cp.n))
    st = sc.set(c, p["csChargingProfiles"], cp.conns[c].tx)
    if st == "Accepted":
        cp.limiter.changed()
    return {"status": st}
