# ECDSA over P-256 with SHA-256 (FIPS 186-4, SEC 1), and the P-256 key the
# charger makes for itself: generation, signing, the DER forms that mbedtls
# and certificate requests take.
#
# The nonce k of a signature is derived from the private key and the digest
# (RFC 6979), not drawn from os.urandom: a k that repeats or leans gives the
# private key away, and a board's random source is at its weakest early after
# boot (the ESP32's is only truly random while its radio runs). Deterministic
# k needs no random source at all at signing time and makes signatures
# testable against the RFC's vectors. The private scalar itself has to be
# random: it is drawn from os.urandom by rejection (redraw until 1 <= d < N),
# which keeps it uniform, where a reduction mod N would not.
import hashlib
import os

import der
import ec

ALG_EC_KEY = der.oid("1.2.840.10045.2.1")          # id-ecPublicKey
CURVE_P256 = der.oid("1.2.840.10045.3.1.7")        # prime256v1
ECDSA_SHA256 = der.oid("1.2.840.10045.4.3.2")      # ecdsa-with-SHA256
SIG_ALG = der.seq(ECDSA_SHA256)                    # its AlgorithmIdentifier (no parameters)
_KEY_ALG = der.seq(ALG_EC_KEY, CURVE_P256)


def _hmac(key, msg):
    # HMAC-SHA256 (RFC 2104) for a key of at most 64 bytes; MicroPython has no hmac.
    k = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k) + msg).digest()
    return hashlib.sha256(bytes(b ^ 0x5c for b in k) + inner).digest()


def _nonces(d, digest):
    # RFC 6979 section 3.2 for qlen = hlen = 256: candidate k values, in order.
    x = d.to_bytes(32, "big")
    h = (int.from_bytes(digest, "big") % ec.N).to_bytes(32, "big")
    v = b"\x01" * 32
    k = b"\x00" * 32
    k = _hmac(k, v + b"\x00" + x + h)
    v = _hmac(k, v)
    k = _hmac(k, v + b"\x01" + x + h)
    v = _hmac(k, v)
    while True:
        v = _hmac(k, v)
        t = int.from_bytes(v, "big")
        if 1 <= t < ec.N:
            yield t
        k = _hmac(k, v + b"\x00")
        v = _hmac(k, v)


def sign_digest(d, digest):
    """(r, s) of the SHA-256 digest (32 bytes) under the private scalar d."""
    for r in sign_steps(d, digest, 256):
        if r is not None:
            return r


def sign_steps(d, digest, bits=16):
    """sign_digest() as a generator: None after each slice of the scalar
    multiplication (ec.mul_steps), then (r, s). For callers that must not hold
    the event loop."""
    if len(digest) != 32:
        raise ValueError("ECDSA: a SHA-256 digest is 32 bytes")
    e = int.from_bytes(digest, "big")
    for k in _nonces(d, digest):
        for R in ec.mul_steps(k, ec.GX, ec.GY, bits):
            if R is None:
                yield None
        r = R[0][0] % ec.N
        if r:
            s = pow(k, ec.N - 2, ec.N) * (e + r * d) % ec.N
            if s:
                yield r, s
                return


def encode_sig(r, s):
    """The X.509 form of a signature: SEQUENCE { INTEGER r, INTEGER s }."""
    return der.seq(der.integer(r), der.integer(s))


def decode_sig(sig):
    """(r, s) of a DER ECDSA-Sig-Value; ValueError when it is not one."""
    s0, e0 = der.expect(sig, 0, len(sig), der.SEQUENCE, "ECDSA signature")
    if e0 != len(sig):
        raise ValueError("ECDSA signature: bytes after the signature")
    r, p = der.read_uint(sig, s0, e0, "ECDSA signature r")
    s, p = der.read_uint(sig, p, e0, "ECDSA signature s")
    if p != e0:
        raise ValueError("ECDSA signature: more than r and s")
    return r, s


def verify(pub, digest, sig):
    """True when sig (DER) is a valid signature of the SHA-256 digest by the
    public point pub = (x, y), which the caller took from a checked
    encoding (ec.decode_point)."""
    for r in verify_steps(pub, digest, sig, 256):
        if r is not None:
            return r[0]


def verify_steps(pub, digest, sig, bits=16):
    """verify() in slices: None after each slice, then (True or False,)."""
    try:
        r, s = decode_sig(sig)
    except ValueError:
        yield (False,)
        return
    if not (0 < r < ec.N and 0 < s < ec.N) or len(digest) != 32:
        yield (False,)
        return
    w = pow(s, ec.N - 2, ec.N)
    e = int.from_bytes(digest, "big")
    for R in ec.mul_add_steps(e * w % ec.N, r * w % ec.N, pub[0], pub[1], bits):
        if R is None:
            yield None
    R = R[0]
    yield (R is not None and R[0] % ec.N == r,)


def spki(pub):
    """SubjectPublicKeyInfo DER of the public point."""
    return der.seq(_KEY_ALG, der.bit_string(ec.encode_point(pub[0], pub[1])))


class PrivateKey:
    """A P-256 private key: d, and its public point (x, y)."""
    kind = "ec"
    sig_alg = SIG_ALG

    def __init__(self, d, pub=None):
        # pub: the public point when the caller has it (kept beside the key,
        # or computed in slices by generate_steps): one multiplication saved.
        if not 1 <= d < ec.N:
            raise ValueError("EC key: private scalar out of range")
        self.d = d
        self.pub = ec.mul_base(d) if pub is None else pub

    def public(self):
        return self.pub

    def spki(self):
        return spki(self.pub)

    def sign(self, digest):
        """The DER signature of a SHA-256 digest, as X.509 and CSRs carry it."""
        return encode_sig(*sign_digest(self.d, digest))

    def sign_steps(self, digest, bits=16):
        """sign() as a generator: None between slices, then (signature,)."""
        for rs in sign_steps(self.d, digest, bits):
            if rs is not None:
                yield (encode_sig(*rs),)
                return
            yield None

    def der(self):
        """SEC 1 ECPrivateKey DER (RFC 5915), which mbedtls and openssl load."""
        return der.seq(der.integer(1), der.octet_string(self.d.to_bytes(32, "big")),
                       der.ctx(0, CURVE_P256),
                       der.ctx(1, der.bit_string(ec.encode_point(self.pub[0], self.pub[1]))))


def generate(rand=None):
    """A new key from os.urandom (or rand(n) -> n bytes)."""
    rand = rand or os.urandom
    while True:
        d = int.from_bytes(rand(32), "big")
        if 1 <= d < ec.N:
            return PrivateKey(d)


def generate_steps(rand=None, bits=16):
    """generate() as a generator: None after each slice of the public-key
    multiplication, then (key,)."""
    rand = rand or os.urandom
    while True:
        d = int.from_bytes(rand(32), "big")
        if 1 <= d < ec.N:
            break
    for r in ec.mul_steps(d, ec.GX, ec.GY, bits):
        if r is None:
            yield None
    yield (PrivateKey(d, r[0]),)


def load(b):
    """The key of a SEC 1 ECPrivateKey or a PKCS#8 PrivateKeyInfo (DER) of a
    P-256 key. ValueError saying what is wrong otherwise."""
    s, e = der.expect(b, 0, len(b), der.SEQUENCE, "EC private key")
    if e != len(b):
        raise ValueError("EC private key: bytes after the key")
    version, p = der.read_uint(b, s, e, "EC private key version")
    if version == 0:
        # PKCS#8: the algorithm must be P-256, the key is a SEC 1 structure inside.
        a, ae = der.expect(b, p, e, der.SEQUENCE, "PKCS#8 algorithm")
        if bytes(b[a:ae]) != ALG_EC_KEY + CURVE_P256:
            raise ValueError("PKCS#8 key: not a P-256 EC key")
        s, e = der.expect(b, ae, e, der.OCTET_STRING, "PKCS#8 private key")
        return load(bytes(b[s:e]))
    if version != 1:
        raise ValueError("EC private key: version %d, not 1" % version)
    s, e2 = der.expect(b, p, e, der.OCTET_STRING, "EC private key scalar")
    key = PrivateKey(int.from_bytes(b[s:e2], "big"))
    for tag, s, e3, _ in der.items(b, e2, e, "EC private key"):
        if tag == 0xa0 and bytes(b[s:e3]) != CURVE_P256:
            raise ValueError("EC private key: not on the P-256 curve")
        if tag == 0xa1:
            bs, be = der.expect(b, s, e3, der.BIT_STRING, "EC public key")
            if ec.decode_point(b[der.bits(b, bs, be):be]) != key.pub:
                raise ValueError("EC private key: its public key does not belong to it")
    return key
