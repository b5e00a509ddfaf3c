"""The charger's CA certificates (security whitepaper M03, M04, M05): the
CentralSystemRootCertificate file, the CA that security profile 2 checks the
central system's TLS certificate with, and the ManufacturerRootCertificate
file, which signed firmware must chain to (firmware/signing.py). PEM text,
each replaced atomically (store.FILES "csroot.pem", "mfroot.pem").

    certs = CertStore(store, cfg)
    certs.ders(use)                    [DER] of that type's certificates
    certs.install(use, pem)            ("Accepted" | "Rejected" | "Failed", why)
    certs.ids(use)                     [CertificateHashData]
    certs.delete(hash_data)            ("Accepted" | "NotFound" | "Failed", why)

The central system's CAs are those of the file the setting ca_cert_file names
(setup.security(2, key, ca)) and those InstallCertificate added to
csroot.pem; only the latter can be deleted over OCPP. At most MAX
certificates of each type: what the TLS code loads (firmware/cacert.py), and
CertificateStoreMaxLength in all.
"""
import log
from firmware import cacert

CS = "CentralSystemRootCertificate"
MF = "ManufacturerRootCertificate"
FILES = {CS: "csroot.pem", MF: "mfroot.pem"}
MAX = cacert.MAX_CERTS


class CertStore:
    def __init__(self, store, cfg):
        self.store = store
        self.cfg = cfg

    def _read(self, path, use):
        try:
            return cacert.ders(path)
        except OSError:
            return []
        except ValueError as e:
            log.warn("certs", "%s file %s: %s", use, path, e)
            return []

    def _own(self, use):
        return self._read(self.store.path(FILES[use]), use)

    def _setting(self, use):
        ca = self.cfg.get("ca_cert_file") if use == CS else ""
        return self._read(ca, use) if ca else []

    def ders(self, use):
        return (self._setting(use) + self._own(use))[:MAX]

    def _write(self, use, ders):
        import pem
        if not ders:
            self.store.remove(FILES[use])
            return

        def fill(f):
            n = 0
            for d in ders:
                b = pem.encode(d).encode()
                f.write(b)
                n += len(b)
            return n
        self.store.replace(FILES[use], fill)

    def install(self, use, text):
        import pem
        import x509
        from compat import wall
        try:
            der = pem.decode(text, limit=1)[0]
            c = x509.Certificate(der)
        except ValueError as e:
            return "Rejected", "not a PEM X.509 certificate: %s" % e
        if not c.ca:
            return "Rejected", "%s is not a CA certificate (basicConstraints)" % c.describe()
        if not c.valid_at(wall()):
            return "Rejected", "%s is not valid now" % c.describe()
        have = self._setting(use) + self._own(use)
        if der in have:
            return "Accepted", "%s was installed already" % c.describe()
        total = len(have) + len(self.ders(MF if use == CS else CS))
        limit = self.cfg.get("CertificateStoreMaxLength")
        if len(have) >= MAX or total >= limit:
            return "Rejected", ("no room: %d %s installed (at most %d), %d in all (at most %d)"
                                % (len(have), use, MAX, total, limit))
        try:
            self._write(use, self._own(use) + [der])
        except OSError as e:
            return "Failed", "cannot write %s: %s" % (FILES[use], e)
        log.info("certs", "%s installed: %s", use, c.describe())
        return "Accepted", None

    def _each(self, use):
        import x509
        for der in self.ders(use):
            try:
                c = x509.Certificate(der)
            except ValueError as e:
                log.warn("certs", "an installed %s does not parse: %s", use, e)
                continue
            # A root is its own issuer (whitepaper: hash data of a root).
            yield der, x509.hash_data(c, c)

    def ids(self, use):
        return [h for _d, h in self._each(use)]

    def delete(self, want):
        def norm(k, v):
            v = str(v or "").lower()
            return (v.lstrip("0") or "0") if k == "serialNumber" else v

        def same(h):
            for k in ("issuerNameHash", "issuerKeyHash", "serialNumber"):
                if norm(k, h[k]) != norm(k, want.get(k)):
                    return False
            return True
        for use in (CS, MF):
            own = self._own(use)
            for der, h in self._each(use):
                if not same(h):
                    continue
                if der not in own:
                    return "Failed", ("that %s is in %s, which the setting ca_cert_file names: "
                                      "change it at the REPL" % (use, self.cfg.get("ca_cert_file")))
                if use == CS and len(self.ders(CS)) == 1 and self.cfg.get("SecurityProfile") >= 2:
                    return "Failed", ("the last %s checks the connection to the central "
                                      "system (security profile 2)" % CS)
                own.remove(der)
                try:
                    self._write(use, own)
                except OSError as e:
                    return "Failed", "cannot write %s: %s" % (FILES[use], e)
                return "Accepted", None
        return "NotFound", None
