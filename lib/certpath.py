# Signatures made with a certificate's key, and certification paths (RFC 5280
# section 6, the part a charger needs): a leaf certificate, the intermediate
# certificates sent with it and the roots the charger trusts.
#
# Checked on every link: the issuer's subject equals the certificate's issuer
# (byte for byte, as the issuer wrote it), the signature, the validity at the
# given time, that the issuer is a CA (basicConstraints cA, and keyCertSign
# when keyUsage is present), the issuer's path length limit, and that no
# critical extension is left unread. Revocation (CRL, OCSP) is not checked:
# the whitepaper leaves it to the central system (section 2.6.3).
# Limits on the number and total size of certificates bound the work and the
# memory an incoming chain can cost before anything is parsed.
import hashlib

import ecdsa
import rsa
import x509
from compat import iso


def _verify_steps(key_type, pub, alg, salt, digest, sig):
    # None between the slices of an EC verification, then (result,); RSA
    # verifies at once (a public exponent of 65537 is 17 multiplications).
    if alg == "ecdsa-sha256" and key_type == "ec":
        for r in ecdsa.verify_steps(pub, digest, sig):
            yield r
        return
    if alg == "rsa-sha256" and key_type == "rsa":
        yield (rsa.verify_pkcs1(pub, digest, sig),)
        return
    if alg == "rsa-pss-sha256" and key_type == "rsa":
        yield (rsa.verify_pss(pub, digest, sig, salt),)
        return
    raise ValueError("signature algorithm %s with a %s key is not supported"
                     % (alg, key_type or "unknown"))


def _last(steps):
    for r in steps:
        if r is not None:
            return r[0]


def signed_by(cert, issuer):
    """True when issuer's key made cert's signature; ValueError when the
    algorithm or the issuer's key is not one this module handles."""
    return _last(_signed_by_steps(cert, issuer))


def _signed_by_steps(cert, issuer):
    digest = hashlib.sha256(cert.span(cert.tbs)).digest()
    return _verify_steps(issuer.key_type, issuer.public_key(), cert.sig_alg, cert.pss_salt,
                         digest, cert.span(cert.sig))


def verify_data(cert, digest, sig):
    """True when sig is a signature of the SHA-256 digest by cert's key: the
    firmware signature of SignedUpdateFirmware. For an EC key, ECDSA (DER);
    for an RSA key, PKCS#1 v1.5 or PSS (the whitepaper's L01.FR.04 names
    RSA-PSS, most signing tools make PKCS#1 v1.5)."""
    pub = cert.public_key()
    if cert.key_type == "ec":
        return ecdsa.verify(pub, digest, sig)
    return rsa.verify_pkcs1(pub, digest, sig) or rsa.verify_pss(pub, digest, sig, None)


def key_matches(cert, key):
    """True when the certificate carries the public key of this private key
    (ecdsa.PrivateKey or rsa.PrivateKey)."""
    try:
        return cert.key_type == key.kind and cert.public_key() == key.public()
    except ValueError:
        return False


def _load(items, what):
    out = []
    for i, c in enumerate(items):
        if isinstance(c, x509.Certificate):
            out.append(c)
            continue
        try:
            out.append(x509.Certificate(c))
        except ValueError as e:
            raise ValueError("%s %d: %s" % (what, i + 1, e))
    return out


def validate(chain, roots, now, max_certs=4, max_bytes=8000, usage=None, key=None):
    """validate_steps() at once: the path, or ValueError."""
    return _last(validate_steps(chain, roots, now, max_certs, max_bytes, usage, key))


def validate_steps(chain, roots, now, max_certs=4, max_bytes=8000, usage=None, key=None):
    """Checks the certification path from chain[0], the leaf, through the
    other certificates of the chain (intermediates, in any order) to one of
    the trusted roots, at the Unix time `now`. chain and roots hold DER bytes
    or x509.Certificate objects; a root may be repeated at the end of the
    chain. usage: keyUsage bits the leaf must allow when it has keyUsage
    (e.g. x509.DIGITAL_SIGNATURE); key: a private key whose public key the
    leaf must carry (the charger's own certificate). A generator: None
    between the slices of each EC signature check (for callers in the event
    loop), then (path,), the path [leaf, ..., root]; raises one ValueError
    saying which certificate fails and why."""
    if not chain:
        raise ValueError("chain: no certificate")
    if len(chain) > max_certs:
        raise ValueError("chain of %d certificates: at most %d accepted" % (len(chain), max_certs))
    size = sum(len(c.der) if isinstance(c, x509.Certificate) else len(c) for c in chain)
    if size > max_bytes:
        raise ValueError("chain of %d bytes: at most %d accepted" % (size, max_bytes))
    certs = _load(chain, "certificate")
    anchors = _load(roots, "trusted root")
    leaf = certs[0]
    if usage and leaf.key_usage is not None and not leaf.key_usage & usage:
        raise ValueError("certificate 1 (%s): its keyUsage does not allow this use"
                         % leaf.describe())
    if key is not None and not key_matches(leaf, key):
        raise ValueError("certificate 1 (%s): it is for another public key than this one"
                         % leaf.describe())
    path = [leaf]
    cur = leaf
    left = list(range(1, len(certs)))
    where = "certificate 1 (%s)" % leaf.describe()
    while True:
        _check_alone(cur, where, now)
        name = cur.span(cur.issuer)
        named = [r for r in anchors if r.span(r.subject) == name]
        for r in named:
            rwhere = "trusted root (%s)" % r.describe()
            for ok in _signed(cur, where, r, rwhere):
                if ok is None:
                    yield None
            if ok[0]:
                _check_alone(r, rwhere, now)
                _check_issuer(r, len(path) - 1, rwhere)
                path.append(r)
                yield (path,)
                return
        nxt = None
        for i in left:
            if certs[i].span(certs[i].subject) == name:
                nxt = i
                break
        if nxt is None:
            if named:
                raise ValueError("%s: its signature does not verify with the key of %s"
                                 % (where, rwhere))
            raise ValueError("%s: its issuer (%s) is neither in the chain nor a trusted root"
                             % (where, cur.describe(cur.issuer)))
        issuer = certs[nxt]
        iwhere = "certificate %d (%s)" % (nxt + 1, issuer.describe())
        _check_issuer(issuer, len(path) - 1, iwhere)
        for ok in _signed(cur, where, issuer, iwhere):
            if ok is None:
                yield None
        if not ok[0]:
            raise ValueError("%s: its signature does not verify with the key of %s"
                             % (where, iwhere))
        left.remove(nxt)
        path.append(issuer)
        cur, where = issuer, iwhere


def _signed(cert, where, issuer, iwhere):
    try:
        for r in _signed_by_steps(cert, issuer):
            yield r
    except ValueError as e:
        raise ValueError("%s, signed by %s: %s" % (where, iwhere, e))


def _check_alone(cert, where, now):
    # What a certificate must satisfy whatever its place.
    if now < cert.not_before:
        raise ValueError("%s: not valid before %s" % (where, iso(cert.not_before)))
    if now > cert.not_after:
        raise ValueError("%s: expired at %s" % (where, iso(cert.not_after)))
    if cert.unknown_critical:
        raise ValueError("%s: unsupported critical extension %s" % (where, cert.unknown_critical))


def _check_issuer(cert, below, where):
    # What an issuer must satisfy; `below` is the number of intermediate
    # certificates between it and the leaf.
    if not cert.ca:
        raise ValueError("%s: issues certificates but is not a CA (basicConstraints)" % where)
    if cert.key_usage is not None and not cert.key_usage & x509.KEY_CERT_SIGN:
        raise ValueError("%s: its keyUsage does not allow signing certificates" % where)
    if cert.path_len is not None and below > cert.path_len:
        raise ValueError("%s: path length limit %d, %d intermediate certificates below it"
                         % (where, cert.path_len, below))
