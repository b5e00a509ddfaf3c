# InstallCertificate (security whitepaper M05): a CentralSystemRootCertificate
# (the CA of security profile 2) or a ManufacturerRootCertificate (signed
# firmware), kept by firmware/certstore.py. Rejected: not a CA certificate,
# not valid now, or no room (CertificateStoreMaxLength); Failed: flash.
import log
from firmware.ocpp.check import S, E, REQ
from firmware.certstore import CS, MF

SCHEMA = {"certificateType": (E | REQ, (CS, MF)), "certificate": (S | REQ, 5500)}


def handle(cp, p):
    st, why = cp.certs.install(p["certificateType"], p["certificate"])
    if st != "Accepted":
        log.warn("certs", "InstallCertificate %s: %s", st, why)
    else:
        cp.security.event("ReconfigurationOfSecurityParameters",
                          "%s installed" % p["certificateType"])
    return {"status": st}
