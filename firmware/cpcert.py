"""The charge point's own key and certificate: the TLS client certificate of
security profile 3 (security whitepaper A00.FR.401-429, A02, A03).

    cc = CpCert(store, cfg, certs)        certs: firmware/certstore.CertStore
    await cc.new_request()                a new P-256 key and its CSR (PEM), or None
    cc.new_request_now()                  the same without an event loop (the REPL)
    await cc.install_async(pem_chain)     ("Accepted" | "Rejected", why); install() at once
    cc.leaf()                             the installed x509.Certificate, or None
    cc.load_into(ctx)                     the certificate and key into an SSLContext
    cc.renew_due(now)                     True when the certificate is to be renewed

The key is made here, on the charger, and never leaves it (A02.FR.05): only
the certificate request goes out. P-256 rather than RSA-2048: a P-256 key is
one scalar multiplication (0.84 s on an emulated RP2040), an RSA-2048 key is a
search for two 1024-bit primes (732 s on the same chip), and mbedtls takes an
EC key for the handshake (checked on the unix port, whose mbedtls
configuration the board ports share).

Everything is one checked file, "cpcert" (store.FILES), replaced atomically:
    {"k": [d, x, y]        the installed key (hex), "c": [base64 DER, ...] its
                           chain, leaf first;
     "p": [d, x, y]        the key of the request under way, "cn", "o" its
                           subject, "t": when it was made (Unix s)}
so a power cut leaves either the old key with the old certificate or the new
key with the new certificate, never one with the other's partner; a request
under way survives it too, so the CertificateSigned that answers it after a
restart still finds its key. The key is stored in the clear: anyone who can
read the board's flash (the USB serial REPL, a flash dump) can read it; a
board's flash is not a secure element (README, security profile 3).
"""
import binascii
import log
from compat import sleep_ms, wall, wall_known

FILE = "cpcert"
MAX_CHAIN = 4       # certificates in a CertificateSigned
SKEW_S = 3600       # a certificate valid from up to this far ahead is taken
RETRY_S = 86400     # a renewal request that got no certificate goes again after a day


def _hex(n):
    return "%064x" % n


def _key(t):
    import ecdsa
    return ecdsa.PrivateKey(int(t[0], 16), (int(t[1], 16), int(t[2], 16)))


class CpCert:
    def __init__(self, store, cfg, certs):
        self.store = store
        self.cfg = cfg
        self.certs = certs
        self.busy = False           # a key is being made
        self.on_installed = None    # fn() once a new certificate is in place
        self._leaf = None
        st = store.load(FILE, {})
        self.st = st if isinstance(st, dict) else {}

    # ---- what is installed
    def chain(self):
        """[DER] of the installed certificate and its CAs, leaf first."""
        return [binascii.a2b_base64(b) for b in self.st.get("c", ())]

    def leaf(self):
        if self._leaf is None and self.st.get("c"):
            import x509
            try:
                self._leaf = x509.Certificate(self.chain()[0])
            except ValueError as e:
                log.error("cpcert", "the installed certificate does not parse: %s", e)
        return self._leaf

    def usable(self, now=None):
        """None when an installed certificate is valid now, else why not.
        Before the clock is known (a board after a power cut, before the
        central system or NTP set it) only its presence counts: a clock at
        its embedded epoch must not keep profile 3 from connecting."""
        c = self.leaf()
        if c is None:
            return "no charge point certificate installed"
        if now is None and not wall_known():
            return None
        now = wall() if now is None else now
        # Dated a little ahead of this clock is taken, as by install_steps().
        if not c.not_before - SKEW_S <= now <= c.not_after:
            return "the charge point certificate (%s) is not valid now" % c.describe()
        return None

    def pending(self):
        return "p" in self.st

    def key_der(self):
        return _key(self.st["k"]).der()

    def load_into(self, ctx):
        """Present the installed certificate and key in the TLS handshake.
        MicroPython's mbedtls takes one DER certificate (the leaf: the
        central system must know the CAs above it) and the SEC 1 key;
        CPython takes files, written for the call and removed at once."""
        from compat import MICROPYTHON
        chain = self.chain()
        if MICROPYTHON:
            ctx.load_cert_chain(chain[0], self.key_der())
            return
        import os
        import pem
        path = self.store.path("tlsclient")
        try:
            with open(path, "w") as f:
                f.write(pem.encode(self.key_der(), "EC PRIVATE KEY"))
                for d in chain:
                    f.write(pem.encode(d))
            ctx.load_cert_chain(path)
        finally:
            os.remove(path)

    def renew_due(self, now):
        """True when the certificate ends within cert_renew_days and no
        request went in the last RETRY_S (A03.FR.02: one month before)."""
        c = self.leaf()
        if c is None or now is None or self.busy:
            return False
        if c.not_after - now > self.cfg.get("cert_renew_days") * 86400:
            return False
        return now - self.st.get("t", 0) > RETRY_S

    # ---- a new key and its request
    def subject(self):
        """(CN, O) of a request: the charge point id, unique per charger
        (A00.FR.511: its serial number; OCPP names the charger by the id in
        the URL, the identity the central system checks the CN against), and
        CpoName (A02.FR.13). ValueError when CpoName is not set."""
        o = self.cfg.get("CpoName")
        if not o:
            raise ValueError("CpoName is not set: the certificate request needs it (A02)")
        cn = self.cfg.get("charge_point_id")
        if not cn:
            raise ValueError("charge_point_id is not set")
        return cn, o

    def _steps(self):
        # A new key pair and a PKCS#10 request for it, both kept: None between
        # the slices of the two scalar multiplications, then (PEM,).
        import csr
        import ecdsa
        import pem
        cn, o = self.subject()
        for r in ecdsa.generate_steps():
            if r is None:
                yield None
        key = r[0]
        for r in csr.build_steps(key, cn, o):
            if r is None:
                yield None
        st = dict(self.st)
        st["p"] = [_hex(key.d), _hex(key.pub[0]), _hex(key.pub[1])]
        st["cn"], st["o"] = cn, o
        st["t"] = wall()
        self.store.save(FILE, st)
        self.st = st
        log.info("cpcert", "new key pair and certificate request for CN=%s, O=%s", cn, o)
        yield (pem.encode(r[0], "CERTIFICATE REQUEST"),)

    async def new_request(self):
        """A new key pair and its certificate request (PEM), the event loop
        running between the slices of the work; None when one is being made
        already. ValueError when CpoName or the id is missing."""
        if self.busy:
            return None
        self.busy = True
        try:
            for r in self._steps():
                if r is None:
                    await sleep_ms(0)
        finally:
            self.busy = False
        return r[0]

    def new_request_now(self):
        """new_request() without an event loop (the REPL): about 2 s on a board."""
        for r in self._steps():
            pass
        return r[0]

    # ---- CertificateSigned
    def install(self, text):
        """install_steps() at once (the REPL)."""
        for r in self.install_steps(text):
            pass
        return r

    async def install_async(self, text):
        """install_steps() with the event loop running between the slices."""
        for r in self.install_steps(text):
            if r is None:
                await sleep_ms(0)
        return r

    def install_steps(self, text):
        """Check a certificate chain from CertificateSigned (PEM, leaf
        first) and make it the charge point certificate. Rejected, saying
        why, unless: within CertificateSignedMaxChainSize, at most MAX_CHAIN
        certificates, the leaf for the key of the request under way (or the
        installed key), its subject the one requested, valid now, allowed to
        sign (keyUsage), and a path to a CentralSystemRootCertificate
        (A02.FR.06). A generator: None between the slices of the signature
        checks, then the answer (status, why)."""
        import certpath
        import pem
        import x509
        from firmware.certstore import CS
        most = self.cfg.get("CertificateSignedMaxChainSize")
        if len(text) > most:
            yield "Rejected", ("certificateChain of %d characters: at most %d "
                               "(CertificateSignedMaxChainSize)" % (len(text), most))
            return
        try:
            ders = pem.decode(text, limit=MAX_CHAIN)
        except ValueError as e:
            yield "Rejected", "certificateChain is not a PEM chain: %s" % e
            return
        roots = self.certs.ders(CS)
        if not roots:
            yield "Rejected", "no CentralSystemRootCertificate to check the chain against"
            return
        try:
            leaf = x509.Certificate(ders[0])
        except ValueError as e:
            yield "Rejected", "certificate 1: %s" % e
            return
        which = None
        for k in ("p", "k"):
            if k in self.st and certpath.key_matches(leaf, _key(self.st[k])):
                which = k
        if which is None:
            yield "Rejected", ("certificate 1 (%s) is not for this charge point's key%s"
                               % (leaf.describe(), "" if self.pending() else
                                  ": no certificate request is under way"))
            return
        want = (self.st.get("cn"), self.st.get("o"))
        got = (leaf.field("CN"), leaf.field("O"))
        if want[0] and got != want:
            yield "Rejected", ("certificate 1 is for CN=%s, O=%s; the request was for "
                               "CN=%s, O=%s" % (got + want))
            return
        now = wall()
        if 0 < leaf.not_before - now <= SKEW_S:
            # A02.FR.08 has the charger switch once the certificate becomes
            # valid; a CA dates its certificates at its own now, which a
            # charger's clock may trail by a little: checked at its start.
            now = leaf.not_before
        try:
            for r in certpath.validate_steps(ders, roots, now, MAX_CHAIN, most,
                                             x509.DIGITAL_SIGNATURE):
                if r is None:
                    yield None
        except ValueError as e:
            yield "Rejected", str(e)
            return
        st = dict(self.st)
        st["k"] = st.pop(which)
        st["c"] = [binascii.b2a_base64(d).decode().strip() for d in ders]
        if which == "p":
            for f in ("cn", "o"):
                st.pop(f, None)
        try:
            self.store.save(FILE, st)
        except OSError as e:
            yield "Rejected", "cannot keep the certificate on flash: %s" % e
            return
        self.st = st
        self._leaf = leaf
        log.info("cpcert", "charge point certificate installed: %s, valid to %s",
                 leaf.describe(), _iso(leaf.not_after))
        yield "Accepted", None


def _iso(t):
    from compat import iso
    return iso(t)
