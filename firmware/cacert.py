# The central system's CA certificate for security profile 2, as the DER bytes
# an SSLContext takes on both runtimes (load_verify_locations(cadata=...)).
# MicroPython's TLS reads DER only (its mbedtls is built without PEM) and holds
# one certificate, while users get PEM files: a PEM file is decoded here and
# its first certificate used.
import binascii

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_MAX = 16384    # a CA certificate is 1 to 2 KB; a bundle's first one comes first


def der(path):
    """(DER bytes, certificates in the file). OSError when the file cannot be
    read, ValueError saying what is wrong when it holds no certificate."""
    with open(path, "rb") as f:
        data = f.read(_MAX)
    if data[:2] == b"\x30\x82":
        # A DER certificate: a SEQUENCE with a two-byte length.
        return data, 1
    i = data.find(_BEGIN)
    if i < 0:
        raise ValueError("no certificate in it: PEM (-----BEGIN CERTIFICATE-----) or DER expected")
    j = data.find(_END, i)
    if j < 0:
        raise ValueError("its PEM certificate has no -----END CERTIFICATE----- line")
    try:
        out = binascii.a2b_base64(data[i + len(_BEGIN):j])
    except ValueError:
        raise ValueError("its PEM certificate is not valid base64")
    if out[:1] != b"\x30":
        raise ValueError("its PEM certificate does not decode to a certificate")
    return out, data.count(_BEGIN)
