# The runtime side of tools/crypto_bench.py: times the public-key operations
# of lib/ on whatever interpreter runs it (CPython, the MicroPython unix port,
# a MicroPython board or emulator, where it can be frozen into the image).
# Its inputs come from the module crypto_bench_data (written by the host side):
# LEAF, SUB, ROOT (an EC leaf below an RSA-2048 sub-CA below an EC root),
# RLEAF, RROOT (RSA-2048 leaf and root), RKEY (an RSA-2048 key, PKCS#1 DER,
# for signing), NOW, RUNS, RSA_RUNS (key generations; 0 to skip them).
# Prints "T name ms" per run, "S name value" for single figures, then DONE.
# Run as a script it starts at once; imported (frozen into an image) it waits
# for bench() to be called.
import hashlib
import time

import certpath
import csr
import ec
import ecdsa
import rsa
import rsagen
import x509
from crypto_bench_data import LEAF, NOW, RKEY, ROOT, RLEAF, RROOT, RSA_RUNS, RUNS, SUB

try:
    _ticks, _diff = time.ticks_us, time.ticks_diff
except AttributeError:
    def _ticks():
        return int(time.perf_counter() * 1000000)

    def _diff(a, b):
        return a - b


def _ms(t0):
    return _diff(_ticks(), t0) / 1000


def timed(name, fn, n):
    out = None
    for _ in range(n):
        t0 = _ticks()
        out = fn()
        print("T %s %.3f" % (name, _ms(t0)))
    return out


# Where RSA key generation spends its time: the C exponentiations of
# Miller-Rabin or the Python around them (sieve, candidates, loops).
_in_pow = [0, 0]


def _pow(a, b, m=None):
    t0 = _ticks()
    r = pow(a, b, m)
    _in_pow[0] += _diff(_ticks(), t0)
    _in_pow[1] += 1
    return r


def bench():
    digest = hashlib.sha256(b"benchmark").digest()
    ek = timed("ec_keygen", ecdsa.generate, RUNS)
    sig = timed("ec_sign", lambda: ek.sign(digest), RUNS)
    timed("ec_verify", lambda: ecdsa.verify(ek.pub, digest, sig), RUNS)
    timed("csr_ec", lambda: csr.build_pem(ek, "CP-0001", "Test CPO"), RUNS)
    rsagen.pow = _pow
    for _ in range(RSA_RUNS):
        _in_pow[0] = _in_pow[1] = 0
        t0 = _ticks()
        rsagen.generate()
        print("T rsa_keygen %.3f" % _ms(t0))
        print("T rsa_keygen_in_pow %.3f" % (_in_pow[0] / 1000))
        print("T rsa_keygen_pows %d" % _in_pow[1])
    del rsagen.pow
    rk = rsa.load(RKEY)
    rsig = timed("rsa_sign", lambda: rk.sign(digest), RUNS)
    timed("rsa_verify", lambda: rsa.verify_pkcs1(rk.public(), digest, rsig), RUNS)
    timed("csr_rsa", lambda: csr.build_pem(rk, "CP-0001", "Test CPO"), RUNS)
    timed("x509_parse", lambda: x509.Certificate(LEAF), RUNS)
    timed("chain_ec_rsa_ec", lambda: certpath.validate([LEAF, SUB], [ROOT], NOW), RUNS)
    timed("chain_rsa", lambda: certpath.validate([RLEAF], [RROOT], NOW), RUNS)
    # Costs of the primitives, for estimates on other chips.
    for line in _primitives():
        print(line)
    print("DONE")


def _primitives():
    out = []
    a, b = ec.GX, ec.GY
    t0 = _ticks()
    for _ in range(1000):
        a * b % ec.P
    out.append("S mulmod256_us %.3f" % _ms(t0))
    t0 = _ticks()
    for _ in range(1000):
        pass
    out.append("S loop_us %.3f" % _ms(t0))
    key = rsa.load(RKEY)
    for name, m in (("pow1024_ms", key.p), ("pow2048_ms", key.n)):
        t0 = _ticks()
        pow(3, m - 1, m)
        out.append("S %s %.3f" % (name, _ms(t0)))
    return out


if __name__ == "__main__":
    bench()
