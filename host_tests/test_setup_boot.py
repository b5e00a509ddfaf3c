"""setup.boot(), what /main.py runs, on the simulated board under MicroPython
and CPython: the not-configured state, Wi-Fi gating OCPP (fake `network`
driven from outside through a file), the LED, the frame trace in the log
file with secrets redacted, and a clean stop on Ctrl-C (SIGINT)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fake_network"))
import fwrun  # noqa: E402

WIFI_PW = "wifi-Secret-7781"
KEY = "AuthKey-0123456789-xyz"
NEW_KEY = "NewAuthKey-9876543210-abc"

BOOT = r'''
import sys
import board
from firmware import setup
if len(sys.argv) > 1:
    setup.wifi("home", "wifi-Secret-7781")
    setup.csms(sys.argv[1], "cp-boot")
    setup.security(1, key="AuthKey-0123456789-xyz")
    setup.logfile(trace=True, level="debug")
    setup.set("HeartbeatInterval", 2)
if len(sys.argv) > 2:
    setup.mqtt(sys.argv[2], "evse", "mqtt-Secret-4410")
print("BOOTING")
setup.boot(board)
print("BOOT RETURNED")
'''


class Proc:
    """The firmware process with its output collected by a thread."""

    def __init__(self, runtime, cwd, args=(), env=None):
        script = os.path.join(str(cwd), "boot.py")
        with open(script, "w") as f:
            f.write(BOOT)
        cmd, e = fwrun.command(runtime, script, args, env=env)
        self.p = subprocess.Popen(cmd, cwd=str(cwd), env=e, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.buf = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in iter(self.p.stdout.readline, b""):
            self.buf.append(line.decode("utf-8", "replace"))

    def out(self):
        return "".join(self.buf)

    def wait(self, text, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.out():
                return True
            time.sleep(0.05)
        return False

    def interrupt(self):
        self.p.send_signal(signal.SIGINT)
        try:
            return self.p.wait(10)
        finally:
            self.t.join(2)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_first_boot_is_not_configured_and_stays_up(runtime, tmp_path):
    p = Proc(runtime, tmp_path)
    try:
        assert p.wait("not configured (missing wifi_ssid, csms_url, charge_point_id)"), p.out()
        time.sleep(1.5)
        assert p.p.poll() is None, p.out()          # no crash, no exit
        assert p.out().count("BOOTING") == 1        # and no restart loop
        out = p.out()
        assert "press Ctrl-C for the REPL, then: import setup; setup.wifi('ssid', 'password'); " \
               "setup.csms('ws://host:port/path', 'charger-id')" in out
        rc = p.interrupt()
        out = p.out()
        assert rc == 0, out
        assert "firmware stopped (Ctrl-C); contactor open" in out
        assert "BOOT RETURNED" in out
        assert "Traceback" not in out
    finally:
        p.kill()


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_wifi_gates_ocpp_and_secrets_stay_hidden(runtime, tmp_path, csms):
    csms.passwords["cp-boot"] = KEY
    wifi = tmp_path / "aps.json"
    wifi.write_text("{}")
    p = Proc(runtime, tmp_path, [csms.url], env={"FAKE_WIFI": str(wifi)})
    try:
        assert p.wait("BOOTING"), p.out()
        assert p.wait("cannot join 'home': network not found"), p.out()
        time.sleep(1.0)
        assert not csms.messages("cp-boot"), "OCPP must wait for Wi-Fi"
        assert csms.connect_count("cp-boot") == 0, "not even a connection without Wi-Fi"
        assert "D led: offline" in p.out()

        wifi.write_text(json.dumps({"home": WIFI_PW}))
        csms.wait_message("cp-boot", "BootNotification", timeout=15)
        assert p.wait("wifi: connected to 'home' as 192.168.4.20"), p.out()
        assert p.wait("D led: idle"), p.out()

        res = csms.call("cp-boot", "GetConfiguration", {"key": ["AuthorizationKey"]})
        assert res == {"configurationKey": [{"key": "AuthorizationKey", "readonly": False}]}

        # Wi-Fi gone: the OCPP link goes too, and comes back with it.
        boots = len(csms.messages("cp-boot", "BootNotification", message_type="CALL"))
        wifi.write_text("{}")
        end = time.time() + 10
        while csms.connected("cp-boot") and time.time() < end:
            time.sleep(0.1)
        assert not csms.connected("cp-boot"), p.out()
        assert p.wait("wifi: link to 'home' lost"), p.out()
        wifi.write_text(json.dumps({"home": WIFI_PW}))
        csms.wait_for(lambda r: len([m for m in r if m["cp_id"] == "cp-boot"
                                     and m["action"] == "BootNotification"
                                     and m["message_type"] == "CALL"]) > boots, timeout=20)

        res = csms.call("cp-boot", "ChangeConfiguration",
                        {"key": "AuthorizationKey", "value": NEW_KEY})
        assert res["status"] in ("Accepted", "RebootRequired")
        assert p.wait('"ChangeConfiguration"'), p.out()
        time.sleep(0.5)                                    # Ctrl-C flushes the log
        rc = p.interrupt()
        out = p.out()
        assert rc == 0, out
        assert "firmware stopped (Ctrl-C); contactor open" in out
    finally:
        p.kill()
    with open(tmp_path / "data" / "log.txt") as f:
        logtext = f.read()
    # The trace is in the log file, redacted; no secret anywhere.
    assert 'I frame: < [2' in logtext and '"ChangeConfiguration"' in logtext
    assert '"value": "<hidden>"' in logtext or '"value":"<hidden>"' in logtext
    assert "I wifi: connected to 'home'" in logtext
    for secret in (WIFI_PW, KEY, NEW_KEY):
        assert secret not in out, secret
        assert secret not in logtext, secret


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_mqtt_waits_for_wifi_and_its_password_stays_hidden(runtime, tmp_path, csms):
    from broker import Broker
    pw = "mqtt-Secret-4410"
    csms.passwords["cp-boot"] = KEY
    wifi = tmp_path / "aps.json"
    wifi.write_text("{}")
    with Broker(users={"evse": pw}) as b:
        w = b.watch("evse/cp-boot/#", user="evse", password=pw)
        p = Proc(runtime, tmp_path, [csms.url, b.url], env={"FAKE_WIFI": str(wifi)})
        try:
            assert p.wait("ok: mqtt_password = <hidden>"), p.out()
            assert p.wait("BOOTING") and p.wait("network not found"), p.out()
            time.sleep(1.0)
            assert "mqtt: connected" not in p.out(), "MQTT must wait for Wi-Fi"
            wifi.write_text(json.dumps({"home": WIFI_PW}))
            assert p.wait("mqtt: connected to " + b.url, timeout=15), p.out()
            assert w.wait("evse/cp-boot/available") == b"online"
            time.sleep(0.5)                                    # Ctrl-C flushes the log
            assert p.interrupt() == 0
            out = p.out()
        finally:
            p.kill()
    with open(tmp_path / "data" / "log.txt") as f:
        logtext = f.read()
    assert "mqtt: connected to " + b.url in logtext, logtext
    assert "mqtt_password changed" in out
    for secret in (pw, WIFI_PW, KEY):
        assert secret not in out, secret
        assert secret not in logtext, secret
