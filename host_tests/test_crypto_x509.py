"""X.509 parsing and certification paths (lib/x509.py, lib/certpath.py) on both
runtimes: every field against what openssl reads, CertificateHashData against
openssl's OCSP CertID, chains that hold and each way one fails, firmware
signatures, and garbled certificates that must end in one ValueError."""
import base64
import json
import os
import random
import re
import sys

import pytest
from hypothesis import given, settings, strategies as st

from crypto_pki import openssl, openssl_time
from mprun import cases, run, RUNTIMES

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, os.path.join(HERE, "mp"))
import x509  # noqa: E402
from crypto_x509_fuzz import verdict  # noqa: E402

SCRIPT = os.path.join(HERE, "mp", "crypto_x509_check.py")
FUZZ = os.path.join(HERE, "mp", "crypto_x509_fuzz.py")
MUST = ["fields_leaf", "fields_sub", "fields_root", "fields_pss", "hash_data_leaf",
        "hash_data_sub", "hash_data_root", "rsa_modulus_rleaf", "chain_ok",
        "chain_ok_root_repeated", "chain_ok_from_pem", "chain_ok_intermediates_any_order",
        "chain_ok_rsa_pkcs1", "chain_ok_rsa_pss", "leaf_expired", "leaf_not_yet_valid",
        "intermediate_expired", "root_expired", "wrong_root", "missing_intermediate",
        "impostor_root", "non_ca_intermediate", "intermediate_without_keycertsign",
        "path_length_limit", "chain_too_long", "chain_too_big", "unknown_critical_extension",
        "leaf_usage", "tampered_signature", "tampered_tbs", "truncated_leaf", "garbled_root",
        "firmware_fw.sig.ec", "firmware_fw.sig.rsa", "firmware_fw.sig.pss",
        "firmware_wrong_signer", "firmware_cert_of_other_hierarchy", "unsupported_signature_hash",
        "unsupported_pss_still_parsed", "unsupported_pss"]
# openssl's names for what x509.py reads.
SIG_ALGS = {"ecdsa-with-SHA256": "ecdsa-sha256", "sha256WithRSAEncryption": "rsa-sha256",
            "rsassaPss": "rsa-pss-sha256"}
KEY_USAGE = {"Digital Signature": 1, "Certificate Sign": 32, "CRL Sign": 64}


def _name(line):
    # "subject=CN=a,O=b,C=DE" in RFC 2253 order (last RDN first) -> [[C, DE], ...]
    rdns = line.split("=", 1)[1].strip().split(",")
    return [list(r.split("=", 1)) for r in reversed(rdns)]


def facts(pki, name, issuer):
    """What openssl reads in the certificate NAME, issued by ISSUER."""
    pem_file = pki.path(name + ".pem")
    out = openssl("x509", "-in", pem_file, "-noout", "-serial", "-startdate", "-enddate",
                  "-subject", "-issuer", "-nameopt", "RFC2253", "-text").decode()
    lines = out.splitlines()
    get = dict(l.split("=", 1) for l in lines[:5])
    text = "\n".join(lines[5:])
    ku = re.search(r"Key Usage: (?:critical)?\n\s*(.*)", text)
    bc = re.search(r"CA:(TRUE|FALSE)(?:, pathlen:(\d+))?", text)
    spki = openssl("x509", "-in", pem_file, "-noout", "-pubkey").decode()
    f = {"serial": "%x" % int(get["serial"], 16),
         "not_before": openssl_time(get["notBefore"]), "not_after": openssl_time(get["notAfter"]),
         "subject": _name(lines[3]), "issuer": _name(lines[4]),
         "key_type": "ec" if "id-ecPublicKey" in text else "rsa",
         "ca": bool(bc and bc.group(1) == "TRUE"),
         "path_len": int(bc.group(2)) if bc and bc.group(2) else None,
         "key_usage": sum(KEY_USAGE[u.strip()] for u in ku.group(1).split(",")) if ku else None,
         "sig_alg": SIG_ALGS[re.search(r"Signature Algorithm: (\S+)", text).group(1)],
         "spki": base64.b64decode("".join(spki.splitlines()[1:-1])).hex(),
         "version": int(re.search(r"Version: (\d)", text).group(1)),
         "issuer_name": issuer}
    if f["key_type"] == "rsa":
        f["modulus"] = openssl("x509", "-in", pem_file, "-noout", "-modulus").decode() \
            .strip().split("=")[1]
    # CertificateHashData is OCSP's CertID with SHA-256 (RFC 6960 4.1.1).
    req = pki.path(name + ".ocsp")
    openssl("ocsp", "-sha256", "-issuer", pki.path(issuer + ".pem"), "-cert", pem_file,
            "-no_nonce", "-reqout", req)
    cid = openssl("ocsp", "-reqin", req, "-req_text").decode()
    pick = lambda label: re.search(label + r": (\S+)", cid).group(1).lower()  # noqa: E731
    f["hash"] = {"hashAlgorithm": "SHA256", "issuerNameHash": pick("Issuer Name Hash"),
                 "issuerKeyHash": pick("Issuer Key Hash"),
                 "serialNumber": "%x" % int(pick("Serial Number"), 16)}
    return f


@pytest.fixture(scope="module")
def facts_file(pki):
    made = {n: facts(pki, n, i) for n, i in (("leaf", "sub"), ("sub", "root"), ("root", "root"),
                                               ("rleaf", "rroot"), ("pss", "rroot"),
                                               ("crit", "root"), ("fwsign_rsa", "mroot"))}
    path = pki.path("facts.json")
    with open(path, "w") as f:
        json.dump(made, f)
    return path


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_certificates_and_chains(runtime, pki, facts_file):
    now = x509.Certificate(open(pki.path("leaf.der"), "rb").read()).not_before + 3600
    passed, failed, out = cases(runtime, SCRIPT, pki.d, str(now), facts_file, timeout=120)
    assert not failed, "\n".join(failed)
    missing = [m for m in MUST if m not in passed]
    assert not missing, "cases not run: %s\n%s" % (missing, out[-2000:])


def mutate(rnd, b):
    b = bytearray(b)
    for _ in range(rnd.randint(1, 3)):
        if not b:
            break
        op, p = rnd.randint(0, 4), rnd.randrange(len(b))
        if op == 0:
            b[p] ^= 1 << rnd.randrange(8)
        elif op == 1:
            b[p] = rnd.choice((0, 0x80, 0x81, 0x82, 0xff, 0x30, 0x02, 0x03, 0x05, 0x06))
        elif op == 2:
            del b[p:p + rnd.randint(1, 8)]
        elif op == 3:
            b[p:p] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
        else:
            del b[p:]
    return bytes(b)


def _issuer(pki):
    return x509.Certificate(open(pki.path("root.der"), "rb").read())


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(["sub", "leaf_nonca", "crit", "rleaf", "pss"]), st.integers(0, 2 ** 32))
def test_garbled_certificate_is_one_value_error(pki, name, salt):
    good = open(pki.path(name + ".der"), "rb").read()
    v = verdict(mutate(random.Random(salt), good), _issuer(pki))
    assert v.startswith("OK ") or v.startswith("ERR "), v


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_garbled_certificates_alike_on_both_runtimes(runtime, pki, tmp_path):
    # The same 600 garbled certificates: never a crash, and the same verdict,
    # message for message, as CPython.
    rnd = random.Random(1)
    sources = [open(pki.path(n + ".der"), "rb").read() for n in ("sub", "nonca", "pss", "crit")]
    bad = [mutate(rnd, sources[i % len(sources)]) for i in range(600)]
    corpus = tmp_path / "garbled.txt"
    corpus.write_text("".join(b.hex() + "\n" for b in bad))
    rc, out = run(runtime, FUZZ, pki.path("root.der"), str(corpus), timeout=300)
    lines = out.splitlines()
    assert rc == 0 and lines[-1] == "DONE 600", out[-2000:]
    crashes = [l for l in lines if l.startswith("CRASH")]
    assert not crashes, crashes[:5]
    issuer = _issuer(pki)
    want = [verdict(b, issuer) for b in bad]
    assert lines[:-1] == want
    # The corpus reaches deep: many reasons, and some survivors.
    assert len(set(l.split(" at offset")[0] for l in lines if l.startswith("ERR"))) > 15
