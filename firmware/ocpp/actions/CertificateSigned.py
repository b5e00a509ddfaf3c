# CertificateSigned (security whitepaper A02/A03, 5.2): the chain the
# certificate authority made from the charger's request. Checked before the
# answer (firmware/cpcert.py: its key, its subject, its validity, its path to a
# CentralSystemRootCertificate, CertificateSignedMaxChainSize); Rejected with
# the security event InvalidChargePointCertificate otherwise (A02.FR.07).
# Accepted means it is on flash: a security profile 3 link then reconnects
# with it once this answer is on the wire (firmware/main.py).
from firmware.ocpp.check import S, REQ

SCHEMA = {"certificateChain": (S | REQ, 10000)}


async def handle(cp, p):
    # Async: the signatures of the chain are checked in slices, the event
    # loop running between them (about 1.2 s per P-256 signature on an RP2040).
    return {"status": await cp.enrol.signed(p["certificateChain"])}
