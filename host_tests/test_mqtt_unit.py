"""MQTT in one process (host_tests/mp/mqtt_check.py) under MicroPython and
CPython: the command topics' checks, the stale limit, the link's framing over
umqtt.simple, a limit on the pilot within one control step, and
GetCompositeSchedule with local limits (schema-checked)."""
import json
import os

import pytest

import mprun
import schemas

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "mp", "mqtt_check.py")
MUST = ["limit_whole", "same_limit_wakes_nothing", "retained_refused", "stale_falls_back",
        "whole_packet_delivered", "two_packets_and_connack", "oversized_skipped_then_next",
        "malformed_length_drops_the_link", "limit_on_the_pilot_in_one_step",
        "local_limit_then_fallback", "paused_is_zero", "phases_in_the_schedule"]


@pytest.mark.parametrize("runtime", mprun.RUNTIMES)
def test_mqtt_in_process(runtime, tmp_path):
    passed, out = mprun.must_pass(runtime, SCRIPT, str(tmp_path), MUST, at_least=40)
    scheds = [json.loads(line[6:]) for line in out.splitlines() if line.startswith("SCHED ")]
    assert len(scheds) >= 4
    for s in scheds:
        schemas.validate("GetCompositeSchedule",
                         {"status": "Accepted", "connectorId": 1, "chargingSchedule": s},
                         response=True)


NO_UMQTT = """
import board
from firmware.main import App
app = App(board.Board({"data_dir": "%s"}), {"mqtt_url": "mqtt://127.0.0.1:1"}, link_up=False)
app._running = True
app._mqtt()
print("MQTT", app.status()["mqtt"])
"""


@pytest.mark.parametrize("runtime", mprun.RUNTIMES)
def test_without_umqtt_the_charger_goes_on(runtime, tmp_path):
    # A board whose image lacks umqtt.simple: MQTT stays off, in one log line.
    import subprocess
    import sys
    root = os.path.dirname(HERE)
    paths = [root, os.path.join(root, "lib"), os.path.join(root, "boards", "sim")]
    script = tmp_path / "no_umqtt.py"
    script.write_text(NO_UMQTT % (tmp_path / "data"))
    env = dict(os.environ, MICROPYPATH=":".join([".frozen"] + paths),
               PYTHONPATH=os.pathsep.join(paths))
    exe = mprun.micropython() if runtime == "micropython" else sys.executable
    p = subprocess.run([exe, str(script)], env=env, capture_output=True, text=True, timeout=60,
                       cwd=str(tmp_path))
    out = p.stdout + p.stderr
    assert p.returncode == 0 and "MQTT off" in out, out
    assert "MQTT stays off:" in out and "umqtt" in out, out
