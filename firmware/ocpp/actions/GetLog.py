# GetLog (security whitepaper N01, 5.9): the diagnostics log or the security
# log uploaded to log.remoteLocation (firmware/ocpp/diagnostics.py), with
# LogStatusNotification carrying the requestId. A new request cancels an
# upload in progress (AcceptedCanceled, N01.FR.11).
from compat import parse_iso
from firmware.ocpp.check import S, I, T, E, O, REQ
from firmware.ocpp.actions.UpdateFirmware import job

SCHEMA = {"logType": (E | REQ, ("DiagnosticsLog", "SecurityLog")), "requestId": (I | REQ,),
          "retries": (I,), "retryInterval": (I,),
          "log": (O | REQ, {"remoteLocation": (S | REQ, 512), "oldestTimestamp": (T,),
                            "latestTimestamp": (T,)})}


def handle(cp, p):
    j = job(p)
    lg = p["log"]
    t0 = parse_iso(lg["oldestTimestamp"]) if "oldestTimestamp" in lg else None
    t1 = parse_iso(lg["latestTimestamp"]) if "latestTimestamp" in lg else None
    name, cancelled = cp.diag.start(p["logType"], lg["remoteLocation"], t0, t1, j["retries"],
                                    j["interval"], p["requestId"])
    if name is None:
        return {"status": "Rejected"}
    return {"status": "AcceptedCanceled" if cancelled else "Accepted", "filename": name}
