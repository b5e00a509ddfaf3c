# SignedUpdateFirmware (security whitepaper L01, 5.21): the signing certificate
# is checked against the installed ManufacturerRootCertificate before the
# answer (L01.FR.23/24: InvalidCertificate, and the security event
# InvalidFirmwareSigningCertificate); then the update runs as UpdateFirmware's
# (firmware/ocpp/fwupdate.py), reported with SignedFirmwareStatusNotification,
# and the signature of the whole downloaded file is checked on the charger.
# A new request replaces an update not yet installing (AcceptedCanceled).
from compat import parse_iso
from firmware.ocpp.check import S, I, T, O, REQ
from firmware.ocpp.actions.UpdateFirmware import job

SCHEMA = {"retries": (I,), "retryInterval": (I,), "requestId": (I | REQ,),
          "firmware": (O | REQ, {"location": (S | REQ, 512), "retrieveDateTime": (T | REQ,),
                                 "installDateTime": (T,), "signingCertificate": (S | REQ, 5500),
                                 "signature": (S | REQ, 800)})}


def handle(cp, p):
    j = job(p)
    f = p["firmware"]
    why = cp.update.verify(f["signingCertificate"], None, None)
    if why:
        cp.security.event("InvalidFirmwareSigningCertificate", why)
        return {"status": "InvalidCertificate"}
    j.update({"url": f["location"], "at": parse_iso(f["retrieveDateTime"]), "signed": True,
              "rid": p["requestId"], "cert": f["signingCertificate"], "sig": f["signature"]})
    if "installDateTime" in f:
        j["install_at"] = parse_iso(f["installDateTime"])
    return {"status": "AcceptedCanceled" if cp.update.start(j) else "Accepted"}
