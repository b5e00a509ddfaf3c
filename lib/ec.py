# The NIST P-256 curve (secp256r1, SEC 2 section 2.4.2): y^2 = x^3 - 3x + b
# over the prime field of P, points of prime order N.
#
# Points are kept in Jacobian coordinates (X, Y, Z), standing for the affine
# (X/Z^2, Y/Z^3): adding and doubling then need no modular inverse, which is
# the expensive operation, and only the final result is brought back to affine
# with one inverse (Fermat: z^(P-2), a single C pow on MicroPython). Python's
# big integers do the field arithmetic; the formulas are the classic ones for
# a = -3 (Hankerson, Menezes, Vanstone, "Guide to Elliptic Curve Cryptography",
# 3.2.2). The point at infinity is any point with Z == 0.
#
# None of this runs in constant time: big-integer operations take
# data-dependent time. The charger signs only its certificate requests with
# it (rarely, and not observable by a network attacker); the signatures of
# the TLS handshake are made by mbedtls in C.
P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff
N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296
GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5

_INF = (1, 1, 0)


def on_curve(x, y):
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x + 3 * x - B) % P == 0


def decode_point(b):
    """(x, y) of an uncompressed (04 x y) or compressed (02/03 x) point;
    ValueError when it is not a point of the curve."""
    if len(b) == 65 and b[0] == 4:
        x = int.from_bytes(b[1:33], "big")
        y = int.from_bytes(b[33:65], "big")
    elif len(b) == 33 and b[0] in (2, 3):
        x = int.from_bytes(b[1:33], "big")
        if x >= P:
            raise ValueError("EC point: x out of range")
        # P = 3 mod 4, so a square root of a is a^((P+1)/4).
        y = pow((x * x * x - 3 * x + B) % P, (P + 1) // 4, P)
        if (y ^ b[0]) & 1:
            y = P - y
    else:
        raise ValueError("EC point: not a P-256 point encoding (65 or 33 bytes)")
    if not on_curve(x, y):
        raise ValueError("EC point: not on the P-256 curve")
    return x, y


def encode_point(x, y):
    """The uncompressed encoding 04 || x || y (SEC 1 section 2.3.3)."""
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _double(X, Y, Z):
    if Z == 0 or Y == 0:
        return _INF
    d = Z * Z % P                       # delta
    g = Y * Y % P                       # gamma
    b = X * g % P                       # beta
    a = 3 * (X - d) * (X + d) % P       # alpha, = 3X^2 + aZ^4 for a = -3
    X3 = (a * a - 8 * b) % P
    Z3 = ((Y + Z) * (Y + Z) - g - d) % P
    Y3 = (a * (4 * b - X3) - 8 * g * g) % P
    return X3, Y3, Z3


def _add(X1, Y1, Z1, X2, Y2, Z2):
    if Z1 == 0:
        return X2, Y2, Z2
    if Z2 == 0:
        return X1, Y1, Z1
    z1z1 = Z1 * Z1 % P
    z2z2 = Z2 * Z2 % P
    u1 = X1 * z2z2 % P
    u2 = X2 * z1z1 % P
    s1 = Y1 * Z2 * z2z2 % P
    s2 = Y2 * Z1 * z1z1 % P
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    if h == 0:
        # The same x: the same point (double it) or its negative (infinity).
        return _double(X1, Y1, Z1) if r == 0 else _INF
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    X3 = (r * r - hhh - 2 * v) % P
    Y3 = (r * (v - X3) - s1 * hhh) % P
    Z3 = Z1 * Z2 * h % P
    return X3, Y3, Z3


def _affine(X, Y, Z):
    if Z == 0:
        return None
    zi = pow(Z, P - 2, P)
    zi2 = zi * zi % P
    return X * zi2 % P, Y * zi2 * zi % P


def mul(k, x, y):
    """k * (x, y) as affine (x, y), or None for the point at infinity:
    double-and-add, 256 doublings and one addition per set bit of k.
    A table of 15 precomputed multiples (4-bit windows) halves the additions:
    20 to 40 % faster on a PC, but about 5 % on the RP2040 (0.80 against
    0.84 s, where the 256-bit arithmetic outweighs the Python around it), for
    7 KB more heap (a 32-bit build, modules frozen). The heap is scarcer."""
    for r in mul_steps(k, x, y, 256):
        if r is not None:
            return r[0]


def mul_steps(k, x, y, bits=16):
    """mul() cut in slices of `bits` bits: a generator that yields None after
    each slice and finally (point,), the result of mul(). A caller in the event
    loop awaits between slices: one multiplication takes about 0.8 s on an
    RP2040, far too long to hold the loop (the pilot, the watchdog)."""
    p = (x, y, 1)
    k %= N
    R = _INF
    for i in range(255, -1, -1):
        R = _double(*R)
        if k >> i & 1:
            R = _add(*(R + p))
        if i % bits == 0 and i:
            yield None
    yield (_affine(*R),)


def mul_base(k):
    """k * G, the public point of the private scalar k."""
    return mul(k, GX, GY)


def mul_add(u1, u2, x, y):
    """u1 * G + u2 * (x, y), or None for infinity: both scalars share one
    chain of doublings (Shamir's trick), adding G, the point or their sum
    at each bit, which is what makes ECDSA verification cost about one
    scalar multiplication and a quarter, not two."""
    for r in mul_add_steps(u1, u2, x, y, 256):
        if r is not None:
            return r[0]


def mul_add_steps(u1, u2, x, y, bits=16):
    """mul_add() in slices, as mul_steps(): None after each slice, then (point,)."""
    g = (GX, GY, 1)
    q = (x, y, 1)
    t = (None, g, q, _add(*(g + q)))
    u1 %= N
    u2 %= N
    R = _INF
    for i in range(255, -1, -1):
        R = _double(*R)
        j = (u1 >> i & 1) | (u2 >> i & 1) << 1
        if j:
            R = _add(*(R + t[j]))
        if i % bits == 0 and i:
            yield None
    yield (_affine(*R),)
