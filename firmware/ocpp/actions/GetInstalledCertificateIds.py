# GetInstalledCertificateIds (security whitepaper M03): the hash data of each
# installed certificate of the type (firmware/certstore.py), NotFound if none.
from firmware.ocpp.check import E, REQ
from firmware.certstore import CS, MF

SCHEMA = {"certificateType": (E | REQ, (CS, MF))}


def handle(cp, p):
    ids = cp.certs.ids(p["certificateType"])
    if not ids:
        return {"status": "NotFound"}
    return {"status": "Accepted", "certificateHashData": ids}
