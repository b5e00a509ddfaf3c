# X.509 certificates (RFC 5280), read for what a charger does with them: the
# names, the validity, the public key, the CA constraints, the signature, and
# OCPP's CertificateHashData. Checking signatures and chains is certpath.py.
#
# Parsing keeps the caller's DER bytes and records offsets into them: nothing
# of the certificate is copied, and the name fields and the public key are
# decoded only when asked for. A defect anywhere raises one ValueError that
# says which field is wrong.
import hashlib

import der
import dn
import ec
import ecdsa
import rsa

# keyUsage bits (RFC 5280 4.2.1.3): bit i of the BIT STRING is 1 << i.
DIGITAL_SIGNATURE = 1 << 0
KEY_CERT_SIGN = 1 << 5

_BASIC_CONSTRAINTS = der.oid("2.5.29.19")
_KEY_USAGE = der.oid("2.5.29.15")
# Extensions read elsewhere or informational only: allowed even when critical.
_KNOWN = (der.oid("2.5.29.14"),     # subjectKeyIdentifier
          der.oid("2.5.29.35"),     # authorityKeyIdentifier
          der.oid("2.5.29.17"),     # subjectAltName
          der.oid("2.5.29.37"))     # extKeyUsage
_MAX_SERIAL = 20        # octets (RFC 5280 4.1.2.2)


def _eq(buf, s, e, const):
    return e - s == len(const) and buf[s:e] == const


def _sig_alg(buf, s, e):
    # (name, PSS salt length) of a signature AlgorithmIdentifier's content.
    t, os_, oe = der.tlv(buf, s, e, "signature algorithm")
    if t != der.OID:
        raise ValueError("certificate: signature algorithm without an OID")
    params = buf[oe:e]
    if _eq(buf, s, oe, ecdsa.ECDSA_SHA256) and oe == e:
        return "ecdsa-sha256", 0
    if _eq(buf, s, oe, rsa.RSA_SHA256) and params in (b"", der.NULL_ELEMENT):
        return "rsa-sha256", 0
    if _eq(buf, s, oe, rsa.RSA_PSS):
        salt = _pss_salt(buf, oe, e)
        if salt is not None:
            return "rsa-pss-sha256", salt
        return "unsupported RSA-PSS parameters", 0
    return "unsupported " + der.oid_str(buf, os_, oe), 0


_SHA256_IDS = (der.seq(rsa.SHA256), der.seq(rsa.SHA256, der.NULL_ELEMENT))


def _pss_salt(buf, s, e):
    # The salt length of RSASSA-PSS-params (RFC 4055; 20 when absent), or None
    # when they choose other than SHA-256 and MGF1 with SHA-256 (the defaults
    # are SHA-1, so both must be there).
    ps, pe = der.expect(buf, s, e, der.SEQUENCE, "RSA-PSS parameters")
    if pe != e:
        raise ValueError("certificate: bytes after the RSA-PSS parameters")
    hash_ok = mgf_ok = False
    salt = 20
    for tag, vs, ve, _ in der.items(buf, ps, pe, "RSA-PSS parameters"):
        if tag == 0xa0:
            hash_ok = buf[vs:ve] in _SHA256_IDS
        elif tag == 0xa1:
            mgf_ok = buf[vs:ve] in (der.seq(rsa.MGF1, i) for i in _SHA256_IDS)
        elif tag == 0xa2:
            salt = der.read_uint(buf, vs, ve, "RSA-PSS salt length")[0]
        elif tag != 0xa3 or buf[vs:ve] != der.integer(1):
            raise ValueError("certificate: unknown RSA-PSS parameter")
    return salt if hash_ok and mgf_ok else None


class Certificate:
    """One parsed certificate. Spans are (start, stop) offsets into .der:
    tbs (the signed part, whole element), issuer and subject (the Name
    elements), spki (SubjectPublicKeyInfo), key (the public key bytes: the
    BIT STRING value without its unused-bits octet), sig (the signature bytes).
    Plain fields: version, serial (int), not_before, not_after (Unix seconds),
    key_type ("ec" for P-256, "rsa", or None), sig_alg ("ecdsa-sha256",
    "rsa-sha256", "rsa-pss-sha256" or "unsupported <oid>"), pss_salt, ca (the
    basicConstraints cA flag), path_len (None: no limit), key_usage (bits, None
    when absent), unknown_critical (the OID of a critical extension this
    module does not know, or None)."""

    def __init__(self, data):
        buf = self.der = data
        s, e = der.expect(buf, 0, len(buf), der.SEQUENCE, "certificate")
        if e != len(buf):
            raise ValueError("certificate: %d bytes after its end" % (len(buf) - e))
        ts, te = der.expect(buf, s, e, der.SEQUENCE, "tbsCertificate")
        self.tbs = (s, te)
        p = self._fields(buf, ts, te)
        a, ae = der.expect(buf, te, e, der.SEQUENCE, "signatureAlgorithm")
        if buf[a:ae] != buf[self._alg[0]:self._alg[1]]:
            raise ValueError("certificate: signature algorithm differs inside and outside "
                             "tbsCertificate")
        self.sig_alg, self.pss_salt = _sig_alg(buf, a, ae)
        bs, be = der.expect(buf, ae, e, der.BIT_STRING, "signatureValue")
        self.sig = (der.bits(buf, bs, be, "signatureValue"), be)
        if be != e or p != te:
            raise ValueError("certificate: unexpected elements after its fields")

    def _fields(self, buf, p, end):
        t, s, e = der.tlv(buf, p, end, "version")
        self.version = 1
        if t == 0xa0:
            v, ve = der.read_uint(buf, s, e, "version")
            if ve != e or v not in (1, 2):
                raise ValueError("certificate: version must be 2 or 3")
            self.version = v + 1
            p = e
        s, e = der.expect(buf, p, end, der.INTEGER, "serialNumber")
        if e - s > _MAX_SERIAL + 1:
            raise ValueError("certificate: serial number longer than %d octets" % _MAX_SERIAL)
        self.serial = der.uint(buf, s, e, "serialNumber")
        s, p = der.expect(buf, e, end, der.SEQUENCE, "signature")
        self._alg = (s, p)
        s, e = der.expect(buf, p, end, der.SEQUENCE, "issuer")
        self.issuer = (p, e)
        s, p = der.expect(buf, e, end, der.SEQUENCE, "validity")
        t, vs, ve = der.tlv(buf, s, p, "notBefore")
        self.not_before = der.time(buf, t, vs, ve, "notBefore")
        t, vs, e = der.tlv(buf, ve, p, "notAfter")
        self.not_after = der.time(buf, t, vs, e, "notAfter")
        if e != p:
            raise ValueError("certificate: validity holds more than two times")
        s, e = der.expect(buf, p, end, der.SEQUENCE, "subject")
        self.subject = (p, e)
        p = self._spki(buf, e, end)
        self.ca = False
        self.path_len = self.key_usage = self.unknown_critical = None
        for t, s, e, _ in der.items(buf, p, end, "tbsCertificate"):
            if t == 0xa3 and self.version == 3:
                self._extensions(buf, s, e)
            elif t not in (0x81, 0x82):   # issuerUniqueID, subjectUniqueID: ignored
                raise ValueError("certificate: unknown field with tag 0x%02x" % t)
        return end

    def _spki(self, buf, p, end):
        s, e = der.expect(buf, p, end, der.SEQUENCE, "subjectPublicKeyInfo")
        self.spki = (p, e)
        a, ae = der.expect(buf, s, e, der.SEQUENCE, "public key algorithm")
        alg = buf[a:ae]
        if alg == ecdsa.ALG_EC_KEY + ecdsa.CURVE_P256:
            self.key_type = "ec"
        elif alg in (rsa.ALG_RSA, rsa.ALG_RSA + der.NULL_ELEMENT):
            self.key_type = "rsa"
        else:
            self.key_type = None
        ks, ke = der.expect(buf, ae, e, der.BIT_STRING, "subjectPublicKey")
        self.key = (der.bits(buf, ks, ke, "subjectPublicKey"), ke)
        if ke != e:
            raise ValueError("certificate: bytes after the public key")
        return e

    def _extensions(self, buf, s, e):
        ss, se = der.expect(buf, s, e, der.SEQUENCE, "extensions")
        if se != e:
            raise ValueError("certificate: bytes after the extensions")
        seen = []
        for t, xs, xe, _ in der.items(buf, ss, se, "extension"):
            if t != der.SEQUENCE:
                raise ValueError("certificate: an extension is not a SEQUENCE")
            t, os_, p = der.tlv(buf, xs, xe, "extension id")
            oid = bytes(buf[xs:p])
            if t != der.OID or oid in seen:
                raise ValueError("certificate: extension id missing or repeated")
            seen.append(oid)
            t, vs, ve = der.tlv(buf, p, xe, "extension")
            critical = False
            if t == der.BOOLEAN:
                critical = der.boolean(buf, vs, ve, "extension critical flag")
                t, vs, ve = der.tlv(buf, ve, xe, "extension value")
            if t != der.OCTET_STRING or ve != xe:
                raise ValueError("certificate: extension value is not an OCTET STRING")
            if oid == _BASIC_CONSTRAINTS:
                self._basic_constraints(buf, vs, ve)
            elif oid == _KEY_USAGE:
                ks, ke = der.expect(buf, vs, ve, der.BIT_STRING, "keyUsage")
                self.key_usage = der.named_bits(buf, ks, ke, "keyUsage")
            elif critical and oid not in _KNOWN and self.unknown_critical is None:
                self.unknown_critical = der.oid_str(buf, os_, p)

    def _basic_constraints(self, buf, s, e):
        bs, be = der.expect(buf, s, e, der.SEQUENCE, "basicConstraints")
        if be != e:
            raise ValueError("certificate: bytes after basicConstraints")
        p = bs
        if p < be and buf[p] == der.BOOLEAN:
            t, vs, p = der.tlv(buf, p, be, "basicConstraints cA")
            self.ca = der.boolean(buf, vs, p, "basicConstraints cA")
        if p < be:
            self.path_len, p = der.read_uint(buf, p, be, "pathLenConstraint")
        if p != be:
            raise ValueError("certificate: unexpected element in basicConstraints")

    # What callers read.

    def span(self, which):
        """Bytes of a span (memoryview: no copy)."""
        return memoryview(self.der)[which[0]:which[1]]

    def public_key(self):
        """(x, y) of a P-256 key, (n, e) of an RSA key; ValueError for others."""
        b = self.span(self.key)
        if self.key_type == "ec":
            return ec.decode_point(b)
        if self.key_type == "rsa":
            return rsa.parse_public(b, 0, len(b))
        raise ValueError("certificate %s: its key is neither P-256 nor RSA" % self.describe())

    def names(self, which=None):
        """[(attribute, value)] of the subject (or issuer) name in order."""
        s, e = which or self.subject
        return dn.decode(self.der, s, e)

    def field(self, attr, which=None):
        """The first value of one name attribute (e.g. "CN"), or None."""
        for a, v in self.names(which):
            if a == attr:
                return v
        return None

    def describe(self, which=None):
        """The subject (or issuer) name as readable text, for messages."""
        try:
            return dn.text(self.names(which))
        except ValueError:
            return "unreadable name"

    def valid_at(self, now):
        return self.not_before <= now <= self.not_after


def hash_data(cert, issuer):
    """OCPP CertificateHashData of cert, whose issuer certificate is `issuer`
    (cert itself for a root): SHA-256 of the DER issuer name and of the
    issuer's public key bytes (the BIT STRING value, as OCSP's CertID has
    them, RFC 6960 4.1.1), lower-case hex, and the serial number in hex
    without leading zeros."""
    return {"hashAlgorithm": "SHA256",
            "issuerNameHash": hashlib.sha256(cert.span(cert.issuer)).digest().hex(),
            "issuerKeyHash": hashlib.sha256(issuer.span(issuer.key)).digest().hex(),
            "serialNumber": "%x" % cert.serial}
