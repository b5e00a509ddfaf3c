# Reset (spec 5.14): running transactions are stopped with reason SoftReset or
# HardReset, their StopTransaction is on flash before the restart, and the
# board restarts after the answer has been sent.
from firmware.ocpp.check import E, REQ

SCHEMA = {"type": (E | REQ, ("Hard", "Soft"))}


def handle(cp, p):
    kind = p["type"]
    cp.security.event("ResetOrReboot", "%s reset by the central system" % kind)
    cp.txs.mark_reboot()
    cp.rpc.later(lambda: cp.reset(kind))
    return {"status": "Accepted"}
