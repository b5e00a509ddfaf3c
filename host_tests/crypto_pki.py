"""Test certificates and keys made with the openssl command line, for the
crypto tests: a charge point operator hierarchy (EC root, RSA sub-CA with
pathlen 0, EC leaf), an RSA root with PKCS#1 v1.5 and PSS signed leaves, a
manufacturer root with firmware signing certificates and signatures, and the
broken cases (signatures with SHA-384, a non-CA intermediate, an intermediate without keyCertSign, a
path too long for a pathlen, an impostor root with the root's name, an unknown
critical extension, an intermediate and a root that expire before their leaf,
a chain of six). Every certificate is written as DER (NAME.der) and PEM (NAME.pem), every
key as PEM (NAME.key) and DER (NAME.key.der)."""
import calendar
import os
import shutil
import subprocess
import time

import pytest

CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
LEAF_EXT = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=clientAuth\n")


def openssl(*args, data=None):
    p = subprocess.run(["openssl"] + [str(a) for a in args], input=data, capture_output=True,
                       timeout=60)
    if p.returncode:
        raise RuntimeError("openssl %s: %s" % (" ".join(map(str, args)), p.stderr.decode()))
    return p.stdout


def openssl_time(text):
    """Unix seconds of a date as openssl prints it (notBefore=...)."""
    return calendar.timegm(time.strptime(text.strip(), "%b %d %H:%M:%S %Y GMT"))


def need_openssl():
    if not shutil.which("openssl"):
        pytest.skip("the openssl command is needed to make test certificates")


class Pki:
    def __init__(self, d):
        self.d = str(d)

    def path(self, name):
        return os.path.join(self.d, name)

    def key(self, name, kind="ec"):
        """A new key NAME.key (PEM, PKCS#8) and NAME.key.der (SEC 1 or PKCS#1)."""
        k = self.path(name + ".key")
        if kind == "ec":
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", k)
            openssl("ec", "-in", k, "-outform", "DER", "-out", k + ".der")
        else:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k)
            openssl("rsa", "-in", k, "-traditional", "-outform", "DER", "-out", k + ".der")
        return k

    def _finish(self, name):
        openssl("x509", "-in", self.path(name + ".pem"), "-outform", "DER",
                "-out", self.path(name + ".der"))

    def root(self, name, subj, kind="ec", ext=CA_EXT, days=30):
        key = self.key(name, kind)
        extfile = self._ext(name, ext)
        openssl("req", "-x509", "-new", "-key", key, "-out", self.path(name + ".pem"),
                "-days", days, "-subj", subj, "-config", extfile, "-extensions", "x")
        self._finish(name)

    def _ext(self, name, ext):
        p = self.path(name + ".cnf")
        with open(p, "w") as f:
            f.write("[req]\ndistinguished_name=dn\n[dn]\n[x]\n" + ext)
        return p

    def issue(self, name, subj, ca, kind="ec", ext=LEAF_EXT, days=30, csr=None, sigopt=(),
              md="sha256"):
        """NAME.pem signed by the CA named ca, for a new key or the given CSR."""
        if csr is None:
            key = self.key(name, kind)
            csr = self.path(name + ".csr")
            openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
        extfile = self._ext(name, ext)
        args = ["x509", "-req", "-in", csr, "-CA", self.path(ca + ".pem"),
                "-CAkey", self.path(ca + ".key"), "-CAcreateserial", "-days", days,
                "-" + md, "-extfile", extfile, "-extensions", "x",
                "-out", self.path(name + ".pem")]
        for o in sigopt:
            args += ["-sigopt", o]
        openssl(*args)
        self._finish(name)

    def sign_file(self, data_name, key, out, sigopt=()):
        args = ["dgst", "-sha256", "-sign", self.path(key + ".key"), "-out", self.path(out)]
        for o in sigopt:
            args += ["-sigopt", o]
        openssl(*(args + [self.path(data_name)]))


PSS = ("rsa_padding_mode:pss", "rsa_pss_saltlen:32", "rsa_mgf1_md:sha256")
PSS384 = ("rsa_padding_mode:pss", "rsa_pss_saltlen:48", "rsa_mgf1_md:sha384")


def hierarchies(k):
    """root (EC) > sub (RSA-2048, pathlen 0) > leaf (EC, CN=CP-0001), and
    rroot (RSA-2048) > rleaf (RSA-2048)."""
    k.root("root", "/CN=Test Root/O=Test CPO")
    k.issue("sub", "/CN=Test Sub CA/O=Test CPO", "root", "rsa",
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n")
    k.issue("leaf", "/C=DE/O=Test CPO/CN=CP-0001", "sub")
    k.root("rroot", "/CN=RSA Root", "rsa")
    k.issue("rleaf", "/CN=RSA Leaf", "rroot", "rsa")


def profile3(k, cpo="Test CPO"):
    """The central system's side of security profile 3: a root (ca) that
    signed the server certificate (srv, for 127.0.0.1) and a CPO sub-CA
    (cpo) that signs the charge points' requests; clients.pem holds both,
    for checking client certificates; and an unrelated root (other)."""
    k.root("ca", "/CN=SP3 Test Root/O=Test CSMS", days=3650)
    k.issue("srv", "/CN=127.0.0.1", "ca", ext="basicConstraints=critical,CA:FALSE\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n", days=30)
    k.issue("cpo", "/CN=SP3 CPO Sub-CA/O=" + cpo, "ca", ext=CA_EXT, days=3650)
    k.root("other", "/CN=Other CA", days=3650)
    with open(k.path("clients.pem"), "w") as f:
        for n in ("ca", "cpo"):
            with open(k.path(n + ".pem")) as c:
                f.write(c.read())
    return k


def make(d):
    """Every certificate, key and signature of the module docstring, in d."""
    k = Pki(d)
    hierarchies(k)
    k.issue("pss", "/CN=PSS Leaf", "rroot", "ec", sigopt=PSS)
    k.issue("sha384", "/CN=SHA-384 Leaf", "root", md="sha384")
    k.issue("pss384", "/CN=PSS SHA-384 Leaf", "rroot", sigopt=PSS384, md="sha384")
    k.root("impostor", "/CN=Test Root/O=Test CPO")
    k.root("other", "/CN=Other CA")
    k.issue("nonca", "/CN=Not A CA", "root", "ec", LEAF_EXT)
    k.issue("leaf_nonca", "/CN=Under Not A CA", "nonca")
    k.issue("noks", "/CN=No keyCertSign", "root", "ec",
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n")
    k.issue("leaf_noks", "/CN=Under No keyCertSign", "noks")
    k.issue("sub2", "/CN=Below pathlen 0", "sub", "ec", CA_EXT)
    k.issue("leaf_deep", "/CN=Too Deep", "sub2")
    k.issue("crit", "/CN=Critical Unknown", "root", "ec",
            LEAF_EXT + "1.2.3.4=critical,ASN1:UTF8String:must understand\n")
    k.issue("shortsub", "/CN=Short Sub CA", "root", "ec", CA_EXT, days=1)
    k.issue("leaf_short", "/CN=Outlives Its CA", "shortsub", days=3)
    k.root("shortroot", "/CN=Short Root", days=1)
    k.issue("leaf_shortroot", "/CN=Outlives Its Root", "shortroot", days=3)
    prev = "root"
    for i in range(4):
        k.issue("ca%d" % i, "/CN=Chain CA %d" % i, prev, "ec", CA_EXT)
        prev = "ca%d" % i
    k.issue("leaf_long", "/CN=Long Chain Leaf", prev)
    # The manufacturer hierarchy: a root and firmware signing certificates
    # (no intermediates, whitepaper L01).
    k.root("mroot", "/CN=Manufacturer Root/O=Maker")
    fw_ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
    k.issue("fwsign", "/CN=Firmware Signing/O=Maker", "mroot", "ec", fw_ext)
    k.issue("fwsign_rsa", "/CN=Firmware Signing RSA/O=Maker", "mroot", "rsa", fw_ext)
    with open(k.path("fw.bin"), "wb") as f:
        f.write(os.urandom(20000))
    k.sign_file("fw.bin", "fwsign", "fw.sig.ec")
    k.sign_file("fw.bin", "fwsign_rsa", "fw.sig.rsa")
    k.sign_file("fw.bin", "fwsign_rsa", "fw.sig.pss", PSS)
    return k
