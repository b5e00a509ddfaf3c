# Garbled certificates through everything a charger does with one, under
# MicroPython and CPython (test_crypto_x509.py). argv[1]: the issuer
# certificate (DER), argv[2]: a file of one hex certificate per line. Prints
# one verdict per line - "OK ..." or "ERR <ValueError message>" - and any other
# exception as "CRASH <type>: <message>", which the test refuses. DONE n.
import sys

import certpath
import x509


def verdict(b, issuer):
    try:
        c = x509.Certificate(b)
        subject = c.names()
        names = c.names(c.issuer)
        x509.hash_data(c, c)
        signed = certpath.signed_by(c, issuer)
        c.public_key()
        return "OK %x %d %d %s" % (c.serial, len(subject), len(names), signed)
    except ValueError as e:
        return "ERR " + str(e)
    except Exception as e:
        return "CRASH %s: %s" % (type(e).__name__, e)


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        issuer = x509.Certificate(f.read())
    n = 0
    with open(sys.argv[2]) as f:
        for line in f:
            print(verdict(bytes.fromhex(line.strip()), issuer))
            n += 1
    print("DONE %d" % n)
