# RSA key generation on the device: two random primes of half the modulus
# size, found by a sieve over a window of odd candidates and the Miller-Rabin
# test, with e = 65537 (FIPS 186-5 appendix A.1.3 in outline: random primes,
# |p - q| and d large enough).
#
# Nearly all the time goes into the modular exponentiations of Miller-Rabin
# (one per candidate that survives the sieve): a 1024-bit candidate is prime
# with probability about 1/355 among odd numbers, and sieving out the multiples
# of the primes below 2048 leaves about 15 % of them to test, so a prime costs
# about 50 exponentiations on average, with a wide spread. The sieve works on
# small ints in a bytearray, so its Python loop is cheap beside them.
import os

import rsa

_SIEVE_LIMIT = 2048
_WINDOW = 1024          # odd candidates per random start
_ROUNDS = 5             # Miller-Rabin rounds with random bases, after base 2
_primes = None


def _small_primes():
    global _primes
    if _primes is None:
        flag = bytearray(_SIEVE_LIMIT)
        out = []
        for i in range(3, _SIEVE_LIMIT, 2):
            if not flag[i]:
                out.append(i)
                for j in range(i * i, _SIEVE_LIMIT, 2 * i):
                    flag[j] = 1
        _primes = out
    return _primes


def _rand_below(n, rand):
    # Uniform enough for a Miller-Rabin base: 64 extra bits make the modulo
    # bias negligible.
    return int.from_bytes(rand((rsa.bit_length(n) + 64) // 8), "big") % n


def miller_rabin(n, a):
    """False when the base a proves the odd n > 3 composite."""
    d = n - 1
    s = 0
    while not d & 1:
        d >>= 1
        s += 1
    x = pow(a, d, n)
    if x == 1 or x == n - 1:
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def is_probable_prime(n, rand=None, rounds=_ROUNDS):
    """Trial division by the small primes, Miller-Rabin to base 2, then
    `rounds` random bases: 5 gives an error below 2^-100 for 1024-bit
    candidates (FIPS 186-5, table B.1)."""
    if n < 2:
        return False
    for p in [2] + _small_primes():
        if n % p == 0:
            return n == p
    if n < _SIEVE_LIMIT * _SIEVE_LIMIT:
        return True
    return miller_rabin(n, 2) and _random_bases(n, rand or os.urandom, rounds)


def _random_bases(n, rand, rounds=_ROUNDS):
    for _ in range(rounds):
        if not miller_rabin(n, 2 + _rand_below(n - 3, rand)):
            return False
    return True


def _prime(bits, e, rand):
    # A random prime of exactly `bits` bits, its two top bits set (so that the
    # product of two is exactly 2 * bits long), with gcd(e, p - 1) = 1.
    top = 3 << (bits - 2)
    while True:
        base = int.from_bytes(rand(bits // 8), "big") | top | 1
        dead = bytearray(_WINDOW)
        for p in _small_primes():
            # base + 2i = 0 (mod p)  <=>  i = -base / 2 (mod p)
            i = (p - base % p) * ((p + 1) >> 1) % p
            while i < _WINDOW:
                dead[i] = 1
                i += p
        for i in range(_WINDOW):
            if dead[i]:
                continue
            c = base + 2 * i
            if c >> (bits - 2) != 3:
                break
            if (c - 1) % e and miller_rabin(c, 2) and _random_bases(c, rand):
                return c


def _inverse(a, m):
    # a^-1 mod m by the extended Euclidean algorithm (pow(a, -1, m) is
    # CPython only: MicroPython's pow silently answers 0).
    r0, r1, t0, t1 = m, a % m, 0, 1
    while r1:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        t0, t1 = t1, t0 - q * t1
    if r0 != 1:
        raise ValueError("not invertible")
    return t0 % m


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def generate(bits=2048, e=65537, rand=None):
    """A new RSA private key (rsa.PrivateKey) of `bits` bits, e = 65537."""
    if bits % 16 or bits < 1024:
        raise ValueError("RSA key size must be a multiple of 16 bits, 1024 or more")
    rand = rand or os.urandom
    half = bits // 2
    while True:
        p = _prime(half, e, rand)
        q = _prime(half, e, rand)
        # Primes too close would let Fermat's method factor n.
        if abs(p - q) >> (half - 100) == 0:
            continue
        phi = (p - 1) * (q - 1)
        lam = phi // _gcd(p - 1, q - 1)
        d = _inverse(e, lam)
        if d >> half:
            return rsa.PrivateKey(p * q, e, d, max(p, q), min(p, q))
