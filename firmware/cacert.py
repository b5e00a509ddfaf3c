# The central system's CA certificates for security profile 2, as the DER bytes
# an SSLContext takes on both runtimes (load_verify_locations(cadata=...), once
# per certificate). MicroPython's TLS reads DER only (its mbedtls is built
# without PEM) and one certificate per call, while users get PEM files, often
# a chain or a bundle: each PEM block is decoded here. The file is read a line
# at a time: a bundle of public roots can be far larger than the heap.
# context() makes the client TLS context of a link from its CA file: the
# central system's (wss://) and the MQTT broker's (mqtts://).
import binascii
import log

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
MAX_CERTS = 4       # each costs 1 to 2 KB of heap once parsed
_MAX_DER = 4096


def ders(path):
    """The DER bytes of each certificate in the file (at most MAX_CERTS).
    OSError when the file cannot be read; ValueError saying what is wrong when
    it holds no certificate or a broken one."""
    out = []
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) >= 2 and head[0] == 0x30 and 0x81 <= head[1] <= 0x83:
            # One DER certificate: a SEQUENCE with a long-form length.
            return [head + f.read(_MAX_DER)]
        f.seek(0)
        b64 = None
        for line in f:
            line = line.strip()
            if line == _BEGIN:
                b64 = []
            elif line == _END and b64 is not None:
                try:
                    der = binascii.a2b_base64(b"".join(b64))
                except ValueError:
                    raise ValueError("certificate %d is not valid base64" % (len(out) + 1))
                if der[:1] != b"\x30":
                    raise ValueError("certificate %d does not decode to a certificate"
                                     % (len(out) + 1))
                out.append(der)
                b64 = None
                if len(out) == MAX_CERTS:
                    break
            elif b64 is not None:
                b64.append(line)
                if len(b64) > _MAX_DER // 48:
                    raise ValueError("certificate %d is longer than %d bytes"
                                     % (len(out) + 1, _MAX_DER))
        if b64 is not None:
            raise ValueError("its last PEM certificate has no -----END CERTIFICATE----- line")
    if not out:
        raise ValueError("no certificate in it: PEM (-----BEGIN CERTIFICATE-----) or DER expected")
    return out


def context(ca, tag, fix, certs=None):
    """A client SSLContext that checks the server against the CA file `ca`, or
    against `certs` (DER) when given; without either, the server is not
    verified and the log says so in one line (tag: the log's tag; fix: how to
    set one). A CA that does not load leaves nothing trusted: no connection,
    never an unverified one."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca or certs:
        ctx.verify_mode = ssl.CERT_REQUIRED
        try:
            if certs is None:
                certs = ders(ca)
            if not certs:
                raise ValueError("no certificate could be read from it")
            for der in certs:
                ctx.load_verify_locations(cadata=der)
            if len(certs) == MAX_CERTS:
                log.warn(tag, "%s: only its first %d certificates are used", ca, len(certs))
        except Exception as e:
            log.error(tag, "CA certificate %s cannot be loaded: %s; set it with %s",
                      ca or "csroot.pem", e, fix)
    else:
        log.warn(tag, "TLS without a CA certificate: the server is not verified; set one "
                 "with %s", fix)
        if hasattr(ctx, "check_hostname"):
            ctx.check_hostname = False      # CPython refuses CERT_NONE before this
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
