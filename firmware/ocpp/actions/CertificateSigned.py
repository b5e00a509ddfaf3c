# CertificateSigned (security whitepaper A02/A03, 5.2): the chain the
# certificate authority made from the charger's request. Checked before the
# answer (firmware/cpcert.py: its key, its subject, its validity, its path to a
# CentralSystemRootCertificate, CertificateSignedMaxChainSize); Rejected with
# the security event InvalidChargePointCertificate otherwise (A02.FR.07).
# Accepted means it is on flash: a security profile 3 link then reconnects
# with it once this answer is on the wire (firmware/main.py).
from firmware.ocpp.check import S, REQ

SCHEMA = {"certificateChain": (S | REQ, 10000)}


def handle(cp, p):
    return {"status": cp.enrol.signed(p["certificateChain"])}
