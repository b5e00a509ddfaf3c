# lib/x509.py and lib/certpath.py under MicroPython and CPython, run by
# test_crypto_x509.py. argv: the openssl-made test PKI (crypto_pki.py), the
# time to validate at (Unix seconds), a JSON file of what openssl says about
# the certificates. Prints PASS/FAIL lines and DONE.
import hashlib
import json
import sys

import certpath
import pem
import x509
from crypto_cases import done, expect, refused

PKI, NOW = sys.argv[1], int(sys.argv[2])
with open(sys.argv[3]) as f:
    FACTS = json.load(f)
DAY = 86400


def read(name):
    with open(PKI + "/" + name, "rb") as f:
        return f.read()


def der(name):
    return read(name + ".der")


def cert(name):
    return x509.Certificate(der(name))


# What the parser reads agrees with openssl.
for name, want in FACTS.items():
    c = cert(name)
    got = {"serial": "%x" % c.serial, "not_before": c.not_before, "not_after": c.not_after,
           "subject": [list(p) for p in c.names()], "issuer": [list(p) for p in c.names(c.issuer)],
           "key_type": c.key_type, "ca": c.ca, "path_len": c.path_len, "key_usage": c.key_usage,
           "sig_alg": c.sig_alg, "spki": bytes(c.span(c.spki)).hex(), "version": c.version}
    diff = [(k, got[k], want[k]) for k in want if k in got and got[k] != want[k]]
    expect("fields_" + name, not diff, diff)
    if "hash" in want:
        issuer = c if want["issuer_name"] == name else cert(want["issuer_name"])
        expect("hash_data_" + name, x509.hash_data(c, issuer) == want["hash"],
               x509.hash_data(c, issuer))
    if "modulus" in want:
        expect("rsa_modulus_" + name, "%X" % c.public_key()[0] == want["modulus"])
leaf = cert("leaf")
expect("field_lookup", leaf.field("CN") == "CP-0001" and leaf.field("O") == "Test CPO"
       and leaf.field("OU") is None and leaf.field("CN", leaf.issuer) == "Test Sub CA")
expect("pss_salt", cert("pss").sig_alg == "rsa-pss-sha256" and cert("pss").pss_salt == 32)
expect("unknown_critical_recorded", cert("crit").unknown_critical == "1.2.3.4")
expect("describe", leaf.describe() == "C=DE, O=Test CPO, CN=CP-0001", leaf.describe())

# Certification paths that hold.
root, sub = der("root"), der("sub")


def names(path):
    return [c.field("CN") for c in path]


p = certpath.validate([der("leaf"), sub], [root], NOW)
expect("chain_ok", names(p) == ["CP-0001", "Test Sub CA", "Test Root"], names(p))
p = certpath.validate([der("leaf"), sub, root], [der("other"), root], NOW)
expect("chain_ok_root_repeated", names(p) == ["CP-0001", "Test Sub CA", "Test Root"], names(p))
chain_text = read("leaf.pem") + b"\n" + read("sub.pem")
p = certpath.validate(pem.decode(chain_text), [root], NOW)
expect("chain_ok_from_pem", len(p) == 3)
long_chain = [der("leaf_long"), der("ca1"), der("ca3"), der("ca0"), der("ca2")]
p = certpath.validate(long_chain, [root], NOW, max_certs=5)
expect("chain_ok_intermediates_any_order", names(p) == ["Long Chain Leaf", "Chain CA 3",
                                                        "Chain CA 2", "Chain CA 1", "Chain CA 0",
                                                        "Test Root"], names(p))
expect("chain_ok_rsa_pkcs1", len(certpath.validate([der("rleaf")], [der("rroot")], NOW)) == 2)
expect("chain_ok_rsa_pss", len(certpath.validate([der("pss")], [der("rroot")], NOW)) == 2)
expect("chain_ok_usage", len(certpath.validate([der("leaf"), sub], [root], NOW,
                                               usage=x509.DIGITAL_SIGNATURE)) == 3)
expect("chain_ok_parsed_roots", len(certpath.validate([der("leaf"), sub], [x509.Certificate(root)],
                                                      NOW)) == 3)

# And those that do not, each with its reason.
L = "certificate 1 (C=DE, O=Test CPO, CN=CP-0001)"
lc = cert("leaf")
refused("leaf_expired", lambda: certpath.validate([der("leaf"), sub], [root], lc.not_after + 1),
        L + ": expired at ")
refused("leaf_not_yet_valid",
        lambda: certpath.validate([der("leaf"), sub], [root], lc.not_before - 1),
        L + ": not valid before ")
refused("intermediate_expired",
        lambda: certpath.validate([der("leaf_short"), der("shortsub")], [root], NOW + 2 * DAY),
        "certificate 2 (CN=Short Sub CA): expired at ")
refused("root_expired", lambda: certpath.validate([der("leaf_shortroot")], [der("shortroot")],
                                                  NOW + 2 * DAY),
        "trusted root (CN=Short Root): expired at ")
refused("wrong_root", lambda: certpath.validate([der("leaf"), sub], [der("other")], NOW),
        "certificate 2 (CN=Test Sub CA, O=Test CPO): its issuer (CN=Test Root, O=Test CPO) "
        "is neither in the chain nor a trusted root")
refused("missing_intermediate", lambda: certpath.validate([der("leaf")], [root], NOW),
        L + ": its issuer (CN=Test Sub CA, O=Test CPO) is neither")
refused("impostor_root", lambda: certpath.validate([der("leaf"), sub], [der("impostor")], NOW),
        "certificate 2 (CN=Test Sub CA, O=Test CPO): its signature does not verify with the key "
        "of trusted root (CN=Test Root, O=Test CPO)")
refused("non_ca_intermediate",
        lambda: certpath.validate([der("leaf_nonca"), der("nonca")], [root], NOW),
        "certificate 2 (CN=Not A CA): issues certificates but is not a CA")
refused("intermediate_without_keycertsign",
        lambda: certpath.validate([der("leaf_noks"), der("noks")], [root], NOW),
        "certificate 2 (CN=No keyCertSign): its keyUsage does not allow signing certificates")
refused("path_length_limit",
        lambda: certpath.validate([der("leaf_deep"), der("sub2"), sub], [root], NOW),
        "certificate 3 (CN=Test Sub CA, O=Test CPO): path length limit 0, 1 intermediate")
refused("chain_too_long", lambda: certpath.validate(long_chain, [root], NOW),
        "chain of 5 certificates: at most 4 accepted")
size = len(der("leaf")) + len(sub)
refused("chain_too_big", lambda: certpath.validate([der("leaf"), sub], [root], NOW,
                                                   max_bytes=size - 1),
        "chain of %d bytes: at most %d accepted" % (size, size - 1))
refused("chain_empty", lambda: certpath.validate([], [root], NOW), "no certificate")
refused("unknown_critical_extension", lambda: certpath.validate([der("crit")], [root], NOW),
        "certificate 1 (CN=Critical Unknown): unsupported critical extension 1.2.3.4")
refused("unsupported_signature_hash", lambda: certpath.validate([der("sha384")], [root], NOW),
        "certificate 1 (CN=SHA-384 Leaf), signed by trusted root (CN=Test Root, O=Test CPO): "
        "signature algorithm unsupported 1.2.840.10045.4.3.3 with a ec key is not supported")
expect("unsupported_pss_still_parsed", cert("pss384").sig_alg == "unsupported RSA-PSS parameters"
       and cert("pss384").field("CN") == "PSS SHA-384 Leaf")
refused("unsupported_pss", lambda: certpath.validate([der("pss384")], [der("rroot")], NOW),
        "unsupported RSA-PSS parameters with a rsa key is not supported")
refused("leaf_usage", lambda: certpath.validate([der("leaf"), sub], [root], NOW,
                                                usage=x509.KEY_CERT_SIGN),
        L + ": its keyUsage does not allow this use")
bad_sig = bytearray(der("leaf"))
bad_sig[-5] ^= 0x01
refused("tampered_signature", lambda: certpath.validate([bytes(bad_sig), sub], [root], NOW),
        L + ": its signature does not verify with the key of certificate 2 (CN=Test Sub CA")
bad_key = bytearray(der("leaf"))
k0 = lc.key[0] + 10
bad_key[k0] ^= 0x01
refused("tampered_tbs", lambda: certpath.validate([bytes(bad_key), sub], [root], NOW),
        "signature does not verify")
refused("truncated_leaf", lambda: certpath.validate([der("leaf")[:-20], sub], [root], NOW),
        "certificate 1: DER: certificate at offset 0: length ")
refused("garbled_root", lambda: certpath.validate([der("leaf"), sub], [root[:100]], NOW),
        "trusted root 1: DER: ")

# Firmware signatures (SignedUpdateFirmware): the signing certificate against
# the manufacturer root, then the signature over the file's digest.
fw = read("fw.bin")
digest = hashlib.sha256(fw).digest()
bad_digest = hashlib.sha256(fw[:-1] + bytes([fw[-1] ^ 1])).digest()
for signer, sig in (("fwsign", "fw.sig.ec"), ("fwsign_rsa", "fw.sig.rsa"),
                    ("fwsign_rsa", "fw.sig.pss")):
    c = certpath.validate([der(signer)], [der("mroot")], NOW, usage=x509.DIGITAL_SIGNATURE)[0]
    expect("firmware_" + sig, certpath.verify_data(c, digest, read(sig))
           and not certpath.verify_data(c, bad_digest, read(sig)))
expect("firmware_wrong_signer", not certpath.verify_data(cert("fwsign_rsa"), digest,
                                                         read("fw.sig.ec")))
refused("firmware_cert_of_other_hierarchy",
        lambda: certpath.validate([der("fwsign")], [root], NOW),
        "certificate 1 (CN=Firmware Signing, O=Maker): its issuer (CN=Manufacturer Root")
done()
