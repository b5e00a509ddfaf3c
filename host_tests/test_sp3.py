"""End to end, security profile 3 (security whitepaper A00.FR.4xx, A02, A05):
a TLS central system on 127.0.0.1 with a test root CA (which also signed its
server certificate) and a CPO sub-CA that signs the charger's certificate
requests. The charger starts in profile 2, is asked for a certificate
(ExtendedTriggerMessage), makes its key and request, installs the chain from
CertificateSigned, and is raised to profile 3 over ChangeConfiguration; the
central system then sees its client certificate. Also: a chain for another
key and an expired certificate are refused with the security event
InvalidChargePointCertificate; a central system that requires a client
certificate refuses a charger without one; a raised profile that cannot
connect falls back; power cuts while a request is under way and between
CertificateSigned and the reconnect. Both runtimes."""
import os
import re
import ssl
import subprocess
import time

import pytest

from centralsys import central_system
from crypto_pki import LEAF_EXT, Pki, need_openssl, profile3

CP = "cp-test"
KEY = "AuthKey-0123456789-xyz"
CPO = "Test CPO"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    need_openssl()
    # Short paths: ca_cert_file holds at most 64 characters. MicroPython
    # shows the leaf alone, so clients.pem has the sub-CA too.
    return profile3(Pki(tmp_path_factory.mktemp("sp3")), CPO)


def _ctx(pki, clients="clients.pem", require=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.path("srv.pem"), pki.path("srv.key"))
    if clients:
        ctx.load_verify_locations(pki.path(clients))
        ctx.verify_mode = ssl.CERT_REQUIRED if require else ssl.CERT_OPTIONAL
    return ctx


@pytest.fixture
def csms(pki):
    # Profile 2 (password) and profile 3 (certificate) both accepted, as a
    # central system migrating its chargers would.
    with central_system(ssl_context=_ctx(pki)) as srv:
        srv.passwords[CP] = KEY
        yield srv


def _sets(pki):
    return ["ca_cert_file=" + pki.path("ca.pem"), "AuthorizationKey=" + KEY, "SecurityProfile=2",
            "CpoName=" + CPO]


def _online(ch, what="online"):
    return ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=30, what=what)


def _sign(pki, csr_pem, name, days=30):
    """The chain (PEM, leaf first) the CPO sub-CA makes from the request."""
    path = pki.path(name + ".csr")
    with open(path, "w") as f:
        f.write(csr_pem)
    # The request is signed with the key it carries (proof of possession).
    subprocess.run(["openssl", "req", "-in", path, "-noout", "-verify"], check=True,
                   capture_output=True)
    pki.issue(name, None, "cpo", ext=LEAF_EXT, days=days, csr=path)
    return _chain(pki, name)


def _chain(pki, name):
    with open(pki.path(name + ".pem")) as a, open(pki.path("cpo.pem")) as b:
        return a.read() + b.read()


def _serial(pki, name):
    out = subprocess.run(["openssl", "x509", "-in", pki.path(name + ".pem"), "-noout",
                          "-serial"], check=True, capture_output=True).stdout.decode()
    return out.strip().split("=", 1)[1].upper()


def _request(csms, after=0):
    """Trigger a certificate request; the CSR (PEM) the charger sends."""
    ans = csms.call(CP, "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    assert ans == {"status": "Accepted"}
    rec = csms.wait_message(cp_id=CP, action="SignCertificate", after=after, timeout=30)
    return rec["payload"]["csr"]


def _cert_connects(csms, after_count):
    # The "connected" events after the first after_count ones, with a certificate.
    ev = [e for e in csms.events if e["cp_id"] == CP and e["event"] == "connected"]
    return [e for e in ev[after_count:] if e.get("client_cert")]


def _connected(csms):
    return len([e for e in csms.events if e["cp_id"] == CP and e["event"] == "connected"])


def _sec_events(csms, kind):
    return [m for m in csms.messages(cp_id=CP, action="SecurityEventNotification", direction="in",
                                     message_type="CALL") if m["payload"]["type"] == kind]


def _enrol(csms, pki, name="cp1", days=30):
    csr = _request(csms)
    subj = subprocess.run(["openssl", "req", "-noout", "-subject", "-nameopt", "compat"],
                          input=csr.encode(), check=True, capture_output=True).stdout.decode()
    assert "O=" + CPO in subj and "CN=" + CP in subj, subj     # A02.FR.13, A00.FR.511
    assert "EC PRIVATE KEY" not in csr and "PRIVATE" not in csr
    chain = _sign(pki, csr, name, days)
    assert csms.call(CP, "CertificateSigned", {"certificateChain": chain}) == {"status": "Accepted"}
    return chain


# Also on the 32-bit twin: the unix port built for i386 with the firmware frozen
# in, its own TLS (mbedtls) presenting the charger's P-256 certificate.
@pytest.mark.parametrize("runtime", ["micropython", "cpython", "twin"])
def test_enrolment_and_raise_to_profile_3(csms, make_charger, pki, tmp_path):
    ch = make_charger(csms.url, sets=_sets(pki)).start()
    _online(ch, "online in profile 2")
    # Profile 3 before a certificate is there: Rejected (A05.FR.04).
    assert csms.call(CP, "ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) == \
        {"status": "Rejected"}
    _enrol(csms, pki)
    n = _connected(csms)
    assert csms.call(CP, "ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) == \
        {"status": "Accepted"}
    # A05.FR.06/07: it reconnects, with its certificate and without a password.
    csms.wait_for(lambda _r: _cert_connects(csms, n), timeout=30)
    got = _cert_connects(csms, n)[0]["client_cert"]
    assert got["subject"]["commonName"] == CP and got["subject"]["organizationName"] == CPO
    assert got["serial"] == _serial(pki, "cp1")
    _online(ch, "online in profile 3")
    assert ch.status()["online"]
    # Lowering over OCPP: Rejected (A05.FR.01).
    assert csms.call(CP, "ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}) == \
        {"status": "Rejected"}
    assert csms.call(CP, "GetConfiguration", {"key": ["SecurityProfile"]})[
        "configurationKey"][0]["value"] == "3"
    csms.wait_for(lambda _r: _sec_events(csms, "ReconfigurationOfSecurityParameters"), timeout=15)
    # The private key went nowhere: no frame carries anything like it.
    for m in csms.messages(cp_id=CP):
        assert "PRIVATE KEY" not in m["raw"]


def test_chain_for_another_key_is_refused(csms, make_charger, pki):
    ch = make_charger(csms.url, sets=_sets(pki)).start()
    _online(ch)
    _request(csms)
    pki.issue("stranger", "/O=%s/CN=%s" % (CPO, CP), "cpo")     # the right name, another key
    ans = csms.call(CP, "CertificateSigned", {"certificateChain": _chain(pki, "stranger")})
    assert ans == {"status": "Rejected"}
    ev = csms.wait_for(lambda _r: _sec_events(csms, "InvalidChargePointCertificate"), timeout=15)
    assert "not for this charge point's key" in ev[0]["payload"]["techInfo"]
    assert "not a PEM" in _reject_reason(csms, "garbage")


def _reject_reason(csms, chain):
    n = len(_sec_events(csms, "InvalidChargePointCertificate"))
    assert csms.call(CP, "CertificateSigned", {"certificateChain": chain}) == {"status": "Rejected"}
    ev = csms.wait_for(lambda _r: _sec_events(csms, "InvalidChargePointCertificate")[n:],
                       timeout=15)
    return ev[0]["payload"]["techInfo"]


def test_expired_certificate_is_refused(pki, make_charger):
    # The charger's clock, set by the central system, is past the end of
    # a certificate the CA made valid for 30 days.
    with central_system(ssl_context=_ctx(pki)) as srv:
        srv.passwords[CP] = KEY
        srv.clock_offset = 40 * 86400
        ch = make_charger(srv.url, sets=_sets(pki)).start()
        _online(ch)
        csr = _request(srv)
        why = _reject_reason(srv, _sign(pki, csr, "old", days=30))
        assert "expired" in why, why
        assert csms_profile(srv) == "2"


def csms_profile(srv):
    return srv.call(CP, "GetConfiguration", {"key": ["SecurityProfile"]})[
        "configurationKey"][0]["value"]


def test_server_requiring_a_client_certificate_refuses_a_charger_without(pki, make_charger):
    with central_system(ssl_context=_ctx(pki, require=True)) as srv:
        srv.passwords[CP] = KEY
        ch = make_charger(srv.url, sets=_sets(pki)).start()
        end = time.time() + 30
        while "FailedToAuthenticateAtCentralSystem" not in ch.log() and time.time() < end:
            time.sleep(0.2)
        assert "FailedToAuthenticateAtCentralSystem" in ch.log()
        assert not ch.status()["online"] and not srv.messages(cp_id=CP)
        assert ch.running()


def test_raised_profile_that_cannot_connect_falls_back(pki, make_charger, tmp_path):
    # The central system checks client certificates against a CA that did not
    # sign this one: profile 3 fails, and the charger goes back to 2 (A05.FR.08).
    with central_system(ssl_context=_ctx(pki, clients="other.pem")) as srv:
        srv.passwords[CP] = KEY
        ch = make_charger(srv.url, sets=_sets(pki)).start()
        _online(ch)
        _enrol(srv, pki, "cp2")
        assert srv.call(CP, "ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) == \
            {"status": "Accepted"}
        ev = srv.wait_for(lambda _r: [e for e in _sec_events(
            srv, "ReconfigurationOfSecurityParameters") if "back to 2" in
            e["payload"].get("techInfo", "")], timeout=60)
        assert "SecurityProfile 3 did not connect" in ev[0]["payload"]["techInfo"]
        assert csms_profile(srv) == "2"
        assert "FailedToAuthenticateAtCentralSystem" in ch.log()


@pytest.mark.parametrize("runtime", ["micropython", "cpython", "twin"])
def test_power_cuts_while_enrolling(csms, make_charger, pki):
    ch = make_charger(csms.url, sets=_sets(pki)).start()
    _online(ch)
    # 1. Cut after the request went: its key is on flash, and the chain
    #    that answers it after the restart is installed.
    csr = _request(csms)
    ch.kill()
    ch.sets = []        # what was set is stored; the command line would set it again
    ch.start()
    _online(ch, "online after the first cut")
    chain = _sign(pki, csr, "cp3")
    assert csms.call(CP, "CertificateSigned", {"certificateChain": chain}) == {"status": "Accepted"}
    assert csms.call(CP, "ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) == \
        {"status": "Accepted"}
    n = _connected(csms)
    csms.wait_for(lambda _r: _cert_connects(csms, n), timeout=30)
    _online(ch, "online in profile 3")
    # 2. A renewal in profile 3; the power is cut right after CertificateSigned
    #    is answered, before the reconnect: after the restart the new
    #    certificate is the one shown.
    mark = csms.mark()
    csr = _request(csms, after=mark)
    chain = _sign(pki, csr, "cp4")
    assert csms.call(CP, "CertificateSigned", {"certificateChain": chain}) == {"status": "Accepted"}
    ch.kill()
    n = _connected(csms)
    ch.start()
    csms.wait_for(lambda _r: _cert_connects(csms, n), timeout=30)
    assert _cert_connects(csms, n)[0]["client_cert"]["serial"] == _serial(pki, "cp4")
    _online(ch, "online with the renewed certificate")
    assert re.search(r"security profile 3", ch.log())


# ---- at the serial REPL: setup.security(3, ...)

_REPL = r'''
import os, sys
from firmware import setup
from firmware.store import Store
from firmware.config import Config
setup.csms("wss://127.0.0.1:9/ocpp", "cp-1")
for step in sys.argv[1:]:
    print("== " + step)
    if step == "first":
        setup.security(3, ca="ca.pem")
    elif step == "again":
        setup.security(3)
    else:
        setup.security(3, ca="ca.pem", cert=step + ".pem")
    print("PROFILE", Config(Store("data")).get("SecurityProfile"))
    print("CSR", "cp.csr" in os.listdir("data"))
'''


def test_setup_security_3_at_the_repl(pki, runtime, tmp_path):
    import shutil
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_network"))
    import fwrun
    shutil.copy(pki.path("ca.pem"), str(tmp_path))

    def run(*steps):
        rc, out = fwrun.run(runtime, tmp_path, _REPL, args=steps)
        assert rc == 0, out
        return fwrun.sections(out)

    out = run("first", "again")
    # No CpoName yet: no request.
    assert "refused: CpoName is not set" in out["first"], out
    assert "PROFILE 0" in out["first"]
    fwrun.run(runtime, tmp_path, "from firmware import setup\nsetup.set('CpoName', %r)\n" % CPO)
    out = run("first", "again")
    assert "BEGIN CERTIFICATE REQUEST" in out["first"] and "not yet" in out["first"], out
    assert "PROFILE 0" in out["first"] and "CSR True" in out["first"]
    # The same request stands until a chain answers it: no new key.
    assert "BEGIN CERTIFICATE REQUEST" not in out["again"] and "not yet" in out["again"]
    with open(str(tmp_path / "data" / "cp.csr")) as f:
        csr = f.read()
    chain = _sign(pki, csr, "repl1")
    with open(str(tmp_path / "good.pem"), "w") as f:
        f.write(chain)
    pki.issue("stranger2", "/O=%s/CN=cp-1" % CPO, "cpo")
    with open(str(tmp_path / "bad.pem"), "w") as f:
        f.write(_chain(pki, "stranger2"))
    out = run("bad", "good")
    assert "refused: bad.pem: certificate 1" in out["bad"] and "PROFILE 0" in out["bad"], out
    assert "ok: charge point certificate installed: O=Test CPO, CN=cp-1" in out["good"], out
    assert "ok: SecurityProfile = 3" in out["good"] and "PROFILE 3" in out["good"], out


# ---- ExtendedTriggerMessage and the renewal

def test_extended_trigger_message(make_charger):
    with central_system() as srv:
        ch = make_charger(srv.url).start()
        _online(ch)

        def trig(msg, c=None):
            p = {"requestedMessage": msg}
            if c is not None:
                p["connectorId"] = c
            return srv.call(CP, "ExtendedTriggerMessage", p)["status"]

        def arrives(action, after):
            return srv.wait_message(cp_id=CP, action=action, after=after, timeout=15)["payload"]

        assert trig("BootNotification") == "Rejected"       # accepted already
        for msg, c, action in (("Heartbeat", None, "Heartbeat"),
                               ("StatusNotification", 1, "StatusNotification"),
                               ("MeterValues", 1, "MeterValues"),
                               ("FirmwareStatusNotification", None,
                                "SignedFirmwareStatusNotification"),
                               ("LogStatusNotification", None, "LogStatusNotification")):
            mark = srv.mark()
            assert trig(msg, c) == "Accepted", msg
            got = arrives(action, mark)
            if action == "StatusNotification":
                assert got["connectorId"] == 1
            if action == "MeterValues":
                assert got["connectorId"] == 1
            if action.endswith("StatusNotification") and action != "StatusNotification":
                assert got == {"status": "Idle"}, (action, got)     # no requestId (N01.FR.12)
        assert trig("StatusNotification", 0) == "Rejected"          # connectorId > 0 (5.5)
        assert trig("MeterValues", 9) == "Rejected"
        # No CpoName: a request could not carry it (A02, prerequisite).
        assert trig("SignChargePointCertificate") == "Rejected"


def test_renewal_before_expiry(csms, make_charger, pki):
    ch = make_charger(csms.url, sets=_sets(pki) + ["cert_renew_days=30"]).start()
    _online(ch)
    _enrol(csms, pki, "short", days=20)
    mark = csms.mark()
    time.sleep(1.5)
    # Installed a moment ago: a certificate inside its renewal window is not
    # asked for again within a day of its request.
    assert not csms.messages(cp_id=CP, action="SignCertificate", direction="in")[1:]
    # Two days on (the central system moves the charger's clock): 18 days
    # left, fewer than cert_renew_days: the charger asks on its own (A03).
    csms.clock_offset = 2 * 86400
    assert csms.call(CP, "ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"}) == \
        {"status": "Accepted"}
    csr = csms.wait_message(cp_id=CP, action="SignCertificate", after=mark, timeout=30)[
        "payload"]["csr"]
    chain = _sign(pki, csr, "renewed", days=365)
    assert csms.call(CP, "CertificateSigned", {"certificateChain": chain}) == {"status": "Accepted"}
    assert "renewing" in ch.log()


# ---- the work in slices

_SLICES = r'''
import sys
import ec, ecdsa, csr, certpath
n = 0
for r in ecdsa.generate_steps():
    if r is None:
        n += 1
key = r[0]
print("KEYGEN", n, key.pub == ec.mul_base(key.d))
n = 0
for r in csr.build_steps(key, "cp-1", "Test CPO"):
    if r is None:
        n += 1
print("CSR", n, r[0] == csr.build(key, "cp-1", "Test CPO"))
leaf, sub, root = [open(p, "rb").read() for p in sys.argv[1:4]]
n = 0
for r in certpath.validate_steps([leaf, sub], [root], int(sys.argv[4])):
    if r is None:
        n += 1
print("CHAIN", n, len(r[0]))
'''


def test_key_request_and_chain_check_run_in_slices(pki, runtime, tmp_path):
    # 16 bits a slice: a key or a signature is 16 slices, a signature check
    # 16, so the event loop runs at least that often during each.
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_network"))
    import fwrun
    from crypto_pki import openssl, openssl_time
    pki.issue("slice", "/O=%s/CN=cp-1" % CPO, "cpo")
    start = openssl("x509", "-in", pki.path("slice.pem"), "-noout", "-startdate").decode()
    now = openssl_time(start.split("=", 1)[1]) + 60
    rc, out = fwrun.run(runtime, tmp_path, _SLICES, args=[pki.path(n + ".der") for n in
                                                          ("slice", "cpo", "ca")] + [now])
    assert rc == 0, out
    assert "KEYGEN 15 True" in out and "CSR 15 True" in out, out
    assert "CHAIN 30 3" in out, out
