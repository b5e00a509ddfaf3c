# PKCS#10 certificate requests (RFC 2986), as SignCertificate.req carries one
# (PEM, whitepaper A02.FR.03): the charger's public key and subject name,
# signed with its private key to prove it holds it. No attributes or requested
# extensions: the certificate authority decides the extensions.
import hashlib

import der
import pem
import x509

# Upper bounds of X.520 (ub-common-name and friends are 64 characters).
_MAX = 64


def name(pairs):
    """The DER Name of [(attribute, value)] in the order given, one attribute
    per RDN: countryName (two letters) as PrintableString, the others as
    UTF8String (RFC 5280 4.1.2.4)."""
    rdns = []
    for attr, value in pairs:
        if not value or len(value) > _MAX:
            raise ValueError("name: %s must have 1 to %d characters" % (attr, _MAX))
        if attr == "C":
            if len(value) != 2 or not ("A" <= value[0] <= "Z" and "A" <= value[1] <= "Z"):
                raise ValueError("name: C must be a two-letter country code such as DE")
            v = der.printable(value)
        else:
            v = der.utf8(value)
        rdns.append(der.set_of(der.seq(x509.attr_oid(attr), v)))
    return der.seq(*rdns)


def build(key, cn, o=None, ou=None, c=None):
    """DER CertificationRequest for key (ecdsa.PrivateKey or rsa.PrivateKey)
    with the subject C, O, OU, CN (those given, in that order), signed with
    the key: ECDSA-SHA256 or RSA-SHA256 (PKCS#1 v1.5)."""
    pairs = [(a, v) for a, v in (("C", c), ("O", o), ("OU", ou), ("CN", cn)) if v is not None]
    info = der.seq(der.integer(0), name(pairs), key.spki(), der.ctx(0, b""))
    sig = key.sign(hashlib.sha256(info).digest())
    return der.seq(info, key.sig_alg, der.bit_string(sig))


def build_pem(key, cn, o=None, ou=None, c=None):
    """build() armoured as PEM ("CERTIFICATE REQUEST"), as OCPP sends it."""
    return pem.encode(build(key, cn, o, ou, c), "CERTIFICATE REQUEST")
