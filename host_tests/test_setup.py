"""firmware/setup.py, the serial-REPL configuration API, under MicroPython and
CPython: what it prints, what it saves, what it refuses, and that secrets
never show."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_network"))
import fwrun  # noqa: E402

WIFI_PW = "wifi-Secret-7781"
KEY = "AuthKey-0123456789-xyz"

SCRIPT = r'''
import json
from firmware import setup
from firmware.store import Store
from firmware.config import Config

WIFI_PW = "wifi-Secret-7781"
KEY = "AuthKey-0123456789-xyz"
# A self-signed test certificate, PEM as users get it.
CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIUDzTv6q+r0hsNLRrR79R7Z4ZMZk0wCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRVGVzdCBDQSBmb3Igc2V0dXAwIBcNMjYxMTIyMDIwMjA0WhgP
MjEyNjEwMjkwMjAyMDRaMBwxGjAYBgNVBAMMEVRlc3QgQ0EgZm9yIHNldHVwMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERLgbhDg8DLUqeE1cGZ4FKYWsL8hx0wwl
KmTbCJdliF7p8MShUOP+HbxckPHepXzbbhRJHwORC5mbW+OEDNcycKNTMFEwHQYD
VR0OBBYEFKgm+jq/kCiWnLRKEH1rNh4DOWkGMB8GA1UdIwQYMBaAFKgm+jq/kCiW
nLRKEH1rNh4DOWkGMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh
APIUcPaz3IZ0CfFB0InGqiKBk+ar16wObaKgTkGKCe+/AiBO4txoVVbsOFx1E/zC
wSlzLviOUFHgt5BF/rJMyNGYHQ==
-----END CERTIFICATE-----
"""


def step(name):
    print("== " + name)


def saved(key):
    return Config(Store("data")).get(key)


step("fresh")
setup.show()
print("MISSING", setup.missing())
step("wifi")
setup.wifi("home", WIFI_PW)
step("csms")
setup.csms("ws://127.0.0.1:9/ocpp", "cp-1")
step("csms with id")
setup.csms("ws://127.0.0.1:9/ocpp/cp-1", "cp-1")
setup.csms("ws://127.0.0.1:9/ocpp", "cp-1")
step("bad current")
setup.set("max_current_a", 99)
print("SAVED max_current_a", saved("max_current_a"))
step("bad batch")
setup.csms("http://example.com", "cp-2")
print("SAVED", saved("csms_url"), saved("charge_point_id"))
step("good current")
setup.set("max_current_a", "20")
print("SAVED max_current_a", saved("max_current_a"))
step("ocpp key")
setup.set("HeartbeatInterval", 120)
step("unknown")
setup.set("Bogus", 1)
step("read-only")
setup.set("NumberOfConnectors", 2)
step("profile without key")
setup.security(1)
print("SAVED SecurityProfile", saved("SecurityProfile"))
step("short key")
setup.security(1, key="short")
step("profile 1")
setup.security(1, key=KEY)
print("SAVED SecurityProfile", saved("SecurityProfile"), saved("AuthorizationKey") == KEY)
step("ca missing")
setup.security(2, ca="ca.pem")
step("ca not a certificate")
f = open("ca.pem", "w")
f.write("-----BEGIN CERTIFICATE-----\n")
f.close()
setup.security(2, ca="ca.pem")
print("SAVED SecurityProfile", saved("SecurityProfile"))
step("profile 2")
f = open("ca.pem", "w")
f.write(CA_PEM)
f.close()
setup.security(2, ca="ca.pem")
print("SAVED SecurityProfile", saved("SecurityProfile"), saved("ca_cert_file"))
step("back to 0")
setup.security(0, key="", ca="")
print("SAVED SecurityProfile", saved("SecurityProfile"), repr(saved("AuthorizationKey")),
      repr(saved("ca_cert_file")))
setup.security(1, key=KEY)
step("show")
setup.show()
step("show all")
setup.show(True)
step("getconfiguration")
from firmware.ocpp.actions import GetConfiguration
from firmware.main import App
import board as simboard
cp = App(simboard.Board({"data_dir": "data"})).cp
from jsontext import pieces
print(b"".join(pieces(GetConfiguration.handle(cp, {}))).decode())
print(b"".join(pieces(GetConfiguration.handle(cp, {"key": ["AuthorizationKey"]}))).decode())
step("board")
setup.board(has_feedback=True, pins={"contactor": 4})
setup.board(has_feedback="yes")
setup.board(bogus=1)
setup.board()
step("logfile")
setup.logfile(kb=8, files=3)
setup.logfile(kb=0)
setup.trace(True)
setup.logfile()
step("status")
setup.status()
step("help")
setup.help()
step("reset")
setup.reset()
print("SAVED", repr(saved("csms_url")), saved("max_current_a"), saved("SecurityProfile"))
print("MISSING", setup.missing())
setup.board()
print("DONE")
'''


@pytest.fixture(params=["micropython", "cpython"])
def run_out(request, tmp_path):
    rc, out = fwrun.run(request.param, tmp_path, SCRIPT)
    assert rc == 0 and "DONE" in out, out
    return out, fwrun.sections(out), tmp_path


def test_setup_api(run_out):
    out, s, tmp = run_out
    assert "not configured (missing wifi_ssid, csms_url, charge_point_id)" in s["fresh"]
    assert "setup.wifi('ssid', 'password')" in s["fresh"]
    assert "MISSING ['wifi_ssid', 'csms_url', 'charge_point_id']" in s["fresh"]

    assert "ok: wifi_ssid = home; restart to apply" in s["wifi"]
    assert "ok: wifi_password = <hidden>; restart to apply" in s["wifi"]
    assert "restart to apply: press Ctrl-D (soft reset) or the reset button" in s["wifi"]
    assert "ok: csms_url = ws://127.0.0.1:9/ocpp; restart to apply" in s["csms"]
    assert "ok: charge_point_id = cp-1; restart to apply" in s["csms"]
    assert "note: the firmware adds /cp-1 to the URL itself" in s["csms with id"]

    # One line, what is allowed; nothing saved.
    refused = [l for l in s["bad current"].splitlines() if l.startswith("refused:")]
    assert refused == ["refused: max_current_a must be an integer from 6 to 80 (A)"]
    assert "SAVED max_current_a 16" in s["bad current"]
    # A batch with one bad value changes nothing, not even its good values.
    assert "refused: csms_url must be a ws:// or wss:// URL" in s["bad batch"]
    assert "nothing changed" in s["bad batch"]
    assert "SAVED ws://127.0.0.1:9/ocpp cp-1" in s["bad batch"]
    assert "SAVED max_current_a 20" in s["good current"]
    assert "ok: HeartbeatInterval = 120" in s["ocpp key"]
    assert "restart to apply" not in s["ocpp key"]
    assert "refused: Bogus is not a supported configuration key; setup.show(True) lists the keys" \
        in s["unknown"]
    assert "refused: NumberOfConnectors is read-only" in s["read-only"]

    assert "refused: SecurityProfile 1 needs an AuthorizationKey" in s["profile without key"]
    assert "SAVED SecurityProfile 0" in s["profile without key"]
    assert "refused: AuthorizationKey must be 16 to 40 printable ASCII characters" in s["short key"]
    assert "SAVED SecurityProfile 1 True" in s["profile 1"]
    assert "ok: AuthorizationKey = <hidden>" in s["profile 1"]
    assert "refused: ca_cert_file: no file 'ca.pem' on the board" in s["ca missing"]
    assert "refused: ca_cert_file: ca.pem must hold the central system's CA certificate, PEM " \
        "or DER; its last PEM certificate has no -----END CERTIFICATE----- line" \
        in s["ca not a certificate"]
    assert "SAVED SecurityProfile 1" in s["ca not a certificate"]
    assert "SAVED SecurityProfile 2 ca.pem" in s["profile 2"]
    assert "note: SecurityProfile 2 is TLS: csms_url should start with wss://" in s["profile 2"]
    # Lowering needs the profile down before the key and CA can go: any order works.
    assert "SAVED SecurityProfile 0 '' ''" in s["back to 0"]

    show = s["show"]
    assert "device settings:" in show and "OCPP keys:" in show
    assert "  csms_url = ws://127.0.0.1:9/ocpp" in show
    assert "  wifi_password = <hidden>" in show
    assert "  AuthorizationKey = <hidden>" in show
    assert "  max_current_a = 20" in show
    assert "(read-only)" not in show and "(read-only)" in s["show all"]
    assert "not configured" not in show

    gc = s["getconfiguration"]
    assert '"key": "AuthorizationKey"' in gc
    assert "wifi_ssid" not in gc and "csms_url" not in gc

    b = s["board"]
    assert "ok: board options" in b and "'has_feedback': True" in b
    assert "refused: board option has_feedback must be True or False (None removes it)" in b
    assert "refused: bogus is not a board option; allowed: cp_comparator, cp_gain_pm" in b
    lf = s["logfile"]
    assert "ok: log options {" in lf and "'kb': 8" in lf and "'files': 3" in lf
    assert "refused: log option kb must be an integer from 1 to 256 (None removes it)" in lf
    assert "'trace': True" in lf.splitlines()[-1] and lf.splitlines()[-1].startswith("log: ")

    assert "configuration: complete" in s["status"]
    assert "network: " in s["status"]
    assert "setup.wifi(" in s["help"] and "setup.csms(" in s["help"]

    assert "ok: settings back to factory defaults" in s["reset"]
    assert "SAVED '' 16 0" in s["reset"]
    assert "MISSING ['wifi_ssid', 'csms_url', 'charge_point_id']" in s["reset"]
    assert "board: defaults" in s["reset"]

    # Secrets: never printed, never logged (the log lines are in `out` too).
    assert WIFI_PW not in out and KEY not in out
    for name in os.listdir(tmp / "data"):
        with open(tmp / "data" / name, "rb") as f:
            data = f.read()
        if name.startswith("log"):
            assert WIFI_PW.encode() not in data and KEY.encode() not in data


def test_every_refusal_is_one_line(run_out):
    out, s, tmp = run_out
    refused = [l for l in out.splitlines() if l.startswith("refused:")]
    assert len(refused) >= 9
    for l in refused:
        # says what is allowed or what to do, in one line
        assert any(w in l for w in ("must", "needs", "not a", "read-only", "no file")), l
