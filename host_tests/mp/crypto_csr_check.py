# The charger's own key and certificate, under MicroPython and CPython, run by
# test_crypto_csr.py in two phases around openssl:
#   make DIR          a P-256 and an RSA-2048 key, a certificate request for
#                     each (PEM), written to DIR
#   check DIR PKI NOW the certificates openssl issued for those requests
#                     (DIR/ec.der, DIR/rsa.der) and one issued for another key
#                     (PKI/other_cp.der): path, key match, and the TLS context
# Prints PASS/FAIL lines and DONE.
import sys

import certpath
import csr
import ecdsa
import pem
import rsa
import rsagen
from crypto_cases import done, expect, refused

PHASE, DIR = sys.argv[1], sys.argv[2]
MICROPYTHON = sys.implementation.name == "micropython"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def tls_accepts(cert_der, key):
    # The certificate and key as the firmware hands them to its TLS client.
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if MICROPYTHON:
        ctx.load_cert_chain(cert_der, key.der())     # mbedtls: DER in memory
    else:
        label = "EC PRIVATE KEY" if key.kind == "ec" else "RSA PRIVATE KEY"
        write(DIR + "/tls.crt", pem.encode(cert_der))
        write(DIR + "/tls.key", pem.encode(key.der(), label))
        ctx.load_cert_chain(DIR + "/tls.crt", DIR + "/tls.key")   # checks they match
    return True


if PHASE == "make":
    ek = ecdsa.generate()
    write(DIR + "/ec.key.der", ek.der())
    write(DIR + "/ec.csr.pem", csr.build_pem(ek, "CP-0001", "Test CPO", c="DE"))
    rk = rsagen.generate()
    write(DIR + "/rsa.key.der", rk.der())
    write(DIR + "/rsa.csr.pem", csr.build_pem(rk, "CP-0002", "Test CPO", ou="Garage"))
    expect("csr_made", True)
    refused("csr_country_two_letters", lambda: csr.build(ek, "CP-0001", "Test CPO", c="Germany"),
            "two-letter country code")
    refused("csr_empty_cn", lambda: csr.build(ek, "", "Test CPO"), "CN must have 1 to 64")
    refused("csr_long_o", lambda: csr.build(ek, "CP-0001", "x" * 65), "O must have 1 to 64")
else:
    PKI, NOW = sys.argv[3], int(sys.argv[4])
    roots = [read(PKI + "/root.der")]
    sub = read(PKI + "/sub.der")
    ek = ecdsa.load(read(DIR + "/ec.key.der"))
    rk = rsa.load(read(DIR + "/rsa.key.der"))
    ec_cert, rsa_cert = read(DIR + "/ec.der"), read(DIR + "/rsa.der")
    path = certpath.validate([ec_cert, sub], roots, NOW, key=ek)
    expect("ec_certificate_path", [c.field("CN") for c in path]
           == ["CP-0001", "Test Sub CA", "Test Root"])
    expect("ec_key_matches", certpath.key_matches(path[0], ek)
           and not certpath.key_matches(path[0], rk))
    # The certificate chain the central system sends back, as PEM text.
    text = pem.encode(ec_cert) + pem.encode(sub)
    expect("ec_path_from_pem", len(certpath.validate(pem.decode(text), roots, NOW, key=ek)) == 3)
    path = certpath.validate([rsa_cert], roots, NOW, key=rk)
    expect("rsa_certificate_path", path[0].field("OU") == "Garage" and path[0].key_type == "rsa")
    other = read(PKI + "/other_cp.der")
    expect("other_key_path_itself_valid", len(certpath.validate([other, sub], roots, NOW)) == 3)
    refused("other_key_refused", lambda: certpath.validate([other, sub], roots, NOW, key=ek),
            "certificate 1 (C=DE, O=Test CPO, CN=CP-0001): it is for another public key")
    expect("tls_context_takes_ec", tls_accepts(ec_cert, ek))
    expect("tls_context_takes_rsa", tls_accepts(rsa_cert, rk))
done()
