"""ECDSA P-256 and RSA with SHA-256 (lib/ec.py, ecdsa.py, rsa.py, rsagen.py) on
both runtimes: RFC 6979 vectors, wrong and near-miss signatures, key
generation, and interoperation with openssl both ways (keys and signatures
openssl made are read; keys and signatures made here pass openssl's checks)."""
import os

import pytest

from crypto_pki import openssl
from mprun import cases, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "crypto_sig_check.py")
MUST = ["rfc6979_sample", "rfc6979_test", "ec_generate_rejects_out_of_range", "ec_sign_verify",
        "ec_tampered_signature", "ec_bad_encodings", "ec_load_openssl_keys",
        "ec_verify_openssl_signature", "rsa_pkcs1_openssl", "rsa_pss_openssl",
        "rsa_pss_salt_length_checked", "rsa_exact_block_accepted", "rsa_near_miss_no_null",
        "rsa_near_miss_garbage_after", "rsa_small_key_refused", "primes_carmichael",
        "rsa_generate", "rsa_sign_verify", "rsa_key_der_round_trip"]


@pytest.fixture(scope="module", params=RUNTIMES)
def made(request, pki, tmp_path_factory):
    """Runs the checks on one runtime; returns the directory of what it made."""
    out = tmp_path_factory.mktemp("sig-" + request.param)
    passed, failed, text = cases(request.param, SCRIPT, pki.d, str(out), timeout=180)
    assert not failed, "\n".join(failed)
    missing = [m for m in MUST if m not in passed]
    assert not missing, "cases not run: %s\n%s" % (missing, text[-2000:])
    return out


def test_all_cases_pass(made):
    assert (made / "msg.bin").exists()


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_openssl_accepts_generated_keys(made, kind):
    key = str(made / ("%s_gen.key.der" % kind))
    out = openssl("pkey", "-inform", "DER", "-in", key, "-check", "-noout")
    assert b"valid" in out or out == b"", out
    # The public key we encode is byte for byte the one openssl derives.
    spki = openssl("pkey", "-inform", "DER", "-in", key, "-pubout", "-outform", "DER")
    assert spki == (made / ("%s_gen.spki.der" % kind)).read_bytes()


@pytest.mark.parametrize("sig,key", [("ec_gen.sig", "ec_gen.key.der"),
                                     ("rsa_gen.sig", "rsa_gen.key.der"),
                                     ("ec_openssl_key.sig", "root.key"),
                                     ("rsa_openssl_key.sig", "sub.key")])
def test_openssl_verifies_our_signatures(made, pki, sig, key, tmp_path):
    keyfile = str(made / key) if key.endswith(".der") else pki.path(key)
    pub = str(tmp_path / "pub.pem")
    form = ["-inform", "DER"] if key.endswith(".der") else []
    openssl("pkey", *form, "-in", keyfile, "-pubout", "-out", pub)
    out = openssl("dgst", "-sha256", "-verify", pub, "-signature", str(made / sig),
                  str(made / "msg.bin"))
    assert b"Verified OK" in out
    # And a signature of other data is refused by openssl too.
    (tmp_path / "other.bin").write_bytes(b"other")
    with pytest.raises(RuntimeError):
        openssl("dgst", "-sha256", "-verify", pub, "-signature", str(made / sig),
                str(tmp_path / "other.bin"))
