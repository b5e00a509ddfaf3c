# UpdateFirmware (spec 5.19, 6.55): the update is a job of the firmware update
# room (firmware/ocpp/fwupdate.py), which reports every step with
# FirmwareStatusNotification. The answer has no status, so a location that
# cannot work (an unknown scheme) is reported as DownloadFailed, with the
# reason in the log. retries and retryInterval default to 3 and 60 s.
from compat import parse_iso
from firmware.ocpp.check import S, I, T, REQ
from firmware.ocpp.rpc import CallError

# location is an anyURI without a length limit (the receive buffer bounds it).
SCHEMA = {"location": (S | REQ, 1 << 30), "retries": (I,), "retrieveDate": (T | REQ,),
          "retryInterval": (I,)}


def job(p, retries_key="retries"):
    """The job fields common to UpdateFirmware and SignedUpdateFirmware."""
    r = p.get(retries_key)
    i = p.get("retryInterval")
    if (r is not None and not 0 <= r <= 100) or (i is not None and not 0 <= i <= 86400):
        raise CallError("PropertyConstraintViolation",
                        "retries must be 0..100 and retryInterval 0..86400 seconds")
    return {"retries": 3 if r is None else r, "interval": 60 if i is None else i,
            "signed": False, "rid": None}


def handle(cp, p):
    j = job(p)
    j["url"] = p["location"]
    j["at"] = parse_iso(p["retrieveDate"])
    cp.update.start(j)
    return {}
