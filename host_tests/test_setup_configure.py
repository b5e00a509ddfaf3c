"""tools/configure.py against the virtual board: deploy, configure from the
host, read the values back, refuse a wrong value with its message, boot into
a central system with basic auth, and keep every secret out of what is shown,
logged or answered to GetConfiguration."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "fake_network"))
from vboard import VirtualBoard  # noqa: E402

WIFI_PW = "wifi-Secret-7781"
KEY = "AuthKey-0123456789-xyz"


def configure(port, *args):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "configure.py"), port]
                       + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def board(tmp_path):
    vb = VirtualBoard(tmp_path / "board").start()
    try:
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py"), "--board",
                            "esp32", "--port", vb.port, "--build", str(tmp_path / "build")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        vb.restart()
        assert vb.wait_output("not configured", 15), vb.output()
        yield vb
    finally:
        vb.stop()


def test_configure_then_boot_into_the_central_system(board, csms):
    csms.passwords["vb-1"] = KEY
    rc, out = configure(board.port, "csms_url=" + csms.url, "charge_point_id=vb-1",
                        "wifi_ssid=home", "wifi_password=" + WIFI_PW, "max_current_a=20",
                        "SecurityProfile=1", "AuthorizationKey=" + KEY)
    assert rc == 0, out
    assert "ok: csms_url = %s; restart to apply" % csms.url in out
    assert "ok: AuthorizationKey = <hidden>" in out and "ok: SecurityProfile = 1" in out
    assert "restart to apply: press Ctrl-D (soft reset) or the reset button" in out
    # The firmware was running: mpremote stopped it safely to reach the REPL.
    assert "firmware stopped (Ctrl-C); contactor open" in board.output()

    # A wrong value: refused with what is allowed, exit status 1, nothing changed.
    rc, out = configure(board.port, "max_current_a=99", "HeartbeatInterval=45")
    assert rc == 1
    assert "refused: max_current_a must be an integer from 6 to 80 (A)" in out
    assert "nothing changed" in out
    rc, out = configure(board.port, "NoSuchKey=1")
    assert rc == 1 and "refused: NoSuchKey is not a supported configuration key" in out
    rc, out = configure(board.port, "max_current_a")
    assert rc == 1 and "is not key=value" in out

    # Read back.
    rc, out = configure(board.port)
    assert rc == 0, out
    for line in ("  csms_url = %s" % csms.url, "  charge_point_id = vb-1", "  wifi_ssid = home",
                 "  wifi_password = <hidden>", "  max_current_a = 20",
                 "  AuthorizationKey = <hidden>", "  SecurityProfile = 1",
                 "  HeartbeatInterval = 300"):
        assert line in out, (line, out)
    assert "not configured" not in out

    rc, out = configure(board.port, "--restart")
    assert "restart: virtual board (unix port) has no reset" in out

    # Power on: boots into the central system with basic auth.
    board.restart()
    csms.wait_message("vb-1", "BootNotification", timeout=15)
    res = csms.call("vb-1", "GetConfiguration", {})
    keys = dict((k["key"], k) for k in res["configurationKey"])
    assert keys["AuthorizationKey"] == {"key": "AuthorizationKey", "readonly": False}
    assert "wifi_password" not in keys and "csms_url" not in keys
    assert keys["SecurityProfile"]["value"] == "1"

    rc, out = configure(board.port, "--status", "--logs", "4000")
    assert rc == 0, out
    assert "configuration: complete" in out
    assert "central system: online when the firmware stopped, boot Accepted" in out
    assert "I boot: accepted" in out            # from the log file on the board's flash
    logs = ""
    for name in os.listdir(os.path.join(board.root, "data")):
        if name.startswith("log"):
            with open(os.path.join(board.root, "data", name)) as f:
                logs += f.read()
    assert "I link: connected to %s/vb-1" % csms.url in logs
    for secret in (WIFI_PW, KEY):
        assert secret not in out
        assert secret not in logs
        assert secret not in board.output()
        assert secret not in str(res)
