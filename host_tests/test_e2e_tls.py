"""End to end, security profile 2: the charger connects over wss:// to a central
system whose certificate a CA signed, checking it against the CA file the user
installed, PEM as users get it, and sends HTTP Basic credentials; against
another CA it does not connect. Both runtimes."""
import os
import shutil
import ssl
import subprocess
import time

import pytest

from centralsys import central_system

CP = "cp-test"
KEY = "AuthKey-0123456789-xyz"


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=30)


def _ca(d, name, cn):
    # Short file names: ca_cert_file holds at most 64 characters, and a test
    # worker's temporary folder alone can take most of them.
    key, pem = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", pem, "-days", "2", "-subj", "/CN=" + cn,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, pem


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl not available to make test certificates")
    d = str(tmp_path_factory.mktemp("certs"))
    ca_key, ca = _ca(d, "ca", "Charger Test CA")
    _other_key, other = _ca(d, "other", "Other CA")
    srv_key, csr, srv = (os.path.join(d, n) for n in ("srv.key", "srv.csr", "srv.pem"))
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", srv_key, "-out", csr, "-subj", "/CN=127.0.0.1")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
             "-out", srv, "-days", "2", "-extfile", ext)
    return {"ca": ca, "other": other, "cert": srv, "key": srv_key}


@pytest.fixture
def tls_csms(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["cert"], certs["key"])
    with central_system(ssl_context=ctx) as srv:
        srv.passwords[CP] = KEY
        yield srv


def _sets(ca):
    return ["ca_cert_file=" + ca, "AuthorizationKey=" + KEY, "SecurityProfile=2"]


def test_profile_2_connects_with_the_pem_ca(tls_csms, make_charger, certs):
    assert tls_csms.url.startswith("wss://")
    ch = make_charger(tls_csms.url, sets=_sets(certs["ca"])).start()
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=20, what="online over TLS")
    assert tls_csms.wait_message(cp_id=CP, action="BootNotification")


def test_profile_2_refuses_a_server_another_ca_signed(tls_csms, make_charger, certs):
    ch = make_charger(tls_csms.url, sets=_sets(certs["other"])).start()
    time.sleep(4)
    assert not ch.status()["online"]
    assert tls_csms.connect_count(CP) == 0 and not tls_csms.messages(cp_id=CP)
    assert ch.running()


def test_profile_2_with_a_bundle_whose_signing_ca_is_not_first(tls_csms, make_charger, certs):
    # ca_cert_file holds at most 64 characters: the bundle goes beside the CAs.
    bundle = os.path.join(os.path.dirname(certs["ca"]), "bundle.pem")
    with open(certs["other"]) as a, open(certs["ca"]) as b, open(bundle, "w") as out:
        out.write(a.read() + b.read())
    ch = make_charger(tls_csms.url, sets=_sets(bundle)).start()
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=20, what="online over TLS")


def test_wss_without_a_ca_connects_unverified_and_says_so(tls_csms, make_charger):
    ch = make_charger(tls_csms.url, sets=["AuthorizationKey=" + KEY, "SecurityProfile=1"]).start()
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=20, what="online over TLS")
    assert "the server is not verified" in ch.log()
