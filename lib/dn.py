# Distinguished names (X.501 Name, RFC 5280 4.1.2.4): the issuer and subject
# of certificates and certificate requests, read into [(attribute, value)] and
# written from it. Attributes go by their short names (CN, O, OU, C, ...);
# others read as their dotted OID. Comparing names is left to the bytes: the
# issuer a certificate names must be its issuer's subject byte for byte.
import der

ATTRS = ((der.oid("2.5.4.3"), "CN"), (der.oid("2.5.4.10"), "O"), (der.oid("2.5.4.11"), "OU"),
         (der.oid("2.5.4.6"), "C"), (der.oid("2.5.4.8"), "ST"), (der.oid("2.5.4.7"), "L"),
         (der.oid("2.5.4.5"), "serialNumber"), (der.oid("0.9.2342.19200300.100.1.25"), "DC"))
_MAX = 64       # characters: X.520's upper bound for CN, O, OU and friends


def decode(buf, s, e):
    """[(attribute, value)] of the Name element spanning buf[s:e], in order."""
    out = []
    ns, ne = der.expect(buf, s, e, der.SEQUENCE, "name")
    for t, rs, re, _ in der.items(buf, ns, ne, "name"):
        if t != der.SET:
            raise ValueError("name: a part is not a SET")
        for t, a, ae, _ in der.items(buf, rs, re, "name attribute"):
            t2, os_, oe = der.tlv(buf, a, ae, "attribute type")
            if t != der.SEQUENCE or t2 != der.OID:
                raise ValueError("name: an attribute is not an OID and a value")
            name = der.oid_str(buf, os_, oe)
            for o, short in ATTRS:
                if oe - a == len(o) and buf[a:oe] == o:
                    name = short
            t, vs, ve = der.tlv(buf, oe, ae, "attribute value")
            if ve != ae:
                raise ValueError("name: bytes after an attribute")
            out.append((name, der.text(buf, t, vs, ve, name)))
    return out


def text(pairs):
    """"CN=..., O=..." for messages."""
    return ", ".join("%s=%s" % av for av in pairs) or "empty name"


def encode(pairs):
    """The DER Name of [(attribute, value)] in the order given, one attribute
    per RDN: countryName (two capital letters) as PrintableString, the others
    as UTF8String, as RFC 5280 asks of new certificates."""
    rdns = []
    for attr, value in pairs:
        oid = None
        for o, short in ATTRS:
            if short == attr:
                oid = o
        if oid is None:
            raise ValueError("name: unknown attribute %r" % (attr,))
        if not value or len(value) > _MAX:
            raise ValueError("name: %s must have 1 to %d characters" % (attr, _MAX))
        if attr == "C":
            if len(value) != 2 or not ("A" <= value[0] <= "Z" and "A" <= value[1] <= "Z"):
                raise ValueError("name: C must be a two-letter country code such as DE")
            v = der.printable(value)
        else:
            v = der.utf8(value)
        rdns.append(der.set_of(der.seq(oid, v)))
    return der.seq(*rdns)
