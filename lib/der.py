# DER, the distinguished encoding of ASN.1, in the small: enough to read
# certificates and keys and to build keys and certificate requests.
#
# Reading walks tag-length-value elements by offsets into the caller's bytes
# (or memoryview): nothing is copied and no tree is built, so a 1.5 KB
# certificate costs its own bytes plus a few small integers. Every read is
# bounded by an end offset the caller got from the enclosing element, and every
# defect - truncation, a length past its parent, an encoding DER forbids - is
# one ValueError that names the offset, never an IndexError.
#
# Writing returns bytes; the parts are small (keys, names, a request of a few
# hundred bytes), so plain concatenation is the simplest thing that works.
from compat import parse_iso

# Universal tags (class universal, the constructed bit where DER requires it).
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0c
PRINTABLE_STRING = 0x13
T61_STRING = 0x14
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
VISIBLE_STRING = 0x1a
BMP_STRING = 0x1e
SEQUENCE = 0x30
SET = 0x31

_MAX_LEN_BYTES = 3      # 16 MB: far beyond anything a charger parses


def _err(what, pos, msg):
    return ValueError("DER: %s at offset %d: %s" % (what, pos, msg))


def tlv(buf, pos, end, what="element"):
    """(tag, start, stop) of the element beginning at buf[pos], which must end
    by `end`: its tag byte and the span of its value. `what` names the field in
    the error message."""
    if end > len(buf):
        end = len(buf)
    if pos + 2 > end:
        raise _err(what, pos, "truncated")
    tag = buf[pos]
    if tag & 0x1f == 0x1f:
        raise _err(what, pos, "multi-byte tag 0x%02x" % tag)
    n = buf[pos + 1]
    p = pos + 2
    if n & 0x80:
        k = n & 0x7f
        if k == 0:
            raise _err(what, pos, "indefinite length (not DER)")
        if k > _MAX_LEN_BYTES:
            raise _err(what, pos, "length of %d bytes" % k)
        if p + k > end:
            raise _err(what, pos, "truncated length")
        n = 0
        for i in range(p, p + k):
            n = (n << 8) | buf[i]
        if n < 0x80 or buf[p] == 0:
            raise _err(what, pos, "length not in its shortest form (not DER)")
        p += k
    if n > end - p:
        raise _err(what, pos, "length %d runs past the end (%d bytes left)" % (n, end - p))
    return tag, p, p + n


def expect(buf, pos, end, tag, what):
    """(start, stop) of the value of the element at buf[pos], which must carry
    `tag`."""
    t, s, e = tlv(buf, pos, end, what)
    if t != tag:
        raise _err(what, pos, "tag 0x%02x where 0x%02x belongs" % (t, tag))
    return s, e


def items(buf, start, stop, what="element"):
    """Yields (tag, start, stop, pos) for each element inside [start, stop),
    pos being where the element's header begins."""
    pos = start
    while pos < stop:
        t, s, e = tlv(buf, pos, stop, what)
        yield t, s, e, pos
        pos = e


def uint(buf, s, e, what="INTEGER"):
    """The non-negative INTEGER whose value spans buf[s:e]."""
    if s >= e:
        raise _err(what, s, "empty INTEGER")
    if buf[s] & 0x80:
        raise _err(what, s, "negative INTEGER")
    if buf[s] == 0 and e - s > 1 and not buf[s + 1] & 0x80:
        raise _err(what, s, "INTEGER with a superfluous leading zero (not DER)")
    return int.from_bytes(buf[s:e], "big")


def read_uint(buf, pos, end, what):
    """(value, stop) of the INTEGER element at buf[pos]."""
    s, e = expect(buf, pos, end, INTEGER, what)
    return uint(buf, s, e, what), e


def bits(buf, s, e, what="BIT STRING"):
    """Start of the bytes of a BIT STRING value spanning buf[s:e] that has no
    unused bits (keys and signatures are whole bytes)."""
    if s >= e:
        raise _err(what, s, "empty BIT STRING")
    if buf[s] != 0:
        raise _err(what, s, "%d unused bits where whole bytes belong" % buf[s])
    return s + 1


def named_bits(buf, s, e, what="BIT STRING"):
    """A BIT STRING of flags (keyUsage) as an int: named bit i, the i-th bit
    from the most significant bit of the first byte, is 1 << i."""
    if s >= e or buf[s] > 7 or (e - s == 1 and buf[s]):
        raise _err(what, s, "bad BIT STRING")
    v = 0
    for i in range(s + 1, e):
        b = buf[i]
        for j in range(8):
            if b & (0x80 >> j):
                v |= 1 << ((i - s - 1) * 8 + j)
    return v


def boolean(buf, s, e, what="BOOLEAN"):
    if e - s != 1 or buf[s] not in (0, 0xff):
        raise _err(what, s, "BOOLEAN must be one byte, 0x00 or 0xff")
    return buf[s] == 0xff


def oid_str(buf, s, e):
    """Dotted text of an OBJECT IDENTIFIER value, for messages and names."""
    out = []
    v = 0
    for i in range(s, e):
        v = (v << 7) | (buf[i] & 0x7f)
        if not buf[i] & 0x80:
            if not out:
                first = min(v // 40, 2)
                out.append(str(first))
                v -= first * 40
            out.append(str(v))
            v = 0
    return ".".join(out) if out else "?"


def text(buf, tag, s, e, what="string"):
    """A directory string (UTF8String, PrintableString, IA5String, T61String,
    VisibleString, BMPString) as str."""
    if tag == BMP_STRING:
        if (e - s) & 1:
            raise _err(what, s, "BMPString of odd length")
        return "".join(chr(buf[i] << 8 | buf[i + 1]) for i in range(s, e, 2))
    if tag not in (UTF8_STRING, PRINTABLE_STRING, IA5_STRING, T61_STRING, VISIBLE_STRING):
        raise _err(what, s, "tag 0x%02x is not a string" % tag)
    try:
        return str(bytes(buf[s:e]), "utf-8")
    except UnicodeError:
        raise _err(what, s, "string is not UTF-8")


def time(buf, tag, s, e, what="time"):
    """Unix seconds of a UTCTime (YYMMDDHHMMSSZ, 1950 to 2049) or a
    GeneralizedTime (YYYYMMDDHHMMSSZ), the two forms RFC 5280 allows."""
    n = e - s
    if tag == UTC_TIME and n == 13:
        yy = buf[s] * 10 + buf[s + 1] - 528    # 528 = 11 * ord("0")
        century = "19" if 50 <= yy <= 99 else "20"
    elif tag == GENERALIZED_TIME and n == 15:
        century = ""
    else:
        raise _err(what, s, "not a UTCTime or GeneralizedTime in DER form")
    digits = bytes(buf[s:e - 1])
    if buf[e - 1] != 0x5a or not all(0x30 <= c <= 0x39 for c in digits):
        raise _err(what, s, "not a UTCTime or GeneralizedTime in DER form")
    d = century + str(digits, "ascii")
    try:
        return parse_iso("%s-%s-%sT%s:%s:%sZ" % (d[0:4], d[4:6], d[6:8], d[8:10], d[10:12],
                                                 d[12:14]))
    except ValueError:
        raise _err(what, s, "date out of range: " + d)


# Writing.

def head(tag, n):
    """The tag and length octets of an element whose value is n bytes long."""
    if n < 0x80:
        return bytes((tag, n))
    if n < 0x100:
        return bytes((tag, 0x81, n))
    if n < 0x10000:
        return bytes((tag, 0x82, n >> 8, n & 0xff))
    return bytes((tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff))


def enc(tag, value):
    return head(tag, len(value)) + value


def seq(*parts):
    return enc(SEQUENCE, b"".join(parts))


def set_of(*parts):
    # DER orders the members of a SET OF by their encodings.
    return enc(SET, b"".join(sorted(parts)))


def ctx(n, value, constructed=True):
    """A context-specific [n] element (EXPLICIT when constructed)."""
    return enc((0xa0 if constructed else 0x80) | n, value)


def integer(v):
    """A non-negative INTEGER."""
    if v < 0:
        raise ValueError("DER: negative INTEGER not supported")
    b = v.to_bytes(int_len(v), "big")
    return enc(INTEGER, b"\x00" + b if b[0] & 0x80 else b)


def int_len(v):
    """Bytes the non-negative int v needs (at least one)."""
    return (len("%x" % v) + 1) // 2


def bit_string(value):
    return enc(BIT_STRING, b"\x00" + value)


def octet_string(value):
    return enc(OCTET_STRING, value)


def oid(dotted):
    """An OBJECT IDENTIFIER element from its dotted text."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise ValueError("DER: bad OID " + dotted)
    out = bytearray()
    for v in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [v & 0x7f]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7f))
            v >>= 7
        out.extend(bytes(reversed(chunk)))
    return enc(OID, bytes(out))


_PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"


def printable(s):
    """A PrintableString; ValueError for a character it cannot hold."""
    for c in s:
        if c not in _PRINTABLE:
            raise ValueError("DER: %r cannot be a PrintableString" % (s,))
    return enc(PRINTABLE_STRING, s.encode())


def utf8(s):
    return enc(UTF8_STRING, s.encode())


NULL_ELEMENT = b"\x05\x00"
