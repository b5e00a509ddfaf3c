# ChangeConfiguration (spec 5.3): the status is the registry's answer
# (firmware/config.py decides Accepted, RebootRequired, NotSupported or
# Rejected). The registry's messages never carry a secret's value, and neither
# does anything logged here: only the key and that message.
import log
from firmware.ocpp.check import S, REQ

SCHEMA = {"key": (S | REQ, 50), "value": (S | REQ, 500)}


def handle(cp, p):
    status, msg = cp.cfg.set(p["key"], p["value"], "ocpp")
    if status == "Rejected":
        log.warn("config", "ChangeConfiguration of %s rejected: %s", p["key"], msg)
    elif status == "NotSupported":
        log.info("config", "ChangeConfiguration of %s: %s", p["key"], msg)
    elif p["key"].lower() in ("securityprofile", "authorizationkey"):
        cp.security.event("ReconfigurationOfSecurityParameters",
                          "%s changed by the central system" % p["key"])
    return {"status": status}
