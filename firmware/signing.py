# Signed firmware (security whitepaper L01): the signing certificate must chain
# to an installed ManufacturerRootCertificate (firmware/certstore.py) and
# allow digital signatures; the signature is checked with its key, on the
# charger (lib/certpath.py: ECDSA P-256, RSA PKCS#1 v1.5 or PSS, SHA-256).
# The public-key modules are imported only when a signature is checked.
import log
from compat import wall
from firmware.certstore import MF


def make(certs):
    """verify(pem, digest, sig) for fwupdate: None when good, else why. With
    digest None only the certificate is checked."""
    def verify(text, digest, sig):
        import pem
        import x509
        import certpath
        roots = certs.ders(MF)
        if not roots:
            return ("no ManufacturerRootCertificate is installed to check the signing "
                    "certificate: install one (InstallCertificate)")
        try:
            der = pem.decode(text, limit=1)[0]
            path = certpath.validate([der], roots, wall(), usage=x509.DIGITAL_SIGNATURE)
        except ValueError as e:
            return "signing certificate: %s" % e
        if digest is None:
            return None
        try:
            ok = certpath.verify_data(path[0], digest, sig)
        except ValueError as e:
            ok = False
            log.warn("update", "signature: %s", e)
        return None if ok else "the signature does not match the firmware (signed by %s)" % \
            path[0].describe()
    return verify
