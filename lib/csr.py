# PKCS#10 certificate requests (RFC 2986), as SignCertificate.req carries one
# (PEM, whitepaper A02.FR.03): the charger's public key and subject name,
# signed with its private key to prove it holds it. No attributes or requested
# extensions: the certificate authority decides the extensions.
import hashlib

import der
import dn
import pem


def build(key, cn, o=None, ou=None, c=None):
    """DER CertificationRequest for key (ecdsa.PrivateKey or rsa.PrivateKey)
    with the subject C, O, OU, CN (those given, in that order), signed with
    the key: ECDSA-SHA256 or RSA-SHA256 (PKCS#1 v1.5)."""
    for r in build_steps(key, cn, o, ou, c):
        if r is not None:
            return r[0]


def build_steps(key, cn, o=None, ou=None, c=None):
    """build() as a generator: None between the slices of an EC signature
    (ecdsa.PrivateKey.sign_steps), then (DER,). An RSA key signs at once."""
    pairs = [(a, v) for a, v in (("C", c), ("O", o), ("OU", ou), ("CN", cn)) if v is not None]
    info = der.seq(der.integer(0), dn.encode(pairs), key.spki(), der.ctx(0, b""))
    digest = hashlib.sha256(info).digest()
    if hasattr(key, "sign_steps"):
        for r in key.sign_steps(digest):
            if r is None:
                yield None
        sig = r[0]
    else:
        sig = key.sign(digest)
    yield (der.seq(info, key.sig_alg, der.bit_string(sig)),)


def build_pem(key, cn, o=None, ou=None, c=None):
    """build() armoured as PEM ("CERTIFICATE REQUEST"), as OCPP sends it."""
    return pem.encode(build(key, cn, o, ou, c), "CERTIFICATE REQUEST")
