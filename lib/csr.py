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
    pairs = [(a, v) for a, v in (("C", c), ("O", o), ("OU", ou), ("CN", cn)) if v is not None]
    info = der.seq(der.integer(0), dn.encode(pairs), key.spki(), der.ctx(0, b""))
    sig = key.sign(hashlib.sha256(info).digest())
    return der.seq(info, key.sig_alg, der.bit_string(sig))


def build_pem(key, cn, o=None, ou=None, c=None):
    """build() armoured as PEM ("CERTIFICATE REQUEST"), as OCPP sends it."""
    return pem.encode(build(key, cn, o, ou, c), "CERTIFICATE REQUEST")
