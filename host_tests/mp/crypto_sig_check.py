# lib/ec.py, lib/ecdsa.py, lib/rsa.py, lib/rsagen.py under MicroPython and
# CPython, run by test_crypto_sig.py. argv[1]: the openssl-made test PKI
# (crypto_pki.py), argv[2]: a directory for the keys and signatures made here,
# which the test then checks with openssl. Prints PASS/FAIL lines and DONE.
import hashlib
import sys

import ec
import ecdsa
import pem
import rsa
import rsagen
import x509
from crypto_cases import done, expect, refused

PKI, OUT = sys.argv[1], sys.argv[2]


def read(name):
    with open(PKI + "/" + name, "rb") as f:
        return f.read()


def write(name, data):
    with open(OUT + "/" + name, "wb") as f:
        f.write(data)


def cert(name):
    return x509.Certificate(read(name + ".der"))


MSG = b"the charger signs this" * 10
DIGEST = hashlib.sha256(MSG).digest()
OTHER = hashlib.sha256(b"something else").digest()
write("msg.bin", MSG)

# RFC 6979 appendix A.2.5, P-256 with SHA-256.
k = ecdsa.PrivateKey(0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721)
expect("rfc6979_public_key", k.pub == (
    0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6,
    0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299))
for m, r, s in ((b"sample", 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
                 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8),
                (b"test", 0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
                 0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083)):
    got = ecdsa.sign_digest(k.d, hashlib.sha256(m).digest())
    expect("rfc6979_" + str(m, "ascii"), got == (r, s), got)
    expect("rfc6979_verify_" + str(m, "ascii"),
           ecdsa.verify(k.pub, hashlib.sha256(m).digest(), ecdsa.encode_sig(r, s)))

# Curve arithmetic against its own laws.
expect("ec_order", ec.mul_base(ec.N) is None and ec.mul_base(ec.N - 1) == (ec.GX, ec.P - ec.GY))
expect("ec_mul_add", ec.mul_add(12345, 67890, k.pub[0], k.pub[1])
       == ec.mul_base((12345 + 67890 * k.d) % ec.N))
compressed = bytes([2 + (k.pub[1] & 1)]) + k.pub[0].to_bytes(32, "big")
expect("ec_compressed_point", ec.decode_point(compressed) == k.pub)
bad_point = bytearray(ec.encode_point(*k.pub))
bad_point[-1] ^= 1
refused("ec_point_off_curve", lambda: ec.decode_point(bytes(bad_point)), "not on the P-256 curve")
refused("ec_point_bad_length", lambda: ec.decode_point(b"\x04" + bytes(63)), "65 or 33 bytes")

# Key generation: uniform by rejection, never reduced.
draws = [b"\xff" * 32, bytes(32), (ec.N - 1).to_bytes(32, "big")]
calls = []


def rand(n):
    calls.append(n)
    return draws[len(calls) - 1]


g = ecdsa.generate(rand)
expect("ec_generate_rejects_out_of_range", g.d == ec.N - 1 and len(calls) == 3, calls)
gen = ecdsa.generate()
sig = gen.sign(DIGEST)
expect("ec_sign_verify", ecdsa.verify(gen.public(), DIGEST, sig))
expect("ec_wrong_digest", not ecdsa.verify(gen.public(), OTHER, sig))
expect("ec_other_key", not ecdsa.verify(k.pub, DIGEST, sig))
tampered = bytearray(sig)
tampered[-3] ^= 0x40
expect("ec_tampered_signature", not ecdsa.verify(gen.public(), DIGEST, bytes(tampered)))
r, s = ecdsa.decode_sig(sig)
expect("ec_bad_encodings", not any(ecdsa.verify(gen.public(), DIGEST, b) for b in (
    sig + b"\x00", sig[:-1], ecdsa.encode_sig(r, 0), ecdsa.encode_sig(0, s),
    ecdsa.encode_sig(r, s + ec.N), ecdsa.encode_sig(r + ec.N, s), b"", b"\x30\x00")))
expect("ec_key_der_round_trip", ecdsa.load(gen.der()).d == gen.d)
write("ec_gen.key.der", gen.der())
write("ec_gen.spki.der", gen.spki())
write("ec_gen.sig", sig)

# Keys openssl made: SEC 1 DER and PKCS#8 PEM, and their certificate's key.
root = cert("root")
sec1 = ecdsa.load(read("root.key.der"))
pkcs8 = ecdsa.load(pem.decode(read("root.key"), "PRIVATE KEY")[0])
expect("ec_load_openssl_keys", sec1.d == pkcs8.d and sec1.public() == root.public_key())
write("ec_openssl_key.sig", sec1.sign(DIGEST))
refused("ec_load_rsa_key_refused", lambda: ecdsa.load(pem.decode(read("sub.key"), "PRIVATE KEY")[0]),
        "not a P-256 EC key")
fw_digest = hashlib.sha256(read("fw.bin")).digest()
expect("ec_verify_openssl_signature", ecdsa.verify(cert("fwsign").public_key(), fw_digest,
                                                   read("fw.sig.ec")))

# RSA: openssl's signatures, PKCS#1 v1.5 and PSS.
rpub = cert("fwsign_rsa").public_key()
expect("rsa_pkcs1_openssl", rsa.verify_pkcs1(rpub, fw_digest, read("fw.sig.rsa")))
expect("rsa_pkcs1_wrong_digest", not rsa.verify_pkcs1(rpub, DIGEST, read("fw.sig.rsa")))
expect("rsa_pss_openssl", rsa.verify_pss(rpub, fw_digest, read("fw.sig.pss"))
       and rsa.verify_pss(rpub, fw_digest, read("fw.sig.pss"), None))
expect("rsa_pss_salt_length_checked", not rsa.verify_pss(rpub, fw_digest, read("fw.sig.pss"), 20))
expect("rsa_pss_is_not_pkcs1", not rsa.verify_pkcs1(rpub, fw_digest, read("fw.sig.pss"))
       and not rsa.verify_pss(rpub, fw_digest, read("fw.sig.rsa"), None))

# PKCS#1 v1.5 is checked as the one exact block: near misses, each made into
# a "signature" with the private key, are refused.
okey = rsa.load(read("sub.key.der"))
expect("rsa_load_openssl_keys", okey.d == rsa.load(pem.decode(read("sub.key"), "PRIVATE KEY")[0]).d
       and okey.public() == cert("sub").public_key())
kb = 256
info_null = rsa._DIGEST_INFO
info_no_null = b"\x30\x2f\x30\x0b" + rsa.SHA256 + b"\x04\x20"


def raw_sign(block):
    return pow(int.from_bytes(block, "big"), okey.d, okey.n).to_bytes(kb, "big")


def block(info, digest, ps=kb - 3 - 51, head=b"\x00\x01", fill=b"\xff", tail=b""):
    return head + fill * ps + b"\x00" + info + digest + tail


expect("rsa_exact_block_accepted", rsa.verify_pkcs1(okey.public(), DIGEST,
                                                    raw_sign(block(info_null, DIGEST))))
near = [("no_null", block(info_no_null, DIGEST, kb - 3 - 49)),
        ("block_type_2", block(info_null, DIGEST, head=b"\x00\x02")),
        ("padding_not_ff", block(info_null, DIGEST, fill=b"\xfe")),
        ("garbage_after", block(info_null, DIGEST, kb - 3 - 51 - 4, tail=b"\x00" * 4)),
        ("other_digest", block(info_null, OTHER))]
for label, b in near:
    expect("rsa_near_miss_" + label, len(b) == kb
           and not rsa.verify_pkcs1(okey.public(), DIGEST, raw_sign(b)), len(b))
expect("rsa_signature_length", not rsa.verify_pkcs1(okey.public(), DIGEST,
                                                     b"\x00" + okey.sign(DIGEST)[1:] + b"\x00"))
expect("rsa_signature_above_n", not rsa.verify_pkcs1(okey.public(), DIGEST,
                                                      (okey.n + 1).to_bytes(kb, "big")))
write("rsa_openssl_key.sig", okey.sign(DIGEST))
refused("rsa_small_key_refused", lambda: rsa.check_public((1 << 1023) + 1, 65537), "1024 bits")
refused("rsa_even_exponent_refused", lambda: rsa.check_public((1 << 2047) + 1, 65536),
        "public exponent")

# Primality and key generation.
expect("primes_small", [n for n in range(60) if rsagen.is_probable_prime(n)]
       == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59])
# 2557 * 5113 * 7669 fools Fermat's test for every base prime to it, and its
# factors are beyond the trial division: Miller-Rabin must catch it.
big_carmichael = 100264053529
expect("primes_carmichael", pow(2, big_carmichael - 1, big_carmichael) == 1
       and not any(rsagen.is_probable_prime(n) for n in (561, 41041, 825265, big_carmichael)))
expect("miller_rabin_strong_pseudoprime", rsagen.miller_rabin(2047, 2)
       and not rsagen.miller_rabin(2047, 3))
m127, m521 = (1 << 127) - 1, (1 << 521) - 1
expect("primes_mersenne", rsagen.is_probable_prime(m127) and rsagen.is_probable_prime(m521)
       and not rsagen.is_probable_prime(m127 * ((1 << 61) - 1))
       and not rsagen.is_probable_prime((1 << 128) + 1))
rk = rsagen.generate()
expect("rsa_generate", rsa.bit_length(rk.n) == 2048 and rk.e == 65537 and rk.p * rk.q == rk.n
       and rk.p != rk.q and rsagen.is_probable_prime(rk.p) and rsagen.is_probable_prime(rk.q),
       rsa.bit_length(rk.n))
rsig = rk.sign(DIGEST)
expect("rsa_sign_verify", rsa.verify_pkcs1(rk.public(), DIGEST, rsig)
       and not rsa.verify_pkcs1(rk.public(), OTHER, rsig))
expect("rsa_key_der_round_trip", rsa.load(rk.der()).d == rk.d)
write("rsa_gen.key.der", rk.der())
write("rsa_gen.spki.der", rk.spki())
write("rsa_gen.sig", rsig)
done()
