# DeleteCertificate (security whitepaper M04): the installed CA certificate
# with this hash data goes (firmware/certstore.py); the last central-system CA
# while security profile 2 depends on it stays (Failed, M04.FR.06).
import log
from firmware.ocpp.check import S, E, O, REQ

SCHEMA = {"certificateHashData": (O | REQ, {
    "hashAlgorithm": (E | REQ, ("SHA256", "SHA384", "SHA512")), "issuerNameHash": (S | REQ, 128),
    "issuerKeyHash": (S | REQ, 128), "serialNumber": (S | REQ, 40)})}


def handle(cp, p):
    h = p["certificateHashData"]
    if h["hashAlgorithm"] != "SHA256":
        # Installed certificates are known by their SHA-256 hashes (M04.FR.07).
        return {"status": "NotFound"}
    st, why = cp.certs.delete(h)
    if why:
        log.warn("certs", "DeleteCertificate %s: %s", st, why)
    if st == "Accepted":
        cp.security.event("ReconfigurationOfSecurityParameters", "a CA certificate deleted")
    return {"status": st}
