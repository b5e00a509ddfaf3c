"""TriggerMessage (spec 5.17 with errata 3.35), checked under MicroPython and
CPython by mp/trigger_check.py; every request and answer is checked against the
official OCPP 1.6 schemas."""
import json
import os

import pytest

import schemas
from mprun import must_pass, tagged, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "trigger_check.py")

MESSAGES = ("BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
            "Heartbeat", "MeterValues", "StatusNotification")

MUST = """boot_accepted_then_sent diagnostics_accepted_then_sent firmware_accepted_then_sent
heartbeat_accepted_then_sent boot_connector_1_ignored heartbeat_connector_7_ignored
status_without_connector_means_all status_connector_0 status_connector_1 status_connector_2
status_bad_connector_3_rejected status_bad_connector_-1_rejected meter_without_connector_means_all
meter_connector_0 meter_connector_2 meter_bad_connector_3_rejected boot_rejected_after_accepted
heartbeat_still_accepted_after_boot start_transaction_not_implemented unknown_message_not_implemented
missing_requested_message
connector_not_integer no_message_without_answer next_trigger_after_link_back""".split()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_trigger_message(runtime, tmp_path):
    out = must_pass(runtime, SCRIPT, str(tmp_path), MUST, 36)[1]
    reqs, answers = tagged(out, "REQ"), tagged(out, "RES")
    for action, text in reqs:
        schemas.validate(action, json.loads(text))
    for action, text in answers:
        schemas.validate(action, json.loads(text), response=True)
    asked = set(json.loads(t)["requestedMessage"] for a, t in reqs)
    assert asked == set(MESSAGES), asked
    assert set(json.loads(t)["status"] for a, t in answers) == {"Accepted", "Rejected", "NotImplemented"}
