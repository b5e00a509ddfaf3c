# RSA with SHA-256: verifying PKCS#1 v1.5 and PSS signatures (RFC 8017), and
# the private-key side for a charger that holds an RSA key (signing its
# certificate request, the DER forms mbedtls loads). Key generation is in
# rsagen.py, which only such a charger needs.
#
# A PKCS#1 v1.5 signature is checked by building the one encoding a valid
# signature of this digest can have and comparing the whole block: no parsing
# of what the signer sent, so no room for the lenient parsers that forged
# signatures have slipped through (Bleichenbacher 2006, "BERserk" 2014).
import hashlib

import der

ALG_RSA = der.oid("1.2.840.113549.1.1.1")          # rsaEncryption
RSA_SHA256 = der.oid("1.2.840.113549.1.1.11")      # sha256WithRSAEncryption
RSA_PSS = der.oid("1.2.840.113549.1.1.10")         # id-RSASSA-PSS
SHA256 = der.oid("2.16.840.1.101.3.4.2.1")         # id-sha256
MGF1 = der.oid("1.2.840.113549.1.1.8")             # id-mgf1
SIG_ALG = der.seq(RSA_SHA256, der.NULL_ELEMENT)    # AlgorithmIdentifier, NULL parameters
_KEY_ALG = der.seq(ALG_RSA, der.NULL_ELEMENT)
# DigestInfo { AlgorithmIdentifier { id-sha256, NULL }, OCTET STRING (32 bytes) }
# without the digest itself (RFC 8017 section 9.2, note 1).
_DIGEST_INFO = der.head(der.SEQUENCE, 49) + der.seq(SHA256, der.NULL_ELEMENT) + b"\x04\x20"

MIN_BITS = 2048     # the whitepaper's A00.FR.502
MAX_BITS = 4096     # bounds the work and memory an untrusted key can cost


def bit_length(n):
    """Bits of the positive int n (MicroPython's int has no bit_length)."""
    h = "%x" % n
    return (len(h) - 1) * 4 + len(bin(int(h[0], 16))) - 2


def check_public(n, e):
    """ValueError unless (n, e) is a usable public key of MIN_BITS..MAX_BITS."""
    bits = bit_length(n)
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError("RSA key of %d bits: %d to %d supported" % (bits, MIN_BITS, MAX_BITS))
    if not n & 1 or not 3 <= e < 1 << 32 or not e & 1:
        raise ValueError("RSA key: bad modulus or public exponent")


def _public_op(pub, sig, n_bytes, k):
    # sig^e mod n as k bytes, or None when sig is not an n_bytes-long number
    # below n (n_bytes: the modulus' length) or the result needs more bytes.
    n, e = pub
    if len(sig) != n_bytes:
        return None
    s = int.from_bytes(sig, "big")
    if s >= n:
        return None
    m = pow(s, e, n)
    if m >> (8 * k):
        return None
    return m.to_bytes(k, "big")


def _pkcs1_block(digest, k):
    # EMSA-PKCS1-v1_5 of a SHA-256 digest for a k-byte modulus.
    return b"\x00\x01" + b"\xff" * (k - 3 - 51) + b"\x00" + _DIGEST_INFO + digest


def verify_pkcs1(pub, digest, sig):
    """True when sig is the RSASSA-PKCS1-v1_5 signature of the SHA-256 digest
    under pub = (n, e)."""
    k = (bit_length(pub[0]) + 7) // 8
    if len(digest) != 32:
        return False
    return _public_op(pub, sig, k, k) == _pkcs1_block(digest, k)


def _mgf1(seed, n):
    out = b""
    c = 0
    while len(out) < n:
        out += hashlib.sha256(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:n]


def verify_pss(pub, digest, sig, salt_len=32):
    """True when sig is an RSASSA-PSS signature of the SHA-256 digest under
    pub = (n, e), with MGF1-SHA-256 and a salt of salt_len bytes (None: any)."""
    em_bits = bit_length(pub[0]) - 1
    k = (em_bits + 7) // 8
    em = _public_op(pub, sig, (em_bits + 8) // 8, k)
    if em is None or len(digest) != 32 or k < 66 or em[-1] != 0xbc:
        return False
    top = 8 * k - em_bits
    if em[0] >> (8 - top):
        return False
    n = k - 33
    h = em[n:n + 32]
    db = bytearray(a ^ b for a, b in zip(em[:n], _mgf1(h, n)))
    db[0] &= 0xff >> top
    i = 0
    while i < n and db[i] == 0:
        i += 1
    if i == n or db[i] != 1:
        return False
    salt = bytes(db[i + 1:])
    if salt_len is not None and len(salt) != salt_len:
        return False
    return hashlib.sha256(bytes(8) + digest + salt).digest() == h


def public_der(n, e):
    """RSAPublicKey DER (PKCS#1), the content of a certificate's key BIT STRING."""
    return der.seq(der.integer(n), der.integer(e))


def spki(pub):
    """SubjectPublicKeyInfo DER of pub = (n, e)."""
    return der.seq(_KEY_ALG, der.bit_string(public_der(pub[0], pub[1])))


def parse_public(buf, s, e):
    """(n, e) of the RSAPublicKey DER in buf[s:e], checked by check_public."""
    s1, e1 = der.expect(buf, s, e, der.SEQUENCE, "RSA public key")
    if e1 != e:
        raise ValueError("RSA public key: bytes after the key")
    n, p = der.read_uint(buf, s1, e1, "RSA modulus")
    x, p = der.read_uint(buf, p, e1, "RSA public exponent")
    if p != e1:
        raise ValueError("RSA public key: more than n and e")
    check_public(n, x)
    return n, x


class PrivateKey:
    """An RSA private key with its CRT parameters."""
    kind = "rsa"
    sig_alg = SIG_ALG

    def __init__(self, n, e, d, p, q):
        if p * q != n:
            raise ValueError("RSA private key: n is not p * q")
        self.n, self.e, self.d, self.p, self.q = n, e, d, p, q
        self.dp = d % (p - 1)
        self.dq = d % (q - 1)
        self.qinv = pow(q, p - 2, p)    # p is prime: Fermat's inverse

    def public(self):
        return self.n, self.e

    def spki(self):
        return spki((self.n, self.e))

    def sign(self, digest):
        """The RSASSA-PKCS1-v1_5 signature of a SHA-256 digest."""
        k = (bit_length(self.n) + 7) // 8
        m = int.from_bytes(_pkcs1_block(digest, k), "big")
        # Chinese remainder: two half-size exponentiations instead of one.
        m1 = pow(m, self.dp, self.p)
        m2 = pow(m, self.dq, self.q)
        s = m2 + (self.qinv * (m1 - m2) % self.p) * self.q
        # A fault in either half would let the signature factor n: check it.
        if pow(s, self.e, self.n) != m:
            raise ValueError("RSA: signature self-check failed")
        return s.to_bytes(k, "big")

    def der(self):
        """PKCS#1 RSAPrivateKey DER, which mbedtls and openssl load."""
        return der.seq(*[der.integer(v) for v in (0, self.n, self.e, self.d, self.p, self.q,
                                                   self.dp, self.dq, self.qinv)])


def load(b):
    """The key of a PKCS#1 RSAPrivateKey or a PKCS#8 PrivateKeyInfo (DER)."""
    s, e = der.expect(b, 0, len(b), der.SEQUENCE, "RSA private key")
    if e != len(b):
        raise ValueError("RSA private key: bytes after the key")
    version, p = der.read_uint(b, s, e, "RSA private key version")
    t, s2, e2 = der.tlv(b, p, e, "RSA private key")
    if version == 0 and t == der.SEQUENCE:
        if bytes(b[s2:e2]) != ALG_RSA + der.NULL_ELEMENT:
            raise ValueError("PKCS#8 key: not an RSA key")
        s3, e3 = der.expect(b, e2, e, der.OCTET_STRING, "PKCS#8 private key")
        return load(bytes(b[s3:e3]))
    if version != 0:
        raise ValueError("RSA private key: version %d, not 0 (two primes)" % version)
    v = []
    for _ in range(5):
        x, p = der.read_uint(b, p, e, "RSA private key")
        v.append(x)
    check_public(v[0], v[1])
    return PrivateKey(*v)
