"""Security profile 3's key and certificate on both runtimes (lib/csr.py with
ecdsa, rsagen, certpath): the charger makes its key and a PKCS#10 request,
openssl checks the request and a CA issues the certificate from it, the
charger validates the chain it gets back and refuses one for another key,
and its TLS context takes the certificate and key (mbedtls on MicroPython,
OpenSSL on CPython, which also checks that they belong together)."""
import base64
import os
import re
import subprocess

import pytest

from crypto_pki import openssl, openssl_time
from mprun import cases, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "crypto_csr_check.py")


def phase(runtime, *args, must=()):
    passed, failed, out = cases(runtime, SCRIPT, *args, timeout=180)
    assert not failed, "\n".join(failed)
    missing = [m for m in must if m not in passed]
    assert not missing, "cases not run: %s\n%s" % (missing, out[-2000:])


def req_text(path):
    p = subprocess.run(["openssl", "req", "-in", str(path), "-noout", "-verify", "-text"],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture(scope="module", params=RUNTIMES)
def made(request, pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("csr-" + request.param)
    phase(request.param, "make", str(d), must=["csr_made", "csr_country_two_letters"])
    return request.param, d


@pytest.mark.parametrize("kind,subject,alg", [
    ("ec", "Subject: C = DE, O = Test CPO, CN = CP-0001", "ecdsa-with-SHA256"),
    ("rsa", "Subject: O = Test CPO, OU = Garage, CN = CP-0002", "sha256WithRSAEncryption")])
def test_openssl_verifies_the_request(made, kind, subject, alg):
    rc, text = req_text(made[1] / ("%s.csr.pem" % kind))
    assert rc == 0 and "verify OK" in text, text
    assert subject in text and "Signature Algorithm: " + alg in text, text
    assert ("NIST CURVE: P-256" if kind == "ec" else "Public-Key: (2048 bit)") in text


def test_openssl_refuses_a_tampered_request(made, tmp_path):
    body = "".join((made[1] / "ec.csr.pem").read_text().splitlines()[1:-1])
    der = bytearray(base64.b64decode(body))
    der[-1] ^= 1        # the last byte of the signature's s
    bad = tmp_path / "bad.csr.pem"
    bad.write_text("-----BEGIN CERTIFICATE REQUEST-----\n%s\n-----END CERTIFICATE REQUEST-----\n"
                   % base64.b64encode(bytes(der)).decode())
    rc, text = req_text(bad)
    # (openssl 3.0 exits 0 here; the message is what tells)
    assert "verify failure" in text and "verify OK" not in text, (rc, text)


def test_certificates_issued_from_the_requests(made, pki):
    runtime, d = made
    # A CA signs each request; the EC one below the RSA sub-CA, the RSA one
    # directly below the EC root, so both signature kinds occur in the paths.
    pki.issue(runtime + "_ec", None, "sub", csr=str(d / "ec.csr.pem"))
    pki.issue(runtime + "_rsa", None, "root", csr=str(d / "rsa.csr.pem"))
    for kind in ("ec", "rsa"):
        os.replace(pki.path("%s_%s.der" % (runtime, kind)), str(d / ("%s.der" % kind)))
    out = openssl("x509", "-in", pki.path(runtime + "_ec.pem"), "-noout", "-subject").decode()
    assert re.search(r"CN ?= ?CP-0001", out)
    # The same subject, another key: a chain that is valid, but not ours.
    if not os.path.exists(pki.path("other_cp.der")):
        pki.issue("other_cp", "/C=DE/O=Test CPO/CN=CP-0001", "sub")
    now = openssl_time(openssl("x509", "-in", pki.path(runtime + "_ec.pem"), "-noout",
                               "-startdate").decode().split("=", 1)[1]) + 60
    phase(runtime, "check", str(d), pki.d, str(now),
          must=["ec_certificate_path", "ec_key_matches", "ec_path_from_pem",
                "rsa_certificate_path", "other_key_path_itself_valid", "other_key_refused",
                "tls_context_takes_ec", "tls_context_takes_rsa"])

