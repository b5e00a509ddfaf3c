# GetDiagnostics (spec 5.9, 6.25): a status dump and the log between startTime
# and stopTime, uploaded to the location (firmware/ocpp/diagnostics.py), with
# DiagnosticsStatusNotification for each step. The answer names the file.
from compat import parse_iso
from firmware.ocpp.check import S, I, T, REQ
from firmware.ocpp.actions.UpdateFirmware import job

SCHEMA = {"location": (S | REQ, 1 << 30), "retries": (I,), "retryInterval": (I,),
          "startTime": (T,), "stopTime": (T,)}


def handle(cp, p):
    j = job(p)
    t0 = parse_iso(p["startTime"]) if "startTime" in p else None
    t1 = parse_iso(p["stopTime"]) if "stopTime" in p else None
    name, _c = cp.diag.start("GetDiagnostics", p["location"], t0, t1, j["retries"], j["interval"])
    return {"fileName": name} if name else {}
